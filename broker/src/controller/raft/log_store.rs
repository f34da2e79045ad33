//! The durable Raft log and vote of the metadata quorum.
//!
//! Layout under `__cluster_metadata/`:
//! - `log`: records `[u32 length][u32 crc32c][JSON entry]`, appended and fsynced before openraft is told
//!   they are stored; truncation cuts the file; on open a torn or corrupt tail (a crash mid-append, never
//!   acknowledged) is cut off.
//! - `purged.json`: the last purged log id (fsynced before the purged entries are dropped). The file is then
//!   rewritten with the remaining entries (temporary file, fsync, rename).
//! - `vote.json`: the vote, fsynced before it is acknowledged.
//! - `committed.json`: the last committed log id, so a restarted node re-applies its committed entries at once
//!   instead of waiting for a leader. Written atomically but not fsynced: losing it only delays that.
//!
//! Entries are also kept in memory (the metadata log is small: snapshots purge it), shared with log readers.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::ops::RangeBounds;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{OptionalSend, StorageError, StorageIOError, Vote};
use parking_lot::{Mutex, RwLock};

use super::files::{self, blocking};
use super::{LogEntry, LogId, TypeConfig};

const LOG_FILE: &str = "log";
const PURGED_FILE: &str = "purged.json";
const VOTE_FILE: &str = "vote.json";
const COMMITTED_FILE: &str = "committed.json";
/// Record header: length and CRC-32C of the JSON body.
const HEADER: usize = 8;
/// A record longer than this is corruption, not an entry.
const MAX_RECORD: usize = 64 * 1024 * 1024;

type Entries = Arc<RwLock<BTreeMap<u64, LogEntry>>>;

/// The log file with the byte offset of each record in it.
struct LogFile {
    dir: PathBuf,
    file: File,
    len: u64,
    offsets: BTreeMap<u64, u64>,
}

/// openraft's log storage: the log, the vote and the committed log id.
pub(crate) struct LogStore {
    dir: PathBuf,
    file: Arc<Mutex<LogFile>>,
    entries: Entries,
    vote: Option<Vote<u64>>,
    purged: Option<LogId>,
    committed: Option<LogId>,
    /// Index + 1 of the last committed entry (0: none), for status reports.
    committed_gauge: Arc<AtomicU64>,
}

/// A reader of the in-memory entries, used by openraft's replication tasks.
#[derive(Clone)]
pub(crate) struct LogReader {
    entries: Entries,
}

impl LogStore {
    /// Opens (or creates) the log in `dir`, cutting off a torn tail.
    pub(crate) fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let purged: Option<LogId> = files::read_json(dir, PURGED_FILE)?;
        let vote: Option<Vote<u64>> = files::read_json(dir, VOTE_FILE)?;
        // Not fsynced, so it may be missing or empty after a crash: then re-applying waits for a leader.
        let committed: Option<LogId> = files::read_json(dir, COMMITTED_FILE).unwrap_or(None);
        let (file, entries) = LogFile::open(dir, purged.map(|p| p.index))?;
        let last = entries.last_key_value().map(|(_, e)| e.log_id).or(purged);
        // Committed entries are always durable here (appends are fsynced before anything can commit them), so
        // a committed id past the log can only be a stray file: forget it rather than claim entries we lack.
        let committed = committed.filter(|c| Some(c.index) <= last.map(|l| l.index));
        let committed_gauge = Arc::new(AtomicU64::new(committed.map_or(0, |c| c.index + 1)));
        Ok(Self {
            dir: dir.to_path_buf(),
            file: Arc::new(Mutex::new(file)),
            entries: Arc::new(RwLock::new(entries)),
            vote,
            purged,
            committed,
            committed_gauge,
        })
    }

    /// The last committed index this node knows, shared for status reports (index + 1; 0 = none).
    pub(crate) fn committed_gauge(&self) -> Arc<AtomicU64> {
        self.committed_gauge.clone()
    }
}

