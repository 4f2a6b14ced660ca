//! Helpers shared by the end-to-end tests (tests/*.rs here and the CLI's
//! build tests): the LXD test environment, settings pointed at a temp dir,
//! and variants of the test recipe in tests/recipes/hello.

use std::path::{Path, PathBuf};

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
        catalog: factory::catalog::Catalog::builtin(),
    })
    .expect("the test request is valid")
}

/// tests/recipes/hello.
pub fn hello_recipe() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/hello")
}

/// A copy of the hello recipe under `root` with `replacements` (path, text) written over it.
pub fn recipe_variant(root: &Path, replacements: &[(&str, &str)]) -> PathBuf {
    let dir = root.join("recipe");
    copy_tree(&hello_recipe(), &dir);
    for (path, text) in replacements {
        std::fs::write(dir.join(path), text).expect("writing a recipe file");
    }
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating a recipe dir");
    for entry in std::fs::read_dir(from).expect("reading the hello recipe") {
        let entry = entry.expect("reading the hello recipe");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).expect("copying a recipe file");
        }
    }
}

/// The hello recipe with an install stage that says it started and then
/// takes five minutes: something to cancel.
pub fn slow_install_recipe(root: &Path) -> PathBuf {
    recipe_variant(
        root,
        &[(
            "scripts/install.sh.j2",
            "#!/usr/bin/env bash\n# Cancel test: an install that takes five minutes.\n\
             echo '::progress 0 1 waiting'\nsleep 300\n",
        )],
    )
}

/// The hello recipe with a package stage that relocates as the built-in one
/// does and then puts bin/hello's RPATH back into the build prefix: the
/// package must fail verification.
pub fn absolute_rpath_recipe(root: &Path) -> PathBuf {
    recipe_variant(
        root,
        &[(
            "scripts/package.sh.j2",
            r#"#!/usr/bin/env bash
# Negative test: relocate as the built-in package.sh does, then undo it for bin/hello.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dest=${!#}
bash "$here/relocate.sh" "$@"
patchelf --set-rpath /opt/slurm-factory/store/greet-1.0/lib "$dest/bin/hello"
"#,
        )],
    )
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
        .filter(|i| i.user.get(factory::runs::RUN_LABEL).map(String::as_str) == Some(run_id))
        .map(|i| i.name)
        .collect()
}

/// An executable `lxc` wrapper in `dir` that talks to a daemon that is not
/// there (an empty LXD_DIR): LXD as it is when its daemon is stopped.
pub fn lxc_without_daemon(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let lxd_dir = dir.join("no-daemon");
    std::fs::create_dir_all(&lxd_dir).expect("creating an empty LXD_DIR");
    let wrapper = dir.join("lxc");
    // The daemon dir is found next to the script: no path is spliced into shell text.
    std::fs::write(
        &wrapper,
        "#!/bin/sh\nLXD_DIR=\"$(dirname \"$0\")/no-daemon\" exec lxc \"$@\"\n",
    )
    .expect("writing the lxc wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
        .expect("making the wrapper executable");
    wrapper
}

/// `slurm-factory ARGS` as a user whose home is `home` runs it: nothing of
/// this environment leaks in but PATH, the XDG dirs are the usual ones under
/// `home`, and `vars` (`SLURM_FACTORY_*` settings) come on top.
pub fn slurm_factory<K, V>(
    home: &Path,
    vars: impl IntoIterator<Item = (K, V)>,
    args: &[&str],
) -> std::process::Output
where
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    let bin = built_binary("slurm-factory");
    assert!(
        bin.is_file(),
        "{} is missing: cargo build -p slurm-factory-cli",
        bin.display()
    );
    slurm_factory_command(home, vars)
        .args(args)
        .output()
        .expect("running slurm-factory")
}

