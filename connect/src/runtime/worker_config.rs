//! [`WorkerConfig`]: a worker's settings in Kafka Connect's names (`bootstrap.servers`, `listeners`,
//! `offset.storage.file.filename`, `key.converter`, `producer.*` ...), read from a Java `.properties` file
//! ([`properties`]) with errors naming the file, line and setting.
//!
//! Settings Kafka Connect has but Sluice does not need (`plugin.path`, metrics reporters, REST extensions ...)
//! are accepted and ignored with a warning, so an existing worker file works unchanged; a setting neither
//! knows is an error, because a misspelt setting silently left at its default is worse than a refusal.

pub mod properties;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::connector::Config;
use crate::error::ConnectError;

/// Kafka Connect's default REST listener.
pub const DEFAULT_LISTENER: &str = "http://0.0.0.0:8083";
/// The converter used when neither the worker nor the connector names one. (Kafka requires the worker to name
/// one; its sample files all name this one.)
pub const DEFAULT_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
pub const DEFAULT_HEADER_CONVERTER: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";

/// A worker's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerConfig {
    /// `bootstrap.servers`: the Kafka cluster; default `localhost:9092`.
    pub bootstrap_servers: String,
    /// `listeners`: the REST listener as `host:port` (Kafka's `http://host:port`, default `http://0.0.0.0:8083`).
    /// Only plain HTTP is served; only the first listener is used.
    pub listen: String,
    /// `rest.advertised.host.name`: the host other workers and status answers name; default the bound host.
    pub advertised_host: Option<String>,
    /// `rest.advertised.port`: the port other workers and status answers name; default the bound port.
    pub advertised_port: Option<u16>,
    /// `offset.storage.file.filename`: where a standalone worker keeps source offsets (required in standalone).
    pub offset_file: Option<PathBuf>,
    /// `offset.flush.interval.ms`: how often tasks commit offsets; default 60000.
    pub offset_flush_interval_ms: u64,
    /// `offset.flush.timeout.ms`: how long a commit may wait for outstanding records; default 5000.
    pub offset_flush_timeout_ms: u64,
    /// `task.shutdown.graceful.timeout.ms`: how long a stopping task may take; default 5000.
    pub task_shutdown_timeout_ms: u64,
    /// `config.storage.file.filename` (Sluice's addition, standalone only): a JSON file keeping connector
    /// configs and target states, so a restarted standalone worker brings its connectors back. Unset (the
    /// default, as in Kafka), a standalone worker only knows the connectors given at start or created since.
    pub config_file: Option<PathBuf>,
    /// `key.converter`, `value.converter`, `header.converter` and their `<prefix>.<setting>` sub-settings: the
    /// converters of connectors that name none.
    pub converters: Config,
    /// `group.id`: the group distributed workers form (distributed mode).
    pub group_id: Option<String>,
    /// `config.storage.topic` (distributed mode).
    pub config_storage_topic: Option<String>,
    /// `offset.storage.topic` (distributed mode).
    pub offset_storage_topic: Option<String>,
    /// `status.storage.topic` (distributed mode).
    pub status_storage_topic: Option<String>,
    /// `session.timeout.ms` (distributed mode): how long the group waits for a silent worker before its work
    /// moves to the others; default 10000.
    pub session_timeout_ms: u64,
    /// `heartbeat.interval.ms` (distributed mode): how often a worker tells the group it is alive; default 3000.
    pub heartbeat_interval_ms: u64,
    /// `*.storage.replication.factor` and `*.storage.partitions` of the three topics (distributed mode), by
    /// their Kafka names.
    pub storage_topic_settings: BTreeMap<String, String>,
    /// Top-level client settings (`security.protocol`, `ssl.*`, `sasl.*`, `client.id` ...), for every client of
    /// the worker. Names are passed to librdkafka as they are, so they must be names it knows.
    pub client: BTreeMap<String, String>,
    /// `producer.*` with the prefix removed: for source tasks' producers (and the dead-letter queue's).
    pub producer: BTreeMap<String, String>,
    /// `consumer.*` with the prefix removed: for sink tasks' consumers.
    pub consumer: BTreeMap<String, String>,
    /// `admin.*` with the prefix removed: for admin clients (topic creation, offsets).
    pub admin: BTreeMap<String, String>,
    /// `topic.creation.enable`: whether source connectors may create their topics (`topic.creation.*`);
    /// default true.
    pub topic_creation_enable: bool,
    /// Settings that were accepted but have no effect in Sluice, with why, for a warning at start.
    pub ignored: Vec<(String, &'static str)>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            bootstrap_servers: "localhost:9092".into(),
            listen: "0.0.0.0:8083".into(),
            advertised_host: None,
            advertised_port: None,
            offset_file: None,
            offset_flush_interval_ms: 60_000,
            offset_flush_timeout_ms: 5_000,
            task_shutdown_timeout_ms: 5_000,
            config_file: None,
            converters: Config::new(),
            group_id: None,
            config_storage_topic: None,
            offset_storage_topic: None,
            status_storage_topic: None,
            session_timeout_ms: 10_000,
            heartbeat_interval_ms: 3_000,
            storage_topic_settings: BTreeMap::new(),
            client: BTreeMap::new(),
            producer: BTreeMap::new(),
            consumer: BTreeMap::new(),
            admin: BTreeMap::new(),
            topic_creation_enable: true,
            ignored: Vec::new(),
        }
    }
}

