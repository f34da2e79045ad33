//! `sluice consume`: prints a topic's records to stdout, from a chosen start, until a count is reached, no
//! record arrives within the timeout, or the user interrupts.
//!
//! Without `--group` the partitions are assigned directly (a private group id, nothing committed); with
//! `--group` the consumer subscribes and commits its position on exit, so the next run continues from there.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::client::{self, ClientArgs, METADATA_TIMEOUT};

#[derive(Debug, Args)]
pub(crate) struct ConsumeArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// Topic to read.
    pub(crate) topic: String,
    /// Start at the oldest record still kept. With --group this applies only when the group has no
    /// committed position yet. Without any start flag, only records produced from now on are printed.
    #[arg(long, conflicts_with_all = ["offset", "timestamp"])]
    pub(crate) from_beginning: bool,
    /// Start at this offset in every chosen partition.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..), conflicts_with_all = ["timestamp", "group"])]
    pub(crate) offset: Option<i64>,
    /// Start at the first record whose timestamp is at or after MS (milliseconds since the Unix epoch).
    #[arg(long, value_name = "MS", conflicts_with = "group")]
    pub(crate) timestamp: Option<i64>,
    /// Read only this partition instead of all of them.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..), conflicts_with = "group")]
    pub(crate) partition: Option<i32>,
    /// Join this consumer group: partitions are shared with its other members and the position is
    /// committed on exit.
    #[arg(long, value_name = "ID")]
    pub(crate) group: Option<String>,
    /// Stop after printing N records.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) count: Option<u64>,
    /// How each record is printed: the value, key and value, or one JSON object per line with
    /// topic, partition, offset, timestamp, key, value and headers.
    #[arg(long, value_enum, default_value_t = Format::Value)]
    pub(crate) format: Format,
    /// Separator between key and value in `--format kv`.
    #[arg(long, value_name = "SEP", default_value = "\t")]
    pub(crate) key_separator: String,
    /// Stop (successfully) once MS milliseconds pass without a new record; wait forever when omitted.
    #[arg(long, value_name = "MS")]
    pub(crate) timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// The value only (`null` for a record without one).
    Value,
    /// Key, separator, value.
    Kv,
    /// One JSON object per record.
    Json,
}

/// Where reading starts in each assigned partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Beginning,
    End,
    Offset(i64),
    Timestamp(i64),
}

impl ConsumeArgs {
    fn start(&self) -> Start {
        match (self.from_beginning, self.offset, self.timestamp) {
            (true, _, _) => Start::Beginning,
            (_, Some(offset), _) => Start::Offset(offset),
            (_, _, Some(ms)) => Start::Timestamp(ms),
            _ => Start::End,
        }
    }
}

/// One record, borrowed from the consumer, in the shape the formatters need.
#[derive(Debug)]
pub(crate) struct RecordView<'a> {
    pub(crate) topic: &'a str,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) timestamp: Option<i64>,
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) value: Option<&'a [u8]>,
    pub(crate) headers: Vec<(&'a str, Option<&'a [u8]>)>,
}

/// The `--format json` line; a struct rather than a map so fields keep this documented order.
#[derive(Debug, serde::Serialize)]
struct JsonRecord<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    key: Option<String>,
    value: Option<String>,
    /// A list, not an object: Kafka headers keep their order and may repeat a key.
    headers: Vec<JsonHeader<'a>>,
}

#[derive(Debug, serde::Serialize)]
struct JsonHeader<'a> {
    key: &'a str,
    value: Option<String>,
}

/// Renders a record as one output line (without the newline). Bytes that are not UTF-8 are shown with
/// replacement characters; the formats are for people and scripts, not for byte-exact copies.
pub(crate) fn format_record(record: &RecordView<'_>, format: Format, key_separator: &str) -> String {
    let text = |bytes: Option<&[u8]>| bytes.map(|b| String::from_utf8_lossy(b).into_owned());
    match format {
        Format::Value => text(record.value).unwrap_or_else(|| "null".into()),
        Format::Kv => format!(
            "{}{key_separator}{}",
            text(record.key).unwrap_or_else(|| "null".into()),
            text(record.value).unwrap_or_else(|| "null".into())
        ),
        Format::Json => {
            let json = JsonRecord {
                topic: record.topic,
                partition: record.partition,
                offset: record.offset,
                timestamp: record.timestamp,
                key: text(record.key),
                value: text(record.value),
                headers: record.headers.iter().map(|(key, value)| JsonHeader { key, value: text(*value) }).collect(),
            };
            // Serializing strings and integers cannot fail; the fallback only keeps this panic-free.
            serde_json::to_string(&json).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        }
    }
}

