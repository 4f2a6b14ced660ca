//! Cold build against warm rebuild of the same request, stage by stage, side
//! by side in one run; with the real Spack recipe also the pipeline's install
//! stage against a bare `spack -e ENV install` of the same environment, from
//! the same buildcache, in the same kind of container.
//!
//! The cold run starts from an empty cache dir (the source mirror seeded) and
//! no base image for its inputs; the warm run reuses everything it cached.
//! `REBUILD_BENCH_CACHE=DIR` starts from that cache dir instead (only the
//! base image is then cold).
//!
//! `REBUILD_BENCH_PACKAGE=default` builds the default package of the
//! catalogue's default release instead of the minimal one of the site's Slurm.
//!
//! ```sh
//! export $(cat ~/.cache/slurm-factory-ci/env)
//! # The real job: built-in templates, the offline Spack site (a cold build
//! # compiles the minimal Slurm closure from source: ~25 min on 2 cores).
//! cargo run --release -p factory --example rebuild_bench
//! # The default package (OpenMPI on PMIx) from the CI's caches.
//! REBUILD_BENCH_PACKAGE=default REBUILD_BENCH_CACHE=$SLURM_FACTORY_TEST_CACHE \
//!     cargo run --release -p factory --example rebuild_bench
//! # The machinery alone, with a test recipe (seconds).
//! cargo run --release -p factory --example rebuild_bench -- tests/recipes/hello
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use factory::caches::cache::CacheDirs;
use factory::caches::spack_source::SpackSource;
use factory::events::{BuildEvent, EventRecord};
use factory::layout;
use factory::lxd::{host_user_idmap, LaunchSpec, Lxc};
use factory::pipeline::{self, BuildFlags, BuildOptions};
use factory::recipe::{RecipeContext, Templates};
use factory::request::{BuildRequest, Defaults};
use factory::settings::{Settings, XdgDirs};
use tokio_util::sync::CancellationToken;

type Bench = Result<(), Box<dyn std::error::Error>>;

