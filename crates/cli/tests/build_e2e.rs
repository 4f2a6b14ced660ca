//! `slurm-factory build`, `artifacts`, `cache` and `clean` run as a user runs
//! them, against real LXD with the test recipe (tests/recipes/hello).
//!
//! Needs the images and pool `.ci/setup-lxd.sh` prepares, named by
//! SLURM_FACTORY_TEST_IMAGE, SLURM_FACTORY_TEST_PLAIN_IMAGE and
//! SLURM_FACTORY_TEST_POOL (`~/.cache/slurm-factory-ci/env`); without them
//! every test prints SKIPPED and passes. Each test has its own data and cache
//! dirs under a temp dir.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use factory::lxd::LaunchSpec;
use factory::store::runs::RUN_LABEL;
use factory::store::runs::{RunDir, RunRecord};
use serde_json::Value;
use slurm_factory_e2e::{
    absolute_rpath_recipe, hello_recipe, instances_of_run, TestEnv, ARTIFACT_NAME, TARGET,
};

/// Runs the binary with the test settings as `SLURM_FACTORY_*` variables and
/// none of the caller's.
fn cli(t: &TestEnv, root: &Path, templates: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slurm-factory"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("SLURM_FACTORY_")) {
        cmd.env_remove(key);
    }
    let started = Instant::now();
    let out = cmd
        .args(args)
        .envs(t.cli_env(root, templates))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    eprintln!(
        "slurm-factory {}: exit {:?} in {:.1} s",
        args.join(" "),
        out.status.code(),
        started.elapsed().as_secs_f64()
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(out), stderr(out)))
}

/// The JSON lines `build --json` prints, each parsed.
fn events(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

fn layer<'a>(status: &'a Value, name: &str) -> &'a Value {
    status
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["layer"] == name)
        .unwrap_or_else(|| panic!("no layer {name} in {status}"))
}

