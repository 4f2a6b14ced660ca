//! Drives LXD through its `lxc` command-line client (or `incus`), the way
//! Canonical's craft-providers does: argv only, `--format json`, and errors
//! mapped to engine errors with hints.
//!
//! Instances live in [`instance`], command execution in [`exec`], file
//! transfer in [`files`] and images in [`image`]; all are methods on [`Lxc`].

mod exec;
mod files;
mod image;
mod instance;
mod network;
mod sync;

pub use image::ImageInfo;
pub use instance::{
    current_uid, host_user_idmap, is_address_taken, root_host_ids, DiskDevice, InstanceInfo,
    LaunchSpec, NicDevice,
};
pub use network::{is_network_name, NetworkInfo, Subnet};

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::error::{Error, Result};

/// A handle on one LXD remote and project.
#[derive(Debug, Clone)]
pub struct Lxc {
    binary: String,
    remote: String,
    project: String,
    /// Extra environment for the client, e.g. `LXD_DIR` or `LXD_CONF`.
    env: Vec<(String, String)>,
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
    /// The daemon's process id (trusted clients see it; 0 otherwise): it
    /// changes when the daemon restarts.
    #[serde(default)]
    pub server_pid: u32,
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

/// A storage pool's space in bytes, as LXD counts it (`lxc storage info`).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct PoolSpace {
    pub used: u64,
    pub total: u64,
}

impl Lxc {
    /// A handle on a client binary, remote and project
    /// (`Settings::lxc` takes them from the settings).
    pub fn from_parts(binary: &str, remote: &str, project: &str) -> Lxc {
        Lxc {
            binary: binary.into(),
            remote: remote.into(),
            project: project.into(),
            env: Vec::new(),
        }
    }

