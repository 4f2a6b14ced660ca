//! One build, stage by stage: preflight, provision, spack setup, concretize,
//! sources, install, buildcache push, package, verify, export, cleanup; and
//! `mirror check` / `mirror create`, which stop after the sources stage.
//!
//! Every stage reports through one [`Emitter`]; every command that runs in a
//! container is a rendered template script started with argv; a
//! [`CancellationToken`] stops the run at any point, after which the
//! instances are deleted and nothing reaches the artifact store.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::artifacts::Store;
use crate::cache::CacheDirs;
use crate::doctor;
use crate::error::{Error, ErrorReport, Result};
use crate::events::BuildEvent;
use crate::kinds::{Layer, Outcome, Stage, StageOutcome};
use crate::layout;
use crate::lxd::{DiskDevice, LaunchSpec, Lxc};
use crate::mirror::OfflineTrees;
use crate::package::{
    Allowlist, ArchiveFormat, Manifest, Sizes, StageTiming, VerifyCheck, VerifyResult,
};
use crate::progress::{self, SpackProgress};
use crate::publish::{BuildcacheUrl, CheckedPublish, Place, PublishOptions};
use crate::recipe::{RecipeContext, Rendered, Templates};
use crate::request::ResolvedRequest;
use crate::runs::{Emitter, RunDir, RunRecord, Sink};
use crate::settings::Settings;
use crate::sources::SourcesReport;
use crate::spack_source::SpackSource;
use crate::units::human_bytes;
use remote::Way;

mod buildcache_push;
mod cleanup;
mod concretize;
mod export;
mod install;
mod package;
mod preflight;
mod provision;
mod publish;
mod remote;
mod sources;
mod spack_setup;
mod verify;

/// Base images carry the alias they were made for, to find duplicates.
const BASE_IMAGE_PROPERTY: &str = "slurm-factory.base-image";

/// Whether `text` reports ENOSPC, as every tool words it (`strerror`), in
/// any case. Runs on every log line, so without allocating.
fn says_no_space(text: &str) -> bool {
    const NO_SPACE: &[u8] = b"no space left on device";
    text.as_bytes()
        .windows(NO_SPACE.len())
        .any(|w| w.eq_ignore_ascii_case(NO_SPACE))
}

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
    /// Also write a `.tar.gz` for systems without zstd (written anyway when
    /// the verify image has no zstd, and verified then).
    pub gzip: bool,
    pub package: PackageOptions,
    /// Publish the build once it is stored (`--publish`).
    #[serde(default)]
    pub publish: Option<PublishOptions>,
    /// Buildcaches Spack installs from besides the local one (`--from URL`).
    #[serde(default)]
    pub install_from: Vec<String>,
    /// Public key files: with any, the `install_from` buildcaches must be
    /// signed by one of them (`--trust FILE`).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Vec<String>"))]
    pub trust: Vec<PathBuf>,
    /// The login of the `install_from` OCI registries or S3 buckets: a file
    /// of `username=` and `password=` lines, or an S3 key as in
    /// `~/.aws/credentials` (`--from-credentials FILE`).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<String>"))]
    pub from_credentials: Option<PathBuf>,
    /// A CA certificate (PEM) their TLS certificates are signed by.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<String>"))]
    pub from_registry_ca: Option<PathBuf>,
    /// The S3 endpoint of the `s3://` `install_from` buckets (none: Amazon S3).
    #[serde(default)]
    pub from_s3_endpoint: Option<String>,
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
            publish: None,
            install_from: Vec::new(),
            trust: Vec::new(),
            from_credentials: None,
            from_registry_ca: None,
            from_s3_endpoint: None,
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
    /// How the Lmod modules are laid out in the package.
    #[serde(default)]
    pub modules: crate::recipe::ModuleLayout,
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

/// What `mirror check` and `mirror create` found.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MirrorResult {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub sources: SourcesReport,
    /// `mirror create`: where the snapshot of Spack, spack-packages and the
    /// wheels now lives (the settings name it).
    pub offline: Option<OfflineTrees>,
}

