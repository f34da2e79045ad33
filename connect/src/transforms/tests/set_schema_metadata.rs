//! SetSchemaMetadata$Key / SetSchemaMetadata$Value rows.

use super::*;
use Expect::*;

#[test]
fn set_schema_metadata_table() {
    let order = schema(&[("id", prim(SchemaType::Int32))]);
    let mut named = (*order).clone();
    named.name = Some("com.example.Order".into());
    named.version = Some(3);
    let named = named.shared();
    let name_only = Schema::primitive(SchemaType::String).with_name("com.example.Name").shared();
    run_table(
        "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value",
        vec![
            case(
                "struct gets the new schema",
                &[("schema.name", "com.example.Order"), ("schema.version", "3")],
                srec(&order, st(&order, vec![Value::Int32(1)])),
                Record(srec(&named, st(&named, vec![Value::Int32(1)]))),
            ),
            case(
                "primitive",
                &[("schema.name", "com.example.Name")],
                srec(&prim(SchemaType::String), s("x")),
                Record(srec(&name_only, s("x"))),
            ),
            case(
                "schemaless",
                &[("schema.name", "n")],
                rec(s("x")),
                Fails("Schema required for [updating schema metadata]"),
            ),
            case("neither setting", &[], rec(s("x")), BadConfig("schema.name")),
            case("version not a number", &[("schema.version", "three")], rec(s("x")), BadConfig("schema.version")),
        ],
    );
    let key_named = Schema::primitive(SchemaType::Int32).with_name("k").shared();
    run_table(
        "org.apache.kafka.connect.transforms.SetSchemaMetadata$Key",
        vec![case(
            "key",
            &[("schema.name", "k")],
            krec(Some(&prim(SchemaType::Int32)), Value::Int32(1)),
            Record(krec(Some(&key_named), Value::Int32(1))),
        )],
    );
}
