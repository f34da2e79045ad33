//! `/` (a liveness check answering `{}`) and `/v1/metadata/*` (who this registry is).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::json as value;

use super::body::json;
use super::ApiContext;

/// `GET /` and `POST /`: `{}`.
pub async fn root() -> Response {
    json(&value!({}))
}

/// `GET /v1/metadata/id`: Confluent's cluster id answer. The registry cluster is named by its election group;
/// the Kafka cluster id is not known to the REST layer and left empty.
pub async fn metadata_id(State(ctx): State<Arc<ApiContext>>) -> Response {
    json(&value!({
        "id": "",
        "scope": {
            "path": [],
            "clusters": { "kafka-cluster": "", "schema-registry-cluster": ctx.config.group_id },
        },
    }))
}

/// `GET /v1/metadata/version`.
pub async fn metadata_version() -> Response {
    json(&value!({ "version": env!("CARGO_PKG_VERSION"), "commitId": "" }))
}
