// A run as the Runs page draws it, built from the engine's event stream.
// The same reducer serves live runs (channel batches) and past runs
// (events.jsonl read back), so both look alike.
import type { ErrorReport, EventRecord, RunStatus, Stage, StageOutcome } from "./bindings";

export type StageStatus = "pending" | "running" | StageOutcome;
/** The engine's status of a run, or "queued" before its first event arrives. */
export type RunViewStatus = "queued" | RunStatus;

export interface StageView {
  stage: Stage;
  status: StageStatus;
  elapsed_ms?: number;
  detail?: string;
}

export interface RunView {
  id: string;
  artifact_name: string;
  status: RunViewStatus;
  stages: StageView[];
  progress: { stage: Stage; done: number; total: number; label: string } | null;
  /** What is happening now, for the card: "install: munge". */
  current: string;
  warnings: string[];
  error: ErrorReport | null;
  artifact_id: string | null;
  elapsed_ms: number;
}

export function newRun(id = "", artifact_name = ""): RunView {
  return {
    id,
    artifact_name,
    status: "queued",
    stages: [],
    progress: null,
    current: "",
    warnings: [],
    error: null,
    artifact_id: null,
    elapsed_ms: 0,
  };
}

/** Applies one event (log lines are ignored here: they go to the log buffer). */
export function applyEvent(run: RunView, rec: EventRecord): void {
  run.elapsed_ms = Math.max(run.elapsed_ms, rec.t_ms);
  switch (rec.type) {
    case "run_started":
      run.id = rec.run_id;
      run.artifact_name = rec.artifact_name;
      run.status = "running";
      run.stages = rec.stages.map((stage) => ({ stage, status: "pending" }));
      break;
    case "stage_started": {
      const s = stageOf(run, rec.stage);
      s.status = "running";
      run.current = rec.stage;
      break;
    }
    case "stage_finished": {
      const s = stageOf(run, rec.stage);
      s.status = rec.outcome;
      s.elapsed_ms = rec.elapsed_ms;
      if (rec.detail) s.detail = rec.detail;
      break;
    }
    case "progress":
      run.progress = { stage: rec.stage, done: rec.done, total: rec.total, label: rec.label };
      run.current = rec.label ? `${rec.stage}: ${rec.label}` : rec.stage;
      break;
    case "warning":
      run.warnings.push(rec.message);
      break;
    case "run_finished":
      run.status = rec.outcome;
      run.elapsed_ms = rec.elapsed_ms;
      run.artifact_id = rec.artifact_id ?? null;
      run.error = rec.error ?? null;
      run.current = "";
      for (const s of run.stages) if (s.status === "running") s.status = rec.outcome === "cancelled" ? "cancelled" : "failed";
      break;
    case "log":
      break;
  }
}

function stageOf(run: RunView, stage: Stage): StageView {
  let s = run.stages.find((x) => x.stage === stage);
  if (!s) {
    s = { stage, status: "pending" };
    run.stages.push(s);
  }
  return s;
}

/**
 * Overall progress 0–1: each stage an equal share, the running stage
 * counted by its progress events (install: packages done of total).
 */
export function overallProgress(run: RunView): number {
  if (run.status === "succeeded") return 1;
  const n = run.stages.length;
  if (n === 0) return 0;
  let sum = 0;
  for (const s of run.stages) {
    if (s.status === "pending") continue;
    if (s.status === "running") {
      const p = run.progress;
      if (p && p.stage === s.stage && p.total > 0) sum += Math.min(1, p.done / p.total);
    } else sum += 1;
  }
  return sum / n;
}

/** Whether a run still changes. */
export function isActive(run: RunView): boolean {
  return run.status === "queued" || run.status === "running";
}
