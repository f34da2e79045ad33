//! The Confluent wire format (magic byte 0, a 4-byte big-endian schema id, then the encoded payload), subject name
//! strategies, and an Avro serializer/deserializer over a schema registry, for connect, streams and pipelines.
//!
//! Every Confluent serializer (Java, librdkafka's Python/Go/.NET clients, Karapace, Redpanda) frames a record key or
//! value the same way, so data written through any of them reads through any other:
//!
//! ```text
//! byte 0      magic byte, always 0
//! bytes 1..5  schema id, i32 big-endian, as the registry assigned it
//! bytes 5..   the payload: Avro binary, JSON text, or Protobuf (message indexes, then the message)
//! ```
//!
//! - [`encode`], [`write_header`] and [`decode`] do the framing and nothing else, so they serve every schema type.
//! - [`SubjectNameStrategy`] names the subject a schema is registered under (`<topic>-value`, `<record>`, ...).
//! - [`AvroSerde`] registers writer schemas and encodes/decodes Avro values through a registry, built on the
//!   `schema_registry_converter` crate but exposing only types of ours and `apache_avro`'s.

mod avro;
mod strategy;

pub use avro::{AvroDecoded, AvroSerde, AvroSerdeBuilder, WriterSchema};
pub use strategy::SubjectNameStrategy;

/// The first byte of every framed message. Confluent reserves other values for future formats, so anything else
/// means the bytes were not written by a schema-registry serializer (or by one from the future).
pub const MAGIC_BYTE: u8 = 0;

/// Length of the header in front of the payload: the magic byte and the schema id.
pub const HEADER_LEN: usize = 5;

/// What the wire format and the serializers cannot do, each with what to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error(
        "message of {len} bytes is too short for the Confluent wire format, which needs at least {HEADER_LEN} \
         (magic byte 0 and a 4-byte schema id); was it written by a schema-registry serializer?"
    )]
    TooShort { len: usize },
    #[error(
        "unknown magic byte {byte:#04x}: the Confluent wire format starts with 0x00; the message was not written by a \
         schema-registry serializer (or the topic holds plain, unframed data)"
    )]
    UnknownMagicByte { byte: u8 },
    #[error(
        "unknown subject name strategy '{0}': use TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy \
         (short or io.confluent.kafka.serializers.subject.* class names)"
    )]
    UnknownStrategy(String),
    #[error(
        "{strategy} names the subject after the record, but the schema has no name (only records, enums and fixed \
         types have one); use TopicNameStrategy for this schema"
    )]
    NoRecordName { strategy: SubjectNameStrategy },
    #[error("invalid Avro schema: {0}")]
    InvalidSchema(String),
    #[error("invalid schema registry client settings: {0}")]
    Client(String),
    #[error(
        "could not serialize for subject '{subject}': {detail}{}",
        retry_hint(*retriable)
    )]
    Serialize { subject: String, detail: String, retriable: bool },
    #[error(
        "could not deserialize a message written with schema id {schema_id}: {detail}{}",
        retry_hint(*retriable)
    )]
    Deserialize { schema_id: i32, detail: String, retriable: bool },
}

fn retry_hint(retriable: bool) -> &'static str {
    if retriable {
        " (a transient registry error: retrying may succeed)"
    } else {
        ""
    }
}

/// Frames `payload` with schema `id`: the magic byte, the id big-endian, the payload.
pub fn encode(id: i32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    write_header(&mut out, id);
    out.extend_from_slice(payload);
    out
}

/// Appends the 5-byte header for schema `id` to `out`, for callers that then encode the payload straight into the
/// same buffer instead of copying it.
pub fn write_header(out: &mut Vec<u8>, id: i32) {
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&id.to_be_bytes());
}

/// Splits a framed message into its schema id and payload, borrowing the payload.
pub fn decode(bytes: &[u8]) -> Result<(i32, &[u8]), WireError> {
    let Some((&magic, rest)) = bytes.split_first() else {
        return Err(WireError::TooShort { len: 0 });
    };
    // The magic byte is checked before the length, so a short message of plain data is reported as not framed.
    if magic != MAGIC_BYTE {
        return Err(WireError::UnknownMagicByte { byte: magic });
    }
    let Some((id, payload)) = rest.split_first_chunk::<4>() else {
        return Err(WireError::TooShort { len: bytes.len() });
    };
    Ok((i32::from_be_bytes(*id), payload))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn golden_bytes() {
        // Schema id 1 and the Avro encoding of the long 3 (zigzag: 6), as every Confluent serializer writes it.
        assert_eq!(encode(1, &[6]), vec![0, 0, 0, 0, 1, 6]);
        assert_eq!(encode(0x0102_0304, b"ab"), vec![0, 1, 2, 3, 4, b'a', b'b']);
        assert_eq!(encode(-1, &[]), vec![0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(decode(&[0, 0, 0, 0, 42, 1, 2]), Ok((42, &[1u8, 2][..])));
    }

    #[test]
    fn empty_payload_is_valid() {
        // An Avro record with no fields, or an empty string, encodes to nothing after the header.
        assert_eq!(decode(&[0, 0, 0, 1, 0]), Ok((256, &[][..])));
    }

    #[test]
    fn write_header_appends() {
        let mut out = vec![9];
        write_header(&mut out, 7);
        out.push(8);
        assert_eq!(out, vec![9, 0, 0, 0, 0, 7, 8]);
    }

    #[test]
    fn short_input_is_an_error() {
        assert_eq!(decode(&[]), Err(WireError::TooShort { len: 0 }));
        for len in 1..HEADER_LEN {
            assert_eq!(decode(&vec![0; len]), Err(WireError::TooShort { len }));
        }
    }

    #[test]
    fn wrong_magic_byte_is_an_error() {
        assert_eq!(decode(&[1, 0, 0, 0, 1, 6]), Err(WireError::UnknownMagicByte { byte: 1 }));
        // Plain JSON text is the usual culprit; the error says so even when it is shorter than a header.
        assert_eq!(decode(b"{}"), Err(WireError::UnknownMagicByte { byte: b'{' }));
        let text = WireError::UnknownMagicByte { byte: b'{' }.to_string();
        assert!(text.contains("0x7b"), "{text}");
    }

    proptest! {
        #[test]
        fn round_trip(id in any::<i32>(), payload in proptest::collection::vec(any::<u8>(), 0..256)) {
            let framed = encode(id, &payload);
            prop_assert_eq!(framed.len(), HEADER_LEN + payload.len());
            prop_assert_eq!(decode(&framed), Ok((id, &payload[..])));
        }

        #[test]
        fn decode_never_panics_and_agrees_with_encode(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            match decode(&bytes) {
                Ok((id, payload)) => prop_assert_eq!(encode(id, payload), bytes),
                Err(WireError::TooShort { len }) => {
                    prop_assert_eq!(len, bytes.len());
                    prop_assert!(len < HEADER_LEN);
                }
                Err(WireError::UnknownMagicByte { byte }) => prop_assert_eq!(Some(&byte), bytes.first()),
                Err(other) => prop_assert!(false, "unexpected error {other}"),
            }
        }
    }
}
