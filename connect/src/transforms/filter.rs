//! `org.apache.kafka.connect.transforms.Filter`: drops every record; used with a predicate to drop some.

use super::settings::Settings;
use super::Transform;
use crate::error::ConnectError;
use crate::record::ConnectRecord;

pub(super) fn build(_settings: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    Ok(Box::new(Filter))
}

struct Filter;

impl Transform for Filter {
    fn apply(&self, _record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        Ok(None)
    }
}
