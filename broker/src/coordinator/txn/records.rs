//! Records of the `__transaction_state` topic: a transactional id's metadata (key version 0, as in Kafka) and
//! the producer id block (key version 1, Sluice's own). FORMAT.md documents the bytes. Decoding is total: a
//! malformed record is an error for the caller to log, never a panic.

use std::collections::BTreeSet;

use super::state::{TxnMetadata, TxnState};

/// Key version of transaction metadata records.
const KEY_TXN: i16 = 0;
/// Key version of the producer id block record.
const KEY_PRODUCER_IDS: i16 = 1;
/// Value version written.
const VALUE_VERSION: i16 = 0;

/// A decoded record of `__transaction_state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StateRecord {
    /// The metadata of a transactional id; `None` is a tombstone.
    Txn(String, Option<TxnMetadata>),
    /// Producer ids below this value may have been handed out.
    ProducerIdBlock(i64),
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len().min(i16::MAX as usize) as i16).to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..s.len().min(i16::MAX as usize)]);
}

/// Key of a transactional id's record.
pub(crate) fn txn_key(transactional_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + transactional_id.len());
    out.extend_from_slice(&KEY_TXN.to_be_bytes());
    put_str(&mut out, transactional_id);
    out
}

/// Key of the producer id block record.
pub(crate) fn producer_ids_key() -> Vec<u8> {
    KEY_PRODUCER_IDS.to_be_bytes().to_vec()
}

/// Value of the producer id block record.
pub(crate) fn producer_ids_value(block_end: i64) -> Vec<u8> {
    let mut out = VALUE_VERSION.to_be_bytes().to_vec();
    out.extend_from_slice(&block_end.to_be_bytes());
    out
}

/// Value of a transactional id's record.
pub(crate) fn txn_value(m: &TxnMetadata) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&VALUE_VERSION.to_be_bytes());
    out.extend_from_slice(&m.producer_id.to_be_bytes());
    out.extend_from_slice(&m.epoch.to_be_bytes());
    out.extend_from_slice(&m.last_epoch.to_be_bytes());
    out.extend_from_slice(&m.timeout_ms.to_be_bytes());
    out.push(m.state as u8);
    out.extend_from_slice(&(m.partitions.len() as i32).to_be_bytes());
    for (topic, partition) in &m.partitions {
        put_str(&mut out, topic);
        out.extend_from_slice(&partition.to_be_bytes());
    }
    out.extend_from_slice(&(m.groups.len() as i32).to_be_bytes());
    for g in &m.groups {
        put_str(&mut out, g);
    }
    out.extend_from_slice(&m.start_ms.to_be_bytes());
    out.extend_from_slice(&m.last_update_ms.to_be_bytes());
    out
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.0.len() < n {
            return Err(format!("needs {n} more bytes, {} left", self.0.len()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn i16(&mut self) -> Result<i16, String> {
        self.take(2).map(|b| i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Result<i32, String> {
        self.take(4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    fn string(&mut self) -> Result<String, String> {
        let n = self.i16()?;
        let n = usize::try_from(n).map_err(|_| format!("negative string length {n}"))?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|e| e.to_string())
    }
    fn count(&mut self) -> Result<usize, String> {
        let n = self.i32()?;
        // Every element takes at least two bytes: refuse counts the remaining bytes cannot hold.
        usize::try_from(n).ok().filter(|&n| n <= self.0.len() / 2).ok_or_else(|| format!("bad element count {n}"))
    }
}

/// Decodes one record (key, and value or `None` for a tombstone).
pub(crate) fn decode(key: &[u8], value: Option<&[u8]>) -> Result<StateRecord, String> {
    let mut k = Reader(key);
    match k.i16()? {
        KEY_TXN => {
            let id = k.string()?;
            let Some(value) = value else { return Ok(StateRecord::Txn(id, None)) };
            let mut r = Reader(value);
            let version = r.i16()?;
            if version != VALUE_VERSION {
                return Err(format!("unknown value version {version}"));
            }
            let producer_id = r.i64()?;
            let epoch = r.i16()?;
            let last_epoch = r.i16()?;
            let timeout_ms = r.i32()?;
            let raw_state = r.take(1)?[0] as i8;
            let state = TxnState::from_i8(raw_state).ok_or_else(|| format!("unknown state {raw_state}"))?;
            let mut partitions = BTreeSet::new();
            for _ in 0..r.count()? {
                let topic = r.string()?;
                partitions.insert((topic, r.i32()?));
            }
            let mut groups = BTreeSet::new();
            for _ in 0..r.count()? {
                groups.insert(r.string()?);
            }
            let start_ms = r.i64()?;
            let last_update_ms = r.i64()?;
            let m = TxnMetadata {
                producer_id,
                epoch,
                last_epoch,
                timeout_ms,
                state,
                partitions,
                groups,
                start_ms,
                last_update_ms,
            };
            Ok(StateRecord::Txn(id, Some(m)))
        }
        KEY_PRODUCER_IDS => {
            let value = value.ok_or("a producer id block record without value")?;
            let mut r = Reader(value);
            let version = r.i16()?;
            if version != VALUE_VERSION {
                return Err(format!("unknown value version {version}"));
            }
            Ok(StateRecord::ProducerIdBlock(r.i64()?))
        }
        other => Err(format!("unknown key version {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut m = TxnMetadata::new(42, 60_000, 5);
        m.add_partitions(42, 0, [("orders".into(), 3)], 6).unwrap();
        m.add_group(42, 0, "billing".into(), 7).unwrap();
        let decoded = decode(&txn_key("tx-1"), Some(&txn_value(&m))).unwrap();
        assert_eq!(decoded, StateRecord::Txn("tx-1".into(), Some(m)));
        assert_eq!(decode(&txn_key("tx-1"), None).unwrap(), StateRecord::Txn("tx-1".into(), None));
        let block = decode(&producer_ids_key(), Some(&producer_ids_value(2000))).unwrap();
        assert_eq!(block, StateRecord::ProducerIdBlock(2000));
    }

    #[test]
    fn malformed_records_are_errors() {
        let m = TxnMetadata::new(1, 1, 1);
        let value = txn_value(&m);
        for cut in 0..value.len() {
            assert!(decode(&txn_key("x"), Some(&value[..cut])).is_err(), "cut at {cut}");
        }
        assert!(decode(&[0, 9], None).is_err());
        assert!(decode(&[], None).is_err());
    }
}
