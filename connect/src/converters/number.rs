//! Kafka's number converters (`org.apache.kafka.connect.converters.ShortConverter`, `IntegerConverter`,
//! `LongConverter`, `FloatConverter`, `DoubleConverter`) and `BooleanConverter`: one primitive in Kafka's
//! serializers' big-endian bytes.

use std::sync::Arc;

use async_trait::async_trait;

use super::Converter;
use crate::data::{Schema, SchemaType, Value};
use crate::error::ConnectError;

/// Which primitive a [`NumberConverter`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberKind {
    Short,
    Integer,
    Long,
    Float,
    Double,
    Boolean,
}

impl NumberKind {
    fn schema_type(self) -> SchemaType {
        match self {
            NumberKind::Short => SchemaType::Int16,
            NumberKind::Integer => SchemaType::Int32,
            NumberKind::Long => SchemaType::Int64,
            NumberKind::Float => SchemaType::Float32,
            NumberKind::Double => SchemaType::Float64,
            NumberKind::Boolean => SchemaType::Boolean,
        }
    }

    fn size(self) -> usize {
        match self {
            NumberKind::Boolean => 1,
            NumberKind::Short => 2,
            NumberKind::Integer | NumberKind::Float => 4,
            NumberKind::Long | NumberKind::Double => 8,
        }
    }
}

/// One number (or boolean) per key or value, as Kafka's `IntegerSerializer` and friends write it.
#[derive(Debug, Clone)]
pub struct NumberConverter {
    kind: NumberKind,
}

impl NumberConverter {
    pub fn new(kind: NumberKind) -> Self {
        NumberConverter { kind }
    }
}

#[async_trait]
impl Converter for NumberConverter {
    async fn from_connect(
        &self,
        topic: &str,
        _is_key: bool,
        _schema: Option<&Arc<Schema>>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        Ok(Some(match (self.kind, value) {
            (_, Value::Null) => return Ok(None),
            (NumberKind::Short, Value::Int16(v)) => v.to_be_bytes().to_vec(),
            (NumberKind::Integer, Value::Int32(v)) => v.to_be_bytes().to_vec(),
            (NumberKind::Long, Value::Int64(v)) => v.to_be_bytes().to_vec(),
            (NumberKind::Float, Value::Float32(v)) => v.to_be_bytes().to_vec(),
            (NumberKind::Double, Value::Float64(v)) => v.to_be_bytes().to_vec(),
            (NumberKind::Boolean, Value::Boolean(v)) => vec![u8::from(*v)],
            (kind, other) => {
                return Err(ConnectError::Conversion(format!(
                    "failed to serialize {other:?} for topic {topic}: the {kind:?} converter writes {} values only",
                    kind.schema_type().name()
                )))
            }
        }))
    }

    async fn to_connect(
        &self,
        topic: &str,
        _is_key: bool,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<Arc<Schema>>, Value), ConnectError> {
        let schema = Some(Schema::primitive(self.kind.schema_type()).optional().shared());
        let Some(bytes) = bytes else {
            return Ok((schema, Value::Null));
        };
        let kind = self.kind;
        let wrong = || {
            ConnectError::Conversion(format!(
                "failed to deserialize {} from topic {topic}: expected {} bytes, got {}",
                kind.schema_type().name(),
                kind.size(),
                bytes.len()
            ))
        };
        let value = match kind {
            NumberKind::Short => Value::Int16(i16::from_be_bytes(bytes.try_into().map_err(|_| wrong())?)),
            NumberKind::Integer => Value::Int32(i32::from_be_bytes(bytes.try_into().map_err(|_| wrong())?)),
            NumberKind::Long => Value::Int64(i64::from_be_bytes(bytes.try_into().map_err(|_| wrong())?)),
            NumberKind::Float => Value::Float32(f32::from_be_bytes(bytes.try_into().map_err(|_| wrong())?)),
            NumberKind::Double => Value::Float64(f64::from_be_bytes(bytes.try_into().map_err(|_| wrong())?)),
            NumberKind::Boolean => match bytes {
                [0] => Value::Boolean(false),
                [1] => Value::Boolean(true),
                _ => {
                    return Err(ConnectError::Conversion(format!(
                        "failed to deserialize a boolean from topic {topic}: expected one byte 0x00 or 0x01, got \
                         {bytes:02x?}"
                    )))
                }
            },
        };
        Ok((schema, value))
    }
}
