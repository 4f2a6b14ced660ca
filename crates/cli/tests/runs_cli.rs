//! `slurm-factory runs …` against a data dir holding a run whose record was
//! cut short (a crash or a full disk mid-write): reported, never a panic or a
//! silently shorter list.

use std::process::{Command, Output};

use factory::store::runs::{RunDir, RunRecord};

fn cli(root: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slurm-factory"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", root)
        .env("SLURM_FACTORY_CONFIG", root.join("absent.toml"))
        .env("SLURM_FACTORY_DATA_DIR", root.join("data"))
        .env("SLURM_FACTORY_CACHE_DIR", root.join("cache"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn a_run_with_half_a_record_is_reported_by_list_and_show() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("data/runs");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let run = RunDir::create(&runs).unwrap();
        run.write_json(
            "run.json",
            &RunRecord {
                id: run.id.clone(),
                artifact_name: "slurm-25.05-minimal-x86_64_v3".into(),
                started: "2026-12-02T00:00:00Z".into(),
                finished: Some("2026-12-02T00:01:00Z".into()),
                outcome: Some(factory::kinds::Outcome::Succeeded),
                pid: 1,
                artifact_id: None,
                interrupted: false,
            },
        )
        .unwrap();
        ids.push(run.id);
    }
    let torn = runs.join(&ids[1]).join("run.json");
    let text = std::fs::read(&torn).unwrap();
    std::fs::write(&torn, &text[..text.len() / 2]).unwrap();

    let out = cli(tmp.path(), &["runs", "list"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&ids[0]) && !stdout.contains(&ids[1]),
        "{stdout}"
    );
    assert!(
        stderr.contains("warning:") && stderr.contains(&ids[1]),
        "the damaged run is named: {stderr}"
    );

    let out = cli(tmp.path(), &["runs", "show", &ids[1]]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("cut off or edited"), "{stderr}");
}
