//! Converters between Kafka bytes and Connect data: JSON (with or without the schema envelope), string,
//! bytes, and Avro through the schema registry. Chosen per connector with `key.converter` / `value.converter`.

use std::sync::Arc;

use async_trait::async_trait;

use crate::data::{Schema, Value};
use crate::error::ConnectError;

/// Turns Connect data into bytes for Kafka and back.
#[async_trait]
pub trait Converter: Send + Sync {
    /// Bytes for a key (`is_key`) or value of `topic`; `None` for a null value (a tombstone).
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
