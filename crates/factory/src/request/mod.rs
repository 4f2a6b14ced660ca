//! What the user asks to build, and the checks that turn it into a [`ResolvedRequest`].
//!
//! Every value here may end up in a container's argv or a rendered Spack
//! environment, so each one is matched against an allow-list or a strict
//! pattern: nothing with shell metacharacters gets through.

pub mod catalog;
pub mod presets;

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::kinds::GpuVendor;
use crate::request::catalog::{Catalog, Release, Support};

pub use crate::options::{BuildRequest, Compiler};

/// The three kinds of package Slurm Factory builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase", tag = "kind", content = "vendor")]
pub enum PackageType {
    /// CPU-optimized Slurm with hwloc, PMIx, slurmrestd and OpenMPI.
    Default,
    /// The default package plus GPU support.
    Gpu(GpuVendor),
    /// Slurm alone.
    Minimal,
}

impl PackageType {
    /// Short name used in artifact names: `default`, `cuda`, `rocm`, `minimal`.
    pub fn label(self) -> &'static str {
        match self {
            PackageType::Default => "default",
            PackageType::Gpu(v) => v.as_str(),
            PackageType::Minimal => "minimal",
        }
    }

    /// One line on what the package contains.
    pub fn summary(self) -> &'static str {
        match self {
            PackageType::Default => "Slurm +hwloc +pmix +restd +readline, OpenMPI on the same PMIx",
            PackageType::Gpu(GpuVendor::Cuda) => {
                "the default package plus NVIDIA GPU support (+nvml, cuda_arch)"
            }
            PackageType::Gpu(GpuVendor::Rocm) => {
                "the default package plus AMD GPU support (+rsmi, amdgpu_target)"
            }
            PackageType::Minimal => "Slurm alone, with the fewest dependencies",
        }
    }

    /// How many clean instances verify runs the package on: two for a
    /// package with MPI (its job must cross hosts), one for Slurm alone.
    pub fn verify_nodes(self) -> usize {
        match self {
            PackageType::Minimal => 1,
            PackageType::Default | PackageType::Gpu(_) => 2,
        }
    }
}

/// Where the Slurm version came from in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SlurmVersion {
    /// The short name (`24.11`) or, for versions outside the catalogue, the Spack version.
    pub name: String,
    /// Spack's version string for `slurm@…`.
    pub spack: String,
    /// Whether the catalogue knows this release.
    pub cataloged: bool,
    /// Whether SchedMD still supports it.
    pub support: Support,
    /// The sha256 of its source archive, from the catalogue (none outside it:
    /// then Spack's own recipe must know the version).
    pub sha256: Option<String>,
    /// The last day SchedMD supports it (`2027-11-30`), from the catalogue.
    pub support_ends: Option<String>,
    /// The newest supported release when this one is past its support.
    pub newest_supported: Option<String>,
}

impl SlurmVersion {
    /// The warning a build of this release carries, if any.
    pub fn warning(&self) -> Option<String> {
        match self.support {
            Support::Ended => Some(format!(
                "Slurm {} is past SchedMD's end of support ({}): it gets no more fixes, \
                 security fixes included; build a supported release{} unless a cluster needs this one",
                self.name,
                self.support_ends.as_deref().unwrap_or("date unknown"),
                self.newest_supported
                    .as_deref()
                    .map(|v| format!(" (the newest is {v})"))
                    .unwrap_or_default()
            )),
            Support::Supported | Support::Unknown => None,
        }
    }
}

