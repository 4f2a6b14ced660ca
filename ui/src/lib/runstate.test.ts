import { describe, expect, it } from "vitest";
import type { EventRecord, Stage } from "./bindings";
import { applyEvent, isActive, newRun, overallProgress } from "./runstate";

const stages: Stage[] = ["preflight", "install", "cleanup"];

function run(events: EventRecord[]) {
  const r = newRun();
  for (const e of events) applyEvent(r, e);
  return r;
}

const started: EventRecord = { t_ms: 0, type: "run_started", run_id: "r1", artifact_name: "slurm-a", run_dir: "/x", stages, lxd_remote: "local" };

describe("applyEvent", () => {
  it("follows stages and counts install progress in the overall bar", () => {
    const r = run([
      started,
      { t_ms: 10, type: "stage_started", stage: "preflight" },
      { t_ms: 20, type: "stage_finished", stage: "preflight", outcome: "done", elapsed_ms: 10 },
      { t_ms: 30, type: "stage_started", stage: "install" },
      { t_ms: 40, type: "progress", stage: "install", done: 3, total: 6, label: "munge" },
    ]);
    expect(r.id).toBe("r1");
    expect(r.status).toBe("running");
    expect(r.stages.map((s) => s.status)).toEqual(["done", "running", "pending"]);
    expect(r.current).toBe("install: munge");
    expect(overallProgress(r)).toBeCloseTo((1 + 0.5) / 3);
    expect(isActive(r)).toBe(true);
  });

  it("marks a cancelled run and its running stage", () => {
    const r = run([
      started,
      { t_ms: 10, type: "stage_started", stage: "install" },
      { t_ms: 50, type: "run_finished", outcome: "cancelled", elapsed_ms: 50 },
    ]);
    expect(r.status).toBe("cancelled");
    expect(r.stages[1].status).toBe("cancelled");
    expect(isActive(r)).toBe(false);
    expect(r.elapsed_ms).toBe(50);
  });

  it("keeps the error report of a failed run", () => {
    const r = run([
      started,
      {
        t_ms: 5,
        type: "run_finished",
        outcome: "failed",
        elapsed_ms: 5,
        error: { error: "LXD storage pool `x` does not exist", hint: "create it", remedy: [], kind: "environment", exit_code: 4 },
      },
    ]);
    expect(r.error?.hint).toBe("create it");
    expect(overallProgress(r)).toBe(0);
  });

  it("counts a succeeded run as complete", () => {
    const r = run([started, { t_ms: 9, type: "run_finished", outcome: "succeeded", elapsed_ms: 9, artifact_id: "a1" }]);
    expect(overallProgress(r)).toBe(1);
    expect(r.artifact_id).toBe("a1");
  });
});
