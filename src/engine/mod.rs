//! The engine under test: the live engine's dispatcher, OCO manager and Binance adapter
//! (`tradeengine-oco.md`), ported as one codebase whose behaviour is chosen by [`Switches`], plus
//! ocosim's own `reference` OCO manager on the same code paths.
//!
//! Contract:
//! - it talks to the venue only through [`crate::api::Exchange`]; every call blocks and pays the
//!   simulated latency; time is `ex.now()`, waits are `ex.sleep(ms)` (retry delays only); the
//!   monitor's 2 s / 5 s pauses are expressed through [`Engine::next_timer`], never slept;
//! - it never reads the wall clock, draws no random numbers, and iterates only `BTreeMap`s and
//!   `Vec`s, so a run replays byte for byte;
//! - what it believes and decides reaches the event log only through `ex.emit(EngineEvent)`:
//!   `Signal`/`SignalResult` per dispatch, `EntryAccepted`, `PairPlaced`/`PairDropped`,
//!   `CancelOther`, `MonitorStopped`, `Restart`, short `Note`s (a pass that changes nothing emits
//!   nothing);
//! - it must not import `sim`, `scenario`, `invariants`, `report` or `cli`.
//!
//! Layout: [`switches`] (one switch per behaviour difference), [`profiles`] (named switch sets and
//! the table), `adapter` (wire parameters, rounding, retries, unknown outcomes), `oco` (pair
//! records, placement, cancels), `monitor` (polling passes, stream reactions, restart
//! reconcile), `dispatcher` (signal → gates → entry → protection; manual close; rollback),
//! `cleanup` (what failed to settle, retried until it does: reference only).
//!
//! Ordering: pairs are kept sorted by [`PairId`] (a vector in `BTreeMap` order), which increases
//! with registration, so "dict order" of the live engine is id order; PHEAD's `SYMBOL_SIDE` keys
//! are visited in the order of their oldest active pair.
//!
//! Known limits: one symbol per engine (the one in [`EngineConfig::spec`]); the ids of pairs and
//! of the reference engine's client orders come from counters that survive [`Engine::on_restart`]
//! (they stand for the time-based ids a real process would use, and keep the log's pair ids
//! unique); persistence, NATS, metrics, locks and the CIO gate are not ported.

mod adapter;
mod cleanup;
mod dispatcher;
pub mod entries;
mod monitor;
mod oco;
pub mod profiles;
pub mod signal;
pub mod switches;

pub use entries::EntryRules;
pub use profiles::{profiles_table, PROFILES};
pub use signal::{Action, Signal};
pub use switches::Switches;

use crate::api::{Exchange, StreamEvent};
use crate::events::LegId;
use crate::exchange::SymbolSpec;
use crate::types::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the engine learns that a leg filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    /// Poll open orders every `poll_interval_ms`.
    #[default]
    Poll,
    /// React to user-data-stream events (profiles without `stream_monitor_supported` keep polling).
    Stream,
}

/// Engine settings that come from the scenario rather than the profile.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The symbol's filters as the engine caches them (exchangeInfo).
    pub spec: SymbolSpec,
    /// Poll or stream.
    pub monitor: Monitor,
    /// Poll interval (the live engine: 2000 ms).
    pub poll_interval_ms: i64,
    /// Sleep after a failed pass (the live engine: 5000 ms).
    pub error_backoff_ms: i64,
    /// Entry order types, sizing and the size gate of the profile's release.
    pub entries: EntryRules,
    /// The balance `position_size_pct` sizes from (the scenario's initial balance).
    pub portfolio_value: Decimal,
}

/// The engine's verdict on a signal: its status (a fixed spelling, borrowed rather than allocated
/// for every signal) and a detail.
pub(crate) type Verdict = (std::borrow::Cow<'static, str>, String);

/// Status of a pair record (`active_oco_pairs[...]["status"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PairStatus {
    Active,
    Completed,
    Cancelled,
    ExternallyClosed,
}

