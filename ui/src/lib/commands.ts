// Generated from src-tauri/src/command_list.rs, the app's one list of commands.
// Do not edit: run `UPDATE_BINDINGS=1 cargo test -p slurm-factory-app generated`.
import { type Channel, invoke } from "@tauri-apps/api/core";
import type { Artifact, ArtifactSummary, BatchItem, BuildFlags, BuildRequest, CacheOverview, EventRecord, ExportResult, Exported, History, HostReport, Imported, Layer, LayerHits, LogPage, MirrorResult, OsToolchain, Overview, Plan, Release, Report, RunSummary, Size } from "./bindings";

export const commands = {
  doctor: () => invoke<Report>("doctor"),
  detect: () => invoke<HostReport>("detect"),
  plan: (request: BuildRequest) => invoke<Plan>("plan", { request }),
  releases: () => invoke<Release[]>("releases"),
  toolchains: () => invoke<OsToolchain[]>("toolchains"),
  buildDefaults: () => invoke<BuildFlags>("build_defaults"),
  settingsGet: () => invoke<Overview>("settings_get"),
  settingsCheck: (key: string, value: string) => invoke<string | null>("settings_check", { key, value }),
  settingsSet: (updates: Record<string, string>) => invoke<Overview>("settings_set", { updates }),
  presetSave: (request: BuildRequest) => invoke<string | null>("preset_save", { request }),
  presetLoad: () => invoke<BuildRequest | null>("preset_load"),
  runsList: () => invoke<RunSummary[]>("runs_list"),
  runsStats: (last: number | null) => invoke<History>("runs_stats", { last }),
  runEvents: (id: string) => invoke<EventRecord[]>("run_events", { id }),
  runLog: (id: string, offset: number, maxBytes: number) => invoke<LogPage>("run_log", { id, offset, maxBytes }),
  artifactsList: () => invoke<ArtifactSummary[]>("artifacts_list"),
  artifactShow: (id: string) => invoke<Artifact>("artifact_show", { id }),
  artifactExport: (id: string) => invoke<ExportResult | null>("artifact_export", { id }),
  artifactReveal: (id: string) => invoke<void>("artifact_reveal", { id }),
  artifactDelete: (id: string) => invoke<void>("artifact_delete", { id }),
  startBuild: (request: BuildRequest, flags: BuildFlags, onEvents: Channel<BatchItem[]>) => invoke<string>("start_build", { request, flags, onEvents }),
  cancelBuild: (id: string) => invoke<void>("cancel_build", { id }),
  eventsAck: (channel: number) => invoke<void>("events_ack", { channel }),
  cacheStatus: () => invoke<CacheOverview>("cache_status"),
  cacheHits: () => invoke<LayerHits[]>("cache_hits"),
  cacheClean: (layer: Layer) => invoke<Size>("cache_clean", { layer }),
  cacheCleanAll: () => invoke<Size>("cache_clean_all"),
  mirrorExport: () => invoke<Exported | null>("mirror_export"),
  mirrorImport: () => invoke<Imported | null>("mirror_import"),
  mirrorCheck: (request: BuildRequest, offline: boolean) => invoke<MirrorResult>("mirror_check", { request, offline }),
  mirrorCreate: (request: BuildRequest, offline: boolean) => invoke<MirrorResult>("mirror_create", { request, offline }),
};
