//! The records of the `_schemas` topic, in Confluent Schema Registry's own JSON layout, so a topic written by
//! either registry can be read by the other.
//!
//! Keys are JSON objects compared byte for byte by compaction, so [`RecordKey::to_bytes`] always writes the same
//! fields in the same order. Values are read leniently (unknown fields ignored, since newer Confluent versions add
//! fields) and written with only the fields Sluice uses. A null value is a tombstone: a permanently deleted schema
//! version, or a removed subject config or mode.

use serde::{Deserialize, Serialize};

use crate::types::{CompatibilityLevel, Mode, SchemaReference, SchemaType};

/// The key of one `_schemas` record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordKey {
    /// `{"keytype":"SCHEMA","subject":S,"version":V,"magic":1}`: one version of a subject.
    Schema { subject: String, version: i32 },
    /// `{"keytype":"CONFIG","subject":S|null,"magic":0}`: the compatibility config of a subject, or the global one.
    Config { subject: Option<String> },
    /// `{"keytype":"MODE","subject":S|null,"magic":0}`: the mode of a subject, or the global one.
    Mode { subject: Option<String> },
    /// `{"keytype":"DELETE_SUBJECT","subject":S,"magic":0}`: every version of a subject up to one was soft-deleted.
    DeleteSubject { subject: String },
    /// `{"keytype":"CLEAR_SUBJECT","subject":S,"magic":0}`: a subject's soft-deleted versions were removed.
    ClearSubject { subject: String },
    /// `{"keytype":"NOOP","magic":0}`: written by a new leader to learn the end of the topic.
    Noop,
}

/// The JSON shape of a key, for reading; writing goes through [`RecordKey::to_bytes`] to keep field order fixed.
#[derive(Debug, Deserialize)]
struct RawKey {
    keytype: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    version: Option<i32>,
}

impl RecordKey {
    /// The key's bytes, fields always in Confluent's order (`keytype`, `subject`, `version`, `magic`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let subject_json = |s: &Option<String>| match s {
            Some(s) => serde_json::to_string(s).expect("a string serializes"),
            None => "null".to_string(),
        };
        let text = match self {
            RecordKey::Schema { subject, version } => format!(
                r#"{{"keytype":"SCHEMA","subject":{},"version":{version},"magic":1}}"#,
                serde_json::to_string(subject).expect("a string serializes")
            ),
            RecordKey::Config { subject } => {
                format!(r#"{{"keytype":"CONFIG","subject":{},"magic":0}}"#, subject_json(subject))
            }
            RecordKey::Mode { subject } => {
                format!(r#"{{"keytype":"MODE","subject":{},"magic":0}}"#, subject_json(subject))
            }
            RecordKey::DeleteSubject { subject } => format!(
                r#"{{"keytype":"DELETE_SUBJECT","subject":{},"magic":0}}"#,
                serde_json::to_string(subject).expect("a string serializes")
            ),
            RecordKey::ClearSubject { subject } => format!(
                r#"{{"keytype":"CLEAR_SUBJECT","subject":{},"magic":0}}"#,
                serde_json::to_string(subject).expect("a string serializes")
            ),
            RecordKey::Noop => r#"{"keytype":"NOOP","magic":0}"#.to_string(),
        };
        text.into_bytes()
    }

    /// Parses a key. `Ok(None)` is a key type this registry does not know (written by a newer Confluent
    /// registry, say): the reader skips it rather than stopping.
    pub fn from_bytes(bytes: &[u8]) -> Result<Option<RecordKey>, serde_json::Error> {
        let raw: RawKey = serde_json::from_slice(bytes)?;
        let need_subject = |s: Option<String>| {
            s.ok_or_else(|| <serde_json::Error as serde::de::Error>::missing_field("subject"))
        };
        Ok(Some(match raw.keytype.as_str() {
            "SCHEMA" => RecordKey::Schema {
                subject: need_subject(raw.subject)?,
                version: raw
                    .version
                    .ok_or_else(|| <serde_json::Error as serde::de::Error>::missing_field("version"))?,
            },
            "CONFIG" => RecordKey::Config { subject: raw.subject },
            "MODE" => RecordKey::Mode { subject: raw.subject },
            "DELETE_SUBJECT" => RecordKey::DeleteSubject { subject: need_subject(raw.subject)? },
            "CLEAR_SUBJECT" => RecordKey::ClearSubject { subject: need_subject(raw.subject)? },
            "NOOP" => RecordKey::Noop,
            _ => return Ok(None),
        }))
    }
}

