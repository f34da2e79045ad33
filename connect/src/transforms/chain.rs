//! [`Chain`]: the transforms of one connector, built from its config as Kafka Connect reads it
//! (`transforms=a,b`, `transforms.a.type`, `transforms.a.<setting>`, `transforms.a.predicate`,
//! `transforms.a.negate`, `predicates=p`, `predicates.p.type`, `predicates.p.<setting>`), and run in order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::settings::{parse_bool, parse_list, Settings};
use super::util::Side;
use super::{
    cast, drop_headers, extract_field, filter, flatten, header_from, hoist_field, insert_field, insert_header,
    mask_field, predicates, regex_router, replace_field, set_schema_metadata, timestamp_converter, timestamp_router,
    value_to_key, Predicate, Transform,
};
use crate::connector::Config;
use crate::error::ConnectError;
use crate::record::{ConnectRecord, SinkRecord};

const TRANSFORM_PACKAGE: &str = "org.apache.kafka.connect.transforms.";
const PREDICATE_PACKAGE: &str = "org.apache.kafka.connect.transforms.predicates.";

/// Every transform class this runtime has, by Kafka's full name (for `/connector-plugins`).
pub const TRANSFORM_CLASSES: &[&str] = &[
    "org.apache.kafka.connect.transforms.Cast$Key",
    "org.apache.kafka.connect.transforms.Cast$Value",
    "org.apache.kafka.connect.transforms.DropHeaders",
    "org.apache.kafka.connect.transforms.ExtractField$Key",
    "org.apache.kafka.connect.transforms.ExtractField$Value",
    "org.apache.kafka.connect.transforms.Filter",
    "org.apache.kafka.connect.transforms.Flatten$Key",
    "org.apache.kafka.connect.transforms.Flatten$Value",
    "org.apache.kafka.connect.transforms.HeaderFrom$Key",
    "org.apache.kafka.connect.transforms.HeaderFrom$Value",
    "org.apache.kafka.connect.transforms.HoistField$Key",
    "org.apache.kafka.connect.transforms.HoistField$Value",
    "org.apache.kafka.connect.transforms.InsertField$Key",
    "org.apache.kafka.connect.transforms.InsertField$Value",
    "org.apache.kafka.connect.transforms.InsertHeader",
    "org.apache.kafka.connect.transforms.MaskField$Key",
    "org.apache.kafka.connect.transforms.MaskField$Value",
    "org.apache.kafka.connect.transforms.RegexRouter",
    "org.apache.kafka.connect.transforms.ReplaceField$Key",
    "org.apache.kafka.connect.transforms.ReplaceField$Value",
    "org.apache.kafka.connect.transforms.SetSchemaMetadata$Key",
    "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value",
    "org.apache.kafka.connect.transforms.TimestampConverter$Key",
    "org.apache.kafka.connect.transforms.TimestampConverter$Value",
    "org.apache.kafka.connect.transforms.TimestampRouter",
    "org.apache.kafka.connect.transforms.ValueToKey",
];

/// Every predicate class, by Kafka's full name.
pub const PREDICATE_CLASSES: &[&str] = &[
    "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
    "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
];

/// Transforms Kafka defines only as `$Key` / `$Value` pairs; naming the outer class is an error that suggests
/// both, as Kafka's does.
const KEY_VALUE_TRANSFORMS: &[&str] = &[
    "Cast",
    "ExtractField",
    "Flatten",
    "HeaderFrom",
    "HoistField",
    "InsertField",
    "MaskField",
    "ReplaceField",
    "SetSchemaMetadata",
    "TimestampConverter",
];

type Built<T> = Result<Box<T>, ConnectError>;

/// Builds the transform named by `short` (the class name without Kafka's package), if there is one.
fn build_transform(short: &str, s: &Settings) -> Option<Built<dyn Transform>> {
    let (base, side) = match short.split_once('$') {
        Some((base, "Key")) => (base, Some(Side::Key)),
        Some((base, "Value")) => (base, Some(Side::Value)),
        Some(_) => return None,
        None => (short, None),
    };
    Some(match (base, side) {
        ("Cast", Some(side)) => cast::build(side, s),
        ("DropHeaders", None) => drop_headers::build(s),
        ("ExtractField", Some(side)) => extract_field::build(side, s),
        ("Filter", None) => filter::build(s),
        ("Flatten", Some(side)) => flatten::build(side, s),
        ("HeaderFrom", Some(side)) => header_from::build(side, s),
        ("HoistField", Some(side)) => hoist_field::build(side, s),
        ("InsertField", Some(side)) => insert_field::build(side, s),
        ("InsertHeader", None) => insert_header::build(s),
        ("MaskField", Some(side)) => mask_field::build(side, s),
        ("RegexRouter", None) => regex_router::build(s),
        ("ReplaceField", Some(side)) => replace_field::build(side, s),
        ("SetSchemaMetadata", Some(side)) => set_schema_metadata::build(side, s),
        ("TimestampConverter", Some(side)) => timestamp_converter::build(side, s),
        ("TimestampRouter", None) => timestamp_router::build(s),
        ("ValueToKey", None) => value_to_key::build(s),
        _ => return None,
    })
}