pub(crate) async fn run(args: ConsumeArgs) -> anyhow::Result<ExitCode> {
    // librdkafka refuses assign() without a group id, so a direct read gets a private one that never
    // commits, as Kafka's console consumer does.
    let private_group = format!("sluice-consume-{}", std::process::id());
    // librdkafka stops fetching a partition whose prefetch queue is full and looks again only after
    // `fetch.queue.backoff.ms` (1 s by default), so a reader slower than the fetches (printing) idled: 500k
    // 1 KiB records took 5.7 s at 0.3 cores, and 1.6 s with 10 ms. `-X` still overrides it.
    let mut defaults = vec![("enable.partition.eof", "false"), ("fetch.queue.backoff.ms", "10")];
    match &args.group {
        Some(group) => {
            defaults.push(("group.id", group.as_str()));
            defaults.push(("auto.offset.reset", if args.from_beginning { "earliest" } else { "latest" }));
        }
        None => defaults.extend([
            ("group.id", private_group.as_str()),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
        ]),
    }
    let consumer: StreamConsumer = args
        .client
        .client_config(&defaults)
        .create()
        .context("cannot create the Kafka consumer; check the -X properties")?;

    if args.group.is_some() {
        consumer.subscribe(&[&args.topic]).with_context(|| format!("cannot subscribe to topic {:?}", args.topic))?;
    } else {
        assign(&consumer, &args)?;
    }

    let result = print_records(&consumer, &args).await;
    if args.group.is_some() {
        commit_position(&consumer);
    }
    let printed = result?;
    eprintln!("consumed {printed} records");
    Ok(ExitCode::SUCCESS)
}

/// Assigns every chosen partition at the requested start, resolving timestamps to offsets first.
fn assign(consumer: &StreamConsumer, args: &ConsumeArgs) -> anyhow::Result<()> {
    let metadata = client::fetch_all_metadata(consumer.client(), &args.client)?;
    let mut partitions = client::topic_partitions(&metadata, &args.topic)?;
    if let Some(wanted) = args.partition {
        if !partitions.contains(&wanted) {
            anyhow::bail!(
                "topic {:?} has no partition {wanted} (it has {}); see `sluice topic describe {}`",
                args.topic,
                partitions.len(),
                args.topic
            );
        }
        partitions = vec![wanted];
    }
    let mut tpl = TopicPartitionList::new();
    for &partition in &partitions {
        let offset = match args.start() {
            Start::Beginning => Offset::Beginning,
            Start::End => Offset::End,
            Start::Offset(n) => Offset::Offset(n),
            // offsets_for_times takes the timestamp in the offset slot.
            Start::Timestamp(ms) => Offset::Offset(ms),
        };
        tpl.add_partition_offset(&args.topic, partition, offset)
            .with_context(|| format!("cannot set the start of partition {partition}"))?;
    }
    if let Start::Timestamp(ms) = args.start() {
        // Partitions with no record at or after the timestamp come back as End: wait there for new ones.
        tpl = tokio::task::block_in_place(|| consumer.offsets_for_times(tpl, METADATA_TIMEOUT)).with_context(|| {
            format!("cannot look up offsets for timestamp {ms} ({})", args.client.reachability_hint())
        })?;
    }
    consumer.assign(&tpl).with_context(|| format!("cannot assign the partitions of {:?}", args.topic))
}

/// Prints records until the count, the idle timeout, or Ctrl-C; returns how many were printed.
async fn print_records(consumer: &StreamConsumer, args: &ConsumeArgs) -> anyhow::Result<u64> {
    let idle_limit = args.timeout_ms.map(Duration::from_millis);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut stdout = std::io::stdout().lock();
    let mut printed: u64 = 0;
    // Measured from the last record, not the last poll, so a stream of transient errors cannot keep an
    // idle consumer alive past its timeout.
    let mut last_record = Instant::now();

    while args.count.is_none_or(|count| printed < count) {
        let idle_wait = match idle_limit {
            Some(limit) => match limit.checked_sub(last_record.elapsed()) {
                Some(left) if !left.is_zero() => left,
                _ => break,
            },
            None => Duration::MAX,
        };
        let received = tokio::select! {
            received = consumer.recv() => received,
            _ = tokio::time::sleep(idle_wait) => break,
            _ = &mut ctrl_c => break,
        };
        let message = match received {
            Ok(message) => message,
            Err(KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition)) => {
                anyhow::bail!("topic {:?} does not exist; list topics with `sluice topic list`", args.topic)
            }
            Err(err @ KafkaError::MessageConsumptionFatal(_)) => {
                return Err(err).context(format!("cannot consume {:?}", args.topic));
            }
            Err(err) => {
                // Transport hiccups and rebalances are retried by librdkafka; say so and keep waiting.
                tracing::warn!(error = %err, "consumer error; retrying");
                continue;
            }
        };
        last_record = Instant::now();
        let headers =
            message.headers().map(|h| h.iter().map(|header| (header.key, header.value)).collect()).unwrap_or_default();
        let view = RecordView {
            topic: message.topic(),
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            key: message.key(),
            value: message.payload(),
            headers,
        };
        let line = format_record(&view, args.format, &args.key_separator);
        match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
            Ok(()) => printed += 1,
            // The reader went away (e.g. `| head`): that is a normal way to stop.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
            Err(e) => return Err(e).context("cannot write to stdout"),
        }
    }
    Ok(printed)
}

