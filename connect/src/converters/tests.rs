//! Table-driven tests of the converters: round trips of every type with and without the JSON envelope, logical
//! types, nulls and tombstones, the errors for bad input, the builder, and the Avro schema mapping.

use std::sync::Arc;

use serde_json::json;

use super::avro_schema::{from_avro, from_avro_value, to_avro_value, ToAvro};
use super::*;
use crate::connector::Config;
use crate::data::{Schema, SchemaType, Struct, Value, DATE, DECIMAL, TIME, TIMESTAMP};

fn primitive(t: SchemaType) -> Arc<Schema> {
    Schema::primitive(t).shared()
}

fn decimal(scale: i32) -> Schema {
    Schema::primitive(SchemaType::Bytes).with_name(DECIMAL).with_parameter("scale", scale.to_string())
}

fn order_schema() -> Arc<Schema> {
    let mut schema = Schema::structure(vec![
        ("id".into(), primitive(SchemaType::Int64)),
        ("item".into(), Schema::primitive(SchemaType::String).optional().shared()),
        ("qty".into(), Schema::primitive(SchemaType::Int32).with_default(Value::Int32(1)).shared()),
        ("price".into(), decimal(2).shared()),
        ("tags".into(), Schema::array(primitive(SchemaType::String)).shared()),
        ("when".into(), Schema::primitive(SchemaType::Int64).with_name(TIMESTAMP).shared()),
    ])
    .with_name("com.example.Order");
    schema.version = Some(2);
    schema.doc = Some("an order".into());
    schema.shared()
}

fn order(schema: &Arc<Schema>) -> Value {
    let mut s = Struct::new(schema.clone());
    s.put("id", Value::Int64(42));
    s.put("item", Value::String("tea".into()));
    s.put("qty", Value::Int32(3));
    s.put("price", Value::Bytes(vec![0x04, 0xd2]));
    s.put("tags", Value::Array(vec![Value::String("hot".into())]));
    s.put("when", Value::Int64(1_700_000_000_000));
    Value::Struct(s)
}

/// Every schema type with a value of it.
fn typed_cases() -> Vec<(&'static str, Arc<Schema>, Value)> {
    let map_int_keys = Schema::map(primitive(SchemaType::Int32), primitive(SchemaType::String)).shared();
    let map_string_keys = Schema::map(primitive(SchemaType::String), primitive(SchemaType::Float64)).shared();
    let order = order_schema();
    vec![
        ("int8", primitive(SchemaType::Int8), Value::Int8(-8)),
        ("int16", primitive(SchemaType::Int16), Value::Int16(1600)),
        ("int32", primitive(SchemaType::Int32), Value::Int32(-32_000_000)),
        ("int64", primitive(SchemaType::Int64), Value::Int64(i64::MAX)),
        ("float", primitive(SchemaType::Float32), Value::Float32(1.5)),
        ("double", primitive(SchemaType::Float64), Value::Float64(-2.25)),
        ("boolean", primitive(SchemaType::Boolean), Value::Boolean(true)),
        ("string", primitive(SchemaType::String), Value::String("héllo \"x\"".into())),
        ("bytes", primitive(SchemaType::Bytes), Value::Bytes(vec![0, 1, 254, 255])),
        (
            "array",
            Schema::array(primitive(SchemaType::Int32)).shared(),
            Value::Array(vec![Value::Int32(1), Value::Int32(2)]),
        ),
        ("map string keys", map_string_keys, Value::Map(vec![(Value::String("a".into()), Value::Float64(0.5))])),
        (
            "map int keys",
            map_int_keys,
            Value::Map(vec![
                (Value::Int32(1), Value::String("one".into())),
                (Value::Int32(2), Value::String("two".into())),
            ]),
        ),
        ("struct", order.clone(), self::order(&order)),
        ("decimal", decimal(2).shared(), Value::Bytes(vec![0xfb, 0x2e])),
        ("date", Schema::primitive(SchemaType::Int32).with_name(DATE).shared(), Value::Int32(19_000)),
        ("time", Schema::primitive(SchemaType::Int32).with_name(TIME).shared(), Value::Int32(3_600_000)),
        (
            "timestamp",
            Schema::primitive(SchemaType::Int64).with_name(TIMESTAMP).shared(),
            Value::Int64(1_700_000_000_123),
        ),
        ("optional null", Schema::primitive(SchemaType::String).optional().shared(), Value::Null),
    ]
}

