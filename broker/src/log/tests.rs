//! Tests of the storage engine, each on a fresh temporary directory, with batches built by kafka-protocol's
//! encoder as a producer would send them. Time is passed explicitly: no sleeps.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::*;
use crate::config::topic::TimestampType as TopicTimestampType;
use crate::config::TopicConfig;

/// One producer batch of records `(key, value, timestamp)`, offsets from 0.
pub(super) fn batch_of(records: &[(Option<&str>, Option<&str>, i64)], compression: Compression) -> Vec<u8> {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v, ts))| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder splits batches where offset - sequence changes; -1 + i keeps base sequence -1.
            sequence: i as i32 - 1,
            timestamp: *ts,
            key: k.map(|k| Bytes::copy_from_slice(k.as_bytes())),
            value: v.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression }).unwrap();
    buf.to_vec()
}

/// A batch of `n` keyed records `k<i>` = `v<tag>-<i>` with timestamp `ts`.
pub(super) fn batch(n: usize, tag: &str, ts: i64) -> Vec<u8> {
    let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    let values: Vec<String> = (0..n).map(|i| format!("v{tag}-{i}")).collect();
    let recs: Vec<(Option<&str>, Option<&str>, i64)> =
        (0..n).map(|i| (Some(keys[i].as_str()), Some(values[i].as_str()), ts)).collect();
    batch_of(&recs, Compression::None)
}

pub(super) fn small_segments() -> TopicConfig {
    TopicConfig { segment_bytes: 300, index_interval_bytes: 100, ..TopicConfig::default() }
}

/// Every record readable from `from`, as (offset, key, value, timestamp).
pub(super) fn read_all(log: &PartitionLog, from: i64) -> Vec<(i64, Option<String>, Option<String>, i64)> {
    let r = log.read(from, u32::MAX, i64::MAX).unwrap();
    let mut bytes = BytesMut::new();
    for s in &r.slices {
        bytes.extend_from_slice(&s.read_to_bytes().unwrap());
    }
    assert_eq!(bytes.len(), r.total_len as usize);
    let mut bytes = bytes.freeze();
    let sets = RecordBatchDecoder::decode_all(&mut bytes).unwrap();
    let s = |b: &Option<Bytes>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
    sets.into_iter().flat_map(|set| set.records).map(|r| (r.offset, s(&r.key), s(&r.value), r.timestamp)).collect()
}

pub(super) fn offsets(log: &PartitionLog, from: i64) -> Vec<i64> {
    read_all(log, from).into_iter().map(|r| r.0).collect()
}

#[test]
fn append_assigns_offsets_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    let mut rx = log.subscribe();
    let a = log.append(&batch(3, "a", 1000), 5000).unwrap();
    assert_eq!((a.base_offset, a.last_offset, a.record_count, a.log_append_time), (0, 2, 3, -1));
    assert!(rx.has_changed().unwrap());
    assert_eq!(*rx.borrow_and_update(), 3);
    // Two batches in one request.
    let mut two = batch(2, "b", 1001);
    two.extend(batch(1, "c", 1002));
    let b = log.append(&two, 5001).unwrap();
    assert_eq!((b.base_offset, b.last_offset, b.record_count), (3, 5, 3));
    assert_eq!(log.log_end_offset(), 6);
    assert_eq!(offsets(&log, 0), vec![0, 1, 2, 3, 4, 5]);
    let all = read_all(&log, 0);
    assert_eq!(all[3], (3, Some("k0".into()), Some("vb-0".into()), 1001));
    // From the middle of a batch: the whole batch holding it.
    assert_eq!(offsets(&log, 4), vec![3, 4, 5]);
    assert_eq!(offsets(&log, 5), vec![5]);
    // At the log end: empty; beyond: out of range.
    let r = log.read(6, 1000, i64::MAX).unwrap();
    assert!(r.slices.is_empty());
    assert_eq!((r.total_len, r.high_watermark), (0, 6));
    assert!(matches!(log.read(7, 1000, i64::MAX), Err(ReadError::OffsetOutOfRange { log_end: 6, .. })));
    assert!(matches!(log.read(-1, 1000, i64::MAX), Err(ReadError::OffsetOutOfRange { .. })));
    // A tiny max_bytes still gives one whole batch.
    let r = log.read(0, 1, i64::MAX).unwrap();
    assert_eq!(r.total_len as usize, batch(3, "a", 1000).len());
    // The upper bound stops before the batch that reaches it.
    let r = log.read(0, u32::MAX, 4).unwrap();
    assert_eq!(r.total_len as usize, batch(3, "a", 1000).len());
    let r = log.read(3, u32::MAX, 3).unwrap();
    assert!(r.slices.is_empty());
    // Stored batches carry the assigned offsets and still pass their CRC.
    let bytes = log.read(0, u32::MAX, i64::MAX).unwrap().slices[0].read_to_bytes().unwrap();
    let h = batch::validate_batches(&bytes, u32::MAX).unwrap();
    assert_eq!(h.iter().map(|h| h.base_offset).collect::<Vec<_>>(), vec![0, 3, 5]);
}

