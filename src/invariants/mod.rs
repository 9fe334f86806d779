//! Invariants: pure checks over event records only, run after every event.
//!
//! [`Checker`] consumes the log in order and keeps just enough state (positions, open orders,
//! pairs) rebuilt from events; it never reads the exchange or the engine. Time-based rules use the
//! reaction window: the engine's monitoring cycle plus latency and retries. A violation is
//! recorded with its time, the pair and the last events that led to it; checking goes on.
//!
//! Online: the checker is an [`Observer`] of the log, fed each record as it is appended (the
//! same order, so the same violations as [`Checker::check_log`] over the finished log). It holds
//! only open state: an order, algo order, pair or stop leaves its maps once it is closed and
//! nothing can name it any more (checked when time moves past its closing instant), so memory is
//! O(open state), not O(history). A violation's trail names the last events (seqs); fed through
//! [`Checker::observe_in`], the checker copies the records a trail names while the log still
//! holds them (a streaming log keeps only a ring of recent records; the records a trail may need
//! from further back — a pair's `PairPlaced`, a stop's placement — are kept with their pair or
//! stop while it is open), so reports can show trails without the whole log ([`Trails`]).
//!
//! Cost: the checker runs after every event, so its open state lives in vectors sorted by key
//! ([`small`]; a handful of entries each, same iteration order as the ordered maps they replace)
//! and a position side is keyed by an interned symbol, copied rather than cloned.

pub mod types;

pub use types::{Invariant, Violation};

use crate::api::Endpoint;
use crate::events::*;
use crate::types::*;
use crate::types::{VecMap, VecSet};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};

/// The records named by violations' trails (and the record each was found at), by seq: what
/// reports show of a run's history when the log itself is not kept.
pub type Trails = BTreeMap<Seq, EventRecord>;

/// Something closed at some time, to forget once time has moved past it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Retire {
    /// A leg closed (an order, algo order, or an algo order's child).
    Leg(LegId),
    /// A pair stopped being tracked.
    Pair(PairId),
}

/// A symbol: its index in `Checker::symbols`, in the order first seen. Ordering by it is not
/// ordering by name: what reaches a report sorts by name (`Checker::by_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Sym(u32);

/// A position side: (symbol, positionSide).
type Key = (Sym, PositionSide);

/// How many let-go pinned records the checker keeps for reuse.
const SPARE_RECORDS: usize = 4;

/// Settings of the checker.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// Account position mode of the run.
    pub position_mode: PositionMode,
    /// How long the engine may take to react before an orphan, naked position, drift or
    /// excess protection counts (ms).
    pub reaction_ms: i64,
    /// Initial wallet.
    pub initial_balance: Decimal,
    /// How many events a trail keeps.
    pub trail_len: usize,
}

#[derive(Debug, Clone, Copy)]
struct OrderState {
    side: Side,
    ps: PositionSide,
    orig_type: OrderType,
    reduce_only: bool,
    close_position: bool,
    open: bool,
    qty: Decimal,
    from_algo: Option<AlgoId>,
    /// Whether any of it has traded.
    traded: bool,
}

#[derive(Debug, Clone, Copy)]
struct AlgoState {
    side: Side,
    ps: PositionSide,
    otype: OrderType,
    close_position: bool,
    open: bool,
    qty: Decimal,
}

#[derive(Debug, Clone)]
struct PairState {
    sl: LegId,
    tp: LegId,
    /// The distinct legs of it that filled, the first two (a second is the violation).
    filled: [Option<LegId>; 2],
    tracked: bool,
    placed_seq: Seq,
    reported_double: bool,
}

impl PairState {
    /// Notes a fill of `leg`; how many distinct legs have filled (counting up to two).
    fn fill(&mut self, leg: LegId) -> usize {
        for slot in &mut self.filled {
            match slot {
                Some(l) if *l == leg => break,
                Some(_) => {}
                None => {
                    *slot = Some(leg);
                    break;
                }
            }
        }
        self.filled.iter().flatten().count()
    }
}

/// What the checker knows of a leg beside its order state (what were separate maps and sets
/// keyed by the leg). A leg has an entry while any of it is set: where something is cleared
/// (`Checker::prune`, `Checker::prune_pair`) an entry with nothing left in it goes, so the map
/// holds the legs the separate ones held.
#[derive(Debug, Clone, Copy, Default)]
struct LegInfo {
    /// The pair it is a leg of (the latest placed).
    pair: Option<PairId>,
    /// An order of a closed position (or placed with none): it must go, and must not fill.
    orphan: bool,
    /// Its orphan violation was reported (once per leg).
    reported_orphan: bool,
    /// Placed while its position side was flat (an orphan from birth).
    born_orphan: bool,
    /// A stop leg: its placement seq and trigger price (stop-beyond-liquidation).
    stop: Option<(Seq, Decimal)>,
}

impl LegInfo {
    /// Whether nothing is left in it (its entry goes).
    fn is_empty(&self) -> bool {
        self.pair.is_none()
            && !self.orphan
            && !self.reported_orphan
            && !self.born_orphan
            && self.stop.is_none()
    }
}

/// A timed check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    /// An order of a closed position must be gone by then.
    Orphan(LegId),
    /// A tracked pair whose legs are all gone must have been dropped by then.
    Tracked(PairId),
    /// A dropped pair's live leg must be gone by then.
    Dropped(PairId, LegId),
}

/// The invariant checker.
pub struct Checker {
    cfg: CheckConfig,
    violations: Vec<Violation>,
    /// The seqs of the records seen (not of equity records), the `trail.len()` (a power of two,
    /// at least `trail_len`) last ones: record `n` (counting from 0) at `n & (len − 1)`. A store
    /// and an increment per record; `violate` reads the last `trail_len` back.
    trail: Box<[Seq]>,
    /// How many seqs were written to `trail`.
    trail_n: u64,
    /// Every symbol seen, in the order first seen (`Sym` indexes it): as many as the run trades.
    symbols: Vec<String>,
    /// Position amounts by symbol (`Sym`) and side (`slot`); zero where none was reported. A
    /// dense table: every record of a position asks for its side's amount, and a run trades one
    /// symbol or a few.
    positions: Vec<[Decimal; 3]>,
    /// Open orders and algo orders (a closed one leaves at once), so per-event scans touch only
    /// what is open.
    orders: VecMap<OrderId, OrderState>,
    algos: VecMap<AlgoId, AlgoState>,
    pairs: VecMap<PairId, PairState>,
    /// What is known of each leg apart from its order state ([`LegInfo`]): one search for a
    /// record that asks several things about its leg, one removal when the leg is forgotten.
    legs: VecMap<LegId, LegInfo>,
    /// (deadline, check, faults seen when it was set, when the window started)
    due: VecSet<(TimeMs, Due, u64, TimeMs)>,
    /// Entries accepted while resting (nothing traded yet; a STOP entry by its algo id): whether
    /// their signal asked for a stop (the side wants a stop once such an entry fills, not before:
    /// a position already open on the side keeps what its own entries asked for until then).
    entry_wants: VecMap<LegId, bool>,
    /// A fill of such an entry (its side, its order's side, its wish), applied to its position
    /// side by the ACCOUNT_UPDATE that follows when the fill left the position on the entry's
    /// side (one-way mode: a buy entry that only reduced a short protects nothing).
    pending_wants: Option<(Key, Side, bool)>,
    /// One-way mode: between a signal and the acceptance of an order placed since (its entry),
    /// or the signal's result, the engine is placing that signal's entry.
    entry_phase: bool,
    /// Ids of the orders and algo orders the venue accepted during the current entry phase (an
    /// earlier entry accepted meanwhile, e.g. one whose outcome was unknown, does not end it).
    phase_ids: VecSet<u64>,
    /// Whether the log carries the engine's signals (`sim run`; `sim serve` logs none, so its
    /// requests cannot be told apart and plain conditional orders are taken for entries).
    signals_seen: bool,
    /// One-way mode: client ids of plain conditional orders (neither reduce-only nor
    /// close-position) the engine requested while placing an entry, until the venue accepts them.
    entry_cids: BTreeSet<Ident>,
    /// One-way mode: client ids of plain conditional orders requested at any other time (legs).
    leg_cids: BTreeSet<Ident>,
    /// One-way mode: plain conditional orders known to be entries (STOP entries, by their
    /// request), which neither protect nor flip anything; until they end.
    entry_legs: VecSet<LegId>,
    faults: u64,
    pending_calls: VecMap<u64, String>,
    pending_flip: Option<(Key, Decimal, OrderId)>,
    /// Whether a side's signal asked for a stop, by symbol and side like `positions`.
    wants_stop: Vec<[bool; 3]>,
    naked_since: VecMap<Key, (TimeMs, u64)>,
    excess_since: VecMap<Key, (TimeMs, u64)>,
    /// Bumped whenever something [`Self::protection_state`] reads may have changed (a position,
    /// an order or algo order that can protect opening, closing or resizing, entry legs, a side's
    /// wish for a stop).
    prot_gen: u64,
    /// The position side [`Self::protection_state`] last evaluated, at which `prot_gen`: with
    /// nothing changed since, evaluating it again would find what it found (and the naked and
    /// excess clocks it set are still set: `time_checks` only re-arms them), so it is skipped.
    prot_seen: Option<(Key, u64)>,
    expected_wallet: Decimal,
    now: TimeMs,
    last_seq: Seq,
    /// Stops expired at `now` (a liquidation expires them just before its fill).
    stops_expired_now: Vec<(TimeMs, Key, LegId)>,
    /// Open child orders per algo order (an algo leg whose child is open can still fill).
    open_children: VecMap<AlgoId, u32>,
    /// Things closed at a time, forgotten once time moves past it.
    retire: Vec<(TimeMs, Retire)>,
    /// Whether records a later trail may name are copied (the log does not keep them all).
    pin: bool,
    /// Set when the current record must be pinned (a stop's placement).
    pin_now: bool,
    /// Copies of records older trails may name: pairs' `PairPlaced`, stops' placements.
    /// (Boxed: a record is large, and is moved about as entries come and go.)
    pinned: VecMap<Seq, Box<EventRecord>>,
    /// Records this checker let go of, a few, kept for their strings: a record pinned later is
    /// copied into one of its kind (`Checker::copy_record`) rather than allocated afresh.
    /// (Boxed like `pinned`'s, so a record passes between the two as a pointer.)
    #[allow(clippy::vec_box)]
    spare_records: Vec<Box<EventRecord>>,
    /// Records named by violations' trails, copied while the log held them.
    trails: Trails,
    /// Violations whose trail records were copied.
    resolved: usize,
    /// The legs of a position that just closed, kept between records (no allocation each time).
    scratch_legs: Vec<LegId>,
    /// Index in `symbols` of the last symbol seen: checked first.
    last_sym: u32,
}

