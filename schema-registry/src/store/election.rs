//! The single writer among registry instances sharing a group, chosen by the cluster's own group coordinator:
//! every eligible instance joins the group with a consumer subscribed to the `_schemas` topic, and whoever is
//! assigned its only partition is the leader. The `cooperative-sticky` assignor keeps the partition with its
//! owner while instances come and go, so leadership only moves when the leader leaves or dies. Plain Kafka
//! groups with a client-side assignor, so it works the same against Sluice, Apache Kafka or Redpanda.
//!
//! Followers find the leader with DescribeGroups: each member's `client.id` carries its advertised URL
//! (`sluice-schema-registry|http://host:port`), and the member whose assignment holds partition 0 is the leader.
//!
//! Hand-over without two writers: a revoked leader stops accepting appends and waits for those in flight to be
//! delivered before its rebalance callback returns, so the group cannot finish the rebalance (and hand the
//! partition to another instance) while its writes are still landing; the new leader reads the topic to its end
//! before it reports [`Leadership::Leader`], so it never allocates an id it has not seen. A leader that dies is
//! replaced after the group's session timeout (`session_timeout_ms`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::{ClientContext, TopicPartitionList};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::kafka::{client_config, KafkaLog};
use super::{Leadership, SchemaLog};
use crate::config::RegistryConfig;
use crate::error::RegistryError;

/// What a member's `client.id` starts with; its advertised URL follows the `|`.
pub const CLIENT_ID_PREFIX: &str = "sluice-schema-registry|";
/// How often a follower that knows its leader checks that it still is the leader.
const REFRESH_KNOWN: Duration = Duration::from_secs(1);
/// How often a follower that knows no leader asks again.
const REFRESH_UNKNOWN: Duration = Duration::from_millis(500);
/// How long one DescribeGroups may take.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the group consumer's poll blocks; bounds how fast shutdown is noticed.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long shutdown waits for the group consumer to leave the group before giving up on it.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(15);
/// Pause between attempts of a new leader to read the topic to its end.
const SYNC_RETRY: Duration = Duration::from_millis(500);

/// The running election of one instance.
#[derive(Debug)]
pub struct Election {
    stop: Arc<AtomicBool>,
    /// The thread polling the group consumer (eligible instances only); it ends after leaving the group.
    poller: Mutex<Option<std::thread::JoinHandle<()>>>,
    poller_done: Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
    refresher: Mutex<Option<JoinHandle<()>>>,
    log: Arc<KafkaLog>,
}

impl Election {
    /// Joins the group (when `leader_eligibility`) and starts looking for the leader. Must run in a tokio runtime.
    pub fn start(config: &RegistryConfig, advertised_url: &str, log: Arc<KafkaLog>) -> Result<Election, RegistryError> {
        let stop = Arc::new(AtomicBool::new(false));
        let refresh_now = Arc::new(Notify::new());
        let runtime = tokio::runtime::Handle::current();

        let mut poller = None;
        let mut poller_done = None;
        if config.leader_eligibility {
            let session_timeout = config.session_timeout_ms;
            let heartbeat = (session_timeout / 3).clamp(1, 3_000);
            let context = ElectionContext {
                topic: config.topic.clone(),
                log: log.clone(),
                runtime: runtime.clone(),
                generation: Arc::new(Mutex::new(0)),
                refresh_now: refresh_now.clone(),
                drain_timeout: Duration::from_millis(config.write_timeout_ms),
            };
            let consumer: BaseConsumer<ElectionContext> = client_config(config)
                .set("group.id", &config.group_id)
                .set("client.id", format!("{CLIENT_ID_PREFIX}{advertised_url}"))
                // Sticky: the partition, and so the leadership, stays where it is when instances join or leave; with
                // `range` it would go to whichever member id sorts first, moving at every join.
                .set("partition.assignment.strategy", "cooperative-sticky")
                .set("session.timeout.ms", session_timeout.to_string())
                .set("heartbeat.interval.ms", heartbeat.to_string())
                .set("enable.auto.commit", "false")
                .set("enable.auto.offset.store", "false")
                // Its messages are never read (the partition is paused once assigned); starting at the end keeps
                // the few fetched before the pause small.
                .set("auto.offset.reset", "latest")
                .create_with_context(context)
                .map_err(|source| RegistryError::Kafka { doing: "creating the election group consumer", source })?;
            consumer
                .subscribe(&[config.topic.as_str()])
                .map_err(|source| RegistryError::Kafka { doing: "joining the election group", source })?;
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            let thread_stop = stop.clone();
            let thread = std::thread::Builder::new()
                .name("sr-election".to_string())
                .spawn(move || {
                    while !thread_stop.load(Ordering::SeqCst) {
                        // Messages are dropped unread; polling is what runs the rebalance callbacks.
                        let _ = consumer.poll(POLL_INTERVAL);
                    }
                    // Dropping the consumer closes it: it leaves the group, so a successor is chosen at once
                    // rather than after the session timeout, and the revoke callback makes this one a follower.
                    drop(consumer);
                    let _ = done_tx.send(());
                })
                .map_err(RegistryError::Io)?;
            poller = Some(thread);
            poller_done = Some(done_rx);
        }

        let admin: AdminClient<DefaultClientContext> = client_config(config)
            .create()
            .map_err(|source| RegistryError::Kafka { doing: "creating the leader lookup client", source })?;
        let lookup = LeaderLookup {
            admin: Arc::new(admin),
            group: config.group_id.clone(),
            topic: config.topic.clone(),
            own_url: advertised_url.to_string(),
        };
        let refresher = tokio::spawn(refresh_loop(lookup, log.clone(), refresh_now, stop.clone()));

        Ok(Election {
            stop,
            poller: Mutex::new(poller),
            poller_done: Mutex::new(poller_done),
            refresher: Mutex::new(Some(refresher)),
            log,
        })
    }

