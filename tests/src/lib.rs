//! Helpers shared by the end-to-end tests (tests/*.rs here and the CLI's
//! build tests): the LXD test environment and settings pointed at a temp
//! dir here; the test recipe's variants (recipes.rs), the built binary
//! (cli.rs) and the real servers the tests start (servers.rs).

use std::path::{Path, PathBuf};

mod cli;
mod recipes;
mod servers;

pub use cli::*;
pub use recipes::*;
pub use servers::*;

use factory::request::{BuildRequest, Defaults, ResolvedRequest};
use factory::settings::{Settings, XdgDirs};

/// The target every test build uses (what the recipe builds does not depend on it).
pub const TARGET: &str = "x86_64_v3";

/// The artifact name of a minimal build of the default Slurm release for [`TARGET`].
pub const ARTIFACT_NAME: &str = "slurm-26.05-minimal-x86_64_v3";

/// A test variable, when set and not empty.
pub fn test_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Set by scripts/test.sh (CI): a real-LXD test whose setup is missing fails
/// instead of skipping.
pub const REQUIRE_LXD: &str = "SLURM_FACTORY_REQUIRE_LXD";

/// The values of `names`, all set and not empty; `None` otherwise, after a
/// loud SKIPPED line that tells how to set them (`advice`). Under
/// [`REQUIRE_LXD`] a missing value fails the test instead.
pub fn test_vars<const N: usize>(
    test: &str,
    names: [&str; N],
    advice: &str,
) -> Option<[String; N]> {
    let values: Option<Vec<String>> = names.iter().map(|n| test_var(n)).collect();
    match values {
        Some(v) => {
            require_live_daemon(test);
            Some(v.try_into().expect("one value per name"))
        }
        None => {
            let missing: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| test_var(n).is_none())
                .collect();
            assert!(
                std::env::var_os(REQUIRE_LXD).is_none(),
                "{test}: {} not set, and {REQUIRE_LXD} is: {advice}",
                missing.join(", ")
            );
            eprintln!("\n*** SKIPPED {test}: {advice} ***\n");
            None
        }
    }
}

/// Where the CI's LXD daemon writes its log (`.ci/setup-lxd.sh` sets it when
/// it starts the daemon itself, with no systemd to keep a journal).
const LXD_LOG: &str = "SLURM_FACTORY_TEST_LXD_LOG";

