//! `/proc/stat`: CPU time per cpu and mode, boot time, context switches, forks,
//! interrupts and runnable/blocked processes (node_exporter's `cpu` and `stat` collectors).

use crate::metric::{MetricFamily, MetricKind, labels};

/// node_exporter's modes, in `/proc/stat` column order (guest time is reported apart).
const MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

/// Turns `/proc/stat` text into families; `ticks_per_second` is the kernel's USER_HZ.
pub fn parse(text: &str, ticks_per_second: f64) -> Result<Vec<MetricFamily>, String> {
    let mut cpu = MetricFamily::new(
        "node_cpu_seconds_total",
        "Seconds the CPUs spent in each mode.",
        MetricKind::Counter,
    );
    let mut guest = MetricFamily::new(
        "node_cpu_guest_seconds_total",
        "Seconds the CPUs spent running guests, by mode.",
        MetricKind::Counter,
    );
    let mut families = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let Some(key) = fields.next() else { continue };
        if let Some(index) = key.strip_prefix("cpu").filter(|i| !i.is_empty()) {
            let ticks: Vec<f64> = fields
                .map(|f| f.parse::<f64>().map_err(|e| format!("{key}: {e}")))
                .collect::<Result<_, _>>()?;
            if ticks.len() < MODES.len() {
                return Err(format!(
                    "{key}: expected at least {} columns, found {}",
                    MODES.len(),
                    ticks.len()
                ));
            }
            for (mode, value) in MODES.iter().zip(&ticks) {
                cpu.push(
                    labels([("cpu", index), ("mode", mode)]),
                    value / ticks_per_second,
                );
            }
            for (mode, value) in ["user", "nice"].iter().zip(ticks.iter().skip(MODES.len())) {
                guest.push(
                    labels([("cpu", index), ("mode", mode)]),
                    value / ticks_per_second,
                );
            }
            continue;
        }
        let first = || -> Result<f64, String> {
            line.split_ascii_whitespace()
                .nth(1)
                .ok_or_else(|| format!("{key}: missing value"))?
                .parse::<f64>()
                .map_err(|e| format!("{key}: {e}"))
        };
        let (name, help, kind) = match key {
            "btime" => (
                "node_boot_time_seconds",
                "Node boot time, in unixtime.",
                MetricKind::Gauge,
            ),
            "ctxt" => (
                "node_context_switches_total",
                "Total number of context switches.",
                MetricKind::Counter,
            ),
            "processes" => (
                "node_forks_total",
                "Total number of forks.",
                MetricKind::Counter,
            ),
            "intr" => (
                "node_intr_total",
                "Total number of interrupts serviced.",
                MetricKind::Counter,
            ),
            "procs_running" => (
                "node_procs_running",
                "Number of processes in runnable state.",
                MetricKind::Gauge,
            ),
            "procs_blocked" => (
                "node_procs_blocked",
                "Number of processes blocked waiting for I/O to complete.",
                MetricKind::Gauge,
            ),
            _ => continue,
        };
        families.push(MetricFamily::single(name, help, kind, first()?));
    }
    if cpu.samples.is_empty() {
        return Err("no per-cpu lines".into());
    }
    families.insert(0, guest);
    families.insert(0, cpu);
    Ok(families)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  16957 851 3585 38943 263 0 43 15 0 0\n\
cpu0 8492 217 1535 20059 31 0 10 7 3 1\n\
cpu1 8464 633 2049 18884 231 0 32 8 0 0\n\
intr 192182 0 9 0\n\
ctxt 327157\n\
btime 1795435968\n\
processes 7396\n\
procs_running 7\n\
procs_blocked 0\n\
softirq 1 2 3\n";

    fn find<'a>(families: &'a [MetricFamily], name: &str) -> &'a MetricFamily {
        families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    }

    #[test]
    fn cpu_ticks_become_seconds_per_cpu_and_mode() {
        let families = parse(STAT, 100.0).unwrap();
        let cpu = find(&families, "node_cpu_seconds_total");
        assert_eq!(cpu.samples.len(), 16, "aggregate `cpu` line is not a cpu");
        assert_eq!(
            cpu.samples[0].labels,
            labels([("cpu", "0"), ("mode", "user")])
        );
        assert_eq!(cpu.samples[0].value, 84.92);
        assert_eq!(
            cpu.samples[7].labels,
            labels([("cpu", "0"), ("mode", "steal")])
        );
        assert_eq!(cpu.samples[7].value, 0.07);
        let guest = find(&families, "node_cpu_guest_seconds_total");
        assert_eq!(guest.samples[0].value, 0.03);
        assert_eq!(
            guest.samples[1].labels,
            labels([("cpu", "0"), ("mode", "nice")])
        );
    }

    #[test]
    fn scalar_lines_keep_node_exporter_names() {
        let families = parse(STAT, 100.0).unwrap();
        assert_eq!(
            find(&families, "node_boot_time_seconds").samples[0].value,
            1795435968.0
        );
        assert_eq!(
            find(&families, "node_context_switches_total").samples[0].value,
            327157.0
        );
        assert_eq!(find(&families, "node_forks_total").samples[0].value, 7396.0);
        assert_eq!(
            find(&families, "node_intr_total").samples[0].value,
            192182.0
        );
        assert_eq!(find(&families, "node_procs_running").samples[0].value, 7.0);
    }

    #[test]
    fn garbage_is_an_error_not_a_zero() {
        assert!(
            parse("cpu0 1 2 x 4 5 6 7 8\n", 100.0)
                .unwrap_err()
                .contains("cpu0")
        );
        assert!(parse("ctxt 5\n", 100.0).unwrap_err().contains("no per-cpu"));
    }
}
