//! What the broker micro-benchmarks share: record batches encoded the way a producer sends them.
//!
//! Batches come from kafka-protocol's encoder (the broker's own wire codec), not from hand-written bytes, so
//! the benchmarks measure the broker on exactly the layout real clients produce.

// Each benchmark binary includes this module and uses a different part of it.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

/// Value bytes per record in every benchmark: the 1 KiB of the throughput targets.
pub(crate) const RECORD_BYTES: usize = 1024;

/// One uncompressed v2 batch of `records` records of [`RECORD_BYTES`] each, keyed, offsets from 0, as a
/// non-idempotent producer sends it.
pub(crate) fn batch(records: usize) -> Vec<u8> {
    let value = Bytes::from(vec![0x5a; RECORD_BYTES]);
    let records: Vec<Record> = (0..records)
        .map(|i| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder starts a new batch where offset - sequence changes; -1 + i keeps one batch.
            sequence: i as i32 - 1,
            timestamp: 1_700_000_000_000 + i as i64,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(value.clone()),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions { version: 2, compression: Compression::None };
    // Encoding fixed, well-formed records into memory cannot fail; a failure is a bug in this fixture.
    RecordBatchEncoder::encode(&mut buf, &records, &options).expect("bench fixture: encoding records failed");
    buf.to_vec()
}

/// A produce request's records field: `batches` batches of `records_per_batch` records, back to back.
pub(crate) fn request(batches: usize, records_per_batch: usize) -> Vec<u8> {
    let one = batch(records_per_batch);
    one.repeat(batches)
}