/// Kafka Connect worker settings Sluice accepts and ignores, with the reason shown in the warning.
const IGNORED: &[(&str, &str)] = &[
    ("plugin.path", "connectors are built into the sluice binary"),
    ("plugin.discovery", "connectors are built into the sluice binary"),
    ("rest.extension.classes", "REST extensions are Java classes"),
    ("config.providers", "config providers are Java classes"),
    ("metric.reporters", "metrics are served by Sluice's own endpoint"),
    ("metrics.num.samples", "metrics are served by Sluice's own endpoint"),
    ("metrics.sample.window.ms", "metrics are served by Sluice's own endpoint"),
    ("metrics.recording.level", "metrics are served by Sluice's own endpoint"),
    ("auto.include.jmx.reporter", "there is no JMX"),
    ("connector.client.config.override.policy", "every `producer.override.*`/`consumer.override.*` is allowed"),
    ("access.control.allow.origin", "CORS is not configurable yet"),
    ("access.control.allow.methods", "CORS is not configurable yet"),
    ("admin.listeners", "the admin endpoints are served on the main listener"),
    ("response.http.headers.config", "extra response headers are not configurable"),
    ("rest.advertised.listener", "only http is served"),
    ("exactly.once.source.support", "exactly-once follows each connector's `exactly.once.support`"),
    ("scheduled.rebalance.max.delay.ms", "not used by Sluice's distributed mode"),
    ("connect.protocol", "not used by Sluice's distributed mode"),
    ("rebalance.timeout.ms", "not used by Sluice's distributed mode"),
    ("worker.sync.timeout.ms", "not used by Sluice's distributed mode"),
    ("worker.unsync.backoff.ms", "not used by Sluice's distributed mode"),
    ("inter.worker.key.generation.algorithm", "inter-worker requests are not signed"),
    ("inter.worker.key.size", "inter-worker requests are not signed"),
    ("inter.worker.key.ttl.ms", "inter-worker requests are not signed"),
    ("inter.worker.signature.algorithm", "inter-worker requests are not signed"),
    ("inter.worker.verification.algorithms", "inter-worker requests are not signed"),
];

/// Prefixes of ignored settings (`config.providers.file.class` ...).
const IGNORED_PREFIXES: &[(&str, &str)] = &[
    ("config.providers.", "config providers are Java classes"),
    ("listeners.https.", "only http is served"),
    ("metrics.context.", "metrics are served by Sluice's own endpoint"),
];

/// Client settings at the top level that apply to every client of the worker.
const CLIENT_PREFIXES: &[&str] = &["ssl.", "sasl."];
const CLIENT_KEYS: &[&str] = &[
    "security.protocol",
    "client.id",
    "client.dns.lookup",
    "client.rack",
    "request.timeout.ms",
    "retry.backoff.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "metadata.max.age.ms",
    "connections.max.idle.ms",
    "socket.connection.setup.timeout.ms",
    "socket.connection.setup.timeout.max.ms",
];

