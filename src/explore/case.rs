//! One explore/property case as plain data: bars, signals, manual closes, configuration and
//! faults. Drawn from a seed here (`sim explore`) or by proptest strategies (`tests/common`), run
//! through the same scenario builder as a file, and written out as a scenario + CSV that
//! `sim run` replays to the same log.
//!
//! Generators: bars (real windows or generated shapes), 1–5 signals (buy, sell, close, hold; SL/TP
//! one tick away, at the entry, on the wrong side, missing), a duplicate of one signal (same
//! second, within the dedup TTLs, or later), a manual close, position mode (hedge only for
//! profiles that always send `positionSide`), monitor, poll interval, latency, intrabar policy,
//! random faults, a restart anywhere and a restart just after a signal.
//!
//! Hook for what the scenario language adds (LIMIT/STOP entries, partial manual closes, external
//! cancel/expiry of live legs, targeted faults, delayed delivery): each is one more field of
//! [`CaseSpec`] (serde-defaulted, so older `findings.json` parts still read), one more draw at
//! the end of [`CaseSpec::draw_for`] (at the end, so earlier draws and thus existing cases keep
//! their values), one more line in [`CaseSpec::toml`], and a removal candidate in the shrinker
//! (`explore::candidates`).

use crate::data::{self, KlineSeries};
use crate::engine::Action;
use crate::exchange::{BarTicks, IntrabarPolicy, SymbolSpec};
use crate::scenario::{self, Scenario, ScenarioError};
use crate::sim::rng::StreamRng;
use crate::sim::target::{Answer, Leg, RequestKind, TargetedFault, Times};
use crate::sim::Faults;
use crate::types::PositionSide;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;
use toml::Value;

/// One signal of a case (absolute prices in ticks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSignal {
    /// Time (ms).
    pub at_ms: i64,
    /// Action.
    pub action: Action,
    /// Quantity in steps.
    pub qty_steps: i64,
    /// Stop-loss price (ticks).
    pub sl_ticks: Option<i64>,
    /// Take-profit price (ticks).
    pub tp_ticks: Option<i64>,
    /// Entry order type other than market: `limit` or `stop` (drawn last, by `draw_entries`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_type: Option<String>,
    /// The entry's own price in ticks away from the last close (`offset_ticks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_ticks: Option<i64>,
    /// The entry's own price away from the last close in basis points (`offset_pct` = bp/10⁴).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_bp: Option<i64>,
    /// `position_size_pct` in thousandths (10–100: 0.01–0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_permille: Option<i64>,
}

impl CaseSignal {
    /// The same signal apart from its time (a duplicate's test).
    fn same_as(&self, o: &CaseSignal) -> bool {
        CaseSignal {
            at_ms: o.at_ms,
            ..self.clone()
        } == *o
    }

    /// The signal's extra keys (order type, own price, sizing) as `(key, value)` pairs, the
    /// value a TOML string or integer, shared by the text and the table.
    fn entry_keys(&self) -> Vec<(&'static str, Value)> {
        let mut kv = Vec::new();
        if let Some(o) = &self.order_type {
            kv.push(("order_type", Value::String(o.clone())));
        }
        if let Some(n) = self.offset_ticks {
            kv.push(("offset_ticks", Value::Integer(n)));
        }
        if let Some(bp) = self.offset_bp {
            kv.push((
                "offset_pct",
                Value::String(Decimal::new(bp, 4).normalize().to_string()),
            ));
        }
        if let Some(m) = self.size_permille {
            kv.push((
                "position_size_pct",
                Value::String(Decimal::new(m, 3).normalize().to_string()),
            ));
        }
        kv
    }
}

/// An act behind the engine's back (`[[external]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseExternal {
    /// Time (ms).
    pub at_ms: i64,
    /// `cancel_leg`, `expire_leg` or `adl`.
    pub act: String,
    /// Leg acts: the Nth pair (0: `"latest"`).
    pub pair: i64,
    /// Leg acts: `stop_loss`, `take_profit` or `both`.
    pub leg: String,
    /// ADL: the percentage of the position taken (1–100).
    pub pct: i64,
    /// ADL in hedge mode: the side.
    pub position_side: Option<PositionSide>,
}

/// A complete case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSpec {
    /// Symbol (a built-in spec).
    pub symbol: String,
    /// 1m bars (serialised as `[t, o, h, l, c]`).
    #[serde(with = "bars_serde")]
    pub bars: Vec<BarTicks>,
    /// Signals in time order.
    pub signals: Vec<CaseSignal>,
    /// Manual closes (ms, side).
    pub manual: Vec<(i64, PositionSide)>,
    /// Hedge mode?
    pub hedge: bool,
    /// Pre-2025-12-09 conditional-order API (`api = "legacy"`).
    pub legacy_api: bool,
    /// Stream monitoring?
    pub stream: bool,
    /// Poll interval.
    pub poll_ms: i64,
    /// Request and response latency each.
    pub latency_ms: i64,
    /// Path policy.
    pub intrabar: IntrabarPolicy,
    /// Faults (restarts included).
    pub faults: Faults,
    /// Run seed.
    pub seed: u64,
    /// Partial manual closes (ms, side, percentage of what the engine would close, 1–99).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partial: Vec<(i64, PositionSide, i64)>,
    /// Acts behind the engine's back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external: Vec<CaseExternal>,
    /// The venue's tick as a multiple of the symbol's (`[exchange.filters] tick_size`; 0: the
    /// symbol's own). Bars and signal prices stay on the symbol's tick, so with 2, 5 or 25 they
    /// can sit off the venue's tick, as a strategy's computed prices do (W16).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tick_mult: i64,
}

