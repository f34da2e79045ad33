//! DescribeQuorum (key 55): the metadata quorum (`__cluster_metadata-0` in Kafka's terms): leader, term, the
//! committed index as high watermark, and the voters. Every node of a Sluice cluster is a voter and applies the
//! committed log, so any node answers from its own view; only its own log position is known here, the other
//! voters' positions are -1 ("unknown"), as Kafka reports replicas it has not heard from. A single broker
//! reports itself as the sole voter and leader of an empty log.

use std::sync::Arc;

use kafka_protocol::messages::describe_quorum_response::{Listener, Node, PartitionData, ReplicaState, TopicData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeQuorumRequest, DescribeQuorumResponse, RequestHeader, ResponseKind,
};
use kafka_protocol::ResponseError;

use crate::api::{util, Handler, Reply};
use crate::config::broker::parse_quorum;
use crate::server::Shared;

pub(crate) struct DescribeQuorum;

/// The name Kafka gives the metadata log, which clients put in the request.
const METADATA_TOPIC: &str = "__cluster_metadata";
/// The listener name reported for controller endpoints (v2).
const CONTROLLER_LISTENER: &str = "CONTROLLER";
/// Kafka's "unknown" for offsets and timestamps.
const UNKNOWN: i64 = -1;

/// The quorum as this node sees it, in the answer's terms.
struct Quorum {
    leader: Option<i32>,
    term: i32,
    high_watermark: i64,
    voters: Vec<i32>,
    /// This node's id and the log index it has applied.
    own: (i32, i64),
}

impl Handler for DescribeQuorum {
    type Request = DescribeQuorumRequest;
    const KEY: ApiKey = ApiKey::DescribeQuorum;
    const VERSIONS: (i16, i16) = (0, 2);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: DescribeQuorumRequest) -> Reply {
        let version = header.request_api_version;
        let quorum = quorum(shared);
        let mut response = DescribeQuorumResponse::default();
        for topic in request.topics {
            let mut t = TopicData::default();
            t.topic_name = topic.topic_name.clone();
            for p in topic.partitions {
                let mut data = PartitionData::default();
                data.partition_index = p.partition_index;
                let refusal = if topic.topic_name.0.as_str() != METADATA_TOPIC || p.partition_index != 0 {
                    Some((ResponseError::UnknownTopicOrPartition, format!("the metadata quorum is {METADATA_TOPIC}-0")))
                } else if quorum.leader.is_none() {
                    // Retriable: clients ask again once an election has finished.
                    Some((
                        ResponseError::NotLeaderOrFollower,
                        "no quorum leader is known; an election is under way".into(),
                    ))
                } else {
                    None
                };
                match refusal {
                    Some((error, message)) => {
                        data.error_code = util::code(error);
                        data.leader_id = BrokerId(-1);
                        data.leader_epoch = -1;
                        data.high_watermark = UNKNOWN;
                        if version >= 2 {
                            data.error_message = Some(util::str_bytes(message));
                        }
                    }
                    None => describe(&quorum, version, &mut data),
                }
                t.partitions.push(data);
            }
            response.topics.push(t);
        }
        if version >= 2 {
            response.nodes = nodes(shared);
        }
        Reply::Message(ResponseKind::DescribeQuorum(response))
    }
}

fn quorum(shared: &Shared) -> Quorum {
    let node = shared.config.node_id;
    match &shared.controller {
        Some(controller) => {
            let status = controller.status();
            let as_offset = |index: u64| i64::try_from(index).unwrap_or(i64::MAX);
            Quorum {
                leader: status.leader,
                term: i32::try_from(status.term).unwrap_or(i32::MAX),
                high_watermark: status.committed.map_or(UNKNOWN, as_offset),
                voters: status.voters,
                own: (node, as_offset(status.applied)),
            }
        }
        None => Quorum { leader: Some(node), term: 0, high_watermark: 0, voters: vec![node], own: (node, 0) },
    }
}

fn describe(quorum: &Quorum, version: i16, data: &mut PartitionData) {
    data.leader_id = BrokerId(quorum.leader.unwrap_or(-1));
    data.leader_epoch = quorum.term;
    data.high_watermark = quorum.high_watermark;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(UNKNOWN, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    data.current_voters = quorum
        .voters
        .iter()
        .map(|&id| {
            let mut r = ReplicaState::default();
            r.replica_id = BrokerId(id);
            let own = id == quorum.own.0;
            r.log_end_offset = if own { quorum.own.1 } else { UNKNOWN };
            // The timestamps exist from v1; this node is trivially caught up with itself.
            if version >= 1 {
                r.last_fetch_timestamp = if own { now } else { UNKNOWN };
                r.last_caught_up_timestamp = if own { now } else { UNKNOWN };
            }
            r
        })
        .collect();
}

/// The voters' controller endpoints, from the quorum setting every node shares (v2).
fn nodes(shared: &Shared) -> Vec<Node> {
    let Some(quorum) = &shared.config.controller_quorum else { return Vec::new() };
    // Validated at start; an unreadable setting here only leaves the endpoints out.
    let voters = parse_quorum(quorum).unwrap_or_default();
    voters
        .into_iter()
        .filter_map(|(id, addr)| {
            let (host, port) = addr.rsplit_once(':')?;
            let mut listener = Listener::default();
            listener.name = util::str_bytes(CONTROLLER_LISTENER);
            listener.host = util::str_bytes(host);
            listener.port = port.parse().ok()?;
            let mut node = Node::default();
            node.node_id = BrokerId(id);
            node.listeners = vec![listener];
            Some(node)
        })
        .collect()
}
