//! The product's own job, for real: `slurm-factory build --offline --minimal`
//! with the built-in templates, Spack 1.1 inside LXD, an offline site as an
//! air-gapped user has one (.ci/spack-site.sh: Spack and spack-packages
//! trees under names of their own, clingo wheels, Debian's sources as a Spack
//! mirror, versions pinned in Spack's site scope), a build image holding what
//! provision.sh would install with apt, and a verify image with none of
//! Slurm's dependencies (no munge, no zstd).
//!
//! Slurm is the newest release whose tarball Debian's archive serves here
//! (24.11.5, trixie), a version no spack-packages release knows: the site
//! adds it to the product's overlay repo through its templates dir, with the
//! tarball's sha256, as the README tells a site to.
//!
//! 1. The mirror lacks Slurm's source (and the buildcache Slurm's binary):
//!    the build fails naming `slurm@24-11-5-1`, where Spack looked and the
//!    file to add; every package built on the way reached the buildcache.
//! 2. The source is added: the retry builds Slurm alone (the rest comes from
//!    the buildcache), packages it, and a one-node cluster runs `srun` and
//!    `sbatch` from the `.tar.gz` unpacked elsewhere, with the package's munged.
//! 3. The same request through the `slurm-factory` binary: warm, nothing built.
//! 4. The default package of the catalogue's default release (26.05.3, the
//!    tarball SchedMD ships, checked against the catalogue's sha256): Slurm
//!    with hwloc, PMIx, slurmrestd and readline, and OpenMPI on the same PMIx,
//!    from Debian's sources but for Slurm (`.ci/spack-site.sh` says which and
//!    why), reusing what the minimal build compiled; verified the same way.
//!
//! The cache layers live in the CI cache dir, so a later run on the same
//! machine starts warm (a cold run builds about 40 packages from source).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use factory::events::BuildEvent;
use factory::kinds::Stage;
use factory::package::Manifest;
use factory::pipeline::{self, BuildFlags, BuildOptions};
use factory::request::{BuildRequest, Defaults};
use factory::settings::{self, Settings, XdgDirs};
use factory::store::artifacts::{Store, VERIFY_LOG};
use factory::Error;
use sha2::Digest;
use slurm_factory_e2e::SpackSite;
use tokio_util::sync::CancellationToken;

const TARGET: &str = "x86_64_v3";

/// The release series of the site's Slurm (`24-11-5-1` -> `24.11`): its
/// name in the catalogue, the packages and the modules.
fn site_series(site: &SpackSite) -> String {
    site.slurm_version[..5].replace('-', ".")
}

/// A templates dir whose `releases.toml` adds the site's Slurm release (its
/// series replaces the built-in one), as the README tells a site to.
fn site_templates(site: &SpackSite, root: &Path) -> PathBuf {
    let series = site_series(site);
    let dir = root.join("templates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(factory::request::catalog::RELEASES_FILE),
        format!(
            "# The release this site builds: Debian's orig tarball of it.\n\
             [[release]]\nslurm = \"{series}\"\nspack = \"{}\"\nsha256 = \"{}\"\n\
             support_ends = 2026-05-31\n",
            site.slurm_version, site.slurm_sha256
        ),
    )
    .unwrap();
    dir
}

/// Specs Spack builds for the minimal package at least: Slurm, munge, their
/// libraries, gcc-runtime and compiler-wrapper (13 on Spack 1.1).
const MINIMAL_CLOSURE: usize = 12;

/// The `SLURM_FACTORY_*` variables of these builds, for the library and the binary alike.
fn build_vars(site: &SpackSite, root: &Path) -> BTreeMap<String, String> {
    // Checkouts named as a user names them: the product must not care.
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let spack = src.join("spack-1.1");
    let packages = src.join("recipes-2025.11");
    std::os::unix::fs::symlink(&site.spack_root, &spack).unwrap();
    std::os::unix::fs::symlink(&site.spack_packages_root, &packages).unwrap();
    let path = |p: &Path| p.display().to_string();
    let mut vars = BTreeMap::from([
        ("IMAGE", site.build_image.clone()),
        ("VERIFY_IMAGE", site.bare_image.clone()),
        ("STORAGE_POOL", site.pool.clone()),
        ("DATA_DIR", path(&root.join("data"))),
        ("CACHE_DIR", path(&site.cache_dir)),
        ("SPACK_ROOT", path(&spack)),
        ("SPACK_PACKAGES_ROOT", path(&packages)),
        ("WHEELS_DIR", path(&site.wheels_dir)),
        ("TEMPLATES_DIR", path(&site_templates(site, root))),
        ("MIN_FREE_DISK_MIB", "2048".into()),
        ("CONFIG", path(&root.join("config.toml"))),
    ]);
    if let Some(project) = slurm_factory_e2e::test_var("SLURM_FACTORY_LXD_PROJECT") {
        vars.insert("LXD_PROJECT", project);
    }
    vars.into_iter()
        .map(|(k, v)| (format!("SLURM_FACTORY_{k}"), v))
        .collect()
}

fn load_settings(root: &Path, vars: &BTreeMap<String, String>) -> Settings {
    let dirs = XdgDirs {
        config: root.join("config"),
        data: root.join("data"),
        cache: root.join("cache"),
    };
    settings::load(&dirs, vars).unwrap().settings
}

/// Every file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Whether `path` holds exactly `bytes`.
fn same_bytes(path: &Path, bytes: &[u8]) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() == bytes.len() as u64)
        && std::fs::read(path).is_ok_and(|b| b == bytes)
}

/// Copies the site's sources into the mirror layer (what is there already
/// stays); a source with the bytes of `withhold` is left out, and removed
/// where an earlier run put it (Spack finds it by name and by digest).
fn seed_mirror(from: &Path, to: &Path, withhold: Option<&[u8]>) {
    if let Some(bytes) = withhold {
        for path in files_under(to) {
            if same_bytes(&path, bytes) {
                std::fs::remove_file(&path).unwrap();
            }
        }
    }
    for path in files_under(from) {
        if withhold.is_some_and(|bytes| same_bytes(&path, bytes)) {
            continue;
        }
        let dest = to.join(path.strip_prefix(from).unwrap());
        if !dest.exists() {
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// Forgets every binary of `spec` in the buildcache layer (a package, `zlib`,
/// or one version of it, `slurm-24-11-5-1`: its spec manifests, and the
/// index that lists them): as if it had never been built.
fn forget_binaries(buildcache: &Path, spec: &str) -> usize {
    let mut forgotten = 0;
    let mut stack = vec![buildcache.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if name.starts_with("index.json")
                || (name.starts_with(&format!("{spec}-")) && name.contains(".spec."))
            {
                std::fs::remove_file(&path).unwrap();
                forgotten += usize::from(!name.starts_with("index.json"));
            }
        }
    }
    forgotten
}

/// The minimal package of the site's Slurm.
fn request(site: &SpackSite, settings: &Settings) -> factory::request::ResolvedRequest {
    request_of(settings, &site.slurm_version, true)
}

/// A package of `slurm` (empty: the catalogue's default release) for `TARGET`.
fn request_of(
    settings: &Settings,
    slurm: &str,
    minimal: bool,
) -> factory::request::ResolvedRequest {
    BuildRequest {
        slurm_version: slurm.into(),
        minimal,
        target: Some(TARGET.into()),
        jobs: Some(2),
        ..Default::default()
    }
    .resolve(&Defaults {
        target: TARGET.into(),
        jobs: 2,
        gpu: None,
        toolchain: None,
        // The site's releases.toml (build_vars' templates dir) adds its Slurm.
        catalog: Arc::new(
            factory::request::catalog::Catalog::load(
                settings.templates_dir.as_deref(),
                factory::request::catalog::today(),
            )
            .unwrap(),
        ),
    })
    .unwrap()
}

/// Stage (name, outcome, seconds, detail) rows of one run, printed as they come.
type Stages = Arc<Mutex<Vec<(Stage, String, f64, String)>>>;

fn sink(label: &'static str, stages: &Stages) -> factory::store::runs::Sink {
    let stages = stages.clone();
    Arc::new(move |rec| {
        if let BuildEvent::StageFinished {
            stage,
            outcome,
            elapsed_ms,
            detail,
        } = &rec.event
        {
            let row = (
                *stage,
                format!("{outcome:?}").to_lowercase(),
                *elapsed_ms as f64 / 1000.0,
                detail.clone().unwrap_or_default(),
            );
            eprintln!(
                "  [{label}] {:<16} {:<9} {:>7.1} s  {}",
                row.0.as_str(),
                row.1,
                row.2,
                row.3
            );
            stages.lock().unwrap().push(row);
        }
    })
}

fn detail_of(stages: &Stages, stage: Stage) -> String {
    stages
        .lock()
        .unwrap()
        .iter()
        .find(|r| r.0 == stage)
        .map(|r| r.3.clone())
        .unwrap_or_else(|| panic!("no {stage} stage"))
}

/// `N from buildcache, M built` of the install stage.
fn install_counts(detail: &str) -> (u32, u32) {
    let numbers: Vec<u32> = detail
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(
        detail.contains("from buildcache") && numbers.len() == 2,
        "install detail: {detail}"
    );
    (numbers[0], numbers[1])
}

/// Spack's lines of one stage in a run's build.log.
fn stage_lines(run_dir: &Path, stage: &str) -> Vec<String> {
    let log = std::fs::read_to_string(run_dir.join("build.log")).unwrap();
    let prefix = format!("[{stage}] ");
    log.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(String::from)
        .collect()
}

/// Spack must not run in spack-setup: the compiler and externals come baked
/// into the base image.
fn assert_spack_setup_runs_no_spack(run_dir: &Path) {
    let lines = stage_lines(run_dir, "spack-setup");
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("==> ") && !l.starts_with("==> slurm-factory")),
        "spack-setup ran Spack: {lines:#?}"
    );
}

