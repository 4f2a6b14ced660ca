//! The one event stream of a build. The pipeline emits [`BuildEvent`]s; the
//! CLI draws progress bars from them, `--json` prints them, the desktop app
//! receives them over a Tauri channel, and every run keeps them in
//! `events.jsonl`.

use serde::{Deserialize, Serialize};

use crate::error::ErrorReport;
use crate::kinds::{Layer, Outcome, Stage, StageOutcome, Stream};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BuildEvent {
    RunStarted {
        run_id: String,
        artifact_name: String,
        run_dir: String,
        stages: Vec<Stage>,
        /// The `lxc remote` it builds on (`local`: this machine); runs
        /// recorded before it was told were local.
        #[serde(default = "local_remote")]
        lxd_remote: String,
    },
    StageStarted {
        stage: Stage,
    },
    StageFinished {
        stage: Stage,
        outcome: StageOutcome,
        elapsed_ms: u64,
        /// A short note: "base image sf-base-1a2b reused", "3 of 6 from buildcache".
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    Progress {
        stage: Stage,
        done: u32,
        total: u32,
        label: String,
    },
    Log {
        stage: Stage,
        stream: Stream,
        line: String,
    },
    Warning {
        stage: Stage,
        message: String,
    },
    /// A cache layer was consulted: `hits` of `lookups` were served from it.
    /// Emitted once per layer and stage, only when `lookups > 0`.
    CacheUse {
        layer: Layer,
        hits: u32,
        lookups: u32,
    },
    RunFinished {
        outcome: Outcome,
        elapsed_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        artifact_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorReport>,
    },
}

/// An event and when it happened, relative to the start of its run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EventRecord {
    pub t_ms: u64,
    #[serde(flatten)]
    pub event: BuildEvent,
}

/// One entry of what the desktop window receives per batch: consecutive log
/// lines fold into one `Lines` entry of bare strings, so a compile printing
/// thousands of lines a second crosses to the page as a few arrays instead of
/// thousands of objects that repeat their type, stage and stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(untagged)]
pub enum BatchItem {
    Lines {
        /// When the first of `lines` was printed.
        t_ms: u64,
        lines: Vec<String>,
    },
    Event(EventRecord),
}

/// Folds records, in order, into batch items (see [`BatchItem`]).
pub fn fold(records: Vec<EventRecord>) -> Vec<BatchItem> {
    let mut out: Vec<BatchItem> = Vec::new();
    for rec in records {
        match rec.event {
            BuildEvent::Log { line, .. } => match out.last_mut() {
                Some(BatchItem::Lines { lines, .. }) => lines.push(line),
                _ => out.push(BatchItem::Lines {
                    t_ms: rec.t_ms,
                    lines: vec![line],
                }),
            },
            event => out.push(BatchItem::Event(EventRecord {
                t_ms: rec.t_ms,
                event,
            })),
        }
    }
    out
}

fn local_remote() -> String {
    "local".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_serialize_as_flat_json_lines() {
        let rec = EventRecord {
            t_ms: 1500,
            event: BuildEvent::Progress {
                stage: Stage::Install,
                done: 3,
                total: 7,
                label: "munge".into(),
            },
        };
        let line = serde_json::to_string(&rec).unwrap();
        assert_eq!(
            line,
            r#"{"t_ms":1500,"type":"progress","stage":"install","done":3,"total":7,"label":"munge"}"#
        );
        assert_eq!(serde_json::from_str::<EventRecord>(&line).unwrap(), rec);
    }

    #[test]
    fn cache_use_serializes_with_its_tag() {
        let rec = EventRecord {
            t_ms: 7,
            event: BuildEvent::CacheUse {
                layer: Layer::BaseImages,
                hits: 1,
                lookups: 1,
            },
        };
        let line = serde_json::to_string(&rec).unwrap();
        assert_eq!(
            line,
            r#"{"t_ms":7,"type":"cache_use","layer":"base-images","hits":1,"lookups":1}"#
        );
        assert_eq!(serde_json::from_str::<EventRecord>(&line).unwrap(), rec);
    }

    #[test]
    fn stages_print_their_kebab_case_names() {
        assert_eq!(Stage::BuildcachePush.to_string(), "buildcache-push");
    }

    #[test]
    fn fold_keeps_order_and_joins_runs_of_log_lines() {
        let log = |t_ms, line: &str| EventRecord {
            t_ms,
            event: BuildEvent::Log {
                stage: Stage::Install,
                stream: Stream::Stdout,
                line: line.into(),
            },
        };
        let started = EventRecord {
            t_ms: 5,
            event: BuildEvent::StageStarted {
                stage: Stage::Package,
            },
        };
        let items = fold(vec![log(1, "a"), log(2, "b"), started.clone(), log(7, "c")]);
        assert_eq!(
            items,
            vec![
                BatchItem::Lines {
                    t_ms: 1,
                    lines: vec!["a".into(), "b".into()]
                },
                BatchItem::Event(started),
                BatchItem::Lines {
                    t_ms: 7,
                    lines: vec!["c".into()]
                },
            ]
        );
        assert_eq!(
            serde_json::to_string(&items[..1]).unwrap(),
            r#"[{"t_ms":1,"lines":["a","b"]}]"#
        );
    }
}