#[test]
fn rejects_bad_batches_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let config = TopicConfig { max_message_bytes: 200, ..TopicConfig::default() };
    let log = PartitionLog::open(dir.path(), config).unwrap();
    let mut good_then_bad = batch(1, "a", 1);
    let mut bad = batch(1, "b", 1);
    let n = bad.len();
    bad[n - 1] ^= 0xff;
    good_then_bad.extend(&bad);
    let e = log.append(&good_then_bad, 0).unwrap_err();
    assert!(matches!(e, AppendError::Corrupt(_)), "{e}");
    assert_eq!(e.kafka_code(), 2);
    let e = log.append(&batch(20, "big", 1), 0).unwrap_err();
    assert_eq!(e.kafka_code(), 10);
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size_bytes(), 0);
}

#[test]
fn segments_roll_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let expected;
    {
        let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        for i in 0..20 {
            log.append(&batch(2, &i.to_string(), 1000 + i), 1000 + i).unwrap();
        }
        assert!(log.segment_count() > 3, "segments: {}", log.segment_count());
        expected = read_all(&log, 0);
        // No close: as after kill -9, the active segment's indexes exist only in memory.
    }
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.log_end_offset(), 40);
    assert_eq!(read_all(&log, 0), expected);
    for from in 0..40 {
        assert_eq!(offsets(&log, from).last(), Some(&39));
        assert!(offsets(&log, from)[0] <= from);
    }
    let next = log.append(&batch(1, "x", 5), 5).unwrap();
    assert_eq!(next.base_offset, 40);
    log.close().unwrap();
    drop(log);
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.log_end_offset(), 41);
}

pub(super) fn active_segment(dir: &std::path::Path) -> std::path::PathBuf {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

#[test]
fn torn_tail_is_truncated_to_the_last_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let sizes: Vec<u64> = {
        let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
        (0..3)
            .map(|i| {
                log.append(&batch(2, &i.to_string(), 1), 1).unwrap();
                log.size_bytes()
            })
            .collect()
    };
    let path = active_segment(dir.path());
    // Cut in the middle of the third batch.
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(sizes[2] - 5).unwrap();
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    assert_eq!(log.log_end_offset(), 4);
    assert_eq!(log.size_bytes(), sizes[1]);
    assert_eq!(offsets(&log, 0), vec![0, 1, 2, 3]);
    assert_eq!(log.append(&batch(1, "n", 1), 1).unwrap().base_offset, 4);
    drop(log);
    // Garbage after the last batch.
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    std::io::Write::write_all(&mut f, &[0xAB; 100]).unwrap();
    drop(f);
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(offsets(&log, 0), vec![0, 1, 2, 3, 4]);
}

#[test]
fn damaged_indexes_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        for i in 0..20 {
            log.append(&batch(2, "v", i), i).unwrap();
        }
        log.close().unwrap();
    }
    let mut indexes: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "index"))
        .collect();
    indexes.sort();
    std::fs::write(&indexes[0], [1, 2, 3]).unwrap();
    std::fs::write(&indexes[1], [0, 0, 0, 1, 0, 0, 0, 7]).unwrap();
    std::fs::remove_file(&indexes[2]).unwrap();
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    for from in 0..40 {
        assert_eq!(offsets(&log, from).last(), Some(&39), "from {from}");
    }
    assert_eq!(std::fs::read(&indexes[0]).unwrap().len() % 8, 0);
    assert!(indexes[2].exists());
}

