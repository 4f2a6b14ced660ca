//! The host CPU: what /proc/cpuinfo says, and the Spack microarchitecture it
//! matches in archspec's database.
//!
//! archspec-rs only detects from the live /proc/cpuinfo, so the matching rules
//! of its Linux detector (x86_64 and aarch64) are applied here to any cpuinfo
//! text; a test checks that both agree on the live host.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use archspec::cpu::Microarchitecture;
use archspec::schema::{CompilerSet, MicroarchitecturesSchema};
use serde::{Deserialize, Serialize};

/// The compiler Spack builds with, whose version decides which targets it can optimize for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CompilerVersion {
    /// archspec's compiler name: `gcc`, `clang`, …
    pub name: String,
    /// `13`, `12.2`, …
    pub version: String,
}

impl Default for CompilerVersion {
    /// gcc 13: the system compiler of the default build image (Ubuntu 24.04).
    fn default() -> Self {
        CompilerVersion {
            name: "gcc".into(),
            version: "13".into(),
        }
    }
}

impl std::fmt::Display for CompilerVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// The flags a compiler needs to optimize for one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TargetFlags {
    pub target: String,
    pub compiler: CompilerVersion,
    /// `-march=znver3 -mtune=znver3`; `None` when the compiler cannot target it.
    pub flags: Option<String>,
    /// Why `flags` is `None` (compiler too old, or unknown to archspec).
    pub problem: Option<String>,
}

/// What the host CPU is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CpuInfo {
    /// `x86_64`, `aarch64`, …
    pub arch: String,
    /// `AuthenticAMD`, `GenuineIntel`, `ARM`, …
    pub vendor: String,
    /// The model name, e.g. `AMD EPYC 7763 64-Core Processor`.
    pub model: String,
    /// Physical cores.
    pub cores: u32,
    /// Hardware threads (logical CPUs).
    pub threads: u32,
    pub memory_bytes: u64,
    /// `memory_bytes` for people (`125.9 GiB`), as both front ends show it.
    pub memory_text: String,
    /// The Spack target of this CPU (`zen3`, `sapphirerapids`, `x86_64_v3`).
    pub microarch: String,
    /// The most capable vendor-neutral level this CPU runs (`x86_64_v3`).
    pub generic: String,
    /// Every target `microarch` descends from, parents first (archspec's order).
    pub ancestors: Vec<String>,
    /// Whether cpuinfo shows a hypervisor (the VM decides which features are visible).
    pub virtualized: bool,
    /// The flags for `microarch` with the build compiler.
    pub flags: TargetFlags,
}

/// The key/value pairs of the first processor block in /proc/cpuinfo, plus counts.
pub(crate) struct CpuInfoText {
    first: HashMap<String, String>,
    threads: u32,
    cores: u32,
}

impl CpuInfoText {
    pub(crate) fn parse(text: &str) -> CpuInfoText {
        let mut first = HashMap::new();
        let mut threads = 0u32;
        let mut cores = HashSet::new();
        let mut physical = String::new();
        let mut in_first = true;
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                if !first.is_empty() {
                    in_first = false;
                }
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            match key {
                "processor" => threads += 1,
                "physical id" => physical = value.to_string(),
                "core id" => {
                    cores.insert((physical.clone(), value.to_string()));
                }
                _ => {}
            }
            if in_first {
                first.insert(key.to_string(), value.to_string());
            }
        }
        // aarch64 cpuinfo has no core ids: one core per logical CPU.
        let cores = if cores.is_empty() {
            threads
        } else {
            cores.len() as u32
        };
        CpuInfoText {
            first,
            threads,
            cores,
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.first.get(key).map(String::as_str)
    }

    /// The architecture the text was captured on, told apart by its keys.
    fn arch(&self) -> &'static str {
        if self.get("vendor_id").is_some() && self.get("flags").is_some() {
            "x86_64"
        } else if self.get("CPU implementer").is_some() {
            "aarch64"
        } else {
            std::env::consts::ARCH
        }
    }
}

fn schema() -> &'static MicroarchitecturesSchema {
    MicroarchitecturesSchema::schema()
}

