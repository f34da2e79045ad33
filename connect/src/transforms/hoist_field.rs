//! `org.apache.kafka.connect.transforms.HoistField$Key` / `$Value`: wraps the key or value in a struct (with a
//! schema) or a map (without) with one field called `field`.

use std::sync::Arc;

use super::settings::Settings;
use super::util::{make_struct, SchemaCache, Side};
use super::Transform;
use crate::data::{Schema, Value};
use crate::error::ConnectError;
use crate::record::ConnectRecord;

pub(super) fn build(side: Side, s: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    let field = s.required("field")?;
    Ok(Box::new(HoistField { side, field, cache: SchemaCache::default() }))
}

struct HoistField {
    side: Side,
    field: String,
    cache: SchemaCache,
}

impl Transform for HoistField {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        let (schema, value) = self.side.take(&mut record);
        match schema {
            None => self.side.put(&mut record, None, Value::Map(vec![(Value::String(self.field.clone()), value)])),
            Some(schema) => {
                let updated: Arc<Schema> = self.cache.get_or_build(&schema, || {
                    Ok(Schema::structure(vec![(self.field.clone(), schema.clone())]).shared())
                })?;
                self.side.put(&mut record, Some(updated.clone()), make_struct(updated, vec![value]));
            }
        }
        Ok(Some(record))
    }
}