    /// Sets an environment variable for every client call, such as
    /// `LXD_DIR` (another daemon's socket) or `LXD_CONF` (client config).
    pub fn with_env(mut self, key: &str, value: &str) -> Lxc {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn binary(&self) -> &str {
        &self.binary
    }

    /// The remote's name, as `lxc remote list` shows it.
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// The same client and project on another remote.
    pub fn on(&self, remote: &str) -> Lxc {
        Lxc {
            remote: remote.into(),
            ..self.clone()
        }
    }

    /// Whether this is the daemon on this machine, whose instances can
    /// mount this machine's directories; any other remote is a server
    /// elsewhere (or may be).
    pub fn is_local(&self) -> bool {
        self.remote == "local"
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

    /// `remote:` as a positional argument for commands that take one
    /// (`image list`, `publish`, …); none for the local remote.
    fn remote_arg(&self) -> Option<String> {
        (self.remote != "local").then(|| format!("{}:", self.remote))
    }

    /// The client command for `args`, with the project and environment set.
    /// `lxc query` refuses `--project`; its callers put the project in the URL.
    fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        tracing::debug!(
            binary = %self.binary,
            args = ?args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
            "lxc"
        );
        let mut cmd = Command::new(&self.binary);
        if args.first().map(|a| a.as_ref()) != Some(OsStr::new("query")) {
            cmd.arg("--project").arg(&self.project);
        }
        cmd.args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    fn spawn_error(&self, e: std::io::Error) -> Error {
        match e.kind() {
            std::io::ErrorKind::NotFound => Error::LxcNotFound {
                binary: self.binary.clone(),
            },
            _ => Error::io("running the LXD client", &self.binary, e),
        }
    }

    /// Runs `lxc --project P ARGS…`; a non-zero exit becomes an error.
    pub async fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Output> {
        let out = self.run_unchecked(args).await?;
        if out.status != 0 {
            return Err(self.classify(args, &out.stderr));
        }
        Ok(out)
    }

    /// Runs `lxc` and returns its output whatever the exit code; only a
    /// missing binary is an error.
    pub async fn run_unchecked<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Output> {
        let out = self
            .command(args)
            .output()
            .await
            .map_err(|e| self.spawn_error(e))?;
        Ok(Output::from(out))
    }

    /// Like [`Lxc::run`], with `input` on the client's stdin (`lxc init`
    /// reads the new instance's config and devices there, as YAML or JSON).
    async fn run_with_stdin<S: AsRef<OsStr>>(&self, args: &[S], input: &[u8]) -> Result<Output> {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.spawn_error(e))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // The client reads all of stdin before it starts; a write error means
        // it died early, and its exit status below says why.
        let _ = stdin.write_all(input).await;
        drop(stdin);
        let out = Output::from(
            child
                .wait_with_output()
                .await
                .map_err(|e| self.spawn_error(e))?,
        );
        if out.status != 0 {
            return Err(self.classify(args, &out.stderr));
        }
        Ok(out)
    }

    /// Turns `lxc`'s complaint into the engine error that explains it.
    fn classify<S: AsRef<OsStr>>(&self, args: &[S], stderr: &str) -> Error {
        // From the `Error:` line on (a hint such as "Try `lxc info
        // --show-log`" may follow it); progress and warnings come before.
        let lines: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let from = lines
            .iter()
            .position(|l| l.starts_with("Error: "))
            .unwrap_or(0);
        let text = lines[from..]
            .join("; ")
            .trim_start_matches("Error: ")
            .to_string();
        let lower = text.to_ascii_lowercase();
        let args: Vec<String> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        if lower.contains("permission denied") && lower.contains("socket") {
            Error::LxdPermission { detail: text }
        } else if lower.contains("socket") && lower.contains("not accessible")
            || lower.contains("connection refused")
            || lower.contains("no such file or directory") && lower.contains("unix.socket")
        {
            Error::LxdUnreachable { detail: text }
        } else if lower.contains("storage pool not found") {
            Error::StoragePoolMissing {
                pool: pool_arg(&args)
                    .unwrap_or("(from the default profile)")
                    .into(),
            }
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
        let mut args = os_args(["storage", "list", "--format", "json"]);
        args.extend(self.remote_arg().map(OsString::from));
        let out = self.run(&args).await?;
        parse_json(&out.stdout, "lxc storage list")
    }

    pub async fn pool_space(&self, pool: &str) -> Result<PoolSpace> {
        #[derive(Deserialize)]
        struct Resources {
            space: PoolSpace,
        }
        let path = self.on_remote(&format!("/1.0/storage-pools/{pool}/resources"));
        let out = self.run(&["query", &path]).await?;
        let resources: Resources = parse_json(&out.stdout, "lxc query of a pool's resources")?;
        Ok(resources.space)
    }

    /// The server's CPU threads (`GET /1.0/resources`).
    pub async fn cpu_count(&self) -> Result<u32> {
        #[derive(Deserialize)]
        struct Cpu {
            total: u32,
        }
        #[derive(Deserialize)]
        struct Resources {
            cpu: Cpu,
        }
        let path = self.on_remote("/1.0/resources");
        // LXD reads every device of the host for this answer, and a read
        // racing a busy host now and then fails ("Failed to retrieve PCI
        // information: … bad file descriptor"): asked again, it answers.
        let mut tries = 0;
        let out = loop {
            tries += 1;
            match self.run(&["query", &path]).await {
                Err(Error::Lxc { stderr, .. })
                    if tries < 3 && stderr.contains("Failed to retrieve") =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await
                }
                other => break other?,
            }
        };
        let resources: Resources = parse_json(&out.stdout, "lxc query /1.0/resources")?;
        Ok(resources.cpu.total)
    }

    /// Creates the custom storage volume `volume` in `pool` unless it is
    /// there already (another build may create it at the same moment).
    pub async fn ensure_volume(&self, pool: &str, volume: &str) -> Result<()> {
        let pool_ref = self.on_remote(pool);
        match self
            .run(&["storage", "volume", "create", &pool_ref, volume])
            .await
        {
            Err(e) if lxc_says(&e, "already exists") => Ok(()),
            other => other.map(drop),
        }
    }

    /// Deletes the custom volume `volume` of `pool`; `Ok` when it is not there.
    pub async fn delete_volume(&self, pool: &str, volume: &str) -> Result<()> {
        let pool_ref = self.on_remote(pool);
        match self
            .run(&["storage", "volume", "delete", &pool_ref, volume])
            .await
        {
            Err(e) if is_not_found(&e) => Ok(()),
            other => other.map(drop),
        }
    }

    /// `lxc query` of an API path in this handle's project and remote.
    async fn query<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = self.on_remote(&format!("{path}{sep}project={}", self.project));
        let out = self.run(&["query", &url]).await?;
        parse_json(&out.stdout, &format!("lxc query {url}"))
    }
}