#[test]
fn log_append_time_stamps_batches() {
    let dir = tempfile::tempdir().unwrap();
    let config = TopicConfig { message_timestamp_type: TopicTimestampType::LogAppendTime, ..TopicConfig::default() };
    let log = PartitionLog::open(dir.path(), config).unwrap();
    let info = log.append(&batch(3, "a", 10), 777_000).unwrap();
    assert_eq!(info.log_append_time, 777_000);
    let bytes = log.read(0, u32::MAX, i64::MAX).unwrap().slices[0].read_to_bytes().unwrap();
    let h = batch::validate_batches(&bytes, u32::MAX).unwrap()[0];
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp, 777_000);
    assert_eq!(log.offset_for_timestamp(700_000).unwrap(), Some((0, 777_000)));
    assert_eq!(log.max_timestamp().unwrap(), Some((0, 777_000)));
}

#[test]
fn delete_records_moves_the_start_and_drops_whole_segments() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    for i in 0..10 {
        log.append(&batch(2, &i.to_string(), i), i).unwrap();
    }
    let before = log.segment_count();
    assert_eq!(log.delete_records_before(13).unwrap(), 13);
    assert_eq!(log.log_start_offset(), 13);
    assert!(log.segment_count() < before);
    assert!(matches!(log.read(12, 100, i64::MAX), Err(ReadError::OffsetOutOfRange { log_start: 13, .. })));
    // The batch holding offset 13 is returned whole.
    assert_eq!(offsets(&log, 13)[0], 12);
    // Lower offsets change nothing; beyond the end is out of range.
    assert_eq!(log.delete_records_before(3).unwrap(), 13);
    assert!(matches!(log.delete_records_before(21), Err(ReadError::OffsetOutOfRange { .. })));
    drop(log);
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.log_start_offset(), 13);
    // -1 means the log end.
    assert_eq!(log.delete_records_before(-1).unwrap(), 20);
    assert!(log.read(20, 100, i64::MAX).unwrap().slices.is_empty());
    assert_eq!(log.append(&batch(1, "z", 1), 1).unwrap().base_offset, 20);
    assert_eq!(offsets(&log, 20), vec![20]);
}

#[test]
fn retention_by_time_rolls_and_deletes_expired_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = TopicConfig { retention_ms: 1000, ..small_segments() };
    let log = PartitionLog::open(dir.path(), config).unwrap();
    for i in 0..10 {
        log.append(&batch(2, "old", 10_000 + i), 10_000 + i).unwrap();
    }
    assert_eq!(log.enforce_retention(10_500).unwrap(), 0);
    // Everything is older than 1000 ms at 20_000, the active segment too: all is deleted, the end is kept.
    let deleted = log.enforce_retention(20_000).unwrap();
    assert!(deleted >= 3, "deleted {deleted}");
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (20, 20));
    assert_eq!(log.size_bytes(), 0);
    assert_eq!(log.append(&batch(1, "new", 20_000), 20_000).unwrap().base_offset, 20);
    drop(log);
    let log = PartitionLog::open(dir.path(), TopicConfig { retention_ms: 1000, ..small_segments() }).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (20, 21));
    // Compact-only topics are never deleted by retention.
    log.set_config(TopicConfig { cleanup_delete: false, cleanup_compact: true, retention_ms: 0, ..small_segments() });
    assert_eq!(log.enforce_retention(99_999).unwrap(), 0);
}

#[test]
fn retention_by_size_keeps_at_least_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    for i in 0..20 {
        log.append(&batch(2, "s", i), i).unwrap();
    }
    let total = log.size_bytes();
    log.set_config(TopicConfig { retention_bytes: (total / 2) as i64, ..small_segments() });
    assert!(log.enforce_retention(30).unwrap() > 0);
    assert!(log.size_bytes() >= total / 2);
    assert!(log.size_bytes() < total);
    let start = log.log_start_offset();
    assert!(start > 0);
    assert_eq!(offsets(&log, start)[0], start);
    assert_eq!(log.log_end_offset(), 40);
}

