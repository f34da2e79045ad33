//! MaskField$Key / MaskField$Value rows: empty values per type, custom replacements, errors.

use super::*;
use crate::data::DECIMAL;
use Expect::*;

#[test]
fn mask_field_table() {
    let all = schema(&[
        ("i", prim(SchemaType::Int32)),
        ("s", prim(SchemaType::String)),
        ("b", prim(SchemaType::Boolean)),
        ("f", prim(SchemaType::Float64)),
        ("arr", Schema::array(prim(SchemaType::Int32)).shared()),
        ("keep", prim(SchemaType::String)),
    ]);
    let all_in = st(
        &all,
        vec![
            Value::Int32(5),
            s("secret"),
            Value::Boolean(true),
            Value::Float64(2.5),
            Value::Array(vec![Value::Int32(1)]),
            s("ok"),
        ],
    );
    let all_out = st(
        &all,
        vec![Value::Int32(0), s(""), Value::Boolean(false), Value::Float64(0.0), Value::Array(vec![]), s("ok")],
    );
    let nums = schema(&[
        ("i", prim(SchemaType::Int32)),
        ("l", prim(SchemaType::Int64)),
        ("s", prim(SchemaType::String)),
        ("b", opt(SchemaType::Boolean)),
    ]);
    let nums_in = st(&nums, vec![Value::Int32(5), Value::Int64(6), s("x"), Value::Null]);
    let decimal = Schema::primitive(SchemaType::Bytes).with_name(DECIMAL).with_parameter("scale", "2").shared();
    let dec = schema(&[("d", decimal)]);

    run_table(
        "org.apache.kafka.connect.transforms.MaskField$Value",
        vec![
            case(
                "empty values by type",
                &[("fields", "i,s,b,f,arr")],
                srec(&all, all_in.clone()),
                Record(srec(&all, all_out)),
            ),
            case(
                "numeric replacement for numbers and strings; null stays null",
                &[("fields", "i,l,s,b"), ("replacement", "42")],
                srec(&nums, nums_in.clone()),
                Record(srec(&nums, st(&nums, vec![Value::Int32(42), Value::Int64(42), s("42"), Value::Null]))),
            ),
            case(
                "replacement on a boolean",
                &[("fields", "b"), ("replacement", "x")],
                srec(&all, all_in.clone()),
                Fails("Cannot mask value of type boolean with custom replacement"),
            ),
            case(
                "replacement that is not a number",
                &[("fields", "i"), ("replacement", "abc")],
                srec(&all, all_in),
                Fails("Unable to convert abc"),
            ),
            case(
                "decimal masks to zero and takes a replacement",
                &[("fields", "d"), ("replacement", "1.5")],
                srec(&dec, st(&dec, vec![Value::Bytes(vec![0x30, 0x39])])),
                // 1.5 at scale 2 is unscaled 150, which needs a leading zero byte to stay positive.
                Record(srec(&dec, st(&dec, vec![Value::Bytes(vec![0, 150])]))),
            ),
            case(
                "schemaless",
                &[("fields", "a,b")],
                rec(map(&[("a", Value::Int64(5)), ("b", s("x")), ("c", s("y"))])),
                Record(rec(map(&[("a", Value::Int64(0)), ("b", s("")), ("c", s("y"))]))),
            ),
            case(
                "schemaless missing field becomes null, as in Kafka",
                &[("fields", "z")],
                rec(map(&[("a", Value::Int64(5))])),
                Record(rec(map(&[("a", Value::Int64(5)), ("z", Value::Null)]))),
            ),
            case(
                "bytes cannot be masked",
                &[("fields", "a")],
                rec(map(&[("a", Value::Bytes(vec![1]))])),
                Fails("Cannot mask value of type: bytes"),
            ),
            case(
                "schemaless non-map",
                &[("fields", "a")],
                rec(s("x")),
                Fails("Only Map objects supported in absence of schema for [mask fields]"),
            ),
            case("fields is required", &[], rec(s("x")), BadConfig("fields")),
            case("empty replacement", &[("fields", "a"), ("replacement", "")], rec(s("x")), BadConfig("replacement")),
        ],
    );
    run_table(
        "org.apache.kafka.connect.transforms.MaskField$Key",
        vec![case(
            "key",
            &[("fields", "id")],
            krec(None, map(&[("id", Value::Int64(9))])),
            Record(krec(None, map(&[("id", Value::Int64(0))]))),
        )],
    );
}
