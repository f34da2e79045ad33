//! The registry's rules, over a [`SchemaLog`]: registration (ids, versions, dedup, compatibility, modes), lookups,
//! soft and permanent deletes, configs and modes. Every method answers with an [`ApiError`] that the REST layer
//! sends as is. Writes run on the leader only (the REST layer forwards them from followers) and one at a time.
//!
//! The rules follow Confluent Schema Registry's, so that its clients see the same answers:
//! - `resolve`: reading a request against the state: schema type, references, parsing, matching versions.
//! - `read`: subjects, versions, lookups by id, lookup of a schema under a subject, compatibility checks.
//! - `write`: registration, soft and permanent deletes of versions and subjects.
//! - `settings`: compatibility configs and modes, global and per subject.
//!
//! Every write takes [`Registry`]'s write lock, waits until the state holds everything in the log
//! ([`SchemaLog::sync`]), decides from that state, and appends; so two registrations never pick one id or version.

mod read;
mod resolve;
mod settings;
#[cfg(test)]
mod tests;
mod write;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::error::StoreError;
use crate::store::{Leadership, Record, SchemaLog};
use crate::types::{CompatibilityLevel, SchemaReference, SchemaType};

/// The body of register, lookup and compatibility requests. Unknown fields (`metadata`, `ruleSet`) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaRequest {
    pub schema: String,
    /// `AVRO` (the default), `JSON` or `PROTOBUF`; anything else is 422 / 42201.
    #[serde(default)]
    pub schema_type: Option<String>,
    #[serde(default)]
    pub references: Vec<SchemaReference>,
    /// IMPORT mode: the id the caller wants.
    #[serde(default)]
    pub id: Option<i32>,
    /// IMPORT mode: the version the caller wants.
    #[serde(default)]
    pub version: Option<i32>,
}

/// One version of a subject, as `GET /subjects/{s}/versions/{v}` and lookup answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubjectVersion {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    #[serde(skip_serializing_if = "SchemaType::is_avro")]
    pub schema_type: SchemaType,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
    pub schema: String,
}

/// A schema by id, as `GET /schemas/ids/{id}` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaById {
    #[serde(skip_serializing_if = "SchemaType::is_avro")]
    pub schema_type: SchemaType,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
    pub schema: String,
}

/// A `{subject, version}` pair, as `GET /schemas/ids/{id}/versions` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectVersionRef {
    pub subject: String,
    pub version: i32,
}

/// The answer of a compatibility check; `messages` only when the request asked for `verbose=true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompatibilityResult {
    pub is_compatible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<String>>,
}

/// A version in a path: a number from 1, or `latest` (also `-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSpec {
    Latest,
    Number(i32),
}

impl VersionSpec {
    /// Parses a path segment; anything but `latest`, `-1` or 1..=2^31-1 is 422 / 42202.
    pub fn parse(text: &str) -> Result<VersionSpec, ApiError> {
        if text.eq_ignore_ascii_case("latest") || text == "-1" {
            return Ok(VersionSpec::Latest);
        }
        match text.parse::<i32>() {
            Ok(n) if n >= 1 => Ok(VersionSpec::Number(n)),
            _ => Err(ApiError::invalid_version(text)),
        }
    }
}

impl std::fmt::Display for VersionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionSpec::Latest => f.write_str("latest"),
            VersionSpec::Number(n) => write!(f, "{n}"),
        }
    }
}

/// The registry: rules over a log.
#[derive(Debug)]
pub struct Registry {
    log: Arc<dyn SchemaLog>,
    /// The global compatibility level while no `CONFIG` record sets one (`--default-compatibility`).
    default_compatibility: CompatibilityLevel,
    /// Held from reading the state to the end of the append, so concurrent writes decide one after another.
    writes: tokio::sync::Mutex<()>,
}

impl Registry {
    pub fn new(log: Arc<dyn SchemaLog>, default_compatibility: CompatibilityLevel) -> Self {
        Self { log, default_compatibility, writes: tokio::sync::Mutex::new(()) }
    }

    /// The log underneath (leadership, sync).
    pub fn log(&self) -> &Arc<dyn SchemaLog> {
        &self.log
    }

    /// The global compatibility level used while none is set.
    pub fn default_compatibility(&self) -> CompatibilityLevel {
        self.default_compatibility
    }

    /// Starts a write: fails fast on a follower, then takes the write lock and catches up with the log so the
    /// decision is made on everything written before (Confluent waits for its reader the same way).
    async fn begin_write(&self) -> Result<tokio::sync::MutexGuard<'_, ()>, ApiError> {
        if self.log.leadership() != Leadership::Leader {
            return Err(StoreError::NotLeader.into());
        }
        let guard = self.writes.lock().await;
        self.log.sync().await?;
        Ok(guard)
    }

    /// Appends records decided under the write lock.
    async fn append(&self, records: Vec<Record>) -> Result<(), ApiError> {
        if records.is_empty() {
            return Ok(());
        }
        self.log.append(records).await.map_err(ApiError::from)
    }
}
