//! Converters between Kafka bytes and Connect data: JSON (with or without the schema envelope), string,
//! bytes, and Avro through the schema registry. Chosen per connector with `key.converter` / `value.converter`.
//!
//! - [`build`] makes the converter a config names (Kafka's class names or short aliases).
//! - [`JsonConverter`] (`json.rs`, with the schema envelope in `json_schema.rs`), [`StringConverter`],
//!   [`ByteArrayConverter`], [`NumberConverter`] (Kafka's Short/Integer/Long/Float/Double/BooleanConverter),
//!   [`AvroConverter`] (Connect ↔ Avro mapping in `avro_schema.rs`).
//! - [`value_to_json`] / [`json_to_value`]: schemaless JSON renderings other modules share.
//! - [`HeaderConverter`] (`header.rs`): `header.converter`, Kafka's SimpleHeaderConverter by default.

use std::sync::Arc;

use async_trait::async_trait;

use crate::data::{Schema, Value};
use crate::error::ConnectError;

mod avro;
mod avro_schema;
mod builder;
mod bytes;
mod decimal;
mod header;
mod json;
mod json_schema;
mod number;
mod string;
#[cfg(test)]
mod tests;
mod writer_cache;

pub use avro::{AvroConverter, AvroOptions};
pub use builder::{
    build, resolve_class, AVRO_CONVERTER, BYTE_ARRAY_CONVERTER, CONVERTER_CLASSES, JSON_CONVERTER, STRING_CONVERTER,
};
pub use bytes::ByteArrayConverter;
pub use header::{resolve_header_class, HeaderConverter, HEADER_CONVERTER_CLASSES, SIMPLE_HEADER_CONVERTER};
pub use json::{json_to_value, value_to_json, JsonConverter, JsonOptions};
pub use number::{NumberConverter, NumberKind};
pub use string::StringConverter;

/// Turns Connect data into bytes for Kafka and back.
#[async_trait]
pub trait Converter: Send + Sync {
    /// Bytes for a key (`is_key`) or value of `topic`; `None` for a null value (a tombstone).
    // Kafka's names (fromConnectData / toConnectData), kept so the mapping to Kafka's converters is obvious.
    #[allow(clippy::wrong_self_convention)]
    async fn from_connect(
        &self,
        topic: &str,
        is_key: bool,
        schema: Option<&Arc<Schema>>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError>;
    /// Connect data from bytes read from `topic` (`None`: a null key or value).
    async fn to_connect(
        &self,
        topic: &str,
        is_key: bool,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<Arc<Schema>>, Value), ConnectError>;
}
