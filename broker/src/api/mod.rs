//! Kafka API handlers, one file per API key, behind one `Handler` trait.
//!
//! This layer does no I/O: `handle_frame` parses a request frame, dispatches it, and returns the
//! [`ResponseFrame`] to send (or why the connection must close). Kafka error codes are answers here,
//! not Rust errors: a handler logs the cause and puts the code in the response.

/// One row of the served-API table, taken from a handler's own constants.
macro_rules! served {
    ($handler:ty) => {
        (<$handler as $crate::api::Handler>::KEY, <$handler as $crate::api::Handler>::VERSIONS.0, <$handler as $crate::api::Handler>::VERSIONS.1)
    };
}

mod alter_configs;
mod api_versions;
mod cluster;
mod create_partitions;
mod create_topics;
mod delete_records;
mod delete_topics;
mod describe_cluster;
mod describe_configs;
pub(crate) mod fetch;
mod group;
mod incremental_alter_configs;
mod list_offsets;
mod metadata;
mod produce;
mod txn;
pub(crate) mod util;

use std::future::Future;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::net::ResponseFrame;
use crate::server::Shared;

/// One Kafka API: its key, the versions it implements, and how it answers.
pub(crate) trait Handler {
    /// The decoded request body.
    type Request;
    /// The API key served.
    const KEY: ApiKey;
    /// Lowest and highest version implemented (and advertised by ApiVersions).
    const VERSIONS: (i16, i16);
    /// Answers one request.
    fn handle(
        shared: &Arc<Shared>,
        header: &RequestHeader,
        request: Self::Request,
    ) -> impl Future<Output = Reply> + Send;
}

/// What a handler answers.
// Each value lives for one request and is moved once; boxing the big variant would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Reply {
    /// A response body encoded by the codec.
    Message(ResponseKind),
    /// A response body already laid out as chunks (Fetch, for zero-copy).
    Frame(ResponseFrame),
    /// No response at all (Produce with acks=0).
    Nothing,
    /// The request's effects are done (a Produce's appends) and its answer comes later (acks=all waiting for the
    /// in-sync replicas); meanwhile the connection may serve its next Produce request.
    Deferred(futures::future::BoxFuture<'static, Reply>),
}

/// What the connection does next.
pub(crate) enum Outcome {
    /// Send this frame.
    Respond(ResponseFrame),
    /// Send nothing and read the next request.
    NoResponse,
    /// Close the connection, logging the reason.
    Close(String),
    /// The answer, once ready (see [`Reply::Deferred`]).
    Deferred(futures::future::BoxFuture<'static, Outcome>),
}

/// The core APIs: topics, produce, fetch, offsets and configs.
const CORE: &[(ApiKey, i16, i16)] = &[
    served!(produce::Produce),
    served!(fetch::Fetch),
    served!(list_offsets::ListOffsets),
    served!(metadata::Metadata),
    served!(api_versions::ApiVersions),
    served!(create_topics::CreateTopics),
    served!(delete_topics::DeleteTopics),
    served!(delete_records::DeleteRecords),
    served!(describe_configs::DescribeConfigs),
    served!(alter_configs::AlterConfigs),
    served!(create_partitions::CreatePartitions),
    served!(incremental_alter_configs::IncrementalAlterConfigs),
    served!(describe_cluster::DescribeCluster),
];

/// Every API this broker serves, with the versions it implements: the core, the group coordinator's and
/// the transaction coordinator's.
pub(crate) fn supported() -> &'static [(ApiKey, i16, i16)] {
    static ALL: std::sync::LazyLock<Vec<(ApiKey, i16, i16)>> = std::sync::LazyLock::new(|| {
        CORE.iter().chain(group::SUPPORTED.iter()).chain(txn::SUPPORTED).chain(cluster::SUPPORTED).copied().collect()
    });
    &ALL
}

fn supported_versions(key: ApiKey) -> Option<(i16, i16)> {
    supported().iter().find(|(k, _, _)| *k == key).map(|&(_, min, max)| (min, max))
}