/// The host names of a run's verify nodes: `sf-verify-RUN`, then
/// `sf-verify-2-RUN`, … (instance names).
fn verify_hosts(run_id: &str, nodes: usize) -> Vec<String> {
    (1..=nodes)
        .map(|n| match n {
            1 => format!("sf-verify-{run_id}"),
            n => format!("sf-verify-{n}-{run_id}"),
        })
        .collect()
}

/// What a user checks on a finished Slurm artifact of `release` (`24.11.5`):
/// verified at another prefix by a working cluster of `nodes` clean
/// instances, with the package's own munged; returns it and its verify log.
fn assert_verified_slurm(
    release: &str,
    store: &Store,
    artifact_id: &str,
    run_id: &str,
    nodes: usize,
) -> (Manifest, String) {
    let artifact = store.show(artifact_id).unwrap();
    let m = artifact.manifest;
    let verify = m.verify.as_ref().expect("verify ran");
    let names: Vec<&str> = verify.checks.iter().map(|c| c.name.as_str()).collect();
    assert!(verify.passed, "{:#?}", verify.checks);
    for check in [
        "unpack",
        "libraries-resolve",
        "slurmctld-version",
        "module-load",
        "munged-start",
        "sinfo-version",
        "slurmctld-start",
        "slurmd-start",
        "node-idle",
        "srun-hostname",
        "sbatch-job",
    ] {
        assert!(
            names.contains(&check),
            "check {check} missing from {names:?}"
        );
    }
    let log = std::fs::read_to_string(artifact.dir.join(VERIFY_LOG)).unwrap();
    println!("---- verify log of {artifact_id} ----\n{log}---- end of verify log ----");
    let hosts = verify_hosts(run_id, nodes);
    let lines: Vec<&str> = log.lines().map(str::trim_end).collect();
    assert!(
        log.contains(&format!("slurm {release}")),
        "slurmctld -V output:\n{log}"
    );
    let root = format!("{}/{}", pipeline::VERIFY_PREFIX, m.name);
    assert!(
        log.contains(&format!("munged: {root}/sbin/munged")),
        "the package's own munged ran:\n{log}"
    );
    for host in &hosts {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("{host} ")) && l.ends_with("idle")),
            "sinfo -N shows {host} idle:\n{log}"
        );
        assert!(lines.contains(&host.as_str()), "srun hostname:\n{log}");
        assert!(
            lines.contains(&format!("job ran on {host}").as_str()),
            "sbatch job output:\n{log}"
        );
    }
    for n in 2..=nodes {
        for check in ["unpack", "munged-start", "slurmd-start"] {
            let check = format!("node-{n}-{check}");
            assert!(
                names.contains(&check.as_str()),
                "check {check} missing from {names:?}"
            );
        }
    }
    (m, log)
}

/// Every package the install stage built from source (Slurm among them) was
/// pushed to the buildcache as soon as it was installed.
fn assert_built_were_pushed(run_dir: &Path, slurm_version: &str) {
    let install = stage_lines(run_dir, "install");
    let built: Vec<&str> = install
        .iter()
        .filter_map(|l| l.strip_prefix("==> No binary for "))
        .filter_map(|l| l.split(" found").next())
        .collect();
    assert!(
        built
            .iter()
            .any(|s| s.starts_with(&format!("slurm-{slurm_version}-"))),
        "Slurm was built from source: {built:?}"
    );
    for spec in &built {
        // Versions hold dashes too (ca-certificates-mozilla-2025-08-12-<hash>):
        // the package's name is the one Spack reports the install under.
        let installed = format!(": Successfully installed {spec}");
        let name = install
            .iter()
            .find_map(|l| l.strip_prefix("==> ")?.strip_suffix(installed.as_str()))
            .unwrap_or_else(|| panic!("{spec} was built but not installed"));
        assert!(
            install
                .iter()
                .any(|l| l == &format!("==> {name}: Pushed to build cache: 'local-buildcache'")),
            "{spec} was built but not pushed:\n{}",
            install.join("\n")
        );
    }
}

/// `mirror check` of the test's request, its listing printed as the CLI prints it.
async fn mirror_check(
    settings: &Settings,
    site: &SpackSite,
    label: &'static str,
) -> factory::caches::sources::SourcesReport {
    mirror_check_of(settings, request(site, settings), label)
        .await
        .sources
}

async fn mirror_check_of(
    settings: &Settings,
    request: factory::request::ResolvedRequest,
    label: &'static str,
) -> pipeline::MirrorResult {
    let stages: Stages = Arc::default();
    let result = pipeline::mirror_check(
        settings,
        BuildOptions {
            request,
            flags: BuildFlags {
                offline: true,
                verify: false,
                ..BuildFlags::default()
            },
        },
        sink(label, &stages),
        CancellationToken::new(),
    )
    .await
    .unwrap_or_else(|e| panic!("mirror check failed: {e}\n  hint: {}", e.hint()));
    let s = &result.sources;
    println!(
        "[{label}] {}: {} of {} sources in the mirror layer",
        s.artifact_name, s.present, s.needed
    );
    for m in &s.missing {
        println!(
            "[{label}]   missing {:<24} {} (binary in the buildcache: {}, upstream: {})",
            m.package,
            m.file.display(),
            m.binary,
            m.upstream
        );
    }
    result
}

/// Prints what a user reads of a package (sizes, bundled libraries, what it
/// needs of a target) and checks it holds no problem and runs on Debian 12.
fn report_package(run_dir: &Path, m: &Manifest) {
    let bundled = std::fs::read_to_string(run_dir.join("build.log"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("[package] relocate: bundled "))
        .count();
    println!(
        "package {}: {} ELF files, {bundled} libraries bundled, {} unpacked, {} .tar.zst, {} .tar.gz",
        m.name,
        m.inspection.elf_files,
        mib(m.sizes.unpacked),
        mib(m.archives[0].bytes),
        mib(m.archives.get(1).map_or(0, |a| a.bytes)),
    );
    println!("inspection warnings: {:#?}", m.inspection.warnings);
    println!(
        "needs: {}",
        m.inspection
            .floor
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    // glib is only for sview (+gtk): none of its chain is built or bundled.
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("spack.lock")).unwrap()).unwrap();
    let built: Vec<&str> = lock["concrete_specs"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|s| s["name"].as_str())
        .collect();
    for sview_only in ["glib", "gettext", "elfutils", "pcre2"] {
        assert!(
            !built.contains(&sview_only),
            "{sview_only} is in the closure of {}: {built:?}",
            m.name
        );
    }
    let glibc = factory::package::glibc_floor(&m.inspection.floor).expect("a glibc floor");
    assert!(
        factory::package::dotted(&glibc.version) <= factory::package::dotted("2.36"),
        "built on Debian 12 (glibc 2.36): {glibc}"
    );
    assert!(
        m.inspection.problems.is_empty(),
        "{:?}",
        m.inspection.problems
    );
}

/// A checksummed version is fetched by its digest alone: the Slurm source
/// Spack unpacked is the mirror's file named by `sha256`, and it has those
/// bytes. (The site's `checksum: false`, for Debian's other tarballs, switches
/// off Spack's own comparison, so the test makes it.)
fn assert_source_has_digest(mirror: &Path, sha256: &str) {
    let by_digest = mirror.join(format!(
        "_source-cache/archive/{}/{sha256}.tar.gz",
        &sha256[..2]
    ));
    let digest = sha2::Sha256::digest(std::fs::read(&by_digest).unwrap());
    assert_eq!(
        factory::fsutil::hex(&digest),
        sha256,
        "{}",
        by_digest.display()
    );
}

