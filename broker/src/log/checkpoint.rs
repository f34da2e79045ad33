//! The `log-start-offset` checkpoint: the first offset DeleteRecords and retention left readable.
//!
//! Text, so an operator can read it: a version line `0`, then the offset in decimal, each ending in `\n`.
//! Written atomically (tmp file, fsync, rename, fsync of the directory).

use std::path::Path;

use super::error::LogError;
use super::index::write_atomic;

/// The checkpoint's file name inside the partition directory.
pub(crate) const FILE_NAME: &str = "log-start-offset";

/// Reads the checkpoint; `None` when there is none yet.
pub(crate) fn read(dir: &Path) -> Result<Option<i64>, LogError> {
    let path = dir.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut lines = text.lines();
    let bad = |what: &str| LogError::File {
        path: path.clone(),
        message: format!(
            "{what}; expected a line `0` then the offset; delete the file to start from the first segment"
        ),
    };
    if lines.next() != Some("0") {
        return Err(bad("unknown checkpoint version"));
    }
    let offset = lines.next().and_then(|l| l.trim().parse::<i64>().ok()).ok_or_else(|| bad("no offset"))?;
    Ok(Some(offset))
}

/// Writes the checkpoint atomically.
pub(crate) fn write(dir: &Path, offset: i64) -> Result<(), LogError> {
    write_atomic(&dir.join(FILE_NAME), format!("0\n{offset}\n").as_bytes())?;
    sync_dir(dir)?;
    Ok(())
}

/// Makes renames and new files in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}
