//! Shared test harness: proptest strategies over the same case type `sim explore` draws
//! (`ocosim::explore::CaseSpec`), so a property failure and an explore finding are the same kind
//! of object, built by the same scenario builder and replayable by `sim run`.
#![allow(dead_code)]

use ocosim::engine::Action;
use ocosim::exchange::{BarTicks, IntrabarPolicy};
use ocosim::explore::case::CaseSignal;
use ocosim::explore::case::CASE_INTERVAL_MS;
use ocosim::explore::CaseSpec;
use ocosim::scenario::Scenario;
use ocosim::sim::Faults;
use ocosim::types::PositionSide;
use proptest::prelude::*;

/// Start of every generated series: 2026-02-01 00:00 UTC.
pub const T0: i64 = 1_769_904_000_000;

/// A bar shape that real markets produce and naive engines break on.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// Small move.
    Quiet(i64),
    /// Wide range both ways inside one bar (whipsaw).
    Whipsaw(i64),
    /// Opens far from the previous close (gap through both legs).
    Gap(i64),
    /// O = H = L = C.
    Flat,
    /// A huge range.
    Extreme(i64),
}

/// Bars from shapes, starting at `start` ticks (AVAXUSDT ticks of 0.001).
pub fn bars_from(shapes: &[Shape], start: i64) -> Vec<BarTicks> {
    let mut p = start;
    let mut v = Vec::new();
    for (i, s) in shapes.iter().enumerate() {
        let t = T0 + i as i64 * CASE_INTERVAL_MS;
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

/// Strategy for bar shapes (quiet stretches are runs of Quiet/Flat).
pub fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        4 => (-30i64..30).prop_map(Shape::Quiet),
        2 => (50i64..600).prop_map(Shape::Whipsaw),
        1 => (-800i64..800).prop_map(Shape::Gap),
        2 => Just(Shape::Flat),
        1 => (500i64..2500).prop_map(Shape::Extreme),
    ]
}

/// A generated signal relative to its bar: index, offset, action, SL/TP distance in ticks
/// (0 = at the entry, 1 = one tick away, negative = wrong side), quantity.
#[derive(Debug, Clone, Copy)]
pub struct GenSignal {
    /// Bar index.
    pub bar: usize,
    /// Offset inside the bar (ms).
    pub offset_ms: i64,
    /// Action.
    pub action: Action,
    /// SL distance.
    pub sl: i64,
    /// TP distance.
    pub tp: i64,
    /// Quantity (AVAX, step 1).
    pub qty: i64,
}

/// Strategy for signal streams (long, short, close, re-open in the same bar, SL/TP at one tick,
/// SL equal to the entry).
pub fn signals(n: usize, max: usize) -> impl Strategy<Value = Vec<GenSignal>> {
    let dist = prop_oneof![1 => Just(1i64), 1 => Just(0i64), 1 => -20i64..0, 6 => 2i64..400];
    let action =
        prop_oneof![4 => Just(Action::Buy), 4 => Just(Action::Sell), 1 => Just(Action::Close)];
    prop::collection::vec(
        (
            0..n.max(1),
            0i64..CASE_INTERVAL_MS,
            action,
            dist.clone(),
            dist,
            1i64..50,
        )
            .prop_map(|(bar, offset_ms, action, sl, tp, qty)| GenSignal {
                bar,
                offset_ms,
                action,
                sl,
                tp,
                qty,
            }),
        1..=max,
    )
}

/// Engine/venue configuration of a case.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Hedge mode?
    pub hedge: bool,
    /// Stream monitoring?
    pub stream: bool,
    /// Poll interval (0 to minutes).
    pub poll_ms: i64,
    /// Latency each way.
    pub latency_ms: i64,
    /// Path policy.
    pub intrabar: IntrabarPolicy,
}

/// Strategy for configurations.
pub fn config() -> impl Strategy<Value = GenConfig> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            Just(0i64),
            Just(500),
            Just(2000),
            Just(5000),
            Just(60_000),
            Just(180_000)
        ],
        0i64..300,
        prop_oneof![
            Just(IntrabarPolicy::Ohlc),
            Just(IntrabarPolicy::Pessimistic),
            Just(IntrabarPolicy::Optimistic)
        ],
    )
        .prop_map(|(hedge, stream, poll_ms, latency_ms, intrabar)| GenConfig {
            hedge,
            stream,
            poll_ms,
            latency_ms,
            intrabar,
        })
}

/// Fault schedules: rate limits, timeouts, 5xx, cancel errors, poll errors, dropped events.
pub fn faults() -> impl Strategy<Value = Faults> {
    (0u32..3, 0u32..3, 0u32..3, 0u32..3, 0u32..3, 0u32..3).prop_map(|(a, b, c, d, e, g)| Faults {
        rate_limit_ppm: a * 20_000,
        timeout_ppm: b * 20_000,
        server_error_ppm: g * 20_000,
        cancel_unknown_ppm: c * 50_000,
        poll_error_ppm: d * 50_000,
        stream_drop_ppm: e * 50_000,
        ..Faults::default()
    })
}

/// The case these parts describe.
pub fn case(
    bars: Vec<BarTicks>,
    sigs: &[GenSignal],
    cfg: &GenConfig,
    faults: Faults,
    seed: u64,
) -> CaseSpec {
    let mut signals: Vec<CaseSignal> = sigs
        .iter()
        .filter(|s| s.bar < bars.len())
        .map(|s| {
            let b = bars[s.bar];
            let prev = if s.bar == 0 { b.o } else { bars[s.bar - 1].c };
            let sign = if s.action == Action::Sell { -1 } else { 1 };
            CaseSignal {
                at_ms: b.t + s.offset_ms,
                action: s.action,
                qty_steps: s.qty,
                sl_ticks: Some((prev - sign * s.sl).max(1)),
                tp_ticks: Some((prev + sign * s.tp).max(1)),
                order_type: None,
                offset_ticks: None,
                offset_bp: None,
                size_permille: None,
            }
        })
        .collect();
    signals.sort_by_key(|s| s.at_ms);
    CaseSpec {
        symbol: "AVAXUSDT".into(),
        bars,
        signals,
        manual: Vec::new(),
        hedge: cfg.hedge,
        legacy_api: false,
        stream: cfg.stream,
        poll_ms: cfg.poll_ms,
        latency_ms: cfg.latency_ms,
        intrabar: cfg.intrabar,
        faults,
        seed,
        partial: Vec::new(),
        external: Vec::new(),
        tick_mult: 0,
    }
}

/// A manual close at a bar.
pub fn with_manual_close(mut c: CaseSpec, bar: usize, ps: PositionSide) -> CaseSpec {
    if let Some(b) = c.bars.get(bar) {
        c.manual.push((b.t + 30_000, ps));
    }
    c
}

/// Scenario of a case under a profile with switch overrides.
pub fn scenario(c: &CaseSpec, profile: &str, sets: &[(&str, &str)]) -> Scenario {
    let sets: Vec<(String, String)> = sets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    c.scenario(profile, &sets)
        .expect("generated cases always build")
}
pub mod hostile;
pub mod tree;