    /// Leaves the group (a successor is elected without waiting for the session timeout) and stops looking for
    /// the leader. This instance is a follower with no known leader afterwards.
    pub async fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let done = self.poller_done.lock().take();
        if let Some(done) = done {
            if tokio::time::timeout(LEAVE_TIMEOUT, done).await.is_err() {
                tracing::warn!("the election consumer did not leave its group within {LEAVE_TIMEOUT:?}; going on");
            } else if let Some(thread) = self.poller.lock().take() {
                let _ = thread.join();
            }
        }
        let refresher = self.refresher.lock().take();
        if let Some(refresher) = refresher {
            refresher.abort();
            let _ = refresher.await;
        }
        self.log.set_leadership(Leadership::Follower { leader_url: None });
    }
}

impl Drop for Election {
    /// An instance dropped without [`Election::shutdown`] (a panicking test, an aborted start) still leaves its
    /// group: the polling thread sees the flag, drops its consumer and ends.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(refresher) = self.refresher.lock().take() {
            refresher.abort();
        }
    }
}

/// The group consumer's callbacks: they turn assignments of the topic's partition into leadership.
struct ElectionContext {
    topic: String,
    log: Arc<KafkaLog>,
    runtime: tokio::runtime::Handle,
    /// Bumped on every assignment change; a new leader's catch-up only counts if no change came in between.
    generation: Arc<Mutex<u64>>,
    refresh_now: Arc<Notify>,
    drain_timeout: Duration,
}

impl ClientContext for ElectionContext {}

impl ConsumerContext for ElectionContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(revoked) if holds_partition_zero(revoked, &self.topic) => {
                {
                    let mut generation = self.generation.lock();
                    *generation += 1;
                    self.log.set_leadership(Leadership::Follower { leader_url: None });
                }
                // Returning lets the rebalance go on and another instance take the partition: not before the
                // writes this instance accepted as leader are in the log.
                let deadline = std::time::Instant::now() + self.drain_timeout;
                while self.log.appends_in_flight() > 0 && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                self.refresh_now.notify_one();
            }
            Rebalance::Revoke(_) => self.refresh_now.notify_one(),
            Rebalance::Assign(_) => {}
            Rebalance::Error(e) => tracing::warn!(error = %e, "election group rebalance failed"),
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(assigned) = rebalance else { return };
        if assigned.count() > 0 {
            if let Err(e) = consumer.pause(assigned) {
                tracing::debug!(error = %e, "could not pause the election consumer; its messages are dropped");
            }
        }
        if !holds_partition_zero(assigned, &self.topic) {
            self.refresh_now.notify_one();
            return;
        }
        let elected_in = {
            let mut generation = self.generation.lock();
            *generation += 1;
            *generation
        };
        tracing::info!(topic = %self.topic, "elected schema registry leader; reading the topic to its end first");
        let log = self.log.clone();
        let generation = self.generation.clone();
        self.runtime.spawn(async move {
            loop {
                if *generation.lock() != elected_in {
                    return;
                }
                match log.sync().await {
                    Ok(()) => {
                        let current = generation.lock();
                        if *current == elected_in {
                            log.set_leadership(Leadership::Leader);
                        }
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "a new leader could not read the schemas topic to its end; retrying");
                        tokio::time::sleep(SYNC_RETRY).await;
                    }
                }
            }
        });
    }
}

fn holds_partition_zero(assigned: &TopicPartitionList, topic: &str) -> bool {
    assigned.elements().iter().any(|p| p.topic() == topic && p.partition() == 0)
}

