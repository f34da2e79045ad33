//! One read-only view of "which topics, partitions, leaders and brokers exist" for the handlers that describe
//! the cluster (Metadata, DescribeTopicPartitions, ElectLeaders, ...), so each handler is written once for
//! both modes: in cluster mode the view is the controller's metadata image; on a single broker it is the local
//! topic registry, with this broker as the leader and only replica of everything at leader epoch 0.

use std::sync::Arc;

use uuid::Uuid;

use crate::controller::{MetadataImage, PartitionRecord, TopicRecord, NO_LEADER};
use crate::server::Shared;
use crate::topics::Topic;

/// The leader epoch a single broker reports for every partition (it is never re-elected).
pub(crate) const SINGLE_NODE_EPOCH: i32 = 0;

/// One partition as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionView {
    pub(crate) index: i32,
    /// The leader's node id, or [`NO_LEADER`].
    pub(crate) leader: i32,
    pub(crate) leader_epoch: i32,
    pub(crate) replicas: Vec<i32>,
    pub(crate) isr: Vec<i32>,
    /// Replicas whose broker is fenced or not registered: they cannot serve now.
    pub(crate) offline: Vec<i32>,
    /// Replicas an ongoing reassignment adds and removes (empty when none is under way).
    pub(crate) adding: Vec<i32>,
    pub(crate) removing: Vec<i32>,
}

/// One topic as clients see it.
#[derive(Debug, Clone)]
pub(crate) struct TopicView {
    pub(crate) name: String,
    pub(crate) id: Uuid,
    /// Kafka hides `__`-prefixed topics from ordinary listings.
    pub(crate) internal: bool,
    pub(crate) partitions: Vec<PartitionView>,
}

/// One broker as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BrokerView {
    pub(crate) id: i32,
    pub(crate) host: String,
    pub(crate) port: i32,
    pub(crate) rack: Option<String>,
    pub(crate) fenced: bool,
}

/// A consistent snapshot of the cluster: taken once per request so every answer in it agrees.
pub(crate) enum ClusterView {
    /// No controller quorum: this broker alone.
    Single { node: i32, host: String, port: i32, rack: Option<String>, registry: Arc<crate::topics::TopicRegistry> },
    /// Cluster mode: the image this node has applied, and the quorum leader it knows of.
    Image { image: Arc<MetadataImage>, controller: Option<i32> },
}

impl ClusterView {
    /// Takes the snapshot for one request.
    pub(crate) fn of(shared: &Shared) -> Self {
        match &shared.controller {
            Some(controller) => Self::Image { image: controller.image(), controller: controller.status().leader },
            None => Self::Single {
                node: shared.config.node_id,
                host: shared.advertised_host.clone(),
                port: shared.advertised_port,
                rack: shared.config.rack.clone(),
                registry: shared.topics.clone(),
            },
        }
    }

    /// The controller id clients are told: the quorum leader (-1 while unknown), or this broker alone.
    pub(crate) fn controller_id(&self) -> i32 {
        match self {
            Self::Single { node, .. } => *node,
            // Clients send admin requests to the "controller" and look it up among the brokers: with dedicated
            // controllers the Raft leader is no broker, so name a live broker instead (any broker forwards
            // proposals to the quorum).
            Self::Image { controller, image } => {
                let live = |id: &i32| image.brokers.get(id).is_some_and(|b| !b.fenced);
                match controller {
                    Some(id) if live(id) => *id,
                    _ => image.brokers.values().find(|b| !b.fenced).map_or(-1, |b| b.id),
                }
            }
        }
    }

    /// Registered brokers, ascending by id; fenced ones only when `include_fenced`.
    pub(crate) fn brokers(&self, include_fenced: bool) -> Vec<BrokerView> {
        match self {
            Self::Single { node, host, port, rack, .. } => {
                vec![BrokerView { id: *node, host: host.clone(), port: *port, rack: rack.clone(), fenced: false }]
            }
            Self::Image { image, .. } => image
                .brokers
                .values()
                .filter(|b| include_fenced || !b.fenced)
                .map(|b| BrokerView {
                    id: b.id,
                    host: b.host.clone(),
                    port: b.port,
                    rack: b.rack.clone(),
                    fenced: b.fenced,
                })
                .collect(),
        }
    }

    /// Every topic name, sorted.
    pub(crate) fn topic_names(&self) -> Vec<String> {
        match self {
            Self::Single { registry, .. } => registry.list().iter().map(|t| t.name.clone()).collect(),
            Self::Image { image, .. } => image.topics.keys().cloned().collect(),
        }
    }

    /// Every topic, sorted by name.
    pub(crate) fn topics(&self) -> Vec<TopicView> {
        match self {
            Self::Single { node, registry, .. } => registry.list().iter().map(|t| single_topic(*node, t)).collect(),
            Self::Image { image, .. } => image.topics.values().map(|t| image_topic(image, t)).collect(),
        }
    }

