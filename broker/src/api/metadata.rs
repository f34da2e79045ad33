//! Metadata (key 3): brokers, the controller, and the topics asked for with their partitions; may auto-create
//! topics. In cluster mode everything comes from the controller's metadata image; on a single broker from the
//! local registry (see `cluster::view`).

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{ApiKey, BrokerId, MetadataRequest, MetadataResponse, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use super::cluster::create_topic;
use super::cluster::view::{ClusterView, TopicView};
use super::{util, Handler, Reply};
use crate::server::Shared;

pub(crate) struct Metadata;

impl Handler for Metadata {
    type Request = MetadataRequest;
    const KEY: ApiKey = ApiKey::Metadata;
    const VERSIONS: (i16, i16) = (0, 13);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: MetadataRequest) -> Reply {
        let version = header.request_api_version;
        let mut view = ClusterView::of(shared);
        let mut response = MetadataResponse::default();
        response.cluster_id = Some(util::str_bytes(shared.cluster_id.clone()));

        // v0 sends an empty list for "all topics"; later versions send null.
        let all = match &request.topics {
            None => true,
            Some(list) => version == 0 && list.is_empty(),
        };
        if all {
            response.topics = view.topics().iter().map(describe).collect();
        } else {
            // v4+ lets the client say whether it wants auto-creation; older versions always allowed it.
            let allow_create = shared.config.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
            for wanted in request.topics.unwrap_or_default() {
                let topic = match (&wanted.name, wanted.topic_id.is_nil()) {
                    (Some(name), _) => {
                        let name = name.0.as_str();
                        match view.topic(name) {
                            Some(topic) => Ok(topic),
                            None if allow_create => {
                                let created = create(shared, name).await;
                                // The creation changed the image: later topics of this request must see it.
                                view = ClusterView::of(shared);
                                created
                            }
                            None => Err(ResponseError::UnknownTopicOrPartition),
                        }
                    }
                    (None, false) => view.topic_by_id(wanted.topic_id).ok_or(ResponseError::UnknownTopicId),
                    (None, true) => Err(ResponseError::InvalidRequest),
                };
                response.topics.push(match topic {
                    Ok(topic) => describe(&topic),
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
        // Brokers and controller are read after any auto-creation, from the same snapshot as the last topics.
        response.brokers = view
            .brokers(false)
            .into_iter()
            .map(|b| {
                let mut broker = MetadataResponseBroker::default();
                broker.node_id = BrokerId(b.id);
                broker.host = util::str_bytes(b.host);
                broker.port = b.port;
                // The codec writes the rack from v1 on and drops it below.
                broker.rack = b.rack.map(util::str_bytes);
                broker
            })
            .collect();
        response.controller_id = BrokerId(view.controller_id());
        Reply::Message(ResponseKind::Metadata(response))
    }
}

/// Auto-creates `name` with the broker's defaults. On a single broker the topic is ready at once; in cluster
/// mode it exists once the proposal is applied but its replicas still have to open their logs, so the answer is
/// LEADER_NOT_AVAILABLE (as Kafka answers while it creates a topic) and the client asks again.
async fn create(shared: &Arc<Shared>, name: &str) -> Result<TopicView, ResponseError> {
    let Some(controller) = &shared.controller else {
        return match shared.topics.create(name, shared.config.num_partitions, BTreeMap::new(), false).await {
            Ok(_) => ClusterView::of(shared).topic(name).ok_or(ResponseError::UnknownTopicOrPartition),
            // Another request created it between our look-up and now.
            Err(e) if e.code == ResponseError::TopicAlreadyExists => {
                ClusterView::of(shared).topic(name).ok_or(ResponseError::UnknownTopicOrPartition)
            }
            Err(e) => {
                tracing::info!(topic = name, error = %e, "auto-creation refused");
                Err(e.code)
            }
        };
    };
    // The coordinators create their topics, with their own partition counts and configs, on the first
    // FindCoordinator that needs them; a client asking here first only waits for that.
    if name == crate::coordinator::group::OFFSETS_TOPIC || name == crate::coordinator::txn::TOPIC {
        return Err(ResponseError::LeaderNotAvailable);
    }
    match create_topic::auto_create(shared, controller, name).await {
        // A concurrent creation won: the topic exists, so describe it (its leaders may already serve).
        Err((ResponseError::TopicAlreadyExists, _)) => {
            ClusterView::of(shared).topic(name).ok_or(ResponseError::LeaderNotAvailable)
        }
        Ok(()) => Err(ResponseError::LeaderNotAvailable),
        Err((code, message)) => {
            tracing::info!(topic = name, error = ?code, %message, "auto-creation refused");
            // A quorum without a leader is a transient state: tell the client to come back.
            if matches!(code, ResponseError::NotController | ResponseError::RequestTimedOut) {
                Err(ResponseError::LeaderNotAvailable)
            } else {
                Err(code)
            }
        }
    }
}

fn describe(topic: &TopicView) -> MetadataResponseTopic {
    let mut t = MetadataResponseTopic::default();
    t.name = Some(util::topic_name(&topic.name));
    t.topic_id = topic.id;
    t.is_internal = topic.internal;
    t.partitions = topic
        .partitions
        .iter()
        .map(|p| {
            let mut part = MetadataResponsePartition::default();
            part.partition_index = p.index;
            if !p.has_leader() {
                part.error_code = util::code(ResponseError::LeaderNotAvailable);
            }
            part.leader_id = BrokerId(p.leader);
            part.leader_epoch = p.leader_epoch;
            part.replica_nodes = util::node_ids(&p.replicas);
            part.isr_nodes = util::node_ids(&p.isr);
            part.offline_replicas = util::node_ids(&p.offline);
            part
        })
        .collect();
    t
}