fn is_zero(x: &i64) -> bool {
    *x == 0
}

mod bars_serde {
    use crate::exchange::BarTicks;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(b: &[BarTicks], s: S) -> Result<S::Ok, S::Error> {
        let v: Vec<[i64; 5]> = b.iter().map(|b| [b.t, b.o, b.h, b.l, b.c]).collect();
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<BarTicks>, D::Error> {
        let v: Vec<[i64; 5]> = Vec::deserialize(d)?;
        Ok(v.into_iter()
            .map(|[t, o, h, l, c]| BarTicks { t, o, h, l, c })
            .collect())
    }
}

/// A targeted fault (scenario `[faults] targeted`): one request of one leg role answered with a
/// business error, throttling, a 5xx or a timeout (executed or not).
fn draw_targeted(rng: &mut StreamRng) -> TargetedFault {
    let request =
        [RequestKind::Place, RequestKind::Cancel, RequestKind::Query][rng.below(3) as usize];
    let leg = [
        Leg::Entry,
        Leg::StopLoss,
        Leg::TakeProfit,
        Leg::Close,
        Leg::Any,
    ][rng.below(5) as usize];
    // transient answers a venue gives (a business code only where it is one for that request)
    let answer = match (rng.below(4), request) {
        (0, RequestKind::Place) => Answer::Code(-2021),
        (0, RequestKind::Cancel) => Answer::Code(-2011),
        (0 | 1, _) => Answer::Status(429),
        (2, _) => Answer::Status(503),
        _ => Answer::Timeout,
    };
    TargetedFault {
        request: Some(request),
        leg: Some(leg),
        pair: [None, Some(1), Some(2)][rng.below(3) as usize],
        call: None,
        nth: None,
        // once or twice: "always", or three timeouts in a row, outlast any engine's retries and
        // the invariants' grace (the reference engine's 3 tries), which is the venue's fault
        times: Times::Count(1 + rng.below(2) as u32),
        answer,
        reached: answer.outcome_unknown() && rng.below(2) == 0,
        msg: None,
    }
}

/// The draws the scenario language's #16 external acts added (after every earlier draw, so
/// existing cases keep their values): partial manual closes, a leg cancelled or expired behind
/// the engine's back, an ADL reduction.
fn draw_scenario_acts(rng: &mut StreamRng, c: &mut CaseSpec) {
    let side = |rng: &mut StreamRng, hedge: bool| {
        if !hedge {
            PositionSide::Both
        } else if rng.below(2) == 0 {
            PositionSide::Long
        } else {
            PositionSide::Short
        }
    };
    if rng.below(6) == 0 {
        let bi = rng.below(c.bars.len() as u64) as usize;
        let at = c.bars[bi].t + rng.below(CASE_INTERVAL_MS as u64) as i64;
        let ps = side(rng, c.hedge);
        c.partial.push((at, ps, 10 + rng.below(80) as i64));
    }
    if rng.below(4) == 0 {
        for _ in 0..1 + rng.below(2) {
            // while a signal's legs are live: a few seconds to a few minutes after it
            let k = rng.below(c.signals.len() as u64) as usize;
            let at = c.signals[k].at_ms + 1_000 + rng.below(180_000) as i64;
            let act = ["cancel_leg", "cancel_leg", "expire_leg", "adl"][rng.below(4) as usize];
            let pair = rng.below(3) as i64;
            let leg = ["stop_loss", "take_profit", "both"][rng.below(3) as usize];
            let pct = 10 + rng.below(91) as i64;
            let ps = side(rng, c.hedge);
            c.external.push(CaseExternal {
                at_ms: at,
                act: act.to_string(),
                pair,
                leg: leg.to_string(),
                pct,
                position_side: c.hedge.then_some(ps),
            });
        }
        c.external.sort_by_key(|x| x.at_ms);
    }
}

/// The draws the scenario language's #16 entries added (after every other draw, so existing
/// cases keep their values): per buy/sell signal, a LIMIT or STOP entry at its own price a few
/// ticks to 1 % above or below the last close (`offset_ticks` or `offset_pct`), and a
/// `position_size_pct` of 0.01–0.1.
fn draw_entries(rng: &mut StreamRng, c: &mut CaseSpec) {
    for g in &mut c.signals {
        if !matches!(g.action, Action::Buy | Action::Sell) {
            continue;
        }
        match rng.below(10) {
            0 => g.order_type = Some("limit".into()),
            // (one-way STOP entries too: the invariants tell them from legs missing reduce-only
            // by their request, placed while the engine places a signal's entry)
            1 => g.order_type = Some("stop".into()),
            _ => {}
        }
        if g.order_type.is_some() {
            let sign = if rng.below(2) == 0 { 1 } else { -1 };
            if rng.below(2) == 0 {
                g.offset_ticks = Some(sign * (1 + rng.below(30) as i64));
            } else {
                g.offset_bp = Some(sign * (5 + rng.below(96) as i64));
            }
        }
        if rng.below(8) == 0 {
            g.size_permille = Some(10 + rng.below(91) as i64);
        }
    }
}

/// The draws that reach the last two weak points a scenario can show (after every other draw,
/// so existing cases keep their values): a venue tick coarser than the prices' (2, 5 or 25
/// ticks: off-tick prices that rounding to decimal places sends unchanged, W16), and the first
/// cancel answered 503 three times in a row (a whole three-try cancel budget spent, W10; three
/// timeouts stay out: their unknown outcome outlasts the invariants' grace).
fn draw_venue_edges(rng: &mut StreamRng, c: &mut CaseSpec) {
    if rng.below(10) == 0 {
        c.tick_mult = [2, 5, 25][rng.below(3) as usize];
    }
    if rng.below(20) == 0 {
        c.faults.targeted.push(TargetedFault {
            request: Some(RequestKind::Cancel),
            leg: Some(Leg::Any),
            pair: None,
            call: None,
            nth: None,
            times: Times::Count(3),
            answer: Answer::Status(503),
            reached: false,
            msg: None,
        });
    }
}

/// One targeted fault as an inline TOML table.
fn targeted_toml(t: &TargetedFault) -> String {
    let mut s = String::from("{ ");
    if let Some(r) = t.request {
        let _ = write!(s, "request = \"{}\", ", r.as_str());
    }
    if let Some(l) = t.leg {
        let _ = write!(s, "leg = \"{}\", ", l.as_str());
    }
    if let Some(p) = t.pair {
        let _ = write!(s, "pair = {p}, ");
    }
    match t.times {
        Times::Count(n) => {
            let _ = write!(s, "times = {n}, ");
        }
        Times::Always => s.push_str("times = \"always\", "),
    }
    let _ = write!(s, "answer = \"{}\", reached = {} }}", t.answer, t.reached);
    s
}

/// Bar length of every case.
pub const CASE_INTERVAL_MS: i64 = 60_000;

/// Generated bar shapes that real markets produce and naive engines break on.
pub fn gen_bars(rng: &mut StreamRng, n: usize, t0: i64, start: i64) -> Vec<BarTicks> {
    let mut p = start;
    let mut v = Vec::with_capacity(n);
    let unit = (start / 1000).max(1); // 0.1 % of the price
    for i in 0..n {
        let t = t0 + i as i64 * CASE_INTERVAL_MS;
        let r = |rng: &mut StreamRng, k: i64| rng.below(k.max(1) as u64) as i64;
        let (o, h, l, c) = match rng.below(10) {
            0..=3 => {
                let c = (p + r(rng, 6 * unit) - 3 * unit).max(10);
                (
                    p,
                    p.max(c) + r(rng, unit + 1),
                    (p.min(c) - r(rng, unit + 1)).max(5),
                    c,
                )
            }
            4 | 5 => {
                let w = unit * (5 + r(rng, 40));
                (p, p + w, (p - w).max(5), (p + r(rng, 2 * w) - w).max(10))
            }
            6 => {
                let g = (r(rng, 80) - 40) * unit;
                let o = (p + g).max(10);
                (o, o + unit, (o - unit).max(5), o)
            }
            7 => (p, p, p, p),
            8 => {
                // a long quiet stretch is many flat-ish bars; here one tick of movement
                let c = p + r(rng, 3) - 1;
                (p, p.max(c), p.min(c).max(5), c.max(10))
            }
            _ => {
                let w = unit * (50 + r(rng, 150));
                (p, p + w, (p - w / 2).max(5), (p - w / 3).max(10))
            }
        };
        let c = c.clamp(l.max(5), h);
        v.push(BarTicks {
            t,
            o,
            h,
            l: l.max(5),
            c,
        });
        p = c;
    }
    v
}

/// A source of real bars for windows.
#[derive(Clone)]
pub struct Pool {
    /// Symbol.
    pub symbol: String,
    /// Its bars in ticks.
    pub bars: Vec<BarTicks>,
}

/// Loads every 1m kline file under `paths` as windows pools (one per symbol found).
pub fn load_pools(paths: &[std::path::PathBuf]) -> Result<Vec<Pool>, data::DataError> {
    let mut pools = Vec::new();
    for p in paths {
        let s = data::load_klines(std::slice::from_ref(p), &data::LoadOptions::default())?;
        if s.is_empty() {
            return Err(data::DataError::file(
                p.display().to_string(),
                "holds no klines (give files with bars, or --no-real)",
            ));
        }
        let Some(spec) = SymbolSpec::builtin(&s.symbol) else {
            continue;
        };
        if s.interval_ms != CASE_INTERVAL_MS {
            continue;
        }
        let bars = spec.bars_from_e8(
            &s.open_time_ms,
            &s.open_e8,
            &s.high_e8,
            &s.low_e8,
            &s.close_e8,
        );
        pools.push(Pool {
            symbol: s.symbol.clone(),
            bars,
        });
    }
    Ok(pools)
}

impl CaseSpec {
    /// Draws a case from `rng` (real windows from `pools` half the time when given), in either
    /// position mode.
    pub fn draw(rng: &mut StreamRng, pools: &[Pool]) -> CaseSpec {
        Self::draw_for(rng, pools, false, None)
    }

