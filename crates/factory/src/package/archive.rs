//! Archives a package tree: `name/` as the single top directory, entries in sorted order,
//! modes and symlinks kept, owner root. Written to a temporary name, synced, renamed.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// zstd level. Measured on the Spack-built minimal Slurm 22.05 package (15.7 MiB, zstd's CLI,
/// 2 threads): level 12 gives 4.7 MB in 1.8 s, 17 gives 3.7 MB in 8 s, 19 gives 3.6 MB in
/// 12 s. A package is built once and copied often, so the ratio wins; a rebuild that makes
/// the same tree reuses the stored archive instead (`Store::reusable_archives`).
const ZSTD_LEVEL: i32 = 19;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ArchiveFormat {
    /// `.tar.zst`, the default.
    TarZst,
    /// `.tar.gz`, for systems whose tar cannot read zstd.
    TarGz,
}

impl ArchiveFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ArchiveFormat::TarZst => "tar.zst",
            ArchiveFormat::TarGz => "tar.gz",
        }
    }

    /// The format a file name asks for, by its extension.
    pub fn from_file_name(name: &str) -> Option<ArchiveFormat> {
        [ArchiveFormat::TarZst, ArchiveFormat::TarGz]
            .into_iter()
            .find(|f| name.ends_with(&format!(".{}", f.extension())))
    }
}

/// One archive written by [`archive`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveFile {
    pub path: PathBuf,
    pub format: ArchiveFormat,
    pub bytes: u64,
    pub sha256: String,
}

/// Writes `<dest_dir>/<name>.<ext>` for each format; the archive holds `root`'s contents
/// under `name/`.
pub fn archive(
    root: &Path,
    dest_dir: &Path,
    name: &str,
    formats: &[ArchiveFormat],
) -> Result<Vec<ArchiveFile>> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error::InvalidValue {
            what: "package name",
            value: name.into(),
            reason: "must be one path component".into(),
        });
    }
    if !root.is_dir() {
        return Err(Error::io(
            "archiving a package tree",
            root,
            std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        ));
    }
    let mut seen = Vec::new();
    formats
        .iter()
        .filter(|f| {
            let new = !seen.contains(*f);
            seen.push(**f);
            new
        })
        .map(|&format| write_one(root, dest_dir, name, format))
        .collect()
}

fn write_one(
    root: &Path,
    dest_dir: &Path,
    name: &str,
    format: ArchiveFormat,
) -> Result<ArchiveFile> {
    let file_name = format!("{name}.{}", format.extension());
    let path = dest_dir.join(&file_name);
    crate::fsutil::write_atomic_with(&path, "writing an archive", |tmp| {
        write_compressed(root, tmp, name, format)
    })?;
    let bytes = std::fs::metadata(&path)
        .map_err(|e| Error::io("reading an archive", &path, e))?
        .len();
    Ok(ArchiveFile {
        sha256: super::sha256_file(&path)?,
        path,
        format,
        bytes,
    })
}

fn write_compressed(
    root: &Path,
    tmp: &Path,
    name: &str,
    format: ArchiveFormat,
) -> std::io::Result<()> {
    let file = File::create(tmp)?;
    let file = match format {
        ArchiveFormat::TarZst => {
            let mut enc = zstd::stream::write::Encoder::new(file, ZSTD_LEVEL)?;
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
            enc.multithread(threads)?;
            enc.include_checksum(true)?;
            append_tree(enc, root, name)?.finish()?
        }
        ArchiveFormat::TarGz => {
            let enc = flate2::write::GzEncoder::new(file, flate2::Compression::default());
            append_tree(enc, root, name)?.finish()?
        }
    };
    file.sync_all()
}

fn append_tree<W: Write>(writer: W, root: &Path, name: &str) -> std::io::Result<W> {
    let mut builder = tar::Builder::new(writer);
    builder.follow_symlinks(false);
    append_entry(&mut builder, root, Path::new(name))?;
    append_dir_contents(&mut builder, root, Path::new(name))?;
    builder.into_inner()
}

fn append_dir_contents<W: Write>(
    builder: &mut tar::Builder<W>,
    dir: &Path,
    in_archive: &Path,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = in_archive.join(entry.file_name());
        append_entry(builder, &path, &name)?;
        if entry.file_type()?.is_dir() {
            append_dir_contents(builder, &path, &name)?;
        }
    }
    Ok(())
}

fn append_entry<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &Path,
    name: &Path,
) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
    // Owned by root wherever it was built: whoever unpacks as root gets root-owned files.
    header.set_uid(0);
    header.set_gid(0);
    header.set_username("root")?;
    header.set_groupname("root")?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        header.set_size(0);
        builder.append_link(&mut header, name, std::fs::read_link(path)?)
    } else if ft.is_dir() {
        header.set_size(0);
        builder.append_data(&mut header, name, std::io::empty())
    } else if ft.is_file() {
        // What was checked as a file, not a link put in its place since.
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)?;
        builder.append_data(&mut header, name, file)
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a file, directory or symlink", path.display()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_file_names() {
        assert_eq!(
            ArchiveFormat::from_file_name("slurm.tar.zst"),
            Some(ArchiveFormat::TarZst)
        );
        assert_eq!(
            ArchiveFormat::from_file_name("/x/slurm.tar.gz"),
            Some(ArchiveFormat::TarGz)
        );
        assert_eq!(ArchiveFormat::from_file_name("slurm.zip"), None);
    }

    #[test]
    fn names_with_slashes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = archive(dir.path(), dir.path(), "../x", &[ArchiveFormat::TarZst]).unwrap_err();
        assert!(err.to_string().contains("package name"), "{err}");
    }
}