/// Whether an order opens (or adds to) its side rather than protecting it: BUY LONG / SELL SHORT
/// in hedge mode; in one-way mode anything neither reduce-only nor close-position. Such a
/// conditional order placed while flat is a resting entry, not an orphan.
fn opens_side(side: Side, ps: PositionSide, reduce_only: bool, close_position: bool) -> bool {
    if reduce_only || close_position {
        return false;
    }
    match ps {
        PositionSide::Both => true,
        PositionSide::Long => side == Side::Buy,
        PositionSide::Short => side == Side::Sell,
    }
}

/// A position side's place in the per-symbol tables.
#[inline]
fn slot(ps: PositionSide) -> usize {
    match ps {
        PositionSide::Both => 0,
        PositionSide::Long => 1,
        PositionSide::Short => 2,
    }
}

fn leg_of_order(o: &OrderState, id: OrderId) -> LegId {
    match o.from_algo {
        Some(a) => LegId::Algo(a),
        None => LegId::Order(id),
    }
}

/// Whether a regular order can ever protect a position (see `Checker::order_protects`): only
/// such an order opening, closing or resizing can change what `protection_state` finds.
fn may_protect(o: &OrderState) -> bool {
    o.from_algo.is_none() && (o.orig_type.is_conditional() || o.reduce_only || o.close_position)
}

/// The side that closes a position of `amt` (a zero one counts as short).
fn closing_side(amt: Decimal) -> Side {
    // sign and zero tests instead of a comparison with zero (this runs for every event)
    if amt.is_sign_positive() && !amt.is_zero() {
        Side::Sell
    } else {
        Side::Buy
    }
}

impl Checker {
    /// A checker for one run.
    pub fn new(cfg: CheckConfig) -> Checker {
        let w = cfg.initial_balance;
        // the trail's ring: allocated once, at most twice the trail (runs keep a dozen)
        let ring = cfg
            .trail_len
            .max(1)
            .checked_next_power_of_two()
            .expect("a trail length below 2^63");
        Checker {
            cfg,
            violations: Vec::new(),
            trail: vec![Seq(0); ring].into_boxed_slice(),
            trail_n: 0,
            symbols: Vec::new(),
            positions: Vec::new(),
            orders: VecMap::new(),
            algos: VecMap::new(),
            pairs: VecMap::new(),
            legs: VecMap::new(),
            due: VecSet::new(),
            entry_wants: VecMap::new(),
            pending_wants: None,
            entry_phase: false,
            phase_ids: VecSet::new(),
            signals_seen: false,
            entry_cids: BTreeSet::new(),
            leg_cids: BTreeSet::new(),
            entry_legs: VecSet::new(),
            faults: 0,
            pending_calls: VecMap::new(),
            pending_flip: None,
            wants_stop: Vec::new(),
            naked_since: VecMap::new(),
            excess_since: VecMap::new(),
            prot_gen: 0,
            prot_seen: None,
            expected_wallet: w,
            now: TimeMs(i64::MIN),
            last_seq: Seq(0),
            stops_expired_now: Vec::new(),
            open_children: VecMap::new(),
            retire: Vec::new(),
            pin: false,
            pin_now: false,
            pinned: VecMap::new(),
            spare_records: Vec::new(),
            trails: Trails::new(),
            resolved: 0,
            scratch_legs: Vec::new(),
            last_sym: 0,
        }
    }

    /// Feeds one record as [`Self::observe`] and copies the records that new violations' trails
    /// name from `log` (which already holds `r`), so they outlive a streaming log's ring.
    pub fn observe_in(&mut self, r: &EventRecord, log: &EventLog) {
        self.pin_for(log);
        self.observe_from(r, log);
    }

    /// Tells the checker once what [`Self::observe_in`] reads of `log` at every record: whether
    /// the log keeps every record (then nothing is pinned). A log's kind is fixed when it is made
    /// ([`EventLog::new`] or [`EventLog::streaming`]), so a caller that feeds one log throughout
    /// says it here and then feeds through [`Self::observe_from`].
    pub fn pin_for(&mut self, log: &EventLog) {
        self.pin = !log.keeps_all();
    }

    /// As [`Self::observe_in`], `log` being of the kind last given to [`Self::pin_for`].
    #[inline]
    pub fn observe_from(&mut self, r: &EventRecord, log: &EventLog) {
        self.observe(r);
        // most records find nothing: no call
        if self.resolved < self.violations.len() {
            self.resolve(log);
        }
    }

    /// Copies the trail records of violations found since the last call.
    fn resolve(&mut self, log: &EventLog) {
        for v in &self.violations[self.resolved..] {
            for seq in v.trail.iter().chain([&v.seq]) {
                if self.trails.contains_key(seq) {
                    continue;
                }
                if let Some(rec) = log.get(*seq).or_else(|| self.pinned.get(seq).map(|r| &**r)) {
                    self.trails.insert(*seq, rec.clone());
                }
            }
        }
        self.resolved = self.violations.len();
    }

    /// As [`Self::finish`], after feeding through [`Self::observe_in`]: also the records the
    /// violations' trails name.
    pub fn finish_in(mut self, end: TimeMs, log: &EventLog) -> (Vec<Violation>, Trails) {
        self.run_due(end, true);
        self.time_checks(end.plus(1));
        self.resolve(log);
        (self.violations, self.trails)
    }

    /// Entries the checker holds about orders, algo orders, pairs, legs and stops (its maps and
    /// the records it pinned): bounded by what is open, not by the length of history.
    pub fn held(&self) -> usize {
        self.orders.len()
            + self.algos.len()
            + self.pairs.len()
            + self.legs.len()
            + self.pinned.len()
            + self.open_children.len()
            + self.retire.len()
            + self.due.len()
    }

    /// The key of (`symbol`, `ps`), interning a symbol not seen yet.
    #[inline]
    fn key_for(&mut self, symbol: &str, ps: PositionSide) -> Key {
        // the last event's symbol first (most events are of one symbol)
        match self.symbols.get(self.last_sym as usize) {
            Some(s) if same_text(s.as_bytes(), symbol.as_bytes()) => (Sym(self.last_sym), ps),
            _ => (self.intern(symbol), ps),
        }
    }

    /// `symbol`'s index, added when not seen yet: a run trades one symbol or a few, so a scan
    /// beats hashing the name.
    #[cold]
    fn intern(&mut self, symbol: &str) -> Sym {
        let i = match self.symbols.iter().position(|s| s == symbol) {
            Some(i) => i,
            None => {
                self.symbols.push(symbol.to_string());
                self.positions.push([Decimal::ZERO; 3]);
                self.wants_stop.push([false; 3]);
                self.symbols.len() - 1
            }
        };
        self.last_sym = i as u32;
        Sym(self.last_sym)
    }

    /// The amount of position side `k` (zero when none was reported).
    #[inline]
    fn position(&self, k: Key) -> Decimal {
        self.positions[k.0 .0 as usize][slot(k.1)]
    }

    /// Whether side `k`'s signal asked for a stop.
    #[inline]
    fn wants(&self, k: Key) -> bool {
        self.wants_stop[k.0 .0 as usize][slot(k.1)]
    }

    #[inline]
    fn set_wants(&mut self, k: Key, w: bool) {
        self.wants_stop[k.0 .0 as usize][slot(k.1)] = w;
    }

    /// The symbol's name.
    fn name(&self, s: Sym) -> &str {
        &self.symbols[s.0 as usize]
    }

    /// The entries of `m` in (symbol name, position side) order: the order of violations found
    /// by scanning it.
    fn by_name<V: Copy>(&self, m: &VecMap<Key, V>) -> Vec<(Key, V)> {
        let mut v: Vec<(Key, V)> = m.iter().map(|(k, v)| (*k, *v)).collect();
        v.sort_by(|a, b| (self.name(a.0 .0), a.0 .1).cmp(&(self.name(b.0 .0), b.0 .1)));
        v
    }

    /// True when `leg` is closed and cannot fill any more (an algo leg: no open child either).
    fn leg_gone(&self, leg: LegId) -> bool {
        !self.leg_open(leg)
            && match leg {
                LegId::Algo(a) => !self.open_children.contains_key(&a),
                LegId::Order(_) => true,
            }
    }

    /// Forgets what closed before `now`: a gone leg's orphan marks and stop placement, and
    /// pairs no longer tracked whose legs are gone. Nothing later can name them (a closed order
    /// gets no more updates; what its closing caused — the fill's ACCOUNT_UPDATE, the child
    /// order of a triggered algo order — comes at the same instant).
    fn prune(&mut self, now: TimeMs) {
        if self.retire.is_empty() {
            return;
        }
        // filtered in place (the vector keeps its allocation); nothing below adds to it
        let mut items = std::mem::take(&mut self.retire);
        items.retain(|&(t, it)| {
            if t >= now {
                return true;
            }
            match it {
                Retire::Leg(leg) => {
                    if self.leg_gone(leg) {
                        // its orphan marks and stop go; its pair link stays until the pair goes
                        let (mut stop, mut pair) = (None, None);
                        self.legs.update_or_remove(&leg, |i| {
                            (i.orphan, i.reported_orphan, i.born_orphan) = (false, false, false);
                            (stop, pair) = (i.stop.take(), i.pair);
                            !i.is_empty()
                        });
                        if let Some((seq, _)) = stop {
                            self.unpin(&seq);
                        }
                        if let Some(p) = pair {
                            self.prune_pair(p);
                        }
                    }
                }
                Retire::Pair(p) => self.prune_pair(p),
            }
            false
        });
        self.retire = items;
    }

