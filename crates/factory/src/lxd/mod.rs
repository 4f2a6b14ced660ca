//! Drives LXD through its `lxc` command-line client (or `incus`), the way
//! Canonical's craft-providers does: argv only, `--format json`, and errors
//! mapped to engine errors with hints.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;
use tokio::process::Command;

use crate::error::{Error, Result};
use crate::settings::Settings;

/// A handle on one LXD remote and project.
#[derive(Debug, Clone)]
pub struct Lxc {
    binary: String,
    remote: String,
    project: String,
}

/// What `lxc` printed and how it exited.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `GET /1.0`, the parts we use.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerInfo {
    pub auth: String,
    #[serde(default)]
    pub environment: ServerEnvironment,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ServerEnvironment {
    #[serde(default)]
    pub server_version: String,
    #[serde(default)]
    pub driver: String,
    #[serde(default)]
    pub storage: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StoragePool {
    pub name: String,
    pub driver: String,
    #[serde(default)]
    pub status: String,
}

impl Lxc {
    pub fn new(settings: &Settings) -> Lxc {
        Lxc {
            binary: settings.lxc_binary.clone(),
            remote: settings.lxd_remote.clone(),
            project: settings.lxd_project.clone(),
        }
    }

    pub fn binary(&self) -> &str {
        &self.binary
    }

    /// `remote:name` for commands that address an object on the remote.
    pub fn on_remote(&self, name: &str) -> String {
        if self.remote == "local" {
            name.to_string()
        } else {
            format!("{}:{name}", self.remote)
        }
    }

    /// Where the client binary is, searched on PATH like a shell would.
    pub fn locate(&self) -> Option<PathBuf> {
        find_on_path(&self.binary)
    }

    /// Runs `lxc --project P ARGS…`; a non-zero exit becomes an error.
    pub async fn run(&self, args: &[&str]) -> Result<Output> {
        let out = self.run_unchecked(args).await?;
        if out.status != 0 {
            return Err(self.classify(args, &out.stderr));
        }
        Ok(out)
    }

    /// Runs `lxc` and returns its output whatever the exit code; only a
    /// missing binary is an error.
    pub async fn run_unchecked(&self, args: &[&str]) -> Result<Output> {
        let out = Command::new(&self.binary)
            .arg("--project")
            .arg(&self.project)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::LxcNotFound {
                    binary: self.binary.clone(),
                },
                _ => Error::io("running the LXD client", &self.binary, e),
            })?;
        Ok(Output {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Turns `lxc`'s complaint into the engine error that explains it.
    fn classify(&self, args: &[&str], stderr: &str) -> Error {
        let text = stderr.trim().trim_start_matches("Error: ").to_string();
        let lower = text.to_ascii_lowercase();
        if lower.contains("permission denied") {
            Error::LxdPermission { detail: text }
        } else if lower.contains("socket") && lower.contains("not accessible")
            || lower.contains("connection refused")
            || lower.contains("no such file or directory") && lower.contains("unix.socket")
        {
            Error::LxdUnreachable { detail: text }
        } else {
            Error::Lxc {
                command: format!("{} {}", self.binary, args.join(" ")),
                stderr: text,
            }
        }
    }

    /// `lxc query /1.0`: reachability, trust and versions in one call.
    pub async fn server_info(&self) -> Result<ServerInfo> {
        let path = self.on_remote("/1.0");
        let out = self.run(&["query", &path]).await?;
        parse_json(&out.stdout, "lxc query /1.0")
    }

    pub async fn storage_pools(&self) -> Result<Vec<StoragePool>> {
        let remote = self.on_remote("");
        let mut args = vec!["storage", "list", "--format", "json"];
        if !remote.is_empty() {
            args.insert(2, &remote);
        }
        let out = self.run(&args).await?;
        parse_json(&out.stdout, "lxc storage list")
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Lxc {
        command: what.into(),
        stderr: format!("unexpected output ({e}): {}", text.trim()),
    })
}

/// Searches PATH for `binary` (or checks it directly when it contains a `/`).
pub fn find_on_path(binary: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if binary.contains('/') {
        let p = PathBuf::from(binary);
        return is_exec(&p).then_some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(binary))
        .find(|p| is_exec(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lxc() -> Lxc {
        Lxc {
            binary: "lxc".into(),
            remote: "local".into(),
            project: "default".into(),
        }
    }

    #[test]
    fn daemon_down_and_permission_errors_are_recognised() {
        // Messages as LXD 5.0's client prints them.
        let down = "Error: LXD unix socket \"/var/lib/lxd/unix.socket\" not accessible: Get \"http://unix.socket/1.0\": dial unix /var/lib/lxd/unix.socket: connect: no such file or directory";
        assert!(matches!(
            lxc().classify(&["query", "/1.0"], down),
            Error::LxdUnreachable { .. }
        ));
        let denied = "Error: LXD unix socket \"/var/lib/lxd/unix.socket\" not accessible: Get \"http://unix.socket/1.0\": dial unix /var/lib/lxd/unix.socket: connect: permission denied";
        assert!(matches!(
            lxc().classify(&["query", "/1.0"], denied),
            Error::LxdPermission { .. }
        ));
        let other = lxc().classify(&["image", "info", "x"], "Error: Image not found");
        assert_eq!(
            other.to_string(),
            "`lxc image info x` failed: Image not found"
        );
    }

    #[test]
    fn remote_prefix_only_for_non_local_remotes() {
        assert_eq!(lxc().on_remote("/1.0"), "/1.0");
        let remote = Lxc {
            remote: "lab".into(),
            ..lxc()
        };
        assert_eq!(remote.on_remote("/1.0"), "lab:/1.0");
    }

    #[tokio::test]
    async fn missing_binary_is_lxc_not_found() {
        let l = Lxc {
            binary: "slurm-factory-no-such-lxc".into(),
            ..lxc()
        };
        assert!(l.locate().is_none());
        let err = l.server_info().await.unwrap_err();
        assert!(matches!(err, Error::LxcNotFound { .. }), "{err}");
        assert!(err.hint().contains("install LXD"));
    }
}
