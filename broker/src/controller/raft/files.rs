//! Small durable-file helpers for the metadata store: atomic replacement with fsync, JSON files, and running
//! blocking file I/O off the async workers.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Replaces `dir/name` with `bytes` atomically: write a temporary file, fsync it, rename it over the old one,
/// fsync the directory (so the rename itself survives a crash). With `durable == false` the fsyncs are
/// skipped: the rename is still atomic, but a crash may bring back the previous content (or none).
pub(crate) fn replace(dir: &Path, name: &str, bytes: &[u8], durable: bool) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
    file.write_all(bytes)?;
    if durable {
        file.sync_all()?;
    }
    drop(file);
    fs::rename(&tmp, dir.join(name))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Fsyncs a directory, making renames and file creations in it durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads `dir/name` as JSON; `None` when the file does not exist.
pub(crate) fn read_json<T: DeserializeOwned>(dir: &Path, name: &str) -> io::Result<Option<T>> {
    let path = dir.join(name);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces `dir/name` with `value` as JSON (see [`replace`]).
pub(crate) fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T, durable: bool) -> io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
    replace(dir, name, &bytes, durable)
}

/// Runs blocking file I/O on tokio's blocking pool, so fsyncs do not stall the async workers.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| io::Error::other(format!("blocking file task failed: {e}")))?
}
