//! Errors: [`ConnectError`] is what connectors, converters, transforms and the runtime cannot do;
//! [`ApiError`] is an answer to a REST client in Kafka Connect's shape (`{"error_code": 404, "message": ...}`).

/// A failure in connect's own work. Connector and task errors become a FAILED status with this text as trace.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    /// A setting is missing or wrong; says which and why.
    #[error("invalid config `{key}`: {message}")]
    Config { key: String, message: String },
    /// A record could not be converted (bad bytes, schema mismatch); DLQ-able.
    #[error("conversion failed: {0}")]
    Conversion(String),
    /// A transform or predicate failed on a record; DLQ-able.
    #[error("transform {name} failed: {message}")]
    Transform { name: String, message: String },
    /// The external system failed; `retriable` ones are retried with backoff.
    #[error("{message}")]
    Connector { message: String, retriable: bool },
    #[error("Kafka client error while {doing}: {message}")]
    Kafka { doing: String, message: String },
    #[error("I/O error: {0}")]
    Io(String),
    /// The task or worker is stopping.
    #[error("stopped")]
    Stopped,
}

impl ConnectError {
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConnectError::Config { key: key.into(), message: message.into() }
    }
    pub fn connector(message: impl Into<String>) -> Self {
        ConnectError::Connector { message: message.into(), retriable: false }
    }
    pub fn retriable(message: impl Into<String>) -> Self {
        ConnectError::Connector { message: message.into(), retriable: true }
    }
    pub fn is_retriable(&self) -> bool {
        matches!(self, ConnectError::Connector { retriable: true, .. } | ConnectError::Kafka { .. })
    }
}

impl From<std::io::Error> for ConnectError {
    fn from(e: std::io::Error) -> Self {
        ConnectError::Io(e.to_string())
    }
}

/// An HTTP error answer in Kafka Connect's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_code}: {message}")]
pub struct ApiError {
    /// The HTTP status, repeated as Connect's `error_code`.
    pub error_code: u16,
    pub message: String,
}

impl ApiError {
    pub fn new(error_code: u16, message: impl Into<String>) -> Self {
        Self { error_code, message: message.into() }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }
}
