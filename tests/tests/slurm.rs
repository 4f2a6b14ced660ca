//! Real Slurm through the whole pipeline, in real LXD containers.
//!
//! The `tests/recipes/slurm` templates build SchedMD's Slurm 22.05.8 (Debian's
//! `slurm-wlm` orig tarball, from the source-mirror layer) with autotools and
//! ccache; the built-in package stage relocates it and the built-in verify
//! script runs a one-node cluster from it in a clean instance: `sinfo`, `srun
//! hostname`, `sbatch --wrap`. A first build goes through the library (cold
//! ccache), a second through the `slurm-factory` binary with the same cache
//! layers (warm ccache), then `artifacts list` must show it verified.
//!
//! Needs `.ci/setup-lxd.sh` (as root): it builds the images, fetches the
//! source and writes the variables below to its env file. Without them the
//! test prints SKIPPED and passes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use factory::artifacts::{Store, VERIFY_LOG};
use factory::events::BuildEvent;
use factory::package::Manifest;
use factory::pipeline::{self, BuildFlags, BuildOptions};
use factory::request::{BuildRequest, Defaults};
use factory::settings::{self, Settings, XdgDirs};
use slurm_factory_e2e::{test_var, test_vars};
use tokio_util::sync::CancellationToken;

const TARGET: &str = "x86_64_v3";
/// The raw install tree measured with this recipe's configure (static archives included).
const RAW_TREE_FLOOR: u64 = 100 << 20;

struct SlurmEnv {
    build_image: String,
    run_image: String,
    source: PathBuf,
    pool: Option<String>,
}

/// The Slurm the recipe builds, as the request names it (artifact `slurm-22-05-8-1-minimal-…`).
const SLURM_VERSION: &str = "22-05-8-1";

fn slurm_env(test: &str) -> Option<SlurmEnv> {
    let [build_image, run_image, source] = test_vars(
        test,
        [
            "SLURM_FACTORY_TEST_SLURM_IMAGE",
            "SLURM_FACTORY_TEST_SLURM_RUN_IMAGE",
            "SLURM_FACTORY_TEST_SLURM_SOURCE",
        ],
        "no real-Slurm test setup. Run .ci/setup-lxd.sh (as root) and \
         `export $(cat ~/.cache/slurm-factory-ci/env)` (SLURM_FACTORY_TEST_SLURM_IMAGE, \
         SLURM_FACTORY_TEST_SLURM_RUN_IMAGE, SLURM_FACTORY_TEST_SLURM_SOURCE)",
    )?;
    Some(SlurmEnv {
        build_image,
        run_image,
        source: source.into(),
        pool: test_var("SLURM_FACTORY_TEST_POOL"),
    })
}

fn recipe_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/slurm")
}

/// The `SLURM_FACTORY_*` variables of these builds, for the library and the binary alike.
fn build_vars(env: &SlurmEnv, root: &Path) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::from([
        ("SLURM_FACTORY_IMAGE", env.build_image.clone()),
        ("SLURM_FACTORY_VERIFY_IMAGE", env.run_image.clone()),
        (
            "SLURM_FACTORY_TEMPLATES_DIR",
            recipe_dir().display().to_string(),
        ),
        (
            "SLURM_FACTORY_DATA_DIR",
            root.join("data").display().to_string(),
        ),
        (
            "SLURM_FACTORY_CACHE_DIR",
            root.join("cache").display().to_string(),
        ),
    ]);
    if let Some(pool) = &env.pool {
        vars.insert("SLURM_FACTORY_STORAGE_POOL", pool.clone());
    }
    // Another LXD project keeps these long builds apart from other users' runs.
    if let Some(project) = std::env::var("SLURM_FACTORY_LXD_PROJECT")
        .ok()
        .filter(|p| !p.is_empty())
    {
        vars.insert("SLURM_FACTORY_LXD_PROJECT", project);
    }
    vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn load_settings(root: &Path, vars: &BTreeMap<String, String>) -> Settings {
    let dirs = XdgDirs {
        config: root.join("config"),
        data: root.join("data"),
        cache: root.join("cache"),
    };
    settings::load(&dirs, vars).unwrap().settings
}

