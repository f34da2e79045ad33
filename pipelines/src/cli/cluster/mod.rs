//! `sluice cluster ...`: what a replicated cluster looks like right now: its brokers, the controller quorum, and
//! the partitions that are under-replicated or offline.
//!
//! - [`fetch`]: asks one broker over the Kafka protocol (ApiVersions, Metadata, DescribeCluster,
//!   DescribeQuorum). rdkafka exposes none of the last two, so this command speaks the protocol itself.
//! - [`view`]: turns the answers into the report, as a table or JSON.

mod fetch;
mod view;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::emit;

#[derive(Debug, Args)]
pub(crate) struct ClusterArgs {
    #[command(subcommand)]
    pub(crate) command: ClusterCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClusterCommand {
    /// Show the brokers (id, address, rack), the controller quorum (voters, leader, term) and every partition
    /// that is under-replicated (ISR smaller than its replicas) or offline (no leader).
    Describe(DescribeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DescribeArgs {
    /// Brokers to ask, comma-separated; the first that answers is used.
    #[arg(
        short = 'b',
        long = "bootstrap-servers",
        visible_alias = "bootstrap-server",
        env = "SLUICE_BOOTSTRAP",
        default_value = "127.0.0.1:9092",
        value_name = "HOST:PORT"
    )]
    pub(crate) bootstrap_servers: String,
    /// Print one JSON document instead of tables, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
    /// How long connecting and each request may take, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) timeout_ms: u64,
}

pub(crate) async fn run(args: ClusterArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ClusterCommand::Describe(args) => describe(args).await,
    }
}

async fn describe(args: DescribeArgs) -> anyhow::Result<ExitCode> {
    let answers = fetch::gather(&args.bootstrap_servers, Duration::from_millis(args.timeout_ms)).await?;
    let report = view::ClusterView::from_answers(&answers);
    if args.json {
        let mut text = serde_json::to_string_pretty(&report)?;
        text.push('\n');
        emit(text)?;
    } else {
        emit(report.render())?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn parse(args: &[&str]) -> DescribeArgs {
        let cli = Cli::try_parse_from(std::iter::once("sluice").chain(args.iter().copied())).expect("valid args");
        match cli.command {
            Command::Cluster(ClusterArgs { command: ClusterCommand::Describe(args) }) => args,
            other => panic!("expected cluster describe, got {other:?}"),
        }
    }

    #[test]
    fn describe_takes_bootstrap_servers_and_json() {
        let args = parse(&["cluster", "describe", "--bootstrap-servers", "127.0.1.1:9092,127.0.1.2:9092", "--json"]);
        assert_eq!(args.bootstrap_servers, "127.0.1.1:9092,127.0.1.2:9092");
        assert!(args.json);
        let args = parse(&["cluster", "describe", "-b", "h:1"]);
        assert_eq!(args.bootstrap_servers, "h:1");
        assert!(!args.json);
        let args = parse(&["cluster", "describe", "--bootstrap-server", "h:2", "--timeout-ms", "500"]);
        assert_eq!((args.bootstrap_servers.as_str(), args.timeout_ms), ("h:2", 500));
    }

    /// A single broker (no quorum) described over the wire: itself as the only broker, nothing under-replicated.
    #[tokio::test]
    async fn describes_a_running_broker() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = sluice_broker::BrokerConfig {
            listen: "127.0.0.1:0".into(),
            data_dir: dir.path().to_path_buf(),
            node_id: 4,
            ..Default::default()
        };
        let broker = sluice_broker::Broker::start(config).await.expect("broker starts");
        let addr = broker.local_addr().to_string();

        // An address nobody listens on first: the next bootstrap address is used.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
        let answers = fetch::gather(&format!("{closed},{addr}"), Duration::from_secs(10)).await.expect("describe");
        let report = view::ClusterView::from_answers(&answers);
        broker.shutdown().await.expect("clean shutdown");

        assert_eq!(report.answered_by, addr);
        let brokers: Vec<_> =
            report.brokers.iter().map(|b| (b.id, format!("{}:{}", b.host, b.port), b.fenced)).collect();
        assert_eq!(brokers, [(4, addr.clone(), false)]);
        assert_eq!(report.controller_id, Some(4));
        assert!(report.under_replicated.is_empty() && report.offline.is_empty(), "{report:?}");
        // Without a quorum a broker describes itself as the only voter, and the leader.
        let quorum = report.quorum.as_ref().expect("DescribeQuorum is served");
        assert_eq!((quorum.leader, quorum.error.as_deref()), (Some(4), None), "{quorum:?}");
        assert_eq!(quorum.voters.iter().map(|v| v.id).collect::<Vec<_>>(), [4], "{quorum:?}");
        assert!(report.render().contains(&format!("4   {addr}")), "{}", report.render());
    }

    #[tokio::test]
    async fn no_reachable_broker_is_an_error_naming_each_address() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
        let err = fetch::gather(&closed.to_string(), Duration::from_secs(2)).await.expect_err("nobody listens");
        let text = format!("{err:#}");
        assert!(text.contains(&closed.to_string()) && text.contains("bootstrap-servers"), "{text}");
    }

    #[test]
    fn zero_timeout_is_rejected() {
        assert!(Cli::try_parse_from(["sluice", "cluster", "describe", "--timeout-ms", "0"]).is_err());
    }
}