/// The request an artifact was built from, as its manifest records it (a
/// serialized [`ResolvedRequest`]), as a request to resolve again: nothing
/// read from a file skips validation.
pub fn recorded_request(recorded: &serde_json::Value) -> std::result::Result<BuildRequest, String> {
    #[derive(Deserialize)]
    struct Recorded {
        slurm: RecordedSlurm,
        package_type: PackageType,
        target: String,
        gpu_arch: Vec<String>,
        jobs: u32,
        compiler: Compiler,
        #[serde(default)]
        toolchain: Option<String>,
    }
    #[derive(Deserialize)]
    struct RecordedSlurm {
        spack: String,
    }
    let r: Recorded = serde_json::from_value(recorded.clone()).map_err(|e| e.to_string())?;
    Ok(BuildRequest {
        slurm_version: r.slurm.spack,
        gpu: match r.package_type {
            PackageType::Gpu(vendor) => Some(vendor),
            _ => None,
        },
        minimal: r.package_type == PackageType::Minimal,
        target: Some(r.target),
        gpu_arch: r.gpu_arch,
        jobs: Some(r.jobs),
        compiler: r.compiler,
        toolchain: r.toolchain,
    })
}

/// A request that passed validation; every field is safe to render and to pass as argv.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ResolvedRequest {
    pub slurm: SlurmVersion,
    pub package_type: PackageType,
    pub target: String,
    /// Whether `target` was chosen by the user (`false`: it is a suggestion).
    pub target_from_user: bool,
    pub gpu_arch: Vec<String>,
    pub jobs: u32,
    pub compiler: Compiler,
    /// The toolchain's name, checked for its shape (the templates say whether it exists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toolchain: Option<String>,
}

impl ResolvedRequest {
    /// The GPU stack the package is built for, if any.
    pub fn gpu_vendor(&self) -> Option<GpuVendor> {
        match self.package_type {
            PackageType::Gpu(v) => Some(v),
            PackageType::Default | PackageType::Minimal => None,
        }
    }

    /// `slurm-24.11-cuda-x86_64_v3` (`-rocky9` with a toolchain): the
    /// package and artifact name.
    pub fn artifact_name(&self) -> String {
        let mut name = format!(
            "slurm-{}-{}-{}",
            self.slurm.name,
            self.package_type.label(),
            self.target
        );
        if let Some(toolchain) = &self.toolchain {
            name = format!("{name}-{toolchain}");
        }
        name
    }
}

/// Defaults that come from the host when the user gives none.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub target: String,
    pub jobs: u32,
    /// The GPUs found on this host: their vendor and architectures, used when
    /// the request names that vendor but no architectures.
    pub gpu: Option<(GpuVendor, Vec<String>)>,
    /// The `toolchain` setting.
    pub toolchain: Option<String>,
    /// The Slurm releases (the built-in ones and the templates dir's), judged today.
    pub catalog: Arc<Catalog>,
}

impl Defaults {
    /// The detected suggestions for this machine (best target, jobs).
    pub fn for_host() -> Defaults {
        Defaults::from_suggestions(&crate::hardware::detect().suggestions)
    }

    /// These defaults with the settings' own: the `toolchain` setting and
    /// the releases of the `templates_dir` setting's `releases.toml`.
    pub fn with_settings(self, settings: &crate::settings::Settings) -> Result<Defaults> {
        Ok(Defaults {
            toolchain: settings.toolchain.clone(),
            catalog: Arc::new(Catalog::load(
                settings.templates_dir.as_deref(),
                crate::request::catalog::today(),
            )?),
            ..self
        })
    }

    pub fn from_suggestions(s: &crate::hardware::Suggestions) -> Defaults {
        let choice = &s.package.value;
        Defaults {
            target: s.target.value.clone(),
            jobs: s.jobs.value,
            gpu: choice.gpu.map(|v| (v, choice.gpu_arch.clone())),
            toolchain: None,
            catalog: Catalog::builtin(),
        }
    }
}

