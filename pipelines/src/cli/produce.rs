//! `sluice produce`: sends each stdin line as one record, waits for every delivery report, and fails the
//! command if any record was not delivered.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use futures::stream::{FuturesUnordered, StreamExt};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::client::{self, ClientArgs};

/// Records awaiting their delivery report; past this we wait, so memory stays bounded on endless input.
const MAX_IN_FLIGHT: usize = 10_000;
/// Failures printed one by one; the rest are only counted, so a dead broker does not flood the terminal.
const MAX_REPORTED_FAILURES: u64 = 10;

#[derive(Debug, Args)]
pub(crate) struct ProduceArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// Topic to send to.
    pub(crate) topic: String,
    /// Split each line at the first SEP into key and value; without it, lines are values with no key.
    #[arg(long, value_name = "SEP", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub(crate) key_separator: Option<String>,
    /// Header added to every record, e.g. `--header source=cli`; repeatable.
    #[arg(long = "header", value_name = "KEY=VALUE", value_parser = client::parse_key_value)]
    pub(crate) headers: Vec<(String, String)>,
    /// Send every record to this partition instead of letting the partitioner choose by key.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
    pub(crate) partition: Option<i32>,
    /// Acknowledgement to wait for: all in-sync replicas, the leader only, or none.
    #[arg(long, value_enum, default_value_t = Acks::All)]
    pub(crate) acks: Acks,
    /// Compression codec for record batches.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    pub(crate) compression: Compression,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Acks {
    /// Wait until every in-sync replica has the record.
    All,
    /// Wait until the leader has the record.
    #[value(name = "1")]
    Leader,
    /// Do not wait; delivery is not confirmed.
    #[value(name = "0")]
    None,
}

impl Acks {
    fn as_config(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Leader => "1",
            Self::None => "0",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    fn as_config(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

/// Strips the line terminator (`\n` or `\r\n`) that `read_until` leaves in place.
pub(crate) fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Splits a line into key and value at the first `separator`; without a separator the line is the value.
pub(crate) fn split_key<'a>(line: &'a [u8], separator: Option<&[u8]>) -> Result<(Option<&'a [u8]>, &'a [u8]), String> {
    let Some(sep) = separator.filter(|s| !s.is_empty()) else {
        return Ok((None, line));
    };
    match line.windows(sep.len()).position(|w| w == sep) {
        Some(at) => Ok((Some(&line[..at]), &line[at + sep.len()..])),
        None => Err(format!(
            "no key separator {:?} in this line; write KEY{0}VALUE, or drop --key-separator to send lines as values",
            String::from_utf8_lossy(sep)
        )),
    }
}

/// The same headers go on every record; built once and copied per record.
fn build_headers(headers: &[(String, String)]) -> Option<OwnedHeaders> {
    if headers.is_empty() {
        return None;
    }
    Some(headers.iter().fold(OwnedHeaders::new_with_capacity(headers.len()), |acc, (key, value)| {
        acc.insert(Header { key, value: Some(value.as_str()) })
    }))
}

/// Delivery outcomes, with the first few failures printed as they happen.
#[derive(Debug, Default)]
struct Summary {
    delivered: u64,
    failed: u64,
    /// Whether some failure looked like the broker being unreachable, which earns a hint about `-b`.
    unreachable: bool,
}

impl Summary {
    fn fail(&mut self, line: u64, reason: impl std::fmt::Display) {
        self.failed += 1;
        if self.failed <= MAX_REPORTED_FAILURES {
            eprintln!("line {line}: {reason}");
        } else if self.failed == MAX_REPORTED_FAILURES + 1 {
            eprintln!("(more failures are counted but not printed)");
        }
    }

    fn fail_delivery(&mut self, line: u64, err: &KafkaError) {
        if matches!(
            err.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::MessageTimedOut
                    | RDKafkaErrorCode::AllBrokersDown
                    | RDKafkaErrorCode::BrokerTransportFailure
                    | RDKafkaErrorCode::RequestTimedOut
            )
        ) {
            self.unreachable = true;
        }
        self.fail(line, err);
    }
}

pub(crate) async fn run(args: ProduceArgs) -> anyhow::Result<ExitCode> {
    let producer: FutureProducer = args
        .client
        .client_config(&[
            ("acks", args.acks.as_config()),
            ("compression.type", args.compression.as_config()),
            // librdkafka retries for 5 minutes by default; a person at a shell wants to hear sooner that the
            // broker is unreachable. Override with -X delivery.timeout.ms=...
            ("delivery.timeout.ms", "30000"),
        ])
        .create()
        .context("cannot create the Kafka producer; check the -X properties")?;

    let headers = build_headers(&args.headers);
    let separator = args.key_separator.as_deref().map(str::as_bytes);
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut pending = FuturesUnordered::new();
    let mut summary = Summary::default();
    let mut line_no: u64 = 0;
    let mut buf = Vec::new();

    loop {
        buf.clear();
        if stdin.read_until(b'\n', &mut buf).await.context("cannot read stdin")? == 0 {
            break;
        }
        line_no += 1;
        let (key, value) = match split_key(trim_line_end(&buf), separator) {
            Ok(parts) => parts,
            Err(reason) => {
                summary.fail(line_no, reason);
                continue;
            }
        };
        let mut record = FutureRecord::<[u8], [u8]>::to(&args.topic).payload(value);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(partition) = args.partition {
            record = record.partition(partition);
        }
        if let Some(headers) = &headers {
            record = record.headers(headers.clone());
        }
        loop {
            match producer.send_result(record) {
                Ok(delivery) => {
                    let line = line_no;
                    pending.push(async move { (line, delivery.await) });
                    break;
                }
                // The local queue is full: let some deliveries finish, then offer the same record again.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    match pending.next().await {
                        Some((line, outcome)) => note_delivery(&mut summary, line, outcome),
                        None => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                }
                Err((err, _)) => {
                    summary.fail_delivery(line_no, &err);
                    break;
                }
            }
        }
        while pending.len() >= MAX_IN_FLIGHT {
            if let Some((line, outcome)) = pending.next().await {
                note_delivery(&mut summary, line, outcome);
            }
        }
    }
    while let Some((line, outcome)) = pending.next().await {
        note_delivery(&mut summary, line, outcome);
    }

