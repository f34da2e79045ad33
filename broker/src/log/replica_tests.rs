//! Tests of the replication support: followers copying a leader's batches byte for byte (producer state
//! included, so retries after a failover are recognized), truncation of a divergent tail (mid-segment, across
//! rolls, mid-batch, below the log start) and reopening after it, clean or not, the leader epoch cache, and the
//! high watermark in both modes. Time is passed explicitly; waits are bounded.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

use super::batch;
use super::txn_tests::{batch as pbatch, values};
use super::*;
use crate::config::TopicConfig;

const NOW: i64 = 1_000_000;

fn small_segments() -> TopicConfig {
    TopicConfig { segment_bytes: 400, index_interval_bytes: 100, ..TopicConfig::default() }
}

/// A plain (non-idempotent) batch of `n` records.
fn plain(n: usize, tag: &str) -> Vec<u8> {
    pbatch(-1, -1, 0, n, false, tag)
}

/// The bytes a follower fetching from `from` would get (at most `max_bytes`, at least one batch).
fn fetch(leader: &PartitionLog, from: i64, max_bytes: u32) -> Vec<u8> {
    let r = leader.read(from, max_bytes, i64::MAX).unwrap();
    let mut out = Vec::new();
    for s in &r.slices {
        out.extend_from_slice(&s.read_to_bytes().unwrap());
    }
    out
}

/// Copies `leader` into `follower` as a fetcher would, in chunks of `max_bytes`.
fn replicate(leader: &PartitionLog, follower: &PartitionLog, max_bytes: u32) {
    for _ in 0..10_000 {
        let from = follower.log_end_offset();
        if from >= leader.log_end_offset() {
            return;
        }
        let bytes = fetch(leader, from, max_bytes);
        assert!(!bytes.is_empty(), "the leader returned nothing at {from}");
        let end = follower.append_replica(&bytes, NOW).unwrap();
        assert!(end > from, "no progress at {from}");
    }
    panic!("replication did not finish");
}

/// Every file of a partition directory with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

fn log_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files(dir).into_iter().filter(|(name, _)| name.ends_with(".log")).collect()
}

/// Base offset and leader epoch of every batch of a log.
fn batches(log: &PartitionLog) -> Vec<(i64, i64, i32)> {
    let bytes = fetch(log, log.log_start_offset(), u32::MAX);
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let h = batch::check_batch(&bytes[pos..]).unwrap();
        out.push((h.base_offset, h.next_offset(), h.partition_leader_epoch));
        pos += h.size();
    }
    out
}

/// A leader's history: plain, idempotent and transactional batches (one aborted, one committed, one left open)
/// over three leader epochs and several segments. Returns the producer 7's next sequence.
fn leader_history(log: &PartitionLog) -> i32 {
    log.append(&plain(3, "p"), NOW).unwrap();
    log.append(&pbatch(7, 0, 0, 2, false, "i"), NOW).unwrap();
    log.set_leader_epoch(2);
    log.append(&pbatch(7, 0, 2, 2, false, "i"), NOW).unwrap();
    log.append(&pbatch(9, 1, 0, 2, true, "t"), NOW).unwrap();
    log.write_txn_marker(9, 1, false, 4, NOW).unwrap();
    log.append(&pbatch(9, 1, 2, 1, true, "u"), NOW).unwrap();
    log.append(&plain(2, "q"), NOW).unwrap();
    log.write_txn_marker(9, 1, true, 4, NOW).unwrap();
    log.set_leader_epoch(5);
    let mut seq = 4;
    for n in 1..6 {
        log.append(&pbatch(7, 0, seq, n, false, "j"), NOW).unwrap();
        seq += n as i32;
        log.append(&plain(n, "r"), NOW).unwrap();
    }
    log.append(&pbatch(11, 0, 0, 2, true, "open"), NOW).unwrap();
    log.append(&pbatch(7, 0, seq, 1, false, "last"), NOW).unwrap();
    seq + 1
}

