//! AlterPartitionReassignments (key 45): starts moving partitions to new replica sets, or cancels moves under
//! way. The controller adds the new replicas, waits for them to join the ISR, then drops the old ones; this
//! handler checks each request against the image first so a refusal names its cause. A single broker can only
//! "move" a partition to itself.

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ApiKey, RequestHeader, ResponseKind,
};
use kafka_protocol::ResponseError;

use super::admin::{self, Refusal};
use super::view::{ClusterView, PartitionView, TopicView};
use crate::api::{util, Handler, Reply};
use crate::controller::MetadataCommand;
use crate::server::Shared;

pub(crate) struct AlterPartitionReassignments;

/// One partition's change: the target replicas, or None to cancel.
type Change = (String, i32, Option<Vec<i32>>);

impl Handler for AlterPartitionReassignments {
    type Request = AlterPartitionReassignmentsRequest;
    const KEY: ApiKey = ApiKey::AlterPartitionReassignments;
    // v1 adds allow_replication_factor_change (v0 requests decode it as true, Kafka's v0 behaviour).
    const VERSIONS: (i16, i16) = (0, 1);

    async fn handle(
        shared: &Arc<Shared>,
        header: &RequestHeader,
        request: AlterPartitionReassignmentsRequest,
    ) -> Reply {
        let allow_rf_change = request.allow_replication_factor_change;
        let view = ClusterView::of(shared);
        let mut topics = HashMap::new();
        // Checked first, then the acceptable changes go to the controller in one proposal.
        let mut outcomes: Vec<(Change, Option<Refusal>)> = Vec::new();
        for topic in request.topics {
            let name = topic.name.0.to_string();
            let state = topics.entry(name.clone()).or_insert_with(|| view.topic(&name));
            for p in topic.partitions {
                let target: Option<Vec<i32>> = p.replicas.map(|r| r.into_iter().map(|b| b.0).collect());
                let refusal = check(&view, state.as_ref(), p.partition_index, target.as_deref(), allow_rf_change);
                outcomes.push(((name.clone(), p.partition_index, target), refusal.err()));
            }
        }
        let answers = match &shared.controller {
            Some(controller) => {
                let changes: Vec<Change> =
                    outcomes.iter().filter(|(_, r)| r.is_none()).map(|(c, _)| c.clone()).collect();
                if changes.is_empty() {
                    Ok(HashMap::new())
                } else {
                    admin::propose_partitions(controller, MetadataCommand::AlterReassignments { changes }).await
                }
            }
            None => Ok(HashMap::new()),
        };
        let mut response = AlterPartitionReassignmentsResponse::default();
        if header.request_api_version >= 1 {
            response.allow_replication_factor_change = allow_rf_change;
        }
        // Where each topic's answers go in the response.
        let mut slots = HashMap::new();
        for ((topic, partition, _), refusal) in outcomes {
            let refusal = match refusal {
                Some(refusal) => Some(refusal),
                None if shared.controller.is_some() => admin::partition_outcome(&answers, &topic, partition),
                None => None,
            };
            let mut result = ReassignablePartitionResponse::default();
            result.partition_index = partition;
            if let Some((error, message)) = refusal {
                result.error_code = util::code(error);
                result.error_message = Some(util::str_bytes(message));
            }
            let responses = &mut response.responses;
            let slot = *slots.entry(topic).or_insert_with_key(|topic| {
                let mut r = ReassignableTopicResponse::default();
                r.name = util::topic_name(topic);
                responses.push(r);
                responses.len() - 1
            });
            responses[slot].partitions.push(result);
        }
        Reply::Message(ResponseKind::AlterPartitionReassignments(response))
    }
}

/// What can be refused before asking the controller.
fn check(
    view: &ClusterView,
    topic: Option<&TopicView>,
    partition: i32,
    target: Option<&[i32]>,
    allow_rf_change: bool,
) -> Result<(), Refusal> {
    let Some(p) = topic.and_then(|t| t.partition(partition)) else {
        let name = topic.map_or("the topic", |t| t.name.as_str());
        return Err((
            ResponseError::UnknownTopicOrPartition,
            format!("partition {partition} of {name} does not exist"),
        ));
    };
    let Some(target) = target else {
        if !p.reassigning() {
            return Err((
                ResponseError::NoReassignmentInProgress,
                "no reassignment of this partition is under way".into(),
            ));
        }
        return Ok(());
    };
    let original = original_replicas(p);
    if !allow_rf_change && target.len() != original {
        return Err((
            ResponseError::InvalidReplicationFactor,
            format!("the partition has {original} replicas and {} were given, but replication factor changes are not allowed", target.len()),
        ));
    }
    match view {
        ClusterView::Image { image, .. } => {
            admin::check_replicas(Some(image), target).map_err(|m| (ResponseError::InvalidReplicaAssignment, m))
        }
        ClusterView::Single { node, .. } if target == [*node] => Ok(()),
        ClusterView::Single { node, .. } => Err((
            ResponseError::InvalidReplicaAssignment,
            format!("this broker runs without a controller quorum: broker {node} is the only possible replica, not {target:?}"),
        )),
    }
}

/// The replication factor before any reassignment under way (Kafka counts the replicas not being added).
fn original_replicas(p: &PartitionView) -> usize {
    p.replicas.iter().filter(|r| !p.adding.contains(r)).count()
}
