//! GPUs: every display or accelerator on the PCI bus, completed with NVML facts
//! for NVIDIA devices and KFD topology for AMD devices.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

const NVIDIA: u16 = 0x10de;
const AMD: u16 = 0x1002;

/// What NVML reports about one NVIDIA GPU (live, or captured for tests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvmlGpu {
    pub name: String,
    /// PCI address as NVML writes it: `00000000:18:00.0`.
    pub pci_bus_id: String,
    pub memory_bytes: u64,
    pub driver_version: String,
    /// Compute capability major and minor: (9, 0) for H100.
    pub compute_capability: (u32, u32),
}

/// Where NVIDIA facts come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NvmlSource {
    /// Load libnvidia-ml at run time; no driver means no NVIDIA facts, not an error.
    #[default]
    Live,
    /// Facts captured earlier (tests, fixtures).
    Captured(Vec<NvmlGpu>),
    /// Don't ask NVML.
    Absent,
}

/// Whether Slurm Factory can build GPU support for a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum GpuSupport {
    /// A CUDA or ROCm package can target it; `arch` is set.
    Supported,
    /// The right vendor, but its driver did not answer, so the architecture is unknown.
    NoDriver,
    /// No package type covers it (other vendors, display-only or too old devices).
    Unsupported,
}

/// One GPU or accelerator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GpuInfo {
    /// `0000:18:00.0`.
    pub pci_address: String,
    /// PCI vendor and device ids, hex without `0x`: `10de`, `2330` (device empty if unknown).
    pub vendor_id: String,
    pub device_id: String,
    /// `NVIDIA Corporation`, `Advanced Micro Devices, Inc. [AMD/ATI]`, …
    pub vendor_name: String,
    /// The driver's name for it, else the PCI ID database's, else `device 10de:2330`.
    pub name: String,
    /// `cuda` or `rocm` for the vendors Slurm Factory builds for.
    pub toolkit: Option<crate::kinds::GpuVendor>,
    pub memory_bytes: Option<u64>,
    pub driver_version: Option<String>,
    /// `9.0` (NVIDIA) or the KFD `gfx_target_version` (AMD, e.g. `90010`).
    pub compute_capability: Option<String>,
    /// Spack's `cuda_arch` (`90`) or `amdgpu_target` (`gfx90a`).
    pub arch: Option<String>,
    pub support: GpuSupport,
    /// Why `support` is what it is, in one line.
    pub support_note: String,
}

/// `gfx_target_version` → `amdgpu_target`: 90010 → gfx90a, 90402 → gfx942, 110000 → gfx1100.
pub fn gfx_name(version: u32) -> String {
    let (major, minor, step) = (version / 10000, (version / 100) % 100, version % 100);
    format!("gfx{major}{minor:x}{step:x}")
}

/// NVML's bus id (`00000000:18:00.0`) in sysfs form (`0000:18:00.0`).
fn sysfs_address(nvml_bus_id: &str) -> String {
    let lower = nvml_bus_id.to_ascii_lowercase();
    match lower.split_once(':') {
        Some((domain, rest)) if domain.len() > 4 => {
            format!("{}:{rest}", &domain[domain.len() - 4..])
        }
        _ => lower,
    }
}

fn read_trim(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn read_hex(path: &Path) -> Option<u32> {
    let s = read_trim(path)?;
    u32::from_str_radix(s.trim_start_matches("0x"), 16).ok()
}

struct PciDevice {
    address: String,
    vendor: u16,
    device: u16,
}

/// Display (class 0x03) and processing-accelerator (0x12) devices under `<sysfs>/bus/pci/devices`.
fn pci_scan(sysfs: &Path) -> Vec<PciDevice> {
    let Ok(entries) = std::fs::read_dir(sysfs.join("bus/pci/devices")) else {
        return Vec::new();
    };
    let mut found: Vec<PciDevice> = entries
        .flatten()
        .filter_map(|e| {
            let dir = e.path();
            let class = read_hex(&dir.join("class"))?;
            if !matches!(class >> 16, 0x03 | 0x12) {
                return None;
            }
            Some(PciDevice {
                address: e.file_name().to_string_lossy().into_owned(),
                vendor: read_hex(&dir.join("vendor"))? as u16,
                device: read_hex(&dir.join("device"))? as u16,
            })
        })
        .collect();
    found.sort_by(|a, b| a.address.cmp(&b.address));
    found
}

/// AMD GPU nodes of the KFD topology, keyed by PCI address: gfx_target_version.
fn kfd_nodes(sysfs: &Path) -> HashMap<String, u32> {
    let Ok(entries) = std::fs::read_dir(sysfs.join("class/kfd/kfd/topology/nodes")) else {
        return HashMap::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("properties")).ok()?;
            let props: HashMap<&str, u64> = text
                .lines()
                .filter_map(|l| {
                    let (k, v) = l.split_once(' ')?;
                    Some((k, v.trim().parse().ok()?))
                })
                .collect();
            let version = *props.get("gfx_target_version")?;
            // A CPU node has version 0.
            if version == 0 {
                return None;
            }
            // location_id is bus << 8 | device << 3 | function.
            let loc = props.get("location_id").copied().unwrap_or(0);
            let address = format!(
                "{:04x}:{:02x}:{:02x}.{:x}",
                props.get("domain").copied().unwrap_or(0),
                loc >> 8,
                (loc >> 3) & 0x1f,
                loc & 0x7
            );
            Some((address, version as u32))
        })
        .collect()
}

