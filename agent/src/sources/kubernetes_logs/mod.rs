//! Container logs: tails the kubelet's log files and hands their lines to the Loki sink.
//!
//! Reads `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log` (configurable
//! globs) in the CRI, Docker json-file or plain format ([`parser`]), follows rotation by
//! rename and by copytruncate, drains deleted files ([`tailer`]), and labels each line
//! with namespace, pod, container, node and stream ([`discovery`]).
//!
//! The non-obvious decision: the reader never checkpoints. Each hand-off to the sink
//! carries, beside its lines, the offsets those lines make safe ([`crate::checkpoint::Ack`]);
//! the sink applies them only once Loki acknowledged the lines, so the positions file
//! never runs ahead of Loki. The hand-off channel is bounded, so a slow Loki pauses
//! reading instead of growing memory.

pub mod config;
pub mod discovery;
pub mod parser;
pub mod rotated;
pub mod tailer;
pub mod telemetry;
pub mod watch;

use std::ops::Range;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{Ack, Positions};
use crate::telemetry::Registry;

/// One log line on its way to Loki.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// The stream's label set, rendered (`{container="app", ...}`).
    pub stream: Arc<str>,
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    /// Where the message is in its batch's `text` (at most `max_line_bytes`).
    pub text: Range<usize>,
}

/// What the reader hands to the sink at once: lines, then the checkpoint moves that
/// become true once those lines (and all before them) are acknowledged.
///
/// The messages share one buffer instead of a `String` each: one allocation per
/// hand-off rather than per line, freed by the sink in one piece.
#[derive(Debug, Default)]
pub struct LogBatch {
    pub entries: Vec<LogEntry>,
    pub acks: Vec<Ack>,
    /// Every message, back to back.
    pub text: String,
}

impl LogBatch {
    /// The message of `entry`.
    pub fn line(&self, entry: &LogEntry) -> &str {
        &self.text[entry.text.clone()]
    }
}

/// Starts the reader on its own thread (file reads block) and returns the sink's input
/// and a task that completes when the thread has ended (on `shutdown`, or when the
/// receiver is dropped).
pub fn spawn(
    config: config::KubernetesLogsConfig,
    node: String,
    positions: Positions,
    registry: &Registry,
    shutdown: CancellationToken,
) -> std::io::Result<(mpsc::Receiver<LogBatch>, tokio::task::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel(tailer::channel_capacity(&config));
    let reader = tailer::Reader::new(
        config,
        node,
        positions,
        tx,
        telemetry::ReaderTelemetry::new(registry),
        shutdown,
    );
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("logs-reader".to_string())
        .spawn(move || {
            reader.run();
            let _ = done_tx.send(());
        })?;
    // Awaiting a oneshot rather than joining keeps the runtime's few blocking threads free.
    let handle = tokio::spawn(async move {
        let _ = done_rx.await;
    });
    Ok((rx, handle))
}
