//! The cache layers: their sizes, hit rates and cleaning them; the source
//! mirror of an air-gapped site: check, fill, export, import.

use std::path::PathBuf;

use factory::caches::cache::{CacheOverview, LayerHits};
use factory::caches::mirror::{Exported, Imported};
use factory::kinds::Layer;
use factory::pipeline::{BuildFlags, BuildOptions, MirrorResult};
use factory::request::BuildRequest;
use factory::units::Size;
use tauri::State;
use tauri_plugin_dialog::DialogExt;

use crate::commands::{ask_path, blocking, report, CmdResult, Pick};
use crate::state::AppState;

#[tauri::command]
pub async fn cache_status(state: State<'_, AppState>) -> CmdResult<CacheOverview> {
    let settings = state.settings();
    factory::caches::cache::overview(&settings, &settings.lxc())
        .await
        .map_err(report)
}

/// Each layer's hits and lookups summed over every recorded run.
#[tauri::command]
pub fn cache_hits(state: State<'_, AppState>) -> CmdResult<Vec<LayerHits>> {
    factory::caches::cache::hit_rates(&state.settings()).map_err(report)
}

/// Empties one layer; returns the bytes freed.
#[tauri::command]
pub async fn cache_clean(state: State<'_, AppState>, layer: Layer) -> CmdResult<Size> {
    let settings = state.settings();
    factory::caches::cache::clean(&settings, &settings.lxc(), layer)
        .await
        .map(Size::from)
        .map_err(report)
}

/// Empties every layer; returns the bytes freed.
#[tauri::command]
pub async fn cache_clean_all(state: State<'_, AppState>) -> CmdResult<Size> {
    let settings = state.settings();
    let lxc = settings.lxc();
    let mut freed = 0;
    for layer in Layer::ALL {
        freed += factory::caches::cache::clean(&settings, &lxc, layer)
            .await
            .map_err(report)?;
    }
    Ok(Size::from(freed))
}

/// Asks where to save (native dialog) and writes the offline bundle there;
/// `None` = the user cancelled.
#[tauri::command]
pub async fn mirror_export(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    sign: Option<String>,
) -> CmdResult<Option<Exported>> {
    let dialog = app
        .dialog()
        .file()
        .set_title("Export offline bundle")
        .add_filter("Offline bundle", &["zst"])
        .set_file_name("slurm-factory-site.tar.zst");
    let Some(path) = ask_path(dialog, Pick::Save).await? else {
        return Ok(None);
    };
    let settings = state.settings();
    // The dialog asked before replacing a file: that is the user's consent.
    blocking(move || factory::caches::mirror::export(&settings, &path, true, sign.as_deref()))
        .await
        .map(Some)
}

/// Asks for a bundle (native dialog), checks and imports it, and reloads the
/// settings it wrote; `None` = the user cancelled.
#[tauri::command]
pub async fn mirror_import(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    key: Option<PathBuf>,
) -> CmdResult<Option<Imported>> {
    let dialog = app
        .dialog()
        .file()
        .set_title("Import offline bundle")
        .add_filter("Offline bundle", &["zst"]);
    let Some(path) = ask_path(dialog, Pick::Open).await? else {
        return Ok(None);
    };
    let loaded = state.loaded();
    let imported = blocking(move || {
        factory::caches::mirror::import(
            &loaded.settings,
            &path,
            &loaded.config_path,
            key.as_deref(),
        )
    })
    .await?;
    state.reload().map_err(report)?;
    Ok(Some(imported))
}

/// The options of a mirror run for `request`: a build's, without verification.
fn mirror_options(
    state: &AppState,
    request: BuildRequest,
    offline: bool,
) -> CmdResult<BuildOptions> {
    Ok(BuildOptions {
        request: request
            .resolve(&state.defaults().map_err(report)?)
            .map_err(report)?,
        flags: BuildFlags {
            offline,
            verify: false,
            ..BuildFlags::default()
        },
    })
}

/// Solves `request` in a build instance and checks the mirror layer for every
/// source of its closure (`slurm-factory mirror check`). The run's log is on
/// the Runs page like a build's.
#[tauri::command]
pub async fn mirror_check(
    state: State<'_, AppState>,
    request: BuildRequest,
    offline: bool,
) -> CmdResult<MirrorResult> {
    let options = mirror_options(&state, request, offline)?;
    let settings = state.settings();
    factory::pipeline::mirror_check(
        &settings,
        options,
        std::sync::Arc::new(|_| {}),
        Default::default(),
    )
    .await
    .map_err(report)
}

/// Fills the mirror layer with `request`'s sources and snapshots Spack,
/// spack-packages and the wheels for export (`slurm-factory mirror create`);
/// the settings it wrote are reloaded.
#[tauri::command]
pub async fn mirror_create(
    state: State<'_, AppState>,
    request: BuildRequest,
    offline: bool,
) -> CmdResult<MirrorResult> {
    let options = mirror_options(&state, request, offline)?;
    let loaded = state.loaded();
    let result = factory::pipeline::mirror_create(
        &loaded.settings,
        options,
        &loaded.config_path,
        std::sync::Arc::new(|_| {}),
        Default::default(),
    )
    .await
    .map_err(report)?;
    state.reload().map_err(report)?;
    Ok(result)
}
