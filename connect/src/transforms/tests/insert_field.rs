//! InsertField$Key / InsertField$Value rows: topic, partition, offset, timestamp and static fields, optionality.

use super::*;
use crate::data::TIMESTAMP;
use crate::record::SinkRecord;
use crate::transforms::util::logical_schema;
use Expect::*;

#[test]
fn insert_field_value_table() {
    let order = schema(&[("id", prim(SchemaType::Int32))]);
    let all = [
        ("topic.field", "t"),
        ("partition.field", "p!"),
        ("timestamp.field", "ts?"),
        ("static.field", "src"),
        ("static.value", "db"),
    ];
    let inserted = schema(&[
        ("id", prim(SchemaType::Int32)),
        ("t", opt(SchemaType::String)),
        ("p", prim(SchemaType::Int32)),
        ("ts", logical_schema(SchemaType::Int64, TIMESTAMP).optional().shared()),
        ("src", opt(SchemaType::String)),
    ]);
    let mut no_partition = srec(&order, st(&order, vec![Value::Int32(1)]));
    no_partition.kafka_partition = None;
    let mut no_timestamp = rec(map(&[("id", Value::Int64(1))]));
    no_timestamp.timestamp = None;
    let dup = schema(&[("t", prim(SchemaType::String))]);

    run_table(
        "org.apache.kafka.connect.transforms.InsertField$Value",
        vec![
            case(
                "all fields into a struct",
                &all,
                srec(&order, st(&order, vec![Value::Int32(1)])),
                Record(srec(
                    &inserted,
                    st(&inserted, vec![Value::Int32(1), s(TOPIC), Value::Int32(3), Value::Int64(TS), s("db")]),
                )),
            ),
            case("required partition missing", &all, no_partition, Fails("null used for required field: \"p\"")),
            case(
                "schemaless map",
                &[("topic.field", "t"), ("partition.field", "p"), ("timestamp.field", "ts")],
                rec(map(&[("id", Value::Int64(1))])),
                Record(rec(map(&[
                    ("id", Value::Int64(1)),
                    ("t", s(TOPIC)),
                    ("p", Value::Int32(3)),
                    ("ts", Value::Int64(TS)),
                ]))),
            ),
            case(
                "schemaless leaves out a missing timestamp",
                &[("timestamp.field", "ts")],
                no_timestamp.clone(),
                Record(no_timestamp),
            ),
            case(
                "offset needs a sink record",
                &[("offset.field", "off")],
                rec(map(&[("id", Value::Int64(1))])),
                Fails("Offset insertion is only supported for sink connectors"),
            ),
            case("tombstone passes through", &[("topic.field", "t")], rec(Value::Null), Record(rec(Value::Null))),
            case(
                "schema but not a struct",
                &[("topic.field", "t")],
                srec(&prim(SchemaType::Int32), Value::Int32(1)),
                Fails("Only Struct objects supported for [field insertion]"),
            ),
            case(
                "schemaless non-map",
                &[("topic.field", "t")],
                rec(s("x")),
                Fails("Only Map objects supported in absence of schema for [field insertion]"),
            ),
            case(
                "field already in the schema",
                &[("topic.field", "t")],
                srec(&dup, st(&dup, vec![s("x")])),
                Fails("field name duplication t"),
            ),
            case("unknown setting", &[("topic.feild", "t")], rec(Value::Null), BadConfig("topic.feild")),
        ],
    );
}

#[test]
fn insert_field_key_table() {
    let key = schema(&[("id", prim(SchemaType::Int32))]);
    let with_topic = schema(&[("id", prim(SchemaType::Int32)), ("t", prim(SchemaType::String))]);
    run_table(
        "org.apache.kafka.connect.transforms.InsertField$Key",
        vec![case(
            "required topic into the key",
            &[("topic.field", "t!")],
            krec(Some(&key), st(&key, vec![Value::Int32(1)])),
            Record(krec(Some(&with_topic), st(&with_topic, vec![Value::Int32(1), s(TOPIC)]))),
        )],
    );
}

#[test]
fn insert_field_offset_from_sink_record() -> anyhow::Result<()> {
    let chain = Chain::from_config(&config("InsertField$Value", &[("offset.field", "off!")]))?;
    let input = SinkRecord { record: rec(map(&[("id", Value::Int64(1))])), kafka_partition: 3, kafka_offset: 77 };
    let out = chain.apply_sink(input)?.ok_or_else(|| anyhow::anyhow!("record dropped"))?;
    assert_eq!(out.kafka_offset, 77);
    assert_eq!(out.record.value, map(&[("id", Value::Int64(1)), ("off", Value::Int64(77))]));
    Ok(())
}
