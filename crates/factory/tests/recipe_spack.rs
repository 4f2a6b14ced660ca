//! Runs the rendered recipes through a real Spack: spack-setup.sh (repos,
//! compiler and build tools as externals) and concretize.sh, for every case.
//!
//! Needs a Spack checkout and a Python with clingo; skipped (loudly) without:
//!   SPACK_ROOT=/path/to/spack                      (a Spack >= 1.0 checkout)
//!   SPACK_PYTHON=/path/to/venv/bin/python          (a venv with `pip install clingo`)
//!   SPACK_PACKAGES_ROOT=/path/to/spack-packages    (default: $SPACK_ROOT/../spack-packages)
//!   SLURM_FACTORY_CASES=26.05-default,26.05-cuda   (optional: only these cases)
//! Nothing is written to the checkout: config, environments and the store
//! live in a temporary directory.

#[path = "recipe_common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use factory::layout::Paths;
use factory::recipe::Templates;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[test]
fn rendered_environments_concretize_with_real_spack() {
    let (Some(spack_root), Some(python)) = (var("SPACK_ROOT"), var("SPACK_PYTHON")) else {
        eprintln!(
            "SKIPPED: real Spack concretize test; set SPACK_ROOT (a Spack checkout) and \
             SPACK_PYTHON (a Python with clingo) to run it"
        );
        return;
    };
    let packages = var("SPACK_PACKAGES_ROOT").unwrap_or_else(|| {
        Path::new(&spack_root)
            .join("../spack-packages")
            .to_string_lossy()
            .into_owned()
    });
    // <venv>/bin/python -> <venv>: the scripts export SPACK_PYTHON=<venv>/bin/python.
    let venv = PathBuf::from(&python)
        .parent()
        .and_then(Path::parent)
        .expect("SPACK_PYTHON is <venv>/bin/python")
        .to_string_lossy()
        .into_owned();
    let only: Option<Vec<String>> =
        var("SLURM_FACTORY_CASES").map(|v| v.split(',').map(str::to_string).collect());
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_str().unwrap();
    let templates = Templates::load(None).unwrap();
    let mut report = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for case in common::cases() {
        if only.as_ref().is_some_and(|o| !o.contains(&case.name)) {
            continue;
        }
        let mut ctx = common::context(&case);
        // One config dir (externals found once) and one store; an env and a recipe per case.
        ctx.paths = Paths {
            spack: spack_root.clone(),
            spack_packages: packages.clone(),
            python_venv: venv.clone(),
            env: format!("{root}/env-{}", case.name),
            recipe: format!("{root}/recipe-{}", case.name),
            ..Paths::under(root)
        };
        let rendered = templates.render(&ctx).unwrap();
        rendered.write_to(Path::new(&ctx.paths.recipe)).unwrap();
        let run = |cmd: &mut Command, what: &str| {
            let started = Instant::now();
            let out = cmd.output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            match out.status.success() {
                true => Ok((text, started.elapsed())),
                false => Err(format!("{} {what} failed:\n{text}", case.name)),
            }
        };
        let script = |name: &str| {
            let mut cmd = Command::new("bash");
            cmd.arg(format!("{}/scripts/{name}", ctx.paths.recipe));
            cmd
        };
        // A Spack-built gcc must be installed before the main solve (hours of
        // compiling), so that case checks the toolchain environment's solve.
        let toolchain = rendered.files.contains_key("toolchain.yaml");
        let (mut solve_cmd, wanted, what) = if toolchain {
            let mut cmd = Command::new(format!("{spack_root}/bin/spack"));
            cmd.args(["-e", &ctx.paths.toolchain, "concretize", "-f"])
                .env("SPACK_PYTHON", &python)
                .env("SPACK_DISABLE_LOCAL_CONFIG", "1");
            (cmd, "gcc@14.3.0".to_string(), "toolchain concretize")
        } else {
            let wanted = format!("slurm@{}", ctx.slurm.spack);
            (script("concretize.sh"), wanted, "concretize.sh")
        };
        // A failing case is reported and the others still run.
        // What provision does once per base image, then the per-build setup.
        let result = run(&mut script("spack-externals.sh"), "spack-externals.sh")
            .and_then(|_| run(&mut script("spack-setup.sh"), "spack-setup.sh"))
            .and_then(|(_, setup)| {
                run(&mut solve_cmd, what).map(|(out, solve)| (out, setup, solve))
            });
        let (output, setup, solve) = match result {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                failures.push(e);
                continue;
            }
        };
        let secs = solve.as_secs_f64();
        if !output.contains(&wanted) {
            failures.push(format!(
                "{}: {wanted} not in the solution:\n{output}",
                case.name
            ));
            continue;
        }
        let roots = output
            .lines()
            .find_map(|l| l.strip_prefix("==> Concretized "))
            .unwrap_or("?")
            .trim_end_matches(':')
            .to_string();
        let nodes = output
            .lines()
            .filter(|l| {
                [" -  ", "[e] ", "[+] ", "[^] "]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
            .count();
        // `[e]  hash      ^name@version...`: concretize.sh has refused any runtime library among them.
        let external_names: Vec<&str> = output
            .lines()
            .filter_map(|l| l.strip_prefix("[e] "))
            .filter_map(|l| l.split_whitespace().nth(1))
            .map(|spec| spec.trim_start_matches('^'))
            .filter_map(|spec| spec.split('@').next())
            .collect();
        let externals = external_names.len();
        eprintln!("{}: externals {external_names:?}", case.name);
        let line = format!(
            "{:28} {what:20} {roots:>9}, {nodes:3} nodes ({externals:2} external): concretize {secs:5.1} s, setup {:.1} s",
            case.name,
            setup.as_secs_f64()
        );
        eprintln!("{line}");
        report.push(line);
    }
    eprintln!("concretized with {spack_root}:\n{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
