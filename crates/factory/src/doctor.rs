//! Checks that this machine can run builds, each with its remedy when it cannot.
//! The CLI's `doctor`, the app's first-run screen and a build's preflight all
//! run these same checks.

use std::path::Path;

use serde::Serialize;

use crate::error::remedy::{code, remedy, setting, Command, Flag, Remedy};
use crate::error::Error;
use crate::lxd::Lxc;
use crate::settings::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    /// Not run because an earlier check failed.
    Skip,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Check {
    /// Stable identifier, e.g. `lxc-binary`.
    pub id: &'static str,
    /// What was checked, for people.
    pub title: &'static str,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do; empty when the check passed. The CLI says it with flags
    /// and commands, the app with its pages and fields.
    pub remedy: Remedy,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }
}

fn check(id: &'static str, title: &'static str, status: Status, detail: String) -> Check {
    Check {
        id,
        title,
        status,
        detail,
        remedy: Remedy::default(),
    }
}

fn failed(id: &'static str, title: &'static str, err: &Error) -> Check {
    Check {
        id,
        title,
        status: Status::Fail,
        detail: err.to_string(),
        remedy: err.remedy(),
    }
}

/// Runs every check against the machine, in order; later LXD checks are
/// skipped once LXD itself is unusable.
pub async fn run(settings: &Settings) -> Report {
    let lxc = settings.lxc();
    let mut checks = lxd_checks(&lxc, settings).await;
    checks.push(disk_check(&settings.cache_dir, settings.min_free_disk_mib));
    if let Some(dir) = &settings.upstream_mirror {
        checks.push(match lxc.is_local() {
            true => upstream_check(dir),
            false => upstream_on_remote_check(lxc.remote()),
        });
    }
    if settings.spack_root.is_some() {
        checks.push(offline_sources_check(settings));
    }
    Report { checks }
}

/// Another server a matrix builds on: only what concerns that server (the
/// client, the daemon, trust, its pool, how caches reach it, its CPUs).
pub async fn for_remote(settings: &Settings, remote: &str) -> Report {
    let lxc = settings.lxc().on(remote);
    Report {
        checks: lxd_checks(&lxc, settings).await,
    }
}

async fn lxd_checks(lxc: &Lxc, settings: &Settings) -> Vec<Check> {
    let mut checks = Vec::new();
    const BINARY: &str = "LXD client installed";
    const DAEMON: &str = "LXD daemon reachable";
    const TRUST: &str = "user allowed to use LXD";
    const POOL: &str = "storage pool present";
    let lxd_ready = match lxc.locate() {
        None => {
            let err = Error::LxcNotFound {
                binary: lxc.binary().into(),
            };
            checks.push(failed("lxc-binary", BINARY, &err));
            false
        }
        Some(path) => {
            checks.push(check(
                "lxc-binary",
                BINARY,
                Status::Pass,
                path.display().to_string(),
            ));
            match lxc.server_info().await {
                Ok(info) => {
                    checks.push(check(
                        "lxd-daemon",
                        DAEMON,
                        Status::Pass,
                        format!(
                            "LXD {} ({}){}",
                            info.environment.server_version,
                            info.environment.driver,
                            match lxc.is_local() {
                                true => String::new(),
                                false => format!(" on the remote `{}`", lxc.remote()),
                            }
                        ),
                    ));
                    if info.auth == "trusted" {
                        checks.push(check("lxd-trust", TRUST, Status::Pass, "trusted".into()));
                        true
                    } else {
                        let err = Error::LxdPermission {
                            detail: format!("the server says auth = {}", info.auth),
                        };
                        checks.push(failed("lxd-trust", TRUST, &err));
                        false
                    }
                }
                Err(err @ Error::LxdPermission { .. }) => {
                    checks.push(check(
                        "lxd-daemon",
                        DAEMON,
                        Status::Pass,
                        "the socket exists".into(),
                    ));
                    checks.push(failed("lxd-trust", TRUST, &err));
                    false
                }
                Err(err) => {
                    checks.push(failed("lxd-daemon", DAEMON, &err));
                    false
                }
            }
        }
    };

    if lxd_ready {
        checks.push(pool_check(lxc, &settings.storage_pool).await);
        checks.push(cpu_check(lxc).await);
        let firewall = !lxc.is_local() || host_has_firewall_tool();
        checks.push(verify_network_check(
            lxc.network(&settings.verify_network).await,
            settings,
            firewall,
        ));
    } else {
        for (id, title) in [("lxd-trust", TRUST), ("storage-pool", POOL), ("cpus", CPUS)] {
            if !checks.iter().any(|c| c.id == id) {
                checks.push(check(
                    id,
                    title,
                    Status::Skip,
                    "LXD is not usable yet".into(),
                ));
            }
        }
    }

    if lxc.is_local() {
        checks.push(name_lookup_check(
            Path::new("/etc/nsswitch.conf"),
            Path::new("/run/systemd/system"),
        ));
    }
    checks.push(match lxc.is_local() {
        true => idmap_check(
            Path::new("/etc/subuid"),
            Path::new("/etc/subgid"),
            current_uid(),
            current_gid(),
        ),
        false => check(
            "idmap",
            "id mapping for shared cache dirs",
            Status::Pass,
            format!(
                "not needed on `{}`: its caches are volumes in its pool `{}`, synced with this \
                 machine's before and after each build",
                lxc.remote(),
                settings.storage_pool
            ),
        ),
    });
    checks
}

