//! `sluice broker`: loads the broker config (file, then `SLUICE_*` variables, then flags), runs until a signal.
//!
//! Stdout carries exactly one line, `sluice broker listening on <addr>`, printed once the listener is bound,
//! so scripts and tests can wait for it and learn the port chosen for `--listen HOST:0`. Logs go to stderr.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use sluice_broker::config::ConfigError;
use sluice_broker::{Broker, BrokerConfig, BrokerError};
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, Args)]
pub(crate) struct BrokerArgs {
    /// TOML config file; its keys are the broker settings (see `BrokerConfig`). `SLUICE_*` environment
    /// variables override it, and these flags override both.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Directory holding topic metadata and partition logs (setting `data_dir`).
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Address to accept Kafka connections on; port 0 lets the OS pick one (setting `listen`).
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) listen: Option<String>,
    /// Address clients are told to connect to; defaults to the bound listen address
    /// (setting `advertised_listener`).
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) advertised_listener: Option<String>,
    /// This broker's node id, reported in metadata (setting `node_id`).
    #[arg(long, value_name = "N")]
    pub(crate) node_id: Option<i32>,
    /// The controller quorum voters, `ID@HOST:PORT,...`; turns on cluster mode, and this node is a
    /// controller when its `--node-id` is listed (setting `controller_quorum`).
    #[arg(long, value_name = "ID@HOST:PORT,...")]
    pub(crate) controller_quorum: Option<String>,
    /// Address this node's controller listener binds; defaults to its own entry in the quorum. Differs from
    /// that entry when the quorum names a proxy or NAT address (setting `controller_listen`).
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) controller_listen: Option<String>,
    /// Local IP that connections to other nodes (Raft, heartbeats, replica fetches) leave from
    /// (setting `bind_outbound`).
    #[arg(long, value_name = "IP")]
    pub(crate) bind_outbound: Option<IpAddr>,
    /// This broker's rack, for rack-aware replica placement (setting `rack`, Kafka's `broker.rack`).
    #[arg(long, value_name = "RACK")]
    pub(crate) rack: Option<String>,
    /// What this node of a cluster is: `broker`, `controller` or both (the default, combined mode); a
    /// broker-only node is not a voter and needs `--controller-listen` (setting `process_roles`).
    #[arg(long, value_name = "ROLE,...", value_delimiter = ',')]
    pub(crate) process_roles: Option<Vec<String>>,
}

impl BrokerArgs {
    /// Builds the effective config: file and environment via [`BrokerConfig::load`], then these flags.
    fn config(&self, env: impl IntoIterator<Item = (String, String)>) -> Result<BrokerConfig, ConfigError> {
        let mut config = BrokerConfig::load(self.config.as_deref(), env)?;
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(listen) = &self.listen {
            config.listen = listen.clone();
        }
        if let Some(adv) = &self.advertised_listener {
            config.advertised_listener = Some(adv.clone());
        }
        if let Some(id) = self.node_id {
            config.node_id = id;
        }
        if let Some(quorum) = &self.controller_quorum {
            config.controller_quorum = Some(quorum.clone());
        }
        if let Some(listen) = &self.controller_listen {
            config.controller_listen = Some(listen.clone());
        }
        if let Some(ip) = &self.bind_outbound {
            config.bind_outbound = Some(ip.to_string());
        }
        if let Some(rack) = &self.rack {
            config.rack = Some(rack.clone());
        }
        if let Some(roles) = &self.process_roles {
            config.process_roles = roles.iter().map(|r| r.trim().to_string()).collect();
        }
        // Flags can break what the file and environment had right, so check the final result again.
        config.validate()?;
        Ok(config)
    }
}

/// True when `err` is a setting the user must fix, which `main` reports with exit status 2.
pub(crate) fn is_config_error(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.is::<ConfigError>() || matches!(cause.downcast_ref::<BrokerError>(), Some(BrokerError::Config(_)))
    })
}

