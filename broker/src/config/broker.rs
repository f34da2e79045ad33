//! Broker settings: typed, strict, readable from a TOML file, `SLUICE_*` environment variables and flags.
//!
//! Precedence, lowest first: built-in defaults, the config file, environment variables, command-line flags
//! (the CLI applies flags on top of what [`BrokerConfig::load`] returns).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Everything a broker needs to start. Field names are the keys of the TOML config file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    /// This broker's node id, as reported in Metadata and DescribeCluster.
    pub node_id: i32,
    /// The cluster id reported to clients. A fresh data dir gets a random one when left empty.
    pub cluster_id: String,
    /// Where the broker accepts Kafka-protocol connections (`HOST:PORT`; port 0 asks the OS for one).
    pub listen: String,
    /// The `HOST:PORT` clients are told to connect to; defaults to the bound listen address.
    pub advertised_listener: Option<String>,
    /// Directory holding topic metadata and partition logs.
    pub data_dir: PathBuf,
    /// Create a topic when a client produces to or asks metadata for one that does not exist.
    pub auto_create_topics: bool,
    /// Partition count of auto-created topics and of CreateTopics requests that ask for the default (-1).
    pub num_partitions: i32,
    /// Largest request frame accepted, in bytes; a larger frame closes the connection.
    pub max_request_bytes: u32,
    /// How often retention (time and size) is enforced, in milliseconds.
    pub retention_check_interval_ms: u64,
    /// How often the log cleaner looks for compacted topics with work to do, in milliseconds.
    pub cleaner_interval_ms: u64,
    /// How often the flush policy (`flush.ms`) is checked, in milliseconds.
    pub flush_check_interval_ms: u64,
    /// Partitions of the internal `__consumer_offsets` topic (fixed once the topic exists).
    pub offsets_topic_num_partitions: i32,
    /// How long a new classic group waits for more members before its first rebalance, in milliseconds.
    pub group_initial_rebalance_delay_ms: u64,
    /// Smallest session timeout a group member may ask for, in milliseconds.
    pub group_min_session_timeout_ms: u64,
    /// Largest session timeout a group member may ask for, in milliseconds.
    pub group_max_session_timeout_ms: u64,
    /// Session timeout of KIP-848 consumer-protocol group members, in milliseconds (set by the broker).
    pub group_consumer_session_timeout_ms: u64,
    /// Heartbeat interval KIP-848 consumer-protocol members are told to use, in milliseconds.
    pub group_consumer_heartbeat_interval_ms: u64,
    /// Partitions of the internal `__transaction_state` topic (fixed once the topic exists).
    pub transaction_state_num_partitions: i32,
    /// Largest transaction timeout a producer may ask for, in milliseconds.
    pub transaction_max_timeout_ms: u64,
    /// How often transactions past their timeout are looked for and aborted, in milliseconds.
    pub transaction_abort_check_interval_ms: u64,
    /// How long the state of an idle producer id is kept for deduplication, in milliseconds.
    pub producer_id_expiration_ms: u64,
    /// Defaults for topic configs (same keys as the topic configs, e.g. `"retention.ms" = "3600000"`).
    /// Shown by DescribeConfigs with source STATIC_BROKER_CONFIG.
    pub topic_defaults: BTreeMap<String, String>,

    // --- Cluster mode (issue 4). Without `controller_quorum` the broker runs alone, as before. ---
    /// The controller quorum voters, `ID@HOST:PORT,ID@HOST:PORT,...` (Kafka's `controller.quorum.voters`).
    /// Setting it turns on cluster mode; this node is a controller when its `node_id` is listed (combined mode).
    pub controller_quorum: Option<String>,
    /// Where this node's controller listener binds; defaults to its own entry in `controller_quorum`.
    pub controller_listen: Option<String>,
    /// The local IP inter-node connections (Raft, heartbeats, replica fetches) leave from; default: any.
    pub bind_outbound: Option<String>,
    /// `broker.rack`, for rack-aware replica placement.
    pub rack: Option<String>,
    /// Replication factor of topics created without one (CreateTopics with -1, auto-created topics).
    pub default_replication_factor: i16,
    /// Replication factor of `__consumer_offsets` (capped at the number of live brokers when created).
    pub offsets_topic_replication_factor: i16,
    /// Replication factor of `__transaction_state` (capped at the number of live brokers when created).
    pub transaction_state_replication_factor: i16,
    /// A follower that has not caught up with the leader for this long leaves the ISR, in milliseconds.
    pub replica_lag_time_max_ms: u64,
    /// Longest a follower's fetch waits at the leader for new data, in milliseconds.
    pub replica_fetch_wait_max_ms: u64,
    /// Most bytes a follower asks for per partition and fetch.
    pub replica_fetch_max_bytes: i32,
    /// How often a broker heartbeats to the controller, in milliseconds.
    pub broker_heartbeat_interval_ms: u64,
    /// A broker not heard from for this long is fenced and its leaderships move, in milliseconds.
    pub broker_session_timeout_ms: u64,
    /// Raft election timeout of the controller quorum (randomised between this and twice this), in milliseconds.
    pub controller_election_timeout_ms: u64,
    /// Raft heartbeat interval of the controller quorum leader, in milliseconds.
    pub controller_heartbeat_interval_ms: u64,
    /// What this node of a cluster is (Kafka's `process.roles`): `"broker"` and/or `"controller"`; both by
    /// default (combined mode). A controller must be a voter of `controller_quorum`; a broker-only node must not
    /// be one (it follows the metadata log as a Raft learner, reached at `controller_listen`).
    pub process_roles: Vec<String>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            node_id: 1,
            cluster_id: String::new(),
            listen: "127.0.0.1:9092".to_string(),
            advertised_listener: None,
            data_dir: PathBuf::from("./sluice-data"),
            auto_create_topics: true,
            num_partitions: 1,
            max_request_bytes: 100 * 1024 * 1024,
            retention_check_interval_ms: 300_000,
            cleaner_interval_ms: 15_000,
            flush_check_interval_ms: 1_000,
            offsets_topic_num_partitions: 50,
            group_initial_rebalance_delay_ms: 3_000,
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            group_consumer_session_timeout_ms: 45_000,
            group_consumer_heartbeat_interval_ms: 5_000,
            transaction_state_num_partitions: 50,
            transaction_max_timeout_ms: 900_000,
            transaction_abort_check_interval_ms: 10_000,
            producer_id_expiration_ms: 86_400_000,
            topic_defaults: BTreeMap::new(),
            controller_quorum: None,
            controller_listen: None,
            bind_outbound: None,
            rack: None,
            default_replication_factor: 1,
            offsets_topic_replication_factor: 3,
            transaction_state_replication_factor: 3,
            replica_lag_time_max_ms: 30_000,
            replica_fetch_wait_max_ms: 500,
            replica_fetch_max_bytes: 1024 * 1024,
            broker_heartbeat_interval_ms: 2_000,
            broker_session_timeout_ms: 9_000,
            controller_election_timeout_ms: 1_000,
            controller_heartbeat_interval_ms: 200,
            process_roles: vec![ROLE_BROKER.to_string(), ROLE_CONTROLLER.to_string()],
        }
    }
}