#[test]
fn a_follower_reproduces_the_leader_byte_for_byte_and_dedups_after_failover() {
    let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = PartitionLog::open(ld.path(), small_segments()).unwrap();
    let next_seq = leader_history(&leader);
    assert!(leader.segment_count() > 3, "the history must span segments");
    let follower = PartitionLog::open(fd.path(), small_segments()).unwrap();
    replicate(&leader, &follower, 250);

    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
    assert_eq!(follower.segment_count(), leader.segment_count());
    assert_eq!(follower.producers(), leader.producers());
    assert_eq!(follower.aborted_transactions(0, i64::MAX), leader.aborted_transactions(0, i64::MAX));
    assert_eq!(follower.lso_for_test(), leader.lso_for_test());
    assert_eq!(follower.latest_epoch(), Some(5));
    for e in -1..8 {
        assert_eq!(follower.end_offset_for_epoch(e), leader.end_offset_for_epoch(e), "epoch {e}");
    }
    // Closed, the two directories hold the same bytes: segments, indexes, txn indexes, snapshot, epochs.
    leader.close().unwrap();
    follower.close().unwrap();
    assert_eq!(files(fd.path()), files(ld.path()));
    drop(leader);
    drop(follower);

    // Failover: the follower leads. The producer retries its last batch (the answer to it was lost): it is a
    // duplicate, answered with the old offsets; the next sequence goes on; a gap is refused.
    let follower = PartitionLog::open(fd.path(), small_segments()).unwrap();
    follower.set_leader_epoch(6);
    let end = follower.log_end_offset();
    let retry = follower.append(&pbatch(7, 0, next_seq - 1, 1, false, "last"), NOW + 5).unwrap();
    assert_eq!((retry.base_offset, retry.record_count), (end - 1, 0));
    assert!(matches!(
        follower.append(&pbatch(7, 0, next_seq + 3, 1, false, "gap"), NOW + 5),
        Err(AppendError::OutOfOrderSequence(_))
    ));
    assert_eq!(follower.append(&pbatch(7, 0, next_seq, 1, false, "next"), NOW + 5).unwrap().base_offset, end);
    // The open transaction of producer 11 is still open here and can be aborted by the coordinator.
    let (_, done) = follower.write_txn_marker(11, 0, false, 4, NOW + 6).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(follower.latest_epoch(), Some(6));
    assert_eq!(follower.end_offset_for_epoch(5), (5, end));
}

impl PartitionLog {
    fn lso_for_test(&self) -> i64 {
        self.lock_state().last_stable_offset()
    }

    /// The producers without their last write time, which recovery takes from the batches, not the clock.
    fn producers_untimed(&self) -> Vec<ProducerInfo> {
        self.producers().into_iter().map(|p| ProducerInfo { last_timestamp: 0, ..p }).collect()
    }
}

#[test]
fn replica_appends_check_offsets_and_crc_and_keep_gaps_and_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    assert_eq!(log.append_replica(&[], NOW).unwrap(), 0);
    let mut a = plain(3, "a");
    batch::set_partition_leader_epoch(&mut a, 3);
    assert_eq!(log.append_replica(&a, NOW).unwrap(), 3);
    // Below the log end, overlapping, damaged: refused, nothing written.
    assert!(matches!(log.append_replica(&a, NOW), Err(AppendError::InvalidRecord(_))));
    let mut b = plain(2, "b");
    batch::set_base_offset(&mut b, 3);
    let mut c = plain(2, "c");
    batch::set_base_offset(&mut c, 4);
    assert!(matches!(log.append_replica(&[b.clone(), c].concat(), NOW), Err(AppendError::InvalidRecord(_))));
    let mut bad = b.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(matches!(log.append_replica(&bad, NOW), Err(AppendError::Corrupt(_))));
    assert_eq!(log.log_end_offset(), 3);
    // A compacted leader's gap, a newer epoch and a control batch are taken as they are.
    batch::set_partition_leader_epoch(&mut b, 4);
    let mut gap = plain(2, "g");
    batch::set_base_offset(&mut gap, 100);
    batch::set_partition_leader_epoch(&mut gap, 7);
    let mut open = pbatch(5, 0, 0, 1, true, "t");
    batch::set_base_offset(&mut open, 102);
    batch::set_partition_leader_epoch(&mut open, 7);
    let mut marker = txn::marker_batch(5, 0, false, 9, NOW).unwrap().to_vec();
    batch::set_base_offset(&mut marker, 103);
    batch::set_partition_leader_epoch(&mut marker, 7);
    assert_eq!(log.append_replica(&[b, gap, open, marker].concat(), NOW).unwrap(), 104);
    assert_eq!(values(&log, i64::MAX).iter().map(|v| v.0).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4, 100, 101, 102]);
    assert_eq!(
        log.aborted_transactions(0, i64::MAX),
        vec![AbortedTxn { producer_id: 5, first_offset: 102, last_offset: 103 }]
    );
    assert_eq!(log.producers()[0].coordinator_epoch, 9);
    assert_eq!(
        (log.end_offset_for_epoch(3), log.end_offset_for_epoch(5), log.end_offset_for_epoch(7)),
        ((3, 3), (4, 100), (7, 104))
    );
    assert_eq!(log.end_offset_for_epoch(2), (-1, -1));
    // Reading from inside the gap starts at the batch after it; reopening keeps everything.
    assert_eq!(batches(&log).len(), 5);
    assert_eq!(fetch(&log, 50, u32::MAX).len(), fetch(&log, 100, u32::MAX).len());
    drop(log);
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    assert_eq!(log.log_end_offset(), 104);
    assert_eq!(log.latest_epoch(), Some(7));
    assert_eq!(log.end_offset_for_epoch(4), (4, 100));
    assert_eq!(log.aborted_transactions(0, i64::MAX).len(), 1);
}

