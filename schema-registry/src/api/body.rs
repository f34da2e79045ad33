//! Confluent's content types, request bodies and query parameters: what the REST API accepts and how it answers.
//!
//! Bodies are read as bytes and parsed here rather than with axum's `Json`, so that every way a body can be wrong
//! gets Confluent's answer in Confluent's shape: an unsupported content type is 415, unparsable JSON is 400 / 400
//! (rest-utils' `JsonParseExceptionMapper`), a missing body is 422 / 422 (a `@NotNull` violation).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::registry::SchemaRequest;

/// The content type of every answer (Confluent's preferred one).
pub const CONTENT_TYPE_V1: &str = "application/vnd.schemaregistry.v1+json";

/// Request content types Confluent accepts; a request without a content type is accepted too.
pub const ACCEPTED_CONTENT_TYPES: [&str; 4] = [
    CONTENT_TYPE_V1,
    "application/vnd.schemaregistry+json",
    "application/json",
    // Confluent's `GENERIC_REQUEST`: some clients send JSON without saying so.
    "application/octet-stream",
];

/// The largest request body read, in bytes. Schemas are small, but generated Protobuf and JSON schemas with
/// many definitions can pass axum's 2 MiB default.
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// A 200 answer with a JSON body in Confluent's content type.
pub fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => with_content_type(StatusCode::OK, bytes),
        Err(e) => ApiError::new(500, 500, format!("bug: an answer did not serialize: {e}")).into_response(),
    }
}

/// A 200 answer whose body is raw text (a schema), in Confluent's content type as Confluent does.
pub fn text(body: String) -> Response {
    with_content_type(StatusCode::OK, body.into_bytes())
}

/// A response with `status`, `body` and Confluent's content type.
pub fn with_content_type(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_V1));
    response
}

/// Whether a request's content type is one the API reads; no content type counts as JSON.
pub fn content_type_accepted(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE) else { return true };
    let Ok(text) = value.to_str() else { return false };
    let essence = text.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence.is_empty() || ACCEPTED_CONTENT_TYPES.contains(&essence.as_str())
}

/// Parses a request body as JSON: 415 for a content type the API does not read, 422 / 422 for a missing body,
/// 400 / 400 for text that is not JSON. Top-level `null` fields are dropped, since Jackson treats them as absent.
pub fn parse_json(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, ApiError> {
    if !content_type_accepted(headers) {
        return Err(ApiError::new(415, 415, "HTTP 415 Unsupported Media Type"));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(422, 422, "The request body is empty; send a JSON object"));
    }
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("Malformed JSON body: {e}")))?;
    match value {
        Value::Object(mut map) => {
            map.retain(|_, v| !v.is_null());
            Ok(Value::Object(map))
        }
        Value::Null => Err(ApiError::new(422, 422, "The request body is null; send a JSON object")),
        other => Ok(other),
    }
}

/// Reads a JSON body into `T`: a body of the wrong shape is 400 / 400, as rest-utils' `JsonMappingExceptionMapper`.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::bad_request(format!("Unexpected JSON body: {e}")))
}

/// The body of register, lookup and compatibility requests. A body without a `schema` is an invalid schema
/// (422 / 42201) rather than a malformed request, as in Confluent, where the schema is parsed and found empty.
pub fn schema_request(value: Value) -> Result<SchemaRequest, ApiError> {
    match value.get("schema") {
        None => return Err(ApiError::invalid_schema("the request has no `schema` field")),
        Some(Value::String(_)) => {}
        Some(_) => return Err(ApiError::invalid_schema("`schema` must be a string holding the schema's text")),
    }
    from_value(value)
}

/// A JSON request body, checked and parsed by [`parse_json`].
#[derive(Debug)]
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let bytes = read_bytes(req, state).await?;
        parse_json(&headers, &bytes).map(JsonBody)
    }
}

/// Reads the whole body, up to [`BODY_LIMIT`].
pub async fn read_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        let status = rejection.status().as_u16();
        ApiError::new(status, i32::from(status), rejection.body_text())
    })
}

/// Query parameters, read leniently: a flag is true only when it says `true` (any case), as Java's
/// `Boolean.parseBoolean` reads Confluent's boolean parameters; anything else, or no value, is false.
#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// A flag such as `deleted=true`.
    pub fn flag(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// A text parameter; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map(|Query(map)| Params(map))
            .map_err(|e| ApiError::bad_request(format!("Malformed query string: {}", e.body_text())))
    }
}

/// Path parameters (subject names arrive percent-decoded, so `a%2Fb` is the subject `a/b`).
#[derive(Debug)]
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| PathParams(value))
            .map_err(|e| ApiError::bad_request(format!("Malformed path: {}", e.body_text())))
    }
}

/// A schema id from a path. Confluent's ids are integers and a path that is not one matches no schema, so
/// anything else is 404 / 40403.
pub fn schema_id(text: &str) -> Result<i32, ApiError> {
    text.parse::<i32>().map_err(|_| ApiError::new(404, 40403, format!("Schema not found: '{text}' is not a schema id")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(ct) = content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        headers
    }

    #[test]
    fn content_types_follow_confluent() {
        for ct in [
            None,
            Some("application/vnd.schemaregistry.v1+json"),
            Some("application/vnd.schemaregistry+json"),
            Some("application/json; charset=utf-8"),
            Some("Application/JSON"),
            Some("application/octet-stream"),
        ] {
            assert!(content_type_accepted(&headers(ct)), "{ct:?}");
        }
        for ct in ["text/plain", "application/x-www-form-urlencoded", "application/xml"] {
            assert!(!content_type_accepted(&headers(Some(ct))), "{ct}");
        }
    }

    #[test]
    fn bodies_fail_with_confluent_codes() {
        let h = headers(None);
        assert_eq!(parse_json(&h, b"{\"schema\": ").unwrap_err().error_code, 400);
        assert_eq!(parse_json(&h, b"  ").unwrap_err().error_code, 422);
        assert_eq!(parse_json(&h, b"null").unwrap_err().error_code, 422);
        assert_eq!(parse_json(&headers(Some("text/plain")), b"{}").unwrap_err().status, 415);
        let value = parse_json(&h, br#"{"schema":"\"int\"","references":null}"#).unwrap();
        let request = schema_request(value).unwrap();
        assert!(request.references.is_empty());
        assert_eq!(schema_request(serde_json::json!({"schemaType": "AVRO"})).unwrap_err().error_code, 42201);
        assert_eq!(schema_request(serde_json::json!({"schema": 5})).unwrap_err().error_code, 42201);
        assert_eq!(schema_request(serde_json::json!({"schema": "x", "version": "one"})).unwrap_err().error_code, 400);
    }

    #[test]
    fn ids_must_be_integers() {
        assert_eq!(schema_id("12").unwrap(), 12);
        let e = schema_id("twelve").unwrap_err();
        assert_eq!((e.status, e.error_code), (404, 40403));
    }
}