/// The release a Spack version of Slurm builds: `24-11-5-1` -> `24.11.5`.
fn release_of(spack_version: &str) -> String {
    spack_version.rsplit_once('-').unwrap().0.replace('-', ".")
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

#[tokio::test(flavor = "multi_thread")]
async fn real_spack_build_of_slurm_offline_verified_on_a_bare_system() {
    let Some(site) = SpackSite::from_env("real_spack_build_of_slurm") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let vars = build_vars(&site, root);
    let settings = load_settings(root, &vars);
    let mirror = site.cache_dir.join("mirror");
    let buildcache = site.cache_dir.join("buildcache");
    std::fs::create_dir_all(&mirror).unwrap();

    // 1. No Slurm source, no Slurm binary: the build stops at the sources.
    let flags = BuildFlags {
        offline: true,
        gzip: true,
        ..BuildFlags::default()
    };
    without_the_slurm_source(&site, &settings, &flags).await;
    let store = Store::new(settings.artifacts_dir());

    // 2. The source is there: Slurm is built (with whatever dependency the
    // buildcache lacks, each pushed there as soon as it is installed).
    let second: Stages = Arc::default();
    let result = pipeline::build(
        &settings,
        BuildOptions {
            request: request(&site, &settings),
            flags: flags.clone(),
        },
        sink("retry", &second),
        CancellationToken::new(),
    )
    .await
    .unwrap_or_else(|e| panic!("the retry failed: {e}\n  hint: {}", e.hint()));
    let (from_cache, built) = install_counts(&detail_of(&second, Stage::Install));
    assert!(
        (from_cache + built) as usize >= MINIMAL_CLOSURE && built >= 1,
        "{from_cache} from the buildcache, {built} built"
    );
    assert_built_were_pushed(&result.run_dir, &site.slurm_version);
    eprintln!("second build: {built} built, {from_cache} from the buildcache");
    assert!(
        detail_of(&second, Stage::Verify).contains(".tar.gz"),
        "verified from the .tar.gz on a system without zstd"
    );
    assert_spack_setup_runs_no_spack(&result.run_dir);
    let (m, _) = assert_verified_slurm(
        &release_of(&site.slurm_version),
        &store,
        &result.artifact_id,
        &result.run_id,
        1,
    );
    let lock = std::fs::read_to_string(result.run_dir.join("spack.lock")).unwrap();
    assert!(
        lock.contains("\"slurm_factory\""),
        "Slurm comes from the overlay repo"
    );
    let lock: serde_json::Value = serde_json::from_str(&lock).unwrap();
    let slurm = lock["concrete_specs"]
        .as_object()
        .unwrap()
        .values()
        .find(|s| s["name"] == "slurm")
        .unwrap();
    assert_eq!(slurm["version"], site.slurm_version.as_str());
    assert_eq!(slurm["namespace"], "slurm_factory", "{slurm}");
    assert_source_has_digest(&mirror, &site.slurm_sha256);
    report_package(&result.run_dir, &m);

    // 3. Warm, through the binary.
    let cli = |args: &[&str]| {
        let out = slurm_factory_e2e::slurm_factory(root, &vars, args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "slurm-factory {args:?} failed ({}):\n{}\n{stdout}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let warm_build = [
        "build",
        "--offline",
        "--minimal",
        "--slurm-version",
        &site.slurm_version,
        "--target",
        TARGET,
        "--jobs",
        "2",
        "--gzip",
        "--json",
    ];
    let build_through_cli = || -> Vec<serde_json::Value> {
        cli(&warm_build)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let events = build_through_cli();
    let finished = events.iter().find(|e| e["type"] == "run_finished").unwrap();
    assert_eq!(finished["outcome"], "succeeded", "{finished}");
    let warm_stages: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["type"] == "stage_finished")
        .collect();
    for e in &warm_stages {
        eprintln!(
            "  [warm] {:<16} {:<9} {:>7.1} s  {}",
            e["stage"].as_str().unwrap(),
            e["outcome"].as_str().unwrap(),
            e["elapsed_ms"].as_u64().unwrap() as f64 / 1000.0,
            e["detail"].as_str().unwrap_or("")
        );
    }
    let outcome_of = |stage: &str| {
        warm_stages
            .iter()
            .find(|e| e["stage"] == stage)
            .map(|e| e["outcome"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(outcome_of("provision"), "cached");
    assert_eq!(outcome_of("concretize"), "cached");
    let install = warm_stages
        .iter()
        .find(|e| e["stage"] == "install")
        .unwrap();
    let (_, built) = install_counts(install["detail"].as_str().unwrap());
    assert_eq!(built, 0, "the warm build compiles nothing");
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&cli(&["artifacts", "list", "--json"])).unwrap();
    assert_eq!(list.len(), 2, "both builds are in the store: {list:?}");
    assert!(list.iter().all(|a| a["verified"] == true), "{list:?}");

    // 5. A buildcache entry cut short: compiled again, and pushed whole.
    a_cut_buildcache_entry_is_compiled_and_pushed_whole(
        &buildcache,
        &result.run_dir,
        &build_through_cli,
    );

    // 4. The default package of the catalogue's default release (26.05.3, as
    // SchedMD ships it): Slurm with hwloc, PMIx, slurmrestd and readline, and
    // OpenMPI on the same PMIx, built on what the minimal build left in the
    // buildcache and verified on a system with none of it.
    // Its modules in the Lmod hierarchy: verify loads OpenMPI under its compiler.
    // It compiles (a cold run: OpenMPI, PMIx, PRRTE, Slurm, for 25 min) while
    // steps 6 to 8 build the minimal package beside it; checked after them.
    let newest = factory::request::catalog::Catalog::builtin()
        .default_release()
        .clone();
    let default_stages: Stages = Arc::default();
    let default_build = {
        let settings = settings.clone();
        let options = BuildOptions {
            request: request_of(&settings, "", false),
            flags: BuildFlags {
                package: pipeline::PackageOptions {
                    modules: factory::recipe::ModuleLayout::Hierarchy,
                    ..Default::default()
                },
                ..flags.clone()
            },
        };
        let sink = sink("default", &default_stages);
        // Its own runtime: the steps beside it block theirs.
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(pipeline::build(
                    &settings,
                    options,
                    sink,
                    CancellationToken::new(),
                ))
        })
    };

    // 6. Two builds of it at once on every shared layer (buildcache, its
    // index, mirror, ccache, locks, the store): Spack's and our own locks
    // hold, and both packages are verified.
    let before = cli(&["artifacts", "list", "--json"]);
    let before: Vec<serde_json::Value> = serde_json::from_str(&before).unwrap();
    let started = std::time::Instant::now();
    let outcomes: Vec<String> = std::thread::scope(|s| {
        let builds: Vec<_> = (0..2).map(|_| s.spawn(build_through_cli)).collect();
        builds
            .into_iter()
            .map(|b| {
                let events = b.join().expect("a concurrent build");
                let finished = events.iter().find(|e| e["type"] == "run_finished").unwrap();
                finished["outcome"].as_str().unwrap().to_string()
            })
            .collect()
    });
    println!(
        "two builds at once: {outcomes:?} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(outcomes, ["succeeded", "succeeded"]);
    let after: Vec<serde_json::Value> =
        serde_json::from_str(&cli(&["artifacts", "list", "--json"])).unwrap();
    // The default package (step 4) may have landed meanwhile.
    let minimal = |list: &[serde_json::Value]| {
        list.iter()
            .filter(|a| a["package_type"] == "minimal")
            .count()
    };
    assert_eq!(minimal(&after), minimal(&before) + 2, "{after:?}");
    assert!(after.iter().all(|a| a["verified"] == true), "{after:?}");

    // 8. Publishing for a cluster, and a cluster installing from it.
    publish_and_install_from_it(&site, root, &vars, &warm_build);

    // 7. The same build on a second LXD server.
    build_on_the_remote_server(root, &vars, &warm_build);

    // 4, checked.
    let default = default_build
        .join()
        .expect("the default package's build thread")
        .unwrap_or_else(|e| panic!("the default package failed: {e}\n  hint: {}", e.hint()));
    let (from_cache, built) = install_counts(&detail_of(&default_stages, Stage::Install));
    eprintln!("default package: {built} built, {from_cache} from the buildcache");
    // Two nodes: an MPI job must cross hosts.
    let (dm, log) = assert_verified_slurm(
        &release_of(&newest.spack),
        &store,
        &default.artifact_id,
        &default.run_id,
        2,
    );
    assert_eq!(
        dm.name,
        format!("slurm-{}-default-{TARGET}", newest.slurm),
        "the default request builds the newest supported release"
    );
    let checks = &dm.verify.as_ref().unwrap().checks;
    for check in [
        "mpicc-at-prefix",
        "mpi-list-pmix",
        "mpi-pmix-allreduce",
        "slurmrestd-ping",
    ] {
        assert!(
            checks.iter().any(|c| c.name == check),
            "check {check} missing from {checks:?}"
        );
    }
    // srun --mpi=pmix -N2 -n4: every rank once, two on each node.
    let ranks: Vec<(u32, &str)> = log
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("rank "))
        .filter_map(|l| l.split_once(" of 4 on "))
        .map(|(rank, host)| (rank.parse().unwrap(), host))
        .collect();
    let mut numbers: Vec<u32> = ranks.iter().map(|(r, _)| *r).collect();
    numbers.sort();
    assert_eq!(numbers, [0, 1, 2, 3], "the MPI job's ranks:\n{log}");
    for host in verify_hosts(&default.run_id, 2) {
        assert_eq!(
            ranks.iter().filter(|(_, h)| *h == host).count(),
            2,
            "two ranks on {host}:\n{log}"
        );
    }
    assert!(
        log.contains("allreduce: sum of ranks 6, expected 6"),
        "{log}"
    );
    // slurmrestd, JWT auth: the newest OpenAPI version the release serves.
    assert!(
        log.contains("GET /slurm/v0.0.45/ping\nHTTP/1.1 200 OK")
            && log.contains("\"responding\": true"),
        "slurmrestd's ping:\n{log}"
    );
    report_package(&default.run_dir, &dm);
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(default.run_dir.join("spack.lock")).unwrap())
            .unwrap();
    let specs = lock["concrete_specs"].as_object().unwrap();
    let spec = |name: &str| {
        specs
            .iter()
            .find(|(_, s)| s["name"] == name)
            .map(|(hash, s)| (hash.clone(), s.clone()))
            .unwrap_or_else(|| panic!("no {name} in the default package's closure"))
    };
    let dependency = |of: &serde_json::Value, name: &str| {
        of["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .map(|d| d["hash"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{} has no {name}: {of}", of["name"]))
    };
    let (_, slurm) = spec("slurm");
    assert_eq!(slurm["version"], newest.spack.as_str());
    assert_eq!(slurm["namespace"], "slurm_factory", "{slurm}");
    for variant in ["hwloc", "pmix", "restd", "readline"] {
        assert_eq!(
            slurm["parameters"][variant], true,
            "slurm +{variant}: {slurm}"
        );
    }
    let (pmix_hash, pmix) = spec("pmix");
    let (_, openmpi) = spec("openmpi");
    assert_eq!(
        (dependency(&slurm, "pmix"), dependency(&openmpi, "pmix")),
        (pmix_hash.clone(), pmix_hash),
        "Slurm and OpenMPI on one PMIx ({})",
        pmix["version"]
    );
    // OpenMPI ~rsh: no ssh launcher, so none of what only it needs.
    let names: Vec<&str> = specs.values().filter_map(|s| s["name"].as_str()).collect();
    for absent in ["openssh", "krb5", "libedit", "libxcrypt"] {
        assert!(
            !names.contains(&absent),
            "{absent} in the default closure: {names:?}"
        );
    }
    // SchedMD's bytes, found by the catalogue's digest.
    assert_source_has_digest(&mirror, &newest.sha256);
    // What a cluster takes this package for, in the archive a site unpacks.
    let artifact = store.show(&default.artifact_id).unwrap();
    let gz = dm
        .archives
        .iter()
        .find(|a| a.file.ends_with(".tar.gz"))
        .expect("a .tar.gz");
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(artifact.dir.join(&gz.file))
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for file in [
        "lib/slurm/mpi_pmix.so",
        "lib/slurm/auth_jwt.so",
        "sbin/slurmrestd",
        "bin/mpicc",
        "bin/mpirun",
    ] {
        assert!(
            listing.lines().any(|l| l.ends_with(&format!("/{file}"))),
            "{file} not in {}",
            gz.file
        );
    }
}

