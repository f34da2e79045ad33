//! The `__consumer_offsets` records of KIP-848 consumer-protocol groups, in Kafka's schemas (key versions 3
//! to 8, value version 0, flexible encoding), so a group survives a broker restart. FORMAT.md lays them out
//! byte by byte.
//!
//! Keys are non-flexible like every coordinator key (`version i16 | group string [| member string]`); values
//! use the flexible encoding (unsigned varint lengths plus one, a tagged-field section after every struct).

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use uuid::Uuid;

use super::reconcile::MemberState;
use super::{Assignment, TopicMeta};
use crate::coordinator::group::records::{get_str, need, put_str, SchemaError};

/// Which record of a group a key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConsumerKey {
    /// 3: the group epoch.
    Metadata,
    /// 4: the subscribed topics the target was computed from.
    PartitionMetadata,
    /// 5: one member's subscription and client details.
    Member(String),
    /// 6: the epoch of the target assignment.
    TargetMetadata,
    /// 7: one member's target assignment.
    TargetMember(String),
    /// 8: what one member has been told it owns, and its epochs.
    Current(String),
}

impl ConsumerKey {
    fn version(&self) -> i16 {
        match self {
            Self::Metadata => 3,
            Self::PartitionMetadata => 4,
            Self::Member(_) => 5,
            Self::TargetMetadata => 6,
            Self::TargetMember(_) => 7,
            Self::Current(_) => 8,
        }
    }
}

/// A member's metadata record (value of key 5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct MemberValue {
    pub(crate) instance_id: Option<String>,
    pub(crate) rack_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) subscribed: Vec<String>,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) server_assignor: Option<String>,
}

/// A member's current assignment record (value of key 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CurrentValue {
    pub(crate) epoch: i32,
    pub(crate) previous_epoch: i32,
    pub(crate) state: MemberState,
    pub(crate) assigned: Assignment,
    pub(crate) revoking: Assignment,
}

/// Encodes the key of `key` in `group`.
pub(crate) fn key(group: &str, key: &ConsumerKey) -> Bytes {
    let mut buf = BytesMut::with_capacity(8 + group.len());
    buf.put_i16(key.version());
    put_str(&mut buf, group);
    if let ConsumerKey::Member(m) | ConsumerKey::TargetMember(m) | ConsumerKey::Current(m) = key {
        put_str(&mut buf, m);
    }
    buf.freeze()
}

/// Decodes the rest of a key whose version (3 to 8) was already read.
pub(crate) fn decode_key(version: i16, buf: &mut Bytes) -> Result<(String, ConsumerKey), SchemaError> {
    let group = get_str(buf)?;
    let key = match version {
        3 => ConsumerKey::Metadata,
        4 => ConsumerKey::PartitionMetadata,
        5 => ConsumerKey::Member(get_str(buf)?),
        6 => ConsumerKey::TargetMetadata,
        7 => ConsumerKey::TargetMember(get_str(buf)?),
        8 => ConsumerKey::Current(get_str(buf)?),
        v => return Err(SchemaError::new(format!("key version {v} is not a consumer group record"))),
    };
    Ok((group, key))
}

// --- flexible encoding -------------------------------------------------------------------------------------

fn put_uvarint(buf: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

fn put_len(buf: &mut BytesMut, len: usize) {
    put_uvarint(buf, u32::try_from(len).unwrap_or(u32::MAX - 1) + 1);
}

fn put_compact_str(buf: &mut BytesMut, s: &str) {
    put_len(buf, s.len());
    buf.put_slice(s.as_bytes());
}

fn put_compact_nullable_str(buf: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_compact_str(buf, s),
        None => buf.put_u8(0),
    }
}

fn put_no_tags(buf: &mut BytesMut) {
    buf.put_u8(0);
}

fn put_topic_partitions(buf: &mut BytesMut, a: &Assignment) {
    let topics: Vec<(&Uuid, &BTreeSet<i32>)> = a.iter().filter(|(_, ps)| !ps.is_empty()).collect();
    put_len(buf, topics.len());
    for (id, ps) in topics {
        buf.put_slice(id.as_bytes());
        put_len(buf, ps.len());
        for p in ps {
            buf.put_i32(*p);
        }
        put_no_tags(buf);
    }
}

