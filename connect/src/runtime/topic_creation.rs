//! Topic creation by source connectors (Kafka's KIP-158). A source connector whose config sets
//! `topic.creation.default.replication.factor` and `topic.creation.default.partitions` has the topics it writes
//! to created before its first record to each, unless the worker sets `topic.creation.enable=false`:
//!
//! - `topic.creation.groups`: more groups, tried in order before `default`. Each has
//!   `topic.creation.<group>.include` / `.exclude` (comma lists of regexes matched against the whole topic name;
//!   exclusion wins), `.replication.factor` and `.partitions` (-1: the broker's default; unset: the default
//!   group's), and any other `topic.creation.<group>.<topic config>` (`cleanup.policy`, `compression.type`...),
//!   passed to the broker as topic configs. A topic takes the first group that includes and does not exclude
//!   it, else `default` (which includes everything; its `include`/`exclude` are ignored, as in Kafka).
//! - A topic that already exists is left as it is. A topic is checked once per task run; creation goes through
//!   [`super::errors::ensure_topic`] (so the replication factor is capped at the number of brokers).
//! - [`config_def`]: the settings a config with `topic.creation.*` keys has, for validation with per-field
//!   errors (Kafka's: both default settings required once any `topic.creation.*` is set, -1 or at least 1,
//!   valid regexes; unique group names are checked by `topic.creation.groups`' own definition).
//! - [`TopicCreation`]: the groups of a config; [`TopicCreator`]: what the source runner calls per batch.

use std::collections::HashSet;

use rdkafka::ClientConfig;
use regex::Regex;

use super::errors::ensure_topic;
use crate::config::{ConfigDef, ConfigKey, ConfigType, Importance, TypedValue, Validator, Width};
use crate::connector::Config;
use crate::error::ConnectError;

/// The worker setting that allows (default) or forbids topic creation by every source connector.
pub const TOPIC_CREATION_ENABLE: &str = "topic.creation.enable";
/// The extra groups of a source connector, in matching order.
pub const TOPIC_CREATION_GROUPS: &str = "topic.creation.groups";

const PREFIX: &str = "topic.creation.";
const DEFAULT_GROUP: &str = "default";
const INCLUDE: &str = "include";
const EXCLUDE: &str = "exclude";
const REPLICATION_FACTOR: &str = "replication.factor";
const PARTITIONS: &str = "partitions";

/// Whether `config` asks for topic creation: it has a `topic.creation.*` setting (Kafka's
/// `usesTopicCreation`). The worker's `topic.creation.enable`, which it adds to runners' configs, does not count.
fn uses_topic_creation(config: &Config) -> bool {
    config.keys().any(|k| k.starts_with(PREFIX) && k != TOPIC_CREATION_ENABLE)
}

/// The names in `topic.creation.groups`, first occurrence only, without `default` (which always exists).
fn group_names(config: &Config) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in config.get(TOPIC_CREATION_GROUPS).map(|g| g.split(',')).into_iter().flatten() {
        let name = name.trim();
        if !name.is_empty() && name != DEFAULT_GROUP && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names
}

fn key(group: &str, setting: &str) -> String {
    format!("{PREFIX}{group}.{setting}")
}

/// Kafka's check of a replication factor or partition count: -1 (the broker's default) or at least 1.
fn minus_one_or_positive(value: &TypedValue) -> Result<(), String> {
    match value {
        TypedValue::Int(n) if *n != -1 && *n < 1 => Err("Value must be -1 or at least 1".to_string()),
        TypedValue::Int(n) if *n > i32::from(i16::MAX) => Err(format!("Value must be no more than {}", i16::MAX)),
        _ => Ok(()),
    }
}

