use std::process::ExitCode;

use factory::caches::cache::{self};
use factory::kinds::Layer;
use factory::remotes;
use factory::settings::Loaded;
use factory::units::human_bytes;

use crate::output::Out;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Without --full: deletes build instances left by runs whose process is gone \
(killed, crashed, or their LXD server stopped answering) and half-written artifacts, on \
`lxd_remote` and every server of the `remotes` setting that answers. Artifacts and caches \
are kept.
With --full: also empties every cache layer, base images included.

Examples:
  slurm-factory clean
  slurm-factory clean --full --yes"
)]
pub struct Args {
    /// Also remove base images and every cache layer.
    #[arg(long)]
    pub full: bool,
    /// Do not ask for confirmation (needed with --full when not on a terminal).
    #[arg(short, long)]
    pub yes: bool,
}

pub async fn run(args: Args, loaded: &Loaded, out: &Out) -> factory::Result<ExitCode> {
    let lxc = loaded.settings.lxc();
    if args.full && !args.yes {
        super::confirm(out, "delete leftover instances and empty every cache layer")?;
    }
    let mut removed = factory::store::runs::recover_interrupted(&loaded.settings, &lxc).await?;
    // A matrix's other servers; one that does not answer keeps its leftovers
    // until it does.
    for r in remotes::wanted(&loaded.settings, &[]) {
        if r.remote == loaded.settings.lxd_remote {
            continue;
        }
        match factory::store::runs::recover_interrupted(&loaded.settings, &lxc.on(&r.remote)).await
        {
            Ok(names) => removed.extend(names.into_iter().map(|n| format!("{}:{n}", r.remote))),
            Err(e) => out.warn(&format!("skipped the LXD remote `{}`: {e}", r.remote)),
        }
    }
    let mut freed = Vec::new();
    if args.full {
        for layer in Layer::ALL {
            freed.push((layer, cache::clean(&loaded.settings, &lxc, layer).await?));
        }
    }
    if out.json {
        out.json(&serde_json::json!({
            "instances_deleted": removed,
            "layers": freed.iter().map(|(l, b)| serde_json::json!({"layer": l, "freed_bytes": b})).collect::<Vec<_>>(),
        }));
    } else {
        if removed.is_empty() {
            outln!("no leftover build instances");
        }
        for name in &removed {
            outln!("deleted instance {name}");
        }
        for (layer, bytes) in &freed {
            outln!("{:<12} freed {}", layer.as_str(), human_bytes(*bytes));
        }
    }
    Ok(ExitCode::SUCCESS)
}
