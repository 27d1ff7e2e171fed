//! Parser for the Prometheus text format (0.0.4), also accepting what OpenMetrics text
//! adds (`# UNIT`, `# EOF`, `_created` samples), so any `/metrics` endpoint can be scraped.
//!
//! The result is flat: one [`MetricFamily`] per *sample name*, so a histogram's
//! `_count`, `_sum` and `_bucket` become three counter families. That is what forwarding
//! needs: each sample name is selected and sent on its own.

use std::collections::HashMap;

use super::{Labels, MetricFamily, MetricKind};

/// Why a document was rejected: the line number (1-based) and what was wrong.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Parses a whole exposition.
pub fn parse(text: &str) -> Result<Vec<MetricFamily>, ParseError> {
    let mut types: HashMap<&str, &str> = HashMap::new();
    let mut helps: HashMap<&str, &str> = HashMap::new();
    let mut families: Vec<MetricFamily> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let error = |message: String| ParseError {
            line: number + 1,
            message,
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut parts = comment.trim_start().splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    types.insert(name, kind.trim());
                }
                (Some("HELP"), Some(name), help) => {
                    helps.insert(name, help.unwrap_or(""));
                }
                _ => {}
            }
            continue;
        }
        let (name, labels, rest) = parse_series(line).map_err(error)?;
        let value_text = rest
            .split_ascii_whitespace()
            .next()
            .ok_or_else(|| error(format!("{name}: missing value")))?;
        let value = parse_value(value_text)
            .ok_or_else(|| error(format!("{name}: invalid value {value_text:?}")))?;
        let slot = match index.get(&name) {
            Some(slot) => *slot,
            None => {
                let (family_name, declared) = declared_type(&types, &name);
                let kind = kind_of(&name, family_name, declared);
                let help = helps.get(family_name).copied().unwrap_or("");
                families.push(MetricFamily::new(name.clone(), help, kind));
                index.insert(name, families.len() - 1);
                families.len() - 1
            }
        };
        families[slot].push(labels, value);
    }
    Ok(families)
}

/// The family a sample belongs to and its declared type, trying the suffixes that
/// histograms, summaries and OpenMetrics counters add to the family name.
fn declared_type<'a>(
    types: &HashMap<&'a str, &'a str>,
    name: &'a str,
) -> (&'a str, Option<&'a str>) {
    if let Some((family, kind)) = types.get_key_value(name) {
        return (family, Some(kind));
    }
    for suffix in ["_total", "_count", "_sum", "_bucket", "_created"] {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some((family, kind)) = types.get_key_value(base)
        {
            return (family, Some(kind));
        }
    }
    (name, None)
}

fn kind_of(name: &str, family: &str, declared: Option<&str>) -> MetricKind {
    match declared {
        Some("counter") => MetricKind::Counter,
        Some("histogram" | "summary" | "gaugehistogram") if name != family => MetricKind::Counter,
        _ => MetricKind::Gauge,
    }
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

/// Splits `name{a="b",...} rest` into its parts.
fn parse_series(line: &str) -> Result<(String, Labels, &str), String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_ascii_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return Err(format!("invalid metric name {name:?}"));
    }
    let rest = &line[name_end..];
    let Some(mut rest) = rest.strip_prefix('{') else {
        return Ok((name.to_string(), Vec::new(), rest));
    };
    let mut labels = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((name.to_string(), labels, after));
        }
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("{name}: label without '='"))?;
        let key = rest[..eq].trim();
        rest = rest[eq + 1..].trim_start();
        let body = rest
            .strip_prefix('"')
            .ok_or_else(|| format!("{name}: label {key} value is not quoted"))?;
        let mut value = String::new();
        let mut chars = body.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("{name}: unterminated label value")),
                },
                Some((_, c)) => value.push(c),
                None => return Err(format!("{name}: unterminated label value")),
            }
        };
        labels.push((key.to_string(), value));
        rest = &body[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::labels;

    #[test]
    fn classic_text_with_histogram_becomes_one_family_per_sample_name() {
        let text = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n\
http_requests_total{route=\"/tasks\",status=\"200\"} 12 1700000000000\n\
# TYPE latency_seconds histogram\n\
latency_seconds_bucket{le=\"0.1\"} 3\nlatency_seconds_bucket{le=\"+Inf\"} 4\n\
latency_seconds_sum 0.9\nlatency_seconds_count 4\n\
# TYPE up gauge\nup 1\nuntyped_thing NaN\n";
        let families = parse(text).unwrap();
        let names: Vec<_> = families.iter().map(|f| (f.name.as_str(), f.kind)).collect();
        assert_eq!(
            names,
            [
                ("http_requests_total", MetricKind::Counter),
                ("latency_seconds_bucket", MetricKind::Counter),
                ("latency_seconds_sum", MetricKind::Counter),
                ("latency_seconds_count", MetricKind::Counter),
                ("up", MetricKind::Gauge),
                ("untyped_thing", MetricKind::Gauge),
            ]
        );
        assert_eq!(families[0].help, "Requests.");
        assert_eq!(
            families[0].samples[0].labels,
            labels([("route", "/tasks"), ("status", "200")])
        );
        assert_eq!(families[1].samples[1].labels, labels([("le", "+Inf")]));
        assert!(families[5].samples[0].value.is_nan());
    }

    #[test]
    fn openmetrics_counter_family_types_its_total_sample() {
        let text =
            "# TYPE jobs counter\n# UNIT jobs jobs\njobs_total 3\njobs_created 1.7e9\n# EOF\n";
        let families = parse(text).unwrap();
        assert_eq!(families[0].name, "jobs_total");
        assert_eq!(families[0].kind, MetricKind::Counter);
    }

    #[test]
    fn escaped_label_values_round_trip_with_the_encoder() {
        let mut family = MetricFamily::new("x", "h", MetricKind::Gauge);
        family.push(labels([("a", "q\"b\\s\nn"), ("b", "")]), -2.5);
        let mut text = String::new();
        family.encode(&mut text);
        assert_eq!(parse(&text).unwrap(), vec![family]);
    }

    #[test]
    fn malformed_lines_report_their_number() {
        assert_eq!(
            parse("ok 1\nbad{a=\"x} 1\n").unwrap_err(),
            ParseError {
                line: 2,
                message: "bad: unterminated label value".into()
            }
        );
        assert_eq!(
            parse("x{a=b} 1\n").unwrap_err().message,
            "x: label a value is not quoted"
        );
        assert_eq!(
            parse("x one\n").unwrap_err().message,
            "x: invalid value \"one\""
        );
    }
}
