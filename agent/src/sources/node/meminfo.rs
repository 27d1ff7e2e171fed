//! `/proc/meminfo`: every field as `node_memory_<Field>[_bytes]`, exactly as node_exporter
//! names them, so `node_memory_MemAvailable_bytes` and friends work in existing dashboards.

use crate::metric::{MetricFamily, MetricKind};

/// Turns `/proc/meminfo` text into one gauge per field.
pub fn parse(text: &str) -> Result<Vec<MetricFamily>, String> {
    let mut families = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(key), Some(value)) = (fields.next(), fields.next()) else {
            continue;
        };
        let key = key.trim_end_matches(':').replace('(', "_").replace(')', "");
        let mut value: f64 = value.parse().map_err(|e| format!("{key}: {e}"))?;
        // Fields with a kB unit are sizes; the others (HugePages_Total, ...) are counts.
        let name = match fields.next() {
            Some("kB") => {
                value *= 1024.0;
                format!("node_memory_{key}_bytes")
            }
            _ => format!("node_memory_{key}"),
        };
        let help = format!(
            "Memory information field {}.",
            name.trim_start_matches("node_memory_")
        );
        families.push(MetricFamily::single(&name, &help, MetricKind::Gauge, value));
    }
    if families.is_empty() {
        return Err("no fields".into());
    }
    Ok(families)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_get_bytes_suffix_and_counts_do_not() {
        let families = parse(
            "MemTotal:       24684092 kB\nActive(anon):     1024 kB\nHugePages_Total:       0\n",
        )
        .unwrap();
        let names: Vec<_> = families
            .iter()
            .map(|f| (f.name.as_str(), f.samples[0].value))
            .collect();
        assert_eq!(
            names,
            [
                ("node_memory_MemTotal_bytes", 24684092.0 * 1024.0),
                ("node_memory_Active_anon_bytes", 1024.0 * 1024.0),
                ("node_memory_HugePages_Total", 0.0)
            ]
        );
    }

    #[test]
    fn bad_number_names_the_field() {
        assert_eq!(
            parse("MemFree: lots kB\n").unwrap_err(),
            "MemFree: invalid float literal"
        );
    }
}