#[test]
fn truncating_at_every_batch_boundary_then_refetching_gives_the_leader_log_back() {
    let ld = tempfile::tempdir().unwrap();
    let leader = PartitionLog::open(ld.path(), small_segments()).unwrap();
    leader_history(&leader);
    let bounds: Vec<i64> = batches(&leader).iter().map(|b| b.0).collect();
    for (k, &cut) in bounds.iter().enumerate() {
        // Replicated partitions rebuild producer state from the copy kept at the active segment's base when the
        // cut lies in it; others replay from the log's start. Both must agree with a full replay at open.
        let replicated = k % 2 == 1;
        let fd = tempfile::tempdir().unwrap();
        let follower = PartitionLog::open(fd.path(), small_segments()).unwrap();
        follower.set_replicated(replicated);
        replicate(&leader, &follower, 1 << 20);
        let segments_before = follower.segment_count();
        follower.truncate_to(cut).unwrap();
        assert_eq!(follower.log_end_offset(), cut, "cut at batch {k}");
        assert_eq!(batches(&follower), batches(&leader)[..k].to_vec());
        assert!(follower.segment_count() <= segments_before);
        let state = (follower.producers_untimed(), follower.aborted_transactions(0, i64::MAX), follower.lso_for_test());
        // Reopened without a clean close (kill -9), and without the snapshot: the same prefix and state.
        drop(follower);
        std::fs::remove_file(fd.path().join("producer-state")).unwrap();
        let follower = PartitionLog::open(fd.path(), small_segments()).unwrap();
        let reopened =
            (follower.producers_untimed(), follower.aborted_transactions(0, i64::MAX), follower.lso_for_test());
        assert_eq!(reopened, state, "cut at batch {k}");
        assert_eq!(follower.log_end_offset(), cut);
        assert_eq!(batches(&follower), batches(&leader)[..k].to_vec());
        replicate(&leader, &follower, 300);
        assert_eq!(follower.producers_untimed(), leader.producers_untimed(), "cut at batch {k}");
        assert_eq!(follower.aborted_transactions(0, i64::MAX), leader.aborted_transactions(0, i64::MAX));
        assert_eq!(follower.lso_for_test(), leader.lso_for_test());
        for e in 0..7 {
            assert_eq!(follower.end_offset_for_epoch(e), leader.end_offset_for_epoch(e), "cut {k}, epoch {e}");
        }
        assert_eq!(log_files(fd.path()), log_files(ld.path()), "cut at batch {k}");
    }
}

#[test]
fn a_compacted_leader_with_gaps_is_copied_and_truncated_in_its_gaps() {
    let config = TopicConfig { cleanup_compact: true, cleanup_delete: false, ..small_segments() };
    let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = PartitionLog::open(ld.path(), config.clone()).unwrap();
    for i in 0..30 {
        leader.append(&plain(1 + i % 3, &format!("r{i}")), NOW).unwrap();
    }
    assert!(leader.compact(NOW).unwrap().records_removed > 0);
    let follower = PartitionLog::open(fd.path(), config.clone()).unwrap();
    replicate(&leader, &follower, 300);
    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
    assert_eq!(values(&follower, i64::MAX), values(&leader, i64::MAX));
    // Cut at offsets inside gaps and at kept batches, then fetch again: the same records.
    let kept = batches(&leader);
    let ends = std::iter::once(0).chain(kept.iter().map(|b| b.1));
    let gap = ends.zip(&kept).find(|(end, b)| *end < b.0).map(|(end, _)| end).expect("compaction left a gap");
    for cut in [gap, gap + 1, kept[kept.len() / 2].0 + 1, 1] {
        follower.truncate_to(cut).unwrap();
        assert!(follower.log_end_offset() <= cut);
        assert!(batches(&follower).iter().all(|b| b.1 <= cut));
        replicate(&leader, &follower, 300);
        assert_eq!(values(&follower, i64::MAX), values(&leader, i64::MAX), "cut at {cut}");
    }
}

