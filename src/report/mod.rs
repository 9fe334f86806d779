//! Reports: a run's summary, CSV tables, the event log and human-readable Markdown/HTML pages.
//!
//! Reports read only the event log, the violations and (for the price charts) the scenario's
//! bars, never exchange or engine state, so a replayed log produces the same report. Every file is deterministic: no wall-clock time, maps are
//! `BTreeMap`, money is [`Decimal`] (converted to `f64` only for SVG pixel coordinates). The run
//! time, when known, goes only to the terminal table ([`summary_table`]).
//!
//! [`write_reports`] writes `summary.json`, `orders.csv`, `fills.csv`, `events.jsonl`,
//! `report.md`, `report.html` and the report marker into a temporary sibling folder and swaps it
//! in at the end ([`crate::output`]), so a failed or interrupted run never leaves half a report.

mod axis;
mod coord;
mod describe;
mod html;
mod markdown;
mod price;
mod run;
mod stream;
mod tables;

pub use describe::describe_event;
pub use html::ZOOM_LIMIT;
pub use price::{PriceBars, CANDLE_MIN_PX, TOOLTIP_LIMIT};
pub use run::{run_info, run_summary, summarize_run};
pub use stream::Recorder;
pub use tables::{fills_csv, orders_csv};

use crate::api::TransportError;
use crate::events::{AccountReason, CallOutcome, EngineEvent, Event, EventLog, ExecType};
use crate::invariants::{Invariant, Trails, Violation};
use crate::types::{fmt_time_ms, PositionSide, TimeMs, POW10_U64};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// Everything the summary table and `summary.json` show. Decimals serialise as strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Engine/exchange profile name.
    pub profile: String,
    /// RNG seed.
    pub seed: u64,
    /// Symbol traded.
    pub symbol: String,
    /// Bar interval (`1m`, `1h`, …).
    pub interval: String,
    /// `one-way` / `hedge`.
    pub position_mode: String,
    /// Monitor mode of the engine (stream / poll / …).
    pub monitor: String,
    /// Intrabar path policy.
    pub intrabar: String,
    /// Open time of the first bar ([`fmt_time_ms`]).
    pub first_bar: String,
    /// Open time of the last bar ([`fmt_time_ms`]).
    pub last_bar: String,
    /// Bars walked.
    pub bars: u64,
    /// Bars where the path policy decided the order of fills.
    pub ambiguous_bars: u64,
    /// Orders accepted (regular + algo).
    pub orders: u64,
    /// Fills (TRADE and CALCULATED executions).
    pub fills: u64,
    /// SL/TP pairs the engine placed.
    pub pairs: u64,
    /// Signals that reached the engine.
    pub signals: u64,
    /// REST calls.
    pub calls: u64,
    /// Monitor passes run.
    pub passes: u64,
    /// Monitor passes skipped (idle).
    pub passes_skipped: u64,
    /// Transport faults (timeouts, 5xx).
    pub faults: u64,
    /// Requests rejected with an API error.
    pub rejections: u64,
    /// Liquidations.
    pub liquidations: u64,
    /// Wallet at the start.
    pub initial_balance: Decimal,
    /// Wallet at the end.
    pub final_wallet: Decimal,
    /// Unrealized PnL at the end.
    pub unrealized: Decimal,
    /// Realized PnL booked.
    pub realized_pnl: Decimal,
    /// Fees paid.
    pub fees: Decimal,
    /// Funding received (negative = paid).
    pub funding: Decimal,
    /// `final_wallet + unrealized - initial_balance`.
    pub pnl: Decimal,
    /// Largest fall of equity from a running peak (quote currency).
    pub max_drawdown: Decimal,
    /// Largest fall of equity as a percentage of the running peak (2 dp).
    pub max_drawdown_pct: Decimal,
    /// Violations found.
    pub violations: u64,
    /// Violations per invariant name; every invariant present, 0 when none.
    pub violations_by_invariant: BTreeMap<String, u64>,
    /// Rejections per Binance code (`"-1106": 3`).
    pub rejections_by_code: BTreeMap<String, u64>,
    /// Warning events.
    pub warnings: u64,
    /// `PASS` when no violation, else `FAIL`.
    pub verdict: String,
    /// Data warnings of the scenario (missing bars in the range); absent from `summary.json`
    /// when there are none. Set by the caller from the scenario, not from the log.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_warnings: Vec<String>,
    /// What actually ran (version, switches, data hashes, replay command); empty when the
    /// caller did not record it.
    #[serde(default, skip_serializing_if = "Provenance::is_empty")]
    pub run: Provenance,
}

/// What actually ran, so the report reproduces its verdict: the ocosim version, the profile and
/// every effective switch value (overridden ones marked), the data files with their SHA-256, and
/// the command line that replays the run. The seed is [`Summary::seed`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// ocosim version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// The profile the switches start from.
    pub profile: String,
    /// Every switch with its effective value, in `sim profiles` order.
    pub switches: Vec<SwitchValue>,
    /// Every data file read, in load order.
    pub data: Vec<DataFile>,
    /// `sim run …` with the options that reproduce this run.
    pub replay: String,
}

impl Provenance {
    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.version.is_empty()
    }
}

/// One switch's effective value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchValue {
    /// Switch name.
    pub name: String,
    /// Value as `--set` accepts it.
    pub value: String,
    /// True when it differs from the profile's value (scenario `[engine.switches]` or `--set`).
    pub overridden: bool,
}

/// One data file and its hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    /// Path as resolved from the scenario.
    pub path: String,
    /// SHA-256 of its bytes, lower-case hex.
    pub sha256: String,
}

/// What a run knows that the event log does not: its setup and the simulator's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunInfo {
    /// Scenario name.
    pub scenario: String,
    /// Profile name.
    pub profile: String,
    /// RNG seed.
    pub seed: u64,
    /// Symbol.
    pub symbol: String,
    /// Bar interval.
    pub interval: String,
    /// `one-way` / `hedge`.
    pub position_mode: String,
    /// Monitor mode.
    pub monitor: String,
    /// Intrabar policy.
    pub intrabar: String,
    /// Open time of the first bar.
    pub first_bar: TimeMs,
    /// Open time of the last bar.
    pub last_bar: TimeMs,
    /// Bars walked.
    pub bars: u64,
    /// Ambiguous bars.
    pub ambiguous_bars: u64,
    /// Monitor passes run.
    pub passes: u64,
    /// Monitor passes skipped.
    pub passes_skipped: u64,
    /// REST calls made (the log keeps only writes and failed calls).
    pub calls: u64,
    /// Faults injected (timeouts, 5xx, rate limits, -2011, dropped stream events).
    pub faults: u64,
    /// Requests the exchange itself rejected (injected -1003/-2011 are faults, not rejections).
    pub rejections: u64,
    /// Wallet at the start.
    pub initial_balance: Decimal,
}

