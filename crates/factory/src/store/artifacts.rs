//! The artifact store: one directory per finished package, `<store>/<id>/`, holding its
//! archive(s), `manifest.json` and, when verification ran, `verify.log`. Artifacts appear
//! whole or not at all: they are assembled under `.incoming-<name>.<n>.<pid>/` and renamed into
//! place; deletes rename to `.deleting-<id>.<pid>/` first.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::fsutil::{hex, sync_dir};
use crate::package::{
    sha256_file, ArchiveEntry, ArchiveFile, ArchiveFormat, Manifest, MANIFEST_FILE,
};
use crate::units::human_bytes;

/// The verification log's name in a staging dir and an artifact.
pub const VERIFY_LOG: &str = "verify.log";

const INCOMING: &str = ".incoming-";
const DELETING: &str = ".deleting-";

/// One line of `artifacts list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ArtifactSummary {
    pub id: String,
    pub name: String,
    pub slurm_version: String,
    pub package_type: String,
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    /// Bytes of the archives.
    pub size: u64,
    /// `size` for people (`3.4 MiB`), as both front ends show it.
    pub size_text: String,
    /// Bytes of the unpacked tree.
    pub unpacked: u64,
    pub unpacked_text: String,
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub created: jiff::Timestamp,
    /// Verification ran and passed.
    pub verified: bool,
    /// The recorded build options (the manifest's), as `name=value` words.
    pub options: Vec<String>,
}

/// A file inside an artifact's directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StoredFile {
    pub name: String,
    pub bytes: u64,
    pub size_text: String,
}

/// Everything about one artifact.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Artifact {
    pub id: String,
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub files: Vec<StoredFile>,
    /// The unpacked tree's size for people (`15.7 MiB`).
    pub unpacked_text: String,
}

impl Artifact {
    /// The files a signed publish signs and `verify_signatures` checks: each
    /// archive, then the manifest.
    pub fn signed_files(&self) -> Vec<PathBuf> {
        self.manifest
            .archives
            .iter()
            .map(|a| self.dir.join(&a.file))
            .chain([self.dir.join(MANIFEST_FILE)])
            .collect()
    }

    pub fn summary(&self) -> ArtifactSummary {
        let m = &self.manifest;
        let size = m.archives.iter().map(|a| a.bytes).sum();
        ArtifactSummary {
            id: self.id.clone(),
            name: m.name.clone(),
            slurm_version: m.slurm_version.clone(),
            package_type: m.package_type.clone(),
            target: m.target.clone(),
            gpu: m.gpu.clone(),
            size,
            size_text: human_bytes(size),
            unpacked: m.sizes.unpacked,
            unpacked_text: human_bytes(m.sizes.unpacked),
            created: m.created,
            verified: m.verified(),
            options: m.option_words(),
        }
    }

    /// The archive a destination asks for by its extension, else the first (`.tar.zst`).
    fn archive_for(&self, dest_name: Option<&str>) -> Result<&ArchiveEntry> {
        let wanted = dest_name.and_then(ArchiveFormat::from_file_name);
        let archives = &self.manifest.archives;
        archives
            .iter()
            .find(|a| Some(a.format) == wanted)
            .or_else(|| archives.first())
            .ok_or_else(|| Error::ArtifactIncomplete {
                id: self.id.clone(),
                detail: "its manifest lists no archive".into(),
            })
    }
}

/// What `artifacts verify` found: every archive whole, every signature good.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SignatureReport {
    pub id: String,
    /// Archives whose sha256 matches the manifest.
    pub archives: usize,
    pub signatures: Vec<crate::publish::GoodSignature>,
}

/// What `export` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportResult {
    pub id: String,
    pub path: PathBuf,
    pub format: ArchiveFormat,
    pub bytes: u64,
    pub size_text: String,
    pub sha256: String,
    /// An existing file was replaced (`overwrite`).
    pub replaced: bool,
}

/// Checks an id before it becomes part of a path: one plain component of letters, digits
/// and `._+-`, not starting with `.` or `-`.
pub fn validate_id(id: &str) -> Result<()> {
    let reason = if id.is_empty() {
        Some("it is empty")
    } else if id.len() > 200 {
        Some("it is longer than 200 characters")
    } else if id.starts_with('.') || id.starts_with('-') {
        Some("it starts with `.` or `-`")
    } else if id.contains("..") {
        Some("it contains `..`")
    } else if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
    {
        Some("only letters, digits and `._+-` are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidArtifactId {
            id: id.into(),
            reason: reason.into(),
        }),
        None => Ok(()),
    }
}

