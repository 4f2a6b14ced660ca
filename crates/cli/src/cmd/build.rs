use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use factory::events::{BuildEvent, EventRecord};
use factory::kinds::{Outcome, Stage, StageOutcome};
use factory::pipeline::{self, BuildOptions};
use factory::request::Defaults;
use factory::settings::Loaded;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use super::flags::{with_preset, RequestArgs};
use crate::output::Out;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Stages: preflight, provision, spack-setup, concretize, install, \
buildcache-push, package, verify, export, publish, cleanup. Ctrl-C cancels at any stage: the build \
instance is deleted and nothing reaches the artifact store.

Examples:
  slurm-factory build                                   default package for this machine
  slurm-factory build --slurm-version 24.11 --gpu cuda --gpu-arch 80,90
  slurm-factory build --preset lab.yaml --jobs 8        a saved request, jobs overridden
  slurm-factory build --toolchain rocky8                built and verified on Rocky Linux 8
  slurm-factory build --minimal --json > events.jsonl   events as JSON lines
  slurm-factory build --offline --gzip                  air-gapped: Spack, spack-packages and
                                                        clingo wheels from spack_root,
                                                        spack_packages_root and wheels_dir
  slurm-factory build --publish file:///srv/cache --sign builder@site.example
                                                        a signed buildcache and signed archives
                                                        a cluster installs from
  slurm-factory build --from file:///srv/cache --trust site.asc
                                                        binaries from that buildcache, refused
                                                        unless signed by the key in site.asc"
)]
pub struct Args {
    #[command(flatten)]
    pub request: RequestArgs,
    /// A saved build (YAML, as `plan --save-preset` writes): its options, and over them
    /// the ones given here.
    #[arg(long, value_name = "FILE")]
    pub preset: Option<PathBuf>,
    #[command(flatten)]
    pub flags: FlagArgs,
}

pub use super::flags::FlagArgs;

pub async fn run(
    args: Args,
    loaded: &Loaded,
    out: &Out,
    verbose: bool,
) -> factory::Result<ExitCode> {
    let preset = with_preset(&args.request, &args.flags, args.preset.as_deref())?;
    let options = BuildOptions {
        request: preset
            .request
            .resolve(&Defaults::for_host().with_settings(&loaded.settings)?)?,
        flags: preset.flags,
    };
    let cancel = cancel_on_ctrl_c(out);
    let result = pipeline::build(&loaded.settings, options, sink(out, verbose), cancel).await?;
    if !out.json && !out.quiet {
        outln!(
            "\nBuilt artifact {}\n  run log: {}\n  next:    slurm-factory artifacts show {}",
            result.artifact_id,
            result.run_dir.join("build.log").display(),
            result.artifact_id
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A token that Ctrl-C fires: the run stops and deletes its instances.
pub fn cancel_on_ctrl_c(out: &Out) -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    let quiet = out.quiet || out.json;
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            if !quiet {
                eprintln!("cancelling: stopping the run and deleting its instances...");
            }
            on_signal.cancel();
        }
    });
    cancel
}

/// Where a run's events go: JSON lines with `--json`, else the progress view.
pub fn sink(out: &Out, verbose: bool) -> factory::store::runs::Sink {
    if out.json {
        Arc::new(|rec: &EventRecord| {
            outln!("{}", serde_json::to_string(rec).expect("events serialize"));
        })
    } else {
        let view = Arc::new(Mutex::new(Progress::new(out.quiet, verbose)));
        Arc::new(move |rec: &EventRecord| view.lock().expect("view lock").on(rec))
    }
}

/// Draws the run: one line per finished stage, a bar for the stages and one
/// for the packages being installed.
struct Progress {
    bars: MultiProgress,
    stages: ProgressBar,
    packages: Option<ProgressBar>,
    verbose: bool,
    /// Bars only on a terminal; elsewhere (CI logs, pipes) plain lines.
    plain: bool,
    quiet: bool,
}

impl Progress {
    fn new(quiet: bool, verbose: bool) -> Progress {
        let plain = !std::io::stderr().is_terminal();
        let target = if quiet || plain {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bars = MultiProgress::with_draw_target(target);
        let stages = bars.add(ProgressBar::new(Stage::ALL.len() as u64));
        stages.set_style(
            ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg} {elapsed}")
                .expect("valid template"),
        );
        stages.enable_steady_tick(Duration::from_millis(120));
        Progress {
            bars,
            stages,
            packages: None,
            verbose,
            plain,
            quiet,
        }
    }

    /// A line above the bars, or on stderr when there are none.
    fn line(&self, text: String) {
        if self.quiet {
            return;
        }
        if self.plain {
            eprintln!("{text}");
        } else {
            let _ = self.bars.println(text);
        }
    }

    fn on(&mut self, rec: &EventRecord) {
        match &rec.event {
            BuildEvent::RunStarted {
                run_id,
                artifact_name,
                stages,
                ..
            } => {
                self.stages.set_length(stages.len() as u64);
                // `mirror check` and `mirror create` solve but install nothing.
                let doing = match stages.contains(&Stage::Install) {
                    true => "Building",
                    false => "Running",
                };
                self.line(format!("{doing} {artifact_name} (run {run_id})"));
            }
            BuildEvent::StageStarted { stage } => {
                self.stages.set_message(stage.to_string());
            }
            BuildEvent::StageFinished {
                stage,
                outcome,
                elapsed_ms,
                detail,
            } => {
                if let Some(bar) = self.packages.take() {
                    bar.finish_and_clear();
                }
                self.stages.inc(1);
                let mark = match outcome {
                    StageOutcome::Done => "done",
                    StageOutcome::Cached => "cached",
                    StageOutcome::Skipped => "skipped",
                    StageOutcome::Failed => "FAILED",
                    StageOutcome::Cancelled => "cancelled",
                };
                let detail = detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default();
                self.line(format!(
                    "  {:>2}. {stage:<16} {mark:<9} {:>7.1}s{detail}",
                    self.stages.position(),
                    *elapsed_ms as f64 / 1000.0
                ));
            }
            BuildEvent::Progress {
                done, total, label, ..
            } => {
                let bar = self.packages.get_or_insert_with(|| {
                    let bar = self.bars.add(ProgressBar::new(u64::from(*total)));
                    bar.set_style(
                        ProgressStyle::with_template("    {bar:30} {pos}/{len} {msg}")
                            .expect("valid template"),
                    );
                    bar
                });
                bar.set_length(u64::from(*total));
                bar.set_position(u64::from(*done));
                bar.set_message(label.clone());
            }
            BuildEvent::Log { line, .. } => {
                if self.verbose {
                    self.line(format!("    | {line}"));
                }
            }
            BuildEvent::Warning { stage, message } => {
                self.line(format!("  warning ({stage}): {message}"));
            }
            // The stage's own line says what was reused; the figures feed `cache status`.
            BuildEvent::CacheUse { .. } => {}
            BuildEvent::RunFinished { outcome, .. } => {
                self.stages.finish_and_clear();
                if *outcome == Outcome::Cancelled {
                    self.line("Cancelled; nothing was kept.".into());
                }
            }
        }
    }
}
