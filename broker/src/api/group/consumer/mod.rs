//! The KIP-848 consumer group protocol APIs: ConsumerGroupHeartbeat and ConsumerGroupDescribe.

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};

use crate::api::Reply;
use crate::server::Shared;

/// The consumer-protocol APIs served, with their versions.
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[];

/// Answers a consumer-protocol request, or hands back a request that is not one.
pub(crate) async fn dispatch(
    shared: &Arc<Shared>,
    header: &RequestHeader,
    request: RequestKind,
) -> Result<Reply, RequestKind> {
    let _ = (shared, header);
    Err(request)
}
