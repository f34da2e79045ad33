//! `org.apache.kafka.connect.transforms.HeaderFrom$Key` / `$Value`: copies or moves (`operation`) the fields
//! named in `fields` into headers named in `headers` (same order), with the field's schema when there is one.

use std::sync::Arc;

use super::settings::Settings;
use super::util::{
    fail, field_value, make_struct, map_get, map_remove, require_map, require_struct, struct_like, SchemaCache, Side,
};
use super::Transform;
use crate::data::{Schema, Value};
use crate::error::ConnectError;
use crate::record::{ConnectRecord, Header};

pub(super) fn build(side: Side, s: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    let fields = s.required_list("fields")?;
    let headers = s.required_list("headers")?;
    if fields.len() != headers.len() {
        return Err(s.error("headers", "'fields' config must have the same number of elements as 'headers' config."));
    }
    let operation = s.one_of("operation", None, &["move", "copy"])?;
    let replace_null_with_default = s.bool_or("replace.null.with.default", true)?;
    Ok(Box::new(HeaderFrom {
        name: format!("HeaderFrom${}", side.class_suffix()),
        side,
        fields,
        headers,
        is_move: operation == "move",
        replace_null_with_default,
        cache: SchemaCache::default(),
    }))
}

struct HeaderFrom {
    name: String,
    side: Side,
    fields: Vec<String>,
    headers: Vec<String>,
    is_move: bool,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl Transform for HeaderFrom {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        let purpose = if self.is_move { "header move" } else { "header copy" };
        let (schema, value) = self.side.take(&mut record);
        match schema {
            None => {
                let mut entries = require_map(&self.name, &value, purpose)?.clone();
                for (field, header) in self.fields.iter().zip(&self.headers) {
                    let v = map_get(&entries, field).cloned().unwrap_or(Value::Null);
                    record.headers.push(Header { key: header.clone(), schema: None, value: v });
                }
                if self.is_move {
                    for field in &self.fields {
                        map_remove(&mut entries, field);
                    }
                }
                self.side.put(&mut record, None, Value::Map(entries));
            }
            Some(schema) => {
                let value = require_struct(&self.name, &value, purpose)?;
                for (field, header) in self.fields.iter().zip(&self.headers) {
                    let f = schema.field(field).ok_or_else(|| {
                        fail(
                            &self.name,
                            format!("field {field} is not in the schema, so it cannot become header {header}"),
                        )
                    })?;
                    let v = value.schema.field(field).map(|vf| field_value(value, vf, self.replace_null_with_default));
                    record.headers.push(Header {
                        key: header.clone(),
                        schema: Some(f.schema.clone()),
                        value: v.unwrap_or(Value::Null),
                    });
                }
                if self.is_move {
                    let updated: Arc<Schema> = self.cache.get_or_build(&schema, || {
                        let kept = schema
                            .fields
                            .iter()
                            .filter(|f| !self.fields.contains(&f.name))
                            .map(|f| (f.name.clone(), f.schema.clone()))
                            .collect();
                        let mut s = struct_like(&schema, kept);
                        s.optional = schema.optional;
                        Ok(s.shared())
                    })?;
                    let values = updated
                        .fields
                        .iter()
                        .map(|f| {
                            value
                                .schema
                                .field(&f.name)
                                .map(|vf| field_value(value, vf, self.replace_null_with_default))
                                .unwrap_or(Value::Null)
                        })
                        .collect();
                    self.side.put(&mut record, Some(updated.clone()), make_struct(updated, values));
                } else {
                    let kept = Value::Struct(value.clone());
                    self.side.put(&mut record, Some(schema), kept);
                }
            }
        }
        Ok(Some(record))
    }
}
