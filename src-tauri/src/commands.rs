//! The commands the web page calls. Each is a thin translation onto the
//! engine; errors reach the page as `ErrorReport`s (message + hint).

use std::collections::BTreeMap;
use std::path::PathBuf;

use factory::doctor::Report;
use factory::error::ErrorReport;
use factory::events::EventRecord;
use factory::hardware::HostReport;
use factory::pipeline::plan::Plan;
use factory::pipeline::BuildFlags;
use factory::request::presets::Preset;
use factory::request::BuildRequest;
use factory::settings::Overview;
use factory::store::artifacts::{Artifact, ArtifactSummary, ExportResult, SignatureReport, Store};
use factory::store::history::History;
use factory::store::runs::{LogPage, RunDir, RunSummary};
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;

use crate::state::AppState;

pub type CmdResult<T> = Result<T, ErrorReport>;

pub fn report(e: factory::Error) -> ErrorReport {
    ErrorReport::from(&e)
}

/// The largest log page one call returns; the viewer asks again for more.
const MAX_LOG_PAGE: usize = 4 << 20;

#[tauri::command]
pub async fn doctor(state: State<'_, AppState>) -> CmdResult<Report> {
    Ok(factory::doctor::run(&state.settings()).await)
}

/// This machine's CPU, GPUs and the suggested target, package and jobs.
#[tauri::command]
pub fn detect(state: State<'_, AppState>) -> HostReport {
    state.host.clone()
}

#[tauri::command]
pub fn plan(
    state: State<'_, AppState>,
    request: BuildRequest,
    flags: BuildFlags,
) -> CmdResult<Plan> {
    factory::pipeline::plan::plan(
        &request,
        &flags,
        &state.defaults().map_err(report)?,
        &state.settings(),
    )
    .map_err(report)
}

/// The toolchains of the templates (built-in and the user's): the OSes a
/// package can be built and verified on.
#[tauri::command]
pub fn toolchains(state: State<'_, AppState>) -> CmdResult<Vec<factory::toolchain::Toolchain>> {
    factory::recipe::Templates::load(state.settings().templates_dir.as_deref())
        .and_then(|t| t.toolchains())
        .map_err(report)
}

/// What a build does without flags (verified, nothing kept, zstd only): the
/// Build form starts from it.
#[tauri::command]
pub fn build_defaults() -> BuildFlags {
    factory::pipeline::BuildFlags::default()
}

/// The Slurm releases the catalogue knows (the templates dir's included),
/// newest first, judged today.
#[tauri::command]
pub fn releases(state: State<'_, AppState>) -> CmdResult<Vec<factory::request::catalog::Release>> {
    Ok(state
        .defaults()
        .map_err(report)?
        .catalog
        .releases()
        .to_vec())
}

#[tauri::command]
pub fn settings_get(state: State<'_, AppState>) -> CmdResult<Overview> {
    Ok(state.loaded().overview())
}

/// Why `value` cannot be `key`'s value (`None` when it can), as saving would say.
#[tauri::command]
pub fn settings_check(state: State<'_, AppState>, key: String, value: String) -> Option<String> {
    state.loaded().check_value(&key, &value)
}

/// Writes the changed keys to the config file and reloads everything.
#[tauri::command]
pub fn settings_set(
    state: State<'_, AppState>,
    updates: BTreeMap<String, String>,
) -> CmdResult<Overview> {
    let path = state.loaded().config_path;
    factory::settings::update_file(&path, &updates).map_err(report)?;
    Ok(state.reload().map_err(report)?.overview())
}

/// Asks where to save (native dialog) and writes the preset (the request and
/// the flags that differ from their defaults); `None` = the user cancelled.
#[tauri::command]
pub async fn preset_save(
    app: AppHandle,
    request: BuildRequest,
    flags: BuildFlags,
) -> CmdResult<Option<String>> {
    let dialog = app
        .dialog()
        .file()
        .set_title("Save build preset")
        .add_filter("Build preset (YAML)", &["yaml", "yml"])
        .set_file_name("slurm-preset.yaml");
    let Some(path) = ask_path(dialog, Pick::Save).await? else {
        return Ok(None);
    };
    factory::request::presets::save(&path, &Preset { request, flags }).map_err(report)?;
    Ok(Some(path.display().to_string()))
}

/// Asks for a preset file (native dialog) and reads it; `None` = the user cancelled.
#[tauri::command]
pub async fn preset_load(app: AppHandle) -> CmdResult<Option<Preset>> {
    let dialog = app
        .dialog()
        .file()
        .set_title("Load build preset")
        .add_filter("Build preset (YAML)", &["yaml", "yml"]);
    let Some(path) = ask_path(dialog, Pick::Open).await? else {
        return Ok(None);
    };
    factory::request::presets::load(&path)
        .map(Some)
        .map_err(report)
}

/// Which native file dialog to show.
pub enum Pick {
    Open,
    Save,
}

