//! [`KafkaLog`]: the `_schemas` topic as a [`SchemaLog`] over plain rdkafka, so it works against any Kafka-protocol
//! cluster: it makes sure the topic exists (one partition, compacted), reads it from the start into a [`State`]
//! with a group-less consumer, and writes with an idempotent producer when the election made this instance leader.
//!
//! Read-your-writes: [`SchemaLog::append`] returns only once the reader has applied the written records, and
//! [`SchemaLog::sync`] once it has applied everything below the high watermark it fetched; both compare offsets
//! with the "next offset applied" the reader publishes on a watch channel.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use parking_lot::{Mutex, RwLock};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Leadership, Record, RecordKey, RecordValue, SchemaLog};
use crate::config::RegistryConfig;
use crate::error::{RegistryError, StoreError};
use crate::state::State;

/// How often the reader asks its consumer for its position, so offsets it never receives as messages (control
/// records of another writer's transactions at the end of the log) still count as read.
const POSITION_TICK: Duration = Duration::from_millis(200);
/// Pause after a consumer error before the reader reads again, so an unreachable cluster does not spin a core.
const ERROR_BACKOFF: Duration = Duration::from_millis(200);
/// Pause between attempts while start-up waits for the cluster or the new topic.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// Longest a single metadata or watermark request may take; start-up retries it until its own deadline.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The librdkafka settings shared by every client of one instance: the bootstrap servers, then the operator's
/// own properties (`kafka` in the config, `-X` on the command line), which may override anything.
pub(crate) fn client_config(config: &RegistryConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.bootstrap_servers);
    for (key, value) in &config.kafka {
        client.set(key, value);
    }
    client
}

