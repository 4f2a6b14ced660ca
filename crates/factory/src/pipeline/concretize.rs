//! The concretize stage.

use super::*;

impl Build<'_> {
    /// Solves the environment, or hands concretize.sh the lock of a
    /// byte-identical environment solved before (Spack installs from a lock
    /// without solving again).
    pub(super) async fn concretize(
        &self,
        prepared: &Prepared,
        instance: &str,
    ) -> Result<Done<u32>> {
        let key = &prepared.lock_key;
        let cached_lock = CacheDirs::new(self.settings)
            .locks
            .join(format!("{key}.lock"));
        // A lock cut short (a full disk, a killed copy) is dropped and solved again.
        let intact = |path: &Path| {
            std::fs::read(path)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .is_some_and(|v| v.is_object())
        };
        if cached_lock.is_file() && !intact(&cached_lock) {
            self.emit(BuildEvent::Warning {
                stage: Stage::Concretize,
                message: format!(
                    "the cached lock {} is damaged (not a JSON object): solving again",
                    cached_lock.display()
                ),
            });
            std::fs::remove_file(&cached_lock)
                .map_err(|e| Error::io("removing a damaged lock", &cached_lock, e))?;
        }
        let reuse = cached_lock.is_file();
        self.cache_use(Layer::Locks, reuse.into(), 1);
        if reuse {
            let recipe_lock = format!("{}/spack.lock", layout::RECIPE);
            self.lxc
                .push_file(instance, &cached_lock, &recipe_lock, 0o644)
                .await?;
        }
        let mut output = String::new();
        self.script(
            Stage::Concretize,
            instance,
            "concretize.sh",
            &[],
            &mut |line| {
                output.push_str(line);
                output.push('\n');
            },
        )
        .await?;
        let local_lock = self.run.file("spack.lock");
        let env_lock = format!("{}/spack.lock", layout::ENV);
        self.lxc.pull_file(instance, &env_lock, &local_lock).await?;
        if reuse {
            return Ok(Done::cached(0).detail(format!("spack.lock reused ({key})")));
        }
        let lock = std::fs::read(&local_lock).map_err(|e| Error::io("reading", &local_lock, e))?;
        crate::fsutil::write_atomic(&cached_lock, &lock)?;
        let (to_build, present) = progress::concretize_counts(&output);
        Ok(Done::new(to_build).detail(format!("{to_build} specs to build, {present} present")))
    }
}
