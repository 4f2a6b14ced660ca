// The Build form's state and its translation into the engine's BuildRequest.
import type { BuildRequest, Compiler, GpuVendor, Suggestions } from "./bindings";

export type PackageKind = "default" | "gpu" | "minimal";

export interface FormState {
  slurm_version: string;
  kind: PackageKind;
  vendor: GpuVendor;
  gpu_arch: string;
  /** Empty: the engine's suggestion for this machine. */
  target: string;
  /** Empty: one job per core (the engine's suggestion). */
  jobs: string;
  compiler: Compiler;
  /** Empty: the toolchain setting, else the image settings as they are. */
  toolchain: string;
}

export function emptyForm(): FormState {
  return { slurm_version: "", kind: "default", vendor: "cuda", gpu_arch: "", target: "", jobs: "", compiler: "system", toolchain: "" };
}

/** The request the engine checks; it, not the form, decides what is valid. */
export function toRequest(f: FormState): BuildRequest {
  const jobs = f.jobs.trim() === "" ? null : Number(f.jobs);
  return {
    slurm_version: f.slurm_version.trim(),
    gpu: f.kind === "gpu" ? f.vendor : null,
    minimal: f.kind === "minimal",
    target: f.target.trim() === "" ? null : f.target.trim(),
    gpu_arch:
      f.kind === "gpu"
        ? f.gpu_arch
            .split(/[,\s]+/)
            .map((a) => a.trim())
            .filter(Boolean)
        : [],
    jobs: jobs === null || Number.isNaN(jobs) ? null : jobs,
    compiler: f.compiler,
    toolchain: f.toolchain === "" ? null : f.toolchain,
  };
}

/** A loaded preset back into the form. */
export function fromRequest(r: BuildRequest): FormState {
  return {
    slurm_version: r.slurm_version,
    kind: r.minimal ? "minimal" : r.gpu ? "gpu" : "default",
    vendor: r.gpu ?? "cuda",
    gpu_arch: r.gpu_arch.join(","),
    target: r.target ?? "",
    jobs: r.jobs === null ? "" : String(r.jobs),
    compiler: r.compiler,
    toolchain: r.toolchain ?? "",
  };
}

/** Pre-fills target, jobs and package type with what detection suggests. */
export function fromSuggestions(f: FormState, s: Suggestions): FormState {
  const gpu = s.package.value.gpu;
  return {
    ...f,
    target: s.target.value,
    jobs: String(s.jobs.value),
    kind: gpu ? "gpu" : f.kind === "minimal" ? "minimal" : "default",
    vendor: gpu ?? f.vendor,
    gpu_arch: gpu ? s.package.value.gpu_arch.join(",") : f.gpu_arch,
  };
}
