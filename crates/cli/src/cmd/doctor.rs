use std::process::ExitCode;

use factory::doctor::{self, Status};
use factory::remotes::{self, RemoteSlots};
use factory::settings::Loaded;
use factory::ExitKind;

use crate::output::Out;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each check passes, warns or fails; a failed check prints the command that \
fixes it. Exits 0 when nothing failed, 4 otherwise.

The servers of the `remotes` setting (a matrix's) are checked too, each on its own:
reachable, trusted, its storage pool, how the caches reach it, its CPUs.

Examples:
  slurm-factory doctor
  slurm-factory doctor --remote builder        one LXD remote (a name from `lxc remote list`)
  slurm-factory doctor --json | jq '.checks[] | select(.status == \"fail\")'"
)]
pub struct Args {
    /// Check only this LXD remote's server (repeat for more).
    #[arg(long = "remote", value_name = "NAME", value_parser = parse_remote)]
    pub remotes: Vec<RemoteSlots>,
}

fn parse_remote(text: &str) -> Result<RemoteSlots, String> {
    remotes::parse_one(text)
}

pub async fn run(args: Args, loaded: &Loaded, out: &Out) -> factory::Result<ExitCode> {
    let settings = &loaded.settings;
    // The machine's own report, then each other server of a matrix; or just
    // the servers asked for.
    let mut reports = Vec::new();
    let others = if args.remotes.is_empty() {
        reports.push((settings.lxd_remote.clone(), doctor::run(settings).await));
        remotes::wanted(settings, &[])
    } else {
        args.remotes
    };
    for r in others {
        if reports.iter().all(|(name, _)| *name != r.remote) {
            let report = doctor::for_remote(settings, &r.remote).await;
            reports.push((r.remote, report));
        }
    }
    let ok = reports.iter().all(|(_, r)| r.ok());
    if out.json {
        let servers: Vec<serde_json::Value> = reports
            .iter()
            .map(|(remote, r)| serde_json::json!({ "remote": remote, "ok": r.ok(), "checks": r.checks }))
            .collect();
        // The first server's checks stay at the top level, as before remotes.
        out.json(&serde_json::json!({
            "ok": ok,
            "checks": reports[0].1.checks,
            "servers": servers,
        }));
        return Ok(exit(ok));
    }
    for (n, (remote, report)) in reports.iter().enumerate() {
        if reports.len() > 1 {
            if n > 0 {
                outln!();
            }
            outln!("LXD remote `{remote}`:");
        }
        for c in &report.checks {
            let mark = match c.status {
                Status::Pass => out.green("pass"),
                Status::Warn => out.yellow("warn"),
                Status::Fail => out.red("FAIL"),
                Status::Skip => out.dim("skip"),
            };
            outln!("{mark}  {}: {}", c.title, c.detail);
            if !c.remedy.0.is_empty() {
                outln!("      {} {}", out.dim("fix:"), c.remedy.cli());
            }
        }
    }
    if ok {
        outln!("\nReady to build.");
    } else {
        outln!("\nNot ready: fix the failed checks above, then run `slurm-factory doctor` again.");
    }
    Ok(exit(ok))
}

fn exit(ok: bool) -> ExitCode {
    match ok {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(ExitKind::Environment.code()),
    }
}
