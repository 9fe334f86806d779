//! The dispatcher (`tradeengine-oco.md` §1, §3): signal → gates → entry → protection, the risk
//! price pipeline, the individual fallback, atomic rollback, and `close_position_with_cleanup`.
//!
//! Contract: every dispatch emits `Signal` first and `SignalResult` last; an accepted entry emits
//! `EntryAccepted` before any risk order is sent. Time only moves through the adapter's calls
//! and retry pauses.

use super::adapter::{close_side, leg_text, Fail, Kind, Placed, TradeOrder};
use super::oco::{pct, OcoStatus, RiskPlan};
use super::switches::*;
use super::{ActiveSignal, Cleanup, Engine, PairRec, Pending};
use crate::api::{Exchange, OrderRef};
use crate::engine::signal::{Action, Signal};
use crate::events::EngineEvent;
use crate::types::*;
use rust_decimal::Decimal;

/// Aggregator memory of the P78 conflict check.
const SIGNAL_MEMORY_MS: i64 = 3_600_000;
/// Duplicate-cache purge period.
const PURGE_EVERY_MS: i64 = 300_000;
/// Thrash-breaker window.
const THRASH_WINDOW_MS: i64 = 600_000;
/// The algo-slot guard's account-wide limit (`global_open_count >= 98`).
const ACCOUNT_ALGO_SLOT_LIMIT: usize = 98;

/// What protecting one entry needs, right after it or when a deferred entry fills.
#[derive(Debug, Clone)]
pub(crate) struct ProtectReq {
    pub symbol: Ident,
    pub dir: PositionSide,
    pub wire_ps: PositionSide,
    pub sl: Option<Decimal>,
    pub tp: Option<Decimal>,
    pub sl_pct: Option<Decimal>,
    pub tp_pct: Option<Decimal>,
    /// Average fill price (0 = unknown, e.g. an ACK response).
    pub fill_price: Decimal,
    /// The response's `price` (0 for MARKET).
    pub order_price: Decimal,
    /// The signal's `current_price` (the order's `target_price`).
    pub current_price: Decimal,
    /// executedQty known to the engine.
    pub executed: Decimal,
    /// The order's internal amount.
    pub order_amount: Decimal,
    pub spid: u64,
    pub base: Ident,
    /// The side's position as read right after the fill (None: not read).
    pub open_after: Option<bool>,
}

/// Result of `close_position_with_cleanup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CloseOutcome {
    Closed,
    Skipped(String),
    Failed(String),
}

impl CloseOutcome {
    fn text(&self) -> String {
        match self {
            CloseOutcome::Closed => "closed".into(),
            CloseOutcome::Skipped(s) => format!("skipped: {s}"),
            CloseOutcome::Failed(s) => format!("failed: {s}"),
        }
    }
}

/// The live engine's signal id: `strategy_symbol_action_<ISO timestamp to the second>`.
pub(crate) fn signal_id(sig: &Signal) -> String {
    // the parts, then the time written straight behind them and cut to seconds: one allocation
    // a signal, no per-character pushes
    let mut id = Vec::with_capacity(
        sig.strategy_id.len() + sig.symbol.len() + sig.action.as_str().len() + 3 + 23,
    );
    for part in [
        sig.strategy_id.as_str(),
        "_",
        &sig.symbol,
        "_",
        sig.action.as_str(),
        "_",
    ] {
        id.extend_from_slice(part.as_bytes());
    }
    let start = id.len();
    write_time_ms(sig.timestamp.0, &mut id);
    id.truncate(start + (id.len() - start).min(19));
    for c in id[start..].iter_mut().filter(|c| **c == b' ') {
        *c = b'T';
    }
    debug_assert!(std::str::from_utf8(&id).is_ok());
    // SAFETY: `id` is whole `str` parts end to end, then the ASCII time text (cut within it, and
    // its spaces made `T`): UTF-8 throughout, so validating it again is only cost
    unsafe { String::from_utf8_unchecked(id) }
}

/// A price `d` (a fraction) away from `base` on the stop side (`stop`) or target side of `dir`.
fn at(base: Decimal, dir: PositionSide, stop: bool, d: Decimal) -> Decimal {
    let below = stop == (dir != PositionSide::Short);
    if below {
        base * (Decimal::ONE - d)
    } else {
        base * (Decimal::ONE + d)
    }
}

/// PHEAD direction guard (#479/#502) for one price against reference price `r`.
fn guard(price: Decimal, r: Decimal, dir: PositionSide, stop: bool, p: Option<Decimal>) -> Decimal {
    let cap = Decimal::new(20, 2);
    let floor = Decimal::new(6, 2);
    let below = stop == (dir != PositionSide::Short);
    let correct = if below { price < r } else { price > r };
    let dist = (price - r).abs() / r;
    if correct {
        return if dist > cap {
            at(r, dir, stop, cap)
        } else {
            price
        };
    }
    let mut d = p.unwrap_or(dist);
    if stop {
        d = d.max(floor);
    }
    if d > cap {
        d = floor;
    }
    at(r, dir, stop, d)
}