impl PairStatus {
    fn as_str(self) -> &'static str {
        match self {
            PairStatus::Active => "active",
            PairStatus::Completed => "completed",
            PairStatus::Cancelled => "cancelled",
            PairStatus::ExternallyClosed => "externally_closed",
        }
    }
}

/// One leg of a pair as the engine knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Leg {
    pub id: LegId,
    /// Trigger price as sent.
    pub price: Decimal,
    /// Placement attempt number (reference client ids).
    pub attempt: u32,
}

/// One OCO pair record.
#[derive(Debug, Clone)]
pub(crate) struct PairRec {
    pub id: PairId,
    pub symbol: Ident,
    /// LONG or SHORT: the position the legs protect.
    pub dir: PositionSide,
    /// positionSide of the legs on the exchange (BOTH in one-way mode).
    pub wire_ps: PositionSide,
    pub sl: Option<Leg>,
    pub tp: Option<Leg>,
    pub status: PairStatus,
    pub reason: std::borrow::Cow<'static, str>,
    pub strategy_position_id: Option<u64>,
    pub quantity: Decimal,
    /// Rebuilt at startup (PHEAD `reconciled=True`).
    pub reconciled: bool,
    /// A rebuilt lone leg (PHEAD orphan record).
    pub orphan: bool,
    /// A `PairPlaced` was emitted for it.
    pub announced: bool,
    /// Client-id base of the entry it protects (reference).
    pub base: Ident,
    /// The latest SL/TP asked for on this side (an entry consolidated into the pair updates it);
    /// the reference re-protects with it when a leg fired while a later lot remains.
    pub plan: (Option<Decimal>, Option<Decimal>),
}

impl PairRec {
    fn legs(&self) -> impl Iterator<Item = Leg> + '_ {
        self.sl.iter().chain(self.tp.iter()).copied()
    }
}

/// A resting entry whose protection waits for its fill (reference, `protect_resting_entry=false`).
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub symbol: Ident,
    pub dir: PositionSide,
    pub sl: Option<Decimal>,
    pub tp: Option<Decimal>,
    pub sl_pct: Option<Decimal>,
    pub tp_pct: Option<Decimal>,
    pub base: Ident,
    pub protected: bool,
    pub order_amount: Decimal,
    pub strategy_position_id: u64,
}

/// Something that failed to settle and that the monitor retries (`retry_cleanup`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Cleanup {
    /// Cancel a leg (symbol, id) that must not stay.
    Cancel(Ident, LegId),
    /// Cancel an order whose placement outcome was unknown: (symbol, algo?, client id).
    CancelClient(Ident, bool, Ident),
    /// Close a side whose rollback close failed.
    Flatten(Ident, PositionSide),
    /// Check a just-placed pair against its position (the post-placement read failed).
    CheckPair(PairId),
}

/// A signal the P78 aggregator remembers for conflict checks.
#[derive(Debug, Clone)]
pub(crate) struct ActiveSignal {
    pub at: TimeMs,
    pub symbol: Ident,
    pub action: Action,
    pub confidence: Decimal,
}

