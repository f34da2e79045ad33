//! Error answers for what no handler answers: unknown routes, wrong methods, bodies that are not JSON.

use reqwest::Method;
use serde_json::json;

use super::{answer, assert_error, Server, SOURCE_CLASS};

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_in_connect_shape() {
    let server = Server::start().await;
    for path in ["/nope", "/connectors/a/b/c", "/admin", "/connector-plugins/x"] {
        assert_eq!(assert_error(server.get(path).await, 404).await, "HTTP 404 Not Found", "{path}");
    }
    let wrong = [
        (Method::DELETE, "/connectors"),
        (Method::GET, "/connectors/a/pause"),
        (Method::POST, "/connectors/a/stop"),
        (Method::PUT, "/connectors/a/restart"),
        (Method::POST, "/connectors/a/offsets"),
        (Method::GET, "/connector-plugins/x/config/validate"),
        (Method::DELETE, "/admin/loggers/root"),
        (Method::POST, "/"),
    ];
    for (method, path) in wrong {
        let response = server.send(method.clone(), path, None).await;
        assert_eq!(assert_error(response, 405).await, "HTTP 405 Method Not Allowed", "{method} {path}");
    }
}

#[tokio::test]
async fn bodies_that_are_not_json_get_connect_answers() {
    let server = Server::start().await;
    let path = "/connectors/a/config";
    // Connect answers Jackson's parse and mapping errors with 500.
    let malformed = server.raw(Method::PUT, path, Some("application/json"), "{\"connector.class\": }").await;
    assert!(assert_error(malformed, 500).await.starts_with("Malformed JSON"));
    let empty = server.raw(Method::PUT, path, Some("application/json"), "").await;
    assert!(assert_error(empty, 500).await.contains("empty"));
    let array = server.put(path, Some(json!(["a"]))).await;
    assert!(assert_error(array, 500).await.contains("got an array"));
    let nested = server.put(path, Some(json!({"connector.class": {"a": 1}}))).await;
    assert!(assert_error(nested, 500).await.contains("`connector.class` must be a string"));
    let null = server.put(path, Some(json!({"connector.class": SOURCE_CLASS, "topic": null}))).await;
    assert!(assert_error(null, 400).await.contains("`topic` is null"));
    // Not JSON at all is 415; no content type is read as JSON.
    let form = server.raw(Method::PUT, path, Some("application/x-www-form-urlencoded"), "a=b").await;
    assert_eq!(assert_error(form, 415).await, "HTTP 415 Unsupported Media Type");
    let bare =
        server.raw(Method::PUT, path, None, r#"{"connector.class": "org.example.DataGenSourceConnector"}"#).await;
    assert_eq!(answer(bare).await.0, 201);
    assert!(server.herder.calls.lock().len() == 1, "only the good request reached the herder");
}

#[tokio::test]
async fn oversized_bodies_are_refused_in_connect_shape() {
    let server = Server::start().await;
    let big = "x".repeat(3 * 1024 * 1024);
    let response = server.put("/connectors/a/config", Some(json!({"connector.class": big}))).await;
    assert_error(response, 413).await;
}