/// The artifact store rooted at one directory (`Settings::artifacts_dir`).
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every readable artifact, newest first. Unreadable ones are skipped with a log warning.
    pub fn list(&self) -> Result<Vec<ArtifactSummary>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("reading the artifact store", &self.dir, e)),
        };
        let mut list = Vec::new();
        for entry in entries.filter_map(|e| e.ok()) {
            let id = entry.file_name().to_string_lossy().into_owned();
            if validate_id(&id).is_err() || !entry.path().is_dir() {
                continue;
            }
            match self.show(&id) {
                Ok(artifact) => list.push(artifact.summary()),
                Err(e) => tracing::warn!("skipping artifact {id}: {e}"),
            }
        }
        list.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
        Ok(list)
    }

    pub fn show(&self, id: &str) -> Result<Artifact> {
        let dir = self.existing(id)?;
        let manifest = Manifest::read(&dir.join(MANIFEST_FILE))?;
        let mut files = Vec::new();
        for entry in
            std::fs::read_dir(&dir).map_err(|e| Error::io("reading an artifact", &dir, e))?
        {
            let entry = entry.map_err(|e| Error::io("reading an artifact", &dir, e))?;
            let meta = entry
                .metadata()
                .map_err(|e| Error::io("reading an artifact", entry.path(), e))?;
            if meta.is_file() {
                files.push(StoredFile {
                    name: entry.file_name().to_string_lossy().into_owned(),
                    bytes: meta.len(),
                    size_text: human_bytes(meta.len()),
                });
            }
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Artifact {
            id: id.into(),
            dir,
            unpacked_text: human_bytes(manifest.sizes.unpacked),
            manifest,
            files,
        })
    }

    /// The archives of the newest artifact called `name` whose package tree had
    /// digest `tree_sha256`, copied into `dest_dir` as `<name>.<ext>` for each of
    /// `formats` and checked against its manifest: a rebuild that made the same
    /// tree need not compress it again. `None` when no artifact has them all
    /// intact. Returns the id it copied from.
    pub fn reusable_archives(
        &self,
        name: &str,
        tree_sha256: &str,
        formats: &[ArchiveFormat],
        dest_dir: &Path,
    ) -> Result<Option<(String, Vec<ArchiveFile>)>> {
        for summary in self.list()?.into_iter().filter(|a| a.name == name) {
            let artifact = self.show(&summary.id)?;
            if artifact.manifest.tree_sha256.as_deref() != Some(tree_sha256) {
                continue;
            }
            let mut copied = Vec::new();
            for &format in formats {
                let Some(entry) = artifact
                    .manifest
                    .archives
                    .iter()
                    .find(|a| a.format == format)
                else {
                    break;
                };
                let path = dest_dir.join(format!("{name}.{}", format.extension()));
                std::fs::copy(artifact.dir.join(&entry.file), &path)
                    .map_err(|e| Error::io("copying an archive", &path, e))?;
                if sha256_file(&path)? != entry.sha256 {
                    let _ = std::fs::remove_file(&path);
                    tracing::warn!(
                        "artifact {}: {} does not match its manifest",
                        summary.id,
                        entry.file
                    );
                    break;
                }
                copied.push(ArchiveFile {
                    path,
                    format,
                    bytes: entry.bytes,
                    sha256: entry.sha256.clone(),
                });
            }
            if copied.len() == formats.len() {
                return Ok(Some((summary.id, copied)));
            }
            for a in copied {
                let _ = std::fs::remove_file(a.path);
            }
        }
        Ok(None)
    }

    /// Copies a staging dir (manifest.json, the archives it lists, verify.log if present) into
    /// the store as a new artifact, checking every archive's sha256 on the way.
    pub fn add(&self, staging_dir: &Path) -> Result<Artifact> {
        let manifest = Manifest::read(&staging_dir.join(MANIFEST_FILE))?;
        validate_id(&manifest.name)?;
        if manifest.archives.is_empty() {
            return Err(Error::ArtifactIncomplete {
                id: manifest.name.clone(),
                detail: "its manifest lists no archive".into(),
            });
        }
        for archive in &manifest.archives {
            validate_id(&archive.file)?;
        }
        crate::fsutil::create_private_dir_all(&self.dir)
            .map_err(|e| Error::io("creating the artifact store", &self.dir, e))?;
        // Unique per call (builds in one process, the app, add at once too);
        // the pid last, for `clean_incoming`.
        static ADDING: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let incoming = self.dir.join(format!(
            "{INCOMING}{}.{}.{}",
            manifest.name,
            ADDING.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            std::process::id()
        ));
        let result = self
            .fill_incoming(staging_dir, &incoming, &manifest)
            .and_then(|()| self.move_in(&incoming, &manifest));
        match result {
            Ok(id) => self.show(&id),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&incoming);
                Err(e)
            }
        }
    }

    /// Renames a filled incoming dir to a free id. Two builds of the same
    /// package finishing in the same second both find the same id free: the
    /// one whose rename finds it taken moves on to the next suffix.
    fn move_in(&self, incoming: &Path, manifest: &Manifest) -> Result<String> {
        for _ in 0..1000 {
            let id = self.new_id(manifest);
            let dest = self.dir.join(&id);
            match std::fs::rename(incoming, &dest) {
                Ok(()) => {
                    sync_dir(&self.dir)?;
                    return Ok(id);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::DirectoryNotEmpty | std::io::ErrorKind::AlreadyExists
                    ) => {}
                Err(e) => return Err(Error::io("moving an artifact into the store", &dest, e)),
            }
        }
        Err(Error::io(
            "moving an artifact into the store",
            &self.dir,
            std::io::Error::other("no free artifact id after 1000 tries"),
        ))
    }

    fn fill_incoming(&self, staging: &Path, incoming: &Path, manifest: &Manifest) -> Result<()> {
        std::fs::create_dir(incoming)
            .map_err(|e| Error::io("creating an artifact", incoming, e))?;
        for archive in &manifest.archives {
            let src = staging.join(&archive.file);
            if !src.is_file() {
                return Err(Error::ArtifactIncomplete {
                    id: manifest.name.clone(),
                    detail: format!("{} is missing", src.display()),
                });
            }
            let (_, sha) = copy_hashed(&src, &incoming.join(&archive.file))?;
            if sha != archive.sha256 {
                return Err(Error::ChecksumMismatch {
                    path: src,
                    expected: archive.sha256.clone(),
                    actual: sha,
                });
            }
        }
        let log = staging.join(VERIFY_LOG);
        if log.is_file() {
            copy_hashed(&log, &incoming.join(VERIFY_LOG))?;
        }
        // The manifest last: an incoming dir with a manifest has everything it lists.
        manifest.write_atomic(&incoming.join(MANIFEST_FILE))?;
        sync_dir(incoming)
    }

    /// `<name>-<yyyymmddThhmmss>` of the manifest's creation time (UTC), with `-2`, `-3`, …
    /// when that is taken.
    fn new_id(&self, manifest: &Manifest) -> String {
        let base = format!(
            "{}-{}",
            manifest.name,
            manifest.created.strftime("%Y%m%dT%H%M%S")
        );
        let taken = |id: &str| self.dir.join(id).exists();
        if !taken(&base) {
            return base;
        }
        (2..)
            .map(|n| format!("{base}-{n}"))
            .find(|id| !taken(id))
            .expect("an unused suffix exists")
    }

    /// Copies the artifact's archive to `dest` (a file path, or a directory to put it in),
    /// through a temporary file beside it whose sha256 must match the manifest.
    pub fn export(&self, id: &str, dest: &Path, overwrite: bool) -> Result<ExportResult> {
        let artifact = self.show(id)?;
        let names_a_dir = dest.as_os_str().to_string_lossy().ends_with('/');
        let parent_missing = dest
            .parent()
            .is_some_and(|p| !p.as_os_str().is_empty() && !p.is_dir());
        if !dest.is_dir() && (names_a_dir || parent_missing) {
            let missing = if names_a_dir {
                dest
            } else {
                dest.parent().unwrap_or(dest)
            };
            return Err(Error::io(
                "exporting into a directory",
                missing,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
            ));
        }
        let (archive, target) = if dest.is_dir() {
            let archive = artifact.archive_for(None)?;
            (archive, dest.join(&archive.file))
        } else {
            let name = dest.file_name().map(|n| n.to_string_lossy().into_owned());
            (artifact.archive_for(name.as_deref())?, dest.to_path_buf())
        };
        let existed = target.symlink_metadata().is_ok();
        if existed && (!overwrite || target.is_dir()) {
            return Err(Error::ExportTargetExists { path: target });
        }
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| archive.file.clone());
        let tmp = parent.join(format!(".{file_name}.part-{}", std::process::id()));
        let src = artifact.dir.join(&archive.file);
        let placed = copy_hashed(&src, &tmp).and_then(|(bytes, sha)| {
            if sha != archive.sha256 {
                return Err(Error::ChecksumMismatch {
                    path: src.clone(),
                    expected: archive.sha256.clone(),
                    actual: sha,
                });
            }
            if overwrite {
                std::fs::rename(&tmp, &target)
                    .map_err(|e| Error::io("placing the exported file", &target, e))?;
            } else {
                // A hard link never replaces a file that appeared meanwhile.
                std::fs::hard_link(&tmp, &target).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        Error::ExportTargetExists {
                            path: target.clone(),
                        }
                    } else {
                        Error::io("placing the exported file", &target, e)
                    }
                })?;
                let _ = std::fs::remove_file(&tmp);
            }
            sync_dir(&parent)?;
            Ok((bytes, sha))
        });
        match placed {
            Ok((bytes, sha256)) => Ok(ExportResult {
                id: id.into(),
                path: target,
                format: archive.format,
                bytes,
                size_text: human_bytes(bytes),
                sha256,
                replaced: existed,
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Checks each archive of `id` against its manifest's sha256, then the
    /// detached signatures of the archives and the manifest (`<file>.asc`)
    /// with the public key in `key`, else the user's keyring; with `signer`
    /// (a fingerprint) each must be by that key, not by any the keyring holds.
    pub fn verify_signatures(
        &self,
        id: &str,
        key: Option<&Path>,
        signer: Option<&str>,
    ) -> Result<SignatureReport> {
        let artifact = self.show(id)?;
        for archive in &artifact.manifest.archives {
            let path = artifact.dir.join(&archive.file);
            let actual = sha256_file(&path)?;
            if actual != archive.sha256 {
                return Err(Error::ChecksumMismatch {
                    path,
                    expected: archive.sha256.clone(),
                    actual,
                });
            }
        }
        let signatures = artifact
            .signed_files()
            .iter()
            .map(|file| crate::publish::verify_signature(file, key))
            .collect::<Result<Vec<_>>>()?;
        if let Some(signer) = signer {
            if let Some(other) = signatures.iter().find(|good| !good.is_by(signer)) {
                return Err(Error::SignatureInvalid {
                    file: other.file.clone(),
                    detail: format!(
                        "signed by {} ({}), not by the key you expect ({signer})",
                        other.signer, other.primary
                    ),
                });
            }
        }
        Ok(SignatureReport {
            id: id.into(),
            archives: artifact.manifest.archives.len(),
            signatures,
        })
    }

    pub fn delete(&self, id: &str) -> Result<()> {
        let dir = self.existing(id)?;
        let trash = self
            .dir
            .join(format!("{DELETING}{id}.{}", std::process::id()));
        std::fs::rename(&dir, &trash).map_err(|e| Error::io("deleting an artifact", &dir, e))?;
        sync_dir(&self.dir)?;
        std::fs::remove_dir_all(&trash).map_err(|e| Error::io("deleting an artifact", &trash, e))
    }

    /// Removes what interrupted adds and deletes left behind (dirs whose process is gone);
    /// returns how many.
    pub fn clean_incoming(&self) -> Result<usize> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io("reading the artifact store", &self.dir, e)),
        };
        let mut removed = 0;
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with(INCOMING) || name.starts_with(DELETING)) {
                continue;
            }
            let pid = name.rsplit('.').next().and_then(|p| p.parse::<u32>().ok());
            let alive = pid.is_some_and(crate::fsutil::process_alive);
            if alive {
                continue;
            }
            std::fs::remove_dir_all(entry.path())
                .map_err(|e| Error::io("removing a stale artifact dir", entry.path(), e))?;
            removed += 1;
        }
        Ok(removed)
    }

    fn existing(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        let dir = self.dir.join(id);
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(Error::ArtifactNotFound {
                id: id.into(),
                store: self.dir.clone(),
            })
        }
    }
}

/// Copies `src` to a new file `dst`, hashing what it reads, and syncs `dst`.
fn copy_hashed(src: &Path, dst: &Path) -> Result<(u64, String)> {
    let mut input = File::open(src).map_err(|e| Error::io("reading an artifact file", src, e))?;
    let mut output = File::options()
        .write(true)
        .create_new(true)
        .open(dst)
        .map_err(|e| Error::io("creating a file", dst, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| Error::io("reading an artifact file", src, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output
            .write_all(&buf[..n])
            .map_err(|e| Error::io("writing a file", dst, e))?;
        total += n as u64;
    }
    output
        .sync_all()
        .map_err(|e| Error::io("syncing a file", dst, e))?;
    Ok((total, hex(&hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_escape_the_store_are_refused() {
        for bad in [
            "",
            "..",
            "../x",
            "a/b",
            ".incoming-x",
            "-rf",
            "a b",
            "x..y",
            "é",
        ] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
        for good in ["slurm-24.11-default-x86_64_v3-20261124T153000", "a+b_c.d-2"] {
            validate_id(good).unwrap();
        }
    }
}
