//! `/proc/sys/fs/file-nr`: allocated and maximum file handles.

use crate::metric::{MetricFamily, MetricKind};

/// Turns `file-nr` text (allocated, unused, maximum) into the two filefd gauges.
pub fn parse(text: &str) -> Result<Vec<MetricFamily>, String> {
    let fields: Vec<f64> = text
        .split_ascii_whitespace()
        .map(|f| f.parse::<f64>().map_err(|e| format!("{f:?}: {e}")))
        .collect::<Result<_, _>>()?;
    let [allocated, _unused, maximum] = fields[..] else {
        return Err(format!("expected 3 numbers, got {}", fields.len()));
    };
    Ok(vec![
        MetricFamily::single(
            "node_filefd_allocated",
            "File descriptor statistics: allocated.",
            MetricKind::Gauge,
            allocated,
        ),
        MetricFamily::single(
            "node_filefd_maximum",
            "File descriptor statistics: maximum.",
            MetricKind::Gauge,
            maximum,
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocated_and_maximum() {
        let families = parse("569\t0\t2466177\n").unwrap();
        assert_eq!(families[0].samples[0].value, 569.0);
        assert_eq!(families[1].samples[0].value, 2466177.0);
    }
}