#[test]
fn a_jump_beyond_relative_offsets_starts_a_segment_at_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    log.append_replica(&plain(2, "a"), NOW).unwrap();
    let far = 10_000_000_000i64;
    let mut b = plain(2, "b");
    batch::set_base_offset(&mut b, far);
    let mut c = plain(1, "c");
    batch::set_base_offset(&mut c, far + 2);
    assert_eq!(log.append_replica(&[b, c].concat(), NOW).unwrap(), far + 3);
    assert_eq!(log.segment_count(), 2);
    assert!(dir.path().join(format!("{far:020}.log")).exists());
    assert_eq!(values(&log, i64::MAX).iter().map(|v| v.0).collect::<Vec<_>>(), vec![0, 1, far, far + 1, far + 2]);
    drop(log);
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    assert_eq!((log.log_end_offset(), log.segment_count()), (far + 3, 2));
    assert_eq!(fetch(&log, far + 1, u32::MAX).len(), fetch(&log, far, u32::MAX).len());
}

#[test]
fn truncating_inside_a_batch_removes_the_whole_batch_and_beyond_the_end_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    for i in 0..6 {
        log.append(&plain(4, &format!("b{i}")), NOW).unwrap();
    }
    log.truncate_to(24).unwrap();
    log.truncate_to(99).unwrap();
    assert_eq!(log.log_end_offset(), 24);
    log.truncate_to(10).unwrap();
    assert_eq!(log.log_end_offset(), 8, "the batch holding 8..=11 goes whole");
    assert_eq!(values(&log, i64::MAX).len(), 8);
    // Appends continue from the new end, as a leader.
    assert_eq!(log.append(&plain(1, "x"), NOW).unwrap().base_offset, 8);
    log.close().unwrap();
    drop(log);
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.log_end_offset(), 9);
    assert_eq!(values(&log, i64::MAX).last().unwrap().1, "x0");
}

#[test]
fn truncation_rebuilds_producer_and_transaction_state() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    log.set_replicated(true);
    log.append(&pbatch(7, 0, 0, 2, false, "a"), NOW).unwrap(); // 0..2
    log.append(&pbatch(9, 0, 0, 2, true, "t"), NOW).unwrap(); // 2..4
    log.append(&pbatch(7, 0, 2, 2, false, "b"), NOW).unwrap(); // 4..6
    log.write_txn_marker(9, 0, false, 1, NOW).unwrap(); // 6
    log.append(&pbatch(7, 0, 4, 2, false, "c"), NOW).unwrap(); // 7..9
    log.close().unwrap(); // a snapshot at offset 9
    assert_eq!(log.aborted_transactions(0, 100).len(), 1);
    log.truncate_to(6).unwrap();
    // The abort marker is gone: the transaction is open again, and its records are no longer aborted.
    assert_eq!(log.aborted_transactions(0, 100), vec![]);
    assert_eq!(log.lso_for_test(), 2);
    let p7 = log.producers().into_iter().find(|p| p.producer_id == 7).unwrap();
    assert_eq!(p7.last_sequence, 3);
    // The removed batch is new again, a kept one is a duplicate.
    let dup = log.append(&pbatch(7, 0, 2, 2, false, "b"), NOW).unwrap();
    assert_eq!((dup.base_offset, dup.record_count), (4, 0));
    assert_eq!(log.append(&pbatch(7, 0, 4, 2, false, "c2"), NOW).unwrap().base_offset, 6);
    // The snapshot of offset 9 described the old tail: a crash now must not bring it back.
    log.append(&plain(3, "d"), NOW).unwrap();
    let before = (log.producers_untimed(), log.aborted_transactions(0, 100), log.lso_for_test());
    drop(log);
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!((log.producers_untimed(), log.aborted_transactions(0, 100), log.lso_for_test()), before);
    assert_eq!(log.producers().into_iter().find(|p| p.producer_id == 7).unwrap().last_sequence, 5);
    // The snapshot the truncation wrote (offset 6) is a starting point for the next one; the abort comes back.
    log.write_txn_marker(9, 0, false, 1, NOW).unwrap(); // 11
    log.append(&pbatch(7, 0, 6, 1, false, "e"), NOW).unwrap(); // 12
    log.truncate_to(12).unwrap();
    assert_eq!(log.producers().into_iter().find(|p| p.producer_id == 7).unwrap().last_sequence, 5);
    assert_eq!(log.aborted_transactions(0, 100), vec![AbortedTxn { producer_id: 9, first_offset: 2, last_offset: 11 }]);
    assert_eq!(log.lso_for_test(), 12);
}

