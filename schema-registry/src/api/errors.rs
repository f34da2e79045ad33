//! Error answers in Confluent's shape, `{"error_code": N, "message": "..."}`, for every failure: the registry's
//! own [`ApiError`]s, and what axum answers by itself (unknown routes, wrong methods, oversized bodies), which
//! Confluent's Jersey answers as `{"error_code": 404, "message": "HTTP 404 Not Found"}` and the like.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::body::CONTENT_TYPE_V1;
use crate::error::ApiError;

/// The JSON body of an error answer.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error_code: i32,
    message: &'a str,
}

/// The body bytes of an error answer.
pub fn error_body(error_code: i32, message: &str) -> Vec<u8> {
    serde_json::to_vec(&ErrorBody { error_code, message }).expect("an error body serializes")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(status = self.status, error_code = self.error_code, message = %self.message, "request failed");
        }
        super::body::with_content_type(status, error_body(self.error_code, &self.message))
    }
}

/// How much of a non-JSON error body is kept as the message.
const MAX_MESSAGE: usize = 4096;

/// Rewrites every error answer that is not already in Confluent's shape (axum's own 404, 405, 413 and rejection
/// texts) into `{"error_code": status, "message": ...}`, keeping the status, the headers (`Allow` on a 405,
/// `WWW-Authenticate` on a 401) and the extensions.
pub async fn confluent_error_bodies(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_ours(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_MESSAGE).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    // Jersey's wording when there is nothing better to say, e.g. "HTTP 405 Method Not Allowed".
    let message = if text.is_empty() {
        format!("HTTP {} {}", status.as_u16(), status.canonical_reason().unwrap_or("Error"))
    } else {
        text
    };
    parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_V1));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(error_body(i32::from(status.as_u16()), &message)))
}

fn is_ours(response: &Response) -> bool {
    response.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes() == CONTENT_TYPE_V1.as_bytes())
}
