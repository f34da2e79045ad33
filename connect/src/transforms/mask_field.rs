//! `org.apache.kafka.connect.transforms.MaskField$Key` / `$Value`: replaces `fields` with the empty value of
//! their type (0, false, "", empty array or map, the epoch for dates), or with `replacement` converted to the
//! field's type (numbers and strings only).

use super::settings::Settings;
use super::util::{
    decimal_bytes, decimal_scale, fail, is_decimal, make_struct, map_get, map_put, parse_decimal, require_map,
    require_struct, type_name, Side,
};
use super::Transform;
use crate::data::{Schema, Value};
use crate::error::ConnectError;
use crate::record::ConnectRecord;

const PURPOSE: &str = "mask fields";

pub(super) fn build(side: Side, s: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    let fields = s.required_list("fields")?;
    let replacement = s.get("replacement").map(str::to_string);
    if replacement.as_deref() == Some("") {
        return Err(s.error("replacement", "String must be non-empty"));
    }
    Ok(Box::new(MaskField { name: format!("MaskField${}", side.class_suffix()), side, fields, replacement }))
}

struct MaskField {
    name: String,
    side: Side,
    fields: Vec<String>,
    replacement: Option<String>,
}

impl Transform for MaskField {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        let (schema, value) = self.side.take(&mut record);
        let masked = match &schema {
            None => {
                let mut entries = require_map(&self.name, &value, PURPOSE)?.clone();
                for field in &self.fields {
                    let original = map_get(&entries, field).cloned().unwrap_or(Value::Null);
                    let masked =
                        self.masked(None, &original).map_err(|e| fail(&self.name, format!("field {field}: {e}")))?;
                    map_put(&mut entries, field, masked);
                }
                Value::Map(entries)
            }
            Some(_) => {
                let value = require_struct(&self.name, &value, PURPOSE)?;
                let mut values = value.values.clone();
                for field in &value.schema.fields {
                    if self.fields.contains(&field.name) {
                        values[field.index] = self
                            .masked(Some(&field.schema), &value.values[field.index])
                            .map_err(|e| fail(&self.name, format!("field {}: {e}", field.name)))?;
                    }
                }
                make_struct(value.schema.clone(), values)
            }
        };
        self.side.put(&mut record, schema, masked);
        Ok(Some(record))
    }
}

impl MaskField {
    fn masked(&self, schema: Option<&Schema>, value: &Value) -> Result<Value, String> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let decimal_scale = match (schema, value) {
            (Some(s), Value::Bytes(_)) if is_decimal(s) => Some(decimal_scale(s)?),
            _ => None,
        };
        match &self.replacement {
            None => Ok(match value {
                Value::Boolean(_) => Value::Boolean(false),
                Value::Int8(_) => Value::Int8(0),
                Value::Int16(_) => Value::Int16(0),
                Value::Int32(_) => Value::Int32(0),
                Value::Int64(_) => Value::Int64(0),
                Value::Float32(_) => Value::Float32(0.0),
                Value::Float64(_) => Value::Float64(0.0),
                Value::String(_) => Value::String(String::new()),
                Value::Array(_) => Value::Array(Vec::new()),
                Value::Map(_) => Value::Map(Vec::new()),
                Value::Bytes(_) if decimal_scale.is_some() => Value::Bytes(decimal_bytes(0)),
                other => return Err(format!("Cannot mask value of type: {}", type_name(other))),
            }),
            Some(r) => {
                let number = |r: &str| -> Result<f64, String> {
                    r.trim().parse::<f64>().map_err(|_| format!("Unable to convert {r} (string) to number"))
                };
                // Values.convertToX: integers parse exactly; other numbers are truncated, as Java's narrowing does.
                let integer = |r: &str| -> Result<i64, String> {
                    match r.trim().parse::<i64>() {
                        Ok(n) => Ok(n),
                        Err(_) => number(r).map(|f| f as i64),
                    }
                };
                Ok(match value {
                    Value::Int8(_) => Value::Int8(integer(r)? as i8),
                    Value::Int16(_) => Value::Int16(integer(r)? as i16),
                    Value::Int32(_) => Value::Int32(integer(r)? as i32),
                    Value::Int64(_) => Value::Int64(integer(r)?),
                    Value::Float32(_) => Value::Float32(number(r)? as f32),
                    Value::Float64(_) => Value::Float64(number(r)?),
                    Value::String(_) => Value::String(r.clone()),
                    Value::Bytes(_) if decimal_scale.is_some() => {
                        Value::Bytes(decimal_bytes(parse_decimal(r, decimal_scale.unwrap_or(0))?))
                    }
                    other => {
                        return Err(format!("Cannot mask value of type {} with custom replacement.", type_name(other)))
                    }
                })
            }
        }
    }
}
