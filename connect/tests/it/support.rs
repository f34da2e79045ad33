//! Test support: an in-process broker on an OS-chosen port, a standalone worker with its REST API served on
//! another, a small REST client, rdkafka helpers to produce and read topics, and bounded polling.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use reqwest::Method;
use serde_json::Value as Json;
use sluice_broker::{Broker, BrokerConfig, BrokerHandle};
use tempfile::TempDir;

/// How long a state change or a record may take before a test says it is stuck.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// Logs go to the test output, filtered by `RUST_LOG` (warnings by default).
pub(crate) fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    });
}

/// A broker running in this process on its own temporary data dir.
pub(crate) struct TestBroker {
    handle: Option<BrokerHandle>,
    pub(crate) bootstrap: String,
    _dir: TempDir,
}

impl TestBroker {
    pub(crate) async fn start() -> TestBroker {
        TestBroker::start_with(|_| {}).await
    }

    /// A broker whose groups rebalance at once and accept short sessions, so failover tests run in seconds.
    pub(crate) async fn start_fast() -> TestBroker {
        TestBroker::start_with(|config| {
            config.group_initial_rebalance_delay_ms = 0;
            config.group_min_session_timeout_ms = 500;
        })
        .await
    }

    /// A broker with test defaults (port 0, fresh data dir), adjusted by `tweak`.
    pub(crate) async fn start_with(tweak: impl FnOnce(&mut BrokerConfig)) -> TestBroker {
        init_tracing();
        let dir = TempDir::new().expect("create a temporary data dir");
        let mut config = BrokerConfig {
            listen: "127.0.0.1:0".to_string(),
            data_dir: dir.path().join("data"),
            ..BrokerConfig::default()
        };
        tweak(&mut config);
        let handle = Broker::start(config).await.expect("broker starts on a fresh data dir");
        let bootstrap = handle.local_addr().to_string();
        TestBroker { handle: Some(handle), bootstrap, _dir: dir }
    }

    pub(crate) async fn stop(mut self) {
        if let Some(handle) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(30), handle.shutdown())
                .await
                .expect("broker shuts down within 30 s")
                .expect("broker shuts down cleanly");
        }
    }
}

/// Polls `probe` every 50 ms until it returns `Ok`, or panics after `timeout` naming `what` and the last
/// state the probe reported.
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

/// A plain HTTP client of one worker's REST API.
#[derive(Clone)]
pub(crate) struct Rest {
    base: String,
    http: reqwest::Client,
}

impl Rest {
    pub(crate) fn new(base: String) -> Rest {
        Rest { base, http: reqwest::Client::new() }
    }

    /// Sends a request and answers its status and JSON body (`Null` when the body is empty).
    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Json>) -> (u16, Json) {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url).timeout(Duration::from_secs(30));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_else(|e| panic!("{method} {url}: reading the body: {e}"));
        let json = if text.trim().is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {url}: body is not JSON ({e}): {text}"))
        };
        (status, json)
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Json) {
        self.call(Method::GET, path, None).await
    }

    /// Calls and checks the status, naming the request and the answer when it differs.
    pub(crate) async fn expect(&self, method: Method, path: &str, body: Option<Json>, status: u16) -> Json {
        let (got, json) = self.call(method.clone(), path, body).await;
        assert_eq!(got, status, "{method} {path} answered {got}: {json}");
        json
    }

    /// Creates a connector with `POST /connectors`.
    pub(crate) async fn create(&self, name: &str, config: Json) -> Json {
        self.expect(Method::POST, "/connectors", Some(serde_json::json!({"name": name, "config": config})), 201).await
    }

    /// Waits until the connector's state is `state` and (when `tasks` is given) it has that many tasks, all in
    /// `state`; answers the last status.
    pub(crate) async fn wait_state(&self, name: &str, state: &str, tasks: Option<usize>) -> Json {
        let what = format!("connector {name} is {state} with {tasks:?} tasks {state}");
        wait_until(WAIT, &what, || async {
            let (code, status) = self.get(&format!("/connectors/{name}/status")).await;
            let connector_ok = code == 200 && status["connector"]["state"] == state;
            let task_states: Vec<&Json> =
                status["tasks"].as_array().map(|t| t.iter().map(|t| &t["state"]).collect()).unwrap_or_default();
            let tasks_ok = match tasks {
                None => true,
                Some(n) => task_states.len() == n && task_states.iter().all(|s| *s == state),
            };
            if connector_ok && tasks_ok {
                Ok(status)
            } else {
                Err(format!("{code} {status}"))
            }
        })
        .await
    }

    /// Waits until task `task` of `name` is FAILED; answers its status (with the trace).
    pub(crate) async fn wait_task_failed(&self, name: &str, task: usize) -> Json {
        wait_until(WAIT, &format!("task {task} of {name} is FAILED"), || async {
            let (code, status) = self.get(&format!("/connectors/{name}/status")).await;
            let failed = status["tasks"]
                .as_array()
                .and_then(|ts| ts.iter().find(|t| t["id"] == task && t["state"] == "FAILED"))
                .cloned();
            failed.ok_or_else(|| format!("{code} {status}"))
        })
        .await
    }
}

