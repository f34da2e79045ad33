//! Avro values to framed bytes and back through a schema registry, as Confluent's `KafkaAvroSerializer` and
//! `KafkaAvroDeserializer` do: the writer schema is registered (or found) under its subject, its id framed in front.
//!
//! Built on `schema_registry_converter`'s `easy` async encoder and decoder (HTTP calls, caching, Avro encoding);
//! this module keeps that crate's types out of callers' code so connect, streams and pipelines depend on ours.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use apache_avro::types::Value;
use apache_avro::Schema;
use parking_lot::Mutex;
use schema_registry_converter::async_impl::easy_avro::{EasyAvroDecoder, EasyAvroEncoder};
use schema_registry_converter::async_impl::schema_registry::SrSettings;
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy as SrcStrategy, SuppliedSchema,
};

use super::{SubjectNameStrategy, WireError};

/// A writer schema, parsed once: the text sent to the registry as the caller wrote it, the parsed form used to
/// encode, and the full name the record strategies need.
#[derive(Debug, Clone)]
pub struct WriterSchema {
    text: Arc<str>,
    parsed: Arc<Schema>,
    full_name: Option<Arc<str>>,
}

impl WriterSchema {
    /// Parses an Avro schema in JSON form.
    pub fn parse(text: &str) -> Result<Self, WireError> {
        let parsed = Schema::parse_str(text).map_err(|e| WireError::InvalidSchema(e.to_string()))?;
        let full_name = parsed.name().map(|n| Arc::from(n.fullname(None)));
        Ok(Self { text: Arc::from(text), parsed: Arc::new(parsed), full_name })
    }

    /// The parsed schema, for building values.
    pub fn schema(&self) -> &Schema {
        &self.parsed
    }

    /// The schema text as given to [`WriterSchema::parse`], which is what gets registered.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Namespace and name of a record, enum or fixed schema; `None` for primitives, arrays, maps and unions.
    pub fn full_name(&self) -> Option<&str> {
        self.full_name.as_deref()
    }
}

/// A decoded message: the schema id it was written with, the writer's record name, and the value as written.
#[derive(Debug, Clone, PartialEq)]
pub struct AvroDecoded {
    pub schema_id: i32,
    /// Full name of the writer schema when it is a record.
    pub record_name: Option<String>,
    pub value: Value,
}

/// Settings for an [`AvroSerde`] beyond the registry URL.
#[derive(Debug, Clone)]
pub struct AvroSerdeBuilder {
    url: String,
    strategy: SubjectNameStrategy,
    basic_auth: Option<(String, String)>,
    timeout: Duration,
}

impl AvroSerdeBuilder {
    /// How subjects are named; TopicNameStrategy unless set.
    pub fn subject_name_strategy(mut self, strategy: SubjectNameStrategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// HTTP basic auth for registries that require it.
    pub fn basic_auth(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.basic_auth = Some((username.into(), password.into()));
        self
    }

    /// Connect and read timeout of each registry call; 30 s unless set.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn build(self) -> Result<AvroSerde, WireError> {
        let url = self.url.trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(WireError::Client(format!(
                "registry URL '{}' must start with http:// or https://, e.g. http://localhost:8081",
                self.url
            )));
        }
        let mut builder = SrSettings::new_builder(url);
        builder.set_timeout(self.timeout);
        if let Some((user, password)) = &self.basic_auth {
            builder.set_basic_authorization(user, Some(password));
        }
        let settings = builder.build().map_err(|e| WireError::Client(e.to_string()))?;
        Ok(AvroSerde {
            decoder: Arc::new(Mutex::new(EasyAvroDecoder::new(settings.clone()))),
            settings,
            strategy: self.strategy,
            encoders: Arc::new(Mutex::new(HashMap::new())),
        })
    }
}

