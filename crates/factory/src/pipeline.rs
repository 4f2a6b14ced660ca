//! One build, stage by stage: preflight, provision, spack setup, concretize,
//! install, buildcache push, package, verify, export, cleanup.
//!
//! Every stage reports through one [`Emitter`]; every command that runs in a
//! container is a rendered template script started with argv; a
//! [`CancellationToken`] stops the run at any point, after which the
//! instances are deleted and nothing reaches the artifact store.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::artifacts::Store;
use crate::cache::{CacheDirs, Layer, BASE_IMAGE_PREFIX};
use crate::doctor;
use crate::error::{Error, ErrorReport, Result};
use crate::events::{BuildEvent, Outcome, Stage, StageOutcome, Stream};
use crate::layout;
use crate::lxd::{DiskDevice, LaunchSpec, Lxc, StreamKind};
use crate::package::{
    self, Allowlist, ArchiveFormat, Manifest, Sizes, StageTiming, VerifyCheck, VerifyResult,
};
use crate::progress::{self, SpackProgress};
use crate::recipe::{RecipeContext, Rendered, Templates, SPACK_REPO_DIR};
use crate::request::ResolvedRequest;
use crate::runs::{Emitter, RunDir, RunRecord, Sink};
use crate::settings::Settings;
use crate::spack_source::SpackSource;
use crate::units::human_bytes;

/// Instances of a run carry this config key, so leftovers can be found.
pub const RUN_LABEL: &str = "user.slurm-factory.run";

/// Base images carry the alias they were made for, to find duplicates.
const BASE_IMAGE_PROPERTY: &str = "slurm-factory.base-image";

/// Where the verify stage unpacks a package: anywhere but the build prefix.
pub const VERIFY_PREFIX: &str = "/srv/relocated";

/// Everything a build needs besides the settings.
#[derive(Debug, Clone, Serialize)]
pub struct BuildOptions {
    pub request: ResolvedRequest,
    #[serde(flatten)]
    pub flags: BuildFlags,
}

/// The choices of a build besides its request: the CLI's flags, the desktop
/// app's form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BuildFlags {
    /// Keep the build instance when the build fails, for debugging.
    pub keep_on_failure: bool,
    /// No network: Spack, spack-packages and the clingo wheels from the local
    /// copies the settings name (spack_root, spack_packages_root, wheels_dir).
    pub offline: bool,
    /// Run the verify stage (unpack at another prefix in a clean instance).
    pub verify: bool,
    /// Also write a `.tar.gz` for systems without zstd (verify then uses it
    /// where the verify image has no zstd).
    pub gzip: bool,
    pub package: PackageOptions,
}

impl Default for BuildFlags {
    /// What a build does without flags: verified, nothing kept, zstd only.
    fn default() -> BuildFlags {
        BuildFlags {
            keep_on_failure: false,
            offline: false,
            verify: true,
            gzip: false,
            package: PackageOptions::default(),
        }
    }
}

/// What the package keeps besides the runtime tree.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PackageOptions {
    pub keep_headers: bool,
    pub keep_static: bool,
    pub keep_docs: bool,
    /// Leave debug info in the binaries.
    pub no_strip: bool,
    /// Keep the stripped debug info as a second archive, `<name>-debug.tar.zst`.
    pub debug_archive: bool,
}

impl PackageOptions {
    /// relocate.sh's flags for these options.
    fn relocate_args(&self, debug_dir: &str) -> Vec<String> {
        let mut args = Vec::new();
        for (on, flag) in [
            (self.keep_headers, "--keep-headers"),
            (self.keep_static, "--keep-static"),
            (self.keep_docs, "--keep-docs"),
            (self.no_strip, "--no-strip"),
        ] {
            if on {
                args.push(flag.to_string());
            }
        }
        if self.debug_archive && !self.no_strip {
            args.extend(["--debug-tarball-dir".to_string(), debug_dir.to_string()]);
        }
        args
    }
}

