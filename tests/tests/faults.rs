//! Faults against real LXD with the `hello` test recipe: the CLI killed with
//! SIGKILL as each stage starts, and two builds at once on the same caches.
//! Each leaves nothing broken: no instance, no half artifact, caches usable,
//! and the next build succeeds.
//!
//! Needs the images and pool `.ci/setup-lxd.sh` prepares (see pipeline.rs).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use factory::artifacts::Store;
use factory::kinds::{RunStatus, Stage};
use factory::settings::Settings;
use slurm_factory_e2e::{
    built_binary, hello_recipe, instances_of_run, slurm_factory, store_entries, TestEnv, TARGET,
};

const BUILD: [&str; 7] = [
    "build",
    "--minimal",
    "--target",
    TARGET,
    "--jobs",
    "2",
    "--json",
];

/// Starts `slurm-factory build --json` and kills it (SIGKILL) as soon as it
/// prints `stage_started` for `stage`; returns the run id, or `None` when the
/// build finished before that stage began.
fn build_killed_at(home: &Path, vars: &[(String, String)], stage: Stage) -> Option<String> {
    let mut child = Command::new(built_binary("slurm-factory"))
        .args(BUILD)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting slurm-factory build");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut run_id = None;
    for line in stdout.lines() {
        let Ok(line) = line else { break };
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        match event["type"].as_str() {
            Some("run_started") => run_id = event["run_id"].as_str().map(str::to_string),
            Some("stage_started") if event["stage"] == stage.as_str() => {
                child.kill().expect("SIGKILL");
                child.wait().unwrap();
                return run_id;
            }
            _ => {}
        }
    }
    child.wait().unwrap();
    None
}

/// Every entry of the store is a whole artifact the store can show, and no
/// staging (`.incoming-*`) dir is left.
fn store_is_whole(settings: &Settings) {
    let entries = store_entries(settings);
    assert!(
        entries.iter().all(|e| !e.starts_with('.')),
        "staging dirs left in the store: {entries:?}"
    );
    let store = Store::new(settings.artifacts_dir());
    for a in store.list().unwrap() {
        let shown = store.show(&a.id).unwrap();
        for archive in &shown.manifest.archives {
            let len = std::fs::metadata(shown.dir.join(&archive.file))
                .unwrap()
                .len();
            assert_eq!(len, archive.bytes, "{} is cut short", archive.file);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_killed_at_each_stage_leaves_nothing_broken() {
    let Some(t) = TestEnv::from_env("cli_killed_at_each_stage_leaves_nothing_broken") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let settings = t.settings(tmp.path(), &hello_recipe());
    let vars = t.cli_env(tmp.path(), &hello_recipe());
    let started = Instant::now();
    let mut killed = Vec::new();
    for (i, stage) in Stage::ALL.into_iter().enumerate() {
        let t0 = Instant::now();
        let run_id = build_killed_at(tmp.path(), &vars, stage)
            .unwrap_or_else(|| panic!("the build ended before {stage} started"));
        // The run is recorded as interrupted, not running or failed.
        let dir = factory::runs::RunDir::open(&settings.runs_dir(), &run_id).unwrap();
        assert_eq!(dir.record().unwrap().status(), RunStatus::Interrupted);
        // Half the time `clean` tidies up; else the next build's preflight does.
        if i % 2 == 0 {
            let out = slurm_factory(tmp.path(), vars.clone(), &["clean"]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                instances_of_run(&settings, &run_id).await,
                Vec::<String>::new()
            );
            store_is_whole(&settings);
        }
        println!(
            "killed at {stage:<16} then {:<10} {:.1} s",
            if i % 2 == 0 { "clean" } else { "next build" },
            t0.elapsed().as_secs_f64()
        );
        killed.push(run_id);
    }

    // The next build succeeds with the caches the killed ones left.
    let out = slurm_factory(tmp.path(), vars.clone(), &BUILD);
    assert!(
        out.status.success(),
        "the build after eleven kills failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for run_id in &killed {
        assert_eq!(
            instances_of_run(&settings, run_id).await,
            Vec::<String>::new(),
            "instances of killed run {run_id} left"
        );
    }
    store_is_whole(&settings);
    let store = Store::new(settings.artifacts_dir());
    // Only the run killed as cleanup started got as far as an artifact.
    let artifacts = store.list().unwrap();
    assert!(
        (1..=2).contains(&artifacts.len()),
        "{} artifacts: {artifacts:?}",
        artifacts.len()
    );
    let history = factory::history::history(&settings.runs_dir(), &store, None);
    let interrupted = history
        .runs
        .iter()
        .filter(|r| r.status == RunStatus::Interrupted)
        .count();
    assert_eq!(interrupted, Stage::ALL.len(), "{history:#?}");
    assert_eq!(
        history.runs.last().map(|r| r.status),
        Some(RunStatus::Succeeded)
    );
    println!(
        "11 kills (one per stage) and a good build: {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_builds_at_once_share_every_cache() {
    let Some(t) = TestEnv::from_env("two_builds_at_once_share_every_cache") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let settings = t.settings(tmp.path(), &hello_recipe());
    let vars = t.cli_env(tmp.path(), &hello_recipe());
    let run_pair = |a: Vec<&'static str>, b: Vec<&'static str>| {
        let (home, vars) = (tmp.path().to_path_buf(), vars.clone());
        let first = {
            let (home, vars) = (home.clone(), vars.clone());
            std::thread::spawn(move || slurm_factory(&home, vars, &a))
        };
        // The second starts while the first runs.
        std::thread::sleep(Duration::from_millis(500));
        let second = slurm_factory(&home, vars, &b);
        (first.join().unwrap(), second)
    };
    let with = |extra: &[&'static str]| [&BUILD[..], extra].concat();
    // Different requests (headers kept or not), then the same request twice.
    for (round, (a, b)) in [
        (with(&[]), with(&["--keep-headers"])),
        (with(&[]), with(&[])),
    ]
    .into_iter()
    .enumerate()
    {
        let t0 = Instant::now();
        let (x, y) = run_pair(a, b);
        for out in [&x, &y] {
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let last: serde_json::Value =
                serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap())
                    .unwrap();
            assert_eq!(last["outcome"], "succeeded", "{last}");
        }
        println!(
            "round {round}: two builds at once, both verified, {:.1} s",
            t0.elapsed().as_secs_f64()
        );
    }
    store_is_whole(&settings);
    let store = Store::new(settings.artifacts_dir());
    assert_eq!(store.list().unwrap().len(), 4);
    // One lock per request solved, whichever build got there first.
    let locks = factory::cache::CacheDirs::new(&settings).locks;
    let lock_files = std::fs::read_dir(&locks)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".lock"))
        .count();
    assert!(lock_files >= 1, "no lock cached in {}", locks.display());
    let out = slurm_factory(tmp.path(), vars.clone(), &["runs", "stats", "--json"]);
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(history["runs"].as_array().unwrap().len(), 4);
    assert_eq!(history["failures"], serde_json::json!([]));
}
