//! The settings every connector has, as Kafka's `ConnectorConfig` defines them (names, types, defaults, groups
//! and validators), plus the sink-only (`SinkConnectorConfig`) and source-only (`SourceConnectorConfig`) ones.

use super::{ConfigDef, ConfigKey, ConfigType, Importance, TypedValue, Validator, Width};
use crate::connector::Config;
use crate::converters;

pub const NAME: &str = "name";
pub const CONNECTOR_CLASS: &str = "connector.class";
pub const TASKS_MAX: &str = "tasks.max";
pub const KEY_CONVERTER: &str = "key.converter";
pub const VALUE_CONVERTER: &str = "value.converter";
pub const HEADER_CONVERTER: &str = "header.converter";
pub const TRANSFORMS: &str = "transforms";
pub const PREDICATES: &str = "predicates";
pub const ERRORS_TOLERANCE: &str = "errors.tolerance";
pub const TOPICS: &str = "topics";
pub const TOPICS_REGEX: &str = "topics.regex";
const DLQ_TOPIC: &str = "errors.deadletterqueue.topic.name";

const COMMON: &str = "Common";
const TRANSFORMS_GROUP: &str = "Transforms";
const PREDICATES_GROUP: &str = "Predicates";
const ERROR_GROUP: &str = "Error Handling";
const EXACTLY_ONCE_GROUP: &str = "Exactly Once Support";
const OFFSETS_GROUP: &str = "Offsets Topic";
const TOPIC_CREATION_GROUP: &str = "Topic Creation";

/// Header converters this runtime accepts in `header.converter` (Kafka's default is the first).
const HEADER_CONVERTERS: &[&str] = converters::HEADER_CONVERTER_CLASSES;

/// A CLASS setting must name a converter this runtime has.
fn converter_class(value: &TypedValue) -> Result<(), String> {
    let TypedValue::Class(name) = value else { return Ok(()) };
    match converters::resolve_class(name) {
        Some(_) => Ok(()),
        None => Err(format!(
            "Class {name} could not be found; known converters: {}",
            converters::CONVERTER_CLASSES.join(", ")
        )),
    }
}

fn header_converter_class(value: &TypedValue) -> Result<(), String> {
    let TypedValue::Class(name) = value else { return Ok(()) };
    if converters::resolve_header_class(name).is_some() {
        Ok(())
    } else {
        Err(format!("Class {name} could not be found; known header converters: {}", HEADER_CONVERTERS.join(", ")))
    }
}

/// Transform and predicate aliases name sub-configs (`transforms.<alias>.type`), so each must be unique.
fn unique_aliases(value: &TypedValue) -> Result<(), String> {
    let TypedValue::List(aliases) = value else { return Ok(()) };
    for (i, alias) in aliases.iter().enumerate() {
        if alias.is_empty() {
            return Err("Aliases may not be empty".to_string());
        }
        if aliases[..i].contains(alias) {
            return Err(format!("Duplicate alias provided: {alias}"));
        }
    }
    Ok(())
}

