//! ConsumerGroupDescribe (key 69): members, epochs and assignments of KIP-848 consumer groups.

use std::sync::Arc;

use kafka_protocol::messages::consumer_group_describe_response::{Assignment, DescribedGroup, Member, TopicPartitions};
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, RequestHeader, ResponseKind,
};
use kafka_protocol::ResponseError;

use crate::api::{util, Handler, Reply};
use crate::coordinator::group::consumer;
use crate::server::Shared;

pub(crate) struct ConsumerGroupDescribe;

/// Kafka's "authorized operations not requested or not known".
const OPERATIONS_UNKNOWN: i32 = i32::MIN;

impl Handler for ConsumerGroupDescribe {
    type Request = ConsumerGroupDescribeRequest;
    const KEY: ApiKey = ApiKey::ConsumerGroupDescribe;
    const VERSIONS: (i16, i16) = (0, 1);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: ConsumerGroupDescribeRequest) -> Reply {
        let mut response = ConsumerGroupDescribeResponse::default();
        for group_id in request.group_ids {
            let mut described = DescribedGroup::default();
            described.group_id = group_id.clone();
            described.authorized_operations = OPERATIONS_UNKNOWN;
            if let Err(error) = shared.groups.check_coordinator(group_id.0.as_str()) {
                // Another broker leads the group's partition (or this one is still loading it).
                described.error_code = util::code(error);
                response.groups.push(described);
                continue;
            }
            match shared.groups.consumer.describe(group_id.0.as_str()) {
                Some(group) => {
                    described.group_state = util::str_bytes(group.state);
                    described.group_epoch = group.epoch;
                    described.assignment_epoch = group.assignment_epoch;
                    described.assignor_name = util::str_bytes(group.assignor);
                    described.members = group.members.into_iter().map(|m| member(shared, m)).collect();
                }
                None => {
                    // Kafka answers the same for a classic group and for no group at all.
                    described.error_code = util::code(ResponseError::GroupIdNotFound);
                    described.error_message =
                        Some(util::str_bytes(format!("group {:?} is not a consumer-protocol group", group_id.0.as_str())));
                    described.group_state = util::str_bytes("Dead");
                }
            }
            response.groups.push(described);
        }
        Reply::Message(ResponseKind::ConsumerGroupDescribe(response))
    }
}

fn member(shared: &Shared, m: consumer::MemberDescription) -> Member {
    let mut out = Member::default();
    out.member_id = util::str_bytes(m.member_id);
    out.instance_id = m.instance_id.map(util::str_bytes);
    out.rack_id = m.rack_id.map(util::str_bytes);
    out.member_epoch = m.member_epoch;
    out.client_id = util::str_bytes(m.client_id);
    out.client_host = util::str_bytes(m.client_host);
    out.subscribed_topic_names = m.subscribed.iter().map(|t| util::topic_name(t)).collect();
    out.assignment = assignment(shared, m.assignment);
    out.target_assignment = assignment(shared, m.target);
    // Every member here speaks the consumer protocol (classic members never join these groups).
    out.member_type = 1;
    out
}

fn assignment(shared: &Shared, assigned: consumer::Assignment) -> Assignment {
    let mut out = Assignment::default();
    out.topic_partitions = assigned
        .into_iter()
        .map(|(topic_id, partitions)| {
            let mut tp = TopicPartitions::default();
            tp.topic_id = topic_id;
            // A topic deleted since the assignment has no name any more; Kafka leaves it empty too.
            tp.topic_name = util::topic_name(shared.topics.get_by_id(topic_id).map(|t| t.name.clone()).unwrap_or_default().as_str());
            tp.partitions = partitions.into_iter().collect();
            tp
        })
        .collect();
    out
}
