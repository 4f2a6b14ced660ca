//! `slurm-factory matrix` against real LXD with the `hello` test recipe:
//! four builds, two at a time, each verified; then one package removed and
//! `--resume` builds that one alone.
//!
//! Needs the images and pool `.ci/setup-lxd.sh` prepares (see pipeline.rs).

use slurm_factory_e2e::{hello_recipe, slurm_factory, RemoteServer, TestEnv};

const MATRIX: &str = "\
base: {minimal: true, jobs: 1}
axes:
  slurm_version: ['26.05', '25.11']
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
            "slurm-26.05-minimal-x86_64_v3",
            "slurm-26.05-minimal-x86_64_v2",
            "slurm-25.11-minimal-x86_64_v3",
            "slurm-25.11-minimal-x86_64_v2",
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

/// The test environment and the second LXD server, started and this
/// test's to use; `None` when either is not set up.
fn with_remote(test: &str) -> Option<(TestEnv, RemoteServer, std::fs::File)> {
    let t = TestEnv::from_env(test)?;
    let remote = RemoteServer::from_env(test)?;
    let turn = remote.turn();
    remote.control("start");
    Some((t, remote, turn))
}

/// Starts the remote again however the test ends.
struct Restart<'a>(&'a RemoteServer);

impl Drop for Restart<'_> {
    fn drop(&mut self) {
        self.0.control("start");
    }
}

