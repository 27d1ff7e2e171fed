//! The `sinks.cloudwatch` section.

use serde::{Deserialize, Serialize};

use super::selector::Selector;
use crate::config::types::{ConfigError, Retired, Seconds, refuse_retired};
use crate::sinks::retry;

/// CloudWatch's limits on one PutMetricData call.
pub const API_MAX_DATUMS: usize = 1000;
/// Payload limit of one PutMetricData call, in bytes.
pub const API_MAX_BYTES: usize = 1_000_000;
/// Dimensions allowed per datum.
pub const API_MAX_DIMENSIONS: usize = 30;

/// Which identity facts become dimensions on every datum.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IdentityDimension {
    /// `ClusterName` from `identity.cluster`.
    Cluster,
    /// `NodeName` from `identity.node`.
    Node,
    /// `InstanceId` from `identity.instance`.
    Instance,
}

impl IdentityDimension {
    /// The CloudWatch dimension name (Container Insights' spelling, so alarms and
    /// dashboards built for it line up).
    pub fn dimension_name(self) -> &'static str {
        match self {
            IdentityDimension::Cluster => "ClusterName",
            IdentityDimension::Node => "NodeName",
            IdentityDimension::Instance => "InstanceId",
        }
    }
}

/// One allowlist entry: which series, under which CloudWatch name, split by which labels.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricRule {
    /// PromQL-style selector: `name{label="v", label=~"re"}`.
    pub selector: Selector,
    /// Labels kept as dimensions; series differing only in other labels are summed.
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// CloudWatch metric name; defaults to the Prometheus name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl MetricRule {
    fn new(selector: &str, dimensions: &[&str]) -> Self {
        MetricRule {
            selector: Selector::parse(selector).expect("built-in selector parses"),
            dimensions: dimensions.iter().map(|d| d.to_string()).collect(),
            name: None,
        }
    }

    /// The CloudWatch metric name.
    pub fn cloudwatch_name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.selector.name())
    }
}

/// Shipping metrics to CloudWatch with PutMetricData.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudWatchConfig {
    /// Off by default: custom metrics cost money.
    pub enabled: bool,
    /// AWS region; empty means the standard chain (`AWS_REGION`, profile, instance metadata).
    pub region: String,
    /// Endpoint override (tests, VPC endpoints); empty means AWS's own.
    pub endpoint: String,
    /// CloudWatch namespace of every metric.
    pub namespace: String,
    /// How often aggregated statistics are sent.
    pub push_interval_seconds: Seconds,
    /// Store at 1-second resolution (costs more; only useful with push intervals < 60 s).
    pub high_resolution: bool,
    /// Identity dimensions on every datum.
    pub dimensions: Vec<IdentityDimension>,
    /// The allowlist: only series matching a rule are sent.
    pub metrics: Vec<MetricRule>,
    /// Datums per PutMetricData call (API limit 1000).
    pub max_datums_per_request: usize,
    /// Estimated payload bytes per call (API limit 1 MB).
    pub max_request_bytes: usize,
    /// Requests held while CloudWatch is unreachable; beyond this the oldest is dropped.
    pub queue_capacity: usize,
    /// First retry delay; doubles per attempt, with jitter ([`crate::sinks::retry`]).
    pub min_backoff_seconds: Seconds,
    /// Longest retry delay.
    pub max_backoff_seconds: Seconds,
    /// Time limit of one API call.
    pub request_timeout_seconds: Seconds,
    /// Refused: `endpoint`.
    #[serde(rename = "endpoint_url", skip_serializing)]
    pub retired_endpoint_url: Retired,
    /// Refused: `min_backoff_seconds`, the name every sink uses.
    #[serde(rename = "retry_initial_backoff_seconds", skip_serializing)]
    pub retired_retry_initial_backoff_seconds: Retired,
    /// Refused: `max_backoff_seconds`, the name every sink uses.
    #[serde(rename = "retry_max_backoff_seconds", skip_serializing)]
    pub retired_retry_max_backoff_seconds: Retired,
}

impl Default for CloudWatchConfig {
    fn default() -> Self {
        CloudWatchConfig {
            enabled: false,
            region: String::new(),
            endpoint: String::new(),
            namespace: "Watchpost/Node".into(),
            push_interval_seconds: Seconds(60.0),
            high_resolution: false,
            dimensions: vec![IdentityDimension::Cluster, IdentityDimension::Node],
            metrics: default_metrics(),
            max_datums_per_request: API_MAX_DATUMS,
            max_request_bytes: API_MAX_BYTES,
            queue_capacity: 60,
            min_backoff_seconds: Seconds(1.0),
            max_backoff_seconds: Seconds(30.0),
            request_timeout_seconds: Seconds(10.0),
            retired_endpoint_url: None,
            retired_retry_initial_backoff_seconds: None,
            retired_retry_max_backoff_seconds: None,
        }
    }
}

