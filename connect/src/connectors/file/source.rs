//! The file source task: reads lines appended to a file (or stdin) and sends each as a string record; its
//! offset is the byte position after the last line sent (`{"position": N}` for partition
//! `{"filename": path}`), as Kafka's file source stores it, so a restart resumes at the next line.

use std::io::SeekFrom;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};

use crate::connector::{Config, SourceTask, SourceTaskContext};
use crate::data::{Schema, SchemaType, Value};
use crate::error::ConnectError;
use crate::record::{ConnectRecord, SourceMap, SourceRecord};

use super::target;

/// How long a poll waits when no new complete line has arrived.
const IDLE: Duration = Duration::from_millis(200);
/// Kafka's default `batch.size` of the file source.
pub(crate) const DEFAULT_BATCH_SIZE: usize = 2000;

/// One file source task.
#[derive(Default)]
pub(crate) struct FileSourceTask {
    state: Option<Reading>,
}

struct Reading {
    path: Option<String>,
    topic: String,
    batch_size: usize,
    input: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// Bytes read but not yet sent (the start of an unfinished line).
    pending: Vec<u8>,
    /// The byte position just after the last line sent.
    position: u64,
}

fn partition(path: &str) -> SourceMap {
    let mut m = SourceMap::new();
    m.insert("filename".into(), path.into());
    m
}

impl Reading {
    /// Opens the file at the resume position; `Ok(false)` when it does not exist yet (Kafka waits for it).
    async fn open(&mut self) -> Result<bool, ConnectError> {
        let Some(path) = &self.path else {
            self.input = Some(Box::new(tokio::io::stdin()));
            return Ok(true);
        };
        let mut file = match tokio::fs::File::open(path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(path, "file source: the file does not exist yet; waiting for it");
                return Ok(false);
            }
            Err(e) => return Err(ConnectError::retriable(format!("cannot open {path}: {e}"))),
        };
        file.seek(SeekFrom::Start(self.position))
            .await
            .map_err(|e| ConnectError::retriable(format!("cannot seek {path} to {}: {e}", self.position)))?;
        self.input = Some(Box::new(file));
        Ok(true)
    }

    /// Complete lines from `pending`, at most `batch_size`.
    fn take_lines(&mut self) -> Vec<SourceRecord> {
        let mut out = Vec::new();
        let mut consumed = 0;
        while out.len() < self.batch_size {
            let Some(nl) = self.pending[consumed..].iter().position(|&b| b == b'\n') else { break };
            let raw = &self.pending[consumed..consumed + nl];
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let line = String::from_utf8_lossy(raw).into_owned();
            consumed += nl + 1;
            self.position += nl as u64 + 1;
            out.push(self.record(line));
        }
        self.pending.drain(..consumed);
        out
    }

    fn record(&self, line: String) -> SourceRecord {
        let mut record = ConnectRecord::new(self.topic.clone(), Value::Null, Value::String(line));
        record.value_schema = Some(Schema::primitive(SchemaType::String).shared());
        record.timestamp =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_millis() as i64);
        // stdin has no position to resume from: no partition or offset, as in Kafka.
        let (source_partition, source_offset) = match &self.path {
            Some(path) => {
                let mut offset = SourceMap::new();
                offset.insert("position".into(), self.position.into());
                (partition(path), offset)
            }
            None => (SourceMap::new(), SourceMap::new()),
        };
        SourceRecord { record, source_partition, source_offset }
    }
}

#[async_trait]
impl SourceTask for FileSourceTask {
    async fn start(&mut self, config: &Config, context: &dyn SourceTaskContext) -> Result<(), ConnectError> {
        let settings = super::SourceSettings::parse(config).map_err(|mut e| {
            let (k, m) = e.remove(0);
            ConnectError::config(k, m)
        })?;
        let path = target(config).map(str::to_string);
        let position = match &path {
            None => 0,
            Some(p) => match context.offset(&partition(p)).await? {
                None => 0,
                Some(o) => o.get("position").and_then(serde_json::Value::as_u64).ok_or_else(|| {
                    ConnectError::connector(format!(
                        "the committed offset of {p} is {o:?}, not {{\"position\": <byte offset>}}: reset it with \
                         PATCH /connectors/<name>/offsets while the connector is stopped"
                    ))
                })?,
            },
        };
        self.state = Some(Reading {
            path,
            topic: settings.topic,
            batch_size: settings.batch_size,
            input: None,
            pending: Vec::new(),
            position,
        });
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let Some(r) = self.state.as_mut() else {
            return Err(ConnectError::connector("file source polled before start: a runtime bug"));
        };
        if r.input.is_none() && !r.open().await? {
            tokio::time::sleep(IDLE).await;
            return Ok(Vec::new());
        }
        let lines = r.take_lines();
        if !lines.is_empty() {
            return Ok(lines);
        }
        let mut chunk = vec![0u8; 64 * 1024];
        let input = r.input.as_mut().expect("opened above");
        // A file at its end reads 0 at once; stdin may block, so bound the wait to keep stop prompt.
        let n = match tokio::time::timeout(Duration::from_secs(1), input.read(&mut chunk)).await {
            Err(_) => 0,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                let name = r.path.as_deref().unwrap_or("stdin");
                return Err(ConnectError::retriable(format!("cannot read {name}: {e}")));
            }
        };
        r.pending.extend_from_slice(&chunk[..n]);
        let lines = r.take_lines();
        if lines.is_empty() {
            tokio::time::sleep(IDLE).await;
        }
        Ok(lines)
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        self.state = None;
        Ok(())
    }

    fn supports_exactly_once(&self) -> bool {
        // Only a file has a position to resume from.
        self.state.as_ref().is_none_or(|r| r.path.is_some())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    struct At(Option<u64>);

    #[async_trait]
    impl SourceTaskContext for At {
        async fn offset(&self, _: &SourceMap) -> Result<Option<SourceMap>, ConnectError> {
            Ok(self.0.map(|p| {
                let mut m = SourceMap::new();
                m.insert("position".into(), p.into());
                m
            }))
        }
    }

    fn config(path: &std::path::Path) -> Config {
        [("file", path.display().to_string()), ("topic", "lines".into())]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    #[tokio::test]
    async fn sends_complete_lines_with_byte_positions_and_resumes_after_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, "one\r\ntwo\nhalf").unwrap();
        let mut task = FileSourceTask::default();
        task.start(&config(&path), &At(None)).await.unwrap();
        let got = task.poll().await.unwrap();
        let lines: Vec<_> = got.iter().map(|r| r.record.value.as_str().unwrap().to_string()).collect();
        assert_eq!(lines, ["one", "two"]);
        assert_eq!(got[1].source_offset["position"], 9);
        assert_eq!(got[1].source_partition["filename"], path.display().to_string());

        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"-done\n").unwrap();
        let got = task.poll().await.unwrap();
        assert_eq!(got[0].record.value.as_str(), Some("half-done"));

        let mut again = FileSourceTask::default();
        again.start(&config(&path), &At(Some(5))).await.unwrap();
        let got = again.poll().await.unwrap();
        assert_eq!(got.iter().map(|r| r.record.value.as_str().unwrap()).collect::<Vec<_>>(), ["two", "half-done"]);
    }
}
