//! Hardware detection: the host CPU's Spack target, its GPUs, and what to build for them.
//!
//! Everything is read from [`Roots`]: the live host by default, or a captured
//! tree (a cpuinfo text, a sysfs directory, NVML facts) so that tests and bug
//! reports can replay a machine that is not here.

pub mod cpu;
pub mod gpu;
pub mod suggest;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use cpu::{known_targets, CompilerVersion, CpuInfo, TargetFlags};
pub use gpu::{gfx_name, GpuInfo, GpuSupport, NvmlGpu, NvmlSource};
pub use suggest::{PackageChoice, Suggestion, Suggestions};

use crate::error::{Error, Result};

/// Where detection reads the machine from.
#[derive(Debug, Clone)]
pub struct Roots {
    /// The text of /proc/cpuinfo.
    pub cpuinfo: String,
    /// The text of /proc/meminfo; `None` asks the live system (sysinfo).
    pub meminfo: Option<String>,
    /// The sysfs root: `/sys`, or a captured tree with `bus/pci/devices` and `class/kfd`.
    pub sysfs: PathBuf,
    pub nvml: NvmlSource,
    /// CPUs available to builds; `None` counts the processors in `cpuinfo`.
    pub parallelism: Option<u32>,
    /// The compiler the build will use; decides which targets can be optimized for.
    pub compiler: CompilerVersion,
}

impl Roots {
    /// The live host.
    pub fn host() -> Roots {
        Roots {
            cpuinfo: std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default(),
            meminfo: None,
            sysfs: PathBuf::from("/sys"),
            nvml: NvmlSource::Live,
            parallelism: std::thread::available_parallelism()
                .ok()
                .map(|n| n.get() as u32),
            compiler: CompilerVersion::default(),
        }
    }

    /// A machine captured into `dir`: `cpuinfo`, `meminfo`, `sys/` (a sysfs subset) and
    /// `nvml.json` (a list of [`NvmlGpu`]), each optional; a missing one reads as empty.
    pub fn captured(dir: &Path) -> Result<Roots> {
        if !dir.is_dir() {
            return Err(Error::InvalidValue {
                what: "captured machine directory",
                value: dir.display().to_string(),
                reason: "not a directory".into(),
            });
        }
        let read = |name: &str| std::fs::read_to_string(dir.join(name));
        let cpuinfo = read("cpuinfo").unwrap_or_default();
        let nvml_path = dir.join("nvml.json");
        let nvml = match std::fs::read_to_string(&nvml_path) {
            Ok(text) => NvmlSource::Captured(serde_json::from_str(&text).map_err(|e| {
                Error::InvalidValue {
                    what: "captured NVML facts",
                    value: nvml_path.display().to_string(),
                    reason: e.to_string(),
                }
            })?),
            Err(_) => NvmlSource::Absent,
        };
        Ok(Roots {
            cpuinfo,
            meminfo: read("meminfo").ok(),
            sysfs: dir.join("sys"),
            nvml,
            parallelism: None,
            compiler: CompilerVersion::default(),
        })
    }
}

/// What this machine is and what to build for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HostReport {
    pub cpu: CpuInfo,
    pub gpus: Vec<GpuInfo>,
    pub suggestions: Suggestions,
    /// Caveats worth a line in the UI: VMs, missing drivers, old compilers.
    pub notes: Vec<String>,
}

/// Detects the live host.
pub fn detect() -> HostReport {
    detect_from(&Roots::host())
}

/// `MemTotal` of a /proc/meminfo text, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn live_memory() -> u64 {
    use sysinfo::{MemoryRefreshKind, RefreshKind, System};
    System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()),
    )
    .map(|s| s.total_memory())
    .unwrap_or(0)
}

/// Detects the machine `roots` describes.
pub fn detect_from(roots: &Roots) -> HostReport {
    let mut notes = Vec::new();
    let memory = match &roots.meminfo {
        Some(text) => mem_total(text).unwrap_or(0),
        None => live_memory(),
    };
    if memory == 0 {
        notes.push("total memory unknown: the jobs suggestion assumes 1 GiB".into());
    }
    if roots.cpuinfo.trim().is_empty() {
        notes.push("no /proc/cpuinfo text: CPU details are unknown".into());
    }
    let cpu = cpu::detect(&roots.cpuinfo, memory, &roots.compiler, &mut notes);
    if let Some(problem) = &cpu.flags.problem {
        notes.push(problem.clone());
    }
    let gpus = gpu::detect(&roots.sysfs, &roots.nvml, &mut notes);
    for g in gpus.iter().filter(|g| g.support != GpuSupport::Supported) {
        notes.push(format!(
            "{} ({}): {}",
            g.name, g.pci_address, g.support_note
        ));
    }
    let parallelism = roots.parallelism.unwrap_or(cpu.threads).max(1);
    let suggestions = suggest::suggest(&cpu, &gpus, &roots.compiler, parallelism);
    HostReport {
        cpu,
        gpus,
        suggestions,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_total_in_bytes() {
        assert_eq!(
            mem_total("MemTotal:       131981020 kB\nMemFree: 1 kB\n"),
            Some(131981020 * 1024)
        );
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    }
}
