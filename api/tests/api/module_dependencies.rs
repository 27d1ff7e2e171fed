//! The crate's modules depend on each other one way only: request → handler → domain →
//! store, with shared types one floor below their users. Read from the source: every
//! `crate::<module>` a top-level module names outside its tests is an edge.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// The top-level modules of `task_api` and the ones each names.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let module_of = |path: &Path| -> Option<String> {
        let relative = path.strip_prefix(&src).unwrap();
        let first = relative.components().next()?.as_os_str().to_str()?;
        let name = first.trim_end_matches(".rs");
        (name != "lib" && name != "main").then(|| name.to_owned())
    };
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(module) = module_of(file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let code: String = code
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let edges = graph.entry(module.clone()).or_default();
        // `crate::a::…` and the names inside `use crate::{a::…, b, …}`.
        let mut names: Vec<String> = code
            .split("crate::")
            .skip(1)
            .map(|rest| {
                rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        for group in code.split("use crate::{").skip(1) {
            // Top-level names of the group: the first word after `{` or a `,` at depth 0.
            let (mut depth, mut expect_name, mut word) = (0, true, String::new());
            for c in group.chars() {
                if depth == 0 && expect_name && (c.is_alphanumeric() || c == '_') {
                    word.push(c);
                    continue;
                }
                if !word.is_empty() {
                    names.push(std::mem::take(&mut word));
                    expect_name = false;
                }
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => expect_name = true,
                    _ => {}
                }
            }
        }
        names.retain(|name| !name.is_empty());
        edges.extend(names);
        edges.retain(|name| modules.contains(name) && *name != module);
    }
    graph
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let graph = dependencies();
    for start in graph.keys() {
        let mut stack = vec![vec![start.clone()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            for next in &graph[path.last().unwrap()] {
                assert!(
                    next != start,
                    "import cycle: {} -> {next}",
                    path.join(" -> ")
                );
                if seen.insert(next.clone()) && graph.contains_key(next) {
                    stack.push([path.clone(), vec![next.clone()]].concat());
                }
            }
        }
    }
}

#[test]
fn lower_layers_never_reach_up() {
    let graph = dependencies();
    assert!(
        graph["routes"].contains("state"),
        "the check reads imports: {graph:?}"
    );
    for (module, above) in [
        (
            "domain",
            &["routes", "startup", "state", "store", "auth", "problem"][..],
        ),
        (
            "store",
            &["routes", "startup", "state", "auth", "problem"][..],
        ),
        ("auth", &["routes", "startup", "state", "problem"][..]),
        ("routes", &["startup"][..]),
        ("state", &["routes", "startup"][..]),
        (
            "telemetry",
            &["routes", "startup", "state", "store", "auth"][..],
        ),
    ] {
        for upper in above {
            assert!(
                !graph[module].contains(*upper),
                "{module} imports {upper}, a module above it"
            );
        }
    }
}
