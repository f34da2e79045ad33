//! The answer of `PUT /connector-plugins/{type}/config/validate` (and the check before a connector is created):
//! every setting's definition and value with its errors, in Kafka Connect's `ConfigInfos` JSON shape.

use super::{ConfigDef, ConfigKey, ConfigType, DefaultValue};
use crate::connector::Config;
use crate::runtime::herder::{ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigValueInfo};

/// What secrets show as, in values and defaults alike (Kafka's `Password.HIDDEN`).
const HIDDEN: &str = "[hidden]";

/// Validates `config` against `defs` (the common connector settings first, then the connector's own; a setting
/// defined twice is reported once, from its first definition) and adds `extra_errors` (checks spanning settings,
/// the connector's own `validate`) to the settings they name. `name` is the connector class, as Kafka answers.
pub fn to_config_infos(
    name: &str,
    defs: &[&ConfigDef],
    config: &Config,
    extra_errors: Vec<(String, String)>,
) -> ConfigInfos {
    let mut groups: Vec<String> = Vec::new();
    let mut configs: Vec<ConfigInfo> = Vec::new();
    for def in defs {
        for group in def.groups() {
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
        let values = def.validate(config);
        for (key, value) in def.keys().iter().zip(values) {
            if configs.iter().any(|c| c.definition.name == key.name) {
                continue;
            }
            let shown = match key.config_type {
                ConfigType::Password => value.value.as_ref().map(|_| HIDDEN.to_string()),
                _ => value.value,
            };
            configs.push(ConfigInfo {
                definition: key_info(key),
                value: ConfigValueInfo {
                    name: value.name,
                    value: shown,
                    recommended_values: value.recommended_values,
                    errors: value.errors,
                    visible: value.visible,
                },
            });
        }
    }
    for (key, message) in extra_errors {
        match configs.iter_mut().find(|c| c.definition.name == key) {
            Some(info) => {
                if !info.value.errors.contains(&message) {
                    info.value.errors.push(message);
                }
            }
            // A setting no definition has (a connector's own check on an undeclared key) still gets reported.
            None => configs.push(ConfigInfo {
                definition: undeclared(&key),
                value: ConfigValueInfo {
                    name: key.clone(),
                    value: config.get(&key).cloned(),
                    recommended_values: Vec::new(),
                    errors: vec![message],
                    visible: true,
                },
            }),
        }
    }
    let error_count = configs.iter().map(|c| c.value.errors.len()).sum();
    ConfigInfos { name: name.to_string(), error_count, groups, configs }
}

fn key_info(key: &ConfigKey) -> ConfigKeyInfo {
    let default_value = match (&key.default, key.config_type) {
        (DefaultValue::Value(_), ConfigType::Password) => Some(HIDDEN.to_string()),
        (DefaultValue::Value(v), _) => Some(v.clone()),
        (DefaultValue::Null | DefaultValue::Required, _) => None,
    };
    ConfigKeyInfo {
        name: key.name.clone(),
        config_type: key.config_type.name().to_string(),
        required: key.is_required(),
        default_value,
        importance: key.importance.name().to_string(),
        documentation: key.documentation.clone(),
        group: key.group.clone(),
        order_in_group: key.order_in_group,
        width: key.width.name().to_string(),
        display_name: key.display_name.clone(),
        dependents: key.dependents.clone(),
    }
}

fn undeclared(name: &str) -> ConfigKeyInfo {
    ConfigKeyInfo {
        name: name.to_string(),
        config_type: ConfigType::String.name().to_string(),
        required: false,
        default_value: None,
        importance: super::Importance::Low.name().to_string(),
        documentation: String::new(),
        group: None,
        order_in_group: -1,
        width: super::Width::None.name().to_string(),
        display_name: name.to_string(),
        dependents: Vec::new(),
    }
}
