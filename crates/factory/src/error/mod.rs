//! One error type for the whole engine. Every variant says what went wrong
//! (its `Display`) and what the user should do about it ([`Error::hint`]);
//! [`Error::kind`] groups variants into the exit codes the CLI documents.

pub mod remedy;

use std::path::PathBuf;

use crate::error::remedy::{build_option, code, remedy, setting, Command, Flag, Remedy};
use crate::kinds::GpuVendor;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Families of failures, each with its own process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ExitKind {
    /// The request or the command line is wrong.
    Usage,
    /// A config file or an environment override is wrong.
    Config,
    /// The machine is not ready: LXD missing, unreachable, no permission, no disk.
    Environment,
    /// A build, package or verification step failed.
    Build,
    /// The user cancelled.
    Cancelled,
    /// A bug or an unexpected I/O failure.
    Internal,
}

impl ExitKind {
    /// The process exit code for this kind (documented in the README).
    pub fn code(self) -> u8 {
        match self {
            ExitKind::Internal => 1,
            ExitKind::Usage => 2,
            ExitKind::Config => 3,
            ExitKind::Environment => 4,
            ExitKind::Build => 5,
            ExitKind::Cancelled => 130,
        }
    }
}

/// How people are told about an LXD server: `LXD` (this machine's) or `the
/// LXD remote `NAME``.
fn server_name(remote: &str) -> String {
    if remote == "local" {
        "LXD".into()
    } else {
        format!("the LXD remote `{}`", shown(remote))
    }
}

/// User input as an error shows it: control characters escaped and the
/// text cut after 64 characters (its length said), so that a pasted file, a
/// stray newline or a NUL cannot make the message unreadable.
pub fn shown(input: &str) -> String {
    shown_up_to(input, 64)
}

