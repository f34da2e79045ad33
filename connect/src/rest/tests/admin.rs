//! `/admin/loggers`.

use serde_json::json;

use super::{answer, assert_empty, assert_error, Server};

#[tokio::test]
async fn loggers_are_listed_read_and_set() {
    let server = Server::start().await;
    let root = json!({"level": "INFO", "last_modified": null});
    assert_eq!(answer(server.get("/admin/loggers").await).await, (200, json!({"root": root})));
    assert_eq!(answer(server.get("/admin/loggers/root").await).await, (200, root));

    let (code, changed) = answer(server.put("/admin/loggers/org.example", Some(json!({"level": "debug"}))).await).await;
    assert_eq!((code, changed), (200, json!(["org.example"])));
    let (code, level) = answer(server.get("/admin/loggers/org.example").await).await;
    assert_eq!((code, &level["level"]), (200, &json!("DEBUG")));

    let cluster = server.put("/admin/loggers/org.other?scope=cluster", Some(json!({"level": "WARN"}))).await;
    assert_empty(cluster, 204).await;
    assert_eq!(answer(server.get("/admin/loggers/org.other").await).await.1["level"], "WARN");
}

#[tokio::test]
async fn logger_errors_follow_connect() {
    let server = Server::start().await;
    assert_eq!(assert_error(server.get("/admin/loggers/nope").await, 404).await, "Logger nope not found.");
    let missing = server.put("/admin/loggers/root", Some(json!({"lvl": "DEBUG"}))).await;
    assert_eq!(assert_error(missing, 400).await, "Desired 'level' parameter was not specified in request.");
    let invalid = server.put("/admin/loggers/root", Some(json!({"level": "LOUD"}))).await;
    assert!(assert_error(invalid, 404).await.starts_with("invalid log level 'LOUD'"));
    assert_eq!(answer(server.get("/admin/loggers/root").await).await.1["level"], "INFO");
}
