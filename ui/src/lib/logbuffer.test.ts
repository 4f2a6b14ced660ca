import { describe, expect, it } from "vitest";
import { stripAnsi } from "./ansi";
import { LogBuffer, MAX_SCROLL_PX, scrollHeight, scrollTopFor, topRow, visibleRange } from "./logbuffer.svelte";
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
    expect(visibleRange(0, 190, 19, 100_000, 5)).toEqual({ start: 0, end: 16, offset: 0 });
    expect(visibleRange(19 * 50_000, 190, 19, 100_000, 5)).toEqual({ start: 49_995, end: 50_016, offset: 19 * 49_995 });
    expect(visibleRange(0, 190, 19, 3, 5)).toEqual({ start: 0, end: 3, offset: 0 });
  });

  it("maps the capped scroll area onto every line of a huge log", () => {
    const count = 5_000_000;
    const view = 760;
    expect(scrollHeight(count, 19)).toBe(MAX_SCROLL_PX);
    // The bottom of the scroll area shows the last line, the top the first.
    const bottom = MAX_SCROLL_PX - view;
    const r = visibleRange(bottom, view, 19, count, 0);
    expect(r.end).toBe(count);
    expect(r.start + view / 19).toBeCloseTo(count, 0);
    // The rows are drawn where the viewport is.
    expect(r.offset).toBeCloseTo(bottom, 0);
    expect(visibleRange(0, view, 19, count, 0).start).toBe(0);
    // Revealing a line puts it at the top, at any depth.
    for (const line of [0, 1_234_567, 4_999_000]) {
      expect(topRow(scrollTopFor(line, view, 19, count), view, 19, count)).toBeCloseTo(line, 3);
    }
  });
});

describe("ingest", () => {
  it("sends log lines to the buffer and the rest to the run", () => {
    const entry = { view: newRun("k"), log: new LogBuffer(), live: true, logOffset: 0, loaded: true };
    ingest(entry, [
      { t_ms: 0, type: "run_started", run_id: "r9", artifact_name: "a", run_dir: "/r", stages: ["install"], lxd_remote: "local" },
      { t_ms: 1, lines: ["hello", "world"] },
      { t_ms: 2, type: "stage_started", stage: "install" },
      { t_ms: 3, lines: ["again"] },
    ]);
    expect(entry.view.id).toBe("r9");
    expect(entry.view.stages[0].status).toBe("running");
    expect(entry.log.lines).toEqual(["hello", "world", "again"]);
  });
});