/// `slurm-factory` with a clean environment: `home` as its home and XDG
/// dirs, no colour, and `vars` (`SLURM_FACTORY_*` settings).
pub fn slurm_factory_command<K, V>(
    home: &Path,
    vars: impl IntoIterator<Item = (K, V)>,
) -> std::process::Command
where
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    let mut command = std::process::Command::new(built_binary("slurm-factory"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("NO_COLOR", "1")
        .envs(vars);
    command
}

/// A binary of this workspace's build, beside the running test's own
/// (`target/debug/deps/<test>` → `target/debug/<name>`), wherever
/// CARGO_TARGET_DIR puts it.
pub fn built_binary(name: &str) -> PathBuf {
    std::env::current_exe()
        .expect("the test binary's path")
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/debug/deps")
        .join(name)
}

/// The second LXD server `.ci/setup-lxd.sh` starts (`.ci/lxd-remote.sh`),
/// trusted by this machine's client as a remote (`sf-remote`).
pub struct RemoteServer {
    pub name: String,
    /// The client config that knows it, for a CLI or app given a home of
    /// its own.
    pub lxd_conf: String,
}

impl RemoteServer {
    /// From SLURM_FACTORY_TEST_REMOTE; `None` (after a loud SKIPPED line) when unset.
    pub fn from_env(test: &str) -> Option<RemoteServer> {
        let [name] = test_vars(
            test,
            ["SLURM_FACTORY_TEST_REMOTE"],
            "no second LXD server: run .ci/setup-lxd.sh (as root; it runs .ci/lxd-remote.sh) \
             and set SLURM_FACTORY_TEST_REMOTE (see ~/.cache/slurm-factory-ci/env)",
        )?;
        let lxd_conf = std::env::var("LXD_CONF").unwrap_or_else(|_| {
            format!("{}/.config/lxc", std::env::var("HOME").unwrap_or_default())
        });
        Some(RemoteServer { name, lxd_conf })
    }

    /// One test at a time uses it, across test binaries too (scripts/test.sh
    /// runs the real Spack test beside the others): one of them shuts it
    /// down. Held until dropped.
    pub fn turn(&self) -> std::fs::File {
        let path = std::env::temp_dir().join("slurm-factory-e2e-remote.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .expect("opening the remote server's lock file");
        lock.lock().expect("waiting for the remote server");
        lock
    }

    /// `.ci/lxd-remote.sh start` or `stop`.
    pub fn control(&self, action: &str) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/lxd-remote.sh");
        let status = std::process::Command::new("bash")
            .arg(script)
            .arg(action)
            .status()
            .expect("running lxd-remote.sh");
        assert!(status.success(), "lxd-remote.sh {action}");
    }

    /// `lxc ARGS` with the client config that knows the remote.
    pub fn lxc(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("lxc")
            .env("LXD_CONF", &self.lxd_conf)
            .args(args)
            .output()
            .expect("running lxc")
    }

    /// The names of the instances on it.
    pub fn instances(&self) -> Vec<String> {
        let out = self.lxc(&[
            "list",
            &format!("{}:", self.name),
            "--format",
            "csv",
            "-c",
            "n",
        ]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }
}

impl RemoteServer {
    /// The custom volumes in `pool` on it.
    pub fn volumes(&self, pool: &str) -> Vec<String> {
        let out = self.lxc(&[
            "storage",
            "volume",
            "list",
            &format!("{}:{pool}", self.name),
            "--format",
            "csv",
            "-c",
            "tn",
        ]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("custom,"))
            .map(String::from)
            .collect()
    }

    /// `slurm-factory cache clean` of the layers a remote server replicates,
    /// with the CLI's `vars` (which name this server among `remotes`): the
    /// replicas go with the layers.
    pub fn clean_replicas<K, V>(&self, home: &Path, vars: impl IntoIterator<Item = (K, V)> + Clone)
    where
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        for layer in ["buildcache", "mirror", "ccache"] {
            let out = slurm_factory(home, vars.clone(), &["cache", "clean", layer, "--yes"]);
            assert!(
                out.status.success(),
                "cache clean {layer}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A real GPG key without a passphrase, made in a GnuPG home of its own, and
/// exported as a site exports one: the secret half (what `--sign FILE`
/// takes) and the public half (what `--trust` and `artifacts verify --key`
/// take).
pub struct SigningKey {
    pub home: PathBuf,
    pub secret: PathBuf,
    pub public: PathBuf,
}

impl SigningKey {
    pub fn new(dir: &Path) -> SigningKey {
        use std::os::unix::fs::PermissionsExt;
        let home = dir.join("gnupg");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        let gpg = |args: &[&str]| {
            let out = std::process::Command::new("gpg")
                .arg("--batch")
                .arg("--homedir")
                .arg(&home)
                .args(args)
                .output()
                .expect("gpg runs");
            assert!(
                out.status.success(),
                "gpg {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        gpg(&[
            "--passphrase",
            "",
            "--quick-gen-key",
            "Site Builder <builder@site.example>",
            "default",
            "default",
            "never",
        ]);
        let secret = dir.join("builder-secret.asc");
        let public = dir.join("builder.asc");
        std::fs::write(&secret, gpg(&["--armor", "--export-secret-keys"])).unwrap();
        std::fs::write(&public, gpg(&["--armor", "--export"])).unwrap();
        SigningKey {
            home,
            secret,
            public,
        }
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        let _ = std::process::Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.home)
            .args(["--kill", "all"])
            .output();
    }
}

/// A real OCI registry (Debian's `docker-registry`) on 127.0.0.1, storing
/// under a directory of its own, with `login` (user, password) required
/// through htpasswd when given, and with `tls` on HTTPS, its certificate
/// (for 127.0.0.1) signed by a CA of its own (`ca`); stopped when dropped. `None` (the test
/// prints why) where the binary is missing, unless
/// SLURM_FACTORY_REQUIRE_LXD asks for every part.
pub struct Registry {
    child: std::process::Child,
    pub port: u16,
    /// The CA that signed its TLS certificate.
    pub ca: Option<PathBuf>,
}

/// A CA and a certificate for 127.0.0.1 it signed, made with openssl:
/// returns (CA certificate, server certificate, server key).
fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Slurm Factory test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "cert.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "cert.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

impl Registry {
    pub fn start(dir: &Path, login: Option<(&str, &str)>, tls: bool) -> Option<Registry> {
        let Some(binary) = factory::lxd::find_on_path("docker-registry") else {
            assert!(
                std::env::var_os(REQUIRE_LXD).is_none(),
                "docker-registry is not installed (apt-get install docker-registry)"
            );
            eprintln!("SKIPPED the OCI registry part: no docker-registry on PATH");
            return None;
        };
        let port = free_port();
        let dir = dir.join(format!("registry-{port}"));
        let storage = dir.join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            storage.display()
        );
        let ca = tls.then(|| {
            let (ca, cert, key) = test_certificates(&dir);
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
            ca
        });
        if let Some((user, password)) = login {
            let hash = bcrypt::hash(password, 6).unwrap();
            std::fs::write(dir.join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: site\n    path: {}\n",
                dir.join("htpasswd").display()
            ));
        }
        let config_file = dir.join("registry.yml");
        std::fs::write(&config_file, config).unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = std::process::Command::new(binary)
            .arg("serve")
            .arg(&config_file)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let registry = Registry { child, port, ca };
        wait_for_port(port, "the registry");
        Some(registry)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port of the loopback: bound, read, released.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{what} did not listen on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A real S3 endpoint on 127.0.0.1: moto's server (the virtualenv named by
/// SLURM_FACTORY_TEST_MOTO, which .ci/setup-lxd.sh makes) with its access
/// control on: requests must be signed (SigV4) with the key of an IAM user
/// it knows, made here, who may use S3; one bucket.
pub struct S3Store {
    child: std::process::Child,
    python: PathBuf,
    pub endpoint: String,
    pub bucket: String,
    pub key_id: String,
    pub secret: String,
}

/// What S3Store::start and S3Store::keys run with moto's boto3.
const S3_SETUP: &str = r#"
import json, sys
import boto3
endpoint, bucket = sys.argv[1], sys.argv[2]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="setup", aws_secret_access_key="setup")
iam.create_user(UserName="publisher")
iam.put_user_policy(UserName="publisher", PolicyName="s3", PolicyDocument=json.dumps(
    {"Version": "2012-10-17",
     "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="publisher")["AccessKey"]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=key["AccessKeyId"],
                  aws_secret_access_key=key["SecretAccessKey"])
s3.create_bucket(Bucket=bucket)
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;

const S3_KEYS: &str = r#"
import sys
import boto3
endpoint, bucket, key_id, secret = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id=key_id, aws_secret_access_key=secret)
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
    for item in page.get("Contents", []):
        print(item["Key"])
"#;

impl S3Store {
    pub fn start(dir: &Path) -> Option<S3Store> {
        let [venv] = test_vars(
            "the S3 part",
            ["SLURM_FACTORY_TEST_MOTO"],
            ".ci/setup-lxd.sh makes moto's virtualenv and names it in its env file",
        )?;
        let venv = PathBuf::from(venv);
        let port = free_port();
        let log = std::fs::File::create(dir.join(format!("moto-{port}.log"))).unwrap();
        // The IAM calls that make the user are the only ones let through unsigned.
        let child = std::process::Command::new(venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("moto_server starts");
        let mut store = S3Store {
            child,
            python: venv.join("bin/python"),
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket: "site-cache".into(),
            key_id: String::new(),
            secret: String::new(),
        };
        wait_for_port(port, "moto's S3 server");
        let out = store.python(S3_SETUP, &[]);
        let (key_id, secret) = out.trim().split_once(' ').expect("a key id and a secret");
        (store.key_id, store.secret) = (key_id.into(), secret.into());
        Some(store)
    }

    fn python(&self, script: &str, args: &[&str]) -> String {
        let out = std::process::Command::new(&self.python)
            .arg("-c")
            .arg(script)
            .args([self.endpoint.as_str(), self.bucket.as_str()])
            .args(args)
            .output()
            .expect("moto's python runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The bucket's object keys, listed with the user's key.
    pub fn keys(&self) -> Vec<String> {
        self.python(S3_KEYS, &[&self.key_id, &self.secret])
            .lines()
            .map(String::from)
            .collect()
    }

    /// The user's key as ~/.aws/credentials holds it.
    pub fn credentials_file(&self, secret: &str) -> String {
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {secret}\n",
            self.key_id
        )
    }
}

impl Drop for S3Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
