//! Run records: one directory per build under `<data_dir>/runs/<id>/` with
//! `run.json` (state), `request.json`, `events.jsonl`, `build.log`, the
//! rendered recipe and `spack.lock`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::events::{BuildEvent, EventRecord};
use crate::kinds::{Outcome, RunStatus};
use crate::lxd::Lxc;
use crate::settings::Settings;
use crate::store::artifacts::Store;
use std::collections::BTreeMap;

/// Instances of a run carry this config key, so leftovers can be found.
pub const RUN_LABEL: &str = "user.slurm-factory.run";

/// `run.json`: what a run is and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RunRecord {
    pub id: String,
    pub artifact_name: String,
    /// RFC 3339.
    pub started: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// `None` while running (or when the process died: see [`RunRecord::interrupted`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The process driving the run, to tell a live run from a killed one.
    pub pid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_id: Option<String>,
    /// Set when a later process found this run's driver gone.
    #[serde(default)]
    pub interrupted: bool,
}

impl RunRecord {
    /// Whether the process that drove this run still exists.
    pub fn driver_alive(&self) -> bool {
        self.outcome.is_none() && crate::fsutil::process_alive(self.pid)
    }

    /// Where the run stands: a run whose process died is interrupted, whether
    /// or not a later build has found it yet.
    pub fn status(&self) -> RunStatus {
        match self.outcome {
            _ if self.interrupted => RunStatus::Interrupted,
            Some(Outcome::Succeeded) => RunStatus::Succeeded,
            Some(Outcome::Failed) => RunStatus::Failed,
            Some(Outcome::Cancelled) => RunStatus::Cancelled,
            None if self.driver_alive() => RunStatus::Running,
            None => RunStatus::Interrupted,
        }
    }
}

/// A run as listings show it: its record and its status.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RunSummary {
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub record: RunRecord,
    pub status: RunStatus,
}

impl From<RunRecord> for RunSummary {
    fn from(record: RunRecord) -> RunSummary {
        RunSummary {
            status: record.status(),
            record,
        }
    }
}

/// The directory of one run.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
}

impl RunDir {
    /// Creates `<runs_root>/<id>/` with a fresh, unique id.
    pub fn create(runs_root: &Path) -> Result<RunDir> {
        crate::fsutil::create_private_dir_all(runs_root)
            .map_err(|e| Error::io("creating the runs directory", runs_root, e))?;
        let stamp = jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S").to_string();
        for attempt in 0u32.. {
            let id = format!("{stamp}-{}", short_token(attempt));
            let path = runs_root.join(&id);
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(RunDir { id, path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 64 => {}
                Err(e) => return Err(Error::io("creating a run directory", path, e)),
            }
        }
        unreachable!("the loop returns")
    }

    pub fn open(runs_root: &Path, id: &str) -> Result<RunDir> {
        validate_run_id(id)?;
        let path = runs_root.join(id);
        if !path.is_dir() {
            return Err(Error::RunNotFound { id: id.into() });
        }
        Ok(RunDir {
            id: id.into(),
            path,
        })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let text = serde_json::to_vec_pretty(value).expect("serializable");
        crate::fsutil::write_atomic(&self.file(name), &text)
    }

    pub fn record(&self) -> Result<RunRecord> {
        let path = self.file("run.json");
        let text = std::fs::read(&path).map_err(|e| Error::io("reading a run record", &path, e))?;
        serde_json::from_slice(&text).map_err(|e| Error::RunRecordMalformed {
            path,
            message: e.to_string(),
        })
    }
}

/// Run ids reach paths and LXD instance names: `20261124-153000-1a2b`.
pub fn validate_run_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 40
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::RunNotFound { id: id.into() })
    }
}

fn short_token(salt: u32) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u32(salt);
    format!("{:04x}", h.finish() & 0xffff)
}

/// All runs, newest first.
pub fn list(runs_root: &Path) -> Vec<RunRecord> {
    scan(runs_root).0
}

