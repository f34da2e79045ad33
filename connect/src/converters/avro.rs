//! Confluent's `io.confluent.connect.avro.AvroConverter`: Connect data as Avro in the Confluent wire format,
//! the writer schema registered in a schema registry (TopicNameStrategy unless set: `<topic>-key|value`) and
//! looked up by id when reading.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use parking_lot::Mutex;
use sluice_schema_registry::wire::{AvroSerde, SubjectNameStrategy, WireError, WriterSchema};

use super::avro_schema::{from_avro, from_avro_value, to_avro_value, ToAvro};
use super::writer_cache::WriterCache;
use super::Converter;
use crate::data::{Schema, SchemaType, Value};
use crate::error::ConnectError;

/// The Avro converter's settings (Confluent's names under `key.converter.` / `value.converter.`).
#[derive(Debug, Clone)]
pub struct AvroOptions {
    /// `schema.registry.url`; the first of a comma-separated list is used.
    pub registry_url: String,
    /// `basic.auth.user.info` (`user:password`) with `basic.auth.credentials.source=USER_INFO`.
    pub basic_auth: Option<(String, String)>,
    /// `key.subject.name.strategy` or `value.subject.name.strategy`.
    pub strategy: SubjectNameStrategy,
    /// `connect.meta.data`: keep Connect's names, versions, docs and parameters in `connect.*` properties.
    pub connect_meta_data: bool,
}

/// Connect data to Avro through a schema registry and back.
pub struct AvroConverter {
    serde: AvroSerde,
    options: AvroOptions,
    http: reqwest::Client,
    /// Writer schemas by Connect schema: building the Avro text and parsing it are the costly part, and a
    /// stream's records share a few schemas.
    writers: Mutex<WriterCache>,
    /// Connect schemas of writer schemas by registry id; ids never change meaning.
    readers: Mutex<HashMap<i32, Arc<Schema>>>,
}

impl std::fmt::Debug for AvroConverter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroConverter").field("registry_url", &self.options.registry_url).finish_non_exhaustive()
    }
}

impl AvroConverter {
    /// A converter for the registry in `options`; fails on a malformed URL (no call is made yet).
    pub fn new(options: AvroOptions) -> Result<Self, WireError> {
        let mut builder = AvroSerde::builder(&options.registry_url).subject_name_strategy(options.strategy);
        if let Some((user, password)) = &options.basic_auth {
            builder = builder.basic_auth(user, password);
        }
        Ok(AvroConverter {
            serde: builder.build()?,
            options,
            http: reqwest::Client::new(),
            writers: Mutex::new(WriterCache::default()),
            readers: Mutex::new(HashMap::new()),
        })
    }

    /// The Avro schema text the converter registers for `schema`.
    pub fn avro_schema(&self, schema: &Schema) -> Result<String, ConnectError> {
        Ok(ToAvro::new(self.options.connect_meta_data).schema(schema)?.to_string())
    }

    /// The writer schema made of `schema`, built and parsed once per schema.
    fn writer(&self, schema: &Arc<Schema>) -> Result<WriterSchema, ConnectError> {
        if let Some(writer) = self.writers.lock().get(schema) {
            return Ok(writer);
        }
        let writer = WriterSchema::parse(&self.avro_schema(schema)?).map_err(|e| {
            ConnectError::Conversion(format!("the Avro schema made of the Connect schema is invalid: {e}"))
        })?;
        self.writers.lock().insert(schema, writer.clone());
        Ok(writer)
    }

