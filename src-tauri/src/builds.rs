//! Builds and publishes started from the window: each runs the engine's
//! pipeline on the async runtime and streams its events to the page over a
//! channel.

use std::sync::{Arc, Mutex};

use factory::events::{self, BatchItem, BuildEvent, EventRecord};
use factory::pipeline::{BuildFlags, BuildOptions};
use factory::request::BuildRequest;
use factory::store::runs::Sink;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, State};
use tokio_util::sync::CancellationToken;

use crate::batch;
use crate::commands::{report, CmdResult};
use crate::state::AppState;

/// Starts a build and returns its run id once the engine created the run;
/// events follow on `on_events` in batches until `run_finished`.
#[tauri::command]
pub async fn start_build(
    app: AppHandle,
    state: State<'_, AppState>,
    request: BuildRequest,
    flags: BuildFlags,
    on_events: Channel<Vec<BatchItem>>,
) -> CmdResult<String> {
    let options = BuildOptions {
        request: request
            .resolve(&state.defaults().map_err(report)?)
            .map_err(report)?,
        flags,
    };
    let settings = state.settings();
    start_run(&app, &state, on_events, move |sink, cancel| async move {
        factory::pipeline::build(&settings, options, sink, cancel)
            .await
            .map(drop)
    })
    .await
}

/// Publishes a stored artifact (`slurm-factory publish`): a run like a
/// build's, with its live events, log and cancel on the Runs page.
#[tauri::command]
pub async fn artifact_publish(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    options: factory::publish::PublishOptions,
    offline: bool,
    on_events: Channel<Vec<BatchItem>>,
) -> CmdResult<String> {
    // Bad input (the id, the options) fails in the engine before a run exists.
    let settings = state.settings();
    start_run(&app, &state, on_events, move |sink, cancel| async move {
        factory::pipeline::publish(&settings, &id, options, offline, sink, cancel)
            .await
            .map(drop)
    })
    .await
}

/// Runs `job` (the engine's build or publish) on the async runtime and
/// returns its run id once the engine created the run; its events go to
/// `on_events` and it can be cancelled (`cancel_build`) until it ends.
async fn start_run<Job, Running>(
    app: &AppHandle,
    state: &AppState,
    on_events: Channel<Vec<BatchItem>>,
    job: Job,
) -> CmdResult<String>
where
    Job: FnOnce(Sink, CancellationToken) -> Running,
    Running: std::future::Future<Output = factory::Result<()>> + Send + 'static,
{
    let runs_dir = state.settings().runs_dir();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<EventRecord>();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<String>();
    let started_tx = Mutex::new(Some(started_tx));
    let sink: Sink = Arc::new(move |rec: &EventRecord| {
        if let BuildEvent::RunStarted { run_id, .. } = &rec.event {
            if let Some(t) = started_tx.lock().expect("start lock").take() {
                let _ = t.send(run_id.clone());
            }
        }
        let _ = tx.send(rec.clone());
    });
    let forwarder = spawn_forwarder(app, rx, batch::PERIOD, on_events);
    let cancel = CancellationToken::new();
    let task = tauri::async_runtime::spawn(job(sink, cancel.clone()));

    // The sink (and with it `started_tx`) is dropped when the job returns,
    // so no run id means it failed before it created a run.
    let Ok(run_id) = started_rx.await else {
        let result = task.await.map_err(|e| {
            report(factory::Error::io(
                "running the build",
                runs_dir,
                std::io::Error::other(e.to_string()),
            ))
        })?;
        let _ = forwarder.await;
        return match result {
            Err(e) => Err(report(e)),
            Ok(()) => unreachable!("the pipeline reports run_started before it can succeed"),
        };
    };
    state
        .builds
        .lock()
        .expect("builds lock")
        .insert(run_id.clone(), cancel);
    let id = run_id.clone();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let _ = task.await;
        let _ = forwarder.await;
        app.state::<AppState>()
            .builds
            .lock()
            .expect("builds lock")
            .remove(&id);
    });
    Ok(run_id)
}

/// Forwards a stream of events to the page in acknowledged batches (see
/// [`batch`]) until the stream ends.
pub fn spawn_forwarder(
    app: &AppHandle,
    rx: tokio::sync::mpsc::UnboundedReceiver<EventRecord>,
    period: std::time::Duration,
    on_events: Channel<Vec<BatchItem>>,
) -> tauri::async_runtime::JoinHandle<()> {
    let app = app.clone();
    let channel = on_events.id();
    let ack = app.state::<AppState>().acks.register(channel);
    tauri::async_runtime::spawn(async move {
        batch::forward(rx, period, ack, |b| {
            // A closed window is no reason to stop the build; its record stays on disk.
            let _ = on_events.send(events::fold(b));
        })
        .await;
        app.state::<AppState>().acks.remove(channel);
    })
}

/// The page drew the latest batch of channel `channel`.
#[tauri::command]
pub fn events_ack(state: State<'_, AppState>, channel: u32) {
    state.acks.ack(channel);
}

/// Stops a running build: the engine stops the running step, deletes its
/// instances and keeps nothing in the artifact store.
#[tauri::command]
pub fn cancel_build(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    match state.builds.lock().expect("builds lock").get(&id) {
        Some(token) => {
            token.cancel();
            Ok(())
        }
        None => Err(report(factory::Error::RunNotFound { id })),
    }
}
