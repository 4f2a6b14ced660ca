//! Hardware detection over machines captured into tests/fixtures/hardware, and on this host.

use std::path::{Path, PathBuf};

use factory::hardware::{
    detect, detect_from, CompilerVersion, GpuSupport, HostReport, NvmlGpu, NvmlSource, Roots,
};
use factory::kinds::GpuVendor;
use factory::request::validate_target;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hardware")
        .join(name)
}

fn captured(name: &str) -> Roots {
    Roots::captured(&fixture(name)).unwrap()
}

const GIB: u64 = 1 << 30;

#[test]
fn vm_epyc_is_zen2_at_the_x86_64_v3_level() {
    let r = detect_from(&captured("vm-epyc"));
    let c = &r.cpu;
    assert_eq!(c.arch, "x86_64");
    assert_eq!(c.vendor, "AuthenticAMD");
    assert_eq!(c.model, "AMD EPYC");
    assert_eq!((c.cores, c.threads), (2, 2));
    assert_eq!(c.memory_bytes, 24_684_092 * 1024);
    // A Milan (zen3) guest: the hypervisor hides flags (pku, ospke) zen3 requires.
    assert_eq!(c.microarch, "zen2");
    assert_eq!(c.generic, "x86_64_v3");
    assert!(c.virtualized);
    assert_eq!(
        c.ancestors,
        ["zen", "x86_64_v3", "x86_64_v2", "x86_64"],
        "parents first"
    );
    assert_eq!(
        c.flags.flags.as_deref(),
        Some("-march=znver2 -mtune=znver2")
    );
    assert!(r.gpus.is_empty(), "{:?}", r.gpus);
    let s = &r.suggestions;
    assert_eq!(s.target.value, "zen2");
    assert_eq!(s.portable_target.value, "x86_64_v3");
    assert_eq!(s.package.value.gpu, None);
    assert_eq!(s.jobs.value, 2);
    assert!(
        r.notes.iter().any(|n| n.contains("hypervisor")),
        "{:?}",
        r.notes
    );
}