impl Engine {
    /// `dispatcher.dispatch(signal)`.
    pub(crate) fn dispatch<E: Exchange>(&mut self, sig: &Signal, ex: &mut E) {
        let id = signal_id(sig);
        ex.emit(EngineEvent::Signal {
            id: id.clone(),
            action: sig.action.as_str().into(),
            symbol: sig.symbol.clone(),
            quantity: sig.quantity,
            stop_loss: sig.stop_loss,
            take_profit: sig.take_profit,
        });
        let (status, detail) = self.dispatch_inner(sig, &id, ex);
        ex.emit(EngineEvent::SignalResult { id, status, detail });
    }

    fn dispatch_inner<E: Exchange>(
        &mut self,
        sig: &Signal,
        id: &str,
        ex: &mut E,
    ) -> super::Verdict {
        let now = ex.now();
        let res = |s: &'static str, d: String| (s.into(), d);
        if self.sw.max_signal_age_ms > 0 && now.0 - sig.timestamp.0 > self.sw.max_signal_age_ms {
            return res("rejected", "stale signal".into());
        }
        // duplicate cache (§1.6 step 2)
        if self
            .st
            .last_purge
            .is_none_or(|t| now.0 - t.0 >= PURGE_EVERY_MS)
        {
            let ttl = self.sw.duplicate_ttl_ms;
            self.st.dup_cache.retain(|_, t| now.0 - t.0 < ttl);
            self.st.last_purge = Some(now);
        }
        if let Some(t) = self.st.dup_cache.get(id) {
            if now.0 - t.0 < self.sw.duplicate_ttl_ms {
                return res("duplicate", format!("seen {} ms ago", now.0 - t.0));
            }
        }
        self.st.dup_cache.insert(id.to_string(), now);
        if sig.action == Action::Hold {
            return res("hold", String::new());
        }
        let dir = if sig.action == Action::Buy {
            PositionSide::Long
        } else {
            PositionSide::Short
        };
        if self.sw.accumulation_cooldown_ms > 0 && sig.action != Action::Close {
            let key = (sig.symbol.clone(), dir);
            let open = self.st.book.get(&key).is_some_and(|q| *q > Decimal::ZERO);
            let recent = self
                .st
                .last_add
                .get(&key)
                .is_some_and(|t| now.0 - t.0 < self.sw.accumulation_cooldown_ms);
            if open && recent {
                return res("rejected", "accumulation cooldown".into());
            }
        }
        if sig.confidence < self.sw.confidence_floor {
            return res(
                "rejected",
                format!("confidence {} below floor", sig.confidence),
            );
        }
        if self.sw.opposite_signal_conflict {
            self.st
                .active_signals
                .retain(|a| now.0 - a.at.0 < SIGNAL_MEMORY_MS);
            if self.st.active_signals.iter().any(|a| {
                a.symbol == sig.symbol && a.action != sig.action && a.confidence >= sig.confidence
            }) {
                return res("rejected", "conflicting active signal".into());
            }
            self.st.active_signals.push(ActiveSignal {
                at: now,
                symbol: sig.symbol.clone(),
                action: sig.action,
                confidence: sig.confidence,
            });
        }
        if sig.action == Action::Close {
            return match self.sw.close_action {
                CloseAction::InvalidSide => res("failed", "Invalid order side: close".into()),
                CloseAction::ClosePosition => {
                    let outs = self.manual_close(
                        &sig.symbol,
                        PositionSide::Both,
                        super::CloseAmount::Whole,
                        ex,
                    );
                    res("executed", outs)
                }
            };
        }
        if let Some(r) = self.settle_before_entry(ex) {
            return r;
        }
        if self.sw.algo_slot_limit > 0 {
            // PositionManager.check_algo_order_limits (position_manager.py:1134-1174@9adbfe9):
            // REST reads of the symbol's, then the account's open algo orders (a failed read
            // counts as none: `get_open_algo_orders` answers [] on any error). It sits in
            // `check_position_limits`, which RISK_MANAGEMENT_ENABLED=false skips whole.
            let n = ex.open_algo_orders(&sig.symbol).map_or(0, |l| l.len());
            if n >= self.sw.algo_slot_limit as usize {
                return res("rejected", format!("{n} open algo orders"));
            }
            let all = ex.open_algo_orders("").map_or(0, |l| l.len());
            if all >= ACCOUNT_ALGO_SLOT_LIMIT {
                return res("rejected", format!("{all} open algo orders on the account"));
            }
        }
        self.enter(sig, dir, ex)
    }

    /// `_calculate_order_amount` of the profile's release (§1.5, [`super::entries`]).
    fn order_amount(&self, sig: &Signal) -> Decimal {
        super::entries::order_amount_with(
            self.cfg.entries,
            &self.cfg.spec,
            self.min_bounds,
            sig,
            self.cfg.portfolio_value,
        )
    }

