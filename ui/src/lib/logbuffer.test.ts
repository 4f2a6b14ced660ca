import { describe, expect, it } from "vitest";
import { stripAnsi } from "./ansi";
import { LogBuffer, visibleRange } from "./logbuffer.svelte";
import { ingest } from "./runs.svelte";
import { newRun } from "./runstate";

describe("LogBuffer", () => {
  it("appends batches and searches without colour codes", () => {
    const b = new LogBuffer();
    b.push(["\x1b[0;94m==>\x1b[0m Installing lz4", "compiling"]);
    b.push(["==> Installing munge"]);
    expect(b.count).toBe(3);
    expect(b.search("==> installing", stripAnsi)).toEqual([0, 2]);
    expect(b.search("")).toEqual([]);
    b.clear();
    expect(b.count).toBe(0);
  });
});

describe("visibleRange", () => {
  it("draws only the rows in view plus overscan", () => {
    expect(visibleRange(0, 190, 19, 1_000_000, 5)).toEqual({ start: 0, end: 15 });
    expect(visibleRange(19 * 500_000, 190, 19, 1_000_000, 5)).toEqual({ start: 499_995, end: 500_015 });
    expect(visibleRange(0, 190, 19, 3, 5)).toEqual({ start: 0, end: 3 });
  });
});

describe("ingest", () => {
  it("sends log lines to the buffer and the rest to the run", () => {
    const entry = { view: newRun("k"), log: new LogBuffer(), live: true, logOffset: 0, loaded: true };
    ingest(entry, [
      { t_ms: 0, type: "run_started", run_id: "r9", artifact_name: "a", run_dir: "/r", stages: ["install"] },
      { t_ms: 1, type: "log", stage: "install", stream: "stdout", line: "hello" },
      { t_ms: 2, type: "log", stage: "install", stream: "stderr", line: "world" },
    ]);
    expect(entry.view.id).toBe("r9");
    expect(entry.log.lines).toEqual(["hello", "world"]);
  });
});
