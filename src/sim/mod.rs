//! The simulator: owns simulated time, the seeded RNG and the loop.
//!
//! [`SimClient`] implements [`Exchange`] over the mock venue: a request reaches the exchange
//! after request latency (the market is walked up to that instant first), the answer reaches the
//! engine after response latency, and faults from the seed or the schedule may intervene. The
//! engine is one sequential actor, as the live engine is (its REST calls block its event loop):
//! signals, stream events, timers, manual closes and restarts wait while it is busy.
//!
//! Ordering rule: the exchange is always walked up to the engine's clock before the engine acts,
//! so the log is sorted by time; at equal times items run in the order stream event, restart,
//! manual close, signal, timer. Read-only calls that succeed are counted, not logged.
//!
//! Idle polls: a polling pass that only reads, while the venue's state version has not changed
//! since the previous pass and cannot change before the pass's last call arrives (no reachable
//! trigger, no fault that could hit it), is skipped arithmetically: it would have read the same
//! answer and changed nothing. `skip_idle_polls = false` turns this off; both give the same log.
//! Which passes count as skipped (`passes_skipped`) is decided with whole bars
//! (`MockExchange::next_change_time`); a pass that look-ahead would run, but whose reads all
//! arrive before the intrabar path can reach anything (`MockExchange::next_change_exact`), is
//! counted as run (`passes`, `calls`) without being run: it would have read the same answer too.

pub mod external;
pub mod rng;
pub mod strategy;
pub mod target;
pub mod venue;

use crate::api::*;
use crate::engine::{Engine, Monitor, Signal};
use crate::events::*;
use crate::exchange::{ExchangeStats, MockExchange};
use crate::types::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use venue::{call_fault, call_jitter};
pub use venue::{Answered, Summary, TracedCall, Venue, WriteSummary};

/// Network latencies, in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Latency {
    /// Engine → exchange.
    pub request_ms: i64,
    /// Exchange → engine.
    pub response_ms: i64,
    /// Extra uniform jitter 0..=jitter_ms on each leg, drawn from the seed.
    pub jitter_ms: i64,
    /// Exchange event → engine (user-data stream).
    pub stream_ms: i64,
    /// How long the engine waits before a call times out.
    pub timeout_ms: i64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            request_ms: 25,
            response_ms: 25,
            jitter_ms: 0,
            stream_ms: 50,
            timeout_ms: 10_000,
        }
    }
}

/// A kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// -1003, HTTP 429: not executed.
    RateLimit,
    /// No answer; the request may have been executed (`reached`).
    Timeout,
    /// HTTP 503; the request may have been executed.
    ServerError,
    /// A cancel answered -2011 without being executed (a race with the venue).
    CancelUnknown,
    /// A user-stream event lost before it reached the engine.
    DropStream,
}

/// A fault on every matching call (or stream event) inside a time window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledFault {
    /// Window start (ms since epoch).
    pub from_ms: i64,
    /// Window end (exclusive).
    pub to_ms: i64,
    /// The fault.
    pub kind: FaultKind,
    /// Only calls to this endpoint (any when absent).
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
    /// Whether a timed-out / 5xx request was executed anyway.
    #[serde(default)]
    pub reached: bool,
}

/// Fault configuration: probabilities in parts per million per call, plus a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// -1003 on any call.
    pub rate_limit_ppm: u32,
    /// Timeouts on any call.
    pub timeout_ppm: u32,
    /// HTTP 5xx on any call.
    pub server_error_ppm: u32,
    /// -2011 on cancels.
    pub cancel_unknown_ppm: u32,
    /// Errors (5xx) on open-orders polls.
    pub poll_error_ppm: u32,
    /// Dropped user-stream events.
    pub stream_drop_ppm: u32,
    /// User-stream events delivered twice (the copy right after the original, as a reconnecting
    /// stream can resend): the engine must not act twice on one event.
    #[serde(skip_serializing_if = "is_zero")]
    pub stream_duplicate_ppm: u32,
    /// Extra delay of user-stream events (uniform 0..=ms).
    pub stream_delay_ms: i64,
    /// Windows of certain faults.
    pub scheduled: Vec<ScheduledFault>,
    /// Engine restarts (ms since epoch).
    pub restarts_ms: Vec<i64>,
    /// Faults that name the request they hit (see [`target`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targeted: Vec<target::TargetedFault>,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

impl Faults {
    #[inline]
    pub(crate) fn any_random(&self) -> bool {
        self.rate_limit_ppm
            + self.timeout_ppm
            + self.server_error_ppm
            + self.cancel_unknown_ppm
            + self.poll_error_ppm
            > 0
    }
}

/// A manual close request (`close_position_with_cleanup`) at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualClose {
    /// When.
    pub at: TimeMs,
    /// Symbol.
    pub symbol: Ident,
    /// Which position side.
    pub position_side: PositionSide,
    /// How much (default: all of it).
    #[serde(default, skip_serializing_if = "crate::engine::CloseAmount::is_whole")]
    pub amount: crate::engine::CloseAmount,
}

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Latencies.
    pub latency: Latency,
    /// Faults.
    pub faults: Faults,
    /// Skip idle polling passes (same result either way, much faster).
    pub skip_idle_polls: bool,
    /// Poll or stream (stream events are delivered only in stream mode).
    pub monitor: Monitor,
    /// A built-in reactive strategy sending signals during the run (besides `signals`).
    pub strategy: Option<strategy::Bracket>,
    /// When each signal reaches the engine, in the order of the signals (sorted); empty: each
    /// at its own timestamp. A later delivery makes a stale signal (`delivered_at`, `delay_ms`).
    pub deliveries: Vec<TimeMs>,
    /// Acts behind the engine's back (`[[external]]`), sorted by time then file order; the venue
    /// performs them (see [`external`]).
    pub external: Vec<external::ExternalAct>,
}

/// Counters of the loop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// REST calls made by the engine.
    pub calls: u64,
    /// Polling passes run.
    pub passes: u64,
    /// Polling passes skipped as provably idle.
    pub passes_skipped: u64,
    /// Faults injected.
    pub faults: u64,
    /// Stream events delivered to the engine.
    pub stream_delivered: u64,
    /// Stream events dropped.
    pub stream_dropped: u64,
}

/// Everything a run produces.
pub struct RunOutput {
    /// The event log.
    pub log: EventLog,
    /// Exchange counters.
    pub exchange: ExchangeStats,
    /// Loop counters.
    pub sim: SimStats,
    /// Wallet at the end.
    pub final_wallet: Decimal,
    /// Unrealized PnL at the end.
    pub final_unrealized: Decimal,
    /// First bar open and last bar close.
    pub span: (TimeMs, TimeMs),
}

/// The engine's view of the venue in a run: the venue session at the engine's clock.
pub struct SimClient<'a> {
    v: &'a mut Venue,
    clock: TimeMs,
    /// The venue's version as the first call of this engine step saw it.
    first_read_version: Option<u64>,
}

