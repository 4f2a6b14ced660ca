//! Small file-system helpers shared by the run records, manifests, presets
//! and the artifact store.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over
/// `path` and syncs the directory: readers see the old file or the new one,
/// never half of one, even after a crash.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, "writing", |tmp| {
        let mut file = std::fs::File::create(tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })
}

/// [`write_atomic`] for a file that `write` makes (and syncs) at the temporary
/// path it is given: a failed write leaves nothing, neither at `path` nor
/// beside it. `context` names the work in errors ("writing an archive").
pub fn write_atomic_with(
    path: &Path,
    context: &'static str,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A new file of a name no one can guess, made where nothing was
    // (O_EXCL): a link planted beside `path` (a build can write in a cache
    // layer) is never written through. The mode is File::create's.
    let prefix = format!(".{name}.");
    let tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| Error::io(context, dir, e))?
        .into_temp_path();
    // Dropped on failure: nothing is left beside `path`.
    write(&tmp).map_err(|e| Error::io(context, &tmp, e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(context, path, e.error))?;
    sync_dir(dir)
}

/// fsync a directory so a rename inside it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("syncing a directory", dir, e))
}

/// Directories a tree digest and a tree push leave out: version control
/// metadata and Python's byte-code caches, which running Spack on the host
/// writes into its own tree.
pub fn is_volatile(name: &std::ffi::OsStr) -> bool {
    name == ".git" || name == "__pycache__"
}

/// sha256 over everything in the tree at `root` that shapes what a copy of it
/// does: each entry's relative path, kind, executable bit and contents (a
/// symlink's target), in sorted order; [`is_volatile`] entries are skipped.
/// Renaming the tree's own directory does not change it.
pub fn tree_digest(root: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::PermissionsExt;
    let root = &std::fs::canonicalize(root).map_err(|e| Error::io("reading", root, e))?;
    let mut h = Sha256::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io("reading", &dir, e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io("reading", &dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        // Reversed, so the stack yields subdirectories in sorted order.
        let mut subdirs = Vec::new();
        for entry in entries {
            if is_volatile(&entry.file_name()) {
                continue;
            }
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let meta =
                std::fs::symlink_metadata(&path).map_err(|e| Error::io("reading", &path, e))?;
            h.update(rel.as_os_str().as_encoded_bytes());
            h.update([0]);
            if meta.file_type().is_symlink() {
                let target =
                    std::fs::read_link(&path).map_err(|e| Error::io("reading", &path, e))?;
                h.update(b"l");
                h.update(target.as_os_str().as_encoded_bytes());
            } else if meta.is_dir() {
                h.update(b"d");
                subdirs.push(path);
            } else {
                let exec = meta.permissions().mode() & 0o111 != 0;
                h.update(if exec { b"x" } else { b"f" });
                h.update(meta.len().to_le_bytes());
                let mut file =
                    std::fs::File::open(&path).map_err(|e| Error::io("reading", &path, e))?;
                std::io::copy(&mut file, &mut h).map_err(|e| Error::io("reading", &path, e))?;
            }
            h.update([0]);
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(hex(&h.finalize()))
}

/// What the tree at `root` holds: bytes of its regular files (a symlink counts as
/// an entry, not as its target's size) and the number of entries that are not
/// directories. `root` may be a single file; what cannot be read counts as nothing.
pub fn tree_usage(root: &Path) -> (u64, u64) {
    let (mut bytes, mut entries) = (0, 0);
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(dir) = std::fs::read_dir(&path) {
                stack.extend(dir.flatten().map(|e| e.path()));
            }
            continue;
        }
        entries += 1;
        if meta.is_file() {
            bytes += meta.len();
        }
    }
    (bytes, entries)
}

/// The regular files below `root`: path relative to it (`/`-separated) →
/// size. A missing `root` has none.
pub fn file_sizes(root: &Path) -> Result<std::collections::BTreeMap<String, u64>> {
    let mut files = std::collections::BTreeMap::new();
    if !root.exists() {
        return Ok(files);
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io("reading", &dir, e))? {
            let entry = entry.map_err(|e| Error::io("reading", &dir, e))?;
            let path = entry.path();
            let meta = entry
                .metadata()
                .map_err(|e| Error::io("reading", &path, e))?;
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                files.insert(rel.to_string_lossy().into_owned(), meta.len());
            }
        }
    }
    Ok(files)
}

/// Lowercase hex of `bytes` (sha256 digests).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `path`, or its nearest ancestor that exists (what a free-space check can ask about).
pub fn nearest_existing(path: &Path) -> PathBuf {
    path.ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"))
        .to_path_buf()
}

/// Whether process `pid` is running. A zombie (killed, not yet reaped by its
/// parent) is not: the process that owned a run or a staging dir is gone.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses and
        // may itself hold spaces or parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Creates `dir` and its missing parents readable by the owner alone
