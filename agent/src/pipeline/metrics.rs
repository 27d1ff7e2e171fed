//! Metrics from sources to sinks: batches of metric families, fanned out over bounded
//! channels. A source never waits for a slow sink; a full channel drops the batch and
//! counts it, because the next collection supersedes it anyway.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{mpsc, watch};

use crate::metric::MetricFamily;
use crate::telemetry::{Counter, Registry};

/// One collection or scrape, as produced by a source.
#[derive(Debug)]
pub struct MetricBatch {
    /// The producing source instance (`node`, `prometheus_scrape/task-api`, ...); sinks
    /// keep per-source state (counter baselines) under it.
    pub source: Arc<str>,
    /// When the values were read.
    pub collected_at: SystemTime,
    /// The values.
    pub families: Vec<MetricFamily>,
}

/// Sending end of a sink's input.
pub type MetricSender = mpsc::Sender<Arc<MetricBatch>>;

/// Receiving end of a sink's input.
pub type MetricReceiver = mpsc::Receiver<Arc<MetricBatch>>;

/// Capacity of each sink's input channel, in batches.
pub const SINK_INPUT_CAPACITY: usize = 16;

/// A sink's input channel.
pub fn metric_channel() -> (MetricSender, MetricReceiver) {
    mpsc::channel(SINK_INPUT_CAPACITY)
}

/// The set of sinks a source sends to.
#[derive(Clone, Debug)]
pub struct MetricOutputs {
    senders: Vec<MetricSender>,
    dropped: Counter,
}

impl MetricOutputs {
    /// Outputs for `source`, counting drops in `node_agent_pipeline_dropped_batches_total`.
    pub fn new(source: &'static str, senders: Vec<MetricSender>, registry: &Registry) -> Self {
        let dropped = registry.counter(
            "node_agent_pipeline_dropped_batches_total",
            "Batches a source could not hand to a sink because the sink's input was full.",
            &[("source", source)],
        );
        MetricOutputs { senders, dropped }
    }

    /// Whether any sink listens; sources skip work that only sinks need when none does.
    pub fn is_empty(&self) -> bool {
        self.senders.is_empty()
    }

    /// Hands `batch` to every sink without waiting.
    pub fn send(&self, batch: Arc<MetricBatch>) {
        for sender in &self.senders {
            if sender.try_send(batch.clone()).is_err() {
                self.dropped.inc();
            }
        }
    }
}

/// Sending end of the page `/metrics` serves: the node stats of the latest collection,
/// rendered once by the node source.
pub type PageSender = watch::Sender<Arc<String>>;

/// Receiving end of the page `/metrics` serves.
pub type PageReceiver = watch::Receiver<Arc<String>>;

/// The page channel, empty until the first collection.
pub fn page_channel() -> (PageSender, PageReceiver) {
    watch::channel(Arc::new(String::new()))
}
