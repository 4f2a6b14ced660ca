import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, formatPercent, stageLabel } from "./format";

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
