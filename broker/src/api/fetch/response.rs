//! Hand-laid Fetch response bodies (v4 to v18), so record batches go out as file ranges.
//!
//! The codec would copy every record byte into one buffer; instead the protocol fields are encoded here
//! and each partition's records become a [`FileSlice`] chunk that the connection sends with `sendfile`.
//! The field order follows Kafka's FetchResponse schema; `tests` decode our bytes with the codec to prove it.

use bytes::{BufMut, BytesMut};
use uuid::Uuid;

use crate::log::FileSlice;
use crate::net::ResponseFrame;

/// One partition's answer.
#[derive(Debug)]
pub(crate) struct PartitionAnswer {
    pub(crate) partition: i32,
    pub(crate) error_code: i16,
    pub(crate) high_watermark: i64,
    pub(crate) last_stable_offset: i64,
    pub(crate) log_start_offset: i64,
    /// (producer id, first offset) of aborted transactions overlapping the records, for read_committed fetches;
    /// `None` (null on the wire) for read_uncommitted ones, as Kafka answers.
    pub(crate) aborted_transactions: Option<Vec<(i64, i64)>>,
    /// Whole record batches, in order; empty when there is nothing to send.
    pub(crate) records: Vec<FileSlice>,
    /// (leader id, leader epoch) named in a refusal from a broker that does not lead the partition (v12+).
    pub(crate) current_leader: Option<(i32, i32)>,
}

/// A broker named as a current leader, so clients can reach it without a Metadata round trip (v16+, KIP-951).
#[derive(Debug, Clone)]
pub(crate) struct NodeEndpoint {
    pub(crate) node_id: i32,
    pub(crate) host: String,
    pub(crate) port: i32,
}

/// One topic's answers.
#[derive(Debug)]
pub(crate) struct TopicAnswer {
    pub(crate) name: String,
    pub(crate) id: Uuid,
    pub(crate) partitions: Vec<PartitionAnswer>,
}

/// Protocol fields in the encoding of one version: compact (varint) lengths from v12 on.
struct Writer {
    buf: BytesMut,
    flexible: bool,
}

impl Writer {
    fn array_len(&mut self, n: usize) {
        if self.flexible {
            put_uvarint(&mut self.buf, n as u64 + 1);
        } else {
            self.buf.put_i32(n as i32);
        }
    }

    fn string(&mut self, s: &str) {
        if self.flexible {
            put_uvarint(&mut self.buf, s.len() as u64 + 1);
        } else {
            self.buf.put_i16(s.len() as i16);
        }
        self.buf.put_slice(s.as_bytes());
    }

    fn null_array(&mut self) {
        if self.flexible {
            put_uvarint(&mut self.buf, 0);
        } else {
            self.buf.put_i32(-1);
        }
    }

    fn bytes_len(&mut self, n: usize) {
        if self.flexible {
            put_uvarint(&mut self.buf, n as u64 + 1);
        } else {
            self.buf.put_i32(n as i32);
        }
    }

    fn no_tagged_fields(&mut self) {
        if self.flexible {
            self.buf.put_u8(0);
        }
    }
}

fn put_uvarint(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// The top-level fields of a Fetch response (v7+): a whole-request error and the fetch session (KIP-227).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Top {
    pub(crate) error_code: i16,
    /// 0: no session, the client sends full requests.
    pub(crate) session_id: i32,
}

