//! `org.apache.kafka.connect.transforms.Flatten$Key` / `$Value`: lifts fields of nested structs (with a
//! schema) or maps (without) to the top level, joining names with `delimiter` (default `.`). Arrays and, with a
//! schema, maps are kept as they are; fields of an optional struct become optional.

use std::sync::Arc;

use super::settings::Settings;
use super::util::{fail, make_struct, require_map, require_struct, struct_like, type_name, SchemaCache, Side};
use super::Transform;
use crate::data::{Schema, SchemaType, Struct, Value};
use crate::error::ConnectError;
use crate::record::ConnectRecord;

const PURPOSE: &str = "flattening";

pub(super) fn build(side: Side, s: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    let delimiter = s.string_or("delimiter", ".");
    Ok(Box::new(Flatten {
        name: format!("Flatten${}", side.class_suffix()),
        side,
        delimiter,
        cache: SchemaCache::default(),
    }))
}

struct Flatten {
    name: String,
    side: Side,
    delimiter: String,
    cache: SchemaCache,
}

impl Transform for Flatten {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        let (schema, value) = self.side.take(&mut record);
        match schema {
            None => {
                let flat = if value.is_null() {
                    Value::Null
                } else {
                    let entries = require_map(&self.name, &value, PURPOSE)?;
                    let mut out = Vec::new();
                    self.flatten_map(entries, "", &mut out)?;
                    Value::Map(out)
                };
                self.side.put(&mut record, None, flat);
            }
            Some(schema) => {
                if !value.is_null() {
                    require_struct(&self.name, &value, PURPOSE)?;
                }
                let updated = self.cache.get_or_build(&schema, || self.flat_schema(&schema))?;
                let flat = match &value {
                    Value::Struct(s) => {
                        let mut values = Vec::with_capacity(updated.fields.len());
                        flatten_struct(Some(s), &mut values);
                        make_struct(updated.clone(), values)
                    }
                    _ => Value::Null,
                };
                self.side.put(&mut record, Some(updated), flat);
            }
        }
        Ok(Some(record))
    }
}

impl Flatten {
    fn join(&self, prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}{}{name}", self.delimiter)
        }
    }

    fn flatten_map(
        &self,
        entries: &[(Value, Value)],
        prefix: &str,
        out: &mut Vec<(Value, Value)>,
    ) -> Result<(), ConnectError> {
        for (key, value) in entries {
            let key = match key {
                Value::String(k) => k.as_str(),
                other => {
                    return Err(fail(
                        &self.name,
                        format!("map keys must be strings to flatten, found {}", type_name(other)),
                    ))
                }
            };
            let name = self.join(prefix, key);
            match value {
                Value::Map(inner) => self.flatten_map(inner, &name, out)?,
                Value::Struct(_) => {
                    return Err(fail(
                        &self.name,
                        format!(
                        "Flatten transformation does not support struct for record without schemas (for field {name})."
                    ),
                    ))
                }
                other => {
                    out.retain(|(k, _)| k.as_str() != Some(&name));
                    out.push((Value::String(name), other.clone()));
                }
            }
        }
        Ok(())
    }

    fn flat_schema(&self, schema: &Schema) -> Result<Arc<Schema>, ConnectError> {
        if schema.schema_type != SchemaType::Struct {
            return Err(fail(
                &self.name,
                format!(
                    "Only Struct objects supported for [{PURPOSE}], found schema type {}",
                    schema.schema_type.name()
                ),
            ));
        }
        let default = match &schema.default_value {
            Some(Value::Struct(s)) => Some(s),
            _ => None,
        };
        let mut fields = Vec::new();
        self.flat_fields(schema, "", schema.optional, default, &mut fields);
        for (i, (name, _)) in fields.iter().enumerate() {
            if fields[..i].iter().any(|(n, _)| n == name) {
                return Err(fail(
                    &self.name,
                    format!("flattened field name {name} occurs twice; choose another delimiter"),
                ));
            }
        }
        let mut updated = struct_like(schema, fields);
        updated.optional = schema.optional;
        Ok(updated.shared())
    }

    fn flat_fields(
        &self,
        schema: &Schema,
        prefix: &str,
        optional: bool,
        parent_default: Option<&Struct>,
        out: &mut Vec<(String, Arc<Schema>)>,
    ) {
        for field in &schema.fields {
            let name = self.join(prefix, &field.name);
            let optional = optional || field.schema.optional;
            let default =
                field.schema.default_value.clone().or_else(|| {
                    parent_default.and_then(|d| d.values.get(field.index).cloned()).filter(|v| !v.is_null())
                });
            if field.schema.schema_type == SchemaType::Struct {
                let nested = match &default {
                    Some(Value::Struct(s)) => Some(s),
                    _ => None,
                };
                self.flat_fields(&field.schema, &name, optional, nested, out);
            } else {
                let mut s = (*field.schema).clone();
                s.optional = optional;
                s.default_value = default;
                out.push((name, s.shared()));
            }
        }
    }
}

/// The leaf values of a struct in schema order; a null nested struct gives nulls for all its leaves.
fn flatten_struct(value: Option<&Struct>, out: &mut Vec<Value>) {
    let Some(value) = value else { return };
    for field in &value.schema.fields {
        let v = value.values.get(field.index).unwrap_or(&Value::Null);
        if field.schema.schema_type == SchemaType::Struct {
            match v {
                Value::Struct(inner) => flatten_struct(Some(inner), out),
                _ => push_nulls(&field.schema, out),
            }
        } else {
            // Kafka reads fields with `Struct.get`, which gives a null field's default.
            out.push(if v.is_null() { field.schema.default_value.clone().unwrap_or(Value::Null) } else { v.clone() });
        }
    }
}

fn push_nulls(schema: &Schema, out: &mut Vec<Value>) {
    for field in &schema.fields {
        if field.schema.schema_type == SchemaType::Struct {
            push_nulls(&field.schema, out);
        } else {
            out.push(Value::Null);
        }
    }
}
