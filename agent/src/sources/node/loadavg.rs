//! `/proc/loadavg`: `node_load1`, `node_load5`, `node_load15`.

use crate::metric::{MetricFamily, MetricKind};

/// Turns `/proc/loadavg` text into the three load gauges.
pub fn parse(text: &str) -> Result<Vec<MetricFamily>, String> {
    let fields: Vec<&str> = text.split_ascii_whitespace().take(3).collect();
    if fields.len() < 3 {
        return Err(format!("expected 3 load averages, got {:?}", text.trim()));
    }
    let mut families = Vec::new();
    for ((name, help), field) in [
        ("node_load1", "1m load average."),
        ("node_load5", "5m load average."),
        ("node_load15", "15m load average."),
    ]
    .into_iter()
    .zip(fields)
    {
        let value = field.parse().map_err(|e| format!("{name}: {e}"))?;
        families.push(MetricFamily::single(name, help, MetricKind::Gauge, value));
    }
    Ok(families)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_averages_in_order() {
        let families = parse("2.07 0.71 0.25 7/100 7223\n").unwrap();
        let values: Vec<_> = families
            .iter()
            .map(|f| (f.name.as_str(), f.samples[0].value))
            .collect();
        assert_eq!(
            values,
            [
                ("node_load1", 2.07),
                ("node_load5", 0.71),
                ("node_load15", 0.25)
            ]
        );
    }

    #[test]
    fn short_file_is_an_error() {
        assert!(parse("1.0\n").is_err());
    }
}