/// A request frame taken apart, or what to do instead of answering it.
// Moved once per request, like `Reply`: not worth an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Parsed {
    /// A request this broker serves.
    Request { header: RequestHeader, request: RequestKind },
    /// Answer without dispatching (ApiVersions at a version above ours).
    Answer(Outcome),
}

/// Decodes a request frame (without its size prefix). Pure and total: any bytes give an answer, never a panic.
pub(crate) fn parse_request(mut frame: Bytes) -> Parsed {
    if frame.len() < 8 {
        return Parsed::Answer(Outcome::Close(format!("a {}-byte frame is too short for a request header", frame.len())));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let Ok(key) = ApiKey::try_from(raw_key) else {
        return Parsed::Answer(Outcome::Close(format!("unknown API key {raw_key}")));
    };
    let Some((min, max)) = supported_versions(key) else {
        return Parsed::Answer(Outcome::Close(format!("API {key:?} (key {raw_key}) is not supported by this broker")));
    };
    // Produce below `min` is advertised (see api_versions.rs) but never served.
    if version < min || version > max {
        // KIP-511: a client newer than us sends ApiVersions at its own version; answer in v0 so it can
        // read our ranges and downgrade. Any other API at a version we never advertised is a client bug.
        if key == ApiKey::ApiVersions {
            return Parsed::Answer(encode(correlation_id, 0, 0, api_versions::unsupported_version()));
        }
        return Parsed::Answer(Outcome::Close(format!(
            "{key:?} v{version} is not supported (this broker serves v{min} to v{max})"
        )));
    }
    let header = match RequestHeader::decode(&mut frame, key.request_header_version(version)) {
        Ok(header) => header,
        Err(e) => {
            return Parsed::Answer(Outcome::Close(format!("cannot decode the {key:?} v{version} request header: {e}")))
        }
    };
    match RequestKind::decode(key, &mut frame, version) {
        Ok(request) => Parsed::Request { header, request },
        Err(e) => Parsed::Answer(Outcome::Close(format!("cannot decode a {key:?} v{version} request: {e}"))),
    }
}

/// Parses one request frame, answers it, and encodes the response frame.
pub(crate) async fn handle_frame(shared: &Arc<Shared>, frame: Bytes) -> Outcome {
    let (header, request) = match parse_request(frame) {
        Parsed::Request { header, request } => (header, request),
        Parsed::Answer(outcome) => return outcome,
    };
    let (key, version, correlation_id) = (header.request_api_key, header.request_api_version, header.correlation_id);
    let reply = dispatch(shared, &header, request).await;
    // parse_request only lets known keys through.
    let header_version = ApiKey::try_from(key).map(|k| k.response_header_version(version)).unwrap_or(0);
    match reply {
        Reply::Deferred(later) => Outcome::Deferred(Box::pin(async move {
            finish(later.await, correlation_id, header_version, version)
        })),
        reply => finish(reply, correlation_id, header_version, version),
    }
}

/// Encodes a handler's reply as the connection's next step.
fn finish(reply: Reply, correlation_id: i32, header_version: i16, version: i16) -> Outcome {
    match reply {
        Reply::Message(body) => encode(correlation_id, header_version, version, body),
        Reply::Frame(body) => match encode_header(correlation_id, header_version) {
            Ok(head) => {
                let mut out = ResponseFrame::from_bytes(head);
                out.append(body);
                Outcome::Respond(out)
            }
            Err(e) => Outcome::Close(format!("cannot encode a response header: {e} (a bug)")),
        },
        Reply::Nothing => Outcome::NoResponse,
        Reply::Deferred(_) => Outcome::Close("a deferred reply deferred again (a bug in this broker)".into()),
    }
}

fn encode_header(correlation_id: i32, header_version: i16) -> anyhow::Result<Bytes> {
    let mut buf = BytesMut::with_capacity(16);
    ResponseHeader::default().with_correlation_id(correlation_id).encode(&mut buf, header_version)?;
    Ok(buf.freeze())
}

fn encode(correlation_id: i32, header_version: i16, version: i16, body: ResponseKind) -> Outcome {
    let mut buf = BytesMut::with_capacity(256);
    let result = ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, header_version)
        .and_then(|()| body.encode(&mut buf, version));
    match result {
        Ok(()) => Outcome::Respond(ResponseFrame::from_bytes(buf.freeze())),
        Err(e) => Outcome::Close(format!("cannot encode a v{version} response: {e} (a bug in this broker)")),
    }
}