    /// The entry and what follows it.
    fn enter<E: Exchange>(
        &mut self,
        sig: &Signal,
        dir: PositionSide,
        ex: &mut E,
    ) -> super::Verdict {
        // the live risk check on position_size_pct runs before the adapter sees the order type
        if let Some(r) = super::entries::size_gate(self.cfg.entries, sig) {
            return r;
        }
        let mut entry = match super::entries::entry_order(self.cfg.entries, sig) {
            Ok(e) => e,
            Err(m) => return ("failed".into(), m),
        };
        if entry.kind == Kind::Stop && entry.leg && self.sw.percent_price_clamp && self.algo_legs()
        {
            // the 2026-08 `_execute_stop_order` runs its trigger through the adjuster (#503)
            match self.adjust_stop(ex, &sig.symbol, dir, entry.price.unwrap_or_default()) {
                Ok(p) => entry.price = Some(p),
                Err(f) => {
                    return (
                        "failed".into(),
                        format!("oco_stop_percent_filter_reject: {}", f.text()),
                    )
                }
            }
        }
        let kind = entry.kind;
        if self.sw.one_way_reverse_closes_first && self.st.hedge != Some(true) {
            if let Some(r) = self.close_opposite_one_way(sig, dir, ex) {
                return r;
            }
        }
        let amount = self.order_amount(sig);
        let spid = self.seq();
        let base = self.client_base(ex);
        // ocoE-<base>-<SL ticks>-<TP ticks> (base 36, x when none)
        let (mut sl36, mut tp36) = ([0u8; 13], [0u8; 13]);
        let sl = match sig.stop_loss.and_then(|p| self.price_ticks(p)) {
            Some(t) => super::adapter::base36_in(t, &mut sl36),
            None => "x",
        };
        let tp = match sig.take_profit.and_then(|p| self.price_ticks(p)) {
            Some(t) => super::adapter::base36_in(t, &mut tp36),
            None => "x",
        };
        let entry_cid = self.client_id(Ident::concat(&["ocoE-", &base, "-", sl, "-", tp]));
        let order = TradeOrder {
            symbol: sig.symbol.clone(),
            kind,
            side: if dir == PositionSide::Long {
                Side::Buy
            } else {
                Side::Sell
            },
            amount,
            price: entry.price,
            stop_price: entry.stop_price,
            tif: entry.tif,
            ps: Some(dir),
            reduce_only: false,
            leg: entry.leg,
            client_id: entry_cid,
        };
        let plan = Pending {
            symbol: sig.symbol.clone(),
            dir,
            sl: sig.stop_loss,
            tp: sig.take_profit,
            sl_pct: sig.stop_loss_pct,
            tp_pct: sig.take_profit_pct,
            base: base.clone(),
            protected: false,
            order_amount: amount,
            strategy_position_id: spid,
        };
        let placed = match self.execute(ex, &order) {
            Ok(p) => p,
            Err(Fail::Unknown(cid)) if self.sw.retry_cleanup => {
                // the entry may exist: the monitor looks it up by client id and protects it
                self.st.unresolved.insert(cid, plan);
                self.st.stable = false;
                self.start_monitoring(ex);
                return (
                    "failed".into(),
                    "entry outcome unknown; the monitor looks it up by client id".into(),
                );
            }
            Err(f) => return ("failed".into(), f.text()),
        };
        let accepted = if self.sw.entry_resp_result {
            placed.executed > Decimal::ZERO || placed.open
        } else {
            // the live check: lower-case "filled"/"partially_filled" or upper-case "NEW" (§5.4)
            matches!(placed.status, "filled" | "partially_filled" | "NEW")
        };
        if !accepted {
            return ("failed".into(), format!("entry status {}", placed.status));
        }
        let order_id = match placed.id {
            crate::events::LegId::Order(o) => o,
            crate::events::LegId::Algo(a) => OrderId(a.0),
        };
        // reference: read the side right after the fill (one attempt); an entry that left no
        // position on its side (a leg of the side's pair fired meanwhile, or one-way netting)
        // has nothing to protect, and says so in its EntryAccepted
        let open_after = if self.sw.verify_position_after_entry && placed.executed > Decimal::ZERO {
            self.position_amts_once(ex, &sig.symbol)
                .ok()
                .map(|a| a.get(&dir).is_some_and(|q| !q.is_zero()))
        } else {
            None
        };
        let wants_stop = (sig.stop_loss.is_some()
            || (self.sw.risk_from_pct && sig.stop_loss_pct.is_some()))
            && open_after != Some(false);
        ex.emit(EngineEvent::EntryAccepted {
            symbol: sig.symbol.clone(),
            position_side: placed.ps,
            order_id,
            wants_stop,
        });
        // v1.1.78/v1.1.80 (ACK answer, one book per symbol) book `result.get("amount",
        // order.amount)`: the ACK's executed amount, 0 (W4/W6 traces, #20); the 2026-08 book by
        // side is not measured against a trace for this, so it keeps the order amount
        let booked = if self.sw.entry_resp_result || self.sw.local_book_by_side {
            order.amount
        } else {
            placed.executed
        };
        self.book_add(&sig.symbol, dir, booked, ex.now());
        if !self.sw.protect_resting_entry && placed.executed.is_zero() {
            if !placed.open {
                return (
                    "failed".into(),
                    format!("entry ended {} unfilled", placed.status),
                );
            }
            match placed.id {
                crate::events::LegId::Algo(a) => {
                    self.st.pending_algo.insert(a, plan);
                }
                crate::events::LegId::Order(o) => {
                    self.st.pending.insert(o, plan);
                }
            }
            self.start_monitoring(ex);
            return (
                "executed".into(),
                "entry resting; protection deferred to its fill".into(),
            );
        }
        let req = ProtectReq {
            symbol: sig.symbol.clone(),
            dir,
            wire_ps: placed.ps,
            sl: sig.stop_loss,
            tp: sig.take_profit,
            sl_pct: sig.stop_loss_pct,
            tp_pct: sig.take_profit_pct,
            fill_price: placed.avg_price,
            order_price: placed.price,
            current_price: sig.current_price,
            executed: placed.executed,
            order_amount: amount,
            spid,
            base,
            open_after,
        };
        self.protect_entry(ex, req)
    }

