// Generated from the engine's Rust types (crates/factory/src/bindings.rs).
// Do not edit: run `UPDATE_BINDINGS=1 cargo test -p factory --features ts bindings`.

export type ExitKind = "usage" | "config" | "environment" | "build" | "cancelled" | "internal";

export type ErrorReport = { error: string, hint: string, kind: ExitKind, exit_code: number, };

export type Stage = "preflight" | "provision" | "spack-setup" | "concretize" | "install" | "buildcache-push" | "package" | "verify" | "export" | "cleanup";

export type Stream = "stdout" | "stderr";

export type StageOutcome = "done" | "cached" | "skipped" | "failed" | "cancelled";

export type Outcome = "succeeded" | "failed" | "cancelled";

export type BuildEvent = { "type": "run_started", run_id: string, artifact_name: string, run_dir: string, stages: Array<Stage>, } | { "type": "stage_started", stage: Stage, } | { "type": "stage_finished", stage: Stage, outcome: StageOutcome, elapsed_ms: number, 
/**
 * A short note: "base image sf-base-1a2b reused", "3 of 6 from buildcache".
 */
detail?: string | null, } | { "type": "progress", stage: Stage, done: number, total: number, label: string, } | { "type": "log", stage: Stage, stream: Stream, line: string, } | { "type": "warning", stage: Stage, message: string, } | { "type": "run_finished", outcome: Outcome, elapsed_ms: number, artifact_id?: string | null, error?: ErrorReport | null, };

export type EventRecord = { t_ms: number, } & ({ "type": "run_started", run_id: string, artifact_name: string, run_dir: string, stages: Array<Stage>, } | { "type": "stage_started", stage: Stage, } | { "type": "stage_finished", stage: Stage, outcome: StageOutcome, elapsed_ms: number, 
/**
 * A short note: "base image sf-base-1a2b reused", "3 of 6 from buildcache".
 */
detail?: string | null, } | { "type": "progress", stage: Stage, done: number, total: number, label: string, } | { "type": "log", stage: Stage, stream: Stream, line: string, } | { "type": "warning", stage: Stage, message: string, } | { "type": "run_finished", outcome: Outcome, elapsed_ms: number, artifact_id?: string | null, error?: ErrorReport | null, });

export type Release = { 
/**
 * The version users type: `25.05`.
 */
slurm: string, 
/**
 * Spack's `slurm` package version: `25-05-1-1`.
 */
spack: string, default: boolean, };

export type GpuVendor = "cuda" | "rocm";

export type Compiler = "system" | "spack-gcc";

export type BuildRequest = { 
/**
 * `25.05`, `24.11`, … or a full Spack version such as `24-11-6-1`. Empty = default.
 */
slurm_version: string, 
/**
 * GPU support; `None` builds the CPU package.
 */
gpu: GpuVendor | null, 
/**
 * Slurm alone, fewest dependencies, no OpenMPI.
 */
minimal: boolean, 
/**
 * Spack target (`zen3`, `x86_64_v3`, …); `None` = the detected suggestion.
 */
target: string | null, 
/**
 * `cuda_arch` values (`80`, `90`) or `amdgpu_target` values (`gfx90a`).
 */
gpu_arch: Array<string>, 
/**
 * Parallel build jobs; `None` = a suggestion from the host.
 */
jobs: number | null, compiler: Compiler, };

export type PackageType = { "kind": "default" } | { "kind": "gpu", "vendor": GpuVendor } | { "kind": "minimal" };

export type SlurmVersion = { 
/**
 * The short name (`24.11`) or, for versions outside the catalogue, the Spack version.
 */
name: string, 
/**
 * Spack's version string for `slurm@…`.
 */
spack: string, 
/**
 * Whether the catalogue knows this release.
 */
cataloged: boolean, };

export type ResolvedRequest = { slurm: SlurmVersion, package_type: PackageType, target: string, 
/**
 * Whether `target` was chosen by the user (`false`: it is a suggestion).
 */
target_from_user: boolean, gpu_arch: Array<string>, jobs: number, compiler: Compiler, };

export type Plan = { artifact_name: string, request: ResolvedRequest, 
/**
 * One line on what the package contains.
 */
summary: string, 
/**
 * One line per choice, for people: `("Target", "zen3 (suggested for this machine)")`.
 */
rows: Array<PlanRow>, };

export type PlanRow = { label: string, value: string, };

export type Status = "pass" | "warn" | "fail" | "skip";

export type Check = { 
/**
 * Stable identifier, e.g. `lxc-binary`.
 */
id: string, 
/**
 * What was checked, for people.
 */
title: string, status: Status, 
/**
 * What was found.
 */
detail: string, 
/**
 * What to do; empty when the check passed.
 */
hint: string, };

export type Report = { checks: Array<Check>, };

export type Source = { "kind": "default" } | { "kind": "file", "from": string } | { "kind": "env", "from": string } | { "kind": "flag", "from": string };

export type Entry = { key: string, value: string | null, source: Source, env: string, description: string, };

export type Overview = { config_path: string, config_exists: boolean, settings: Array<Entry>, warnings: Array<string>, };

export type RunRecord = { id: string, artifact_name: string, 
/**
 * RFC 3339.
 */
started: string, finished?: string | null, 
/**
 * `None` while running (or when the process died: see [`RunRecord::interrupted`]).
 */
outcome?: Outcome | null, 
/**
 * The process driving the run, to tell a live run from a killed one.
 */
pid: number, artifact_id?: string | null, 
/**
 * Set when a later process found this run's driver gone.
 */
interrupted: boolean, };

export type LogPage = { lines: Array<string>, 
/**
 * Where the next page starts (a byte offset at a line start).
 */
next_offset: number, 
/**
 * The file's size when read; `next_offset == size` means caught up.
 */
size: number, };
