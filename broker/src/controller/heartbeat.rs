//! Broker liveness: every registered broker heartbeats to the Raft leader; the leader fences brokers it has
//! not heard from for `broker_session_timeout_ms` and unfences fenced ones that heartbeat again with their
//! registered incarnation.
//!
//! Heartbeats are not Raft entries: only the leader's memory holds them. A new leader therefore starts every
//! broker's silence count from the moment it became leader, so it does not fence everybody at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;
use uuid::Uuid;

use super::command::{CommandResult, MetadataCommand};
use super::propose::write_local;
use super::rpc::{Request, Response};
use super::Controller;
use crate::BrokerError;

/// When each broker incarnation was last heard from (kept by the leader).
#[derive(Debug, Default)]
pub(crate) struct HeartbeatTracker {
    seen: Mutex<HashMap<i32, (Uuid, Instant)>>,
}

impl HeartbeatTracker {
    /// Broker `id` with `incarnation` is alive now.
    pub(crate) fn record(&self, id: i32, incarnation: Uuid) {
        self.seen.lock().insert(id, (incarnation, Instant::now()));
    }

    /// When broker `id` last heartbeat with `incarnation`.
    fn last_seen(&self, id: i32, incarnation: Uuid) -> Option<Instant> {
        self.seen.lock().get(&id).filter(|(inc, _)| *inc == incarnation).map(|(_, at)| *at)
    }
}

impl Controller {
    /// Registers this node's broker, retrying until committed, and starts its heartbeats.
    pub(super) async fn register(
        self: &Arc<Self>,
        host: String,
        port: i32,
        rack: Option<String>,
    ) -> Result<(), BrokerError> {
        let incarnation = Uuid::new_v4();
        let command = MetadataCommand::RegisterBroker { id: self.node_id, incarnation, host, port, rack };
        loop {
            match self.propose(command.clone()).await {
                Ok(CommandResult::Ok) => break,
                Ok(other) => {
                    return Err(BrokerError::Io(std::io::Error::other(format!(
                        "the controller quorum refused to register broker {}: {other:?}",
                        self.node_id
                    ))))
                }
                Err(_) if self.shutting_down() => {
                    return Err(BrokerError::Io(std::io::Error::other("shut down before the broker was registered")))
                }
                Err(e) => tracing::warn!(node = self.node_id, "broker registration not committed yet, retrying: {e}"),
            }
        }
        *self.incarnation.lock() = Some(incarnation);
        tracing::info!(node = self.node_id, %incarnation, "broker registered with the controller quorum");
        tokio::spawn(self.clone().heartbeat_loop(incarnation));
        Ok(())
    }

    /// Heartbeats this broker to the leader every `broker_heartbeat_interval_ms` until shutdown.
    async fn heartbeat_loop(self: Arc<Self>, incarnation: Uuid) {
        let mut shutdown = self.shutdown.clone();
        let mut ticker = tokio::time::interval(self.broker_heartbeat_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            // A later registration of this broker replaced this incarnation: its own loop heartbeats now.
            if *self.incarnation.lock() != Some(incarnation) {
                return;
            }
            if let Err(problem) = self.send_heartbeat(incarnation).await {
                tracing::debug!(node = self.node_id, "heartbeat not delivered: {problem}");
            }
        }
    }

    async fn send_heartbeat(&self, incarnation: Uuid) -> Result<(), String> {
        let me = u64::try_from(self.node_id).ok();
        let mut leader = self.leader();
        // At most one redirect: the next tick tries again anyway.
        for _ in 0..2 {
            match leader {
                None => return Err("no leader is known".into()),
                Some(id) if Some(id) == me => {
                    self.heartbeats.record(self.node_id, incarnation);
                    return Ok(());
                }
                Some(id) => {
                    let addr = self.address_of(id).ok_or_else(|| format!("no address is known for node {id}"))?;
                    let request = Request::BrokerHeartbeat { id: self.node_id, incarnation };
                    match self.pool.call(&addr, &request, self.broker_heartbeat_interval).await {
                        Ok(Response::HeartbeatAck) => return Ok(()),
                        Ok(Response::NotLeader { leader: next }) => leader = next,
                        Ok(other) => return Err(format!("node {id} answered {other:?}")),
                        Err(e) => return Err(e.to_string()),
                    }
                }
            }
        }
        Err("the leader moved while heartbeating".into())
    }

    /// On the leader: fences silent brokers and unfences fenced ones that heartbeat again. Runs until shutdown.
    pub(super) async fn fencing_loop(self: Arc<Self>) {
        let mut shutdown = self.shutdown.clone();
        let tick = (self.broker_session_timeout / 10).clamp(Duration::from_millis(50), Duration::from_secs(1));
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut watch = Watch::default();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            if !self.is_leader() {
                watch = Watch::default();
                continue;
            }
            for command in watch.decide(&self.image(), &self.heartbeats, self.broker_session_timeout) {
                // Directly on this node's Raft, never forwarded: a node that lost leadership must not act on
                // its stale view of who is alive.
                let attempt = write_local(&self.raft, command.clone(), self.broker_session_timeout).await;
                if let super::propose::Attempt::Done { .. } = attempt {
                    tracing::info!(node = self.node_id, ?command, "broker liveness changed");
                }
            }
        }
    }
}

/// The leader's view of broker liveness during one leadership term.
#[derive(Debug, Default)]
struct Watch {
    /// When this node became leader.
    since: Option<Instant>,
    /// When each broker incarnation was first seen registered and unfenced, or fenced, during this term.
    first_seen: HashMap<(i32, Uuid, bool), Instant>,
}

impl Watch {
    /// The fence and unfence commands the image and heartbeats call for now.
    fn decide(
        &mut self,
        image: &super::MetadataImage,
        heartbeats: &HeartbeatTracker,
        session: Duration,
    ) -> Vec<MetadataCommand> {
        let now = Instant::now();
        let since = *self.since.get_or_insert(now);
        let mut commands = Vec::new();
        for broker in image.brokers.values() {
            let (id, incarnation) = (broker.id, broker.incarnation);
            let observed = *self.first_seen.entry((id, incarnation, broker.fenced)).or_insert(now);
            let heard = heartbeats.last_seen(id, incarnation);
            if broker.fenced {
                // Only a heartbeat after the fence counts: the silence that caused it came before.
                if heard.is_some_and(|at| at > observed) {
                    commands.push(MetadataCommand::UnfenceBroker { id, incarnation });
                }
            } else {
                let alive_at = [Some(since), Some(observed), heard].into_iter().flatten().max().unwrap_or(now);
                if now.duration_since(alive_at) > session {
                    commands.push(MetadataCommand::FenceBroker { id, incarnation });
                }
            }
        }
        self.first_seen.retain(|(id, incarnation, fenced), _| {
            image.brokers.get(id).is_some_and(|b| b.incarnation == *incarnation && b.fenced == *fenced)
        });
        commands
    }
}
