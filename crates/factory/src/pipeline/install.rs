//! The install stage.

use super::*;

impl Build<'_> {
    /// Done with whether there is anything to push to the buildcache layer:
    /// not when Spack took every package from that layer.
    pub(super) async fn install(&self, instance: &str, to_build: u32) -> Result<Done<bool>> {
        self.remove_damaged_binaries().await?;
        self.sync_layer(Stage::Install, instance, Layer::Buildcache, Way::Up)
            .await?;
        let mut spack = SpackProgress::new();
        // check-buildcache.py's `::refused URL SPEC REASON` lines, and
        // probe-buildcaches.py's `::unreadable URL REASON`.
        let mut refused: Vec<(String, String)> = Vec::new();
        let mut unreadable: Vec<(String, String)> = Vec::new();
        if to_build > 0 {
            self.emit(BuildEvent::Progress {
                stage: Stage::Install,
                done: 0,
                total: to_build,
                label: String::new(),
            });
        }
        self.push_install_login(instance).await?;
        let result = self
            .script(Stage::Install, instance, "install.sh", &[], &mut |line| {
                match ScriptLine::parse(line) {
                    Some(ScriptLine::Refused { url, entry }) => {
                        refused.push((url.into(), entry.into()));
                    }
                    Some(ScriptLine::Unreadable { url, reason }) => {
                        unreadable.push((url.into(), reason.into()));
                    }
                    Some(ScriptLine::NoIndex { url }) => self.emit(BuildEvent::Warning {
                        stage: Stage::Install,
                        message: format!(
                            "the buildcache {} holds no index (pushed without \
                             --update-index?): Spack looks each spec up there instead",
                            self.publishing.host_url(url)
                        ),
                    }),
                    _ => {}
                }
                if let Some(u) = spack.feed(line) {
                    self.emit(BuildEvent::Progress {
                        stage: Stage::Install,
                        done: u.done,
                        total: u.total,
                        label: u.label,
                    });
                }
            })
            .await;
        // Counted even when the install failed: the lookups happened.
        let (cached, built) = (spack.from_buildcache(), spack.built_from_source());
        self.cache_use(Layer::Buildcache, cached, cached + built);
        let (mirrored, fetched) = (spack.from_mirror(), spack.from_elsewhere());
        self.cache_use(Layer::Mirror, mirrored, mirrored + fetched);
        if result.is_err() && !unreadable.is_empty() {
            let (url, reason) = unreadable.swap_remove(0);
            return Err(Error::BuildcacheUnreadable {
                url: self.publishing.host_url(&url),
                reason,
            });
        }
        if result.is_err() && !refused.is_empty() {
            return Err(Error::BuildcacheRefused {
                url: self.publishing.host_url(&refused[0].0),
                entries: refused.into_iter().map(|(_, entry)| entry).collect(),
                log: self.run.file("build.log"),
            });
        }
        if result.is_err() && !spack.fetch_failures().is_empty() {
            return Err(self.sources_missing(spack.fetch_failures()));
        }
        result?;
        // Spack-built gcc (`--compiler spack-gcc`) is pushed with the rest, and
        // what came from a `--from` buildcache reaches the local layer.
        let toolchain = self.options.request.compiler == crate::request::Compiler::SpackGcc;
        let from_elsewhere = !self.publishing.from.is_empty();
        let new_binaries = built > 0 || cached == 0 || toolchain || from_elsewhere;
        Ok(match (cached, built) {
            (0, 0) => Done::new(new_binaries),
            (cached, built) => {
                Done::new(new_binaries).detail(format!("{cached} from buildcache, {built} built"))
            }
        })
    }

    /// Entries of this build's specs in the buildcache layer that Spack would
    /// quietly refuse (cut short, corrupted) are named and removed first.
    async fn remove_damaged_binaries(&self) -> Result<()> {
        let buildcache = CacheDirs::new(self.settings).buildcache;
        let specs = crate::caches::buildcache::lock_specs(&self.run.file("spack.lock"));
        // Reads (and hashes) every binary of the build: off the async threads.
        let damaged = tokio::task::spawn_blocking(move || {
            crate::caches::buildcache::remove_damaged(&buildcache, &specs)
        })
        .await
        .expect("the buildcache check does not panic")?;
        for damaged in damaged {
            let (name_version, hash) = damaged.spec.rsplit_once('-').unwrap_or((&damaged.spec, ""));
            self.emit(BuildEvent::Warning {
                stage: Stage::Install,
                message: format!(
                    "the buildcache's entry of {name_version} (/{}) is damaged ({}): removed, so \
                     Spack compiles it and pushes it whole",
                    hash.chars().take(7).collect::<String>(),
                    damaged.problem
                ),
            });
        }
        Ok(())
    }

    /// Spack's fetch errors as one error that names each package, where
    /// Spack looked (as host paths where a cache layer is behind them) and
    /// the file the mirror layer should hold.
    pub(super) fn sources_missing(&self, failures: &[progress::FetchFailure]) -> Error {
        let mirror = CacheDirs::new(self.settings).mirror;
        let on_host = |url: &str| -> Option<PathBuf> {
            let path = url.strip_prefix("file://")?;
            let rel = path
                .strip_prefix(layout::CACHE_MIRROR)?
                .trim_start_matches('/');
            Some(mirror.join(rel))
        };
        let mut looked = Vec::new();
        let mut wanted = Vec::new();
        for f in failures {
            let local: Vec<PathBuf> = f.urls.iter().filter_map(|u| on_host(u)).collect();
            // The name-and-version path when Spack tried one, else its digest path.
            let by_name = local.iter().find(|p| {
                p.strip_prefix(&mirror)
                    .is_ok_and(|r| r.starts_with(&f.name))
            });
            if let Some(p) = by_name.or(local.first()) {
                wanted.push(p.clone());
            }
            for url in &f.urls {
                let place = on_host(url).map_or_else(|| url.clone(), |p| p.display().to_string());
                if !looked.contains(&place) {
                    looked.push(place);
                }
            }
        }
        Error::SourcesMissing {
            packages: failures
                .iter()
                .map(|f| format!("{}@{}", f.name, f.version))
                .collect(),
            looked,
            wanted,
            log: self.run.file("build.log"),
        }
    }
}
