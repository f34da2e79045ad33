//! The subcommands of `sluice`, one file each, plus what the Kafka client commands share.

pub(crate) mod bench;
pub(crate) mod broker;
pub(crate) mod client;
pub(crate) mod cluster;
pub(crate) mod connect;
pub(crate) mod consume;
pub(crate) mod group;
pub(crate) mod produce;
mod progress_line;
pub(crate) mod schema_registry;
mod table;
pub(crate) mod topic;

use std::io::Write;

use anyhow::Context;

/// Writes command output to stdout. A reader that went away (`| head`) is a normal way for output to end,
/// not an error, and `println!` would panic on it.
pub(crate) fn emit(text: impl std::fmt::Display) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match write!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("cannot write to stdout"),
        _ => Ok(()),
    }
}
