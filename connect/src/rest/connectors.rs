//! `/connectors` and one connector's resources: create, info, config (GET, PUT, PATCH), delete, status,
//! pause / resume / stop, restart, and active topics; Connect's `ConnectorsResource`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::body::{config, config_entries, json, kind, ok, wrong_shape, JsonBody, Params};
use super::Ctx;
use crate::connector::Config;
use crate::error::ApiError;
use crate::runtime::herder::{ConnectorInfo, ConnectorStateInfo, TargetState, Upserted};

/// The config key holding a connector's name.
const NAME: &str = "name";

/// What `?expand=` adds for one connector in `GET /connectors?expand=...`.
#[derive(Debug, Default, Serialize)]
struct Expanded {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<ConnectorStateInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    info: Option<ConnectorInfo>,
}

/// `GET /connectors`: the names, or with `?expand=status` / `?expand=info` (repeatable) a map from name to
/// the expansions asked for. A connector deleted while the answer is built is left out, as in Connect.
pub(crate) async fn list(State(herder): State<Ctx>, params: Params) -> Response {
    let names = herder.connectors().await;
    if !params.has("expand") {
        return ok(&names);
    }
    let (want_status, want_info) =
        (params.all("expand").any(|e| e == "status"), params.all("expand").any(|e| e == "info"));
    let mut out = BTreeMap::new();
    for name in names {
        let mut expanded = Expanded::default();
        if want_status {
            match herder.connector_status(&name).await {
                Ok(status) => expanded.status = Some(status),
                Err(e) if e.error_code == 404 => continue,
                Err(e) => return e.into_response(),
            }
        }
        if want_info {
            match herder.connector_info(&name).await {
                Ok(info) => expanded.info = Some(info),
                Err(e) if e.error_code == 404 => continue,
                Err(e) => return e.into_response(),
            }
        }
        out.insert(name, expanded);
    }
    ok(&out)
}

/// `POST /connectors` with `{"name", "config", "initial_state"?}`: 201 with the new connector, 409 when the
/// name is taken.
pub(crate) async fn create(State(herder): State<Ctx>, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    let Value::Object(mut request) = body else {
        return Err(wrong_shape(format!("expected an object with `name` and `config`, got {}", kind(&body))));
    };
    // Connect trims the name and reads a missing one as empty, so the name checks below answer it.
    let name = match request.remove("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(name)) => name.trim().to_string(),
        Some(other) => return Err(wrong_shape(format!("`name` must be a string, got {}", kind(&other)))),
    };
    let mut connector_config = match request.remove("config") {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request(
                "The request has no `config`: send {\"name\": ..., \"config\": {\"connector.class\": ..., ...}}",
            ))
        }
        Some(value) => config(value)?,
    };
    let initial_state = match request.remove("initial_state") {
        None | Some(Value::Null) => None,
        Some(Value::String(state)) => Some(initial_state(&state)?),
        Some(other) => return Err(wrong_shape(format!("`initial_state` must be a string, got {}", kind(&other)))),
    };
    check_and_put_name(&name, &mut connector_config)?;
    check_name(&name)?;
    let upserted = herder.put_connector_config(&name, connector_config, initial_state, true).await?;
    Ok(created(&name, &upserted.info))
}

/// `initial_state` of a create request: RUNNING, PAUSED or STOPPED, in any case as Connect reads it.
fn initial_state(text: &str) -> Result<TargetState, ApiError> {
    match text.to_ascii_uppercase().as_str() {
        "RUNNING" => Ok(TargetState::Started),
        "PAUSED" => Ok(TargetState::Paused),
        "STOPPED" => Ok(TargetState::Stopped),
        _ => Err(wrong_shape(format!("`initial_state` is `{text}`; it must be RUNNING, PAUSED or STOPPED"))),
    }
}

/// Connect's `checkAndPutConnectorConfigName`: a `name` in the config must be the connector's name; a config
/// without one gets it.
fn check_and_put_name(name: &str, config: &mut Config) -> Result<(), ApiError> {
    match config.get(NAME) {
        Some(included) if included != name => Err(ApiError::bad_request(format!(
            "Connector name configuration ({included}) doesn't match connector name in the URL ({name})"
        ))),
        Some(_) => Ok(()),
        None => {
            config.insert(NAME.to_string(), name.to_string());
            Ok(())
        }
    }
}

