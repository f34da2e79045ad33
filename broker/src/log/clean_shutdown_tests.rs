//! Opening after a clean shutdown: the active segment's index files are trusted instead of scanned, and what
//! the trusting open builds must equal what a scan of the same files builds; anything that does not check out
//! falls back to the scan. Time is passed explicitly: no sleeps.

use std::sync::atomic::Ordering;

use kafka_protocol::records::Compression;

use super::segment::Segment;
use super::tests::{active_segment, batch, batch_of, read_all};
use super::*;
use crate::config::TopicConfig;

/// One large active segment with an index entry every ~100 bytes.
fn dense_index() -> TopicConfig {
    TopicConfig { index_interval_bytes: 100, ..TopicConfig::default() }
}

/// Everything a reader or a follower can observe of a log, plus the active segment's in-memory index.
#[derive(Debug, PartialEq)]
struct Observed {
    end: i64,
    size: u64,
    records: Vec<(i64, Option<String>, Option<String>, i64)>,
    by_timestamp: Vec<Option<(i64, i64)>>,
    max_timestamp: Option<(i64, i64)>,
    epochs: Vec<(i32, i64)>,
    offset_index: Vec<(u32, u32)>,
    first_append_ms: Option<i64>,
}

fn observe(log: &PartitionLog) -> Observed {
    let (offset_index, first_append_ms) = {
        let state = log.lock_state();
        let active = state.segments.last().unwrap();
        (active.index.offsets.clone(), active.first_append_ms)
    };
    Observed {
        end: log.log_end_offset(),
        size: log.size_bytes(),
        records: read_all(log, 0),
        by_timestamp: (0..2_200).step_by(7).map(|ts| log.offset_for_timestamp(ts).unwrap()).collect(),
        max_timestamp: log.max_timestamp().unwrap(),
        epochs: (0..9).map(|e| log.end_offset_for_epoch(e)).collect(),
        offset_index,
        first_append_ms,
    }
}

/// Twenty batches under leader epochs `epochs.0` then `epochs.1`, timestamps rising with one batch going back in
/// time.
fn fill(log: &PartitionLog, from: i64, epochs: (i32, i32)) {
    for i in from..from + 20 {
        log.set_leader_epoch(if i < from + 8 { epochs.0 } else { epochs.1 });
        let ts = if i == from + 5 { 3 } else { 100 * i };
        let recs = [(Some("a"), Some("x"), ts), (Some("b"), Some("y"), ts + 50)];
        log.append(&batch_of(&recs, Compression::None), 0).unwrap();
    }
}

/// A new log in `dir` with [`fill`]'s batches, closed cleanly.
fn filled_and_closed(dir: &std::path::Path) {
    let log = PartitionLog::open(dir, dense_index()).unwrap();
    fill(&log, 0, (1, 4));
    log.close().unwrap();
}

#[test]
fn a_trusting_open_builds_what_a_scan_builds() {
    let dir = tempfile::tempdir().unwrap();
    filled_and_closed(dir.path());
    let scanned = {
        let log = PartitionLog::open(dir.path(), dense_index()).unwrap();
        assert!(log.rewritten.load(Ordering::Relaxed), "a scanned open marks its files for rewriting at close");
        observe(&log)
        // Dropped without close: the files stay as the clean close left them.
    };
    let log = PartitionLog::open_with(dir.path(), dense_index(), true).unwrap();
    assert!(!log.rewritten.load(Ordering::Relaxed), "the index files were trusted, not rescanned");
    assert!(scanned.offset_index.len() > 5, "the test needs several index entries: {:?}", scanned.offset_index);
    assert_eq!(observe(&log), scanned);

    // Appends after a trusting open index where a scan would: the counters were restored, not reset.
    fill(&log, 20, (5, 7));
    let appended = observe(&log);
    drop(log); // as after kill -9
    let log = PartitionLog::open(dir.path(), dense_index()).unwrap();
    assert_eq!(observe(&log), appended);
    assert_eq!(appended.end, 80);
}

/// What a test does to the files, named.
type Damage<'a> = (&'a str, Box<dyn Fn() + 'a>);