/// Sums over the event log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounting {
    /// Realized PnL of every ACCOUNT_UPDATE.
    pub realized: Decimal,
    /// Fees of every ACCOUNT_UPDATE (positive = paid).
    pub fees: Decimal,
    /// Balance changes (funding) of every ACCOUNT_UPDATE.
    pub funding: Decimal,
    /// TRADE and CALCULATED executions.
    pub fills: u64,
    /// Pairs the engine placed.
    pub pairs: u64,
    /// Signals that reached the engine.
    pub signals: u64,
    /// Rejected responses per Binance code.
    pub rejections_by_code: BTreeMap<String, u64>,
    /// Warning events.
    pub warnings: u64,
}

/// Sums realized PnL, fees and funding from ACCOUNT_UPDATE events, counts fills, pairs
/// (`Engine(PairPlaced)`), signals (`Engine(Signal)`), rejections by code and warnings.
pub fn accounting(log: &EventLog) -> Accounting {
    let mut a = Accounting::default();
    for r in log.records() {
        a.add(&r.event);
    }
    a
}

impl Accounting {
    /// Adds one event to the sums (see [`accounting`]). [`Tally::observe`] does the
    /// ACCOUNT_UPDATE and fill sums itself: a change here goes there too.
    #[inline]
    pub fn add(&mut self, ev: &Event) {
        let a = self;
        match ev {
            Event::AccountUpdate(u) => {
                a.realized += u.realized_pnl;
                a.fees += u.fee;
                a.funding += u.balance_change;
            }
            Event::OrderTradeUpdate(o)
                if matches!(o.exec_type, ExecType::Trade | ExecType::Calculated) =>
            {
                a.fills += 1;
            }
            Event::Engine(EngineEvent::PairPlaced { .. }) => a.pairs += 1,
            Event::Engine(EngineEvent::Signal { .. }) => a.signals += 1,
            Event::Response {
                outcome: CallOutcome::Rejected(e),
                ..
            } => *a.rejections_by_code.entry(e.code.to_string()).or_insert(0) += 1,
            Event::Warning { .. } => a.warnings += 1,
            _ => {}
        }
    }
}

/// What the summary and the equity charts need from a log, gathered record by record: the
/// accounting sums, the distinct orders placed, liquidations, the books and the equity curve.
#[derive(Debug, Default)]
pub struct Tally {
    acc: Accounting,
    order_ids: IdRuns,
    algo_ids: IdRuns,
    liquidations: u64,
    books: Books,
    curve: Vec<(TimeMs, Decimal)>,
    initial: Decimal,
}

impl Tally {
    /// An empty tally for a run starting with `initial` in the wallet.
    pub fn new(initial: Decimal) -> Tally {
        Tally {
            initial,
            ..Tally::default()
        }
    }
    /// A tally of a whole log.
    pub fn of_log(log: &EventLog, initial: Decimal) -> Tally {
        let mut t = Tally::new(initial);
        for r in log.records() {
            t.observe(r);
        }
        t
    }
    /// Feeds one record (inlined into the recorder's step: one call less per record; `#[inline]`
    /// alone was not taken).
    #[inline(always)]
    pub fn observe(&mut self, r: &crate::events::EventRecord) {
        if self.curve.is_empty() {
            self.curve.push((r.time_ms, self.initial));
        }
        // one dispatch on the kind, each kind touching only what reads it (the sums, the books
        // and the curve, the ids): requests and the other kinds nothing here reads skip it all
        match &r.event {
            // the sums of `Accounting::add` for the two kinds most records are, done here on
            // the kind already matched (a call and a second dispatch per record before)
            Event::AccountUpdate(u) => {
                self.acc.realized += u.realized_pnl;
                self.acc.fees += u.fee;
                self.acc.funding += u.balance_change;
                self.apply_books(r);
                if u.reason == AccountReason::Liquidation {
                    self.liquidations += 1
                }
            }
            Event::Equity { .. } => self.apply_books(r),
            Event::OrderTradeUpdate(o) => {
                if matches!(o.exec_type, ExecType::Trade | ExecType::Calculated) {
                    self.acc.fills += 1;
                }
                // orders the engine placed: not an algo order's child, not a liquidation
                if o.from_algo.is_none()
                    && !o.client_order_id.starts_with("autoclose-")
                    && o.client_order_id != crate::exchange::external::ADL_CLIENT_ID
                {
                    self.order_ids.insert(o.order_id.0);
                }
            }
            Event::AlgoUpdate(a) => self.algo_ids.insert(a.algo_id.0),
            Event::Engine(_) | Event::Response { .. } | Event::Warning { .. } => {
                self.acc.add(&r.event)
            }
            _ => {}
        }
    }
    /// A point of the equity curve after a record that moved the books.
    fn apply_books(&mut self, r: &crate::events::EventRecord) {
        if self.books.apply(&r.event) {
            let w = self.books.wallet.unwrap_or(self.initial);
            self.curve.push((r.time_ms, w + self.books.unrealized));
        }
    }
    /// The equity curve so far (see [`equity_curve`]).
    pub fn curve(&self) -> &[(TimeMs, Decimal)] {
        &self.curve
    }
}

/// A set of ids held as sorted, disjoint runs of consecutive ids `[first, last]`: the venue
/// numbers its orders in sequence, so the ids of a run mostly extend the last run (or open the
/// next one), and membership is a binary search over runs instead of a tree of every id.
#[derive(Debug, Default)]
struct IdRuns {
    runs: Vec<(u64, u64)>,
    len: usize,
}

impl IdRuns {
    /// Adds `id` (nothing when it is in already).
    #[inline]
    fn insert(&mut self, id: u64) {
        // the first run starting after `id`; the run before it is the only one that can hold it
        let i = match self.runs.last() {
            Some(&(first, _)) if first <= id => self.runs.len(),
            _ => self.runs.partition_point(|&(first, _)| first <= id),
        };
        if i > 0 {
            let (_, last) = self.runs[i - 1];
            if id <= last {
                return;
            }
            if last.checked_add(1) == Some(id) {
                self.runs[i - 1].1 = id;
                self.len += 1;
                // joins the next run when it starts right after
                if i < self.runs.len() && Some(self.runs[i].0) == id.checked_add(1) {
                    self.runs[i - 1].1 = self.runs[i].1;
                    self.runs.remove(i);
                }
                return;
            }
        }
        if i < self.runs.len() && Some(self.runs[i].0) == id.checked_add(1) {
            self.runs[i].0 = id;
        } else {
            self.runs.insert(i, (id, id));
        }
        self.len += 1;
    }

    /// How many distinct ids.
    fn len(&self) -> usize {
        self.len
    }
}

/// Wallet and unrealized PnL as the log last showed them.
#[derive(Debug, Default)]
struct Books {
    wallet: Option<Decimal>,
    unrealized: Decimal,
    /// Last amount per (symbol, side): a handful of entries, searched in place so an update
    /// of a known position neither clones its symbol nor touches a tree.
    positions: Vec<(String, PositionSide, Decimal)>,
}