/// What sources and sinks share: name, class, tasks, converters, transforms, predicates, error handling.
fn common_def() -> ConfigDef {
    let key = ConfigKey::new;
    ConfigDef::new()
        .define(
            key(NAME, ConfigType::String, Importance::High, "Globally unique name to use for this connector.")
                .group(COMMON, 1)
                .width(Width::Medium)
                .display("Connector name")
                .validator(Validator::NonEmpty)
                .validator(Validator::custom(|v| match v {
                    TypedValue::String(s) if s.chars().any(char::is_control) => {
                        Err("String may not contain control characters".to_string())
                    }
                    _ => Ok(()),
                })),
        )
        .define(
            key(
                CONNECTOR_CLASS,
                ConfigType::String,
                Importance::High,
                "Name or alias of the class for this connector. Must be a subclass of \
                 org.apache.kafka.connect.connector.Connector.",
            )
            .group(COMMON, 2)
            .width(Width::Long)
            .display("Connector class"),
        )
        .define(
            key(TASKS_MAX, ConfigType::Int, Importance::High, "Maximum number of tasks to use for this connector.")
                .default_value("1")
                .validator(Validator::at_least(1.0))
                .group(COMMON, 3)
                .width(Width::Short)
                .display("Tasks max"),
        )
        .define(
            key(
                KEY_CONVERTER,
                ConfigType::Class,
                Importance::Low,
                "Converter class used to convert between Kafka Connect format and the serialized form that is \
                 written to Kafka. This controls the format of the keys in messages written to or read from Kafka. \
                 Unset: the worker's key.converter.",
            )
            .optional()
            .validator(Validator::custom(converter_class))
            .recommended(converters::CONVERTER_CLASSES)
            .group(COMMON, 4)
            .width(Width::Short)
            .display("Key converter class"),
        )
        .define(
            key(
                VALUE_CONVERTER,
                ConfigType::Class,
                Importance::Low,
                "Converter class used to convert between Kafka Connect format and the serialized form that is \
                 written to Kafka. This controls the format of the values in messages written to or read from \
                 Kafka. Unset: the worker's value.converter.",
            )
            .optional()
            .validator(Validator::custom(converter_class))
            .recommended(converters::CONVERTER_CLASSES)
            .group(COMMON, 5)
            .width(Width::Short)
            .display("Value converter class"),
        )
        .define(
            key(
                HEADER_CONVERTER,
                ConfigType::Class,
                Importance::Low,
                "HeaderConverter class used to convert between Kafka Connect format and the serialized form that \
                 is written to Kafka. Unset: the worker's header.converter.",
            )
            .optional()
            .validator(Validator::custom(header_converter_class))
            .recommended(HEADER_CONVERTERS)
            .group(COMMON, 6)
            .width(Width::Short)
            .display("Header converter class"),
        )
        .define(
            key(
                "config.action.reload",
                ConfigType::String,
                Importance::Low,
                "The action that Connect should take on the connector when changes in external configuration \
                 providers result in a change in the connector's configuration properties: none or restart.",
            )
            .default_value("restart")
            .validator(Validator::one_of(&["none", "restart"]))
            .recommended(&["none", "restart"])
            .group(COMMON, 7)
            .width(Width::Medium)
            .display("Reload Action"),
        )
        .define(
            key(
                TRANSFORMS,
                ConfigType::List,
                Importance::Low,
                "Aliases for the transformations to be applied to records.",
            )
            .default_value("")
            .validator(Validator::custom(unique_aliases))
            .group(TRANSFORMS_GROUP, 1)
            .width(Width::Long)
            .display("Transforms"),
        )
        .define(
            key(PREDICATES, ConfigType::List, Importance::Low, "Aliases for the predicates used by transformations.")
                .default_value("")
                .validator(Validator::custom(unique_aliases))
                .group(PREDICATES_GROUP, 1)
                .width(Width::Long)
                .display("Predicates"),
        )
        .define(
            key(
                "errors.retry.timeout",
                ConfigType::Long,
                Importance::Medium,
                "The maximum duration in milliseconds that a failed operation will be reattempted. The default is 0, \
                 which means no retries will be attempted. Use -1 for infinite retries.",
            )
            .default_value("0")
            .group(ERROR_GROUP, 1)
            .width(Width::Medium)
            .display("Retry Timeout for Errors"),
        )
        .define(
            key(
                "errors.retry.delay.max.ms",
                ConfigType::Long,
                Importance::Medium,
                "The maximum duration in milliseconds between consecutive retry attempts.",
            )
            .default_value("60000")
            .validator(Validator::at_least(0.0))
            .group(ERROR_GROUP, 2)
            .width(Width::Medium)
            .display("Maximum Delay Between Retries for Errors"),
        )
        .define(
            key(
                ERRORS_TOLERANCE,
                ConfigType::String,
                Importance::Medium,
                "Behavior for tolerating errors during connector operation. 'none' is the default value and \
                 signals that any error will result in an immediate connector task failure; 'all' changes the \
                 behavior to skip over problematic records.",
            )
            .default_value("none")
            .validator(Validator::one_of(&["none", "all"]))
            .recommended(&["none", "all"])
            .group(ERROR_GROUP, 3)
            .width(Width::Short)
            .display("Error Tolerance"),
        )
        .define(
            key(
                "errors.log.enable",
                ConfigType::Boolean,
                Importance::Medium,
                "If true, write each error and the details of the failed operation and problematic record to the \
                 Connect application log.",
            )
            .default_value("false")
            .group(ERROR_GROUP, 4)
            .width(Width::Short)
            .display("Log Errors"),
        )
        .define(
            key(
                "errors.log.include.messages",
                ConfigType::Boolean,
                Importance::Medium,
                "Whether to include in the log the Connect record that resulted in a failure.",
            )
            .default_value("false")
            .group(ERROR_GROUP, 5)
            .width(Width::Short)
            .display("Log Error Details"),
        )
}

