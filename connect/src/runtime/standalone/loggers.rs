//! [`LogLevels`]: the levels `/admin/loggers` shows and sets, in Connect's log4j terms (`root`, `DEBUG` ...),
//! applied to `tracing` through a function the binary supplies (it owns the subscriber and its reload handle).

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::ApiError;

/// The name Connect gives the root logger: the level of everything without a level of its own.
pub const ROOT: &str = "root";

/// The levels log4j (and so Connect's REST API) accepts.
pub const LEVELS: [&str; 8] = ["OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL"];

/// Applies the whole level map (the root level plus every logger's own); an error says why it was refused.
pub type LevelApplier = Arc<dyn Fn(&BTreeMap<String, String>) -> Result<(), String> + Send + Sync>;

/// Logger levels by logger name (a `tracing` target such as `sluice_connect::runtime`), always with `root`.
pub struct LogLevels {
    levels: Mutex<BTreeMap<String, String>>,
    apply: Option<LevelApplier>,
}

impl std::fmt::Debug for LogLevels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogLevels").field("levels", &*self.levels.lock()).finish_non_exhaustive()
    }
}

impl Default for LogLevels {
    /// Root at INFO, levels only recorded (nothing applies them).
    fn default() -> Self {
        Self::new(BTreeMap::new(), None)
    }
}

impl LogLevels {
    /// Starts from `initial` (log4j level names; `root` defaults to INFO); `apply`, when given, makes changes
    /// take effect, and without it levels are only recorded.
    pub fn new(initial: BTreeMap<String, String>, apply: Option<LevelApplier>) -> Self {
        let mut levels: BTreeMap<String, String> =
            initial.into_iter().map(|(name, level)| (name, level.to_ascii_uppercase())).collect();
        levels.entry(ROOT.to_string()).or_insert_with(|| "INFO".to_string());
        Self { levels: Mutex::new(levels), apply }
    }

    pub fn levels(&self) -> BTreeMap<String, String> {
        self.levels.lock().clone()
    }

    /// Sets `name` and every logger below it (`name::...` or `name.`...; everything for `root`) to `level`, as
    /// Connect sets a logger and its descendants; answers the loggers changed, sorted.
    pub fn set(&self, name: &str, level: &str) -> Result<Vec<String>, ApiError> {
        let level = level.to_ascii_uppercase();
        if !LEVELS.contains(&level.as_str()) {
            return Err(ApiError::bad_request(format!(
                "Invalid log level '{level}'; use one of {}",
                LEVELS.join(", ")
            )));
        }
        if name.trim().is_empty() {
            return Err(ApiError::bad_request("A logger name is required"));
        }
        let mut levels = self.levels.lock();
        let mut next = levels.clone();
        let below = |logger: &str| {
            name == ROOT
                || logger == name
                || logger.strip_prefix(name).is_some_and(|rest| rest.starts_with("::") || rest.starts_with('.'))
        };
        let mut changed: Vec<String> = next.keys().filter(|logger| below(logger)).cloned().collect();
        if !changed.iter().any(|l| l == name) {
            changed.push(name.to_string());
        }
        changed.sort();
        for logger in &changed {
            next.insert(logger.clone(), level.clone());
        }
        if let Some(apply) = &self.apply {
            apply(&next).map_err(|e| ApiError::bad_request(format!("cannot set logger {name} to {level}: {e}")))?;
        }
        *levels = next;
        Ok(changed)
    }
}

/// A `tracing_subscriber::EnvFilter` directive string for a level map: the root level first, then
/// `target=level` per logger (`OFF` → `off`, `FATAL` → `error`, `ALL` → `trace`).
pub fn env_filter_directives(levels: &BTreeMap<String, String>) -> String {
    let tracing_level = |level: &str| match level.to_ascii_uppercase().as_str() {
        "OFF" => "off",
        "FATAL" | "ERROR" => "error",
        "WARN" => "warn",
        "DEBUG" => "debug",
        "TRACE" | "ALL" => "trace",
        _ => "info",
    };
    let root = levels.get(ROOT).map_or("info", |l| tracing_level(l));
    let mut out = vec![root.to_string()];
    out.extend(levels.iter().filter(|(name, _)| *name != ROOT).map(|(name, l)| format!("{name}={}", tracing_level(l))));
    out.join(",")
}

/// The level map a `SLUICE_LOG`-style filter starts from: `level` and `target=level` directives; anything more
/// elaborate (spans, fields) is left out of the map, though it stays in effect until a level is set.
pub fn levels_from_filter(filter: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let (name, level) = match directive.split_once('=') {
            Some((target, level)) => (target.trim(), level.trim()),
            None => (ROOT, directive),
        };
        if name.contains(['[', '{']) || !LEVELS.contains(&level.to_ascii_uppercase().as_str()) {
            continue;
        }
        out.insert(name.to_string(), level.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_a_logger_sets_its_descendants_and_reports_them() {
        let initial = levels_from_filter("warn,sluice_connect::runtime=debug,sluice_connect::rest=info,other=info");
        assert_eq!(initial.get(ROOT).map(String::as_str), Some("WARN"));
        let levels = LogLevels::new(initial, None);
        let changed = levels.set("sluice_connect", "trace").expect("valid");
        assert_eq!(changed, vec!["sluice_connect", "sluice_connect::rest", "sluice_connect::runtime"]);
        let now = levels.levels();
        assert_eq!(now["sluice_connect::runtime"], "TRACE");
        assert_eq!(now["other"], "INFO");
        assert_eq!(levels.set(ROOT, "error").expect("valid").len(), now.len());
        assert!(levels.levels().values().all(|l| l == "ERROR"));
    }

    #[test]
    fn bad_levels_and_refused_applies_change_nothing() {
        let refuse: LevelApplier = Arc::new(|_| Err("no".to_string()));
        let levels = LogLevels::new(BTreeMap::new(), Some(refuse));
        assert_eq!(levels.set("x", "LOUD").expect_err("bad level").error_code, 400);
        assert_eq!(levels.set("x", "DEBUG").expect_err("refused").error_code, 400);
        assert_eq!(levels.levels(), BTreeMap::from([(ROOT.to_string(), "INFO".to_string())]));
    }

    #[test]
    fn directives_map_log4j_levels_to_tracing() {
        let levels = BTreeMap::from([
            (ROOT.to_string(), "WARN".to_string()),
            ("a::b".to_string(), "FATAL".to_string()),
            ("c".to_string(), "ALL".to_string()),
        ]);
        assert_eq!(env_filter_directives(&levels), "warn,a::b=error,c=trace");
        let applied = Arc::new(Mutex::new(String::new()));
        let seen = applied.clone();
        let apply: LevelApplier = Arc::new(move |l| {
            *seen.lock() = env_filter_directives(l);
            Ok(())
        });
        LogLevels::new(levels, Some(apply)).set("c", "off").expect("valid");
        assert_eq!(*applied.lock(), "warn,a::b=error,c=off");
    }
}
