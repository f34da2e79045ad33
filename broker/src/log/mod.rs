//! The storage engine: each partition is a directory of segments (record batches as produced, a sparse offset
//! index and a time index per segment) plus a log start offset checkpoint. FORMAT.md documents every byte.
//!
//! # Layout
//! - [`batch`]: the v2 batch header: parse, validate (CRC-32C), in-place offset assignment. Pure, fuzzed.
//! - `index`: sparse offset and time indexes of one segment.
//! - `segment`: one segment file; recovery of a torn tail.
//! - [`PartitionLog`] (`partition`): open, append, read, offsets, flush.
//! - `lookup`: ListOffsets by timestamp and max timestamp.
//! - `retention`: DeleteRecords and retention by time and size.
//! - `cleaner`: compaction.
//! - `checkpoint`: the log start offset file.
//! - `hw_checkpoint`: the high watermark checkpoint of a replicated partition.
//! - `producer_state`: idempotent producers' sequences and epochs, open transactions (pure), and its snapshot.
//! - `txn_index`: the aborted transaction index of a segment (`.txnindex`).
//! - `txn`: transaction markers, last stable offset, aborted transactions for read_committed, producer state
//!   recovery and expiry.
//! - `epoch`: the leader epoch cache (`leader-epoch-checkpoint`): where each leader epoch starts.
//! - `replica`: replication support: high watermark, follower appends, truncation of a divergent tail,
//!   OffsetForLeaderEpoch answers.

pub mod batch;
mod checkpoint;
#[cfg(test)]
mod clean_shutdown_tests;
mod cleaner;
mod epoch;
mod error;
mod hw_checkpoint;
mod index;
mod lookup;
mod partition;
mod producer_state;
mod records;
mod replica;
#[cfg(test)]
mod replica_tests;
mod retention;
mod segment;
#[cfg(test)]
mod tests;
mod txn;
mod txn_index;
#[cfg(test)]
mod txn_tests;

pub use cleaner::CompactStats;
pub use error::{AppendError, LogError, ReadError};
pub use partition::{AppendInfo, FileSlice, PartitionLog, ReadResult};
pub use producer_state::CompletedTxn;
pub use txn::ProducerInfo;
pub use txn_index::AbortedTxn;
