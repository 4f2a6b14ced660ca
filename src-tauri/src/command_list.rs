// The app's commands, once. Each line names the Rust function the page may call,
// the arguments the page sends (as TypeScript types, from ui/src/lib/bindings.ts)
// and what it gets back. From this list come the invoke handler (main.rs), the
// permissions tauri-build declares (build.rs), the capability that grants them
// (capabilities/default.json) and the page's typed wrappers (ui/src/lib/commands.ts);
// a test fails when the two generated files are stale (UPDATE_BINDINGS=1 rewrites them).
// Arguments the shell itself injects (AppHandle, State) are not listed.
app_commands! {
    commands::doctor() -> "Report";
    commands::detect() -> "HostReport";
    commands::plan(request: "BuildRequest", flags: "BuildFlags") -> "Plan";
    commands::releases() -> "Release[]";
    commands::toolchains() -> "Toolchain[]";
    commands::build_defaults() -> "BuildFlags";
    commands::settings_get() -> "Overview";
    commands::settings_check(key: "string", value: "string") -> "string | null";
    commands::settings_set(updates: "Record<string, string>") -> "Overview";
    commands::preset_save(request: "BuildRequest", flags: "BuildFlags") -> "string | null";
    commands::preset_load() -> "Preset | null";
    commands::runs_list() -> "RunSummary[]";
    commands::runs_stats(last: "number | null") -> "History";
    commands::run_events(id: "string") -> "EventRecord[]";
    commands::run_log(id: "string", offset: "number", max_bytes: "number") -> "LogPage";
    commands::artifacts_list() -> "ArtifactSummary[]";
    commands::artifact_show(id: "string") -> "Artifact";
    commands::artifact_export(id: "string") -> "ExportResult | null";
    commands::artifact_reveal(id: "string") -> "void";
    commands::artifact_delete(id: "string") -> "void";
    commands::artifact_verify(id: "string", key: "string | null", signer: "string | null") -> "SignatureReport";
    builds::start_build(request: "BuildRequest", flags: "BuildFlags", on_events: "Channel<BatchItem[]>") -> "string";
    builds::artifact_publish(id: "string", options: "PublishOptions", offline: "boolean", on_events: "Channel<BatchItem[]>") -> "string";
    builds::cancel_build(id: "string") -> "void";
    builds::events_ack(channel: "number") -> "void";
    matrices::matrix_check(text: "string") -> "MatrixBuild[]";
    matrices::matrix_servers(text: "string", parallel: "number | null") -> "Server[]";
    matrices::matrix_run(text: "string", parallel: "number | null", resume: "boolean", flags: "BuildFlags", on_events: "Channel<MatrixEvent>") -> "BuildOutcome[]";
    matrices::matrix_cancel() -> "void";
    caches::cache_status() -> "CacheOverview";
    caches::cache_hits() -> "LayerHits[]";
    caches::cache_clean(layer: "Layer") -> "Size";
    caches::cache_clean_all() -> "Size";
    caches::mirror_export(sign: "string | null") -> "Exported | null";
    caches::mirror_import(key: "string | null") -> "Imported | null";
    caches::mirror_check(request: "BuildRequest", offline: "boolean") -> "MirrorResult";
    caches::mirror_create(request: "BuildRequest", offline: "boolean") -> "MirrorResult";
}