fn json_converter(schemas_enable: bool, decimal_numeric: bool) -> JsonConverter {
    JsonConverter::new(JsonOptions { schemas_enable, decimal_numeric, replace_null_with_default: true })
}

#[tokio::test]
async fn json_envelope_round_trips_every_type() {
    for decimal_numeric in [false, true] {
        let converter = json_converter(true, decimal_numeric);
        for (name, schema, value) in typed_cases() {
            let bytes = converter.from_connect("t", false, Some(&schema), &value).await.unwrap().unwrap();
            let (back_schema, back) = converter.to_connect("t", false, Some(&bytes)).await.unwrap();
            assert_eq!(back_schema.as_deref(), Some(&*schema), "{name}: {}", String::from_utf8_lossy(&bytes));
            assert_eq!(back, value, "{name}");
        }
    }
}

#[tokio::test]
async fn json_envelope_has_kafkas_shape() {
    let converter = json_converter(true, false);
    let schema = Schema::structure(vec![
        ("a".into(), Schema::primitive(SchemaType::Int32).optional().shared()),
        ("b".into(), decimal(2).shared()),
    ])
    .with_name("n")
    .shared();
    let mut s = Struct::new(schema.clone());
    s.put("a", Value::Int32(1));
    s.put("b", Value::Bytes(vec![0x04, 0xd2]));
    let bytes = converter.from_connect("t", false, Some(&schema), &Value::Struct(s)).await.unwrap().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        json,
        json!({
            "schema": {"type": "struct", "optional": false, "name": "n", "fields": [
                {"type": "int32", "optional": true, "field": "a"},
                {"type": "bytes", "optional": false, "name": "org.apache.kafka.connect.data.Decimal",
                 "parameters": {"scale": "2"}, "field": "b"},
            ]},
            "payload": {"a": 1, "b": "BNI="},
        })
    );
    let numeric = json_converter(true, true);
    let schema = decimal(2).shared();
    let bytes = numeric.from_connect("t", false, Some(&schema), &Value::Bytes(vec![0x04, 0xd2])).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes.unwrap()).unwrap();
    assert_eq!(json["payload"], json!(12.34));
}

#[tokio::test]
async fn json_reads_what_kafka_writes() {
    // As Kafka's JsonConverter writes a struct with a map, array, bytes, logical types and schema metadata.
    let text = r#"{"schema":{"type":"struct","fields":[
        {"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"ts"},
        {"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":true},"optional":false,"field":"m"},
        {"type":"array","items":{"type":"boolean","optional":false},"optional":true,"field":"flags"},
        {"type":"bytes","optional":true,"field":"raw"},
        {"type":"string","optional":true,"default":"none","doc":"a doc","field":"s"}
      ],"optional":false,"name":"com.example.V","version":3,"parameters":{"k":"v"}},
      "payload":{"ts":1700000000000,"m":{"x":1,"y":null},"flags":[true,false],"raw":"AAE=","s":null}}"#;
    let (schema, value) = json_converter(true, false).to_connect("t", false, Some(text.as_bytes())).await.unwrap();
    let schema = schema.unwrap();
    assert_eq!(schema.name.as_deref(), Some("com.example.V"));
    assert_eq!(schema.version, Some(3));
    assert_eq!(schema.parameters.get("k").map(String::as_str), Some("v"));
    let ts = schema.field("ts").unwrap();
    assert_eq!((ts.schema.name.as_deref(), ts.schema.version), (Some(TIMESTAMP), Some(1)));
    assert_eq!(schema.field("s").unwrap().schema.doc.as_deref(), Some("a doc"));
    let Value::Struct(s) = value else { panic!("expected a struct, got {value:?}") };
    assert_eq!(s.get("ts"), Some(&Value::Int64(1_700_000_000_000)));
    assert_eq!(
        s.get("m"),
        Some(&Value::Map(vec![(Value::String("x".into()), Value::Int32(1)), (Value::String("y".into()), Value::Null)]))
    );
    assert_eq!(s.get("flags"), Some(&Value::Array(vec![Value::Boolean(true), Value::Boolean(false)])));
    assert_eq!(s.get("raw"), Some(&Value::Bytes(vec![0, 1])));
    // replace.null.with.default: a null where the schema has a default reads as the default.
    assert_eq!(s.get("s"), Some(&Value::String("none".into())));
}