    /// The topic named `name`.
    pub(crate) fn topic(&self, name: &str) -> Option<TopicView> {
        match self {
            Self::Single { node, registry, .. } => registry.get(name).map(|t| single_topic(*node, &t)),
            Self::Image { image, .. } => image.topics.get(name).map(|t| image_topic(image, t)),
        }
    }

    /// The topic with id `id`.
    pub(crate) fn topic_by_id(&self, id: Uuid) -> Option<TopicView> {
        match self {
            Self::Single { node, registry, .. } => registry.get_by_id(id).map(|t| single_topic(*node, &t)),
            Self::Image { image, .. } => image.topic_by_id(id).map(|t| image_topic(image, t)),
        }
    }
}

fn single_topic(node: i32, topic: &Topic) -> TopicView {
    TopicView {
        name: topic.name.clone(),
        id: topic.id,
        internal: topic.is_internal(),
        partitions: (0..topic.partition_count())
            .map(|index| PartitionView {
                index,
                leader: node,
                leader_epoch: SINGLE_NODE_EPOCH,
                replicas: vec![node],
                isr: vec![node],
                offline: Vec::new(),
                adding: Vec::new(),
                removing: Vec::new(),
            })
            .collect(),
    }
}

fn image_topic(image: &MetadataImage, topic: &TopicRecord) -> TopicView {
    TopicView {
        name: topic.name.clone(),
        id: topic.id,
        internal: topic.name.starts_with("__"),
        partitions: topic.partitions.iter().zip(0..).map(|(p, index)| image_partition(image, index, p)).collect(),
    }
}

fn image_partition(image: &MetadataImage, index: i32, p: &PartitionRecord) -> PartitionView {
    let live = |id: &i32| image.brokers.get(id).is_some_and(|b| !b.fenced);
    PartitionView {
        index,
        leader: p.leader,
        leader_epoch: p.leader_epoch,
        replicas: p.replicas.clone(),
        isr: p.isr.clone(),
        offline: p.replicas.iter().copied().filter(|id| !live(id)).collect(),
        adding: p.adding_replicas.clone(),
        removing: p.removing_replicas.clone(),
    }
}

impl TopicView {
    /// The partition numbered `index`, if the topic has it.
    pub(crate) fn partition(&self, index: i32) -> Option<&PartitionView> {
        self.partitions.get(usize::try_from(index).ok()?)
    }
}

impl PartitionView {
    /// Whether some broker leads the partition now.
    pub(crate) fn has_leader(&self) -> bool {
        self.leader != NO_LEADER
    }

    /// Whether a reassignment of this partition is under way.
    pub(crate) fn reassigning(&self) -> bool {
        !self.adding.is_empty() || !self.removing.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::BrokerRecord;

    fn broker(id: i32, fenced: bool) -> BrokerRecord {
        BrokerRecord {
            id,
            incarnation: Uuid::new_v4(),
            epoch: 1,
            host: format!("10.0.0.{id}"),
            port: 9092,
            rack: None,
            fenced,
        }
    }

    #[test]
    fn fenced_and_unregistered_replicas_are_offline() {
        let mut image = MetadataImage::default();
        image.brokers.insert(1, broker(1, false));
        image.brokers.insert(2, broker(2, true));
        let record = PartitionRecord {
            replicas: vec![1, 2, 3],
            isr: vec![1],
            leader: 1,
            leader_epoch: 4,
            partition_epoch: 9,
            adding_replicas: vec![],
            removing_replicas: vec![],
        };
        let view = image_partition(&image, 0, &record);
        assert_eq!(view.offline, vec![2, 3]);
        assert!(view.has_leader() && !view.reassigning());
        let view = ClusterView::Image { image: Arc::new(image), controller: None };
        assert_eq!(view.brokers(false).iter().map(|b| b.id).collect::<Vec<_>>(), vec![1]);
        assert_eq!(view.brokers(true).len(), 2);
        // No known quorum leader: a live broker is named, as KRaft brokers do (any broker forwards admin requests).
        assert_eq!(view.controller_id(), 1);
    }

    #[test]
    fn the_controller_named_is_always_a_live_broker() {
        let mut image = MetadataImage::default();
        image.brokers.insert(4, broker(4, true));
        image.brokers.insert(5, broker(5, false));
        let image = Arc::new(image);
        // A dedicated controller (no broker) or a fenced broker leading the quorum is not named.
        for leader in [Some(1), Some(4), None] {
            let view = ClusterView::Image { image: image.clone(), controller: leader };
            assert_eq!(view.controller_id(), 5, "quorum leader {leader:?}");
        }
        let view = ClusterView::Image { image: image.clone(), controller: Some(5) };
        assert_eq!(view.controller_id(), 5);
        let view = ClusterView::Image { image: Arc::new(MetadataImage::default()), controller: Some(1) };
        assert_eq!(view.controller_id(), -1, "no live broker at all");
    }
}