const CPUS: &str = "CPUs for builds";

/// LXD runs a bridge's firewall rules with the host's iptables or nft.
fn host_has_firewall_tool() -> bool {
    ["iptables", "nft"].iter().any(|tool| {
        crate::lxd::find_on_path(tool).is_some()
            || ["/usr/sbin", "/sbin"]
                .iter()
                .any(|dir| Path::new(dir).join(tool).exists())
    })
}

/// The private network packages with MPI are verified on (two instances):
/// there and private, or to be created (which LXD can do only with the
/// host's firewall tool). Never a failure: builds without MPI do not use it,
/// and one with MPI stops in preflight if it cannot be had.
fn verify_network_check(
    found: crate::error::Result<Option<crate::lxd::NetworkInfo>>,
    settings: &Settings,
    firewall: bool,
) -> Check {
    const ID: &str = "verify-network";
    const TITLE: &str = "verify network for packages with MPI";
    let name = &settings.verify_network;
    let warn = |detail: String, remedy: Remedy| Check {
        id: ID,
        title: TITLE,
        status: Status::Warn,
        detail,
        remedy,
    };
    match found {
        Err(err) => Check {
            status: Status::Warn,
            ..failed(ID, TITLE, &err)
        },
        Ok(None) if !firewall => warn(
            format!(
                "`{name}` does not exist, and LXD cannot create a bridge here: the host has \
                 neither iptables nor nft"
            ),
            remedy![
                "install iptables (",
                code("sudo apt install iptables"),
                "), or create the network yourself (",
                code(format!(
                    "lxc network create {name} ipv4.address={} ipv4.nat=false ipv6.address=none",
                    settings.verify_subnet
                )),
                ")"
            ],
        ),
        Ok(None) => check(
            ID,
            TITLE,
            Status::Pass,
            format!(
                "`{name}` is created at the first build of a package with MPI: {} without NAT",
                settings.verify_subnet
            ),
        ),
        Ok(Some(info)) => match (info.unusable(), info.ipv4) {
            (Some(problem), _) => {
                let err = Error::NetworkUnusable {
                    network: name.clone(),
                    problem,
                };
                warn(err.to_string(), err.remedy())
            }
            (None, Some(subnet)) if info.nat => warn(
                format!("`{name}` ({subnet}) has NAT: verify instances can reach past this host"),
                remedy![
                    "set ",
                    setting("verify_network"),
                    " to a new name: it is created without NAT or uplink"
                ],
            ),
            (None, subnet) => check(
                ID,
                TITLE,
                Status::Pass,
                format!(
                    "`{name}`: {} without NAT; packages with MPI are verified on two \
                     instances there",
                    subnet.map(|s| s.to_string()).unwrap_or_default()
                ),
            ),
        },
    }
}

