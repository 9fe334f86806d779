//! A whole `sim run` (exchange + reference engine + invariants) over one year of 1-minute bars
//! (525,600 bars, a seeded random walk on BTCUSDT ticks) with an always-in-market SL/TP bracket:
//! a new entry every 4 hours, alternating long and short, SL/TP ±0.6 %. Stream monitoring (the
//! engine wakes only on events) and 2 s polling (30 passes per bar, idle ones skipped).
//!
//! Run: `cargo bench --bench run_year`.

#[path = "common/gen.rs"]
mod gen;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ocosim::engine::Action;
use ocosim::exchange::{BarTicks, IntrabarPolicy};
use ocosim::explore::case::CaseSignal;
use ocosim::explore::CaseSpec;
use ocosim::sim::Faults;

const BARS: i64 = 525_600;

fn year() -> Vec<BarTicks> {
    gen::random_walk(BARS)
}

fn case(stream: bool) -> CaseSpec {
    let bars = year();
    let signals = (1..BARS / 240)
        .map(|k| {
            let i = (k * 240) as usize;
            let px = bars[i - 1].c;
            let buy = k % 2 == 0;
            let d = px * 6 / 1000;
            CaseSignal {
                at_ms: bars[i].t + 1_000,
                action: if buy { Action::Buy } else { Action::Sell },
                qty_steps: 10,
                sl_ticks: Some(if buy { px - d } else { px + d }),
                tp_ticks: Some(if buy { px + d } else { px - d }),
                order_type: None,
                offset_ticks: None,
                offset_bp: None,
                size_permille: None,
            }
        })
        .collect();
    CaseSpec {
        symbol: "BTCUSDT".into(),
        bars,
        signals,
        manual: Vec::new(),
        hedge: true,
        legacy_api: false,
        stream,
        poll_ms: 2000,
        latency_ms: 25,
        intrabar: IntrabarPolicy::Ohlc,
        faults: Faults::default(),
        seed: 1,
        partial: Vec::new(),
        external: Vec::new(),
        tick_mult: 0,
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("run_year");
    g.sample_size(10);
    g.throughput(Throughput::Elements(BARS as u64));
    for (name, stream) in [("stream", true), ("poll_2s", false)] {
        let sc = case(stream).scenario("reference", &[]).expect("scenario");
        let r = sc.run();
        assert!(
            r.violations.is_empty(),
            "{name}: {:?}",
            r.violations.first()
        );
        g.bench_function(name, |b| b.iter(|| sc.run()));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
