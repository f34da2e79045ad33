//! Follower fetchers: one task per leader this broker follows partitions of, fetching them all with one Kafka
//! Fetch request at a time (v12, replica_id = this node), as Kafka's replica fetcher threads do.
//!
//! A partition handed to a fetcher first has its divergent tail removed (`truncation`), then is fetched from its
//! log end offset; each answer is appended keeping the leader's offsets and epochs, and the follower's high
//! watermark follows the leader's (never past its own log end). Errors that a newer image resolves (the leader
//! moved, epochs disagree, the leader has not created the topic yet) only pause the partition for a moment;
//! connection failures reconnect with backoff, to wherever the latest image says the leader is.
//!
//! Each fetcher keeps an incremental fetch session (KIP-227, `fetch_session`) with its leader, so a fetch names
//! only the partitions whose fetch changed and the answer only those with news; a new connection starts a new one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use parking_lot::Mutex;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::fetch_session::{FetchSession, Outcome, PartitionFetch};
use super::partition::{Replica, Role};
use super::{truncation, Settings};
use crate::controller::MetadataImage;
use crate::log::{batch, PartitionLog};
use crate::maintenance::now_ms;
use crate::net::client::{ClientError, KafkaClient};

/// A partition: topic name and index.
pub(super) type Key = (String, i32);

/// The Fetch version followers speak: the first flexible one, with current_leader_epoch and log_start_offset.
const FETCH_VERSION: i16 = 12;
/// Bound on connecting and on every request (a fetch also gets its max wait on top).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a partition pauses after an error a newer image or the leader's own catching up will resolve
/// (Kafka's replica.fetch.backoff.ms is 1 s; shorter here so failovers settle quickly).
pub(super) const PARTITION_BACKOFF: Duration = Duration::from_millis(250);
/// Reconnection backoff bounds.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Kafka's replica.fetch.response.max.bytes: the most one fetch answer may carry over all partitions.
const RESPONSE_MAX_BYTES: i32 = 10 * 1024 * 1024;

/// Partitions with their assignments, as copied out for one round of work.
pub(super) type Batch = Vec<(Key, Assignment)>;

/// One partition handed to a fetcher.
#[derive(Debug, Clone)]
pub(super) struct Assignment {
    pub(super) replica: Arc<Replica>,
    /// The leader's epoch this broker follows it at.
    pub(super) epoch: i32,
    /// False until the divergent tail is gone; only then is the partition fetched.
    pub(super) truncated: bool,
    /// Paused until then after an error.
    pub(super) retry_at: Option<Instant>,
}

/// The partitions of one fetcher, shared between the manager (assigning) and the fetcher task (working).
#[derive(Debug)]
pub(super) struct Assignments {
    leader: i32,
    parts: Mutex<HashMap<Key, Assignment>>,
    wake: Notify,
}

impl Assignments {
    /// Whether `role` is following this fetcher's leader at `epoch`.
    pub(super) fn follows(&self, role: &Role, epoch: i32) -> bool {
        matches!(role, Role::Follower { leader, epoch: e } if *leader == self.leader && *e == epoch)
    }

    /// Runs `f` on the assignment of `key` if it is still `replica` at `epoch` (the manager may have moved it
    /// while a request was out).
    pub(super) fn update(&self, key: &Key, replica: &Arc<Replica>, epoch: i32, f: impl FnOnce(&mut Assignment)) {
        if let Some(a) = self.parts.lock().get_mut(key) {
            if a.epoch == epoch && Arc::ptr_eq(&a.replica, replica) {
                f(a);
            }
        }
    }

    /// Pauses `key` for [`PARTITION_BACKOFF`].
    pub(super) fn pause(&self, key: &Key, replica: &Arc<Replica>, epoch: i32) {
        self.update(key, replica, epoch, |a| a.retry_at = Some(Instant::now() + PARTITION_BACKOFF));
    }

    /// The partitions due for truncation, those due for fetching, and when the next paused one is due.
    fn due(&self, now: Instant) -> (Batch, Batch, Option<Instant>) {
        let parts = self.parts.lock();
        let (mut truncate, mut fetch, mut next) = (Vec::new(), Vec::new(), None::<Instant>);
        for (key, a) in parts.iter() {
            match a.retry_at {
                Some(t) if t > now => next = Some(next.map_or(t, |n| n.min(t))),
                _ if a.truncated => fetch.push((key.clone(), a.clone())),
                _ => truncate.push((key.clone(), a.clone())),
            }
        }
        (truncate, fetch, next)
    }
}

