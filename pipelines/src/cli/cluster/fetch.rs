//! Asks a broker what the cluster looks like, over the Kafka protocol: ApiVersions first, so each later request
//! goes at a version both sides speak and an API the broker lacks is skipped rather than sent (a broker closes
//! the connection on an API it does not serve).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::{
    ApiVersionsRequest, DescribeClusterRequest, DescribeClusterResponse, DescribeQuorumRequest, DescribeQuorumResponse,
    MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::{Request, StrBytes};
use kafka_protocol::ResponseError;
use sluice_broker::net::client::KafkaClient;

/// The Raft log KRaft-style quorums describe: DescribeQuorum asks about this topic-partition.
pub(crate) const METADATA_TOPIC: &str = "__cluster_metadata";

/// Highest versions this command knows how to read.
const METADATA_MAX: i16 = 12;
const DESCRIBE_CLUSTER_MAX: i16 = 2;
const DESCRIBE_QUORUM_MAX: i16 = 2;
/// ApiVersions v2 is the newest without flexible encoding, understood by every broker since Kafka 0.11.
const API_VERSIONS: i16 = 2;
/// DescribeCluster's endpoint type for broker listeners.
const ENDPOINT_BROKERS: i8 = 1;

const CLIENT_ID: &str = "sluice-cluster-describe";

/// What the broker answered. Metadata is required; the other two are absent when the broker does not serve them.
#[derive(Debug, Clone)]
pub(crate) struct Answers {
    /// The bootstrap address that answered.
    pub(crate) source: String,
    pub(crate) metadata: MetadataResponse,
    pub(crate) cluster: Option<DescribeClusterResponse>,
    pub(crate) quorum: Option<DescribeQuorumResponse>,
}

/// Asks the first of the comma-separated `bootstrap` addresses that answers.
pub(crate) async fn gather(bootstrap: &str, timeout: Duration) -> anyhow::Result<Answers> {
    let addrs: Vec<&str> = bootstrap.split(',').map(str::trim).filter(|a| !a.is_empty()).collect();
    anyhow::ensure!(!addrs.is_empty(), "--bootstrap-servers lists no address");
    let mut failures = Vec::new();
    for addr in addrs {
        match gather_from(addr, timeout).await {
            Ok(answers) => return Ok(answers),
            Err(e) => failures.push(format!("{addr}: {e:#}")),
        }
    }
    anyhow::bail!(
        "no broker answered ({}); is a broker running there? Set it with -b/--bootstrap-servers or SLUICE_BOOTSTRAP",
        failures.join("; ")
    )
}

async fn gather_from(addr: &str, timeout: Duration) -> anyhow::Result<Answers> {
    let mut client = KafkaClient::connect(addr, None, CLIENT_ID, timeout).await?;
    let versions = api_versions(&mut client).await?;

    let metadata_version = pick::<MetadataRequest>(&versions, METADATA_MAX)
        .context("the broker does not serve Metadata at a version this command reads")?;
    let mut request = MetadataRequest::default();
    // v0 asks for every topic with an empty list, later versions with null; auto-creation stays off.
    request.topics = if metadata_version == 0 { Some(Vec::new()) } else { None };
    request.allow_auto_topic_creation = false;
    let metadata = client.send(metadata_version, &request, Duration::ZERO).await.context("Metadata")?;

    let cluster = match pick::<DescribeClusterRequest>(&versions, DESCRIBE_CLUSTER_MAX) {
        Some(version) => {
            let mut request = DescribeClusterRequest::default();
            request.endpoint_type = ENDPOINT_BROKERS;
            request.include_fenced_brokers = true;
            Some(client.send(version, &request, Duration::ZERO).await.context("DescribeCluster")?)
        }
        None => None,
    };

    let quorum = match pick::<DescribeQuorumRequest>(&versions, DESCRIBE_QUORUM_MAX) {
        Some(version) => {
            let answer = client.send(version, &quorum_request(), Duration::ZERO).await.context("DescribeQuorum")?;
            Some(ask_quorum_leader_if_redirected(answer, &metadata, version, timeout).await)
        }
        None => None,
    };
    Ok(Answers { source: addr.to_string(), metadata, cluster, quorum })
}

/// The versions the broker serves, per API key.
async fn api_versions(client: &mut KafkaClient) -> anyhow::Result<BTreeMap<i16, (i16, i16)>> {
    let response =
        client.send(API_VERSIONS, &ApiVersionsRequest::default(), Duration::ZERO).await.context("ApiVersions")?;
    if let Some(error) = ResponseError::try_from_code(response.error_code) {
        anyhow::bail!("ApiVersions answered {error:?}");
    }
    Ok(response.api_keys.iter().map(|k| (k.api_key, (k.min_version, k.max_version))).collect())
}

/// The newest version of `R` both the broker and this command speak.
fn pick<R: Request>(versions: &BTreeMap<i16, (i16, i16)>, ours: i16) -> Option<i16> {
    let &(min, max) = versions.get(&R::KEY)?;
    let version = max.min(ours);
    (version >= min).then_some(version)
}

fn quorum_request() -> DescribeQuorumRequest {
    let mut partition = PartitionData::default();
    partition.partition_index = 0;
    let mut topic = TopicData::default();
    topic.topic_name = TopicName(StrBytes::from_static_str(METADATA_TOPIC));
    topic.partitions = vec![partition];
    let mut request = DescribeQuorumRequest::default();
    request.topics = vec![topic];
    request
}

/// Kafka answers DescribeQuorum only on the quorum leader and says NOT_LEADER_OR_FOLLOWER elsewhere, naming the
/// leader when it knows it; then ask the leader's broker. Whatever goes wrong there, the first answer stands.
async fn ask_quorum_leader_if_redirected(
    answer: DescribeQuorumResponse,
    metadata: &MetadataResponse,
    version: i16,
    timeout: Duration,
) -> DescribeQuorumResponse {
    let Some(partition) = answer.topics.first().and_then(|t| t.partitions.first()) else {
        return answer;
    };
    if ResponseError::try_from_code(partition.error_code) != Some(ResponseError::NotLeaderOrFollower) {
        return answer;
    }
    let leader = partition.leader_id.0;
    let Some(broker) = metadata.brokers.iter().find(|b| b.node_id.0 == leader) else {
        return answer;
    };
    let addr = format!("{}:{}", broker.host.as_str(), broker.port);
    let retry = async {
        let mut client = KafkaClient::connect(&addr, None, CLIENT_ID, timeout).await?;
        client.send(version, &quorum_request(), Duration::ZERO).await
    };
    match retry.await {
        Ok(from_leader) => from_leader,
        Err(e) => {
            tracing::warn!(leader, %addr, error = %e, "the quorum leader's broker did not answer DescribeQuorum");
            answer
        }
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::ApiKey;

    use super::*;

    #[test]
    fn picks_the_newest_common_version_or_none() {
        let key = ApiKey::Metadata as i16;
        let versions = BTreeMap::from([(key, (0, 13))]);
        assert_eq!(pick::<MetadataRequest>(&versions, 12), Some(12));
        let versions = BTreeMap::from([(key, (0, 9))]);
        assert_eq!(pick::<MetadataRequest>(&versions, 12), Some(9));
        let versions = BTreeMap::from([(key, (13, 13))]);
        assert_eq!(pick::<MetadataRequest>(&versions, 12), None, "the broker serves only newer versions");
        assert_eq!(pick::<DescribeQuorumRequest>(&versions, 2), None, "not served at all");
    }
}
