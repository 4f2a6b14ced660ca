//! Typed settings, layered: built-in defaults < config file < `SLURM_FACTORY_*`
//! environment variables < command-line flags. [`Loaded::sources`] remembers
//! where each effective value came from, for `slurm-factory config show`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{shown, Error, Result};

/// Every setting. Paths default to the XDG locations of the current user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The LXD client binary: `lxc`, or `incus` for Incus.
    pub lxc_binary: String,
    /// The LXD remote builds run on (`local` = this machine).
    pub lxd_remote: String,
    /// The LXD servers a matrix fans out over, `local=2, builder` (each a
    /// name from `lxc remote list`, optionally `=N` builds at once); unset =
    /// `lxd_remote` alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remotes: Option<String>,
    /// The LXD project builds run in.
    pub lxd_project: String,
    /// The image build instances start from, e.g. `ubuntu:24.04` or a local alias.
    pub image: String,
    /// The image verification instances start from: a plain system without
    /// compilers, so a package that only runs where it was built is caught.
    pub verify_image: String,
    /// The LXD storage pool for build instances.
    pub storage_pool: String,
    /// The private LXD network a package with MPI is verified on, across two
    /// instances (a bridge without NAT or uplink), created if missing.
    pub verify_network: String,
    /// The bridge's own address and prefix length, `10.203.71.1/24`, when
    /// `verify_network` is created; instances get addresses in it.
    pub verify_subnet: String,
    /// The toolchain builds use when the request names none (`debian12`,
    /// `rocky9`, ...); unset = `image` and `verify_image` as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toolchain: Option<String>,
    /// Git URL of Spack, cloned inside the container unless `spack_root` is set.
    pub spack_git_url: String,
    /// The Spack release (git tag) builds use.
    pub spack_ref: String,
    /// Git URL of Spack's package recipes (Spack >= 1.0 keeps them apart).
    pub spack_packages_git_url: String,
    /// The spack-packages tag paired with `spack_ref`.
    pub spack_packages_ref: String,
    /// How many packages Spack builds at once (its `concurrent_packages`),
    /// each with the request's jobs: configure steps, which use one core,
    /// overlap another package's compile.
    pub spack_concurrent_packages: u64,
    /// A local Spack checkout or tarball for offline sites; unset = clone from git.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spack_root: Option<PathBuf>,
    /// A local spack-packages checkout or tarball for offline sites.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spack_packages_root: Option<PathBuf>,
    /// Python wheels of clingo (Spack's solver) and its dependencies for the
    /// build image's Python, installed offline (`pip install --no-index`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wheels_dir: Option<PathBuf>,
    /// A directory holding a Spack source mirror (a site's shared one, or
    /// another machine's mirror layer), mounted read-only into build
    /// containers and tried before each package's own URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_mirror: Option<PathBuf>,
    /// Runs (logs, events, rendered files) live under here.
    pub data_dir: PathBuf,
    /// Finished packages; unset = `<data_dir>/artifacts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts_dir: Option<PathBuf>,
    /// Spack buildcache, source mirror, ccache and base-image layers.
    pub cache_dir: PathBuf,
    /// A directory of templates that override the built-in ones, file by file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates_dir: Option<PathBuf>,
    /// Builds refuse to start with less free disk than this in the cache dir.
    pub min_free_disk_mib: u64,
}

