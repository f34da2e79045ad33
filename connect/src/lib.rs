//! Sluice connect: a Kafka Connect-style runtime. Connectors move data between Kafka and other systems; the
//! runtime runs their tasks, converts and transforms records, handles errors and dead-letter queues, and keeps
//! configs, offsets and status in compacted topics. It reaches Kafka only through rdkafka, so it runs against a
//! Sluice broker, Apache Kafka or Redpanda alike.
//!
//! # Layout
//! - [`data`]: Connect's schemas and values.
//! - [`record`]: connect, source and sink records.
//! - [`connector`]: the connector, task and plugin traits connectors implement.
//! - [`config`]: config definitions, validation with per-field errors.
//! - [`converters`]: JSON, string, bytes and Avro (schema registry) converters.
//! - [`transforms`]: single message transforms and predicates.
//! - [`runtime`]: workers (standalone and distributed), task runners, offsets, status, errors and DLQ.
//! - [`rest`]: the Kafka Connect REST API.
//! - [`connectors`]: built-in connectors, one folder each.
//! - [`error`]: [`error::ConnectError`] for failures, [`error::ApiError`] for REST answers.

pub mod config;
pub mod connector;
pub mod connectors;
pub mod converters;
pub mod data;
pub mod error;
pub mod record;
pub mod rest;
pub mod runtime;
pub mod transforms;
