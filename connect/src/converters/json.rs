//! Kafka's `org.apache.kafka.connect.json.JsonConverter`: Connect data as JSON, inside a
//! `{"schema": ..., "payload": ...}` envelope when `schemas.enable` is true (Kafka's default), as plain JSON
//! otherwise. Also the schemaless renderings other modules share ([`value_to_json`], [`json_to_value`]).

use std::sync::Arc;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Map, Number, Value as Json};

use super::json_schema::{json_to_schema, schema_to_json};
use super::{decimal, Converter};
use crate::data::{Schema, SchemaType, Struct, Value, DECIMAL};
use crate::error::ConnectError;

/// The JSON converter's settings (Kafka's names: `schemas.enable`, `decimal.format`,
/// `replace.null.with.default`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonOptions {
    /// Wrap every record in the schema envelope (and expect it when reading).
    pub schemas_enable: bool,
    /// Write decimals as JSON numbers (`NUMERIC`) rather than base64 of the unscaled bytes (`BASE64`).
    pub decimal_numeric: bool,
    /// A null where the schema has a default becomes the default, both ways.
    pub replace_null_with_default: bool,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions { schemas_enable: true, decimal_numeric: false, replace_null_with_default: true }
    }
}

/// Connect data to JSON bytes and back.
#[derive(Debug, Clone, Default)]
pub struct JsonConverter {
    options: JsonOptions,
}

impl JsonConverter {
    pub fn new(options: JsonOptions) -> Self {
        JsonConverter { options }
    }

    pub fn options(&self) -> JsonOptions {
        self.options
    }

    /// The JSON document for a record, before it becomes bytes; `None` for a tombstone.
    pub fn to_json(&self, schema: Option<&Arc<Schema>>, value: &Value) -> Result<Option<Json>, ConnectError> {
        // Only a record with neither schema nor value is a tombstone: a null under a schema is still written,
        // as Kafka's converter writes it (the envelope, or `null`).
        if schema.is_none() && value.is_null() {
            return Ok(None);
        }
        let payload = match schema {
            Some(schema) => connect_to_json(schema, value, &self.options)?,
            None => value_to_json(value),
        };
        if !self.options.schemas_enable {
            return Ok(Some(payload));
        }
        let schema_json = match schema {
            Some(schema) => schema_to_json(schema, &self.options)?,
            None => Json::Null,
        };
        Ok(Some(json!({ "schema": schema_json, "payload": payload })))
    }

    /// Connect data from a parsed JSON document.
    pub fn from_json(&self, json: &Json) -> Result<(Option<Arc<Schema>>, Value), ConnectError> {
        if !self.options.schemas_enable {
            return Ok((None, json_to_value(json)));
        }
        let envelope =
            json.as_object().filter(|o| o.len() == 2 && o.contains_key("schema") && o.contains_key("payload"));
        let Some(envelope) = envelope else {
            return Err(ConnectError::Conversion(
                "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain \
                 additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in \
                 your converter configuration."
                    .into(),
            ));
        };
        let schema = json_to_schema(&envelope["schema"], &self.options)?;
        let value = match &schema {
            Some(schema) => json_to_connect(schema, &envelope["payload"], &self.options)?,
            None => json_to_value(&envelope["payload"]),
        };
        Ok((schema, value))
    }
}

#[async_trait]
impl Converter for JsonConverter {
    async fn from_connect(
        &self,
        topic: &str,
        _is_key: bool,
        schema: Option<&Arc<Schema>>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        let json = self
            .to_json(schema, value)
            .map_err(|e| ConnectError::Conversion(format!("cannot write a record for topic {topic} as JSON: {e}")))?;
        Ok(json.map(|j| serde_json::to_vec(&j).expect("a serde_json::Value always serializes")))
    }

    async fn to_connect(
        &self,
        topic: &str,
        _is_key: bool,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<Arc<Schema>>, Value), ConnectError> {
        let Some(bytes) = bytes else {
            return Ok((None, Value::Null));
        };
        let json: Json = serde_json::from_slice(bytes).map_err(|e| {
            ConnectError::Conversion(format!(
                "Converting byte[] to Kafka Connect data failed due to serialization error of topic {topic}: the \
                 {} bytes are not valid JSON ({e})",
                bytes.len()
            ))
        })?;
        self.from_json(&json).map_err(|e| match e {
            ConnectError::Conversion(message) => {
                ConnectError::Conversion(format!("record from topic {topic}: {message}"))
            }
            other => other,
        })
    }
}