/// What a run does with the solved environment.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Job {
    Build,
    /// Lists the closure's sources and checks the mirror layer for them.
    MirrorCheck,
    /// Fills the mirror layer, snapshots the trees and points the settings
    /// in this config file at the snapshot; then checks.
    MirrorCreate {
        config: PathBuf,
    },
    /// Installs a stored artifact's environment again (from the buildcache)
    /// and publishes it (`slurm-factory publish ID`).
    Publish {
        artifact_id: String,
    },
}

impl Job {
    fn stages(&self) -> Vec<Stage> {
        match self {
            Job::Build => Stage::ALL.to_vec(),
            Job::MirrorCheck | Job::MirrorCreate { .. } => vec![
                Stage::Preflight,
                Stage::Provision,
                Stage::SpackSetup,
                Stage::Concretize,
                Stage::Sources,
                Stage::Cleanup,
            ],
            Job::Publish { .. } => vec![
                Stage::Preflight,
                Stage::Provision,
                Stage::SpackSetup,
                Stage::Concretize,
                Stage::Sources,
                Stage::Install,
                Stage::Publish,
                Stage::Cleanup,
            ],
        }
    }

    /// The run's name in listings.
    fn run_name(&self, artifact_name: String) -> String {
        match self {
            Job::Build => artifact_name,
            Job::MirrorCheck => format!("mirror check {artifact_name}"),
            Job::MirrorCreate { .. } => format!("mirror create {artifact_name}"),
            Job::Publish { artifact_id } => format!("publish {artifact_id}"),
        }
    }
}

/// What a run produced.
enum Output {
    Artifact(String),
    Mirror(SourcesReport, Option<OfflineTrees>),
}

/// Runs one build to the end, or until `cancel` fires.
pub async fn build(
    settings: &Settings,
    options: BuildOptions,
    sink: Sink,
    cancel: CancellationToken,
) -> Result<BuildResult> {
    let (run, output) = run_job(settings, options, Job::Build, sink, cancel).await?;
    let Output::Artifact(artifact_id) = output else {
        unreachable!("a build ends with an artifact")
    };
    Ok(BuildResult {
        run_id: run.id,
        run_dir: run.path,
        artifact_id,
    })
}

/// Publishes the stored artifact `artifact_id` as `build --publish` would
/// have: its request is solved and installed again in a build instance
/// (from the buildcache: nothing compiled while the buildcache holds its
/// binaries), then the publish stage runs with the stored archives.
pub async fn publish(
    settings: &Settings,
    artifact_id: &str,
    publish: PublishOptions,
    offline: bool,
    sink: Sink,
    cancel: CancellationToken,
) -> Result<BuildResult> {
    let artifact = Store::new(settings.artifacts_dir()).show(artifact_id)?;
    let request = crate::request::recorded_request(&artifact.manifest.request)
        .map_err(|message| Error::ManifestMalformed {
            path: artifact.dir.join(crate::package::MANIFEST_FILE),
            message: format!("its request: {message}"),
        })?
        .resolve(&crate::request::Defaults::for_host().with_settings(settings)?)?;
    let options = BuildOptions {
        request,
        flags: BuildFlags {
            offline,
            verify: false,
            publish: Some(publish),
            ..BuildFlags::default()
        },
    };
    let job = Job::Publish {
        artifact_id: artifact_id.into(),
    };
    let (run, output) = run_job(settings, options, job, sink, cancel).await?;
    let Output::Artifact(artifact_id) = output else {
        unreachable!("a publish ends with its artifact")
    };
    Ok(BuildResult {
        run_id: run.id,
        run_dir: run.path,
        artifact_id,
    })
}

/// Solves the request (as a build would, in a build instance) and checks the
/// mirror layer for every source of the closure; nothing is built.
pub async fn mirror_check(
    settings: &Settings,
    options: BuildOptions,
    sink: Sink,
    cancel: CancellationToken,
) -> Result<MirrorResult> {
    mirror_job(settings, options, Job::MirrorCheck, sink, cancel).await
}

/// Solves the request and fills the mirror layer with its sources (`spack
/// mirror create`), snapshots the Spack and spack-packages trees and the
/// clingo wheels under `<data_dir>/offline`, writes the offline settings to
/// the config file at `config`, and checks what the mirror still lacks.
pub async fn mirror_create(
    settings: &Settings,
    options: BuildOptions,
    config: &Path,
    sink: Sink,
    cancel: CancellationToken,
) -> Result<MirrorResult> {
    let job = Job::MirrorCreate {
        config: config.to_path_buf(),
    };
    mirror_job(settings, options, job, sink, cancel).await
}

