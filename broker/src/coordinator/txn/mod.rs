//! The transaction coordinator and producer ids (being built).

use std::sync::Arc;

use tokio::sync::watch;

use crate::topics::TopicRegistry;
use crate::{BrokerConfig, BrokerError};

/// Producer ids and transactions.
#[derive(Debug)]
pub struct TxnCoordinator;

impl TxnCoordinator {
    /// Loads transaction state from `__transaction_state`, creating the topic on first start. Background
    /// tasks (timeouts) stop when `shutdown` turns true.
    pub async fn open(
        topics: &Arc<TopicRegistry>,
        config: &BrokerConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, BrokerError> {
        let _ = (topics, config, shutdown);
        Ok(Self)
    }
}
