//! `sluice connect standalone WORKER.properties [CONNECTOR.properties|CONNECTOR.json ...]`: a Kafka Connect
//! standalone worker, as `connect-standalone.sh` runs one: reads the worker's properties, creates each
//! connector from its file, and serves the Connect REST API until a signal, then stops every task (committing
//! its offsets). `sluice connect distributed WORKER.properties [--listen HOST:PORT]` runs one worker of a
//! distributed cluster (`connect-distributed.sh`): connectors, statuses and offsets live in Kafka topics and the
//! workers sharing `group.id` share the tasks; it prints the same ready line.
//!
//! Stdout carries exactly one line, `sluice connect listening on http://HOST:PORT`, printed once the REST API
//! serves and the connectors of the files exist, so scripts and tests can wait for it and learn the port chosen
//! for `--listen HOST:0`. Logs go to stderr; `/admin/loggers` changes their levels while the worker runs.
//! Stderr also shows how far local tasks are through bounded work (see [`super::progress_line`];
//! `--no-progress` or `SLUICE_NO_PROGRESS=1` turns it off).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use sluice_connect::error::ConnectError;
use sluice_connect::runtime::distributed::DistributedWorker;
use sluice_connect::runtime::herder::Herder;
use sluice_connect::runtime::standalone::loggers::{
    env_filter_directives, levels_from_filter, LevelApplier, LogLevels,
};
use sluice_connect::runtime::standalone::StandaloneWorker;
use sluice_connect::runtime::worker_config::WorkerConfig;
use tokio::signal::unix::{signal, SignalKind};
use tracing_subscriber::EnvFilter;

use super::progress_line::{self, Mode, ProgressArgs};

/// Where the log filter can be replaced while the process runs (`/admin/loggers`).
pub(crate) type LogReload = tracing_subscriber::reload::Handle<EnvFilter, tracing_subscriber::Registry>;

#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    #[command(subcommand)]
    pub(crate) command: ConnectCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConnectCommand {
    /// Run one worker: source offsets in a local file, connectors from files and the REST API.
    Standalone(StandaloneArgs),
    /// Run one worker of a distributed cluster: workers sharing `group.id` keep connectors, statuses and offsets
    /// in Kafka topics and share the tasks; connectors are managed through any worker's REST API.
    Distributed(DistributedArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DistributedArgs {
    /// The worker's Kafka Connect properties (`bootstrap.servers`, `group.id`, `config.storage.topic`,
    /// `offset.storage.topic`, `status.storage.topic`, `listeners` ...).
    #[arg(value_name = "WORKER.properties")]
    pub(crate) worker: PathBuf,
    /// Address the REST API binds, overriding the worker's `listeners`; port 0 lets the OS pick one.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) listen: Option<String>,
    #[command(flatten)]
    pub(crate) progress: ProgressArgs,
}

#[derive(Debug, Args)]
pub(crate) struct StandaloneArgs {
    /// The worker's Kafka Connect properties (`bootstrap.servers`, `listeners`, `offset.storage.file.filename`,
    /// `key.converter`, `producer.*` ...).
    #[arg(value_name = "WORKER.properties")]
    pub(crate) worker: PathBuf,
    /// Connectors to create (or update) at start: Java properties with `name` and `connector.class`, or JSON as
    /// `POST /connectors` takes it.
    #[arg(value_name = "CONNECTOR")]
    pub(crate) connectors: Vec<PathBuf>,
    /// Address the REST API binds, overriding the worker's `listeners`; port 0 lets the OS pick one.
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) listen: Option<String>,
    #[command(flatten)]
    pub(crate) progress: ProgressArgs,
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

impl StandaloneArgs {
    /// The worker's settings: the file, then `--listen`.
    fn config(&self) -> Result<WorkerConfig, ConnectError> {
        let mut config = WorkerConfig::from_file(&self.worker)?;
        if let Some(listen) = &self.listen {
            config.listen = listen.clone();
        }
        config.validate_standalone()?;
        Ok(config)
    }
}

/// True when `err` is a setting the user must fix, which `main` reports with exit status 2.
pub(crate) fn is_config_error(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.is::<ConfigError>() || matches!(cause.downcast_ref::<ConnectError>(), Some(ConnectError::Config { .. }))
    })
}

