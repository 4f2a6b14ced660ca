//! Golden files: every rendered file of every case is committed under
//! tests/golden/: what all cases render alike once in `_common/`, the rest
//! under `<case>/`. A change in output fails here; after an intended
//! change run `UPDATE_GOLDEN=1 cargo test -p factory --test recipe_golden`
//! and review the diff.

#[path = "recipe_common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use factory::recipe::Templates;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn read_tree(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_tree(&path, base, out);
        } else {
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.insert(rel, std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// The golden tree: what every case renders alike is kept once, in `_common/`
/// (the most frequent text of a file every case renders); a case's directory
/// holds only the files it renders differently or alone.
fn split(
    cases: &BTreeMap<String, BTreeMap<String, String>>,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut common = BTreeMap::new();
    let first = cases.values().next().expect("at least one case");
    for name in first.keys() {
        if !cases.values().all(|files| files.contains_key(name)) {
            continue;
        }
        let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
        for files in cases.values() {
            *counts.entry(&files[name]).or_default() += 1;
        }
        let (text, n) = counts.into_iter().max_by_key(|(_, n)| *n).unwrap();
        if n > 1 {
            common.insert(name.clone(), text.clone());
        }
    }
    let mut tree = BTreeMap::new();
    for (case, files) in cases {
        let own: BTreeMap<String, String> = files
            .iter()
            .filter(|(name, text)| common.get(*name) != Some(*text))
            .map(|(n, t)| (n.clone(), t.clone()))
            .collect();
        tree.insert(case.clone(), own);
    }
    tree.insert(COMMON.to_string(), common);
    tree
}

const COMMON: &str = "_common";

#[test]
fn rendered_recipes_match_the_golden_files() {
    let templates = Templates::load(None).unwrap();
    // Plain scripts are copied verbatim, not rendered: nothing to compare.
    let verbatim: Vec<String> = Templates::builtin_names()
        .into_iter()
        .filter(|n| !n.ends_with(".j2"))
        .collect();
    let mut cases = BTreeMap::new();
    for case in common::cases() {
        let mut rendered = templates.render(&common::context(&case)).unwrap();
        rendered.files.retain(|name, _| !verbatim.contains(name));
        cases.insert(case.name.clone(), rendered.files);
    }
    let wanted = split(&cases);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(golden_dir());
        for (dir, files) in &wanted {
            factory::recipe::Rendered {
                files: files.clone(),
            }
            .write_to(&golden_dir().join(dir))
            .unwrap();
        }
        return;
    }
    let common_files = read_dir_files(&golden_dir().join(COMMON));
    let mut failures = Vec::new();
    for (case, rendered) in &cases {
        let mut expected = common_files.clone();
        expected.extend(read_dir_files(&golden_dir().join(case)));
        if &expected != rendered {
            let names: std::collections::BTreeSet<&String> = expected
                .keys()
                .chain(rendered.keys())
                .filter(|k| expected.get(*k) != rendered.get(*k))
                .collect();
            failures.push(format!("{case}: {names:?} differ"));
        }
    }
    assert!(
        failures.is_empty(),
        "rendered output changed (UPDATE_GOLDEN=1 regenerates, then review `git diff`):\n{}",
        failures.join("\n")
    );
}

fn read_dir_files(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    if dir.is_dir() {
        read_tree(dir, dir, &mut files);
    }
    files
}