/// Everything a process restart loses.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// By id (a sorted vector: one or two records at a time, see [`vecmap`]).
    pub pairs: crate::types::VecMap<PairId, PairRec>,
    pub pending: BTreeMap<OrderId, Pending>,
    /// Deferred conditional entries on the Algo Order API (reference STOP entries, algo era),
    /// moved to `pending` under their triggered order's id.
    pub pending_algo: BTreeMap<AlgoId, Pending>,
    /// The live engine's `monitoring_active` flag.
    pub monitoring_active: bool,
    /// The monitor loop is alive (a task exists).
    pub running: bool,
    pub next_pass: Option<TimeMs>,
    /// The last pass only read and saw every leg in place: the next one changes nothing if the
    /// venue is unchanged.
    pub stable: bool,
    pub dup_cache: crate::types::VecMap<String, TimeMs>,
    pub last_purge: Option<TimeMs>,
    pub active_signals: Vec<ActiveSignal>,
    /// Local position book: (symbol, LONG/SHORT) or (symbol, BOTH) signed for P78.
    pub book: crate::types::VecMap<(Ident, PositionSide), Decimal>,
    pub last_add: crate::types::VecMap<(Ident, PositionSide), TimeMs>,
    /// Close times per symbol for the thrash breaker.
    pub closes: Vec<(TimeMs, Ident)>,
    /// Account mode as read from positionRisk (true = hedge).
    pub hedge: Option<bool>,
    /// Whether the venue has the algo endpoint (`legs_api = auto`), once learned.
    pub algo_api: Option<bool>,
    /// Deadline of the risk-placement budget (`asyncio.wait_for`).
    pub deadline: Option<TimeMs>,
    /// The reference recovery after a restart failed on a read; the monitor retries it.
    pub needs_recovery: bool,
    /// What failed to settle, retried by the monitor (`retry_cleanup`).
    pub cleanup: std::collections::BTreeSet<Cleanup>,
    /// Entries whose placement outcome stayed unknown, by client id (`retry_cleanup`).
    pub unresolved: BTreeMap<Ident, Pending>,
    /// Legs the user stream already reported as ended (reference stream monitoring): read from
    /// every update received, so a survivor the venue expired is never cancelled again.
    pub stream_ended: crate::types::VecMap<crate::events::LegId, adapter::LegState>,
    /// Positions the user-data store shows (`close_guard`), as of the engine's last suspension
    /// point; None: no store (never blocks).
    pub store: Option<Vec<(PositionSide, Decimal)>>,
}

/// A key no price has: the first byte of `Decimal::serialize` is the low byte of its flags,
/// which are always zero (only the scale and sign bits, 16..=23 and 31, are used).
const NO_PRICE: u128 = u128::MAX;

/// The engine under test.
pub struct Engine {
    sw: Switches,
    cfg: EngineConfig,
    st: State,
    /// Pair ids (unique over the run, restarts included).
    next_pair: u64,
    /// Position / strategy-position / client-id sequence (unique over the run).
    next_seq: u64,
    /// Broker client ids given so far (`broker_client_id`).
    broker_ids: u64,
    /// The pairs a monitoring pass visits for one read, kept to reuse its allocation.
    pass_ids: Vec<PairId>,
    /// A monitoring pass's reads, kept to reuse their allocations.
    pass_plan: Vec<monitor::Read>,
    /// What a monitoring pass's last read saw, kept to reuse its allocations.
    pass_seen: monitor::Seen,
    /// The last price [`Engine::fmt_price`] formatted (its bits, `Decimal::serialize`) and the
    /// result: a leg's price is formatted for its request and then again for its record, one
    /// after the other. [`NO_PRICE`] before the first.
    price_memo: std::cell::Cell<(u128, Decimal)>,
    /// `entries::MinBounds::of(&cfg.spec)`: the sizing's symbol-only products, made once (the
    /// settings are fixed when the engine is made).
    min_bounds: Option<entries::MinBounds>,
}

/// How much of a position a manual close takes (`[[manual_closes]]` `quantity` / `fraction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseAmount {
    /// All of it (the default).
    #[default]
    Whole,
    /// This quantity. The live releases (`manual_close_qty = local_book`) send it as given, as
    /// their `close_position_with_cleanup(quantity)` does; [`CloseAmount::of`] (the reference,
    /// which reads positionRisk) sends nothing when the side is flat.
    Quantity(Decimal),
    /// This fraction (0 < f ≤ 1) of the quantity the engine would close.
    Fraction(Decimal),
}

impl CloseAmount {
    /// The quantity to send, given the engine's notion `full` of the whole.
    pub fn of(self, full: Decimal) -> Decimal {
        match self {
            CloseAmount::Whole => full,
            CloseAmount::Quantity(_) if full.is_zero() => full,
            CloseAmount::Quantity(q) => q,
            CloseAmount::Fraction(f) => (full * f).normalize(),
        }
    }

