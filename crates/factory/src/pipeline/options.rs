//! What a build is asked for besides its request, and what a run hands back.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::mirror::OfflineTrees;
use crate::publish::PublishOptions;
use crate::request::ResolvedRequest;
use crate::sources::SourcesReport;

/// Everything a build needs besides the settings.
#[derive(Debug, Clone, Serialize)]
pub struct BuildOptions {
    pub request: ResolvedRequest,
    #[serde(flatten)]
    pub flags: BuildFlags,
}

/// The choices of a build besides its request: the CLI's flags, the desktop
/// app's form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BuildFlags {
    /// Keep the build instance when the build fails, for debugging.
    pub keep_on_failure: bool,
    /// No network: Spack, spack-packages and the clingo wheels from the local
    /// copies the settings name (spack_root, spack_packages_root, wheels_dir).
    pub offline: bool,
    /// Run the verify stage (unpack at another prefix in a clean instance).
    pub verify: bool,
    /// Also write a `.tar.gz` for systems without zstd (written anyway when
    /// the verify image has no zstd, and verified then).
    pub gzip: bool,
    pub package: PackageOptions,
    /// Publish the build once it is stored (`--publish`).
    #[serde(default)]
    pub publish: Option<PublishOptions>,
    /// Buildcaches Spack installs from besides the local one (`--from URL`).
    #[serde(default)]
    pub install_from: Vec<String>,
    /// Public key files: with any, the `install_from` buildcaches must be
    /// signed by one of them (`--trust FILE`).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Vec<String>"))]
    pub trust: Vec<PathBuf>,
    /// The login of the `install_from` OCI registries or S3 buckets: a file
    /// of `username=` and `password=` lines, or an S3 key as in
    /// `~/.aws/credentials` (`--from-credentials FILE`).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<String>"))]
    pub from_credentials: Option<PathBuf>,
    /// A CA certificate (PEM) their TLS certificates are signed by.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<String>"))]
    pub from_registry_ca: Option<PathBuf>,
    /// The S3 endpoint of the `s3://` `install_from` buckets (none: Amazon S3).
    #[serde(default)]
    pub from_s3_endpoint: Option<String>,
}

impl Default for BuildFlags {
    /// What a build does without flags: verified, nothing kept, zstd only.
    fn default() -> BuildFlags {
        BuildFlags {
            keep_on_failure: false,
            offline: false,
            verify: true,
            gzip: false,
            package: PackageOptions::default(),
            publish: None,
            install_from: Vec::new(),
            trust: Vec::new(),
            from_credentials: None,
            from_registry_ca: None,
            from_s3_endpoint: None,
        }
    }
}

/// What the package keeps besides the runtime tree.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PackageOptions {
    pub keep_headers: bool,
    pub keep_static: bool,
    pub keep_docs: bool,
    /// Leave debug info in the binaries.
    pub no_strip: bool,
    /// Keep the stripped debug info as a second archive, `<name>-debug.tar.zst`.
    pub debug_archive: bool,
    /// How the Lmod modules are laid out in the package.
    #[serde(default)]
    pub modules: crate::recipe::ModuleLayout,
}

impl PackageOptions {
    /// Options that contradict each other: refused for the app, presets and
    /// matrices as for the CLI.
    pub fn check(&self) -> Result<()> {
        if self.debug_archive && self.no_strip {
            return Err(Error::InvalidValue {
                what: "package options",
                value: "debug_archive with no_strip".into(),
                reason: "unstripped binaries keep their debug info, so there is none to put in \
                         a debug archive: choose one of the two"
                    .into(),
            });
        }
        Ok(())
    }

    /// relocate.sh's flags for these (checked) options.
    pub(super) fn relocate_args(&self, debug_dir: &str) -> Vec<String> {
        let mut args = Vec::new();
        for (on, flag) in [
            (self.keep_headers, "--keep-headers"),
            (self.keep_static, "--keep-static"),
            (self.keep_docs, "--keep-docs"),
            (self.no_strip, "--no-strip"),
        ] {
            if on {
                args.push(flag.to_string());
            }
        }
        if self.debug_archive {
            args.extend(["--debug-tarball-dir".to_string(), debug_dir.to_string()]);
        }
        args
    }
}

/// What a finished build produced.
#[derive(Debug, Clone, Serialize)]
pub struct BuildResult {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub artifact_id: String,
}

/// What `mirror check` and `mirror create` found.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MirrorResult {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub sources: SourcesReport,
    /// `mirror create`: where the snapshot of Spack, spack-packages and the
    /// wheels now lives (the settings name it).
    pub offline: Option<OfflineTrees>,
}
