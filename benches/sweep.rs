//! A 256-case sweep (`benches/fixtures/sweep-256.toml`) on 1 and 2 threads: the scaling figure.
//! Each iteration loads the sweep afresh, so the one parse of its month of klines is included.
//!
//! Besides criterion's two timings (taken one after the other, so a change in the machine's load
//! between them moves their ratio), the bench measures the scaling directly: rounds of a few
//! 1-thread and 2-thread sweeps back to back (each pool warmed by one untimed sweep), in
//! alternating order, and the median of the per-round ratios, written to
//! `<target>/criterion/sweep_256/scaling.json` for `benches/report.py`.
//!
//! Run: `cargo bench --bench sweep`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Interleaved rounds, and timed sweeps per pool in each round.
const ROUNDS: usize = 15;
const PER_ROUND: usize = 2;

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/fixtures/sweep-256.toml");
    let sw = ocosim::sweep::load(&path).expect("sweep file");
    let cases = sw.cases();
    assert_eq!(cases.len(), 256);
    let pools: Vec<rayon::ThreadPool> = [1usize, 2]
        .iter()
        .map(|&n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
        })
        .collect();
    // a fresh sweep per iteration: its one load of the kline file is part of the time
    let one = |pool: &rayon::ThreadPool| {
        let sw = ocosim::sweep::load(&path).expect("sweep file");
        pool.install(|| sw.run(&cases, &|| {}))
    };
    let mut g = c.benchmark_group("sweep_256");
    g.sample_size(10);
    g.throughput(Throughput::Elements(cases.len() as u64));
    for (pool, threads) in pools.iter().zip([1, 2]) {
        g.bench_function(format!("threads_{threads}"), |b| b.iter(|| one(pool)));
    }
    g.finish();

    let mut ratios = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let mut t = [0f64; 2];
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            // one untimed sweep first, so each pool's threads start warm (allocator, caches)
            std::hint::black_box(one(&pools[k]));
            let start = Instant::now();
            for _ in 0..PER_ROUND {
                std::hint::black_box(one(&pools[k]));
            }
            t[k] = start.elapsed().as_secs_f64();
        }
        ratios.push(t[0] / t[1]);
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ROUNDS / 2];
    println!(
        "sweep_256 scaling 1 -> 2 threads: median {median:.2}x over {ROUNDS} interleaved rounds"
    );
    let dir = target_dir().join("criterion/sweep_256");
    let _ = std::fs::create_dir_all(&dir);
    let list: Vec<String> = ratios.iter().map(|r| format!("{r:.4}")).collect();
    let _ = std::fs::write(
        dir.join("scaling.json"),
        format!(
            "{{\"median_ratio\": {median:.4}, \"rounds\": {ROUNDS}, \"ratios\": [{}]}}\n",
            list.join(", ")
        ),
    );
}

/// Cargo's target directory (where criterion writes), as the bench runs from it.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

criterion_group!(benches, bench);
criterion_main!(benches);
