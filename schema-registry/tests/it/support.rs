//! Test support: a real Sluice broker in this process (OS-chosen port, temporary data dir), real registry
//! instances on 127.0.0.1:0 talking to it over the Kafka protocol, an HTTP client, and bounded polling.
//!
//! ```ignore
//! let env = Env::start().await;                       // broker + one registry
//! let answer = env.post("/subjects/s/versions", json!({"schema": "\"string\""})).await;
//! assert_eq!(answer.status, 200, "{answer}");
//! let id = answer.body["id"].as_i64().unwrap();
//! let other = env.start_instance(|_| {}).await;       // a second registry on the same broker and group
//! let seen = other.get(&env.http, "/schemas/ids/1").await;
//! env.restart_registry().await;                       // same broker; `env.url` changes (new port)
//! env.restart_broker().await;                         // same data dir; registry restarted too
//! env.stop().await;
//! ```
//!
//! Every `Env` has its own broker, so tests run in parallel without sharing anything.

#![allow(dead_code)] // Each test module uses its own part of this.

use std::future::Future;
use std::sync::Once;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use sluice_broker::{Broker, BrokerConfig, BrokerHandle};
use sluice_schema_registry::server::{RegistryHandle, SchemaRegistry};
use sluice_schema_registry::RegistryConfig;
use tempfile::TempDir;

/// Confluent's content type for request and answer bodies.
pub(crate) const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
/// Session timeout of test registries in their election group: the broker's minimum, so a killed leader is
/// replaced within seconds.
pub(crate) const SESSION_TIMEOUT_MS: u64 = 6_000;
/// How long a test waits for anything that should happen "soon" (a new leader, a follower catching up).
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// Logs go to the test output, filtered by `RUST_LOG` (warnings by default).
pub(crate) fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    });
}

/// A broker and one registry instance on it.
pub(crate) struct Env {
    /// The registry's base URL, `http://127.0.0.1:PORT` (no trailing slash). Changes on restarts.
    pub(crate) url: String,
    /// A shared HTTP client (keep-alive); usable for every instance.
    pub(crate) http: reqwest::Client,
    /// The broker's `HOST:PORT`, for Kafka clients. Changes when the broker restarts.
    pub(crate) bootstrap: String,
    registry: Option<RegistryHandle>,
    /// The config the registry was started with (its `bootstrap_servers` follows broker restarts).
    registry_config: RegistryConfig,
    broker: Option<BrokerHandle>,
    broker_config: BrokerConfig,
    _dir: TempDir,
}

impl Env {
    /// A fresh broker and one registry with test defaults.
    pub(crate) async fn start() -> Env {
        Env::start_with(|_| {}).await
    }

    /// A fresh broker and one registry whose config `tweak` adjusts (basic auth, default compatibility, ...).
    /// `listen`, `bootstrap_servers` and the timeouts are already set for tests; `tweak` may change them.
    pub(crate) async fn start_with(tweak: impl FnOnce(&mut RegistryConfig)) -> Env {
        init_tracing();
        let dir = TempDir::new().expect("create a temporary data dir");
        let broker_config = BrokerConfig {
            listen: "127.0.0.1:0".to_string(),
            data_dir: dir.path().join("broker"),
            // Registries join their election group one by one; no reason to hold the first rebalance.
            group_initial_rebalance_delay_ms: 0,
            ..BrokerConfig::default()
        };
        let broker = Broker::start(broker_config.clone()).await.expect("broker starts on a fresh data dir");
        let bootstrap = broker.local_addr().to_string();
        let mut registry_config = test_registry_config(&bootstrap);
        tweak(&mut registry_config);
        let registry = start_registry(registry_config.clone()).await;
        Env {
            url: registry.url().to_string(),
            http: http_client(),
            bootstrap,
            registry: Some(registry),
            registry_config,
            broker: Some(broker),
            broker_config,
            _dir: dir,
        }
    }

    /// The main registry instance.
    pub(crate) fn registry(&self) -> &RegistryHandle {
        self.registry.as_ref().expect("the registry is running")
    }

    /// The config the main registry runs with; a starting point for extra instances.
    pub(crate) fn registry_config(&self) -> RegistryConfig {
        self.registry_config.clone()
    }