/// Six metrics that cover a node's health alarms (CPU, memory, root disk, network, load);
/// every extra rule is another billed custom metric per node.
fn default_metrics() -> Vec<MetricRule> {
    vec![
        MetricRule::new(r#"node_cpu_seconds_total{mode="idle"}"#, &[]),
        MetricRule::new("node_memory_MemAvailable_bytes", &[]),
        MetricRule::new(r#"node_filesystem_avail_bytes{mountpoint="/"}"#, &[]),
        MetricRule::new("node_network_receive_bytes_total", &[]),
        MetricRule::new("node_network_transmit_bytes_total", &[]),
        MetricRule::new("node_load1", &[]),
    ]
}

impl CloudWatchConfig {
    /// Checks limits and ranges; `key` is this section's path.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let at = |field: &str| format!("{key}.{field}");
        refuse_retired(
            key,
            &[
                ("endpoint_url", "endpoint", &self.retired_endpoint_url),
                (
                    "retry_initial_backoff_seconds",
                    "min_backoff_seconds",
                    &self.retired_retry_initial_backoff_seconds,
                ),
                (
                    "retry_max_backoff_seconds",
                    "max_backoff_seconds",
                    &self.retired_retry_max_backoff_seconds,
                ),
            ],
        )?;
        if self.namespace.is_empty()
            || self.namespace.len() > 255
            || self.namespace.starts_with(':')
        {
            return Err(ConfigError::invalid(
                &at("namespace"),
                "must be 1 to 255 characters and not start with ':'",
            ));
        }
        if self.namespace.starts_with("AWS/") {
            return Err(ConfigError::invalid(
                &at("namespace"),
                "the AWS/ prefix is reserved for AWS services",
            ));
        }
        self.push_interval_seconds
            .check_range(&at("push_interval_seconds"), 0.1, 3600.0)?;
        retry::validate(
            key,
            self.min_backoff_seconds,
            self.max_backoff_seconds,
            600.0,
        )?;
        self.request_timeout_seconds
            .check_range(&at("request_timeout_seconds"), 0.1, 120.0)?;
        if !(1..=API_MAX_DATUMS).contains(&self.max_datums_per_request) {
            return Err(ConfigError::invalid(
                &at("max_datums_per_request"),
                format!("must be between 1 and {API_MAX_DATUMS}"),
            ));
        }
        if !(10_000..=API_MAX_BYTES).contains(&self.max_request_bytes) {
            return Err(ConfigError::invalid(
                &at("max_request_bytes"),
                format!("must be between 10000 and {API_MAX_BYTES}"),
            ));
        }
        if !(1..=10_000).contains(&self.queue_capacity) {
            return Err(ConfigError::invalid(
                &at("queue_capacity"),
                "must be between 1 and 10000 requests",
            ));
        }
        if self.enabled && self.metrics.is_empty() {
            return Err(ConfigError::invalid(
                &at("metrics"),
                "is empty: nothing would be sent; disable the sink instead",
            ));
        }
        for (i, rule) in self.metrics.iter().enumerate() {
            if self.dimensions.len() + rule.dimensions.len() > API_MAX_DIMENSIONS {
                return Err(ConfigError::invalid(
                    &at(&format!("metrics[{i}].dimensions")),
                    format!(
                        "with the identity dimensions this exceeds CloudWatch's {API_MAX_DIMENSIONS} per metric"
                    ),
                ));
            }
            if rule
                .name
                .as_deref()
                .is_some_and(|n| n.is_empty() || n.len() > 255)
            {
                return Err(ConfigError::invalid(
                    &at(&format!("metrics[{i}].name")),
                    "must be 1 to 255 characters",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn retired_keys_are_refused_with_the_name_that_replaces_them() {
        for (old, new) in [
            (
                "endpoint_url: http://127.0.0.1:9",
                "sinks.cloudwatch.endpoint",
            ),
            (
                "retry_initial_backoff_seconds: 1",
                "sinks.cloudwatch.min_backoff_seconds",
            ),
            (
                "retry_max_backoff_seconds: 30",
                "sinks.cloudwatch.max_backoff_seconds",
            ),
        ] {
            let error = Config::from_yaml(&format!("sinks:\n  cloudwatch:\n    {old}\n"))
                .unwrap_err()
                .to_string();
            let key = old.split(':').next().unwrap();
            assert_eq!(
                error,
                format!("sinks.cloudwatch.{key}: is no longer read; use {new}")
            );
        }
    }
}
