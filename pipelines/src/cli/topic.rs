//! `sluice topic ...`: topic administration through the Kafka admin API (rdkafka's `AdminClient`), so it
//! works against any Kafka-compatible cluster.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgGroup, Args, Subcommand};
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigSource, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication,
    TopicResult,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::client::{self, ClientArgs};
use super::emit;
use super::table::Table;

/// How long the cluster may take to carry out an admin operation before we give up waiting.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub(crate) struct TopicArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    #[command(subcommand)]
    pub(crate) command: TopicCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TopicCommand {
    /// Create a topic.
    Create {
        /// Name of the topic to create.
        name: String,
        /// Number of partitions; the broker's default (`num_partitions`) when omitted.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
        partitions: Option<i32>,
        /// Copies of each partition; the broker's default when omitted.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
        replication_factor: Option<i32>,
        /// Topic config override, e.g. `--config retention.ms=3600000`; repeatable.
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = client::parse_key_value)]
        configs: Vec<(String, String)>,
    },
    /// List topics and their partition counts.
    List,
    /// Show a topic's partitions (leader, replicas, in-sync replicas) and its configs with their source.
    Describe {
        /// Name of the topic to describe.
        name: String,
    },
    /// Add partitions to a topic or change its config overrides.
    #[command(group(
        ArgGroup::new("change").required(true).multiple(true).args(["partitions", "configs", "delete_configs"])
    ))]
    Alter {
        /// Name of the topic to alter.
        name: String,
        /// New total partition count; must exceed the current one (partitions cannot be removed).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
        partitions: Option<i32>,
        /// Set a config override, e.g. `--config cleanup.policy=compact`; repeatable.
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = client::parse_key_value)]
        configs: Vec<(String, String)>,
        /// Remove a config override so the broker default applies again; repeatable.
        #[arg(long = "delete-config", value_name = "KEY")]
        delete_configs: Vec<String>,
    },
    /// Delete a topic and all its records.
    Delete {
        /// Name of the topic to delete.
        name: String,
    },
}

