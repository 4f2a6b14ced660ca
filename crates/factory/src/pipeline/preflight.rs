//! The preflight stage.

use super::*;

impl Build<'_> {
    pub(super) async fn preflight(&self) -> Result<Done<Prepared>> {
        let report = doctor::run(self.settings).await;
        let failed: Vec<&doctor::Check> = report
            .checks
            .iter()
            .filter(|c| c.status == doctor::Status::Fail)
            .collect();
        for c in report
            .checks
            .iter()
            .filter(|c| c.status == doctor::Status::Warn)
        {
            self.emit(BuildEvent::Warning {
                stage: Stage::Preflight,
                message: format!("{}: {}", c.title, c.detail),
            });
        }
        if !failed.is_empty() {
            return Err(Error::NotReady {
                failures: failed
                    .iter()
                    .map(|c| format!("{}: {}", c.title, c.detail))
                    .collect::<Vec<_>>()
                    .join("; "),
                fixes: crate::error::remedy::Remedy(
                    failed
                        .iter()
                        .filter(|c| !c.remedy.0.is_empty())
                        .enumerate()
                        .flat_map(|(i, c)| {
                            let separator = (i > 0).then(|| "; ".into());
                            separator.into_iter().chain(c.remedy.0.iter().cloned())
                        })
                        .collect(),
                ),
            });
        }
        for message in self.options.warnings() {
            self.emit(BuildEvent::Warning {
                stage: Stage::Preflight,
                message,
            });
        }
        crate::store::runs::recover_interrupted(self.settings, &self.lxc).await?;
        let verify_network = self.verify_network().await?;
        for image in [&self.settings.image, &self.settings.verify_image] {
            // Remote images (`ubuntu:24.04`) are fetched by LXD at launch.
            if image.contains(':') {
                continue;
            }
            if self.lxc.is_local() {
                if !self.lxc.image_exists(image).await? {
                    return Err(Error::ImageNotFound {
                        image: image.clone(),
                    });
                }
                continue;
            }
            // A remote server gets this machine's image of that name, again
            // when the image here was replaced (a rebuilt image).
            let here = self.lxc.on("local");
            let there = self.lxc.image_fingerprint(image).await?;
            let copy = match (here.image_fingerprint(image).await?, &there) {
                (None, None) => {
                    return Err(Error::ImageNotFound {
                        image: image.clone(),
                    })
                }
                (None, Some(_)) => false,
                (Some(ours), there) => there.as_ref() != Some(&ours),
            };
            if !copy {
                continue;
            }
            let what = match there {
                Some(_) => "replacing the older copy of",
                None => "copying",
            };
            self.log(
                Stage::Preflight,
                &format!("{what} image {image} on {}", self.lxc.remote()),
            );
            here.copy_image_to(image, &self.lxc).await?;
            if let Some(stale) = there {
                // Its alias moved to the new copy; an instance still using it keeps it.
                let _ = self.lxc.delete_image(&stale).await;
            }
        }
        let ctx = super::dry_run::recipe_context(
            self.options,
            self.settings,
            self.toolchain.clone(),
            &self.publishing,
        );
        let rendered = self.templates.render(&ctx)?;
        rendered.write_to(&self.run.file("recipe"))?;
        // Offline: the local trees are checked (and digested for the cache
        // keys) before anything is launched.
        let source = SpackSource::from_settings(self.settings, self.options.flags.offline)?;
        let base_alias = {
            let settings = self.settings.clone();
            let (source, rendered) = (source.clone(), rendered.clone());
            tokio::task::spawn_blocking(move || {
                crate::caches::cache::base_image_alias(&settings, &source, &rendered)
            })
            .await
            .expect("the digest task does not panic")?
        };
        let detail = format!("{} files rendered", rendered.files.len());
        let lock_key = crate::caches::cache::lock_key(&base_alias, &rendered);
        Ok(Done::new(Prepared {
            rendered,
            source,
            base_alias,
            lock_key,
            verify_network,
        })
        .detail(detail))
    }
}

/// What preflight hands on: the rendered recipe, where Spack comes from and
/// the base image that fits them.
pub(super) struct Prepared {
    pub(super) rendered: Rendered,
    pub(super) source: SpackSource,
    pub(super) base_alias: String,
    /// `cache::lock_key`: names the cached spack.lock and its source list.
    pub(super) lock_key: String,
    /// Where the verify nodes meet, when there are several.
    pub(super) verify_network: Option<verify::VerifyNetwork>,
}
