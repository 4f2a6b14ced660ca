//! The cached layers that make rebuilds fast: base images (in LXD), the Spack
//! buildcache, the source mirror, ccache and concretized locks (host dirs
//! mounted into build instances). Sizes, hit rates from past runs, and
//! cleaning one layer or all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::caches::spack_source::SpackSource;
use crate::error::{Error, Result};
use crate::events::BuildEvent;
use crate::kinds::Layer;
use crate::layout;
use crate::lxd::{DiskDevice, Lxc};
use crate::recipe::{Rendered, SPACK_REPO_DIR};
use crate::settings::Settings;
use crate::store::runs::{self, RunDir};
use crate::units::{human_bytes, plural, Size};
use sha2::{Digest, Sha256};

/// Base images carry this alias prefix: `sf-base-<hash of their inputs>`.
pub const BASE_IMAGE_PREFIX: &str = "sf-base-";

/// The stopped instance of base image `alias` that builds are copied from,
/// its files shifted to the idmap of host user `uid` (`None`: LXD's default
/// map, for a server without the host's dirs): `sf-base-<hash>-shifted-u<uid>`.
pub fn shifted_instance_name(alias: &str, uid: Option<u32>) -> String {
    match uid {
        Some(uid) => format!("{alias}{SHIFTED}-u{uid}"),
        None => format!("{alias}{SHIFTED}"),
    }
}

const SHIFTED: &str = "-shifted";

/// Deletes the shifted instances whose base image is gone (deleted by hand,
/// or by `cache clean` on an older Slurm Factory): nothing copies them.
pub async fn prune_shifted_instances(lxc: &Lxc) -> Result<()> {
    let aliases: std::collections::BTreeSet<String> = lxc
        .images()
        .await?
        .into_iter()
        .flat_map(|i| i.aliases)
        .collect();
    for instance in lxc.instances().await? {
        let Some((alias, _)) = instance.name.split_once(SHIFTED) else {
            continue;
        };
        if alias.starts_with(BASE_IMAGE_PREFIX) && !aliases.contains(alias) {
            lxc.delete(&instance.name).await?;
        }
    }
    Ok(())
}

/// `sf-base-<hash>`: changes whenever anything that shapes the base image
/// does: the image it starts from, where Spack comes from (offline: what is
/// really in the local trees), the provision script and the repositories the
/// externals were found with.
pub fn base_image_alias(
    settings: &Settings,
    source: &SpackSource,
    rendered: &Rendered,
) -> Result<String> {
    let mut h = Sha256::new();
    let mut parts = vec![settings.image.clone()];
    parts.extend(source.key_parts()?);
    for file in [
        "scripts/provision.sh",
        "scripts/spack-externals.sh",
        "repos.yaml",
    ] {
        parts.push(rendered.files.get(file).cloned().unwrap_or_default());
    }
    // Online only (offline it is not rendered, and keys stay as they were).
    parts.extend(rendered.files.get("scripts/git-clone.sh").cloned());
    for part in parts {
        h.update(part.as_bytes());
        h.update([0]);
    }
    Ok(format!(
        "{BASE_IMAGE_PREFIX}{}",
        &crate::fsutil::hex(&h.finalize())[..12]
    ))
}

/// The spack.lock cache key: the rendered environment, the package
/// repositories it resolves against, and the base image whose Spack, site
/// config, compiler and externals solve it.
pub fn lock_key(base_alias: &str, rendered: &Rendered) -> String {
    let mut h = Sha256::new();
    h.update(base_alias.as_bytes());
    h.update([0]);
    for (name, text) in &rendered.files {
        if name == "spack.yaml" || name == "repos.yaml" || name.starts_with(SPACK_REPO_DIR) {
            h.update(name.as_bytes());
            h.update([0]);
            h.update(text.as_bytes());
            h.update([0]);
        }
    }
    crate::fsutil::hex(&h.finalize())[..16].to_string()
}

