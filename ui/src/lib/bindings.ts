// Generated from the engine's Rust types (crates/factory/src/bindings.rs).
// Do not edit: run `UPDATE_BINDINGS=1 cargo test -p factory --features ts bindings`.

export type ExitKind = "usage" | "config" | "environment" | "build" | "cancelled" | "internal";

export type ErrorReport = { error: string, 
/**
 * The remedy as the CLI says it.
 */
hint: string, 
/**
 * The remedy as data, for the app to name its own fields and pages.
 */
remedy: Remedy, kind: ExitKind, exit_code: number, };

export type Stage = "preflight" | "provision" | "spack-setup" | "concretize" | "sources" | "install" | "buildcache-push" | "package" | "verify" | "export" | "publish" | "cleanup";

export type Stream = "stdout" | "stderr";

export type StageOutcome = "done" | "cached" | "skipped" | "failed" | "cancelled";

export type Outcome = "succeeded" | "failed" | "cancelled";

export type RunStatus = "running" | "succeeded" | "failed" | "cancelled" | "interrupted";

export type BuildEvent = { "type": "run_started", run_id: string, artifact_name: string, run_dir: string, stages: Array<Stage>, 
/**
 * The `lxc remote` it builds on (`local`: this machine); runs
 * recorded before it was told were local.
 */
lxd_remote: string, } | { "type": "stage_started", stage: Stage, } | { "type": "stage_finished", stage: Stage, outcome: StageOutcome, elapsed_ms: number, 
/**
 * A short note: "base image sf-base-1a2b reused", "3 of 6 from buildcache".
 */
detail?: string | null, } | { "type": "progress", stage: Stage, done: number, total: number, label: string, } | { "type": "log", stage: Stage, stream: Stream, line: string, } | { "type": "warning", stage: Stage, message: string, } | { "type": "cache_use", layer: Layer, hits: number, lookups: number, } | { "type": "run_finished", outcome: Outcome, elapsed_ms: number, artifact_id?: string | null, error?: ErrorReport | null, };

export type EventRecord = { t_ms: number, } & ({ "type": "run_started", run_id: string, artifact_name: string, run_dir: string, stages: Array<Stage>, 
/**
 * The `lxc remote` it builds on (`local`: this machine); runs
 * recorded before it was told were local.
 */
lxd_remote: string, } | { "type": "stage_started", stage: Stage, } | { "type": "stage_finished", stage: Stage, outcome: StageOutcome, elapsed_ms: number, 
/**
 * A short note: "base image sf-base-1a2b reused", "3 of 6 from buildcache".
 */
detail?: string | null, } | { "type": "progress", stage: Stage, done: number, total: number, label: string, } | { "type": "log", stage: Stage, stream: Stream, line: string, } | { "type": "warning", stage: Stage, message: string, } | { "type": "cache_use", layer: Layer, hits: number, lookups: number, } | { "type": "run_finished", outcome: Outcome, elapsed_ms: number, artifact_id?: string | null, error?: ErrorReport | null, });

export type BatchItem = { 
/**
 * When the first of `lines` was printed.
 */
t_ms: number, lines: Array<string>, } | EventRecord;

export type Release = { 
/**
 * The version users type: `26.05`.
 */
slurm: string, 
/**
 * Spack's `slurm` package version: `26-05-3-1`.
 */
spack: string, 
/**
 * The sha256 of the release's source archive, as Spack checks it.
 */
sha256: string, 
/**
 * The last day SchedMD supports the series.
 */
support_ends: string, 
/**
 * Built when the user names no release: the newest supported one.
 */
default: boolean, 
/**
 * Whether SchedMD still supports the series on the catalogue's date.
 */
supported: boolean, 
/**
 * Where the entry comes from: `templates/releases.toml (built-in)` or a
 * site's file.
 */
file: string, };

export type Support = "supported" | "ended" | "unknown";

export type GpuVendor = "cuda" | "rocm";

export type Compiler = "system" | "spack-gcc";

export type BuildRequest = { 
/**
 * Slurm release, or a full Spack version (24-11-6-1).
 */
slurm_version: string, 
/**
 * Build GPU support for this vendor.
 */
gpu: GpuVendor | null, 
/**
 * Slurm alone, fewest dependencies, no OpenMPI.
 */
minimal: boolean, 
/**
 * Spack optimization target (zen3, skylake_avx512, x86_64_v3, ...); default: this
 * machine's.
 */
target: string | null, 
/**
 * GPU architectures: CUDA compute capabilities (80,90) or ROCm targets (gfx90a);
 * default: the GPUs of this machine of that vendor.
 */
gpu_arch: Array<string>, 
/**
 * Parallel build jobs; default: one per core.
 */
jobs: number | null, 
/**
 * Compiler Spack builds with.
 */
compiler: Compiler, 
/**
 * OS to build on and verify on: a built-in toolchain or a file of your templates'
 * toolchains/; the package runs where glibc is at least that OS's. Default: the
 * toolchain setting, else the image setting.
 */
toolchain: string | null, };

