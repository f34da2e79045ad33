//! HoistField$Key / HoistField$Value rows: wrapping in a struct or a map.

use super::*;
use Expect::*;

#[test]
fn hoist_field_table() {
    let wrapped = schema(&[("id", prim(SchemaType::Int64))]);
    let wrapped_struct = schema(&[("line", schema(&[("a", prim(SchemaType::Int32))]))]);
    let inner = schema(&[("a", prim(SchemaType::Int32))]);
    run_table(
        "org.apache.kafka.connect.transforms.HoistField$Value",
        vec![
            case(
                "primitive with schema",
                &[("field", "id")],
                srec(&prim(SchemaType::Int64), Value::Int64(42)),
                Record(srec(&wrapped, st(&wrapped, vec![Value::Int64(42)]))),
            ),
            case(
                "struct with schema",
                &[("field", "line")],
                srec(&inner, st(&inner, vec![Value::Int32(1)])),
                Record(srec(&wrapped_struct, st(&wrapped_struct, vec![st(&inner, vec![Value::Int32(1)])]))),
            ),
            case("schemaless", &[("field", "line")], rec(s("x")), Record(rec(map(&[("line", s("x"))])))),
            case("schemaless null", &[("field", "line")], rec(Value::Null), Record(rec(map(&[("line", Value::Null)])))),
            case("missing field", &[], rec(s("x")), BadConfig("field")),
        ],
    );
    run_table(
        "org.apache.kafka.connect.transforms.HoistField$Key",
        vec![case(
            "key",
            &[("field", "id")],
            krec(Some(&prim(SchemaType::Int64)), Value::Int64(1)),
            Record(krec(Some(&wrapped), st(&wrapped, vec![Value::Int64(1)]))),
        )],
    );
}
