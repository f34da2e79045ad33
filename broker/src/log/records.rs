//! Decoding the records inside batches, for the paths that need them: key checks on compacted topics, timestamp
//! lookups and compaction. The produce and fetch paths never come here for ordinary topics.

use bytes::Bytes;
use kafka_protocol::records::{Record, RecordBatchDecoder};

use super::batch::{BatchHeader, HEADER_LEN};
use super::error::AppendError;

/// Smallest encoded record: length, attributes, timestamp delta, offset delta, key length, value length and
/// header count, one byte each.
const MIN_RECORD_BYTES: usize = 7;
/// Records a compressed batch may claim; the decoder reserves memory for the claimed count up front, so an
/// absurd count from a client must be refused before decoding.
const MAX_COMPRESSED_RECORDS: usize = 1 << 20;

/// Decodes the records of one whole batch (`bytes` holds exactly the batch). Records of LogAppendTime batches get
/// the batch's append time, as Kafka defines it.
pub(crate) fn decode(bytes: &[u8], header: &BatchHeader) -> Result<Vec<Record>, String> {
    let count = header.record_count.max(0) as usize;
    let body = bytes.len().saturating_sub(HEADER_LEN);
    let limit = if header.compression() == 0 { body / MIN_RECORD_BYTES } else { MAX_COMPRESSED_RECORDS };
    if count > limit {
        return Err(format!("record count {count} is impossible for a batch of {} bytes", bytes.len()));
    }
    let mut buf = Bytes::copy_from_slice(bytes);
    let set = RecordBatchDecoder::decode(&mut buf).map_err(|e| e.to_string())?;
    let mut records = set.records;
    if header.is_log_append_time() {
        for r in &mut records {
            r.timestamp = header.max_timestamp;
        }
    }
    Ok(records)
}

/// Compacted topics keep the latest record per key, so every record needs a key: refuses batches holding one
/// without. Control batches (transaction markers) carry their own keys and pass.
pub(crate) fn check_keys(buf: &[u8], headers: &[BatchHeader]) -> Result<(), AppendError> {
    let mut pos = 0usize;
    for h in headers {
        let one = buf.get(pos..pos + h.size()).unwrap_or_default();
        pos += h.size();
        if h.is_control() {
            continue;
        }
        let records = decode(one, h).map_err(|e| AppendError::Corrupt(format!("cannot decode records: {e}")))?;
        if records.iter().any(|r| r.key.is_none()) {
            return Err(AppendError::InvalidRecord(
                "compacted topics need a key on every record; set a key or use cleanup.policy=delete".into(),
            ));
        }
    }
    Ok(())
}
