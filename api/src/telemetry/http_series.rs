//! The HTTP server's per-request histograms — request duration with an exemplar per bucket,
//! request and response body sizes — and their exposition.
//!
//! Written here rather than with `prometheus-client`'s types because every request
//! observes all three: there, that took four locks and hashed the exemplar's bucket index
//! with SipHash into a map, a tenth of what telemetry adds to the cheapest request. Here a
//! series is the three histograms of one label set under one lock, with a fixed slot per
//! bucket for its exemplar. The crate cannot encode such a histogram with exemplars (its
//! exemplar type has no public constructor), so the text is written here too, in the
//! layout the crate writes; `telemetry::exposition` turns it into the classic format like
//! the rest.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::hash::BuildHasherDefault;
use std::sync::{Mutex, RwLock};

use super::metrics::{
    BODY_SIZE_BUCKETS, HTTP_DURATION_BUCKETS, HttpLabels, SeriesKeyHasher, read_lock, write_lock,
};
use crate::request_id::TraceIds;

/// Counts per bucket (the last is `+Inf`) and the sum of the observed values.
#[derive(Clone, Copy)]
struct Buckets<const N: usize> {
    counts: [u64; N],
    sum: f64,
}

impl<const N: usize> Default for Buckets<N> {
    fn default() -> Self {
        Buckets {
            counts: [0; N],
            sum: 0.0,
        }
    }
}

impl<const N: usize> Buckets<N> {
    /// Counts `value` in the first bucket whose bound (of `bounds`, `N - 1` of them, then
    /// `+Inf`) is at least `value`, and returns that bucket's index.
    fn observe(&mut self, bounds: &[f64], value: f64) -> usize {
        debug_assert_eq!(bounds.len() + 1, N);
        let bucket = bounds
            .iter()
            .position(|&bound| value <= bound)
            .unwrap_or(N - 1);
        self.counts[bucket] += 1;
        self.sum += value;
        bucket
    }
}

const DURATION_BUCKETS: usize = HTTP_DURATION_BUCKETS.len() + 1;
const BODY_BUCKETS: usize = BODY_SIZE_BUCKETS.len() + 1;

/// A duration that went into a bucket, and the trace of the request it measured.
#[derive(Clone, Copy)]
struct Exemplar {
    trace: TraceIds,
    seconds: f64,
}

/// What the requests of one method, route and status measured.
#[derive(Clone, Copy, Default)]
struct Observations {
    duration: Buckets<DURATION_BUCKETS>,
    request_body_size: Buckets<BODY_BUCKETS>,
    response_body_size: Buckets<BODY_BUCKETS>,
    /// The latest sampled request of each duration bucket.
    exemplars: [Option<Exemplar>; DURATION_BUCKETS],
}

impl Observations {
    fn observe(&mut self, measured: &Measurements) {
        let bucket = self
            .duration
            .observe(&HTTP_DURATION_BUCKETS, measured.duration_seconds);
        if let Some(trace) = measured.trace {
            self.exemplars[bucket] = Some(Exemplar {
                trace,
                seconds: measured.duration_seconds,
            });
        }
        self.request_body_size
            .observe(&BODY_SIZE_BUCKETS, measured.request_bytes as f64);
        self.response_body_size
            .observe(&BODY_SIZE_BUCKETS, measured.response_bytes as f64);
    }
}

/// One request's measurements.
pub struct Measurements {
    pub duration_seconds: f64,
    /// The request's trace when it was sampled: the exemplar of its duration bucket.
    pub trace: Option<TraceIds>,
    pub request_bytes: u64,
    pub response_bytes: u64,
}

/// Every HTTP series, by a key the caller derives from its labels (`series_key` in
/// `telemetry::http`): label sets are few and bounded, and a small integer is cheaper to
/// find than the labels' strings.
#[derive(Default)]
pub struct HttpSeriesFamily {
    series: RwLock<HashMap<u32, Series, BuildHasherDefault<SeriesKeyHasher>>>,
}

