//! Build matrices started from the Matrix page: the engine's runner, one
//! matrix at a time, each build's events (log lines aside) to the page.

use std::sync::Arc;

use factory::events::{BuildEvent, EventRecord};
use factory::matrix::{self, BuildOutcome, MatrixBuild, MatrixEvent};
use factory::pipeline::BuildFlags;
use tauri::ipc::Channel;
use tauri::State;
use tokio_util::sync::CancellationToken;

use crate::commands::{report, CmdResult};
use crate::state::AppState;

/// The builds a matrix expands to, each checked as a build is.
#[tauri::command]
pub fn matrix_check(state: State<'_, AppState>, text: String) -> CmdResult<Vec<MatrixBuild>> {
    matrix::parse(&text, &state.defaults()).map_err(report)
}

/// Runs a matrix to its end; `parallel` builds at a time (default: the
/// CPUs over the builds' jobs); `resume` skips packages already verified.
#[tauri::command]
pub async fn matrix_run(
    state: State<'_, AppState>,
    text: String,
    parallel: Option<u32>,
    resume: bool,
    flags: BuildFlags,
    on_events: Channel<MatrixEvent>,
) -> CmdResult<Vec<BuildOutcome>> {
    let builds = matrix::parse(&text, &state.defaults()).map_err(report)?;
    let cancel = CancellationToken::new();
    {
        let mut running = state.matrix.lock().expect("matrix lock");
        if running.is_some() {
            return Err(report(factory::Error::MatrixInvalid {
                path: None,
                message: "a matrix is running already: one at a time".into(),
            }));
        }
        *running = Some(cancel.clone());
    }
    let sink: matrix::MatrixSink = Arc::new(move |build, rec: &EventRecord| {
        // The Runs page has each build's log; the table needs its progress.
        if !matches!(rec.event, BuildEvent::Log { .. }) {
            let _ = on_events.send(MatrixEvent {
                build: build as u32,
                event: rec.event.clone(),
            });
        }
    });
    let parallel = parallel.map_or_else(
        || matrix::default_parallel(&builds),
        |n| n.clamp(1, 64) as usize,
    );
    let settings = state.settings();
    let result = matrix::run(&settings, &builds, &flags, parallel, resume, sink, cancel).await;
    *state.matrix.lock().expect("matrix lock") = None;
    result.map_err(report)
}

/// Stops the running matrix: its builds stop and delete their instances.
#[tauri::command]
pub fn matrix_cancel(state: State<'_, AppState>) {
    if let Some(token) = state.matrix.lock().expect("matrix lock").as_ref() {
        token.cancel();
    }
}
