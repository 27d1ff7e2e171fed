//! Sources: components that produce data for the pipeline.
//!
//! - `node`: node stats under node_exporter's names (also served on `/metrics`).
//! - `kubernetes_logs`: container log files, for the Loki sink.
//! - `prometheus_scrape`: other `/metrics` endpoints, for forwarding selected series.
//!
//! A new source is a folder here with `mod.rs` (its `//!` doc and `mod` lines only),
//! `source.rs` (its run loop), `config.rs` (its section under `sources:`) and its tests
//! beside the code; it gets a field in [`SourcesConfig`]. Every source is started the
//! same way: `source.rs` has
//! `pub fn start(config: &<Its>Config, context: &SourceContext) -> anyhow::Result<Task>`,
//! which registers its telemetry, takes the outputs it produces from the
//! [`SourceContext`] and spawns its task; `crate::app` calls it when the source is
//! enabled. A new kind of output is a field of
//! [`SourceOutputs`](crate::pipeline::context::SourceOutputs).
//!
//! [`SourceContext`]: crate::pipeline::context::SourceContext

pub mod kubernetes_logs;
pub mod node;
pub mod prometheus_scrape;

use serde::{Deserialize, Serialize};

use crate::config::types::ConfigError;

/// The `sources:` section.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourcesConfig {
    /// Node stats.
    pub node: node::config::NodeConfig,
    /// Prometheus endpoints to scrape and forward.
    pub prometheus_scrape: prometheus_scrape::config::PrometheusScrapeConfig,
    /// Container log files, shipped to Loki.
    pub kubernetes_logs: kubernetes_logs::config::KubernetesLogsConfig,
}

impl SourcesConfig {
    /// Validates every source's section; `key` is this section's path.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        self.node.validate(&format!("{key}.node"))?;
        self.kubernetes_logs
            .validate(&format!("{key}.kubernetes_logs"))?;
        self.prometheus_scrape
            .validate(&format!("{key}.prometheus_scrape"))
    }
}
