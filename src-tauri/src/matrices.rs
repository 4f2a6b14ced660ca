//! Build matrices started from the Matrix page: the engine's runner, one
//! matrix at a time, each build's events (log lines aside) to the page.

use std::sync::Arc;

use factory::events::{BuildEvent, EventRecord};
use factory::pipeline::matrix::{self, BuildOutcome, MatrixBuild, MatrixEvent};
use factory::pipeline::BuildFlags;
use factory::remotes::{self, Server};
use tauri::ipc::Channel;
use tauri::State;
use tokio_util::sync::CancellationToken;

use crate::commands::{report, CmdResult};
use crate::state::AppState;

/// The builds a matrix expands to, each checked as a build is.
#[tauri::command]
pub fn matrix_check(state: State<'_, AppState>, text: String) -> CmdResult<Vec<MatrixBuild>> {
    matrix::parse(&text, &state.defaults().map_err(report)?).map_err(report)
}

/// The LXD servers a matrix of `text` runs on (the `remotes` setting, else
/// `lxd_remote`), each asked for its CPUs, with its builds at once:
/// `parallel`, or its CPUs over the builds' jobs.
#[tauri::command]
pub async fn matrix_servers(
    state: State<'_, AppState>,
    text: String,
    parallel: Option<u32>,
) -> CmdResult<Vec<Server>> {
    let builds = matrix::parse(&text, &state.defaults().map_err(report)?).map_err(report)?;
    servers(&state, &builds, parallel).await
}

async fn servers(
    state: &AppState,
    builds: &[MatrixBuild],
    parallel: Option<u32>,
) -> CmdResult<Vec<Server>> {
    let settings = state.settings();
    let wanted = remotes::wanted(&settings, &[]);
    let parallel = parallel.map(|n| n.clamp(1, 64));
    remotes::servers(&settings, &wanted, parallel, matrix::max_jobs(builds))
        .await
        .map_err(report)
}

/// Runs a matrix to its end over its servers ([`matrix_servers`]); `resume`
/// skips packages already verified.
#[tauri::command]
pub async fn matrix_run(
    state: State<'_, AppState>,
    text: String,
    parallel: Option<u32>,
    resume: bool,
    flags: BuildFlags,
    on_events: Channel<MatrixEvent>,
) -> CmdResult<Vec<BuildOutcome>> {
    let builds = matrix::parse(&text, &state.defaults().map_err(report)?).map_err(report)?;
    let servers = servers(&state, &builds, parallel).await?;
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
    let settings = state.settings();
    let result = matrix::run(&settings, &builds, &flags, &servers, resume, sink, cancel).await;
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
