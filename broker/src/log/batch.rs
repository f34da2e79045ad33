//! The Kafka v2 record batch header: parsing, validation (CRC-32C) and the in-place edits the broker makes.
//!
//! This is the hot path of produce: it never decompresses. Everything here is pure (no I/O) and must never panic,
//! whatever the bytes: the property tests at the bottom feed it arbitrary input.

use super::error::AppendError;

/// Bytes of the v2 batch header, from `baseOffset` to `recordCount` inclusive.
pub const HEADER_LEN: usize = 61;
/// Bytes before the part counted by `batchLength` (`baseOffset` and `batchLength` themselves).
pub const LOG_OVERHEAD: usize = 12;
/// The only record format stored.
pub const MAGIC_V2: i8 = 2;

// Field positions inside the header; FORMAT.md documents them.
const BASE_OFFSET: usize = 0;
const BATCH_LENGTH: usize = 8;
const LEADER_EPOCH: usize = 12;
const MAGIC: usize = 16;
const CRC: usize = 17;
/// The CRC covers everything from `attributes` to the end of the batch.
const CRC_START: usize = 21;
const ATTRIBUTES: usize = 21;
const LAST_OFFSET_DELTA: usize = 23;
const BASE_TIMESTAMP: usize = 27;
const MAX_TIMESTAMP: usize = 35;
const PRODUCER_ID: usize = 43;
const PRODUCER_EPOCH: usize = 51;
const BASE_SEQUENCE: usize = 53;
const RECORD_COUNT: usize = 57;

const ATTR_COMPRESSION_MASK: i16 = 0x07;
const ATTR_LOG_APPEND_TIME: i16 = 1 << 3;
const ATTR_TRANSACTIONAL: i16 = 1 << 4;
const ATTR_CONTROL: i16 = 1 << 5;

/// The parsed fixed-size header of one v2 record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record (assigned by the broker on append).
    pub base_offset: i64,
    /// Bytes after the `batchLength` field.
    pub batch_length: i32,
    /// Leader epoch when the batch was appended.
    pub partition_leader_epoch: i32,
    /// Always 2 once validated.
    pub magic: i8,
    /// CRC-32C of everything from `attributes` to the end.
    pub crc: u32,
    /// Compression (bits 0-2), timestamp type (bit 3), transactional (bit 4), control (bit 5).
    pub attributes: i16,
    /// Offset of the last record minus `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest record timestamp (the append time for LogAppendTime batches).
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id, -1 if none.
    pub producer_id: i64,
    /// Producer epoch, -1 if none.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 if none.
    pub base_sequence: i32,
    /// Records in the batch.
    pub record_count: i32,
}

impl BatchHeader {
    /// Total bytes of the batch on disk and on the wire.
    pub fn size(&self) -> usize {
        LOG_OVERHEAD + self.batch_length.max(0) as usize
    }
    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset.saturating_add(i64::from(self.last_offset_delta))
    }
    /// The next offset after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }
    /// Compression codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub fn compression(&self) -> i16 {
        self.attributes & ATTR_COMPRESSION_MASK
    }
    /// Whether record timestamps are the batch's append time (`maxTimestamp`).
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & ATTR_LOG_APPEND_TIME != 0
    }
    /// Part of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }
    /// A control batch (transaction commit/abort marker), never written by ordinary producers.
    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }
}

fn be_i16(buf: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([buf[at], buf[at + 1]])
}
fn be_i32(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}
fn be_i64(buf: &[u8], at: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    i64::from_be_bytes(b)
}