    /// The Connect schema of registry schema `id`, fetched once.
    async fn reader(&self, id: i32) -> Result<Arc<Schema>, ConnectError> {
        if let Some(schema) = self.readers.lock().get(&id) {
            return Ok(schema.clone());
        }
        let url = format!("{}/schemas/ids/{id}", self.options.registry_url.trim_end_matches('/'));
        let mut request = self.http.get(&url);
        if let Some((user, password)) = &self.options.basic_auth {
            request = request.basic_auth(user, Some(password));
        }
        let fetch_failed = |detail: String| ConnectError::Connector {
            message: format!("could not fetch Avro schema {id} from the schema registry at {url}: {detail}"),
            retriable: true,
        };
        let answer = request.send().await.map_err(|e| fetch_failed(e.to_string()))?;
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.map_err(|e| fetch_failed(e.to_string()))?;
        if !status.is_success() {
            return Err(fetch_failed(format!("HTTP {status}: {body}")));
        }
        let text = body["schema"].as_str().ok_or_else(|| fetch_failed(format!("no schema in the answer {body}")))?;
        let json: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ConnectError::Conversion(format!("registry schema {id} is not JSON: {e}")))?;
        let schema = from_avro(&json)
            .map_err(|e| ConnectError::Conversion(format!("registry schema {id} has no Connect equivalent: {e}")))?;
        self.readers.lock().insert(id, schema.clone());
        Ok(schema)
    }
}

/// A schema for a value that came without one (Confluent infers one for primitives; a struct has its own).
fn infer(value: &Value) -> Option<Arc<Schema>> {
    // One shared Arc per type, so the writer cache finds inferred schemas by address like any other.
    static PRIMITIVES: OnceLock<HashMap<SchemaType, Arc<Schema>>> = OnceLock::new();
    let primitive = |t| {
        PRIMITIVES
            .get_or_init(|| {
                let types = [
                    SchemaType::Boolean,
                    SchemaType::Int8,
                    SchemaType::Int16,
                    SchemaType::Int32,
                    SchemaType::Int64,
                    SchemaType::Float32,
                    SchemaType::Float64,
                    SchemaType::String,
                    SchemaType::Bytes,
                ];
                types.into_iter().map(|t| (t, Schema::primitive(t).shared())).collect()
            })
            .get(&t)
            .cloned()
    };
    match value {
        Value::Boolean(_) => primitive(SchemaType::Boolean),
        Value::Int8(_) => primitive(SchemaType::Int8),
        Value::Int16(_) => primitive(SchemaType::Int16),
        Value::Int32(_) => primitive(SchemaType::Int32),
        Value::Int64(_) => primitive(SchemaType::Int64),
        Value::Float32(_) => primitive(SchemaType::Float32),
        Value::Float64(_) => primitive(SchemaType::Float64),
        Value::String(_) => primitive(SchemaType::String),
        Value::Bytes(_) => primitive(SchemaType::Bytes),
        Value::Struct(s) => Some(s.schema.clone()),
        Value::Null | Value::Array(_) | Value::Map(_) => None,
    }
}

fn wire_error(e: WireError) -> ConnectError {
    match e {
        WireError::Serialize { retriable: true, .. } | WireError::Deserialize { retriable: true, .. } => {
            ConnectError::Connector { message: e.to_string(), retriable: true }
        }
        other => ConnectError::Conversion(other.to_string()),
    }
}

#[async_trait]
impl Converter for AvroConverter {
    async fn from_connect(
        &self,
        topic: &str,
        is_key: bool,
        schema: Option<&Arc<Schema>>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        // Confluent's serializer writes no bytes for a null, whatever the schema: a tombstone.
        if value.is_null() {
            return Ok(None);
        }
        let schema = match schema.cloned().or_else(|| infer(value)) {
            Some(schema) => schema,
            None => {
                return Err(ConnectError::Conversion(format!(
                    "AvroConverter needs a schema for arrays and maps (topic {topic}); the record has none"
                )))
            }
        };
        let writer = self.writer(&schema)?;
        let avro = to_avro_value(&schema, value)?;
        self.serde.serialize(topic, is_key, &writer, avro).await.map(Some).map_err(wire_error)
    }

    async fn to_connect(
        &self,
        _topic: &str,
        _is_key: bool,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<Arc<Schema>>, Value), ConnectError> {
        let Some(bytes) = bytes else {
            return Ok((None, Value::Null));
        };
        let decoded = self.serde.deserialize(bytes).await.map_err(wire_error)?;
        let schema = self.reader(decoded.schema_id).await?;
        let value = from_avro_value(&schema, decoded.value)?;
        Ok((Some(schema), value))
    }
}
