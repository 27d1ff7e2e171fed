//! Turns pipeline batches into CloudWatch statistic sets over one push interval.
//!
//! Per collection, the series a rule selects are reduced to one value per dimension set:
//! gauges by their value, counters by their increase since the previous collection (a
//! cumulative total is meaningless to a CloudWatch alarm; a reset counts from zero, as
//! PromQL's `increase` does). Series differing only in labels not kept as dimensions are
//! summed, like `sum by (dims)`. Across the push interval each reduced value is one
//! sample of a StatisticValues set (count, sum, min, max), so one datum per metric and
//! dimension set is sent however often the node is collected.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::types::IdentityConfig;
use crate::metric::{Labels, MetricKind};
use crate::pipeline::metrics::MetricBatch;
use crate::sinks::cloudwatch::config::{IdentityDimension, MetricRule};

/// CloudWatch units the agent infers from Prometheus naming conventions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Seconds,
    Bytes,
    Count,
    None,
}

impl Unit {
    /// `_seconds`/`_bytes` suffixes (before `_total`) name the unit; other counters count.
    pub fn infer(name: &str, kind: MetricKind) -> Unit {
        let base = name.strip_suffix("_total").unwrap_or(name);
        if base.ends_with("_seconds") {
            Unit::Seconds
        } else if base.ends_with("_bytes") {
            Unit::Bytes
        } else if kind == MetricKind::Counter {
            Unit::Count
        } else {
            Unit::None
        }
    }
}

/// One CloudWatch datum: a statistic set for a metric and dimension set.
#[derive(Clone, Debug, PartialEq)]
pub struct Datum {
    pub name: String,
    pub dimensions: Vec<(String, String)>,
    pub unit: Unit,
    pub sample_count: f64,
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
    pub timestamp: SystemTime,
}

#[derive(Debug)]
struct Stats {
    unit: Unit,
    count: f64,
    sum: f64,
    min: f64,
    max: f64,
}

/// Accumulates statistics between pushes.
#[derive(Debug)]
pub struct Aggregator {
    rules: Vec<MetricRule>,
    identity: Vec<(String, String)>,
    previous: HashMap<(Arc<str>, usize), HashMap<Labels, f64>>,
    stats: BTreeMap<(String, Vec<(String, String)>), Stats>,
}

impl Aggregator {
    /// An aggregator for `rules`, tagging every datum with the chosen identity dimensions
    /// (those with an empty value are left out: CloudWatch rejects empty dimension values).
    pub fn new(
        rules: Vec<MetricRule>,
        dimensions: &[IdentityDimension],
        identity: &IdentityConfig,
    ) -> Self {
        let identity = dimensions
            .iter()
            .map(|d| {
                let value = match d {
                    IdentityDimension::Cluster => &identity.cluster,
                    IdentityDimension::Node => &identity.node,
                    IdentityDimension::Instance => &identity.instance,
                };
                (d.dimension_name().to_string(), value.clone())
            })
            .filter(|(_, v)| !v.is_empty())
            .collect();
        Aggregator {
            rules,
            identity,
            previous: HashMap::new(),
            stats: BTreeMap::new(),
        }
    }

    /// Adds one collection.
    pub fn ingest(&mut self, batch: &MetricBatch) {
        for (index, rule) in self.rules.iter().enumerate() {
            let Some(family) = batch
                .families
                .iter()
                .find(|f| f.name == rule.selector.name())
            else {
                continue;
            };
            // Only series seen in this collection are remembered, so vanished series
            // (a pod's network device, an unmounted disk) do not accumulate.
            let previous = self
                .previous
                .remove(&(batch.source.clone(), index))
                .unwrap_or_default();
            let mut seen = HashMap::new();
            let mut groups: BTreeMap<Vec<(String, String)>, f64> = BTreeMap::new();
            for sample in family
                .samples
                .iter()
                .filter(|s| s.value.is_finite() && rule.selector.matches(&s.labels))
            {
                let contribution = match family.kind {
                    MetricKind::Gauge => Some(sample.value),
                    MetricKind::Counter => {
                        seen.insert(sample.labels.clone(), sample.value);
                        previous.get(&sample.labels).map(|p| {
                            if sample.value >= *p {
                                sample.value - p
                            } else {
                                sample.value
                            }
                        })
                    }
                };
                if let Some(value) = contribution {
                    let dimensions = rule
                        .dimensions
                        .iter()
                        .filter_map(|d| {
                            let value = sample
                                .labels
                                .iter()
                                .find(|(k, _)| k == d)
                                .map(|(_, v)| v.clone())?;
                            (!value.is_empty()).then(|| (d.clone(), value))
                        })
                        .collect();
                    *groups.entry(dimensions).or_insert(0.0) += value;
                }
            }
            if family.kind == MetricKind::Counter {
                self.previous.insert((batch.source.clone(), index), seen);
            }
            let unit = Unit::infer(&family.name, family.kind);
            for (dimensions, value) in groups {
                let mut all = self.identity.clone();
                all.extend(dimensions);
                let stats = self
                    .stats
                    .entry((rule.cloudwatch_name().to_string(), all))
                    .or_insert(Stats {
                        unit,
                        count: 0.0,
                        sum: 0.0,
                        min: f64::INFINITY,
                        max: f64::NEG_INFINITY,
                    });
                stats.count += 1.0;
                stats.sum += value;
                stats.min = stats.min.min(value);
                stats.max = stats.max.max(value);
            }
        }
    }