#[tokio::test]
async fn json_without_envelope_round_trips_schemaless() {
    let converter = json_converter(false, false);
    let cases = [
        ("null", Value::Null),
        ("true", Value::Boolean(true)),
        ("42", Value::Int64(42)),
        ("-1.5", Value::Float64(-1.5)),
        ("\"s\"", Value::String("s".into())),
        ("[1,\"a\",null]", Value::Array(vec![Value::Int64(1), Value::String("a".into()), Value::Null])),
        (
            "{\"a\":{\"b\":[2.5]}}",
            Value::Map(vec![(
                Value::String("a".into()),
                Value::Map(vec![(Value::String("b".into()), Value::Array(vec![Value::Float64(2.5)]))]),
            )]),
        ),
    ];
    for (text, expected) in cases {
        let (schema, value) = converter.to_connect("t", false, Some(text.as_bytes())).await.unwrap();
        assert_eq!((schema, &value), (None, &expected), "{text}");
        if !value.is_null() {
            let bytes = converter.from_connect("t", false, None, &value).await.unwrap().unwrap();
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
                serde_json::from_str::<serde_json::Value>(text).unwrap()
            );
        }
    }
    // With a schema but no envelope, the payload alone is written.
    let schema = primitive(SchemaType::Int32);
    let bytes = converter.from_connect("t", false, Some(&schema), &Value::Int32(7)).await.unwrap();
    assert_eq!(bytes.as_deref(), Some(&b"7"[..]));
}

#[tokio::test]
async fn json_schemaless_values_in_an_envelope() {
    let converter = json_converter(true, false);
    let value = Value::Map(vec![(Value::String("k".into()), Value::Bytes(vec![1, 2]))]);
    let bytes = converter.from_connect("t", false, None, &value).await.unwrap().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json, json!({"schema": null, "payload": {"k": "AQI="}}));
    // Read back without a schema, bytes are base64 text (JSON has no bytes).
    let (schema, back) = converter.to_connect("t", false, Some(&bytes)).await.unwrap();
    assert_eq!(schema, None);
    assert_eq!(back, Value::Map(vec![(Value::String("k".into()), Value::String("AQI=".into()))]));
}

#[tokio::test]
async fn json_nulls_and_tombstones() {
    for schemas_enable in [true, false] {
        let converter = json_converter(schemas_enable, false);
        // No schema and no value: a tombstone, and null bytes read back as one.
        assert_eq!(converter.from_connect("t", false, None, &Value::Null).await.unwrap(), None);
        assert_eq!(converter.to_connect("t", false, None).await.unwrap(), (None, Value::Null));
    }
    // A null under an optional schema is still written (as Kafka does), in the envelope.
    let converter = json_converter(true, false);
    let schema = Schema::primitive(SchemaType::String).optional().shared();
    let bytes = converter.from_connect("t", false, Some(&schema), &Value::Null).await.unwrap().unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
        json!({"schema": {"type": "string", "optional": true}, "payload": null})
    );
    // A null under a required schema with a default becomes the default.
    let schema = Schema::primitive(SchemaType::Int32).with_default(Value::Int32(5)).shared();
    let bytes = converter.from_connect("t", false, Some(&schema), &Value::Null).await.unwrap().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!((&json["payload"], &json["schema"]["default"]), (&json!(5), &json!(5)));
}

