//! Coordinators: consumer groups (with offsets in `__consumer_offsets`) and transactions (state in
//! `__transaction_state`), both persisted in compacted internal topics as Kafka does.
//!
//! # Layout
//! - [`group`], [`txn`]: the two coordinators.
//! - `cluster`: what they need of the cluster (leaderships, leaders' addresses, producer id blocks), as a trait.
//! - `ownership`: cluster mode: which partitions of an internal topic this broker serves, following the
//!   replica manager's leaderships (load on gain, drop on loss), and waiting for the followers after a write.
//! - `internal_topics`: the internal topics' settings, their creation through the controller, FindCoordinator.
//! - `pid_blocks`: cluster-unique producer ids in blocks from the controller.

pub(crate) mod cluster;
pub mod group;
pub(crate) mod internal_topics;
pub(crate) mod ownership;
pub(crate) mod pid_blocks;
pub mod txn;
