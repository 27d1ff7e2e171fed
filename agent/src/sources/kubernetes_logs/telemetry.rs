//! The reader's `node_agent_logs_*` series.

use crate::telemetry::{Counter, Gauge, Registry};

/// Counters and gauges of the tailing side.
#[derive(Clone, Debug)]
pub struct ReaderTelemetry {
    pub read_lines: Counter,
    pub read_bytes: Counter,
    pub truncated_lines: Counter,
    pub resent_lines: Counter,
    pub rotations_moved: Counter,
    pub rotations_truncated: Counter,
    pub files_watched: Gauge,
    pub lag_bytes: Gauge,
    pub lag_seconds: Gauge,
}

impl ReaderTelemetry {
    /// Registers the series.
    pub fn new(registry: &Registry) -> Self {
        let rotations = |kind| {
            registry.counter(
                "node_agent_logs_rotations_total",
                "Log files rotated: moved away or deleted (kind=moved), truncated in place (kind=truncated).",
                &[("kind", kind)],
            )
        };
        ReaderTelemetry {
            read_lines: registry.counter(
                "node_agent_logs_read_lines_total",
                "Complete log lines read from container log files.",
                &[],
            ),
            read_bytes: registry.counter(
                "node_agent_logs_read_bytes_total",
                "Bytes read from container log files.",
                &[],
            ),
            truncated_lines: registry.counter(
                "node_agent_logs_truncated_lines_total",
                "Lines cut at sources.kubernetes_logs.max_line_bytes.",
                &[],
            ),
            resent_lines: registry.counter(
                "node_agent_logs_resent_lines_total",
                "Lines read again after a restart that had been handed to the Loki sink before it without a recorded acknowledgement: they may reach Loki twice.",
                &[],
            ),
            rotations_moved: rotations("moved"),
            rotations_truncated: rotations("truncated"),
            files_watched: registry.gauge(
                "node_agent_logs_files_watched",
                "Log files open for reading, including rotated ones being drained.",
                &[],
            ),
            lag_bytes: registry.gauge(
                "node_agent_logs_lag_bytes",
                "Bytes in watched files not yet acknowledged by Loki.",
                &[],
            ),
            lag_seconds: registry.gauge(
                "node_agent_logs_lag_seconds",
                "While lag_bytes > 0: age of the newest line Loki acknowledged (0 when caught up).",
                &[],
            ),
        }
    }
}
