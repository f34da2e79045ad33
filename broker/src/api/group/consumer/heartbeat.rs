//! ConsumerGroupHeartbeat (key 68): joins, heartbeats in and leaves a KIP-848 consumer group.

use std::sync::Arc;

use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, RequestHeader, ResponseKind,
};

use super::topic_meta;
use crate::api::{util, Handler, Reply};
use crate::coordinator::group::consumer::{self, Heartbeat};
use crate::server::Shared;

pub(crate) struct ConsumerGroupHeartbeat;

impl Handler for ConsumerGroupHeartbeat {
    type Request = ConsumerGroupHeartbeatRequest;
    const KEY: ApiKey = ApiKey::ConsumerGroupHeartbeat;
    const VERSIONS: (i16, i16) = (0, 1);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: ConsumerGroupHeartbeatRequest) -> Reply {
        let group_id = request.group_id.0.to_string();
        let heartbeat = Heartbeat {
            group_id: group_id.clone(),
            member_id: request.member_id.to_string(),
            member_epoch: request.member_epoch,
            instance_id: request.instance_id.map(|s| s.to_string()),
            rack_id: request.rack_id.map(|s| s.to_string()),
            rebalance_timeout_ms: request.rebalance_timeout_ms,
            subscribed_topic_names: request
                .subscribed_topic_names
                .map(|names| names.into_iter().map(|n| n.0.to_string()).collect()),
            subscribed_topic_regex: request.subscribed_topic_regex.map(|s| s.to_string()),
            server_assignor: request.server_assignor.map(|s| s.to_string()),
            owned: request.topic_partitions.map(|topics| {
                let mut owned = consumer::Assignment::new();
                for t in topics {
                    owned.entry(t.topic_id).or_default().extend(t.partitions);
                }
                owned
            }),
            client_id: header.client_id.as_ref().map(|c| c.to_string()).unwrap_or_default(),
            client_host: crate::net::client_host(),
        };
        let lookup = |name: &str| topic_meta(shared, name);
        let mut response = ConsumerGroupHeartbeatResponse::default();
        let mark = shared.groups.mark(&group_id);
        let result = match shared.groups.check_coordinator(&group_id) {
            Err(error) => Err(consumer::Refusal::new(error, "this broker is not the group's coordinator now")),
            Ok(()) => shared.groups.consumer.heartbeat(heartbeat, &lookup),
        };
        // What the heartbeat changed is answered only once the followers have it (cluster mode).
        let result = match result {
            Ok(answer) => match shared.groups.replicated(mark).await {
                Ok(()) => Ok(answer),
                Err(error) => Err(consumer::Refusal::new(error, "the group's new state is not replicated yet")),
            },
            Err(refusal) => Err(refusal),
        };
        match result {
            Ok(answer) => {
                response.member_id = Some(util::str_bytes(answer.member_id));
                response.member_epoch = answer.member_epoch;
                response.heartbeat_interval_ms = answer.heartbeat_interval_ms;
                response.assignment = answer.assignment.map(|assigned| {
                    let mut a = Assignment::default();
                    a.topic_partitions = assigned
                        .into_iter()
                        .map(|(topic_id, partitions)| {
                            let mut tp = TopicPartitions::default();
                            tp.topic_id = topic_id;
                            tp.partitions = partitions.into_iter().collect();
                            tp
                        })
                        .collect();
                    a
                });
            }
            Err(refusal) => {
                tracing::debug!(group = %group_id, error = ?refusal.error, message = %refusal.message, "ConsumerGroupHeartbeat refused");
                response.error_code = util::code(refusal.error);
                response.error_message = Some(util::str_bytes(refusal.message));
                response.member_epoch = -1;
            }
        }
        Reply::Message(ResponseKind::ConsumerGroupHeartbeat(response))
    }
}
