//! Fetch (key 1): whole record batches from the log, long-polling until `min_bytes` or `max_wait_ms`.
//!
//! In cluster mode only a partition's leader answers. Consumers read up to the high watermark (the last stable
//! offset for read_committed, never past the high watermark) and their long polls wake when it moves; followers
//! (a replica id in the request) read up to the log end, and their fetch offset tells the leader how far they
//! got, which is what moves the high watermark.
//!
//! Followers may fetch within an incremental fetch session (KIP-227, `session`): each request then names only the
//! partitions whose fetch changed, yet all the session's partitions are read, recorded and waited on, and the
//! answer carries only those with something new.

mod response;
pub(crate) mod session;

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiKey, FetchRequest, RequestHeader};
use kafka_protocol::ResponseError;
use tokio::sync::watch;
use uuid::Uuid;

use self::response::{NodeEndpoint, PartitionAnswer, Top, TopicAnswer};
use super::{util, Handler, Reply};
use crate::log::{PartitionLog, ReadError};
use crate::replica::ReplicaManager;
use crate::server::Shared;
use crate::topics::Topic;

pub(crate) struct Fetch;

/// The longest a fetch may wait, whatever the client asks: keeps a bad max_wait_ms from pinning a connection.
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

/// Who is reading, which decides how far a read may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A single node: the log end is the high watermark.
    Local,
    /// Cluster mode, a consumer: up to the high watermark.
    Consumer,
    /// Cluster mode, a follower: up to the log end.
    Follower,
}

/// One requested partition, resolved once per request.
struct Wanted {
    partition: i32,
    fetch_offset: i64,
    max_bytes: i32,
    log: Result<Arc<PartitionLog>, ResponseError>,
    /// The partition's leader and epoch, named in answers that refuse because this broker does not lead it.
    current_leader: Option<(i32, i32)>,
}

/// Cluster mode: whether this broker may serve `partition` of `topic` to this reader, recording a follower's
/// progress. Returns the error to answer instead, with the leader to name.
fn admit(
    replicas: &ReplicaManager,
    mode: Mode,
    replica_id: i32,
    topic: &str,
    partition: i32,
    current_leader_epoch: i32,
    fetch_offset: i64,
) -> Result<(), (ResponseError, Option<(i32, i32)>)> {
    let admitted = match mode {
        Mode::Follower => replicas.follower_fetch(topic, partition, replica_id, current_leader_epoch, fetch_offset),
        _ => replicas.check_leader(topic, partition, current_leader_epoch).map(|_| ()),
    };
    admitted.map_err(|error| {
        let leader = match error {
            ResponseError::NotLeaderOrFollower | ResponseError::FencedLeaderEpoch => {
                replicas.leader_of(topic, partition)
            }
            _ => None,
        };
        (error, leader)
    })
}

struct WantedTopic {
    name: String,
    id: Uuid,
    partitions: Vec<Wanted>,
}

/// Who is asking and how, as every partition of one request is resolved.
struct Reader<'a> {
    shared: &'a Shared,
    mode: Mode,
    replica_id: i32,
}

impl Reader<'_> {
    /// One partition to read: its log if this broker may serve it (a follower's progress recorded on the way).
    fn wanted(
        &self,
        topic: &Result<Arc<Topic>, ResponseError>,
        name: &str,
        partition: i32,
        w: &session::Wanted,
    ) -> Wanted {
        let mut log =
            topic.clone().and_then(|topic| topic.partition(partition).ok_or(ResponseError::UnknownTopicOrPartition));
        let mut current_leader = None;
        if let (Ok(_), Some(replicas)) = (&log, &self.shared.replicas) {
            if let Err((error, leader)) =
                admit(replicas, self.mode, self.replica_id, name, partition, w.leader_epoch, w.fetch_offset)
            {
                log = Err(error);
                current_leader = leader;
            }
        }
        Wanted { partition, fetch_offset: w.fetch_offset, max_bytes: w.max_bytes, log, current_leader }
    }
}

/// A request's partition as a session holds it.
fn session_wanted(topic_id: Uuid, p: &FetchPartition) -> session::Wanted {
    session::Wanted {
        topic_id,
        fetch_offset: p.fetch_offset,
        max_bytes: p.partition_max_bytes,
        log_start_offset: p.log_start_offset,
        leader_epoch: p.current_leader_epoch,
    }
}

/// The request's topics, resolved by name (up to v12) or id (v13+).
fn resolve(
    shared: &Shared,
    version: i16,
    topics: Vec<FetchTopic>,
) -> Vec<(Result<Arc<Topic>, ResponseError>, FetchTopic)> {
    topics
        .into_iter()
        .map(|t| {
            let topic = if version >= 13 {
                shared.topics.get_by_id(t.topic_id).ok_or(ResponseError::UnknownTopicId)
            } else {
                shared.topics.get(t.topic.0.as_str()).ok_or(ResponseError::UnknownTopicOrPartition)
            };
            (topic, t)
        })
        .collect()
}