    /// True for the default (a whole close).
    pub fn is_whole(&self) -> bool {
        *self == CloseAmount::Whole
    }
}

impl Engine {
    /// A fresh engine with these switches and settings.
    pub fn new(switches: Switches, cfg: EngineConfig) -> Engine {
        Engine {
            sw: switches,
            min_bounds: entries::MinBounds::of(&cfg.spec),
            cfg,
            st: State::default(),
            next_pair: 1,
            next_seq: 1,
            broker_ids: 0,
            pass_ids: Vec::new(),
            pass_plan: Vec::new(),
            pass_seen: monitor::Seen::default(),
            price_memo: std::cell::Cell::new((NO_PRICE, Decimal::ZERO)),
        }
    }

    /// The switches in force.
    pub fn switches(&self) -> &Switches {
        &self.sw
    }

    /// A signal arrives: `dispatcher.dispatch(signal)`.
    pub fn on_signal<E: Exchange>(&mut self, sig: &Signal, ex: &mut E) {
        self.refresh_store(ex);
        self.st.stable = false;
        self.dispatch(sig, ex);
    }

    /// A manual close of one position side (`close_position_with_cleanup`), with the engine's own
    /// notion of the quantity (`manual_close_qty`).
    pub fn on_manual_close<E: Exchange>(&mut self, symbol: &str, ps: PositionSide, ex: &mut E) {
        self.on_manual_close_part(symbol, ps, CloseAmount::Whole, ex);
    }

    /// A manual close of part of a position side: `amount` of the engine's own notion of the
    /// quantity (a fraction of it, or a quantity as given), through the same
    /// `close_position_with_cleanup` as a whole close.
    pub fn on_manual_close_part<E: Exchange>(
        &mut self,
        symbol: &str,
        ps: PositionSide,
        amount: CloseAmount,
        ex: &mut E,
    ) {
        self.refresh_store(ex);
        self.st.stable = false;
        self.manual_close(symbol, ps, amount, ex);
    }

    /// A user-data-stream event reached the engine (only with `monitor = stream`).
    pub fn on_stream<E: Exchange>(&mut self, ev: &StreamEvent, ex: &mut E) {
        if self.cfg.monitor != Monitor::Stream || !self.sw.stream_monitor_supported {
            return;
        }
        self.refresh_store(ex);
        self.stream_event(ev, ex);
    }

    /// As [`Self::on_stream`], for an event that [`Self::on_stream_received`] was given last,
    /// with only other events' receipts since (the simulator's delivery loop). What it says of
    /// an ended leg is noted already, and noting it again would change nothing: a note only
    /// adds a leg's end, once, for a leg of a pair the engine tracks, and receipts neither
    /// track pairs nor forget ends.
    pub fn on_stream_noted<E: Exchange>(&mut self, ev: &StreamEvent, ex: &mut E) {
        if !self.stream_mode() {
            return;
        }
        self.refresh_store(ex);
        self.stream_event_noted(ev, ex);
    }

    /// True when [`Self::on_stream_noted`] of `ev` will leave what [`Self::on_stream_received`]
    /// reads as it is (the pairs, their statuses and legs, and the leg ends already noted): a
    /// receipt noted before it would then change nothing if noted again after it. Asked before
    /// the event is acted on.
    #[inline]
    pub fn stream_noted_is_inert(&self, ev: &StreamEvent) -> bool {
        !self.stream_mode() || self.stream_event_is_inert(ev)
    }

    /// What a receipt's note reads (the pairs and the leg ends noted), for tests to compare
    /// before and after an event [`Self::stream_noted_is_inert`] calls inert.
    #[cfg(test)]
    pub(crate) fn note_inputs(&self) -> String {
        format!("{:?} {:?}", self.st.pairs, self.st.stream_ended)
    }

