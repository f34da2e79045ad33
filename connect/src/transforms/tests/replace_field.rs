//! ReplaceField$Key / ReplaceField$Value rows: include, exclude, renames, the deprecated names, errors.

use super::*;
use Expect::*;

#[test]
fn replace_field_table() {
    let abc = schema(&[("a", prim(SchemaType::Int32)), ("b", prim(SchemaType::String)), ("c", opt(SchemaType::Int64))]);
    let value = st(&abc, vec![Value::Int32(1), s("two"), Value::Int64(3)]);
    let renamed = schema(&[("alpha", prim(SchemaType::Int32)), ("c", opt(SchemaType::Int64))]);
    let only_ac = schema(&[("a", prim(SchemaType::Int32)), ("c", opt(SchemaType::Int64))]);
    let only_c = schema(&[("c", opt(SchemaType::Int64))]);
    let only_bc = schema(&[("b", prim(SchemaType::String)), ("c", opt(SchemaType::Int64))]);
    let m = map(&[("a", Value::Int64(1)), ("b", Value::Int64(2)), ("c", Value::Int64(3))]);

    run_table(
        "org.apache.kafka.connect.transforms.ReplaceField$Value",
        vec![
            case(
                "exclude and rename",
                &[("exclude", "b"), ("renames", "a:alpha")],
                srec(&abc, value.clone()),
                Record(srec(&renamed, st(&renamed, vec![Value::Int32(1), Value::Int64(3)]))),
            ),
            case(
                "include",
                &[("include", "a,c")],
                srec(&abc, value.clone()),
                Record(srec(&only_ac, st(&only_ac, vec![Value::Int32(1), Value::Int64(3)]))),
            ),
            case(
                "exclude wins over include",
                &[("include", "a,c"), ("exclude", "a")],
                srec(&abc, value.clone()),
                Record(srec(&only_c, st(&only_c, vec![Value::Int64(3)]))),
            ),
            case(
                "deprecated whitelist",
                &[("whitelist", "a,c")],
                srec(&abc, value.clone()),
                Record(srec(&only_ac, st(&only_ac, vec![Value::Int32(1), Value::Int64(3)]))),
            ),
            case(
                "deprecated blacklist",
                &[("blacklist", "a")],
                srec(&abc, value.clone()),
                Record(srec(&only_bc, st(&only_bc, vec![s("two"), Value::Int64(3)]))),
            ),
            case(
                "schemaless",
                &[("exclude", "b"), ("renames", "a:x,c:y")],
                rec(m.clone()),
                Record(rec(map(&[("x", Value::Int64(1)), ("y", Value::Int64(3))]))),
            ),
            case("tombstone passes through", &[("exclude", "a")], rec(Value::Null), Record(rec(Value::Null))),
            case(
                "rename onto an existing field",
                &[("renames", "a:b")],
                srec(&abc, value.clone()),
                Fails("field name duplication b"),
            ),
            case(
                "schema but not a struct",
                &[("exclude", "a")],
                srec(&prim(SchemaType::Int32), Value::Int32(1)),
                Fails("Only Struct objects supported for [field replacement]"),
            ),
            case(
                "schemaless non-map",
                &[("exclude", "a")],
                rec(s("x")),
                Fails("Only Map objects supported in absence of schema for [field replacement]"),
            ),
            case("bad rename", &[("renames", "a")], rec(m.clone()), BadConfig("renames")),
            case("bad rename with extra colon", &[("renames", "a:b:c")], rec(m), BadConfig("renames")),
        ],
    );
    run_table(
        "org.apache.kafka.connect.transforms.ReplaceField$Key",
        vec![case(
            "key",
            &[("renames", "id:key_id")],
            krec(None, map(&[("id", Value::Int64(1))])),
            Record(krec(None, map(&[("key_id", Value::Int64(1))]))),
        )],
    );
}
