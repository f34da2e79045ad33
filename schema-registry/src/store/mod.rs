//! The `_schemas` topic as the registry's log: every instance reads it from the start into a [`State`]; the one
//! elected leader writes to it.
//!
//! - [`records`]: the Confluent key/value layout of the topic's records.
//! - [`kafka`]: [`KafkaLog`], the real store over rdkafka: topic creation, the reader task, the idempotent writer.
//! - [`election`]: picks the single writer among instances sharing a group, and tells followers its URL.
//! - `memory` (tests only): the same contract over a vector, for unit tests of the registry's rules.

pub mod election;
pub mod kafka;
#[cfg(test)]
pub(crate) mod memory;
pub mod records;

use std::sync::Arc;

use futures::future::BoxFuture;
use parking_lot::RwLock;

use crate::error::StoreError;
use crate::state::State;
pub use records::{Record, RecordKey, RecordValue};

/// Who may write right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leadership {
    /// This instance is the elected writer and has read the topic to its end since it was elected.
    Leader,
    /// Another instance writes; `leader_url` is where to forward writes, if known yet.
    Follower { leader_url: Option<String> },
}

/// The registry's view of its log. [`crate::registry::Registry`] reads [`SchemaLog::state`] and appends through
/// [`SchemaLog::append`]; it never sees Kafka.
pub trait SchemaLog: Send + Sync + std::fmt::Debug + 'static {
    /// The state built from every record read so far.
    fn state(&self) -> &Arc<RwLock<State>>;

    /// Writes `records` in order and returns once all of them are applied to [`SchemaLog::state`], so the caller
    /// reads its own write. Fails with [`StoreError::NotLeader`] on a follower.
    fn append(&self, records: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Waits until the state holds everything written to the topic before this call (read-your-writes after a
    /// forwarded write, and a fresh leader's catch-up).
    fn sync(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Whether this instance writes or forwards.
    fn leadership(&self) -> Leadership;
}
