//! What the coordinators need of the cluster, behind one small trait: which partitions this broker leads (the
//! replica manager's view), who leads the others and where it listens (the metadata image), producer id blocks
//! (the controller) and leadership change notices.
//!
//! The coordinators never hold the controller or the replica manager directly: unit tests drive load, unload,
//! fencing and remote markers through a fake, without a Raft quorum.

use std::fmt::Debug;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use tokio::sync::broadcast;

use crate::controller::{CommandResult, Controller, MetadataCommand, NO_LEADER};
use crate::replica::{LeadershipChange, ReplicaManager};
use crate::BrokerConfig;

/// A boxed future, for the one asynchronous call of [`ClusterView`].
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The cluster as a coordinator sees it. `None` in place of a view means single-node mode: every partition is
/// local and led here, and producer ids come from `__transaction_state` as before clusters existed.
pub(crate) trait ClusterView: Send + Sync + Debug {
    /// This broker's node id.
    fn node_id(&self) -> i32;

    /// Ok(leader epoch) when this broker leads `topic`/`partition` now (its replica manager took the role);
    /// NOT_LEADER_OR_FOLLOWER or UNKNOWN_TOPIC_OR_PARTITION otherwise.
    fn local_leader_epoch(&self, topic: &str, partition: i32) -> Result<i32, ResponseError>;

    /// The leader of `topic`/`partition` per the metadata image and its Kafka listener `host:port`; `Ok(None)`
    /// while the partition has no (live, registered) leader; UNKNOWN_TOPIC_OR_PARTITION when it does not exist.
    fn leader_address(&self, topic: &str, partition: i32) -> Result<Option<(i32, String)>, ResponseError>;

    /// A block of `count` cluster-unique producer ids: (first, count).
    fn allocate_producer_ids(&self, count: i64) -> BoxFuture<'_, Result<(i64, i64), ResponseError>>;

    /// Notices of this broker gaining or losing partition leaderships.
    fn leadership_changes(&self) -> broadcast::Receiver<LeadershipChange>;

    /// The local address outbound broker-to-broker connections bind (`bind_outbound`).
    fn bind(&self) -> Option<IpAddr>;
}

/// The real view: the controller's image and proposals, the replica manager's roles.
#[derive(Debug)]
pub(crate) struct ClusterHandles {
    controller: Arc<Controller>,
    replicas: Arc<ReplicaManager>,
    bind: Option<IpAddr>,
}

impl ClusterHandles {
    /// The view of a cluster-mode broker; `None` unless both handles are there (single-node mode).
    pub(crate) fn from_parts(
        controller: Option<Arc<Controller>>,
        replicas: Option<Arc<ReplicaManager>>,
        config: &BrokerConfig,
    ) -> Option<Arc<dyn ClusterView>> {
        let (controller, replicas) = (controller?, replicas?);
        // The config is validated at start; an unparsable address here only loses the fixed source address.
        let bind = config.bind_outbound.as_deref().and_then(|a| a.parse().ok());
        Some(Arc::new(Self { controller, replicas, bind }))
    }
}

impl ClusterView for ClusterHandles {
    fn node_id(&self) -> i32 {
        self.controller.node_id()
    }

    fn local_leader_epoch(&self, topic: &str, partition: i32) -> Result<i32, ResponseError> {
        self.replicas.leader_epoch(topic, partition)
    }

    fn leader_address(&self, topic: &str, partition: i32) -> Result<Option<(i32, String)>, ResponseError> {
        let image = self.controller.image();
        let record = image.partition(topic, partition).ok_or(ResponseError::UnknownTopicOrPartition)?;
        if record.leader == NO_LEADER {
            return Ok(None);
        }
        Ok(image.brokers.get(&record.leader).filter(|b| !b.fenced).map(|b| (b.id, format!("{}:{}", b.host, b.port))))
    }

