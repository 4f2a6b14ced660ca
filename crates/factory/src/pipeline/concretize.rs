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
        let key = crate::cache::lock_key(&prepared.base_alias, &prepared.rendered);
        let cached_lock = CacheDirs::new(self.settings)
            .locks
            .join(format!("{key}.lock"));
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
        std::fs::copy(&local_lock, &cached_lock)
            .map_err(|e| Error::io("caching spack.lock", &cached_lock, e))?;
        let (to_build, present) = progress::concretize_counts(&output);
        Ok(Done::new(to_build).detail(format!("{to_build} specs to build, {present} present")))
    }
}
