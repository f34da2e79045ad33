//! The KIP-848 consumer group protocol APIs: ConsumerGroupHeartbeat and ConsumerGroupDescribe.

mod describe;
mod heartbeat;

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};

use crate::api::{Handler, Reply};
use crate::coordinator::group::consumer::TopicMeta;
use crate::server::Shared;

/// The consumer-protocol APIs served, with their versions.
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] =
    &[served!(heartbeat::ConsumerGroupHeartbeat), served!(describe::ConsumerGroupDescribe)];

/// Answers a consumer-protocol request, or hands back a request that is not one.
pub(crate) async fn dispatch(
    shared: &Arc<Shared>,
    header: &RequestHeader,
    request: RequestKind,
) -> Result<Reply, RequestKind> {
    match request {
        RequestKind::ConsumerGroupHeartbeat(r) => Ok(heartbeat::ConsumerGroupHeartbeat::handle(shared, header, r).await),
        RequestKind::ConsumerGroupDescribe(r) => Ok(describe::ConsumerGroupDescribe::handle(shared, header, r).await),
        other => Err(other),
    }
}

/// The id and partition count of the topic named `name`, for the assignors.
fn topic_meta(shared: &Shared, name: &str) -> Option<TopicMeta> {
    shared.topics.get(name).map(|t| TopicMeta { id: t.id, partitions: t.partition_count() })
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::{ConsumerGroupDescribeRequest, ConsumerGroupHeartbeatRequest};
    use kafka_protocol::protocol::Message;

    use super::*;

    /// The advertised ranges lie inside what the codec can decode.
    #[test]
    fn advertised_versions_are_within_the_codec() {
        let range = |key| SUPPORTED.iter().find(|(k, _, _)| *k == key).map(|&(_, min, max)| (min, max));
        let (min, max) = range(ApiKey::ConsumerGroupHeartbeat).expect("heartbeat served");
        let codec = ConsumerGroupHeartbeatRequest::VERSIONS;
        assert!(min >= codec.min && max <= codec.max);
        let (min, max) = range(ApiKey::ConsumerGroupDescribe).expect("describe served");
        let codec = ConsumerGroupDescribeRequest::VERSIONS;
        assert!(min >= codec.min && max <= codec.max);
    }
}