/// What a finished build produced.
#[derive(Debug, Clone, Serialize)]
pub struct BuildResult {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub artifact_id: String,
}

/// Runs one build to the end, or until `cancel` fires.
pub async fn build(
    settings: &Settings,
    options: BuildOptions,
    sink: Sink,
    cancel: CancellationToken,
) -> Result<BuildResult> {
    let lxc = Lxc::new(settings);
    let templates = Templates::load(settings.templates_dir.as_deref())?;
    let run = RunDir::create(&settings.runs_dir())?;
    let emitter = Emitter::new(&run, sink)?;
    let mut record = RunRecord {
        id: run.id.clone(),
        artifact_name: options.request.artifact_name(),
        started: jiff::Timestamp::now().to_string(),
        finished: None,
        outcome: None,
        pid: std::process::id(),
        artifact_id: None,
        interrupted: false,
    };
    run.write_json("run.json", &record)?;
    run.write_json("request.json", &options.request)?;
    emitter.emit(BuildEvent::RunStarted {
        run_id: run.id.clone(),
        artifact_name: record.artifact_name.clone(),
        run_dir: run.path.display().to_string(),
        stages: Stage::ALL.to_vec(),
    });

    let mut build = Build {
        settings,
        options: &options,
        lxc,
        templates,
        run: &run,
        emitter: &emitter,
        cancel: &cancel,
        instances: Vec::new(),
        timings: Mutex::new(Vec::new()),
    };
    let result = build.stages().await;
    build.cleanup(result.is_err()).await;

    let outcome = match &result {
        Ok(_) => Outcome::Succeeded,
        Err(Error::Cancelled) => Outcome::Cancelled,
        Err(_) => Outcome::Failed,
    };
    record.finished = Some(jiff::Timestamp::now().to_string());
    record.outcome = Some(outcome);
    record.artifact_id = result.as_ref().ok().cloned();
    run.write_json("run.json", &record)?;
    emitter.emit(BuildEvent::RunFinished {
        outcome,
        elapsed_ms: emitter.elapsed_ms(),
        artifact_id: record.artifact_id.clone(),
        error: result.as_ref().err().map(ErrorReport::from),
    });
    let artifact_id = result?;
    Ok(BuildResult {
        run_id: run.id.clone(),
        run_dir: run.path.clone(),
        artifact_id,
    })
}

struct Build<'a> {
    settings: &'a Settings,
    options: &'a BuildOptions,
    lxc: Lxc,
    templates: Templates,
    run: &'a RunDir,
    emitter: &'a Emitter,
    cancel: &'a CancellationToken,
    /// Instances this run created (or was creating), deleted at cleanup.
    instances: Vec<String>,
    timings: Mutex<Vec<StageTiming>>,
}

/// What a stage reports when it ends well.
struct Done<T> {
    outcome: StageOutcome,
    detail: Option<String>,
    value: T,
}

fn done<T>(value: T) -> Done<T> {
    Done {
        outcome: StageOutcome::Done,
        detail: None,
        value,
    }
}

impl<'a> Build<'a> {
    fn emit(&self, event: BuildEvent) {
        self.emitter.emit(event);
    }

    /// Records one consultation of a cache layer, for `cache::hit_rates`.
    fn cache_use(&self, layer: Layer, hits: u32, lookups: u32) {
        if lookups > 0 {
            self.emit(BuildEvent::CacheUse {
                layer,
                hits,
                lookups,
            });
        }
    }