async fn mirror_job(
    settings: &Settings,
    options: BuildOptions,
    job: Job,
    sink: Sink,
    cancel: CancellationToken,
) -> Result<MirrorResult> {
    let (run, output) = run_job(settings, options, job, sink, cancel).await?;
    let Output::Mirror(sources, offline) = output else {
        unreachable!("a mirror job ends with a source report")
    };
    Ok(MirrorResult {
        run_id: run.id,
        run_dir: run.path,
        sources,
        offline,
    })
}

/// One run of `job`: its run dir and record, its events, its stages and
/// the cleanup that follows whatever happened.
async fn run_job(
    settings: &Settings,
    options: BuildOptions,
    job: Job,
    sink: Sink,
    cancel: CancellationToken,
) -> Result<(RunDir, Output)> {
    let templates = Templates::load(settings.templates_dir.as_deref())?;
    // A toolchain brings its own build and verify images.
    let toolchain = templates.toolchain_of(&options.request)?;
    let settings = &settings.with_toolchain(toolchain.as_ref())?;
    let lxc = settings.lxc();
    // Bad input fails here, before the run leaves anything behind.
    let publishing = Publishing::check(&options.flags, &lxc)?;
    let run = RunDir::create(&settings.runs_dir())?;
    let emitter = Emitter::new(&run, sink)?;
    let mut record = RunRecord {
        id: run.id.clone(),
        artifact_name: job.run_name(options.request.artifact_name()),
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
        stages: job.stages(),
        lxd_remote: settings.lxd_remote.clone(),
    });

    let mut build = Build {
        settings,
        options: &options,
        job: &job,
        lxc,
        templates,
        toolchain,
        publishing,
        run: &run,
        emitter: &emitter,
        cancel: &cancel,
        instances: Vec::new(),
        timings: Mutex::new(Vec::new()),
        lxd_pid: None,
        wrote_to_full_disk: std::sync::atomic::AtomicBool::new(false),
    };
    build.lxd_pid = build
        .lxc
        .server_info()
        .await
        .ok()
        .map(|info| info.environment.server_pid);
    let result = build.stages().await;
    build.cleanup(result.is_err()).await;

    let outcome = match &result {
        Ok(_) => Outcome::Succeeded,
        Err(Error::Cancelled) => Outcome::Cancelled,
        Err(_) => Outcome::Failed,
    };
    record.finished = Some(jiff::Timestamp::now().to_string());
    record.outcome = Some(outcome);
    record.artifact_id = match &result {
        Ok(Output::Artifact(id)) => Some(id.clone()),
        _ => None,
    };
    run.write_json("run.json", &record)?;
    emitter.emit(BuildEvent::RunFinished {
        outcome,
        elapsed_ms: emitter.elapsed_ms(),
        artifact_id: record.artifact_id.clone(),
        error: result.as_ref().err().map(ErrorReport::from),
    });
    let output = result?;
    Ok((run, output))
}

struct Build<'a> {
    settings: &'a Settings,
    options: &'a BuildOptions,
    job: &'a Job,
    lxc: Lxc,
    templates: Templates,
    /// The request's toolchain, read from the templates once.
    toolchain: Option<crate::toolchain::Toolchain>,
    publishing: Publishing,
    run: &'a RunDir,
    emitter: &'a Emitter,
    cancel: &'a CancellationToken,
    /// Instances this run created (or was creating), deleted at cleanup.
    instances: Vec<String>,
    timings: Mutex<Vec<StageTiming>>,
    /// The LXD daemon's pid when the run began (`Some(0)`: reachable, pid not
    /// shown; `None`: not reachable then), to tell a stage broken by a daemon
    /// restart from one that failed on its own.
    lxd_pid: Option<u32>,
    /// The running stage printed `No space left on device` (ENOSPC).
    wrote_to_full_disk: std::sync::atomic::AtomicBool,
}

/// What a stage reports when it ends well.
struct Done<T> {
    outcome: StageOutcome,
    detail: Option<String>,
    value: T,
}

impl<T> Done<T> {
    /// The stage did its work.
    fn new(value: T) -> Done<T> {
        Done {
            outcome: StageOutcome::Done,
            detail: None,
            value,
        }
    }

