//! Tests of the REST API over real HTTP: the router on an OS-chosen port over a small in-memory herder, called
//! with reqwest; every route's status code and JSON shape, and error answers in Connect's shape.

use std::sync::Arc;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, Method, Response};
use serde_json::{json, Value};

use super::router;

mod admin;
mod connectors;
mod errors;
mod herder;
mod metrics;
mod offsets;
mod plugins;
mod tasks;

use herder::{MemoryHerder, SINK_CLASS, SOURCE_CLASS};

/// A running API: its base URL, a client, and the herder behind it.
struct Server {
    base: String,
    client: Client,
    herder: Arc<MemoryHerder>,
}

impl Server {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let herder = Arc::new(MemoryHerder::new());
        let app = router(herder.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { base, client: Client::new(), herder }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Option<Value>) -> Response {
        self.send(Method::POST, path, body).await
    }

    async fn put(&self, path: &str, body: Option<Value>) -> Response {
        self.send(Method::PUT, path, body).await
    }

    async fn patch(&self, path: &str, body: Value) -> Response {
        self.send(Method::PATCH, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> Response {
        self.send(Method::DELETE, path, None).await
    }

    /// A request with a raw body and content type.
    async fn raw(&self, method: Method, path: &str, content_type: Option<&str>, body: &'static str) -> Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).body(body);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        request.send().await.unwrap()
    }

    /// Creates a connector with `tasks.max` tasks, asserting the 201.
    async fn create(&self, name: &str, class: &str, tasks: usize) {
        let body = json!({"name": name, "config": {"connector.class": class, "tasks.max": tasks.to_string()}});
        let response = self.post("/connectors", Some(body)).await;
        assert_eq!(response.status().as_u16(), 201, "{}", response.text().await.unwrap());
    }

    async fn source(&self, name: &str) {
        self.create(name, SOURCE_CLASS, 2).await;
    }

    async fn sink(&self, name: &str) {
        self.create(name, SINK_CLASS, 1).await;
    }
}

/// Status and JSON body of an answer, asserting it is JSON.
async fn answer(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type =
        response.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let text = response.text().await.unwrap();
    assert!(content_type.starts_with("application/json"), "content type {content_type:?} of {status} {text}");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    (status, body)
}

/// Asserts a 2xx answer without a body.
async fn assert_empty(response: Response, status: u16) {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!((got, text.as_str()), (status, ""));
}

/// Asserts an error answer in Connect's shape and returns its message.
async fn assert_error(response: Response, status: u16) -> String {
    let (got, body) = answer(response).await;
    assert_eq!((got, body["error_code"].as_u64()), (status, Some(u64::from(status))), "{body}");
    assert_eq!(body.as_object().unwrap().len(), 2, "only error_code and message: {body}");
    body["message"].as_str().unwrap_or_else(|| panic!("no message: {body}")).to_string()
}