fn build_predicate(short: &str, s: &Settings) -> Option<Built<dyn Predicate>> {
    Some(match short {
        "HasHeaderKey" => predicates::build_has_header_key(s),
        "RecordIsTombstone" => predicates::build_record_is_tombstone(s),
        "TopicNameMatches" => predicates::build_topic_name_matches(s),
        _ => return None,
    })
}

/// One configured transform, with its optional predicate.
struct Stage {
    alias: String,
    transform: Box<dyn Transform>,
    predicate: Option<(Arc<dyn Predicate>, bool)>,
}

/// A connector's transforms, in the order of its `transforms` setting.
#[derive(Default)]
pub struct Chain {
    stages: Vec<Stage>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("aliases", &self.stages.iter().map(|s| &s.alias).collect::<Vec<_>>()).finish()
    }
}

impl Chain {
    /// Reads `transforms` and `predicates` from a connector's config; the first problem is a
    /// [`ConnectError::Config`] naming the exact key.
    pub fn from_config(config: &Config) -> Result<Chain, ConnectError> {
        let mut errors = Vec::new();
        let chain = build(config, &mut errors);
        match errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(chain),
        }
    }

    /// Every problem in the transform and predicate settings, as (key, message), for the validate endpoint.
    pub fn validate(config: &Config) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        build(config, &mut errors);
        errors
            .into_iter()
            .map(|e| match e {
                ConnectError::Config { key, message } => (key, message),
                other => ("transforms".to_string(), other.to_string()),
            })
            .collect()
    }

    /// No transforms configured.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// The transform aliases, in order.
    pub fn aliases(&self) -> Vec<&str> {
        self.stages.iter().map(|s| s.alias.as_str()).collect()
    }

    /// Runs the transforms in order; `Ok(None)` once one drops the record.
    pub fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        self.run(record, None)
    }

    /// Runs the transforms on a record a sink task read, so `offset.field` can use its Kafka offset.
    pub fn apply_sink(&self, record: SinkRecord) -> Result<Option<SinkRecord>, ConnectError> {
        let SinkRecord { record, kafka_partition, kafka_offset } = record;
        Ok(self.run(record, Some(kafka_offset))?.map(|record| SinkRecord { record, kafka_partition, kafka_offset }))
    }

    fn run(&self, mut record: ConnectRecord, offset: Option<i64>) -> Result<Option<ConnectRecord>, ConnectError> {
        for stage in &self.stages {
            if let Some((predicate, negate)) = &stage.predicate {
                if predicate.test(&record) == *negate {
                    continue;
                }
            }
            match stage.transform.apply_with_offset(record, offset) {
                Ok(Some(next)) => record = next,
                Ok(None) => return Ok(None),
                Err(ConnectError::Transform { name, message }) => {
                    return Err(ConnectError::Transform {
                        name: format!("{name} (transforms.{})", stage.alias),
                        message,
                    })
                }
                Err(other) => return Err(other),
            }
        }
        Ok(Some(record))
    }
}

/// The settings under `prefix` (without it), leaving out `skip` (the keys the chain itself reads).
fn settings_under(config: &Config, prefix: &str, skip: &[&str]) -> Settings {
    let values: BTreeMap<String, String> = config
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|rest| (rest.to_string(), v.clone())))
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .collect();
    Settings::new(prefix, values)
}

/// The aliases in a `transforms` or `predicates` list; duplicates are an error, as in Kafka.
fn aliases(config: &Config, key: &str, errors: &mut Vec<ConnectError>) -> Vec<String> {
    let list = config.get(key).map(|v| parse_list(v)).unwrap_or_default();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for alias in list {
        if alias.is_empty() {
            errors.push(ConnectError::config(key, "Empty alias provided; remove the stray comma"));
        } else if !seen.insert(alias.clone()) {
            errors.push(ConnectError::config(key, format!("Duplicate alias provided: {alias}")));
        } else {
            out.push(alias);
        }
    }
    out
}

