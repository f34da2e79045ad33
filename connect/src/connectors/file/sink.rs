//! The file sink task: appends one line per record to the file (or stdout) and, on flush, makes the lines
//! durable (fsync) before the runtime commits the records' offsets.
//!
//! With `exactly.once=true` the task also keeps [`sidecar`] records: after each fsync, the file's length and the
//! offsets the flush covers. When partitions are opened it truncates the file back to the recorded length
//! (lines written after the last durable flush, by a task that died before its next one, are cut) and answers
//! the recorded offsets, so the runtime resumes right after the last line kept: each record once.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::connector::{Config, SinkTask};
use crate::data::Value;
use crate::error::ConnectError;
use crate::record::{SinkRecord, TopicPartition};

use super::sidecar::{self, Durable};
use super::{exactly_once, render, target, EXACTLY_ONCE, FILE};

/// Rendered lines are written out once this many bytes are pending, and at every flush. Each write is one trip to
/// tokio's blocking pool, so the chunks are large: with 8 KiB ones the trips, not the disk, bounded the task.
const WRITE_AT: usize = 1 << 20;

/// One file sink task.
#[derive(Default)]
pub(crate) struct FileSinkTask {
    out: Option<Output>,
    /// Exactly-once bookkeeping; `None` in the default (at-least-once) mode.
    exactly_once: Option<ExactlyOnce>,
}

/// Where the lines go; cheap to clone into a blocking closure.
#[derive(Clone)]
enum Target {
    /// The file, opened for appending (also fsynced and, in exactly-once mode, truncated through it).
    File(Arc<std::fs::File>),
    Stdout,
}

struct Output {
    target: Target,
    /// Rendered lines of records already put, not yet written.
    pending: Vec<u8>,
    name: String,
    /// Bytes put since the task started.
    written: u64,
}

/// A failed write: how many pending bytes did reach the target (they are no longer pending), and why it failed.
struct WriteFailure {
    done: usize,
    error: ConnectError,
}

impl Output {
    fn io_error(&self, doing: &str, e: std::io::Error) -> ConnectError {
        ConnectError::retriable(format!("cannot {doing} {}: {e}", self.name))
    }

    /// The file, `None` for stdout.
    fn file(&self) -> Option<Arc<std::fs::File>> {
        match &self.target {
            Target::File(file) => Some(file.clone()),
            Target::Stdout => None,
        }
    }

    /// Writes everything pending in one trip to the blocking pool. What did not reach the target stays pending:
    /// it belongs to records already put, which the runtime will not hand over again.
    async fn write_pending(&mut self) -> Result<(), WriteFailure> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let (target, bytes) = (self.target.clone(), std::mem::take(&mut self.pending));
        let (mut bytes, done, result) = blocking(move || {
            let mut done = 0;
            let result = match &target {
                Target::File(file) => write_counted(&mut &**file, &bytes, &mut done),
                Target::Stdout => write_counted(&mut std::io::stdout().lock(), &bytes, &mut done),
            };
            (bytes, done, result)
        })
        .await
        .map_err(|error| WriteFailure { done: 0, error })?;
        bytes.drain(..done);
        // Reused for the next lines, so its capacity (about WRITE_AT) is allocated once.
        self.pending = bytes;
        result.map_err(|e| WriteFailure { done, error: self.io_error("write to", e) })
    }
}

