//! `org.apache.kafka.connect.transforms.TimestampRouter`: renames the topic to `topic.format` with `${topic}`
//! and `${timestamp}` (the record timestamp formatted with `timestamp.format`, in UTC) filled in.

use super::date_format::DateFormat;
use super::settings::Settings;
use super::util::fail;
use super::Transform;
use crate::error::ConnectError;
use crate::record::ConnectRecord;

const NAME: &str = "TimestampRouter";

pub(super) fn build(s: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    let topic_format = s.string_or("topic.format", "${topic}-${timestamp}");
    let pattern = s.string_or("timestamp.format", "yyyyMMdd");
    let format = DateFormat::compile(&pattern).map_err(|e| s.error("timestamp.format", e))?;
    Ok(Box::new(TimestampRouter { topic_format, format }))
}

struct TimestampRouter {
    topic_format: String,
    format: DateFormat,
}

impl Transform for TimestampRouter {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        let Some(timestamp) = record.timestamp else {
            return Err(fail(NAME, format!("Timestamp missing on record in topic {}", record.topic)));
        };
        let formatted = self.format.format(timestamp);
        record.topic = self.topic_format.replace("${topic}", &record.topic).replace("${timestamp}", &formatted);
        Ok(Some(record))
    }
}
