//! `org.apache.kafka.connect.transforms.TimestampConverter$Key` / `$Value`: converts a timestamp field (`field`)
//! or the whole key or value between `string` (with `format`, a `SimpleDateFormat` pattern, in UTC), `unix`
//! (int64 in `unix.precision` units), and Connect's `Date`, `Time` and `Timestamp` logical types.
//!
//! Without a schema the input kind is inferred from the value: an int64 is unix time, a string is parsed with
//! `format`. Kafka's schemaless Date/Time/Timestamp output is a `java.util.Date`; here it is the logical type's
//! own encoding (days as int32, milliseconds of day as int32, epoch milliseconds as int64).

use std::sync::Arc;

use super::date_format::DateFormat;
use super::settings::Settings;
use super::util::{
    fail, field_value, logical_schema, make_struct, map_get, map_put, require_map, struct_like, type_name, SchemaCache,
    Side,
};
use super::Transform;
use crate::data::{Schema, SchemaType, Struct, Value, DATE, TIME, TIMESTAMP};
use crate::error::ConnectError;
use crate::record::ConnectRecord;

const DAY_MS: i64 = 86_400_000;
const PURPOSE: &str = "converting timestamp formats";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    Seconds,
    Millis,
    Micros,
    Nanos,
}

pub(super) fn build(side: Side, s: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    let field = s.string_or("field", "");
    let target = match s.one_of("target.type", None, &["string", "unix", "Date", "Time", "Timestamp"])?.as_str() {
        "string" => Kind::String,
        "unix" => Kind::Unix,
        "Date" => Kind::Date,
        "Time" => Kind::Time,
        _ => Kind::Timestamp,
    };
    let pattern = s.string_or("format", "");
    if target == Kind::String && pattern.trim().is_empty() {
        return Err(s.error(
            "format",
            "TimestampConverter requires format option to be specified when using string timestamps",
        ));
    }
    let format = if pattern.trim().is_empty() {
        None
    } else {
        Some(DateFormat::compile(&pattern).map_err(|e| {
            s.error("format", format!("TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: {pattern} ({e})"))
        })?)
    };
    let precision = match s
        .one_of("unix.precision", Some("milliseconds"), &["nanoseconds", "microseconds", "milliseconds", "seconds"])?
        .as_str()
    {
        "seconds" => Precision::Seconds,
        "microseconds" => Precision::Micros,
        "nanoseconds" => Precision::Nanos,
        _ => Precision::Millis,
    };
    let replace_null_with_default = s.bool_or("replace.null.with.default", true)?;
    Ok(Box::new(TimestampConverter {
        name: format!("TimestampConverter${}", side.class_suffix()),
        side,
        field,
        target,
        format,
        precision,
        replace_null_with_default,
        cache: SchemaCache::default(),
    }))
}

