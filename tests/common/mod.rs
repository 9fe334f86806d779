//! Shared test harness: synthetic scenarios and the proptest strategies the property gate and
//! `sim explore` draw from (kline paths that break naive engines, signal streams, configurations).
#![allow(dead_code)]

use ocosim::engine::{Action, EngineConfig, Monitor, Signal, Switches};
use ocosim::exchange::{BarTicks, ExchangeConfig, IntrabarPolicy, SymbolSpec};
use ocosim::invariants::CheckConfig;
use ocosim::scenario::Scenario;
use ocosim::sim::{Faults, Latency, SimConfig};
use ocosim::types::*;
use proptest::prelude::*;
use rust_decimal::Decimal;

/// Start of every synthetic series: 2026-02-01 00:00 UTC.
pub const T0: i64 = 1_769_904_000_000;
/// One minute.
pub const MIN: i64 = 60_000;

/// A bar shape that real markets produce and naive engines break on.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// Small random move.
    Quiet(i64),
    /// Wide range both ways inside one bar.
    Whipsaw(i64),
    /// Opens far from the previous close.
    Gap(i64),
    /// O = H = L = C.
    Flat,
    /// A huge range.
    Extreme(i64),
}

/// Bars from shapes, starting at `start` ticks.
pub fn bars_from(shapes: &[Shape], start: i64) -> Vec<BarTicks> {
    let mut p = start;
    let mut v = Vec::new();
    for (i, s) in shapes.iter().enumerate() {
        let t = T0 + i as i64 * MIN;
        let (o, h, l, c) = match *s {
            Shape::Quiet(d) => {
                let c = (p + d).max(100);
                (p, p.max(c) + 2, (p.min(c) - 2).max(50), c)
            }
            Shape::Whipsaw(w) => (p, p + w, (p - w).max(50), p + w / 7),
            Shape::Gap(g) => {
                let o = (p + g).max(100);
                (o, o + 3, (o - 3).max(50), o + 1)
            }
            Shape::Flat => (p, p, p, p),
            Shape::Extreme(w) => (p, p + w, (p - w / 2).max(50), (p - w / 3).max(60)),
        };
        v.push(BarTicks { t, o, h, l, c });
        p = c;
    }
    v
}

/// Strategy for bar shapes.
pub fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        4 => (-30i64..30).prop_map(Shape::Quiet),
        2 => (50i64..600).prop_map(Shape::Whipsaw),
        1 => (-800i64..800).prop_map(Shape::Gap),
        1 => Just(Shape::Flat),
        1 => (500i64..2500).prop_map(Shape::Extreme),
    ]
}

/// One generated signal: bar index, buy?, SL and TP distances in ticks, quantity (units).
#[derive(Debug, Clone, Copy)]
pub struct GenSignal {
    /// Bar index.
    pub bar: usize,
    /// Offset inside the bar (ms).
    pub offset_ms: i64,
    /// Buy or sell.
    pub buy: bool,
    /// SL distance (ticks); 0 = SL equal to the entry.
    pub sl_ticks: i64,
    /// TP distance (ticks).
    pub tp_ticks: i64,
    /// Quantity.
    pub qty: i64,
}

/// Strategy for a signal stream over `n` bars.
pub fn signals(n: usize) -> impl Strategy<Value = Vec<GenSignal>> {
    prop::collection::vec(
        (0..n, 0i64..MIN, any::<bool>(), prop_oneof![1 => Just(1i64), 1 => Just(0i64), 6 => 2i64..400], 1i64..600, 1i64..20)
            .prop_map(|(bar, offset_ms, buy, sl_ticks, tp_ticks, qty)| GenSignal { bar, offset_ms, buy, sl_ticks, tp_ticks, qty }),
        1..4,
    )
}

/// Engine/venue configuration of a case.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Hedge mode?
    pub hedge: bool,
    /// Stream monitoring?
    pub stream: bool,
    /// Poll interval (ms).
    pub poll_ms: i64,
    /// One-way request latency (ms).
    pub latency_ms: i64,
    /// Path policy.
    pub intrabar: IntrabarPolicy,
}

