//! Kafka's predicates (`org.apache.kafka.connect.transforms.predicates.*`): `TopicNameMatches` (`pattern`
//! matches the whole topic), `HasHeaderKey` (a header called `name` exists), `RecordIsTombstone` (null value).

use regex::Regex;

use super::regex_router::full_match_regex;
use super::settings::Settings;
use super::Predicate;
use crate::error::ConnectError;
use crate::record::ConnectRecord;

pub(super) fn build_topic_name_matches(s: &Settings) -> Result<Box<dyn Predicate>, ConnectError> {
    let pattern = s.required("pattern")?;
    if pattern.is_empty() {
        return Err(s.error("pattern", "String must be non-empty"));
    }
    let regex = full_match_regex(&pattern).map_err(|e| s.error("pattern", e))?;
    Ok(Box::new(TopicNameMatches { regex }))
}

pub(super) fn build_has_header_key(s: &Settings) -> Result<Box<dyn Predicate>, ConnectError> {
    let name = s.required("name")?;
    if name.is_empty() {
        return Err(s.error("name", "String must be non-empty"));
    }
    Ok(Box::new(HasHeaderKey { name }))
}

pub(super) fn build_record_is_tombstone(_s: &Settings) -> Result<Box<dyn Predicate>, ConnectError> {
    Ok(Box::new(RecordIsTombstone))
}

struct TopicNameMatches {
    regex: Regex,
}

impl Predicate for TopicNameMatches {
    fn test(&self, record: &ConnectRecord) -> bool {
        self.regex.is_match(&record.topic)
    }
}

struct HasHeaderKey {
    name: String,
}

impl Predicate for HasHeaderKey {
    fn test(&self, record: &ConnectRecord) -> bool {
        record.headers.iter().any(|h| h.key == self.name)
    }
}

struct RecordIsTombstone;

impl Predicate for RecordIsTombstone {
    fn test(&self, record: &ConnectRecord) -> bool {
        record.value.is_null()
    }
}