/// The topic creation settings `config` has, as Kafka's enriched source connector config defines them: none
/// when it sets no `topic.creation.*`; otherwise the default group's replication factor and partitions
/// (required) and each group's include, exclude, replication factor and partitions.
pub(crate) fn config_def(config: &Config) -> ConfigDef {
    if !uses_topic_creation(config) {
        return ConfigDef::new();
    }
    let count = |name: &str, doc: &str, group: &str, order: i32, display: String| {
        ConfigKey::new(name, ConfigType::Int, Importance::Low, doc)
            .validator(Validator::custom(minus_one_or_positive))
            .group(group, order)
            .width(Width::Long)
            .display(&display)
    };
    let rf_doc = "The replication factor for new topics created for this connector (-1: the broker's default). \
                  Required for the default group; other groups default to the default group's.";
    let partitions_doc = "The number of partitions of new topics created for this connector (-1: the broker's \
                          default). Required for the default group; other groups default to the default group's.";
    let mut def = ConfigDef::new()
        .define(count(
            &key(DEFAULT_GROUP, REPLICATION_FACTOR),
            rf_doc,
            DEFAULT_GROUP,
            3,
            format!("Replication Factor for Topics in {DEFAULT_GROUP}"),
        ))
        .define(count(
            &key(DEFAULT_GROUP, PARTITIONS),
            partitions_doc,
            DEFAULT_GROUP,
            4,
            format!("Partition Count for Topics in {DEFAULT_GROUP}"),
        ));
    let inherited = |setting: &str, key: ConfigKey| match config.get(&self::key(DEFAULT_GROUP, setting)) {
        Some(value) => key.default_value(value.trim()),
        None => key.optional(),
    };
    for group in group_names(config) {
        let config_group = format!("Topic Creation: {group}");
        let regexes = |setting: &str, doc: &str, order: i32, display: &str| {
            ConfigKey::new(&key(&group, setting), ConfigType::List, Importance::Low, doc)
                .default_value("")
                .validator(Validator::Regex)
                .group(&config_group, order)
                .width(Width::Long)
                .display(&format!("{display} Topic Pattern for {config_group}"))
        };
        def = def
            .define(regexes(
                INCLUDE,
                "Regular expressions of topic names this group's settings apply to.",
                1,
                "Inclusion",
            ))
            .define(regexes(
                EXCLUDE,
                "Regular expressions of topic names this group's settings never apply to; exclusion wins over \
                 inclusion.",
                2,
                "Exclusion",
            ))
            .define(inherited(
                REPLICATION_FACTOR,
                count(
                    &key(&group, REPLICATION_FACTOR),
                    rf_doc,
                    &config_group,
                    3,
                    format!("Replication Factor for Topics in {config_group}"),
                ),
            ))
            .define(inherited(
                PARTITIONS,
                count(
                    &key(&group, PARTITIONS),
                    partitions_doc,
                    &config_group,
                    4,
                    format!("Partition Count for Topics in {config_group}"),
                ),
            ));
    }
    def
}

/// One group: which topics it takes and how they are created.
#[derive(Debug, Clone)]
pub struct TopicGroup {
    pub name: String,
    /// Matches whole names; `None` matches nothing.
    include: Option<Regex>,
    exclude: Option<Regex>,
    pub partitions: i32,
    pub replication_factor: i16,
    /// Topic configs (`cleanup.policy=compact`, ...), by name.
    pub configs: Vec<(String, String)>,
}

impl TopicGroup {
    /// Whether this group takes `topic`: included and not excluded.
    pub fn matches(&self, topic: &str) -> bool {
        let hit = |r: &Option<Regex>| r.as_ref().is_some_and(|r| r.is_match(topic));
        hit(&self.include) && !hit(&self.exclude)
    }
}

/// The topic creation groups of a source connector, `default` last.
#[derive(Debug, Clone)]
pub struct TopicCreation {
    groups: Vec<TopicGroup>,
}

