//! The CloudWatch sink's run loop: aggregate input, push every interval, send with
//! retries, and flush within the shutdown deadline.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::config::types::IdentityConfig;
use crate::pipeline::metrics::MetricReceiver;
use crate::sinks::cloudwatch::aggregate::Aggregator;
use crate::sinks::cloudwatch::batch;
use crate::sinks::cloudwatch::config::{CloudWatchConfig, IdentityDimension};
use crate::sinks::cloudwatch::imds;
use crate::sinks::cloudwatch::queue::RequestQueue;
use crate::sinks::cloudwatch::service::{CloudWatchService, PutError};
use crate::sinks::retry::Backoff;
use crate::sinks::telemetry::SinkTelemetry;
use crate::telemetry::Registry;

/// A configured sink, ready to run.
pub struct CloudWatchSink {
    config: CloudWatchConfig,
    aggregator: Aggregator,
    service: CloudWatchService,
    telemetry: SinkTelemetry,
}

impl CloudWatchSink {
    /// Builds the sink and its AWS client; fails when no region can be found.
    pub async fn new(
        config: CloudWatchConfig,
        identity: &IdentityConfig,
        registry: &Registry,
    ) -> anyhow::Result<Self> {
        let service = CloudWatchService::new(&config).await?;
        let mut identity = identity.clone();
        if identity.instance.is_empty()
            && identity.instance_from_metadata
            && config.dimensions.contains(&IdentityDimension::Instance)
        {
            match imds::instance_id().await {
                Ok(id) => identity.instance = id,
                Err(error) => {
                    tracing::warn!(%error, "no instance id from EC2 metadata; datums go without InstanceId")
                }
            }
        }
        let aggregator = Aggregator::new(config.metrics.clone(), &config.dimensions, &identity);
        Ok(CloudWatchSink {
            config,
            aggregator,
            service,
            telemetry: SinkTelemetry::new(registry, "cloudwatch"),
        })
    }

    /// Runs until `shutdown`, then flushes what is aggregated and queued, giving up after
    /// `flush_timeout` (what is left is counted as dropped with reason `shutdown`).
    pub async fn run(
        mut self,
        mut input: MetricReceiver,
        shutdown: CancellationToken,
        flush_timeout: Duration,
    ) {
        let queue = Arc::new(RequestQueue::new(
            self.config.queue_capacity,
            self.telemetry.clone(),
        ));
        let give_up = CancellationToken::new();
        let mut sender = tokio::spawn(send_loop(
            self.service.clone(),
            queue.clone(),
            self.telemetry.clone(),
            Backoff::new(
                self.config.min_backoff_seconds,
                self.config.max_backoff_seconds,
            ),
            give_up.clone(),
        ));
        let mut ticker = tokio::time::interval(self.config.push_interval_seconds.duration());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                batch = input.recv() => match batch {
                    Some(batch) => self.aggregator.ingest(&batch),
                    None => break,
                },
                _ = ticker.tick() => self.enqueue(&queue),
                _ = shutdown.cancelled() => break,
            }
        }
        while let Ok(batch) = input.try_recv() {
            self.aggregator.ingest(&batch);
        }
        self.enqueue(&queue);
        queue.close();
        if tokio::time::timeout(flush_timeout, &mut sender)
            .await
            .is_err()
        {
            give_up.cancel();
            let _ = sender.await;
            let lost = queue.abandon();
            tracing::warn!(
                datums = lost,
                "CloudWatch flush did not finish before the shutdown timeout"
            );
        }
        tracing::debug!("cloudwatch sink stopped");
    }

    fn enqueue(&mut self, queue: &RequestQueue) {
        let datums = self.aggregator.drain(SystemTime::now());
        for request in batch::split(
            datums,
            self.config.max_datums_per_request,
            self.config.max_request_bytes,
        ) {
            queue.push(request);
        }
    }
}

async fn send_loop(
    service: CloudWatchService,
    queue: Arc<RequestQueue>,
    telemetry: SinkTelemetry,
    backoff: Backoff,
    give_up: CancellationToken,
) {
    let mut current = None;
    let mut attempt = 0;
    loop {
        let entry = tokio::select! {
            entry = queue.front() => entry,
            _ = give_up.cancelled() => return,
        };
        let Some((id, request)) = entry else { return };
        if current != Some(id) {
            current = Some(id);
            attempt = 0;
        }
        let started = Instant::now();
        let result = tokio::select! {
            result = service.put(&request) => result,
            _ = give_up.cancelled() => return,
        };
        telemetry
            .attempt_duration
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(()) => {
                queue.complete(id);
                telemetry.requests_succeeded.inc();
                telemetry.sent_events.inc_by(request.len() as f64);
            }
            Err(PutError::Rejected(error)) => {
                queue.complete(id);
                telemetry.requests_rejected.inc();
                telemetry.dropped_rejected.inc_by(request.len() as f64);
                tracing::error!(datums = request.len(), %error, "CloudWatch rejected a PutMetricData request");
            }
            Err(PutError::Retryable(error)) => {
                attempt += 1;
                telemetry.retries.inc();
                let delay = backoff.delay(attempt);
                tracing::warn!(attempt, delay_seconds = delay.as_secs_f64(), %error, "PutMetricData failed, retrying");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = give_up.cancelled() => return,
                }
            }
        }
    }
}
