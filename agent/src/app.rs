//! Wiring: builds every configured component, binds the HTTP listener, runs until the
//! shutdown token fires, then gives sinks a bounded time to flush.
//!
//! Data flows one way: sources → bounded channels (`crate::pipeline`) → sinks. Sinks are
//! built first, each with its input channel; the sending ends go into one
//! [`SourceContext`], and every source is started from it with the same call,
//! `<source>::source::start(&config, &context)`.

use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::Positions;
use crate::config::Config;
use crate::pipeline::context::{SourceContext, SourceOutputs, Task};
use crate::pipeline::logs::{LogOutput, log_channel};
use crate::pipeline::metrics::{metric_channel, page_channel};
use crate::server;
use crate::sinks::cloudwatch::sink::CloudWatchSink;
use crate::sinks::loki::sink::LokiSink;
use crate::sources::{kubernetes_logs, node, prometheus_scrape};
use crate::telemetry::{self, Registry};

/// A built agent, listening but not yet serving.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    registry: Registry,
    shutdown: CancellationToken,
    shutdown_timeout: Duration,
    tasks: Vec<Task>,
}

impl Application {
    /// Binds the listener and starts every enabled component.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let registry = Registry::new();
        telemetry::register_build_info(&registry);
        let shutdown = CancellationToken::new();
        let listener = TcpListener::bind(config.server.listen_address)
            .await
            .with_context(|| {
                format!(
                    "server.listen_address: cannot listen on {}",
                    config.server.listen_address
                )
            })?;
        let flush_timeout = config.shutdown.timeout_seconds.duration();
        let mut tasks = Vec::new();

        // Sinks first: their inputs are the sources' outputs.
        let mut metrics = Vec::new();
        if config.sinks.cloudwatch.enabled {
            let (sender, receiver) = metric_channel();
            let sink =
                CloudWatchSink::new(config.sinks.cloudwatch.clone(), &config.identity, &registry)
                    .await?;
            tasks.push((
                "cloudwatch",
                tokio::spawn(sink.run(receiver, shutdown.clone(), flush_timeout)),
            ));
            metrics.push(sender);
        }
        let logs = if config.sources.kubernetes_logs.enabled {
            Some(start_loki(&config, &registry, &shutdown, &mut tasks)?)
        } else {
            None
        };

        let (page, page_view) = page_channel();
        let context = SourceContext {
            registry: registry.clone(),
            shutdown: shutdown.clone(),
            identity: config.identity.clone(),
            outputs: SourceOutputs {
                metrics,
                page,
                logs,
            },
        };
        let sources = &config.sources;
        if sources.node.enabled {
            tasks.push(node::source::start(&sources.node, &context)?);
        }
        if sources.prometheus_scrape.enabled {
            tasks.push(prometheus_scrape::source::start(
                &sources.prometheus_scrape,
                &context,
            )?);
        }
        if sources.kubernetes_logs.enabled {
            tasks.push(kubernetes_logs::source::start(
                &sources.kubernetes_logs,
                &context,
            )?);
        }

        Ok(Application {
            listener,
            router: server::router(page_view, registry.clone()),
            registry,
            shutdown,
            shutdown_timeout: flush_timeout,
            tasks,
        })
    }

    /// The bound port (useful when configured with port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The agent's telemetry registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Cancelling this token stops the agent gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until shutdown, then waits (bounded) for components to finish flushing.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let token = self.shutdown.clone();
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move { token.cancelled().await })
            .await
            .context("HTTP server failed")?;
        // Components flush within shutdown.timeout_seconds themselves; the extra second
        // only covers scheduling, so a wedged component cannot hold the process forever.
        let deadline = tokio::time::Instant::now() + self.shutdown_timeout + Duration::from_secs(1);
        for (name, task) in self.tasks {
            match tokio::time::timeout_at(deadline, task).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::error!(component = name, %error, "component task failed")
                }
                Err(_) => tracing::warn!(
                    component = name,
                    "component did not stop within the shutdown timeout"
                ),
            }
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The Loki sink and the positions file it acknowledges into (see
/// `crate::sources::kubernetes_logs` for why the sink, not the reader, checkpoints);
/// returns what the log source sends to.
fn start_loki(
    config: &Config,
    registry: &Registry,
    shutdown: &CancellationToken,
    tasks: &mut Vec<Task>,
) -> anyhow::Result<LogOutput> {
    let logs = &config.sources.kubernetes_logs;
    let positions = Positions::open(&logs.positions_path)
        .with_context(|| {
            format!(
                "sources.kubernetes_logs.positions_path: cannot use {}",
                logs.positions_path.display()
            )
        })?
        .with_telemetry(registry);
    let sink = LokiSink::new(config.sinks.loki.clone(), positions.clone(), registry)
        .context("sinks.loki")?;
    let (sender, receiver) = log_channel(logs.channel_capacity());
    let flush_timeout = config.shutdown.timeout_seconds.duration();
    let sync = logs.positions_sync_interval_seconds.duration();
    tasks.push((
        "loki",
        tokio::spawn(sink.run(receiver, shutdown.clone(), flush_timeout)),
    ));
    tasks.push((
        "positions",
        tokio::spawn(positions.clone().run_flusher(sync, shutdown.clone())),
    ));
    Ok(LogOutput { sender, positions })
}

/// Cancels `token` on SIGTERM or SIGINT.
pub async fn cancel_on_signal(token: CancellationToken) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
        _ = int.recv() => tracing::info!(signal = "SIGINT", "shutting down"),
    }
    token.cancel();
    Ok(())
}
