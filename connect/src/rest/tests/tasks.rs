//! `/connectors/{name}/tasks`.

use serde_json::json;

use super::{answer, assert_empty, assert_error, Server};

#[tokio::test]
async fn tasks_list_their_ids_and_configs() {
    let server = Server::start().await;
    server.source("s").await;
    let (code, tasks) = answer(server.get("/connectors/s/tasks").await).await;
    assert_eq!(code, 200);
    assert_eq!(
        tasks,
        json!([
            {"id": {"connector": "s", "task": 0}, "config": {"task.id": "0"}},
            {"id": {"connector": "s", "task": 1}, "config": {"task.id": "1"}},
        ])
    );
    assert_error(server.get("/connectors/x/tasks").await, 404).await;
}

#[tokio::test]
async fn a_task_status_is_its_id_and_state_without_a_trace_unless_failed() {
    let server = Server::start().await;
    server.source("s").await;
    let (code, status) = answer(server.get("/connectors/s/tasks/1/status").await).await;
    assert_eq!((code, status), (200, json!({"id": 1, "state": "RUNNING", "worker_id": "127.0.0.1:8083"})));
    assert_eq!(
        assert_error(server.get("/connectors/s/tasks/7/status").await, 404).await,
        "No status found for task s-7"
    );
    // A task id that is not a number names no resource.
    assert_eq!(assert_error(server.get("/connectors/s/tasks/one/status").await, 404).await, "HTTP 404 Not Found");
    assert_error(server.get("/connectors/s/tasks/-1/status").await, 404).await;
}

#[tokio::test]
async fn restarting_a_task_answers_204() {
    let server = Server::start().await;
    server.source("s").await;
    assert_empty(server.post("/connectors/s/tasks/0/restart", None).await, 204).await;
    assert_eq!(server.herder.calls.lock().last().unwrap(), "restart-task s 0");
    assert_error(server.post("/connectors/s/tasks/2/restart", None).await, 404).await;
    assert_error(server.post("/connectors/x/tasks/0/restart", None).await, 404).await;
    assert_error(server.post("/connectors/s/tasks/x/restart", None).await, 404).await;
}