impl Books {
    /// Applies one event; returns true when it is an equity point (Equity or ACCOUNT_UPDATE).
    fn apply(&mut self, ev: &Event) -> bool {
        match ev {
            Event::Equity {
                wallet, unrealized, ..
            } => {
                self.wallet = Some(*wallet);
                self.unrealized = *unrealized;
                true
            }
            Event::AccountUpdate(u) => {
                self.wallet = Some(u.wallet_balance);
                for p in &u.positions {
                    match self
                        .positions
                        .iter_mut()
                        .find(|(s, side, _)| *side == p.position_side && *s == p.symbol)
                    {
                        Some(e) => e.2 = p.amount,
                        None => {
                            self.positions
                                .push((p.symbol.to_string(), p.position_side, p.amount))
                        }
                    }
                }
                if self.positions.iter().all(|e| e.2.is_zero()) {
                    self.unrealized = Decimal::ZERO;
                }
                true
            }
            _ => false,
        }
    }
}

/// The equity curve: `wallet + unrealized` at each Equity sample and after each ACCOUNT_UPDATE
/// (unrealized from the last Equity sample, or 0 when every position is flat). Starts with
/// `(time of the first record, initial)`; empty for an empty log.
pub fn equity_curve(log: &EventLog, initial: Decimal) -> Vec<(TimeMs, Decimal)> {
    Tally::of_log(log, initial).curve
}

/// Drawdown below the running peak at each point of `curve`, in percent of the peak (2 dp,
/// 0 when the peak is not positive).
pub fn drawdown_curve(curve: &[(TimeMs, Decimal)]) -> Vec<(TimeMs, Decimal)> {
    drawdown_dp(curve, 2)
}

/// `a.cmp(&b)`: the same order (by value, a zero of either sign equal to any zero), without
/// rust_decimal's general path when both have the same scale (every point of an equity curve,
/// nearly): then the values are their signed mantissas over the same power of ten.
#[inline]
pub(crate) fn dec_cmp(a: &Decimal, b: &Decimal) -> std::cmp::Ordering {
    if a.scale() == b.scale() {
        a.mantissa().cmp(&b.mantissa())
    } else {
        a.cmp(b)
    }
}

/// `a.max(b)` (rust_decimal's: `a` unless `a < b`, so `a` on a tie), by [`dec_cmp`].
#[inline]
pub(crate) fn dec_max(a: Decimal, b: Decimal) -> Decimal {
    if dec_cmp(&a, &b) == std::cmp::Ordering::Less {
        b
    } else {
        a
    }
}

/// Whether `d > 0` (a zero of either sign is not), from its sign and mantissa alone.
#[inline]
fn is_positive(d: Decimal) -> bool {
    !d.is_zero() && !d.is_sign_negative()
}

/// Drawdown in percent of the running peak, rounded to `dp` decimals.
pub(crate) fn drawdown_dp(curve: &[(TimeMs, Decimal)], dp: u32) -> Vec<(TimeMs, Decimal)> {
    if let Some(s) = common_scale(curve) {
        // the running peak in integers (see [`common_scale`]); `p - v` as rust_decimal makes
        // it: the difference at [`sub_scale`], positive (a zero difference, at
        // each new peak, by rust_decimal itself)
        let mut peak: Option<(u64, Decimal)> = None;
        return curve
            .iter()
            .map(|&(t, v)| {
                let m = at_scale(v, s);
                let (pm, p) = raise_peak(&mut peak, m, v);
                let dd = if pm == m {
                    p - v
                } else {
                    from_scale(pm - m, s, sub_scale(p, v))
                };
                (t, pct_of(dd, p, dp))
            })
            .collect();
    }
    drawdown_dp_decimal(curve, dp)
}

/// [`drawdown_dp`] in Decimal arithmetic (any curve).
fn drawdown_dp_decimal(curve: &[(TimeMs, Decimal)], dp: u32) -> Vec<(TimeMs, Decimal)> {
    let mut peak: Option<Decimal> = None;
    curve
        .iter()
        .map(|&(t, v)| {
            let p = peak.map_or(v, |p| dec_max(p, v));
            peak = Some(p);
            (t, pct_of(p - v, p, dp))
        })
        .collect()
}

fn pct_of(dd: Decimal, peak: Decimal, dp: u32) -> Decimal {
    pct_exact(dd, peak, dp).unwrap_or_else(|| pct_decimal(dd, peak, dp))
}

/// [`pct_of`] in Decimal arithmetic.
fn pct_decimal(dd: Decimal, peak: Decimal, dp: u32) -> Decimal {
    let pct = if peak > Decimal::ZERO {
        dd * Decimal::ONE_HUNDRED / peak
    } else {
        Decimal::ZERO
    };
    let mut r = pct.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(dp);
    r
}

/// [`pct_of`] in integer arithmetic (one u128 division instead of a Decimal division and a
/// rounding), or `None` outside the operands it is proven for. It rounds the exact quotient
/// `dd · 100 · 10^dp / peak` half away from zero; the Decimal path rounds its 28-digit quotient
/// the same way, and the two agree whenever that quotient cannot straddle a midpoint: with the
/// denominator below 10^18 an inexact quotient lies at least 1 / (2 · 10^18) units of the last
/// place from any midpoint, while below 10^4 the Decimal quotient keeps 24 decimals (an error
/// below 10^-24, far smaller even at dp = 4); an exact midpoint is exact in both.
fn pct_exact(dd: Decimal, peak: Decimal, dp: u32) -> Option<Decimal> {
    if dd.is_sign_negative() || peak.is_sign_negative() || peak.is_zero() || dp > 4 {
        return None;
    }
    let a = u64::try_from(dd.mantissa()).ok()?;
    let b = u64::try_from(peak.mantissa()).ok()?;
    // pct · 10^dp = (a / 10^sa) · 100 · 10^dp / (b / 10^sb) = a · 10^e / b, e = 2 + dp + sb - sa
    let e = 2 + dp as i32 + peak.scale() as i32 - dd.scale() as i32;
    let (n, d) = match e {
        0..=19 => (u128::from(a) * 10u128.pow(e as u32), u128::from(b)),
        -19..=-1 => (u128::from(a), u128::from(b) * 10u128.pow(e.unsigned_abs())),
        _ => return None,
    };
    if d >= 10u128.pow(18) {
        return None;
    }
    let (mut q, r) = (n / d, n % d);
    if r >= d - r {
        q += 1;
    }
    if q >= 10u128.pow(4 + dp) {
        return None;
    }
    Some(Decimal::from_i128_with_scale(q as i128, dp))
}