impl TopicCreation {
    /// The groups `config` defines; `None` when it creates no topics (no `topic.creation.*` settings, or the
    /// worker's `topic.creation.enable=false`). A config that does not validate is an error naming the settings.
    pub fn from_config(config: &Config) -> Result<Option<TopicCreation>, ConnectError> {
        let disabled = config.get(TOPIC_CREATION_ENABLE).is_some_and(|v| v.trim().eq_ignore_ascii_case("false"));
        if disabled || !uses_topic_creation(config) {
            return Ok(None);
        }
        let parsed = config_def(config).parse(config)?;
        let count = |group: &str, setting: &str| parsed.int(&key(group, setting)).unwrap_or(-1);
        let mut groups = Vec::new();
        let everything = Regex::new(".*").expect("a valid regex");
        for name in group_names(config).into_iter().chain([DEFAULT_GROUP.to_string()]) {
            let is_default = name == DEFAULT_GROUP;
            let pattern = |setting: &str| -> Result<Option<Regex>, ConnectError> {
                if is_default {
                    return Ok((setting == INCLUDE).then(|| everything.clone()));
                }
                let items = parsed.list(&key(&name, setting)).unwrap_or_default();
                if items.is_empty() {
                    return Ok(None);
                }
                let joined = format!("^(?:{})$", items.join("|"));
                Regex::new(&joined).map(Some).map_err(|e| ConnectError::config(key(&name, setting), e.to_string()))
            };
            let group_prefix = format!("{PREFIX}{name}.");
            let configs = config
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(&group_prefix)?, v)))
                .filter(|(setting, _)| ![INCLUDE, EXCLUDE, REPLICATION_FACTOR, PARTITIONS].contains(setting))
                .map(|(setting, v)| (setting.to_string(), v.trim().to_string()))
                .collect();
            groups.push(TopicGroup {
                include: pattern(INCLUDE)?,
                exclude: pattern(EXCLUDE)?,
                partitions: count(&name, PARTITIONS),
                replication_factor: i16::try_from(count(&name, REPLICATION_FACTOR)).unwrap_or(-1),
                configs,
                name,
            });
        }
        Ok(Some(TopicCreation { groups }))
    }

    /// The group whose settings `topic` is created with: the first listed group that takes it, else `default`.
    pub fn group_for(&self, topic: &str) -> &TopicGroup {
        let (default, listed) = self.groups.split_last().expect("the default group is always there");
        listed.iter().find(|g| g.matches(topic)).unwrap_or(default)
    }
}

/// What a source task's runner uses: creates each topic (when missing) before the first record to it.
pub(crate) struct TopicCreator {
    creation: Option<TopicCreation>,
    client: ClientConfig,
    /// Topics already checked in this run.
    ready: HashSet<String>,
}

impl TopicCreator {
    /// A creator for `config` (a source connector's effective config); does nothing when the connector does
    /// not create topics.
    pub(crate) fn new(config: &Config, client: ClientConfig) -> Result<TopicCreator, ConnectError> {
        Ok(TopicCreator { creation: TopicCreation::from_config(config)?, client, ready: HashSet::new() })
    }