/// The `_schemas` topic, read into a [`State`] and written by the leader.
pub struct KafkaLog {
    topic: String,
    state: Arc<RwLock<State>>,
    producer: FutureProducer,
    /// The offset after the last record the reader applied (0 before any).
    applied: watch::Receiver<i64>,
    /// Set by the election; `Follower { leader_url: None }` until it says otherwise.
    leadership: watch::Sender<Leadership>,
    /// Appends between their leadership check and their delivery; a revoked leader waits for them to drain
    /// before it lets the group hand the topic to another instance.
    in_flight: AtomicUsize,
    write_timeout: Duration,
    stop_reader: watch::Sender<bool>,
    reader: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for KafkaLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaLog")
            .field("topic", &self.topic)
            .field("applied", &*self.applied.borrow())
            .field("leadership", &*self.leadership.borrow())
            .field("in_flight", &self.in_flight.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl KafkaLog {
    /// Makes sure the topic is usable, starts the reader and returns once the reader has applied every record
    /// that was in the topic when it started, so ids and versions are the ones served before a restart.
    /// Leadership starts as follower with no known leader; the election changes it.
    pub async fn start(config: &RegistryConfig) -> Result<Arc<KafkaLog>, RegistryError> {
        let init_deadline = Instant::now() + Duration::from_millis(config.init_timeout_ms);
        let base = client_config(config);
        ensure_topic(config, &base, init_deadline).await?;

        let producer: FutureProducer = base
            .clone()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0")
            .set("message.timeout.ms", config.write_timeout_ms.to_string())
            .create()
            .map_err(|source| RegistryError::Kafka { doing: "creating the `_schemas` producer", source })?;

        let consumer: StreamConsumer = base
            .clone()
            // librdkafka wants a group id for `assign`; this one is never joined nor committed to (partitions are
            // assigned by hand and read from the start), so the coordinator never learns of it.
            .set("group.id", format!("{}-reader", config.group_id))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .create()
            .map_err(|source| RegistryError::Kafka { doing: "creating the `_schemas` reader", source })?;
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&config.topic, 0, Offset::Beginning)
            .map_err(|source| RegistryError::Kafka { doing: "assigning the `_schemas` partition", source })?;
        consumer
            .assign(&assignment)
            .map_err(|source| RegistryError::Kafka { doing: "assigning the `_schemas` partition", source })?;

        let state = Arc::new(RwLock::new(State::default()));
        let (applied_tx, applied) = watch::channel(0_i64);
        let (stop_reader, stop_rx) = watch::channel(false);
        let reader = tokio::spawn(read_loop(consumer, config.topic.clone(), state.clone(), applied_tx, stop_rx));
        let log = Arc::new(KafkaLog {
            topic: config.topic.clone(),
            state,
            producer,
            applied,
            leadership: watch::channel(Leadership::Follower { leader_url: None }).0,
            in_flight: AtomicUsize::new(0),
            write_timeout: Duration::from_millis(config.write_timeout_ms),
            stop_reader,
            reader: Mutex::new(Some(reader)),
        });

        // The end seen now is what "every schema registered before the restart" means.
        let end = loop {
            match log.watermarks().await {
                Ok((low, high)) => break (low, high),
                Err(e) if Instant::now() >= init_deadline => {
                    log.shutdown().await;
                    return Err(RegistryError::Kafka { doing: "reading the `_schemas` end offset", source: e });
                }
                Err(e) => {
                    tracing::debug!(error = %e, "`_schemas` end offset not available yet; retrying");
                    tokio::time::sleep(RETRY_BACKOFF).await;
                }
            }
        };
        if let Err(()) = log.wait_applied(end, init_deadline).await {
            log.shutdown().await;
            return Err(RegistryError::Timeout {
                doing: "reading the `_schemas` topic to its end at start-up",
                millis: config.init_timeout_ms,
            });
        }
        tracing::info!(topic = %config.topic, end = end.1, "read the schemas topic to its end");
        Ok(log)
    }

    /// The offset after the last record applied to the state.
    pub fn applied(&self) -> i64 {
        *self.applied.borrow()
    }

    /// A receiver of every leadership change, for whoever wants to follow elections (tests, metrics).
    pub fn watch_leadership(&self) -> watch::Receiver<Leadership> {
        self.leadership.subscribe()
    }

    /// Called by the election only.
    pub(crate) fn set_leadership(&self, leadership: Leadership) {
        self.leadership.send_if_modified(|current| {
            if *current == leadership {
                false
            } else {
                tracing::info!(topic = %self.topic, from = ?current, to = ?leadership, "schema registry leadership changed");
                *current = leadership;
                true
            }
        });
    }

    /// Called by the election's leader lookup: changes where a follower forwards, and nothing if this instance
    /// became leader meanwhile.
    pub(crate) fn update_leader_url(&self, url: Option<String>) {
        self.leadership.send_if_modified(|current| match current {
            Leadership::Follower { leader_url } if *leader_url != url => {
                tracing::info!(topic = %self.topic, leader = ?url, "schema registry leader found");
                *leader_url = url;
                true
            }
            _ => false,
        });
    }

    /// Appends that passed their leadership check and are not yet delivered.
    pub(crate) fn appends_in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Stops the reader and flushes the producer. The state stays readable.
    pub async fn shutdown(&self) {
        let _ = self.stop_reader.send(true);
        let reader = self.reader.lock().take();
        if let Some(reader) = reader {
            let _ = reader.await;
        }
        let producer = self.producer.clone();
        let _ = tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(5))).await;
    }

    /// The partition's (log start, high watermark), fetched from its leader.
    async fn watermarks(&self) -> Result<(i64, i64), KafkaError> {
        let producer = self.producer.clone();
        let topic = self.topic.clone();
        tokio::task::spawn_blocking(move || producer.client().fetch_watermarks(&topic, 0, REQUEST_TIMEOUT))
            .await
            .map_err(|_| KafkaError::Canceled)?
    }

    /// Waits until the reader has applied everything below `end.1` (immediate when the log holds nothing).
    async fn wait_applied(&self, (low, high): (i64, i64), deadline: Instant) -> Result<(), ()> {
        if high <= low {
            return Ok(());
        }
        let mut applied = self.applied.clone();
        let reached =
            tokio::time::timeout_at(deadline, applied.wait_for(|&next| next >= high)).await.map(|r| r.is_ok());
        // Err: the deadline passed; Ok(false): the reader stopped (shutdown).
        if reached == Ok(true) {
            Ok(())
        } else {
            Err(())
        }
    }
}

