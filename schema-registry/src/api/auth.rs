//! Optional HTTP basic authentication: with users configured every request must name one of them, or it is
//! answered 401 with `WWW-Authenticate: Basic realm="SchemaRegistry"` (Confluent's realm).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::ApiContext;
use crate::config::BasicAuthUser;
use crate::error::ApiError;

/// The realm named in the challenge.
const CHALLENGE: &str = "Basic realm=\"SchemaRegistry\"";

/// Lets a request through when authentication is off or its `Authorization` header names a configured user.
pub async fn basic_auth(State(ctx): State<Arc<ApiContext>>, request: Request, next: Next) -> Response {
    let users = &ctx.config.basic_auth;
    if users.is_empty() || authorized(users, request.headers().get(AUTHORIZATION)) {
        return next.run(request).await;
    }
    let mut response = ApiError::unauthorized().into_response();
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(CHALLENGE));
    response
}

/// Whether `header` is `Basic base64(user:password)` for one of `users`.
pub fn authorized(users: &[BasicAuthUser], header: Option<&HeaderValue>) -> bool {
    let Some(credentials) = header.and_then(|h| h.to_str().ok()).and_then(basic_credentials) else {
        return false;
    };
    let Some((username, password)) = credentials.split_once(':') else { return false };
    // Every user is compared, each in constant time, so timing tells neither which user nor how much matched.
    users.iter().fold(false, |found, user| {
        let matches = constant_time_eq(user.username.as_bytes(), username.as_bytes())
            & constant_time_eq(user.password.as_bytes(), password.as_bytes());
        found | matches
    })
}

/// The decoded `user:password` of a `Basic` authorization header.
fn basic_credentials(header: &str) -> Option<String> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    String::from_utf8(bytes).ok()
}

/// Byte equality whose time depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user_pass: &str) -> HeaderValue {
        let encoded = base64::engine::general_purpose::STANDARD.encode(user_pass);
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[test]
    fn only_configured_users_pass() {
        let users = vec![
            BasicAuthUser { username: "alice".into(), password: "s3cret:x".into() },
            BasicAuthUser { username: "bob".into(), password: "hunter2".into() },
        ];
        assert!(authorized(&users, Some(&header("alice:s3cret:x"))), "a password may hold a colon");
        assert!(authorized(&users, Some(&header("bob:hunter2"))));
        assert!(!authorized(&users, Some(&header("bob:hunter3"))));
        assert!(!authorized(&users, Some(&header("bob:hunter2x"))));
        assert!(!authorized(&users, Some(&header("carol:hunter2"))));
        assert!(!authorized(&users, Some(&header("bob"))));
        assert!(!authorized(&users, Some(&HeaderValue::from_static("Bearer abc"))));
        assert!(!authorized(&users, Some(&HeaderValue::from_static("Basic !!notbase64"))));
        assert!(!authorized(&users, None));
    }
}