impl SimClient<'_> {
    fn sync_to(&mut self, t: TimeMs) {
        self.v.sync(t);
    }

    /// One REST call through the venue session; the engine's clock moves to the answer.
    fn call<T>(
        &mut self,
        ep: Endpoint,
        params: impl FnOnce() -> RequestParams,
        summary: impl Summary<T>,
        exec: impl FnOnce(&mut MockExchange) -> Result<T, ApiError>,
    ) -> Result<T, CallError> {
        self.call_on(ep, target::Subject::None, params, summary, exec)
    }

    /// As `call`, naming the order a cancel or query concerns (for targeted faults).
    fn call_on<T>(
        &mut self,
        ep: Endpoint,
        subject: target::Subject<'_>,
        params: impl FnOnce() -> RequestParams,
        summary: impl Summary<T>,
        exec: impl FnOnce(&mut MockExchange) -> Result<T, ApiError>,
    ) -> Result<T, CallError> {
        let mut m = venue::CallMeta::default();
        let result = self
            .v
            .call_into(ep, self.clock, subject, params, summary, exec, &mut m);
        self.first_read_version.get_or_insert(m.version_at_arrival);
        self.clock = m.receive;
        result
    }
}

/// An account-wide read (`symbol` empty, as PHEAD's start-up makes them) reads the venue's one
/// symbol, and its request carries no `symbol` parameter.
fn account_wide<'s>(v: &Venue, symbol: &'s str) -> std::borrow::Cow<'s, str> {
    if symbol.is_empty() {
        std::borrow::Cow::Owned(v.ex.spec.symbol.to_string())
    } else {
        std::borrow::Cow::Borrowed(symbol)
    }
}

/// The request parameters of a read of `symbol` (none when account-wide).
fn symbol_param(symbol: &str) -> String {
    if symbol.is_empty() {
        String::new()
    } else {
        format!("symbol={symbol}")
    }
}

/// The log's one-line form of this.
pub(crate) fn order_summary(o: &OrderInfo) -> String {
    let mut s = String::new();
    write_order_summary(o, &mut s);
    s
}
/// The log's one-line form of this.
pub(crate) fn algo_summary(a: &AlgoInfo) -> String {
    let mut s = String::new();
    write_algo_summary(a, &mut s);
    s
}
/// [`order_summary`] appended to `out` (a string the venue recycles: no allocation then).
fn write_order_summary(o: &OrderInfo, out: &mut String) {
    id_status(out, "orderId=", o.order_id.0, order_status_tail(o.status));
}
/// [`algo_summary`] appended to `out`.
fn write_algo_summary(a: &AlgoInfo, out: &mut String) {
    id_status(out, "algoId=", a.algo_id.0, algo_status_tail(a.algo_status));
}
/// `{id_key}{id}{tail}` appended to `out`, in at most one allocation (none when `out` has the
/// room); the key and tail are whole constants, each copied in one piece.
#[inline]
fn id_status(out: &mut String, id_key: &'static str, id: u64, tail: &'static str) {
    out.reserve(id_key.len() + 20 + tail.len());
    out.push_str(id_key);
    push_u64(out, id);
    out.push_str(tail);
}
/// `" status="` and the `{:?}` of an order status (the summaries' spelling), without the
/// formatter.
fn order_status_tail(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::New => " status=New",
        OrderStatus::PartiallyFilled => " status=PartiallyFilled",
        OrderStatus::Filled => " status=Filled",
        OrderStatus::Canceled => " status=Canceled",
        OrderStatus::Expired => " status=Expired",
        OrderStatus::Rejected => " status=Rejected",
    }
}
/// `" algoStatus="` and the `{:?}` of an algo status (the summaries' spelling), without the
/// formatter.
fn algo_status_tail(s: AlgoStatus) -> &'static str {
    match s {
        AlgoStatus::New => " algoStatus=New",
        AlgoStatus::Triggering => " algoStatus=Triggering",
        AlgoStatus::Triggered => " algoStatus=Triggered",
        AlgoStatus::Finished => " algoStatus=Finished",
        AlgoStatus::Canceled => " algoStatus=Canceled",
        AlgoStatus::Rejected => " algoStatus=Rejected",
        AlgoStatus::Expired => " algoStatus=Expired",
    }
}
/// The log's one-line form of this.
pub(crate) fn ref_str(r: &OrderRef) -> String {
    match r {
        OrderRef::Id(i) => format!("orderId={i}"),
        OrderRef::Client(c) => format!("origClientOrderId={c}"),
    }
}
/// The log's one-line form of this.
pub(crate) fn algo_ref_str(r: &AlgoRef) -> String {
    match r {
        AlgoRef::Id(i) => format!("algoId={i}"),
        AlgoRef::Client(c) => format!("clientAlgoId={c}"),
    }
}