/// Parses the 61-byte header at the start of `buf` without looking at the rest. Checks the magic and that the
/// length can hold a header; does not check the CRC nor that `buf` holds the whole batch.
pub fn parse_header(buf: &[u8]) -> Result<BatchHeader, AppendError> {
    if buf.len() <= MAGIC {
        return Err(AppendError::Corrupt(format!("{} bytes cannot hold a record batch header", buf.len())));
    }
    let magic = buf[MAGIC] as i8;
    if magic != MAGIC_V2 {
        return Err(AppendError::UnsupportedMagic(magic));
    }
    if buf.len() < HEADER_LEN {
        return Err(AppendError::Corrupt(format!(
            "{} bytes cannot hold a record batch header of {HEADER_LEN} bytes",
            buf.len()
        )));
    }
    let batch_length = be_i32(buf, BATCH_LENGTH);
    if (batch_length as i64) < (HEADER_LEN - LOG_OVERHEAD) as i64 {
        return Err(AppendError::Corrupt(format!("batch length {batch_length} is smaller than a batch header")));
    }
    Ok(BatchHeader {
        base_offset: be_i64(buf, BASE_OFFSET),
        batch_length,
        partition_leader_epoch: be_i32(buf, LEADER_EPOCH),
        magic,
        crc: be_i32(buf, CRC) as u32,
        attributes: be_i16(buf, ATTRIBUTES),
        last_offset_delta: be_i32(buf, LAST_OFFSET_DELTA),
        base_timestamp: be_i64(buf, BASE_TIMESTAMP),
        max_timestamp: be_i64(buf, MAX_TIMESTAMP),
        producer_id: be_i64(buf, PRODUCER_ID),
        producer_epoch: be_i16(buf, PRODUCER_EPOCH),
        base_sequence: be_i32(buf, BASE_SEQUENCE),
        record_count: be_i32(buf, RECORD_COUNT),
    })
}

/// Parses the batch at the start of `buf`, checks that `buf` holds all of it and that its CRC-32C matches, and
/// checks the header fields every stored batch satisfies. Used for stored batches (recovery), so it accepts
/// compacted batches whose record count is below `lastOffsetDelta + 1`.
pub fn check_batch(buf: &[u8]) -> Result<BatchHeader, AppendError> {
    let header = parse_header(buf)?;
    let size = header.size();
    if size > buf.len() {
        return Err(AppendError::Corrupt(format!("batch claims {size} bytes but only {} remain", buf.len())));
    }
    let computed = crc32c::crc32c(&buf[CRC_START..size]);
    if computed != header.crc {
        return Err(AppendError::Corrupt(format!(
            "CRC-32C mismatch: header says {:#010x}, content gives {computed:#010x}",
            header.crc
        )));
    }
    if header.last_offset_delta < 0
        || header.record_count < 0
        || header.record_count > header.last_offset_delta.saturating_add(1)
    {
        return Err(AppendError::Corrupt(format!(
            "record count {} does not fit last offset delta {}",
            header.record_count, header.last_offset_delta
        )));
    }
    if header.compression() > 4 {
        return Err(AppendError::Corrupt(format!("unknown compression codec {}", header.compression())));
    }
    Ok(header)
}

/// Validates a produce request's records: one or more whole v2 batches, each within `max_batch_bytes`, each with a
/// correct CRC, each holding `lastOffsetDelta + 1` records (producers send contiguous offsets). Pure and
/// panic-free on any input.
pub fn validate_batches(buf: &[u8], max_batch_bytes: u32) -> Result<Vec<BatchHeader>, AppendError> {
    if buf.is_empty() {
        return Err(AppendError::Corrupt("the request holds no record batch".into()));
    }
    let mut headers = Vec::new();
    let mut pos = 0usize;
    while pos < buf.len() {
        let rest = &buf[pos..];
        let header = parse_header(rest)?;
        if header.size() as u64 > u64::from(max_batch_bytes) {
            return Err(AppendError::TooLarge(format!(
                "batch of {} bytes exceeds max.message.bytes {max_batch_bytes}",
                header.size()
            )));
        }
        let header = check_batch(rest)?;
        if header.record_count < 1 || header.record_count != header.last_offset_delta.saturating_add(1) {
            return Err(AppendError::Corrupt(format!(
                "record count {} does not match last offset delta {}",
                header.record_count, header.last_offset_delta
            )));
        }
        pos += header.size();
        headers.push(header);
    }
    Ok(headers)
}

/// Control record types (the second i16 of a control record's key).
pub const CONTROL_ABORT: i16 = 0;
/// See [`CONTROL_ABORT`].
pub const CONTROL_COMMIT: i16 = 1;