    fn prune_pair(&mut self, p: PairId) {
        let Some(ps) = self.pairs.get(&p) else {
            return;
        };
        if ps.tracked || !self.leg_gone(ps.sl) || !self.leg_gone(ps.tp) {
            return;
        }
        let (sl, tp, seq) = (ps.sl, ps.tp, ps.placed_seq);
        self.pairs.remove(&p);
        for leg in [sl, tp] {
            // its link to this pair goes (not one to a pair placed since), and its entry with
            // it when nothing else is left in it
            self.legs.update_or_remove(&leg, |i| {
                if i.pair != Some(p) {
                    return true;
                }
                i.pair = None;
                !i.is_empty()
            });
        }
        self.unpin(&seq);
    }

    /// `leg`'s entry, made when it has none.
    #[inline]
    fn leg_info(&mut self, leg: LegId) -> &mut LegInfo {
        self.legs.get_or_default(leg)
    }

    /// The pair `leg` is a leg of.
    #[inline]
    fn pair_of(&self, leg: LegId) -> Option<PairId> {
        self.legs.get(&leg).and_then(|i| i.pair)
    }

    /// Notes that `leg` closed at `now`, once: an algo leg closes with its child order, at the
    /// same instant (`retire` is in time order, so only its tail can hold the same item).
    fn retire_leg(&mut self, now: TimeMs, leg: LegId) {
        let it = Retire::Leg(leg);
        let noted = self
            .retire
            .iter()
            .rev()
            .take_while(|e| e.0 == now)
            .any(|e| e.1 == it);
        if !noted {
            self.retire.push((now, it));
        }
    }

    /// Lets go of a pinned record, kept as a spare (up to a few) for its strings.
    fn unpin(&mut self, seq: &Seq) {
        if let Some(r) = self.pinned.remove(seq) {
            if self.spare_records.len() < SPARE_RECORDS {
                self.spare_records.push(r);
            }
        }
    }

    /// A copy of `r` to pin: a spare record of the same kind refilled (its strings reused; the
    /// kinds pinned are a pair's placement and a stop's, each once per trade), or a clone.
    fn copy_record(&mut self, r: &EventRecord) -> Box<EventRecord> {
        let kind = std::mem::discriminant(&r.event);
        let Some(i) = self
            .spare_records
            .iter()
            .position(|s| std::mem::discriminant(&s.event) == kind)
        else {
            return Box::new(r.clone());
        };
        let mut d = self.spare_records.swap_remove(i);
        match (&mut d.event, &r.event) {
            (Event::AlgoUpdate(to), Event::AlgoUpdate(from)) => to.clone_from(from),
            (Event::OrderTradeUpdate(to), Event::OrderTradeUpdate(from)) => to.clone_from(from),
            (
                Event::Engine(EngineEvent::PairPlaced {
                    pair,
                    symbol,
                    position_side,
                    sl,
                    tp,
                }),
                Event::Engine(EngineEvent::PairPlaced {
                    pair: p,
                    symbol: s,
                    position_side: q,
                    sl: l,
                    tp: t,
                }),
            ) => {
                symbol.clone_from(s);
                (*pair, *position_side, *sl, *tp) = (*p, *q, *l, *t);
            }
            (to, from) => *to = from.clone(),
        }
        d.seq = r.seq;
        d.time_ms = r.time_ms;
        d.source = r.source;
        d
    }

    /// Checks a whole log and the deadlines up to `end`.
    pub fn check_log(cfg: CheckConfig, log: &EventLog, end: TimeMs) -> Vec<Violation> {
        let mut c = Checker::new(cfg);
        for r in log.records() {
            c.observe(r);
        }
        c.finish(end)
    }

    fn violate(&mut self, inv: Invariant, time: TimeMs, pair: Option<PairId>, msg: String) {
        // the last `trail_len` seqs written (fewer at first), oldest first
        let kept = self.trail_n.min(self.cfg.trail_len as u64);
        let mask = self.trail.len() as u64 - 1;
        let mut trail: Vec<Seq> = (self.trail_n - kept..self.trail_n)
            .map(|n| self.trail[(n & mask) as usize])
            .collect();
        if let Some(p) = pair.and_then(|p| self.pairs.get(&p)) {
            if !trail.contains(&p.placed_seq) {
                trail.insert(0, p.placed_seq);
            }
        }
        self.violations.push(Violation {
            invariant: inv,
            seq: self.last_seq,
            time_ms: time,
            pair,
            message: msg,
            trail,
        });
    }

    /// (Always inlined: a match and one search, asked twice by every leg that leaves a pair.)
    #[inline(always)]
    fn leg_open(&self, leg: LegId) -> bool {
        match leg {
            LegId::Order(id) => self.orders.get(&id).is_some_and(|o| o.open),
            LegId::Algo(id) => self.algos.get(&id).is_some_and(|a| a.open),
        }
    }

    /// One-way mode: notes the client id of a plain conditional order request as an entry's
    /// (requested while the engine places a signal's entry) or a leg's (any other time).
    #[inline(never)]
    fn one_way_request(&mut self, params: &RequestParams) {
        let (conditional, ro, cp, cid) = match params {
            RequestParams::Order(o) => (
                o.order_type.is_conditional(),
                o.reduce_only,
                o.close_position,
                &o.client_order_id,
            ),
            RequestParams::Algo(a) => (
                a.order_type.is_conditional(),
                a.reduce_only,
                a.close_position,
                &a.client_algo_id,
            ),
            RequestParams::Other(_) => return,
        };
        if !conditional || ro == Some(true) || cp == Some(true) {
            return;
        }
        if let Some(c) = cid.as_ref().filter(|_| self.signals_seen) {
            if self.entry_phase {
                self.entry_cids.insert(c.clone());
            } else {
                self.leg_cids.insert(c.clone());
            }
        }
    }

    /// Whether a plain conditional order that opens its side (hedge mode: always an entry;
    /// one-way mode: an entry or a leg missing reduce-only) is an entry, from its request: one
    /// requested while the engine placed an entry is one (and is remembered as such), one
    /// requested at any other time is a leg; one whose request is unknown (no client id, or not
    /// the engine's) is taken for an entry.
    fn one_way_entry(&mut self, cid: &str, leg: LegId) -> bool {
        if self.cfg.position_mode != PositionMode::OneWay {
            return true;
        }
        if self.entry_cids.remove(cid) {
            self.entry_legs.insert(leg);
            self.prot_gen += 1;
            return true;
        }
        !self.leg_cids.remove(cid)
    }

