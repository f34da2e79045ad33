//! Request bodies, query parameters and JSON answers, read and written as Kafka Connect does.
//!
//! Bodies are read as bytes and parsed here rather than with axum's `Json`, so each way a body can be wrong gets
//! Connect's answer: a non-JSON content type is 415; text that is not JSON, or JSON of the wrong shape, is 500,
//! because Connect's Jersey has no mapper for Jackson's parse errors and its catch-all answers 500 (what users
//! see as `{"error_code":500,"message":"Unexpected character ..."}`). Config values are coerced to strings
//! as Jackson does for `Map<String, String>`, so `"tasks.max": 1` works.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::errors::{jersey_message, JSON};
use crate::connector::Config;
use crate::error::ApiError;

/// A JSON answer with `status`.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
            response
        }
        Err(e) => ApiError::new(500, format!("bug: an answer did not serialize: {e}")).into_response(),
    }
}

/// A 200 JSON answer.
pub(crate) fn ok<T: Serialize>(value: &T) -> Response {
    json(StatusCode::OK, value)
}

/// Whether a request says its body is JSON; no content type at all is taken as JSON, since curl users often
/// leave it out and there is nothing else a body could be here.
fn content_type_accepted(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE) else { return true };
    let Ok(text) = value.to_str() else { return false };
    let essence = text.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence.is_empty() || essence == JSON || essence.ends_with("+json")
}

/// Parses a request body as JSON (see the module docs for the status of each failure).
fn parse_json(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, ApiError> {
    if !content_type_accepted(headers) {
        return Err(ApiError::new(415, jersey_message(StatusCode::UNSUPPORTED_MEDIA_TYPE)));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(500, "The request body is empty; send a JSON object"));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::new(500, format!("Malformed JSON in the request body: {e}")))
}

/// A JSON request body, checked and parsed by [`parse_json`].
#[derive(Debug)]
pub(crate) struct JsonBody(pub(crate) Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            let text = rejection.body_text();
            ApiError::new(status.as_u16(), if text.is_empty() { jersey_message(status) } else { text })
        })?;
        parse_json(&headers, &bytes).map(JsonBody)
    }
}

/// A body of the wrong JSON shape: 500, as Jackson's mapping errors are in Connect.
pub(crate) fn wrong_shape(what: impl std::fmt::Display) -> ApiError {
    ApiError::new(500, format!("Unexpected JSON in the request body: {what}"))
}

/// Reads a JSON object of config values; scalars become strings, `null` stays `None` (PATCH removes such keys).
pub(crate) fn config_entries(value: Value) -> Result<BTreeMap<String, Option<String>>, ApiError> {
    let Value::Object(map) = value else {
        return Err(wrong_shape(format!("expected an object of config keys and values, got {}", kind(&value))));
    };
    map.into_iter()
        .map(|(key, value)| {
            let text = match value {
                Value::Null => None,
                Value::String(s) => Some(s),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(n) => Some(n.to_string()),
                other => {
                    return Err(wrong_shape(format!(
                        "the value of config `{key}` must be a string, got {}",
                        kind(&other)
                    )))
                }
            };
            Ok((key, text))
        })
        .collect()
}

/// Reads a full connector config (POST, PUT, validate): like [`config_entries`], but a `null` value is refused,
/// since only PATCH gives `null` a meaning.
pub(crate) fn config(value: Value) -> Result<Config, ApiError> {
    config_entries(value)?
        .into_iter()
        .map(|(key, value)| match value {
            Some(value) => Ok((key, value)),
            None => Err(ApiError::bad_request(format!(
                "Config `{key}` is null; give it a string value or leave it out (PATCH /connectors/{{name}}/config \
                 with null removes a key)"
            ))),
        })
        .collect()
}

/// The JSON type of `value`, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Query parameters, repeats kept (`?expand=status&expand=info`).
#[derive(Debug, Default, Clone)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// A flag such as `includeTasks=true`: true only when its last value says `true` in any case, as Java's
    /// `Boolean.valueOf` reads Connect's boolean parameters; absent or anything else is false.
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.last(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The last value of `name`.
    pub(crate) fn last(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Whether `name` is given at all.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|Query(pairs)| Params(pairs))
            .map_err(|e| ApiError::bad_request(format!("Malformed query string: {}", e.body_text())))
    }
}