/// Under [`REQUIRE_LXD`], the LXD daemon the setup started must still answer.
/// When it has died, every test after it fails the same short way, naming the
/// daemon, so a dead daemon reads as one fault and not as dozens of unrelated
/// ones (scripts/test.sh then tells once when it died and what its log said).
fn require_live_daemon(test: &str) {
    if std::env::var_os(REQUIRE_LXD).is_none() {
        return;
    }
    let answered = std::process::Command::new("lxc")
        .args(["query", "/1.0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let log = test_var(LXD_LOG).unwrap_or_else(|| "journalctl -u lxd".into());
    assert!(
        answered,
        "{test}: the LXD daemon does not answer (`lxc query /1.0` failed); it answered when the \
         tests started, so it died during the run: see the end of the run and {log}"
    );
}

/// The offline Spack site `.ci/spack-site.sh` prepares and the images the
/// real-Spack builds run on (`.ci/setup-lxd.sh` writes their variables).
pub struct SpackSite {
    /// A build image holding what provision.sh would install with apt.
    pub build_image: String,
    /// A target system with none of Slurm's dependencies (no munge, no zstd).
    pub bare_image: String,
    pub pool: String,
    /// Cache layers kept between runs (buildcache, ccache, mirror, locks).
    pub cache_dir: PathBuf,
    pub spack_root: PathBuf,
    pub spack_packages_root: PathBuf,
    pub wheels_dir: PathBuf,
    /// Debian's sources in Spack's mirror layout.
    pub mirror: PathBuf,
    /// The Slurm release the mirror holds (`24-11-5-1`), newer than any
    /// version spack-packages knows, and its tarball's sha256: the test adds
    /// it to the product's overlay repo as a site would.
    pub slurm_version: String,
    pub slurm_sha256: String,
}

impl SpackSite {
    pub fn from_env(test: &str) -> Option<SpackSite> {
        let [build_image, bare_image, pool, cache, spack, packages, wheels, mirror, slurm_version, slurm_sha256] =
            test_vars(
                test,
                [
                    "SLURM_FACTORY_TEST_SPACK_IMAGE",
                    "SLURM_FACTORY_TEST_BARE_IMAGE",
                    "SLURM_FACTORY_TEST_POOL",
                    "SLURM_FACTORY_TEST_CACHE",
                    "SLURM_FACTORY_TEST_SPACK_ROOT",
                    "SLURM_FACTORY_TEST_SPACK_PACKAGES_ROOT",
                    "SLURM_FACTORY_TEST_SPACK_WHEELS",
                    "SLURM_FACTORY_TEST_SPACK_MIRROR",
                    "SLURM_FACTORY_TEST_SPACK_SLURM",
                    "SLURM_FACTORY_TEST_SPACK_SLURM_SHA256",
                ],
                "no offline Spack site. Run .ci/setup-lxd.sh (as root) and \
             `export $(cat ~/.cache/slurm-factory-ci/env)`",
            )?;
        Some(SpackSite {
            build_image,
            bare_image,
            pool,
            cache_dir: cache.into(),
            spack_root: spack.into(),
            spack_packages_root: packages.into(),
            wheels_dir: wheels.into(),
            mirror: mirror.into(),
            slurm_version,
            slurm_sha256,
        })
    }
}

/// The images and pool `.ci/setup-lxd.sh` prepares.
pub struct TestEnv {
    pub image: String,
    pub plain_image: String,
    pub pool: String,
}

impl TestEnv {
    /// From SLURM_FACTORY_TEST_IMAGE, SLURM_FACTORY_TEST_PLAIN_IMAGE and
    /// SLURM_FACTORY_TEST_POOL; `None` (after a loud SKIPPED line) when unset.
    pub fn from_env(test: &str) -> Option<TestEnv> {
        let [image, plain_image, pool] = test_vars(
            test,
            [
                "SLURM_FACTORY_TEST_IMAGE",
                "SLURM_FACTORY_TEST_PLAIN_IMAGE",
                "SLURM_FACTORY_TEST_POOL",
            ],
            "run .ci/setup-lxd.sh (as root) and set SLURM_FACTORY_TEST_IMAGE, \
             SLURM_FACTORY_TEST_PLAIN_IMAGE and SLURM_FACTORY_TEST_POOL \
             (see ~/.cache/slurm-factory-ci/env)",
        )?;
        Some(TestEnv {
            image,
            plain_image,
            pool,
        })
    }

    /// Settings as a user would have them, with data and cache under `root`.
    pub fn settings(&self, root: &Path, templates: &Path) -> Settings {
        let mut s = settings_under(root);
        s.image = self.image.clone();
        s.verify_image = self.plain_image.clone();
        s.storage_pool = self.pool.clone();
        s.templates_dir = Some(templates.to_path_buf());
        s
    }

    /// The same settings as `SLURM_FACTORY_*` variables, for the CLI.
    pub fn cli_env(&self, root: &Path, templates: &Path) -> Vec<(String, String)> {
        let s = self.settings(root, templates);
        let path = |p: &Path| p.display().to_string();
        [
            ("IMAGE", s.image.clone()),
            ("VERIFY_IMAGE", s.verify_image.clone()),
            ("STORAGE_POOL", s.storage_pool.clone()),
            ("TEMPLATES_DIR", path(templates)),
            ("DATA_DIR", path(&s.data_dir)),
            ("CACHE_DIR", path(&s.cache_dir)),
            ("MIN_FREE_DISK_MIB", s.min_free_disk_mib.to_string()),
            // No config file of the user's leaks in.
            ("CONFIG", path(&root.join("config.toml"))),
        ]
        .into_iter()
        .map(|(k, v)| (format!("SLURM_FACTORY_{k}"), v))
        .collect()
    }
}

/// Default settings with every directory under `root`.
pub fn settings_under(root: &Path) -> Settings {
    let mut s = Settings::defaults(&XdgDirs {
        config: root.join("config"),
        data: root.join("data"),
        cache: root.join("cache"),
    });
    s.min_free_disk_mib = 512;
    s
}

/// The request of every test build: `--minimal --target x86_64_v3 --jobs 2`.
pub fn request() -> ResolvedRequest {
    BuildRequest {
        minimal: true,
        target: Some(TARGET.into()),
        jobs: Some(2),
        ..Default::default()
    }
    .resolve(&Defaults {
        target: TARGET.into(),
        jobs: 2,
        gpu: None,
        toolchain: None,
        catalog: factory::request::catalog::Catalog::builtin(),
    })
    .expect("the test request is valid")
}

/// Entries of the artifact store, hidden `.incoming-*` ones included.
pub fn store_entries(settings: &Settings) -> Vec<String> {
    match std::fs::read_dir(settings.artifacts_dir()) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Names of the LXD instances labelled with `run_id`.
pub async fn instances_of_run(settings: &Settings, run_id: &str) -> Vec<String> {
    settings
        .lxc()
        .instances()
        .await
        .expect("listing LXD instances")
        .into_iter()
        .filter(|i| {
            i.user
                .get(factory::store::runs::RUN_LABEL)
                .map(String::as_str)
                == Some(run_id)
        })
        .map(|i| i.name)
        .collect()
}