    /// Open protective orders on the closing side of a position of `amt` on side `ps` (orders
    /// first, then algo orders, each in id order), with what protection needs of each: (leg,
    /// whether a stop, quantity, close-position).
    fn protective(
        &self,
        ps: PositionSide,
        amt: Decimal,
    ) -> impl Iterator<Item = (LegId, bool, Decimal, bool)> + '_ {
        let closing = closing_side(amt);
        let orders = self.orders.iter().filter_map(move |(id, o)| {
            self.order_protects(*id, o, ps, closing).then_some((
                LegId::Order(*id),
                o.orig_type.is_stop(),
                o.qty,
                o.close_position,
            ))
        });
        let algos = self.algos.iter().filter_map(move |(id, a)| {
            self.algo_protects(*id, a, ps, closing).then_some((
                LegId::Algo(*id),
                a.otype.is_stop(),
                a.qty,
                a.close_position,
            ))
        });
        orders.chain(algos)
    }

    /// Whether order `id` protects side `ps` (closing it with a `closing` order).
    #[inline]
    fn order_protects(&self, id: OrderId, o: &OrderState, ps: PositionSide, closing: Side) -> bool {
        o.open
            && o.ps == ps
            && o.side == closing
            && o.from_algo.is_none()
            && (o.orig_type.is_conditional() || o.reduce_only || o.close_position)
            && !self.entry_legs.contains(&LegId::Order(id))
    }

    /// Whether algo order `id` protects side `ps` (closing it with a `closing` order).
    /// (Every algo order may: see `on_algo`. Regular orders: see [`may_protect`].)
    #[inline]
    fn algo_protects(&self, id: AlgoId, a: &AlgoState, ps: PositionSide, closing: Side) -> bool {
        a.open && a.ps == ps && a.side == closing && !self.entry_legs.contains(&LegId::Algo(id))
    }

    /// Deadline `t` set when `f0` faults had been seen, stretched by one reaction window per
    /// fault seen since: a cycle the engine lost to a timeout, 5xx, rate limit or dropped event
    /// was no chance to react.
    fn stretched(&self, t: TimeMs, f0: u64) -> TimeMs {
        t.plus((self.faults - f0) as i64 * self.cfg.reaction_ms)
    }

    /// Sets a check `d` due one reaction window after `from`.
    fn schedule(&mut self, from: TimeMs, d: Due) {
        self.due
            .insert((from.plus(self.cfg.reaction_ms), d, self.faults, from));
    }

    fn run_due(&mut self, upto: TimeMs, inclusive: bool) {
        while let Some(&(t0, d, f0, from)) = self.due.first() {
            if t0 > upto || (!inclusive && t0 == upto) {
                break;
            }
            self.due.pop_first();
            let t = self.stretched(t0, f0);
            if t > t0 {
                self.due.insert((t, d, self.faults, from));
                continue;
            }
            // the deadline actually used: the reaction window stretched by the faults met
            let waited = t.0 - from.0;
            match d {
                Due::Orphan(leg) => {
                    if !self.leg_open(leg) {
                        continue;
                    }
                    let i = self.leg_info(leg);
                    if !std::mem::replace(&mut i.reported_orphan, true) {
                        let (pair, born) = (i.pair, i.born_orphan);
                        let what = if born {
                            "it was placed with no position on its side"
                        } else {
                            "its position closed"
                        };
                        self.violate(
                            Invariant::Orphan,
                            t,
                            pair,
                            format!("{leg} still open {waited} ms after {what}"),
                        );
                    }
                }
                Due::Tracked(p) => {
                    let Some(ps) = self.pairs.get(&p) else {
                        continue;
                    };
                    if ps.tracked && !self.leg_open(ps.sl) && !self.leg_open(ps.tp) {
                        self.violate(
                            Invariant::TrackingDrift,
                            t,
                            Some(p),
                            format!(
                                "engine still tracks pair {p} {waited} ms after both legs left the venue"
                            ),
                        );
                    }
                }
                Due::Dropped(p, leg) => {
                    let retracked = self
                        .pair_of(leg)
                        .and_then(|q| self.pairs.get(&q))
                        .is_some_and(|q| q.tracked);
                    if self.leg_open(leg) && !retracked {
                        self.violate(
                            Invariant::TrackingDrift,
                            t,
                            Some(p),
                            format!(
                                "engine dropped pair {p} while its leg {leg} is still live {waited} ms later"
                            ),
                        );
                    }
                }
            }
        }
    }

    fn time_checks(&mut self, now: TimeMs) {
        let w = self.cfg.reaction_ms;
        // the common case: nothing has come due, so nothing is copied
        let due = |m: &VecMap<Key, (TimeMs, u64)>| {
            m.values()
                .any(|&(since, f0)| self.stretched(since.plus(w), f0) < now)
        };
        if !due(&self.naked_since) && !due(&self.excess_since) {
            return;
        }
        for (k, (since, f0)) in self.by_name(&self.naked_since) {
            let due = self.stretched(since.plus(w), f0);
            if due < now {
                self.naked_since.remove(&k);
                self.violate(
                    Invariant::NakedPosition,
                    due,
                    None,
                    format!(
                        "{} {} position had no live stop for more than {} ms (since {since})",
                        self.name(k.0),
                        k.1.as_str(),
                        due.0 - since.0
                    ),
                );
                // re-arm: count one violation per episode
                self.naked_since
                    .insert(k, (TimeMs(i64::MAX / 2), self.faults));
            }
        }
        for (k, (since, f0)) in self.by_name(&self.excess_since) {
            let due = self.stretched(since.plus(w), f0);
            if due < now {
                self.excess_since
                    .insert(k, (TimeMs(i64::MAX / 2), self.faults));
                self.violate(
                    Invariant::ExcessProtection,
                    due,
                    None,
                    format!(
                        "{} {} resting protection exceeded the position for more than {} ms (since {since})",
                        self.name(k.0),
                        k.1.as_str(),
                        due.0 - since.0
                    ),
                );
            }
        }
    }

    /// Re-evaluates naked and excess state of one position side (the check whether anything
    /// changed inlined where it is called, most events; the evaluation apart).
    #[inline]
    fn protection_state(&mut self, key: Key) {
        if self.prot_seen == Some((key, self.prot_gen)) {
            return;
        }
        self.evaluate_protection(key);
    }

    /// [`Self::protection_state`] when something it reads changed.
    fn evaluate_protection(&mut self, key: Key) {
        self.prot_seen = Some((key, self.prot_gen));
        let amt = self.position(key);
        if amt.is_zero() {
            self.naked_since.remove(&key);
            self.excess_since.remove(&key);
            return;
        }
        // counted first: (close-position orders, sized orders) of stops and of the others
        // (plain loops over `protective`'s legs: this runs for most events)
        let (mut stops, mut others) = ((0u32, 0u32), (0u32, 0u32));
        let mut tally = |is_stop: bool, close: bool| {
            let c = if is_stop { &mut stops } else { &mut others };
            if close {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
        };
        let closing = closing_side(amt);
        for (id, o) in self.orders.iter() {
            if self.order_protects(*id, o, key.1, closing) {
                tally(o.orig_type.is_stop(), o.close_position);
            }
        }
        for (id, a) in self.algos.iter() {
            if self.algo_protects(*id, a, key.1, closing) {
                tally(a.otype.is_stop(), a.close_position);
            }
        }
        let has_stop = stops != (0, 0);
        // no sized order and at most one close-position order (which covers the position
        // exactly) of each kind cannot exceed the position: the usual case needs no sums
        let summed = |c: (u32, u32)| c.1 > 0 || c.0 > 1;
        let excess = (summed(stops) || summed(others)) && self.covers_exceed(key.1, amt);
        let wants = self.wants(key);
        if wants && !has_stop {
            // one search where a lookup then an insert make two
            let since = (self.now, self.faults);
            self.naked_since.get_or_insert_with(key, || since);
        } else {
            self.naked_since.remove(&key);
        }
        if excess {
            let since = (self.now, self.faults);
            self.excess_since.get_or_insert_with(key, || since);
        } else {
            self.excess_since.remove(&key);
        }
    }

    /// Whether the resting stops, or the other protective orders, of a position of `amt` on
    /// side `ps` add up to more than the position (a close-position order covers all of it).
    #[inline(never)]
    fn covers_exceed(&self, ps: PositionSide, amt: Decimal) -> bool {
        let size = amt.abs();
        let mut stop_cover = Decimal::ZERO;
        let mut tp_cover = Decimal::ZERO;
        for (_, is_stop, qty, close) in self.protective(ps, amt) {
            let cover = if close { size } else { qty };
            if is_stop {
                stop_cover += cover;
            } else {
                tp_cover += cover;
            }
        }
        stop_cover > size || tp_cover > size
    }

    /// Feeds one record.
    pub fn observe(&mut self, r: &EventRecord) {
        if r.time_ms > self.now {
            // most instants have nothing pending: no call
            if !self.due.is_empty() {
                self.run_due(r.time_ms, false);
            }
            if !self.naked_since.is_empty() || !self.excess_since.is_empty() {
                self.time_checks(r.time_ms);
            }
            self.prune(r.time_ms);
            self.now = r.time_ms;
        }
        self.last_seq = r.seq;
        let now = r.time_ms;
        // every kind but equity samples goes into the trail first (`note_trail` in each arm: one
        // test of the record's kind rather than two)
        match &r.event {
            Event::Equity { .. } => {}
            Event::Request {
                call,
                endpoint,
                params,
                ..
            } => {
                self.note_trail(r.seq);
                if matches!(endpoint, Endpoint::NewOrder | Endpoint::NewAlgoOrder)
                    && self.cfg.position_mode == PositionMode::OneWay
                {
                    self.one_way_request(params);
                }
                if matches!(endpoint, Endpoint::NewOrder | Endpoint::NewAlgoOrder) {
                    let (ps, ro) = match params {
                        RequestParams::Order(o) => (o.position_side, o.reduce_only),
                        RequestParams::Algo(a) => (a.position_side, a.reduce_only),
                        RequestParams::Other(_) => (None, None),
                    };
                    if mode_mismatch(self.cfg.position_mode, ps, ro) {
                        self.mode_problem(*call, ps, ro);
                    }
                }
            }
            // an accepted call with no request under suspicion changes nothing (most answers)
            Event::Response {
                outcome: CallOutcome::Ok(_),
                ..
            } if self.pending_calls.is_empty() => self.note_trail(r.seq),
            Event::Response { call, outcome, .. } => {
                self.note_trail(r.seq);
                let lost = match outcome {
                    CallOutcome::Fault { .. } => true,
                    CallOutcome::Rejected(e) => {
                        e.http == 429
                            || e.http == 418
                            || e.http >= 500
                            || e.code == -1003
                            || e.code == -1008
                    }
                    CallOutcome::Ok(_) => false,
                };
                if lost {
                    self.faults += 1;
                }
                if let Some(p) = self.pending_calls.remove(call) {
                    self.mode_answered(p, outcome, now);
                }
            }
            Event::OrderTradeUpdate(o) => {
                self.note_trail(r.seq);
                self.on_order(o, now)
            }
            Event::AlgoUpdate(a) => {
                self.note_trail(r.seq);
                self.on_algo(a, now, r.seq)
            }
            Event::StreamDropped { .. } => {
                self.note_trail(r.seq);
                self.faults += 1
            }
            Event::AccountUpdate(u) => {
                self.note_trail(r.seq);
                self.on_account(u, now)
            }
            Event::Engine(e) => {
                self.note_trail(r.seq);
                if self.pin && matches!(e, EngineEvent::PairPlaced { .. }) {
                    self.pin_now = true;
                }
                self.on_engine(e, now, r.seq)
            }
            _ => self.note_trail(r.seq),
        }
        if self.pin_now {
            self.pin_now = false;
            if self.pin {
                let copy = self.copy_record(r);
                self.pinned.insert(r.seq, copy);
            }
        }
    }

    /// Writes `seq` into the trail's ring.
    #[inline(always)]
    fn note_trail(&mut self, seq: Seq) {
        let mask = self.trail.len() - 1;
        self.trail[self.trail_n as usize & mask] = seq;
        self.trail_n += 1;
    }

    /// Notes why request `call` breaks reduce-only-mode (its answer completes the violation).
    #[cold]
    #[inline(never)]
    fn mode_problem(&mut self, call: u64, ps: Option<PositionSide>, ro: Option<bool>) {
        let problem = match self.cfg.position_mode {
            PositionMode::Hedge if ro.is_some() => Some(format!(
                "reduceOnly={} sent with positionSide={} in hedge mode",
                ro.unwrap_or(false),
                ps.map(|p| p.as_str()).unwrap_or("none")
            )),
            PositionMode::Hedge
                if !matches!(ps, Some(PositionSide::Long | PositionSide::Short)) =>
            {
                Some("hedge-mode order without positionSide LONG/SHORT".to_string())
            }
            PositionMode::OneWay
                if matches!(ps, Some(PositionSide::Long | PositionSide::Short)) =>
            {
                Some(format!(
                    "positionSide={} sent in one-way mode",
                    ps.map(|p| p.as_str()).unwrap_or("")
                ))
            }
            _ => None,
        };
        if let Some(p) = problem {
            self.pending_calls.insert(call, p);
        }
    }

    /// The answer to a request that broke reduce-only-mode: the violation.
    #[cold]
    #[inline(never)]
    fn mode_answered(&mut self, p: String, outcome: &CallOutcome, now: TimeMs) {
        let answer = match outcome {
            CallOutcome::Rejected(e) => {
                format!("Binance answered {} {}", e.code, e.msg)
            }
            CallOutcome::Ok(_) => "accepted".to_string(),
            CallOutcome::Fault { .. } => "transport fault".to_string(),
        };
        self.violate(
            Invariant::ReduceOnlyMode,
            now,
            None,
            format!("{p}: {answer}"),
        );
    }

    /// orphan: an orphaned leg filled.
    #[cold]
    #[inline(never)]
    fn orphan_filled(&mut self, leg: LegId, o: &OrderUpdate, now: TimeMs) {
        let pair = self.pair_of(leg);
        self.violate(
            Invariant::Orphan,
            now,
            pair,
            format!(
                "orphaned {leg} filled {} {} @ {}",
                o.side.as_str(),
                o.last_qty,
                o.last_price
            ),
        );
    }

    /// one-leg: the second leg of pair `p` filled.
    #[cold]
    #[inline(never)]
    fn both_legs_filled(&mut self, p: PairId, leg: LegId, o: &OrderUpdate, now: TimeMs) {
        self.violate(
            Invariant::OneLeg,
            now,
            Some(p),
            format!(
                "both legs of pair {p} filled (second: {leg} {} @ {})",
                o.last_qty, o.last_price
            ),
        );
    }

    /// books-balance: the wallet is off the books (which then follow the wallet).
    #[cold]
    #[inline(never)]
    fn books_off(&mut self, u: &AccountUpdate, now: TimeMs) {
        self.violate(
            Invariant::BooksBalance,
            now,
            None,
            format!(
                "wallet {} != initial + realized - fees + funding = {}",
                u.wallet_balance, self.expected_wallet
            ),
        );
        self.expected_wallet = u.wallet_balance;
    }

    /// no-flip: protective order `oid` moved side `k` from `b` to `after`.
    #[cold]
    #[inline(never)]
    fn flipped(&mut self, k: Key, b: Decimal, after: Decimal, oid: OrderId, now: TimeMs) {
        self.violate(
            Invariant::NoFlip,
            now,
            self.pair_of(LegId::Order(oid)),
            format!(
                "protective order {oid} moved {} {} position from {b} to {after}",
                self.name(k.0),
                k.1.as_str()
            ),
        );
    }

    fn on_algo(&mut self, a: &AlgoUpdate, now: TimeMs, seq: Seq) {
        let open = a.status.is_open();
        // any algo order can protect: new, opened or closed, it may change what protects.
        // `algos` holds open algo orders only (a closed one leaves below), so an update that
        // closes one it does not hold (a FINISHED after its TRIGGERED) changes nothing there: it
        // is neither added (to be removed again below; nothing in between tells a closed entry
        // from a missing one) nor counted as a change.
        let known = match self.algos.get_mut(&a.algo_id) {
            Some(st) => {
                if st.open != open {
                    self.prot_gen += 1;
                }
                st.open = open;
                true
            }
            None => {
                if open {
                    self.prot_gen += 1;
                    self.algos.insert(
                        a.algo_id,
                        AlgoState {
                            side: a.side,
                            ps: a.position_side,
                            otype: a.order_type,
                            close_position: a.close_position,
                            open,
                            qty: a.quantity,
                        },
                    );
                }
                false
            }
        };
        let key = self.key_for(&a.symbol, a.position_side);
        if a.order_type.is_stop() {
            let leg = LegId::Algo(a.algo_id);
            match a.status {
                AlgoStatus::New => {
                    self.place_stop(leg, seq, a.trigger_price);
                }
                AlgoStatus::Expired => self.stop_expired(now, key, leg),
                _ => {}
            }
        }
        if a.status == AlgoStatus::New {
            if self.entry_phase {
                self.phase_ids.insert(a.algo_id.0);
            }
            let amt = self.position(key);
            // placed for a position that does not exist: orphan from birth (an
            // opening-side order is a resting entry, not protection)
            let entry = opens_side(a.side, a.position_side, a.reduce_only, a.close_position)
                && self.one_way_entry(&a.client_algo_id, LegId::Algo(a.algo_id));
            if amt.is_zero() && !entry {
                self.schedule(now, Due::Orphan(LegId::Algo(a.algo_id)));
                let i = self.leg_info(LegId::Algo(a.algo_id));
                (i.orphan, i.born_orphan) = (true, true);
            }
        }
        if !open {
            let mut changed = known;
            if !matches!(a.status, AlgoStatus::Triggered | AlgoStatus::Finished) {
                // a STOP entry that will never fill
                self.entry_wants.remove(&LegId::Algo(a.algo_id));
                changed |= self.entry_legs.remove(&LegId::Algo(a.algo_id));
            }
            self.leg_left(LegId::Algo(a.algo_id), now);
            if known {
                self.algos.remove(&a.algo_id);
            }
            // what protection reads changed only if an algo order left or an entry leg ended
            if changed {
                self.prot_gen += 1;
            }
            self.retire_leg(now, LegId::Algo(a.algo_id));
        }
        self.protection_state(key);
    }

    fn leg_left(&mut self, leg: LegId, now: TimeMs) {
        if let Some(p) = self.pair_of(leg) {
            let ps = &self.pairs[&p];
            if ps.tracked && !self.leg_open(ps.sl) && !self.leg_open(ps.tp) {
                self.schedule(now, Due::Tracked(p));
            }
        }
    }

    fn on_order(&mut self, o: &OrderUpdate, now: TimeMs) {
        let open = !o.status.is_terminal();
        if self.entry_phase && o.exec_type == ExecType::New {
            self.phase_ids.insert(o.order_id.0);
        }
        let traded = o.exec_type == ExecType::Trade;
        // `orders` holds open orders only (a closed one leaves below): a known order was open
        let (st, was_open) = match self.orders.get_mut(&o.order_id) {
            Some(st) => {
                let changed = st.open != open || st.qty != o.orig_qty;
                st.open = open;
                st.qty = o.orig_qty;
                st.traded |= traded;
                if changed && may_protect(st) {
                    self.prot_gen += 1;
                }
                (*st, true)
            }
            None => {
                let st = OrderState {
                    side: o.side,
                    ps: o.position_side,
                    orig_type: o.orig_type,
                    reduce_only: o.reduce_only,
                    close_position: o.close_position,
                    open,
                    qty: o.orig_qty,
                    from_algo: o.from_algo,
                    traded,
                };
                self.orders.insert(o.order_id, st);
                if may_protect(&st) {
                    self.prot_gen += 1;
                }
                (st, false)
            }
        };
        if let Some(a) = st.from_algo {
            if open && !was_open {
                *self.open_children.get_or_insert_with(a, || 0) += 1;
            } else if !open && was_open {
                if let Some(n) = self.open_children.get_mut(&a) {
                    *n -= 1;
                    if *n == 0 {
                        self.open_children.remove(&a);
                    }
                }
            }
        }
        let leg = leg_of_order(&st, o.order_id);
        let key = self.key_for(&o.symbol, o.position_side);
        if st.orig_type.is_stop() && st.from_algo.is_none() {
            if o.exec_type == ExecType::New && o.order_type == o.orig_type {
                self.place_stop(leg, self.last_seq, o.stop_price);
            }
            if o.exec_type == ExecType::Expired && o.expiry_reason == ExpiryReason::Liquidation {
                self.stop_expired(now, key, leg);
            }
        }
        // an ADL (`adl_autoclose`) is no liquidation: the stop was not beyond anything
        if o.exec_type == ExecType::Calculated
            && o.order_type == OrderType::Liquidation
            && o.client_order_id != crate::exchange::external::ADL_CLIENT_ID
        {
            self.check_liquidation(o, key, now);
        }
        if o.exec_type == ExecType::New && st.from_algo.is_none() && st.orig_type.is_conditional() {
            let amt = self.position(key);
            let entry = o.order_type == o.orig_type
                && opens_side(st.side, st.ps, st.reduce_only, st.close_position)
                && self.one_way_entry(&o.client_order_id, leg);
            if amt.is_zero() && o.order_type == o.orig_type && !entry {
                self.schedule(now, Due::Orphan(leg));
                let i = self.leg_info(leg);
                (i.orphan, i.born_orphan) = (true, true);
            }
        }
        if traded {
            if let Some(&w) = self.entry_wants.get(&leg) {
                self.pending_wants = Some((key, st.side, w));
            }
        }
        // a legacy STOP entry's trigger (EXPIRED er=8) carries on under the same id as a
        // MARKET/LIMIT order: the entry is still coming
        if !open && o.expiry_reason != ExpiryReason::LegacyTriggered {
            self.entry_wants.remove(&leg);
        }
        if matches!(o.exec_type, ExecType::Trade | ExecType::Calculated) {
            // one search for both: whether it is an orphan, and its pair
            let (orphan_fill, pair) = match self.legs.get_mut(&leg) {
                Some(i) => {
                    let first = i.orphan && !i.reported_orphan;
                    i.reported_orphan |= first;
                    (first, i.pair)
                }
                None => (false, None),
            };
            if orphan_fill {
                self.orphan_filled(leg, o, now);
            }
            // one leg only
            if let Some(p) = pair {
                let pair = self.pairs.get_mut(&p).expect("pair exists");
                if pair.fill(leg) >= 2 && !pair.reported_double {
                    pair.reported_double = true;
                    self.both_legs_filled(p, leg, o, now);
                }
            }
            let protective = (st.orig_type.is_conditional()
                && ((self.cfg.position_mode == PositionMode::OneWay
                    && !self.entry_legs.contains(&leg))
                    || matches!(
                        (o.position_side, o.side),
                        (PositionSide::Long, Side::Sell) | (PositionSide::Short, Side::Buy)
                    )))
                || st.reduce_only
                || st.close_position;
            if protective {
                let before = self.position(key);
                self.pending_flip = Some((key, before, o.order_id));
            }
        }
        if !open {
            if o.expiry_reason != ExpiryReason::LegacyTriggered && self.entry_legs.remove(&leg) {
                self.prot_gen += 1;
            }
            self.leg_left(leg, now);
            // closing, an order that may protect already counted as a change above
            self.orders.remove(&o.order_id);
            self.retire_leg(now, leg);
        }
        self.protection_state(key);
    }

    /// Records a stop leg's placement (and pins its record when the log does not keep it).
    fn place_stop(&mut self, leg: LegId, seq: Seq, trigger: Decimal) {
        if let Some((old, _)) = self.leg_info(leg).stop.replace((seq, trigger)) {
            if old != seq {
                self.unpin(&old);
            }
        }
        self.pin_now = true;
    }

    fn stop_expired(&mut self, now: TimeMs, key: Key, leg: LegId) {
        self.stops_expired_now.retain(|e| e.0 == now);
        self.stops_expired_now.push((now, key, leg));
    }

    /// stop-beyond-liquidation: a liquidation while a stop rested on that position side (still
    /// open, or expired by this very liquidation at the same time).
    #[cold]
    #[inline(never)]
    fn check_liquidation(&mut self, o: &OrderUpdate, key: Key, now: TimeMs) {
        let amt = self.position(key);
        let mut stops: Vec<LegId> = self
            .protective(key.1, amt)
            .filter(|p| p.1)
            .map(|p| p.0)
            .collect();
        stops.extend(
            self.stops_expired_now
                .iter()
                .filter(|e| e.0 == now && e.1 == key)
                .map(|e| e.2),
        );
        let Some(&leg) = stops.first() else { return };
        let (placed, trigger, pair) = match self.legs.get(&leg) {
            Some(i) => {
                let (placed, trigger) = i.stop.unwrap_or((self.last_seq, Decimal::ZERO));
                (placed, trigger, i.pair)
            }
            None => (self.last_seq, Decimal::ZERO, None),
        };
        self.violate(
            Invariant::StopBeyondLiquidation,
            now,
            pair,
            format!(
                "{} {} position {amt} liquidated {} @ {} while stop {leg} (trigger {trigger}) was resting",
                self.name(key.0),
                key.1.as_str(),
                o.last_qty,
                o.last_price
            ),
        );
        if let Some(v) = self.violations.last_mut() {
            if !v.trail.contains(&placed) {
                v.trail.insert(0, placed);
            }
        }
    }

    fn on_account(&mut self, u: &AccountUpdate, now: TimeMs) {
        self.expected_wallet += u.realized_pnl - u.fee + u.balance_change;
        if self.expected_wallet != u.wallet_balance {
            self.books_off(u, now);
        }
        for row in &u.positions {
            let key = self.key_for(&row.symbol, row.position_side);
            let before = self.position(key);
            let after = row.amount;
            if let Some((k, b, oid)) = self.pending_flip.take() {
                if k == key {
                    let flipped = !b.is_zero()
                        && !after.is_zero()
                        && b.is_sign_positive() != after.is_sign_positive();
                    if flipped || after.abs() > b.abs() {
                        self.flipped(k, b, after, oid, now);
                    }
                }
            }
            let ended = !before.is_zero()
                && (after.is_zero() || before.is_sign_positive() != after.is_sign_positive());
            if ended {
                // every protective order of the closed position must be gone within the window
                let mut legs = std::mem::take(&mut self.scratch_legs);
                legs.extend(self.protective(key.1, before).map(|p| p.0));
                for &leg in &legs {
                    let i = self.leg_info(leg);
                    (i.orphan, i.born_orphan) = (true, false);
                    self.schedule(now, Due::Orphan(leg));
                }
                legs.clear();
                self.scratch_legs = legs;
                self.set_wants(key, false);
                self.prot_gen += 1;
            }
            // a resting entry accepted while its side was flat just filled: from now on the
            // side wants what its signal asked for
            if let Some((k, side, w)) = self.pending_wants.take() {
                if k == key {
                    let entry_side = match side {
                        Side::Buy => after > Decimal::ZERO,
                        Side::Sell => after < Decimal::ZERO,
                    };
                    if entry_side {
                        self.set_wants(key, w);
                        self.prot_gen += 1;
                    }
                } else {
                    self.pending_wants = Some((k, side, w));
                }
            }
            self.positions[key.0 .0 as usize][slot(key.1)] = after;
            self.prot_gen += 1;
            self.protection_state(key);
        }
    }

    fn on_engine(&mut self, e: &EngineEvent, now: TimeMs, seq: Seq) {
        match e {
            EngineEvent::Signal { .. } => {
                self.entry_phase = self.cfg.position_mode == PositionMode::OneWay;
                self.phase_ids.clear();
                self.signals_seen = true;
            }
            EngineEvent::SignalResult { .. } => {
                self.entry_phase = false;
                self.phase_ids.clear();
            }
            EngineEvent::EntryAccepted {
                symbol,
                position_side,
                wants_stop,
                order_id,
            } => {
                if self.phase_ids.contains(&order_id.0) {
                    self.entry_phase = false;
                }
                // the latest entry on a side to fill says whether the side wants a stop: a
                // resting entry (nothing traded yet; a STOP entry on the algo API by its algo
                // id) says so when it fills, whether or not its side already holds a position;
                // an entry reported after its side already went flat protects nothing
                let key = self.key_for(symbol, *position_side);
                let resting = match self.orders.get(order_id) {
                    Some(o) => o.open && !o.traded,
                    None => self.algos.get(&AlgoId(order_id.0)).is_some_and(|a| a.open),
                };
                let open = !self.position(key).is_zero();
                if resting {
                    let leg = match self.orders.get(order_id) {
                        Some(_) => LegId::Order(*order_id),
                        None => LegId::Algo(AlgoId(order_id.0)),
                    };
                    self.entry_wants.insert(leg, *wants_stop);
                } else if open {
                    self.set_wants(key, *wants_stop);
                    self.prot_gen += 1;
                    self.protection_state(key);
                }
            }
            EngineEvent::PairPlaced { pair, sl, tp, .. } => {
                self.pairs.insert(
                    *pair,
                    PairState {
                        sl: *sl,
                        tp: *tp,
                        filled: [None; 2],
                        tracked: true,
                        placed_seq: seq,
                        reported_double: false,
                    },
                );
                self.leg_info(*sl).pair = Some(*pair);
                self.leg_info(*tp).pair = Some(*pair);
                // a leg tracked again (recovery adopting it after a restart) settles the checks
                // of the pairs that dropped it; if this pair is dropped in turn, it gets its own
                let (sl, tp) = (*sl, *tp);
                self.due.retain(
                    |(_, d, _, _)| !matches!(d, Due::Dropped(_, l) if *l == sl || *l == tp),
                );
                if !self.leg_open(sl) && !self.leg_open(tp) {
                    self.schedule(now, Due::Tracked(*pair));
                }
            }
            EngineEvent::PairDropped { pair, .. } => {
                self.retire.push((now, Retire::Pair(*pair)));
                if let Some(p) = self.pairs.get_mut(pair) {
                    p.tracked = false;
                    let (sl, tp) = (p.sl, p.tp);
                    for leg in [sl, tp] {
                        // a leg a newer tracked pair holds (re-armed or re-adopted before this
                        // drop) is not left behind
                        let held = self
                            .pairs
                            .iter()
                            .any(|(id, q)| id != pair && q.tracked && (q.sl == leg || q.tp == leg));
                        if !held && self.leg_open(leg) {
                            self.schedule(now, Due::Dropped(*pair, leg));
                        }
                    }
                }
            }
            EngineEvent::Restart => {
                // memory lost: the new process tracks nothing until it says so
                let mut live = Vec::new();
                for (id, p) in self.pairs.iter_mut() {
                    if p.tracked {
                        live.push((*id, p.sl));
                        live.push((*id, p.tp));
                        self.retire.push((now, Retire::Pair(*id)));
                    }
                    p.tracked = false;
                }
                for (id, leg) in live {
                    if self.leg_open(leg) {
                        self.schedule(now, Due::Dropped(id, leg));
                    }
                }
            }
            _ => {}
        }
    }

    /// Runs the remaining deadlines up to `end` and returns every violation, in order found.
    pub fn finish(mut self, end: TimeMs) -> Vec<Violation> {
        self.run_due(end, true);
        self.time_checks(end.plus(1));
        self.violations
    }
}