/// Where one effective value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", content = "from", rename_all = "lowercase")]
pub enum Source {
    Default,
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(v) => write!(f, "env {v}"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    OptionalText,
    Path,
    OptionalPath,
    Integer,
}

/// One setting as settings screens present it.
struct Key {
    key: &'static str,
    kind: Kind,
    group: &'static str,
    label: &'static str,
    help: &'static str,
}

const fn key(
    key: &'static str,
    kind: Kind,
    group: &'static str,
    label: &'static str,
    help: &'static str,
) -> Key {
    Key {
        key,
        kind,
        group,
        label,
        help,
    }
}

/// The keys, in display order, grouped by topic.
const KEYS: &[Key] = &[
    key("lxc_binary", Kind::Text, "LXD", "LXD client", "the lxc binary builds drive (incus for Incus)"),
    key("lxd_remote", Kind::Text, "LXD", "Remote", "the LXD remote builds run on (local = this machine)"),
    key("remotes", Kind::OptionalText, "LXD", "Matrix servers", "LXD remotes a matrix fans out over, as name or name=builds-at-once (local = this machine); empty = the Remote above"),
    key("lxd_project", Kind::Text, "LXD", "Project", "the LXD project build instances live in"),
    key("image", Kind::Text, "LXD", "Build image", "image build instances start from (ubuntu:24.04 or a local alias)"),
    key("verify_image", Kind::Text, "LXD", "Verify image", "plain image packages are verified in, without compilers"),
    key("verify_network", Kind::Text, "LXD", "Verify network", "the private LXD network (no NAT, no uplink) packages with MPI are verified on across two instances; created if missing"),
    key("verify_subnet", Kind::Text, "LXD", "Verify subnet", "the verify network's bridge address and prefix when it is created, e.g. 10.203.71.1/24"),
    key("toolchain", Kind::OptionalText, "LXD", "Toolchain", "OS packages are built and verified on (debian12, rocky9, ...); empty = the two images above"),
    key("spack_git_url", Kind::Text, "Spack", "Spack git URL", "where build instances clone Spack from"),
    key("spack_ref", Kind::Text, "Spack", "Spack release", "the Spack tag builds use"),
    key("spack_packages_git_url", Kind::Text, "Spack", "Package recipes git URL", "where spack-packages (Spack's package recipes) is cloned from"),
    key("spack_packages_ref", Kind::Text, "Spack", "Package recipes release", "the spack-packages tag paired with the Spack release"),
    key("spack_concurrent_packages", Kind::Integer, "Spack", "Packages built at once", "how many packages Spack builds at the same time, each with the build's jobs (Spack's concurrent_packages)"),
    key("spack_root", Kind::OptionalPath, "Spack", "Local Spack", "a Spack checkout or tarball for offline sites; empty = clone from git"),
    key("spack_packages_root", Kind::OptionalPath, "Spack", "Local package recipes", "a spack-packages checkout or tarball for offline sites"),
    key("wheels_dir", Kind::OptionalPath, "Spack", "Solver wheels", "clingo wheels for the build image's Python, installed offline"),
    key("upstream_mirror", Kind::OptionalPath, "Spack", "Upstream source mirror", "a Spack source mirror directory tried before each package's URL"),
    key("storage_pool", Kind::Text, "Storage", "Storage pool", "the LXD storage pool build instances use"),
    key("cache_dir", Kind::Path, "Storage", "Cache directory", "buildcache, sources, ccache, locks and base-image records"),
    key("min_free_disk_mib", Kind::Integer, "Storage", "Free disk needed (MiB)", "builds refuse to start with less free disk in the cache directory"),
    key("data_dir", Kind::Path, "Paths", "Data directory", "runs (logs, events) and, by default, artifacts"),
    key("artifacts_dir", Kind::OptionalPath, "Paths", "Artifacts directory", "finished packages; empty = <data directory>/artifacts"),
    key("templates_dir", Kind::OptionalPath, "Paths", "Templates directory", "templates that override the built-in ones, file by file"),
];

/// The prefix of every environment override.
pub const ENV_PREFIX: &str = "SLURM_FACTORY_";
/// Names the config file, overriding the XDG location.
pub const ENV_CONFIG: &str = "SLURM_FACTORY_CONFIG";
/// Variables with the prefix that are not settings keys.
const ENV_NON_KEYS: &[&str] = &[ENV_CONFIG, "SLURM_FACTORY_LOG"];

/// The commits this release of Slurm Factory was built and tested with, for
/// the default repositories' tags: an online build clones the tag and
/// checks it is still that commit (`scripts/git-clone.sh`). The commits are
/// those `git archive` wrote into the release tarballs CI builds from.
const PINNED: [(&str, &str, &str); 2] = [
    (
        "https://github.com/spack/spack.git",
        "v1.1.0",
        "2e907202bcc8209a6a62243aab50c179b524cc3b",
    ),
    (
        "https://github.com/spack/spack-packages.git",
        "v2025.11.0",
        "119680aeee8ea802c6111b7167583bddef97e82f",
    ),
];

/// The commit `git_ref` of the repository at `url` must be, when this
/// release pins it; `""` for a repository or release of the user's own.
pub fn pinned_commit(url: &str, git_ref: &str) -> &'static str {
    PINNED
        .iter()
        .find(|(u, r, _)| *u == url && *r == git_ref)
        .map_or("", |(_, _, commit)| commit)
}

