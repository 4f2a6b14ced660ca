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
mod matrices;
mod state;

/// One of the app's commands as the page sees it: its name, its arguments
/// and its result as TypeScript types.
#[cfg_attr(not(test), allow(dead_code))]
struct Command {
    module: &'static str,
    name: &'static str,
    args: &'static [(&'static str, &'static str)],
    returns: &'static str,
}

/// The invoke handler and [`COMMANDS`], from the one list in command_list.rs.
macro_rules! app_commands {
    ($($module:ident :: $name:ident ($($arg:ident : $ty:literal),*) -> $ret:literal;)*) => {
        #[cfg_attr(not(test), allow(dead_code))]
        const COMMANDS: &[Command] = &[$(Command {
            module: stringify!($module),
            name: stringify!($name),
            args: &[$((stringify!($arg), $ty)),*],
            returns: $ret,
        }),*];

        /// What the page may invoke: every listed command.
        #[cfg(not(feature = "bench"))]
        fn invoke_handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($module::$name),*]
        }

        /// Benchmark builds add the log streamer and a dialog-free export.
        #[cfg(feature = "bench")]
        fn invoke_handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($module::$name,)* bench::bench_stream, bench::bench_export]
        }
    };
}
include!("command_list.rs");

#[cfg(test)]
mod generated;
#[cfg(test)]
mod signatures;

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
    let builder = builder.setup(|app| {
        tauri::Manager::add_capability(app, include_str!("../bench-capability.json"))?;
        Ok(())
    });
    builder
        .invoke_handler(invoke_handler())
        .run(tauri::generate_context!())
        .expect("the app window could not start");
}