/// The class name without Kafka's package: `org.apache.kafka.connect.transforms.InsertField$Value` and
/// `InsertField$Value` both give `InsertField$Value`.
fn short_name<'a>(class: &'a str, package: &str) -> &'a str {
    class.trim().strip_prefix(package).unwrap_or(class.trim())
}

fn build(config: &Config, errors: &mut Vec<ConnectError>) -> Chain {
    let mut predicates: BTreeMap<String, Arc<dyn Predicate>> = BTreeMap::new();
    let predicate_aliases = aliases(config, "predicates", errors);
    for alias in &predicate_aliases {
        let prefix = format!("predicates.{alias}.");
        let settings = settings_under(config, &prefix, &["type"]);
        let type_key = format!("{prefix}type");
        let Some(class) = config.get(&type_key) else {
            errors.push(ConnectError::config(&type_key, "Missing required configuration: the predicate's class"));
            continue;
        };
        match build_predicate(short_name(class, PREDICATE_PACKAGE), &settings) {
            None => errors.push(ConnectError::config(
                &type_key,
                format!("Invalid value {class}: not a known predicate; known: {}", PREDICATE_CLASSES.join(", ")),
            )),
            Some(Err(e)) => errors.push(e),
            Some(Ok(p)) => {
                errors.extend(unknown(&settings));
                predicates.insert(alias.clone(), Arc::from(p));
            }
        }
    }

    let mut stages = Vec::new();
    for alias in aliases(config, "transforms", errors) {
        let prefix = format!("transforms.{alias}.");
        let type_key = format!("{prefix}type");
        let predicate_key = format!("{prefix}predicate");
        let negate_key = format!("{prefix}negate");
        let settings = settings_under(config, &prefix, &["type", "predicate", "negate"]);

        let negate = match config.get(&negate_key) {
            None => false,
            Some(v) => match parse_bool(v) {
                Some(b) => b,
                None => {
                    errors.push(ConnectError::config(&negate_key, format!("Expected true or false, got {v:?}")));
                    false
                }
            },
        };
        let predicate = match config.get(&predicate_key).map(|p| p.trim()).filter(|p| !p.is_empty()) {
            None => {
                if config.contains_key(&negate_key) {
                    errors.push(ConnectError::config(
                        &negate_key,
                        format!("Config '{negate_key}' was provided but there is no config '{predicate_key}' defining a predicate to be negated."),
                    ));
                }
                None
            }
            Some(p) => match predicates.get(p) {
                Some(pred) => Some((pred.clone(), negate)),
                None => {
                    if !predicate_aliases.iter().any(|a| a == p) {
                        errors.push(ConnectError::config(
                            &predicate_key,
                            format!("Predicate alias {p} is not listed in 'predicates'; add it there with predicates.{p}.type"),
                        ));
                    }
                    None
                }
            },
        };

        let Some(class) = config.get(&type_key) else {
            errors.push(ConnectError::config(&type_key, "Missing required configuration: the transformation's class"));
            continue;
        };
        let short = short_name(class, TRANSFORM_PACKAGE);
        match build_transform(short, &settings) {
            None if KEY_VALUE_TRANSFORMS.contains(&short) => errors.push(ConnectError::config(
                &type_key,
                format!(
                    "Transformation is abstract and cannot be created. Did you mean {TRANSFORM_PACKAGE}{short}$Key, {TRANSFORM_PACKAGE}{short}$Value?"
                ),
            )),
            None => errors.push(ConnectError::config(
                &type_key,
                format!("Invalid value {class}: not a known transformation; known: {}", TRANSFORM_CLASSES.join(", ")),
            )),
            Some(Err(e)) => errors.push(e),
            Some(Ok(transform)) => {
                errors.extend(unknown(&settings));
                stages.push(Stage { alias, transform, predicate });
            }
        }
    }
    Chain { stages }
}

/// Errors for settings a transform or predicate does not have.
fn unknown(settings: &Settings) -> Vec<ConnectError> {
    settings
        .unknown_keys()
        .into_iter()
        .map(|key| ConnectError::config(key, "Unknown setting for this transformation or predicate; check its name"))
        .collect()
}
