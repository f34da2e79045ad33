//! Before fetching from a new leader, a follower removes the tail of its log that the leader does not have
//! (records a previous leader wrote but never committed): it asks the leader, with OffsetForLeaderEpoch, where
//! its own latest leader epoch ends there, and truncates to that (KIP-101, KIP-279). When the leader cannot
//! answer usefully the follower falls back to its high watermark, which every ISR member had.

use std::collections::HashMap;
use std::time::Duration;

use kafka_protocol::messages::offset_for_leader_epoch_request::{OffsetForLeaderPartition, OffsetForLeaderTopic};
use kafka_protocol::messages::offset_for_leader_epoch_response::EpochEndOffset;
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::fetcher::{Assignment, Assignments, Batch, Context, Key};
use crate::log::PartitionLog;
use crate::net::client::{ClientError, KafkaClient};

/// v3 is the first with replica_id, so the leader knows a follower is asking.
const VERSION: i16 = 3;

/// Where to cut a follower's log, from the leader's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// The leader is not ready to answer (it does not lead yet, or no longer): ask again shortly.
    Retry,
    /// Truncate to `offset` (nothing when it is at or beyond the log end); `done` false: ask again afterwards,
    /// with the now smaller latest epoch.
    Truncate { offset: i64, done: bool },
}

/// Decides from the leader's `answer` (error, epoch, end offset) for this log, following Kafka's
/// `getOffsetTruncationState`.
pub(super) fn decide(log: &PartitionLog, error: i16, leader_epoch: i32, end_offset: i64) -> Decision {
    let end = log.log_end_offset();
    match ResponseError::try_from_code(error) {
        None => {}
        Some(
            ResponseError::NotLeaderOrFollower
            | ResponseError::FencedLeaderEpoch
            | ResponseError::UnknownLeaderEpoch
            | ResponseError::UnknownTopicOrPartition
            | ResponseError::LeaderNotAvailable,
        ) => return Decision::Retry,
        Some(_) => return Decision::Truncate { offset: log.high_watermark().min(end), done: true },
    }
    if end_offset < 0 {
        // The leader knows no epoch at or below ours: only the high watermark is known to be shared.
        return Decision::Truncate { offset: log.high_watermark().min(end), done: true };
    }
    if leader_epoch < 0 {
        return Decision::Truncate { offset: end_offset.min(end), done: true };
    }
    let (own_epoch, own_end) = log.end_offset_for_epoch(leader_epoch);
    if own_epoch < 0 {
        // This log has no epoch that old: the leader's answer is below ours, so its end offset is safe.
        Decision::Truncate { offset: end_offset.min(end), done: true }
    } else if own_epoch != leader_epoch {
        // This log never saw the leader's epoch: cut back to where our own older epoch ended, then ask again.
        let offset = own_end.min(end);
        // Nothing to cut means asking again would get the same answer: take the leader's end as it stands.
        if offset >= end {
            Decision::Truncate { offset: end_offset.min(end), done: true }
        } else {
            Decision::Truncate { offset, done: false }
        }
    } else {
        Decision::Truncate { offset: own_end.min(end_offset).min(end), done: true }
    }
}

/// Asks the leader about every partition in `due` and truncates them. Connection failures are returned (the
/// fetcher reconnects); everything else is settled per partition.
pub(super) async fn run(
    client: &mut KafkaClient,
    context: &Context,
    assignments: &Assignments,
    due: Batch,
) -> Result<(), ClientError> {
    let mut asked: HashMap<Key, (Assignment, i32)> = HashMap::new();
    for (key, a) in due {
        match a.replica.log.latest_epoch() {
            // An empty log (or one written before epochs were kept) has no tail to check.
            None => assignments.update(&key, &a.replica, a.epoch, |a| a.truncated = true),
            Some(latest) => {
                asked.insert(key, (a, latest));
            }
        }
    }
    if asked.is_empty() {
        return Ok(());
    }
    let mut topics: HashMap<&str, Vec<OffsetForLeaderPartition>> = HashMap::new();
    for ((topic, partition), (a, latest)) in &asked {
        let mut p = OffsetForLeaderPartition::default();
        p.partition = *partition;
        p.current_leader_epoch = a.epoch;
        p.leader_epoch = *latest;
        topics.entry(topic.as_str()).or_default().push(p);
    }
    let mut request = OffsetForLeaderEpochRequest::default();
    request.replica_id = context.node_id.into();
    request.topics = topics
        .into_iter()
        .map(|(name, partitions)| {
            let mut t = OffsetForLeaderTopic::default();
            t.topic = TopicName(StrBytes::from_string(name.to_string()));
            t.partitions = partitions;
            t
        })
        .collect();
    let response = client.send(VERSION, &request, Duration::ZERO).await?;
    let mut answers: HashMap<Key, EpochEndOffset> = HashMap::new();
    for topic in response.topics {
        for p in topic.partitions {
            answers.insert((topic.topic.0.to_string(), p.partition), p);
        }
    }
    for (key, (a, _)) in asked {
        let Some(answer) = answers.get(&key) else {
            assignments.pause(&key, &a.replica, a.epoch);
            continue;
        };
        settle(assignments, &key, &a, answer);
    }
    Ok(())
}

