//! Starts the reader thread and reports when it has ended.

use anyhow::Context;

use super::{config, tailer, telemetry};
use crate::pipeline::context::{SourceContext, Task};

/// Starts the source: the reader on its own thread (file reads block), sending to the
/// context's log channel; the task completes when the thread has ended (on shutdown, or
/// when the receiver is dropped).
pub fn start(
    config: &config::KubernetesLogsConfig,
    context: &SourceContext,
) -> anyhow::Result<Task> {
    let output = context
        .outputs
        .logs
        .clone()
        .context("sources.kubernetes_logs: no log channel (is sinks.loki enabled?)")?;
    let reader = tailer::Reader::new(
        config.clone(),
        context.identity.node.clone(),
        output.positions,
        output.sender,
        telemetry::ReaderTelemetry::new(&context.registry),
        context.shutdown.clone(),
    );
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("logs-reader".to_string())
        .spawn(move || {
            reader.run();
            let _ = done_tx.send(());
        })
        .context("cannot start the log reader thread")?;
    // Awaiting a oneshot rather than joining keeps the runtime's few blocking threads free.
    let handle = tokio::spawn(async move {
        let _ = done_rx.await;
    });
    Ok(("kubernetes_logs", handle))
}
