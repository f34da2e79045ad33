//! Subject name strategies: which registry subject a key or value schema is registered and looked up under.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use super::WireError;

/// How a serializer names the subject of a schema, as Confluent's serializers do.
///
/// Parsed from Confluent's Java class names (`io.confluent.kafka.serializers.subject.TopicNameStrategy`), their short
/// names (`TopicNameStrategy`), the Python client's function names (`topic_subject_name_strategy`) and plain
/// snake case (`topic_name`), so a setting copied from any Confluent config works unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` or `<topic>-value`: one schema lineage per topic, the default everywhere.
    #[default]
    TopicName,
    /// `<record full name>`: one lineage per record type, shared by every topic that carries it.
    RecordName,
    /// `<topic>-<record full name>`: one lineage per record type per topic, for topics mixing several types.
    TopicRecordName,
}

impl SubjectNameStrategy {
    /// Confluent's Java class name, what `key.subject.name.strategy` settings hold.
    pub fn class_name(self) -> &'static str {
        match self {
            Self::TopicName => "io.confluent.kafka.serializers.subject.TopicNameStrategy",
            Self::RecordName => "io.confluent.kafka.serializers.subject.RecordNameStrategy",
            Self::TopicRecordName => "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
        }
    }

    /// The subject for a key (`is_key`) or value of `topic` whose schema's full name (namespace and name, for
    /// records, enums and fixed types) is `record_full_name`. Only the record strategies need that name; they fail
    /// without it rather than invent a subject nobody else would find.
    pub fn subject(self, topic: &str, is_key: bool, record_full_name: Option<&str>) -> Result<String, WireError> {
        let record = || record_full_name.filter(|n| !n.is_empty()).ok_or(WireError::NoRecordName { strategy: self });
        Ok(match self {
            Self::TopicName => format!("{topic}-{}", if is_key { "key" } else { "value" }),
            Self::RecordName => record()?.to_string(),
            Self::TopicRecordName => format!("{topic}-{}", record()?),
        })
    }

    /// Whether the subject depends on the schema's name, so a caller must know the schema before naming the subject.
    pub fn needs_record_name(self) -> bool {
        !matches!(self, Self::TopicName)
    }
}

impl fmt::Display for SubjectNameStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = self.class_name();
        f.write_str(class.rsplit('.').next().unwrap_or(class))
    }
}

impl FromStr for SubjectNameStrategy {
    type Err = WireError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        // The short class name is the last dotted segment of the Java class name, whatever the package.
        let short = trimmed.rsplit('.').next().unwrap_or(trimmed);
        let folded: String = short.chars().filter(|c| !matches!(c, '_' | '-')).flat_map(char::to_lowercase).collect();
        let bare = folded.strip_suffix("strategy").unwrap_or(&folded);
        let bare = bare.strip_suffix("subjectname").unwrap_or(bare);
        match bare {
            "topicname" | "topic" => Ok(Self::TopicName),
            "recordname" | "record" => Ok(Self::RecordName),
            "topicrecordname" | "topicrecord" => Ok(Self::TopicRecordName),
            _ => Err(WireError::UnknownStrategy(s.to_string())),
        }
    }
}

/// Config files name the strategy the way Confluent's do; see [`FromStr`].
impl<'de> Deserialize<'de> for SubjectNameStrategy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects() {
        use SubjectNameStrategy::*;
        let rec = Some("com.example.Order");
        assert_eq!(TopicName.subject("orders", false, rec).unwrap(), "orders-value");
        assert_eq!(TopicName.subject("orders", true, None).unwrap(), "orders-key");
        assert_eq!(RecordName.subject("orders", false, rec).unwrap(), "com.example.Order");
        assert_eq!(RecordName.subject("orders", true, rec).unwrap(), "com.example.Order");
        assert_eq!(TopicRecordName.subject("orders", true, rec).unwrap(), "orders-com.example.Order");
    }

    #[test]
    fn record_strategies_need_a_name() {
        use SubjectNameStrategy::*;
        for strategy in [RecordName, TopicRecordName] {
            assert!(strategy.needs_record_name());
            for name in [None, Some("")] {
                let err = strategy.subject("t", false, name).unwrap_err();
                assert_eq!(err, WireError::NoRecordName { strategy });
                assert!(err.to_string().contains("use TopicNameStrategy"), "{err}");
            }
        }
        assert!(!TopicName.needs_record_name());
    }

    #[test]
    fn parses_every_spelling() {
        use SubjectNameStrategy::*;
        let cases = [
            ("io.confluent.kafka.serializers.subject.TopicNameStrategy", TopicName),
            ("io.confluent.kafka.serializers.subject.RecordNameStrategy", RecordName),
            ("io.confluent.kafka.serializers.subject.TopicRecordNameStrategy", TopicRecordName),
            ("TopicNameStrategy", TopicName),
            ("RecordNameStrategy", RecordName),
            ("TopicRecordNameStrategy", TopicRecordName),
            ("TopicName", TopicName),
            ("topic_name", TopicName),
            ("record_name", RecordName),
            ("topic-record-name", TopicRecordName),
            ("topic_subject_name_strategy", TopicName),
            ("record_subject_name_strategy", RecordName),
            ("topic_record_subject_name_strategy", TopicRecordName),
            (" TOPIC_RECORD_NAME ", TopicRecordName),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<SubjectNameStrategy>(), Ok(want), "{text}");
        }
        for bad in ["", "Topic-Record-Key", "io.confluent.kafka.serializers.subject.Nope", "name"] {
            assert_eq!(bad.parse::<SubjectNameStrategy>(), Err(WireError::UnknownStrategy(bad.to_string())));
        }
    }

    #[test]
    fn display_and_class_name_parse_back() {
        for s in [SubjectNameStrategy::TopicName, SubjectNameStrategy::RecordName, SubjectNameStrategy::TopicRecordName]
        {
            assert_eq!(s.to_string().parse::<SubjectNameStrategy>(), Ok(s));
            assert_eq!(s.class_name().parse::<SubjectNameStrategy>(), Ok(s));
        }
        assert_eq!(SubjectNameStrategy::TopicRecordName.to_string(), "TopicRecordNameStrategy");
    }

    #[test]
    fn deserializes_from_config_text() {
        let s: SubjectNameStrategy =
            serde_json::from_str("\"io.confluent.kafka.serializers.subject.RecordNameStrategy\"").unwrap();
        assert_eq!(s, SubjectNameStrategy::RecordName);
        let err = serde_json::from_str::<SubjectNameStrategy>("\"bogus\"").unwrap_err();
        assert!(err.to_string().contains("unknown subject name strategy 'bogus'"), "{err}");
    }
}
