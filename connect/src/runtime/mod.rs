//! The runtime: what runs connectors and tasks and keeps their state.
//!
//! - [`herder`]: the [`herder::Herder`] trait the REST API drives (create, configure, pause, restart, offsets,
//!   status), and its answer types in Kafka Connect's JSON shapes.
//! - `herder_common`: the answers both herders give alike (offsets, validation, log levels).
//! - [`task`]: task runners: a source task's poll → transform → convert → produce loop (with offset commits,
//!   exactly-once through transactions where allowed), a sink task's consume → convert → transform → put →
//!   flush → commit loop; both with error tolerance, retries and the dead-letter queue.
//! - [`topic_creation`]: source connectors' `topic.creation.*` (KIP-158): topics created before their first record.
//! - [`progress`]: the latest progress report of each task's bounded work (snapshots), for metrics and the CLI.
//! - [`standalone`]: a single worker; configs from files and the REST API, offsets in a local file.
//! - [`distributed`]: workers sharing a group; configs, offsets and status in compacted topics.

pub mod distributed;
pub mod errors;
pub mod herder;
mod herder_common;
pub mod offsets;
pub mod progress;
pub mod sink;
pub mod source;
pub mod standalone;
pub mod task;
pub mod topic_creation;
pub mod worker_config;