    /// One-way mode: close a position held against the signal's direction (and its pair) before
    /// the entry; `Some(result)` when that close failed and the signal stops there.
    fn close_opposite_one_way<E: Exchange>(
        &mut self,
        sig: &Signal,
        dir: PositionSide,
        ex: &mut E,
    ) -> Option<super::Verdict> {
        let amts = match self.position_amts(ex, &sig.symbol) {
            Ok(a) => a,
            Err(f) => return Some(("failed".into(), format!("positionRisk: {}", f.text()))),
        };
        if self.st.hedge != Some(false) {
            return None;
        }
        let opposite = if dir == PositionSide::Long {
            PositionSide::Short
        } else {
            PositionSide::Long
        };
        let amt = amts.get(&opposite).copied().unwrap_or_default();
        if amt.is_zero() {
            return None;
        }
        let o = self.close_with_cleanup(ex, &sig.symbol, opposite, Some(amt), "reverse signal");
        ex.emit(EngineEvent::Note {
            text: format!(
                "reverse signal: {} {amt} closed first: {}",
                opposite.as_str(),
                o.text()
            ),
        });
        if o == CloseOutcome::Closed {
            None
        } else {
            Some((
                "failed".into(),
                format!("could not close the opposite position: {}", o.text()),
            ))
        }
    }

    /// `update_position`: the local book (never decremented by SL/TP fills, W17).
    pub(crate) fn book_add(
        &mut self,
        symbol: &str,
        dir: PositionSide,
        amount: Decimal,
        now: TimeMs,
    ) {
        if self.sw.local_book_by_side {
            let key = (Ident::from(symbol), dir);
            *self.st.book.or_insert(key.clone(), Decimal::ZERO) += amount;
            self.st.last_add.insert(key, now);
        } else {
            let signed = if dir == PositionSide::Short {
                -amount
            } else {
                amount
            };
            *self
                .st
                .book
                .or_insert((symbol.into(), PositionSide::Both), Decimal::ZERO) += signed;
        }
    }

    /// The local book's quantity for a side.
    fn book_qty(&self, symbol: &str, dir: PositionSide) -> Decimal {
        if self.sw.local_book_by_side {
            self.st
                .book
                .get(&(symbol.into(), dir))
                .copied()
                .unwrap_or_default()
        } else {
            self.st
                .book
                .get(&(symbol.into(), PositionSide::Both))
                .copied()
                .unwrap_or_default()
                .abs()
        }
    }

    fn book_reset(&mut self, symbol: &str, dir: PositionSide) {
        let key = if self.sw.local_book_by_side {
            (Ident::from(symbol), dir)
        } else {
            (Ident::from(symbol), PositionSide::Both)
        };
        self.st.book.remove(&key);
    }

