import { describe, expect, it } from "vitest";
import type { Remedy } from "./bindings";
import { showRemedy } from "./remedy";

describe("showRemedy", () => {
  it("names the app's field and page where the CLI names a flag and a command", () => {
    const remedy: Remedy = [
      { kind: "text", text: "pass " },
      { kind: "option", option: "jobs", value: "N" },
      { kind: "text", text: " with N between 1 and 1024; " },
      { kind: "command", command: "doctor", args: null },
      { kind: "text", text: " checks; set " },
      { kind: "setting", key: "storage_pool" },
      { kind: "text", text: " or run " },
      { kind: "code", code: "lxd init" },
    ];
    const shown = showRemedy(remedy);
    const text = shown.map((p) => p.text).join("");
    expect(text).toBe("pass Build jobs (Build page) with N between 1 and 1024; the Doctor page checks; set the storage_pool setting (Settings page) or run lxd init");
    expect(text).not.toContain("--");
    expect(text).not.toContain("slurm-factory");
    expect(shown.filter((p) => p.code).map((p) => p.text)).toEqual(["lxd init"]);
  });

  it("says which GPU vendor", () => {
    const shown = showRemedy([{ kind: "option", option: "gpu", value: "cuda" }]);
    expect(shown[0].text).toContain("CUDA");
  });

  it("names a build flag by its label and group, as the Advanced form shows it", () => {
    const shown = showRemedy([{ kind: "option", option: "keep_on_failure", value: null }]);
    expect(shown[0].text).toBe("“Keep the build container when the build fails” (Build page, Advanced: Build)");
    const from = showRemedy([{ kind: "option", option: "from_credentials", value: "FILE" }]);
    expect(from[0].text).toBe("“Login” (Build page, Advanced: Installing from published buildcaches)");
  });
});