fn mismatch(schema: &Schema, found: &str) -> ConnectError {
    let name = schema.name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
    ConnectError::Conversion(format!(
        "invalid value for schema type {}{name}: found {found}",
        schema.schema_type.name()
    ))
}

fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "a boolean",
        Value::Int8(_) => "an int8",
        Value::Int16(_) => "an int16",
        Value::Int32(_) => "an int32",
        Value::Int64(_) => "an int64",
        Value::Float32(_) => "a float",
        Value::Float64(_) => "a double",
        Value::String(_) => "a string",
        Value::Bytes(_) => "bytes",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        Value::Struct(_) => "a struct",
    }
}

fn float(v: f64) -> Result<Json, ConnectError> {
    Number::from_f64(v)
        .map(Json::Number)
        .ok_or_else(|| ConnectError::Conversion(format!("the float {v} has no JSON representation")))
}

/// `value` under `schema` as the payload JSON (Kafka's `convertToJson`).
pub(crate) fn connect_to_json(schema: &Schema, value: &Value, options: &JsonOptions) -> Result<Json, ConnectError> {
    if value.is_null() {
        if let Some(default) = schema.default_value.as_ref().filter(|d| !d.is_null()) {
            if options.replace_null_with_default {
                return connect_to_json(schema, default, options);
            }
        }
        if schema.optional {
            return Ok(Json::Null);
        }
        return Err(ConnectError::Conversion(format!(
            "null value for a required {} schema{} that has no default value",
            schema.schema_type.name(),
            schema.name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()
        )));
    }
    Ok(match (schema.schema_type, value) {
        (SchemaType::Int8, Value::Int8(v)) => json!(v),
        (SchemaType::Int16, Value::Int16(v)) => json!(v),
        (SchemaType::Int32, Value::Int32(v)) => json!(v),
        (SchemaType::Int64, Value::Int64(v)) => json!(v),
        (SchemaType::Float32, Value::Float32(v)) => float(f64::from(*v))?,
        (SchemaType::Float64, Value::Float64(v)) => float(*v)?,
        (SchemaType::Boolean, Value::Boolean(v)) => json!(v),
        (SchemaType::String, Value::String(v)) => json!(v),
        (SchemaType::Bytes, Value::Bytes(bytes)) if schema.name.as_deref() == Some(DECIMAL) => {
            let scale = decimal::scale(schema)?;
            if options.decimal_numeric {
                decimal_number(bytes, scale)?
            } else {
                json!(BASE64.encode(bytes))
            }
        }
        (SchemaType::Bytes, Value::Bytes(bytes)) => json!(BASE64.encode(bytes)),
        (SchemaType::Array, Value::Array(items)) => {
            let item_schema =
                schema.value_schema.as_ref().ok_or_else(|| mismatch(schema, "an array schema without items"))?;
            Json::Array(items.iter().map(|v| connect_to_json(item_schema, v, options)).collect::<Result<_, _>>()?)
        }
        (SchemaType::Map, Value::Map(entries)) => {
            let (Some(keys), Some(values)) = (&schema.key_schema, &schema.value_schema) else {
                return Err(mismatch(schema, "a map schema without key or value schema"));
            };
            if keys.schema_type == SchemaType::String {
                let mut object = Map::new();
                for (k, v) in entries {
                    let key = k.as_str().ok_or_else(|| mismatch(keys, value_kind(k)))?;
                    object.insert(key.to_string(), connect_to_json(values, v, options)?);
                }
                Json::Object(object)
            } else {
                // Kafka writes maps with non-string keys as an array of [key, value] pairs.
                let mut pairs = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    pairs.push(json!([connect_to_json(keys, k, options)?, connect_to_json(values, v, options)?]));
                }
                Json::Array(pairs)
            }
        }
        (SchemaType::Struct, Value::Struct(s)) => {
            // Field names in order are what rendering relies on; a full comparison would also trip over a
            // struct default's schema, which is a copy taken before the default was set.
            let same_shape = s.schema.fields.len() == schema.fields.len()
                && s.schema.fields.iter().zip(&schema.fields).all(|(a, b)| a.name == b.name);
            if !same_shape {
                return Err(ConnectError::Conversion(format!(
                    "the struct's schema does not match the record's schema (fields {:?} vs {:?})",
                    s.schema.fields.iter().map(|f| &f.name).collect::<Vec<_>>(),
                    schema.fields.iter().map(|f| &f.name).collect::<Vec<_>>()
                )));
            }
            let mut object = Map::new();
            for (field, v) in schema.fields.iter().zip(&s.values) {
                let json = connect_to_json(&field.schema, v, options)
                    .map_err(|e| ConnectError::Conversion(format!("field {:?}: {}", field.name, strip(&e))))?;
                object.insert(field.name.clone(), json);
            }
            Json::Object(object)
        }
        (_, other) => return Err(mismatch(schema, value_kind(other))),
    })
}

