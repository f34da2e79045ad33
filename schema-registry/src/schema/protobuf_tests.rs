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

// ---- Schemas registered as a base64 serialized FileDescriptorProto (confluent-kafka's Python serializer) ----

mod compiled {
    //! Descriptors built the way protoc writes them: labels and types set, type names fully qualified with a
    //! leading dot, a `json_name` on every field, standard options as set fields, no `syntax` for proto2.

    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use prost::Message;
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto};

    use super::super::descriptor::default_json_name;

    pub(super) fn base64(file: &FileDescriptorProto) -> String {
        STANDARD.encode(file.encode_to_vec())
    }

    pub(super) fn file(name: &str, syntax: Option<&str>, package: &str) -> FileDescriptorProto {
        FileDescriptorProto {
            name: Some(name.to_string()),
            package: Some(package.to_string()),
            syntax: syntax.map(str::to_string),
            ..Default::default()
        }
    }

    pub(super) fn message(name: &str, field: Vec<FieldDescriptorProto>) -> DescriptorProto {
        DescriptorProto { name: Some(name.to_string()), field, ..Default::default() }
    }

    pub(super) fn field(name: &str, number: i32, label: Label, ty: Type) -> FieldDescriptorProto {
        FieldDescriptorProto {
            name: Some(name.to_string()),
            number: Some(number),
            label: Some(label as i32),
            r#type: Some(ty as i32),
            json_name: Some(default_json_name(name)),
            ..Default::default()
        }
    }

    pub(super) fn named(name: &str, number: i32, label: Label, ty: Type, type_name: &str) -> FieldDescriptorProto {
        FieldDescriptorProto { type_name: Some(type_name.to_string()), ..field(name, number, label, ty) }
    }
}

use prost_types::field_descriptor_proto::{Label as L, Type as T};
use prost_types::{
    descriptor_proto, method_options, EnumValueDescriptorProto, FieldOptions, FileOptions, MessageOptions,
    MethodDescriptorProto, MethodOptions, OneofDescriptorProto, ServiceDescriptorProto,
};

fn enum_type(name: &str, values: &[(&str, i32)]) -> EnumDescriptorProto {
    EnumDescriptorProto {
        name: Some(name.to_string()),
        value: values
            .iter()
            .map(|(n, v)| EnumValueDescriptorProto { name: Some(n.to_string()), number: Some(*v), options: None })
            .collect(),
        ..Default::default()
    }
}

/// What protoc writes for [`SHOP_TEXT`].
fn shop_descriptor() -> FileDescriptorProto {
    use compiled::{field, named};
    let mut file = compiled::file("shop/v1/order.proto", Some("proto3"), "shop.v1");
    file.dependency = vec!["google/protobuf/timestamp.proto".to_string()];
    file.options = Some(FileOptions {
        java_package: Some("com.example.shop".to_string()),
        optimize_for: Some(prost_types::file_options::OptimizeMode::Speed as i32),
        java_multiple_files: Some(true),
        ..Default::default()
    });
    let mut id = field("id", 1, L::Optional, T::String);
    id.json_name = Some("orderId".to_string());
    id.options = Some(FieldOptions { deprecated: Some(true), ..Default::default() });
    let mut amount = field("amount", 2, L::Optional, T::Int64);
    amount.proto3_optional = Some(true);
    amount.oneof_index = Some(1);
    let mut card = field("card", 6, L::Optional, T::String);
    card.oneof_index = Some(0);
    let mut token = field("token", 7, L::Optional, T::Bytes);
    token.oneof_index = Some(0);
    let mut codes = field("codes", 9, L::Repeated, T::Int32);
    codes.options = Some(FieldOptions { packed: Some(false), ..Default::default() });
    let mut order = compiled::message(
        "Order",
        vec![
            id,
            amount,
            named("lines", 3, L::Repeated, T::Message, ".shop.v1.Order.Line"),
            named("by_sku", 4, L::Repeated, T::Message, ".shop.v1.Order.BySkuEntry"),
            named("created", 5, L::Optional, T::Message, ".google.protobuf.Timestamp"),
            card,
            token,
            named("status", 8, L::Optional, T::Enum, ".shop.v1.Order.Status"),
            codes,
        ],
    );
    let line = compiled::message(
        "Line",
        vec![field("sku", 1, L::Optional, T::String), field("quantity", 2, L::Optional, T::Uint32)],
    );
    let mut entry = compiled::message(
        "BySkuEntry",
        vec![
            field("key", 1, L::Optional, T::String),
            named("value", 2, L::Optional, T::Message, ".shop.v1.Order.Line"),
        ],
    );
    entry.options = Some(MessageOptions { map_entry: Some(true), ..Default::default() });
    order.nested_type = vec![entry, line];
    let mut status = enum_type("Status", &[("UNKNOWN", 0), ("PLACED", 1), ("NEW", 1)]);
    status.options = Some(prost_types::EnumOptions { allow_alias: Some(true), ..Default::default() });
    order.enum_type = vec![status];
    order.oneof_decl = ["payment", "_amount"]
        .iter()
        .map(|n| OneofDescriptorProto { name: Some(n.to_string()), options: None })
        .collect();
    file.message_type = vec![order];
    let method = MethodDescriptorProto {
        name: Some("Place".to_string()),
        input_type: Some(".shop.v1.Order".to_string()),
        output_type: Some(".shop.v1.Order".to_string()),
        options: Some(MethodOptions {
            idempotency_level: Some(method_options::IdempotencyLevel::Idempotent as i32),
            ..Default::default()
        }),
        ..Default::default()
    };
    file.service =
        vec![ServiceDescriptorProto { name: Some("Orders".to_string()), method: vec![method], options: None }];
    file
}

