//! The engine's modules form no import cycle: a module that names another
//! (`use crate::x`, `crate::x::…`) depends on it, and following those edges
//! never comes back. Plain kinds live in the leaf `kinds` module so that
//! events, runs, cache, request and hardware need not name each other.
//!
//! `cargo test -p factory --test module_graph -- --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules it names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap();
            let first = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let module = first.trim_end_matches(".rs").to_string();
            if module == "lib" || module == "bindings" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Test code may name anything.
            let code = text.split("#[cfg(test)]").next().unwrap();
            let names = graph.entry(module.clone()).or_default();
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                // `crate::{a, b}` groups.
                let named: Vec<String> = if name.is_empty() && rest.starts_with('{') {
                    rest[1..rest.find('}').unwrap()]
                        .split(',')
                        .map(|s| s.trim().split("::").next().unwrap().to_string())
                        .collect()
                } else {
                    vec![name]
                };
                for n in named {
                    if !n.is_empty() && n != module && n.chars().next().unwrap().is_lowercase() {
                        names.insert(n);
                    }
                }
            }
        }
    }
    graph
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.graph.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn the_engine_modules_form_no_import_cycle() {
    let graph = graph();
    for (module, names) in &graph {
        println!(
            "{module:<14} -> {}",
            names.iter().cloned().collect::<Vec<_>>().join(" ")
        );
    }
    assert!(
        graph["kinds"].is_empty(),
        "kinds is a leaf: {:?}",
        graph["kinds"]
    );
    let found = cycles(&graph);
    assert!(found.is_empty(), "import cycles: {found:?}");
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("cache", vec!["events"]),
        ("events", vec!["runs"]),
        ("runs", vec!["cache"]),
        ("kinds", vec![]),
    ]
    .into_iter()
    .map(|(m, n)| (m.to_string(), n.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(cycles(&graph), [["cache", "events", "runs"]]);
}
