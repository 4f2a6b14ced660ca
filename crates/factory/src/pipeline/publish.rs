//! The publish stage, and what a build that installs from published
//! buildcaches needs in its instance.

use super::*;
use crate::publish::{self as publishing, BuildcacheScope};

impl Build<'_> {
    /// `--publish`: the stored archives and manifest, signed when asked,
    /// then the Spack binaries to the buildcache with the files beside them:
    /// placed here for `file://`, uploaded for S3 and OCI. The binaries go
    /// from the publish instance (see [`Build::launch_publish_instance`]),
    /// never from the build instance: the signing key and the login reach
    /// no instance where build code ran.
    pub(super) async fn publish(
        &self,
        prepared: &Prepared,
        instance: &str,
        artifact_id: &str,
    ) -> Result<Done<()>> {
        let rendered = &prepared.rendered;
        let Some((options, checked)) = &self.publishing.to else {
            return Ok(Done::skipped((), "nothing to publish (no --publish)"));
        };
        let key = match &options.sign {
            Some(key) => Some(publishing::secret_key(&publishing::key_source(key)?)?),
            None => None,
        };
        let mut detail = Vec::new();
        let artifact = Store::new(self.settings.artifacts_dir()).show(artifact_id)?;
        let lock = self.run.file("spack.lock");
        if let (Some(recorded), true) = (&artifact.manifest.spack_lock_sha256, lock.is_file()) {
            if *recorded != crate::package::sha256_file(&lock)? {
                self.emit(BuildEvent::Warning {
                    stage: Stage::Publish,
                    message: format!(
                        "the environment solved differently from when {artifact_id} was built \
                         (another spack.lock): the binaries pushed are this solve's, the \
                         archives the artifact's"
                    ),
                });
            }
        }
        let mut files = artifact.signed_files();
        if let Some(key) = &key {
            let (to_sign, key) = (files.clone(), key.clone());
            let signed =
                tokio::task::spawn_blocking(move || publishing::sign_files(&key, &to_sign))
                    .await
                    .expect("signing does not panic")?;
            let (fingerprint, sigs) = signed;
            self.log(
                Stage::Publish,
                &format!("signed {} files with key {fingerprint}", sigs.len()),
            );
            detail.push(format!("signed by {fingerprint}"));
            files.extend(sigs);
        }
        let upload_files = checked.to.is_networked();
        if options.buildcache != BuildcacheScope::None || upload_files {
            if rendered.files.contains_key("scripts/publish.sh") {
                let beside = upload_files.then_some((files.as_slice(), artifact_id));
                self.launch_publish_instance(&prepared.base_alias, instance)
                    .await?;
                self.run_publish_script(instance, options, checked, key.as_deref(), beside)
                    .await?;
                if options.buildcache != BuildcacheScope::None {
                    detail.push(format!(
                        "{} binaries to {}",
                        match options.buildcache {
                            BuildcacheScope::Deps => "dependencies'",
                            _ => "all",
                        },
                        checked.to.url
                    ));
                }
                if upload_files {
                    detail.push(format!("{} files as {artifact_id}", files.len()));
                }
            } else {
                self.log(
                    Stage::Publish,
                    "the recipe has no publish.sh: nothing pushed",
                );
            }
        }
        if let Place::Dir(dir) = &checked.to.place {
            let dest = dir.join("packages").join(artifact_id);
            let placed = publishing::place_files(&files, &dest)?;
            for file in &placed {
                self.log(Stage::Publish, &format!("published {}", file.display()));
            }
            detail.push(format!("archives in {}", dest.display()));
        }
        Ok(Done::new(()).detail(detail.join(", ")))
    }

    /// Launches the instance publish.sh runs in, fresh from the base image:
    /// it gets the buildcache layer read-only (the binaries, which it
    /// installs from there: nothing is built in it), the publish target and
    /// the solved environment (`spack.lock`, solved before any build code
    /// ran).
    async fn launch_publish_instance(&self, base_image: &str, instance: &str) -> Result<()> {
        let mut devices: Vec<DiskDevice> = self
            .cache_devices()
            .await?
            .into_iter()
            .filter(|device| device.path == layout::CACHE_BUILDCACHE)
            .map(|device| DiskDevice {
                readonly: true,
                ..device
            })
            .collect();
        devices.extend(self.publishing.publish_devices()?);
        let mut spec = LaunchSpec {
            image: base_image.into(),
            name: instance.into(),
            devices,
            loopback_ports: self.publishing.publish_ports(),
            ..LaunchSpec::default()
        };
        spec.copy_of = Some(self.shifted_base(&spec).await?);
        self.launch(spec).await?;
        let lock = self.run.file("spack.lock");
        let recipe_lock = format!("{}/spack.lock", layout::RECIPE);
        self.lxc
            .push_file(instance, &lock, &recipe_lock, 0o644)
            .await
    }

    /// Runs publish.sh: the binaries, and `beside` (the files and the
    /// artifact id they are published as) when the buildcache is not a
    /// directory of this machine.
    async fn run_publish_script(
        &self,
        instance: &str,
        options: &PublishOptions,
        checked: &CheckedPublish,
        key: Option<&[u8]>,
        beside: Option<(&[PathBuf], &str)>,
    ) -> Result<()> {
        let mut args = vec![
            checked.to.kind().to_string(),
            checked.to.in_instance(layout::PUBLISH),
            options.buildcache.as_str().to_string(),
        ];
        if let Place::S3 {
            endpoint: Some(endpoint),
        } = &checked.to.place
        {
            args.extend(["--endpoint".to_string(), endpoint.url.clone()]);
        }
        if let Some((files, artifact_id)) = beside {
            for file in files {
                let name = file.file_name().expect("artifact files have names");
                let dest = format!("{}/{}", layout::PUBLISH_FILES, name.to_string_lossy());
                self.lxc.push_file(instance, file, &dest, 0o644).await?;
            }
            args.extend([
                "--files".to_string(),
                layout::PUBLISH_FILES.to_string(),
                "--artifact".to_string(),
                artifact_id.to_string(),
            ]);
        }
        // Root-only files publish.sh reads; it removes the key and the
        // login however it ends.
        let key = key.filter(|_| options.buildcache != BuildcacheScope::None);
        let files = [
            ("--key", layout::SIGNING_KEY, key),
            (
                "--credentials",
                layout::REGISTRY_CREDENTIALS,
                checked.credentials.as_deref(),
            ),
            ("--ca", layout::REGISTRY_CA, checked.registry_ca.as_deref()),
        ];
        for (flag, path, bytes) in files {
            if let Some(bytes) = bytes {
                self.lxc.write_private(instance, path, bytes).await?;
                args.extend([flag.to_string(), path.to_string()]);
            }
        }
        let pushed = self
            .script(Stage::Publish, instance, "publish.sh", &args, &mut |_| {})
            .await;
        if pushed.is_err() {
            // publish.sh never ran, or died before its trap was set.
            let rm = [
                "rm",
                "-f",
                layout::SIGNING_KEY,
                layout::REGISTRY_CREDENTIALS,
            ]
            .map(String::from);
            let _ = self.lxc.exec_capture(instance, &rm, &[]).await;
        }
        pushed
    }

    /// The registry login of `--from` (a root-only file install.sh reads
    /// and removes), written just before install.sh runs: not while
    /// `toolchain.sh` compiles.
    pub(super) async fn push_install_login(&self, instance: &str) -> Result<()> {
        match &self.publishing.from_login {
            Some(login) => {
                self.lxc
                    .write_private(instance, layout::FROM_LOGIN, login)
                    .await
            }
            None => Ok(()),
        }
    }

    /// What install.sh needs to install from the `--from` buildcaches, but
    /// the login: the `--trust` keys (for `spack gpg trust`) and the
    /// registry CA.
    pub(super) async fn push_install_from(&self, instance: &str) -> Result<()> {
        for (n, key) in self.publishing.trust.iter().enumerate() {
            let dest = format!("{}/{n}.asc", layout::TRUSTED_KEYS);
            self.lxc.push_file(instance, key, &dest, 0o644).await?;
        }
        if let Some(ca) = &self.publishing.from_ca {
            self.lxc
                .write_private(instance, layout::FROM_REGISTRY_CA, ca)
                .await?;
        }
        Ok(())
    }
}
