//! The flags of a build (how it runs, what its package keeps, where it is
//! published, what it installs from), described once.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{options_struct, Choice, OptionGroup, OptionKind, OptionType};
use crate::kinds::UnknownKind;

options_struct! {
    /// The choices of a build besides its request: the CLI's flags, the
    /// desktop app's Advanced form, one flat object of them (option name →
    /// value) in between. Each option's doc comment is its help.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
    #[serde(default)]
    pub struct BuildFlags {
        /// Keep the build instance when the build fails, to look inside.
        #[option(flag = Some("keep"), label = "Keep the build container when the build fails")]
        pub keep_on_failure: bool = false,
        /// No network: Spack, spack-packages and clingo from the local copies the settings
        /// spack_root, spack_packages_root and wheels_dir name; sources from the mirror layer.
        #[option(label = "Offline: Spack, its recipes and clingo from the local copies in Settings; sources from the mirror layer")]
        pub offline: bool = false,
        /// Verify the package at another prefix in a clean instance.
        #[option(inverted = true, label = "Verify the package in a clean container")]
        pub verify: bool = true,
        /// Also write a .tar.gz next to the .tar.zst (verify uses it where there is no zstd).
        #[option(label = "Also write a .tar.gz for systems without zstd")]
        pub gzip: bool = false,
        /// A label kept in the package's manifest and shown with it (the cluster, course or
        /// ticket it is for): one line, at most 120 characters.
        #[option(value_name = "TEXT", recorded = true, check = Some(super::short_text), label = "Label")]
        pub label: Option<String> = None,
        /// Publish the build once stored: its Spack binaries to the buildcache at URL
        /// (file:///DIR, s3://BUCKET/PATH, oci://REGISTRY/REPO, oci+http://… for a registry
        /// without TLS), its archives and manifest beside them: DIR/packages/<artifact id>/,
        /// s3://BUCKET/PATH/packages/<artifact id>/, or REGISTRY/REPO:<artifact id>.
        #[option(group = OptionGroup::Publishing, value_name = "URL", label = "Publish to")]
        pub publish: Option<String> = None,
        /// Which binaries are published: all, deps (everything but Slurm) or none.
        #[option(group = OptionGroup::Publishing, value_name = "SCOPE", requires = Some("publish"), label = "Binaries")]
        pub buildcache: BuildcacheScope = BuildcacheScope::All,
        /// Sign what is published with this GPG key: a key id of your keyring (no passphrase,
        /// or gpg-agent holding it) or a file with the secret key. Spack signs file:// and
        /// s3:// buildcaches, not OCI ones (publish no binaries there).
        #[option(group = OptionGroup::Publishing, value_name = "KEY", requires = Some("publish"), label = "Sign with GPG key")]
        pub sign: Option<String> = None,
        /// The login to publish with: a file of `username=NAME` and `password=SECRET` lines
        /// (OCI), or an S3 key as in ~/.aws/credentials. The secret never reaches an argv or
        /// a log.
        #[option(group = OptionGroup::Publishing, value_name = "FILE", requires = Some("publish"), label = "Login")]
        pub credentials: Option<String> = None,
        /// A CA certificate (PEM) the registry's or S3 endpoint's TLS certificate is signed
        /// by, trusted for the push besides the system's (a site's own).
        #[option(group = OptionGroup::Publishing, value_name = "FILE", requires = Some("publish"), label = "CA certificate")]
        pub registry_ca: Option<String> = None,
        /// The S3 endpoint of an s3:// URL to publish to (https://HOST[:PORT], a site's own
        /// object store); without it, Amazon S3.
        #[option(group = OptionGroup::Publishing, value_name = "URL", requires = Some("publish"), label = "S3 endpoint")]
        pub s3_endpoint: Option<String> = None,
        /// Also install binaries from this published buildcache (file:///DIR,
        /// s3://BUCKET/PATH, oci://…). Repeatable.
        #[option(group = OptionGroup::InstallFrom, flag = Some("from"), value_name = "URL", label = "Install from")]
        pub install_from: Vec<String> = Vec::new(),
        /// A publisher's public key (a file): the buildcaches installed from must be signed
        /// by it, and an entry that does not verify stops the build. Repeatable.
        #[option(group = OptionGroup::InstallFrom, requires = Some("install_from"), label = "Trusted key")]
        #[cfg_attr(feature = "ts", ts(as = "Vec<String>"))]
        pub trust: Vec<PathBuf> = Vec::new(),
        /// The login of the OCI registries (a file of `username=NAME` and `password=SECRET`
        /// lines) or S3 buckets (a key as in ~/.aws/credentials) installed from.
        #[option(group = OptionGroup::InstallFrom, requires = Some("install_from"), label = "Login")]
        #[cfg_attr(feature = "ts", ts(as = "Option<String>"))]
        pub from_credentials: Option<PathBuf> = None,
        /// A CA certificate (PEM) the TLS certificates of the registries or S3 endpoint
        /// installed from are signed by.
        #[option(group = OptionGroup::InstallFrom, requires = Some("install_from"), label = "CA certificate")]
        #[cfg_attr(feature = "ts", ts(as = "Option<String>"))]
        pub from_registry_ca: Option<PathBuf> = None,
        /// The S3 endpoint of the s3:// buckets installed from (https://HOST[:PORT]); without
        /// it, Amazon S3.
        #[option(group = OptionGroup::InstallFrom, value_name = "URL", requires = Some("install_from"), label = "S3 endpoint")]
        pub from_s3_endpoint: Option<String> = None,
        /// Install from an oci+http:// registry: plain HTTP, which anyone on the way can read
        /// and change (a registry on this machine, a closed lab network).
        #[option(group = OptionGroup::InstallFrom, requires = Some("install_from"), label = "Allow a registry without TLS (oci+http://)")]
        pub from_plain_http: bool = false,
        #[nested]
        /// What the package keeps besides the runtime tree, and its modules.
        pub package: PackageOptions,
    }
}

