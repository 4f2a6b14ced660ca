//! Instances: launch with config and disk devices, wait until usable, list,
//! delete.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{check_instance_name, is_not_found, lxc_says, os_args, Lxc};
use crate::error::{Error, Result};

/// How long a started instance may take until commands can run in it.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
const READY_POLL: Duration = Duration::from_millis(100);
/// How long a delete waits for an operation still running on the instance.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// What [`Lxc::launch`] creates.
#[derive(Debug, Clone, Default)]
pub struct LaunchSpec {
    /// An image alias or fingerprint on the handle's remote, or `remote:alias`.
    pub image: String,
    pub name: String,
    /// The pool for the root disk; `None` uses the default profile's.
    pub storage_pool: Option<String>,
    /// Instance config, e.g. `("raw.idmap", "both 1000 0")` (see
    /// [`host_user_idmap`]) or `("user.slurm-factory.run", id)` labels.
    pub config: Vec<(String, String)>,
    pub devices: Vec<DiskDevice>,
    /// Network interfaces; one named like the default profile's replaces it.
    pub nics: Vec<NicDevice>,
    /// TCP ports of the LXD host's loopback that the instance reaches on its
    /// own loopback (proxy devices bound in the instance: no network needed).
    pub loopback_ports: Vec<u16>,
    /// Deleted by LXD when it stops.
    pub ephemeral: bool,
    /// A stopped instance of `image` to copy instead, one that has started
    /// once with the same idmap (see [`Lxc::make_shifted`]): LXD shifts an
    /// image's files to a new instance's idmap one by one at its first
    /// start, 5 s for a base image that holds Spack; a copy of a shifted
    /// instance starts in a fraction of a second.
    pub copy_of: Option<String>,
}

/// A host directory (or file), or a custom storage volume, mounted into the
/// instance.
#[derive(Debug, Clone)]
pub struct DiskDevice {
    /// The device name in the instance config, e.g. `spack-cache`.
    pub name: String,
    /// A host path; with `pool`, the name of a custom volume in that pool.
    pub source: PathBuf,
    pub pool: Option<String>,
    /// Mount point inside the instance (absolute).
    pub path: String,
    pub readonly: bool,
}

/// A network interface on a managed LXD network.
#[derive(Debug, Clone)]
pub struct NicDevice {
    /// The device name, which is also the interface's in the instance (`eth0`).
    pub name: String,
    pub network: String,
    /// The instance's address there, which LXD keeps unique on the network
    /// (a launch asking for a taken one fails: see [`is_address_taken`]).
    pub ipv4_address: Option<std::net::Ipv4Addr>,
}

/// True when a launch failed because another instance has that NIC address.
pub fn is_address_taken(err: &Error) -> bool {
    lxc_says(err, "already defined on another nic")
}

/// One instance as `GET /1.0/instances` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceInfo {
    pub name: String,
    /// `Running`, `Stopped`, `Frozen`, …
    pub status: String,
    pub ephemeral: bool,
    /// The `user.*` config keys, with their prefix, e.g.
    /// `user.slurm-factory.run` → run id.
    pub user: BTreeMap<String, String>,
}

impl InstanceInfo {
    pub fn is_running(&self) -> bool {
        self.status == "Running"
    }
}

#[derive(Deserialize)]
struct ApiInstance {
    name: String,
    status: String,
    #[serde(default)]
    ephemeral: bool,
    #[serde(default)]
    config: BTreeMap<String, String>,
}

impl From<ApiInstance> for InstanceInfo {
    fn from(api: ApiInstance) -> InstanceInfo {
        InstanceInfo {
            name: api.name,
            status: api.status,
            ephemeral: api.ephemeral,
            user: api
                .config
                .into_iter()
                .filter(|(k, _)| k.starts_with("user."))
                .collect(),
        }
    }
}