pub(crate) async fn run(args: ConnectArgs, log_reload: Option<LogReload>) -> anyhow::Result<ExitCode> {
    match args.command {
        ConnectCommand::Standalone(args) => standalone(args, log_reload).await,
        ConnectCommand::Distributed(args) => distributed(args, log_reload).await,
    }
}

/// `host:port` that status answers and other workers use: the advertised host and port when set, else the
/// bound address, with a wildcard host replaced by 127.0.0.1 (a wildcard is not an address to reach).
fn worker_id(config: &WorkerConfig, bound: SocketAddr) -> String {
    let host = match &config.advertised_host {
        Some(host) => host.clone(),
        None if bound.ip().is_unspecified() => "127.0.0.1".to_string(),
        None => bound.ip().to_string(),
    };
    let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host };
    format!("{host}:{}", config.advertised_port.unwrap_or(bound.port()))
}

/// The log levels `/admin/loggers` starts from (`SLUICE_LOG`, else `info`) and, when the subscriber can be
/// reloaded, how a change takes effect.
fn log_levels(log_reload: Option<LogReload>) -> LogLevels {
    let filter = std::env::var("SLUICE_LOG").unwrap_or_else(|_| "info".to_string());
    let apply = log_reload.map(|handle| -> LevelApplier {
        Arc::new(move |levels: &BTreeMap<String, String>| {
            let filter = EnvFilter::try_new(env_filter_directives(levels)).map_err(|e| e.to_string())?;
            handle.reload(filter).map_err(|e| e.to_string())
        })
    });
    LogLevels::new(levels_from_filter(&filter), apply)
}

async fn standalone(args: StandaloneArgs, log_reload: Option<LogReload>) -> anyhow::Result<ExitCode> {
    let config = args.config()?;

    // Installed before the ready line is printed, so a supervisor that signals right after reading it is not
    // killed by the default handler mid-startup.
    let mut sigterm = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;

    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {} for the REST API", config.listen))?;
    let bound = listener.local_addr().context("cannot read the REST listener's address")?;
    let id = worker_id(&config, bound);

    // Start-up waits for the Kafka cluster to answer; a signal ends the wait.
    let worker = tokio::select! {
        started = StandaloneWorker::start(config, id, log_levels(log_reload)) => {
            started.context("the connect worker could not start")?
        }
        _ = sigterm.recv() => return Ok(stopped_while_starting("SIGTERM")),
        _ = sigint.recv() => return Ok(stopped_while_starting("SIGINT")),
    };
    for path in &args.connectors {
        if let Err(e) = worker.create_from_file(path).await {
            // As connect-standalone does: a connector that cannot be created from its file stops the worker.
            worker.shutdown().await;
            return Err(anyhow::Error::new(e).context(format!("cannot create the connector of {}", path.display())));
        }
    }

    let herder: Arc<dyn Herder> = worker.clone();
    let progress = Mode::for_stderr(&args.progress);
    serve_until_signal(listener, bound, herder, progress, sigterm, sigint, worker.shutdown()).await
}

