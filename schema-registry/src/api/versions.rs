//! `/subjects/{subject}/versions`: registering schemas, listing and reading versions (and their raw schema text
//! and referrers), and deleting a version.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use super::body::{json, schema_request, text, Params, PathParams};
use super::forward::Write;
use super::ApiContext;
use crate::error::ApiError;
use crate::registry::VersionSpec;

/// The answer of a registration.
#[derive(Debug, Serialize)]
struct Registered {
    id: i32,
}

/// `GET /subjects/{subject}/versions?deleted=&deletedOnly=`.
pub async fn list(
    State(ctx): State<Arc<ApiContext>>,
    PathParams(subject): PathParams<String>,
    params: Params,
) -> Result<Response, ApiError> {
    if params.flag("deletedOnly") {
        let mut all = ctx.registry.versions(&subject, true)?;
        let live = ctx.registry.versions(&subject, false).unwrap_or_default();
        all.retain(|v| !live.contains(v));
        return Ok(json(&all));
    }
    Ok(json(&ctx.registry.versions(&subject, params.flag("deleted"))?))
}

/// `POST /subjects/{subject}/versions?normalize=`: `{"id": N}`, the same id for the same schema.
pub async fn register(
    State(ctx): State<Arc<ApiContext>>,
    PathParams(subject): PathParams<String>,
    params: Params,
    write: Write,
) -> Result<Response, ApiError> {
    let request = schema_request(write.json()?)?;
    let id = ctx.registry.register(&subject, request, params.flag("normalize")).await?;
    Ok(json(&Registered { id }))
}

/// `GET /subjects/{subject}/versions/{version}?deleted=`.
pub async fn get(
    State(ctx): State<Arc<ApiContext>>,
    PathParams((subject, version)): PathParams<(String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    let version = VersionSpec::parse(&version)?;
    let mut found = ctx.registry.version(&subject, version, params.flag("deleted"))?;
    found.schema = ctx.registry.formatted(found.schema_type, found.schema, &found.references, params.get("format"))?;
    Ok(json(&found))
}

/// `GET /subjects/{subject}/versions/{version}/schema?deleted=`: the schema's text alone.
pub async fn schema(
    State(ctx): State<Arc<ApiContext>>,
    PathParams((subject, version)): PathParams<(String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    let version = VersionSpec::parse(&version)?;
    let found = ctx.registry.version(&subject, version, params.flag("deleted"))?;
    Ok(text(ctx.registry.formatted(found.schema_type, found.schema, &found.references, params.get("format"))?))
}

/// `GET /subjects/{subject}/versions/{version}/referencedby`: ids of the schemas referencing this version.
pub async fn referenced_by(
    State(ctx): State<Arc<ApiContext>>,
    PathParams((subject, version)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let version = VersionSpec::parse(&version)?;
    Ok(json(&ctx.registry.referenced_by(&subject, version)?))
}

/// `DELETE /subjects/{subject}/versions/{version}?permanent=`: the version deleted.
pub async fn delete(
    State(ctx): State<Arc<ApiContext>>,
    PathParams((subject, version)): PathParams<(String, String)>,
    params: Params,
    _write: Write,
) -> Result<Response, ApiError> {
    let version = VersionSpec::parse(&version)?;
    Ok(json(&ctx.registry.delete_version(&subject, version, params.flag("permanent")).await?))
}