impl BuildRequest {
    /// Checks every field and fills the gaps from `defaults`.
    pub fn resolve(&self, defaults: &Defaults) -> Result<ResolvedRequest> {
        let slurm = resolve_version(&defaults.catalog, &self.slurm_version)?;
        let package_type = match (self.minimal, self.gpu) {
            (true, Some(_)) => return Err(Error::MinimalWithGpu),
            (true, None) => PackageType::Minimal,
            (false, Some(v)) => PackageType::Gpu(v),
            (false, None) => PackageType::Default,
        };
        let (target, target_from_user) = match &self.target {
            Some(t) => (validate_target(t)?, true),
            None => (validate_target(&defaults.target)?, false),
        };
        let gpu_arch = match self.gpu {
            Some(vendor) if self.gpu_arch.is_empty() => match &defaults.gpu {
                Some((found, archs)) if *found == vendor => archs.clone(),
                _ => Vec::new(),
            },
            Some(vendor) => self
                .gpu_arch
                .iter()
                .flat_map(|a| a.split(','))
                .map(|a| validate_gpu_arch(vendor, a.trim()))
                .collect::<Result<Vec<_>>>()?,
            None if !self.gpu_arch.is_empty() => return Err(Error::GpuArchWithoutGpu),
            None => Vec::new(),
        };
        let jobs = self.jobs.unwrap_or(defaults.jobs);
        if !(1..=1024).contains(&jobs) {
            return Err(Error::InvalidJobs(jobs));
        }
        let toolchain = self
            .toolchain
            .as_deref()
            .or(defaults.toolchain.as_deref())
            .map(crate::toolchain::validate_name)
            .transpose()?;
        Ok(ResolvedRequest {
            slurm,
            package_type,
            target,
            target_from_user,
            gpu_arch,
            jobs,
            compiler: self.compiler,
            toolchain,
        })
    }
}

fn resolve_version(catalog: &Catalog, input: &str) -> Result<SlurmVersion> {
    let input = input.trim();
    let from_release = |r: &Release| SlurmVersion {
        name: r.slurm.clone(),
        spack: r.spack.clone(),
        cataloged: true,
        support: Support::of(r),
        sha256: Some(r.sha256.clone()),
        support_ends: Some(r.support_ends.to_string()),
        newest_supported: (!r.supported)
            .then(|| catalog.supported_versions().into_iter().next())
            .flatten(),
    };
    if input.is_empty() {
        return Ok(from_release(catalog.default_release()));
    }
    if let Some(r) = catalog.find(input) {
        return Ok(from_release(r));
    }
    if crate::request::catalog::is_spack_version(input) {
        return Ok(SlurmVersion {
            name: input.into(),
            spack: input.into(),
            cataloged: false,
            support: Support::Unknown,
            sha256: None,
            support_ends: None,
            newest_supported: None,
        });
    }
    Err(Error::UnknownSlurmVersion {
        version: input.into(),
        known: catalog.known_versions(),
    })
}

