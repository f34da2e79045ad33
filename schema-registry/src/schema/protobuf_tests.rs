//! Tests of Protobuf parsing: what is refused and why, imports and references, and the text forms (stable,
//! re-parseable, and insensitive to layout).

use super::*;

fn reference(name: &str, schema: &str) -> ResolvedReference {
    ResolvedReference { name: name.to_string(), schema: schema.to_string() }
}

fn parse(text: &str) -> ProtobufSchema {
    ProtobufSchema::parse(text, &[]).unwrap_or_else(|e| panic!("does not parse: {e}\n{text}"))
}

/// A file using most of the language, to check that its text reads back the same.
const RICH: &str = r#"
syntax = "proto3";
package shop.v1;

import "google/protobuf/timestamp.proto";
import public "google/protobuf/wrappers.proto";

option java_package = "com.example.shop";
option (my.custom) = { a: 1 b: "x" };

// An order, with a comment that is not part of the schema.
message Order {
  option deprecated = true;
  reserved 15, 9 to 11;
  reserved "legacy";
  string id = 1 [json_name = "orderId", deprecated = true];
  optional int64 amount = 2;
  repeated Line lines = 3;
  map<string, Line> by_sku = 4;
  google.protobuf.Timestamp created = 5;
  oneof payment {
    option (my.oneof_opt) = 2;
    string card = 6;
    bytes token = 7;
  }
  Status status = 8;
  double ratio = 12 [(my.precision) = 1.0];
  message Line {
    string sku = 1;
    uint32 quantity = 2;
  }
  enum Status {
    option allow_alias = true;
    UNKNOWN = 0;
    PLACED = 1;
    NEW = 1;
    SHIPPED = 2 [deprecated = true];
  }
}

enum Region {
  REGION_UNSPECIFIED = 0;
  EU = 1;
}

service Orders {
  rpc Place(Order) returns (Order);
  rpc Watch(stream Order) returns (stream Order) {
    option idempotency_level = NO_SIDE_EFFECTS;
  }
}
"#;

const PROTO2: &str = r#"
syntax = "proto2";
package legacy;

message Item {
  required string name = 1;
  optional int32 count = 2 [default = -7];
  optional string note = 3 [default = "tab\there \"quoted\" é"];
  optional bytes raw = 4 [default = "\001\377"];
  optional Kind kind = 5 [default = BIG];
  repeated group Part = 6 {
    optional string label = 1;
  }
  optional double weight = 7 [default = inf];
  extensions 100 to 199;
  enum Kind {
    SMALL = 1;
    BIG = 2;
  }
}

extend Item {
  optional string extra = 100;
}
"#;

#[test]
fn canonical_text_reads_back_the_same() {
    for text in [RICH, PROTO2] {
        let schema = parse(text);
        let again = parse(&schema.canonical());
        assert_eq!(again.canonical(), schema.canonical(), "canonical text is not stable:\n{}", schema.canonical());
        let normalized_again = parse(&schema.normalized());
        assert_eq!(normalized_again.normalized(), schema.normalized(), "normalized text is not stable");
    }
}

#[test]
fn canonical_text_ignores_layout_and_comments() {
    let compact = "syntax=\"proto3\";package p;message A{string a=1;/* c */int32 b=2;}";
    let spread =
        "// header\nsyntax = \"proto3\";\n\npackage p;\n\nmessage A {\n  string a = 1; // a\n  int32 b = 2;\n}\n";
    assert_eq!(parse(compact).canonical(), parse(spread).canonical());
    assert_eq!(
        parse(compact).canonical(),
        "syntax = \"proto3\";\npackage p;\n\nmessage A {\n  string a = 1;\n  int32 b = 2;\n}\n"
    );
}

#[test]
fn canonical_text_keeps_the_short_forms() {
    let canonical = parse(RICH).canonical();
    assert!(canonical.contains("  map<string, Line> by_sku = 4;\n"), "{canonical}");
    assert!(canonical.contains("  optional int64 amount = 2;\n"), "{canonical}");
    assert!(
        canonical.contains("  oneof payment {\n    option (my.oneof_opt) = 2;\n    string card = 6;\n"),
        "{canonical}"
    );
    assert!(canonical.contains("  rpc Watch(stream Order) returns (stream Order) {\n"), "{canonical}");
    assert!(!canonical.contains("BySkuEntry"), "{canonical}");
    let proto2 = parse(PROTO2).canonical();
    assert!(proto2.contains("  repeated group Part = 6 {\n    optional string label = 1;\n  }\n"), "{proto2}");
    assert!(proto2.contains("[default = \"tab\\there \\\"quoted\\\" é\"]"), "{proto2}");
    assert!(proto2.contains("extend Item {\n  optional string extra = 100;\n}\n"), "{proto2}");
}

#[test]
fn normalized_text_sorts_what_carries_no_meaning() {
    let a = parse(
        "syntax = \"proto3\";\npackage p;\nimport \"google/protobuf/timestamp.proto\";\nimport \"google/protobuf/any.proto\";\n\
         option java_package = \"x\";\noption go_package = \"y\";\n\
         message M { int32 b = 2; string a = 1; google.protobuf.Any any = 3; N n = 4; message N {} }",
    );
    let b = parse(
        "syntax = \"proto3\";\npackage p;\nimport \"google/protobuf/any.proto\";\nimport \"google/protobuf/timestamp.proto\";\n\
         option go_package = \"y\";\noption java_package = \"x\";\n\
         message M { string a = 1; int32 b = 2; .google.protobuf.Any any = 3; M.N n = 4; message N {} }",
    );
    assert_ne!(a.canonical(), b.canonical());
    assert_eq!(a.normalized(), b.normalized());
    assert!(a.normalized().contains(".google.protobuf.Any any = 3;"), "{}", a.normalized());
    assert!(a.normalized().contains(".p.M.N n = 4;"), "{}", a.normalized());
}