/// Serializes and deserializes Avro values in the Confluent wire format through one schema registry.
///
/// Cheap to clone (everything is shared) and safe to use from many tasks at once. Schemas are registered on first
/// use and cached, as ids never change once assigned.
#[derive(Clone)]
pub struct AvroSerde {
    settings: SrSettings,
    strategy: SubjectNameStrategy,
    /// Replaced by a fresh one when a registry call failed: the crate caches failed schema fetches for good (see
    /// [`forget_failure`]).
    decoder: Arc<Mutex<EasyAvroDecoder>>,
    /// One encoder per distinct writer schema text. The crate's encoder caches the registered schema by subject
    /// alone, so one encoder fed a newer schema for a known subject would keep writing the older one; an encoder per
    /// schema registers each version once. Keyed by text rather than canonical form, which drops defaults and
    /// aliases: two texts of one schema cost one extra registration call, which the registry answers with the same
    /// id. Writer schemas in a program are few, so this stays small.
    encoders: Arc<Mutex<HashMap<Arc<str>, EasyAvroEncoder>>>,
}

impl std::fmt::Debug for AvroSerde {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroSerde").field("strategy", &self.strategy).finish_non_exhaustive()
    }
}

impl AvroSerde {
    /// A serde for the registry at `registry_url` (e.g. `http://localhost:8081`) with TopicNameStrategy.
    pub fn new(registry_url: &str) -> Result<Self, WireError> {
        Self::builder(registry_url).build()
    }

    pub fn builder(registry_url: &str) -> AvroSerdeBuilder {
        AvroSerdeBuilder {
            url: registry_url.to_string(),
            strategy: SubjectNameStrategy::default(),
            basic_auth: None,
            timeout: Duration::from_secs(30),
        }
    }

    pub fn subject_name_strategy(&self) -> SubjectNameStrategy {
        self.strategy
    }

    /// The subject `schema` is registered under for a key or value of `topic`.
    pub fn subject(&self, topic: &str, is_key: bool, schema: &WriterSchema) -> Result<String, WireError> {
        self.strategy.subject(topic, is_key, schema.full_name())
    }

    /// Encodes `value` with `schema`, registering the schema under its subject first if this serde has not yet;
    /// the registry refuses a schema its compatibility level forbids, and that refusal is the error.
    pub async fn serialize(
        &self,
        topic: &str,
        is_key: bool,
        schema: &WriterSchema,
        value: Value,
    ) -> Result<Vec<u8>, WireError> {
        let subject = self.subject(topic, is_key, schema)?;
        // The crate names subjects itself; its record-name strategy uses the supplied name verbatim as the subject,
        // so handing it our subject keeps one source of truth for naming whatever our strategy is.
        let supplied = SuppliedSchema::new(Some(subject.clone()), SchemaType::Avro, schema.text().to_string());
        let strategy = SrcStrategy::RecordNameStrategyWithSchema(supplied);
        let encoder = self.encoder_for(schema);
        encoder.encode_value(value, &strategy).await.map_err(|e| {
            if forget_failure(&e) {
                self.encoders.lock().remove(&schema.text);
            }
            WireError::Serialize { subject, detail: describe(&e), retriable: e.retriable }
        })
    }

    /// Decodes a framed message, fetching (and caching) the writer schema by the id in its header.
    pub async fn deserialize(&self, bytes: &[u8]) -> Result<AvroDecoded, WireError> {
        // Our own header check first, for its clearer errors and for the id.
        let (schema_id, _) = super::decode(bytes)?;
        let decoder = self.decoder.lock().clone();
        let decoded = decoder.decode(Some(bytes)).await.map_err(|e| {
            if forget_failure(&e) {
                *self.decoder.lock() = EasyAvroDecoder::new(self.settings.clone());
            }
            WireError::Deserialize { schema_id, detail: describe(&e), retriable: e.retriable }
        })?;
        Ok(AvroDecoded { schema_id, record_name: decoded.name.map(|n| n.fullname(None)), value: decoded.value })
    }