/// Serves the REST API, prints the ready line, and waits for a signal (or a failing REST API); then runs
/// `shutdown` (tasks stop first, committing their offsets, while the REST API still answers) and stops serving.
/// Meanwhile stderr shows the tasks' progress in the given mode (none when `None`).
async fn serve_until_signal(
    listener: tokio::net::TcpListener,
    bound: SocketAddr,
    herder: Arc<dyn Herder>,
    progress: Option<Mode>,
    mut sigterm: tokio::signal::unix::Signal,
    mut sigint: tokio::signal::unix::Signal,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<ExitCode> {
    let (stop_serving, stopped) = tokio::sync::oneshot::channel::<()>();
    let (stop_progress, progress_stopped) = tokio::sync::oneshot::channel::<()>();
    let progress_line = progress.map(|mode| tokio::spawn(progress_line::show(herder.clone(), mode, progress_stopped)));
    let mut server = tokio::spawn(sluice_connect::rest::serve(listener, herder, async {
        let _ = stopped.await;
    }));
    let ready = format!("sluice connect listening on http://{bound}");
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (the reader went away) must not stop the worker; the line is only a courtesy then.
    if let Err(e) = writeln!(stdout, "{ready}").and_then(|()| stdout.flush()) {
        tracing::warn!(error = %e, "could not write the ready line to stdout");
    }
    drop(stdout);

    let outcome: Result<&str, anyhow::Error> = tokio::select! {
        _ = sigterm.recv() => Ok("SIGTERM"),
        _ = sigint.recv() => Ok("SIGINT"),
        served = &mut server => Err(match served {
            Ok(Ok(())) => anyhow::anyhow!("the REST API stopped unexpectedly"),
            Ok(Err(e)) => anyhow::Error::new(e).context("the REST API failed"),
            Err(e) => anyhow::Error::new(e).context("the REST API task failed"),
        }),
    };
    match &outcome {
        Ok(signal_name) => tracing::info!(signal = signal_name, "shutting down"),
        Err(error) => tracing::error!(error = %format!("{error:#}"), "shutting down"),
    }
    // The line goes (cleared at a terminal) before the shutdown logs.
    let _ = stop_progress.send(());
    if let Some(line) = progress_line {
        let _ = line.await;
    }
    // Tasks stop first (committing their offsets) while the REST API still answers status calls.
    shutdown.await;
    let _ = stop_serving.send(());
    if !server.is_finished() {
        match tokio::time::timeout(std::time::Duration::from_secs(10), server).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the REST API did not stop cleanly"),
            Ok(_) => {}
            Err(_) => tracing::warn!("the REST API did not stop within 10 s"),
        }
    }
    outcome.map(|_| ExitCode::SUCCESS).context("the connect worker stopped")
}

/// `sluice connect distributed`: one worker of a distributed cluster, until a signal; then it leaves the group
/// (its tasks stop, committing offsets, and move to the other workers).
async fn distributed(args: DistributedArgs, log_reload: Option<LogReload>) -> anyhow::Result<ExitCode> {
    let mut config = WorkerConfig::from_file(&args.worker)?;
    if let Some(listen) = &args.listen {
        config.listen = listen.clone();
    }
    let mut sigterm = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {} for the REST API", config.listen))?;
    let bound = listener.local_addr().context("cannot read the REST listener's address")?;
    let id = worker_id(&config, bound);
    let worker = tokio::select! {
        started = DistributedWorker::start(config, id, log_levels(log_reload)) => {
            started.context("the connect worker could not start")?
        }
        _ = sigterm.recv() => return Ok(stopped_while_starting("SIGTERM")),
        _ = sigint.recv() => return Ok(stopped_while_starting("SIGINT")),
    };
    let herder: Arc<dyn Herder> = worker.clone();
    let progress = Mode::for_stderr(&args.progress);
    serve_until_signal(listener, bound, herder, progress, sigterm, sigint, worker.shutdown()).await
}