/// (0700): run records, artifacts and caches are nobody else's to read.
/// Directories already there keep their mode (a lab may share a cache dir
/// on purpose).
pub fn create_private_dir_all(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// A directory the host writes into that an instance can write too (a
/// package tree, a cache layer): every path below it is walked from the
/// root's descriptor one component at a time, never through a link, so a
/// link a build planted (`etc -> /etc`) or swaps in meanwhile is refused, not
/// followed out of the directory as the user running the product (or root).
pub struct Beneath {
    fd: std::os::fd::OwnedFd,
    root: PathBuf,
}

/// What a link met where a directory or a file belongs is refused with.
pub fn planted_link(what: &'static str, path: &Path) -> Error {
    Error::io(
        what,
        path,
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "a link where a directory or file belongs: not followed (a build may have planted \
             it)",
        ),
    )
}

impl Beneath {
    const DIR: rustix::fs::OFlags = rustix::fs::OFlags::RDONLY
        .union(rustix::fs::OFlags::DIRECTORY)
        .union(rustix::fs::OFlags::NOFOLLOW)
        .union(rustix::fs::OFlags::CLOEXEC);

    /// `root`, which must be a directory itself, not a link to one.
    pub fn open(root: &Path, what: &'static str) -> Result<Beneath> {
        use rustix::fs::{openat, Mode, CWD};
        match openat(CWD, root, Self::DIR, Mode::empty()) {
            Ok(fd) => Ok(Beneath {
                fd,
                root: root.to_path_buf(),
            }),
            Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
                Err(planted_link(what, root))
            }
            Err(e) => Err(Error::io(what, root, e.into())),
        }
    }

    /// The directory `rel` below the root, made (with its parents) where
    /// missing.
    fn dir(&self, rel: &Path, what: &'static str) -> Result<std::os::fd::OwnedFd> {
        use rustix::fs::{mkdirat, openat, Mode};
        use rustix::io::Errno;
        let mut fd =
            rustix::io::dup(&self.fd).map_err(|e| Error::io(what, &self.root, e.into()))?;
        let mut at = self.root.clone();
        for part in rel.components() {
            let std::path::Component::Normal(name) = part else {
                return Err(Error::io(
                    what,
                    self.root.join(rel),
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a plain path below"),
                ));
            };
            at.push(name);
            match mkdirat(&fd, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(Error::io(what, &at, e.into())),
            }
            fd = match openat(&fd, name, Self::DIR, Mode::empty()) {
                Ok(next) => next,
                Err(Errno::LOOP | Errno::NOTDIR) => return Err(planted_link(what, &at)),
                Err(e) => return Err(Error::io(what, &at, e.into())),
            };
        }
        Ok(fd)
    }

    /// Writes what `from` reads to `rel` below the root with `mode`: into a
    /// new file beside it (created `O_EXCL`), renamed over whatever was there
    /// (a link there is replaced, never written through).
    pub fn write(
        &self,
        rel: &Path,
        from: &mut dyn std::io::Read,
        mode: u32,
        what: &'static str,
    ) -> Result<()> {
        use rustix::fs::{openat, renameat, unlinkat, AtFlags, Mode, OFlags};
        let path = self.root.join(rel);
        let name = rel
            .file_name()
            .ok_or_else(|| Error::io(what, &path, std::io::ErrorKind::InvalidInput.into()))?;
        let dir = self.dir(rel.parent().unwrap_or(Path::new("")), what)?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let (tmp, fd) = loop {
            let tmp = format!(".sf-incoming-{:016x}", random_u64());
            match openat(&dir, tmp.as_str(), flags, Mode::from_raw_mode(mode)) {
                Ok(fd) => break (tmp, fd),
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => return Err(Error::io(what, &path, e.into())),
            }
        };
        let written = (|| {
            let mut file = std::fs::File::from(fd);
            std::io::copy(from, &mut file)?;
            // The mode asked for, whatever the umask took from it.
            rustix::fs::fchmod(&file, Mode::from_raw_mode(mode))?;
            renameat(&dir, tmp.as_str(), &dir, name)?;
            Ok::<_, std::io::Error>(())
        })();
        if let Err(e) = written {
            let _ = unlinkat(&dir, tmp.as_str(), AtFlags::empty());
            return Err(Error::io(what, &path, e));
        }
        Ok(())
    }
}

/// A random number for a temporary name, from the standard library's
/// randomly keyed hasher (no RNG dependency needed).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