/// Maximum drawdown of `curve`: (largest absolute fall from a running peak, largest fall in
/// percent of its running peak rounded to 2 dp). Both are maxima over the whole curve (they may
/// come from different points). `100 → 120 → 90 → 130` gives `(30, 25.00)`.
pub fn max_drawdown(curve: &[(TimeMs, Decimal)]) -> (Decimal, Decimal) {
    let (abs, worst_dd, worst_p) =
        max_drawdown_exact(curve).unwrap_or_else(|| max_drawdown_parts(curve));
    let pct = worst_dd * Decimal::ONE_HUNDRED / worst_p;
    let mut pct = pct.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    pct.rescale(2);
    (abs, pct)
}

/// The largest scale `S` of the values of `curve`, when it is at most 14, no value is negative
/// (nor a negative zero) and every value's mantissa at `S` (see [`at_scale`]) is below 2^64: an
/// equity curve's values nearly always are. Then its running peaks and drawdowns are exact in
/// u64 at `S` (and products of two of them in u128), and so are rust_decimal's sums and
/// products of them.
fn common_scale(curve: &[(TimeMs, Decimal)]) -> Option<u32> {
    let s = curve.iter().map(|(_, v)| v.scale()).max()?;
    let ok = s <= 14
        && curve.iter().all(|&(_, v)| {
            !v.is_sign_negative()
                && u64::try_from(v.mantissa())
                    .ok()
                    .and_then(|m| m.checked_mul(POW10_U64[(s - v.scale()) as usize]))
                    .is_some()
        });
    ok.then_some(s)
}

/// `v`'s mantissa at scale `s` (see [`common_scale`]: it fits).
#[inline]
fn at_scale(v: Decimal, s: u32) -> u64 {
    (v.mantissa() as u64) * POW10_U64[(s - v.scale()) as usize]
}

/// The scale of rust_decimal's `p - v` for `p > v >= 0`: the larger of the two, except that a
/// zero `v` gives `p` itself.
/// The running peak (its value at the common scale, and as it was) after `v`, whose value at
/// that scale is `m`: `v` when it is above the peak so far (a tie keeps the earlier one).
#[inline]
fn raise_peak(peak: &mut Option<(u64, Decimal)>, m: u64, v: Decimal) -> (u64, Decimal) {
    let now = match *peak {
        Some((pm, p)) if pm >= m => (pm, p),
        _ => (m, v),
    };
    *peak = Some(now);
    now
}

#[inline]
fn sub_scale(p: Decimal, v: Decimal) -> u32 {
    if v.is_zero() {
        p.scale()
    } else {
        p.scale().max(v.scale())
    }
}

/// `m` (a value at scale `s`) as rust_decimal writes a result of scale `to <= s`: the mantissa
/// divided down exactly (the value has no more than `to` decimals).
#[inline]
fn from_scale(m: u64, s: u32, to: u32) -> Decimal {
    Decimal::from_i128_with_scale(i128::from(m / POW10_U64[(s - to) as usize]), to)
}

/// [`max_drawdown_parts`] in integers, or `None` where it is not proven the same: the values of
/// [`common_scale`], so `p - v` is exact at `S`, and rust_decimal's difference is that value at
/// the scale of [`sub_scale`] (it aligns the operands to the larger and subtracts); each cross
/// product `dd · worst_p` below 2^96 at `S` (the operands' own mantissas are no larger, and
/// their scales add up to at most 28: rust_decimal's product is then exact, so its comparison
/// is the integers'). The first positive drawdown always wins against the start `(0, 1)`
/// (`dd · 1 > 0 · p`); ties keep what is held, as `max` does.
fn max_drawdown_exact(curve: &[(TimeMs, Decimal)]) -> Option<(Decimal, Decimal, Decimal)> {
    let s = common_scale(curve)?;
    // the peak at `S` and as it is
    let mut peak: Option<(u64, Decimal)> = None;
    // the largest drawdown at `S` and its own scale
    let mut abs: Option<(u64, u32)> = None;
    // the deepest drawdown (at `S`, its scale) and its peak (at `S`, as it is)
    let mut worst: Option<(u64, u32, u64, Decimal)> = None;
    for &(_, v) in curve {
        let m = at_scale(v, s);
        let (pm, p) = raise_peak(&mut peak, m, v);
        if pm <= m {
            continue;
        }
        let dd = pm - m;
        let dd_scale = sub_scale(p, v);
        if abs.is_none_or(|(a, _)| a < dd) {
            abs = Some((dd, dd_scale));
        }
        match worst {
            Some((wd, _, wpm, _)) => {
                let (l, r) = (
                    u128::from(dd) * u128::from(wpm),
                    u128::from(wd) * u128::from(pm),
                );
                if l >> 96 != 0 || r >> 96 != 0 {
                    return None;
                }
                if l > r {
                    worst = Some((dd, dd_scale, pm, p));
                }
            }
            None => worst = Some((dd, dd_scale, pm, p)),
        }
    }
    let abs = abs.map_or(Decimal::ZERO, |(a, to)| from_scale(a, s, to));
    Some(match worst {
        Some((wd, to, _, wp)) => (abs, from_scale(wd, s, to), wp),
        None => (abs, Decimal::ZERO, Decimal::ONE),
    })
}

/// [`max_drawdown`]'s largest absolute drawdown and the deepest relative one as `(dd, peak)`,
/// in Decimal arithmetic (any curve).
fn max_drawdown_parts(curve: &[(TimeMs, Decimal)]) -> (Decimal, Decimal, Decimal) {
    let mut peak: Option<Decimal> = None;
    let mut abs = Decimal::ZERO;
    // the deepest relative drawdown as a fraction dd/p, compared by cross-multiplication: one
    // division at the end instead of one per point
    let (mut worst_dd, mut worst_p) = (Decimal::ZERO, Decimal::ONE);
    for &(_, v) in curve {
        let p = peak.map_or(v, |p| dec_max(p, v));
        peak = Some(p);
        let dd = p - v;
        if !is_positive(dd) {
            continue;
        }
        abs = dec_max(abs, dd);
        if is_positive(p) && dd * worst_p > worst_dd * p {
            (worst_dd, worst_p) = (dd, p);
        }
    }
    (abs, worst_dd, worst_p)
}

/// Builds the [`Summary`] from the run's setup, the event log and the violations.
///
/// From the log: orders (distinct orderIds the engine placed, i.e. not an algo order's child and
/// not a liquidation, plus distinct algoIds), fills, pairs, signals, liquidations (ACCOUNT_UPDATE
/// with reason LIQUIDATION), accounting sums, final wallet and unrealized (the run's last Equity
/// sample), PnL and drawdown. From [`RunInfo`]: the setup and the counters the log does not hold
/// (REST calls, since reads are not logged; injected faults; the exchange's own rejections).
pub fn summarize(info: &RunInfo, log: &EventLog, violations: &[Violation]) -> Summary {
    summarize_tally(info, &Tally::of_log(log, info.initial_balance), violations)
}

