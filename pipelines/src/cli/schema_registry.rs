//! `sluice schema-registry`: loads the registry config (file, then `SLUICE_SR_*` variables, then flags), serves
//! the Confluent Schema Registry REST API over a `_schemas` topic of any Kafka cluster until a signal.
//!
//! Stdout carries exactly one line, `sluice schema-registry listening on http://HOST:PORT`, printed once the
//! registry has read its topic and answers requests, so scripts and tests can wait for it and learn the port
//! chosen for `--listen HOST:0`. Logs go to stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use sluice_schema_registry::server::SchemaRegistry;
use sluice_schema_registry::{RegistryConfig, RegistryError};
use tokio::signal::unix::{signal, SignalKind};

use crate::cli::client::parse_key_value;

/// The prefix of the environment variables that set registry settings: `SLUICE_SR_<SETTING>`.
const ENV_PREFIX: &str = "SLUICE_SR_";

#[derive(Debug, Args)]
pub(crate) struct SchemaRegistryArgs {
    /// TOML config file; its keys are the registry settings (see `RegistryConfig`: `bootstrap_servers`,
    /// `listen`, `topic`, `basic_auth`, `kafka`, ...). `SLUICE_SR_*` environment variables override it, and
    /// these flags override both.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Kafka cluster holding the schemas topic; more brokers comma-separated (setting `bootstrap_servers`).
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) bootstrap_servers: Option<String>,
    /// Address the REST API binds; default 0.0.0.0:8081, port 0 lets the OS pick one (setting `listen`).
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) listen: Option<String>,
    /// URL other registry instances forward writes to; defaults to `http://<bound address>`, with a wildcard
    /// address replaced by 127.0.0.1 (setting `advertised_url`).
    #[arg(long, value_name = "URL")]
    pub(crate) advertised_url: Option<String>,
    /// The compacted single-partition topic holding the schemas; default `_schemas` (setting `topic`).
    #[arg(long, value_name = "TOPIC")]
    pub(crate) topic: Option<String>,
    /// Group in which instances sharing the topic elect their single writer; default `schema-registry`
    /// (setting `group_id`).
    #[arg(long, value_name = "GROUP")]
    pub(crate) group_id: Option<String>,
    /// librdkafka property for every client of the registry, e.g. `-X security.protocol=ssl`; repeatable;
    /// added to the `kafka` table of the config file (setting `kafka`).
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub(crate) extra: Vec<(String, String)>,
}

/// A setting the user must fix; `main` exits with status 2 on it.
#[derive(Debug)]
pub(crate) struct ConfigError(String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl SchemaRegistryArgs {
    /// Builds the effective config: defaults, the file, `SLUICE_SR_*` variables from `env`, then these flags.
    fn config(&self, env: impl IntoIterator<Item = (String, String)>) -> Result<RegistryConfig, ConfigError> {
        let mut config = match &self.config {
            Some(path) => from_file(path)?,
            None => RegistryConfig::default(),
        };
        for (key, value) in env {
            apply_env(&mut config, &key, &value)?;
        }
        if let Some(servers) = &self.bootstrap_servers {
            config.bootstrap_servers = servers.clone();
        }
        if let Some(listen) = &self.listen {
            config.listen = listen.clone();
        }
        if let Some(url) = &self.advertised_url {
            config.advertised_url = Some(url.clone());
        }
        if let Some(topic) = &self.topic {
            config.topic = topic.clone();
        }
        if let Some(group) = &self.group_id {
            config.group_id = group.clone();
        }
        for (key, value) in &self.extra {
            config.kafka.insert(key.clone(), value.clone());
        }
        config.validate().map_err(|e| ConfigError(e.to_string()))?;
        Ok(config)
    }
}

/// Parses a TOML config file; errors carry the file, line and key that is wrong.
fn from_file(path: &Path) -> Result<RegistryConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        // For an unknown key the parser points at the table holding it; the key's own line is more useful.
        let line = unknown_key_line(&text, e.message())
            .or_else(|| e.span().map(|span| text[..span.start].lines().count().max(1)))
            .map(|line| format!("line {line}: "))
            .unwrap_or_default();
        ConfigError(format!("config file {}: {line}{}", path.display(), e.message()))
    })
}

