//! `slurm-factory templates export` and `plan --output`, run as a user runs them.

use std::path::Path;
use std::process::{Command, Output};

fn slurm_factory(config_home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slurm-factory"))
        .args(args)
        .env("XDG_CONFIG_HOME", config_home)
        .env("SLURM_FACTORY_CONFIG", config_home.join("none.toml"))
        .env_remove("SLURM_FACTORY_TEMPLATES_DIR")
        .output()
        .unwrap()
}

#[test]
fn export_refuses_to_overwrite_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tpl");
    let d = dir.to_str().unwrap();
    let first = slurm_factory(tmp.path(), &["templates", "export", d]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(dir.join("spack/spack.yaml.j2").is_file());
    assert!(dir.join("modules/slurm.lua.j2").is_file());
    std::fs::write(dir.join("spack/spack.yaml.j2"), "mine").unwrap();

    let again = slurm_factory(tmp.path(), &["templates", "export", d]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(dir.join("spack/spack.yaml.j2")).unwrap(),
        "mine"
    );

    let forced = slurm_factory(tmp.path(), &["templates", "export", d, "--force"]);
    assert!(forced.status.success());
    assert_ne!(
        std::fs::read_to_string(dir.join("spack/spack.yaml.j2")).unwrap(),
        "mine"
    );
}

#[test]
fn plan_output_writes_the_recipe_and_uses_the_user_templates_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("recipe");
    let o = out.to_str().unwrap();
    let args = [
        "plan",
        "--slurm-version",
        "24.11",
        "--gpu",
        "cuda",
        "--gpu-arch",
        "80",
        "--target",
        "zen4",
        "--output",
        o,
        "--json",
    ];
    let plan = slurm_factory(tmp.path(), &args);
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let mut rendered: Vec<String> = json["rendered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p = std::path::Path::new(p.as_str().unwrap());
            p.strip_prefix(&out).unwrap().to_string_lossy().into_owned()
        })
        .collect();
    rendered.sort();
    assert_eq!(
        rendered,
        [
            "modules/gcc.lua",
            "modules/openmpi.lua",
            "modules/slurm.lua",
            "modules/slurm.tcl",
            "package/etc/slurm/cgroup.conf.example",
            "package/etc/slurm/slurm.conf.example",
            "package/share/slurm-factory/systemd/slurmctld.service",
            "package/share/slurm-factory/systemd/slurmd.service",
            "repos.yaml",
            "scripts/base-libraries.sh",
            "scripts/buildcache-push.sh",
            "scripts/check-buildcache.py",
            "scripts/check-libs.sh",
            "scripts/concretize.sh",
            "scripts/git-clone.sh",
            "scripts/install.sh",
            "scripts/mirror-create.sh",
            "scripts/mpi-allreduce.c",
            "scripts/package.sh",
            "scripts/probe-buildcaches.py",
            "scripts/protocol.py",
            "scripts/provision.sh",
            "scripts/publish-files.py",
            "scripts/publish.sh",
            "scripts/relocate.sh",
            "scripts/sources.py",
            "scripts/sources.sh",
            "scripts/spack-externals.sh",
            "scripts/spack-setup.sh",
            "scripts/verify-network.sh",
            "scripts/verify.sh",
            "spack-repo/spack_repo/slurm_factory/__init__.py",
            "spack-repo/spack_repo/slurm_factory/packages/__init__.py",
            "spack-repo/spack_repo/slurm_factory/packages/glib/package.py",
            "spack-repo/spack_repo/slurm_factory/packages/slurm/package.py",
            "spack-repo/spack_repo/slurm_factory/repo.yaml",
            "spack.yaml",
        ]
    );
    let spack_yaml = std::fs::read_to_string(out.join("spack.yaml")).unwrap();
    assert!(spack_yaml.contains("- slurm@24-11-6-1 +hwloc +pmix +restd +readline +nvml\n"));
    assert!(spack_yaml.contains("cuda_arch=80"));
    assert!(spack_yaml.contains("- target=zen4\n"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(out.join("scripts/install.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111);

    // A broken user template: exit code 3 (configuration) and the file named.
    let user = tmp.path().join("user");
    std::fs::create_dir_all(user.join("modules")).unwrap();
    std::fs::write(user.join("modules/slurm.lua.j2"), "ok\n{% if %}\n").unwrap();
    let broken = Command::new(env!("CARGO_BIN_EXE_slurm-factory"))
        .args(["plan", "--output", o])
        .env("SLURM_FACTORY_CONFIG", tmp.path().join("none.toml"))
        .env("SLURM_FACTORY_TEMPLATES_DIR", &user)
        .output()
        .unwrap();
    assert_eq!(broken.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.contains("modules/slurm.lua.j2, line 2"), "{stderr}");
}

#[test]
fn a_reader_that_closes_the_pipe_gets_no_panic() {
    // `slurm-factory plan … | head -c0`: stdout is a pipe whose reader is gone.
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["plan", "--slurm-version", "24.11", "--target", "x86_64_v3"][..],
        &["completions", "bash"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_slurm-factory"))
            .args(args)
            .env("XDG_CONFIG_HOME", tmp.path())
            .env("SLURM_FACTORY_CONFIG", tmp.path().join("none.toml"))
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.status.success(), "{args:?}: {:?}: {stderr}", out.status);
    }
}
