//! `sim explore` cases per second on one core (draw + build + run + check), reference profile,
//! generated paths only.
//!
//! Run: `cargo bench --bench explore`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("explore");
    g.sample_size(10);
    const N: u64 = 256;
    g.throughput(Throughput::Elements(N));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    for profile in ["reference", "tradeengine-2026-08"] {
        g.bench_function(format!("{profile}_1_thread"), |b| {
            b.iter(|| {
                pool.install(|| {
                    let mut cfg = ocosim::explore::ExploreConfig::new(profile, 3, N);
                    cfg.batch = N;
                    cfg.shrink = false;
                    ocosim::explore::explore(&cfg, &|_, _| false, &|_, _| {})
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