/// The text the registry keeps for [`shop_descriptor`]: type names as the descriptor spells them (fully
/// qualified, as Confluent's registry prints them too), options as `option` lines.
const SHOP_TEXT: &str = r#"syntax = "proto3";
package shop.v1;

import "google/protobuf/timestamp.proto";

option java_package = "com.example.shop";
option optimize_for = SPEED;
option java_multiple_files = true;

message Order {
  string id = 1 [json_name = "orderId", deprecated = true];
  optional int64 amount = 2;
  repeated .shop.v1.Order.Line lines = 3;
  map<string, .shop.v1.Order.Line> by_sku = 4;
  .google.protobuf.Timestamp created = 5;
  oneof payment {
    string card = 6;
    bytes token = 7;
  }
  .shop.v1.Order.Status status = 8;
  repeated int32 codes = 9 [packed = false];
  message Line {
    string sku = 1;
    uint32 quantity = 2;
  }
  enum Status {
    option allow_alias = true;
    UNKNOWN = 0;
    PLACED = 1;
    NEW = 1;
  }
}

service Orders {
  rpc Place(.shop.v1.Order) returns (.shop.v1.Order) {
    option idempotency_level = IDEMPOTENT;
  }
}
"#;

#[test]
fn a_base64_descriptor_is_kept_as_its_proto_text() {
    let from_descriptor = parse(&compiled::base64(&shop_descriptor()));
    assert_eq!(from_descriptor.canonical(), SHOP_TEXT);
    assert_eq!(from_descriptor.canonical(), parse(SHOP_TEXT).canonical());
    assert_eq!(from_descriptor.normalized(), parse(SHOP_TEXT).normalized());
    // Registering the stored text again gives the same schema, so the same id.
    assert_eq!(parse(&from_descriptor.canonical()).canonical(), from_descriptor.canonical());
    // The same schema written by hand, with short names and in another order, normalizes the same.
    let by_hand = SHOP_TEXT.replace(".shop.v1.Order.", "").replace(".shop.v1.", "").replace(".google.", "google.");
    assert_eq!(parse(&by_hand).normalized(), from_descriptor.normalized());
}

#[test]
fn the_python_serializers_descriptor_is_accepted() {
    // What confluent-kafka's ProtobufSerializer sends for the message class of compat/test_schema_registry.py.
    let sent = "ChtzbHVpY2UvY29tcGF0L3JlYWRpbmcucHJvdG8SDXNsdWljZS5jb21wYXQiNgoHUmVhZGluZxIOCgZzZW5zb3IYASABKAkSDQoFdmFsdWUYAiABKAESDAoEdGFncxgDIAMoCWIGcHJvdG8z";
    let expected = "syntax = \"proto3\";\npackage sluice.compat;\n\nmessage Reading {\n  string sensor = 1;\n  double value = 2;\n  repeated string tags = 3;\n}\n";
    assert_eq!(parse(sent).canonical(), expected);
    assert_eq!(parse(expected).canonical(), expected);
    // Padding is optional, as for Confluent's (Java) decoder.
    assert_eq!(parse(&format!("{sent}\n")).canonical(), expected);
}

