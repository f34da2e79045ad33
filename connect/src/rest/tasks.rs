//! One connector's tasks: their configs, a task's status and restarting a task.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::body::ok;
use super::errors::jersey_message;
use super::Ctx;
use crate::error::ApiError;

/// Reads a task id from the path; one that is not a number names no resource, so 404 as in Connect (JAX-RS
/// answers an unconvertible path parameter with 404).
fn task_id(text: &str) -> Result<usize, ApiError> {
    text.parse().map_err(|_| ApiError::not_found(jersey_message(StatusCode::NOT_FOUND)))
}

/// `GET /connectors/{name}/tasks`: each task's id and config.
pub(crate) async fn list(State(herder): State<Ctx>, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(ok(&herder.task_infos(&name).await?))
}

/// `GET /connectors/{name}/tasks/{task}/status`.
pub(crate) async fn status(
    State(herder): State<Ctx>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(ok(&herder.task_status(&name, task_id(&task)?).await?))
}

/// `POST /connectors/{name}/tasks/{task}/restart`: 204.
pub(crate) async fn restart(
    State(herder): State<Ctx>,
    Path((name, task)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    herder.restart_task(&name, task_id(&task)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