#[test]
fn truncation_keeps_aborted_transaction_indexes_right_across_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    log.append(&pbatch(9, 0, 0, 2, true, "t"), NOW).unwrap(); // 0..2
    log.append(&plain(3, "p"), NOW).unwrap(); // 2..5
    log.write_txn_marker(9, 0, false, 1, NOW).unwrap(); // 5
    log.truncate_to(5).unwrap();
    // Grow past the old marker with other batches, then crash: the old entry must not come back from the file.
    for _ in 0..3 {
        log.append(&plain(2, "n"), NOW).unwrap();
    }
    drop(log);
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    assert_eq!(log.aborted_transactions(0, 100), vec![]);
    assert_eq!(log.lso_for_test(), 0);
}

#[test]
fn truncating_below_the_log_start_or_fully_restarts_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    log.set_leader_epoch(1);
    for i in 0..10 {
        log.append(&pbatch(3, 0, i * 2, 2, false, "x"), NOW).unwrap();
    }
    log.set_replicated(true);
    log.set_high_watermark(20);
    log.delete_records_before(8).unwrap();
    log.truncate_to(4).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset(), log.high_watermark()), (4, 4, 4));
    assert_eq!((log.latest_epoch(), log.producers().len(), log.segment_count()), (None, 0, 1));
    // A follower far behind the leader's log start jumps there.
    log.truncate_fully_and_start_at(500).unwrap();
    let mut b = plain(2, "far");
    batch::set_base_offset(&mut b, 500);
    batch::set_partition_leader_epoch(&mut b, 8);
    assert_eq!(log.append_replica(&b, NOW).unwrap(), 502);
    drop(log);
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset(), log.latest_epoch()), (500, 502, Some(8)));
    assert_eq!(log.end_offset_for_epoch(7), (-1, -1));
}

#[test]
fn a_crash_in_the_middle_of_a_truncation_leaves_a_log_that_opens() {
    // Truncation deletes later segments newest first, then cuts: whatever prefix of those steps ran, the
    // directory is a prefix of the log. Simulate each: drop the newest segments' files one at a time.
    let ld = tempfile::tempdir().unwrap();
    let leader = PartitionLog::open(ld.path(), small_segments()).unwrap();
    leader_history(&leader);
    let all = batches(&leader);
    let mut names: Vec<String> = log_files(ld.path()).into_keys().collect();
    names.sort();
    for deleted in 1..names.len() {
        let fd = tempfile::tempdir().unwrap();
        let follower = PartitionLog::open(fd.path(), small_segments()).unwrap();
        replicate(&leader, &follower, 1 << 20);
        follower.close().unwrap();
        drop(follower);
        for name in &names[names.len() - deleted..] {
            std::fs::remove_file(fd.path().join(name)).unwrap();
        }
        let follower = PartitionLog::open(fd.path(), small_segments()).unwrap();
        let got = batches(&follower);
        assert_eq!(got, all[..got.len()].to_vec());
        assert_eq!(follower.log_end_offset(), got.last().unwrap().1);
        // The epoch cache and producer state fit the prefix: replication resumes and ends identical.
        replicate(&leader, &follower, 1 << 20);
        assert_eq!(follower.producers_untimed(), leader.producers_untimed());
        for e in 0..7 {
            assert_eq!(follower.end_offset_for_epoch(e), leader.end_offset_for_epoch(e));
        }
    }
}

