use std::path::PathBuf;
use std::process::ExitCode;

use factory::recipe::Templates;

use crate::output::Out;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write the built-in templates to DIR, as a starting point for your own.
    #[command(
        after_help = "Point the `templates_dir` setting (or SLURM_FACTORY_TEMPLATES_DIR) at \
the directory afterwards; a file there replaces the built-in one of the same path, the rest stay \
built-in. Delete the files you do not change.

Examples:
  slurm-factory templates export ~/slurm-factory-templates
  slurm-factory templates export ./templates --force"
    )]
    Export {
        /// Directory to write into (created if missing).
        dir: PathBuf,
        /// Overwrite files that already exist.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(command: Command, out: &Out) -> factory::Result<ExitCode> {
    let Command::Export { dir, force } = command;
    if !force {
        if let Some(existing) = Templates::builtin_names()
            .iter()
            .map(|name| dir.join(name))
            .find(|path| path.exists())
        {
            return Err(factory::Error::FileExists { path: existing });
        }
    }
    let written = Templates::load(None)?.export(&dir)?;
    if out.json {
        out.json(&serde_json::json!({ "dir": dir, "files": written }));
    } else {
        for path in &written {
            outln!("{}", path.display());
        }
        if !out.quiet {
            eprintln!(
                "{} templates written; set templates_dir = {:?} to use them",
                written.len(),
                dir
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