/// The rule Connect's `name` setting enforces: not empty, no control characters.
fn check_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::bad_request(
            "Connector name is empty: give the connector a `name` (in the request body, or in the URL of \
             PUT /connectors/{name}/config)",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "Connector name {name:?} contains control characters; choose a name without them"
        )));
    }
    Ok(())
}

/// A 201 answer for a new connector, with its `Location`.
fn created(name: &str, info: &ConnectorInfo) -> Response {
    let mut response = json(StatusCode::CREATED, info);
    if let Ok(location) = HeaderValue::from_str(&format!("/connectors/{}", encode_segment(name))) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// Percent-encodes a connector name for use as one path segment.
fn encode_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `GET /connectors/{name}`.
pub(crate) async fn info(State(herder): State<Ctx>, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(ok(&herder.connector_info(&name).await?))
}

/// `GET /connectors/{name}/config`.
pub(crate) async fn config_of(State(herder): State<Ctx>, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(ok(&herder.connector_config(&name).await?))
}

/// `PUT /connectors/{name}/config`: creates (201) or replaces (200) the connector's config.
pub(crate) async fn put_config(
    State(herder): State<Ctx>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut connector_config = config(body)?;
    check_and_put_name(&name, &mut connector_config)?;
    check_name(&name)?;
    let upserted = herder.put_connector_config(&name, connector_config, None, false).await?;
    Ok(upserted_answer(&name, &upserted))
}

fn upserted_answer(name: &str, upserted: &Upserted) -> Response {
    if upserted.created {
        created(name, &upserted.info)
    } else {
        ok(&upserted.info)
    }
}

/// `PATCH /connectors/{name}/config`: merges the body into the existing config (a `null` value removes the
/// key) and answers 200 with the connector; 404 when there is no such connector.
pub(crate) async fn patch_config(
    State(herder): State<Ctx>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let patch = config_entries(body)?;
    let mut merged = herder.connector_config(&name).await?;
    for (key, value) in patch {
        match value {
            Some(value) => merged.insert(key, value),
            None => merged.remove(&key),
        };
    }
    check_and_put_name(&name, &mut merged)?;
    let upserted = herder.put_connector_config(&name, merged, None, false).await?;
    Ok(ok(&upserted.info))
}

/// `DELETE /connectors/{name}`: 204.
pub(crate) async fn delete(State(herder): State<Ctx>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    herder.delete_connector(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /connectors/{name}/status`.
pub(crate) async fn status(State(herder): State<Ctx>, Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(ok(&herder.connector_status(&name).await?))
}

/// `POST /connectors/{name}/restart?includeTasks=&onlyFailed=`: with neither flag, the connector alone and
/// 204; otherwise 202 with the instances being restarted.
pub(crate) async fn restart(
    State(herder): State<Ctx>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let answer = herder.restart_connector(&name, params.flag("includeTasks"), params.flag("onlyFailed")).await?;
    Ok(match answer {
        Some(status) => json(StatusCode::ACCEPTED, &status),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// `PUT /connectors/{name}/pause`: 202.
pub(crate) async fn pause(State(herder): State<Ctx>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    herder.set_target_state(&name, TargetState::Paused).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{name}/resume`: 202.
pub(crate) async fn resume(State(herder): State<Ctx>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    herder.set_target_state(&name, TargetState::Started).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{name}/stop`: 204.
pub(crate) async fn stop(State(herder): State<Ctx>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    herder.set_target_state(&name, TargetState::Stopped).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Connect's `ActiveTopicsInfo`, keyed by connector name in the answer.
#[derive(Debug, Serialize)]
struct ActiveTopics {
    topics: Vec<String>,
}

/// `GET /connectors/{name}/topics`: `{"<name>": {"topics": [...]}}`.
pub(crate) async fn topics(State(herder): State<Ctx>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let topics = herder.connector_topics(&name).await?;
    Ok(ok(&BTreeMap::from([(name, ActiveTopics { topics })])))
}

/// `PUT /connectors/{name}/topics/reset`: 202.
pub(crate) async fn reset_topics(State(herder): State<Ctx>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    herder.reset_connector_topics(&name).await?;
    Ok(StatusCode::ACCEPTED)
}
