//! Picks configured top-level fields (`request_id`, `trace_id`) out of JSON log lines for
//! Loki's structured metadata: searchable per line without becoming labels, whose
//! unbounded values would explode Loki's stream count.

use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use super::logproto::LabelPairAdapter;

/// Extracts the configured fields.
#[derive(Clone, Debug)]
pub struct Extractor {
    fields: Vec<String>,
    /// `"name"` with quotes: a line without any of these cannot have the fields, and
    /// searching for them is far cheaper than parsing JSON.
    needles: Vec<memchr::memmem::Finder<'static>>,
}

impl Extractor {
    /// An extractor for `fields`; none when the list is empty.
    pub fn new(fields: &[String]) -> Option<Extractor> {
        if fields.is_empty() {
            return None;
        }
        Some(Extractor {
            fields: fields.to_vec(),
            needles: fields
                .iter()
                .map(|f| memchr::memmem::Finder::new(format!("\"{f}\"").as_bytes()).into_owned())
                .collect(),
        })
    }

    /// The fields present in `line` as string or number values, in configuration order.
    pub fn extract(&self, line: &str) -> Vec<LabelPairAdapter> {
        if !line.trim_start().starts_with('{')
            || !self
                .needles
                .iter()
                .any(|n| n.find(line.as_bytes()).is_some())
        {
            return Vec::new();
        }
        let mut found: Vec<Option<String>> = vec![None; self.fields.len()];
        let mut deserializer = serde_json::Deserializer::from_str(line);
        if (FieldPicker {
            fields: &self.fields,
            found: &mut found,
        })
        .deserialize(&mut deserializer)
        .is_err()
        {
            return Vec::new();
        }
        self.fields
            .iter()
            .zip(found)
            .filter_map(|(name, value)| {
                value.map(|value| LabelPairAdapter {
                    name: name.clone(),
                    value,
                })
            })
            .collect()
    }
}

struct FieldPicker<'a> {
    fields: &'a [String],
    found: &'a mut Vec<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for FieldPicker<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldPicker<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match self.fields.iter().position(|f| *f == key) {
                Some(i) => {
                    let value: serde_json::Value = map.next_value()?;
                    self.found[i] = match value {
                        serde_json::Value::String(s) if !s.is_empty() => Some(s),
                        serde_json::Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    };
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extractor() -> Extractor {
        Extractor::new(&["request_id".to_string(), "trace_id".to_string()]).unwrap()
    }

    fn pairs(line: &str) -> Vec<(String, String)> {
        extractor()
            .extract(line)
            .into_iter()
            .map(|p| (p.name, p.value))
            .collect()
    }

    #[test]
    fn top_level_ids_are_extracted_in_configured_order() {
        let line =
            r#"{"msg":"hi","trace_id":"4bf92f35","nested":{"request_id":"no"},"request_id":"r-1"}"#;
        assert_eq!(
            pairs(line),
            vec![
                ("request_id".to_string(), "r-1".to_string()),
                ("trace_id".to_string(), "4bf92f35".to_string())
            ]
        );
    }

    #[test]
    fn non_json_and_broken_json_give_nothing() {
        assert!(pairs(r#"plain "request_id" text"#).is_empty());
        assert!(pairs(r#"{"request_id": "r-1", "#).is_empty());
        assert!(pairs(r#"{"other":"x"}"#).is_empty());
        assert!(pairs(r#"{"request_id": {"a":1}}"#).is_empty());
    }

    #[test]
    fn escaped_values_and_numbers_are_kept() {
        assert_eq!(
            pairs(r#"{"request_id":"a\"b","trace_id":42}"#),
            vec![
                ("request_id".to_string(), "a\"b".to_string()),
                ("trace_id".to_string(), "42".to_string())
            ]
        );
    }
}
