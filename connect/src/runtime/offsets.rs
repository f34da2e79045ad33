//! Source offset stores in Kafka Connect's key/value layout (key `["<connector>",{partition}]`, value
//! `{offset}` or null): [`FileOffsetStore`] for a standalone worker, [`KafkaOffsetStore`] over the compacted
//! `connect-offsets` topic, whose records [`produce_offsets`] can also write inside a caller's transaction
//! (exactly-once sources).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::errors::{ensure_topic, kafka_error};
use super::task::OffsetStore;
use crate::error::ConnectError;
use crate::record::SourceMap;

/// How long reading the offsets topic to its end, or writing to it, may take.
const KAFKA_TIMEOUT: Duration = Duration::from_secs(30);

/// The record key of one source partition: `["<connector>",{partition}]` as compact JSON, as Kafka Connect
/// writes it (the JSON converter without schemas). Map keys are sorted, so one partition has one key.
pub fn offset_key(connector: &str, partition: &SourceMap) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!([connector, partition])).expect("JSON values always serialize")
}

/// The record value of an offset: its JSON, or `None` (a tombstone) to forget the partition.
pub fn offset_value(offset: Option<&SourceMap>) -> Option<Vec<u8>> {
    offset.map(|o| serde_json::to_vec(o).expect("JSON values always serialize"))
}

/// Reads a key written by [`offset_key`] (or by Kafka Connect): the connector and the source partition.
pub fn parse_offset_key(key: &[u8]) -> Option<(String, SourceMap)> {
    let value: serde_json::Value = serde_json::from_slice(key).ok()?;
    let [connector, partition] = <[serde_json::Value; 2]>::try_from(value.as_array()?.clone()).ok()?;
    Some((connector.as_str()?.to_string(), partition.as_object()?.clone()))
}

/// Produces offset records for `connector` to `topic` with `producer` and waits for them. With a
/// transactional producer inside an open transaction, they commit or abort with the transaction's records.
pub async fn produce_offsets(
    producer: &FutureProducer,
    topic: &str,
    connector: &str,
    entries: &[(SourceMap, Option<SourceMap>)],
) -> Result<(), ConnectError> {
    let sends = entries.iter().map(|(partition, offset)| {
        let key = offset_key(connector, partition);
        let value = offset_value(offset.as_ref());
        async move {
            let mut record = FutureRecord::<[u8], [u8]>::to(topic).key(&key);
            if let Some(value) = &value {
                record = record.payload(value.as_slice());
            }
            producer.send(record, KAFKA_TIMEOUT).await.map(|_| ()).map_err(|(e, _)| {
                kafka_error(&format!("writing source offsets of connector `{connector}` to `{topic}`"), e)
            })
        }
    });
    futures::future::try_join_all(sends).await.map(|_| ())
}

/// Offsets kept in memory per connector, keyed by the partition's JSON text.
type OffsetMap = HashMap<String, BTreeMap<String, (SourceMap, SourceMap)>>;

fn apply(map: &mut OffsetMap, connector: &str, partition: SourceMap, offset: Option<SourceMap>) {
    let key = serde_json::Value::Object(partition.clone()).to_string();
    let entries = map.entry(connector.to_string()).or_default();
    match offset {
        Some(offset) => {
            entries.insert(key, (partition, offset));
        }
        None => {
            entries.remove(&key);
        }
    }
}

fn lookup(map: &OffsetMap, connector: &str, partition: &SourceMap) -> Option<SourceMap> {
    let key = serde_json::Value::Object(partition.clone()).to_string();
    map.get(connector).and_then(|m| m.get(&key)).map(|(_, o)| o.clone())
}

fn list(map: &OffsetMap, connector: &str) -> Vec<(SourceMap, SourceMap)> {
    map.get(connector).map(|m| m.values().cloned().collect()).unwrap_or_default()
}

/// Offsets in a local JSON file (`offset.storage.file.filename`): a list of `[key, value]` pairs in the
/// topic's layout, rewritten atomically (temp file, fsync, rename) on every commit.
#[derive(Debug)]
pub struct FileOffsetStore {
    path: PathBuf,
    map: Mutex<OffsetMap>,
    /// One writer at a time, so renames land in commit order.
    write: tokio::sync::Mutex<()>,
}

