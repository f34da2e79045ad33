//! Reading and replacing a topic's config overrides in either mode, for AlterConfigs and
//! IncrementalAlterConfigs: cluster mode reads the image and proposes the whole validated set to the controller
//! (every broker then applies it to its logs); a single broker uses its registry.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError;

use super::admin::{self, Refusal};
use crate::config::TopicConfig;
use crate::controller::MetadataCommand;
use crate::server::Shared;

/// The topic's current overrides.
pub(crate) fn overrides(shared: &Shared, name: &str) -> Result<BTreeMap<String, String>, Refusal> {
    let found = match &shared.controller {
        Some(controller) => controller.image().topics.get(name).map(|t| t.configs.clone()),
        None => shared.topics.get(name).map(|t| t.overrides()),
    };
    found.ok_or_else(|| (ResponseError::UnknownTopicOrPartition, format!("topic {name:?} does not exist")))
}

/// Replaces the topic's overrides with `configs` (checked first; with `validate_only` nothing changes).
pub(crate) async fn replace(
    shared: &Shared,
    name: &str,
    configs: BTreeMap<String, String>,
    validate_only: bool,
) -> Result<(), Refusal> {
    let Some(controller) = &shared.controller else {
        return shared.topics.set_overrides(name, configs, validate_only).await.map_err(|e| (e.code, e.message));
    };
    overrides(shared, name)?;
    TopicConfig::from_overrides(shared.topics.broker_defaults(), &configs)
        .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
    if validate_only {
        return Ok(());
    }
    admin::propose_simple(controller, MetadataCommand::AlterTopicConfigs { name: name.to_string(), configs }).await?;
    tracing::info!(topic = name, "altered topic configs through the controller");
    Ok(())
}