/// The layers build instances mount: (layer, device name, container path).
pub const MOUNTED: [(Layer, &str, &str); 3] = [
    (Layer::Buildcache, "sf-buildcache", layout::CACHE_BUILDCACHE),
    (Layer::Mirror, "sf-mirror", layout::CACHE_MIRROR),
    (Layer::Ccache, "sf-ccache", layout::CACHE_CCACHE),
];

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
        CacheDirs::under(&settings.cache_dir)
    }

    /// The layers under a cache dir.
    pub fn under(root: &Path) -> CacheDirs {
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
            crate::fsutil::create_private_dir_all(dir)
                .map_err(|e| Error::io("creating a cache dir", dir, e))?;
        }
        Ok(())
    }

    /// The disk devices that mount the layers at their container paths.
    pub fn devices(&self) -> Vec<DiskDevice> {
        MOUNTED
            .iter()
            .map(|&(layer, name, path)| DiskDevice {
                name: name.into(),
                source: self.dir(layer).expect("mounted layers are dirs").into(),
                pool: None,
                path: path.into(),
                readonly: false,
            })
            .collect()
    }

    /// On a remote server the layers are custom volumes in its `pool`: a
    /// replica of these directories, named after the device and
    /// [`CacheDirs::replica_key`]; [`MOUNTED`] says which layers.
    pub fn volume_devices(&self, pool: &str) -> Vec<DiskDevice> {
        MOUNTED
            .iter()
            .map(|&(layer, name, path)| DiskDevice {
                name: name.into(),
                source: self
                    .replica(layer)
                    .expect("mounted layers have replicas")
                    .into(),
                pool: Some(pool.into()),
                path: path.into(),
                readonly: false,
            })
            .collect()
    }

    /// The custom volume that holds `layer` on a remote server,
    /// `sf-buildcache-<key>`; `None` for layers no instance mounts.
    pub fn replica(&self, layer: Layer) -> Option<String> {
        let (_, name, _) = MOUNTED.iter().find(|m| m.0 == layer)?;
        Some(format!("{name}-{}", self.replica_key()))
    }

    /// Which cache dir a remote server's volumes replicate: this machine
    /// and the directory. Each cache dir has replicas of its own, so one
    /// user's (or test's) layers never flow into another's, and cleaning a
    /// layer here can clean its replicas too.
    fn replica_key(&self) -> String {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let mut h = Sha256::new();
        h.update(host.trim().as_bytes());
        h.update([0]);
        h.update(self.buildcache.as_os_str().as_encoded_bytes());
        crate::fsutil::hex(&h.finalize())[..12].to_string()
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
    /// `bytes` for people (`1.2 GiB`), as both front ends show it.
    pub size_text: String,
    /// Files in the directory, or images.
    pub entries: u64,
    /// `12 files`, `2 images`.
    pub entries_text: String,
}

/// Every layer's size and their total, as both front ends show them.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CacheOverview {
    pub layers: Vec<LayerStatus>,
    pub total: Size,
}

/// [`status`] with the total of all layers.
pub async fn overview(settings: &Settings, lxc: &Lxc) -> Result<CacheOverview> {
    let layers = status(settings, lxc).await?;
    let total = Size::from(layers.iter().map(|l| l.bytes).sum::<u64>());
    Ok(CacheOverview { layers, total })
}

