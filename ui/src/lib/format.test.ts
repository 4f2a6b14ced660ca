import { describe, expect, it } from "vitest";
import type { LayerHits } from "./bindings";
import { formatBytes, formatDuration, formatHitRate, formatPercent, stageLabel } from "./format";

describe("formatBytes", () => {
  it("uses binary units with one decimal below ten", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(4.5 * 1024 * 1024)).toBe("4.5 MiB");
    expect(formatBytes(356 * 1024 * 1024)).toBe("356 MiB");
    expect(formatBytes(-1)).toBe("–");
  });
});

describe("formatDuration", () => {
  it("reads naturally from milliseconds to hours", () => {
    expect(formatDuration(950)).toBe("0.9 s");
    expect(formatDuration(28_000)).toBe("28 s");
    expect(formatDuration(75_000)).toBe("1 min 15 s");
    expect(formatDuration(3_720_000)).toBe("1 h 2 min");
  });
});

describe("labels", () => {
  it("names stages and clamps percentages", () => {
    expect(stageLabel("buildcache-push")).toBe("Buildcache push");
    expect(formatPercent(0.456)).toBe("46%");
    expect(formatPercent(1.7)).toBe("100%");
  });
});

describe("formatHitRate", () => {
  const hits = (h: Partial<LayerHits>): LayerHits => ({ layer: "buildcache", runs: 0, hits: 0, lookups: 0, ...h });
  it("says how many lookups over how many runs", () => {
    expect(formatHitRate(hits({ runs: 4, hits: 5, lookups: 6 }), true)).toBe("hit rate 83% (5 of 6 lookups over 4 runs)");
    expect(formatHitRate(hits({ runs: 1, hits: 1, lookups: 1 }), true)).toBe("hit rate 100% (1 of 1 lookup over 1 run)");
    expect(formatHitRate(hits({ runs: 2, hits: 0, lookups: 2 }), true)).toBe("hit rate 0% (0 of 2 lookups over 2 runs)");
    // Half up, like `slurm-factory cache status`.
    expect(formatHitRate(hits({ runs: 8, hits: 1, lookups: 8 }), true)).toBe("hit rate 13% (1 of 8 lookups over 8 runs)");
  });
  it("tells an empty history from an unused layer", () => {
    expect(formatHitRate(hits({}), false)).toBe("no builds yet");
    expect(formatHitRate(hits({}), true)).toBe("not looked up by any build yet");
  });
});