    /// Wraps one stage: start/finish events, elapsed time, cancellation.
    async fn stage<T>(
        &self,
        stage: Stage,
        work: impl Future<Output = Result<Done<T>>>,
    ) -> Result<T> {
        self.emit(BuildEvent::StageStarted { stage });
        tracing::info!(run = %self.run.id, %stage, "stage started");
        let started = Instant::now();
        let result = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(Error::Cancelled),
            r = work => r,
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        self.timings
            .lock()
            .expect("timings lock")
            .push(StageTiming {
                stage: stage.as_str().into(),
                seconds: elapsed_ms as f64 / 1000.0,
            });
        let (outcome, detail) = match &result {
            Ok(d) => (d.outcome, d.detail.clone()),
            Err(Error::Cancelled) => (StageOutcome::Cancelled, None),
            Err(e) => (StageOutcome::Failed, Some(e.to_string())),
        };
        tracing::info!(run = %self.run.id, %stage, ?outcome, elapsed_ms, "stage finished");
        self.emit(BuildEvent::StageFinished {
            stage,
            outcome,
            elapsed_ms,
            detail,
        });
        result.map(|d| d.value)
    }

    async fn stages(&mut self) -> Result<String> {
        let prepared = self.stage(Stage::Preflight, self.preflight()).await?;
        let rendered = &prepared.rendered;
        let build_instance = self.run_instance_name("build");
        // The base image's prep instance too: a cancel drops provision mid-way.
        self.instances.push(self.run_instance_name("prep"));
        self.instances.push(build_instance.clone());
        self.stage(Stage::Provision, self.provision(&prepared, &build_instance))
            .await?;
        self.stage(
            Stage::SpackSetup,
            self.spack_setup(rendered, &build_instance),
        )
        .await?;
        let to_build = self
            .stage(
                Stage::Concretize,
                self.concretize(&prepared, &build_instance),
            )
            .await?;
        self.stage(Stage::Install, self.install(&build_instance, to_build))
            .await?;
        self.stage(
            Stage::BuildcachePush,
            self.buildcache_push(rendered, &build_instance),
        )
        .await?;
        let staged = self
            .stage(Stage::Package, self.package(&build_instance))
            .await?;
        let verify_instance = self.run_instance_name("verify");
        if self.options.flags.verify {
            self.instances.push(verify_instance.clone());
        }
        let staged = self
            .stage(Stage::Verify, self.verify(staged, &verify_instance))
            .await?;
        self.stage(Stage::Export, self.export(staged)).await
    }

    fn run_instance_name(&self, role: &str) -> String {
        format!("sf-{role}-{}", self.run.id)
    }

    async fn preflight(&self) -> Result<Done<Prepared>> {
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
            let join = |part: &dyn Fn(&doctor::Check) -> String| {
                failed
                    .iter()
                    .map(|c| part(c))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            return Err(Error::NotReady {
                failures: join(&|c| format!("{}: {}", c.title, c.detail)),
                fixes: join(&|c| c.hint.clone()),
            });
        }
        recover_interrupted(self.settings, &self.lxc).await?;
        for image in [&self.settings.image, &self.settings.verify_image] {
            // Remote images (`ubuntu:24.04`) are fetched by LXD at launch.
            if !image.contains(':') && !self.lxc.image_exists(image).await? {
                return Err(Error::ImageNotFound {
                    image: image.clone(),
                });
            }
        }
        let ctx = RecipeContext::new(
            &self.options.request,
            self.settings,
            self.options.flags.offline,
        );
        let rendered = self.templates.render(&ctx)?;
        rendered.write_to(&self.run.file("recipe"))?;
        // Offline: the local trees are checked (and digested for the cache
        // keys) before anything is launched.
        let source = SpackSource::from_settings(self.settings, self.options.flags.offline)?;
        let base_alias = {
            let settings = self.settings.clone();
            let (source, rendered) = (source.clone(), rendered.clone());
            tokio::task::spawn_blocking(move || base_image_alias(&settings, &source, &rendered))
                .await
                .expect("the digest task does not panic")?
        };
        Ok(Done {
            outcome: StageOutcome::Done,
            detail: Some(format!("{} files rendered", rendered.files.len())),
            value: Prepared {
                rendered,
                source,
                base_alias,
            },
        })
    }