    /// `_place_risk_management_orders` with its budget and the atomic rollback around it.
    pub(crate) fn protect_entry<E: Exchange>(
        &mut self,
        ex: &mut E,
        req: ProtectReq,
    ) -> super::Verdict {
        let wants = req.sl.is_some()
            || req.tp.is_some()
            || (self.sw.risk_from_pct && (req.sl_pct.is_some() || req.tp_pct.is_some()));
        if !wants {
            return ("executed".into(), "no risk orders requested".into());
        }
        if self.sw.verify_position_after_entry {
            // one attempt: the check is optional, a failed read protects anyway
            let open = match req.open_after {
                Some(o) => Some(o),
                None => self
                    .position_amts_once(ex, &req.symbol)
                    .ok()
                    .map(|a| a.get(&req.dir).is_some_and(|q| !q.is_zero())),
            };
            if open == Some(false) {
                return (
                    "executed".into(),
                    "no position on this side after the entry: nothing to protect".into(),
                );
            }
        }
        if self.sw.rollback_timeout_ms > 0 {
            self.st.deadline = Some(ex.now().plus(self.sw.rollback_timeout_ms));
        }
        let r = self.risk_phase(ex, &req);
        self.st.deadline = None;
        match r {
            Ok(detail) => ("executed".into(), detail),
            Err(f) if self.sw.atomic_rollback => self.rollback(ex, &req, &f),
            Err(f) => (
                "executed".into(),
                format!("risk orders failed: {}", f.text()),
            ),
        }
    }

    fn risk_phase<E: Exchange>(&mut self, ex: &mut E, req: &ProtectReq) -> Result<String, Fail> {
        let (sl, tp, entry) = self.risk_prices(ex, req)?;
        if sl.is_none() && tp.is_none() {
            return Ok("no risk orders".into());
        }
        let qty = match self.sw.oco_quantity_source {
            QuantitySource::ResultAmount => req.executed,
            QuantitySource::ResultOrOrderAmount => {
                if req.executed > Decimal::ZERO {
                    req.executed
                } else {
                    req.order_amount
                }
            }
        };
        let plan = RiskPlan {
            symbol: req.symbol.clone(),
            dir: req.dir,
            wire_ps: req.wire_ps,
            sl,
            tp,
            qty,
            entry_price: entry,
            strategy_position_id: Some(req.spid),
            base: req.base.clone(),
        };
        self.protect(ex, &plan)
    }

    /// Entry anchor and SL/TP prices: absolute prices, percentages, and PHEAD's guards (§3.5).
    fn risk_prices<E: Exchange>(
        &mut self,
        ex: &mut E,
        req: &ProtectReq,
    ) -> Result<(Option<Decimal>, Option<Decimal>, Decimal), Fail> {
        let zero = Decimal::ZERO;
        let dir = req.dir;
        let mut entry = [req.fill_price, req.order_price, req.current_price]
            .into_iter()
            .find(|p| *p > zero)
            .unwrap_or(zero);
        let spec = self.cfg.spec.clone();
        if self.sw.reanchor_to_live {
            if let Ok(live) = ex.ticker_price(&req.symbol) {
                if entry > live * spec.percent_up || entry < live * spec.percent_down {
                    entry = live;
                }
            }
        }
        let (mut sl_pct, tp_pct) = if self.sw.risk_from_pct {
            (req.sl_pct, req.tp_pct)
        } else {
            (None, None)
        };
        let mut sl = req.sl.filter(|p| *p > zero);
        let mut tp = req.tp.filter(|p| *p > zero);
        let min = pct(self.sw.sl_min_distance_pct);
        if min > zero && entry > zero {
            if sl_pct.is_some_and(|p| p < min) {
                sl_pct = Some(min);
            }
            if sl.is_some_and(|s| (entry - s).abs() / entry < min) {
                sl = Some(at(entry, dir, true, min));
            }
        }
        if self.sw.risk_from_pct && entry > zero {
            if sl.is_none() {
                sl = sl_pct.map(|p| at(entry, dir, true, p));
            }
            if tp.is_none() {
                tp = tp_pct.map(|p| at(entry, dir, false, p));
            }
        }
        if self.sw.direction_guard {
            let r = if entry > zero {
                entry
            } else {
                ex.ticker_price(&req.symbol).unwrap_or(zero)
            };
            if r > zero {
                sl = sl.map(|s| guard(s, r, dir, true, sl_pct));
                tp = tp.map(|t| guard(t, r, dir, false, tp_pct));
            }
        }
        let floor = pct(self.sw.sl_market_floor_pct);
        if floor > zero {
            if let Some(s) = sl {
                if let Ok(live) = ex.ticker_price(&req.symbol) {
                    let edge = at(live, dir, true, floor);
                    let too_close = if dir == PositionSide::Short {
                        s < edge
                    } else {
                        s > edge
                    };
                    if too_close {
                        sl = Some(edge);
                    }
                }
            }
        }
        Ok((sl, tp, entry))
    }