    /// User-data-stream events that have reached the engine's socket but wait behind the one
    /// being handled: the reference engine reads what they say about its legs (an ALGO_UPDATE
    /// EXPIRED of a survivor) before it acts on the first (only with `monitor = stream`).
    /// Inline: the simulator calls it for every queued event at each delivery.
    #[inline]
    pub fn on_stream_received(&mut self, ev: &StreamEvent) {
        if self.cfg.monitor != Monitor::Stream || !self.sw.stream_monitor_supported {
            return;
        }
        self.note_stream(ev);
    }

    /// The monitor's timer fired: one monitoring pass (the loop condition is checked first).
    pub fn on_timer<E: Exchange>(&mut self, ex: &mut E) {
        self.refresh_store(ex);
        self.timer(ex);
    }

    /// When the monitor next wants to run; None when the loop is not running.
    pub fn next_timer(&self) -> Option<TimeMs> {
        if self.st.running {
            self.st.next_pass
        } else {
            None
        }
    }

    /// The process restarted: in-memory state is lost; `reconcile_on_restart` rebuilds from the
    /// exchange. The caller records `EngineEvent::Restart` in the log before calling this (the
    /// simulator does), so the engine does not emit it again.
    pub fn on_restart<E: Exchange>(&mut self, ex: &mut E) {
        self.st = State::default();
        self.refresh_store(ex);
        if self.sw.startup_reconcile {
            self.startup(ex);
        } else {
            self.reconcile_from_exchange(ex);
        }
    }

    /// True when the engine has a start-up step (`startup_reconcile`): the runner calls
    /// [`Engine::on_start`] once, at the session's start, before anything else.
    pub fn wants_start(&self) -> bool {
        self.sw.startup_reconcile
    }

    /// The session starts: PHEAD's `Dispatcher.initialize()` reads (`startup_reconcile`; nothing
    /// otherwise).
    pub fn on_start<E: Exchange>(&mut self, ex: &mut E) {
        self.refresh_store(ex);
        if self.sw.startup_reconcile {
            self.startup(ex);
        }
    }

    /// True when the next pass only reads open orders and would change nothing if the venue's
    /// open orders are unchanged since the previous pass.
    pub fn poll_pass_is_readonly(&self) -> bool {
        self.st.running
            && self.st.stable
            && !self.st.needs_recovery
            && self.st.cleanup.is_empty()
            && self.st.unresolved.is_empty()
            && self.has_work()
    }

    /// Number of REST calls such a read-only pass makes (P78: one openOrders per pair; PHEAD:
    /// two per key; reference: one per book in use per symbol).
    pub fn pass_calls(&self) -> u32 {
        debug_assert_eq!(
            self.plan_calls(),
            self.read_plan().iter().map(|r| r.calls()).sum::<u32>()
        );
        self.plan_calls()
    }

    /// The simulator skipped a read-only pass that ended at `pass_end`: schedule the next one as if
    /// it had run.
    pub fn skip_pass(&mut self, pass_end: TimeMs) {
        if self.st.running {
            self.st.next_pass = Some(pass_end.plus(self.pass_interval_ms()));
        }
    }

    /// Milliseconds between the end of a clean pass and the next one.
    /// At least 1 ms: at zero latency a pass takes no simulated time, and a zero interval would
    /// run passes forever at one instant.
    fn pass_interval_ms(&self) -> i64 {
        if self.stream_mode() {
            self.sw.stream_resync_ms.max(1)
        } else {
            self.cfg.poll_interval_ms.max(1)
        }
    }

    /// True when the engine reacts to stream events (and only resyncs by polling).
    fn stream_mode(&self) -> bool {
        self.cfg.monitor == Monitor::Stream && self.sw.stream_monitor_supported
    }

    /// The loop condition: pairs (or deferred entries) to watch.
    fn has_work(&self) -> bool {
        self.st
            .pairs
            .values()
            .any(|p| p.status == PairStatus::Active)
            || !self.st.pending.is_empty()
            || !self.st.pending_algo.is_empty()
            || self.st.needs_recovery
            || !self.st.cleanup.is_empty()
            || !self.st.unresolved.is_empty()
    }

    /// A fresh sequence number.
    fn seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }
}
