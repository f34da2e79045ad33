//! Where replication gets its metadata from and sends its ISR changes to: the controller in production, a plain
//! watch channel in unit tests (so the leader and follower logic can be tested without a Raft quorum).

use std::fmt::Debug;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::watch;

use crate::controller::{CommandResult, Controller, ControllerError, MetadataCommand, MetadataImage};

/// The two things replication needs from the metadata quorum.
pub(crate) trait MetadataSource: Send + Sync + Debug {
    /// Every applied image, latest first.
    fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>>;
    /// Proposes a command (AlterPartition) and returns its result once applied on this node.
    fn propose(&self, command: MetadataCommand) -> BoxFuture<'_, Result<CommandResult, ControllerError>>;
}

impl MetadataSource for Controller {
    fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        Controller::subscribe(self)
    }

    fn propose(&self, command: MetadataCommand) -> BoxFuture<'_, Result<CommandResult, ControllerError>> {
        Box::pin(Controller::propose(self, command))
    }
}