#[test]
fn a_proto2_descriptor_keeps_groups_defaults_and_extensions() {
    use compiled::{field, named};
    let mut file = compiled::file("legacy.proto", None, "legacy");
    let mut count = field("count", 2, L::Optional, T::Int32);
    count.default_value = Some("-7".to_string());
    let mut note = field("note", 3, L::Optional, T::String);
    note.default_value = Some("say \"hi\"".to_string());
    let mut kind = named("kind", 5, L::Optional, T::Enum, ".legacy.Item.Kind");
    kind.default_value = Some("BIG".to_string());
    let mut item = compiled::message(
        "Item",
        vec![
            field("name", 1, L::Required, T::String),
            count,
            note,
            kind,
            named("part", 6, L::Repeated, T::Group, ".legacy.Item.Part"),
        ],
    );
    item.nested_type = vec![compiled::message("Part", vec![field("label", 1, L::Optional, T::String)])];
    item.enum_type = vec![enum_type("Kind", &[("SMALL", 1), ("BIG", 2)])];
    item.extension_range = vec![descriptor_proto::ExtensionRange { start: Some(100), end: Some(200), options: None }];
    let mut extra = field("extra", 100, L::Optional, T::String);
    extra.extendee = Some(".legacy.Item".to_string());
    file.message_type = vec![item];
    file.extension = vec![extra];
    let text = r#"syntax = "proto2";
package legacy;

message Item {
  required string name = 1;
  optional int32 count = 2 [default = -7];
  optional string note = 3 [default = "say \"hi\""];
  optional .legacy.Item.Kind kind = 5 [default = BIG];
  repeated group Part = 6 {
    optional string label = 1;
  }
  extensions 100 to 199;
  enum Kind {
    SMALL = 1;
    BIG = 2;
  }
}

extend .legacy.Item {
  optional string extra = 100;
}
"#;
    let from_descriptor = parse(&compiled::base64(&file));
    assert_eq!(from_descriptor.canonical(), text);
    assert_eq!(parse(text).canonical(), text);
}

#[test]
fn text_that_is_not_a_descriptor_either_is_refused_clearly() {
    for garbage in ["this is not a schema", "message A {", "QUJD", "AAAA", "{\"type\": \"record\"}"] {
        let err = ProtobufSchema::parse(garbage, &[]).unwrap_err();
        assert!(err.0.starts_with("Invalid Protobuf schema: "), "{garbage}: {err}");
        assert!(err.0.contains("neither .proto text ("), "{garbage}: {err}");
        assert!(err.0.contains("nor a base64-encoded FileDescriptorProto ("), "{garbage}: {err}");
    }
    // The syntax error still says where.
    let err = ProtobufSchema::parse("syntax = \"proto3\";\nmessage A {\n  string a = ;\n}\n", &[]).unwrap_err();
    assert!(err.0.contains("line 3, column 14"), "{err}");
}

#[test]
fn a_descriptor_is_checked_like_text() {
    use compiled::named;
    let mut file = compiled::file("a.proto", Some("proto3"), "p");
    file.message_type = vec![compiled::message("A", vec![named("m", 1, L::Optional, T::Message, ".p.Missing")])];
    let err = ProtobufSchema::parse(&compiled::base64(&file), &[]).unwrap_err();
    assert!(err.0.contains("\".p.Missing\" of field p.A.m is not defined"), "{err}");

    file.message_type =
        vec![compiled::message("A", vec![named("b", 1, L::Optional, T::Enum, ".p.B")]), compiled::message("B", vec![])];
    let err = ProtobufSchema::parse(&compiled::base64(&file), &[]).unwrap_err();
    assert!(err.0.contains("needs an enum type"), "{err}");

    file.message_type = vec![compiled::message("not a name", vec![])];
    let err = ProtobufSchema::parse(&compiled::base64(&file), &[]).unwrap_err();
    assert!(err.0.contains("does not describe a valid .proto file"), "{err}");

    file.message_type = vec![];
    file.syntax = Some("editions".to_string());
    let err = ProtobufSchema::parse(&compiled::base64(&file), &[]).unwrap_err();
    assert!(err.0.contains("editions"), "{err}");
}

