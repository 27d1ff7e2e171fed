//! A push in the making: lines gathered per stream with the checkpoint moves they carry,
//! then encoded as Loki's push body.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use prost::Message;
use tokio::time::Instant;

use super::logproto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};
use super::metadata::Extractor;
use crate::checkpoint::Ack;
use crate::pipeline::logs::LogBatch;

/// Lines gathered for the next push, with the checkpoint moves they carry.
#[derive(Default)]
pub(super) struct Batch {
    streams: Vec<(Arc<str>, Vec<EntryAdapter>)>,
    index: HashMap<Arc<str>, usize>,
    acks: Vec<Ack>,
    lines: usize,
    /// Line text gathered so far; the batch closes at `batch_max_bytes` of it.
    pub(super) bytes: usize,
    newest_ns: Option<i64>,
    /// When the first line arrived; the batch closes `batch_wait_seconds` later.
    pub(super) opened: Option<Instant>,
}

impl Batch {
    pub(super) fn add(&mut self, input: LogBatch, extractor: Option<&Extractor>) {
        if self.opened.is_none() {
            self.opened = Some(Instant::now());
        }
        let mut metadata: Vec<Vec<LabelPairAdapter>> = match extractor {
            Some(x) => input
                .entries
                .iter()
                .map(|e| x.extract(input.line(e)))
                .collect(),
            None => Vec::new(),
        };
        self.bytes += input.text.len();
        let text = Bytes::from(input.text);
        // Consecutive lines mostly share a stream: compare the Arc's pointer before
        // hashing a whole label string per line.
        let mut last: Option<(Arc<str>, usize)> = None;
        for (i, entry) in input.entries.into_iter().enumerate() {
            self.lines += 1;
            self.newest_ns = Some(
                self.newest_ns
                    .map_or(entry.timestamp_ns, |n| n.max(entry.timestamp_ns)),
            );
            let slot = match &last {
                Some((stream, slot)) if Arc::ptr_eq(stream, &entry.stream) => *slot,
                _ => {
                    let slot = match self.index.get(&entry.stream) {
                        Some(slot) => *slot,
                        None => {
                            self.streams.push((entry.stream.clone(), Vec::new()));
                            self.index
                                .insert(entry.stream.clone(), self.streams.len() - 1);
                            self.streams.len() - 1
                        }
                    };
                    last = Some((entry.stream.clone(), slot));
                    slot
                }
            };
            self.streams[slot].1.push(EntryAdapter {
                timestamp: Some(Timestamp::from_unix_nanos(entry.timestamp_ns)),
                line: text.slice(entry.text),
                structured_metadata: metadata.get_mut(i).map(std::mem::take).unwrap_or_default(),
            });
        }
        self.acks.extend(input.acks);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.lines == 0 && self.acks.is_empty()
    }

    /// Closes the batch and encodes its lines (none: nothing to push, only checkpoint
    /// moves).
    pub(super) fn seal(mut self) -> Sealed {
        Sealed {
            body: (self.lines > 0).then(|| self.encode()),
            acks: std::mem::take(&mut self.acks),
            lines: self.lines,
            bytes: self.bytes,
            newest_ns: self.newest_ns,
        }
    }

    /// The push body: protobuf, then snappy (block format, as Loki decodes it).
    fn encode(&mut self) -> Bytes {
        self.index.clear();
        let streams = self
            .streams
            .drain(..)
            .map(|(labels, mut entries)| {
                // Stable, so lines with equal timestamps keep file order.
                entries.sort_by_key(|e| e.timestamp.map(|t| (t.seconds, t.nanos)));
                StreamAdapter {
                    labels: labels.to_string(),
                    entries,
                    hash: 0,
                }
            })
            .collect();
        let raw = PushRequest { streams }.encode_to_vec();
        let compressed = snap::raw::Encoder::new()
            .compress_vec(&raw)
            .expect("snappy compresses any input");
        Bytes::from(compressed)
    }
}

/// A closed batch, encoded.
pub(super) struct Sealed {
    /// The push body; None when the batch only carries checkpoint moves.
    pub(super) body: Option<Bytes>,
    pub(super) acks: Vec<Ack>,
    pub(super) lines: usize,
    pub(super) bytes: usize,
    pub(super) newest_ns: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::logs::LogEntry;

    fn batch_of(lines: &[(&str, i64, &str)]) -> LogBatch {
        let mut batch = LogBatch::default();
        for (stream, ts, line) in lines {
            let start = batch.text.len();
            batch.text.push_str(line);
            batch.entries.push(LogEntry {
                stream: Arc::from(*stream),
                timestamp_ns: *ts,
                text: start..batch.text.len(),
            });
        }
        batch
    }

    #[test]
    fn a_batch_encodes_to_snappy_protobuf_sorted_per_stream() {
        let mut batch = Batch::default();
        let extractor = Extractor::new(&["trace_id".to_string()]);
        batch.add(
            batch_of(&[
                (r#"{a="1"}"#, 3_000_000_001, "late"),
                (r#"{a="1"}"#, 1_000_000_000, r#"{"trace_id":"t1"}"#),
                (r#"{a="2"}"#, 2, "other"),
            ]),
            extractor.as_ref(),
        );
        let body = batch.seal().body.unwrap();
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let request = PushRequest::decode(raw.as_slice()).unwrap();
        let a1 = request
            .streams
            .iter()
            .find(|s| s.labels == r#"{a="1"}"#)
            .unwrap();
        assert_eq!(&a1.entries[0].line[..], br#"{"trace_id":"t1"}"#);
        assert_eq!(a1.entries[0].structured_metadata[0].value, "t1");
        assert_eq!(
            a1.entries[1].timestamp,
            Some(Timestamp {
                seconds: 3,
                nanos: 1
            })
        );
        assert_eq!(request.streams.len(), 2);
    }
}