    /// The stage reused a cached result.
    fn cached(value: T) -> Done<T> {
        Done {
            outcome: StageOutcome::Cached,
            ..Done::new(value)
        }
    }

    /// The stage was not needed, and why.
    fn skipped(value: T, why: impl Into<String>) -> Done<T> {
        Done {
            outcome: StageOutcome::Skipped,
            ..Done::new(value)
        }
        .detail(why)
    }

    /// One line on what the stage did, for the stage list.
    fn detail(self, detail: impl Into<String>) -> Done<T> {
        Done {
            detail: Some(detail.into()),
            ..self
        }
    }
}

impl<'a> Build<'a> {
    fn emit(&self, event: BuildEvent) {
        self.emitter.emit(event);
    }

    /// A line of the engine's own in `stage`'s log (stdout).
    fn log(&self, stage: Stage, line: &str) {
        self.emit(BuildEvent::Log {
            stage,
            stream: crate::kinds::Stream::Stdout,
            line: line.into(),
        });
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
        self.wrote_to_full_disk.store(false, Ordering::Relaxed);
        let started = Instant::now();
        let result = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(Error::Cancelled),
            r = work => r,
        };
        let result = match result {
            Err(e) => Err(self.explain_failure(stage, e).await),
            ok => ok,
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

    /// A failed stage, told by its cause where the environment is to blame,
    /// whatever the step itself printed (a tar cut short, a broken websocket):
    /// a full host directory, a full storage pool, or LXD gone. Errors that
    /// already name their cause pass through.
    async fn explain_failure(&self, stage: Stage, err: Error) -> Error {
        if matches!(
            err,
            Error::Cancelled
                | Error::DiskFull { .. }
                | Error::RanOutOfDisk { .. }
                | Error::PoolFull { .. }
                | Error::LxdLost { .. }
        ) {
            return err;
        }
        if let Some(full) = self.host_disk_full(stage, &err) {
            return full;
        }
        if let Some(full) = self.pool_full(stage, &err).await {
            return full;
        }
        self.lxd_lost(stage, &err).await.unwrap_or(err)
    }

    /// A directory the build writes to (cache, artifacts, runs) has nearly
    /// no room left: the user is told which disk to free.
    fn host_disk_full(&self, stage: Stage, err: &Error) -> Option<Error> {
        // Less than this left and a failed write is the likely cause.
        const FULL_BELOW: u64 = 8 * 1024 * 1024;
        let dirs = [
            self.settings.cache_dir.clone(),
            self.settings.artifacts_dir(),
            self.settings.runs_dir(),
        ];
        dirs.iter().find_map(|dir| {
            let path = crate::fsutil::nearest_existing(dir);
            let bytes = fs4::available_space(&path).ok()?;
            (bytes < FULL_BELOW).then(|| Error::RanOutOfDisk {
                stage,
                path,
                available_mib: bytes / (1024 * 1024),
                cause: err.to_string(),
            })
        })
    }

    /// The stage wrote to a full disk that is none of the host's
    /// directories: the instance's, on its storage pool. Told with the
    /// pool's use, as `lxc storage info` shows it.
    async fn pool_full(&self, stage: Stage, err: &Error) -> Option<Error> {
        let cause = err.to_string();
        if !self.wrote_to_full_disk.load(Ordering::Relaxed) && !says_no_space(&cause) {
            return None;
        }
        let pool = self.settings.storage_pool.clone();
        let usage = match self.lxc.pool_space(&pool).await {
            Ok(space) => format!(
                "{} of {} MiB used",
                space.used / (1024 * 1024),
                space.total / (1024 * 1024)
            ),
            Err(_) => "its use unknown".into(),
        };
        Some(Error::PoolFull {
            stage,
            pool,
            usage,
            cause,
        })
    }

    /// The LXD daemon restarted or went away during the stage (its command
    /// streams broke with it).
    async fn lxd_lost(&self, stage: Stage, err: &Error) -> Option<Error> {
        // LXD down from the start is preflight's NotReady, with its own fix.
        let pid = self.lxd_pid?;
        // Still answering while it shuts down, but only to say so.
        if err.to_string().contains("LXD is shutting down") {
            return Some(Error::LxdLost {
                stage,
                remote: self.lxc.remote().into(),
                what: "shut down".into(),
                cause: err.to_string(),
            });
        }
        let what = match self.lxc.server_info().await {
            Ok(info) if pid == 0 || info.environment.server_pid == pid => return None,
            Ok(_) => "restarted",
            Err(_) => "stopped answering",
        };
        Some(Error::LxdLost {
            stage,
            remote: self.lxc.remote().into(),
            what: what.into(),
            cause: err.to_string(),
        })
    }

    async fn stages(&mut self) -> Result<Output> {
        let prepared = self.stage(Stage::Preflight, self.preflight()).await?;
        let rendered = &prepared.rendered;
        let build_instance = self.run_instance_name("build");
        // The base image's prep instance and the scratch of its shifted copy
        // too: a cancel drops provision mid-way.
        self.instances.push(self.run_instance_name("prep"));
        self.instances.push(self.run_instance_name("shift"));
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
        let (report, trees) = self
            .stage(Stage::Sources, self.sources(&prepared, &build_instance))
            .await?;
        if let Job::Publish { artifact_id } = self.job {
            self.stage(Stage::Install, self.install(&build_instance, to_build))
                .await?;
            self.stage(
                Stage::Publish,
                self.publish(rendered, &build_instance, artifact_id),
            )
            .await?;
            return Ok(Output::Artifact(artifact_id.clone()));
        }
        if *self.job != Job::Build {
            return Ok(Output::Mirror(report, trees));
        }
        let verify_nodes = self.verify_node_names();
        let verify = self.options.flags.verify;
        if verify {
            self.instances.extend(verify_nodes.iter().cloned());
        }
        // The clean verify instances boot while Spack installs (both run to the
        // end, so a cancel never leaves a launch half done behind cleanup).
        let (installed, verify_ready) = tokio::join!(
            self.stage(Stage::Install, self.install(&build_instance, to_build)),
            async {
                if !verify {
                    return None;
                }
                let started = self
                    .start_verify(&verify_nodes, prepared.verify_network.as_ref())
                    .await;
                // Said now, not after an install that may take an hour: the
                // user can cancel and fix it (the verify stage fails with it).
                if let Err(e) = &started {
                    self.emit(BuildEvent::Warning {
                        stage: Stage::Install,
                        message: format!("verify cannot run, the build will fail there: {e}"),
                    });
                }
                Some(started)
            }
        );
        let new_binaries = installed?;
        self.stage(
            Stage::BuildcachePush,
            self.buildcache_push(rendered, &build_instance, new_binaries),
        )
        .await?;
        let verify_lacks_zstd = matches!(verify_ready, Some(Ok(false)));
        let staged = self
            .stage(
                Stage::Package,
                self.package(rendered, &build_instance, verify_lacks_zstd),
            )
            .await?;
        let staged = self
            .stage(
                Stage::Verify,
                self.verify(staged, &verify_nodes, verify_ready),
            )
            .await?;
        let artifact_id = self.stage(Stage::Export, self.export(staged)).await?;
        self.stage(
            Stage::Publish,
            self.publish(rendered, &build_instance, &artifact_id),
        )
        .await?;
        Ok(Output::Artifact(artifact_id))
    }

    fn run_instance_name(&self, role: &str) -> String {
        format!("sf-{role}-{}", self.run.id)
    }

    /// The config keys every instance of this run carries.
    fn labels(&self) -> Vec<(String, String)> {
        vec![(crate::runs::RUN_LABEL.into(), self.run.id.clone())]
    }

    /// Launches an instance of this run as `spec` says (see
    /// [`Build::instance_spec`]) and pushes the recipe into it.
    async fn launch(&self, spec: LaunchSpec) -> Result<()> {
        let spec = self.instance_spec(spec)?;
        self.lxc.launch(&spec).await?;
        self.push_recipe(&spec.name).await
    }

    /// `spec` labelled (so an interrupted run's instances are found) and in
    /// the settings' pool; with host dirs among its devices, the host user
    /// is mapped to the container's root, so what it writes there belongs
    /// to the user.
    fn instance_spec(&self, mut spec: LaunchSpec) -> Result<LaunchSpec> {
        spec.config.extend(self.labels());
        if spec.devices.iter().any(|d| d.pool.is_none()) {
            spec.config.push(crate::lxd::current_user_idmap()?);
        }
        spec.storage_pool = Some(self.settings.storage_pool.clone());
        Ok(spec)
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
    /// Runs a recipe script that takes no arguments and whose lines only go to the log.
    async fn run_script(&self, stage: Stage, instance: &str, name: &str) -> Result<()> {
        self.script(stage, instance, name, &[], &mut |_| {}).await
    }

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
                    if says_no_space(&line) {
                        self.wrote_to_full_disk.store(true, Ordering::Relaxed);
                    }
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
                        stream,
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
                stage,
                message: format!(
                    "{name} exited with {code}; last output: {}",
                    tail.join(" | ")
                ),
                log: self.run.file("build.log"),
            });
        }
        Ok(())
    }
}

