//! Sinks: components that send pipeline data out of the node.
//!
//! A new sink is a folder here with `mod.rs` (its `//!` doc and `mod` lines only),
//! `sink.rs` (its run loop), `service.rs` (one request), `config.rs` (its section under
//! `sinks:`) and its tests beside the code; it retries with [`retry`], gets a field in
//! [`SinksConfig`], and `crate::app` creates its input channel from `crate::pipeline`
//! and spawns it. A sink imports `crate::pipeline`, never a source.

pub mod cloudwatch;
pub mod loki;
pub mod retry;
pub mod telemetry;

use serde::{Deserialize, Serialize};

use crate::config::types::ConfigError;

/// The `sinks:` section.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinksConfig {
    /// Metrics to CloudWatch.
    pub cloudwatch: cloudwatch::config::CloudWatchConfig,
    /// Log lines to Loki.
    pub loki: loki::config::LokiConfig,
}

impl SinksConfig {
    /// Validates every sink's section; `key` is this section's path.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        self.cloudwatch.validate(&format!("{key}.cloudwatch"))?;
        self.loki.validate(&format!("{key}.loki"))
    }
}