/// [`summarize`] from a [`Tally`] of the run's records (gathered as the run went).
pub fn summarize_tally(info: &RunInfo, t: &Tally, violations: &[Violation]) -> Summary {
    let acc = t.acc.clone();
    let liquidations = t.liquidations;
    let initial = info.initial_balance;
    let final_wallet = t.books.wallet.unwrap_or(initial);
    let unrealized = t.books.unrealized;
    let (max_dd, max_dd_pct) = max_drawdown(&t.curve);
    let mut by_inv: BTreeMap<String, u64> = Invariant::ALL
        .iter()
        .map(|i| (i.name().to_string(), 0))
        .collect();
    for v in violations {
        *by_inv.entry(v.invariant.name().to_string()).or_insert(0) += 1;
    }
    Summary {
        scenario: info.scenario.clone(),
        profile: info.profile.clone(),
        seed: info.seed,
        symbol: info.symbol.clone(),
        interval: info.interval.clone(),
        position_mode: info.position_mode.clone(),
        monitor: info.monitor.clone(),
        intrabar: info.intrabar.clone(),
        first_bar: fmt_time_ms(info.first_bar.0),
        last_bar: fmt_time_ms(info.last_bar.0),
        bars: info.bars,
        ambiguous_bars: info.ambiguous_bars,
        orders: (t.order_ids.len() + t.algo_ids.len()) as u64,
        fills: acc.fills,
        pairs: acc.pairs,
        signals: acc.signals,
        calls: info.calls,
        passes: info.passes,
        passes_skipped: info.passes_skipped,
        faults: info.faults,
        rejections: info.rejections,
        liquidations,
        initial_balance: initial,
        final_wallet: binance(final_wallet),
        unrealized: binance(unrealized),
        realized_pnl: binance(acc.realized),
        fees: binance(acc.fees),
        funding: binance(acc.funding),
        pnl: binance(final_wallet + unrealized - initial),
        max_drawdown: max_dd,
        max_drawdown_pct: max_dd_pct,
        violations: violations.len() as u64,
        violations_by_invariant: by_inv,
        rejections_by_code: acc.rejections_by_code,
        warnings: acc.warnings,
        verdict: verdict(violations.len()).to_string(),
        data_warnings: Vec::new(),
        run: Provenance::default(),
    }
}

/// `PASS` when there is no violation, else `FAIL`.
pub fn verdict(violations: usize) -> &'static str {
    if violations == 0 {
        "PASS"
    } else {
        "FAIL"
    }
}

/// Invariants with at least one violation, in [`Invariant::ALL`] order, then unknown names.
fn violated(s: &Summary) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Invariant::ALL
        .iter()
        .filter_map(|i| {
            let n = *s.violations_by_invariant.get(i.name())?;
            (n > 0).then(|| (i.name().to_string(), n))
        })
        .collect();
    for (k, &n) in &s.violations_by_invariant {
        if n > 0 && !Invariant::ALL.iter().any(|i| i.name() == k) {
            out.push((k.clone(), n));
        }
    }
    out
}

/// `one-leg 2, orphan 1`, or `none`.
fn violations_line(s: &Summary) -> String {
    let v = violated(s);
    if v.is_empty() {
        return "none".to_string();
    }
    v.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A Decimal without trailing zeros.
pub(crate) fn dec(d: Decimal) -> String {
    d.normalize().to_string()
}

/// Decimals Binance reports money and average prices with (`wb`, `rp`, `n`, `ep`: 8).
pub const BINANCE_DP: u32 = 8;

/// `d` as Binance reports it: rounded half away from zero to [`BINANCE_DP`] decimals. The books
/// keep the exact value (`books-balance` checks them to the last digit); reports show this one.
pub fn binance(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(BINANCE_DP, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
}

/// [`binance`] without trailing zeros, as text (`13.04`, not `13.039999999980`).
pub(crate) fn bdec(d: Decimal) -> String {
    binance(d).to_string()
}

/// Formats a money amount with 2 decimals (rounded half away from zero), keeping more when the
/// value has them only below a cent (e.g. `0.004` stays exact), at most Binance's 8.
pub(crate) fn money(d: Decimal) -> String {
    let d = binance(d);
    let r = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    if r == d {
        let mut r = r;
        r.rescale(2);
        r.to_string()
    } else {
        d.normalize().to_string()
    }
}

/// Shortened time for tables: `YYYY-MM-DD HH:MM`.
pub(crate) fn short_time(s: &str) -> &str {
    s.get(..16).unwrap_or(s)
}

/// The rows of the full summary table (Markdown and HTML): label, value.
pub(crate) fn detail_rows(s: &Summary) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("Scenario", s.scenario.clone()),
        ("Profile", s.profile.clone()),
        ("Seed", s.seed.to_string()),
        ("Symbol", format!("{} {}", s.symbol, s.interval)),
        ("Position mode", s.position_mode.clone()),
        ("Monitor", s.monitor.clone()),
        ("Intrabar", s.intrabar.clone()),
        (
            "Period",
            format!("{} → {}", short_time(&s.first_bar), short_time(&s.last_bar)),
        ),
        ("Bars", s.bars.to_string()),
        ("Ambiguous bars", s.ambiguous_bars.to_string()),
        ("Signals", s.signals.to_string()),
        ("Orders", s.orders.to_string()),
        ("Fills", s.fills.to_string()),
        ("Pairs", s.pairs.to_string()),
        ("Calls", s.calls.to_string()),
        (
            "Monitor passes",
            format!("{} ({} skipped)", s.passes, s.passes_skipped),
        ),
        ("Faults", s.faults.to_string()),
    ];
    let rej = if s.rejections_by_code.is_empty() {
        s.rejections.to_string()
    } else {
        let codes: Vec<String> = s
            .rejections_by_code
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        format!("{} ({})", s.rejections, codes.join(", "))
    };
    rows.push(("Rejections", rej));
    rows.push(("Liquidations", s.liquidations.to_string()));
    rows.push(("Warnings", s.warnings.to_string()));
    rows.push(("Initial balance", money(s.initial_balance)));
    rows.push(("Final wallet", money(s.final_wallet)));
    rows.push(("Unrealized", money(s.unrealized)));
    rows.push(("Realized PnL", money(s.realized_pnl)));
    rows.push(("Fees", money(s.fees)));
    rows.push(("Funding", money(s.funding)));
    rows.push(("PnL", money(s.pnl)));
    rows.push((
        "Max drawdown",
        format!("{} ({} %)", money(s.max_drawdown), s.max_drawdown_pct),
    ));
    rows.push((
        "Violations",
        format!("{} ({})", s.violations, violations_line(s)),
    ));
    rows.push(("Verdict", s.verdict.clone()));
    rows
}