#[test]
fn build_json_then_artifacts_and_cache() {
    let Some(t) = TestEnv::from_env("build_json_then_artifacts_and_cache") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let recipe = hello_recipe();

    let out = cli(
        &t,
        root,
        &recipe,
        &[
            "build",
            "--minimal",
            "--target",
            TARGET,
            "--jobs",
            "2",
            "--label",
            "lab 3, room 101",
            "--json",
        ],
    );
    let printed = stdout(&out);
    let tail: Vec<&str> = printed.lines().rev().take(6).collect();
    assert_eq!(out.status.code(), Some(0), "{tail:#?}\n{}", stderr(&out));
    let events = events(&out);
    let first = events.first().unwrap();
    let last = events.last().unwrap();
    assert_eq!(first["type"], "run_started", "{first}");
    assert_eq!(first["artifact_name"], ARTIFACT_NAME);
    assert_eq!(last["type"], "run_finished", "{last}");
    assert_eq!(last["outcome"], "succeeded", "{last}");
    let artifact_id = last["artifact_id"].as_str().unwrap().to_string();
    let stages_done = events
        .iter()
        .filter(|e| e["type"] == "stage_finished")
        .count();
    let announced = first["stages"].as_array().unwrap().len();
    assert_eq!((stages_done, announced), (12, 12));
    assert!(events
        .iter()
        .any(|e| e["type"] == "progress" && e["stage"] == "install"));
    // A fresh cache dir has no lock: one lookup, no hit.
    let lock_use: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "cache_use" && e["layer"] == "locks")
        .collect();
    assert_eq!(lock_use.len(), 1, "{lock_use:?}");
    assert_eq!(
        (&lock_use[0]["hits"], &lock_use[0]["lookups"]),
        (&0.into(), &1.into())
    );

    let out = cli(&t, root, &recipe, &["artifacts", "list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list = json(&out);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], artifact_id.as_str());
    assert_eq!(list[0]["name"], ARTIFACT_NAME);
    assert_eq!(list[0]["verified"], true);
    assert!(list[0]["size"].as_u64().unwrap() > 0);
    // --label: kept in the manifest, shown with the artifact.
    assert_eq!(
        list[0]["options"],
        serde_json::json!(["label=lab 3, room 101"])
    );
    let shown = json(&cli(
        &t,
        root,
        &recipe,
        &["artifacts", "show", &artifact_id, "--json"],
    ));
    assert_eq!(shown["manifest"]["options"]["label"], "lab 3, room 101");
    let text = stdout(&cli(&t, root, &recipe, &["artifacts", "list"]));
    assert!(
        text.lines()
            .any(|l| l.contains(&artifact_id) && l.ends_with("label=lab 3, room 101")),
        "{text}"
    );

    let out = cli(&t, root, &recipe, &["cache", "status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status = json(&out);
    let buildcache = layer(&status, "buildcache");
    assert!(buildcache["bytes"].as_u64().unwrap() > 0, "{buildcache}");
    assert!(layer(&status, "locks")["entries"].as_u64().unwrap() >= 1);
    let lock_hits = &layer(&status, "locks")["hits"];
    assert_eq!(lock_hits["runs"], 1, "{lock_hits}");
    assert_eq!(lock_hits["hits"], 0, "{lock_hits}");
    assert_eq!(lock_hits["lookups"], 1, "{lock_hits}");
    let out = cli(&t, root, &recipe, &["cache", "status"]);
    let text = stdout(&out);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} line in {text}"))
            .to_string()
    };
    assert!(
        line("locks").contains("hit rate 0% (0 of 1 lookup over 1 run)"),
        "{text}"
    );
    // The test recipe compiles without ccache, so it reports no lookups.
    assert!(
        line("ccache").contains("not looked up by any build yet"),
        "{text}"
    );

    let out = cli(
        &t,
        root,
        &recipe,
        &["cache", "clean", "buildcache", "--yes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("buildcache"), "{}", stdout(&out));
    let status = json(&cli(&t, root, &recipe, &["cache", "status", "--json"]));
    let buildcache = layer(&status, "buildcache");
    assert_eq!(buildcache["bytes"], 0, "{buildcache}");
    assert_eq!(buildcache["entries"], 0, "{buildcache}");
    // The other layers are untouched.
    assert!(layer(&status, "locks")["entries"].as_u64().unwrap() >= 1);
}

#[test]
fn failing_build_exits_with_the_build_code() {
    let Some(t) = TestEnv::from_env("failing_build_exits_with_the_build_code") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let recipe = absolute_rpath_recipe(tmp.path());
    let out = cli(
        &t,
        tmp.path(),
        &recipe,
        &["build", "--minimal", "--target", TARGET, "--json"],
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    // The events end with run_finished; with --json the error report follows
    // as one more line, as for every command.
    let mut lines = events(&out);
    let report = lines.pop().unwrap();
    let finished = lines.pop().unwrap();
    assert_eq!(finished["type"], "run_finished", "{finished}");
    assert_eq!(finished["outcome"], "failed", "{finished}");
    assert_eq!(report["exit_code"], 5, "{report}");
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("failed verification"), "{error}");
    assert!(
        error.contains("bin/hello") && error.contains("libgreet.so.1"),
        "{error}"
    );
    assert_eq!(finished["error"]["error"], error);

    let list = json(&cli(
        &t,
        tmp.path(),
        &recipe,
        &["artifacts", "list", "--json"],
    ));
    assert_eq!(list, Value::Array(Vec::new()));
}

/// Deletes the instance however the test ends.
struct DeleteInstance(String);

impl Drop for DeleteInstance {
    fn drop(&mut self) {
        let _ = Command::new("lxc")
            .args(["delete", "--force", &self.0])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_removes_the_instance_of_an_interrupted_run() {
    let Some(t) = TestEnv::from_env("clean_removes_the_instance_of_an_interrupted_run") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let recipe = hello_recipe();
    let settings = t.settings(tmp.path(), &recipe);

    // A run whose driver was killed: run.json without an outcome, a pid that
    // does not exist (above pid_max), and its build instance still there.
    let run = RunDir::create(&settings.runs_dir()).unwrap();
    run.write_json(
        "run.json",
        &RunRecord {
            id: run.id.clone(),
            artifact_name: ARTIFACT_NAME.into(),
            started: "2026-11-24T15:00:00Z".into(),
            finished: None,
            outcome: None,
            pid: 999_999_999,
            artifact_id: None,
            interrupted: false,
        },
    )
    .unwrap();
    let name = format!("sf-build-{}", run.id);
    // And an instance of a run this data dir does not know: another data dir's
    // build, maybe running now. Not ours to delete.
    let foreign_run = format!("{}-other", run.id);
    let foreign = format!("sf-build-{foreign_run}");
    let _guards = [
        DeleteInstance(name.clone()),
        DeleteInstance(foreign.clone()),
    ];
    let lxc = settings.lxc();
    let spec = |name: &str, run_id: &str| LaunchSpec {
        image: t.plain_image.clone(),
        name: name.into(),
        storage_pool: Some(t.pool.clone()),
        config: vec![(RUN_LABEL.into(), run_id.into())],
        ..Default::default()
    };
    let (ours, theirs) = (spec(&name, &run.id), spec(&foreign, &foreign_run));
    let (a, b) = tokio::join!(lxc.launch(&ours), lxc.launch(&theirs));
    a.unwrap();
    b.unwrap();
    assert_eq!(
        instances_of_run(&settings, &run.id).await,
        vec![name.clone()]
    );

    let out = cli(&t, tmp.path(), &recipe, &["clean", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["instances_deleted"], serde_json::json!([name]));
    assert!(lxc.instance(&name).await.unwrap().is_none());
    assert!(lxc.instance(&foreign).await.unwrap().is_some());
    let record = run.record().unwrap();
    assert!(record.interrupted, "{record:?}");
    assert!(record.outcome.is_some(), "{record:?}");
}

#[test]
fn a_published_build_is_signed_beside_its_buildcache_and_verifies() {
    let Some(t) =
        TestEnv::from_env("a_published_build_is_signed_beside_its_buildcache_and_verifies")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let recipe = hello_recipe();
    let key = slurm_factory_e2e::SigningKey::new(root);
    let (secret, public) = (key.secret.clone(), key.public.clone());
    let site = root.join("site-cache");
    let site_url = format!("file://{}", site.display());

    // Bad input first: refused before a run starts, nothing left behind.
    for (args, says) in [
        (vec!["--publish", "s3://B/slurm"], "not a bucket name"),
        (
            vec![
                "--publish",
                "s3://bucket/slurm",
                "--s3-endpoint",
                "https://s3.site.example/$(reboot)",
            ],
            "https://HOST[:PORT]",
        ),
        (
            vec![
                "--publish",
                site_url.as_str(),
                "--s3-endpoint",
                "https://s3.site.example",
            ],
            "for an s3:// publish URL",
        ),
        (
            vec![
                "--from",
                site_url.as_str(),
                "--from-s3-endpoint",
                "https://s3.site.example",
            ],
            "for the s3:// buckets of --from",
        ),
        (
            vec![
                "--publish",
                "oci://r.example/slurm",
                "--sign",
                secret.to_str().unwrap(),
            ],
            "cannot sign OCI",
        ),
        (
            vec!["--publish", site_url.as_str(), "--sign", "no;such key"],
            "neither a key file nor a key id",
        ),
        (vec!["--from", "file:///no/such/cache"], "no such directory"),
        (
            vec![
                "--from",
                "oci://r.example/slurm",
                "--trust",
                public.to_str().unwrap(),
            ],
            "neither signs nor checks OCI",
        ),
    ] {
        let mut argv = vec!["build", "--minimal", "--target", TARGET];
        argv.extend(args);
        let out = cli(&t, root, &recipe, &argv);
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{argv:?}: {}", stderr(&out));
    }
    assert!(!site.exists());
    let runs = json(&cli(&t, root, &recipe, &["runs", "list", "--json"]));
    assert_eq!(
        runs,
        Value::Array(Vec::new()),
        "a refused build leaves no run"
    );

    let out = cli(
        &t,
        root,
        &recipe,
        &[
            "build",
            "--minimal",
            "--target",
            TARGET,
            "--json",
            "--publish",
            &site_url,
            "--buildcache",
            "none",
            "--sign",
            secret.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let events = events(&out);
    let artifact_id = events.last().unwrap()["artifact_id"]
        .as_str()
        .unwrap()
        .to_string();
    let publish = events
        .iter()
        .find(|e| e["type"] == "stage_finished" && e["stage"] == "publish")
        .unwrap();
    assert_eq!(publish["outcome"], "done", "{publish}");
    let detail = publish["detail"].as_str().unwrap();
    assert!(detail.contains("signed by"), "{detail}");
    // The secret key is in no log line.
    let key_text = std::fs::read_to_string(&secret).unwrap();
    let key_line = key_text.lines().nth(3).unwrap();
    assert!(!stdout(&out).contains(key_line));

    // Beside the buildcache: the archive, the manifest and their signatures,
    // which gpg itself accepts with the public key.
    let published = site.join("packages").join(&artifact_id);
    let archive = published.join(format!("{ARTIFACT_NAME}.tar.zst"));
    for file in [archive.clone(), published.join("manifest.json")] {
        let sig = format!("{}.asc", file.display());
        let check = Command::new("gpgv")
            .arg("--keyring")
            .arg(key.home.join("pubring.kbx"))
            .args([&sig, file.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(check.status.success(), "gpgv {sig}: {}", stderr(&check));
    }

    // `artifacts verify` with the public key: archives whole, all signed.
    let verify = |extra: &[&str]| {
        let mut args = vec!["artifacts", "verify", &artifact_id, "--key"];
        args.push(public.to_str().unwrap());
        args.extend(extra);
        cli(&t, root, &recipe, &args)
    };
    let out = verify(&["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["archives"], 1, "{report}");
    assert_eq!(
        report["signatures"].as_array().unwrap().len(),
        2,
        "{report}"
    );
    assert!(report["signatures"][0]["signer"]
        .as_str()
        .unwrap()
        .contains("builder@site.example"));
    // Pinned to the signer's fingerprint: another key's would not do.
    let fingerprint = report["signatures"][0]["primary"].as_str().unwrap();
    let out = verify(&["--signer", fingerprint]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = verify(&["--signer", "0123456789ABCDEF0123456789ABCDEF01234567"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not by the key you expect"),
        "{}",
        stderr(&out)
    );

    // The stored artifact published again elsewhere (`publish ID`): its
    // request installed anew, the same archives beside the new buildcache.
    // Its build code is hostile (a planted `stat` that copies what it is
    // asked about): the key goes to an instance it never ran in.
    let trojan = slurm_factory_e2e::trojan_recipe(root);
    let elsewhere = root.join("elsewhere");
    let out = cli(
        &t,
        root,
        &trojan,
        &[
            "publish",
            &artifact_id,
            "--to",
            &format!("file://{}", elsewhere.display()),
            "--sign",
            secret.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let layer = root.join("cache/buildcache");
    assert!(
        layer.join(slurm_factory_e2e::TROJAN_PLANTED).is_file(),
        "the hostile build code ran"
    );
    let stolen: Vec<_> = std::fs::read_dir(&layer)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("stolen-"))
        .collect();
    assert!(stolen.is_empty(), "build code took {stolen:?}");
    let shell = std::fs::metadata(layer.join(slurm_factory_e2e::TROJAN_SHELL)).unwrap();
    assert!(
        shell.uid() != 0 || shell.permissions().mode() & 0o4000 == 0,
        "build code left a setuid shell of host root's in the layer"
    );
    let republished = crate::events(&out);
    let stages: Vec<&str> = republished
        .iter()
        .filter(|e| e["type"] == "stage_finished")
        .map(|e| e["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "preflight",
            "provision",
            "spack-setup",
            "concretize",
            "sources",
            "install",
            "buildcache-push",
            "publish",
            "cleanup"
        ]
    );
    assert_eq!(
        republished.last().unwrap()["artifact_id"],
        artifact_id.as_str()
    );
    let lines: Vec<&str> = republished
        .iter()
        .filter(|e| e["type"] == "log" && e["stage"] == "publish")
        .map(|e| e["line"].as_str().unwrap())
        .collect();
    assert!(
        lines.contains(&"signing key received and removed"),
        "{lines:#?}"
    );
    // The trees pushed to the mounted buildcache, the archive beside them.
    assert!(elsewhere.join("hello-recipe-all.tar").is_file());
    let copy = elsewhere
        .join("packages")
        .join(&artifact_id)
        .join(format!("{ARTIFACT_NAME}.tar.zst"));
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        std::fs::read(&archive).unwrap()
    );
    let out = cli(
        &t,
        root,
        &recipe,
        &["publish", "slurm-0-nope-20260101T000000", "--to", &site_url],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no artifact"), "{}", stderr(&out));

    // A changed manifest in the store no longer verifies.
    let stored = root
        .join("data/artifacts")
        .join(&artifact_id)
        .join("manifest.json");
    let mut text = std::fs::read_to_string(&stored).unwrap();
    text.push('\n');
    std::fs::write(&stored, text).unwrap();
    let out = verify(&[]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("BAD signature"), "{}", stderr(&out));
}