#[test]
fn the_epoch_cache_survives_restarts_and_is_rebuilt_when_missing_or_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!((log.latest_epoch(), log.end_offset_for_epoch(0)), (None, (-1, -1)));
    let mut expect = Vec::new();
    for (epoch, n) in [(0, 4), (2, 6), (3, 1), (6, 5)] {
        log.set_leader_epoch(epoch);
        expect.push((epoch, log.log_end_offset()));
        for _ in 0..n {
            log.append(&plain(2, "e"), NOW).unwrap();
        }
    }
    let end = log.log_end_offset();
    let answers = |log: &PartitionLog| (0..8).map(|e| log.end_offset_for_epoch(e)).collect::<Vec<_>>();
    let want = vec![(0, 8), (0, 8), (2, 20), (3, 22), (3, 22), (3, 22), (6, end), (6, end)];
    assert_eq!(answers(&log), want);
    assert_eq!(log.lock_state().epochs.entries, expect);
    log.close().unwrap();
    drop(log);
    let checkpoint = dir.path().join("leader-epoch-checkpoint");
    assert_eq!(std::fs::read_to_string(&checkpoint).unwrap(), "0\n4\n0 0\n2 8\n3 20\n6 22\n");
    for damage in [None, Some("garbage"), Some("0\n4\n0 0\n")] {
        match damage {
            None => std::fs::remove_file(&checkpoint).unwrap(),
            Some(text) => std::fs::write(&checkpoint, text).unwrap(),
        }
        let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        assert_eq!(answers(&log), want, "after {damage:?}");
        drop(log);
    }
    // Moving the log start drops epochs that ended before it and starts the covering one there.
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    log.delete_records_before(21).unwrap();
    assert_eq!(log.lock_state().epochs.entries, vec![(3, 21), (6, 22)]);
    assert_eq!(log.end_offset_for_epoch(2), (-1, -1));
    log.close().unwrap();
    drop(log);
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.lock_state().epochs.entries, vec![(3, 21), (6, 22)]);
}

#[test]
fn single_node_high_watermark_is_the_log_end() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    log.append(&plain(3, "a"), NOW).unwrap();
    log.set_high_watermark(1);
    assert_eq!(log.high_watermark(), 3);
    let r = log.read(0, u32::MAX, i64::MAX).unwrap();
    assert_eq!((r.high_watermark, r.last_stable_offset), (3, 3));
    log.append(&pbatch(4, 0, 0, 2, true, "t"), NOW).unwrap();
    let r = log.read(0, u32::MAX, i64::MAX).unwrap();
    assert_eq!((r.high_watermark, r.last_stable_offset), (5, 3));
    let mut rx = log.subscribe_high_watermark();
    log.append(&plain(1, "b"), NOW).unwrap();
    assert!(rx.has_changed().unwrap());
    assert_eq!(*rx.borrow_and_update(), 6);
}

#[test]
fn replicated_high_watermark_moves_forward_within_the_log_and_bounds_the_lso() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    log.append(&plain(3, "a"), NOW).unwrap();
    log.set_replicated(true);
    assert_eq!(log.high_watermark(), 0, "nothing is known to be replicated yet");
    log.append(&plain(3, "b"), NOW).unwrap();
    log.set_high_watermark(4);
    log.set_high_watermark(2);
    assert_eq!(log.high_watermark(), 4, "never backwards");
    log.set_high_watermark(1000);
    assert_eq!(log.high_watermark(), 6, "at most the log end");
    log.append(&pbatch(4, 0, 0, 2, true, "t"), NOW).unwrap(); // 6..8, open
    log.append(&plain(2, "c"), NOW).unwrap(); // 8..10
    let r = log.read(0, u32::MAX, i64::MAX).unwrap();
    assert_eq!((r.high_watermark, r.last_stable_offset), (6, 6), "the LSO is not above the HW");
    assert_eq!(log.last_stable_offset(), 6);
    log.set_high_watermark(9);
    let r = log.read(0, u32::MAX, i64::MAX).unwrap();
    assert_eq!((r.high_watermark, r.last_stable_offset), (9, 6));
    // Truncation lowers it.
    log.truncate_to(8).unwrap();
    assert_eq!(log.high_watermark(), 8);
    // Leaving replicated mode: the log end again.
    log.set_replicated(false);
    log.append(&plain(1, "d"), NOW).unwrap();
    assert_eq!(log.high_watermark(), 9);
}

