//! Entries of the buildcache layer as Spack 1.x writes them (layout v3): one
//! manifest per spec, `v3/manifests/spec/NAME/NAME-VERSION-HASH.spec.manifest.json`,
//! listing content-addressed blobs (`blobs/sha256/AB/ABCD…`, the archive and
//! the spec file) with their length and checksum.
//!
//! Spack checks a blob's checksum when it fetches it and, when it does not
//! match, quietly builds the spec from source instead (and its autopush
//! replaces the entry): a cut-short or corrupted entry costs a compile that
//! nobody is told about. Before `spack install`, the install stage asks
//! [`remove_damaged`] about every spec of the lock: a damaged entry is
//! reported and removed, so Spack compiles the spec and pushes it whole.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// An entry that Spack could not use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damaged {
    /// Spack's `NAME-VERSION-HASH`.
    pub spec: String,
    pub problem: String,
}

#[derive(Deserialize)]
struct Manifest {
    data: Vec<Blob>,
}

#[derive(Deserialize)]
struct Blob {
    #[serde(rename = "contentLength")]
    length: u64,
    #[serde(rename = "mediaType")]
    media_type: String,
    #[serde(rename = "checksumAlgorithm")]
    algorithm: String,
    checksum: String,
}

impl Blob {
    fn path(&self, buildcache: &Path) -> Option<PathBuf> {
        let safe = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
        (safe(&self.algorithm) && safe(&self.checksum) && self.checksum.len() > 2).then(|| {
            buildcache
                .join("blobs")
                .join(&self.algorithm)
                .join(&self.checksum[..2])
                .join(&self.checksum)
        })
    }

    fn what(&self) -> &'static str {
        if self.media_type.contains("tar") {
            "archive"
        } else {
            "spec file"
        }
    }
}

/// The manifest of `spec` (`NAME-VERSION-HASH`; names and versions may hold
/// dashes, so each split is tried).
fn manifest_of(buildcache: &Path, spec: &str) -> Option<PathBuf> {
    let specs = buildcache.join("v3/manifests/spec");
    let file = format!("{spec}.spec.manifest.json");
    spec.match_indices('-')
        .map(|(i, _)| specs.join(&spec[..i]).join(&file))
        .find(|p| p.is_file())
}

/// What is wrong with the entry whose manifest is `manifest`, if anything,
/// and the blobs that do not hold what it says (to remove with it).
fn problem_of(buildcache: &Path, manifest: &Path) -> (Option<String>, Vec<PathBuf>) {
    let parsed = std::fs::read(manifest)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Manifest>(&bytes).ok());
    let Some(parsed) = parsed else {
        return (Some("its manifest is not readable JSON".into()), Vec::new());
    };
    let mut problems = Vec::new();
    let mut bad = Vec::new();
    for blob in &parsed.data {
        let Some(path) = blob.path(buildcache) else {
            problems.push(format!("its {} has no usable checksum", blob.what()));
            continue;
        };
        let len = std::fs::metadata(&path).map(|m| m.len());
        let problem = match len {
            Err(_) => Some(format!("its {} {} is missing", blob.what(), path.display())),
            Ok(len) if len != blob.length => Some(format!(
                "its {} is {len} of {} bytes",
                blob.what(),
                blob.length
            )),
            Ok(_) if blob.algorithm != "sha256" => None,
            Ok(_) => match crate::package::sha256_file(&path) {
                Ok(sum) if sum == blob.checksum => None,
                Ok(_) => Some(format!("its {} does not match its checksum", blob.what())),
                Err(_) => Some(format!("its {} cannot be read", blob.what())),
            },
        };
        if let Some(problem) = problem {
            problems.push(problem);
            if path.is_file() {
                bad.push(path);
            }
        }
    }
    ((!problems.is_empty()).then(|| problems.join("; ")), bad)
}

/// Spack's `NAME-VERSION-HASH` of each spec in a `spack.lock` that is not
/// an external (externals have no buildcache entry); none when there is no
/// readable lock (a recipe without Spack).
pub fn lock_specs(lock: &Path) -> Vec<String> {
    let Some(lock) = std::fs::read(lock)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    else {
        return Vec::new();
    };
    let Some(specs) = lock["concrete_specs"].as_object() else {
        return Vec::new();
    };
    specs
        .iter()
        .filter(|(_, s)| s.get("external").is_none())
        .filter_map(|(hash, s)| {
            Some(format!(
                "{}-{}-{hash}",
                s["name"].as_str()?,
                s["version"].as_str()?
            ))
        })
        .collect()
}

