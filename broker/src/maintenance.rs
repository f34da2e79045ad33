//! Background maintenance: retention, compaction and the flush.ms policy, each on its own timer.
//!
//! The work is blocking file I/O, so it runs on the blocking pool; the logs take their append lock only
//! for the short final step, so produce and fetch keep going meanwhile.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::log::PartitionLog;
use crate::server::Shared;

/// Milliseconds since the Unix epoch, the clock Kafka timestamps use.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn spawn_all(shared: Arc<Shared>, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let c = &shared.config;
    vec![
        spawn_loop("retention", c.retention_check_interval_ms, shared.clone(), shutdown.clone(), |log, now| {
            log.enforce_retention(now).map(|_| ())
        }),
        spawn_loop("cleaner", c.cleaner_interval_ms, shared.clone(), shutdown.clone(), |log, now| {
            log.compact(now).map(|_| ())
        }),
        spawn_loop("flush", c.flush_check_interval_ms, shared.clone(), shutdown, |log, now| log.maybe_flush(now)),
    ]
}

fn spawn_loop(
    name: &'static str,
    interval_ms: u64,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    work: fn(&PartitionLog, i64) -> Result<(), crate::log::LogError>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_millis(interval_ms.max(10)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            let shared = shared.clone();
            let pass = tokio::task::spawn_blocking(move || {
                for topic in shared.topics.list() {
                    for (p, log) in topic.partitions().iter().enumerate() {
                        if let Err(e) = work(log, now_ms()) {
                            tracing::error!(task = name, topic = %topic.name, partition = p, error = %e, "maintenance failed");
                        }
                    }
                }
            });
            if let Err(e) = pass.await {
                tracing::error!(task = name, error = %e, "maintenance pass panicked (a bug)");
            }
        }
    })
}