/// Gives `dir` and everything under it to host `uid`:`gid` (entries already
/// theirs are left alone), and says how many entries changed owner. Nothing
/// is followed: each directory is opened `O_NOFOLLOW` from its parent's
/// descriptor, each other entry changed as itself (`lchown`), so a link that
/// an instance plants or swaps in under `dir` while this runs is given away,
/// never what it points to.
pub fn give_tree(dir: &Path, uid: u32, gid: u32) -> Result<u64> {
    use rustix::fs::{openat, Mode, OFlags, CWD};
    // `dir` itself may be reached through a link (a cache dir the user
    // placed so); nothing below it is.
    let fd = openat(
        CWD,
        dir,
        Beneath::DIR.difference(OFlags::NOFOLLOW),
        Mode::empty(),
    )
    .map_err(|e| Error::io("opening", dir, e.into()))?;
    give_dir(&fd, dir, Owner { uid, gid })
}

#[derive(Clone, Copy)]
struct Owner {
    uid: u32,
    gid: u32,
}

impl Owner {
    fn owns(self, stat: &rustix::fs::Stat) -> bool {
        stat.st_uid == self.uid && stat.st_gid == self.gid
    }

    fn ids(self) -> (Option<rustix::fs::Uid>, Option<rustix::fs::Gid>) {
        (
            Some(rustix::fs::Uid::from_raw(self.uid)),
            Some(rustix::fs::Gid::from_raw(self.gid)),
        )
    }
}

