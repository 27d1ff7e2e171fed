//! Loki sink: ships log lines with Loki's push API and, only once Loki answered, moves
//! the checkpoint.
//!
//! Speaks `POST /loki/api/v1/push` with a protobuf `logproto.PushRequest` compressed as a
//! snappy block (<https://grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs>,
//! schema `pkg/push/push.proto`), optional `X-Scope-OrgID`, basic or bearer auth.
//!
//! Batches close at `batch_max_bytes` or after `batch_wait_seconds`; entries of a stream
//! are sorted by timestamp within the batch. JSON lines' `request_id`/`trace_id` go as
//! structured metadata ([`metadata`]).
//!
//! The non-obvious decision: exactly one push is in flight, and while it retries the sink
//! takes at most one more batch (encoded, next in line) and then no new lines. That keeps acknowledgements in file order (so a checkpoint is
//! simply the last acknowledged offset) and turns a slow or absent Loki into backpressure
//! on the reader instead of memory growth. Retries (429, 5xx, network) never give up by
//! themselves; other 4xx drop the batch, counted and logged, and the checkpoint moves past
//! it, since sending it again would be refused again.

pub mod config;
pub mod logproto;
pub mod metadata;
pub mod service;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{Ack, Positions};
use crate::sinks::SinkTelemetry;
use crate::sources::kubernetes_logs::LogBatch;
use crate::telemetry::{Counter, Registry};
use config::LokiConfig;
use logproto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};
use metadata::Extractor;
use service::{Outcome, PushService};

/// Lines gathered for the next push, with the checkpoint moves they carry.
#[derive(Default)]
struct Batch {
    streams: Vec<(Arc<str>, Vec<EntryAdapter>)>,
    index: HashMap<Arc<str>, usize>,
    acks: Vec<Ack>,
    lines: usize,
    bytes: usize,
    newest_ns: Option<i64>,
    opened: Option<Instant>,
}

