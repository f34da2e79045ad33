//! The registry of topics on this broker, loaded from the data dir at start and kept in step with it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kafka_protocol::ResponseError;
use parking_lot::RwLock;
use uuid::Uuid;

use super::metadata_file::{topics_dir, TopicFile};
use super::names::validate_topic_name;
use crate::config::TopicConfig;
use crate::log::PartitionLog;
use crate::BrokerError;

/// A topic refused or not found: the Kafka error code for the client and a message for humans.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TopicError {
    /// The Kafka error to answer.
    pub code: ResponseError,
    /// What went wrong, sent to clients that read error messages.
    pub message: String,
}

impl TopicError {
    fn new(code: ResponseError, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// One topic: its id, its partition logs and its config overrides.
#[derive(Debug)]
pub struct Topic {
    /// The topic's name.
    pub name: String,
    /// The topic id (KIP-516), stable across restarts.
    pub id: Uuid,
    pub(super) state: RwLock<TopicState>,
}

#[derive(Debug)]
pub(super) struct TopicState {
    pub(super) partitions: Vec<Arc<PartitionLog>>,
    pub(super) overrides: BTreeMap<String, String>,
}

impl Topic {
    /// The partition's log, if the partition exists.
    pub fn partition(&self, index: i32) -> Option<Arc<PartitionLog>> {
        usize::try_from(index).ok().and_then(|i| self.state.read().partitions.get(i).cloned())
    }

    /// Every partition's log, in index order.
    pub fn partitions(&self) -> Vec<Arc<PartitionLog>> {
        self.state.read().partitions.clone()
    }

    /// How many partitions the topic has.
    pub fn partition_count(&self) -> i32 {
        self.state.read().partitions.len() as i32
    }

    /// The topic's own config settings (not the defaults).
    pub fn overrides(&self) -> BTreeMap<String, String> {
        self.state.read().overrides.clone()
    }

    /// Internal topics are the ones Kafka hides from ordinary listings.
    pub fn is_internal(&self) -> bool {
        self.name.starts_with("__")
    }
}

/// All topics of this broker.
#[derive(Debug)]
pub struct TopicRegistry {
    pub(super) data_dir: PathBuf,
    pub(super) broker_defaults: BTreeMap<String, String>,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
    /// Serialises create, delete, alter and reconciliation so two of them never interleave their file writes.
    pub(super) admin: tokio::sync::Mutex<()>,
}

fn partition_dir(data_dir: &Path, topic: &str, partition: i32) -> PathBuf {
    data_dir.join(format!("{topic}-{partition}"))
}

impl TopicRegistry {
    /// Loads every topic described under `<data_dir>/topics/` and opens (recovers) its partition logs.
    pub fn open(data_dir: &Path, broker_defaults: BTreeMap<String, String>) -> Result<Self, BrokerError> {
        let dir = topics_dir(data_dir);
        std::fs::create_dir_all(&dir)
            .map_err(|source| BrokerError::DataDir { path: dir.clone(), source })?;
        let clean_shutdown = super::clean_shutdown::take(data_dir)
            .map_err(|source| BrokerError::DataDir { path: data_dir.to_path_buf(), source })?;
        if clean_shutdown {
            tracing::info!("last stop was clean: trusting the active segments' index files");
        } else {
            tracing::info!("no clean-shutdown marker: scanning every active segment");
        }
        let mut topics = HashMap::new();
        let entries = std::fs::read_dir(&dir).map_err(|source| BrokerError::DataDir { path: dir.clone(), source })?;
        for entry in entries {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json")
                || path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'))
            {
                continue;
            }
            let file = TopicFile::load(&path)
                .map_err(|message| BrokerError::TopicMetadata { path: path.clone(), message })?;
            let config = TopicConfig::from_overrides(&broker_defaults, &file.configs).map_err(|e| {
                BrokerError::TopicMetadata { path: path.clone(), message: format!("bad topic config {e}") }
            })?;
            let mut partitions = Vec::with_capacity(file.partitions as usize);
            for p in 0..file.partitions {
                let log = PartitionLog::open_with(&partition_dir(data_dir, &file.name, p), config.clone(), clean_shutdown)?;
                partitions.push(Arc::new(log));
            }
            tracing::info!(topic = %file.name, partitions = file.partitions, "loaded topic");
            let topic = Topic {
                name: file.name.clone(),
                id: file.id,
                state: RwLock::new(TopicState { partitions, overrides: file.configs }),
            };
            topics.insert(file.name, Arc::new(topic));
        }
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            broker_defaults,
            topics: RwLock::new(topics),
            admin: tokio::sync::Mutex::new(()),
        })
    }

    /// The broker-level topic config defaults.
    pub fn broker_defaults(&self) -> &BTreeMap<String, String> {
        &self.broker_defaults
    }

