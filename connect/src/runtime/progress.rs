//! Progress through bounded work (a source task's snapshot of existing rows, a generator's fixed count):
//! tasks report through [`crate::connector::SourceTaskContext::progress`]; the worker keeps the latest
//! report per task on its [`ProgressBoard`], which the metrics endpoint and the CLI's progress line read.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::herder::TaskId;

/// A rate measured over less time than this is mostly noise (the first records after a start come fast).
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// The latest progress report of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// What is being done, e.g. "snapshot of shop.orders".
    pub what: String,
    /// What is counted, e.g. "rows".
    pub unit: String,
    pub done: u64,
    /// `None` when the task does not know the total.
    pub total: Option<u64>,
    /// When the task first reported this piece of work (a change of `what` starts a new one).
    pub started: Instant,
    /// When the latest report arrived.
    pub updated: Instant,
    /// `done` at the first report of this piece of work: a task resuming half-way (from its committed
    /// offsets) did not do that part here, so the rate leaves it out.
    pub first_done: u64,
}

impl Progress {
    /// Whether the work is complete (`done` reached a known `total`).
    pub fn finished(&self) -> bool {
        self.total.is_some_and(|total| self.done >= total)
    }

    /// How long the work has taken so far (until the latest report).
    pub fn elapsed(&self) -> Duration {
        self.updated.saturating_duration_since(self.started)
    }

    /// Units per second since the first report, counting only what was done here; `None` until the reports
    /// span [`RATE_WINDOW`].
    pub fn rate(&self) -> Option<f64> {
        let elapsed = self.elapsed();
        (elapsed >= RATE_WINDOW).then(|| self.done.saturating_sub(self.first_done) as f64 / elapsed.as_secs_f64())
    }

    /// The fraction done, 0 to 1, when the total is known (an empty total counts as complete).
    pub fn fraction(&self) -> Option<f64> {
        self.total.map(|total| if total == 0 { 1.0 } else { (self.done as f64 / total as f64).min(1.0) })
    }

    /// The time left at the current rate, when the total is known and something has moved.
    pub fn eta(&self) -> Option<Duration> {
        let left = self.total?.saturating_sub(self.done);
        if left == 0 {
            return Some(Duration::ZERO);
        }
        let rate = self.rate().filter(|r| *r > 0.0)?;
        Some(Duration::from_secs_f64((left as f64 / rate).min(u32::MAX as f64)))
    }
}

/// The latest [`Progress`] of every task of one worker that has reported any.
#[derive(Debug, Default)]
pub struct ProgressBoard {
    tasks: Mutex<BTreeMap<TaskId, Progress>>,
}

impl ProgressBoard {
    /// Records a report; `started` is kept while `what` stays the same.
    pub fn report(&self, id: &TaskId, what: &str, unit: &str, done: u64, total: Option<u64>) {
        let now = Instant::now();
        let mut tasks = self.tasks.lock();
        match tasks.get_mut(id) {
            Some(progress) if progress.what == what => {
                if progress.unit != unit {
                    progress.unit = unit.to_string();
                }
                progress.done = done;
                progress.total = total;
                progress.updated = now;
            }
            _ => {
                let progress = Progress {
                    what: what.to_string(),
                    unit: unit.to_string(),
                    done,
                    total,
                    started: now,
                    updated: now,
                    first_done: done,
                };
                tasks.insert(id.clone(), progress);
            }
        }
    }

    /// Forgets a task (it stopped or moved to another worker).
    pub fn remove(&self, id: &TaskId) {
        self.tasks.lock().remove(id);
    }

    /// Every task's latest report, in task order.
    pub fn snapshot(&self) -> Vec<(TaskId, Progress)> {
        self.tasks.lock().iter().map(|(id, p)| (id.clone(), p.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(connector: &str, task: usize) -> TaskId {
        TaskId { connector: connector.into(), task }
    }

    fn progress(done: u64, total: Option<u64>, first_done: u64, elapsed: Duration) -> Progress {
        let started = Instant::now();
        Progress { what: "w".into(), unit: "rows".into(), done, total, started, updated: started + elapsed, first_done }
    }

    #[test]
    fn keeps_the_latest_report_and_the_start_of_the_same_work() {
        let board = ProgressBoard::default();
        board.report(&id("a", 0), "snapshot of t", "rows", 0, Some(10));
        let first = board.snapshot()[0].1.clone();
        board.report(&id("a", 0), "snapshot of t", "rows", 4, Some(10));
        let [(task, latest)] = board.snapshot().try_into().expect("one task");
        assert_eq!(task, id("a", 0));
        assert_eq!((latest.done, latest.total, latest.first_done), (4, Some(10), 0));
        assert_eq!(latest.started, first.started, "the same work keeps its start");
        assert!(latest.updated >= first.updated);
        assert!(!latest.finished());
        board.report(&id("a", 0), "snapshot of t", "rows", 10, Some(10));
        assert!(board.snapshot()[0].1.finished());
    }

    #[test]
    fn new_work_starts_afresh_and_tasks_are_kept_apart_in_order() {
        let board = ProgressBoard::default();
        board.report(&id("b", 0), "x", "rows", 5, None);
        board.report(&id("a", 1), "snapshot of t", "rows", 7, Some(10));
        board.report(&id("a", 1), "snapshot of u", "rows", 2, Some(3));
        let snapshot = board.snapshot();
        assert_eq!(snapshot.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), vec![id("a", 1), id("b", 0)]);
        let a = &snapshot[0].1;
        assert_eq!((a.what.as_str(), a.done, a.first_done), ("snapshot of u", 2, 2), "a new piece of work");
        assert!(!snapshot[1].1.finished(), "an unknown total never finishes");
        board.remove(&id("a", 1));
        assert_eq!(board.snapshot().len(), 1);
        board.remove(&id("a", 1));
        assert_eq!(board.snapshot()[0].0, id("b", 0));
    }

    #[test]
    fn rate_and_eta_count_only_the_work_done_here() {
        let p = progress(300, Some(1000), 100, Duration::from_secs(2));
        assert_eq!(p.rate(), Some(100.0));
        assert_eq!(p.eta(), Some(Duration::from_secs(7)));
        assert_eq!(p.fraction(), Some(0.3));
        assert_eq!(p.elapsed(), Duration::from_secs(2));

        let still = progress(0, Some(10), 0, Duration::ZERO);
        assert_eq!((still.rate(), still.eta()), (None, None), "no time has passed");
        let early = progress(200, Some(1000), 0, Duration::from_millis(300));
        assert_eq!((early.rate(), early.eta()), (None, None), "too soon to say");
        let stuck = progress(5, Some(10), 5, Duration::from_secs(3));
        assert_eq!((stuck.rate(), stuck.eta()), (Some(0.0), None), "nothing moved: no estimate");
        let unknown = progress(5, None, 0, Duration::from_secs(1));
        assert_eq!((unknown.fraction(), unknown.eta()), (None, None));
        let done = progress(10, Some(10), 0, Duration::from_secs(1));
        assert_eq!((done.eta(), done.fraction(), done.finished()), (Some(Duration::ZERO), Some(1.0), true));
        let empty = progress(0, Some(0), 0, Duration::ZERO);
        assert_eq!((empty.fraction(), empty.finished()), (Some(1.0), true));
    }
}
