//! The engine's modules form no import cycle: a module that names another
//! (`use crate::x`, `crate::x::…`) depends on it, and following those edges
//! never comes back. Every line counts but those of `#[cfg(test)] mod`
//! blocks. Plain kinds live in the leaf `kinds` module so that
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
            let code = without_test_modules(&text);
            let code = code.as_str();
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

/// The file less its `#[cfg(test)] mod … { … }` blocks: test code may name
/// anything, every other line counts (a `#[cfg(test)]` helper too).
fn without_test_modules(text: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        let after = &rest[at + MARK.len()..];
        let item = after.trim_start();
        match item.find(['{', ';']) {
            // `mod tests {`, `pub(crate) mod tests {`
            Some(open)
                if item.as_bytes()[open] == b'{'
                    && item[..open].split_whitespace().any(|w| w == "mod") =>
            {
                out.push_str(&rest[..at]);
                let body = &item[open..];
                rest = &body[block_len(body)..];
            }
            _ => {
                out.push_str(&rest[..at + MARK.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Length of the `{ … }` block `code` starts with, braces inside strings,
/// characters and comments not counted.
fn block_len(code: &str) -> usize {
    let bytes = code.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i += code[i..].find('\n').unwrap_or(code.len() - i);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += code[i..].find("*/").map_or(code.len() - i, |e| e + 1);
            }
            b'r' if matches!(bytes.get(i + 1), Some(b'#' | b'"'))
                && !bytes[i.saturating_sub(1)].is_ascii_alphanumeric() =>
            {
                let hashes = code[i + 1..].bytes().take_while(|b| *b == b'#').count();
                let close = format!("\"{}", "#".repeat(hashes));
                let start = i + 2 + hashes;
                i = start + code[start..].find(&close).unwrap() + close.len() - 1;
            }
            b'"' => {
                i += 1;
                while bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            // A character literal ('{', '\''), not a lifetime ('a).
            b'\'' if bytes.get(i + 2) == Some(&b'\'') => i += 2,
            b'\'' if bytes.get(i + 1) == Some(&b'\\') => {
                i += 2 + code[i + 2..].find('\'').unwrap();
            }
            _ => {}
        }
        i += 1;
    }
    panic!("an unclosed block");
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
fn only_test_modules_are_left_out() {
    let text = r##"use crate::a::X;
#[cfg(test)]
pub(crate) fn helper() -> crate::b::Y { todo!() }
#[cfg(test)]
pub(crate) mod tests {
    use crate::c::Z;
    const BRACES: &str = "}}{ \" }";
    const RAW: &str = r#"} " }"#;
    const CLOSE: char = '}';
    // }
    fn f<'a>(x: &'a str) -> &'a str { /* } */ x }
}
fn after() { crate::d::go() }
"##;
    let code = without_test_modules(text);
    for kept in ["crate::a", "crate::b", "crate::d"] {
        assert!(code.contains(kept), "{kept} left out: {code}");
    }
    assert!(!code.contains("crate::c"), "the test module stayed: {code}");
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
