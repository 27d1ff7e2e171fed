//! The `sources.kubernetes_logs` section.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::parser::Format;
use crate::config::types::{ConfigError, Seconds};

/// Tailing container log files.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesLogsConfig {
    /// Off by default; needs `sinks.loki` enabled.
    pub enabled: bool,
    /// Glob patterns of files to tail; the default is the kubelet's layout
    /// `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log`.
    pub include: Vec<String>,
    /// Glob patterns of files never to tail (matched against the full path).
    pub exclude: Vec<String>,
    /// Line format: `auto` (per file: CRI, else Docker json-file, else plain), `cri`,
    /// `docker` or `plain`.
    pub format: Format,
    /// Longest line shipped, in bytes; longer lines are cut and marked. Default is Loki's
    /// default `max_line_size` (256KB, which Loki reads as 256,000 bytes).
    pub max_line_bytes: usize,
    /// How often the globs are re-evaluated to find new, rotated and deleted files.
    pub rescan_interval_seconds: Seconds,
    /// How long the reader sleeps when no file had new data.
    pub poll_interval_seconds: Seconds,
    /// How long a rotated-away or deleted file stays open after its last new byte, so a
    /// writer still holding it can finish.
    pub drain_idle_seconds: Seconds,
    /// Bytes read from one file before moving to the next (fairness between files).
    pub read_chunk_bytes: usize,
    /// Bound on lines read but not yet taken by the Loki sink; when full, reading pauses
    /// and the files on disk are the buffer.
    pub max_buffered_bytes: usize,
    /// Where acknowledged offsets are kept (must survive restarts: a hostPath volume).
    pub positions_path: PathBuf,
    /// Longest wait between an acknowledgement and the positions file write that records
    /// it (writes are coalesced; 0 = as soon as possible). A crash repeats at most the
    /// lines acknowledged within this window.
    pub positions_sync_interval_seconds: Seconds,
}

impl Default for KubernetesLogsConfig {
    fn default() -> Self {
        KubernetesLogsConfig {
            enabled: false,
            include: vec!["/var/log/pods/*/*/*.log".to_string()],
            exclude: Vec::new(),
            format: Format::Auto,
            max_line_bytes: 256_000,
            rescan_interval_seconds: Seconds(1.0),
            poll_interval_seconds: Seconds(0.1),
            drain_idle_seconds: Seconds(5.0),
            read_chunk_bytes: 256 * 1024,
            max_buffered_bytes: 8 * 1024 * 1024,
            positions_path: PathBuf::from("/var/lib/node-agent/positions.json"),
            positions_sync_interval_seconds: Seconds(0.1),
        }
    }
}

impl KubernetesLogsConfig {
    /// Capacity of the log channel, in hand-offs: `max_buffered_bytes` of them bounds
    /// the memory between reader and sink.
    pub fn channel_capacity(&self) -> usize {
        (self.max_buffered_bytes / self.read_chunk_bytes).max(2)
    }

    /// Checks ranges and patterns; `key` is this section's path.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let at = |field: &str| format!("{key}.{field}");
        if self.enabled && self.include.is_empty() {
            return Err(ConfigError::invalid(
                &at("include"),
                "is empty: no file would be tailed; disable the source instead",
            ));
        }
        for (field, patterns) in [("include", &self.include), ("exclude", &self.exclude)] {
            for (i, pattern) in patterns.iter().enumerate() {
                if let Err(error) = glob::Pattern::new(pattern) {
                    return Err(ConfigError::invalid(
                        &at(&format!("{field}[{i}]")),
                        format!("not a valid glob pattern: {error}"),
                    ));
                }
            }
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.max_line_bytes) {
            return Err(ConfigError::invalid(
                &at("max_line_bytes"),
                "must be between 1024 and 16777216",
            ));
        }
        if !(4096..=16 * 1024 * 1024).contains(&self.read_chunk_bytes) {
            return Err(ConfigError::invalid(
                &at("read_chunk_bytes"),
                "must be between 4096 and 16777216",
            ));
        }
        if self.max_buffered_bytes < 2 * self.read_chunk_bytes
            || self.max_buffered_bytes > 1024 * 1024 * 1024
        {
            return Err(ConfigError::invalid(
                &at("max_buffered_bytes"),
                "must be at least twice read_chunk_bytes and at most 1073741824",
            ));
        }
        self.rescan_interval_seconds
            .check_range(&at("rescan_interval_seconds"), 0.05, 600.0)?;
        self.poll_interval_seconds
            .check_range(&at("poll_interval_seconds"), 0.005, 10.0)?;
        self.drain_idle_seconds
            .check_range(&at("drain_idle_seconds"), 0.0, 3600.0)?;
        self.positions_sync_interval_seconds.check_range(
            &at("positions_sync_interval_seconds"),
            0.0,
            600.0,
        )?;
        if self.positions_path.as_os_str().is_empty() {
            return Err(ConfigError::invalid(
                &at("positions_path"),
                "must not be empty",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_errors_name_the_key() {
        KubernetesLogsConfig::default()
            .validate("sources.kubernetes_logs")
            .unwrap();
        let config = KubernetesLogsConfig {
            include: vec!["/var/log/[".to_string()],
            ..KubernetesLogsConfig::default()
        };
        let error = config
            .validate("sources.kubernetes_logs")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("sources.kubernetes_logs.include[0]:"),
            "{error}"
        );
        let config = KubernetesLogsConfig {
            max_line_bytes: 10,
            ..KubernetesLogsConfig::default()
        };
        let error = config.validate("k").unwrap_err().to_string();
        assert!(error.starts_with("k.max_line_bytes:"), "{error}");
    }
}
