//! `org.apache.kafka.connect.transforms.Cast$Key` / `$Value`: casts fields (`spec=a:int32,b:string`) or the
//! whole key or value (`spec=int64`) to int8..int64, float32, float64, boolean or string, with Java's
//! conversions (narrowing wraps, `Integer.parseInt` for strings, base64 for bytes to string). Null keys and
//! values pass through.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::date_format::DateFormat;
use super::settings::Settings;
use super::util::{
    copy_schema_basics, decimal_scale, decimal_to_f64, decimal_to_string, decimal_unscaled, fail, field_value,
    is_decimal, is_logical, java_double_to_string, java_float_to_string, make_struct, map_get, map_put, require_map,
    require_struct, struct_like, temporal_millis, type_name, SchemaCache, Side,
};
use super::Transform;
use crate::data::{Schema, SchemaType, Value, DATE, DECIMAL, TIME, TIMESTAMP};
use crate::error::ConnectError;
use crate::record::ConnectRecord;

const PURPOSE: &str = "cast types";
const OUTPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]";
const INPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]";

pub(super) fn build(side: Side, s: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    let spec = s.list("spec");
    if s.get("spec").is_none() {
        s.required("spec")?;
    }
    if spec.is_empty() {
        return Err(s.error("spec", "Must specify at least one field to cast."));
    }
    let mut whole = None;
    let mut fields = Vec::new();
    for mapping in &spec {
        // Java's split drops trailing empty parts: `a:` is a one-part mapping.
        let parts: Vec<&str> = mapping.trim_end_matches(':').split(':').collect();
        match parts.as_slice() {
            [ty] => whole = Some(parse_type(ty).map_err(|e| s.error("spec", e))?),
            [field, ty] => {
                let ty = parse_type(ty).map_err(|e| s.error("spec", e))?;
                fields.retain(|(f, _): &(String, SchemaType)| f != field.trim());
                fields.push((field.trim().to_string(), ty));
            }
            _ => return Err(s.error("spec", format!("Invalid cast mapping: {mapping}; expected field:type or type"))),
        }
    }
    if whole.is_some() && spec.len() > 1 {
        return Err(s.error(
            "spec",
            "Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec",
        ));
    }
    let replace_null_with_default = s.bool_or("replace.null.with.default", true)?;
    Ok(Box::new(Cast {
        name: format!("Cast${}", side.class_suffix()),
        side,
        whole,
        fields,
        replace_null_with_default,
        cache: SchemaCache::default(),
    }))
}

/// A target type by Kafka's `Schema.Type` name (any case); only primitive non-bytes types are targets.
fn parse_type(name: &str) -> Result<SchemaType, String> {
    let t = match name.trim().to_ascii_uppercase().as_str() {
        "INT8" => SchemaType::Int8,
        "INT16" => SchemaType::Int16,
        "INT32" => SchemaType::Int32,
        "INT64" => SchemaType::Int64,
        "FLOAT32" => SchemaType::Float32,
        "FLOAT64" => SchemaType::Float64,
        "BOOLEAN" => SchemaType::Boolean,
        "STRING" => SchemaType::String,
        "BYTES" | "ARRAY" | "MAP" | "STRUCT" => {
            return Err(format!(
                "Cast transformation does not support casting to {}; supported types are {OUTPUT_TYPES}",
                name.trim().to_ascii_uppercase()
            ))
        }
        _ => return Err(format!("Invalid type found in casting spec: {}", name.trim())),
    };
    Ok(t)
}

fn upper(t: SchemaType) -> String {
    match t {
        SchemaType::Float32 => "FLOAT32".into(),
        SchemaType::Float64 => "FLOAT64".into(),
        other => other.name().to_ascii_uppercase(),
    }
}

struct Cast {
    name: String,
    side: Side,
    whole: Option<SchemaType>,
    fields: Vec<(String, SchemaType)>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl Transform for Cast {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        let (schema, value) = self.side.take(&mut record);
        if value.is_null() {
            self.side.put(&mut record, schema, value);
            return Ok(Some(record));
        }
        let (schema, value) = match schema {
            None => (None, self.schemaless(value)?),
            Some(schema) => {
                let (s, v) = self.with_schema(&schema, value)?;
                (Some(s), v)
            }
        };
        self.side.put(&mut record, schema, value);
        Ok(Some(record))
    }
}

impl Cast {
    fn err(&self, message: String) -> ConnectError {
        fail(&self.name, message)
    }

    fn schemaless(&self, value: Value) -> Result<Value, ConnectError> {
        if let Some(target) = self.whole {
            return cast_value(None, &value, target).map_err(|e| self.err(e));
        }
        let mut entries = require_map(&self.name, &value, PURPOSE)?.clone();
        for (field, target) in &self.fields {
            let original = map_get(&entries, field).cloned().unwrap_or(Value::Null);
            let cast = cast_value(None, &original, *target).map_err(|e| self.err(format!("field {field}: {e}")))?;
            map_put(&mut entries, field, cast);
        }
        Ok(Value::Map(entries))
    }