#[test]
fn normalizing_keeps_the_message_order() {
    let schema = parse("syntax = \"proto3\";\nmessage B { int32 x = 1; }\nmessage A { int32 y = 1; }\n");
    let normalized = schema.normalized();
    assert!(normalized.find("message B").unwrap() < normalized.find("message A").unwrap(), "{normalized}");
}

#[test]
fn syntax_errors_say_where() {
    let err = ProtobufSchema::parse("syntax = \"proto3\";\nmessage A {\n  string a = ;\n}\n", &[]).unwrap_err();
    assert!(err.0.starts_with("Invalid Protobuf schema: "), "{err}");
    assert!(err.0.contains("line 3, column 14"), "{err}");
}

#[test]
fn refuses_undefined_types() {
    let err = ProtobufSchema::parse("syntax = \"proto3\";\nmessage A { Missing m = 1; }\n", &[]).unwrap_err();
    assert!(err.0.contains("\"Missing\""), "{err}");
}

#[test]
fn refuses_duplicate_field_numbers_and_names() {
    let err =
        ProtobufSchema::parse("syntax = \"proto3\";\nmessage A { int32 a = 1; int32 b = 1; }\n", &[]).unwrap_err();
    assert!(err.0.contains("share the number 1"), "{err}");
    let err =
        ProtobufSchema::parse("syntax = \"proto3\";\nmessage A { int32 a = 1; int32 a = 2; }\n", &[]).unwrap_err();
    assert!(err.0.contains("used twice"), "{err}");
}

#[test]
fn refuses_proto3_enums_not_starting_at_zero() {
    let err = ProtobufSchema::parse("syntax = \"proto3\";\nenum E { A = 1; }\n", &[]).unwrap_err();
    assert!(err.0.contains("must be 0"), "{err}");
}

#[test]
fn well_known_imports_need_no_reference() {
    parse(
        "syntax = \"proto3\";\nimport \"google/protobuf/timestamp.proto\";\nimport \"google/type/date.proto\";\n\
         message A { google.protobuf.Timestamp at = 1; google.type.Date day = 2; }\n",
    );
}

#[test]
fn other_imports_must_be_references() {
    let text = "syntax = \"proto3\";\npackage app;\nimport \"common/money.proto\";\nmessage Price { common.Money amount = 1; }\n";
    let err = ProtobufSchema::parse(text, &[]).unwrap_err();
    assert!(err.0.contains("\"common/money.proto\""), "{err}");
    let money =
        reference("common/money.proto", "syntax = \"proto3\";\npackage common;\nmessage Money { int64 units = 1; }\n");
    let schema = ProtobufSchema::parse(text, &[money]).unwrap();
    assert_eq!(schema.references().len(), 1);
    assert!(schema.normalized().contains(".common.Money amount = 1;"), "{}", schema.normalized());
}

#[test]
fn a_reference_that_does_not_parse_is_named() {
    let text = "syntax = \"proto3\";\nimport \"bad.proto\";\nmessage A { int32 a = 1; }\n";
    let err = ProtobufSchema::parse(text, &[reference("bad.proto", "message {")]).unwrap_err();
    assert!(err.0.contains("\"bad.proto\""), "{err}");
}

#[test]
fn a_type_defined_twice_is_refused() {
    let text = "syntax = \"proto3\";\nimport \"a.proto\";\nmessage A { int32 a = 1; }\n";
    let err =
        ProtobufSchema::parse(text, &[reference("a.proto", "syntax = \"proto3\";\nmessage A { int32 x = 1; }\n")])
            .unwrap_err();
    assert!(err.0.contains("defined twice"), "{err}");
}

#[test]
fn resolves_names_from_the_innermost_scope() {
    let schema = parse(
        "syntax = \"proto3\";\npackage a.b;\nmessage Outer { message Inner { int32 x = 1; } Inner i = 1; }\n\
         message Other { Outer.Inner j = 1; a.b.Outer k = 2; }\n",
    );
    let index = schema.index();
    assert_eq!(index.resolve("a.b.Outer", "Inner").map(|(n, _)| n).as_deref(), Some("a.b.Outer.Inner"));
    assert_eq!(index.resolve("a.b.Other", "Outer.Inner").map(|(n, _)| n).as_deref(), Some("a.b.Outer.Inner"));
    assert_eq!(index.resolve("a.b.Other", ".a.b.Outer").map(|(n, _)| n).as_deref(), Some("a.b.Outer"));
    assert!(index.resolve("a.b.Other", "Nope").is_none());
}

#[test]
fn zz_scratch_dump() {
    let f = parse_file("x.proto", "syntax = \"proto3\";\npackage p;\noption java_multiple_files = true;\noption optimize_for = SPEED;\nmessage A { message B {} B b = 1; repeated int32 r = 2 [packed = false, deprecated = true]; map<string, B> m = 3; optional int32 o = 4; E e = 5; enum E { option allow_alias = true; X = 0; Y = 0; } }\n").unwrap();
    eprintln!("{f:#?}");
}
