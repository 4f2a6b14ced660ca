// Typed calls to the app's commands. Every command's types come from the
// engine (bindings.ts); errors arrive as ErrorReport (message + hint).
import { invoke } from "@tauri-apps/api/core";
import type {
  Artifact,
  ArtifactSummary,
  BuildRequest,
  ErrorReport,
  EventRecord,
  ExportResult,
  HostReport,
  Layer,
  LayerHits,
  LayerStatus,
  LogPage,
  Overview,
  Plan,
  Release,
  Report,
  RunRecord,
} from "./bindings";

export function isErrorReport(e: unknown): e is ErrorReport {
  return typeof e === "object" && e !== null && "error" in e && "hint" in e;
}

/** Turns anything a command threw into a report the page can show. */
export function toReport(e: unknown): ErrorReport {
  if (isErrorReport(e)) return e;
  return { error: String(e), hint: "", kind: "internal", exit_code: 1 };
}

export const api = {
  doctor: () => invoke<Report>("doctor"),
  detect: () => invoke<HostReport>("detect"),
  plan: (request: BuildRequest) => invoke<Plan>("plan", { request }),
  releases: () => invoke<Release[]>("releases"),
  settingsGet: () => invoke<Overview>("settings_get"),
  settingsSet: (updates: Record<string, string>) => invoke<Overview>("settings_set", { updates }),
  presetSave: (request: BuildRequest) => invoke<string | null>("preset_save", { request }),
  presetLoad: () => invoke<BuildRequest | null>("preset_load"),
  runsList: () => invoke<RunRecord[]>("runs_list"),
  runEvents: (id: string) => invoke<EventRecord[]>("run_events", { id }),
  runLog: (id: string, offset: number, maxBytes: number) =>
    invoke<LogPage>("run_log", { id, offset, maxBytes }),
  artifactsList: () => invoke<ArtifactSummary[]>("artifacts_list"),
  artifactShow: (id: string) => invoke<Artifact>("artifact_show", { id }),
  artifactExport: (id: string) => invoke<ExportResult | null>("artifact_export", { id }),
  artifactReveal: (id: string) => invoke<void>("artifact_reveal", { id }),
  artifactDelete: (id: string) => invoke<void>("artifact_delete", { id }),
  cacheStatus: () => invoke<LayerStatus[]>("cache_status"),
  cacheHits: () => invoke<LayerHits[]>("cache_hits"),
  cacheClean: (layer: Layer) => invoke<number>("cache_clean", { layer }),
  cacheCleanAll: () => invoke<number>("cache_clean_all"),
};
