//! Cluster-unique producer ids: blocks handed out by the controller (`AllocateProducerIds`, committed in the
//! metadata log), consumed one id at a time. Two brokers never get overlapping blocks, so an idempotent producer
//! that fails over to another broker can never meet a second producer with its id.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use parking_lot::Mutex;

use super::cluster::ClusterView;

/// Ids asked from the controller at a time: one metadata commit per thousand producers.
pub(crate) const BLOCK_SIZE: i64 = 1000;

/// The current block of this broker.
#[derive(Debug)]
pub(crate) struct PidBlocks {
    cluster: Arc<dyn ClusterView>,
    /// The next id to hand out and the end of the block (exclusive).
    current: Mutex<(i64, i64)>,
    /// One request for a new block at a time; the others wait for it and then take ids from it.
    fetching: tokio::sync::Mutex<()>,
}

impl PidBlocks {
    pub(crate) fn new(cluster: Arc<dyn ClusterView>) -> Self {
        Self { cluster, current: Mutex::new((0, 0)), fetching: tokio::sync::Mutex::new(()) }
    }

    fn take(&self) -> Option<i64> {
        let mut current = self.current.lock();
        (current.0 < current.1).then(|| {
            current.0 += 1;
            current.0 - 1
        })
    }

    /// The next producer id, fetching a new block when this one is used up. Without a controller answer:
    /// COORDINATOR_LOAD_IN_PROGRESS, Kafka's (retriable) answer when no block is available.
    pub(crate) async fn next(&self) -> Result<i64, ResponseError> {
        if let Some(id) = self.take() {
            return Ok(id);
        }
        let _fetching = self.fetching.lock().await;
        // Someone else may have fetched while this call waited.
        if let Some(id) = self.take() {
            return Ok(id);
        }
        let (first, count) = self.cluster.allocate_producer_ids(BLOCK_SIZE).await?;
        if count <= 0 || first < 0 {
            tracing::error!(first, count, "the controller handed out an empty producer id block (a bug)");
            return Err(ResponseError::CoordinatorLoadInProgress);
        }
        tracing::debug!(first, count, "got a producer id block");
        *self.current.lock() = (first + 1, first + count);
        Ok(first)
    }
}

#[cfg(test)]
mod tests {
    use super::super::cluster::fake::FakeCluster;
    use super::*;

    #[tokio::test]
    async fn ids_come_from_blocks_and_never_repeat() {
        let cluster = FakeCluster::new(1);
        let a = PidBlocks::new(cluster.clone());
        let b = PidBlocks::new(cluster.clone());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..BLOCK_SIZE + 10 {
            assert!(seen.insert(a.next().await.unwrap()));
            assert!(seen.insert(b.next().await.unwrap()));
        }
        // Two blocks each, one controller allocation per block.
        assert_eq!(*cluster.next_producer_id.lock(), 5000 + 4 * BLOCK_SIZE);
    }
}
