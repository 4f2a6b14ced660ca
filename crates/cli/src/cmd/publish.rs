use std::process::ExitCode;

use factory::pipeline;
use factory::publish::{BuildcacheScope, PublishOptions};
use factory::settings::Loaded;

use super::build::{cancel_on_ctrl_c, sink};
use crate::output::Out;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "The artifact's request is solved and installed again in a build \
instance, from the buildcache (nothing is compiled while it holds the binaries), and Spack \
pushes them; the stored archives and manifest go beside them (DIR/packages/ID/, \
s3://BUCKET/PATH/packages/ID/, or the registry's REPO:ID), signed with --sign. Stages: preflight, provision, spack-setup, concretize, sources, install, publish, \
cleanup.

Examples:
  slurm-factory publish slurm-24.11-default-x86_64_v3-20261124T153000 --to file:///srv/buildcache
  slurm-factory publish ID --to file:///srv/buildcache --sign builder@site.example
  slurm-factory publish ID --to oci://registry.site.example/hpc/slurm --buildcache deps
  slurm-factory publish ID --to s3://hpc-cache/slurm --s3-endpoint https://s3.site.example \\
      --credentials ~/.aws/credentials --sign builder@site.example"
)]
pub struct Args {
    /// The artifact id (from `artifacts list`).
    pub id: String,
    /// The buildcache: file:///DIR, s3://BUCKET/PATH, oci://REGISTRY/REPO, or oci+http://…
    /// for a registry without TLS.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Which binaries to push: all, deps (everything but Slurm) or none (archives only).
    #[arg(long, value_name = "SCOPE", default_value = "all")]
    pub buildcache: BuildcacheScope,
    /// Sign with this GPG key: a key id of your keyring or a file with the secret key (the
    /// binaries: file:// and s3:// only; the archives: anywhere).
    #[arg(long, value_name = "KEY")]
    pub sign: Option<String>,
    /// The login: a file of `username=NAME` and `password=SECRET` lines (OCI), or an S3
    /// key as in ~/.aws/credentials.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<String>,
    /// A CA certificate (PEM) the registry's or S3 endpoint's TLS certificate is signed by
    /// (a site's own).
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Option<String>,
    /// The S3 endpoint of an s3:// URL (https://HOST[:PORT]); without it, Amazon S3.
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// No network: Spack, spack-packages and clingo from the local copies in the settings.
    #[arg(long)]
    pub offline: bool,
}

pub async fn run(
    args: Args,
    loaded: &Loaded,
    out: &Out,
    verbose: bool,
) -> factory::Result<ExitCode> {
    let options = PublishOptions {
        to: args.to,
        buildcache: args.buildcache,
        sign: args.sign,
        credentials: args.credentials,
        registry_ca: args.registry_ca,
        s3_endpoint: args.s3_endpoint,
    };
    // Bad input (the id, the options) fails in the engine before a run exists.
    let cancel = cancel_on_ctrl_c(out);
    let result = pipeline::publish(
        &loaded.settings,
        &args.id,
        options,
        args.offline,
        sink(out, verbose),
        cancel,
    )
    .await?;
    if !out.json && !out.quiet {
        outln!(
            "\nPublished artifact {}\n  run log: {}",
            result.artifact_id,
            result.run_dir.join("build.log").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