/// How many CPU threads the server has: what a matrix's default number of
/// builds at once on it comes from.
async fn cpu_check(lxc: &Lxc) -> Check {
    match lxc.cpu_count().await {
        Ok(n) => check(
            "cpus",
            CPUS,
            Status::Pass,
            format!("{n} CPU threads (a matrix runs {n} ÷ the builds' jobs at once here)"),
        ),
        // Only a matrix's default number of builds at once needs it: a build can go on.
        Err(err) => Check {
            status: Status::Warn,
            remedy: remedy![
                "give the server's builds at once yourself (",
                Flag::Remote.with("NAME=N"),
                ")"
            ],
            ..failed("cpus", CPUS, &err)
        },
    }
}

async fn pool_check(lxc: &Lxc, wanted: &str) -> Check {
    const TITLE: &str = "storage pool present";
    match lxc.storage_pools().await {
        Err(err) => failed("storage-pool", TITLE, &err),
        Ok(pools) => match pools.iter().find(|p| p.name == wanted) {
            None => {
                let err = Error::StoragePoolMissing {
                    pool: wanted.into(),
                };
                let mut c = failed("storage-pool", TITLE, &err);
                let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
                if !names.is_empty() {
                    c.detail += &format!(" (pools: {})", names.join(", "));
                }
                c
            }
            Some(pool) => {
                let cost = match pool.driver.as_str() {
                    "dir" => {
                        "; every launch copies the whole image (a btrfs or zfs pool \
                         launches in about a second)"
                    }
                    "btrfs" | "zfs" | "lvm" => "; launches are copy-on-write clones",
                    _ => "",
                };
                let status = if pool.driver == "dir" {
                    Status::Warn
                } else {
                    Status::Pass
                };
                let mut c = check(
                    "storage-pool",
                    TITLE,
                    status,
                    format!("`{}` uses the {} driver{cost}", pool.name, pool.driver),
                );
                if status == Status::Warn {
                    c.remedy = remedy![
                        "for faster launches: ",
                        code("lxc storage create sf-btrfs btrfs size=20GiB"),
                        " and set ",
                        setting("storage_pool"),
                        " to sf-btrfs"
                    ];
                }
                c
            }
        },
    }
}

/// Cache directories are shared with containers through `raw.idmap`, which
/// LXD only accepts when root may map the user's id (`root:<uid>:1`). Root
/// itself is never mapped (see [`crate::lxd::host_user_idmap`]): nothing to
/// delegate.
fn idmap_check(subuid: &Path, subgid: &Path, uid: u32, gid: u32) -> Check {
    const TITLE: &str = "id mapping for shared cache dirs";
    if uid == 0 {
        return check(
            "idmap",
            TITLE,
            Status::Pass,
            "run as root: instances keep LXD's unprivileged id map (host root is never \
             mapped into one) and the cache dirs they write are given to their root's id"
                .to_string(),
        );
    }
    let missing: Vec<String> = [(subuid, uid), (subgid, gid)]
        .iter()
        .filter(|(file, id)| !allows_root_map(file, *id))
        .map(|(file, id)| format!("root:{id}:1 in {}", file.display()))
        .collect();
    if missing.is_empty() {
        check(
            "idmap",
            TITLE,
            Status::Pass,
            format!("root may map uid {uid} and gid {gid}"),
        )
    } else {
        Check {
            id: "idmap",
            title: TITLE,
            status: Status::Fail,
            detail: format!("missing {}", missing.join(" and ")),
            remedy: remedy![
                "run ",
                code(format!("echo root:{uid}:1 | sudo tee -a /etc/subuid")),
                " and ",
                code(format!("echo root:{gid}:1 | sudo tee -a /etc/subgid")),
                ", then restart LXD; containers can then write the cache dirs as you"
            ],
        }
    }
}

