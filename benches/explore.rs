//! `sim explore` cases per second on one core (draw + build + run + check; attribution only for
//! violating cases), generated paths only, and on 1-day windows of real klines.
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
    // 1-day windows (1440 bars) of real AVAXUSDT klines
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/binance-um/klines/AVAXUSDT/1m/AVAXUSDT-1m-2026-02.csv");
    let pools = ocosim::explore::case::load_pools(&[file]).unwrap();
    const D: u64 = 32;
    g.throughput(Throughput::Elements(D));
    g.bench_function("reference_1day_1_thread", |b| {
        b.iter(|| {
            pool.install(|| {
                let mut cfg = ocosim::explore::ExploreConfig::new("reference", 3, D);
                cfg.batch = D;
                cfg.shrink = false;
                cfg.pools = pools.clone();
                cfg.window_bars = Some(1440);
                ocosim::explore::explore(&cfg, &|_, _| false, &|_, _| {})
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
