//! Starting and stopping a broker: binds the listener, opens the logs, runs maintenance tasks.

use std::net::SocketAddr;

use crate::{BrokerConfig, BrokerError};

/// A Kafka-protocol broker.
#[derive(Debug)]
pub struct Broker;

/// A running broker; dropping it does not stop it, call [`BrokerHandle::shutdown`].
#[derive(Debug)]
pub struct BrokerHandle {
    local_addr: SocketAddr,
}

impl Broker {
    /// Opens the data dir (recovering every log), binds the listener and starts serving.
    pub async fn start(config: BrokerConfig) -> Result<BrokerHandle, BrokerError> {
        let _ = config;
        Err(BrokerError::Io(std::io::Error::other("not built yet")))
    }
}

impl BrokerHandle {
    /// The address the listener is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets in-flight requests finish, flushes and closes every log.
    pub async fn shutdown(self) -> Result<(), BrokerError> {
        Ok(())
    }
}