impl Observer for Checker {
    fn observe(&mut self, r: &EventRecord, log: &EventLog) {
        self.observe_in(r, log);
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

/// Whether a new order's positionSide / reduceOnly break the position mode: the cases
/// `Checker::mode_problem` words (its match, in the same order), told cheaply for every request.
#[inline]
fn mode_mismatch(mode: PositionMode, ps: Option<PositionSide>, ro: Option<bool>) -> bool {
    let sided = matches!(ps, Some(PositionSide::Long | PositionSide::Short));
    match mode {
        PositionMode::Hedge => ro.is_some() || !sided,
        PositionMode::OneWay => sided,
    }
}

/// `a == b`, a symbol's 4 to 16 bytes compared as two overlapping words each (no `memcmp`
/// call per event), other lengths as slices.
#[inline(always)]
fn same_text(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if (8..=16).contains(&n) {
        let w =
            |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
        return w(a, 0) == w(b, 0) && w(a, n - 8) == w(b, n - 8);
    }
    if (4..8).contains(&n) {
        let w =
            |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"));
        return w(a, 0) == w(b, 0) && w(a, n - 4) == w(b, n - 4);
    }
    a == b
}

#[cfg(test)]
mod tests {
    /// `same_text` is `==`: every length to 24, a difference at every position, and equal texts.
    #[test]
    fn same_text_is_eq() {
        for n in 0..=24usize {
            let a: Vec<u8> = (0..n).map(|i| b'A' + (i % 26) as u8).collect();
            assert!(super::same_text(&a, &a.clone()));
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!super::same_text(&a, &b), "{n} {at}");
            }
            let mut longer = a.clone();
            longer.push(b'A');
            assert!(!super::same_text(&a, &longer));
        }
    }

