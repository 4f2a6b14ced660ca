//! What a build makes (the request), described once; `BuildRequest::resolve`
//! checks it against the catalogue and the host.

use serde::{Deserialize, Serialize};

use super::{options_struct, Choice, OptionGroup, OptionKind, OptionType};
use crate::kinds::GpuVendor;

/// The compiler Spack builds with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum Compiler {
    /// The container's own gcc, taken as a Spack external (fast).
    #[default]
    System,
    /// A gcc built by Spack first, for packages that run on older systems.
    SpackGcc,
}

impl OptionType for Compiler {
    const KIND: OptionKind = OptionKind::Choice;
    const VALUE_NAME: &'static str = "COMPILER";
    const CHOICES: &'static [Choice] = &[
        Choice {
            value: "system",
            help: "the container's gcc (fast)",
        },
        Choice {
            value: "spack-gcc",
            help: "a gcc built by Spack first (most portable)",
        },
    ];
}

impl OptionType for Option<GpuVendor> {
    const KIND: OptionKind = OptionKind::Choice;
    const VALUE_NAME: &'static str = "VENDOR";
    const CHOICES: &'static [Choice] = &[
        Choice {
            value: "cuda",
            help: "NVIDIA, through NVML",
        },
        Choice {
            value: "rocm",
            help: "AMD, through ROCm SMI",
        },
    ];
}

options_struct! {
    /// A build request as the user (CLI flags, a preset file, the UI form)
    /// states it: what is built. Each option's doc comment is its help.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
    #[serde(default, deny_unknown_fields)]
    pub struct BuildRequest {
        /// Slurm release, or a full Spack version (24-11-6-1).
        #[option(group = OptionGroup::Request, value_name = "VERSION", label = "Slurm version")]
        pub slurm_version: String = String::new(),
        /// Build GPU support for this vendor.
        #[option(group = OptionGroup::Request, label = "GPU support")]
        #[serde(skip_serializing_if = "Option::is_none")]
        pub gpu: Option<GpuVendor> = None,
        /// Slurm alone, fewest dependencies, no OpenMPI.
        #[option(group = OptionGroup::Request, conflicts = Some("gpu"), label = "Minimal")]
        pub minimal: bool = false,
        /// Spack optimization target (zen3, skylake_avx512, x86_64_v3, ...); default: this
        /// machine's.
        #[option(group = OptionGroup::Request, value_name = "TARGET", label = "Target")]
        #[serde(skip_serializing_if = "Option::is_none")]
        pub target: Option<String> = None,
        /// GPU architectures: CUDA compute capabilities (80,90) or ROCm targets (gfx90a);
        /// default: the GPUs of this machine of that vendor.
        #[option(group = OptionGroup::Request, value_name = "ARCH", label = "GPU architectures")]
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub gpu_arch: Vec<String> = Vec::new(),
        /// Parallel build jobs; default: one per core.
        #[option(group = OptionGroup::Request, short = Some('j'), label = "Parallel jobs")]
        #[serde(skip_serializing_if = "Option::is_none")]
        pub jobs: Option<u32> = None,
        /// Compiler Spack builds with.
        #[option(group = OptionGroup::Request, label = "Compiler")]
        pub compiler: Compiler = Compiler::System,
        /// OS to build on and verify on: a built-in toolchain or a file of your templates'
        /// toolchains/; the package runs where glibc is at least that OS's. Default: the
        /// toolchain setting, else the image setting.
        #[option(group = OptionGroup::Request, value_name = "NAME", label = "Toolchain")]
        #[serde(skip_serializing_if = "Option::is_none")]
        pub toolchain: Option<String> = None,
    }
}
