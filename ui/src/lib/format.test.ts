import { describe, expect, it } from "vitest";
import { formatDuration, formatPercent, stageLabel } from "./format";

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
