//! Sinks: components that send pipeline data out of the node.
//!
//! A new sink is a folder here with `mod.rs` (its `//!` doc), `config.rs` (its section
//! under `sinks:`), its run loop and its tests; it gets a field in [`SinksConfig`] and is
//! spawned in `crate::app`.

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, NotAvailable};

/// The `sinks:` section.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinksConfig {
    /// Log lines to Loki (issue 5: replace with its own config type).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loki: Option<NotAvailable>,
}

impl SinksConfig {
    /// Validates every sink's section; `key` is this section's path.
    pub fn validate(&self, _key: &str) -> Result<(), ConfigError> {
        Ok(())
    }
}
