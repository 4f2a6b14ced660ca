//! Benchmark only (cargo feature `bench`): streams synthetic build log lines
//! through the same batching and channel as a real build, so the page's lag
//! and this process's memory can be measured at a known rate.

use std::time::{Duration, Instant};

use factory::events::{BatchItem, BuildEvent, EventRecord};
use factory::kinds::{Stage, Stream};
use factory::store::artifacts::ExportResult;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;

use crate::batch;
use crate::commands::{export_to, store, CmdResult};
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct BenchReport {
    lines: u64,
    seconds: f64,
    rss_start_kib: u64,
    rss_end_kib: u64,
    /// The process's peak resident memory (VmHWM).
    rss_peak_kib: u64,
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Sends `lines` log lines at `rate` lines per second, in 10 ms steps,
/// batched every `period_ms` (the builds' own period when absent).
#[tauri::command]
pub async fn bench_stream(
    app: tauri::AppHandle,
    lines: u64,
    rate: u64,
    period_ms: Option<u64>,
    on_events: Channel<Vec<BatchItem>>,
) -> BenchReport {
    let period = period_ms.map_or(batch::PERIOD, Duration::from_millis);
    let rss_start_kib = status_kib("VmRSS:");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let forwarder = crate::builds::spawn_forwarder(&app, rx, period, on_events);
    let start = Instant::now();
    let per_step = (rate / 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut sent = 0;
    while sent < lines {
        tick.tick().await;
        for _ in 0..per_step.min(lines - sent) {
            let line = if sent % 10 == 0 {
                format!("\x1b[0;94m==>\x1b[0m Installing pkg-{sent} [{sent}/{lines}]")
            } else {
                format!("  libtool: compile: gcc -O2 -march=znver2 -c src/common/obj_{sent}.c -fPIC -o .libs/obj_{sent}.o")
            };
            let _ = tx.send(EventRecord {
                t_ms: start.elapsed().as_millis() as u64,
                event: BuildEvent::Log {
                    stage: Stage::Install,
                    stream: Stream::Stdout,
                    line,
                },
            });
            sent += 1;
        }
    }
    drop(tx);
    let _ = forwarder.await;
    BenchReport {
        lines,
        seconds: start.elapsed().as_secs_f64(),
        rss_start_kib,
        rss_end_kib: status_kib("VmRSS:"),
        rss_peak_kib: status_kib("VmHWM:"),
    }
}

/// `artifact_export` past its save dialog (which WebDriver cannot answer):
/// the same copy and re-verification, to `to`.
#[tauri::command]
pub async fn bench_export(
    state: State<'_, AppState>,
    id: String,
    to: std::path::PathBuf,
) -> CmdResult<ExportResult> {
    export_to(store(&state), id, to).await
}
