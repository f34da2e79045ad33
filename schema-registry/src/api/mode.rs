//! `/mode`: whether the registry (or a subject) takes writes (READWRITE, READONLY, READONLY_OVERRIDE) or takes
//! schemas with caller-chosen ids (IMPORT). Answers are `{"mode": ...}`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use super::body::{json, Params, PathParams};
use super::forward::Write;
use super::ApiContext;
use crate::error::ApiError;
use crate::types::Mode;

/// `{"mode": ...}`.
#[derive(Debug, Serialize)]
struct ModeBody {
    mode: Mode,
}

/// `GET /mode`.
pub async fn get_global(State(ctx): State<Arc<ApiContext>>) -> Result<Response, ApiError> {
    Ok(json(&ModeBody { mode: ctx.registry.mode(None, true)? }))
}

/// `GET /mode/{subject}?defaultToGlobal=`.
pub async fn get_subject(
    State(ctx): State<Arc<ApiContext>>,
    PathParams(subject): PathParams<String>,
    params: Params,
) -> Result<Response, ApiError> {
    Ok(json(&ModeBody { mode: ctx.registry.mode(Some(&subject), params.flag("defaultToGlobal"))? }))
}

/// `PUT /mode?force=` with `{"mode": "READONLY"}`.
pub async fn put_global(
    State(ctx): State<Arc<ApiContext>>,
    params: Params,
    write: Write,
) -> Result<Response, ApiError> {
    put(&ctx, None, &params, &write).await
}

/// `PUT /mode/{subject}?force=`.
pub async fn put_subject(
    State(ctx): State<Arc<ApiContext>>,
    PathParams(subject): PathParams<String>,
    params: Params,
    write: Write,
) -> Result<Response, ApiError> {
    put(&ctx, Some(&subject), &params, &write).await
}

async fn put(ctx: &ApiContext, subject: Option<&str>, params: &Params, write: &Write) -> Result<Response, ApiError> {
    let mode = mode_update(write.json()?)?;
    Ok(json(&ModeBody { mode: ctx.registry.set_mode(subject, mode, params.flag("force")).await? }))
}

/// `DELETE /mode/{subject}`: the subject's mode removed.
pub async fn delete_subject(
    State(ctx): State<Arc<ApiContext>>,
    PathParams(subject): PathParams<String>,
    _write: Write,
) -> Result<Response, ApiError> {
    Ok(json(&ModeBody { mode: ctx.registry.delete_mode(&subject).await? }))
}

/// Reads `{"mode": ...}`; a missing or unknown mode is 422 / 42204.
fn mode_update(body: Value) -> Result<Mode, ApiError> {
    let Value::Object(fields) = body else {
        return Err(ApiError::bad_request("A mode update is a JSON object such as {\"mode\": \"READONLY\"}"));
    };
    match fields.get("mode") {
        Some(Value::String(mode)) => mode.parse::<Mode>().map_err(ApiError::invalid_mode),
        other => Err(ApiError::invalid_mode(format!(
            "Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and IMPORT; got {}",
            other.map_or_else(|| "no `mode`".to_string(), Value::to_string)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_or_answer_42204() {
        assert_eq!(mode_update(serde_json::json!({"mode": "import"})).unwrap(), Mode::Import);
        for bad in [serde_json::json!({"mode": "WRITEONLY"}), serde_json::json!({"mode": 1}), serde_json::json!({})] {
            assert_eq!(mode_update(bad).unwrap_err().error_code, 42204);
        }
    }
}
