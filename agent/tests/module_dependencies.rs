//! The agent's modules form layers and data flows one way: each `crate::` (or `super::`)
//! path in `src/` may only name a module on a lower layer, and no two components on
//! the same layer (two sources, two sinks, a source and a sink) import each other. Test
//! modules (`#[cfg(test)]`, at the end of a file) are not checked: a test may load a
//! whole config.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layer of every unit, lowest first; a unit may import only lower layers.
fn layer(unit: &str) -> usize {
    match unit {
        "metric" | "config::types" | "cli" => 0,
        "telemetry" => 1,
        "checkpoint" => 2,
        "pipeline" => 3,
        "sinks::retry" | "sinks::telemetry" => 4,
        _ if unit.starts_with("sources::") || unit.starts_with("sinks::") => 5,
        "sources" | "sinks" => 6,
        "config" | "server" => 7,
        "app" => 8,
        "root" => 9,
        other => panic!("module {other} has no layer: add it to this test's table"),
    }
}

/// The unit a module path belongs to: a component folder, or a top-level module.
fn unit(path: &[String]) -> String {
    match path {
        [] => "root".to_string(),
        [top] if top == "lib" || top == "main" => "root".to_string(),
        [top] => top.clone(),
        [top, second, ..] if top == "sources" || top == "sinks" => format!("{top}::{second}"),
        [top, second, ..] if top == "config" && second == "types" => "config::types".to_string(),
        [top, ..] => top.clone(),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `sources/node/mod.rs` is `sources::node`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut path: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    path
}

/// Every module path the code of `text` names, resolved from `module`.
fn imports(module: &[String], text: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        for (at, _) in code.match_indices("crate::") {
            if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            found.push(segments(&code[at + "crate::".len()..]));
        }
        for (at, _) in code.match_indices("super::") {
            if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut base = module.to_vec();
            let mut rest = &code[at..];
            while let Some(after) = rest.strip_prefix("super::") {
                base.pop();
                rest = after;
            }
            base.extend(segments(rest));
            found.push(base);
        }
    }
    found
}

/// The lower-case path segments at the start of `rest` (`sinks::retry::Backoff` gives
/// `sinks`, `retry`).
fn segments(rest: &str) -> Vec<String> {
    let mut out = Vec::new();
    for segment in rest.split("::") {
        let name: String = segment
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if name.is_empty() {
            break;
        }
        let whole = name.len() == segment.len();
        out.push(name);
        if !whole {
            break;
        }
    }
    out
}

#[test]
fn every_import_names_a_lower_layer_and_no_component_imports_another() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = BTreeSet::new();
    let mut checked = 0;
    for file in &files {
        let module = module_of(&src, file);
        let from = unit(&module);
        let text = std::fs::read_to_string(file).unwrap();
        for target in imports(&module, &text) {
            let to = unit(&target);
            if to == from || to == "root" && target.is_empty() {
                continue;
            }
            checked += 1;
            if layer(&to) >= layer(&from) {
                wrong.insert(format!(
                    "{} ({from}, layer {}) imports {} ({to}, layer {})",
                    file.strip_prefix(&src).unwrap().display(),
                    layer(&from),
                    target.join("::"),
                    layer(&to)
                ));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} imports found: the parser is broken"
    );
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.into_iter().collect::<Vec<_>>().join("\n")
    );
}
