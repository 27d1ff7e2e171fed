//! The run loop: one task per target, scraping every interval and handing batches to
//! the metrics sinks. [`start`] is how `crate::app` starts it.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use super::client::Scraper;
use super::config::{PrometheusScrapeConfig, Target};
use crate::pipeline::context::{SourceContext, Task};
use crate::pipeline::metrics::{MetricBatch, MetricOutputs};
use crate::telemetry::{DURATION_BUCKETS, Registry};

/// Starts the source: scrapes every target each `scrape_interval_seconds` until the
/// context's shutdown, one task per target so a slow target never delays the others.
pub fn start(config: &PrometheusScrapeConfig, context: &SourceContext) -> anyhow::Result<Task> {
    if context.outputs.metrics.is_empty() {
        tracing::warn!(
            "sources.prometheus_scrape is enabled but no metrics sink is; scraped series go nowhere"
        );
    }
    let outputs = MetricOutputs::new(
        "prometheus_scrape",
        context.outputs.metrics.clone(),
        &context.registry,
    );
    let run = run(
        config.clone(),
        outputs,
        context.registry.clone(),
        context.shutdown.clone(),
    );
    Ok(("prometheus_scrape", tokio::spawn(run)))
}

async fn run(
    config: PrometheusScrapeConfig,
    outputs: MetricOutputs,
    registry: Registry,
    shutdown: CancellationToken,
) {
    let timeout = config
        .scrape_timeout_seconds
        .duration()
        .min(config.scrape_interval_seconds.duration());
    let scraper = Scraper::new(timeout, config.max_response_bytes);
    let mut tasks = tokio::task::JoinSet::new();
    for target in config.targets.clone() {
        tasks.spawn(scrape_target(
            target,
            scraper.clone(),
            config.scrape_interval_seconds.duration(),
            outputs.clone(),
            registry.clone(),
            shutdown.clone(),
        ));
    }
    while tasks.join_next().await.is_some() {}
    tracing::debug!("prometheus_scrape source stopped");
}

async fn scrape_target(
    target: Target,
    scraper: Scraper,
    interval: std::time::Duration,
    outputs: MetricOutputs,
    registry: Registry,
    shutdown: CancellationToken,
) {
    let duration = registry.histogram(
        "node_agent_scrape_duration_seconds",
        "Time one scrape of a Prometheus target took; its _count is the number of scrapes.",
        &[("target", &target.name)],
        DURATION_BUCKETS,
    );
    let errors = registry.counter(
        "node_agent_scrape_errors_total",
        "Scrapes of a Prometheus target that failed (connection, status, size, timeout, parse).",
        &[("target", &target.name)],
    );
    let samples = registry.gauge(
        "node_agent_scrape_samples",
        "Samples the last successful scrape of a target returned.",
        &[("target", &target.name)],
    );
    let source: Arc<str> = Arc::from(format!("prometheus_scrape/{}", target.name));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let started = Instant::now();
        let collected_at = SystemTime::now();
        let result = tokio::select! {
            result = scraper.scrape(&target.url) => result,
            _ = shutdown.cancelled() => return,
        };
        duration.observe(started.elapsed().as_secs_f64());
        match result {
            Ok(mut families) => {
                let mut count = 0;
                for family in &mut families {
                    for sample in &mut family.samples {
                        if !sample.labels.iter().any(|(k, _)| k == "job") {
                            sample.labels.push(("job".to_string(), target.name.clone()));
                        }
                    }
                    count += family.samples.len();
                }
                samples.set(count as f64);
                outputs.send(Arc::new(MetricBatch {
                    source: source.clone(),
                    collected_at,
                    families,
                }));
            }
            Err(error) => {
                errors.inc();
                tracing::warn!(target = %target.name, url = %target.url, %error, "scrape failed");
            }
        }
    }
}
