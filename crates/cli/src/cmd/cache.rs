use std::process::ExitCode;

use factory::caches::cache::{self, LayerHits, LayerStatus};
use factory::kinds::Layer;
use factory::settings::Loaded;
use factory::units::human_bytes;

use crate::output::Out;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Size of each cached layer, and how often past builds found what they needed in it.
    #[command(
        after_help = "Layers: base-images (LXD images with build tools and Spack), \
buildcache (Spack binaries), mirror (sources), ccache, locks (solved environments).

The hit rate sums every recorded run (`slurm-factory runs list`): base-images and
locks count one lookup per build, buildcache one per package Spack installed, mirror
one per source file Spack fetched (git clones are not shown by Spack, so not
counted), ccache one per compiler call it could cache. `--json` adds a `hits` object
to each layer.

Examples:
  slurm-factory cache status
  slurm-factory cache status --json"
    )]
    Status,
    /// Empty one layer, or every layer.
    #[command(
        after_help = "The servers of the `remotes` setting are cleaned too: their replica of \
the layer (buildcache, mirror, ccache volumes), or their base images.

Examples:
  slurm-factory cache clean ccache
  slurm-factory cache clean --all --yes"
    )]
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

/// One line of `cache status --json`: the layer's size, plus its hit rate.
#[derive(serde::Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    status: &'a LayerStatus,
    hits: &'a LayerHits,
}

pub async fn run(command: Command, loaded: &Loaded, out: &Out) -> factory::Result<ExitCode> {
    let lxc = loaded.settings.lxc();
    match command {
        Command::Status => {
            let overview = cache::overview(&loaded.settings, &lxc).await?;
            let hits = cache::hit_rates(&loaded.settings)?;
            let rows: Vec<Row> = overview
                .layers
                .iter()
                .map(|status| Row {
                    status,
                    hits: hits
                        .iter()
                        .find(|h| h.layer == status.layer)
                        .expect("hit_rates covers every layer"),
                })
                .collect();
            if out.json {
                out.json(&rows);
            } else {
                for Row { status: l, hits } in &rows {
                    let place = l
                        .path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "LXD images".into());
                    outln!(
                        "{:<12} {:>10}  {:<10}  {:<44}  {}",
                        l.layer.as_str(),
                        l.size_text,
                        l.entries_text,
                        hits.text,
                        out.dim(&place)
                    );
                }
                outln!("{:<12} {:>10}", "total", overview.total.text);
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
                    outln!("{:<12} freed {}", layer.as_str(), human_bytes(bytes));
                }
            }
            if out.json {
                out.json(&freed);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
