//! The file sink task: appends one line per record to the file (or stdout) and, on flush, makes the lines
//! durable (fsync) before the runtime commits the records' offsets.

use std::collections::HashMap;

use async_trait::async_trait;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};

use crate::connector::{Config, SinkTask};
use crate::error::ConnectError;
use crate::record::{SinkRecord, TopicPartition};

use super::{render, target, FILE};

/// One file sink task.
#[derive(Default)]
pub(crate) struct FileSinkTask {
    out: Option<Output>,
}

struct Output {
    writer: BufWriter<Box<dyn AsyncWrite + Send + Unpin>>,
    /// The file, to fsync; `None` for stdout.
    file: Option<tokio::fs::File>,
    name: String,
}

impl Output {
    fn io_error(&self, doing: &str, e: std::io::Error) -> ConnectError {
        ConnectError::retriable(format!("cannot {doing} {}: {e}", self.name))
    }
}

#[async_trait]
impl SinkTask for FileSinkTask {
    async fn start(&mut self, config: &Config) -> Result<(), ConnectError> {
        self.out = Some(match target(config) {
            None => Output { writer: BufWriter::new(Box::new(tokio::io::stdout())), file: None, name: "stdout".into() },
            Some(path) => {
                let file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await
                    .map_err(|e| ConnectError::config(FILE, format!("cannot open {path} for appending: {e}")))?;
                // A second handle on the same file to fsync, since the writer owns the first.
                let sync = file.try_clone().await?;
                Output { writer: BufWriter::new(Box::new(file)), file: Some(sync), name: path.to_string() }
            }
        });
        Ok(())
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
        }
        Ok(())
    }

    async fn flush(&mut self, _offsets: &HashMap<TopicPartition, i64>) -> Result<(), ConnectError> {
        let Some(out) = self.out.as_mut() else { return Ok(()) };
        if let Err(e) = out.writer.flush().await {
            return Err(out.io_error("flush", e));
        }
        if let Some(file) = &out.file {
            if let Err(e) = file.sync_data().await {
                return Err(out.io_error("fsync", e));
            }
        }
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
}
