//! The Kafka Connect REST API (default port 8083) over a [`Herder`]: same paths, methods, status codes and
//! JSON shapes as Apache Kafka Connect, so `curl` recipes and tools written for Connect work unchanged.
//!
//! - `root`: `GET /` (version, commit, Kafka cluster id).
//! - `connectors`: `/connectors`, create, config (GET/PUT/PATCH), delete, status, pause/resume/stop,
//!   restart, topics.
//! - `tasks`: `/connectors/{name}/tasks`, a task's status and restart.
//! - `offsets`: `/connectors/{name}/offsets` (GET, PATCH and DELETE while stopped).
//! - `plugins`: `/connector-plugins` and config validation with per-field errors.
//! - `admin`: `/admin/loggers`.
//! - `metrics`: Prometheus metrics per connector and task at `GET /metrics`.
//! - `body` and `errors`: request bodies, query parameters, and error answers in Connect's shape
//!   (`{"error_code": N, "message": "..."}`) for every failure, axum's own included.
//!
//! The REST layer holds no state: every answer comes from the herder, so a standalone and a distributed
//! worker share it.

use std::future::Future;
use std::sync::Arc;

use axum::middleware::from_fn;
use axum::routing::{get, post, put};

use crate::runtime::herder::Herder;

mod admin;
mod body;
mod connectors;
mod errors;
mod metrics;
mod offsets;
mod plugins;
mod root;
mod tasks;

/// What every handler is given: the worker's herder.
pub(crate) type Ctx = Arc<dyn Herder>;

/// Every route of the REST API over `herder`.
pub fn router(herder: Arc<dyn Herder>) -> axum::Router {
    axum::Router::new()
        .route("/", get(root::server_info))
        .route("/metrics", get(metrics::metrics))
        // Jersey takes `/connectors` and `/connectors/` alike; clients use both.
        .route("/connectors", get(connectors::list).post(connectors::create))
        .route("/connectors/", get(connectors::list).post(connectors::create))
        .route("/connectors/{connector}", get(connectors::info).delete(connectors::delete))
        .route(
            "/connectors/{connector}/config",
            get(connectors::config_of).put(connectors::put_config).patch(connectors::patch_config),
        )
        .route("/connectors/{connector}/status", get(connectors::status))
        .route("/connectors/{connector}/restart", post(connectors::restart))
        .route("/connectors/{connector}/pause", put(connectors::pause))
        .route("/connectors/{connector}/resume", put(connectors::resume))
        .route("/connectors/{connector}/stop", put(connectors::stop))
        .route("/connectors/{connector}/topics", get(connectors::topics))
        .route("/connectors/{connector}/topics/reset", put(connectors::reset_topics))
        .route("/connectors/{connector}/tasks", get(tasks::list))
        .route("/connectors/{connector}/tasks/{task}/status", get(tasks::status))
        .route("/connectors/{connector}/tasks/{task}/restart", post(tasks::restart))
        .route("/connectors/{connector}/offsets", get(offsets::get).patch(offsets::alter).delete(offsets::reset))
        .route("/connector-plugins", get(plugins::list))
        .route("/connector-plugins/", get(plugins::list))
        .route("/connector-plugins/{plugin}/config", get(plugins::config_def))
        .route("/connector-plugins/{plugin}/config/validate", put(plugins::validate))
        .route("/admin/loggers", get(admin::loggers))
        .route("/admin/loggers/{logger}", get(admin::logger).put(admin::set_logger))
        .fallback(errors::not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .with_state(herder)
        .layer(from_fn(errors::connect_error_bodies))
}

/// Serves the REST API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    herder: Arc<dyn Herder>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(herder)).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests;
