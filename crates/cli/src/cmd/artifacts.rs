use std::path::PathBuf;
use std::process::ExitCode;

use factory::settings::Loaded;
use factory::store::artifacts::Store;
use factory::units::human_bytes;

use crate::output::{table, Out};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the finished packages in the store, newest first.
    #[command(after_help = "Examples:
  slurm-factory artifacts list
  slurm-factory artifacts list --json | jq -r '.[] | select(.verified) | .id'")]
    List,
    /// Show one artifact: what it is, its files, checksums and verification.
    #[command(after_help = "Example:
  slurm-factory artifacts show slurm-24.11-default-x86_64_v3-20261124T153000")]
    Show {
        /// The artifact id (from `artifacts list`).
        id: String,
    },
    /// Copy an artifact's archive out of the store; its sha256 is checked on the way.
    #[command(
        after_help = "DEST is a file name or an existing directory (the archive keeps its \
name there). A DEST ending in .tar.gz picks the gzip archive when the artifact has one.

Examples:
  slurm-factory artifacts export slurm-24.11-default-x86_64_v3-20261124T153000 ~/packages/
  slurm-factory artifacts export ID /srv/slurm.tar.zst --force"
    )]
    Export {
        /// The artifact id (from `artifacts list`).
        id: String,
        /// Destination file or directory.
        dest: PathBuf,
        /// Replace an existing file at the destination.
        #[arg(long, short)]
        force: bool,
    },
    /// Check an artifact: each archive against its manifest's sha256, and the
    /// detached signatures (`.asc`) a signed `--publish` left beside them.
    #[command(
        after_help = "Signatures are checked with your keyring, or with the public key \
in --key FILE alone; --signer FINGERPRINT asks that each be by that key (a keyring holds \
others). Exit 0: every file is whole and signed; a file changed, or a signature that does not \
hold, is missing or is by another key: exit 5.

Examples:
  slurm-factory artifacts verify slurm-24.11-default-x86_64_v3-20261124T153000
  slurm-factory artifacts verify ID --key site-builder.asc
  slurm-factory artifacts verify ID --signer 1E0786217F21235E012C7E584EABE3A8758BC46B"
    )]
    Verify {
        /// The artifact id (from `artifacts list`).
        id: String,
        /// The signer's public key (a file); without it, your keyring.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// The fingerprint (or 16-digit key id) every signature must be by:
        /// your keyring's other keys are then not enough.
        #[arg(long, value_name = "FINGERPRINT")]
        signer: Option<String>,
    },
    /// Delete an artifact from the store.
    #[command(
        after_help = "Asks for confirmation on a terminal; elsewhere pass --yes.

Example:
  slurm-factory artifacts delete slurm-24.11-default-x86_64_v3-20261124T153000 --yes"
    )]
    Delete {
        /// The artifact id (from `artifacts list`).
        id: String,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
}

