//! `slurm-factory artifacts …` run as a user runs it, against a store in a temp data dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use factory::package::{archive, ArchiveFormat, Manifest, MANIFEST_FILE};
use factory::store::artifacts::Store;

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        Env { _tmp: tmp, root }
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_slurm-factory"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("HOME", &self.root)
            .env("SLURM_FACTORY_CONFIG", self.root.join("absent.toml"))
            .env("SLURM_FACTORY_DATA_DIR", self.root.join("data"))
            .env("SLURM_FACTORY_CACHE_DIR", self.root.join("cache"))
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    fn store(&self) -> Store {
        Store::new(self.root.join("data/artifacts"))
    }

    /// Adds an artifact named `name` created at `created` (RFC 3339).
    fn add(&self, name: &str, created: &str) -> String {
        let tree = self.root.join(format!("tree-{name}"));
        std::fs::create_dir_all(tree.join("bin")).unwrap();
        std::fs::write(tree.join("bin/sinfo"), format!("#!/bin/sh\necho {name}\n")).unwrap();
        let staging = self.root.join(format!("staging-{name}"));
        std::fs::create_dir_all(&staging).unwrap();
        let files = archive(&tree, &staging, name, &[ArchiveFormat::TarZst]).unwrap();
        let mut m: Manifest = serde_json::from_value(serde_json::json!({
            "name": name, "slurm_version": "24.11", "spack_version": "24-11-6-1",
            "package_type": "default", "target": "x86_64_v3", "created": created,
            "tool_version": "0.1.0", "build_prefix": "/opt/build", "request": {},
            "sizes": { "unpacked": 1000, "archives": {} }, "archives": [],
            "verify": { "passed": true, "checks": [
                { "name": "srun hostname", "passed": true, "output": "node1" } ] },
        }))
        .unwrap();
        m.set_archives(&files);
        m.write_atomic(&staging.join(MANIFEST_FILE)).unwrap();
        self.store().add(&staging).unwrap().id
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sha(path: &Path) -> String {
    factory::package::sha256_file(path).unwrap()
}

#[test]
fn list_of_an_empty_store() {
    let env = Env::new();
    let out = env.cli(&["artifacts", "list"]);
    assert!(out.status.success());
    assert!(
        text(&out).0.starts_with("No artifacts in "),
        "{:?}",
        text(&out)
    );
    let out = env.cli(&["artifacts", "list", "--json"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn list_show_export_delete() {
    let env = Env::new();
    let old = env.add("slurm-24.11-default-x86_64_v3", "2026-11-20T10:00:00Z");
    let new = env.add("slurm-24.11-minimal-x86_64_v3", "2026-11-24T15:30:00Z");
    assert_eq!(new, "slurm-24.11-minimal-x86_64_v3-20261124T153000");

    let out = env.cli(&["artifacts", "list"]);
    let (stdout, _) = text(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("ID ") && lines[0].contains("VERIFIED"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with(&new) && lines[2].starts_with(&old),
        "{stdout}"
    );
    assert!(
        lines[1].contains("2026-11-24") && lines[1].trim_end().ends_with("yes"),
        "{stdout}"
    );

    let out = env.cli(&["artifacts", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["id"], new.as_str());
    assert_eq!(list[1]["created"], "2026-11-20T10:00:00Z");
    assert_eq!(list[1]["verified"], true);

    let stored = env.store().show(&old).unwrap();
    let digest = stored.manifest.archives[0].sha256.clone();
    let out = env.cli(&["artifacts", "show", &old]);
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    assert!(stdout.contains(&format!("sha256 {digest}")), "{stdout}");
    assert!(stdout.contains("yes (1/1 checks passed)"), "{stdout}");
    let out = env.cli(&["artifacts", "show", &old, "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["manifest"]["name"], "slurm-24.11-default-x86_64_v3");

    // Export, refuse to overwrite, overwrite with --force.
    let dest = env.root.join("slurm.tar.zst");
    let out = env.cli(&["artifacts", "export", &old, dest.to_str().unwrap()]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(sha(&dest), digest);
    let out = env.cli(&["artifacts", "export", &old, dest.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("already exists") && stderr.contains("hint: pass `--force`"),
        "{stderr}"
    );
    let out = env.cli(&[
        "artifacts",
        "export",
        &old,
        dest.to_str().unwrap(),
        "--force",
        "--json",
    ]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["sha256"], digest.as_str());
    assert_eq!(r["replaced"], true);

    // A damaged archive in the store is caught, and nothing lands at the destination.
    let stored_file = stored.dir.join(&stored.manifest.archives[0].file);
    let mut bytes = std::fs::read(&stored_file).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&stored_file, bytes).unwrap();
    let out = env.cli(&[
        "artifacts",
        "export",
        &old,
        env.root.join("bad.tar.zst").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(5));
    let err: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .starts_with("checksum mismatch"),
        "{err}"
    );
    assert!(!env.root.join("bad.tar.zst").exists());

    // Delete asks for --yes when nobody can answer.
    let out = env.cli(&["artifacts", "delete", &new]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("hint: pass `--yes`"),
        "{:?}",
        text(&out)
    );
    assert!(env.store().show(&new).is_ok());
    let out = env.cli(&["artifacts", "delete", &new, "--yes"]);
    assert!(out.status.success());
    assert_eq!(text(&out).0, format!("deleted {new}\n"));
    let out = env.cli(&["artifacts", "show", &new]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains(&format!("no artifact `{new}`")),
        "{:?}",
        text(&out)
    );

    let out = env.cli(&["artifacts", "show", "../../etc", "--json"]);
    let err: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid artifact id"),
        "{err}"
    );
    assert_eq!(err["exit_code"], 2);
}
