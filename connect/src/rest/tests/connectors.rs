//! `/`, `/connectors` and one connector's resources.

use serde_json::json;

use super::{answer, assert_empty, assert_error, Server, SINK_CLASS, SOURCE_CLASS};
use crate::rest::root::VERSION;

#[tokio::test]
async fn root_answers_version_commit_and_cluster_id() {
    let server = Server::start().await;
    let (status, body) = answer(server.get("/").await).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"version": VERSION, "commit": body["commit"], "kafka_cluster_id": "test-cluster-id"}));
    assert!(body["commit"].is_string(), "{body}");
}

#[tokio::test]
async fn create_answers_201_with_the_connector_and_its_location() {
    let server = Server::start().await;
    let body = json!({"name": " my source ", "config": {"connector.class": SOURCE_CLASS, "tasks.max": 2}});
    let response = server.post("/connectors", Some(body)).await;
    assert_eq!(response.headers()["location"], "/connectors/my%20source");
    let (status, info) = answer(response).await;
    assert_eq!(status, 201);
    // The name is trimmed and put into the config; numbers are read as strings, as Jackson does.
    let expected = json!({
        "name": "my source",
        "config": {"connector.class": SOURCE_CLASS, "tasks.max": "2", "name": "my source"},
        "tasks": [{"connector": "my source", "task": 0}, {"connector": "my source", "task": 1}],
        "type": "source",
    });
    assert_eq!(info, expected);
    assert_eq!(answer(server.get("/connectors").await).await, (200, json!(["my source"])));
    assert_eq!(answer(server.get("/connectors/my%20source").await).await, (200, expected));
    assert!(server.herder.calls.lock()[0].ends_with("None true"), "POST creates only");
}

#[tokio::test]
async fn create_refuses_duplicates_and_bad_requests() {
    let server = Server::start().await;
    server.source("a").await;
    let config = json!({"connector.class": SOURCE_CLASS});
    let duplicate = server.post("/connectors", Some(json!({"name": "a", "config": config}))).await;
    assert_eq!(assert_error(duplicate, 409).await, "Connector a already exists");

    let unnamed = server.post("/connectors", Some(json!({"config": config}))).await;
    assert!(assert_error(unnamed, 400).await.contains("name is empty"));
    let blank = server.post("/connectors", Some(json!({"name": "  ", "config": config}))).await;
    assert!(assert_error(blank, 400).await.contains("name is empty"));
    let control = server.post("/connectors", Some(json!({"name": "a\u{7}b", "config": config}))).await;
    assert!(assert_error(control, 400).await.contains("control characters"));

    let mismatch = json!({"name": "b", "config": {"connector.class": SOURCE_CLASS, "name": "c"}});
    let message = assert_error(server.post("/connectors", Some(mismatch)).await, 400).await;
    assert_eq!(message, "Connector name configuration (c) doesn't match connector name in the URL (b)");

    let no_config = server.post("/connectors", Some(json!({"name": "b"}))).await;
    assert!(assert_error(no_config, 400).await.contains("no `config`"));
    // The herder's own validation answers pass through.
    let invalid = server.post("/connectors", Some(json!({"name": "b", "config": {}}))).await;
    assert!(assert_error(invalid, 400).await.contains("connector.class"));
    // A JSON shape Connect cannot map is its 500.
    let state = json!({"name": "b", "config": config, "initial_state": "SLEEPING"});
    assert!(assert_error(server.post("/connectors", Some(state)).await, 500)
        .await
        .contains("RUNNING, PAUSED or STOPPED"));
    assert_eq!(answer(server.get("/connectors").await).await, (200, json!(["a"])));
}

#[tokio::test]
async fn create_honours_initial_state() {
    let server = Server::start().await;
    let body = json!({"name": "p", "config": {"connector.class": SOURCE_CLASS}, "initial_state": "paused"});
    assert_eq!(server.post("/connectors", Some(body)).await.status().as_u16(), 201);
    let (_, status) = answer(server.get("/connectors/p/status").await).await;
    assert_eq!(status["connector"]["state"], "PAUSED");
}