struct Series {
    labels: HttpLabels,
    observations: Mutex<Observations>,
}

impl Series {
    fn observations(&self) -> std::sync::MutexGuard<'_, Observations> {
        // Poisoned only by a panic between two additions: the counts stay usable.
        self.observations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl HttpSeriesFamily {
    /// Records `measured` in the series of `labels`; `key` must identify them (equal keys
    /// for equal label sets, distinct otherwise).
    pub fn observe(&self, key: u32, labels: &HttpLabels, measured: &Measurements) {
        if let Some(series) = read_lock(&self.series).get(&key) {
            return series.observations().observe(measured);
        }
        self.create(key, labels, measured);
    }

    /// The first request of a label set. Cold and out of line: inlined, it would sit on
    /// the request path.
    #[cold]
    #[inline(never)]
    fn create(&self, key: u32, labels: &HttpLabels, measured: &Measurements) {
        let mut all = write_lock(&self.series);
        let series = all.entry(key).or_insert_with(|| Series {
            labels: labels.clone(),
            observations: Mutex::default(),
        });
        series.observations().observe(measured);
    }

    /// The three families in OpenMetrics text, with the duration exemplars.
    pub fn encode(&self, out: &mut String) -> fmt::Result {
        let mut series: Vec<(HttpLabels, Observations)> = read_lock(&self.series)
            .values()
            .map(|series| (series.labels.clone(), *series.observations()))
            .collect();
        // A stable order, so consecutive scrapes read alike.
        series.sort_by_key(|(labels, _)| {
            let HttpLabels {
                http_request_method,
                http_route,
                http_response_status_code,
            } = *labels;
            (http_route, http_request_method, http_response_status_code)
        });
        let histogram = |out: &mut String,
                         name: &str,
                         help: &str,
                         unit: &str,
                         bounds: &[f64],
                         histogram_of: HistogramOf| {
            write_descriptor(out, name, help, unit)?;
            for (labels, observations) in &series {
                let (counts, sum, exemplars) = histogram_of(observations);
                write_histogram(out, name, labels, bounds, counts, sum, exemplars)?;
            }
            Ok::<(), fmt::Error>(())
        };
        histogram(
            out,
            "http_server_request_duration_seconds",
            "Duration of HTTP server requests",
            "seconds",
            &HTTP_DURATION_BUCKETS,
            |o| {
                (
                    &o.duration.counts[..],
                    o.duration.sum,
                    Some(&o.exemplars[..]),
                )
            },
        )?;
        histogram(
            out,
            "http_server_request_body_size_bytes",
            "Size of HTTP server request bodies",
            "bytes",
            &BODY_SIZE_BUCKETS,
            |o| {
                (
                    &o.request_body_size.counts[..],
                    o.request_body_size.sum,
                    None,
                )
            },
        )?;
        histogram(
            out,
            "http_server_response_body_size_bytes",
            "Size of HTTP server response bodies",
            "bytes",
            &BODY_SIZE_BUCKETS,
            |o| {
                (
                    &o.response_body_size.counts[..],
                    o.response_body_size.sum,
                    None,
                )
            },
        )
    }
}

/// Which histogram of a series to write: its bucket counts, sum and exemplars.
type HistogramOf = fn(&Observations) -> (&[u64], f64, Option<&[Option<Exemplar>]>);

fn write_descriptor(out: &mut String, name: &str, help: &str, unit: &str) -> fmt::Result {
    writeln!(out, "# HELP {name} {help}.")?;
    writeln!(out, "# TYPE {name} histogram")?;
    writeln!(out, "# UNIT {name} {unit}")
}

/// One series' `_sum`, `_count` and cumulative `_bucket` samples, each bucket followed by
/// its exemplar when it has one.
fn write_histogram(
    out: &mut String,
    name: &str,
    labels: &HttpLabels,
    bounds: &[f64],
    counts: &[u64],
    sum: f64,
    exemplars: Option<&[Option<Exemplar>]>,
) -> fmt::Result {
    // The label values are fixed strings (methods, route templates) and numbers: nothing
    // to escape.
    let labels = format!(
        "http_request_method=\"{}\",http_route=\"{}\",http_response_status_code=\"{}\"",
        labels.http_request_method, labels.http_route, labels.http_response_status_code
    );
    let mut float = dtoa::Buffer::new();
    writeln!(out, "{name}_sum{{{labels}}} {}", float.format(sum))?;
    writeln!(
        out,
        "{name}_count{{{labels}}} {}",
        counts.iter().sum::<u64>()
    )?;
    let mut cumulative = 0;
    for (bucket, count) in counts.iter().enumerate() {
        cumulative += count;
        let le = match bounds.get(bucket) {
            Some(&bound) => float.format(bound).to_owned(),
            None => "+Inf".to_owned(),
        };
        write!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}")?;
        if let Some(Some(exemplar)) = exemplars.map(|slots| slots[bucket]) {
            write!(
                out,
                " # {{trace_id=\"{}\",span_id=\"{}\"}} {}",
                exemplar.trace.trace_id(),
                exemplar.trace.span_id(),
                float.format(exemplar.seconds)
            )?;
        }
        out.push('\n');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_buckets_with_the_latest_sampled_exemplar() {
        let family = HttpSeriesFamily::default();
        let labels = HttpLabels {
            http_request_method: "GET",
            http_route: "/api/v1/tasks/{id}",
            http_response_status_code: 200,
        };
        let trace = |n: u8| Some(TraceIds::new([n; 16], [n; 8]));
        for (duration_seconds, trace) in [
            (0.005, trace(1)),
            (0.004, trace(2)),
            (0.003, None),
            (0.2, trace(3)),
            (11.0, None),
        ] {
            let measured = Measurements {
                duration_seconds,
                trace,
                request_bytes: 64,
                response_bytes: 65,
            };
            family.observe(7, &labels, &measured);
        }
        let mut text = String::new();
        family.encode(&mut text).unwrap();
        let series = "{http_request_method=\"GET\",http_route=\"/api/v1/tasks/{id}\",http_response_status_code=\"200\"";
        let expected = [
            "# TYPE http_server_request_duration_seconds histogram".to_owned(),
            "# UNIT http_server_request_duration_seconds seconds".to_owned(),
            format!("http_server_request_duration_seconds_count{series}}} 5"),
            format!("http_server_request_duration_seconds_sum{series}}} 11.212"),
            // The bound is inclusive; the unsampled request leaves the exemplar alone.
            format!(
                "http_server_request_duration_seconds_bucket{series},le=\"0.005\"}} 3 # {{trace_id=\"{}\",span_id=\"{}\"}} 0.004",
                "02".repeat(16),
                "02".repeat(8)
            ),
            format!("http_server_request_duration_seconds_bucket{series},le=\"0.1\"}} 3"),
            format!(
                "http_server_request_duration_seconds_bucket{series},le=\"0.25\"}} 4 # {{trace_id=\"{}\",span_id=\"{}\"}} 0.2",
                "03".repeat(16),
                "03".repeat(8)
            ),
            format!("http_server_request_duration_seconds_bucket{series},le=\"10.0\"}} 4"),
            format!("http_server_request_duration_seconds_bucket{series},le=\"+Inf\"}} 5"),
            format!("http_server_request_body_size_bytes_bucket{series},le=\"64.0\"}} 5"),
            format!("http_server_response_body_size_bytes_bucket{series},le=\"64.0\"}} 0"),
            format!("http_server_response_body_size_bytes_bucket{series},le=\"256.0\"}} 5"),
            format!("http_server_response_body_size_bytes_sum{series}}} 325.0"),
        ];
        for line in expected {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
        assert_eq!(text.matches(" # {").count(), 2, "{text}");
    }
}
