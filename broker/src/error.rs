//! The broker's Rust error type: what the program itself cannot do (I/O, corrupt data, bad config).
//!
//! Kafka error codes sent to clients are not errors here; handlers answer them directly.

use std::path::PathBuf;

/// Why the broker could not start, stop or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A setting is wrong; the message names it.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source} (is another broker using that port? pick another with --listen)")]
    Bind { addr: String, source: std::io::Error },
    /// The data directory could not be created or read.
    #[error("data dir {path}: {source} (check that the path exists and is writable)")]
    DataDir { path: PathBuf, source: std::io::Error },
    /// A topic's metadata file is unreadable.
    #[error("topic metadata {path}: {message}")]
    TopicMetadata { path: PathBuf, message: String },
    /// A partition log could not be opened or recovered.
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
    /// Any other I/O failure.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
