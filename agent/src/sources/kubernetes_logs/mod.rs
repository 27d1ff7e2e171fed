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

use tokio_util::sync::CancellationToken;

use crate::checkpoint::Positions;
use crate::pipeline::logs::LogSender;
use crate::telemetry::Registry;

/// Starts the reader on its own thread (file reads block), sending to `output`; the task
/// returned completes when the thread has ended (on `shutdown`, or when the receiver is
/// dropped).
pub fn spawn(
    config: config::KubernetesLogsConfig,
    node: String,
    positions: Positions,
    output: LogSender,
    registry: &Registry,
    shutdown: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let reader = tailer::Reader::new(
        config,
        node,
        positions,
        output,
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
    Ok(handle)
}