/// What every fetcher task needs.
#[derive(Debug)]
pub(super) struct Context {
    pub(super) node_id: i32,
    pub(super) settings: Settings,
    images: watch::Receiver<Arc<MetadataImage>>,
    shutdown: watch::Receiver<bool>,
}

/// The fetchers of this broker, by leader; owned by the manager task.
#[derive(Debug)]
pub(super) struct Fetchers {
    context: Arc<Context>,
    by_leader: HashMap<i32, (Arc<Assignments>, JoinHandle<()>)>,
    assigned: HashMap<Key, i32>,
}

impl Fetchers {
    pub(super) fn new(
        node_id: i32,
        settings: Settings,
        images: watch::Receiver<Arc<MetadataImage>>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let context = Arc::new(Context { node_id, settings, images, shutdown });
        Self { context, by_leader: HashMap::new(), assigned: HashMap::new() }
    }

    /// Follows `leader` at `epoch` for `replica`'s partition, moving it from any other fetcher; it starts with
    /// truncation.
    pub(super) fn assign(&mut self, replica: Arc<Replica>, leader: i32, epoch: i32) {
        let key = (replica.topic.clone(), replica.partition);
        if self.assigned.get(&key).is_some_and(|&l| l != leader) {
            self.remove(&key);
        }
        let (assignments, _) = self.by_leader.entry(leader).or_insert_with(|| {
            let assignments = Arc::new(Assignments { leader, parts: Mutex::new(HashMap::new()), wake: Notify::new() });
            let task = tokio::spawn(run(assignments.clone(), self.context.clone()));
            (assignments, task)
        });
        assignments.parts.lock().insert(key.clone(), Assignment { replica, epoch, truncated: false, retry_at: None });
        assignments.wake.notify_one();
        self.assigned.insert(key, leader);
    }

    /// Stops fetching `key`; a fetcher left with nothing stops.
    pub(super) fn remove(&mut self, key: &Key) {
        let Some(leader) = self.assigned.remove(key) else { return };
        if let Some((assignments, task)) = self.by_leader.get(&leader) {
            let empty = {
                let mut parts = assignments.parts.lock();
                parts.remove(key);
                parts.is_empty()
            };
            if empty {
                task.abort();
                self.by_leader.remove(&leader);
            }
        }
    }

    /// Stops every fetcher (shutdown).
    pub(super) fn stop_all(&mut self) {
        for (_, (_, task)) in self.by_leader.drain() {
            task.abort();
        }
        self.assigned.clear();
    }
}

/// The advertised address of broker `id` in `image`.
fn address(image: &MetadataImage, id: i32) -> Option<String> {
    image.brokers.get(&id).map(|b| format!("{}:{}", b.host, b.port))
}

/// One fetcher task: connects to the leader, truncates newly assigned partitions, fetches the rest, forever.
async fn run(assignments: Arc<Assignments>, context: Arc<Context>) {
    let leader = assignments.leader;
    let mut images = context.images.clone();
    let mut shutdown = context.shutdown.clone();
    let client_id = format!("sluice-replica-fetcher-{}-from-{leader}", context.node_id);
    let mut client: Option<KafkaClient> = None;
    // The leader's sessions live no longer than the connection they were made on, as far as this side knows.
    let mut session = FetchSession::default();
    let mut backoff = MIN_BACKOFF;
    let mut failing = false;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let Some(addr) = address(&images.borrow_and_update(), leader) else {
            // The leader's registration is not in this image yet.
            tokio::select! {
                _ = images.changed() => {}
                _ = shutdown.changed() => {}
                () = tokio::time::sleep(MAX_BACKOFF) => {}
            }
            continue;
        };
        if client.as_ref().is_none_or(|c| c.addr() != addr) {
            match KafkaClient::connect(&addr, context.settings.bind, &client_id, REQUEST_TIMEOUT).await {
                Ok(c) => {
                    client = Some(c);
                    session.reset();
                }
                Err(e) => {
                    log_failure(&mut failing, leader, &e);
                    pause(&mut shutdown, &mut backoff).await;
                    continue;
                }
            }
        }
        let Some(c) = client.as_mut() else { continue };
        let now = Instant::now();
        let (truncate, fetch, next_retry) = assignments.due(now);
        let result = if !truncate.is_empty() {
            truncation::run(c, &context, &assignments, truncate).await
        } else if !fetch.is_empty() {
            fetch_once(c, &context, &assignments, &mut session, fetch).await
        } else {
            let until = next_retry.unwrap_or(now + MAX_BACKOFF);
            tokio::select! {
                () = assignments.wake.notified() => {}
                () = tokio::time::sleep_until(until) => {}
                _ = shutdown.changed() => {}
                // The leader may have moved to another address.
                _ = images.changed() => {}
            }
            continue;
        };
        match result {
            Ok(()) => {
                if failing {
                    tracing::info!(leader, %addr, "replica fetcher reconnected");
                }
                failing = false;
                backoff = MIN_BACKOFF;
            }
            Err(e) => {
                log_failure(&mut failing, leader, &e);
                client = None;
                session.reset();
                pause(&mut shutdown, &mut backoff).await;
            }
        }
    }
}

