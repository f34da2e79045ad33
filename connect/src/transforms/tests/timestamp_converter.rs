//! TimestampConverter$Key / TimestampConverter$Value rows: every source and target kind, unix precisions,
//! fields in structs and maps, nulls, errors.

use super::*;
use crate::data::{DATE, TIME, TIMESTAMP};
use crate::transforms::util::logical_schema;
use Expect::*;

const TS_DAYS: i32 = 19_675; // 2023-11-14
const TS_MS_OF_DAY: i32 = 80_000_123; // 22:13:20.123
const TS_MIDNIGHT: i64 = 1_699_920_000_000;

fn timestamp() -> Arc<Schema> {
    logical_schema(SchemaType::Int64, TIMESTAMP).shared()
}

#[test]
fn timestamp_converter_value_table() {
    let fmt = ("format", "yyyy-MM-dd HH:mm:ss.SSS");
    let date = logical_schema(SchemaType::Int32, DATE).shared();
    let time = logical_schema(SchemaType::Int32, TIME).shared();
    let event = schema(&[("id", prim(SchemaType::Int32)), ("at", opt(SchemaType::Int64))]);
    let event_ts = schema(&[
        ("id", prim(SchemaType::Int32)),
        ("at", logical_schema(SchemaType::Int64, TIMESTAMP).optional().shared()),
    ]);
    let wrong = schema(&[("at", prim(SchemaType::Boolean))]);
    let optional_unix = opt(SchemaType::Int64);
    let optional_string = opt(SchemaType::String);

    run_table(
        "org.apache.kafka.connect.transforms.TimestampConverter$Value",
        vec![
            case(
                "unix to string",
                &[("target.type", "string"), fmt],
                srec(&prim(SchemaType::Int64), Value::Int64(TS)),
                Record(srec(&prim(SchemaType::String), s("2023-11-14 22:13:20.123"))),
            ),
            case(
                "string to Timestamp",
                &[("target.type", "Timestamp"), fmt],
                srec(&prim(SchemaType::String), s("2023-11-14 22:13:20.123")),
                Record(srec(&timestamp(), Value::Int64(TS))),
            ),
            case(
                "unix to Date",
                &[("target.type", "Date")],
                srec(&prim(SchemaType::Int64), Value::Int64(TS)),
                Record(srec(&date, Value::Int32(TS_DAYS))),
            ),
            case(
                "unix to Time",
                &[("target.type", "Time")],
                srec(&prim(SchemaType::Int64), Value::Int64(TS)),
                Record(srec(&time, Value::Int32(TS_MS_OF_DAY))),
            ),
            case(
                "Timestamp to unix seconds",
                &[("target.type", "unix"), ("unix.precision", "seconds")],
                srec(&timestamp(), Value::Int64(TS)),
                Record(srec(&prim(SchemaType::Int64), Value::Int64(1_700_000_000))),
            ),
            case(
                "unix microseconds to Timestamp",
                &[("target.type", "Timestamp"), ("unix.precision", "microseconds")],
                srec(&prim(SchemaType::Int64), Value::Int64(TS * 1000 + 456)),
                Record(srec(&timestamp(), Value::Int64(TS))),
            ),
            case(
                "Timestamp to unix nanoseconds",
                &[("target.type", "unix"), ("unix.precision", "nanoseconds")],
                srec(&timestamp(), Value::Int64(TS)),
                Record(srec(&prim(SchemaType::Int64), Value::Int64(TS * 1_000_000))),
            ),
            case(
                "Date to string",
                &[("target.type", "string"), ("format", "EEE, d MMM yyyy")],
                srec(&date, Value::Int32(TS_DAYS)),
                Record(srec(&prim(SchemaType::String), s("Tue, 14 Nov 2023"))),
            ),
            case(
                "null with an optional schema",
                &[("target.type", "string"), fmt],
                srec(&optional_unix, Value::Null),
                Record(srec(&optional_string, Value::Null)),
            ),
            case(
                "struct field",
                &[("field", "at"), ("target.type", "Timestamp")],
                srec(&event, st(&event, vec![Value::Int32(1), Value::Int64(TS)])),
                Record(srec(&event_ts, st(&event_ts, vec![Value::Int32(1), Value::Int64(TS)]))),
            ),
            case(
                "null struct field",
                &[("field", "at"), ("target.type", "Timestamp")],
                srec(&event, st(&event, vec![Value::Int32(1), Value::Null])),
                Record(srec(&event_ts, st(&event_ts, vec![Value::Int32(1), Value::Null]))),
            ),
            case(
                "field schema is not a timestamp",
                &[("field", "at"), ("target.type", "unix")],
                srec(&wrong, st(&wrong, vec![Value::Boolean(true)])),
                Fails("does not correspond to a known timestamp type format"),
            ),
            case(
                "string that does not match the format",
                &[("target.type", "unix"), fmt],
                srec(&prim(SchemaType::String), s("yesterday")),
                Fails("Could not parse timestamp: value (yesterday) does not match pattern (yyyy-MM-dd HH:mm:ss.SSS)"),
            ),
            case(
                "schemaless map field",
                &[("field", "at"), ("target.type", "string"), ("format", "yyyyMMdd")],
                rec(map(&[("at", Value::Int64(TS)), ("x", Value::Int64(1))])),
                Record(rec(map(&[("at", s("20231114")), ("x", Value::Int64(1))]))),
            ),
            case(
                "schemaless whole string to unix",
                &[("target.type", "unix"), ("format", "yyyy-MM-dd")],
                rec(s("2023-11-14")),
                Record(rec(Value::Int64(TS_MIDNIGHT))),
            ),
            case(
                "schemaless ISO with zone",
                &[("target.type", "unix"), ("format", "yyyy-MM-dd'T'HH:mm:ssXXX")],
                rec(s("2023-11-15T00:13:20+02:00")),
                Record(rec(Value::Int64(TS - 123))),
            ),
            case(
                "schemaless int32 is not a timestamp",
                &[("target.type", "unix")],
                rec(Value::Int32(5)),
                Fails("does not support int32"),
            ),
            case("schemaless null", &[("target.type", "unix")], rec(Value::Null), Record(rec(Value::Null))),
            case("target.type is required", &[], rec(Value::Null), BadConfig("target.type")),
            case(
                "target.type is case-sensitive",
                &[("target.type", "date")],
                rec(Value::Null),
                BadConfig("target.type"),
            ),
            case("string needs a format", &[("target.type", "string")], rec(Value::Null), BadConfig("format")),
            case(
                "bad format",
                &[("target.type", "string"), ("format", "yyyy-qq")],
                rec(Value::Null),
                BadConfig("format"),
            ),
            case(
                "bad precision",
                &[("target.type", "unix"), ("unix.precision", "hours")],
                rec(Value::Null),
                BadConfig("unix.precision"),
            ),
        ],
    );
}

#[test]
fn timestamp_converter_key_table() {
    run_table(
        "org.apache.kafka.connect.transforms.TimestampConverter$Key",
        vec![case(
            "key unix to Timestamp",
            &[("target.type", "Timestamp")],
            krec(Some(&prim(SchemaType::Int64)), Value::Int64(TS)),
            Record(krec(Some(&timestamp()), Value::Int64(TS))),
        )],
    );
}