/// The message of a conversion error without its "conversion failed:" prefix, for nesting field paths.
fn strip(e: &ConnectError) -> String {
    match e {
        ConnectError::Conversion(m) => m.clone(),
        other => other.to_string(),
    }
}

/// A decimal as a JSON number. serde_json holds numbers as f64 here, so a decimal whose digits f64 cannot carry
/// exactly is refused rather than rounded.
fn decimal_number(unscaled: &[u8], scale: i32) -> Result<Json, ConnectError> {
    let text = decimal::to_text(unscaled, scale);
    let exact = text
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && decimal::from_text(&f.to_string(), scale).ok().as_deref() == Some(unscaled));
    match exact.and_then(Number::from_f64) {
        Some(n) => Ok(Json::Number(n)),
        None => Err(ConnectError::Conversion(format!(
            "decimal {text} has more digits than decimal.format=NUMERIC can write exactly here; use \
             decimal.format=BASE64"
        ))),
    }
}

/// Payload JSON under `schema` as Connect data (Kafka's `convertToConnect`).
pub(crate) fn json_to_connect(schema: &Arc<Schema>, json: &Json, options: &JsonOptions) -> Result<Value, ConnectError> {
    if json.is_null() {
        if let Some(default) = schema.default_value.as_ref().filter(|d| !d.is_null()) {
            if options.replace_null_with_default {
                return Ok(default.clone());
            }
        }
        if schema.optional {
            return Ok(Value::Null);
        }
        return Err(ConnectError::Conversion(format!(
            "invalid null value for a required {} field",
            schema.schema_type.name()
        )));
    }
    let found = || {
        let text = json.to_string();
        let text =
            if text.chars().count() > 60 { format!("{}...", text.chars().take(60).collect::<String>()) } else { text };
        mismatch(schema, &format!("JSON {text}"))
    };
    let integer = |min: i64, max: i64| json.as_i64().filter(|v| (min..=max).contains(v)).ok_or_else(found);
    Ok(match schema.schema_type {
        SchemaType::Int8 => Value::Int8(integer(i8::MIN.into(), i8::MAX.into())? as i8),
        SchemaType::Int16 => Value::Int16(integer(i16::MIN.into(), i16::MAX.into())? as i16),
        SchemaType::Int32 => Value::Int32(integer(i32::MIN.into(), i32::MAX.into())? as i32),
        SchemaType::Int64 => Value::Int64(integer(i64::MIN, i64::MAX)?),
        SchemaType::Float32 => Value::Float32(json.as_f64().ok_or_else(found)? as f32),
        SchemaType::Float64 => Value::Float64(json.as_f64().ok_or_else(found)?),
        SchemaType::Boolean => Value::Boolean(json.as_bool().ok_or_else(found)?),
        SchemaType::String => Value::String(json.as_str().ok_or_else(found)?.to_string()),
        SchemaType::Bytes => {
            let is_decimal = schema.name.as_deref() == Some(DECIMAL);
            if is_decimal {
                // A Decimal schema without a scale is refused whatever the payload, as Kafka refuses it.
                decimal::scale(schema)?;
            }
            match json {
                // Either decimal format is read, whatever this converter writes, as Kafka does.
                Json::Number(n) if is_decimal => {
                    let bytes = decimal::from_text(&n.to_string(), decimal::scale(schema)?)
                        .map_err(|m| ConnectError::Conversion(format!("invalid decimal: {m}")))?;
                    Value::Bytes(bytes)
                }
                Json::String(text) => Value::Bytes(BASE64.decode(text).map_err(|e| {
                    ConnectError::Conversion(format!("bytes must be base64 text in JSON, but {text:?} is not: {e}"))
                })?),
                _ => return Err(found()),
            }
        }
        SchemaType::Array => {
            let items = json.as_array().ok_or_else(found)?;
            let item_schema = schema.value_schema.as_ref().ok_or_else(found)?;
            Value::Array(items.iter().map(|v| json_to_connect(item_schema, v, options)).collect::<Result<_, _>>()?)
        }
        SchemaType::Map => {
            let (Some(keys), Some(values)) = (&schema.key_schema, &schema.value_schema) else {
                return Err(found());
            };
            match json {
                Json::Object(object) if keys.schema_type == SchemaType::String => {
                    let mut entries = Vec::with_capacity(object.len());
                    for (k, v) in object {
                        entries.push((Value::String(k.clone()), json_to_connect(values, v, options)?));
                    }
                    Value::Map(entries)
                }
                Json::Array(pairs) => {
                    let mut entries = Vec::with_capacity(pairs.len());
                    for pair in pairs {
                        let Some([k, v]) = pair.as_array().and_then(|p| <&[Json; 2]>::try_from(p.as_slice()).ok())
                        else {
                            return Err(ConnectError::Conversion(format!(
                                "a map with non-string keys is an array of [key, value] pairs; found {pair}"
                            )));
                        };
                        entries.push((json_to_connect(keys, k, options)?, json_to_connect(values, v, options)?));
                    }
                    Value::Map(entries)
                }
                _ => return Err(found()),
            }
        }
        SchemaType::Struct => {
            let object = json.as_object().ok_or_else(found)?;
            let mut value = Struct::new(schema.clone());
            for field in &schema.fields {
                let field_json = object.get(&field.name).unwrap_or(&Json::Null);
                value.values[field.index] = json_to_connect(&field.schema, field_json, options)
                    .map_err(|e| ConnectError::Conversion(format!("field {:?}: {}", field.name, strip(&e))))?;
            }
            Value::Struct(value)
        }
    })
}

