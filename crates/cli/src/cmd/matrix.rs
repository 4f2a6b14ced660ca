//! `slurm-factory matrix FILE`: many builds from one file, a few at a time.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use factory::events::{BuildEvent, EventRecord};
use factory::kinds::{Outcome, StageOutcome};
use factory::pipeline::matrix::{self, BuildOutcome, MatrixBuild};
use factory::remotes::{self, RemoteSlots};
use factory::request::Defaults;
use factory::settings::Loaded;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::Out;

#[derive(Debug, clap::Args)]
#[command(after_help = "A matrix file (YAML):

  base:                      # fields every build shares, as in a preset
    jobs: 4
  axes:                      # a request field and its values; the last varies fastest
    slurm_version: [\"26.05\", \"25.11\"]
    minimal: [false, true]
    target: [x86_64_v3, zen3]
  exclude:                   # combinations left out
    - {slurm_version: \"25.11\", target: zen3}

Each build is checked as `build` checks one before any starts. A failed build does not
stop the others; --resume skips the packages the store already holds verified.

Builds fan out over LXD servers: the --remote flags, else the `remotes` setting, else the
one `lxd_remote` names. Each is a name from `lxc remote list` (local = this machine),
with =N builds at once or, by default, its CPU threads / the builds' jobs. Caches reach
every server: a remote server keeps its layers in storage volumes, synced with this
machine's before and after each build; every artifact comes back to the local store.
A server that stops answering gets no more builds; its builds fail, the rest go on.

Examples:
  slurm-factory matrix lab.yaml --dry-run          the builds, checked, nothing run
  slurm-factory matrix lab.yaml --parallel 2       two builds at a time on each server
  slurm-factory matrix lab.yaml --remote local --remote builder=4
                                                   this machine and the remote `builder`
  slurm-factory matrix lab.yaml --resume           only what has no verified artifact yet
  slurm-factory matrix lab.yaml --json             every build's events, tagged with it")]
pub struct Args {
    /// The matrix file.
    pub file: PathBuf,
    /// List the servers and the builds (checked) and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Skip builds whose package has a verified artifact in the store.
    #[arg(long)]
    pub resume: bool,
    /// Builds at a time on each server without its own =N [default: the server's CPUs /
    /// the builds' jobs, at least 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: Option<u16>,
    /// An LXD server to build on, as `lxc remote list` names it, with =N builds at once
    /// (repeat for more) [default: the `remotes` setting, else `lxd_remote`].
    #[arg(long = "remote", value_name = "NAME[=N]", value_parser = parse_remote)]
    pub remotes: Vec<RemoteSlots>,
    #[command(flatten)]
    pub flags: super::flags::FlagArgs<super::flags::ForMatrix>,
}

pub async fn run(args: Args, loaded: &Loaded, out: &Out) -> factory::Result<ExitCode> {
    let defaults = Defaults::for_host().with_settings(&loaded.settings)?;
    let builds = matrix::load(&args.file, &defaults)?;
    let wanted = remotes::wanted(&loaded.settings, &args.remotes);
    let servers = remotes::servers(
        &loaded.settings,
        &wanted,
        args.parallel.map(u32::from),
        matrix::max_jobs(&builds),
    )
    .await?;
    if args.dry_run {
        if out.json {
            outln!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "servers": servers,
                    "builds": builds,
                }))
                .expect("builds serialize")
            );
        } else {
            let on: Vec<String> = servers
                .iter()
                .map(|s| format!("{} ({} at a time, {} CPUs)", s.remote, s.slots, s.cpus))
                .collect();
            outln!("{} builds on {}:", builds.len(), on.join(", "));
            for (i, b) in builds.iter().enumerate() {
                outln!("  {:>3}. {:<44} {}", i + 1, b.artifact_name, b.label);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let flags = args.flags.values;
    let table = Arc::new(Mutex::new(Table::new(&builds, out)));
    // The server each build went to, from its first event.
    let placed: Arc<Mutex<Vec<Option<String>>>> = Arc::new(Mutex::new(vec![None; builds.len()]));
    let sink: matrix::MatrixSink = if out.json {
        let names: Vec<String> = builds.iter().map(|b| b.artifact_name.clone()).collect();
        let placed = placed.clone();
        Arc::new(move |i, rec: &EventRecord| {
            if let BuildEvent::RunStarted { lxd_remote, .. } = &rec.event {
                placed.lock().expect("placed lock")[i] = Some(lxd_remote.clone());
            }
            let mut value = serde_json::to_value(rec).expect("events serialize");
            value["build"] = (i + 1).into();
            value["artifact_name"] = names[i].clone().into();
            outln!("{value}");
        })
    } else {
        let (table, placed) = (table.clone(), placed.clone());
        Arc::new(move |i, rec: &EventRecord| {
            if let BuildEvent::RunStarted { lxd_remote, .. } = &rec.event {
                placed.lock().expect("placed lock")[i] = Some(lxd_remote.clone());
            }
            table.lock().expect("table lock").on(i, rec)
        })
    };
    let cancel = super::build::cancel_on_ctrl_c(out);
    let outcomes = matrix::run(
        &loaded.settings,
        &builds,
        &flags,
        &servers,
        args.resume,
        sink,
        cancel,
    )
    .await?;
    table.lock().expect("table lock").clear();
    let placed = placed.lock().expect("placed lock").clone();
    if out.json {
        let summary: Vec<serde_json::Value> = builds
            .iter()
            .zip(&outcomes)
            .enumerate()
            .map(|(i, (b, o))| {
                let mut v = serde_json::to_value(o).expect("outcomes serialize");
                v["type"] = "matrix_build".into();
                v["build"] = (i + 1).into();
                v["artifact_name"] = b.artifact_name.clone().into();
                v["remote"] = placed[i].clone().into();
                v
            })
            .collect();
        for line in summary {
            outln!("{line}");
        }
    } else if !out.quiet {
        outln!();
        for (i, (b, o)) in builds.iter().zip(&outcomes).enumerate() {
            let said = match o {
                BuildOutcome::Verified { artifact_id } => format!("verified  {artifact_id}"),
                BuildOutcome::Skipped { artifact_id } => {
                    format!("skipped   {artifact_id} (already verified)")
                }
                BuildOutcome::Failed { error } => format!("FAILED    {}", error.error),
                BuildOutcome::Cancelled => "cancelled".into(),
            };
            let on = placed[i].as_deref().unwrap_or("-");
            outln!("  {:>3}. {:<44} {on:<12} {said}", i + 1, b.artifact_name);
        }
    }
    let failed = outcomes
        .iter()
        .filter(|o| matches!(o, BuildOutcome::Failed { .. }))
        .count();
    let cancelled = outcomes.contains(&BuildOutcome::Cancelled);
    if !out.json && !out.quiet && failed > 0 {
        outln!(
            "\n{failed} of {} builds failed; `slurm-factory matrix {} --resume` runs them again \
             (and only them)",
            builds.len(),
            args.file.display()
        );
    }
    Ok(if cancelled {
        ExitCode::from(factory::error::ExitKind::Cancelled.code())
    } else if failed > 0 {
        ExitCode::from(factory::error::ExitKind::Build.code())
    } else {
        ExitCode::SUCCESS
    })
}

/// The live table: one row per build with its stage and progress (bars on a
/// terminal; elsewhere a line when a build starts, fails a stage or ends).
struct Table {
    bars: MultiProgress,
    rows: Vec<ProgressBar>,
    names: Vec<String>,
    plain: bool,
    quiet: bool,
}

impl Table {
    fn new(builds: &[MatrixBuild], out: &Out) -> Table {
        let plain = !std::io::stderr().is_terminal();
        let target = if out.quiet || out.json || plain {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bars = MultiProgress::with_draw_target(target);
        let style =
            ProgressStyle::with_template("{spinner} {prefix} {msg}").expect("valid template");
        let n = builds.len();
        let rows = builds
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let row = bars.add(ProgressBar::new_spinner());
                row.set_style(style.clone());
                row.set_prefix(format!("[{}/{n}] {:<44}", i + 1, b.artifact_name));
                row.set_message("waiting");
                row
            })
            .collect();
        Table {
            bars,
            rows,
            names: builds.iter().map(|b| b.artifact_name.clone()).collect(),
            plain,
            quiet: out.quiet || out.json,
        }
    }

    fn on(&mut self, i: usize, rec: &EventRecord) {
        let row = &self.rows[i];
        let n = self.rows.len();
        let line = |text: String| {
            if self.plain && !self.quiet {
                eprintln!("[{}/{n}] {}: {text}", i + 1, self.names[i]);
            }
        };
        match &rec.event {
            BuildEvent::RunStarted {
                run_id, lxd_remote, ..
            } => {
                row.enable_steady_tick(Duration::from_millis(120));
                row.set_prefix(format!("{} on {lxd_remote}", row.prefix()));
                row.set_message("started");
                line(format!("started on {lxd_remote} (run {run_id})"));
            }
            BuildEvent::StageStarted { stage } => row.set_message(stage.to_string()),
            BuildEvent::Progress {
                stage,
                done,
                total,
                label,
            } => row.set_message(format!("{stage} {done}/{total} {label}")),
            BuildEvent::StageFinished {
                stage,
                outcome: StageOutcome::Failed,
                detail,
                ..
            } => line(format!(
                "{stage} failed: {}",
                detail.as_deref().unwrap_or_default()
            )),
            BuildEvent::RunFinished { outcome, .. } => {
                let said = match outcome {
                    Outcome::Succeeded => "succeeded",
                    Outcome::Failed => "failed",
                    Outcome::Cancelled => "cancelled",
                };
                row.finish_with_message(said);
                line(said.to_string());
            }
            _ => {}
        }
    }

    fn clear(&self) {
        let _ = self.bars.clear();
    }
}

fn parse_remote(text: &str) -> Result<RemoteSlots, String> {
    remotes::parse_one(text)
}
