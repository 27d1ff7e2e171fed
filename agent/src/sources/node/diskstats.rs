//! `/proc/diskstats`: I/O counters per block device, in node_exporter's units
//! (sectors are always 512 bytes in this file, whatever the device's sector size).
//! Field meanings: <https://www.kernel.org/doc/Documentation/ABI/testing/procfs-diskstats>

use crate::config::types::Pattern;
use crate::metric::{MetricFamily, MetricKind, labels};

const SECTOR_BYTES: f64 = 512.0;
const MILLIS: f64 = 0.001;

/// (name, help, kind, scale) per column after the device name, in file order.
const COLUMNS: [(&str, &str, MetricKind, f64); 17] = [
    (
        "node_disk_reads_completed_total",
        "The total number of reads completed successfully.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_reads_merged_total",
        "The total number of reads merged.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_read_bytes_total",
        "The total number of bytes read successfully.",
        MetricKind::Counter,
        SECTOR_BYTES,
    ),
    (
        "node_disk_read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        MetricKind::Counter,
        MILLIS,
    ),
    (
        "node_disk_writes_completed_total",
        "The total number of writes completed successfully.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_writes_merged_total",
        "The number of writes merged.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_written_bytes_total",
        "The total number of bytes written successfully.",
        MetricKind::Counter,
        SECTOR_BYTES,
    ),
    (
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        MetricKind::Counter,
        MILLIS,
    ),
    (
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
        MetricKind::Gauge,
        1.0,
    ),
    (
        "node_disk_io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        MetricKind::Counter,
        MILLIS,
    ),
    (
        "node_disk_io_time_weighted_seconds_total",
        "The weighted number of seconds spent doing I/Os.",
        MetricKind::Counter,
        MILLIS,
    ),
    (
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        MetricKind::Counter,
        MILLIS,
    ),
    (
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully.",
        MetricKind::Counter,
        1.0,
    ),
    (
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        MetricKind::Counter,
        MILLIS,
    ),
];

/// Turns `/proc/diskstats` text into families, skipping devices matching `exclude`.
/// Older kernels have fewer columns; the missing counters are simply absent.
pub fn parse(text: &str, exclude: &Pattern) -> Result<Vec<MetricFamily>, String> {
    let mut families: Vec<MetricFamily> = COLUMNS
        .iter()
        .map(|(name, help, kind, _)| MetricFamily::new(*name, *help, *kind))
        .collect();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() < 3 + 11 {
            continue;
        }
        let device = fields[2];
        if exclude.is_match(device) {
            continue;
        }
        for (i, raw) in fields[3..].iter().take(COLUMNS.len()).enumerate() {
            let value: f64 = raw
                .parse()
                .map_err(|e| format!("{device} column {}: {e}", i + 4))?;
            families[i].push(labels([("device", device)]), value * COLUMNS[i].3);
        }
    }
    Ok(families)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::node::config::DEFAULT_DISK_DEVICE_EXCLUDE;

    const DISKSTATS: &str = "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n\
 254       0 vda 32547 6320 3121178 14898 8554 25698 2639456 8406 0 4196 23651 4569 36 298392 311 1101 34\n\
 254       1 vda1 1 1 1 1 1 1 1 1 0 1 1\n\
   8       0 sdb 1 2 3 4 5 6 7 8 9 10 11\n";

    #[test]
    fn units_follow_node_exporter() {
        let families = parse(DISKSTATS, &Pattern::builtin(DEFAULT_DISK_DEVICE_EXCLUDE)).unwrap();
        let get = |name: &str, device: &str| {
            families
                .iter()
                .find(|f| f.name == name)
                .unwrap()
                .samples
                .iter()
                .find(|s| s.labels[0].1 == device)
                .map(|s| s.value)
        };
        assert_eq!(
            get("node_disk_read_bytes_total", "vda"),
            Some(3121178.0 * 512.0)
        );
        assert_eq!(
            get("node_disk_read_time_seconds_total", "vda"),
            Some(14.898)
        );
        assert_eq!(get("node_disk_io_now", "vda"), Some(0.0));
        assert_eq!(
            get("node_disk_flush_requests_time_seconds_total", "vda"),
            Some(0.034)
        );
        assert_eq!(get("node_disk_io_now", "sdb"), Some(9.0));
        assert_eq!(
            get("node_disk_discards_completed_total", "sdb"),
            None,
            "old kernel: no discard columns"
        );
        assert_eq!(
            get("node_disk_reads_completed_total", "loop0"),
            None,
            "excluded"
        );
        assert_eq!(
            get("node_disk_reads_completed_total", "vda1"),
            None,
            "partitions excluded"
        );
    }
}
