//! The schema registry's settings: typed and strict, so a misspelt key is an error rather than a silent default.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::RegistryError;
use crate::types::CompatibilityLevel;

/// How to run one registry instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// Kafka bootstrap servers, `HOST:PORT[,HOST:PORT...]` (Confluent's `kafkastore.bootstrap.servers`).
    pub bootstrap_servers: String,
    /// Address the REST API binds, `HOST:PORT`; port 0 lets the OS choose. Default `0.0.0.0:8081`.
    pub listen: String,
    /// URL other instances use to forward writes here, e.g. `http://10.0.0.5:8081`. Defaults to
    /// `http://<bound address>`, with a wildcard bind (`0.0.0.0`, `::`) advertised as loopback (`127.0.0.1`,
    /// `[::1]`): right for instances on one host; set it when instances run on several hosts or behind NAT.
    pub advertised_url: Option<String>,
    /// The compacted single-partition topic holding every schema (Confluent's `kafkastore.topic`).
    pub topic: String,
    /// Replication factor used when this instance creates the topic; default min(3, brokers).
    pub topic_replication_factor: Option<i32>,
    /// Consumer group instances join to elect the single writer (Confluent's `schema.registry.group.id`).
    pub group_id: String,
    /// Whether this instance may become the writer (Confluent's `leader.eligibility`).
    pub leader_eligibility: bool,
    /// Global compatibility level until one is set through `PUT /config`.
    pub default_compatibility: CompatibilityLevel,
    /// Users allowed in with HTTP basic auth; empty turns authentication off.
    pub basic_auth: Vec<BasicAuthUser>,
    /// How long a write may take to be acknowledged and applied, in ms.
    pub write_timeout_ms: u64,
    /// How long start-up may wait for the cluster (topic creation, reading the topic to its end), in ms.
    pub init_timeout_ms: u64,
    /// Session timeout of this instance in the election group, in ms: how long after a leader dies (without
    /// leaving the group) another instance takes over. The broker bounds it (Kafka's
    /// `group.min.session.timeout.ms`, 6000 by default).
    pub session_timeout_ms: u64,
    /// Extra librdkafka properties for every client the registry makes (`security.protocol`, ...).
    pub kafka: BTreeMap<String, String>,
}

/// One user of HTTP basic auth.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthUser {
    pub username: String,
    pub password: String,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            bootstrap_servers: "localhost:9092".to_string(),
            listen: "0.0.0.0:8081".to_string(),
            advertised_url: None,
            topic: "_schemas".to_string(),
            topic_replication_factor: None,
            group_id: "schema-registry".to_string(),
            leader_eligibility: true,
            default_compatibility: CompatibilityLevel::Backward,
            basic_auth: Vec::new(),
            write_timeout_ms: 30_000,
            init_timeout_ms: 60_000,
            session_timeout_ms: 10_000,
            kafka: BTreeMap::new(),
        }
    }
}

impl RegistryConfig {
    /// Checks what serde cannot: every problem at once, each naming its field.
    pub fn validate(&self) -> Result<(), RegistryError> {
        let mut problems = Vec::new();
        if self.bootstrap_servers.trim().is_empty() {
            problems.push("bootstrap_servers is empty; give the Kafka cluster's HOST:PORT".to_string());
        }
        if self.topic.trim().is_empty() {
            problems.push("topic is empty; the default is `_schemas`".to_string());
        }
        if self.group_id.trim().is_empty() {
            problems.push("group_id is empty; the default is `schema-registry`".to_string());
        }
        if let Some(url) = &self.advertised_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(format!("advertised_url {url:?} must start with http:// or https://"));
            }
        }
        if self.topic_replication_factor.is_some_and(|rf| rf < 1) {
            problems.push("topic_replication_factor must be at least 1".to_string());
        }
        for (field, value) in [
            ("write_timeout_ms", self.write_timeout_ms),
            ("init_timeout_ms", self.init_timeout_ms),
            ("session_timeout_ms", self.session_timeout_ms),
        ] {
            if value == 0 {
                problems.push(format!("{field} must be more than 0"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(RegistryError::Config(problems.join("; ")))
        }
    }
}
