//! The sources stage.

use super::*;
use crate::caches::sources::SourceList;

impl Build<'_> {
    /// Checks the mirror layer for every source of the solved closure (after
    /// `mirror create` filled it). An offline build stops here, naming what is
    /// missing, rather than at the first fetch error an hour into the install;
    /// an online build skips it (Spack downloads what the layer lacks).
    pub(super) async fn sources(
        &self,
        prepared: &Prepared,
        instance: &str,
    ) -> Result<Done<(SourcesReport, Option<OfflineTrees>)>> {
        let offline = self.options.flags.offline;
        let installs = matches!(self.job, Job::Build | Job::Publish { .. });
        if installs && !offline {
            return Ok(Done::skipped(
                (SourcesReport::default(), None),
                "online: Spack downloads what the mirror layer lacks",
            ));
        }
        let trees = match self.job {
            Job::MirrorCreate { config } => {
                self.run_script(Stage::Sources, instance, "mirror-create.sh")
                    .await?;
                self.collect_out(instance).await?;
                self.sync_layer(Stage::Sources, instance, Layer::Mirror, Way::Down)
                    .await?;
                let snapshot = self.run.file("out").join("offline");
                Some(crate::caches::mirror::adopt_trees(
                    self.settings,
                    &snapshot,
                    config,
                )?)
            }
            _ => None,
        };
        let dirs = CacheDirs::new(self.settings);
        let list_path = SourceList::path(&dirs, &prepared.lock_key);
        let cached = SourceList::load(&list_path);
        let reused = cached.is_some();
        let list = match cached {
            Some(list) => list,
            None => {
                let mut needs = Vec::new();
                self.script(Stage::Sources, instance, "sources.sh", &[], &mut |line| {
                    if let Some(ScriptLine::Source(need)) = ScriptLine::parse(line) {
                        needs.push(need);
                    }
                })
                .await?;
                let list = SourceList {
                    artifact_name: self.options.request.artifact_name(),
                    listed: jiff::Timestamp::now().to_string(),
                    needs,
                };
                list.save(&list_path)?;
                list
            }
        };
        let report = list.check(
            &dirs,
            self.settings.upstream_mirror.as_deref(),
            &self.publishing.binary_dirs(&dirs.buildcache),
        );
        if installs {
            if let Some(err) = report.blocking_error(self.run.file("build.log")) {
                return Err(err);
            }
        }
        let detail = report.summary();
        let cached = reused && trees.is_none();
        let done = (report, trees);
        Ok(match cached {
            true => Done::cached(done),
            false => Done::new(done),
        }
        .detail(detail))
    }
}