    use super::*;

    /// `mode_mismatch` (asked at every request) says yes exactly where `mode_problem` finds a
    /// problem to note: every mode, positionSide and reduceOnly.
    #[test]
    fn mode_mismatch_is_where_mode_problem_words_one() {
        let mut found = 0;
        for mode in [PositionMode::Hedge, PositionMode::OneWay] {
            for ps in [
                None,
                Some(PositionSide::Both),
                Some(PositionSide::Long),
                Some(PositionSide::Short),
            ] {
                for ro in [None, Some(false), Some(true)] {
                    let mut c = Checker::new(cfg(mode));
                    c.mode_problem(7, ps, ro);
                    let noted = c.pending_calls.get(&7).is_some();
                    assert_eq!(mode_mismatch(mode, ps, ro), noted, "{mode:?} {ps:?} {ro:?}");
                    found += usize::from(noted);
                }
            }
        }
        // both answers occur in both modes
        assert_eq!(found, 10 + 6);
    }

    fn cfg(position_mode: PositionMode) -> CheckConfig {
        CheckConfig {
            position_mode,
            reaction_ms: 5_000,
            initial_balance: Decimal::from(10_000),
            trail_len: 8,
        }
    }

    /// A violation's trail is the seqs of the last `trail_len` records before it (equity
    /// samples left out), oldest first, whatever the trail length and however many records came
    /// before (fewer than the trail, exactly as many, many times as many).
    #[test]
    fn trails_are_the_last_records_seen() {
        let mut rnd = crate::types::xorshift_below(0x9E37_79B9_7F4A_7C15);
        for trail_len in [0usize, 1, 2, 3, 7, 8, 9, 12, 16, 17] {
            let mut c = Checker::new(CheckConfig {
                trail_len,
                ..cfg(PositionMode::Hedge)
            });
            let mut seen: Vec<Seq> = Vec::new();
            let mut want: Vec<Vec<Seq>> = Vec::new();
            let mut seq = 0u64;
            for _ in 0..400 {
                seq += 1 + rnd(3);
                let event = match rnd(4) {
                    0 => Event::Equity {
                        wallet: Decimal::ONE,
                        unrealized: Decimal::ZERO,
                        price: Decimal::ONE,
                    },
                    // a wallet off the books: a books-balance violation at once
                    1 => Event::AccountUpdate(AccountUpdate {
                        reason: AccountReason::Order,
                        wallet_balance: Decimal::from(seq),
                        balance_change: Decimal::ZERO,
                        realized_pnl: Decimal::ZERO,
                        fee: Decimal::ZERO,
                        positions: Vec::new(),
                    }),
                    _ => Event::StreamDropped { of: Seq(seq) },
                };
                let equity = matches!(event, Event::Equity { .. });
                let books = matches!(event, Event::AccountUpdate(_));
                c.observe(&EventRecord {
                    seq: Seq(seq),
                    time_ms: TimeMs(seq as i64),
                    source: Source::Exchange,
                    event,
                });
                if !equity {
                    seen.push(Seq(seq));
                }
                if books {
                    want.push(seen[seen.len().saturating_sub(trail_len)..].to_vec());
                }
            }
            let got: Vec<Vec<Seq>> = c
                .finish(TimeMs(i64::MAX / 4))
                .into_iter()
                .filter(|v| v.invariant == Invariant::BooksBalance)
                .map(|v| v.trail)
                .collect();
            assert_eq!(got, want, "trail_len {trail_len}");
        }
    }