#[tokio::test]
async fn json_errors() {
    let with = json_converter(true, false);
    let without = json_converter(false, false);
    let bad: &[(&JsonConverter, &str, &str)] = &[
        (&with, "{not json", "not valid JSON"),
        (&without, "{\"a\":", "not valid JSON"),
        (&without, "", "not valid JSON"),
        (&with, "{\"a\":1}", "requires \"schema\" and \"payload\""),
        (&with, "{\"schema\":null,\"payload\":1,\"extra\":2}", "requires \"schema\" and \"payload\""),
        (&with, "[1]", "schemas.enable=false"),
        (&with, "{\"schema\":{\"type\":\"int32\"},\"payload\":\"x\"}", "int32"),
        (&with, "{\"schema\":{\"type\":\"int8\"},\"payload\":300}", "int8"),
        (&with, "{\"schema\":{\"type\":\"int32\"},\"payload\":null}", "null value for a required int32"),
        (&with, "{\"schema\":{\"type\":\"bogus\"},\"payload\":1}", "unknown schema type"),
        (&with, "{\"schema\":{\"optional\":true},\"payload\":1}", "`type`"),
        (&with, "{\"schema\":{\"type\":\"bytes\"},\"payload\":\"***\"}", "base64"),
        (&with, "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"field\":\"s\"}]},\"payload\":{\"s\":1}}", "field \"s\""),
        (&with, "{\"schema\":{\"type\":\"bytes\",\"name\":\"org.apache.kafka.connect.data.Decimal\"},\"payload\":\"AA==\"}", "scale"),
        (&with, "{\"schema\":{\"type\":\"bytes\",\"name\":\"org.apache.kafka.connect.data.Decimal\",\"parameters\":{\"scale\":\"1\"}},\"payload\":1.25}", "scale 1"),
    ];
    for (converter, text, expected) in bad {
        let err = converter.to_connect("orders", false, Some(text.as_bytes())).await.unwrap_err();
        assert!(matches!(err, ConnectError::Conversion(_)), "{text}: {err:?}");
        let message = err.to_string();
        assert!(message.contains(expected), "{text}: {message}");
        assert!(message.contains("orders"), "{text}: the topic is named: {message}");
    }
    // Writing: a value that does not fit its schema.
    let mismatches: Vec<(Arc<Schema>, Value, &str)> = vec![
        (primitive(SchemaType::Int32), Value::String("x".into()), "int32"),
        (primitive(SchemaType::String), Value::Null, "null value for a required string"),
        (order_schema(), Value::Struct(Struct::new(primitive(SchemaType::Struct))), "does not match"),
        (
            Schema::map(primitive(SchemaType::String), primitive(SchemaType::Int8)).shared(),
            Value::Map(vec![(Value::Int8(1), Value::Int8(1))]),
            "string",
        ),
        (primitive(SchemaType::Float64), Value::Float64(f64::NAN), "no JSON representation"),
    ];
    for (schema, value, expected) in mismatches {
        let err = with.from_connect("orders", false, Some(&schema), &value).await.unwrap_err();
        assert!(matches!(err, ConnectError::Conversion(_)), "{value:?}: {err:?}");
        assert!(err.to_string().contains(expected), "{value:?}: {err}");
    }
}

#[test]
fn schemaless_helpers() {
    let value = Value::Map(vec![
        (Value::String("b".into()), Value::Bytes(vec![255])),
        (Value::String("f".into()), Value::Float32(f32::INFINITY)),
    ]);
    assert_eq!(value_to_json(&value), json!({"b": "/w==", "f": "inf"}));
    let pairs = Value::Map(vec![(Value::Int32(1), Value::Boolean(false))]);
    assert_eq!(value_to_json(&pairs), json!([[1, false]]));
    assert_eq!(value_to_json(&order(&order_schema()))["price"], json!("BNI="));
    assert_eq!(json_to_value(&json!(u64::MAX)), Value::Float64(u64::MAX as f64));
    assert_eq!(
        json_to_value(&json!({"a": [1]})),
        Value::Map(vec![(Value::String("a".into()), Value::Array(vec![Value::Int64(1)]))])
    );
}

