use std::path::{Path, PathBuf};
use std::process::ExitCode;

use factory::caches::mirror::OfflineTrees;
use factory::error::ExitKind;
use factory::pipeline::{self, BuildFlags, BuildOptions, MirrorResult};
use factory::request::Defaults;
use factory::settings::Loaded;
use factory::units::human_bytes;

use super::build::{cancel_on_ctrl_c, sink};
use super::flags::{with_preset, FlagArgs, RequestArgs};
use crate::output::Out;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the sources a request's closure needs that the mirror layer lacks.
    #[command(
        after_help = "Solves the request as a build would (a build instance from the base
image; a cached spack.lock is reused), lists every source archive, resource and patch of
the closure, and checks the mirror layer (<cache_dir>/mirror) for each, by digest and by
name. Nothing is built. Exit 0 when the mirror has them all, 5 when some are missing: each
is named with the file to put in the mirror layer and where Spack would download it. A
missing source whose binary is in the buildcache layer does not stop a build here, but an
air-gapped host with an empty buildcache needs it. An offline build runs the same check
before it installs.

Examples:
  slurm-factory mirror check --offline                       the default request
  slurm-factory mirror check --offline --minimal --slurm-version 24.11
  slurm-factory mirror check --preset lab.yaml --json"
    )]
    Check(MirrorArgs),
    /// Fill the mirror layer with a request's sources and snapshot Spack for export.
    #[command(
        after_help = "Run on a machine with internet. Solves the request as a build would,
runs `spack mirror create` for the closure (sources and patches) into the mirror layer,
copies the Spack and spack-packages trees the build instance used and downloads the clingo
wheels for its Python, all under <data_dir>/offline/, and writes spack_root,
spack_packages_root and wheels_dir to the config file. Then `mirror export` bundles it.
Spack tries its configured mirrors before each package's URL: set upstream_mirror to a
directory holding a Spack source mirror (a site's shared one) to fill from it. Ends with
`mirror check`'s report; exit 5 when a source could not be fetched.

Examples:
  slurm-factory mirror create                                 default request
  slurm-factory mirror create --minimal --slurm-version 25.11
  slurm-factory mirror create && slurm-factory mirror export /media/usb/site.tar.zst"
    )]
    Create(MirrorArgs),
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
pub struct MirrorArgs {
    #[command(flatten)]
    pub request: RequestArgs,
    /// A saved build (YAML, as `plan --save-preset` writes): its request, and over it the
    /// options given here.
    #[arg(long, value_name = "FILE")]
    pub preset: Option<PathBuf>,
    /// Spack, spack-packages and clingo from spack_root, spack_packages_root and
    /// wheels_dir, as `build --offline` takes them.
    #[arg(long)]
    pub offline: bool,
    /// Keep the build instance when the run fails, to look inside.
    #[arg(long)]
    pub keep: bool,
}

impl MirrorArgs {
    fn options(&self, loaded: &Loaded) -> factory::Result<BuildOptions> {
        let flags = BuildFlags {
            keep_on_failure: self.keep,
            offline: self.offline,
            verify: false,
            ..BuildFlags::default()
        };
        // A preset's flags are a build's: a mirror run takes only its request.
        let none: FlagArgs = Default::default();
        let preset = with_preset(&self.request, &none, self.preset.as_deref())?;
        Ok(BuildOptions {
            request: preset
                .request
                .resolve(&Defaults::for_host().with_settings(&loaded.settings)?)?,
            flags,
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Where to write the bundle (.tar.zst).
    pub file: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
    /// Sign the bundle with this secret key (a key file, or a key id of your
    /// keyring): FILE.asc beside it, checked by `mirror import --key`.
    #[arg(long, value_name = "KEY")]
    pub sign: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A bundle written by `slurm-factory mirror export`.
    pub file: PathBuf,
    /// Import only when FILE.asc is a good signature by this public key
    /// (the site's, got from it, not from the bundle's medium).
    #[arg(long, value_name = "PUBLIC_KEY")]
    pub key: Option<PathBuf>,
}

pub async fn run(
    command: Command,
    loaded: &Loaded,
    out: &Out,
    verbose: bool,
) -> factory::Result<ExitCode> {
    let settings = &loaded.settings;
    match command {
        Command::Check(args) => {
            let (sink, cancel) = (sink(out, verbose), cancel_on_ctrl_c(out));
            let result =
                pipeline::mirror_check(settings, args.options(loaded)?, sink, cancel).await?;
            return Ok(report(&result, out));
        }
        Command::Create(args) => {
            let (sink, cancel) = (sink(out, verbose), cancel_on_ctrl_c(out));
            let result = pipeline::mirror_create(
                settings,
                args.options(loaded)?,
                &loaded.config_path,
                sink,
                cancel,
            )
            .await?;
            if let (Some(trees), false) = (&result.offline, out.json) {
                print_trees(trees, &loaded.config_path);
            }
            return Ok(report(&result, out));
        }
        Command::Export(args) => {
            let exported = factory::caches::mirror::export(
                settings,
                &args.file,
                args.force,
                args.sign.as_deref(),
            )?;
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
            match &exported.signed_by {
                Some(fingerprint) => outln!(
                    "Signed by {fingerprint}: {}.asc (import with --key and the public key)",
                    exported.path.display()
                ),
                None => outln!("Not signed: give --sign KEY so the air-gapped host can check it"),
            }
        }
        Command::Import(args) => {
            let imported = factory::caches::mirror::import(
                settings,
                &args.file,
                &loaded.config_path,
                args.key.as_deref(),
            )?;
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
            match &imported.signature {
                Some(good) => outln!("Signed by {} ({})", good.signer, good.fingerprint),
                None => outln!(
                    "Signature not checked (no --key): the manifest's checksums are only \
                     as good as the medium it came on"
                ),
            }
            outln!("{} new sources in the mirror layer", imported.new_sources);
            print_trees(&imported.trees, &loaded.config_path);
            outln!("Next: slurm-factory build --offline");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The offline settings `mirror create` and `mirror import` wrote.
fn print_trees(trees: &OfflineTrees, config: &Path) {
    outln!(
        "spack_root = {}\nspack_packages_root = {}\nwheels_dir = {}\n(written to {})",
        trees.spack_root.display(),
        trees.spack_packages_root.display(),
        trees.wheels_dir.display(),
        config.display()
    );
}

/// Prints what the mirror layer holds of the request's sources; exit 5 when
/// something is missing (as a build that would stop for it).
fn report(result: &MirrorResult, out: &Out) -> ExitCode {
    let sources = &result.sources;
    let code = match sources.missing.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(ExitKind::Build.code()),
    };
    if out.json {
        out.json(result);
        return code;
    }
    outln!(
        "{}: {} of {} sources in the mirror layer ({})",
        sources.artifact_name,
        sources.present,
        sources.needed,
        sources.mirror.display()
    );
    if sources.missing.is_empty() {
        return code;
    }
    outln!("Missing:");
    for m in &sources.missing {
        let covered = match (m.binary, m.upstream) {
            (true, _) => "  (its binary is in the buildcache: a build here needs no source)",
            (_, true) => "  (upstream_mirror has it: a build fetches it from there)",
            _ => "",
        };
        outln!("  {:<24} {}{covered}", m.package, m.file.display());
        if let Some(url) = &m.url {
            outln!("  {:<24} from {url}", "");
        }
        if let Some(sha) = &m.sha256 {
            outln!("  {:<24} sha256 {sha}", "");
        }
    }
    outln!(
        "Put each file at the path shown (Spack also finds it by digest), or run \
         `slurm-factory mirror create` with the same request where there is network."
    );
    code
}
