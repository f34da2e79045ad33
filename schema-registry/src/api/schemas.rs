//! `/schemas`: schemas by id (with their raw text, subjects and versions), the schema types, and a listing of
//! every subject version.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;

use super::body::{json, schema_id, text, Params, PathParams};
use super::ApiContext;
use crate::error::ApiError;
use crate::registry::VersionSpec;
use crate::types::SchemaType;

/// `GET /schemas/ids/{id}?subject=&format=`.
pub async fn by_id(
    State(ctx): State<Arc<ApiContext>>,
    PathParams(id): PathParams<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let mut found = ctx.registry.schema_by_id(schema_id(&id)?, params.get("subject"))?;
    found.schema = ctx.registry.formatted(found.schema_type, found.schema, &found.references, params.get("format"))?;
    Ok(json(&found))
}

/// `GET /schemas/ids/{id}/schema?subject=&format=`: the schema's text alone.
pub async fn by_id_text(
    State(ctx): State<Arc<ApiContext>>,
    PathParams(id): PathParams<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let found = ctx.registry.schema_by_id(schema_id(&id)?, params.get("subject"))?;
    Ok(text(ctx.registry.formatted(found.schema_type, found.schema, &found.references, params.get("format"))?))
}

/// `GET /schemas/ids/{id}/subjects?deleted=`.
pub async fn subjects(
    State(ctx): State<Arc<ApiContext>>,
    PathParams(id): PathParams<String>,
    params: Params,
) -> Result<Response, ApiError> {
    Ok(json(&ctx.registry.subjects_by_id(schema_id(&id)?, params.flag("deleted"))?))
}

/// `GET /schemas/ids/{id}/versions?deleted=`: `[{"subject", "version"}]`.
pub async fn versions(
    State(ctx): State<Arc<ApiContext>>,
    PathParams(id): PathParams<String>,
    params: Params,
) -> Result<Response, ApiError> {
    Ok(json(&ctx.registry.versions_by_id(schema_id(&id)?, params.flag("deleted"))?))
}

/// `GET /schemas/types`.
pub async fn types() -> Response {
    json(&SchemaType::ALL.map(SchemaType::as_str))
}

/// `GET /schemas?subjectPrefix=&deleted=&latestOnly=&offset=&limit=`: every matching subject version, by
/// subject then version.
pub async fn list(State(ctx): State<Arc<ApiContext>>, params: Params) -> Result<Response, ApiError> {
    let deleted = params.flag("deleted");
    let latest_only = params.flag("latestOnly");
    let offset = params.get("offset").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    // Confluent's default and its meaning of a negative limit: everything.
    let limit = params.get("limit").and_then(|v| usize::try_from(v.parse::<i64>().ok()?).ok());
    let mut found = Vec::new();
    for subject in ctx.registry.subjects(params.get("subjectPrefix"), deleted) {
        // A subject can lose its versions between the two reads; it is then left out.
        let Ok(mut versions) = ctx.registry.versions(&subject, deleted) else { continue };
        if latest_only {
            versions = versions.last().copied().into_iter().collect();
        }
        for version in versions {
            if let Ok(v) = ctx.registry.version(&subject, VersionSpec::Number(version), deleted) {
                found.push(v);
            }
        }
    }
    let page: Vec<_> = found.into_iter().skip(offset).take(limit.unwrap_or(usize::MAX)).collect();
    Ok(json(&page))
}
