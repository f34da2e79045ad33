//! Helpers every transform shares: which side of the record it works on, Kafka's "requirements" checks with
//! their messages, schema copying, struct field reads that honour defaults, string-keyed map edits, decimals,
//! and a one-entry schema cache.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::data::{Field, Schema, SchemaType, Struct, Value, DATE, DECIMAL, TIME, TIMESTAMP};
use crate::error::ConnectError;
use crate::record::ConnectRecord;

/// The part of a record a `$Key` or `$Value` transform works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Key,
    Value,
}

impl Side {
    /// Kafka's nested class name: `Key` or `Value`.
    pub fn class_suffix(self) -> &'static str {
        match self {
            Side::Key => "Key",
            Side::Value => "Value",
        }
    }

    pub(crate) fn value(self, record: &ConnectRecord) -> &Value {
        match self {
            Side::Key => &record.key,
            Side::Value => &record.value,
        }
    }

    /// Takes the schema and value out of the record (leaving null), so a transform can rebuild them without
    /// cloning.
    pub(crate) fn take(self, record: &mut ConnectRecord) -> (Option<Arc<Schema>>, Value) {
        match self {
            Side::Key => (record.key_schema.take(), std::mem::replace(&mut record.key, Value::Null)),
            Side::Value => (record.value_schema.take(), std::mem::replace(&mut record.value, Value::Null)),
        }
    }

    pub(crate) fn put(self, record: &mut ConnectRecord, schema: Option<Arc<Schema>>, value: Value) {
        match self {
            Side::Key => {
                record.key_schema = schema;
                record.key = value;
            }
            Side::Value => {
                record.value_schema = schema;
                record.value = value;
            }
        }
    }
}

/// A transform failure naming the transform.
pub(crate) fn fail(name: &str, message: impl Into<String>) -> ConnectError {
    ConnectError::Transform { name: name.to_string(), message: message.into() }
}

/// A short description of a value's type for error messages (Connect's type names).
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "boolean",
        Value::Int8(_) => "int8",
        Value::Int16(_) => "int16",
        Value::Int32(_) => "int32",
        Value::Int64(_) => "int64",
        Value::Float32(_) => "float32",
        Value::Float64(_) => "float64",
        Value::String(_) => "string",
        Value::Bytes(_) => "bytes",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Struct(_) => "struct",
    }
}

/// Kafka's `requireMap`: schemaless data must be a map.
pub(crate) fn require_map<'a>(
    name: &str,
    value: &'a Value,
    purpose: &str,
) -> Result<&'a Vec<(Value, Value)>, ConnectError> {
    match value {
        Value::Map(entries) => Ok(entries),
        other => Err(fail(
            name,
            format!("Only Map objects supported in absence of schema for [{purpose}], found: {}", type_name(other)),
        )),
    }
}

/// Kafka's `requireStruct`: data with a schema must be a struct.
pub(crate) fn require_struct<'a>(name: &str, value: &'a Value, purpose: &str) -> Result<&'a Struct, ConnectError> {
    match value {
        Value::Struct(s) => Ok(s),
        other => Err(fail(name, format!("Only Struct objects supported for [{purpose}], found: {}", type_name(other)))),
    }
}

/// Kafka's `SchemaUtil.copySchemaBasics`: name, version, doc and parameters of `source` onto `target`.
pub(crate) fn copy_schema_basics(source: &Schema, mut target: Schema) -> Schema {
    target.name = source.name.clone();
    target.version = source.version;
    target.doc = source.doc.clone();
    target.parameters = source.parameters.clone();
    target
}

/// A struct schema with these fields (indexed in order), keeping `source`'s name, version, doc and parameters.
pub(crate) fn struct_like(source: &Schema, fields: Vec<(String, Arc<Schema>)>) -> Schema {
    copy_schema_basics(source, Schema::structure(fields))
}