/// A build's checked `--publish`, `--from` and `--trust`.
#[derive(Debug, Default)]
struct Publishing {
    to: Option<(PublishOptions, CheckedPublish)>,
    from: Vec<BuildcacheUrl>,
    trust: Vec<PathBuf>,
    /// The `--from-credentials` file's checked bytes.
    from_login: Option<Vec<u8>>,
    /// The `--from-registry-ca` certificate.
    from_ca: Option<Vec<u8>>,
}

impl Publishing {
    fn check(flags: &BuildFlags, lxc: &Lxc) -> Result<Publishing> {
        let to = match &flags.publish {
            Some(opts) => Some((opts.clone(), opts.check()?)),
            None => None,
        };
        let mut from = flags
            .install_from
            .iter()
            .map(|url| crate::publish::parse_url("buildcache to install from", url))
            .collect::<Result<Vec<_>>>()?;
        if let Some(url) = &flags.from_s3_endpoint {
            let endpoint = crate::publish::parse_endpoint(url)?;
            let buckets = from
                .iter_mut()
                .map(|url| url.set_endpoint(&endpoint))
                .filter(|&bucket| bucket)
                .count();
            if buckets == 0 {
                return Err(Error::InvalidValue {
                    what: "S3 endpoint",
                    value: url.clone(),
                    reason: "it is for the s3:// buckets of --from; give one".into(),
                });
            }
        }
        for url in to.iter().map(|(_, checked)| &checked.to).chain(&from) {
            let Place::Dir(dir) = &url.place else {
                continue;
            };
            if !lxc.is_local() {
                return Err(Error::InvalidValue {
                    what: "buildcache URL",
                    value: url.url.clone(),
                    reason: format!(
                        "a directory of this machine is not reachable from the LXD remote `{}`: \
                         use an OCI registry, or build on the local server",
                        lxc.remote()
                    ),
                });
            }
            let from_dir = to.as_ref().is_none_or(|(_, checked)| checked.to != *url);
            if from_dir && !dir.is_dir() {
                return Err(Error::InvalidValue {
                    what: "buildcache to install from",
                    value: url.url.clone(),
                    reason: "no such directory".into(),
                });
            }
        }
        for key in &flags.trust {
            if !key.is_file() {
                return Err(Error::InvalidValue {
                    what: "trusted key",
                    value: key.display().to_string(),
                    reason: "no such file (export it with `gpg --armor --export ID > key.asc`)"
                        .into(),
                });
            }
        }
        if let Some(oci) = from.iter().find(|url| url.is_oci()) {
            if !flags.trust.is_empty() {
                return Err(Error::InvalidValue {
                    what: "buildcache to install from",
                    value: oci.url.clone(),
                    reason: "Spack 1.1 neither signs nor checks OCI buildcaches, so --trust \
                             cannot hold for it: install signed binaries from a file:// \
                             buildcache, or give this one without --trust"
                        .into(),
                });
            }
        }
        let for_registries = |what: &'static str, file: &Path| -> Result<()> {
            match from.iter().any(BuildcacheUrl::is_remote) {
                true => Ok(()),
                false => Err(Error::InvalidValue {
                    what,
                    value: file.display().to_string(),
                    reason: "it is for the OCI registries and S3 buckets of --from; give one"
                        .into(),
                }),
            }
        };
        let from_login = match &flags.from_credentials {
            Some(file) => {
                for_registries("registry login", file)?;
                Some(crate::publish::read_credentials(file)?)
            }
            None => None,
        };
        let from_ca = match &flags.from_registry_ca {
            Some(file) => {
                for_registries("registry CA", file)?;
                Some(crate::publish::read_certificate(file)?)
            }
            None => None,
        };
        if !flags.trust.is_empty() && from.is_empty() {
            return Err(Error::InvalidValue {
                what: "trusted key",
                value: flags.trust[0].display().to_string(),
                reason: "--trust applies to the buildcaches of --from; give one".into(),
            });
        }
        Ok(Publishing {
            to,
            from,
            trust: flags.trust.clone(),
            from_login,
            from_ca,
        })
    }

    /// The disk devices of the `file://` buildcaches: the one published to
    /// (created if missing), the ones installed from (read-only).
    fn devices(&self) -> Result<Vec<DiskDevice>> {
        let mut devices = Vec::new();
        let published_dir = self
            .to
            .as_ref()
            .and_then(|(_, checked)| match &checked.to.place {
                Place::Dir(dir) => Some(dir),
                Place::Oci { .. } | Place::S3 { .. } => None,
            });
        if let Some(dir) = published_dir {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
            devices.push(DiskDevice {
                name: "sf-publish".into(),
                source: dir.clone(),
                pool: None,
                path: layout::PUBLISH.into(),
                readonly: false,
            });
        }
        for (n, url) in self.from.iter().enumerate() {
            if let Place::Dir(dir) = &url.place {
                devices.push(DiskDevice {
                    name: format!("sf-install-from-{n}"),
                    source: dir.clone(),
                    pool: None,
                    path: install_from_mount(n),
                    readonly: true,
                });
            }
        }
        Ok(devices)
    }

    /// Registries and S3 endpoints on the LXD host's loopback the build
    /// instance must reach.
    fn loopback_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .to
            .iter()
            .map(|(_, checked)| &checked.to)
            .chain(&self.from)
            .filter_map(|url| url.place.loopback_port())
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// The URL the user gave for a buildcache's URL in the instance.
    fn host_url(&self, in_instance: &str) -> String {
        self.install_from()
            .into_iter()
            .zip(&self.from)
            .find(|(seen, _)| seen.url == in_instance)
            .map_or_else(|| in_instance.to_string(), |(_, url)| url.url.clone())
    }

    /// The `--from` buildcaches that are directories of this machine.
    fn install_from_dirs(&self) -> Vec<PathBuf> {
        self.from
            .iter()
            .filter_map(|url| match &url.place {
                Place::Dir(dir) => Some(dir.clone()),
                Place::Oci { .. } | Place::S3 { .. } => None,
            })
            .collect()
    }

    /// The buildcaches to install from as the templates see them.
    fn install_from(&self) -> Vec<crate::recipe::InstallFrom> {
        self.from
            .iter()
            .enumerate()
            .map(|(n, url)| crate::recipe::InstallFrom {
                name: format!("install-from-{n}"),
                url: url.in_instance(&install_from_mount(n)),
                signed: !self.trust.is_empty(),
                login: url.is_remote() && self.from_login.is_some(),
                remote: url.is_remote(),
                s3: url.is_s3(),
                s3_endpoint: match &url.place {
                    Place::S3 {
                        endpoint: Some(endpoint),
                    } => Some(endpoint.url.clone()),
                    _ => None,
                },
            })
            .collect()
    }
}

/// Where the `n`th `--from` directory is mounted in the build instance.
fn install_from_mount(n: usize) -> String {
    format!("{}/{n}", layout::INSTALL_FROM)
}

/// What preflight hands on: the rendered recipe, where Spack comes from and
/// the base image that fits them.
struct Prepared {
    rendered: Rendered,
    source: SpackSource,
    base_alias: String,
    /// `cache::lock_key`: names the cached spack.lock and its source list.
    lock_key: String,
    /// Where the verify nodes meet, when there are several.
    verify_network: Option<verify::VerifyNetwork>,
}

struct Staged {
    dir: PathBuf,
    archives: Vec<crate::package::ArchiveFile>,
    unpacked: u64,
    /// `fsutil::tree_digest` of the package tree.
    tree_sha256: String,
    inspection: crate::package::Inspection,
    verify: Option<VerifyResult>,
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map(|(p, _)| p).unwrap_or("/")
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_splits_container_paths() {
        assert_eq!(parent_of("/opt/slurm-factory/recipe"), "/opt/slurm-factory");
    }
}
