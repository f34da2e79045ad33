//! Kafka's `org.apache.kafka.connect.converters.ByteArrayConverter`: bytes through untouched.

use std::sync::Arc;

use async_trait::async_trait;

use super::Converter;
use crate::data::{Schema, SchemaType, Value};
use crate::error::ConnectError;

/// Passes bytes through; refuses anything that is not bytes, as Kafka's does.
#[derive(Debug, Clone, Default)]
pub struct ByteArrayConverter;

#[async_trait]
impl Converter for ByteArrayConverter {
    async fn from_connect(
        &self,
        topic: &str,
        _is_key: bool,
        schema: Option<&Arc<Schema>>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        if let Some(schema) = schema.filter(|s| s.schema_type != SchemaType::Bytes) {
            return Err(ConnectError::Conversion(format!(
                "invalid schema type {} for ByteArrayConverter (topic {topic}): it writes bytes schemas only; use \
                 another converter for other data",
                schema.schema_type.name()
            )));
        }
        match value {
            Value::Null => Ok(None),
            Value::Bytes(bytes) => Ok(Some(bytes.clone())),
            other => Err(ConnectError::Conversion(format!(
                "ByteArrayConverter is not compatible with {other:?} (topic {topic}): it writes bytes values only"
            ))),
        }
    }

    async fn to_connect(
        &self,
        _topic: &str,
        _is_key: bool,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<Arc<Schema>>, Value), ConnectError> {
        let value = bytes.map_or(Value::Null, |b| Value::Bytes(b.to_vec()));
        Ok((Some(Schema::primitive(SchemaType::Bytes).optional().shared()), value))
    }
}
