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
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build");
}