    /// As [`CaseSpec::draw`]; `hedge_only` for profiles that always send `positionSide` (the
    /// mode is still drawn, so a case index gives the same case apart from its mode); `window`
    /// fixes the number of bars (real windows as long as the pool allows).
    pub fn draw_for(
        rng: &mut StreamRng,
        pools: &[Pool],
        hedge_only: bool,
        window: Option<usize>,
    ) -> CaseSpec {
        let real = !pools.is_empty() && rng.below(2) == 0;
        let (symbol, bars) = if real {
            let pool = &pools[rng.below(pools.len() as u64) as usize];
            let n = 10 + rng.below(110) as usize;
            let n = window.unwrap_or(n).max(2);
            let n = n.min(pool.bars.len());
            let start = rng.below((pool.bars.len() - n + 1) as u64) as usize;
            (pool.symbol.clone(), pool.bars[start..start + n].to_vec())
        } else {
            let n = 4 + rng.below(50) as usize;
            let n = window.unwrap_or(n).max(2);
            let start = 10_000 + rng.below(20_000) as i64;
            (
                "AVAXUSDT".to_string(),
                gen_bars(rng, n, 1_769_904_000_000, start),
            )
        };
        let spec = SymbolSpec::builtin(&symbol).expect("pool symbols are built in");
        let n_sig = 1 + rng.below(5) as usize;
        let mut signals = Vec::new();
        for _ in 0..n_sig {
            let bi = rng.below(bars.len() as u64) as usize;
            let at_ms = bars[bi].t + rng.below(CASE_INTERVAL_MS as u64) as i64;
            let price = if bi == 0 { bars[0].o } else { bars[bi - 1].c };
            let action = match rng.below(20) {
                0 => Action::Close,
                1 => Action::Hold,
                k if k % 2 == 0 => Action::Buy,
                _ => Action::Sell,
            };
            let sign = if action == Action::Sell { -1 } else { 1 };
            let dist = |rng: &mut StreamRng| -> i64 {
                match rng.below(12) {
                    0 => 1,                                              // one tick from the price
                    1 => 0,                                              // equal to the entry
                    2 => -(1 + rng.below(50) as i64),                    // wrong side
                    _ => (price * (2 + rng.below(300) as i64)) / 10_000, // 0.02 %..3 %
                }
            };
            let sl = price - sign * dist(rng);
            let tp = price + sign * dist(rng);
            let notional_usdt = 20 + rng.below(2000) as i64;
            let px = spec.price(price.max(1));
            let qty = (Decimal::from(notional_usdt) / px / spec.step_size).trunc();
            let qty_steps: i64 = qty.try_into().unwrap_or(1i64).max(1);
            signals.push(CaseSignal {
                at_ms,
                action,
                qty_steps,
                sl_ticks: (rng.below(10) > 0).then_some(sl.max(1)),
                tp_ticks: (rng.below(10) > 0).then_some(tp.max(1)),
                order_type: None,
                offset_ticks: None,
                offset_bp: None,
                size_permille: None,
            });
        }
        // a duplicate of one signal: same second (the dispatcher's id), within the TTLs, or later
        if rng.below(6) == 0 {
            let k = rng.below(signals.len() as u64) as usize;
            let mut d = signals[k].clone();
            d.at_ms += match rng.below(4) {
                0 => 0,
                1 => rng.below(1_000) as i64,
                2 => 1_000 + rng.below(9_000) as i64,
                _ => 10_000 + rng.below(60_000) as i64,
            };
            signals.push(d);
        }
        signals.sort_by_key(|s| s.at_ms);
        let hedge = rng.below(2) == 0 || hedge_only;
        let mut manual = Vec::new();
        if rng.below(5) == 0 {
            let bi = rng.below(bars.len() as u64) as usize;
            let ps = if hedge {
                if rng.below(2) == 0 {
                    PositionSide::Long
                } else {
                    PositionSide::Short
                }
            } else {
                PositionSide::Both
            };
            manual.push((bars[bi].t + rng.below(CASE_INTERVAL_MS as u64) as i64, ps));
        }
        let ppm = |rng: &mut StreamRng| -> u32 {
            if rng.below(4) == 0 {
                [10_000u32, 50_000, 200_000][rng.below(3) as usize]
            } else {
                0
            }
        };
        let mut faults = Faults {
            rate_limit_ppm: ppm(rng),
            timeout_ppm: ppm(rng),
            server_error_ppm: ppm(rng),
            cancel_unknown_ppm: ppm(rng),
            poll_error_ppm: ppm(rng),
            stream_drop_ppm: ppm(rng),
            ..Faults::default()
        };
        let latency_ms = rng.below(300) as i64;
        if rng.below(7) == 0 {
            let bi = rng.below(bars.len() as u64) as usize;
            faults
                .restarts_ms
                .push(bars[bi].t + rng.below(CASE_INTERVAL_MS as u64) as i64);
        }
        // a restart at a chosen moment: just after a signal, while its entry and legs are in
        // flight (a few round trips and a retry delay)
        if rng.below(10) == 0 {
            let k = rng.below(signals.len() as u64) as usize;
            let at = signals[k].at_ms + rng.below((4 * latency_ms + 3_000) as u64) as i64;
            faults.restarts_ms.push(at);
            faults.restarts_ms.sort_unstable();
        }
        let mut c = CaseSpec {
            symbol,
            bars,
            signals,
            manual,
            hedge,
            legacy_api: false,
            stream: rng.below(10) < 3,
            poll_ms: [500i64, 1000, 2000, 2000, 5000, 30_000][rng.below(6) as usize],
            latency_ms,
            intrabar: [
                IntrabarPolicy::Ohlc,
                IntrabarPolicy::Pessimistic,
                IntrabarPolicy::Optimistic,
            ][rng.below(3) as usize],
            faults,
            seed: rng.next_u64() >> 1,
            partial: Vec::new(),
            external: Vec::new(),
            tick_mult: 0,
        };
        // drawn last, so the draws above (and the cases they make) keep their values
        if rng.below(6) == 0 {
            c.faults.targeted.push(draw_targeted(rng));
        }
        draw_scenario_acts(rng, &mut c);
        draw_entries(rng, &mut c);
        draw_venue_edges(rng, &mut c);
        c
    }