export type Toolchain = { 
/**
 * The file's name: `debian12`, `rocky9`, ...
 */
name: string, description: string, 
/**
 * The image builds start from (an LXD alias, local or `remote:alias`).
 */
image: string, 
/**
 * The clean image packages are verified in.
 */
verify_image: string, package_manager: PackageManager, 
/**
 * The OS's glibc: packages built on it need at most this.
 */
glibc: string, gcc: string, };

export type PackageManager = "apt" | "dnf";

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
cataloged: boolean, 
/**
 * Whether SchedMD still supports it.
 */
support: Support, 
/**
 * The sha256 of its source archive, from the catalogue (none outside it:
 * then Spack's own recipe must know the version).
 */
sha256: string | null, 
/**
 * The last day SchedMD supports it (`2027-11-30`), from the catalogue.
 */
support_ends: string | null, 
/**
 * The newest supported release when this one is past its support.
 */
newest_supported: string | null, };

export type ResolvedRequest = { slurm: SlurmVersion, package_type: PackageType, target: string, 
/**
 * Whether `target` was chosen by the user (`false`: it is a suggestion).
 */
target_from_user: boolean, gpu_arch: Array<string>, jobs: number, compiler: Compiler, 
/**
 * The toolchain's name, checked for its shape (the templates say whether it exists).
 */
toolchain: string | null, };

export type Plan = { artifact_name: string, request: ResolvedRequest, 
/**
 * One line on what the package contains.
 */
summary: string, 
/**
 * One line per choice, for people: `("Target", "zen3 (suggested for this machine)")`.
 */
rows: Array<PlanRow>, 
/**
 * What the user should know before building (a release past its end of support).
 */
warnings: Array<string>, };

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
 * What to do; empty when the check passed. The CLI says it with flags
 * and commands, the app with its pages and fields.
 */
remedy: Remedy, };

export type Report = { checks: Array<Check>, };

export type Source = { "kind": "default" } | { "kind": "file", "from": string } | { "kind": "env", "from": string } | { "kind": "flag", "from": string };

export type Entry = { key: string, value: string | null, source: Source, env: string, 
/**
 * The topic it is shown under: LXD, Spack, Storage, Paths.
 */
group: string, 
/**
 * A name for people ("Build image").
 */
label: string, 
/**
 * One line on what it does.
 */
description: string, 
/**
 * Whether it holds an absolute path.
 */
path: boolean, 
/**
 * Whether it may be left empty (unset).
 */
optional: boolean, };

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

