//! Acceptance point 1, Rust side: the `schema_registry_converter` crate registers Avro schemas with our registry and
//! encodes records that travel through the broker (rdkafka) and decode back; the same through our `wire::AvroSerde`,
//! and across the two (bytes from one read by the other).

use std::time::Duration;

use apache_avro::types::Value;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use schema_registry_converter::async_impl::easy_avro::{EasyAvroDecoder, EasyAvroEncoder};
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::schema_registry_common::{SchemaType, SubjectNameStrategy, SuppliedSchema};
use serde_json::json;
use sluice_schema_registry::wire::{self, AvroSerde, SubjectNameStrategy as Strategy, WireError, WriterSchema};

use crate::support::{Env, WAIT};

const N: i64 = 20;

const ORDER: &str = r#"{"type":"record","name":"Order","namespace":"com.example.sluice","fields":[
    {"name":"id","type":"long"},
    {"name":"customer","type":"string"},
    {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","DONE"]}},
    {"name":"tags","type":{"type":"array","items":"string"}},
    {"name":"note","type":["null","string"],"default":null},
    {"name":"price","type":"double"}]}"#;

const READING_V1: &str = r#"{"type":"record","name":"Reading","namespace":"com.example.sluice","fields":[
    {"name":"sensor","type":"string"},{"name":"value","type":"double"}]}"#;

/// v1 plus a field with a default: BACKWARD compatible.
const READING_V2: &str = r#"{"type":"record","name":"Reading","namespace":"com.example.sluice","fields":[
    {"name":"sensor","type":"string"},{"name":"value","type":"double"},
    {"name":"unit","type":"string","default":"celsius"}]}"#;

/// v2 plus a field without a default: v3 cannot read v2 data, so BACKWARD refuses it.
const READING_V3: &str = r#"{"type":"record","name":"Reading","namespace":"com.example.sluice","fields":[
    {"name":"sensor","type":"string"},{"name":"value","type":"double"},
    {"name":"unit","type":"string","default":"celsius"},{"name":"site","type":"string"}]}"#;

fn order_fields(i: i64) -> Vec<(&'static str, Value)> {
    vec![
        ("id", Value::Long(i)),
        ("customer", Value::String(format!("customer-{i} é"))),
        ("status", if i % 2 == 0 { Value::Enum(0, "NEW".into()) } else { Value::Enum(1, "DONE".into()) }),
        ("tags", Value::Array((0..i % 3).map(|t| Value::String(format!("t{t}"))).collect())),
        (
            "note",
            if i % 2 == 0 {
                Value::Union(0, Box::new(Value::Null))
            } else {
                Value::Union(1, Box::new(Value::String(format!("note {i}"))))
            },
        ),
        ("price", Value::Double(i as f64 * 2.5)),
    ]
}

fn order(i: i64) -> Value {
    Value::Record(order_fields(i).into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn reading(sensor: &str, value: f64, unit: Option<&str>) -> Value {
    let mut fields =
        vec![("sensor".to_string(), Value::String(sensor.into())), ("value".to_string(), Value::Double(value))];
    if let Some(unit) = unit {
        fields.push(("unit".to_string(), Value::String(unit.into())));
    }
    Value::Record(fields)
}

async fn create_topic(bootstrap: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("an admin client");
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(WAIT)),
        )
        .await
        .expect("CreateTopics answers");
    for result in results {
        result.unwrap_or_else(|(name, code)| panic!("creating {name}: {code}"));
    }
}

async fn produce(bootstrap: &str, topic: &str, values: &[Vec<u8>]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("message.timeout.ms", "30000")
        .create()
        .expect("a producer");
    for (i, value) in values.iter().enumerate() {
        let key = i.to_string();
        producer
            .send(FutureRecord::to(topic).key(&key).payload(value), Duration::from_secs(30))
            .await
            .unwrap_or_else(|(e, _)| panic!("producing record {i} to {topic}: {e}"));
    }
}

