//! Fault injection for tests: makes `/api/v1/*` fail (500) or slow on purpose, so alerts,
//! load-test gates and dashboards can be tried against the real service.
//!
//! This module is the fault and its shared state, and depends on nothing above it (the
//! configuration builds a [`Fault`]). Off unless `FAULT_INJECTION_ENABLED=true`; then
//! `routes::fault_layer` sits just inside the telemetry layer, so injected errors and
//! latency are measured and logged exactly like real ones, and the admin listener's
//! `/fault` (`routes::fault`) changes the fault while the service runs. When off, the
//! layer is not in the stack at all: the request path is unchanged.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// The longest latency that can be injected: beyond it a test is waiting for nothing.
pub const MAX_LATENCY_SECONDS: f64 = 60.0;

/// The fault applied to each API request.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Fault {
    /// Share of requests answered with an injected 500, 0 to 1.
    pub error_ratio: f64,
    /// Seconds added before each request is handled, 0 to [`MAX_LATENCY_SECONDS`].
    pub latency_seconds: f64,
}

/// Which value of a fault is out of range, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultError {
    pub field: FaultField,
    pub reason: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultField {
    ErrorRatio,
    LatencySeconds,
}

impl Fault {
    /// A fault with both values checked.
    pub fn new(error_ratio: f64, latency_seconds: f64) -> Result<Fault, FaultError> {
        if !(0.0..=1.0).contains(&error_ratio) {
            return Err(FaultError {
                field: FaultField::ErrorRatio,
                reason: "expected a number from 0 to 1",
            });
        }
        if !(0.0..=MAX_LATENCY_SECONDS).contains(&latency_seconds) {
            return Err(FaultError {
                field: FaultField::LatencySeconds,
                reason: "expected a number of seconds from 0 to 60",
            });
        }
        Ok(Fault {
            error_ratio,
            latency_seconds,
        })
    }
}

/// The current fault, read by every API request and changed through `/fault`. Two atomics
/// rather than a lock: requests only read, and a reader seeing one value of an update
/// before the other is harmless.
#[derive(Debug, Default)]
pub struct FaultInjector {
    error_ratio_bits: AtomicU64,
    latency_seconds_bits: AtomicU64,
}

impl FaultInjector {
    pub fn new(fault: Fault) -> FaultInjector {
        let injector = FaultInjector::default();
        injector.set(fault);
        injector
    }

    pub fn current(&self) -> Fault {
        Fault {
            error_ratio: f64::from_bits(self.error_ratio_bits.load(Ordering::Relaxed)),
            latency_seconds: f64::from_bits(self.latency_seconds_bits.load(Ordering::Relaxed)),
        }
    }

    pub fn set(&self, fault: Fault) {
        self.error_ratio_bits
            .store(fault.error_ratio.to_bits(), Ordering::Relaxed);
        self.latency_seconds_bits
            .store(fault.latency_seconds.to_bits(), Ordering::Relaxed);
    }

    /// The latency to add to this request.
    pub fn latency(&self) -> Duration {
        Duration::from_secs_f64(self.current().latency_seconds)
    }

    /// Whether this request is one of the `error_ratio` that fail.
    pub fn selects_error(&self) -> bool {
        let ratio = f64::from_bits(self.error_ratio_bits.load(Ordering::Relaxed));
        // f64() is in [0, 1): a ratio of 0 never fails, a ratio of 1 always does.
        ratio > 0.0 && fastrand::f64() < ratio
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_out_of_range_name_their_field() {
        assert_eq!(
            Fault::new(1.5, 0.0).unwrap_err().field,
            FaultField::ErrorRatio
        );
        assert_eq!(
            Fault::new(-0.1, 0.0).unwrap_err().field,
            FaultField::ErrorRatio
        );
        assert_eq!(
            Fault::new(f64::NAN, 0.0).unwrap_err().field,
            FaultField::ErrorRatio
        );
        assert_eq!(
            Fault::new(0.0, 61.0).unwrap_err().field,
            FaultField::LatencySeconds
        );
        assert_eq!(
            Fault::new(0.5, 0.25),
            Ok(Fault {
                error_ratio: 0.5,
                latency_seconds: 0.25
            })
        );
    }

    #[test]
    fn the_injector_reads_back_what_was_set() {
        let injector = FaultInjector::new(Fault::new(0.1, 0.3).unwrap());
        assert_eq!(injector.current(), Fault::new(0.1, 0.3).unwrap());
        assert_eq!(injector.latency(), Duration::from_secs_f64(0.3));
        injector.set(Fault::default());
        assert_eq!(injector.current(), Fault::default());
        assert!(!injector.selects_error());
        injector.set(Fault::new(1.0, 0.0).unwrap());
        assert!((0..1000).all(|_| injector.selects_error()));
    }
}
