//! `/config`: the global and per-subject compatibility level (and default normalization). Reads answer
//! `{"compatibilityLevel": ...}`, updates echo `{"compatibility": ...}`, as Confluent does.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use super::body::{json, Params, PathParams};
use super::forward::Write;
use super::ApiContext;
use crate::error::ApiError;
use crate::store::records::ConfigValue;
use crate::types::CompatibilityLevel;

/// The answer of `PUT /config`: the request's shape, with what is now in force.
#[derive(Debug, Serialize)]
struct ConfigUpdated {
    #[serde(skip_serializing_if = "Option::is_none")]
    compatibility: Option<CompatibilityLevel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    normalize: Option<bool>,
}

/// `GET /config`.
pub async fn get_global(State(ctx): State<Arc<ApiContext>>) -> Result<Response, ApiError> {
    Ok(json(&ctx.registry.config(None, true)?))
}

/// `GET /config/{subject}?defaultToGlobal=`.
pub async fn get_subject(
    State(ctx): State<Arc<ApiContext>>,
    PathParams(subject): PathParams<String>,
    params: Params,
) -> Result<Response, ApiError> {
    Ok(json(&ctx.registry.config(Some(&subject), params.flag("defaultToGlobal"))?))
}

/// `PUT /config` with `{"compatibility": "FULL", "normalize"?: bool}`.
pub async fn put_global(State(ctx): State<Arc<ApiContext>>, write: Write) -> Result<Response, ApiError> {
    put(&ctx, None, &write).await
}

/// `PUT /config/{subject}`.
pub async fn put_subject(
    State(ctx): State<Arc<ApiContext>>,
    PathParams(subject): PathParams<String>,
    write: Write,
) -> Result<Response, ApiError> {
    put(&ctx, Some(&subject), &write).await
}

async fn put(ctx: &ApiContext, subject: Option<&str>, write: &Write) -> Result<Response, ApiError> {
    let update = config_update(write.json()?)?;
    let now = ctx.registry.set_config(subject, update).await?;
    Ok(json(&ConfigUpdated { compatibility: now.compatibility_level, normalize: now.normalize }))
}

/// `DELETE /config`: the global config removed (the instance's default applies again).
pub async fn delete_global(State(ctx): State<Arc<ApiContext>>, _write: Write) -> Result<Response, ApiError> {
    Ok(json(&ctx.registry.delete_config(None).await?))
}

/// `DELETE /config/{subject}`: the subject's config removed.
pub async fn delete_subject(
    State(ctx): State<Arc<ApiContext>>,
    PathParams(subject): PathParams<String>,
    _write: Write,
) -> Result<Response, ApiError> {
    Ok(json(&ctx.registry.delete_config(Some(&subject)).await?))
}

/// Reads a config update. A level that is not one of the seven, or an update naming neither a level nor
/// `normalize`, is 422 / 42203; other fields (Confluent's metadata and rule sets) are ignored.
fn config_update(body: Value) -> Result<ConfigValue, ApiError> {
    let Value::Object(fields) = body else {
        return Err(ApiError::bad_request("A config update is a JSON object such as {\"compatibility\": \"FULL\"}"));
    };
    let compatibility_level = match fields.get("compatibility") {
        None => None,
        Some(Value::String(level)) => Some(level.parse::<CompatibilityLevel>().map_err(ApiError::invalid_compatibility_level)?),
        Some(other) => return Err(ApiError::invalid_compatibility_level(format!(
            "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive; got {other}"
        ))),
    };
    let normalize = match fields.get("normalize") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => return Err(ApiError::bad_request(format!("`normalize` must be true or false; got {other}"))),
    };
    if compatibility_level.is_none() && normalize.is_none() {
        return Err(ApiError::invalid_compatibility_level(
            "Invalid compatibility level: the update names no `compatibility`. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive",
        ));
    }
    Ok(ConfigValue { compatibility_level, normalize })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_name_a_level_or_normalize() {
        let update = config_update(serde_json::json!({"compatibility": "full_transitive"})).unwrap();
        assert_eq!(update.compatibility_level, Some(CompatibilityLevel::FullTransitive));
        assert_eq!(update.normalize, None);
        let update = config_update(serde_json::json!({"normalize": true, "defaultMetadata": {}})).unwrap();
        assert_eq!((update.compatibility_level, update.normalize), (None, Some(true)));
        for bad in [
            serde_json::json!({"compatibility": "SIDEWAYS"}),
            serde_json::json!({"compatibility": 3}),
            serde_json::json!({}),
        ] {
            assert_eq!(config_update(bad).unwrap_err().error_code, 42203);
        }
        assert_eq!(config_update(serde_json::json!(["FULL"])).unwrap_err().error_code, 400);
    }
}