/// Where drivers put libnvidia-ml outside the loader's search path: the NVIDIA container
/// toolkit and GPU-operator images (/usr/local/nvidia), and WSL.
const NVML_FALLBACKS: &[&str] = &[
    "/usr/local/nvidia/lib64/libnvidia-ml.so.1",
    "/usr/local/nvidia/lib/libnvidia-ml.so.1",
    "/usr/lib/wsl/lib/libnvidia-ml.so.1",
];

fn nvml_init() -> Result<nvml_wrapper::Nvml, String> {
    nvml_wrapper::Nvml::init().or_else(|first| {
        NVML_FALLBACKS
            .iter()
            .filter(|p| Path::new(p).exists())
            .find_map(|p| {
                nvml_wrapper::Nvml::builder()
                    .lib_path(std::ffi::OsStr::new(p))
                    .init()
                    .ok()
            })
            .ok_or_else(|| first.to_string())
    })
}

/// NVIDIA GPUs through NVML, or why there are none.
fn nvml_live() -> Result<Vec<NvmlGpu>, String> {
    let nvml = nvml_init()?;
    let driver = nvml.sys_driver_version().map_err(|e| e.to_string())?;
    let count = nvml.device_count().map_err(|e| e.to_string())?;
    (0..count)
        .map(|i| {
            let d = nvml.device_by_index(i).map_err(|e| e.to_string())?;
            let cc = d.cuda_compute_capability().map_err(|e| e.to_string())?;
            Ok(NvmlGpu {
                name: d.name().map_err(|e| e.to_string())?,
                pci_bus_id: d.pci_info().map_err(|e| e.to_string())?.bus_id,
                memory_bytes: d.memory_info().map_err(|e| e.to_string())?.total,
                driver_version: driver.clone(),
                compute_capability: (cc.major as u32, cc.minor as u32),
            })
        })
        .collect()
}

/// CUDA 12 and later build for compute capability 5.0 and newer.
const MIN_CUDA_ARCH: u32 = 50;

fn from_nvml(g: &NvmlGpu, address: String, device_id: Option<u16>) -> GpuInfo {
    let (major, minor) = g.compute_capability;
    let cuda_arch = major * 10 + minor;
    let (support, support_note) = if cuda_arch >= MIN_CUDA_ARCH {
        (
            GpuSupport::Supported,
            format!("CUDA package with cuda_arch={cuda_arch}"),
        )
    } else {
        (
            GpuSupport::Unsupported,
            format!("compute capability {major}.{minor} is older than current CUDA supports (5.0)"),
        )
    };
    GpuInfo {
        pci_address: address,
        vendor_id: format!("{NVIDIA:04x}"),
        device_id: device_id.map(|d| format!("{d:04x}")).unwrap_or_default(),
        vendor_name: vendor_name(NVIDIA),
        name: g.name.clone(),
        toolkit: Some(crate::kinds::GpuVendor::Cuda),
        memory_bytes: Some(g.memory_bytes),
        driver_version: Some(g.driver_version.clone()),
        compute_capability: Some(format!("{major}.{minor}")),
        arch: Some(cuda_arch.to_string()),
        support,
        support_note,
    }
}

