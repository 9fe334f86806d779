//! A 256-case sweep (`benches/fixtures/sweep-256.toml`) on 1 and 2 threads: the scaling figure.
//! Each iteration loads the sweep afresh, so the one parse of its month of klines is included.
//!
//! Run: `cargo bench --bench sweep`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::Path;

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/fixtures/sweep-256.toml");
    let sw = ocosim::sweep::load(&path).expect("sweep file");
    let cases = sw.cases();
    assert_eq!(cases.len(), 256);
    let mut g = c.benchmark_group("sweep_256");
    g.sample_size(10);
    g.throughput(Throughput::Elements(cases.len() as u64));
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        // a fresh sweep per iteration: its one load of the kline file is part of the time
        g.bench_function(format!("threads_{threads}"), |b| {
            b.iter(|| {
                let sw = ocosim::sweep::load(&path).expect("sweep file");
                pool.install(|| sw.run(&cases, &|| {}))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