fn var(name: &str) -> Result<String, String> {
    std::env::var(name)
        .map_err(|_| format!("{name} is not set: export $(cat ~/.cache/slurm-factory-ci/env)"))
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Bench {
    let templates_dir = std::env::args().nth(1);
    let tmp = tempfile::tempdir()?;
    let mut settings = Settings::defaults(&XdgDirs {
        config: tmp.path().join("config"),
        data: tmp.path().join("data"),
        cache: tmp.path().join("cache"),
    });
    settings.storage_pool = var("SLURM_FACTORY_TEST_POOL")?;
    settings.min_free_disk_mib = 1024;
    let spack = templates_dir.is_none();
    let mut flags = BuildFlags::default();
    let request = if let Some(dir) = &templates_dir {
        settings.templates_dir = Some(std::fs::canonicalize(dir)?);
        settings.image = var("SLURM_FACTORY_TEST_IMAGE")?;
        settings.verify_image = var("SLURM_FACTORY_TEST_PLAIN_IMAGE")?;
        BuildRequest {
            minimal: true,
            target: Some("x86_64_v3".into()),
            ..Default::default()
        }
    } else {
        // The offline site of the real-Spack test, with an empty cache of its own
        // (REBUILD_BENCH_CACHE=DIR: that cache dir, e.g. the CI one, instead).
        if let Ok(dir) = std::env::var("REBUILD_BENCH_CACHE") {
            settings.cache_dir = dir.into();
        }
        settings.image = var("SLURM_FACTORY_TEST_SPACK_IMAGE")?;
        settings.verify_image = var("SLURM_FACTORY_TEST_BARE_IMAGE")?;
        settings.spack_root = Some(var("SLURM_FACTORY_TEST_SPACK_ROOT")?.into());
        settings.spack_packages_root = Some(var("SLURM_FACTORY_TEST_SPACK_PACKAGES_ROOT")?.into());
        settings.wheels_dir = Some(var("SLURM_FACTORY_TEST_SPACK_WHEELS")?.into());
        copy_tree(
            Path::new(&var("SLURM_FACTORY_TEST_SPACK_MIRROR")?),
            &CacheDirs::new(&settings).mirror,
        )?;
        flags.offline = true;
        flags.gzip = true;
        // The site's Slurm, added to the catalogue as the real-Spack test adds it.
        let slurm = var("SLURM_FACTORY_TEST_SPACK_SLURM")?;
        let templates = tmp.path().join("templates");
        std::fs::create_dir_all(&templates)?;
        std::fs::write(
            templates.join(factory::request::catalog::RELEASES_FILE),
            format!(
                "[[release]]\nslurm = \"{}\"\nspack = \"{slurm}\"\nsha256 = \"{}\"\n\
                 support_ends = 2026-05-31\n",
                slurm[..5].replace('-', "."),
                var("SLURM_FACTORY_TEST_SPACK_SLURM_SHA256")?
            ),
        )?;
        settings.templates_dir = Some(templates);
        let default_package = std::env::var("REBUILD_BENCH_PACKAGE").as_deref() == Ok("default");
        BuildRequest {
            // Empty: the catalogue's default release.
            slurm_version: if default_package {
                String::new()
            } else {
                slurm
            },
            minimal: !default_package,
            target: Some("x86_64_v3".into()),
            jobs: Some(2),
            ..Default::default()
        }
    }
    .resolve(&Defaults::for_host().with_settings(&settings)?)?;

    // Start cold: no base image for these inputs.
    let rendered = Templates::load(settings.templates_dir.as_deref())?
        .render(&RecipeContext::new(&request, &settings, flags.offline))?;
    let source = SpackSource::from_settings(&settings, flags.offline)?;
    // What keying the base image on the trees' contents costs each build.
    let hashing = Instant::now();
    source.key_parts()?;
    let key_seconds = hashing.elapsed().as_secs_f64();
    let alias = factory::caches::cache::base_image_alias(&settings, &source, &rendered)?;
    let lxc = settings.lxc();
    lxc.delete_image(&alias).await?;
    let uid = host_user_idmap()?
        .map(|_| factory::lxd::current_uid())
        .transpose()?;
    lxc.delete(&factory::caches::cache::shifted_instance_name(&alias, uid))
        .await?;

    let mut runs = Vec::new();
    let mut warm_run_dir = PathBuf::new();
    for label in ["cold", "warm"] {
        let stages = Arc::new(Mutex::new(Vec::new()));
        let seen = stages.clone();
        let sink = Arc::new(move |rec: &EventRecord| {
            if let BuildEvent::StageFinished {
                stage,
                elapsed_ms,
                detail,
                ..
            } = &rec.event
            {
                eprintln!(
                    "  [{label}] {stage:<16} {:>8.1} s  {}",
                    *elapsed_ms as f64 / 1000.0,
                    detail.as_deref().unwrap_or("")
                );
                seen.lock().unwrap().push((stage.to_string(), *elapsed_ms));
            }
        });
        let options = BuildOptions {
            request: request.clone(),
            flags: flags.clone(),
        };
        let started = Instant::now();
        let result = pipeline::build(&settings, options, sink, CancellationToken::new()).await?;
        let total = started.elapsed().as_secs_f64();
        warm_run_dir = result.run_dir;
        let stages = stages.lock().unwrap().clone();
        runs.push((label, total, stages));
    }

    println!(
        "{:<16} {:>9} {:>9} {:>7}",
        "stage", "cold s", "warm s", "ratio"
    );
    let (cold, warm) = (&runs[0].2, &runs[1].2);
    for ((stage, a), (_, b)) in cold.iter().zip(warm) {
        let (a, b) = (*a as f64 / 1000.0, *b as f64 / 1000.0);
        println!("{stage:<16} {a:>9.2} {b:>9.2} {:>6.2}x", b / a.max(0.001));
    }
    println!(
        "{:<16} {:>9.2} {:>9.2} {:>6.2}x",
        "total",
        runs[0].1,
        runs[1].1,
        runs[1].1 / runs[0].1
    );

    println!("content key of the Spack trees (in every build's preflight): {key_seconds:.2} s");
    if spack {
        let warm_install = warm
            .iter()
            .find(|(s, _)| s == "install")
            .map(|(_, ms)| *ms as f64 / 1000.0)
            .ok_or("no install stage")?;
        let bare = bare_spack_install(&settings, &lxc, &alias, &warm_run_dir).await?;
        println!(
            "install from the buildcache: pipeline {warm_install:.2} s, bare `spack install` \
             {bare:.2} s: overhead {:+.1} %",
            (warm_install / bare - 1.0) * 100.0
        );
    }
    Ok(())
}

/// `spack -e ENV install` alone, timed, in an instance like the build's: the
/// same base image and cache mounts, the warm run's recipe and spack.lock.
async fn bare_spack_install(
    settings: &Settings,
    lxc: &Lxc,
    base_image: &str,
    run_dir: &Path,
) -> Result<f64, Box<dyn std::error::Error>> {
    let name = format!("sf-bench-bare-{}", std::process::id());
    lxc.launch(&LaunchSpec {
        image: base_image.into(),
        name: name.clone(),
        storage_pool: Some(settings.storage_pool.clone()),
        config: host_user_idmap()?.into_iter().collect(),
        devices: CacheDirs::new(settings).devices(),
        ..LaunchSpec::default()
    })
    .await?;
    let result = async {
        lxc.push_tree_as(&name, &run_dir.join("recipe"), layout::RECIPE, run_dir)
            .await?;
        lxc.push_file(
            &name,
            &run_dir.join("spack.lock"),
            &format!("{}/spack.lock", layout::ENV),
            0o644,
        )
        .await?;
        let cancel = CancellationToken::new();
        let setup = vec![
            "bash".to_string(),
            format!("{}/scripts/spack-setup.sh", layout::RECIPE),
        ];
        lxc.exec(&name, &setup, &[], |_, _| {}, &cancel).await?;
        let env = [
            (
                "SPACK_PYTHON",
                format!("{}/bin/python", layout::PYTHON_VENV),
            ),
            ("SPACK_DISABLE_LOCAL_CONFIG", "1".to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v));
        let install: Vec<String> = [
            format!("{}/bin/spack", layout::SPACK),
            "-e".into(),
            layout::ENV.into(),
            "install".into(),
            "-j".into(),
            "2".into(),
            "--fail-fast".into(),
        ]
        .into();
        let started = Instant::now();
        let code = lxc.exec(&name, &install, &env, |_, _| {}, &cancel).await?;
        let seconds = started.elapsed().as_secs_f64();
        if code != 0 {
            return Err(format!("bare spack install exited with {code}").into());
        }
        Ok::<f64, Box<dyn std::error::Error>>(seconds)
    }
    .await;
    lxc.delete(&name).await?;
    result
}