/// LXD names the owner of every file it archives (`lxc publish`, which makes
/// each build's base image) with getpwuid_r. Where PID 1 is not systemd
/// (containers, WSL, minimal VMs) and nsswitch.conf sends those lookups to
/// nss-systemd, LXD 5.0 was seen to die of SIGABRT inside that call:
/// nss-systemd aborts when a descriptor it opened was closed under it, which
/// LXD does now and then. There nss-systemd has nothing to answer (its users
/// come from systemd's services), so `files` alone loses nothing.
/// `systemd_runtime` exists when systemd is PID 1 (what sd_booted() tests).
fn name_lookup_check(nsswitch: &Path, systemd_runtime: &Path) -> Check {
    const TITLE: &str = "user lookups safe for LXD";
    if systemd_runtime.is_dir() {
        return check(
            "name-lookup",
            TITLE,
            Status::Pass,
            "systemd is PID 1".into(),
        );
    }
    let text = std::fs::read_to_string(nsswitch).unwrap_or_default();
    let with_systemd: Vec<&str> = text
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(db, sources)| {
            ["passwd", "group", "shadow", "gshadow"].contains(&db.trim())
                && sources.split_whitespace().any(|s| s == "systemd")
        })
        .map(|(db, _)| db.trim())
        .collect();
    if with_systemd.is_empty() {
        return check(
            "name-lookup",
            TITLE,
            Status::Pass,
            format!(
                "systemd is not PID 1 and {} does not use it",
                nsswitch.display()
            ),
        );
    }
    Check {
        id: "name-lookup",
        title: TITLE,
        status: Status::Warn,
        detail: format!(
            "systemd is not PID 1, but {} sends {} lookups to it: LXD 5.0 can abort (SIGABRT in \
             getpwuid_r) while it makes a base image",
            nsswitch.display(),
            with_systemd.join("/")
        ),
        remedy: remedy![
            "remove ",
            code("systemd"),
            " from those lines (nss-systemd answers nothing without systemd): ",
            code(format!(
                "sudo sed -i -E '/^(passwd|group|shadow|gshadow):/s/[[:space:]]+systemd([[:space:]]|$)/\\1/' {}",
                nsswitch.display()
            )),
            ", then restart LXD"
        ],
    }
}

fn allows_root_map(file: &Path, id: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    text.lines().any(|line| {
        let mut parts = line.trim().split(':');
        let (Some(who), Some(start), Some(count)) = (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let (Ok(start), Ok(count)) = (start.parse::<u64>(), count.parse::<u64>()) else {
            return false;
        };
        who == "root" && start <= id as u64 && (id as u64) < start + count
    })
}

fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    // The owner of a file we just made is us; avoids an unsafe libc call.
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0)
}

fn current_gid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.gid())
        .unwrap_or(0)
}

/// Free space where the cache lives (or would be created).
fn disk_check(cache_dir: &Path, needed_mib: u64) -> Check {
    const TITLE: &str = "free disk in the cache dir";
    let existing = crate::fsutil::nearest_existing(cache_dir);
    match fs4::available_space(&existing) {
        Err(e) => {
            let err = Error::io("checking free disk", existing, e);
            failed("disk", TITLE, &err)
        }
        Ok(bytes) => {
            let available_mib = bytes / (1024 * 1024);
            if available_mib >= needed_mib {
                check(
                    "disk",
                    TITLE,
                    Status::Pass,
                    format!("{available_mib} MiB free in {}", existing.display()),
                )
            } else {
                let err = Error::DiskFull {
                    path: existing,
                    available_mib,
                    needed_mib,
                };
                failed("disk", TITLE, &err)
            }
        }
    }
}

/// Instances on another server cannot mount this machine's directories.
fn upstream_on_remote_check(remote: &str) -> Check {
    Check {
        id: "upstream-mirror",
        title: "upstream source mirror",
        status: Status::Fail,
        detail: format!(
            "upstream_mirror is a directory of this machine; instances on the remote `{remote}` \
             cannot mount it"
        ),
        remedy: remedy![
            "unset ",
            setting("upstream_mirror"),
            " for builds on other servers, or copy its files into the mirror layer (",
            Command::CacheStatus,
            " shows where): that layer reaches every server"
        ],
    }
}

/// The `upstream_mirror` setting names a directory that is there.
fn upstream_check(dir: &Path) -> Check {
    const TITLE: &str = "upstream source mirror";
    if dir.is_dir() {
        return check(
            "upstream-mirror",
            TITLE,
            Status::Pass,
            dir.display().to_string(),
        );
    }
    Check {
        id: "upstream-mirror",
        title: TITLE,
        status: Status::Fail,
        detail: format!("upstream_mirror = {} is not a directory", dir.display()),
        remedy: remedy![
            "point ",
            setting("upstream_mirror"),
            " at a directory holding a Spack source mirror, or unset it"
        ],
    }
}