    fn encoder_for(&self, schema: &WriterSchema) -> EasyAvroEncoder {
        let mut encoders = self.encoders.lock();
        encoders.entry(schema.text.clone()).or_insert_with(|| EasyAvroEncoder::new(self.settings.clone())).clone()
    }
}

/// Whether `e` is a registry failure the crate has cached. It caches every non-retriable failure of a schema fetch
/// or registration (every HTTP error but 502 and 503 counts as non-retriable) and answers later calls from that
/// cache, so a 409 from a compatibility level since relaxed, or a 50004 while the registry elects its writer, would
/// fail that subject or id for the life of the process. Encoding and decoding errors are never cached, so bad data
/// does not throw the good schemas away.
fn forget_failure(e: &SRCError) -> bool {
    e.cached
}

/// The crate's `Display` adds caching flags meant for its own debugging; the message and cause are what matter.
fn describe(e: &SRCError) -> String {
    match &e.cause {
        Some(cause) => format!("{}: {cause}", e.error),
        None => e.error.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"{"type":"record","name":"Order","namespace":"com.example",
        "fields":[{"name":"id","type":"long"},{"name":"item","type":"string"}]}"#;

    #[test]
    fn writer_schema_keeps_text_and_names() {
        let schema = WriterSchema::parse(ORDER).unwrap();
        assert_eq!(schema.text(), ORDER);
        assert_eq!(schema.full_name(), Some("com.example.Order"));
        assert!(matches!(schema.schema(), Schema::Record(_)));
        let string = WriterSchema::parse(r#""string""#).unwrap();
        assert_eq!(string.full_name(), None);
    }

    #[test]
    fn invalid_schema_is_an_error() {
        let err = WriterSchema::parse(r#"{"type":"record","name":"X"}"#).unwrap_err();
        assert!(matches!(err, WireError::InvalidSchema(_)), "{err}");
    }

    #[test]
    fn subjects_follow_the_strategy() {
        let schema = WriterSchema::parse(ORDER).unwrap();
        let topic = AvroSerde::new("http://localhost:8081").unwrap();
        assert_eq!(topic.subject("orders", false, &schema).unwrap(), "orders-value");
        let record = AvroSerde::builder("http://localhost:8081/")
            .subject_name_strategy(SubjectNameStrategy::TopicRecordName)
            .build()
            .unwrap();
        assert_eq!(record.subject("orders", true, &schema).unwrap(), "orders-com.example.Order");
        let primitive = WriterSchema::parse(r#""long""#).unwrap();
        assert!(matches!(record.subject("orders", true, &primitive), Err(WireError::NoRecordName { .. })));
    }

    #[test]
    fn bad_url_is_an_error() {
        let err = AvroSerde::new("localhost:8081").unwrap_err();
        assert!(err.to_string().contains("http://"), "{err}");
    }

    #[tokio::test]
    async fn deserialize_checks_the_header_before_any_call() {
        // Port 9 (discard) is never a registry; the header errors come before any HTTP call.
        let serde = AvroSerde::new("http://127.0.0.1:9").unwrap();
        assert_eq!(serde.deserialize(&[0, 0]).await, Err(WireError::TooShort { len: 2 }));
        assert_eq!(serde.deserialize(b"{\"a\":1}").await, Err(WireError::UnknownMagicByte { byte: b'{' }));
    }

    #[test]
    fn one_encoder_per_writer_schema() {
        let serde = AvroSerde::new("http://localhost:8081").unwrap();
        let v1 = WriterSchema::parse(ORDER).unwrap();
        let v1_again = WriterSchema::parse(ORDER).unwrap();
        let v2 = WriterSchema::parse(
            r#"{"type":"record","name":"Order","namespace":"com.example","fields":[{"name":"id","type":"long"}]}"#,
        )
        .unwrap();
        serde.encoder_for(&v1);
        serde.encoder_for(&v1_again);
        assert_eq!(serde.encoders.lock().len(), 1);
        serde.encoder_for(&v2);
        assert_eq!(serde.encoders.lock().len(), 2);
    }
}
