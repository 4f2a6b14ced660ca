//! Copying files and trees in and out of instances (`lxc file push/pull`).

use std::ffi::OsString;
use std::path::Path;

use super::{check_instance_name, check_remote_path, is_not_found, os_args, Lxc};
use crate::error::{Error, Result};

impl Lxc {
    /// `NAME/path`, the way `lxc file` addresses a path in an instance.
    fn instance_path(&self, name: &str, path: &str) -> Result<OsString> {
        check_instance_name(name)?;
        check_remote_path(path)?;
        Ok(format!("{}{path}", self.on_remote(name)).into())
    }

    /// Maps "not found" from `lxc file` to an error that names the path.
    fn file_error(&self, name: &str, path: &str, e: Error) -> Error {
        if is_not_found(&e) {
            Error::Lxc {
                command: format!("{} file … {name}{path}", self.binary),
                stderr: format!("{path} not found in instance {name} (or the instance is gone)"),
            }
        } else {
            e
        }
    }

    /// Copies one local file to `remote_path` in the instance, owned by root
    /// with `mode`, creating missing parent directories.
    pub async fn push_file(
        &self,
        name: &str,
        local: &Path,
        remote_path: &str,
        mode: u32,
    ) -> Result<()> {
        let dest = self.instance_path(name, remote_path)?;
        let mode = format!("{mode:04o}");
        let args: Vec<OsString> = vec![
            "file".into(),
            "push".into(),
            "--create-dirs".into(),
            "--uid".into(),
            "0".into(),
            "--gid".into(),
            "0".into(),
            "--mode".into(),
            mode.into(),
            local.into(),
            dest,
        ];
        self.run(&args)
            .await
            .map(drop)
            .map_err(|e| self.file_error(name, remote_path, e))
    }

    /// Writes `bytes` to `remote_path` in the instance, readable by root
    /// only. They travel on the client's stdin: no file here, no argv.
    pub async fn write_private(&self, name: &str, remote_path: &str, bytes: &[u8]) -> Result<()> {
        check_instance_name(name)?;
        check_remote_path(remote_path)?;
        let target = self.on_remote(name);
        let args = os_args([
            "exec",
            target.as_str(),
            "--",
            "sh",
            "-c",
            "umask 077 && cat > \"$1\"",
            "sh",
            remote_path,
        ]);
        self.run_with_stdin(&args, bytes)
            .await
            .map(drop)
            .map_err(|e| self.file_error(name, remote_path, e))
    }

    /// Copies the local directory `local_dir` into `remote_parent`: it
    /// arrives as `remote_parent/<name of local_dir>`, modes kept.
    pub async fn push_tree(&self, name: &str, local_dir: &Path, remote_parent: &str) -> Result<()> {
        let dest = self.instance_path(name, remote_parent)?;
        let args: Vec<OsString> = vec![
            "file".into(),
            "push".into(),
            "--recursive".into(),
            "--create-dirs".into(),
            local_dir.into(),
            dest,
        ];
        self.run(&args)
            .await
            .map(drop)
            .map_err(|e| self.file_error(name, remote_parent, e))
    }

    /// Copies `remote_path` from the instance to the local file `local`.
    pub async fn pull_file(&self, name: &str, remote_path: &str, local: &Path) -> Result<()> {
        let src = self.instance_path(name, remote_path)?;
        let args: Vec<OsString> = vec!["file".into(), "pull".into(), src, local.into()];
        self.run(&args)
            .await
            .map(drop)
            .map_err(|e| self.file_error(name, remote_path, e))
    }

    /// Copies the directory `remote_dir` from the instance into
    /// `local_parent`: it arrives as `local_parent/<name of remote_dir>`.
    pub async fn pull_tree(&self, name: &str, remote_dir: &str, local_parent: &Path) -> Result<()> {
        let src = self.instance_path(name, remote_dir)?;
        let args: Vec<OsString> = vec![
            "file".into(),
            "pull".into(),
            "--recursive".into(),
            "--create-dirs".into(),
            src,
            local_parent.into(),
        ];
        self.run(&args)
            .await
            .map(drop)
            .map_err(|e| self.file_error(name, remote_dir, e))
    }
}

