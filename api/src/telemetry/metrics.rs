//! The service's Prometheus metrics: RED metrics of the HTTP server, database client
//! metrics, business counters, process metrics and build info.
//!
//! Names follow the OpenTelemetry semantic conventions in Prometheus form
//! (`http.server.request.duration` → `http_server_request_duration_seconds`). We use the
//! `prometheus-client` crate rather than the OpenTelemetry Prometheus exporter because the
//! latter cannot attach exemplars, and exemplars are how a latency panel links to the trace.

use std::fmt::Write as _;
use std::hash::Hasher;
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram, info::Info},
    registry::{Registry, Unit},
};

use super::{exposition, http_series::HttpSeriesFamily, process};
use crate::domain::TaskStatus;

/// Bucket boundaries the HTTP semantic conventions advise for request duration (seconds).
pub const HTTP_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// Bucket boundaries the database semantic conventions advise for operation duration (seconds).
pub const DB_DURATION_BUCKETS: [f64; 9] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0];
/// Body sizes from 64 B to 64 KiB (the default body limit) and beyond.
pub const BODY_SIZE_BUCKETS: [f64; 8] = [
    64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
];
/// The `http_route` of requests that matched no route: one series however many paths scanners try.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Labels of the HTTP server request metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpLabels {
    pub http_request_method: &'static str,
    pub http_route: &'static str,
    pub http_response_status_code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub http_request_method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DbLabels {
    pub db_system_name: &'static str,
    pub db_operation_name: &'static str,
    pub db_collection_name: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub db_system_name: &'static str,
    pub db_client_connection_pool_name: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolStateLabels {
    pub db_system_name: &'static str,
    pub db_client_connection_pool_name: &'static str,
    pub db_client_connection_state: ConnectionState,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ConnectionState {
    Used,
    Idle,
}

impl EncodeLabelValue for ConnectionState {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            ConnectionState::Used => "used",
            ConnectionState::Idle => "idle",
        })
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    revision: &'static str,
}

/// Metrics stay usable after a panic elsewhere poisoned a lock: the maps are only ever
/// inserted into, so they are consistent.
pub(super) fn read_lock<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(super) fn write_lock<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How many values `http_request_method` can take (known methods and `_OTHER`).
pub const METHOD_LABELS: usize = 10;

/// Per-request handles, resolved once per label set: a `Family` lookup hashes every label
/// string (SipHash) under a lock. The caches hold handles to the same series the families
/// expose; the label sets are bounded, so the caches are too.
#[derive(Default)]
struct SeriesCache {
    /// By method index (see `telemetry::http`), resolved on first use.
    http_active: [OnceLock<Gauge>; METHOD_LABELS],
    /// By operation name; a handful of operations, so a scan beats hashing the name.
    db_duration: KeyedSeries,
    /// By pool name: one or two pools per process.
    pool_wait: KeyedSeries,
}

