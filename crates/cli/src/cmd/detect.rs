use std::path::PathBuf;
use std::process::ExitCode;

use factory::hardware::{self, CompilerVersion, GpuSupport, HostReport, Roots};

use crate::output::{table, Out};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "The suggestions are what `plan` and `build` use when you give no \
--target, --gpu or --jobs; your flags always win.

Examples:
  slurm-factory detect
  slurm-factory detect --json | jq .suggestions.target.value
  slurm-factory detect --gcc-version 12       which targets gcc 12 can optimize for
  slurm-factory detect --from ./capture       replay a machine captured into a directory"
)]
pub struct Args {
    /// Version of the gcc that will build (decides which targets it can optimize for).
    #[arg(long, value_name = "VERSION", default_value = "13")]
    pub gcc_version: String,
    /// Read a captured machine (cpuinfo, meminfo, sys/, nvml.json) instead of this host.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
}

pub fn run(args: Args, out: &Out) -> factory::Result<ExitCode> {
    let mut roots = match &args.from {
        Some(dir) => Roots::captured(dir)?,
        None => Roots::host(),
    };
    roots.compiler = CompilerVersion {
        name: "gcc".into(),
        version: args.gcc_version,
    };
    let report = hardware::detect_from(&roots);
    if out.json {
        out.json(&report);
    } else {
        out!("{}", render(&report, out));
    }
    Ok(ExitCode::SUCCESS)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

fn render(r: &HostReport, out: &Out) -> String {
    let c = &r.cpu;
    let flags = match (&c.flags.flags, &c.flags.problem) {
        (Some(f), _) if f.is_empty() => format!("{}: no extra flags", c.flags.compiler),
        (Some(f), _) => format!("{}: {f}", c.flags.compiler),
        (None, Some(p)) => out.yellow(p),
        (None, None) => "-".into(),
    };
    let rows = [
        (
            "CPU",
            format!(
                "{} ({}, {}), {} cores / {} threads, {}",
                c.model, c.vendor, c.arch, c.cores, c.threads, c.memory_text
            ),
        ),
        (
            "Target",
            format!(
                "{} (generic level {}{})",
                c.microarch,
                c.generic,
                if c.virtualized {
                    ", virtual machine"
                } else {
                    ""
                }
            ),
        ),
        ("Ancestors", c.ancestors.join(", ")),
        ("Flags", flags),
    ];
    let mut text = table(&rows);
    text.push_str("\nGPUs\n");
    if r.gpus.is_empty() {
        text.push_str("  none found\n");
    }
    for g in &r.gpus {
        let mark = match g.support {
            GpuSupport::Supported => out.green("supported"),
            GpuSupport::NoDriver => out.yellow("no driver"),
            GpuSupport::Unsupported => out.dim("unsupported"),
        };
        let mut facts = vec![format!("[{}:{}]", g.vendor_id, g.device_id)];
        if let Some(m) = g.memory_bytes {
            facts.push(gib(m));
        }
        if let Some(d) = &g.driver_version {
            facts.push(format!("driver {d}"));
        }
        if let (Some(cc), Some(arch)) = (&g.compute_capability, &g.arch) {
            facts.push(format!("{cc} -> {arch}"));
        }
        text.push_str(&format!(
            "  {}  {}  {}\n    {mark}: {}\n",
            g.pci_address,
            g.name,
            facts.join(", "),
            g.support_note
        ));
    }
    let s = &r.suggestions;
    let values = [
        ("target", s.target.value.clone(), &s.target.reason),
        (
            "portable target",
            s.portable_target.value.clone(),
            &s.portable_target.reason,
        ),
        ("package", s.package.value.label(), &s.package.reason),
        ("jobs", s.jobs.value.to_string(), &s.jobs.reason),
    ];
    let width = values.iter().map(|(_, v, _)| v.len()).max().unwrap_or(0);
    let rows: Vec<(&str, String)> = values
        .iter()
        .map(|(label, v, why)| (*label, format!("{v:width$}  {}", out.dim(why))))
        .collect();
    text.push_str("\nSuggestions\n");
    text.push_str(&table(&rows));
    if !r.notes.is_empty() {
        text.push_str("\nNotes\n");
        for n in &r.notes {
            text.push_str(&format!("  - {n}\n"));
        }
    }
    text
}