impl Exchange for SimClient<'_> {
    fn now(&self) -> TimeMs {
        self.clock
    }
    fn sleep(&mut self, ms: i64) {
        let t = self.clock.plus(ms.max(0));
        self.sync_to(t);
        self.clock = t;
    }
    fn emit(&mut self, event: EngineEvent) {
        let t = self.clock;
        self.sync_to(t);
        self.v.push_event(t, Source::Engine, Event::Engine(event));
    }
    fn new_order(&mut self, req: &NewOrder) -> Result<OrderInfo, CallError> {
        self.call(
            Endpoint::NewOrder,
            || RequestParams::Order(req.clone()),
            WriteSummary(write_order_summary),
            |ex| ex.new_order(req),
        )
    }
    fn new_algo_order(&mut self, req: &NewAlgoOrder) -> Result<AlgoInfo, CallError> {
        self.call(
            Endpoint::NewAlgoOrder,
            || RequestParams::Algo(req.clone()),
            WriteSummary(write_algo_summary),
            |ex| ex.new_algo_order(req),
        )
    }
    fn cancel_order(&mut self, symbol: &str, id: &OrderRef) -> Result<OrderInfo, CallError> {
        self.call_on(
            Endpoint::CancelOrder,
            target::Subject::Order(id),
            || RequestParams::Other(format!("symbol={symbol}&{}", ref_str(id))),
            WriteSummary(write_order_summary),
            |ex| ex.cancel_order(symbol, id),
        )
    }
    fn cancel_algo_order(&mut self, symbol: &str, id: &AlgoRef) -> Result<AlgoInfo, CallError> {
        self.call_on(
            Endpoint::CancelAlgoOrder,
            target::Subject::Algo(id),
            || RequestParams::Other(format!("symbol={symbol}&{}", algo_ref_str(id))),
            WriteSummary(write_algo_summary),
            |ex| ex.cancel_algo_order(symbol, id),
        )
    }
    fn query_order(&mut self, symbol: &str, id: &OrderRef) -> Result<OrderInfo, CallError> {
        self.call_on(
            Endpoint::QueryOrder,
            target::Subject::Order(id),
            || RequestParams::Other(format!("symbol={symbol}&{}", ref_str(id))),
            WriteSummary(write_order_summary),
            |ex| ex.query_order(symbol, id),
        )
    }
    fn query_algo_order(&mut self, symbol: &str, id: &AlgoRef) -> Result<AlgoInfo, CallError> {
        self.call_on(
            Endpoint::QueryAlgoOrder,
            target::Subject::Algo(id),
            || RequestParams::Other(format!("symbol={symbol}&{}", algo_ref_str(id))),
            WriteSummary(write_algo_summary),
            |ex| ex.query_algo_order(symbol, id),
        )
    }
    fn open_orders(&mut self, symbol: &str) -> Result<Vec<OrderInfo>, CallError> {
        let sym = account_wide(self.v, symbol);
        self.call(
            Endpoint::OpenOrders,
            || RequestParams::Other(symbol_param(symbol)),
            |v: &Vec<OrderInfo>| format!("{} open", v.len()),
            |ex| ex.open_orders(&sym),
        )
    }
    fn open_algo_orders(&mut self, symbol: &str) -> Result<Vec<AlgoInfo>, CallError> {
        let sym = account_wide(self.v, symbol);
        self.call(
            Endpoint::OpenAlgoOrders,
            || RequestParams::Other(symbol_param(symbol)),
            |v: &Vec<AlgoInfo>| format!("{} open", v.len()),
            |ex| ex.open_algo_orders(&sym),
        )
    }
    fn open_algo_ids(&mut self, symbol: &str) -> Result<Vec<AlgoId>, CallError> {
        self.call(
            Endpoint::OpenAlgoOrders,
            || RequestParams::Other(format!("symbol={symbol}")),
            |v: &Vec<AlgoId>| format!("{} open", v.len()),
            |ex| ex.open_algo_ids(symbol),
        )
    }
    fn cancel_all_orders(&mut self, symbol: &str) -> Result<(), CallError> {
        self.call(
            Endpoint::CancelAll,
            || RequestParams::Other(format!("symbol={symbol}")),
            |_: &()| "ok".into(),
            |ex| ex.cancel_all_orders(symbol),
        )
    }
    fn cancel_all_algo_orders(&mut self, symbol: &str) -> Result<(), CallError> {
        self.call(
            Endpoint::CancelAllAlgo,
            || RequestParams::Other(format!("symbol={symbol}")),
            |_: &()| "ok".into(),
            |ex| ex.cancel_all_algo_orders(symbol),
        )
    }
    fn position_risk(&mut self, symbol: &str) -> Result<Vec<PositionInfo>, CallError> {
        let sym = account_wide(self.v, symbol);
        self.call(
            Endpoint::PositionRisk,
            || RequestParams::Other(symbol_param(symbol)),
            |v: &Vec<PositionInfo>| format!("{} rows", v.len()),
            |ex| ex.position_risk(&sym),
        )
    }
    /// The same request, answer and checks as `position_risk`; the rows' sizes are read straight
    /// from the venue's positions, whole steps (`MockExchange::position_amt`, the rows'
    /// `positionAmt`, is `qty_of` of the count): the side a count goes on is chosen on the
    /// integer, not by comparing and adding Decimals (`PositionSizes::one_way_steps`).
    fn position_sizes(&mut self, symbol: &str) -> Result<PositionSizes, CallError> {
        let sym = account_wide(self.v, symbol);
        self.call(
            Endpoint::PositionRisk,
            || RequestParams::Other(symbol_param(symbol)),
            |s: &PositionSizes| format!("{} rows", s.rows),
            |ex| {
                if ex.spec.symbol != *sym {
                    // the rejection as positionRisk makes it (and counts it)
                    return ex
                        .position_risk(&sym)
                        .map(|rows| PositionSizes::from_rows(&rows));
                }
                let steps = |ps| ex.pos[crate::exchange::ps_idx(ps)].amt;
                let qty = |n| ex.qty_of(n);
                Ok(match ex.cfg.position_mode {
                    PositionMode::OneWay => PositionSizes::one_way_steps(
                        steps(PositionSide::Both),
                        ex.spec.step_size,
                        qty,
                    ),
                    PositionMode::Hedge => PositionSizes::hedge_steps(
                        steps(PositionSide::Long),
                        steps(PositionSide::Short),
                        qty,
                    ),
                })
            },
        )
    }
    fn ticker_price(&mut self, symbol: &str) -> Result<Decimal, CallError> {
        self.call(
            Endpoint::TickerPrice,
            || RequestParams::Other(format!("symbol={symbol}")),
            |p: &Decimal| p.to_string(),
            |ex| ex.ticker_price(symbol),
        )
    }
    /// The venue's positions at the engine's clock: the store is taken as current to the last
    /// `ACCOUNT_UPDATE` (the frames' own delay, a few ms, is not modelled).
    fn stream_positions(&mut self, symbol: &str) -> Option<Vec<(PositionSide, Decimal)>> {
        let t = self.clock;
        self.sync_to(t);
        if symbol != self.v.ex.spec.symbol {
            return Some(Vec::new());
        }
        Some(
            [PositionSide::Both, PositionSide::Long, PositionSide::Short]
                .into_iter()
                .map(|ps| (ps, self.v.ex.position_amt(ps)))
                .filter(|(_, a)| !a.is_zero())
                .collect(),
        )
    }
}

/// Of `count` alike passes, the i-th from `s1 + i × period` to that plus `d`, how many are
/// under way at a check: a bar open `t` with `start < t <= end`, for the bars from `*k` on (the
/// checks still ahead). The pass-by-pass look-ahead's answer ([`passes_at_checks_by_pass`]),
/// bar by bar instead of pass by pass: with `d < period` (a pass interval of at least 1 ms) a
/// bar open lies in at most one pass, the last one starting before it. Moves `*k` past the bars
/// opening at or before the last pass's start, as that walk leaves it. Inline: out of line
/// (where the run loop's growth left it) the loop was no cheaper and the call was extra.
#[inline(always)]
fn passes_at_checks(
    bars: &[crate::exchange::BarTicks],
    k: &mut usize,
    s1: i64,
    period: i64,
    d: i64,
    count: i64,
) -> u64 {
    if d >= period || d < 0 || count < 1 {
        return passes_at_checks_by_pass(bars, k, s1, period, d, count);
    }
    let s_last = s1 + (count - 1) * period;
    let mut j = *k;
    while bars.get(j).is_some_and(|b| b.t <= s1) {
        j += 1;
    }
    // (over the slice, without the index's bounds checks: about ten bars a call, a hundred
    // thousand a quarter)
    let (end, end_d) = (s_last, s_last + d);
    let mut cursor = j;
    let mut n = 0;
    let mut last = -1;
    for b in bars.get(j..).unwrap_or_default() {
        if b.t > end_d {
            break;
        }
        // the opens are sorted: those at or before the last pass's start come first
        cursor += usize::from(b.t <= end);
        // the last pass starting before the open: s1 + i × period < t, i.e. i = x / period;
        // the open is under way in it when t <= s1 + i × period + d, i.e. x % period < d
        let x = b.t - 1 - s1;
        let i = x / period;
        if i != last && x - i * period < d {
            n += 1;
            last = i;
        }
    }
    *k = cursor;
    n
}

/// [`passes_at_checks`] pass by pass, as the look-ahead counts a single pass.
fn passes_at_checks_by_pass(
    bars: &[crate::exchange::BarTicks],
    k: &mut usize,
    s1: i64,
    period: i64,
    d: i64,
    count: i64,
) -> u64 {
    let mut n = 0;
    for i in 0..count {
        let start = s1 + i * period;
        while bars.get(*k).is_some_and(|b| b.t <= start) {
            *k += 1;
        }
        if bars.get(*k).is_some_and(|b| b.t <= start + d) {
            n += 1;
        }
    }
    n
}

