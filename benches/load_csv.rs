//! Rows per second of the two kline loaders on one real month of 1m klines (AVAXUSDT 2026-02, 40 320 rows):
//! the hand parser on every core (its default) and on one, and polars-io.
//!
//! Run: `cargo bench --bench load_csv -- --warm-up-time 1 --measurement-time 3`.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ocosim::data::{load_klines, load_klines_polars, LoadOptions};

fn bench_load(c: &mut Criterion) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data/binance-um/klines/AVAXUSDT/1m/AVAXUSDT-1m-2026-02.csv");
    let paths = vec![path];
    let opts = LoadOptions::default();
    let rows = match load_klines(&paths, &opts) {
        Ok(s) => s.len() as u64,
        Err(e) => {
            eprintln!("skipping load_csv bench: {e}");
            return;
        }
    };
    let mut g = c.benchmark_group("load_csv");
    g.throughput(Throughput::Elements(rows));
    g.bench_function("hand_parser", |b| {
        b.iter(|| load_klines(std::hint::black_box(&paths), &opts).map(|s| s.len()))
    });
    // The same load on one core: pieces are then parsed one after the other.
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    g.bench_function("hand_parser_1_thread", |b| {
        b.iter(|| one.install(|| load_klines(std::hint::black_box(&paths), &opts).map(|s| s.len())))
    });
    g.bench_function("polars", |b| {
        b.iter(|| load_klines_polars(std::hint::black_box(&paths), &opts).map(|s| s.len()))
    });
    g.finish();
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
