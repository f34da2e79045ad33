//! ElectLeaders (key 43): moves partition leadership back to the preferred replica (the first of the
//! assignment), or elects a leader for leaderless partitions. Unclean elections (an out-of-sync replica taking
//! over, losing records) are off in Sluice: an unclean request only elects live in-sync replicas, and a partition
//! without one is answered ELIGIBLE_LEADERS_NOT_AVAILABLE by the controller, saying so. A single broker already
//! leads everything: ELECTION_NOT_NEEDED.

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ApiKey, ElectLeadersRequest, ElectLeadersResponse, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use super::admin::{self, Refusal};
use super::view::ClusterView;
use crate::api::{util, Handler, Reply};
use crate::controller::MetadataCommand;
use crate::server::Shared;

pub(crate) struct ElectLeaders;

const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

/// One partition's outcome: (topic, partition, the refusal or None when elected).
type Outcome = (String, i32, Option<Refusal>);

impl Handler for ElectLeaders {
    type Request = ElectLeadersRequest;
    const KEY: ApiKey = ApiKey::ElectLeaders;
    const VERSIONS: (i16, i16) = (0, 2);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: ElectLeadersRequest) -> Reply {
        let version = header.request_api_version;
        // v0 knows only preferred elections.
        let election_type = if version == 0 { PREFERRED } else { request.election_type };
        let view = ClusterView::of(shared);
        let all = request.topic_partitions.is_none();
        let wanted: Vec<(String, i32)> = match request.topic_partitions {
            None => view
                .topics()
                .into_iter()
                .flat_map(|t| {
                    let name = t.name;
                    t.partitions.into_iter().map(move |p| (name.clone(), p.index))
                })
                .collect(),
            Some(topics) => topics
                .into_iter()
                .flat_map(|t| t.partitions.into_iter().map(move |p| (t.topic.0.to_string(), p)))
                .collect(),
        };
        let mut response = ElectLeadersResponse::default();
        let outcomes = if election_type != PREFERRED && election_type != UNCLEAN {
            if version >= 1 {
                response.error_code = util::code(ResponseError::InvalidRequest);
            }
            let message = format!("election type {election_type} is not 0 (preferred) or 1 (unclean)");
            wanted.into_iter().map(|(t, p)| (t, p, Some((ResponseError::InvalidRequest, message.clone())))).collect()
        } else {
            elect(shared, &view, wanted, election_type == PREFERRED).await
        };
        // Where each topic's answers go in the response.
        let mut slots = HashMap::new();
        for (topic, partition, refusal) in outcomes {
            // Asked for every partition, Kafka lists only those where something happened or failed.
            if all && matches!(refusal, Some((ResponseError::ElectionNotNeeded, _))) {
                continue;
            }
            let mut result = PartitionResult::default();
            result.partition_id = partition;
            if let Some((error, message)) = refusal {
                result.error_code = util::code(error);
                result.error_message = Some(util::str_bytes(message));
            }
            let results = &mut response.replica_election_results;
            let slot = *slots.entry(topic).or_insert_with_key(|topic| {
                let mut r = ReplicaElectionResult::default();
                r.topic = util::topic_name(topic);
                results.push(r);
                results.len() - 1
            });
            results[slot].partition_result.push(result);
        }
        Reply::Message(ResponseKind::ElectLeaders(response))
    }
}

/// Decides what needs an election, proposes it, and gives each wanted partition its outcome in request order.
async fn elect(shared: &Shared, view: &ClusterView, wanted: Vec<(String, i32)>, preferred: bool) -> Vec<Outcome> {
    // None: waiting for the controller's answer.
    let mut outcomes: Vec<(String, i32, Option<Option<Refusal>>)> = Vec::with_capacity(wanted.len());
    let mut candidates = Vec::new();
    let mut topics = HashMap::new();
    for (topic, partition) in wanted {
        let state = topics
            .entry(topic.clone())
            .or_insert_with(|| view.topic(&topic))
            .as_ref()
            .and_then(|t| t.partition(partition));
        let not_needed = |m: String| Some(Some((ResponseError::ElectionNotNeeded, m)));
        let outcome = match state {
            None => Some(Some((ResponseError::UnknownTopicOrPartition, format!("{topic}-{partition} does not exist")))),
            Some(p) if preferred && p.replicas.first() == Some(&p.leader) => {
                not_needed(format!("the preferred replica (broker {}) already leads", p.leader))
            }
            Some(p) if !preferred && p.has_leader() => not_needed(format!("broker {} leads the partition", p.leader)),
            Some(_) if shared.controller.is_none() => not_needed("a single broker leads every partition".into()),
            Some(_) => {
                candidates.push((topic.clone(), partition));
                None
            }
        };
        outcomes.push((topic, partition, outcome));
    }
    let answers = match &shared.controller {
        Some(controller) if !candidates.is_empty() => {
            admin::propose_partitions(controller, MetadataCommand::ElectLeaders { partitions: candidates, preferred })
                .await
        }
        _ => Ok(HashMap::new()),
    };
    outcomes
        .into_iter()
        .map(|(topic, partition, outcome)| {
            let outcome = outcome.unwrap_or_else(|| admin::partition_outcome(&answers, &topic, partition));
            (topic, partition, outcome)
        })
        .collect()
}