/// `raw.idmap` that maps the calling host user to root in the container, so
/// files root writes into mounted host dirs belong to that user on the host.
/// LXD accepts it only if `/etc/subuid` and `/etc/subgid` give `root:<uid>:1`.
/// `None` when the caller is root: host root is never mapped into an
/// instance (build code would act as this machine's root on every mounted
/// dir); LXD's unprivileged map applies, and [`Lxc::launch`] gives the
/// writable host dirs to the id it maps the instance's root to.
pub fn host_user_idmap() -> Result<Option<(String, String)>> {
    let uid = current_uid()?;
    Ok((uid != 0).then(|| ("raw.idmap".into(), format!("both {uid} 0"))))
}

/// The host uid and gid that an instance's root is, from its
/// `volatile.idmap.current` (LXD's JSON list of ranges); `(0, 0)` when no
/// range maps root (a privileged instance).
pub fn root_host_ids(idmap: &str) -> std::result::Result<(u32, u32), String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Range {
        isuid: bool,
        isgid: bool,
        hostid: u64,
        nsid: u64,
        maprange: u64,
    }
    let ranges: Vec<Range> =
        serde_json::from_str(idmap).map_err(|e| format!("not an LXD id map ({e}): {idmap}"))?;
    let root = |of: fn(&Range) -> bool| {
        ranges
            .iter()
            .find(|r| of(r) && r.nsid == 0 && r.maprange > 0)
            .map_or(Ok(0), |r| {
                u32::try_from(r.hostid).map_err(|_| format!("host id {} out of range", r.hostid))
            })
    };
    Ok((root(|r| r.isuid)?, root(|r| r.isgid)?))
}

/// This process's user id: the owner of /proc/self (no libc needed).
pub fn current_uid() -> Result<u32> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata("/proc/self")
        .map_err(|e| Error::io("finding the current user id", "/proc/self", e))?
        .uid())
}

