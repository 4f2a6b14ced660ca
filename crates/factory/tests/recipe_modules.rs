//! The rendered module files, loaded by a real Lmod (Debian/Ubuntu package
//! `lmod`): Lmod reads the Lua file and, through its Tcl support, the Tcl
//! file. Skipped with a message when Lmod is not installed.

#[path = "recipe_common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

use factory::recipe::{ModuleLayout, ModuleTree, Templates};

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
        .find(|c| c.name == "26.05-default")
        .unwrap();
    let mut ctx = common::context(&case);
    ctx.module.prefix = default_prefix.to_string_lossy().into_owned();
    let rendered = Templates::load(None).unwrap().render(&ctx).unwrap();

    for (flavour, file, name) in [
        ("lua", "modules/slurm.lua", "slurm/26.05.lua"),
        ("tcl", "modules/slurm.tcl", "slurm/26.05"),
    ] {
        let modulepath = tmp.path().join(format!("modulefiles-{flavour}"));
        let dest = modulepath.join(name);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(&dest, &rendered.files[file]).unwrap();
        let show = "module load slurm/26.05 && printf 'PATH=%s\\nCONF=%s\\nLD=%s\\nCPATH=%s\\nOPAL=%s\\n' \
                    \"$PATH\" \"$SLURM_CONF\" \"${LD_LIBRARY_PATH-unset}\" \"$CPATH\" \"$OPAL_PREFIX:$PMIX_PREFIX:$PRTE_PREFIX\"";

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
        // OpenMPI's wrappers and components find the prefix they are at.
        assert!(
            at_default.stdout.contains(&format!("OPAL={d}:{d}:{d}\n")),
            "{flavour}: {}",
            at_default.stdout
        );

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
        assert!(
            relocated.stdout.contains(&format!("OPAL={m}:{m}:{m}\n")),
            "{flavour}: {}",
            relocated.stdout
        );

        let unloaded = lmod(
            &modulepath,
            &[("SLURM_INSTALL_PREFIX", m)],
            "module load slurm/26.05 && module unload slurm && printf '%s|%s' \"$PATH\" \"${SLURM_CONF-unset}\"",
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
        .find(|c| c.name == "26.05-default")
        .unwrap();
    let rendered = Templates::load(None)
        .unwrap()
        .render(&common::context(&case))
        .unwrap();
    let mp = tmp.path().join("mf");
    std::fs::create_dir_all(mp.join("slurm")).unwrap();
    std::fs::create_dir_all(mp.join("slurm-wlm")).unwrap();
    std::fs::write(
        mp.join("slurm/26.05.lua"),
        &rendered.files["modules/slurm.lua"],
    )
    .unwrap();
    std::fs::write(mp.join("slurm-wlm/22.05.lua"), "whatis('distro slurm')\n").unwrap();
    let out = lmod(
        &mp,
        &[("SLURM_INSTALL_PREFIX", prefix.to_str().unwrap())],
        "module load slurm-wlm/22.05 && module load slurm/26.05",
    );
    assert!(!out.ok);
    assert!(
        out.stderr.contains("Cannot load module \"slurm/26.05\""),
        "{}",
        out.stderr
    );
}

/// The hierarchy as a package carries it (`--modules hierarchy`), read by
/// a real Lmod: `module spider` tells which compiler opens OpenMPI, and the
/// three modules load from a package unpacked elsewhere.
#[test]
fn the_lmod_hierarchy_spiders_and_loads_from_a_moved_package() {
    if !Path::new(LMOD_INIT).exists() {
        eprintln!("SKIPPED: Lmod is not installed ({LMOD_INIT}); `apt-get install lmod` to run");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let moved = tmp.path().join("unpacked elsewhere");
    fake_slurm(&moved);
    std::fs::write(moved.join("bin/mpirun"), "").unwrap();
    let case = common::cases()
        .into_iter()
        .find(|c| c.name == "26.05-default")
        .unwrap();
    let ctx = common::context(&case).with_module_layout(ModuleLayout::Hierarchy);
    let rendered = Templates::load(None).unwrap().render(&ctx).unwrap();
    // The versions of a real solve of the default package (gcc 12.2.0 of
    // Debian 12, OpenMPI 5.0.8 of spack-packages 2025.11).
    let tree = ModuleTree {
        layout: ModuleLayout::Hierarchy,
        slurm: "26.05".into(),
        mpi: Some(("12.2.0".into(), "5.0.8".into())),
    };
    rendered.write_package_files(&moved, &tree).unwrap();
    for file in [
        "modules/lmod/Core/slurm/26.05.lua",
        "modules/lmod/Core/gcc/12.2.0.lua",
        "modules/lmod/Compiler/gcc/12.2.0/openmpi/5.0.8.lua",
    ] {
        assert!(moved.join(file).is_file(), "{file} in the package");
    }
    assert!(!moved.join("modules/lmod/slurm.lua").exists());
    let core = moved.join("modules/lmod/Core");
    let m = moved.to_str().unwrap();
    let env = [("SLURM_INSTALL_PREFIX", m)];

    let spider = lmod(&core, &env, "module spider openmpi/5.0.8 2>&1");
    println!("{}", spider.stdout);
    assert!(spider.ok, "{}", spider.stderr);
    assert!(
        spider.stdout.contains("gcc/12.2.0"),
        "spider names the compiler that opens OpenMPI:\n{}",
        spider.stdout
    );
    let all = lmod(&core, &env, "module -t spider 2>&1");
    for name in ["slurm/26.05", "gcc/12.2.0", "openmpi/5.0.8"] {
        assert!(all.stdout.contains(name), "{name} in:\n{}", all.stdout);
    }

    let hidden = lmod(&core, &env, "module load openmpi 2>&1");
    assert!(!hidden.ok, "OpenMPI loads only after its compiler");

    let loaded = lmod(
        &core,
        &env,
        "module load slurm/26.05 gcc/12.2.0 openmpi/5.0.8 && \
         printf 'MPIRUN=%s\\nSINFO=%s\\nMPI_HOME=%s\\nOPAL_PREFIX=%s\\n' \"$(command -v mpirun)\" \
         \"$(command -v sinfo)\" \"$MPI_HOME\" \"$OPAL_PREFIX\"",
    );
    assert!(loaded.ok, "{}", loaded.stderr);
    for line in [
        format!("MPIRUN={m}/bin/mpirun"),
        format!("SINFO={m}/bin/sinfo"),
        format!("MPI_HOME={m}"),
        format!("OPAL_PREFIX={m}"),
    ] {
        assert!(
            loaded.stdout.contains(&line),
            "{line} in:\n{}",
            loaded.stdout
        );
    }

    // Flat: one slurm module, no compiler or MPI level.
    let flat = ModuleTree {
        layout: ModuleLayout::Flat,
        ..tree
    };
    let files: Vec<String> = rendered
        .package_files(&flat)
        .into_iter()
        .map(|(path, _)| path)
        .filter(|p| p.starts_with("modules/"))
        .collect();
    assert_eq!(files, ["modules/lmod/slurm.lua", "modules/tcl/slurm"]);
}