/// Commits what was printed so the group's next consumer starts after it. Auto-commit runs only on an
/// interval, so without this a short run would leave nothing committed.
fn commit_position(consumer: &StreamConsumer) {
    match tokio::task::block_in_place(|| consumer.commit_consumer_state(CommitMode::Sync)) {
        Ok(()) => {}
        // Nothing was read, so there is nothing to commit.
        Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(err) => eprintln!("warning: could not commit the group position ({err}); the next run may repeat records"),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn parse(args: &[&str]) -> Result<ConsumeArgs, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("sluice").chain(args.iter().copied()))?;
        match cli.command {
            Command::Consume(args) => Ok(args),
            other => panic!("expected consume, got {other:?}"),
        }
    }

    #[test]
    fn start_follows_the_flags() {
        assert_eq!(parse(&["consume", "t"]).expect("valid").start(), Start::End);
        assert_eq!(parse(&["consume", "t", "--from-beginning"]).expect("valid").start(), Start::Beginning);
        assert_eq!(parse(&["consume", "t", "--offset", "5"]).expect("valid").start(), Start::Offset(5));
        assert_eq!(
            parse(&["consume", "t", "--timestamp", "1700000000000"]).expect("valid").start(),
            Start::Timestamp(1_700_000_000_000)
        );
    }

    #[test]
    fn conflicting_flags_are_rejected() {
        assert!(parse(&["consume", "t", "--from-beginning", "--offset", "1"]).is_err());
        assert!(parse(&["consume", "t", "--offset", "1", "--timestamp", "1"]).is_err());
        assert!(parse(&["consume", "t", "--group", "g", "--partition", "0"]).is_err());
        assert!(parse(&["consume", "t", "--group", "g", "--offset", "0"]).is_err());
        assert!(parse(&["consume", "t", "--count", "0"]).is_err());
        assert!(parse(&["consume", "t", "--offset", "-1"]).is_err());
        assert!(parse(&["consume", "t", "--format", "xml"]).is_err());
    }

    #[test]
    fn group_with_from_beginning_and_count_parses() {
        let args = parse(&[
            "consume",
            "t",
            "--group",
            "g",
            "--from-beginning",
            "--count",
            "3",
            "--format",
            "json",
            "--timeout-ms",
            "500",
        ])
        .expect("valid");
        assert_eq!(args.group.as_deref(), Some("g"));
        assert_eq!(args.count, Some(3));
        assert_eq!(args.format, Format::Json);
        assert_eq!(args.timeout_ms, Some(500));
    }

    fn record<'a>() -> RecordView<'a> {
        RecordView {
            topic: "t",
            partition: 1,
            offset: 42,
            timestamp: Some(1000),
            key: Some(b"k"),
            value: Some(b"v"),
            headers: vec![("h", Some(b"1")), ("n", None)],
        }
    }

    #[test]
    fn value_and_kv_formats() {
        assert_eq!(format_record(&record(), Format::Value, "\t"), "v");
        assert_eq!(format_record(&record(), Format::Kv, ":"), "k:v");
        let tombstone = RecordView { key: None, value: None, ..record() };
        assert_eq!(format_record(&tombstone, Format::Value, "\t"), "null");
        assert_eq!(format_record(&tombstone, Format::Kv, "\t"), "null\tnull");
    }

    #[test]
    fn json_format_has_every_field() {
        let line = format_record(&record(), Format::Json, "\t");
        assert!(line.starts_with(r#"{"topic":"t","partition":1,"offset":42,"#), "{line}");
        let parsed: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(
            parsed,
            serde_json::json!({
                "topic": "t", "partition": 1, "offset": 42, "timestamp": 1000, "key": "k", "value": "v",
                "headers": [{"key": "h", "value": "1"}, {"key": "n", "value": null}],
            })
        );
    }
}
