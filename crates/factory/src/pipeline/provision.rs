//! The provision stage.

use super::*;

impl Build<'_> {
    /// Reuses a base image keyed by the hash of what went into it, else
    /// prepares one; then launches the build instance with the cache layers.
    pub(super) async fn provision(&self, prepared: &Prepared, instance: &str) -> Result<Done<()>> {
        let alias = prepared.base_alias.clone();
        let cached = self.lxc.image_exists(&alias).await?;
        self.cache_use(Layer::BaseImages, cached.into(), 1);
        if !cached {
            let prep = self.run_instance_name("prep");
            let result = self
                .prepare_base_image(&prep, &alias, &prepared.source)
                .await;
            self.lxc.delete(&prep).await?;
            result?;
        }
        CacheDirs::new(self.settings).create()?;
        let mut devices = self.cache_devices().await?;
        // A remote server's instance writes its output in place; it is
        // collected after each script that writes some (`collect_out`).
        if self.lxc.is_local() {
            if let Some(upstream) = &self.settings.upstream_mirror {
                devices.push(DiskDevice {
                    name: "sf-upstream".into(),
                    source: upstream.clone(),
                    pool: None,
                    path: layout::UPSTREAM_MIRROR.into(),
                    readonly: true,
                });
            }
            devices.extend(self.publishing.install_from_devices());
            let out = self.run.file("out");
            std::fs::create_dir_all(&out).map_err(|e| Error::io("creating", &out, e))?;
            devices.push(DiskDevice {
                name: "sf-out".into(),
                source: out,
                pool: None,
                path: layout::OUT.into(),
                readonly: false,
            });
        }
        let mut spec = LaunchSpec {
            image: alias.clone(),
            name: instance.into(),
            devices,
            loopback_ports: self.publishing.install_from_ports(),
            ..LaunchSpec::default()
        };
        spec.copy_of = Some(self.shifted_base(&spec).await?);
        self.launch(spec).await?;
        self.push_install_from(instance).await?;
        self.make_out(instance).await?;
        self.sync_layer(Stage::Provision, instance, Layer::Mirror, Way::Both)
            .await?;
        let detail = if cached {
            format!("base image {alias} reused")
        } else {
            format!("base image {alias} prepared")
        };
        Ok(if cached {
            Done::cached(())
        } else {
            Done::new(())
        }
        .detail(detail))
    }

    /// The stopped instance of the base image that `build` is copied from:
    /// its files already shifted to `build`'s idmap (see
    /// [`LaunchSpec::copy_of`]), made by the first build that needs it. It
    /// belongs to the base images' cache layer.
    pub(super) async fn shifted_base(&self, build: &LaunchSpec) -> Result<String> {
        let build = self.instance_spec(build.clone())?;
        let idmap: Vec<(String, String)> = build
            .config
            .into_iter()
            .filter(|(key, _)| key == "raw.idmap")
            .collect();
        let uid = (!idmap.is_empty())
            .then(crate::lxd::current_uid)
            .transpose()?;
        let name = crate::caches::cache::shifted_instance_name(&build.image, uid);
        if self.lxc.instance_exists(&name).await? {
            return Ok(name);
        }
        crate::caches::cache::prune_shifted_instances(&self.lxc).await?;
        let scratch = LaunchSpec {
            image: build.image,
            name: self.run_instance_name("shift"),
            storage_pool: build.storage_pool,
            config: idmap.into_iter().chain(self.labels()).collect(),
            ..LaunchSpec::default()
        };
        self.lxc
            .make_shifted(&scratch, &name, &[crate::store::runs::RUN_LABEL])
            .await?;
        Ok(name)
    }

    pub(super) async fn prepare_base_image(
        &self,
        prep: &str,
        alias: &str,
        source: &SpackSource,
    ) -> Result<()> {
        self.launch(LaunchSpec {
            image: self.settings.image.clone(),
            name: prep.into(),
            ..LaunchSpec::default()
        })
        .await?;
        // Offline: each local tree lands at its layout path, whatever it is called.
        for push in source.pushes() {
            self.lxc
                .push_tree_as(prep, &push.local, push.remote, &self.run.path)
                .await?;
        }
        self.run_script(Stage::Provision, prep, "provision.sh")
            .await?;
        let published = self
            .lxc
            .publish(
                prep,
                alias,
                &[
                    ("description".into(), "slurm-factory base image".into()),
                    (BASE_IMAGE_PROPERTY.into(), alias.into()),
                ],
            )
            .await;
        // Builds that missed the cache together each publish an image, and LXD
        // leaves the alias on one of them (the first or the last to finish): drop
        // the others, which no listing of base images would show again.
        for image in self.lxc.images().await? {
            let ours = image
                .properties
                .get(BASE_IMAGE_PROPERTY)
                .map(String::as_str)
                == Some(alias);
            if ours && image.aliases.is_empty() {
                self.lxc.delete_image(&image.fingerprint).await?;
            }
        }
        match published {
            // Another build's cleanup took our image mid-publish: the alias is there.
            Err(_) if self.lxc.image_exists(alias).await? => Ok(()),
            other => other.map(drop),
        }
    }
}
