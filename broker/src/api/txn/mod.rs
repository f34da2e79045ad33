//! Producer id and transaction APIs: InitProducerId, AddPartitionsToTxn, EndTxn and the rest.

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};

use super::Reply;
use crate::server::Shared;

/// The producer and transaction APIs served, with their versions.
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[];

/// Answers a producer or transaction request, or hands back a request that is not one.
pub(crate) async fn dispatch(
    shared: &Arc<Shared>,
    header: &RequestHeader,
    request: RequestKind,
) -> Result<Reply, RequestKind> {
    let _ = (shared, header);
    Err(request)
}