/// On an offline site: whether the mirror layer still holds every source of
/// the last request `mirror check` or an offline build listed. A warning, not
/// a failure: another request's closure may differ.
fn offline_sources_check(settings: &Settings) -> Check {
    const TITLE: &str = "offline sources in the mirror layer";
    let dirs = crate::caches::cache::CacheDirs::new(settings);
    let Some(list) = crate::caches::sources::SourceList::newest(&dirs) else {
        return check(
            "offline-sources",
            TITLE,
            Status::Pass,
            "no request listed yet: an offline build or a mirror check lists its sources before \
             anything is built"
                .into(),
        );
    };
    let layer = std::slice::from_ref(&dirs.buildcache);
    let report = list.check(&dirs, settings.upstream_mirror.as_deref(), layer);
    if report.missing.is_empty() {
        return check(
            "offline-sources",
            TITLE,
            Status::Pass,
            format!(
                "all {} sources of {} (listed {})",
                report.needed, report.artifact_name, list.listed
            ),
        );
    }
    Check {
        id: "offline-sources",
        title: TITLE,
        status: Status::Warn,
        detail: report.summary() + &format!(" (of {})", report.artifact_name),
        remedy: remedy![
            format!(
                "put the missing files in the mirror layer ({}), import a bundle that has them (",
                report
                    .missing
                    .iter()
                    .map(|m| m.file.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Command::MirrorImport,
            "), or fill the mirror where there is network (",
            Command::MirrorCreate,
            "); ",
            Command::MirrorCheck,
            " lists each with its download URL"
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subid_ranges_are_parsed() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("subuid");
        std::fs::write(&f, "lxd:100000:65536\nroot:1000:1\nroot:100000:65536\n").unwrap();
        assert!(allows_root_map(&f, 1000));
        assert!(allows_root_map(&f, 100_005));
        assert!(!allows_root_map(&f, 0));
        assert!(!allows_root_map(&tmp.path().join("absent"), 1000));
    }

    #[test]
    fn name_lookup_check_warns_of_nss_systemd_without_systemd() {
        let tmp = tempfile::tempdir().unwrap();
        let nsswitch = tmp.path().join("nsswitch.conf");
        let no_systemd = tmp.path().join("run-systemd-system");
        std::fs::write(
            &nsswitch,
            "# comment systemd\npasswd:         files systemd\ngroup: files systemd\nhosts: files dns\n",
        )
        .unwrap();
        let c = name_lookup_check(&nsswitch, &no_systemd);
        assert_eq!(c.status, Status::Warn, "{c:?}");
        assert!(c.detail.contains("passwd/group"), "{}", c.detail);
        assert!(c.remedy.cli().contains("restart LXD"), "{}", c.remedy.cli());

        // The fix the hint gives, applied as a user would: the check passes.
        let fix = c.remedy.cli();
        let sed = fix.split('`').find(|s| s.starts_with("sudo sed")).unwrap();
        let sed = sed.trim_start_matches("sudo ");
        let status = std::process::Command::new("sh")
            .args(["-c", sed])
            .status()
            .unwrap();
        assert!(status.success(), "{sed}");
        let fixed = std::fs::read_to_string(&nsswitch).unwrap();
        assert!(fixed.contains("passwd:         files\n"), "{fixed}");
        assert!(fixed.contains("hosts: files dns"), "{fixed}");
        assert_eq!(
            name_lookup_check(&nsswitch, &no_systemd).status,
            Status::Pass
        );

        // Where systemd is PID 1, nss-systemd has its services: nothing to fix.
        std::fs::write(&nsswitch, "passwd: files systemd\n").unwrap();
        std::fs::create_dir(&no_systemd).unwrap();
        assert_eq!(
            name_lookup_check(&nsswitch, &no_systemd).status,
            Status::Pass
        );
    }

    #[test]
    fn verify_network_check_says_what_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        let settings = Settings::under(tmp.path());
        let missing = verify_network_check(Ok(None), &settings, true);
        assert_eq!(missing.status, Status::Pass);
        assert!(
            missing.detail.contains("10.203.71.1/24"),
            "{}",
            missing.detail
        );
        let no_firewall = verify_network_check(Ok(None), &settings, false);
        assert_eq!(no_firewall.status, Status::Warn);
        assert!(
            no_firewall.remedy.cli().contains("apt install iptables"),
            "{}",
            no_firewall.remedy.cli()
        );
        let bridge = |nat, managed| crate::lxd::NetworkInfo {
            name: "sf-verify".into(),
            kind: "bridge".into(),
            managed,
            ipv4: crate::lxd::Subnet::parse("10.9.8.1/24").ok(),
            nat,
        };
        let private = verify_network_check(Ok(Some(bridge(false, true))), &settings, true);
        assert_eq!(private.status, Status::Pass, "{private:?}");
        assert!(
            private.detail.contains("10.9.8.1/24 without NAT"),
            "{}",
            private.detail
        );
        let natted = verify_network_check(Ok(Some(bridge(true, true))), &settings, true);
        assert_eq!(natted.status, Status::Warn);
        assert!(natted.detail.contains("has NAT"), "{}", natted.detail);
        let unmanaged = verify_network_check(Ok(Some(bridge(false, false))), &settings, true);
        assert_eq!(unmanaged.status, Status::Warn);
        assert!(
            unmanaged.detail.contains("not a bridge LXD manages"),
            "{}",
            unmanaged.detail
        );
        assert!(
            unmanaged
                .remedy
                .cli()
                .contains("SLURM_FACTORY_VERIFY_NETWORK"),
            "{}",
            unmanaged.remedy.cli()
        );
    }

    #[test]
    fn idmap_check_explains_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("empty");
        std::fs::write(&f, "").unwrap();
        let c = idmap_check(&f, &f, 1000, 1000);
        assert_eq!(c.status, Status::Fail);
        assert!(c.remedy.cli().contains("root:1000:1"), "{}", c.remedy.cli());
        // Root is never mapped: nothing to add, least of all root:0:1.
        let c = idmap_check(&f, &f, 0, 0);
        assert_eq!(c.status, Status::Pass, "{}", c.detail);
        assert!(!c.remedy.cli().contains("root:0:1"), "{}", c.remedy.cli());
    }

    #[test]
    fn offline_sources_check_names_what_the_last_request_lacks() {
        let tmp = tempfile::tempdir().unwrap();
        let settings = crate::caches::spack_source::tests::site(tmp.path());
        let c = offline_sources_check(&settings);
        assert_eq!(c.status, Status::Pass);
        assert!(c.detail.contains("mirror check"), "{}", c.detail);
        let dirs = crate::caches::cache::CacheDirs::new(&settings);
        let need = crate::caches::sources::SourceNeed {
            package: "slurm".into(),
            version: "24-11-5-1".into(),
            hash: "h".into(),
            paths: vec!["slurm/slurm-24-11-5-1.tar.bz2".into()],
            sha256: None,
            url: None,
        };
        let list = crate::caches::sources::SourceList {
            artifact_name: "slurm-24-11-5-1-minimal-x86_64_v3".into(),
            listed: "2026-12-02T00:00:00Z".into(),
            needs: vec![need],
        };
        list.save(&crate::caches::sources::SourceList::path(&dirs, "k"))
            .unwrap();
        let c = offline_sources_check(&settings);
        assert_eq!(c.status, Status::Warn);
        assert!(
            c.detail.contains("missing: slurm@24-11-5-1"),
            "{}",
            c.detail
        );
        assert!(
            c.remedy.cli().contains("slurm-24-11-5-1.tar.bz2"),
            "{}",
            c.remedy.cli()
        );
        let file = dirs.mirror.join("slurm/slurm-24-11-5-1.tar.bz2");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "source").unwrap();
        assert_eq!(offline_sources_check(&settings).status, Status::Pass);
        let gone = upstream_check(&tmp.path().join("nowhere"));
        assert_eq!(gone.status, Status::Fail);
    }

    #[test]
    fn disk_check_fails_when_asking_too_much() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("not/yet/created");
        assert_eq!(disk_check(&missing, 1).status, Status::Pass);
        let c = disk_check(&missing, u64::MAX / (1024 * 1024));
        assert_eq!(c.status, Status::Fail);
        assert!(c.remedy.cli().contains("cache clean"), "{}", c.remedy.cli());
    }
}