#[test]
fn offset_for_timestamp_and_max_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), TopicConfig { index_interval_bytes: 0, ..small_segments() }).unwrap();
    assert_eq!(log.max_timestamp().unwrap(), None);
    for i in 0..10i64 {
        // Records at 100*i and 100*i + 50; batch 7 goes back in time.
        let ts = if i == 7 { 5 } else { 100 * i };
        let recs = [(Some("a"), Some("x"), ts), (Some("b"), Some("y"), ts + 50)];
        log.append(&batch_of(&recs, Compression::None), 0).unwrap();
    }
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 0)));
    assert_eq!(log.offset_for_timestamp(100).unwrap(), Some((2, 100)));
    assert_eq!(log.offset_for_timestamp(120).unwrap(), Some((3, 150)));
    assert_eq!(log.offset_for_timestamp(150).unwrap(), Some((3, 150)));
    assert_eq!(log.offset_for_timestamp(620).unwrap(), Some((13, 650)));
    assert_eq!(log.offset_for_timestamp(660).unwrap(), Some((16, 800)));
    assert_eq!(log.offset_for_timestamp(951).unwrap(), None);
    assert_eq!(log.max_timestamp().unwrap(), Some((19, 950)));
    drop(log);
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.offset_for_timestamp(620).unwrap(), Some((13, 650)));
    assert_eq!(log.max_timestamp().unwrap(), Some((19, 950)));
}

#[test]
fn flush_policies_and_close() {
    let dir = tempfile::tempdir().unwrap();
    let log =
        PartitionLog::open(dir.path(), TopicConfig { flush_messages: 1, flush_ms: 100, ..TopicConfig::default() })
            .unwrap();
    log.append(&batch(2, "f", 1), 1).unwrap();
    log.maybe_flush(50).unwrap();
    log.maybe_flush(500).unwrap();
    log.flush().unwrap();
    log.close().unwrap();
    assert!(dir.path().join("00000000000000000000.index").exists());
    assert!(dir.path().join("00000000000000000000.timeindex").exists());
}

#[test]
fn segment_ms_rolls_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), TopicConfig { segment_ms: 1000, ..TopicConfig::default() }).unwrap();
    log.append(&batch(1, "a", 1), 10_000).unwrap();
    log.append(&batch(1, "b", 1), 10_500).unwrap();
    assert_eq!(log.segment_count(), 1);
    log.append(&batch(1, "c", 1), 11_000).unwrap();
    assert_eq!(log.segment_count(), 2);
    assert_eq!(offsets(&log, 0), vec![0, 1, 2]);
}

fn compacted() -> TopicConfig {
    TopicConfig { cleanup_compact: true, cleanup_delete: false, delete_retention_ms: 1000, ..small_segments() }
}

