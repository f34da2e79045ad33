//! Metadata (key 3): brokers, and the topics asked for with their partitions; may auto-create topics.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{ApiKey, BrokerId, MetadataRequest, MetadataResponse, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use super::{util, Handler, Reply};
use crate::server::Shared;
use crate::topics::Topic;

pub(crate) struct Metadata;

impl Handler for Metadata {
    type Request = MetadataRequest;
    const KEY: ApiKey = ApiKey::Metadata;
    const VERSIONS: (i16, i16) = (0, 13);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: MetadataRequest) -> Reply {
        let version = header.request_api_version;
        let node = BrokerId(shared.config.node_id);
        let mut broker = MetadataResponseBroker::default();
        broker.node_id = node;
        broker.host = util::str_bytes(shared.advertised_host.clone());
        broker.port = shared.advertised_port;

        let mut response = MetadataResponse::default();
        response.brokers = vec![broker];
        response.cluster_id = Some(util::str_bytes(shared.cluster_id.clone()));
        response.controller_id = node;

        // v0 sends an empty list for "all topics"; later versions send null.
        let all = match &request.topics {
            None => true,
            Some(list) => version == 0 && list.is_empty(),
        };
        if all {
            response.topics = shared.topics.list().iter().map(|t| describe(shared, t)).collect();
        } else {
            // v4+ lets the client say whether it wants auto-creation; older versions always allowed it.
            let allow_create = shared.config.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
            for wanted in request.topics.unwrap_or_default() {
                let topic = match (&wanted.name, wanted.topic_id.is_nil()) {
                    (Some(name), _) => {
                        let name = name.0.as_str();
                        match shared.topics.get(name) {
                            Some(topic) => Ok(topic),
                            None if allow_create => auto_create(shared, name).await,
                            None => Err(ResponseError::UnknownTopicOrPartition),
                        }
                    }
                    (None, false) => shared.topics.get_by_id(wanted.topic_id).ok_or(ResponseError::UnknownTopicId),
                    (None, true) => Err(ResponseError::InvalidRequest),
                };
                response.topics.push(match topic {
                    Ok(topic) => describe(shared, &topic),
                    Err(error) => {
                        let mut t = MetadataResponseTopic::default();
                        t.error_code = util::code(error);
                        t.name = wanted.name.clone();
                        t.topic_id = wanted.topic_id;
                        t
                    }
                });
            }
        }
        Reply::Message(ResponseKind::Metadata(response))
    }
}

async fn auto_create(shared: &Arc<Shared>, name: &str) -> Result<Arc<Topic>, ResponseError> {
    match shared.topics.create(name, shared.config.num_partitions, BTreeMap::new(), false).await {
        Ok(topic) => Ok(topic),
        // Another request created it between our look-up and now.
        Err(e) if e.code == ResponseError::TopicAlreadyExists => {
            shared.topics.get(name).ok_or(ResponseError::UnknownTopicOrPartition)
        }
        Err(e) => {
            tracing::info!(topic = name, error = %e, "auto-creation refused");
            Err(e.code)
        }
    }
}

fn describe(shared: &Shared, topic: &Topic) -> MetadataResponseTopic {
    let node = BrokerId(shared.config.node_id);
    let mut t = MetadataResponseTopic::default();
    t.name = Some(util::topic_name(&topic.name));
    t.topic_id = topic.id;
    t.is_internal = topic.is_internal();
    t.partitions = (0..topic.partition_count())
        .map(|p| {
            let mut part = MetadataResponsePartition::default();
            part.partition_index = p;
            part.leader_id = node;
            part.leader_epoch = 0;
            part.replica_nodes = vec![node];
            part.isr_nodes = vec![node];
            part
        })
        .collect();
    t
}
