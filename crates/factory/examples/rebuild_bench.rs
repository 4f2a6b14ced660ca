//! Cold build against cached rebuild of the same request, side by side in one run.
//!
//! The cold run starts from an empty cache dir and no base image for its
//! inputs; the second run reuses everything the first one cached.
//!
//! ```sh
//! export $(cat ~/.cache/slurm-factory-ci/env)
//! cargo run --release -p factory --example rebuild_bench -- tests/recipes/hello
//! ```

use std::sync::{Arc, Mutex};
use std::time::Instant;

use factory::events::{BuildEvent, EventRecord};
use factory::lxd::Lxc;
use factory::pipeline::{self, BuildFlags, BuildOptions};
use factory::recipe::{RecipeContext, Templates};
use factory::request::{BuildRequest, Defaults};
use factory::settings::{Settings, XdgDirs};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let templates_dir = std::env::args()
        .nth(1)
        .ok_or("usage: rebuild_bench TEMPLATES_DIR")?;
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let tmp = tempfile::tempdir()?;
    let mut settings = Settings::defaults(&XdgDirs {
        config: tmp.path().join("config"),
        data: tmp.path().join("data"),
        cache: tmp.path().join("cache"),
    });
    settings.templates_dir = Some(std::fs::canonicalize(templates_dir)?);
    settings.image = env("SLURM_FACTORY_TEST_IMAGE", "sf-test-build");
    settings.verify_image = env("SLURM_FACTORY_TEST_PLAIN_IMAGE", "sf-test-plain");
    settings.storage_pool = env("SLURM_FACTORY_TEST_POOL", "default");
    settings.min_free_disk_mib = 1024;

    let request = BuildRequest {
        minimal: true,
        target: Some("x86_64_v3".into()),
        ..Default::default()
    }
    .resolve(&Defaults::for_host())?;

    // Start cold: no base image for these inputs.
    let rendered = Templates::load(settings.templates_dir.as_deref())?
        .render(&RecipeContext::new(&request, &settings, false))?;
    let alias = pipeline::base_image_alias(&settings, &rendered, false);
    Lxc::new(&settings).delete_image(&alias).await?;

    let mut runs = Vec::new();
    for label in ["cold", "cached"] {
        let stages = Arc::new(Mutex::new(Vec::new()));
        let seen = stages.clone();
        let sink = Arc::new(move |rec: &EventRecord| {
            if let BuildEvent::StageFinished {
                stage, elapsed_ms, ..
            } = &rec.event
            {
                seen.lock().unwrap().push((stage.to_string(), *elapsed_ms));
            }
        });
        let options = BuildOptions {
            request: request.clone(),
            flags: BuildFlags::default(),
        };
        let started = Instant::now();
        pipeline::build(&settings, options, sink, CancellationToken::new()).await?;
        let total = started.elapsed().as_secs_f64();
        let stages = stages.lock().unwrap().clone();
        runs.push((label, total, stages));
    }

    println!(
        "{:<16} {:>9} {:>9} {:>7}",
        "stage", "cold s", "cached s", "ratio"
    );
    let (cold, cached) = (&runs[0].2, &runs[1].2);
    for ((stage, a), (_, b)) in cold.iter().zip(cached) {
        let (a, b) = (*a as f64 / 1000.0, *b as f64 / 1000.0);
        println!("{stage:<16} {a:>9.2} {b:>9.2} {:>6.2}x", b / a.max(0.001));
    }
    println!(
        "{:<16} {:>9.2} {:>9.2} {:>6.2}x",
        "total",
        runs[0].1,
        runs[1].1,
        runs[1].1 / runs[0].1
    );
    Ok(())
}
