//! The consuming side of `bench consume` and `bench e2e`: one thread and one librdkafka consumer per
//! `--consumers`, each reading its share of the partitions by assign() (no consumer group), counting records
//! and, for e2e, the latency from each record's send stamp to the moment it is polled.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::clock;
use super::options::ConsumerOpts;
use super::producer::Totals;
use super::report::{Latencies, WorstBySecond};
use crate::cli::client::{self, ClientArgs, METADATA_TIMEOUT};

/// One poll waits at most this long, so stop conditions are checked often.
const POLL: Duration = Duration::from_millis(100);
/// A consumer that receives nothing for this long while records are still expected gives up.
const IDLE_LIMIT: Duration = Duration::from_secs(15);

/// A consumer that reads by assign() and hears of partition ends through `poll`.
pub(crate) type BenchConsumer = BaseConsumer<QuietEof>;

/// librdkafka also reports every partition end as a client-wide error, which rdkafka logs at ERROR level;
/// for `bench consume` an end is the expected way to finish, so only other errors are logged.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuietEof;

impl ClientContext for QuietEof {
    fn error(&self, error: KafkaError, reason: &str) {
        let eof = matches!(error, KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF));
        if !eof {
            tracing::error!("librdkafka: {error}: {reason}");
        }
    }
}

impl ConsumerContext for QuietEof {}

/// One partition to read, from `start` up to `end` (exclusive; `None` while a producer is still writing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) partition: i32,
    pub(crate) start: i64,
    pub(crate) end: Option<i64>,
}

/// When consumers stop.
#[derive(Debug, Clone)]
pub(crate) enum Until {
    /// `bench consume`: every partition read up to its end as found at the start, or `limit` records in all.
    Ends { limit: Option<u64>, taken: Arc<AtomicU64> },
    /// `bench e2e`: the producers are done and every delivered record has been received.
    Delivered { producers_done: Arc<AtomicBool>, totals: Arc<Totals>, received: Arc<AtomicU64>, warmup_end_ns: u64 },
}

/// What one consumer saw.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) records: u64,
    pub(crate) bytes: u64,
    pub(crate) latencies: Latencies,
    /// E2e: the worst latency of each second after the warm-up.
    pub(crate) worst: WorstBySecond,
    /// When the last counted record arrived; the end of the measured interval.
    pub(crate) last_record: Option<Instant>,
}

/// The partitions of `topic` with their low and high watermarks.
pub(crate) fn watermarks(
    client_args: &ClientArgs,
    opts: &ConsumerOpts,
    topic: &str,
) -> anyhow::Result<Vec<(i32, i64, i64)>> {
    let consumer: BenchConsumer = opts
        .client_config(client_args, false)
        .create_with_context(QuietEof)
        .context("cannot create the Kafka consumer; check the -X properties")?;
    let metadata = client::fetch_all_metadata(consumer.client(), client_args)?;
    let mut out = Vec::new();
    for partition in client::topic_partitions(&metadata, topic)? {
        let (low, high) = consumer.fetch_watermarks(topic, partition, METADATA_TIMEOUT).with_context(|| {
            format!("cannot read the offsets of {topic}/{partition} ({})", client_args.reachability_hint())
        })?;
        out.push((partition, low, high));
    }
    Ok(out)
}

/// Deals `ranges` round-robin to `consumers` consumers; consumers left without a partition are dropped.
pub(crate) fn split(ranges: &[Range], consumers: u32) -> Vec<Vec<Range>> {
    let n = consumers.max(1) as usize;
    let mut out = vec![Vec::new(); n.min(ranges.len().max(1))];
    let slots = out.len();
    for (i, range) in ranges.iter().enumerate() {
        out[i % slots].push(*range);
    }
    out.retain(|r| !r.is_empty());
    out
}

/// Creates one consumer per share and assigns its partitions; done before any thread starts so that e2e
/// producers only begin once every consumer is in place.
pub(crate) fn assign_all(
    client_args: &ClientArgs,
    opts: &ConsumerOpts,
    topic: &str,
    shares: &[Vec<Range>],
    eof: bool,
) -> anyhow::Result<Vec<BenchConsumer>> {
    let config = opts.client_config(client_args, eof);
    shares
        .iter()
        .map(|share| {
            let consumer: BenchConsumer = config
                .create_with_context(QuietEof)
                .context("cannot create the Kafka consumer; check the -X properties")?;
            let mut tpl = TopicPartitionList::new();
            for r in share {
                tpl.add_partition_offset(topic, r.partition, Offset::Offset(r.start))
                    .with_context(|| format!("bug: cannot add {topic}/{} to an assignment", r.partition))?;
            }
            consumer.assign(&tpl).with_context(|| format!("cannot assign partitions of {topic}"))?;
            Ok(consumer)
        })
        .collect()
}