impl Settings {
    /// The `lxc` client these settings name: binary, remote and project.
    pub fn lxc(&self) -> crate::lxd::Lxc {
        crate::lxd::Lxc::from_parts(&self.lxc_binary, &self.lxd_remote, &self.lxd_project)
    }

    /// Defaults with the config, data and cache dirs under `root` (unit tests).
    #[cfg(test)]
    pub(crate) fn under(root: &Path) -> Settings {
        Settings::defaults(&XdgDirs {
            config: root.join("config"),
            data: root.join("data"),
            cache: root.join("cache"),
        })
    }

    /// Built-in defaults for a user whose home is described by `dirs`.
    pub fn defaults(dirs: &XdgDirs) -> Settings {
        Settings {
            lxc_binary: "lxc".into(),
            lxd_remote: "local".into(),
            remotes: None,
            lxd_project: "default".into(),
            image: "ubuntu:24.04".into(),
            verify_image: "ubuntu:24.04".into(),
            storage_pool: "default".into(),
            verify_network: "sf-verify".into(),
            verify_subnet: "10.203.71.1/24".into(),
            spack_git_url: "https://github.com/spack/spack.git".into(),
            spack_ref: "v1.1.0".into(),
            spack_packages_git_url: "https://github.com/spack/spack-packages.git".into(),
            spack_packages_ref: "v2025.11.0".into(),
            spack_concurrent_packages: 2,
            spack_root: None,
            spack_packages_root: None,
            wheels_dir: None,
            upstream_mirror: None,
            toolchain: None,
            data_dir: dirs.data.clone(),
            artifacts_dir: None,
            cache_dir: dirs.cache.clone(),
            templates_dir: None,
            min_free_disk_mib: 10 * 1024,
        }
    }

    pub fn artifacts_dir(&self) -> PathBuf {
        self.artifacts_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("artifacts"))
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.data_dir.join("runs")
    }

    fn check(&self) -> std::result::Result<(), String> {
        let names = [
            ("lxc_binary", &self.lxc_binary),
            ("lxd_remote", &self.lxd_remote),
            ("lxd_project", &self.lxd_project),
            ("image", &self.image),
            ("verify_image", &self.verify_image),
            ("storage_pool", &self.storage_pool),
            ("spack_ref", &self.spack_ref),
            ("spack_packages_ref", &self.spack_packages_ref),
        ];
        for (key, value) in names {
            if !is_lxd_name(value) {
                return Err(format!(
                    "{key} = `{}`: use letters, digits and `-_.:/+@` only",
                    crate::error::shown(value)
                ));
            }
        }
        if !crate::lxd::is_network_name(&self.verify_network) {
            return Err(format!(
                "verify_network = `{}`: a network name of 1 to 15 letters, digits and `-`",
                crate::error::shown(&self.verify_network)
            ));
        }
        crate::lxd::Subnet::parse(&self.verify_subnet).map_err(|reason| {
            format!(
                "verify_subnet = `{}`: {reason}",
                crate::error::shown(&self.verify_subnet)
            )
        })?;
        if !(1..=64).contains(&self.spack_concurrent_packages) {
            return Err(format!(
                "spack_concurrent_packages = {}: use 1 to 64",
                self.spack_concurrent_packages
            ));
        }
        if let Some(list) = &self.remotes {
            parse_list(list).map_err(|e| format!("remotes: {e}"))?;
        }
        if let Some(name) = &self.toolchain {
            crate::toolchain::validate_name(name).map_err(|_| {
                format!(
                    "toolchain = `{}`: a lowercase name like debian12 or ubuntu24.04",
                    crate::error::shown(name)
                )
            })?;
        }
        Ok(())
    }
}

