//! The key and value schemas of `__consumer_offsets` records, as Kafka writes them, so Kafka's own tooling
//! (`kafka-console-consumer --formatter ...OffsetsMessageFormatter`) could read a Sluice data dir.
//!
//! Keys: version 0/1 = an offset commit (group, topic, partition); version 2 = group metadata (group);
//! versions 3 to 8 = the KIP-848 consumer protocol's records, whose values live in `consumer::records`.
//! Values: offset commit v3 (offset, leader epoch, metadata, commit timestamp); group metadata v3 (protocol
//! type, generation, protocol, leader, state timestamp, members). A null value is a tombstone.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// What a record's key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordKey {
    /// The committed offset of one partition for one group.
    Offset { group: String, topic: String, partition: i32 },
    /// The membership metadata of one group.
    Group { group: String },
    /// One record of a KIP-848 consumer-protocol group.
    Consumer { group: String, key: super::consumer::records::ConsumerKey },
}

/// A committed offset as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OffsetValue {
    pub(crate) offset: i64,
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: String,
    pub(crate) commit_timestamp: i64,
}

/// A transaction's offset not yet ended by its marker, with where its record lies in `__consumer_offsets`: a
/// record later in the log for the same key (a plain commit, a tombstone, another transaction's committed
/// offset) supersedes it, as compaction, which keeps the latest record per key, would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingOffset {
    /// Offset of its record in the group's `__consumer_offsets` partition.
    pub(crate) position: i64,
    pub(crate) value: OffsetValue,
}

/// A group's pending transactional offsets: producer id -> (topic, partition) -> offset.
pub(crate) type PendingByProducer = std::collections::HashMap<i64, std::collections::BTreeMap<(String, i32), PendingOffset>>;

/// One member in a stored group metadata value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredMember {
    pub(crate) member_id: String,
    pub(crate) group_instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) session_timeout_ms: i32,
    pub(crate) subscription: Bytes,
    pub(crate) assignment: Bytes,
}

/// A group's membership metadata as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupValue {
    pub(crate) protocol_type: String,
    pub(crate) generation: i32,
    pub(crate) protocol: Option<String>,
    pub(crate) leader: Option<String>,
    pub(crate) state_timestamp: i64,
    pub(crate) members: Vec<StoredMember>,
}

pub(crate) fn put_str(buf: &mut BytesMut, s: &str) {
    // Strings longer than i16::MAX cannot be written; callers cap group ids and metadata well below that.
    let len = s.len().min(i16::MAX as usize);
    buf.put_i16(len as i16);
    buf.put_slice(&s.as_bytes()[..len]);
}

fn put_nullable_str(buf: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(buf, s),
        None => buf.put_i16(-1),
    }
}

fn put_bytes(buf: &mut BytesMut, b: &[u8]) {
    buf.put_i32(b.len() as i32);
    buf.put_slice(b);
}

/// Encodes an offset commit key (version 1).
pub(crate) fn offset_key(group: &str, topic: &str, partition: i32) -> Bytes {
    let mut buf = BytesMut::with_capacity(12 + group.len() + topic.len());
    buf.put_i16(1);
    put_str(&mut buf, group);
    put_str(&mut buf, topic);
    buf.put_i32(partition);
    buf.freeze()
}

/// Encodes a group metadata key (version 2).
pub(crate) fn group_key(group: &str) -> Bytes {
    let mut buf = BytesMut::with_capacity(4 + group.len());
    buf.put_i16(2);
    put_str(&mut buf, group);
    buf.freeze()
}

/// Encodes an offset commit value (version 3).
pub(crate) fn offset_value(v: &OffsetValue) -> Bytes {
    let mut buf = BytesMut::with_capacity(24 + v.metadata.len());
    buf.put_i16(3);
    buf.put_i64(v.offset);
    buf.put_i32(v.leader_epoch);
    put_str(&mut buf, &v.metadata);
    buf.put_i64(v.commit_timestamp);
    buf.freeze()
}

