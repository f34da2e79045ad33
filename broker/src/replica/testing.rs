//! Test helpers: producer batches, and a metadata source that is a plain watch channel whose AlterPartition
//! proposals are applied the way the controller would (epochs checked, partition epoch bumped).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use parking_lot::Mutex;
use tokio::sync::watch;

use super::source::MetadataSource;
use crate::controller::{CommandResult, ControllerError, MetadataCommand, MetadataImage};

/// One producer batch of `n` records (no producer id), as a client would send it.
pub(crate) fn batch(n: usize) -> Vec<u8> {
    let now = crate::maintenance::now_ms();
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder splits batches where offset - sequence changes; -1 + i keeps base sequence -1.
            sequence: i as i32 - 1,
            // Now: an old timestamp would let retention delete the records under the test.
            timestamp: now,
            key: None,
            value: Some(Bytes::from(format!("value-{i}"))),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression: Compression::None })
        .expect("encode a batch");
    buf.to_vec()
}

/// A metadata source the test drives: publish images, see proposals.
#[derive(Debug)]
pub(crate) struct FakeSource {
    pub(crate) images: watch::Sender<Arc<MetadataImage>>,
    pub(crate) proposals: Mutex<Vec<MetadataCommand>>,
}

impl FakeSource {
    pub(crate) fn new(image: MetadataImage) -> Arc<Self> {
        Arc::new(Self { images: watch::channel(Arc::new(image)).0, proposals: Mutex::new(Vec::new()) })
    }

    /// Publishes a change of the current image, bumping its applied index.
    pub(crate) fn update(&self, change: impl FnOnce(&mut MetadataImage)) {
        self.images.send_modify(|image| {
            let image = Arc::make_mut(image);
            change(image);
            image.applied_index += 1;
        });
    }
}

impl MetadataSource for FakeSource {
    fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.images.subscribe()
    }

    fn propose(&self, command: MetadataCommand) -> BoxFuture<'_, Result<CommandResult, ControllerError>> {
        self.proposals.lock().push(command.clone());
        let result = match command {
            MetadataCommand::AlterPartition { topic, partition, leader_epoch, partition_epoch, isr, .. } => {
                let current = self.images.borrow().partition(&topic, partition).cloned();
                match current {
                    Some(p) if p.leader_epoch == leader_epoch && p.partition_epoch == partition_epoch => {
                        self.update(|image| {
                            if let Some(p) =
                                image.topics.get_mut(&topic).and_then(|t| t.partitions.get_mut(partition as usize))
                            {
                                p.isr = isr;
                                p.partition_epoch += 1;
                            }
                        });
                        CommandResult::Ok
                    }
                    _ => CommandResult::Refused { code: 108, message: "stale epochs".into() },
                }
            }
            _ => CommandResult::Ok,
        };
        Box::pin(async move { Ok(result) })
    }
}