fn give_dir(fd: &std::os::fd::OwnedFd, path: &Path, owner: Owner) -> Result<u64> {
    use rustix::fs::{chownat, fchown, fstat, openat, statat, AtFlags, Dir, FileType, Mode};
    use rustix::io::Errno;
    let io = |what: &'static str, at: &Path, e: Errno| Error::io(what, at, e.into());
    let mut changed = 0;
    let stat = fstat(fd).map_err(|e| io("reading", path, e))?;
    if !owner.owns(&stat) {
        let (uid, gid) = owner.ids();
        fchown(fd, uid, gid).map_err(|e| io("changing the owner of", path, e))?;
        changed += 1;
    }
    let entries = Dir::read_from(fd).map_err(|e| io("listing", path, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io("listing", path, e))?;
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        let child = path.join(std::ffi::OsStr::from_bytes(name.to_bytes()));
        if entry.file_type() == FileType::Directory {
            match openat(fd, name, Beneath::DIR, Mode::empty()) {
                Ok(sub) => {
                    changed += give_dir(&sub, &child, owner)?;
                    continue;
                }
                // Gone, or no longer a directory (swapped for a link): as
                // any other entry below.
                Err(Errno::NOENT) => continue,
                Err(Errno::LOOP | Errno::NOTDIR) => {}
                Err(e) => return Err(io("opening", &child, e)),
            }
        }
        let stat = match statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(io("reading", &child, e)),
        };
        if !owner.owns(&stat) {
            let (uid, gid) = owner.ids();
            match chownat(fd, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(()) => changed += 1,
                Err(Errno::NOENT) => {}
                Err(e) => return Err(io("changing the owner of", &child, e)),
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zombie_is_not_alive_but_a_running_process_is() {
        assert!(process_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Exited, not yet waited for: a zombie.
        while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        assert!(!process_alive(pid));
        child.wait().unwrap();
        assert!(!process_alive(pid));
    }

    /// A package tree or a cache layer a build made: links in it where a
    /// directory or the file itself belongs are never written through.
    #[test]
    fn nothing_is_written_through_a_link_planted_beneath() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let tmp = tempfile::tempdir().unwrap();
        let (tree, outside) = (tmp.path().join("tree"), tmp.path().join("outside"));
        std::fs::create_dir_all(tree.join("share")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("passwd"), "keep").unwrap();
        symlink(&outside, tree.join("etc")).unwrap();
        symlink(outside.join("passwd"), tree.join("share/passwd")).unwrap();
        let beneath = Beneath::open(&tree, "writing").unwrap();

        let err = beneath
            .write(
                Path::new("etc/slurm/slurm.conf"),
                &mut &b"x"[..],
                0o644,
                "writing",
            )
            .unwrap_err();
        assert!(err.to_string().contains("not followed"), "{err}");
        assert!(
            !outside.join("slurm").exists(),
            "a directory made through the link"
        );
        // A link where the file belongs is replaced by the file.
        beneath
            .write(
                Path::new("share/passwd"),
                &mut &b"new"[..],
                0o640,
                "writing",
            )
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(outside.join("passwd")).unwrap(),
            "keep"
        );
        let written = tree.join("share/passwd");
        assert!(!std::fs::symlink_metadata(&written).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&written).unwrap(), "new");
        let mode = std::fs::metadata(&written).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        // Parents are made; the tree itself must not be a link.
        beneath
            .write(
                Path::new("share/lmod/slurm.lua"),
                &mut &b"m"[..],
                0o644,
                "writing",
            )
            .unwrap();
        assert!(tree.join("share/lmod/slurm.lua").is_file());
        let err = Beneath::open(&tree.join("etc"), "writing").err().unwrap();
        assert!(err.to_string().contains("not followed"), "{err}");
        let leftovers: Vec<_> = std::fs::read_dir(tree.join("share"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().starts_with(".sf-incoming-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    /// Needs root (as CI runs), which alone may give files away.
    #[test]
    fn a_tree_is_given_away_but_nothing_its_links_point_to() {
        use std::os::unix::fs::MetadataExt;
        if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
            eprintln!("skipped: only root may change owners");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let (layer, outside) = (tmp.path().join("layer"), tmp.path().join("outside"));
        std::fs::create_dir_all(layer.join("blobs/sha256")).unwrap();
        std::fs::create_dir_all(outside.join("etc")).unwrap();
        std::fs::write(layer.join("blobs/sha256/ab"), "blob").unwrap();
        std::fs::write(outside.join("shadow"), "secret").unwrap();
        std::fs::write(outside.join("etc/passwd"), "root").unwrap();
        std::os::unix::fs::symlink(outside.join("shadow"), layer.join("index.json")).unwrap();
        std::os::unix::fs::symlink(outside.join("etc"), layer.join("blobs/etc")).unwrap();

        assert_eq!(give_tree(&layer, 4242, 4343).unwrap(), 6);
        for inside in [
            "",
            "blobs",
            "blobs/sha256",
            "blobs/sha256/ab",
            "index.json",
            "blobs/etc",
        ] {
            let meta = std::fs::symlink_metadata(layer.join(inside)).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (4242, 4343), "{inside}");
        }
        for kept in ["shadow", "etc", "etc/passwd"] {
            let meta = std::fs::symlink_metadata(outside.join(kept)).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (0, 0), "{kept} was given away");
        }
        // Once is enough: nothing changes the second time.
        assert_eq!(give_tree(&layer, 4242, 4343).unwrap(), 0);
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("run.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
        assert_eq!(hex(&[0, 171, 255]), "00abff");
    }

    /// The temporary file was `.NAME.tmp-PID`: a build that can write in the
    /// directory (a cache layer) planted a link there and had the host write
    /// through it, outside the layer.
    #[test]
    fn atomic_write_never_writes_through_a_planted_link() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("outside");
        std::fs::write(&victim, b"keep").unwrap();
        let layer = tmp.path().join("layer");
        std::fs::create_dir(&layer).unwrap();
        let path = layer.join("index.json");
        let guessed = layer.join(format!(".index.json.tmp-{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &guessed).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        // The mode File::create gives, not a temporary file's 0600.
        let plain = layer.join("plain");
        std::fs::File::create(&plain).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions();
        assert_eq!(mode(&path), mode(&plain));
    }

    #[test]
    fn tree_usage_counts_files_not_symlink_targets() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("d/e")).unwrap();
        std::fs::write(dir.path().join("d/e/a"), vec![0u8; 1000]).unwrap();
        std::fs::write(dir.path().join("b"), vec![0u8; 24]).unwrap();
        std::os::unix::fs::symlink("d/e/a", dir.path().join("link")).unwrap();
        assert_eq!(tree_usage(dir.path()), (1024, 3));
        assert_eq!(tree_usage(&dir.path().join("b")), (24, 1));
        assert_eq!(tree_usage(&dir.path().join("absent")), (0, 0));
    }

    #[test]
    fn tree_digest_follows_contents_not_the_tree_name() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("spack");
        std::fs::create_dir_all(a.join("etc/spack")).unwrap();
        std::fs::write(a.join("etc/spack/packages.yaml"), "packages: {}\n").unwrap();
        std::fs::create_dir_all(a.join("bin")).unwrap();
        std::fs::write(a.join("bin/spack"), "#!/bin/sh\n").unwrap();
        let first = tree_digest(&a).unwrap();
        // The same tree under another name digests the same.
        let b = tmp.path().join("spack-1.1");
        std::fs::rename(&a, &b).unwrap();
        assert_eq!(tree_digest(&b).unwrap(), first);
        // Byte-code caches and git metadata do not count.
        std::fs::create_dir_all(b.join("bin/__pycache__")).unwrap();
        std::fs::write(b.join("bin/__pycache__/x.pyc"), "cache").unwrap();
        std::fs::create_dir_all(b.join(".git")).unwrap();
        std::fs::write(b.join(".git/HEAD"), "ref").unwrap();
        assert_eq!(tree_digest(&b).unwrap(), first);
        // A change in the site config does.
        std::fs::write(b.join("etc/spack/packages.yaml"), "packages: {zlib: {}}\n").unwrap();
        let edited = tree_digest(&b).unwrap();
        assert_ne!(edited, first);
        // So does the executable bit.
        std::fs::set_permissions(b.join("bin/spack"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        assert_ne!(tree_digest(&b).unwrap(), edited);
    }
}