/// The line (from 1) of the first `key = ...` naming the key an "unknown field `key`" message is about.
fn unknown_key_line(text: &str, message: &str) -> Option<usize> {
    let key = message.strip_prefix("unknown field `")?.split('`').next()?;
    let quoted = format!("\"{key}\"");
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            let rest = line.strip_prefix(key).or_else(|| line.strip_prefix(quoted.as_str()));
            rest.is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|index| index + 1)
}

/// Applies one `SLUICE_SR_<SETTING>` variable (upper-case setting name); other variables are ignored, and a
/// misspelt `SLUICE_SR_` one is an error rather than a silent default. `basic_auth` and `kafka` are tables,
/// set in the file (and `kafka` with `-X`).
fn apply_env(config: &mut RegistryConfig, key: &str, value: &str) -> Result<(), ConfigError> {
    let Some(setting) = key.strip_prefix(ENV_PREFIX) else { return Ok(()) };
    let invalid = |message: String| ConfigError(format!("environment variable {key}: {message}"));
    let number = |v: &str| v.parse::<u64>().map_err(|e| invalid(format!("{v:?} is not a number of ms: {e}")));
    match setting {
        "BOOTSTRAP_SERVERS" => config.bootstrap_servers = value.to_string(),
        "LISTEN" => config.listen = value.to_string(),
        "ADVERTISED_URL" => config.advertised_url = Some(value.to_string()),
        "TOPIC" => config.topic = value.to_string(),
        "TOPIC_REPLICATION_FACTOR" => {
            config.topic_replication_factor =
                Some(value.parse().map_err(|e| invalid(format!("{value:?} is not a replication factor: {e}")))?)
        }
        "GROUP_ID" => config.group_id = value.to_string(),
        "LEADER_ELIGIBILITY" => {
            config.leader_eligibility = match value {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(invalid(format!("expected true or false, got {value:?}"))),
            }
        }
        "DEFAULT_COMPATIBILITY" => config.default_compatibility = value.parse().map_err(invalid)?,
        "WRITE_TIMEOUT_MS" => config.write_timeout_ms = number(value)?,
        "INIT_TIMEOUT_MS" => config.init_timeout_ms = number(value)?,
        "SESSION_TIMEOUT_MS" => config.session_timeout_ms = number(value)?,
        _ => {
            return Err(invalid(
                "no such setting; the SLUICE_SR_ variables are BOOTSTRAP_SERVERS, LISTEN, ADVERTISED_URL, TOPIC, \
                 TOPIC_REPLICATION_FACTOR, GROUP_ID, LEADER_ELIGIBILITY, DEFAULT_COMPATIBILITY, WRITE_TIMEOUT_MS, \
                 INIT_TIMEOUT_MS and SESSION_TIMEOUT_MS"
                    .to_string(),
            ))
        }
    }
    Ok(())
}

/// True when `err` is a setting the user must fix, which `main` reports with exit status 2.
pub(crate) fn is_config_error(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.is::<ConfigError>() || matches!(cause.downcast_ref::<RegistryError>(), Some(RegistryError::Config(_)))
    })
}

pub(crate) async fn run(args: SchemaRegistryArgs) -> anyhow::Result<ExitCode> {
    let config = args.config(std::env::vars())?;

    // Installed before the ready line is printed, so a supervisor that signals right after reading it is not
    // killed by the default handler mid-startup.
    let mut sigterm = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;

    // Start-up may wait long for an unreachable cluster (init_timeout_ms); a signal ends the wait.
    let mut handle = tokio::select! {
        started = SchemaRegistry::start(config) => started.context("the schema registry could not start")?,
        _ = sigterm.recv() => return Ok(stopped_while_starting("SIGTERM")),
        _ = sigint.recv() => return Ok(stopped_while_starting("SIGINT")),
    };
    let ready = format!("sluice schema-registry listening on http://{}", handle.local_addr());
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (the reader went away) must not stop the registry; the line is only a courtesy then.
    if let Err(e) = writeln!(stdout, "{ready}").and_then(|()| stdout.flush()) {
        tracing::warn!(error = %e, "could not write the ready line to stdout");
    }
    drop(stdout);

    let outcome = tokio::select! {
        _ = sigterm.recv() => Ok("SIGTERM"),
        _ = sigint.recv() => Ok("SIGINT"),
        error = handle.serve_error() => Err(error),
    };
    match outcome {
        Ok(signal_name) => tracing::info!(signal = signal_name, "shutting down"),
        Err(ref error) => tracing::error!(%error, "the REST API stopped; shutting down"),
    }
    handle.shutdown().await;
    outcome.map(|_| ExitCode::SUCCESS).context("the schema registry stopped serving")
}

