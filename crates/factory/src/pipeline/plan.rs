//! What a build would do, before it does it: the resolved request plus the
//! settings it would run with. The CLI's `plan` and the app's live preview
//! show the same thing.

use serde::Serialize;

use crate::error::Result;
use crate::pipeline::BuildFlags;
use crate::request::catalog::Support;
use crate::request::{BuildRequest, Compiler, Defaults, ResolvedRequest};
use crate::settings::Settings;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Plan {
    pub artifact_name: String,
    pub request: ResolvedRequest,
    /// One line on what the package contains.
    pub summary: String,
    /// One line per choice, for people: `("Target", "zen3 (suggested for this machine)")`.
    pub rows: Vec<PlanRow>,
    /// What the user should know before building (a release past its end of support).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlanRow {
    pub label: String,
    pub value: String,
}

/// Checks `request` and `flags` as a build would before it starts, and
/// describes the build they ask for.
pub fn plan(
    request: &BuildRequest,
    flags: &BuildFlags,
    defaults: &Defaults,
    settings: &Settings,
) -> Result<Plan> {
    let resolved = request.resolve(defaults)?;
    // Only a request with a toolchain needs the templates read.
    let toolchain = match resolved.toolchain {
        Some(_) => crate::recipe::Templates::load(settings.templates_dir.as_deref())?
            .toolchain_of(&resolved)?,
        None => None,
    };
    let origin = if resolved.target_from_user {
        "your choice"
    } else {
        "suggested for this machine"
    };
    let ends = resolved.slurm.support_ends.as_deref().unwrap_or("?");
    let version_note = match resolved.slurm.support {
        Support::Supported => format!(", supported until {ends}"),
        Support::Ended => format!(", past SchedMD's end of support on {ends}"),
        Support::Unknown => ", not in the catalogue: Spack must know this version".into(),
    };
    let row = |label: &str, value: String| PlanRow {
        label: label.into(),
        value,
    };
    let s = &settings.with_toolchain(toolchain.as_ref())?;
    crate::pipeline::check_flags(s, flags)?;
    let rows = vec![
        row(
            "Slurm",
            format!(
                "{} (Spack slurm@{}{version_note})",
                resolved.slurm.name, resolved.slurm.spack
            ),
        ),
        row(
            "Package",
            format!(
                "{}: {}",
                resolved.package_type.label(),
                resolved.package_type.summary()
            ),
        ),
        row("Target", format!("{} ({origin})", resolved.target)),
        row(
            "GPU arch",
            if resolved.gpu_arch.is_empty() {
                "-".into()
            } else {
                resolved.gpu_arch.join(", ")
            },
        ),
        row("Jobs", resolved.jobs.to_string()),
        row(
            "Compiler",
            match resolved.compiler {
                Compiler::System => "system gcc".into(),
                Compiler::SpackGcc => "gcc built by Spack".into(),
            },
        ),
        row(
            "Toolchain",
            match &toolchain {
                Some(t) => format!(
                    "{}: {}, glibc {}, gcc {} (runs where glibc is {} or newer)",
                    t.name, t.description, t.glibc, t.gcc, t.glibc
                ),
                None => "none: the image setting as it is".into(),
            },
        ),
        row(
            "Spack",
            format!("{} with packages {}", s.spack_ref, s.spack_packages_ref),
        ),
        row(
            "LXD",
            format!(
                "image {} in project {} on {}, pool {}",
                s.image, s.lxd_project, s.lxd_remote, s.storage_pool
            ),
        ),
    ];
    Ok(Plan {
        artifact_name: resolved.artifact_name(),
        warnings: super::options::warnings(&resolved, flags),
        summary: resolved.package_type.summary().into(),
        request: resolved,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::GpuVendor;
    use crate::settings::XdgDirs;

    #[test]
    fn plan_describes_the_resolved_request() {
        let dirs = XdgDirs {
            config: "/c".into(),
            data: "/d".into(),
            cache: "/k".into(),
        };
        let settings = Settings::defaults(&dirs);
        let defaults = Defaults {
            target: "x86_64_v3".into(),
            jobs: 8,
            gpu: None,
            toolchain: None,
            catalog: crate::request::catalog::Catalog::builtin(),
        };
        let req = BuildRequest {
            slurm_version: "24.11".into(),
            gpu: Some(GpuVendor::Cuda),
            gpu_arch: vec!["80".into()],
            ..Default::default()
        };
        let p = plan(&req, &BuildFlags::default(), &defaults, &settings).unwrap();
        assert_eq!(p.artifact_name, "slurm-24.11-cuda-x86_64_v3");
        let value = |l: &str| p.rows.iter().find(|r| r.label == l).unwrap().value.clone();
        assert_eq!(value("Target"), "x86_64_v3 (suggested for this machine)");
        assert_eq!(value("GPU arch"), "80");
        assert_eq!(value("Jobs"), "8");
        assert!(value("LXD").contains("ubuntu:24.04"));
        assert_eq!(
            value("Slurm"),
            "24.11 (Spack slurm@24-11-6-1, past SchedMD's end of support on 2026-05-31)"
        );
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("past SchedMD's end of support"));

        let current = plan(
            &BuildRequest::default(),
            &BuildFlags::default(),
            &defaults,
            &settings,
        )
        .unwrap();
        assert!(current.warnings.is_empty());
        assert_eq!(
            current.rows[0].value,
            "26.05 (Spack slurm@26-05-3-1, supported until 2027-11-30)"
        );

        let bad = BuildRequest {
            minimal: true,
            gpu: Some(GpuVendor::Rocm),
            ..Default::default()
        };
        assert!(plan(&bad, &BuildFlags::default(), &defaults, &settings).is_err());
    }

    /// The app's live plan shows what a build would refuse of its flags.
    #[test]
    fn plan_refuses_the_flags_a_build_would_refuse() {
        let tmp = tempfile::tempdir().unwrap();
        let settings = Settings::under(tmp.path());
        let defaults = Defaults::for_host().with_settings(&settings).unwrap();
        let request = BuildRequest::default();
        let mut flags = BuildFlags::default();
        flags.package.debug_archive = true;
        flags.package.no_strip = true;
        let err = plan(&request, &flags, &defaults, &settings).unwrap_err();
        assert!(
            err.to_string().contains("debug_archive with no_strip"),
            "{err}"
        );
        let flags = BuildFlags {
            install_from: vec![format!("file://{}/nowhere", tmp.path().display())],
            ..BuildFlags::default()
        };
        let err = plan(&request, &flags, &defaults, &settings).unwrap_err();
        assert!(err.to_string().contains("no such directory"), "{err}");
        assert!(plan(&request, &BuildFlags::default(), &defaults, &settings).is_ok());
    }

    /// Binaries from a buildcache no key vouches for install without a
    /// check: every plan and build says so.
    #[test]
    fn installing_from_a_buildcache_without_a_trusted_key_is_warned_of() {
        let tmp = tempfile::tempdir().unwrap();
        let settings = Settings::under(tmp.path());
        let defaults = Defaults::for_host().with_settings(&settings).unwrap();
        let request = BuildRequest::default();
        let cache = format!("file://{}", tmp.path().display());
        let unchecked = BuildFlags {
            install_from: vec![cache.clone()],
            ..BuildFlags::default()
        };
        let warnings = plan(&request, &unchecked, &defaults, &settings)
            .unwrap()
            .warnings;
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with(&format!("binaries from {cache} are installed unchecked")),
            "{warnings:?}"
        );
        let key = tmp.path().join("site.asc");
        std::fs::write(&key, "key").unwrap();
        let trusted = BuildFlags {
            trust: vec![key],
            ..unchecked
        };
        let warnings = plan(&request, &trusted, &defaults, &settings)
            .unwrap()
            .warnings;
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    /// A registry without TLS is installed from only when that is asked for.
    #[test]
    fn installing_over_plain_http_must_be_asked_for() {
        let tmp = tempfile::tempdir().unwrap();
        let settings = Settings::under(tmp.path());
        let defaults = Defaults::for_host().with_settings(&settings).unwrap();
        let request = BuildRequest::default();
        let http = BuildFlags {
            install_from: vec!["oci+http://127.0.0.1:5000/site/slurm".into()],
            ..BuildFlags::default()
        };
        let err = plan(&request, &http, &defaults, &settings).unwrap_err();
        assert!(
            err.to_string().contains("oci+http:// is plain HTTP"),
            "{err}"
        );
        let asked = BuildFlags {
            from_plain_http: true,
            ..http
        };
        plan(&request, &asked, &defaults, &settings).unwrap();
        let https = BuildFlags {
            install_from: vec!["oci://registry.site.example/site/slurm".into()],
            ..BuildFlags::default()
        };
        plan(&request, &https, &defaults, &settings).unwrap();
    }
}
