//! The agent's own telemetry: a registry of `node_agent_*` metrics that every component
//! registers into, served on `/metrics` beside the node stats, and the log subscriber.
//!
//! Series are registered once, at component start, with a fixed label set, so label
//! cardinality is bounded by the configuration, never by the data.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::metric::{Labels, write_header, write_sample};

/// A monotonically increasing value.
#[derive(Clone, Debug, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.inc_by(1.0);
    }

    /// Adds `delta`, which must not be negative.
    pub fn inc_by(&self, delta: f64) {
        debug_assert!(delta >= 0.0, "counters only go up");
        add_f64(&self.0, delta);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// A value that goes up and down.
#[derive(Clone, Debug, Default)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    /// Replaces the value.
    pub fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// Observations counted into fixed buckets; its `_count` doubles as the event counter.
#[derive(Clone, Debug)]
pub struct Histogram(Arc<HistogramState>);

#[derive(Debug)]
struct HistogramState {
    bounds: Vec<f64>,
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum: AtomicU64,
}

impl Histogram {
    fn new(bounds: &[f64]) -> Self {
        Histogram(Arc::new(HistogramState {
            bounds: bounds.to_vec(),
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }))
    }

    /// Records one observation.
    pub fn observe(&self, value: f64) {
        let state = &self.0;
        if let Some(i) = state.bounds.iter().position(|bound| value <= *bound) {
            state.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        state.count.fetch_add(1, Ordering::Relaxed);
        add_f64(&state.sum, value);
    }

    /// How many observations were recorded.
    pub fn count(&self) -> u64 {
        self.0.count.load(Ordering::Relaxed)
    }
}

fn add_f64(cell: &AtomicU64, delta: f64) {
    let _ = cell.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
        Some((f64::from_bits(bits) + delta).to_bits())
    });
}

/// Bucket bounds for durations of local work (collections, scrapes): 1 ms to 10 s.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug)]
enum Handle {
    Counter(Counter),
    Gauge(Gauge),
    Histogram(Histogram),
}

impl Handle {
    fn kind(&self) -> &'static str {
        match self {
            Handle::Counter(_) => "counter",
            Handle::Gauge(_) => "gauge",
            Handle::Histogram(_) => "histogram",
        }
    }
}

#[derive(Debug)]
struct Family {
    help: String,
    series: Vec<(Labels, Handle)>,
}

/// The shared registry; cheap to clone, one per process.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    families: Arc<Mutex<BTreeMap<String, Family>>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or returns the already registered) counter `name{labels}`.
    pub fn counter(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Counter {
        match self.register(name, help, labels, || Handle::Counter(Counter::default())) {
            Handle::Counter(c) => c,
            other => panic!("{name} is already registered as a {}", other.kind()),
        }
    }

    /// Registers (or returns the already registered) gauge `name{labels}`.
    pub fn gauge(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Gauge {
        match self.register(name, help, labels, || Handle::Gauge(Gauge::default())) {
            Handle::Gauge(g) => g,
            other => panic!("{name} is already registered as a {}", other.kind()),
        }
    }

    /// Registers (or returns the already registered) histogram `name{labels}` with `buckets`.
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        buckets: &[f64],
    ) -> Histogram {
        match self.register(name, help, labels, || {
            Handle::Histogram(Histogram::new(buckets))
        }) {
            Handle::Histogram(h) => h,
            other => panic!("{name} is already registered as a {}", other.kind()),
        }
    }

    fn register(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        make: impl FnOnce() -> Handle,
    ) -> Handle {
        let labels: Labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut families = self.families.lock().expect("telemetry registry poisoned");
        let family = families.entry(name.to_string()).or_insert_with(|| Family {
            help: help.to_string(),
            series: Vec::new(),
        });
        if let Some((_, handle)) = family.series.iter().find(|(l, _)| *l == labels) {
            return handle.clone();
        }
        let handle = make();
        if let Some((_, first)) = family.series.first() {
            assert_eq!(
                first.kind(),
                handle.kind(),
                "{name} registered with two kinds"
            );
        }
        family.series.push((labels, handle.clone()));
        handle
    }

    /// Appends every registered family in text format.
    pub fn encode(&self, out: &mut String) {
        let families = self.families.lock().expect("telemetry registry poisoned");
        for (name, family) in families.iter() {
            let Some((_, first)) = family.series.first() else {
                continue;
            };
            write_header(out, name, &family.help, first.kind());
            for (labels, handle) in &family.series {
                match handle {
                    Handle::Counter(c) => write_sample(out, name, labels, None, c.get()),
                    Handle::Gauge(g) => write_sample(out, name, labels, None, g.get()),
                    Handle::Histogram(h) => encode_histogram(out, name, labels, h),
                }
            }
        }
    }
}

