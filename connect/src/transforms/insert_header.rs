//! `org.apache.kafka.connect.transforms.InsertHeader`: adds header `header` with `value.literal`, parsed the
//! way Kafka's `Values.parseString` infers a schema: `true`/`false` are booleans, whole numbers the narrowest
//! of int8..int64, other numbers float32 when exact else float64, ISO-8601 dates, times and timestamps their
//! logical types, anything else a string. (Kafka also parses `[..]` arrays and `{..}` maps; here they stay
//! strings.)

use std::sync::Arc;

use super::date_format::DateFormat;
use super::settings::Settings;
use super::util::logical_schema;
use super::Transform;
use crate::data::{Schema, SchemaType, Value, DATE, TIME, TIMESTAMP};
use crate::error::ConnectError;
use crate::record::{ConnectRecord, Header};

pub(super) fn build(s: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    let header = s.required("header")?;
    let literal = s.required("value.literal")?;
    let (schema, value) = parse_literal(&literal);
    Ok(Box::new(InsertHeader { header, schema, value }))
}

/// A schema and value for a literal, as `Values.parseString` infers them.
pub(super) fn parse_literal(literal: &str) -> (Option<Arc<Schema>>, Value) {
    let prim = |t| Some(Schema::primitive(t).shared());
    let text = literal.trim();
    if text.is_empty() {
        return (prim(SchemaType::String), Value::String(literal.to_string()));
    }
    match text {
        "true" => return (prim(SchemaType::Boolean), Value::Boolean(true)),
        "false" => return (prim(SchemaType::Boolean), Value::Boolean(false)),
        _ => {}
    }
    if let Ok(n) = text.parse::<i64>() {
        return if let Ok(v) = i8::try_from(n) {
            (prim(SchemaType::Int8), Value::Int8(v))
        } else if let Ok(v) = i16::try_from(n) {
            (prim(SchemaType::Int16), Value::Int16(v))
        } else if let Ok(v) = i32::try_from(n) {
            (prim(SchemaType::Int32), Value::Int32(v))
        } else {
            (prim(SchemaType::Int64), Value::Int64(n))
        };
    }
    let numeric = text.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        && text.chars().any(|c| c.is_ascii_digit());
    if numeric {
        if let Ok(d) = text.parse::<f64>() {
            let f = d as f32;
            return if f.is_finite() && f64::from(f) == d {
                (prim(SchemaType::Float32), Value::Float32(f))
            } else {
                (prim(SchemaType::Float64), Value::Float64(d))
            };
        }
    }
    let temporal: [(&str, &str, SchemaType); 3] = [
        ("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", TIMESTAMP, SchemaType::Int64),
        ("yyyy-MM-dd", DATE, SchemaType::Int32),
        ("HH:mm:ss.SSS'Z'", TIME, SchemaType::Int32),
    ];
    for (pattern, logical, schema_type) in temporal {
        let Ok(format) = DateFormat::compile(pattern) else { continue };
        if let Ok((millis, used)) = format.parse_prefix(text) {
            if used == text.len() && format.format(millis) == text {
                let schema = logical_schema(schema_type, logical).shared();
                let value = match logical {
                    DATE => Value::Int32(millis.div_euclid(86_400_000) as i32),
                    TIME => Value::Int32(millis as i32),
                    _ => Value::Int64(millis),
                };
                return (Some(schema), value);
            }
        }
    }
    (prim(SchemaType::String), Value::String(literal.to_string()))
}

struct InsertHeader {
    header: String,
    schema: Option<Arc<Schema>>,
    value: Value,
}

impl Transform for InsertHeader {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        record.headers.push(Header {
            key: self.header.clone(),
            schema: self.schema.clone(),
            value: self.value.clone(),
        });
        Ok(Some(record))
    }
}
