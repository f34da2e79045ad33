//! `sluice bench e2e`: end-to-end latency, from the time a record is due to be sent to the time a consumer on
//! the same host polls it, at a fixed rate. Consumers are assigned at the current end of every partition
//! before the first record is sent, so every delivered record is expected back.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use super::clock;
use super::consumer::{self, Range, Until};
use super::options::{ConsumerOpts, ProducerOpts, TopicOpts};
use super::producer::{self, Totals};
use super::report::{Latencies, Report, WorstBySecond};
use crate::cli::client::ClientArgs;

#[derive(Debug, Args)]
pub(crate) struct E2eBenchArgs {
    #[command(flatten)]
    pub(crate) topic: TopicOpts,
    #[command(flatten)]
    pub(crate) producer: ProducerOpts,
    #[command(flatten)]
    pub(crate) consumer: ConsumerOpts,
    /// Records sent in the first SECS seconds are counted but left out of the latency figures (connection
    /// set-up and the first metadata look-ups are not what this measures).
    #[arg(long = "warmup", value_name = "SECS", default_value_t = 1.0)]
    pub(crate) warmup_secs: f64,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<std::path::PathBuf>,
}

/// Consumers get a moment to connect and send their first fetch before producing starts.
const CONSUMER_HEAD_START: Duration = Duration::from_millis(500);

/// Blocks the calling thread until every delivered record has been consumed (or the consumers give up).
pub(crate) fn run(client: &ClientArgs, args: &E2eBenchArgs) -> anyhow::Result<Report> {
    if !(0.0..=3600.0).contains(&args.warmup_secs) {
        anyhow::bail!("--warmup {} is not between 0 and 3600 seconds", args.warmup_secs);
    }
    let marks = consumer::watermarks(client, &args.consumer, &args.topic.topic)?;
    let ranges: Vec<Range> =
        marks.iter().map(|&(partition, _, high)| Range { partition, start: high, end: None }).collect();
    let shares = consumer::split(&ranges, args.consumer.consumers);
    let consumers = consumer::assign_all(client, &args.consumer, &args.topic.topic, &shares, false)?;

    let totals = Arc::new(Totals::default());
    let producers_done = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let warmup_end_ns =
        clock::now_ns() + (CONSUMER_HEAD_START + Duration::from_secs_f64(args.warmup_secs)).as_nanos() as u64;
    let until = Until::Delivered {
        producers_done: Arc::clone(&producers_done),
        totals: Arc::clone(&totals),
        received: Arc::clone(&received),
        warmup_end_ns,
    };

    let (produced, outcomes, elapsed) = std::thread::scope(|scope| {
        let handles: Vec<_> = consumers
            .iter()
            .zip(&shares)
            .map(|(c, share)| {
                let until = until.clone();
                scope.spawn(move || consumer::consume(c, share, &until))
            })
            .collect();
        std::thread::sleep(CONSUMER_HEAD_START);
        let start = Instant::now();
        let produced = producer::run(client, &args.producer, &args.topic.topic, &totals);
        // Even when producing failed, the consumers must be told to stop waiting.
        producers_done.store(true, Ordering::Release);
        let outcomes: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("bug: a consumer thread panicked"))))
            .collect();
        (produced, outcomes, start.elapsed())
    });
    produced?;
    let mut latencies = Latencies::new();
    let mut worst = WorstBySecond::starting_at(warmup_end_ns);
    let (mut records, mut bytes) = (0, 0);
    for outcome in outcomes {
        let outcome = outcome?;
        latencies.merge(&outcome.latencies);
        worst.merge(&outcome.worst);
        records += outcome.records;
        bytes += outcome.bytes;
    }
    let mut settings = super::producer_settings(&args.producer);
    settings["consumers"] = args.consumer.consumers.into();
    settings["warmup_secs"] = args.warmup_secs.into();
    let mut report = Report::new("e2e", &client.bootstrap_server, &args.topic.topic, settings, records, bytes, elapsed);
    let delivered = totals.delivered.load(Ordering::Relaxed);
    report.failed = totals.failed.load(Ordering::Relaxed) + delivered.saturating_sub(records);
    report.latency = latencies.summary();
    report.worst_ms_by_second = worst.summary();
    Ok(report)
}
