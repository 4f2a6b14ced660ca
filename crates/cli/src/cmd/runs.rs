use std::io::Write;
use std::process::ExitCode;

use factory::events::{BuildEvent, EventRecord};
use factory::runs::{self, RunDir, RunSummary};
use factory::settings::Loaded;

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
            let events: Vec<EventRecord> = std::fs::read_to_string(dir.file("events.jsonl"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
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
        Command::Log { id } => {
            let dir = RunDir::open(&root, &id)?;
            let path = dir.file("build.log");
            let text = std::fs::read(&path).map_err(|e| factory::Error::io("reading", &path, e))?;
            let _ = std::io::stdout().lock().write_all(&text);
        }
    }
    Ok(ExitCode::SUCCESS)
}
