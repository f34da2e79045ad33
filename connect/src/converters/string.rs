//! Kafka's `org.apache.kafka.connect.storage.StringConverter`: the value's text as UTF-8, read back as an
//! optional string.

use std::sync::Arc;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::{value_to_json, Converter};
use crate::data::{Schema, SchemaType, Value};
use crate::error::ConnectError;

/// Writes any value as text (strings as they are, numbers and booleans as written, bytes as base64, arrays,
/// maps and structs as JSON); reads bytes as a string. Invalid UTF-8 is read with replacement characters, as
/// Java's decoder does, so a stray byte does not stop a pipeline that only moves text.
#[derive(Debug, Clone, Default)]
pub struct StringConverter;

/// The text `value` renders as under the string converter; `None` for null.
pub(crate) fn value_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        Value::Boolean(v) => v.to_string(),
        Value::Int8(v) => v.to_string(),
        Value::Int16(v) => v.to_string(),
        Value::Int32(v) => v.to_string(),
        Value::Int64(v) => v.to_string(),
        Value::Float32(v) => v.to_string(),
        Value::Float64(v) => v.to_string(),
        Value::Bytes(b) => BASE64.encode(b),
        other => value_to_json(other).to_string(),
    })
}

/// Kafka's optional string schema, what every string read carries.
pub(crate) fn optional_string() -> Arc<Schema> {
    Schema::primitive(SchemaType::String).optional().shared()
}

#[async_trait]
impl Converter for StringConverter {
    async fn from_connect(
        &self,
        _topic: &str,
        _is_key: bool,
        _schema: Option<&Arc<Schema>>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        Ok(value_text(value).map(String::into_bytes))
    }

    async fn to_connect(
        &self,
        _topic: &str,
        _is_key: bool,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<Arc<Schema>>, Value), ConnectError> {
        let value = match bytes {
            Some(bytes) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
            None => Value::Null,
        };
        Ok((Some(optional_string()), value))
    }
}
