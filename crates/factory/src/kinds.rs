//! The plain kinds every part of the engine names: stages, outcomes, run
//! statuses, output streams, cache layers, GPU vendors. A leaf: it depends on
//! nothing in the engine, so the modules that use these (events, runs, cache,
//! request, hardware, lxd, error) need not depend on each other for them.

use serde::{Deserialize, Serialize};

/// A name that is none of a kind's values (`"disk"` as a cache layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKind {
    /// What was being named: `cache layer`, `GPU vendor`.
    pub what: &'static str,
    pub value: String,
    /// The names there are, for the message.
    pub expected: String,
}

impl std::fmt::Display for UnknownKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown {} `{}`: expected one of {}",
            self.what, self.value, self.expected
        )
    }
}

impl std::error::Error for UnknownKind {}

/// A name users type that reaches files, `lxc` and Spack: lowercase ASCII
/// letters first, then letters, digits and the bytes of `extra`, at most `max` long.
pub(crate) fn is_lowercase_name(s: &str, max: usize, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
}

/// The stages of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Preflight,
    Provision,
    SpackSetup,
    Concretize,
    Sources,
    Install,
    BuildcachePush,
    Package,
    Verify,
    Export,
    Publish,
    Cleanup,
}

impl Stage {
    pub const ALL: [Stage; 12] = [
        Stage::Preflight,
        Stage::Provision,
        Stage::SpackSetup,
        Stage::Concretize,
        Stage::Sources,
        Stage::Install,
        Stage::BuildcachePush,
        Stage::Package,
        Stage::Verify,
        Stage::Export,
        Stage::Publish,
        Stage::Cleanup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Preflight => "preflight",
            Stage::Provision => "provision",
            Stage::SpackSetup => "spack-setup",
            Stage::Concretize => "concretize",
            Stage::Sources => "sources",
            Stage::Install => "install",
            Stage::BuildcachePush => "buildcache-push",
            Stage::Package => "package",
            Stage::Verify => "verify",
            Stage::Export => "export",
            Stage::Publish => "publish",
            Stage::Cleanup => "cleanup",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Which output stream of a command a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How a stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum StageOutcome {
    /// Did its work.
    Done,
    /// Reused a cached result (base image, spack.lock, …).
    Cached,
    /// Not needed for this request.
    Skipped,
    Failed,
    Cancelled,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Succeeded,
    Failed,
    Cancelled,
}

/// Where a run stands, as both front ends show it: one status per run, from
/// `RunRecord::status` (the CLI's `runs list` and the app's Runs page agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// Its process died mid-build (killed, crashed, machine rebooted).
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    /// Prepared LXD images with build tools and Spack.
    BaseImages,
    /// Spack's binary cache: installed packages as tarballs.
    Buildcache,
    /// Source tarballs Spack fetched.
    Mirror,
    /// Compiler cache.
    Ccache,
    /// spack.lock files of environments already concretized.
    Locks,
}

impl Layer {
    pub const ALL: [Layer; 5] = [
        Layer::BaseImages,
        Layer::Buildcache,
        Layer::Mirror,
        Layer::Ccache,
        Layer::Locks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::BaseImages => "base-images",
            Layer::Buildcache => "buildcache",
            Layer::Mirror => "mirror",
            Layer::Ccache => "ccache",
            Layer::Locks => "locks",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Layer::BaseImages => "LXD images with build tools and Spack, keyed by their inputs",
            Layer::Buildcache => "Spack binary packages: a rebuild extracts instead of compiling",
            Layer::Mirror => "source tarballs: rebuilds and offline builds fetch nothing",
            Layer::Ccache => "compiler cache: recompiling changed packages is faster",
            Layer::Locks => "solved environments: identical requests skip concretization",
        }
    }
}

impl std::str::FromStr for Layer {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Layer, UnknownKind> {
        Layer::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| UnknownKind {
                what: "cache layer",
                value: s.into(),
                expected: Layer::ALL.map(|l| l.as_str()).join(", "),
            })
    }
}

/// GPU support compiled into Slurm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum GpuVendor {
    /// NVIDIA, through NVML (`slurm+nvml`, `cuda_arch=`).
    Cuda,
    /// AMD, through ROCm SMI (`slurm+rsmi`, `amdgpu_target=`).
    Rocm,
}

impl GpuVendor {
    pub fn as_str(self) -> &'static str {
        match self {
            GpuVendor::Cuda => "cuda",
            GpuVendor::Rocm => "rocm",
        }
    }

    /// The variant of Spack's `slurm` package that builds this vendor's support.
    pub fn slurm_variant(self) -> &'static str {
        match self {
            GpuVendor::Cuda => "+nvml",
            GpuVendor::Rocm => "+rsmi",
        }
    }
}

impl std::fmt::Display for GpuVendor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for GpuVendor {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, UnknownKind> {
        match s {
            "cuda" => Ok(GpuVendor::Cuda),
            "rocm" => Ok(GpuVendor::Rocm),
            _ => Err(UnknownKind {
                what: "GPU vendor",
                value: s.into(),
                expected: "cuda, rocm".into(),
            }),
        }
    }
}
