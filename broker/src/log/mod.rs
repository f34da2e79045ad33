//! The storage engine (being built).

/// Errors of the storage engine.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// I/O failure.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
