//! A build's `--publish`, `--from` and `--trust`, checked before the run
//! leaves anything behind, and what they put in the build instance.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::layout;
use crate::lxd::{DiskDevice, Lxc};
use crate::publish::{BuildcacheUrl, CheckedPublish, Place, PublishOptions};

use super::BuildFlags;

/// A build's checked `--publish`, `--from` and `--trust`.
#[derive(Debug, Default)]
pub(super) struct Publishing {
    pub(super) to: Option<(PublishOptions, CheckedPublish)>,
    pub(super) from: Vec<BuildcacheUrl>,
    pub(super) trust: Vec<PathBuf>,
    /// The `--from-credentials` file's checked bytes.
    pub(super) from_login: Option<Vec<u8>>,
    /// The `--from-registry-ca` certificate.
    pub(super) from_ca: Option<Vec<u8>>,
}

impl Publishing {
    /// Every build flag checked (the package options too), and what the
    /// run needs of the publishing ones.
    pub(super) fn check(flags: &BuildFlags, lxc: &Lxc) -> Result<Publishing> {
        flags.check()?;
        let to = match flags.publish_options() {
            Some(opts) => {
                let checked = opts.check()?;
                Some((opts, checked))
            }
            None => None,
        };
        let mut from = flags
            .install_from
            .iter()
            .map(|url| crate::publish::parse_url("buildcache to install from", url))
            .collect::<Result<Vec<_>>>()?;
        if let Some(url) = &flags.from_s3_endpoint {
            let endpoint = crate::publish::parse_endpoint(url)?;
            let buckets = from
                .iter_mut()
                .map(|url| url.set_endpoint(&endpoint))
                .filter(|&bucket| bucket)
                .count();
            if buckets == 0 {
                return Err(Error::InvalidValue {
                    what: "S3 endpoint",
                    value: url.clone(),
                    reason: "it is for the s3:// buckets of --from; give one".into(),
                });
            }
        }
        for url in to.iter().map(|(_, checked)| &checked.to).chain(&from) {
            let Place::Dir(dir) = &url.place else {
                continue;
            };
            if !lxc.is_local() {
                return Err(Error::InvalidValue {
                    what: "buildcache URL",
                    value: url.url.clone(),
                    reason: format!(
                        "a directory of this machine is not reachable from the LXD remote `{}`: \
                         use an OCI registry, or build on the local server",
                        lxc.remote()
                    ),
                });
            }
            let from_dir = to.as_ref().is_none_or(|(_, checked)| checked.to != *url);
            if from_dir && !dir.is_dir() {
                return Err(Error::InvalidValue {
                    what: "buildcache to install from",
                    value: url.url.clone(),
                    reason: "no such directory".into(),
                });
            }
        }
        if let Some(http) = from.iter().find(|url| url.is_plain_http()) {
            if !flags.from_plain_http {
                return Err(Error::InvalidValue {
                    what: "buildcache to install from",
                    value: http.url.clone(),
                    reason: "oci+http:// is plain HTTP: anyone on the way can read and change \
                             the binaries installed; use oci:// (HTTPS), or allow it \
                             (from_plain_http) for a registry on a network you trust"
                        .into(),
                });
            }
        }
        for key in &flags.trust {
            if !key.is_file() {
                return Err(Error::InvalidValue {
                    what: "trusted key",
                    value: key.display().to_string(),
                    reason: "no such file (export it with `gpg --armor --export ID > key.asc`)"
                        .into(),
                });
            }
        }
        if let Some(oci) = from.iter().find(|url| url.is_oci()) {
            if !flags.trust.is_empty() {
                return Err(Error::InvalidValue {
                    what: "buildcache to install from",
                    value: oci.url.clone(),
                    reason: "Spack 1.1 neither signs nor checks OCI buildcaches, so --trust \
                             cannot hold for it: install signed binaries from a file:// \
                             buildcache, or give this one without --trust"
                        .into(),
                });
            }
        }
        let for_registries = |what: &'static str, file: &Path| -> Result<()> {
            match from.iter().any(BuildcacheUrl::is_networked) {
                true => Ok(()),
                false => Err(Error::InvalidValue {
                    what,
                    value: file.display().to_string(),
                    reason: "it is for the OCI registries and S3 buckets of --from; give one"
                        .into(),
                }),
            }
        };
        let from_login = match &flags.from_credentials {
            Some(file) => {
                for_registries("registry login", file)?;
                Some(crate::publish::read_credentials(file)?)
            }
            None => None,
        };
        let from_ca = match &flags.from_registry_ca {
            Some(file) => {
                for_registries("registry CA", file)?;
                Some(crate::publish::read_certificate(file)?)
            }
            None => None,
        };
        if !flags.trust.is_empty() && from.is_empty() {
            return Err(Error::InvalidValue {
                what: "trusted key",
                value: flags.trust[0].display().to_string(),
                reason: "--trust applies to the buildcaches of --from; give one".into(),
            });
        }
        Ok(Publishing {
            to,
            from,
            trust: flags.trust.clone(),
            from_login,
            from_ca,
        })
    }

    /// The disk device of a `file://` buildcache published to (created if
    /// missing), for the publish instance alone.
    pub(super) fn publish_devices(&self) -> Result<Vec<DiskDevice>> {
        let published_dir = self
            .to
            .as_ref()
            .and_then(|(_, checked)| match &checked.to.place {
                Place::Dir(dir) => Some(dir),
                Place::Oci { .. } | Place::S3 { .. } => None,
            });
        let Some(dir) = published_dir else {
            return Ok(Vec::new());
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        Ok(vec![DiskDevice {
            name: "sf-publish".into(),
            source: dir.clone(),
            pool: None,
            path: layout::PUBLISH.into(),
            readonly: false,
        }])
    }

    /// The disk devices of the `file://` buildcaches installed from
    /// (read-only), for the build instance.
    pub(super) fn install_from_devices(&self) -> Vec<DiskDevice> {
        self.from
            .iter()
            .enumerate()
            .filter_map(|(n, url)| match &url.place {
                Place::Dir(dir) => Some(DiskDevice {
                    name: format!("sf-install-from-{n}"),
                    source: dir.clone(),
                    pool: None,
                    path: install_from_mount(n),
                    readonly: true,
                }),
                Place::Oci { .. } | Place::S3 { .. } => None,
            })
            .collect()
    }

    /// The registry or S3 endpoint published to, when it is on the LXD
    /// host's loopback: the publish instance must reach it.
    pub(super) fn publish_ports(&self) -> Vec<u16> {
        self.to
            .iter()
            .filter_map(|(_, checked)| checked.to.place.loopback_port())
            .collect()
    }

    /// Registries and S3 endpoints of `--from` on the LXD host's loopback
    /// the build instance must reach.
    pub(super) fn install_from_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .from
            .iter()
            .filter_map(|url| url.place.loopback_port())
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// The URL the user gave for a buildcache's URL in the instance.
    pub(super) fn host_url(&self, in_instance: &str) -> String {
        self.install_from()
            .into_iter()
            .zip(&self.from)
            .find(|(seen, _)| seen.url == in_instance)
            .map_or_else(|| in_instance.to_string(), |(_, url)| url.url.clone())
    }

    /// The directories of this machine the build installs binaries from:
    /// the buildcache `layer`, unless `--trust` holds the build to signed
    /// binaries (the layer is unsigned: see spack.yaml), and the `--from`
    /// directories.
    pub(super) fn binary_dirs(&self, layer: &Path) -> Vec<PathBuf> {
        let layer = self.trust.is_empty().then(|| layer.to_path_buf());
        let from = self.from.iter().filter_map(|url| match &url.place {
            Place::Dir(dir) => Some(dir.clone()),
            Place::Oci { .. } | Place::S3 { .. } => None,
        });
        layer.into_iter().chain(from).collect()
    }

    /// The buildcaches to install from as the templates see them.
    pub(super) fn install_from(&self) -> Vec<crate::recipe::InstallFrom> {
        self.from
            .iter()
            .enumerate()
            .map(|(n, url)| crate::recipe::InstallFrom {
                name: format!("install-from-{n}"),
                url: url.in_instance(&install_from_mount(n)),
                signed: !self.trust.is_empty(),
                login: url.is_networked() && self.from_login.is_some(),
                kind: url.kind(),
                s3_endpoint: match &url.place {
                    Place::S3 {
                        endpoint: Some(endpoint),
                    } => Some(endpoint.url.clone()),
                    _ => None,
                },
            })
            .collect()
    }
}

/// Where the `n`th `--from` directory is mounted in the build instance.
pub(super) fn install_from_mount(n: usize) -> String {
    format!("{}/{n}", layout::INSTALL_FROM)
}