fn get_uvarint(buf: &mut Bytes) -> Result<u32, SchemaError> {
    let mut v: u32 = 0;
    for shift in (0..35).step_by(7) {
        need(buf, 1, "varint")?;
        let b = buf.get_u8();
        v |= u32::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(SchemaError::new("varint longer than 5 bytes"))
}

/// A compact length: `None` for null (encoded 0).
fn get_len(buf: &mut Bytes) -> Result<Option<usize>, SchemaError> {
    Ok(get_uvarint(buf)?.checked_sub(1).map(|n| n as usize))
}

fn get_compact_nullable_str(buf: &mut Bytes) -> Result<Option<String>, SchemaError> {
    let Some(len) = get_len(buf)? else { return Ok(None) };
    need(buf, len, "string")?;
    let raw = buf.split_to(len);
    String::from_utf8(raw.to_vec()).map(Some).map_err(|e| SchemaError::new(format!("string is not UTF-8: {e}")))
}

fn get_compact_str(buf: &mut Bytes) -> Result<String, SchemaError> {
    Ok(get_compact_nullable_str(buf)?.unwrap_or_default())
}

/// An array length, bounded by the bytes left so a corrupt count cannot reserve memory it does not describe.
fn get_count(buf: &mut Bytes, min_item: usize) -> Result<usize, SchemaError> {
    let n = get_len(buf)?.unwrap_or(0);
    if n.saturating_mul(min_item) > buf.remaining() {
        return Err(SchemaError::new(format!("array of {n} items does not fit in {} bytes", buf.remaining())));
    }
    Ok(n)
}

fn get_i32(buf: &mut Bytes, what: &str) -> Result<i32, SchemaError> {
    need(buf, 4, what)?;
    Ok(buf.get_i32())
}

/// Skips a tagged-field section: fields newer Kafka versions add (e.g. 4.1's MetadataHash) are not needed.
fn skip_tags(buf: &mut Bytes) -> Result<(), SchemaError> {
    let count = get_uvarint(buf)?;
    for _ in 0..count {
        get_uvarint(buf)?;
        let size = get_uvarint(buf)? as usize;
        need(buf, size, "tagged field")?;
        buf.advance(size);
    }
    Ok(())
}

fn get_topic_partitions(buf: &mut Bytes) -> Result<Assignment, SchemaError> {
    let mut out = Assignment::new();
    for _ in 0..get_count(buf, 18)? {
        need(buf, 16, "topic id")?;
        let mut id = [0u8; 16];
        buf.copy_to_slice(&mut id);
        let mut ps = BTreeSet::new();
        for _ in 0..get_count(buf, 4)? {
            ps.insert(get_i32(buf, "partition")?);
        }
        skip_tags(buf)?;
        out.entry(Uuid::from_bytes(id)).or_default().extend(ps);
    }
    Ok(out)
}

fn start_value() -> BytesMut {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i16(0);
    buf
}

fn open_value(buf: &mut Bytes) -> Result<(), SchemaError> {
    need(buf, 2, "value version")?;
    match buf.get_i16() {
        0 => Ok(()),
        v => Err(SchemaError::new(format!("unsupported consumer group value version {v}"))),
    }
}

// --- values --------------------------------------------------------------------------------------------------

/// Value of keys 3 (group epoch) and 6 (target assignment epoch): one int32.
pub(crate) fn epoch_value(epoch: i32) -> Bytes {
    let mut buf = start_value();
    buf.put_i32(epoch);
    put_no_tags(&mut buf);
    buf.freeze()
}

pub(crate) fn decode_epoch_value(mut buf: Bytes) -> Result<i32, SchemaError> {
    open_value(&mut buf)?;
    let epoch = get_i32(&mut buf, "epoch")?;
    skip_tags(&mut buf)?;
    Ok(epoch)
}

/// Value of key 4: the subscribed topics (no rack metadata: the assignors do not use racks).
pub(crate) fn partition_metadata_value(topics: &BTreeMap<String, TopicMeta>) -> Bytes {
    let mut buf = start_value();
    put_len(&mut buf, topics.len());
    for (name, meta) in topics {
        buf.put_slice(meta.id.as_bytes());
        put_compact_str(&mut buf, name);
        buf.put_i32(meta.partitions);
        put_len(&mut buf, 0);
        put_no_tags(&mut buf);
    }
    put_no_tags(&mut buf);
    buf.freeze()
}

pub(crate) fn decode_partition_metadata_value(mut buf: Bytes) -> Result<BTreeMap<String, TopicMeta>, SchemaError> {
    open_value(&mut buf)?;
    let mut out = BTreeMap::new();
    for _ in 0..get_count(&mut buf, 23)? {
        need(&buf, 16, "topic id")?;
        let mut id = [0u8; 16];
        buf.copy_to_slice(&mut id);
        let name = get_compact_str(&mut buf)?;
        let partitions = get_i32(&mut buf, "partition count")?;
        for _ in 0..get_count(&mut buf, 3)? {
            get_i32(&mut buf, "partition")?;
            for _ in 0..get_count(&mut buf, 1)? {
                get_compact_str(&mut buf)?;
            }
            skip_tags(&mut buf)?;
        }
        skip_tags(&mut buf)?;
        out.insert(name, TopicMeta { id: Uuid::from_bytes(id), partitions });
    }
    skip_tags(&mut buf)?;
    Ok(out)
}

/// Value of key 5.
pub(crate) fn member_value(m: &MemberValue) -> Bytes {
    let mut buf = start_value();
    put_compact_nullable_str(&mut buf, m.instance_id.as_deref());
    put_compact_nullable_str(&mut buf, m.rack_id.as_deref());
    put_compact_str(&mut buf, &m.client_id);
    put_compact_str(&mut buf, &m.client_host);
    put_len(&mut buf, m.subscribed.len());
    for t in &m.subscribed {
        put_compact_str(&mut buf, t);
    }
    // SubscribedTopicRegex: regex subscriptions are refused, so always null.
    put_compact_nullable_str(&mut buf, None);
    buf.put_i32(m.rebalance_timeout_ms);
    put_compact_nullable_str(&mut buf, m.server_assignor.as_deref());
    put_no_tags(&mut buf);
    buf.freeze()
}

pub(crate) fn decode_member_value(mut buf: Bytes) -> Result<MemberValue, SchemaError> {
    open_value(&mut buf)?;
    let instance_id = get_compact_nullable_str(&mut buf)?;
    let rack_id = get_compact_nullable_str(&mut buf)?;
    let client_id = get_compact_str(&mut buf)?;
    let client_host = get_compact_str(&mut buf)?;
    let mut subscribed = Vec::new();
    for _ in 0..get_count(&mut buf, 1)? {
        subscribed.push(get_compact_str(&mut buf)?);
    }
    let _regex = get_compact_nullable_str(&mut buf)?;
    let rebalance_timeout_ms = get_i32(&mut buf, "rebalance timeout")?;
    let server_assignor = get_compact_nullable_str(&mut buf)?;
    skip_tags(&mut buf)?;
    Ok(MemberValue { instance_id, rack_id, client_id, client_host, subscribed, rebalance_timeout_ms, server_assignor })
}

/// Value of key 7.
pub(crate) fn target_member_value(a: &Assignment) -> Bytes {
    let mut buf = start_value();
    put_topic_partitions(&mut buf, a);
    put_no_tags(&mut buf);
    buf.freeze()
}

pub(crate) fn decode_target_member_value(mut buf: Bytes) -> Result<Assignment, SchemaError> {
    open_value(&mut buf)?;
    let a = get_topic_partitions(&mut buf)?;
    skip_tags(&mut buf)?;
    Ok(a)
}

/// Kafka's `MemberState` byte.
fn state_byte(state: MemberState) -> i8 {
    match state {
        MemberState::Stable => 0,
        MemberState::UnrevokedPartitions => 1,
        MemberState::UnreleasedPartitions => 2,
    }
}

/// Value of key 8.
pub(crate) fn current_value(c: &CurrentValue) -> Bytes {
    let mut buf = start_value();
    buf.put_i32(c.epoch);
    buf.put_i32(c.previous_epoch);
    buf.put_i8(state_byte(c.state));
    put_topic_partitions(&mut buf, &c.assigned);
    put_topic_partitions(&mut buf, &c.revoking);
    put_no_tags(&mut buf);
    buf.freeze()
}

pub(crate) fn decode_current_value(mut buf: Bytes) -> Result<CurrentValue, SchemaError> {
    open_value(&mut buf)?;
    let epoch = get_i32(&mut buf, "member epoch")?;
    let previous_epoch = get_i32(&mut buf, "previous member epoch")?;
    need(&buf, 1, "member state")?;
    let state = match buf.get_i8() {
        0 => MemberState::Stable,
        1 => MemberState::UnrevokedPartitions,
        2 => MemberState::UnreleasedPartitions,
        s => return Err(SchemaError::new(format!("unknown member state {s}"))),
    };
    let assigned = get_topic_partitions(&mut buf)?;
    let revoking = get_topic_partitions(&mut buf)?;
    skip_tags(&mut buf)?;
    Ok(CurrentValue { epoch, previous_epoch, state, assigned, revoking })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::group::records::{decode_key as decode_any_key, RecordKey};

    fn assignment(pairs: &[(u128, &[i32])]) -> Assignment {
        pairs.iter().map(|(id, ps)| (Uuid::from_u128(*id), ps.iter().copied().collect())).collect()
    }

    #[test]
    fn keys_round_trip_through_the_common_decoder() {
        for k in [
            ConsumerKey::Metadata,
            ConsumerKey::PartitionMetadata,
            ConsumerKey::Member("m".into()),
            ConsumerKey::TargetMetadata,
            ConsumerKey::TargetMember("m".into()),
            ConsumerKey::Current("m".into()),
        ] {
            let decoded = decode_any_key(key("g", &k)).unwrap();
            assert_eq!(decoded, RecordKey::Consumer { group: "g".into(), key: k });
        }
    }

    #[test]
    fn values_round_trip() {
        assert_eq!(decode_epoch_value(epoch_value(7)).unwrap(), 7);
        let topics = BTreeMap::from([("t".to_string(), TopicMeta { id: Uuid::from_u128(9), partitions: 6 })]);
        assert_eq!(decode_partition_metadata_value(partition_metadata_value(&topics)).unwrap(), topics);
        let m = MemberValue {
            instance_id: Some("i".into()),
            rack_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            subscribed: vec!["a".into(), "b".into()],
            rebalance_timeout_ms: 30_000,
            server_assignor: Some("range".into()),
        };
        assert_eq!(decode_member_value(member_value(&m)).unwrap(), m);
        let a = assignment(&[(1, &[0, 2]), (2, &[1])]);
        assert_eq!(decode_target_member_value(target_member_value(&a)).unwrap(), a);
        let c = CurrentValue {
            epoch: 5,
            previous_epoch: 4,
            state: MemberState::UnrevokedPartitions,
            assigned: a.clone(),
            revoking: assignment(&[(3, &[7])]),
        };
        assert_eq!(decode_current_value(current_value(&c)).unwrap(), c);
    }

    /// The group metadata value, byte by byte as FORMAT.md and Kafka's schema lay it out.
    #[test]
    fn metadata_value_bytes() {
        assert_eq!(epoch_value(1).to_vec(), vec![0, 0, 0, 0, 0, 1, 0]);
        let c = CurrentValue {
            epoch: 2,
            previous_epoch: 1,
            state: MemberState::Stable,
            assigned: assignment(&[(0, &[3])]),
            revoking: Assignment::new(),
        };
        let mut expected = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2];
        expected.extend([0u8; 16]);
        expected.extend([2, 0, 0, 0, 3, 0, 1, 0]);
        assert_eq!(current_value(&c).to_vec(), expected);
    }

    proptest::proptest! {
        #[test]
        fn decoders_are_total(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..128)) {
            let b = Bytes::from(bytes);
            let _ = decode_epoch_value(b.clone());
            let _ = decode_partition_metadata_value(b.clone());
            let _ = decode_member_value(b.clone());
            let _ = decode_target_member_value(b.clone());
            let _ = decode_current_value(b.clone());
            for v in 3..=8 {
                let _ = decode_key(v, &mut b.clone());
            }
        }
    }
}
