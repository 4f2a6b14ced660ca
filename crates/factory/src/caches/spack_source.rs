//! Where the build container's Spack comes from: cloned from git at the
//! pinned refs (online), or copies of local trees pushed into the base image
//! (offline: Spack, spack-packages and the clingo wheels its solver needs).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::layout;
use crate::settings::Settings;

/// The inputs of the base image's Spack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpackSource {
    Git {
        spack_url: String,
        spack_ref: String,
        packages_url: String,
        packages_ref: String,
    },
    Local {
        spack: PathBuf,
        packages: PathBuf,
        wheels: PathBuf,
    },
}

/// A local tree and the container path it is pushed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub local: PathBuf,
    pub remote: &'static str,
}

impl SpackSource {
    /// Online: the git settings. Offline: the local trees, each checked for
    /// what provision needs, with the fix spelt out when something is missing.
    pub fn from_settings(settings: &Settings, offline: bool) -> Result<SpackSource> {
        if !offline {
            return Ok(SpackSource::Git {
                spack_url: settings.spack_git_url.clone(),
                spack_ref: settings.spack_ref.clone(),
                packages_url: settings.spack_packages_git_url.clone(),
                packages_ref: settings.spack_packages_ref.clone(),
            });
        }
        let spack = local_tree(
            settings.spack_root.as_deref(),
            "spack_root",
            "bin/spack",
            format!(
                "a Spack {} checkout or unpacked release tarball (its site config in \
                 etc/spack/ comes along)",
                settings.spack_ref
            ),
        )?;
        let packages = local_tree(
            settings.spack_packages_root.as_deref(),
            "spack_packages_root",
            "repos/spack_repo/builtin/repo.yaml",
            format!(
                "a spack-packages {} checkout or unpacked release tarball",
                settings.spack_packages_ref
            ),
        )?;
        let wheels = wheels_dir(settings.wheels_dir.as_deref())?;
        Ok(SpackSource::Local {
            spack,
            packages,
            wheels,
        })
    }

    /// What provision pushes into the base image (nothing online).
    pub fn pushes(&self) -> Vec<Push> {
        match self {
            SpackSource::Git { .. } => Vec::new(),
            SpackSource::Local {
                spack,
                packages,
                wheels,
            } => vec![
                Push {
                    local: spack.clone(),
                    remote: layout::SPACK,
                },
                Push {
                    local: packages.clone(),
                    remote: layout::SPACK_PACKAGES,
                },
                Push {
                    local: wheels.clone(),
                    remote: layout::WHEELS,
                },
            ],
        }
    }

    /// The parts of the base-image key: the git URLs and refs, or what is
    /// really in the local trees (a new site config, an updated checkout or
    /// other wheels make a new base image, and with it a new solve).
    pub fn key_parts(&self) -> Result<Vec<String>> {
        Ok(match self {
            SpackSource::Git {
                spack_url,
                spack_ref,
                packages_url,
                packages_ref,
            } => vec![
                "online".into(),
                spack_url.clone(),
                spack_ref.clone(),
                packages_url.clone(),
                packages_ref.clone(),
            ],
            SpackSource::Local { .. } => {
                let mut parts = vec!["offline".to_string()];
                for push in self.pushes() {
                    parts.push(format!(
                        "{}={}",
                        push.remote,
                        crate::fsutil::tree_digest(&push.local)?
                    ));
                }
                parts
            }
        })
    }
}

fn local_tree(dir: Option<&Path>, key: &str, marker: &str, what: String) -> Result<PathBuf> {
    let var = format!("SLURM_FACTORY_{}", key.to_ascii_uppercase());
    let Some(dir) = dir else {
        return Err(Error::OfflineSetup {
            problem: format!("{key} is not set"),
            fix: format!(
                "set {key} (config file, or {var}) to {what}; \
                 `slurm-factory config show` prints the settings"
            ),
        });
    };
    if !dir.join(marker).exists() {
        return Err(Error::OfflineSetup {
            problem: format!("{key} = {} has no {marker}", dir.display()),
            fix: format!("point {key} (or {var}) at {what}"),
        });
    }
    Ok(dir.to_path_buf())
}

