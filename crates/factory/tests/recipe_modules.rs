//! The rendered module files, loaded by a real Lmod (Debian/Ubuntu package
//! `lmod`): Lmod reads the Lua file and, through its Tcl support, the Tcl
//! file. Skipped with a message when Lmod is not installed.

#[path = "recipe_common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

use factory::recipe::Templates;

const LMOD_INIT: &str = "/usr/share/lmod/lmod/init/bash";

struct Shell {
    stdout: String,
    stderr: String,
    ok: bool,
}

/// Runs `script` in a clean bash with Lmod initialised and MODULEPATH set.
fn lmod(modulepath: &Path, env: &[(&str, &str)], script: &str) -> Shell {
    let mut cmd = Command::new("bash");
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", modulepath)
        .env("MODULEPATH", modulepath)
        .arg("-c")
        .arg(format!("source {LMOD_INIT}\n{script}"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Shell {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        ok: out.status.success(),
    }
}

fn fake_slurm(prefix: &Path) {
    std::fs::create_dir_all(prefix.join("sbin")).unwrap();
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    std::fs::write(prefix.join("sbin/slurmctld"), "").unwrap();
    std::fs::write(prefix.join("bin/sinfo"), "").unwrap();
}

#[test]
fn modules_load_at_default_and_overridden_prefix_and_refuse_a_wrong_one() {
    if !Path::new(LMOD_INIT).exists() {
        eprintln!("SKIPPED: Lmod is not installed ({LMOD_INIT}); `apt-get install lmod` to run");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let default_prefix = tmp.path().join("default prefix"); // a space, on purpose
    let moved = tmp.path().join("moved");
    fake_slurm(&default_prefix);
    fake_slurm(&moved);
    let case = common::cases()
        .into_iter()
        .find(|c| c.name == "25.05-default")
        .unwrap();
    let mut ctx = common::context(&case);
    ctx.module.prefix = default_prefix.to_string_lossy().into_owned();
    let rendered = Templates::load(None).unwrap().render(&ctx).unwrap();

    for (flavour, file, name) in [
        ("lua", "modules/slurm.lua", "slurm/25.05.lua"),
        ("tcl", "modules/slurm.tcl", "slurm/25.05"),
    ] {
        let modulepath = tmp.path().join(format!("modulefiles-{flavour}"));
        let dest = modulepath.join(name);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(&dest, &rendered.files[file]).unwrap();
        let show = "module load slurm/25.05 && printf 'PATH=%s\\nCONF=%s\\nLD=%s\\nCPATH=%s\\n' \
                    \"$PATH\" \"$SLURM_CONF\" \"${LD_LIBRARY_PATH-unset}\" \"$CPATH\"";

        let at_default = lmod(&modulepath, &[], show);
        assert!(at_default.ok, "{flavour}: {}", at_default.stderr);
        let d = default_prefix.display();
        assert!(
            at_default
                .stdout
                .contains(&format!("PATH={d}/sbin:{d}/bin:/usr/bin:/bin\n")),
            "{flavour}: {}",
            at_default.stdout
        );
        assert!(at_default.stdout.contains("CONF=/etc/slurm/slurm.conf\n"));
        assert!(
            at_default.stdout.contains("LD=unset\n"),
            "{}",
            at_default.stdout
        );
        assert!(at_default.stdout.contains(&format!("CPATH={d}/include\n")));

        let m = moved.to_str().unwrap();
        let relocated = lmod(
            &modulepath,
            &[
                ("SLURM_INSTALL_PREFIX", m),
                ("SLURM_CONF", "/site/slurm.conf"),
            ],
            show,
        );
        assert!(relocated.ok, "{flavour}: {}", relocated.stderr);
        assert!(
            relocated
                .stdout
                .contains(&format!("PATH={m}/sbin:{m}/bin:/usr/bin:/bin\n")),
            "{flavour}: {}",
            relocated.stdout
        );
        assert!(relocated.stdout.contains("CONF=/site/slurm.conf\n"));

        let unloaded = lmod(
            &modulepath,
            &[("SLURM_INSTALL_PREFIX", m)],
            "module load slurm/25.05 && module unload slurm && printf '%s|%s' \"$PATH\" \"${SLURM_CONF-unset}\"",
        );
        assert_eq!(
            unloaded.stdout, "/usr/bin:/bin|unset",
            "{flavour}: {}",
            unloaded.stderr
        );

        let wrong = tmp.path().join("empty");
        std::fs::create_dir_all(&wrong).unwrap();
        let w = wrong.to_str().unwrap();
        let refused = lmod(&modulepath, &[("SLURM_INSTALL_PREFIX", w)], show);
        assert!(!refused.ok, "{flavour}: loaded from an empty prefix");
        let err = refused.stderr.replace('\n', " ");
        assert!(
            err.contains(&format!("Slurm was not found in '{w}'"))
                && err.contains("Set SLURM_INSTALL_PREFIX"),
            "{flavour}: {}",
            refused.stderr
        );
    }
}

#[test]
fn module_conflicts_with_other_slurm_modules() {
    if !Path::new(LMOD_INIT).exists() {
        eprintln!("SKIPPED: Lmod is not installed ({LMOD_INIT}); `apt-get install lmod` to run");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("prefix");
    fake_slurm(&prefix);
    let case = common::cases()
        .into_iter()
        .find(|c| c.name == "25.05-default")
        .unwrap();
    let rendered = Templates::load(None)
        .unwrap()
        .render(&common::context(&case))
        .unwrap();
    let mp = tmp.path().join("mf");
    std::fs::create_dir_all(mp.join("slurm")).unwrap();
    std::fs::create_dir_all(mp.join("slurm-wlm")).unwrap();
    std::fs::write(
        mp.join("slurm/25.05.lua"),
        &rendered.files["modules/slurm.lua"],
    )
    .unwrap();
    std::fs::write(mp.join("slurm-wlm/22.05.lua"), "whatis('distro slurm')\n").unwrap();
    let out = lmod(
        &mp,
        &[("SLURM_INSTALL_PREFIX", prefix.to_str().unwrap())],
        "module load slurm-wlm/22.05 && module load slurm/25.05",
    );
    assert!(!out.ok);
    assert!(
        out.stderr.contains("Cannot load module \"slurm/25.05\""),
        "{}",
        out.stderr
    );
}
