//! A build's options put together (the resolved request and the flags), the
//! flags' checks, and what a run hands back. The options themselves are
//! described in `crate::options`.

use std::path::PathBuf;

use serde::Serialize;

use crate::caches::mirror::OfflineTrees;
use crate::caches::sources::SourcesReport;
use crate::error::{Error, Result};
pub use crate::options::{BuildFlags, PackageOptions};
use crate::publish::PublishOptions;
use crate::request::ResolvedRequest;

/// Everything a build needs besides the settings.
#[derive(Debug, Clone, Serialize)]
pub struct BuildOptions {
    pub request: ResolvedRequest,
    #[serde(flatten)]
    pub flags: BuildFlags,
}

impl BuildFlags {
    /// Bad values, and options given without the one they need or with one
    /// they exclude, refused for the app, presets and matrices as for the CLI.
    pub fn check(&self) -> Result<()> {
        let (given, defaults) = self.with_defaults();
        crate::options::check_values(&BuildFlags::all_options(), &given, &defaults).map_err(
            |refused| Error::InvalidValue {
                what: "build options",
                value: refused.value,
                reason: refused.reason,
            },
        )
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

impl BuildOptions {
    /// What the user should know before this build starts: the CLI's and the
    /// app's plan show them, the build's preflight emits them.
    pub fn warnings(&self) -> Vec<String> {
        warnings(&self.request, &self.flags)
    }
}

/// [`BuildOptions::warnings`] of a request and flags not yet put together.
pub fn warnings(request: &ResolvedRequest, flags: &BuildFlags) -> Vec<String> {
    let mut warnings: Vec<String> = request.slurm.warning().into_iter().collect();
    if !flags.install_from.is_empty() && flags.trust.is_empty() {
        warnings.push(format!(
            "binaries from {} are installed unchecked: whatever that buildcache holds is \
             installed, whoever built it; give the publisher's public key (trust) to install \
             only what it signed",
            flags.install_from.join(", ")
        ));
    }
    warnings
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
