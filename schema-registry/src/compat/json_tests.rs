//! JSON Schema compatibility, table-driven: each row is an old and a new schema with the expected verdict
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

const ROWS: &[Row] = &[
    row(
        "identical object schemas",
        r#"{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}"#,
        r#"{"required":["a"],"properties":{"a":{"type":"string"}},"type":"object"}"#,
        true,
        true,
    ),
    row(
        "optional property added to an open content model",
        r#"{"type":"object","properties":{"a":{"type":"string"}}}"#,
        r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}"#,
        false,
        true,
    ),
    row(
        "property removed from an open content model",
        r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}"#,
        r#"{"type":"object","properties":{"a":{"type":"string"}}}"#,
        true,
        false,
    ),
    row(
        "optional property added to a closed content model",
        r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#,
        r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":false}"#,
        true,
        false,
    ),
    row(
        "required property without default added to a closed content model",
        r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#,
        r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["b"],"additionalProperties":false}"#,
        false,
        false,
    ),
    row(
        "required property with a default added to a closed content model",
        r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#,
        r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer","default":0}},"required":["b"],"additionalProperties":false}"#,
        true,
        false,
    ),
    row(
        "existing property made required",
        r#"{"type":"object","properties":{"a":{"type":"string"}}}"#,
        r#"{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}"#,
        false,
        true,
    ),
    row(
        "property added under a partially open content model that covers it",
        r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}"#,
        r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"additionalProperties":{"type":"string"}}"#,
        true,
        true,
    ),
    row(
        "property added under a partially open content model that does not cover it",
        r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}"#,
        r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"number"}},"additionalProperties":{"type":"string"}}"#,
        false,
        false,
    ),
    row(
        "property added matching a patternProperties regex of the old schema",
        r#"{"type":"object","additionalProperties":false,"patternProperties":{"^I_":{"type":"integer"}}}"#,
        r#"{"type":"object","additionalProperties":false,"patternProperties":{"^I_":{"type":"integer"}},"properties":{"I_1":{"type":"number"}}}"#,
        true,
        false,
    ),
    row(
        "additionalProperties false added",
        r#"{"type":"object","properties":{"a":{"type":"string"}}}"#,
        r#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#,
        false,
        true,
    ),
    row("integer widened to number", r#"{"type":"integer"}"#, r#"{"type":"number"}"#, true, false),
    row("string changed to number", r#"{"type":"string"}"#, r#"{"type":"number"}"#, false, false),
    row("anything may become the empty schema", r#"{"type":"string","maxLength":3}"#, r#"{}"#, true, false),
    row("string made nullable with a type list", r#"{"type":"string"}"#, r#"{"type":["string","null"]}"#, true, false),
    row(
        "enum value added",
        r#"{"type":"string","enum":["red","green"]}"#,
        r#"{"type":"string","enum":["red","green","blue"]}"#,
        true,
        false,
    ),
    row(
        "enum value replaced",
        r#"{"type":"string","enum":["red","green"]}"#,
        r#"{"type":"string","enum":["red","blue"]}"#,
        false,
        false,
    ),
    row("enum removed altogether", r#"{"type":"string","enum":["red"]}"#, r#"{"type":"string"}"#, true, false),
    row("maxLength lowered", r#"{"type":"string","maxLength":10}"#, r#"{"type":"string","maxLength":5}"#, false, true),
    row("maxLength added", r#"{"type":"string"}"#, r#"{"type":"string","maxLength":5}"#, false, true),
    row("minLength lowered", r#"{"type":"string","minLength":3}"#, r#"{"type":"string","minLength":1}"#, true, false),
    row("pattern changed", r#"{"type":"string","pattern":"^a"}"#, r#"{"type":"string","pattern":"^b"}"#, false, false),
    row("minimum raised", r#"{"type":"number","minimum":0}"#, r#"{"type":"number","minimum":10}"#, false, true),
    row("maximum raised", r#"{"type":"number","maximum":10}"#, r#"{"type":"number","maximum":100}"#, true, false),
    row(
        "exclusiveMaximum lowered",
        r#"{"type":"number","exclusiveMaximum":10}"#,
        r#"{"type":"number","exclusiveMaximum":5}"#,
        false,
        true,
    ),
    row(
        "multipleOf reduced to a divisor",
        r#"{"type":"integer","multipleOf":10}"#,
        r#"{"type":"integer","multipleOf":5}"#,
        true,
        false,
    ),
    row("minItems raised", r#"{"type":"array","minItems":1}"#, r#"{"type":"array","minItems":2}"#, false, true),
    row("maxItems removed", r#"{"type":"array","maxItems":3}"#, r#"{"type":"array"}"#, true, false),
    row("uniqueItems added", r#"{"type":"array"}"#, r#"{"type":"array","uniqueItems":true}"#, false, true),
    row(
        "items type changed",
        r#"{"type":"array","items":{"type":"string"}}"#,
        r#"{"type":"array","items":{"type":"integer"}}"#,
        false,
        false,
    ),
    row(
        "items widened from integer to number",
        r#"{"type":"array","items":{"type":"integer"}}"#,
        r#"{"type":"array","items":{"type":"number"}}"#,
        true,
        false,
    ),
    row("items schema added", r#"{"type":"array"}"#, r#"{"type":"array","items":{"type":"string"}}"#, false, true),
    row(
        "2020-12 tuple item added to a closed tuple",
        r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","prefixItems":[{"type":"string"}],"items":false}"#,
        r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}"#,
        true,
        false,
    ),
    row(
        "anyOf gains an alternative",
        r#"{"anyOf":[{"type":"string"},{"type":"integer"}]}"#,
        r#"{"anyOf":[{"type":"string"},{"type":"integer"},{"type":"null"}]}"#,
        true,
        false,
    ),
    row(
        "oneOf loses an alternative",
        r#"{"oneOf":[{"type":"string"},{"type":"integer"}]}"#,
        r#"{"oneOf":[{"type":"string"}]}"#,
        false,
        true,
    ),
    row(
        "oneOf alternative changes type",
        r#"{"oneOf":[{"type":"string"},{"type":"integer"}]}"#,
        r#"{"oneOf":[{"type":"string"},{"type":"boolean"}]}"#,
        false,
        false,
    ),
    row(
        "anyOf changed to oneOf",
        r#"{"anyOf":[{"type":"string"},{"type":"integer"}]}"#,
        r#"{"oneOf":[{"type":"string"},{"type":"integer"}]}"#,
        false,
        true,
    ),
    row("not excludes less", r#"{"not":{"type":"number"}}"#, r#"{"not":{"type":"integer"}}"#, true, false),
    row(
        "nested object property changes type",
        r#"{"type":"object","properties":{"addr":{"type":"object","properties":{"zip":{"type":"string"}}}}}"#,
        r#"{"type":"object","properties":{"addr":{"type":"object","properties":{"zip":{"type":"integer"}}}}}"#,
        false,
        false,
    ),
    row(
        "nested closed object gains an optional property",
        r#"{"type":"object","properties":{"addr":{"type":"object","properties":{"zip":{"type":"string"}},"additionalProperties":false}}}"#,
        r#"{"type":"object","properties":{"addr":{"type":"object","properties":{"zip":{"type":"string"},"city":{"type":"string"}},"additionalProperties":false}}}"#,
        true,
        false,
    ),
    row(
        "inline schema moved into definitions",
        r#"{"type":"object","properties":{"a":{"type":"string"}}}"#,
        r##"{"type":"object","properties":{"a":{"$ref":"#/definitions/A"}},"definitions":{"A":{"type":"string"}}}"##,
        true,
        true,
    ),
    row(
        "referenced definition changes type",
        r##"{"type":"array","items":{"$ref":"#/definitions/A"},"definitions":{"A":{"type":"string"}}}"##,
        r##"{"type":"array","items":{"$ref":"#/definitions/A"},"definitions":{"A":{"type":"number"}}}"##,
        false,
        false,
    ),
    row(
        "schema with an $id and a local reference, property narrowed",
        r##"{"$id":"https://example.com/s.json","type":"object","properties":{"a":{"$ref":"#/definitions/A"}},"definitions":{"A":{"type":"number"}}}"##,
        r##"{"$id":"https://example.com/s.json","type":"object","properties":{"a":{"$ref":"#/definitions/A"}},"definitions":{"A":{"type":"integer"}}}"##,
        false,
        true,
    ),
    row(
        "recursive schema unchanged",
        r##"{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#"}}}}"##,
        r##"{"type":"object","properties":{"children":{"type":"array","items":{"$ref":"#"}},"name":{"type":"string"}}}"##,
        true,
        true,
    ),
    row(
        "recursive schema gains a constraint",
        r##"{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#"}}}}"##,
        r##"{"type":"object","properties":{"name":{"type":"string","maxLength":8},"children":{"type":"array","items":{"$ref":"#"}}}}"##,
        false,
        true,
    ),
];

fn parse(text: &str, references: &[ResolvedReference]) -> JsonSchema {
    JsonSchema::parse(text, references).unwrap_or_else(|e| panic!("{text} does not parse: {e}"))
}

#[test]
fn compatibility_table() {
    assert!(ROWS.len() >= 20);
    let mut failures = Vec::new();
    for row in ROWS {
        let (old, new) = (parse(row.old, &[]), parse(row.new, &[]));
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
    let old = parse(r#"{"type":"object","properties":{"a":{"type":"string"}}}"#, &[]);
    let new = parse(r#"{"type":"object","properties":{"a":{"type":"string"},"x":{"type":"integer"}}}"#, &[]);
    let messages = can_read(&new, &old);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].starts_with("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/x: "), "{messages:?}");

    let old = parse(r#"{"properties":{"addr":{"properties":{"zip":{"type":"string"}}}}}"#, &[]);
    let new = parse(r#"{"properties":{"addr":{"properties":{"zip":{"type":"integer"}}}}}"#, &[]);
    let messages = can_read(&new, &old);
    assert!(messages.iter().any(|m| m.starts_with("TYPE_CHANGED #/properties/addr/properties/zip: ")), "{messages:?}");

    let old = parse(r#"{"type":"string","maxLength":10}"#, &[]);
    let new = parse(r#"{"type":"string","maxLength":5}"#, &[]);
    assert_eq!(can_read(&new, &old).len(), 1);
    assert!(can_read(&new, &old)[0].starts_with("MAX_LENGTH_DECREASED #/maxLength: "));
}

#[test]
fn follows_references_to_other_registered_schemas() {
    let doc = r#"{"type":"object","properties":{"home":{"$ref":"address.json"}}}"#;
    let string_zip = [ResolvedReference {
        name: "address.json".into(),
        schema: r#"{"type":"object","properties":{"zip":{"type":"string"}}}"#.into(),
    }];
    let integer_zip = [ResolvedReference {
        name: "address.json".into(),
        schema: r#"{"type":"object","properties":{"zip":{"type":"integer"}}}"#.into(),
    }];
    let (old, new) = (parse(doc, &string_zip), parse(doc, &integer_zip));
    let messages = can_read(&new, &old);
    assert!(messages.iter().any(|m| m.starts_with("TYPE_CHANGED #/properties/home/properties/zip")), "{messages:?}");
    assert!(can_read(&old, &old).is_empty());
}
