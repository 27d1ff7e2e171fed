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
pub mod tailer;
pub mod telemetry;
pub mod watch;

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
    /// The message, valid UTF-8, at most `max_line_bytes`.
    pub line: String,
}

/// What the reader hands to the sink at once: lines, then the checkpoint moves that
/// become true once those lines (and all before them) are acknowledged.
#[derive(Debug, Default)]
pub struct LogBatch {
    pub entries: Vec<LogEntry>,
    pub acks: Vec<Ack>,
    /// Bytes of line text, for batching decisions.
    pub bytes: usize,
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