#[tokio::test]
async fn waiting_for_the_high_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::sync::Arc::new(PartitionLog::open(dir.path(), TopicConfig::default()).unwrap());
    log.append(&plain(5, "a"), NOW).unwrap();
    // Single node: already there.
    assert!(log.wait_for_high_watermark(5, Duration::from_millis(1)).await);
    log.set_replicated(true);
    assert!(!log.wait_for_high_watermark(3, Duration::from_millis(20)).await, "times out below");
    let waiter = {
        let log = log.clone();
        tokio::spawn(async move { log.wait_for_high_watermark(4, Duration::from_secs(30)).await })
    };
    let mut rx = log.subscribe_high_watermark();
    log.set_high_watermark(2);
    assert!(rx.has_changed().unwrap());
    assert_eq!(*rx.borrow_and_update(), 2);
    log.set_high_watermark(4);
    assert!(tokio::time::timeout(Duration::from_secs(30), waiter).await.expect("the waiter was not woken").unwrap());
}

const HW_FILE: &str = "high-watermark-checkpoint";

/// A replicated log with 10 records (0..10) and high watermark `hw`.
fn replicated_log(dir: &Path, hw: i64) -> PartitionLog {
    let log = PartitionLog::open(dir, TopicConfig::default()).unwrap();
    log.set_replicated(true);
    log.append(&plain(4, "a"), NOW).unwrap();
    log.append(&plain(6, "b"), NOW).unwrap();
    log.set_high_watermark(hw);
    log
}

/// Opens `dir` again and turns replicated mode on, as the replica manager does.
fn reopen_replicated(dir: &Path) -> PartitionLog {
    let log = PartitionLog::open(dir, TopicConfig::default()).unwrap();
    log.set_replicated(true);
    log
}

#[test]
fn the_high_watermark_survives_a_clean_restart_and_a_kill_after_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let log = replicated_log(dir.path(), 7);
    log.close().unwrap();
    drop(log);
    assert_eq!(std::fs::read_to_string(dir.path().join(HW_FILE)).unwrap(), "0\n7\n");
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    assert_eq!(log.high_watermark(), 10, "single-node mode until the replica manager turns replication on");
    log.set_replicated(true);
    assert_eq!(log.high_watermark(), 7);

    // Kill: a checkpoint, then more progress that is never checkpointed, and no close.
    log.set_high_watermark(9);
    log.checkpoint_high_watermark().unwrap();
    log.append(&plain(2, "c"), NOW).unwrap();
    log.set_high_watermark(12);
    drop(log);
    let log = reopen_replicated(dir.path());
    assert_eq!(log.high_watermark(), 9, "the last checkpoint");
    // Turning replicated mode on again does not go back to the checkpoint.
    log.set_high_watermark(11);
    log.set_replicated(false);
    log.set_replicated(true);
    assert_eq!(log.high_watermark(), 11);
}

#[test]
fn checkpointing_an_unchanged_high_watermark_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = replicated_log(dir.path(), 5);
    log.checkpoint_high_watermark().unwrap();
    let path = dir.path().join(HW_FILE);
    std::fs::remove_file(&path).unwrap();
    log.checkpoint_high_watermark().unwrap();
    assert!(!path.exists(), "no write when the high watermark did not move");
    log.set_high_watermark(6);
    log.checkpoint_high_watermark().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "0\n6\n");
}

#[test]
fn a_checkpoint_beyond_the_log_end_is_clamped_and_lowered_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = replicated_log(dir.path(), 10);
    log.close().unwrap();
    drop(log);
    // The log lost its tail (or the file is from a longer log).
    std::fs::write(dir.path().join(HW_FILE), "0\n25\n").unwrap();
    let log = reopen_replicated(dir.path());
    assert_eq!(log.high_watermark(), 10, "clamped to the log end");
    assert_eq!(std::fs::read_to_string(dir.path().join(HW_FILE)).unwrap(), "0\n10\n", "lowered at open");
}

#[test]
fn a_garbled_or_missing_checkpoint_means_the_log_start() {
    for garbage in ["", "0\n", "1\n5\n", "0\nfive\n", "0\n-3\n"] {
        let dir = tempfile::tempdir().unwrap();
        let log = replicated_log(dir.path(), 5);
        log.close().unwrap();
        drop(log);
        std::fs::write(dir.path().join(HW_FILE), garbage).unwrap();
        let log = reopen_replicated(dir.path());
        assert_eq!(log.high_watermark(), 0, "{garbage:?}");
        // The next checkpoint replaces it.
        log.set_high_watermark(3);
        log.checkpoint_high_watermark().unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join(HW_FILE)).unwrap(), "0\n3\n");
    }
    let dir = tempfile::tempdir().unwrap();
    let log = replicated_log(dir.path(), 5);
    drop(log);
    std::fs::write(dir.path().join(HW_FILE), [0xff, 0xfe, 0]).unwrap();
    assert_eq!(reopen_replicated(dir.path()).high_watermark(), 0, "not text");
}