impl WorkerConfig {
    /// Reads a worker properties file.
    pub fn from_file(path: &Path) -> Result<WorkerConfig, ConnectError> {
        let entries = properties::read(path)?;
        let pairs = entries.into_iter().map(|p| (p.key, p.value, Some(p.line)));
        Self::from_settings(pairs, &path.display().to_string())
    }

    /// Builds a config from settings (a later repeat of a key wins, as in Java); `source` (a file name) and the
    /// line, when known, are named in errors. Every error is reported, one per line.
    pub fn from_settings(
        settings: impl IntoIterator<Item = (String, String, Option<usize>)>,
        source: &str,
    ) -> Result<WorkerConfig, ConnectError> {
        let mut config = WorkerConfig::default();
        let mut errors = Vec::new();
        for (key, value, line) in settings {
            let at = match line {
                Some(line) => format!("{source}, line {line}"),
                None => source.to_string(),
            };
            if let Err(message) = config.apply(&key, value) {
                errors.push(format!("{at}: `{key}`: {message}"));
            }
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConnectError::config(source, errors.join("\n")))
        }
    }

    /// Sets one setting; the error says what is wrong with the value or the name.
    fn apply(&mut self, key: &str, value: String) -> Result<(), String> {
        let ms = |v: &str| v.trim().parse::<u64>().map_err(|_| format!("expected a number of milliseconds, got {v:?}"));
        let path = |v: String| {
            let v = v.trim().to_string();
            if v.is_empty() {
                Err("expected a file path, got nothing".to_string())
            } else {
                Ok(PathBuf::from(v))
            }
        };
        match key {
            "bootstrap.servers" => {
                let servers: Vec<&str> = value.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
                if servers.is_empty() {
                    return Err("expected HOST:PORT[,HOST:PORT...], got nothing".into());
                }
                self.bootstrap_servers = servers.join(",");
            }
            "listeners" => self.listen = parse_listeners(&value)?,
            "rest.host.name" | "rest.port" => {
                return Err("removed from Kafka Connect; use `listeners=http://HOST:PORT`".into());
            }
            "rest.advertised.host.name" => self.advertised_host = non_empty(value),
            "rest.advertised.port" => {
                self.advertised_port =
                    Some(value.trim().parse().map_err(|_| format!("expected a port number, got {value:?}"))?)
            }
            "offset.storage.file.filename" => self.offset_file = Some(path(value)?),
            "config.storage.file.filename" => self.config_file = Some(path(value)?),
            "offset.flush.interval.ms" => self.offset_flush_interval_ms = ms(&value)?,
            "offset.flush.timeout.ms" => self.offset_flush_timeout_ms = ms(&value)?,
            "task.shutdown.graceful.timeout.ms" => self.task_shutdown_timeout_ms = ms(&value)?,
            "group.id" => self.group_id = non_empty(value),
            "config.storage.topic" => self.config_storage_topic = non_empty(value),
            "offset.storage.topic" => self.offset_storage_topic = non_empty(value),
            "status.storage.topic" => self.status_storage_topic = non_empty(value),
            "session.timeout.ms" => self.session_timeout_ms = ms(&value)?,
            "heartbeat.interval.ms" => self.heartbeat_interval_ms = ms(&value)?,
            "topic.creation.enable" => {
                self.topic_creation_enable = match value.trim().to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format!("expected true or false, got {value:?}")),
                }
            }
            "config.storage.replication.factor"
            | "offset.storage.replication.factor"
            | "status.storage.replication.factor"
            | "offset.storage.partitions"
            | "status.storage.partitions" => {
                // -1 means the broker's default, as in Kafka.
                value.trim().parse::<i32>().map_err(|_| format!("expected a whole number, got {value:?}"))?;
                self.storage_topic_settings.insert(key.to_string(), value.trim().to_string());
            }
            "key.converter" | "value.converter" | "header.converter" => {
                let class = value.trim();
                if class.is_empty() {
                    return Err("expected a converter class name, got nothing".into());
                }
                self.converters.insert(key.to_string(), class.to_string());
            }
            _ if ["key.converter.", "value.converter.", "header.converter."].iter().any(|p| key.starts_with(p)) => {
                self.converters.insert(key.to_string(), value);
            }
            _ if key.starts_with("producer.") && !key.starts_with("producer.override.") => {
                self.producer.insert(key["producer.".len()..].to_string(), value);
            }
            _ if key.starts_with("consumer.") && !key.starts_with("consumer.override.") => {
                self.consumer.insert(key["consumer.".len()..].to_string(), value);
            }
            _ if key.starts_with("admin.") && key != "admin.listeners" => {
                self.admin.insert(key["admin.".len()..].to_string(), value);
            }
            _ if CLIENT_KEYS.contains(&key) || CLIENT_PREFIXES.iter().any(|p| key.starts_with(p)) => {
                self.client.insert(key.to_string(), value);
            }
            _ => {
                let reason = IGNORED
                    .iter()
                    .chain(IGNORED_PREFIXES)
                    .find(|(name, _)| key == *name || (name.ends_with('.') && key.starts_with(name)))
                    .map(|(_, reason)| *reason);
                match reason {
                    Some(reason) => self.ignored.push((key.to_string(), reason)),
                    None => return Err(unknown_setting(key)),
                }
            }
        }
        Ok(())
    }

    /// Checks what a standalone worker needs beyond what parsing checks.
    pub fn validate_standalone(&self) -> Result<(), ConnectError> {
        if self.offset_file.is_none() {
            return Err(ConnectError::config(
                "offset.storage.file.filename",
                "a standalone worker keeps source offsets in a file; set `offset.storage.file.filename=PATH`",
            ));
        }
        Ok(())
    }

    /// The effective config of a connector: its own settings, plus the worker's converters for each of key,
    /// value and header converter the connector does not name (with the worker's sub-settings of that
    /// converter, as Kafka Connect configures them); and `topic.creation.enable=false` when the worker forbids
    /// topic creation.
    pub fn connector_config_with_defaults(&self, connector: &Config) -> Config {
        let mut out = connector.clone();
        for (kind, default) in [
            ("key.converter", DEFAULT_CONVERTER),
            ("value.converter", DEFAULT_CONVERTER),
            ("header.converter", DEFAULT_HEADER_CONVERTER),
        ] {
            if connector.contains_key(kind) {
                continue;
            }
            let class = self.converters.get(kind).map_or(default, String::as_str);
            out.insert(kind.to_string(), class.to_string());
            let prefix = format!("{kind}.");
            for (key, value) in self.converters.range(prefix.clone()..) {
                if !key.starts_with(&prefix) {
                    break;
                }
                out.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        // Runners read it from the config they get; only the non-default is passed, as the default is true.
        if !self.topic_creation_enable {
            out.insert("topic.creation.enable".to_string(), "false".to_string());
        }
        out
    }

    /// Settings for a producer of this worker: the shared client settings, then `producer.*`.
    pub fn producer_config(&self) -> BTreeMap<String, String> {
        let mut out = self.client.clone();
        out.extend(self.producer.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    /// Settings for a consumer of this worker: the shared client settings, then `consumer.*`.
    pub fn consumer_config(&self) -> BTreeMap<String, String> {
        let mut out = self.client.clone();
        out.extend(self.consumer.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    /// Settings for an admin client of this worker: the shared client settings, then `admin.*`.
    pub fn admin_config(&self) -> BTreeMap<String, String> {
        let mut out = self.client.clone();
        out.extend(self.admin.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }
}

fn non_empty(value: String) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// `listeners=http://HOST:PORT[,...]` → `HOST:PORT` of the first listener (an empty host is every address).
fn parse_listeners(value: &str) -> Result<String, String> {
    let first = value.split(',').map(str::trim).find(|l| !l.is_empty()).ok_or("expected http://HOST:PORT")?;
    let Some(rest) = first.strip_prefix("http://").or_else(|| first.strip_prefix("HTTP://")) else {
        return Err(if first.to_ascii_lowercase().starts_with("https://") {
            format!("{first:?}: only http listeners are served; put a TLS proxy in front for https")
        } else {
            format!("{first:?}: expected http://HOST:PORT")
        });
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(|| format!("{first:?}: expected http://HOST:PORT"))?;
    port.parse::<u16>().map_err(|_| format!("{first:?}: {port:?} is not a port number"))?;
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Ok(format!("{host}:{port}"))
}

/// An unknown setting: suggests the closest known name when one differs by a little.
fn unknown_setting(key: &str) -> String {
    const KNOWN: &[&str] = &[
        "bootstrap.servers",
        "listeners",
        "rest.advertised.host.name",
        "rest.advertised.port",
        "offset.storage.file.filename",
        "config.storage.file.filename",
        "offset.flush.interval.ms",
        "offset.flush.timeout.ms",
        "task.shutdown.graceful.timeout.ms",
        "key.converter",
        "value.converter",
        "header.converter",
        "group.id",
        "config.storage.topic",
        "offset.storage.topic",
        "status.storage.topic",
        "security.protocol",
        "topic.creation.enable",
    ];
    let close = KNOWN.iter().min_by_key(|k| edit_distance(k, key)).filter(|k| edit_distance(k, key) <= 3);
    let hint = match close {
        Some(name) => format!("; did you mean `{name}`?"),
        None => String::new(),
    };
    format!(
        "not a worker setting{hint} (client settings go under `producer.`, `consumer.` or `admin.`; converter \
         settings under `key.converter.` or `value.converter.`)"
    )
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + usize::from(ca != *cb));
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_text(text: &str) -> Result<WorkerConfig, ConnectError> {
        let settings = properties::parse(text).expect("valid properties");
        WorkerConfig::from_settings(settings.into_iter().map(|p| (p.key, p.value, Some(p.line))), "w.properties")
    }

    #[test]
    fn kafkas_sample_standalone_file_is_accepted() {
        let text = "bootstrap.servers=localhost:9092\n\
            key.converter=org.apache.kafka.connect.json.JsonConverter\n\
            value.converter=org.apache.kafka.connect.json.JsonConverter\n\
            key.converter.schemas.enable=true\n\
            value.converter.schemas.enable=true\n\
            offset.storage.file.filename=/tmp/connect.offsets\n\
            offset.flush.interval.ms=10000\n\
            plugin.path=/usr/share/java,/opt/connectors\n";
        let config = from_text(text).expect("valid");
        assert_eq!(config.bootstrap_servers, "localhost:9092");
        assert_eq!(config.listen, "0.0.0.0:8083", "Kafka's default listener");
        assert_eq!(config.offset_file.as_deref(), Some(Path::new("/tmp/connect.offsets")));
        assert_eq!(config.offset_flush_interval_ms, 10_000);
        assert_eq!(config.converters.get("value.converter.schemas.enable").map(String::as_str), Some("true"));
        assert_eq!(config.ignored.len(), 1);
        assert_eq!(config.ignored[0].0, "plugin.path");
        config.validate_standalone().expect("standalone ready");
    }

    #[test]
    fn listeners_and_advertised_address() {
        let config = from_text(
            "listeners=http://127.0.0.1:0,https://x:8443\nrest.advertised.host.name=connect-1\nrest.advertised.port=80",
        )
        .expect("valid");
        assert_eq!(config.listen, "127.0.0.1:0");
        assert_eq!(config.advertised_host.as_deref(), Some("connect-1"));
        assert_eq!(config.advertised_port, Some(80));
        assert_eq!(from_text("listeners=http://:9000").expect("valid").listen, "0.0.0.0:9000");
        for bad in ["listeners=https://h:8443", "listeners=h:8083", "listeners=http://h:port", "listeners="] {
            assert!(from_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_prefixes_are_split_by_client_kind() {
        let config = from_text(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nproducer.acks=all\nproducer.linger.ms=5\n\
             consumer.max.poll.records=10\nadmin.request.timeout.ms=1000\nconsumer.security.protocol=PLAINTEXT",
        )
        .expect("valid");
        let producer = config.producer_config();
        assert_eq!(producer.get("acks").map(String::as_str), Some("all"));
        assert_eq!(producer.get("security.protocol").map(String::as_str), Some("SASL_PLAINTEXT"));
        assert_eq!(producer.get("sasl.mechanism").map(String::as_str), Some("PLAIN"));
        let consumer = config.consumer_config();
        assert_eq!(consumer.get("max.poll.records").map(String::as_str), Some("10"));
        assert_eq!(consumer.get("security.protocol").map(String::as_str), Some("PLAINTEXT"), "prefixed wins");
        assert!(!consumer.contains_key("acks"));
        assert_eq!(config.admin_config().get("request.timeout.ms").map(String::as_str), Some("1000"));
    }

    #[test]
    fn distributed_settings_are_kept() {
        let config = from_text(
            "group.id=connect-cluster\nconfig.storage.topic=connect-configs\noffset.storage.topic=connect-offsets\n\
             status.storage.topic=connect-status\nconfig.storage.replication.factor=1\noffset.storage.partitions=25",
        )
        .expect("valid");
        assert_eq!(config.group_id.as_deref(), Some("connect-cluster"));
        assert_eq!(config.config_storage_topic.as_deref(), Some("connect-configs"));
        assert_eq!(config.offset_storage_topic.as_deref(), Some("connect-offsets"));
        assert_eq!(config.status_storage_topic.as_deref(), Some("connect-status"));
        assert_eq!(config.storage_topic_settings.get("offset.storage.partitions").map(String::as_str), Some("25"));
    }

    #[test]
    fn every_bad_setting_is_reported_with_file_and_line() {
        let err = from_text("bootstrap.server=x:1\n# ok\noffset.flush.interval.ms=soon\nrest.port=8083\n")
            .expect_err("three errors")
            .to_string();
        assert!(err.contains("w.properties, line 1") && err.contains("did you mean `bootstrap.servers`"), "{err}");
        assert!(err.contains("w.properties, line 3") && err.contains("milliseconds"), "{err}");
        assert!(err.contains("w.properties, line 4") && err.contains("listeners"), "{err}");
        let err = from_text("frobnicate=1").expect_err("unknown").to_string();
        assert!(err.contains("not a worker setting") && !err.contains("did you mean"), "{err}");
    }

    #[test]
    fn standalone_needs_an_offsets_file() {
        let err = from_text("bootstrap.servers=b:1").expect("valid").validate_standalone().expect_err("no file");
        assert!(err.to_string().contains("offset.storage.file.filename"), "{err}");
    }

    #[test]
    fn worker_converters_fill_in_what_a_connector_does_not_name() {
        let config = from_text(
            "key.converter=org.apache.kafka.connect.storage.StringConverter\nkey.converter.encoding=UTF-16\n\
             value.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable=false",
        )
        .expect("valid");
        let connector: Config = [
            ("connector.class".to_string(), "datagen".to_string()),
            ("value.converter".to_string(), "org.apache.kafka.connect.converters.ByteArrayConverter".to_string()),
        ]
        .into();
        let effective = config.connector_config_with_defaults(&connector);
        assert_eq!(effective["key.converter"], "org.apache.kafka.connect.storage.StringConverter");
        assert_eq!(effective["key.converter.encoding"], "UTF-16");
        assert_eq!(effective["value.converter"], "org.apache.kafka.connect.converters.ByteArrayConverter");
        assert!(
            !effective.contains_key("value.converter.schemas.enable"),
            "the worker's sub-settings go with its class"
        );
        assert_eq!(effective["header.converter"], DEFAULT_HEADER_CONVERTER);
        let defaults = WorkerConfig::default().connector_config_with_defaults(&Config::new());
        assert_eq!(defaults["value.converter"], DEFAULT_CONVERTER);
    }

    #[test]
    fn topic_creation_can_be_disabled_for_every_source() {
        let enabled = from_text("bootstrap.servers=b:1").expect("valid");
        assert!(enabled.topic_creation_enable, "Kafka's default");
        assert!(!enabled.connector_config_with_defaults(&Config::new()).contains_key("topic.creation.enable"));
        let disabled = from_text("topic.creation.enable=false").expect("valid");
        assert!(!disabled.topic_creation_enable && disabled.ignored.is_empty());
        let connector: Config = [("topic.creation.enable".to_string(), "true".to_string())].into();
        let effective = disabled.connector_config_with_defaults(&connector);
        assert_eq!(effective["topic.creation.enable"], "false", "the worker's setting wins");
        let err = from_text("topic.creation.enable=maybe").expect_err("not a boolean").to_string();
        assert!(err.contains("topic.creation.enable") && err.contains("true or false"), "{err}");
    }

    #[test]
    fn from_file_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("worker.properties");
        std::fs::write(&path, "bootstrap.servers=b:1\nlisteners=ftp://x:1\n").expect("write");
        let err = WorkerConfig::from_file(&path).expect_err("bad listener").to_string();
        assert!(err.contains("worker.properties, line 2") && err.contains("listeners"), "{err}");
    }
}
