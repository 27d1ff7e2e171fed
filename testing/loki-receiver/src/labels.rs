//! Parses a stream's label string (`{name="value", ...}`), the Prometheus selector form
//! Loki's distributor parses, into a canonical sorted set.

use std::collections::BTreeMap;

/// Why a label string was rejected; the text follows Loki's wording closely enough for a
/// test to match on.
#[derive(Debug, PartialEq, Eq)]
pub struct LabelError(pub String);

impl std::fmt::Display for LabelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses `{a="b",c="d"}`; names must match `[a-zA-Z_][a-zA-Z0-9_]*`, values are
/// double-quoted with backslash escapes, duplicates and empty sets are errors.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, LabelError> {
    let err = |why: &str| LabelError(format!("error parsing labels '{text}': {why}"));
    let mut chars = text.trim().chars().peekable();
    if chars.next() != Some('{') {
        return Err(err("expected '{'"));
    }
    let mut set = BTreeMap::new();
    loop {
        skip_ws(&mut chars);
        match chars.peek() {
            Some('}') => {
                chars.next();
                break;
            }
            None => return Err(err("unexpected end")),
            _ => {}
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(err("invalid label name"));
        }
        skip_ws(&mut chars);
        if chars.next() != Some('=') {
            return Err(err("expected '='"));
        }
        skip_ws(&mut chars);
        if chars.next() != Some('"') {
            return Err(err("expected '\"'"));
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('"') => break,
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some(c @ ('\\' | '"' | '\'')) => value.push(c),
                    _ => return Err(err("invalid escape")),
                },
                Some(c) => value.push(c),
                None => return Err(err("unterminated value")),
            }
        }
        if set.insert(name.clone(), value).is_some() {
            return Err(err(&format!("duplicate label name {name}")));
        }
        skip_ws(&mut chars);
        match chars.next() {
            Some(',') => continue,
            Some('}') => break,
            _ => return Err(err("expected ',' or '}'")),
        }
    }
    if chars.next().is_some() {
        return Err(err("trailing characters"));
    }
    if set.is_empty() {
        return Err(LabelError(
            "error at least one label pair is required per stream".to_string(),
        ));
    }
    Ok(set)
}

/// The canonical text of a label set (sorted, as Loki stores it).
pub fn canonical(set: &BTreeMap<String, String>) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in set.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}

fn skip_ws(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.peek().is_some_and(|c| c.is_whitespace()) {
        chars.next();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_sorts_escaped_values() {
        let set = parse(r#"{pod="a\"b", app = "x\\y\n" }"#).unwrap();
        assert_eq!(set["pod"], "a\"b");
        assert_eq!(set["app"], "x\\y\n");
        assert_eq!(canonical(&set), r#"{app="x\\y\n", pod="a\"b"}"#);
    }

    #[test]
    fn rejects_empty_duplicate_and_malformed_sets() {
        assert!(parse("{}").unwrap_err().0.contains("at least one label"));
        assert!(
            parse(r#"{a="1",a="2"}"#)
                .unwrap_err()
                .0
                .contains("duplicate")
        );
        assert!(parse(r#"{1a="x"}"#).is_err());
        assert!(parse(r#"a="x""#).is_err());
        assert!(parse(r#"{a="x"#).is_err());
        assert!(parse(r#"{a="x"} junk"#).is_err());
    }
}