/// Checks that no two fields share a name, as Kafka's `SchemaBuilder.field` does.
pub(crate) fn check_unique_fields(name: &str, fields: &[(String, Arc<Schema>)]) -> Result<(), ConnectError> {
    for (i, (field, _)) in fields.iter().enumerate() {
        if fields[..i].iter().any(|(f, _)| f == field) {
            return Err(fail(name, format!("Cannot create field because of field name duplication {field}")));
        }
    }
    Ok(())
}

/// Kafka's `Struct.get(field)` (a null field with a default reads as the default) when
/// `replace_null_with_default`, else `getWithoutDefault`.
pub(crate) fn field_value(value: &Struct, field: &Field, replace_null_with_default: bool) -> Value {
    let v = value.values.get(field.index).cloned().unwrap_or(Value::Null);
    match (&v, replace_null_with_default, &field.schema.default_value) {
        (Value::Null, true, Some(default)) => default.clone(),
        _ => v,
    }
}

/// The value under string key `key` of map entries.
pub(crate) fn map_get<'a>(entries: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
}

/// Sets string key `key`, replacing an existing entry in place or appending (Java's `HashMap.put`).
pub(crate) fn map_put(entries: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    match entries.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
        Some(entry) => entry.1 = value,
        None => entries.push((Value::String(key.to_string()), value)),
    }
}

/// Removes string key `key`.
pub(crate) fn map_remove(entries: &mut Vec<(Value, Value)>, key: &str) {
    entries.retain(|(k, _)| k.as_str() != Some(key));
}

/// A struct value of `schema` with these values in field order.
pub(crate) fn make_struct(schema: Arc<Schema>, values: Vec<Value>) -> Value {
    Value::Struct(Struct { schema, values })
}

/// A required Date, Time or Timestamp schema as Kafka's constants define them (version 1).
pub(crate) fn logical_schema(schema_type: SchemaType, logical: &str) -> Schema {
    let mut s = Schema::primitive(schema_type).with_name(logical);
    s.version = Some(1);
    s
}

/// Whether `schema` is one of Connect's logical types named `logical`.
pub(crate) fn is_logical(schema: &Schema, logical: &str) -> bool {
    schema.name.as_deref() == Some(logical)
}

/// The scale of a decimal schema (`scale` parameter, 0 when missing).
pub(crate) fn decimal_scale(schema: &Schema) -> Result<i32, String> {
    match schema.parameters.get("scale") {
        None => Ok(0),
        Some(s) => s.parse().map_err(|_| format!("invalid decimal scale parameter {s:?}")),
    }
}

/// The unscaled integer of a decimal's big-endian two's-complement bytes (up to 16 bytes).
pub(crate) fn decimal_unscaled(bytes: &[u8]) -> Result<i128, String> {
    if bytes.len() > 16 {
        return Err(format!("decimals of {} bytes are wider than the 16 bytes supported", bytes.len()));
    }
    if bytes.is_empty() {
        return Ok(0);
    }
    let mut n: i128 = if bytes[0] & 0x80 != 0 { -1 } else { 0 };
    for b in bytes {
        n = (n << 8) | i128::from(*b);
    }
    Ok(n)
}

