import { describe, expect, it } from "vitest";
import { toReport } from "./api";

describe("toReport", () => {
  it("keeps the engine's reports as they are", () => {
    const r = { error: "no run `x`", hint: "see `runs list`", remedy: [], kind: "usage" as const, exit_code: 2 };
    expect(toReport(r)).toBe(r);
  });

  it("cuts Tauri's refusals that quote a whole argument", () => {
    const r = toReport(`invalid args \`layer\`: unknown variant \`${"a".repeat(100_000)}\``);
    expect(r.error.length).toBeLessThan(400);
    expect(r.error).toMatch(/… \(100\d+ characters\)$/);
    expect(toReport("short").error).toBe("short");
  });
});
