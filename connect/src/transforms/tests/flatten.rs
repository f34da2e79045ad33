//! Flatten$Key / Flatten$Value rows: nested structs and maps, delimiters, optional parents, errors.

use super::*;
use Expect::*;

#[test]
fn flatten_table() {
    let geo = Schema::structure(vec![("lat".into(), prim(SchemaType::Float64))]).optional().shared();
    let addr = schema(&[("city", prim(SchemaType::String)), ("geo", geo.clone())]);
    let tags = Schema::array(prim(SchemaType::String)).shared();
    let nested = schema(&[("id", prim(SchemaType::Int32)), ("addr", addr.clone()), ("tags", tags.clone())]);
    let flat = |d: &str| {
        schema(&[
            ("id", prim(SchemaType::Int32)),
            (&format!("addr{d}city"), prim(SchemaType::String)),
            (&format!("addr{d}geo{d}lat"), opt(SchemaType::Float64)),
            ("tags", tags.clone()),
        ])
    };
    let input = |geo_value: Value| {
        srec(
            &nested,
            st(&nested, vec![Value::Int32(1), st(&addr, vec![s("Oslo"), geo_value]), Value::Array(vec![s("x")])]),
        )
    };
    let dot = flat(".");
    let underscore = flat("_");

    run_table(
        "org.apache.kafka.connect.transforms.Flatten$Value",
        vec![
            case(
                "nested structs with the default delimiter",
                &[],
                input(st(&geo, vec![Value::Float64(59.9)])),
                Record(srec(
                    &dot,
                    st(&dot, vec![Value::Int32(1), s("Oslo"), Value::Float64(59.9), Value::Array(vec![s("x")])]),
                )),
            ),
            case(
                "null optional struct gives null leaves",
                &[("delimiter", "_")],
                input(Value::Null),
                Record(srec(
                    &underscore,
                    st(&underscore, vec![Value::Int32(1), s("Oslo"), Value::Null, Value::Array(vec![s("x")])]),
                )),
            ),
            case(
                "schemaless nested maps",
                &[],
                rec(map(&[
                    ("a", map(&[("b", Value::Int64(1)), ("c", map(&[("d", Value::Int64(2))]))])),
                    ("e", Value::Array(vec![Value::Int64(1)])),
                ])),
                Record(rec(map(&[
                    ("a.b", Value::Int64(1)),
                    ("a.c.d", Value::Int64(2)),
                    ("e", Value::Array(vec![Value::Int64(1)])),
                ]))),
            ),
            case(
                "schemaless struct inside a map",
                &[],
                rec(map(&[("a", st(&geo, vec![Value::Float64(1.0)]))])),
                Fails("does not support struct for record without schemas (for field a)"),
            ),
            case("schemaless null", &[], rec(Value::Null), Record(rec(Value::Null))),
            case(
                "schemaless non-map",
                &[],
                rec(s("x")),
                Fails("Only Map objects supported in absence of schema for [flattening]"),
            ),
            case(
                "schema but not a struct",
                &[],
                srec(&prim(SchemaType::Int32), Value::Int32(1)),
                Fails("Only Struct objects supported for [flattening]"),
            ),
        ],
    );

    let key = schema(&[("k", schema(&[("x", prim(SchemaType::Int32))]))]);
    let flat_key = schema(&[("k.x", prim(SchemaType::Int32))]);
    run_table(
        "org.apache.kafka.connect.transforms.Flatten$Key",
        vec![case(
            "key",
            &[],
            krec(Some(&key), st(&key, vec![st(&key.fields[0].schema, vec![Value::Int32(5)])])),
            Record(krec(Some(&flat_key), st(&flat_key, vec![Value::Int32(5)]))),
        )],
    );
}