/// The minimal big-endian two's-complement bytes of `n` (Java's `BigInteger.toByteArray`).
pub(crate) fn decimal_bytes(n: i128) -> Vec<u8> {
    let all = n.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (b, next) = (all[start], all[start + 1]);
        let redundant = (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    all[start..].to_vec()
}

/// Java's `BigDecimal.toString` of `unscaled × 10^-scale` (scientific notation when the exponent is small).
pub(crate) fn decimal_to_string(unscaled: i128, scale: i32) -> String {
    let negative = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    let adjusted = -i64::from(scale) + digits.len() as i64 - 1;
    let sign = if negative { "-" } else { "" };
    if scale >= 0 && adjusted >= -6 {
        let scale = scale as usize;
        if scale == 0 {
            return format!("{sign}{digits}");
        }
        if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            format!("{sign}{int}.{frac}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() { first.to_string() } else { format!("{first}.{rest}") };
        let exp_sign = if adjusted >= 0 { "+" } else { "" };
        format!("{sign}{mantissa}E{exp_sign}{adjusted}")
    }
}

/// A decimal as a double (Java's `BigDecimal.doubleValue`, to the nearest double).
pub(crate) fn decimal_to_f64(unscaled: i128, scale: i32) -> f64 {
    decimal_to_string(unscaled, scale).parse().unwrap_or(f64::NAN)
}

/// Parses a plain decimal string (`-12.50`) at exactly `scale`, or says why it cannot.
pub(crate) fn parse_decimal(text: &str, scale: i32) -> Result<i128, String> {
    let text = text.trim();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return Err(format!("{text} is not a decimal number"));
    }
    let frac_trimmed = frac.trim_end_matches('0');
    if scale < 0 || frac_trimmed.len() > scale as usize {
        return Err(format!("{text} has more decimal places than the schema's scale {scale}"));
    }
    let padded = format!("{int}{frac_trimmed}{}", "0".repeat(scale as usize - frac_trimmed.len()));
    let n: i128 = if padded.is_empty() { 0 } else { padded.parse().map_err(|_| format!("{text} is too large"))? };
    Ok(if negative { -n } else { n })
}

/// Days, milliseconds of day or milliseconds since the epoch held by a Date, Time or Timestamp value; `None`
/// when `schema` is not one of those logical types.
pub(crate) fn temporal_millis(schema: &Schema, value: &Value) -> Option<i64> {
    const DAY: i64 = 86_400_000;
    match (schema.name.as_deref(), value) {
        (Some(DATE), Value::Int32(days)) => Some(i64::from(*days) * DAY),
        (Some(TIME), Value::Int32(ms)) => Some(i64::from(*ms)),
        (Some(TIMESTAMP), Value::Int64(ms)) => Some(*ms),
        _ => None,
    }
}

/// Whether `schema` is a decimal.
pub(crate) fn is_decimal(schema: &Schema) -> bool {
    is_logical(schema, DECIMAL) && schema.schema_type == SchemaType::Bytes
}

/// Remembers the schema a transform last derived, so a stream of records with one schema rebuilds it once
/// (Kafka keeps an LRU cache of 16 for the same reason).
#[derive(Default)]
pub(crate) struct SchemaCache {
    last: Mutex<Option<(Arc<Schema>, Arc<Schema>)>>,
}

impl SchemaCache {
    pub(crate) fn get_or_build(
        &self,
        input: &Arc<Schema>,
        build: impl FnOnce() -> Result<Arc<Schema>, ConnectError>,
    ) -> Result<Arc<Schema>, ConnectError> {
        if let Some((from, to)) = &*self.last.lock() {
            if Arc::ptr_eq(from, input) || **from == **input {
                return Ok(to.clone());
            }
        }
        let built = build()?;
        *self.last.lock() = Some((input.clone(), built.clone()));
        Ok(built)
    }
}

/// Java's `Double.toString`: `1.0`, `0.001`, `1.0E7`, `1.5E-4`, `NaN`, `Infinity`.
pub(crate) fn java_double_to_string(d: f64) -> String {
    java_float_text(d, d.abs(), format!("{d}"), format!("{d:e}"))
}

/// Java's `Float.toString` (shortest digits of the float, not of its widening to double).
pub(crate) fn java_float_to_string(f: f32) -> String {
    java_float_text(f64::from(f), f64::from(f.abs()), format!("{f}"), format!("{f:e}"))
}

fn java_float_text(d: f64, abs: f64, plain: String, sci: String) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    if (1e-3..1e7).contains(&abs) {
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let mantissa = if mantissa.contains('.') { mantissa.to_string() } else { format!("{mantissa}.0") };
        format!("{mantissa}E{exp}")
    }
}