/// The short terminal table: bars, orders, fills, pairs, ambiguous bars, violations (by
/// invariant when > 0), PnL, max drawdown and, when given, the run time (terminal only).
pub fn summary_table(s: &Summary, run_time: Option<Duration>) -> String {
    let mut rows: Vec<(String, String)> = vec![
        ("bars".into(), s.bars.to_string()),
        ("ambiguous bars".into(), s.ambiguous_bars.to_string()),
        ("orders".into(), s.orders.to_string()),
        ("fills".into(), s.fills.to_string()),
        ("pairs".into(), s.pairs.to_string()),
        ("violations".into(), s.violations.to_string()),
    ];
    for (k, n) in violated(s) {
        rows.push((format!("  {k}"), n.to_string()));
    }
    rows.push((
        "PnL".into(),
        format!(
            "{} (realized {}, fees {}, funding {}, unrealized {})",
            money(s.pnl),
            money(s.realized_pnl),
            money(s.fees),
            money(s.funding),
            money(s.unrealized)
        ),
    ));
    rows.push((
        "max drawdown".into(),
        format!("{} ({} %)", money(s.max_drawdown), s.max_drawdown_pct),
    ));
    if let Some(d) = run_time {
        rows.push(("run time".into(), format!("{:.3} s", d.as_secs_f64())));
    }
    rows.push(("verdict".into(), s.verdict.clone()));
    let w = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} [{}] seed {}  {} {}  {} → {}",
        s.scenario,
        s.profile,
        s.seed,
        s.symbol,
        s.interval,
        short_time(&s.first_bar),
        short_time(&s.last_bar)
    );
    for (k, v) in &rows {
        let pad = w - k.chars().count();
        let _ = writeln!(out, "  {k}{}  {v}", " ".repeat(pad));
    }
    out
}

/// Writes every report file into `dir` under the output contract of [`crate::output`]: `dir`
/// must be new, empty or an ocosim report (else an error and nothing changes); the files and the
/// report marker go into a temporary folder beside it, which is then swapped in whole. On error
/// the temporary folder is removed and `dir` is left as it was.
pub fn write_reports(
    dir: &Path,
    s: &Summary,
    log: &EventLog,
    violations: &[Violation],
    scenario_toml: &str,
) -> std::io::Result<()> {
    write_reports_with(dir, s, log, violations, scenario_toml, None)
}

/// [`write_reports`] with the bars the HTML report draws its price charts from.
pub fn write_reports_with(
    dir: &Path,
    s: &Summary,
    log: &EventLog,
    violations: &[Violation],
    scenario_toml: &str,
    bars: Option<&PriceBars>,
) -> std::io::Result<()> {
    let st = crate::output::Staging::new(dir, &[], "run")?;
    write_files_with(
        st.path(),
        s,
        log,
        violations,
        scenario_toml,
        bars,
        EventsLevel::All,
    )?;
    st.publish()
}

/// Which records `events.jsonl` holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventsLevel {
    /// Every record (the replayable log).
    #[default]
    All,
    /// Signals and the engine's verdicts, pairs placed and dropped, fills, warnings.
    Trades,
    /// Only the records in the trails of violations.
    Violations,
}

impl std::str::FromStr for EventsLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(EventsLevel::All),
            "trades" => Ok(EventsLevel::Trades),
            "violations" => Ok(EventsLevel::Violations),
            _ => Err(format!("`{s}`: use all, trades or violations")),
        }
    }
}

/// Whether a record belongs to `events.jsonl` at level [`EventsLevel::Trades`].
pub(crate) fn is_trade_record(r: &crate::events::EventRecord) -> bool {
    use crate::events::{EngineEvent, Event, ExecType};
    match &r.event {
        Event::OrderTradeUpdate(o) => matches!(o.exec_type, ExecType::Trade | ExecType::Calculated),
        Event::Engine(e) => matches!(
            e,
            EngineEvent::Signal { .. }
                | EngineEvent::SignalResult { .. }
                | EngineEvent::PairPlaced { .. }
                | EngineEvent::PairDropped { .. }
        ),
        Event::Warning { .. } | Event::External { .. } => true,
        _ => false,
    }
}

/// Writes `events.jsonl` at `level` through a buffered writer, record by record.
pub fn write_events(
    path: &Path,
    log: &EventLog,
    violations: &[Violation],
    level: EventsLevel,
) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(path)?);
    match level {
        EventsLevel::All => log.write_jsonl(&mut w, |_| true)?,
        EventsLevel::Trades => log.write_jsonl(&mut w, is_trade_record)?,
        EventsLevel::Violations => {
            let seqs: std::collections::BTreeSet<u64> = violations
                .iter()
                .flat_map(|v| v.trail.iter().map(|s| s.0).chain([v.seq.0]))
                .collect();
            log.write_jsonl(&mut w, |r| seqs.contains(&r.seq.0))?
        }
    }
    std::io::Write::flush(&mut w)
}

/// Writes the report files (without the marker) into the existing folder `tmp`, with every
/// record in `events.jsonl` and no price chart in the HTML report (see [`write_files_with`]).
pub fn write_files(
    tmp: &Path,
    s: &Summary,
    log: &EventLog,
    violations: &[Violation],
    scenario_toml: &str,
) -> std::io::Result<()> {
    write_files_with(
        tmp,
        s,
        log,
        violations,
        scenario_toml,
        None,
        EventsLevel::All,
    )
}

/// Writes the report files (without the marker) into the existing folder `tmp`: the HTML report
/// with price charts drawn from `bars` when given, `events.jsonl` at `level`.
pub fn write_files_with(
    tmp: &Path,
    s: &Summary,
    log: &EventLog,
    violations: &[Violation],
    scenario_toml: &str,
    bars: Option<&PriceBars>,
    level: EventsLevel,
) -> std::io::Result<()> {
    write_summary(tmp, s)?;
    std::fs::write(tmp.join("orders.csv"), orders_csv(log)?)?;
    std::fs::write(tmp.join("fills.csv"), fills_csv(log)?)?;
    write_events(&tmp.join("events.jsonl"), log, violations, level)?;
    let book = price::Book::from_log(log);
    let curve = equity_curve(log, s.initial_balance);
    let h = History {
        log: Some(log),
        trails: None,
        book: &book,
        curve: &curve,
    };
    write_pages(tmp, s, &h, violations, scenario_toml, bars)
}

/// Writes `summary.json`.
fn write_summary(tmp: &Path, s: &Summary) -> std::io::Result<()> {
    let mut json = serde_json::to_string_pretty(s).map_err(std::io::Error::other)?;
    json.push('\n');
    std::fs::write(tmp.join("summary.json"), json)
}

/// Writes `report.md` and `report.html`.
fn write_pages(
    tmp: &Path,
    s: &Summary,
    h: &History<'_>,
    violations: &[Violation],
    scenario_toml: &str,
    bars: Option<&PriceBars>,
) -> std::io::Result<()> {
    std::fs::write(
        tmp.join("report.md"),
        markdown::report_md(s, h, violations, scenario_toml),
    )?;
    std::fs::write(
        tmp.join("report.html"),
        html::report_html(s, h, violations, scenario_toml, bars),
    )
}