fn wheels_dir(dir: Option<&Path>) -> Result<PathBuf> {
    let download = "on a machine with internet access, `python3 -m pip download \
                    --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
                    -d DIR clingo` (3.12 for Ubuntu 24.04 images, 3.11 for Debian 12: the \
                    build image's Python), copy DIR here and set wheels_dir (or \
                    SLURM_FACTORY_WHEELS_DIR) to it";
    let Some(dir) = dir else {
        return Err(Error::OfflineSetup {
            problem: "wheels_dir is not set, so Spack's solver (clingo) cannot be installed \
                      without a network"
                .into(),
            fix: download.into(),
        });
    };
    let has_clingo = std::fs::read_dir(dir)
        .map_err(|e| Error::OfflineSetup {
            problem: format!("wheels_dir = {} cannot be read: {e}", dir.display()),
            fix: download.into(),
        })?
        .filter_map(|e| e.ok())
        .any(|e| {
            let name = e.file_name().to_string_lossy().to_ascii_lowercase();
            name.starts_with("clingo-") && name.ends_with(".whl")
        });
    if !has_clingo {
        return Err(Error::OfflineSetup {
            problem: format!("wheels_dir = {} holds no clingo-*.whl", dir.display()),
            fix: download.into(),
        });
    }
    Ok(dir.to_path_buf())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A site as a user lays it out, under names of their own choosing.
    pub(crate) fn site(root: &Path) -> Settings {
        let spack = root.join("src/spack-1.1");
        std::fs::create_dir_all(spack.join("bin")).unwrap();
        std::fs::write(spack.join("bin/spack"), "#!/bin/sh\n").unwrap();
        let packages = root.join("src/recipes");
        std::fs::create_dir_all(packages.join("repos/spack_repo/builtin")).unwrap();
        std::fs::write(
            packages.join("repos/spack_repo/builtin/repo.yaml"),
            "repo: {}\n",
        )
        .unwrap();
        let wheels = root.join("wheels");
        std::fs::create_dir_all(&wheels).unwrap();
        std::fs::write(
            wheels.join("clingo-5.8.0-cp311-cp311-manylinux2014_x86_64.whl"),
            "",
        )
        .unwrap();
        let mut s = Settings::under(root);
        s.spack_root = Some(spack);
        s.spack_packages_root = Some(packages);
        s.wheels_dir = Some(wheels);
        s
    }

    #[test]
    fn online_needs_nothing_local() {
        let tmp = tempfile::tempdir().unwrap();
        let source = SpackSource::from_settings(&Settings::under(tmp.path()), false).unwrap();
        assert!(source.pushes().is_empty());
        assert!(source.key_parts().unwrap().contains(&"v1.1.0".to_string()));
    }

    #[test]
    fn offline_trees_go_to_the_layout_paths_whatever_their_names() {
        let tmp = tempfile::tempdir().unwrap();
        let source = SpackSource::from_settings(&site(tmp.path()), true).unwrap();
        let remotes: Vec<&str> = source.pushes().iter().map(|p| p.remote).collect();
        assert_eq!(
            remotes,
            [layout::SPACK, layout::SPACK_PACKAGES, layout::WHEELS]
        );
        assert!(source.pushes()[0].local.ends_with("spack-1.1"));
    }

    #[test]
    fn offline_key_follows_the_site_config() {
        let tmp = tempfile::tempdir().unwrap();
        let s = site(tmp.path());
        let source = SpackSource::from_settings(&s, true).unwrap();
        let before = source.key_parts().unwrap();
        let site_config = s.spack_root.as_ref().unwrap().join("etc/spack");
        std::fs::create_dir_all(&site_config).unwrap();
        std::fs::write(site_config.join("packages.yaml"), "packages: {}\n").unwrap();
        assert_ne!(source.key_parts().unwrap(), before);
    }

    /// The cache keys a build uses, not only their parts: an updated site
    /// config makes a new base image and so a new solve; the same trees under
    /// other names do not.
    #[test]
    fn base_image_and_lock_keys_follow_the_local_trees() {
        use crate::caches::cache::{base_image_alias, lock_key};
        use crate::recipe::Rendered;
        let tmp = tempfile::tempdir().unwrap();
        let s = site(tmp.path());
        let rendered = Rendered {
            files: [
                (
                    "spack.yaml".to_string(),
                    "spack: {specs: [slurm]}\n".to_string(),
                ),
                (
                    "scripts/provision.sh".to_string(),
                    "#!/bin/bash\n".to_string(),
                ),
            ]
            .into(),
        };
        let keys = |s: &Settings| {
            let source = SpackSource::from_settings(s, true).unwrap();
            let alias = base_image_alias(s, &source, &rendered).unwrap();
            let lock = lock_key(&alias, &rendered);
            (alias, lock)
        };
        let (alias, lock) = keys(&s);
        assert!(
            alias.starts_with(crate::caches::cache::BASE_IMAGE_PREFIX),
            "{alias}"
        );

        let mut renamed = s.clone();
        let moved = tmp.path().join("elsewhere/spack");
        std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
        std::fs::rename(s.spack_root.as_ref().unwrap(), &moved).unwrap();
        renamed.spack_root = Some(moved.clone());
        assert_eq!(keys(&renamed), (alias.clone(), lock.clone()));

        std::fs::create_dir_all(moved.join("etc/spack")).unwrap();
        std::fs::write(moved.join("etc/spack/packages.yaml"), "packages: {}\n").unwrap();
        let (new_alias, new_lock) = keys(&renamed);
        assert_ne!(new_alias, alias, "a new site config makes a new base image");
        assert_ne!(new_lock, lock, "and a new solve");

        let mut other_env = rendered.clone();
        other_env.files.insert(
            "spack.yaml".into(),
            "spack: {specs: [slurm~hwloc]}\n".into(),
        );
        assert_ne!(lock_key(&new_alias, &other_env), new_lock);
        other_env
            .files
            .insert("scripts/verify.sh".into(), "#!/bin/bash\n".into());
        assert_eq!(
            lock_key(&new_alias, &other_env),
            lock_key(&new_alias, &{
                let mut r = other_env.clone();
                r.files.remove("scripts/verify.sh");
                r
            }),
            "scripts that do not shape the solve leave the lock alone"
        );
    }

    #[test]
    fn offline_without_wheels_says_how_to_get_them() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = site(tmp.path());
        s.wheels_dir = None;
        let err = SpackSource::from_settings(&s, true).unwrap_err();
        assert!(err.to_string().contains("wheels_dir is not set"), "{err}");
        assert!(err.hint().contains("pip download"), "{}", err.hint());
        assert_eq!(err.kind(), crate::ExitKind::Environment);
        let empty = tmp.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        s.wheels_dir = Some(empty);
        let err = SpackSource::from_settings(&s, true).unwrap_err();
        assert!(err.to_string().contains("no clingo-*.whl"), "{err}");
    }

    #[test]
    fn offline_without_spack_root_names_the_setting() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = site(tmp.path());
        s.spack_root = Some(tmp.path().join("nothing"));
        let err = SpackSource::from_settings(&s, true).unwrap_err();
        assert!(err.to_string().contains("has no bin/spack"), "{err}");
        s.spack_root = None;
        let err = SpackSource::from_settings(&s, true).unwrap_err();
        assert!(
            err.hint().contains("SLURM_FACTORY_SPACK_ROOT"),
            "{}",
            err.hint()
        );
    }
}