/// Every run's record, newest first, and an error for each `run.json` that
/// is there but cannot be read (cut short by a crash or a full disk, or
/// edited): listings leave those out, and say so.
pub fn scan(runs_root: &Path) -> (Vec<RunRecord>, Vec<Error>) {
    let Ok(entries) = std::fs::read_dir(runs_root) else {
        return (Vec::new(), Vec::new());
    };
    let (mut runs, mut damaged) = (Vec::new(), Vec::new());
    for entry in entries.flatten() {
        let path = entry.path().join("run.json");
        let Ok(text) = std::fs::read(&path) else {
            continue;
        };
        match serde_json::from_slice::<RunRecord>(&text) {
            Ok(record) => runs.push(record),
            Err(e) => damaged.push(Error::RunRecordMalformed {
                path,
                message: e.to_string(),
            }),
        }
    }
    runs.sort_by(|a, b| b.id.cmp(&a.id));
    damaged.sort_by_key(|e| e.to_string());
    (runs, damaged)
}

/// A slice of `build.log`, for viewers that page through large logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LogPage {
    pub lines: Vec<String>,
    /// Where the next page starts (a byte offset at a line start).
    pub next_offset: u64,
    /// The file's size when read; `next_offset == size` means caught up.
    pub size: u64,
}

/// Reads whole lines of a run's `build.log` from byte `offset`, about
/// `max_bytes` of them; a line still being written is left for the next page.
pub fn read_log(run: &RunDir, offset: u64, max_bytes: usize) -> Result<LogPage> {
    use std::io::{Read, Seek, SeekFrom};
    let path = run.file("build.log");
    let io = |e| Error::io("reading a build log", &path, e);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(LogPage {
                lines: Vec::new(),
                next_offset: 0,
                size: 0,
            })
        }
        Err(e) => return Err(io(e)),
    };
    let size = file.metadata().map_err(io)?.len();
    let offset = offset.min(size);
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut buf = Vec::with_capacity(max_bytes.min(size as usize));
    file.take(max_bytes as u64)
        .read_to_end(&mut buf)
        .map_err(io)?;
    let end = match buf.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        // One line longer than a page: hand it over whole rather than stall.
        None if buf.len() == max_bytes => buf.len(),
        None => 0,
    };
    let lines = String::from_utf8_lossy(&buf[..end])
        .lines()
        .map(str::to_owned)
        .collect();
    Ok(LogPage {
        lines,
        next_offset: offset + end as u64,
        size,
    })
}