    /// The generator kinds this case drew (each counted once per case in the explore report's
    /// case mix): position mode, monitor, signal actions, duplicates, manual closes, restarts,
    /// random and targeted faults.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k = vec![if self.hedge {
            "hedge mode"
        } else {
            "one-way mode"
        }];
        k.push(if self.stream {
            "stream monitor"
        } else {
            "poll monitor"
        });
        for (a, name) in [
            (Action::Buy, "buy signal"),
            (Action::Sell, "sell signal"),
            (Action::Close, "close signal"),
            (Action::Hold, "hold signal"),
        ] {
            if self.signals.iter().any(|g| g.action == a) {
                k.push(name);
            }
        }
        if self.signals.windows(2).any(|w| w[0].same_as(&w[1])) {
            k.push("duplicate signal");
        }
        for (o, name) in [("limit", "limit entry"), ("stop", "stop entry")] {
            if self
                .signals
                .iter()
                .any(|g| g.order_type.as_deref() == Some(o))
            {
                k.push(name);
            }
        }
        if self.signals.iter().any(|g| g.size_permille.is_some()) {
            k.push("position_size_pct");
        }
        if !self.manual.is_empty() {
            k.push("manual close");
        }
        if !self.partial.is_empty() {
            k.push("partial close");
        }
        for (a, name) in [
            ("cancel_leg", "leg cancelled by someone else"),
            ("expire_leg", "leg expired by the venue"),
            ("adl", "ADL"),
        ] {
            if self.external.iter().any(|x| x.act == a) {
                k.push(name);
            }
        }
        if !self.faults.restarts_ms.is_empty() {
            k.push("restart");
        }
        let f = &self.faults;
        if f.rate_limit_ppm
            | f.timeout_ppm
            | f.server_error_ppm
            | f.cancel_unknown_ppm
            | f.poll_error_ppm
            | f.stream_drop_ppm
            > 0
        {
            k.push("random faults");
        }
        if !f.targeted.is_empty() {
            k.push("targeted fault");
        }
        if self.tick_mult > 1 {
            k.push("coarse venue tick");
        }
        k
    }

    /// Size for reports: (bars, signals + manual closes, fault kinds + restarts + targeted).
    pub fn size(&self) -> (usize, usize, usize) {
        let f = &self.faults;
        let kinds = [
            f.rate_limit_ppm,
            f.timeout_ppm,
            f.server_error_ppm,
            f.cancel_unknown_ppm,
            f.poll_error_ppm,
            f.stream_drop_ppm,
        ]
        .iter()
        .filter(|&&p| p > 0)
        .count();
        (
            self.bars.len(),
            self.signals.len() + self.manual.len() + self.partial.len() + self.external.len(),
            kinds + f.restarts_ms.len() + f.targeted.len(),
        )
    }

    /// The bars as a Binance kline CSV (with header).
    pub fn csv(&self) -> String {
        let spec = SymbolSpec::builtin(&self.symbol).expect("built-in symbol");
        let mut s = String::from("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n");
        for b in &self.bars {
            let _ = writeln!(
                s,
                "{},{},{},{},{},0,{},0,0,0,0,0",
                b.t,
                spec.price(b.o),
                spec.price(b.h),
                spec.price(b.l),
                spec.price(b.c),
                b.t + CASE_INTERVAL_MS - 1
            );
        }
        s
    }

    /// The bars as the series their CSV loads to (prices are whole ticks, so `ticks × tick` in
    /// e8 is exactly the parsed price; `tests::series_equals_klines` checks it).
    fn series(&self) -> Result<KlineSeries, ScenarioError> {
        let spec = SymbolSpec::builtin(&self.symbol).expect("built-in symbol");
        let err = |msg: String| ScenarioError {
            file: "<case>".into(),
            line: 0,
            field: "bars".into(),
            msg,
        };
        let tick = i64::try_from(data::decimal_to_e8(spec.tick_size).map_err(err)?)
            .map_err(|e| err(e.to_string()))?;
        let rows: Vec<[i64; 5]> = self
            .bars
            .iter()
            .map(|b| {
                let p = |x: i64| x.saturating_mul(tick);
                [b.t, p(b.o), p(b.h), p(b.l), p(b.c)]
            })
            .collect();
        KlineSeries::from_prices_e8(self.symbol.clone(), CASE_INTERVAL_MS, &rows)
            .map_err(|e| err(e.to_string()))
    }

    /// The series through the row view of the CSV's decimals (what `series` must equal).
    #[cfg(test)]
    fn series_from_klines(&self) -> KlineSeries {
        let spec = SymbolSpec::builtin(&self.symbol).expect("built-in symbol");
        let kl: Vec<data::Kline> = self
            .bars
            .iter()
            .map(|b| data::Kline {
                open_time_ms: b.t,
                open: spec.price(b.o),
                high: spec.price(b.h),
                low: spec.price(b.l),
                close: spec.price(b.c),
                volume: Decimal::ZERO,
                close_time_ms: b.t + CASE_INTERVAL_MS - 1,
                quote_volume: Decimal::ZERO,
                count: 0,
                taker_buy_volume: Decimal::ZERO,
                taker_buy_quote_volume: Decimal::ZERO,
            })
            .collect();
        KlineSeries::from_klines(self.symbol.clone(), CASE_INTERVAL_MS, &kl).unwrap()
    }

    /// The scenario file of this case; `csv_name` is the kline file beside it.
    pub fn toml(
        &self,
        name: &str,
        profile: &str,
        sets: &[(String, String)],
        csv_name: &str,
        header: &str,
    ) -> String {
        let spec = SymbolSpec::builtin(&self.symbol).expect("built-in symbol");
        let mut s = String::new();
        for l in header.lines() {
            let _ = writeln!(s, "# {l}");
        }
        let _ = writeln!(s, "name = \"{name}\"\nseed = {}", self.seed);
        if !self.manual.is_empty() || !self.partial.is_empty() {
            s.push_str("manual_closes = [\n");
            for (t, ps) in &self.manual {
                let _ = writeln!(
                    s,
                    "  {{ at = \"{t}\", position_side = \"{}\" }},",
                    ps.as_str()
                );
            }
            for (t, ps, pct) in &self.partial {
                let _ = writeln!(
                    s,
                    "  {{ at = \"{t}\", position_side = \"{}\", fraction = \"{}\" }},",
                    ps.as_str(),
                    Decimal::new(*pct, 2).normalize()
                );
            }
            s.push_str("]\n");
        }
        if !self.external.is_empty() {
            s.push_str("external = [\n");
            for x in &self.external {
                let _ = write!(s, "  {{ at = \"{}\", act = \"{}\"", x.at_ms, x.act);
                if x.act == "adl" {
                    let _ = write!(s, ", fraction = \"{}\"", Decimal::new(x.pct, 2).normalize());
                    if let Some(ps) = x.position_side {
                        let _ = write!(s, ", position_side = \"{}\"", ps.as_str());
                    }
                } else if x.pair == 0 {
                    let _ = write!(s, ", pair = \"latest\", leg = \"{}\"", x.leg);
                } else {
                    let _ = write!(s, ", pair = {}, leg = \"{}\"", x.pair, x.leg);
                }
                s.push_str(" },\n");
            }
            s.push_str("]\n");
        }
        let _ = writeln!(
            s,
            "\n[data]\nklines = [\"{csv_name}\"]\nsymbol = \"{}\"",
            self.symbol
        );
        let _ = writeln!(
            s,
            "\n[exchange]\nposition_mode = \"{}\"\napi = \"{}\"\nintrabar = \"{}\"",
            if self.hedge { "hedge" } else { "one-way" },
            if self.legacy_api { "legacy" } else { "algo" },
            intrabar_name(self.intrabar)
        );
        if self.tick_mult > 1 {
            let _ = writeln!(
                s,
                "\n[exchange.filters]\ntick_size = \"{}\"",
                (spec.tick_size * Decimal::from(self.tick_mult)).normalize()
            );
        }
        let _ = writeln!(
            s,
            "\n[latency]\nrequest_ms = {0}\nresponse_ms = {0}",
            self.latency_ms
        );
        let _ = writeln!(
            s,
            "\n[engine]\nprofile = \"{profile}\"\nmonitor = \"{}\"\npoll_interval_ms = {}",
            if self.stream { "stream" } else { "poll" },
            self.poll_ms
        );
        if !sets.is_empty() {
            s.push_str("[engine.switches]\n");
            for (k, v) in sets {
                let _ = writeln!(s, "{k} = \"{v}\"");
            }
        }
        s.push_str("\n[signals]\ninline = [\n");
        for g in &self.signals {
            let _ = write!(
                s,
                "  {{ at = \"{}\", action = \"{}\", quantity = \"{}\"",
                g.at_ms,
                g.action.as_str(),
                spec.qty(g.qty_steps)
            );
            if let Some(x) = g.sl_ticks {
                let _ = write!(s, ", stop_loss = \"{}\"", spec.price(x));
            }
            if let Some(x) = g.tp_ticks {
                let _ = write!(s, ", take_profit = \"{}\"", spec.price(x));
            }
            for (k, v) in g.entry_keys() {
                let _ = write!(s, ", {k} = {v}");
            }
            s.push_str(" },\n");
        }
        s.push_str("]\n");
        let f = &self.faults;
        let _ = writeln!(
            s,
            "\n[faults]\nrate_limit_ppm = {}\ntimeout_ppm = {}\nserver_error_ppm = {}\ncancel_unknown_ppm = {}\npoll_error_ppm = {}\nstream_drop_ppm = {}\nrestarts_ms = [{}]",
            f.rate_limit_ppm,
            f.timeout_ppm,
            f.server_error_ppm,
            f.cancel_unknown_ppm,
            f.poll_error_ppm,
            f.stream_drop_ppm,
            f.restarts_ms.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
        );
        if !f.targeted.is_empty() {
            s.push_str("targeted = [\n");
            for t in &f.targeted {
                let _ = writeln!(s, "  {},", targeted_toml(t));
            }
            s.push_str("]\n");
        }
        s
    }

    /// The parsed form of [`CaseSpec::toml`] (what `scenario::parse` gives for that text), built
    /// field by field, so a case is built without writing and re-reading its text or a TOML
    /// document (each was a large share of a case's cost). `tests::file_equals_text` checks the
    /// two are the same for every kind of draw.
    fn file(
        &self,
        name: &str,
        profile: &str,
        sets: &[(String, String)],
        csv_name: &str,
    ) -> scenario::ScenarioFile {
        use crate::scenario::{
            DataSection, EngineSection, ExchangeSection, ExternalSpec, FilterOverrides,
            ManualCloseSpec, PairSpec, ScenarioFile, SignalSpec, SignalsSection,
        };
        use crate::sim::external::{ActKind, LegSel};
        let spec = SymbolSpec::builtin(&self.symbol).expect("built-in symbol");
        let pct = |n: i64, scale: u32| Some(Decimal::new(n, scale).normalize());
        let mut manual_closes: Vec<ManualCloseSpec> =
            Vec::with_capacity(self.manual.len() + self.partial.len());
        manual_closes.extend(self.manual.iter().map(|(t, ps)| ManualCloseSpec {
            at: t.to_string(),
            position_side: *ps,
            quantity: None,
            fraction: None,
        }));
        manual_closes.extend(self.partial.iter().map(|(t, ps, p)| ManualCloseSpec {
            at: t.to_string(),
            position_side: *ps,
            quantity: None,
            fraction: pct(*p, 2),
        }));
        let external = self
            .external
            .iter()
            .map(|x| {
                let act = match x.act.as_str() {
                    "adl" => ActKind::Adl,
                    "expire_leg" => ActKind::ExpireLeg,
                    _ => ActKind::CancelLeg,
                };
                let adl = act == ActKind::Adl;
                ExternalSpec {
                    at: x.at_ms.to_string(),
                    symbol: None,
                    act,
                    pair: (!adl).then(|| {
                        if x.pair == 0 {
                            PairSpec::Name("latest".into())
                        } else {
                            PairSpec::Nth(x.pair)
                        }
                    }),
                    leg: (!adl).then_some(match x.leg.as_str() {
                        "stop_loss" => LegSel::StopLoss,
                        "take_profit" => LegSel::TakeProfit,
                        _ => LegSel::Both,
                    }),
                    quantity: None,
                    fraction: if adl { pct(x.pct, 2) } else { None },
                    position_side: if adl { x.position_side } else { None },
                }
            })
            .collect();
        let inline = self
            .signals
            .iter()
            .map(|g| SignalSpec {
                at: g.at_ms.to_string(),
                action: g.action,
                quantity: Some(spec.qty(g.qty_steps)),
                stop_loss: g.sl_ticks.map(|x| spec.price(x)),
                take_profit: g.tp_ticks.map(|x| spec.price(x)),
                sl_pct: None,
                tp_pct: None,
                stop_loss_pct: None,
                take_profit_pct: None,
                confidence: None,
                strategy: None,
                order_type: g.order_type.clone(),
                price: None,
                offset_pct: g.offset_bp.and_then(|bp| pct(bp, 4)),
                offset_ticks: g.offset_ticks,
                time_in_force: None,
                position_size_pct: g.size_permille.and_then(|m| pct(m, 3)),
                delivered_at: None,
                delay_ms: None,
            })
            .collect();
        let f = &self.faults;
        let faults = Faults {
            rate_limit_ppm: f.rate_limit_ppm,
            timeout_ppm: f.timeout_ppm,
            server_error_ppm: f.server_error_ppm,
            cancel_unknown_ppm: f.cancel_unknown_ppm,
            poll_error_ppm: f.poll_error_ppm,
            stream_drop_ppm: f.stream_drop_ppm,
            restarts_ms: f.restarts_ms.clone(),
            targeted: f
                .targeted
                .iter()
                .map(|t| TargetedFault {
                    call: None,
                    nth: None,
                    msg: None,
                    ..t.clone()
                })
                .collect(),
            ..Faults::default()
        };
        ScenarioFile {
            name: Some(name.to_string()),
            description: None,
            seed: self.seed,
            data: DataSection {
                klines: vec![csv_name.into()],
                symbol: Some(self.symbol.clone()),
                interval: None,
                from: None,
                to: None,
                refine: Vec::new(),
                funding: Vec::new(),
                mark: Vec::new(),
            },
            exchange: ExchangeSection {
                position_mode: if self.hedge {
                    crate::types::PositionMode::Hedge
                } else {
                    crate::types::PositionMode::OneWay
                },
                api: Some(if self.legacy_api {
                    crate::exchange::ApiMode::Legacy
                } else {
                    crate::exchange::ApiMode::Algo
                }),
                intrabar: self.intrabar,
                filters: FilterOverrides {
                    tick_size: (self.tick_mult > 1)
                        .then(|| (spec.tick_size * Decimal::from(self.tick_mult)).normalize()),
                    ..FilterOverrides::default()
                },
                ..ExchangeSection::default()
            },
            latency: crate::sim::Latency {
                request_ms: self.latency_ms,
                response_ms: self.latency_ms,
                ..crate::sim::Latency::default()
            },
            engine: EngineSection {
                profile: profile.to_string(),
                monitor: if self.stream {
                    crate::engine::Monitor::Stream
                } else {
                    crate::engine::Monitor::Poll
                },
                poll_interval_ms: self.poll_ms,
                switches: sets
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
                ..EngineSection::default()
            },
            signals: SignalsSection {
                inline,
                ..SignalsSection::default()
            },
            strategy: None,
            manual_closes,
            external,
            faults,
            invariants: Default::default(),
            report: None,
            serve: None,
        }
    }

    /// Builds the runnable scenario exactly as `sim run` would from [`CaseSpec::toml`] + CSV
    /// (through the same builder, from [`CaseSpec::file`], the text's parsed form).
    pub fn scenario(
        &self,
        profile: &str,
        sets: &[(String, String)],
    ) -> Result<Scenario, ScenarioError> {
        let csv_name = format!("{}-1m-case.csv", self.symbol);
        let path = Path::new("case.toml");
        let raw = self.file("case", profile, sets, &csv_name);
        scenario::build_with(path, "", raw, Some(self.series()?))
    }
}