/// Of `specs` (`NAME-VERSION-HASH`), those the buildcache holds a damaged
/// entry of: each is removed (manifest, then the blobs that do not match
/// it), so Spack builds it and pushes it again instead of quietly refusing
/// it every time.
pub fn remove_damaged(buildcache: &Path, specs: &[String]) -> Result<Vec<Damaged>> {
    // Hashing is the cost (the default package's binaries are 200 MB): one
    // share of the specs per core.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let share = specs.len().div_ceil(threads).max(1);
    let found: Vec<(String, PathBuf, String, Vec<PathBuf>)> = std::thread::scope(|s| {
        let checks: Vec<_> = specs
            .chunks(share)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .filter_map(|spec| {
                            let manifest = manifest_of(buildcache, spec)?;
                            let (problem, bad) = problem_of(buildcache, &manifest);
                            Some((spec.clone(), manifest, problem?, bad))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        checks
            .into_iter()
            .flat_map(|c| c.join().expect("a buildcache check does not panic"))
            .collect()
    });
    let mut damaged = Vec::new();
    for (spec, manifest, problem, bad) in found {
        std::fs::remove_file(&manifest)
            .map_err(|e| Error::io("removing a damaged buildcache entry", &manifest, e))?;
        for blob in bad {
            std::fs::remove_file(&blob)
                .map_err(|e| Error::io("removing a damaged buildcache blob", &blob, e))?;
        }
        damaged.push(Damaged { spec, problem });
    }
    Ok(damaged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// A v3 entry for `spec` holding `archive` as its one blob.
    fn entry(bc: &Path, name: &str, spec: &str, archive: &[u8]) -> (PathBuf, PathBuf) {
        let sum = crate::fsutil::hex(&Sha256::digest(archive));
        let blob = bc.join("blobs/sha256").join(&sum[..2]).join(&sum);
        std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
        std::fs::write(&blob, archive).unwrap();
        let manifest = bc
            .join("v3/manifests/spec")
            .join(name)
            .join(format!("{spec}.spec.manifest.json"));
        std::fs::create_dir_all(manifest.parent().unwrap()).unwrap();
        let json = serde_json::json!({"version": 3, "data": [{
            "contentLength": archive.len(),
            "mediaType": "application/vnd.spack.install.v2.tar+gzip",
            "compression": "gzip",
            "checksumAlgorithm": "sha256",
            "checksum": sum,
        }]});
        std::fs::write(&manifest, json.to_string()).unwrap();
        (manifest, blob)
    }

    #[test]
    fn a_lock_names_its_specs_but_not_externals() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("spack.lock");
        std::fs::write(
            &lock,
            serde_json::json!({"concrete_specs": {
                "ge2f2ag6": {"name": "zlib", "version": "1.3.1"},
                "xyz": {"name": "slurm", "version": "24-11-5-1"},
                "ext": {"name": "perl", "version": "5.36.0", "external": {"path": "/usr"}},
            }})
            .to_string(),
        )
        .unwrap();
        let mut specs = lock_specs(&lock);
        specs.sort();
        assert_eq!(specs, ["slurm-24-11-5-1-xyz", "zlib-1.3.1-ge2f2ag6"]);
        assert!(lock_specs(&dir.path().join("none.lock")).is_empty());
    }

    #[test]
    fn a_whole_entry_stays_and_a_cut_one_goes() {
        let dir = tempfile::tempdir().unwrap();
        let bc = dir.path();
        let (whole, whole_blob) = entry(bc, "zlib", "zlib-1.3.1-aaaa", b"zlib archive");
        // A dash in the name and in the version.
        let spec = "py-foo-24-11-5-1-bbbb";
        let (cut, cut_blob) = entry(bc, "py-foo", spec, b"a longer archive of py-foo");
        std::fs::write(&cut_blob, b"a longer").unwrap();
        let specs = [
            "zlib-1.3.1-aaaa".to_string(),
            spec.to_string(),
            "absent-1.0-cccc".to_string(),
        ];
        let damaged = remove_damaged(bc, &specs).unwrap();
        assert_eq!(
            damaged,
            [Damaged {
                spec: spec.into(),
                problem: "its archive is 8 of 26 bytes".into()
            }]
        );
        assert!(whole.is_file() && whole_blob.is_file());
        assert!(!cut.exists() && !cut_blob.exists());
    }

    #[test]
    fn flipped_bytes_a_missing_blob_and_a_torn_manifest_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let bc = dir.path();
        let (_, flipped) = entry(bc, "xz", "xz-5.6.3-aaaa", b"xz archive");
        std::fs::write(&flipped, b"xz_archive").unwrap();
        let (_, gone) = entry(bc, "lz4", "lz4-1.10.0-bbbb", b"lz4 archive");
        std::fs::remove_file(&gone).unwrap();
        let (torn, _) = entry(bc, "bzip2", "bzip2-1.0.8-cccc", b"bzip2 archive");
        std::fs::write(&torn, b"{\"version\":3,\"da").unwrap();
        let specs: Vec<String> = ["xz-5.6.3-aaaa", "lz4-1.10.0-bbbb", "bzip2-1.0.8-cccc"]
            .map(String::from)
            .into();
        let problems: Vec<String> = remove_damaged(bc, &specs)
            .unwrap()
            .into_iter()
            .map(|d| d.problem)
            .collect();
        assert_eq!(problems[0], "its archive does not match its checksum");
        assert!(
            problems[1].starts_with("its archive ") && problems[1].ends_with(" is missing"),
            "{}",
            problems[1]
        );
        assert_eq!(problems[2], "its manifest is not readable JSON");
        assert!(!flipped.exists() && !torn.exists());
    }
}
