//! Delivering sealed batches: each on its own task, at most `max_in_flight_requests`
//! pushing at once, started in batch order, retried until Loki takes or refuses them.
//!
//! Tasks never touch the checkpoint. They report how their batch ended and the sink
//! applies the reports in batch order ([`super::sink::LokiSink::run`]), so a batch acknowledged
//! early waits for every batch before it.

use std::sync::Arc;

use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::batch::{Batch, Sealed};
use super::service::{Outcome, PushService};
use crate::checkpoint::Ack;
use crate::sinks::retry::Backoff;
use crate::sinks::telemetry::SinkTelemetry;
use crate::telemetry::Counter;

/// The sink's series beyond the shared [`SinkTelemetry`].
#[derive(Clone, Debug)]
pub(super) struct LokiTelemetry {
    pub(super) common: SinkTelemetry,
    pub(super) sent_bytes: Counter,
    pub(super) request_bytes: Counter,
}

/// How a batch's delivery ended.
pub(super) struct Settled {
    /// Loki took the batch or refused it for good: its checkpoint moves apply. False when
    /// shutdown interrupted the retries: nothing from here on may be acknowledged.
    pub(super) done: bool,
    pub(super) acks: Vec<Ack>,
    pub(super) newest_ns: Option<i64>,
}

/// A batch on its way; completes when it has settled.
pub(super) type Delivery = JoinHandle<Settled>;

/// What every delivery task shares.
pub(super) struct Shipper {
    service: PushService,
    telemetry: LokiTelemetry,
    /// One permit per push allowed in flight.
    slots: Arc<Semaphore>,
    backoff: Backoff,
}

/// Where the next batch lines up: the previous batch's signal that its push has started
/// (or that it needs none).
#[derive(Default)]
pub(super) struct PushOrder {
    previous: Option<oneshot::Receiver<()>>,
}

impl Shipper {
    pub(super) fn new(
        service: PushService,
        telemetry: LokiTelemetry,
        max_in_flight: usize,
        backoff: Backoff,
    ) -> Shipper {
        Shipper {
            service,
            telemetry,
            slots: Arc::new(Semaphore::new(max_in_flight)),
            backoff,
        }
    }

    /// Encodes `batch` on a blocking thread and pushes it once its turn comes: after the
    /// batch before it has started pushing, and when a slot is free. So pushes start in
    /// batch order, and with one slot they also finish in it. Retries stop when `give_up`
    /// is cancelled.
    pub(super) fn dispatch(
        self: &Arc<Self>,
        batch: Batch,
        order: &mut PushOrder,
        give_up: CancellationToken,
    ) -> Delivery {
        let (started, next_turn) = oneshot::channel();
        let previous = order.previous.replace(next_turn);
        let shipper = self.clone();
        tokio::spawn(async move {
            let sealed = match tokio::task::spawn_blocking(move || batch.seal()).await {
                Ok(sealed) => sealed,
                Err(error) => {
                    // Encoding cannot fail; a panic there must not let later checkpoints
                    // pass this batch's lines.
                    tracing::error!(%error, "encoding a Loki batch failed");
                    return Settled {
                        done: false,
                        acks: Vec::new(),
                        newest_ns: None,
                    };
                }
            };
            if let Some(previous) = previous {
                // An error only means the previous task ended: its turn is over too.
                let _ = previous.await;
            }
            let slot = match &sealed.body {
                // Never closed, so this always yields a permit.
                Some(_) => shipper.slots.clone().acquire_owned().await.ok(),
                None => None,
            };
            let _ = started.send(());
            let done = shipper.push(&sealed, give_up).await;
            drop(slot);
            Settled {
                done,
                acks: sealed.acks,
                newest_ns: sealed.newest_ns,
            }
        })
    }

    /// Pushes `batch` until Loki takes or refuses it. False if `give_up` interrupted the
    /// retries (the batch stays unacknowledged).
    async fn push(&self, batch: &Sealed, give_up: CancellationToken) -> bool {
        let Some(body) = &batch.body else {
            return true;
        };
        let telemetry = &self.telemetry.common;
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
            attempt = attempt.saturating_add(1);
            let delay = after.unwrap_or_else(|| self.backoff.delay(attempt));
            tracing::warn!(attempt, lines = batch.lines, delay_seconds = delay.as_secs_f64(), %reason, "Loki push failed; retrying");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = give_up.cancelled() => {
                    // Not lost: unacknowledged, so re-read from the files on restart.
                    telemetry.dropped_shutdown.inc_by(batch.lines as f64);
                    return false;
                }
            }
        };
        match outcome {
            Outcome::Delivered => {
                telemetry.requests_succeeded.inc();
                telemetry.sent_events.inc_by(batch.lines as f64);
                self.telemetry.sent_bytes.inc_by(batch.bytes as f64);
            }
            Outcome::Rejected(status, reason) => {
                telemetry.requests_rejected.inc();
                telemetry.dropped_rejected.inc_by(batch.lines as f64);
                tracing::error!(status, lines = batch.lines, %reason, "Loki refused a batch; dropped");
            }
            Outcome::Retry { .. } => unreachable!("retries loop above"),
        }
        true
    }
}