impl From<std::process::Output> for Output {
    fn from(out: std::process::Output) -> Output {
        Output {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The pool an `lxc` command names: `-s POOL`/`--storage POOL`, or
/// `storage show|info POOL`.
fn pool_arg(args: &[String]) -> Option<&str> {
    let at = |i: usize| args.get(i).map(String::as_str);
    if let Some(i) = args.iter().position(|a| a == "-s" || a == "--storage") {
        return at(i + 1);
    }
    if at(0) == Some("storage") {
        return at(2);
    }
    None
}

/// True when `err` is `lxc` saying that the thing it was asked about does
/// not exist ("Instance not found", "Image not found", HTTP 404).
fn is_not_found(err: &Error) -> bool {
    lxc_says(err, "not found")
}

/// True when `err` is `lxc` failing with `needle` in its message.
fn lxc_says(err: &Error, needle: &str) -> bool {
    matches!(err, Error::Lxc { stderr, .. } if stderr.to_ascii_lowercase().contains(needle))
}

/// LXD instance names: 1–63 letters, digits and `-`, starting with a letter,
/// not ending with `-`. Checked before a name goes into an API path.
fn check_instance_name(name: &str) -> Result<()> {
    let ok = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !name.ends_with('-')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            what: "LXD instance name",
            value: name.into(),
            reason: "use 1-63 letters, digits and `-`, starting with a letter".into(),
        })
    }
}

/// Paths inside an instance are absolute.
fn check_remote_path(path: &str) -> Result<()> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            what: "path inside the instance",
            value: path.into(),
            reason: "must be absolute".into(),
        })
    }
}

fn os_args<I, S>(parts: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    parts.into_iter().map(Into::into).collect()
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
        Lxc::from_parts("lxc", "local", "default")
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
    fn messages_captured_from_lxd_5_are_classified() {
        // `lxc query /1.0` as a user outside the socket's group.
        let denied = "Error: Get \"http://unix.socket/1.0\": dial unix /var/lib/lxd/unix.socket: connect: permission denied";
        assert!(matches!(
            lxc().classify(&["query", "/1.0"], denied),
            Error::LxdPermission { .. }
        ));
        // LXD_DIR pointing where no daemon listens.
        let down = "Error: Get \"http://unix.socket/1.0\": dial unix /tmp/x/unix.socket: connect: no such file or directory";
        assert!(matches!(
            lxc().classify(&["list"], down),
            Error::LxdUnreachable { .. }
        ));
        let pool =
            "Creating x\nError: Failed loading storage pool \"fast\": Storage pool not found\n";
        assert!(matches!(
            lxc().classify(&["init", "img", "x", "--storage", "fast"], pool),
            Error::StoragePoolMissing { pool } if pool == "fast"
        ));
        // The error line is kept with the advice that follows it; the
        // network warning before it is dropped.
        let start = "The instance you are starting doesn't have any network attached to it.\n  To create a new network, use: lxc network create\n\nError: Failed to run: forkstart x: exit status 1\nTry `lxc info --show-log x` for more info\n";
        assert_eq!(
            lxc().classify(&["start", "x"], start).to_string(),
            "`lxc start x` failed: Failed to run: forkstart x: exit status 1; Try `lxc info \
             --show-log x` for more info"
        );
    }

    #[test]
    fn instance_names_are_checked_before_they_reach_a_url() {
        for ok in ["a", "sf-build-1", &"a".repeat(63)] {
            assert!(check_instance_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "-a",
            "a-",
            "a/b",
            "a?x=1",
            "a b",
            &"a".repeat(64),
        ] {
            assert!(check_instance_name(bad).is_err(), "{bad}");
        }
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
