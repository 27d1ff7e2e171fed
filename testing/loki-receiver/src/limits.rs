//! Loki's per-tenant ingestion limits, with their default values, and the checks the
//! distributor applies to each stream and entry. Sizes use Loki's units: its flags parse
//! `256KB` as 256,000 bytes (decimal), and `ingestion_rate_mb` as MiB.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::logproto::EntryAdapter;

/// The limits the receiver enforces; [`Limits::default`] is Loki's default configuration.
#[derive(Clone, Debug)]
pub struct Limits {
    /// `max_line_size`: longest accepted line, bytes (0 = unlimited).
    pub max_line_size: usize,
    /// `max_label_names_per_series`.
    pub max_label_names_per_series: usize,
    /// `max_label_name_length`.
    pub max_label_name_length: usize,
    /// `max_label_value_length`.
    pub max_label_value_length: usize,
    /// `reject_old_samples_max_age` (`reject_old_samples` is on by default).
    pub reject_old_samples_max_age: Option<Duration>,
    /// `creation_grace_period`: how far in the future an entry may be.
    pub creation_grace_period: Duration,
    /// `ingestion_rate_mb`, in bytes per second.
    pub ingestion_rate_bytes: f64,
    /// `ingestion_burst_size_mb`, in bytes.
    pub ingestion_burst_bytes: f64,
    /// `per_stream_rate_limit`, bytes per second of one stream.
    pub per_stream_rate_bytes: f64,
    /// `per_stream_rate_limit_burst`, bytes.
    pub per_stream_burst_bytes: f64,
    /// `max_global_streams_per_user`: distinct streams a tenant may have.
    pub max_streams_per_user: usize,
    /// `max_structured_metadata_size`, bytes per entry.
    pub max_structured_metadata_size: usize,
    /// `max_structured_metadata_entries_count`.
    pub max_structured_metadata_entries: usize,
}

const MIB: f64 = 1024.0 * 1024.0;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_size: 256_000,
            max_label_names_per_series: 15,
            max_label_name_length: 1024,
            max_label_value_length: 2048,
            reject_old_samples_max_age: Some(Duration::from_secs(7 * 24 * 3600)),
            creation_grace_period: Duration::from_secs(600),
            ingestion_rate_bytes: 4.0 * MIB,
            ingestion_burst_bytes: 6.0 * MIB,
            per_stream_rate_bytes: 3_000_000.0,
            per_stream_burst_bytes: 15_000_000.0,
            max_streams_per_user: 5000,
            max_structured_metadata_size: 64_000,
            max_structured_metadata_entries: 128,
        }
    }
}

impl Limits {
    /// Limits with the ingestion rates (tenant and per stream) raised to `mib_per_second` (burst twice that), for
    /// tests and benchmarks that push faster than a stock Loki tenant may.
    pub fn with_rate_mib(mut self, mib_per_second: f64) -> Self {
        self.ingestion_rate_bytes = mib_per_second * MIB;
        self.ingestion_burst_bytes = 2.0 * mib_per_second * MIB;
        self.per_stream_rate_bytes = self.per_stream_rate_bytes.max(mib_per_second * MIB);
        self.per_stream_burst_bytes = self.per_stream_burst_bytes.max(2.0 * mib_per_second * MIB);
        self
    }

    /// Checks a stream's label set.
    pub fn validate_labels(
        &self,
        stream: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        if set.len() > self.max_label_names_per_series {
            return Err(format!(
                "entry for stream '{stream}' has {} label names; limit {}",
                set.len(),
                self.max_label_names_per_series
            ));
        }
        for (name, value) in set {
            if name.len() > self.max_label_name_length {
                return Err(format!(
                    "entry for stream '{stream}' has label name too long: '{name}'"
                ));
            }
            if value.len() > self.max_label_value_length {
                return Err(format!(
                    "entry for stream '{stream}' has label value too long: '{value}'"
                ));
            }
        }
        Ok(())
    }

