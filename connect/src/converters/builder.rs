//! Builds the converter a config names under `key.converter` / `value.converter`, with its settings from the
//! keys below that prefix (`value.converter.schemas.enable`, `value.converter.schema.registry.url`, ...).

use std::sync::Arc;

use super::avro::{AvroConverter, AvroOptions};
use super::bytes::ByteArrayConverter;
use super::json::{JsonConverter, JsonOptions};
use super::number::{NumberConverter, NumberKind};
use super::string::StringConverter;
use super::Converter;
use crate::connector::Config;
use crate::error::ConnectError;

pub const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
pub const STRING_CONVERTER: &str = "org.apache.kafka.connect.storage.StringConverter";
pub const BYTE_ARRAY_CONVERTER: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";
pub const AVRO_CONVERTER: &str = "io.confluent.connect.avro.AvroConverter";

/// Every converter class this runtime knows, by full name.
pub const CONVERTER_CLASSES: &[&str] = &[
    JSON_CONVERTER,
    STRING_CONVERTER,
    BYTE_ARRAY_CONVERTER,
    AVRO_CONVERTER,
    "org.apache.kafka.connect.converters.ShortConverter",
    "org.apache.kafka.connect.converters.IntegerConverter",
    "org.apache.kafka.connect.converters.LongConverter",
    "org.apache.kafka.connect.converters.FloatConverter",
    "org.apache.kafka.connect.converters.DoubleConverter",
    "org.apache.kafka.connect.converters.BooleanConverter",
];

/// The full class name `name` stands for: a full name, the simple class name (`JsonConverter`), or the simple
/// name without `Converter` (`Json`), as Kafka's plugin aliases allow.
pub fn resolve_class(name: &str) -> Option<&'static str> {
    let name = name.trim();
    CONVERTER_CLASSES.iter().copied().find(|class| {
        let simple = class.rsplit('.').next().unwrap_or(class);
        *class == name || simple == name || simple.strip_suffix("Converter") == Some(name)
    })
}

/// The converter `config` names under `prefix` (`key.converter` or `value.converter`); Kafka's worker default,
/// JsonConverter with schemas, when unset.
pub fn build(config: &Config, prefix: &str) -> Result<Arc<dyn Converter>, ConnectError> {
    let class = match config.get(prefix).map(|c| c.trim()).filter(|c| !c.is_empty()) {
        None => JSON_CONVERTER,
        Some(name) => resolve_class(name).ok_or_else(|| {
            ConnectError::config(
                prefix,
                format!(
                    "unknown converter class {name:?}; use one of {} (or their short names, e.g. JsonConverter)",
                    CONVERTER_CLASSES.join(", ")
                ),
            )
        })?,
    };
    let settings = Settings { config, prefix };
    Ok(match class {
        JSON_CONVERTER => Arc::new(JsonConverter::new(JsonOptions {
            schemas_enable: settings.boolean("schemas.enable", true)?,
            decimal_numeric: match settings.get("decimal.format").map(str::to_ascii_uppercase).as_deref() {
                None | Some("BASE64") => false,
                Some("NUMERIC") => true,
                Some(_) => return Err(settings.invalid("decimal.format", "must be BASE64 or NUMERIC")),
            },
            replace_null_with_default: settings.boolean("replace.null.with.default", true)?,
        })),
        STRING_CONVERTER => {
            for key in ["converter.encoding", "encoding"] {
                if let Some(encoding) = settings.get(key) {
                    if !matches!(encoding.to_ascii_uppercase().as_str(), "UTF8" | "UTF-8") {
                        return Err(settings.invalid(key, "only UTF-8 is supported"));
                    }
                }
            }
            Arc::new(StringConverter)
        }
        BYTE_ARRAY_CONVERTER => Arc::new(ByteArrayConverter),
        AVRO_CONVERTER => Arc::new(avro(&settings)?),
        number => Arc::new(NumberConverter::new(match number.rsplit('.').next() {
            Some("ShortConverter") => NumberKind::Short,
            Some("IntegerConverter") => NumberKind::Integer,
            Some("LongConverter") => NumberKind::Long,
            Some("FloatConverter") => NumberKind::Float,
            Some("DoubleConverter") => NumberKind::Double,
            _ => NumberKind::Boolean,
        })),
    })
}

fn avro(settings: &Settings<'_>) -> Result<AvroConverter, ConnectError> {
    let url = settings
        .get("schema.registry.url")
        .and_then(|urls| urls.split(',').map(str::trim).find(|u| !u.is_empty()))
        .ok_or_else(|| {
            settings.invalid("schema.registry.url", "is required by AvroConverter, e.g. http://localhost:8081")
        })?;
    let basic_auth = match settings.get("basic.auth.credentials.source").map(str::to_ascii_uppercase).as_deref() {
        None | Some("USER_INFO") if settings.get("basic.auth.user.info").is_some() => {
            let info = settings.get("basic.auth.user.info").unwrap_or_default();
            let (user, password) = info
                .split_once(':')
                .ok_or_else(|| settings.invalid("basic.auth.user.info", "must be user:password"))?;
            Some((user.to_string(), password.to_string()))
        }
        None | Some("USER_INFO") => None,
        Some(_) => return Err(settings.invalid("basic.auth.credentials.source", "only USER_INFO is supported")),
    };
    let is_key = settings.prefix.starts_with("key");
    let strategy_key = if is_key { "key.subject.name.strategy" } else { "value.subject.name.strategy" };
    let strategy = match settings.get(strategy_key) {
        Some(text) => text
            .parse()
            .map_err(|e: sluice_schema_registry::wire::WireError| settings.invalid(strategy_key, &e.to_string()))?,
        None => Default::default(),
    };
    if !settings.boolean("auto.register.schemas", true)? {
        return Err(settings.invalid(
            "auto.register.schemas",
            "false is not supported: this AvroConverter always registers the writer schema (the registry answers \
             an already registered schema with its id)",
        ));
    }
    let options = AvroOptions {
        registry_url: url.to_string(),
        basic_auth,
        strategy,
        connect_meta_data: settings.boolean("connect.meta.data", true)?,
    };
    AvroConverter::new(options).map_err(|e| settings.invalid("schema.registry.url", &e.to_string()))
}

/// The settings below one converter prefix, with errors that name the full key.
struct Settings<'a> {
    config: &'a Config,
    prefix: &'a str,
}

impl Settings<'_> {
    fn key(&self, name: &str) -> String {
        format!("{}.{name}", self.prefix)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.config.get(&self.key(name)).map(|v| v.trim())
    }

    fn invalid(&self, name: &str, message: &str) -> ConnectError {
        ConnectError::config(self.key(name), message)
    }

    fn boolean(&self, name: &str, default: bool) -> Result<bool, ConnectError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(self.invalid(name, &format!("must be true or false, not {v:?}"))),
        }
    }
}
