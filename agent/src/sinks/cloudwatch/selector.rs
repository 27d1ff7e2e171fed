//! Series selectors in PromQL's syntax: `name{label="v", label!="v", label=~"re", label!~"re"}`.
//! Used wherever configuration picks series (which metrics are forwarded to CloudWatch),
//! so operators write what they already write in Prometheus.

use std::fmt;

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::metric::Labels;

/// How one label is matched.
#[derive(Clone, Debug)]
enum Op {
    Equal(String),
    NotEqual(String),
    Matches(Regex),
    NotMatches(Regex),
}

/// A metric name and label matchers; a missing label matches as the empty string, as in PromQL.
#[derive(Clone)]
pub struct Selector {
    source: String,
    name: String,
    matchers: Vec<(String, Op)>,
}

impl Selector {
    /// Parses `name{...}`.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let text = text.trim();
        let name_end = text.find('{').unwrap_or(text.len());
        let name = text[..name_end].trim();
        let valid_name = |s: &str| {
            !s.is_empty()
                && !s.starts_with(|c: char| c.is_ascii_digit())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        };
        if !valid_name(name) {
            return Err(format!("{text:?} does not start with a metric name"));
        }
        let mut matchers = Vec::new();
        if name_end < text.len() {
            let body = text[name_end + 1..]
                .strip_suffix('}')
                .ok_or_else(|| format!("{text:?} lacks the closing '}}'"))?;
            let mut rest = body.trim();
            while !rest.is_empty() {
                let op_start = rest
                    .find(['=', '!'])
                    .ok_or_else(|| format!("matcher `{rest}` has no operator"))?;
                let label = rest[..op_start].trim();
                if !valid_name(label) || label.contains(':') {
                    return Err(format!("{label:?} is not a label name"));
                }
                let after = &rest[op_start..];
                let (op, after) = ["=~", "!~", "!=", "="]
                    .iter()
                    .find_map(|op| after.strip_prefix(op).map(|a| (*op, a.trim_start())))
                    .ok_or_else(|| {
                        format!("matcher for {label} has no valid operator (=, !=, =~, !~)")
                    })?;
                let quoted = after
                    .strip_prefix('"')
                    .ok_or_else(|| format!("value for {label} must be in double quotes"))?;
                let end = quoted
                    .find('"')
                    .ok_or_else(|| format!("value for {label} lacks its closing quote"))?;
                let value = quoted[..end].to_string();
                let regex = || {
                    // Anchored like PromQL: the whole value must match.
                    Regex::new(&format!("^(?:{value})$"))
                        .map_err(|e| format!("regex for {label} is invalid: {e}"))
                };
                let op = match op {
                    "=" => Op::Equal(value),
                    "!=" => Op::NotEqual(value),
                    "=~" => Op::Matches(regex()?),
                    _ => Op::NotMatches(regex()?),
                };
                matchers.push((label.to_string(), op));
                rest = quoted[end + 1..].trim_start();
                rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
            }
        }
        Ok(Selector {
            source: text.to_string(),
            name: name.to_string(),
            matchers,
        })
    }

    /// The metric name selected.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether a series with `labels` passes every matcher.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matchers.iter().all(|(label, op)| {
            let value = labels
                .iter()
                .find(|(k, _)| k == label)
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            match op {
                Op::Equal(v) => value == v,
                Op::NotEqual(v) => value != v,
                Op::Matches(re) => re.is_match(value),
                Op::NotMatches(re) => !re.is_match(value),
            }
        })
    }
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.source, f)
    }
}

impl<'de> Deserialize<'de> for Selector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Selector::parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("invalid series selector: {e}")))
    }
}

impl Serialize for Selector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::labels;

    #[test]
    fn bare_name_matches_every_series() {
        let s = Selector::parse("node_load1").unwrap();
        assert_eq!(s.name(), "node_load1");
        assert!(s.matches(&labels([("a", "b")])));
    }

    #[test]
    fn all_four_operators_behave_like_promql() {
        let s = Selector::parse(
            r#"http_requests_total{route="/tasks", status=~"5..", method!="GET",env!~"dev|test"}"#,
        )
        .unwrap();
        assert!(s.matches(&labels([
            ("route", "/tasks"),
            ("status", "503"),
            ("method", "POST")
        ])));
        assert!(
            !s.matches(&labels([
                ("route", "/tasks"),
                ("status", "5031"),
                ("method", "POST")
            ])),
            "regex is anchored"
        );
        assert!(!s.matches(&labels([
            ("route", "/tasks"),
            ("status", "500"),
            ("method", "GET")
        ])));
        assert!(!s.matches(&labels([
            ("route", "/tasks"),
            ("status", "500"),
            ("env", "dev")
        ])));
        assert!(
            !s.matches(&labels([("status", "500")])),
            "missing label is the empty string"
        );
    }

    #[test]
    fn malformed_selectors_say_what_is_wrong() {
        assert_eq!(
            Selector::parse("{a=\"b\"}").unwrap_err(),
            "\"{a=\\\"b\\\"}\" does not start with a metric name"
        );
        assert_eq!(
            Selector::parse("x{a=b}").unwrap_err(),
            "value for a must be in double quotes"
        );
        assert_eq!(
            Selector::parse("x{a=\"b\"").unwrap_err(),
            "\"x{a=\\\"b\\\"\" lacks the closing '}'"
        );
        assert!(
            Selector::parse("x{a=~\"(\"}")
                .unwrap_err()
                .starts_with("regex for a is invalid")
        );
        assert_eq!(
            Selector::parse("x{a<\"b\"}").unwrap_err(),
            "matcher `a<\"b\"` has no operator"
        );
    }
}
