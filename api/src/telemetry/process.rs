//! Process metrics under the standard Prometheus client names, read from `/proc/self` when
//! `/metrics` is scraped (cheap file reads; no background work).

use std::sync::atomic::AtomicU64;

use prometheus_client::{
    metrics::{counter::Counter, gauge::Gauge},
    registry::{Registry, Unit},
};

type FloatGauge = Gauge<f64, AtomicU64>;

pub struct ProcessMetrics {
    cpu_seconds: Counter<f64, AtomicU64>,
    resident_memory: FloatGauge,
    virtual_memory: FloatGauge,
    open_fds: FloatGauge,
    max_fds: FloatGauge,
    start_time: FloatGauge,
}

/// The figures of one reading of `/proc/self`.
#[derive(Debug, PartialEq)]
pub struct ProcessStat {
    pub cpu_seconds: f64,
    pub resident_bytes: f64,
    pub virtual_bytes: f64,
    pub start_time_seconds: f64,
}

impl ProcessMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = ProcessMetrics {
            cpu_seconds: Counter::default(),
            resident_memory: FloatGauge::default(),
            virtual_memory: FloatGauge::default(),
            open_fds: FloatGauge::default(),
            max_fds: FloatGauge::default(),
            start_time: FloatGauge::default(),
        };
        registry.register_with_unit(
            "process_cpu",
            "Total user and system CPU time spent",
            Unit::Seconds,
            metrics.cpu_seconds.clone(),
        );
        registry.register_with_unit(
            "process_resident_memory",
            "Resident memory size",
            Unit::Bytes,
            metrics.resident_memory.clone(),
        );
        registry.register_with_unit(
            "process_virtual_memory",
            "Virtual memory size",
            Unit::Bytes,
            metrics.virtual_memory.clone(),
        );
        registry.register(
            "process_open_fds",
            "Number of open file descriptors",
            metrics.open_fds.clone(),
        );
        registry.register(
            "process_max_fds",
            "Maximum number of open file descriptors",
            metrics.max_fds.clone(),
        );
        registry.register_with_unit(
            "process_start_time",
            "Start time of the process since the Unix epoch",
            Unit::Seconds,
            metrics.start_time.clone(),
        );
        metrics.refresh();
        metrics
    }

    /// Reads `/proc/self` into the metrics; a failed read leaves the previous values.
    pub fn refresh(&self) {
        if let Some(stat) = read_stat() {
            let delta = stat.cpu_seconds - self.cpu_seconds.get();
            if delta > 0.0 {
                self.cpu_seconds.inc_by(delta);
            }
            self.resident_memory.set(stat.resident_bytes);
            self.virtual_memory.set(stat.virtual_bytes);
            self.start_time.set(stat.start_time_seconds);
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds.set(entries.count() as f64);
        }
        if let Some(max) = read_max_fds() {
            self.max_fds.set(max);
        }
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

fn page_size() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as f64 } else { 4096.0 }
}

fn read_stat() -> Option<ProcessStat> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let boot_time = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse::<f64>()
        .ok()?;
    parse_stat(&stat, boot_time, clock_ticks_per_second(), page_size())
}

/// Parses `/proc/<pid>/stat` (proc(5)). The command name may contain spaces and
/// parentheses, so fields are counted after its closing parenthesis.
pub fn parse_stat(stat: &str, boot_time: f64, ticks: f64, page_size: f64) -> Option<ProcessStat> {
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state); field N is at index N - 3.
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    Some(ProcessStat {
        cpu_seconds: (field(14)? + field(15)?) / ticks,
        start_time_seconds: boot_time + field(22)? / ticks,
        virtual_bytes: field(23)?,
        resident_bytes: field(24)? * page_size,
    })
}

fn read_max_fds() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "4242 (task api (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1000 \
                    123456789 2560 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let parsed = parse_stat(stat, 1_700_000_000.0, 100.0, 4096.0).unwrap();
        assert_eq!(
            parsed,
            ProcessStat {
                cpu_seconds: 3.0,
                resident_bytes: 2560.0 * 4096.0,
                virtual_bytes: 123456789.0,
                start_time_seconds: 1_700_000_010.0,
            }
        );
    }

    #[test]
    fn this_process_can_be_read() {
        let stat = read_stat().expect("/proc/self/stat is readable");
        assert!(stat.resident_bytes > 0.0);
        assert!(read_max_fds().is_some_and(|m| m > 0.0));
    }
}
