//! Table-driven tests of every transform and predicate, built through [`super::Chain`] from the same config keys
//! a connector uses. Each row: a name, settings, an input record, and the expected output or error; a table
//! reports every failing row at once.

mod cast;
mod chain;
mod date_format;
mod extract_field;
mod flatten;
mod headers;
mod hoist_field;
mod insert_field;
mod mask_field;
mod predicates;
mod replace_field;
mod routers;
mod set_schema_metadata;
mod timestamp_converter;
mod value_to_key;

use std::sync::Arc;

use super::Chain;
use crate::connector::Config;
use crate::data::{Schema, SchemaType, Struct, Value};
use crate::error::ConnectError;
use crate::record::ConnectRecord;

/// What a row expects.
#[derive(Debug)]
pub(super) enum Expect {
    /// This record comes out.
    Record(ConnectRecord),
    /// The record is dropped.
    Dropped,
    /// The transform fails with a message containing this text.
    Fails(&'static str),
    /// Building the chain fails on this setting (key without the `transforms.t.` prefix).
    BadConfig(&'static str),
}

pub(super) struct Case {
    name: &'static str,
    settings: Vec<(&'static str, &'static str)>,
    input: ConnectRecord,
    expect: Expect,
}

pub(super) fn case(
    name: &'static str,
    settings: &[(&'static str, &'static str)],
    input: ConnectRecord,
    expect: Expect,
) -> Case {
    Case { name, settings: settings.to_vec(), input, expect }
}

/// A one-transform config: `transforms=t`, `transforms.t.type=class`, `transforms.t.<k>=<v>`.
pub(super) fn config(class: &str, settings: &[(&str, &str)]) -> Config {
    let mut config = Config::new();
    config.insert("transforms".into(), "t".into());
    config.insert("transforms.t.type".into(), class.into());
    for (k, v) in settings {
        config.insert(format!("transforms.t.{k}"), v.to_string());
    }
    config
}

/// Runs every row through a chain of the one transform `class` and asserts all of them.
pub(super) fn run_table(class: &str, cases: Vec<Case>) {
    let short = class.rsplit('.').next().unwrap_or(class);
    let mut failures = Vec::new();
    let total = cases.len();
    for c in cases {
        let result = Chain::from_config(&config(class, &c.settings)).and_then(|chain| chain.apply(c.input.clone()));
        let ok = match (&c.expect, &result) {
            (Expect::Record(want), Ok(Some(got))) => want == got,
            (Expect::Dropped, Ok(None)) => true,
            (Expect::Fails(text), Err(ConnectError::Transform { name, message })) => {
                name.starts_with(short) && name.ends_with("(transforms.t)") && message.contains(text)
            }
            (Expect::BadConfig(key), Err(ConnectError::Config { key: got, .. })) => {
                *got == format!("transforms.t.{key}")
            }
            _ => false,
        };
        if !ok {
            failures.push(format!("- {}:\n    expected {:?}\n    got      {:?}", c.name, c.expect, result));
        }
    }
    assert!(failures.is_empty(), "{} of {total} rows of {class} failed:\n{}", failures.len(), failures.join("\n"));
}

pub(super) const TOPIC: &str = "orders";
pub(super) const TS: i64 = 1_700_000_000_123; // 2023-11-14T22:13:20.123Z

/// A schemaless record on `orders`, partition 3, timestamp [`TS`], with this value and key `k1`.
pub(super) fn rec(value: Value) -> ConnectRecord {
    let mut r = ConnectRecord::new(TOPIC, s("k1"), value);
    r.kafka_partition = Some(3);
    r.timestamp = Some(TS);
    r
}

/// Like [`rec`] with a value schema.
pub(super) fn srec(schema: &Arc<Schema>, value: Value) -> ConnectRecord {
    let mut r = rec(value);
    r.key_schema = Some(prim(SchemaType::String));
    r.value_schema = Some(schema.clone());
    r
}

/// A record whose key (with an optional schema) is what the transform works on; the value is `v1`.
pub(super) fn krec(schema: Option<&Arc<Schema>>, key: Value) -> ConnectRecord {
    let mut r = rec(s("v1"));
    r.key = key;
    r.key_schema = schema.cloned();
    r
}

/// The record with its value (and value schema) replaced.
pub(super) fn with_value(mut r: ConnectRecord, schema: Option<Arc<Schema>>, value: Value) -> ConnectRecord {
    r.value_schema = schema;
    r.value = value;
    r
}

/// The record with its key (and key schema) replaced.
pub(super) fn with_key(mut r: ConnectRecord, schema: Option<Arc<Schema>>, key: Value) -> ConnectRecord {
    r.key_schema = schema;
    r.key = key;
    r
}

pub(super) fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

pub(super) fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(entries.iter().map(|(k, v)| (s(k), v.clone())).collect())
}

pub(super) fn prim(t: SchemaType) -> Arc<Schema> {
    Schema::primitive(t).shared()
}

pub(super) fn opt(t: SchemaType) -> Arc<Schema> {
    Schema::primitive(t).optional().shared()
}

pub(super) fn schema(fields: &[(&str, Arc<Schema>)]) -> Arc<Schema> {
    Schema::structure(fields.iter().map(|(n, s)| (n.to_string(), s.clone())).collect()).shared()
}

pub(super) fn st(schema: &Arc<Schema>, values: Vec<Value>) -> Value {
    Value::Struct(Struct { schema: schema.clone(), values })
}