/// A standalone worker running in this process, with its REST API on an OS-chosen port.
pub(crate) struct TestWorker {
    pub(crate) rest: Rest,
    pub(crate) dir: TempDir,
    stop: Option<Box<dyn FnOnce() -> futures::future::BoxFuture<'static, ()> + Send>>,
}

impl TestWorker {
    /// Starts a standalone worker against `bootstrap`, with quick offset commits so tests need not wait.
    pub(crate) async fn start(bootstrap: &str) -> TestWorker {
        let dir = TempDir::new().expect("create a temporary worker dir");
        let (base, stop) = crate::worker::start(bootstrap, dir.path()).await;
        TestWorker { rest: Rest::new(base), dir, stop: Some(stop) }
    }

    /// A path in the worker's temporary dir.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            tokio::time::timeout(Duration::from_secs(30), stop()).await.expect("worker stops within 30 s");
        }
    }
}

/// Sends `payloads` (value bytes, no key) to `topic` and waits for every delivery.
pub(crate) async fn produce(bootstrap: &str, topic: &str, payloads: &[&[u8]]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("message.timeout.ms", "30000")
        .create()
        .expect("create a producer");
    for payload in payloads {
        producer
            .send(FutureRecord::<(), [u8]>::to(topic).payload(payload), Duration::from_secs(30))
            .await
            .unwrap_or_else(|(e, _)| panic!("produce to {topic}: {e}"));
    }
}

/// A record read back from a topic.
#[derive(Debug, Clone)]
pub(crate) struct Read {
    pub(crate) payload: Option<Vec<u8>>,
    pub(crate) headers: Vec<(String, String)>,
}

impl Read {
    pub(crate) fn header(&self, key: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Reads partition 0 of `topic` from the start until `count` records arrived, or panics after [`WAIT`].
pub(crate) async fn read_topic(bootstrap: &str, topic: &str, count: usize) -> Vec<Read> {
    let bootstrap = bootstrap.to_string();
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "sluice-connect-it-reader")
            .set("enable.auto.commit", "false")
            .create()
            .expect("create a consumer");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Beginning).expect("assign partition 0");
        consumer.assign(&tpl).expect("assign partition 0");
        let deadline = Instant::now() + WAIT;
        let mut out = Vec::new();
        while out.len() < count {
            assert!(
                Instant::now() < deadline,
                "timed out after {WAIT:?} reading {count} records of {topic}; got {out:?}"
            );
            // Errors (the topic may not exist yet: the runtime creates it lazily) are retried until the deadline.
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                let headers = m
                    .headers()
                    .map(|hs| {
                        hs.iter()
                            .map(|h| {
                                (
                                    h.key.to_string(),
                                    h.value.map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Read { payload: m.payload().map(<[u8]>::to_vec), headers });
            }
        }
        out
    })
    .await
    .expect("reader thread")
}

/// The lines of `path` now (none when it does not exist yet).
pub(crate) fn lines(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.lines().map(str::to_string).collect(),
        Err(_) => Vec::new(),
    }
}
