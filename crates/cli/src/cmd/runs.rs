use std::io::Write;
use std::process::ExitCode;

use factory::events::BuildEvent;
use factory::kinds::RunStatus;
use factory::settings::Loaded;
use factory::store::artifacts::Store;
use factory::store::history::{self, History, LayerUse};
use factory::store::runs::{self, RunDir, RunSummary};
use factory::units::human_bytes;

use crate::output::Out;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Every run, newest first, with its outcome.
    #[command(after_help = "Example:\n  slurm-factory runs list --json")]
    List,
    /// A run's stages with their outcome and time.
    #[command(after_help = "Example:\n  slurm-factory runs show 20261124-153000-1a2b")]
    Show { id: String },
    /// Print a run's build log.
    #[command(after_help = "Example:\n  slurm-factory runs log 20261124-153000-1a2b | less -R")]
    Log { id: String },
    /// How builds went over time: each run's stage times, cache hits and
    /// package size; failures by stage; hit rates per cache layer.
    #[command(
        after_help = "Examples:\n  slurm-factory runs stats\n  slurm-factory runs stats --last 10 --json | jq '.runs[].elapsed_ms'"
    )]
    Stats {
        /// Only the newest N runs.
        #[arg(long, value_name = "N")]
        last: Option<usize>,
    },
}

pub fn run(command: Command, loaded: &Loaded, out: &Out) -> factory::Result<ExitCode> {
    let root = loaded.settings.runs_dir();
    match command {
        Command::List => {
            let (records, damaged) = runs::scan(&root);
            let list: Vec<RunSummary> = records.into_iter().map(Into::into).collect();
            // Damaged records are left out of the list, never silently.
            for err in damaged {
                out.warn(&format!("{err}; {}", err.hint()));
            }
            if out.json {
                out.json(&list);
            } else if list.is_empty() {
                outln!("no runs yet: `slurm-factory build` starts one");
            } else {
                for r in list {
                    outln!(
                        "{:<24} {:<12} {}  {}",
                        r.record.id,
                        r.status,
                        r.record.artifact_name,
                        out.dim(&r.record.started)
                    );
                }
            }
        }
        Command::Show { id } => {
            let dir = RunDir::open(&root, &id)?;
            let record = dir.record()?;
            let events = runs::read_events(&dir)?;
            if out.json {
                out.json(&serde_json::json!({ "run": record, "events": events }));
            } else {
                outln!("run {} ({})", record.id, record.artifact_name);
                for e in &events {
                    match &e.event {
                        BuildEvent::StageFinished {
                            stage,
                            outcome,
                            elapsed_ms,
                            detail,
                        } => outln!(
                            "  {stage:<16} {:<9} {:>7.1}s {}",
                            format!("{outcome:?}").to_lowercase(),
                            *elapsed_ms as f64 / 1000.0,
                            detail.as_deref().unwrap_or("")
                        ),
                        BuildEvent::Warning { stage, message } => {
                            outln!("  warning ({stage}): {message}")
                        }
                        BuildEvent::CacheUse {
                            layer,
                            hits,
                            lookups,
                        } => outln!("    cache {}: {hits} of {lookups} found", layer.as_str()),
                        BuildEvent::RunFinished {
                            error: Some(err), ..
                        } => {
                            outln!("  error: {}\n  hint: {}", err.error, err.hint)
                        }
                        _ => {}
                    }
                }
                outln!("  log: {}", dir.file("build.log").display());
            }
        }
        Command::Stats { last } => {
            let history =
                history::history(&root, &Store::new(loaded.settings.artifacts_dir()), last);
            for damaged in &history.damaged {
                out.warn(damaged);
            }
            if out.json {
                out.json(&history);
            } else {
                print_history(&history, out);
                outln!("cache hit rate per layer (all runs):");
                for layer in factory::caches::cache::hit_rates(&loaded.settings)? {
                    outln!("  {:<12} {}", layer.layer.as_str(), layer.text);
                }
            }
        }
        Command::Log { id } => {
            let dir = RunDir::open(&root, &id)?;
            let path = dir.file("build.log");
            let text = std::fs::read(&path).map_err(|e| factory::Error::io("reading", &path, e))?;
            let _ = std::io::stdout().lock().write_all(&text);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn seconds(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

fn rate(uses: &[LayerUse]) -> String {
    let (hits, lookups) = uses
        .iter()
        .fold((0, 0), |(h, l), u| (h + u.hits, l + u.lookups));
    match lookups {
        0 => "-".into(),
        _ => format!("{hits}/{lookups} hit"),
    }
}

fn print_history(history: &History, out: &Out) {
    if history.runs.is_empty() {
        outln!("no runs yet: `slurm-factory build` starts one");
        return;
    }
    outln!(
        "{:<24} {:<12} {:>8}  {:<22} {:>10} {:>10}  artifact",
        "run",
        "status",
        "time",
        "longest stage",
        "cache",
        "package"
    );
    for run in &history.runs {
        let longest = run
            .stages
            .iter()
            .max_by_key(|s| s.elapsed_ms)
            .map(|s| format!("{} {}", s.stage, seconds(s.elapsed_ms)))
            .unwrap_or_default();
        let status = match run.stopped_at {
            Some(stage) if run.status != RunStatus::Succeeded => {
                format!("{} @{stage}", run.status)
            }
            _ => run.status.to_string(),
        };
        outln!(
            "{:<24} {:<12} {:>8}  {:<22} {:>10} {:>10}  {}",
            run.id,
            status,
            run.elapsed_ms.map(seconds).unwrap_or_else(|| "-".into()),
            longest,
            rate(&run.cache),
            run.package_bytes
                .map(human_bytes)
                .unwrap_or_else(|| "-".into()),
            out.dim(&run.artifact_name)
        );
    }
    outln!();
    outln!("failures by stage:");
    if history.failures.is_empty() {
        outln!("  none");
    }
    for f in &history.failures {
        outln!("  {:<16} {}", f.stage, f.failed);
    }
}
