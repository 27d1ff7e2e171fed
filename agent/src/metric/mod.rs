//! The agent's metric data model and the Prometheus text exposition format (0.0.4).
//!
//! We write the classic text format, the one node_exporter serves, rather than
//! OpenMetrics: every Prometheus version scrapes it without content negotiation,
//! `promtool check metrics` lints it, and series names stay exactly node_exporter's
//! (OpenMetrics would require counter families to drop their `_total` suffix in metadata).
//! Spec: <https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format>

pub mod parse;

use std::fmt::Write;

/// How a family's values behave over time; decides how sinks turn them into datums.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Monotonic, resets only on restart.
    Counter,
    /// Any value at any time.
    Gauge,
}

impl MetricKind {
    fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        }
    }
}

/// Label pairs of one series, in the order they are written.
pub type Labels = Vec<(String, String)>;

/// One series of a family: its labels and current value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
}

/// All series of one metric name, with its help text and kind.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricFamily {
    pub name: String,
    pub help: String,
    pub kind: MetricKind,
    pub samples: Vec<Sample>,
}

impl MetricFamily {
    /// A family without series yet.
    pub fn new(name: impl Into<String>, help: impl Into<String>, kind: MetricKind) -> Self {
        MetricFamily {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    /// A family holding a single unlabelled series.
    pub fn single(name: &str, help: &str, kind: MetricKind, value: f64) -> Self {
        let mut family = MetricFamily::new(name, help, kind);
        family.push(Vec::new(), value);
        family
    }

    /// Adds a series.
    pub fn push(&mut self, labels: Labels, value: f64) {
        self.samples.push(Sample { labels, value });
    }

    /// Appends the family in text format; families without series are skipped because
    /// a HELP/TYPE pair with no samples only confuses readers.
    pub fn encode(&self, out: &mut String) {
        if self.samples.is_empty() {
            return;
        }
        write_header(out, &self.name, &self.help, self.kind.as_str());
        for sample in &self.samples {
            write_sample(out, &self.name, &sample.labels, None, sample.value);
        }
    }
}

/// Writes the `# HELP` and `# TYPE` lines of a family.
pub fn write_header(out: &mut String, name: &str, help: &str, kind: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

/// Writes one sample line; `extra` is an additional label (a histogram's `le`).
pub fn write_sample(
    out: &mut String,
    name: &str,
    labels: &[(String, String)],
    extra: Option<(&str, &str)>,
    value: f64,
) {
    out.push_str(name);
    let mut pairs = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(extra)
        .peekable();
    if pairs.peek().is_some() {
        out.push('{');
        for (i, (key, value)) in pairs.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(key);
            out.push_str("=\"");
            escape_label_value(out, value);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    write_value(out, value);
    out.push('\n');
}

/// Appends `value` with the text format's label-value escapes (`\\`, `\"`, `\n`); Loki's
/// stream selectors use the same.
pub(crate) fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Formats a value the way Prometheus parses it (`+Inf`, `-Inf`, `NaN`).
pub fn write_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value == f64::INFINITY {
        out.push_str("+Inf");
    } else if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Builds a label set from string pairs.
pub fn labels<const N: usize>(pairs: [(&str, &str); N]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_is_written_with_help_type_and_escaped_labels() {
        let mut family = MetricFamily::new(
            "node_x_bytes",
            "Bytes of x.\nSecond line \\.",
            MetricKind::Gauge,
        );
        family.push(labels([("device", "a\"b\\c\nd")]), 1.5);
        family.push(Vec::new(), f64::INFINITY);
        let mut out = String::new();
        family.encode(&mut out);
        assert_eq!(
            out,
            "# HELP node_x_bytes Bytes of x.\\nSecond line \\\\.\n# TYPE node_x_bytes gauge\n\
             node_x_bytes{device=\"a\\\"b\\\\c\\nd\"} 1.5\nnode_x_bytes +Inf\n"
        );
    }

    #[test]
    fn empty_family_writes_nothing() {
        let mut out = String::new();
        MetricFamily::new("node_y", "y", MetricKind::Counter).encode(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn large_integers_are_written_without_loss() {
        let mut out = String::new();
        write_value(&mut out, 270553174016.0);
        assert_eq!(out, "270553174016");
    }
}
