//! The datagen source task: generates its share of the sequence (task i of n makes sequence numbers i, i+n,
//! i+2n, ...) and records how many it has made as its offset, so a restarted or moved task carries on exactly
//! where its last committed offset says.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::connector::{Config, ProgressReporter, SourceTask, SourceTaskContext};
use crate::data::Value;
use crate::error::ConnectError;
use crate::record::{ConnectRecord, Header, SourceMap, SourceRecord};

use super::config::{task_slot, DatagenConfig};

/// Records per poll when `max.interval` is 0: enough to keep a producer busy, small enough to poll often.
const BATCH: u64 = 500;
/// How long a poll waits when there is nothing to do (all iterations made, or the next record not yet due).
const IDLE: Duration = Duration::from_millis(200);
/// The longest a poll may wait for the next record, so pause and stop stay prompt.
const MAX_WAIT: Duration = Duration::from_secs(1);
/// The header carrying each record's sequence number.
pub const SEQUENCE_HEADER: &str = "datagen.sequence";

/// One datagen task.
#[derive(Debug, Default)]
pub(crate) struct DatagenTask {
    state: Option<Running>,
}

#[derive(Debug)]
struct Running {
    config: DatagenConfig,
    index: u64,
    count: u64,
    /// Records this task has generated (its offset); the next one has sequence `index + position * count`.
    position: u64,
    seed: u64,
    next_due: Instant,
    /// With `iterations` set: what the progress reports say this task does, and its share of the records.
    bounded: Option<(String, u64)>,
    progress: ProgressReporter,
}

/// The source partition of task `index`.
pub(crate) fn source_partition(index: u64) -> SourceMap {
    let mut m = SourceMap::new();
    m.insert("task".into(), index.into());
    m
}

fn source_offset(position: u64) -> SourceMap {
    let mut m = SourceMap::new();
    m.insert("position".into(), position.into());
    m
}

impl Running {
    fn sequence(&self) -> u64 {
        self.index + self.position * self.count
    }

    fn exhausted(&self) -> bool {
        self.config.iterations.is_some_and(|n| self.sequence() >= n)
    }

    /// Reports how many of its records this task has made, when it makes a fixed number.
    fn report_progress(&self) {
        if let Some((what, total)) = &self.bounded {
            self.progress.report(what, "records", self.position.min(*total), Some(*total));
        }
    }