/// [`shown`] with room for `keep` characters: for a parser's message, which
/// may quote the input it refused.
pub fn shown_up_to(input: &str, keep: usize) -> String {
    let escaped = |s: &str| -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            if c.is_control() {
                out.extend(c.escape_debug());
            } else {
                out.push(c);
            }
        }
        out
    };
    let count = input.chars().count();
    if count <= keep {
        return escaped(input);
    }
    let head: String = input.chars().take(keep).collect();
    format!("{}… ({count} characters)", escaped(&head))
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown Slurm version `{}`", shown(version))]
    UnknownSlurmVersion { version: String, known: Vec<String> },

    #[error("a minimal package cannot be built with GPU support")]
    MinimalWithGpu,

    #[error("invalid optimization target `{}`: {reason}", shown(target))]
    InvalidTarget { target: String, reason: String },

    #[error("unknown optimization target `{}`", shown(target))]
    UnknownTarget { target: String, known: Vec<String> },

    #[error("invalid GPU architecture `{}` for {vendor}: {reason}", shown(arch))]
    InvalidGpuArch {
        arch: String,
        vendor: GpuVendor,
        reason: String,
    },

    #[error("a GPU architecture was given without a GPU vendor")]
    GpuArchWithoutGpu,

    #[error("invalid build jobs `{0}`: must be between 1 and 1024")]
    InvalidJobs(u32),

    #[error("invalid {what} `{}`: {reason}", shown(value))]
    InvalidValue {
        what: &'static str,
        value: String,
        reason: String,
    },

    #[error("cannot read config file {path}: {source}")]
    ConfigUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("config file {path} is malformed: {message}")]
    ConfigMalformed { path: PathBuf, message: String },

    #[error(
        "environment override {var}=`{}` is malformed: {message}",
        shown(value)
    )]
    EnvOverride {
        var: String,
        value: String,
        message: String,
    },

    #[error("`{binary}` was not found on PATH")]
    LxcNotFound { binary: String },

    #[error("the LXD daemon is not reachable: {detail}")]
    LxdUnreachable { detail: String },

    #[error("permission denied talking to LXD: {detail}")]
    LxdPermission { detail: String },

    #[error("LXD storage pool `{pool}` does not exist")]
    StoragePoolMissing { pool: String },

    #[error("LXD image `{image}` not found")]
    ImageNotFound { image: String },

    #[error("could not create the verify network `{network}` ({subnet}): {detail}")]
    NetworkNotCreated {
        network: String,
        subnet: String,
        detail: String,
    },

    #[error("the verify network `{network}` cannot be used: {problem}")]
    NetworkUnusable { network: String, problem: String },

    #[error("LXD instance `{name}` does not exist")]
    InstanceNotFound { name: String },

    #[error("LXD instance `{name}` was not ready after {waited_s} s: {detail}")]
    InstanceNotReady {
        name: String,
        waited_s: u64,
        detail: String,
    },

    #[error("LXD runs instance `{name}` as host root: its root is uid {uid} on this machine")]
    HostRootMapped { name: String, uid: u32 },

    #[error("`{command}` failed: {stderr}")]
    Lxc { command: String, stderr: String },

    #[error("only {available_mib} MiB free in {path}, {needed_mib} MiB needed")]
    DiskFull {
        path: PathBuf,
        available_mib: u64,
        needed_mib: u64,
    },

    #[error("{} {what} during the {stage} stage: {cause}", server_name(remote))]
    LxdLost {
        stage: crate::kinds::Stage,
        /// The `lxc remote` the build ran on (`local`: this machine's LXD).
        remote: String,
        /// "restarted", "shut down" or "stopped answering".
        what: String,
        cause: String,
    },

    #[error("the {stage} stage stopped with {path} full ({available_mib} MiB free): {cause}")]
    RanOutOfDisk {
        stage: crate::kinds::Stage,
        path: PathBuf,
        available_mib: u64,
        cause: String,
    },

    #[error("the {stage} stage stopped with no space left in LXD storage pool `{pool}` ({usage}): {cause}")]
    PoolFull {
        stage: crate::kinds::Stage,
        pool: String,
        /// "N of M MiB used", as `lxc storage info` counts.
        usage: String,
        cause: String,
    },

    #[error("{context} ({path}): {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("this machine is not ready to build: {failures}")]
    NotReady {
        failures: String,
        /// What the failed checks say to do, so the error itself tells the fix.
        fixes: crate::error::remedy::Remedy,
    },

    #[error("stage {stage} failed: {message}")]
    BuildFailed {
        stage: crate::kinds::Stage,
        message: String,
        log: PathBuf,
    },

    #[error("the package failed verification: {problems}")]
    VerifyFailed { problems: String, log: PathBuf },

    #[error("the package needs glibc {needed} ({file} uses GLIBC_{needed}), but the verify image `{image}` has glibc {found}")]
    GlibcTooOld {
        needed: String,
        file: String,
        image: String,
        found: String,
    },

    #[error("offline build not possible: {problem}")]
    OfflineSetup {
        problem: String,
        /// What to set or provide, in full.
        fix: String,
    },

    #[error("sources missing for {}: Spack looked in {}", packages.join(", "), looked.join(", "))]
    SourcesMissing {
        /// `name@version` of each package whose source no fetcher found.
        packages: Vec<String>,
        /// Where Spack looked (the local mirror's paths first), as host paths where they map.
        looked: Vec<String>,
        /// The file each package wants in the mirror layer: `<mirror>/<name>/<name>-<version>.<ext>`.
        wanted: Vec<PathBuf>,
        log: PathBuf,
    },

    #[error("unknown toolchain `{}`", shown(name))]
    UnknownToolchain { name: String, known: Vec<String> },

    #[error("preset {path} is invalid: {message}")]
    PresetInvalid { path: PathBuf, message: String },

    #[error("the matrix{} is invalid: {message}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    MatrixInvalid {
        /// The file; `None` for a matrix typed in the app.
        path: Option<PathBuf>,
        message: String,
    },

    #[error("the LXD remote `{}` cannot take builds: {detail}", shown(remote))]
    RemoteUnusable { remote: String, detail: String },

    #[error("no LXD server of the matrix is left to build on: {}", remotes.join(", "))]
    NoServerLeft {
        /// Each remote with what became of it, `sf-remote stopped answering`.
        remotes: Vec<String>,
    },

    #[error("no run `{}`", shown(id))]
    RunNotFound { id: String },
    #[error("template {file}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Template {
        file: String,
        line: Option<usize>,
        message: String,
        /// Whether the file comes from the user's templates dir.
        user: bool,
    },

    #[error("the rendered {file} is not a usable recipe: {message}")]
    RecipeInvalid { file: String, message: String },

    #[error("{path} already exists")]
    FileExists { path: PathBuf },

    #[error("cancelled")]
    Cancelled,

    // Packages and the artifact store.
    #[error("manifest {path} is malformed: {message}")]
    ManifestMalformed { path: PathBuf, message: String },

    #[error("run record {path} is malformed: {message}")]
    RunRecordMalformed { path: PathBuf, message: String },

    #[error("invalid artifact id `{}`: {reason}", shown(id))]
    InvalidArtifactId { id: String, reason: String },

    #[error("no artifact `{}` in {store}", shown(id))]
    ArtifactNotFound { id: String, store: PathBuf },

    #[error("artifact `{id}` is incomplete: {detail}")]
    ArtifactIncomplete { id: String, detail: String },

    #[error("checksum mismatch for {path}: expected sha256 {expected}, got {actual}")]
    ChecksumMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("{path} already exists")]
    ExportTargetExists { path: PathBuf },

    #[error("{path} is not a sound offline bundle: {reason}")]
    BundleInvalid { path: PathBuf, reason: String },

    #[error("{what} needs confirmation")]
    NeedsConfirmation { what: String },

    #[error("signing failed: {message}")]
    Signing { message: String },

    #[error("the signature of {file} does not hold: {detail}")]
    SignatureInvalid { file: PathBuf, detail: String },

    #[error("refused the buildcache at {url}: {}", first_few(entries))]
    BuildcacheRefused {
        url: String,
        entries: Vec<String>,
        log: PathBuf,
    },

    #[error("cannot read the buildcache at {url}: {reason}")]
    BuildcacheUnreadable { url: String, reason: String },
}

