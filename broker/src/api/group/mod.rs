//! Group coordinator APIs: FindCoordinator, the classic group protocol, committed offsets; the KIP-848
//! consumer protocol lives in [`consumer`].

mod consumer;

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};

use super::Reply;
use crate::server::Shared;

/// The classic group and offset APIs served, with their versions.
const CLASSIC: &[(ApiKey, i16, i16)] = &[];

/// Every group API served: the classic ones and the KIP-848 consumer protocol's.
pub(crate) static SUPPORTED: std::sync::LazyLock<Vec<(ApiKey, i16, i16)>> =
    std::sync::LazyLock::new(|| CLASSIC.iter().chain(consumer::SUPPORTED).copied().collect());

/// Answers a group request, or hands back a request that is not one.
pub(crate) async fn dispatch(
    shared: &Arc<Shared>,
    header: &RequestHeader,
    request: RequestKind,
) -> Result<Reply, RequestKind> {
    match request {
        other => consumer::dispatch(shared, header, other).await,
    }
}
