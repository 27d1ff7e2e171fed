//! The run loop: collects every interval, publishes the page for `/metrics` and hands
//! the batch to the metrics sinks. [`start`] is how `crate::app` starts it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use super::config::NodeConfig;
use super::{diskstats, filefd, filesystem, loadavg, meminfo, netdev, stat, system};
use crate::metric::MetricFamily;
use crate::pipeline::context::{SourceContext, Task};
use crate::pipeline::metrics::{MetricBatch, MetricOutputs, PageSender};
use crate::telemetry::{Counter, DURATION_BUCKETS, Histogram, Registry};

/// Names of the collectors, as they appear in the `collector` label of the agent's telemetry.
/// `time` runs first, so `node_time_seconds` is a lower bound on when every other value was read.
pub const COLLECTORS: [&str; 9] = [
    "time",
    "stat",
    "meminfo",
    "loadavg",
    "filefd",
    "diskstats",
    "netdev",
    "filesystem",
    "uname",
];

struct CollectorTelemetry {
    duration: Histogram,
    errors: Counter,
}

/// Reads node stats; one per agent.
pub struct NodeCollector {
    config: NodeConfig,
    ticks_per_second: f64,
    telemetry: Vec<CollectorTelemetry>,
}

impl NodeCollector {
    /// A collector for `config`, registering its telemetry in `registry`.
    pub fn new(config: NodeConfig, registry: &Registry) -> Self {
        // SAFETY: sysconf has no memory-safety preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let telemetry = COLLECTORS
            .iter()
            .map(|name| CollectorTelemetry {
                duration: registry.histogram(
                    "node_agent_collector_duration_seconds",
                    "Time one node stats collector took; its _count is the number of runs.",
                    &[("collector", name)],
                    DURATION_BUCKETS,
                ),
                errors: registry.counter(
                    "node_agent_collector_errors_total",
                    "Node stats collector runs that failed; their series are missing from that collection.",
                    &[("collector", name)],
                ),
            })
            .collect();
        NodeCollector {
            config,
            ticks_per_second: if ticks > 0 { ticks as f64 } else { 100.0 },
            telemetry,
        }
    }

    fn proc_file(&self, relative: &str) -> PathBuf {
        self.config.proc_path.join(relative)
    }

    fn read_proc(&self, relative: &str) -> Result<String, String> {
        let path = self.proc_file(relative);
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn run_one(&self, name: &str) -> Result<Vec<MetricFamily>, String> {
        let config = &self.config;
        match name {
            "stat" => stat::parse(&self.read_proc("stat")?, self.ticks_per_second),
            "meminfo" => meminfo::parse(&self.read_proc("meminfo")?),
            "loadavg" => loadavg::parse(&self.read_proc("loadavg")?),
            "filefd" => filefd::parse(&self.read_proc("sys/fs/file-nr")?),
            "diskstats" => diskstats::parse(
                &self.read_proc("diskstats")?,
                &config.diskstats.device_exclude,
            ),
            "netdev" => netdev::parse(&self.read_proc("net/dev")?, &config.netdev.device_exclude),
            "filesystem" => {
                let text = self
                    .read_proc("1/mounts")
                    .or_else(|_| self.read_proc("self/mounts"))?;
                let mounts =
                    filesystem::parse_mounts(&text, &config.rootfs_path, &config.filesystem);
                let rootfs = &config.rootfs_path;
                Ok(filesystem::families(&mounts, |m| {
                    filesystem::statfs(&rootfs.join(m.mount_point.trim_start_matches('/')))
                }))
            }
            "time" => Ok(vec![system::time()]),
            "uname" => system::uname().map(|f| vec![f]).map_err(|e| e.to_string()),
            other => unreachable!("unknown collector {other}"),
        }
    }

    /// Runs every collector once; a failing collector is logged and counted, and the
    /// others still report.
    pub fn collect(&self) -> Vec<MetricFamily> {
        let mut families = Vec::new();
        for (name, telemetry) in COLLECTORS.iter().zip(&self.telemetry) {
            let started = Instant::now();
            match self.run_one(name) {
                Ok(mut found) => families.append(&mut found),
                Err(error) => {
                    telemetry.errors.inc();
                    tracing::warn!(collector = name, %error, "node stats collector failed");
                }
            }
            telemetry.duration.observe(started.elapsed().as_secs_f64());
        }
        families
    }
}

/// Renders families in the text format, for `/metrics`.
pub fn render(families: &[MetricFamily]) -> String {
    let mut out = String::with_capacity(64 * 1024);
    for family in families {
        family.encode(&mut out);
    }
    out
}

/// Starts the source: collects every `collect_interval_seconds` until the context's
/// shutdown, publishing each collection to `/metrics` and to the metrics sinks.
pub fn start(config: &NodeConfig, context: &SourceContext) -> anyhow::Result<Task> {
    let collector = NodeCollector::new(config.clone(), &context.registry);
    let outputs = MetricOutputs::new("node", context.outputs.metrics.clone(), &context.registry);
    let run = run(
        collector,
        context.outputs.page.clone(),
        outputs,
        context.shutdown.clone(),
    );
    Ok(("node", tokio::spawn(run)))
}

async fn run(
    collector: NodeCollector,
    page: PageSender,
    outputs: MetricOutputs,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(collector.config.collect_interval_seconds.duration());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let collector = Arc::new(collector);
    let source: Arc<str> = Arc::from("node");
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.cancelled() => break,
        }
        let worker = collector.clone();
        let collected_at = SystemTime::now();
        let families = match tokio::task::spawn_blocking(move || worker.collect()).await {
            Ok(families) => families,
            Err(error) => {
                tracing::error!(%error, "node stats collection panicked");
                continue;
            }
        };
        page.send_replace(Arc::new(render(&families)));
        if !outputs.is_empty() {
            outputs.send(Arc::new(MetricBatch {
                source: source.clone(),
                collected_at,
                families,
            }));
        }
    }
    tracing::debug!("node source stopped");
}
