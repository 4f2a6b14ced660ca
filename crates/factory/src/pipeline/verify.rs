//! The verify stage: the package unpacked at another prefix in clean
//! instances, one for a package without MPI, two joined by the private
//! verify network for one with it (an MPI job must cross hosts).

use std::net::Ipv4Addr;

use super::script::file_name;
use super::*;
use crate::lxd::{is_address_taken, NicDevice, Subnet};

/// Where the cluster's shared munge key lands in each verify instance.
const MUNGE_KEY: &str = "/root/sf-verify-munge.key";

/// The private network a package's verify nodes share.
#[derive(Debug, Clone)]
pub(super) struct VerifyNetwork {
    pub name: String,
    pub subnet: Subnet,
}

impl Build<'_> {
    /// The instances (and host names) of this run's verify nodes:
    /// `sf-verify-RUN`, then `sf-verify-2-RUN`, …; the first runs slurmctld.
    pub(super) fn verify_node_names(&self) -> Vec<String> {
        (1..=self.options.request.package_type.verify_nodes())
            .map(|n| match n {
                1 => self.run_instance_name("verify"),
                n => self.run_instance_name(&format!("verify-{n}")),
            })
            .collect()
    }

    /// The verify network, created if missing, when this build verifies on
    /// more than one node; checked here, before anything is compiled.
    pub(super) async fn verify_network(&self) -> Result<Option<VerifyNetwork>> {
        if !self.options.flags.verify || self.options.request.package_type.verify_nodes() < 2 {
            return Ok(None);
        }
        let name = &self.settings.verify_network;
        let info = match self.lxc.network(name).await? {
            Some(info) => info,
            None => {
                let subnet = Subnet::parse(&self.settings.verify_subnet)
                    .expect("settings are checked when loaded");
                self.lxc.create_private_network(name, subnet).await?;
                self.log(
                    Stage::Preflight,
                    &format!("created the private network {name} ({subnet}, no NAT) for verify"),
                );
                self.lxc
                    .network(name)
                    .await?
                    .ok_or_else(|| Error::NetworkUnusable {
                        network: name.clone(),
                        problem: "LXD created it but does not list it".into(),
                    })?
            }
        };
        if let Some(problem) = info.unusable() {
            return Err(Error::NetworkUnusable {
                network: name.clone(),
                problem,
            });
        }
        let subnet = info.ipv4.expect("a usable network has an IPv4 address");
        Ok(Some(VerifyNetwork {
            name: name.clone(),
            subnet,
        }))
    }

    /// Launches the clean instances packages are verified in (`nodes`, the
    /// first runs slurmctld), on `network` when there are several, and finds
    /// out whether the first can unpack a .tar.zst: a target may lack zstd (a
    /// bare server), and then only a .tar.gz unpacks there.
    pub(super) async fn start_verify(
        &self,
        nodes: &[String],
        network: Option<&VerifyNetwork>,
    ) -> Result<bool> {
        match network {
            None => self.launch(self.verify_spec(&nodes[0])).await?,
            Some(network) => self.start_verify_cluster(nodes, network).await?,
        }
        let probe = ["sh", "-c", "command -v zstd"].map(String::from);
        Ok(self.lxc.exec_capture(&nodes[0], &probe, &[]).await?.status == 0)
    }

    fn verify_spec(&self, node: &str) -> LaunchSpec {
        LaunchSpec {
            image: self.settings.verify_image.clone(),
            name: node.into(),
            ..LaunchSpec::default()
        }
    }

    /// Each node on the network at an address LXD holds for it (images
    /// run no DHCP client, so the node takes it itself), and every node's
    /// name in every node's /etc/hosts.
    async fn start_verify_cluster(&self, nodes: &[String], network: &VerifyNetwork) -> Result<()> {
        let mut free = self.address_candidates(network.subnet);
        let mut hosts: Vec<(String, Ipv4Addr)> = Vec::new();
        for node in nodes {
            let address = loop {
                let address = free.next().ok_or_else(|| Error::NetworkUnusable {
                    network: network.name.clone(),
                    problem: format!("no free address left in {}", network.subnet),
                })?;
                let nic = NicDevice {
                    name: "eth0".into(),
                    network: network.name.clone(),
                    ipv4_address: Some(address),
                };
                let spec = LaunchSpec {
                    nics: vec![nic],
                    ..self.verify_spec(node)
                };
                match self.launch(spec).await {
                    Err(e) if is_address_taken(&e) => continue,
                    Err(e) => return Err(e),
                    Ok(()) => break address,
                }
            };
            hosts.push((node.clone(), address));
        }
        let names: Vec<String> = hosts.iter().map(|(n, a)| format!("{n}={a}")).collect();
        for (node, address) in &hosts {
            let mut args = vec![format!("{address}/{}", network.subnet.prefix)];
            args.extend(names.iter().cloned());
            self.script(Stage::Verify, node, "verify-network.sh", &args, &mut |_| {})
                .await?;
        }
        Ok(())
    }

    /// The subnet's instance addresses, from a place that depends on the run
    /// (builds at once rarely try the same one first), round to the start.
    fn address_candidates(&self, subnet: Subnet) -> impl Iterator<Item = Ipv4Addr> {
        use std::hash::{Hash, Hasher};
        let mut all: Vec<Ipv4Addr> = subnet.instance_addresses().collect();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.run.id.hash(&mut hasher);
        let start = (hasher.finish() % all.len() as u64) as usize;
        all.rotate_left(start);
        all.into_iter()
    }

    /// The verify image's glibc against the newest `GLIBC_` version the
    /// package needs (its floor): an older one cannot run it, whatever the
    /// relocation did. `None` when the package needs no glibc version or the
    /// image has no glibc `getconf` (musl).
    async fn glibc_floor_check(
        &self,
        instance: &str,
        floor: &[crate::package::VersionNeed],
    ) -> Result<Option<VerifyCheck>> {
        let Some(need) = crate::package::glibc_floor(floor) else {
            return Ok(None);
        };
        let argv = ["getconf", "GNU_LIBC_VERSION"].map(String::from);
        let out = self.lxc.exec_capture(instance, &argv, &[]).await?;
        // "glibc 2.36"
        let Some(found) = out.stdout.split_whitespace().nth(1).map(String::from) else {
            return Ok(None);
        };
        let (needed, have) = (
            crate::package::dotted(&need.version),
            crate::package::dotted(&found),
        );
        if have < needed {
            return Err(Error::GlibcTooOld {
                needed: need.version.clone(),
                file: need.file.clone(),
                image: self.settings.verify_image.clone(),
                found,
            });
        }
        Ok(Some(VerifyCheck {
            name: "glibc-floor".into(),
            passed: true,
            output: format!(
                "needs glibc {} ({}), the system has {found}",
                need.version, need.file
            ),
        }))
    }

    /// Unpacks the archive at another prefix in the clean instances
    /// (`ready`: what starting them gave, `None` without verification) and
    /// runs the recipe's checks there: on every node but the first its
    /// daemons, then on the first everything else.
    pub(super) async fn verify(
        &self,
        mut staged: Staged,
        nodes: &[String],
        ready: Option<Result<bool>>,
    ) -> Result<Done<Staged>> {
        let Some(ready) = ready else {
            return Ok(Done::skipped(staged, "--no-verify"));
        };
        let has_zstd = ready?;
        let archive = if has_zstd {
            &staged.archives[0]
        } else {
            staged
                .archives
                .iter()
                .find(|a| a.format == ArchiveFormat::TarGz)
                .expect("the package stage writes a .tar.gz when the verify image has no zstd")
        };
        let controller = &nodes[0];
        let floor_check = self
            .glibc_floor_check(controller, &staged.inspection.floor)
            .await?;
        let remote_archive = format!("/tmp/{}", file_name(&archive.path));
        for node in nodes {
            self.lxc
                .push_file(node, &archive.path, &remote_archive, 0o644)
                .await?;
        }
        let mut args = vec![remote_archive, VERIFY_PREFIX.to_string()];
        if nodes.len() > 1 {
            // One munge key for the cluster, from here: on stdin, never argv.
            let key = munge_key()?;
            for node in nodes {
                self.lxc.write_private(node, MUNGE_KEY, &key).await?;
            }
            args.extend([
                "--nodes".into(),
                nodes.join(","),
                "--munge-key".into(),
                MUNGE_KEY.into(),
            ]);
        }
        let mut log_text = String::new();
        let mut checks = Vec::new();
        if let Some(check) = floor_check {
            log_text.push_str(&format!("::check pass glibc-floor {}\n", check.output));
            checks.push(check);
        }
        let mut since_last_check: Vec<String> = Vec::new();
        let mut on_line = |line: &str| {
            log_text.push_str(line);
            log_text.push('\n');
            match ScriptLine::parse(line) {
                Some(ScriptLine::Check { passed, name }) => {
                    checks.push(VerifyCheck {
                        name: name.to_string(),
                        passed,
                        output: since_last_check.join("\n"),
                    });
                    since_last_check.clear();
                }
                _ if since_last_check.len() < 40 => since_last_check.push(line.to_string()),
                _ => {}
            }
        };
        // The other nodes' slurmd first: each registers once slurmctld is up.
        let mut result = Ok(());
        for node in &nodes[1..] {
            let node_args: Vec<String> =
                args.iter().cloned().chain(["--node-only".into()]).collect();
            result = self
                .script(Stage::Verify, node, "verify.sh", &node_args, &mut on_line)
                .await;
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = self
                .script(Stage::Verify, controller, "verify.sh", &args, &mut on_line)
                .await;
        }
        crate::fsutil::write_atomic(
            &staged.dir.join(crate::store::artifacts::VERIFY_LOG),
            log_text.as_bytes(),
        )?;
        let passed = result.is_ok() && checks.iter().all(|c| c.passed);
        staged.verify = Some(VerifyResult {
            passed,
            checks: checks.clone(),
        });
        let log = self.run.file("build.log");
        match result {
            Err(Error::BuildFailed { message, .. }) => Err(Error::VerifyFailed {
                problems: message,
                log,
            }),
            Err(e) => Err(e),
            Ok(()) if !passed => Err(Error::VerifyFailed {
                problems: checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| c.name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
                log,
            }),
            Ok(()) => {
                let detail = format!(
                    "{} checks passed at {VERIFY_PREFIX}{}{}",
                    checks.len(),
                    match nodes.len() {
                        1 => String::new(),
                        n => format!(" on {n} nodes"),
                    },
                    if has_zstd {
                        ""
                    } else {
                        " (from the .tar.gz: the verify image has no zstd)"
                    }
                );
                Ok(Done::new(staged).detail(detail))
            }
        }
    }
}

/// A fresh munge key (1 KiB, as `mungekey` makes), for one verify only.
fn munge_key() -> Result<Vec<u8>> {
    use std::io::Read;
    let mut key = vec![0u8; 1024];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| Error::io("reading a munge key", "/dev/urandom", e))?;
    Ok(key)
}
