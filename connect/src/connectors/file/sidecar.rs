//! The exactly-once file sink's record of what is durable: `<file>.offsets`, a small JSON document holding the
//! data file's length after the last durable flush and the next offset to read per topic-partition. It is
//! replaced atomically (a temporary file written and fsynced, renamed over, the directory fsynced), so after a
//! crash it is either the previous record or the new one, never a mix; and it is written only after the data
//! it describes is fsynced, so the length it records is always on disk.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ConnectError;
use crate::record::TopicPartition;

/// What the sidecar holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Durable {
    /// Bytes of the data file that are durable and accounted for by `offsets`.
    pub(crate) length: u64,
    /// Next offset to read per partition: every record before it is in the first `length` bytes.
    pub(crate) offsets: BTreeMap<TopicPartition, i64>,
}

/// The JSON shape: a list, since topic names may hold any separator a map key would use.
#[derive(Serialize, Deserialize)]
struct Document {
    length: u64,
    offsets: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    topic: String,
    partition: i32,
    offset: i64,
}

/// The sidecar of the data file `data`: `<data>.offsets` beside it.
pub(crate) fn path_for(data: &Path) -> PathBuf {
    let mut name = data.as_os_str().to_owned();
    name.push(".offsets");
    PathBuf::from(name)
}

/// The sidecar at `path`, `None` when there is none yet (a sink that never flushed).
pub(crate) fn read(path: &Path) -> Result<Option<Durable>, ConnectError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ConnectError::retriable(format!("cannot read {}: {e}", path.display()))),
    };
    let document: Document = serde_json::from_str(&text).map_err(|e| {
        ConnectError::connector(format!(
            "{} is not a file sink offsets record ({e}); it says how much of the data file is durable and where \
             to resume. Restore it, or delete it to resume from the group's committed offsets (records may then \
             be written twice)",
            path.display()
        ))
    })?;
    let offsets = document
        .offsets
        .into_iter()
        .map(|e| (TopicPartition { topic: e.topic, partition: e.partition }, e.offset))
        .collect();
    Ok(Some(Durable { length: document.length, offsets }))
}

/// Replaces the sidecar at `path` with `durable`, atomically and durably (blocking: run it off the runtime).
pub(crate) fn write(path: &Path, durable: &Durable) -> std::io::Result<()> {
    let document = Document {
        length: durable.length,
        offsets: durable
            .offsets
            .iter()
            .map(|(tp, offset)| Entry { topic: tp.topic.clone(), partition: tp.partition, offset: *offset })
            .collect(),
    };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&serde_json::to_vec(&document)?)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    // The rename itself is durable only once the directory is.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("out.txt"));
        assert!(path.display().to_string().ends_with("out.txt.offsets"));
        assert_eq!(read(&path).unwrap(), None);
        let durable = Durable {
            length: 42,
            offsets: [(TopicPartition { topic: "a-1".into(), partition: 3 }, 17)].into_iter().collect(),
        };
        write(&path, &durable).unwrap();
        assert_eq!(read(&path).unwrap(), Some(durable));
        std::fs::write(&path, "{").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("not a file sink offsets record"), "{err}");
    }
}
