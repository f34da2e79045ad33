//! The `sluice cluster describe` report: built from the brokers' answers, printed as tables or JSON.
//!
//! A partition is *offline* when it has no leader (nobody can serve it) and *under-replicated* when it has a
//! leader but fewer in-sync replicas than replicas. An offline partition is listed only as offline.

use std::fmt::Write;

use kafka_protocol::ResponseError;
use serde::Serialize;

use super::fetch::{Answers, METADATA_TOPIC};
use crate::cli::table::Table;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ClusterView {
    /// The bootstrap address whose broker answered.
    pub(crate) answered_by: String,
    pub(crate) cluster_id: Option<String>,
    /// The node the brokers report as the active controller (the quorum leader in cluster mode).
    pub(crate) controller_id: Option<i32>,
    pub(crate) brokers: Vec<BrokerView>,
    /// `None` when the broker does not serve DescribeQuorum.
    pub(crate) quorum: Option<QuorumView>,
    pub(crate) topics: usize,
    pub(crate) partitions: usize,
    pub(crate) under_replicated: Vec<PartitionView>,
    pub(crate) offline: Vec<PartitionView>,
    /// Topics the metadata answer reported with an error instead of partitions.
    pub(crate) topic_errors: Vec<TopicError>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct BrokerView {
    pub(crate) id: i32,
    pub(crate) host: String,
    pub(crate) port: i32,
    pub(crate) rack: Option<String>,
    /// Fenced by the controller: registered but not heartbeating, so it leads nothing.
    pub(crate) fenced: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct QuorumView {
    pub(crate) leader: Option<i32>,
    /// The Raft term (DescribeQuorum's leader epoch).
    pub(crate) term: i32,
    /// The last metadata log offset known committed.
    pub(crate) high_watermark: i64,
    pub(crate) voters: Vec<ReplicaView>,
    pub(crate) observers: Vec<ReplicaView>,
    /// Why the quorum could not be described, when it could not.
    pub(crate) error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ReplicaView {
    pub(crate) id: i32,
    /// How far this member's metadata log reaches, as the leader last saw it; `None` when unknown.
    pub(crate) log_end_offset: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PartitionView {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) leader: Option<i32>,
    pub(crate) replicas: Vec<i32>,
    pub(crate) isr: Vec<i32>,
    pub(crate) offline_replicas: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TopicError {
    pub(crate) topic: String,
    pub(crate) error: String,
}

impl ClusterView {
    pub(crate) fn from_answers(answers: &Answers) -> Self {
        let metadata = &answers.metadata;
        let described = answers.cluster.as_ref().filter(|c| c.error_code == 0);

        let mut brokers: Vec<BrokerView> = match described {
            Some(cluster) => cluster
                .brokers
                .iter()
                .map(|b| BrokerView {
                    id: b.broker_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: b.rack.as_ref().map(|r| r.to_string()),
                    fenced: b.is_fenced,
                })
                .collect(),
            None => metadata
                .brokers
                .iter()
                .map(|b| BrokerView {
                    id: b.node_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: b.rack.as_ref().map(|r| r.to_string()),
                    fenced: false,
                })
                .collect(),
        };
        brokers.sort_by_key(|b| b.id);

        let controller = described.map(|c| c.controller_id.0).unwrap_or(metadata.controller_id.0);
        let cluster_id = described
            .map(|c| c.cluster_id.to_string())
            .or_else(|| metadata.cluster_id.as_ref().map(|id| id.to_string()))
            .filter(|id| !id.is_empty());

        let mut view = ClusterView {
            answered_by: answers.source.clone(),
            cluster_id,
            controller_id: (controller >= 0).then_some(controller),
            brokers,
            quorum: answers.quorum.as_ref().map(quorum_view),
            topics: 0,
            partitions: 0,
            under_replicated: Vec::new(),
            offline: Vec::new(),
            topic_errors: Vec::new(),
        };
        for topic in &metadata.topics {
            let name = topic.name.as_ref().map(|n| n.0.to_string()).unwrap_or_else(|| topic.topic_id.to_string());
            if topic.error_code != 0 {
                view.topic_errors.push(TopicError { topic: name, error: error_name(topic.error_code) });
                continue;
            }
            view.topics += 1;
            for p in &topic.partitions {
                view.partitions += 1;
                let partition = PartitionView {
                    topic: name.clone(),
                    partition: p.partition_index,
                    leader: (p.leader_id.0 >= 0).then_some(p.leader_id.0),
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                    offline_replicas: p.offline_replicas.iter().map(|b| b.0).collect(),
                };
                if partition.leader.is_none() {
                    view.offline.push(partition);
                } else if partition.isr.len() < partition.replicas.len() {
                    view.under_replicated.push(partition);
                }
            }
        }
        for list in [&mut view.under_replicated, &mut view.offline] {
            list.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        }
        view.topic_errors.sort_by(|a, b| a.topic.cmp(&b.topic));
        view
    }

    /// The human-readable report: one section each for brokers, quorum and partitions.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Cluster {} (answered by {}), controller {}",
            self.cluster_id.as_deref().unwrap_or("-"),
            self.answered_by,
            optional(self.controller_id)
        );

        let _ = writeln!(out, "\nBrokers: {}", self.brokers.len());
        let mut table = Table::new(&["ID", "ADDRESS", "RACK", "STATUS"]);
        for b in &self.brokers {
            table.row(vec![
                b.id.to_string(),
                format!("{}:{}", b.host, b.port),
                b.rack.clone().unwrap_or_else(|| "-".into()),
                if b.fenced { "fenced" } else { "active" }.into(),
            ]);
        }
        out.push_str(&table.render());

        match &self.quorum {
            None => out.push_str("\nController quorum: not reported (the broker does not serve DescribeQuorum)\n"),
            Some(q) => {
                let _ = writeln!(
                    out,
                    "\nController quorum: leader {}, term {}, high watermark {}",
                    optional(q.leader),
                    q.term,
                    q.high_watermark
                );
                if let Some(error) = &q.error {
                    let _ = writeln!(out, "error: {error}");
                }
                let mut table = Table::new(&["NODE", "ROLE", "LOG END OFFSET"]);
                for (members, role) in [(&q.voters, "voter"), (&q.observers, "observer")] {
                    for m in members {
                        let role = if Some(m.id) == q.leader { "leader" } else { role };
                        table.row(vec![m.id.to_string(), role.into(), optional(m.log_end_offset)]);
                    }
                }
                out.push_str(&table.render());
            }
        }

        let _ = writeln!(
            out,
            "\nPartitions: {} in {} topics, {} under-replicated, {} offline",
            self.partitions,
            self.topics,
            self.under_replicated.len(),
            self.offline.len()
        );
        if !self.under_replicated.is_empty() || !self.offline.is_empty() {
            let mut table = Table::new(&["TOPIC", "PARTITION", "STATE", "LEADER", "REPLICAS", "ISR"]);
            for (list, state) in [(&self.offline, "offline"), (&self.under_replicated, "under-replicated")] {
                for p in list {
                    table.row(vec![
                        p.topic.clone(),
                        p.partition.to_string(),
                        state.into(),
                        optional(p.leader),
                        ids(&p.replicas),
                        ids(&p.isr),
                    ]);
                }
            }
            out.push_str(&table.render());
        }
        for e in &self.topic_errors {
            let _ = writeln!(out, "topic {}: {}", e.topic, e.error);
        }
        out
    }
}

fn quorum_view(response: &kafka_protocol::messages::DescribeQuorumResponse) -> QuorumView {
    let mut view = QuorumView {
        leader: None,
        term: -1,
        high_watermark: -1,
        voters: Vec::new(),
        observers: Vec::new(),
        error: None,
    };
    if response.error_code != 0 {
        view.error = Some(with_message(response.error_code, response.error_message.as_deref()));
        return view;
    }
    let partition = response
        .topics
        .iter()
        .filter(|t| t.topic_name.0.as_str() == METADATA_TOPIC)
        .chain(response.topics.iter())
        .find_map(|t| t.partitions.first());
    let Some(p) = partition else {
        view.error = Some("the answer describes no metadata partition".into());
        return view;
    };
    if p.error_code != 0 {
        view.error = Some(with_message(p.error_code, p.error_message.as_deref()));
    }
    view.leader = (p.leader_id.0 >= 0).then_some(p.leader_id.0);
    view.term = p.leader_epoch;
    view.high_watermark = p.high_watermark;
    let replicas = |states: &[kafka_protocol::messages::describe_quorum_response::ReplicaState]| {
        let mut out: Vec<ReplicaView> = states
            .iter()
            .map(|s| ReplicaView {
                id: s.replica_id.0,
                log_end_offset: (s.log_end_offset >= 0).then_some(s.log_end_offset),
            })
            .collect();
        out.sort_by_key(|r| r.id);
        out
    };
    view.voters = replicas(&p.current_voters);
    view.observers = replicas(&p.observers);
    view
}

fn error_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        Some(error) => format!("{error:?} (error code {code})"),
        None => format!("error code {code}"),
    }
}