/// Logs the first failure of a run of them as a warning, the rest at debug: a dead leader must not flood the log.
fn log_failure(failing: &mut bool, leader: i32, error: &ClientError) {
    if *failing {
        tracing::debug!(leader, error = %error, "replica fetcher still cannot reach the leader");
    } else {
        tracing::warn!(leader, error = %error, "replica fetcher lost the leader; reconnecting with backoff");
    }
    *failing = true;
}

/// Sleeps `backoff` (or until shutdown) and doubles it.
async fn pause(shutdown: &mut watch::Receiver<bool>, backoff: &mut Duration) {
    tokio::select! {
        () = tokio::time::sleep(*backoff) => {}
        _ = shutdown.changed() => {}
    }
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
}

/// What the leader fetches one partition of a fetch with (named in the request or kept in the session).
struct Sent {
    assignment: Assignment,
    fetch_offset: i64,
}

/// One Fetch round trip for `due` partitions, within the fetcher's session, and its answers applied.
async fn fetch_once(
    client: &mut KafkaClient,
    context: &Context,
    assignments: &Assignments,
    session: &mut FetchSession,
    due: Batch,
) -> Result<(), ClientError> {
    let settings = &context.settings;
    // The offset the leader fetches each partition at, named in the request or kept in the session: an answer is
    // applied only where the log end is still there.
    let mut sent: HashMap<Key, Sent> = HashMap::with_capacity(due.len());
    let mut wanted = Vec::with_capacity(due.len());
    for (key, assignment) in due {
        let log = &assignment.replica.log;
        let fetch = PartitionFetch {
            fetch_offset: log.log_end_offset(),
            log_start_offset: log.log_start_offset(),
            leader_epoch: assignment.epoch,
            max_bytes: settings.fetch_max_bytes,
        };
        wanted.push((key.clone(), fetch));
        sent.insert(key, Sent { assignment, fetch_offset: fetch.fetch_offset });
    }
    let plan = session.plan(wanted);
    let mut topics: HashMap<&str, Vec<FetchPartition>> = HashMap::new();
    for (key, fetch) in &plan.send {
        let mut p = FetchPartition::default();
        p.partition = key.1;
        p.current_leader_epoch = fetch.leader_epoch;
        p.fetch_offset = fetch.fetch_offset;
        p.last_fetched_epoch = -1;
        p.log_start_offset = fetch.log_start_offset;
        p.partition_max_bytes = fetch.max_bytes;
        topics.entry(key.0.as_str()).or_default().push(p);
    }
    let mut forgotten: HashMap<&str, Vec<i32>> = HashMap::new();
    for key in &plan.forget {
        forgotten.entry(key.0.as_str()).or_default().push(key.1);
    }
    let mut request = FetchRequest::default();
    request.replica_id = context.node_id.into();
    request.max_wait_ms = settings.fetch_wait_max.as_millis().min(i32::MAX as u128) as i32;
    request.min_bytes = 1;
    request.max_bytes = RESPONSE_MAX_BYTES.max(settings.fetch_max_bytes);
    request.isolation_level = 0;
    request.session_id = plan.session_id;
    request.session_epoch = plan.epoch;
    request.topics = topics
        .into_iter()
        .map(|(name, partitions)| {
            let mut t = FetchTopic::default();
            t.topic = TopicName(StrBytes::from_string(name.to_string()));
            t.partitions = partitions;
            t
        })
        .collect();
    request.forgotten_topics_data = forgotten
        .into_iter()
        .map(|(name, partitions)| {
            let mut t = ForgottenTopic::default();
            t.topic = TopicName(StrBytes::from_string(name.to_string()));
            t.partitions = partitions;
            t
        })
        .collect();
    let response = client.send(FETCH_VERSION, &request, settings.fetch_wait_max).await?;
    match session.answered(plan, response.error_code, response.session_id) {
        Outcome::Apply => {}
        Outcome::Retry => {
            // The leader lost or refused the session (it restarted, or evicted it): a full fetch goes out next,
            // with no pause.
            tracing::debug!(error_code = response.error_code, "the leader refused the fetch session; fetching in full");
            return Ok(());
        }
        Outcome::Refused(error_code) => {
            tracing::debug!(error_code, "the leader refused a whole fetch");
            for (key, s) in &sent {
                assignments.pause(key, &s.assignment.replica, s.assignment.epoch);
            }
            return Ok(());
        }
    }
    for topic in response.responses {
        let name = topic.topic.0.to_string();
        for p in topic.partitions {
            let key = (name.clone(), p.partition_index);
            if p.error_code != 0 {
                session.resend(&key);
            }
            if let Some(s) = sent.get(&key) {
                apply(assignments, &key, s, p);
            }
        }
    }
    Ok(())
}