/// A run-loop switch: the constant `$on` outside tests, a thread-local a test can flip to
/// compare a shortcut with the loop it replaces.
macro_rules! test_switch {
    ($(#[$m:meta])* $f:ident, $cell:ident, $on:expr) => {
        $(#[$m])*
        #[cfg(not(test))]
        #[inline(always)]
        fn $f() -> bool {
            $on
        }

        #[cfg(test)]
        thread_local! {
            static $cell: std::cell::Cell<bool> = const { std::cell::Cell::new($on) };
        }

        #[cfg(test)]
        fn $f() -> bool {
            $cell.with(|c| c.get())
        }
    };
}

test_switch!(
    /// True when every delivery notes every event due again (the loop as it was before
    /// receipts were noted once): always false outside tests.
    note_every_delivery,
    NOTE_EVERY_DELIVERY,
    false
);

test_switch!(
    /// True when passes in a reachable bar's quiet stretch are counted in closed form (always
    /// outside tests; a test turns it off, to compare with the pass-by-pass loop).
    closed_form_in_reach,
    CLOSED_FORM_IN_REACH,
    true
);

#[cfg(test)]
thread_local! {
    /// Passes the closed form counted (tests: so a comparison cannot pass vacuously).
    static CLOSED_FORM_PASSES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// What the engine is asked to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Item {
    Stream,
    Restart,
    Manual,
    Signal,
    Strategy,
    Timer,
}

/// Runs `engine` against `ex` with the given signals, manual closes and settings, to the end
/// of the data. A pure function of its inputs.
pub fn run(
    ex: MockExchange,
    engine: Engine,
    signals: &[Signal],
    manual: &[ManualClose],
    cfg: &SimConfig,
) -> RunOutput {
    run_with_progress(ex, engine, signals, manual, cfg, &mut |_| {})
}

/// As [`run`], telling `progress` how far simulated time has got, in thousandths of the data's
/// span (about 200 calls per run). The callback learns only that number and cannot change the run.
pub fn run_with_progress(
    ex: MockExchange,
    engine: Engine,
    signals: &[Signal],
    manual: &[ManualClose],
    cfg: &SimConfig,
    progress: &mut dyn FnMut(u32),
) -> RunOutput {
    run_inner(ex, engine, signals, manual, cfg, progress, false, None).0
}

/// As [`run_with_progress`], appending to `log` (e.g. [`EventLog::streaming`], or a log whose
/// [`Observer`] checks invariants and collects reports as the run goes). The records are the
/// same; the returned output's log is `log`, its observer still attached.
pub fn run_into(
    ex: MockExchange,
    engine: Engine,
    signals: &[Signal],
    manual: &[ManualClose],
    cfg: &SimConfig,
    progress: &mut dyn FnMut(u32),
    log: EventLog,
) -> RunOutput {
    run_inner(ex, engine, signals, manual, cfg, progress, false, Some(log)).0
}

/// As [`run`], also returning every call the engine made, reads included, in order (for a
/// call-for-call replay over the wire). Idle polls are never skipped here, so the trace is whole;
/// the log is the same either way.
pub fn run_traced(
    ex: MockExchange,
    engine: Engine,
    signals: &[Signal],
    manual: &[ManualClose],
    cfg: &SimConfig,
) -> (RunOutput, Vec<TracedCall>) {
    let mut cfg = cfg.clone();
    cfg.skip_idle_polls = false;
    let (out, trace) = run_inner(ex, engine, signals, manual, &cfg, &mut |_| {}, true, None);
    (out, trace.unwrap_or_default())
}

#[allow(clippy::too_many_arguments)]
fn run_inner(
    ex: MockExchange,
    mut engine: Engine,
    signals: &[Signal],
    manual: &[ManualClose],
    cfg: &SimConfig,
    progress: &mut dyn FnMut(u32),
    trace: bool,
    log: Option<EventLog>,
) -> (RunOutput, Option<Vec<TracedCall>>) {
    // room for the equity samples and a few events per signal, so the log rarely grows by copying
    let cap = ex.expected_samples() + 64 + 16 * signals.len();
    let mut log = log.unwrap_or_default();
    log.reserve(cap);
    let mut v = Venue::with_log(ex, cfg.clone(), log);
    if trace {
        v.trace = Some(Vec::new());
    }
    let mut clock = v.ex.time();
    let span = v.ex.span();
    let end = span.1;
    let progress_step = ((span.1 .0 - span.0 .0) / 200).max(1);
    let mut next_progress = span.0;
    let (mut si, mut mi, mut ri) = (0usize, 0usize, 0usize);
    let restarts: Vec<i64> = {
        let mut r = cfg.faults.restarts_ms.clone();
        r.sort_unstable();
        r
    };
    let mut version_after_pass: Option<u64> = None;
    // when signal i reaches the engine
    let deliver = |i: usize| -> Option<TimeMs> {
        cfg.deliveries
            .get(i)
            .copied()
            .or_else(|| signals.get(i).map(|s| s.timestamp))
            .filter(|_| i < signals.len())
    };
    // a targeted fault on a read must see every read, so no pass is skipped then
    let skip_idle = cfg.skip_idle_polls && !v.targets.hits_reads();
    // a pass starts at least 1 ms after the previous one, so a zero interval with zero latency
    // still makes progress
    let mut last_timer = TimeMs(i64::MIN / 2);
    let mut strat = cfg.strategy.clone().map(strategy::BracketRun::new);
    if engine.wants_start() {
        // the engine's own start-up step (PHEAD `Dispatcher.initialize()`), before anything else
        v.sync(clock);
        let mut client = SimClient {
            v: &mut v,
            clock,
            first_read_version: None,
        };
        engine.on_start(&mut client);
        clock = client.clock;
    }
    loop {
        if clock >= next_progress {
            let done = (clock.0 - span.0 .0).clamp(0, span.1 .0 - span.0 .0);
            progress((done as i128 * 1000 / i128::from((span.1 .0 - span.0 .0).max(1))) as u32);
            next_progress = clock.plus(progress_step);
        }
        // candidates, each at max(its time, the engine's clock)
        let mut best: Option<(TimeMs, Item)> = None;
        let mut consider = |t: Option<TimeMs>, it: Item| {
            if let Some(t) = t {
                let t = t.max(clock);
                if best.is_none_or(|(bt, bi)| (t, it) < (bt, bi)) {
                    best = Some((t, it));
                }
            }
        };
        consider(v.feed.queue.front().map(|q| q.0), Item::Stream);
        consider(restarts.get(ri).map(|&t| TimeMs(t)), Item::Restart);
        consider(manual.get(mi).map(|m| m.at), Item::Manual);
        consider(deliver(si), Item::Signal);
        consider(
            strat.as_ref().and_then(|s| s.next_check(&v.ex)),
            Item::Strategy,
        );
        consider(engine.next_timer(), Item::Timer);
        let Some((t, item)) = best else {
            v.sync(end);
            if v.feed.queue.is_empty() {
                break;
            }
            continue;
        };
        if t > end {
            // the engine's next action lies past the data (even if stream events are still
            // queued, the engine is busy until after the end): walk the venue to the end, stop
            v.sync(end);
            break;
        }
        // a strategy check that provably finds the venue in a position (unchanged since the last
        // check, nothing reachable before `t`, no act behind the engine's back due) only counts
        // bars: the venue is walked by whatever comes next, to the same records
        if item == Item::Strategy && v.next_external().is_none_or(|x| x > t) {
            if let Some(s) = strat.as_mut().filter(|s| s.in_position_until(&v.ex, t)) {
                s.count_bars(&v.ex, t);
                clock = t;
                continue;
            }
        }
        // idle-poll skipping: a read-only pass over an unchanged venue, none of whose calls can
        // meet a fault or arrive after the next possible change, is accounted and skipped.
        // (the venue's version first: the cheaper of the two pure checks)
        if item == Item::Timer
            && skip_idle
            && version_after_pass == Some(v.ex.version())
            && engine.poll_pass_is_readonly()
        {
            let strat_bound = strat.as_ref().and_then(|s| s.next_possible_entry(&v.ex));
            // Checks passed over that way: a walk that stops at each one runs a pass under way
            // at a check (start < check <= end) instead of skipping it, so such a pass is
            // counted as run. The bar whose open is the next such check:
            let mut check_bar = strat
                .as_ref()
                .filter(|s| strat_bound != s.next_check(&v.ex))
                .map(|s| s.next_check_bar());
            let next_other = [
                v.feed.queue.front().map(|q| q.0),
                restarts.get(ri).map(|&t| TimeMs(t)),
                manual.get(mi).map(|m| m.at),
                deliver(si),
                // checks that provably find the venue in a position send nothing
                strat_bound,
                // an act behind the engine's back changes what a pass would see
                v.next_external(),
            ]
            // (a fold: the flattening iterator's min cost about a hundred instructions)
            .into_iter()
            .fold(end, |m, x| x.map_or(m, |x| m.min(x)));
            // the walk must stand at the pass start to look ahead from there
            if v.sync_until(t) {
                continue;
            }
            if version_after_pass == Some(v.ex.version()) && v.feed.queue.is_empty() {
                // the pass's calls: the engine's state only (the walk above leaves it as it was)
                let n = engine.pass_calls() as u64;
                // Two bounds on the venue's next change. `change` (whole bars) decides, as it
                // always has, which passes count as skipped: a pass before it is skipped, the
                // first pass of a look-ahead that reaches it is run. `exact` (the intrabar path,
                // never earlier) decides which passes need not run at all: a pass that would be
                // run but whose reads all arrive before `exact` reads what the previous pass
                // read and changes nothing, so it is counted as run without running it.
                let (mut change, exact) = v.ex.next_change_bounds(next_other);
                let uniform = cfg.latency.jitter_ms <= 0
                    && !cfg.faults.any_random()
                    && cfg.faults.scheduled.is_empty();
                let rt = cfg.latency.request_ms + cfg.latency.response_ms;
                let mut skipped = false;
                let mut at = t;
                // whether the next pass is the first of a look-ahead (the loop's next timer
                // item, which computes `change` afresh from where the walk stands then)
                let mut first = true;
                let mut stale = false;
                while let Some(nt) = engine.next_timer() {
                    let start = nt.max(at).max(last_timer.plus(1));
                    if start >= exact || start >= next_other {
                        break;
                    }
                    if stale {
                        // Passes in a bar whose range reaches a bound but whose path cannot
                        // fire yet: each would walk to its start, find the whole-bar bound
                        // (`change`) at the cursor, so be counted as run, and leave `stale`
                        // set. With no jitter and no faults all such passes are alike (the
                        // engine's next pass = end + interval): counted in one step, up to
                        // the first that could start at or past the bar's quiet stretch
                        // (`reachable_bar_quiet_until`), `exact` or `next_other`, the venue
                        // left where it stands (the next walk moves it in one step, to the
                        // same place).
                        if uniform && rt >= 0 && closed_form_in_reach() {
                            if let Some(q) = v.ex.reachable_bar_quiet_until() {
                                let d = n as i64 * rt;
                                let iv = nt.0 - at.0;
                                let mut limit =
                                    (q.0 - 1).min(exact.0 - 1).min(next_other.0 - 1 - d);
                                if n > 0 {
                                    limit = limit.min(exact.0 - 1 - (d - cfg.latency.response_ms));
                                }
                                // the cursor not past the first start: `change` would be later
                                if iv >= 1 && start.0 <= limit && v.ex.time() <= start {
                                    let period = d + iv;
                                    let count = (limit - start.0) / period + 1;
                                    let s_last = start.plus((count - 1) * period);
                                    engine.skip_pass(s_last.plus(d));
                                    v.call_no += n * count as u64;
                                    v.feed.stats.calls += n * count as u64;
                                    v.feed.stats.passes += count as u64;
                                    last_timer = s_last;
                                    at = s_last.plus(d);
                                    skipped = true;
                                    #[cfg(test)]
                                    CLOSED_FORM_PASSES.with(|c| c.set(c.get() + count as u64));
                                    continue;
                                }
                            }
                        }
                        // the timer item after a pass run or a look-ahead that stopped: the
                        // walk stands at its time and looks ahead from there
                        v.sync(nt.max(at));
                        change = v.ex.next_change_time(next_other);
                        (stale, first) = (false, true);
                    }
                    // replay the pass's calls' timing and fault draws without running them
                    let mut tc = start;
                    let mut idx = v.call_no;
                    let mut ok = true;
                    let mut before_change = start < change;
                    if uniform && rt >= 0 {
                        // no jitter, no fault: every call takes `rt` and the arrivals only grow,
                        // so the last one alone decides both bounds (the loop below, in closed form)
                        if n > 0 {
                            let last = start.plus((n as i64 - 1) * rt + cfg.latency.request_ms);
                            ok = last < exact;
                            before_change &= last < change;
                            tc = start.plus(n as i64 * rt);
                            idx += n;
                        }
                    } else {
                        for _ in 0..n {
                            let arrival =
                                tc.plus(cfg.latency.request_ms + call_jitter(cfg, idx, 0));
                            if arrival >= exact
                                || call_fault(cfg, idx, Endpoint::OpenOrders, arrival).is_some()
                            {
                                ok = false;
                                break;
                            }
                            before_change &= arrival < change;
                            tc = arrival.plus(cfg.latency.response_ms + call_jitter(cfg, idx, 1));
                            idx += 1;
                        }
                    }
                    if !ok || tc >= next_other {
                        break;
                    }
                    if !before_change && !first {
                        // the look-ahead stops before this pass; the next one starts here
                        stale = true;
                        continue;
                    }
                    // a pass reaching `change` (the first of its look-ahead) is run, as is one
                    // under way at a check: counted as run with the same calls and the same
                    // (unchanged) answers; any other is skipped
                    let counted_as_run = !before_change || {
                        let mut at_check = false;
                        if let Some(k) = check_bar.as_mut() {
                            while v.ex.bars.get(*k).is_some_and(|b| b.t <= start.0) {
                                *k += 1;
                            }
                            at_check = v.ex.bars.get(*k).is_some_and(|b| b.t <= tc.0);
                        }
                        at_check
                    };
                    engine.skip_pass(tc);
                    v.call_no = idx;
                    v.feed.stats.calls += n;
                    if counted_as_run {
                        v.feed.stats.passes += 1;
                    } else {
                        v.feed.stats.passes_skipped += 1;
                    }
                    last_timer = start;
                    at = tc;
                    skipped = true;
                    if !before_change {
                        stale = true;
                        continue;
                    }
                    first = false;
                    // With no jitter and no faults every pass is alike: jump over all the whole
                    // passes that still fit before the next possible change in one step (the
                    // engine's skip is stateless: next pass = end + interval).
                    if uniform {
                        let Some(nt2) = engine.next_timer() else {
                            break;
                        };
                        let d = n as i64 * rt;
                        let period = (nt2.0 - at.0) + d;
                        let s1 = nt2.max(at).max(last_timer.plus(1));
                        let mut limit = (change.0 - 1).min(next_other.0 - 1 - d);
                        if n > 0 {
                            limit = limit.min(change.0 - 1 - (d - cfg.latency.response_ms));
                        }
                        if period >= 1 && s1.0 <= limit {
                            let count = (limit - s1.0) / period + 1;
                            let s_last = s1.plus((count - 1) * period);
                            // Whole bars: the jump runs over the checks passed over too; the
                            // passes of it under way at one are counted as run, as the
                            // pass-by-pass path above counts them (it stopped at each check).
                            // (a match: as `map_or` the call was left out of line)
                            let at_checks = match check_bar.as_mut() {
                                Some(k) => passes_at_checks(&v.ex.bars, k, s1.0, period, d, count),
                                None => 0,
                            };
                            engine.skip_pass(s_last.plus(d));
                            v.call_no += n * count as u64;
                            v.feed.stats.calls += n * count as u64;
                            v.feed.stats.passes_skipped += count as u64 - at_checks;
                            v.feed.stats.passes += at_checks;
                            last_timer = s_last;
                            at = s_last.plus(d);
                        }
                    }
                }
                if skipped {
                    // as after a real pass, the venue is walked to the end of the last one (its
                    // answer's arrival), so events in between reach the stream queue on time
                    v.sync(at);
                    clock = clock.max(at);
                    continue;
                }
            }
        }
        if item != Item::Stream && v.sync_until(t) {
            // a stream event is due first: pick again
            continue;
        }
        let t = if item == Item::Timer {
            t.max(last_timer.plus(1))
        } else {
            t
        };
        if item == Item::Timer {
            last_timer = t;
        }
        v.sync(t);
        let mut client = SimClient {
            v: &mut v,
            clock: t,
            first_read_version: None,
        };
        match item {
            Item::Stream => {
                // The events at the queue's front that were noted since the engine last did
                // something a note reads: noting them again would change nothing (a note only
                // adds a leg's end, once, for a leg of a pair the engine tracks), so each is
                // noted once until then instead of at every delivery. Only while new events
                // join the queue at its back (`queue_cuts` unchanged: delivery order is arrival
                // order, as it always is without a stream delay).
                let front_stays = !note_every_delivery();
                let mut noted = 0;
                // deliver every event due now, in order
                loop {
                    let now = client.clock;
                    let q = &client.v.feed.queue;
                    if q.front().is_none_or(|f| f.0 > now) {
                        break;
                    }
                    // everything already on the socket is readable before the first is acted
                    // on (by index: the queue's range iterator cost more to set up than the
                    // one or two events it usually yields)
                    let mut due = noted;
                    let mut i = noted.min(q.len());
                    while let Some((at, ev)) = q.get(i) {
                        if *at > now {
                            break;
                        }
                        engine.on_stream_received(ev);
                        due += 1;
                        i += 1;
                    }
                    // the front is due (checked above; noting reads the queue, never changes it)
                    let Some(ev) = client.v.pop_stream_front() else {
                        break;
                    };
                    // (asked only when other events were noted with it: else there is no
                    // note to spare)
                    let keep = due > 1 && front_stays && engine.stream_noted_is_inert(&ev);
                    let cuts = client.v.feed.queue_cuts;
                    // tests check the claim at every delivery: an event called inert leaves
                    // what a note reads as it was
                    #[cfg(test)]
                    let seen = engine
                        .stream_noted_is_inert(&ev)
                        .then(|| engine.note_inputs());
                    // noted with the events due just above: acted on, not noted again
                    engine.on_stream_noted(&ev, &mut client);
                    #[cfg(test)]
                    if let Some(seen) = seen {
                        assert_eq!(seen, engine.note_inputs(), "inert: {ev:?}");
                    }
                    client.v.recycle_stream(ev);
                    noted = if keep && client.v.feed.queue_cuts == cuts {
                        due - 1
                    } else {
                        0
                    };
                }
            }
            Item::Restart => {
                ri += 1;
                client.emit(EngineEvent::Restart);
                engine.on_restart(&mut client);
                version_after_pass = None;
            }
            Item::Manual => {
                let m = &manual[mi];
                mi += 1;
                engine.on_manual_close_part(&m.symbol, m.position_side, m.amount, &mut client);
            }
            Item::Signal => {
                let s = &signals[si];
                si += 1;
                engine.on_signal(s, &mut client);
            }
            Item::Strategy => {
                let now = client.clock;
                match strat.as_mut().and_then(|s| s.check(&client.v.ex, now)) {
                    Some(sig) => engine.on_signal(&sig, &mut client),
                    // a look that sent nothing changed nothing
                    None => {
                        clock = client.clock;
                        continue;
                    }
                }
            }
            Item::Timer => {
                client.v.feed.stats.passes += 1;
                let at_start = client.v.ex.version();
                engine.on_timer(&mut client);
                // what the pass saw: the venue as its first read found it (a change after that
                // read, even during the pass, must make the next pass run)
                let seen = client.first_read_version.unwrap_or(at_start);
                version_after_pass = (seen == client.v.ex.version()).then_some(seen);
            }
        }
        clock = client.clock;
        if item != Item::Timer {
            // anything the engine did may change what a pass would see
            version_after_pass = None;
        }
    }
    // the log ends with the books as they stand at the end, so reports need nothing else
    let tr = v.trace.take();
    (v.finish(end), tr)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random walk of `n` one-minute bars from 60,000 in `spec`'s ticks (bodies up to 200
    /// ticks, wicks up to 300), for the tests that run whole scenarios twice.
    fn walk_bars(
        spec: &crate::exchange::SymbolSpec,
        n: i64,
        rnd: &mut impl FnMut(i64) -> i64,
    ) -> Vec<crate::exchange::BarTicks> {
        let mut p = spec.price_to_ticks("60000".parse().unwrap()).unwrap();
        (0..n)
            .map(|i| {
                let o = p + rnd(41) - 20;
                let c = o + rnd(401) - 200;
                let h = o.max(c) + rnd(300);
                let l = o.min(c) - rnd(300);
                p = c;
                crate::exchange::BarTicks {
                    t: 1_704_067_200_000 + i * 60_000,
                    o,
                    h,
                    l,
                    c,
                }
            })
            .collect()
    }

    /// A bracket always in the market with legs 5..5+reach ticks away (near legs too: both can
    /// fire in one bar), a random side and re-entry delay.
    fn random_bracket(reach: i64, rnd: &mut impl FnMut(i64) -> i64) -> strategy::Bracket {
        strategy::Bracket {
            side: [
                strategy::BracketSide::Long,
                strategy::BracketSide::Short,
                strategy::BracketSide::Alternate,
            ][rnd(3) as usize],
            quantity: Decimal::new(1, 2),
            sl: strategy::Distance::Ticks(5 + rnd(reach)),
            tp: strategy::Distance::Ticks(5 + rnd(reach)),
            reenter_after_bars: rnd(3) as u32,
            strategy_id: "bracket".into(),
            confidence: Decimal::ONE,
        }
    }

    /// The exchange of a whole-run test: `cfg` in position mode `mode` over `bars` of `spec`,
    /// one-minute bars.
    fn minute_exchange(
        mode: PositionMode,
        cfg: crate::exchange::ExchangeConfig,
        spec: &crate::exchange::SymbolSpec,
        bars: &[crate::exchange::BarTicks],
    ) -> MockExchange {
        let cfg = crate::exchange::ExchangeConfig {
            position_mode: mode,
            ..cfg
        };
        MockExchange::new(cfg, spec.clone(), bars.to_vec(), 60_000)
    }

    /// The whole-run tests' case `case`: the profiles in turn, hedge and one-way mode by turns
    /// of four cases.
    fn profile_and_mode(case: usize) -> (&'static str, PositionMode) {
        let profile = crate::engine::PROFILES[case % crate::engine::PROFILES.len()];
        let mode = if (case / 4) % 2 == 0 {
            PositionMode::Hedge
        } else {
            PositionMode::OneWay
        };
        (profile, mode)
    }

    /// `profile`'s engine made to react to the user stream too (every profile, whatever it
    /// supports), polling every `poll_interval_ms`, its stream re-sync period `resync` if given.
    fn stream_engine(
        profile: &str,
        spec: &crate::exchange::SymbolSpec,
        monitor: Monitor,
        poll_interval_ms: i64,
        resync: Option<i64>,
    ) -> Engine {
        use crate::engine::{EngineConfig, EntryRules, Switches};
        let mut sw = Switches::profile(profile).unwrap();
        sw.stream_monitor_supported = true;
        if let Some(r) = resync {
            sw.stream_resync_ms = r;
        }
        Engine::new(
            sw,
            EngineConfig {
                spec: spec.clone(),
                monitor,
                poll_interval_ms,
                error_backoff_ms: 5_000,
                entries: EntryRules::of_profile(profile),
                portfolio_value: Decimal::from(10_000),
            },
        )
    }

    /// Two runs of one scenario must agree record for record and on every counter; returns how
    /// many records they had.
    fn assert_same_runs(a: &RunOutput, b: &RunOutput, what: &str) -> usize {
        assert_eq!(a.sim, b.sim, "{what}");
        assert_eq!(a.log.len(), b.log.len(), "{what}");
        for (x, y) in a.log.records().iter().zip(b.log.records()) {
            assert_eq!(x, y, "{what}");
        }
        a.log.len()
    }

    #[test]
    fn passes_at_checks_bar_by_bar_is_pass_by_pass() {
        // random bar opens (gaps, now and then two at one time), random alike passes over them
        // (short and long passes, passes longer than a bar, zero-length ones), random cursors
        let mut rnd = crate::types::xorshift_below_i64(0x9E37_79B9_7F4A_7C15);
        let mut hits = 0;
        for case in 0..20_000 {
            let step = [1, 7, 60, 1_000, 60_000][rnd(5) as usize];
            let mut t = rnd(1_000);
            let bars: Vec<crate::exchange::BarTicks> = (0..rnd(60))
                .map(|_| {
                    t += [0, step, step, step * (1 + rnd(4))][rnd(4) as usize];
                    crate::exchange::BarTicks {
                        t,
                        o: 1,
                        h: 1,
                        l: 1,
                        c: 1,
                    }
                })
                .collect();
            let d = [0, 1, rnd(60), rnd(step * 2 + 1), rnd(5_000)][rnd(5) as usize];
            let period = d + 1 + [0, rnd(10), rnd(step * 3 + 1), rnd(20_000)][rnd(4) as usize];
            let period = if case % 50 == 0 { d.max(1) } else { period };
            let s1 = rnd(t.max(1) + 2);
            let count = 1 + rnd(1 + (t - s1).max(0) / period + 2);
            let k0 = rnd(bars.len() as i64 + 1) as usize;
            let (mut ka, mut kb) = (k0, k0);
            let a = passes_at_checks(&bars, &mut ka, s1, period, d, count);
            let b = passes_at_checks_by_pass(&bars, &mut kb, s1, period, d, count);
            assert_eq!(
                (a, ka),
                (b, kb),
                "case {case}: {s1} {period} {d} {count} {k0}"
            );
            hits += a;
        }
        assert!(hits > 1_000, "{hits}");
    }

    #[test]
    fn receipts_noted_once_give_the_runs_of_noting_at_every_delivery() {
        // Whole runs in stream mode, each twice: receipts noted once until the engine acts on
        // what a note reads, and noted again at every delivery (the loop before). Random bars
        // (legs fire, several per bar now and then), every profile, both position modes, a
        // bracket always in the market, and random stream drops and duplicates, call faults and
        // restarts; the logs and counters must be the same, record for record.
        use crate::exchange::{ExchangeConfig, SymbolSpec};
        let mut rnd = crate::types::xorshift_below_i64(0xD1B5_4A32_D192_ED03);
        const MIN: i64 = 60_000;
        const T0: i64 = 1_704_067_200_000;
        let spec = SymbolSpec::builtin("BTCUSDT").unwrap();
        let mut records = 0;
        for case in 0..160 {
            let (profile, mode) = profile_and_mode(case);
            let n = 240;
            let bars = walk_bars(&spec, n, &mut rnd);
            let faults = Faults {
                stream_drop_ppm: [0, 0, 50_000][rnd(3) as usize] as u32,
                stream_duplicate_ppm: [0, 100_000, 300_000][rnd(3) as usize] as u32,
                timeout_ppm: [0, 0, 20_000, 60_000][rnd(4) as usize] as u32,
                server_error_ppm: [0, 0, 30_000][rnd(3) as usize] as u32,
                cancel_unknown_ppm: [0, 50_000, 200_000][rnd(3) as usize] as u32,
                // now and then a stream delay (events then join the queue ahead of others)
                stream_delay_ms: [0, 0, 0, 80, 2_000][rnd(5) as usize],
                restarts_ms: if rnd(4) == 0 {
                    vec![T0 + rnd(n * MIN)]
                } else {
                    Vec::new()
                },
                ..Faults::default()
            };
            let reach = [40, 300][rnd(2) as usize];
            let strategy = random_bracket(reach, &mut rnd);
            let cfg = SimConfig {
                seed: case as u64,
                latency: Latency::default(),
                faults,
                skip_idle_polls: true,
                monitor: Monitor::Stream,
                strategy: Some(strategy),
                deliveries: Vec::new(),
                external: Vec::new(),
            };
            let run_once = |every: bool| {
                NOTE_EVERY_DELIVERY.with(|c| c.set(every));
                let ex = minute_exchange(mode, ExchangeConfig::default(), &spec, &bars);
                let engine = stream_engine(profile, &spec, Monitor::Stream, 2_000, None);
                let out = run(ex, engine, &[], &[], &cfg);
                NOTE_EVERY_DELIVERY.with(|c| c.set(false));
                out
            };
            let (a, b) = (run_once(false), run_once(true));
            records += assert_same_runs(&a, &b, &format!("case {case} ({profile})"));
        }
        assert!(records > 10_000, "{records}");
    }

    #[test]
    fn passes_in_reach_counted_in_closed_form_are_the_passes_run_one_by_one() {
        // Whole runs, each twice: passes inside a bar that can reach a bound but not yet
        // counted in closed form, and pass by pass (a walk and a whole-bar bound each). Random
        // bars (legs near and far, so bars reach a bound early, late or after the extreme),
        // every intrabar policy but refine, both monitors, random latencies and pass intervals
        // (zero-call passes too), now and then jitter or faults (never counted in closed form);
        // the logs and counters (passes, passes_skipped, calls) must be the same.
        use crate::exchange::{ExchangeConfig, IntrabarPolicy, SymbolSpec};
        let mut rnd = crate::types::xorshift_below_i64(0x2545_F491_4F6C_DD1D);
        let spec = SymbolSpec::builtin("BTCUSDT").unwrap();
        let mut records = 0;
        CLOSED_FORM_PASSES.with(|c| c.set(0));
        for case in 0..160 {
            let (profile, mode) = profile_and_mode(case);
            let monitor = if rnd(3) == 0 {
                Monitor::Poll
            } else {
                Monitor::Stream
            };
            let intrabar = [
                IntrabarPolicy::Ohlc,
                IntrabarPolicy::Pessimistic,
                IntrabarPolicy::Optimistic,
            ][rnd(3) as usize];
            let n = 240;
            let bars = walk_bars(&spec, n, &mut rnd);
            let noisy = rnd(5) == 0;
            let faults = if noisy && rnd(2) == 0 {
                Faults {
                    timeout_ppm: 20_000,
                    server_error_ppm: 30_000,
                    ..Faults::default()
                }
            } else {
                Faults::default()
            };
            let latency = Latency {
                request_ms: [0, 1, 25, rnd(400)][rnd(4) as usize],
                response_ms: [0, 1, 25, rnd(400)][rnd(4) as usize],
                jitter_ms: if noisy && rnd(2) == 0 { 30 } else { 0 },
                stream_ms: [0, 50, rnd(3_000)][rnd(3) as usize],
                ..Latency::default()
            };
            let reach = [40, 300, 1_000][rnd(3) as usize];
            let strategy = random_bracket(reach, &mut rnd);
            let cfg = SimConfig {
                seed: case as u64,
                latency,
                faults,
                skip_idle_polls: true,
                monitor,
                strategy: Some(strategy),
                deliveries: Vec::new(),
                external: Vec::new(),
            };
            let poll_interval_ms = [1, 250, 1_000, 2_000, 7_000, rnd(20_000)][rnd(6) as usize];
            let resync = [1, 500, 2_000, rnd(10_000)][rnd(4) as usize];
            let run_once = |closed: bool| {
                CLOSED_FORM_IN_REACH.with(|c| c.set(closed));
                let ex = minute_exchange(
                    mode,
                    ExchangeConfig {
                        intrabar,
                        ..ExchangeConfig::default()
                    },
                    &spec,
                    &bars,
                );
                let engine = stream_engine(profile, &spec, monitor, poll_interval_ms, Some(resync));
                let out = run(ex, engine, &[], &[], &cfg);
                CLOSED_FORM_IN_REACH.with(|c| c.set(true));
                out
            };
            let (a, b) = (run_once(true), run_once(false));
            records += assert_same_runs(&a, &b, &format!("case {case} ({profile})"));
        }
        assert!(records > 10_000, "{records}");
        let closed = CLOSED_FORM_PASSES.with(|c| c.get());
        assert!(closed > 10_000, "{closed}");
    }

    #[test]
    fn status_tails_are_the_debug_spelling() {
        use AlgoStatus as A;
        use OrderStatus as O;
        for s in [
            O::New,
            O::PartiallyFilled,
            O::Filled,
            O::Canceled,
            O::Expired,
            O::Rejected,
        ] {
            assert_eq!(order_status_tail(s), format!(" status={s:?}"));
        }
        for s in [
            A::New,
            A::Triggering,
            A::Triggered,
            A::Finished,
            A::Canceled,
            A::Rejected,
            A::Expired,
        ] {
            assert_eq!(algo_status_tail(s), format!(" algoStatus={s:?}"));
        }
    }

    #[test]
    fn summaries_written_into_recycled_strings_are_the_formatted_ones() {
        // random ids (small, large, u64::MAX) and statuses, written into strings that held other
        // text (as the venue hands them over: emptied) and into new ones
        let mut rnd = crate::types::xorshift_below_i64(0x6A09_E667_F3BC_C909);
        let mut spare = String::new();
        for case in 0..20_000 {
            let id = match rnd(4) {
                0 => rnd(10) as u64,
                1 => rnd(i64::MAX) as u64,
                2 => u64::MAX - rnd(3) as u64,
                _ => rnd(1_000_000_000) as u64,
            };
            let statuses = crate::events::json::ALL_ORDER_STATUSES;
            let os = statuses[rnd(statuses.len() as i64) as usize];
            let want = format!("orderId={id} status={os:?}");
            spare.clear();
            id_status(&mut spare, "orderId=", id, order_status_tail(os));
            assert_eq!(spare, want, "case {case}");
            let statuses = crate::events::json::ALL_ALGO_STATUSES;
            let as_ = statuses[rnd(statuses.len() as i64) as usize];
            let want = format!("algoId={id} algoStatus={as_:?}");
            spare.clear();
            id_status(&mut spare, "algoId=", id, algo_status_tail(as_));
            assert_eq!(spare, want, "case {case}");
        }
    }

    /// Collects every record the log shows it (a copy of the whole log of a streaming run).
    struct Collect(Vec<EventRecord>);
    impl Observer for Collect {
        fn observe(&mut self, r: &EventRecord, _: &EventLog) {
            self.0.push(r.clone());
        }
        fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
            self
        }
    }

    #[test]
    fn streaming_runs_recycling_summaries_log_what_whole_logs_hold() {
        // Whole runs, each twice: over a log that keeps every record, and over a streaming log
        // with a small ring (its records leave it soon, and the venue writes later summaries into
        // their strings) whose observer copies every record as it comes. Random bars, profiles,
        // both position modes and monitors, faults (timeouts, 5xx, rejections: responses of every
        // kind), restarts; the records must be the same, one for one.
        use crate::exchange::{ExchangeConfig, SymbolSpec};
        let mut rnd = crate::types::xorshift_below_i64(0xBB67_AE85_84CA_A73B);
        const MIN: i64 = 60_000;
        const T0: i64 = 1_704_067_200_000;
        let spec = SymbolSpec::builtin("BTCUSDT").unwrap();
        let (mut records, mut summaries) = (0, 0);
        for case in 0..48 {
            let (profile, mode) = profile_and_mode(case);
            let monitor = if rnd(3) == 0 {
                Monitor::Poll
            } else {
                Monitor::Stream
            };
            let n = 240;
            let bars = walk_bars(&spec, n, &mut rnd);
            let faults = Faults {
                stream_drop_ppm: [0, 50_000][rnd(2) as usize] as u32,
                stream_duplicate_ppm: [0, 100_000][rnd(2) as usize] as u32,
                timeout_ppm: [0, 20_000, 60_000][rnd(3) as usize] as u32,
                server_error_ppm: [0, 30_000][rnd(2) as usize] as u32,
                rate_limit_ppm: [0, 30_000][rnd(2) as usize] as u32,
                cancel_unknown_ppm: [0, 200_000][rnd(2) as usize] as u32,
                restarts_ms: if rnd(4) == 0 {
                    vec![T0 + rnd(n * MIN)]
                } else {
                    Vec::new()
                },
                ..Faults::default()
            };
            let strategy = random_bracket([40, 300][rnd(2) as usize], &mut rnd);
            let cfg = SimConfig {
                seed: case as u64,
                latency: Latency::default(),
                faults,
                skip_idle_polls: rnd(4) != 0,
                monitor,
                strategy: Some(strategy),
                deliveries: Vec::new(),
                external: Vec::new(),
            };
            let ring = 1 + rnd(6) as usize;
            let run_once = |log: EventLog| {
                let ex = minute_exchange(mode, ExchangeConfig::default(), &spec, &bars);
                let engine = stream_engine(profile, &spec, monitor, 2_000, None);
                run_into(ex, engine, &[], &[], &cfg, &mut |_| {}, log)
            };
            let whole = run_once(EventLog::new());
            let mut log = EventLog::streaming(ring);
            log.set_observer(Box::new(Collect(Vec::new())));
            let mut streamed = run_once(log);
            let seen = streamed
                .log
                .take_observer()
                .and_then(|o| o.into_any().downcast::<Collect>().ok())
                .expect("collector")
                .0;
            assert_eq!(whole.sim, streamed.sim, "case {case}");
            assert_eq!(seen.len(), whole.log.len(), "case {case}");
            for (x, y) in whole.log.records().iter().zip(&seen) {
                assert_eq!(x, y, "case {case} ({profile}, ring {ring})");
                summaries += usize::from(matches!(
                    x.event,
                    Event::Response {
                        outcome: CallOutcome::Ok(_),
                        ..
                    }
                ));
            }
            records += seen.len();
        }
        assert!(
            records > 10_000 && summaries > 2_000,
            "{records} {summaries}"
        );
    }
}