    /// Another registry instance on the same broker, topic and group (so: a follower, unless the main instance
    /// stops), on its own port; `tweak` adjusts its config (e.g. `leader_eligibility = false`).
    pub(crate) async fn start_instance(&self, tweak: impl FnOnce(&mut RegistryConfig)) -> Instance {
        let mut config = test_registry_config(&self.bootstrap);
        config.topic = self.registry_config.topic.clone();
        config.group_id = self.registry_config.group_id.clone();
        tweak(&mut config);
        let handle = start_registry(config).await;
        Instance { url: handle.url().to_string(), handle }
    }

    /// Stops the main registry cleanly and starts it again with the same config, on a new port (`self.url`
    /// changes), on the same broker. Returns once the new one has read the topic to its end.
    pub(crate) async fn restart_registry(&mut self) {
        self.stop_registry().await;
        let registry = start_registry(self.registry_config.clone()).await;
        self.url = registry.url().to_string();
        self.registry = Some(registry);
    }

    /// Stops the main registry (cleanly: it leaves its group) without starting it again; other instances then
    /// elect a new leader. `self.url` keeps pointing at the stopped one.
    pub(crate) async fn stop_registry(&mut self) {
        if let Some(registry) = self.registry.take() {
            tokio::time::timeout(WAIT, registry.shutdown()).await.expect("the registry stops within 30 s");
        }
    }

    /// Stops the registry and the broker, starts the broker again on the same data dir (it gets a new port:
    /// `self.bootstrap` changes) and then the registry pointed at it (`self.url` changes too). Extra
    /// [`Instance`]s must be stopped first: they would keep reconnecting to the old address.
    pub(crate) async fn restart_broker(&mut self) {
        self.stop_registry().await;
        if let Some(broker) = self.broker.take() {
            tokio::time::timeout(WAIT, broker.shutdown())
                .await
                .expect("the broker stops within 30 s")
                .expect("the broker stops cleanly");
        }
        let broker = Broker::start(self.broker_config.clone()).await.expect("the broker restarts on its data dir");
        self.bootstrap = broker.local_addr().to_string();
        self.broker = Some(broker);
        self.registry_config.bootstrap_servers = self.bootstrap.clone();
        let registry = start_registry(self.registry_config.clone()).await;
        self.url = registry.url().to_string();
        self.registry = Some(registry);
    }

    /// Stops the registry, then the broker.
    pub(crate) async fn stop(mut self) {
        self.stop_registry().await;
        if let Some(broker) = self.broker.take() {
            let _ = tokio::time::timeout(WAIT, broker.shutdown()).await;
        }
    }

    /// `GET {url}{path}` on the main instance.
    pub(crate) async fn get(&self, path: &str) -> Answer {
        request(&self.http, Method::GET, &format!("{}{path}", self.url), None).await
    }

    /// `POST {url}{path}` with a JSON body in Confluent's content type.
    pub(crate) async fn post(&self, path: &str, body: Value) -> Answer {
        request(&self.http, Method::POST, &format!("{}{path}", self.url), Some(body)).await
    }

    /// `PUT {url}{path}` with a JSON body.
    pub(crate) async fn put(&self, path: &str, body: Value) -> Answer {
        request(&self.http, Method::PUT, &format!("{}{path}", self.url), Some(body)).await
    }

    /// `DELETE {url}{path}`.
    pub(crate) async fn delete(&self, path: &str) -> Answer {
        request(&self.http, Method::DELETE, &format!("{}{path}", self.url), None).await
    }

    /// `POST /subjects/{subject}/versions` with an Avro schema given as JSON; panics unless it answers 200, and
    /// returns the id.
    pub(crate) async fn register(&self, subject: &str, schema: &Value) -> i64 {
        register_at(&self.http, &self.url, subject, schema).await
    }
}

/// An extra registry instance started by [`Env::start_instance`].
pub(crate) struct Instance {
    /// Its base URL.
    pub(crate) url: String,
    pub(crate) handle: RegistryHandle,
}

impl Instance {
    pub(crate) async fn get(&self, http: &reqwest::Client, path: &str) -> Answer {
        request(http, Method::GET, &format!("{}{path}", self.url), None).await
    }

