//! CreatePartitions (key 37): grows a topic's partition count, optionally with replica assignments for the new
//! partitions. Cluster mode proposes the growth to the controller; a single broker grows its registry.

use std::sync::Arc;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{
    ApiKey, CreatePartitionsRequest, CreatePartitionsResponse, RequestHeader, ResponseKind,
};
use kafka_protocol::ResponseError;

use super::cluster::admin::{self, Refusal, MAX_PARTITIONS};
use super::{util, Handler, Reply};
use crate::controller::{Controller, MetadataCommand};
use crate::server::Shared;

pub(crate) struct CreatePartitions;

impl Handler for CreatePartitions {
    type Request = CreatePartitionsRequest;
    const KEY: ApiKey = ApiKey::CreatePartitions;
    const VERSIONS: (i16, i16) = (0, 3);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: CreatePartitionsRequest) -> Reply {
        let mut response = CreatePartitionsResponse::default();
        for topic in request.topics {
            let mut result = CreatePartitionsTopicResult::default();
            result.name = topic.name.clone();
            let outcome = match &shared.controller {
                Some(controller) => grow(controller, &topic, request.validate_only).await,
                None => shared
                    .topics
                    .add_partitions(topic.name.0.as_str(), topic.count, request.validate_only)
                    .await
                    .map_err(|e| (e.code, e.message)),
            };
            if let Err((code, message)) = outcome {
                tracing::info!(topic = %topic.name.0, error = ?code, %message, "CreatePartitions refused");
                result.error_code = util::code(code);
                result.error_message = Some(util::str_bytes(message));
            }
            response.results.push(result);
        }
        Reply::Message(ResponseKind::CreatePartitions(response))
    }
}

/// Cluster mode: checks the new count and assignments against the image, then proposes the growth.
async fn grow(controller: &Controller, topic: &CreatePartitionsTopic, validate_only: bool) -> Result<(), Refusal> {
    let image = controller.image();
    let name = topic.name.0.as_str();
    let record = image
        .topics
        .get(name)
        .ok_or_else(|| (ResponseError::UnknownTopicOrPartition, format!("topic {name:?} does not exist")))?;
    let current = i32::try_from(record.partitions.len()).unwrap_or(i32::MAX);
    if topic.count <= current || topic.count > MAX_PARTITIONS {
        return Err((
            ResponseError::InvalidPartitions,
            format!(
                "topic {name:?} has {current} partitions; the new count must be larger and at most {MAX_PARTITIONS} (asked for {})",
                topic.count
            ),
        ));
    }
    // New partitions get the replication factor of the existing ones (an ongoing reassignment's target size).
    let rf = record.partitions.first().map_or(1, |p| p.replicas.len() - p.removing_replicas.len());
    let assignments: Option<Vec<Vec<i32>>> =
        topic.assignments.as_ref().map(|a| a.iter().map(|a| a.broker_ids.iter().map(|b| b.0).collect()).collect());
    match &assignments {
        Some(assignments) => {
            let added = (topic.count - current) as usize;
            if assignments.len() != added {
                return Err((
                    ResponseError::InvalidReplicaAssignment,
                    format!("{} replica assignments given for {added} new partitions", assignments.len()),
                ));
            }
            admin::check_assignments(&image, assignments, Some(rf), validate_only)?;
        }
        None => admin::check_replication_factor(&image, i16::try_from(rf).unwrap_or(i16::MAX), validate_only)?,
    }
    if validate_only {
        return Ok(());
    }
    let command = MetadataCommand::CreatePartitions { name: name.to_string(), total: topic.count, assignments };
    admin::propose_simple(controller, command).await?;
    tracing::info!(topic = name, total = topic.count, "added partitions through the controller");
    Ok(())
}