pub(crate) async fn run(args: TopicArgs) -> anyhow::Result<ExitCode> {
    let admin: AdminClient<DefaultClientContext> = args
        .client
        .client_config(&[])
        .create()
        .context("cannot create the Kafka admin client; check the -X properties")?;
    let options = AdminOptions::new().request_timeout(Some(ADMIN_TIMEOUT)).operation_timeout(Some(ADMIN_TIMEOUT));
    let hint = args.client.reachability_hint();

    match args.command {
        TopicCommand::Create { name, partitions, replication_factor, configs } => {
            // -1 asks the broker for its default, which is what an omitted flag means.
            let mut topic = NewTopic::new(
                &name,
                partitions.unwrap_or(-1),
                TopicReplication::Fixed(replication_factor.unwrap_or(-1)),
            );
            for (key, value) in &configs {
                topic = topic.set(key, value);
            }
            let results = admin
                .create_topics([&topic], &options)
                .await
                .with_context(|| format!("create topic {name:?} failed ({hint})"))?;
            check_topic_results("create topic", results)?;
            emit(format_args!("created topic {name}\n"))?;
        }
        TopicCommand::List => {
            let metadata = client::fetch_all_metadata(admin.inner(), &args.client)?;
            let mut topics: Vec<_> =
                metadata.topics().iter().map(|t| (t.name().to_string(), t.partitions().len())).collect();
            topics.sort();
            let mut table = Table::new(&["TOPIC", "PARTITIONS"]);
            for (name, partitions) in topics {
                table.row(vec![name, partitions.to_string()]);
            }
            emit(table.render())?;
        }
        TopicCommand::Describe { name } => describe(&admin, &options, &args.client, &name).await?,
        TopicCommand::Alter { name, partitions, configs, delete_configs } => {
            // Fail on a misspelt topic before changing anything.
            let metadata = client::fetch_all_metadata(admin.inner(), &args.client)?;
            let current = client::topic_partitions(&metadata, &name)?.len();
            if let Some(count) = partitions {
                if usize::try_from(count).unwrap_or(0) <= current {
                    anyhow::bail!(
                        "topic {name:?} already has {current} partitions; --partitions must be larger \
                         (partitions can be added, never removed)"
                    );
                }
                let new = NewPartitions::new(&name, usize::try_from(count).unwrap_or(0));
                let results = admin
                    .create_partitions([&new], &options)
                    .await
                    .with_context(|| format!("add partitions to {name:?} failed ({hint})"))?;
                check_topic_results("add partitions", results)?;
                emit(format_args!("topic {name} now has {count} partitions\n"))?;
            }
            if !configs.is_empty() || !delete_configs.is_empty() {
                alter_configs(&admin, &options, &hint, &name, &configs, &delete_configs).await?;
            }
        }
        TopicCommand::Delete { name } => {
            let results = admin
                .delete_topics(&[&name], &options)
                .await
                .with_context(|| format!("delete topic {name:?} failed ({hint})"))?;
            check_topic_results("delete topic", results)?;
            emit(format_args!("deleted topic {name}\n"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn describe(
    admin: &AdminClient<DefaultClientContext>,
    options: &AdminOptions,
    client_args: &ClientArgs,
    name: &str,
) -> anyhow::Result<()> {
    let metadata = client::fetch_all_metadata(admin.inner(), client_args)?;
    client::topic_partitions(&metadata, name)?;
    let Some(topic) = metadata.topics().iter().find(|t| t.name() == name) else {
        anyhow::bail!("topic {name:?} does not exist; list topics with `sluice topic list`");
    };
    let mut partitions: Vec<_> = topic.partitions().iter().collect();
    partitions.sort_by_key(|p| p.id());
    emit(format_args!("Topic: {name}  Partitions: {}\n", partitions.len()))?;
    // The ERROR column only appears when a partition has one, keeping the healthy case uncluttered.
    let any_error = partitions.iter().any(|p| p.error().is_some());
    let header: &[&str] = if any_error {
        &["PARTITION", "LEADER", "REPLICAS", "ISR", "ERROR"]
    } else {
        &["PARTITION", "LEADER", "REPLICAS", "ISR"]
    };
    let mut table = Table::new(header);
    for p in partitions {
        let mut row = vec![p.id().to_string(), p.leader().to_string(), join_ids(p.replicas()), join_ids(p.isr())];
        if any_error {
            row.push(p.error().map(|e| RDKafkaErrorCode::from(e).to_string()).unwrap_or_default());
        }
        table.row(row);
    }
    emit(table.render())?;

    let hint = client_args.reachability_hint();
    let results = admin
        .describe_configs([&ResourceSpecifier::Topic(name)], options)
        .await
        .with_context(|| format!("describe configs of {name:?} failed ({hint})"))?;
    emit("\n")?;
    for result in results {
        let resource = result.map_err(|code| anyhow::anyhow!("describe configs of {name:?}: {code}"))?;
        let mut entries: Vec<_> = resource.entries.iter().collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let mut table = Table::new(&["CONFIG", "VALUE", "SOURCE"]);
        for entry in entries {
            let value = match (&entry.value, entry.is_sensitive) {
                (_, true) => "(sensitive)".to_string(),
                (Some(v), false) => v.clone(),
                (None, false) => "(null)".to_string(),
            };
            table.row(vec![entry.name.clone(), value, source_name(&entry.source).to_string()]);
        }
        emit(table.render())?;
    }
    Ok(())
}

/// AlterConfigs replaces a topic's whole override set, so read the current overrides, apply the
/// changes, and send the merged set. (rdkafka offers no IncrementalAlterConfigs; a concurrent change by
/// someone else between the read and the write would be lost.)
async fn alter_configs(
    admin: &AdminClient<DefaultClientContext>,
    options: &AdminOptions,
    hint: &str,
    name: &str,
    set: &[(String, String)],
    delete: &[String],
) -> anyhow::Result<()> {
    let results = admin
        .describe_configs([&ResourceSpecifier::Topic(name)], options)
        .await
        .with_context(|| format!("describe configs of {name:?} failed ({hint})"))?;
    let mut overrides = BTreeMap::new();
    for result in results {
        let resource = result.map_err(|code| anyhow::anyhow!("describe configs of {name:?}: {code}"))?;
        for entry in resource.entries {
            if entry.source == ConfigSource::DynamicTopic {
                if let Some(value) = entry.value {
                    overrides.insert(entry.name, value);
                }
            }
        }
    }
    let merged = merge_overrides(overrides, set, delete);
    for key in &merged.not_overridden {
        eprintln!("note: {key} has no override on topic {name}; nothing to delete");
    }
    let mut alter = AlterConfig::new(ResourceSpecifier::Topic(name));
    for (key, value) in &merged.overrides {
        alter = alter.set(key, value);
    }
    let results = admin
        .alter_configs([&alter], options)
        .await
        .with_context(|| format!("alter configs of {name:?} failed ({hint})"))?;
    for result in results {
        if let Err((_, code)) = result {
            anyhow::bail!("alter configs of {name:?}: {code}{}", error_hint(code));
        }
    }
    emit(format_args!("updated configs of topic {name}\n"))?;
    Ok(())
}

/// The override set after an alter, plus the deletions that named no existing override.
#[derive(Debug, PartialEq)]
struct MergedOverrides {
    overrides: BTreeMap<String, String>,
    not_overridden: Vec<String>,
}

fn merge_overrides(
    mut overrides: BTreeMap<String, String>,
    set: &[(String, String)],
    delete: &[String],
) -> MergedOverrides {
    let mut not_overridden = Vec::new();
    for key in delete {
        if overrides.remove(key).is_none() {
            not_overridden.push(key.clone());
        }
    }
    for (key, value) in set {
        overrides.insert(key.clone(), value.clone());
    }
    MergedOverrides { overrides, not_overridden }
}

/// Turns per-topic failures into one error naming each topic, the Kafka error and what to do.
fn check_topic_results(operation: &str, results: Vec<TopicResult>) -> anyhow::Result<()> {
    let failures: Vec<String> = results
        .into_iter()
        .filter_map(Result::err)
        .map(|(topic, code)| format!("{operation} {topic:?}: {code}{}", error_hint(code)))
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(failures.join("\n"))
    }
}

/// What the user can do about the Kafka errors admin commands commonly meet.
fn error_hint(code: RDKafkaErrorCode) -> &'static str {
    match code {
        RDKafkaErrorCode::TopicAlreadyExists => "; pick another name or delete the topic first",
        RDKafkaErrorCode::UnknownTopicOrPartition => "; list topics with `sluice topic list`",
        RDKafkaErrorCode::InvalidPartitions => {
            "; the partition count must be at least 1 and larger than the current one"
        }
        RDKafkaErrorCode::InvalidReplicationFactor => "; the replication factor cannot exceed the number of brokers",
        RDKafkaErrorCode::InvalidConfig => "; check the config key and value (see `sluice topic describe`)",
        RDKafkaErrorCode::InvalidTopic => "; topic names use letters, digits, '.', '_' and '-', at most 249 characters",
        _ => "",
    }
}

/// The names Kafka's own tools print for a config's source.
fn source_name(source: &ConfigSource) -> &'static str {
    match source {
        ConfigSource::DynamicTopic => "DYNAMIC_TOPIC_CONFIG",
        ConfigSource::DynamicBroker => "DYNAMIC_BROKER_CONFIG",
        ConfigSource::DynamicDefaultBroker => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        ConfigSource::StaticBroker => "STATIC_BROKER_CONFIG",
        ConfigSource::Default => "DEFAULT_CONFIG",
        ConfigSource::Unknown => "UNKNOWN",
    }
}

fn join_ids(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn parse(args: &[&str]) -> Result<TopicArgs, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("sluice").chain(args.iter().copied()))?;
        match cli.command {
            Command::Topic(args) => Ok(args),
            other => panic!("expected topic, got {other:?}"),
        }
    }

    #[test]
    fn create_takes_partitions_and_repeated_configs() {
        let args = parse(&[
            "topic",
            "create",
            "orders",
            "--partitions",
            "3",
            "--config",
            "retention.ms=1000",
            "--config",
            "cleanup.policy=compact",
        ])
        .expect("valid");
        match args.command {
            TopicCommand::Create { name, partitions, replication_factor, configs } => {
                assert_eq!(name, "orders");
                assert_eq!(partitions, Some(3));
                assert_eq!(replication_factor, None);
                assert_eq!(
                    configs,
                    vec![("retention.ms".into(), "1000".into()), ("cleanup.policy".into(), "compact".into())]
                );
            }
            other => panic!("expected create, got {other:?}"),
        }
    }

    #[test]
    fn bootstrap_flag_works_before_and_after_the_subcommand() {
        let before = parse(&["topic", "-b", "h:1", "list"]).expect("valid");
        let after = parse(&["topic", "list", "--bootstrap-server", "h:2", "-X", "debug=all"]).expect("valid");
        assert_eq!(before.client.bootstrap_server, "h:1");
        assert_eq!(after.client.bootstrap_server, "h:2");
        assert_eq!(after.client.extra, vec![("debug".into(), "all".into())]);
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(parse(&["topic", "create", "t", "--partitions", "0"]).is_err());
        assert!(parse(&["topic", "create", "t", "--config", "novalue"]).is_err());
        assert!(parse(&["topic", "alter", "t"]).is_err(), "alter needs at least one change");
        assert!(parse(&["topic", "alter", "t", "--delete-config", "retention.ms"]).is_ok());
    }

    #[test]
    fn merge_applies_deletes_then_sets() {
        let current = BTreeMap::from([("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())]);
        let merged = merge_overrides(current, &[("c".into(), "3".into())], &["a".into(), "z".into()]);
        assert_eq!(
            merged.overrides,
            BTreeMap::from([("b".to_string(), "2".to_string()), ("c".to_string(), "3".to_string())])
        );
        assert_eq!(merged.not_overridden, vec!["z".to_string()]);
    }
}
