//! The metadata quorum's Raft layer on openraft 0.9 (storage-v2 API).
//!
//! - [`TypeConfig`]: log entries carry [`MetadataCommand`]s, results are [`CommandResult`]s, nodes are `u64`
//!   ids with their controller listener address.
//! - [`log_store`]: the durable Raft log and vote (fsync before acknowledging).
//! - [`state_machine`]: applies committed entries with [`super::command::apply`], publishes the image, keeps
//!   snapshots.
//! - [`network`]: openraft's outbound RPCs over the controller transport ([`super::rpc`]).
//!
//! Everything lives under `<data_dir>/__cluster_metadata/`.

pub(crate) mod files;
pub(crate) mod log_store;
pub(crate) mod network;
pub(crate) mod state_machine;

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use openraft::{BasicNode, SnapshotPolicy};

use super::command::{CommandResult, MetadataCommand};

openraft::declare_raft_types!(
    /// openraft's type configuration for the metadata quorum.
    pub TypeConfig:
        D = MetadataCommand,
        R = CommandResult,
        NodeId = u64,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// The Raft member of this node.
pub(crate) type MetadataRaft = openraft::Raft<TypeConfig>;

/// A Raft log entry of the metadata log.
pub(crate) type LogEntry = openraft::Entry<TypeConfig>;

/// A Raft log id (term, leader, index).
pub(crate) type LogId = openraft::LogId<u64>;

/// The file and directory name under the data dir.
pub(crate) const METADATA_DIR: &str = "__cluster_metadata";

/// Raft timing and log compaction of one node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// Election timeout lower bound (the upper bound is twice this).
    pub(crate) election_timeout: Duration,
    /// Leader heartbeat interval.
    pub(crate) heartbeat_interval: Duration,
    /// Build a snapshot (and purge the log up to it) every this many applied entries.
    pub(crate) snapshot_interval: u64,
}

/// openraft's configuration from our timing.
pub(crate) fn raft_config(timing: Timing) -> Result<Arc<openraft::Config>, String> {
    let election = timing.election_timeout.as_millis().max(1) as u64;
    let heartbeat = timing.heartbeat_interval.as_millis().max(1) as u64;
    let config = openraft::Config {
        cluster_name: "sluice-metadata".into(),
        election_timeout_min: election,
        election_timeout_max: election * 2,
        heartbeat_interval: heartbeat,
        // A snapshot chunk must cross the wire (as JSON) well within this.
        install_snapshot_timeout: (election * 2).max(2_000),
        snapshot_max_chunk_size: 256 * 1024,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(timing.snapshot_interval.max(1)),
        // Everything a snapshot covers is purged: a follower that needs older entries gets the snapshot.
        max_in_snapshot_log_to_keep: 0,
        ..openraft::Config::default()
    };
    config.validate().map(Arc::new).map_err(|e| e.to_string())
}
