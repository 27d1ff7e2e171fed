//! Prometheus scrape source: reads configured `/metrics` endpoints (the task API's RED
//! metrics, for example) so sinks can forward selected series; CloudWatch alarms can
//! then use the application's own numbers.
//!
//! Speaks the Prometheus text format 0.0.4 and OpenMetrics text
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>). Which series leave
//! the node is decided by each sink's allowlist, not here, so cost control lives in one
//! place. Every series gets a `job` label naming its target (kept if already present),
//! so rules can tell targets apart. Scraped series are not re-served on `/metrics`:
//! Prometheus should scrape the application itself.

mod client;
pub mod config;
pub mod source;