#[test]
fn compacted_topics_refuse_records_without_key() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), compacted()).unwrap();
    let e = log.append(&batch_of(&[(None, Some("v"), 1)], Compression::None), 1).unwrap_err();
    assert!(matches!(e, AppendError::InvalidRecord(_)), "{e}");
    assert_eq!(e.kafka_code(), 87);
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn compaction_keeps_the_latest_value_per_key_and_drops_old_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), compacted()).unwrap();
    // Round r writes a=r, b=r (gzip-compressed every other round); c is deleted in round 3.
    for r in 0..8i64 {
        let (a, b) = (format!("a{r}"), format!("b{r}"));
        let compression = if r % 2 == 0 { Compression::None } else { Compression::Gzip };
        log.append(&batch_of(&[(Some("a"), Some(&a), 100 + r), (Some("b"), Some(&b), 100 + r)], compression), 100)
            .unwrap();
        if r == 1 {
            log.append(&batch_of(&[(Some("c"), Some("c1"), 101)], Compression::None), 100).unwrap();
        }
        if r == 3 {
            log.append(&batch_of(&[(Some("c"), None, 103)], Compression::None), 100).unwrap();
        }
    }
    let end = log.log_end_offset();
    let before = read_all(&log, 0);
    // Tombstones are young at 500 (delete.retention.ms 1000): the tombstone for c stays.
    let stats = log.compact(500).unwrap();
    assert!(stats.segments_cleaned > 0 && stats.records_removed > 0, "{stats:?}");
    let after = read_all(&log, 0);
    assert!(after.len() < before.len());
    assert_eq!(log.log_end_offset(), end);
    // Offsets are preserved and increasing; the last value of every key in the log is unchanged.
    let offs: Vec<i64> = after.iter().map(|r| r.0).collect();
    assert!(offs.windows(2).all(|w| w[0] < w[1]));
    let last = |rs: &[(i64, Option<String>, Option<String>, i64)], k: &str| {
        rs.iter().rev().find(|r| r.1.as_deref() == Some(k)).cloned()
    };
    for k in ["a", "b", "c"] {
        assert_eq!(last(&after, k), last(&before, k), "key {k}");
    }
    assert!(after.iter().any(|r| r.1.as_deref() == Some("c") && r.2.is_none()), "young tombstone kept");
    // Within the cleaned (closed) segments each key appears at most once.
    let active_base = {
        let state = log.lock_state();
        state.segments.last().unwrap().base_offset
    };
    let mut seen = std::collections::HashSet::new();
    for r in after.iter().filter(|r| r.0 < active_base) {
        assert!(seen.insert(r.1.clone()), "duplicate key {:?} below the active segment", r.1);
    }
    // Much later, the tombstone (if in a closed segment) goes, and c1 never comes back.
    log.compact(10_000).unwrap();
    let later = read_all(&log, 0);
    assert!(!later.iter().any(|r| r.2.as_deref() == Some("c1")));
    // Everything survives a restart, and the rebuilt indexes serve every offset.
    drop(log);
    let log = PartitionLog::open(dir.path(), compacted()).unwrap();
    assert_eq!(read_all(&log, 0), later);
    assert_eq!(log.log_end_offset(), end);
    for from in 0..end {
        let got = offsets(&log, from);
        assert!(got.iter().all(|&o| o < end) && got.last() == Some(&(end - 1)), "from {from}");
    }
    // After a restart the cleaner looks once more, finds nothing to remove, then skips until new data comes.
    assert_eq!(log.compact(10_000).unwrap().segments_cleaned, 0);
    assert_eq!(log.compact(10_000).unwrap(), CompactStats::default());
}

#[test]
fn compaction_respects_the_lag_and_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), TopicConfig { min_compaction_lag_ms: 1000, ..compacted() }).unwrap();
    for r in 0..10i64 {
        log.append(&batch(2, &r.to_string(), 5000 + r), 5000).unwrap();
    }
    assert_eq!(log.compact(5500).unwrap().segments_cleaned, 0);
    assert!(log.compact(7000).unwrap().segments_cleaned > 0);
    log.set_config(small_segments());
    assert_eq!(log.compact(99_999).unwrap(), CompactStats::default());
}

