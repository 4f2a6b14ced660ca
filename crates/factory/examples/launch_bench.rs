//! Instance-ready time of `Lxc::launch` (idmap, labels, three cache mounts,
//! waiting for sysinit.target) against a bare `lxc launch` of the same
//! image on the same pool, measured alternately in one run.
//!
//! cargo run -p factory --example launch_bench -- [IMAGE [POOL [ROUNDS]]]
//! IMAGE defaults to $SLURM_FACTORY_TEST_IMAGE, POOL to $SLURM_FACTORY_TEST_POOL
//! (else the default profile's pool), ROUNDS to 3.

use std::time::{Duration, Instant};

use factory::lxd::{host_user_idmap, DiskDevice, LaunchSpec, Lxc};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let image = args
        .next()
        .or_else(|| std::env::var("SLURM_FACTORY_TEST_IMAGE").ok())
        .ok_or("give an image alias or set SLURM_FACTORY_TEST_IMAGE (see .ci/setup-lxd.sh)")?;
    let pool = args
        .next()
        .or_else(|| std::env::var("SLURM_FACTORY_TEST_POOL").ok());
    let rounds: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(3);

    let lxc = Lxc::from_parts("lxc", "local", "default");
    let driver = match &pool {
        Some(p) => lxc
            .storage_pools()
            .await?
            .into_iter()
            .find(|x| &x.name == p)
            .map(|x| x.driver)
            .unwrap_or_else(|| "?".into()),
        None => "default profile".into(),
    };
    let caches = tempfile::tempdir()?;
    let devices: Vec<DiskDevice> = ["buildcache", "sources", "ccache"]
        .iter()
        .map(|d| {
            let source = caches.path().join(d);
            std::fs::create_dir_all(&source).expect("cache dir");
            DiskDevice {
                name: d.to_string(),
                source,
                pool: None,
                path: format!("/var/cache/slurm-factory/{d}"),
                readonly: false,
            }
        })
        .collect();

    println!(
        "image {image}, pool {} ({driver}), {rounds} rounds after one warm-up",
        pool.as_deref().unwrap_or("(default profile)")
    );
    // The first instance of an image on a copy-on-write pool also creates the
    // image's volume: warm up so neither side pays for it.
    bare(&lxc, &image, pool.as_deref(), "sfbench-warmup").await?;

    let (mut bare_launch, mut bare_ready, mut bare_booted, mut ours) =
        (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let (launched, ready, booted) = bare(
            &lxc,
            &image,
            pool.as_deref(),
            &format!("sfbench-bare-{round}"),
        )
        .await?;
        bare_launch.push(launched);
        bare_ready.push(ready);
        bare_booted.push(booted);

        let name = format!("sfbench-sf-{round}");
        let spec = LaunchSpec {
            image: image.clone(),
            name: name.clone(),
            storage_pool: pool.clone(),
            config: host_user_idmap()?
                .into_iter()
                .chain([("user.slurm-factory.run".into(), "bench".into())])
                .collect(),
            devices: devices.clone(),
            ..LaunchSpec::default()
        };
        let start = Instant::now();
        let result = lxc.launch(&spec).await;
        let took = start.elapsed();
        lxc.delete(&name).await?;
        result?;
        ours.push(took);
        println!(
            "round {round}: lxc launch {:.2} s (exec works {:.2} s, sysinit {:.2} s) | \
             Lxc::launch {:.2} s",
            launched.as_secs_f64(),
            ready.as_secs_f64(),
            booted.as_secs_f64(),
            took.as_secs_f64()
        );
    }
    let (bl, br, bb, o) = (
        median(bare_launch).as_secs_f64(),
        median(bare_ready).as_secs_f64(),
        median(bare_booted).as_secs_f64(),
        median(ours).as_secs_f64(),
    );
    println!(
        "median: lxc launch {bl:.2} s, + first exec {br:.2} s, + sysinit.target {bb:.2} s; \
         Lxc::launch with idmap and 3 mounts {o:.2} s"
    );
    println!(
        "Lxc::launch / lxc launch = {:.2}x (goal <= 1.2x); / (lxc launch + first exec) = {:.2}x; \
         / (lxc launch to the same readiness) = {:.2}x",
        o / bl,
        o / br,
        o / bb
    );
    Ok(())
}

const SYSINIT: &str = "until systemctl is-active --quiet sysinit.target; do sleep 0.05; done";

/// `lxc launch IMAGE NAME`: the time it takes to return, until a first
/// `lxc exec NAME -- true` succeeds, and until systemd's sysinit.target is
/// active. Deletes the instance afterwards.
async fn bare(
    lxc: &Lxc,
    image: &str,
    pool: Option<&str>,
    name: &str,
) -> Result<(Duration, Duration, Duration), Box<dyn std::error::Error>> {
    let mut launch = tokio::process::Command::new("lxc");
    // Its stderr only warns that the instance has no network.
    launch
        .args(["launch", image, name])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(pool) = pool {
        launch.args(["--storage", pool]);
    }
    let start = Instant::now();
    let status = launch.status().await?;
    let launched = start.elapsed();
    if !status.success() {
        lxc.delete(name).await?;
        return Err(format!("lxc launch {image} {name} failed").into());
    }
    loop {
        let ok = tokio::process::Command::new("lxc")
            .args(["exec", name, "--", "true"])
            .stderr(std::process::Stdio::null())
            .status()
            .await?
            .success();
        if ok {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = start.elapsed();
    // The readiness Lxc::launch waits for: early boot done.
    tokio::process::Command::new("lxc")
        .args(["exec", name, "--", "sh", "-c", SYSINIT])
        .stderr(std::process::Stdio::null())
        .status()
        .await?;
    let booted = start.elapsed();
    lxc.delete(name).await?;
    Ok((launched, ready, booted))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