/// The partitions an incremental fetch reads: every partition of the session (runs of one topic grouped), then
/// the request's partitions of topic ids this broker does not know, which answer their error and are not kept.
fn incremental_topics(
    reader: &Reader<'_>,
    partitions: &[(session::Key, session::Wanted)],
    unknown: Vec<(Result<Arc<Topic>, ResponseError>, FetchTopic)>,
) -> Vec<WantedTopic> {
    let mut topics: Vec<WantedTopic> = Vec::new();
    let mut current: Option<Result<Arc<Topic>, ResponseError>> = None;
    for ((name, partition), w) in partitions {
        let same = topics.last().is_some_and(|t| t.name == *name && t.id == w.topic_id);
        if !same {
            // Looked up again each round: the topic may have gone since the session took it.
            current = Some(reader.shared.topics.get(name).ok_or(ResponseError::UnknownTopicOrPartition));
            topics.push(WantedTopic { name: name.clone(), id: w.topic_id, partitions: Vec::new() });
        }
        if let (Some(topic), Some(t)) = (&current, topics.last_mut()) {
            t.partitions.push(reader.wanted(topic, name, *partition, w));
        }
    }
    for (topic, t) in unknown {
        let name = t.topic.0.to_string();
        let partitions = t
            .partitions
            .iter()
            .map(|p| reader.wanted(&topic, &name, p.partition, &session_wanted(t.topic_id, p)))
            .collect();
        topics.push(WantedTopic { name, id: t.topic_id, partitions });
    }
    topics
}

impl Handler for Fetch {
    type Request = FetchRequest;
    const KEY: ApiKey = ApiKey::Fetch;
    const VERSIONS: (i16, i16) = (4, 18);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: FetchRequest) -> Reply {
        let version = header.request_api_version;
        // v15 moved the replica id into ReplicaState (KIP-903).
        let replica_id = if version >= 15 { request.replica_state.replica_id.0 } else { request.replica_id.0 };
        let mode = match &shared.replicas {
            None => Mode::Local,
            Some(_) if replica_id >= 0 => Mode::Follower,
            Some(_) => Mode::Consumer,
        };
        let reader = Reader { shared, mode, replica_id };
        // Sessions came with v7; older requests are full and sessionless whatever the defaults say.
        let (session_id, session_epoch) =
            if version >= 7 { (request.session_id, request.session_epoch) } else { (0, -1) };
        let resolved = resolve(shared, version, request.topics);
        let plan = if session_id == 0 && session_epoch == -1 {
            // The common consumer case: no session to look at.
            session::Plan::Full { session_id: 0 }
        } else {
            // A topic this broker does not know yet is kept by its name (v12 and older), to be looked up again
            // every round; by id (v13+) there is no name to keep it by.
            let mut requested = Vec::new();
            for (topic, t) in &resolved {
                let (name, id) = match topic {
                    Ok(topic) => (topic.name.clone(), topic.id),
                    Err(_) if version < 13 => (t.topic.0.to_string(), t.topic_id),
                    Err(_) => continue,
                };
                requested.extend(t.partitions.iter().map(|p| ((name.clone(), p.partition), session_wanted(id, p))));
            }
            let forgotten: Vec<session::Key> = request
                .forgotten_topics_data
                .iter()
                .filter_map(|f| {
                    let topic = if version >= 13 {
                        shared.topics.get_by_id(f.topic_id)
                    } else {
                        shared.topics.get(f.topic.0.as_str())
                    };
                    topic.map(|topic| f.partitions.iter().map(move |&p| (topic.name.clone(), p)))
                })
                .flatten()
                .collect();
            shared.fetch_sessions.begin(replica_id, session_id, session_epoch, &requested, &forgotten)
        };
        let (topics, answered_session) = match &plan {
            session::Plan::Refused(error) => {
                let top = Top { error_code: util::code(*error), session_id: 0 };
                return Reply::Frame(response::encode(version, top, Vec::new(), &[]));
            }
            session::Plan::Full { session_id } => {
                let topics = resolved
                    .into_iter()
                    .map(|(topic, t)| {
                        let name = topic.as_ref().map(|t| t.name.clone()).unwrap_or_else(|_| t.topic.0.to_string());
                        let partitions = t
                            .partitions
                            .iter()
                            .map(|p| reader.wanted(&topic, &name, p.partition, &session_wanted(t.topic_id, p)))
                            .collect();
                        WantedTopic { name, id: t.topic_id, partitions }
                    })
                    .collect();
                (topics, *session_id)
            }
            session::Plan::Incremental { session_id, partitions, .. } => {
                let unknown = resolved.into_iter().filter(|(topic, _)| topic.is_err() && version >= 13).collect();
                (incremental_topics(&reader, partitions, unknown), *session_id)
            }
        };
        let top = Top { error_code: util::NONE, session_id: answered_session };

        // Subscribe before the first read so an append between the read and the wait still wakes us. Consumers of
        // a cluster wait for the high watermark: records past it are not theirs to see yet. A session's watchers
        // cover all its partitions, named in this request or not.
        let mut watchers: Vec<watch::Receiver<i64>> = topics
            .iter()
            .flat_map(|t| t.partitions.iter())
            .filter_map(|p| {
                p.log.as_ref().ok().map(|log| match mode {
                    Mode::Consumer => log.subscribe_high_watermark(),
                    Mode::Local | Mode::Follower => log.subscribe(),
                })
            })
            .collect();
        let endpoints = node_endpoints(shared, version, &topics);
        let max_wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
        let deadline = tokio::time::Instant::now() + max_wait;
        let min_bytes = request.min_bytes.max(1) as u64;
        let max_bytes = if request.max_bytes <= 0 { i32::MAX as u64 } else { request.max_bytes as u64 };
        // isolation_level 1 (read_committed): stop at the last stable offset and name the aborted transactions.
        let read_committed = request.isolation_level == 1;
        let answer = |mut answers: Vec<TopicAnswer>| {
            shared.fetch_sessions.finish(&plan, &mut answers);
            Reply::Frame(response::encode(version, top, answers, &endpoints))
        };
        loop {
            for w in &mut watchers {
                w.borrow_and_update();
            }
            let (answers, total, any_error) = read_all(&topics, max_bytes, read_committed, mode);
            let expired = tokio::time::Instant::now() >= deadline;
            if total >= min_bytes || any_error || expired || watchers.is_empty() {
                return answer(answers);
            }
            drop(answers);
            let changed = futures::future::select_all(watchers.iter_mut().map(|w| Box::pin(w.changed())));
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                // Timed out: answer with whatever there is now.
                let (answers, _, _) = read_all(&topics, max_bytes, read_committed, mode);
                return answer(answers);
            }
        }
    }
}

