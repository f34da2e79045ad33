//! Error answers in Kafka Connect's shape, `{"error_code": N, "message": "..."}`, for every failure: the
//! herder's [`ApiError`]s, and what axum answers by itself (unknown routes, wrong methods, oversized bodies),
//! which Connect's Jersey answers as `{"error_code": 404, "message": "HTTP 404 Not Found"}` and the like.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;

/// The content type of every JSON answer.
pub(crate) const JSON: &str = "application/json";

/// The JSON body of an error answer (Connect's `ErrorMessage`).
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error_code: u16,
    message: &'a str,
}

/// The body bytes of an error answer.
fn error_body(error_code: u16, message: &str) -> Vec<u8> {
    serde_json::to_vec(&ErrorBody { error_code, message }).unwrap_or_default()
}

/// Jersey's wording when there is nothing better to say, e.g. "HTTP 405 Method Not Allowed".
pub(crate) fn jersey_message(status: StatusCode) -> String {
    format!("HTTP {} {}", status.as_u16(), status.canonical_reason().unwrap_or("Error"))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.error_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(status = self.error_code, message = %self.message, "connect REST request failed");
        }
        let mut response = (status, error_body(status.as_u16(), &self.message)).into_response();
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
        response
    }
}

/// The answer to a path no route matches.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found(jersey_message(StatusCode::NOT_FOUND))
}

/// The answer to a known path with a method it does not take.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(405, jersey_message(StatusCode::METHOD_NOT_ALLOWED))
}

/// How much of a non-JSON error body is kept as the message.
const MAX_MESSAGE: usize = 4096;

/// Rewrites every error answer that is not JSON already (axum's own rejections: 413 for a body over the limit,
/// and whatever else a layer answers in plain text) into Connect's shape, keeping status, headers and extensions.
pub(crate) async fn connect_error_bodies(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_MESSAGE).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() { jersey_message(status) } else { text };
    parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(error_body(status.as_u16(), &message)))
}

fn is_json(response: &Response) -> bool {
    response.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(JSON.as_bytes()))
}