fn stopped_while_starting(signal_name: &str) -> ExitCode {
    tracing::info!(signal = signal_name, "stopped while starting");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use sluice_schema_registry::types::CompatibilityLevel;

    use super::*;
    use crate::{Cli, Command};

    fn parse(args: &[&str]) -> SchemaRegistryArgs {
        let cli = Cli::try_parse_from(std::iter::once("sluice").chain(args.iter().copied())).expect("valid args");
        match cli.command {
            Command::SchemaRegistry(args) => args,
            other => panic!("expected schema-registry, got {other:?}"),
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn flags_override_environment_which_overrides_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("registry.toml");
        std::fs::write(
            &file,
            "bootstrap_servers = \"file:9092\"\nlisten = \"127.0.0.1:1111\"\ntopic = \"from_file\"\n\
             default_compatibility = \"FULL\"\n[kafka]\n\"security.protocol\" = \"plaintext\"\n\
             [[basic_auth]]\nusername = \"u\"\npassword = \"p\"\n",
        )
        .expect("write config");
        let file = file.to_str().expect("utf-8 path");

        let args = parse(&["schema-registry", "--config", file, "--listen", "127.0.0.1:0", "-X", "client.rack=r1"]);
        let config = args
            .config(env(&[("SLUICE_SR_TOPIC", "from_env"), ("SLUICE_SR_LISTEN", "127.0.0.1:2222")]))
            .expect("valid config");
        assert_eq!(config.bootstrap_servers, "file:9092");
        assert_eq!(config.listen, "127.0.0.1:0", "the flag overrides the environment");
        assert_eq!(config.topic, "from_env", "the environment overrides the file");
        assert_eq!(config.default_compatibility, CompatibilityLevel::Full);
        assert_eq!(config.basic_auth.len(), 1);
        assert_eq!(config.kafka.get("security.protocol").map(String::as_str), Some("plaintext"));
        assert_eq!(config.kafka.get("client.rack").map(String::as_str), Some("r1"));

        let args = parse(&["schema-registry", "--bootstrap-servers", "b:1", "--group-id", "g", "--topic", "t"]);
        let config = args.config(Vec::new()).expect("valid config");
        assert_eq!((config.bootstrap_servers.as_str(), config.group_id.as_str()), ("b:1", "g"));
        assert_eq!(config.topic, "t");
        assert_eq!(config.listen, "0.0.0.0:8081", "the default port is Confluent's");
    }

    #[test]
    fn a_misspelt_file_key_is_a_config_error_naming_file_line_and_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("registry.toml");
        std::fs::write(&file, "topic = \"_schemas\"\nbootstrap_server = \"x:1\"\n").expect("write config");
        let args = parse(&["schema-registry", "--config", file.to_str().expect("utf-8 path")]);
        let err = anyhow::Error::from(args.config(Vec::new()).expect_err("unknown key"));
        assert!(is_config_error(&err));
        let text = format!("{err:#}");
        assert!(
            text.contains("registry.toml") && text.contains("line 2") && text.contains("bootstrap_server"),
            "{text}"
        );
    }

    #[test]
    fn bad_environment_and_flag_values_are_config_errors() {
        let args = parse(&["schema-registry"]);
        for (key, value, expected) in [
            ("SLUICE_SR_LEADER_ELIGIBILITY", "maybe", "true or false"),
            ("SLUICE_SR_DEFAULT_COMPATIBILITY", "sideways", "compatibility"),
            ("SLUICE_SR_WRITE_TIMEOUT_MS", "soon", "number"),
            ("SLUICE_SR_TOPICS", "x", "no such setting"),
        ] {
            let err = anyhow::Error::from(args.config(env(&[(key, value)])).expect_err(key));
            assert!(is_config_error(&err), "{key}");
            assert!(format!("{err:#}").contains(expected) && format!("{err:#}").contains(key), "{err:#}");
        }
        assert!(args.config(env(&[("SLUICE_LOG", "debug"), ("SLUICE_SR_LEADER_ELIGIBILITY", "false")])).is_ok());

        let args = parse(&["schema-registry", "--advertised-url", "10.0.0.1:8081"]);
        let err = anyhow::Error::from(args.config(Vec::new()).expect_err("no scheme"));
        assert!(is_config_error(&err));
        assert!(format!("{err:#}").contains("advertised_url"), "{err:#}");
    }
}
