use factory::settings::Loaded;

use crate::output::Out;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print every setting, its effective value and where it came from.
    #[command(
        after_help = "Precedence, lowest first: default < config file < SLURM_FACTORY_* \
environment variable < command-line flag.

Examples:
  slurm-factory config show
  SLURM_FACTORY_STORAGE_POOL=fast slurm-factory config show --json"
    )]
    Show,
    /// Print the path of the config file (it may not exist yet).
    #[command(after_help = "Example:
  $EDITOR \"$(slurm-factory config path)\"")]
    Path,
}

pub fn run(
    command: Command,
    loaded: &Loaded,
    out: &Out,
) -> factory::Result<std::process::ExitCode> {
    match command {
        Command::Path => {
            if out.json {
                out.json(&serde_json::json!({
                    "path": loaded.config_path,
                    "exists": loaded.config_exists,
                }));
            } else {
                outln!("{}", loaded.config_path.display());
            }
        }
        Command::Show => {
            let entries = loaded.entries();
            if out.json {
                out.json(&serde_json::json!({
                    "config_path": loaded.config_path,
                    "config_exists": loaded.config_exists,
                    "settings": entries,
                }));
            } else {
                let state = if loaded.config_exists {
                    ""
                } else {
                    " (not present)"
                };
                outln!("config file: {}{state}\n", loaded.config_path.display());
                let key_w = entries.iter().map(|e| e.key.len()).max().unwrap_or(0);
                let val_w = entries
                    .iter()
                    .map(|e| e.value.as_deref().unwrap_or("(unset)").len())
                    .max()
                    .unwrap_or(0)
                    .min(48);
                for e in entries {
                    let value = e.value.as_deref().unwrap_or("(unset)");
                    outln!(
                        "{:key_w$}  {value:val_w$}  {}",
                        e.key,
                        out.dim(&format!("{}  [{}]", e.source, e.env)),
                    );
                }
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