export type RunSummary = { status: RunStatus, id: string, artifact_name: string, 
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

export type Size = { bytes: number, 
/**
 * `4.5 MiB`.
 */
text: string, };

export type LogPage = { lines: Array<string>, 
/**
 * Where the next page starts (a byte offset at a line start).
 */
next_offset: number, 
/**
 * The file's size when read; `next_offset == size` means caught up.
 */
size: number, };

export type StageTime = { stage: Stage, outcome: StageOutcome, elapsed_ms: number, };

export type LayerUse = { layer: Layer, hits: number, lookups: number, };

export type RunStats = { id: string, artifact_name: string, 
/**
 * RFC 3339.
 */
started: string, status: RunStatus, 
/**
 * Wall time of the whole run; `None` when it never finished.
 */
elapsed_ms: number | null, 
/**
 * The stages that finished, in the order they ran.
 */
stages: Array<StageTime>, 
/**
 * The stage that failed, or the one running when the run was cancelled
 * or its process died.
 */
stopped_at: Stage | null, cache: Array<LayerUse>, 
/**
 * The package's archives, while the artifact is still in the store.
 */
package_bytes: number | null, artifact_id: string | null, };

export type StageFailures = { stage: Stage, failed: number, };

export type History = { 
/**
 * Oldest first, the last `limit` runs.
 */
runs: Array<RunStats>, 
/**
 * Failed (not cancelled) runs by the stage they stopped at, in stage order.
 */
failures: Array<StageFailures>, 
/**
 * Run records that could not be read, each with what to do.
 */
damaged: Array<string>, };

export type HostReport = { cpu: CpuInfo, gpus: Array<GpuInfo>, suggestions: Suggestions, 
/**
 * Caveats worth a line in the UI: VMs, missing drivers, old compilers.
 */
notes: Array<string>, };

export type CpuInfo = { 
/**
 * `x86_64`, `aarch64`, …
 */
arch: string, 
/**
 * `AuthenticAMD`, `GenuineIntel`, `ARM`, …
 */
vendor: string, 
/**
 * The model name, e.g. `AMD EPYC 7763 64-Core Processor`.
 */
model: string, 
/**
 * Physical cores.
 */
cores: number, 
/**
 * Hardware threads (logical CPUs).
 */
threads: number, memory_bytes: number, 
/**
 * `memory_bytes` for people (`125.9 GiB`), as both front ends show it.
 */
memory_text: string, 
/**
 * The Spack target of this CPU (`zen3`, `sapphirerapids`, `x86_64_v3`).
 */
microarch: string, 
/**
 * The most capable vendor-neutral level this CPU runs (`x86_64_v3`).
 */
generic: string, 
/**
 * Every target `microarch` descends from, parents first (archspec's order).
 */
ancestors: Array<string>, 
/**
 * Whether cpuinfo shows a hypervisor (the VM decides which features are visible).
 */
virtualized: boolean, 
/**
 * The flags for `microarch` with the build compiler.
 */
flags: TargetFlags, };

export type TargetFlags = { target: string, compiler: CompilerVersion, 
/**
 * `-march=znver3 -mtune=znver3`; `None` when the compiler cannot target it.
 */
flags: string | null, 
/**
 * Why `flags` is `None` (compiler too old, or unknown to archspec).
 */
problem: string | null, };

export type CompilerVersion = { 
/**
 * archspec's compiler name: `gcc`, `clang`, …
 */
name: string, 
/**
 * `13`, `12.2`, …
 */
version: string, };

export type GpuInfo = { 
/**
 * `0000:18:00.0`.
 */
pci_address: string, 
/**
 * PCI vendor and device ids, hex without `0x`: `10de`, `2330` (device empty if unknown).
 */
vendor_id: string, device_id: string, 
/**
 * `NVIDIA Corporation`, `Advanced Micro Devices, Inc. [AMD/ATI]`, …
 */
vendor_name: string, 
/**
 * The driver's name for it, else the PCI ID database's, else `device 10de:2330`.
 */
name: string, 
/**
 * `cuda` or `rocm` for the vendors Slurm Factory builds for.
 */
toolkit: GpuVendor | null, memory_bytes: number | null, driver_version: string | null, 
/**
 * `9.0` (NVIDIA) or the KFD `gfx_target_version` (AMD, e.g. `90010`).
 */
compute_capability: string | null, 
/**
 * Spack's `cuda_arch` (`90`) or `amdgpu_target` (`gfx90a`).
 */
arch: string | null, support: GpuSupport, 
/**
 * Why `support` is what it is, in one line.
 */
support_note: string, };

export type GpuSupport = "supported" | "no_driver" | "unsupported";

export type Suggestions = { 
/**
 * The best Spack target for this host that the build compiler supports.
 */
target: Suggestion<string>, 
/**
 * A vendor-neutral target for clusters of mixed nodes.
 */
portable_target: Suggestion<string>, package: Suggestion<PackageChoice>, 
/**
 * Parallel build jobs (`spack install -j`).
 */
jobs: Suggestion<number>, };

export type Suggestion<T> = { value: T, reason: string, };

export type PackageChoice = { 
/**
 * `None`: the default package.
 */
gpu: GpuVendor | null, 
/**
 * `cuda_arch` values (`80`, `90`) or `amdgpu_target` values (`gfx90a`).
 */
gpu_arch: Array<string>, };

export type ArtifactSummary = { id: string, name: string, slurm_version: string, package_type: string, target: string, gpu: string | null, 
/**
 * Bytes of the archives.
 */
size: number, 
/**
 * `size` for people (`3.4 MiB`), as both front ends show it.
 */
size_text: string, 
/**
 * Bytes of the unpacked tree.
 */
unpacked: number, unpacked_text: string, 
/**
 * RFC 3339, UTC.
 */
created: string, 
/**
 * Verification ran and passed.
 */
verified: boolean, 
/**
 * The recorded build options (the manifest's), as `name=value` words.
 */
options: Array<string>, };

export type StoredFile = { name: string, bytes: number, size_text: string, };

export type Artifact = { id: string, dir: string, manifest: Manifest, files: Array<StoredFile>, 
/**
 * The unpacked tree's size for people (`15.7 MiB`).
 */
unpacked_text: string, };

export type ExportResult = { id: string, path: string, format: ArchiveFormat, bytes: number, size_text: string, sha256: string, 
/**
 * An existing file was replaced (`overwrite`).
 */
replaced: boolean, };

export type Manifest = { 
/**
 * Package name, also the archive's top directory: `slurm-<version>-<type>-<target>`.
 */
name: string, 
/**
 * The Slurm release, e.g. `24.11`.
 */
slurm_version: string, 
/**
 * Spack's version of the Slurm spec, e.g. `24-11-6-1`.
 */
spack_version: string, 
/**
 * The Spack release that built it, e.g. `v1.1.0`.
 */
spack_release?: string | null, 
/**
 * `default`, `minimal`, `gpu`, ...
 */
package_type: string, 
/**
 * Spack target, e.g. `x86_64_v3`.
 */
target: string, 
/**
 * `cuda` or `rocm`.
 */
gpu?: string | null, 
/**
 * e.g. `80,90` or `gfx90a`.
 */
gpu_arch?: string | null, 
/**
 * RFC 3339, UTC.
 */
created: string, 
/**
 * slurm-factory's version.
 */
tool_version: string, 
/**
 * Where it was installed inside the build container (must not leak into the package).
 */
build_prefix: string, 
/**
 * The resolved build request, as the pipeline recorded it.
 */
request: JsonValue, 
/**
 * The build options that are recorded (`OptionSpec::recorded`), where
 * given: what shaped the package, what its builder said of it.
 */
options?: { [option in string]?: JsonValue }, spack_lock_sha256?: string | null, sizes: Sizes, 
/**
 * The package tree's digest (`fsutil::tree_digest`: paths, modes, bytes):
 * a rebuild that makes the same tree reuses these archives.
 */
tree_sha256?: string | null, archives: Array<ArchiveEntry>, 
/**
 * Wall time per pipeline stage, in order.
 */
stages: Array<StageTiming>, 
/**
 * `None` when verification was skipped (`--no-verify`).
 */
verify: VerifyResult | null, inspection: InspectionSummary, };

export type Sizes = { 
/**
 * Bytes of the unpacked tree.
 */
unpacked: number, 
/**
 * Bytes per archive file name.
 */
archives: { [key in string]: number }, };

export type ArchiveEntry = { file: string, format: ArchiveFormat, bytes: number, sha256: string, };

export type StageTiming = { stage: string, seconds: number, };

export type VerifyResult = { passed: boolean, checks: Array<VerifyCheck>, };

export type VerifyCheck = { name: string, passed: boolean, 
/**
 * What the check printed (trimmed by the caller to a useful length).
 */
output: string, };

export type InspectionSummary = { elf_files: number, problems: Array<string>, warnings: Array<string>, 
/**
 * The newest base-system symbol versions the package needs (its glibc floor).
 */
floor: Array<VersionNeed>, };

export type VersionNeed = { family: string, 
/**
 * `2.34` of `GLIBC_2.34`.
 */
version: string, 
/**
 * The library that provides it: `libc.so.6`.
 */
library: string, 
/**
 * The first package file (in path order) that needs it.
 */
file: string, };

export type ArchiveFormat = "tar_zst" | "tar_gz";

export type ModuleLayout = "flat" | "hierarchy";

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

export type BuildFlags = { 
/**
 * Keep the build instance when the build fails, to look inside.
 */
keep_on_failure: boolean, 
/**
 * No network: Spack, spack-packages and clingo from the local copies the settings
 * spack_root, spack_packages_root and wheels_dir name; sources from the mirror layer.
 */
offline: boolean, 
/**
 * Verify the package at another prefix in a clean instance.
 */
verify: boolean, 
/**
 * Also write a .tar.gz next to the .tar.zst (verify uses it where there is no zstd).
 */
gzip: boolean, 
/**
 * A label kept in the package's manifest and shown with it (the cluster, course or
 * ticket it is for): one line, at most 120 characters.
 */
label: string | null, 
/**
 * Publish the build once stored: its Spack binaries to the buildcache at URL
 * (file:///DIR, s3://BUCKET/PATH, oci://REGISTRY/REPO, oci+http://… for a registry
 * without TLS), its archives and manifest beside them: DIR/packages/<artifact id>/,
 * s3://BUCKET/PATH/packages/<artifact id>/, or REGISTRY/REPO:<artifact id>.
 */
publish: string | null, 
/**
 * Which binaries are published: all, deps (everything but Slurm) or none.
 */
buildcache: BuildcacheScope, 
/**
 * Sign what is published with this GPG key: a key id of your keyring (no passphrase,
 * or gpg-agent holding it) or a file with the secret key. Spack signs file:// and
 * s3:// buildcaches, not OCI ones (publish no binaries there).
 */
sign: string | null, 
/**
 * The login to publish with: a file of `username=NAME` and `password=SECRET` lines
 * (OCI), or an S3 key as in ~/.aws/credentials. The secret never reaches an argv or
 * a log.
 */
credentials: string | null, 
/**
 * A CA certificate (PEM) the registry's or S3 endpoint's TLS certificate is signed
 * by, trusted for the push besides the system's (a site's own).
 */
registry_ca: string | null, 
/**
 * The S3 endpoint of an s3:// URL to publish to (https://HOST[:PORT], a site's own
 * object store); without it, Amazon S3.
 */
s3_endpoint: string | null, 
/**
 * Also install binaries from this published buildcache (file:///DIR,
 * s3://BUCKET/PATH, oci://…). Repeatable.
 */
install_from: Array<string>, 
/**
 * A publisher's public key (a file): the buildcaches installed from must be signed
 * by it, and an entry that does not verify stops the build. Repeatable.
 */
trust: Array<string>, 
/**
 * The login of the OCI registries (a file of `username=NAME` and `password=SECRET`
 * lines) or S3 buckets (a key as in ~/.aws/credentials) installed from.
 */
from_credentials: string | null, 
/**
 * A CA certificate (PEM) the TLS certificates of the registries or S3 endpoint
 * installed from are signed by.
 */
from_registry_ca: string | null, 
/**
 * The S3 endpoint of the s3:// buckets installed from (https://HOST[:PORT]); without
 * it, Amazon S3.
 */
from_s3_endpoint: string | null, 
/**
 * Install from an oci+http:// registry: plain HTTP, which anyone on the way can read
 * and change (a registry on this machine, a closed lab network).
 */
from_plain_http: boolean, 
/**
 * Keep headers and pkg-config files (for building against this Slurm).
 */
keep_headers: boolean, 
/**
 * Keep static archives (.a).
 */
keep_static: boolean, 
/**
 * Keep share/doc and share/info.
 */
keep_docs: boolean, 
/**
 * Leave debug info in the binaries (bigger package).
 */
no_strip: boolean, 
/**
 * Keep the stripped debug info as a second archive, <name>-debug.tar.zst (of stripped
 * binaries: unstripped ones keep theirs).
 */
debug_archive: boolean, 
/**
 * Lmod module layout: flat (modules/lmod/slurm.lua) or hierarchy (Core/slurm/<ver>.lua,
 * and with OpenMPI Core/gcc/<ver>.lua opening Compiler/gcc/<ver>/openmpi/<ver>.lua).
 */
modules: ModuleLayout, };

export type PackageOptions = { 
/**
 * Keep headers and pkg-config files (for building against this Slurm).
 */
keep_headers: boolean, 
/**
 * Keep static archives (.a).
 */
keep_static: boolean, 
/**
 * Keep share/doc and share/info.
 */
keep_docs: boolean, 
/**
 * Leave debug info in the binaries (bigger package).
 */
no_strip: boolean, 
/**
 * Keep the stripped debug info as a second archive, <name>-debug.tar.zst (of stripped
 * binaries: unstripped ones keep theirs).
 */
debug_archive: boolean, 
/**
 * Lmod module layout: flat (modules/lmod/slurm.lua) or hierarchy (Core/slurm/<ver>.lua,
 * and with OpenMPI Core/gcc/<ver>.lua opening Compiler/gcc/<ver>/openmpi/<ver>.lua).
 */
modules: ModuleLayout, };

export type Preset = { request: BuildRequest, flags: BuildFlags, };

export type OptionKind = "switch" | "value" | "list" | "number" | "choice";

export type OptionGroup = "request" | "build" | "package" | "publishing" | "install-from";

export type Choice = { value: string, help: string, };

export type OptionDescription = { name: string, flag: string, group: OptionGroup, heading: string, kind: OptionKind, value_name: string, choices: Array<Choice>, inverted: boolean, requires: string | null, conflicts: string | null, label: string, recorded: boolean, help: string, };

export type PublishOptions = { 
/**
 * `file:///DIR`, `s3://BUCKET/PATH`, `oci://REGISTRY/REPO` (HTTPS) or
 * `oci+http://…`.
 */
to: string, buildcache: BuildcacheScope, 
/**
 * A GPG key id of the user's keyring, or a file holding a secret key.
 */
sign: string | null, 
/**
 * A file with the login: an OCI registry's `username=` and `password=`
 * lines, or an S3 access key (`aws_access_key_id`, `aws_secret_access_key`).
 */
credentials: string | null, 
/**
 * A CA certificate (PEM file) the registry's or object store's TLS
 * certificate is signed by, trusted for the push besides the system's.
 */
registry_ca: string | null, 
/**
 * The S3 endpoint for `s3://` (`https://HOST[:PORT]`, or `http://` on a
 * private network); none: Amazon S3.
 */
s3_endpoint: string | null, };

export type GoodSignature = { file: string, 
/**
 * The key that made the signature (a subkey, or the primary key).
 */
fingerprint: string, 
/**
 * Its primary key's fingerprint (the one a publisher hands out).
 */
primary: string, 
/**
 * The signer's user id as gpg prints it.
 */
signer: string, };

export type SignatureReport = { id: string, 
/**
 * Archives whose sha256 matches the manifest.
 */
archives: number, signatures: Array<GoodSignature>, };

export type BuildcacheScope = "none" | "deps" | "all";

export type Layer = "base-images" | "buildcache" | "mirror" | "ccache" | "locks";

export type CacheOverview = { layers: Array<LayerStatus>, total: Size, };

export type LayerStatus = { layer: Layer, description: string, 
/**
 * The host directory, or `None` for base images (they live in LXD).
 */
path: string | null, bytes: number, 
/**
 * `bytes` for people (`1.2 GiB`), as both front ends show it.
 */
size_text: string, 
/**
 * Files in the directory, or images.
 */
entries: number, 
/**
 * `12 files`, `2 images`.
 */
entries_text: string, };

export type LayerHits = { layer: Layer, 
/**
 * Runs that consulted the layer.
 */
runs: number, hits: number, lookups: number, 
/**
 * The newest run that consulted the layer.
 */
last?: RunHits | null, 
/**
 * The hit rate for people, as both front ends show it: `hit rate 83% (5
 * of 6 lookups over 4 runs)`, or why there is none.
 */
text: string, };

export type RunHits = { run_id: string, hits: number, lookups: number, };

export type BundleManifest = { format: number, created: string, 
/**
 * The Spack and spack-packages releases the build uses (the settings' refs).
 */
spack_ref: string, spack_packages_ref: string, parts: Array<BundlePart>, files: { [key in string]: string }, 
/**
 * Each symbolic link in the bundle (a Spack mirror's readable names,
 * links in Spack's tree) and its target, which stays inside its part.
 */
links: { [key in string]: string }, };

export type BundlePart = { 
/**
 * `mirror`, `wheels`, `spack` or `spack-packages`: the top directory in the bundle.
 */
name: string, files: number, bytes: number, };

export type Exported = { path: string, bytes: number, sha256: string, manifest: BundleManifest, 
/**
 * With a signing key: its fingerprint; the detached signature is
 * `<path>.asc`, which `import --key` checks.
 */
signed_by: string | null, };

export type Imported = { manifest: BundleManifest, 
/**
 * Who signed the bundle, checked with the key `import` was given.
 */
signature: GoodSignature | null, 
/**
 * Sources new to the mirror layer (the others were there already).
 */
new_sources: number, spack_root: string, spack_packages_root: string, wheels_dir: string, };

export type OfflineTrees = { spack_root: string, spack_packages_root: string, wheels_dir: string, };

export type SourcesReport = { artifact_name: string, mirror: string, needed: number, present: number, missing: Array<MissingSource>, };

export type MissingSource = { 
/**
 * `name@version`.
 */
package: string, 
/**
 * Where to put it: the readable name Spack also looks for.
 */
file: string, url: string | null, sha256: string | null, 
/**
 * The spec's binary is in the buildcache layer or a `--from` directory:
 * this machine builds without the source (an air-gapped host with an
 * empty buildcache does not).
 */
binary: boolean, 
/**
 * The `upstream_mirror` dir has it: a build fetches it from there.
 */
upstream: boolean, };

export type MirrorResult = { run_id: string, run_dir: string, sources: SourcesReport, 
/**
 * `mirror create`: where the snapshot of Spack, spack-packages and the
 * wheels now lives (the settings name it).
 */
offline: OfflineTrees | null, };

export type MatrixBuild = { 
/**
 * Its axis values, `slurm_version=26.05 target=zen3`.
 */
label: string, artifact_name: string, request: ResolvedRequest, };

export type BuildOutcome = { "outcome": "verified", artifact_id: string, } | { "outcome": "skipped", artifact_id: string, } | { "outcome": "failed", error: ErrorReport, } | { "outcome": "cancelled" };

export type MatrixEvent = { 
/**
 * The build's index in the matrix, from 0.
 */
build: number, event: BuildEvent, };

export type Server = { remote: string, 
/**
 * Builds it runs at once.
 */
slots: number, 
/**
 * Its CPU threads, as LXD counts them.
 */
cpus: number, };

export type Remedy = Array<RemedyPart>;

export type RemedyPart = { "kind": "text", text: string, } | { "kind": "flag", flag: Flag, value: string | null, } | { "kind": "option", option: string, value: string | null, } | { "kind": "command", command: Command, args: string | null, } | { "kind": "setting", key: string, } | { "kind": "code", code: string, };

export type Flag = "force" | "yes" | "key" | "remote" | "help";

export type Command = "detect" | "doctor" | "config_show" | "clean" | "cache_clean" | "cache_status" | "artifacts_list" | "artifacts_delete" | "runs_list" | "templates_export" | "plan_output" | "plan_save_preset" | "mirror_check" | "mirror_create" | "mirror_export" | "mirror_import" | "matrix_resume" | "matrix_dry_run";

/** Every stage, in pipeline order. */
export const STAGES: Stage[] = ["preflight", "provision", "spack-setup", "concretize", "sources", "install", "buildcache-push", "package", "verify", "export", "publish", "cleanup"];

/** Every cache layer. */
export const LAYERS: Layer[] = ["base-images", "buildcache", "mirror", "ccache", "locks"];

/** Every build option, group by group: the Build page's Advanced form. */
export const BUILD_OPTIONS: OptionDescription[] = [
  {
    "name": "keep_on_failure",
    "flag": "keep",
    "group": "build",
    "heading": "Build",
    "kind": "switch",
    "value_name": "",
    "choices": [],
    "inverted": false,
    "requires": null,
    "conflicts": null,
    "label": "Keep the build container when the build fails",
    "recorded": false,
    "help": "Keep the build instance when the build fails, to look inside."
  },
  {
    "name": "offline",
    "flag": "offline",
    "group": "build",
    "heading": "Build",
    "kind": "switch",
    "value_name": "",
    "choices": [],
    "inverted": false,
    "requires": null,
    "conflicts": null,
    "label": "Offline: Spack, its recipes and clingo from the local copies in Settings; sources from the mirror layer",
    "recorded": false,
    "help": "No network: Spack, spack-packages and clingo from the local copies the settings spack_root, spack_packages_root and wheels_dir name; sources from the mirror layer."
  },
  {
    "name": "verify",
    "flag": "no-verify",
    "group": "build",
    "heading": "Build",
    "kind": "switch",
    "value_name": "",
    "choices": [],
    "inverted": true,
    "requires": null,
    "conflicts": null,
    "label": "Verify the package in a clean container",
    "recorded": false,
    "help": "Verify the package at another prefix in a clean instance."
  },
  {
    "name": "gzip",
    "flag": "gzip",
    "group": "build",
    "heading": "Build",
    "kind": "switch",
    "value_name": "",
    "choices": [],
    "inverted": false,
    "requires": null,
    "conflicts": null,
    "label": "Also write a .tar.gz for systems without zstd",
    "recorded": false,
    "help": "Also write a .tar.gz next to the .tar.zst (verify uses it where there is no zstd)."
  },
  {
    "name": "label",
    "flag": "label",
    "group": "build",
    "heading": "Build",
    "kind": "value",
    "value_name": "TEXT",
    "choices": [],
    "inverted": false,
    "requires": null,
    "conflicts": null,
    "label": "Label",
    "recorded": true,
    "help": "A label kept in the package's manifest and shown with it (the cluster, course or ticket it is for): one line, at most 120 characters."
  },
  {
    "name": "keep_headers",
    "flag": "keep-headers",
    "group": "package",
    "heading": "Package contents",
    "kind": "switch",
    "value_name": "",
    "choices": [],
    "inverted": false,
    "requires": null,
    "conflicts": null,
    "label": "Keep headers and pkg-config files (to build plugins against it)",
    "recorded": true,
    "help": "Keep headers and pkg-config files (for building against this Slurm)."
  },
  {
    "name": "keep_static",
    "flag": "keep-static",
    "group": "package",
    "heading": "Package contents",
    "kind": "switch",
    "value_name": "",
    "choices": [],
    "inverted": false,
    "requires": null,
    "conflicts": null,
    "label": "Keep static libraries (.a)",
    "recorded": true,
    "help": "Keep static archives (.a)."
  },
  {
    "name": "keep_docs",
    "flag": "keep-docs",
    "group": "package",
    "heading": "Package contents",
    "kind": "switch",
    "value_name": "",
    "choices": [],
    "inverted": false,
    "requires": null,
    "conflicts": null,
    "label": "Keep documentation (share/doc, share/info)",
    "recorded": true,
    "help": "Keep share/doc and share/info."
  },
  {
    "name": "no_strip",
    "flag": "no-strip",
    "group": "package",
    "heading": "Package contents",
    "kind": "switch",
    "value_name": "",
    "choices": [],
    "inverted": false,
    "requires": null,
    "conflicts": null,
    "label": "Leave debug info in the binaries (bigger package)",
    "recorded": true,
    "help": "Leave debug info in the binaries (bigger package)."
  },
  {
    "name": "debug_archive",
    "flag": "debug-archive",
    "group": "package",
    "heading": "Package contents",
    "kind": "switch",
    "value_name": "",
    "choices": [],
    "inverted": false,
    "requires": null,
    "conflicts": "no_strip",
    "label": "Keep the stripped debug info in a second archive",
    "recorded": true,
    "help": "Keep the stripped debug info as a second archive, <name>-debug.tar.zst (of stripped binaries: unstripped ones keep theirs)."
  },
  {
    "name": "modules",
    "flag": "modules",
    "group": "package",
    "heading": "Package contents",
    "kind": "choice",
    "value_name": "LAYOUT",
    "choices": [
      {
        "value": "flat",
        "help": "modules/lmod/slurm.lua"
      },
      {
        "value": "hierarchy",
        "help": "Lmod's hierarchy: Core/slurm/<ver>.lua, OpenMPI under its compiler"
      }
    ],
    "inverted": false,
    "requires": null,
    "conflicts": null,
    "label": "Lmod modules",
    "recorded": true,
    "help": "Lmod module layout: flat (modules/lmod/slurm.lua) or hierarchy (Core/slurm/<ver>.lua, and with OpenMPI Core/gcc/<ver>.lua opening Compiler/gcc/<ver>/openmpi/<ver>.lua)."
  },
  {
    "name": "publish",
    "flag": "publish",
    "group": "publishing",
    "heading": "Publishing",
    "kind": "value",
    "value_name": "URL",
    "choices": [],
    "inverted": false,
    "requires": null,
    "conflicts": null,
    "label": "Publish to",
    "recorded": false,
    "help": "Publish the build once stored: its Spack binaries to the buildcache at URL (file:///DIR, s3://BUCKET/PATH, oci://REGISTRY/REPO, oci+http://… for a registry without TLS), its archives and manifest beside them: DIR/packages/<artifact id>/, s3://BUCKET/PATH/packages/<artifact id>/, or REGISTRY/REPO:<artifact id>."
  },
  {
    "name": "buildcache",
    "flag": "buildcache",
    "group": "publishing",
    "heading": "Publishing",
    "kind": "choice",
    "value_name": "SCOPE",
    "choices": [
      {
        "value": "all",
        "help": "every binary, Slurm too: a build that installs from it compiles nothing"
      },
      {
        "value": "deps",
        "help": "every dependency, not Slurm (a site that builds its own Slurm)"
      },
      {
        "value": "none",
        "help": "only the archives and manifest"
      }
    ],
    "inverted": false,
    "requires": "publish",
    "conflicts": null,
    "label": "Binaries",
    "recorded": false,
    "help": "Which binaries are published: all, deps (everything but Slurm) or none."
  },
  {
    "name": "sign",
    "flag": "sign",
    "group": "publishing",
    "heading": "Publishing",
    "kind": "value",
    "value_name": "KEY",
    "choices": [],
    "inverted": false,
    "requires": "publish",
    "conflicts": null,
    "label": "Sign with GPG key",
    "recorded": false,
    "help": "Sign what is published with this GPG key: a key id of your keyring (no passphrase, or gpg-agent holding it) or a file with the secret key. Spack signs file:// and s3:// buildcaches, not OCI ones (publish no binaries there)."
  },
  {
    "name": "credentials",
    "flag": "credentials",
    "group": "publishing",
    "heading": "Publishing",
    "kind": "value",
    "value_name": "FILE",
    "choices": [],
    "inverted": false,
    "requires": "publish",
    "conflicts": null,
    "label": "Login",
    "recorded": false,
    "help": "The login to publish with: a file of `username=NAME` and `password=SECRET` lines (OCI), or an S3 key as in ~/.aws/credentials. The secret never reaches an argv or a log."
  },
  {
    "name": "registry_ca",
    "flag": "registry-ca",
    "group": "publishing",
    "heading": "Publishing",
    "kind": "value",
    "value_name": "FILE",
    "choices": [],
    "inverted": false,
    "requires": "publish",
    "conflicts": null,
    "label": "CA certificate",
    "recorded": false,
    "help": "A CA certificate (PEM) the registry's or S3 endpoint's TLS certificate is signed by, trusted for the push besides the system's (a site's own)."
  },
  {
    "name": "s3_endpoint",
    "flag": "s3-endpoint",
    "group": "publishing",
    "heading": "Publishing",
    "kind": "value",
    "value_name": "URL",
    "choices": [],
    "inverted": false,
    "requires": "publish",
    "conflicts": null,
    "label": "S3 endpoint",
    "recorded": false,
    "help": "The S3 endpoint of an s3:// URL to publish to (https://HOST[:PORT], a site's own object store); without it, Amazon S3."
  },
  {
    "name": "install_from",
    "flag": "from",
    "group": "install-from",
    "heading": "Installing from published buildcaches",
    "kind": "list",
    "value_name": "URL",
    "choices": [],
    "inverted": false,
    "requires": null,
    "conflicts": null,
    "label": "Install from",
    "recorded": false,
    "help": "Also install binaries from this published buildcache (file:///DIR, s3://BUCKET/PATH, oci://…). Repeatable."
  },
  {
    "name": "trust",
    "flag": "trust",
    "group": "install-from",
    "heading": "Installing from published buildcaches",
    "kind": "list",
    "value_name": "FILE",
    "choices": [],
    "inverted": false,
    "requires": "install_from",
    "conflicts": null,
    "label": "Trusted key",
    "recorded": false,
    "help": "A publisher's public key (a file): the buildcaches installed from must be signed by it, and an entry that does not verify stops the build. Repeatable."
  },
  {
    "name": "from_credentials",
    "flag": "from-credentials",
    "group": "install-from",
    "heading": "Installing from published buildcaches",
    "kind": "value",
    "value_name": "FILE",
    "choices": [],
    "inverted": false,
    "requires": "install_from",
    "conflicts": null,
    "label": "Login",
    "recorded": false,
    "help": "The login of the OCI registries (a file of `username=NAME` and `password=SECRET` lines) or S3 buckets (a key as in ~/.aws/credentials) installed from."
  },
  {
    "name": "from_registry_ca",
    "flag": "from-registry-ca",
    "group": "install-from",
    "heading": "Installing from published buildcaches",
    "kind": "value",
    "value_name": "FILE",
    "choices": [],
    "inverted": false,
    "requires": "install_from",
    "conflicts": null,
    "label": "CA certificate",
    "recorded": false,
    "help": "A CA certificate (PEM) the TLS certificates of the registries or S3 endpoint installed from are signed by."
  },
  {
    "name": "from_s3_endpoint",
    "flag": "from-s3-endpoint",
    "group": "install-from",
    "heading": "Installing from published buildcaches",
    "kind": "value",
    "value_name": "URL",
    "choices": [],
    "inverted": false,
    "requires": "install_from",
    "conflicts": null,
    "label": "S3 endpoint",
    "recorded": false,
    "help": "The S3 endpoint of the s3:// buckets installed from (https://HOST[:PORT]); without it, Amazon S3."
  },
  {
    "name": "from_plain_http",
    "flag": "from-plain-http",
    "group": "install-from",
    "heading": "Installing from published buildcaches",
    "kind": "switch",
    "value_name": "",
    "choices": [],
    "inverted": false,
    "requires": "install_from",
    "conflicts": null,
    "label": "Allow a registry without TLS (oci+http://)",
    "recorded": false,
    "help": "Install from an oci+http:// registry: plain HTTP, which anyone on the way can read and change (a registry on this machine, a closed lab network)."
  }
];
