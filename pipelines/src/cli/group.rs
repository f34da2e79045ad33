//! `sluice group ...`: consumer-group administration like Kafka's `kafka-consumer-groups`: list groups,
//! describe members and lag, delete empty groups, and reset committed offsets. It uses only the Kafka
//! protocol through rdkafka (ListGroups/DescribeGroups, OffsetFetch/OffsetCommit, ListOffsets,
//! DeleteGroups), so it works against any Kafka-compatible cluster.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::groups::GroupInfo;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use super::client::{self, ClientArgs};
use super::emit;
use super::table::Table;

/// How long one group, offset or watermark request may take before we blame the connection.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Args)]
pub(crate) struct GroupArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    #[command(subcommand)]
    pub(crate) command: GroupCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum GroupCommand {
    /// List consumer groups with their state and protocol type.
    List,
    /// Show a group's members and assignments, and per partition its committed offset, log end offset and lag.
    Describe {
        /// The group id.
        group: String,
        /// Output as a human-readable table or one JSON document.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Delete a group and its committed offsets; only a group without members can be deleted.
    Delete {
        /// The group id.
        group: String,
    },
    /// Move a group's committed offsets on a topic. Prints the plan; commits it only with --execute.
    ResetOffsets(ResetArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("target").required(true).args(["to_earliest", "to_latest", "to_datetime", "to_offset"])
))]
pub(crate) struct ResetArgs {
    /// The group id.
    group: String,
    /// The topic whose offsets to reset (every partition of it).
    #[arg(long, value_name = "TOPIC")]
    topic: String,
    /// Reset to the earliest offset still in the log.
    #[arg(long)]
    to_earliest: bool,
    /// Reset to the log end offset (skip everything not yet consumed).
    #[arg(long)]
    to_latest: bool,
    /// Reset to the first offset whose timestamp is at or after this time, in milliseconds since the epoch;
    /// partitions with no such record go to the log end.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(i64).range(0..))]
    to_datetime: Option<i64>,
    /// Reset to this offset, clamped to the partition's earliest and log end offsets.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..))]
    to_offset: Option<i64>,
    /// Commit the new offsets; without it the plan is only printed.
    #[arg(long)]
    execute: bool,
}

/// Where `reset-offsets` moves each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResetTarget {
    Earliest,
    Latest,
    Datetime(i64),
    Offset(i64),
}

impl ResetArgs {
    fn target(&self) -> ResetTarget {
        match (self.to_datetime, self.to_offset) {
            _ if self.to_earliest => ResetTarget::Earliest,
            _ if self.to_latest => ResetTarget::Latest,
            (Some(ms), _) => ResetTarget::Datetime(ms),
            (_, Some(n)) => ResetTarget::Offset(n),
            // clap's required "target" group makes this unreachable from the command line.
            (None, None) => ResetTarget::Earliest,
        }
    }
}

/// The offset a partition is reset to, given its earliest (`low`) and log end (`high`) offsets and, for
/// `--to-datetime`, what ListOffsets returned for the time (`None` or negative: no record that late).
fn reset_offset(target: ResetTarget, low: i64, high: i64, by_time: Option<i64>) -> i64 {
    match target {
        ResetTarget::Earliest => low,
        ResetTarget::Latest => high,
        ResetTarget::Datetime(_) => match by_time {
            Some(offset) if offset >= 0 => offset.clamp(low, high),
            _ => high,
        },
        // Like Kafka's tool: an offset outside the log is moved to its nearest end.
        ResetTarget::Offset(n) => n.clamp(low, high),
    }
}

/// How far a group is behind on one partition: `None` when it has committed nothing there. A committed
/// offset past the log end (the log was truncated or deleted-and-recreated) counts as no lag.
fn lag(committed: Option<i64>, log_end: i64) -> Option<i64> {
    committed.map(|c| (log_end - c).max(0))
}

/// The sum of the lags that are known.
fn total_lag(rows: &[PartitionRow]) -> i64 {
    rows.iter().filter_map(|r| r.lag).sum()
}

