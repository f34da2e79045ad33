//! `GET /`: which Connect this is and which Kafka cluster it works with (Connect's `ServerInfo`).

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use super::body::ok;
use super::Ctx;

/// The version this worker reports: the crate's.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit this worker was built from, when the build says (`SLUICE_GIT_COMMIT`); Kafka's
/// `AppInfoParser` answers `unknown` the same way.
pub(crate) const COMMIT: &str = match option_env!("SLUICE_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// Connect's `ServerInfo`.
#[derive(Debug, Serialize)]
struct ServerInfo {
    version: &'static str,
    commit: &'static str,
    kafka_cluster_id: Option<String>,
}

/// `GET /`.
pub(crate) async fn server_info(State(herder): State<Ctx>) -> Response {
    ok(&ServerInfo { version: VERSION, commit: COMMIT, kafka_cluster_id: herder.kafka_cluster_id() })
}
