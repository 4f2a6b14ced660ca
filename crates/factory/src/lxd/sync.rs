//! Moving sets of files between a host directory and a directory in an
//! instance, one tar file each way. A build on a remote server cannot mount
//! this machine's directories: its cache layers and its output travel so.
//! Files land whole on both sides (unpacked beside, then renamed), so another
//! build reading the same layer never sees half a file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use super::{check_remote_path, Lxc};
use crate::error::{Error, Result};

/// Unpacks the tar file `$3` into the directory `$1` through a staging
/// directory beside it (`$2` names it), each file then renamed into place.
const UNPACK_WHOLE: &str = r#"set -e
stage="$1/.sf-incoming-$2"
rm -rf "$stage"; mkdir -p "$stage"
tar -C "$stage" -xf "$3"
cd "$stage"
find . -mindepth 1 -type d -exec sh -c 'for d; do mkdir -p "$0/$d"; done' "$1" {} +
find . -type f -exec sh -c 'for f; do mv -f "$f" "$0/$f"; done' "$1" {} +
cd /
rm -rf "$stage" "$3""#;

/// Lists the regular files under `$1` as `SIZE PATH\0`; nothing when `$1`
/// is missing. Staging directories of unfinished copies are left out, and
/// a file another build removes mid-walk is no error.
const LIST_FILES: &str = r#"[ -d "$1" ] || exit 0
cd "$1" || exit 1
find . -path './.sf-incoming-*' -prune -o -type f -printf '%s %P\0' 2>/dev/null || true"#;

impl Lxc {
    /// The regular files under `dir` in the instance: relative path → size.
    pub async fn list_files(&self, name: &str, dir: &str) -> Result<BTreeMap<String, u64>> {
        check_remote_path(dir)?;
        let out = self.sh(name, LIST_FILES, &[dir]).await?;
        Ok(out
            .split('\0')
            .filter_map(|entry| {
                let (size, path) = entry.split_once(' ')?;
                Some((path.to_string(), size.parse().ok()?))
            })
            .collect())
    }

    /// Copies `files` (paths relative to `local_root`) into `remote_dir` in
    /// the instance, through one tar file written in `scratch`.
    pub async fn push_files(
        &self,
        name: &str,
        local_root: &Path,
        files: &[String],
        remote_dir: &str,
        scratch: &Path,
    ) -> Result<()> {
        check_remote_path(remote_dir)?;
        if files.is_empty() {
            return Ok(());
        }
        let tarball = scratch_file(scratch, ".sync-up-")?;
        let (root, list, file) = (
            local_root.to_path_buf(),
            files.to_vec(),
            tarball
                .reopen()
                .map_err(|e| Error::io("opening", tarball.path(), e))?,
        );
        tokio::task::spawn_blocking(move || write_files_tar(&root, &list, file))
            .await
            .expect("the tar task does not panic")?;
        let remote_tar = "/tmp/sf-sync-up.tar";
        self.push_file(name, tarball.path(), remote_tar, 0o600)
            .await?;
        self.sh(name, UNPACK_WHOLE, &[remote_dir, "up", remote_tar])
            .await
            .map(drop)
    }

