//! `org.apache.kafka.connect.transforms.ExtractField$Key` / `$Value`: replaces the key or value with one of
//! its fields (`field`; with `field.syntax.version=V2` a dotted path into nested structs or maps, backticks
//! quoting names that contain dots). Null keys and values pass through.

use std::sync::Arc;

use super::settings::Settings;
use super::util::{fail, field_value, map_get, require_map, require_struct, type_name, Side};
use super::Transform;
use crate::data::{Schema, SchemaType, Value};
use crate::error::ConnectError;
use crate::record::ConnectRecord;

const PURPOSE: &str = "field extraction";
static NULL: Value = Value::Null;

pub(super) fn build(side: Side, s: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    let field = s.required("field")?;
    let version = s.string_or("field.syntax.version", "V1");
    let path = match version.to_ascii_uppercase().as_str() {
        "V1" => vec![field.clone()],
        "V2" => parse_path(&field).map_err(|e| s.error("field", e))?,
        _ => {
            return Err(
                s.error("field.syntax.version", format!("Unrecognized field syntax version {version}; use V1 or V2"))
            )
        }
    };
    let replace_null_with_default = s.bool_or("replace.null.with.default", true)?;
    Ok(Box::new(ExtractField {
        name: format!("ExtractField${}", side.class_suffix()),
        side,
        field,
        path,
        replace_null_with_default,
    }))
}

/// Splits a V2 path on dots; a name wrapped in backticks may contain dots.
fn parse_path(path: &str) -> Result<Vec<String>, String> {
    let mut steps = Vec::new();
    let mut rest = path;
    loop {
        if let Some(quoted) = rest.strip_prefix('`') {
            // The closing backtick is the one followed by a dot or the end.
            let end = quoted
                .match_indices('`')
                .map(|(i, _)| i)
                .find(|&i| quoted[i + 1..].is_empty() || quoted[i + 1..].starts_with('.'));
            match end {
                Some(i) => {
                    steps.push(quoted[..i].to_string());
                    rest = &quoted[i + 1..];
                }
                None => return Err(format!("unbalanced backtick in field path {path:?}")),
            }
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            steps.push(rest[..end].to_string());
            rest = &rest[end..];
        }
        match rest.strip_prefix('.') {
            Some(next) => rest = next,
            None if rest.is_empty() => break,
            None => return Err(format!("expected a dot after a backtick-quoted name in {path:?}")),
        }
    }
    if steps.iter().any(String::is_empty) {
        return Err(format!("empty field name in path {path:?}"));
    }
    Ok(steps)
}

struct ExtractField {
    name: String,
    side: Side,
    field: String,
    path: Vec<String>,
    replace_null_with_default: bool,
}

impl Transform for ExtractField {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        let (schema, value) = self.side.take(&mut record);
        match schema {
            None => {
                let extracted = if value.is_null() {
                    Value::Null
                } else {
                    let mut current = &value;
                    for step in &self.path {
                        if current.is_null() {
                            break;
                        }
                        let entries = require_map(&self.name, current, PURPOSE)?;
                        current = map_get(entries, step).unwrap_or(&NULL);
                    }
                    current.clone()
                };
                self.side.put(&mut record, None, extracted);
            }
            Some(schema) => {
                if !value.is_null() {
                    require_struct(&self.name, &value, PURPOSE)?;
                }
                let field_schema = self.field_schema(&schema)?;
                let extracted = if value.is_null() { Value::Null } else { self.field_value(value)? };
                self.side.put(&mut record, Some(field_schema), extracted);
            }
        }
        Ok(Some(record))
    }
}

impl ExtractField {
    fn field_schema(&self, schema: &Arc<Schema>) -> Result<Arc<Schema>, ConnectError> {
        let mut current = schema;
        for step in &self.path {
            if current.schema_type != SchemaType::Struct {
                return Err(fail(&self.name, format!("Unknown field: {} (not a struct at {step})", self.field)));
            }
            match current.field(step) {
                Some(f) => current = &f.schema,
                None => return Err(fail(&self.name, format!("Unknown field: {}", self.field))),
            }
        }
        Ok(current.clone())
    }

    fn field_value(&self, value: Value) -> Result<Value, ConnectError> {
        let mut current = value;
        for step in &self.path {
            current = match &current {
                Value::Null => return Ok(Value::Null),
                Value::Struct(s) => match s.schema.field(step) {
                    Some(f) => field_value(s, f, self.replace_null_with_default),
                    None => return Err(fail(&self.name, format!("Unknown field: {}", self.field))),
                },
                other => {
                    return Err(fail(&self.name, format!("expected a struct at {step}, found {}", type_name(other))))
                }
            };
        }
        Ok(current)
    }
}
