//! The cluster metadata image: what the Raft log says the cluster is (brokers, topics, replica assignments,
//! leaders, leader epochs, ISR, configs). Every node applies the same committed commands in the same order and
//! gets the same image; the broker side watches it and acts (become leader/follower, create/delete logs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// "No leader" in [`PartitionRecord::leader`], as Kafka answers it.
pub const NO_LEADER: i32 = -1;

/// The whole cluster as of one committed Raft log index. Cheap to share behind an `Arc`; replaced, never mutated,
/// once published.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetadataImage {
    /// The Raft log index of the last command applied (0 before any).
    pub applied_index: u64,
    /// Registered brokers by node id.
    pub brokers: BTreeMap<i32, BrokerRecord>,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicRecord>,
    /// The next producer id the controller hands out (blocks via `AllocateProducerIds`), cluster-wide unique.
    pub next_producer_id: i64,
}

/// One registered broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRecord {
    /// The node id.
    pub id: i32,
    /// Changes on every process start: a registration with a new incarnation is a restart.
    pub incarnation: Uuid,
    /// The Raft log index of the registration: grows on every restart (Kafka's broker epoch).
    pub epoch: u64,
    /// The advertised Kafka listener host clients and followers connect to.
    pub host: String,
    /// The advertised Kafka listener port.
    pub port: i32,
    /// `broker.rack`, used for rack-aware replica placement.
    pub rack: Option<String>,
    /// A fenced broker leads nothing and is in no ISR (unless it was the last one): it stopped heartbeating.
    pub fenced: bool,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicRecord {
    /// The topic name.
    pub name: String,
    /// The topic id (KIP-516).
    pub id: Uuid,
    /// Topic config overrides (Kafka names), the whole set.
    pub configs: BTreeMap<String, String>,
    /// Partition states, index = partition number.
    pub partitions: Vec<PartitionRecord>,
}

/// One partition's replication state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRecord {
    /// Assigned replicas, preferred leader first. During a reassignment this is the union of old and new.
    pub replicas: Vec<i32>,
    /// In-sync replicas: the ones that have every committed record. Never empty.
    pub isr: Vec<i32>,
    /// The leader's node id, or [`NO_LEADER`] when no ISR member is alive (unclean election is off).
    pub leader: i32,
    /// Bumped on every leader change; stamped in every batch the leader writes.
    pub leader_epoch: i32,
    /// Bumped on every change of this record (leader, ISR, replicas): fences stale AlterPartition requests.
    pub partition_epoch: i32,
    /// Replicas being added by an ongoing reassignment.
    pub adding_replicas: Vec<i32>,
    /// Replicas being removed by an ongoing reassignment.
    pub removing_replicas: Vec<i32>,
}

impl MetadataImage {
    /// The partition record of `topic`/`partition`, if both exist.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionRecord> {
        self.topics.get(topic)?.partitions.get(usize::try_from(partition).ok()?)
    }

    /// The live (registered and unfenced) broker ids, ascending.
    pub fn live_brokers(&self) -> Vec<i32> {
        self.brokers.values().filter(|b| !b.fenced).map(|b| b.id).collect()
    }

    /// The topic with id `id`.
    pub fn topic_by_id(&self, id: Uuid) -> Option<&TopicRecord> {
        self.topics.values().find(|t| t.id == id)
    }
}