/// Encodes a group metadata value (version 3, the last non-flexible one, which carries static member ids).
pub(crate) fn group_value(v: &GroupValue) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i16(3);
    put_str(&mut buf, &v.protocol_type);
    buf.put_i32(v.generation);
    put_nullable_str(&mut buf, v.protocol.as_deref());
    put_nullable_str(&mut buf, v.leader.as_deref());
    buf.put_i64(v.state_timestamp);
    buf.put_i32(v.members.len() as i32);
    for m in &v.members {
        put_str(&mut buf, &m.member_id);
        put_nullable_str(&mut buf, m.group_instance_id.as_deref());
        put_str(&mut buf, &m.client_id);
        put_str(&mut buf, &m.client_host);
        buf.put_i32(m.rebalance_timeout_ms);
        buf.put_i32(m.session_timeout_ms);
        put_bytes(&mut buf, &m.subscription);
        put_bytes(&mut buf, &m.assignment);
    }
    buf.freeze()
}

/// Why a stored record could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SchemaError(String);

impl SchemaError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

pub(crate) fn need(buf: &Bytes, n: usize, what: &str) -> Result<(), SchemaError> {
    if buf.remaining() < n {
        return Err(SchemaError(format!("truncated {what}: needs {n} bytes, {} left", buf.remaining())));
    }
    Ok(())
}

fn get_nullable_str(buf: &mut Bytes) -> Result<Option<String>, SchemaError> {
    need(buf, 2, "string length")?;
    let len = buf.get_i16();
    if len < 0 {
        return Ok(None);
    }
    let len = len as usize;
    need(buf, len, "string")?;
    let raw = buf.split_to(len);
    String::from_utf8(raw.to_vec()).map(Some).map_err(|e| SchemaError(format!("string is not UTF-8: {e}")))
}

pub(crate) fn get_str(buf: &mut Bytes) -> Result<String, SchemaError> {
    Ok(get_nullable_str(buf)?.unwrap_or_default())
}

fn get_bytes(buf: &mut Bytes) -> Result<Bytes, SchemaError> {
    need(buf, 4, "bytes length")?;
    let len = buf.get_i32();
    if len < 0 {
        return Ok(Bytes::new());
    }
    need(buf, len as usize, "bytes")?;
    Ok(buf.split_to(len as usize))
}

/// Decodes a key of any version Kafka writes.
pub(crate) fn decode_key(mut buf: Bytes) -> Result<RecordKey, SchemaError> {
    need(&buf, 2, "key version")?;
    match buf.get_i16() {
        0 | 1 => {
            let group = get_str(&mut buf)?;
            let topic = get_str(&mut buf)?;
            need(&buf, 4, "partition")?;
            Ok(RecordKey::Offset { group, topic, partition: buf.get_i32() })
        }
        2 => Ok(RecordKey::Group { group: get_str(&mut buf)? }),
        v @ 3..=8 => {
            let (group, key) = super::consumer::records::decode_key(v, &mut buf)?;
            Ok(RecordKey::Consumer { group, key })
        }
        v => Err(SchemaError(format!("unknown key version {v}"))),
    }
}

/// Decodes an offset commit value of versions 0 to 3 (the non-flexible ones).
pub(crate) fn decode_offset_value(mut buf: Bytes) -> Result<OffsetValue, SchemaError> {
    need(&buf, 2, "value version")?;
    let version = buf.get_i16();
    if !(0..=3).contains(&version) {
        return Err(SchemaError(format!("unsupported offset value version {version}")));
    }
    need(&buf, 8, "offset")?;
    let offset = buf.get_i64();
    let leader_epoch = if version >= 3 {
        need(&buf, 4, "leader epoch")?;
        buf.get_i32()
    } else {
        -1
    };
    let metadata = get_str(&mut buf)?;
    need(&buf, 8, "commit timestamp")?;
    let commit_timestamp = buf.get_i64();
    // v1 carried an expire timestamp after the commit timestamp; it no longer means anything.
    Ok(OffsetValue { offset, leader_epoch, metadata, commit_timestamp })
}

