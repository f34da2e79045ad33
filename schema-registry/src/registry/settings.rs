//! Compatibility configs and modes, global and per subject: reading what is set or in force, setting, removing.
//! Like Confluent, READONLY refuses config changes but never mode changes (that is how one leaves it), and
//! switching to IMPORT needs an empty registry or subject unless forced.

use super::resolve;
use super::write::version_tombstone;
use super::Registry;
use crate::error::ApiError;
use crate::state::State;
use crate::store::records::{ConfigValue, ModeValue};
use crate::store::{Record, RecordKey, RecordValue};
use crate::types::Mode;

impl Registry {
    /// `GET /config[/{s}]`: globally, the config in force (the default level while none is set); for a subject,
    /// its own config (40408 without one), or with `default_to_global` the one in force for it.
    pub fn config(&self, subject: Option<&str>, default_to_global: bool) -> Result<ConfigValue, ApiError> {
        let state = self.log.state().read();
        match subject {
            None => Ok(resolve::effective_config(&state, None, self.default_compatibility)),
            Some(s) if default_to_global => Ok(resolve::effective_config(&state, Some(s), self.default_compatibility)),
            Some(s) => state.config(Some(s)).cloned().ok_or_else(|| ApiError::subject_config_not_found(s)),
        }
    }

    /// `GET /mode[/{s}]`: globally, the mode in force; for a subject, its own mode (40409 without one), or with
    /// `default_to_global` the one in force for it. A global READONLY_OVERRIDE is every subject's mode.
    pub fn mode(&self, subject: Option<&str>, default_to_global: bool) -> Result<Mode, ApiError> {
        let state = self.log.state().read();
        let global = resolve::global_mode(&state);
        match subject {
            None => Ok(global),
            Some(_) if global == Mode::ReadonlyOverride => Ok(global),
            Some(s) => match state.mode(Some(s)) {
                Some(mode) => Ok(mode),
                None if default_to_global => Ok(global),
                None => Err(ApiError::subject_mode_not_found(s)),
            },
        }
    }

    /// `PUT /config[/{s}]`: the config now set there. Fields left out keep their earlier value (Confluent merges
    /// the same way), so `{"normalize": true}` does not reset the level.
    pub async fn set_config(&self, subject: Option<&str>, config: ConfigValue) -> Result<ConfigValue, ApiError> {
        let _write = self.begin_write().await?;
        let merged = {
            let state = self.log.state().read();
            refuse_if_read_only(&state, subject)?;
            let old = state.config(subject);
            ConfigValue {
                compatibility_level: config.compatibility_level.or(old.and_then(|c| c.compatibility_level)),
                normalize: config.normalize.or(old.and_then(|c| c.normalize)),
            }
        };
        let key = RecordKey::Config { subject: subject.map(str::to_string) };
        self.append(vec![Record { key, value: Some(RecordValue::Config(merged.clone())) }]).await?;
        Ok(merged)
    }

    /// `DELETE /config[/{s}]`: the config that was removed. Globally this falls back to the default level and
    /// answers the config that was in force; for a subject without its own config, 40408.
    pub async fn delete_config(&self, subject: Option<&str>) -> Result<ConfigValue, ApiError> {
        let _write = self.begin_write().await?;
        let (old, set) = {
            let state = self.log.state().read();
            let old = match subject {
                None => resolve::effective_config(&state, None, self.default_compatibility),
                Some(s) => state.config(Some(s)).cloned().ok_or_else(|| ApiError::subject_config_not_found(s))?,
            };
            refuse_if_read_only(&state, subject)?;
            (old, state.config(subject).is_some())
        };
        if set {
            let key = RecordKey::Config { subject: subject.map(str::to_string) };
            self.append(vec![Record { key, value: None }]).await?;
        }
        Ok(old)
    }

    /// `PUT /mode[/{s}]`: the mode now set. Entering IMPORT (unless already in it, or `force`) needs no live
    /// subject in scope (42205, "Cannot import since found existing subjects"); soft-deleted versions in scope
    /// are then deleted permanently, as Confluent does, so imported ids and versions cannot collide with them.
    pub async fn set_mode(&self, subject: Option<&str>, mode: Mode, force: bool) -> Result<Mode, ApiError> {
        let _write = self.begin_write().await?;
        let records = {
            let state = self.log.state().read();
            let current = match subject {
                Some(s) => resolve::effective_mode(&state, s),
                None => resolve::global_mode(&state),
            };
            let mut records = Vec::new();
            if mode == Mode::Import && current != Mode::Import && !force {
                records = clear_for_import(&state, subject)?;
            }
            records.push(Record {
                key: RecordKey::Mode { subject: subject.map(str::to_string) },
                value: Some(RecordValue::Mode(ModeValue { mode })),
            });
            records
        };
        self.append(records).await?;
        Ok(mode)
    }

    /// `DELETE /mode/{s}`: the mode that was removed; 40409 when the subject has none of its own.
    pub async fn delete_mode(&self, subject: &str) -> Result<Mode, ApiError> {
        let _write = self.begin_write().await?;
        let old = {
            let state = self.log.state().read();
            state.mode(Some(subject)).ok_or_else(|| ApiError::subject_mode_not_found(subject))?
        };
        self.append(vec![Record { key: RecordKey::Mode { subject: Some(subject.to_string()) }, value: None }]).await?;
        Ok(old)
    }
}

fn refuse_if_read_only(state: &State, subject: Option<&str>) -> Result<(), ApiError> {
    let mode = match subject {
        Some(s) => resolve::effective_mode(state, s),
        None => resolve::global_mode(state),
    };
    if !resolve::is_read_only(mode) {
        return Ok(());
    }
    Err(ApiError::operation_not_permitted(match subject {
        Some(s) => format!("Subject {s} is in read-only mode"),
        None => "The registry is in read-only mode; PUT /mode READWRITE first".to_string(),
    }))
}

/// The tombstones that empty a scope (one subject, or with `None` the registry) of soft-deleted versions before
/// IMPORT; refused while the scope has a live subject or a live schema references a version in it.
fn clear_for_import(state: &State, subject: Option<&str>) -> Result<Vec<Record>, ApiError> {
    let in_scope: Vec<&str> = match subject {
        Some(s) => state.versions(s).map(|_| s).into_iter().collect(),
        None => state.subjects().map(|(s, _)| s).collect(),
    };
    if in_scope.iter().any(|s| state.has_subject(s, false)) {
        return Err(ApiError::operation_not_permitted(
            "Cannot import since found existing subjects; delete them first or set the mode with force=true",
        ));
    }
    let mut records = Vec::new();
    for s in in_scope {
        for version in state.versions(s).into_iter().flat_map(|versions| versions.keys().copied()) {
            let ids = resolve::live_referrers(state, s, version);
            if !ids.is_empty() {
                return Err(ApiError::reference_exists(format!(
                    "One or more references exist to the schema {{subject={s},version={version}}}: schema ids \
                     {ids:?} reference it; delete those first"
                )));
            }
            records.push(version_tombstone(s, version));
        }
    }
    Ok(records)
}
