import { describe, expect, it } from "vitest";
import { parseAnsi, stripAnsi } from "./ansi";

describe("parseAnsi", () => {
  it("leaves plain lines alone", () => {
    expect(parseAnsi("==> Installing lz4")).toEqual([{ text: "==> Installing lz4" }]);
  });

  it("styles Spack's coloured output", () => {
    // What Spack prints for "==> Installing" with colour on.
    const segs = parseAnsi("\x1b[0;94m==>\x1b[0m Installing \x1b[0;32mlz4@1.9.4\x1b[0m");
    expect(segs).toEqual([
      { text: "==>", fg: 12 },
      { text: " Installing " },
      { text: "lz4@1.9.4", fg: 2 },
    ]);
  });

  it("handles bold, 256 and true colours, and resets", () => {
    const segs = parseAnsi("\x1b[1;38;5;196mred\x1b[22;48;2;1;2;3mbg\x1b[39;49mplain\x1b[m");
    expect(segs[0]).toEqual({ text: "red", bold: true, fg: "rgb(255,0,0)" });
    expect(segs[1]).toEqual({ text: "bg", fg: "rgb(255,0,0)", bg: "rgb(1,2,3)" });
    expect(segs[2]).toEqual({ text: "plain" });
  });

  it("drops cursor movement and carriage returns", () => {
    expect(stripAnsi("\x1b[2K\rprogress 50%\x1b[1A")).toBe("progress 50%");
  });
});
