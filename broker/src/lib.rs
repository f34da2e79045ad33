//! Sluice broker: a Kafka-protocol server with segmented durable logs.
//!
//! # Layout
//! - [`config`]: broker settings and per-topic settings (typed, validated, described).
//! - [`log`]: the storage engine: segments, sparse offset and time indexes, recovery, retention, compaction.
//! - [`coordinator`]: consumer groups and committed offsets; producer ids and transactions.
//! - [`topics`]: the topic registry: which topics and partitions exist, persisted beside the logs.
//! - [`net`]: the listener, request framing, one task per connection, zero-copy response writing.
//! - [`api`]: one file per Kafka API key; each decodes nothing itself and answers Kafka error codes.
//! - [`maintenance`]: retention, compaction and flush timers.
//! - [`server`]: wires the pieces together: [`Broker::start`] and [`BrokerHandle::shutdown`].

pub mod api;
pub mod config;
pub mod controller;
pub mod coordinator;
pub mod error;
pub mod log;
pub mod maintenance;
pub mod net;
pub mod replica;
pub mod server;
pub mod topics;

pub use config::{BrokerConfig, TopicConfig};
pub use error::BrokerError;
pub use server::{Broker, BrokerHandle};