    /// A legacy STOP_MARKET accepted while every side is flat.
    fn stop_new(
        seq: u64,
        id: u64,
        side: Side,
        ps: PositionSide,
        reduce_only: bool,
        close_position: bool,
    ) -> EventRecord {
        EventRecord {
            seq: Seq(seq),
            time_ms: TimeMs(1_000),
            source: Source::Exchange,
            event: Event::OrderTradeUpdate(OrderUpdate {
                stop_price: Decimal::from(10),
                reduce_only,
                position_side: ps,
                close_position,
                ..OrderUpdate::accepted_for_test(
                    "AVAXUSDT",
                    format!("c{id}"),
                    id,
                    side,
                    OrderType::StopMarket,
                    Decimal::from(20),
                )
            }),
        }
    }

    /// The orphan violations' messages when the checker finishes a minute in.
    fn orphan_messages(c: Checker) -> Vec<String> {
        c.finish(TimeMs(61_000))
            .into_iter()
            .filter(|v| v.invariant == Invariant::Orphan)
            .map(|v| v.message)
            .collect()
    }

    /// Orphan messages of a run where the given stops rest, never filled, for a minute.
    fn orphans(mode: PositionMode, stops: &[(Side, PositionSide, bool, bool)]) -> Vec<String> {
        let mut c = Checker::new(cfg(mode));
        for (i, &(side, ps, ro, cp)) in stops.iter().enumerate() {
            c.observe(&stop_new(i as u64, 100 + i as u64, side, ps, ro, cp));
        }
        orphan_messages(c)
    }

