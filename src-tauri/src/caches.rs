//! The cache layers: their sizes, hit rates and cleaning them.

use factory::cache::{CacheOverview, LayerHits};
use factory::kinds::Layer;
use factory::lxd::Lxc;
use factory::units::Size;
use tauri::State;

use crate::commands::{report, CmdResult};
use crate::state::AppState;

#[tauri::command]
pub async fn cache_status(state: State<'_, AppState>) -> CmdResult<CacheOverview> {
    let settings = state.settings();
    factory::cache::overview(&settings, &Lxc::new(&settings))
        .await
        .map_err(report)
}

/// Each layer's hits and lookups summed over every recorded run.
#[tauri::command]
pub fn cache_hits(state: State<'_, AppState>) -> CmdResult<Vec<LayerHits>> {
    factory::cache::hit_rates(&state.settings()).map_err(report)
}

/// Empties one layer; returns the bytes freed.
#[tauri::command]
pub async fn cache_clean(state: State<'_, AppState>, layer: Layer) -> CmdResult<Size> {
    let settings = state.settings();
    factory::cache::clean(&settings, &Lxc::new(&settings), layer)
        .await
        .map(Size::from)
        .map_err(report)
}

/// Empties every layer; returns the bytes freed.
#[tauri::command]
pub async fn cache_clean_all(state: State<'_, AppState>) -> CmdResult<Size> {
    let settings = state.settings();
    let lxc = Lxc::new(&settings);
    let mut freed = 0;
    for layer in Layer::ALL {
        freed += factory::cache::clean(&settings, &lxc, layer)
            .await
            .map_err(report)?;
    }
    Ok(Size::from(freed))
}
