//! Tests of the storage engine, each on a fresh temporary directory, with batches built by kafka-protocol's
//! encoder as a producer would send them. Time is passed explicitly: no sleeps.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

use super::*;
use crate::config::topic::TimestampType as TopicTimestampType;
use crate::config::TopicConfig;

/// One producer batch of records `(key, value, timestamp)`, offsets from 0.
fn batch_of(records: &[(Option<&str>, Option<&str>, i64)], compression: Compression) -> Vec<u8> {
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
fn batch(n: usize, tag: &str, ts: i64) -> Vec<u8> {
    let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    let values: Vec<String> = (0..n).map(|i| format!("v{tag}-{i}")).collect();
    let recs: Vec<(Option<&str>, Option<&str>, i64)> =
        (0..n).map(|i| (Some(keys[i].as_str()), Some(values[i].as_str()), ts)).collect();
    batch_of(&recs, Compression::None)
}

fn small_segments() -> TopicConfig {
    TopicConfig { segment_bytes: 300, index_interval_bytes: 100, ..TopicConfig::default() }
}

/// Every record readable from `from`, as (offset, key, value, timestamp).
fn read_all(log: &PartitionLog, from: i64) -> Vec<(i64, Option<String>, Option<String>, i64)> {
    let r = log.read(from, u32::MAX, i64::MAX).unwrap();
    let mut bytes = BytesMut::new();
    for s in &r.slices {
        bytes.extend_from_slice(&s.read_to_bytes().unwrap());
    }
    assert_eq!(bytes.len(), r.total_len as usize);
    let mut bytes = bytes.freeze();
    let sets = RecordBatchDecoder::decode_all(&mut bytes).unwrap();
    let s = |b: &Option<Bytes>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
    sets.into_iter()
        .flat_map(|set| set.records)
        .map(|r| (r.offset, s(&r.key), s(&r.value), r.timestamp))
        .collect()
}

fn offsets(log: &PartitionLog, from: i64) -> Vec<i64> {
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
    let r = log.read(0, u32::MAX, 5).unwrap();
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
    let mut expected = Vec::new();
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

fn active_segment(dir: &std::path::Path) -> std::path::PathBuf {
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
    let config =
        TopicConfig { message_timestamp_type: TopicTimestampType::LogAppendTime, ..TopicConfig::default() };
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
