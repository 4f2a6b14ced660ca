use clap::CommandFactory;
use clap_complete::Shell;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  slurm-factory completions bash > ~/.local/share/bash-completion/completions/slurm-factory
  slurm-factory completions zsh > ~/.zfunc/_slurm-factory
  slurm-factory completions fish > ~/.config/fish/completions/slurm-factory.fish")]
pub struct Args {
    /// The shell to complete for.
    pub shell: Shell,
}

pub fn run(args: &Args) {
    let mut command = crate::Cli::command();
    // Into memory first: clap_complete panics when it cannot write (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "slurm-factory", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
}
