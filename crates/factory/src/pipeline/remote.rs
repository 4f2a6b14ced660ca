//! Builds on a remote LXD server. Its instances cannot mount this machine's
//! directories, so there the cache layers are custom volumes of that server,
//! synced with this machine's layers (each side gets what it lacks from the
//! other, whole files only), and what the build hands back travels as a tar
//! file. On the local server all of this is a no-op: the layers are mounted.

use std::collections::BTreeMap;

use super::*;
use crate::caches::cache::MOUNTED;

/// Whether a layer's file is copied between servers: the buildcache's index
/// is derived (every push rewrites it from the entries on its side, and
/// Spack finds an entry the index lacks by its manifest), and hidden files
/// are some program's work in progress (copies being unpacked, probes).
fn travels(rel: &str) -> bool {
    !rel.contains("manifests/index/") && !rel.split('/').any(|part| part.starts_with('.'))
}

/// The files that `from` has and `to` lacks, and their bytes.
fn missing(from: &BTreeMap<String, u64>, to: &BTreeMap<String, u64>) -> (Vec<String>, u64) {
    let files: Vec<String> = from
        .keys()
        .filter(|rel| !to.contains_key(*rel) && travels(rel))
        .cloned()
        .collect();
    let bytes = files.iter().map(|f| from[f]).sum();
    (files, bytes)
}

/// Which way [`Build::sync_layer`] copies.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Way {
    /// What the remote lacks, from here.
    Up,
    /// What this machine lacks, from the remote.
    Down,
    Both,
}

impl Build<'_> {
    /// The build instance's cache devices: the layers' directories here, or
    /// on a remote server the volumes that replicate them (created on first
    /// use).
    pub(super) async fn cache_devices(&self) -> Result<Vec<DiskDevice>> {
        if self.lxc.is_local() {
            return Ok(CacheDirs::new(self.settings).devices());
        }
        let pool = &self.settings.storage_pool;
        let dirs = CacheDirs::new(self.settings);
        let devices = dirs.volume_devices(pool);
        for device in &devices {
            self.lxc
                .ensure_volume(pool, &device.source.to_string_lossy())
                .await?;
        }
        Ok(devices)
    }

    /// On a remote server, copies what one side of `layer` lacks from the
    /// other, and logs what went which way.
    pub(super) async fn sync_layer(
        &self,
        stage: Stage,
        instance: &str,
        layer: Layer,
        way: Way,
    ) -> Result<()> {
        if self.lxc.is_local() {
            return Ok(());
        }
        let Some(&(_, _, path)) = MOUNTED.iter().find(|m| m.0 == layer) else {
            return Ok(());
        };
        let host = CacheDirs::new(self.settings)
            .dir(layer)
            .expect("mounted layers are directories")
            .to_path_buf();
        let there = self.lxc.list_files(instance, path).await?;
        let here = {
            let host = host.clone();
            tokio::task::spawn_blocking(move || crate::fsutil::file_sizes(&host))
                .await
                .expect("the listing task does not panic")?
        };
        let remote = self.lxc.remote();
        let scratch = &self.run.path;
        if way != Way::Down {
            let (files, bytes) = missing(&here, &there);
            self.lxc
                .push_files(instance, &host, &files, path, scratch)
                .await?;
            self.sync_log(stage, layer, files.len(), bytes, &format!("to {remote}"));
        }
        if way != Way::Up {
            let (files, bytes) = missing(&there, &here);
            self.lxc
                .pull_files(instance, path, &files, &host, scratch)
                .await?;
            self.sync_log(stage, layer, files.len(), bytes, &format!("from {remote}"));
        }
        Ok(())
    }

    fn sync_log(&self, stage: Stage, layer: Layer, files: usize, bytes: u64, way: &str) {
        if files == 0 {
            return;
        }
        self.log(
            stage,
            &format!(
                "{} layer: {} ({}) copied {way}",
                layer.as_str(),
                crate::units::plural(files as u64, "file"),
                human_bytes(bytes)
            ),
        );
    }

    /// On a remote server, makes the instance's output directory, which a
    /// local build's instance has as a mount.
    pub(super) async fn make_out(&self, instance: &str) -> Result<()> {
        if self.lxc.is_local() {
            return Ok(());
        }
        let argv = ["mkdir", "-p", layout::OUT].map(String::from);
        let out = self.lxc.exec_capture(instance, &argv, &[]).await?;
        match out.status {
            0 => Ok(()),
            code => Err(Error::Lxc {
                command: format!("mkdir -p {} in {instance}", layout::OUT),
                stderr: format!("exited with {code}: {}", out.stderr.trim()),
            }),
        }
    }

    /// On a remote server, brings the instance's output directory here (a
    /// local build's instance writes it through a mount).
    pub(super) async fn collect_out(&self, instance: &str) -> Result<()> {
        if self.lxc.is_local() {
            return Ok(());
        }
        self.lxc
            .pull_tree_as(instance, layout::OUT, &self.run.file("out"), &self.run.path)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_other_side_lacks_travels_and_never_the_index() {
        let a = BTreeMap::from([
            ("blobs/sha256/ab/abc".to_string(), 10),
            (
                "v3/manifests/spec/zlib/zlib-1.3-abc.spec.manifest.json".to_string(),
                5,
            ),
            ("v3/manifests/index/index.manifest.json".to_string(), 7),
            (".sf-incoming-x/blob".to_string(), 1),
            ("ab/.writable.x1y2".to_string(), 0),
        ]);
        let b = BTreeMap::from([("blobs/sha256/ab/abc".to_string(), 3)]);
        assert_eq!(
            missing(&a, &b),
            (
                vec!["v3/manifests/spec/zlib/zlib-1.3-abc.spec.manifest.json".to_string()],
                5
            )
        );
        assert_eq!(missing(&b, &a), (vec![], 0));
    }
}