    fn with_schema(&self, schema: &Arc<Schema>, value: Value) -> Result<(Arc<Schema>, Value), ConnectError> {
        if let Some(target) = self.whole {
            let updated = self.cache.get_or_build(schema, || self.whole_schema(schema, target))?;
            let cast = cast_value(Some(schema), &value, target).map_err(|e| self.err(e))?;
            return Ok((updated, cast));
        }
        let value = require_struct(&self.name, &value, PURPOSE)?;
        let struct_schema = value.schema.clone();
        let updated = self.cache.get_or_build(&struct_schema, || self.struct_schema(&struct_schema))?;
        let mut values = Vec::with_capacity(struct_schema.fields.len());
        for field in &struct_schema.fields {
            let original = field_value(value, field, self.replace_null_with_default);
            values.push(match self.target(&field.name) {
                Some(target) => cast_value(Some(&field.schema), &original, target)
                    .map_err(|e| self.err(format!("field {}: {e}", field.name)))?,
                None => original,
            });
        }
        Ok((updated.clone(), make_struct(updated, values)))
    }

    fn target(&self, field: &str) -> Option<SchemaType> {
        self.fields.iter().find(|(f, _)| f == field).map(|(_, t)| *t)
    }

    fn whole_schema(&self, schema: &Schema, target: SchemaType) -> Result<Arc<Schema>, ConnectError> {
        let mut updated = copy_schema_basics(schema, Schema::primitive(target));
        // Kafka copies the name even from a logical type, which leaves e.g. a string schema named Timestamp that
        // no converter can write; the cast value is no longer that logical type, so its name and scale go.
        if [DATE, TIME, TIMESTAMP, DECIMAL].iter().any(|l| is_logical(schema, l)) {
            updated.name = None;
            updated.version = None;
            updated.parameters.clear();
        }
        updated.optional = schema.optional;
        if let Some(default) = &schema.default_value {
            updated.default_value = Some(cast_value(Some(schema), default, target).map_err(|e| self.err(e))?);
        }
        Ok(updated.shared())
    }

    fn struct_schema(&self, schema: &Schema) -> Result<Arc<Schema>, ConnectError> {
        let mut fields = Vec::with_capacity(schema.fields.len());
        for field in &schema.fields {
            let field_schema = match self.target(&field.name) {
                None => field.schema.clone(),
                Some(target) => {
                    let mut s = Schema::primitive(target);
                    s.optional = field.schema.optional;
                    if let Some(default) = &field.schema.default_value {
                        s.default_value = Some(
                            cast_value(Some(&field.schema), default, target)
                                .map_err(|e| self.err(format!("default of field {}: {e}", field.name)))?,
                        );
                    }
                    s.shared()
                }
            };
            fields.push((field.name.clone(), field_schema));
        }
        let mut updated = struct_like(schema, fields);
        updated.optional = schema.optional;
        updated.default_value = schema.default_value.clone();
        Ok(updated.shared())
    }
}

/// A value as Java sees it when casting: a number of some kind, a boolean, a string, bytes or a date.
enum Java {
    Long(i64),
    Float(f64, bool),
    Decimal(i128, i32),
    Bool(bool),
    Str(String),
    Bytes(Vec<u8>),
    Date(i64),
}