/// Writes `bytes` to `w`, counting in `done` what was written even when it then fails.
fn write_counted(w: &mut impl Write, bytes: &[u8], done: &mut usize) -> std::io::Result<()> {
    while *done < bytes.len() {
        match w.write(&bytes[*done..]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => *done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    w.flush()
}

/// Runs blocking file work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ConnectError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ConnectError::Io(format!("file sink I/O did not finish: {e}")))
}

/// What exactly-once mode keeps between flushes.
struct ExactlyOnce {
    sidecar: PathBuf,
    /// What the sidecar says (or will say at the next flush); `None` until the first open reads it.
    durable: Option<Durable>,
}

impl FileSinkTask {
    /// Reads the sidecar once, before anything is written: cuts the file back to the durable length it records.
    async fn load(&mut self) -> Result<(), ConnectError> {
        let (Some(eo), Some(out)) = (self.exactly_once.as_mut(), self.out.as_mut()) else { return Ok(()) };
        if eo.durable.is_some() {
            return Ok(());
        }
        let Some(file) = out.file() else { return Ok(()) };
        if out.written > 0 {
            return Err(ConnectError::connector("file sink put before its partitions were opened: a runtime bug"));
        }
        let (path, handle) = (eo.sidecar.clone(), file.clone());
        let (length, recorded) = blocking(move || (handle.metadata().map(|m| m.len()), sidecar::read(&path))).await?;
        let length = length.map_err(|e| out.io_error("read the length of", e))?;
        let durable = match recorded? {
            // Never flushed: what the file holds now is the base, and the group's offsets say where to start.
            None => Durable { length, offsets: Default::default() },
            Some(d) if length < d.length => {
                return Err(ConnectError::connector(format!(
                    "{} is {length} bytes but {} records {} bytes durably written: something else truncated or \
                     replaced the file. Restore it, or delete {} to start over from the group's committed offsets \
                     (records may then be written twice)",
                    out.name,
                    eo.sidecar.display(),
                    d.length,
                    eo.sidecar.display()
                )))
            }
            Some(d) => {
                if length > d.length {
                    tracing::warn!(file = %out.name, durable = d.length, length,
                        "cutting what was written after the last durable flush; those records are read again");
                    let keep = d.length;
                    blocking(move || file.set_len(keep).and_then(|()| file.sync_all()))
                        .await?
                        .map_err(|e| out.io_error("truncate", e))?;
                }
                d
            }
        };
        eo.durable = Some(durable);
        Ok(())
    }
}

#[async_trait]
impl SinkTask for FileSinkTask {
    async fn start(&mut self, config: &Config) -> Result<(), ConnectError> {
        let exactly_once = exactly_once(config).map_err(|m| ConnectError::config(EXACTLY_ONCE, m))?;
        let path = target(config);
        let target =
            match path {
                None if exactly_once => {
                    return Err(ConnectError::config(FILE, "exactly.once=true needs a file, not standard output"))
                }
                None => Target::Stdout,
                Some(path) => {
                    let file =
                        tokio::fs::OpenOptions::new().create(true).append(true).open(path).await.map_err(|e| {
                            ConnectError::config(FILE, format!("cannot open {path} for appending: {e}"))
                        })?;
                    Target::File(Arc::new(file.into_std().await))
                }
            };
        let name = path.unwrap_or("stdout").to_string();
        self.out = Some(Output { target, pending: Vec::new(), name, written: 0 });
        self.exactly_once = match path {
            Some(path) if exactly_once => {
                Some(ExactlyOnce { sidecar: sidecar::path_for(path.as_ref()), durable: None })
            }
            _ => None,
        };
        Ok(())
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<HashMap<TopicPartition, i64>, ConnectError> {
        self.load().await?;
        let Some(durable) = self.exactly_once.as_ref().and_then(|eo| eo.durable.as_ref()) else {
            return Ok(HashMap::new());
        };
        Ok(partitions.iter().filter_map(|tp| durable.offsets.get(tp).map(|o| (tp.clone(), *o))).collect())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), ConnectError> {
        let out =
            self.out.as_mut().ok_or_else(|| ConnectError::connector("file sink put before start: a runtime bug"))?;
        let batch_start = out.pending.len();
        for r in records {
            // Strings go in as they are (as `render::line` has it) without a copy into a line of their own.
            match &r.record.value {
                Value::String(s) => out.pending.extend_from_slice(s.as_bytes()),
                other => out.pending.extend_from_slice(render::line(other).as_bytes()),
            }
            out.pending.push(b'\n');
        }
        let batch_len = (out.pending.len() - batch_start) as u64;
        out.written += batch_len;
        if out.pending.len() < WRITE_AT {
            return Ok(());
        }
        match out.write_pending().await {
            Ok(()) => Ok(()),
            // None of this batch reached the target: drop its lines, so the runtime's retry of the batch (the
            // error is retriable) writes them once. The earlier batches' lines stay pending.
            Err(WriteFailure { done, error }) if done <= batch_start => {
                out.pending.truncate(batch_start - done);
                out.written -= batch_len;
                Err(error)
            }
            // Part of this batch is written: a retry would write that part twice. The rest stays pending, so the
            // batch is accepted, and the next write (at the latest the flush, which then fails) meets the error.
            Err(WriteFailure { error, .. }) => {
                tracing::warn!(file = %out.name, %error, "write failed; the unwritten lines are written later");
                Ok(())
            }
        }
    }

    async fn flush(&mut self, offsets: &HashMap<TopicPartition, i64>) -> Result<(), ConnectError> {
        // A flush before any open must not overwrite a record it has not read (and cut the file by).
        self.load().await?;
        let Some(out) = self.out.as_mut() else { return Ok(()) };
        out.write_pending().await.map_err(|f| f.error)?;
        let Some(file) = out.file() else { return Ok(()) };
        let need_length = self.exactly_once.is_some();
        let length = blocking(move || {
            file.sync_data()?;
            if need_length {
                file.metadata().map(|m| m.len())
            } else {
                Ok(0)
            }
        })
        .await?
        .map_err(|e| out.io_error("fsync", e))?;
        let Some(eo) = self.exactly_once.as_mut() else { return Ok(()) };
        // Partitions not in `offsets` (revoked earlier) keep what was recorded for them.
        let mut durable = eo.durable.clone().unwrap_or_default();
        durable.length = length;
        durable.offsets.extend(offsets.iter().map(|(tp, o)| (tp.clone(), *o)));
        let (path, record) = (eo.sidecar.clone(), durable.clone());
        blocking(move || sidecar::write(&path, &record))
            .await?
            .map_err(|e| ConnectError::retriable(format!("cannot write {}: {e}", eo.sidecar.display())))?;
        eo.durable = Some(durable);
        Ok(())
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        if let Some(mut out) = self.out.take() {
            out.write_pending().await.map_err(|f| f.error)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use crate::data::Value;
    use crate::record::ConnectRecord;

    use super::*;

    fn record(value: Value, offset: i64) -> SinkRecord {
        SinkRecord { record: ConnectRecord::new("t", Value::Null, value), kafka_partition: 0, kafka_offset: offset }
    }

    #[tokio::test]
    async fn appends_one_line_per_record_and_flushes_them_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "before\n").unwrap();
        let config: Config = [("file".to_string(), path.display().to_string())].into_iter().collect();
        let mut task = FileSinkTask::default();
        task.start(&config).await.unwrap();
        task.put(vec![record(Value::String("one".into()), 0), record(Value::Int32(2), 1)]).await.unwrap();
        task.flush(&HashMap::new()).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "before\none\n2\n");
        task.put(vec![record(Value::Null, 2)]).await.unwrap();
        task.stop().await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "before\none\n2\nnull\n");
    }

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition { topic: "t".into(), partition }
    }

    async fn exactly_once_task(path: &std::path::Path) -> FileSinkTask {
        let config: Config = [("file", path.display().to_string()), ("exactly.once", "true".to_string())]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let mut task = FileSinkTask::default();
        task.start(&config).await.unwrap();
        task
    }

    #[tokio::test]
    async fn exactly_once_flush_records_the_durable_length_and_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "before\n").unwrap();
        let mut task = exactly_once_task(&path).await;
        // No record yet: nothing to resume from, nothing cut.
        assert!(task.open(&[tp(0), tp(1)]).await.unwrap().is_empty());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "before\n");
        task.put(vec![record(Value::String("one".into()), 0)]).await.unwrap();
        task.flush(&[(tp(0), 1)].into_iter().collect()).await.unwrap();
        let durable = sidecar::read(&sidecar::path_for(&path)).unwrap().expect("a sidecar after flush");
        assert_eq!(durable.length, "before\none\n".len() as u64);
        assert_eq!(durable.offsets, [(tp(0), 1)].into_iter().collect());
        // A later flush covering another partition keeps what it recorded for the first.
        task.put(vec![record(Value::String("two".into()), 7)]).await.unwrap();
        task.flush(&[(tp(1), 8)].into_iter().collect()).await.unwrap();
        let durable = sidecar::read(&sidecar::path_for(&path)).unwrap().unwrap();
        assert_eq!(durable.length, "before\none\ntwo\n".len() as u64);
        assert_eq!(durable.offsets, [(tp(0), 1), (tp(1), 8)].into_iter().collect());
        task.stop().await.unwrap();
    }

    #[tokio::test]
    async fn exactly_once_open_cuts_what_came_after_the_last_flush_and_answers_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut task = exactly_once_task(&path).await;
        task.open(&[tp(0)]).await.unwrap();
        task.put(vec![record(Value::String("a".into()), 0), record(Value::String("b".into()), 1)]).await.unwrap();
        task.flush(&[(tp(0), 2)].into_iter().collect()).await.unwrap();
        // Written but never flushed, then the task dies mid-line.
        task.put(vec![record(Value::String("c".into()), 2)]).await.unwrap();
        task.stop().await.unwrap();
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"torn").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\nc\n{\"torn");

        let mut task = exactly_once_task(&path).await;
        let offsets = task.open(&[tp(0), tp(1)]).await.unwrap();
        assert_eq!(offsets, [(tp(0), 2)].into_iter().collect(), "partition 1 has no record: the group decides");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
        task.put(vec![record(Value::String("c".into()), 2)]).await.unwrap();
        task.flush(&[(tp(0), 3)].into_iter().collect()).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\nc\n");
        task.stop().await.unwrap();
    }

    #[tokio::test]
    async fn exactly_once_refuses_a_file_shorter_than_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut task = exactly_once_task(&path).await;
        task.open(&[tp(0)]).await.unwrap();
        task.put(vec![record(Value::String("kept".into()), 0)]).await.unwrap();
        task.flush(&[(tp(0), 1)].into_iter().collect()).await.unwrap();
        task.stop().await.unwrap();
        std::fs::write(&path, "").unwrap();
        let mut task = exactly_once_task(&path).await;
        let err = task.open(&[tp(0)]).await.unwrap_err();
        assert!(!err.is_retriable());
        assert!(err.to_string().contains("something else truncated or replaced the file"), "{err}");
    }

    /// Batches of 1 KiB lines, as `bench/connect` puts them.
    fn kib_batch(batch: usize, size: usize) -> Vec<SinkRecord> {
        (0..size)
            .map(|i| {
                let line = format!("{batch:08}-{i:04}-{}", "x".repeat(1010));
                record(Value::String(line), (batch * size + i) as i64)
            })
            .collect()
    }

    #[tokio::test]
    async fn lines_written_in_large_chunks_arrive_whole_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut task = exactly_once_task(&path).await;
        task.open(&[tp(0)]).await.unwrap();
        let mut expected = String::new();
        // About 3.5 chunks between two flushes, so both the chunk writes and the flush's rest are exercised.
        for batch in 0..7 {
            let records = kib_batch(batch, 500);
            for r in &records {
                expected.push_str(r.record.value.as_str().unwrap());
                expected.push('\n');
            }
            task.put(records).await.unwrap();
            assert!(task.out.as_ref().unwrap().pending.len() < WRITE_AT, "a chunk is written once it is full");
        }
        task.flush(&[(tp(0), 3500)].into_iter().collect()).await.unwrap();
        assert!(std::fs::read_to_string(&path).unwrap() == expected, "the file holds every line once, in order");
        let durable = sidecar::read(&sidecar::path_for(&path)).unwrap().unwrap();
        assert_eq!(durable.length, expected.len() as u64);
        task.stop().await.unwrap();
    }

    /// `/dev/full` takes no byte (ENOSPC): what a failed write does to the lines of records already put.
    #[tokio::test]
    async fn a_failed_write_keeps_earlier_lines_and_drops_only_the_batch_the_runtime_retries() {
        let config: Config = [("file".to_string(), "/dev/full".to_string())].into_iter().collect();
        let mut task = FileSinkTask::default();
        task.start(&config).await.unwrap();
        task.put(kib_batch(0, 100)).await.unwrap();
        let accepted = task.out.as_ref().unwrap().pending.clone();
        assert_eq!(accepted.len(), 100 * 1025, "a batch under a chunk waits for the next write");
        let err = task.put(kib_batch(1, 1100)).await.unwrap_err();
        assert!(err.is_retriable(), "{err}");
        assert!(err.to_string().contains("cannot write to /dev/full"), "{err}");
        assert!(
            task.out.as_ref().unwrap().pending == accepted,
            "the failed batch's lines are dropped (the runtime puts it again), the accepted batch's are kept"
        );
        let err = task.flush(&HashMap::new()).await.unwrap_err();
        assert!(err.is_retriable(), "{err}");
        assert!(task.out.as_ref().unwrap().pending == accepted, "a failed flush loses nothing");
    }

    #[tokio::test]
    async fn exactly_once_needs_a_file() {
        let config: Config = [("exactly.once".to_string(), "true".to_string())].into_iter().collect();
        let err = FileSinkTask::default().start(&config).await.unwrap_err();
        assert!(err.to_string().contains("needs a file"), "{err}");
    }
}
