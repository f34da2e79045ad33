//! `/connector-plugins`: the installed connector plugins, a plugin's config definition, and config validation
//! with per-field errors (Connect's `ConnectorPluginsResource`).

use axum::extract::{Path, State};
use axum::response::Response;

use super::body::{config, ok, JsonBody};
use super::Ctx;
use crate::connector::Config;
use crate::error::ApiError;
use crate::runtime::herder::ConfigKeyInfo;

/// The config key naming a connector's plugin.
const CONNECTOR_CLASS: &str = "connector.class";

/// `GET /connector-plugins`. Connect's `?connectorsOnly=false` adds transforms, predicates and converters; the
/// herder lists connector plugins only, so the parameter changes nothing here.
pub(crate) async fn list(State(herder): State<Ctx>) -> Response {
    ok(&herder.plugins())
}

/// `GET /connector-plugins/{plugin}/config`: the definitions of the settings the plugin takes, as the herder's
/// validation of an otherwise empty config reports them.
pub(crate) async fn config_def(State(herder): State<Ctx>, Path(plugin): Path<String>) -> Result<Response, ApiError> {
    let probe = Config::from([(CONNECTOR_CLASS.to_string(), plugin.clone())]);
    let infos = herder.validate(&plugin, &probe)?;
    let definitions: Vec<ConfigKeyInfo> = infos.configs.into_iter().map(|c| c.definition).collect();
    Ok(ok(&definitions))
}

/// `PUT /connector-plugins/{plugin}/config/validate`: 200 with every setting's errors, even when there are
/// some; 400 when the body names no `connector.class` or one that is not `{plugin}`.
pub(crate) async fn validate(
    State(herder): State<Ctx>,
    Path(plugin): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let connector_config = config(body)?;
    let Some(class) = connector_config.get(CONNECTOR_CLASS) else {
        return Err(ApiError::bad_request(format!(
            "Connector config {} contains no connector type",
            java_map(&connector_config)
        )));
    };
    if !normalized(class).ends_with(normalized(&plugin)) {
        return Err(ApiError::bad_request(format!(
            "Included connector type {class} does not match request type {plugin}"
        )));
    }
    Ok(ok(&herder.validate(class, &connector_config)?))
}

/// A plugin name without its `Connector` suffix, so that a class name, a simple name and an alias compare
/// (`org.example.FileSinkConnector` ends with `FileSink`).
fn normalized(name: &str) -> &str {
    match name.strip_suffix("Connector") {
        Some(stem) if !stem.is_empty() => stem,
        _ => name,
    }
}

/// A config as Java prints a map, `{k1=v1, k2=v2}`, as Connect's message shows it.
fn java_map(config: &Config) -> String {
    let entries: Vec<String> = config.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", entries.join(", "))
}
