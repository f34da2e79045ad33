//! Tests of the REST API over real HTTP: the router on an OS-chosen port over a [`Registry`] on the in-memory log
//! (or a follower's log that cannot write), called with reqwest.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use parking_lot::RwLock;
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use super::{router, ApiContext};
use crate::config::{BasicAuthUser, RegistryConfig};
use crate::error::StoreError;
use crate::registry::Registry;
use crate::state::State;
use crate::store::memory::MemoryLog;
use crate::store::{Leadership, Record, SchemaLog};
use crate::types::CompatibilityLevel;

const V1: &str = "application/vnd.schemaregistry.v1+json";
const RECORD: &str = r#"{"type":"record","name":"User","fields":[{"name":"name","type":"string"}]}"#;

/// A running API: its base URL and the registry behind it.
struct Server {
    base: String,
    registry: Arc<Registry>,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Starts the API over the log `make_log` builds; it is given the server's own URL, for logs that name a leader.
async fn start_with(config: RegistryConfig, make_log: impl FnOnce(&str) -> Arc<dyn SchemaLog>) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let registry = Arc::new(Registry::new(make_log(&base), CompatibilityLevel::Backward));
    let app = router(Arc::new(ApiContext::new(registry.clone(), &config)));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server { base, registry }
}

async fn start() -> Server {
    start_with(RegistryConfig::default(), |_| Arc::new(MemoryLog::default())).await
}

/// A follower's log: nothing to read, every append refused, syncs counted.
#[derive(Debug, Default)]
struct FollowerLog {
    state: Arc<RwLock<State>>,
    leader_url: Option<String>,
    syncs: AtomicUsize,
}

impl SchemaLog for FollowerLog {
    fn state(&self) -> &Arc<RwLock<State>> {
        &self.state
    }
    fn append(&self, _records: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::NotLeader) })
    }
    fn sync(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
    fn leadership(&self) -> Leadership {
        Leadership::Follower { leader_url: self.leader_url.clone() }
    }
}

/// Status, content type and JSON body of an answer.
async fn answer(response: reqwest::Response) -> (StatusCode, String, Value) {
    let status = response.status();
    let content_type =
        response.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    (status, content_type, body)
}

/// Asserts an error answer: the status, the error code, Confluent's content type and body shape.
async fn assert_error(response: reqwest::Response, status: u16, error_code: i64) -> String {
    let (got_status, content_type, body) = answer(response).await;
    assert_eq!((got_status.as_u16(), body["error_code"].as_i64()), (status, Some(error_code)), "{body}");
    assert_eq!(content_type, V1);
    let message = body["message"].as_str().unwrap_or_else(|| panic!("no message: {body}")).to_string();
    assert_eq!(body.as_object().unwrap().len(), 2, "only error_code and message: {body}");
    message
}