/// The features a target itself requires (the schema lists them cumulatively).
fn own_features(name: &str) -> HashSet<&'static str> {
    schema()
        .microarchitectures
        .get(name)
        .map(|m| m.features.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

/// archspec's ordering of candidates: deeper in the tree first, then more features; the
/// name breaks ties so that the result never depends on hash order.
fn rank(t: &Microarchitecture) -> (usize, usize, std::cmp::Reverse<String>) {
    (
        t.ancestors().len(),
        own_features(t.name()).len(),
        std::cmp::Reverse(t.name().to_string()),
    )
}

/// All archspec target names, sorted.
pub fn known_targets() -> Vec<String> {
    let mut names: Vec<String> = Microarchitecture::known_targets().keys().cloned().collect();
    names.sort();
    names
}

/// The best target and the best generic level for a cpuinfo text.
fn detect_microarch(
    arch: &str,
    info: &CpuInfoText,
) -> Option<(Arc<Microarchitecture>, Arc<Microarchitecture>)> {
    let known = Microarchitecture::known_targets();
    let root = known.get(arch)?;
    let (vendor, features, cpu_part): (String, HashSet<&str>, Option<&str>) = match arch {
        "x86_64" => (
            info.get("vendor_id").unwrap_or("generic").to_string(),
            info.get("flags")
                .unwrap_or_default()
                .split_whitespace()
                .collect(),
            None,
        ),
        "aarch64" => (
            info.get("CPU implementer")
                .and_then(|i| schema().conversions.arm_vendors.get(i).cloned())
                .unwrap_or_else(|| "generic".into()),
            info.get("Features")
                .unwrap_or_default()
                .split_whitespace()
                .collect(),
            info.get("CPU part"),
        ),
        _ => return Some((root.clone(), root.clone())),
    };
    let candidates: Vec<&Arc<Microarchitecture>> = known
        .values()
        .filter(|t| {
            let in_family = if arch == "aarch64" {
                // archspec cannot tell the generic armv8.x levels apart from cpuinfo.
                (t.vendor() != "generic" || t.name() == "aarch64") && t.family() == root.as_ref()
            } else {
                t.as_ref() == root.as_ref() || t.decendent_of(root)
            };
            in_family
                && (t.vendor() == "generic" || t.vendor() == vendor)
                && own_features(t.name()).is_subset(&features)
        })
        .collect();
    let generic = candidates
        .iter()
        .filter(|t| t.vendor() == "generic")
        .max_by_key(|t| rank(t))?;
    let mut best: Vec<&&Arc<Microarchitecture>> = candidates
        .iter()
        .filter(|t| t.is_strict_superset(generic))
        .collect();
    if let Some(part) = cpu_part {
        let part_matches = |t: &&&Arc<Microarchitecture>| {
            schema().microarchitectures[t.name()].cpupart.as_deref() == Some(part)
        };
        if best.iter().any(part_matches) {
            best.retain(part_matches);
        }
    }
    let best = best.into_iter().max_by_key(|t| rank(t)).unwrap_or(generic);
    Some(((*best).clone(), (*generic).clone()))
}

/// Ancestors of `t` in archspec's (and Spack's) order: parents first, then theirs.
fn ancestors(t: &Microarchitecture) -> Vec<String> {
    t.ancestors().iter().map(|a| a.name().to_string()).collect()
}

/// `4.9`, `10.3`, `13-ubuntu` → numeric components, as archspec compares versions.
fn version_tuple(v: &str) -> Vec<u64> {
    let numeric: String = v
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    numeric
        .split('.')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Whether `version` lies in an archspec range such as `10.3:`, `:4.8` or `10.3:12.2`.
fn in_range(range: &str, version: &str) -> bool {
    let (min, max) = range.split_once(':').unwrap_or((range, range));
    let v = version_tuple(version);
    let (min, max) = (version_tuple(min), version_tuple(max));
    (min.is_empty() || min <= v) && (max.is_empty() || max >= v)
}

/// archspec's `optimization_flags`: the flags for `target` with `compiler`, or why there are none.
pub fn target_flags(target: &str, compiler: &CompilerVersion) -> TargetFlags {
    let result = |flags: Option<String>, problem: Option<String>| TargetFlags {
        target: target.into(),
        compiler: compiler.clone(),
        flags,
        problem,
    };
    let known = Microarchitecture::known_targets();
    let Some(t) = known.get(target) else {
        return result(None, Some(format!("`{target}` is not an archspec target")));
    };
    let entries = |name: &str| {
        schema()
            .microarchitectures
            .get(name)
            .and_then(|m| m.compilers.as_ref())
            .and_then(|c| c.get(&compiler.name))
            .map(|set| match set {
                CompilerSet::Several(v) => v.clone(),
                CompilerSet::Single(c) => vec![c.clone()],
            })
    };
    // A family the compiler has no entries for needs no flags (e.g. plain x86_64).
    if entries(t.family().name()).is_none() && entries(target).is_none() {
        return result(Some(String::new()), None);
    }
    let Some(list) = entries(target) else {
        return result(
            None,
            Some(format!(
                "archspec has no {} flags for `{target}`",
                compiler.name
            )),
        );
    };
    if let Some(e) = list
        .iter()
        .find(|e| in_range(&e.versions, &compiler.version))
    {
        let name = e.name.as_deref().unwrap_or(target);
        return result(Some(e.flags.replace("{name}", name)), None);
    }
    let ranges: Vec<&str> = list.iter().map(|e| e.versions.as_str()).collect();
    result(
        None,
        Some(format!(
            "{compiler} cannot optimize for `{target}` (it needs {} {})",
            compiler.name,
            ranges.join(" or ")
        )),
    )
}

/// The deepest target among `microarch` and its ancestors that `compiler` can optimize for.
pub(crate) fn best_supported(cpu: &CpuInfo, compiler: &CompilerVersion) -> TargetFlags {
    let known = Microarchitecture::known_targets();
    std::iter::once(&cpu.microarch)
        .chain(&cpu.ancestors)
        .filter_map(|t| known.get(t))
        .map(|t| (rank(t), target_flags(t.name(), compiler)))
        .filter(|(_, f)| f.flags.is_some())
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, f)| f)
        .unwrap_or_else(|| cpu.flags.clone())
}