/// One line of `describe`'s partition table.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct PartitionRow {
    topic: String,
    partition: i32,
    committed_offset: Option<i64>,
    log_end_offset: i64,
    lag: Option<i64>,
    member_id: Option<String>,
}

#[derive(Debug, Serialize)]
struct MemberRow {
    member_id: String,
    client_id: String,
    host: String,
    /// Topic to partitions, decoded from the member's assignment; `None` if it could not be decoded.
    assignment: Option<BTreeMap<String, Vec<i32>>>,
}

#[derive(Debug, Serialize)]
struct GroupDescription {
    group: String,
    state: String,
    protocol_type: String,
    protocol: String,
    members: Vec<MemberRow>,
    partitions: Vec<PartitionRow>,
    total_lag: i64,
}

pub(crate) async fn run(args: GroupArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        GroupCommand::List => tokio::task::block_in_place(|| list(&args.client))?,
        GroupCommand::Describe { group, format } => {
            tokio::task::block_in_place(|| describe(&args.client, &group, format))?
        }
        GroupCommand::Delete { group } => delete(&args.client, &group).await?,
        GroupCommand::ResetOffsets(reset) => tokio::task::block_in_place(|| reset_offsets(&args.client, &reset))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A consumer that never subscribes: it carries the group id for OffsetFetch and OffsetCommit only.
fn group_consumer(args: &ClientArgs, group: &str) -> anyhow::Result<BaseConsumer> {
    args.client_config(&[("group.id", group), ("enable.auto.commit", "false"), ("enable.auto.offset.store", "false")])
        .create()
        .context("cannot create the Kafka consumer; check the -X properties")
}

fn list(args: &ClientArgs) -> anyhow::Result<()> {
    // Any group id will do: listing does not involve one, but librdkafka's consumer wants it set.
    let consumer = group_consumer(args, "sluice-group-cli")?;
    let groups = consumer
        .fetch_group_list(None, REQUEST_TIMEOUT)
        .with_context(|| format!("cannot list groups ({})", args.reachability_hint()))?;
    let mut rows: Vec<_> = groups
        .groups()
        .iter()
        .map(|g| (g.name().to_string(), g.state().to_string(), g.protocol_type().to_string()))
        .collect();
    rows.sort();
    let mut table = Table::new(&["GROUP", "STATE", "PROTOCOL-TYPE"]);
    for (name, state, protocol_type) in rows {
        table.row(vec![name, state, protocol_type]);
    }
    emit(table.render())
}

/// The group as DescribeGroups reports it; an unknown group comes back as state `Dead` with no members.
fn fetch_group(consumer: &BaseConsumer, args: &ClientArgs, group: &str) -> anyhow::Result<GroupSummary> {
    let list = consumer
        .fetch_group_list(Some(group), REQUEST_TIMEOUT)
        .with_context(|| format!("cannot describe group {group:?} ({})", args.reachability_hint()))?;
    let info = list.groups().iter().find(|g| g.name() == group);
    Ok(match info {
        Some(info) => GroupSummary::from_info(info),
        None => GroupSummary {
            state: "Dead".to_string(),
            protocol_type: String::new(),
            protocol: String::new(),
            members: Vec::new(),
        },
    })
}

#[derive(Debug)]
struct GroupSummary {
    state: String,
    protocol_type: String,
    protocol: String,
    members: Vec<MemberRow>,
}

impl GroupSummary {
    fn from_info(info: &GroupInfo) -> Self {
        let members = info
            .members()
            .iter()
            .map(|m| MemberRow {
                member_id: m.id().to_string(),
                client_id: m.client_id().to_string(),
                host: m.client_host().to_string(),
                assignment: m.assignment().and_then(decode_assignment),
            })
            .collect();
        Self {
            state: info.state().to_string(),
            protocol_type: info.protocol_type().to_string(),
            protocol: info.protocol().to_string(),
            members,
        }
    }

    /// Kafka resets or deletes only groups nobody is consuming in; "Dead" is a group that does not exist.
    fn is_inactive(&self) -> bool {
        self.members.is_empty() && matches!(self.state.as_str(), "Empty" | "Dead" | "")
    }
}

fn describe(args: &ClientArgs, group: &str, format: Format) -> anyhow::Result<()> {
    let consumer = group_consumer(args, group)?;
    let summary = fetch_group(&consumer, args, group)?;
    let metadata = client::fetch_all_metadata(consumer.client(), args)?;

    // OffsetFetch for every partition of every topic: the protocol cannot ask "which topics has this group
    // committed to" through librdkafka's consumer API. Internal topics are never consumed by groups.
    let mut wanted = TopicPartitionList::new();
    for topic in metadata.topics() {
        if topic.name().starts_with("__") || topic.error().is_some() {
            continue;
        }
        for p in topic.partitions() {
            wanted.add_partition(topic.name(), p.id());
        }
    }
    let committed = if wanted.count() == 0 {
        TopicPartitionList::new()
    } else {
        consumer
            .committed_offsets(wanted, REQUEST_TIMEOUT)
            .with_context(|| format!("cannot fetch the committed offsets of group {group:?}"))?
    };

    let mut owner: BTreeMap<(String, i32), String> = BTreeMap::new();
    for member in &summary.members {
        for (topic, partitions) in member.assignment.iter().flatten() {
            for p in partitions {
                owner.insert((topic.clone(), *p), member.member_id.clone());
            }
        }
    }

    let mut partitions = Vec::new();
    for elem in committed.elements() {
        let committed_offset = match elem.offset() {
            Offset::Offset(n) => Some(n),
            _ => None,
        };
        let key = (elem.topic().to_string(), elem.partition());
        if committed_offset.is_none() && !owner.contains_key(&key) {
            continue; // Neither consumed nor assigned: not this group's partition.
        }
        let (_, log_end) = consumer
            .fetch_watermarks(elem.topic(), elem.partition(), REQUEST_TIMEOUT)
            .with_context(|| format!("cannot fetch the log end offset of {}-{}", elem.topic(), elem.partition()))?;
        partitions.push(PartitionRow {
            topic: key.0.clone(),
            partition: key.1,
            committed_offset,
            log_end_offset: log_end,
            lag: lag(committed_offset, log_end),
            member_id: owner.get(&key).cloned(),
        });
    }
    partitions.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    if summary.state == "Dead" && summary.members.is_empty() && partitions.is_empty() {
        anyhow::bail!("consumer group {group:?} does not exist; list groups with `sluice group list`");
    }
    let description = GroupDescription {
        group: group.to_string(),
        total_lag: total_lag(&partitions),
        state: summary.state,
        protocol_type: summary.protocol_type,
        protocol: summary.protocol,
        members: summary.members,
        partitions,
    };
    match format {
        Format::Json => emit(format_args!("{}\n", serde_json::to_string_pretty(&description)?)),
        Format::Text => emit(render_description(&description)),
    }
}

fn render_description(d: &GroupDescription) -> String {
    let mut out = format!(
        "Group: {}  State: {}  Protocol: {}  Members: {}\n\n",
        d.group,
        d.state,
        if d.protocol.is_empty() { d.protocol_type.clone() } else { format!("{}/{}", d.protocol_type, d.protocol) },
        d.members.len()
    );
    if d.members.is_empty() && !matches!(d.state.as_str(), "Empty" | "Dead") {
        // Groups of KIP-848's consumer protocol are described by ConsumerGroupDescribe, which librdkafka's
        // group listing does not use; their members do not show up in the classic DescribeGroups.
        out.push_str(
            "(members not listed: the group does not report them through DescribeGroups, as with \
                      groups using the KIP-848 consumer protocol)\n\n",
        );
    }
    if !d.members.is_empty() {
        let mut table = Table::new(&["MEMBER-ID", "CLIENT-ID", "HOST", "ASSIGNMENT"]);
        for m in &d.members {
            let assignment = match &m.assignment {
                Some(a) => a
                    .iter()
                    .map(|(t, ps)| format!("{t}:{}", ps.iter().map(i32::to_string).collect::<Vec<_>>().join(",")))
                    .collect::<Vec<_>>()
                    .join(" "),
                None => "?".to_string(),
            };
            table.row(vec![m.member_id.clone(), m.client_id.clone(), m.host.clone(), assignment]);
        }
        out.push_str(&table.render());
        out.push('\n');
    }
    let dash = |v: Option<i64>| v.map_or_else(|| "-".to_string(), |n| n.to_string());
    let mut table = Table::new(&["TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "MEMBER-ID"]);
    for p in &d.partitions {
        table.row(vec![
            p.topic.clone(),
            p.partition.to_string(),
            dash(p.committed_offset),
            p.log_end_offset.to_string(),
            dash(p.lag),
            p.member_id.clone().unwrap_or_else(|| "-".to_string()),
        ]);
    }
    out.push_str(&table.render());
    out.push_str(&format!("\nTotal lag: {}\n", d.total_lag));
    out
}

async fn delete(args: &ClientArgs, group: &str) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        args.client_config(&[]).create().context("cannot create the Kafka admin client; check the -X properties")?;
    let options = AdminOptions::new().request_timeout(Some(REQUEST_TIMEOUT));
    let results = admin
        .delete_groups(&[group], &options)
        .await
        .with_context(|| format!("delete group {group:?} failed ({})", args.reachability_hint()))?;
    for result in results {
        if let Err((name, code)) = result {
            anyhow::bail!("delete group {name:?}: {code}{}", delete_hint(code));
        }
    }
    emit(format_args!("deleted group {group}\n"))
}

fn delete_hint(code: RDKafkaErrorCode) -> &'static str {
    match code {
        RDKafkaErrorCode::NonEmptyGroup => {
            "; the group still has members: stop its consumers first (see `sluice group describe`)"
        }
        RDKafkaErrorCode::GroupIdNotFound => "; list groups with `sluice group list`",
        _ => "",
    }
}

fn reset_offsets(args: &ClientArgs, reset: &ResetArgs) -> anyhow::Result<()> {
    let group = reset.group.as_str();
    let consumer = group_consumer(args, group)?;
    let summary = fetch_group(&consumer, args, group)?;
    if !summary.is_inactive() {
        anyhow::bail!(
            "offsets of group {group:?} can only be reset while it has no members, but it is {} with {} \
             member(s); stop its consumers first",
            summary.state,
            summary.members.len()
        );
    }
    let metadata = client::fetch_all_metadata(consumer.client(), args)?;
    let partitions = client::topic_partitions(&metadata, &reset.topic)?;
    let target = reset.target();

    let by_time = match target {
        ResetTarget::Datetime(ms) => {
            let mut query = TopicPartitionList::new();
            for p in &partitions {
                query.add_partition_offset(&reset.topic, *p, Offset::Offset(ms))?;
            }
            let found = consumer
                .offsets_for_times(query, REQUEST_TIMEOUT)
                .with_context(|| format!("cannot look up offsets of {} by time", reset.topic))?;
            found.elements().iter().map(|e| (e.partition(), e.offset().to_raw())).collect::<BTreeMap<_, _>>()
        }
        _ => BTreeMap::new(),
    };

    let mut current = TopicPartitionList::new();
    for p in &partitions {
        current.add_partition(&reset.topic, *p);
    }
    let current = consumer
        .committed_offsets(current, REQUEST_TIMEOUT)
        .with_context(|| format!("cannot fetch the committed offsets of group {group:?}"))?;

    let mut plan = TopicPartitionList::new();
    let mut table = Table::new(&["TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"]);
    for p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(&reset.topic, *p, REQUEST_TIMEOUT)
            .with_context(|| format!("cannot fetch the offsets of {}-{p}", reset.topic))?;
        let new = reset_offset(target, low, high, by_time.get(p).copied().flatten());
        let now = match current.find_partition(&reset.topic, *p).map(|e| e.offset()) {
            Some(Offset::Offset(n)) => n.to_string(),
            _ => "-".to_string(),
        };
        table.row(vec![reset.topic.clone(), p.to_string(), now, new.to_string()]);
        plan.add_partition_offset(&reset.topic, *p, Offset::Offset(new))?;
    }
    emit(table.render())?;
    if reset.execute {
        consumer
            .commit(&plan, CommitMode::Sync)
            .with_context(|| format!("cannot commit the new offsets of group {group:?}"))?;
        emit(format_args!("committed new offsets for group {group}\n"))
    } else {
        emit("dry run: nothing committed; add --execute to commit these offsets\n")
    }
}

