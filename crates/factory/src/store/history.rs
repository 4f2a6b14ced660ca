//! Build history: what every recorded run took, stage by stage, how its
//! cache layers served it and how big its package came out. `runs stats` and
//! the app's History page both draw from [`history`], so their figures agree.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::events::BuildEvent;
use crate::kinds::{Layer, RunStatus, Stage, StageOutcome};
use crate::store::artifacts::Store;
use crate::store::runs::{self, RunDir};

/// One stage of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StageTime {
    pub stage: Stage,
    pub outcome: StageOutcome,
    pub elapsed_ms: u64,
}

/// How one cache layer served one run (summed over the run's stages).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LayerUse {
    pub layer: Layer,
    pub hits: u32,
    pub lookups: u32,
}

/// One run as the history shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RunStats {
    pub id: String,
    pub artifact_name: String,
    /// RFC 3339.
    pub started: String,
    pub status: RunStatus,
    /// Wall time of the whole run; `None` when it never finished.
    pub elapsed_ms: Option<u64>,
    /// The stages that finished, in the order they ran.
    pub stages: Vec<StageTime>,
    /// The stage that failed, or the one running when the run was cancelled
    /// or its process died.
    pub stopped_at: Option<Stage>,
    pub cache: Vec<LayerUse>,
    /// The package's archives, while the artifact is still in the store.
    pub package_bytes: Option<u64>,
    pub artifact_id: Option<String>,
}

/// A count of failed runs that stopped at one stage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StageFailures {
    pub stage: Stage,
    pub failed: u32,
}

/// Everything the History page and `runs stats` show.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct History {
    /// Oldest first, the last `limit` runs.
    pub runs: Vec<RunStats>,
    /// Failed (not cancelled) runs by the stage they stopped at, in stage order.
    pub failures: Vec<StageFailures>,
    /// Run records that could not be read, each with what to do.
    pub damaged: Vec<String>,
}

/// Reads the last `limit` runs under `runs_root` (all when `None`) with their
/// events, and looks up their packages in `store`.
pub fn history(runs_root: &Path, store: &Store, limit: Option<usize>) -> History {
    let (mut records, damaged) = runs::scan(runs_root);
    records.truncate(limit.unwrap_or(usize::MAX));
    records.reverse();
    let runs: Vec<RunStats> = records
        .into_iter()
        .map(|record| {
            let dir = RunDir {
                path: runs_root.join(&record.id),
                id: record.id.clone(),
            };
            let events = runs::read_events(&dir).unwrap_or_default();
            let mut stats = RunStats {
                status: record.status(),
                id: record.id,
                artifact_name: record.artifact_name,
                started: record.started,
                elapsed_ms: None,
                stages: Vec::new(),
                stopped_at: None,
                cache: Vec::new(),
                package_bytes: None,
                artifact_id: record.artifact_id,
            };
            let mut running = None;
            for rec in events {
                match rec.event {
                    BuildEvent::StageStarted { stage } => running = Some(stage),
                    BuildEvent::StageFinished {
                        stage,
                        outcome,
                        elapsed_ms,
                        ..
                    } => {
                        running = None;
                        if matches!(outcome, StageOutcome::Failed | StageOutcome::Cancelled) {
                            stats.stopped_at = Some(stage);
                        }
                        stats.stages.push(StageTime {
                            stage,
                            outcome,
                            elapsed_ms,
                        });
                    }
                    BuildEvent::CacheUse {
                        layer,
                        hits,
                        lookups,
                    } => add_use(&mut stats.cache, layer, hits, lookups),
                    BuildEvent::RunFinished { elapsed_ms, .. } => {
                        stats.elapsed_ms = Some(elapsed_ms)
                    }
                    _ => {}
                }
            }
            if stats.stopped_at.is_none() && stats.status != RunStatus::Succeeded {
                stats.stopped_at = running;
            }
            stats.package_bytes = stats
                .artifact_id
                .as_deref()
                .and_then(|id| store.show(id).ok())
                .map(|a| a.summary().size);
            stats
        })
        .collect();

    let mut failures: BTreeMap<Stage, u32> = BTreeMap::new();
    for run in &runs {
        if let (RunStatus::Failed, Some(stage)) = (run.status, run.stopped_at) {
            *failures.entry(stage).or_default() += 1;
        }
    }
    History {
        runs,
        failures: failures
            .into_iter()
            .map(|(stage, failed)| StageFailures { stage, failed })
            .collect(),
        damaged: damaged
            .iter()
            .map(|e| format!("{e}; {}", e.hint()))
            .collect(),
    }
}

