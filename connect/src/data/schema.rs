//! [`Schema`]: Kafka Connect's schema (type, optionality, default, name, version, doc, parameters, and the
//! fields, items, keys and values of complex types).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Value;

/// Logical type name of a decimal (BYTES holding a big-endian two's-complement unscaled integer; parameter
/// `scale`).
pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
/// Logical type name of a date (INT32 days since the epoch).
pub const DATE: &str = "org.apache.kafka.connect.data.Date";
/// Logical type name of a time of day (INT32 milliseconds since midnight).
pub const TIME: &str = "org.apache.kafka.connect.data.Time";
/// Logical type name of a timestamp (INT64 milliseconds since the epoch).
pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";

/// Connect's schema types, named as Kafka names them (`int32`, `struct`, ...) in the JSON converter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

impl SchemaType {
    /// The lower-case name used by the JSON converter's schema envelope.
    pub fn name(self) -> &'static str {
        match self {
            SchemaType::Int8 => "int8",
            SchemaType::Int16 => "int16",
            SchemaType::Int32 => "int32",
            SchemaType::Int64 => "int64",
            SchemaType::Float32 => "float",
            SchemaType::Float64 => "double",
            SchemaType::Boolean => "boolean",
            SchemaType::String => "string",
            SchemaType::Bytes => "bytes",
            SchemaType::Array => "array",
            SchemaType::Map => "map",
            SchemaType::Struct => "struct",
        }
    }

    /// Parses a name as the JSON converter's envelope writes it (also accepts Kafka's enum spelling, `INT32`).
    pub fn parse(name: &str) -> Option<SchemaType> {
        Some(match name.to_ascii_lowercase().as_str() {
            "int8" => SchemaType::Int8,
            "int16" => SchemaType::Int16,
            "int32" => SchemaType::Int32,
            "int64" => SchemaType::Int64,
            "float" | "float32" => SchemaType::Float32,
            "double" | "float64" => SchemaType::Float64,
            "boolean" => SchemaType::Boolean,
            "string" => SchemaType::String,
            "bytes" => SchemaType::Bytes,
            "array" => SchemaType::Array,
            "map" => SchemaType::Map,
            "struct" => SchemaType::Struct,
            _ => return None,
        })
    }

    /// Whether values of this type are primitives (not array, map or struct).
    pub fn is_primitive(self) -> bool {
        !matches!(self, SchemaType::Array | SchemaType::Map | SchemaType::Struct)
    }
}

/// One field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    /// Position in the struct, from 0.
    pub index: usize,
    pub schema: Arc<Schema>,
}

/// A Connect schema. Build with the constructors and `with_*` methods; share with `Arc`.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub schema_type: SchemaType,
    pub optional: bool,
    pub default_value: Option<Value>,
    /// Logical type or record name, e.g. [`TIMESTAMP`] or `com.example.Order`.
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    pub parameters: BTreeMap<String, String>,
    /// Struct fields, in order.
    pub fields: Vec<Field>,
    /// Map keys.
    pub key_schema: Option<Arc<Schema>>,
    /// Map values and array items.
    pub value_schema: Option<Arc<Schema>>,
}

impl Schema {
    /// A required schema of a primitive type.
    pub fn primitive(schema_type: SchemaType) -> Schema {
        Schema {
            schema_type,
            optional: false,
            default_value: None,
            name: None,
            version: None,
            doc: None,
            parameters: BTreeMap::new(),
            fields: Vec::new(),
            key_schema: None,
            value_schema: None,
        }
    }

    /// An array of `items`.
    pub fn array(items: Arc<Schema>) -> Schema {
        Schema { value_schema: Some(items), ..Schema::primitive(SchemaType::Array) }
    }

    /// A map from `keys` to `values`.
    pub fn map(keys: Arc<Schema>, values: Arc<Schema>) -> Schema {
        Schema { key_schema: Some(keys), value_schema: Some(values), ..Schema::primitive(SchemaType::Map) }
    }

    /// A struct with these fields (name, schema), indexed in order.
    pub fn structure(fields: Vec<(String, Arc<Schema>)>) -> Schema {
        let fields =
            fields.into_iter().enumerate().map(|(index, (name, schema))| Field { name, index, schema }).collect();
        Schema { fields, ..Schema::primitive(SchemaType::Struct) }
    }

    pub fn optional(mut self) -> Schema {
        self.optional = true;
        self
    }

    pub fn with_name(mut self, name: impl Into<String>) -> Schema {
        self.name = Some(name.into());
        self
    }

    pub fn with_default(mut self, value: Value) -> Schema {
        self.default_value = Some(value);
        self
    }

    pub fn with_parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Schema {
        self.parameters.insert(key.into(), value.into());
        self
    }

    /// The struct field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Convenience: `Arc::new(self)`.
    pub fn shared(self) -> Arc<Schema> {
        Arc::new(self)
    }
}