fn is_digits(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Spack target names are lowercase names (`x86_64_v3`, `zen3`, `armv8.1a`) that
/// archspec knows. The pattern is checked first, so nothing odd ever reaches a message.
pub fn validate_target(target: &str) -> Result<String> {
    if !crate::kinds::is_lowercase_name(target, 64, b"_.") {
        return Err(Error::InvalidTarget {
            target: target.into(),
            reason: "a target is a lowercase name of letters, digits, `_` and `.`".into(),
        });
    }
    let known = crate::hardware::known_targets();
    if !known.iter().any(|k| k == target) {
        return Err(Error::UnknownTarget {
            target: target.into(),
            known,
        });
    }
    Ok(target.into())
}

fn validate_gpu_arch(vendor: GpuVendor, arch: &str) -> Result<String> {
    let bad = |reason: &str| Error::InvalidGpuArch {
        arch: arch.into(),
        vendor,
        reason: reason.into(),
    };
    match vendor {
        GpuVendor::Cuda if is_digits(arch, 2..=3) => Ok(arch.into()),
        GpuVendor::Cuda => Err(bad(
            "expected a compute capability without the dot, e.g. 80",
        )),
        GpuVendor::Rocm => {
            let hex = arch.strip_prefix("gfx").unwrap_or_default();
            if (3..=4).contains(&hex.len())
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                Ok(arch.into())
            } else {
                Err(bad("expected a gfx target, e.g. gfx90a"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            target: "x86_64_v3".into(),
            jobs: 4,
            gpu: Some((GpuVendor::Cuda, vec!["90".into()])),
            toolchain: None,
            // The day after 25.05's support ended.
            catalog: Arc::new(Catalog::load(None, jiff::civil::date(2026, 12, 1)).unwrap()),
        }
    }

    #[test]
    fn a_recorded_request_resolves_to_the_same_request() {
        for req in [
            BuildRequest {
                slurm_version: "24.11".into(),
                gpu: Some(GpuVendor::Cuda),
                gpu_arch: vec!["80".into(), "90".into()],
                jobs: Some(6),
                ..Default::default()
            },
            BuildRequest {
                minimal: true,
                target: Some("zen3".into()),
                compiler: Compiler::SpackGcc,
                ..Default::default()
            },
        ] {
            let resolved = req.resolve(&defaults()).unwrap();
            let recorded = serde_json::to_value(&resolved).unwrap();
            let again = recorded_request(&recorded)
                .unwrap()
                .resolve(&defaults())
                .unwrap();
            // The recorded target is the user's now: it was chosen then.
            assert!(again.target_from_user);
            let again = ResolvedRequest {
                target_from_user: resolved.target_from_user,
                ..again
            };
            assert_eq!(again, resolved);
        }
        assert!(recorded_request(&serde_json::json!({"slurm": 1})).is_err());
    }

    #[test]
    fn detected_gpu_archs_fill_a_request_for_the_same_vendor() {
        let cuda = resolve(BuildRequest {
            gpu: Some(GpuVendor::Cuda),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(cuda.gpu_arch, ["90"]);
        let rocm = resolve(BuildRequest {
            gpu: Some(GpuVendor::Rocm),
            ..Default::default()
        })
        .unwrap();
        assert!(rocm.gpu_arch.is_empty(), "no AMD GPU was detected");
    }

    fn resolve(r: BuildRequest) -> Result<ResolvedRequest> {
        r.resolve(&defaults())
    }

    #[test]
    fn empty_request_is_the_default_cpu_package() {
        let r = resolve(BuildRequest::default()).unwrap();
        assert_eq!(r.slurm.name, "26.05");
        assert_eq!(r.slurm.spack, "26-05-3-1");
        assert_eq!(r.package_type, PackageType::Default);
        assert_eq!(r.target, "x86_64_v3");
        assert!(!r.target_from_user);
        assert_eq!(r.jobs, 4);
        assert_eq!(r.artifact_name(), "slurm-26.05-default-x86_64_v3");
    }

    #[test]
    fn versions_resolve_by_short_name_spack_name_or_pattern() {
        let v = |s: &str| {
            resolve(BuildRequest {
                slurm_version: s.into(),
                ..Default::default()
            })
        };
        assert_eq!(v("24.11").unwrap().slurm.spack, "24-11-6-1");
        assert_eq!(v("23-02-7-1").unwrap().slurm.name, "23.02");
        let other = v("24-05-8-1").unwrap().slurm;
        assert!(!other.cataloged);
        assert_eq!(other.spack, "24-05-8-1");
        assert_eq!(other.support, Support::Unknown);
        assert_eq!(other.warning(), None);
        assert_eq!(v("26.05").unwrap().slurm.spack, "26-05-3-1");
        assert_eq!(v("25.11").unwrap().slurm.warning(), None);
        let ended = v("25.05").unwrap().slurm;
        assert_eq!(ended.support, Support::Ended);
        let warning = ended.warning().unwrap();
        assert!(
            warning.starts_with("Slurm 25.05 is past SchedMD's end of support (2026-11-30)"),
            "{warning}"
        );
        assert!(warning.contains("(the newest is 26.05)"), "{warning}");
        for bad in ["99.1", "24.11; ls", "24-11-6", "2a-11-6-1", "24-11-6-1 "] {
            // trailing space is trimmed, so that one is accepted
            if bad.ends_with(' ') {
                assert!(v(bad).is_ok());
                continue;
            }
            let err = v(bad).unwrap_err();
            assert!(
                matches!(err, Error::UnknownSlurmVersion { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn minimal_and_gpu_conflict() {
        let err = resolve(BuildRequest {
            minimal: true,
            gpu: Some(GpuVendor::Cuda),
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(err, Error::MinimalWithGpu));
    }

    #[test]
    fn targets_with_shell_metacharacters_are_rejected() {
        for bad in [
            "zen3; rm -rf /",
            "$(id)",
            "Zen3",
            "",
            "zen3 ",
            "x86-64",
            "../x",
        ] {
            let err = resolve(BuildRequest {
                target: Some(bad.into()),
                ..Default::default()
            })
            .unwrap_err();
            assert!(matches!(err, Error::InvalidTarget { .. }), "{bad:?}");
        }
        let err = resolve(BuildRequest {
            target: Some("zen99".into()),
            ..Default::default()
        })
        .unwrap_err();
        match &err {
            Error::UnknownTarget { known, .. } => {
                assert!(known.iter().any(|k| k == "zen3"), "{known:?}");
                assert!(err.hint().contains("x86_64_v3"), "{}", err.hint());
            }
            other => panic!("zen99: {other:?}"),
        }
        for known in ["armv8.1a", "x86_64_v4", "neoverse_v2"] {
            assert_eq!(validate_target(known).unwrap(), known);
        }
        let ok = resolve(BuildRequest {
            target: Some("skylake_avx512".into()),
            ..Default::default()
        })
        .unwrap();
        assert!(ok.target_from_user);
    }

    #[test]
    fn gpu_archs_are_checked_per_vendor() {
        let r = resolve(BuildRequest {
            gpu: Some(GpuVendor::Cuda),
            gpu_arch: vec!["80,90".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(r.gpu_arch, ["80", "90"]);
        assert_eq!(r.artifact_name(), "slurm-26.05-cuda-x86_64_v3");
        let r = resolve(BuildRequest {
            gpu: Some(GpuVendor::Rocm),
            gpu_arch: vec!["gfx90a".into(), "gfx942".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(r.gpu_arch, ["gfx90a", "gfx942"]);
        for (vendor, bad) in [(GpuVendor::Cuda, "sm_80"), (GpuVendor::Rocm, "90a")] {
            let err = resolve(BuildRequest {
                gpu: Some(vendor),
                gpu_arch: vec![bad.into()],
                ..Default::default()
            })
            .unwrap_err();
            assert!(matches!(err, Error::InvalidGpuArch { .. }), "{bad}");
        }
        let err = resolve(BuildRequest {
            gpu_arch: vec!["80".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(err, Error::GpuArchWithoutGpu));
    }

    #[test]
    fn jobs_are_bounded() {
        for jobs in [0, 5000] {
            let err = resolve(BuildRequest {
                jobs: Some(jobs),
                ..Default::default()
            })
            .unwrap_err();
            assert!(matches!(err, Error::InvalidJobs(_)));
        }
    }

    #[test]
    fn presets_round_trip_and_reject_unknown_keys() {
        let r = BuildRequest {
            slurm_version: "24.11".into(),
            gpu: Some(GpuVendor::Rocm),
            gpu_arch: vec!["gfx90a".into()],
            ..Default::default()
        };
        let text = toml::to_string(&r).unwrap();
        assert_eq!(toml::from_str::<BuildRequest>(&text).unwrap(), r);
        assert!(toml::from_str::<BuildRequest>("slurm_verson = '24.11'").is_err());
    }
}