/// Sizes of every layer. Base images are counted only when LXD answers.
pub async fn status(settings: &Settings, lxc: &Lxc) -> Result<Vec<LayerStatus>> {
    let dirs = CacheDirs::new(settings);
    let mut out = Vec::new();
    for layer in Layer::ALL {
        let (path, bytes, entries) = match dirs.dir(layer) {
            Some(dir) => {
                let (bytes, files) = crate::fsutil::tree_usage(dir);
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
        let noun = if path.is_some() { "file" } else { "image" };
        out.push(LayerStatus {
            layer,
            description: layer.describe().into(),
            path,
            bytes,
            size_text: human_bytes(bytes),
            entries,
            entries_text: plural(entries, noun),
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
    /// The hit rate for people, as both front ends show it: `hit rate 83% (5
    /// of 6 lookups over 4 runs)`, or why there is none.
    pub text: String,
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
    let ids: Vec<String> = match std::fs::read_dir(&root) {
        Ok(entries) => entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io("reading the runs directory", root, e)),
    };
    // Ids start with the UTC time they were created: oldest first, so the
    // last run seen is the newest.
    let mut ids = ids;
    ids.sort();
    let any_runs = !ids.is_empty();
    let mut totals: HashMap<Layer, LayerHits> = Layer::ALL
        .into_iter()
        .map(|layer| {
            let empty = LayerHits {
                layer,
                runs: 0,
                hits: 0,
                lookups: 0,
                last: None,
                text: String::new(),
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
        .map(|l| {
            let mut h = totals.remove(&l).expect("filled above");
            h.text = hit_rate_text(&h, any_runs);
            h
        })
        .to_vec())
}

/// `hit rate 83% (5 of 6 lookups over 4 runs)`; without lookups, whether no
/// build ran yet or none looked in this layer.
pub fn hit_rate_text(h: &LayerHits, any_runs: bool) -> String {
    match h.rate() {
        None if any_runs => "not looked up by any build yet".into(),
        None => "no builds yet".into(),
        // Rounded half up.
        Some(rate) => format!(
            "hit rate {}% ({} of {} over {})",
            (rate * 100.0).round(),
            h.hits,
            plural(h.lookups, "lookup"),
            plural(u64::from(h.runs), "run")
        ),
    }
}

/// Empties one layer; returns the bytes freed.
pub async fn clean(settings: &Settings, lxc: &Lxc, layer: Layer) -> Result<u64> {
    let dirs = CacheDirs::new(settings);
    let freed = match dirs.dir(layer) {
        Some(dir) => {
            let (bytes, _) = crate::fsutil::tree_usage(dir);
            if dir.exists() {
                empty_dir(dir)?;
            }
            bytes
        }
        None => clean_base_images(lxc).await?,
    };
    // The other servers of a matrix: their replica of the layer (else the
    // next build there would copy it all back), or their base images.
    for r in crate::remotes::wanted(settings, &[]) {
        let server = lxc.on(&r.remote);
        if server.is_local() {
            continue;
        }
        let cleaned = match dirs.replica(layer) {
            Some(volume) => server.delete_volume(&settings.storage_pool, &volume).await,
            None if r.remote != lxc.remote() => clean_base_images(&server).await.map(drop),
            None => Ok(()),
        };
        cleaned.map_err(|e| Error::Lxc {
            command: format!(
                "cleaning the {} layer on the LXD remote `{}`",
                layer.as_str(),
                r.remote
            ),
            stderr: e.to_string(),
        })?;
    }
    Ok(freed)
}

/// Deletes the base images of the handle's server, and the shifted
/// instances builds copy of them; returns the images' bytes.
async fn clean_base_images(lxc: &Lxc) -> Result<u64> {
    for instance in lxc.instances().await? {
        if instance.name.starts_with(BASE_IMAGE_PREFIX) {
            lxc.delete(&instance.name).await?;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(layer: Layer, runs: u32, hits: u64, lookups: u64) -> LayerHits {
        LayerHits {
            layer,
            runs,
            hits,
            lookups,
            last: None,
            text: String::new(),
        }
    }

    #[test]
    fn hit_rate_text_reads_well() {
        assert_eq!(
            hit_rate_text(&hits(Layer::Buildcache, 4, 5, 6), true),
            "hit rate 83% (5 of 6 lookups over 4 runs)"
        );
        assert_eq!(
            hit_rate_text(&hits(Layer::Locks, 1, 1, 8), true),
            "hit rate 13% (1 of 8 lookups over 1 run)"
        );
        assert_eq!(
            hit_rate_text(&hits(Layer::Mirror, 0, 0, 0), true),
            "not looked up by any build yet"
        );
        assert_eq!(
            hit_rate_text(&hits(Layer::Mirror, 0, 0, 0), false),
            "no builds yet"
        );
    }

    #[test]
    fn layers_parse_by_name() {
        assert_eq!("ccache".parse::<Layer>().unwrap(), Layer::Ccache);
        assert!("cache".parse::<Layer>().is_err());
    }

    /// Caches and what the data dir holds are the user's alone (0700) when
    /// made here; a dir already there keeps its mode.
    #[test]
    fn new_cache_dirs_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let shared = tmp.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o775)).unwrap();
        let root = shared.join("cache");
        let dirs = CacheDirs::under(&root);
        dirs.create().unwrap();
        for dir in [
            &root,
            &dirs.buildcache,
            &dirs.mirror,
            &dirs.ccache,
            &dirs.locks,
        ] {
            assert_eq!(mode(dir), 0o700, "{}", dir.display());
        }
        assert_eq!(mode(&shared), 0o775);
        let run = crate::store::runs::RunDir::create(&tmp.path().join("data/runs")).unwrap();
        assert_eq!(mode(&tmp.path().join("data")), 0o700);
        assert_eq!(mode(run.path.parent().unwrap()), 0o700);
    }

    #[test]
    fn usage_and_cleaning_of_a_dir_layer() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("layer");
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::write(dir.join("a/b/blob"), vec![0u8; 4096]).unwrap();
        std::fs::write(dir.join("top"), b"12345").unwrap();
        assert_eq!(crate::fsutil::tree_usage(&dir), (4101, 2));
        empty_dir(&dir).unwrap();
        assert!(dir.is_dir(), "the layer dir itself stays");
        assert_eq!(crate::fsutil::tree_usage(&dir), (0, 0));
        assert_eq!(
            crate::fsutil::tree_usage(&tmp.path().join("absent")),
            (0, 0)
        );
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
        use crate::kinds::Stage;
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
