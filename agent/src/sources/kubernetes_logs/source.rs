//! Starts the reader thread and reports when it has ended.

use tokio_util::sync::CancellationToken;

use super::{config, tailer, telemetry};
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