    /// Datums accumulated since the last drain, stamped `timestamp`; starts a new interval.
    pub fn drain(&mut self, timestamp: SystemTime) -> Vec<Datum> {
        std::mem::take(&mut self.stats)
            .into_iter()
            .map(|((name, dimensions), s)| Datum {
                name,
                dimensions,
                unit: s.unit,
                sample_count: s.count,
                sum: s.sum,
                minimum: s.min,
                maximum: s.max,
                timestamp,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::{MetricFamily, labels};
    use crate::sinks::cloudwatch::selector::Selector;

    fn rule(selector: &str, dimensions: &[&str]) -> MetricRule {
        MetricRule {
            selector: Selector::parse(selector).unwrap(),
            dimensions: dimensions.iter().map(|d| d.to_string()).collect(),
            name: None,
        }
    }

    fn identity() -> IdentityConfig {
        IdentityConfig {
            cluster: "prod".into(),
            node: "n1".into(),
            instance: String::new(),
            ..IdentityConfig::default()
        }
    }

    fn batch(families: Vec<MetricFamily>) -> MetricBatch {
        MetricBatch {
            source: "node".into(),
            collected_at: SystemTime::UNIX_EPOCH,
            families,
        }
    }

    fn gauge(name: &str, series: &[(&str, f64)]) -> MetricFamily {
        let mut f = MetricFamily::new(name, "", MetricKind::Gauge);
        for (mountpoint, value) in series {
            f.push(labels([("mountpoint", mountpoint)]), *value);
        }
        f
    }

    #[test]
    fn gauges_become_statistic_sets_over_the_interval_with_identity_dimensions() {
        let dims = [
            IdentityDimension::Cluster,
            IdentityDimension::Node,
            IdentityDimension::Instance,
        ];
        let mut agg = Aggregator::new(
            vec![rule(
                r#"node_filesystem_avail_bytes{mountpoint="/"}"#,
                &["mountpoint"],
            )],
            &dims,
            &identity(),
        );
        for v in [10.0, 30.0, 20.0] {
            agg.ingest(&batch(vec![gauge(
                "node_filesystem_avail_bytes",
                &[("/", v), ("/boot", 1.0)],
            )]));
        }
        let datums = agg.drain(SystemTime::UNIX_EPOCH);
        assert_eq!(
            datums,
            [Datum {
                name: "node_filesystem_avail_bytes".into(),
                dimensions: vec![
                    ("ClusterName".into(), "prod".into()),
                    ("NodeName".into(), "n1".into()),
                    ("mountpoint".into(), "/".into())
                ],
                unit: Unit::Bytes,
                sample_count: 3.0,
                sum: 60.0,
                minimum: 10.0,
                maximum: 30.0,
                timestamp: SystemTime::UNIX_EPOCH,
            }],
            "empty instance id is left out; /boot is not selected"
        );
        assert!(
            agg.drain(SystemTime::UNIX_EPOCH).is_empty(),
            "drain starts a new interval"
        );
    }

    #[test]
    fn counters_send_increases_summed_over_dropped_labels_and_survive_resets() {
        let mut agg = Aggregator::new(
            vec![rule("node_network_receive_bytes_total", &[])],
            &[],
            &identity(),
        );
        let counter = |eth0: f64, eth1: f64| {
            let mut f =
                MetricFamily::new("node_network_receive_bytes_total", "", MetricKind::Counter);
            f.push(labels([("device", "eth0")]), eth0);
            f.push(labels([("device", "eth1")]), eth1);
            batch(vec![f])
        };
        agg.ingest(&counter(100.0, 1000.0));
        assert!(
            agg.drain(SystemTime::UNIX_EPOCH).is_empty(),
            "first sight has no increase yet"
        );
        agg.ingest(&counter(150.0, 1010.0));
        agg.ingest(&counter(20.0, 1030.0));
        let datum = agg.drain(SystemTime::UNIX_EPOCH).remove(0);
        assert_eq!(datum.unit, Unit::Bytes);
        assert_eq!(datum.dimensions, []);
        assert_eq!(
            (datum.sample_count, datum.sum, datum.minimum, datum.maximum),
            (2.0, 100.0, 40.0, 60.0)
        );
    }

    #[test]
    fn units_follow_prometheus_suffixes() {
        assert_eq!(
            Unit::infer("node_cpu_seconds_total", MetricKind::Counter),
            Unit::Seconds
        );
        assert_eq!(
            Unit::infer("node_memory_MemAvailable_bytes", MetricKind::Gauge),
            Unit::Bytes
        );
        assert_eq!(
            Unit::infer("http_requests_total", MetricKind::Counter),
            Unit::Count
        );
        assert_eq!(Unit::infer("node_load1", MetricKind::Gauge), Unit::None);
    }

    #[test]
    fn renamed_rule_uses_its_cloudwatch_name() {
        let mut r = rule("node_load1", &[]);
        r.name = Some("Load1".into());
        let mut agg = Aggregator::new(vec![r], &[], &identity());
        agg.ingest(&batch(vec![MetricFamily::single(
            "node_load1",
            "",
            MetricKind::Gauge,
            0.5,
        )]));
        assert_eq!(agg.drain(SystemTime::UNIX_EPOCH)[0].name, "Load1");
    }
}
