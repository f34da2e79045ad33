//! The file sink task: appends one line per record to the file (or stdout) and, on flush, makes the lines
//! durable (fsync) before the runtime commits the records' offsets.
//!
//! With `exactly.once=true` the task also keeps [`sidecar`] records: after each fsync, the file's length and the
//! offsets the flush covers. When partitions are opened it truncates the file back to the recorded length
//! (lines written after the last durable flush, by a task that died before its next one, are cut) and answers
//! the recorded offsets, so the runtime resumes right after the last line kept: each record once.

use std::collections::HashMap;
use std::path::PathBuf;

use async_trait::async_trait;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};

use crate::connector::{Config, SinkTask};
use crate::error::ConnectError;
use crate::record::{SinkRecord, TopicPartition};

use super::sidecar::{self, Durable};
use super::{exactly_once, render, target, EXACTLY_ONCE, FILE};

/// One file sink task.
#[derive(Default)]
pub(crate) struct FileSinkTask {
    out: Option<Output>,
    /// Exactly-once bookkeeping; `None` in the default (at-least-once) mode.
    exactly_once: Option<ExactlyOnce>,
}

struct Output {
    writer: BufWriter<Box<dyn AsyncWrite + Send + Unpin>>,
    /// The file, to fsync; `None` for stdout.
    file: Option<tokio::fs::File>,
    name: String,
    /// Bytes put since the task started.
    written: u64,
}

impl Output {
    fn io_error(&self, doing: &str, e: std::io::Error) -> ConnectError {
        ConnectError::retriable(format!("cannot {doing} {}: {e}", self.name))
    }
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
        let Some(file) = &out.file else { return Ok(()) };
        if out.written > 0 {
            return Err(ConnectError::connector("file sink put before its partitions were opened: a runtime bug"));
        }
        let length = file.metadata().await.map_err(|e| out.io_error("read the length of", e))?.len();
        let path = eo.sidecar.clone();
        let recorded = tokio::task::spawn_blocking(move || sidecar::read(&path))
            .await
            .map_err(|e| ConnectError::Io(format!("reading the offsets record did not finish: {e}")))??;
        let durable = match recorded {
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
                    file.set_len(d.length).await.map_err(|e| out.io_error("truncate", e))?;
                    file.sync_all().await.map_err(|e| out.io_error("fsync", e))?;
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
        self.out = Some(match path {
            None if exactly_once => {
                return Err(ConnectError::config(FILE, "exactly.once=true needs a file, not standard output"))
            }
            None => Output {
                writer: BufWriter::new(Box::new(tokio::io::stdout())),
                file: None,
                name: "stdout".into(),
                written: 0,
            },
            Some(path) => {
                let file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await
                    .map_err(|e| ConnectError::config(FILE, format!("cannot open {path} for appending: {e}")))?;
                // A second handle on the same file to fsync (and truncate), since the writer owns the first.
                let sync = file.try_clone().await?;
                Output { writer: BufWriter::new(Box::new(file)), file: Some(sync), name: path.to_string(), written: 0 }
            }
        });
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
        for r in records {
            let mut line = render::line(&r.record.value);
            line.push('\n');
            if let Err(e) = out.writer.write_all(line.as_bytes()).await {
                return Err(out.io_error("write to", e));
            }
            out.written += line.len() as u64;
        }
        Ok(())
    }

    async fn flush(&mut self, offsets: &HashMap<TopicPartition, i64>) -> Result<(), ConnectError> {
        // A flush before any open must not overwrite a record it has not read (and cut the file by).
        self.load().await?;
        let Some(out) = self.out.as_mut() else { return Ok(()) };
        if let Err(e) = out.writer.flush().await {
            return Err(out.io_error("flush", e));
        }
        let Some(file) = &out.file else { return Ok(()) };
        if let Err(e) = file.sync_data().await {
            return Err(out.io_error("fsync", e));
        }
        let Some(eo) = self.exactly_once.as_mut() else { return Ok(()) };
        let length = file.metadata().await.map_err(|e| out.io_error("read the length of", e))?.len();
        // Partitions not in `offsets` (revoked earlier) keep what was recorded for them.
        let mut durable = eo.durable.clone().unwrap_or_default();
        durable.length = length;
        durable.offsets.extend(offsets.iter().map(|(tp, o)| (tp.clone(), *o)));
        let (path, record) = (eo.sidecar.clone(), durable.clone());
        tokio::task::spawn_blocking(move || sidecar::write(&path, &record))
            .await
            .map_err(|e| ConnectError::Io(format!("writing the offsets record did not finish: {e}")))?
            .map_err(|e| ConnectError::retriable(format!("cannot write {}: {e}", eo.sidecar.display())))?;
        eo.durable = Some(durable);
        Ok(())
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        if let Some(mut out) = self.out.take() {
            out.writer.flush().await.map_err(|e| out.io_error("flush", e))?;
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

    #[tokio::test]
    async fn exactly_once_needs_a_file() {
        let config: Config = [("exactly.once".to_string(), "true".to_string())].into_iter().collect();
        let err = FileSinkTask::default().start(&config).await.unwrap_err();
        assert!(err.to_string().contains("needs a file"), "{err}");
    }
}