    /// Checks one entry against the time, size and metadata limits.
    pub fn validate_entry(
        &self,
        stream: &str,
        entry: &EntryAdapter,
        now: SystemTime,
    ) -> Result<(), String> {
        let now_ns = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as i128;
        let ts = entry.timestamp.map(|t| t.unix_nanos()).unwrap_or(0);
        if let Some(age) = self.reject_old_samples_max_age
            && ts < now_ns - age.as_nanos() as i128
        {
            return Err(format!(
                "entry for stream '{stream}' has timestamp too old: {ts}, oldest acceptable timestamp is: {}",
                now_ns - age.as_nanos() as i128
            ));
        }
        if ts > now_ns + self.creation_grace_period.as_nanos() as i128 {
            return Err(format!(
                "entry for stream '{stream}' has timestamp too new: {ts}"
            ));
        }
        if self.max_line_size > 0 && entry.line.len() > self.max_line_size {
            return Err(format!(
                "Max entry size '{}' bytes exceeded for stream '{stream}' while adding an entry with length '{}' bytes",
                self.max_line_size,
                entry.line.len()
            ));
        }
        if entry.structured_metadata.len() > self.max_structured_metadata_entries {
            return Err(format!(
                "structured metadata entries count for stream '{stream}' exceeds limit {}",
                self.max_structured_metadata_entries
            ));
        }
        let metadata_size = structured_metadata_size(entry);
        if metadata_size > self.max_structured_metadata_size {
            return Err(format!(
                "structured metadata size for stream '{stream}' is {metadata_size} bytes, limit {}",
                self.max_structured_metadata_size
            ));
        }
        Ok(())
    }
}

/// Bytes an entry's structured metadata counts for (names plus values).
pub fn structured_metadata_size(entry: &EntryAdapter) -> usize {
    entry
        .structured_metadata
        .iter()
        .map(|pair| pair.name.len() + pair.value.len())
        .sum()
}

/// A token bucket over bytes, as Loki's local rate-limit strategy uses: a request whose
/// size exceeds the tokens available is refused whole, so one larger than the burst can
/// never pass.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64) -> Self {
        RateLimiter {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes `bytes` tokens if they are all available.
    pub fn allow(&mut self, bytes: usize) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if bytes as f64 <= self.tokens {
            self.tokens -= bytes as f64;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logproto::{LabelPairAdapter, Timestamp};

    fn entry(age: Duration, line: &str) -> EntryAdapter {
        let ts = SystemTime::now() - age;
        let d = ts.duration_since(UNIX_EPOCH).unwrap();
        EntryAdapter {
            timestamp: Some(Timestamp {
                seconds: d.as_secs() as i64,
                nanos: d.subsec_nanos() as i32,
            }),
            line: line.to_string(),
            structured_metadata: vec![],
        }
    }

    #[test]
    fn default_limits_reject_old_long_and_future_entries() {
        let limits = Limits::default();
        let now = SystemTime::now();
        assert!(
            limits
                .validate_entry("s", &entry(Duration::ZERO, "ok"), now)
                .is_ok()
        );
        let old = entry(Duration::from_secs(8 * 24 * 3600), "x");
        assert!(
            limits
                .validate_entry("s", &old, now)
                .unwrap_err()
                .contains("too old")
        );
        let long = entry(Duration::ZERO, &"x".repeat(256_001));
        assert!(
            limits
                .validate_entry("s", &long, now)
                .unwrap_err()
                .contains("Max entry size")
        );
        let exact = entry(Duration::ZERO, &"x".repeat(256_000));
        assert!(limits.validate_entry("s", &exact, now).is_ok());
        let future = entry(Duration::ZERO, "x");
        let earlier = now - Duration::from_secs(601);
        assert!(
            limits
                .validate_entry("s", &future, earlier)
                .unwrap_err()
                .contains("too new")
        );
    }

    #[test]
    fn metadata_and_label_limits_apply() {
        let limits = Limits::default();
        let mut e = entry(Duration::ZERO, "x");
        e.structured_metadata = vec![LabelPairAdapter {
            name: "k".into(),
            value: "v".repeat(64_000),
        }];
        assert!(limits.validate_entry("s", &e, SystemTime::now()).is_err());
        let many: BTreeMap<String, String> = (0..16)
            .map(|i| (format!("l{i}"), "v".to_string()))
            .collect();
        assert!(
            limits
                .validate_labels("s", &many)
                .unwrap_err()
                .contains("16 label names")
        );
    }

    #[test]
    fn rate_limiter_refuses_requests_over_the_available_tokens() {
        let mut limiter = RateLimiter::new(1000.0, 2000.0);
        assert!(limiter.allow(1500));
        assert!(!limiter.allow(1000));
        assert!(!RateLimiter::new(1000.0, 2000.0).allow(2001));
    }
}