/// A run's recorded events (everything but log lines), skipping a torn last
/// line (even one cut inside a UTF-8 character).
pub fn read_events(run: &RunDir) -> Result<Vec<EventRecord>> {
    let path = run.file("events.jsonl");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("reading run events", path, e)),
    };
    Ok(String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// Receives every event of a run as it happens.
pub type Sink = Arc<dyn Fn(&EventRecord) + Send + Sync>;

/// Stamps events, keeps them in the run directory and hands them to the sink.
pub struct Emitter {
    start: Instant,
    sink: Sink,
    events: Mutex<BufWriter<File>>,
    log: Mutex<BufWriter<File>>,
}

impl Emitter {
    pub fn new(run: &RunDir, sink: Sink) -> Result<Emitter> {
        let open = |name: &str| {
            let path = run.file(name);
            File::create(&path)
                .map(BufWriter::new)
                .map_err(|e| Error::io("creating a run file", path, e))
        };
        Ok(Emitter {
            start: Instant::now(),
            sink,
            events: Mutex::new(open("events.jsonl")?),
            log: Mutex::new(open("build.log")?),
        })
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Log lines go to `build.log`; everything else to `events.jsonl`, flushed
    /// at once so a crash loses nothing but the last log lines.
    pub fn emit(&self, event: BuildEvent) {
        let record = EventRecord {
            t_ms: self.elapsed_ms(),
            event,
        };
        match &record.event {
            BuildEvent::Log { stage, line, .. } => {
                let mut log = self.log.lock().expect("log lock");
                let _ = writeln!(log, "[{stage}] {line}");
            }
            _ => {
                let mut events = self.events.lock().expect("events lock");
                let _ = serde_json::to_writer(&mut *events, &record);
                let _ = events.write_all(b"\n");
                let _ = events.flush();
                let _ = self.log.lock().expect("log lock").flush();
            }
        }
        (self.sink)(&record);
    }
}

impl Drop for Emitter {
    fn drop(&mut self) {
        if let Ok(mut log) = self.log.lock() {
            let _ = log.flush();
        }
    }
}

/// How long cleaning up after a dead run waits for LXD's image operations.
const PUBLISH_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

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
        // A killed build may have left LXD publishing its base image.
        lxc.wait_image_operations(PUBLISH_WAIT).await;
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
    use crate::kinds::{Stage, Stream};

    #[test]
    fn run_dirs_are_unique_and_validated() {
        let tmp = tempfile::tempdir().unwrap();
        let a = RunDir::create(tmp.path()).unwrap();
        let b = RunDir::create(tmp.path()).unwrap();
        assert_ne!(a.id, b.id);
        assert!(validate_run_id(&a.id).is_ok());
        assert!(RunDir::open(tmp.path(), "../etc").is_err());
        assert!(RunDir::open(tmp.path(), &a.id).is_ok());
    }

    #[test]
    fn emitter_splits_logs_from_events_and_forwards_all() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::create(tmp.path()).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let em = Emitter::new(
            &run,
            Arc::new(move |r: &EventRecord| seen2.lock().unwrap().push(r.clone())),
        )
        .unwrap();
        em.emit(BuildEvent::StageStarted {
            stage: Stage::Install,
        });
        em.emit(BuildEvent::Log {
            stage: Stage::Install,
            stream: Stream::Stdout,
            line: "==> Installing lz4".into(),
        });
        drop(em);
        assert_eq!(seen.lock().unwrap().len(), 2);
        let events = std::fs::read_to_string(run.file("events.jsonl")).unwrap();
        assert_eq!(events.lines().count(), 1);
        assert!(events.contains("stage_started"));
        let log = std::fs::read_to_string(run.file("build.log")).unwrap();
        assert_eq!(log, "[install] ==> Installing lz4\n");
    }

    #[test]
    fn logs_are_read_in_pages_of_whole_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::create(tmp.path()).unwrap();
        assert_eq!(read_log(&run, 0, 100).unwrap().lines.len(), 0);
        std::fs::write(run.file("build.log"), "alpha\nbeta\ngamma\npartial").unwrap();
        let p1 = read_log(&run, 0, 12).unwrap();
        assert_eq!(p1.lines, ["alpha", "beta"]);
        let p2 = read_log(&run, p1.next_offset, 1000).unwrap();
        assert_eq!(p2.lines, ["gamma"]);
        assert_eq!(p2.next_offset, 17);
        assert_eq!(p2.size, 24);
        let long = read_log(&run, 0, 3).unwrap();
        assert_eq!(long.lines, ["alp"]);
        assert_eq!(long.next_offset, 3);
    }

    #[test]
    fn a_torn_run_record_is_reported_as_malformed() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::create(tmp.path()).unwrap();
        std::fs::write(run.file("run.json"), "{\"id\": \"2026").unwrap();
        let err = run.record().unwrap_err();
        assert!(matches!(err, Error::RunRecordMalformed { .. }), "{err}");
        assert!(err.to_string().contains("run.json is malformed"), "{err}");
        assert!(!err.hint().contains("writable"), "{}", err.hint());
    }

    #[test]
    fn records_round_trip_and_list_newest_first() {
        let tmp = tempfile::tempdir().unwrap();
        for n in 0..2 {
            let run = RunDir::create(tmp.path()).unwrap();
            let rec = RunRecord {
                id: run.id.clone(),
                artifact_name: format!("a{n}"),
                started: "2026-11-24T15:00:00Z".into(),
                finished: None,
                outcome: None,
                pid: std::process::id(),
                artifact_id: None,
                interrupted: false,
            };
            run.write_json("run.json", &rec).unwrap();
            assert_eq!(run.record().unwrap(), rec);
            assert!(rec.driver_alive());
        }
        let runs = list(tmp.path());
        assert_eq!(runs.len(), 2);
        assert!(runs[0].id >= runs[1].id);
    }
}
