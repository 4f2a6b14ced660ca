//! `manifest.json`: what a package is, how it was made, and how it was checked.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ArchiveFile, ArchiveFormat, InspectionSummary};
use crate::error::{Error, Result};

/// The manifest's file name inside a staging dir and an artifact.
pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Manifest {
    /// Package name, also the archive's top directory: `slurm-<version>-<type>-<target>`.
    pub name: String,
    /// The Slurm release, e.g. `24.11`.
    pub slurm_version: String,
    /// Spack's version of the Slurm spec, e.g. `24-11-6-1`.
    pub spack_version: String,
    /// The Spack release that built it, e.g. `v1.1.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spack_release: Option<String>,
    /// `default`, `minimal`, `gpu`, ...
    pub package_type: String,
    /// Spack target, e.g. `x86_64_v3`.
    pub target: String,
    /// `cuda` or `rocm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    /// e.g. `80,90` or `gfx90a`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_arch: Option<String>,
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub created: jiff::Timestamp,
    /// slurm-factory's version.
    pub tool_version: String,
    /// Where it was installed inside the build container (must not leak into the package).
    pub build_prefix: String,
    /// The resolved build request, as the pipeline recorded it.
    pub request: serde_json::Value,
    /// The build options that are recorded (`OptionSpec::recorded`), where
    /// given: what shaped the package, what its builder said of it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "ts", ts(type = "{ [option in string]?: JsonValue }"))]
    pub options: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spack_lock_sha256: Option<String>,
    pub sizes: Sizes,
    /// The package tree's digest (`fsutil::tree_digest`: paths, modes, bytes):
    /// a rebuild that makes the same tree reuses these archives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_sha256: Option<String>,
    pub archives: Vec<ArchiveEntry>,
    /// Wall time per pipeline stage, in order.
    #[serde(default)]
    pub stages: Vec<StageTiming>,
    /// `None` when verification was skipped (`--no-verify`).
    #[serde(default)]
    pub verify: Option<VerifyResult>,
    #[serde(default)]
    pub inspection: InspectionSummary,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Sizes {
    /// Bytes of the unpacked tree.
    pub unpacked: u64,
    /// Bytes per archive file name.
    pub archives: BTreeMap<String, u64>,
}

/// An archive as the manifest names it: by file name, relative to the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ArchiveEntry {
    pub file: String,
    pub format: ArchiveFormat,
    pub bytes: u64,
    pub sha256: String,
}

impl From<&ArchiveFile> for ArchiveEntry {
    fn from(a: &ArchiveFile) -> Self {
        ArchiveEntry {
            file: a
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            format: a.format,
            bytes: a.bytes,
            sha256: a.sha256.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StageTiming {
    pub stage: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VerifyResult {
    pub passed: bool,
    pub checks: Vec<VerifyCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VerifyCheck {
    pub name: String,
    pub passed: bool,
    /// What the check printed (trimmed by the caller to a useful length).
    pub output: String,
}

impl Manifest {
    /// The recorded build options as `name=value` words (`modules=hierarchy`,
    /// `keep_headers`, `label=for the lab`): what both front ends show.
    pub fn option_words(&self) -> Vec<String> {
        self.options
            .iter()
            .map(|(name, value)| match value {
                serde_json::Value::Bool(true) => name.clone(),
                serde_json::Value::String(text) => format!("{name}={text}"),
                other => format!("{name}={other}"),
            })
            .collect()
    }

    /// Records the archives and their sizes.
    pub fn set_archives(&mut self, files: &[ArchiveFile]) {
        self.archives = files.iter().map(ArchiveEntry::from).collect();
        self.sizes.archives = self
            .archives
            .iter()
            .map(|a| (a.file.clone(), a.bytes))
            .collect();
    }

    /// True when verification ran and passed.
    pub fn verified(&self) -> bool {
        self.verify.as_ref().is_some_and(|v| v.passed)
    }

    pub fn read(path: &Path) -> Result<Manifest> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io("reading a manifest", path, e))?;
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| Error::ManifestMalformed {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        // The archives are joined to the artifact's dir to export, sign and
        // reuse them: a name that leaves it would read or write elsewhere.
        if let Some(bad) = manifest
            .archives
            .iter()
            .find(|a| !is_plain_file_name(&a.file))
        {
            return Err(Error::ManifestMalformed {
                path: path.to_path_buf(),
                message: format!(
                    "archive `{}` is not a file name in the artifact's directory",
                    crate::error::shown(&bad.file)
                ),
            });
        }
        Ok(manifest)
    }

    /// Writes pretty JSON atomically (see [`crate::fsutil::write_atomic`]).
    pub fn write_atomic(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self).expect("manifest serializes");
        text.push('\n');
        crate::fsutil::write_atomic(path, text.as_bytes())
    }
}

/// A name of a file in one directory: no path, not hidden, not `..`.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(name: &str) -> Manifest {
        Manifest {
            name: name.into(),
            slurm_version: "24.11".into(),
            spack_version: "24-11-6-1".into(),
            spack_release: Some("v1.1.0".into()),
            package_type: "default".into(),
            target: "x86_64_v3".into(),
            gpu: None,
            gpu_arch: None,
            created: "2026-11-24T15:30:00Z".parse().unwrap(),
            tool_version: "0.1.0".into(),
            build_prefix: "/opt/slurm-build".into(),
            request: serde_json::json!({"slurm_version": "24.11"}),
            options: BTreeMap::new(),
            spack_lock_sha256: None,
            sizes: Sizes::default(),
            tree_sha256: None,
            archives: Vec::new(),
            stages: vec![StageTiming {
                stage: "package".into(),
                seconds: 1.5,
            }],
            verify: None,
            inspection: InspectionSummary::default(),
        }
    }

    #[test]
    fn round_trips_through_an_atomic_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MANIFEST_FILE);
        let mut m = sample("slurm-24.11-default-x86_64_v3");
        m.verify = Some(VerifyResult {
            passed: true,
            checks: vec![VerifyCheck {
                name: "sinfo --version".into(),
                passed: true,
                output: "slurm 24.11.6".into(),
            }],
        });
        m.write_atomic(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"created\": \"2026-11-24T15:30:00Z\""),
            "{text}"
        );
        assert_eq!(Manifest::read(&path).unwrap(), m);
        assert!(m.verified());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file stays behind");
    }

    #[test]
    fn malformed_manifest_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MANIFEST_FILE);
        std::fs::write(&path, "{\"name\": 3}").unwrap();
        let err = Manifest::read(&path).unwrap_err();
        assert!(err.to_string().contains("manifest.json"), "{err}");
    }
}
