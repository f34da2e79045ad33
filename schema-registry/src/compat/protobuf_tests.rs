//! Protobuf compatibility, table-driven: each row is an old and a new schema with the expected verdict
//! under BACKWARD (the new schema reads the old one's data) and FORWARD (the old one reads the new one's).

use super::*;
use crate::schema::ResolvedReference;

struct Row {
    name: &'static str,
    old: &'static str,
    new: &'static str,
    backward: bool,
    forward: bool,
}

const fn row(name: &'static str, old: &'static str, new: &'static str, backward: bool, forward: bool) -> Row {
    Row { name, old, new, backward, forward }
}

/// Each row's schemas are message bodies of `message M { ... }` in a proto3 file of package `p`, unless they
/// start with `syntax` (then they are whole files).
const ROWS: &[Row] = &[
    row("identical", "string a = 1; int32 b = 2;", "string a = 1; int32 b = 2;", true, true),
    row("field added", "string a = 1;", "string a = 1; int32 b = 2;", true, true),
    row("field removed", "string a = 1; int32 b = 2;", "string a = 1;", true, true),
    row("field renamed", "string a = 1;", "string renamed = 1;", true, true),
    row("field number changed (a removal and an addition)", "string a = 1;", "string a = 2;", true, true),
    row("int32 to int64 (one wire group)", "int32 a = 1;", "int64 a = 1;", true, true),
    row("uint64 to bool (one wire group)", "uint64 a = 1;", "bool a = 1;", true, true),
    row("int32 to sint32 (zigzag encoding)", "int32 a = 1;", "sint32 a = 1;", false, false),
    row("sint32 to sint64", "sint32 a = 1;", "sint64 a = 1;", true, true),
    row("string to bytes", "string a = 1;", "bytes a = 1;", true, true),
    row("fixed32 to sfixed32", "fixed32 a = 1;", "sfixed32 a = 1;", true, true),
    row("fixed32 to fixed64", "fixed32 a = 1;", "fixed64 a = 1;", false, false),
    row("float to double", "float a = 1;", "double a = 1;", false, false),
    row("int32 to string", "int32 a = 1;", "string a = 1;", false, false),
    row("enum to int32", "E a = 1; enum E { Z = 0; }", "int32 a = 1; enum E { Z = 0; }", true, true),
    row("scalar to message", "int32 a = 1; message N { int32 x = 1; }", "N a = 1; message N { int32 x = 1; }", false, false),
    row(
        "message field to another message",
        "N a = 1; message N { int32 x = 1; } message O { int32 x = 1; }",
        "O a = 1; message N { int32 x = 1; } message O { int32 x = 1; }",
        false,
        false,
    ),
    row(
        "nested message field changes scalar kind",
        "N a = 1; message N { uint32 x = 1; }",
        "N a = 1; message N { string x = 1; }",
        false,
        false,
    ),
    row("nested message gains a field", "N a = 1; message N { int32 x = 1; }", "N a = 1; message N { int32 x = 1; int32 y = 2; }", true, true),
    row("same type written qualified", "N a = 1; message N { int32 x = 1; }", "p.M.N a = 1; message N { int32 x = 1; }", true, true),
    row("nested message removed", "message N { int32 x = 1; }", "", false, true),
    row("nested message added", "", "message N { int32 x = 1; }", true, false),
    row(
        "package changed",
        "syntax = \"proto3\"; package p; message M { int32 a = 1; }",
        "syntax = \"proto3\"; package q; message M { int32 a = 1; }",
        false,
        false,
    ),
    row(
        "required field added (proto2)",
        "syntax = \"proto2\"; message M { optional int32 a = 1; }",
        "syntax = \"proto2\"; message M { optional int32 a = 1; required int32 b = 2; }",
        false,
        false,
    ),
    row(
        "optional field added (proto2)",
        "syntax = \"proto2\"; message M { optional int32 a = 1; }",
        "syntax = \"proto2\"; message M { optional int32 a = 1; optional int32 b = 2; }",
        true,
        true,
    ),
    row(
        "optional numeric field made required (proto2)",
        "syntax = \"proto2\"; message M { optional int32 a = 1; }",
        "syntax = \"proto2\"; message M { required int32 a = 1; }",
        false,
        false,
    ),
    row("numeric field made repeated", "int32 a = 1;", "repeated int32 a = 1;", false, false),
    row("string field made repeated", "string a = 1;", "repeated string a = 1;", true, true),
    row("proto3 optional added to a field", "int32 a = 1;", "optional int32 a = 1;", true, true),
    row(
        "oneof field removed",
        "oneof o { string a = 1; int32 b = 2; }",
        "oneof o { string a = 1; }",
        false,
        true,
    ),
    row("one field moved into a new oneof", "string a = 1; int32 b = 2;", "int32 b = 2; oneof o { string a = 1; }", true, true),
    row(
        "two fields moved into one oneof",
        "string a = 1; int32 b = 2;",
        "oneof o { string a = 1; int32 b = 2; }",
        false,
        true,
    ),
    row(
        "field moved into an existing oneof",
        "string a = 1; oneof o { int32 b = 2; }",
        "oneof o { string a = 1; int32 b = 2; }",
        false,
        true,
    ),
    row("enum value added", "E a = 1; enum E { Z = 0; }", "E a = 1; enum E { Z = 0; O = 1; }", true, true),
    row("map value widened", "map<string, int32> a = 1;", "map<string, int64> a = 1;", true, true),
    row("map value kind changed", "map<string, int32> a = 1;", "map<string, string> a = 1;", false, false),
    row("repeated message to map", "repeated N a = 1; message N { int32 x = 1; }", "map<string, int32> a = 1; message N { int32 x = 1; }", false, false),
    row(
        "well-known type kept",
        "syntax = \"proto3\"; import \"google/protobuf/timestamp.proto\"; message M { google.protobuf.Timestamp at = 1; }",
        "syntax = \"proto3\"; import \"google/protobuf/timestamp.proto\"; message M { google.protobuf.Timestamp when = 1; }",
        true,
        true,
    ),
    row(
        "well-known type swapped",
        "syntax = \"proto3\"; import \"google/protobuf/timestamp.proto\"; import \"google/protobuf/duration.proto\"; message M { google.protobuf.Timestamp at = 1; }",
        "syntax = \"proto3\"; import \"google/protobuf/timestamp.proto\"; import \"google/protobuf/duration.proto\"; message M { google.protobuf.Duration at = 1; }",
        false,
        false,
    ),
    row(
        "recursive message unchanged",
        "string name = 1; repeated M children = 2;",
        "repeated M children = 2; string name = 1;",
        true,
        true,
    ),
];

