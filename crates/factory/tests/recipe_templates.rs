//! User templates dirs, export, and the structural checks on spack.yaml.

#[path = "recipe_common/mod.rs"]
mod common;

use factory::recipe::Templates;
use factory::{Error, ExitKind};

fn ctx(name: &str) -> factory::recipe::RecipeContext {
    let case = common::cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap();
    common::context(&case)
}

/// The built-in recipe of case `name`, rendered with every path under
/// `root` and written to its recipe dir there, so its scripts run here.
fn recipe_under(root: &std::path::Path, name: &str) -> factory::recipe::RecipeContext {
    let mut ctx = ctx(name);
    ctx.paths = factory::layout::Paths::under(root.to_str().unwrap());
    let rendered = Templates::load(None).unwrap().render(&ctx).unwrap();
    rendered
        .write_to(std::path::Path::new(&ctx.paths.recipe))
        .unwrap();
    ctx
}

#[test]
fn a_user_file_replaces_one_template_and_the_rest_stay_built_in() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("modules")).unwrap();
    std::fs::write(
        dir.path().join("modules/slurm.lua.j2"),
        "-- site module for {{ artifact_name }}\nsetenv(\"SITE\", \"1\")\n",
    )
    .unwrap();
    // A new include, used by nothing built-in, and a new rendered file.
    std::fs::write(
        dir.path().join("modules/site-notes.txt.j2"),
        "target {{ target }}\n",
    )
    .unwrap();
    let ctx = ctx("26.05-default");
    let builtin = Templates::load(None).unwrap().render(&ctx).unwrap();
    let user = Templates::load(Some(dir.path()))
        .unwrap()
        .render(&ctx)
        .unwrap();
    assert_eq!(
        user.files["modules/slurm.lua"],
        "-- site module for slurm-26.05-default-x86_64_v3\nsetenv(\"SITE\", \"1\")\n"
    );
    assert_eq!(user.files["modules/site-notes.txt"], "target x86_64_v3\n");
    for name in ["spack.yaml", "modules/slurm.tcl", "scripts/install.sh"] {
        assert_eq!(user.files[name], builtin.files[name], "{name}");
    }
}

#[test]
fn a_user_include_changes_what_includes_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("spack")).unwrap();
    let builtin = Templates::builtin_source("spack/_dependencies.j2").unwrap();
    std::fs::write(
        dir.path().join("spack/_dependencies.j2"),
        builtin.replace("\"texinfo\",", "\"texinfo\", \"help2man\","),
    )
    .unwrap();
    let rendered = Templates::load(Some(dir.path()))
        .unwrap()
        .render(&ctx("24.11-default"))
        .unwrap();
    assert!(rendered.files["spack.yaml"].contains("      - help2man\n"));
    assert!(rendered.files["scripts/spack-externals.sh"].contains(" help2man "));
}

