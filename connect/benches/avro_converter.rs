//! Per-record cost of `from_connect` for the Avro converter (against a real in-process broker and schema registry,
//! after the schema is registered, so only the per-record work is timed) next to the JSON converter's, on a record
//! shaped like datagen's `orders` quickstart.
//!
//! Cases: `shared` passes the same `Arc<Schema>` every record (what a source like datagen does); `fresh_arc` passes
//! an equal schema in a new `Arc` every record (a source or transform that rebuilds its schema); `inferred` is a
//! string value without a schema (the converter infers one per record).
//!
//! Run with `cargo bench -p sluice-connect --bench avro_converter`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use sluice_broker::{Broker, BrokerConfig};
use sluice_connect::connector::Config;
use sluice_connect::converters;
use sluice_connect::data::{Schema, SchemaType, Struct, Value};
use sluice_schema_registry::server::SchemaRegistry;
use sluice_schema_registry::RegistryConfig;

fn orders_schema() -> Arc<Schema> {
    let long = || Schema::primitive(SchemaType::Int64).shared();
    let string = || Schema::primitive(SchemaType::String).shared();
    let address =
        Schema::structure(vec![("city".into(), string()), ("state".into(), string()), ("zipcode".into(), long())])
            .with_name("ksql.address")
            .shared();
    Schema::structure(vec![
        ("ordertime".into(), long()),
        ("orderid".into(), long()),
        ("itemid".into(), string()),
        ("orderunits".into(), Schema::primitive(SchemaType::Float64).shared()),
        ("address".into(), address),
    ])
    .with_name("ksql.orders")
    .shared()
}

fn orders_value(schema: &Arc<Schema>) -> Value {
    let address_schema = schema.field("address").expect("orders has an address").schema.clone();
    let mut address = Struct::new(address_schema);
    address.put("city", Value::String("City_42".into()));
    address.put("state", Value::String("State_7".into()));
    address.put("zipcode", Value::Int64(54321));
    let mut order = Struct::new(schema.clone());
    order.put("ordertime", Value::Int64(1_500_000_000_000));
    order.put("orderid", Value::Int64(123_456));
    order.put("itemid", Value::String("Item_321".into()));
    order.put("orderunits", Value::Float64(4.25));
    order.put("address", Value::Struct(address));
    Value::Struct(order)
}

fn config(pairs: &[(&str, &str)]) -> Config {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let broker_config =
        BrokerConfig { listen: "127.0.0.1:0".into(), data_dir: dir.path().join("data"), ..BrokerConfig::default() };
    let broker = runtime.block_on(Broker::start(broker_config)).expect("the broker starts");
    let registry_config = RegistryConfig {
        bootstrap_servers: broker.local_addr().to_string(),
        listen: "127.0.0.1:0".to_string(),
        write_timeout_ms: 20_000,
        init_timeout_ms: 30_000,
        ..RegistryConfig::default()
    };
    let registry = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(60), SchemaRegistry::start(registry_config)).await })
        .expect("the registry starts in time")
        .expect("the registry starts");
    let url = registry.url().to_string();

    let avro = converters::build(
        &config(&[("value.converter", "AvroConverter"), ("value.converter.schema.registry.url", &url)]),
        "value.converter",
    )
    .unwrap();
    let json = converters::build(
        &config(&[("value.converter", "JsonConverter"), ("value.converter.schemas.enable", "false")]),
        "value.converter",
    )
    .unwrap();
    let schema = orders_schema();
    let value = orders_value(&schema);
    let text = Value::String("a string value without a schema".into());
    // Registers both schemas, so the timed loops never call the registry.
    // The inferred string schema goes to a topic of its own: the registry refuses it as a new orders schema.
    for (topic, s, v) in [("orders", Some(&schema), &value), ("notes", None, &text)] {
        let bytes = runtime.block_on(avro.from_connect(topic, false, s, v)).unwrap().unwrap();
        println!("avro record on {topic}: {} bytes", bytes.len());
    }
    let bytes = runtime.block_on(json.from_connect("orders", false, Some(&schema), &value)).unwrap().unwrap();
    println!("json record: {} bytes", bytes.len());

    let mut group = c.benchmark_group("from_connect");
    group.bench_function("avro/shared", |b| {
        b.iter(|| runtime.block_on(avro.from_connect("orders", false, Some(&schema), &value)).unwrap())
    });
    group.bench_function("avro/fresh_arc", |b| {
        b.iter_batched(
            || Arc::new((*schema).clone()),
            |fresh| runtime.block_on(avro.from_connect("orders", false, Some(&fresh), &value)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("avro/inferred", |b| {
        b.iter(|| runtime.block_on(avro.from_connect("notes", false, None, &text)).unwrap())
    });
    group.bench_function("json/shared", |b| {
        b.iter(|| runtime.block_on(json.from_connect("orders", false, Some(&schema), &value)).unwrap())
    });
    group.finish();

    runtime.block_on(registry.shutdown());
    runtime.block_on(async { tokio::time::timeout(Duration::from_secs(30), broker.shutdown()).await }).ok();
}

criterion_group!(benches, bench);
criterion_main!(benches);
