//! Tests of Avro parsing: what is refused and why, the canonical and normalized texts, references.

use super::AvroSchema;
use crate::schema::{ResolvedReference, SchemaError};

fn parse(text: &str) -> Result<AvroSchema, SchemaError> {
    AvroSchema::parse(text, &[])
}

fn error(text: &str) -> String {
    match parse(text) {
        Ok(schema) => panic!("expected {text} to be refused, got {}", schema.canonical()),
        Err(SchemaError(message)) => message,
    }
}

fn canonical(text: &str) -> String {
    parse(text).unwrap_or_else(|e| panic!("{text} should parse: {e}")).canonical()
}

fn address_reference() -> ResolvedReference {
    ResolvedReference {
        name: "com.acme.Address".into(),
        schema:
            r#"{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"street","type":"string"}]}"#
                .into(),
    }
}

#[test]
fn refuses_invalid_json() {
    assert!(error(r#"{"type":"record""#).contains("not valid JSON"));
}

#[test]
fn refuses_unknown_type() {
    let message = error(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"strng"}]}"#);
    assert!(message.contains("unknown type 'strng'"), "{message}");
}

#[test]
fn refuses_field_without_name() {
    let message = error(r#"{"type":"record","name":"R","fields":[{"type":"int"}]}"#);
    assert!(message.contains("field 0 of record 'R'") && message.contains("\"name\""), "{message}");
}

#[test]
fn refuses_record_without_fields_or_name() {
    assert!(error(r#"{"type":"record","name":"R"}"#).contains("no \"fields\""));
    assert!(error(r#"{"type":"record","fields":[]}"#).contains("no \"name\""));
}

#[test]
fn refuses_default_of_the_wrong_type() {
    let message = error(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}"#);
    assert!(message.contains("default"), "{message}");
    let message = error(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":null}]}"#);
    assert!(message.contains("default"), "{message}");
}

#[test]
fn a_union_default_must_match_the_first_branch() {
    let message =
        error(r#"{"type":"record","name":"R","fields":[{"name":"a","type":["null","string"],"default":"x"}]}"#);
    assert!(message.contains("first branch"), "{message}");
    canonical(r#"{"type":"record","name":"R","fields":[{"name":"a","type":["string","null"],"default":"x"}]}"#);
    canonical(r#"{"type":"record","name":"R","fields":[{"name":"a","type":["null","string"],"default":null}]}"#);
}

#[test]
fn accepts_defaults_of_every_kind() {
    canonical(
        r#"{"type":"record","name":"R","fields":[
            {"name":"l","type":"long","default":5},
            {"name":"d","type":"double","default":1.5},
            {"name":"b","type":"bytes","default":"\u00ff"},
            {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]},"default":"Y"},
            {"name":"a","type":{"type":"array","items":"int"},"default":[1,2]},
            {"name":"m","type":{"type":"map","values":"string"},"default":{"k":"v"}},
            {"name":"r","type":{"type":"record","name":"Inner","fields":[{"name":"i","type":"int"},{"name":"j","type":"int","default":1}]},"default":{"i":3}},
            {"name":"t","type":{"type":"long","logicalType":"timestamp-millis"},"default":0}
        ]}"#,
    );
}

#[test]
fn refuses_an_enum_default_that_is_not_a_symbol() {
    let message = error(r#"{"type":"enum","name":"E","symbols":["A","B"],"default":"C"}"#);
    assert!(message.contains('C'), "{message}");
}

#[test]
fn refuses_duplicate_names() {
    let message = error(
        r#"{"type":"record","name":"R","fields":[
            {"name":"a","type":{"type":"fixed","name":"F","size":4}},
            {"name":"b","type":{"type":"fixed","name":"F","size":8}}]}"#,
    );
    assert!(message.contains("defined twice") && message.contains("'F'"), "{message}");
    let message =
        error(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"long"}]}"#);
    assert!(message.contains('a'), "{message}");
}

#[test]
fn refuses_redefining_a_referenced_type() {
    let message = AvroSchema::parse(
        r#"{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"zip","type":"string"}]}"#,
        &[address_reference()],
    )
    .map(|s| s.canonical())
    .unwrap_err();
    assert!(message.0.contains("com.acme.Address"), "{message}");
}

#[test]
fn canonical_ignores_whitespace_and_attribute_order() {
    let a = r#"{"type":"record","name":"R","namespace":"n","doc":"a record","fields":[
        {"name":"a","type":"int","default":1,"doc":"first"},
        {"name":"b","type":{"type":"map","values":"string"},"aliases":["bee"]}]}"#;
    let b = r#"{ "fields" : [ {"doc":"first", "default":1, "type":"int", "name":"a"},
        {"aliases":["bee"], "type":{"values":"string","type":"map"}, "name":"b"} ],
        "doc":"a record", "namespace":"n", "name":"R", "type":"record" }"#;
    assert_eq!(canonical(a), canonical(b));
    assert_eq!(
        canonical(a),
        r#"{"type":"record","name":"R","namespace":"n","doc":"a record","fields":[{"name":"a","type":"int","doc":"first","default":1},{"name":"b","type":{"type":"map","values":"string"},"aliases":["bee"]}]}"#
    );
}