    fn next_record(&mut self) -> SourceRecord {
        let seq = self.sequence();
        // Each record's randomness depends only on the seed and its sequence number, so a replay after a
        // restart regenerates the same record.
        let mut rng = StdRng::seed_from_u64(self.seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let g = self.config.shape.generate(seq, &mut rng);
        self.position += 1;
        let record = ConnectRecord {
            topic: self.config.topic.clone(),
            kafka_partition: None,
            key_schema: Some(g.key_schema),
            key: g.key,
            value_schema: Some(self.config.shape.value_schema.clone()),
            value: g.value,
            timestamp: Some(now_ms()),
            headers: vec![Header { key: SEQUENCE_HEADER.into(), schema: None, value: Value::String(seq.to_string()) }],
        };
        SourceRecord {
            record,
            source_partition: source_partition(self.index),
            source_offset: source_offset(self.position),
        }
    }
}

/// How many of the sequence numbers `0..iterations` task `index` of `count` makes (`index`, `index + count`, ...).
fn task_share(iterations: u64, index: u64, count: u64) -> u64 {
    if index >= iterations {
        0
    } else {
        (iterations - index - 1) / count.max(1) + 1
    }
}

/// What a progress report says the task does: "generating orders into t" (the quickstart, else the schema's
/// record name).
fn describe(config: &Config, parsed: &DatagenConfig) -> String {
    let shape = match config.get(super::config::QUICKSTART).map(|q| q.trim()).filter(|q| !q.is_empty()) {
        Some(quickstart) => quickstart.to_string(),
        None => parsed.shape.value_schema.name.clone().unwrap_or_else(|| "records".to_string()),
    };
    format!("generating {shape} into {}", parsed.topic)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[async_trait]
impl SourceTask for DatagenTask {
    async fn start(&mut self, config: &Config, context: &dyn SourceTaskContext) -> Result<(), ConnectError> {
        let parsed = DatagenConfig::parse(config).map_err(|mut errors| {
            let (key, message) = errors.remove(0);
            ConnectError::config(key, message)
        })?;
        let (index, count) = task_slot(config).map_err(|(k, m)| ConnectError::config(k, m))?;
        let position = match context.offset(&source_partition(index)).await? {
            None => 0,
            Some(offset) => offset.get("position").and_then(serde_json::Value::as_u64).ok_or_else(|| {
                ConnectError::connector(format!(
                    "the committed offset of datagen task {index} is {offset:?}, not {{\"position\": <count>}}: \
                     reset it with PATCH /connectors/<name>/offsets while the connector is stopped"
                ))
            })?,
        };
        let seed = parsed.seed.unwrap_or_else(|| rand::rng().random());
        tracing::debug!(index, count, position, "datagen task starts");
        let bounded = parsed.iterations.map(|n| (describe(config, &parsed), task_share(n, index, count)));
        let run = Running {
            config: parsed,
            index,
            count,
            position,
            seed,
            next_due: Instant::now(),
            bounded,
            progress: context.progress_reporter(),
        };
        run.report_progress();
        self.state = Some(run);
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let Some(run) = self.state.as_mut() else {
            return Err(ConnectError::connector("datagen task polled before start: a runtime bug"));
        };
        if run.exhausted() {
            tokio::time::sleep(IDLE).await;
            return Ok(Vec::new());
        }
        let interval = run.config.max_interval;
        if interval.is_zero() {
            let mut out = Vec::with_capacity(BATCH as usize);
            while out.len() < BATCH as usize && !run.exhausted() {
                out.push(run.next_record());
            }
            run.report_progress();
            return Ok(out);
        }
        let now = Instant::now();
        if run.next_due > now {
            let wait = (run.next_due - now).min(MAX_WAIT);
            tokio::time::sleep(wait).await;
            if run.next_due > Instant::now() {
                return Ok(Vec::new());
            }
        }
        run.next_due = Instant::now() + interval;
        let record = run.next_record();
        run.report_progress();
        Ok(vec![record])
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        self.state = None;
        Ok(())
    }

    fn supports_exactly_once(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use parking_lot::Mutex;

    use super::*;

    struct Offsets(Mutex<HashMap<String, SourceMap>>);

    #[async_trait]
    impl SourceTaskContext for Offsets {
        async fn offset(&self, partition: &SourceMap) -> Result<Option<SourceMap>, ConnectError> {
            Ok(self.0.lock().get(&serde_json::to_string(partition).unwrap()).cloned())
        }
    }

    fn task_config(index: u64, count: u64, iterations: u64) -> Config {
        [
            ("kafka.topic", "t".to_string()),
            ("quickstart", "orders".into()),
            ("max.interval", "0".into()),
            ("iterations", iterations.to_string()),
            ("random.seed", "5".into()),
            ("datagen.task.index", index.to_string()),
            ("datagen.task.count", count.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn sequence(r: &SourceRecord) -> u64 {
        r.record.headers[0].value.as_str().unwrap().parse().unwrap()
    }

    async fn drain(task: &mut DatagenTask) -> Vec<SourceRecord> {
        let mut all = Vec::new();
        loop {
            let batch = task.poll().await.unwrap();
            if batch.is_empty() {
                return all;
            }
            all.extend(batch);
        }
    }

    #[tokio::test]
    async fn tasks_split_the_sequence_without_overlap() {
        let ctx = Offsets(Mutex::new(HashMap::new()));
        let mut seen = Vec::new();
        for index in 0..3 {
            let mut task = DatagenTask::default();
            task.start(&task_config(index, 3, 1000), &ctx).await.unwrap();
            seen.extend(drain(&mut task).await.iter().map(sequence));
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    }

    /// Offsets as [`Offsets`], and every progress report in order.
    #[derive(Default)]
    struct Watching {
        offsets: Mutex<HashMap<String, SourceMap>>,
        reports: Arc<Mutex<Vec<Report>>>,
    }

    /// `(what, unit, done, total)`.
    type Report = (String, String, u64, Option<u64>);

    #[async_trait]
    impl SourceTaskContext for Watching {
        async fn offset(&self, partition: &SourceMap) -> Result<Option<SourceMap>, ConnectError> {
            Ok(self.offsets.lock().get(&serde_json::to_string(partition).unwrap()).cloned())
        }

        fn progress_reporter(&self) -> ProgressReporter {
            let reports = self.reports.clone();
            ProgressReporter::new(move |what, unit, done, total| {
                reports.lock().push((what.into(), unit.into(), done, total));
            })
        }
    }

    #[test]
    fn each_task_makes_its_share_of_the_iterations() {
        assert_eq!((0..3).map(|i| task_share(1000, i, 3)).collect::<Vec<_>>(), vec![334, 333, 333]);
        assert_eq!((0..4).map(|i| task_share(2, i, 4)).collect::<Vec<_>>(), vec![1, 1, 0, 0]);
        assert_eq!(task_share(0, 0, 1), 0);
        assert_eq!(task_share(7, 0, 1), 7);
    }

    #[tokio::test]
    async fn a_bounded_task_reports_its_progress_up_to_its_share() {
        let ctx = Watching::default();
        let mut task = DatagenTask::default();
        task.start(&task_config(1, 2, 1201), &ctx).await.unwrap();
        let made = drain(&mut task).await.len() as u64;
        assert_eq!(made, 600);
        let reports = ctx.reports.lock().clone();
        let what = "generating orders into t".to_string();
        assert_eq!(reports.first(), Some(&(what.clone(), "records".into(), 0, Some(600))), "{reports:?}");
        assert_eq!(reports.last(), Some(&(what, "records".into(), 600, Some(600))), "{reports:?}");
        assert!(reports.windows(2).all(|w| w[0].2 <= w[1].2), "done never goes back: {reports:?}");
        assert!(reports.len() >= 3, "reports along the way, not only at the ends: {reports:?}");

        // Without `iterations` there is no end to report progress towards.
        let ctx = Watching::default();
        let mut config = task_config(0, 1, 1);
        config.remove("iterations");
        let mut task = DatagenTask::default();
        task.start(&config, &ctx).await.unwrap();
        assert!(!task.poll().await.unwrap().is_empty());
        assert!(ctx.reports.lock().is_empty());
    }

    #[tokio::test]
    async fn a_restarted_task_resumes_at_its_committed_offset_with_the_same_records() {
        let ctx = Offsets(Mutex::new(HashMap::new()));
        let mut first = DatagenTask::default();
        first.start(&task_config(1, 2, 20), &ctx).await.unwrap();
        let all = drain(&mut first).await;
        assert_eq!(all.iter().map(sequence).collect::<Vec<_>>(), (0..10).map(|k| 1 + 2 * k).collect::<Vec<_>>());

        // Commit the offset of the fourth record, then restart: the fifth comes next, identical.
        let key = serde_json::to_string(&source_partition(1)).unwrap();
        ctx.0.lock().insert(key, all[3].source_offset.clone());
        let mut second = DatagenTask::default();
        second.start(&task_config(1, 2, 20), &ctx).await.unwrap();
        let again = drain(&mut second).await;
        assert_eq!(again.len(), 6);
        assert_eq!(again[0].record.value, all[4].record.value);
        assert_eq!(again[0].source_offset, all[4].source_offset);
    }
}
