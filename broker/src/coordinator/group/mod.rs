//! The group coordinator: classic consumer groups, committed offsets in `__consumer_offsets`; the KIP-848
//! consumer protocol's groups live in [`consumer`].

pub mod consumer;

use std::sync::Arc;

use kafka_protocol::ResponseError;
use tokio::sync::watch;

use crate::topics::TopicRegistry;
use crate::{BrokerConfig, BrokerError};

/// One offset committed inside a transaction, visible only once the transaction commits.
#[derive(Debug, Clone)]
pub struct TxnOffset {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The committed offset.
    pub offset: i64,
    /// The leader epoch the consumer saw, or -1.
    pub leader_epoch: i32,
    /// Client metadata stored with the offset.
    pub metadata: Option<String>,
}

/// Consumer groups and their committed offsets.
#[derive(Debug)]
pub struct GroupCoordinator {
    /// Groups of the KIP-848 consumer protocol.
    pub consumer: consumer::ConsumerGroups,
}

impl GroupCoordinator {
    /// Loads groups and offsets from `__consumer_offsets`, creating the topic on first start. Background
    /// tasks (session expiry) stop when `shutdown` turns true.
    pub async fn open(
        topics: &Arc<TopicRegistry>,
        config: &BrokerConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, BrokerError> {
        let _ = (topics, config, shutdown);
        Ok(Self { consumer: consumer::ConsumerGroups::default() })
    }

    /// TxnOffsetCommit: records offsets of a transaction; they stay invisible to OffsetFetch until
    /// [`GroupCoordinator::complete_transaction`] commits them.
    pub async fn stage_txn_offsets(
        &self,
        group_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        offsets: Vec<TxnOffset>,
    ) -> Result<(), ResponseError> {
        let _ = (group_id, producer_id, producer_epoch, offsets);
        Err(ResponseError::UnsupportedVersion)
    }

    /// EndTxn: makes a transaction's staged offsets visible (commit) or drops them (abort).
    pub async fn complete_transaction(&self, group_id: &str, producer_id: i64, commit: bool) -> Result<(), ResponseError> {
        let _ = (group_id, producer_id, commit);
        Ok(())
    }
}