#[test]
fn readers_see_whole_batches_while_writers_append() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PartitionLog>();
    let dir = tempfile::tempdir().unwrap();
    let log = std::sync::Arc::new(PartitionLog::open(dir.path(), small_segments()).unwrap());
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    log.append(&batch(2, &format!("{w}-{i}"), i), i).unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let log = log.clone();
        std::thread::spawn(move || {
            for _ in 0..200 {
                let got = offsets(&log, 0);
                assert!(got.iter().enumerate().all(|(i, &o)| o == i as i64));
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    reader.join().unwrap();
    assert_eq!(offsets(&log, 0), (0..300).collect::<Vec<i64>>());
}

/// A slice as (which file, position, length), comparable across two plans of the same log.
type SliceKey = (usize, u64, u32);

/// The read planner before it used the offset index for the end boundary: one header read per batch. Kept as the
/// reference the index-jumping planner must agree with.
fn reference_read(log: &PartitionLog, offset: i64, max_bytes: u32, upper_bound: i64) -> Option<(Vec<SliceKey>, u32)> {
    let state = log.lock_state();
    let (log_start, log_end) = (state.log_start, state.log_end());
    if offset < log_start || offset > log_end {
        return None;
    }
    let end = log_end.min(upper_bound);
    let mut slices = Vec::new();
    let mut total: u64 = 0;
    if offset >= end {
        return Some((slices, 0));
    }
    let key = |s: &segment::Segment, start: u64, end: u64| {
        (std::sync::Arc::as_ptr(&s.file) as usize, start, (end - start) as u32)
    };
    let first = state.segment_index_for(offset);
    'segments: for (i, s) in state.segments.iter().enumerate().skip(first) {
        let mut pos = if i == first { u64::from(s.index.position_for(s.rel(offset))) } else { 0 };
        let mut slice_start = None;
        while pos < s.size {
            let h = segment::read_header_at(&s.file, pos).unwrap().unwrap();
            let size = h.size() as u64;
            if h.next_offset() <= offset {
                pos += size;
                continue;
            }
            if h.last_offset() >= end || (total > 0 && total + size > u64::from(max_bytes)) {
                slices.extend(slice_start.filter(|&st| pos > st).map(|st| key(s, st, pos)));
                break 'segments;
            }
            slice_start.get_or_insert(pos);
            total += size;
            pos += size;
        }
        slices.extend(slice_start.filter(|&st| pos > st).map(|st| key(s, st, pos)));
    }
    Some((slices, total as u32))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// The planner agrees with the header-by-header reference on random logs: several small segments, a dense
    /// index, gaps left by compaction and DeleteRecords, indexes loaded from files after a reopen.
    #[test]
    fn read_plans_match_the_reference_walk(
        batches in proptest::collection::vec((1usize..6, 0usize..3), 1..60),
        segment_bytes in 200u64..2000,
        interval in 0u32..400,
        reopen in proptest::bool::ANY,
        compact in proptest::bool::ANY,
        delete_to in 0i64..20,
        queries in proptest::collection::vec((0i64..400, 0u32..3000, 0i64..400, proptest::bool::ANY), 40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let config = TopicConfig {
            segment_bytes,
            index_interval_bytes: interval,
            cleanup_compact: compact,
            cleanup_delete: !compact,
            delete_retention_ms: 1000,
            ..TopicConfig::default()
        };
        let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
        for (i, &(n, pad)) in batches.iter().enumerate() {
            // Keys repeat across batches so compaction drops records and leaves offset gaps.
            let tag = "x".repeat(pad * 40 + i % 7);
            log.append(&batch(n, &tag, 1000 + i as i64), 1000).unwrap();
        }
        if compact {
            log.compact(1_000_000).unwrap();
        }
        if reopen {
            log.close().unwrap();
            drop(log);
            log = PartitionLog::open(dir.path(), config).unwrap();
        }
        let _ = log.delete_records_before(delete_to.min(log.log_end_offset()));
        let (start, end) = (log.log_start_offset(), log.log_end_offset());
        for (o, max_bytes, ub, unbounded) in queries {
            let offset = start - 2 + o % (end - start + 5);
            let upper_bound = if unbounded { i64::MAX } else { offset - 2 + ub % (end - start + 5) };
            let expected = reference_read(&log, offset, max_bytes, upper_bound);
            let got = log.read(offset, max_bytes, upper_bound);
            match (expected, got) {
                (None, Err(ReadError::OffsetOutOfRange { .. })) => {}
                (Some((slices, total)), Ok(r)) => {
                    let got: Vec<SliceKey> = r
                        .slices
                        .iter()
                        .map(|s| (std::sync::Arc::as_ptr(&s.file) as usize, s.position, s.len))
                        .collect();
                    proptest::prop_assert_eq!(&got, &slices, "read({}, {}, {})", offset, max_bytes, upper_bound);
                    proptest::prop_assert_eq!(r.total_len, total);
                }
                (e, g) => proptest::prop_assert!(false, "read({offset}, {max_bytes}, {upper_bound}): {e:?} vs {g:?}"),
            }
        }
    }
}
