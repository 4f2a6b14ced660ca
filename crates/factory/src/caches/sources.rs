//! What a solved request fetches, and whether this machine has it: the
//! sources (archives, resources, patches) every spec of the closure needs, as
//! `scripts/sources.py` lists them inside the build container, checked on the
//! host against the mirror layer. Offline builds check before they install;
//! `mirror check` and `mirror create` report it; the doctor reads the last list.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::caches::cache::CacheDirs;
use crate::error::{Error, Result};

/// One source a spec of the closure fetches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceNeed {
    pub package: String,
    pub version: String,
    /// Spack's DAG hash of the spec (its binary's name in the buildcache).
    pub hash: String,
    /// Where Spack looks for it in a mirror: the digest path first, then the
    /// readable `<name>/<name>-<version>.<ext>` alias.
    pub paths: Vec<String>,
    pub sha256: Option<String>,
    /// Where Spack downloads it from when no mirror has it.
    pub url: Option<String>,
}

/// The sources of one solved request. A pure function of the lock (and the
/// recipes the lock key covers), so it is cached beside the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceList {
    pub artifact_name: String,
    /// RFC 3339.
    pub listed: String,
    pub needs: Vec<SourceNeed>,
}

impl SourceList {
    /// `locks/<lock key>.sources.json`.
    pub fn path(dirs: &CacheDirs, lock_key: &str) -> PathBuf {
        dirs.locks.join(format!("{lock_key}.sources.json"))
    }

    pub fn load(path: &Path) -> Option<SourceList> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).expect("a source list serializes");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        }
        crate::fsutil::write_atomic(path, &json)
    }

    /// The most recently listed request of this machine, for the doctor.
    pub fn newest(dirs: &CacheDirs) -> Option<SourceList> {
        std::fs::read_dir(&dirs.locks)
            .ok()?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".sources.json"))
            .filter_map(|e| SourceList::load(&e.path()))
            .max_by(|a, b| a.listed.cmp(&b.listed))
    }

    /// Which of the sources the mirror layer lacks. A missing source is no
    /// obstacle to a build here when the spec's binary is in one of
    /// `buildcaches` (the directories the build installs binaries from: the
    /// buildcache layer, the `--from` ones), or the `upstream_mirror` dir has
    /// the file.
    pub fn check(
        &self,
        dirs: &CacheDirs,
        upstream: Option<&Path>,
        buildcaches: &[PathBuf],
    ) -> SourcesReport {
        let in_dir =
            |dir: &Path, need: &SourceNeed| need.paths.iter().any(|p| dir.join(p).exists());
        let mut missing = Vec::new();
        for need in &self.needs {
            if in_dir(&dirs.mirror, need) {
                continue;
            }
            let manifest = format!(
                "v3/manifests/spec/{0}/{0}-{1}-{2}.spec.manifest.json",
                need.package, need.version, need.hash
            );
            let alias = need.paths.last().cloned().unwrap_or_default();
            missing.push(MissingSource {
                package: format!("{}@{}", need.package, need.version),
                file: dirs.mirror.join(alias),
                url: need.url.clone(),
                sha256: need.sha256.clone(),
                binary: buildcaches
                    .iter()
                    .any(|buildcache| buildcache.join(&manifest).is_file()),
                upstream: upstream.is_some_and(|dir| in_dir(dir, need)),
            });
        }
        SourcesReport {
            artifact_name: self.artifact_name.clone(),
            mirror: dirs.mirror.clone(),
            needed: self.needs.len() as u32,
            present: (self.needs.len() - missing.len()) as u32,
            missing,
        }
    }
}

/// What the mirror layer holds of a request's sources.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SourcesReport {
    pub artifact_name: String,
    pub mirror: PathBuf,
    pub needed: u32,
    pub present: u32,
    pub missing: Vec<MissingSource>,
}

/// A source the mirror layer lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MissingSource {
    /// `name@version`.
    pub package: String,
    /// Where to put it: the readable name Spack also looks for.
    pub file: PathBuf,
    pub url: Option<String>,
    pub sha256: Option<String>,
    /// The spec's binary is in the buildcache layer or a `--from` directory:
    /// this machine builds without the source (an air-gapped host with an
    /// empty buildcache does not).
    pub binary: bool,
    /// The `upstream_mirror` dir has it: a build fetches it from there.
    pub upstream: bool,
}

impl SourcesReport {
    /// The missing sources a build on this machine would stop at.
    pub fn blocking(&self) -> Vec<&MissingSource> {
        self.missing
            .iter()
            .filter(|m| !m.binary && !m.upstream)
            .collect()
    }