#[test]
fn single_node_mode_never_writes_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let log = PartitionLog::open(dir.path(), TopicConfig::default()).unwrap();
    log.append(&plain(3, "a"), NOW).unwrap();
    log.checkpoint_high_watermark().unwrap();
    log.truncate_to(1).unwrap();
    log.append(&plain(3, "b"), NOW).unwrap();
    log.close().unwrap();
    assert!(!dir.path().join(HW_FILE).exists());
}

#[test]
fn a_truncation_lowers_the_checkpoint_before_the_log_grows_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = replicated_log(dir.path(), 8);
    log.checkpoint_high_watermark().unwrap();
    // Mid-batch: the log ends at 4, the start of the straddling batch.
    log.truncate_to(6).unwrap();
    assert_eq!(log.high_watermark(), 4);
    assert_eq!(std::fs::read_to_string(dir.path().join(HW_FILE)).unwrap(), "0\n4\n");
    // Other batches take the offsets again; a kill then must not bring back 8.
    log.append(&plain(6, "other"), NOW).unwrap();
    drop(log);
    assert_eq!(reopen_replicated(dir.path()).high_watermark(), 4);

    // Below the log start: the log restarts there.
    let log = reopen_replicated(dir.path());
    log.set_high_watermark(10);
    log.checkpoint_high_watermark().unwrap();
    log.truncate_fully_and_start_at(2).unwrap();
    log.append(&plain(20, "again"), NOW).unwrap();
    drop(log);
    assert_eq!(reopen_replicated(dir.path()).high_watermark(), 2);
}

/// One step of the property test below.
#[derive(Debug, Clone)]
enum Op {
    /// Append `n` records, first raising the leader epoch by `bump`.
    Append { bump: i32, n: usize },
    /// Truncate at the batch boundary `pick` (modulo the batches), or mid-batch when `inside`.
    Truncate { pick: usize, inside: bool },
    /// Reopen, closing first or not (kill -9).
    Reopen { clean: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3i32, 1..4usize).prop_map(|(bump, n)| Op::Append { bump, n }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(pick, inside)| Op::Truncate { pick, inside }),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
    ]
}

/// The epoch answers derived from the batches themselves.
fn reference_answer(model: &[(i64, i64, i32)], epoch: i32, log_end: i64) -> (i32, i64) {
    let mut starts: Vec<(i32, i64)> = Vec::new();
    for &(base, _, e) in model {
        if starts.last().is_none_or(|&(l, _)| e > l) {
            starts.push((e, base));
        }
    }
    let Some(i) = starts.iter().rposition(|&(e, _)| e <= epoch) else {
        return (-1, -1);
    };
    (starts[i].0, starts.get(i + 1).map_or(log_end, |&(_, s)| s))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn epochs_and_batches_follow_appends_truncations_and_reopens(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let config = TopicConfig { segment_bytes: 250, index_interval_bytes: 60, ..TopicConfig::default() };
        let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
        let mut epoch = 0;
        let mut model: Vec<(i64, i64, i32)> = Vec::new();
        for op in ops {
            match op {
                Op::Append { bump, n } => {
                    epoch += bump;
                    log.set_leader_epoch(epoch);
                    let info = log.append(&plain(n, "x"), NOW).unwrap();
                    model.push((info.base_offset, info.last_offset + 1, epoch));
                }
                Op::Truncate { pick, inside } => {
                    if model.is_empty() {
                        continue;
                    }
                    let k = pick % model.len();
                    let (base, next, _) = model[k];
                    let at = if inside && next - base > 1 { base + 1 } else { base };
                    log.truncate_to(at).unwrap();
                    model.truncate(k);
                }
                Op::Reopen { clean } => {
                    if clean {
                        log.close().unwrap();
                    }
                    drop(log);
                    log = PartitionLog::open(dir.path(), config.clone()).unwrap();
                    log.set_leader_epoch(epoch);
                }
            }
            let end = model.last().map_or(0, |b| b.1);
            prop_assert_eq!(log.log_end_offset(), end);
            prop_assert_eq!(batches(&log), model.clone());
            for e in -1..=epoch + 1 {
                prop_assert_eq!(log.end_offset_for_epoch(e), reference_answer(&model, e, end), "epoch {}", e);
            }
        }
    }
}
