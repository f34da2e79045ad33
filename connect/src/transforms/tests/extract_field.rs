//! ExtractField$Key / ExtractField$Value rows: structs and maps, nulls, nested paths (V2), defaults, errors.

use super::*;
use Expect::*;

#[test]
fn extract_field_value_table() {
    let order = schema(&[("id", prim(SchemaType::Int64)), ("name", opt(SchemaType::String))]);
    let optional_order = Schema::structure(vec![("id".into(), prim(SchemaType::Int64))]).optional().shared();
    let inner = schema(&[("id", prim(SchemaType::Int32))]);
    let envelope = schema(&[("after", inner.clone())]);
    let defaulted =
        schema(&[("n", Schema::primitive(SchemaType::Int32).optional().with_default(Value::Int32(7)).shared())]);
    let default_schema = Schema::primitive(SchemaType::Int32).optional().with_default(Value::Int32(7)).shared();
    let order_value = st(&order, vec![Value::Int64(42), s("pen")]);

    run_table(
        "org.apache.kafka.connect.transforms.ExtractField$Value",
        vec![
            case(
                "struct field",
                &[("field", "id")],
                srec(&order, order_value.clone()),
                Record(srec(&prim(SchemaType::Int64), Value::Int64(42))),
            ),
            case(
                "null struct gives null with the field's schema",
                &[("field", "id")],
                srec(&optional_order, Value::Null),
                Record(srec(&prim(SchemaType::Int64), Value::Null)),
            ),
            case(
                "unknown struct field",
                &[("field", "nope")],
                srec(&order, order_value.clone()),
                Fails("Unknown field: nope"),
            ),
            case(
                "schema but not a struct",
                &[("field", "id")],
                srec(&prim(SchemaType::String), s("x")),
                Fails("Only Struct objects supported for [field extraction], found: string"),
            ),
            case("map field", &[("field", "id")], rec(map(&[("id", Value::Int64(42))])), Record(rec(Value::Int64(42)))),
            case(
                "missing map field is null",
                &[("field", "nope")],
                rec(map(&[("id", Value::Int64(42))])),
                Record(rec(Value::Null)),
            ),
            case(
                "schemaless non-map",
                &[("field", "id")],
                rec(s("plain")),
                Fails("Only Map objects supported in absence of schema for [field extraction], found: string"),
            ),
            case("schemaless null passes", &[("field", "id")], rec(Value::Null), Record(rec(Value::Null))),
            case(
                "V1 takes a dotted name literally",
                &[("field", "a.b")],
                rec(map(&[("a.b", Value::Int64(5))])),
                Record(rec(Value::Int64(5))),
            ),
            case(
                "V2 nested struct path",
                &[("field", "after.id"), ("field.syntax.version", "V2")],
                srec(&envelope, st(&envelope, vec![st(&inner, vec![Value::Int32(9)])])),
                Record(srec(&prim(SchemaType::Int32), Value::Int32(9))),
            ),
            case(
                "V2 backticks quote dotted names in maps",
                &[("field", "`a.b`.c"), ("field.syntax.version", "v2")],
                rec(map(&[("a.b", map(&[("c", Value::Int64(1))]))])),
                Record(rec(Value::Int64(1))),
            ),
            case(
                "V2 unknown nested field",
                &[("field", "after.nope"), ("field.syntax.version", "V2")],
                srec(&envelope, st(&envelope, vec![st(&inner, vec![Value::Int32(9)])])),
                Fails("Unknown field: after.nope"),
            ),
            case(
                "null field reads as its default",
                &[("field", "n")],
                srec(&defaulted, st(&defaulted, vec![Value::Null])),
                Record(srec(&default_schema, Value::Int32(7))),
            ),
            case(
                "null field stays null without replace.null.with.default",
                &[("field", "n"), ("replace.null.with.default", "false")],
                srec(&defaulted, st(&defaulted, vec![Value::Null])),
                Record(srec(&default_schema, Value::Null)),
            ),
            case("missing field setting", &[], rec(Value::Null), BadConfig("field")),
            case(
                "bad syntax version",
                &[("field", "a"), ("field.syntax.version", "V3")],
                rec(Value::Null),
                BadConfig("field.syntax.version"),
            ),
            case(
                "bad boolean",
                &[("field", "a"), ("replace.null.with.default", "yes")],
                rec(Value::Null),
                BadConfig("replace.null.with.default"),
            ),
        ],
    );
}

#[test]
fn extract_field_key_table() {
    let key = schema(&[("id", prim(SchemaType::Int32))]);
    run_table(
        "org.apache.kafka.connect.transforms.ExtractField$Key",
        vec![
            case(
                "struct key",
                &[("field", "id")],
                krec(Some(&key), st(&key, vec![Value::Int32(1)])),
                Record(krec(Some(&prim(SchemaType::Int32)), Value::Int32(1))),
            ),
            case("map key", &[("field", "id")], krec(None, map(&[("id", s("a"))])), Record(krec(None, s("a")))),
        ],
    );
}
