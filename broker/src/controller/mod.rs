//! The metadata quorum: cluster metadata kept in a Raft log (openraft) by the controller nodes, KRaft-style.
//!
//! - [`image`]: what the cluster is, rebuilt by applying the log.
//! - [`command`]: the log entries and the deterministic apply function; its rules live in `election`
//!   (broker lifecycle, leader election), `isr` (AlterPartition, reassignments) and [`placement`]
//!   (rack-aware replica placement).
//! - `raft`: openraft's type config, durable log store, state machine and network.
//! - `rpc` / `server`: the controller transport (length-prefixed JSON over TCP) and its listener.
//! - `lifecycle`: starting (bootstrap of the voters) and stopping the quorum member.
//! - `propose`: proposals routed to the Raft leader wherever it is.
//! - `learner`: broker-only nodes follow the log as Raft learners, admitted by the leader on request.
//! - `heartbeat`: broker heartbeats, and the leader's fencing of brokers that stop sending them.
//! - [`Controller`]: this node's handle on the quorum: the current image, proposals (forwarded to the Raft
//!   leader), broker registration and heartbeats, and the fencing of brokers that stop heartbeating.

pub mod command;
mod election;
mod heartbeat;
pub mod image;
mod isr;
mod learner;
mod lifecycle;
pub mod placement;
mod propose;
mod raft;
mod rpc;
mod server;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;
use uuid::Uuid;

pub use command::{CommandResult, MetadataCommand};
pub use image::{BrokerRecord, MetadataImage, PartitionRecord, TopicRecord, NO_LEADER};

use crate::{BrokerConfig, BrokerError};
use heartbeat::HeartbeatTracker;
use raft::MetadataRaft;
use rpc::PeerPool;

/// Why a proposal did not get an answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ControllerError {
    /// No quorum leader is reachable (election under way, or a majority of controllers is down).
    #[error("no controller quorum leader is available: {0}")]
    NotAvailable(String),
    /// The command was sent but no answer came in time; it may or may not have been applied.
    #[error("the controller did not answer within {0} ms")]
    Timeout(u64),
}

/// What `sluice cluster describe` and DescribeQuorum show about the quorum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuorumStatus {
    /// The current Raft leader, if known.
    pub leader: Option<i32>,
    /// The current Raft term.
    pub term: u64,
    /// The voter ids.
    pub voters: Vec<i32>,
    /// The last log index known committed.
    pub committed: Option<u64>,
    /// The last log index applied to this node's image.
    pub applied: u64,
}

/// How [`Controller::start_with`] starts: defaults are what [`Controller::start`] uses.
#[derive(Debug)]
pub struct ControllerOptions {
    /// An already bound controller listener (tests bind port 0 first, to know every voter's address); when
    /// `None`, `controller_listen` or this node's `controller_quorum` entry is bound.
    pub listener: Option<TcpListener>,
    /// A snapshot of the image is built (and the log purged up to it) every this many applied entries.
    pub snapshot_interval: u64,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        Self { listener: None, snapshot_interval: 1_000 }
    }
}

/// This node's handle on the controller quorum. Every node of a cluster has one: on a controller it runs the
/// Raft member; every node applies the committed log to its own image.
pub struct Controller {
    node_id: i32,
    raft: MetadataRaft,
    image: watch::Receiver<Arc<MetadataImage>>,
    /// Configured voters: id -> controller listener address.
    voters: BTreeMap<i32, String>,
    pool: Arc<PeerPool>,
    heartbeats: Arc<HeartbeatTracker>,
    /// Index + 1 of the last committed entry this node knows (0: none).
    committed: Arc<AtomicU64>,
    broker_heartbeat_interval: Duration,
    broker_session_timeout: Duration,
    /// This broker's registered incarnation, once registered.
    incarnation: Mutex<Option<Uuid>>,
    shutdown: watch::Receiver<bool>,
    /// Flips to true once Raft and the listener have stopped.
    stopped: watch::Receiver<bool>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("node_id", &self.node_id)
            .field("voters", &self.voters)
            .finish_non_exhaustive()
    }
}

impl Controller {
    /// Starts this node's part of the quorum from `<data_dir>/__cluster_metadata` (the Raft log, vote and
    /// snapshot), binds the controller listener and joins the voters of `config.controller_quorum`.
    pub async fn start(
        config: &BrokerConfig,
        data_dir: &Path,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Self>, BrokerError> {
        Self::start_with(config, data_dir, ControllerOptions::default(), shutdown).await
    }

    /// [`Controller::start`] on an already bound controller listener.
    pub async fn start_with_listener(
        config: &BrokerConfig,
        data_dir: &Path,
        listener: TcpListener,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Self>, BrokerError> {
        let options = ControllerOptions { listener: Some(listener), ..ControllerOptions::default() };
        Self::start_with(config, data_dir, options, shutdown).await
    }

    /// [`Controller::start`] with explicit options.
    pub async fn start_with(
        config: &BrokerConfig,
        data_dir: &Path,
        options: ControllerOptions,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Self>, BrokerError> {
        lifecycle::start(config, data_dir, options, shutdown).await
    }

    /// This node's id.
    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    /// The latest image this node has applied.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.borrow().clone()
    }

    /// Watches the image: a new value after every applied command.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.image.clone()
    }

    /// Proposes `command` to the quorum (through the Raft leader wherever it is) and returns its result once
    /// committed and applied on this node too, so the caller's next [`Controller::image`] shows it. Retries
    /// across leader changes for up to 15 s.
    pub async fn propose(&self, command: MetadataCommand) -> Result<CommandResult, ControllerError> {
        self.propose_routed(command).await
    }

    /// The quorum as this node sees it.
    pub fn status(&self) -> QuorumStatus {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow();
        let mut voters: Vec<i32> =
            metrics.membership_config.voter_ids().filter_map(|id| i32::try_from(id).ok()).collect();
        if voters.is_empty() {
            voters = self.voters.keys().copied().collect();
        }
        let committed = self.committed.load(Ordering::Relaxed);
        QuorumStatus {
            leader: metrics.current_leader.and_then(|id| i32::try_from(id).ok()),
            term: metrics.current_term,
            voters,
            committed: committed.checked_sub(1),
            applied: self.image.borrow().applied_index,
        }
    }

    /// Registers this node's broker (advertised Kafka listener `host:port`, `rack`) with a fresh incarnation,
    /// retrying until the quorum accepts it, then heartbeats every `broker_heartbeat_interval_ms` until shutdown.
    /// Returns once the registration is committed and applied locally.
    pub async fn register_broker(
        self: &Arc<Self>,
        host: String,
        port: i32,
        rack: Option<String>,
    ) -> Result<(), BrokerError> {
        self.register(host, port, rack).await
    }

    /// Waits until this controller has stopped (after the shutdown signal): Raft is down and the listener
    /// closed, so the data dir may be reused.
    pub async fn closed(&self) {
        let mut stopped = self.stopped.clone();
        // An error means the stopping task is gone, which only happens once it is done.
        let _ = stopped.wait_for(|stopped| *stopped).await;
    }

    /// The Raft leader this node knows of.
    fn leader(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    /// Whether this node is the Raft leader.
    fn is_leader(&self) -> bool {
        self.leader() == u64::try_from(self.node_id).ok()
    }

    /// The controller listener address of node `id`: from `controller_quorum`, else from the membership.
    fn address_of(&self, id: u64) -> Option<String> {
        i32::try_from(id).ok().and_then(|id| self.voters.get(&id).cloned()).or_else(|| {
            self.raft.metrics().borrow().membership_config.membership().get_node(&id).map(|n| n.addr.clone())
        })
    }

    fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}
