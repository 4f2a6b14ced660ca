//! What to build for this host, each choice with the reason behind it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::cpu::{self, CompilerVersion, CpuInfo};
use super::gpu::{GpuInfo, GpuSupport};
use crate::kinds::GpuVendor;

/// A suggested value and one line on why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Suggestion<T> {
    pub value: T,
    pub reason: String,
}

/// The package to build: the default (CPU) package, or GPU support for a vendor and archs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PackageChoice {
    /// `None`: the default package.
    pub gpu: Option<GpuVendor>,
    /// `cuda_arch` values (`80`, `90`) or `amdgpu_target` values (`gfx90a`).
    pub gpu_arch: Vec<String>,
}

impl PackageChoice {
    /// `default`, `cuda 80,90`, `rocm gfx90a`.
    pub fn label(&self) -> String {
        match self.gpu {
            None => "default".into(),
            Some(v) => format!("{} {}", v.as_str(), self.gpu_arch.join(",")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Suggestions {
    /// The best Spack target for this host that the build compiler supports.
    pub target: Suggestion<String>,
    /// A vendor-neutral target for clusters of mixed nodes.
    pub portable_target: Suggestion<String>,
    pub package: Suggestion<PackageChoice>,
    /// Parallel build jobs (`spack install -j`).
    pub jobs: Suggestion<u32>,
}

/// Memory one compile job may take; gcc on Slurm's and its dependencies' C/C++ stays below.
const BYTES_PER_JOB: u64 = 1 << 30;

pub(crate) fn suggest(
    cpu: &CpuInfo,
    gpus: &[GpuInfo],
    compiler: &CompilerVersion,
    parallelism: u32,
) -> Suggestions {
    Suggestions {
        target: target(cpu, compiler),
        portable_target: portable(cpu, compiler),
        package: package(gpus),
        jobs: jobs(cpu, parallelism),
    }
}

fn target(cpu: &CpuInfo, compiler: &CompilerVersion) -> Suggestion<String> {
    let best = cpu::best_supported(cpu, compiler);
    let flags = match best.flags.as_deref() {
        Some("") | None => "no extra flags".to_string(),
        Some(f) => f.to_string(),
    };
    let reason = if best.target != cpu.microarch {
        format!(
            "this CPU is `{}`, but {compiler} cannot optimize for it; `{}` is the closest \
             it can ({flags})",
            cpu.microarch, best.target
        )
    } else if cpu.microarch == cpu.generic {
        format!(
            "archspec sees only the generic level `{}` on this CPU{} ({compiler}: {flags})",
            cpu.generic,
            if cpu.virtualized {
                ", as usual on a VM"
            } else {
                ""
            }
        )
    } else {
        format!(
            "this CPU is `{}` per archspec ({compiler}: {flags}); packages built for it run \
             only on the same or newer CPUs",
            cpu.microarch
        )
    };
    Suggestion {
        value: best.target,
        reason,
    }
}

fn portable(cpu: &CpuInfo, compiler: &CompilerVersion) -> Suggestion<String> {
    let (value, reason) = match (cpu.arch.as_str(), cpu.generic.as_str()) {
        ("x86_64", "x86_64_v4" | "x86_64_v3") => (
            "x86_64_v3",
            "AVX2 level: runs on every x86-64 server CPU since Intel Haswell and AMD Zen \
             (x86_64_v4 needs AVX-512, which many AMD and Intel parts lack)",
        ),
        ("x86_64", g) => (
            g,
            "the highest generic level this CPU itself runs; nodes of a mixed cluster run it \
             too if they are as new as this one",
        ),
        ("aarch64", _) => ("aarch64", "plain ARMv8-A: runs on every 64-bit Arm CPU"),
        (_, g) => (g, "the generic level of this architecture"),
    };
    let value = value.to_string();
    let flags = cpu::target_flags(&value, compiler);
    let reason = match flags.problem {
        Some(problem) => format!("{reason}; note: {problem}"),
        None => reason.to_string(),
    };
    Suggestion { value, reason }
}

fn package(gpus: &[GpuInfo]) -> Suggestion<PackageChoice> {
    let supported = |v: GpuVendor| -> BTreeSet<String> {
        gpus.iter()
            .filter(|g| g.support == GpuSupport::Supported && g.toolkit == Some(v))
            .filter_map(|g| g.arch.clone())
            .collect()
    };
    let count = |v: GpuVendor| {
        gpus.iter()
            .filter(|g| g.support == GpuSupport::Supported && g.toolkit == Some(v))
            .count()
    };
    let (cuda, rocm) = (supported(GpuVendor::Cuda), supported(GpuVendor::Rocm));
    let pick = match (cuda.is_empty(), rocm.is_empty()) {
        (true, true) => None,
        (false, true) => Some((GpuVendor::Cuda, cuda)),
        (true, false) => Some((GpuVendor::Rocm, rocm)),
        // Both vendors: the one with more devices; the other needs a second package.
        (false, false) if count(GpuVendor::Rocm) > count(GpuVendor::Cuda) => {
            Some((GpuVendor::Rocm, rocm))
        }
        (false, false) => Some((GpuVendor::Cuda, cuda)),
    };
    match pick {
        Some((vendor, archs)) => {
            let n = count(vendor);
            let what = match vendor {
                GpuVendor::Cuda => "NVIDIA GPU",
                GpuVendor::Rocm => "AMD GPU",
            };
            let archs: Vec<String> = archs.into_iter().collect();
            let reason = format!(
                "{n} {what}{} found: Slurm with {} support for {}",
                if n == 1 { "" } else { "s" },
                match vendor {
                    GpuVendor::Cuda => "NVML",
                    GpuVendor::Rocm => "ROCm SMI",
                },
                archs.join(", ")
            );
            Suggestion {
                value: PackageChoice {
                    gpu: Some(vendor),
                    gpu_arch: archs,
                },
                reason,
            }
        }
        None => {
            let no_driver = gpus
                .iter()
                .filter(|g| g.support == GpuSupport::NoDriver)
                .count();
            let reason = if no_driver > 0 {
                format!(
                    "{no_driver} GPU(s) found without a working driver, so their architecture is \
                     unknown: the CPU package; pass --gpu and --gpu-arch to build for them"
                )
            } else {
                "no CUDA- or ROCm-capable GPU found: the CPU package".into()
            };
            Suggestion {
                value: PackageChoice {
                    gpu: None,
                    gpu_arch: Vec::new(),
                },
                reason,
            }
        }
    }
}

fn jobs(cpu: &CpuInfo, parallelism: u32) -> Suggestion<u32> {
    let by_memory = (cpu.memory_bytes / BYTES_PER_JOB).max(1);
    let value = (parallelism as u64).min(by_memory).clamp(1, 1024) as u32;
    let gib = cpu.memory_bytes as f64 / (1u64 << 30) as f64;
    let reason = if (value as u64) < parallelism as u64 {
        format!("{parallelism} CPUs available but {gib:.1} GiB memory: about 1 GiB per compile job")
    } else {
        format!("one job per available CPU ({parallelism}); {gib:.1} GiB memory is enough")
    };
    Suggestion { value, reason }
}
