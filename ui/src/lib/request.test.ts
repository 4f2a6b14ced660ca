import { describe, expect, it } from "vitest";
import { emptyForm, fromRequest, fromSuggestions, toRequest } from "./request";

describe("form ⇄ request", () => {
  it("leaves open what the engine should suggest", () => {
    expect(toRequest(emptyForm())).toEqual({
      slurm_version: "",
      gpu: null,
      minimal: false,
      target: null,
      gpu_arch: [],
      jobs: null,
      compiler: "system",
      toolchain: null,
    });
  });

  it("splits GPU archs and round-trips a preset", () => {
    const f = { ...emptyForm(), kind: "gpu" as const, vendor: "rocm" as const, gpu_arch: "gfx90a, gfx942", jobs: "8", target: " zen3 " };
    const r = toRequest(f);
    expect(r.gpu).toBe("rocm");
    expect(r.gpu_arch).toEqual(["gfx90a", "gfx942"]);
    expect(r.jobs).toBe(8);
    expect(r.target).toBe("zen3");
    expect(toRequest(fromRequest(r))).toEqual(r);
  });

  it("drops GPU archs for CPU packages", () => {
    expect(toRequest({ ...emptyForm(), kind: "minimal", gpu_arch: "80" })).toMatchObject({ minimal: true, gpu: null, gpu_arch: [] });
  });
});

describe("fromSuggestions", () => {
  const reason = "why";
  it("fills target, jobs and the GPU package a machine suggests", () => {
    const f = fromSuggestions(emptyForm(), {
      target: { value: "zen3", reason },
      portable_target: { value: "x86_64_v3", reason },
      package: { value: { gpu: "cuda", gpu_arch: ["80", "90"] }, reason },
      jobs: { value: 16, reason },
    });
    expect(toRequest(f)).toMatchObject({ target: "zen3", jobs: 16, gpu: "cuda", gpu_arch: ["80", "90"] });
  });

  it("keeps a CPU machine on the default package", () => {
    const f = fromSuggestions(emptyForm(), {
      target: { value: "x86_64_v3", reason },
      portable_target: { value: "x86_64_v3", reason },
      package: { value: { gpu: null, gpu_arch: [] }, reason },
      jobs: { value: 2, reason },
    });
    expect(f.kind).toBe("default");
  });
});