/// What the Markdown and HTML pages read of a run's history: the trails' records (from the
/// whole log, or the copies the checker kept), the legs and fills, the equity curve.
pub(crate) struct History<'a> {
    log: Option<&'a EventLog>,
    trails: Option<&'a Trails>,
    /// Legs and fills.
    pub(crate) book: &'a price::Book,
    /// The equity curve.
    pub(crate) curve: &'a [(TimeMs, Decimal)],
}

impl History<'_> {
    /// The trail of `v` as records (seqs not found are skipped).
    pub(crate) fn trail(&self, v: &Violation) -> Vec<&crate::events::EventRecord> {
        match (self.log, self.trails) {
            (Some(log), _) if log.keeps_all() => trail_records(log, v),
            (_, Some(t)) => v.trail.iter().filter_map(|s| t.get(s)).collect(),
            (Some(log), None) => v.trail.iter().filter_map(|s| log.get(*s)).collect(),
            (None, None) => Vec::new(),
        }
    }
}

/// The trail of a violation as records of the log (seqs not found are skipped).
pub(crate) fn trail_records<'a>(
    log: &'a EventLog,
    v: &Violation,
) -> Vec<&'a crate::events::EventRecord> {
    let recs = log.records();
    v.trail
        .iter()
        .filter_map(|seq| {
            let i = usize::try_from(seq.0).ok()?;
            match recs.get(i) {
                Some(r) if r.seq == *seq => Some(r),
                _ => recs.iter().find(|r| r.seq == *seq),
            }
        })
        .collect()
}

/// `exchange` / `engine` / `sim`.
pub(crate) fn source_name(s: crate::events::Source) -> &'static str {
    match s {
        crate::events::Source::Exchange => "exchange",
        crate::events::Source::Engine => "engine",
        crate::events::Source::Sim => "sim",
    }
}

/// `timeout` / `server error`.
pub(crate) fn transport_name(e: TransportError) -> &'static str {
    match e {
        TransportError::Timeout => "timeout",
        TransportError::ServerError | TransportError::ServerStatus(_) => "server error (5xx)",
    }
}

/// Violations grouped by invariant, in [`Invariant::ALL`] order (each group in log order).
pub(crate) fn grouped(violations: &[Violation]) -> Vec<(Invariant, Vec<&Violation>)> {
    Invariant::ALL
        .iter()
        .filter_map(|&inv| {
            let vs: Vec<&Violation> = violations.iter().filter(|v| v.invariant == inv).collect();
            (!vs.is_empty()).then_some((inv, vs))
        })
        .collect()
}

/// The verdict line shared by Markdown and HTML.
pub(crate) fn verdict_line(s: &Summary) -> String {
    if s.violations == 0 {
        format!("{} — no invariant violated", s.verdict)
    } else {
        format!(
            "{} — {} violation{} ({})",
            s.verdict,
            s.violations,
            if s.violations == 1 { "" } else { "s" },
            violations_line(s)
        )
    }
}

#[cfg(test)]
mod tests {
    /// Random decimals for the comparison tests: every scale and sign, zeros of both signs,
    /// mantissas from one digit to 96 bits, and many pairs of one value in two scales.
    pub(crate) fn random_decimals(n: usize) -> Vec<Decimal> {
        let mut next = crate::types::xorshift(0x5DEE_CE66_D1CE_4E5B);
        let mut v = vec![
            Decimal::ZERO,
            -Decimal::ZERO,
            Decimal::new(0, 5),
            Decimal::from_parts(0, 0, 0, true, 7),
            Decimal::MAX,
            Decimal::MIN,
        ];
        while v.len() < n {
            let scale = (next() % 29) as u32;
            let neg = next() % 2 == 0;
            let (lo, mid, hi) = match next() % 4 {
                // small mantissas (prices, quantities), often equal across draws
                0 => ((next() % 1_000) as u32, 0, 0),
                1 => (next() as u32, (next() % 30) as u32, 0),
                2 => (next() as u32, next() as u32, 0),
                _ => (next() as u32, next() as u32, next() as u32),
            };
            let d = Decimal::from_parts(lo, mid, hi, neg, scale);
            v.push(d);
            // the same value with more decimals (another scale, the same order)
            if scale < 28 && hi == 0 {
                let mut w = d;
                w.rescale(scale + 1 + (next() % 3) as u32);
                if w == d {
                    v.push(w);
                }
            }
        }
        v
    }

    /// `dec_cmp`, `dec_max` and `is_positive` are rust_decimal's `cmp`, `max` and `> 0`: the
    /// same order and the very same operand returned (a tie between two scales of one value
    /// shows in the text), over random pairs of equal and different scales.
    #[test]
    fn fast_decimal_order_matches_rust_decimal() {
        let v = random_decimals(4_000);
        let mut next = crate::types::xorshift(0x1234_5678_9ABC_DEF1);
        let (mut same_scale, mut ties) = (0, 0);
        for i in 0..200_000 {
            let a = v[(next() % v.len() as u64) as usize];
            // every other pair from neighbours: equal values in two scales sit side by side
            let b = if i % 2 == 0 {
                v[(next() % v.len() as u64) as usize]
            } else {
                let k = (next() % (v.len() as u64 - 1)) as usize;
                v[k + 1]
            };
            let (a, b) = if i % 5 == 1 {
                // a tie: the same value in another scale (or the same, when it cannot move)
                let mut b = a;
                b.rescale((next() % 29) as u32);
                (a, if b == a { b } else { a })
            } else if i % 3 == 0 {
                (
                    a,
                    Decimal::try_from_i128_with_scale(b.mantissa(), a.scale()).unwrap_or(b),
                )
            } else {
                (a, b)
            };
            same_scale += usize::from(a.scale() == b.scale());
            ties += usize::from(a == b);
            assert_eq!(dec_cmp(&a, &b), a.cmp(&b), "{a:?} {b:?}");
            assert_eq!(
                dec_max(a, b).serialize(),
                a.max(b).serialize(),
                "{a:?} {b:?}"
            );
            assert_eq!(is_positive(a), a > Decimal::ZERO, "{a:?}");
        }
        assert!(same_scale > 60_000 && ties > 1_000, "{same_scale} {ties}");
    }