/// The first three of `entries`, and how many more.
fn first_few(entries: &[String]) -> String {
    let mut text = entries
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if entries.len() > 3 {
        text.push_str(&format!("; and {} more", entries.len() - 3));
    }
    text
}

impl Error {
    /// What the user should do next, in one or two sentences: the CLI's
    /// words for [`Error::remedy`].
    pub fn hint(&self) -> String {
        self.remedy().cli()
    }

    /// What the user should do next, as data: the option, command or
    /// setting to use, which the CLI and the app each name in their own way.
    pub fn remedy(&self) -> Remedy {
        match self {
            Error::UnknownSlurmVersion { known, .. } => remedy![
                format!(
                    "use one of {} or a full Spack version such as ",
                    known.join(", ")
                ),
                code("24-11-6-1")
            ],
            Error::MinimalWithGpu => remedy![
                "drop ",
                build_option!("minimal"),
                " to build a GPU package, or drop ",
                build_option!("gpu"),
                " for a minimal one"
            ],
            Error::InvalidTarget { .. } => remedy![
                "use a Spack target name such as ",
                code("x86_64_v3"),
                ", ",
                code("zen3"),
                " or ",
                code("skylake_avx512"),
                " (",
                Command::Detect,
                " suggests one for this machine)"
            ],
            Error::UnknownTarget { known, .. } => remedy![
                "use a Spack target archspec knows (",
                Command::Detect,
                format!(" suggests one): {}", known.join(", "))
            ],
            Error::InvalidGpuArch { vendor, .. } => match vendor {
                GpuVendor::Cuda => remedy![
                    "give CUDA compute capabilities as numbers, e.g. ",
                    code("80"),
                    " or ",
                    code("80,90")
                ],
                GpuVendor::Rocm => remedy![
                    "give ROCm targets as gfx names, e.g. ",
                    code("gfx90a"),
                    " or ",
                    code("gfx90a,gfx942")
                ],
            },
            Error::GpuArchWithoutGpu => {
                remedy![
                    "add ",
                    build_option!("gpu", "cuda"),
                    " or ",
                    build_option!("gpu", "rocm")
                ]
            }
            Error::InvalidJobs(_) => {
                remedy![
                    "pass ",
                    build_option!("jobs", "N"),
                    " with N between 1 and 1024"
                ]
            }
            Error::InvalidValue { .. } => remedy!["check the value against ", Flag::Help],
            Error::ConfigUnreadable { path, .. } => remedy![
                format!("make {} readable, or point ", path.display()),
                code("SLURM_FACTORY_CONFIG"),
                " at another file"
            ],
            Error::ConfigMalformed { path, .. } => remedy![
                format!("fix {} (TOML; ", path.display()),
                Command::ConfigShow,
                " lists the keys)"
            ],
            Error::EnvOverride { var, .. } => remedy![
                "fix or unset ",
                code(var.as_str()),
                "; ",
                Command::ConfigShow,
                " lists valid values"
            ],
            Error::LxcNotFound { binary } => remedy![
                "install LXD (",
                code("apt-get install lxd lxd-client"),
                " on Debian, ",
                code("snap install lxd"),
                " elsewhere) and run ",
                code("lxd init"),
                ", or set ",
                code("SLURM_FACTORY_LXC_BINARY"),
                " if ",
                code(binary.as_str()),
                " lives elsewhere"
            ],
            Error::LxdUnreachable { .. } => remedy![
                "start the daemon (",
                code("systemctl start lxd"),
                ", or ",
                code("lxd --group lxd &"),
                ") and run ",
                code("lxd init"),
                " once"
            ],
            Error::LxdPermission { .. } => remedy![
                "add your user to the ",
                code("lxd"),
                " group (",
                code("sudo usermod -aG lxd $USER"),
                "), then log out and in again"
            ],
            Error::StoragePoolMissing { pool } => remedy![
                "create it (",
                code(format!("lxc storage create {pool} dir")),
                ") or run ",
                code("lxd init"),
                "; set ",
                setting("storage_pool"),
                " to use another pool"
            ],
            Error::NetworkNotCreated {
                network,
                subnet,
                detail,
            } => {
                let mut parts = Vec::new();
                if detail.contains("iptables") || detail.contains("nft") {
                    parts.extend(
                        remedy![
                        "LXD needs the host's firewall tool to run a bridge: install iptables (",
                        code("apt install iptables"),
                        ") and run the build again; otherwise "
                    ]
                        .0,
                    );
                }
                parts.extend(
                    remedy![
                        "create it yourself (",
                        code(format!(
                            "lxc network create {network} ipv4.address={subnet} \
                             ipv4.nat=false ipv6.address=none"
                        )),
                        "), or set ",
                        setting("verify_subnet"),
                        " to a free range or ",
                        setting("verify_network"),
                        " to another private bridge"
                    ]
                    .0,
                );
                Remedy(parts)
            }
            Error::NetworkUnusable { .. } => remedy![
                "set ",
                setting("verify_network"),
                " (",
                code("SLURM_FACTORY_VERIFY_NETWORK"),
                ") to a new name, which is created as a private bridge, or to a managed bridge \
                 with an IPv4 address"
            ],
            Error::ImageNotFound { image } => remedy![
                code("lxc image list"),
                " shows the images there are; import one (",
                code(format!("lxc image import TARBALL --alias {image}")),
                "), or set ",
                setting("image"),
                " to another image (",
                code("remote:alias"),
                " for a remote one)"
            ],
            Error::InstanceNotFound { .. } => remedy![
                "it was deleted while in use (",
                Command::Clean,
                " or ",
                code("lxc delete"),
                "); run the command again"
            ],
            Error::HostRootMapped { .. } => remedy![
                "build code must not act as root of this machine on the mounted cache dirs: \
                 take ",
                code("security.privileged"),
                " and any ",
                code("raw.idmap"),
                " out of the default profile (",
                code("lxc profile show default"),
                "), then run the command again"
            ],
            Error::InstanceNotReady { name, .. } => remedy![
                "see why it did not boot with ",
                code(format!("lxc console {name} --show-log")),
                " and ",
                code(format!("lxc info {name} --show-log")),
                "; the image needs /sbin/init"
            ],
            Error::Lxc { .. } => remedy![
                "run the command by hand to see more; ",
                Command::Doctor,
                " checks the LXD setup"
            ],
            Error::DiskFull { path, .. } => remedy![
                format!("free space in {} (", path.display()),
                Command::CacheClean,
                " removes cached layers) or move the cache with ",
                setting("cache_dir")
            ],
            Error::LxdLost { .. } => remedy![
                "the build's commands run through the LXD daemon and broke with it: check it (",
                code("lxc info"),
                ", its log or ",
                code("journalctl -u lxd"),
                "), then build again; ",
                Command::Clean,
                " removes what this run left, and the caches are whole"
            ],
            Error::RanOutOfDisk { path, .. } => remedy![
                format!("free space in {} (", path.display()),
                Command::CacheClean,
                " removes cached layers, ",
                Command::ArtifactsDelete,
                " old packages) and build again: what the caches and the artifact store hold \
                 is whole; or move them with ",
                setting("cache_dir"),
                " and ",
                setting("data_dir")
            ],
            Error::PoolFull { pool, .. } => remedy![
                "the build instances' disks are on that pool: ",
                code(format!("lxc storage info {pool}")),
                " shows what uses it; ",
                Command::Clean,
                " deletes instances earlier builds left and ",
                code("lxc image list"),
                " shows old images; grow a loop-backed pool with ",
                code(format!("lxc storage set {pool} size=…")),
                ", or set ",
                setting("storage_pool"),
                " to a larger one; then build again: the caches and the artifact store are whole"
            ],
            Error::Io { path, .. } => {
                remedy![format!(
                    "check that {} exists and is writable",
                    path.display()
                )]
            }
            Error::NotReady { fixes, .. } if !fixes.0.is_empty() => {
                let mut remedy = fixes.clone();
                remedy
                    .0
                    .extend(remedy!["; then ", Command::Doctor, " checks again"].0);
                remedy
            }
            Error::NotReady { .. } => remedy![
                "run ",
                Command::Doctor,
                " and apply the fix it prints for each failed check"
            ],
            Error::BuildFailed { log, .. } => remedy![
                format!("read the full log in {}; rerun with ", log.display()),
                build_option!("keep_on_failure"),
                " to keep the build instance for a look inside (",
                code("lxc exec <instance> -- bash"),
                ")"
            ],
            Error::GlibcTooOld { needed, .. } => remedy![
                format!(
                    "the package runs only where glibc is {needed} or newer (the build \
                     system's glibc decides which versions its binaries use): build it on the \
                     oldest OS it must run on (set "
                ),
                setting("image"),
                " to it), or, if it is only for newer systems, verify it on one of those (",
                setting("verify_image"),
                ")"
            ],
            Error::VerifyFailed { log, .. } => remedy![
                format!(
                    "the package would not run at another prefix; see {} for the checks, and \
                     the package templates (",
                    log.display()
                ),
                Command::TemplatesExport,
                ") for how it was relocated"
            ],
            Error::OfflineSetup { fix, .. } => remedy![fix.as_str()],
            Error::SourcesMissing { wanted, log, .. } => remedy![
                format!(
                    "put each source archive in the mirror layer under the name Spack wants \
                     ({}), or fill the mirror where there is network (",
                    wanted
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Command::MirrorCreate,
                " with the same request, then ",
                Command::MirrorExport,
                " there and ",
                Command::MirrorImport,
                format!(" here); the run's log is in {}", log.display())
            ],
            Error::PresetInvalid { .. } => remedy![
                "a preset is YAML whose keys are build options' names (slurm_version, gpu, \
                 jobs, gzip, keep_headers, publish, ...: the flags with `_` for `-`); ",
                Command::PlanSavePreset,
                " writes a valid one"
            ],
            Error::RemoteUnusable { remote, .. } => remedy![
                Command::Doctor.with(format!("--remote {}", shown(remote))),
                " says what is wrong with it; ",
                code("lxc remote list"),
                " shows the names this client knows; or leave it out of the ",
                setting("remotes"),
                " setting (or the ",
                Flag::Remote,
                " flags)"
            ],
            Error::NoServerLeft { .. } => remedy![
                "start the servers again (",
                code("lxc info REMOTE:"),
                " answers once one is back), then ",
                Command::MatrixResume,
                " builds only what is not verified yet"
            ],
            Error::MatrixInvalid { .. } => remedy![
                "a matrix is YAML: ",
                code("axes:"),
                " maps request fields (slurm_version, minimal, gpu, gpu_arch, target, jobs, \
                 compiler, toolchain) to lists of values; ",
                code("base:"),
                " holds fields every build shares and ",
                code("exclude:"),
                " combinations to leave out; ",
                Command::MatrixDryRun,
                " lists the builds"
            ],
            Error::RunNotFound { .. } => remedy!["list runs with ", Command::RunsList],
            Error::UnknownToolchain { known, .. } if known.is_empty() => remedy![
                "a toolchain is a lowercase name of letters, digits and ",
                code("."),
                ", like debian12 or ubuntu24.04"
            ],
            Error::UnknownToolchain { known, .. } => remedy![format!(
                "use one of {} (files in the templates' toolchains/; add your own there)",
                known.join(", ")
            )],
            Error::Template { user: true, .. } => remedy![
                "fix that file in your templates dir (setting ",
                setting("templates_dir"),
                "), or delete it to use the built-in one; ",
                Command::TemplatesExport,
                " writes the originals"
            ],
            Error::Template { user: false, .. } => {
                remedy!["a built-in template is broken: please report this bug"]
            }
            Error::RecipeInvalid { .. } => remedy![
                "check the templates in your templates dir against the built-ins (",
                Command::TemplatesExport,
                "); ",
                Command::PlanOutput,
                " shows what was rendered"
            ],
            Error::FileExists { .. } => remedy![
                "choose an empty directory, or pass ",
                Flag::Force,
                " to overwrite"
            ],
            Error::Cancelled => remedy!["nothing was kept; run the command again to retry"],
            Error::RunRecordMalformed { path, .. } => remedy![format!(
                "the run's record was cut off or edited (a crash mid-write?); its log and \
                 events are still in {}; delete that directory if you no longer need the run",
                path.parent().unwrap_or(path).display()
            )],
            Error::ManifestMalformed { .. } => remedy![
                "the artifact is damaged or from an incompatible version; delete it (",
                Command::ArtifactsDelete,
                ") and build it again"
            ],
            Error::InvalidArtifactId { .. } | Error::ArtifactNotFound { .. } => {
                remedy![Command::ArtifactsList, " shows the ids in the store"]
            }
            Error::ArtifactIncomplete { .. } => {
                remedy!["a file of the artifact is missing; delete it and build it again"]
            }
            Error::ChecksumMismatch { .. } => remedy![
                "the file was damaged on disk; nothing was written at the destination. Build \
                 the package again (",
                Command::ArtifactsDelete,
                " removes the bad copy)"
            ],
            Error::BundleInvalid { .. } => remedy![
                "nothing was imported. Copy the bundle again from the machine that made it (",
                Command::MirrorExport,
                " there), and compare its sha256 with the one export printed"
            ],
            Error::ExportTargetExists { .. } => remedy![
                "pass ",
                Flag::Force,
                " to replace it, or choose another destination"
            ],
            Error::NeedsConfirmation { .. } => remedy!["pass ", Flag::Yes, " to confirm"],
            Error::Signing { .. } => remedy![
                "give ",
                build_option!("sign"),
                " a key id your keyring holds (",
                code("gpg --list-secret-keys"),
                "), without a passphrase or with gpg-agent holding it, or a file with the \
                 secret key (",
                code("gpg --armor --export-secret-keys ID > key.asc"),
                ")"
            ],
            Error::SignatureInvalid { .. } => remedy![
                "do not use the file: get it again from its publisher, and check that you have \
                 their public key (",
                Flag::Key.with("FILE"),
                ")"
            ],
            Error::BuildcacheUnreadable { .. } => remedy![
                "Spack would have compiled what it holds: give the registry's login with ",
                build_option!("from_credentials", "FILE"),
                " (and its CA with ",
                build_option!("from_registry_ca", "FILE"),
                "), check the URL, or build without that ",
                build_option!("install_from")
            ],
            Error::BuildcacheRefused { log, .. } => remedy![
                "an entry of a signed buildcache that does not verify was changed, or signed \
                 by a key you do not trust: ask its publisher to publish it again, give its \
                 key with ",
                build_option!("trust", "FILE"),
                ", or build without ",
                build_option!("install_from"),
                format!("; the check's output is in {}", log.display())
            ],
        }
    }

    pub fn kind(&self) -> ExitKind {
        match self {
            Error::UnknownSlurmVersion { .. }
            | Error::MinimalWithGpu
            | Error::InvalidTarget { .. }
            | Error::UnknownTarget { .. }
            | Error::InvalidGpuArch { .. }
            | Error::GpuArchWithoutGpu
            | Error::InvalidJobs(_)
            | Error::InvalidValue { .. } => ExitKind::Usage,
            Error::ConfigUnreadable { .. }
            | Error::ConfigMalformed { .. }
            | Error::EnvOverride { .. } => ExitKind::Config,
            Error::LxcNotFound { .. }
            | Error::LxdUnreachable { .. }
            | Error::LxdPermission { .. }
            | Error::StoragePoolMissing { .. }
            | Error::ImageNotFound { .. }
            | Error::NetworkNotCreated { .. }
            | Error::NetworkUnusable { .. }
            | Error::DiskFull { .. }
            | Error::RanOutOfDisk { .. }
            | Error::PoolFull { .. }
            | Error::LxdLost { .. }
            | Error::RemoteUnusable { .. }
            | Error::NoServerLeft { .. }
            | Error::NotReady { .. }
            | Error::OfflineSetup { .. } => ExitKind::Environment,
            Error::BuildFailed { .. }
            | Error::VerifyFailed { .. }
            | Error::GlibcTooOld { .. }
            | Error::SourcesMissing { .. } => ExitKind::Build,
            Error::RunNotFound { .. }
            | Error::PresetInvalid { .. }
            | Error::MatrixInvalid { .. }
            | Error::UnknownToolchain { .. } => ExitKind::Usage,
            Error::InstanceNotFound { .. } | Error::InstanceNotReady { .. } | Error::Lxc { .. } => {
                ExitKind::Build
            }
            Error::HostRootMapped { .. } => ExitKind::Environment,
            Error::InvalidArtifactId { .. }
            | Error::ArtifactNotFound { .. }
            | Error::ExportTargetExists { .. }
            | Error::BundleInvalid { .. }
            | Error::NeedsConfirmation { .. }
            | Error::Signing { .. } => ExitKind::Usage,
            Error::SignatureInvalid { .. }
            | Error::BuildcacheRefused { .. }
            | Error::BuildcacheUnreadable { .. } => ExitKind::Build,
            Error::ManifestMalformed { .. }
            | Error::RunRecordMalformed { .. }
            | Error::ArtifactIncomplete { .. }
            | Error::ChecksumMismatch { .. } => ExitKind::Build,
            Error::Template { user: true, .. } | Error::RecipeInvalid { .. } => ExitKind::Config,
            Error::FileExists { .. } => ExitKind::Usage,
            Error::Template { user: false, .. } => ExitKind::Internal,
            Error::Io { .. } => ExitKind::Internal,
            Error::Cancelled => ExitKind::Cancelled,
        }
    }

    pub fn io(context: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            context,
            path: path.into(),
            source,
        }
    }
}

