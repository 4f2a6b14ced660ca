use std::path::PathBuf;
use std::process::ExitCode;

use factory::hardware;
use factory::kinds::GpuVendor;
use factory::recipe::Templates;
use factory::request::{BuildRequest, Compiler, Defaults};
use factory::settings::Loaded;

use crate::output::{table, Out};

/// The options that describe a package; `plan` and `build` share them.
#[derive(Debug, Clone, clap::Args)]
pub struct RequestArgs {
    #[arg(long, value_name = "VERSION", default_value = "", help = slurm_version_help())]
    #[arg(hide_default_value = true)]
    pub slurm_version: String,
    /// Build GPU support for this vendor.
    #[arg(long, value_enum, value_name = "VENDOR")]
    pub gpu: Option<GpuArg>,
    /// Slurm alone, fewest dependencies, no OpenMPI (not with --gpu).
    #[arg(long)]
    pub minimal: bool,
    /// Spack optimization target (zen3, skylake_avx512, x86_64_v3, ...); default: this machine's.
    #[arg(long, value_name = "TARGET")]
    pub target: Option<String>,
    /// GPU architectures: CUDA compute capabilities (80,90) or ROCm targets (gfx90a).
    #[arg(long, value_name = "ARCH", value_delimiter = ',')]
    pub gpu_arch: Vec<String>,
    /// Parallel build jobs; default: one per core.
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<u32>,
    /// Compiler Spack builds with [default: system].
    #[arg(long, value_enum)]
    pub compiler: Option<CompilerArg>,
    #[arg(long, value_name = "NAME", help = toolchain_help())]
    pub toolchain: Option<String>,
}

/// The built-in toolchains, for `--help`.
fn toolchain_help() -> String {
    let names: Vec<String> = Templates::builtin_toolchains()
        .map(|all| {
            all.into_iter()
                .map(|t| format!("{} (glibc {})", t.name, t.glibc))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "OS to build on and verify on: {}, or a file of your templates' toolchains/; the \
         package runs where glibc is at least that OS's [default: the toolchain setting, else \
         the image setting]",
        names.join(", ")
    )
}

/// The catalogue's releases, for `--help`: which are supported today, which
/// the default (a templates dir's releases.toml adds its own; `plan` shows them).
fn slurm_version_help() -> String {
    let catalog = factory::catalog::Catalog::builtin();
    format!(
        "Slurm release ({}; past end of support, with a warning: {}) or a full Spack version \
         (24-11-6-1) [default: {}, the newest supported]",
        catalog.supported_versions().join(", "),
        catalog.ended_versions().join(", "),
        catalog.default_release().slurm
    )
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum GpuArg {
    Cuda,
    Rocm,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CompilerArg {
    /// the container's gcc (fast)
    System,
    /// a gcc built by Spack first (most portable)
    SpackGcc,
}

impl RequestArgs {
    pub fn compiler_given(&self) -> bool {
        self.compiler.is_some()
    }

    pub fn to_request(&self) -> BuildRequest {
        BuildRequest {
            slurm_version: self.slurm_version.clone(),
            gpu: self.gpu.map(|g| match g {
                GpuArg::Cuda => GpuVendor::Cuda,
                GpuArg::Rocm => GpuVendor::Rocm,
            }),
            minimal: self.minimal,
            target: self.target.clone(),
            gpu_arch: self.gpu_arch.clone(),
            jobs: self.jobs,
            compiler: match self.compiler {
                None | Some(CompilerArg::System) => Compiler::System,
                Some(CompilerArg::SpackGcc) => Compiler::SpackGcc,
            },
            toolchain: self.toolchain.clone(),
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Nothing is built: the request and every flag `build` takes are checked as a
build checks them before it starts, and the plan printed.

Examples:
  slurm-factory plan
  slurm-factory plan --slurm-version 24.11 --gpu cuda --gpu-arch 80,90
  slurm-factory plan --minimal --target x86_64_v3 --json
  slurm-factory plan --gpu rocm --gpu-arch gfx90a --output ./recipe
  slurm-factory plan --modules hierarchy --output ./recipe   the recipe that build would use
  slurm-factory plan --from file:///srv/cache --trust site.asc   are the buildcache and key there?
  slurm-factory plan --toolchain rocky8                  built on Rocky 8: runs on glibc 2.28+"
)]
pub struct Args {
    #[command(flatten)]
    pub request: RequestArgs,
    /// Save the request as a YAML preset for `build --preset` (and the desktop app).
    #[arg(long, value_name = "FILE")]
    pub save_preset: Option<std::path::PathBuf>,
    /// Also render the Spack recipe (spack.yaml, modules, scripts) into DIR.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub flags: super::build::FlagArgs,
}

pub fn run(args: Args, loaded: &Loaded, out: &Out) -> factory::Result<ExitCode> {
    let host = hardware::detect();
    let request = args.request.to_request();
    let s = &loaded.settings;
    // The engine's plan, as the desktop app shows it too.
    let defaults = Defaults::from_suggestions(&host.suggestions).with_settings(s)?;
    let flags = args.flags.flags;
    let plan = factory::plan::plan(&request, &flags, &defaults, s)?;
    if let Some(path) = &args.save_preset {
        factory::presets::save(path, &request)?;
        if !out.json {
            eprintln!("saved preset {}", path.display());
        }
    }
    let written = match &args.output {
        Some(dir) => {
            let options = factory::pipeline::BuildOptions {
                request: plan.request.clone(),
                flags,
            };
            factory::pipeline::render_recipe(s, &options)?.write_to(dir)?
        }
        None => Vec::new(),
    };
    if out.json {
        let mut value = serde_json::to_value(&plan).expect("plans serialize");
        value["rendered"] = serde_json::json!(written);
        out.json(&value);
        return Ok(ExitCode::SUCCESS);
    }
    for warning in &plan.warnings {
        out.warn(warning);
    }
    let rows: Vec<(&str, String)> = plan
        .rows
        .iter()
        .map(|r| (r.label.as_str(), r.value.clone()))
        .collect();
    outln!("Plan for {}\n", plan.artifact_name);
    out!("{}", table(&rows));
    if let Some(dir) = &args.output {
        outln!("\nRendered {} files into {}:", written.len(), dir.display());
        for path in &written {
            outln!("  {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
