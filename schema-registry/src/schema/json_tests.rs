//! Tests of JSON Schema parsing: what is accepted, what is refused and why, and the canonical text.

use super::*;

fn reference(name: &str, schema: &str) -> ResolvedReference {
    ResolvedReference { name: name.to_string(), schema: schema.to_string() }
}

#[test]
fn accepts_a_plain_object_schema_and_sorts_its_keys() {
    let schema = JsonSchema::parse(
        r#"{ "type": "object", "properties": { "b": {"type": "string"}, "a": {"type": "integer"} } }"#,
        &[],
    )
    .unwrap();
    assert_eq!(schema.canonical(), r#"{"properties":{"a":{"type":"integer"},"b":{"type":"string"}},"type":"object"}"#);
    assert_eq!(schema.normalized(), schema.canonical());
    assert_eq!(schema.draft(), Draft::Draft7);
}

#[test]
fn canonical_text_ignores_whitespace_and_key_order() {
    let a = JsonSchema::parse(r#"{"type":"string","maxLength":3}"#, &[]).unwrap();
    let b = JsonSchema::parse("{\n  \"maxLength\": 3,\n  \"type\": \"string\"\n}", &[]).unwrap();
    assert_eq!(a.canonical(), b.canonical());
}

#[test]
fn accepts_boolean_schemas() {
    assert_eq!(JsonSchema::parse("true", &[]).unwrap().canonical(), "true");
    assert_eq!(JsonSchema::parse("false", &[]).unwrap().canonical(), "false");
}

#[test]
fn refuses_text_that_is_not_json() {
    let err = JsonSchema::parse(r#"{"type": "string""#, &[]).unwrap_err();
    assert!(err.0.contains("not valid JSON"), "{err}");
}

#[test]
fn refuses_json_that_is_not_a_schema_object() {
    let err = JsonSchema::parse("42", &[]).unwrap_err();
    assert!(err.0.contains("must be a JSON object"), "{err}");
}

#[test]
fn refuses_a_schema_that_breaks_its_metaschema() {
    let err = JsonSchema::parse(r#"{"type": "strung"}"#, &[]).unwrap_err();
    assert!(err.0.starts_with("Invalid JSON Schema"), "{err}");
    let err = JsonSchema::parse(r#"{"type": "object", "properties": {"a": {"minLength": -1}}}"#, &[]).unwrap_err();
    assert!(err.0.contains("#/properties/a/minLength"), "{err}");
}

#[test]
fn reads_the_draft_from_schema_and_defaults_unknown_ones_to_draft_7() {
    let modern =
        JsonSchema::parse(r#"{"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": [true]}"#, &[])
            .unwrap();
    assert_eq!(modern.draft(), Draft::Draft202012);
    let old =
        JsonSchema::parse(r#"{"$schema": "http://json-schema.org/draft-04/schema#", "type": "string"}"#, &[]).unwrap();
    assert_eq!(old.draft(), Draft::Draft4);
    let custom = JsonSchema::parse(r#"{"$schema": "https://example.com/my-dialect", "type": "string"}"#, &[]).unwrap();
    assert_eq!(custom.draft(), Draft::Draft7);
    // The text keeps what was registered, unknown `$schema` included.
    assert!(custom.canonical().contains("my-dialect"));
}

#[test]
fn resolves_local_references() {
    JsonSchema::parse(
        r##"{"type": "object", "properties": {"a": {"$ref": "#/definitions/A"}}, "definitions": {"A": {"type": "string"}}}"##,
        &[],
    )
    .unwrap();
}

#[test]
fn refuses_a_local_reference_that_points_nowhere() {
    let err = JsonSchema::parse(r##"{"properties": {"a": {"$ref": "#/definitions/Missing"}}}"##, &[]).unwrap_err();
    assert!(err.0.starts_with("Invalid JSON Schema"), "{err}");
}

#[test]
fn resolves_references_by_name_without_fetching() {
    let address = reference("address.json", r#"{"type": "object", "properties": {"street": {"type": "string"}}}"#);
    let schema =
        JsonSchema::parse(r#"{"properties": {"home": {"$ref": "address.json"}}}"#, std::slice::from_ref(&address))
            .unwrap();
    assert_eq!(schema.references.len(), 1);
    // The same name against a schema with an `$id`: the reference lives next to it.
    JsonSchema::parse(
        r#"{"$id": "https://example.com/schemas/customer.json", "properties": {"home": {"$ref": "address.json"}}}"#,
        &[address],
    )
    .unwrap();
}

#[test]
fn refuses_a_reference_that_was_not_supplied() {
    let err = JsonSchema::parse(r#"{"properties": {"home": {"$ref": "address.json"}}}"#, &[]).unwrap_err();
    assert!(err.0.starts_with("Invalid JSON Schema"), "{err}");
    // An absolute URL is not fetched either.
    let err = JsonSchema::parse(r#"{"$ref": "https://example.com/never-fetched.json"}"#, &[]).unwrap_err();
    assert!(err.0.starts_with("Invalid JSON Schema"), "{err}");
}

#[test]
fn refuses_a_reference_that_is_not_json() {
    let err = JsonSchema::parse(r#"{"$ref": "a.json"}"#, &[reference("a.json", "{nope")]).unwrap_err();
    assert!(err.0.contains("\"a.json\""), "{err}");
}

#[test]
fn references_may_reference_each_other() {
    let street = reference("street.json", r#"{"type": "string"}"#);
    let address = reference("address.json", r#"{"properties": {"street": {"$ref": "street.json"}}}"#);
    JsonSchema::parse(r#"{"properties": {"home": {"$ref": "address.json"}}}"#, &[street, address]).unwrap();
}