/// Step 1: no Slurm source, no Slurm binary. The build stops at the sources
/// stage naming the file to add, before Spack installs anything, and leaves
/// nothing behind; `mirror check` names it too, and finds it once added.
async fn without_the_slurm_source(site: &SpackSite, settings: &Settings, flags: &BuildFlags) {
    let mirror = site.cache_dir.join("mirror");
    let buildcache = site.cache_dir.join("buildcache");
    let slurm_source = std::fs::read(
        site.mirror
            .join(format!("slurm/slurm-{}.tar.gz", site.slurm_version)),
    )
    .unwrap();
    seed_mirror(&site.mirror, &mirror, Some(&slurm_source));
    // Only this Slurm: the default package's (step 4) stays cached.
    let forgotten = forget_binaries(&buildcache, &format!("slurm-{}", site.slurm_version));
    eprintln!("buildcache: forgot {forgotten} slurm binaries");
    let first: Stages = Arc::default();
    let err = pipeline::build(
        settings,
        BuildOptions {
            request: request(site, settings),
            flags: flags.clone(),
        },
        sink("no source", &first),
        CancellationToken::new(),
    )
    .await
    .expect_err("the build cannot succeed without Slurm's source");
    println!("error: {err}\nhint: {}", err.hint());
    let Error::SourcesMissing {
        packages,
        looked,
        wanted,
        log,
    } = &err
    else {
        panic!("expected the missing sources to be named, got: {err}");
    };
    assert_eq!(packages, &[format!("slurm@{}", site.slurm_version)]);
    assert!(
        looked
            .iter()
            .any(|l| l.starts_with(&mirror.display().to_string())),
        "the mirror layer is among the places, as a host path: {looked:?}"
    );
    assert!(
        wanted.len() == 1 && wanted[0].starts_with(&mirror),
        "the file to add, in the mirror layer: {wanted:?}"
    );
    assert!(
        err.hint().contains(&wanted[0].display().to_string()),
        "{}",
        err.hint()
    );
    assert_eq!(err.kind().code(), 5);
    assert!(
        err.to_string().len() < 1200,
        "one readable message, not a wall: {err}"
    );
    // It stopped at the sources stage, before Spack installed anything.
    let failed_at: Vec<Stage> = first
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.1 == "failed")
        .map(|r| r.0)
        .collect();
    assert_eq!(failed_at, [Stage::Sources]);
    let run_dir = log.parent().unwrap().to_path_buf();
    assert!(
        stage_lines(&run_dir, "install").is_empty(),
        "the install stage never ran"
    );
    let store = Store::new(settings.artifacts_dir());
    assert!(
        store.list().unwrap().is_empty(),
        "nothing reached the store"
    );
    let run_id = run_dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        slurm_factory_e2e::instances_of_run(settings, &run_id)
            .await
            .is_empty(),
        "no instance left"
    );

    // `mirror check` before and after the source is added: what an offline
    // site runs before it builds.
    let before = mirror_check(settings, site, "check before").await;
    let missing: Vec<(&str, bool)> = before
        .missing
        .iter()
        .map(|m| (m.package.as_str(), m.binary))
        .collect();
    assert_eq!(
        missing,
        [(format!("slurm@{}", site.slurm_version).as_str(), false)]
    );
    assert_eq!(before.missing[0].file, wanted[0]);
    seed_mirror(&site.mirror, &mirror, None);
    let after = mirror_check(settings, site, "check after").await;
    assert!(after.missing.is_empty(), "{after:#?}");
    assert_eq!(
        (after.present, after.needed),
        (before.needed, before.needed)
    );
}

/// Step 5: a buildcache entry cut short (a full disk or a killed copy while
/// it was pushed): Spack refuses it (its checksum) and compiles the spec
/// instead; the build says so, and the push writes the entry whole again.
fn a_cut_buildcache_entry_is_compiled_and_pushed_whole(
    buildcache: &Path,
    minimal_run_dir: &Path,
    build_through_cli: &dyn Fn() -> Vec<serde_json::Value>,
) {
    let minimal_lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(minimal_run_dir.join("spack.lock")).unwrap())
            .unwrap();
    let (zlib_hash, zlib_version) = minimal_lock["concrete_specs"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, s)| s["name"] == "zlib")
        .map(|(hash, s)| (hash.clone(), s["version"].as_str().unwrap().to_string()))
        .expect("zlib in the minimal closure");
    let zlib_manifest = buildcache.join(format!(
        "v3/manifests/spec/zlib/zlib-{zlib_version}-{zlib_hash}.spec.manifest.json"
    ));
    let archive_of = |manifest: &Path| -> (PathBuf, u64, String) {
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(manifest).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        let archive = m["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["mediaType"].as_str().unwrap().contains("tar"))
            .unwrap();
        let sum = archive["checksum"].as_str().unwrap().to_string();
        let blob = buildcache.join("blobs/sha256").join(&sum[..2]).join(&sum);
        (blob, archive["contentLength"].as_u64().unwrap(), sum)
    };
    let (blob, length, _) = archive_of(&zlib_manifest);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&blob)
        .unwrap()
        .set_len(length / 2)
        .unwrap();
    let events = build_through_cli();
    let finished = events.iter().find(|e| e["type"] == "run_finished").unwrap();
    assert_eq!(finished["outcome"], "succeeded", "{finished}");
    let install = events
        .iter()
        .find(|e| e["type"] == "stage_finished" && e["stage"] == "install")
        .unwrap();
    let (from_cache, built) = install_counts(install["detail"].as_str().unwrap());
    assert_eq!(built, 1, "zlib alone is compiled: {install}");
    let warnings: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "warning")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    println!(
        "cut buildcache entry: {from_cache} from the buildcache, {built} built; {warnings:#?}"
    );
    let named = format!("zlib-{zlib_version} (/{})", &zlib_hash[..7]);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(&named) && w.contains(&format!(" of {length} bytes"))),
        "the damaged entry is named with what is wrong: {warnings:?}"
    );
    let (blob, length, sum) = archive_of(&zlib_manifest);
    let bytes = std::fs::read(&blob).unwrap();
    assert_eq!(bytes.len() as u64, length, "the pushed entry is whole");
    assert_eq!(factory::fsutil::hex(&sha2::Sha256::digest(&bytes)), sum);
}