impl Batch {
    fn add(&mut self, input: LogBatch, extractor: Option<&Extractor>) {
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

    fn is_empty(&self) -> bool {
        self.lines == 0 && self.acks.is_empty()
    }

    /// Closes the batch: encodes its lines (none: nothing to push, only checkpoint moves).
    /// Closes the batch and encodes it on a blocking thread, so the runtime thread stays
    /// free to drive the push in flight (its latency would otherwise include this work).
    fn seal_in_background(&mut self) -> Sealing {
        let mut batch = std::mem::take(self);
        tokio::task::spawn_blocking(move || batch.seal())
    }

    fn seal(&mut self) -> Sealed {
        let mut batch = std::mem::take(self);
        Sealed {
            body: (batch.lines > 0).then(|| batch.encode()),
            acks: std::mem::take(&mut batch.acks),
            lines: batch.lines,
            bytes: batch.bytes,
            newest_ns: batch.newest_ns,
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

/// A closed batch being encoded.
type Sealing = tokio::task::JoinHandle<Sealed>;

/// A closed batch, encoded and waiting for its turn.
struct Sealed {
    body: Option<Bytes>,
    acks: Vec<Ack>,
    lines: usize,
    bytes: usize,
    newest_ns: Option<i64>,
}

/// The push in flight.
type Delivery<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>>;

/// Completes with the in-flight push's result; never, when there is none.
async fn poll_delivery(in_flight: &mut Option<Delivery<'_>>) -> bool {
    match in_flight {
        Some(delivery) => delivery.await,
        None => std::future::pending().await,
    }
}

/// The sink's series beyond the shared [`SinkTelemetry`].
#[derive(Clone, Debug)]
struct LokiTelemetry {
    common: SinkTelemetry,
    sent_bytes: Counter,
    request_bytes: Counter,
}

/// The running sink.
pub struct LokiSink {
    config: LokiConfig,
    service: PushService,
    positions: Positions,
    extractor: Option<Extractor>,
    telemetry: LokiTelemetry,
}

impl LokiSink {
    /// A sink for a validated config, acknowledging into `positions`.
    pub fn new(
        config: LokiConfig,
        positions: Positions,
        registry: &Registry,
    ) -> anyhow::Result<LokiSink> {
        let extractor = if config.structured_metadata {
            Extractor::new(&config.structured_metadata_fields)
        } else {
            None
        };
        Ok(LokiSink {
            service: PushService::new(&config)?,
            positions,
            extractor,
            telemetry: LokiTelemetry {
                common: SinkTelemetry::new(registry, "loki"),
                sent_bytes: registry.counter(
                    "node_agent_sink_sent_bytes_total",
                    "Bytes of event payload a sink delivered (log line text for Loki).",
                    &[("sink", "loki")],
                ),
                request_bytes: registry.counter(
                    "node_agent_loki_request_bytes_total",
                    "Compressed push bodies sent to Loki, every attempt included.",
                    &[],
                ),
            },
            config,
        })
    }

    /// Ships what arrives on `input` until `shutdown`; then flushes the open batch within
    /// `flush_timeout` and writes the positions file once more.
    pub async fn run(
        self,
        mut input: mpsc::Receiver<LogBatch>,
        shutdown: CancellationToken,
        flush_timeout: Duration,
    ) {
        let wait = self.config.batch_wait_seconds.duration();
        let max = self.config.batch_max_bytes;
        // Three stages so the single push in flight never waits for the next batch to be
        // gathered or encoded: `open` fills, `sealed` is encoded and next in line,
        // `in_flight` is being pushed (with its retries).
        let mut open = Batch::default();
        let mut sealed: Option<Sealing> = None;
        let mut in_flight: Option<Delivery<'_>> = None;
        let mut failed = false;
        loop {
            let deadline = match sealed {
                None => open.opened.map(|t| t + wait),
                Some(_) => None,
            };
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                delivered = poll_delivery(&mut in_flight) => {
                    in_flight = None;
                    if !delivered {
                        failed = true;
                        break;
                    }
                    if let Some(next) = sealed.take() {
                        in_flight = Some(Box::pin(self.deliver(next, shutdown.clone())));
                    }
                }
                _ = sleep_until(deadline) => {
                    let next = open.seal_in_background();
                    match in_flight {
                        None => in_flight = Some(Box::pin(self.deliver(next, shutdown.clone()))),
                        Some(_) => sealed = Some(next),
                    }
                }
                received = input.recv(), if sealed.is_none() => match received {
                    Some(received) => {
                        open.add(received, self.extractor.as_ref());
                        if open.bytes >= max {
                            let next = open.seal_in_background();
                            match in_flight {
                                None => in_flight = Some(Box::pin(self.deliver(next, shutdown.clone()))),
                                Some(_) => sealed = Some(next),
                            }
                        }
                    }
                    None => break,
                },
            }
        }
        // What is still in the channel was never acknowledged: its offsets were not
        // recorded and it is read again on restart. What was taken is flushed in order,
        // and nothing after a batch that failed: its checkpoint moves would skip it.
        drop(input);
        if !failed {
            let never = CancellationToken::new();
            let flush = async {
                if let Some(current) = in_flight.take()
                    && !current.await
                {
                    return;
                }
                let last = (!open.is_empty()).then(|| open.seal_in_background());
                for next in sealed.take().into_iter().chain(last) {
                    if !self.deliver(next, never.clone()).await {
                        return;
                    }
                }
            };
            if tokio::time::timeout(flush_timeout, flush).await.is_err() {
                tracing::warn!("shutdown flush to Loki timed out; the rest is re-read on restart");
            }
        }
        let positions = self.positions.clone();
        match tokio::task::spawn_blocking(move || positions.save()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "cannot write positions file at shutdown"),
            Err(error) => tracing::error!(%error, "positions writer panicked"),
        }
    }

    /// Pushes `batch` until Loki takes or refuses it, then applies its checkpoint moves.
    /// Returns false if `shutdown` interrupted the retries (the batch stays unacknowledged).
    async fn deliver(&self, sealing: Sealing, shutdown: CancellationToken) -> bool {
        let done = match sealing.await {
            Ok(done) => done,
            Err(error) => {
                // Encoding cannot fail; a panic there must not let later checkpoints pass.
                tracing::error!(%error, "encoding a Loki batch failed");
                return false;
            }
        };
        let Some(body) = done.body else {
            self.positions.apply(&done.acks, None);
            return true;
        };
        let telemetry = &self.telemetry.common;
        telemetry.queue_requests.set(1.0);
        let mut attempt: u32 = 0;
        let outcome = loop {
            let started = Instant::now();
            let outcome = self.service.push(body.clone()).await;
            telemetry
                .attempt_duration
                .observe(started.elapsed().as_secs_f64());
            self.telemetry.request_bytes.inc_by(body.len() as f64);
            let (reason, after) = match outcome {
                Outcome::Retry { reason, after } => (reason, after),
                other => break other,
            };
            telemetry.retries.inc();
            let delay = after.unwrap_or_else(|| self.backoff(attempt));
            attempt = attempt.saturating_add(1);
            tracing::warn!(attempt, lines = done.lines, delay_seconds = delay.as_secs_f64(), %reason, "Loki push failed; retrying");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.cancelled() => {
                    // Not lost: unacknowledged, so re-read from the files on restart.
                    telemetry.queue_requests.set(0.0);
                    telemetry.dropped_shutdown.inc_by(done.lines as f64);
                    return false;
                }
            }
        };
        telemetry.queue_requests.set(0.0);
        match outcome {
            Outcome::Delivered => {
                telemetry.requests_succeeded.inc();
                telemetry.sent_events.inc_by(done.lines as f64);
                self.telemetry.sent_bytes.inc_by(done.bytes as f64);
            }
            Outcome::Rejected(status, reason) => {
                telemetry.requests_rejected.inc();
                telemetry.dropped_rejected.inc_by(done.lines as f64);
                tracing::error!(status, lines = done.lines, %reason, "Loki refused a batch; dropped");
            }
            Outcome::Retry { .. } => unreachable!("retries loop above"),
        }
        self.positions.apply(&done.acks, done.newest_ns);
        true
    }

    /// Exponential from `min_backoff_seconds`, capped at `max_backoff_seconds`, with the
    /// upper half jittered so agents on many nodes do not retry in lockstep.
    fn backoff(&self, attempt: u32) -> Duration {
        let min = self.config.min_backoff_seconds.0;
        let max = self.config.max_backoff_seconds.0;
        let base = (min * 2f64.powi(attempt.min(30) as i32)).min(max);
        Duration::from_secs_f64(base / 2.0 + fastrand::f64() * base / 2.0)
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::kubernetes_logs::LogEntry;

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
        let body = batch.encode();
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
