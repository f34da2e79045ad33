//! The aborted transaction index of one segment (`.txnindex`): one entry per transaction whose ABORT marker lies in
//! the segment, so read_committed fetches can tell consumers which records to drop without reading them.
//!
//! Aborts are rare, so each entry is appended to the file when its marker is appended (no rewrite on roll), and the
//! whole index is held in memory. FORMAT.md documents the bytes.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

/// Bytes of one entry: producer id, first offset, last offset (the marker), each i64 big-endian.
pub(crate) const ENTRY: usize = 24;

/// One aborted transaction of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer whose records to drop.
    pub producer_id: i64,
    /// First offset of the transaction in this partition.
    pub first_offset: i64,
    /// Offset of its ABORT marker.
    pub last_offset: i64,
}

impl AbortedTxn {
    fn encode(&self) -> [u8; ENTRY] {
        let mut out = [0u8; ENTRY];
        out[0..8].copy_from_slice(&self.producer_id.to_be_bytes());
        out[8..16].copy_from_slice(&self.first_offset.to_be_bytes());
        out[16..24].copy_from_slice(&self.last_offset.to_be_bytes());
        out
    }
}

/// Reads a segment's index; `Ok(None)` when there is no file. Checks size and that markers lie in the segment.
pub(crate) fn load(path: &Path, base_offset: i64, next_offset: i64) -> Result<Option<Vec<AbortedTxn>>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read: {e}")),
    };
    if bytes.len() % ENTRY != 0 {
        return Err(format!("size {} is not a multiple of {ENTRY}", bytes.len()));
    }
    let be = |b: &[u8]| {
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        i64::from_be_bytes(a)
    };
    let mut out = Vec::with_capacity(bytes.len() / ENTRY);
    for e in bytes.chunks_exact(ENTRY) {
        let t = AbortedTxn { producer_id: be(&e[0..8]), first_offset: be(&e[8..16]), last_offset: be(&e[16..24]) };
        if t.last_offset < base_offset || t.last_offset >= next_offset || t.first_offset > t.last_offset {
            return Err(format!("entry {t:?} does not belong to offsets {base_offset}..{next_offset}"));
        }
        out.push(t);
    }
    Ok(Some(out))
}

/// Appends one entry to the file (created if missing).
pub(crate) fn append(path: &Path, txn: &AbortedTxn) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(&txn.encode())
}

/// Replaces the file with `entries` (after recovery re-derived them); removes it when there are none.
pub(crate) fn write_all(path: &Path, entries: &[AbortedTxn]) -> std::io::Result<()> {
    if entries.is_empty() {
        return super::segment::remove_if_exists(path);
    }
    let bytes: Vec<u8> = entries.iter().flat_map(AbortedTxn::encode).collect();
    super::index::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_bad_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.txnindex");
        assert_eq!(load(&path, 0, 100).unwrap(), None);
        let a = AbortedTxn { producer_id: 3, first_offset: 5, last_offset: 9 };
        let b = AbortedTxn { producer_id: 4, first_offset: 1, last_offset: 20 };
        append(&path, &a).unwrap();
        append(&path, &b).unwrap();
        assert_eq!(load(&path, 0, 100).unwrap(), Some(vec![a, b]));
        assert!(load(&path, 10, 100).is_err(), "marker 9 lies before the segment");
        std::fs::write(&path, [0u8; 5]).unwrap();
        assert!(load(&path, 0, 100).is_err());
        write_all(&path, &[]).unwrap();
        assert!(!path.exists());
    }
}