impl FileOffsetStore {
    /// Opens `path`, reading the offsets already in it (a missing file is an empty store).
    pub fn open(path: impl AsRef<Path>) -> Result<FileOffsetStore, ConnectError> {
        let path = path.as_ref().to_path_buf();
        let mut map = OffsetMap::new();
        match std::fs::read(&path) {
            Ok(bytes) if !bytes.is_empty() => {
                let pairs: Vec<(serde_json::Value, serde_json::Value)> =
                    serde_json::from_slice(&bytes).map_err(|e| {
                        ConnectError::Io(format!(
                            "offsets file {} is not a JSON list of [key, value] pairs ({e}); fix or remove it",
                            path.display()
                        ))
                    })?;
                for (key, value) in pairs {
                    let parsed = parse_offset_key(key.to_string().as_bytes());
                    let (Some((connector, partition)), Some(offset)) = (parsed, value.as_object()) else {
                        return Err(ConnectError::Io(format!(
                            "offsets file {} holds an entry that is not [[connector, {{partition}}], {{offset}}]",
                            path.display()
                        )));
                    };
                    apply(&mut map, &connector, partition, Some(offset.clone()));
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ConnectError::Io(format!("reading offsets file {}: {e}", path.display()))),
        }
        Ok(FileOffsetStore { path, map: Mutex::new(map), write: tokio::sync::Mutex::new(()) })
    }

    fn snapshot_bytes(&self) -> Vec<u8> {
        let map = self.map.lock();
        let mut pairs = Vec::new();
        let mut connectors: Vec<_> = map.keys().collect();
        connectors.sort();
        for connector in connectors {
            for (partition, offset) in map[connector].values() {
                pairs.push(serde_json::json!([[connector, partition], offset]));
            }
        }
        serde_json::to_vec_pretty(&pairs).expect("JSON values always serialize")
    }
}

#[async_trait]
impl OffsetStore for FileOffsetStore {
    async fn get(&self, connector: &str, partition: &SourceMap) -> Result<Option<SourceMap>, ConnectError> {
        Ok(lookup(&self.map.lock(), connector, partition))
    }

    async fn put(&self, connector: &str, entries: Vec<(SourceMap, Option<SourceMap>)>) -> Result<(), ConnectError> {
        let _writer = self.write.lock().await;
        {
            let mut map = self.map.lock();
            for (partition, offset) in entries {
                apply(&mut map, connector, partition, offset);
            }
        }
        let bytes = self.snapshot_bytes();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(|e| ConnectError::Io(format!("offsets file write did not finish: {e}")))?
    }

