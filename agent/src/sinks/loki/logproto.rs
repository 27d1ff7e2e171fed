//! Loki's push messages (grafana/loki `pkg/push/push.proto`, package `logproto`), written
//! by hand so the build needs no `protoc`. Field numbers are the contract:
//! PushRequest.streams = 1; StreamAdapter.labels = 1, entries = 2, hash = 3;
//! EntryAdapter.timestamp = 1, line = 2, structuredMetadata = 3;
//! LabelPairAdapter.name = 1, value = 2; google.protobuf.Timestamp.seconds = 1, nanos = 2.

/// The body of one push (before snappy).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

/// One stream and its entries.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StreamAdapter {
    #[prost(string, tag = "1")]
    pub labels: String,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    /// Only Loki's own distributor fills this; clients leave it 0.
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

/// One line.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    /// Declared `string` in Loki's schema; `bytes` has the same wire encoding and lets a
    /// line point into the reader's buffer instead of being copied into its own `String`.
    /// Always valid UTF-8 (the reader replaces invalid bytes).
    #[prost(bytes = "bytes", tag = "2")]
    pub line: bytes::Bytes,
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
    /// From nanoseconds since the Unix epoch.
    pub fn from_unix_nanos(ns: i64) -> Timestamp {
        Timestamp {
            seconds: ns.div_euclid(1_000_000_000),
            nanos: ns.rem_euclid(1_000_000_000) as i32,
        }
    }
}