#[tokio::test]
async fn string_converter() {
    let converter = StringConverter;
    let cases = [
        (Value::String("héllo".into()), Some("héllo")),
        (Value::Int32(5), Some("5")),
        (Value::Boolean(false), Some("false")),
        (Value::Float64(1.5), Some("1.5")),
        (Value::Array(vec![Value::Int64(1)]), Some("[1]")),
        (Value::Null, None),
    ];
    for (value, expected) in cases {
        let bytes = converter.from_connect("t", false, None, &value).await.unwrap();
        assert_eq!(bytes.as_deref(), expected.map(str::as_bytes), "{value:?}");
    }
    let (schema, value) = converter.to_connect("t", false, Some("abc".as_bytes())).await.unwrap();
    assert_eq!(schema.as_deref(), Some(&Schema::primitive(SchemaType::String).optional()));
    assert_eq!(value, Value::String("abc".into()));
    assert_eq!(converter.to_connect("t", false, None).await.unwrap().1, Value::Null);
    // Invalid UTF-8 reads with a replacement character, as Java's decoder reads it.
    assert_eq!(
        converter.to_connect("t", false, Some(&[b'a', 0xff])).await.unwrap().1,
        Value::String("a\u{fffd}".into())
    );
}

#[tokio::test]
async fn byte_array_converter() {
    let converter = ByteArrayConverter;
    let bytes_schema = primitive(SchemaType::Bytes);
    let written = converter.from_connect("t", false, Some(&bytes_schema), &Value::Bytes(vec![1, 2])).await.unwrap();
    assert_eq!(written, Some(vec![1, 2]));
    assert_eq!(converter.from_connect("t", false, None, &Value::Null).await.unwrap(), None);
    let err = converter.from_connect("t", false, None, &Value::String("x".into())).await.unwrap_err();
    assert!(err.to_string().contains("bytes values only"), "{err}");
    let err = converter
        .from_connect("t", false, Some(&primitive(SchemaType::String)), &Value::Bytes(vec![]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid schema type string"), "{err}");
    let (schema, value) = converter.to_connect("t", false, Some(&[9])).await.unwrap();
    assert_eq!((schema.unwrap().schema_type, value), (SchemaType::Bytes, Value::Bytes(vec![9])));
}

#[tokio::test]
async fn number_converters() {
    let cases = [
        (NumberKind::Short, Value::Int16(-2), vec![0xff, 0xfe]),
        (NumberKind::Integer, Value::Int32(258), vec![0, 0, 1, 2]),
        (NumberKind::Long, Value::Int64(1), vec![0, 0, 0, 0, 0, 0, 0, 1]),
        (NumberKind::Float, Value::Float32(1.0), 1.0f32.to_be_bytes().to_vec()),
        (NumberKind::Double, Value::Float64(-0.5), (-0.5f64).to_be_bytes().to_vec()),
        (NumberKind::Boolean, Value::Boolean(true), vec![1]),
    ];
    for (kind, value, bytes) in cases {
        let converter = NumberConverter::new(kind);
        assert_eq!(converter.from_connect("t", false, None, &value).await.unwrap(), Some(bytes.clone()), "{kind:?}");
        let (schema, back) = converter.to_connect("t", false, Some(&bytes)).await.unwrap();
        assert!(schema.unwrap().optional);
        assert_eq!(back, value, "{kind:?}");
        assert_eq!(converter.to_connect("t", false, None).await.unwrap().1, Value::Null);
        assert_eq!(converter.from_connect("t", false, None, &Value::Null).await.unwrap(), None);
        let err = converter.to_connect("t", false, Some(&[1, 2, 3])).await.unwrap_err();
        assert!(matches!(err, ConnectError::Conversion(_)), "{kind:?}: {err}");
        let err = converter.from_connect("t", false, None, &Value::String("1".into())).await.unwrap_err();
        assert!(matches!(err, ConnectError::Conversion(_)), "{kind:?}: {err}");
    }
}

fn config(pairs: &[(&str, &str)]) -> Config {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn builder_reads_class_and_settings() {
    // Default: JsonConverter with schemas (the envelope is expected).
    let json = build(&Config::new(), "value.converter").unwrap();
    assert!(json.to_connect("t", false, Some(b"{\"a\":1}")).await.is_err());
    for class in [JSON_CONVERTER, "JsonConverter", "Json"] {
        let c = build(
            &config(&[("value.converter", class), ("value.converter.schemas.enable", "FALSE")]),
            "value.converter",
        )
        .unwrap();
        assert!(c.to_connect("t", false, Some(b"{\"a\":1}")).await.is_ok(), "{class}");
    }
    let numeric = config(&[("key.converter", "JsonConverter"), ("key.converter.decimal.format", "numeric")]);
    let c = build(&numeric, "key.converter").unwrap();
    let bytes = c.from_connect("t", true, Some(&decimal(1).shared()), &Value::Bytes(vec![5])).await.unwrap().unwrap();
    assert!(String::from_utf8(bytes).unwrap().contains("\"payload\":0.5"));
    let s = build(&config(&[("key.converter", STRING_CONVERTER)]), "key.converter").unwrap();
    assert_eq!(s.to_connect("t", true, Some(b"k")).await.unwrap().1, Value::String("k".into()));
    let b = build(&config(&[("key.converter", "ByteArrayConverter")]), "key.converter").unwrap();
    assert_eq!(b.to_connect("t", true, Some(b"k")).await.unwrap().1, Value::Bytes(b"k".to_vec()));
    let i =
        build(&config(&[("key.converter", "org.apache.kafka.connect.converters.IntegerConverter")]), "key.converter")
            .unwrap();
    assert_eq!(i.to_connect("t", true, Some(&[0, 0, 0, 7])).await.unwrap().1, Value::Int32(7));
    let avro = config(&[
        ("value.converter", AVRO_CONVERTER),
        ("value.converter.schema.registry.url", "http://127.0.0.1:9"),
        ("value.converter.value.subject.name.strategy", "io.confluent.kafka.serializers.subject.RecordNameStrategy"),
    ]);
    assert!(build(&avro, "value.converter").is_ok());
}

#[test]
fn builder_errors_name_the_key() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("value.converter", "com.example.Nope")], "value.converter"),
        (&[("value.converter.schemas.enable", "yes")], "value.converter.schemas.enable"),
        (&[("value.converter.decimal.format", "HEX")], "value.converter.decimal.format"),
        (&[("value.converter", "AvroConverter")], "value.converter.schema.registry.url"),
        (
            &[("value.converter", "AvroConverter"), ("value.converter.schema.registry.url", "localhost:8081")],
            "value.converter.schema.registry.url",
        ),
        (
            &[
                ("value.converter", "AvroConverter"),
                ("value.converter.schema.registry.url", "http://r"),
                ("value.converter.value.subject.name.strategy", "Nope"),
            ],
            "value.converter.value.subject.name.strategy",
        ),
        (&[("value.converter", "StringConverter"), ("value.converter.encoding", "UTF-16")], "value.converter.encoding"),
    ];
    for (pairs, key) in cases {
        match build(&config(pairs), "value.converter") {
            Err(ConnectError::Config { key: k, message }) => assert_eq!(&k, key, "{message}"),
            Err(other) => panic!("{pairs:?}: expected a config error, got {other}"),
            Ok(_) => panic!("{pairs:?}: expected a config error"),
        }
    }
}