impl LogFile {
    /// Reads every record of `dir/log`; entries at or below `purged` are skipped.
    fn open(dir: &Path, purged: Option<u64>) -> io::Result<(Self, BTreeMap<u64, LogEntry>)> {
        let path = dir.join(LOG_FILE);
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let mut entries = BTreeMap::new();
        let mut offsets = BTreeMap::new();
        let mut pos = 0usize;
        while let Some((entry, size)) = decode_record(&bytes[pos..]) {
            let index = entry.log_id.index;
            if purged.is_none_or(|p| index > p) {
                if let Some((&last, _)) = entries.last_key_value() {
                    if index != last + 1 {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{}: entry {index} follows entry {last}; the log has a hole", path.display()),
                        ));
                    }
                }
                offsets.insert(index, pos as u64);
                entries.insert(index, entry);
            }
            pos += size;
        }
        if pos < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                kept = pos,
                dropped = bytes.len() - pos,
                "cutting off a torn or corrupt tail of the metadata log (an append interrupted by a crash)"
            );
            file.set_len(pos as u64)?;
            file.sync_all()?;
        }
        Ok((Self { dir: dir.to_path_buf(), file, len: pos as u64, offsets }, entries))
    }

    /// Appends encoded records and fsyncs.
    fn append(&mut self, bytes: &[u8], offsets: &[(u64, u64)]) -> io::Result<()> {
        self.file.write_all_at(bytes, self.len)?;
        self.file.sync_data()?;
        for &(index, relative) in offsets {
            self.offsets.insert(index, self.len + relative);
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Cuts the file before the record of `index` (and everything after it).
    fn truncate(&mut self, index: u64) -> io::Result<()> {
        let Some(&offset) = self.offsets.get(&index) else { return Ok(()) };
        self.file.set_len(offset)?;
        self.file.sync_data()?;
        self.offsets.split_off(&index);
        self.len = offset;
        Ok(())
    }

    /// Rewrites the file with only `remaining` (after a purge), atomically.
    fn rewrite(&mut self, remaining: &[LogEntry]) -> io::Result<()> {
        let mut bytes = Vec::new();
        let mut offsets = BTreeMap::new();
        for entry in remaining {
            offsets.insert(entry.log_id.index, bytes.len() as u64);
            encode_record(entry, &mut bytes)?;
        }
        files::replace(&self.dir, LOG_FILE, &bytes, true)?;
        self.file = OpenOptions::new().read(true).write(true).open(self.dir.join(LOG_FILE))?;
        self.len = bytes.len() as u64;
        self.offsets = offsets;
        Ok(())
    }
}

fn encode_record(entry: &LogEntry, out: &mut Vec<u8>) -> io::Result<()> {
    let body = serde_json::to_vec(entry).map_err(io::Error::other)?;
    let len = u32::try_from(body.len()).map_err(|_| io::Error::other("log entry too large"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    out.extend_from_slice(&body);
    Ok(())
}

/// The first record of `bytes` and its size, or `None` if it is incomplete or corrupt.
fn decode_record(bytes: &[u8]) -> Option<(LogEntry, usize)> {
    let header = bytes.get(..HEADER)?;
    let len = u32::from_be_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_be_bytes(header[4..8].try_into().ok()?);
    if len > MAX_RECORD {
        return None;
    }
    let body = bytes.get(HEADER..HEADER + len)?;
    if crc32c::crc32c(body) != crc {
        return None;
    }
    let entry = serde_json::from_slice(body).ok()?;
    Some((entry, HEADER + len))
}

fn read_range<RB: RangeBounds<u64>>(entries: &Entries, range: RB) -> Vec<LogEntry> {
    entries.read().range(range).map(|(_, e)| e.clone()).collect()
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<LogEntry>, StorageError<u64>> {
        Ok(read_range(&self.entries, range))
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<LogEntry>, StorageError<u64>> {
        Ok(read_range(&self.entries, range))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<u64>> {
        let last = self.entries.read().last_key_value().map(|(_, e)| e.log_id);
        Ok(LogState { last_purged_log_id: self.purged, last_log_id: last.or(self.purged) })
    }

    async fn get_log_reader(&mut self) -> LogReader {
        LogReader { entries: self.entries.clone() }
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        let dir = self.dir.clone();
        let value = *vote;
        blocking(move || files::write_json(&dir, VOTE_FILE, &value, true))
            .await
            .map_err(|e| StorageIOError::write_vote(&e))?;
        self.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        Ok(self.vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError<u64>> {
        if committed == self.committed {
            return Ok(());
        }
        let dir = self.dir.clone();
        blocking(move || files::write_json(&dir, COMMITTED_FILE, &committed, false))
            .await
            .map_err(|e| StorageIOError::write(&e))?;
        self.committed = committed;
        self.committed_gauge.store(committed.map_or(0, |c| c.index + 1), Ordering::Relaxed);
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError<u64>> {
        Ok(self.committed)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = LogEntry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<LogEntry> = entries.into_iter().collect();
        let mut bytes = Vec::new();
        let mut offsets = Vec::with_capacity(entries.len());
        for entry in &entries {
            offsets.push((entry.log_id.index, bytes.len() as u64));
            encode_record(entry, &mut bytes).map_err(|e| StorageIOError::write_logs(&e))?;
        }
        let file = self.file.clone();
        let written = blocking(move || file.lock().append(&bytes, &offsets)).await;
        match written {
            Ok(()) => {
                let mut map = self.entries.write();
                for entry in entries {
                    map.insert(entry.log_id.index, entry);
                }
                drop(map);
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                let error = StorageIOError::write_logs(&e);
                callback.log_io_completed(Err(e));
                Err(error.into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError<u64>> {
        let file = self.file.clone();
        let index = log_id.index;
        blocking(move || file.lock().truncate(index)).await.map_err(|e| StorageIOError::write_logs(&e))?;
        self.entries.write().split_off(&index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError<u64>> {
        let dir = self.dir.clone();
        // First make the purge point durable: entries at or below it are ignored from then on, even if the file
        // still holds them after a crash.
        blocking(move || files::write_json(&dir, PURGED_FILE, &Some(log_id), true))
            .await
            .map_err(|e| StorageIOError::write_logs(&e))?;
        self.purged = Some(log_id);
        let remaining: Vec<LogEntry> = {
            let mut map = self.entries.write();
            *map = map.split_off(&(log_id.index + 1));
            map.values().cloned().collect()
        };
        let file = self.file.clone();
        blocking(move || file.lock().rewrite(&remaining)).await.map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "log_store_tests.rs"]
mod tests;