/// An empty log restarted at the leader's log start gets, from there, the whole batch holding that offset,
/// which begins below it (DeleteRecords cuts inside batches): restart the log at the batch's own base, as Kafka
/// does; the leader's log start offset is followed again right after the append.
fn restart_inside_first_batch(log: &PartitionLog, records: &[u8]) -> Result<(), crate::log::LogError> {
    let Ok(first) = batch::parse_header(records) else { return Ok(()) };
    let end = log.log_end_offset();
    if end == log.log_start_offset() && first.base_offset < end && first.last_offset() >= end {
        log.truncate_fully_and_start_at(first.base_offset)?;
    }
    Ok(())
}

/// Applies one partition's answer.
fn apply(assignments: &Assignments, key: &Key, sent: &Sent, p: PartitionData) {
    let a = &sent.assignment;
    let replica = &a.replica;
    let log = &replica.log;
    match ResponseError::try_from_code(p.error_code) {
        None => {
            // Hold the role so the partition cannot become leader while the leader's batches go in.
            let role = replica.role();
            // A truncation since the request was sent would make these offsets wrong: drop the answer.
            if !assignments.follows(&role, a.epoch) || log.log_end_offset() != sent.fetch_offset {
                return;
            }
            let records = p.records.unwrap_or_default();
            if !records.is_empty() {
                if let Err(e) = restart_inside_first_batch(log, &records) {
                    tracing::error!(topic = %replica.topic, partition = replica.partition, error = %e, "cannot reset the replica");
                    drop(role);
                    assignments.pause(key, replica, a.epoch);
                    return;
                }
                if let Err(e) = log.append_replica(&records, now_ms()) {
                    tracing::error!(
                        topic = %replica.topic, partition = replica.partition, error = %e,
                        "cannot append records fetched from the leader"
                    );
                    drop(role);
                    assignments.pause(key, replica, a.epoch);
                    return;
                }
            }
            let end = log.log_end_offset();
            log.set_high_watermark(p.high_watermark.min(end));
            drop(role);
            // DeleteRecords and retention on the leader move its log start; followers follow, up to what they
            // know is committed.
            let start = p.log_start_offset.min(log.high_watermark());
            if start > log.log_start_offset() {
                if let Err(e) = log.delete_records_before(start) {
                    tracing::warn!(topic = %replica.topic, partition = replica.partition, error = %e, "cannot follow the leader's log start offset");
                }
            }
        }
        Some(ResponseError::OffsetOutOfRange) if sent.fetch_offset < p.log_start_offset => {
            // The leader deleted what this replica would need next: start over from the leader's log start.
            let role = replica.role();
            if !assignments.follows(&role, a.epoch) || log.log_end_offset() != sent.fetch_offset {
                return;
            }
            tracing::warn!(
                topic = %replica.topic, partition = replica.partition, from = sent.fetch_offset, to = p.log_start_offset,
                "the leader no longer has this replica's next offset; starting over from the leader's log start"
            );
            if let Err(e) = log.truncate_fully_and_start_at(p.log_start_offset) {
                tracing::error!(topic = %replica.topic, partition = replica.partition, error = %e, "cannot reset the replica");
                drop(role);
                assignments.pause(key, replica, a.epoch);
            }
        }
        Some(ResponseError::OffsetOutOfRange) => {
            // Beyond the leader's end: this replica has a tail the leader lacks. Ask again where the logs part.
            assignments.update(key, replica, a.epoch, |a| a.truncated = false);
        }
        Some(error) => {
            // The leader moved or has not caught up with the image yet (NOT_LEADER_OR_FOLLOWER,
            // FENCED/UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_OR_PARTITION): a newer image or a moment fixes it.
            tracing::debug!(topic = %replica.topic, partition = replica.partition, ?error, "follower fetch refused; pausing the partition");
            assignments.pause(key, replica, a.epoch);
        }
    }
}
