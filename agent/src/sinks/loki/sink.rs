//! The run loop: batches what the reader hands over, dispatches pushes, and applies
//! their acknowledgements to the positions file in batch order.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::batch::Batch;
use super::config::LokiConfig;
use super::delivery::{Delivery, LokiTelemetry, PushOrder, Settled, Shipper};
use super::metadata::Extractor;
use super::service::PushService;
use crate::checkpoint::Positions;
use crate::pipeline::logs::LogReceiver;
use crate::sinks::retry::Backoff;
use crate::sinks::telemetry::SinkTelemetry;
use crate::telemetry::Registry;

/// Completes with the oldest delivery's result; never, when none is in flight.
async fn oldest(in_flight: &mut VecDeque<Delivery>) -> Option<Settled> {
    match in_flight.front_mut() {
        Some(delivery) => delivery.await.ok(),
        None => std::future::pending().await,
    }
}

/// The running sink.
pub struct LokiSink {
    config: LokiConfig,
    shipper: Arc<Shipper>,
    positions: Positions,
    extractor: Option<Extractor>,
    telemetry: SinkTelemetry,
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
        let telemetry = LokiTelemetry {
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
        };
        Ok(LokiSink {
            shipper: Arc::new(Shipper::new(
                PushService::new(&config)?,
                telemetry.clone(),
                config.max_in_flight_requests,
                Backoff::new(config.min_backoff_seconds, config.max_backoff_seconds),
            )),
            positions,
            extractor,
            telemetry: telemetry.common,
            config,
        })
    }

    /// Ships what arrives on `input` until `shutdown`; then flushes within
    /// `flush_timeout` and writes the positions file once more.
    pub async fn run(
        self,
        mut input: LogReceiver,
        shutdown: CancellationToken,
        flush_timeout: Duration,
    ) {
        let wait = self.config.batch_wait_seconds.duration();
        let max = self.config.batch_max_bytes;
        let max_batches_out = self.config.max_in_flight_requests + 1;
        let mut filling = Batch::default();
        // Batches handed to delivery tasks, oldest first: settled in this order.
        let mut in_flight: VecDeque<Delivery> = VecDeque::with_capacity(max_batches_out);
        let mut order = PushOrder::default();
        let mut failed = false;
        loop {
            let room = in_flight.len() < max_batches_out;
            let deadline = if room {
                filling.opened.map(|t| t + wait)
            } else {
                None
            };
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                settled = oldest(&mut in_flight) => {
                    in_flight.pop_front();
                    if !self.settle(settled) {
                        failed = true;
                        break;
                    }
                }
                _ = sleep_until(deadline) => {
                    let batch = std::mem::take(&mut filling);
                    in_flight.push_back(self.shipper.dispatch(batch, &mut order, shutdown.clone()));
                }
                received = input.recv(), if room => match received {
                    Some(received) => {
                        filling.add(received, self.extractor.as_ref());
                        if filling.bytes >= max {
                            let batch = std::mem::take(&mut filling);
                            in_flight.push_back(self.shipper.dispatch(batch, &mut order, shutdown.clone()));
                        }
                    }
                    None => break,
                },
            }
            self.telemetry.queue_requests.set(in_flight.len() as f64);
        }
        // What is still in the channel was never acknowledged: its offsets were not
        // recorded and it is read again on restart. Batches already out settle in order
        // (those retrying give up: `shutdown` is their signal too), then the filling batch
        // gets the rest of `flush_timeout`; nothing after a batch that did not settle
        // is acknowledged, since its checkpoint moves would skip that batch's lines.
        drop(input);
        if !failed {
            let flush = async {
                while let Some(delivery) = in_flight.pop_front() {
                    if !self.settle(delivery.await.ok()) {
                        return;
                    }
                }
                if !filling.is_empty() {
                    let last = std::mem::take(&mut filling);
                    let never = CancellationToken::new();
                    let delivery = self.shipper.dispatch(last, &mut order, never);
                    self.settle(delivery.await.ok());
                }
            };
            if tokio::time::timeout(flush_timeout, flush).await.is_err() {
                tracing::warn!("shutdown flush to Loki timed out; the rest is re-read on restart");
            }
        }
        for delivery in in_flight {
            delivery.abort();
        }
        self.telemetry.queue_requests.set(0.0);
        let positions = self.positions.clone();
        match tokio::task::spawn_blocking(move || positions.save()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "cannot write positions file at shutdown"),
            Err(error) => tracing::error!(%error, "positions writer panicked"),
        }
    }

    /// Applies a settled batch's checkpoint moves; false when it did not settle (given up,
    /// or its task died), after which nothing may be acknowledged.
    fn settle(&self, settled: Option<Settled>) -> bool {
        match settled {
            Some(settled) if settled.done => {
                self.positions.apply(&settled.acks, settled.newest_ns);
                true
            }
            _ => false,
        }
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
    use crate::checkpoint::{Ack, FileId, Fingerprint, Record, Track};
    use crate::config::types::Seconds;
    use crate::pipeline::logs::{LogBatch, LogEntry};
    use loki_receiver::{Mode, Receiver, ReceiverConfig};
    use tokio::sync::mpsc;

    const TRACK: Track = 1;

    /// One hand-off: `tag` repeated past `batch_max_bytes` (so it closes a batch at
    /// once), acknowledging `FILE` up to `offset`.
    fn hand_off(tag: &str, offset: u64) -> LogBatch {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        let text = format!("{tag} {}", "x".repeat(1100));
        LogBatch {
            entries: vec![LogEntry {
                stream: Arc::from(r#"{namespace="shop", pod="api-0", container="app"}"#),
                timestamp_ns: now,
                text: 0..text.len(),
            }],
            acks: vec![Ack::Advance {
                track: TRACK,
                offset,
            }],
            text,
        }
    }

    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Batch A's first push fails (500, retried after 1–2 s) while batch B is sent.
    /// Returns the tags in the order the receiver stored them, and the checkpoint seen
    /// once B could have been acknowledged but A was not yet.
    async fn first_push_fails(max_in_flight_requests: usize) -> (Vec<String>, Option<u64>) {
        let receiver = Receiver::start(ReceiverConfig::default()).await.unwrap();
        receiver.set_mode(Mode::Fail {
            status: 500,
            remaining: Some(1),
        });
        let dir = std::env::temp_dir().join(format!(
            "loki-sink-order-{}-{max_in_flight_requests}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let positions = Positions::open(&dir.join("positions.json")).unwrap();
        positions.observe(Record {
            track: TRACK,
            id: FileId { dev: 1, inode: 7 },
            fingerprint: Fingerprint::default(),
            offset: 0,
            read: 0,
            path: "/var/log/pods/shop_api-0_1/app/0.log".into(),
        });
        let config = LokiConfig {
            enabled: true,
            endpoint: receiver.url(),
            batch_max_bytes: 1024,
            batch_wait_seconds: Seconds(60.0),
            min_backoff_seconds: Seconds(2.0),
            max_backoff_seconds: Seconds(2.0),
            max_in_flight_requests,
            ..LokiConfig::default()
        };
        let sink = LokiSink::new(config, positions.clone(), &Registry::new()).unwrap();
        let (input, rx) = mpsc::channel(4);
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(sink.run(rx, shutdown.clone(), Duration::from_secs(5)));

        input.send(hand_off("A", 100)).await.unwrap();
        until("A's failed push", || {
            receiver.store().stats().responses.get(&500) == Some(&1)
        })
        .await;
        input.send(hand_off("B", 200)).await.unwrap();
        let stored = |tag: &str| {
            receiver
                .store()
                .entries()
                .iter()
                .any(|e| e.line.starts_with(tag))
        };
        if max_in_flight_requests > 1 {
            until("B", || stored("B ")).await;
        }
        // Time enough for a wrong implementation to record B's offset; A's retry is
        // still at least 0.8 s away.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before_a = positions.acked_offset(TRACK);
        until("A and B", || stored("A ") && stored("B ")).await;
        until("the checkpoint", || {
            positions.acked_offset(TRACK) == Some(200)
        })
        .await;

        shutdown.cancel();
        running.await.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let order = receiver
            .store()
            .entries()
            .iter()
            .map(|e| e.line[..1].to_string())
            .collect();
        (order, before_a)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_acknowledged_early_waits_for_the_batches_before_it() {
        let (order, before_a) = first_push_fails(2).await;
        assert_eq!(order, ["B", "A"], "B must not wait for A's retry");
        assert_eq!(
            before_a,
            Some(0),
            "B's offset was recorded before A was delivered"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_request_in_flight_sends_strictly_in_order() {
        let (order, before_a) = first_push_fails(1).await;
        assert_eq!(order, ["A", "B"]);
        assert_eq!(before_a, Some(0));
    }
}
