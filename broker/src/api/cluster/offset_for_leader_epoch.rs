//! OffsetForLeaderEpoch (key 23): the end offset of a leader epoch in the leader's log. Followers ask it before
//! fetching from a new leader to find where their log diverged; consumers ask it after a leader change to
//! detect truncation. Only the leader answers (NOT_LEADER_OR_FOLLOWER elsewhere), and a stale or future
//! `current_leader_epoch` is fenced as in Kafka. A single broker leads everything at epoch 0.

use std::sync::Arc;

use kafka_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
use kafka_protocol::messages::{
    ApiKey, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, RequestHeader, ResponseKind,
};
use kafka_protocol::ResponseError;

use super::view::SINGLE_NODE_EPOCH;
use crate::api::{util, Handler, Reply};
use crate::server::Shared;

pub(crate) struct OffsetForLeaderEpoch;

/// Kafka's "no epoch" / "no offset".
const UNDEFINED_EPOCH: i32 = -1;
const UNDEFINED_OFFSET: i64 = -1;

impl Handler for OffsetForLeaderEpoch {
    type Request = OffsetForLeaderEpochRequest;
    const KEY: ApiKey = ApiKey::OffsetForLeaderEpoch;
    // v0-v1 are gone from Kafka 4.0 and the codec; v2 brought current_leader_epoch, which fencing needs.
    const VERSIONS: (i16, i16) = (2, 4);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: OffsetForLeaderEpochRequest) -> Reply {
        let mut response = OffsetForLeaderEpochResponse::default();
        for topic in request.topics {
            let mut result = OffsetForLeaderTopicResult::default();
            result.topic = topic.topic.clone();
            for p in topic.partitions {
                let mut answer = EpochEndOffset::default();
                answer.partition = p.partition;
                match end_offset(shared, topic.topic.0.as_str(), p.partition, p.current_leader_epoch, p.leader_epoch) {
                    Ok((epoch, offset)) => {
                        answer.leader_epoch = epoch;
                        answer.end_offset = offset;
                    }
                    Err(error) => {
                        answer.error_code = util::code(error);
                        answer.leader_epoch = UNDEFINED_EPOCH;
                        answer.end_offset = UNDEFINED_OFFSET;
                    }
                }
                result.partitions.push(answer);
            }
            response.topics.push(result);
        }
        Reply::Message(ResponseKind::OffsetForLeaderEpoch(response))
    }
}

/// One partition's answer: (epoch, end offset), or the error.
fn end_offset(
    shared: &Shared,
    topic: &str,
    partition: i32,
    current_leader_epoch: i32,
    requested: i32,
) -> Result<(i32, i64), ResponseError> {
    let local = shared.topics.get(topic).and_then(|t| t.partition(partition));
    let current = match &shared.replicas {
        Some(replicas) => replicas.leader_epoch(topic, partition)?,
        None if local.is_some() => SINGLE_NODE_EPOCH,
        None => return Err(ResponseError::UnknownTopicOrPartition),
    };
    // -1 means the client does not know the epoch and asks us not to check it.
    if current_leader_epoch != -1 {
        if current_leader_epoch < current {
            return Err(ResponseError::FencedLeaderEpoch);
        }
        if current_leader_epoch > current {
            return Err(ResponseError::UnknownLeaderEpoch);
        }
    }
    // The metadata says we lead, but the log is not open yet (the image is still being reconciled).
    let log = local.ok_or(ResponseError::NotLeaderOrFollower)?;
    let log_end = log.log_end_offset();
    Ok(answer(requested, current, log.latest_epoch(), log_end, |epoch| log.end_offset_for_epoch(epoch)))
}

/// Kafka's answer on a leader at epoch `current`. Kafka records `current` in its epoch cache at election, starting
/// at the log end, even before any batch carries it; the log here knows only the epochs of its batches, so the
/// epochs after its latest batch are answered here and the rest by the log (`lookup`).
fn answer(
    requested: i32,
    current: i32,
    latest: Option<i32>,
    log_end: i64,
    lookup: impl FnOnce(i32) -> (i32, i64),
) -> (i32, i64) {
    if requested < 0 || requested > current {
        return (UNDEFINED_EPOCH, UNDEFINED_OFFSET);
    }
    if requested == current {
        return (current, log_end);
    }
    match latest {
        // No batch since `requested`: the next known epoch (`current`) starts at the log end.
        None => (requested, log_end),
        Some(latest) if latest < requested => (latest, log_end),
        Some(_) => lookup(requested),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(_: i32) -> (i32, i64) {
        panic!("the log is not asked")
    }

    #[test]
    fn epochs_at_or_after_the_latest_batch_end_at_the_log_end() {
        assert_eq!(answer(5, 5, Some(3), 100, never), (5, 100));
        assert_eq!(answer(4, 5, Some(3), 100, never), (3, 100));
        assert_eq!(answer(2, 5, None, 100, never), (2, 100));
        assert_eq!(answer(2, 5, Some(3), 100, |e| (e, 80)), (2, 80));
    }

    #[test]
    fn unknown_epochs_are_undefined() {
        assert_eq!(answer(6, 5, Some(5), 100, never), (-1, -1));
        assert_eq!(answer(-1, 5, Some(5), 100, never), (-1, -1));
    }
}
