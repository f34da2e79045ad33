//! The clean-shutdown marker: `<data_dir>/.clean-shutdown`, written once every partition log closed cleanly and
//! removed at the next start before any log opens.
//!
//! Its presence lets each partition trust its active segment's index files instead of scanning (and CRC-checking)
//! every byte of it, as Kafka does with `.kafka_cleanshutdown`: a restart then costs the same however full the
//! active segments are. Any other stop (a crash, `kill -9`, a failed close) leaves no marker, and every active
//! segment is scanned and cut at its first torn batch.

use std::path::{Path, PathBuf};

/// The marker's file name in the data directory.
pub(crate) const FILE_NAME: &str = ".clean-shutdown";

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Whether the last stop was clean. Removes the marker (durably) before returning, so a crash of this run, at any
/// point after, is never mistaken for a clean stop.
pub(crate) fn take(data_dir: &Path) -> std::io::Result<bool> {
    match std::fs::remove_file(path(data_dir)) {
        Ok(()) => {
            std::fs::File::open(data_dir)?.sync_all()?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Records a clean stop. Called only after every log's `close` returned Ok: by then each log's data, index files
/// and producer state are durable, so the marker must reach the disk after them (file fsync, then directory fsync).
pub(crate) fn mark(data_dir: &Path) -> std::io::Result<()> {
    let file = std::fs::File::create(path(data_dir))?;
    file.sync_all()?;
    std::fs::File::open(data_dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_removes_the_marker_once() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!take(dir.path()).unwrap(), "no marker in a new data dir");
        mark(dir.path()).unwrap();
        assert!(take(dir.path()).unwrap(), "the marker written by mark is seen");
        assert!(!take(dir.path()).unwrap(), "take removed it, so a crash after start reads as unclean");
    }
}