#[tokio::test]
async fn root_answers_an_empty_object_in_confluent_content_type() {
    let server = start().await;
    let client = Client::new();
    let (status, content_type, body) = answer(client.get(server.url("/")).send().await.unwrap()).await;
    assert_eq!((status, content_type.as_str(), body), (StatusCode::OK, V1, json!({})));
    let (_, _, types) = answer(client.get(server.url("/schemas/types")).send().await.unwrap()).await;
    assert_eq!(types, json!(["JSON", "PROTOBUF", "AVRO"]));
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_in_confluent_shape() {
    let server = start().await;
    let client = Client::new();
    let message = assert_error(client.get(server.url("/nowhere")).send().await.unwrap(), 404, 404).await;
    assert_eq!(message, "HTTP 404 Not Found");
    let response = client.delete(server.url("/schemas/types")).send().await.unwrap();
    let allow = response.headers().get("allow").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(assert_error(response, 405, 405).await, "HTTP 405 Method Not Allowed");
    assert!(allow.is_some_and(|a| a.contains("GET")), "a 405 says what is allowed");
    assert_error(client.put(server.url("/subjects")).send().await.unwrap(), 405, 405).await;
}

#[tokio::test]
async fn request_bodies_follow_confluent_content_types_and_codes() {
    let server = start().await;
    let client = Client::new();
    let lookup = server.url("/subjects/nobody");
    let body = json!({ "schema": RECORD }).to_string();
    // Every accepted content type, and none, gets the body to the registry, which does not know the subject.
    for content_type in [
        Some(V1),
        Some("application/vnd.schemaregistry+json"),
        Some("application/json"),
        Some("application/octet-stream"),
        None,
    ] {
        let mut request = client.post(&lookup).body(body.clone());
        if let Some(ct) = content_type {
            request = request.header(CONTENT_TYPE, ct);
        }
        assert_error(request.send().await.unwrap(), 404, 40401).await;
    }
    let post = |ct: &str, body: &str| client.post(&lookup).header(CONTENT_TYPE, ct).body(body.to_string()).send();
    assert_error(post("text/plain", &body).await.unwrap(), 415, 415).await;
    assert_error(post(V1, "{\"schema\": ").await.unwrap(), 400, 400).await;
    assert_error(post(V1, "").await.unwrap(), 422, 422).await;
    assert_error(post(V1, "{\"schemaType\": \"AVRO\"}").await.unwrap(), 422, 42201).await;
    let register = server.url("/subjects/s/versions");
    let response = client.post(&register).header(CONTENT_TYPE, V1).body("[not json").send().await.unwrap();
    assert_error(response, 400, 400).await;
}

#[tokio::test]
async fn path_values_are_checked_as_confluent_does() {
    let server = start().await;
    let client = Client::new();
    for version in ["abc", "0", "-2", "99999999999"] {
        let url = server.url(&format!("/subjects/s/versions/{version}"));
        assert_error(client.get(&url).send().await.unwrap(), 422, 42202).await;
    }
    assert_error(client.get(server.url("/schemas/ids/abc")).send().await.unwrap(), 404, 40403).await;
    assert_error(client.get(server.url("/schemas/ids/12345")).send().await.unwrap(), 404, 40403).await;
    assert_error(client.get(server.url("/subjects/a%2Fb/versions")).send().await.unwrap(), 404, 40401).await;
}

#[tokio::test]
async fn invalid_compatibility_levels_and_modes_are_refused() {
    let server = start().await;
    let client = Client::new();
    let put = |path: &str, body: Value| client.put(server.url(path)).json(&body).send();
    assert_error(put("/config", json!({"compatibility": "SIDEWAYS"})).await.unwrap(), 422, 42203).await;
    assert_error(put("/config/s", json!({"compatibility": 7})).await.unwrap(), 422, 42203).await;
    assert_error(put("/mode", json!({"mode": "WRITEONLY"})).await.unwrap(), 422, 42204).await;
    assert_error(put("/mode/s", json!({})).await.unwrap(), 422, 42204).await;
}

#[tokio::test]
async fn basic_auth_guards_every_route_when_users_are_configured() {
    let config = RegistryConfig {
        basic_auth: vec![BasicAuthUser { username: "alice".into(), password: "wonder".into() }],
        ..RegistryConfig::default()
    };
    let server = start_with(config, |_| Arc::new(MemoryLog::default())).await;
    let client = Client::new();
    for request in [
        client.get(server.url("/subjects")),
        client.get(server.url("/nowhere")),
        client.get(server.url("/subjects")).basic_auth("alice", Some("wrong")),
        client.get(server.url("/subjects")).basic_auth("mallory", Some("wonder")),
    ] {
        let response = request.send().await.unwrap();
        let challenge = response.headers().get(WWW_AUTHENTICATE).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(challenge.as_deref(), Some("Basic realm=\"SchemaRegistry\""));
        assert_error(response, 401, 401).await;
    }
    let response = client.get(server.url("/subjects")).basic_auth("alice", Some("wonder")).send().await.unwrap();
    assert_eq!(answer(response).await.2, json!([]));

    // Without users, no credentials are needed.
    let open = start().await;
    assert_eq!(client.get(open.url("/subjects")).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let server = start().await;
    let client = Client::new();
    for subject in ["a", "b", "c%2Fd"] {
        client.get(server.url(&format!("/subjects/{subject}/versions"))).send().await.unwrap();
    }
    client.get(server.url("/nowhere")).send().await.unwrap();
    client.delete(server.url("/schemas/types")).send().await.unwrap();
    let response = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/plain"));
    let text = response.text().await.unwrap();
    let counter = |route: &str, method: &str, status: &str| {
        text.lines()
            .find(|line| {
                line.starts_with("schema_registry_http_requests_total{")
                    && line.contains(&format!("route=\"{route}\""))
                    && line.contains(&format!("method=\"{method}\""))
                    && line.contains(&format!("status=\"{status}\""))
            })
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse::<u64>().ok())
    };
    assert_eq!(counter("/subjects/{subject}/versions", "GET", "404"), Some(3), "{text}");
    assert_eq!(counter("unmatched", "GET", "404"), Some(1), "{text}");
    assert_eq!(counter("/schemas/types", "DELETE", "405"), Some(1), "{text}");
    for line in [
        "schema_registry_is_leader 1",
        "schema_registry_subjects 0",
        "schema_registry_schemas 0",
        "# TYPE schema_registry_http_request_duration_seconds histogram",
    ] {
        assert!(text.contains(line), "missing {line:?} in {text}");
    }
}

#[tokio::test]
async fn the_api_walks_register_read_and_delete_over_the_memory_log() {
    let server = start().await;
    let client = Client::new();
    let schema = json!({ "schema": RECORD });
    let response = client.post(server.url("/subjects/a%2Fb/versions")).json(&schema).send().await.unwrap();
    let (status, content_type, body) = answer(response).await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, V1), "{body}");
    let id = body["id"].as_i64().expect("an id");
    // The same schema again: the same id, no new version.
    let again = client
        .post(server.url("/subjects/a%2Fb/versions"))
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(schema.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer(again).await.2, json!({ "id": id }));
    assert_eq!(server.registry.subjects(None, false), vec!["a/b".to_string()]);

    let (_, _, version) = answer(client.get(server.url("/subjects/a%2Fb/versions/latest")).send().await.unwrap()).await;
    assert_eq!((version["subject"].as_str(), version["version"].as_i64()), (Some("a/b"), Some(1)), "{version}");
    let raw = client.get(server.url("/subjects/a%2Fb/versions/1/schema")).send().await.unwrap();
    assert_eq!(raw.headers()[CONTENT_TYPE], V1);
    let raw: Value = serde_json::from_str(&raw.text().await.unwrap()).unwrap();
    assert_eq!(raw["name"], "User");
    let (_, _, by_id) = answer(client.get(server.url(&format!("/schemas/ids/{id}"))).send().await.unwrap()).await;
    assert!(by_id["schema"].is_string() && by_id.get("schemaType").is_none(), "{by_id}");

    let metrics = client.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("schema_registry_subjects 1") && metrics.contains("schema_registry_schemas 1"));

    let (_, _, deleted) = answer(client.delete(server.url("/subjects/a%2Fb")).send().await.unwrap()).await;
    assert_eq!(deleted, json!([1]));
    assert_error(client.get(server.url("/subjects/a%2Fb/versions")).send().await.unwrap(), 404, 40401).await;
}