    /// The topic named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().get(name).cloned()
    }

    /// The topic with id `id`.
    pub fn get_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        self.topics.read().values().find(|t| t.id == id).cloned()
    }

    /// Every topic, sorted by name.
    pub fn list(&self) -> Vec<Arc<Topic>> {
        let mut all: Vec<_> = self.topics.read().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Creates a topic. With `validate_only`, checks everything and changes nothing.
    pub async fn create(
        &self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<Arc<Topic>, TopicError> {
        validate_topic_name(name).map_err(|m| TopicError::new(ResponseError::InvalidTopicException, m))?;
        if !(1..=100_000).contains(&partitions) {
            return Err(TopicError::new(
                ResponseError::InvalidPartitions,
                format!("partition count must be between 1 and 100000, got {partitions}"),
            ));
        }
        let config = TopicConfig::from_overrides(&self.broker_defaults, &configs)
            .map_err(|e| TopicError::new(ResponseError::InvalidConfig, e.to_string()))?;
        let _admin = self.admin.lock().await;
        if self.topics.read().contains_key(name) {
            return Err(TopicError::new(ResponseError::TopicAlreadyExists, format!("topic {name:?} already exists")));
        }
        let file = TopicFile { name: name.to_string(), id: Uuid::new_v4(), partitions, configs };
        if validate_only {
            return Ok(Arc::new(Topic {
                name: file.name,
                id: file.id,
                state: RwLock::new(TopicState { partitions: Vec::new(), overrides: file.configs }),
            }));
        }
        self.create_locked(file, &config)
    }

    /// Creates the partition logs and the description of a topic; the caller holds the admin lock and has checked
    /// the name is free.
    pub(super) fn create_locked(&self, file: TopicFile, config: &TopicConfig) -> Result<Arc<Topic>, TopicError> {
        let (name, partitions) = (file.name.clone(), file.partitions);
        let name = name.as_str();
        let storage = |e: String| TopicError::new(ResponseError::KafkaStorageError, e);
        let logs = match self.open_fresh_partitions(name, 0..partitions, config) {
            Ok(logs) => logs,
            Err(e) => {
                self.remove_partition_dirs(name, 0..partitions);
                return Err(e);
            }
        };
        if let Err(e) = file.store(&self.data_dir) {
            self.remove_partition_dirs(name, 0..partitions);
            return Err(storage(format!("cannot store topic metadata: {e}")));
        }
        let topic = Arc::new(Topic {
            name: file.name.clone(),
            id: file.id,
            state: RwLock::new(TopicState { partitions: logs, overrides: file.configs }),
        });
        self.topics.write().insert(file.name, topic.clone());
        tracing::info!(topic = name, partitions, "created topic");
        Ok(topic)
    }

    /// Opens empty logs for partitions `range` of `name`, first clearing any leftover directory: one from a topic
    /// deleted during a crash must not come back to life.
    fn open_fresh_partitions(
        &self,
        name: &str,
        range: std::ops::Range<i32>,
        config: &TopicConfig,
    ) -> Result<Vec<Arc<PartitionLog>>, TopicError> {
        let storage = |e: String| TopicError::new(ResponseError::KafkaStorageError, e);
        let mut logs = Vec::with_capacity(range.len());
        for p in range {
            let dir = partition_dir(&self.data_dir, name, p);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| storage(format!("cannot clear {}: {e}", dir.display())))?;
            }
            logs.push(Arc::new(PartitionLog::open(&dir, config.clone()).map_err(|e| storage(e.to_string()))?));
        }
        Ok(logs)
    }

    fn remove_partition_dirs(&self, name: &str, range: std::ops::Range<i32>) {
        for p in range {
            let _ = std::fs::remove_dir_all(partition_dir(&self.data_dir, name, p));
        }
    }

    /// Deletes a topic and its data.
    pub async fn delete(&self, name: &str) -> Result<Uuid, TopicError> {
        let _admin = self.admin.lock().await;
        self.delete_locked(name)
    }

    /// [`TopicRegistry::delete`] for a caller holding the admin lock.
    pub(super) fn delete_locked(&self, name: &str) -> Result<Uuid, TopicError> {
        let topic = self.topics.write().remove(name).ok_or_else(|| {
            TopicError::new(ResponseError::UnknownTopicOrPartition, format!("topic {name:?} does not exist"))
        })?;
        let storage = |e: String| TopicError::new(ResponseError::KafkaStorageError, e);
        // The description goes first: after a crash the data dirs are orphans, never a half topic.
        TopicFile::remove(&self.data_dir, name).map_err(|e| storage(format!("cannot remove topic metadata: {e}")))?;
        for p in 0..topic.partition_count() {
            let dir = partition_dir(&self.data_dir, name, p);
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "could not remove a deleted topic's partition dir");
            }
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(topic.id)
    }

    /// Grows a topic to `new_total` partitions.
    pub async fn add_partitions(&self, name: &str, new_total: i32, validate_only: bool) -> Result<(), TopicError> {
        let _admin = self.admin.lock().await;
        let topic = self.get(name).ok_or_else(|| {
            TopicError::new(ResponseError::UnknownTopicOrPartition, format!("topic {name:?} does not exist"))
        })?;
        let current = topic.partition_count();
        if new_total <= current || new_total > 100_000 {
            return Err(TopicError::new(
                ResponseError::InvalidPartitions,
                format!("topic {name:?} has {current} partitions; the new count must be larger (asked for {new_total})"),
            ));
        }
        if validate_only {
            return Ok(());
        }
        self.add_partitions_locked(&topic, new_total)
    }

    /// Grows `topic` to `new_total` (> its count) partitions; the caller holds the admin lock.
    pub(super) fn add_partitions_locked(&self, topic: &Topic, new_total: i32) -> Result<(), TopicError> {
        let (name, current) = (topic.name.as_str(), topic.partition_count());
        let storage = |e: String| TopicError::new(ResponseError::KafkaStorageError, e);
        let overrides = topic.overrides();
        let config = TopicConfig::from_overrides(&self.broker_defaults, &overrides)
            .map_err(|e| TopicError::new(ResponseError::InvalidConfig, e.to_string()))?;
        let logs = self.open_fresh_partitions(name, current..new_total, &config)?;
        let file = TopicFile { name: name.to_string(), id: topic.id, partitions: new_total, configs: overrides };
        file.store(&self.data_dir).map_err(|e| storage(format!("cannot store topic metadata: {e}")))?;
        topic.state.write().partitions.extend(logs);
        tracing::info!(topic = name, from = current, to = new_total, "added partitions");
        Ok(())
    }

    /// Replaces a topic's config overrides with `overrides` (validated first) and applies them to every partition.
    pub async fn set_overrides(
        &self,
        name: &str,
        overrides: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let _admin = self.admin.lock().await;
        let topic = self.get(name).ok_or_else(|| {
            TopicError::new(ResponseError::UnknownTopicOrPartition, format!("topic {name:?} does not exist"))
        })?;
        let config = TopicConfig::from_overrides(&self.broker_defaults, &overrides)
            .map_err(|e| TopicError::new(ResponseError::InvalidConfig, e.to_string()))?;
        if validate_only {
            return Ok(());
        }
        self.set_overrides_locked(&topic, overrides, config)
    }

    /// Stores and applies `overrides` (already validated into `config`); the caller holds the admin lock.
    pub(super) fn set_overrides_locked(
        &self,
        topic: &Topic,
        overrides: BTreeMap<String, String>,
        config: TopicConfig,
    ) -> Result<(), TopicError> {
        let file = TopicFile {
            name: topic.name.clone(),
            id: topic.id,
            partitions: topic.partition_count(),
            configs: overrides.clone(),
        };
        file.store(&self.data_dir)
            .map_err(|e| TopicError::new(ResponseError::KafkaStorageError, format!("cannot store topic metadata: {e}")))?;
        let mut state = topic.state.write();
        state.overrides = overrides;
        for log in &state.partitions {
            log.set_config(config.clone());
        }
        tracing::info!(topic = %topic.name, "altered topic configs");
        Ok(())
    }

    /// Flushes and closes every log (clean shutdown), a few partitions at a time: each close may fsync. When every
    /// close succeeded, writes the clean-shutdown marker so the next start need not scan the active segments.
    pub fn close_all(&self) {
        let logs: Vec<(String, usize, Arc<PartitionLog>)> = self
            .list()
            .iter()
            .flat_map(|t| t.partitions().into_iter().enumerate().map(|(p, log)| (t.name.clone(), p, log)))
            .collect();
        let workers = 4.min(logs.len().max(1));
        let chunk = logs.len().div_ceil(workers).max(1);
        let failed = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            for part in logs.chunks(chunk) {
                let failed = &failed;
                scope.spawn(move || {
                    for (topic, p, log) in part {
                        if let Err(e) = log.close() {
                            failed.store(true, std::sync::atomic::Ordering::Relaxed);
                            tracing::error!(%topic, partition = p, error = %e, "could not close partition log");
                        }
                    }
                });
            }
        });
        if failed.into_inner() {
            tracing::warn!("not every partition log closed: the next start scans every active segment");
        } else if let Err(e) = super::clean_shutdown::mark(&self.data_dir) {
            tracing::warn!(error = %e, "could not write the clean-shutdown marker: the next start scans every active segment");
        }
    }
}