/// The type of the first control record of an uncompressed control batch (`buf` holds the whole batch): ABORT 0,
/// COMMIT 1. Reads the record's leading fields without decoding the rest; `None` if they are malformed.
pub fn control_type(buf: &[u8]) -> Option<i16> {
    let mut rest = buf.get(HEADER_LEN..)?;
    let _length = read_varint(&mut rest)?;
    rest = rest.get(1..)?; // attributes
    let _timestamp_delta = read_varint(&mut rest)?;
    let _offset_delta = read_varint(&mut rest)?;
    let key_len = read_varint(&mut rest)?;
    if key_len < 4 {
        return None;
    }
    let key = rest.get(..4)?;
    Some(i16::from_be_bytes([key[2], key[3]]))
}

/// The type and coordinator epoch of the first control record of an uncompressed control batch (`buf` holds the
/// whole batch): (ABORT 0 or COMMIT 1, coordinator epoch). `None` if the record is malformed; the coordinator
/// epoch is -1 when the value is missing or short.
pub fn control_marker(buf: &[u8]) -> Option<(i16, i32)> {
    let kind = control_type(buf)?;
    let mut rest = buf.get(HEADER_LEN..)?;
    let _length = read_varint(&mut rest)?;
    rest = rest.get(1..)?;
    let _timestamp_delta = read_varint(&mut rest)?;
    let _offset_delta = read_varint(&mut rest)?;
    let key_len = usize::try_from(read_varint(&mut rest)?).ok()?;
    rest = rest.get(key_len..)?;
    let value_len = read_varint(&mut rest)?;
    let epoch = match (value_len >= 6).then(|| rest.get(2..6)).flatten() {
        Some(v) => i32::from_be_bytes([v[0], v[1], v[2], v[3]]),
        None => -1,
    };
    Some((kind, epoch))
}

/// A zig-zag varint (up to 64 bits), advancing `buf`.
fn read_varint(buf: &mut &[u8]) -> Option<i64> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let b = *buf.get(i)?;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            *buf = &buf[i + 1..];
            return Some(((value >> 1) as i64) ^ -((value & 1) as i64));
        }
    }
    None
}

/// Sets `baseOffset` of the batch starting at `buf[0]` (outside the CRC: no recomputation).
pub fn set_base_offset(buf: &mut [u8], base_offset: i64) {
    if let Some(field) = buf.get_mut(BASE_OFFSET..BASE_OFFSET + 8) {
        field.copy_from_slice(&base_offset.to_be_bytes());
    }
}

/// Sets `partitionLeaderEpoch` of the batch starting at `buf[0]` (outside the CRC).
pub fn set_partition_leader_epoch(buf: &mut [u8], epoch: i32) {
    if let Some(field) = buf.get_mut(LEADER_EPOCH..LEADER_EPOCH + 4) {
        field.copy_from_slice(&epoch.to_be_bytes());
    }
}