/// Reads `count` record values of partition 0 from the beginning, within [`WAIT`].
async fn consume(bootstrap: &str, topic: &str, count: usize) -> Vec<Vec<u8>> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "converter-test-unused")
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer");
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, Offset::Beginning).expect("an assignment");
    consumer.assign(&assignment).expect("assigning partition 0");
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut values = Vec::with_capacity(count);
    while values.len() < count {
        let message = tokio::time::timeout_at(deadline, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("read {} of {count} records of {topic} within {WAIT:?}", values.len()))
            .unwrap_or_else(|e| panic!("consuming {topic}: {e}"));
        values.push(message.payload().expect("records have values").to_vec());
    }
    values
}

/// The registry's id for `subject` at `version`, read over REST.
async fn id_of(env: &Env, subject: &str, version: u32) -> i32 {
    let answer = env.get(&format!("/subjects/{subject}/versions/{version}")).await;
    assert_eq!(answer.status, 200, "{answer}");
    answer.body["id"].as_i64().and_then(|id| i32::try_from(id).ok()).unwrap_or_else(|| panic!("no id in {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converter_crate_round_trips_avro_through_the_broker() {
    let env = Env::start().await;
    let topic = "converter-orders";
    create_topic(&env.bootstrap, topic).await;

    let settings = SrSettings::new(env.url.clone());
    let encoder = EasyAvroEncoder::new(settings.clone());
    let strategy = SubjectNameStrategy::TopicNameStrategyWithSchema(
        topic.to_string(),
        false,
        SuppliedSchema::new(None, SchemaType::Avro, ORDER.to_string()),
    );
    let mut encoded = Vec::new();
    for i in 0..N {
        encoded
            .push(encoder.encode(order_fields(i), strategy.clone()).await.expect("the encoder registers and encodes"));
    }
    produce(&env.bootstrap, topic, &encoded).await;

    // TopicNameStrategy: `<topic>-value`, version 1, and that id framed in front of every record.
    let id = id_of(&env, "converter-orders-value", 1).await;
    let consumed = consume(&env.bootstrap, topic, N as usize).await;
    assert_eq!(consumed, encoded);
    for bytes in &consumed {
        assert_eq!(wire::decode(bytes).expect("framed").0, id);
    }

    // A fresh decoder has no cached schema: it fetches the writer schema by id.
    let decoder = EasyAvroDecoder::new(SrSettings::new(env.url.clone()));
    for (i, bytes) in consumed.iter().enumerate() {
        let decoded = decoder.decode(Some(bytes)).await.expect("the decoder fetches the schema and decodes");
        assert_eq!(decoded.value, order(i as i64), "record {i}");
        assert_eq!(decoded.name.map(|n| n.fullname(None)).as_deref(), Some("com.example.sluice.Order"));
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_serde_round_trips_and_evolves_through_the_broker() {
    let env = Env::start().await;
    let topic = "serde-readings";
    create_topic(&env.bootstrap, topic).await;
    let subject = "serde-readings-com.example.sluice.Reading";
    let answer = env.put(&format!("/config/{subject}"), json!({"compatibility": "BACKWARD"})).await;
    assert_eq!(answer.status, 200, "{answer}");

    let serde = AvroSerde::builder(&env.url).subject_name_strategy(Strategy::TopicRecordName).build().expect("a serde");
    let v1 = WriterSchema::parse(READING_V1).expect("v1 parses");
    let v2 = WriterSchema::parse(READING_V2).expect("v2 parses");
    assert_eq!(serde.subject(topic, false, &v1).unwrap(), subject);

    // The same serde writes v1 and then v2 under one subject: each version registered once, each framed with its id.
    let mut encoded = Vec::new();
    let mut expected = Vec::new();
    for i in 0..N {
        let (schema, value) = if i < N / 2 {
            (&v1, reading(&format!("s{i}"), i as f64, None))
        } else {
            (&v2, reading(&format!("s{i}"), i as f64, Some("kelvin")))
        };
        encoded.push(serde.serialize(topic, false, schema, value.clone()).await.expect("serialize"));
        expected.push(value);
    }
    produce(&env.bootstrap, topic, &encoded).await;
    let versions = env.get(&format!("/subjects/{subject}/versions")).await;
    assert_eq!(versions.body, json!([1, 2]), "{versions}");
    let (id1, id2) = (id_of(&env, subject, 1).await, id_of(&env, subject, 2).await);
    assert_ne!(id1, id2);

    let consumed = consume(&env.bootstrap, topic, N as usize).await;
    let reader = AvroSerde::new(&env.url).expect("a serde");
    for (i, bytes) in consumed.iter().enumerate() {
        let decoded = reader.deserialize(bytes).await.expect("deserialize");
        assert_eq!(decoded.schema_id, if (i as i64) < N / 2 { id1 } else { id2 }, "record {i}");
        assert_eq!(decoded.record_name.as_deref(), Some("com.example.sluice.Reading"));
        assert_eq!(decoded.value, expected[i], "record {i}");
    }

    // Interop: the converter crate's decoder reads what our serde wrote.
    let decoder = EasyAvroDecoder::new(SrSettings::new(env.url.clone()));
    assert_eq!(decoder.decode(Some(&consumed[0])).await.expect("decode").value, expected[0]);

    // An incompatible v3 is refused by the registry, and the error names the subject.
    let v3 = WriterSchema::parse(READING_V3).expect("v3 parses");
    let value = Value::Record(vec![
        ("sensor".into(), Value::String("x".into())),
        ("value".into(), Value::Double(1.0)),
        ("unit".into(), Value::String("c".into())),
        ("site".into(), Value::String("y".into())),
    ]);
    match serde.serialize(topic, false, &v3, value.clone()).await {
        Err(WireError::Serialize { subject: s, detail, .. }) => {
            assert_eq!(s, subject);
            assert!(detail.contains("409"), "the registry's 409 should show in: {detail}");
        }
        other => panic!("expected the registry to refuse v3, got {other:?}"),
    }
    let versions = env.get(&format!("/subjects/{subject}/versions")).await;
    assert_eq!(versions.body, json!([1, 2]), "{versions}");

    // The refusal is not remembered: once the subject's level allows v3, the same serde registers it.
    let answer = env.put(&format!("/config/{subject}"), json!({"compatibility": "NONE"})).await;
    assert_eq!(answer.status, 200, "{answer}");
    let bytes = serde.serialize(topic, false, &v3, value.clone()).await.expect("v3 registers under NONE");
    assert_eq!(wire::decode(&bytes).expect("framed").0, id_of(&env, subject, 3).await);
    assert_eq!(reader.deserialize(&bytes).await.expect("deserialize").value, value);

    // Bytes that were never framed fail before any registry call, with the wire format's own error.
    assert_eq!(reader.deserialize(b"plain").await, Err(WireError::UnknownMagicByte { byte: b'p' }));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converter_encoded_bytes_read_through_avro_serde() {
    let env = Env::start().await;
    let settings = SrSettings::new(env.url.clone());
    let encoder = EasyAvroEncoder::new(settings);
    let strategy = SubjectNameStrategy::RecordNameStrategyWithSchema(SuppliedSchema::new(
        Some("com.example.sluice.Order".to_string()),
        SchemaType::Avro,
        ORDER.to_string(),
    ));
    let bytes = encoder.encode(order_fields(7), strategy).await.expect("encode");
    let id = id_of(&env, "com.example.sluice.Order", 1).await;

    // RecordNameStrategy on our side names the same subject, so our serde finds the same id for the same schema.
    let serde = AvroSerde::builder(&env.url).subject_name_strategy(Strategy::RecordName).build().expect("a serde");
    let ours =
        serde.serialize("any-topic", false, &WriterSchema::parse(ORDER).unwrap(), order(7)).await.expect("serialize");
    assert_eq!(ours, bytes, "both libraries frame the same value with the same id identically");

    let decoded = serde.deserialize(&bytes).await.expect("deserialize");
    assert_eq!((decoded.schema_id, decoded.value), (id, order(7)));
    env.stop().await;
}