#[test]
fn a_broken_user_template_names_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("scripts")).unwrap();
    let path = dir.path().join("scripts/install.sh.j2");
    std::fs::write(
        &path,
        "#!/bin/bash\nset -e\n{% if jobs %}\necho {{ jobs }\n{% endif %}\n",
    )
    .unwrap();
    let err = Templates::load(Some(dir.path())).unwrap_err();
    let Error::Template { file, line, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(file, &path.display().to_string());
    assert_eq!(*line, Some(4));
    assert!(err.to_string().contains(", line 4: "), "{err}");
    assert!(err.hint().contains("templates_dir"), "{}", err.hint());
    assert_eq!(err.kind(), ExitKind::Config);

    // An undefined variable is caught when rendering, with its line too.
    std::fs::write(&path, "#!/bin/bash\n\necho {{ jobz }}\n").unwrap();
    let templates = Templates::load(Some(dir.path())).unwrap();
    let err = templates.render(&ctx("26.05-default")).unwrap_err();
    let Error::Template { file, line, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(file, &path.display().to_string());
    assert_eq!(*line, Some(3), "{err}");
}

#[test]
fn a_user_spack_yaml_that_drops_the_target_or_a_mirror_is_refused() {
    // The spec the 26.05 context renders, as the catalogue names it.
    let slurm_spec = format!(
        "slurm@{}",
        factory::request::catalog::Catalog::builtin()
            .find("26.05")
            .unwrap()
            .spack
    );
    for (file, from, to, expect) in [
        (
            "spack/spack.yaml.j2",
            "      - target={{ target }}\n",
            "      - '%gcc'\n",
            "target=x86_64_v3",
        ),
        (
            "spack/_config.j2",
            "file://{{ paths.buildcache }}",
            "file:///elsewhere",
            "buildcache",
        ),
        (
            "spack/spack.yaml.j2",
            "unify: true",
            "unify: false",
            "unify",
        ),
        (
            "spack/_specs.j2",
            "slurm@{{ slurm.spack }}",
            "slurm",
            slurm_spec.as_str(),
        ),
        (
            "spack/spack.yaml.j2",
            "  specs:\n",
            "  specs: [\n",
            "not valid YAML",
        ),
    ] {
        let builtin = Templates::builtin_source(file).unwrap();
        assert!(builtin.contains(from), "{file} has no {from:?}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("spack")).unwrap();
        std::fs::write(dir.path().join(file), builtin.replace(from, to)).unwrap();
        let err = Templates::load(Some(dir.path()))
            .unwrap()
            .render(&ctx("26.05-default"))
            .unwrap_err();
        assert!(
            matches!(err, Error::RecipeInvalid { .. }) && err.to_string().contains(expect),
            "{expect}: {err}"
        );
    }
}

#[test]
fn export_writes_every_built_in_template() {
    let dir = tempfile::tempdir().unwrap();
    let written = Templates::load(None).unwrap().export(dir.path()).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| {
            p.strip_prefix(dir.path())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for expected in [
        "README.md",
        "spack/spack.yaml.j2",
        "spack/_dependencies.j2",
        "spack/toolchain.yaml.j2",
        "scripts/toolchain.sh.j2",
        "modules/slurm.lua.j2",
        "modules/slurm.tcl.j2",
        "scripts/provision.sh.j2",
        "scripts/spack-setup.sh.j2",
        "scripts/concretize.sh.j2",
        "scripts/install.sh.j2",
        "scripts/buildcache-push.sh.j2",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }
    // An exported dir used as the user dir renders exactly like the built-ins.
    let ctx = ctx("26.05-rocm");
    assert_eq!(
        Templates::load(Some(dir.path()))
            .unwrap()
            .render(&ctx)
            .unwrap(),
        Templates::load(None).unwrap().render(&ctx).unwrap()
    );
}

#[test]
fn every_script_is_strict_bash_that_calls_spack_directly() {
    let rendered = Templates::load(None)
        .unwrap()
        .render(&ctx("26.05-cuda"))
        .unwrap();
    let scripts: Vec<_> = rendered
        .files
        .iter()
        .filter(|(k, _)| k.starts_with("scripts/") && k.ends_with(".sh"))
        .collect();
    assert!(scripts.len() >= 5);
    for (name, text) in scripts {
        assert!(
            text.starts_with("#!/bin/bash\n") || text.starts_with("#!/usr/bin/env bash\n"),
            "{name}"
        );
        assert!(text.contains("set -euo pipefail\n"), "{name}");
        assert!(!text.contains("setup-env.sh"), "{name}");
        let out = std::process::Command::new("bash")
            .args(["-n", "-c", text])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(rendered.files["scripts/concretize.sh"]
        .contains("\"$SPACK\" -e \"$ENV_DIR\" concretize -f"));
}

/// install.sh counts this build's own ccache lookups with the real ccache
/// (a stand-in for Spack compiles through it, as Spack's compiler wrapper
/// does) and reports them even when the install fails.
#[test]
fn install_sh_reports_this_builds_ccache_lookups() {
    let found = std::process::Command::new("ccache")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: ccache is not installed (apt-get install ccache)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ctx = recipe_under(tmp.path(), "26.05-minimal");
    let recipe = std::path::Path::new(&ctx.paths.recipe);
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.c"), "int a(void) { return 1; }\n").unwrap();
    std::fs::write(src.join("b.c"), "int b(void) { return 2; }\n").unwrap();
    let spack_bin = std::path::Path::new(&ctx.paths.spack).join("bin");
    std::fs::create_dir_all(&spack_bin).unwrap();
    // `install`: three compiles, a.c twice; `find`: nothing installed.
    std::fs::write(
        spack_bin.join("spack"),
        "#!/bin/bash\nset -e\ncase \" $* \" in\n  *' install '*)\n    cd \"$SRC\"\n    \
         ccache gcc -c a.c -o a1.o\n    ccache gcc -c a.c -o a2.o\n    ccache gcc -c b.c -o b.o\n    \
         exit \"${FAIL:-0}\" ;;\nesac\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        spack_bin.join("spack"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let install = |fail: &str| {
        let out = std::process::Command::new("bash")
            .arg(recipe.join("scripts/install.sh"))
            .env("SRC", &src)
            .env("FAIL", fail)
            .env_remove("CCACHE_STATSLOG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = stdout
            .lines()
            .find(|l| l.starts_with("::cache "))
            .map(str::to_string);
        (out.status.success(), line, stdout)
    };
    // Cold: b.c and the first a.c miss, the second a.c hits.
    let (ok, line, out) = install("0");
    assert!(ok, "{out}");
    assert_eq!(line.as_deref(), Some("::cache ccache 1 3"), "{out}");
    let parsed = factory::protocol::ScriptLine::parse(line.as_deref().unwrap());
    assert_eq!(
        parsed,
        Some(factory::protocol::ScriptLine::Cache {
            layer: factory::kinds::Layer::Ccache,
            hits: 1,
            lookups: 3
        })
    );
    // Warm, and failing: this build's three hits only, not the cache dir's totals.
    let (ok, line, out) = install("1");
    assert!(!ok, "{out}");
    assert_eq!(line.as_deref(), Some("::cache ccache 3 3"), "{out}");
}

/// Every toolchain's scripts, online and offline, are clean under shellcheck:
/// the Rocky and Ubuntu ones cannot be run where CI runs, so this is their check.
#[test]
fn every_toolchains_scripts_pass_shellcheck() {
    let templates = Templates::load(None).unwrap();
    let toolchains = templates.toolchains().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for toolchain in &toolchains {
        for offline in [false, true] {
            let request = factory::request::BuildRequest {
                toolchain: Some(toolchain.name.clone()),
                ..Default::default()
            }
            .resolve(&common::defaults())
            .unwrap();
            let settings = common::settings();
            let ctx = factory::recipe::RecipeContext::for_request(
                &templates, &request, &settings, offline,
            )
            .unwrap();
            assert_eq!(ctx.package_manager, toolchain.package_manager.as_str());
            let rendered = templates.render(&ctx).unwrap();
            let out = dir.path().join(format!("{}-{offline}", toolchain.name));
            rendered.write_to(&out).unwrap();
            let provision = std::fs::read_to_string(out.join("scripts/provision.sh")).unwrap();
            let manager = match toolchain.package_manager {
                factory::toolchain::PackageManager::Apt => "dpkg-query",
                factory::toolchain::PackageManager::Dnf => "rpm -q",
            };
            assert!(provision.contains(manager), "{}: {manager}", toolchain.name);
            let scripts: Vec<_> = rendered
                .files
                .keys()
                .filter(|k| k.starts_with("scripts/") && k.ends_with(".sh"))
                .map(|k| out.join(k))
                .collect();
            assert_shellcheck_clean(&scripts, &format!("{} (offline {offline})", toolchain.name));
            checked += scripts.len();
        }
    }
    eprintln!(
        "shellcheck: {checked} scripts of {} toolchains",
        toolchains.len()
    );
}

/// A build that installs from published buildcaches, one signed on disk and
/// one registry with a login, and lays its modules out as a hierarchy: its
/// spack.yaml names the login's variables (never values) and its scripts
/// are clean under shellcheck.
#[test]
fn install_from_and_the_hierarchy_render_clean_scripts() {
    use factory::recipe::{InstallFrom, ModuleLayout};
    let templates = Templates::load(None).unwrap();
    let ctx = ctx("26.05-default")
        .with_module_layout(ModuleLayout::Hierarchy)
        .with_install_from(vec![
            InstallFrom {
                name: "install-from-0".into(),
                url: "file:///opt/slurm-factory/install-from/0".into(),
                signed: true,
                login: false,
                kind: "file",
                s3_endpoint: None,
            },
            InstallFrom {
                name: "install-from-1".into(),
                url: "oci://registry.site.example/hpc/slurm".into(),
                signed: true,
                login: true,
                kind: "oci",
                s3_endpoint: None,
            },
            InstallFrom {
                name: "install-from-2".into(),
                url: "s3://site-cache/slurm".into(),
                signed: true,
                login: true,
                kind: "s3",
                s3_endpoint: Some("https://s3.site.example:9000".into()),
            },
        ]);
    let rendered = templates.render(&ctx).unwrap();
    let spack: serde_yaml::Value = serde_yaml::from_str(&rendered.files["spack.yaml"]).unwrap();
    let mirrors = &spack["spack"]["mirrors"];
    assert_eq!(mirrors["install-from-0"]["signed"], true);
    // --trust: the unsigned layer installs nothing, and is not pushed to as
    // packages install (buildcache-push.sh pushes --unsigned after).
    assert_eq!(mirrors["local-buildcache"]["signed"], true);
    assert_eq!(mirrors["local-buildcache"]["autopush"], false);
    let publish = &rendered.files["scripts/publish.sh"];
    assert!(
        publish.contains("mirror remove install-from-1"),
        "{publish}"
    );
    assert!(mirrors["install-from-0"].get("access_pair").is_none());
    let pair = &mirrors["install-from-1"]["access_pair"];
    assert_eq!(pair["id_variable"], "SLURM_FACTORY_REGISTRY_USERNAME");
    assert_eq!(pair["secret_variable"], "SLURM_FACTORY_REGISTRY_PASSWORD");
    let bucket = &mirrors["install-from-2"];
    assert_eq!(bucket["endpoint_url"], "https://s3.site.example:9000");
    assert_eq!(
        bucket["access_pair"]["id_variable"],
        "SLURM_FACTORY_REGISTRY_USERNAME"
    );
    let install = &rendered.files["scripts/install.sh"];
    assert!(install.contains("check-buildcache.py"), "{install}");
    // The registry's and the bucket's indexes are read before the install;
    // the directory's is not. Spack reads the bucket with boto3, from the
    // solve on.
    let probe = install
        .lines()
        .find(|l| l.contains("probe-buildcaches.py"))
        .unwrap_or_else(|| panic!("no probe: {install}"));
    // Each URL after its kind: the script reads the kind, not the URL.
    assert!(
        probe.ends_with(" oci oci://registry.site.example/hpc/slurm s3 s3://site-cache/slurm"),
        "{probe}"
    );
    assert!(!probe.contains("file://"), "{probe}");
    for script in ["scripts/install.sh", "scripts/concretize.sh"] {
        assert!(
            rendered.files[script].contains("import boto3"),
            "{script}: {}",
            rendered.files[script]
        );
    }
    assert!(
        install.contains("/run/slurm-factory-from-credentials"),
        "{install}"
    );
    assert!(rendered.files["scripts/verify.sh"].contains("modules/lmod/Core"));
    let dir = tempfile::tempdir().unwrap();
    rendered.write_to(dir.path()).unwrap();
    let scripts = ["install.sh", "concretize.sh", "publish.sh", "verify.sh"]
        .map(|s| dir.path().join("scripts").join(s));
    assert_shellcheck_clean(&scripts, "install from and hierarchy");
}

/// shellcheck (bash, warnings and worse) passes on every one of `scripts`.
fn assert_shellcheck_clean(scripts: &[std::path::PathBuf], what: &str) {
    let result = std::process::Command::new("shellcheck")
        .args(["--shell=bash", "--severity=warning"])
        .args(scripts)
        .output()
        .expect("shellcheck is installed (scripts/lib.sh lists it)");
    assert!(
        result.status.success(),
        "{what}:\n{}",
        String::from_utf8_lossy(&result.stdout)
    );
}

/// Slurm's recipe in the product's Spack repo is rendered for the release a
/// build asks for: that version with the catalogue's sha256 (a release
/// outside the catalogue adds none: Spack's own recipe must know it), and
/// the configure fixes of the newer releases.
#[test]
fn the_slurm_overlay_names_the_requested_release_and_its_checksum() {
    const OVERLAY: &str = "spack-repo/spack_repo/slurm_factory/packages/slurm/package.py";
    let templates = Templates::load(None).unwrap();
    let rendered = templates.render(&ctx("26.05-default")).unwrap();
    let recipe = &rendered.files[OVERLAY];
    assert!(
        recipe.contains(
            "version(\"26-05-3-1\", sha256=\"eeb2508a6307ecb08b385bc33e31497d4fc2e5c0c186a988f74b86ffb4bf38bf\")"
        ),
        "{recipe}"
    );
    assert!(recipe.contains("--with-libhttp-parser="), "{recipe}");
    assert!(recipe.contains("--with-yaml="), "{recipe}");
    assert_eq!(recipe.matches("version(\"").count(), 1, "{recipe}");

    let mut outside = ctx("26.05-minimal");
    outside.slurm.spack = "24-05-8-1".into();
    outside.slurm.sha256 = None;
    let recipe = &templates.render(&outside).unwrap().files[OVERLAY];
    assert_eq!(recipe.matches("version(\"").count(), 0, "{recipe}");
    assert!(!rendered.files.contains_key(&format!("{OVERLAY}.j2")));

    // A site's plain package.py (as older releases told sites to write)
    // replaces the built-in template that renders to the same file.
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join(OVERLAY);
    std::fs::create_dir_all(site.parent().unwrap()).unwrap();
    std::fs::write(&site, "# the site's own slurm\n").unwrap();
    let rendered = Templates::load(Some(dir.path()))
        .unwrap()
        .render(&ctx("26.05-default"))
        .unwrap();
    assert_eq!(rendered.files[OVERLAY], "# the site's own slurm\n");
}

/// concretize.sh stops a build whose solve takes a runtime library from the
/// container (an external), before anything is installed.
#[test]
fn concretize_sh_refuses_a_runtime_library_from_the_container() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = recipe_under(tmp.path(), "26.05-default");
    let recipe = std::path::Path::new(&ctx.paths.recipe);
    std::fs::create_dir_all(&ctx.paths.env).unwrap();
    let python = std::path::Path::new(&ctx.paths.python_venv).join("bin");
    std::fs::create_dir_all(&python).unwrap();
    std::os::unix::fs::symlink("/usr/bin/python3", python.join("python")).unwrap();
    let concretize = |openssl: serde_json::Value| {
        let lock = serde_json::json!({ "concrete_specs": {
            "aaaa": { "name": "slurm", "version": "26-05-3-1" },
            "bbbb": openssl,
            "cccc": { "name": "gmake", "version": "4.3", "external": { "path": "/usr" } },
        }});
        std::fs::write(recipe.join("spack.lock"), lock.to_string()).unwrap();
        std::process::Command::new("bash")
            .arg(recipe.join("scripts/concretize.sh"))
            .output()
            .unwrap()
    };
    // A build tool from the container is fine; Spack's own openssl too.
    let out = concretize(serde_json::json!({ "name": "openssl", "version": "3.0.20" }));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = concretize(serde_json::json!({
        "name": "openssl", "version": "3.0.2", "external": { "path": "/usr" }
    }));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("runtime library openssl would come from /usr"),
        "{stderr}"
    );
}

/// Online, Spack and spack-packages are cloned at their tags and each tag
/// must still be the commit this release pins (issue 32: a tag moved
/// upstream stops the build). Run here against a git repository of our own.
#[test]
fn a_moved_tag_stops_the_clone_and_a_pinned_one_passes() {
    let templates = Templates::load(None).unwrap();
    let rendered = templates.render(&ctx("26.05-minimal")).unwrap();
    let provision = &rendered.files["scripts/provision.sh"];
    assert!(
        provision.contains("v1.1.0 \"$SPACK_ROOT\" 2e907202bcc8209a6a62243aab50c179b524cc3b"),
        "{provision}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("git-clone.sh");
    std::fs::write(&script, &rendered.files["scripts/git-clone.sh"]).unwrap();
    let repo = tmp.path().join("upstream");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    std::fs::create_dir_all(&repo).unwrap();
    git(&["init", "--quiet"]);
    git(&["commit", "--quiet", "--allow-empty", "-m", "release"]);
    git(&["tag", "v1.1.0"]);
    let released = git(&["rev-parse", "HEAD"]);
    let url = format!("file://{}", repo.display());
    let clone = |into: &str, commit: &str| {
        std::process::Command::new("bash")
            .arg(&script)
            .args([url.as_str(), "v1.1.0"])
            .arg(tmp.path().join(into))
            .arg(commit)
            .output()
            .unwrap()
    };
    let out = clone("pinned", &released);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("as pinned"));
    // The tag moved to another commit upstream.
    git(&[
        "commit",
        "--quiet",
        "--allow-empty",
        "-m",
        "not the release",
    ]);
    git(&["tag", "--force", "v1.1.0"]);
    let out = clone("moved", &released);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("the tag was moved upstream"), "{said}");
    // A release of the user's own: said so, not checked.
    let out = clone("own", "");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("not pinned"));
    // Offline there is no clone at all.
    let offline = templates.render(&ctx("26.05-minimal-offline")).unwrap();
    assert!(!offline.files.contains_key("scripts/git-clone.sh"));
}