/// The scenario language's name of an intrabar policy.
fn intrabar_name(p: IntrabarPolicy) -> &'static str {
    match p {
        IntrabarPolicy::Ohlc => "ohlc",
        IntrabarPolicy::Pessimistic => "pessimistic",
        IntrabarPolicy::Optimistic => "optimistic",
        IntrabarPolicy::Refine => "refine",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::{draw, Stream};

    /// The parsed form a case is built from is what its written file parses to, for every kind
    /// of draw (modes, monitors, manual closes, duplicates, restarts, targeted faults, overrides).
    #[test]
    fn file_equals_text() {
        let sets = vec![("monitor_restarts".to_string(), "false".to_string())];
        let (mut manual, mut targeted, mut restarts) = (0, 0, 0);
        let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
        for i in 0..3000u64 {
            let mut rng = StreamRng::new(draw(7, Stream::Explore, i), Stream::Explore);
            let mut c = CaseSpec::draw_for(&mut rng, &[], i % 3 == 0, None);
            c.legacy_api = i % 5 == 0;
            let sets: &[(String, String)] = if i % 2 == 0 { &sets } else { &[] };
            manual += usize::from(!c.manual.is_empty());
            targeted += usize::from(!c.faults.targeted.is_empty());
            restarts += usize::from(!c.faults.restarts_ms.is_empty());
            let text = c.toml("case", "reference", sets, "X-1m-case.csv", "a header");
            let from_text = scenario::parse(Path::new("case.toml"), &text).unwrap();
            let from_fields = c.file("case", "reference", sets, "X-1m-case.csv");
            assert_eq!(
                format!("{from_text:?}"),
                format!("{from_fields:?}"),
                "case {i}:\n{text}"
            );
            // every drawn case is a valid scenario (bounds and cross-checks included)
            let built = c.scenario("reference", sets);
            assert!(built.is_ok(), "case {i}: {:?}\n{text}", built.err());
            for k in c.kinds() {
                *kinds.entry(k).or_default() += 1;
            }
        }
        assert!(manual > 100 && targeted > 100 && restarts > 100);
        for k in [
            "partial close",
            "leg cancelled by someone else",
            "leg expired by the venue",
            "ADL",
            "limit entry",
            "stop entry",
            "position_size_pct",
            "coarse venue tick",
        ] {
            assert!(kinds.get(k).copied().unwrap_or(0) > 50, "{k}: {kinds:?}");
        }
    }

    /// Bars built from ticks are the series the written CSV's decimals give, for generated paths
    /// and for windows of every built-in symbol's real data (gaps included).
    #[test]
    fn series_equals_klines() {
        for i in 0..2000u64 {
            let mut rng = StreamRng::new(draw(9, Stream::Explore, i), Stream::Explore);
            let c = CaseSpec::draw_for(&mut rng, &[], false, None);
            assert_eq!(c.series().unwrap(), c.series_from_klines(), "case {i}");
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/binance-um/klines");
        let mut files = Vec::new();
        for sym in ["AVAXUSDT", "FILUSDT", "LINKUSDT", "NEARUSDT"] {
            if let Ok(rd) = std::fs::read_dir(dir.join(sym).join("1m")) {
                let mut f: Vec<_> = rd.flatten().map(|e| e.path()).collect();
                f.sort();
                files.extend(f.into_iter().take(1));
            }
        }
        let pools = load_pools(&files).unwrap();
        for p in &pools {
            let c = CaseSpec {
                symbol: p.symbol.clone(),
                bars: p.bars.clone(),
                ..CaseSpec::draw_for(
                    &mut StreamRng::new(draw(9, Stream::Explore, 0), Stream::Explore),
                    &[],
                    false,
                    None,
                )
            };
            assert_eq!(c.series().unwrap(), c.series_from_klines(), "{}", p.symbol);
        }
    }
}
