//! DescribeTopicPartitions (key 75): topic and partition metadata for admin clients, paged: topics in name order,
//! at most `response_partition_limit` partitions per answer, and a cursor (topic, partition) to continue from.
//! Follows Kafka's paging rules so `kafka-topics --describe` pages the same way against Sluice.

use std::collections::BTreeSet;
use std::sync::Arc;

use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, RequestHeader, ResponseKind,
};
use kafka_protocol::ResponseError;

use super::view::{ClusterView, PartitionView};
use crate::api::{util, Handler, Reply};
use crate::server::Shared;
use crate::topics::validate_topic_name;

pub(crate) struct DescribeTopicPartitions;

/// Kafka's `max.request.partition.size.limit` default: the most partitions one answer carries.
const MAX_PARTITIONS_PER_ANSWER: i32 = 2000;

impl Handler for DescribeTopicPartitions {
    type Request = DescribeTopicPartitionsRequest;
    const KEY: ApiKey = ApiKey::DescribeTopicPartitions;
    const VERSIONS: (i16, i16) = (0, 0);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: DescribeTopicPartitionsRequest) -> Reply {
        Reply::Message(ResponseKind::DescribeTopicPartitions(answer(&ClusterView::of(shared), request)))
    }
}

/// One page of the answer, from `view`.
fn answer(view: &ClusterView, request: DescribeTopicPartitionsRequest) -> DescribeTopicPartitionsResponse {
    let requested: BTreeSet<String> = request.topics.iter().map(|t| t.name.0.to_string()).collect();
    let all = requested.is_empty();
    let cursor = request.cursor.map(|c| (c.topic_name.0.to_string(), c.partition_index));
    let mut response = DescribeTopicPartitionsResponse::default();
    if let Some((topic, partition)) = &cursor {
        if *partition < 0 || (!all && !requested.contains(topic)) {
            // Kafka refuses the whole request: every topic asked for carries the error.
            response.topics = requested.iter().map(|name| refused(name, ResponseError::InvalidRequest)).collect();
            return response;
        }
    }
    let names: Vec<String> = if all { view.topic_names() } else { requested.into_iter().collect() };
    let start = cursor.as_ref().map(|(topic, _)| topic.as_str());
    let mut remaining = request.response_partition_limit.clamp(0, MAX_PARTITIONS_PER_ANSWER) as usize;
    for name in names.into_iter().filter(|n| start.is_none_or(|s| n.as_str() >= s)) {
        if remaining == 0 {
            // The previous topics are complete; the next answer starts with this one.
            response.next_cursor = Some(cursor_at(&name, 0));
            break;
        }
        let Some(topic) = view.topic(&name) else {
            // Asked for by name: say why it is missing. Listing everything: it was deleted meanwhile.
            if !all {
                let error = match validate_topic_name(&name) {
                    Ok(()) => ResponseError::UnknownTopicOrPartition,
                    Err(_) => ResponseError::InvalidTopicException,
                };
                response.topics.push(refused(&name, error));
            }
            continue;
        };
        let first = match &cursor {
            Some((topic, partition)) if *topic == name => usize::try_from(*partition).unwrap_or(0),
            _ => 0,
        };
        let rest = topic.partitions.get(first..).unwrap_or(&[]);
        let taken = rest.len().min(remaining);
        let mut t = DescribeTopicPartitionsResponseTopic::default();
        t.name = Some(util::topic_name(&topic.name));
        t.topic_id = topic.id;
        t.is_internal = topic.internal;
        t.partitions = rest[..taken].iter().map(describe).collect();
        response.topics.push(t);
        if taken < rest.len() {
            response.next_cursor = Some(cursor_at(&name, rest[taken].index));
            break;
        }
        remaining -= taken;
    }
    response
}

fn cursor_at(topic: &str, partition: i32) -> Cursor {
    let mut c = Cursor::default();
    c.topic_name = util::topic_name(topic);
    c.partition_index = partition;
    c
}

fn refused(name: &str, error: ResponseError) -> DescribeTopicPartitionsResponseTopic {
    let mut t = DescribeTopicPartitionsResponseTopic::default();
    t.error_code = util::code(error);
    t.name = Some(util::topic_name(name));
    t
}

fn describe(p: &PartitionView) -> DescribeTopicPartitionsResponsePartition {
    let mut r = DescribeTopicPartitionsResponsePartition::default();
    if !p.has_leader() {
        r.error_code = util::code(ResponseError::LeaderNotAvailable);
    }
    r.partition_index = p.index;
    r.leader_id = BrokerId(p.leader);
    r.leader_epoch = p.leader_epoch;
    r.replica_nodes = util::node_ids(&p.replicas);
    r.isr_nodes = util::node_ids(&p.isr);
    // Sluice has no eligible leader replicas (KIP-966): empty lists, as Kafka sends with the feature off.
    r.eligible_leader_replicas = Some(Vec::new());
    r.last_known_elr = Some(Vec::new());
    r.offline_replicas = util::node_ids(&p.offline);
    r
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kafka_protocol::messages::describe_topic_partitions_request::TopicRequest;
    use uuid::Uuid;

    use super::*;
    use crate::controller::{BrokerRecord, MetadataImage, PartitionRecord, TopicRecord, NO_LEADER};

    fn partition(replicas: &[i32], leader: i32) -> PartitionRecord {
        PartitionRecord {
            replicas: replicas.to_vec(),
            isr: vec![replicas[0]],
            leader,
            leader_epoch: 3,
            partition_epoch: 5,
            adding_replicas: vec![],
            removing_replicas: vec![],
        }
    }

    /// Brokers 1 (live) and 2 (fenced); topic "t" with a led partition and a leaderless one.
    fn view() -> ClusterView {
        let mut image = MetadataImage::default();
        for (id, fenced) in [(1, false), (2, true)] {
            let record = BrokerRecord {
                id,
                incarnation: Uuid::new_v4(),
                epoch: 1,
                host: "h".into(),
                port: 9092,
                rack: None,
                fenced,
            };
            image.brokers.insert(id, record);
        }
        let topic = TopicRecord {
            name: "t".into(),
            id: Uuid::new_v4(),
            configs: Default::default(),
            partitions: vec![partition(&[1, 2], 1), partition(&[2, 1], NO_LEADER)],
        };
        image.topics.insert("t".into(), topic);
        ClusterView::Image { image: Arc::new(image), controller: Some(1) }
    }

    #[test]
    fn cluster_partitions_show_leaders_offline_replicas_and_leaderless_errors() {
        let mut request = DescribeTopicPartitionsRequest::default();
        request.topics = vec![TopicRequest::default().with_name(util::topic_name("t"))];
        request.response_partition_limit = 1;
        let first = answer(&view(), request.clone());
        let p = &first.topics[0].partitions[0];
        assert_eq!((p.error_code, p.leader_id.0, p.leader_epoch), (0, 1, 3));
        assert_eq!(p.offline_replicas, vec![BrokerId(2)]);
        let cursor = first.next_cursor.expect("a second page");
        assert_eq!((cursor.topic_name.0.as_str(), cursor.partition_index), ("t", 1));

        request.cursor = Some(
            kafka_protocol::messages::describe_topic_partitions_request::Cursor::default()
                .with_topic_name(util::topic_name("t"))
                .with_partition_index(1),
        );
        let second = answer(&view(), request);
        let p = &second.topics[0].partitions[0];
        assert_eq!((p.partition_index, p.error_code, p.leader_id.0), (1, 5, -1), "LEADER_NOT_AVAILABLE");
        assert!(second.next_cursor.is_none());
    }
}
