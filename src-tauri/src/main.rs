//! The Slurm Factory desktop app: a window over the engine. Each command here
//! only translates between the web page and `factory`; the work is there.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod batch;
#[cfg(feature = "bench")]
mod bench;
mod builds;
mod caches;
mod commands;
mod state;

/// The commands the page may call (each also needs a permission in capabilities/).
macro_rules! handler {
    ($($extra:path),*) => {
        tauri::generate_handler![
            commands::doctor,
            commands::plan,
            commands::releases,
            commands::settings_get,
            commands::settings_set,
            commands::preset_save,
            commands::preset_load,
            commands::runs_list,
            commands::run_events,
            commands::run_log,
            commands::detect,
            commands::artifacts_list,
            commands::artifact_show,
            commands::artifact_export,
            commands::artifact_reveal,
            commands::artifact_delete,
            builds::start_build,
            builds::cancel_build,
            caches::cache_status,
            caches::cache_hits,
            caches::cache_clean,
            caches::cache_clean_all,
            builds::events_ack,
            $($extra),*
        ]
    };
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SLURM_FACTORY_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let state = match state::AppState::load() {
        Ok(s) => s,
        Err(e) => {
            // Settings that cannot load make every screen wrong; say why and stop.
            eprintln!("error: {e}\nhint: {}", e.hint());
            std::process::exit(e.kind().code().into());
        }
    };
    let builder = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .manage(state);
    #[cfg(feature = "bench")]
    let builder = builder
        .invoke_handler(handler![bench::bench_stream])
        .setup(|app| {
            tauri::Manager::add_capability(app, include_str!("../bench-capability.json"))?;
            Ok(())
        });
    #[cfg(not(feature = "bench"))]
    let builder = builder.invoke_handler(handler![]);
    builder
        .run(tauri::generate_context!())
        .expect("the app window could not start");
}
