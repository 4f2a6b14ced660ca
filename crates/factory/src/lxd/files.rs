//! Copying files and trees in and out of instances (`lxc file push/pull`).

use std::ffi::OsString;
use std::path::Path;

use super::{check_instance_name, check_remote_path, is_not_found, Lxc};
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
