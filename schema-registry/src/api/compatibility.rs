//! `/compatibility`: whether a schema could be registered under a subject, without registering it. A read, so
//! it is answered by any instance.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;

use super::body::{json, schema_request, JsonBody, Params, PathParams};
use super::ApiContext;
use crate::error::ApiError;
use crate::registry::VersionSpec;

/// `POST /compatibility/subjects/{subject}/versions?verbose=&normalize=`: against the versions the subject's
/// level names.
pub async fn check_all(
    State(ctx): State<Arc<ApiContext>>,
    PathParams(subject): PathParams<String>,
    params: Params,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    check(&ctx, &subject, None, &params, body)
}

/// `POST /compatibility/subjects/{subject}/versions/{version}?verbose=&normalize=`: against one version.
pub async fn check_version(
    State(ctx): State<Arc<ApiContext>>,
    PathParams((subject, version)): PathParams<(String, String)>,
    params: Params,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let version = VersionSpec::parse(&version)?;
    check(&ctx, &subject, Some(version), &params, body)
}

fn check(
    ctx: &ApiContext,
    subject: &str,
    version: Option<VersionSpec>,
    params: &Params,
    body: serde_json::Value,
) -> Result<Response, ApiError> {
    let request = schema_request(body)?;
    let result = ctx.registry.check_compatibility(
        subject,
        version,
        &request,
        params.flag("normalize"),
        params.flag("verbose"),
    )?;
    Ok(json(&result))
}