/// Step 7: the same build on a second LXD server, over HTTPS (`sf-remote`):
/// the images it lacks are copied there, its base image is made there, the
/// mirror and buildcache layers reach its volumes: it compiles nothing, and
/// the package comes back verified.
fn build_on_the_remote_server(root: &Path, vars: &BTreeMap<String, String>, warm_build: &[&str]) {
    let Some(server) = slurm_factory_e2e::RemoteServer::from_env("real_spack_build_on_a_remote")
    else {
        return;
    };
    let _turn = server.turn();
    server.control("start");
    let remote = server.name.clone();
    let mut remote_vars = vars.clone();
    remote_vars.insert("SLURM_FACTORY_LXD_REMOTE".into(), remote.clone());
    remote_vars.insert("LXD_CONF".into(), server.lxd_conf.clone());
    let started = std::time::Instant::now();
    let out = slurm_factory_e2e::slurm_factory(root, &remote_vars, warm_build);
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        out.status.success(),
        "the build on {remote} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for e in events.iter().filter(|e| e["type"] == "stage_finished") {
        eprintln!(
            "  [{remote}] {:<16} {:<9} {:>7.1} s  {}",
            e["stage"].as_str().unwrap(),
            e["outcome"].as_str().unwrap(),
            e["elapsed_ms"].as_u64().unwrap() as f64 / 1000.0,
            e["detail"].as_str().unwrap_or("")
        );
    }
    println!(
        "the build on {remote}: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started_on = events.iter().find(|e| e["type"] == "run_started").unwrap();
    assert_eq!(started_on["lxd_remote"], remote.as_str());
    let install = events
        .iter()
        .find(|e| e["type"] == "stage_finished" && e["stage"] == "install")
        .unwrap();
    let (cached, built) = install_counts(install["detail"].as_str().unwrap());
    assert_eq!(
        built, 0,
        "the remote compiled what this machine's buildcache has"
    );
    assert!(cached > 0);
}

/// The JSON events of one `slurm-factory` run, its stages printed as they
/// would show, and its exit code.
fn cli_events(
    root: &Path,
    vars: &BTreeMap<String, String>,
    label: &str,
    args: &[&str],
) -> (Option<i32>, Vec<serde_json::Value>) {
    let started = std::time::Instant::now();
    let out = slurm_factory_e2e::slurm_factory(root, vars, args);
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for e in events.iter().filter(|e| e["type"] == "stage_finished") {
        eprintln!(
            "  [{label}] {:<16} {:<9} {:>7.1} s  {}",
            e["stage"].as_str().unwrap(),
            e["outcome"].as_str().unwrap(),
            e["elapsed_ms"].as_u64().unwrap() as f64 / 1000.0,
            e["detail"].as_str().unwrap_or("")
        );
    }
    println!(
        "[{label}] exit {:?} in {:.1} s",
        out.status.code(),
        started.elapsed().as_secs_f64()
    );
    (out.status.code(), events)
}

fn stage_event<'a>(events: &'a [serde_json::Value], stage: &str) -> &'a serde_json::Value {
    events
        .iter()
        .find(|e| e["type"] == "stage_finished" && e["stage"] == stage)
        .unwrap_or_else(|| panic!("no {stage} stage in {events:#?}"))
}

/// The log lines of one stage among a run's events.
fn stage_log(events: &[serde_json::Value], stage: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "log" && e["stage"] == stage)
        .map(|e| e["line"].as_str().unwrap().to_string())
        .collect()
}

/// The JSON of a clearsigned Spack manifest.
fn clearsigned_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.starts_with("-----BEGIN PGP SIGNED MESSAGE-----"),
        "{} is not signed",
        path.display()
    );
    let body = text.split_once("\n\n").unwrap().1;
    let body = body.split("-----BEGIN PGP SIGNATURE-----").next().unwrap();
    serde_json::from_str(body).unwrap()
}

/// Step 8: a real GPG key signs what the build publishes to a `file://`
/// buildcache: every binary, then the archives and manifest beside them. A
/// cluster machine (its own empty cache dir, the site's sources) builds the
/// same package from it with the publisher's key trusted: nothing compiled,
/// the package verified. An entry changed after signing, and a buildcache
/// nobody signed, are refused by name. Then the same through a real OCI
/// registry on 127.0.0.1, reached from the build instance by a proxy device,
/// a site's registry with a login and its own CA, and an S3 bucket.
fn publish_and_install_from_it(
    site: &SpackSite,
    root: &Path,
    vars: &BTreeMap<String, String>,
    warm_build: &[&str],
) {
    // The cluster machine: an empty cache dir, not even the sources (an
    // offline build needs none of what the published buildcache holds).
    let cluster_cache = root.join("cluster-cache");
    let mut cluster = vars.clone();
    cluster.insert(
        "SLURM_FACTORY_CACHE_DIR".into(),
        cluster_cache.display().to_string(),
    );
    let published = root.join("published");
    let p = Publishing {
        site,
        root,
        vars,
        warm_build,
        key: slurm_factory_e2e::SigningKey::new(root),
        published_url: format!("file://{}", published.display()),
        published,
        cluster,
        cluster_cache,
    };
    let signed = publish_signed_to_a_directory(&p);
    a_cluster_installs_from_it(&p, signed.entries);
    a_changed_entry_is_refused(&p, &signed.slurm_manifest);
    an_unsigned_buildcache_is_refused(&p);
    if !through_an_oci_registry(&p) {
        return;
    }
    through_a_site_registry_with_a_login(&p, &signed.artifact_id);
    through_an_s3_bucket(&p, &signed.artifact_id);
}

/// What the publishing steps share: the builder and the cluster machine,
/// the publisher's key, the signed `file://` buildcache.
struct Publishing<'a> {
    site: &'a SpackSite,
    root: &'a Path,
    /// The builder's settings.
    vars: &'a BTreeMap<String, String>,
    warm_build: &'a [&'a str],
    key: slurm_factory_e2e::SigningKey,
    published: PathBuf,
    published_url: String,
    /// The cluster machine's settings: its own cache dir.
    cluster: BTreeMap<String, String>,
    cluster_cache: PathBuf,
}

impl Publishing<'_> {
    /// The warm build's arguments and these.
    fn with(&self, extra: &[&str]) -> Vec<String> {
        self.warm_build
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    }

    fn run(
        &self,
        vars: &BTreeMap<String, String>,
        label: &str,
        args: &[String],
    ) -> (Option<i32>, Vec<serde_json::Value>) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli_events(self.root, vars, label, &args)
    }

    fn public(&self) -> String {
        self.key.public.display().to_string()
    }

    /// The secret key's first line of key material: in no log.
    fn secret_line(&self) -> String {
        let text = std::fs::read_to_string(&self.key.secret).unwrap();
        text.lines().nth(3).unwrap().to_string()
    }

    /// The warm build from the signed `file://` buildcache, its key trusted.
    fn build_from_published(&self) -> Vec<String> {
        self.with(&["--from", &self.published_url, "--trust", &self.public()])
    }

    /// The cluster's own binaries gone: what it installs next comes from
    /// the buildcache it is given.
    fn forget_local_binaries(&self) {
        std::fs::remove_dir_all(self.cluster_cache.join("buildcache")).unwrap();
    }
}

/// What the signed publish left.
struct Signed {
    /// How many signed entries the buildcache holds.
    entries: usize,
    slurm_manifest: PathBuf,
    artifact_id: String,
}

/// The build published to a `file://` buildcache and signed: every entry
/// clearsigned, the key beside them, the archives and manifest beside the
/// binaries, the secret in no log; the modules in Lmod's hierarchy.
fn publish_signed_to_a_directory(p: &Publishing) -> Signed {
    let &Publishing {
        site,
        root,
        vars,
        ref key,
        ref published,
        ref published_url,
        ..
    } = p;
    let with = |extra: &[&str]| p.with(extra);
    let run =
        |vars: &BTreeMap<String, String>, label: &str, args: &[String]| p.run(vars, label, args);
    let secret = key.secret.display().to_string();
    let (code, events) = run(
        vars,
        "publish",
        &with(&[
            "--publish",
            published_url,
            "--sign",
            &secret,
            "--modules",
            "hierarchy",
        ]),
    );
    assert_eq!(code, Some(0), "{events:#?}");
    let log = stage_log(&events, "publish");
    println!("---- publish log ----\n{}\n---- end ----", log.join("\n"));
    let detail = stage_event(&events, "publish")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("signed by"), "{detail}");
    let secret_line = p.secret_line();
    let run_log = std::fs::read_to_string(
        Path::new(events[0]["run_dir"].as_str().unwrap()).join("build.log"),
    )
    .unwrap();
    assert!(
        !run_log.contains(&secret_line),
        "the secret key is in the log"
    );
    let manifests: Vec<PathBuf> = files_under(&published.join("v3/manifests/spec"));
    let slurm_manifest = manifests
        .iter()
        .find(|m| m.to_string_lossy().contains("/slurm/"))
        .unwrap_or_else(|| panic!("no slurm entry in {manifests:#?}"))
        .clone();
    let signed = manifests.len();
    println!("published {signed} signed entries");
    assert!(signed >= MINIMAL_CLOSURE, "{manifests:#?}");
    for m in &manifests {
        clearsigned_json(m);
    }
    assert!(
        !files_under(&published.join("v3/manifests/key")).is_empty(),
        "the public key is published with the binaries"
    );
    let artifact_id = events.last().unwrap()["artifact_id"]
        .as_str()
        .unwrap()
        .to_string();
    let beside = published.join("packages").join(&artifact_id);
    for name in ["manifest.json", "manifest.json.asc"] {
        assert!(beside.join(name).is_file(), "{name} beside the buildcache");
    }
    // Its modules are Lmod's hierarchy, and the verify stage loaded Slurm
    // from the hierarchy's Core at the new prefix.
    let shown = slurm_factory_e2e::slurm_factory(
        root,
        vars,
        &["artifacts", "show", &artifact_id, "--json"],
    );
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let module_load = shown["manifest"]["verify"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "module-load")
        .unwrap_or_else(|| panic!("no module-load check: {shown}"))
        .clone();
    assert_eq!(module_load["passed"], true, "{module_load}");
    let verify_log =
        std::fs::read_to_string(Path::new(shown["dir"].as_str().unwrap()).join(VERIFY_LOG))
            .unwrap();
    println!("---- verify log (hierarchy) ----\n{verify_log}---- end ----");
    assert!(
        verify_log.contains(&format!("slurm/{}", site_series(site))),
        "{verify_log}"
    );
    let verify = slurm_factory_e2e::slurm_factory(
        root,
        vars,
        &[
            "artifacts",
            "verify",
            &artifact_id,
            "--key",
            key.public.to_str().unwrap(),
        ],
    );
    println!("{}", String::from_utf8_lossy(&verify.stdout));
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    Signed {
        entries: signed,
        slurm_manifest,
        artifact_id,
    }
}

