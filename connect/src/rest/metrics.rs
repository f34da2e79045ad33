//! Prometheus metrics at `GET /metrics`: each connector's and task's state, each task's counters (records
//! read and written, offset commits, errors, retries, dead-letter queue, sink lag) as the herder reports them,
//! and how far this worker's tasks are through bounded work such as a snapshot (done and total units).
//!
//! Every scrape builds a fresh registry from the herder's answers, so a deleted connector's series vanish at
//! once and the REST layer keeps no state of its own.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use prometheus::core::Collector;
use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use super::Ctx;
use crate::error::ApiError;
use crate::runtime::herder::{ConnectorStateInfo, State as RunState, TaskId, TaskMetricsInfo};
use crate::runtime::progress::Progress;

/// The content type of Prometheus' text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub(crate) async fn metrics(State(herder): State<Ctx>) -> Response {
    let mut statuses = Vec::new();
    for name in herder.connectors().await {
        // A connector deleted between the listing and this call is simply not reported.
        if let Ok(status) = herder.connector_status(&name).await {
            statuses.push(status);
        }
    }
    match render(&statuses, &herder.metrics(), &herder.progress()) {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
            response
        }
        Err(e) => ApiError::new(500, format!("bug: metrics could not be rendered: {e}")).into_response(),
    }
}

/// The text exposition of the connectors' states, the tasks' counters and their progress.
fn render(
    statuses: &[ConnectorStateInfo],
    tasks: &[TaskMetricsInfo],
    progress: &[(TaskId, Progress)],
) -> Result<String, prometheus::Error> {
    let registry = Registry::new();
    let register = |collector: Box<dyn Collector>| registry.register(collector);

    let connectors = IntGauge::new("connect_connectors", "Connectors configured on this worker's cluster")?;
    connectors.set(i64::try_from(statuses.len()).unwrap_or(i64::MAX));
    register(Box::new(connectors))?;

    let connector_state = IntGaugeVec::new(
        Opts::new("connect_connector_status", "1 for each connector's current state (RUNNING, PAUSED, FAILED, ...)"),
        &["connector", "type", "state", "worker_id"],
    )?;
    let task_state = IntGaugeVec::new(
        Opts::new("connect_task_status", "1 for each task's current state (RUNNING, PAUSED, FAILED, ...)"),
        &["connector", "task", "state", "worker_id"],
    )?;
    for status in statuses {
        let kind = match status.connector_type {
            Some(kind) => serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)),
            None => None,
        }
        .unwrap_or_else(|| "unknown".to_string());
        connector_state
            .with_label_values(&[
                status.name.as_str(),
                &kind,
                state_name(status.connector.state),
                &status.connector.worker_id,
            ])
            .set(1);
        for task in &status.tasks {
            task_state
                .with_label_values(&[
                    status.name.as_str(),
                    &task.id.to_string(),
                    state_name(task.state.state),
                    &task.state.worker_id,
                ])
                .set(1);
        }
    }
    register(Box::new(connector_state))?;
    register(Box::new(task_state))?;

    type Read = fn(&TaskMetricsInfo) -> u64;
    let counters: [(&str, &str, Read); 11] = [
        (
            "connect_task_records_read_total",
            "Records polled from a source task, or read from Kafka for a sink task",
            |m| m.records_read,
        ),
        (
            "connect_task_records_written_total",
            "Records written to Kafka by a source task, or put to a sink task",
            |m| m.records_written,
        ),
        ("connect_task_offset_commits_total", "Offset commits that completed", |m| m.offset_commits),
        ("connect_task_offset_commit_failures_total", "Offset commits that failed or were skipped", |m| {
            m.offset_commit_failures
        }),
        ("connect_task_record_errors_total", "Records that failed in some stage, tolerated or not", |m| {
            m.record_errors
        }),
        ("connect_task_record_failures_total", "Failed attempts on records, retries included", |m| m.record_failures),
        ("connect_task_records_skipped_total", "Records dropped because errors.tolerance=all", |m| m.records_skipped),
        ("connect_task_retries_total", "Retries of retriable failures", |m| m.retries),
        ("connect_task_errors_logged_total", "Errors written to the log (errors.log.enable)", |m| m.errors_logged),
        ("connect_task_dlq_records_total", "Records sent to the dead-letter queue", |m| m.dlq_records),
        ("connect_task_dlq_failures_total", "Dead-letter queue writes that failed", |m| m.dlq_failures),
    ];
    for (name, help, read) in counters {
        let counter = IntCounterVec::new(Opts::new(name, help), &["connector", "task"])?;
        for task in tasks {
            counter.with_label_values(&[task.id.connector.as_str(), &task.id.task.to_string()]).inc_by(read(task));
        }
        register(Box::new(counter))?;
    }
    let lag = IntGaugeVec::new(
        Opts::new("connect_task_lag_records", "Sink tasks: the largest lag of their partitions behind the log end"),
        &["connector", "task"],
    )?;
    for task in tasks {
        if let Some(records) = task.lag {
            lag.with_label_values(&[task.id.connector.as_str(), &task.id.task.to_string()])
                .set(i64::try_from(records).unwrap_or(i64::MAX));
        }
    }
    register(Box::new(lag))?;

    // The unit is a label so a dashboard can say "rows" or "records"; the total only when the task knows it.
    let labels = ["connector", "task", "unit"];
    let done = IntGaugeVec::new(
        Opts::new("connect_task_progress_done", "Units of a task's bounded work (a snapshot) done so far"),
        &labels,
    )?;
    let total = IntGaugeVec::new(
        Opts::new("connect_task_progress_total", "Units of a task's bounded work in all, when the task knows"),
        &labels,
    )?;
    for (id, p) in progress {
        let values = [id.connector.as_str(), &id.task.to_string(), p.unit.as_str()];
        done.with_label_values(&values).set(i64::try_from(p.done).unwrap_or(i64::MAX));
        if let Some(n) = p.total {
            total.with_label_values(&values).set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
    register(Box::new(done))?;
    register(Box::new(total))?;

    TextEncoder::new().encode_to_string(&registry.gather())
}

/// A state as Connect spells it.
fn state_name(state: RunState) -> &'static str {
    match state {
        RunState::Unassigned => "UNASSIGNED",
        RunState::Running => "RUNNING",
        RunState::Paused => "PAUSED",
        RunState::Stopped => "STOPPED",
        RunState::Failed => "FAILED",
        RunState::Restarting => "RESTARTING",
    }
}