#[test]
fn avro_schema_mapping_round_trips() {
    for (name, schema, _) in typed_cases() {
        let avro = ToAvro::new(true).schema(&schema).unwrap();
        // apache_avro accepts what we write.
        apache_avro::Schema::parse(&avro).unwrap_or_else(|e| panic!("{name}: {avro}: {e}"));
        let back = from_avro(&avro).unwrap();
        assert_eq!(*back, *schema, "{name}: {avro}");
    }
}

#[test]
fn avro_schema_follows_confluent_conventions() {
    let schema = Schema::structure(vec![
        ("small".into(), primitive(SchemaType::Int8)),
        ("name".into(), Schema::primitive(SchemaType::String).optional().shared()),
        ("day".into(), Schema::primitive(SchemaType::Int32).with_name(DATE).shared()),
        ("amount".into(), decimal(2).shared()),
    ])
    .with_name("com.example.Row");
    let avro = ToAvro::new(true).schema(&schema).unwrap();
    assert_eq!(avro["type"], "record");
    assert_eq!((&avro["name"], &avro["namespace"]), (&json!("Row"), &json!("com.example")));
    assert_eq!(avro["connect.name"], "com.example.Row");
    let fields = avro["fields"].as_array().unwrap();
    assert_eq!(fields[0]["type"], json!({"type": "int", "connect.type": "int8"}));
    assert_eq!(fields[1]["type"], json!(["null", "string"]));
    assert_eq!(fields[1]["default"], json!(null));
    assert_eq!(fields[2]["type"]["logicalType"], "date");
    assert_eq!(fields[3]["type"]["logicalType"], "decimal");
    assert_eq!(fields[3]["type"]["scale"], 2);
    // Unnamed structs get Confluent's default record name, and come back unnamed.
    let unnamed = Schema::structure(vec![("a".into(), primitive(SchemaType::Int32))]);
    let avro = ToAvro::new(false).schema(&unnamed).unwrap();
    assert_eq!((&avro["name"], &avro["namespace"]), (&json!("ConnectDefault"), &json!("io.confluent.connect.avro")));
    assert_eq!(from_avro(&avro).unwrap().name, None);
    // A plain Avro record from another producer: names, enums, maps and nullable unions.
    let foreign = json!({"type": "record", "name": "User", "namespace": "ns", "fields": [
        {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["RED"]}},
        {"name": "attrs", "type": {"type": "map", "values": "long"}},
        {"name": "nick", "type": ["null", "string"], "default": null},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ]});
    let schema = from_avro(&foreign).unwrap();
    assert_eq!(schema.name.as_deref(), Some("ns.User"));
    assert_eq!(schema.field("color").unwrap().schema.schema_type, SchemaType::String);
    assert_eq!(schema.field("attrs").unwrap().schema.value_schema.as_ref().unwrap().schema_type, SchemaType::Int64);
    assert!(schema.field("nick").unwrap().schema.optional);
    assert_eq!(schema.field("ts").unwrap().schema.name.as_deref(), Some(TIMESTAMP));
    let err = from_avro(&json!(["int", "string"])).unwrap_err();
    assert!(err.to_string().contains("not supported"), "{err}");
}

#[test]
fn avro_values_round_trip_through_avro_binary() {
    for (name, schema, value) in typed_cases() {
        let avro_json = ToAvro::new(true).schema(&schema).unwrap();
        let avro_schema = apache_avro::Schema::parse(&avro_json).unwrap();
        let avro_value = to_avro_value(&schema, &value).unwrap();
        let writer = apache_avro::writer::datum::GenericDatumWriter::builder(&avro_schema).build().unwrap();
        let bytes = writer.write_value_to_vec(avro_value).unwrap_or_else(|e| panic!("{name}: {e}"));
        let reader = apache_avro::reader::datum::GenericDatumReader::builder(&avro_schema).build().unwrap();
        let read = reader.read_value(&mut bytes.as_slice()).unwrap();
        let back = from_avro_value(&from_avro(&avro_json).unwrap(), read).unwrap();
        assert_eq!(back, value, "{name}");
    }
}
