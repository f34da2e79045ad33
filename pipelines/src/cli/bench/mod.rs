//! `sluice bench produce|consume|e2e`: load generators that measure throughput and latency through
//! librdkafka, so the same figures can be taken on Sluice and on any other Kafka-protocol cluster (`-b`).
//!
//! # Layout
//! - `options`: the typed flags shared by the workloads (topic, run length, rate, producer tuning).
//! - `produce`, `consume`, `e2e`: one file per workload, each returning a `report::Report`.
//! - `producer`, `consumer`: the client threads the workloads are built from.
//! - `clock`: the send stamp in every record and the pacer that holds a target rate.
//! - `report`: HDR latency histograms, throughput, the printed table and the `--json` file.
//! - `topic`: creating the topic when `--partitions` asks for it.
//!
//! `bench/run` at the repository root drives these against a release broker and compares them with the
//! machine's disk and loopback limits; `bench/README.md` explains every figure.

mod clock;
mod consume;
mod consumer;
mod e2e;
mod options;
mod produce;
mod producer;
mod report;
mod topic;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::client::ClientArgs;
use super::emit;
use options::ProducerOpts;
use report::Report;

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    #[command(subcommand)]
    pub(crate) command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Produce records as fast as allowed (or at --rate) and report throughput and delivery latency.
    Produce(produce::ProduceBenchArgs),
    /// Read a topic from the beginning to its current end and report throughput.
    Consume(consume::ConsumeBenchArgs),
    /// Produce at a fixed rate while consuming, and report latency from send to consume.
    E2e(e2e::E2eBenchArgs),
}

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let problems = match &args.command {
        BenchCommand::Produce(a) => a.producer.problems(),
        BenchCommand::E2e(a) => a.producer.problems(),
        BenchCommand::Consume(_) => Vec::new(),
    };
    if !problems.is_empty() {
        anyhow::bail!("cannot run this benchmark:\n  {}", problems.join("\n  "));
    }
    match &args.command {
        BenchCommand::Produce(a) => {
            topic::ensure(&args.client, &a.topic).await?;
        }
        BenchCommand::E2e(a) => {
            topic::ensure(&args.client, &a.topic).await?;
        }
        BenchCommand::Consume(_) => {}
    }
    // The clients block their threads (librdkafka calls, pacing sleeps); keep them off the async workers.
    let (report, json) =
        tokio::task::spawn_blocking(move || -> anyhow::Result<(Report, Option<std::path::PathBuf>)> {
            Ok(match &args.command {
                BenchCommand::Produce(a) => (produce::run(&args.client, a)?, a.json.clone()),
                BenchCommand::Consume(a) => (consume::run(&args.client, a)?, a.json.clone()),
                BenchCommand::E2e(a) => (e2e::run(&args.client, a)?, a.json.clone()),
            })
        })
        .await
        .context("bug: the benchmark thread panicked")??;
    emit(report.render())?;
    if let Some(path) = json {
        report.write_json(&path)?;
    }
    Ok(if report.failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The producer settings recorded with every result, so a JSON file says what it measured.
fn producer_settings(p: &ProducerOpts) -> serde_json::Value {
    serde_json::json!({
        "record_size": p.record_size,
        "records": p.length.records,
        "duration_secs": p.length.duration_secs,
        "rate": p.rate,
        "producers": p.producers,
        "acks": options::acks_config(p.acks),
        "compression": options::compression_config(p.compression),
        "linger_ms": p.linger_ms,
        "batch_size": p.batch_size,
        "idempotence": p.idempotence,
        "keys": p.keys,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn parse(args: &[&str]) -> Result<BenchArgs, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("sluice").chain(args.iter().copied()))?;
        match cli.command {
            Command::Bench(args) => Ok(args),
            other => panic!("expected bench, got {other:?}"),
        }
    }

    #[test]
    fn produce_defaults_are_1kib_acks_1_unthrottled() {
        let args = parse(&["bench", "produce"]).expect("valid");
        let BenchCommand::Produce(p) = args.command else { panic!("expected produce") };
        assert_eq!(p.topic.topic, options::DEFAULT_TOPIC);
        assert_eq!(p.producer.record_size, 1024);
        assert_eq!(p.producer.rate, 0);
        assert_eq!(options::acks_config(p.producer.acks), "1");
        assert_eq!(p.producer.stop(), options::Stop::Records(1_000_000));
        assert!(p.producer.problems().is_empty());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let args = parse(&["bench", "e2e", "--idempotence", "--records", "1", "--producers", "2"]).expect("parses");
        let BenchCommand::E2e(e) = args.command else { panic!("expected e2e") };
        let problems = e.producer.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("--acks all"), "{problems:?}");
    }

    #[test]
    fn bad_flags_are_rejected() {
        assert!(parse(&["bench", "produce", "--record-size", "4"]).is_err(), "no room for the stamp");
        assert!(parse(&["bench", "produce", "--records", "5", "--duration", "3"]).is_err());
        assert!(parse(&["bench", "produce", "--duration", "-1"]).is_err());
        assert!(parse(&["bench", "produce", "--partitions", "0"]).is_err());
        assert!(parse(&["bench", "consume", "--consumers", "0"]).is_err());
    }

    #[test]
    fn client_flags_reach_the_producer_config() {
        let args = parse(&["bench", "-b", "h:9", "produce", "--acks", "all", "--linger-ms", "0", "-X", "linger.ms=2"])
            .expect("valid");
        let BenchCommand::Produce(p) = args.command else { panic!("expected produce") };
        let config = p.producer.client_config(&args.client);
        assert_eq!(config.get("bootstrap.servers"), Some("h:9"));
        assert_eq!(config.get("acks"), Some("all"));
        assert_eq!(config.get("linger.ms"), Some("2"), "-X wins over the flags");
    }
}