/// Schemaless Connect data as JSON: bytes as base64 text, maps with only string keys as objects (others as
/// arrays of `[key, value]` pairs), structs as objects, non-finite floats as their names (`"NaN"`), which JSON
/// cannot hold as numbers.
pub fn value_to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(v) => json!(v),
        Value::Int8(v) => json!(v),
        Value::Int16(v) => json!(v),
        Value::Int32(v) => json!(v),
        Value::Int64(v) => json!(v),
        Value::Float32(v) => float(f64::from(*v)).unwrap_or_else(|_| json!(v.to_string())),
        Value::Float64(v) => float(*v).unwrap_or_else(|_| json!(v.to_string())),
        Value::String(v) => json!(v),
        Value::Bytes(v) => json!(BASE64.encode(v)),
        Value::Array(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Map(entries) if entries.iter().all(|(k, _)| k.as_str().is_some()) => Json::Object(
            entries.iter().map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), value_to_json(v))).collect(),
        ),
        Value::Map(entries) => {
            Json::Array(entries.iter().map(|(k, v)| json!([value_to_json(k), value_to_json(v)])).collect())
        }
        Value::Struct(s) => Json::Object(
            s.schema.fields.iter().zip(&s.values).map(|(f, v)| (f.name.clone(), value_to_json(v))).collect(),
        ),
    }
}

/// Plain JSON as schemaless Connect data, as Kafka's converter reads it without a schema: objects become maps
/// with string keys, integers Int64 (those beyond i64 Float64), other numbers Float64.
pub fn json_to_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int64(i),
            None => Value::Float64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(json_to_value).collect()),
        Json::Object(object) => {
            Value::Map(object.iter().map(|(k, v)| (Value::String(k.clone()), json_to_value(v))).collect())
        }
    }
}
