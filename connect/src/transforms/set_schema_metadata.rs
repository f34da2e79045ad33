//! `org.apache.kafka.connect.transforms.SetSchemaMetadata$Key` / `$Value`: sets the key or value schema's
//! name (`schema.name`) and/or version (`schema.version`); a struct value is rebuilt on the new schema.

use super::settings::Settings;
use super::util::{fail, field_value, make_struct, Side};
use super::Transform;
use crate::data::Value;
use crate::error::ConnectError;
use crate::record::ConnectRecord;

pub(super) fn build(side: Side, s: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    let schema_name = s.get("schema.name").map(str::to_string);
    let version = s.int("schema.version")?;
    if schema_name.is_none() && version.is_none() {
        return Err(s.error("schema.name", "Neither schema name nor version configured"));
    }
    let replace_null_with_default = s.bool_or("replace.null.with.default", true)?;
    Ok(Box::new(SetSchemaMetadata {
        name: format!("SetSchemaMetadata${}", side.class_suffix()),
        side,
        schema_name,
        version,
        replace_null_with_default,
    }))
}

struct SetSchemaMetadata {
    name: String,
    side: Side,
    schema_name: Option<String>,
    version: Option<i32>,
    replace_null_with_default: bool,
}

impl Transform for SetSchemaMetadata {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        let (schema, value) = self.side.take(&mut record);
        let Some(schema) = schema else {
            return Err(fail(&self.name, "Schema required for [updating schema metadata]; this record has no schema"));
        };
        let mut updated = (*schema).clone();
        if let Some(n) = &self.schema_name {
            updated.name = Some(n.clone());
        }
        if let Some(v) = self.version {
            updated.version = Some(v);
        }
        let updated = updated.shared();
        let value = match value {
            Value::Struct(s) => {
                let values =
                    s.schema.fields.iter().map(|f| field_value(&s, f, self.replace_null_with_default)).collect();
                make_struct(updated.clone(), values)
            }
            other => other,
        };
        self.side.put(&mut record, Some(updated), value);
        Ok(Some(record))
    }
}
