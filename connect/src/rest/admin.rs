//! `/admin/loggers`: reading and setting log levels at run time (Connect's `LoggingResource`).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::body::{kind, ok, wrong_shape, JsonBody, Params};
use super::Ctx;
use crate::error::ApiError;

/// The levels Connect (log4j) accepts, in any case.
const LEVELS: [&str; 8] = ["OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL"];

/// Connect's `LoggerLevel`; the herder does not track when a level changed, so `last_modified` is null, as
/// Connect answers for a level nobody has set since the worker started.
#[derive(Debug, Serialize)]
struct LoggerLevel {
    level: String,
    last_modified: Option<i64>,
}

impl LoggerLevel {
    fn new(level: String) -> Self {
        Self { level, last_modified: None }
    }
}

/// `GET /admin/loggers`: every logger with an explicit level.
pub(crate) async fn loggers(State(herder): State<Ctx>) -> Response {
    let levels: BTreeMap<String, LoggerLevel> =
        herder.loggers().into_iter().map(|(name, level)| (name, LoggerLevel::new(level))).collect();
    ok(&levels)
}

/// `GET /admin/loggers/{name}`: 404 for a logger the herder does not know.
pub(crate) async fn logger(State(herder): State<Ctx>, Path(name): Path<String>) -> Result<Response, ApiError> {
    match herder.loggers().remove(&name) {
        Some(level) => Ok(ok(&LoggerLevel::new(level))),
        None => Err(ApiError::not_found(format!("Logger {name} not found."))),
    }
}

/// `PUT /admin/loggers/{name}` with `{"level": "DEBUG"}`: 200 with the loggers changed. `?scope=cluster` answers
/// 204 as Connect does (this worker applies it; a distributed herder spreads it); an unknown scope counts as
/// `worker`. A missing level is 400; a level log4j does not know is 404, as in Connect.
pub(crate) async fn set_logger(
    State(herder): State<Ctx>,
    Path(name): Path<String>,
    params: Params,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let Value::Object(mut map) = body else {
        return Err(wrong_shape(format!("expected {{\"level\": ...}}, got {}", kind(&body))));
    };
    let level = match map.remove("level") {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request("Desired 'level' parameter was not specified in request."))
        }
        Some(Value::String(level)) => level,
        Some(other) => return Err(wrong_shape(format!("`level` must be a string, got {}", kind(&other)))),
    };
    let upper = level.to_ascii_uppercase();
    if !LEVELS.contains(&upper.as_str()) {
        return Err(ApiError::not_found(format!("invalid log level '{level}'; use one of {}", LEVELS.join(", "))));
    }
    let changed = herder.set_logger(&name, &upper)?;
    if params.last("scope").is_some_and(|scope| scope.eq_ignore_ascii_case("cluster")) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(ok(&changed))
}