    /// Reuses a base image keyed by the hash of what went into it, else
    /// prepares one; then launches the build instance with the cache layers.
    async fn provision(&self, prepared: &Prepared, instance: &str) -> Result<Done<()>> {
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
        let cache = CacheDirs::new(self.settings);
        cache.create()?;
        let out = self.run.file("out");
        std::fs::create_dir_all(&out).map_err(|e| Error::io("creating", &out, e))?;
        let mut devices = cache.devices();
        devices.push(DiskDevice {
            name: "sf-out".into(),
            source: out,
            path: layout::OUT.into(),
            readonly: false,
        });
        self.lxc
            .launch(&LaunchSpec {
                image: alias.clone(),
                name: instance.into(),
                storage_pool: Some(self.settings.storage_pool.clone()),
                config: self.instance_config()?,
                devices,
                ephemeral: false,
            })
            .await?;
        self.push_recipe(instance).await?;
        let detail = if cached {
            format!("base image {alias} reused")
        } else {
            format!("base image {alias} prepared")
        };
        Ok(Done {
            outcome: if cached {
                StageOutcome::Cached
            } else {
                StageOutcome::Done
            },
            detail: Some(detail),
            value: (),
        })
    }

    /// The config keys every instance of this run carries.
    fn labels(&self) -> Vec<(String, String)> {
        vec![(RUN_LABEL.into(), self.run.id.clone())]
    }

    fn instance_config(&self) -> Result<Vec<(String, String)>> {
        let mut config = self.labels();
        // Lets the container's root write the host's cache dirs as the host user.
        config.push(crate::lxd::current_user_idmap()?);
        Ok(config)
    }