    fn allocate_producer_ids(&self, count: i64) -> BoxFuture<'_, Result<(i64, i64), ResponseError>> {
        let broker = self.controller.node_id();
        Box::pin(async move {
            match self.controller.propose(MetadataCommand::AllocateProducerIds { broker, count }).await {
                Ok(CommandResult::ProducerIds { first, count }) => Ok((first, count)),
                Ok(other) => {
                    tracing::warn!(?other, "the controller refused a producer id block");
                    Err(ResponseError::CoordinatorLoadInProgress)
                }
                Err(e) => {
                    // Kafka answers a missing block with COORDINATOR_LOAD_IN_PROGRESS: retriable for every client.
                    tracing::warn!(error = %e, "cannot allocate a producer id block");
                    Err(ResponseError::CoordinatorLoadInProgress)
                }
            }
        })
    }

    fn leadership_changes(&self) -> broadcast::Receiver<LeadershipChange> {
        self.replicas.leadership_changes()
    }

    fn bind(&self) -> Option<IpAddr> {
        self.bind
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! A cluster view for unit tests: leaderships and leaders set by the test, producer ids from a counter.

    use std::collections::HashMap;

    use parking_lot::Mutex;

    use super::*;

    /// Leaderships and image leaders as the test sets them.
    #[derive(Debug)]
    pub(crate) struct FakeCluster {
        pub(crate) node_id: i32,
        /// (topic, partition) -> leader epoch, for partitions this broker leads.
        pub(crate) led: Mutex<HashMap<(String, i32), i32>>,
        /// (topic, partition) -> (leader id, address), for the others.
        pub(crate) remote: Mutex<HashMap<(String, i32), (i32, String)>>,
        pub(crate) next_producer_id: Mutex<i64>,
        pub(crate) changes: broadcast::Sender<LeadershipChange>,
    }

    impl FakeCluster {
        pub(crate) fn new(node_id: i32) -> Arc<Self> {
            Arc::new(Self {
                node_id,
                led: Mutex::new(HashMap::new()),
                remote: Mutex::new(HashMap::new()),
                next_producer_id: Mutex::new(5000),
                changes: broadcast::channel(64).0,
            })
        }

        /// This broker leads `topic`/`partition` at `epoch` from now on.
        pub(crate) fn lead(&self, topic: &str, partition: i32, epoch: i32) {
            self.led.lock().insert((topic.to_string(), partition), epoch);
            let _ = self.changes.send(LeadershipChange {
                topic: topic.into(),
                partition,
                leader: true,
                leader_epoch: epoch,
            });
        }

        /// This broker no longer leads `topic`/`partition`.
        pub(crate) fn resign(&self, topic: &str, partition: i32) {
            let epoch = self.led.lock().remove(&(topic.to_string(), partition)).unwrap_or(-1);
            let _ = self.changes.send(LeadershipChange {
                topic: topic.into(),
                partition,
                leader: false,
                leader_epoch: epoch,
            });
        }
    }

    impl ClusterView for FakeCluster {
        fn node_id(&self) -> i32 {
            self.node_id
        }

        fn local_leader_epoch(&self, topic: &str, partition: i32) -> Result<i32, ResponseError> {
            self.led.lock().get(&(topic.to_string(), partition)).copied().ok_or(ResponseError::NotLeaderOrFollower)
        }

        fn leader_address(&self, topic: &str, partition: i32) -> Result<Option<(i32, String)>, ResponseError> {
            let key = (topic.to_string(), partition);
            if self.led.lock().contains_key(&key) {
                return Ok(Some((self.node_id, "local".into())));
            }
            Ok(self.remote.lock().get(&key).cloned())
        }

        fn allocate_producer_ids(&self, count: i64) -> BoxFuture<'_, Result<(i64, i64), ResponseError>> {
            let mut next = self.next_producer_id.lock();
            let first = *next;
            *next += count;
            Box::pin(async move { Ok((first, count)) })
        }

        fn leadership_changes(&self) -> broadcast::Receiver<LeadershipChange> {
            self.changes.subscribe()
        }

        fn bind(&self) -> Option<IpAddr> {
            None
        }
    }
}