impl Settings {
    /// These settings with the toolchain's build and verify images, checked
    /// as the settings' own images are (without a toolchain: as they are).
    pub fn with_toolchain(
        &self,
        toolchain: Option<&crate::toolchain::Toolchain>,
    ) -> Result<Settings> {
        let Some(toolchain) = toolchain else {
            return Ok(self.clone());
        };
        let settings = Settings {
            image: toolchain.image.clone(),
            verify_image: toolchain.verify_image.clone(),
            ..self.clone()
        };
        settings.check().map_err(|message| Error::RecipeInvalid {
            file: format!("toolchains/{}.toml", toolchain.name),
            message,
        })?;
        Ok(settings)
    }
}

/// Names that reach `lxc` and `git` as arguments: no spaces, no shell syntax,
/// and no leading `-` that a program could read as an option.
fn is_lxd_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+@".contains(&b))
}

/// The per-user base directories.
#[derive(Debug, Clone)]
pub struct XdgDirs {
    pub config: PathBuf,
    pub data: PathBuf,
    pub cache: PathBuf,
}

impl XdgDirs {
    /// The current user's XDG directories for `slurm-factory`.
    pub fn for_current_user() -> Result<XdgDirs> {
        let dirs = directories::ProjectDirs::from("", "", "slurm-factory").ok_or_else(|| {
            Error::InvalidValue {
                what: "home directory",
                value: std::env::var("HOME").unwrap_or_default(),
                reason: "no home directory is known for this user; set HOME".into(),
            }
        })?;
        Ok(XdgDirs {
            config: dirs.config_dir().to_path_buf(),
            data: dirs.data_dir().to_path_buf(),
            cache: dirs.cache_dir().to_path_buf(),
        })
    }
}

/// Effective settings and the provenance of each value.
#[derive(Debug, Clone, Serialize)]
pub struct Loaded {
    pub settings: Settings,
    pub sources: BTreeMap<String, Source>,
    /// The config file consulted (it may not exist).
    pub config_path: PathBuf,
    pub config_exists: bool,
    /// Things worth telling the user, such as an unknown `SLURM_FACTORY_*` variable.
    pub warnings: Vec<String>,
}

/// One row of `config show`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Entry {
    pub key: &'static str,
    pub value: Option<String>,
    pub source: Source,
    pub env: String,
    /// The topic it is shown under: LXD, Spack, Storage, Paths.
    pub group: &'static str,
    /// A name for people ("Build image").
    pub label: &'static str,
    /// One line on what it does.
    pub description: &'static str,
    /// Whether it holds an absolute path.
    pub path: bool,
    /// Whether it may be left empty (unset).
    pub optional: bool,
}

/// Everything a settings screen shows: `config show --json` and the app's Settings page.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Overview {
    pub config_path: PathBuf,
    pub config_exists: bool,
    pub settings: Vec<Entry>,
    pub warnings: Vec<String>,
}

impl Loaded {
    /// Loads settings for the current user from the real environment.
    pub fn from_environment() -> Result<Loaded> {
        Loaded::from_environment_with_config(None)
    }

    /// Like [`Loaded::from_environment`], reading the settings file `config`
    /// when given (a `--config` flag), whatever SLURM_FACTORY_CONFIG says.
    pub fn from_environment_with_config(config: Option<&Path>) -> Result<Loaded> {
        let mut vars: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        if let Some(path) = config {
            vars.insert(ENV_CONFIG.into(), path.display().to_string());
        }
        load(&XdgDirs::for_current_user()?, &vars)
    }