#[test]
fn canonical_writes_a_bare_primitive_as_its_name() {
    assert_eq!(canonical(r#"{"type":"string"}"#), r#""string""#);
    assert_eq!(canonical(r#" "string" "#), r#""string""#);
    assert_eq!(
        canonical(r#"{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"long"}}]}"#),
        canonical(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#)
    );
}

#[test]
fn canonical_keeps_what_java_keeps() {
    let text = r#"{"type":"record","name":"R","aliases":["Old"],"owner":"team-a","fields":[
        {"name":"id","type":{"type":"string","avro.java.string":"String","logicalType":"uuid"}},
        {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
        {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"],"default":"A"},"order":"descending"},
        {"name":"x","type":{"type":"int","logicalType":"my-own-type"}}]}"#;
    let out = canonical(text);
    for kept in [
        r#""aliases":["Old"]"#,
        r#""owner":"team-a""#,
        r#""avro.java.string":"String""#,
        r#""logicalType":"uuid""#,
        r#""precision":9"#,
        r#""scale":2"#,
        r#""default":"A""#,
        r#""order":"descending""#,
        r#""logicalType":"my-own-type""#,
    ] {
        assert!(out.contains(kept), "{kept} is lost from {out}");
    }
}

#[test]
fn canonical_text_parses_to_itself() {
    let text = r#"{"type":"record","name":"R","namespace":"a.b","fields":[
        {"name":"n","type":{"type":"record","name":"Inner","namespace":"","fields":[{"name":"x","type":"int"}]}},
        {"name":"m","type":["null",{"type":"enum","name":"E","symbols":["A"]}],"default":null},
        {"name":"again","type":"E"}]}"#;
    let schema = parse(text).unwrap();
    for derived in [schema.canonical(), schema.normalized()] {
        let reparsed = parse(&derived).unwrap_or_else(|e| panic!("{derived} does not parse: {e}"));
        assert_eq!(reparsed.canonical(), derived);
        assert_eq!(reparsed.normalized(), schema.normalized());
        assert_eq!(reparsed.full_name().as_deref(), Some("a.b.R"));
        assert_eq!(reparsed.schema().canonical_form(), schema.schema().canonical_form());
    }
}

#[test]
fn normalized_makes_names_explicit() {
    let implicit = r#"{"type":"record","name":"R","namespace":"a","fields":[
        {"name":"e","type":{"type":"enum","name":"E","aliases":["Old"],"symbols":["X"]}},
        {"name":"f","type":"E","order":"ascending"}]}"#;
    let explicit = r#"{"type":"record","name":"a.R","fields":[
        {"name":"e","type":{"type":"enum","name":"E","namespace":"a","aliases":["a.Old"],"symbols":["X"]}},
        {"name":"f","type":"a.E"}]}"#;
    let normalized = parse(implicit).unwrap().normalized();
    assert_eq!(normalized, parse(explicit).unwrap().normalized());
    assert_eq!(
        normalized,
        r#"{"type":"record","name":"R","namespace":"a","fields":[{"name":"e","type":{"type":"enum","name":"E","namespace":"a","aliases":["a.Old"],"symbols":["X"]}},{"name":"f","type":"a.E"}]}"#
    );
    assert_ne!(canonical(implicit), canonical(explicit));
}

#[test]
fn references_are_used_by_name_and_not_inlined() {
    let text = r#"{"type":"record","name":"Customer","namespace":"com.acme","fields":[
        {"name":"home","type":"com.acme.Address"},{"name":"work","type":["null","Address"],"default":null}]}"#;
    let schema = AvroSchema::parse(text, &[address_reference()]).unwrap();
    assert_eq!(
        schema.canonical(),
        r#"{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"home","type":"com.acme.Address"},{"name":"work","type":["null","Address"],"default":null}]}"#
    );
    assert!(schema.normalized().contains(r#"["null","com.acme.Address"]"#), "{}", schema.normalized());
    assert!(!schema.canonical().contains("street"));
    assert_eq!(schema.references().len(), 1);
    assert_eq!(schema.full_name().as_deref(), Some("com.acme.Customer"));
    // The same reference listed twice (reached through two paths) is one reference.
    AvroSchema::parse(text, &[address_reference(), address_reference()]).unwrap();
    // Without the reference, the name is unknown.
    assert!(AvroSchema::parse(text, &[]).is_err());
}

#[test]
fn full_name_is_none_for_unnamed_types() {
    assert_eq!(parse(r#"{"type":"array","items":"int"}"#).unwrap().full_name(), None);
    assert_eq!(
        parse(r#"{"type":"fixed","name":"F","namespace":"x","size":2}"#).unwrap().full_name().as_deref(),
        Some("x.F")
    );
}