/// Reads until `until` says stop; blocks the calling thread.
pub(crate) fn consume(consumer: &BenchConsumer, share: &[Range], until: &Until) -> anyhow::Result<Outcome> {
    let worst = match until {
        Until::Delivered { warmup_end_ns, .. } => WorstBySecond::starting_at(*warmup_end_ns),
        Until::Ends { .. } => WorstBySecond::default(),
    };
    let mut outcome = Outcome { records: 0, bytes: 0, latencies: Latencies::new(), worst, last_record: None };
    // Partitions still to finish (consume mode only): empty ranges are finished from the start.
    let mut open: Vec<Range> = share.iter().copied().filter(|r| r.end.is_none_or(|end| r.start < end)).collect();
    let mut idle_since = Instant::now();
    loop {
        match until {
            Until::Ends { limit, taken } => {
                if open.is_empty() || limit.is_some_and(|l| taken.load(Ordering::Relaxed) >= l) {
                    return Ok(outcome);
                }
            }
            Until::Delivered { producers_done, totals, received, .. } => {
                if producers_done.load(Ordering::Acquire)
                    && received.load(Ordering::Relaxed) >= totals.delivered.load(Ordering::Relaxed)
                {
                    return Ok(outcome);
                }
            }
        }
        let Some(polled) = consumer.poll(POLL) else {
            let waiting = match until {
                Until::Ends { .. } => true,
                // Before the producers finish, silence may just be a slow start.
                Until::Delivered { producers_done, .. } => producers_done.load(Ordering::Acquire),
            };
            if waiting && idle_since.elapsed() >= IDLE_LIMIT {
                anyhow::bail!(
                    "no record arrived for {}s while {} more were expected",
                    IDLE_LIMIT.as_secs(),
                    expected_left(until, &open)
                );
            }
            if !waiting {
                idle_since = Instant::now();
            }
            continue;
        };
        let message = match polled {
            Ok(message) => message,
            Err(KafkaError::PartitionEOF(partition)) => {
                open.retain(|r| r.partition != partition);
                continue;
            }
            Err(err) => return Err(err).context("the consumer failed"),
        };
        let now = Instant::now();
        idle_since = now;
        let (partition, offset) = (message.partition(), message.offset());
        if let Some(pos) = open.iter().position(|r| r.partition == partition) {
            if open[pos].end.is_some_and(|end| offset >= end) {
                // Written after the run started: not part of what this run set out to read.
                open.swap_remove(pos);
                continue;
            }
            if open[pos].end.is_some_and(|end| offset + 1 >= end) {
                open.swap_remove(pos);
            }
        }
        outcome.records += 1;
        outcome.bytes += (message.payload_len() + message.key().map_or(0, <[u8]>::len)) as u64;
        outcome.last_record = Some(now);
        match until {
            Until::Ends { taken, .. } => {
                taken.fetch_add(1, Ordering::Relaxed);
            }
            Until::Delivered { received, warmup_end_ns, .. } => {
                received.fetch_add(1, Ordering::Relaxed);
                if let Some(sent) = clock::read_stamp(message.payload()) {
                    if sent >= *warmup_end_ns {
                        let us = clock::latency_us(sent, clock::now_ns());
                        outcome.latencies.record(us);
                        outcome.worst.record(sent, us);
                    }
                }
            }
        }
    }
}

fn expected_left(until: &Until, open: &[Range]) -> String {
    match until {
        Until::Ends { .. } => format!("{} partitions", open.len()),
        Until::Delivered { totals, received, .. } => format!(
            "{} records",
            totals.delivered.load(Ordering::Relaxed).saturating_sub(received.load(Ordering::Relaxed))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(n: i32) -> Vec<Range> {
        (0..n).map(|p| Range { partition: p, start: 0, end: Some(10) }).collect()
    }

    #[test]
    fn partitions_are_dealt_round_robin() {
        let shares = split(&ranges(5), 2);
        let ids: Vec<Vec<i32>> = shares.iter().map(|s| s.iter().map(|r| r.partition).collect()).collect();
        assert_eq!(ids, vec![vec![0, 2, 4], vec![1, 3]]);
    }

    #[test]
    fn more_consumers_than_partitions_leaves_none_empty() {
        assert_eq!(split(&ranges(2), 8).len(), 2);
        assert!(split(&[], 3).is_empty());
    }
}
