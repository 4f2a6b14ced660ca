//! What a build is asked for besides its request, and what a run hands back.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::mirror::OfflineTrees;
use crate::options::{options_struct, OptionGroup};
use crate::publish::{BuildcacheScope, PublishOptions};
use crate::request::ResolvedRequest;
use crate::sources::SourcesReport;

/// Everything a build needs besides the settings.
#[derive(Debug, Clone, Serialize)]
pub struct BuildOptions {
    pub request: ResolvedRequest,
    #[serde(flatten)]
    pub flags: BuildFlags,
}

options_struct! {
    /// The choices of a build besides its request: the CLI's flags, the
    /// desktop app's Advanced form, one flat object of them (option name →
    /// value) in between. Each option's doc comment is its help.
    #[derive(Debug, Clone, Serialize, Deserialize)]
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
        #[option(value_name = "TEXT", recorded = true, check = Some(crate::options::short_text), label = "Label")]
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
        #[nested]
        /// What the package keeps besides the runtime tree, and its modules.
        pub package: PackageOptions,
    }
}

impl BuildFlags {
    /// Bad values, and options given without the one they need or with one
    /// they exclude, refused for the app, presets and matrices as for the CLI.
    pub fn check(&self) -> Result<()> {
        let (given, defaults) = self.with_defaults();
        crate::options::check_values(&BuildFlags::all_options(), &given, &defaults)
    }

    /// What the package's manifest keeps of these options.
    pub fn recorded(&self) -> std::collections::BTreeMap<String, serde_json::Value> {
        let (given, defaults) = self.with_defaults();
        crate::options::recorded(&BuildFlags::all_options(), &given, &defaults)
    }

    fn with_defaults(&self) -> (serde_json::Value, serde_json::Value) {
        let json = |flags: &BuildFlags| serde_json::to_value(flags).expect("build flags serialize");
        (json(self), json(&BuildFlags::default()))
    }

    /// These flags, publishing as `publish` says.
    pub fn publishing(self, publish: PublishOptions) -> BuildFlags {
        BuildFlags {
            publish: Some(publish.to),
            buildcache: publish.buildcache,
            sign: publish.sign,
            credentials: publish.credentials,
            registry_ca: publish.registry_ca,
            s3_endpoint: publish.s3_endpoint,
            ..self
        }
    }

    /// Where and how the build is published, if it is.
    pub fn publish_options(&self) -> Option<PublishOptions> {
        self.publish.as_ref().map(|to| PublishOptions {
            to: to.clone(),
            buildcache: self.buildcache,
            sign: self.sign.clone(),
            credentials: self.credentials.clone(),
            registry_ca: self.registry_ca.clone(),
            s3_endpoint: self.s3_endpoint.clone(),
        })
    }
}

options_struct! {
    /// What the package keeps besides the runtime tree, and its module layout.
    #[derive(Debug, Clone, Serialize, Deserialize)]
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
        pub modules: crate::recipe::ModuleLayout = crate::recipe::ModuleLayout::Flat,
    }
}

impl PackageOptions {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_refuse_what_they_need_or_exclude_for_the_app_as_for_the_cli() {
        let signed = BuildFlags {
            sign: Some("builder@site.example".into()),
            ..BuildFlags::default()
        };
        let err = signed.check().unwrap_err().to_string();
        assert!(err.contains("sign without publish"), "{err}");
        let published = BuildFlags {
            publish: Some("file:///srv/cache".into()),
            ..signed
        };
        published.check().unwrap();

        let mut both = BuildFlags::default();
        both.package.no_strip = true;
        both.package.debug_archive = true;
        let err = both.check().unwrap_err().to_string();
        assert!(err.contains("debug_archive with no_strip"), "{err}");
    }

    #[test]
    fn a_label_is_one_short_line_and_recorded() {
        for bad in ["two\nlines", &"x".repeat(121)] {
            let flags = BuildFlags {
                label: Some(bad.to_string()),
                ..BuildFlags::default()
            };
            assert!(flags.check().is_err(), "{bad:?} accepted");
        }
        let mut flags = BuildFlags {
            label: Some("lab 3, room 101".into()),
            ..BuildFlags::default()
        };
        flags.package.modules = crate::recipe::ModuleLayout::Hierarchy;
        flags.check().unwrap();
        // Given and recorded: kept; defaults and what is not recorded: not.
        flags.gzip = true;
        let recorded: Vec<(String, serde_json::Value)> = flags.recorded().into_iter().collect();
        assert_eq!(
            recorded,
            [
                ("label".to_string(), serde_json::json!("lab 3, room 101")),
                ("modules".to_string(), serde_json::json!("hierarchy")),
            ]
        );
    }

    #[test]
    fn every_option_has_a_flag_of_its_own_help_and_existing_relations() {
        let options = BuildFlags::all_options();
        let mut flags: Vec<String> = options.iter().map(|o| o.flag()).collect();
        flags.sort();
        flags.dedup();
        assert_eq!(flags.len(), options.len(), "{flags:?}");
        for o in &options {
            assert!(!o.help().is_empty() && !o.label.is_empty(), "{}", o.name);
            for related in o.requires.iter().chain(&o.conflicts) {
                assert!(
                    options.iter().any(|x| x.name == *related),
                    "{}: {related}",
                    o.name
                );
            }
        }
    }
}
