//! Unit tests of the registry's rules over [`MemoryLog`]: one file per area, sharing the helpers here. The
//! schemas are valid Avro (and JSON Schema) so the expectations hold with the real parsers and checkers.

mod delete;
mod read;
mod register;
mod replay;
mod settings;

use std::sync::Arc;

use super::{Registry, SchemaRequest};
use crate::error::ApiError;
use crate::store::memory::MemoryLog;
use crate::types::{CompatibilityLevel, SchemaReference};

const USER_V1: &str = r#"{"type":"record","name":"User","fields":[{"name":"id","type":"long"}]}"#;
/// USER_V1 plus an optional field: backward and forward compatible with it.
const USER_V2: &str = r#"{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"email","type":["null","string"],"default":null}]}"#;
/// USER_V2 plus another field with a default.
const USER_V3: &str = r#"{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"email","type":["null","string"],"default":null},{"name":"name","type":"string","default":""}]}"#;
const ORDER: &str = r#"{"type":"record","name":"Order","fields":[{"name":"amount","type":"double"}]}"#;
const JSON_OBJECT: &str = r#"{"type":"object","properties":{"id":{"type":"integer"}}}"#;

fn registry() -> (Arc<MemoryLog>, Registry) {
    let log = Arc::new(MemoryLog::default());
    let registry = Registry::new(log.clone(), CompatibilityLevel::Backward);
    (log, registry)
}

fn avro(text: &str) -> SchemaRequest {
    SchemaRequest { schema: text.to_string(), ..SchemaRequest::default() }
}

fn json(text: &str) -> SchemaRequest {
    SchemaRequest { schema: text.to_string(), schema_type: Some("JSON".to_string()), ..SchemaRequest::default() }
}

fn with_id(text: &str, id: i32) -> SchemaRequest {
    SchemaRequest { id: Some(id), ..avro(text) }
}

fn reference(name: &str, subject: &str, version: i32) -> SchemaReference {
    SchemaReference { name: name.to_string(), subject: subject.to_string(), version }
}

/// The error code of a failed call, or a panic naming what succeeded instead.
fn code<T: std::fmt::Debug>(result: Result<T, ApiError>) -> i32 {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => e.error_code,
    }
}

async fn register(registry: &Registry, subject: &str, text: &str) -> i32 {
    registry.register(subject, avro(text), false).await.unwrap_or_else(|e| panic!("registering under {subject}: {e}"))
}
