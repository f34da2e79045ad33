//! `org.apache.kafka.connect.transforms.ValueToKey`: replaces the key with a struct (with a schema) or map
//! (without) of the value's `fields`.

use std::sync::Arc;

use super::settings::Settings;
use super::util::{fail, field_value, make_struct, map_get, require_map, require_struct, SchemaCache};
use super::Transform;
use crate::data::{Schema, Value};
use crate::error::ConnectError;
use crate::record::ConnectRecord;

const NAME: &str = "ValueToKey";
const PURPOSE: &str = "copying fields from value to key";

pub(super) fn build(s: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    let fields = s.required_list("fields")?;
    for (i, f) in fields.iter().enumerate() {
        if fields[..i].contains(f) {
            return Err(s.error("fields", format!("Values must not be duplicated: {f}")));
        }
        if f.is_empty() {
            return Err(s.error("fields", "Values must not be empty"));
        }
    }
    let replace_null_with_default = s.bool_or("replace.null.with.default", true)?;
    Ok(Box::new(ValueToKey { fields, replace_null_with_default, cache: SchemaCache::default() }))
}

struct ValueToKey {
    fields: Vec<String>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl Transform for ValueToKey {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        match &record.value_schema {
            None => {
                let entries = require_map(NAME, &record.value, PURPOSE)?;
                let key = self
                    .fields
                    .iter()
                    .map(|f| (Value::String(f.clone()), map_get(entries, f).cloned().unwrap_or(Value::Null)))
                    .collect();
                record.key_schema = None;
                record.key = Value::Map(key);
            }
            Some(_) => {
                let value = require_struct(NAME, &record.value, PURPOSE)?;
                let source = value.schema.clone();
                let key_schema: Arc<Schema> = self.cache.get_or_build(&source, || {
                    let mut fields = Vec::with_capacity(self.fields.len());
                    for f in &self.fields {
                        let field = source.field(f).ok_or_else(|| fail(NAME, format!("Field does not exist: {f}")))?;
                        fields.push((f.clone(), field.schema.clone()));
                    }
                    Ok(Schema::structure(fields).shared())
                })?;
                let mut values = Vec::with_capacity(self.fields.len());
                for f in &self.fields {
                    let field = source.field(f).ok_or_else(|| fail(NAME, format!("Field does not exist: {f}")))?;
                    values.push(field_value(value, field, self.replace_null_with_default));
                }
                record.key = make_struct(key_schema.clone(), values);
                record.key_schema = Some(key_schema);
            }
        }
        Ok(Some(record))
    }
}