    /// Copies `files` (paths relative to `remote_dir` in the instance) into
    /// `local_root`, each renamed into place once whole.
    pub async fn pull_files(
        &self,
        name: &str,
        remote_dir: &str,
        files: &[String],
        local_root: &Path,
        scratch: &Path,
    ) -> Result<()> {
        check_remote_path(remote_dir)?;
        if files.is_empty() {
            return Ok(());
        }
        let list = scratch_file(scratch, ".sync-list-")?;
        let mut names = Vec::new();
        for f in files {
            names.extend_from_slice(f.as_bytes());
            names.push(0);
        }
        std::fs::write(list.path(), &names).map_err(|e| Error::io("writing", list.path(), e))?;
        let (remote_list, remote_tar) = ("/tmp/sf-sync-down.list", "/tmp/sf-sync-down.tar");
        self.push_file(name, list.path(), remote_list, 0o600)
            .await?;
        self.sh(
            name,
            // A file gone since it was listed is left out, not an error.
            r#"tar -C "$1" --ignore-failed-read --null -T "$2" -cf "$3"; rm -f "$2""#,
            &[remote_dir, remote_list, remote_tar],
        )
        .await?;
        let tarball = scratch_file(scratch, ".sync-down-")?;
        self.pull_file(name, remote_tar, tarball.path()).await?;
        self.sh(name, r#"rm -f "$1""#, &[remote_tar]).await?;
        let (path, root) = (tarball.path().to_path_buf(), local_root.to_path_buf());
        tokio::task::spawn_blocking(move || unpack_whole(&path, &root))
            .await
            .expect("the unpack task does not panic")
    }

    /// Copies the directory `remote_dir` of the instance to `local_dir`
    /// (replaced when there), modes kept, symlinks as symlinks.
    pub async fn pull_tree_as(
        &self,
        name: &str,
        remote_dir: &str,
        local_dir: &Path,
        scratch: &Path,
    ) -> Result<()> {
        check_remote_path(remote_dir)?;
        let remote_tar = "/tmp/sf-pull-tree.tar";
        self.sh(name, r#"tar -C "$1" -cf "$2" ."#, &[remote_dir, remote_tar])
            .await?;
        let tarball = scratch_file(scratch, ".pull-")?;
        self.pull_file(name, remote_tar, tarball.path()).await?;
        self.sh(name, r#"rm -f "$1""#, &[remote_tar]).await?;
        let (path, dir) = (tarball.path().to_path_buf(), local_dir.to_path_buf());
        tokio::task::spawn_blocking(move || {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| Error::io("replacing", &dir, e))?;
            }
            std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
            let file = std::fs::File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
            let mut archive = tar::Archive::new(std::io::BufReader::new(file));
            archive.set_preserve_permissions(true);
            archive
                .unpack(&dir)
                .map_err(|e| Error::io("unpacking what the instance sent into", &dir, e))
        })
        .await
        .expect("the unpack task does not panic")
    }

    /// Runs the fixed script `script` with `args` as `$1…` (never part of
    /// the script's text) and returns its stdout; a non-zero exit is an error.
    async fn sh(&self, name: &str, script: &str, args: &[&str]) -> Result<String> {
        let mut argv: Vec<String> = vec!["sh".into(), "-c".into(), script.into(), "sh".into()];
        argv.extend(args.iter().map(|a| a.to_string()));
        let out = self.exec_capture(name, &argv, &[]).await?;
        if out.status != 0 {
            return Err(Error::Lxc {
                command: format!("{} exec {name} -- sh -c … {}", self.binary, args.join(" ")),
                stderr: format!("exited with {}: {}", out.status, out.stderr.trim()),
            });
        }
        Ok(out.stdout)
    }
}

fn scratch_file(scratch: &Path, prefix: &str) -> Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempfile_in(scratch)
        .map_err(|e| Error::io("creating a temporary file in", scratch, e))
}

/// A path from the other side, accepted only when it stays below the root.
fn relative(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    let plain = !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    plain.then(|| p.to_path_buf())
}

fn write_files_tar(root: &Path, files: &[String], out: std::fs::File) -> Result<()> {
    let mut builder = tar::Builder::new(std::io::BufWriter::new(out));
    builder.mode(tar::HeaderMode::Deterministic);
    for f in files {
        let rel = relative(f).ok_or_else(|| Error::InvalidValue {
            what: "file to copy",
            value: f.clone(),
            reason: "must be a relative path below the directory".into(),
        })?;
        let path = root.join(&rel);
        match builder.append_path_with_name(&path, &rel) {
            // Gone since it was listed (another build's cleanup): left out.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other.map_err(|e| Error::io("archiving", &path, e))?,
        }
    }
    builder
        .into_inner()
        .and_then(|mut w| w.flush())
        .map_err(|e| Error::io("archiving", root, e))
}

