// Small formatters shared by the pages. Sizes, hit rates, plan rows and run statuses
// come as text from the engine (the CLI prints the same); these are for what only the
// page shows: durations, dates, stage labels, percentages.
import type { Stage } from "./bindings";

/** 950 → "0.9 s", 75_000 → "1 min 15 s", 3_720_000 → "1 h 2 min". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h} h ${m} min`;
  return `${m} min ${s % 60} s`;
}

/** A date for tables: "2026-11-24 15:30" in local time. */
export function formatDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

const STAGE_LABELS: Record<Stage, string> = {
  preflight: "Preflight",
  provision: "Provision",
  "spack-setup": "Spack setup",
  concretize: "Concretize",
  sources: "Sources",
  install: "Install",
  "buildcache-push": "Buildcache push",
  package: "Package",
  verify: "Verify",
  export: "Export",
  publish: "Publish",
  cleanup: "Cleanup",
};

export function stageLabel(stage: Stage): string {
  return STAGE_LABELS[stage] ?? stage;
}

/** 0.4567 → "46%". */
export function formatPercent(fraction: number): string {
  return `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
}