/// Decodes a group metadata value of versions 0 to 3.
pub(crate) fn decode_group_value(mut buf: Bytes) -> Result<GroupValue, SchemaError> {
    need(&buf, 2, "value version")?;
    let version = buf.get_i16();
    if !(0..=3).contains(&version) {
        return Err(SchemaError(format!("unsupported group value version {version}")));
    }
    let protocol_type = get_str(&mut buf)?;
    need(&buf, 4, "generation")?;
    let generation = buf.get_i32();
    let protocol = get_nullable_str(&mut buf)?;
    let leader = get_nullable_str(&mut buf)?;
    let state_timestamp = if version >= 2 {
        need(&buf, 8, "state timestamp")?;
        buf.get_i64()
    } else {
        -1
    };
    need(&buf, 4, "member count")?;
    let count = buf.get_i32().max(0) as usize;
    let mut members = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let member_id = get_str(&mut buf)?;
        let group_instance_id = if version >= 3 { get_nullable_str(&mut buf)? } else { None };
        let client_id = get_str(&mut buf)?;
        let client_host = get_str(&mut buf)?;
        need(&buf, 4, "timeouts")?;
        let rebalance_timeout_ms = if version >= 1 { buf.get_i32() } else { 0 };
        need(&buf, 4, "session timeout")?;
        let session_timeout_ms = buf.get_i32();
        let rebalance_timeout_ms = if version >= 1 { rebalance_timeout_ms } else { session_timeout_ms };
        let subscription = get_bytes(&mut buf)?;
        let assignment = get_bytes(&mut buf)?;
        members.push(StoredMember {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms,
            session_timeout_ms,
            subscription,
            assignment,
        });
    }
    Ok(GroupValue { protocol_type, generation, protocol, leader, state_timestamp, members })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_records_round_trip() {
        let key = offset_key("g", "t", 3);
        assert_eq!(decode_key(key).unwrap(), RecordKey::Offset { group: "g".into(), topic: "t".into(), partition: 3 });
        let v = OffsetValue { offset: 42, leader_epoch: 7, metadata: "m".into(), commit_timestamp: 1000 };
        assert_eq!(decode_offset_value(offset_value(&v)).unwrap(), v);
    }

    #[test]
    fn group_records_round_trip() {
        assert_eq!(decode_key(group_key("g")).unwrap(), RecordKey::Group { group: "g".into() });
        let v = GroupValue {
            protocol_type: "consumer".into(),
            generation: 4,
            protocol: Some("range".into()),
            leader: Some("m1".into()),
            state_timestamp: 5,
            members: vec![StoredMember {
                member_id: "m1".into(),
                group_instance_id: Some("i1".into()),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 300_000,
                session_timeout_ms: 10_000,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        };
        assert_eq!(decode_group_value(group_value(&v)).unwrap(), v);
    }

    /// Offset value v3 laid out as Kafka's OffsetCommitValue schema says, byte by byte.
    #[test]
    fn offset_value_bytes_follow_kafka_schema() {
        let v = OffsetValue { offset: 1, leader_epoch: 2, metadata: "x".into(), commit_timestamp: 3 };
        let expected: Vec<u8> = [&3i16.to_be_bytes()[..], &1i64.to_be_bytes(), &2i32.to_be_bytes(), &1i16.to_be_bytes(), b"x", &3i64.to_be_bytes()]
            .concat();
        assert_eq!(offset_value(&v).to_vec(), expected);
    }

    proptest::proptest! {
        #[test]
        fn decoders_are_total(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..128)) {
            let b = Bytes::from(bytes);
            let _ = decode_key(b.clone());
            let _ = decode_offset_value(b.clone());
            let _ = decode_group_value(b);
        }
    }
}
