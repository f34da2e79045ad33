//! `org.apache.kafka.connect.transforms.InsertField$Key` / `$Value`: adds fields holding the record's topic,
//! partition, offset (sink records only), timestamp, or a static string. A field name ending in `!` is
//! required, in `?` (the default) optional. Null keys and values pass through.

use std::sync::Arc;

use super::settings::Settings;
use super::util::{
    check_unique_fields, fail, field_value, logical_schema, make_struct, map_put, struct_like, type_name, SchemaCache,
    Side,
};
use super::Transform;
use crate::data::{Schema, SchemaType, Value, TIMESTAMP};
use crate::error::ConnectError;
use crate::record::ConnectRecord;

pub(super) fn build(side: Side, s: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    let spec = |key: &str| s.get(key).map(InsertionSpec::parse);
    let t = InsertField {
        name: format!("InsertField${}", side.class_suffix()),
        side,
        topic: spec("topic.field"),
        partition: spec("partition.field"),
        offset: spec("offset.field"),
        timestamp: spec("timestamp.field"),
        static_field: spec("static.field"),
        static_value: s.get("static.value").map(str::to_string),
        replace_null_with_default: s.bool_or("replace.null.with.default", true)?,
        cache: SchemaCache::default(),
    };
    Ok(Box::new(t))
}

/// A field to insert: its name and whether it may be null.
#[derive(Debug, Clone)]
struct InsertionSpec {
    name: String,
    optional: bool,
}

impl InsertionSpec {
    fn parse(spec: &str) -> InsertionSpec {
        if let Some(name) = spec.strip_suffix('?') {
            InsertionSpec { name: name.to_string(), optional: true }
        } else if let Some(name) = spec.strip_suffix('!') {
            InsertionSpec { name: name.to_string(), optional: false }
        } else {
            InsertionSpec { name: spec.to_string(), optional: true }
        }
    }
}

struct InsertField {
    name: String,
    side: Side,
    topic: Option<InsertionSpec>,
    partition: Option<InsertionSpec>,
    offset: Option<InsertionSpec>,
    timestamp: Option<InsertionSpec>,
    static_field: Option<InsertionSpec>,
    static_value: Option<String>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl Transform for InsertField {
    fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        self.apply_with_offset(record, None)
    }

    fn apply_with_offset(
        &self,
        mut record: ConnectRecord,
        offset: Option<i64>,
    ) -> Result<Option<ConnectRecord>, ConnectError> {
        if self.side.value(&record).is_null() {
            return Ok(Some(record));
        }
        let inserts = self.inserts(&record, offset)?;
        let (schema, value) = self.side.take(&mut record);
        match schema {
            None => {
                let Value::Map(mut entries) = value else {
                    return Err(fail(
                        &self.name,
                        format!(
                            "Only Map objects supported in absence of schema for [field insertion], found: {}",
                            type_name(&value)
                        ),
                    ));
                };
                for (spec, _, v) in &inserts {
                    // Kafka leaves out a partition, timestamp or static value the record or config does not have.
                    if !v.is_null() {
                        map_put(&mut entries, &spec.name, v.clone());
                    }
                }
                self.side.put(&mut record, None, Value::Map(entries));
            }
            Some(schema) => {
                let Value::Struct(value) = value else {
                    return Err(fail(
                        &self.name,
                        format!("Only Struct objects supported for [field insertion], found: {}", type_name(&value)),
                    ));
                };
                let updated: Arc<Schema> = self.cache.get_or_build(&schema, || {
                    let mut fields: Vec<(String, Arc<Schema>)> =
                        schema.fields.iter().map(|f| (f.name.clone(), f.schema.clone())).collect();
                    fields.extend(inserts.iter().map(|(spec, s, _)| (spec.name.clone(), s.clone())));
                    check_unique_fields(&self.name, &fields)?;
                    let mut s = struct_like(&schema, fields);
                    s.optional = schema.optional;
                    Ok(s.shared())
                })?;
                let mut values: Vec<Value> = value
                    .schema
                    .fields
                    .iter()
                    .map(|f| field_value(&value, f, self.replace_null_with_default))
                    .collect();
                for (spec, field_schema, v) in inserts {
                    if v.is_null() && !field_schema.optional {
                        return Err(fail(
                            &self.name,
                            format!("Invalid value: null used for required field: \"{}\"", spec.name),
                        ));
                    }
                    values.push(v);
                }
                self.side.put(&mut record, Some(updated.clone()), make_struct(updated, values));
            }
        }
        Ok(Some(record))
    }
}

impl InsertField {
    /// The fields to add, in Kafka's order (topic, partition, offset, timestamp, static), with their schemas
    /// and values for this record.
    fn inserts(
        &self,
        record: &ConnectRecord,
        offset: Option<i64>,
    ) -> Result<Vec<(InsertionSpec, Arc<Schema>, Value)>, ConnectError> {
        let schema = |t: SchemaType, optional: bool| {
            let s = Schema::primitive(t);
            if optional {
                s.optional()
            } else {
                s
            }
        };
        let mut out = Vec::new();
        if let Some(spec) = &self.topic {
            out.push((
                spec.clone(),
                schema(SchemaType::String, spec.optional).shared(),
                Value::String(record.topic.clone()),
            ));
        }
        if let Some(spec) = &self.partition {
            let v = record.kafka_partition.map(Value::Int32).unwrap_or(Value::Null);
            out.push((spec.clone(), schema(SchemaType::Int32, spec.optional).shared(), v));
        }
        if let Some(spec) = &self.offset {
            let Some(offset) = offset else {
                return Err(fail(
                    &self.name,
                    "Offset insertion is only supported for sink connectors, and this record did not come from Kafka",
                ));
            };
            out.push((spec.clone(), schema(SchemaType::Int64, spec.optional).shared(), Value::Int64(offset)));
        }
        if let Some(spec) = &self.timestamp {
            let v = record.timestamp.map(Value::Int64).unwrap_or(Value::Null);
            out.push((
                spec.clone(),
                {
                    let s = logical_schema(SchemaType::Int64, TIMESTAMP);
                    if spec.optional {
                        s.optional()
                    } else {
                        s
                    }
                }
                .shared(),
                v,
            ));
        }
        if let Some(spec) = &self.static_field {
            let v = self.static_value.clone().map(Value::String).unwrap_or(Value::Null);
            out.push((spec.clone(), schema(SchemaType::String, spec.optional).shared(), v));
        }
        Ok(out)
    }
}
