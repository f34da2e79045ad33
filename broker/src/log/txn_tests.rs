//! Tests of the log's producer features: idempotent retries and gaps through `append`, transaction markers, the
//! last stable offset, the aborted transaction index, producer state across clean and unclean restarts, and
//! compaction around transactions. Time is passed explicitly: no sleeps.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::*;
use crate::config::TopicConfig;

/// A producer batch of `n` keyed records `k<i>` = `<tag><i>` with sequences from `seq`.
pub(super) fn batch(pid: i64, epoch: i16, seq: i32, n: usize, transactional: bool, tag: &str) -> Vec<u8> {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional,
            control: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: if pid < 0 { i as i32 - 1 } else { seq + i as i32 },
            timestamp: 1_000,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(format!("{tag}{i}"))),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression: Compression::None })
        .unwrap();
    buf.to_vec()
}

/// (offset, value) of every data record readable from 0 below `upper`.
pub(super) fn values(log: &PartitionLog, upper: i64) -> Vec<(i64, String)> {
    let r = log.read(0, u32::MAX, upper).unwrap();
    let mut bytes = BytesMut::new();
    for s in &r.slices {
        bytes.extend_from_slice(&s.read_to_bytes().unwrap());
    }
    let sets = RecordBatchDecoder::decode_all(&mut bytes.freeze()).unwrap();
    sets.into_iter()
        .flat_map(|s| s.records)
        .filter(|r| !r.control)
        .map(|r| (r.offset, String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()))
        .collect()
}

#[test]
fn retries_take_no_offsets_and_gaps_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    assert_eq!(log.append(&batch(1, 0, 0, 3, false, "a"), 10).unwrap().base_offset, 0);
    assert_eq!(log.append(&batch(1, 0, 3, 2, false, "b"), 10).unwrap().base_offset, 3);
    let retry = log.append(&batch(1, 0, 0, 3, false, "a"), 11).unwrap();
    assert_eq!((retry.base_offset, retry.last_offset, retry.record_count), (0, 2, 0));
    assert!(matches!(log.append(&batch(1, 0, 7, 1, false, "c"), 12), Err(AppendError::OutOfOrderSequence(_))));
    assert_eq!(log.log_end_offset(), 5);
    // A producer cannot forge transaction markers.
    let marker = super::txn::marker_batch(1, 0, true, 0, 13).unwrap();
    assert!(matches!(log.append(&marker, 13), Err(AppendError::InvalidRecord(_))));
}

#[test]
fn markers_move_the_last_stable_offset_and_index_aborts() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    log.append(&batch(-1, -1, -1, 2, false, "plain"), 1).unwrap(); // 0..=1
    log.append(&batch(5, 0, 0, 2, true, "t5-"), 1).unwrap(); // 2..=3
    log.append(&batch(6, 0, 0, 1, true, "t6-"), 1).unwrap(); // 4
    assert_eq!((log.last_stable_offset(), log.log_end_offset()), (2, 5));
    let (_, done) = log.write_txn_marker(5, 0, false, 0, 2).unwrap(); // 5
    assert_eq!(done[0], CompletedTxn { producer_id: 5, first_offset: 2, last_offset: 5, aborted: true });
    assert_eq!(log.last_stable_offset(), 4);
    log.write_txn_marker(6, 0, true, 0, 2).unwrap(); // 6
    assert_eq!(log.last_stable_offset(), 7);
    assert_eq!(log.aborted_transactions(0, 7), vec![AbortedTxn { producer_id: 5, first_offset: 2, last_offset: 5 }]);
    assert!(log.aborted_transactions(6, 7).is_empty(), "the abort marker lies before the fetch");
    // A marker with an older epoch than the partition knows is refused.
    log.write_txn_marker(6, 3, false, 0, 3).unwrap();
    assert!(matches!(log.write_txn_marker(6, 2, false, 0, 3), Err(AppendError::InvalidProducerEpoch(_))));
    let producers = log.producers();
    assert_eq!(producers.iter().map(|p| (p.producer_id, p.epoch)).collect::<Vec<_>>(), vec![(5, 0), (6, 3)]);
    assert_eq!(values(&log, log.last_stable_offset()).len(), 5);
}