    /// Random equity-like curves: one scale (0 to 16) or a few, random walks of small and of
    /// huge steps, peaks repeated, values near 2^64 and near the 2^96 limit of the cross
    /// products, zeros, now and then a negative value or a negative zero.
    fn random_curves() -> Vec<Vec<(crate::types::TimeMs, Decimal)>> {
        let mut next = crate::types::xorshift(0xA076_1D64_78BD_642F);
        let mut curves = Vec::new();
        for c in 0..600u64 {
            let big = c % 5 == 0;
            // huge values (products about 2^96) only with decimals to drop: rust_decimal's own
            // product of two whole numbers that large overflows (panics)
            let s = if big { 4 + next() % 13 } else { next() % 17 } as u32;
            let len = (next() % 300) as usize;
            let mut m: i128 = if big {
                i128::from(next() >> 16)
            } else {
                i128::from(next() % 2_000_000)
            };
            let mut curve = Vec::with_capacity(len);
            for i in 0..len {
                let step = if big {
                    i128::from(next() >> (17 + next() % 40))
                        - i128::from(next() >> (17 + next() % 40))
                } else {
                    i128::from(next() % 2_001) - 1_000
                };
                m = (m + step).max(0);
                let mut d = Decimal::from_i128_with_scale(m, s);
                match next() % 400 {
                    0 => d = -d,
                    1 => d = Decimal::from_parts(0, 0, 0, true, s),
                    2 => d = Decimal::from_i128_with_scale(m, (s + 1) % 29),
                    3 if c % 2 == 0 => d = Decimal::from_i128_with_scale(0, s),
                    // fewer decimals: another value, or (trailing zeros cut) the same value
                    // in another scale, as an equity curve's wallet and unrealized sums have
                    4..=80 if s >= 2 => {
                        let k = 1 + (next() % 2) as u32;
                        let p = 10i128.pow(k);
                        if next() % 2 == 0 {
                            m -= m % p;
                        }
                        d = Decimal::from_i128_with_scale(m / p, s - k);
                    }
                    _ => {}
                }
                curve.push((crate::types::TimeMs(i as i64), d));
            }
            curves.push(curve);
        }
        curves
    }

    /// The integer paths of `max_drawdown` and `drawdown_dp`, wherever they answer, give the
    /// Decimal paths' very bytes (values, scales and signs), and they answer for most curves.
    #[test]
    fn integer_drawdowns_are_the_decimal_paths() {
        let (mut exact, mut total) = (0, 0);
        for curve in random_curves() {
            total += 1;
            let want = super::max_drawdown_parts(&curve);
            if let Some(got) = super::max_drawdown_exact(&curve) {
                exact += 1;
                for (g, w) in [(got.0, want.0), (got.1, want.1), (got.2, want.2)] {
                    assert_eq!(g.serialize(), w.serialize(), "{g} {w} {curve:?}");
                }
            }
            for dp in [2, 4] {
                let got = super::drawdown_dp(&curve, dp);
                let want = super::drawdown_dp_decimal(&curve, dp);
                assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!((g.0, g.1.serialize()), (w.0, w.1.serialize()), "{curve:?}");
                }
            }
        }
        assert!(exact * 3 > total, "{exact} of {total}");
    }

    use super::{dec_cmp, dec_max, is_positive, pct_decimal, pct_exact, IdRuns};
    use rust_decimal::Decimal;
    use std::collections::BTreeSet;

    /// `pct_exact`, wherever it answers, is `pct_decimal` bit for bit (value, scale, sign):
    /// equity-like peaks and drawdowns of every scale, zero drawdowns, exact midpoints at the
    /// last decimal, drawdowns beyond the peak and random operands.
    #[test]
    fn pct_exact_is_the_decimal_path() {
        let mut next = crate::types::xorshift(0x2545_F491_4F6C_DD1D);
        let mut cases: Vec<(Decimal, Decimal)> = vec![
            (Decimal::ZERO, Decimal::new(100_000_000, 4)),
            (Decimal::new(0, 7), Decimal::new(100_004_145_200, 7)),
            (Decimal::new(5, 5), Decimal::ONE_HUNDRED),
            (Decimal::new(-5, 5), Decimal::ONE_HUNDRED),
            (Decimal::new(15, 7), Decimal::new(2, 0)),
            (Decimal::new(3, 0), Decimal::new(2, 0)),
            (Decimal::ONE, Decimal::new(3, 0)),
            (Decimal::new(2, 0), Decimal::new(3, 0)),
        ];
        for dp in 0..=4u32 {
            // exact midpoints: dd / peak · 100 = k.5 · 10^-dp
            for k in 0..200i64 {
                let dd = Decimal::new(2 * k + 1, dp + 3);
                cases.push((dd, Decimal::new(2, 1)));
                cases.push((dd * Decimal::new(4, 0), Decimal::new(8, 1)));
            }
        }
        for _ in 0..100_000 {
            let peak_m = (next() % 100_000_000_000_000) as i64 + 1;
            let peak = Decimal::new(peak_m, (next() % 10) as u32);
            let dd = match next() % 4 {
                0 => Decimal::new((next() % 1_000_000) as i64, (next() % 10) as u32),
                1 => peak * Decimal::new((next() % 10_000) as i64, 4),
                2 => Decimal::new((next() >> (next() % 64)) as i64, (next() % 29) as u32),
                _ => peak - Decimal::new((next() % peak_m as u64) as i64, peak.scale()),
            };
            cases.push((dd, peak));
        }
        let mut answered = 0;
        for (dd, peak) in cases {
            for dp in [0, 1, 2, 3, 4] {
                if let Some(got) = pct_exact(dd, peak, dp) {
                    answered += 1;
                    let want = pct_decimal(dd, peak, dp);
                    assert_eq!(got.serialize(), want.serialize(), "{dd} / {peak} dp {dp}");
                }
            }
        }
        assert!(answered > 100_000, "{answered}");
    }

    /// `IdRuns` counts exactly the distinct ids a `BTreeSet` holds, its runs stay sorted,
    /// disjoint and non-adjacent: sequences, repeats, ids filling the hole between two runs,
    /// descending ids, random ids and the ends of u64.
    #[test]
    fn id_runs_count_distinct_ids() {
        let mut next = crate::types::xorshift(0x9E37_79B9_7F4A_7C15);
        let mut seqs: Vec<Vec<u64>> = vec![
            (0..100).collect(),
            (0..100).rev().collect(),
            vec![5, 7, 6, 6, 4, 8, 3, 9, 1, 2, 0],
            vec![u64::MAX, u64::MAX - 2, u64::MAX - 1, 0, u64::MAX],
        ];
        for _ in 0..200 {
            let base = next() % 1000;
            seqs.push((0..300).map(|_| base + next() % 64).collect());
        }
        for _ in 0..20 {
            seqs.push((0..300).map(|_| next()).collect());
        }
        for ids in seqs {
            let (mut runs, mut set) = (IdRuns::default(), BTreeSet::new());
            for id in ids {
                runs.insert(id);
                set.insert(id);
                assert_eq!(runs.len(), set.len());
            }
            for w in runs.runs.windows(2) {
                assert!(
                    w[0].0 <= w[0].1 && w[0].1.checked_add(1).unwrap() < w[1].0,
                    "{w:?}"
                );
            }
            let listed: Vec<u64> = runs.runs.iter().flat_map(|&(a, b)| a..=b).collect();
            assert_eq!(listed, set.into_iter().collect::<Vec<_>>());
        }
    }
}
