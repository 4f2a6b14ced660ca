//! The cached layers that make rebuilds fast: base images (in LXD), the Spack
//! buildcache, the source mirror, ccache and concretized locks (host dirs
//! mounted into build instances). Sizes, hit rates from past runs, and
//! cleaning one layer or all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::events::BuildEvent;
use crate::layout;
use crate::lxd::{DiskDevice, Lxc};
use crate::runs::{self, RunDir};
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

/// How often past builds found what they looked for in one layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LayerHits {
    pub layer: Layer,
    /// Runs that consulted the layer.
    pub runs: u32,
    pub hits: u64,
    pub lookups: u64,
    /// The newest run that consulted the layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<RunHits>,
}

impl LayerHits {
    /// Hits per lookup, 0..=1; `None` before any lookup.
    pub fn rate(&self) -> Option<f64> {
        (self.lookups > 0).then(|| self.hits as f64 / self.lookups as f64)
    }
}

/// One run's lookups of one layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RunHits {
    pub run_id: String,
    pub hits: u32,
    pub lookups: u32,
}

/// Sums the `cache_use` events of every run under the runs dir, one entry per
/// layer in [`Layer::ALL`] order. A run whose events cannot be read (torn by
/// an interrupted run, unreadable) adds what could be read, or nothing.
pub fn hit_rates(settings: &Settings) -> Result<Vec<LayerHits>> {
    let root = settings.runs_dir();
    let mut ids: Vec<String> = match std::fs::read_dir(&root) {
        Ok(entries) => entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io("reading the runs directory", root, e)),
    };
    // Ids start with the UTC time they were created: oldest first, so the
    // last run seen is the newest.
    ids.sort();
    let mut totals: HashMap<Layer, LayerHits> = Layer::ALL
        .into_iter()
        .map(|layer| {
            let empty = LayerHits {
                layer,
                runs: 0,
                hits: 0,
                lookups: 0,
                last: None,
            };
            (layer, empty)
        })
        .collect();
    for id in ids {
        let Ok(run) = RunDir::open(&root, &id) else {
            continue;
        };
        let events = match runs::read_events(&run) {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!("hit rates: skipping run {id}: {e}");
                continue;
            }
        };
        let mut this_run: HashMap<Layer, (u32, u32)> = HashMap::new();
        for rec in events {
            if let BuildEvent::CacheUse {
                layer,
                hits,
                lookups,
            } = rec.event
            {
                let (h, l) = this_run.entry(layer).or_default();
                *h += hits.min(lookups);
                *l += lookups;
            }
        }
        for (layer, (hits, lookups)) in this_run {
            let t = totals.get_mut(&layer).expect("every layer has an entry");
            t.runs += 1;
            t.hits += u64::from(hits);
            t.lookups += u64::from(lookups);
            t.last = Some(RunHits {
                run_id: id.clone(),
                hits,
                lookups,
            });
        }
    }
    Ok(Layer::ALL
        .map(|l| totals.remove(&l).expect("filled above"))
        .to_vec())
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

    fn settings_in(dir: &Path) -> Settings {
        let dirs = crate::settings::XdgDirs {
            config: dir.join("config"),
            data: dir.join("data"),
            cache: dir.join("cache"),
        };
        Settings::defaults(&dirs)
    }

    /// Writes a run's events.jsonl with the pipeline's own Emitter.
    fn run_with(settings: &Settings, uses: &[(Layer, u32, u32)]) -> RunDir {
        use crate::events::Stage;
        let run = RunDir::create(&settings.runs_dir()).unwrap();
        let em = runs::Emitter::new(&run, std::sync::Arc::new(|_: &_| {})).unwrap();
        em.emit(BuildEvent::StageStarted {
            stage: Stage::Provision,
        });
        for &(layer, hits, lookups) in uses {
            em.emit(BuildEvent::CacheUse {
                layer,
                hits,
                lookups,
            });
        }
        run
    }

    fn of(rates: &[LayerHits], layer: Layer) -> &LayerHits {
        rates.iter().find(|h| h.layer == layer).unwrap()
    }

    #[test]
    fn hit_rates_before_any_run() {
        let tmp = tempfile::tempdir().unwrap();
        let rates = hit_rates(&settings_in(tmp.path())).unwrap();
        assert_eq!(
            rates.iter().map(|h| h.layer).collect::<Vec<_>>(),
            Layer::ALL
        );
        assert!(rates.iter().all(|h| h.runs == 0 && h.rate().is_none()));
    }

    #[test]
    fn hit_rates_sum_runs_and_keep_the_newest() {
        let tmp = tempfile::tempdir().unwrap();
        let settings = settings_in(tmp.path());
        run_with(
            &settings,
            &[
                (Layer::BaseImages, 0, 1),
                (Layer::Locks, 0, 1),
                (Layer::Buildcache, 0, 6),
            ],
        );
        // A run that failed before concretizing, in the same second or later.
        run_with(&settings, &[(Layer::BaseImages, 1, 1)]);
        let newest = run_with(
            &settings,
            &[
                (Layer::BaseImages, 1, 1),
                (Layer::Locks, 1, 1),
                (Layer::Buildcache, 3, 6),
                (Layer::Mirror, 1, 1),
            ],
        );
        // Run ids made in one second sort by a random suffix; this test
        // wants creation order, so it renames the newest after the rest.
        let newest_id = "99991231-235959-ffff";
        std::fs::rename(&newest.path, settings.runs_dir().join(newest_id)).unwrap();

        let rates = hit_rates(&settings).unwrap();
        let base = of(&rates, Layer::BaseImages);
        assert_eq!((base.runs, base.hits, base.lookups), (3, 2, 3));
        let bc = of(&rates, Layer::Buildcache);
        assert_eq!((bc.runs, bc.hits, bc.lookups), (2, 3, 12));
        assert_eq!(bc.rate(), Some(0.25));
        assert_eq!(
            bc.last,
            Some(RunHits {
                run_id: newest_id.into(),
                hits: 3,
                lookups: 6
            })
        );
        let locks = of(&rates, Layer::Locks);
        assert_eq!((locks.runs, locks.hits, locks.lookups), (2, 1, 2));
        assert_eq!(of(&rates, Layer::Mirror).runs, 1);
        assert_eq!(of(&rates, Layer::Ccache).lookups, 0);
    }

    #[test]
    fn torn_and_foreign_run_dirs_do_not_fail_the_sum() {
        let tmp = tempfile::tempdir().unwrap();
        let settings = settings_in(tmp.path());
        let good = run_with(&settings, &[(Layer::Locks, 1, 1)]);
        // An interrupted run: its last line cut mid-write, then a torn UTF-8 byte.
        let torn = run_with(&settings, &[(Layer::Locks, 0, 1)]);
        let mut text = std::fs::read(torn.file("events.jsonl")).unwrap();
        text.extend_from_slice(b"{\"t_ms\":9,\"type\":\"cache_use\",\"layer\":\"lo\xc3");
        std::fs::write(torn.file("events.jsonl"), text).unwrap();
        // A run that died before its first event, and stray entries.
        RunDir::create(&settings.runs_dir()).unwrap();
        std::fs::write(settings.runs_dir().join("notes.txt"), "x").unwrap();
        std::fs::create_dir(settings.runs_dir().join("bad name")).unwrap();
        let unreadable = RunDir::create(&settings.runs_dir()).unwrap();
        std::fs::create_dir(unreadable.file("events.jsonl")).unwrap();

        let rates = hit_rates(&settings).unwrap();
        let locks = of(&rates, Layer::Locks);
        assert_eq!((locks.runs, locks.hits, locks.lookups), (2, 1, 2));
        assert!(good.file("events.jsonl").is_file());
    }
}
