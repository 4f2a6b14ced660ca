use std::path::PathBuf;
use std::process::ExitCode;

use factory::settings::Loaded;
use factory::units::human_bytes;

use crate::output::Out;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Bundle this machine's offline site into one .tar.zst for an air-gapped host.
    #[command(
        after_help = "The bundle carries the source mirror layer (<cache_dir>/mirror), the
clingo wheels (wheels_dir), Spack (spack_root) and spack-packages (spack_packages_root),
and a manifest with every file's sha256 (its first entry). `.git` and Python byte-code
caches stay behind. Run it where those settings are filled, e.g. after an online build.

Examples:
  slurm-factory mirror export /media/usb/slurm-site.tar.zst
  slurm-factory mirror export site.tar.zst --force --json"
    )]
    Export(ExportArgs),
    /// Check a bundle and install it: sources, Spack, spack-packages, wheels, settings.
    #[command(
        after_help = "Every file is checked against the bundle's manifest before anything
is touched; a damaged or altered bundle changes nothing (exit 2). Then the sources join
the mirror layer (what is there stays), the three trees go to <data_dir>/offline/ (an
earlier import is replaced), and spack_root, spack_packages_root and wheels_dir are written
to the config file. `slurm-factory build --offline` then builds from them.

Examples:
  slurm-factory mirror import /media/usb/slurm-site.tar.zst
  slurm-factory --config /etc/slurm-factory.toml mirror import site.tar.zst"
    )]
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Where to write the bundle (.tar.zst).
    pub file: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A bundle written by `slurm-factory mirror export`.
    pub file: PathBuf,
}

pub fn run(command: Command, loaded: &Loaded, out: &Out) -> factory::Result<ExitCode> {
    let settings = &loaded.settings;
    match command {
        Command::Export(args) => {
            let exported = factory::mirror::export(settings, &args.file, args.force)?;
            if out.json {
                out.json(&exported);
                return Ok(ExitCode::SUCCESS);
            }
            for part in &exported.manifest.parts {
                outln!(
                    "{:<15} {:>6} files  {}",
                    part.name,
                    part.files,
                    human_bytes(part.bytes)
                );
            }
            outln!(
                "Wrote {} ({}, sha256 {})",
                exported.path.display(),
                human_bytes(exported.bytes),
                exported.sha256
            );
        }
        Command::Import(args) => {
            let imported = factory::mirror::import(settings, &args.file, &loaded.config_path)?;
            if out.json {
                out.json(&imported);
                return Ok(ExitCode::SUCCESS);
            }
            outln!(
                "Checked {} files against the manifest of {} (made {}; Spack {}, spack-packages {})",
                imported.manifest.files.len(),
                args.file.display(),
                imported.manifest.created,
                imported.manifest.spack_ref,
                imported.manifest.spack_packages_ref
            );
            outln!("{} new sources in the mirror layer", imported.new_sources);
            outln!(
                "spack_root = {}\nspack_packages_root = {}\nwheels_dir = {}\n(written to {})",
                imported.spack_root.display(),
                imported.spack_packages_root.display(),
                imported.wheels_dir.display(),
                loaded.config_path.display()
            );
            outln!("Next: slurm-factory build --offline");
        }
    }
    Ok(ExitCode::SUCCESS)
}
