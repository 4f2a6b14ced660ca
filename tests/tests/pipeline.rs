//! The whole pipeline against a real LXD daemon, with the test recipe in
//! tests/recipes/hello (gcc in the container builds a library, a program and a
//! plugin; the built-in package stage relocates them; verify runs them at
//! another prefix in a clean instance).
//!
//! Needs the images and pool `.ci/setup-lxd.sh` prepares, named by
//! SLURM_FACTORY_TEST_IMAGE, SLURM_FACTORY_TEST_PLAIN_IMAGE and
//! SLURM_FACTORY_TEST_POOL (`~/.cache/slurm-factory-ci/env`). Without them
//! every test here prints SKIPPED and passes. Each test has its own data and
//! cache dirs, so they run in parallel; only the base image (keyed by its
//! inputs) is shared, as it is between a user's builds.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use factory::caches::cache::{self, CacheDirs, RunHits};
use factory::events::{BuildEvent, EventRecord};
use factory::kinds::{Layer, Outcome, Stage, StageOutcome};
use factory::pipeline::{self, BuildFlags, BuildOptions, BuildResult};
use factory::settings::Settings;
use factory::store::runs::{RunDir, RunRecord, Sink};
use factory::Error;
use sha2::{Digest, Sha256};
use slurm_factory_e2e::{
    absolute_rpath_recipe, hello_recipe, instances_of_run, lxc_without_daemon,
    planted_links_recipe, request, settings_under, slow_install_recipe, slurm_factory,
    store_entries, TestEnv, ARTIFACT_NAME, TARGET,
};
use tokio_util::sync::CancellationToken;

fn options() -> BuildOptions {
    BuildOptions {
        request: request(),
        flags: BuildFlags::default(),
    }
}

/// Collects every event the pipeline hands its sink.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<EventRecord>>>);

impl Events {
    fn sink(&self) -> Sink {
        let events = self.0.clone();
        Arc::new(move |r: &EventRecord| events.lock().unwrap().push(r.clone()))
    }

    fn all(&self) -> Vec<BuildEvent> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.event.clone())
            .collect()
    }

    /// (stage, outcome) of each StageFinished, in order.
    fn finished(&self) -> Vec<(Stage, StageOutcome)> {
        self.all()
            .into_iter()
            .filter_map(|e| match e {
                BuildEvent::StageFinished { stage, outcome, .. } => Some((stage, outcome)),
                _ => None,
            })
            .collect()
    }

    fn outcome_of(&self, stage: Stage) -> Option<StageOutcome> {
        self.finished()
            .into_iter()
            .find(|(s, _)| *s == stage)
            .map(|(_, o)| o)
    }

    fn log_lines(&self, stage: Stage) -> Vec<String> {
        self.all()
            .into_iter()
            .filter_map(|e| match e {
                BuildEvent::Log { stage: s, line, .. } if s == stage => Some(line),
                _ => None,
            })
            .collect()
    }

    /// (layer, hits, lookups) of each cache_use event, in order.
    fn cache_uses(&self) -> Vec<(Layer, u32, u32)> {
        self.all()
            .into_iter()
            .filter_map(|e| match e {
                BuildEvent::CacheUse {
                    layer,
                    hits,
                    lookups,
                } => Some((layer, hits, lookups)),
                _ => None,
            })
            .collect()
    }

    fn run_finished(&self) -> Outcome {
        match self.all().last() {
            Some(BuildEvent::RunFinished { outcome, .. }) => *outcome,
            other => panic!("the last event is not run_finished: {other:?}"),
        }
    }
}

async fn build(
    settings: &Settings,
    events: &Events,
    cancel: CancellationToken,
) -> (factory::Result<BuildResult>, Duration) {
    let started = Instant::now();
    let result = pipeline::build(settings, options(), events.sink(), cancel).await;
    (result, started.elapsed())
}

/// The one run under the data dir (tests that fail have no BuildResult to ask).
fn only_run(settings: &Settings) -> RunDir {
    let runs = factory::store::runs::list(&settings.runs_dir());
    assert_eq!(runs.len(), 1, "one run expected: {runs:?}");
    RunDir::open(&settings.runs_dir(), &runs[0].id).unwrap()
}

