//! The work group: which connectors and tasks this worker runs. Each worker keeps a consumer in the worker
//! group (`group.id`) subscribed to the work topic (`<config.storage.topic>-assignments`, [`WORK_PARTITIONS`]
//! partitions, never written to) with the `cooperative-sticky` assignor; the partitions it is given are its
//! share of the work ([`connector_slot`], [`task_slot`]). The consumer is polled on its own thread; assignment
//! changes reach the reconciler as [`WorkEvent`]s, and a revocation waits until the reconciler has stopped
//! what it lost, so two workers never run one instance on purpose.
//!
//! The consumer is a static member (`group.instance.id`): a crashed worker's slots stay its own until the
//! session timeout, and closing never leaves the group by itself; a clean stop leaves explicitly by
//! unsubscribing first, so its slots move at once.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::{ClientConfig, ClientContext, TopicPartitionList};
use tokio::sync::mpsc;

use crate::error::ConnectError;
use crate::runtime::errors::kafka_error;

/// Partitions of the work topic: slots that connectors and tasks hash to. More slots than workers spread the
/// work; 32 keeps the group's assignment small.
pub(super) const WORK_PARTITIONS: i32 = 32;

/// FNV-1a (32 bits) of a connector name: stable across processes, versions and platforms, so every worker
/// maps a name to the same slot.
pub(super) fn fnv1a(name: &str) -> u32 {
    name.bytes().fold(0x811c_9dc5_u32, |hash, b| (hash ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// The slot of a connector (its task configs and status).
pub(super) fn connector_slot(name: &str) -> i32 {
    (fnv1a(name) % WORK_PARTITIONS as u32) as i32
}

/// Distance between the slots of consecutive tasks of one connector. The assignor tends to hand each worker a
/// run of neighbouring slots, so consecutive slots put a connector's tasks on one worker (seen: all 3 datagen
/// tasks on one of 3 workers); 13 is coprime with 32, so 32 tasks still get 32 different slots.
const TASK_STRIDE: u64 = 13;

/// The slot of task `task` of `name`: from the slot after the connector's, `TASK_STRIDE` apart, so a
/// connector's tasks spread over the workers.
pub(super) fn task_slot(name: &str, task: usize) -> i32 {
    ((u64::from(fnv1a(name)) + 1 + task as u64 * TASK_STRIDE) % WORK_PARTITIONS as u64) as i32
}

/// An assignment change.
#[derive(Debug)]
pub(super) enum WorkEvent {
    Assigned(Vec<i32>),
    /// Answer on the sender once what ran in these slots has stopped.
    Revoked(Vec<i32>, std::sync::mpsc::Sender<()>),
}

struct WorkContext {
    topic: String,
    events: mpsc::UnboundedSender<WorkEvent>,
    /// Set when the worker dies: nobody will answer a revocation any more.
    dead: Arc<AtomicBool>,
    revoke_wait: Duration,
}

impl WorkContext {
    fn slots(&self, tpl: &TopicPartitionList) -> Vec<i32> {
        tpl.elements_for_topic(&self.topic).iter().map(|e| e.partition()).collect()
    }
}

impl ClientContext for WorkContext {}

impl ConsumerContext for WorkContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(tpl) = rebalance else { return };
        let slots = self.slots(tpl);
        if slots.is_empty() || self.dead.load(Ordering::SeqCst) {
            return;
        }
        let (ack, done) = std::sync::mpsc::channel();
        if self.events.send(WorkEvent::Revoked(slots, ack)).is_ok() && done.recv_timeout(self.revoke_wait).is_err() {
            tracing::warn!(timeout = ?self.revoke_wait, "instances in revoked slots did not stop in time");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let slots = self.slots(tpl);
                if !slots.is_empty() {
                    let _ = self.events.send(WorkEvent::Assigned(slots));
                }
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => tracing::warn!(error = %e, "work group rebalance failed"),
        }
    }
}

/// Who this worker is in the work group.
#[derive(Debug, Clone)]
pub(super) struct Membership {
    /// `group.id`.
    pub(super) group: String,
    /// `group.instance.id`: unique per worker start.
    pub(super) instance: String,
    /// The work topic.
    pub(super) topic: String,
    pub(super) session_timeout_ms: u64,
    pub(super) heartbeat_interval_ms: u64,
    /// How long a revocation waits for the reconciler to stop what ran in the revoked slots.
    pub(super) revoke_wait: Duration,
}

/// The thread polling this worker's member of the work group.
#[derive(Debug)]
pub(super) struct WorkGroup {
    stop: Arc<AtomicBool>,
    /// Whether stopping leaves the group (clean stop) or vanishes (kill).
    leave: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WorkGroup {
    /// Joins `group` on `topic`; assignment changes arrive on the answered receiver.
    pub(super) fn join(
        client: &ClientConfig,
        member: Membership,
        dead: Arc<AtomicBool>,
    ) -> Result<(WorkGroup, mpsc::UnboundedReceiver<WorkEvent>), ConnectError> {
        let Membership { group, instance, topic, session_timeout_ms, heartbeat_interval_ms, revoke_wait } = member;
        let (topic, group, instance) = (topic.as_str(), group.as_str(), instance.as_str());
        let (events, receiver) = mpsc::unbounded_channel();
        let context = WorkContext { topic: topic.to_string(), events, dead, revoke_wait };
        let consumer: BaseConsumer<WorkContext> = client
            .clone()
            .set("group.id", group)
            .set("group.instance.id", instance)
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("session.timeout.ms", session_timeout_ms.to_string())
            .set("heartbeat.interval.ms", heartbeat_interval_ms.to_string())
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "latest")
            .create_with_context(context)
            .map_err(|e| kafka_error("creating the work group member", e))?;
        consumer.subscribe(&[topic]).map_err(|e| kafka_error(&format!("subscribing to `{topic}`"), e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let leave = Arc::new(AtomicBool::new(true));
        let thread = {
            let (stop, leave) = (stop.clone(), leave.clone());
            std::thread::Builder::new()
                .name("connect-work-group".into())
                .spawn(move || poll_loop(consumer, &stop, &leave))
                .map_err(|e| ConnectError::Io(format!("cannot start the work group thread: {e}")))?
        };
        Ok((WorkGroup { stop, leave, thread: Some(thread) }, receiver))
    }

    /// Leaves the group (its slots move to the others at once) and waits for the thread, off the runtime.
    pub(super) async fn leave(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    /// Stops polling without leaving: the group notices only when the session times out, as with a crash.
    pub(super) fn vanish(&mut self) {
        self.leave.store(false, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        // Not joined: the caller may be on the runtime, and nobody needs to wait for the thread.
        self.thread.take();
    }
}

/// A member dropped without [`WorkGroup::leave`] or [`WorkGroup::vanish`] leaves the group.
impl Drop for WorkGroup {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Polls (the work topic holds no records; polling keeps the member alive and serves rebalances) until told to
/// stop, then leaves or vanishes.
fn poll_loop(consumer: BaseConsumer<WorkContext>, stop: &AtomicBool, leave: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let _ = consumer.poll(Duration::from_millis(100));
    }
    if leave.load(Ordering::SeqCst) {
        consumer.unsubscribe();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut quiet_polls = 0;
        while Instant::now() < deadline && quiet_polls < 5 {
            let _ = consumer.poll(Duration::from_millis(100));
            if consumer.assignment().map(|a| a.count() == 0).unwrap_or(true) {
                quiet_polls += 1;
            }
        }
    }
    drop(consumer);
}

/// The slots of `owned` for a set of partition ids (for logs).
pub(super) fn describe(owned: &BTreeSet<i32>) -> String {
    owned.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_stable_and_tasks_follow_their_connector() {
        // FNV-1a reference values.
        assert_eq!(fnv1a(""), 0x811c_9dc5);
        assert_eq!(fnv1a("a"), 0xe40c_292c);
        let c = connector_slot("orders");
        assert_eq!(task_slot("orders", 0), (c + 1) % WORK_PARTITIONS);
        let slots: std::collections::BTreeSet<i32> =
            (0..WORK_PARTITIONS as usize).map(|i| task_slot("orders", i)).collect();
        assert_eq!(slots.len(), WORK_PARTITIONS as usize, "32 tasks of one connector take 32 different slots");
        assert!((0..WORK_PARTITIONS).contains(&connector_slot("x")));
    }
}