/// The source-mirror layer holds the tarball, as a user's offline mirror would.
fn seed_mirror(env: &SlurmEnv, root: &Path) {
    let mirror = root.join("cache/mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    let name = env.source.file_name().expect("a tarball file name");
    std::fs::copy(&env.source, mirror.join(name)).unwrap_or_else(|e| {
        panic!(
            "copying {} into the mirror: {e} (run .ci/fetch-slurm-source.sh)",
            env.source.display()
        )
    });
}

/// `ccache: H hits, M misses`, the install script's summary line.
fn ccache_counts(build_log: &str) -> (u64, u64) {
    let line = build_log
        .lines()
        .find_map(|l| l.strip_prefix("[install] ccache: "))
        .unwrap_or_else(|| panic!("no ccache summary in the install log:\n{build_log}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(numbers.len(), 2, "{line}");
    (numbers[0], numbers[1])
}

/// Bytes of the raw install tree, from the install script's `install tree:` line.
fn raw_tree_bytes(build_log: &str) -> (u64, u64) {
    let line = build_log
        .lines()
        .find_map(|l| l.strip_prefix("[install] install tree: "))
        .unwrap_or_else(|| panic!("no install tree size in the install log"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (numbers[0], numbers[1])
}

fn stage_seconds(manifest: &Manifest, stage: &str) -> f64 {
    manifest
        .stages
        .iter()
        .find(|s| s.stage == stage)
        .unwrap_or_else(|| panic!("no {stage} timing in {:?}", manifest.stages))
        .seconds
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// What a user checks on a finished Slurm artifact: verified at another
/// prefix by a working one-node cluster, with the evidence in its verify log.
fn assert_verified_slurm(store: &Store, artifact_id: &str, run_id: &str) -> Manifest {
    let artifact = store.show(artifact_id).unwrap();
    let m = artifact.manifest;
    let verify = m.verify.as_ref().expect("verify ran");
    let names: Vec<&str> = verify.checks.iter().map(|c| c.name.as_str()).collect();
    assert!(verify.passed, "{:#?}", verify.checks);
    for check in [
        "unpack",
        "libraries-resolve",
        "slurmctld-version",
        "module-load",
        "munged-start",
        "sinfo-version",
        "slurmctld-start",
        "slurmd-start",
        "node-idle",
        "srun-hostname",
        "sbatch-job",
    ] {
        assert!(
            names.contains(&check),
            "check {check} missing from {names:?}"
        );
    }
    let log = std::fs::read_to_string(artifact.dir.join(VERIFY_LOG)).unwrap();
    println!("---- verify log of {artifact_id} ----\n{log}---- end of verify log ----");
    let host = format!("sf-verify-{run_id}");
    let lines: Vec<&str> = log.lines().map(str::trim_end).collect();
    assert!(log.contains("slurm 22.05.8"), "slurmctld -V output:\n{log}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("PARTITION") && l.contains("NODELIST")),
        "sinfo's header:\n{log}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("idle") && l.ends_with(&host)),
        "sinfo shows {host} idle:\n{log}"
    );
    assert!(lines.contains(&host.as_str()), "srun hostname:\n{log}");
    assert!(
        lines.contains(&format!("job ran on {host}").as_str()),
        "sbatch job output:\n{log}"
    );
    assert!(
        log.contains(pipeline::VERIFY_PREFIX),
        "unpacked at {}:\n{log}",
        pipeline::VERIFY_PREFIX
    );
    m
}

#[tokio::test(flavor = "multi_thread")]
async fn real_slurm_builds_relocates_and_runs_jobs_from_another_prefix() {
    let Some(env) = slurm_env("real_slurm_builds_relocates_and_runs_jobs") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    seed_mirror(&env, root);
    let vars = build_vars(&env, root);
    let settings = load_settings(root, &vars);

    // 1. Through the library, ccache empty.
    // Debian's 22.05.8 is outside the catalogue: named by its Spack-style version.
    let request = BuildRequest {
        slurm_version: SLURM_VERSION.into(),
        minimal: true,
        target: Some(TARGET.into()),
        jobs: Some(2),
        ..Default::default()
    }
    .resolve(&Defaults {
        target: TARGET.into(),
        jobs: 2,
        gpu: None,
    })
    .unwrap();
    let sink: factory::runs::Sink = Arc::new(|rec| {
        if let BuildEvent::StageFinished {
            stage,
            outcome,
            elapsed_ms,
            detail,
        } = &rec.event
        {
            eprintln!(
                "  {stage}: {outcome:?} in {:.1} s {}",
                *elapsed_ms as f64 / 1000.0,
                detail.as_deref().unwrap_or("")
            );
        }
    });
    let options = BuildOptions {
        request,
        flags: BuildFlags::default(),
    };
    let result = pipeline::build(&settings, options, sink, CancellationToken::new()).await;
    let result = result.unwrap_or_else(|e| panic!("cold build failed: {e}\n  hint: {}", e.hint()));
    let cold_log = std::fs::read_to_string(result.run_dir.join("build.log")).unwrap();
    let store = Store::new(settings.artifacts_dir());
    let cold = assert_verified_slurm(&store, &result.artifact_id, &result.run_id);

    let lock = std::fs::read_to_string(result.run_dir.join("spack.lock")).unwrap();
    let source_sha = factory::package::sha256_file(&env.source).unwrap();
    assert!(lock.contains("slurm@22.05.8"), "{lock}");
    assert!(
        lock.contains(&source_sha),
        "the lock pins the tarball: {lock}"
    );
    assert!(
        !cold_log.contains("wget") && !cold_log.contains("curl -"),
        "nothing is downloaded in the container"
    );

    let (raw, static_bytes) = raw_tree_bytes(&cold_log);
    let unpacked = cold.sizes.unpacked;
    let zst = cold.archives[0].bytes;
    println!(
        "sizes: raw install tree {} (static archives {}), package unpacked {}, .tar.zst {}",
        mib(raw),
        mib(static_bytes),
        mib(unpacked),
        mib(zst)
    );
    assert!(
        raw > RAW_TREE_FLOOR,
        "the raw tree is the real Slurm: {raw}"
    );
    assert!(
        unpacked * 5 < raw,
        "stripping and leaving out static archives shrinks the tree: {unpacked} vs {raw}"
    );
    assert!(zst < unpacked, "{zst} vs {unpacked}");
    let (cold_hits, cold_misses) = ccache_counts(&cold_log);

    // 2. Through the binary, with the same cache layers: ccache now hits.
    let bin = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("slurm-factory");
    assert!(
        bin.is_file(),
        "{} is missing: `cargo build -p slurm-factory-cli` (cargo test --workspace builds it)",
        bin.display()
    );
    let cli = |args: &[&str]| {
        let out = Command::new(&bin)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", root)
            .env("XDG_CONFIG_HOME", root.join("config"))
            .envs(&vars)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "slurm-factory {args:?} failed ({}):\n{stderr}\n{stdout}",
            out.status
        );
        stdout
    };
    let events = cli(&[
        "build",
        "--slurm-version",
        SLURM_VERSION,
        "--target",
        TARGET,
        "--minimal",
        "--jobs",
        "2",
        "--json",
    ]);
    let events: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let started = events.iter().find(|e| e["type"] == "run_started").unwrap();
    let finished = events.iter().find(|e| e["type"] == "run_finished").unwrap();
    assert_eq!(finished["outcome"], "succeeded", "{finished}");
    let run_id = started["run_id"].as_str().unwrap();
    let run_dir = PathBuf::from(started["run_dir"].as_str().unwrap());
    let artifact_id = finished["artifact_id"].as_str().unwrap();
    let warm_log = std::fs::read_to_string(run_dir.join("build.log")).unwrap();
    let warm = assert_verified_slurm(&store, artifact_id, run_id);
    let (warm_hits, warm_misses) = ccache_counts(&warm_log);
    let (cold_s, warm_s) = (
        stage_seconds(&cold, "install"),
        stage_seconds(&warm, "install"),
    );
    println!(
        "install stage: cold {cold_s:.0} s (ccache {cold_hits} hits, {cold_misses} misses), \
         warm {warm_s:.0} s (ccache {warm_hits} hits, {warm_misses} misses)"
    );
    assert!(
        cold_misses > 500,
        "the cold build compiled Slurm: {cold_misses}"
    );
    assert!(
        warm_hits > 500 && warm_misses * 10 < warm_hits,
        "the warm build came from ccache: {warm_hits} hits, {warm_misses} misses"
    );
    assert!(warm_s < cold_s, "warm {warm_s} s, cold {cold_s} s");

    let list: Vec<serde_json::Value> =
        serde_json::from_str(&cli(&["artifacts", "list", "--json"])).unwrap();
    let row = list
        .iter()
        .find(|a| a["id"] == artifact_id)
        .unwrap_or_else(|| panic!("{artifact_id} not listed: {list:?}"));
    assert_eq!(row["verified"], true, "{row}");
    assert_eq!(list.len(), 2, "both builds are in the store: {list:?}");
}
