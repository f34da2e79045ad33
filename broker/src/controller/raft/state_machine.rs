//! The metadata state machine: applies committed entries to the [`MetadataImage`] with
//! [`command::apply`](crate::controller::command::apply), publishes every new image on a watch, and keeps
//! snapshots (the serialized image with the last applied log id and membership) in
//! `__cluster_metadata/snapshot.json`.
//!
//! The image itself is not persisted on every apply: a restarted node loads the snapshot and openraft
//! re-applies the log entries after it (up to the saved committed id at once, the rest once a leader confirms).

use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{BasicNode, EntryPayload, OptionalSend, StorageError, StorageIOError, StoredMembership};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::files::{self, blocking};
use super::{LogEntry, LogId, TypeConfig};
use crate::controller::command::{self, CommandResult};
use crate::controller::image::MetadataImage;

const SNAPSHOT_FILE: &str = "snapshot.json";

/// A snapshot as stored on disk and kept in memory.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<u64, BasicNode>,
    image: Arc<MetadataImage>,
}

/// What the state machine holds: the image and the Raft bookkeeping that goes with it.
#[derive(Debug, Clone, Default)]
struct Applied {
    last_applied: Option<LogId>,
    membership: StoredMembership<u64, BasicNode>,
    image: Arc<MetadataImage>,
}

/// openraft's state machine over the metadata image.
pub(crate) struct StateMachine {
    dir: PathBuf,
    applied: Applied,
    published: watch::Sender<Arc<MetadataImage>>,
    /// The latest snapshot, shared with snapshot builders (which run beside the state machine).
    snapshot: Arc<Mutex<Option<StoredSnapshot>>>,
    /// Makes snapshot ids unique when two are built at the same log id.
    builds: u64,
}

/// Builds a snapshot of the state machine as it was when the builder was made.
pub(crate) struct SnapshotBuilder {
    dir: PathBuf,
    applied: Applied,
    snapshot: Arc<Mutex<Option<StoredSnapshot>>>,
    build: u64,
}

impl StateMachine {
    /// Opens the state machine in `dir`, starting from the stored snapshot if there is one. The receiver sees
    /// every image published from then on.
    pub(crate) fn open(dir: &Path) -> io::Result<(Self, watch::Receiver<Arc<MetadataImage>>)> {
        std::fs::create_dir_all(dir)?;
        let stored: Option<StoredSnapshot> = files::read_json(dir, SNAPSHOT_FILE)?;
        let applied = match &stored {
            Some(s) => Applied {
                last_applied: s.meta.last_log_id,
                membership: s.meta.last_membership.clone(),
                image: s.image.clone(),
            },
            None => Applied::default(),
        };
        let (published, receiver) = watch::channel(applied.image.clone());
        let machine =
            Self { dir: dir.to_path_buf(), applied, published, snapshot: Arc::new(Mutex::new(stored)), builds: 0 };
        Ok((machine, receiver))
    }

    fn publish(&self) {
        self.published.send_replace(self.applied.image.clone());
    }
}

/// Stores `stored` as the current snapshot unless a newer one is already there.
fn keep_snapshot(dir: &Path, current: &Mutex<Option<StoredSnapshot>>, stored: StoredSnapshot) -> io::Result<()> {
    let mut current = current.lock();
    if current.as_ref().is_some_and(|c| c.meta.last_log_id > stored.meta.last_log_id) {
        return Ok(());
    }
    files::write_json(dir, SNAPSHOT_FILE, &stored, true)?;
    *current = Some(stored);
    Ok(())
}

fn snapshot_of(stored: &StoredSnapshot) -> io::Result<Snapshot<TypeConfig>> {
    let data = serde_json::to_vec(stored.image.as_ref()).map_err(io::Error::other)?;
    Ok(Snapshot { meta: stored.meta.clone(), snapshot: Box::new(Cursor::new(data)) })
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<u64>> {
        let last = self.applied.last_applied;
        let snapshot_id = match last {
            Some(id) => format!("{}-{}-{}", id.leader_id.term, id.index, self.build),
            None => format!("empty-{}", self.build),
        };
        let stored = StoredSnapshot {
            meta: SnapshotMeta { last_log_id: last, last_membership: self.applied.membership.clone(), snapshot_id },
            image: self.applied.image.clone(),
        };
        let (dir, current, to_keep) = (self.dir.clone(), self.snapshot.clone(), stored.clone());
        blocking(move || keep_snapshot(&dir, &current, to_keep))
            .await
            .map_err(|e| StorageIOError::write_snapshot(Some(stored.meta.signature()), &e))?;
        snapshot_of(&stored).map_err(|e| StorageIOError::read_snapshot(Some(stored.meta.signature()), &e).into())
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership<u64, BasicNode>), StorageError<u64>> {
        Ok((self.applied.last_applied, self.applied.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResult>, StorageError<u64>>
    where
        I: IntoIterator<Item = LogEntry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut results = Vec::new();
        // Copy-on-write: clones the image only if a reader still holds the published one.
        let image = Arc::make_mut(&mut self.applied.image);
        for entry in entries {
            let index = entry.log_id.index;
            let result = match &entry.payload {
                EntryPayload::Normal(command) => command::apply(image, index, command),
                EntryPayload::Blank => CommandResult::Ok,
                EntryPayload::Membership(membership) => {
                    self.applied.membership = StoredMembership::new(Some(entry.log_id), membership.clone());
                    CommandResult::Ok
                }
            };
            // Non-command entries advance the applied index too, so "applied_index >= index" means applied.
            image.applied_index = index;
            self.applied.last_applied = Some(entry.log_id);
            results.push(result);
        }
        self.publish();
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        self.builds += 1;
        SnapshotBuilder {
            dir: self.dir.clone(),
            applied: self.applied.clone(),
            snapshot: self.snapshot.clone(),
            build: self.builds,
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let image: MetadataImage = serde_json::from_slice(snapshot.get_ref())
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        let stored = StoredSnapshot { meta: meta.clone(), image: Arc::new(image) };
        let (dir, current, to_keep) = (self.dir.clone(), self.snapshot.clone(), stored.clone());
        blocking(move || keep_snapshot(&dir, &current, to_keep))
            .await
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        self.applied =
            Applied { last_applied: meta.last_log_id, membership: meta.last_membership.clone(), image: stored.image };
        self.publish();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        let stored = self.snapshot.lock().clone();
        match stored {
            Some(stored) => snapshot_of(&stored)
                .map(Some)
                .map_err(|e| StorageIOError::read_snapshot(Some(stored.meta.signature()), &e).into()),
            None => Ok(None),
        }
    }
}
