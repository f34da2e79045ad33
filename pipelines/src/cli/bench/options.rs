//! The typed options of `sluice bench`: which topic, how long, how fast, and how the clients are tuned. Each
//! group is a clap `Args` struct shared by the workloads that need it, validated as a whole before anything
//! connects, so a bad combination is reported with every reason at once.

use std::time::Duration;

use clap::Args;
use rdkafka::ClientConfig;

use crate::cli::client::ClientArgs;
use crate::cli::produce::{Acks, Compression};

/// Topic the benchmarks use unless told otherwise; a name no real workload is likely to use.
pub(crate) const DEFAULT_TOPIC: &str = "sluice-bench";

/// Which topic, and whether to create it.
#[derive(Debug, Clone, Args)]
pub(crate) struct TopicOpts {
    /// Topic to benchmark.
    #[arg(long, default_value = DEFAULT_TOPIC)]
    pub(crate) topic: String,
    /// Create the topic with this many partitions if it does not exist (an existing topic must have exactly
    /// this many). Without it the topic must already exist.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    pub(crate) partitions: Option<i32>,
    /// Replication factor for a topic created with --partitions; -1 is the cluster's default.
    #[arg(long, value_name = "N", default_value_t = -1, allow_negative_numbers = true)]
    pub(crate) replication_factor: i32,
}

/// When a producing workload stops: after a number of records or after a duration, whichever is given.
#[derive(Debug, Clone, Args)]
pub(crate) struct RunLength {
    /// Records to send in total (shared among the producers).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), conflicts_with = "duration_secs")]
    pub(crate) records: Option<u64>,
    /// Send for this many seconds instead of a fixed number of records.
    #[arg(long = "duration", value_name = "SECS", value_parser = parse_positive_secs)]
    pub(crate) duration_secs: Option<f64>,
}

/// How much to send, how fast, and with which producer settings.
#[derive(Debug, Clone, Args)]
pub(crate) struct ProducerOpts {
    #[command(flatten)]
    pub(crate) length: RunLength,
    /// Value bytes per record (at least 8: the first 8 carry the send time used for latency).
    #[arg(long, value_name = "BYTES", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(8..=16_777_216))]
    pub(crate) record_size: u32,
    /// Target rate in records per second over all producers; 0 sends as fast as the client allows.
    #[arg(long, value_name = "RECORDS_PER_SEC", default_value_t = 0)]
    pub(crate) rate: u64,
    /// Producer clients, each on its own thread and connection.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) producers: u32,
    /// Acknowledgement each produce request waits for.
    #[arg(long, value_enum, default_value_t = Acks::Leader)]
    pub(crate) acks: Acks,
    /// Compression codec for record batches (values are random bytes, so expect little gain, only cost).
    #[arg(long, value_enum, default_value_t = Compression::None)]
    pub(crate) compression: Compression,
    /// `linger.ms`: how long the client waits to fill a batch; omitted means the client's default (5 in
    /// librdkafka).
    #[arg(long, value_name = "MS")]
    pub(crate) linger_ms: Option<u64>,
    /// `batch.size`: largest batch in bytes per partition; omitted means the client's default.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) batch_size: Option<u64>,
    /// Turn on the idempotent producer (`enable.idempotence=true`); requires `--acks all`.
    #[arg(long)]
    pub(crate) idempotence: bool,
    /// Give every record a distinct 16-byte key, so the partitioner hashes keys instead of spreading
    /// key-less records itself.
    #[arg(long)]
    pub(crate) keys: bool,
}

/// Default records when neither --records nor --duration is given: enough to leave the warm-up behind.
const DEFAULT_RECORDS: u64 = 1_000_000;

/// How a producing workload ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Stop {
    Records(u64),
    After(Duration),
}

impl ProducerOpts {
    pub(crate) fn stop(&self) -> Stop {
        match (self.length.records, self.length.duration_secs) {
            (Some(n), _) => Stop::Records(n),
            (None, Some(secs)) => Stop::After(Duration::from_secs_f64(secs)),
            (None, None) => Stop::Records(DEFAULT_RECORDS),
        }
    }

    /// Every reason these options cannot run, so the user fixes them in one go.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.idempotence && self.acks != Acks::All {
            problems.push(
                "--idempotence requires --acks all (an idempotent producer waits for every in-sync replica)".into(),
            );
        }
        if let Stop::Records(n) = self.stop() {
            if n < u64::from(self.producers) {
                problems.push(format!(
                    "--records {n} is fewer than --producers {}; give every producer at least one record",
                    self.producers
                ));
            }
        }
        if self.rate > 0 && self.rate < u64::from(self.producers) {
            problems.push(format!(
                "--rate {} is below one record per second per producer (--producers {})",
                self.rate, self.producers
            ));
        }
        problems
    }

    /// The producer's client config: bootstrap, these settings, then every `-X` (which wins).
    pub(crate) fn client_config(&self, client: &ClientArgs) -> ClientConfig {
        let acks = acks_config(self.acks);
        let compression = compression_config(self.compression);
        let idempotence = if self.idempotence { "true" } else { "false" };
        let linger = self.linger_ms.map(|ms| ms.to_string());
        let batch = self.batch_size.map(|b| b.to_string());
        let mut defaults: Vec<(&str, &str)> = vec![
            ("acks", acks),
            ("compression.type", compression),
            ("enable.idempotence", idempotence),
            // A benchmark should fail loudly on an unreachable broker rather than retry for five minutes.
            ("delivery.timeout.ms", "30000"),
        ];
        if let Some(linger) = &linger {
            defaults.push(("linger.ms", linger));
        }
        if let Some(batch) = &batch {
            defaults.push(("batch.size", batch));
        }
        client.client_config(&defaults)
    }
}

/// How consumers read.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConsumerOpts {
    /// Consumer clients; the topic's partitions are split among them (assign(), no consumer group).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) consumers: u32,
}

impl ConsumerOpts {
    /// A consumer that reads by assign(): librdkafka insists on a group id, so it gets a private one that
    /// never commits, and no group coordinator is involved.
    pub(crate) fn client_config(&self, client: &ClientArgs, eof: bool) -> ClientConfig {
        let group = format!("sluice-bench-{}", std::process::id());
        client.client_config(&[
            ("group.id", group.as_str()),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
            ("enable.partition.eof", if eof { "true" } else { "false" }),
        ])
    }
}

pub(crate) fn acks_config(acks: Acks) -> &'static str {
    match acks {
        Acks::All => "all",
        Acks::Leader => "1",
        Acks::None => "0",
    }
}

pub(crate) fn compression_config(compression: Compression) -> &'static str {
    match compression {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

fn parse_positive_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 => Ok(secs),
        _ => Err(format!("{s:?} is not a duration in seconds between 0 and 86400 (e.g. 30 or 2.5)")),
    }
}
