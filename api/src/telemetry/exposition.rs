//! Conversion of OpenMetrics text into the classic Prometheus text format (0.0.4).
//!
//! `prometheus-client` writes OpenMetrics only. Scrapers that do not ask for OpenMetrics
//! (older Prometheus, `promtool check metrics`, curl) get the classic format, which differs
//! in three ways that matter here: counter families are named with their `_total` suffix,
//! there is no `info` type (it becomes a gauge named `*_info`), and there are no exemplars,
//! `# UNIT` lines or `# EOF`.

use std::collections::HashMap;

/// The classic text rendering of an OpenMetrics exposition.
pub fn to_classic_text(openmetrics: &str) -> String {
    let types: HashMap<&str, &str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push_str(&format!(
                "# HELP {} {help}\n",
                classic_name(name, types.get(name).copied())
            ));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let classic_kind = match kind {
                "info" | "stateset" => "gauge",
                "unknown" => "untyped",
                other => other,
            };
            out.push_str(&format!(
                "# TYPE {} {classic_kind}\n",
                classic_name(name, Some(kind))
            ));
        } else {
            // Exemplars follow the value as ` # {labels} value [timestamp]`.
            let sample = match line.find(" # {") {
                Some(at) => &line[..at],
                None => line,
            };
            out.push_str(sample);
            out.push('\n');
        }
    }
    out
}

fn classic_name(name: &str, kind: Option<&str>) -> String {
    match kind {
        Some("counter") => format!("{name}_total"),
        Some("info") => format!("{name}_info"),
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_info_exemplars_and_eof_are_rewritten() {
        let openmetrics = "\
# HELP jobs Jobs done.
# TYPE jobs counter
jobs_total 3
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
# UNIT latency_seconds seconds
latency_seconds_bucket{le=\"0.1\"} 1 # {trace_id=\"abc\"} 0.05
latency_seconds_bucket{le=\"+Inf\"} 1
latency_seconds_sum 0.05
latency_seconds_count 1
# HELP build Build.
# TYPE build info
build_info{version=\"1\"} 1
# EOF
";
        let expected = "\
# HELP jobs_total Jobs done.
# TYPE jobs_total counter
jobs_total 3
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{le=\"0.1\"} 1
latency_seconds_bucket{le=\"+Inf\"} 1
latency_seconds_sum 0.05
latency_seconds_count 1
# HELP build_info Build.
# TYPE build_info gauge
build_info{version=\"1\"} 1
";
        assert_eq!(to_classic_text(openmetrics), expected);
    }
}