/// Marks the batch as LogAppendTime with `maxTimestamp = now_ms`, then recomputes the CRC (both fields are
/// covered by it). `buf` must hold exactly one validated batch.
pub fn set_log_append_time(buf: &mut [u8], now_ms: i64) {
    if buf.len() < HEADER_LEN {
        return;
    }
    let attributes = be_i16(buf, ATTRIBUTES) | ATTR_LOG_APPEND_TIME;
    buf[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    buf[MAX_TIMESTAMP..MAX_TIMESTAMP + 8].copy_from_slice(&now_ms.to_be_bytes());
    update_crc(buf);
}

/// Rewrites header fields the re-encoder cannot express (timestamp type, max timestamp, base sequence) and
/// recomputes the CRC. `buf` must hold exactly one batch.
pub(crate) fn patch_header(buf: &mut [u8], log_append_time: Option<i64>, base_sequence: i32) {
    if buf.len() < HEADER_LEN {
        return;
    }
    if let Some(ts) = log_append_time {
        let attributes = be_i16(buf, ATTRIBUTES) | ATTR_LOG_APPEND_TIME;
        buf[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
        buf[MAX_TIMESTAMP..MAX_TIMESTAMP + 8].copy_from_slice(&ts.to_be_bytes());
    }
    buf[BASE_SEQUENCE..BASE_SEQUENCE + 4].copy_from_slice(&base_sequence.to_be_bytes());
    update_crc(buf);
}

fn update_crc(buf: &mut [u8]) {
    let end = (LOG_OVERHEAD as i64 + i64::from(be_i32(buf, BATCH_LENGTH))).clamp(CRC_START as i64, buf.len() as i64);
    let crc = crc32c::crc32c(&buf[CRC_START..end as usize]);
    buf[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    use proptest::prelude::*;

    /// Encodes one batch of `n` records the way a producer would (offsets from 0).
    pub(crate) fn encode(n: usize, compression: Compression, seed: u8) -> Vec<u8> {
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
                timestamp: 1_000 + i as i64,
                key: Some(Bytes::from(vec![seed, i as u8])),
                value: Some(Bytes::from(vec![seed; 10 + i])),
                headers: Default::default(),
                delete_horizon: false,
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression })
            .expect("encoding test records");
        buf.to_vec()
    }

    #[test]
    fn parses_an_encoded_batch() {
        let b = encode(3, Compression::None, 7);
        let headers = validate_batches(&b, 1 << 20).unwrap();
        assert_eq!(headers.len(), 1);
        let h = headers[0];
        assert_eq!((h.record_count, h.last_offset_delta, h.size()), (3, 2, b.len()));
        assert_eq!((h.base_timestamp, h.max_timestamp), (1000, 1002));
        assert!(!h.is_log_append_time() && !h.is_control());
    }

    #[test]
    fn rejects_what_it_must() {
        let b = encode(2, Compression::None, 1);
        assert!(matches!(validate_batches(&b, 10), Err(AppendError::TooLarge(_))));
        assert!(matches!(validate_batches(&b[..b.len() - 1], 1 << 20), Err(AppendError::Corrupt(_))));
        assert!(matches!(validate_batches(&[], 1 << 20), Err(AppendError::Corrupt(_))));
        let mut old = b.clone();
        old[MAGIC] = 1;
        assert!(matches!(validate_batches(&old, 1 << 20), Err(AppendError::UnsupportedMagic(1))));
    }

    #[test]
    fn edits_keep_the_batch_valid() {
        let mut b = encode(2, Compression::None, 1);
        set_base_offset(&mut b, 42);
        set_partition_leader_epoch(&mut b, 3);
        set_log_append_time(&mut b, 99_999);
        let h = check_batch(&b).unwrap();
        assert_eq!((h.base_offset, h.partition_leader_epoch, h.max_timestamp), (42, 3, 99_999));
        assert!(h.is_log_append_time());
    }

    fn compression() -> impl Strategy<Value = Compression> {
        prop_oneof![
            Just(Compression::None),
            Just(Compression::Gzip),
            Just(Compression::Snappy),
            Just(Compression::Lz4),
            Just(Compression::Zstd)
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), max in any::<u32>()) {
            let _ = validate_batches(&bytes, max);
            let _ = check_batch(&bytes);
        }

        #[test]
        fn arbitrary_bytes_behind_a_valid_prefix_never_panic(
            tail in proptest::collection::vec(any::<u8>(), 0..200),
            len in any::<i32>(),
        ) {
            // A plausible header with an arbitrary length reaches the deeper checks.
            let mut b = encode(1, Compression::None, 0);
            b[BATCH_LENGTH..BATCH_LENGTH + 4].copy_from_slice(&len.to_be_bytes());
            b.extend_from_slice(&tail);
            let _ = validate_batches(&b, u32::MAX);
        }

        #[test]
        fn encoded_batches_validate(counts in proptest::collection::vec(1usize..20, 1..5), c in compression()) {
            let mut all = Vec::new();
            for (i, n) in counts.iter().enumerate() {
                all.extend(encode(*n, c, i as u8));
            }
            let headers = validate_batches(&all, u32::MAX).unwrap();
            prop_assert_eq!(headers.len(), counts.len());
            prop_assert_eq!(headers.iter().map(|h| h.size()).sum::<usize>(), all.len());
            for (h, n) in headers.iter().zip(&counts) {
                prop_assert_eq!(h.record_count as usize, *n);
                prop_assert_eq!(h.compression(), c as i16);
            }
        }

        #[test]
        fn a_flipped_byte_under_the_crc_is_corrupt(n in 1usize..10, c in compression(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut b = encode(n, c, 3);
            let i = CRC_START + at.index(b.len() - CRC_START);
            b[i] ^= 1 << bit;
            prop_assert!(matches!(validate_batches(&b, u32::MAX), Err(AppendError::Corrupt(_))));
        }
    }
}