options_struct! {
    /// What the package keeps besides the runtime tree, and its module layout.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
    #[serde(default)]
    pub struct PackageOptions {
        /// Keep headers and pkg-config files (for building against this Slurm).
        #[option(group = OptionGroup::Package, recorded = true, label = "Keep headers and pkg-config files (to build plugins against it)")]
        pub keep_headers: bool = false,
        /// Keep static archives (.a).
        #[option(group = OptionGroup::Package, recorded = true, label = "Keep static libraries (.a)")]
        pub keep_static: bool = false,
        /// Keep share/doc and share/info.
        #[option(group = OptionGroup::Package, recorded = true, label = "Keep documentation (share/doc, share/info)")]
        pub keep_docs: bool = false,
        /// Leave debug info in the binaries (bigger package).
        #[option(group = OptionGroup::Package, recorded = true, label = "Leave debug info in the binaries (bigger package)")]
        pub no_strip: bool = false,
        /// Keep the stripped debug info as a second archive, <name>-debug.tar.zst (of stripped
        /// binaries: unstripped ones keep theirs).
        #[option(group = OptionGroup::Package, recorded = true, conflicts = Some("no_strip"), label = "Keep the stripped debug info in a second archive")]
        pub debug_archive: bool = false,
        /// Lmod module layout: flat (modules/lmod/slurm.lua) or hierarchy (Core/slurm/<ver>.lua,
        /// and with OpenMPI Core/gcc/<ver>.lua opening Compiler/gcc/<ver>/openmpi/<ver>.lua).
        #[option(group = OptionGroup::Package, recorded = true, value_name = "LAYOUT", label = "Lmod modules")]
        pub modules: ModuleLayout = ModuleLayout::Flat,
    }
}

/// How the Lmod modules are laid out in the package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum ModuleLayout {
    /// `modules/lmod/slurm.lua`: `module use <prefix>/modules/lmod; module load slurm`.
    #[default]
    Flat,
    /// Lmod's hierarchy under `modules/lmod/`: `Core/slurm/<ver>.lua`, and with
    /// OpenMPI `Core/gcc/<ver>.lua` opening `Compiler/gcc/<ver>/openmpi/<ver>.lua`.
    Hierarchy,
}

impl ModuleLayout {
    pub const ALL: [ModuleLayout; 2] = [ModuleLayout::Flat, ModuleLayout::Hierarchy];

    pub const fn as_str(self) -> &'static str {
        match self {
            ModuleLayout::Flat => "flat",
            ModuleLayout::Hierarchy => "hierarchy",
        }
    }
}

impl OptionType for ModuleLayout {
    const KIND: OptionKind = OptionKind::Choice;
    const VALUE_NAME: &'static str = "LAYOUT";
    const CHOICES: &'static [Choice] = &[
        Choice {
            value: ModuleLayout::Flat.as_str(),
            help: "modules/lmod/slurm.lua",
        },
        Choice {
            value: ModuleLayout::Hierarchy.as_str(),
            help: "Lmod's hierarchy: Core/slurm/<ver>.lua, OpenMPI under its compiler",
        },
    ];
}

impl std::str::FromStr for ModuleLayout {
    type Err = UnknownKind;
    fn from_str(s: &str) -> std::result::Result<ModuleLayout, Self::Err> {
        ModuleLayout::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownKind {
                what: "module layout",
                value: s.into(),
                expected: ModuleLayout::ALL.map(|m| m.as_str()).join(", "),
            })
    }
}

/// Which of the build's Spack binaries go to the buildcache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum BuildcacheScope {
    /// Only the archives and manifest.
    None,
    /// Every dependency, not Slurm itself (a site that builds its own Slurm).
    Deps,
    /// Everything, Slurm too: a build that installs from it compiles nothing.
    #[default]
    All,
}

impl BuildcacheScope {
    pub const ALL: [BuildcacheScope; 3] = [
        BuildcacheScope::None,
        BuildcacheScope::Deps,
        BuildcacheScope::All,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            BuildcacheScope::None => "none",
            BuildcacheScope::Deps => "deps",
            BuildcacheScope::All => "all",
        }
    }
}

impl OptionType for BuildcacheScope {
    const KIND: OptionKind = OptionKind::Choice;
    const VALUE_NAME: &'static str = "SCOPE";
    const CHOICES: &'static [Choice] = &[
        Choice {
            value: BuildcacheScope::All.as_str(),
            help: "every binary, Slurm too: a build that installs from it compiles nothing",
        },
        Choice {
            value: BuildcacheScope::Deps.as_str(),
            help: "every dependency, not Slurm (a site that builds its own Slurm)",
        },
        Choice {
            value: BuildcacheScope::None.as_str(),
            help: "only the archives and manifest",
        },
    ];
}

impl std::str::FromStr for BuildcacheScope {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<BuildcacheScope, UnknownKind> {
        BuildcacheScope::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| UnknownKind {
                what: "buildcache scope",
                value: s.into(),
                expected: BuildcacheScope::ALL.map(|b| b.as_str()).join(", "),
            })
    }
}