    async fn prepare_base_image(
        &self,
        prep: &str,
        alias: &str,
        source: &SpackSource,
    ) -> Result<()> {
        self.lxc
            .launch(&LaunchSpec {
                image: self.settings.image.clone(),
                name: prep.into(),
                storage_pool: Some(self.settings.storage_pool.clone()),
                config: self.labels(),
                devices: Vec::new(),
                ephemeral: false,
            })
            .await?;
        self.push_recipe(prep).await?;
        // Offline: each local tree lands at its layout path, whatever it is called.
        for push in source.pushes() {
            self.lxc
                .push_tree_as(prep, &push.local, push.remote, &self.run.path)
                .await?;
        }
        self.script(Stage::Provision, prep, "provision.sh", &[], &mut |_| {})
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

    async fn push_recipe(&self, instance: &str) -> Result<()> {
        self.lxc
            .push_tree(
                instance,
                &self.run.file("recipe"),
                parent_of(layout::RECIPE),
            )
            .await
    }

    /// Runs `scripts/<name>` from the pushed recipe, streaming its output.
    async fn script(
        &self,
        stage: Stage,
        instance: &str,
        name: &str,
        args: &[String],
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<()> {
        let mut argv = vec![
            "bash".to_string(),
            format!("{}/scripts/{name}", layout::RECIPE),
        ];
        argv.extend(args.iter().cloned());
        let last_lines = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let code = self
            .lxc
            .exec(
                instance,
                &argv,
                &[],
                |stream, line| {
                    on_line(&line);
                    if let Some((layer, hits, lookups)) = progress::parse_cache_protocol(&line) {
                        self.cache_use(layer, hits, lookups);
                    }
                    let mut tail = last_lines.lock().expect("tail lock");
                    if tail.len() == 5 {
                        tail.pop_front();
                    }
                    tail.push_back(line.clone());
                    self.emit(BuildEvent::Log {
                        stage,
                        stream: match stream {
                            StreamKind::Stdout => Stream::Stdout,
                            StreamKind::Stderr => Stream::Stderr,
                        },
                        line,
                    });
                },
                self.cancel,
            )
            .await?;
        if code != 0 {
            let tail: Vec<String> = last_lines
                .lock()
                .expect("tail lock")
                .iter()
                .cloned()
                .collect();
            return Err(Error::BuildFailed {
                stage: stage.as_str().into(),
                message: format!(
                    "{name} exited with {code}; last output: {}",
                    tail.join(" | ")
                ),
                log: self.run.file("build.log"),
            });
        }
        Ok(())
    }

    /// Runs one fixed command (no script) in the instance; a non-zero exit fails `stage`.
    async fn exec_checked(&self, stage: Stage, instance: &str, argv: &[String]) -> Result<()> {
        let code = self
            .lxc
            .exec(instance, argv, &[], |_, _| {}, self.cancel)
            .await?;
        if code != 0 {
            return Err(Error::BuildFailed {
                stage: stage.as_str().into(),
                message: format!("`{}` exited with {code}", argv.join(" ")),
                log: self.run.file("build.log"),
            });
        }
        Ok(())
    }

    async fn spack_setup(&self, rendered: &Rendered, instance: &str) -> Result<Done<()>> {
        self.script(
            Stage::SpackSetup,
            instance,
            "spack-setup.sh",
            &[],
            &mut |_| {},
        )
        .await?;
        // `spack-gcc` builds first build the compiler every package is built with.
        if rendered.files.contains_key("scripts/toolchain.sh") {
            self.script(
                Stage::SpackSetup,
                instance,
                "toolchain.sh",
                &[],
                &mut |_| {},
            )
            .await?;
        }
        Ok(done(()))
    }

    /// Solves the environment, or hands concretize.sh the lock of a
    /// byte-identical environment solved before (Spack installs from a lock
    /// without solving again).
    async fn concretize(&self, prepared: &Prepared, instance: &str) -> Result<Done<u32>> {
        let key = lock_key(&prepared.base_alias, &prepared.rendered);
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
            return Ok(Done {
                outcome: StageOutcome::Cached,
                detail: Some(format!("spack.lock reused ({key})")),
                value: 0,
            });
        }
        std::fs::copy(&local_lock, &cached_lock)
            .map_err(|e| Error::io("caching spack.lock", &cached_lock, e))?;
        let (to_build, present) = progress::concretize_counts(&output);
        Ok(Done {
            outcome: StageOutcome::Done,
            detail: Some(format!("{to_build} specs to build, {present} present")),
            value: to_build,
        })
    }

    async fn install(&self, instance: &str, to_build: u32) -> Result<Done<()>> {
        let mut spack = SpackProgress::new();
        if to_build > 0 {
            self.emit(BuildEvent::Progress {
                stage: Stage::Install,
                done: 0,
                total: to_build,
                label: String::new(),
            });
        }
        let result = self
            .script(Stage::Install, instance, "install.sh", &[], &mut |line| {
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
        if result.is_err() && !spack.fetch_failures().is_empty() {
            return Err(self.sources_missing(spack.fetch_failures()));
        }
        result?;
        let detail = match (cached, built) {
            (0, 0) => None,
            (cached, built) => Some(format!("{cached} from buildcache, {built} built")),
        };
        Ok(Done {
            outcome: StageOutcome::Done,
            detail,
            value: (),
        })
    }

    /// Spack's fetch errors as one error that names each package, where
    /// Spack looked (as host paths where a cache layer is behind them) and
    /// the file the mirror layer should hold.
    fn sources_missing(&self, failures: &[progress::FetchFailure]) -> Error {
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

    async fn buildcache_push(&self, rendered: &Rendered, instance: &str) -> Result<Done<()>> {
        if !rendered.files.contains_key("scripts/buildcache-push.sh") {
            return Ok(Done {
                outcome: StageOutcome::Skipped,
                detail: Some("the recipe has no buildcache-push.sh".into()),
                value: (),
            });
        }
        self.script(
            Stage::BuildcachePush,
            instance,
            "buildcache-push.sh",
            &[],
            &mut |_| {},
        )
        .await?;
        Ok(done(()))
    }

    /// The package script relocates the runtime tree into the host-mounted
    /// output dir; the host then checks every ELF file and archives it.
    async fn package(&self, instance: &str) -> Result<Done<Staged>> {
        let req = &self.options.request;
        let name = req.artifact_name();
        let dest = format!("{}/{name}", layout::OUT);
        let mut args: Vec<String> = vec![
            "--build-prefix".into(),
            layout::STORE.into(),
            "--report".into(),
            format!("{}/leftovers.txt", layout::OUT),
        ];
        for lib in package::driver_libraries(gpu_vendor(req)) {
            args.extend(["--allow-system".to_string(), lib.to_string()]);
        }
        let debug_name = format!("{name}-debug");
        args.extend(
            self.options
                .flags
                .package
                .relocate_args(&format!("{}/{debug_name}", layout::OUT)),
        );
        args.extend([layout::VIEW.to_string(), dest.clone()]);
        self.script(Stage::Package, instance, "package.sh", &args, &mut |_| {})
            .await?;
        // Rendered package files (config examples, systemd units) go in as they are.
        self.exec_checked(
            Stage::Package,
            instance,
            &[
                "cp".into(),
                "-r".into(),
                format!("{}/package/.", layout::RECIPE),
                format!("{dest}/"),
            ],
        )
        .await?;
        // The rendered modules travel inside the package, one tree per module system:
        // `module use <prefix>/modules/lmod` (or `modules/tcl`), then `module load slurm`.
        for (rendered_name, packaged) in
            [("slurm.lua", "lmod/slurm.lua"), ("slurm.tcl", "tcl/slurm")]
        {
            self.exec_checked(
                Stage::Package,
                instance,
                &[
                    "install".into(),
                    "-D".into(),
                    "-m644".into(),
                    format!("{}/modules/{rendered_name}", layout::RECIPE),
                    format!("{dest}/modules/{packaged}"),
                ],
            )
            .await?;
        }
        let tree = self.run.file("out").join(&name);
        let allow = Allowlist::for_gpu(gpu_vendor(req));
        let inspection = package::inspect(&tree, &[layout::STORE, layout::VIEW], &allow)?;
        for w in &inspection.warnings {
            self.emit(BuildEvent::Warning {
                stage: Stage::Package,
                message: w.to_string(),
            });
        }
        if !inspection.problems.is_empty() {
            let problems: Vec<String> = inspection.problems.iter().map(|p| p.to_string()).collect();
            let log = self.run.file("inspection.log");
            crate::fsutil::write_atomic(&log, problems.join("\n").as_bytes())?;
            return Err(Error::VerifyFailed {
                problems: problems.join("; "),
                log,
            });
        }
        let staging = self.run.file("staging");
        std::fs::create_dir_all(&staging).map_err(|e| Error::io("creating", &staging, e))?;
        let mut formats = vec![ArchiveFormat::TarZst];
        if self.options.flags.gzip {
            formats.push(ArchiveFormat::TarGz);
        }
        let mut archives = package::archive(&tree, &staging, &name, &formats)?;
        let debug_tree = self.run.file("out").join(&debug_name);
        if debug_tree.is_dir() {
            archives.extend(package::archive(
                &debug_tree,
                &staging,
                &debug_name,
                &[ArchiveFormat::TarZst],
            )?);
        }
        let unpacked = package::tree_size(&tree);
        let detail = format!(
            "{} ELF files relocated; {} unpacked, {} as .tar.zst",
            inspection.elf_files,
            human_bytes(unpacked),
            human_bytes(archives[0].bytes)
        );
        Ok(Done {
            outcome: StageOutcome::Done,
            detail: Some(detail),
            value: Staged {
                dir: staging,
                archives,
                unpacked,
                inspection,
                verify: None,
            },
        })
    }

    /// Unpacks the archive at another prefix in a clean instance and runs
    /// the recipe's checks there.
    async fn verify(&self, mut staged: Staged, instance: &str) -> Result<Done<Staged>> {
        if !self.options.flags.verify {
            return Ok(Done {
                outcome: StageOutcome::Skipped,
                detail: Some("--no-verify".into()),
                value: staged,
            });
        }
        self.lxc
            .launch(&LaunchSpec {
                image: self.settings.verify_image.clone(),
                name: instance.into(),
                storage_pool: Some(self.settings.storage_pool.clone()),
                config: self.labels(),
                devices: Vec::new(),
                ephemeral: false,
            })
            .await?;
        self.push_recipe(instance).await?;
        // The target may lack zstd (a bare server): then only a .tar.gz unpacks there.
        let probe = ["sh", "-c", "command -v zstd"].map(String::from);
        let has_zstd = self.lxc.exec_capture(instance, &probe, &[]).await?.status == 0;
        let archive = if has_zstd {
            &staged.archives[0]
        } else {
            staged
                .archives
                .iter()
                .find(|a| a.format == ArchiveFormat::TarGz)
                .ok_or_else(|| Error::VerifyImageWithoutZstd {
                    image: self.settings.verify_image.clone(),
                })?
        };
        let remote_archive = format!("/tmp/{}", file_name(&archive.path));
        self.lxc
            .push_file(instance, &archive.path, &remote_archive, 0o644)
            .await?;
        let mut checks = Vec::new();
        let mut log_text = String::new();
        let mut since_last_check: Vec<String> = Vec::new();
        let result = self
            .script(
                Stage::Verify,
                instance,
                "verify.sh",
                &[remote_archive, VERIFY_PREFIX.to_string()],
                &mut |line| {
                    log_text.push_str(line);
                    log_text.push('\n');
                    match line.strip_prefix("::check ") {
                        Some(rest) => {
                            let (status, name) = rest.split_once(' ').unwrap_or((rest, ""));
                            checks.push(VerifyCheck {
                                name: name.to_string(),
                                passed: status == "pass",
                                output: since_last_check.join("\n"),
                            });
                            since_last_check.clear();
                        }
                        None if since_last_check.len() < 40 => {
                            since_last_check.push(line.to_string())
                        }
                        None => {}
                    }
                },
            )
            .await;
        crate::fsutil::write_atomic(
            &staged.dir.join(crate::artifacts::VERIFY_LOG),
            log_text.as_bytes(),
        )?;
        let passed = result.is_ok() && checks.iter().all(|c| c.passed);
        staged.verify = Some(VerifyResult {
            passed,
            checks: checks.clone(),
        });
        let log = self.run.file("build.log");
        match result {
            Err(Error::BuildFailed { message, .. }) => Err(Error::VerifyFailed {
                problems: message,
                log,
            }),
            Err(e) => Err(e),
            Ok(()) if !passed => Err(Error::VerifyFailed {
                problems: checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| c.name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
                log,
            }),
            Ok(()) => Ok(Done {
                outcome: StageOutcome::Done,
                detail: Some(format!(
                    "{} checks passed at {}{}",
                    checks.len(),
                    VERIFY_PREFIX,
                    if has_zstd {
                        ""
                    } else {
                        " (from the .tar.gz: the verify image has no zstd)"
                    }
                )),
                value: staged,
            }),
        }
    }

    async fn export(&self, staged: Staged) -> Result<Done<String>> {
        let req = &self.options.request;
        let spack_lock = self.run.file("spack.lock");
        let mut manifest = Manifest {
            name: req.artifact_name(),
            slurm_version: req.slurm.name.clone(),
            spack_version: req.slurm.spack.clone(),
            spack_release: Some(self.settings.spack_ref.clone()),
            package_type: req.package_type.label().into(),
            target: req.target.clone(),
            gpu: gpu_vendor(req).map(String::from),
            gpu_arch: (!req.gpu_arch.is_empty()).then(|| req.gpu_arch.join(",")),
            created: jiff::Timestamp::now(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            build_prefix: layout::STORE.into(),
            request: serde_json::to_value(req).expect("requests serialize"),
            spack_lock_sha256: spack_lock
                .is_file()
                .then(|| package::sha256_file(&spack_lock))
                .transpose()?,
            sizes: Sizes {
                unpacked: staged.unpacked,
                ..Default::default()
            },
            archives: Vec::new(),
            stages: self.timings.lock().expect("timings lock").clone(),
            verify: staged.verify.clone(),
            inspection: staged.inspection.summary(),
        };
        manifest.set_archives(&staged.archives);
        manifest.write_atomic(&staged.dir.join(package::MANIFEST_FILE))?;
        let store = Store::new(self.settings.artifacts_dir());
        let artifact = store.add(&staged.dir)?;
        Ok(Done {
            outcome: StageOutcome::Done,
            detail: Some(format!("artifact {}", artifact.id)),
            value: artifact.id,
        })
    }

    /// Deletes the run's instances (kept on failure with `--keep`) and its
    /// staging files; runs even after a failure or a cancel.
    async fn cleanup(&mut self, failed: bool) {
        self.emit(BuildEvent::StageStarted {
            stage: Stage::Cleanup,
        });
        let started = Instant::now();
        let keep = failed && self.options.flags.keep_on_failure && !self.cancel.is_cancelled();
        let mut notes = Vec::new();
        for name in &self.instances {
            if keep {
                notes.push(format!(
                    "kept {name}: `lxc exec {name} -- bash` to look inside"
                ));
                continue;
            }
            if let Err(e) = self.lxc.delete(name).await {
                self.emit(BuildEvent::Warning {
                    stage: Stage::Cleanup,
                    message: format!("could not delete instance {name}: {e}"),
                });
            }
        }
        for dir in ["staging", "out"] {
            let _ = std::fs::remove_dir_all(self.run.file(dir));
        }
        self.emit(BuildEvent::StageFinished {
            stage: Stage::Cleanup,
            outcome: StageOutcome::Done,
            elapsed_ms: started.elapsed().as_millis() as u64,
            detail: (!notes.is_empty()).then(|| notes.join("; ")),
        });
    }
}

/// What preflight hands on: the rendered recipe, where Spack comes from and
/// the base image that fits them.
struct Prepared {
    rendered: Rendered,
    source: SpackSource,
    base_alias: String,
}

struct Staged {
    dir: PathBuf,
    archives: Vec<package::ArchiveFile>,
    unpacked: u64,
    inspection: package::Inspection,
    verify: Option<VerifyResult>,
}

fn gpu_vendor(req: &ResolvedRequest) -> Option<&'static str> {
    match req.package_type {
        crate::request::PackageType::Gpu(v) => Some(v.as_str()),
        _ => None,
    }
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
fn lock_key(base_alias: &str, rendered: &Rendered) -> String {
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

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map(|(p, _)| p).unwrap_or("/")
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Finds instances whose run's driver process is gone (killed, crashed,
/// machine rebooted) and deletes them; marks those runs interrupted.
pub async fn recover_interrupted(settings: &Settings, lxc: &Lxc) -> Result<Vec<String>> {
    let runs_root = settings.runs_dir();
    let mut removed = Vec::new();
    let mut by_run: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for inst in lxc.instances().await? {
        if let Some(run_id) = inst.user.get(RUN_LABEL) {
            by_run.entry(run_id.clone()).or_default().push(inst.name);
        }
    }
    for (run_id, names) in by_run {
        // A run this data dir does not know belongs to another data dir (another
        // user, a test, a second config) that may be building right now: not ours.
        let Ok(dir) = RunDir::open(&runs_root, &run_id) else {
            tracing::debug!("instances {names:?} belong to run {run_id} of another data dir");
            continue;
        };
        let record = dir.record().map(|rec| (dir, rec));
        if record.as_ref().is_ok_and(|(_, rec)| rec.driver_alive()) {
            continue;
        }
        for name in names {
            lxc.delete(&name).await?;
            removed.push(name);
        }
        if let Ok((dir, mut rec)) = record {
            if rec.outcome.is_none() {
                rec.interrupted = true;
                rec.outcome = Some(Outcome::Failed);
                dir.write_json("run.json", &rec)?;
            }
        }
    }
    Store::new(settings.artifacts_dir()).clean_incoming()?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_splits_container_paths() {
        assert_eq!(parent_of("/opt/slurm-factory/recipe"), "/opt/slurm-factory");
    }
}
