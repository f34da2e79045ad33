//! ApiVersions (key 18): which APIs and versions this broker implements, exactly as implemented.

use std::sync::Arc;

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use super::{supported, util, Handler, Reply};
use crate::server::Shared;

pub(crate) struct ApiVersions;

fn api_keys() -> Vec<ApiVersion> {
    supported()
        .iter()
        .map(|&(key, min, max)| {
            let mut v = ApiVersion::default();
            v.api_key = key as i16;
            // Kafka 4.0 serves Produce from v3 but still advertises v0 (KAFKA-18659): librdkafka before 2.11
            // decides whether gzip, snappy and lz4 are usable from the presence of Produce v0, and would
            // otherwise send those codecs uncompressed. Requests below v3 are still refused.
            v.min_version = if key == ApiKey::Produce { 0 } else { min };
            v.max_version = max;
            v
        })
        .collect()
}

/// The v0 answer to an ApiVersions request at a version above ours (KIP-511).
pub(crate) fn unsupported_version() -> ResponseKind {
    let mut response = ApiVersionsResponse::default();
    response.error_code = util::code(ResponseError::UnsupportedVersion);
    response.api_keys = api_keys();
    ResponseKind::ApiVersions(response)
}

impl Handler for ApiVersions {
    type Request = ApiVersionsRequest;
    const KEY: ApiKey = ApiKey::ApiVersions;
    const VERSIONS: (i16, i16) = (0, 4);

    async fn handle(_shared: &Arc<Shared>, _header: &RequestHeader, _request: ApiVersionsRequest) -> Reply {
        let mut response = ApiVersionsResponse::default();
        response.api_keys = api_keys();
        Reply::Message(ResponseKind::ApiVersions(response))
    }
}
