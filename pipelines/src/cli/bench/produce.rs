//! `sluice bench produce`: throughput of producing, and delivery latency (send to acknowledgement).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use super::options::{ProducerOpts, TopicOpts};
use super::producer::{self, Totals};
use super::report::Report;
use crate::cli::client::ClientArgs;

#[derive(Debug, Args)]
pub(crate) struct ProduceBenchArgs {
    #[command(flatten)]
    pub(crate) topic: TopicOpts,
    #[command(flatten)]
    pub(crate) producer: ProducerOpts,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<std::path::PathBuf>,
}

/// Blocks the calling thread until every record is delivered or failed.
pub(crate) fn run(client: &ClientArgs, args: &ProduceBenchArgs) -> anyhow::Result<Report> {
    let totals = Arc::new(Totals::default());
    let start = Instant::now();
    let latencies = producer::run(client, &args.producer, &args.topic.topic, &totals)?;
    let elapsed = start.elapsed();
    let mut report = Report::new(
        "produce",
        &client.bootstrap_server,
        &args.topic.topic,
        super::producer_settings(&args.producer),
        totals.delivered.load(Ordering::Relaxed),
        totals.bytes.load(Ordering::Relaxed),
        elapsed,
    );
    report.failed = totals.failed.load(Ordering::Relaxed);
    report.latency = latencies.summary();
    Ok(report)
}
