//! Errors: [`ApiError`] is an answer to an HTTP client (status, Confluent error code, message); [`RegistryError`]
//! is what the registry itself cannot do (bad config, unreachable cluster, a corrupt `_schemas` topic).

use std::net::SocketAddr;

/// An HTTP error answer in Confluent's shape: `{"error_code": 40401, "message": "..."}` with an HTTP status.
/// Handlers return these; they are never logged as failures of the registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {error_code}: {message}")]
pub struct ApiError {
    /// HTTP status, e.g. 404.
    pub status: u16,
    /// Confluent's error code, e.g. 40401. Codes of three digits repeat the HTTP status.
    pub error_code: i32,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, error_code: i32, message: impl Into<String>) -> Self {
        Self { status, error_code, message: message.into() }
    }
    /// 404 / 40401.
    pub fn subject_not_found(subject: &str) -> Self {
        Self::new(404, 40401, format!("Subject '{subject}' not found."))
    }
    /// 404 / 40402.
    pub fn version_not_found(version: impl std::fmt::Display) -> Self {
        Self::new(404, 40402, format!("Version {version} not found."))
    }
    /// 404 / 40403.
    pub fn schema_not_found() -> Self {
        Self::new(404, 40403, "Schema not found")
    }
    /// 404 / 40403, naming the id.
    pub fn schema_id_not_found(id: i32) -> Self {
        Self::new(404, 40403, format!("Schema {id} not found"))
    }
    /// 404 / 40404.
    pub fn subject_soft_deleted(subject: &str) -> Self {
        Self::new(404, 40404, format!("Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"))
    }
    /// 404 / 40405.
    pub fn subject_not_soft_deleted(subject: &str) -> Self {
        Self::new(
            404,
            40405,
            format!("Subject '{subject}' was not deleted first before being permanently deleted"),
        )
    }
    /// 404 / 40406.
    pub fn version_soft_deleted(subject: &str, version: i32) -> Self {
        Self::new(
            404,
            40406,
            format!("Subject '{subject}' Version {version} was soft deleted.Set permanent=true to delete permanently"),
        )
    }
    /// 404 / 40407.
    pub fn version_not_soft_deleted(subject: &str, version: i32) -> Self {
        Self::new(
            404,
            40407,
            format!("Subject '{subject}' Version {version} was not deleted first before being permanently deleted"),
        )
    }
    /// 404 / 40408.
    pub fn subject_config_not_found(subject: &str) -> Self {
        Self::new(404, 40408, format!("Subject '{subject}' does not have subject-level compatibility configured"))
    }
    /// 404 / 40409.
    pub fn subject_mode_not_found(subject: &str) -> Self {
        Self::new(404, 40409, format!("Subject '{subject}' does not have subject-level mode configured"))
    }
    /// 422 / 42201.
    pub fn invalid_schema(detail: impl std::fmt::Display) -> Self {
        Self::new(422, 42201, format!("Invalid schema: {detail}"))
    }
    /// 422 / 42202.
    pub fn invalid_version(version: &str) -> Self {
        Self::new(
            422,
            42202,
            format!("The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""),
        )
    }
    /// 422 / 42203.
    pub fn invalid_compatibility_level(detail: impl std::fmt::Display) -> Self {
        Self::new(422, 42203, detail.to_string())
    }
    /// 422 / 42204.
    pub fn invalid_mode(detail: impl std::fmt::Display) -> Self {
        Self::new(422, 42204, detail.to_string())
    }
    /// 422 / 42205.
    pub fn operation_not_permitted(detail: impl std::fmt::Display) -> Self {
        Self::new(422, 42205, detail.to_string())
    }
    /// 422 / 42206.
    pub fn reference_exists(detail: impl std::fmt::Display) -> Self {
        Self::new(422, 42206, detail.to_string())
    }
    /// 409 / 409: the schema breaks the subject's compatibility level; `messages` say how.
    pub fn incompatible(messages: &[String]) -> Self {
        let mut text = "Schema being registered is incompatible with an earlier schema for subject".to_string();
        if !messages.is_empty() {
            text.push_str(", details: ");
            text.push_str(&messages.join("; "));
        }
        Self::new(409, 409, text)
    }
    /// 400 / 400: the body is not the JSON the endpoint expects.
    pub fn bad_request(detail: impl std::fmt::Display) -> Self {
        Self::new(400, 400, detail.to_string())
    }
    /// 401 / 401.
    pub fn unauthorized() -> Self {
        Self::new(401, 401, "Unauthorized: this registry requires HTTP basic authentication")
    }
    /// 500 / 50001: the `_schemas` topic could not be written or read.
    pub fn store(detail: impl std::fmt::Display) -> Self {
        Self::new(500, 50001, format!("Error in the backend data store: {detail}"))
    }
    /// 500 / 50002: a write was not acknowledged or applied in time.
    pub fn timeout(detail: impl std::fmt::Display) -> Self {
        Self::new(500, 50002, format!("Operation timed out: {detail}"))
    }
    /// 500 / 50003: a follower could not forward a write to the leader.
    pub fn forwarding(detail: impl std::fmt::Display) -> Self {
        Self::new(500, 50003, format!("Error while forwarding the request to the leader: {detail}"))
    }
    /// 500 / 50004: no leader is known, so writes cannot be served right now.
    pub fn unknown_leader() -> Self {
        Self::new(500, 50004, "Unknown leader: no schema registry instance is elected to write; retry shortly")
    }
}

/// What the registry itself cannot do.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid schema registry config: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}; choose another --listen address or stop what holds the port")]
    Bind { addr: String, source: std::io::Error },
    #[error("Kafka client error while {doing}: {source}; check --bootstrap-servers and that the cluster is up")]
    Kafka { doing: &'static str, source: rdkafka::error::KafkaError },
    #[error("the `{topic}` topic is unusable: {detail}")]
    Topic { topic: String, detail: String },
    #[error("corrupt record at offset {offset} of `{topic}`: {detail}")]
    CorruptRecord { topic: String, offset: i64, detail: String },
    #[error("timed out after {millis} ms while {doing}; is the Kafka cluster reachable?")]
    Timeout { doing: &'static str, millis: u64 },
    #[error("HTTP server on {addr} failed: {source}")]
    Serve { addr: SocketAddr, source: std::io::Error },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a write to the `_schemas` topic did not land; the API turns it into 50001, 50002 or 50004.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not the leader")]
    NotLeader,
    #[error("{0}")]
    Kafka(String),
    #[error("timed out after {0} ms")]
    Timeout(u64),
    #[error("the store is shut down")]
    Closed,
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotLeader => ApiError::unknown_leader(),
            StoreError::Timeout(ms) => ApiError::timeout(format!("the write was not applied within {ms} ms")),
            e @ (StoreError::Kafka(_) | StoreError::Closed) => ApiError::store(e),
        }
    }
}