    eprintln!("produced {} records to {}", summary.delivered, args.topic);
    if summary.failed > 0 {
        if summary.unreachable {
            eprintln!("{} records failed ({})", summary.failed, args.client.reachability_hint());
        } else {
            eprintln!("{} records failed; the errors above say why", summary.failed);
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

type DeliveryOutcome =
    Result<rdkafka::producer::future_producer::OwnedDeliveryResult, futures::channel::oneshot::Canceled>;

fn note_delivery(summary: &mut Summary, line: u64, outcome: DeliveryOutcome) {
    match outcome {
        Ok(Ok(_)) => summary.delivered += 1,
        Ok(Err((err, _))) => summary.fail_delivery(line, &err),
        Err(_) => summary.fail(line, "the producer was dropped before reporting delivery (a bug in sluice)"),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn parse(args: &[&str]) -> Result<ProduceArgs, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("sluice").chain(args.iter().copied()))?;
        match cli.command {
            Command::Produce(args) => Ok(args),
            other => panic!("expected produce, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_acks_all_and_no_compression() {
        let args = parse(&["produce", "orders"]).expect("valid");
        assert_eq!(args.topic, "orders");
        assert_eq!(args.acks, Acks::All);
        assert_eq!(args.compression, Compression::None);
        assert_eq!(args.key_separator, None);
    }

    #[test]
    fn flags_parse() {
        let args = parse(&[
            "produce",
            "t",
            "--key-separator",
            ":",
            "--header",
            "a=1",
            "--header",
            "b=",
            "--partition",
            "2",
            "--acks",
            "1",
            "--compression",
            "zstd",
            "-b",
            "h:9",
        ])
        .expect("valid");
        assert_eq!(args.key_separator.as_deref(), Some(":"));
        assert_eq!(args.headers, vec![("a".into(), "1".into()), ("b".into(), String::new())]);
        assert_eq!(args.partition, Some(2));
        assert_eq!(args.acks, Acks::Leader);
        assert_eq!(args.compression, Compression::Zstd);
        assert_eq!(args.client.bootstrap_server, "h:9");
    }

    #[test]
    fn bad_flags_are_rejected() {
        assert!(parse(&["produce"]).is_err(), "topic is required");
        assert!(parse(&["produce", "t", "--acks", "2"]).is_err());
        assert!(parse(&["produce", "t", "--compression", "brotli"]).is_err());
        assert!(parse(&["produce", "t", "--partition", "-1"]).is_err());
        assert!(parse(&["produce", "t", "--key-separator", ""]).is_err());
        assert!(parse(&["produce", "t", "--header", "nokey"]).is_err());
    }

    #[test]
    fn line_ends_are_trimmed() {
        assert_eq!(trim_line_end(b"a\n"), b"a");
        assert_eq!(trim_line_end(b"a\r\n"), b"a");
        assert_eq!(trim_line_end(b"a"), b"a");
        assert_eq!(trim_line_end(b"\n"), b"");
    }

    #[test]
    fn key_splits_at_first_separator() {
        assert_eq!(split_key(b"k:v:w", Some(b":")), Ok((Some(&b"k"[..]), &b"v:w"[..])));
        assert_eq!(split_key(b":v", Some(b":")), Ok((Some(&b""[..]), &b"v"[..])));
        assert_eq!(split_key(b"k::v", Some(b"::")), Ok((Some(&b"k"[..]), &b"v"[..])));
        assert_eq!(split_key(b"k:v", None), Ok((None, &b"k:v"[..])));
    }

    #[test]
    fn missing_separator_says_what_to_do() {
        let err = split_key(b"novalue", Some(b":")).expect_err("no separator");
        assert!(err.contains("KEY:VALUE"), "{err}");
    }
}
