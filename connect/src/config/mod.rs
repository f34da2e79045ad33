//! Config definitions: the settings a connector (or the runtime) accepts, with types, defaults, docs and
//! validators, answered by `/connector-plugins/{type}/config/validate` with per-field errors. (Being built.)

/// The definition of a set of settings.
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {}
