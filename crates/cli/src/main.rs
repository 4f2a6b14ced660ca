//! `slurm-factory`: the command-line front end of the engine. Thin by design:
//! parse, call the engine, render text or JSON, map errors to exit codes.

#[macro_use]
mod output;
mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use factory::settings::Loaded;

use crate::output::Out;

const AFTER_HELP: &str = "\
Examples:
  slurm-factory doctor                         check that LXD is ready for builds
  slurm-factory detect                         this machine's CPU target, GPUs, suggestions
  slurm-factory plan --slurm-version 24.11 --gpu cuda
  slurm-factory plan --minimal --json          machine-readable plan
  slurm-factory config show                    effective settings and where they come from
  slurm-factory artifacts list                 finished packages, newest first
  slurm-factory completions bash > /etc/bash_completion.d/slurm-factory

Exit codes: 0 ok, 1 internal error, 2 usage, 3 configuration, 4 environment (LXD, disk),
5 build failed, 130 cancelled.";

/// Build optimized, relocatable Slurm packages with Spack inside LXD containers.
#[derive(Debug, Parser)]
#[command(name = "slurm-factory", version, after_help = AFTER_HELP, propagate_version = true)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Only errors on stderr; no progress output.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,

    /// Machine-readable JSON on stdout (errors too, as {"error", "hint", ...}).
    #[arg(long, global = true)]
    json: bool,

    /// Logs on stderr as JSON lines instead of text.
    #[arg(long, global = true)]
    log_json: bool,

    /// The LXD project builds run in [env: SLURM_FACTORY_LXD_PROJECT].
    #[arg(long, global = true, value_name = "NAME")]
    project_name: Option<String>,

    /// Read settings from this file instead of the XDG config file [env: SLURM_FACTORY_CONFIG].
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build a Slurm package in LXD: provision, Spack, package, verify, store.
    Build(Box<cmd::build::Args>),
    /// Publish a stored artifact: its Spack binaries to a buildcache, its archives beside
    /// them, optionally signed.
    Publish(cmd::publish::Args),
    /// Validate a build request and show what would be built.
    Plan(Box<cmd::plan::Args>),
    /// Many builds from one file (versions × package types × targets × toolchains), a few at a time.
    Matrix(cmd::matrix::Args),
    /// Show this machine's CPU target and GPUs, and what to build for them.
    Detect(cmd::detect::Args),
    /// Check that this machine is ready: LXD installed, running, usable, storage, disk.
    Doctor(cmd::doctor::Args),
    /// Show the effective settings or the config file's location.
    #[command(subcommand)]
    Config(cmd::config::Command),
    /// Print a shell completion script.
    Completions(cmd::completions::Args),
    /// Past and running builds: list, show, log.
    #[command(subcommand)]
    Runs(cmd::runs::Command),
    /// Cached layers (base images, buildcache, sources, ccache, locks): status, clean.
    #[command(subcommand)]
    Cache(cmd::cache::Command),
    /// Air-gapped sites: fill and check the source mirror, carry it to a host without internet.
    #[command(subcommand)]
    Mirror(cmd::mirror::Command),
    /// Delete leftovers of interrupted builds; --full empties every cache too.
    Clean(cmd::clean::Args),
    /// Finished packages in the store: list, show, export, delete.
    #[command(subcommand)]
    Artifacts(cmd::artifacts::Command),
    /// Work with the templates Spack recipes are rendered from.
    #[command(subcommand)]
    Templates(cmd::templates::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let out = Out::new(cli.json, cli.quiet);
    match run(cli, &out) {
        Ok(code) => code,
        Err(err) => {
            out.error(&err);
            ExitCode::from(err.kind().code())
        }
    }
}

fn run(cli: Cli, out: &Out) -> factory::Result<ExitCode> {
    if let Command::Completions(args) = &cli.command {
        cmd::completions::run(args);
        return Ok(ExitCode::SUCCESS);
    }
    let settings = load_settings(&cli, out)?;
    let verbose = cli.verbose > 0;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| factory::Error::io("starting the async runtime", "tokio", e))?;
    runtime.block_on(async {
        match cli.command {
            Command::Build(args) => cmd::build::run(*args, &settings, out, verbose).await,
            Command::Publish(args) => cmd::publish::run(args, &settings, out, verbose).await,
            Command::Plan(args) => cmd::plan::run(*args, &settings, out),
            Command::Matrix(args) => cmd::matrix::run(args, &settings, out).await,
            Command::Runs(command) => cmd::runs::run(command, &settings, out),
            Command::Cache(command) => cmd::cache::run(command, &settings, out).await,
            Command::Clean(args) => cmd::clean::run(args, &settings, out).await,
            Command::Mirror(command) => cmd::mirror::run(command, &settings, out, verbose).await,
            Command::Detect(args) => cmd::detect::run(args, out),
            Command::Doctor(args) => cmd::doctor::run(args, &settings, out).await,
            Command::Config(command) => cmd::config::run(command, &settings, out),
            Command::Artifacts(command) => cmd::artifacts::run(command, &settings, out),
            Command::Templates(command) => cmd::templates::run(command, out),
            Command::Completions(_) => unreachable!("handled before settings load"),
        }
    })
}

fn load_settings(cli: &Cli, out: &Out) -> factory::Result<Loaded> {
    // The flag wins over SLURM_FACTORY_CONFIG.
    let mut loaded = Loaded::from_environment_with_config(cli.config.as_deref())?;
    if let Some(project) = &cli.project_name {
        loaded.set_from_flag("lxd_project", project, "--project-name")?;
    }
    for warning in &loaded.warnings {
        out.warn(warning);
    }
    Ok(loaded)
}

fn init_logging(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_env("SLURM_FACTORY_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,factory={level},slurm_factory={level}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.log_json {
        builder.json().init();
    } else {
        builder.without_time().with_target(false).init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
