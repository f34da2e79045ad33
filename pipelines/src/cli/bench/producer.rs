//! The producing side of `bench produce` and `bench e2e`: one thread and one librdkafka producer per
//! `--producers`, each sending stamped records at its share of the rate, with delivery latency recorded in
//! the delivery callback on librdkafka's polling thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

use super::clock::{self, Pacer};
use super::options::{ProducerOpts, Stop};
use super::report::Latencies;
use crate::cli::client::ClientArgs;

/// How long the final flush may take: the delivery timeout plus some slack.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(40);
/// Pause before offering a record again when librdkafka's local queue is full.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_micros(200);
/// Delivery errors printed; the rest are only counted.
const MAX_PRINTED_ERRORS: u64 = 5;

/// What all producers of one run add up to.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) delivered: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) failed: AtomicU64,
}

/// The delivery callback's state for one producer.
struct DeliveryContext {
    totals: Arc<Totals>,
    latencies: Mutex<Latencies>,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(message) => {
                let now = clock::now_ns();
                if let Some(sent) = clock::read_stamp(message.payload()) {
                    self.latencies.lock().unwrap_or_else(PoisonError::into_inner).record(clock::latency_us(sent, now));
                }
                let len = message.payload_len() + message.key().map_or(0, <[u8]>::len);
                self.totals.bytes.fetch_add(len as u64, Ordering::Relaxed);
                self.totals.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((err, _)) => {
                let failed = self.totals.failed.fetch_add(1, Ordering::Relaxed) + 1;
                if failed <= MAX_PRINTED_ERRORS {
                    eprintln!("delivery failed: {err}");
                }
            }
        }
    }
}

/// One producer's share of the work.
#[derive(Debug, Clone, Copy)]
struct Share {
    /// Records to send, or `None` to send until the duration ends.
    records: Option<u64>,
    duration: Option<Duration>,
    rate: f64,
}

/// Splits the workload evenly; the first producers take the remainder.
fn shares(opts: &ProducerOpts) -> Vec<Share> {
    let n = u64::from(opts.producers);
    let rate = opts.rate as f64 / n as f64;
    (0..n)
        .map(|i| match opts.stop() {
            Stop::Records(total) => Share { records: Some(total / n + u64::from(i < total % n)), duration: None, rate },
            Stop::After(d) => Share { records: None, duration: Some(d), rate },
        })
        .collect()
}

/// Runs every producer to completion (all records delivered or failed) and returns their merged delivery
/// latencies. Blocks the calling thread.
pub(crate) fn run(
    client: &ClientArgs,
    opts: &ProducerOpts,
    topic: &str,
    totals: &Arc<Totals>,
) -> anyhow::Result<Latencies> {
    let config = opts.client_config(client);
    let mut producers = Vec::new();
    for _ in 0..opts.producers {
        let context = DeliveryContext { totals: Arc::clone(totals), latencies: Mutex::new(Latencies::new()) };
        let producer: ThreadedProducer<DeliveryContext> =
            config.create_with_context(context).context("cannot create the Kafka producer; check the -X properties")?;
        producers.push(producer);
    }
    let hint = client.reachability_hint();
    std::thread::scope(|scope| {
        let handles: Vec<_> = producers
            .iter()
            .zip(shares(opts))
            .enumerate()
            .map(|(i, (producer, share))| scope.spawn(move || send_all(producer, opts, topic, share, i as u64)))
            .collect();
        for handle in handles {
            match handle.join() {
                Ok(result) => result.with_context(|| format!("a producer stopped ({hint})"))?,
                Err(_) => anyhow::bail!("bug: a producer thread panicked"),
            }
        }
        Ok(())
    })?;
    let mut merged = Latencies::new();
    for producer in &producers {
        merged.merge(&producer.context().latencies.lock().unwrap_or_else(PoisonError::into_inner));
    }
    Ok(merged)
}

/// One producer's loop: pace, stamp, send, and flush at the end so every delivery report has arrived.
fn send_all(
    producer: &ThreadedProducer<DeliveryContext>,
    opts: &ProducerOpts,
    topic: &str,
    share: Share,
    producer_index: u64,
) -> anyhow::Result<()> {
    let mut value = vec![0u8; opts.record_size as usize];
    // Random-looking but cheap filler, so compressed runs are not flattered by zeros.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ producer_index;
    for byte in value.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *byte = x as u8;
    }
    let mut key = Vec::with_capacity(16);
    let mut pacer = Pacer::new(share.rate);
    let mut sent: u64 = 0;
    loop {
        if share.records.is_some_and(|n| sent >= n) || share.duration.is_some_and(|d| pacer.elapsed() >= d) {
            break;
        }
        let ns = pacer.next();
        clock::stamp(&mut value, ns);
        let mut record = BaseRecord::<[u8], [u8]>::to(topic).payload(&value);
        if opts.keys {
            key.clear();
            // Producer index and sequence: distinct across producers, fixed width.
            key.extend_from_slice(format!("{producer_index:04x}{sent:012x}").as_bytes());
            record = record.key(&key);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    std::thread::sleep(QUEUE_FULL_BACKOFF);
                }
                Err((err, _)) => return Err(err).context("librdkafka refused a record"),
            }
        }
        sent += 1;
    }
    producer.flush(FLUSH_TIMEOUT).context("not every record was delivered before the flush timeout")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::bench::{BenchArgs, BenchCommand};
    use crate::{Cli, Command};

    fn opts(args: &[&str]) -> ProducerOpts {
        let cli = Cli::try_parse_from(["sluice", "bench", "produce"].iter().chain(args)).expect("valid flags");
        match cli.command {
            Command::Bench(BenchArgs { command: BenchCommand::Produce(p), .. }) => p.producer,
            other => panic!("expected bench produce, got {other:?}"),
        }
    }

    #[test]
    fn records_are_split_with_the_remainder_first() {
        let s = shares(&opts(&["--records", "10", "--producers", "3", "--rate", "300"]));
        assert_eq!(s.iter().map(|s| s.records).collect::<Vec<_>>(), vec![Some(4), Some(3), Some(3)]);
        assert!(s.iter().all(|s| s.rate == 100.0));
    }

    #[test]
    fn duration_runs_have_no_record_limit() {
        let s = shares(&opts(&["--duration", "2.5", "--producers", "2"]));
        assert!(s.iter().all(|s| s.records.is_none() && s.duration == Some(Duration::from_millis(2500))));
    }
}