/// The value of a `SCHEMA` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaValue {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    /// Left out for Avro, as Confluent does.
    #[serde(default, skip_serializing_if = "SchemaType::is_avro")]
    pub schema_type: SchemaType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
    pub schema: String,
    /// A soft-deleted version: kept, with its id, but hidden unless a request asks for deleted ones.
    #[serde(default)]
    pub deleted: bool,
}

/// The value of a `CONFIG` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility_level: Option<CompatibilityLevel>,
    /// Whether registrations and lookups normalize schemas by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalize: Option<bool>,
}

/// The value of a `MODE` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeValue {
    pub mode: Mode,
}

/// The value of a `DELETE_SUBJECT` record: every version up to `version` is soft-deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteSubjectValue {
    pub subject: String,
    pub version: i32,
}

/// The value of a `CLEAR_SUBJECT` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearSubjectValue {
    pub subject: String,
}

/// A decoded record value, matching its key's type. `None` in a [`Record`] is a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordValue {
    Schema(SchemaValue),
    Config(ConfigValue),
    Mode(ModeValue),
    DeleteSubject(DeleteSubjectValue),
    ClearSubject(ClearSubjectValue),
    Noop,
}

impl RecordValue {
    /// The value's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let result = match self {
            RecordValue::Schema(v) => serde_json::to_vec(v),
            RecordValue::Config(v) => serde_json::to_vec(v),
            RecordValue::Mode(v) => serde_json::to_vec(v),
            RecordValue::DeleteSubject(v) => serde_json::to_vec(v),
            RecordValue::ClearSubject(v) => serde_json::to_vec(v),
            RecordValue::Noop => Ok(b"{}".to_vec()),
        };
        result.expect("record values serialize")
    }

    /// Parses the value of a record with this key.
    pub fn from_bytes(key: &RecordKey, bytes: &[u8]) -> Result<RecordValue, serde_json::Error> {
        Ok(match key {
            RecordKey::Schema { .. } => RecordValue::Schema(serde_json::from_slice(bytes)?),
            RecordKey::Config { .. } => RecordValue::Config(serde_json::from_slice(bytes)?),
            RecordKey::Mode { .. } => RecordValue::Mode(serde_json::from_slice(bytes)?),
            RecordKey::DeleteSubject { .. } => RecordValue::DeleteSubject(serde_json::from_slice(bytes)?),
            RecordKey::ClearSubject { .. } => RecordValue::ClearSubject(serde_json::from_slice(bytes)?),
            RecordKey::Noop => RecordValue::Noop,
        })
    }
}

/// One `_schemas` record: a key and a value, or a tombstone (`value: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: RecordKey,
    pub value: Option<RecordValue>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_confluent_field_order() {
        let key = RecordKey::Schema { subject: "orders-value".into(), version: 3 };
        assert_eq!(
            String::from_utf8(key.to_bytes()).unwrap(),
            r#"{"keytype":"SCHEMA","subject":"orders-value","version":3,"magic":1}"#
        );
        assert_eq!(
            String::from_utf8(RecordKey::Config { subject: None }.to_bytes()).unwrap(),
            r#"{"keytype":"CONFIG","subject":null,"magic":0}"#
        );
    }

    #[test]
    fn keys_round_trip_and_unknown_types_are_skipped() {
        for key in [
            RecordKey::Schema { subject: "a\"b".into(), version: 1 },
            RecordKey::Config { subject: Some("s".into()) },
            RecordKey::Config { subject: None },
            RecordKey::Mode { subject: None },
            RecordKey::DeleteSubject { subject: "s".into() },
            RecordKey::ClearSubject { subject: "s".into() },
            RecordKey::Noop,
        ] {
            assert_eq!(RecordKey::from_bytes(&key.to_bytes()).unwrap(), Some(key));
        }
        assert_eq!(RecordKey::from_bytes(br#"{"keytype":"CONTEXT","magic":0}"#).unwrap(), None);
        assert!(RecordKey::from_bytes(b"not json").is_err());
    }

    #[test]
    fn schema_values_read_confluent_layout() {
        let text = r#"{"subject":"s","version":1,"id":7,"schema":"\"string\"","deleted":false,"metadata":null}"#;
        let key = RecordKey::Schema { subject: "s".into(), version: 1 };
        let RecordValue::Schema(v) = RecordValue::from_bytes(&key, text.as_bytes()).unwrap() else { panic!() };
        assert_eq!(v.schema_type, SchemaType::Avro);
        assert_eq!(v.id, 7);
        let written = String::from_utf8(RecordValue::Schema(v).to_bytes()).unwrap();
        assert!(!written.contains("schemaType"), "Avro leaves schemaType out: {written}");
    }
}