fn file(text: &str) -> String {
    if text.starts_with("syntax") {
        text.to_string()
    } else {
        format!("syntax = \"proto3\";\npackage p;\nmessage M {{ {text} }}\n")
    }
}

fn parse(text: &str, references: &[ResolvedReference]) -> ProtobufSchema {
    ProtobufSchema::parse(text, references).unwrap_or_else(|e| panic!("does not parse: {e}\n{text}"))
}

#[test]
fn compatibility_table() {
    assert!(ROWS.len() >= 15);
    let mut failures = Vec::new();
    for row in ROWS {
        let (old, new) = (parse(&file(row.old), &[]), parse(&file(row.new), &[]));
        let backward = can_read(&new, &old);
        let forward = can_read(&old, &new);
        if backward.is_empty() != row.backward || forward.is_empty() != row.forward {
            failures.push(format!(
                "{}: expected backward={} forward={}, got backward={:?} forward={:?}",
                row.name, row.backward, row.forward, backward, forward
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), ROWS.len(), failures.join("\n"));
}

#[test]
fn messages_name_the_confluent_kind_and_the_path() {
    let old = parse(&file("int32 a = 1; N n = 2; message N { uint32 x = 1; }"), &[]);
    let new = parse(&file("string a = 1; N n = 2; message N { sint32 x = 1; }"), &[]);
    let messages = can_read(&new, &old);
    assert!(messages.iter().any(|m| m.starts_with("FIELD_SCALAR_KIND_CHANGED #/M/1: ")), "{messages:?}");
    assert!(messages.iter().any(|m| m.starts_with("FIELD_SCALAR_KIND_CHANGED #/M/N/1: ")), "{messages:?}");
    assert!(messages.iter().any(|m| m.starts_with("FIELD_NAMED_TYPE_CHANGED #/M/2: ")), "{messages:?}");

    let removed = can_read(&parse(&file(""), &[]), &parse(&file("message Gone { int32 x = 1; }"), &[]));
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert!(removed[0].starts_with("MESSAGE_REMOVED #/M/Gone: "), "{removed:?}");
}

#[test]
fn compares_types_from_references() {
    let text =
        "syntax = \"proto3\";\npackage app;\nimport \"money.proto\";\nmessage Price { common.Money amount = 1; }\n";
    let money = |body: &str| ResolvedReference {
        name: "money.proto".into(),
        schema: format!("syntax = \"proto3\";\npackage common;\nmessage Money {{ {body} }}\n"),
    };
    let v1 = parse(text, &[money("int64 units = 1;")]);
    let widened = parse(text, &[money("int64 units = 1; string currency = 2;")]);
    let broken = parse(text, &[money("string units = 1;")]);
    assert!(can_read(&v1, &v1.clone()).is_empty());
    assert!(can_read(&widened, &v1).is_empty());
    assert!(can_read(&v1, &widened).is_empty());
    let messages = can_read(&broken, &v1);
    assert!(messages.iter().any(|m| m.starts_with("FIELD_SCALAR_KIND_CHANGED #/Money/1: ")), "{messages:?}");
    assert!(messages.iter().any(|m| m.starts_with("FIELD_NAMED_TYPE_CHANGED #/Price/1: ")), "{messages:?}");
}