    /// Every key with its effective value and source, in display order.
    pub fn entries(&self) -> Vec<Entry> {
        let table = toml::Table::try_from(&self.settings).expect("settings serialize");
        KEYS.iter()
            .map(|k| Entry {
                key: k.key,
                value: table.get(k.key).map(|v| match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                }),
                source: self.sources.get(k.key).cloned().unwrap_or(Source::Default),
                env: env_var(k.key),
                group: k.group,
                label: k.label,
                description: k.help,
                path: matches!(k.kind, Kind::Path | Kind::OptionalPath),
                optional: matches!(k.kind, Kind::OptionalPath | Kind::OptionalText),
            })
            .collect()
    }

    pub fn overview(&self) -> Overview {
        Overview {
            config_path: self.config_path.clone(),
            config_exists: self.config_exists,
            settings: self.entries(),
            warnings: self.warnings.clone(),
        }
    }

    /// Applies a command-line flag on top of everything else.
    pub fn set_from_flag(&mut self, key: &str, value: &str, flag: &str) -> Result<()> {
        self.settings =
            with_value(&self.settings, key, value).map_err(|message| Error::InvalidValue {
                what: "flag value",
                value: format!("{flag} {value}"),
                reason: message,
            })?;
        self.sources.insert(key.into(), Source::Flag(flag.into()));
        Ok(())
    }

    /// Why `raw` (as typed in a form) cannot be `key`'s value, with every
    /// other setting as it is now; `None` when it can. Settings forms call it
    /// on each keystroke, so they refuse exactly what saving would refuse.
    pub fn check_value(&self, key: &str, raw: &str) -> Option<String> {
        if key_kind(key).is_none() {
            return Some(format!("no setting is called {key:?}"));
        }
        with_value(&self.settings, key, raw).err()
    }
}

/// `settings` with `key` set to `raw`, checked as a whole.
fn with_value(settings: &Settings, key: &str, raw: &str) -> std::result::Result<Settings, String> {
    let mut table = toml::Table::try_from(settings).expect("settings serialize");
    let kind = key_kind(key).expect("a known key");
    set_value(&mut table, key, kind, raw)?;
    finish(table)
}

fn env_var(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

fn key_kind(key: &str) -> Option<Kind> {
    KEYS.iter().find(|k| k.key == key).map(|k| k.kind)
}

fn set_value(
    table: &mut toml::Table,
    key: &str,
    kind: Kind,
    raw: &str,
) -> std::result::Result<(), String> {
    let value = match kind {
        Kind::Integer => toml::Value::Integer(
            raw.trim()
                .parse::<u32>()
                .map_err(|_| format!("expected a whole number, got {raw:?}"))?
                .into(),
        ),
        Kind::OptionalPath | Kind::OptionalText if raw.is_empty() => {
            table.remove(key);
            return Ok(());
        }
        Kind::Path | Kind::OptionalPath if !Path::new(raw).is_absolute() => {
            return Err(format!("expected an absolute path, got {raw:?}"))
        }
        Kind::Text | Kind::OptionalText | Kind::Path | Kind::OptionalPath => {
            toml::Value::String(raw.into())
        }
    };
    table.insert(key.into(), value);
    Ok(())
}

fn finish(table: toml::Table) -> std::result::Result<Settings, String> {
    let settings: Settings = table
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    settings.check()?;
    Ok(settings)
}

/// Layers defaults, the config file and `vars` (the `SLURM_FACTORY_*` environment).
pub fn load(dirs: &XdgDirs, vars: &BTreeMap<String, String>) -> Result<Loaded> {
    let config_path = vars
        .get(ENV_CONFIG)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs.config.join("config.toml"));
    let mut table = toml::Table::try_from(Settings::defaults(dirs)).expect("defaults serialize");
    let mut sources = BTreeMap::new();
    let mut warnings = Vec::new();

    let config_exists = config_path.exists();
    if config_exists {
        let text =
            std::fs::read_to_string(&config_path).map_err(|source| Error::ConfigUnreadable {
                path: config_path.clone(),
                source,
            })?;
        let malformed = |message: String| Error::ConfigMalformed {
            path: config_path.clone(),
            message,
        };
        let file: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|s| text[..s.start].lines().count().max(1))
                .unwrap_or(1);
            malformed(format!("line {line}: {}", e.message()))
        })?;
        for (key, value) in file {
            if key_kind(&key).is_none() {
                return Err(malformed(format!(
                    "unknown key `{key}`; known keys: {}",
                    KEYS.iter().map(|k| k.key).collect::<Vec<_>>().join(", ")
                )));
            }
            table.insert(key.clone(), value);
            sources.insert(key, Source::File(config_path.clone()));
        }
        finish(table.clone()).map_err(malformed)?;
    }

    for (var, raw) in vars {
        if ENV_NON_KEYS.contains(&var.as_str()) {
            continue;
        }
        // Only `SLURM_FACTORY_*` variables are settings.
        let Some(key) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let key = key.to_ascii_lowercase();
        let Some(kind) = key_kind(&key) else {
            warnings.push(format!("ignoring {var}: no setting is called `{key}`"));
            continue;
        };
        let env_error = |message: String| Error::EnvOverride {
            var: var.clone(),
            value: raw.clone(),
            message,
        };
        set_value(&mut table, &key, kind, raw).map_err(env_error)?;
        finish(table.clone()).map_err(env_error)?;
        sources.insert(key, Source::Env(var.clone()));
    }

    let settings = finish(table).map_err(|message| Error::ConfigMalformed {
        path: config_path.clone(),
        message,
    })?;
    Ok(Loaded {
        settings,
        sources,
        config_path,
        config_exists,
        warnings,
    })
}