/// The buildcache lookups each build reported: (build, hits, lookups).
fn buildcache_uses(events: &[serde_json::Value]) -> Vec<(u64, u64, u64)> {
    events
        .iter()
        .filter(|e| e["type"] == "cache_use" && e["layer"] == "buildcache")
        .map(|e| {
            (
                e["build"].as_u64().unwrap(),
                e["hits"].as_u64().unwrap(),
                e["lookups"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn summary_of(events: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    events
        .iter()
        .filter(|e| e["type"] == "matrix_build")
        .collect()
}

/// A second, real LXD server over HTTPS: the remote gets the images it lacks
/// from this machine, what one server compiles the other extracts, a matrix
/// splits over both and every artifact lands in the local store; the remote
/// stopped mid-matrix fails only its build, the rest finish on this machine,
/// and `--resume` redoes only that one.
#[test]
fn a_matrix_fans_out_over_two_lxd_servers_and_survives_one_stopping() {
    const TEST: &str = "a_matrix_fans_out_over_two_lxd_servers_and_survives_one_stopping";
    let Some((t, remote, _turn)) = with_remote(TEST) else {
        return;
    };
    let _restart = Restart(&remote);
    let volumes_before = remote.volumes(&t.pool);
    // The remote starts without the test images: builds bring them.
    for image in [&t.image, &t.plain_image] {
        remote.lxc(&["image", "delete", &format!("{}:{image}", remote.name)]);
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut vars = t.cli_env(tmp.path(), &hello_recipe());
    vars.push(("LXD_CONF".into(), remote.lxd_conf.clone()));
    let servers = format!("local=1,{}=1", remote.name);
    vars.push(("SLURM_FACTORY_REMOTES".into(), servers.clone()));

    // doctor checks each server of the setting on its own.
    let doctor = slurm_factory(tmp.path(), vars.clone(), &["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let checked: Vec<&str> = report["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["remote"].as_str().unwrap())
        .collect();
    assert_eq!(checked, ["local", remote.name.as_str()], "{report}");
    let on_remote = &report["servers"][1];
    assert_eq!(on_remote["ok"], true, "{on_remote}");
    let ids: Vec<&str> = on_remote["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in ["lxd-daemon", "lxd-trust", "storage-pool", "cpus", "idmap"] {
        assert!(ids.contains(&id), "{id} not checked on the remote: {ids:?}");
    }

    // One build on the remote alone: compiled there, its buildcache entry
    // comes back to this machine's layer.
    let mut on_remote_vars = vars.clone();
    on_remote_vars.push(("SLURM_FACTORY_LXD_REMOTE".into(), remote.name.clone()));
    let out = slurm_factory(
        tmp.path(),
        on_remote_vars,
        &[
            "build",
            "--minimal",
            "--target",
            "x86_64_v3",
            "--jobs",
            "1",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = events(&out.stdout);
    let started = first.iter().find(|e| e["type"] == "run_started").unwrap();
    assert_eq!(started["lxd_remote"], remote.name.as_str());
    let copies: Vec<&str> = first
        .iter()
        .filter(|e| e["type"] == "log")
        .filter_map(|e| e["line"].as_str())
        .filter(|l| l.contains(&format!("copied from {}", remote.name)))
        .collect();
    assert!(
        copies
            .iter()
            .any(|l| l.starts_with("buildcache layer: 1 file")),
        "{copies:?}"
    );
    let layer = tmp.path().join("cache/buildcache/hello-recipe-v1.tar");
    assert!(layer.is_file(), "the remote's build did not come back");
    assert!(
        remote
            .lxc(&["image", "info", &format!("{}:{}", remote.name, t.image)])
            .status
            .success(),
        "the build image was not copied to the remote"
    );

    // The matrix over both servers: nothing compiled again anywhere.
    let file = tmp.path().join("lab.yaml");
    std::fs::write(&file, MATRIX).unwrap();
    let file = file.display().to_string();
    let started = std::time::Instant::now();
    let out = slurm_factory(tmp.path(), vars.clone(), &["matrix", &file, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "4 builds over 2 servers: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let events = self::events(&out.stdout);
    let summary = summary_of(&events);
    assert!(
        summary.iter().all(|e| e["outcome"] == "verified"),
        "{summary:?}"
    );
    let mut used: Vec<&str> = summary
        .iter()
        .map(|e| e["remote"].as_str().unwrap())
        .collect();
    used.sort();
    used.dedup();
    assert_eq!(used, ["local", remote.name.as_str()], "{summary:?}");
    let uses = buildcache_uses(&events);
    assert_eq!(uses.len(), 4, "{uses:?}");
    assert!(
        uses.iter().all(|&(_, hits, _)| hits == 1),
        "compiled again: {uses:?}"
    );
    let list: Vec<serde_json::Value> = serde_json::from_slice(
        &slurm_factory(tmp.path(), vars.clone(), &["artifacts", "list", "--json"]).stdout,
    )
    .unwrap();
    assert_eq!(list.len(), 5, "every artifact in the local store");
    assert!(list.iter().all(|a| a["verified"] == true));

    // The remote stops while its build installs: that build fails naming
    // it, the others finish here.
    let hello_install =
        std::fs::read_to_string(hello_recipe().join("scripts/install.sh.j2")).unwrap();
    let slow = slurm_factory_e2e::recipe_variant(
        tmp.path(),
        &[(
            "scripts/install.sh.j2",
            &hello_install.replacen("set -euo pipefail\n", "set -euo pipefail\nsleep 6\n", 1),
        )],
    );
    let mut vars = t.cli_env(tmp.path(), &slow);
    vars.push(("LXD_CONF".into(), remote.lxd_conf.clone()));
    vars.push(("SLURM_FACTORY_REMOTES".into(), servers));
    // Earlier packages aside: the store keeps this part's own.
    let data = tmp.path().join("data2");
    vars.push(("SLURM_FACTORY_DATA_DIR".into(), data.display().to_string()));
    let mut child = slurm_factory_e2e::slurm_factory_command(tmp.path(), vars.clone())
        .args(["matrix", &file, "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut on = std::collections::BTreeMap::new();
    let mut stopper = None;
    use std::io::BufRead;
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let build = event["build"].as_u64().unwrap_or(0);
        if event["type"] == "run_started" {
            on.insert(build, event["lxd_remote"].as_str().unwrap().to_string());
        }
        let remote_installs = event["type"] == "stage_started"
            && event["stage"] == "install"
            && on.get(&build) == Some(&remote.name);
        if remote_installs && stopper.is_none() {
            // Beside the reading, so the build's output never waits on it.
            let name = remote.name.clone();
            let lxd_conf = remote.lxd_conf.clone();
            stopper = Some(std::thread::spawn(move || {
                RemoteServer { name, lxd_conf }.control("stop")
            }));
        }
        lines.push(event);
    }
    let status = child.wait().unwrap();
    stopper
        .expect("no build ever installed on the remote")
        .join()
        .unwrap();
    assert_eq!(status.code(), Some(5), "a build failed: exit 5");
    let summary = summary_of(&lines);
    let failed: Vec<&&serde_json::Value> = summary
        .iter()
        .filter(|e| e["outcome"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{summary:?}");
    let error = failed[0]["error"]["error"].as_str().unwrap();
    // Shut down while a command ran: LXD said so, or no longer answered.
    let lost = ["shut down", "stopped answering"]
        .map(|what| format!("the LXD remote `{}` {what}", remote.name));
    assert!(lost.iter().any(|l| error.contains(l)), "{error}");
    assert_eq!(failed[0]["error"]["kind"], "environment");
    assert_eq!(failed[0]["remote"], remote.name.as_str());
    let verified = summary.iter().filter(|e| e["outcome"] == "verified");
    assert!(
        verified.clone().all(|e| e["remote"] == "local"),
        "{summary:?}"
    );
    assert_eq!(verified.count(), 3);

    // Back up: --resume builds that one alone; `clean` removes what the
    // failed build left on the remote.
    remote.control("start");
    let out = slurm_factory(
        tmp.path(),
        vars.clone(),
        &["matrix", &file, "--resume", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = self::events(&out.stdout);
    let outcomes: Vec<&str> = summary_of(&again)
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    let failed_build = failed[0]["build"].as_u64().unwrap() as usize;
    for (i, outcome) in outcomes.iter().enumerate() {
        let want = if i + 1 == failed_build {
            "verified"
        } else {
            "skipped"
        };
        assert_eq!(*outcome, want, "{outcomes:?}");
    }
    let clean = slurm_factory(tmp.path(), vars.clone(), &["clean", "--json"]);
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    let failed_run = lines
        .iter()
        .find(|e| e["type"] == "run_started" && e["build"] == failed[0]["build"])
        .and_then(|e| e["run_id"].as_str())
        .unwrap();
    let left: Vec<String> = remote
        .instances()
        .into_iter()
        .filter(|n| n.ends_with(failed_run))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "left on the remote");
    // Cleaning the layers here cleans their replicas there.
    assert!(remote.volumes(&t.pool).len() > volumes_before.len());
    remote.clean_replicas(tmp.path(), vars);
    assert_eq!(remote.volumes(&t.pool), volumes_before);
}

/// Ctrl-C in the middle of a matrix over two servers: every build stops,
/// exit 130, every build says cancelled, no instance of theirs is left on
/// either server and nothing reached the store.
#[test]
fn ctrl_c_stops_a_matrix_on_both_servers_and_leaves_nothing() {
    const TEST: &str = "ctrl_c_stops_a_matrix_on_both_servers_and_leaves_nothing";
    let Some((t, remote, _turn)) = with_remote(TEST) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let slow = slurm_factory_e2e::slow_install_recipe(tmp.path());
    let mut vars = t.cli_env(tmp.path(), &slow);
    vars.push(("LXD_CONF".into(), remote.lxd_conf.clone()));
    vars.push((
        "SLURM_FACTORY_REMOTES".into(),
        format!("local=1,{}=1", remote.name),
    ));
    let file = tmp.path().join("lab.yaml");
    std::fs::write(&file, MATRIX).unwrap();
    let mut child = slurm_factory_e2e::slurm_factory_command(tmp.path(), vars.clone())
        .args(["matrix", &file.display().to_string(), "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut events = Vec::new();
    let mut installing = 0;
    use std::io::BufRead;
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["type"] == "stage_started" && event["stage"] == "install" {
            installing += 1;
            if installing == 2 {
                let interrupt = std::process::Command::new("kill")
                    .args(["-INT", &child.id().to_string()])
                    .status()
                    .unwrap();
                assert!(interrupt.success());
            }
        }
        events.push(event);
    }
    let status = child.wait().unwrap();
    assert_eq!(installing, 2, "both servers' builds were installing");
    assert_eq!(status.code(), Some(130));
    let outcomes: Vec<&str> = summary_of(&events)
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["cancelled"; 4]);
    let runs: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "run_started")
        .map(|e| e["run_id"].as_str().unwrap())
        .collect();
    let on: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "run_started")
        .map(|e| e["lxd_remote"].as_str().unwrap())
        .collect();
    assert!(
        on.contains(&"local") && on.contains(&remote.name.as_str()),
        "{on:?}"
    );
    let mut left = remote.instances();
    let local = std::process::Command::new("lxc")
        .args(["list", "--format", "csv", "-c", "n"])
        .output()
        .unwrap();
    left.extend(
        String::from_utf8_lossy(&local.stdout)
            .lines()
            .map(String::from),
    );
    left.retain(|name| runs.iter().any(|run| name.ends_with(run)));
    assert_eq!(left, Vec::<String>::new(), "instances left behind");
    let list: Vec<serde_json::Value> = serde_json::from_slice(
        &slurm_factory(tmp.path(), vars.clone(), &["artifacts", "list", "--json"]).stdout,
    )
    .unwrap();
    assert!(list.is_empty(), "{list:?}");
    remote.clean_replicas(tmp.path(), vars);
}
