//! `/connectors/{name}/offsets`: read, alter (PATCH) and reset (DELETE) a connector's offsets; altering and
//! resetting need the connector STOPPED, which the herder checks (400 otherwise).

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use super::body::{kind, ok, wrong_shape, JsonBody};
use super::Ctx;
use crate::error::ApiError;
use crate::runtime::herder::{ConnectorOffsets, PartitionOffset};

/// Connect's `Message`: the answer of PATCH and DELETE.
#[derive(Debug, Serialize)]
struct Message {
    message: String,
}

/// `GET /connectors/{name}/offsets`.
pub(crate) async fn get(State(herder): State<Ctx>, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(ok(&herder.offsets(&name).await?))
}

/// `PATCH /connectors/{name}/offsets` with `{"offsets": [{"partition": {...}, "offset": {...} | null}]}`.
pub(crate) async fn alter(
    State(herder): State<Ctx>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let offsets = match body {
        Value::Object(mut map) => match map.remove("offsets") {
            None | Some(Value::Null) => Vec::new(),
            Some(list) => serde_json::from_value::<Vec<PartitionOffset>>(list).map_err(wrong_shape)?,
        },
        other => return Err(wrong_shape(format!("expected an object with `offsets`, got {}", kind(&other)))),
    };
    if offsets.is_empty() {
        return Err(ApiError::bad_request("Partitions / offsets need to be provided for an alter offsets request"));
    }
    let message = herder.alter_offsets(&name, ConnectorOffsets { offsets }, false).await?;
    Ok(ok(&Message { message }))
}

/// `DELETE /connectors/{name}/offsets`.
pub(crate) async fn reset(State(herder): State<Ctx>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let message = herder.alter_offsets(&name, ConnectorOffsets::default(), true).await?;
    Ok(ok(&Message { message }))
}
