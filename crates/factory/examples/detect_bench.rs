//! Detection wall time: `cargo run --release -p factory --example detect_bench [-- RUNS [DIR]]`.
//!
//! The first call pays the one-time costs of a fresh process (archspec's JSON,
//! loading NVML), which is what a `slurm-factory detect` run sees; the median of
//! the remaining calls is the steady-state cost (the desktop app re-detecting).
//! With DIR, a captured machine (see `Roots::captured`) is detected instead.

use std::time::Instant;

use factory::hardware::{detect_from, Roots};

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(21);
    let roots = match args.next() {
        Some(dir) => Roots::captured(dir.as_ref()).expect("a captured machine"),
        None => Roots::host(),
    };
    let time = || {
        let start = Instant::now();
        let report = detect_from(&roots);
        (start.elapsed().as_secs_f64() * 1e3, report)
    };
    let (first, report) = time();
    let mut rest: Vec<f64> = (1..runs.max(2)).map(|_| time().0).collect();
    rest.sort_by(f64::total_cmp);
    println!(
        "target {} ({} GPUs): first call {first:.1} ms; median of {} more {:.2} ms (min {:.2}, max {:.2}); goal <= 200 ms",
        report.suggestions.target.value,
        report.gpus.len(),
        rest.len(),
        rest[rest.len() / 2],
        rest[0],
        rest[rest.len() - 1]
    );
}
