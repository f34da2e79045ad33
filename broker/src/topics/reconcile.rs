//! Cluster mode: making the local topics match the controller's metadata image. Every broker keeps a log for
//! every partition of every topic of the image (empty where it is not a replica), so this is a plain diff of
//! names, ids, partition counts and configs.
//!
//! Images are a prefix of the metadata log: while a restarted node replays it, it sees images older than the one
//! its local topics were last made to match. Applying those would delete topics created later, or wipe a
//! recreated topic back to its older incarnation. So the index of the last image reconciled is kept in
//! `<data_dir>/topics/.metadata_index` (written before the changes it covers, so a crash halfway redoes them),
//! and older images are skipped.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::metadata_file::{topics_dir, TopicFile};
use super::registry::TopicRegistry;
use crate::config::TopicConfig;
use crate::controller::{MetadataImage, TopicRecord};

/// What one reconciliation changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileOutcome {
    /// False when the image was older than the one the local topics already match: nothing was looked at.
    pub applied: bool,
    /// Topics created (including recreated ones).
    pub created: Vec<String>,
    /// Topics deleted (including the old incarnation of recreated ones).
    pub deleted: Vec<String>,
    /// Topics whose partition count grew.
    pub grown: Vec<String>,
    /// Topics whose configs changed.
    pub reconfigured: Vec<String>,
    /// Topics that could not be brought in line, with why (retried with the next image).
    pub failed: Vec<(String, String)>,
}

impl ReconcileOutcome {
    /// Whether any topic was created, deleted, grown or reconfigured.
    pub fn changed(&self) -> bool {
        !(self.created.is_empty() && self.deleted.is_empty() && self.grown.is_empty() && self.reconfigured.is_empty())
    }
}

fn index_path(data_dir: &Path) -> PathBuf {
    topics_dir(data_dir).join(".metadata_index")
}

