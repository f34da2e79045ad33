//! Connector config validation for the herder: the settings every connector has ([`crate::config`]'s common
//! source or sink definitions), the connector's own definitions and cross-setting checks, answered as Kafka
//! Connect's `ConfigInfos` with per-field errors; and Kafka's 400 message when a config with errors is put.

use crate::config::{common_sink_def, common_source_def, sink_topic_errors, to_config_infos};
use crate::connector::{Config, ConnectorType, Plugin};
use crate::error::ApiError;
use crate::runtime::herder::ConfigInfos;
use crate::runtime::topic_creation;

/// What every worker checks before it stores a connector config, with Kafka's 400 messages: the config's
/// `name` matches the one in the URL (it is filled in when absent), a connector class is named and known, and
/// the config validates. Returns the config to store.
pub(crate) fn checked_config(name: &str, mut config: Config) -> Result<Config, ApiError> {
    match config.get("name") {
        Some(included) if included != name => {
            return Err(ApiError::bad_request(format!(
                "Connector name configuration ({included}) doesn't match connector name in the URL ({name})"
            )))
        }
        Some(_) => {}
        None => {
            config.insert("name".into(), name.to_string());
        }
    }
    if !config.contains_key("connector.class") {
        let entries: Vec<String> = config.iter().map(|(k, v)| format!("{k}={v}")).collect();
        return Err(ApiError::bad_request(format!(
            "Connector config {{{}}} contains no connector type",
            entries.join(", ")
        )));
    }
    let plugin = super::plugin_for(&config).map_err(ApiError::bad_request)?;
    let infos = validate(plugin.as_ref(), &config);
    if infos.error_count > 0 {
        return Err(ApiError::bad_request(invalid_message(&infos)));
    }
    Ok(config)
}

/// `tasks.max` as a number of tasks, or Kafka's message for a bad value.
pub(crate) fn tasks_max(config: &Config) -> Result<usize, String> {
    let Some(raw) = config.get("tasks.max") else { return Ok(1) };
    let n: i64 = raw
        .trim()
        .parse()
        .map_err(|_| format!("Invalid value {raw} for configuration tasks.max: Not a number of type INT"))?;
    if n < 1 {
        return Err(format!("Invalid value {n} for configuration tasks.max: Value must be at least 1"));
    }
    usize::try_from(n).map_err(|_| format!("Invalid value {n} for configuration tasks.max: too large"))
}

/// Validates `config` for `plugin`: the common settings of its type, its own settings, the sink topic checks
/// and the connector's own cross-setting checks.
pub(crate) fn validate(plugin: &dyn Plugin, config: &Config) -> ConfigInfos {
    let connector = plugin.connector();
    let (common, mut extra) = match connector.connector_type() {
        // `topic.creation.*` keys depend on the groups the config names (Kafka's enriched source config).
        ConnectorType::Source => (common_source_def().merge(&topic_creation::config_def(config)), Vec::new()),
        ConnectorType::Sink => (common_sink_def(), sink_topic_errors(config)),
    };
    extra.extend(connector.validate(config));
    to_config_infos(plugin.class(), &[&common, &connector.config_def()], config, extra)
}

/// Kafka Connect's 400 message for a config with errors.
pub(crate) fn invalid_message(infos: &ConfigInfos) -> String {
    let mut message =
        format!("Connector configuration is invalid and contains the following {} error(s):", infos.error_count);
    for error in infos.configs.iter().flat_map(|c| &c.value.errors) {
        message.push('\n');
        message.push_str(error);
    }
    message.push_str(
        "\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`",
    );
    message
}
