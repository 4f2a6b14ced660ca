//! `slurm-factory detect` and the detected defaults of `plan`, run as a user runs them.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../factory/tests/fixtures/hardware")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    let config = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_slurm-factory"))
        .args(args)
        .env("XDG_CONFIG_HOME", config.path())
        .env("NO_COLOR", "1")
        .env_remove("SLURM_FACTORY_CONFIG")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn detect_json_on_the_captured_h100() {
    let dir = fixture("h100-kvm");
    let o = run(&["detect", "--json", "--from", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["cpu"]["microarch"], "icelake");
    assert_eq!(v["gpus"][0]["name"], "NVIDIA H100 80GB HBM3");
    assert_eq!(v["gpus"][0]["arch"], "90");
    assert_eq!(v["gpus"][0]["support"], "supported");
    let s = &v["suggestions"];
    assert_eq!(s["target"]["value"], "icelake");
    assert_eq!(s["portable_target"]["value"], "x86_64_v3");
    assert_eq!(s["package"]["value"]["gpu"], "cuda");
    assert_eq!(s["package"]["value"]["gpu_arch"], serde_json::json!(["90"]));
    assert_eq!(s["jobs"]["value"], 16);
}

#[test]
fn detect_table_on_the_synthetic_mi250x() {
    let dir = fixture("amd-mi250x-synthetic");
    let o = run(&["detect", "--from", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for want in [
        "0000:c1:00.0  Aldebaran/MI200 [Instinct MI250X]",
        "90010 -> gfx90a",
        "ASPEED Graphics Family",
        "unsupported: no package type covers this vendor",
        "package          rocm gfx90a",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn gcc_version_changes_the_suggested_target() {
    let dir = fixture("vm-epyc");
    let o = run(&[
        "detect",
        "--json",
        "--gcc-version",
        "8",
        "--from",
        dir.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["cpu"]["microarch"], "zen2");
    assert_eq!(v["suggestions"]["target"]["value"], "zen");
}

#[test]
fn detect_on_this_host() {
    let o = run(&["detect"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for want in [
        "CPU",
        "Target",
        "GPUs",
        "Suggestions",
        "portable target",
        "jobs",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let o = run(&["detect", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["cpu"]["threads"].as_u64().unwrap() >= 1);
    assert!(!v["suggestions"]["target"]["value"]
        .as_str()
        .unwrap()
        .is_empty());
}

#[test]
fn a_missing_capture_is_a_usage_error() {
    let o = run(&["detect", "--from", "/nonexistent/capture"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a directory"));
}

#[test]
fn plan_takes_its_target_from_detection_and_rejects_unknown_ones() {
    let detected = run(&["detect", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&detected)).unwrap();
    let target = v["suggestions"]["target"]["value"]
        .as_str()
        .unwrap()
        .to_string();

    let o = run(&["plan"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let suggested = format!("{target} (suggested for this machine)");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("Target ") && l.ends_with(&suggested)),
        "{text}"
    );

    let o = run(&["plan", "--target", "zen99"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("unknown optimization target `zen99`"), "{err}");
    assert!(err.contains("zen3") && err.contains("x86_64_v3"), "{err}");

    // The pattern check comes first: nothing odd is echoed as "unknown".
    let o = run(&["plan", "--target", "zen3;ls"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("invalid optimization target"),
        "{}",
        stderr(&o)
    );
}

/// A release past SchedMD's end of support plans (and builds) with a warning;
/// a supported one without. The text and `--json` say the same.
/// `plan` takes every flag `build` takes and checks them as a build would
/// before it starts: what it renders is the recipe that build would use.
#[test]
fn plan_checks_the_build_flags_and_renders_with_them() {
    // Refused by the arguments the options' descriptions make (the engine
    // refuses the same for the app: factory::pipeline::plan's tests).
    let o = run(&["plan", "--debug-archive", "--no-strip"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("'--debug-archive' cannot be used with '--no-strip'"),
        "{}",
        stderr(&o)
    );
    // What an option needs may come from a preset, so the engine checks it
    // once the two are merged.
    let o = run(&["plan", "--sign", "me@site.example"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("sign without publish"),
        "{}",
        stderr(&o)
    );
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("lab.yaml");
    std::fs::create_dir(dir.path().join("cache")).unwrap();
    let cache = format!("file://{}/cache", dir.path().display());
    std::fs::write(&preset, format!("publish: {cache}\nminimal: true\n")).unwrap();
    let o = run(&[
        "plan",
        "--preset",
        preset.to_str().unwrap(),
        "--sign",
        "me@site.example",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(plan["request"]["package_type"]["kind"], "minimal", "{plan}");
    let missing = format!("file://{}/no-cache", dir.path().display());
    let o = run(&["plan", "--from", &missing]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no such directory"), "{}", stderr(&o));

    let out = dir.path().join("recipe");
    let o = run(&[
        "plan",
        "--modules",
        "hierarchy",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let verify = std::fs::read_to_string(out.join("scripts/verify.sh")).unwrap();
    assert!(verify.contains("modules/lmod/Core"), "{verify}");
}

#[test]
fn plan_warns_about_a_release_past_end_of_support() {
    let o = run(&["plan", "--slurm-version", "24.11", "--target", "x86_64_v3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: Slurm 24.11 is past SchedMD's end of support"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o)
            .contains("24.11 (Spack slurm@24-11-6-1, past SchedMD's end of support on 2026-05-31)"),
        "{}",
        stdout(&o)
    );
    let json = run(&["plan", "--slurm-version", "24.11", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let warnings = v["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(stderr(&o).contains(warnings[0].as_str().unwrap()));

    let o = run(&["plan", "--slurm-version", "26.05", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["warnings"], serde_json::json!([]));
    assert_eq!(v["request"]["slurm"]["spack"], "26-05-3-1");
    assert!(!stderr(&o).contains("end of support"), "{}", stderr(&o));
}

/// A site's `releases.toml` in its templates dir adds a release `plan` then
/// resolves (and makes the default, being the newest supported); a bad entry
/// is refused naming the file and its line, as a configuration error.
#[test]
fn a_site_adds_a_release_in_its_templates_dir() {
    let templates = tempfile::tempdir().unwrap();
    let file = templates.path().join("releases.toml");
    let plan = |args: &[&str]| {
        let config = tempfile::tempdir().unwrap();
        Command::new(env!("CARGO_BIN_EXE_slurm-factory"))
            .args(["plan", "--target", "x86_64_v3"])
            .args(args)
            .env("XDG_CONFIG_HOME", config.path())
            .env("NO_COLOR", "1")
            .env("SLURM_FACTORY_TEMPLATES_DIR", templates.path())
            .env_remove("SLURM_FACTORY_CONFIG")
            .output()
            .unwrap()
    };
    std::fs::write(
        &file,
        "[[release]]\nslurm = \"99.05\"\nspack = \"99-05-0-1\"\n\
         sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n\
         support_ends = 9999-11-30\n",
    )
    .unwrap();
    let o = plan(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("99.05 (Spack slurm@99-05-0-1, supported until 9999-11-30)"),
        "{}",
        stdout(&o)
    );
    let o = plan(&["--slurm-version", "26.05"]);
    assert!(o.status.success(), "{}", stderr(&o));

    std::fs::write(
        &file,
        "[[release]]\nslurm = \"99.05\"\nspack = \"99-05-0-1\"\n\
         sha256 = \"00\"\nsupport_ends = 9999-11-30\n",
    )
    .unwrap();
    let o = plan(&[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let said = stderr(&o);
    assert!(
        said.contains(&format!("{}, line 4", file.display())) && said.contains("not a sha256"),
        "{said}"
    );
    assert!(stdout(&o).is_empty(), "nothing planned: {}", stdout(&o));
}
