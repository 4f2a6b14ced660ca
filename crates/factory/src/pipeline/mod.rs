//! One build, stage by stage: preflight, provision, spack setup, concretize,
//! sources, install, buildcache push, package, verify, export, cleanup; and
//! `mirror check` / `mirror create`, which stop after the sources stage.
//!
//! Every stage reports through one [`Emitter`]; every command that runs in a
//! container is a rendered template script started with argv; a
//! [`CancellationToken`] stops the run at any point, after which the
//! instances are deleted and nothing reaches the artifact store.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::caches::cache::CacheDirs;
use crate::caches::mirror::OfflineTrees;
use crate::caches::sources::SourcesReport;
use crate::caches::spack_source::SpackSource;
use crate::doctor;
use crate::error::{Error, ErrorReport, Result};
use crate::events::BuildEvent;
use crate::kinds::{Layer, Outcome, Stage, StageOutcome};
use crate::layout;
use crate::lxd::{DiskDevice, LaunchSpec, Lxc};
use crate::package::{
    Allowlist, ArchiveFormat, Manifest, Sizes, StageTiming, VerifyCheck, VerifyResult,
};
use crate::progress::{self, SpackProgress};
use crate::protocol::ScriptLine;
use crate::publish::{CheckedPublish, Place, PublishOptions};
use crate::recipe::{RecipeContext, Rendered, Templates};
use crate::settings::Settings;
use crate::store::artifacts::Store;
use crate::store::runs::{Emitter, RunDir, RunRecord, Sink};
use crate::units::human_bytes;
use remote::Way;

mod buildcache_push;
mod cleanup;
mod concretize;
mod diagnose;
mod dry_run;
mod export;
mod install;
pub mod matrix;
mod options;
mod package;
pub mod plan;
mod preflight;
mod provision;
mod publish;
mod publishing;
mod remote;
mod script;
mod sources;
mod spack_setup;
mod stage;
mod verify;

pub use dry_run::{check_flags, render_recipe};
pub use options::{BuildFlags, BuildOptions, BuildResult, MirrorResult, PackageOptions};
use package::Staged;
use preflight::Prepared;
use publishing::Publishing;
use stage::Done;

/// Base images carry the alias they were made for, to find duplicates.
const BASE_IMAGE_PROPERTY: &str = "slurm-factory.base-image";

/// Where the verify stage unpacks a package: anywhere but the build prefix.
pub const VERIFY_PREFIX: &str = "/srv/relocated";

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
                Stage::BuildcachePush,
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
            ..BuildFlags::default()
        }
        .publishing(publish),
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
    // Bad input fails here, before the run leaves anything behind.
    let dry_run::Start {
        templates,
        toolchain,
        settings,
        publishing,
    } = dry_run::Start::of(settings, &options)?;
    let settings = &settings;
    let lxc = settings.lxc();
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
        let publish_instance = self.run_instance_name("publish");
        self.instances.push(publish_instance.clone());
        if let Job::Publish { artifact_id } = self.job {
            let new_binaries = self
                .stage(Stage::Install, self.install(&build_instance, to_build))
                .await?;
            // What had to be built again reaches the layer the publish
            // instance installs from.
            self.stage(
                Stage::BuildcachePush,
                self.buildcache_push(rendered, &build_instance, new_binaries),
            )
            .await?;
            self.stage(
                Stage::Publish,
                self.publish(&prepared, &publish_instance, artifact_id),
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
            self.publish(&prepared, &publish_instance, &artifact_id),
        )
        .await?;
        Ok(Output::Artifact(artifact_id))
    }

    fn run_instance_name(&self, role: &str) -> String {
        format!("sf-{role}-{}", self.run.id)
    }

    /// The config keys every instance of this run carries.
    fn labels(&self) -> Vec<(String, String)> {
        vec![(crate::store::runs::RUN_LABEL.into(), self.run.id.clone())]
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
    /// to the user (never host root: see [`crate::lxd::host_user_idmap`]).
    fn instance_spec(&self, mut spec: LaunchSpec) -> Result<LaunchSpec> {
        spec.config.extend(self.labels());
        if spec.devices.iter().any(|d| d.pool.is_none()) {
            spec.config.extend(crate::lxd::host_user_idmap()?);
        }
        spec.storage_pool = Some(self.settings.storage_pool.clone());
        Ok(spec)
    }
}
