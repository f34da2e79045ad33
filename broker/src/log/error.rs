//! The storage engine's errors, split by operation: appending, reading, and everything else (open, maintenance).

/// Why a produce was refused. Nothing of the request was written when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// A batch is malformed or fails its CRC: the client or the network damaged it; the producer should retry.
    #[error("corrupt record batch: {0}")]
    Corrupt(String),
    /// A batch is larger than the topic's `max.message.bytes`.
    #[error("record batch too large: {0}; raise max.message.bytes or send smaller batches")]
    TooLarge(String),
    /// A batch is well formed but not acceptable here (e.g. a record without key on a compacted topic).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// Only record batch format v2 (magic 2, Kafka 0.11+) is stored; upgrade the client.
    #[error("record batch magic {0} is not supported; only magic 2 (Kafka 0.11+ clients) is")]
    UnsupportedMagic(i8),
    /// An idempotent producer skipped sequence numbers (records were lost in between); the producer fails or
    /// resets its sequence.
    #[error("out of order sequence number: {0}")]
    OutOfOrderSequence(String),
    /// The producer's epoch is older than the partition's: a newer producer with the same id fenced it.
    #[error("invalid producer epoch: {0}")]
    InvalidProducerEpoch(String),
    /// A write that does not fit the producer's transaction state.
    #[error("invalid transaction state: {0}")]
    InvalidTxnState(String),
    /// The log file could not be written; the partition's disk needs attention.
    #[error("cannot write the partition log: {0}")]
    Io(#[from] std::io::Error),
}

impl AppendError {
    /// The Kafka error code to answer the producer with.
    pub fn kafka_code(&self) -> i16 {
        match self {
            AppendError::Corrupt(_) => 2,
            AppendError::TooLarge(_) => 10,
            AppendError::InvalidRecord(_) => 87,
            AppendError::UnsupportedMagic(_) => 43,
            AppendError::OutOfOrderSequence(_) => 45,
            AppendError::InvalidProducerEpoch(_) => 47,
            AppendError::InvalidTxnState(_) => 48,
            AppendError::Io(_) => 56,
        }
    }
}

/// Why a fetch could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The offset is below the log start or beyond the log end; the consumer should reset its position.
    #[error("offset {requested} is out of range: the log holds {log_start}..{log_end}")]
    OffsetOutOfRange {
        /// The offset asked for.
        requested: i64,
        /// The first offset still held.
        log_start: i64,
        /// The next offset to be assigned.
        log_end: i64,
    },
    /// The log file could not be read.
    #[error("cannot read the partition log: {0}")]
    Io(#[from] std::io::Error),
}

impl ReadError {
    /// The Kafka error code: OFFSET_OUT_OF_RANGE=1, KAFKA_STORAGE_ERROR=56.
    pub fn kafka_code(&self) -> i16 {
        match self {
            ReadError::OffsetOutOfRange { .. } => 1,
            ReadError::Io(_) => 56,
        }
    }
}

/// Failures to open, recover or maintain a partition log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// An I/O operation on the partition directory failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A file of the partition directory could not be used; the message names it and what to do.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Stored records could not be decoded (only the non-hot paths decode: timestamps lookups, compaction).
    #[error("cannot decode stored records of {path} at position {position}: {message}")]
    Decode {
        /// The segment file.
        path: std::path::PathBuf,
        /// Where the batch starts.
        position: u64,
        /// The decoder's complaint.
        message: String,
    },
}

impl From<ReadError> for LogError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Io(e) => LogError::Io(e),
            other => LogError::Io(std::io::Error::other(other.to_string())),
        }
    }
}