fn sha256_hex(path: &Path) -> String {
    let mut file = std::fs::File::open(path).unwrap();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read_json(path: &Path) -> serde_json::Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn run_record(run: &RunDir) -> RunRecord {
    run.record().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_build_then_cached_rebuild() {
    let Some(t) = TestEnv::from_env("full_build_then_cached_rebuild") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let settings = t.settings(tmp.path(), &hello_recipe());

    // First build.
    let events = Events::default();
    let (result, took) = build(&settings, &events, CancellationToken::new()).await;
    let result = result.unwrap_or_else(|e| panic!("first build failed: {e}\n  hint: {}", e.hint()));
    eprintln!(
        "first build: {:.1} s, {:?}",
        took.as_secs_f64(),
        events.finished()
    );

    // Every stage started and finished, in order, each start before its finish.
    let order: Vec<(bool, Stage)> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            BuildEvent::StageStarted { stage } => Some((true, stage)),
            BuildEvent::StageFinished { stage, .. } => Some((false, stage)),
            _ => None,
        })
        .collect();
    let expected: Vec<(bool, Stage)> = Stage::ALL
        .iter()
        .flat_map(|s| [(true, *s), (false, *s)])
        .collect();
    assert_eq!(order, expected);
    assert!(matches!(
        events.all().first(),
        Some(BuildEvent::RunStarted { run_id, .. }) if *run_id == result.run_id
    ));
    assert_eq!(events.run_finished(), Outcome::Succeeded);
    for (stage, outcome) in events.finished() {
        // An online build leaves fetching to Spack: no source check; and
        // it publishes nothing unless asked.
        let expected = match stage {
            Stage::Sources | Stage::Publish => matches!(outcome, StageOutcome::Skipped),
            _ => matches!(outcome, StageOutcome::Done | StageOutcome::Cached),
        };
        assert!(expected, "{stage} ended {outcome:?}");
    }
    // The first build of this cache compiles: nothing to reuse but the base image.
    assert_eq!(
        events.outcome_of(Stage::Concretize),
        Some(StageOutcome::Done)
    );
    // The base image is shared with other tests (hit or miss); this cache dir
    // has no lock and no buildcache yet (the recipe reports its one lookup).
    // It prints no Spack lines and uses no ccache: no mirror or ccache lookups.
    let uses = events.cache_uses();
    let first_base_hit = match uses.as_slice() {
        [(Layer::BaseImages, hit, 1), (Layer::Locks, 0, 1), (Layer::Buildcache, 0, 1)] => *hit,
        other => panic!("cache_use events of the first build: {other:?}"),
    };
    let progress: Vec<(u32, u32)> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            BuildEvent::Progress {
                stage: Stage::Install,
                done,
                total,
                ..
            } => Some((done, total)),
            _ => None,
        })
        .collect();
    assert!(
        progress.iter().all(|(d, t)| d <= t && *t > 0),
        "{progress:?}"
    );
    assert_eq!(progress.last(), Some(&(3, 3)), "{progress:?}");
    let install_log = events.log_lines(Stage::Install);
    assert!(
        install_log
            .iter()
            .any(|l| l.starts_with("greet and hello compiled with")),
        "{install_log:?}"
    );
    assert!(install_log.contains(&"hello from libgreet".to_string()));

    // The run directory.
    let run = RunDir::open(&settings.runs_dir(), &result.run_id).unwrap();
    let record = run_record(&run);
    assert_eq!(record.outcome, Some(Outcome::Succeeded));
    assert_eq!(
        record.artifact_id.as_deref(),
        Some(result.artifact_id.as_str())
    );
    assert_eq!(read_json(&run.file("request.json"))["target"], TARGET);
    let logged = std::fs::read_to_string(run.file("events.jsonl")).unwrap();
    let first = logged.lines().next().unwrap();
    let last = logged.lines().last().unwrap();
    assert!(first.contains("\"run_started\""), "{first}");
    assert!(
        last.contains("\"run_finished\"") && last.contains("succeeded"),
        "{last}"
    );
    let build_log = std::fs::read_to_string(run.file("build.log")).unwrap();
    assert!(
        build_log.contains("[install] hello from libgreet"),
        "{build_log}"
    );
    assert!(run.file("recipe/scripts/install.sh").is_file());
    assert!(run.file("recipe/scripts/package.sh").is_file());
    assert!(read_json(&run.file("spack.lock"))["specs"][0] == "greet@1.0");

    // The artifact: manifest, archive with the right sha256, verify log and checks.
    let dir = settings.artifacts_dir().join(&result.artifact_id);
    let manifest = read_json(&dir.join("manifest.json"));
    assert_eq!(manifest["name"], ARTIFACT_NAME);
    let archive = &manifest["archives"][0];
    let archive_path = dir.join(archive["file"].as_str().unwrap());
    assert!(archive_path.to_string_lossy().ends_with(".tar.zst"));
    assert_eq!(
        archive["sha256"].as_str().unwrap(),
        sha256_hex(&archive_path),
        "the manifest's sha256 is the archive's"
    );
    assert_eq!(manifest["verify"]["passed"], true);
    let checks: BTreeMap<String, bool> = manifest["verify"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["passed"].as_bool().unwrap(),
            )
        })
        .collect();
    for name in [
        "hello-runs",
        "plugin-loads",
        "build-prefix-absent",
        "no-compiler-in-verify-image",
    ] {
        assert_eq!(checks.get(name), Some(&true), "check {name}: {checks:?}");
    }
    let verify_log = std::fs::read_to_string(dir.join("verify.log")).unwrap();
    assert!(
        verify_log.contains("::check pass hello-runs"),
        "{verify_log}"
    );

    // Unpacked on this host at a new prefix with the real tar, it runs.
    let prefix = tmp.path().join("unpacked/somewhere/else");
    std::fs::create_dir_all(&prefix).unwrap();
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&prefix)
        .arg("--zstd")
        .arg("-xf")
        .arg(&archive_path)
        .status()
        .unwrap();
    assert!(tar.success());
    let hello = prefix.join(ARTIFACT_NAME).join("bin/hello");
    let out = Command::new(&hello).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{} failed: {stdout} {}",
        hello.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "hello from libgreet\nplugin select/linear loaded\n");

    // Nothing left in LXD.
    assert_eq!(
        instances_of_run(&settings, &result.run_id).await,
        Vec::<String>::new()
    );

    // Second build, same settings: base image, lock and buildcache reused.
    let events2 = Events::default();
    let (second, took2) = build(&settings, &events2, CancellationToken::new()).await;
    let second = second.unwrap_or_else(|e| panic!("second build failed: {e}"));
    eprintln!(
        "second build: {:.1} s, {:?}",
        took2.as_secs_f64(),
        events2.finished()
    );
    assert_eq!(events2.run_finished(), Outcome::Succeeded);
    assert_eq!(
        events2.outcome_of(Stage::Provision),
        Some(StageOutcome::Cached)
    );
    assert_eq!(
        events2.outcome_of(Stage::Concretize),
        Some(StageOutcome::Cached)
    );
    assert_eq!(
        events2.cache_uses(),
        [
            (Layer::BaseImages, 1, 1),
            (Layer::Locks, 1, 1),
            (Layer::Buildcache, 1, 1)
        ]
    );
    // Both runs, read back from their events.jsonl.
    let rates = cache::hit_rates(&settings).unwrap();
    let layer = |l: Layer| rates.iter().find(|h| h.layer == l).unwrap();
    let base = layer(Layer::BaseImages);
    assert_eq!(
        (base.runs, base.hits, base.lookups),
        (2, u64::from(first_base_hit) + 1, 2),
        "{base:?}"
    );
    let locks = layer(Layer::Locks);
    assert_eq!((locks.runs, locks.hits, locks.lookups), (2, 1, 2));
    assert_eq!(locks.rate(), Some(0.5));
    assert_eq!(
        locks.last,
        Some(RunHits {
            run_id: second.run_id.clone(),
            hits: 1,
            lookups: 1
        })
    );
    let bc = layer(Layer::Buildcache);
    assert_eq!((bc.runs, bc.hits, bc.lookups), (2, 1, 2));
    for l in [Layer::Mirror, Layer::Ccache] {
        assert_eq!(layer(l).runs, 0, "{:?}", layer(l));
    }
    let install_log = events2.log_lines(Stage::Install);
    assert!(
        install_log
            .iter()
            .any(|l| l.contains("extracted from buildcache")),
        "{install_log:?}"
    );
    assert!(!install_log.iter().any(|l| l.contains("compiled with")));
    let cache = CacheDirs::new(&settings);
    assert!(cache.buildcache.join("hello-recipe-v1.tar").is_file());
    assert_eq!(std::fs::read_dir(&cache.locks).unwrap().count(), 1);
    assert_ne!(second.artifact_id, result.artifact_id);
    assert_eq!(
        factory::store::artifacts::Store::new(settings.artifacts_dir())
            .list()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        instances_of_run(&settings, &second.run_id).await,
        Vec::<String>::new()
    );

    // `runs stats` reads both runs back as the History page draws them.
    let out = slurm_factory(
        tmp.path(),
        t.cli_env(tmp.path(), &hello_recipe()),
        &["runs", "stats", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = history["runs"].as_array().unwrap();
    let store = factory::store::artifacts::Store::new(settings.artifacts_dir());
    assert_eq!(runs.len(), 2, "{history:#}");
    for (run, built) in runs.iter().zip([&result, &second]) {
        assert_eq!(run["id"], built.run_id.as_str(), "oldest first");
        assert_eq!(run["status"], "succeeded");
        let stages = run["stages"].as_array().unwrap();
        assert_eq!(stages.len(), Stage::ALL.len(), "{run:#}");
        let stage_sum: u64 = stages
            .iter()
            .map(|s| s["elapsed_ms"].as_u64().unwrap())
            .sum();
        assert!(stage_sum <= run["elapsed_ms"].as_u64().unwrap(), "{run:#}");
        let size = store.show(&built.artifact_id).unwrap().summary().size;
        assert_eq!(run["package_bytes"].as_u64(), Some(size), "{run:#}");
    }
    let buildcache_hits = |run: &serde_json::Value| {
        run["cache"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["layer"] == "buildcache")
            .map(|u| (u["hits"].as_u64().unwrap(), u["lookups"].as_u64().unwrap()))
    };
    assert_eq!(buildcache_hits(&runs[0]), Some((0, 1)));
    assert_eq!(buildcache_hits(&runs[1]), Some((1, 1)));
    assert_eq!(history["failures"], serde_json::json!([]));
    let text = slurm_factory(
        tmp.path(),
        t.cli_env(tmp.path(), &hello_recipe()),
        &["runs", "stats"],
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&second.run_id)
            && text.contains("3/3 hit")
            && text.contains("failures by stage:\n  none"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_install_stops_cleanly() {
    let Some(t) = TestEnv::from_env("cancel_during_install_stops_cleanly") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let recipe = slow_install_recipe(tmp.path());
    let settings = t.settings(tmp.path(), &recipe);

    // Cancel from the sink, as a UI would on the first sign of the install.
    let cancel = CancellationToken::new();
    let cancelled_at = Arc::new(Mutex::new(None::<Instant>));
    let events = Events::default();
    let sink: Sink = {
        let collect = events.sink();
        let cancel = cancel.clone();
        let cancelled_at = cancelled_at.clone();
        Arc::new(move |r: &EventRecord| {
            collect(r);
            let install_output = matches!(
                &r.event,
                BuildEvent::Log {
                    stage: Stage::Install,
                    ..
                } | BuildEvent::Progress {
                    stage: Stage::Install,
                    ..
                }
            );
            if install_output && !cancel.is_cancelled() {
                *cancelled_at.lock().unwrap() = Some(Instant::now());
                cancel.cancel();
            }
        })
    };
    let started = Instant::now();
    let result = pipeline::build(&settings, options(), sink, cancel).await;
    let stopped_in = cancelled_at
        .lock()
        .unwrap()
        .expect("the install stage produced output")
        .elapsed();
    eprintln!(
        "cancelled: returned {:.1} s after the cancel ({:.1} s in all)",
        stopped_in.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(stopped_in < Duration::from_secs(30), "took {stopped_in:?}");

    assert_eq!(
        events.outcome_of(Stage::Install),
        Some(StageOutcome::Cancelled)
    );
    assert_eq!(
        events.outcome_of(Stage::Package),
        None,
        "no stage after install"
    );
    assert_eq!(events.outcome_of(Stage::Cleanup), Some(StageOutcome::Done));
    assert_eq!(events.run_finished(), Outcome::Cancelled);
    let run = only_run(&settings);
    assert_eq!(run_record(&run).outcome, Some(Outcome::Cancelled));
    assert_eq!(
        instances_of_run(&settings, &run.id).await,
        Vec::<String>::new()
    );
    assert_eq!(store_entries(&settings), Vec::<String>::new());
    let cache = CacheDirs::new(&settings);
    for dir in [
        &cache.buildcache,
        &cache.mirror,
        &cache.ccache,
        &cache.locks,
    ] {
        assert!(dir.is_dir(), "{} was removed", dir.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_rpath_fails_verification() {
    let Some(t) = TestEnv::from_env("absolute_rpath_fails_verification") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let settings = t.settings(tmp.path(), &absolute_rpath_recipe(tmp.path()));
    let events = Events::default();
    let (result, took) = build(&settings, &events, CancellationToken::new()).await;
    eprintln!(
        "absolute RPATH build: {:.1} s: {result:?}",
        took.as_secs_f64()
    );
    match &result {
        Err(e @ Error::VerifyFailed { problems, .. }) => {
            eprintln!("error: {e}\n  hint: {}", e.hint());
            assert!(problems.contains("bin/hello"), "{problems}");
            assert!(problems.contains("libgreet.so.1"), "{problems}");
        }
        other => panic!("expected VerifyFailed, got {other:?}"),
    }
    assert_eq!(events.run_finished(), Outcome::Failed);
    let run = only_run(&settings);
    assert_eq!(run_record(&run).outcome, Some(Outcome::Failed));
    assert_eq!(store_entries(&settings), Vec::<String>::new());
    assert_eq!(
        instances_of_run(&settings, &run.id).await,
        Vec::<String>::new()
    );
}

/// Build code plants links in the package tree to host paths: the host,
/// writing the packaged files there, writes through none of them (issue 32,
/// point 3) and the build fails naming the link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_planted_in_the_package_tree_are_not_written_through() {
    let Some(t) = TestEnv::from_env("links_planted_in_the_package_tree") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (victim_dir, victim_file) = (tmp.path().join("host-etc"), tmp.path().join("host-file"));
    std::fs::create_dir_all(&victim_dir).unwrap();
    std::fs::write(&victim_file, "keep").unwrap();
    let recipe = planted_links_recipe(tmp.path(), &victim_dir, &victim_file);
    let settings = t.settings(tmp.path(), &recipe);
    let events = Events::default();
    let (result, _) = build(&settings, &events, CancellationToken::new()).await;
    let written: Vec<_> = std::fs::read_dir(&victim_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(written.is_empty(), "written through the link: {written:?}");
    assert_eq!(std::fs::read_to_string(&victim_file).unwrap(), "keep");
    let err = result.expect_err("a package tree with planted links");
    assert!(err.to_string().contains("not followed"), "{err}");
    assert_eq!(store_entries(&settings), Vec::<String>::new());
}

#[tokio::test]
async fn lxd_down_is_a_hinted_not_ready_error() {
    // Needs no image: a client pointed at a directory where no daemon listens.
    if factory::lxd::find_on_path("lxc").is_none() {
        eprintln!("\n*** SKIPPED lxd_down_is_a_hinted_not_ready_error: no lxc client ***\n");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut settings = settings_under(tmp.path());
    settings.lxc_binary = lxc_without_daemon(tmp.path()).display().to_string();
    settings.templates_dir = Some(hello_recipe());

    let events = Events::default();
    let (result, took) = build(&settings, &events, CancellationToken::new()).await;
    match &result {
        Err(e @ Error::NotReady { failures, .. }) => {
            eprintln!("error: {e}\n  hint: {}", e.hint());
            assert!(failures.contains("LXD daemon"), "{failures}");
            assert!(e.hint().contains("start the daemon"), "{}", e.hint());
            assert_eq!(e.kind().code(), 4);
        }
        other => panic!("expected NotReady, got {other:?}"),
    }
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert_eq!(
        events.finished().first(),
        Some(&(Stage::Preflight, StageOutcome::Failed))
    );
    assert_eq!(events.outcome_of(Stage::Provision), None);
    assert_eq!(events.run_finished(), Outcome::Failed);
    // Nothing created beyond the run's record: no cache dirs, no store.
    assert!(!settings.cache_dir.exists());
    assert_eq!(store_entries(&settings), Vec::<String>::new());
}

/// Deletes an image alias however the test ends.
struct DeleteImage(String);

impl Drop for DeleteImage {
    fn drop(&mut self) {
        let _ = Command::new("lxc")
            .args(["image", "delete", &self.0])
            .output();
    }
}

/// Slow (two base images prepared and published: about a minute here), so
/// left out of the default run: `cargo test -p slurm-factory-e2e -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow: prepares and publishes two base images"]
async fn two_builds_missing_the_base_image_leave_one_image() {
    let Some(t) = TestEnv::from_env("two_builds_missing_the_base_image_leave_one_image") else {
        return;
    };
    // A provision script no other build has: its base image does not exist yet.
    let tmp = tempfile::tempdir().unwrap();
    let hello_provision =
        std::fs::read_to_string(hello_recipe().join("scripts/provision.sh.j2")).unwrap();
    let token = format!("{:?}", std::time::SystemTime::now());
    let recipe = slurm_factory_e2e::recipe_variant(
        tmp.path(),
        &[(
            "scripts/provision.sh.j2",
            &format!("{hello_provision}# base image race test {token}\n"),
        )],
    );
    let lxc = t.settings(tmp.path(), &recipe).lxc();
    let base_images = || async {
        lxc.images()
            .await
            .unwrap()
            .into_iter()
            .filter(|i| {
                i.properties.get("description").map(String::as_str)
                    == Some("slurm-factory base image")
            })
            .map(|i| (i.fingerprint, i.aliases))
            .collect::<Vec<_>>()
    };
    let before = base_images().await;

    // Two builds at once; each stops once provision is over.
    let build_until_provisioned = |n: usize| {
        let settings = t.settings(&tmp.path().join(format!("b{n}")), &recipe);
        async move {
            let cancel = CancellationToken::new();
            let events = Events::default();
            let sink: Sink = {
                let collect = events.sink();
                let cancel = cancel.clone();
                Arc::new(move |r: &EventRecord| {
                    collect(r);
                    if matches!(
                        r.event,
                        BuildEvent::StageFinished {
                            stage: Stage::Provision,
                            ..
                        }
                    ) {
                        cancel.cancel();
                    }
                })
            };
            let result = pipeline::build(&settings, options(), sink, cancel).await;
            (result, events.outcome_of(Stage::Provision))
        }
    };
    let started = Instant::now();
    let ((r1, p1), (r2, p2)) = tokio::join!(build_until_provisioned(1), build_until_provisioned(2));
    eprintln!(
        "two builds racing for one base image: provision {p1:?} and {p2:?} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(matches!(r1, Err(Error::Cancelled)), "{r1:?}");
    assert!(matches!(r2, Err(Error::Cancelled)), "{r2:?}");

    let new: Vec<(String, Vec<String>)> = base_images()
        .await
        .into_iter()
        .filter(|i| !before.contains(i))
        .collect();
    let _guards: Vec<DeleteImage> = new.iter().map(|(f, _)| DeleteImage(f.clone())).collect();
    assert_eq!(new.len(), 1, "one new base image, with its alias: {new:?}");
    assert_eq!(new[0].1.len(), 1, "{new:?}");
}

/// A target without zstd (a bare server) cannot unpack the .tar.zst. Known
/// once the verify instance has booted (beside the install), it is settled
/// before packaging: without `--gzip` the package gets a .tar.gz too, with a
/// warning saying why, and verify unpacks that; nothing fails after the build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_image_without_zstd_takes_the_gzip_archive() {
    let Some(t) = TestEnv::from_env("verify_image_without_zstd") else {
        return;
    };
    let Some([bare]) = slurm_factory_e2e::test_vars(
        "verify_image_without_zstd",
        ["SLURM_FACTORY_TEST_BARE_IMAGE"],
        "run .ci/setup-lxd.sh (it builds sf-verify-bare)",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut settings = t.settings(tmp.path(), &hello_recipe());
    settings.verify_image = bare.clone();

    let events = Events::default();
    let (result, _) = build(&settings, &events, CancellationToken::new()).await;
    let result = result.unwrap_or_else(|e| panic!("{e}\n  hint: {}", e.hint()));
    let detail_of = |stage: Stage| {
        events
            .all()
            .into_iter()
            .find_map(|e| match e {
                BuildEvent::StageFinished {
                    stage: s, detail, ..
                } if s == stage => detail,
                _ => None,
            })
            .unwrap()
    };
    let package = detail_of(Stage::Package);
    assert!(
        package.contains("and .tar.gz (the verify image has no zstd)"),
        "{package}"
    );
    let verify = detail_of(Stage::Verify);
    assert!(verify.contains("from the .tar.gz"), "{verify}");
    let warned = events.all().into_iter().any(|e| {
        matches!(e, BuildEvent::Warning { stage: Stage::Package, message }
            if message.contains(&format!("`{bare}` has no zstd")))
    });
    assert!(warned, "no warning about the verify image's zstd");
    let artifact = factory::store::artifacts::Store::new(settings.artifacts_dir())
        .show(&result.artifact_id)
        .unwrap();
    let files: Vec<&str> = artifact
        .manifest
        .archives
        .iter()
        .map(|a| a.file.as_str())
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with(".tar.zst"))
            && files.iter().any(|f| f.ends_with(".tar.gz")),
        "{files:?}"
    );
}

/// A torn cache entry: the cached lock cut in half (a full disk, a killed
/// copy) is noticed, reported, dropped and solved again; the build succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_cached_lock_is_solved_again() {
    let Some(t) = TestEnv::from_env("truncated_lock") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let settings = t.settings(tmp.path(), &hello_recipe());
    let (first, _) = build(&settings, &Events::default(), CancellationToken::new()).await;
    first.unwrap_or_else(|e| panic!("{e}\n  hint: {}", e.hint()));
    let locks = settings.cache_dir.join("locks");
    let lock = std::fs::read_dir(&locks)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "lock"))
        .expect("the first build cached its lock");
    let bytes = std::fs::read(&lock).unwrap();
    std::fs::write(&lock, &bytes[..bytes.len() / 2]).unwrap();

    let events = Events::default();
    let (second, _) = build(&settings, &events, CancellationToken::new()).await;
    second.unwrap_or_else(|e| panic!("{e}\n  hint: {}", e.hint()));
    assert_eq!(
        events.outcome_of(Stage::Concretize),
        Some(StageOutcome::Done),
        "solved again, not reused"
    );
    let warned = events.all().into_iter().any(|e| {
        matches!(e, BuildEvent::Warning { stage: Stage::Concretize, message }
            if message.contains("damaged") && message.contains(&lock.display().to_string()))
    });
    assert!(warned, "the damaged lock is reported");
    let again: serde_json::Value = serde_json::from_slice(&std::fs::read(&lock).unwrap()).unwrap();
    assert!(again.is_object(), "a whole lock is cached again");
}

/// A package needs the glibc of the system it was built on, at least: built on
/// Debian 12 (glibc 2.36), it is refused by verification on Debian 11 (glibc
/// 2.31) with the version it needs and the file that needs it, and passes on
/// Debian 12 with its floor recorded in the manifest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_older_than_the_glibc_floor_is_refused() {
    let Some(t) = TestEnv::from_env("glibc_floor") else {
        return;
    };
    let Some([old]) = slurm_factory_e2e::test_vars(
        "glibc_floor",
        ["SLURM_FACTORY_TEST_OLD_GLIBC_IMAGE"],
        "run .ci/setup-lxd.sh (it builds sf-test-bullseye)",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut settings = t.settings(tmp.path(), &hello_recipe());
    settings.verify_image = old.clone();
    let events = Events::default();
    let (result, _) = build(&settings, &events, CancellationToken::new()).await;
    let err = result.expect_err("Debian 11's glibc is older than the package needs");
    eprintln!("error: {err}\n  hint: {}", err.hint());
    let Error::GlibcTooOld {
        needed,
        file,
        image,
        found,
    } = &err
    else {
        panic!("expected GlibcTooOld, got {err}");
    };
    assert_eq!(image, &old);
    assert!(
        found.starts_with("2.31"),
        "Debian 11 has glibc 2.31: {found}"
    );
    let needed_numbers = factory::package::dotted(needed).unwrap();
    assert!(
        needed_numbers >= vec![2, 34],
        "a program linked against glibc 2.34+ needs __libc_start_main@GLIBC_2.34: {needed}"
    );
    assert!(
        file.starts_with("bin/") || file.starts_with("lib"),
        "{file}"
    );
    assert_eq!(err.kind().code(), 5);
    assert_eq!(events.outcome_of(Stage::Verify), Some(StageOutcome::Failed));
    assert!(store_entries(&settings).is_empty());

    settings.verify_image = t.plain_image.clone();
    let events = Events::default();
    let (result, _) = build(&settings, &events, CancellationToken::new()).await;
    let result = result.unwrap_or_else(|e| panic!("{e}\n  hint: {}", e.hint()));
    let store = factory::store::artifacts::Store::new(settings.artifacts_dir());
    let m = store.show(&result.artifact_id).unwrap().manifest;
    let glibc = factory::package::glibc_floor(&m.inspection.floor).unwrap();
    assert_eq!(&glibc.version, needed);
    let checks = &m.verify.as_ref().unwrap().checks;
    let floor_check = checks.iter().find(|c| c.name == "glibc-floor").unwrap();
    assert!(floor_check.passed, "{floor_check:?}");
    eprintln!("floor: {:?}; {}", m.inspection.floor, floor_check.output);
}

/// Offline, provision cannot install packages: a build image that lacks
/// some (here: no compilers, no patchelf) fails in provision naming them,
/// not hours later in the package stage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_provision_names_what_the_image_lacks() {
    let Some(t) = TestEnv::from_env("offline_provision_names_what_the_image_lacks") else {
        return;
    };
    let Some(site) =
        slurm_factory_e2e::SpackSite::from_env("offline_provision_names_what_the_image_lacks")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut settings = settings_under(tmp.path());
    // The plain image: what a user's stock image would be, without the build tools.
    settings.image = t.plain_image.clone();
    settings.verify_image = t.plain_image.clone();
    settings.storage_pool = t.pool.clone();
    settings.spack_root = Some(site.spack_root.clone());
    settings.spack_packages_root = Some(site.spack_packages_root.clone());
    settings.wheels_dir = Some(site.wheels_dir.clone());
    let events = Events::default();
    let options = BuildOptions {
        request: request(),
        flags: BuildFlags {
            offline: true,
            ..BuildFlags::default()
        },
    };
    let err = pipeline::build(&settings, options, events.sink(), CancellationToken::new())
        .await
        .expect_err("the plain image has no build tools");
    let text = err.to_string();
    assert!(matches!(err, Error::BuildFailed { .. }), "{text}");
    assert!(text.contains("stage provision"), "{text}");
    for missing in ["build-essential", "patchelf", "cannot install packages"] {
        assert!(text.contains(missing), "names {missing}: {text}");
    }
    assert_eq!(
        events.outcome_of(Stage::Provision),
        Some(StageOutcome::Failed)
    );
    let run = only_run(&settings);
    assert!(instances_of_run(&settings, &run.id).await.is_empty());
    let rendered = factory::recipe::Templates::load(None)
        .unwrap()
        .render(&factory::recipe::RecipeContext::new(
            &request(),
            &settings,
            true,
        ))
        .unwrap();
    let source =
        factory::caches::spack_source::SpackSource::from_settings(&settings, true).unwrap();
    let alias = factory::caches::cache::base_image_alias(&settings, &source, &rendered).unwrap();
    assert!(
        !settings.lxc().image_exists(&alias).await.unwrap(),
        "no base image {alias} published"
    );
}