/// The cluster machine builds the same package from the signed buildcache:
/// every entry checked, nothing compiled, no source needed.
fn a_cluster_installs_from_it(p: &Publishing, signed: usize) {
    // The cluster's own buildcache layer holds unsigned binaries of every
    // spec (what any build may write there): with --trust none installs.
    let builder_layer = p.site.cache_dir.join("buildcache");
    seed_mirror(&builder_layer, &p.cluster_cache.join("buildcache"), None);
    let from_published = p.build_from_published();
    let (code, events) = p.run(&p.cluster, "install from it", &from_published);
    assert_eq!(code, Some(0), "{events:#?}");
    let install_log = stage_log(&events, "install");
    let from_layer: Vec<&String> = install_log
        .iter()
        .filter(|l| l.contains("Fetching file:///opt/slurm-factory/cache/buildcache/"))
        .collect();
    assert!(
        from_layer.is_empty(),
        "unsigned binaries of the layer installed past --trust: {from_layer:#?}"
    );
    let (cached, built) =
        install_counts(stage_event(&events, "install")["detail"].as_str().unwrap());
    println!(
        "from the published buildcache: {cached} of its {signed} entries installed, {built} built"
    );
    assert_eq!(built, 0, "everything came from the published buildcache");
    assert!(cached > 0);
    assert!(
        install_log
            .iter()
            .any(|l| l.starts_with("::buildcache-checked ")),
        "{install_log:#?}"
    );
    let finished = events.last().unwrap();
    assert_eq!(finished["outcome"], "succeeded", "{finished}");
    let sources = stage_event(&events, "sources")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    println!("the cluster's sources: {sources}");
    assert!(sources.starts_with("0 of "), "{sources}");
    // The registries below cannot be looked into from here: with them the
    // cluster has the site's sources.
    seed_mirror(&p.site.mirror, &p.cluster_cache.join("mirror"), None);
}

/// Slurm's archive changed after it was signed: refused, naming the entry.
fn a_changed_entry_is_refused(p: &Publishing, slurm_manifest: &Path) {
    let &Publishing {
        site,
        ref published,
        ref published_url,
        ..
    } = p;
    // Slurm's archive changed after it was signed.
    let tarball = clearsigned_json(slurm_manifest)["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["mediaType"].as_str().unwrap().contains("tar"))
        .unwrap()["checksum"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = published
        .join("blobs/sha256")
        .join(&tarball[..2])
        .join(&tarball);
    let mut bytes = std::fs::read(&blob).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    p.forget_local_binaries();
    let (code, events) = p.run(&p.cluster, "changed entry", &p.build_from_published());
    let report = events.last().unwrap();
    println!("refusal: {}\n  hint: {}", report["error"], report["hint"]);
    assert_eq!(code, Some(5), "{events:#?}");
    let error = report["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("refused the buildcache at {published_url}"))
            && error.contains(&format!("slurm@{}/", site.slurm_version))
            && error.contains("was changed"),
        "{error}"
    );
}

/// A buildcache nobody signed (this machine's own) with a key trusted: refused.
fn an_unsigned_buildcache_is_refused(p: &Publishing) {
    // A buildcache nobody signed (this machine's own) with a key trusted.
    let unsigned = format!("file://{}", p.site.cache_dir.join("buildcache").display());
    let (code, events) = p.run(
        &p.cluster,
        "unsigned",
        &p.with(&["--from", &unsigned, "--trust", &p.public(), "--no-verify"]),
    );
    let report = events.last().unwrap();
    println!("refusal: {}", report["error"]);
    assert_eq!(code, Some(5), "{events:#?}");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("not signed by a trusted key"),
        "{report}"
    );
}

/// An OCI registry: Spack pushes to it over HTTP through the proxy device,
/// and the cluster machine installs from it. `false` where no registry can
/// run here.
fn through_an_oci_registry(p: &Publishing) -> bool {
    let &Publishing {
        vars, ref cluster, ..
    } = p;
    let with = |extra: &[&str]| p.with(extra);
    let run =
        |vars: &BTreeMap<String, String>, label: &str, args: &[String]| p.run(vars, label, args);
    // An OCI registry: Spack pushes to it over HTTP through the proxy
    // device, and the cluster machine installs from it.
    let Some(registry) = slurm_factory_e2e::Registry::start(p.root, None, false) else {
        return false;
    };
    let oci = format!("oci+http://127.0.0.1:{}/site/slurm", registry.port);
    let (code, events) = run(
        vars,
        "push to OCI",
        &with(&["--publish", &oci, "--no-verify"]),
    );
    assert_eq!(code, Some(0), "{events:#?}");
    println!(
        "---- OCI push log ----\n{}\n---- end ----",
        stage_log(&events, "publish").join("\n")
    );
    // The archives and manifest beside the binaries: an artifact tagged
    // with the artifact id, a layer per file named as oras names them.
    let oci_artifact = events.last().unwrap()["artifact_id"].as_str().unwrap();
    let manifest = std::process::Command::new("curl")
        .args([
            "-sSf",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
        ])
        .arg(format!(
            "http://127.0.0.1:{}/v2/site/slurm/manifests/{oci_artifact}",
            registry.port
        ))
        .output()
        .unwrap();
    assert!(
        manifest.status.success(),
        "no artifact {oci_artifact} in the registry"
    );
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.stdout).unwrap();
    let titles: Vec<&str> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l["annotations"]["org.opencontainers.image.title"]
                .as_str()
                .unwrap()
        })
        .collect();
    println!("the registry's {oci_artifact}: {titles:?}");
    assert!(titles.contains(&"manifest.json"), "{manifest}");
    assert!(titles.iter().any(|t| t.ends_with(".tar.zst")), "{manifest}");
    p.forget_local_binaries();
    let (code, events) = run(
        cluster,
        "install from OCI",
        &with(&["--from", &oci, "--from-plain-http", "--no-verify"]),
    );
    assert_eq!(code, Some(0), "{events:#?}");
    let (cached, built) =
        install_counts(stage_event(&events, "install")["detail"].as_str().unwrap());
    println!("from the registry: {cached} installed, {built} built");
    assert_eq!(built, 0, "everything came from the registry");
    assert!(cached > 0);

    true
}