/// Counts an append as in flight for as long as it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl SchemaLog for KafkaLog {
    fn state(&self) -> &Arc<RwLock<State>> {
        &self.state
    }

    fn append(&self, records: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            if records.is_empty() {
                return Ok(());
            }
            let timeout_ms = self.write_timeout.as_millis() as u64;
            let deadline = Instant::now() + self.write_timeout;
            // Counted before the leadership check: a revoked leader flips leadership first and then waits for
            // this count to drain, so every append either sees the flip or is waited for.
            let in_flight = InFlight::enter(&self.in_flight);
            if *self.leadership.borrow() != Leadership::Leader {
                return Err(StoreError::NotLeader);
            }
            // Enqueued all at once, in order: the idempotent producer keeps that order on the partition.
            let mut deliveries = Vec::with_capacity(records.len());
            for record in &records {
                let key = record.key.to_bytes();
                let value = record.value.as_ref().map(RecordValue::to_bytes);
                let mut message = FutureRecord::<Vec<u8>, Vec<u8>>::to(&self.topic).key(&key).partition(0);
                if let Some(value) = &value {
                    message = message.payload(value);
                }
                let delivery = self.producer.send_result(message).map_err(|(e, _)| StoreError::Kafka(e.to_string()))?;
                deliveries.push(delivery);
            }
            let mut last_offset = -1;
            for delivery in deliveries {
                match tokio::time::timeout_at(deadline, delivery).await {
                    Err(_) => return Err(StoreError::Timeout(timeout_ms)),
                    Ok(Err(_canceled)) => return Err(StoreError::Closed),
                    Ok(Ok(Err((e, _)))) => return Err(StoreError::Kafka(e.to_string())),
                    Ok(Ok(Ok(delivered))) => last_offset = last_offset.max(delivered.offset),
                }
            }
            drop(in_flight);
            let mut applied = self.applied.clone();
            let reached = tokio::time::timeout_at(deadline, applied.wait_for(|&next| next > last_offset))
                .await
                .map(|r| r.is_ok());
            match reached {
                Ok(true) => Ok(()),
                Ok(false) => Err(StoreError::Closed),
                Err(_) => Err(StoreError::Timeout(timeout_ms)),
            }
        })
    }

    fn sync(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let timeout_ms = self.write_timeout.as_millis() as u64;
            let deadline = Instant::now() + self.write_timeout;
            let end = tokio::time::timeout_at(deadline, self.watermarks())
                .await
                .map_err(|_| StoreError::Timeout(timeout_ms))?
                .map_err(|e| StoreError::Kafka(format!("fetching the `{}` end offset: {e}", self.topic)))?;
            self.wait_applied(end, deadline).await.map_err(|()| {
                if *self.stop_reader.borrow() {
                    StoreError::Closed
                } else {
                    StoreError::Timeout(timeout_ms)
                }
            })
        })
    }

    fn leadership(&self) -> Leadership {
        self.leadership.borrow().clone()
    }
}