fn nvidia_smi_rows(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("nvidia-smi.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|f| f.trim().to_string()).collect())
        .collect()
}

#[test]
fn h100_nvml_facts_agree_with_nvidia_smi() {
    let roots = captured("h100-kvm");
    let NvmlSource::Captured(gpus) = &roots.nvml else {
        panic!("h100-kvm has nvml.json");
    };
    let rows = nvidia_smi_rows(&fixture("h100-kvm"));
    assert_eq!(gpus.len(), rows.len());
    for (g, row) in gpus.iter().zip(&rows) {
        // name, memory.total [MiB], driver_version, compute_cap, pci.bus_id
        assert_eq!(g.name, row[0]);
        assert_eq!(format!("{} MiB", g.memory_bytes >> 20), row[1]);
        assert_eq!(g.driver_version, row[2]);
        let (major, minor) = g.compute_capability;
        assert_eq!(format!("{major}.{minor}"), row[3]);
        assert_eq!(g.pci_bus_id, row[4]);
    }
}

#[test]
fn h100_host_suggests_cuda_90_and_icelake() {
    let r = detect_from(&captured("h100-kvm"));
    let c = &r.cpu;
    assert_eq!(c.vendor, "GenuineIntel");
    assert_eq!((c.cores, c.threads), (16, 16));
    assert!(c.virtualized);
    // A Sapphire Rapids-class guest whose hypervisor hides `waitpkg`, which archspec's
    // sapphirerapids requires: Spack on this VM says icelake too.
    assert!(!c.model.is_empty());
    assert_eq!(c.microarch, "icelake");
    assert_eq!(c.generic, "x86_64_v4");
    assert_eq!(c.ancestors[..2], ["cascadelake", "cannonlake"]);
    assert_eq!(
        c.flags.flags.as_deref(),
        Some("-march=icelake-client -mtune=icelake-client")
    );

    // Only the display device is a GPU: bridges, virtio disks and NICs are not listed.
    assert_eq!(r.gpus.len(), 1, "{:?}", r.gpus);
    let g = &r.gpus[0];
    assert_eq!(g.pci_address, "0000:00:06.0");
    assert_eq!(
        (g.vendor_id.as_str(), g.device_id.as_str()),
        ("10de", "2330")
    );
    assert_eq!(g.name, "NVIDIA H100 80GB HBM3");
    assert_eq!(g.compute_capability.as_deref(), Some("9.0"));
    assert_eq!(g.arch.as_deref(), Some("90"));
    assert_eq!(g.memory_bytes, Some(81559 << 20));
    assert_eq!(g.driver_version.as_deref(), Some("580.159.04"));
    assert_eq!(g.support, GpuSupport::Supported);
    assert_eq!(g.toolkit, Some(GpuVendor::Cuda));

    let s = &r.suggestions;
    assert_eq!(s.target.value, "icelake");
    assert_eq!(s.portable_target.value, "x86_64_v3");
    assert_eq!(s.package.value.gpu, Some(GpuVendor::Cuda));
    assert_eq!(s.package.value.gpu_arch, ["90"]);
    assert_eq!(s.package.value.label(), "cuda 90");
    assert_eq!(s.jobs.value, 16);
}

#[test]
fn h100_without_a_driver_is_listed_by_its_pci_name() {
    let mut roots = captured("h100-kvm");
    roots.nvml = NvmlSource::Absent;
    let r = detect_from(&roots);
    assert_eq!(r.gpus.len(), 1);
    let g = &r.gpus[0];
    assert_eq!(g.name, "GH100 [H100 SXM5 80GB]");
    assert_eq!(g.vendor_name, "NVIDIA Corporation");
    assert_eq!(g.support, GpuSupport::NoDriver);
    assert_eq!(g.arch, None);
    assert_eq!(r.suggestions.package.value.gpu, None);
    assert!(
        r.suggestions
            .package
            .reason
            .contains("without a working driver"),
        "{}",
        r.suggestions.package.reason
    );
}

#[test]
fn an_old_compiler_falls_back_to_the_closest_target_it_knows() {
    let mut roots = captured("vm-epyc");
    roots.compiler = CompilerVersion {
        name: "gcc".into(),
        version: "8".into(),
    };
    let r = detect_from(&roots);
    assert_eq!(r.cpu.microarch, "zen2");
    assert!(r.cpu.flags.flags.is_none());
    let problem = r.cpu.flags.problem.as_deref().unwrap();
    assert!(
        problem.contains("gcc@8 cannot optimize for `zen2`"),
        "{problem}"
    );
    assert!(problem.contains("9.0:"), "{problem}");
    assert!(r.notes.iter().any(|n| n == problem));
    // zen (gcc 6.0:) is the deepest ancestor gcc 8 has flags for.
    assert_eq!(r.suggestions.target.value, "zen");
    assert!(r.suggestions.target.reason.contains("cannot optimize"));
}

fn gpu_only(name: &str) -> HostReport {
    let mut roots = captured(name);
    roots.cpuinfo = std::fs::read_to_string(fixture("vm-epyc/cpuinfo")).unwrap();
    roots.meminfo = Some(format!("MemTotal: {} kB\n", 512 * GIB / 1024));
    detect_from(&roots)
}

#[test]
fn mi250x_gcds_are_gfx90a_and_the_bmc_vga_is_unsupported() {
    let r = gpu_only("amd-mi250x-synthetic");
    let addresses: Vec<&str> = r.gpus.iter().map(|g| g.pci_address.as_str()).collect();
    assert_eq!(addresses, ["0000:02:00.0", "0000:c1:00.0", "0000:c6:00.0"]);
    let bmc = &r.gpus[0];
    assert_eq!(bmc.name, "ASPEED Graphics Family");
    assert_eq!(bmc.support, GpuSupport::Unsupported);
    assert_eq!(bmc.toolkit, None);
    for g in &r.gpus[1..] {
        assert_eq!(g.name, "Aldebaran/MI200 [Instinct MI250X]");
        assert_eq!(g.arch.as_deref(), Some("gfx90a"));
        assert_eq!(g.compute_capability.as_deref(), Some("90010"));
        assert_eq!(g.support, GpuSupport::Supported);
    }
    let p = &r.suggestions.package;
    assert_eq!(p.value.gpu, Some(GpuVendor::Rocm));
    assert_eq!(p.value.gpu_arch, ["gfx90a"]);
    assert!(p.reason.starts_with("2 AMD GPUs"), "{}", p.reason);
    assert!(
        r.notes.iter().any(|n| n.contains("ASPEED")),
        "{:?}",
        r.notes
    );
}

#[test]
fn mi300x_accelerators_are_gfx942_and_a_gpu_without_kfd_needs_a_driver() {
    let r = gpu_only("amd-mi300x-synthetic");
    assert_eq!(r.gpus.len(), 3, "{:?}", r.gpus);
    let supported: Vec<&str> = r
        .gpus
        .iter()
        .filter(|g| g.support == GpuSupport::Supported)
        .map(|g| g.arch.as_deref().unwrap())
        .collect();
    assert_eq!(supported, ["gfx942", "gfx942"]);
    assert!(r.gpus.iter().all(|g| g.toolkit == Some(GpuVendor::Rocm)));
    let apu = r.gpus.iter().find(|g| g.device_id == "164e").unwrap();
    assert_eq!(apu.name, "Raphael");
    assert_eq!(apu.support, GpuSupport::NoDriver);
    assert_eq!(r.suggestions.package.value.gpu_arch, ["gfx942"]);
}

#[test]
fn nvml_devices_missing_from_the_pci_scan_are_still_listed() {
    let mut roots = captured("vm-epyc");
    roots.nvml = NvmlSource::Captured(vec![NvmlGpu {
        name: "NVIDIA A100-SXM4-80GB".into(),
        pci_bus_id: "00000000:C1:00.0".into(),
        memory_bytes: 80 * GIB,
        driver_version: "550.54.15".into(),
        compute_capability: (8, 0),
    }]);
    let r = detect_from(&roots);
    assert_eq!(r.gpus.len(), 1);
    assert_eq!(r.gpus[0].pci_address, "0000:c1:00.0");
    assert_eq!(r.gpus[0].arch.as_deref(), Some("80"));
    assert_eq!(r.suggestions.package.value.label(), "cuda 80");
}

#[test]
fn a_machine_with_too_little_memory_gets_fewer_jobs() {
    let mut roots = captured("h100-kvm");
    roots.meminfo = Some(format!("MemTotal: {} kB\n", 6 * GIB / 1024));
    let r = detect_from(&roots);
    assert_eq!(r.suggestions.jobs.value, 6);
    assert!(r.suggestions.jobs.reason.contains("1 GiB per compile job"));
}

#[test]
fn live_host_is_detected_sanely() {
    let r = detect();
    let c = &r.cpu;
    assert!(
        c.threads >= 1 && c.cores >= 1 && c.cores <= c.threads,
        "{c:?}"
    );
    assert!(c.memory_bytes > 256 << 20, "{c:?}");
    assert!(!c.model.is_empty() && !c.vendor.is_empty());
    // The cpuinfo-based matcher agrees with archspec's own live detection.
    let archspec = archspec::cpu::host().expect("archspec detects this host");
    assert_eq!(c.microarch, archspec.name());
    for t in [
        &r.suggestions.target.value,
        &r.suggestions.portable_target.value,
    ] {
        assert_eq!(validate_target(t).unwrap(), *t);
    }
    let jobs = r.suggestions.jobs.value;
    assert!((1..=1024).contains(&jobs));
    assert!(jobs as usize <= std::thread::available_parallelism().unwrap().get());
    for g in &r.gpus {
        assert!(!g.name.is_empty() && !g.pci_address.is_empty());
    }
    // The report is what the UI receives: it round-trips through JSON.
    let text = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<HostReport>(&text).unwrap(), r);
}

#[test]
fn h100_replay_reproduces_the_report_taken_live_on_that_machine() {
    // detect-live.json is `slurm-factory detect --json` run on the H100 machine itself.
    let live: HostReport = serde_json::from_str(
        &std::fs::read_to_string(fixture("h100-kvm/detect-live.json")).unwrap(),
    )
    .unwrap();
    let mut roots = captured("h100-kvm");
    roots.parallelism = Some(16);
    assert_eq!(detect_from(&roots), live);
}

#[test]
fn a_cpu_without_a_vendor_target_gets_the_generic_level_and_a_note() {
    let mut roots = captured("vm-epyc");
    // The same flags from a vendor archspec has no targets for.
    roots.cpuinfo = roots.cpuinfo.replace("AuthenticAMD", "HygonGenuine");
    let r = detect_from(&roots);
    assert_eq!(r.cpu.microarch, "x86_64_v3");
    assert_eq!(r.cpu.generic, "x86_64_v3");
    assert_eq!(r.suggestions.target.value, "x86_64_v3");
    assert!(r.suggestions.target.reason.contains("as usual on a VM"));
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("matched only the generic level `x86_64_v3`")
                && n.contains("virtual machines")),
        "{:?}",
        r.notes
    );
}
