//! `org.apache.kafka.connect.transforms.DropHeaders`: removes every header whose key is in `headers`.

use std::collections::BTreeSet;

use super::settings::Settings;
use super::Transform;
use crate::error::ConnectError;
use crate::record::ConnectRecord;

pub(super) fn build(s: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    let headers = s.required_list("headers")?;
    Ok(Box::new(DropHeaders { headers: headers.into_iter().collect() }))
}

struct DropHeaders {
    headers: BTreeSet<String>,
}

impl Transform for DropHeaders {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        record.headers.retain(|h| !self.headers.contains(&h.key));
        Ok(Some(record))
    }
}
