//! Wiring: builds every configured component, binds the HTTP listener, runs until the
//! shutdown token fires, then gives sinks a bounded time to flush.
//!
//! Data flows one way: sources → bounded channels (`crate::pipeline`) → sinks. A new
//! component is constructed in [`Application::build`] and spawned there.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::Positions;
use crate::config::Config;
use crate::pipeline::logs::log_channel;
use crate::pipeline::metrics::{MetricOutputs, metric_channel};
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
    tasks: Vec<(&'static str, JoinHandle<()>)>,
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

        let (node_latest, node_view) = watch::channel(Arc::new(String::new()));
        let mut tasks = Vec::new();

        // Sinks first, so sources can be handed their inputs.
        let mut metric_sinks = Vec::new();
        if config.sinks.cloudwatch.enabled {
            let (sender, receiver) = metric_channel();
            let sink =
                CloudWatchSink::new(config.sinks.cloudwatch.clone(), &config.identity, &registry)
                    .await?;
            let flush_timeout = config.shutdown.timeout_seconds.duration();
            tasks.push((
                "cloudwatch",
                tokio::spawn(sink.run(receiver, shutdown.clone(), flush_timeout)),
            ));
            metric_sinks.push(sender);
        }

        let node_outputs = MetricOutputs::new("node", metric_sinks.clone(), &registry);
        if config.sources.prometheus_scrape.enabled {
            if metric_sinks.is_empty() {
                tracing::warn!(
                    "sources.prometheus_scrape is enabled but no metrics sink is; scraped series go nowhere"
                );
            }
            let outputs = MetricOutputs::new("prometheus_scrape", metric_sinks.clone(), &registry);
            let source = prometheus_scrape::source::run(
                config.sources.prometheus_scrape.clone(),
                outputs,
                registry.clone(),
                shutdown.clone(),
            );
            tasks.push(("prometheus_scrape", tokio::spawn(source)));
        }

        if config.sources.kubernetes_logs.enabled {
            tasks.extend(start_logs(&config, &registry, &shutdown)?);
        }

        if config.sources.node.enabled {
            let collector =
                node::source::NodeCollector::new(config.sources.node.clone(), &registry);
            tasks.push((
                "node",
                tokio::spawn(node::source::run(
                    collector,
                    node_latest,
                    node_outputs,
                    shutdown.clone(),
                )),
            ));
        }

        Ok(Application {
            listener,
            router: server::router(node_view, registry.clone()),
            registry,
            shutdown,
            shutdown_timeout: config.shutdown.timeout_seconds.duration(),
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

/// The log pipeline: reader thread → Loki sink → positions file (see
/// `crate::sources::kubernetes_logs` for why the sink, not the reader, checkpoints).
fn start_logs(
    config: &Config,
    registry: &Registry,
    shutdown: &CancellationToken,
) -> anyhow::Result<Vec<(&'static str, JoinHandle<()>)>> {
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
    let (output, input) = log_channel(logs.channel_capacity());
    let reader = kubernetes_logs::source::spawn(
        logs.clone(),
        config.identity.node.clone(),
        positions.clone(),
        output,
        registry,
        shutdown.clone(),
    )
    .context("cannot start the log reader thread")?;
    let flush_timeout = config.shutdown.timeout_seconds.duration();
    let sync = logs.positions_sync_interval_seconds.duration();
    Ok(vec![
        ("kubernetes_logs", reader),
        (
            "loki",
            tokio::spawn(sink.run(input, shutdown.clone(), flush_timeout)),
        ),
        (
            "positions",
            tokio::spawn(positions.run_flusher(sync, shutdown.clone())),
        ),
    ])
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