impl Lxc {
    /// Creates and starts an instance with `spec`'s config and disk devices,
    /// and returns once commands can run in it (systemd's `sysinit.target`
    /// reached, so early boot no longer cleans /tmp under our feet). On
    /// failure nothing created here is left behind.
    pub async fn launch(&self, spec: &LaunchSpec) -> Result<()> {
        check_instance_name(&spec.name)?;
        let target = self.on_remote(&spec.name);
        let image = self.image_ref(&spec.image);
        // Config and devices go in on stdin (JSON is YAML), so the instance
        // is created complete in one call; argv carries only names.
        let mut devices: BTreeMap<String, BTreeMap<&str, String>> = spec
            .devices
            .iter()
            .map(|d| {
                let mut dev = BTreeMap::from([
                    ("type", "disk".to_string()),
                    ("source", d.source.to_string_lossy().into_owned()),
                    ("path", d.path.clone()),
                ]);
                if d.readonly {
                    dev.insert("readonly", "true".into());
                }
                if let Some(pool) = &d.pool {
                    dev.insert("pool", pool.clone());
                }
                (d.name.clone(), dev)
            })
            .collect();
        for nic in &spec.nics {
            let mut dev = BTreeMap::from([
                ("type", "nic".to_string()),
                ("network", nic.network.clone()),
            ]);
            if let Some(address) = nic.ipv4_address {
                dev.insert("ipv4.address", address.to_string());
            }
            devices.insert(nic.name.clone(), dev);
        }
        for port in &spec.loopback_ports {
            let address = format!("tcp:127.0.0.1:{port}");
            devices.insert(
                format!("sf-loopback-{port}"),
                BTreeMap::from([
                    ("type", "proxy".to_string()),
                    ("listen", address.clone()),
                    ("connect", address),
                    ("bind", "instance".into()),
                ]),
            );
        }
        let config: BTreeMap<&str, &str> = spec
            .config
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(source) = &spec.copy_of {
            match self
                .launch_copy(spec, source, config.clone(), devices.clone())
                .await
            {
                // The copy only saves the first start's remapping: when LXD
                // cannot make it (on a `dir` pool its rsync fails, e.g. when
                // the daemon's working directory was deleted), the instance
                // is launched from the image as it would be without one.
                Err(e) if lxc_says(&e, "create instance from copy") => {
                    tracing::warn!(instance = %spec.name, "copy of {source} failed, launching from the image: {e}");
                    if let Err(cleanup) = self.delete(&spec.name).await {
                        tracing::warn!(instance = %spec.name, "cleanup after a failed copy: {cleanup}");
                    }
                }
                copied => return copied,
            }
        }
        let body = serde_json::json!({ "config": config, "devices": devices });
        // `lxc launch` creates and starts in one client call: with `init` and
        // `start` the extra client round trip was measurable in launch_bench.
        let mut args = os_args(["launch", image.as_str(), target.as_str()]);
        if let Some(pool) = &spec.storage_pool {
            args.extend(os_args(["--storage", pool.as_str()]));
        }
        if spec.ephemeral {
            args.push("--ephemeral".into());
        }
        let mut launched = self
            .run_with_stdin(&args, body.to_string().as_bytes())
            .await;
        // LXD 5.0 (btrfs) walks the image's or the new rootfs's tree when it
        // creates an instance, and with other instances being created from
        // the same image that walk now and then trips over a file ("Failed
        // to handle idmapped storage: Failed to change ownership of: …",
        // "Failed creating instance from image: readdirent …: not a
        // directory"), or its first start aborts with nothing logged but
        // "Sync wait failure" (`lxd forkstart … exit status 1`). The
        // half-made instance goes and the launch runs again, once; a
        // lasting fault fails the second time too.
        let tripped = |e: &Error| {
            lxc_says(e, "failed to handle idmapped storage")
                || lxc_says(e, "failed creating instance from image: readdirent")
                || lxc_says(e, "lxd forkstart")
        };
        if matches!(&launched, Err(e) if tripped(e)) {
            tracing::warn!(instance = %spec.name, "launch tripped over LXD; once more");
            self.delete(&spec.name).await?;
            // Seen when two launches shifted at the same moment: let the other finish.
            tokio::time::sleep(Duration::from_secs(2)).await;
            launched = self
                .run_with_stdin(&args, body.to_string().as_bytes())
                .await;
        }
        let result = match launched {
            // Someone else's instance: not ours to clean up.
            Err(e) if lxc_says(&e, "already exists") => return Err(e),
            // A missing pool was classified already; what else is "not
            // found" at creation is the image.
            Err(e) if is_not_found(&e) => Err(Error::ImageNotFound {
                image: spec.image.clone(),
            }),
            Err(e) => Err(e),
            Ok(_) => self.started(spec).await,
        };
        if result.is_err() {
            // Created but not started, or started but never ready: remove
            // it (a no-op when creation itself failed).
            if let Err(cleanup) = self.delete(&spec.name).await {
                tracing::warn!(instance = %spec.name, "cleanup after a failed launch: {cleanup}");
            }
        }
        result
    }

    /// [`Lxc::launch`] of a copy of `source`: created by the API (the client's
    /// `lxc copy` takes config on argv one key at a time, and devices not at
    /// all), then started. The body holds names, paths and labels, no secret.
    async fn launch_copy(
        &self,
        spec: &LaunchSpec,
        source: &str,
        config: BTreeMap<&str, &str>,
        mut devices: BTreeMap<String, BTreeMap<&str, String>>,
    ) -> Result<()> {
        check_instance_name(source)?;
        if let Some(pool) = &spec.storage_pool {
            devices.insert(
                "root".into(),
                BTreeMap::from([
                    ("type", "disk".to_string()),
                    ("path", "/".into()),
                    ("pool", pool.clone()),
                ]),
            );
        }
        let body = serde_json::json!({
            "name": spec.name,
            "source": { "type": "copy", "source": source },
            "config": config,
            "devices": devices,
            "ephemeral": spec.ephemeral,
        });
        let url = self.on_remote(&format!("/1.0/instances?project={}", self.project));
        let created = self
            .run(&[
                "query",
                "-X",
                "POST",
                "--wait",
                "-d",
                &body.to_string(),
                &url,
            ])
            .await;
        if let Err(e) = created {
            // The copy is made or not at all; a missing source is the error to say.
            return Err(
                if is_not_found(&e) && !self.instance_exists(source).await? {
                    Error::InstanceNotFound {
                        name: source.into(),
                    }
                } else {
                    e
                },
            );
        }
        let result = match self.run(&["start", &self.on_remote(&spec.name)]).await {
            Ok(_) => self.started(spec).await,
            Err(e) => Err(e),
        };
        if result.is_err() {
            if let Err(cleanup) = self.delete(&spec.name).await {
                tracing::warn!(instance = %spec.name, "cleanup after a failed launch: {cleanup}");
            }
        }
        result
    }

