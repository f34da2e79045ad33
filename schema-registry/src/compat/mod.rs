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
            messages.extend(can_read_as(new, old, "new", "old"));
        }
        if level.checks_forward() {
            messages.extend(can_read_as(old, new, "old", "new"));
        }
    }
    messages.dedup();
    messages
}

/// Whether data written with `writer` can be read with `reader`; the problems found, empty when it can.
pub fn can_read(reader: &ParsedSchema, writer: &ParsedSchema) -> Vec<String> {
    can_read_as(reader, writer, "reader", "writer")
}

/// [`can_read`], with messages naming the two schemas by role ("new", "old") where the language's checker can.
fn can_read_as(reader: &ParsedSchema, writer: &ParsedSchema, reader_role: &str, writer_role: &str) -> Vec<String> {
    match (reader, writer) {
        (ParsedSchema::Avro(r), ParsedSchema::Avro(w)) => avro::can_read_named(r, w, reader_role, writer_role),
        (ParsedSchema::Json(r), ParsedSchema::Json(w)) => json::can_read(r, w),
        (ParsedSchema::Protobuf(r), ParsedSchema::Protobuf(w)) => protobuf::can_read(r, w),
        _ => vec![format!(
            "TYPE_MISMATCH: the {reader_role} schema is {} and the {writer_role} one {}; a subject keeps one schema type",
            reader.schema_type(),
            writer.schema_type()
        )],
    }
}