    /// OCO placement and the result routing of §3.2 / §3.5 step 9.
    pub(crate) fn protect<E: Exchange>(
        &mut self,
        ex: &mut E,
        plan: &RiskPlan,
    ) -> Result<String, Fail> {
        let both = plan.sl.is_some() && plan.tp.is_some();
        let any = plan.sl.is_some() || plan.tp.is_some();
        if !(both || (self.sw.register_single_legs && any)) {
            return self.individual(ex, plan);
        }
        let st = self.place_oco(ex, plan)?;
        match st {
            OcoStatus::Success(id) => {
                // every protected entry's detail: assembled without the formatting machinery
                let mut d = String::with_capacity(40);
                d.push_str("protected by pair ");
                push_u64(&mut d, id.0);
                Ok(d)
            }
            OcoStatus::DuplicateOco => {
                Ok("duplicate_oco: the side's pair covers this entry".into())
            }
            OcoStatus::PositionNaked(s)
                if self.sw.individual_fallback == Fallback::NonNakedFailureRaises =>
            {
                Ok(format!(
                    "position_naked ({s}): left to the remediator (dry_run)"
                ))
            }
            other => {
                if self.sw.individual_fallback == Fallback::Never {
                    return Err(Fail::Local(format!("OCO {}", other.text())));
                }
                ex.emit(EngineEvent::Note {
                    text: format!("OCO {}: individual fallback", other.text()),
                });
                self.individual(ex, plan)
            }
        }
    }

