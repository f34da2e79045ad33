//! The datagen connector's settings, parsed once into a typed [`DatagenConfig`]; every problem is reported
//! at once, per setting, so `config/validate` can show them all.

use std::time::Duration;

use crate::connector::Config;

use super::schema::{self, Shape};

pub(crate) const KAFKA_TOPIC: &str = "kafka.topic";
pub(crate) const MAX_INTERVAL: &str = "max.interval";
pub(crate) const ITERATIONS: &str = "iterations";
pub(crate) const QUICKSTART: &str = "quickstart";
pub(crate) const SCHEMA_STRING: &str = "schema.string";
pub(crate) const SCHEMA_FILENAME: &str = "schema.filename";
pub(crate) const SCHEMA_KEYFIELD: &str = "schema.keyfield";
pub(crate) const RANDOM_SEED: &str = "random.seed";
/// Set by the connector on each task's config: which of the `TASK_COUNT` tasks this is.
pub(crate) const TASK_INDEX: &str = "datagen.task.index";
pub(crate) const TASK_COUNT: &str = "datagen.task.count";

/// Default pause between records, as Confluent's datagen has it.
pub(crate) const DEFAULT_MAX_INTERVAL_MS: u64 = 500;

/// The datagen settings, checked.
#[derive(Debug, Clone)]
pub(crate) struct DatagenConfig {
    pub(crate) topic: String,
    /// Pause between records; zero means as fast as the runtime takes them.
    pub(crate) max_interval: Duration,
    /// Records to generate over all tasks; `None` for no end.
    pub(crate) iterations: Option<u64>,
    pub(crate) shape: Shape,
    /// Fixed seed for reproducible data; `None` picks one per task start.
    pub(crate) seed: Option<u64>,
}

impl DatagenConfig {
    /// Parses and checks `config`; on failure, every (setting, message) found.
    pub(crate) fn parse(config: &Config) -> Result<DatagenConfig, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let mut error = |key: &str, message: String| errors.push((key.to_string(), message));

        let topic = match config.get(KAFKA_TOPIC).map(|t| t.trim()) {
            Some(t) if !t.is_empty() => t.to_string(),
            _ => {
                error(KAFKA_TOPIC, "Missing required configuration \"kafka.topic\": set the topic to write to".into());
                String::new()
            }
        };
        let max_interval = match config.get(MAX_INTERVAL) {
            None => Duration::from_millis(DEFAULT_MAX_INTERVAL_MS),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(ms) => Duration::from_millis(ms),
                Err(_) => {
                    error(MAX_INTERVAL, format!("Invalid value {v}: must be milliseconds, 0 or more"));
                    Duration::ZERO
                }
            },
        };
        let iterations = match config.get(ITERATIONS).map(|v| v.trim()) {
            None | Some("-1") => None,
            Some(v) => match v.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    error(ITERATIONS, format!("Invalid value {v}: must be a record count, or -1 for no end"));
                    None
                }
            },
        };
        let seed = match config.get(RANDOM_SEED).map(|v| v.trim()) {
            None | Some("") => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) => Some(n as u64),
                Err(_) => {
                    error(RANDOM_SEED, format!("Invalid value {v}: must be a whole number"));
                    None
                }
            },
        };

        let quickstart = config.get(QUICKSTART).map(|v| v.trim()).filter(|v| !v.is_empty());
        let mut schema_string = config.get(SCHEMA_STRING).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mut schema_key = SCHEMA_STRING;
        if let Some(path) = config.get(SCHEMA_FILENAME).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            schema_key = SCHEMA_FILENAME;
            if schema_string.is_some() {
                error(SCHEMA_FILENAME, "Set only one of schema.string and schema.filename".into());
            }
            match std::fs::read_to_string(path) {
                Ok(s) => schema_string = Some(s),
                Err(e) => error(SCHEMA_FILENAME, format!("Cannot read schema file {path}: {e}")),
            }
        }
        let keyfield = config.get(SCHEMA_KEYFIELD).map(|v| v.trim()).filter(|v| !v.is_empty());
        let shape = match (quickstart, schema_string) {
            (Some(_), Some(_)) => {
                error(QUICKSTART, format!("Set either quickstart or {schema_key}, not both"));
                None
            }
            (None, None) => {
                error(
                    QUICKSTART,
                    format!("Set quickstart (one of {}) or {schema_key}", schema::QUICKSTARTS.join(", ")),
                );
                None
            }
            (Some(name), None) => match Shape::quickstart(name, keyfield) {
                Ok(shape) => Some(shape),
                Err((key, message)) => {
                    error(if key { SCHEMA_KEYFIELD } else { QUICKSTART }, message);
                    None
                }
            },
            (None, Some(json)) => match Shape::parse(&json, keyfield) {
                Ok(shape) => Some(shape),
                Err((key, message)) => {
                    error(if key { SCHEMA_KEYFIELD } else { schema_key }, message);
                    None
                }
            },
        };

        match shape {
            Some(shape) if errors.is_empty() => Ok(DatagenConfig { topic, max_interval, iterations, shape, seed }),
            _ => Err(errors),
        }
    }
}

/// Which task this is and of how many, from the keys the connector set.
pub(crate) fn task_slot(config: &Config) -> Result<(u64, u64), (String, String)> {
    let get = |key: &str| -> Result<u64, (String, String)> {
        config.get(key).and_then(|v| v.parse().ok()).ok_or_else(|| {
            (key.to_string(), "missing or not a number: task configs come from the connector, not users".into())
        })
    };
    let (index, count) = (get(TASK_INDEX)?, get(TASK_COUNT)?);
    if count == 0 || index >= count {
        return Err((TASK_INDEX.to_string(), format!("task {index} of {count} is not a valid slot")));
    }
    Ok((index, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn reports_every_bad_setting_at_once() {
        let errors = DatagenConfig::parse(&cfg(&[("max.interval", "soon"), ("iterations", "many")])).unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["kafka.topic", "max.interval", "iterations", "quickstart"]);
    }

    #[test]
    fn parses_a_quickstart() {
        let c = DatagenConfig::parse(&cfg(&[("kafka.topic", "t"), ("quickstart", "orders"), ("iterations", "-1")]))
            .unwrap();
        assert_eq!(c.topic, "t");
        assert_eq!(c.iterations, None);
        assert_eq!(c.max_interval, Duration::from_millis(500));
    }

    #[test]
    fn rejects_an_unknown_keyfield() {
        let errors =
            DatagenConfig::parse(&cfg(&[("kafka.topic", "t"), ("quickstart", "users"), ("schema.keyfield", "nope")]))
                .unwrap_err();
        assert_eq!(errors[0].0, "schema.keyfield");
    }
}
