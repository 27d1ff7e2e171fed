//! The telemetry every sink reports under the same names, labelled by sink, so one
//! dashboard panel and one alert cover them all.

use crate::telemetry::{Counter, DURATION_BUCKETS, Gauge, Histogram, Registry};

/// The telemetry every sink reports, labelled `sink="<name>"`; an "event" is the sink's
/// unit of data (a CloudWatch datum, a log line).
#[derive(Clone, Debug)]
pub struct SinkTelemetry {
    /// Requests that ended in success.
    pub requests_succeeded: Counter,
    /// Requests the destination refused for good (not retried).
    pub requests_rejected: Counter,
    /// Duration of every attempt; its `_count` is the number of attempts.
    pub attempt_duration: Histogram,
    /// Attempts that failed and were retried.
    pub retries: Counter,
    /// Events delivered.
    pub sent_events: Counter,
    /// Events dropped because the queue overflowed (the destination was down too long).
    pub dropped_queue_full: Counter,
    /// Events dropped because the destination rejected them.
    pub dropped_rejected: Counter,
    /// Events dropped because shutdown's flush deadline passed.
    pub dropped_shutdown: Counter,
    /// Requests waiting (including one being attempted).
    pub queue_requests: Gauge,
}

impl SinkTelemetry {
    /// Registers the series for `sink`.
    pub fn new(registry: &Registry, sink: &str) -> Self {
        let requests = |outcome| {
            registry.counter(
                "node_agent_sink_requests_total",
                "Requests a sink finished, by final outcome (after retries).",
                &[("sink", sink), ("outcome", outcome)],
            )
        };
        let dropped = |reason| {
            registry.counter(
                "node_agent_sink_dropped_events_total",
                "Events a sink gave up on, by reason.",
                &[("sink", sink), ("reason", reason)],
            )
        };
        SinkTelemetry {
            requests_succeeded: requests("success"),
            requests_rejected: requests("rejected"),
            attempt_duration: registry.histogram(
                "node_agent_sink_attempt_duration_seconds",
                "Duration of each request attempt; _count is the number of attempts.",
                &[("sink", sink)],
                DURATION_BUCKETS,
            ),
            retries: registry.counter(
                "node_agent_sink_retries_total",
                "Attempts that failed with a retryable error (throttling, 5xx, network) and were retried.",
                &[("sink", sink)],
            ),
            sent_events: registry.counter("node_agent_sink_sent_events_total", "Events a sink delivered.", &[("sink", sink)]),
            dropped_queue_full: dropped("queue_full"),
            dropped_rejected: dropped("rejected"),
            dropped_shutdown: dropped("shutdown"),
            queue_requests: registry.gauge(
                "node_agent_sink_queue_requests",
                "Requests waiting in a sink's bounded queue, including those being attempted.",
                &[("sink", sink)],
            ),
        }
    }
}
