//! Forwarding of writes: only the elected leader writes to `_schemas`, so a follower sends every write request
//! (register, deletes, config and mode changes) to the leader as it came, relays the leader's answer, and then
//! waits until it has read the leader's write, so a client that wrote through it reads its write back.
//!
//! Lookups and compatibility checks are reads and never forwarded. A forwarded request carries
//! [`FORWARDED_HEADER`]; an instance never forwards such a request again, so instances that disagree about who
//! leads answer an error rather than bounce a request between them.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::body::{parse_json, read_bytes};
use super::ApiContext;
use crate::error::ApiError;
use crate::store::Leadership;

/// Marks a request forwarded by a follower.
pub const FORWARDED_HEADER: &str = "x-sluice-forwarded";

/// How long a forward may take beyond the registry's write timeout (connecting, the leader's own checks).
const FORWARD_MARGIN: Duration = Duration::from_secs(5);

/// The HTTP client followers forward with.
pub fn client(write_timeout_ms: u64) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(write_timeout_ms) + FORWARD_MARGIN)
        .connect_timeout(FORWARD_MARGIN)
        .build()
        .expect("bug: the forwarding HTTP client has an invalid configuration")
}

/// A write request that is to be served here: this instance leads, or the request was already forwarded to it.
/// On a follower, extracting it forwards the request and answers with the leader's response instead.
#[derive(Debug)]
pub struct Write {
    headers: HeaderMap,
    body: Bytes,
}

impl Write {
    /// The body as JSON (see [`parse_json`]).
    pub fn json(&self) -> Result<Value, ApiError> {
        parse_json(&self.headers, &self.body)
    }
}

impl FromRequest<Arc<ApiContext>> for Write {
    type Rejection = Response;

    async fn from_request(req: Request, ctx: &Arc<ApiContext>) -> Result<Self, Self::Rejection> {
        let already_forwarded = req.headers().contains_key(FORWARDED_HEADER);
        let leader_url = match ctx.registry.log().leadership() {
            Leadership::Leader => None,
            // Served here even so: the registry refuses the write as a follower (50004) rather than loop.
            Leadership::Follower { .. } if already_forwarded => None,
            Leadership::Follower { leader_url: None } => return Err(ApiError::unknown_leader().into_response()),
            Leadership::Follower { leader_url: Some(url) } => Some(url),
        };
        let method = req.method().clone();
        let path_and_query = req.uri().path_and_query().map_or("/", |pq| pq.as_str()).to_string();
        let headers = req.headers().clone();
        let body = read_bytes(req, ctx).await.map_err(IntoResponse::into_response)?;
        match leader_url {
            None => Ok(Write { headers, body }),
            Some(url) => Err(forward(ctx, &url, method, &path_and_query, &headers, body).await),
        }
    }
}

/// Sends the request to the leader and relays its answer; after a success, waits to have read the write.
async fn forward(
    ctx: &ApiContext,
    leader_url: &str,
    method: axum::http::Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let url = format!("{}{path_and_query}", leader_url.trim_end_matches('/'));
    let mut request = ctx.http.request(method, &url).header(FORWARDED_HEADER, "1").body(body);
    for name in [CONTENT_TYPE, AUTHORIZATION, ACCEPT] {
        if let Some(value) = headers.get(&name) {
            request = request.header(name, value);
        }
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(e) => return ApiError::forwarding(format!("{url}: {e}")).into_response(),
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = answer.headers().get(CONTENT_TYPE).cloned();
    let bytes = match answer.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => return ApiError::forwarding(format!("reading the answer of {url}: {e}")).into_response(),
    };
    if status.is_success() {
        // The write is done whatever happens next; a slow catch-up only delays read-your-writes here.
        if let Err(e) = ctx.registry.log().sync().await {
            tracing::warn!(error = %e, "could not catch up with the leader after a forwarded write");
        }
    }
    let mut response = (status, bytes).into_response();
    if let Some(content_type) = content_type {
        response.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    response
}
