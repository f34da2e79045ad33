//! The subcommands of `sluice`, one file each, plus what the Kafka client commands share.

pub(crate) mod broker;
pub(crate) mod client;
pub(crate) mod consume;
pub(crate) mod produce;
mod table;
pub(crate) mod topic;