/// The brokers named as current leaders in refusals, for v16+ answers (KIP-951): clients go straight there.
fn node_endpoints(shared: &Shared, version: i16, topics: &[WantedTopic]) -> Vec<NodeEndpoint> {
    let Some(replicas) = shared.replicas.as_ref().filter(|_| version >= 16) else { return Vec::new() };
    let mut ids: Vec<i32> =
        topics.iter().flat_map(|t| t.partitions.iter()).filter_map(|p| p.current_leader.map(|(id, _)| id)).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .filter_map(|id| replicas.broker_address(id).map(|(host, port)| NodeEndpoint { node_id: id, host, port }))
        .collect()
}

/// Reads every wanted partition once: the answers, their total record bytes, and whether any failed.
fn read_all(
    topics: &[WantedTopic],
    max_bytes: u64,
    read_committed: bool,
    mode: Mode,
) -> (Vec<TopicAnswer>, u64, bool) {
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
                    let answer = read_one(w, remaining, read_committed, mode);
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

fn read_one(w: &Wanted, remaining: u64, read_committed: bool, mode: Mode) -> PartitionAnswer {
    let mut answer = PartitionAnswer {
        partition: w.partition,
        error_code: util::NONE,
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        aborted_transactions: None,
        records: Vec::new(),
        current_leader: None,
    };
    let log = match &w.log {
        Ok(log) => log,
        Err(error) => {
            answer.error_code = util::code(*error);
            answer.current_leader = w.current_leader;
            return answer;
        }
    };
    let (high_watermark, last_stable) = match mode {
        Mode::Local => (log.log_end_offset(), log.last_stable_offset()),
        Mode::Consumer | Mode::Follower => {
            let hw = log.high_watermark();
            (hw, log.last_stable_offset().min(hw))
        }
    };
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
    let upper = match mode {
        // A follower copies everything; the high watermark it is told keeps it from exposing too much.
        Mode::Follower => i64::MAX,
        _ if read_committed => last_stable,
        _ => high_watermark,
    };
    match log.read(w.fetch_offset, limit, upper) {
        Ok(read) => {
            if mode == Mode::Local {
                // One snapshot of the offsets the read was planned with.
                answer.high_watermark = read.high_watermark;
                answer.last_stable_offset = read.last_stable_offset;
            }
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
