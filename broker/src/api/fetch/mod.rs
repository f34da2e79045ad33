//! Fetch (key 1): whole record batches from the log, long-polling until `min_bytes` or `max_wait_ms`.

mod response;

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::{ApiKey, FetchRequest, RequestHeader};
use kafka_protocol::ResponseError;
use tokio::sync::watch;
use uuid::Uuid;

use self::response::{PartitionAnswer, TopicAnswer};
use super::{util, Handler, Reply};
use crate::log::{PartitionLog, ReadError};
use crate::server::Shared;

pub(crate) struct Fetch;

/// The longest a fetch may wait, whatever the client asks: keeps a bad max_wait_ms from pinning a connection.
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

/// One requested partition, resolved once per request.
struct Wanted {
    partition: i32,
    fetch_offset: i64,
    max_bytes: i32,
    log: Result<Arc<PartitionLog>, ResponseError>,
}

struct WantedTopic {
    name: String,
    id: Uuid,
    partitions: Vec<Wanted>,
}

impl Handler for Fetch {
    type Request = FetchRequest;
    const KEY: ApiKey = ApiKey::Fetch;
    const VERSIONS: (i16, i16) = (4, 18);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: FetchRequest) -> Reply {
        let version = header.request_api_version;
        let topics: Vec<WantedTopic> = request
            .topics
            .into_iter()
            .map(|t| {
                let topic = if version >= 13 {
                    shared.topics.get_by_id(t.topic_id).ok_or(ResponseError::UnknownTopicId)
                } else {
                    shared.topics.get(t.topic.0.as_str()).ok_or(ResponseError::UnknownTopicOrPartition)
                };
                let name = topic.as_ref().map(|t| t.name.clone()).unwrap_or_else(|_| t.topic.0.to_string());
                let partitions = t
                    .partitions
                    .into_iter()
                    .map(|p| Wanted {
                        partition: p.partition,
                        fetch_offset: p.fetch_offset,
                        max_bytes: p.partition_max_bytes,
                        log: topic.clone().and_then(|topic| {
                            topic.partition(p.partition).ok_or(ResponseError::UnknownTopicOrPartition)
                        }),
                    })
                    .collect();
                WantedTopic { name, id: t.topic_id, partitions }
            })
            .collect();

        // Subscribe before the first read so an append between the read and the wait still wakes us.
        let mut watchers: Vec<watch::Receiver<i64>> = topics
            .iter()
            .flat_map(|t| t.partitions.iter())
            .filter_map(|p| p.log.as_ref().ok().map(|log| log.subscribe()))
            .collect();
        let max_wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
        let deadline = tokio::time::Instant::now() + max_wait;
        let min_bytes = request.min_bytes.max(1) as u64;
        let max_bytes = if request.max_bytes <= 0 { i32::MAX as u64 } else { request.max_bytes as u64 };
        // isolation_level 1 (read_committed): stop at the last stable offset and name the aborted transactions.
        let read_committed = request.isolation_level == 1;
        loop {
            for w in &mut watchers {
                w.borrow_and_update();
            }
            let (answers, total, any_error) = read_all(&topics, max_bytes, read_committed);
            let expired = tokio::time::Instant::now() >= deadline;
            if total >= min_bytes || any_error || expired || watchers.is_empty() {
                return Reply::Frame(response::encode(version, answers));
            }
            drop(answers);
            let changed = futures::future::select_all(watchers.iter_mut().map(|w| Box::pin(w.changed())));
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                // Timed out: answer with whatever there is now.
                let (answers, _, _) = read_all(&topics, max_bytes, read_committed);
                return Reply::Frame(response::encode(version, answers));
            }
        }
    }
}

/// Reads every wanted partition once: the answers, their total record bytes, and whether any failed.
fn read_all(topics: &[WantedTopic], max_bytes: u64, read_committed: bool) -> (Vec<TopicAnswer>, u64, bool) {
    let mut remaining = max_bytes;
    let mut total = 0u64;
    let mut any_error = false;
    let answers = topics
        .iter()
        .map(|t| TopicAnswer {
            name: t.name.clone(),
            id: t.id,
            partitions: t
                .partitions
                .iter()
                .map(|w| {
                    let answer = read_one(w, remaining, read_committed);
                    if answer.error_code != util::NONE {
                        any_error = true;
                    }
                    let len: u64 = answer.records.iter().map(|s| u64::from(s.len)).sum();
                    total += len;
                    remaining = remaining.saturating_sub(len);
                    answer
                })
                .collect(),
        })
        .collect();
    (answers, total, any_error)
}

fn read_one(w: &Wanted, remaining: u64, read_committed: bool) -> PartitionAnswer {
    let mut answer = PartitionAnswer {
        partition: w.partition,
        error_code: util::NONE,
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        aborted_transactions: None,
        records: Vec::new(),
    };
    let log = match &w.log {
        Ok(log) => log,
        Err(error) => {
            answer.error_code = util::code(*error);
            return answer;
        }
    };
    let high_watermark = log.log_end_offset();
    let last_stable = log.last_stable_offset();
    answer.high_watermark = high_watermark;
    answer.last_stable_offset = last_stable;
    answer.log_start_offset = log.log_start_offset();
    if read_committed {
        answer.aborted_transactions = Some(Vec::new());
    }
    // Once the response is full, later partitions answer without records rather than overflow it.
    if remaining == 0 {
        return answer;
    }
    let limit = (w.max_bytes.max(0) as u64).min(remaining).min(u64::from(u32::MAX)) as u32;
    let upper = if read_committed { last_stable } else { high_watermark };
    match log.read(w.fetch_offset, limit, upper) {
        Ok(read) => {
            answer.high_watermark = read.high_watermark;
            answer.last_stable_offset = read.last_stable_offset;
            answer.log_start_offset = read.log_start_offset;
            if read_committed && !read.slices.is_empty() {
                // Consumers drop the records of these producers from each first offset up to the abort marker.
                let aborted = log.aborted_transactions(w.fetch_offset, upper);
                answer.aborted_transactions = Some(aborted.iter().map(|t| (t.producer_id, t.first_offset)).collect());
            }
            answer.records = read.slices;
        }
        Err(ReadError::OffsetOutOfRange { .. }) => {
            answer.error_code = util::code(ResponseError::OffsetOutOfRange);
        }
        Err(e) => {
            tracing::warn!(partition = w.partition, error = %e, "fetch read failed");
            answer.error_code = util::code(ResponseError::KafkaStorageError);
        }
    }
    answer
}
