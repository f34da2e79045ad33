//! `sluice bench consume`: throughput of reading a topic from the beginning to the end it had when the run
//! started, by assign() on every partition (no consumer group needed).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use super::consumer::{self, Range, Until};
use super::options::{ConsumerOpts, DEFAULT_TOPIC};
use super::report::{Latencies, Report};
use crate::cli::client::ClientArgs;

#[derive(Debug, Args)]
pub(crate) struct ConsumeBenchArgs {
    /// Topic to read.
    #[arg(long, default_value = DEFAULT_TOPIC)]
    pub(crate) topic: String,
    #[command(flatten)]
    pub(crate) consumer: ConsumerOpts,
    /// Stop after this many records in all instead of at the end of every partition.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) records: Option<u64>,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<std::path::PathBuf>,
}

/// Blocks the calling thread until every consumer has read its partitions to their end.
pub(crate) fn run(client: &ClientArgs, args: &ConsumeBenchArgs) -> anyhow::Result<Report> {
    let marks = consumer::watermarks(client, &args.consumer, &args.topic)?;
    let ranges: Vec<Range> =
        marks.iter().map(|&(partition, low, high)| Range { partition, start: low, end: Some(high) }).collect();
    let available: i64 = marks.iter().map(|&(_, low, high)| high - low).sum();
    if available <= 0 {
        anyhow::bail!(
            "topic {:?} holds no records; fill it first, e.g. `sluice bench produce --topic {0} --partitions 6`",
            args.topic
        );
    }
    let shares = consumer::split(&ranges, args.consumer.consumers);
    let until = Until::Ends { limit: args.records, taken: Arc::new(AtomicU64::new(0)) };
    let start = Instant::now();
    let consumers = consumer::assign_all(client, &args.consumer, &args.topic, &shares, true)?;
    let outcomes = std::thread::scope(|scope| {
        let handles: Vec<_> = consumers
            .iter()
            .zip(&shares)
            .map(|(c, share)| {
                let until = until.clone();
                scope.spawn(move || consumer::consume(c, share, &until))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("bug: a consumer thread panicked"))))
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let end = outcomes.iter().filter_map(|o| o.last_record).max().unwrap_or_else(Instant::now);
    let records = outcomes.iter().map(|o| o.records).sum();
    let bytes = outcomes.iter().map(|o| o.bytes).sum();
    let settings = serde_json::json!({ "consumers": args.consumer.consumers, "records_limit": args.records });
    let mut report =
        Report::new("consume", &client.bootstrap_server, &args.topic, settings, records, bytes, end - start);
    // Consume has no latency figure: the records were written before the run began.
    report.latency = Latencies::new().summary();
    Ok(report)
}