#[test]
fn a_descriptors_dependencies_are_its_references() {
    use compiled::{field, named};
    let mut money = compiled::file("common/money.proto", Some("proto3"), "common");
    money.message_type = vec![compiled::message("Money", vec![field("units", 1, L::Optional, T::Int64)])];
    let mut price = compiled::file("app/price.proto", Some("proto3"), "app");
    price.dependency = vec!["common/money.proto".to_string()];
    price.message_type =
        vec![compiled::message("Price", vec![named("amount", 1, L::Optional, T::Message, ".common.Money")])];
    let price = compiled::base64(&price);

    let err = ProtobufSchema::parse(&price, &[]).unwrap_err();
    assert!(err.0.contains("\"common/money.proto\" is neither a reference nor a well-known file"), "{err}");

    // The reference as the registry stores it (text), and as a descriptor.
    let money_text = parse(&compiled::base64(&money)).canonical();
    assert_eq!(money_text, "syntax = \"proto3\";\npackage common;\n\nmessage Money {\n  int64 units = 1;\n}\n");
    let expected = "syntax = \"proto3\";\npackage app;\n\nimport \"common/money.proto\";\n\nmessage Price {\n  .common.Money amount = 1;\n}\n";
    for reference_text in [money_text, compiled::base64(&money)] {
        let schema = ProtobufSchema::parse(&price, &[reference("common/money.proto", &reference_text)]).unwrap();
        assert_eq!(schema.canonical(), expected);
        assert_eq!(schema.references().len(), 1);
        assert_eq!(schema.references()[0].1.message_type[0].name(), "Money");
    }
}

#[test]
fn a_json_name_that_is_the_default_is_not_kept() {
    let plain = parse("syntax = \"proto3\";\nmessage A { string foo_bar = 1; }\n");
    let spelled = parse("syntax = \"proto3\";\nmessage A { string foo_bar = 1 [json_name = \"fooBar\"]; }\n");
    assert_eq!(plain.canonical(), spelled.canonical());
    let chosen = parse("syntax = \"proto3\";\nmessage A { string foo_bar = 1 [json_name = \"foo\"]; }\n");
    assert!(chosen.canonical().contains("[json_name = \"foo\"]"), "{}", chosen.canonical());
}

#[test]
fn the_serialized_form_is_a_compiled_descriptor_of_the_same_schema() {
    use prost::Message;
    let schema = parse(&compiled::base64(&shop_descriptor()));
    let serialized = schema.serialized();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &serialized).unwrap();
    let file = FileDescriptorProto::decode(bytes.as_slice()).unwrap();
    let mut expected = shop_descriptor();
    expected.name = None;
    // Compiled descriptors carry default JSON names; the registry keeps only chosen ones.
    let mut no_default_json = |f: &mut FieldDescriptorProto| {
        if f.json_name.as_deref() == Some(super::descriptor::default_json_name(f.name()).as_str()) {
            f.json_name = None;
        }
    };
    for message in &mut expected.message_type {
        message.field.iter_mut().for_each(&mut no_default_json);
        for nested in &mut message.nested_type {
            nested.field.iter_mut().for_each(&mut no_default_json);
        }
    }
    assert_eq!(file.message_type[0].field, expected.message_type[0].field);
    assert_eq!(file.options, expected.options);
    assert_eq!(file.service, expected.service);
    assert_eq!(file.message_type[0].enum_type, expected.message_type[0].enum_type);
    // And it reads back as the same schema.
    assert_eq!(parse(&serialized).canonical(), schema.canonical());
    // Text written with short names is served with resolved ones.
    let short =
        parse("syntax = \"proto3\";\npackage p;\nmessage A { B b = 1; E e = 2; message B {} enum E { X = 0; } }\n");
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, short.serialized()).unwrap();
    let file = FileDescriptorProto::decode(bytes.as_slice()).unwrap();
    let fields = &file.message_type[0].field;
    assert_eq!((fields[0].type_name(), fields[0].r#type()), (".p.A.B", T::Message));
    assert_eq!((fields[1].type_name(), fields[1].r#type()), (".p.A.E", T::Enum));
}
