//! ValueToKey rows.

use super::*;
use Expect::*;

#[test]
fn value_to_key_table() {
    let order = schema(&[
        ("id", prim(SchemaType::Int64)),
        ("region", opt(SchemaType::String)),
        ("qty", prim(SchemaType::Int32)),
    ]);
    let key = schema(&[("region", opt(SchemaType::String)), ("id", prim(SchemaType::Int64))]);
    let value = st(&order, vec![Value::Int64(7), s("eu"), Value::Int32(2)]);
    run_table(
        "org.apache.kafka.connect.transforms.ValueToKey",
        vec![
            case(
                "struct fields in the order given",
                &[("fields", "region,id")],
                srec(&order, value.clone()),
                Record(with_key(srec(&order, value.clone()), Some(key.clone()), st(&key, vec![s("eu"), Value::Int64(7)]))),
            ),
            case(
                "schemaless",
                &[("fields", "id,nope")],
                rec(map(&[("id", Value::Int64(7)), ("qty", Value::Int64(2))])),
                Record(with_key(
                    rec(map(&[("id", Value::Int64(7)), ("qty", Value::Int64(2))])),
                    None,
                    map(&[("id", Value::Int64(7)), ("nope", Value::Null)]),
                )),
            ),
            case("missing struct field", &[("fields", "nope")], srec(&order, value.clone()), Fails("Field does not exist: nope")),
            case("schemaless tombstone", &[("fields", "id")], rec(Value::Null), Fails("Only Map objects supported in absence of schema for [copying fields from value to key], found: null")),
            case("duplicate fields", &[("fields", "id,id")], rec(Value::Null), BadConfig("fields")),
            case("fields is required", &[], rec(Value::Null), BadConfig("fields")),
        ],
    );
}
