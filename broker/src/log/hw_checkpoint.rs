//! The `high-watermark-checkpoint` file: the high watermark of a replicated partition, as of its last
//! checkpoint (Kafka's `replication-offset-checkpoint`, per partition). After a restart it seeds the high
//! watermark, so a follower's fallback truncation ("cut to the high watermark") keeps what every ISR member had
//! instead of the whole log.
//!
//! Text: a version line `0`, then the offset in decimal, each ending in `\n`. Written atomically (tmp file, rename)
//! without fsync: the value is only a lower bound of the real high watermark and is clamped to the log at open; a
//! file lost or emptied by a power failure reads as "unknown", which is the log start (the old behaviour).

use std::io::Write;
use std::path::Path;

use super::error::LogError;

/// The file's name inside the partition directory.
pub(crate) const FILE_NAME: &str = "high-watermark-checkpoint";

/// Reads the checkpoint; `None` when there is none, or when it is garbled (logged: the high watermark then starts
/// at the log start, which is always safe).
pub(crate) fn read(dir: &Path) -> Result<Option<i64>, LogError> {
    let path = dir.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            tracing::warn!("ignoring {}: not text; the high watermark starts at the log start", path.display());
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let mut lines = text.lines();
    let offset = match (lines.next(), lines.next().map(|l| l.trim().parse::<i64>())) {
        (Some("0"), Some(Ok(offset))) if offset >= 0 => offset,
        _ => {
            tracing::warn!(
                "ignoring {}: expected a line `0` then the offset; the high watermark starts at the log start",
                path.display()
            );
            return Ok(None);
        }
    };
    Ok(Some(offset))
}

/// Writes the checkpoint atomically (tmp file then rename; no fsync, see the module doc).
pub(crate) fn write(dir: &Path, offset: i64) -> Result<(), LogError> {
    let path = dir.join(FILE_NAME);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(format!("0\n{offset}\n").as_bytes())?;
    drop(file);
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

/// What the partition knows about its checkpoint, behind its own mutex. Lock order: the append lock (if taken)
/// before this one, never the other way round.
#[derive(Debug, Default)]
pub(crate) struct HwCheckpoint {
    /// The value read at open (clamped to the log then), applied when replicated mode is first turned on.
    pub(crate) loaded: Option<i64>,
    /// The value the file holds (as far as this process knows): `None` when there is no readable file.
    pub(crate) written: Option<i64>,
}
