//! What the standalone and the distributed herders answer alike once each has looked up its connector: the
//! offsets API (the STOPPED check, the source/sink dispatch, the sink's client settings), plugin validation
//! and the log levels. Each herder finds the connector in its own store and calls these, so both modes give
//! the same answers and error messages; the work itself is in `standalone::{offsets, validate, loggers}`.

use std::collections::BTreeMap;

use super::herder::{ConfigInfos, ConnectorOffsets, TargetState};
use super::standalone::loggers::LogLevels;
use super::standalone::{offsets, plugin_for, validate};
use super::task::OffsetStore;
use super::worker_config::WorkerConfig;
use crate::connector::{Config, ConnectorType};
use crate::error::ApiError;

/// Where a worker keeps offsets: its settings (the Kafka cluster holding sinks' consumer groups, the clients'
/// settings) and its store of source offsets.
pub(crate) struct OffsetHome<'a> {
    pub(crate) worker: &'a WorkerConfig,
    pub(crate) store: &'a dyn OffsetStore,
}

/// One connector as its herder knows it: what the offsets API needs.
pub(crate) struct ConnectorEntry<'a> {
    pub(crate) name: &'a str,
    pub(crate) config: Config,
    pub(crate) target: TargetState,
    /// `None` when the connector's class is unknown.
    pub(crate) connector_type: Option<ConnectorType>,
}

impl ConnectorEntry<'_> {
    /// The connector's type, which offsets need; a connector whose class is unknown has none.
    fn known_type(&self) -> Result<ConnectorType, ApiError> {
        self.connector_type.ok_or_else(|| {
            ApiError::bad_request(format!(
                "Connector {} names no known connector class, so it has no offsets",
                self.name
            ))
        })
    }
}

/// Client settings for the offsets API of a sink: the worker's consumer settings, then the connector's
/// `consumer.override.*` (except the group, which is always the connector's).
fn sink_client_settings(worker: &WorkerConfig, config: &Config) -> BTreeMap<String, String> {
    let mut settings = worker.consumer_config();
    for (key, value) in config {
        if let Some(key) = key.strip_prefix("consumer.override.") {
            if key != "group.id" {
                settings.insert(key.to_string(), value.clone());
            }
        }
    }
    settings
}

/// `GET /connectors/{name}/offsets`: a source's offsets from the store, a sink's from its consumer group.
pub(crate) async fn offsets(home: OffsetHome<'_>, connector: ConnectorEntry<'_>) -> Result<ConnectorOffsets, ApiError> {
    match connector.known_type()? {
        ConnectorType::Source => offsets::source_offsets(home.store, connector.name).await,
        ConnectorType::Sink => {
            let settings = sink_client_settings(home.worker, &connector.config);
            let group = offsets::sink_group(connector.name, &connector.config);
            let bootstrap = home.worker.bootstrap_servers.clone();
            offsets::sink_offsets(bootstrap, settings, group, connector.config).await
        }
    }
}

/// `PATCH /connectors/{name}/offsets` (`reset` false) and `DELETE /connectors/{name}/offsets` (`reset` true):
/// only for a STOPPED connector, as Kafka requires; answers Kafka's success message.
pub(crate) async fn alter_offsets(
    home: OffsetHome<'_>,
    connector: ConnectorEntry<'_>,
    offsets: ConnectorOffsets,
    reset: bool,
) -> Result<String, ApiError> {
    let name = connector.name;
    if connector.target != TargetState::Stopped {
        return Err(ApiError::bad_request(format!(
            "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for \
             the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
        )));
    }
    if !reset && offsets.offsets.is_empty() {
        return Err(ApiError::bad_request(
            "No offsets to alter: send {\"offsets\": [{\"partition\": {...}, \"offset\": {...}}, ...]}",
        ));
    }
    let config = &connector.config;
    let bootstrap = home.worker.bootstrap_servers.clone();
    match (connector.known_type()?, reset) {
        (ConnectorType::Source, _) => offsets::alter_source(home.store, name, offsets, reset).await?,
        (ConnectorType::Sink, false) => {
            let group = offsets::sink_group(name, config);
            offsets::alter_sink(bootstrap, sink_client_settings(home.worker, config), group, offsets).await?
        }
        (ConnectorType::Sink, true) => {
            let group = offsets::sink_group(name, config);
            let mut settings = home.worker.admin_config();
            settings.extend(sink_client_settings(home.worker, config));
            offsets::reset_sink(bootstrap, settings, group).await?
        }
    }
    tracing::info!(connector = %name, reset, "connector offsets changed");
    Ok(if reset { offsets::RESET } else { offsets::ALTERED }.to_string())
}

/// `PUT /connector-plugins/{plugin}/config/validate`: 404 for an unknown plugin.
pub(crate) fn validate(plugin: &str, config: &Config) -> Result<ConfigInfos, ApiError> {
    let probe = Config::from([("connector.class".to_string(), plugin.to_string())]);
    let plugin = plugin_for(&probe).map_err(ApiError::not_found)?;
    Ok(validate::validate(plugin.as_ref(), config))
}

/// `GET /admin/loggers`.
pub(crate) fn loggers(levels: &LogLevels) -> BTreeMap<String, String> {
    levels.levels()
}

/// `PUT /admin/loggers/{name}`: answers the loggers whose level changed.
pub(crate) fn set_logger(levels: &LogLevels, name: &str, level: &str) -> Result<Vec<String>, ApiError> {
    let changed = levels.set(name, level)?;
    tracing::info!(logger = %name, %level, "log level changed");
    Ok(changed)
}