/// Histograms of one family whose series differ by one short name, scanned rather than
/// hashed: a handful of names, known to the code.
#[derive(Default)]
struct KeyedSeries(RwLock<Vec<(&'static str, Histogram)>>);

impl KeyedSeries {
    /// Observes `seconds` on `key`'s series, resolving it with `resolve` the first time.
    fn observe(&self, key: &'static str, seconds: f64, resolve: impl FnOnce() -> Histogram) {
        if let Some((_, histogram)) = read_lock(&self.0).iter().find(|(name, _)| *name == key) {
            return histogram.observe(seconds);
        }
        self.insert(key, resolve()).observe(seconds);
    }

    /// Caches a series the first time its key is seen (cold: once per key per process).
    #[cold]
    #[inline(never)]
    fn insert(&self, key: &'static str, histogram: Histogram) -> Histogram {
        let mut cache = write_lock(&self.0);
        if !cache.iter().any(|(name, _)| *name == key) {
            cache.push((key, histogram.clone()));
        }
        histogram
    }
}

/// Hashes the small integer keys of the HTTP series with one multiplication (Fibonacci
/// hashing) instead of SipHash: the keys are ours, not an attacker's, and this runs per
/// request.
#[derive(Default)]
pub(super) struct SeriesKeyHasher(u64);

impl Hasher for SeriesKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u32(&mut self, key: u32) {
        self.write_u64(u64::from(key));
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = (self.0.rotate_left(5) ^ key).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Every metric the service exposes, registered once.
pub struct Metrics {
    cache: SeriesCache,
    registry: Registry,
    /// False when TELEMETRY_ENABLED=false: the store then skips its spans and histograms.
    pub recording: bool,
    /// Request duration (with exemplars) and body sizes.
    pub http: HttpSeriesFamily,
    pub http_active: Family<MethodLabels, Gauge>,
    pub db_duration: Family<DbLabels, Histogram>,
    pub pool_connections: Family<PoolStateLabels, Gauge>,
    pub pool_max: Family<PoolLabels, Gauge>,
    pub pool_wait: Family<PoolLabels, Histogram>,
    pub tasks_created: Counter,
    pub tasks_completed: Counter,
    pub tasks_deleted: Counter,
    pub tasks_by_status: Family<StatusLabels, Gauge<i64, std::sync::atomic::AtomicI64>>,
    /// Requests refused by authentication, by bounded reason (`auth::AuthFailure`).
    pub auth_failures: Family<ReasonLabels, Counter>,
    pub jwks_refreshes: Counter,
    pub jwks_refresh_failures: Counter,
    pub jwks_keys: Gauge,
    /// Seconds since the JWKS was last fetched successfully, set at scrape time.
    pub jwks_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    pub process: process::ProcessMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(true)
    }
}

impl Metrics {
    /// The `http.server.active_requests` gauge of `method`, a fixed label value whose
    /// index in its set is `index` (below [`METHOD_LABELS`]).
    pub fn http_active(&self, index: usize, method: &'static str) -> &Gauge {
        self.cache.http_active[index].get_or_init(|| {
            self.http_active
                .get_or_create(&MethodLabels {
                    http_request_method: method,
                })
                .clone()
        })
    }

    /// Records a database operation's duration (`labels.db_system_name` is fixed for the
    /// process, so the operation name identifies the series).
    pub fn observe_db_operation(&self, labels: &DbLabels, seconds: f64) {
        self.cache
            .db_duration
            .observe(labels.db_operation_name, seconds, || {
                self.db_duration.get_or_create(labels).clone()
            });
    }

    /// Records how long an operation waited for a connection of the pool `pool_name`
    /// (`db_system` is fixed for the process, like its pools).
    pub fn observe_pool_wait(
        &self,
        db_system: &'static str,
        pool_name: &'static str,
        seconds: f64,
    ) {
        self.cache.pool_wait.observe(pool_name, seconds, || {
            self.pool_wait
                .get_or_create(&PoolLabels {
                    db_system_name: db_system,
                    db_client_connection_pool_name: pool_name,
                })
                .clone()
        });
    }

    pub fn new(recording: bool) -> Self {
        let mut registry = Registry::default();
        let http_active = Family::<MethodLabels, Gauge>::default();
        registry.register(
            "http_server_active_requests",
            "Number of active HTTP server requests",
            http_active.clone(),
        );
        let db_duration = Family::<DbLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(DB_DURATION_BUCKETS)
        });
        registry.register_with_unit(
            "db_client_operation_duration",
            "Duration of database client operations",
            Unit::Seconds,
            db_duration.clone(),
        );
        let pool_connections = Family::<PoolStateLabels, Gauge>::default();
        registry.register(
            "db_client_connections_usage",
            "Connections in the pool by state (used, idle)",
            pool_connections.clone(),
        );
        let pool_max = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_client_connection_max",
            "Maximum connections the pool allows",
            pool_max.clone(),
        );
        let pool_wait = Family::<PoolLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(DB_DURATION_BUCKETS)
        });
        registry.register_with_unit(
            "db_client_connection_wait_time",
            "Time spent waiting for a pool connection",
            Unit::Seconds,
            pool_wait.clone(),
        );
        let tasks_created = Counter::default();
        registry.register(
            "task_api_tasks_created",
            "Tasks created",
            tasks_created.clone(),
        );
        let tasks_completed = Counter::default();
        registry.register(
            "task_api_tasks_completed",
            "Tasks moved to status done",
            tasks_completed.clone(),
        );
        let tasks_deleted = Counter::default();
        registry.register(
            "task_api_tasks_deleted",
            "Tasks deleted",
            tasks_deleted.clone(),
        );
        let tasks_by_status =
            Family::<StatusLabels, Gauge<i64, std::sync::atomic::AtomicI64>>::default();
        registry.register(
            "task_api_tasks",
            "Stored tasks by status, refreshed on an interval (not per scrape)",
            tasks_by_status.clone(),
        );
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "task_api_auth_failures",
            "Requests refused by authentication, by reason",
            auth_failures.clone(),
        );
        let jwks_refreshes = Counter::default();
        registry.register(
            "task_api_auth_jwks_refreshes",
            "Fetches of the identity provider's JWKS (periodic and on unknown kid)",
            jwks_refreshes.clone(),
        );
        let jwks_refresh_failures = Counter::default();
        registry.register(
            "task_api_auth_jwks_refresh_failures",
            "JWKS fetches that failed; the last good keys stay in use",
            jwks_refresh_failures.clone(),
        );
        let jwks_keys = Gauge::default();
        registry.register(
            "task_api_auth_jwks_keys",
            "Usable keys in the cached JWKS",
            jwks_keys.clone(),
        );
        let jwks_age = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register_with_unit(
            "task_api_auth_jwks_age",
            "Time since the JWKS was last fetched successfully",
            Unit::Seconds,
            jwks_age.clone(),
        );
        registry.register(
            "task_api_build",
            "Version and git revision of the running binary",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                revision: super::GIT_REVISION,
            }),
        );
        let process = process::ProcessMetrics::register(&mut registry);
        Metrics {
            cache: SeriesCache::default(),
            registry,
            recording,
            http: HttpSeriesFamily::default(),
            http_active,
            db_duration,
            pool_connections,
            pool_max,
            pool_wait,
            tasks_created,
            tasks_completed,
            tasks_deleted,
            tasks_by_status,
            auth_failures,
            jwks_refreshes,
            jwks_refresh_failures,
            jwks_keys,
            jwks_age,
            process,
        }
    }

    /// Stores the latest task counts; statuses without tasks read 0.
    pub fn set_tasks_by_status(&self, counts: &[(TaskStatus, i64)]) {
        for status in TaskStatus::ALL {
            let count = counts
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n);
            self.tasks_by_status
                .get_or_create(&StatusLabels {
                    status: status.as_str(),
                })
                .set(count);
        }
    }

    /// The exposition in OpenMetrics text (with exemplars) or the classic text format.
    pub fn encode(&self, openmetrics: bool) -> String {
        self.process.refresh();
        let mut text = String::with_capacity(16 * 1024);
        self.http
            .encode(&mut text)
            .and_then(|()| {
                prometheus_client::encoding::text::encode_registry(&mut text, &self.registry)
            })
            .and_then(|()| prometheus_client::encoding::text::encode_eof(&mut text))
            .expect("writing to a String never fails");
        if openmetrics {
            text
        } else {
            exposition::to_classic_text(&text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request_id::TraceIds;
    use crate::telemetry::http_series::Measurements;

    fn measured(trace: Option<TraceIds>) -> Measurements {
        Measurements {
            duration_seconds: 0.02,
            trace,
            request_bytes: 0,
            response_bytes: 10,
        }
    }

    #[test]
    fn cached_series_stay_apart() {
        let metrics = Metrics::default();
        let db = |operation| DbLabels {
            db_system_name: "sqlite",
            db_operation_name: operation,
            db_collection_name: "tasks",
        };
        for operation in ["INSERT", "SELECT", "INSERT", "INSERT", "SELECT"] {
            metrics.observe_db_operation(&db(operation), 0.002);
        }
        let http = |status| HttpLabels {
            http_request_method: "GET",
            http_route: "/api/v1/tasks",
            http_response_status_code: status,
        };
        for (key, status) in [(1, 200), (2, 404), (1, 200)] {
            metrics.http.observe(key, &http(status), &measured(None));
        }
        let text = metrics.encode(false);
        let count = |series: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(series))
                .map(str::trim)
                .unwrap_or_else(|| panic!("no {series} in {text}"))
                .to_string()
        };
        let db_count = |operation: &str| {
            count(&format!(
                "db_client_operation_duration_seconds_count{{db_system_name=\"sqlite\",db_operation_name=\"{operation}\",db_collection_name=\"tasks\"}}"
            ))
        };
        assert_eq!(db_count("INSERT"), "3");
        assert_eq!(db_count("SELECT"), "2");
        let http_count = |status: u16| {
            count(&format!(
                "http_server_response_body_size_bytes_count{{http_request_method=\"GET\",http_route=\"/api/v1/tasks\",http_response_status_code=\"{status}\"}}"
            ))
        };
        assert_eq!(http_count(200), "2");
        assert_eq!(http_count(404), "1");
    }

    #[test]
    fn every_family_is_exposed_under_its_semantic_convention_name() {
        let metrics = Metrics::default();
        let labels = HttpLabels {
            http_request_method: "GET",
            http_route: "/api/v1/tasks",
            http_response_status_code: 200,
        };
        let trace = TraceIds::new(
            0x0af7651916cd43dd8448eb211c80319c_u128.to_be_bytes(),
            0xb7ad6b7169203331_u64.to_be_bytes(),
        );
        metrics.http.observe(1, &labels, &measured(Some(trace)));
        metrics.set_tasks_by_status(&[(TaskStatus::Done, 3)]);
        let openmetrics = metrics.encode(true);
        assert!(
            openmetrics.contains("# TYPE http_server_request_duration_seconds histogram"),
            "{openmetrics}"
        );
        assert!(
            openmetrics.contains("trace_id=\"0af7651916cd43dd8448eb211c80319c\""),
            "{openmetrics}"
        );
        assert!(openmetrics.ends_with("# EOF\n"));
        let classic = metrics.encode(false);
        assert!(
            !classic.contains("trace_id"),
            "no exemplars in the classic format"
        );
        assert!(
            classic.contains("task_api_tasks{status=\"todo\"} 0"),
            "{classic}"
        );
        assert!(
            classic.contains("task_api_tasks{status=\"done\"} 3"),
            "{classic}"
        );
        assert!(
            classic.contains("# TYPE task_api_tasks_created_total counter"),
            "{classic}"
        );
        assert!(
            classic.contains("task_api_build_info{version="),
            "{classic}"
        );
    }
}