    /// One line for the stage list.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} of {} sources in the mirror layer",
            self.present, self.needed
        );
        if !self.missing.is_empty() {
            let names: Vec<&str> = self.missing.iter().map(|m| m.package.as_str()).collect();
            text += &format!("; missing: {}", names.join(", "));
        }
        text
    }

    /// The error an offline build stops with when a source it needs is missing.
    pub fn blocking_error(&self, log: PathBuf) -> Option<Error> {
        let blocking = self.blocking();
        if blocking.is_empty() {
            return None;
        }
        Some(Error::SourcesMissing {
            packages: blocking.iter().map(|m| m.package.clone()).collect(),
            looked: vec![self.mirror.display().to_string()],
            wanted: blocking.iter().map(|m| m.file.clone()).collect(),
            log,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(package: &str, version: &str, sha: &str) -> SourceNeed {
        SourceNeed {
            package: package.into(),
            version: version.into(),
            hash: format!("{package}hash"),
            paths: vec![
                format!("_source-cache/archive/{}/{sha}.tar.gz", &sha[..2]),
                format!("{package}/{package}-{version}.tar.gz"),
            ],
            sha256: Some(sha.into()),
            url: Some(format!("https://example.org/{package}-{version}.tar.gz")),
        }
    }

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "x").unwrap();
    }

    #[test]
    fn a_removed_tarball_is_reported_with_where_it_goes_and_what_covers_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = CacheDirs::under(tmp.path());
        let upstream = tmp.path().join("upstream");
        let list = SourceList {
            artifact_name: "slurm-x".into(),
            listed: "2026-12-02T00:00:00Z".into(),
            needs: vec![
                need("lz4", "1.9.4", "0b0e"),
                need("slurm", "24-11-5-1", "77aa"),
                need("zlib", "1.3.1", "9a93"),
                need("munge", "0.5.16", "fa27"),
            ],
        };
        // lz4 by its digest, zlib by its readable name; slurm and munge absent.
        touch(&dirs.mirror.join(&list.needs[0].paths[0]));
        touch(&dirs.mirror.join(&list.needs[2].paths[1]));
        // munge's binary is in the buildcache; slurm's source is upstream.
        touch(
            &dirs
                .buildcache
                .join("v3/manifests/spec/munge/munge-0.5.16-mungehash.spec.manifest.json"),
        );
        let layer = std::slice::from_ref(&dirs.buildcache);
        let report = list.check(&dirs, None, layer);
        assert_eq!((report.needed, report.present), (4, 2));
        let names: Vec<&str> = report.missing.iter().map(|m| m.package.as_str()).collect();
        assert_eq!(names, ["slurm@24-11-5-1", "munge@0.5.16"]);
        assert_eq!(
            report.missing[0].file,
            dirs.mirror.join("slurm/slurm-24-11-5-1.tar.gz")
        );
        assert!(report.missing[1].binary && !report.missing[0].binary);
        let blocking: Vec<&str> = report
            .blocking()
            .iter()
            .map(|m| m.package.as_str())
            .collect();
        assert_eq!(blocking, ["slurm@24-11-5-1"]);
        match report.blocking_error("build.log".into()) {
            Some(Error::SourcesMissing {
                packages, wanted, ..
            }) => {
                assert_eq!(packages, ["slurm@24-11-5-1"]);
                assert_eq!(wanted, [dirs.mirror.join("slurm/slurm-24-11-5-1.tar.gz")]);
            }
            other => panic!("{other:?}"),
        }
        assert!(report.summary().contains("2 of 4"), "{}", report.summary());
        // A published buildcache (`--from DIR`) with Slurm's binary: nothing blocks.
        let published = tmp.path().join("published");
        touch(
            &published.join("v3/manifests/spec/slurm/slurm-24-11-5-1-slurmhash.spec.manifest.json"),
        );
        let report = list.check(&dirs, None, &[dirs.buildcache.clone(), published.clone()]);
        assert!(report.missing[0].binary, "{report:?}");
        assert!(report.blocking().is_empty());
        // With --trust the unsigned layer installs nothing: munge needs its source.
        let report = list.check(&dirs, None, std::slice::from_ref(&published));
        assert!(!report.missing[1].binary, "{report:?}");

        touch(&upstream.join(&list.needs[1].paths[1]));
        let report = list.check(&dirs, Some(&upstream), layer);
        assert!(report.missing[0].upstream);
        assert!(report.blocking().is_empty());
        assert!(report.blocking_error("build.log".into()).is_none());
    }

    #[test]
    fn lists_round_trip_and_the_newest_is_found() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = CacheDirs::under(tmp.path());
        assert_eq!(SourceList::newest(&dirs), None);
        let old = SourceList {
            artifact_name: "old".into(),
            listed: "2026-01-01T00:00:00Z".into(),
            needs: vec![need("lz4", "1.9.4", "0b0e")],
        };
        let new = SourceList {
            artifact_name: "new".into(),
            listed: "2026-06-01T00:00:00Z".into(),
            ..old.clone()
        };
        old.save(&SourceList::path(&dirs, "aaaa")).unwrap();
        new.save(&SourceList::path(&dirs, "bbbb")).unwrap();
        std::fs::write(dirs.locks.join("aaaa.lock"), "{}").unwrap();
        assert_eq!(SourceList::newest(&dirs), Some(new));
    }
}
