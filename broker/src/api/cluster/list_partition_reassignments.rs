//! ListPartitionReassignments (key 46): the partition moves under way, with the replicas being added and
//! removed. As in Kafka, unknown topics and partitions that are not moving are left out rather than refused. A
//! single broker never moves anything: the list is empty.

use std::sync::Arc;

use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    ApiKey, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, RequestHeader, ResponseKind,
};

use super::view::{ClusterView, PartitionView, TopicView};
use crate::api::{util, Handler, Reply};
use crate::server::Shared;

pub(crate) struct ListPartitionReassignments;

impl Handler for ListPartitionReassignments {
    type Request = ListPartitionReassignmentsRequest;
    const KEY: ApiKey = ApiKey::ListPartitionReassignments;
    const VERSIONS: (i16, i16) = (0, 0);

    async fn handle(
        shared: &Arc<Shared>,
        _header: &RequestHeader,
        request: ListPartitionReassignmentsRequest,
    ) -> Reply {
        let view = ClusterView::of(shared);
        let mut response = ListPartitionReassignmentsResponse::default();
        let wanted: Vec<(TopicView, Option<Vec<i32>>)> = match request.topics {
            None => view.topics().into_iter().map(|t| (t, None)).collect(),
            Some(topics) => topics
                .into_iter()
                .filter_map(|t| view.topic(t.name.0.as_str()).map(|v| (v, Some(t.partition_indexes))))
                .collect(),
        };
        for (topic, indexes) in wanted {
            let moving: Vec<&PartitionView> = match &indexes {
                None => topic.partitions.iter().filter(|p| p.reassigning()).collect(),
                Some(indexes) => {
                    indexes.iter().filter_map(|&i| topic.partition(i)).filter(|p| p.reassigning()).collect()
                }
            };
            if moving.is_empty() {
                continue;
            }
            let mut t = OngoingTopicReassignment::default();
            t.name = util::topic_name(&topic.name);
            t.partitions = moving
                .into_iter()
                .map(|p| {
                    let mut r = OngoingPartitionReassignment::default();
                    r.partition_index = p.index;
                    r.replicas = util::node_ids(&p.replicas);
                    r.adding_replicas = util::node_ids(&p.adding);
                    r.removing_replicas = util::node_ids(&p.removing);
                    r
                })
                .collect();
            response.topics.push(t);
        }
        Reply::Message(ResponseKind::ListPartitionReassignments(response))
    }
}