pub fn run(command: Command, loaded: &Loaded, out: &Out) -> factory::Result<ExitCode> {
    let store = Store::new(loaded.settings.artifacts_dir());
    match command {
        Command::List => {
            let list = store.list()?;
            if out.json {
                out.json(&list);
            } else if list.is_empty() {
                outln!(
                    "No artifacts in {} yet; `slurm-factory build` makes one.",
                    store.dir().display()
                );
            } else {
                let rows: Vec<[String; 7]> = list
                    .iter()
                    .map(|a| {
                        [
                            a.id.clone(),
                            a.package_type.clone(),
                            a.target.clone(),
                            a.size_text.clone(),
                            a.created.strftime("%Y-%m-%d").to_string(),
                            if a.verified { "yes" } else { "no" }.to_string(),
                            a.options.join(" "),
                        ]
                    })
                    .collect();
                let header = [
                    "ID", "TYPE", "TARGET", "SIZE", "CREATED", "VERIFIED", "OPTIONS",
                ];
                let widths: Vec<usize> = (0..header.len())
                    .map(|i| {
                        rows.iter()
                            .map(|r| r[i].len())
                            .chain([header[i].len()])
                            .max()
                            .unwrap_or(0)
                    })
                    .collect();
                let line = |cells: &[&str]| {
                    let text: Vec<String> = cells
                        .iter()
                        .zip(&widths)
                        .map(|(c, w)| format!("{c:w$}"))
                        .collect();
                    text.join("  ").trim_end().to_string()
                };
                outln!("{}", out.dim(&line(&header)));
                for r in &rows {
                    let cells: Vec<&str> = r.iter().map(String::as_str).collect();
                    outln!("{}", line(&cells));
                }
            }
        }
        Command::Verify { id, key, signer } => {
            let report = store.verify_signatures(&id, key.as_deref(), signer.as_deref())?;
            if out.json {
                out.json(&report);
            } else {
                for good in &report.signatures {
                    outln!(
                        "good signature  {}  by {} ({})",
                        good.file
                            .file_name()
                            .map(|n| n.to_string_lossy())
                            .unwrap_or_default(),
                        good.signer,
                        good.fingerprint
                    );
                }
                outln!(
                    "{id}: {} archives whole, {} signatures good",
                    report.archives,
                    report.signatures.len()
                );
            }
        }
        Command::Show { id } => {
            let a = store.show(&id)?;
            if out.json {
                out.json(&a);
            } else {
                let m = &a.manifest;
                let verified = match &m.verify {
                    None => "not run".to_string(),
                    Some(v) => format!(
                        "{} ({}/{} checks passed)",
                        if v.passed { "yes" } else { "FAILED" },
                        v.checks.iter().filter(|c| c.passed).count(),
                        v.checks.len()
                    ),
                };
                let floor = match m.inspection.floor.is_empty() {
                    true => "nothing versioned".to_string(),
                    false => m
                        .inspection
                        .floor
                        .iter()
                        .map(|n| format!("{} >= {}", n.family, n.version))
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                let gpu = match (&m.gpu, &m.gpu_arch) {
                    (Some(g), Some(arch)) => format!("{g} ({arch})"),
                    (Some(g), None) => g.clone(),
                    _ => "none".into(),
                };
                out!(
                    "{}",
                    table(&[
                        ("id", a.id.clone()),
                        ("name", m.name.clone()),
                        (
                            "slurm",
                            format!("{} (spack {})", m.slurm_version, m.spack_version)
                        ),
                        ("type", m.package_type.clone()),
                        ("target", m.target.clone()),
                        ("options", {
                            let words = m.option_words();
                            match words.is_empty() {
                                true => "the defaults".to_string(),
                                false => words.join(", "),
                            }
                        }),
                        ("gpu", gpu),
                        (
                            "toolchain",
                            m.request["toolchain"]
                                .as_str()
                                .unwrap_or("none (the image setting)")
                                .to_string()
                        ),
                        ("needs", floor),
                        ("created", m.created.to_string()),
                        (
                            "size",
                            format!(
                                "{} unpacked, archives {}",
                                human_bytes(m.sizes.unpacked),
                                human_bytes(m.archives.iter().map(|x| x.bytes).sum())
                            )
                        ),
                        ("verified", verified),
                        ("directory", a.dir.display().to_string()),
                    ])
                );
                outln!("archives:");
                for x in &m.archives {
                    outln!(
                        "  {}  {}  sha256 {}",
                        x.file,
                        human_bytes(x.bytes),
                        x.sha256
                    );
                }
                if let Some(v) = &m.verify {
                    outln!("checks:");
                    for c in &v.checks {
                        let mark = if c.passed {
                            out.green("pass")
                        } else {
                            out.red("FAIL")
                        };
                        outln!("  {mark}  {}", c.name);
                    }
                }
                for w in &m.inspection.warnings {
                    out.warn(w);
                }
            }
        }
        Command::Export { id, dest, force } => {
            let r = store.export(&id, &dest, force)?;
            if out.json {
                out.json(&r);
            } else {
                outln!(
                    "exported {} ({}, sha256 {} verified) to {}",
                    id,
                    r.size_text,
                    r.sha256,
                    r.path.display()
                );
            }
        }
        Command::Delete { id, yes } => {
            store.show(&id)?;
            if !yes {
                super::confirm(out, &format!("delete artifact `{id}`"))?;
            }
            store.delete(&id)?;
            if out.json {
                out.json(&serde_json::json!({ "deleted": id }));
            } else {
                outln!("deleted {id}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
