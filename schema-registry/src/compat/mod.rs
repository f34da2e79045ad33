//! Compatibility checking: whether a new schema may follow a subject's earlier versions under a compatibility
//! level. The level decides who must read whom; one file per schema language decides whether a reader schema
//! can read data written with a writer schema.

pub mod avro;
pub mod json;
pub mod protobuf;

use crate::schema::ParsedSchema;
use crate::types::CompatibilityLevel;

/// Checks `new` against `previous` (a subject's live versions, oldest first) under `level`. Returns why it is
/// incompatible, one message per problem; empty means compatible. Non-transitive levels look at the latest
/// version only; transitive ones at every version.
pub fn check(level: CompatibilityLevel, new: &ParsedSchema, previous: &[ParsedSchema]) -> Vec<String> {
    if level == CompatibilityLevel::None || previous.is_empty() {
        return Vec::new();
    }
    let against: &[ParsedSchema] =
        if level.is_transitive() { previous } else { &previous[previous.len() - 1..] };
    let mut messages = Vec::new();
    for old in against.iter().rev() {
        if level.checks_backward() {
            messages.extend(can_read(new, old));
        }
        if level.checks_forward() {
            messages.extend(can_read(old, new));
        }
    }
    messages.dedup();
    messages
}

/// Whether data written with `writer` can be read with `reader`; the problems found, empty when it can.
pub fn can_read(reader: &ParsedSchema, writer: &ParsedSchema) -> Vec<String> {
    match (reader, writer) {
        (ParsedSchema::Avro(r), ParsedSchema::Avro(w)) => avro::can_read(r, w),
        (ParsedSchema::Json(r), ParsedSchema::Json(w)) => json::can_read(r, w),
        (ParsedSchema::Protobuf(r), ParsedSchema::Protobuf(w)) => protobuf::can_read(r, w),
        _ => vec![format!(
            "Incompatible schema type: the new schema is {} and the old one {}",
            reader.schema_type(),
            writer.schema_type()
        )],
    }
}