impl From<crate::kinds::UnknownKind> for Error {
    fn from(e: crate::kinds::UnknownKind) -> Error {
        Error::InvalidValue {
            what: e.what,
            value: e.value,
            reason: format!("expected one of {}", e.expected),
        }
    }
}

/// A serializable rendering of an error for `--json` output and the UI.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorReport {
    pub error: String,
    /// The remedy as the CLI says it.
    pub hint: String,
    /// The remedy as data, for the app to name its own fields and pages.
    #[serde(default)]
    pub remedy: Remedy,
    pub kind: ExitKind,
    pub exit_code: u8,
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        ErrorReport {
            error: e.to_string(),
            hint: e.hint(),
            remedy: e.remedy(),
            kind: e.kind(),
            exit_code: e.kind().code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_in_errors_is_one_short_line() {
        assert_eq!(shown("zen3"), "zen3");
        assert_eq!(shown("a\nb\0c\u{1b}"), "a\\nb\\0c\\u{1b}");
        let long = "é".repeat(100_000);
        assert_eq!(
            shown(&long),
            format!("{}… (100000 characters)", "é".repeat(64))
        );
        let err = Error::UnknownTarget {
            target: format!("x\n{}", "y".repeat(5000)),
            known: Vec::new(),
        };
        assert!(
            err.to_string().len() < 200 && !err.to_string().contains('\n'),
            "{err}"
        );
    }

    #[test]
    fn every_kind_has_a_distinct_exit_code() {
        let kinds = [
            ExitKind::Internal,
            ExitKind::Usage,
            ExitKind::Config,
            ExitKind::Environment,
            ExitKind::Build,
            ExitKind::Cancelled,
        ];
        let mut codes: Vec<u8> = kinds.iter().map(|k| k.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
    }

    #[test]
    fn report_carries_message_hint_and_code() {
        let e = Error::StoragePoolMissing {
            pool: "fast".into(),
        };
        let r = ErrorReport::from(&e);
        assert_eq!(r.error, "LXD storage pool `fast` does not exist");
        assert!(r.hint.contains("lxc storage create fast dir"), "{}", r.hint);
        assert_eq!(r.exit_code, 4);
    }

    #[test]
    fn unknown_version_hint_lists_known_versions() {
        let e = Error::UnknownSlurmVersion {
            version: "99.1".into(),
            known: vec!["25.05".into(), "24.11".into()],
        };
        assert_eq!(e.kind(), ExitKind::Usage);
        assert!(e.hint().contains("25.05, 24.11"));
    }
}
