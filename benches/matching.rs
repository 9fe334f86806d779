//! Bars per second through `MockExchange::advance_to` over a synthetic year of 1m bars (525 600
//! bars, a random walk from a fixed seed, prices as BTCUSDT ticks), with 0, 1 and 100 resting OCO
//! pairs (GTE_GTC closePosition SL/TP algo orders far from the price), and one pair that is hit and
//! re-placed about every 1 000 bars (entry, pair, one leg fills, the other expires, again).
//!
//! Run: `cargo bench --bench matching -- --warm-up-time 1 --measurement-time 3`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ocosim::api::{NewAlgoOrder, NewOrder};
use ocosim::events::Event;
use ocosim::exchange::{BarTicks, ExchangeConfig, MockExchange, SymbolSpec};
use ocosim::types::{OrderType, PositionSide, Side, TimeInForce, TimeMs};
use rust_decimal::Decimal;

const BARS: i64 = 525_600;
/// 2024-01-01 00:00 UTC.
const T0: i64 = 1_704_067_200_000;
const MIN: i64 = 60_000;
const SYM: &str = "BTCUSDT";
/// Half-width of the re-placed pair, in ticks: about √1000 bars of the walk's per-bar spread.
const HIT_WIDTH_TICKS: i64 = 700;

/// A tiny LCG (Knuth's MMIX constants): enough for a reproducible walk.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as i64
    }
}

/// One year of 1m bars: closes step by −40..=40 ticks, wicks of 0..30 ticks, from 60 000.0.
fn year() -> Vec<BarTicks> {
    let mut rng = Lcg(0x0c05_1e55);
    let mut p: i64 = 600_000;
    (0..BARS)
        .map(|i| {
            let o = p;
            p += rng.next() % 81 - 40;
            let c = p;
            BarTicks {
                t: T0 + i * MIN,
                o,
                h: o.max(c) + rng.next() % 31,
                l: o.min(c) - rng.next() % 31,
                c,
            }
        })
        .collect()
}

fn leg(ex: &MockExchange, otype: OrderType, trigger_ticks: i64) -> NewAlgoOrder {
    NewAlgoOrder {
        trigger_price: Some(ex.spec().price(trigger_ticks)),
        close_position: Some(true),
        time_in_force: Some(TimeInForce::GteGtc),
        ..NewAlgoOrder::new(SYM, Side::Sell, otype)
    }
}

/// A long 0.01 and an SL/TP pair `width` ticks below/above each (`pairs` of them, 10 ticks apart).
fn enter_with_pairs(ex: &mut MockExchange, pairs: i64, width: i64) {
    let entry = NewOrder {
        quantity: Some(Decimal::new(1, 2)),
        ..NewOrder::new(SYM, Side::Buy, OrderType::Market)
    };
    ex.new_order(&entry).expect("entry");
    let p = ex.spec().price_to_ticks(ex.last_price()).expect("price");
    for i in 0..pairs {
        let sl = leg(ex, OrderType::StopMarket, p - width - 10 * i);
        let tp = leg(ex, OrderType::TakeProfitMarket, p + width + 10 * i);
        ex.new_algo_order(&sl).expect("sl");
        ex.new_algo_order(&tp).expect("tp");
    }
}

fn setup(bars: &[BarTicks], pairs: i64, width: i64) -> MockExchange {
    let spec = SymbolSpec::builtin(SYM).expect("spec");
    let mut ex = MockExchange::new(ExchangeConfig::default(), spec, bars.to_vec(), MIN);
    if pairs > 0 {
        enter_with_pairs(&mut ex, pairs, width);
    }
    ex
}

/// Walks the whole year, draining events; with `replace`, re-enters and re-places the pair each
/// time the position is flat. Returns the venue (dropped outside the timing) and the re-entries.
fn run(mut ex: MockExchange, replace: bool, buf: &mut Vec<(TimeMs, Event)>) -> (MockExchange, u64) {
    let end = TimeMs(T0 + BARS * MIN);
    let mut entries = 0;
    loop {
        ex.advance_to(end);
        if !ex.has_events() {
            return (ex, entries);
        }
        buf.clear();
        ex.drain_events(buf);
        if replace && ex.position_amt(PositionSide::Both).is_zero() && !ex.finished() {
            enter_with_pairs(&mut ex, 1, HIT_WIDTH_TICKS);
            entries += 1;
        }
    }
}

fn bench_matching(c: &mut Criterion) {
    let bars = year();
    let far = 300_000; // ±30 000 USDT: never reached by this walk
    let mut buf = Vec::new();
    let (_, n) = run(setup(&bars, 1, HIT_WIDTH_TICKS), true, &mut buf);
    eprintln!(
        "matching: the hit-and-replace pair was re-placed {n} times (every ~{} bars)",
        BARS / n.max(1) as i64
    );

    let mut g = c.benchmark_group("matching");
    g.throughput(Throughput::Elements(BARS as u64));
    g.sample_size(20);
    for (name, pairs, width, replace) in [
        ("0_pairs", 0, far, false),
        ("1_pair", 1, far, false),
        ("100_pairs", 100, far, false),
        ("1_pair_hit_every_1000_bars", 1, HIT_WIDTH_TICKS, true),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || setup(&bars, pairs, width),
                |ex| run(ex, replace, &mut buf),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench_matching);
criterion_main!(benches);
