use std::process::ExitCode;

use factory::doctor::{self, Status};
use factory::settings::Loaded;
use factory::ExitKind;

use crate::output::Out;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each check passes, warns or fails; a failed check prints the command that \
fixes it. Exits 0 when nothing failed, 4 otherwise.

Examples:
  slurm-factory doctor
  slurm-factory doctor --json | jq '.checks[] | select(.status == \"fail\")'"
)]
pub struct Args {}

pub async fn run(_args: Args, loaded: &Loaded, out: &Out) -> factory::Result<ExitCode> {
    let report = doctor::run(&loaded.settings).await;
    if out.json {
        out.json(&serde_json::json!({ "ok": report.ok(), "checks": report.checks }));
    } else {
        for c in &report.checks {
            let mark = match c.status {
                Status::Pass => out.green("pass"),
                Status::Warn => out.yellow("warn"),
                Status::Fail => out.red("FAIL"),
                Status::Skip => out.dim("skip"),
            };
            outln!("{mark}  {}: {}", c.title, c.detail);
            if !c.hint.is_empty() {
                outln!("      {} {}", out.dim("fix:"), c.hint);
            }
        }
        if report.ok() {
            outln!("\nReady to build.");
        } else {
            outln!(
                "\nNot ready: fix the failed checks above, then run `slurm-factory doctor` again."
            );
        }
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(ExitKind::Environment.code())
    })
}