    /// `_place_individual_risk_orders` (and the lone SL / TP paths): unpaired, unmonitored legs.
    fn individual<E: Exchange>(&mut self, ex: &mut E, plan: &RiskPlan) -> Result<String, Fail> {
        let raises = self.sw.individual_fallback != Fallback::AnyFailureLogged;
        let rec = self.record_for(plan);
        let mut out = Vec::new();
        for (stop, price) in [(true, plan.sl), (false, plan.tp)] {
            let Some(mut price) = price else { continue };
            let name = if stop { "SL" } else { "TP" };
            if stop && self.sw.percent_price_clamp && self.algo_legs() {
                match self.adjust_stop(ex, &plan.symbol, plan.dir, price) {
                    Ok(p) => price = p,
                    Err(Fail::Local(m)) => {
                        out.push(format!("SL rejected: {m}"));
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            match self.place_single(ex, &rec, stop, price) {
                Ok(p) => out.push(format!("unpaired {name} {}", leg_text(p.id))),
                Err(Fail::Budget) => return Err(Fail::Budget),
                Err(f) => {
                    if raises {
                        return Err(f);
                    }
                    out.push(format!("{name} failed: {}", f.text()));
                }
            }
        }
        let text = out.join("; ");
        ex.emit(EngineEvent::Note {
            text: format!("individual risk orders: {text}"),
        });
        Ok(text)
    }

    /// One individual leg, with the -2021 ladder when on.
    fn place_single<E: Exchange>(
        &mut self,
        ex: &mut E,
        rec: &PairRec,
        stop: bool,
        price: Decimal,
    ) -> Result<Placed, Fail> {
        // the ladder on the stack and the fallback error made only if no rung ran: both were
        // an allocation and a free on every leg placed
        let ladder: [Decimal; 3] = if rec.dir == PositionSide::Short {
            [Decimal::ONE, Decimal::new(101, 2), Decimal::new(102, 2)]
        } else {
            [Decimal::ONE, Decimal::new(99, 2), Decimal::new(98, 2)]
        };
        let factors = if self.sw.minus_2021_ladder {
            &ladder[..]
        } else {
            &ladder[..1]
        };
        let mut last = None;
        for (i, &f) in factors.iter().enumerate() {
            let mut px = price * f;
            if stop && self.sw.percent_price_clamp && self.algo_legs() {
                // the adapter's own PERCENT_PRICE adjuster (`_execute_stop_order`) runs for every
                // stop it executes, after the dispatcher's (a third ticker read, W9 trace)
                px = self.adjust_stop(ex, &rec.symbol, rec.dir, px)?;
            }
            match self.place_leg(ex, rec, stop, px, 10 + i as u32) {
                Err(e) if e.code() == Some(-2021) => last = Some(e),
                r => return r,
            }
        }
        Err(last.unwrap_or_else(|| Fail::Local("no attempt".into())))
    }

    /// Atomic rollback (#238): close what the entry opened.
    fn rollback<E: Exchange>(&mut self, ex: &mut E, req: &ProtectReq, f: &Fail) -> super::Verdict {
        ex.emit(EngineEvent::Note {
            text: format!("protection failed ({}); rolling back", f.text()),
        });
        let filled = if req.executed > Decimal::ZERO {
            req.executed
        } else {
            req.order_amount
        };
        // reference: protection is per side (one closePosition pair covers every lot), so the
        // rollback closes the side; if the side cannot be read, what this entry filled, and the
        // cleanup queue finishes the side
        let mut side_unknown = false;
        let qty = match self.sw.manual_close_qty {
            CloseQty::PositionRisk => match self.position_amt(ex, &req.symbol, req.dir) {
                Ok(a) => a,
                Err(_) => {
                    side_unknown = true;
                    filled
                }
            },
            CloseQty::LocalBook => {
                if req.executed > Decimal::ZERO {
                    req.executed
                } else if req.order_amount > Decimal::ZERO {
                    req.order_amount
                } else {
                    self.position_amt(ex, &req.symbol, req.dir)
                        .unwrap_or_default()
                }
            }
        };
        if qty.is_zero() {
            return ("rolled_back_skipped".into(), f.text());
        }
        match self.close_with_cleanup(
            ex,
            &req.symbol,
            req.dir,
            Some(qty),
            "atomic_rollback_oco_failure",
        ) {
            CloseOutcome::Closed => {
                if side_unknown {
                    self.queue_cleanup(ex, Cleanup::Flatten(req.symbol.clone(), req.dir));
                }
                ("rolled_back".into(), f.text())
            }
            other => {
                self.queue_cleanup(ex, Cleanup::Flatten(req.symbol.clone(), req.dir));
                (
                    "rollback_failed".into(),
                    format!("{}; {}", f.text(), other.text()),
                )
            }
        }
    }

    /// `_exchange_position_presence` (#481 AC3): false only when the user-data store is ready
    /// and shows no position on that side (one-way: any non-zero net position counts); unknown
    /// (no store) is true, so a legitimate close is never suppressed. The store is as of the
    /// engine's last suspension point ([`Engine::refresh_store`]): a fill since then is unseen.
    fn exchange_position_present(&self, symbol: &str, dir: PositionSide) -> bool {
        if symbol != self.cfg.spec.symbol {
            return true;
        }
        match &self.st.store {
            None => true,
            Some(rows) => rows
                .iter()
                .any(|(ps, a)| !a.is_zero() && (*ps == dir || *ps == PositionSide::Both)),
        }
    }

    /// `close_position_with_cleanup` (§3.3, §3.5): legs and MARKET close in the profile's order.
    pub(crate) fn close_with_cleanup<E: Exchange>(
        &mut self,
        ex: &mut E,
        symbol: &str,
        dir: PositionSide,
        qty: Option<Decimal>,
        reason: &str,
    ) -> CloseOutcome {
        let on_side = self.pairs_on(symbol, dir);
        let pairs = if self.sw.manual_close_finds_pair {
            on_side
        } else {
            if !on_side.is_empty() {
                ex.emit(EngineEvent::Note {
                    text: format!(
                        "{reason}: pair lookup by position_id misses the {symbol}_{} key; legs left armed (W6)",
                        dir.as_str()
                    ),
                });
            }
            Vec::new()
        };
        if self.sw.manual_close_order == CloseOrder::CancelThenClose {
            for id in &pairs {
                self.cancel_pair(ex, *id);
            }
        }
        if self.sw.close_guard && !self.exchange_position_present(symbol, dir) {
            ex.emit(EngineEvent::Note {
                text: format!(
                    "{reason}: close blocked (#481 AC3): the user-data store shows no {symbol} {} position",
                    dir.as_str()
                ),
            });
            self.drop_finished(ex);
            return CloseOutcome::Skipped("skipped_no_exchange_position".into());
        }
        let now = ex.now();
        if self.sw.close_thrash_limit > 0 {
            self.st
                .closes
                .retain(|(t, _)| now.0 - t.0 < THRASH_WINDOW_MS);
            let n = self.st.closes.iter().filter(|(_, s)| s == symbol).count();
            if n >= self.sw.close_thrash_limit as usize {
                self.drop_finished(ex);
                return CloseOutcome::Skipped("skipped_thrash_circuit_open".into());
            }
        }
        let qty = qty.unwrap_or_default();
        let outcome = if qty.is_zero() && self.sw.manual_close_qty == CloseQty::PositionRisk {
            CloseOutcome::Skipped("no open position".into())
        } else {
            let base = self.client_base(ex);
            let order = TradeOrder {
                symbol: symbol.into(),
                kind: Kind::Market,
                side: close_side(dir),
                amount: qty,
                price: None,
                stop_price: None,
                tif: None,
                ps: Some(dir),
                reduce_only: true,
                leg: false,
                client_id: self.client_id(Ident::concat(&["ocoC-", &base])),
            };
            self.st.closes.push((now, symbol.into()));
            match self.execute(ex, &order) {
                Ok(p) => {
                    let closed = if self.sw.entry_resp_result {
                        p.executed > Decimal::ZERO
                    } else {
                        matches!(p.status, "NEW" | "FILLED" | "PARTIALLY_FILLED")
                    };
                    if closed {
                        CloseOutcome::Closed
                    } else {
                        CloseOutcome::Failed(format!("close status {}", p.status))
                    }
                }
                Err(f) => CloseOutcome::Failed(f.text()),
            }
        };
        if self.sw.manual_close_order == CloseOrder::CloseThenCancel {
            // the side's pairs go only once the side is flat: a partial or failed close leaves
            // them protecting what remains
            let flat = match &outcome {
                CloseOutcome::Skipped(s) => s == "no open position",
                CloseOutcome::Closed => self
                    .position_amts_once(ex, symbol)
                    .is_ok_and(|a| a.get(&dir).is_some_and(|q| q.is_zero())),
                CloseOutcome::Failed(_) => false,
            };
            for id in pairs.iter().filter(|_| flat) {
                self.cancel_pair(ex, *id);
            }
            let resting: Vec<OrderId> = self
                .st
                .pending
                .iter()
                .filter(|(_, p)| p.symbol == symbol && p.dir == dir)
                .map(|(id, _)| *id)
                .collect();
            for oid in resting {
                let cancelled = ex.cancel_order(symbol, &OrderRef::Id(oid.0)).is_ok();
                if cancelled || !self.sw.retry_cleanup {
                    self.st.pending.remove(&oid);
                } else {
                    // reference: not known cancelled, so the entry may still fill: its plan
                    // stays (protected if it fills) and the cancel is retried
                    self.queue_cleanup(
                        ex,
                        Cleanup::Cancel(symbol.into(), crate::events::LegId::Order(oid)),
                    );
                }
            }
        }
        if outcome == CloseOutcome::Closed {
            self.book_reset(symbol, dir);
        }
        self.drop_finished(ex);
        outcome
    }

    /// A manual close of one side (or of whatever is open with `BOTH`); returns a summary.
    pub(crate) fn manual_close<E: Exchange>(
        &mut self,
        symbol: &str,
        ps: PositionSide,
        amount: super::CloseAmount,
        ex: &mut E,
    ) -> String {
        let mut dirs = match ps {
            PositionSide::Both => vec![PositionSide::Long, PositionSide::Short],
            d => vec![d],
        };
        let mut amts = None;
        if self.sw.manual_close_qty == CloseQty::PositionRisk {
            match self.position_amts(ex, symbol) {
                Ok(a) => amts = Some(a),
                Err(f) => {
                    let text = format!("manual close {symbol}: positionRisk failed: {}", f.text());
                    ex.emit(EngineEvent::Note { text: text.clone() });
                    return text;
                }
            }
        }
        let qty_of = |this: &Self, d: PositionSide| match &amts {
            Some(a) => a.get(&d).copied().unwrap_or_default(),
            None => this.book_qty(symbol, d),
        };
        if ps == PositionSide::Both {
            dirs.retain(|d| {
                !qty_of(self, *d).is_zero() || self.first_pair_on(symbol, *d).is_some()
            });
            if !self.sw.local_book_by_side && amts.is_none() {
                // P78's book is one signed number per symbol: its sign is the side
                let signed = self
                    .st
                    .book
                    .get(&(symbol.into(), PositionSide::Both))
                    .copied()
                    .unwrap_or_default();
                dirs = vec![if signed < Decimal::ZERO {
                    PositionSide::Short
                } else {
                    PositionSide::Long
                }];
            }
        }
        let mut out = Vec::new();
        for d in dirs {
            // the live releases' `close_position_with_cleanup(quantity)` sends the caller's
            // quantity as given (their own manual scripts pass one: 0.001); only the reference,
            // which reads positionRisk, sends nothing for a side it sees flat
            let qty = match amount {
                super::CloseAmount::Quantity(q)
                    if self.sw.manual_close_qty == CloseQty::LocalBook =>
                {
                    q
                }
                a => a.of(qty_of(self, d)),
            };
            let o = self.close_with_cleanup(ex, symbol, d, Some(qty), "manual");
            let text = format!(
                "manual close {symbol} {} qty {qty}: {}",
                d.as_str(),
                o.text()
            );
            ex.emit(EngineEvent::Note { text: text.clone() });
            out.push(text);
        }
        if out.is_empty() {
            "nothing open".into()
        } else {
            out.join("; ")
        }
    }

    /// A deferred entry filled (partly or fully): protect it now.
    pub(crate) fn protect_pending<E: Exchange>(
        &mut self,
        ex: &mut E,
        oid: OrderId,
        avg: Decimal,
        executed: Decimal,
    ) {
        let Some(p) = self.st.pending.get_mut(&oid) else {
            return;
        };
        p.protected = true;
        let p = p.clone();
        let wire_ps = match self.hedge(ex) {
            Ok(true) => p.dir,
            _ => PositionSide::Both,
        };
        let req = ProtectReq {
            symbol: p.symbol.clone(),
            dir: p.dir,
            wire_ps,
            sl: p.sl,
            tp: p.tp,
            sl_pct: p.sl_pct,
            tp_pct: p.tp_pct,
            fill_price: avg,
            order_price: Decimal::ZERO,
            current_price: avg,
            executed,
            order_amount: p.order_amount,
            spid: p.strategy_position_id,
            base: p.base.clone(),
            open_after: None,
        };
        let (status, detail) = self.protect_entry(ex, req);
        ex.emit(EngineEvent::Note {
            text: format!("entry {oid} filled: {status}: {detail}"),
        });
    }
}
