//! DropHeaders, InsertHeader and HeaderFrom$Key / HeaderFrom$Value rows.

use super::*;
use crate::data::DATE;
use crate::record::Header;
use crate::transforms::util::logical_schema;
use Expect::*;

fn header(key: &str, schema: Option<Arc<Schema>>, value: Value) -> Header {
    Header { key: key.to_string(), schema, value }
}

fn with_headers(mut r: ConnectRecord, headers: Vec<Header>) -> ConnectRecord {
    r.headers = headers;
    r
}

#[test]
fn drop_headers_table() {
    let input = with_headers(
        rec(s("v")),
        vec![
            header("a", None, s("1")),
            header("c", None, s("2")),
            header("a", None, s("3")),
            header("b", None, s("4")),
        ],
    );
    run_table(
        "org.apache.kafka.connect.transforms.DropHeaders",
        vec![
            case(
                "drops every header with a listed key",
                &[("headers", "a, b")],
                input.clone(),
                Record(with_headers(rec(s("v")), vec![header("c", None, s("2"))])),
            ),
            case("unlisted keys stay", &[("headers", "zzz")], input.clone(), Record(input.clone())),
            case("headers is required", &[], input.clone(), BadConfig("headers")),
            case("headers must not be empty", &[("headers", "")], input, BadConfig("headers")),
        ],
    );
}

#[test]
fn insert_header_table() {
    let inserted =
        |schema: Arc<Schema>, value: Value| Record(with_headers(rec(s("v")), vec![header("h", Some(schema), value)]));
    run_table(
        "org.apache.kafka.connect.transforms.InsertHeader",
        vec![
            case(
                "string literal",
                &[("header", "h"), ("value.literal", "hello world")],
                rec(s("v")),
                inserted(prim(SchemaType::String), s("hello world")),
            ),
            case(
                "small integer is int8",
                &[("header", "h"), ("value.literal", "42")],
                rec(s("v")),
                inserted(prim(SchemaType::Int8), Value::Int8(42)),
            ),
            case(
                "larger integer is int32",
                &[("header", "h"), ("value.literal", "70000")],
                rec(s("v")),
                inserted(prim(SchemaType::Int32), Value::Int32(70_000)),
            ),
            case(
                "boolean",
                &[("header", "h"), ("value.literal", "true")],
                rec(s("v")),
                inserted(prim(SchemaType::Boolean), Value::Boolean(true)),
            ),
            case(
                "exact float is float32",
                &[("header", "h"), ("value.literal", "3.5")],
                rec(s("v")),
                inserted(prim(SchemaType::Float32), Value::Float32(3.5)),
            ),
            case(
                "inexact float is float64",
                &[("header", "h"), ("value.literal", "0.1")],
                rec(s("v")),
                inserted(prim(SchemaType::Float64), Value::Float64(0.1)),
            ),
            case(
                "ISO date",
                &[("header", "h"), ("value.literal", "2023-11-14")],
                rec(s("v")),
                inserted(logical_schema(SchemaType::Int32, DATE).shared(), Value::Int32(19_675)),
            ),
            case("header is required", &[("value.literal", "x")], rec(s("v")), BadConfig("header")),
            case("value.literal is required", &[("header", "h")], rec(s("v")), BadConfig("value.literal")),
        ],
    );
}

#[test]
fn header_from_table() {
    let order =
        schema(&[("id", prim(SchemaType::Int64)), ("name", opt(SchemaType::String)), ("qty", prim(SchemaType::Int32))]);
    let moved = schema(&[("qty", prim(SchemaType::Int32))]);
    let value = st(&order, vec![Value::Int64(1), s("pen"), Value::Int32(3)]);
    let copied_headers = vec![
        header("h_id", Some(prim(SchemaType::Int64)), Value::Int64(1)),
        header("h_name", Some(opt(SchemaType::String)), s("pen")),
    ];
    run_table(
        "org.apache.kafka.connect.transforms.HeaderFrom$Value",
        vec![
            case(
                "copy keeps the fields",
                &[("fields", "id,name"), ("headers", "h_id,h_name"), ("operation", "copy")],
                srec(&order, value.clone()),
                Record(with_headers(srec(&order, value.clone()), copied_headers.clone())),
            ),
            case(
                "move drops them from the schema",
                &[("fields", "id,name"), ("headers", "h_id,h_name"), ("operation", "move")],
                srec(&order, value.clone()),
                Record(with_headers(srec(&moved, st(&moved, vec![Value::Int32(3)])), copied_headers)),
            ),
            case(
                "schemaless move",
                &[("fields", "a"), ("headers", "ha"), ("operation", "move")],
                rec(map(&[("a", Value::Int64(1)), ("b", Value::Int64(2))])),
                Record(with_headers(rec(map(&[("b", Value::Int64(2))])), vec![header("ha", None, Value::Int64(1))])),
            ),
            case(
                "schemaless missing field gives a null header",
                &[("fields", "zz"), ("headers", "hz"), ("operation", "copy")],
                rec(map(&[("a", Value::Int64(1))])),
                Record(with_headers(rec(map(&[("a", Value::Int64(1))])), vec![header("hz", None, Value::Null)])),
            ),
            case(
                "field not in the schema",
                &[("fields", "nope"), ("headers", "h"), ("operation", "copy")],
                srec(&order, value.clone()),
                Fails("field nope is not in the schema"),
            ),
            case(
                "schemaless non-map",
                &[("fields", "a"), ("headers", "h"), ("operation", "copy")],
                rec(s("x")),
                Fails("Only Map objects supported in absence of schema for [header copy]"),
            ),
            case(
                "counts differ",
                &[("fields", "a,b"), ("headers", "h"), ("operation", "copy")],
                rec(s("x")),
                BadConfig("headers"),
            ),
            case(
                "bad operation",
                &[("fields", "a"), ("headers", "h"), ("operation", "cut")],
                rec(s("x")),
                BadConfig("operation"),
            ),
            case("operation is required", &[("fields", "a"), ("headers", "h")], rec(s("x")), BadConfig("operation")),
        ],
    );
    let key = schema(&[("id", prim(SchemaType::Int32))]);
    run_table(
        "org.apache.kafka.connect.transforms.HeaderFrom$Key",
        vec![case(
            "key copy",
            &[("fields", "id"), ("headers", "kid"), ("operation", "copy")],
            krec(Some(&key), st(&key, vec![Value::Int32(8)])),
            Record(with_headers(
                krec(Some(&key), st(&key, vec![Value::Int32(8)])),
                vec![header("kid", Some(prim(SchemaType::Int32)), Value::Int32(8))],
            )),
        )],
    );
}