    #[test]
    fn a_stop_entry_placed_flat_is_no_orphan_but_a_protective_stop_leg_still_is() {
        use PositionSide::*;
        use Side::*;
        // hedge mode: BUY LONG / SELL SHORT open their side; SELL LONG closePosition protects
        let v = orphans(
            PositionMode::Hedge,
            &[
                (Buy, Long, false, false),
                (Sell, Short, false, false),
                (Sell, Long, false, true),
                (Buy, Short, false, false),
            ],
        );
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].starts_with("order 102 still open"), "{v:?}");
        assert!(v[0].contains("placed with no position"), "{v:?}");
        assert!(v[1].starts_with("order 103 still open"), "{v:?}");
        // one-way mode: a plain STOP is an entry; reduceOnly / closePosition never are
        let v = orphans(
            PositionMode::OneWay,
            &[
                (Buy, Both, false, false),
                (Sell, Both, true, false),
                (Buy, Both, false, true),
            ],
        );
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].starts_with("order 101 still open"), "{v:?}");
        assert!(v[1].starts_with("order 102 still open"), "{v:?}");
    }

    /// Orphan messages of a run where a closePosition stop is placed while flat (an orphan from
    /// birth; order 100, at 1 s), partly fills at each of `fills` (ms), and rests to a minute,
    /// time moving on every second (so closed state is pruned as it goes).
    fn orphan_fills(fills: &[i64]) -> Vec<String> {
        let mut c = Checker::new(cfg(PositionMode::Hedge));
        let placed = stop_new(0, 100, Side::Sell, PositionSide::Long, false, true);
        c.observe(&placed);
        for (seq, t) in (1..).zip((2_000..=60_000).step_by(1_000)) {
            let mut r = if fills.contains(&t) {
                let mut r = placed.clone();
                if let Event::OrderTradeUpdate(o) = &mut r.event {
                    (o.exec_type, o.status) = (ExecType::Trade, OrderStatus::PartiallyFilled);
                    (o.last_qty, o.cum_qty) = (Decimal::ONE, Decimal::ONE);
                }
                r
            } else {
                EventRecord {
                    event: Event::Equity {
                        wallet: Decimal::ONE,
                        unrealized: Decimal::ZERO,
                        price: Decimal::ONE,
                    },
                    ..placed.clone()
                }
            };
            (r.seq, r.time_ms) = (Seq(seq), TimeMs(t));
            c.observe(&r);
        }
        orphan_messages(c)
    }

    /// An orphan is reported once, however it is found: filling (once or again, before or after
    /// its deadline) or still open at its deadline. (A leg's state dropped too early, or not
    /// kept with it, reports it again.)
    #[test]
    fn an_orphan_is_reported_once_whether_it_fills_or_outstays_its_deadline() {
        let v = orphan_fills(&[]);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].starts_with("order 100 still open"), "{v:?}");
        for fills in [&[2_000][..], &[2_000, 3_000], &[2_000, 30_000]] {
            let v = orphan_fills(fills);
            assert_eq!(v.len(), 1, "{fills:?}: {v:?}");
            assert!(v[0].starts_with("orphaned order 100 filled"), "{v:?}");
        }
        for fills in [&[10_000][..], &[10_000, 11_000]] {
            let v = orphan_fills(fills);
            assert_eq!(v.len(), 1, "{fills:?}: {v:?}");
            assert!(v[0].starts_with("order 100 still open"), "{v:?}");
        }
    }

    /// An ORDER_TRADE_UPDATE of a plain LIMIT/MARKET order on the short side.
    fn short_order(t: u64, id: u64, otype: OrderType, exec: ExecType, filled: i64) -> (u64, Event) {
        let (status, last) = match exec {
            ExecType::Trade => (OrderStatus::Filled, Decimal::from(filled)),
            _ => (OrderStatus::New, Decimal::ZERO),
        };
        let e = Event::OrderTradeUpdate(OrderUpdate {
            symbol: "AVAXUSDT".into(),
            client_order_id: format!("c{id}").into(),
            side: Side::Sell,
            order_type: otype,
            orig_type: otype,
            time_in_force: TimeInForce::Gtc,
            orig_qty: Decimal::from(filled),
            price: Decimal::from(10),
            avg_price: Decimal::from(10),
            stop_price: Decimal::ZERO,
            exec_type: exec,
            status,
            order_id: OrderId(id),
            last_qty: last,
            cum_qty: last,
            last_price: Decimal::from(10),
            commission: Decimal::ZERO,
            is_maker: false,
            reduce_only: false,
            position_side: PositionSide::Short,
            close_position: false,
            realized_pnl: Decimal::ZERO,
            expiry_reason: ExpiryReason::None,
            from_algo: None,
        });
        (t, e)
    }

    fn short_amount(t: u64, amount: i64) -> (u64, Event) {
        (t, amount_update(PositionSide::Short, amount))
    }

    /// An order's ACCOUNT_UPDATE: AVAXUSDT's `ps` side now holds `amount` (entry 10).
    fn amount_update(ps: PositionSide, amount: i64) -> Event {
        Event::AccountUpdate(AccountUpdate {
            reason: AccountReason::Order,
            wallet_balance: Decimal::from(10_000),
            balance_change: Decimal::ZERO,
            realized_pnl: Decimal::ZERO,
            fee: Decimal::ZERO,
            positions: vec![PositionRow {
                symbol: "AVAXUSDT".into(),
                position_side: ps,
                amount: Decimal::from(amount),
                entry_price: Decimal::from(10),
                accumulated_realized: Decimal::ZERO,
                liquidation_price: None,
            }],
        })
    }

    fn accepted(t: u64, id: u64, wants_stop: bool) -> (u64, Event) {
        let e = Event::Engine(EngineEvent::EntryAccepted {
            symbol: "AVAXUSDT".into(),
            position_side: PositionSide::Short,
            order_id: OrderId(id),
            wants_stop,
        });
        (t, e)
    }

    fn naked(events: &[(u64, Event)], end: u64) -> Vec<String> {
        let mut c = Checker::new(cfg(PositionMode::Hedge));
        for (i, (t, e)) in events.iter().enumerate() {
            c.observe(&EventRecord {
                seq: Seq(i as u64),
                time_ms: TimeMs(*t as i64),
                source: Source::Exchange,
                event: e.clone(),
            });
        }
        c.finish(TimeMs(end as i64))
            .into_iter()
            .filter(|v| v.invariant == Invariant::NakedPosition)
            .map(|v| v.message)
            .collect()
    }

    #[test]
    fn a_resting_entry_wish_for_a_stop_waits_for_its_fill_on_an_open_side() {
        use ExecType::{New, Trade};
        use OrderType::{Limit, Market};
        // a market short of 8 that asked for no stop, then a resting LIMIT short asking for one
        let mut ev = vec![
            short_order(1_000, 1, Market, New, 8),
            short_order(1_000, 1, Market, Trade, 8),
            short_amount(1_000, -8),
            accepted(1_000, 1, false),
            short_order(2_000, 2, Limit, New, 16),
            accepted(2_000, 2, true),
        ];
        // resting for a minute: the open short still wants no stop
        assert_eq!(naked(&ev, 62_000), Vec::<String>::new());
        // it fills at 30 s and nothing protects the side: naked from the fill, not from 2 s
        ev.push(short_order(30_000, 2, Limit, Trade, 16));
        ev.push(short_amount(30_000, -24));
        let v = naked(&ev, 62_000);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("since 1970-01-01 00:00:30"), "{v:?}");
    }

    /// Every violation message of a one-way run of `events` (time, event), finished at `end`.
    fn one_way_run(events: &[(i64, Event)], end: i64) -> Vec<(Invariant, String)> {
        let mut c = Checker::new(cfg(PositionMode::OneWay));
        for (i, (t, e)) in events.iter().enumerate() {
            c.observe(&EventRecord {
                seq: Seq(i as u64),
                time_ms: TimeMs(*t),
                source: Source::Exchange,
                event: e.clone(),
            });
        }
        c.finish(TimeMs(end))
            .into_iter()
            .map(|v| (v.invariant, v.message))
            .collect()
    }

    #[test]
    fn a_one_way_stop_entry_is_told_from_a_leg_missing_reduce_only_by_its_request() {
        let request = |call: u64, side: Side, cid: &str| {
            let mut o = crate::api::NewOrder::new("AVAXUSDT", side, OrderType::StopMarket);
            o.client_order_id = Some(cid.into());
            Event::Request {
                call,
                endpoint: Endpoint::NewOrder,
                sent_ms: TimeMs(1_000),
                params: RequestParams::Order(o),
            }
        };
        // a STOP_MARKET order as the venue reports it (`Both`, plain), placed, then filled
        let stop = |id: u64, side: Side, cid: &str, exec: ExecType| {
            let mut r = stop_new(0, id, side, PositionSide::Both, false, false);
            if let Event::OrderTradeUpdate(o) = &mut r.event {
                o.client_order_id = cid.into();
                if exec == ExecType::Trade {
                    o.order_type = OrderType::Market;
                    o.exec_type = ExecType::Trade;
                    o.status = OrderStatus::Filled;
                    (o.last_qty, o.cum_qty, o.last_price) =
                        (Decimal::from(20), Decimal::from(20), Decimal::from(10));
                }
            }
            r.event
        };
        let engine = Event::Engine;
        let signal = engine(EngineEvent::Signal {
            id: "s1".into(),
            action: "buy".into(),
            symbol: "AVAXUSDT".into(),
            quantity: Decimal::from(20),
            stop_loss: None,
            take_profit: None,
        });
        let long = |amount: i64| {
            Event::AccountUpdate(AccountUpdate {
                reason: AccountReason::Order,
                wallet_balance: Decimal::from(10_000),
                balance_change: Decimal::ZERO,
                realized_pnl: Decimal::ZERO,
                fee: Decimal::ZERO,
                positions: vec![PositionRow {
                    symbol: "AVAXUSDT".into(),
                    position_side: PositionSide::Both,
                    amount: Decimal::from(amount),
                    entry_price: Decimal::from(10),
                    accumulated_realized: Decimal::ZERO,
                    liquidation_price: None,
                }],
            })
        };
        let entry = |wants_stop: bool| {
            vec![
                (1_000, signal.clone()),
                (1_000, request(1, Side::Buy, "entry")),
                (1_000, stop(101, Side::Buy, "entry", ExecType::New)),
                (
                    1_000,
                    engine(EngineEvent::EntryAccepted {
                        symbol: "AVAXUSDT".into(),
                        position_side: PositionSide::Both,
                        order_id: OrderId(101),
                        wants_stop,
                    }),
                ),
                (
                    1_000,
                    engine(EngineEvent::SignalResult {
                        id: "s1".into(),
                        status: "executed".into(),
                        detail: String::new(),
                    }),
                ),
            ]
        };
        // the entry rests a minute, then triggers and opens a long: no orphan, no flip
        let mut ev = entry(false);
        ev.push((30_000, stop(101, Side::Buy, "entry", ExecType::Trade)));
        ev.push((30_000, long(20)));
        assert_eq!(one_way_run(&ev, 61_000), vec![]);
        // the same order requested outside any entry (a leg missing reduce-only; the log has
        // the engine's signals) is a born orphan, and its fill from flat a flip
        let done = engine(EngineEvent::SignalResult {
            id: "s1".into(),
            status: "rejected".into(),
            detail: String::new(),
        });
        let mut ev = vec![
            (500, signal.clone()),
            (500, done),
            (1_000, request(1, Side::Buy, "leg")),
            (1_000, stop(101, Side::Buy, "leg", ExecType::New)),
        ];
        ev.push((30_000, stop(101, Side::Buy, "leg", ExecType::Trade)));
        ev.push((30_000, long(20)));
        let v = one_way_run(&ev[..4], 61_000);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].0, Invariant::Orphan, "{v:?}");
        assert!(v[0].1.contains("placed with no position"), "{v:?}");
        let v = one_way_run(&ev, 61_000);
        assert!(v.iter().any(|(i, _)| *i == Invariant::NoFlip), "{v:?}");
        // without the engine's signals (`sim serve`) it cannot be told apart: placed flat, it
        // is taken for an entry (no born orphan)
        let v = one_way_run(&ev[2..], 61_000);
        assert!(v.iter().all(|(i, _)| *i != Invariant::Orphan), "{v:?}");
        // a resting SELL STOP entry (a second signal's) is no stop for the long the first
        // entry opened, which asked for one: the long is naked
        let mut ev = entry(true);
        ev.push((30_000, stop(101, Side::Buy, "entry", ExecType::Trade)));
        ev.push((30_000, long(20)));
        ev.push((31_000, signal));
        ev.push((31_000, request(2, Side::Sell, "entry-2")));
        ev.push((31_000, stop(102, Side::Sell, "entry-2", ExecType::New)));
        let v = one_way_run(&ev, 61_000);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].0, Invariant::NakedPosition, "{v:?}");
        // taken for a leg (requested outside an entry), the same order protects the long
        let n = ev.len();
        ev.remove(n - 3);
        assert_eq!(one_way_run(&ev, 61_000), vec![]);
    }

    /// Skipping an evaluation of protection when nothing it reads changed (`prot_gen` not
    /// bumped: e.g. an algo order's FINISHED after its TRIGGERED, which `algos` no longer holds)
    /// finds what evaluating every time finds: random streams of algo orders of every status,
    /// positions and entries, in both modes, give the same violations as a checker made to
    /// evaluate at every record.
    #[test]
    fn skipped_protection_evaluations_find_what_evaluating_always_finds() {
        let mut rnd = crate::types::xorshift_below(0x9e37_79b9_7f4a_7c15);
        // every status the log can carry (the JSON writer's list of them)
        let statuses = crate::events::json::ALL_ALGO_STATUSES;
        let mut found = 0;
        for round in 0..400 {
            let mode = if round % 2 == 0 {
                PositionMode::Hedge
            } else {
                PositionMode::OneWay
            };
            let sides: &[PositionSide] = match mode {
                PositionMode::Hedge => &[PositionSide::Long, PositionSide::Short],
                PositionMode::OneWay => &[PositionSide::Both],
            };
            let mut t = 1_000i64;
            let mut events = Vec::new();
            for _ in 0..60 {
                t += rnd(4_000) as i64;
                let ps = sides[rnd(sides.len() as u64) as usize];
                let side = if rnd(2) == 0 { Side::Buy } else { Side::Sell };
                let e = match rnd(6) {
                    0 | 1 => amount_update(ps, rnd(7) as i64 - 3),
                    2 => Event::Engine(EngineEvent::EntryAccepted {
                        symbol: "AVAXUSDT".into(),
                        position_side: ps,
                        order_id: OrderId(1 + rnd(4)),
                        wants_stop: rnd(4) != 0,
                    }),
                    _ => {
                        let id = 1 + rnd(4);
                        Event::AlgoUpdate(AlgoUpdate {
                            symbol: "AVAXUSDT".into(),
                            client_algo_id: format!("a{}", rnd(3)).into(),
                            algo_id: AlgoId(id),
                            order_type: [
                                OrderType::StopMarket,
                                OrderType::TakeProfitMarket,
                                OrderType::Stop,
                            ][rnd(3) as usize],
                            side,
                            position_side: ps,
                            time_in_force: TimeInForce::GteGtc,
                            quantity: Decimal::from(rnd(3)),
                            status: statuses[rnd(statuses.len() as u64) as usize],
                            actual_order_id: None,
                            trigger_price: Decimal::from(10),
                            price: Decimal::ZERO,
                            close_position: rnd(2) == 0,
                            reduce_only: mode == PositionMode::OneWay && rnd(2) == 0,
                            working_type: WorkingType::MarkPrice,
                            reject_reason: String::new(),
                        })
                    }
                };
                events.push((t, e));
            }
            let run = |always: bool| {
                let mut c = Checker::new(cfg(mode));
                for (i, (t, e)) in events.iter().enumerate() {
                    if always {
                        // forget what was evaluated last: every record evaluates again
                        c.prot_seen = None;
                    }
                    c.observe(&EventRecord {
                        seq: Seq(i as u64),
                        time_ms: TimeMs(*t),
                        source: Source::Exchange,
                        event: e.clone(),
                    });
                }
                c.finish(TimeMs(t + 60_000))
            };
            let (fast, always) = (run(false), run(true));
            assert_eq!(fast, always, "round {round}");
            found += always
                .iter()
                .filter(|v| {
                    matches!(
                        v.invariant,
                        Invariant::NakedPosition | Invariant::ExcessProtection
                    )
                })
                .count();
        }
        // the streams do reach what protection decides
        assert!(found > 100, "{found}");
    }
}