fn read_index(data_dir: &Path) -> u64 {
    std::fs::read_to_string(index_path(data_dir)).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

fn write_index(data_dir: &Path, index: u64) -> std::io::Result<()> {
    let dir = topics_dir(data_dir);
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(".metadata_index.tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(index.to_string().as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, index_path(data_dir))?;
    std::fs::File::open(&dir)?.sync_all()
}

/// What must happen to one topic of the image.
enum Plan<'a> {
    Create(&'a TopicRecord),
    Recreate(&'a TopicRecord),
    Update(&'a TopicRecord),
}

impl TopicRegistry {
    /// The index of the last metadata image the local topics were made to match (0 before any): older images are
    /// skipped by [`TopicRegistry::reconcile`].
    pub fn reconciled_index(&self) -> u64 {
        read_index(&self.data_dir)
    }

    /// Makes the local topics match `image`: creates the image's topics with their ids, partition counts and
    /// configs, wipes and recreates a local topic whose id differs (deleted and recreated under the same name),
    /// deletes topics the image lacks, grows partition counts and applies config changes. Skips images older
    /// than the last one reconciled (see the module doc).
    ///
    /// Blocking (file I/O, fsyncs, the admin lock): call it from a blocking thread.
    pub fn reconcile(&self, image: &MetadataImage) -> ReconcileOutcome {
        let mut outcome = ReconcileOutcome::default();
        let _admin = self.admin.blocking_lock();
        let last = read_index(&self.data_dir);
        if image.applied_index < last {
            tracing::debug!(image = image.applied_index, last, "skipping a metadata image older than the local topics");
            return outcome;
        }
        outcome.applied = true;
        let mut plans = Vec::new();
        for record in image.topics.values() {
            match self.get(&record.name) {
                None => plans.push(Plan::Create(record)),
                Some(local) if local.id != record.id => plans.push(Plan::Recreate(record)),
                Some(local) => {
                    let grows = record.partitions.len() as i32 > local.partition_count();
                    if grows || local.overrides() != record.configs {
                        plans.push(Plan::Update(record));
                    }
                }
            }
        }
        let stale: Vec<String> =
            self.list().into_iter().filter(|t| !image.topics.contains_key(&t.name)).map(|t| t.name.clone()).collect();
        if plans.is_empty() && stale.is_empty() {
            return outcome;
        }
        // The intent goes first: a crash halfway leaves the index at this image, and the next one redoes the rest.
        if image.applied_index > last {
            if let Err(e) = write_index(&self.data_dir, image.applied_index) {
                tracing::error!(error = %e, "cannot store the metadata index of the local topics; retrying later");
                outcome.failed.push((String::new(), format!("cannot store the metadata index: {e}")));
                return outcome;
            }
        }
        for name in stale {
            match self.delete_locked(&name) {
                Ok(_) => outcome.deleted.push(name),
                Err(e) => outcome.failed.push((name, e.message)),
            }
        }
        for plan in plans {
            let (record, result) = match plan {
                Plan::Create(record) => {
                    (record, self.create_from(record).map(|()| outcome.created.push(record.name.clone())))
                }
                Plan::Recreate(record) => {
                    tracing::info!(topic = %record.name, id = %record.id, "topic was deleted and recreated: wiping the old one");
                    let result = self
                        .delete_locked(&record.name)
                        .map_err(|e| e.message)
                        .and_then(|_| {
                            outcome.deleted.push(record.name.clone());
                            self.create_from(record)
                        })
                        .map(|()| outcome.created.push(record.name.clone()));
                    (record, result)
                }
                Plan::Update(record) => (record, self.update_from(record, &mut outcome)),
            };
            if let Err(message) = result {
                tracing::error!(topic = %record.name, %message, "cannot bring a topic in line with the metadata image");
                outcome.failed.push((record.name.clone(), message));
            }
        }
        outcome
    }

    /// The topic config of `record`; the controller validated it, but a bad one must not stop the topic from
    /// existing locally, so it falls back to the broker defaults.
    fn config_of(&self, record: &TopicRecord) -> TopicConfig {
        TopicConfig::from_overrides(&self.broker_defaults, &record.configs).unwrap_or_else(|e| {
            tracing::error!(topic = %record.name, error = %e, "the metadata image holds a bad topic config; using the defaults");
            TopicConfig::from_overrides(&self.broker_defaults, &Default::default()).unwrap_or_default()
        })
    }

    fn create_from(&self, record: &TopicRecord) -> Result<(), String> {
        let config = self.config_of(record);
        let file = TopicFile {
            name: record.name.clone(),
            id: record.id,
            partitions: record.partitions.len() as i32,
            configs: record.configs.clone(),
        };
        self.create_locked(file, &config).map(|_| ()).map_err(|e| e.message)
    }

    fn update_from(&self, record: &TopicRecord, outcome: &mut ReconcileOutcome) -> Result<(), String> {
        let Some(local) = self.get(&record.name) else { return Ok(()) };
        if local.overrides() != record.configs {
            // Configs first: partitions added below open with the new settings.
            self.set_overrides_locked(&local, record.configs.clone(), self.config_of(record)).map_err(|e| e.message)?;
            outcome.reconfigured.push(record.name.clone());
        }
        let total = record.partitions.len() as i32;
        if total > local.partition_count() {
            self.add_partitions_locked(&local, total).map_err(|e| e.message)?;
            outcome.grown.push(record.name.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use uuid::Uuid;

    use super::*;
    use crate::controller::PartitionRecord;

    fn record(name: &str, id: Uuid, partitions: usize, configs: &[(&str, &str)]) -> TopicRecord {
        let partition = PartitionRecord {
            replicas: vec![1],
            isr: vec![1],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
            adding_replicas: vec![],
            removing_replicas: vec![],
        };
        TopicRecord {
            name: name.into(),
            id,
            configs: configs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            partitions: vec![partition; partitions],
        }
    }

    fn image(index: u64, topics: Vec<TopicRecord>) -> MetadataImage {
        MetadataImage {
            applied_index: index,
            topics: topics.into_iter().map(|t| (t.name.clone(), t)).collect(),
            ..Default::default()
        }
    }

    fn open(dir: &Path) -> TopicRegistry {
        TopicRegistry::open(dir, BTreeMap::new()).expect("registry opens")
    }

    #[test]
    fn creates_grows_reconfigures_and_deletes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let registry = open(dir.path());
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let first = registry.reconcile(&image(3, vec![record("a", a, 2, &[]), record("b", b, 1, &[])]));
        assert_eq!(first.created, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(registry.get("a").expect("a exists").id, a);
        assert_eq!(registry.get("a").expect("a exists").partition_count(), 2);

        // The same image again changes nothing.
        let again = registry.reconcile(&image(3, vec![record("a", a, 2, &[]), record("b", b, 1, &[])]));
        assert!(again.applied && !again.changed(), "{again:?}");

        let next = registry.reconcile(&image(5, vec![record("a", a, 4, &[("retention.ms", "1000")])]));
        assert_eq!(next.deleted, vec!["b".to_string()]);
        assert_eq!(next.grown, vec!["a".to_string()]);
        assert_eq!(next.reconfigured, vec!["a".to_string()]);
        let topic = registry.get("a").expect("a exists");
        assert_eq!(topic.partition_count(), 4);
        assert_eq!(topic.partition(3).expect("new partition").config().retention_ms, 1000);
        assert!(registry.get("b").is_none());
        assert!(!dir.path().join("b-0").exists(), "deleted topic's data is gone");
    }

    #[test]
    fn a_new_id_wipes_the_old_topic() {
        let dir = tempfile::tempdir().expect("temp dir");
        let registry = open(dir.path());
        let old = Uuid::new_v4();
        registry.reconcile(&image(1, vec![record("t", old, 1, &[])]));
        let log = registry.get("t").and_then(|t| t.partition(0)).expect("partition");
        log.append(&crate::replica::testing::batch(3), 0).expect("append");
        let new = Uuid::new_v4();
        let outcome = registry.reconcile(&image(2, vec![record("t", new, 1, &[])]));
        assert_eq!((outcome.deleted.clone(), outcome.created.clone()), (vec!["t".into()], vec!["t".into()]));
        let topic = registry.get("t").expect("recreated");
        assert_eq!(topic.id, new);
        assert_eq!(topic.partition(0).expect("partition").log_end_offset(), 0, "the recreated topic starts empty");
    }

    #[test]
    fn older_images_are_skipped_even_after_a_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let id = Uuid::new_v4();
        {
            let registry = open(dir.path());
            registry.reconcile(&image(7, vec![record("t", id, 1, &[])]));
        }
        let registry = open(dir.path());
        // A replaying node sees the empty image of index 2 before the one that created the topic.
        let outcome = registry.reconcile(&image(2, vec![]));
        assert!(!outcome.applied);
        assert!(registry.get("t").is_some(), "a topic created by a later image survives an older one");
        let outcome = registry.reconcile(&image(9, vec![]));
        assert_eq!(outcome.deleted, vec!["t".to_string()]);
    }
}