    async fn all(&self, connector: &str) -> Result<Vec<(SourceMap, SourceMap)>, ConnectError> {
        Ok(list(&self.map.lock(), connector))
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ConnectError> {
    use std::io::Write;
    let io = |doing: &str, e: std::io::Error| ConnectError::Io(format!("{doing} {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io("creating the directory of", e))?;
    }
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(|e| io("creating a temporary file next to", e))?;
    file.write_all(bytes).map_err(|e| io("writing", e))?;
    file.sync_all().map_err(|e| io("syncing", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io("replacing", e))
}

/// Settings of the offsets topic (Kafka Connect's `offset.storage.*` worker settings).
#[derive(Debug, Clone)]
pub struct OffsetsTopicConfig {
    /// `offset.storage.topic`.
    pub topic: String,
    /// `offset.storage.partitions` (Kafka Connect's default: 25).
    pub partitions: i32,
    /// `offset.storage.replication.factor`, capped at the broker count (-1: the broker default).
    pub replication_factor: i16,
}

impl Default for OffsetsTopicConfig {
    fn default() -> Self {
        OffsetsTopicConfig { topic: "connect-offsets".to_string(), partitions: 25, replication_factor: 3 }
    }
}

/// Offsets in a compacted topic, read back into memory. Reads first catch up with the topic's end, so an
/// offset committed by any worker (or inside another producer's committed transaction) is seen.
pub struct KafkaOffsetStore {
    topic: String,
    producer: FutureProducer,
    /// Reads the whole topic with `read_committed`, so aborted exactly-once batches never count.
    reader: tokio::sync::Mutex<Reader>,
    map: Mutex<OffsetMap>,
}

struct Reader {
    /// Shared with blocking watermark lookups.
    consumer: Arc<StreamConsumer>,
    partitions: Vec<i32>,
}

impl std::fmt::Debug for KafkaOffsetStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaOffsetStore").field("topic", &self.topic).finish_non_exhaustive()
    }
}

/// Producer settings that every writer of the offsets topic shares, so one key always lands in the same
/// partition (murmur2 is the Java client's partitioner).
pub fn offsets_producer_config(client: &ClientConfig) -> ClientConfig {
    let mut c = client.clone();
    c.set("acks", "all").set("enable.idempotence", "true").set("partitioner", "murmur2_random");
    c
}

impl KafkaOffsetStore {
    /// Creates the topic if missing (compacted) and reads it to its end.
    pub async fn open(
        bootstrap_servers: &str,
        client_config: &BTreeMap<String, String>,
        config: OffsetsTopicConfig,
    ) -> Result<KafkaOffsetStore, ConnectError> {
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", bootstrap_servers);
        for (k, v) in client_config {
            client.set(k, v);
        }
        ensure_topic(
            &client,
            &config.topic,
            config.partitions,
            config.replication_factor,
            &[("cleanup.policy", "compact")],
        )
        .await?;
        let producer: FutureProducer = offsets_producer_config(&client)
            .set("linger.ms", "1")
            .create()
            .map_err(|e| kafka_error("creating the offsets producer", e))?;
        let consumer: StreamConsumer = client
            .clone()
            .set("group.id", format!("connect-offsets-reader-{}", uuid::Uuid::new_v4()))
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "50")
            .create()
            .map_err(|e| kafka_error("creating the offsets reader", e))?;
        let topic = config.topic.clone();
        let partitions = {
            let consumer_metadata = {
                let topic = topic.clone();
                let client = client.clone();
                tokio::task::spawn_blocking(move || -> Result<Vec<i32>, ConnectError> {
                    let probe: rdkafka::consumer::BaseConsumer =
                        client.create().map_err(|e| kafka_error("creating a metadata client", e))?;
                    let metadata = probe
                        .fetch_metadata(Some(&topic), KAFKA_TIMEOUT)
                        .map_err(|e| kafka_error(&format!("reading metadata of `{topic}`"), e))?;
                    Ok(metadata.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.id())).collect())
                })
            };
            consumer_metadata.await.map_err(|e| ConnectError::Io(format!("metadata lookup did not finish: {e}")))??
        };
        if partitions.is_empty() {
            return Err(ConnectError::Kafka {
                doing: format!("reading metadata of `{topic}`"),
                message: "the offsets topic has no partitions; check that it exists".to_string(),
            });
        }
        let mut assignment = TopicPartitionList::new();
        for p in &partitions {
            assignment
                .add_partition_offset(&topic, *p, Offset::Beginning)
                .map_err(|e| kafka_error("assigning the offsets topic", e))?;
        }
        consumer.assign(&assignment).map_err(|e| kafka_error("assigning the offsets topic", e))?;
        let store = KafkaOffsetStore {
            topic,
            producer,
            reader: tokio::sync::Mutex::new(Reader { consumer: Arc::new(consumer), partitions }),
            map: Mutex::new(OffsetMap::new()),
        };
        store.read_to_end().await?;
        Ok(store)
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Reads the topic until the reader's position reaches every partition's current end.
    pub async fn read_to_end(&self) -> Result<(), ConnectError> {
        let reader = self.reader.lock().await;
        let ends = {
            let topic = self.topic.clone();
            let partitions = reader.partitions.clone();
            let consumer = reader.consumer.clone();
            tokio::task::spawn_blocking(move || watermarks(&consumer, &topic, &partitions))
                .await
                .map_err(|e| ConnectError::Io(format!("watermark lookup did not finish: {e}")))??
        };
        let deadline = tokio::time::Instant::now() + KAFKA_TIMEOUT;
        loop {
            if caught_up(&reader.consumer, &self.topic, &ends)? {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ConnectError::Kafka {
                    doing: format!("reading `{}` to its end", self.topic),
                    message: format!("not caught up within {KAFKA_TIMEOUT:?}; is the cluster reachable?"),
                });
            }
            // Control records (transaction markers) advance the position without yielding a message, so
            // wait briefly and check the position again.
            match tokio::time::timeout(Duration::from_millis(50), reader.consumer.recv()).await {
                Err(_) => {}
                Ok(Err(e)) => return Err(kafka_error(&format!("reading `{}`", self.topic), e)),
                Ok(Ok(message)) => {
                    let Some((connector, partition)) = message.key().and_then(parse_offset_key) else {
                        tracing::warn!(topic = %self.topic, offset = message.offset(),
                            "skipping an offsets record whose key is not [connector, {{partition}}]");
                        continue;
                    };
                    let offset = match message.payload() {
                        None => None,
                        Some(bytes) => match serde_json::from_slice::<SourceMap>(bytes) {
                            Ok(o) => Some(o),
                            Err(e) => {
                                tracing::warn!(topic = %self.topic, offset = message.offset(), error = %e,
                                    "skipping an offsets record whose value is not a JSON object");
                                continue;
                            }
                        },
                    };
                    apply(&mut self.map.lock(), &connector, partition, offset);
                }
            }
        }
    }
}

