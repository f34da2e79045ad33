//! Sluice schema registry: Confluent Schema Registry's REST API over a compacted `_schemas` topic, reached only
//! through the Kafka protocol (rdkafka), so it runs against a Sluice broker, Apache Kafka or Redpanda alike.
//!
//! # Layout
//! - [`types`]: schema types, references, compatibility levels, modes.
//! - [`schema`]: parsing Avro, JSON Schema and Protobuf schemas; canonical and normalized forms.
//! - [`compat`]: the seven compatibility levels, and per language whether a reader can read a writer's data.
//! - [`state`]: the registry's state as data, built by applying `_schemas` records in order.
//! - [`registry`]: the rules (ids, versions, deletes, configs, modes) over a [`store::SchemaLog`].
//! - [`store`]: the `_schemas` topic (Confluent's record layout), its reader and writer, and the writer election.
//! - [`api`]: the REST API (axum): routes, content types, error bodies, basic auth, metrics, forwarding.
//! - [`server`]: starting an instance: store, election, listener.
//! - [`config`]: typed settings.
//! - [`wire`]: the Confluent wire format (magic byte 0, 4-byte id) and subject name strategies, for connect,
//!   streams and pipelines.
//! - [`error`]: [`error::ApiError`] for HTTP answers, [`error::RegistryError`] for what the registry cannot do.

pub mod api;
pub mod compat;
pub mod config;
pub mod error;
pub mod registry;
pub mod schema;
pub mod server;
pub mod state;
pub mod store;
pub mod types;
pub mod wire;

pub use config::RegistryConfig;
pub use error::{ApiError, RegistryError};
pub use registry::Registry;