impl Lxc {
    /// Copies the local directory `local_dir` to exactly `remote_dir` in the
    /// instance, whatever the local directory is called: the tree travels as
    /// one tar file (through `scratch`, a local directory) and is unpacked
    /// there, owned by root, modes kept, symlinks as symlinks, with
    /// [`fsutil::is_volatile`] entries left out. A `remote_dir` already
    /// there is replaced.
    pub async fn push_tree_as(
        &self,
        name: &str,
        local_dir: &Path,
        remote_dir: &str,
        scratch: &Path,
    ) -> Result<()> {
        check_remote_path(remote_dir)?;
        let (parent, base) = remote_dir
            .trim_end_matches('/')
            .rsplit_once('/')
            .filter(|(_, base)| !base.is_empty())
            .ok_or_else(|| Error::InvalidValue {
                what: "instance path",
                value: remote_dir.into(),
                reason: "needs a parent directory and a name".into(),
            })?;
        let parent = if parent.is_empty() { "/" } else { parent };
        let tarball = tempfile::Builder::new()
            .prefix(".push-")
            .suffix(".tar")
            .tempfile_in(scratch)
            .map_err(|e| Error::io("creating a temporary file in", scratch, e))?;
        // A symlinked checkout is archived as the tree it points to.
        let local =
            std::fs::canonicalize(local_dir).map_err(|e| Error::io("reading", local_dir, e))?;
        let base_name = base.to_string();
        let file = tarball
            .reopen()
            .map_err(|e| Error::io("opening", tarball.path(), e))?;
        tokio::task::spawn_blocking(move || write_tree_tar(&local, &base_name, file))
            .await
            .expect("the tar task does not panic")?;
        let remote_tar = format!("/tmp/sf-push-{base}.tar");
        self.push_file(name, tarball.path(), &remote_tar, 0o600)
            .await?;
        let cancel = tokio_util::sync::CancellationToken::new();
        for argv in [
            vec!["rm", "-rf", remote_dir],
            vec!["mkdir", "-p", parent],
            vec!["tar", "-C", parent, "-xf", &remote_tar],
            vec!["rm", "-f", &remote_tar],
        ] {
            let argv: Vec<String> = argv.into_iter().map(String::from).collect();
            let mut first = Vec::new();
            let code = self
                .exec(
                    name,
                    &argv,
                    &[],
                    |_, line| {
                        if first.len() < 3 {
                            first.push(line)
                        }
                    },
                    &cancel,
                )
                .await?;
            if code != 0 {
                return Err(Error::Lxc {
                    command: format!("{} exec {name} -- {}", self.binary, argv.join(" ")),
                    stderr: format!("exited with {code}: {}", first.join(" | ")),
                });
            }
        }
        Ok(())
    }
}

/// The tree at `root` as a tar stream whose entries sit under `top/`.
fn write_tree_tar(root: &Path, top: &str, out: std::fs::File) -> Result<()> {
    let mut builder = tar::Builder::new(std::io::BufWriter::new(out));
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Deterministic);
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rel = dir.strip_prefix(root).unwrap_or(&dir);
        builder
            .append_path_with_name(&dir, Path::new(top).join(rel))
            .map_err(|e| Error::io("archiving", &dir, e))?;
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io("reading", &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("reading", &dir, e))?;
            if crate::fsutil::is_volatile(&entry.file_name()) {
                continue;
            }
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| Error::io("reading", &path, e))?;
            if kind.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                builder
                    .append_path_with_name(&path, Path::new(top).join(rel))
                    .map_err(|e| Error::io("archiving", &path, e))?;
            }
        }
    }
    builder
        .into_inner()
        .and_then(|mut w| std::io::Write::flush(&mut w))
        .map_err(|e| Error::io("archiving", root, e))
}
