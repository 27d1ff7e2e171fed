//! Retries shared by every sink: exponential backoff from `min_backoff_seconds`, doubling
//! per attempt up to `max_backoff_seconds`, with equal jitter (half the step fixed, half
//! random), so agents on many nodes spread out without ever retrying at once.

use std::time::Duration;

use crate::config::types::{ConfigError, Seconds};

/// The delays between attempts of one request.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
}

impl Backoff {
    /// From a sink's `min_backoff_seconds` and `max_backoff_seconds`.
    pub fn new(min: Seconds, max: Seconds) -> Self {
        Backoff {
            min: min.duration(),
            max: max.duration(),
        }
    }

    /// The delay before retry number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30) as i32;
        let step = self.min.mul_f64(2f64.powi(doublings)).min(self.max);
        step / 2 + step.mul_f64(fastrand::f64() / 2.0)
    }
}

/// Checks a sink's two backoff keys under `key`: `min_backoff_seconds` within 1 ms to
/// 60 s, `max_backoff_seconds` from the minimum up to `longest` seconds.
pub fn validate(key: &str, min: Seconds, max: Seconds, longest: f64) -> Result<(), ConfigError> {
    min.check_range(&format!("{key}.min_backoff_seconds"), 0.001, 60.0)?;
    max.check_range(&format!("{key}.max_backoff_seconds"), min.0, longest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_stops_at_the_maximum() {
        let backoff = Backoff::new(Seconds(0.1), Seconds(1.0));
        for _ in 0..100 {
            let first = backoff.delay(1);
            assert!(
                first >= Duration::from_millis(50) && first <= Duration::from_millis(100),
                "{first:?}"
            );
            let third = backoff.delay(3);
            assert!(
                third >= Duration::from_millis(200) && third <= Duration::from_millis(400),
                "{third:?}"
            );
            let late = backoff.delay(40);
            assert!(
                late >= Duration::from_millis(500) && late <= Duration::from_secs(1),
                "{late:?}"
            );
        }
    }

    #[test]
    fn a_maximum_below_the_minimum_names_its_key() {
        let error = validate("sinks.loki", Seconds(2.0), Seconds(1.0), 3600.0)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("sinks.loki.max_backoff_seconds:"),
            "{error}"
        );
    }
}