struct TimestampConverter {
    name: String,
    side: Side,
    field: String,
    target: Kind,
    format: Option<DateFormat>,
    precision: Precision,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl Transform for TimestampConverter {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        let (schema, value) = self.side.take(&mut record);
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

impl TimestampConverter {
    fn err(&self, message: impl Into<String>) -> ConnectError {
        fail(&self.name, message)
    }

    fn schemaless(&self, value: Value) -> Result<Value, ConnectError> {
        if value.is_null() || self.field.is_empty() {
            return self.convert(&value, None);
        }
        let mut entries = require_map(&self.name, &value, PURPOSE)?.clone();
        let original = map_get(&entries, &self.field).cloned().unwrap_or(Value::Null);
        let converted = self.convert(&original, None)?;
        map_put(&mut entries, &self.field, converted);
        Ok(Value::Map(entries))
    }

    fn with_schema(&self, schema: &Arc<Schema>, value: Value) -> Result<(Arc<Schema>, Value), ConnectError> {
        if self.field.is_empty() {
            let kind = self.kind_of_schema(schema)?;
            let converted = self.convert(&value, Some(kind))?;
            return Ok((self.target_schema(schema.optional), converted));
        }
        let value = match value {
            Value::Null => None,
            Value::Struct(s) => Some(s),
            other => {
                return Err(
                    self.err(format!("Only Struct objects supported for [{PURPOSE}], found: {}", type_name(&other)))
                )
            }
        };
        let updated = self.cache.get_or_build(schema, || {
            let fields = schema
                .fields
                .iter()
                .map(|f| {
                    let s = if f.name == self.field { self.target_schema(f.schema.optional) } else { f.schema.clone() };
                    (f.name.clone(), s)
                })
                .collect();
            let mut updated = struct_like(schema, fields);
            updated.optional = schema.optional;
            let shared = updated.clone().shared();
            if let Some(Value::Struct(default)) = &schema.default_value {
                updated.default_value = Some(self.convert_struct(default, &shared)?);
            }
            Ok(updated.shared())
        })?;
        let converted = match value {
            None => Value::Null,
            Some(s) => self.convert_struct(&s, &updated)?,
        };
        Ok((updated, converted))
    }

    fn convert_struct(&self, value: &Struct, updated: &Arc<Schema>) -> Result<Value, ConnectError> {
        let mut values = Vec::with_capacity(value.schema.fields.len());
        for f in &value.schema.fields {
            let v = field_value(value, f, self.replace_null_with_default);
            values.push(if f.name == self.field {
                self.convert(&v, Some(self.kind_of_schema(&f.schema)?))?
            } else {
                v
            });
        }
        Ok(make_struct(updated.clone(), values))
    }

    /// What an input with this schema holds, as Kafka decides it from the schema.
    fn kind_of_schema(&self, schema: &Schema) -> Result<Kind, ConnectError> {
        Ok(match (schema.name.as_deref(), schema.schema_type) {
            (Some(TIMESTAMP), _) => Kind::Timestamp,
            (Some(DATE), _) => Kind::Date,
            (Some(TIME), _) => Kind::Time,
            (_, SchemaType::String) => Kind::String,
            (_, SchemaType::Int64) => Kind::Unix,
            (name, t) => {
                return Err(self.err(format!(
                    "Schema {}{} does not correspond to a known timestamp type format",
                    t.name(),
                    name.map(|n| format!(" ({n})")).unwrap_or_default()
                )))
            }
        })
    }

    fn target_schema(&self, optional: bool) -> Arc<Schema> {
        let s = match self.target {
            Kind::String => Schema::primitive(SchemaType::String),
            Kind::Unix => Schema::primitive(SchemaType::Int64),
            Kind::Date => logical_schema(SchemaType::Int32, DATE),
            Kind::Time => logical_schema(SchemaType::Int32, TIME),
            Kind::Timestamp => logical_schema(SchemaType::Int64, TIMESTAMP),
        };
        if optional { s.optional() } else { s }.shared()
    }

    /// Converts one timestamp (`kind` is `None` when it must be inferred from the value).
    fn convert(&self, value: &Value, kind: Option<Kind>) -> Result<Value, ConnectError> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let kind = match kind {
            Some(k) => k,
            None => match value {
                Value::Int64(_) => Kind::Unix,
                Value::String(_) => Kind::String,
                other => {
                    return Err(self
                        .err(format!("TimestampConverter does not support {} values as timestamps", type_name(other))))
                }
            },
        };
        let millis = self.to_millis(value, kind)?;
        Ok(self.target_value(millis))
    }

    fn to_millis(&self, value: &Value, kind: Kind) -> Result<i64, ConnectError> {
        match (kind, value) {
            (Kind::String, Value::String(s)) => {
                let format = self
                    .format
                    .as_ref()
                    .ok_or_else(|| self.err("a string timestamp needs the format setting to parse it"))?;
                format.parse(s).map_err(|_| {
                    self.err(format!(
                        "Could not parse timestamp: value ({s}) does not match pattern ({})",
                        format.pattern()
                    ))
                })
            }
            (Kind::Unix, Value::Int64(n)) => Ok(match self.precision {
                Precision::Seconds => n.saturating_mul(1000),
                Precision::Millis => *n,
                Precision::Micros => n / 1000,
                Precision::Nanos => n / 1_000_000,
            }),
            (Kind::Date, Value::Int32(days)) => Ok(i64::from(*days) * DAY_MS),
            (Kind::Time, Value::Int32(ms)) => Ok(i64::from(*ms)),
            (Kind::Timestamp, Value::Int64(ms)) => Ok(*ms),
            (kind, other) => Err(self.err(format!("Expected a {kind:?} timestamp, but found {}", type_name(other)))),
        }
    }

    fn target_value(&self, millis: i64) -> Value {
        match self.target {
            Kind::String => Value::String(self.format.as_ref().map(|f| f.format(millis)).unwrap_or_default()),
            Kind::Unix => Value::Int64(match self.precision {
                Precision::Seconds => millis / 1000,
                Precision::Millis => millis,
                Precision::Micros => millis.saturating_mul(1000),
                Precision::Nanos => millis.saturating_mul(1_000_000),
            }),
            Kind::Date => Value::Int32(millis.div_euclid(DAY_MS) as i32),
            Kind::Time => Value::Int32(millis.rem_euclid(DAY_MS) as i32),
            Kind::Timestamp => Value::Int64(millis),
        }
    }
}
