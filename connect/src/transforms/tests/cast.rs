//! Cast$Key / Cast$Value rows: whole-value and field casts, Java's conversions, logical types, errors.

use super::*;
use crate::data::{DATE, DECIMAL, TIMESTAMP};
use crate::transforms::util::logical_schema;
use Expect::*;

#[test]
fn cast_value_table() {
    let fields = schema(&[
        ("a", prim(SchemaType::Int32)),
        ("b", prim(SchemaType::String)),
        ("c", opt(SchemaType::Float64)),
        ("d", prim(SchemaType::Boolean)),
    ]);
    let fields_cast = schema(&[
        ("a", prim(SchemaType::String)),
        ("b", prim(SchemaType::Int64)),
        ("c", opt(SchemaType::Int32)),
        ("d", prim(SchemaType::Int8)),
    ]);
    let fields_in =
        srec(&fields, st(&fields, vec![Value::Int32(7), s("123"), Value::Float64(3.9), Value::Boolean(true)]));

    let temporal = schema(&[
        ("ts", logical_schema(SchemaType::Int64, TIMESTAMP).shared()),
        ("day", logical_schema(SchemaType::Int32, DATE).shared()),
    ]);
    let temporal_cast = schema(&[("ts", prim(SchemaType::String)), ("day", prim(SchemaType::String))]);
    let decimal = Schema::primitive(SchemaType::Bytes).with_name(DECIMAL).with_parameter("scale", "2").shared();
    let dec = schema(&[("price", decimal.clone()), ("copy", decimal)]);
    let dec_cast = schema(&[("price", prim(SchemaType::Float64)), ("copy", prim(SchemaType::String))]);
    let dec_bytes = Value::Bytes(vec![0x30, 0x39]); // 12345
    let defaulted =
        schema(&[("a", Schema::primitive(SchemaType::Int32).optional().with_default(Value::Int32(5)).shared())]);
    let defaulted_cast =
        schema(&[("a", Schema::primitive(SchemaType::String).optional().with_default(s("5")).shared())]);
    let whole_struct = schema(&[("a", prim(SchemaType::Int32))]);

    run_table(
        "org.apache.kafka.connect.transforms.Cast$Value",
        vec![
            case(
                "whole value int64 to int32",
                &[("spec", "int32")],
                srec(&prim(SchemaType::Int64), Value::Int64(42)),
                Record(srec(&prim(SchemaType::Int32), Value::Int32(42))),
            ),
            case(
                "struct fields to other types",
                &[("spec", "a:string, b:int64, c:int32, d:int8")],
                fields_in.clone(),
                Record(with_value(
                    fields_in.clone(),
                    Some(fields_cast.clone()),
                    st(&fields_cast, vec![s("7"), Value::Int64(123), Value::Int32(3), Value::Int8(1)]),
                )),
            ),
            case(
                "narrowing wraps like Java",
                &[("spec", "int8")],
                srec(&prim(SchemaType::Int32), Value::Int32(300)),
                Record(srec(&prim(SchemaType::Int8), Value::Int8(44))),
            ),
            case(
                "string out of range for int8",
                &[("spec", "int8")],
                srec(&prim(SchemaType::String), s("300")),
                Fails("Value (300) was out of range for requested data type"),
            ),
            case(
                "bytes to string is base64",
                &[("spec", "string")],
                srec(&prim(SchemaType::Bytes), Value::Bytes(vec![1, 2, 3])),
                Record(srec(&prim(SchemaType::String), s("AQID"))),
            ),
            case(
                "bytes to int32 is unsupported",
                &[("spec", "int32")],
                srec(&prim(SchemaType::Bytes), Value::Bytes(vec![1])),
                Fails("Unexpected type in Cast transformation"),
            ),
            case(
                "a whole struct cannot be cast",
                &[("spec", "int32")],
                srec(&whole_struct, st(&whole_struct, vec![Value::Int32(1)])),
                Fails("does not support casting from STRUCT"),
            ),
            case(
                "field casts need a struct",
                &[("spec", "a:int32")],
                srec(&prim(SchemaType::Int32), Value::Int32(1)),
                Fails("Only Struct objects supported for [cast types], found: int32"),
            ),
            case(
                "float to string uses Java's text",
                &[("spec", "string")],
                srec(&prim(SchemaType::Float64), Value::Float64(1e10)),
                Record(srec(&prim(SchemaType::String), s("1.0E10"))),
            ),
            case(
                "float to boolean truncates first",
                &[("spec", "boolean")],
                srec(&prim(SchemaType::Float64), Value::Float64(0.5)),
                Record(srec(&prim(SchemaType::Boolean), Value::Boolean(false))),
            ),
            case(
                "timestamp and date fields to ISO-8601 strings",
                &[("spec", "ts:string,day:string")],
                srec(&temporal, st(&temporal, vec![Value::Int64(TS), Value::Int32(19_675)])),
                Record(with_value(
                    srec(&temporal, Value::Null),
                    Some(temporal_cast.clone()),
                    st(&temporal_cast, vec![s("2023-11-14T22:13:20.123Z"), s("2023-11-14")]),
                )),
            ),
            case(
                "whole Timestamp to string drops the logical name",
                &[("spec", "string")],
                srec(&logical_schema(SchemaType::Int64, TIMESTAMP).shared(), Value::Int64(TS)),
                Record(srec(&prim(SchemaType::String), s("2023-11-14T22:13:20.123Z"))),
            ),
            case(
                "whole Date to int32 keeps the day count",
                &[("spec", "int32")],
                srec(&logical_schema(SchemaType::Int32, DATE).shared(), Value::Int32(19_675)),
                Record(srec(&prim(SchemaType::Int32), Value::Int32(19_675))),
            ),
            case(
                "decimal to float64 and string",
                &[("spec", "price:float64,copy:string")],
                srec(&dec, st(&dec, vec![dec_bytes.clone(), dec_bytes.clone()])),
                Record(with_value(
                    srec(&dec, Value::Null),
                    Some(dec_cast.clone()),
                    st(&dec_cast, vec![Value::Float64(123.45), s("123.45")]),
                )),
            ),
            case(
                "null field takes its default, cast",
                &[("spec", "a:string")],
                srec(&defaulted, st(&defaulted, vec![Value::Null])),
                Record(with_value(
                    srec(&defaulted, Value::Null),
                    Some(defaulted_cast.clone()),
                    st(&defaulted_cast, vec![s("5")]),
                )),
            ),
            case(
                "null field stays null without replace.null.with.default",
                &[("spec", "a:string"), ("replace.null.with.default", "false")],
                srec(&defaulted, st(&defaulted, vec![Value::Null])),
                Record(with_value(
                    srec(&defaulted, Value::Null),
                    Some(defaulted_cast.clone()),
                    st(&defaulted_cast, vec![Value::Null]),
                )),
            ),
            case(
                "schemaless fields",
                &[("spec", "a:int16,b:string")],
                rec(map(&[("a", s("5")), ("b", Value::Float64(1.5))])),
                Record(rec(map(&[("a", Value::Int16(5)), ("b", s("1.5"))]))),
            ),
            case(
                "schemaless missing field becomes null, as in Kafka",
                &[("spec", "z:int32")],
                rec(map(&[("a", Value::Int64(1))])),
                Record(rec(map(&[("a", Value::Int64(1)), ("z", Value::Null)]))),
            ),
            case(
                "schemaless whole value",
                &[("spec", "boolean")],
                rec(Value::Int64(5)),
                Record(rec(Value::Boolean(true))),
            ),
            case(
                "schemaless string to boolean ignores case",
                &[("spec", "boolean")],
                rec(s("TRUE")),
                Record(rec(Value::Boolean(true))),
            ),
            case(
                "schemaless map values cannot be cast",
                &[("spec", "a:string")],
                rec(map(&[("a", map(&[]))])),
                Fails("does not support casting from MAP"),
            ),
            case("tombstone passes through", &[("spec", "int32")], rec(Value::Null), Record(rec(Value::Null))),
            case("missing spec", &[], rec(Value::Null), BadConfig("spec")),
            case("empty spec", &[("spec", "")], rec(Value::Null), BadConfig("spec")),
            case("bytes is not a target", &[("spec", "a:bytes")], rec(Value::Null), BadConfig("spec")),
            case("unknown type", &[("spec", "a:decimal")], rec(Value::Null), BadConfig("spec")),
            case("whole cast must be alone", &[("spec", "int32,a:int64")], rec(Value::Null), BadConfig("spec")),
            case("unknown setting", &[("spec", "int32"), ("bogus", "1")], rec(Value::Null), BadConfig("bogus")),
        ],
    );
}

#[test]
fn cast_key_table() {
    run_table(
        "org.apache.kafka.connect.transforms.Cast$Key",
        vec![
            case(
                "key int32 to string",
                &[("spec", "string")],
                krec(Some(&prim(SchemaType::Int32)), Value::Int32(9)),
                Record(with_key(krec(None, Value::Null), Some(prim(SchemaType::String)), s("9"))),
            ),
            case(
                "schemaless key map field",
                &[("spec", "id:int32")],
                krec(None, map(&[("id", s("12"))])),
                Record(krec(None, map(&[("id", Value::Int32(12))]))),
            ),
        ],
    );
}