/// Casts one value (`schema` is `None` for schemaless data) to `target`, or says why Kafka's would fail.
fn cast_value(schema: Option<&Schema>, value: &Value, target: SchemaType) -> Result<Value, String> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let input_type = match schema {
        Some(s) => s.schema_type,
        None => match value {
            Value::Array(_) => SchemaType::Array,
            Value::Map(_) => SchemaType::Map,
            Value::Struct(_) => SchemaType::Struct,
            _ => SchemaType::Boolean, // any primitive: checked by the match below
        },
    };
    if matches!(input_type, SchemaType::Array | SchemaType::Map | SchemaType::Struct) {
        return Err(format!(
            "Cast transformation does not support casting from {}; supported types are {INPUT_TYPES}",
            upper(input_type)
        ));
    }
    let java = match (schema, value) {
        (Some(s), v) if target == SchemaType::String && temporal_millis(s, v).is_some() => {
            Java::Date(temporal_millis(s, v).unwrap_or_default())
        }
        (Some(s), Value::Bytes(b)) if is_decimal(s) => {
            let scale = decimal_scale(s)?;
            Java::Decimal(decimal_unscaled(b)?, scale)
        }
        (_, Value::Int8(n)) => Java::Long(i64::from(*n)),
        (_, Value::Int16(n)) => Java::Long(i64::from(*n)),
        (_, Value::Int32(n)) => Java::Long(i64::from(*n)),
        (_, Value::Int64(n)) => Java::Long(*n),
        (_, Value::Float32(f)) => Java::Float(f64::from(*f), true),
        (_, Value::Float64(f)) => Java::Float(*f, false),
        (_, Value::Boolean(b)) => Java::Bool(*b),
        (_, Value::String(s)) => Java::Str(s.clone()),
        (_, Value::Bytes(b)) => Java::Bytes(b.clone()),
        (_, other) => return Err(format!("Unexpected type in Cast transformation: {}", type_name(other))),
    };
    let out_of_range = |s: &str| format!("Value ({s}) was out of range for requested data type");
    let unexpected = || "Unexpected type in Cast transformation: bytes".to_string();
    // Java's Number.longValue / intValue: floats saturate, decimals drop their fraction, then narrowing wraps.
    let as_long = |j: &Java| -> Option<i64> {
        match j {
            Java::Long(n) => Some(*n),
            Java::Float(f, _) => Some(*f as i64),
            Java::Decimal(n, scale) => Some(integer_part(*n, *scale) as i64),
            Java::Bool(b) => Some(i64::from(*b)),
            Java::Date(ms) => Some(*ms),
            _ => None,
        }
    };
    let as_int = |j: &Java| -> Option<i32> {
        match j {
            Java::Float(f, _) => Some(*f as i32),
            other => as_long(other).map(|n| n as i32),
        }
    };
    Ok(match target {
        SchemaType::Int8 => match &java {
            Java::Str(s) => Value::Int8(s.parse().map_err(|_| out_of_range(s))?),
            j => Value::Int8(as_int(j).ok_or_else(unexpected)? as i8),
        },
        SchemaType::Int16 => match &java {
            Java::Str(s) => Value::Int16(s.parse().map_err(|_| out_of_range(s))?),
            j => Value::Int16(as_int(j).ok_or_else(unexpected)? as i16),
        },
        SchemaType::Int32 => match &java {
            Java::Str(s) => Value::Int32(s.parse().map_err(|_| out_of_range(s))?),
            j => Value::Int32(as_int(j).ok_or_else(unexpected)?),
        },
        SchemaType::Int64 => match &java {
            Java::Str(s) => Value::Int64(s.parse().map_err(|_| out_of_range(s))?),
            j => Value::Int64(as_long(j).ok_or_else(unexpected)?),
        },
        SchemaType::Float32 => Value::Float32(match &java {
            Java::Str(s) => s.trim().parse().map_err(|_| out_of_range(s))?,
            Java::Float(f, _) => *f as f32,
            Java::Decimal(n, scale) => decimal_to_f64(*n, *scale) as f32,
            j => as_long(j).ok_or_else(unexpected)? as f32,
        }),
        SchemaType::Float64 => Value::Float64(match &java {
            Java::Str(s) => s.trim().parse().map_err(|_| out_of_range(s))?,
            Java::Float(f, _) => *f,
            Java::Decimal(n, scale) => decimal_to_f64(*n, *scale),
            j => as_long(j).ok_or_else(unexpected)? as f64,
        }),
        SchemaType::Boolean => Value::Boolean(match &java {
            Java::Str(s) => s.eq_ignore_ascii_case("true"),
            Java::Bool(b) => *b,
            j => as_long(j).ok_or_else(unexpected)? != 0,
        }),
        SchemaType::String => Value::String(match java {
            Java::Long(n) => n.to_string(),
            Java::Float(f, true) => java_float_to_string(f as f32),
            Java::Float(f, false) => java_double_to_string(f),
            Java::Decimal(n, scale) => decimal_to_string(n, scale),
            Java::Bool(b) => b.to_string(),
            Java::Str(s) => s,
            Java::Bytes(b) => BASE64.encode(b),
            Java::Date(ms) => iso_format_for(ms),
        }),
        other => return Err(format!("{} is not supported in the Cast transformation.", upper(other))),
    })
}

/// The integer part of a decimal, truncated toward zero.
fn integer_part(unscaled: i128, scale: i32) -> i128 {
    if scale <= 0 {
        return unscaled.saturating_mul(10i128.saturating_pow(scale.unsigned_abs()));
    }
    unscaled / 10i128.saturating_pow(scale as u32)
}

/// Kafka's `Values.dateFormatFor`: a time of day before the first day's end, a date at midnight, else a
/// timestamp; always ISO-8601 in UTC.
fn iso_format_for(millis: i64) -> String {
    let pattern = if millis < 86_400_000 {
        "HH:mm:ss.SSS'Z'"
    } else if millis % 86_400_000 == 0 {
        "yyyy-MM-dd"
    } else {
        "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
    };
    DateFormat::compile(pattern).map(|f| f.format(millis)).unwrap_or_default()
}