/// A site's registry: HTTPS with a certificate of the site's CA, and a
/// login. The stored artifact is published again, its dependencies only,
/// and the cluster installs them from there with the login.
fn through_a_site_registry_with_a_login(p: &Publishing, artifact_id: &str) {
    let &Publishing {
        root,
        vars,
        ref cluster,
        ref cluster_cache,
        ..
    } = p;
    let with = |extra: &[&str]| p.with(extra);
    let run =
        |vars: &BTreeMap<String, String>, label: &str, args: &[String]| p.run(vars, label, args);
    // A site's registry: HTTPS with a certificate of the site's CA, and a
    // login. The stored artifact is published again (`publish ID`, its
    // environment installed from the buildcache), its dependencies only:
    // refused without the login, pushed with it, the password in no log.
    let password = "s3cret-Pa55word";
    // HTTPS with the site's own CA: Spack 1.1 sends a login over plain HTTP
    // only after a 401, which an upload's body does not survive.
    let locked =
        slurm_factory_e2e::Registry::start(p.root, Some(("builder", password)), true).unwrap();
    let locked_url = format!("oci://127.0.0.1:{}/site/slurm-deps", locked.port);
    let ca = locked.ca.clone().unwrap().display().to_string();
    let publish_again = |extra: &[&str]| -> Vec<String> {
        [
            "publish",
            artifact_id,
            "--to",
            locked_url.as_str(),
            "--offline",
            "--buildcache",
            "deps",
            "--registry-ca",
            ca.as_str(),
            "--json",
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
    };
    let (code, events) = run(vars, "no login", &publish_again(&[]));
    assert_eq!(code, Some(5), "{events:#?}");
    let report = events.last().unwrap();
    println!("without the login: {}", report["error"]);
    assert_eq!(stage_event(&events, "publish")["outcome"], "failed");
    let login = root.join("registry-login");
    std::fs::write(&login, format!("username=builder\npassword={password}\n")).unwrap();
    let (code, events) = run(
        vars,
        "with login",
        &publish_again(&["--credentials", login.to_str().unwrap()]),
    );
    assert_eq!(code, Some(0), "{events:#?}");
    let log = stage_log(&events, "publish");
    println!(
        "---- publish with a login ----\n{}\n---- end ----",
        log.join("\n")
    );
    let (install_cached, install_built) =
        install_counts(stage_event(&events, "install")["detail"].as_str().unwrap());
    assert_eq!(
        install_built, 0,
        "publish installs from the buildcache ({install_cached})"
    );
    assert!(log.iter().any(|l| l.contains("Pushed")), "{log:#?}");
    assert!(
        !log.iter().any(|l| l.contains("Pushed slurm@")),
        "--buildcache deps pushed Slurm: {log:#?}"
    );
    let no_password_in = |events: &[serde_json::Value]| {
        for e in events {
            assert!(!e.to_string().contains(password), "the password is in {e}");
        }
        let run_dir = Path::new(events[0]["run_dir"].as_str().unwrap());
        for file in files_under(run_dir) {
            let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
            assert!(
                !text.contains(password),
                "the password is in {}",
                file.display()
            );
        }
    };
    no_password_in(&events);

    // The cluster machine installs from that registry with the login and the
    // CA: its local buildcache forgets what the registry holds (Slurm and
    // munge, not published there, stay), so those come from the registry.
    let pushed: Vec<String> = log
        .iter()
        .filter_map(|l| l.split("] Pushed ").nth(1))
        .filter_map(|spec| spec.split('@').next())
        .map(String::from)
        .collect();
    // `--buildcache deps`: the closure less Slurm and munge.
    assert!(pushed.len() >= MINIMAL_CLOSURE - 2, "{log:#?}");
    let local = cluster_cache.join("buildcache");
    let forgotten: usize = pushed
        .iter()
        .map(|name| forget_binaries(&local, name))
        .sum();
    assert_eq!(
        forgotten,
        pushed.len(),
        "each pushed spec was in the local buildcache"
    );
    // Without the login Spack would skip the registry and compile it all:
    // the build stops before the install, naming the registry.
    let (code, events) = run(
        cluster,
        "install without the login",
        &with(&[
            "--from",
            &locked_url,
            "--from-registry-ca",
            &ca,
            "--no-verify",
        ]),
    );
    let report = events.last().unwrap();
    println!(
        "without the login: {}\n  hint: {}",
        report["error"], report["hint"]
    );
    assert_eq!(code, Some(5), "{events:#?}");
    let error = report["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("cannot read the buildcache at {locked_url}"))
            && error.contains("401"),
        "{error}"
    );
    assert!(
        report["hint"]
            .as_str()
            .unwrap()
            .contains("--from-credentials"),
        "{report}"
    );
    assert_eq!(stage_event(&events, "install")["outcome"], "failed");
    let install_log = stage_log(&events, "install");
    assert!(
        !install_log.iter().any(|l| l.contains("Installing")),
        "nothing installed or compiled before the stop: {install_log:#?}"
    );
    let (code, events) = run(
        cluster,
        "install with a login",
        &with(&[
            "--from",
            &locked_url,
            "--from-credentials",
            login.to_str().unwrap(),
            "--from-registry-ca",
            &ca,
            "--no-verify",
        ]),
    );
    assert_eq!(code, Some(0), "{events:#?}");
    let (cached, built) =
        install_counts(stage_event(&events, "install")["detail"].as_str().unwrap());
    println!(
        "with a login: {cached} installed ({} from the registry), {built} built",
        pushed.len()
    );
    assert_eq!(
        built, 0,
        "the registry's entries were installed, not compiled"
    );
    no_password_in(&events);
}

/// An S3 bucket at a site's endpoint: published to with the key, installed
/// from with it, the secret in no log.
fn through_an_s3_bucket(p: &Publishing, artifact_id: &str) {
    let &Publishing {
        root,
        vars,
        ref cluster,
        ..
    } = p;
    let with = |extra: &[&str]| p.with(extra);
    let run =
        |vars: &BTreeMap<String, String>, label: &str, args: &[String]| p.run(vars, label, args);
    let secret = p.key.secret.display().to_string();
    let secret_line = p.secret_line();
    let public = p.public();
    // An S3 bucket (moto's server, access control on) at a site's endpoint:
    // `publish ID` with a wrong secret is refused; with the right key the
    // signed buildcache and the signed archives land in the bucket, the
    // secret in no log.
    let Some(s3) = slurm_factory_e2e::S3Store::start(p.root) else {
        return;
    };
    let bucket_url = format!("s3://{}/slurm", s3.bucket);
    let aws = root.join("aws-credentials");
    let publish_to_s3 = || -> Vec<String> {
        [
            "publish",
            artifact_id,
            "--to",
            bucket_url.as_str(),
            "--s3-endpoint",
            s3.endpoint.as_str(),
            "--credentials",
            aws.to_str().unwrap(),
            "--sign",
            secret.as_str(),
            "--offline",
            "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    std::fs::write(&aws, s3.credentials_file("not-the-secret")).unwrap();
    let (code, events) = run(vars, "S3 wrong secret", &publish_to_s3());
    let report = events.last().unwrap();
    println!("S3 with a wrong secret: {}", report["error"]);
    assert_eq!(code, Some(5), "{events:#?}");
    assert_eq!(stage_event(&events, "publish")["outcome"], "failed");
    assert!(
        stage_log(&events, "publish")
            .iter()
            .any(|l| l.contains("SignatureDoesNotMatch")),
        "{:#?}",
        stage_log(&events, "publish")
    );
    assert!(s3.keys().is_empty(), "{:?}", s3.keys());
    std::fs::write(&aws, s3.credentials_file(&s3.secret)).unwrap();
    let (code, events) = run(vars, "S3", &publish_to_s3());
    assert_eq!(code, Some(0), "{events:#?}");
    let log = stage_log(&events, "publish");
    println!(
        "---- S3 publish log ----\n{}\n---- end ----",
        log.join("\n")
    );
    let keys = s3.keys();
    let spec_manifests: Vec<&String> = keys
        .iter()
        .filter(|k| k.starts_with("slurm/v3/manifests/spec/"))
        .collect();
    println!(
        "the bucket holds {} objects, {} signed entries",
        keys.len(),
        spec_manifests.len()
    );
    assert!(spec_manifests.len() >= MINIMAL_CLOSURE, "{keys:#?}");
    assert!(
        keys.iter()
            .any(|k| k.starts_with("slurm/v3/manifests/key/")),
        "the public key is published with the binaries: {keys:#?}"
    );
    for name in ["manifest.json", "manifest.json.asc"] {
        let key = format!("slurm/packages/{artifact_id}/{name}");
        assert!(keys.contains(&key), "no {key}: {keys:#?}");
    }
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("slurm/packages/{artifact_id}/"))
                && k.ends_with(".tar.zst.asc")),
        "{keys:#?}"
    );
    let secret_key_in = |events: &[serde_json::Value], what: &str| {
        let run_dir = Path::new(events[0]["run_dir"].as_str().unwrap());
        for file in files_under(run_dir) {
            let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
            assert!(!text.contains(what), "the secret is in {}", file.display());
        }
        for e in events {
            assert!(!e.to_string().contains(what), "the secret is in {e}");
        }
    };
    secret_key_in(&events, &s3.secret);
    secret_key_in(&events, &secret_line);

    // The cluster installs from the bucket: without the key the build stops
    // before the install; with it (and the publisher's key trusted) every
    // signed entry is checked and installed, nothing compiled.
    let from_bucket = |extra: &[&str]| {
        let mut args = vec![
            "--from",
            bucket_url.as_str(),
            "--from-s3-endpoint",
            s3.endpoint.as_str(),
            "--trust",
            public.as_str(),
            "--no-verify",
        ];
        args.extend_from_slice(extra);
        with(&args)
    };
    let (code, events) = run(cluster, "S3 install without the key", &from_bucket(&[]));
    let report = events.last().unwrap();
    println!("from the bucket without the key: {}", report["error"]);
    assert_eq!(code, Some(5), "{events:#?}");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .starts_with(&format!("cannot read the buildcache at {bucket_url}")),
        "{report}"
    );
    p.forget_local_binaries();
    let (code, events) = run(
        cluster,
        "S3 install",
        &from_bucket(&["--from-credentials", aws.to_str().unwrap()]),
    );
    assert_eq!(code, Some(0), "{events:#?}");
    let (cached, built) =
        install_counts(stage_event(&events, "install")["detail"].as_str().unwrap());
    println!("from the bucket: {cached} installed, {built} built");
    assert_eq!(built, 0, "everything came from the bucket");
    assert!(cached > 0);
    let install_log = stage_log(&events, "install");
    assert!(
        install_log
            .iter()
            .any(|l| l.starts_with(&format!("::buildcache-checked {bucket_url}"))),
        "{install_log:#?}"
    );
    secret_key_in(&events, &s3.secret);
}