    /// Makes sure each of `topics` exists, creating the missing ones with their group's settings.
    pub(crate) async fn prepare(&mut self, topics: &[&str]) -> Result<(), ConnectError> {
        let Some(creation) = &self.creation else { return Ok(()) };
        for &topic in topics {
            if self.ready.contains(topic) {
                continue;
            }
            let group = creation.group_for(topic);
            let configs: Vec<(&str, &str)> = group.configs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            ensure_topic(&self.client, topic, group.partitions, group.replication_factor, &configs).await.map_err(
                |e| {
                    ConnectError::connector(format!(
                        "Task failed to create new topic `{topic}` (topic creation group `{}`): {e}. Ensure that \
                         the task is authorized to create topics or that the topic exists, and restart the task",
                        group.name
                    ))
                },
            )?;
            tracing::debug!(topic, group = %group.name, "source topic ready");
            self.ready.insert(topic.to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::to_config_infos;

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// (topic, group, partitions, replication factor, topic configs)
    type GroupCase = (&'static str, &'static str, i32, i16, &'static [(&'static str, &'static str)]);
    /// (case, settings, expected (setting, error fragment) pairs; empty: valid)
    type ValidationCase =
        (&'static str, &'static [(&'static str, &'static str)], &'static [(&'static str, &'static str)]);

    const DEFAULTS: [(&str, &str); 2] =
        [("topic.creation.default.replication.factor", "1"), ("topic.creation.default.partitions", "3")];

    fn with_defaults(pairs: &[(&str, &str)]) -> Config {
        let mut c = config(&DEFAULTS);
        c.extend(config(pairs));
        c
    }

    #[test]
    fn no_settings_or_a_disabled_worker_create_nothing() {
        assert!(TopicCreation::from_config(&config(&[("topic", "t")])).unwrap().is_none());
        assert!(TopicCreation::from_config(&config(&[(TOPIC_CREATION_ENABLE, "true")])).unwrap().is_none());
        let disabled = with_defaults(&[(TOPIC_CREATION_ENABLE, "false")]);
        assert!(TopicCreation::from_config(&disabled).unwrap().is_none());
        assert!(TopicCreation::from_config(&with_defaults(&[])).unwrap().is_some());
    }

    #[test]
    fn topics_take_the_first_matching_group_then_default() {
        let c = with_defaults(&[
            ("topic.creation.groups", "compacted, logs, compacted, default"),
            ("topic.creation.compacted.include", "state-.*, .*-changelog"),
            ("topic.creation.compacted.exclude", "state-tmp"),
            ("topic.creation.compacted.cleanup.policy", "compact"),
            ("topic.creation.compacted.partitions", "1"),
            ("topic.creation.logs.include", "logs-.*,state-.*"),
            ("topic.creation.logs.replication.factor", "-1"),
            ("topic.creation.logs.compression.type", "zstd"),
            ("topic.creation.default.include", "ignored-.*"),
            ("topic.creation.default.retention.ms", "1000"),
        ]);
        let creation = TopicCreation::from_config(&c).unwrap().unwrap();
        let names: Vec<&str> = creation.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["compacted", "logs", "default"], "deduplicated, default once and last");
        let cases: &[GroupCase] = &[
            ("state-orders", "compacted", 1, 1, &[("cleanup.policy", "compact")]),
            ("orders-changelog", "compacted", 1, 1, &[("cleanup.policy", "compact")]),
            ("state-tmp", "logs", 3, -1, &[("compression.type", "zstd")]),
            ("logs-app", "logs", 3, -1, &[("compression.type", "zstd")]),
            ("xlogs-app", "default", 3, 1, &[("retention.ms", "1000")]),
            ("ignored-x", "default", 3, 1, &[("retention.ms", "1000")]),
            ("state-orders-x", "compacted", 1, 1, &[("cleanup.policy", "compact")]),
        ];
        for (topic, group, partitions, rf, configs) in cases {
            let g = creation.group_for(topic);
            assert_eq!(g.name, *group, "{topic}");
            assert_eq!((g.partitions, g.replication_factor), (*partitions, *rf), "{topic}");
            let want: Vec<(String, String)> = configs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            assert_eq!(g.configs, want, "{topic}");
        }
        // A group without `include` takes nothing.
        let c = with_defaults(&[("topic.creation.groups", "empty"), ("topic.creation.empty.partitions", "9")]);
        assert_eq!(TopicCreation::from_config(&c).unwrap().unwrap().group_for("anything").name, "default");
    }

    /// Errors per setting, as the validate endpoint shows them.
    fn errors(c: &Config) -> Vec<(String, String)> {
        let infos = to_config_infos("test", &[&config_def(c)], c, Vec::new());
        infos
            .configs
            .into_iter()
            .flat_map(|i| i.value.errors.into_iter().map(move |e| (i.value.name.clone(), e)))
            .collect()
    }

    #[test]
    fn validation_errors_name_the_setting() {
        const RF: &str = "topic.creation.default.replication.factor";
        const PARTS: &str = "topic.creation.default.partitions";
        let cases: &[ValidationCase] = &[
            ("nothing set", &[], &[]),
            ("both set", &[(RF, "1"), (PARTS, "3")], &[]),
            ("broker defaults", &[(RF, "-1"), (PARTS, "-1")], &[]),
            ("only partitions", &[(PARTS, "3")], &[(RF, "Missing required configuration")]),
            ("only rf", &[(RF, "1")], &[(PARTS, "Missing required configuration")]),
            (
                "a group without defaults",
                &[("topic.creation.groups", "g"), ("topic.creation.g.include", "a")],
                &[(RF, "Missing required configuration"), (PARTS, "Missing required configuration")],
            ),
            ("zero rf", &[(RF, "0"), (PARTS, "3")], &[(RF, "Invalid value 0 for configuration")]),
            ("negative partitions", &[(RF, "1"), (PARTS, "-2")], &[(PARTS, "Value must be -1 or at least 1")]),
            ("not a number", &[(RF, "one"), (PARTS, "1")], &[(RF, "Not a number of type INT")]),
            ("rf too large", &[(RF, "40000"), (PARTS, "1")], &[(RF, "Value must be no more than 32767")]),
            (
                "bad regexes",
                &[
                    (RF, "1"),
                    (PARTS, "1"),
                    ("topic.creation.groups", "g"),
                    ("topic.creation.g.include", "ok.*, (unclosed"),
                    ("topic.creation.g.exclude", "[z-a]"),
                ],
                &[("topic.creation.g.include", "Invalid regex"), ("topic.creation.g.exclude", "Invalid regex")],
            ),
            (
                "bad group counts",
                &[(RF, "1"), (PARTS, "1"), ("topic.creation.groups", "g"), ("topic.creation.g.partitions", "0")],
                &[("topic.creation.g.partitions", "Value must be -1 or at least 1")],
            ),
        ];
        for (case, settings, expected) in cases {
            let c = config(settings);
            let got = errors(&c);
            assert_eq!(got.len(), expected.len(), "{case}: {got:?}");
            for (setting, fragment) in *expected {
                assert!(got.iter().any(|(k, e)| k == setting && e.contains(fragment)), "{case}: {got:?}");
            }
            assert_eq!(TopicCreation::from_config(&c).is_err(), !expected.is_empty(), "{case}");
        }
    }

    #[test]
    fn the_connector_validation_knows_the_settings() {
        let plugin = crate::connectors::find("datagen").expect("the datagen plugin");
        let base = [("name", "gen"), ("connector.class", "datagen"), ("kafka.topic", "t"), ("quickstart", "users")];
        let validate = |extra: &[(&str, &str)]| {
            let mut c = config(&base);
            c.extend(config(extra));
            let infos = crate::runtime::standalone::validate::validate(plugin.as_ref(), &c);
            let errors: Vec<(String, String)> = infos
                .configs
                .iter()
                .flat_map(|i| i.value.errors.iter().map(|e| (i.value.name.clone(), e.clone())))
                .collect();
            let names: Vec<String> = infos.configs.iter().map(|i| i.value.name.clone()).collect();
            (errors, names)
        };
        let (errors, names) = validate(&[]);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(names.contains(&TOPIC_CREATION_GROUPS.to_string()), "always defined for sources: {names:?}");
        let (errors, names) = validate(&[
            ("topic.creation.default.replication.factor", "1"),
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.groups", "compacted"),
            ("topic.creation.compacted.include", "t"),
            ("topic.creation.compacted.cleanup.policy", "compact"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(names.contains(&"topic.creation.compacted.include".to_string()), "{names:?}");
        let (errors, _) = validate(&[
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.groups", "a, a"),
            ("topic.creation.a.exclude", "("),
        ]);
        let has = |key: &str, fragment: &str| errors.iter().any(|(k, e)| k == key && e.contains(fragment));
        assert!(has("topic.creation.default.replication.factor", "Missing required configuration"), "{errors:?}");
        assert!(has(TOPIC_CREATION_GROUPS, "Duplicate alias provided"), "{errors:?}");
        assert!(has("topic.creation.a.exclude", "Invalid regex"), "{errors:?}");
        assert_eq!(errors.len(), 3, "{errors:?}");
    }

    #[test]
    fn groups_inherit_the_default_counts() {
        let c = with_defaults(&[("topic.creation.groups", "g"), ("topic.creation.g.include", "x")]);
        let creation = TopicCreation::from_config(&c).unwrap().unwrap();
        let g = creation.group_for("x");
        assert_eq!((g.name.as_str(), g.partitions, g.replication_factor), ("g", 3, 1));
    }
}