/// The settings of every source connector.
pub fn common_source_def() -> ConfigDef {
    let key = ConfigKey::new;
    common_def()
        .define(
            key(
                "exactly.once.support",
                ConfigType::String,
                Importance::Medium,
                "Whether exactly-once support is required for this connector: 'requested' (the default) runs it \
                 whatever the connector says; 'required' refuses connectors that do not declare support.",
            )
            .default_value("requested")
            .validator(Validator::one_of(&["requested", "required"]))
            .recommended(&["requested", "required"])
            .group(EXACTLY_ONCE_GROUP, 1)
            .width(Width::Short)
            .display("Exactly once support"),
        )
        .define(
            key(
                "transaction.boundary",
                ConfigType::String,
                Importance::Medium,
                "Permitted values are: poll, interval, connector. With poll, a transaction is started and \
                 committed for every batch of records a task polls; with interval, every \
                 transaction.boundary.interval.ms; with connector, the connector defines the boundaries.",
            )
            .default_value("poll")
            .validator(Validator::one_of(&["poll", "connector", "interval"]))
            .recommended(&["poll", "connector", "interval"])
            .group(EXACTLY_ONCE_GROUP, 2)
            .width(Width::Short)
            .display("Transaction Boundary"),
        )
        .define(
            key(
                "transaction.boundary.interval.ms",
                ConfigType::Long,
                Importance::Low,
                "If 'transaction.boundary' is set to 'interval', the time between transaction commits; unset: \
                 the worker's offset.flush.interval.ms.",
            )
            .optional()
            .validator(Validator::at_least(0.0))
            .group(EXACTLY_ONCE_GROUP, 3)
            .width(Width::Short)
            .display("Transaction boundary interval"),
        )
        .define(
            key(
                "offsets.storage.topic",
                ConfigType::String,
                Importance::Low,
                "The name of a separate offsets topic to use for this connector; unset: the worker's global \
                 offsets topic.",
            )
            .optional()
            .group(OFFSETS_GROUP, 1)
            .width(Width::Long)
            .display("Offsets topic"),
        )
        .define(
            key(
                "topic.creation.groups",
                ConfigType::List,
                Importance::Low,
                "Groups of configurations for topics created by source connectors (each with \
                 topic.creation.<group>.include/exclude/replication.factor/partitions/<topic config>); the \
                 'default' group always exists.",
            )
            .default_value("")
            .validator(Validator::custom(unique_aliases))
            .group(TOPIC_CREATION_GROUP, 1)
            .width(Width::Long)
            .display("Topic Creation Groups"),
        )
}

/// The settings of every sink connector. That exactly one of `topics` and `topics.regex` is set is checked by
/// [`sink_topic_errors`], since it spans two settings.
pub fn common_sink_def() -> ConfigDef {
    let key = ConfigKey::new;
    common_def()
        .define(
            key(TOPICS, ConfigType::List, Importance::High, "List of topics to consume, separated by commas.")
                .default_value("")
                .group(COMMON, 4)
                .width(Width::Long)
                .display("Topics"),
        )
        .define(
            key(
                TOPICS_REGEX,
                ConfigType::String,
                Importance::High,
                "Regular expression giving topics to consume. Only one of topics or topics.regex should be \
                 specified.",
            )
            .default_value("")
            .validator(Validator::Regex)
            .group(COMMON, 4)
            .width(Width::Long)
            .display("Topics regex"),
        )
        .define(
            key(
                DLQ_TOPIC,
                ConfigType::String,
                Importance::Medium,
                "The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an \
                 error when processed by this sink connector, or its transformations or converters. The topic \
                 name is blank by default, which means that no messages are to be recorded in the DLQ.",
            )
            .default_value("")
            .group(ERROR_GROUP, 6)
            .width(Width::Medium)
            .display("Dead Letter Queue Topic Name"),
        )
        .define(
            key(
                "errors.deadletterqueue.topic.replication.factor",
                ConfigType::Short,
                Importance::Medium,
                "Replication factor used to create the dead letter queue topic when it doesn't already exist.",
            )
            .default_value("3")
            .group(ERROR_GROUP, 7)
            .width(Width::Medium)
            .display("Dead Letter Queue Topic Replication Factor"),
        )
        .define(
            key(
                "errors.deadletterqueue.context.headers.enable",
                ConfigType::Boolean,
                Importance::Medium,
                "If true, add headers containing error context to the messages written to the dead letter queue.",
            )
            .default_value("false")
            .group(ERROR_GROUP, 8)
            .width(Width::Medium)
            .display("Enable Error Context Headers"),
        )
}

/// The sink checks that span settings, as Kafka's `SinkConnectorConfig.validate` makes them: exactly one of
/// `topics` and `topics.regex`, and a dead-letter queue that is not also an input topic.
pub fn sink_topic_errors(config: &Config) -> Vec<(String, String)> {
    let get = |k: &str| config.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let topics: Vec<&str> =
        get(TOPICS).map(|t| t.split(',').map(str::trim).filter(|t| !t.is_empty()).collect()).unwrap_or_default();
    let regex = get(TOPICS_REGEX);
    let mut errors = Vec::new();
    match (topics.is_empty(), regex) {
        (true, None) => {
            let message = "Must configure one of topics or topics.regex";
            errors.push((TOPICS.to_string(), message.to_string()));
            errors.push((TOPICS_REGEX.to_string(), message.to_string()));
        }
        (false, Some(_)) => {
            let message = "topics and topics.regex are mutually exclusive options, but both are set.";
            errors.push((TOPICS.to_string(), message.to_string()));
            errors.push((TOPICS_REGEX.to_string(), message.to_string()));
        }
        _ => {}
    }
    if let Some(dlq) = get(DLQ_TOPIC) {
        let in_topics = topics.contains(&dlq);
        let matches_regex =
            regex.and_then(|r| regex::Regex::new(&format!("^(?:{r})$")).ok()).is_some_and(|r| r.is_match(dlq));
        if in_topics || matches_regex {
            errors.push((
                DLQ_TOPIC.to_string(),
                format!(
                    "The DLQ topic '{dlq}' may not be included in the list of topics ('{TOPICS}'={}) or match the \
                     regex ('{TOPICS_REGEX}'={}) to consume from",
                    topics.join(","),
                    regex.unwrap_or("")
                ),
            ));
        }
    }
    errors
}