/// Applies the leader's answer for one partition.
fn settle(assignments: &Assignments, key: &Key, a: &Assignment, answer: &EpochEndOffset) {
    let replica = &a.replica;
    let log = &replica.log;
    // The role is held so the partition cannot start leading halfway through a truncation.
    let role = replica.role();
    if !assignments.follows(&role, a.epoch) {
        return;
    }
    match decide(log, answer.error_code, answer.leader_epoch, answer.end_offset) {
        Decision::Retry => {
            drop(role);
            assignments.pause(key, replica, a.epoch);
        }
        Decision::Truncate { offset, done } => {
            let end = log.log_end_offset();
            if offset < end {
                tracing::info!(
                    topic = %replica.topic, partition = replica.partition, from = end, to = offset,
                    leader_epoch = a.epoch, "truncating a divergent tail before following the new leader"
                );
                if let Err(e) = log.truncate_to(offset) {
                    tracing::error!(topic = %replica.topic, partition = replica.partition, error = %e, "cannot truncate");
                    drop(role);
                    assignments.pause(key, replica, a.epoch);
                    return;
                }
            }
            drop(role);
            if done {
                assignments.update(key, replica, a.epoch, |a| a.truncated = true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TopicConfig;
    use crate::replica::testing::batch;

    /// A log with batches of epoch 1 at 0..3, epoch 3 at 3..6 and epoch 4 at 6..8, high watermark 2.
    fn log(dir: &std::path::Path) -> PartitionLog {
        let log = PartitionLog::open(dir, TopicConfig::default()).expect("open");
        log.set_replicated(true);
        for (epoch, n) in [(1, 3), (3, 3), (4, 2)] {
            log.set_leader_epoch(epoch);
            log.append(&batch(n), 0).expect("append");
        }
        log.set_high_watermark(2);
        log
    }

    #[test]
    fn truncation_follows_kafka() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = log(dir.path());
        let cut = |offset, done| Decision::Truncate { offset, done };
        // The leader has our latest epoch, ending earlier: cut there.
        assert_eq!(decide(&log, 0, 4, 7), cut(7, true));
        // ... or later: nothing to cut (the offset is past our end).
        assert_eq!(decide(&log, 0, 4, 20), cut(8, true));
        // The leader's largest epoch up to ours is 3, ending at 5: our epoch 3 ends at 6, so 5 it is.
        assert_eq!(decide(&log, 0, 3, 5), cut(5, true));
        // The leader answers epoch 2, which we never had: cut back to where our epoch 1 ended, then ask again.
        assert_eq!(decide(&log, 0, 2, 4), cut(3, false));
        // An epoch older than all of ours: the leader's end offset.
        assert_eq!(decide(&log, 0, 0, 1), cut(1, true));
        // No answer to use: the high watermark.
        assert_eq!(decide(&log, 0, -1, -1), cut(2, true));
        assert_eq!(decide(&log, ResponseError::KafkaStorageError.code(), 4, 7), cut(2, true));
        // The leader is not ready: later.
        assert_eq!(decide(&log, ResponseError::NotLeaderOrFollower.code(), -1, -1), Decision::Retry);
        assert_eq!(decide(&log, ResponseError::UnknownLeaderEpoch.code(), -1, -1), Decision::Retry);
        assert_eq!(decide(&log, ResponseError::FencedLeaderEpoch.code(), -1, -1), Decision::Retry);
    }
}