fn with_message(code: i16, message: Option<&str>) -> String {
    match message {
        Some(m) if !m.is_empty() => format!("{}: {m}", error_name(code)),
        _ => error_name(code),
    }
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

fn ids(list: &[i32]) -> String {
    if list.is_empty() {
        return "-".into();
    }
    list.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
    use kafka_protocol::messages::describe_quorum_response::{PartitionData, ReplicaState, TopicData};
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::{
        BrokerId, DescribeClusterResponse, DescribeQuorumResponse, MetadataResponse, TopicName,
    };
    use kafka_protocol::protocol::StrBytes;

    use super::*;

    fn s(text: &str) -> StrBytes {
        StrBytes::from_string(text.to_string())
    }

    fn partition(index: i32, leader: i32, replicas: &[i32], isr: &[i32]) -> MetadataResponsePartition {
        let mut p = MetadataResponsePartition::default();
        p.partition_index = index;
        p.leader_id = BrokerId(leader);
        p.replica_nodes = replicas.iter().map(|&b| BrokerId(b)).collect();
        p.isr_nodes = isr.iter().map(|&b| BrokerId(b)).collect();
        p
    }

    fn topic(name: &str, partitions: Vec<MetadataResponsePartition>) -> MetadataResponseTopic {
        let mut t = MetadataResponseTopic::default();
        t.name = Some(TopicName(s(name)));
        t.partitions = partitions;
        t
    }

    /// Three brokers; broker 3 is fenced, so its partitions lost it from the ISR or have no leader.
    fn answers() -> Answers {
        let mut metadata = MetadataResponse::default();
        metadata.cluster_id = Some(s("c-1"));
        metadata.controller_id = BrokerId(2);
        for id in [3, 1, 2] {
            let mut b = MetadataResponseBroker::default();
            b.node_id = BrokerId(id);
            b.host = s(&format!("127.0.1.{id}"));
            b.port = 9000 + id;
            metadata.brokers.push(b);
        }
        metadata.topics = vec![
            topic("orders", vec![partition(1, 2, &[2, 3, 1], &[2, 1]), partition(0, 1, &[1, 2, 3], &[1, 2, 3])]),
            topic("audit", vec![partition(0, -1, &[3], &[3])]),
        ];
        let mut missing = MetadataResponseTopic::default();
        missing.name = Some(TopicName(s("gone")));
        missing.error_code = ResponseError::UnknownTopicOrPartition.code();
        metadata.topics.push(missing);

        let mut cluster = DescribeClusterResponse::default();
        cluster.cluster_id = s("c-1");
        cluster.controller_id = BrokerId(2);
        for id in [1, 2, 3] {
            let mut b = DescribeClusterBroker::default();
            b.broker_id = BrokerId(id);
            b.host = s(&format!("127.0.1.{id}"));
            b.port = 9000 + id;
            b.rack = (id != 3).then(|| s(&format!("r{id}")));
            b.is_fenced = id == 3;
            cluster.brokers.push(b);
        }

        let mut p = PartitionData::default();
        p.leader_id = BrokerId(2);
        p.leader_epoch = 5;
        p.high_watermark = 120;
        for (id, leo) in [(2, 120), (1, 118), (3, -1)] {
            let mut r = ReplicaState::default();
            r.replica_id = BrokerId(id);
            r.log_end_offset = leo;
            p.current_voters.push(r);
        }
        let mut t = TopicData::default();
        t.topic_name = TopicName(s(METADATA_TOPIC));
        t.partitions = vec![p];
        let mut quorum = DescribeQuorumResponse::default();
        quorum.topics = vec![t];

        Answers { source: "127.0.1.1:9001".into(), metadata, cluster: Some(cluster), quorum: Some(quorum) }
    }

    #[test]
    fn finds_under_replicated_and_offline_partitions() {
        let view = ClusterView::from_answers(&answers());
        assert_eq!((view.topics, view.partitions), (2, 3));
        let under: Vec<_> = view.under_replicated.iter().map(|p| (p.topic.as_str(), p.partition)).collect();
        assert_eq!(under, [("orders", 1)]);
        let offline: Vec<_> = view.offline.iter().map(|p| (p.topic.as_str(), p.partition, p.leader)).collect();
        assert_eq!(offline, [("audit", 0, None)], "a leaderless partition is offline, not under-replicated");
        assert_eq!(view.topic_errors.len(), 1);
        assert!(view.topic_errors[0].error.contains("UnknownTopicOrPartition"), "{:?}", view.topic_errors);
    }

    #[test]
    fn brokers_come_from_describe_cluster_with_racks_and_fencing() {
        let view = ClusterView::from_answers(&answers());
        let brokers: Vec<_> = view.brokers.iter().map(|b| (b.id, b.port, b.rack.as_deref(), b.fenced)).collect();
        assert_eq!(brokers, [(1, 9001, Some("r1"), false), (2, 9002, Some("r2"), false), (3, 9003, None, true)]);
        assert_eq!((view.cluster_id.as_deref(), view.controller_id), (Some("c-1"), Some(2)));

        let mut without = answers();
        without.cluster = None;
        let view = ClusterView::from_answers(&without);
        let ids: Vec<_> = view.brokers.iter().map(|b| (b.id, b.fenced)).collect();
        assert_eq!(ids, [(1, false), (2, false), (3, false)], "falls back to the metadata brokers");
    }

    #[test]
    fn quorum_shows_leader_term_and_voters() {
        let view = ClusterView::from_answers(&answers());
        let quorum = view.quorum.expect("quorum described");
        assert_eq!((quorum.leader, quorum.term, quorum.high_watermark, quorum.error), (Some(2), 5, 120, None));
        let voters: Vec<_> = quorum.voters.iter().map(|v| (v.id, v.log_end_offset)).collect();
        assert_eq!(voters, [(1, Some(118)), (2, Some(120)), (3, None)]);

        let mut failed = answers();
        let q = failed.quorum.as_mut().expect("quorum");
        q.topics[0].partitions[0].error_code = ResponseError::NotLeaderOrFollower.code();
        q.topics[0].partitions[0].leader_id = BrokerId(-1);
        let quorum = ClusterView::from_answers(&failed).quorum.expect("quorum");
        assert_eq!(quorum.leader, None);
        assert!(quorum.error.as_deref().is_some_and(|e| e.contains("NotLeaderOrFollower")), "{quorum:?}");
    }

    #[test]
    fn text_report_has_every_section() {
        let text = ClusterView::from_answers(&answers()).render();
        let expected = "\
Cluster c-1 (answered by 127.0.1.1:9001), controller 2

Brokers: 3
ID  ADDRESS         RACK  STATUS
1   127.0.1.1:9001  r1    active
2   127.0.1.2:9002  r2    active
3   127.0.1.3:9003  -     fenced

Controller quorum: leader 2, term 5, high watermark 120
NODE  ROLE    LOG END OFFSET
1     voter   118
2     leader  120
3     voter   -

Partitions: 3 in 2 topics, 1 under-replicated, 1 offline
TOPIC   PARTITION  STATE             LEADER  REPLICAS  ISR
audit   0          offline           -       3         3
orders  1          under-replicated  2       2,3,1     2,1
topic gone: UnknownTopicOrPartition (error code 3)
";
        assert_eq!(text, expected);
    }

    #[test]
    fn json_report_names_every_field() {
        let json = serde_json::to_value(ClusterView::from_answers(&answers())).expect("serializable");
        assert_eq!(json["quorum"]["leader"], 2);
        assert_eq!(json["quorum"]["term"], 5);
        assert_eq!(json["brokers"][2]["fenced"], true);
        assert_eq!(json["under_replicated"][0]["isr"], serde_json::json!([2, 1]));
        assert_eq!(json["offline"][0]["leader"], serde_json::Value::Null);
    }
}