#[tokio::test]
async fn list_expands_status_and_info() {
    let server = Server::start().await;
    server.source("src").await;
    server.sink("snk").await;
    let (code, by_status) = answer(server.get("/connectors?expand=status").await).await;
    assert_eq!(code, 200);
    assert_eq!(by_status["snk"].as_object().unwrap().keys().collect::<Vec<_>>(), ["status"]);
    assert_eq!(
        by_status["snk"]["status"],
        json!({
            "name": "snk",
            "connector": {"state": "RUNNING", "worker_id": "127.0.0.1:8083"},
            "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "127.0.0.1:8083"}],
            "type": "sink",
        })
    );
    let (_, both) = answer(server.get("/connectors?expand=info&expand=status").await).await;
    assert_eq!(both["src"]["info"]["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(both["src"]["status"]["type"], "source");
    let (_, unknown) = answer(server.get("/connectors?expand=bogus").await).await;
    assert_eq!(unknown, json!({"snk": {}, "src": {}}));
}

#[tokio::test]
async fn config_is_read_replaced_created_and_patched() {
    let server = Server::start().await;
    server.source("c").await;
    let (code, config) = answer(server.get("/connectors/c/config").await).await;
    assert_eq!((code, &config["name"]), (200, &json!("c")));

    let replaced = json!({"connector.class": SOURCE_CLASS, "tasks.max": "1", "topic": "t"});
    let (code, info) = answer(server.put("/connectors/c/config", Some(replaced)).await).await;
    assert_eq!((code, &info["config"]["topic"], &info["config"]["name"]), (200, &json!("t"), &json!("c")));
    assert!(server.herder.calls.lock().last().unwrap().ends_with("None false"), "PUT creates or updates");

    let response = server.put("/connectors/new/config", Some(json!({"connector.class": SINK_CLASS}))).await;
    assert_eq!(response.headers()["location"], "/connectors/new");
    let (code, info) = answer(response).await;
    assert_eq!((code, &info["type"]), (201, &json!("sink")));

    let mismatch =
        server.put("/connectors/c/config", Some(json!({"connector.class": SOURCE_CLASS, "name": "x"}))).await;
    assert!(assert_error(mismatch, 400).await.contains("doesn't match connector name in the URL (c)"));

    let (code, info) = answer(server.patch("/connectors/c/config", json!({"topic": null, "batch": 5})).await).await;
    assert_eq!(code, 200);
    assert_eq!(info["config"], json!({"connector.class": SOURCE_CLASS, "tasks.max": "1", "batch": "5", "name": "c"}));
    let renamed = server.patch("/connectors/c/config", json!({"name": "d"})).await;
    assert_eq!(
        assert_error(renamed, 400).await,
        "Connector name configuration (d) doesn't match connector name in the URL (c)"
    );
    assert_error(server.patch("/connectors/nope/config", json!({"a": "b"})).await, 404).await;
    assert_eq!(assert_error(server.get("/connectors/nope/config").await, 404).await, "Connector nope not found");
    assert_error(server.get("/connectors/nope").await, 404).await;
}

#[tokio::test]
async fn pause_resume_stop_restart_and_delete_answer_connect_status_codes() {
    let server = Server::start().await;
    server.source("s").await;
    let state = |body: serde_json::Value| body["connector"]["state"].as_str().unwrap().to_string();

    assert_empty(server.put("/connectors/s/pause", None).await, 202).await;
    assert_eq!(state(answer(server.get("/connectors/s/status").await).await.1), "PAUSED");
    assert_empty(server.put("/connectors/s/resume", None).await, 202).await;
    assert_eq!(state(answer(server.get("/connectors/s/status").await).await.1), "RUNNING");
    assert_empty(server.put("/connectors/s/stop", None).await, 204).await;
    let (_, stopped) = answer(server.get("/connectors/s/status").await).await;
    assert_eq!((state(stopped.clone()), &stopped["tasks"]), ("STOPPED".to_string(), &json!([])));
    assert_empty(server.put("/connectors/s/resume", None).await, 202).await;

    assert_empty(server.post("/connectors/s/restart", None).await, 204).await;
    let (code, restarting) = answer(server.post("/connectors/s/restart?includeTasks=true", None).await).await;
    assert_eq!((code, state(restarting.clone())), (202, "RESTARTING".to_string()));
    assert_eq!(restarting["tasks"][1], json!({"id": 1, "state": "RESTARTING", "worker_id": "127.0.0.1:8083"}));
    let (code, _) = answer(server.post("/connectors/s/restart?onlyFailed=TRUE&includeTasks=no", None).await).await;
    assert_eq!(code, 202);
    let calls = server.herder.calls.lock().clone();
    assert_eq!(calls[calls.len() - 3..], ["restart s false false", "restart s true false", "restart s false true"]);

    for path in ["/connectors/x/pause", "/connectors/x/resume", "/connectors/x/stop"] {
        assert_error(server.put(path, None).await, 404).await;
    }
    assert_error(server.post("/connectors/x/restart", None).await, 404).await;
    assert_error(server.get("/connectors/x/status").await, 404).await;

    assert_empty(server.delete("/connectors/s").await, 204).await;
    assert_error(server.delete("/connectors/s").await, 404).await;
    assert_eq!(answer(server.get("/connectors").await).await, (200, json!([])));
}

#[tokio::test]
async fn topics_are_listed_under_the_connector_name_and_reset() {
    let server = Server::start().await;
    server.sink("k").await;
    server.herder.set_topics("k", &["orders", "users"]);
    assert_eq!(
        answer(server.get("/connectors/k/topics").await).await,
        (200, json!({"k": {"topics": ["orders", "users"]}}))
    );
    assert_empty(server.put("/connectors/k/topics/reset", None).await, 202).await;
    assert_eq!(answer(server.get("/connectors/k/topics").await).await, (200, json!({"k": {"topics": []}})));
    assert_error(server.get("/connectors/x/topics").await, 404).await;
    assert_error(server.put("/connectors/x/topics/reset", None).await, 404).await;
}