/// Reads the partition forever, applying each record in offset order, until told to stop.
async fn read_loop(
    consumer: StreamConsumer,
    topic: String,
    state: Arc<RwLock<State>>,
    applied: watch::Sender<i64>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(POSITION_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let advance = |to: i64| {
        applied.send_if_modified(|next| {
            let advanced = to > *next;
            if advanced {
                *next = to;
            }
            advanced
        });
    };
    while !*stop.borrow() {
        // Owned results only, so nothing borrowed from the consumer lives across an await.
        let event = tokio::select! {
            // A dropped sender (the log itself is gone) stops the reader like an explicit stop.
            changed = stop.changed() => if changed.is_err() { break } else { continue },
            message = consumer.recv() => match message {
                Ok(message) => Ok((message.offset(), decode(message.key(), message.payload()))),
                Err(e) => Err(e),
            },
            _ = tick.tick() => {
                // Every message before the position has been handed to this loop and applied.
                if let Ok(position) = consumer.position() {
                    if let Some(Offset::Offset(position)) = position.find_partition(&topic, 0).map(|p| p.offset()) {
                        advance(position);
                    }
                }
                continue;
            }
        };
        match event {
            Ok((offset, decoded)) => {
                match decoded {
                    Ok(Some(record)) => state.write().apply(&record),
                    Ok(None) => {
                        tracing::debug!(%topic, offset, "skipped a record of a key type this registry does not know")
                    }
                    Err(detail) => {
                        let error = RegistryError::CorruptRecord { topic: topic.clone(), offset, detail };
                        tracing::error!(%error, "skipped a corrupt record");
                    }
                }
                advance(offset + 1);
            }
            Err(e) => {
                tracing::warn!(%topic, error = %e, "reading the schemas topic failed; retrying");
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
        }
    }
}

/// One record's key and value as read from the topic. `Ok(None)`: a key type this registry does not know.
pub(crate) fn decode(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Option<Record>, String> {
    let key = key.ok_or("the record has no key")?;
    let key = match RecordKey::from_bytes(key) {
        Ok(Some(key)) => key,
        Ok(None) => return Ok(None),
        Err(e) => return Err(format!("unreadable key {:?}: {e}", String::from_utf8_lossy(key))),
    };
    let value = match value {
        None => None,
        Some(bytes) => Some(
            RecordValue::from_bytes(&key, bytes)
                .map_err(|e| format!("unreadable value of key {:?}: {e}", String::from_utf8_lossy(&key.to_bytes())))?,
        ),
    };
    Ok(Some(Record { key, value }))
}

/// Creates the topic (one partition, compacted) if it is missing, then checks that it has one partition and the
/// `compact` cleanup policy: with `delete`, Kafka would drop schemas after the retention time, and with more
/// than one partition the records would lose their order.
async fn ensure_topic(config: &RegistryConfig, base: &ClientConfig, deadline: Instant) -> Result<(), RegistryError> {
    let topic = config.topic.as_str();
    let admin: Arc<AdminClient<DefaultClientContext>> =
        Arc::new(base.create().map_err(|source| RegistryError::Kafka { doing: "creating the admin client", source })?);
    let remaining = || deadline.saturating_duration_since(Instant::now());
    let timeout_error = |doing| RegistryError::Timeout { doing, millis: config.init_timeout_ms };

    let (brokers, partitions) = metadata(&admin, topic, deadline).await.map_err(|e| match e {
        Some(source) => RegistryError::Kafka { doing: "fetching cluster metadata", source },
        None => timeout_error("fetching cluster metadata"),
    })?;
    if partitions.is_none() {
        let replication = config.topic_replication_factor.unwrap_or_else(|| brokers.clamp(1, 3));
        let new_topic = NewTopic::new(topic, 1, TopicReplication::Fixed(replication)).set("cleanup.policy", "compact");
        let options = AdminOptions::new().operation_timeout(Some(remaining().min(REQUEST_TIMEOUT)));
        let results = admin
            .create_topics([&new_topic], &options)
            .await
            .map_err(|source| RegistryError::Kafka { doing: "creating the schemas topic", source })?;
        for result in results {
            match result {
                Ok(_) => tracing::info!(topic, replication, "created the schemas topic"),
                // Another instance won the race; it is checked below like any existing topic.
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(RegistryError::Topic {
                        topic: topic.to_string(),
                        detail: format!(
                            "creating it with 1 partition, replication factor {replication} and \
                             cleanup.policy=compact failed: {code}; create it yourself or set \
                             topic_replication_factor to what the cluster can hold"
                        ),
                    })
                }
            }
        }
    }

    // A new topic may take a moment to show up with its partition and leader.
    let partitions = loop {
        match metadata(&admin, topic, deadline).await {
            Ok((_, Some(partitions))) => break partitions,
            Ok((_, None)) if Instant::now() < deadline => tokio::time::sleep(RETRY_BACKOFF).await,
            Ok((_, None)) | Err(None) => return Err(timeout_error("waiting for the schemas topic to appear")),
            Err(Some(source)) => return Err(RegistryError::Kafka { doing: "fetching cluster metadata", source }),
        }
    };
    if partitions != 1 {
        return Err(RegistryError::Topic {
            topic: topic.to_string(),
            detail: format!(
                "it has {partitions} partitions but must have exactly 1, or schemas lose their order; delete and \
                 recreate it with one partition, or point the registry at another topic"
            ),
        });
    }

    let options = AdminOptions::new().request_timeout(Some(remaining().min(REQUEST_TIMEOUT)));
    let described = admin
        .describe_configs([&ResourceSpecifier::Topic(topic)], &options)
        .await
        .map_err(|source| RegistryError::Kafka { doing: "describing the schemas topic's configs", source })?;
    let policy = match described.into_iter().next() {
        Some(Ok(resource)) => resource.get("cleanup.policy").and_then(|entry| entry.value.clone()),
        Some(Err(code)) => {
            return Err(RegistryError::Topic {
                topic: topic.to_string(),
                detail: format!("describing its configs failed: {code}"),
            })
        }
        None => None,
    };
    match policy.as_deref() {
        Some("compact") => Ok(()),
        other => Err(RegistryError::Topic {
            topic: topic.to_string(),
            detail: format!(
                "its cleanup.policy is {} but must be `compact`, or the cluster deletes schemas after the retention \
                 time; set it with `kafka-configs --alter --entity-type topics --entity-name {topic} --add-config \
                 cleanup.policy=compact`",
                other.map_or("unknown".to_string(), |p| format!("`{p}`"))
            ),
        }),
    }
}

/// The number of brokers, and the topic's partition count if it exists, retried until `deadline`.
/// `Err(None)`: the deadline passed without an answer; `Err(Some(e))`: an error that retrying will not fix.
async fn metadata(
    admin: &Arc<AdminClient<DefaultClientContext>>,
    topic: &str,
    deadline: Instant,
) -> Result<(i32, Option<usize>), Option<KafkaError>> {
    loop {
        let admin = admin.clone();
        let wanted = topic.to_string();
        // All topics rather than this one: asking for one topic by name may auto-create it with the broker's
        // defaults (not compacted).
        let answer = tokio::task::spawn_blocking(move || {
            admin.inner().fetch_metadata(None, REQUEST_TIMEOUT).map(|metadata| {
                let partitions = metadata
                    .topics()
                    .iter()
                    .find(|t| t.name() == wanted && t.error().is_none())
                    .map(|t| t.partitions().len())
                    .filter(|&n| n > 0);
                (metadata.brokers().len() as i32, partitions)
            })
        })
        .await
        .map_err(|_| Some(KafkaError::Canceled))?;
        match answer {
            Ok(found) => return Ok(found),
            Err(e) if Instant::now() >= deadline => {
                tracing::warn!(error = %e, "cluster metadata unavailable");
                return Err(None);
            }
            Err(e) => {
                tracing::debug!(error = %e, "cluster metadata not available yet; retrying");
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::{ConfigValue, SchemaValue};

    #[test]
    fn decode_reads_records_tombstones_and_skips_unknown_key_types() {
        let key = RecordKey::Schema { subject: "s".into(), version: 1 };
        let value = RecordValue::Schema(SchemaValue {
            subject: "s".into(),
            version: 1,
            id: 3,
            schema_type: Default::default(),
            references: Vec::new(),
            schema: "\"string\"".into(),
            deleted: false,
        });
        let decoded = decode(Some(&key.to_bytes()), Some(&value.to_bytes())).unwrap().unwrap();
        assert_eq!(decoded, Record { key: key.clone(), value: Some(value) });

        let tombstone = decode(Some(&key.to_bytes()), None).unwrap().unwrap();
        assert_eq!(tombstone, Record { key, value: None });

        assert_eq!(decode(Some(br#"{"keytype":"CONTEXT","magic":0}"#), Some(b"{}")).unwrap(), None);

        let config_key = RecordKey::Config { subject: None };
        let config = RecordValue::Config(ConfigValue { compatibility_level: None, normalize: Some(true) });
        assert_eq!(
            decode(Some(&config_key.to_bytes()), Some(&config.to_bytes())).unwrap(),
            Some(Record { key: config_key, value: Some(config) })
        );
    }

    #[test]
    fn decode_reports_corrupt_records_instead_of_panicking() {
        assert!(decode(None, Some(b"{}")).unwrap_err().contains("no key"));
        assert!(decode(Some(b"\xff not json"), None).unwrap_err().contains("unreadable key"));
        let key = RecordKey::Schema { subject: "s".into(), version: 1 }.to_bytes();
        assert!(decode(Some(&key), Some(b"{\"subject\":1}")).unwrap_err().contains("unreadable value"));
    }
}
