//! Golden files: every rendered file of every case is committed under
//! tests/golden/<case>/. A change in output fails here; after an intended
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

#[test]
fn rendered_recipes_match_the_golden_files() {
    let templates = Templates::load(None).unwrap();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    // Plain scripts are copied verbatim, not rendered: nothing to compare.
    let verbatim: Vec<String> = Templates::builtin_names()
        .into_iter()
        .filter(|n| !n.ends_with(".j2"))
        .collect();
    for case in common::cases() {
        let mut rendered = templates.render(&common::context(&case)).unwrap();
        rendered.files.retain(|name, _| !verbatim.contains(name));
        let dir = golden_dir().join(&case.name);
        if update {
            let _ = std::fs::remove_dir_all(&dir);
            rendered.write_to(&dir).unwrap();
            continue;
        }
        let mut expected = BTreeMap::new();
        if dir.is_dir() {
            read_tree(&dir, &dir, &mut expected);
        }
        if expected != rendered.files {
            let names: std::collections::BTreeSet<&String> = expected
                .keys()
                .chain(rendered.files.keys())
                .filter(|k| expected.get(*k) != rendered.files.get(*k))
                .collect();
            failures.push(format!("{}: {names:?} differ", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "rendered output changed (UPDATE_GOLDEN=1 regenerates, then review `git diff`):\n{}",
        failures.join("\n")
    );
}