/// Writes `updates` (key → value as typed in a form; empty unsets an optional
/// path) into the config file at `path`, keeping the file's other keys. The
/// result is validated as a whole before anything is written, and written
/// atomically, so a bad value never leaves a broken file behind.
pub fn update_file(path: &Path, updates: &BTreeMap<String, String>) -> Result<()> {
    let malformed = |message: String| Error::ConfigMalformed {
        path: path.to_path_buf(),
        message,
    };
    let mut file: toml::Table = match std::fs::read_to_string(path) {
        Ok(text) => text
            .parse()
            .map_err(|e: toml::de::Error| malformed(e.message().to_string()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
        Err(source) => {
            return Err(Error::ConfigUnreadable {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    for (key, raw) in updates {
        let invalid = |reason: String| Error::InvalidValue {
            what: "setting",
            value: format!("{key} = {raw}"),
            reason,
        };
        let kind = key_kind(key).ok_or_else(|| invalid("no setting has this name".into()))?;
        set_value(&mut file, key, kind, raw).map_err(invalid)?;
    }
    // Any complete set of defaults shows whether the file's values are valid.
    let dirs = XdgDirs {
        config: "/".into(),
        data: "/".into(),
        cache: "/".into(),
    };
    let mut merged = toml::Table::try_from(Settings::defaults(&dirs)).expect("defaults serialize");
    merged.extend(file.clone());
    // A file with bad values does not load, so what fails here is the
    // update; the reason names the key either way.
    finish(merged).map_err(|reason| Error::InvalidValue {
        what: "settings",
        value: updates.keys().cloned().collect::<Vec<_>>().join(", "),
        reason,
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io("creating the config directory", dir, e))?;
    }
    let text = toml::to_string(&file).expect("a table serializes");
    crate::fsutil::write_atomic(path, text.as_bytes())
}

/// One entry of the `remotes` setting or a `--remote` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSlots {
    pub remote: String,
    /// Builds at once; `None`: from the server's CPUs.
    pub slots: Option<u32>,
}

/// `name` or `name=N` (1–64 builds at once).
pub fn parse_one(text: &str) -> std::result::Result<RemoteSlots, String> {
    let text = text.trim();
    let (remote, slots) = match text.split_once('=') {
        Some((remote, n)) => {
            let n: u32 = n
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| {
                    format!("`{}`: builds at once is a number from 1 to 64", shown(text))
                })?;
            (remote.trim(), Some(n))
        }
        None => (text, None),
    };
    let valid = !remote.is_empty()
        && remote.len() <= 64
        && remote.starts_with(|c: char| c.is_ascii_alphanumeric())
        && remote
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !valid {
        return Err(format!(
            "`{}`: a remote is a name from `lxc remote list` (letters, digits, `-_.`), \
             optionally `=N` builds at once",
            shown(remote)
        ));
    }
    Ok(RemoteSlots {
        remote: remote.into(),
        slots,
    })
}

/// A comma-separated list, `local=2, builder`; each remote once.
pub fn parse_list(text: &str) -> std::result::Result<Vec<RemoteSlots>, String> {
    let mut list: Vec<RemoteSlots> = Vec::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let entry = parse_one(part)?;
        if list.iter().any(|e| e.remote == entry.remote) {
            return Err(format!("`{}` is listed twice", shown(&entry.remote)));
        }
        list.push(entry);
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(root: &Path) -> XdgDirs {
        XdgDirs {
            config: root.join("config"),
            data: root.join("data"),
            cache: root.join("cache"),
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_use_xdg_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let loaded = load(&dirs(tmp.path()), &vars(&[])).unwrap();
        assert!(!loaded.config_exists);
        assert_eq!(loaded.config_path, tmp.path().join("config/config.toml"));
        assert_eq!(loaded.settings.cache_dir, tmp.path().join("cache"));
        assert_eq!(
            loaded.settings.artifacts_dir(),
            tmp.path().join("data/artifacts")
        );
        assert!(loaded.entries().iter().all(|e| e.source == Source::Default));
    }

    #[test]
    fn env_beats_file_beats_default() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dirs(tmp.path());
        std::fs::create_dir_all(&d.config).unwrap();
        std::fs::write(
            d.config.join("config.toml"),
            "image = \"debian-12\"\nstorage_pool = \"fast\"\n",
        )
        .unwrap();
        let loaded = load(&d, &vars(&[("SLURM_FACTORY_STORAGE_POOL", "btrfs")])).unwrap();
        assert_eq!(loaded.settings.image, "debian-12");
        assert_eq!(loaded.settings.storage_pool, "btrfs");
        assert_eq!(
            loaded.sources["image"],
            Source::File(d.config.join("config.toml"))
        );
        assert_eq!(
            loaded.sources["storage_pool"],
            Source::Env("SLURM_FACTORY_STORAGE_POOL".into())
        );

        let mut loaded = loaded;
        loaded
            .set_from_flag("lxd_project", "teaching", "--project-name")
            .unwrap();
        assert_eq!(loaded.settings.lxd_project, "teaching");
        let entry = loaded
            .entries()
            .into_iter()
            .find(|e| e.key == "lxd_project")
            .unwrap();
        assert_eq!(entry.source, Source::Flag("--project-name".into()));
        assert_eq!(entry.env, "SLURM_FACTORY_LXD_PROJECT");
    }

    #[test]
    fn update_file_keeps_other_keys_and_refuses_bad_values() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dirs(tmp.path());
        let file = d.config.join("config.toml");
        let set = |pairs: &[(&str, &str)]| update_file(&file, &vars(pairs));
        set(&[("image", "debian-12"), ("templates_dir", "/srv/t")]).unwrap();
        set(&[("storage_pool", "fast"), ("templates_dir", "")]).unwrap();
        let loaded = load(&d, &vars(&[])).unwrap();
        assert_eq!(loaded.settings.image, "debian-12");
        assert_eq!(loaded.settings.storage_pool, "fast");
        assert_eq!(loaded.settings.templates_dir, None);

        let before = std::fs::read_to_string(&file).unwrap();
        for bad in [
            ("image", "ubuntu; rm -rf /"),
            ("cache_dir", "relative"),
            ("min_free_disk_mib", "lots"),
            ("imgae", "x"),
        ] {
            assert!(set(&[bad]).is_err(), "{bad:?}");
        }
        assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    }

    #[test]
    fn config_env_var_names_another_file() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("site.toml");
        std::fs::write(&file, "min_free_disk_mib = 2048\n").unwrap();
        let loaded = load(
            &dirs(tmp.path()),
            &vars(&[(ENV_CONFIG, file.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(loaded.settings.min_free_disk_mib, 2048);
        assert!(loaded.config_exists);
    }

    #[test]
    fn malformed_file_names_the_line() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("bad.toml");
        std::fs::write(&file, "image = \"a\"\nstorage_pool = \n").unwrap();
        let err = load(
            &dirs(tmp.path()),
            &vars(&[(ENV_CONFIG, file.to_str().unwrap())]),
        )
        .unwrap_err();
        assert!(matches!(err, Error::ConfigMalformed { .. }));
        assert!(err.to_string().contains("line 2"), "{err}");

        std::fs::write(&file, "imgae = \"a\"\n").unwrap();
        let err = load(
            &dirs(tmp.path()),
            &vars(&[(ENV_CONFIG, file.to_str().unwrap())]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown key `imgae`"), "{err}");

        std::fs::write(&file, "min_free_disk_mib = \"lots\"\n").unwrap();
        let err = load(
            &dirs(tmp.path()),
            &vars(&[(ENV_CONFIG, file.to_str().unwrap())]),
        )
        .unwrap_err();
        assert!(matches!(err, Error::ConfigMalformed { .. }), "{err}");
    }

    #[test]
    fn values_are_checked_as_saving_checks_them() {
        let tmp = tempfile::tempdir().unwrap();
        let loaded = load(&dirs(tmp.path()), &vars(&[])).unwrap();
        assert_eq!(loaded.check_value("image", "sf-test-build"), None);
        assert_eq!(loaded.check_value("toolchain", ""), None);
        assert_eq!(loaded.check_value("artifacts_dir", ""), None);
        let refused = [
            ("image", "ubuntu; rm -rf /", "letters, digits"),
            ("data_dir", "relative/dir", "absolute path"),
            ("min_free_disk_mib", "lots", "whole number"),
            ("toolchain", "Debian 12", "lowercase name"),
            ("no_such_key", "x", "no setting"),
        ];
        for (key, raw, why) in refused {
            let reason = loaded.check_value(key, raw).unwrap_or_default();
            assert!(reason.contains(why), "{key} = {raw:?}: {reason}");
        }
        // Every key has a group, a label and help for the settings page.
        for e in loaded.entries() {
            assert!(
                ["LXD", "Spack", "Storage", "Paths"].contains(&e.group),
                "{}",
                e.key
            );
            assert!(
                !e.label.is_empty() && !e.description.is_empty(),
                "{}",
                e.key
            );
        }
    }

    #[test]
    fn malformed_env_overrides_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        for (var, value) in [
            ("SLURM_FACTORY_MIN_FREE_DISK_MIB", "ten"),
            ("SLURM_FACTORY_CACHE_DIR", "relative/cache"),
            ("SLURM_FACTORY_IMAGE", "ubuntu; rm -rf /"),
            ("SLURM_FACTORY_LXC_BINARY", "--help"),
        ] {
            let err = load(&dirs(tmp.path()), &vars(&[(var, value)])).unwrap_err();
            match &err {
                Error::EnvOverride { var: v, .. } => assert_eq!(v, var),
                other => panic!("{var}: unexpected {other}"),
            }
            assert_eq!(err.kind(), crate::ExitKind::Config);
        }
    }

    #[test]
    fn unknown_env_vars_warn_and_empty_optional_paths_unset() {
        let tmp = tempfile::tempdir().unwrap();
        let loaded = load(
            &dirs(tmp.path()),
            &vars(&[
                ("SLURM_FACTORY_IMAGES", "x"),
                ("SLURM_FACTORY_TEMPLATES_DIR", ""),
            ]),
        )
        .unwrap();
        assert_eq!(loaded.warnings.len(), 1);
        assert!(loaded.warnings[0].contains("SLURM_FACTORY_IMAGES"));
        assert_eq!(loaded.settings.templates_dir, None);
    }

    #[cfg(unix)]
    #[test]
    fn unreadable_file_is_a_config_error() {
        let tmp = tempfile::tempdir().unwrap();
        // A directory where the file should be cannot be read as a file, even by root.
        let file = tmp.path().join("dir.toml");
        std::fs::create_dir(&file).unwrap();
        let err = load(
            &dirs(tmp.path()),
            &vars(&[(ENV_CONFIG, file.to_str().unwrap())]),
        )
        .unwrap_err();
        assert!(matches!(err, Error::ConfigUnreadable { .. }), "{err}");
    }
}