/// A setting that could not be read, naming where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// The config file is not valid TOML or has an unknown or mistyped key.
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// An environment variable or flag holds a value of the wrong shape.
    #[error("setting {setting}: {message}")]
    Invalid { setting: String, message: String },
}

impl BrokerConfig {
    /// Reads defaults, then `file` if given, then `SLUICE_*` environment variables from `env`.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        for (key, value) in env {
            config.apply_env(&key, &value)?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Parses a TOML config file; errors carry the file, line and key that is wrong.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|span| format!("line {}: ", text[..span.start].lines().count().max(1)))
                .unwrap_or_default();
            ConfigError::Parse { path: path.to_path_buf(), message: format!("{line}{}", e.message()) }
        })
    }

    /// Applies one `SLUICE_<FIELD>` variable (upper-case field name); other variables are ignored.
    pub fn apply_env(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let Some(field) = key.strip_prefix("SLUICE_") else { return Ok(()) };
        let invalid = |message: String| ConfigError::Invalid { setting: key.to_string(), message };
        let parse_bool = |v: &str| match v {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(invalid(format!("expected true or false, got {v:?}"))),
        };
        match field {
            "NODE_ID" => self.node_id = value.parse().map_err(|e| invalid(format!("{e}")))?,
            "CLUSTER_ID" => self.cluster_id = value.to_string(),
            "LISTEN" => self.listen = value.to_string(),
            "ADVERTISED_LISTENER" => self.advertised_listener = Some(value.to_string()),
            "DATA_DIR" => self.data_dir = PathBuf::from(value),
            "AUTO_CREATE_TOPICS" => self.auto_create_topics = parse_bool(value)?,
            "NUM_PARTITIONS" => self.num_partitions = value.parse().map_err(|e| invalid(format!("{e}")))?,
            "MAX_REQUEST_BYTES" => self.max_request_bytes = value.parse().map_err(|e| invalid(format!("{e}")))?,
            "RETENTION_CHECK_INTERVAL_MS" => {
                self.retention_check_interval_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "CLEANER_INTERVAL_MS" => self.cleaner_interval_ms = value.parse().map_err(|e| invalid(format!("{e}")))?,
            "FLUSH_CHECK_INTERVAL_MS" => {
                self.flush_check_interval_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "OFFSETS_TOPIC_NUM_PARTITIONS" => {
                self.offsets_topic_num_partitions = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "GROUP_INITIAL_REBALANCE_DELAY_MS" => {
                self.group_initial_rebalance_delay_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "GROUP_MIN_SESSION_TIMEOUT_MS" => {
                self.group_min_session_timeout_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "GROUP_MAX_SESSION_TIMEOUT_MS" => {
                self.group_max_session_timeout_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "GROUP_CONSUMER_SESSION_TIMEOUT_MS" => {
                self.group_consumer_session_timeout_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS" => {
                self.group_consumer_heartbeat_interval_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "TRANSACTION_STATE_NUM_PARTITIONS" => {
                self.transaction_state_num_partitions = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "TRANSACTION_MAX_TIMEOUT_MS" => {
                self.transaction_max_timeout_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "TRANSACTION_ABORT_CHECK_INTERVAL_MS" => {
                self.transaction_abort_check_interval_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "PRODUCER_ID_EXPIRATION_MS" => {
                self.producer_id_expiration_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "CONTROLLER_QUORUM" => self.controller_quorum = Some(value.to_string()),
            "CONTROLLER_LISTEN" => self.controller_listen = Some(value.to_string()),
            "BIND_OUTBOUND" => self.bind_outbound = Some(value.to_string()),
            "RACK" => self.rack = Some(value.to_string()),
            "DEFAULT_REPLICATION_FACTOR" => {
                self.default_replication_factor = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "OFFSETS_TOPIC_REPLICATION_FACTOR" => {
                self.offsets_topic_replication_factor = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "TRANSACTION_STATE_REPLICATION_FACTOR" => {
                self.transaction_state_replication_factor = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "REPLICA_LAG_TIME_MAX_MS" => {
                self.replica_lag_time_max_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "REPLICA_FETCH_WAIT_MAX_MS" => {
                self.replica_fetch_wait_max_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "REPLICA_FETCH_MAX_BYTES" => {
                self.replica_fetch_max_bytes = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "BROKER_HEARTBEAT_INTERVAL_MS" => {
                self.broker_heartbeat_interval_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "BROKER_SESSION_TIMEOUT_MS" => {
                self.broker_session_timeout_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "CONTROLLER_ELECTION_TIMEOUT_MS" => {
                self.controller_election_timeout_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "CONTROLLER_HEARTBEAT_INTERVAL_MS" => {
                self.controller_heartbeat_interval_ms = value.parse().map_err(|e| invalid(format!("{e}")))?
            }
            "PROCESS_ROLES" => self.process_roles = parse_roles(value),
            // SLUICE_LOG and other variables belong to the CLI, not to the broker.
            _ => {}
        }
        Ok(())
    }

    /// Checks every setting and reports all problems at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.listen.parse::<SocketAddr>().is_err() && !self.listen.contains(':') {
            problems.push(format!("listen: {:?} is not HOST:PORT", self.listen));
        }
        if let Some(adv) = &self.advertised_listener {
            if adv.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).is_none() {
                problems.push(format!("advertised_listener: {adv:?} is not HOST:PORT"));
            }
        }
        if self.num_partitions < 1 {
            problems.push(format!("num_partitions: must be at least 1, got {}", self.num_partitions));
        }
        for (name, n) in [
            ("offsets_topic_num_partitions", self.offsets_topic_num_partitions),
            ("transaction_state_num_partitions", self.transaction_state_num_partitions),
        ] {
            if !(1..=1000).contains(&n) {
                problems.push(format!("{name}: must be between 1 and 1000, got {n}"));
            }
        }
        if self.group_min_session_timeout_ms > self.group_max_session_timeout_ms {
            problems.push(format!(
                "group_min_session_timeout_ms ({}) is larger than group_max_session_timeout_ms ({})",
                self.group_min_session_timeout_ms, self.group_max_session_timeout_ms
            ));
        }
        if self.max_request_bytes < 1024 {
            problems.push(format!("max_request_bytes: must be at least 1024, got {}", self.max_request_bytes));
        }
        if let Err(e) = crate::config::TopicConfig::from_overrides(&BTreeMap::new(), &self.topic_defaults) {
            problems.push(format!("topic_defaults: {e}"));
        }
        if let Some(quorum) = &self.controller_quorum {
            match parse_quorum(quorum) {
                Ok(voters) if voters.is_empty() => problems.push("controller_quorum: lists no voter".into()),
                Ok(_) => {}
                Err(e) => problems.push(format!("controller_quorum: {e}")),
            }
        }
        self.check_roles(&mut problems);
        if self.default_replication_factor < 1 {
            problems.push(format!(
                "default_replication_factor: must be at least 1, got {}",
                self.default_replication_factor
            ));
        }
        if self.broker_heartbeat_interval_ms == 0 || self.broker_session_timeout_ms <= self.broker_heartbeat_interval_ms
        {
            problems.push(format!(
                "broker_session_timeout_ms ({}) must be larger than broker_heartbeat_interval_ms ({}), which must be above 0",
                self.broker_session_timeout_ms, self.broker_heartbeat_interval_ms
            ));
        }
        if self.controller_heartbeat_interval_ms == 0
            || self.controller_election_timeout_ms <= self.controller_heartbeat_interval_ms
        {
            problems.push(format!(
                "controller_election_timeout_ms ({}) must be larger than controller_heartbeat_interval_ms ({}), which must be above 0",
                self.controller_election_timeout_ms, self.controller_heartbeat_interval_ms
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid { setting: "broker config".into(), message: problems.join("; ") })
        }
    }
}

/// The `process_roles` value of a node that holds partitions.
pub const ROLE_BROKER: &str = "broker";
/// The `process_roles` value of a node that votes in the controller quorum.
pub const ROLE_CONTROLLER: &str = "controller";

/// Splits a comma-separated `process_roles` value (environment variable or flag) into its roles.
pub fn parse_roles(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|r| !r.is_empty()).map(str::to_string).collect()
}

impl BrokerConfig {
    /// Whether this node holds partitions (registers as a broker).
    pub fn is_broker(&self) -> bool {
        self.process_roles.iter().any(|r| r == ROLE_BROKER)
    }

    /// Whether this node is a voter of the controller quorum.
    pub fn is_controller(&self) -> bool {
        self.process_roles.iter().any(|r| r == ROLE_CONTROLLER)
    }

    /// `process_roles` against `controller_quorum`: the roles must be known, a controller must be a voter, a
    /// broker-only node must not be one (it would count towards a quorum it does not vote in) and needs its own
    /// controller listener address, which the leader replicates the log to.
    fn check_roles(&self, problems: &mut Vec<String>) {
        let unknown: Vec<&String> =
            self.process_roles.iter().filter(|r| *r != ROLE_BROKER && *r != ROLE_CONTROLLER).collect();
        if !unknown.is_empty() {
            problems
                .push(format!("process_roles: unknown roles {unknown:?}; the roles are \"broker\" and \"controller\""));
            return;
        }
        if self.process_roles.is_empty() {
            problems.push("process_roles: lists no role; use \"broker\", \"controller\" or both".into());
            return;
        }
        let combined = self.is_broker() && self.is_controller();
        let Some(voters) = self.controller_quorum.as_deref().and_then(|q| parse_quorum(q).ok()) else {
            if !combined {
                problems.push("process_roles: a dedicated broker or controller needs controller_quorum".into());
            }
            return;
        };
        let id = self.node_id;
        if self.is_controller() && !voters.contains_key(&id) {
            problems.push(format!(
                "process_roles: node {id} has the controller role but is not a voter of controller_quorum"
            ));
        }
        if !self.is_controller() && voters.contains_key(&id) {
            problems.push(format!(
                "process_roles: node {id} is a voter of controller_quorum, so it needs the controller role (broker-only nodes must not be voters)"
            ));
        }
        if !self.is_controller() && self.controller_listen.is_none() {
            problems.push(format!(
                "controller_listen: broker-only node {id} needs it, as the address the quorum leader replicates the metadata log to"
            ));
        }
    }
}

/// Parses `controller_quorum` (`ID@HOST:PORT,...`) into voter id -> `HOST:PORT`.
pub fn parse_quorum(text: &str) -> Result<BTreeMap<i32, String>, String> {
    let mut voters = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (id, addr) = entry.split_once('@').ok_or_else(|| format!("{entry:?} is not ID@HOST:PORT"))?;
        let id: i32 = id.parse().map_err(|_| format!("{entry:?}: node id {id:?} is not a number"))?;
        if addr.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).is_none() {
            return Err(format!("{entry:?}: {addr:?} is not HOST:PORT"));
        }
        if voters.insert(id, addr.to_string()).is_some() {
            return Err(format!("node id {id} is listed twice"));
        }
    }
    Ok(voters)
}

#[cfg(test)]
#[path = "broker_roles_tests.rs"]
mod roles_tests;