/// The `(partition, high watermark)` of each partition.
fn watermarks(consumer: &StreamConsumer, topic: &str, partitions: &[i32]) -> Result<Vec<(i32, i64)>, ConnectError> {
    partitions
        .iter()
        .map(|p| {
            consumer
                .fetch_watermarks(topic, *p, KAFKA_TIMEOUT)
                .map(|(_, high)| (*p, high))
                .map_err(|e| kafka_error(&format!("reading the end offsets of `{topic}`"), e))
        })
        .collect()
}

fn caught_up(consumer: &StreamConsumer, topic: &str, ends: &[(i32, i64)]) -> Result<bool, ConnectError> {
    let position = consumer.position().map_err(|e| kafka_error(&format!("reading positions in `{topic}`"), e))?;
    Ok(ends.iter().all(|(p, end)| {
        *end <= 0
            || matches!(position.find_partition(topic, *p).map(|e| e.offset()), Some(Offset::Offset(o)) if o >= *end)
    }))
}

#[async_trait]
impl OffsetStore for KafkaOffsetStore {
    async fn get(&self, connector: &str, partition: &SourceMap) -> Result<Option<SourceMap>, ConnectError> {
        self.read_to_end().await?;
        Ok(lookup(&self.map.lock(), connector, partition))
    }

    async fn put(&self, connector: &str, entries: Vec<(SourceMap, Option<SourceMap>)>) -> Result<(), ConnectError> {
        produce_offsets(&self.producer, &self.topic, connector, &entries).await?;
        let mut map = self.map.lock();
        for (partition, offset) in entries {
            apply(&mut map, connector, partition, offset);
        }
        Ok(())
    }

    async fn all(&self, connector: &str) -> Result<Vec<(SourceMap, SourceMap)>, ConnectError> {
        self.read_to_end().await?;
        Ok(list(&self.map.lock(), connector))
    }

    fn offsets_topic(&self) -> Option<&str> {
        Some(&self.topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: serde_json::Value) -> SourceMap {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn keys_and_values_use_kafka_connects_layout() {
        let key = offset_key("files", &map(serde_json::json!({"filename": "a.txt"})));
        assert_eq!(String::from_utf8(key.clone()).unwrap(), r#"["files",{"filename":"a.txt"}]"#);
        assert_eq!(parse_offset_key(&key), Some(("files".to_string(), map(serde_json::json!({"filename": "a.txt"})))));
        assert_eq!(offset_value(Some(&map(serde_json::json!({"position": 42})))).unwrap(), br#"{"position":42}"#);
        assert_eq!(offset_value(None), None);
        assert_eq!(parse_offset_key(b"{\"not\":\"a key\"}"), None);
    }

    #[tokio::test]
    async fn file_store_survives_reopen_and_forgets_tombstones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        let store = FileOffsetStore::open(&path).unwrap();
        let (p1, p2) = (map(serde_json::json!({"f": "a"})), map(serde_json::json!({"f": "b"})));
        store
            .put(
                "c",
                vec![
                    (p1.clone(), Some(map(serde_json::json!({"pos": 1})))),
                    (p2.clone(), Some(map(serde_json::json!({"pos": 2})))),
                ],
            )
            .await
            .unwrap();
        store.put("c", vec![(p2.clone(), None)]).await.unwrap();
        let reopened = FileOffsetStore::open(&path).unwrap();
        assert_eq!(reopened.get("c", &p1).await.unwrap(), Some(map(serde_json::json!({"pos": 1}))));
        assert_eq!(reopened.get("c", &p2).await.unwrap(), None);
        assert_eq!(reopened.all("c").await.unwrap().len(), 1);
        assert!(reopened.all("other").await.unwrap().is_empty());
    }
}
