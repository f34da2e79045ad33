//! The `sluice` binary: runs a broker, administers topics, and produces and consumes records from a shell.
//!
//! # Layout
//! - [`cli::broker`]: `sluice broker`, an in-process [`sluice_broker::Broker`] that runs until a signal.
//! - [`cli::topic`]: `sluice topic ...`, topic administration through the Kafka admin API.
//! - [`cli::produce`]: `sluice produce`, stdin lines to records.
//! - [`cli::consume`]: `sluice consume`, records to stdout.
//! - [`cli::group`]: `sluice group ...`, consumer-group listing, lag, deletion and offset resets.
//! - [`cli::cluster`]: `sluice cluster describe`, brokers, controller quorum and unhealthy partitions.
//! - [`cli::schema_registry`]: `sluice schema-registry`, the Confluent-compatible schema registry until a signal.
//! - [`cli::connect`]: `sluice connect standalone`, a Kafka Connect worker and its REST API until a signal.
//! - [`cli::bench`]: `sluice bench produce|consume|e2e`, throughput and latency load generators.
//! - [`cli::client`]: what the client commands share: bootstrap address, `-X` passthrough, error wording.
//!
//! Every client command talks Kafka protocol, never broker internals, so it works against any
//! Kafka-compatible cluster: through rdkafka, except `sluice cluster`, whose APIs rdkafka does not expose.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Sluice: a Kafka-compatible streaming platform.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a broker until SIGTERM or SIGINT.
    Broker(cli::broker::BrokerArgs),
    /// Create, list, describe, alter and delete topics.
    Topic(cli::topic::TopicArgs),
    /// Send stdin lines as records to a topic.
    Produce(cli::produce::ProduceArgs),
    /// Print records of a topic to stdout.
    Consume(cli::consume::ConsumeArgs),
    /// List, describe and delete consumer groups and reset their offsets.
    Group(cli::group::GroupArgs),
    /// Measure produce and consume throughput and end-to-end latency against any Kafka cluster.
    Bench(cli::bench::BenchArgs),
    /// Describe a cluster: brokers, controller quorum, under-replicated and offline partitions.
    Cluster(cli::cluster::ClusterArgs),
    /// Run a Confluent-compatible schema registry over a `_schemas` topic until SIGTERM or SIGINT.
    SchemaRegistry(cli::schema_registry::SchemaRegistryArgs),
    /// Run a Kafka Connect worker (`connect standalone WORKER.properties [CONNECTOR...]`) until SIGTERM or SIGINT.
    Connect(cli::connect::ConnectArgs),
}

/// Exit status for a setting the user must fix (bad config), distinct from a runtime failure (1).
const EXIT_BAD_CONFIG: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The broker is a service whose progress is worth seeing; client commands should print only their output
    // unless something goes wrong.
    let default_filter = match cli.command {
        Command::Broker(_) | Command::SchemaRegistry(_) | Command::Connect(_) => "info",
        _ => "warn",
    };
    let log_reload = init_logging(default_filter);

    let result = match cli.command {
        Command::Broker(args) => cli::broker::run(args).await,
        Command::Topic(args) => cli::topic::run(args).await,
        Command::Produce(args) => cli::produce::run(args).await,
        Command::Consume(args) => cli::consume::run(args).await,
        Command::Group(args) => cli::group::run(args).await,
        Command::Bench(args) => cli::bench::run(args).await,
        Command::Cluster(args) => cli::cluster::run(args).await,
        Command::SchemaRegistry(args) => cli::schema_registry::run(args).await,
        Command::Connect(args) => cli::connect::run(args, Some(log_reload)).await,
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", render_error(&err));
            if cli::broker::is_config_error(&err)
                || cli::schema_registry::is_config_error(&err)
                || cli::connect::is_config_error(&err)
            {
                ExitCode::from(EXIT_BAD_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The error and its causes on one line. Many library errors repeat their source's text in their own
/// message (`Io(e)` printed as "I/O error: {e}"), so a cause already shown is not printed twice.
fn render_error(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

/// Logs go to stderr so stdout stays parseable (the broker's ready line, consumed records). The filter sits
/// behind a reload handle so a long-running service can change levels while it runs (`/admin/loggers`).
fn init_logging(default_filter: &str) -> cli::connect::LogReload {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = std::env::var("SLUICE_LOG").unwrap_or_else(|_| default_filter.to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|e| {
        eprintln!("warning: SLUICE_LOG={filter:?} is not a valid log filter ({e}); using {default_filter:?}");
        tracing_subscriber::EnvFilter::new(default_filter)
    });
    let (filter, reload) = tracing_subscriber::reload::Layer::new(filter);
    // Colour only for a person at a terminal who has not opted out; log files and CI want plain text.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi))
        .init();
    reload
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn repeated_causes_are_printed_once() {
        let io = std::io::Error::other("disk on fire");
        let err = anyhow::Error::new(sluice_broker::BrokerError::Io(io)).context("the broker could not start");
        assert_eq!(render_error(&err), "the broker could not start: I/O error: disk on fire");
    }

    #[test]
    fn unknown_subcommand_is_rejected() {
        assert!(Cli::try_parse_from(["sluice", "frobnicate"]).is_err());
    }
}