/// Strategy for configurations.
pub fn config() -> impl Strategy<Value = GenConfig> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(0i64), Just(500), Just(2000), Just(5000), Just(60_000)],
        0i64..300,
        prop_oneof![
            Just(IntrabarPolicy::Ohlc),
            Just(IntrabarPolicy::Pessimistic),
            Just(IntrabarPolicy::Optimistic)
        ],
    )
        .prop_map(|(hedge, stream, poll_ms, latency_ms, intrabar)| GenConfig { hedge, stream, poll_ms, latency_ms, intrabar })
}

/// Fault schedules: probabilities (ppm) of rate limits, timeouts, cancel errors, poll errors and
/// dropped stream events.
pub fn faults() -> impl Strategy<Value = Faults> {
    (0u32..3, 0u32..3, 0u32..3, 0u32..3, 0u32..3).prop_map(|(a, b, c, d, e)| Faults {
        rate_limit_ppm: a * 20_000,
        timeout_ppm: b * 20_000,
        cancel_unknown_ppm: c * 50_000,
        poll_error_ppm: d * 50_000,
        stream_drop_ppm: e * 50_000,
        ..Faults::default()
    })
}

/// A runnable scenario from generated parts, on AVAXUSDT filters (tick 0.001, step 1).
pub fn scenario(
    profile: &str,
    sets: &[(&str, &str)],
    bars: Vec<BarTicks>,
    sigs: &[GenSignal],
    cfg: &GenConfig,
    faults: Faults,
    seed: u64,
) -> Scenario {
    let spec = SymbolSpec::builtin("AVAXUSDT").unwrap();
    let mut switches = Switches::profile(profile).expect("profile");
    for (k, v) in sets {
        switches.set(k, v).expect("switch");
    }
    let signals: Vec<Signal> = sigs
        .iter()
        .filter(|s| s.bar < bars.len())
        .map(|s| {
            let b = bars[s.bar];
            let prev = if s.bar == 0 { b.o } else { bars[s.bar - 1].c };
            let sign = if s.buy { 1 } else { -1 };
            Signal {
                strategy_id: "gen".into(),
                symbol: "AVAXUSDT".into(),
                action: if s.buy { Action::Buy } else { Action::Sell },
                confidence: Decimal::new(9, 1),
                quantity: Decimal::from(s.qty),
                current_price: spec.price(prev),
                stop_loss: Some(spec.price((prev - sign * s.sl_ticks).max(1))),
                take_profit: Some(spec.price((prev + sign * s.tp_ticks).max(1))),
                stop_loss_pct: None,
                take_profit_pct: None,
                order_type: "market".into(),
                timestamp: TimeMs(b.t + s.offset_ms),
            }
        })
        .collect();
    let mut signals = signals;
    signals.sort_by_key(|s| s.timestamp);
    let exchange = ExchangeConfig {
        position_mode: if cfg.hedge { PositionMode::Hedge } else { PositionMode::OneWay },
        intrabar: cfg.intrabar,
        ..ExchangeConfig::default()
    };
    let monitor = if cfg.stream { Monitor::Stream } else { Monitor::Poll };
    let latency = Latency { request_ms: cfg.latency_ms, response_ms: cfg.latency_ms, ..Latency::default() };
    let reaction = cfg.poll_ms + 5_000 + 4_000 + 8 * 2 * cfg.latency_ms + latency.stream_ms + 10_000;
    Scenario {
        name: "generated".into(),
        description: String::new(),
        text: String::new(),
        seed,
        spec: spec.clone(),
        bars,
        interval_ms: MIN,
        sub_bars: Vec::new(),
        sub_interval_ms: 0,
        funding: Vec::new(),
        exchange: exchange.clone(),
        profile: profile.into(),
        switches,
        engine: EngineConfig { spec, monitor, poll_interval_ms: cfg.poll_ms, error_backoff_ms: 5000 },
        signals,
        manual: Vec::new(),
        sim: SimConfig { seed, latency, faults, skip_idle_polls: true, monitor },
        check: CheckConfig {
            position_mode: exchange.position_mode,
            reaction_ms: reaction,
            initial_balance: exchange.initial_balance,
            trail_len: 12,
        },
        interval: "1m".into(),
    }
}
