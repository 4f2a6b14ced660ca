//! The 4-build matrix of the test recipe on one LXD server against two, side
//! by side in one run: `local=1` (one build at a time on this machine),
//! `local=1` + the second server `=1`, and `local=2`. The rounds alternate
//! and share one warm cache dir (base images, buildcache), so the ratios
//! show what fanning out adds or costs, not a cold start.
//!
//! On the CI machine both servers share its 2 cores: two servers against
//! `local=1` is the gain of a second machine's slot, two servers against
//! `local=2` the cost of the remote's syncing and HTTPS transport.
//!
//! ```sh
//! export $(cat ~/.cache/slurm-factory-ci/env)
//! cargo run --release -p factory --example matrix_bench -- sf-remote 2   # remote, rounds
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use factory::pipeline::matrix;
use factory::pipeline::BuildFlags;
use factory::remotes::{self, RemoteSlots};
use factory::request::Defaults;
use factory::settings::{Settings, XdgDirs};
use tokio_util::sync::CancellationToken;

const MATRIX: &str = "\
base: {minimal: true, jobs: 1}
axes:
  slurm_version: ['25.05', '24.11']
  target: [x86_64_v3, x86_64_v2]
";

fn var(name: &str) -> Result<String, String> {
    std::env::var(name)
        .map_err(|_| format!("{name} is not set: export $(cat ~/.cache/slurm-factory-ci/env)"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let remote = args.next().unwrap_or_else(|| "sf-remote".into());
    let rounds: usize = args.next().map_or(Ok(2), |n| n.parse())?;
    let tmp = tempfile::tempdir()?;
    let mut settings = Settings::defaults(&XdgDirs {
        config: tmp.path().join("config"),
        data: tmp.path().join("data"),
        cache: tmp.path().join("cache"),
    });
    settings.image = var("SLURM_FACTORY_TEST_IMAGE")?;
    settings.verify_image = var("SLURM_FACTORY_TEST_PLAIN_IMAGE")?;
    settings.storage_pool = var("SLURM_FACTORY_TEST_POOL")?;
    settings.templates_dir =
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/recipes/hello"));
    settings.min_free_disk_mib = 512;
    let builds = matrix::parse(MATRIX, &Defaults::for_host().with_settings(&settings)?)?;
    let layouts: [(&str, String); 3] = [
        ("one server, 1 at a time", "local=1".into()),
        ("two servers, 1 each", format!("local=1,{remote}=1")),
        ("one server, 2 at a time", "local=2".into()),
    ];
    let mut times = vec![Vec::new(); layouts.len()];
    // A first pass warms base images and the buildcache on both servers.
    for round in 0..=rounds {
        for (i, (name, list)) in layouts.iter().enumerate() {
            let wanted: Vec<RemoteSlots> = remotes::parse_list(list)?;
            let servers = remotes::servers(&settings, &wanted, None, 1).await?;
            // A fresh store each time: every build runs.
            let run_settings = Settings {
                data_dir: tmp.path().join(format!("data-{round}-{i}")),
                ..settings.clone()
            };
            let sink: matrix::MatrixSink = Arc::new(|_, _| {});
            let started = Instant::now();
            let outcomes = matrix::run(
                &run_settings,
                &builds,
                &BuildFlags::default(),
                &servers,
                false,
                sink,
                CancellationToken::new(),
            )
            .await?;
            let seconds = started.elapsed().as_secs_f64();
            let verified = outcomes
                .iter()
                .filter(|o| matches!(o, matrix::BuildOutcome::Verified { .. }))
                .count();
            if verified != builds.len() {
                return Err(format!(
                    "{name}: {verified} of {} verified: {outcomes:?}",
                    builds.len()
                )
                .into());
            }
            if round == 0 {
                println!("warm-up {name}: {seconds:.1} s");
            } else {
                println!("round {round} {name}: {seconds:.1} s");
                times[i].push(seconds);
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (one, two, local2) = (mean(&times[0]), mean(&times[1]), mean(&times[2]));
    println!("\n4 builds, mean of {rounds} rounds:");
    println!("  one server, 1 at a time  {one:6.1} s");
    println!(
        "  two servers, 1 each      {two:6.1} s   {:.2}x of one server",
        two / one
    );
    println!(
        "  one server, 2 at a time  {local2:6.1} s   two servers take {:.2}x of it",
        two / local2
    );
    Ok(())
}