/// Adds a layer's figures to a list kept in [`Layer::ALL`] order.
fn add_use(uses: &mut Vec<LayerUse>, layer: Layer, hits: u32, lookups: u32) {
    match uses.iter_mut().find(|u| u.layer == layer) {
        Some(u) => {
            u.hits += hits;
            u.lookups += lookups;
        }
        None => {
            uses.push(LayerUse {
                layer,
                hits,
                lookups,
            });
            uses.sort_by_key(|u| Layer::ALL.iter().position(|l| *l == u.layer));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::BuildEvent;
    use crate::kinds::Outcome;
    use crate::store::runs::{Emitter, Sink};
    use std::sync::Arc;

    /// Writes a run with the engine's own emitter: `stages` finish in turn,
    /// `cache` is reported, and the run ends with `outcome`, or its process
    /// dies during `unfinished`.
    fn record_run(
        root: &Path,
        name: &str,
        stages: &[(Stage, StageOutcome, u64)],
        cache: &[(Layer, u32, u32)],
        outcome: std::result::Result<Outcome, Stage>,
    ) -> String {
        let run = RunDir::create(root).unwrap();
        let sink: Sink = Arc::new(|_| {});
        let em = Emitter::new(&run, sink).unwrap();
        let mut record = runs::RunRecord {
            id: run.id.clone(),
            artifact_name: name.into(),
            started: "2026-12-03T07:00:00Z".into(),
            finished: None,
            outcome: None,
            pid: std::process::id(),
            artifact_id: None,
            interrupted: false,
        };
        run.write_json("run.json", &record).unwrap();
        for &(stage, outcome, elapsed_ms) in stages {
            em.emit(BuildEvent::StageStarted { stage });
            em.emit(BuildEvent::StageFinished {
                stage,
                outcome,
                elapsed_ms,
                detail: None,
            });
        }
        for &(layer, hits, lookups) in cache {
            em.emit(BuildEvent::CacheUse {
                layer,
                hits,
                lookups,
            });
        }
        match outcome {
            Ok(outcome) => {
                em.emit(BuildEvent::RunFinished {
                    outcome,
                    elapsed_ms: stages.iter().map(|s| s.2).sum(),
                    artifact_id: None,
                    error: None,
                });
                record.outcome = Some(outcome);
                record.finished = Some("2026-12-03T07:01:00Z".into());
            }
            Err(stage) => {
                em.emit(BuildEvent::StageStarted { stage });
                // No such process: the driver is gone.
                record.pid = u32::MAX;
            }
        }
        run.write_json("run.json", &record).unwrap();
        // Run ids order by time to the second.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        run.id
    }

    #[test]
    fn stages_cache_rates_and_failures_add_up_per_run_and_overall() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("runs");
        let store = Store::new(tmp.path().join("artifacts"));
        use Stage::*;
        use StageOutcome::*;
        let first = record_run(
            &root,
            "slurm-a",
            &[(Preflight, Done, 100), (Install, Done, 9000)],
            &[(Layer::Buildcache, 0, 4), (Layer::Locks, 0, 1)],
            Ok(Outcome::Succeeded),
        );
        record_run(
            &root,
            "slurm-a",
            &[(Preflight, Done, 90), (Install, Failed, 300)],
            &[(Layer::Buildcache, 3, 4), (Layer::Locks, 1, 1)],
            Ok(Outcome::Failed),
        );
        // The process died during install: no stage finished it.
        let died = record_run(
            &root,
            "slurm-b",
            &[(Preflight, Done, 80)],
            &[],
            Err(Install),
        );
        // A run.json cut short is reported, not shown.
        std::fs::create_dir_all(root.join("20990101-000000-dead")).unwrap();
        std::fs::write(root.join("20990101-000000-dead/run.json"), "{\"id\":").unwrap();

        let h = history(&root, &store, None);
        assert_eq!(h.runs.len(), 3, "{h:#?}");
        assert_eq!(h.runs[0].id, first, "oldest first");
        assert_eq!(h.runs[0].elapsed_ms, Some(9100));
        assert_eq!(
            h.runs[0]
                .stages
                .iter()
                .map(|s| s.elapsed_ms)
                .collect::<Vec<_>>(),
            [100, 9000]
        );
        assert_eq!(h.runs[0].stopped_at, None);
        assert_eq!(h.runs[1].stopped_at, Some(Install));
        assert_eq!(h.runs[2].id, died);
        assert_eq!(h.runs[2].status, RunStatus::Interrupted);
        assert_eq!(h.runs[2].stopped_at, Some(Install));
        assert_eq!(h.runs[2].elapsed_ms, None);
        assert_eq!(
            h.runs[1].cache,
            [
                LayerUse {
                    layer: Layer::Buildcache,
                    hits: 3,
                    lookups: 4
                },
                LayerUse {
                    layer: Layer::Locks,
                    hits: 1,
                    lookups: 1
                }
            ]
        );
        // The interrupted run is not a failure of a stage.
        assert_eq!(
            h.failures,
            [StageFailures {
                stage: Install,
                failed: 1
            }]
        );
        assert_eq!(h.damaged.len(), 1, "{:?}", h.damaged);
        assert!(
            h.damaged[0].contains("20990101-000000-dead"),
            "{:?}",
            h.damaged
        );

        let last_two = history(&root, &store, Some(2));
        assert_eq!(last_two.runs.len(), 2);
        assert_eq!(last_two.runs[1].id, died);
    }
}