async fn dispatch(shared: &Arc<Shared>, header: &RequestHeader, request: RequestKind) -> Reply {
    match request {
        RequestKind::Produce(r) => produce::Produce::handle(shared, header, r).await,
        RequestKind::Fetch(r) => fetch::Fetch::handle(shared, header, r).await,
        RequestKind::ListOffsets(r) => list_offsets::ListOffsets::handle(shared, header, r).await,
        RequestKind::Metadata(r) => metadata::Metadata::handle(shared, header, r).await,
        RequestKind::ApiVersions(r) => api_versions::ApiVersions::handle(shared, header, r).await,
        RequestKind::CreateTopics(r) => create_topics::CreateTopics::handle(shared, header, r).await,
        RequestKind::DeleteTopics(r) => delete_topics::DeleteTopics::handle(shared, header, r).await,
        RequestKind::DeleteRecords(r) => delete_records::DeleteRecords::handle(shared, header, r).await,
        RequestKind::DescribeConfigs(r) => describe_configs::DescribeConfigs::handle(shared, header, r).await,
        RequestKind::AlterConfigs(r) => alter_configs::AlterConfigs::handle(shared, header, r).await,
        RequestKind::CreatePartitions(r) => create_partitions::CreatePartitions::handle(shared, header, r).await,
        RequestKind::IncrementalAlterConfigs(r) => {
            incremental_alter_configs::IncrementalAlterConfigs::handle(shared, header, r).await
        }
        RequestKind::DescribeCluster(r) => describe_cluster::DescribeCluster::handle(shared, header, r).await,
        other => match group::dispatch(shared, header, other).await {
            Ok(reply) => reply,
            Err(other) => match txn::dispatch(shared, header, other).await {
                Ok(reply) => reply,
                Err(other) => match cluster::dispatch(shared, header, other).await {
                    Ok(reply) => reply,
                    // `handle_frame` only lets through the keys in `supported()`, each handled by one area.
                    Err(other) => {
                        tracing::error!(request = ?std::mem::discriminant(&other), "request reached dispatch without a handler (a bug)");
                        Reply::Nothing
                    }
                },
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::Message;
    use kafka_protocol::ResponseError;

    /// Every advertised range must lie inside what the codec can decode and respect the Kafka 4.0 floors.
    #[test]
    fn advertised_versions_are_within_the_codec() {
        fn check<M: Message>(key: ApiKey) {
            let (min, max) = supported_versions(key).expect("key is served");
            assert!(min >= M::VERSIONS.min && max <= M::VERSIONS.max, "{key:?} v{min}-{max} vs codec {}", M::VERSIONS);
        }
        check::<ProduceRequest>(ApiKey::Produce);
        check::<FetchRequest>(ApiKey::Fetch);
        check::<ListOffsetsRequest>(ApiKey::ListOffsets);
        check::<MetadataRequest>(ApiKey::Metadata);
        check::<ApiVersionsRequest>(ApiKey::ApiVersions);
        check::<CreateTopicsRequest>(ApiKey::CreateTopics);
        check::<DeleteTopicsRequest>(ApiKey::DeleteTopics);
        check::<DeleteRecordsRequest>(ApiKey::DeleteRecords);
        check::<DescribeConfigsRequest>(ApiKey::DescribeConfigs);
        check::<AlterConfigsRequest>(ApiKey::AlterConfigs);
        check::<CreatePartitionsRequest>(ApiKey::CreatePartitions);
        check::<IncrementalAlterConfigsRequest>(ApiKey::IncrementalAlterConfigs);
        check::<DescribeClusterRequest>(ApiKey::DescribeCluster);
        check::<InitProducerIdRequest>(ApiKey::InitProducerId);
        check::<AddPartitionsToTxnRequest>(ApiKey::AddPartitionsToTxn);
        check::<AddOffsetsToTxnRequest>(ApiKey::AddOffsetsToTxn);
        check::<EndTxnRequest>(ApiKey::EndTxn);
        check::<WriteTxnMarkersRequest>(ApiKey::WriteTxnMarkers);
        check::<DescribeProducersRequest>(ApiKey::DescribeProducers);
        check::<DescribeTransactionsRequest>(ApiKey::DescribeTransactions);
        check::<ListTransactionsRequest>(ApiKey::ListTransactions);
        check::<OffsetForLeaderEpochRequest>(ApiKey::OffsetForLeaderEpoch);
        check::<ElectLeadersRequest>(ApiKey::ElectLeaders);
        check::<AlterPartitionReassignmentsRequest>(ApiKey::AlterPartitionReassignments);
        check::<ListPartitionReassignmentsRequest>(ApiKey::ListPartitionReassignments);
        check::<DescribeQuorumRequest>(ApiKey::DescribeQuorum);
        check::<DescribeTopicPartitionsRequest>(ApiKey::DescribeTopicPartitions);
        assert_eq!(cluster::SUPPORTED.len(), 6);
        assert_eq!(CORE.len(), 13);
    }

    fn frame(key: i16, version: i16, body: &[u8]) -> Bytes {
        let mut f = Vec::new();
        f.extend_from_slice(&key.to_be_bytes());
        f.extend_from_slice(&version.to_be_bytes());
        f.extend_from_slice(&7i32.to_be_bytes());
        f.extend_from_slice(body);
        Bytes::from(f)
    }

    #[test]
    fn unknown_keys_and_versions_close_the_connection() {
        assert!(matches!(parse_request(frame(999, 0, &[])), Parsed::Answer(Outcome::Close(m)) if m.contains("unknown API key")));
        // Produce v2 is below the Kafka 4.0 floor.
        assert!(matches!(parse_request(frame(0, 2, &[])), Parsed::Answer(Outcome::Close(m)) if m.contains("not supported")));
        // JoinGroup is a real key this broker does not serve yet.
        assert!(matches!(parse_request(frame(11, 5, &[])), Parsed::Answer(Outcome::Close(_))));
    }

    #[test]
    fn api_versions_above_ours_answers_v0_with_unsupported_version() {
        let Parsed::Answer(Outcome::Respond(out)) = parse_request(frame(18, 99, &[])) else {
            panic!("expected an answer");
        };
        let mut bytes = out.to_bytes().expect("in memory");
        assert_eq!(&bytes[..4], &7i32.to_be_bytes(), "correlation id echoed");
        let _ = bytes.split_to(4);
        let body = ApiVersionsResponse::decode(&mut bytes, 0).expect("v0 body");
        assert_eq!(body.error_code, ResponseError::UnsupportedVersion.code());
        assert_eq!(body.api_keys.len(), supported().len());
    }

    proptest::proptest! {
        /// The request decoder is total: arbitrary frames never panic.
        #[test]
        fn arbitrary_frames_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_request(Bytes::from(bytes));
        }

        /// Valid headers for every served API followed by garbage never panic either.
        #[test]
        fn garbage_bodies_never_panic(
            index in 0usize..64,
            version_offset in 0i16..20,
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
        ) {
            let (key, min, max) = supported()[index % supported().len()];
            let version = (min + version_offset).min(max);
            let _ = parse_request(frame(key as i16, version, &body));
        }
    }
}
