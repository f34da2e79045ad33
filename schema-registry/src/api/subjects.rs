//! `/subjects`: listing subjects, looking a schema up in a subject (`POST /subjects/{s}`), deleting a subject.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;

use super::body::{json, schema_request, JsonBody, Params, PathParams};
use super::forward::Write;
use super::ApiContext;
use crate::error::ApiError;

/// `GET /subjects?subjectPrefix=&deleted=&deletedOnly=`.
pub async fn list(State(ctx): State<Arc<ApiContext>>, params: Params) -> Response {
    let prefix = params.get("subjectPrefix");
    if params.flag("deletedOnly") {
        let live = ctx.registry.subjects(prefix, false);
        let mut all = ctx.registry.subjects(prefix, true);
        all.retain(|s| !live.contains(s));
        return json(&all);
    }
    json(&ctx.registry.subjects(prefix, params.flag("deleted")))
}

/// `POST /subjects/{subject}?normalize=&deleted=`: the version of the subject holding this schema. A read.
pub async fn lookup(
    State(ctx): State<Arc<ApiContext>>,
    PathParams(subject): PathParams<String>,
    params: Params,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request = schema_request(body)?;
    let found = ctx.registry.lookup(&subject, &request, params.flag("normalize"), params.flag("deleted"))?;
    Ok(json(&found))
}

/// `DELETE /subjects/{subject}?permanent=`: the versions deleted.
pub async fn delete(
    State(ctx): State<Arc<ApiContext>>,
    PathParams(subject): PathParams<String>,
    params: Params,
    _write: Write,
) -> Result<Response, ApiError> {
    Ok(json(&ctx.registry.delete_subject(&subject, params.flag("permanent")).await?))
}