/// Decodes a classic consumer-protocol assignment (`ConsumerProtocolAssignment`, any version): an i16
/// version, then an array of (topic string, array of i32 partitions); user data after that is ignored.
/// `None` for bytes of another shape (a non-consumer protocol such as Connect's).
fn decode_assignment(bytes: &[u8]) -> Option<BTreeMap<String, Vec<i32>>> {
    struct Reader<'a>(&'a [u8]);
    impl Reader<'_> {
        fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
            let (head, rest) = self.0.split_at_checked(N)?;
            self.0 = rest;
            head.try_into().ok()
        }
        fn i16(&mut self) -> Option<i16> {
            self.take::<2>().map(i16::from_be_bytes)
        }
        fn i32(&mut self) -> Option<i32> {
            self.take::<4>().map(i32::from_be_bytes)
        }
    }
    let mut r = Reader(bytes);
    let mut out = BTreeMap::new();
    if bytes.is_empty() {
        return Some(out); // A member that has not been assigned anything yet.
    }
    let _version = r.i16()?;
    let topics = r.i32()?;
    for _ in 0..topics.max(0) {
        let len = usize::try_from(r.i16()?).ok()?;
        let (name, rest) = r.0.split_at_checked(len)?;
        r.0 = rest;
        let name = std::str::from_utf8(name).ok()?.to_string();
        let count = r.i32()?;
        let mut partitions = Vec::new();
        for _ in 0..count.max(0) {
            partitions.push(r.i32()?);
        }
        partitions.sort_unstable();
        out.entry(name).or_insert_with(Vec::new).extend(partitions);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn parse(args: &[&str]) -> Result<GroupArgs, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("sluice").chain(args.iter().copied()))?;
        match cli.command {
            Command::Group(args) => Ok(args),
            other => panic!("expected group, got {other:?}"),
        }
    }

    fn parse_reset(args: &[&str]) -> Result<ResetArgs, clap::Error> {
        match parse(args)?.command {
            GroupCommand::ResetOffsets(reset) => Ok(reset),
            other => panic!("expected reset-offsets, got {other:?}"),
        }
    }

    #[test]
    fn reset_is_a_dry_run_unless_execute_is_given() {
        let reset = parse_reset(&["group", "reset-offsets", "g", "--topic", "t", "--to-earliest"]).expect("valid");
        assert_eq!((reset.group.as_str(), reset.topic.as_str()), ("g", "t"));
        assert_eq!(reset.target(), ResetTarget::Earliest);
        assert!(!reset.execute);
        let reset =
            parse_reset(&["group", "reset-offsets", "g", "--topic", "t", "--to-latest", "--execute"]).expect("valid");
        assert_eq!(reset.target(), ResetTarget::Latest);
        assert!(reset.execute);
    }

    #[test]
    fn reset_takes_a_datetime_or_an_offset() {
        let reset = parse_reset(&["group", "reset-offsets", "g", "--topic", "t", "--to-datetime", "1700000000000"])
            .expect("ms");
        assert_eq!(reset.target(), ResetTarget::Datetime(1_700_000_000_000));
        let reset = parse_reset(&["group", "reset-offsets", "g", "--topic", "t", "--to-offset", "42"]).expect("n");
        assert_eq!(reset.target(), ResetTarget::Offset(42));
    }

    #[test]
    fn reset_needs_exactly_one_target_and_a_topic() {
        assert!(parse(&["group", "reset-offsets", "g", "--topic", "t"]).is_err(), "no target");
        assert!(
            parse(&["group", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--to-latest"]).is_err(),
            "two targets"
        );
        assert!(parse(&["group", "reset-offsets", "g", "--to-earliest"]).is_err(), "no topic");
        assert!(parse(&["group", "reset-offsets", "g", "--topic", "t", "--to-offset", "-1"]).is_err());
        assert!(parse(&["group", "reset-offsets", "g", "--topic", "t", "--to-datetime", "yesterday"]).is_err());
    }

    #[test]
    fn describe_and_delete_take_a_group_and_the_client_flags() {
        let args = parse(&["group", "describe", "g1", "-b", "h:1", "--format", "json"]).expect("valid");
        assert_eq!(args.client.bootstrap_server, "h:1");
        assert!(matches!(args.command, GroupCommand::Describe { ref group, format: Format::Json } if group == "g1"));
        let args = parse(&["group", "delete", "g2"]).expect("valid");
        assert!(matches!(args.command, GroupCommand::Delete { ref group } if group == "g2"));
        assert!(parse(&["group", "describe"]).is_err(), "describe needs a group");
        assert!(matches!(parse(&["group", "list"]).expect("valid").command, GroupCommand::List));
    }

    #[test]
    fn lag_is_log_end_minus_committed_and_unknown_without_a_commit() {
        assert_eq!(lag(Some(3), 10), Some(7));
        assert_eq!(lag(Some(10), 10), Some(0));
        assert_eq!(lag(Some(12), 10), Some(0), "a commit past the log end is no lag, not negative lag");
        assert_eq!(lag(None, 10), None);
    }

    #[test]
    fn total_lag_sums_the_known_lags() {
        let row = |partition, committed, log_end| PartitionRow {
            topic: "t".into(),
            partition,
            committed_offset: committed,
            log_end_offset: log_end,
            lag: lag(committed, log_end),
            member_id: None,
        };
        let rows = [row(0, Some(5), 10), row(1, None, 7), row(2, Some(0), 3)];
        assert_eq!(total_lag(&rows), 8);
        assert_eq!(total_lag(&[]), 0);
    }

    #[test]
    fn reset_offsets_are_clamped_to_the_log() {
        assert_eq!(reset_offset(ResetTarget::Earliest, 4, 9, None), 4);
        assert_eq!(reset_offset(ResetTarget::Latest, 4, 9, None), 9);
        assert_eq!(reset_offset(ResetTarget::Offset(6), 4, 9, None), 6);
        assert_eq!(reset_offset(ResetTarget::Offset(1), 4, 9, None), 4);
        assert_eq!(reset_offset(ResetTarget::Offset(100), 4, 9, None), 9);
        assert_eq!(reset_offset(ResetTarget::Datetime(5), 4, 9, Some(7)), 7);
        assert_eq!(reset_offset(ResetTarget::Datetime(5), 4, 9, Some(-1)), 9, "no record that late");
        assert_eq!(reset_offset(ResetTarget::Datetime(5), 4, 9, None), 9);
    }

    #[test]
    fn assignments_decode_from_consumer_protocol_bytes() {
        // version 1, topics [("ab", [2, 0]), ("c", [])], user data: 4 bytes.
        let mut bytes = vec![0, 1, 0, 0, 0, 2];
        bytes.extend([0, 2, b'a', b'b', 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0]);
        bytes.extend([0, 1, b'c', 0, 0, 0, 0]);
        bytes.extend([0, 0, 0, 4, 1, 2, 3, 4]);
        let decoded = decode_assignment(&bytes).expect("decodes");
        assert_eq!(decoded, BTreeMap::from([("ab".to_string(), vec![0, 2]), ("c".to_string(), vec![])]));
        assert_eq!(decode_assignment(&[]), Some(BTreeMap::new()));
        assert_eq!(decode_assignment(&[0, 1, 0, 0, 0, 1, 0, 5, b'a']), None, "truncated topic name");
    }
}
