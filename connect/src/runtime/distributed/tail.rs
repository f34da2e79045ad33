//! [`Tail`]: reads a whole topic from its start and keeps following it, handing each record to a callback and
//! publishing how far it has read, so a writer can wait until its own record has been applied (read your
//! writes) and a starting worker can wait until it has caught up with the topic's end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::ConnectError;
use crate::runtime::errors::kafka_error;

/// How long a metadata or watermark request, or catching up with a topic, may take.
pub(super) const KAFKA_TIMEOUT: Duration = Duration::from_secs(30);

/// Next offset to read, by partition.
pub(super) type Positions = BTreeMap<i32, i64>;

/// A running reader of one topic.
pub(super) struct Tail {
    topic: String,
    consumer: Arc<StreamConsumer>,
    partitions: Vec<i32>,
    positions: watch::Receiver<Positions>,
    join: JoinHandle<()>,
}

impl std::fmt::Debug for Tail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tail").field("topic", &self.topic).finish_non_exhaustive()
    }
}

/// The partition ids of `topic`.
pub(super) async fn partitions_of(client: &ClientConfig, topic: &str) -> Result<Vec<i32>, ConnectError> {
    let client = client.clone();
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || -> Result<Vec<i32>, ConnectError> {
        let probe: BaseConsumer = client.create().map_err(|e| kafka_error("creating a metadata client", e))?;
        let metadata = probe
            .fetch_metadata(Some(&topic), KAFKA_TIMEOUT)
            .map_err(|e| kafka_error(&format!("reading metadata of `{topic}`"), e))?;
        Ok(metadata.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.id())).collect())
    })
    .await
    .map_err(|e| ConnectError::Io(format!("metadata lookup did not finish: {e}")))?
}

impl Tail {
    /// Starts reading `topic` from its start; `apply` sees every record in order, per partition.
    pub(super) async fn start(
        client: &ClientConfig,
        topic: &str,
        mut apply: impl FnMut(&BorrowedMessage<'_>) + Send + 'static,
    ) -> Result<Tail, ConnectError> {
        let partitions = partitions_of(client, topic).await?;
        if partitions.is_empty() {
            return Err(ConnectError::Kafka {
                doing: format!("reading metadata of `{topic}`"),
                message: "the topic has no partitions; check that it exists".into(),
            });
        }
        let consumer: StreamConsumer = client
            .clone()
            .set("group.id", format!("connect-tail-{}", uuid::Uuid::new_v4()))
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .set("fetch.wait.max.ms", "50")
            .create()
            .map_err(|e| kafka_error(&format!("creating a reader of `{topic}`"), e))?;
        let mut assignment = TopicPartitionList::new();
        for p in &partitions {
            assignment
                .add_partition_offset(topic, *p, Offset::Beginning)
                .map_err(|e| kafka_error(&format!("assigning `{topic}`"), e))?;
        }
        consumer.assign(&assignment).map_err(|e| kafka_error(&format!("assigning `{topic}`"), e))?;
        let consumer = Arc::new(consumer);
        let (tx, positions) = watch::channel(partitions.iter().map(|p| (*p, 0)).collect::<Positions>());
        let reader = consumer.clone();
        let name = topic.to_string();
        let join = tokio::spawn(async move {
            loop {
                match tokio::time::timeout(Duration::from_millis(100), reader.recv()).await {
                    Ok(Ok(message)) => {
                        apply(&message);
                        let (partition, next) = (message.partition(), message.offset() + 1);
                        tx.send_if_modified(|m| {
                            let at = m.entry(partition).or_default();
                            let moved = next > *at;
                            *at = (*at).max(next);
                            moved
                        });
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(topic = %name, error = %e, "reading failed; retrying");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    // Idle: compaction gaps and transaction markers move the position without a record.
                    Err(_) => {
                        if let Ok(position) = reader.position() {
                            tx.send_if_modified(|m| {
                                let mut moved = false;
                                for e in position.elements_for_topic(&name) {
                                    if let Offset::Offset(o) = e.offset() {
                                        let at = m.entry(e.partition()).or_default();
                                        if o > *at {
                                            *at = o;
                                            moved = true;
                                        }
                                    }
                                }
                                moved
                            });
                        }
                    }
                }
            }
        });
        Ok(Tail { topic: topic.to_string(), consumer, partitions, positions, join })
    }

    /// Waits until the reader has applied the record at `offset` of `partition`.
    pub(super) async fn wait_applied(&self, partition: i32, offset: i64) -> Result<(), ConnectError> {
        let mut rx = self.positions.clone();
        let reached = tokio::time::timeout(KAFKA_TIMEOUT, async {
            rx.wait_for(|m| m.get(&partition).is_some_and(|at| *at > offset)).await.map(|_| ())
        })
        .await;
        match reached {
            Ok(Ok(())) => Ok(()),
            _ => Err(ConnectError::Kafka {
                doing: format!("reading back what was written to `{}`", self.topic),
                message: format!("offset {offset} of partition {partition} not read within {KAFKA_TIMEOUT:?}"),
            }),
        }
    }

    /// Waits until the reader has caught up with the end every partition has now.
    pub(super) async fn catch_up(&self) -> Result<(), ConnectError> {
        let ends = {
            let consumer = self.consumer.clone();
            let topic = self.topic.clone();
            let partitions = self.partitions.clone();
            tokio::task::spawn_blocking(move || -> Result<Vec<(i32, i64)>, ConnectError> {
                partitions
                    .iter()
                    .map(|p| {
                        consumer
                            .fetch_watermarks(&topic, *p, KAFKA_TIMEOUT)
                            .map(|(_, high)| (*p, high))
                            .map_err(|e| kafka_error(&format!("reading the end offsets of `{topic}`"), e))
                    })
                    .collect()
            })
            .await
            .map_err(|e| ConnectError::Io(format!("watermark lookup did not finish: {e}")))??
        };
        for (partition, end) in ends {
            if end > 0 {
                self.wait_applied(partition, end - 1).await?;
            }
        }
        Ok(())
    }

    /// Stops reading.
    pub(super) fn stop(&self) {
        self.join.abort();
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        self.join.abort();
    }
}
