//! `slurm-factory matrix` against real LXD with the `hello` test recipe:
//! four builds, two at a time, each verified; then one package removed and
//! `--resume` builds that one alone.
//!
//! Needs the images and pool `.ci/setup-lxd.sh` prepares (see pipeline.rs).

use slurm_factory_e2e::{hello_recipe, slurm_factory, TestEnv};

const MATRIX: &str = "\
base: {minimal: true, jobs: 1}
axes:
  slurm_version: ['25.05', '24.11']
  target: [x86_64_v3, x86_64_v2]
";

fn events(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn a_matrix_runs_two_at_a_time_and_resumes_only_what_is_missing() {
    let Some(t) = TestEnv::from_env("a_matrix_runs_two_at_a_time_and_resumes_only_what_is_missing")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let vars = t.cli_env(tmp.path(), &hello_recipe());
    let file = tmp.path().join("lab.yaml");
    std::fs::write(&file, MATRIX).unwrap();
    let file = file.display().to_string();

    let started = std::time::Instant::now();
    let out = slurm_factory(
        tmp.path(),
        vars.clone(),
        &["matrix", &file, "--parallel", "2", "--json"],
    );
    let events = events(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    println!(
        "4 builds, 2 at a time: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let summary: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["type"] == "matrix_build")
        .collect();
    let names: Vec<&str> = summary
        .iter()
        .map(|e| e["artifact_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "slurm-25.05-minimal-x86_64_v3",
            "slurm-25.05-minimal-x86_64_v2",
            "slurm-24.11-minimal-x86_64_v3",
            "slurm-24.11-minimal-x86_64_v2",
        ]
    );
    assert!(
        summary.iter().all(|e| e["outcome"] == "verified"),
        "{summary:?}"
    );
    // Every event names its build; two builds ran at once: a second one
    // started before the first one finished.
    let order: Vec<(u64, &str)> = events
        .iter()
        .filter(|e| e["type"] == "run_started" || e["type"] == "run_finished")
        .map(|e| (e["build"].as_u64().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    assert_eq!(order.len(), 8, "{order:?}");
    let first_end = order.iter().position(|o| o.1 == "run_finished").unwrap();
    let started_before: Vec<u64> = order[..first_end].iter().map(|o| o.0).collect();
    assert!(started_before.len() >= 2, "one build at a time: {order:?}");
    let list: Vec<serde_json::Value> = serde_json::from_slice(
        &slurm_factory(tmp.path(), vars.clone(), &["artifacts", "list", "--json"]).stdout,
    )
    .unwrap();
    assert_eq!(list.len(), 4);
    assert!(list.iter().all(|a| a["verified"] == true), "{list:?}");

    // One package gone: --resume builds it alone and skips the rest.
    let gone = summary[2]["artifact_id"].as_str().unwrap();
    let deleted = slurm_factory(
        tmp.path(),
        vars.clone(),
        &["artifacts", "delete", gone, "--yes"],
    );
    assert!(deleted.status.success());
    let out = slurm_factory(tmp.path(), vars, &["matrix", &file, "--resume", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = self::events(&out.stdout);
    let outcomes: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "matrix_build")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["skipped", "skipped", "verified", "skipped"]);
    let runs: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "run_started")
        .map(|e| e["build"].as_u64().unwrap())
        .collect();
    assert_eq!(runs, [3], "only the missing package is built");
}
