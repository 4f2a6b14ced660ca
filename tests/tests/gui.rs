//! The desktop app driven as a person uses it: the real binary in a real
//! WebKitGTK window under Xvfb, over WebDriver (tauri-driver in front of
//! WebKitWebDriver). Screenshots of every screen go to docs/screenshots/.
//!
//! Needs: Xvfb, WebKitWebDriver (Debian's webkit2gtk-driver), tauri-driver,
//! ImageMagick's `import`, and the app built (`scripts/gui-test.sh` does all
//! of it). Without them the test says so and passes, unless
//! SLURM_FACTORY_REQUIRE_GUI=1 (set by the script) makes that a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use factory::events::BuildEvent;
use factory::kinds::{Outcome, Stage, StageOutcome, Stream};
use factory::store::runs::{Emitter, RunDir, RunRecord};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};

const WAIT: Duration = Duration::from_secs(20);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child started in its own process group, ended (group and all) on drop.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let pgid = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &pgid]).status();
        let _ = self.0.wait();
    }
}

fn spawn_group(cmd: &mut Command) -> Group {
    use std::os::unix::process::CommandExt;
    Group(
        cmd.process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}")),
    )
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An X server of our own on the first free display from :90.
fn start_xvfb() -> (Group, String) {
    let n = (90..200)
        .find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists())
        .expect("a free X display");
    let display = format!(":{n}");
    let xvfb = spawn_group(
        Command::new("Xvfb")
            .args([&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let socket = format!("/tmp/.X11-unix/X{n}");
    wait_until("Xvfb", || Path::new(&socket).exists());
    (xvfb, display)
}

struct Gui {
    client: Client,
    display: String,
    shots: PathBuf,
    _driver: Group,
    _xvfb: Group,
}

impl Gui {
    /// Grabs the whole X screen: WebKitWebDriver's own screenshot hangs under Xvfb.
    fn screenshot(&self, name: &str) {
        let path = self.shots.join(format!("{name}.png"));
        let status = Command::new("import")
            .args(["-display", &self.display, "-window", "root"])
            .arg(&path)
            .status()
            .expect("running ImageMagick's import");
        assert!(status.success(), "screenshot {name} failed");
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(
            size > 10_000,
            "screenshot {name} is suspiciously small ({size} B)"
        );
    }

    async fn click(&self, css: &str) {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .unwrap()
    }

    /// Polls `script` (a function body returning a value) until `ok` accepts it.
    async fn eventually<T: serde::de::DeserializeOwned + std::fmt::Debug>(
        &self,
        what: &str,
        script: &str,
        ok: impl Fn(&T) -> bool,
    ) -> T {
        self.eventually_within(WAIT, what, script, ok).await
    }

    async fn eventually_within<T: serde::de::DeserializeOwned + std::fmt::Debug>(
        &self,
        wait: Duration,
        what: &str,
        script: &str,
        ok: impl Fn(&T) -> bool,
    ) -> T {
        let start = Instant::now();
        loop {
            let v = self.client.execute(script, vec![]).await.unwrap();
            let last: Option<T> = serde_json::from_value(v).ok();
            if let Some(v) = last {
                if ok(&v) {
                    return v;
                }
                if start.elapsed() > wait {
                    panic!("timed out waiting for {what}; last value {v:?}");
                }
            } else if start.elapsed() > wait {
                panic!("timed out waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits on the Runs page until the selected run ends; its status and
    /// the error it shows, if any.
    async fn selected_run_end(&self, what: &str, within: Duration) -> (String, String) {
        let status = "return document.querySelector('main h1')?.textContent === 'Runs' ? (document.querySelector('[data-testid=run-card][aria-pressed=true]')?.dataset.status ?? '') : ''";
        let done: String = self
            .eventually_within(within, what, status, |s: &String| {
                s == "succeeded" || s == "failed" || s == "cancelled"
            })
            .await;
        let alert = self
            .client
            .execute(
                "return document.querySelector('.detail [role=alert]')?.textContent ?? ''",
                vec![],
            )
            .await
            .unwrap();
        (done, alert.as_str().unwrap_or_default().to_string())
    }

    async fn page_title(&self) -> String {
        self.text("main h1").await
    }

    async fn go(&self, page: &str, title: &str) {
        self.click(&format!("[data-testid=nav-{page}]")).await;
        let t = title.to_string();
        self.eventually::<String>(
            &format!("the {page} page"),
            "return document.querySelector('main h1')?.textContent ?? ''",
            move |h| *h == t,
        )
        .await;
    }

    /// Waits until the Build page's button can start a build.
    async fn build_button_ready(&self) {
        self.eventually::<bool>(
            "the Build button",
            "return !document.querySelector('[data-testid=build-button]').disabled",
            |b| *b,
        )
        .await;
    }

    /// Starts a build of what the Build page's form holds.
    async fn start_build(&self) {
        self.go("build", "Build a Slurm package").await;
        self.build_button_ready().await;
        self.click("[data-testid=build-button]").await;
    }

    async fn press(&self, keys: Vec<KeyAction>) {
        let actions = KeyActions::new("keyboard".into());
        let actions = keys.into_iter().fold(actions, |a, k| a.then(k));
        self.client.perform_actions(actions).await.unwrap();
    }
}

/// Starts Xvfb, tauri-driver and the app with its own HOME; `None` when a
/// tool is missing (and that is allowed).
async fn start(home: &Path) -> Option<Gui> {
    start_with(home, &[]).await
}

/// Like [`start`], with `SLURM_FACTORY_*` settings for the app.
async fn start_with(home: &Path, env: &[(&str, String)]) -> Option<Gui> {
    let app = slurm_factory_e2e::built_binary("slurm-factory-app");
    let required = std::env::var_os("SLURM_FACTORY_REQUIRE_GUI").is_some();
    let mut missing: Vec<String> = ["Xvfb", "WebKitWebDriver", "tauri-driver", "import"]
        .iter()
        .filter(|t| which(t).is_none())
        .map(|t| t.to_string())
        .collect();
    if !app.is_file() {
        missing.push(app.display().to_string());
    }
    if !missing.is_empty() {
        let msg = format!(
            "GUI test SKIPPED: missing {}; run scripts/gui-test.sh",
            missing.join(", ")
        );
        assert!(!required, "{msg}");
        eprintln!("{msg}");
        return None;
    }

    Some(launch(&app, home, env, None).await)
}

/// Starts Xvfb, tauri-driver (with `native_driver` in front of WebKitWebDriver
/// when given) and a WebDriver session with `app`, whose home is `home`.
async fn launch(
    app: &Path,
    home: &Path,
    env: &[(&str, String)],
    native_driver: Option<&Path>,
) -> Gui {
    let (xvfb, display) = start_xvfb();
    let port = free_port();
    let native_port = free_port();
    let mut cmd = Command::new("tauri-driver");
    cmd.args([
        "--port",
        &port.to_string(),
        "--native-port",
        &native_port.to_string(),
    ])
    .env("DISPLAY", &display)
    .env("HOME", home)
    .env("XDG_CONFIG_HOME", home.join(".config"))
    .env("XDG_DATA_HOME", home.join(".local/share"))
    .env("XDG_CACHE_HOME", home.join(".cache"))
    // Software rendering: Xvfb has no GPU.
    .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
    .env("LIBGL_ALWAYS_SOFTWARE", "1")
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("SLURM_FACTORY_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(native) = native_driver {
        cmd.arg("--native-driver").arg(native);
    }
    let driver = spawn_group(&mut cmd);
    wait_until("tauri-driver", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });

    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "wry".into());
    caps.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": app }),
    );
    // tauri-driver listens before the WebKitWebDriver behind it does; a
    // session asked for too early is dropped mid-reply, so ask again.
    let mut attempt = 0;
    let client = loop {
        attempt += 1;
        match ClientBuilder::native()
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => break client,
            Err(e) if attempt < 5 => {
                eprintln!("WebDriver session, attempt {attempt}: {e}; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => panic!("a WebDriver session with the app: {e}"),
        }
    };
    let shots = repo_root().join("docs/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    Gui {
        client,
        display,
        shots,
        _driver: driver,
        _xvfb: xvfb,
    }
}

/// A finished run written by the engine's own run-record code, with a log
/// long enough to prove the viewer is virtualized.
fn seed_run(data_dir: &Path, lines: usize) -> String {
    let run = RunDir::create(&data_dir.join("runs")).unwrap();
    let sink: factory::store::runs::Sink = std::sync::Arc::new(|_| {});
    let em = Emitter::new(&run, sink).unwrap();
    em.emit(BuildEvent::RunStarted {
        run_id: run.id.clone(),
        artifact_name: "slurm-25.05-default-x86_64_v3".into(),
        run_dir: run.path.display().to_string(),
        stages: Stage::ALL.to_vec(),
        lxd_remote: "local".into(),
    });
    for stage in Stage::ALL {
        em.emit(BuildEvent::StageStarted { stage });
        if stage == Stage::Install {
            for i in 0..lines {
                let line = if i % 10 == 0 {
                    format!("\x1b[0;94m==>\x1b[0m Installing pkg-{i} line {i}")
                } else {
                    format!("  compiling object {i} line {i}")
                };
                em.emit(BuildEvent::Log {
                    stage,
                    stream: Stream::Stdout,
                    line,
                });
            }
        }
        em.emit(BuildEvent::StageFinished {
            stage,
            outcome: StageOutcome::Done,
            elapsed_ms: 1200,
            detail: None,
        });
    }
    em.emit(BuildEvent::RunFinished {
        outcome: Outcome::Succeeded,
        elapsed_ms: 12_000,
        artifact_id: None,
        error: None,
    });
    drop(em);
    let record = RunRecord {
        id: run.id.clone(),
        artifact_name: "slurm-25.05-default-x86_64_v3".into(),
        started: "2026-11-24T15:00:00Z".into(),
        finished: Some("2026-11-24T15:00:12Z".into()),
        outcome: Some(Outcome::Succeeded),
        pid: std::process::id(),
        artifact_id: None,
        interrupted: false,
    };
    run.write_json("run.json", &record).unwrap();
    run.id
}

/// A run whose process died without a word (no outcome, a pid that is gone):
/// what a `kill -9` leaves before any later build finds it.
/// Its id is older than the seeded build's, so the Runs page still opens that one first.
fn seed_dead_run(data_dir: &Path) -> String {
    let runs_root = data_dir.join("runs");
    std::fs::create_dir_all(runs_root.join("20261124-140000-dead")).unwrap();
    let run = RunDir::open(&runs_root, "20261124-140000-dead").unwrap();
    let record = RunRecord {
        id: run.id.clone(),
        artifact_name: "slurm-24.11-minimal-x86_64_v3".into(),
        started: "2026-11-24T14:00:00Z".into(),
        finished: None,
        outcome: None,
        // Above any pid_max: no such process.
        pid: 4_194_305,
        artifact_id: None,
        interrupted: false,
    };
    run.write_json("run.json", &record).unwrap();
    run.id
}

/// `slurm-factory ARGS` with the app's home and `SLURM_FACTORY_*` settings; its stdout.
fn cli(home: &Path, env: &[(&str, String)], args: &[&str]) -> String {
    let out = slurm_factory_e2e::slurm_factory(home, env.iter().map(|(k, v)| (k, v)), args);
    assert!(
        out.status.success(),
        "slurm-factory {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A package in the artifact store, added by the engine's own store code
/// from a real archive of a small tree, as the pipeline's export stage does;
/// with `payload` bytes that do not compress in a library beside `sinfo`.
fn seed_artifact(settings: &factory::settings::Settings, scratch: &Path, payload: usize) -> String {
    use factory::package::{
        archive, ArchiveFormat, InspectionSummary, Manifest, Sizes, VerifyCheck, VerifyResult,
        MANIFEST_FILE,
    };
    let name = "slurm-24.11-default-x86_64_v3";
    let tree = scratch.join("tree");
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::write(tree.join("bin/sinfo"), "#!/bin/sh\necho slurm 24.11.6\n").unwrap();
    if payload > 0 {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let noise: Vec<u8> = (0..payload)
            .map(|_| {
                // xorshift64: cheap bytes no compressor shrinks.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::create_dir_all(tree.join("lib")).unwrap();
        std::fs::write(tree.join("lib/libslurmfull.so"), noise).unwrap();
    }
    let staging = scratch.join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let files = archive(&tree, &staging, name, &[ArchiveFormat::TarZst]).unwrap();
    let mut manifest = Manifest {
        name: name.into(),
        slurm_version: "24.11".into(),
        spack_version: "24-11-6-1".into(),
        spack_release: Some("v1.1.0".into()),
        package_type: "default".into(),
        target: "x86_64_v3".into(),
        gpu: None,
        gpu_arch: None,
        created: jiff::Timestamp::now(),
        tool_version: "0.1.0".into(),
        build_prefix: "/opt/slurm-build".into(),
        request: serde_json::json!({ "slurm_version": "24.11" }),
        options: Default::default(),
        spack_lock_sha256: None,
        sizes: Sizes {
            unpacked: factory::fsutil::tree_usage(&tree).0,
            ..Default::default()
        },
        tree_sha256: None,
        archives: Vec::new(),
        stages: Vec::new(),
        verify: Some(VerifyResult {
            passed: true,
            checks: vec![VerifyCheck {
                name: "sinfo --version".into(),
                passed: true,
                output: "slurm 24.11.6".into(),
            }],
        }),
        inspection: InspectionSummary::default(),
    };
    manifest.set_archives(&files);
    manifest.write_atomic(&staging.join(MANIFEST_FILE)).unwrap();
    factory::store::artifacts::Store::new(settings.artifacts_dir())
        .add(&staging)
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread")]
async fn app_screens_work_as_a_person_uses_them() {
    let home = tempfile::tempdir().unwrap();
    let settings = app_settings(home.path(), &[]);
    // Past the viewer's cap on scroll height (10M px = 526k rows), so the
    // proportional scrollbar mapping is what places the rows.
    let log_lines = 600_000;
    let run_id = seed_run(&settings.data_dir, log_lines);
    let dead_run = seed_dead_run(&settings.data_dir);
    let scratch = tempfile::tempdir().unwrap();
    let artifact_id = seed_artifact(&settings, scratch.path(), 0);
    let store = factory::store::artifacts::Store::new(settings.artifacts_dir());
    let sha256 = store.show(&artifact_id).unwrap().manifest.archives[0]
        .sha256
        .clone();

    let Some(gui) = start(home.path()).await else {
        return;
    };

    doctor_page(&gui, &settings).await;
    build_page(&gui, home.path()).await;
    settings_page(&gui, home.path()).await;
    runs_page(&gui, home.path(), &run_id, &dead_run, log_lines).await;
    artifacts_page(&gui, &store, &artifact_id, &sha256).await;
    keyboard(&gui).await;
    gui.client.close().await.unwrap();
}

/// Doctor: the same checks, in the same order and states, as the engine reports.
async fn doctor_page(gui: &Gui, settings: &factory::settings::Settings) {
    gui.go("doctor", "Doctor").await;
    let expected = factory::doctor::run(settings).await;
    let shown: Vec<(String, String)> = gui
        .eventually(
            "doctor checks",
            "return [...document.querySelectorAll('[data-check]')].map(e => [e.dataset.check, e.dataset.status])",
            |v: &Vec<(String, String)>| !v.is_empty(),
        )
        .await;
    let engine: Vec<(String, String)> = expected
        .checks
        .iter()
        .map(|c| {
            let status = serde_json::to_value(c.status).unwrap();
            (c.id.to_string(), status.as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(shown, engine);
    // Each fix in the app's words: its text as the engine says it, no CLI commands.
    for c in expected.checks.iter().filter(|c| !c.remedy.0.is_empty()) {
        let fix = gui.text(&format!("[data-check='{}'] .fix", c.id)).await;
        for part in &c.remedy.0 {
            if let factory::error::remedy::RemedyPart::Text { text } = part {
                assert!(fix.contains(text.trim()), "{}: {fix}", c.id);
            }
        }
        assert!(!fix.contains("slurm-factory "), "{}: {fix}", c.id);
    }
    let summary = gui.text("[data-testid=doctor-summary]").await;
    assert!(
        summary == "Ready to build." || summary.contains("to fix"),
        "{summary}"
    );
    gui.click("[data-testid=recheck]").await;
    gui.text("[data-testid=doctor-summary]").await;
    gui.screenshot("doctor");
}

/// Build: detection shown and pre-filled, a live plan that follows the form.
async fn build_page(gui: &Gui, home: &Path) {
    gui.go("build", "Build a Slurm package").await;
    let host = factory::hardware::detect();
    let suggested = host.suggestions.target.value.clone();
    let kind = host
        .suggestions
        .package
        .value
        .gpu
        .map(|g| g.as_str())
        .unwrap_or("default");
    let cpu = gui.text("[data-testid=host-cpu]").await;
    assert!(cpu.contains(&host.cpu.microarch), "{cpu}");
    assert_eq!(gui.text("[data-testid=suggested-target]").await, suggested);
    let plan_name = "return document.querySelector('[data-testid=plan-name]')?.textContent ?? ''";
    let default = factory::request::catalog::Catalog::builtin()
        .default_release()
        .slurm
        .clone();
    let want = format!("slurm-{default}-{kind}-{suggested}");
    gui.eventually::<String>("the suggested plan", plan_name, |n| *n == want)
        .await;
    gui.screenshot("build");
    gui.client
        .execute(
            "const s = document.getElementById('b-version'); s.value = '24.11'; s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .unwrap();
    gui.click("input[type=radio][value=minimal]").await;
    let want = format!("slurm-24.11-minimal-{suggested}");
    gui.eventually::<String>("the plan to follow the form", plan_name, |n| *n == want)
        .await;
    let target = gui
        .client
        .find(Locator::Css("[data-testid=target]"))
        .await
        .unwrap();
    // Backspaces, not WebDriver's clear(): that fires no input event.
    let backspace = Key::Backspace.to_string();
    target
        .send_keys(&backspace.repeat(suggested.len()))
        .await
        .unwrap();
    target.send_keys("Zen3").await.unwrap();
    let err: String = gui
        .eventually(
            "the target error",
            "return document.querySelector('[data-testid=plan] [role=alert]')?.textContent ?? ''",
            |t: &String| !t.is_empty(),
        )
        .await;
    assert!(err.contains("invalid optimization target `Zen3`"), "{err}");
    assert!(err.contains("What to do"), "{err}");
    // The remedy in the app's words: the panel that suggests a target, not
    // the CLI's `slurm-factory detect`.
    assert!(
        err.contains("the Host panel on the Build page") && !err.contains("slurm-factory"),
        "{err}"
    );
    target.send_keys(&backspace.repeat(4)).await.unwrap();
    target.send_keys(&suggested).await.unwrap();
    gui.click("input[type=radio][value=default]").await;
    let want = format!("slurm-24.11-default-{suggested}");
    gui.eventually::<String>("the plan to recover", plan_name, |n| *n == want)
        .await;
    // The page's plan is the CLI's, row for row: both print the engine's.
    let page_rows: Vec<(String, String)> = gui
        .eventually(
            "the plan rows",
            "return [...document.querySelectorAll('[data-testid=plan] tr')].map(r => [r.cells[0].textContent, r.cells[1].textContent])",
            |v: &Vec<(String, String)>| !v.is_empty(),
        )
        .await;
    // The target was typed in, as with --target.
    let cli_plan: serde_json::Value = serde_json::from_str(&cli(
        home,
        &[],
        &[
            "plan",
            "--slurm-version",
            "24.11",
            "--target",
            &suggested,
            "--json",
        ],
    ))
    .unwrap();
    let cli_rows: Vec<(String, String)> = cli_plan["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("label"), s("value"))
        })
        .collect();
    assert_eq!(page_rows, cli_rows);
    // 24.11 is past SchedMD's end of support: the page warns as the CLI does.
    let page_warning = gui.text("[data-testid=plan-warning]").await;
    assert_eq!(
        serde_json::json!([page_warning]),
        cli_plan["warnings"],
        "the page's warning is the engine's"
    );
    assert!(page_warning.contains("past SchedMD's end of support"));
    let suggested_row = format!("{suggested} (suggested for this machine)");
    assert!(
        cli(home, &[], &["plan", "--slurm-version", "24.11"])
            .lines()
            .any(|l| l.trim_start().starts_with("Target ") && l.ends_with(&suggested_row)),
        "the CLI's table shows the same rows"
    );
}

/// Settings: a change reaches the config file; a bad value is refused.
async fn settings_page(gui: &Gui, home: &Path) {
    gui.go("settings", "Settings").await;
    let pool = gui
        .client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("s-storage_pool"))
        .await
        .unwrap();
    assert_eq!(
        pool.prop("value").await.unwrap().as_deref(),
        Some("default")
    );
    pool.clear().await.unwrap();
    pool.send_keys("sf-test").await.unwrap();
    gui.click("[data-testid=settings-form] button[type=submit]")
        .await;
    let saved = gui.text("[data-testid=settings-form] [role=status]").await;
    let config = app_dirs(home).config.join("config.toml");
    assert!(saved.contains(&config.display().to_string()), "{saved}");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap().trim(),
        "storage_pool = \"sf-test\""
    );
    // A bad value is refused as it is typed, in the engine's words, and
    // cannot be saved.
    pool.clear().await.unwrap();
    pool.send_keys("bad pool").await.unwrap();
    let problem: String = gui
        .eventually(
            "the pool's value refused as typed",
            "return document.querySelector('[data-key=storage_pool] [data-testid=setting-problem]')?.textContent ?? ''",
            |t: &String| !t.is_empty(),
        )
        .await;
    assert!(
        problem.contains("storage_pool") && problem.contains("letters, digits"),
        "{problem}"
    );
    assert_eq!(
        gui.client
            .execute(
                "return document.querySelector('[data-testid=settings-form] button[type=submit]').disabled",
                vec![],
            )
            .await
            .unwrap(),
        serde_json::json!(true)
    );
    // Settings come in topics, under labels for people, each with its variable.
    let groups: Vec<String> = gui
        .eventually(
            "the setting groups",
            "return [...document.querySelectorAll('fieldset legend')].map(l => l.textContent)",
            |g: &Vec<String>| !g.is_empty(),
        )
        .await;
    assert_eq!(groups, ["LXD", "Spack", "Storage", "Paths"]);
    let row = gui.text("[data-key=storage_pool]").await;
    assert!(
        row.contains("Storage pool") && row.contains("SLURM_FACTORY_STORAGE_POOL"),
        "{row}"
    );
    gui.client
        .execute(
            "document.querySelector('fieldset[data-group=Storage]').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
    gui.screenshot("settings");
    assert!(std::fs::read_to_string(&config)
        .unwrap()
        .contains("sf-test"));
    pool.clear().await.unwrap();
    pool.send_keys("sf-test").await.unwrap();
    gui.eventually::<bool>(
        "the problem gone once the value is fixed",
        "return !document.querySelector('[data-key=storage_pool] [data-testid=setting-problem]')",
        |gone| *gone,
    )
    .await;
}

/// Runs: a 600k-line log is virtualized, searchable and coloured.
async fn runs_page(gui: &Gui, home: &Path, run_id: &str, dead_run: &str, log_lines: usize) {
    gui.go("runs", "Runs").await;
    gui.click("[data-testid=run-card]").await;
    let count: String = gui
        .eventually(
            "the whole log",
            "return document.querySelector('[data-testid=log-count]')?.textContent ?? ''",
            |t: &String| t.replace(',', "").starts_with(&log_lines.to_string()),
        )
        .await;
    assert!(count.ends_with("lines"), "{count}");
    let rows: u64 = gui
        .eventually(
            "rendered rows",
            "return document.querySelectorAll('[data-testid=log-viewport] .line').length",
            |n: &u64| *n > 0,
        )
        .await;
    assert!(rows < 200, "{rows} rows in the DOM for {log_lines} lines");
    let search = gui
        .client
        .find(Locator::Css("[data-testid=log-search]"))
        .await
        .unwrap();
    search.send_keys("object 577777 ").await.unwrap();
    search.send_keys(&Key::Enter.to_string()).await.unwrap();
    let hit: String = gui
        .eventually(
            "the search hit",
            "return document.querySelector('.line.hit')?.textContent ?? ''",
            |t: &String| !t.is_empty(),
        )
        .await;
    assert!(hit.contains("compiling object 577777 line 577777"), "{hit}");
    let hit_in_view: bool = gui
        .client
        .execute(
            "const v = document.querySelector('[data-testid=log-viewport]').getBoundingClientRect();
             const h = document.querySelector('.line.hit').getBoundingClientRect();
             return h.top >= v.top && h.bottom <= v.bottom;",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    assert!(
        hit_in_view,
        "the search hit is drawn outside the log's viewport"
    );
    let coloured: u64 = gui
        .eventually(
            "coloured segments",
            "return [...document.querySelectorAll('[data-testid=log-viewport] .line span[style]')].filter(s => s.getAttribute('style').includes('--ansi-12')).length",
            |n: &u64| *n > 0,
        )
        .await;
    assert!(coloured > 0);
    let status = gui.text("[data-testid=run-status]").await;
    assert_eq!(status, "succeeded");
    // Every run's status as the CLI lists it is the status its card shows: a
    // run whose process died is `interrupted` in both.
    let listed: Vec<serde_json::Value> =
        serde_json::from_str(&cli(home, &[], &["runs", "list", "--json"])).unwrap();
    let cards: Vec<(String, String)> = gui
        .eventually(
            "the run cards",
            "return [...document.querySelectorAll('[data-testid=run-card]')].map(c => [c.querySelector('[data-testid=run-id]').textContent, c.dataset.status])",
            |v: &Vec<(String, String)>| v.len() >= 2,
        )
        .await;
    for run in &listed {
        let id = run["id"].as_str().unwrap();
        let card = cards.iter().find(|(c, _)| c == id).map(|(_, s)| s.as_str());
        assert_eq!(card, run["status"].as_str(), "run {id}: {cards:?}");
    }
    assert!(
        listed
            .iter()
            .any(|r| r["id"] == dead_run && r["status"] == "interrupted"),
        "{listed:?}"
    );
    assert!(gui.text("[data-testid=run-card]").await.contains(run_id));
    gui.screenshot("runs");
}

/// Artifacts: the table, the details with checksum and verify log, delete after confirming.
async fn artifacts_page(
    gui: &Gui,
    store: &factory::store::artifacts::Store,
    artifact_id: &str,
    sha256: &str,
) {
    gui.go("artifacts", "Artifacts").await;
    let row = format!("[data-artifact='{artifact_id}']");
    assert!(gui.text(&row).await.contains("✓ verified"));
    gui.click(&format!("{row} button")).await;
    let details = gui.text("[data-testid=artifact-details]").await;
    assert!(details.contains(sha256), "{details}");
    assert!(details.contains("sinfo --version"), "{details}");
    gui.screenshot("artifacts");
    gui.click("[data-testid=delete]").await;
    gui.text("[data-testid=confirm]").await;
    // The question, not the deletion, comes first: nothing is gone yet.
    assert!(store.show(artifact_id).is_ok());
    gui.screenshot("artifacts-delete");
    gui.click("[data-testid=confirm-yes]").await;
    gui.text("[data-testid=artifacts-empty]").await;
    assert!(store.list().unwrap().is_empty());
}

/// Keyboard: Tab reaches the navigation, Enter follows a link, Alt+N jumps.
async fn keyboard(gui: &Gui) {
    gui.client
        .execute(
            "document.activeElement?.blur(); window.scrollTo(0,0);",
            vec![],
        )
        .await
        .unwrap();
    gui.client
        .execute(
            "document.querySelector('[data-testid=nav-doctor]').focus()",
            vec![],
        )
        .await
        .unwrap();
    gui.press(vec![
        KeyAction::Down {
            value: Key::Tab.into(),
        },
        KeyAction::Up {
            value: Key::Tab.into(),
        },
    ])
    .await;
    let focused: String = gui
        .eventually(
            "focus on the Build link",
            "return document.activeElement?.dataset?.testid ?? ''",
            |t: &String| !t.is_empty(),
        )
        .await;
    assert_eq!(focused, "nav-build");
    gui.press(vec![
        KeyAction::Down {
            value: Key::Enter.into(),
        },
        KeyAction::Up {
            value: Key::Enter.into(),
        },
    ])
    .await;
    gui.eventually::<String>(
        "Enter to open Build",
        "return document.querySelector('main h1')?.textContent ?? ''",
        |h| h == "Build a Slurm package",
    )
    .await;
    gui.press(vec![
        KeyAction::Down {
            value: Key::Alt.into(),
        },
        KeyAction::Down { value: '7' },
        KeyAction::Up { value: '7' },
        KeyAction::Up {
            value: Key::Alt.into(),
        },
    ])
    .await;
    gui.eventually::<String>(
        "Alt+7 to open Settings",
        "return document.querySelector('main h1')?.textContent ?? ''",
        |h| h == "Settings",
    )
    .await;
    assert_eq!(gui.page_title().await, "Settings");
}

/// Dark desktops get the dark palette: WebKitGTK reports the GTK theme's
/// variant as `prefers-color-scheme`, and the page's colours follow it.
#[tokio::test(flavor = "multi_thread")]
async fn dark_theme_follows_the_desktop() {
    let home = tempfile::tempdir().unwrap();
    let Some(gui) = start_with(home.path(), &[("GTK_THEME", "Adwaita:dark".into())]).await else {
        return;
    };
    gui.text("main h1").await;
    let dark: bool = gui
        .client
        .execute(
            "return matchMedia('(prefers-color-scheme: dark)').matches",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    assert!(dark, "a dark GTK theme should make the page prefer dark");
    // Relative luminance (0 black … 1 white) of the page and its text.
    let luminance = "const lum = (c) => { const [r, g, b] = c.match(/[0-9.]+/g).map(Number); return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255; };
        const s = getComputedStyle(document.documentElement);
        return [lum(s.backgroundColor), lum(getComputedStyle(document.querySelector('main h1')).color)];";
    let (background, text): (f64, f64) =
        serde_json::from_value(gui.client.execute(luminance, vec![]).await.unwrap()).unwrap();
    assert!(
        background < 0.25 && text > 0.75,
        "dark page expected: background {background:.2}, text {text:.2}"
    );
    gui.screenshot("build-dark");
    gui.client.close().await.unwrap();
}

/// Garbage through the app's own IPC, as a broken or hostile page would send
/// it: shell metacharacters, paths out of the store, control characters,
/// NULs, lone surrogates (what JavaScript has instead of non-UTF-8 bytes),
/// 100,000-character strings, numbers and shapes the page never sends, and
/// seeded random strings, to every command that takes text (those that open
/// a native dialog first, and builds, aside: `plan` validates what a build
/// would). Each call resolves or is refused with a readable error, no
/// shell runs, nothing outside what a command owns is touched, and the app
/// still answers.
#[tokio::test(flavor = "multi_thread")]
async fn app_commands_take_garbage_without_harm() {
    let home = tempfile::tempdir().unwrap();
    let settings = app_settings(home.path(), &[]);
    let run_id = seed_run(&settings.data_dir, 100);
    let scratch = tempfile::tempdir().unwrap();
    let artifact_id = seed_artifact(&settings, scratch.path(), 0);
    let marker = home.path().join("shell-ran");
    let Some(gui) = start(home.path()).await else {
        return;
    };
    gui.text("main h1").await;
    gui.client
        .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
            Some(Duration::from_secs(600)),
            None,
            None,
        ))
        .await
        .unwrap();
    let result = gui
        .client
        .execute_async(
            include_str!("garbage.js"),
            vec![marker.display().to_string().into(), run_id.clone().into()],
        )
        .await
        .unwrap();
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    assert!(result["calls"].as_u64().unwrap() > 2000, "{result}");
    assert_eq!(result["bad"], serde_json::json!([]), "{result}");
    assert_eq!(result["hung"], serde_json::json!([]), "{result}");
    assert_eq!(result["alive"], true, "the app stopped answering");
    assert!(
        result["longest_error"].as_u64().unwrap() < 2000,
        "an error too long to read: {}",
        result["longest_example"]
    );
    assert!(!marker.exists(), "a shell ran a command from the input");
    let store = factory::store::artifacts::Store::new(settings.artifacts_dir());
    store
        .show(&artifact_id)
        .expect("the package survives deletes of garbage ids");
    assert!(settings.runs_dir().join(&run_id).join("run.json").is_file());
    assert!(scratch.path().join("tree/bin/sinfo").is_file());
    gui.client.close().await.unwrap();
}

/// The log benchmark: 1,000,000 lines at 10,000 lines/s into a live run on
/// the Runs page. Needs the benchmark builds (`scripts/bench-ui.sh` makes
/// them); prints the page's lag behind the backend and the backend's memory.
/// `BENCH_ROUNDS` (`page@period_ms,…`, default `runs@default`) runs several
/// rounds in one app session, so they compare side by side.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run by scripts/bench-ui.sh"]
async fn log_stream_benchmark() {
    let env_or = |key: &str, default: &str| std::env::var(key).unwrap_or_else(|_| default.into());
    let lines: u64 = env_or("BENCH_LINES", "1000000").parse().unwrap();
    let rate: u64 = env_or("BENCH_RATE", "10000").parse().unwrap();
    let rounds = env_or("BENCH_ROUNDS", "runs@default");
    let home = tempfile::tempdir().unwrap();
    // A 64 MiB package for the busy rounds' exports.
    let settings = app_settings(home.path(), &[]);
    let scratch = tempfile::tempdir().unwrap();
    seed_artifact(&settings, scratch.path(), 64 << 20);
    let exports = scratch.path().join("exports");
    std::fs::create_dir(&exports).unwrap();
    let Some(gui) = start(home.path()).await else {
        return;
    };
    gui.text("main h1").await;
    let has_hook: bool = gui
        .client
        .execute("return typeof window.sfBench === 'function'", vec![])
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    assert!(has_hook, "not a benchmark build: run scripts/bench-ui.sh");
    let seconds = 60 + lines / rate.max(1);
    gui.client
        .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
            Some(Duration::from_secs(seconds)),
            None,
            None,
        ))
        .await
        .unwrap();
    let mut table = Vec::new();
    for round in rounds.split(',') {
        let (page, period) = round.split_once('@').unwrap_or((round, "default"));
        let period: serde_json::Value = period
            .parse::<u64>()
            .map_or(serde_json::Value::Null, Into::into);
        let result = gui
            .client
            .execute_async(
                "const [lines, rate, page, period, exportDir, done] = arguments; window.sfBench(lines, rate, page, period ?? undefined, exportDir).then(done, e => done({ error: String(e) }));",
                vec![
                    lines.into(),
                    rate.into(),
                    page.into(),
                    period,
                    exports.display().to_string().into(),
                ],
            )
            .await
            .unwrap();
        if page == "runs" {
            gui.screenshot("bench-runs");
        }
        println!(
            "BENCH {round} {}",
            serde_json::to_string_pretty(&result).unwrap()
        );
        assert_eq!(result["received"], lines, "{result}");
        let p = &result["painted_ms"];
        table.push(format!(
            "{round:<16} painted p50 {:>4} p95 {:>4} p99 {:>4} ms · arrival p50 {:>4} ms · frame gap p99 {:>4} max {:>4} ms · {} user actions, {} exports of 64 MiB (p50 {} ms) · backend peak RSS {} MiB",
            p["p50"], p["p95"], p["p99"], result["arrival_ms"]["p50"],
            result["frame_gap_ms"]["p99"], result["frame_gap_ms"]["max"], result["user_actions"],
            result["export_ms"]["n"], result["export_ms"]["p50"],
            result["backend"]["rss_peak_kib"].as_u64().unwrap_or(0) / 1024
        ));
    }
    println!(
        "BENCH SUMMARY ({lines} lines at {rate}/s; lag of each batch's oldest line, goal < 100 ms)"
    );
    for row in table {
        println!("  {row}");
    }
    gui.client.close().await.unwrap();
}

/// Whether the LXD test images exist (made by .ci/setup-lxd.sh); without
/// them an LXD test says it is skipped, or fails where LXD tests are required.
fn lxd_test_images() -> bool {
    let found = Command::new("lxc")
        .args(["image", "info", "sf-test-build"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        let msg = "LXD GUI test SKIPPED: no sf-test-build image; run .ci/setup-lxd.sh";
        assert!(
            std::env::var_os("SLURM_FACTORY_REQUIRE_LXD").is_none(),
            "{msg}"
        );
        eprintln!("{msg}");
    }
    found
}

/// The app's environment for builds against real LXD with `templates`.
fn lxd_env(templates: &Path) -> Vec<(&'static str, String)> {
    vec![
        (
            "SLURM_FACTORY_TEMPLATES_DIR",
            templates.display().to_string(),
        ),
        ("SLURM_FACTORY_IMAGE", "sf-test-build".to_string()),
        ("SLURM_FACTORY_VERIFY_IMAGE", "sf-test-plain".to_string()),
        ("SLURM_FACTORY_MIN_FREE_DISK_MIB", "1024".to_string()),
    ]
}

/// The XDG dirs of an app started with `HOME=home`.
fn app_dirs(home: &Path) -> factory::settings::XdgDirs {
    factory::settings::XdgDirs {
        config: home.join(".config/slurm-factory"),
        data: home.join(".local/share/slurm-factory"),
        cache: home.join(".cache/slurm-factory"),
    }
}

/// The settings an app started by `start_with(home, env)` reads.
fn app_settings(home: &Path, env: &[(&str, String)]) -> factory::settings::Settings {
    let vars: std::collections::BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    factory::settings::load(&app_dirs(home), &vars)
        .unwrap()
        .settings
}

fn run_instances(run_id: &str) -> Vec<String> {
    let out = Command::new("lxc")
        .args(["list", "--format", "json"])
        .output()
        .expect("lxc list");
    let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    all.iter()
        .filter(|i| i["config"][factory::store::runs::RUN_LABEL] == run_id)
        .filter_map(|i| i["name"].as_str().map(str::to_owned))
        .collect()
}

/// The Matrix page against real LXD with the test recipe: a typo is refused
/// in the engine's words, a checked matrix lists its builds and its two
/// servers (this machine's LXD and a second one over HTTPS), and a run fills
/// the table as two builds go at once, one on each server, until both
/// packages are verified.
#[tokio::test(flavor = "multi_thread")]
async fn matrix_page_runs_two_builds_against_real_lxd() {
    if !lxd_test_images() {
        return;
    }
    // Two servers: this machine's LXD and the second one setup-lxd.sh starts.
    let Some(remote) =
        slurm_factory_e2e::RemoteServer::from_env("matrix_page_runs_two_builds_against_real_lxd")
    else {
        return;
    };
    let _turn = remote.turn();
    remote.control("start");
    let home = tempfile::tempdir().unwrap();
    let mut env = lxd_env(&repo_root().join("tests/recipes/hello"));
    env.push((
        "SLURM_FACTORY_REMOTES",
        format!("local=1,{}=1", remote.name),
    ));
    // The client config that knows the remote (the app gets a home of its own).
    env.push(("LXD_CONF", remote.lxd_conf.clone()));
    let Some(gui) = start_with(home.path(), &env).await else {
        return;
    };
    let set_text = |text: &'static str| {
        let client = gui.client.clone();
        async move {
            client
                .execute(
                    "const t = document.querySelector('[data-testid=matrix-text]'); t.value = arguments[0]; t.dispatchEvent(new Event('input'));",
                    vec![text.into()],
                )
                .await
                .unwrap();
        }
    };
    gui.go("matrix", "Matrix").await;
    set_text("base: {minimal: true}\naxes:\n  target: [x86_64_v3, 'zen3; reboot']\n").await;
    gui.click("[data-testid=matrix-check]").await;
    let refused = gui.text("[role=alert]").await;
    assert!(
        refused.contains("build target=zen3; reboot: invalid optimization target"),
        "{refused}"
    );
    set_text("base: {minimal: true, jobs: 1}\naxes:\n  target: [x86_64_v3, x86_64_v2]\n").await;
    gui.click("[data-testid=matrix-check]").await;
    assert_eq!(gui.text("[data-testid=matrix-summary]").await, "2 builds");
    let servers = gui.text("[data-testid=matrix-servers]").await;
    assert!(
        servers.contains("local (1 at a time")
            && servers.contains(&format!("{} (1 at a time", remote.name)),
        "{servers}"
    );
    gui.click("[data-testid=matrix-run]").await;
    // Both started before either finished: two at once, one on each server.
    let states: Vec<String> = gui
        .eventually_within(
            Duration::from_secs(120),
            "two builds running at once",
            "return [...document.querySelectorAll('[data-build]')].map(r => r.dataset.state)",
            |s: &Vec<String>| s.iter().all(|s| s != "waiting"),
        )
        .await;
    println!("matrix rows while running: {states:?}");
    let outcomes: Vec<String> = gui
        .eventually_within(
            Duration::from_secs(300),
            "both builds verified",
            "return [...document.querySelectorAll('[data-outcome]')].map(r => r.dataset.outcome)",
            |o: &Vec<String>| o.iter().all(|o| !o.is_empty()),
        )
        .await;
    if outcomes != ["verified", "verified"] {
        let rows: Vec<String> = gui
            .client
            .execute(
                "return [...document.querySelectorAll('[data-build]')].map(r => r.textContent.trim())",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let runs = app_settings(home.path(), &env).runs_dir();
        let logs: Vec<String> = std::fs::read_dir(&runs)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|d| std::fs::read_to_string(d.path().join("build.log")).ok())
            .map(|log| log.lines().rev().take(15).collect::<Vec<_>>().join("\n"))
            .collect();
        panic!(
            "outcomes {outcomes:?}; rows {rows:#?}; the runs' last log lines:\n{}",
            logs.join("\n---\n")
        );
    }
    let mut placed: Vec<String> = gui
        .client
        .execute(
            "return [...document.querySelectorAll('[data-testid=matrix-server]')].map(c => c.textContent.trim())",
            vec![],
        )
        .await
        .map(|v| serde_json::from_value(v).unwrap())
        .unwrap();
    placed.sort();
    assert_eq!(placed, ["local".to_string(), remote.name.clone()]);
    assert_eq!(
        gui.text("[data-testid=matrix-summary]").await,
        "2 of 2 packages verified"
    );
    gui.screenshot("matrix");
    let settings = app_settings(home.path(), &env);
    let stored = factory::store::artifacts::Store::new(settings.artifacts_dir())
        .list()
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|a| a.verified), "{stored:?}");
    gui.client.close().await.unwrap();
    remote.clean_replicas(home.path(), env.iter().map(|(k, v)| (*k, v.as_str())));
}

/// The whole loop against real LXD with the `hello` test recipe: doctor
/// passes, a build runs with live stages, progress and log, its artifact
/// appears; a second build is cancelled mid-way with nothing left; the
/// caches page shows sizes and cleaning a layer empties it.
#[tokio::test(flavor = "multi_thread")]
async fn build_cancel_and_caches_against_real_lxd() {
    if !lxd_test_images() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let env = lxd_env(&repo_root().join("tests/recipes/hello"));
    let Some(gui) = start_with(home.path(), &env).await else {
        return;
    };
    let settings = app_settings(home.path(), &env);
    let store = factory::store::artifacts::Store::new(settings.artifacts_dir());

    gui.go("doctor", "Doctor").await;
    let summary = gui.text("[data-testid=doctor-summary]").await;
    assert_eq!(summary, "Ready to build.");

    let (artifacts, first) = a_build_keeps_the_chosen_contents(&gui, &store).await;
    a_cancelled_build_leaves_nothing(&gui, &store).await;
    caches_page(&gui, home.path(), &env, &settings).await;
    history_page(&gui, home.path(), &env, &settings, &store).await;
    publish_from_the_artifacts_page(&gui, home.path(), &artifacts, &first).await;
    gui.client.close().await.unwrap();
}

/// A build: stages advance, the log fills, the artifact appears.
/// The store's artifacts after it, and the first in full.
async fn a_build_keeps_the_chosen_contents(
    gui: &Gui,
    store: &factory::store::artifacts::Store,
) -> (
    Vec<factory::store::artifacts::ArtifactSummary>,
    factory::store::artifacts::Artifact,
) {
    gui.go("build", "Build a Slurm package").await;
    gui.eventually::<String>(
        "a plan",
        "return document.querySelector('[data-testid=plan-name]')?.textContent ?? ''",
        |n| !n.is_empty(),
    )
    .await;
    gui.build_button_ready().await;
    // Package contents chosen in the form reach the package: headers kept.
    gui.click("[data-testid=build-form] details summary").await;
    gui.click("[data-option=keep_headers]").await;
    gui.eventually::<bool>(
        "the headers box ticked",
        "return document.querySelector('[data-option=keep_headers]').checked",
        |b| *b,
    )
    .await;
    gui.screenshot("build-advanced");
    gui.click("[data-testid=build-button]").await;
    let running = "return [...document.querySelectorAll('[data-stage-status=running]')].map(e => e.dataset.stage)";
    gui.eventually_within::<Vec<String>>(
        Duration::from_secs(120),
        "a running stage",
        running,
        |v| !v.is_empty(),
    )
    .await;
    gui.screenshot("runs-live");
    let (done, error) = gui
        .selected_run_end("the build to finish", Duration::from_secs(600))
        .await;
    assert_eq!(done, "succeeded", "{error}");
    let lines: u64 = gui
        .eventually(
            "log lines",
            "return Number(document.querySelector('[data-testid=log-count]').textContent.replace(/[^0-9]/g, ''))",
            |n: &u64| *n > 0,
        )
        .await;
    assert!(lines > 10, "{lines} log lines");
    let stages: Vec<(String, String)> = gui
        .eventually(
            "stage outcomes",
            "return [...document.querySelectorAll('[data-stage]')].map(e => [e.dataset.stage, e.dataset.stageStatus])",
            |v: &Vec<(String, String)>| !v.is_empty(),
        )
        .await;
    assert!(
        stages
            .iter()
            .all(|(_, s)| ["done", "cached", "skipped"].contains(&s.as_str())),
        "{stages:?}"
    );
    gui.screenshot("runs-done");
    let artifacts = store.list().unwrap();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    let artifact = store.show(&artifacts[0].id).unwrap();
    let listing = Command::new("tar")
        .arg("--zstd")
        .arg("-tf")
        .arg(artifact.dir.join(&artifact.manifest.archives[0].file))
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.lines().any(|l| l.ends_with("include/greet.h")),
        "headers were asked for in the form but are not in the package:\n{listing}"
    );
    gui.go("artifacts", "Artifacts").await;
    assert!(gui
        .text(&format!("[data-artifact='{}']", artifacts[0].id))
        .await
        .contains(&artifacts[0].name));
    (artifacts, artifact)
}

/// A second build, cancelled mid-way: nothing stays behind.
async fn a_cancelled_build_leaves_nothing(gui: &Gui, store: &factory::store::artifacts::Store) {
    gui.start_build().await;
    let run_id: String = gui
        .eventually_within(
            Duration::from_secs(120),
            "the second run to provision",
            "const c = document.querySelector('[data-testid=run-card][aria-pressed=true]'); const s = [...document.querySelectorAll('[data-stage-status=running]')].map(e => e.dataset.stage); return c && !c.textContent.includes('pending-') && s.some(x => x !== 'preflight') ? c.querySelector('[data-testid=run-id]').textContent : ''",
            |id: &String| !id.is_empty(),
        )
        .await;
    gui.click("[data-testid=cancel-build]").await;
    let (end, _) = gui
        .selected_run_end("the cancel", Duration::from_secs(120))
        .await;
    assert_eq!(end, "cancelled");
    gui.screenshot("runs-cancelled");
    assert_eq!(
        store.list().unwrap().len(),
        1,
        "a cancelled build added an artifact"
    );
    assert!(
        run_instances(&run_id).is_empty(),
        "instances of {run_id} left behind"
    );
}

/// Caches: sizes per layer; cleaning the buildcache empties it.
async fn caches_page(
    gui: &Gui,
    home: &Path,
    env: &[(&str, String)],
    settings: &factory::settings::Settings,
) {
    gui.go("caches", "Caches").await;
    let sizes: Vec<(String, u64)> = gui
        .eventually(
            "layer sizes",
            "return [...document.querySelectorAll('[data-layer]')].map(e => [e.dataset.layer, Number(e.dataset.bytes)])",
            |v: &Vec<(String, u64)>| !v.is_empty(),
        )
        .await;
    let buildcache = sizes
        .iter()
        .find(|(l, _)| l == "buildcache")
        .map(|(_, b)| *b);
    assert!(buildcache.unwrap_or(0) > 0, "{sizes:?}");
    // Hit rates: what the engine sums from the two runs' events, as the page words it.
    let shown: Vec<(String, String)> = gui
        .eventually(
            "hit rates",
            "return [...document.querySelectorAll('[data-layer]')].map(e => [e.dataset.layer, e.querySelector('[data-testid=hit-rate]')?.textContent ?? ''])",
            |v: &Vec<(String, String)>| v.iter().all(|(_, t)| !t.is_empty()),
        )
        .await;
    // The engine's text, which `slurm-factory cache status` prints too.
    let cli_status = cli(home, env, &["cache", "status"]);
    for h in factory::caches::cache::hit_rates(settings).unwrap() {
        let text = shown.iter().find(|(l, _)| l == h.layer.as_str());
        assert_eq!(
            text.map(|(_, t)| t.as_str()),
            Some(h.text.as_str()),
            "{shown:?}"
        );
        let line = cli_status
            .lines()
            .find(|l| l.starts_with(h.layer.as_str()))
            .unwrap();
        assert!(line.contains(&h.text), "{line} / {}", h.text);
    }
    // The finished build looked for the base image and a lock (the cancelled
    // one may have stopped before either), so both lines show a rate.
    for layer in ["base-images", "locks"] {
        let text = &shown.iter().find(|(l, _)| l == layer).unwrap().1;
        assert!(
            text.starts_with("hit rate ") && text.contains(" lookup"),
            "{layer}: {text}"
        );
    }
    // The offline bundle's actions sit behind native file dialogs, which
    // WebDriver cannot drive: the page offers them; tests/tests/mirror.rs runs
    // the commands behind them on the real offline site.
    let bundle = gui.text("[data-testid=offline-bundle]").await;
    for label in [
        "Offline bundle",
        "Export bundle…",
        "Import bundle…",
        "mirror export FILE",
    ] {
        assert!(bundle.contains(label), "{bundle}");
    }
    gui.screenshot("caches");
    gui.click("[data-layer=buildcache] [data-testid=clean-layer]")
        .await;
    gui.click("[data-testid=confirm-yes]").await;
    gui.eventually::<u64>(
        "the buildcache to be empty",
        "return Number(document.querySelector('[data-layer=buildcache]').dataset.bytes)",
        |b| *b == 0,
    )
    .await;
    let dir = factory::caches::cache::CacheDirs::new(settings).buildcache;
    assert_eq!(factory::fsutil::tree_usage(&dir).0, 0);
}

/// History: three more real builds through the CLI (one compiling again
/// after the clean, one served from the buildcache, one failing at
/// verify), then the page plots all five runs.
async fn history_page(
    gui: &Gui,
    home: &Path,
    env: &[(&str, String)],
    settings: &factory::settings::Settings,
    store: &factory::store::artifacts::Store,
) {
    let build = ["build", "--minimal", "--target", "x86_64_v3", "--jobs", "2"];
    cli(home, env, &build);
    cli(home, env, &[&build[..], &["--keep-headers"]].concat());
    let scratch = tempfile::tempdir().unwrap();
    let failing = slurm_factory_e2e::absolute_rpath_recipe(scratch.path());
    let mut failing_env = env.to_vec();
    failing_env[0].1 = failing.display().to_string();
    let out =
        slurm_factory_e2e::slurm_factory(home, failing_env.iter().map(|(k, v)| (k, v)), &build);
    assert!(
        !out.status.success(),
        "a package with an absolute RPATH passed"
    );
    let history = factory::store::history::history(&settings.runs_dir(), store, None);
    assert_eq!(history.runs.len(), 5, "{history:#?}");
    gui.go("history", "History").await;
    let summary: String = gui
        .eventually(
            "the history summary",
            "return document.querySelector('[data-testid=history-summary]')?.textContent ?? ''",
            |t: &String| !t.is_empty(),
        )
        .await;
    let summary = summary.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        summary.contains("5 runs: 3 succeeded, 1 failed"),
        "{summary}"
    );
    for chart in [
        "chart-stages",
        "chart-cache",
        "chart-sizes",
        "chart-failures",
    ] {
        let points: String = gui
            .eventually(
                chart,
                &format!(
                    "return document.querySelector('[data-testid={chart}]')?.dataset.points ?? ''"
                ),
                |p: &String| !p.is_empty(),
            )
            .await;
        let expected = if chart == "chart-failures" { "1" } else { "5" };
        assert_eq!(points, expected, "{chart}");
    }
    // The canvas's figures, as the table screen readers get: one failure.
    let failed_at: Vec<Vec<String>> = gui
        .eventually(
            "the failure chart's table",
            "return [...document.querySelectorAll('[data-testid=chart-failures] table.sr-only tr')].map(r => [...r.children].map(c => c.textContent.trim()))",
            |v: &Vec<Vec<String>>| !v.is_empty(),
        )
        .await;
    // The package stage's inspection is what refuses the absolute RPATH.
    assert_eq!(history.failures.len(), 1, "{:?}", history.failures);
    assert_eq!(history.failures[0].stage, Stage::Package);
    assert_eq!(
        failed_at.last().unwrap(),
        &["Package", "1"],
        "{failed_at:?}"
    );
    assert_eq!(failed_at.len(), 2, "a header and one stage: {failed_at:?}");
    // Hovering the last bar names its run; clicking opens it on the Runs page.
    let over = gui
        .client
        .find(Locator::Css("[data-testid=chart-stages] .u-over"))
        .await
        .unwrap();
    let width: f64 = gui
        .client
        .execute(
            "return document.querySelector('[data-testid=chart-stages] .u-over').getBoundingClientRect().width",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    let last = history.runs.last().unwrap();
    let pointer = fantoccini::actions::MouseActions::new("mouse".into()).then(
        fantoccini::actions::PointerAction::MoveToElement {
            element: over,
            duration: Some(Duration::from_millis(100)),
            x: width / 2.0 - 8.0,
            y: 0.0,
        },
    );
    gui.client.perform_actions(pointer).await.unwrap();
    let hovered = gui
        .eventually::<String>(
            "the hovered run",
            "return document.querySelector('[data-testid=history-hovered]')?.textContent ?? ''",
            |t| t.contains("20"),
        )
        .await;
    assert!(
        hovered.contains(&last.id) && hovered.contains("failed at Package"),
        "{hovered}"
    );
    gui.screenshot("history");
    let pick = fantoccini::actions::MouseActions::new("mouse".into())
        .then(fantoccini::actions::PointerAction::Down {
            button: fantoccini::actions::MOUSE_BUTTON_LEFT,
        })
        .then(fantoccini::actions::PointerAction::Up {
            button: fantoccini::actions::MOUSE_BUTTON_LEFT,
        });
    gui.client.perform_actions(pick).await.unwrap();
    let opened: String = gui
        .eventually(
            "the picked run on the Runs page",
            "return document.querySelector('main h1')?.textContent === 'Runs' ? (document.querySelector('[data-testid=run-card][aria-pressed=true] [data-testid=run-id]')?.textContent ?? '') : ''",
            |id: &String| !id.is_empty(),
        )
        .await;
    assert_eq!(opened, last.id);
}

/// Last (it adds a run to the history): the first artifact published
/// from its page, signed with a real key; then its signatures checked.
async fn publish_from_the_artifacts_page(
    gui: &Gui,
    home: &Path,
    artifacts: &[factory::store::artifacts::ArtifactSummary],
    artifact: &factory::store::artifacts::Artifact,
) {
    gui.go("artifacts", "Artifacts").await;
    let key = slurm_factory_e2e::SigningKey::new(home);
    let published = home.join("published");
    gui.click(&format!("[data-artifact='{}'] button", artifacts[0].id))
        .await;
    gui.click("[data-testid=publish]").await;
    // The form renders after the click: waited for, as `click` waits.
    let type_into = |css: &'static str, text: String| {
        let client = gui.client.clone();
        async move {
            client
                .wait()
                .at_most(WAIT)
                .for_element(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("{css}: {e}"))
                .send_keys(&text)
                .await
                .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
        }
    };
    type_into("#p-to", format!("file://{}", published.display())).await;
    type_into("#p-key", key.secret.display().to_string()).await;
    gui.screenshot("artifacts-publish");
    gui.click("[data-testid=publish-form] button[type=submit]")
        .await;
    // It runs like a build: live on the Runs page, to its end.
    let (done, note) = gui
        .selected_run_end("the publish to finish", Duration::from_secs(180))
        .await;
    assert_eq!(done, "succeeded", "{note}");
    let stages: Vec<String> = gui
        .eventually(
            "the publish stage done",
            "return [...document.querySelectorAll('[data-stage-status=done]')].map(e => e.dataset.stage)",
            |v: &Vec<String>| v.iter().any(|s| s == "publish"),
        )
        .await;
    assert!(!stages.iter().any(|s| s == "package"), "{stages:?}");
    gui.screenshot("runs-publish");
    gui.go("artifacts", "Artifacts").await;
    gui.click(&format!("[data-artifact='{}'] button", artifacts[0].id))
        .await;
    let archive = &artifact.manifest.archives[0].file;
    let beside = published.join("packages").join(&artifacts[0].id);
    assert!(beside.join(format!("{archive}.asc")).is_file(), "{note}");
    type_into(
        "[aria-label='Public key file']",
        key.public.display().to_string(),
    )
    .await;
    gui.click("[data-testid=check-signatures]").await;
    let checked = gui.text("[data-testid=signatures]").await;
    assert!(
        checked.contains("good signatures: 2, by Site Builder <builder@site.example>"),
        "{checked}"
    );
    gui.screenshot("artifacts-signed");
}

/// The app process whose HOME is `home` (tests run apps side by side).
fn app_pid(home: &Path) -> Option<u32> {
    let wanted = format!("HOME={}", home.display());
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let exe = std::fs::read_link(e.path().join("exe")).ok()?;
        let environ = std::fs::read(e.path().join("environ")).ok()?;
        (exe.file_name()? == "slurm-factory-app"
            && environ.split(|b| *b == 0).any(|v| v == wanted.as_bytes()))
        .then_some(pid)
    })
}

/// The app killed with SIGKILL while its build installs: `clean` removes
/// the run's instances, the run is marked interrupted, nothing is half in
/// the store, and the next build succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn app_killed_mid_build_leaves_nothing_behind() {
    if !lxd_test_images() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let slow = slurm_factory_e2e::slow_install_recipe(home.path());
    let mut env = lxd_env(&slow);
    let Some(gui) = start_with(home.path(), &env).await else {
        return;
    };
    gui.start_build().await;
    let run_id: String = gui
        .eventually_within(
            Duration::from_secs(180),
            "the install stage",
            "const c = document.querySelector('[data-testid=run-card][aria-pressed=true]'); return c && document.querySelector('[data-stage=install][data-stage-status=running]') ? c.querySelector('[data-testid=run-id]').textContent : ''",
            |id: &String| !id.is_empty(),
        )
        .await;
    let pid = app_pid(home.path()).expect("the app's process");
    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_until("the app to die", || {
        !Path::new(&format!("/proc/{pid}/exe")).exists()
    });
    drop(gui);
    // The instances outlive the app; its run is what tells `clean` they are orphans.
    assert!(!run_instances(&run_id).is_empty());

    let out = cli(home.path(), &env, &["clean"]);
    assert!(
        out.contains(&run_id),
        "clean names the interrupted run: {out}"
    );
    assert_eq!(run_instances(&run_id), Vec::<String>::new());
    let runs = cli(home.path(), &env, &["runs", "list"]);
    let line = runs.lines().find(|l| l.starts_with(&run_id)).unwrap();
    assert!(line.contains("interrupted"), "{line}");
    let store = home.path().join(".local/share/slurm-factory/artifacts");
    let staged: Vec<_> = std::fs::read_dir(&store)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(staged.is_empty(), "the store holds {staged:?}");
    env[0].1 = repo_root()
        .join("tests/recipes/hello")
        .display()
        .to_string();
    cli(
        home.path(),
        &env,
        &["build", "--minimal", "--target", "x86_64_v3", "--jobs", "2"],
    );
}

/// Mounts a clean root needs to run a desktop app (/proc, /sys, a small /dev
/// of its own), unmounted on drop before the root itself is removed.
struct Chroot {
    root: PathBuf,
    mounts: Vec<PathBuf>,
    dir: Option<tempfile::TempDir>,
}

impl Chroot {
    fn run(&self, args: &[&str]) -> std::process::Output {
        let out = Command::new("chroot")
            .arg(&self.root)
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .expect("running chroot");
        assert!(
            out.status.success(),
            "chroot {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn mount(&mut self, args: &[&str], at: &str) {
        let target = self.root.join(at);
        std::fs::create_dir_all(&target).unwrap();
        let ok = Command::new("mount")
            .args(args)
            .arg(&target)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount {args:?} {}", target.display());
        self.mounts.push(target);
    }
}

impl Drop for Chroot {
    fn drop(&mut self) {
        for m in self.mounts.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
        // Never remove a tree something is still mounted in.
        let mounted = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let root = self.root.display().to_string();
        if mounted
            .lines()
            .any(|l| l.split(' ').nth(1).is_some_and(|p| p.starts_with(&root)))
        {
            eprintln!("leaving {root} behind: still mounted");
            if let Some(dir) = self.dir.take() {
                let _ = dir.keep();
            }
        }
    }
}

/// The `.deb` Tauri's bundler made (`tauri build --bundles deb rpm`, run by
/// scripts/test.sh), installed with apt into a clean Debian 12 root (the
/// plain test image's, which has no desktop libraries), started from
/// /usr/bin under Xvfb and driven to the Build page.
#[tokio::test(flavor = "multi_thread")]
async fn the_deb_installs_on_a_clean_debian_and_starts() {
    let required = std::env::var_os("SLURM_FACTORY_REQUIRE_GUI").is_some();
    // The bundles come with the GUI tooling; the clean root from the LXD setup.
    let required_lxd = std::env::var_os(slurm_factory_e2e::REQUIRE_LXD).is_some();
    let skip_with = |required: bool, why: &str| {
        let msg = format!("installed-app test SKIPPED: {why}; run scripts/test.sh");
        assert!(!required, "{msg}");
        eprintln!("{msg}");
    };
    let skip = |why: &str| skip_with(required, why);
    let skip_lxd = |why: &str| skip_with(required_lxd, why);
    let bundles = slurm_factory_e2e::built_binary("slurm-factory-app")
        .parent()
        .unwrap()
        .join("bundle");
    let find = |kind: &str| {
        std::fs::read_dir(bundles.join(kind))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == kind))
    };
    let (Some(deb), Some(rpm)) = (find("deb"), find("rpm")) else {
        return skip(&format!("no .deb and .rpm under {}", bundles.display()));
    };
    let Some(image) = std::env::var("SLURM_FACTORY_TEST_PLAIN_IMAGE").ok() else {
        return skip_lxd("SLURM_FACTORY_TEST_PLAIN_IMAGE is not set");
    };
    // /proc/self belongs to the effective user.
    let uid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap());
    if uid != 0 {
        return skip_lxd("chroot and mount need root");
    }
    let meta = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{cmd:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let info = meta(Command::new("dpkg").arg("-I").arg(&deb));
    println!(
        "$ dpkg -I {}  ({} bytes)\n{info}",
        deb.display(),
        std::fs::metadata(&deb).unwrap().len()
    );
    assert!(info.contains("Package: slurm-factory"), "{info}");
    assert!(info.contains("libwebkit2gtk-4.1-0"), "{info}");
    let files = meta(Command::new("dpkg").arg("-c").arg(&deb));
    for f in [
        "usr/bin/slurm-factory-app",
        "usr/share/applications/Slurm Factory.desktop",
        "usr/share/icons/hicolor/128x128/apps/slurm-factory-app.png",
    ] {
        assert!(
            files.lines().any(|l| l.ends_with(f)),
            "{f} missing from the .deb:\n{files}"
        );
    }
    if which("rpm").is_some() {
        let info = meta(Command::new("rpm").arg("-qip").arg(&rpm));
        println!("$ rpm -qip {}\n{info}", rpm.display());
        assert!(info.contains("slurm-factory"), "{info}");
    }

    // A clean root: the plain image's file system, with this host's apt
    // sources (the only way out to Debian's packages).
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let export = dir.path().join("image");
    let out = Command::new("lxc")
        .args(["image", "export", &image])
        .arg(&export)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tarball = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("image."))
        .expect("the exported image");
    let ok = Command::new("tar")
        .arg("-xf")
        .arg(&tarball)
        .arg("-C")
        .arg(dir.path())
        .args(["--numeric-owner", "rootfs"])
        .status()
        .unwrap()
        .success();
    assert!(ok, "unpacking {}", tarball.display());
    std::fs::remove_file(&tarball).unwrap();
    let root = dir.path().join("rootfs");
    let mut chroot = Chroot {
        root: root.clone(),
        mounts: Vec::new(),
        dir: Some(dir),
    };
    for (from, to) in [
        ("/etc/resolv.conf", "etc/resolv.conf"),
        ("/etc/apt/sources.list", "etc/apt/sources.list"),
    ] {
        let _ = std::fs::remove_file(root.join(to));
        if Path::new(from).exists() {
            std::fs::copy(from, root.join(to)).unwrap();
        }
    }
    for dir in ["sources.list.d", "apt.conf.d"] {
        for e in std::fs::read_dir(Path::new("/etc/apt").join(dir))
            .unwrap()
            .flatten()
        {
            if e.path().is_file() {
                std::fs::copy(e.path(), root.join("etc/apt").join(dir).join(e.file_name()))
                    .unwrap();
            }
        }
    }
    chroot.mount(&["-t", "proc", "proc"], "proc");
    chroot.mount(&["-t", "sysfs", "-o", "ro", "sysfs"], "sys");
    chroot.mount(&["-t", "tmpfs", "-o", "mode=755", "dev"], "dev");
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("random", 1, 8),
        ("urandom", 1, 9),
    ] {
        let node = root.join("dev").join(name);
        let ok = Command::new("mknod")
            .args(["-m", "666"])
            .arg(&node)
            .args(["c", &major.to_string(), &minor.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "mknod {}", node.display());
    }
    chroot.mount(&["-t", "tmpfs", "-o", "mode=1777", "shm"], "dev/shm");
    chroot.mount(&["-t", "tmpfs", "-o", "mode=1777", "tmp"], "tmp");

    // Cached downloads make a second run quick; the install itself is real.
    let apt_cache = std::env::var_os("SLURM_FACTORY_TEST_APT_CACHE").map(PathBuf::from);
    let archives = root.join("var/cache/apt/archives");
    if let Some(cache) = &apt_cache {
        for e in std::fs::read_dir(cache).into_iter().flatten().flatten() {
            std::fs::copy(e.path(), archives.join(e.file_name())).unwrap();
        }
    }
    std::fs::copy(&deb, root.join("tmp/slurm-factory.deb")).unwrap();
    let started = Instant::now();
    chroot.run(&["apt-get", "update", "-qq"]);
    chroot.run(&[
        "apt-get",
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "/tmp/slurm-factory.deb",
        "webkit2gtk-driver",
    ]);
    println!(
        "apt-get install of the .deb and WebKitWebDriver: {:.0} s",
        started.elapsed().as_secs_f64()
    );
    if let Some(cache) = &apt_cache {
        std::fs::create_dir_all(cache).unwrap();
        for e in std::fs::read_dir(&archives).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "deb") {
                let _ = std::fs::copy(e.path(), cache.join(e.file_name()));
            }
        }
    }
    let status = chroot.run(&[
        "dpkg-query",
        "-W",
        "-f=${Status} ${Version}",
        "slurm-factory",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        "install ok installed 0.1.0"
    );
    let desktop =
        std::fs::read_to_string(root.join("usr/share/applications/Slurm Factory.desktop")).unwrap();
    assert!(desktop.contains("Exec=slurm-factory-app"), "{desktop}");

    // The installed binary, started by WebKitWebDriver inside the root.
    std::fs::create_dir_all(root.join("home/user")).unwrap();
    let native = root.with_file_name("webkit-webdriver-in-root");
    std::fs::write(
        &native,
        format!(
            "#!/bin/sh\nexec chroot {} /usr/bin/WebKitWebDriver \"$@\"\n",
            root.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&native, std::fs::Permissions::from_mode(0o755)).unwrap();
    let gui = launch(
        Path::new("/usr/bin/slurm-factory-app"),
        Path::new("/home/user"),
        &[],
        Some(&native),
    )
    .await;
    // No LXD in the root: the app opens on the Doctor, which says what to install.
    let summary: String = gui
        .eventually(
            "the Doctor's findings",
            "return document.querySelector('main h1')?.textContent === 'Doctor' ? (document.querySelector('[data-testid=doctor-summary]')?.textContent ?? '') : ''",
            |t: &String| !t.is_empty(),
        )
        .await;
    println!("the installed app's first screen: Doctor, {summary:?}");
    gui.screenshot("installed-first-screen");
    gui.go("build", "Build a Slurm package").await;
    gui.eventually::<String>(
        "a plan",
        "return document.querySelector('[data-testid=plan-name]')?.textContent ?? ''",
        |n| !n.is_empty(),
    )
    .await;
    gui.screenshot("installed-build");
    gui.client.close().await.unwrap();
}
