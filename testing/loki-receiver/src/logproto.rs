//! Loki's push messages, written by hand from `pkg/push/push.proto` so no `protoc` is
//! needed. Field numbers are the wire contract: PushRequest.streams = 1;
//! StreamAdapter.labels = 1, entries = 2, hash = 3; EntryAdapter.timestamp = 1, line = 2,
//! structuredMetadata = 3; LabelPairAdapter.name = 1, value = 2;
//! google.protobuf.Timestamp.seconds = 1, nanos = 2.
//!
//! The agent has its own copy (`agent/src/sinks/loki/logproto.rs`) and this one stays
//! apart on purpose: a receiver decoding with the sender's structs would read a wrong
//! field number back exactly as it was written, and every push test would still pass.
//! This copy is checked against the schema on its own: the test below decodes bytes
//! spelled out by hand from the field numbers above, and `tests/tracing_loki_client.rs`
//! decodes what an independent client (`tracing-loki`) sends. `line` is a `string` as in
//! the schema, so a push with invalid UTF-8 is refused as Loki refuses it.

/// The body of one push.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

/// One stream: its label set in Prometheus text form, and its entries.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StreamAdapter {
    #[prost(string, tag = "1")]
    pub labels: String,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

/// One log line.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    #[prost(string, tag = "2")]
    pub line: String,
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPairAdapter>,
}

/// One structured-metadata pair.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelPairAdapter {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl Timestamp {
    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(&self) -> i128 {
        self.seconds as i128 * 1_000_000_000 + self.nanos as i128
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// One stream `{a="b"}` (hash 7) with one entry at 1 s + 2 ns, line "hi" and the
    /// structured metadata k=v, encoded by hand: a field's key byte is
    /// `field_number << 3 | wire_type` (0 varint, 2 length-delimited).
    const PUSH: &[u8] = &[
        0x0a, 31, // PushRequest.streams (1, length-delimited), 31 bytes
        0x0a, 7, b'{', b'a', b'=', b'"', b'b', b'"', b'}', // StreamAdapter.labels (1)
        0x12, 18, // StreamAdapter.entries (2), 18 bytes
        0x0a, 4, // EntryAdapter.timestamp (1), 4 bytes
        0x08, 1, // Timestamp.seconds (1, varint) = 1
        0x10, 2, // Timestamp.nanos (2, varint) = 2
        0x12, 2, b'h', b'i', // EntryAdapter.line (2)
        0x1a, 6, // EntryAdapter.structuredMetadata (3), 6 bytes
        0x0a, 1, b'k', // LabelPairAdapter.name (1)
        0x12, 1, b'v', // LabelPairAdapter.value (2)
        0x18, 7, // StreamAdapter.hash (3, varint) = 7
    ];

    fn expected() -> PushRequest {
        PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{a="b"}"#.to_owned(),
                entries: vec![EntryAdapter {
                    timestamp: Some(Timestamp {
                        seconds: 1,
                        nanos: 2,
                    }),
                    line: "hi".to_owned(),
                    structured_metadata: vec![LabelPairAdapter {
                        name: "k".to_owned(),
                        value: "v".to_owned(),
                    }],
                }],
                hash: 7,
            }],
        }
    }

    #[test]
    fn a_push_spelled_out_from_the_schemas_field_numbers_decodes_field_by_field() {
        assert_eq!(PushRequest::decode(PUSH).unwrap(), expected());
        assert_eq!(
            expected().encode_to_vec(),
            PUSH,
            "and encodes back to the same bytes"
        );
        assert_eq!(
            expected().streams[0].entries[0]
                .timestamp
                .unwrap()
                .unix_nanos(),
            1_000_000_002
        );
    }
}