    pub(crate) async fn post(&self, http: &reqwest::Client, path: &str, body: Value) -> Answer {
        request(http, Method::POST, &format!("{}{path}", self.url), Some(body)).await
    }

    pub(crate) async fn put(&self, http: &reqwest::Client, path: &str, body: Value) -> Answer {
        request(http, Method::PUT, &format!("{}{path}", self.url), Some(body)).await
    }

    pub(crate) async fn delete(&self, http: &reqwest::Client, path: &str) -> Answer {
        request(http, Method::DELETE, &format!("{}{path}", self.url), None).await
    }

    /// Stops it cleanly (it leaves the election group).
    pub(crate) async fn stop(self) {
        tokio::time::timeout(WAIT, self.handle.shutdown()).await.expect("the registry stops within 30 s");
    }
}

/// An HTTP answer: status, body parsed as JSON (`Value::String` holding the raw text when it is not JSON), and
/// the `Content-Type`. Printing it shows all three, for assertion messages.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) content_type: Option<String>,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {} ({}) {}", self.status, self.content_type.as_deref().unwrap_or("no content type"), self.body)
    }
}

impl Answer {
    /// `error_code` of a Confluent error body, if it has one.
    pub(crate) fn error_code(&self) -> Option<i64> {
        self.body.get("error_code").and_then(Value::as_i64)
    }
}

/// Sends one request; `body` goes as JSON with Confluent's content type. Panics only if the server cannot be
/// reached or the request takes more than 30 s.
pub(crate) async fn request(http: &reqwest::Client, method: Method, url: &str, body: Option<Value>) -> Answer {
    let mut builder = http.request(method.clone(), url).header("Accept", CONTENT_TYPE);
    if let Some(body) = body {
        builder = builder.header("Content-Type", CONTENT_TYPE).body(body.to_string());
    }
    send(builder, &format!("{method} {url}")).await
}

/// Sends a prepared request (raw bodies, other headers, basic auth) and reads the answer as an [`Answer`].
pub(crate) async fn send(builder: reqwest::RequestBuilder, what: &str) -> Answer {
    let response = tokio::time::timeout(WAIT, builder.send())
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {WAIT:?}"))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    let text = response.text().await.unwrap_or_else(|e| panic!("{what}: reading the body: {e}"));
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Answer { status, body, content_type }
}

/// Registers an Avro schema (given as JSON) under `subject` at `base_url`; panics unless the answer is 200.
pub(crate) async fn register_at(http: &reqwest::Client, base_url: &str, subject: &str, schema: &Value) -> i64 {
    let url = format!("{base_url}/subjects/{subject}/versions");
    let answer = request(http, Method::POST, &url, Some(serde_json::json!({ "schema": schema.to_string() }))).await;
    assert_eq!(answer.status, 200, "registering under {subject} at {base_url}: {answer}");
    answer.body["id"].as_i64().unwrap_or_else(|| panic!("no id in {answer}"))
}

/// A registry config for tests on `bootstrap`: port 0 on loopback, short timeouts, the shortest session timeout
/// the broker allows.
pub(crate) fn test_registry_config(bootstrap: &str) -> RegistryConfig {
    RegistryConfig {
        bootstrap_servers: bootstrap.to_string(),
        listen: "127.0.0.1:0".to_string(),
        write_timeout_ms: 20_000,
        init_timeout_ms: 30_000,
        session_timeout_ms: SESSION_TIMEOUT_MS,
        ..RegistryConfig::default()
    }
}

/// Starts a registry, panicking with the reason if it cannot.
pub(crate) async fn start_registry(config: RegistryConfig) -> RegistryHandle {
    tokio::time::timeout(WAIT + WAIT, SchemaRegistry::start(config))
        .await
        .expect("the registry starts within 60 s")
        .unwrap_or_else(|e| panic!("the registry does not start: {e}"))
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder().timeout(WAIT).build().expect("an HTTP client")
}

/// Polls `probe` every 50 ms until it returns `Ok`, or panics after `timeout` naming `what` and the last state
/// the probe reported.
pub(crate) async fn wait_until<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(state) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting until {what}; last seen: {state}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