#[test]
fn producer_state_and_aborts_survive_clean_and_unclean_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = TopicConfig { segment_bytes: 250, ..TopicConfig::default() };
    {
        let log = PartitionLog::open(dir.path(), config.clone()).unwrap();
        log.append(&batch(1, 0, 0, 2, false, "i"), 1).unwrap(); // 0..=1
        log.append(&batch(2, 0, 0, 2, true, "x"), 1).unwrap(); // 2..=3
        log.write_txn_marker(2, 0, false, 0, 1).unwrap(); // 4
        log.append(&batch(3, 0, 0, 1, true, "open"), 1).unwrap(); // 5
        assert!(log.segment_count() > 1, "the test wants aborts in closed segments");
        log.close().unwrap();
    }
    let check = |log: &PartitionLog| {
        assert_eq!(log.last_stable_offset(), 5, "the open transaction is still open");
        assert_eq!(
            log.aborted_transactions(0, 6),
            vec![AbortedTxn { producer_id: 2, first_offset: 2, last_offset: 4 }]
        );
        let retry = log.append(&batch(1, 0, 0, 2, false, "i"), 2).unwrap();
        assert_eq!((retry.base_offset, retry.record_count), (0, 0), "the retry is recognised");
        assert!(matches!(log.append(&batch(1, 0, 5, 1, false, "g"), 2), Err(AppendError::OutOfOrderSequence(_))));
    };
    {
        let log = PartitionLog::open(dir.path(), config.clone()).unwrap();
        check(&log);
    }
    // Unclean: no snapshot, no aborted transaction index: both are rebuilt from the batch headers.
    std::fs::remove_file(dir.path().join("producer-state")).unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "txnindex") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let log = PartitionLog::open(dir.path(), config.clone()).unwrap();
    check(&log);
    log.write_txn_marker(3, 0, true, 0, 3).unwrap();
    assert_eq!(log.last_stable_offset(), log.log_end_offset());
    // A damaged snapshot is ignored, not trusted.
    log.close().unwrap();
    std::fs::write(dir.path().join("producer-state"), b"garbage").unwrap();
    let log = PartitionLog::open(dir.path(), config).unwrap();
    assert_eq!(log.last_stable_offset(), log.log_end_offset());
    assert_eq!(log.aborted_transactions(0, i64::MAX).len(), 1);
}

#[test]
fn idle_producers_expire_but_open_transactions_stay() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    log.append(&batch(1, 0, 0, 1, false, "a"), 1_000).unwrap();
    log.append(&batch(2, 0, 0, 1, true, "b"), 1_000).unwrap();
    assert_eq!(log.expire_producers(5_000, 1_000), 1);
    assert_eq!(log.producers().iter().map(|p| p.producer_id).collect::<Vec<_>>(), vec![2]);
    // An expired producer is accepted again at any sequence (Kafka 2.5+).
    log.append(&batch(1, 0, 40, 1, false, "c"), 6_000).unwrap();
}

#[test]
fn compaction_keeps_markers_drops_aborted_records_and_spares_open_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let config = TopicConfig {
        cleanup_compact: true,
        cleanup_delete: false,
        segment_bytes: 200,
        min_compaction_lag_ms: 0,
        ..TopicConfig::default()
    };
    let log = PartitionLog::open(dir.path(), config).unwrap();
    log.append(&batch(-1, -1, -1, 1, false, "committed"), 1).unwrap(); // 0: k0
    log.append(&batch(7, 0, 0, 1, true, "aborted"), 1).unwrap(); // 1: k0
    log.write_txn_marker(7, 0, false, 0, 1).unwrap(); // 2
    log.append(&batch(8, 0, 0, 1, true, "open"), 1).unwrap(); // 3: k0, open
    for i in 0..4 {
        log.append(&batch(-1, -1, -1, 1, false, &format!("later{i}")), 1).unwrap();
    }
    log.compact(10_000).unwrap();
    let all = values(&log, i64::MAX);
    assert!(all.contains(&(0, "committed0".into())), "an aborted record must not shadow the committed one: {all:?}");
    assert!(!all.iter().any(|(_, v)| v == "aborted0"), "aborted records go: {all:?}");
    assert!(all.contains(&(3, "open0".into())), "records of the open transaction stay: {all:?}");
    let r = log.read(0, u32::MAX, i64::MAX).unwrap();
    let mut bytes = BytesMut::new();
    for s in &r.slices {
        bytes.extend_from_slice(&s.read_to_bytes().unwrap());
    }
    let controls = RecordBatchDecoder::decode_all(&mut bytes.freeze())
        .unwrap()
        .into_iter()
        .flat_map(|s| s.records)
        .filter(|r| r.control)
        .count();
    assert_eq!(controls, 1, "the marker is kept");
}