/// Lays out a whole Fetch response body for `version` (4..=18), records as file chunks; `endpoints` go out from
/// v16 on.
pub(crate) fn encode(version: i16, top: Top, topics: Vec<TopicAnswer>, endpoints: &[NodeEndpoint]) -> ResponseFrame {
    let mut frame = ResponseFrame::default();
    let mut w = Writer { buf: BytesMut::with_capacity(256), flexible: version >= 12 };
    w.buf.put_i32(0); // throttle_time_ms
    if version >= 7 {
        w.buf.put_i16(top.error_code);
        w.buf.put_i32(top.session_id);
    }
    w.array_len(topics.len());
    for topic in topics {
        if version >= 13 {
            w.buf.put_slice(topic.id.as_bytes());
        } else {
            w.string(&topic.name);
        }
        w.array_len(topic.partitions.len());
        for p in topic.partitions {
            w.buf.put_i32(p.partition);
            w.buf.put_i16(p.error_code);
            w.buf.put_i64(p.high_watermark);
            w.buf.put_i64(p.last_stable_offset);
            if version >= 5 {
                w.buf.put_i64(p.log_start_offset);
            }
            match &p.aborted_transactions {
                None => w.null_array(),
                Some(aborted) => {
                    w.array_len(aborted.len());
                    for &(producer_id, first_offset) in aborted {
                        w.buf.put_i64(producer_id);
                        w.buf.put_i64(first_offset);
                        w.no_tagged_fields();
                    }
                }
            }
            if version >= 11 {
                w.buf.put_i32(-1); // preferred_read_replica
            }
            let records_len: usize = p.records.iter().map(|s| s.len as usize).sum();
            w.bytes_len(records_len);
            if records_len > 0 {
                frame.push_bytes(w.buf.split().freeze());
                for slice in p.records {
                    frame.push_file(slice);
                }
            }
            match p.current_leader {
                // Tagged field 1 (CurrentLeader): leader id, leader epoch, and the struct's own empty tag list.
                Some((leader_id, leader_epoch)) if w.flexible => {
                    put_uvarint(&mut w.buf, 1); // one tagged field
                    put_uvarint(&mut w.buf, 1); // tag
                    put_uvarint(&mut w.buf, 9); // its size
                    w.buf.put_i32(leader_id);
                    w.buf.put_i32(leader_epoch);
                    w.buf.put_u8(0);
                }
                _ => w.no_tagged_fields(), // partition
            }
        }
        w.no_tagged_fields(); // topic
    }
    if version >= 16 && !endpoints.is_empty() {
        // Tagged field 0 (NodeEndpoints) of the response.
        let mut inner = Writer { buf: BytesMut::with_capacity(64), flexible: true };
        inner.array_len(endpoints.len());
        for e in endpoints {
            inner.buf.put_i32(e.node_id);
            inner.string(&e.host);
            inner.buf.put_i32(e.port);
            put_uvarint(&mut inner.buf, 0); // rack: null
            inner.no_tagged_fields();
        }
        put_uvarint(&mut w.buf, 1);
        put_uvarint(&mut w.buf, 0);
        put_uvarint(&mut w.buf, inner.buf.len() as u64);
        w.buf.put_slice(&inner.buf);
    } else {
        w.no_tagged_fields(); // response
    }
    frame.push_bytes(w.buf.split().freeze());
    frame
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use kafka_protocol::messages::FetchResponse;
    use kafka_protocol::protocol::Decodable;

    use super::*;

    fn slice_of(content: &[u8]) -> FileSlice {
        let mut file = tempfile::tempfile().expect("temp file");
        file.write_all(b"xx").expect("write");
        file.write_all(content).expect("write");
        FileSlice { file: Arc::new(file), position: 2, len: content.len() as u32 }
    }

    /// Our layout must decode with the codec at every version, records included byte for byte.
    #[test]
    fn every_version_decodes_with_the_codec() {
        for version in 4..=18 {
            let id = Uuid::new_v4();
            let topics = vec![TopicAnswer {
                name: "orders".into(),
                id,
                partitions: vec![
                    PartitionAnswer {
                        partition: 0,
                        error_code: 0,
                        high_watermark: 10,
                        last_stable_offset: 10,
                        log_start_offset: 2,
                        aborted_transactions: Some(vec![(7, 3), (9, 4)]),
                        records: vec![slice_of(b"batch-one"), slice_of(b"batch-two")],
                        current_leader: None,
                    },
                    PartitionAnswer {
                        partition: 1,
                        error_code: 1,
                        high_watermark: 5,
                        last_stable_offset: 5,
                        log_start_offset: 0,
                        aborted_transactions: None,
                        records: vec![],
                        current_leader: Some((3, 12)),
                    },
                ],
            }];
            let endpoints = [NodeEndpoint { node_id: 3, host: "broker-3".into(), port: 9093 }];
            let top = Top { error_code: 0, session_id: 77 };
            let mut bytes = encode(version, top, topics, &endpoints).to_bytes().expect("read chunks");
            let decoded = FetchResponse::decode(&mut bytes, version).expect("decodes");
            assert!(bytes.is_empty(), "v{version}: {} bytes left over", bytes.len());
            if version >= 7 {
                assert_eq!(decoded.session_id, 77, "v{version}");
            }
            let t = &decoded.responses[0];
            if version >= 13 {
                assert_eq!(t.topic_id, id);
            } else {
                assert_eq!(t.topic.0.as_str(), "orders");
            }
            assert_eq!(t.partitions[0].records.as_deref(), Some(&b"batch-onebatch-two"[..]), "v{version}");
            assert_eq!(t.partitions[0].high_watermark, 10);
            if version >= 5 {
                assert_eq!(t.partitions[0].log_start_offset, 2);
            }
            let aborted: Vec<(i64, i64)> = t.partitions[0]
                .aborted_transactions
                .iter()
                .flatten()
                .map(|a| (a.producer_id.0, a.first_offset))
                .collect();
            assert_eq!(aborted, vec![(7, 3), (9, 4)], "v{version}");
            assert_eq!(t.partitions[0].last_stable_offset, 10);
            assert!(t.partitions[1].aborted_transactions.is_none(), "v{version}: null for read_uncommitted");
            assert_eq!(t.partitions[1].error_code, 1);
            if version >= 12 {
                let leader = &t.partitions[1].current_leader;
                assert_eq!((leader.leader_id.0, leader.leader_epoch), (3, 12), "v{version}");
                assert_eq!(t.partitions[0].current_leader, Default::default(), "v{version}");
            }
            if version >= 16 {
                let e = &decoded.node_endpoints;
                assert_eq!(e.len(), 1, "v{version}");
                assert_eq!((e[0].node_id.0, e[0].host.as_str(), e[0].port, e[0].rack.is_none()), (3, "broker-3", 9093, true));
            }
            assert_eq!(t.partitions[1].records.as_deref(), Some(&b""[..]));
        }
    }

    /// A whole-request refusal (a fetch session error) carries its code and no topics.
    #[test]
    fn top_level_errors_decode_with_no_topics() {
        for version in 7..=18 {
            let top = Top { error_code: 70, session_id: 0 };
            let mut bytes = encode(version, top, Vec::new(), &[]).to_bytes().expect("read chunks");
            let decoded = FetchResponse::decode(&mut bytes, version).expect("decodes");
            assert!(bytes.is_empty(), "v{version}");
            assert_eq!((decoded.error_code, decoded.session_id, decoded.responses.len()), (70, 0, 0), "v{version}");
        }
    }
}
