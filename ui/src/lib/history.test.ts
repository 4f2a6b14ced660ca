import { describe, expect, it } from "vitest";
import type { History, RunStats } from "./bindings";
import { cacheRates, failuresByStage, packageSizes, runTime, stageStack } from "./history";

function run(id: string, over: Partial<RunStats>): RunStats {
  return {
    id,
    artifact_name: "slurm-25.05-minimal-x86_64_v3",
    started: "2026-12-03T07:00:00Z",
    status: "succeeded",
    elapsed_ms: 10_000,
    stages: [],
    stopped_at: null,
    cache: [],
    package_bytes: null,
    artifact_id: null,
    ...over,
  };
}

const history: History = {
  runs: [
    run("20261203-070000-aaaa", {
      stages: [
        { stage: "provision", outcome: "done", elapsed_ms: 3000 },
        { stage: "install", outcome: "done", elapsed_ms: 5000 },
      ],
      cache: [{ layer: "buildcache", hits: 0, lookups: 4 }],
      package_bytes: 2 * 2 ** 20,
    }),
    run("20261203-071500-bbbb", {
      status: "failed",
      stopped_at: "verify",
      stages: [
        { stage: "provision", outcome: "cached", elapsed_ms: 1000 },
        { stage: "verify", outcome: "failed", elapsed_ms: 500 },
      ],
      cache: [{ layer: "buildcache", hits: 3, lookups: 4 }, { layer: "locks", hits: 1, lookups: 1 }],
    }),
    run("20261203-073000-cccc", { artifact_name: "other", package_bytes: 2 ** 20 }),
  ],
  failures: [{ stage: "verify", failed: 1 }],
  damaged: [],
};

describe("history plots", () => {
  it("stacks stage seconds cumulatively in pipeline order", () => {
    const s = stageStack(history);
    expect(s.stages).toEqual(["provision", "install", "verify"]);
    expect(s.data[0]).toEqual([0, 1, 2]);
    expect(s.data[1]).toEqual([3, 1, null]);
    expect(s.data[2]).toEqual([8, 1, null]);
    expect(s.data[3]).toEqual([8, 1.5, null]);
  });

  it("gives hit rates per layer, with gaps where a run did not look", () => {
    const r = cacheRates(history);
    expect(r.layers).toEqual(["buildcache", "locks"]);
    expect(r.data[1]).toEqual([0, 75, null]);
    expect(r.data[2]).toEqual([null, 100, null]);
  });

  it("gives one size series per artifact name, in MiB", () => {
    const s = packageSizes(history);
    expect(s.names).toEqual(["slurm-25.05-minimal-x86_64_v3", "other"]);
    expect(s.unit).toBe("MiB");
    expect(s.data[1]).toEqual([2, null, null]);
    expect(s.data[2]).toEqual([null, null, 1]);
  });

  it("gives small packages in KiB", () => {
    const small: History = { ...history, runs: [run("20261203-070000-aaaa", { package_bytes: 5632 })] };
    expect(packageSizes(small)).toMatchObject({ unit: "KiB", data: [[0], [5.5]] });
  });

  it("counts failures by stage and labels runs by their time", () => {
    expect(failuresByStage(history)).toEqual({ stages: ["Verify"], data: [[0], [1]] });
    expect(runTime("20261203-071500-bbbb")).toBe("07:15:00");
  });
});