/// The air-gapped workflow for real, with no network: Spack's "upstream" is
/// a local directory mirror (the site's Debian sources), as a site's shared
/// mirror would be.
///
/// A. The connected machine (an empty mirror layer): `mirror check` finds
///    every source missing (but upstream); `mirror create` fills the layer
///    through `spack mirror create`, snapshots Spack, spack-packages and the
///    wheels and names them in the config file; `mirror export` bundles that.
/// B. The air-gapped machine (nothing but the images): `mirror import`, then
///    `mirror check` finds everything; a tarball removed is named.
#[tokio::test(flavor = "multi_thread")]
async fn air_gapped_site_from_mirror_create_to_mirror_check_after_import() {
    let Some(site) = SpackSite::from_env("air_gapped_site_round_trip") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // A: the site's trees, a fresh cache, the site's sources as the upstream mirror.
    let a = tmp.path().join("connected");
    let mut vars = build_vars(&site, &a);
    vars.insert(
        "SLURM_FACTORY_CACHE_DIR".into(),
        a.join("cache").display().to_string(),
    );
    vars.insert(
        "SLURM_FACTORY_UPSTREAM_MIRROR".into(),
        site.mirror.display().to_string(),
    );
    let settings = load_settings(&a, &vars);
    let config = PathBuf::from(&vars["SLURM_FACTORY_CONFIG"]);

    let before = mirror_check(&settings, &site, "A: check").await;
    // Its sources: the closure less gcc-runtime and compiler-wrapper.
    assert!(
        before.needed as usize >= MINIMAL_CLOSURE - 2,
        "the minimal closure: {before:#?}"
    );
    assert_eq!(before.present, 0, "an empty mirror layer");
    assert!(
        before.missing.iter().all(|m| m.upstream),
        "the upstream mirror has every source: {before:#?}"
    );

    let stages: Stages = Arc::default();
    let created = pipeline::mirror_create(
        &settings,
        BuildOptions {
            request: request(&site, &settings),
            flags: BuildFlags {
                offline: true,
                verify: false,
                ..BuildFlags::default()
            },
        },
        &config,
        sink("A: create", &stages),
        CancellationToken::new(),
    )
    .await
    .unwrap_or_else(|e| panic!("mirror create failed: {e}\n  hint: {}", e.hint()));
    let sources = &created.sources;
    assert!(sources.missing.is_empty(), "{sources:#?}");
    assert_eq!(sources.present, before.needed);
    let trees = created.offline.expect("mirror create snapshots the trees");
    assert!(trees.spack_root.join("bin/spack").is_file());
    assert!(trees
        .spack_packages_root
        .join("repos/spack_repo/builtin/repo.yaml")
        .is_file());
    assert!(
        std::fs::read_dir(&trees.wheels_dir)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("clingo-")),
        "the clingo wheels came along"
    );
    assert!(!trees.spack_root.join(".git").exists());
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(
        written.contains(&trees.spack_root.display().to_string()),
        "the config file names the snapshot:\n{written}"
    );

    // The bundle from the snapshot the config file names (the site's own
    // trees, named by variables above, are left out of these settings).
    let from_file: BTreeMap<String, String> = vars
        .iter()
        .filter(|(k, _)| {
            !["SPACK_ROOT", "SPACK_PACKAGES_ROOT", "WHEELS_DIR"]
                .iter()
                .any(|t| **k == format!("SLURM_FACTORY_{t}"))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let settings = load_settings(&a, &from_file);
    assert_eq!(settings.spack_root.as_ref(), Some(&trees.spack_root));
    let bundle = tmp.path().join("site.tar.zst");
    let exported = factory::caches::mirror::export(&settings, &bundle, false, None).unwrap();
    let files: u64 = exported.manifest.parts.iter().map(|p| p.files).sum();
    println!(
        "bundle: {} files, {} ({})",
        files,
        mib(exported.bytes),
        exported
            .manifest
            .parts
            .iter()
            .map(|p| format!("{} {} files", p.name, p.files))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // B: no trees, no sources, no upstream; only the images.
    let b = tmp.path().join("air-gapped");
    let mut vars_b: BTreeMap<String, String> = BTreeMap::from([
        ("IMAGE", site.build_image.clone()),
        ("VERIFY_IMAGE", site.bare_image.clone()),
        ("STORAGE_POOL", site.pool.clone()),
        ("DATA_DIR", b.join("data").display().to_string()),
        ("CACHE_DIR", b.join("cache").display().to_string()),
        ("TEMPLATES_DIR", vars["SLURM_FACTORY_TEMPLATES_DIR"].clone()),
        ("MIN_FREE_DISK_MIB", "2048".into()),
        ("CONFIG", b.join("config.toml").display().to_string()),
    ])
    .into_iter()
    .map(|(k, v)| (format!("SLURM_FACTORY_{k}"), v))
    .collect();
    if let Some(project) = vars.get("SLURM_FACTORY_LXD_PROJECT") {
        vars_b.insert("SLURM_FACTORY_LXD_PROJECT".into(), project.clone());
    }
    let settings_b = load_settings(&b, &vars_b);
    factory::caches::mirror::import(&settings_b, &bundle, &b.join("config.toml"), None).unwrap();
    let settings_b = load_settings(&b, &vars_b);
    let after = mirror_check(&settings_b, &site, "B: check after import").await;
    assert!(after.missing.is_empty(), "{after:#?}");
    assert_eq!(after.needed, before.needed);

    // A tarball goes missing: named, with the file to put back, and it would stop a build.
    let slurm = files_under(&settings_b.cache_dir.join("mirror"))
        .into_iter()
        .filter(|p| {
            p.to_string_lossy()
                .contains(&format!("slurm-{}", site.slurm_version))
                || p.to_string_lossy().contains(&site.slurm_sha256)
        })
        .collect::<Vec<_>>();
    assert!(!slurm.is_empty());
    for p in &slurm {
        std::fs::remove_file(p).unwrap();
    }
    let removed = mirror_check(&settings_b, &site, "B: a tarball removed").await;
    let blocking: Vec<&str> = removed
        .blocking()
        .iter()
        .map(|m| m.package.as_str())
        .collect();
    assert_eq!(blocking, [format!("slurm@{}", site.slurm_version)]);
}

/// The product's Spack repo overlay, read by the real Spack the builds use:
/// for each release of the catalogue (the site's included), the recipe
/// rendered for it gives Spack that version with the catalogue's checksum,
/// and the variant the newer releases brought. A catalogue entry Spack cannot
/// build fails here, not in a build's concretize stage.
#[test]
fn overlay_repo_gives_spack_every_catalogued_release() {
    let Some(site) = SpackSite::from_env("overlay_repo_gives_spack_every_catalogued_release")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let settings = load_settings(root, &build_vars(&site, root));
    let templates = factory::recipe::Templates::load(settings.templates_dir.as_deref()).unwrap();
    let catalog = factory::request::catalog::Catalog::load(
        settings.templates_dir.as_deref(),
        factory::request::catalog::today(),
    )
    .unwrap();
    // What the real Spack makes of the repos: the class, every version's
    // checksum, the variants.
    let query = root.join("query.py");
    std::fs::write(
        &query,
        "import spack.repo\n\
         cls = spack.repo.PATH.get_pkg_class('slurm')\n\
         print('namespace', cls.namespace)\n\
         for v, info in cls.versions.items():\n    print('version', v, info.get('sha256', '-'))\n\
         for name in sorted(cls.variant_names()):\n    print('variant', name)\n",
    )
    .unwrap();
    let mut seen = Vec::new();
    for release in catalog.releases() {
        let request = BuildRequest {
            slurm_version: release.slurm.clone(),
            minimal: true,
            target: Some(TARGET.into()),
            ..Default::default()
        }
        .resolve(&Defaults {
            target: TARGET.into(),
            jobs: 2,
            gpu: None,
            toolchain: None,
            catalog: Arc::new(catalog.clone()),
        })
        .unwrap();
        let recipe = root.join(format!("recipe-{}", release.spack));
        templates
            .render(&factory::recipe::RecipeContext::new(
                &request, &settings, true,
            ))
            .unwrap()
            .write_to(&recipe)
            .unwrap();
        // The rendered repos.yaml names the container's paths; the same repos here.
        let config = root.join(format!("spack-config-{}", release.spack));
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(
            config.join("repos.yaml"),
            format!(
                "repos:\n  slurm_factory: {}\n  builtin: {}\n",
                recipe.join("spack-repo/spack_repo/slurm_factory").display(),
                site.spack_packages_root
                    .join("repos/spack_repo/builtin")
                    .display()
            ),
        )
        .unwrap();
        let out = Command::new(site.spack_root.join("bin/spack"))
            .arg("-C")
            .arg(&config)
            .arg("python")
            .arg(&query)
            .env("SPACK_DISABLE_LOCAL_CONFIG", "1")
            .env("SPACK_USER_CACHE_PATH", root.join("spack-user-cache"))
            .output()
            .unwrap();
        let info = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "spack python failed:\n{info}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<Vec<&str>> = info
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert!(
            lines.contains(&vec!["namespace", "slurm_factory"]),
            "slurm comes from the overlay:\n{info}"
        );
        let checksum = lines
            .iter()
            .find(|l| l.len() == 3 && l[0] == "version" && l[1] == release.spack)
            .map(|l| l[2]);
        assert_eq!(
            checksum,
            Some(release.sha256.as_str()),
            "Spack's slurm@{} for Slurm {} ({}):\n{info}",
            release.spack,
            release.slurm,
            release.file
        );
        assert!(
            lines.contains(&vec!["variant", "multiple_slurmd"]),
            "{info}"
        );
        seen.push(format!("slurm@{} sha256 {}", release.spack, release.sha256));
    }
    assert!(
        seen.iter().any(|s| s.contains(&site.slurm_version)),
        "the site's release is in the catalogue: {seen:#?}"
    );
    println!("{}", seen.join("\n"));
}
