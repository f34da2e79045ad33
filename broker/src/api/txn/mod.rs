//! Producer id and transaction APIs, one file per API key; the logic is in `coordinator::txn` (transaction
//! state) and `log` (producer state, markers, aborted transactions).

mod add_offsets_to_txn;
mod add_partitions_to_txn;
mod describe_producers;
mod describe_transactions;
mod end_txn;
mod init_producer_id;
mod list_transactions;
mod write_txn_markers;

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};
use kafka_protocol::ResponseError;

use super::{Handler, Reply};
use crate::server::Shared;

/// The producer and transaction APIs served, with their versions.
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    served!(init_producer_id::InitProducerId),
    served!(add_partitions_to_txn::AddPartitionsToTxn),
    served!(add_offsets_to_txn::AddOffsetsToTxn),
    served!(end_txn::EndTxn),
    served!(write_txn_markers::WriteTxnMarkers),
    served!(describe_producers::DescribeProducers),
    served!(describe_transactions::DescribeTransactions),
    served!(list_transactions::ListTransactions),
];

/// Answers a producer or transaction request, or hands back a request that is not one.
pub(crate) async fn dispatch(
    shared: &Arc<Shared>,
    header: &RequestHeader,
    request: RequestKind,
) -> Result<Reply, RequestKind> {
    Ok(match request {
        RequestKind::InitProducerId(r) => init_producer_id::InitProducerId::handle(shared, header, r).await,
        RequestKind::AddPartitionsToTxn(r) => {
            add_partitions_to_txn::AddPartitionsToTxn::handle(shared, header, r).await
        }
        RequestKind::AddOffsetsToTxn(r) => add_offsets_to_txn::AddOffsetsToTxn::handle(shared, header, r).await,
        RequestKind::EndTxn(r) => end_txn::EndTxn::handle(shared, header, r).await,
        RequestKind::WriteTxnMarkers(r) => write_txn_markers::WriteTxnMarkers::handle(shared, header, r).await,
        RequestKind::DescribeProducers(r) => describe_producers::DescribeProducers::handle(shared, header, r).await,
        RequestKind::DescribeTransactions(r) => {
            describe_transactions::DescribeTransactions::handle(shared, header, r).await
        }
        RequestKind::ListTransactions(r) => list_transactions::ListTransactions::handle(shared, header, r).await,
        other => return Err(other),
    })
}

/// KIP-588 added PRODUCER_FENCED in InitProducerId v4, AddPartitionsToTxn v2, AddOffsetsToTxn v2 and EndTxn v2;
/// older clients know the same condition as INVALID_PRODUCER_EPOCH.
fn fenced_for(version: i16, since: i16, error: ResponseError) -> ResponseError {
    if error == ResponseError::ProducerFenced && version < since {
        ResponseError::InvalidProducerEpoch
    } else {
        error
    }
}
