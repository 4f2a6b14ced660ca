//! The cached layers that make rebuilds fast: base images (in LXD), the Spack
//! buildcache, the source mirror, ccache and concretized locks (host dirs
//! mounted into build instances). Sizes, and cleaning one layer or all.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::layout;
use crate::lxd::{DiskDevice, Lxc};
use crate::settings::Settings;

/// Base images carry this alias prefix: `sf-base-<hash of their inputs>`.
pub const BASE_IMAGE_PREFIX: &str = "sf-base-";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    /// Prepared LXD images with build tools and Spack.
    BaseImages,
    /// Spack's binary cache: installed packages as tarballs.
    Buildcache,
    /// Source tarballs Spack fetched.
    Mirror,
    /// Compiler cache.
    Ccache,
    /// spack.lock files of environments already concretized.
    Locks,
}

impl Layer {
    pub const ALL: [Layer; 5] = [
        Layer::BaseImages,
        Layer::Buildcache,
        Layer::Mirror,
        Layer::Ccache,
        Layer::Locks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::BaseImages => "base-images",
            Layer::Buildcache => "buildcache",
            Layer::Mirror => "mirror",
            Layer::Ccache => "ccache",
            Layer::Locks => "locks",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Layer::BaseImages => "LXD images with build tools and Spack, keyed by their inputs",
            Layer::Buildcache => "Spack binary packages: a rebuild extracts instead of compiling",
            Layer::Mirror => "source tarballs: rebuilds and offline builds fetch nothing",
            Layer::Ccache => "compiler cache: recompiling changed packages is faster",
            Layer::Locks => "solved environments: identical requests skip concretization",
        }
    }
}

impl std::str::FromStr for Layer {
    type Err = Error;
    fn from_str(s: &str) -> Result<Layer> {
        Layer::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| Error::InvalidValue {
                what: "cache layer",
                value: s.into(),
                reason: format!(
                    "expected one of {}",
                    Layer::ALL.map(|l| l.as_str()).join(", ")
                ),
            })
    }
}

/// The host directories shared with build instances.
#[derive(Debug, Clone)]
pub struct CacheDirs {
    pub buildcache: PathBuf,
    pub mirror: PathBuf,
    pub ccache: PathBuf,
    pub locks: PathBuf,
}

impl CacheDirs {
    pub fn new(settings: &Settings) -> CacheDirs {
        let root = &settings.cache_dir;
        CacheDirs {
            buildcache: root.join("buildcache"),
            mirror: root.join("mirror"),
            ccache: root.join("ccache"),
            locks: root.join("locks"),
        }
    }

    pub fn dir(&self, layer: Layer) -> Option<&Path> {
        match layer {
            Layer::BaseImages => None,
            Layer::Buildcache => Some(&self.buildcache),
            Layer::Mirror => Some(&self.mirror),
            Layer::Ccache => Some(&self.ccache),
            Layer::Locks => Some(&self.locks),
        }
    }

    pub fn create(&self) -> Result<()> {
        for dir in [&self.buildcache, &self.mirror, &self.ccache, &self.locks] {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("creating a cache dir", dir, e))?;
        }
        Ok(())
    }

    /// The disk devices that mount the layers at their container paths.
    pub fn devices(&self) -> Vec<DiskDevice> {
        [
            ("sf-buildcache", &self.buildcache, layout::CACHE_BUILDCACHE),
            ("sf-mirror", &self.mirror, layout::CACHE_MIRROR),
            ("sf-ccache", &self.ccache, layout::CACHE_CCACHE),
        ]
        .into_iter()
        .map(|(name, source, path)| DiskDevice {
            name: name.into(),
            source: source.clone(),
            path: path.into(),
            readonly: false,
        })
        .collect()
    }
}

/// One layer's footprint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LayerStatus {
    pub layer: Layer,
    pub description: String,
    /// The host directory, or `None` for base images (they live in LXD).
    pub path: Option<PathBuf>,
    pub bytes: u64,
    /// Files in the directory, or images.
    pub entries: u64,
}

/// Sizes of every layer. Base images are counted only when LXD answers.
pub async fn status(settings: &Settings, lxc: &Lxc) -> Result<Vec<LayerStatus>> {
    let dirs = CacheDirs::new(settings);
    let mut out = Vec::new();
    for layer in Layer::ALL {
        let (path, bytes, entries) = match dirs.dir(layer) {
            Some(dir) => {
                let (bytes, files) = dir_usage(dir);
                (Some(dir.to_path_buf()), bytes, files)
            }
            None => {
                let images = base_images(lxc).await?;
                (
                    None,
                    images.iter().map(|i| i.size).sum(),
                    images.len() as u64,
                )
            }
        };
        out.push(LayerStatus {
            layer,
            description: layer.describe().into(),
            path,
            bytes,
            entries,
        });
    }
    Ok(out)
}

async fn base_images(lxc: &Lxc) -> Result<Vec<crate::lxd::ImageInfo>> {
    Ok(lxc
        .images()
        .await?
        .into_iter()
        .filter(|i| i.aliases.iter().any(|a| a.starts_with(BASE_IMAGE_PREFIX)))
        .collect())
}

/// Empties one layer; returns the bytes freed.
pub async fn clean(settings: &Settings, lxc: &Lxc, layer: Layer) -> Result<u64> {
    match CacheDirs::new(settings).dir(layer) {
        Some(dir) => {
            let (bytes, _) = dir_usage(dir);
            if dir.exists() {
                empty_dir(dir)?;
            }
            Ok(bytes)
        }
        None => {
            let mut freed = 0;
            for image in base_images(lxc).await? {
                for alias in image
                    .aliases
                    .iter()
                    .filter(|a| a.starts_with(BASE_IMAGE_PREFIX))
                {
                    lxc.delete_image(alias).await?;
                }
                freed += image.size;
            }
            Ok(freed)
        }
    }
}

/// Removes what is inside `dir` but keeps `dir`: it may be a mount point.
fn empty_dir(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("reading", dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let result = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        result.map_err(|e| Error::io("removing", &path, e))?;
    }
    Ok(())
}

/// (bytes, files) under `dir`, symlinks not followed; 0 when absent.
pub fn dir_usage(dir: &Path) -> (u64, u64) {
    let mut bytes = 0;
    let mut files = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    (bytes, files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_parse_by_name() {
        assert_eq!("ccache".parse::<Layer>().unwrap(), Layer::Ccache);
        assert!("cache".parse::<Layer>().is_err());
    }

    #[test]
    fn usage_and_cleaning_of_a_dir_layer() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("layer");
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::write(dir.join("a/b/blob"), vec![0u8; 4096]).unwrap();
        std::fs::write(dir.join("top"), b"12345").unwrap();
        assert_eq!(dir_usage(&dir), (4101, 2));
        empty_dir(&dir).unwrap();
        assert!(dir.is_dir(), "the layer dir itself stays");
        assert_eq!(dir_usage(&dir), (0, 0));
        assert_eq!(dir_usage(&tmp.path().join("absent")), (0, 0));
    }
}
