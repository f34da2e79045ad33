//! The Avro converter against a real in-process broker and Sluice schema registry: Connect data is written as
//! Confluent-framed Avro, registered under TopicNameStrategy subjects, carried through a topic, and read back
//! by a converter that knows nothing but the registry (schema looked up by id).

use std::time::Duration;

use sluice_connect::connector::Config;
use sluice_connect::converters;
use sluice_connect::data::{Schema, SchemaType, Struct, Value, DECIMAL, TIMESTAMP};
use sluice_connect::error::ConnectError;
use sluice_schema_registry::server::{RegistryHandle, SchemaRegistry};
use sluice_schema_registry::RegistryConfig;

use crate::support::{produce, read_topic, TestBroker, WAIT};

fn avro_config(url: &str) -> Config {
    [
        ("key.converter", "io.confluent.connect.avro.AvroConverter"),
        ("key.converter.schema.registry.url", url),
        ("value.converter", "AvroConverter"),
        ("value.converter.schema.registry.url", url),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A schema registry over `broker`, on a port the OS picks.
async fn start_registry(broker: &TestBroker) -> RegistryHandle {
    let registry_config = RegistryConfig {
        bootstrap_servers: broker.bootstrap.clone(),
        listen: "127.0.0.1:0".to_string(),
        write_timeout_ms: 20_000,
        init_timeout_ms: 30_000,
        ..RegistryConfig::default()
    };
    tokio::time::timeout(WAIT, SchemaRegistry::start(registry_config))
        .await
        .expect("the registry starts in time")
        .expect("the registry starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_converter_round_trips_through_registry_and_broker() {
    let broker = TestBroker::start().await;
    let registry = start_registry(&broker).await;
    let url = registry.url().to_string();
    let config = avro_config(&url);
    let writer = converters::build(&config, "value.converter").unwrap();
    let key_writer = converters::build(&config, "key.converter").unwrap();

    let schema = Schema::structure(vec![
        ("id".into(), Schema::primitive(SchemaType::Int64).shared()),
        ("item".into(), Schema::primitive(SchemaType::String).optional().shared()),
        ("small".into(), Schema::primitive(SchemaType::Int16).shared()),
        ("price".into(), Schema::primitive(SchemaType::Bytes).with_name(DECIMAL).with_parameter("scale", "2").shared()),
        ("at".into(), Schema::primitive(SchemaType::Int64).with_name(TIMESTAMP).shared()),
        (
            "attrs".into(),
            Schema::map(Schema::primitive(SchemaType::String).shared(), Schema::primitive(SchemaType::Int32).shared())
                .shared(),
        ),
    ])
    .with_name("com.example.Order")
    .shared();
    let mut values = Vec::new();
    let mut payloads = Vec::new();
    for i in 0..3i64 {
        let mut s = Struct::new(schema.clone());
        s.put("id", Value::Int64(i));
        s.put("item", if i == 1 { Value::Null } else { Value::String(format!("item {i}")) });
        s.put("small", Value::Int16(i as i16 * 100));
        s.put("price", Value::Bytes(vec![0x04, 0xd2 + i as u8]));
        s.put("at", Value::Int64(1_700_000_000_000 + i));
        s.put("attrs", Value::Map(vec![(Value::String("n".into()), Value::Int32(i as i32))]));
        let value = Value::Struct(s);
        let bytes = writer.from_connect("orders", false, Some(&schema), &value).await.unwrap().unwrap();
        assert_eq!(bytes[0], 0, "Confluent framing starts with the magic byte");
        values.push(value);
        payloads.push(bytes);
    }
    // A tombstone stays a tombstone.
    assert_eq!(writer.from_connect("orders", false, Some(&schema), &Value::Null).await.unwrap(), None);
    let key_schema = Schema::primitive(SchemaType::String).shared();
    let key = key_writer.from_connect("orders", true, Some(&key_schema), &Value::String("k".into())).await.unwrap();

    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let subjects: Vec<String> = http.get(format!("{url}/subjects")).send().await.unwrap().json().await.unwrap();
    assert!(
        subjects.contains(&"orders-value".to_string()) && subjects.contains(&"orders-key".to_string()),
        "{subjects:?}"
    );

    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    produce(&broker.bootstrap, "orders", &refs).await;
    let read = read_topic(&broker.bootstrap, "orders", refs.len()).await;

    // A fresh converter has no cache: the schema comes from the registry by id.
    let reader = converters::build(&avro_config(&url), "value.converter").unwrap();
    for (record, expected) in read.iter().zip(&values) {
        let (read_schema, value) = reader.to_connect("orders", false, record.payload.as_deref()).await.unwrap();
        let read_schema = read_schema.unwrap();
        assert_eq!(read_schema.name.as_deref(), Some("com.example.Order"));
        assert!(read_schema.field("item").unwrap().schema.optional);
        assert_eq!(read_schema.field("small").unwrap().schema.schema_type, SchemaType::Int16);
        assert_eq!(read_schema.field("at").unwrap().schema.name.as_deref(), Some(TIMESTAMP));
        assert_eq!(*read_schema, *schema);
        assert_eq!(&value, expected);
    }
    let key_reader = converters::build(&avro_config(&url), "key.converter").unwrap();
    let (_, key_value) = key_reader.to_connect("orders", true, key.as_deref()).await.unwrap();
    assert_eq!(key_value, Value::String("k".into()));

    // Bytes that are not Confluent-framed are a conversion error, which the DLQ catches.
    let err = reader.to_connect("orders", false, Some(b"{\"plain\":\"json\"}")).await.unwrap_err();
    assert!(matches!(err, ConnectError::Conversion(_)), "{err:?}");

    registry.shutdown().await;
    broker.stop().await;
}

/// The registry id a Confluent-framed payload names (bytes 1-4 after the magic byte).
fn schema_id(payload: &[u8]) -> i32 {
    i32::from_be_bytes(payload[1..5].try_into().expect("a framed payload has a 4-byte id"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_converter_gives_each_schema_on_a_topic_its_own_registry_id() {
    let broker = TestBroker::start().await;
    let registry = start_registry(&broker).await;
    let url = registry.url().to_string();
    let writer = converters::build(&avro_config(&url), "value.converter").unwrap();

    let id = || Schema::primitive(SchemaType::Int64).shared();
    let v1 = Schema::structure(vec![("id".into(), id())]).with_name("com.example.Event").shared();
    // A second version with an optional field (default null), which BACKWARD compatibility accepts.
    let v2 = Schema::structure(vec![
        ("id".into(), id()),
        ("note".into(), Schema::primitive(SchemaType::String).optional().shared()),
    ])
    .with_name("com.example.Event")
    .shared();
    let value = |schema: &std::sync::Arc<Schema>, n: i64| {
        let mut s = Struct::new(schema.clone());
        s.put("id", Value::Int64(n));
        Value::Struct(s)
    };
    let mut ids = Vec::new();
    // Interleaved, and v1 once more in an Arc of its own: each record must be written with its own schema.
    let v1_again = std::sync::Arc::new((*v1).clone());
    for (n, schema) in [&v1, &v2, &v1, &v2, &v1_again].into_iter().enumerate() {
        let payload = writer.from_connect("events", false, Some(schema), &value(schema, n as i64)).await.unwrap();
        let payload = payload.expect("a struct is not a tombstone");
        // Read back by a fresh converter, which knows nothing but the registry: the record's own schema.
        let reader = converters::build(&avro_config(&url), "value.converter").unwrap();
        let (read_schema, read) = reader.to_connect("events", false, Some(&payload)).await.unwrap();
        assert_eq!(*read_schema.unwrap(), **schema, "record {n} is written with its own schema");
        assert_eq!(read, value(schema, n as i64));
        ids.push(schema_id(&payload));
    }
    assert_ne!(ids[0], ids[1], "two schemas on one topic get two registry ids: {ids:?}");
    assert_eq!(ids, [ids[0], ids[1], ids[0], ids[1], ids[0]], "each schema keeps its id: {ids:?}");

    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let versions: Vec<i32> =
        http.get(format!("{url}/subjects/events-value/versions")).send().await.unwrap().json().await.unwrap();
    assert_eq!(versions, [1, 2], "both schemas are registered under the topic's subject");

    registry.shutdown().await;
    broker.stop().await;
}