/// Shows a native file dialog and waits for it; `None` = the user cancelled.
pub async fn ask_path(
    dialog: tauri_plugin_dialog::FileDialogBuilder<tauri::Wry>,
    pick: Pick,
) -> CmdResult<Option<PathBuf>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let answer = move |p| {
        let _ = tx.send(p);
    };
    match pick {
        Pick::Open => dialog.pick_file(answer),
        Pick::Save => dialog.save_file(answer),
    }
    rx.await
        .ok()
        .flatten()
        .map(|p| {
            p.into_path().map_err(|e| {
                report(factory::Error::InvalidValue {
                    what: "chosen file",
                    value: String::new(),
                    reason: e.to_string(),
                })
            })
        })
        .transpose()
}

#[tauri::command]
pub fn runs_list(state: State<'_, AppState>) -> CmdResult<Vec<RunSummary>> {
    Ok(factory::store::runs::list(&state.settings().runs_dir())
        .into_iter()
        .map(Into::into)
        .collect())
}

/// The newest `last` runs (all when `None`) for the History page.
#[tauri::command]
pub fn runs_stats(state: State<'_, AppState>, last: Option<usize>) -> History {
    let settings = state.settings();
    factory::store::history::history(&settings.runs_dir(), &store(&state), last)
}

/// A run's stage events (no log lines), to draw its timeline.
#[tauri::command]
pub fn run_events(state: State<'_, AppState>, id: String) -> CmdResult<Vec<EventRecord>> {
    let run = RunDir::open(&state.settings().runs_dir(), &id).map_err(report)?;
    factory::store::runs::read_events(&run).map_err(report)
}

/// A page of a run's `build.log` from byte `offset`.
#[tauri::command]
pub fn run_log(
    state: State<'_, AppState>,
    id: String,
    offset: u64,
    max_bytes: usize,
) -> CmdResult<LogPage> {
    let run = RunDir::open(&state.settings().runs_dir(), &id).map_err(report)?;
    factory::store::runs::read_log(&run, offset, max_bytes.clamp(1, MAX_LOG_PAGE)).map_err(report)
}

pub fn store(state: &AppState) -> Store {
    Store::new(state.settings().artifacts_dir())
}

#[tauri::command]
pub fn artifacts_list(state: State<'_, AppState>) -> CmdResult<Vec<ArtifactSummary>> {
    store(&state).list().map_err(report)
}

/// Checks an artifact's archives and signatures (`artifacts verify`), with
/// the public key in the file `key`, else the user's keyring; with `signer`
/// each signature must be by that fingerprint.
#[tauri::command]
pub fn artifact_verify(
    state: State<'_, AppState>,
    id: String,
    key: Option<String>,
    signer: Option<String>,
) -> CmdResult<SignatureReport> {
    store(&state)
        .verify_signatures(
            &id,
            key.as_deref().map(std::path::Path::new),
            signer.as_deref(),
        )
        .map_err(report)
}

#[tauri::command]
pub fn artifact_show(state: State<'_, AppState>, id: String) -> CmdResult<Artifact> {
    store(&state).show(&id).map_err(report)
}

/// Asks where to save (native dialog, which itself asks before replacing a
/// file), then copies the archive there and re-verifies its sha256.
/// `None` = the user cancelled.
#[tauri::command]
pub async fn artifact_export(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
) -> CmdResult<Option<ExportResult>> {
    let store = store(&state);
    let artifact = store.show(&id).map_err(report)?;
    let suggested = artifact
        .manifest
        .archives
        .first()
        .map(|a| a.file.clone())
        .unwrap_or_else(|| format!("{}.tar.zst", artifact.manifest.name));
    let dialog = app
        .dialog()
        .file()
        .set_title("Export package")
        .set_file_name(&suggested);
    let Some(path) = ask_path(dialog, Pick::Save).await? else {
        return Ok(None);
    };
    // The dialog asked before replacing a file: that is the user's consent.
    export_to(store, id, path).await.map(Some)
}

/// What an export does once it knows where: copy and re-verify, off the
/// async threads.
pub async fn export_to(store: Store, id: String, path: PathBuf) -> CmdResult<ExportResult> {
    blocking(move || store.export(&id, &path, true)).await
}

/// Runs file work (copies, archives) off the async runtime's threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> factory::Result<T> + Send + 'static,
) -> CmdResult<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| {
            report(factory::Error::io(
                "working on files",
                PathBuf::new(),
                std::io::Error::other(e.to_string()),
            ))
        })?
        .map_err(report)
}

/// Shows the artifact's files in the desktop's file manager.
#[tauri::command]
pub fn artifact_reveal(app: AppHandle, state: State<'_, AppState>, id: String) -> CmdResult<()> {
    let artifact = store(&state).show(&id).map_err(report)?;
    let target = artifact
        .manifest
        .archives
        .first()
        .map(|a| artifact.dir.join(&a.file))
        .unwrap_or(artifact.dir);
    app.opener().reveal_item_in_dir(&target).map_err(|e| {
        report(factory::Error::io(
            "showing in the file manager",
            target,
            std::io::Error::other(e.to_string()),
        ))
    })
}

#[tauri::command]
pub fn artifact_delete(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    store(&state).delete(&id).map_err(report)
}
