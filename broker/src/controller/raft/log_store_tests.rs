//! Tests of the durable Raft storage: openraft's storage test suite (log store with state machine), and what survives
//! a reopen (a restart after `kill -9`): entries, vote, committed id, truncation, purge, and a torn tail.

use std::fs::OpenOptions;
use std::io::Write;

use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{CommittedLeaderId, EntryPayload, StorageError};
use tempfile::TempDir;
use uuid::Uuid;

use super::*;
use crate::controller::command::MetadataCommand;
use crate::controller::raft::state_machine::StateMachine;

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError<u64>> {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = LogStore::open(dir.path()).expect("open log");
        let (machine, _image) = StateMachine::open(dir.path()).expect("open state machine");
        Ok((dir, log, machine))
    }
}

#[test]
fn openraft_storage_suite() {
    Suite::test_all(Builder).expect("openraft's storage suite passes");
}

fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn entry(term: u64, index: u64) -> LogEntry {
    let command = MetadataCommand::AllocateProducerIds { broker: 1, count: index as i64 + 1 };
    LogEntry { log_id: log_id(term, index), payload: EntryPayload::Normal(command) }
}

async fn indexes(store: &mut LogStore) -> Vec<u64> {
    store.try_get_log_entries(..).await.unwrap().iter().map(|e| e.log_id.index).collect()
}

#[tokio::test]
async fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = LogStore::open(dir.path()).unwrap();
        store.blocking_append((1..=5).map(|i| entry(1, i))).await.unwrap();
        store.save_vote(&Vote::new(3, 2)).await.unwrap();
        store.save_committed(Some(log_id(1, 4))).await.unwrap();
        // Dropped without any close: what is on disk is what a kill -9 leaves.
    }
    let mut store = LogStore::open(dir.path()).unwrap();
    assert_eq!(indexes(&mut store).await, vec![1, 2, 3, 4, 5]);
    assert_eq!(store.read_vote().await.unwrap(), Some(Vote::new(3, 2)));
    assert_eq!(store.read_committed().await.unwrap(), Some(log_id(1, 4)));
    let state = store.get_log_state().await.unwrap();
    assert_eq!((state.last_purged_log_id, state.last_log_id), (None, Some(log_id(1, 5))));
    let entries = store.try_get_log_entries(2..4).await.unwrap();
    assert_eq!(entries, vec![entry(1, 2), entry(1, 3)]);
}

#[tokio::test]
async fn truncation_and_purge_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = LogStore::open(dir.path()).unwrap();
        store.blocking_append((1..=6).map(|i| entry(1, i))).await.unwrap();
        store.truncate(log_id(1, 5)).await.unwrap();
        store.blocking_append([entry(2, 5)]).await.unwrap();
        store.purge(log_id(1, 2)).await.unwrap();
        store.blocking_append([entry(2, 6)]).await.unwrap();
    }
    let mut store = LogStore::open(dir.path()).unwrap();
    assert_eq!(indexes(&mut store).await, vec![3, 4, 5, 6]);
    let entries = store.try_get_log_entries(5..).await.unwrap();
    assert_eq!(entries, vec![entry(2, 5), entry(2, 6)], "the truncated entries were replaced");
    let state = store.get_log_state().await.unwrap();
    assert_eq!((state.last_purged_log_id, state.last_log_id), (Some(log_id(1, 2)), Some(log_id(2, 6))));
    // Purging everything leaves the purge point as the last log id.
    store.purge(log_id(2, 6)).await.unwrap();
    drop(store);
    let mut store = LogStore::open(dir.path()).unwrap();
    assert!(indexes(&mut store).await.is_empty());
    let state = store.get_log_state().await.unwrap();
    assert_eq!((state.last_purged_log_id, state.last_log_id), (Some(log_id(2, 6)), Some(log_id(2, 6))));
    store.blocking_append([entry(2, 7)]).await.unwrap();
    assert_eq!(indexes(&mut store).await, vec![7]);
}

#[tokio::test]
async fn a_torn_tail_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = LogStore::open(dir.path()).unwrap();
        store.blocking_append((1..=3).map(|i| entry(1, i))).await.unwrap();
    }
    let path = dir.path().join(LOG_FILE);
    let good_len = std::fs::metadata(&path).unwrap().len();
    // Half a record (a crash mid-append), then a whole record with a bad checksum.
    let mut bytes = Vec::new();
    encode_record(&entry(1, 4), &mut bytes).unwrap();
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(&bytes[..bytes.len() / 2]).unwrap();
    drop(file);
    let mut store = LogStore::open(dir.path()).unwrap();
    assert_eq!(indexes(&mut store).await, vec![1, 2, 3]);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len, "the torn record was cut off");
    store.blocking_append([entry(1, 4)]).await.unwrap();
    drop(store);

    let mut corrupt = Vec::new();
    encode_record(&entry(1, 5), &mut corrupt).unwrap();
    let last = corrupt.len() - 2;
    corrupt[last] ^= 0xff;
    OpenOptions::new().append(true).open(&path).unwrap().write_all(&corrupt).unwrap();
    let mut store = LogStore::open(dir.path()).unwrap();
    assert_eq!(indexes(&mut store).await, vec![1, 2, 3, 4]);
}

#[tokio::test]
async fn a_hole_in_the_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    encode_record(&entry(1, 1), &mut bytes).unwrap();
    encode_record(&entry(1, 3), &mut bytes).unwrap();
    std::fs::write(dir.path().join(LOG_FILE), bytes).unwrap();
    let error = LogStore::open(dir.path()).err().expect("a hole is an error");
    assert!(error.to_string().contains("hole"), "{error}");
}

#[tokio::test]
async fn the_state_machine_restarts_from_its_snapshot() {
    use openraft::storage::RaftSnapshotBuilder;
    let dir = tempfile::tempdir().unwrap();
    let register = MetadataCommand::RegisterBroker {
        id: 1,
        incarnation: Uuid::from_u128(1),
        host: "h".into(),
        port: 1,
        rack: None,
    };
    let image_after = {
        let (mut machine, image) = StateMachine::open(dir.path()).unwrap();
        let results = machine
            .apply([
                LogEntry { log_id: log_id(1, 1), payload: EntryPayload::Blank },
                LogEntry { log_id: log_id(1, 2), payload: EntryPayload::Normal(register) },
            ])
            .await
            .unwrap();
        assert_eq!(results.len(), 2);
        let published = image.borrow().clone();
        assert_eq!(published.applied_index, 2);
        assert!(published.brokers.contains_key(&1));
        let snapshot = machine.get_snapshot_builder().await.build_snapshot().await.unwrap();
        assert_eq!(snapshot.meta.last_log_id, Some(log_id(1, 2)));
        published
    };
    let (mut machine, image) = StateMachine::open(dir.path()).unwrap();
    assert_eq!(*image.borrow().as_ref(), *image_after);
    let (applied, _) = machine.applied_state().await.unwrap();
    assert_eq!(applied, Some(log_id(1, 2)));
    let current = machine.get_current_snapshot().await.unwrap().expect("a snapshot is kept");
    let data: crate::controller::MetadataImage = serde_json::from_slice(current.snapshot.get_ref()).unwrap();
    assert_eq!(data, *image_after);
}