pub(crate) async fn run(args: BrokerArgs) -> anyhow::Result<ExitCode> {
    let config = args.config(std::env::vars())?;

    // Installed before the ready line is printed, so a supervisor that signals right after reading it is
    // not killed by the default handler mid-startup.
    let mut sigterm = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;

    let handle = Broker::start(config).await.context("the broker could not start")?;
    let ready = format!("sluice broker listening on {}", handle.local_addr());
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (e.g. the reader went away) must not stop the broker; the line is only a courtesy then.
    if let Err(e) = writeln!(stdout, "{ready}").and_then(|()| stdout.flush()) {
        tracing::warn!(error = %e, "could not write the ready line to stdout");
    }
    drop(stdout);

    let signal_name = tokio::select! {
        _ = sigterm.recv() => "SIGTERM",
        _ = sigint.recv() => "SIGINT",
    };
    tracing::info!(signal = signal_name, "shutting down");
    handle
        .shutdown()
        .await
        .context("the broker did not shut down cleanly; logs will be recovered on the next start")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn parse(args: &[&str]) -> BrokerArgs {
        let cli = Cli::try_parse_from(std::iter::once("sluice").chain(args.iter().copied())).expect("valid args");
        match cli.command {
            Command::Broker(args) => args,
            other => panic!("expected broker, got {other:?}"),
        }
    }

    #[test]
    fn flags_override_file_and_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("broker.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:1111\"\nnode_id = 5\n").expect("write config");
        let file = file.to_str().expect("utf-8 path");
        let args = parse(&["broker", "--config", file, "--listen", "127.0.0.1:0", "--data-dir", "/tmp/x"]);
        let env = [("SLUICE_NODE_ID".to_string(), "7".to_string())];
        let config = args.config(env).expect("valid config");
        assert_eq!(config.listen, "127.0.0.1:0");
        assert_eq!(config.node_id, 7, "environment overrides the file");
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));

        let args = parse(&["broker", "--config", file, "--node-id", "9"]);
        let config = args.config(Vec::new()).expect("valid config");
        assert_eq!(config.node_id, 9, "flags override the file");
        assert_eq!(config.listen, "127.0.0.1:1111");
    }

    #[test]
    fn bad_flag_value_is_a_config_error() {
        let args = parse(&["broker", "--advertised-listener", "nohost"]);
        let err = anyhow::Error::from(args.config(Vec::new()).expect_err("bad advertised listener"));
        assert!(is_config_error(&err));
        assert!(format!("{err:#}").contains("advertised_listener"), "{err:#}");
    }

    #[test]
    fn cluster_flags_set_the_cluster_settings() {
        let quorum = "1@127.0.1.1:9093,2@127.0.1.2:9093,3@127.0.1.3:9093";
        let args = parse(&[
            "broker",
            "--node-id",
            "2",
            "--controller-quorum",
            quorum,
            "--controller-listen",
            "127.0.1.2:19093",
            "--bind-outbound",
            "127.0.1.2",
            "--rack",
            "r2",
        ]);
        let env = [("SLUICE_RACK".to_string(), "from-env".to_string())];
        let config = args.config(env).expect("valid config");
        assert_eq!(config.node_id, 2);
        assert_eq!(config.controller_quorum.as_deref(), Some(quorum));
        assert_eq!(config.controller_listen.as_deref(), Some("127.0.1.2:19093"));
        assert_eq!(config.bind_outbound.as_deref(), Some("127.0.1.2"));
        assert_eq!(config.rack.as_deref(), Some("r2"), "the flag overrides the environment");
    }

    #[test]
    fn cluster_settings_come_from_the_environment_without_flags() {
        let args = parse(&["broker"]);
        let env = [
            ("SLUICE_CONTROLLER_QUORUM".to_string(), "1@127.0.0.1:9093".to_string()),
            ("SLUICE_BIND_OUTBOUND".to_string(), "127.0.0.1".to_string()),
        ];
        let config = args.config(env).expect("valid config");
        assert_eq!(config.controller_quorum.as_deref(), Some("1@127.0.0.1:9093"));
        assert_eq!(config.bind_outbound.as_deref(), Some("127.0.0.1"));
        assert_eq!(config.controller_listen, None);
        assert_eq!(config.rack, None);
    }

    #[test]
    fn malformed_quorum_flag_is_a_config_error() {
        let args = parse(&["broker", "--controller-quorum", "1@nohostport"]);
        let err = anyhow::Error::from(args.config(Vec::new()).expect_err("bad quorum"));
        assert!(is_config_error(&err));
        assert!(format!("{err:#}").contains("controller_quorum"), "{err:#}");
    }

    #[test]
    fn process_roles_flag_makes_a_broker_only_learner() {
        let quorum = "1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095";
        let args = parse(&[
            "broker",
            "--node-id",
            "4",
            "--controller-quorum",
            quorum,
            "--controller-listen",
            "127.0.0.1:9096",
            "--process-roles",
            "broker",
        ]);
        let config = args.config(Vec::new()).expect("valid config");
        assert_eq!(config.process_roles, vec!["broker"]);
        let args =
            parse(&["broker", "--node-id", "4", "--controller-quorum", quorum, "--process-roles", "broker,controller"]);
        let err = anyhow::Error::from(args.config(Vec::new()).expect_err("node 4 is no voter"));
        assert!(is_config_error(&err));
        assert!(format!("{err:#}").contains("not a voter"), "{err:#}");
    }

    #[test]
    fn non_numeric_node_id_and_non_ip_bind_are_rejected_by_clap() {
        assert!(crate::Cli::try_parse_from(["sluice", "broker", "--node-id", "one"]).is_err());
        assert!(crate::Cli::try_parse_from(["sluice", "broker", "--bind-outbound", "127.0.1.2:80"]).is_err());
    }
}
