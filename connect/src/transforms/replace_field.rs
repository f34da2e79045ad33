//! `org.apache.kafka.connect.transforms.ReplaceField$Key` / `$Value`: keeps only `include` fields (all when
//! empty), drops `exclude` fields (which wins), and renames with `renames=old:new,...`. The older names
//! `whitelist` and `blacklist` still work. Null keys and values pass through.

use std::sync::Arc;

use super::settings::Settings;
use super::util::{
    check_unique_fields, field_value, make_struct, require_map, require_struct, struct_like, SchemaCache, Side,
};
use super::Transform;
use crate::data::{Schema, Value};
use crate::error::ConnectError;
use crate::record::ConnectRecord;

const PURPOSE: &str = "field replacement";

pub(super) fn build(side: Side, s: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    // The deprecated names count only when the new ones are not set, as Kafka's translation does.
    let exclude = if s.get("exclude").is_some() { s.list("exclude") } else { s.list("blacklist") };
    let include = if s.get("include").is_some() { s.list("include") } else { s.list("whitelist") };
    let _ = (s.get("blacklist"), s.get("whitelist"));
    let mut renames = Vec::new();
    for mapping in s.list("renames") {
        let parts: Vec<&str> = mapping.split(':').collect();
        match parts.as_slice() {
            [from, to] if !from.is_empty() && !to.is_empty() => {
                renames.retain(|(f, _): &(String, String)| f != from);
                renames.push((from.to_string(), to.to_string()));
            }
            _ => return Err(s.error("renames", format!("Invalid rename mapping: {mapping}; expected old:new"))),
        }
    }
    let replace_null_with_default = s.bool_or("replace.null.with.default", true)?;
    Ok(Box::new(ReplaceField {
        name: format!("ReplaceField${}", side.class_suffix()),
        side,
        exclude,
        include,
        renames,
        replace_null_with_default,
        cache: SchemaCache::default(),
    }))
}

struct ReplaceField {
    name: String,
    side: Side,
    exclude: Vec<String>,
    include: Vec<String>,
    renames: Vec<(String, String)>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl ReplaceField {
    fn keep(&self, field: &str) -> bool {
        !self.exclude.iter().any(|f| f == field) && (self.include.is_empty() || self.include.iter().any(|f| f == field))
    }

    fn renamed<'a>(&'a self, field: &'a str) -> &'a str {
        self.renames.iter().find(|(from, _)| from == field).map(|(_, to)| to.as_str()).unwrap_or(field)
    }
}

impl Transform for ReplaceField {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        if self.side.value(&record).is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = self.side.take(&mut record);
        match schema {
            None => {
                let entries = require_map(&self.name, &value, PURPOSE)?;
                let mut out: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    match k.as_str() {
                        Some(key) if !self.keep(key) => {}
                        Some(key) => {
                            let new_key = self.renamed(key);
                            out.retain(|(k, _)| k.as_str() != Some(new_key));
                            out.push((Value::String(new_key.to_string()), v.clone()));
                        }
                        None => out.push((k.clone(), v.clone())),
                    }
                }
                self.side.put(&mut record, None, Value::Map(out));
            }
            Some(schema) => {
                let value = require_struct(&self.name, &value, PURPOSE)?;
                let source = value.schema.clone();
                let updated: Arc<Schema> = self.cache.get_or_build(&source, || {
                    let fields: Vec<_> = source
                        .fields
                        .iter()
                        .filter(|f| self.keep(&f.name))
                        .map(|f| (self.renamed(&f.name).to_string(), f.schema.clone()))
                        .collect();
                    check_unique_fields(&self.name, &fields)?;
                    let mut s = struct_like(&schema, fields);
                    s.optional = schema.optional;
                    Ok(s.shared())
                })?;
                let values = source
                    .fields
                    .iter()
                    .filter(|f| self.keep(&f.name))
                    .map(|f| field_value(value, f, self.replace_null_with_default))
                    .collect();
                self.side.put(&mut record, Some(updated.clone()), make_struct(updated, values));
            }
        }
        Ok(Some(record))
    }
}