#[tokio::test]
async fn followers_forward_writes_to_the_leader_and_catch_up() {
    let credentials = vec![BasicAuthUser { username: "alice".into(), password: "wonder".into() }];
    let config = RegistryConfig { basic_auth: credentials, ..RegistryConfig::default() };
    let leader_log = Arc::new(MemoryLog::default());
    let leader = start_with(config.clone(), |_| leader_log.clone()).await;
    let follower_log = Arc::new(FollowerLog { leader_url: Some(leader.base.clone()), ..FollowerLog::default() });
    let follower = start_with(config, |_| follower_log.clone()).await;
    let client = Client::new();

    let register = client
        .post(follower.url("/subjects/orders-value/versions?normalize=true"))
        .basic_auth("alice", Some("wonder"))
        .json(&json!({ "schema": RECORD }))
        .send()
        .await
        .unwrap();
    let (status, content_type, body) = answer(register).await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, V1), "{body}");
    assert!(body["id"].is_i64(), "{body}");
    assert!(!leader_log.records.lock().is_empty(), "the leader wrote the schema");
    assert_eq!(follower_log.syncs.load(Ordering::SeqCst), 1, "the follower caught up after the write");

    // The leader's own refusals are relayed as they are.
    let bad = client
        .put(follower.url("/config/orders-value"))
        .basic_auth("alice", Some("wonder"))
        .json(&json!({ "compatibility": "SIDEWAYS" }))
        .send()
        .await
        .unwrap();
    assert_error(bad, 422, 42203).await;
    assert_eq!(follower_log.syncs.load(Ordering::SeqCst), 1, "no catch-up after a refused write");

    // Reads are served by the follower itself, whose (empty) state does not know the subject.
    let lookup = client
        .post(follower.url("/subjects/orders-value"))
        .basic_auth("alice", Some("wonder"))
        .json(&json!({ "schema": RECORD }))
        .send()
        .await
        .unwrap();
    assert_error(lookup, 404, 40401).await;
}

#[tokio::test]
async fn followers_without_a_reachable_leader_answer_errors_and_never_loop() {
    let client = Client::new();
    let put_config = |server: &Server| client.put(server.url("/config")).json(&json!({"compatibility": "FULL"})).send();

    let orphan = start_with(RegistryConfig::default(), |_| Arc::new(FollowerLog::default())).await;
    assert_error(put_config(&orphan).await.unwrap(), 500, 50004).await;

    // A follower told that it leads itself forwards once, then refuses the forwarded request.
    let confused = start_with(RegistryConfig::default(), |own| {
        Arc::new(FollowerLog { leader_url: Some(own.to_string()), ..FollowerLog::default() })
    })
    .await;
    assert_error(put_config(&confused).await.unwrap(), 500, 50004).await;

    // A leader that does not answer.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let cut_off = start_with(RegistryConfig::default(), |_| {
        Arc::new(FollowerLog { leader_url: Some(dead_url), ..FollowerLog::default() })
    })
    .await;
    assert_error(put_config(&cut_off).await.unwrap(), 500, 50003).await;
    let delete = client.delete(cut_off.url("/subjects/s/versions/1")).send().await.unwrap();
    assert_error(delete, 500, 50003).await;
}