/// Reads a CpuInfo from cpuinfo text; memory comes from the caller.
pub(crate) fn detect(
    text: &str,
    memory_bytes: u64,
    compiler: &CompilerVersion,
    notes: &mut Vec<String>,
) -> CpuInfo {
    let info = CpuInfoText::parse(text);
    let arch = info.arch();
    let virtualized = info
        .get("flags")
        .is_some_and(|f| f.split_whitespace().any(|x| x == "hypervisor"));
    let (microarch, generic) = match detect_microarch(arch, &info) {
        Some(found) => found,
        None => {
            notes.push(format!(
                "archspec knows no `{arch}` targets; using the plain architecture name"
            ));
            let generic = Arc::new(Microarchitecture::generic(arch));
            (generic.clone(), generic)
        }
    };
    if microarch.name() == generic.name() && arch == "x86_64" {
        notes.push(format!(
            "archspec matched only the generic level `{}`: the CPU shows no vendor \
             microarchitecture's full feature set{}",
            generic.name(),
            if virtualized {
                " (usual on virtual machines, whose hypervisor hides some CPU flags)"
            } else {
                ""
            }
        ));
    }
    if virtualized {
        notes.push(
            "running under a hypervisor: the target reflects the CPU flags the VM exposes, \
             which may be fewer than the physical CPU has"
                .into(),
        );
    }
    let vendor = match arch {
        "aarch64" => microarch.vendor().to_string(),
        _ => info.get("vendor_id").unwrap_or("unknown").to_string(),
    };
    let model = info
        .get("model name")
        .or_else(|| info.get("Model"))
        .or_else(|| info.get("cpu"))
        .unwrap_or("unknown")
        .to_string();
    CpuInfo {
        arch: arch.into(),
        vendor,
        model,
        cores: info.cores.max(1),
        threads: info.threads.max(1),
        memory_bytes,
        memory_text: crate::units::human_bytes(memory_bytes),
        microarch: microarch.name().into(),
        generic: generic.name().into(),
        ancestors: ancestors(&microarch),
        virtualized,
        flags: target_flags(microarch.name(), compiler),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ranges_follow_archspec() {
        assert!(in_range("10.3:", "13"));
        assert!(!in_range("12.3:", "12"));
        // archspec compares tuples: 12 < 12.2, so 12 is inside 10.3:12.2.
        assert!(in_range("10.3:12.2", "12"));
        assert!(in_range(":4.8", "4.7.2"));
        assert!(!in_range(":4.8", "4.8.5"), "tuples: (4, 8) < (4, 8, 5)");
        assert!(!in_range("14.1:", "13.2-ubuntu"));
    }

    #[test]
    fn flags_for_known_targets_and_old_compilers() {
        let gcc = |v: &str| CompilerVersion {
            name: "gcc".into(),
            version: v.into(),
        };
        let f = target_flags("zen3", &gcc("13"));
        assert_eq!(f.flags.as_deref(), Some("-march=znver3 -mtune=znver3"));
        let f = target_flags("zen5", &gcc("13"));
        assert!(f.flags.is_none());
        assert!(f.problem.unwrap().contains("14.1:"));
        let f = target_flags("x86_64_v3", &gcc("13"));
        assert_eq!(f.flags.as_deref(), Some("-march=x86-64-v3 -mtune=generic"));
        assert_eq!(
            target_flags("x86_64", &gcc("13")).flags.as_deref(),
            Some("-march=x86-64 -mtune=generic")
        );
        assert!(target_flags("zen99", &gcc("13")).flags.is_none());
    }

    #[test]
    fn cpuinfo_counts_threads_and_cores() {
        let text = "processor\t: 0\nphysical id\t: 0\ncore id\t: 0\nmodel name\t: X\n\n\
                    processor\t: 1\nphysical id\t: 0\ncore id\t: 0\n\n\
                    processor\t: 2\nphysical id\t: 0\ncore id\t: 1\n";
        let info = CpuInfoText::parse(text);
        assert_eq!((info.threads, info.cores), (3, 2));
        assert_eq!(info.get("model name"), Some("X"));
    }
}
