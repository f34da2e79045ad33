//! Prometheus metrics at `GET /metrics`: requests by route, method and status, request latency, the numbers of
//! subjects and schemas, and whether this instance is the elected writer.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, TextEncoder};

use super::{ApiContext, RouteLabel};
use crate::error::ApiError;
use crate::registry::{Registry, VersionSpec};
use crate::store::Leadership;

/// The registry's metrics, in a Prometheus registry of their own so several instances can share a process.
pub struct Metrics {
    registry: prometheus::Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    subjects: IntGauge,
    schemas: IntGauge,
    versions: IntGauge,
    is_leader: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let requests = IntCounterVec::new(
            Opts::new("schema_registry_http_requests_total", "HTTP requests answered, by route, method and status"),
            &["route", "method", "status"],
        )
        .expect("bug: invalid metric definition");
        let latency = HistogramVec::new(
            HistogramOpts::new("schema_registry_http_request_duration_seconds", "Time to answer HTTP requests")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["route", "method"],
        )
        .expect("bug: invalid metric definition");
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("bug: invalid metric definition");
        let subjects = gauge("schema_registry_subjects", "Subjects with at least one live version");
        let schemas = gauge("schema_registry_schemas", "Distinct schema ids used by live versions");
        let versions = gauge("schema_registry_versions", "Live subject versions");
        let is_leader = gauge("schema_registry_is_leader", "1 when this instance is the elected writer, else 0");
        let registry = prometheus::Registry::new();
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(subjects.clone()),
            Box::new(schemas.clone()),
            Box::new(versions.clone()),
            Box::new(is_leader.clone()),
        ] {
            registry.register(collector).expect("bug: a metric is registered twice");
        }
        Self { registry, requests, latency, subjects, schemas, versions, is_leader }
    }

    /// Counts one answered request.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests.with_label_values(&[route, method, &status.to_string()]).inc();
        self.latency.with_label_values(&[route, method]).observe(seconds);
    }

    /// The Prometheus text exposition, with the gauges read from `registry` now.
    pub fn render(&self, registry: &Registry) -> Result<String, prometheus::Error> {
        let subjects = registry.subjects(None, false);
        let mut ids = BTreeSet::new();
        let mut versions = 0i64;
        for subject in &subjects {
            for version in registry.versions(subject, false).unwrap_or_default() {
                versions += 1;
                if let Ok(found) = registry.version(subject, VersionSpec::Number(version), false) {
                    ids.insert(found.id);
                }
            }
        }
        self.subjects.set(subjects.len() as i64);
        self.schemas.set(ids.len() as i64);
        self.versions.set(versions);
        self.is_leader.set(i64::from(registry.log().leadership() == Leadership::Leader));
        TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}

/// Times and counts every request; the route label is the matched route's template, `unmatched` otherwise.
pub async fn track(State(ctx): State<Arc<ApiContext>>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let route = response.extensions().get::<RouteLabel>().map_or("unmatched", |label| label.0);
    ctx.metrics.observe(route, &method, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub async fn metrics(State(ctx): State<Arc<ApiContext>>) -> Response {
    match ctx.metrics.render(&ctx.registry) {
        Ok(text) => {
            let mut response = text.into_response();
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
            response
        }
        Err(e) => ApiError::new(500, 500, format!("bug: metrics did not encode: {e}")).into_response(),
    }
}