#[test]
fn a_torn_tail_or_damaged_index_after_a_clean_shutdown_is_scanned() {
    let dir = tempfile::tempdir().unwrap();
    filled_and_closed(dir.path());
    // What a scan of the undamaged files gives (a live log's `first_append_ms` is its append time instead).
    let clean = observe(&PartitionLog::open(dir.path(), dense_index()).unwrap());
    let active = active_segment(dir.path());
    let index = active.with_extension("index");
    let damage: [Damage<'_>; 4] = [
        ("garbage after the last batch", Box::new(|| {
            let mut f = std::fs::OpenOptions::new().append(true).open(&active).unwrap();
            std::io::Write::write_all(&mut f, &[0xAB; 100]).unwrap();
        })),
        ("half a batch after the last one", Box::new(|| {
            let mut f = std::fs::OpenOptions::new().append(true).open(&active).unwrap();
            std::io::Write::write_all(&mut f, &batch(2, "torn", 5)[..40]).unwrap();
        })),
        ("an index entry pointing into a batch", Box::new(|| {
            let mut bytes = std::fs::read(&index).unwrap();
            let n = bytes.len();
            bytes[n - 1] = bytes[n - 1].wrapping_add(3);
            std::fs::write(&index, bytes).unwrap();
        })),
        ("no index file", Box::new(|| std::fs::remove_file(&index).unwrap())),
    ];
    for (what, damage) in &damage {
        damage();
        let log = PartitionLog::open_with(dir.path(), dense_index(), true).unwrap();
        assert!(log.rewritten.load(Ordering::Relaxed), "{what}: the open fell back to a scan");
        assert_eq!(observe(&log), clean, "{what}");
        // The scanning open cut the tail; its close writes index files the next trusting open can use.
        log.close().unwrap();
        drop(log);
        let log = PartitionLog::open_with(dir.path(), dense_index(), true).unwrap();
        assert!(!log.rewritten.load(Ordering::Relaxed), "{what}: the close after the scan wrote usable files");
        assert_eq!(observe(&log), clean, "{what}, reopened");
    }
}

#[test]
fn an_idle_log_opened_by_a_scan_still_writes_its_files_at_close() {
    let dir = tempfile::tempdir().unwrap();
    let expected = {
        let log = PartitionLog::open(dir.path(), dense_index()).unwrap();
        fill(&log, 0, (1, 4));
        read_all(&log, 0)
        // No close: as after kill -9, the active segment has no index files.
    };
    assert!(Segment::open_active_trusted(dir.path(), 0).unwrap().is_none(), "nothing to trust after a crash");
    let log = PartitionLog::open(dir.path(), dense_index()).unwrap();
    log.close().unwrap();
    drop(log);
    let (trusted, _) = Segment::open_active_trusted(dir.path(), 0).unwrap().expect("usable index files");
    assert_eq!(trusted.next_offset, 40);
    let log = PartitionLog::open_with(dir.path(), dense_index(), true).unwrap();
    assert_eq!(read_all(&log, 0), expected);
}

#[test]
fn an_empty_or_rolled_active_segment_opens_either_way() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = PartitionLog::open(dir.path(), TopicConfig { segment_bytes: 300, ..dense_index() }).unwrap();
        log.close().unwrap();
    }
    let log = PartitionLog::open_with(dir.path(), dense_index(), true).unwrap();
    assert_eq!(log.log_end_offset(), 0);
    for i in 0..10 {
        log.append(&batch(2, &i.to_string(), 1000 + i), 1000 + i).unwrap();
    }
    let config = TopicConfig { segment_bytes: 300, ..dense_index() };
    log.set_config(config.clone());
    for i in 10..20 {
        log.append(&batch(2, &i.to_string(), 1000 + i), 1000 + i).unwrap();
    }
    assert!(log.segment_count() > 2);
    let expected = read_all(&log, 0);
    log.close().unwrap();
    drop(log);
    let log = PartitionLog::open_with(dir.path(), config, true).unwrap();
    assert_eq!(log.log_end_offset(), 40);
    assert_eq!(read_all(&log, 0), expected);
    assert_eq!(log.append(&batch(1, "next", 5), 5).unwrap().base_offset, 40);
}