/// Unpacks the regular files of the tar file at `tarball` below `root`, each
/// written beside its place and renamed there; other entries are ignored. A
/// build can write in the cache layers, so nothing on the way is followed
/// (see [`crate::fsutil::Beneath`]).
fn unpack_whole(tarball: &Path, root: &Path) -> Result<()> {
    const WHAT: &str = "writing into a cache layer";
    let file = std::fs::File::open(tarball).map_err(|e| Error::io("opening", tarball, e))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    let entries = archive
        .entries()
        .map_err(|e| Error::io("reading", tarball, e))?;
    std::fs::create_dir_all(root).map_err(|e| Error::io("creating", root, e))?;
    let layer = crate::fsutil::Beneath::open(root, WHAT)?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::io("reading", tarball, e))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = entry
            .path()
            .map_err(|e| Error::io("reading", tarball, e))?
            .to_string_lossy()
            .into_owned();
        let Some(rel) = relative(&name) else { continue };
        // The mode it had there.
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        layer.write(&rel, &mut entry, mode, WHAT)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// The layer's `blobs` was a link a build planted: the files synced
    /// down were written where it pointed.
    #[test]
    fn a_link_planted_in_the_layer_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst, outside) = (
            tmp.path().join("src"),
            tmp.path().join("dst"),
            tmp.path().join("outside"),
        );
        std::fs::create_dir_all(src.join("blobs/sha256")).unwrap();
        std::fs::write(src.join("blobs/sha256/abc"), b"blob").unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        std::fs::create_dir_all(outside.join("sha256")).unwrap();
        std::os::unix::fs::symlink(&outside, dst.join("blobs")).unwrap();
        let tar_path = tmp.path().join("t.tar");
        let files = ["blobs/sha256/abc".to_string()];
        write_files_tar(&src, &files, std::fs::File::create(&tar_path).unwrap()).unwrap();
        let err = unpack_whole(&tar_path, &dst).unwrap_err();
        assert!(err.to_string().contains("not followed"), "{err}");
        assert!(
            !outside.join("sha256/abc").exists(),
            "written through the link"
        );
    }

    #[test]
    fn only_paths_below_the_root_are_accepted() {
        assert_eq!(relative("a/b.json"), Some(PathBuf::from("a/b.json")));
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "./a"] {
            assert_eq!(relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn files_travel_whole_and_nothing_escapes_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
        std::fs::create_dir_all(src.join("blobs/sha256/ab")).unwrap();
        std::fs::write(src.join("blobs/sha256/ab/abc"), b"blob").unwrap();
        std::fs::write(src.join("top.json"), b"{}").unwrap();
        let tar_path = tmp.path().join("t.tar");
        let files = ["blobs/sha256/ab/abc".to_string(), "top.json".to_string()];
        write_files_tar(&src, &files, std::fs::File::create(&tar_path).unwrap()).unwrap();
        unpack_whole(&tar_path, &dst).unwrap();
        assert_eq!(
            std::fs::read(dst.join("blobs/sha256/ab/abc")).unwrap(),
            b"blob"
        );
        assert_eq!(std::fs::read(dst.join("top.json")).unwrap(), b"{}");
        let mode = std::fs::metadata(dst.join("top.json"))
            .unwrap()
            .permissions()
            .mode();
        let src_mode = std::fs::metadata(src.join("top.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, src_mode & 0o777);
        let leftovers: Vec<_> = std::fs::read_dir(&dst)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".sf-incoming"))
            .collect();
        assert!(leftovers.is_empty());
        // A file gone since it was listed is left out.
        let gone = ["top.json".to_string(), "gone.json".to_string()];
        write_files_tar(&src, &gone, std::fs::File::create(&tar_path).unwrap()).unwrap();
        assert!(write_files_tar(
            &src,
            &["../escape".to_string()],
            std::fs::File::create(&tar_path).unwrap()
        )
        .is_err());
    }
}