fn stopped_while_starting(signal_name: &str) -> ExitCode {
    tracing::info!(signal = signal_name, "stopped while starting");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn parse(args: &[&str]) -> StandaloneArgs {
        let cli = Cli::try_parse_from(std::iter::once("sluice").chain(args.iter().copied())).expect("valid args");
        match cli.command {
            Command::Connect(ConnectArgs { command: ConnectCommand::Standalone(args) }) => args,
            other => panic!("expected connect standalone, got {other:?}"),
        }
    }

    #[test]
    fn standalone_takes_a_worker_file_connector_files_and_a_listen_override() {
        let args =
            parse(&["connect", "standalone", "w.properties", "a.properties", "b.json", "--listen", "127.0.0.1:0"]);
        assert_eq!(args.worker, PathBuf::from("w.properties"));
        assert_eq!(args.connectors, vec![PathBuf::from("a.properties"), PathBuf::from("b.json")]);
        assert_eq!(args.listen.as_deref(), Some("127.0.0.1:0"));
        assert!(parse(&["connect", "standalone", "w.properties"]).connectors.is_empty());
        assert!(Cli::try_parse_from(["sluice", "connect", "standalone"]).is_err(), "the worker file is required");
        assert!(Cli::try_parse_from(["sluice", "connect"]).is_err(), "a mode is required");
        assert!(Cli::try_parse_from(["sluice", "connect", "distributed"]).is_err(), "distributed needs a worker file");
    }

    #[test]
    fn distributed_takes_a_worker_file_and_a_listen_override() {
        let cli = Cli::try_parse_from(["sluice", "connect", "distributed", "w.properties", "--listen", "127.0.0.1:0"])
            .expect("parses");
        match cli.command {
            Command::Connect(ConnectArgs { command: ConnectCommand::Distributed(args) }) => {
                assert_eq!(args.worker, PathBuf::from("w.properties"));
                assert_eq!(args.listen.as_deref(), Some("127.0.0.1:0"));
            }
            other => panic!("not connect distributed: {other:?}"),
        }
    }

    #[test]
    fn the_progress_line_can_be_turned_off_in_both_modes() {
        assert!(!parse(&["connect", "standalone", "w.properties"]).progress.no_progress);
        assert!(parse(&["connect", "standalone", "w.properties", "--no-progress"]).progress.no_progress);
        let cli =
            Cli::try_parse_from(["sluice", "connect", "distributed", "w.properties", "--no-progress"]).expect("parses");
        match cli.command {
            Command::Connect(ConnectArgs { command: ConnectCommand::Distributed(args) }) => {
                assert!(args.progress.no_progress);
                assert_eq!(Mode::for_stderr(&args.progress), None);
            }
            other => panic!("not connect distributed: {other:?}"),
        }
    }

    #[test]
    fn the_listen_flag_overrides_the_worker_listeners() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("worker.properties");
        std::fs::write(
            &file,
            "bootstrap.servers=b:9092\nlisteners=http://0.0.0.0:8083\noffset.storage.file.filename=/tmp/o\n",
        )
        .expect("write");
        let file = file.to_str().expect("utf-8 path");
        assert_eq!(parse(&["connect", "standalone", file]).config().expect("valid").listen, "0.0.0.0:8083");
        let config = parse(&["connect", "standalone", file, "--listen", "127.0.0.1:0"]).config().expect("valid");
        assert_eq!(config.listen, "127.0.0.1:0");
        assert_eq!(config.bootstrap_servers, "b:9092");
    }

    #[test]
    fn bad_worker_files_are_config_errors_naming_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("worker.properties");
        std::fs::write(&file, "bootstrap.servers=b:9092\noffset.flush.interval.ms=often\n").expect("write");
        let args = parse(&["connect", "standalone", file.to_str().expect("utf-8 path")]);
        let err = anyhow::Error::from(args.config().expect_err("bad interval"));
        assert!(is_config_error(&err));
        let text = format!("{err:#}");
        assert!(text.contains("worker.properties, line 2") && text.contains("offset.flush.interval.ms"), "{text}");

        std::fs::write(&file, "bootstrap.servers=b:9092\n").expect("write");
        let err = anyhow::Error::from(args.config().expect_err("no offsets file"));
        assert!(is_config_error(&err) && format!("{err:#}").contains("offset.storage.file.filename"), "{err:#}");
    }

    #[test]
    fn the_worker_id_is_the_advertised_or_reachable_address() {
        let bound: SocketAddr = "0.0.0.0:8083".parse().expect("addr");
        assert_eq!(worker_id(&WorkerConfig::default(), bound), "127.0.0.1:8083");
        let bound: SocketAddr = "10.1.2.3:41000".parse().expect("addr");
        assert_eq!(worker_id(&WorkerConfig::default(), bound), "10.1.2.3:41000");
        let config =
            WorkerConfig { advertised_host: Some("connect-1".into()), advertised_port: Some(80), ..Default::default() };
        assert_eq!(worker_id(&config, bound), "connect-1:80");
        let bound: SocketAddr = "[::1]:8083".parse().expect("addr");
        assert_eq!(worker_id(&WorkerConfig::default(), bound), "[::1]:8083");
    }
}