    /// Makes `name`, unless it exists, a stopped instance of `spec`'s image
    /// with `spec`'s config that has started once, so its files are shifted
    /// to that config's idmap: what [`LaunchSpec::copy_of`] copies. It is made
    /// as `spec.name` and renamed when done, so a concurrent build never
    /// copies a half-made one; `scratch_keys` (a run's label, which lets an
    /// interrupted run's cleanup find the scratch) are dropped then.
    pub async fn make_shifted(
        &self,
        spec: &LaunchSpec,
        name: &str,
        scratch_keys: &[&str],
    ) -> Result<()> {
        check_instance_name(name)?;
        if self.instance_exists(name).await? {
            return Ok(());
        }
        self.launch(spec).await?;
        let scratch = self.on_remote(&spec.name);
        let made = async {
            self.run(&["stop", "--force", &scratch]).await?;
            // Renamed before the labels go: killed in between, the run's
            // cleanup deletes it, where a scratch without its label would stay.
            self.run(&["move", &scratch, &self.on_remote(name)]).await?;
            for key in scratch_keys {
                self.run(&["config", "unset", &self.on_remote(name), key])
                    .await?;
            }
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = made {
            self.delete(&spec.name).await?;
            // Another build made it first: theirs serves as well.
            if !self.instance_exists(name).await? {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Once `spec`'s instance runs: ready for commands, and where the caller
    /// is root, its writable host dirs given to the unprivileged id its root
    /// is (see [`host_user_idmap`]), or the launch refused when LXD made it
    /// host root.
    async fn started(&self, spec: &LaunchSpec) -> Result<()> {
        self.wait_ready(&spec.name).await?;
        let dirs: Vec<PathBuf> = spec
            .devices
            .iter()
            .filter(|d| d.pool.is_none() && !d.readonly)
            .map(|d| d.source.clone())
            .collect();
        if dirs.is_empty() || current_uid()? != 0 {
            return Ok(());
        }
        let api: ApiInstance = self.query(&format!("/1.0/instances/{}", spec.name)).await?;
        let idmap = api
            .config
            .get("volatile.idmap.current")
            .map_or("[]", String::as_str);
        let (uid, gid) = root_host_ids(idmap).map_err(|problem| Error::Lxc {
            command: format!("lxc config get {} volatile.idmap.current", spec.name),
            stderr: problem,
        })?;
        if uid == 0 || gid == 0 {
            return Err(Error::HostRootMapped {
                name: spec.name.clone(),
                uid,
            });
        }
        tokio::task::spawn_blocking(move || {
            dirs.iter()
                .try_for_each(|dir| crate::fsutil::give_tree(dir, uid, gid).map(drop))
        })
        .await
        .expect("giving dirs away does not panic")
    }

    /// Waits until a command runs in the instance and, where it has systemd,
    /// `sysinit.target` is active. The polling runs inside the instance (a
    /// fixed script, no user values): one `lxc exec` instead of one per poll.
    async fn wait_ready(&self, name: &str) -> Result<()> {
        const WAIT: &str = "command -v systemctl >/dev/null || exit 0; \
                            until systemctl is-active --quiet sysinit.target; do sleep 0.05; done";
        let probe: Vec<String> = ["sh", "-c", WAIT].map(String::from).into();
        let start = Instant::now();
        let mut last = String::from("no answer yet");
        while start.elapsed() < READY_TIMEOUT {
            let left = READY_TIMEOUT.saturating_sub(start.elapsed());
            match tokio::time::timeout(left, self.exec_capture(name, &probe, &[])).await {
                Err(_) => last = "sysinit.target never became active".into(),
                // 127: no `sh`, so nothing to wait for either.
                Ok(Ok(out)) if out.status == 0 || out.status == 127 => return Ok(()),
                Ok(Ok(out)) => last = format!("exit {}: {}", out.status, out.stderr.trim()),
                Ok(Err(e @ (Error::LxdUnreachable { .. } | Error::InstanceNotFound { .. }))) => {
                    return Err(e)
                }
                Ok(Err(e)) => last = e.to_string(),
            }
            tokio::time::sleep(READY_POLL).await;
        }
        Err(Error::InstanceNotReady {
            name: name.into(),
            waited_s: READY_TIMEOUT.as_secs(),
            detail: last,
        })
    }

    /// Stops an instance at once (every process in it killed); kept, to be
    /// deleted or looked into later.
    pub async fn stop(&self, name: &str) -> Result<()> {
        check_instance_name(name)?;
        self.run(&["stop", "--force", &self.on_remote(name)])
            .await
            .map(drop)
    }

    /// Stops and deletes an instance; `Ok` when it does not exist.
    pub async fn delete(&self, name: &str) -> Result<()> {
        check_instance_name(name)?;
        let target = self.on_remote(name);
        let start = Instant::now();
        loop {
            match self.run(&["delete", "--force", &target]).await {
                Err(e) if is_not_found(&e) => return Ok(()),
                // Right after a failed start LXD is still stopping it.
                Err(e) if lxc_says(&e, "is busy") && start.elapsed() < BUSY_TIMEOUT => {
                    tokio::time::sleep(READY_POLL * 5).await
                }
                other => return other.map(drop),
            }
        }
    }

    /// Every instance of the project, with status and `user.*` labels.
    pub async fn instances(&self) -> Result<Vec<InstanceInfo>> {
        let all: Vec<ApiInstance> = self.query("/1.0/instances?recursion=1").await?;
        Ok(all.into_iter().map(InstanceInfo::from).collect())
    }

    /// One instance, or `None` when it does not exist.
    pub async fn instance(&self, name: &str) -> Result<Option<InstanceInfo>> {
        check_instance_name(name)?;
        match self
            .query::<ApiInstance>(&format!("/1.0/instances/{name}"))
            .await
        {
            Ok(api) => Ok(Some(api.into())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn instance_exists(&self, name: &str) -> Result<bool> {
        Ok(self.instance(name).await?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::root_host_ids;

    #[test]
    fn the_host_ids_of_an_instances_root_are_read_from_its_idmap() {
        // LXD's unprivileged map, as `volatile.idmap.current` holds it here.
        let unprivileged = r#"[{"Isuid":true,"Isgid":false,"Hostid":100000,"Nsid":0,"Maprange":10000001},{"Isuid":false,"Isgid":true,"Hostid":100000,"Nsid":0,"Maprange":10000001}]"#;
        assert_eq!(root_host_ids(unprivileged), Ok((100_000, 100_000)));
        // `raw.idmap: both 0 0` (what earlier releases set for root).
        let host_root = r#"[{"Isuid":true,"Isgid":true,"Hostid":0,"Nsid":0,"Maprange":1},{"Isuid":true,"Isgid":false,"Hostid":100001,"Nsid":1,"Maprange":10000000},{"Isuid":true,"Isgid":true,"Hostid":0,"Nsid":0,"Maprange":1},{"Isuid":false,"Isgid":true,"Hostid":100001,"Nsid":1,"Maprange":10000000}]"#;
        assert_eq!(root_host_ids(host_root), Ok((0, 0)));
        // A privileged instance maps nothing: its root is host root.
        assert_eq!(root_host_ids("[]"), Ok((0, 0)));
        assert!(root_host_ids("both 0 0").is_err());
    }
}
