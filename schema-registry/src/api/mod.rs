//! The Confluent Schema Registry REST API over axum: one file per resource, Confluent's content types and error
//! bodies, optional basic auth, Prometheus metrics, and forwarding of writes from followers to the leader.
//!
//! - [`body`]: content types, JSON bodies, query and path parameters.
//! - [`errors`]: `{"error_code", "message"}` answers, also for axum's own 404, 405 and rejections.
//! - [`auth`]: HTTP basic auth. [`metrics`]: `GET /metrics`. [`forward`]: writes sent from followers to the leader.
//! - Resources: [`root`], [`subjects`], [`versions`], [`schemas`], [`compatibility`], [`config`], [`mode`].
//!
//! A request passes, outermost first: metrics, error-body rewriting, basic auth, routing, the route's label (for
//! metrics), then the handler, where a write handler's [`forward::Write`] argument forwards it on a follower.

pub mod auth;
pub mod body;
pub mod compatibility;
pub mod config;
pub mod errors;
pub mod forward;
pub mod metrics;
pub mod mode;
pub mod root;
pub mod schemas;
pub mod subjects;
pub mod versions;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::routing::{get, post, MethodRouter};

use crate::config::RegistryConfig;
use crate::registry::Registry;

/// What every handler can reach.
#[derive(Debug)]
pub struct ApiContext {
    pub registry: Arc<Registry>,
    pub config: RegistryConfig,
    /// The client followers forward writes with.
    pub http: reqwest::Client,
    pub metrics: metrics::Metrics,
}

impl ApiContext {
    pub fn new(registry: Arc<Registry>, config: &RegistryConfig) -> Self {
        Self {
            registry,
            http: forward::client(config.write_timeout_ms),
            config: config.clone(),
            metrics: metrics::Metrics::new(),
        }
    }
}

/// The route template that answered a request, e.g. `/subjects/{subject}/versions`, kept in the response's
/// extensions for the metrics' `route` label (a template, so labels stay few whatever the subjects).
#[derive(Debug, Clone, Copy)]
pub struct RouteLabel(pub &'static str);

type Routes = MethodRouter<Arc<ApiContext>>;

/// Every route of the REST API.
pub fn router(ctx: Arc<ApiContext>) -> axum::Router {
    let routes: Vec<(&'static str, Routes)> = vec![
        ("/", get(root::root).post(root::root)),
        ("/v1/metadata/id", get(root::metadata_id)),
        ("/v1/metadata/version", get(root::metadata_version)),
        ("/metrics", get(metrics::metrics)),
        ("/subjects", get(subjects::list)),
        ("/subjects/{subject}", post(subjects::lookup).delete(subjects::delete)),
        ("/subjects/{subject}/versions", get(versions::list).post(versions::register)),
        ("/subjects/{subject}/versions/{version}", get(versions::get).delete(versions::delete)),
        ("/subjects/{subject}/versions/{version}/schema", get(versions::schema)),
        ("/subjects/{subject}/versions/{version}/referencedby", get(versions::referenced_by)),
        ("/schemas", get(schemas::list)),
        ("/schemas/types", get(schemas::types)),
        ("/schemas/ids/{id}", get(schemas::by_id)),
        ("/schemas/ids/{id}/schema", get(schemas::by_id_text)),
        ("/schemas/ids/{id}/subjects", get(schemas::subjects)),
        ("/schemas/ids/{id}/versions", get(schemas::versions)),
        ("/compatibility/subjects/{subject}/versions", post(compatibility::check_all)),
        ("/compatibility/subjects/{subject}/versions/{version}", post(compatibility::check_version)),
        ("/config", get(config::get_global).put(config::put_global).delete(config::delete_global)),
        ("/config/{subject}", get(config::get_subject).put(config::put_subject).delete(config::delete_subject)),
        ("/mode", get(mode::get_global).put(mode::put_global)),
        ("/mode/{subject}", get(mode::get_subject).put(mode::put_subject).delete(mode::delete_subject)),
    ];
    let router = routes
        .into_iter()
        .fold(axum::Router::new(), |router, (path, methods)| router.route(path, labelled(path, methods)));
    router
        .with_state(ctx.clone())
        .layer(DefaultBodyLimit::max(body::BODY_LIMIT))
        .layer(from_fn_with_state(ctx.clone(), auth::basic_auth))
        .layer(from_fn(errors::confluent_error_bodies))
        .layer(from_fn_with_state(ctx, metrics::track))
}

/// Tags every answer of `methods` (its 405s included) with the route's template.
fn labelled(path: &'static str, methods: Routes) -> Routes {
    methods.layer(from_fn(move |request: Request, next: Next| async move {
        let mut response = next.run(request).await;
        response.extensions_mut().insert(RouteLabel(path));
        response
    }))
}

#[cfg(test)]
mod tests;