fn encode_histogram(out: &mut String, name: &str, labels: &Labels, histogram: &Histogram) {
    let state = &histogram.0;
    let bucket_name = format!("{name}_bucket");
    let mut cumulative = 0;
    for (bound, bucket) in state.bounds.iter().zip(&state.buckets) {
        cumulative += bucket.load(Ordering::Relaxed);
        write_sample(
            out,
            &bucket_name,
            labels,
            Some(("le", &bound.to_string())),
            cumulative as f64,
        );
    }
    let count = state.count.load(Ordering::Relaxed) as f64;
    write_sample(out, &bucket_name, labels, Some(("le", "+Inf")), count);
    write_sample(
        out,
        &format!("{name}_sum"),
        labels,
        None,
        f64::from_bits(state.sum.load(Ordering::Relaxed)),
    );
    write_sample(out, &format!("{name}_count"), labels, None, count);
}

/// Registers `node_agent_build_info`, the constant series dashboards join on for the version.
pub fn register_build_info(registry: &Registry) {
    registry
        .gauge(
            "node_agent_build_info",
            "Build of the running node agent; the value is always 1.",
            &[("version", env!("CARGO_PKG_VERSION"))],
        )
        .set(1.0);
}

/// Installs the log subscriber: human-readable lines on stderr, filtered by `level`
/// (an `EnvFilter` directive; `RUST_LOG` wins when set, for ad-hoc debugging).
pub fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Colour codes only on a terminal: in a pod they would litter the collected log lines.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registering_twice_returns_the_same_series() {
        let registry = Registry::new();
        registry
            .counter("node_agent_x_total", "x", &[("sink", "a")])
            .inc();
        registry
            .counter("node_agent_x_total", "x", &[("sink", "a")])
            .inc_by(2.0);
        assert_eq!(
            registry
                .counter("node_agent_x_total", "x", &[("sink", "a")])
                .get(),
            3.0
        );
    }

    #[test]
    fn histogram_is_written_with_cumulative_buckets_sum_and_count() {
        let registry = Registry::new();
        let h = registry.histogram("node_agent_d_seconds", "d", &[("c", "cpu")], &[0.1, 1.0]);
        h.observe(0.05);
        h.observe(0.5);
        h.observe(5.0);
        let mut out = String::new();
        registry.encode(&mut out);
        assert_eq!(
            out,
            "# HELP node_agent_d_seconds d\n# TYPE node_agent_d_seconds histogram\n\
             node_agent_d_seconds_bucket{c=\"cpu\",le=\"0.1\"} 1\n\
             node_agent_d_seconds_bucket{c=\"cpu\",le=\"1\"} 2\n\
             node_agent_d_seconds_bucket{c=\"cpu\",le=\"+Inf\"} 3\n\
             node_agent_d_seconds_sum{c=\"cpu\"} 5.55\n\
             node_agent_d_seconds_count{c=\"cpu\"} 3\n"
        );
    }

    #[test]
    #[should_panic(expected = "already registered")]
    fn one_name_cannot_have_two_kinds() {
        let registry = Registry::new();
        registry.counter("node_agent_y", "y", &[]);
        registry.gauge("node_agent_y", "y", &[]);
    }
}
