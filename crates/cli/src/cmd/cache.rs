use std::process::ExitCode;

use factory::cache::{self, Layer};
use factory::lxd::Lxc;
use factory::settings::Loaded;
use factory::units::human_bytes;

use crate::output::Out;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Size of each cached layer.
    #[command(
        after_help = "Layers: base-images (LXD images with build tools and Spack), \
buildcache (Spack binaries), mirror (sources), ccache, locks (solved environments).

Examples:
  slurm-factory cache status
  slurm-factory cache status --json"
    )]
    Status,
    /// Empty one layer, or every layer.
    #[command(after_help = "Examples:
  slurm-factory cache clean ccache
  slurm-factory cache clean --all --yes")]
    Clean(CleanArgs),
}

#[derive(Debug, clap::Args)]
pub struct CleanArgs {
    /// The layer to empty: base-images, buildcache, mirror, ccache, locks.
    #[arg(required_unless_present = "all")]
    pub layer: Option<Layer>,
    /// Every layer.
    #[arg(long, conflicts_with = "layer")]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub yes: bool,
}

pub async fn run(command: Command, loaded: &Loaded, out: &Out) -> factory::Result<ExitCode> {
    let lxc = Lxc::new(&loaded.settings);
    match command {
        Command::Status => {
            let layers = cache::status(&loaded.settings, &lxc).await?;
            if out.json {
                out.json(&layers);
            } else {
                let total: u64 = layers.iter().map(|l| l.bytes).sum();
                for l in &layers {
                    let place = l
                        .path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "LXD images".into());
                    println!(
                        "{:<12} {:>10}  {:>6} {}  {}",
                        l.layer.as_str(),
                        human_bytes(l.bytes),
                        l.entries,
                        if l.layer == Layer::BaseImages {
                            "images"
                        } else {
                            "files "
                        },
                        out.dim(&place)
                    );
                }
                println!("{:<12} {:>10}", "total", human_bytes(total));
            }
        }
        Command::Clean(args) => {
            let layers: Vec<Layer> = match args.layer {
                Some(l) => vec![l],
                None => Layer::ALL.to_vec(),
            };
            let names: Vec<&str> = layers.iter().map(|l| l.as_str()).collect();
            if !args.yes {
                super::confirm(out, &format!("empty the cache layers {}", names.join(", ")))?;
            }
            let mut freed = Vec::new();
            for layer in layers {
                let bytes = cache::clean(&loaded.settings, &lxc, layer).await?;
                freed.push(serde_json::json!({ "layer": layer, "freed_bytes": bytes }));
                if !out.json {
                    println!("{:<12} freed {}", layer.as_str(), human_bytes(bytes));
                }
            }
            if out.json {
                out.json(&freed);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
