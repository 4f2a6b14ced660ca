// The app's commands are declared here so that each needs a permission: the
// web side may call exactly those its capability file grants.
const COMMANDS: &[&str] = &[
    "doctor",
    "plan",
    "releases",
    "settings_get",
    "settings_set",
    "preset_save",
    "preset_load",
    "runs_list",
    "run_events",
    "run_log",
    "detect",
    "artifacts_list",
    "artifact_show",
    "artifact_export",
    "artifact_reveal",
    "artifact_delete",
    "start_build",
    "cancel_build",
    "events_ack",
    "cache_status",
    "cache_hits",
    "cache_clean",
    "cache_clean_all",
];

fn main() {
    let mut commands = COMMANDS.to_vec();
    if std::env::var_os("CARGO_FEATURE_BENCH").is_some() {
        commands.push("bench_stream");
    }
    // tauri-build wants a 'static list; a build script may leak it.
    let commands: &'static [&str] = commands.leak();
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri-build");
}
