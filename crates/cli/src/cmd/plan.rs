use std::path::PathBuf;
use std::process::ExitCode;

use factory::hardware;
use factory::request::Defaults;
use factory::settings::Loaded;

use super::flags::{with_preset, FlagArgs, RequestArgs};
use crate::output::{table, Out};

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
    /// A saved build (YAML, as --save-preset writes): its options, and over them the ones
    /// given here.
    #[arg(long, value_name = "FILE")]
    pub preset: Option<PathBuf>,
    /// Save the request and the flags given as a YAML preset for `build --preset` (and the
    /// desktop app).
    #[arg(long, value_name = "FILE")]
    pub save_preset: Option<PathBuf>,
    /// Also render the Spack recipe (spack.yaml, modules, scripts) into DIR.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub flags: FlagArgs,
}

pub fn run(args: Args, loaded: &Loaded, out: &Out) -> factory::Result<ExitCode> {
    let host = hardware::detect();
    let preset = with_preset(&args.request, &args.flags, args.preset.as_deref())?;
    let s = &loaded.settings;
    // The engine's plan, as the desktop app shows it too.
    let defaults = Defaults::from_suggestions(&host.suggestions).with_settings(s)?;
    let plan = factory::pipeline::plan::plan(&preset.request, &preset.flags, &defaults, s)?;
    if let Some(path) = &args.save_preset {
        factory::request::presets::save(path, &preset)?;
        if !out.json {
            eprintln!("saved preset {}", path.display());
        }
    }
    let written = match &args.output {
        Some(dir) => {
            let options = factory::pipeline::BuildOptions {
                request: plan.request.clone(),
                flags: preset.flags,
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