/// Finds the leader's URL from the group's description.
struct LeaderLookup {
    admin: Arc<AdminClient<DefaultClientContext>>,
    group: String,
    topic: String,
    own_url: String,
}

impl LeaderLookup {
    /// The leader's advertised URL, if the group is stable and a member holds partition 0.
    async fn leader_url(&self) -> Result<Option<String>, String> {
        let admin = self.admin.clone();
        let group = self.group.clone();
        let topic = self.topic.clone();
        tokio::task::spawn_blocking(move || {
            let groups = admin.inner().fetch_group_list(Some(&group), DESCRIBE_TIMEOUT).map_err(|e| e.to_string())?;
            let Some(info) = groups.groups().iter().find(|g| g.name() == group) else { return Ok(None) };
            // While rebalancing, assignments are the old ones or empty.
            if !info.state().eq_ignore_ascii_case("Stable") {
                return Ok(None);
            }
            Ok(info
                .members()
                .iter()
                .find(|m| m.assignment().is_some_and(|bytes| assignment_holds(bytes, &topic, 0)))
                .and_then(|m| m.client_id().strip_prefix(CLIENT_ID_PREFIX))
                .map(str::to_string))
        })
        .await
        .map_err(|e| format!("the leader lookup task failed: {e}"))?
    }
}

/// Keeps a follower's idea of the leader's URL fresh: soon after every rebalance, often while no leader is
/// known, and now and then otherwise.
async fn refresh_loop(lookup: LeaderLookup, log: Arc<KafkaLog>, refresh_now: Arc<Notify>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let known = match log.leadership() {
            Leadership::Leader => true,
            Leadership::Follower { leader_url } => {
                let found = match lookup.leader_url().await {
                    Ok(found) => found,
                    Err(e) => {
                        tracing::debug!(error = %e, "describing the election group failed");
                        None
                    }
                };
                // This instance is not the leader, whatever a stale description says.
                let found = found.filter(|url| *url != lookup.own_url);
                if found != leader_url {
                    log.update_leader_url(found.clone());
                }
                found.is_some()
            }
        };
        let wait = if known { REFRESH_KNOWN } else { REFRESH_UNKNOWN };
        let _ = tokio::time::timeout(wait, refresh_now.notified()).await;
    }
}

/// Whether a consumer-protocol assignment (`ConsumerProtocolAssignment`: version, then topics with their
/// partitions, then user data) holds `partition` of `topic`. Unreadable bytes hold nothing.
pub fn assignment_holds(bytes: &[u8], topic: &str, partition: i32) -> bool {
    parse_assignment(bytes)
        .is_some_and(|topics| topics.iter().any(|(name, partitions)| name == topic && partitions.contains(&partition)))
}

fn parse_assignment(bytes: &[u8]) -> Option<Vec<(String, Vec<i32>)>> {
    let mut reader = Reader(bytes);
    let _version = reader.i16()?;
    let topic_count = reader.i32()?;
    let mut topics = Vec::new();
    for _ in 0..topic_count.max(0) {
        let len = usize::try_from(reader.i16()?).ok()?;
        let name = String::from_utf8(reader.take(len)?.to_vec()).ok()?;
        let partition_count = reader.i32()?;
        let mut partitions = Vec::new();
        for _ in 0..partition_count.max(0) {
            partitions.push(reader.i32()?);
        }
        topics.push((name, partitions));
    }
    Some(topics)
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(topics: &[(&str, &[i32])]) -> Vec<u8> {
        let mut out = 1_i16.to_be_bytes().to_vec();
        out.extend((topics.len() as i32).to_be_bytes());
        for (name, partitions) in topics {
            out.extend((name.len() as i16).to_be_bytes());
            out.extend(name.as_bytes());
            out.extend((partitions.len() as i32).to_be_bytes());
            for p in *partitions {
                out.extend(p.to_be_bytes());
            }
        }
        out.extend((-1_i32).to_be_bytes()); // null user data
        out
    }

    #[test]
    fn assignment_parsing_finds_the_leaders_partition() {
        assert!(assignment_holds(&encode(&[("other", &[0]), ("_schemas", &[0])]), "_schemas", 0));
        assert!(!assignment_holds(&encode(&[("_schemas", &[1])]), "_schemas", 0));
        assert!(!assignment_holds(&encode(&[]), "_schemas", 0));
        // Truncated or empty bytes (a member mid-rebalance) hold nothing rather than failing.
        let whole = encode(&[("_schemas", &[0])]);
        assert!(!assignment_holds(&whole[..whole.len() - 8], "_schemas", 0));
        assert!(!assignment_holds(&[], "_schemas", 0));
    }
}