fn vendor_name(vendor: u16) -> String {
    use pci_ids::FromId;
    pci_ids::Vendor::from_id(vendor)
        .map(|v| v.name().to_string())
        .unwrap_or_else(|| format!("vendor {vendor:04x}"))
}

/// Every GPU found under `sysfs`, with NVML facts from `nvml`.
pub(crate) fn detect(sysfs: &Path, nvml: &NvmlSource, notes: &mut Vec<String>) -> Vec<GpuInfo> {
    let pci = pci_scan(sysfs);
    let has_nvidia = pci.iter().any(|d| d.vendor == NVIDIA);
    let nvml_gpus = match nvml {
        NvmlSource::Captured(list) => list.clone(),
        NvmlSource::Absent => Vec::new(),
        // Loading NVML costs tens of milliseconds: only when the bus has an NVIDIA device.
        NvmlSource::Live if !has_nvidia => Vec::new(),
        NvmlSource::Live => nvml_live().unwrap_or_else(|e| {
            notes.push(format!(
                "NVIDIA device present but NVML did not answer ({e}): install or load the \
                 NVIDIA driver to learn the compute capability"
            ));
            Vec::new()
        }),
    };
    let mut nvml_by_address: HashMap<String, &NvmlGpu> = nvml_gpus
        .iter()
        .map(|g| (sysfs_address(&g.pci_bus_id), g))
        .collect();
    let kfd = kfd_nodes(sysfs);
    let mut gpus: Vec<GpuInfo> = pci
        .iter()
        .map(|d| {
            if let Some(g) = nvml_by_address.remove(&d.address) {
                return from_nvml(g, d.address.clone(), Some(d.device));
            }
            let pci_name = pci_ids::Device::from_vid_pid(d.vendor, d.device).map(|x| x.name());
            let mut info = GpuInfo {
                pci_address: d.address.clone(),
                vendor_id: format!("{:04x}", d.vendor),
                device_id: format!("{:04x}", d.device),
                vendor_name: vendor_name(d.vendor),
                name: pci_name
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("device {:04x}:{:04x}", d.vendor, d.device)),
                toolkit: None,
                memory_bytes: None,
                driver_version: None,
                compute_capability: None,
                arch: None,
                support: GpuSupport::Unsupported,
                support_note: "no package type covers this vendor (CUDA and ROCm only)".into(),
            };
            match d.vendor {
                NVIDIA => {
                    info.toolkit = Some(crate::kinds::GpuVendor::Cuda);
                    info.support = GpuSupport::NoDriver;
                    info.support_note =
                        "NVML gave no facts for it: compute capability unknown".into();
                }
                AMD => match kfd.get(&d.address) {
                    Some(&v) => {
                        let gfx = gfx_name(v);
                        info.toolkit = Some(crate::kinds::GpuVendor::Rocm);
                        info.compute_capability = Some(v.to_string());
                        info.support_note = format!("ROCm package with amdgpu_target={gfx}");
                        info.arch = Some(gfx);
                        info.support = GpuSupport::Supported;
                    }
                    None => {
                        info.toolkit = Some(crate::kinds::GpuVendor::Rocm);
                        info.support = GpuSupport::NoDriver;
                        info.support_note = "no KFD compute node: the amdgpu driver is not \
                                             loaded or the device cannot run ROCm"
                            .into();
                    }
                },
                _ => {}
            }
            info
        })
        .collect();
    // NVML devices the PCI scan missed (e.g. a sysfs root without that device).
    let mut rest: Vec<&NvmlGpu> = nvml_by_address.into_values().collect();
    rest.sort_by(|a, b| a.pci_bus_id.cmp(&b.pci_bus_id));
    gpus.extend(
        rest.into_iter()
            .map(|g| from_nvml(g, sysfs_address(&g.pci_bus_id), None)),
    );
    gpus
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gfx_names_from_target_versions() {
        assert_eq!(gfx_name(90010), "gfx90a");
        assert_eq!(gfx_name(90402), "gfx942");
        assert_eq!(gfx_name(90008), "gfx908");
        assert_eq!(gfx_name(100300), "gfx1030");
        assert_eq!(gfx_name(110000), "gfx1100");
    }

    #[test]
    fn nvml_bus_ids_map_to_sysfs_names() {
        assert_eq!(sysfs_address("00000000:00:06.0"), "0000:00:06.0");
        assert_eq!(sysfs_address("00000000:C1:00.0"), "0000:c1:00.0");
    }
}
