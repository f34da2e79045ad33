//! [`Value`]: a Connect value, with or without a schema. Schemaless data (the JSON converter without
//! envelopes) uses maps with string keys where Kafka would use `java.util.Map`.

use std::sync::Arc;

use super::Schema;

/// A Connect value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    /// Entries in insertion order (Connect maps may have non-string keys).
    Map(Vec<(Value, Value)>),
    Struct(Struct),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value of a map entry whose key is the string `key`.
    pub fn map_get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A struct value: its schema and one value per field, in field order.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    pub schema: Arc<Schema>,
    pub values: Vec<Value>,
}

impl Struct {
    /// A struct of `schema` with every field null (set them with [`Struct::put`]).
    pub fn new(schema: Arc<Schema>) -> Struct {
        let values = vec![Value::Null; schema.fields.len()];
        Struct { schema, values }
    }

    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.schema.field(name).and_then(|f| self.values.get(f.index))
    }

    /// Sets field `name`; false when the schema has no such field.
    pub fn put(&mut self, name: &str, value: Value) -> bool {
        match self.schema.field(name).map(|f| f.index) {
            Some(i) => {
                self.values[i] = value;
                true
            }
            None => false,
        }
    }
}
