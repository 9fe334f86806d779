//! The monitor (`tradeengine-oco.md` §4.3, §4.8): polling passes, user-stream reactions, and the
//! startup reconcile.
//!
//! Contract: one pass is a sequence of blocking calls; the loop condition is checked when the
//! timer fires (so the W3 exit happens one interval after the map drained, as the live loop's
//! `sleep(2)` then `while` does); the next pass is scheduled from the end of this one (poll
//! interval, or the error backoff after a failed pass). A pass that changes nothing emits nothing
//! and leaves `stable` set, which is what [`Engine::poll_pass_is_readonly`] reports.

use super::adapter::{
    algo_leg_state, from_base36, leg_text, order_leg_state, Fail, LegState, Route,
};
use super::dispatcher::CloseOutcome;
use super::oco::RiskPlan;
use super::switches::*;
use super::{Engine, Leg, PairRec, PairStatus, Pending};
use crate::api::{AlgoRef, Exchange, OrderInfo, OrderRef, StreamEvent};
use crate::events::{EngineEvent, ExecType, LegId};
use crate::types::*;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};

/// One read of a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    /// P78: `openOrders` for one pair.
    Pair(PairId, Ident),
    /// PHEAD: `openOrders` + `openAlgoOrders` for one `SYMBOL_SIDE` key.
    Key(Ident, PositionSide),
    /// Reference: the books a symbol's legs and pending entries live in.
    Symbol {
        symbol: Ident,
        orders: bool,
        algos: bool,
    },
}

impl Read {
    /// REST calls this read makes.
    pub fn calls(&self) -> u32 {
        match self {
            Read::Pair(..) => 1,
            Read::Key(..) => 2,
            Read::Symbol { orders, algos, .. } => u32::from(*orders) + u32::from(*algos),
        }
    }
}

/// The legs one read saw open: a sorted vector searched by bisection (a set without tree
/// nodes to allocate and free on every pass).
#[derive(Debug, Default)]
pub(crate) struct LegSet(Vec<LegId>);

impl LegSet {
    /// True when `leg` was seen open.
    fn contains(&self, leg: &LegId) -> bool {
        self.0.binary_search(leg).is_ok()
    }
}

/// What one read saw: the open legs, and the open orders sorted by id (for deferred entries).
#[derive(Debug, Default)]
pub(crate) struct Seen {
    legs: LegSet,
    entries: Vec<OrderInfo>,
}

impl Engine {
    /// The monitor's timer: loop condition, then one pass.
    pub(crate) fn timer<E: Exchange>(&mut self, ex: &mut E) {
        if !self.st.running {
            return;
        }
        if self.st.needs_recovery {
            self.st.needs_recovery = false;
            self.st.stable = false;
            self.recover_reference(ex);
        }
        if !self.st.cleanup.is_empty() || !self.st.unresolved.is_empty() {
            self.run_cleanup(ex);
        }
        if !self.has_work() {
            self.st.running = false;
            self.st.next_pass = None;
            self.st.stable = false;
            if self.sw.monitor_restarts {
                self.st.monitoring_active = false;
            } else {
                ex.emit(EngineEvent::MonitorStopped {
                    reason: "pair map drained; monitoring_active stays set, later pairs are not watched (W3)"
                        .into(),
                });
            }
            return;
        }
        let ok = self.pass(ex);
        let mut wait = if ok {
            self.pass_interval_ms()
        } else {
            self.cfg.error_backoff_ms.max(1)
        };
        if !self.st.cleanup.is_empty() || !self.st.unresolved.is_empty() || self.st.needs_recovery {
            // what failed to settle is retried at the retry cadence, not the poll interval
            wait = wait.min((2 * self.sw.retry_base_delay_ms).max(1));
        }
        self.st.next_pass = Some(ex.now().plus(wait));
    }

    /// The books each symbol's active legs and pending entries live in, by symbol (the
    /// reference's `PerSymbol` plan), borrowed: no allocation beyond the small vector.
    fn symbol_books(&self) -> Vec<(&str, bool, bool)> {
        let mut by_symbol: Vec<(&str, bool, bool)> = Vec::new();
        fn slot<'a>(v: &mut Vec<(&'a str, bool, bool)>, s: &'a str) -> usize {
            match v.iter().position(|e| e.0 == s) {
                Some(i) => i,
                None => {
                    v.push((s, false, false));
                    v.len() - 1
                }
            }
        }
        for p in self
            .st
            .pairs
            .values()
            .filter(|p| p.status == PairStatus::Active)
        {
            let i = slot(&mut by_symbol, &p.symbol);
            for l in p.legs() {
                match l.id {
                    LegId::Order(_) => by_symbol[i].1 = true,
                    LegId::Algo(_) => by_symbol[i].2 = true,
                }
            }
        }
        for p in self.st.pending.values() {
            let i = slot(&mut by_symbol, &p.symbol);
            by_symbol[i].1 = true;
        }
        // a resting algo entry is followed through both books (the algo order, then its order)
        for p in self.st.pending_algo.values() {
            let i = slot(&mut by_symbol, &p.symbol);
            by_symbol[i].1 = true;
            by_symbol[i].2 = true;
        }
        // symbols are unique: an unstable sort gives the BTreeMap order
        by_symbol.sort_unstable_by(|a, b| a.0.cmp(b.0));
        by_symbol
    }

    /// Distinct `SYMBOL_SIDE` keys of the active records, in order of their oldest record.
    fn keys(&self) -> Vec<(&str, PositionSide)> {
        let mut keys: Vec<(&str, PositionSide)> = Vec::new();
        for p in self
            .st
            .pairs
            .values()
            .filter(|p| p.status == PairStatus::Active)
        {
            let k = (p.symbol.as_str(), p.dir);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        keys
    }

    /// REST calls the next pass makes (the sum of [`Read::calls`] over [`Engine::read_plan`]),
    /// counted without building the plan.
    pub(crate) fn plan_calls(&self) -> u32 {
        match self.sw.poll_scope {
            PollScope::PerPair => self
                .st
                .pairs
                .values()
                .filter(|p| p.status == PairStatus::Active)
                .count() as u32,
            PollScope::PerKeyBothBooks => 2 * self.keys().len() as u32,
            PollScope::PerSymbol => {
                // one symbol (the engine's usual case): no vector at all
                let (mut one, mut orders, mut algos, mut many) =
                    (None::<&str>, false, false, false);
                let active = self
                    .st
                    .pairs
                    .values()
                    .filter(|p| p.status == PairStatus::Active);
                for p in active {
                    many |= one.is_some_and(|s| s != p.symbol);
                    one = Some(&p.symbol);
                    for l in p.legs() {
                        match l.id {
                            LegId::Order(_) => orders = true,
                            LegId::Algo(_) => algos = true,
                        }
                    }
                }
                for p in self.st.pending.values() {
                    many |= one.is_some_and(|s| s != p.symbol);
                    one = Some(&p.symbol);
                    orders = true;
                }
                for p in self.st.pending_algo.values() {
                    many |= one.is_some_and(|s| s != p.symbol);
                    one = Some(&p.symbol);
                    orders = true;
                    algos = true;
                }
                if many {
                    self.symbol_books()
                        .iter()
                        .map(|&(_, o, a)| u32::from(o) + u32::from(a))
                        .sum()
                } else {
                    u32::from(orders) + u32::from(algos)
                }
            }
        }
    }

    /// The reads the next pass makes, in order.
    pub(crate) fn read_plan(&self) -> Vec<Read> {
        let mut plan = Vec::new();
        self.read_plan_into(&mut plan);
        plan
    }

    /// [`Engine::read_plan`] written into `out`: the one-symbol plan (the usual case) reuses the
    /// read and the symbol string `out` already holds, so a pass allocates nothing for it.
    fn read_plan_into(&self, out: &mut Vec<Read>) {
        if let Some((symbol, orders, algos)) = self.one_symbol_plan() {
            if let [Read::Symbol {
                symbol: s,
                orders: o,
                algos: a,
            }] = out.as_mut_slice()
            {
                s.clone_from(symbol);
                (*o, *a) = (orders, algos);
            } else {
                out.clear();
                out.push(Read::Symbol {
                    symbol: symbol.into(),
                    orders,
                    algos,
                });
            }
            return;
        }
        out.clear();
        out.extend(self.read_plan_general());
    }

    /// The reference's plan when every active pair is on one symbol and no entry is pending:
    /// (symbol, orders book, algo book).
    fn one_symbol_plan(&self) -> Option<(&Ident, bool, bool)> {
        if self.sw.poll_scope != PollScope::PerSymbol
            || !self.st.pending.is_empty()
            || !self.st.pending_algo.is_empty()
        {
            return None;
        }
        let mut active = self
            .st
            .pairs
            .values()
            .filter(|p| p.status == PairStatus::Active);
        let first = active.next()?;
        let (mut orders, mut algos) = (false, false);
        for p in std::iter::once(first).chain(active) {
            if p.symbol != first.symbol {
                return None;
            }
            for l in p.legs() {
                match l.id {
                    LegId::Order(_) => orders = true,
                    LegId::Algo(_) => algos = true,
                }
            }
        }
        Some((&first.symbol, orders, algos))
    }

    /// The plan in every other case.
    fn read_plan_general(&self) -> Vec<Read> {
        match self.sw.poll_scope {
            PollScope::PerPair => self
                .st
                .pairs
                .values()
                .filter(|p| p.status == PairStatus::Active)
                .map(|p| Read::Pair(p.id, p.symbol.clone()))
                .collect(),
            PollScope::PerKeyBothBooks => self
                .keys()
                .into_iter()
                .map(|(s, d)| Read::Key(s.into(), d))
                .collect(),
            PollScope::PerSymbol => self
                .symbol_books()
                .into_iter()
                .map(|(symbol, orders, algos)| Read::Symbol {
                    symbol: symbol.into(),
                    orders,
                    algos,
                })
                .collect(),
        }
    }

    /// One read into `seen` (emptied first; its legs vector is reused).
    fn fetch<E: Exchange>(
        &mut self,
        ex: &mut E,
        read: &Read,
        mut seen: Seen,
    ) -> Result<Seen, Fail> {
        seen.legs.0.clear();
        seen.entries.clear();
        let (symbol, orders, algos) = match read {
            Read::Pair(_, s) => (s.as_str(), true, false),
            Read::Key(s, _) => (s.as_str(), true, true),
            Read::Symbol {
                symbol,
                orders,
                algos,
            } => (symbol.as_str(), *orders, *algos),
        };
        if orders {
            seen.entries = ex.open_orders(symbol)?;
            seen.legs
                .0
                .extend(seen.entries.iter().map(|o| LegId::Order(o.order_id)));
            // as the map keyed by id had them (ids are unique)
            seen.entries.sort_by_key(|o| o.order_id);
        }
        if algos {
            let ids = ex.open_algo_ids(symbol)?;
            seen.legs.0.extend(ids.into_iter().map(LegId::Algo));
        }
        seen.legs.0.sort_unstable();
        Ok(seen)
    }

    /// One monitoring pass; false when it failed (the loop then waits the error backoff).
    fn pass<E: Exchange>(&mut self, ex: &mut E) -> bool {
        let mut clean = true;
        // the plan and the read buffers are kept across passes (no allocation per pass)
        let mut plan = std::mem::take(&mut self.pass_plan);
        self.read_plan_into(&mut plan);
        for read in &plan {
            let buf = std::mem::take(&mut self.pass_seen);
            let seen = match self.fetch(ex, read, buf) {
                Ok(s) => s,
                Err(_) if self.sw.poll_errors_as_empty => Seen::default(),
                Err(_) => {
                    self.st.stable = false;
                    self.pass_plan = plan;
                    return false;
                }
            };
            // the pairs to visit, in a buffer kept across passes (no allocation per pass)
            let mut ids = std::mem::take(&mut self.pass_ids);
            ids.clear();
            match read {
                Read::Pair(id, _) => ids.push(*id),
                Read::Key(s, d) => ids.extend(self.active_pairs_on(s, *d)),
                Read::Symbol { symbol, .. } => ids.extend(
                    self.st
                        .pairs
                        .values()
                        .filter(|p| p.status == PairStatus::Active && &p.symbol == symbol)
                        .map(|p| p.id),
                ),
            }
            for &id in &ids {
                if !self.visit(ex, id, &seen.legs) {
                    clean = false;
                }
            }
            self.pass_ids = ids;
            if let Read::Symbol { symbol, algos, .. } = read {
                if *algos && !self.visit_pending_algo(ex, symbol, &seen.legs) {
                    clean = false;
                }
                if !self.visit_pending(ex, symbol, &seen.entries) {
                    clean = false;
                }
            }
            self.pass_seen = seen;
        }
        self.pass_plan = plan;
        self.drop_finished(ex);
        self.st.stable = clean;
        true
    }

    /// The decision for one record given the open legs; true when nothing changed.
    fn visit<E: Exchange>(&mut self, ex: &mut E, id: PairId, present: &LegSet) -> bool {
        let Some(r) = self.st.pairs.get(&id) else {
            return true;
        };
        if r.status != PairStatus::Active {
            return true;
        }
        let orphan = r.orphan && self.sw.reconcile_cancels_lone_legs;
        if !orphan
            && r.sl.is_none_or(|l| present.contains(&l.id))
            && r.tp.is_none_or(|l| present.contains(&l.id))
        {
            // every leg in place: nothing to decide (the common read-only pass), no copy
            return true;
        }
        let rec = r.clone();
        if orphan {
            // `_cancel_orphaned_order`: cancel if still open, then completed.
            for l in rec.legs().filter(|l| present.contains(&l.id)) {
                let _ = self.cancel_leg_once(ex, &rec.symbol, l.id, Route::Correct);
                ex.emit(EngineEvent::Note {
                    text: format!("orphan {} cancelled (W11)", leg_text(l.id)),
                });
            }
            self.mark(id, PairStatus::Completed, "orphan leg cancelled");
            return false;
        }
        let sl = rec.sl.map(|l| present.contains(&l.id));
        let tp = rec.tp.map(|l| present.contains(&l.id));
        if sl != Some(false) && tp != Some(false) {
            return true;
        }
        match self.sw.monitor_fill_detection {
            FillDetection::MissingMeansFilled => self.decide_missing(ex, &rec, sl, tp),
            FillDetection::QueryStatus => self.decide_query(ex, &rec, present),
        }
    }

    /// The live decision table: absent means filled (W7), both absent means completed (W8).
    fn decide_missing<E: Exchange>(
        &mut self,
        ex: &mut E,
        rec: &PairRec,
        sl: Option<bool>,
        tp: Option<bool>,
    ) -> bool {
        let (fired, other) = match (rec.sl, sl, rec.tp, tp) {
            (Some(s), Some(false), Some(t), Some(true)) => (s.id, t.id),
            (Some(s), Some(true), Some(t), Some(false)) => (t.id, s.id),
            _ => {
                match self.sw.both_missing {
                    BothMissing::MarkCompleted => {
                        self.mark(rec.id, PairStatus::Completed, "no leg open any more");
                    }
                    BothMissing::Reconcile => {
                        self.decide_query(ex, rec, &LegSet::default());
                    }
                }
                return false;
            }
        };
        let ok = self.cancel_other(ex, rec.id, fired, other);
        if self.sw.completion_close_step {
            self.completion_step(ex, rec.id, fired, other);
        } else if !ok && self.sw.exhausted_cancel_drops_pair {
            self.mark(rec.id, PairStatus::Completed, "cancel exhausted");
        }
        false
    }

    /// Reference decision: query each absent leg; true when nothing changed.
    fn decide_query<E: Exchange>(&mut self, ex: &mut E, rec: &PairRec, present: &LegSet) -> bool {
        let mut states = Vec::new();
        for (leg, stop) in rec
            .sl
            .map(|l| (l, true))
            .into_iter()
            .chain(rec.tp.map(|l| (l, false)))
        {
            let s = if present.contains(&leg.id) {
                LegState::Open
            } else {
                match self.query_leg(ex, &rec.symbol, leg.id) {
                    Ok(s) => s,
                    Err(_) => return false,
                }
            };
            states.push((leg, stop, s));
        }
        self.resolve(ex, rec.id, &states)
    }

    /// Acts on known leg states (reference); true when nothing changed.
    fn resolve<E: Exchange>(
        &mut self,
        ex: &mut E,
        id: PairId,
        states: &[(Leg, bool, LegState)],
    ) -> bool {
        let Some(rec) = self.st.pairs.get(&id).cloned() else {
            return true;
        };
        if states.iter().all(|s| s.2 == LegState::Open) {
            return true;
        }
        self.st.stable = false;
        let mut fired = states.iter().filter(|s| s.2 == LegState::Fired);
        if let Some(first) = fired.next() {
            if fired.next().is_some() {
                ex.emit(EngineEvent::Note {
                    text: format!("pair {id}: both legs fired (double fill)"),
                });
            }
            let reason = if first.1 { "stop_loss" } else { "take_profit" };
            for (leg, _, _) in states.iter().filter(|s| s.2 == LegState::Open) {
                if !self.cancel_other(ex, id, first.0.id, leg.id) {
                    return false;
                }
            }
            self.mark(id, PairStatus::Completed, reason);
            self.reprotect_after_fire(ex, &rec);
            return false;
        }
        // a leg ended without a fill: is the position still there?
        let amt = match self.position_amt(ex, &rec.symbol, rec.dir) {
            Ok(a) => a,
            Err(_) => return false,
        };
        if amt.is_zero() {
            for (leg, _, _) in states.iter().filter(|s| s.2 == LegState::Open) {
                self.cancel_or_queue(ex, &rec.symbol, leg.id);
            }
            self.mark(
                id,
                PairStatus::ExternallyClosed,
                "position closed outside the pair",
            );
            return false;
        }
        // re-arm what went away, as a new pair that keeps the survivors
        let mut fresh = rec.clone();
        fresh.announced = false;
        fresh.reconciled = false;
        fresh.orphan = false;
        for (leg, stop, s) in states {
            if *s != LegState::Gone {
                continue;
            }
            let attempt = leg.attempt + 1;
            match self.place_leg(ex, &rec, *stop, leg.price, attempt) {
                Ok(p) => {
                    let nl = Leg {
                        id: p.id,
                        price: leg.price,
                        attempt,
                    };
                    if *stop {
                        fresh.sl = Some(nl);
                    } else {
                        fresh.tp = Some(nl);
                    }
                    ex.emit(EngineEvent::Note {
                        text: format!(
                            "pair {id}: {} ended unfilled with the position open; re-armed as {}",
                            leg_text(leg.id),
                            leg_text(p.id)
                        ),
                    });
                }
                Err(f) => {
                    self.unknown_leg(ex, &rec.symbol, &f);
                    ex.emit(EngineEvent::Note {
                        text: format!("pair {id}: re-arm failed ({}); closing", f.text()),
                    });
                    let out = self.close_with_cleanup(
                        ex,
                        &rec.symbol,
                        rec.dir,
                        Some(amt),
                        "re-arm failed",
                    );
                    if matches!(out, CloseOutcome::Failed(_)) {
                        // the side is open with no leg: the recovery protects or flattens it,
                        // retried at every pass until it is done
                        self.mark(id, PairStatus::Cancelled, "re-arm failed: close refused");
                        self.recovery_failed(ex, "closing after a failed re-arm");
                    } else {
                        self.mark(id, PairStatus::Cancelled, "re-arm failed: position closed");
                    }
                    return false;
                }
            }
        }
        self.mark(id, PairStatus::Cancelled, "re-armed as a new pair");
        let new_id = self.register(ex, fresh);
        let _ = self.check_still_open(ex, new_id);
        false
    }

    /// Reference: a closePosition leg fired, which normally leaves the side flat; a lot added
    /// after the fire (an entry that raced it) would be left naked: protect it with the side's
    /// latest plan, or close it if that fails.
    fn reprotect_after_fire<E: Exchange>(&mut self, ex: &mut E, rec: &PairRec) {
        if !self.sw.verify_position_after_entry {
            return;
        }
        let Ok(amt) = self.position_amt(ex, &rec.symbol, rec.dir) else {
            return;
        };
        if amt.is_zero() || (rec.plan.0.is_none() && rec.plan.1.is_none()) {
            return;
        }
        self.drop_finished(ex);
        let base = self.client_base(ex);
        let plan = RiskPlan {
            symbol: rec.symbol.clone(),
            dir: rec.dir,
            wire_ps: rec.wire_ps,
            sl: rec.plan.0,
            tp: rec.plan.1,
            qty: amt,
            entry_price: Decimal::ZERO,
            strategy_position_id: rec.strategy_position_id,
            base,
        };
        let outcome = self.protect(ex, &plan);
        ex.emit(EngineEvent::Note {
            text: format!(
                "pair {}: {amt} still open after the fire: {}",
                rec.id,
                match &outcome {
                    Ok(d) => d.clone(),
                    Err(f) => f.text(),
                }
            ),
        });
        if outcome.is_err() {
            self.close_with_cleanup(ex, &rec.symbol, rec.dir, Some(amt), "re-protect failed");
        }
    }

    /// Deferred entries of a symbol given its open orders; true when nothing changed.
    fn visit_pending<E: Exchange>(&mut self, ex: &mut E, symbol: &str, open: &[OrderInfo]) -> bool {
        let ids: Vec<OrderId> = self
            .st
            .pending
            .iter()
            .filter(|(_, p)| p.symbol == symbol)
            .map(|(id, _)| *id)
            .collect();
        let mut clean = true;
        for oid in ids {
            let protected = self.st.pending.get(&oid).is_some_and(|p| p.protected);
            let seen = open
                .binary_search_by_key(&oid, |o| o.order_id)
                .ok()
                .map(|i| &open[i]);
            if let Some(info) = seen {
                if info.executed_qty > Decimal::ZERO && !protected {
                    clean = false;
                    self.protect_pending(ex, oid, info.avg_price, info.executed_qty);
                }
                continue;
            }
            clean = false;
            let Ok(info) = ex.query_order(symbol, &OrderRef::Id(oid.0)) else {
                continue;
            };
            if info.status.is_terminal() {
                if info.executed_qty > Decimal::ZERO && !protected {
                    self.protect_pending(ex, oid, info.avg_price, info.executed_qty);
                } else if info.executed_qty.is_zero() {
                    ex.emit(EngineEvent::Note {
                        text: format!("entry {oid} ended unfilled"),
                    });
                }
                self.st.pending.remove(&oid);
            }
        }
        clean
    }

    /// Deferred conditional entries on the Algo Order API given the open algo orders: one that
    /// left the book is looked up; once triggered, its order is watched as a deferred entry.
    /// True when nothing changed.
    fn visit_pending_algo<E: Exchange>(&mut self, ex: &mut E, symbol: &str, open: &LegSet) -> bool {
        let ids: Vec<AlgoId> = self
            .st
            .pending_algo
            .iter()
            .filter(|(id, p)| p.symbol == symbol && !open.contains(&LegId::Algo(**id)))
            .map(|(id, _)| *id)
            .collect();
        let mut clean = true;
        for aid in ids {
            clean = false;
            let Ok(info) = ex.query_algo_order(symbol, &AlgoRef::Id(aid.0)) else {
                continue;
            };
            self.algo_entry_moved(ex, aid, info.algo_status, info.actual_order_id);
        }
        clean
    }

    /// A deferred algo entry is now `status` (with its triggered order, if any): adopt the order
    /// as a deferred entry (protected at once when it has filled), or drop an entry that ended.
    fn algo_entry_moved<E: Exchange>(
        &mut self,
        ex: &mut E,
        aid: AlgoId,
        status: AlgoStatus,
        actual: Option<OrderId>,
    ) {
        match (status, actual) {
            (_, Some(oid)) => {
                let Some(plan) = self.st.pending_algo.remove(&aid) else {
                    return;
                };
                let symbol = plan.symbol.clone();
                self.st.pending.insert(oid, plan);
                ex.emit(EngineEvent::Note {
                    text: format!("entry algo {aid} triggered: order {oid}"),
                });
                self.st.stable = false;
                if let Ok(info) = ex.query_order(&symbol, &OrderRef::Id(oid.0)) {
                    if info.executed_qty > Decimal::ZERO {
                        self.protect_pending(ex, oid, info.avg_price, info.executed_qty);
                    }
                    if info.status.is_terminal() {
                        self.st.pending.remove(&oid);
                    }
                }
            }
            (
                AlgoStatus::Canceled
                | AlgoStatus::Expired
                | AlgoStatus::Rejected
                | AlgoStatus::Finished,
                None,
            ) if self.st.pending_algo.remove(&aid).is_some() => {
                ex.emit(EngineEvent::Note {
                    text: format!("entry algo {aid} ended untriggered"),
                });
            }
            _ => {}
        }
    }

    /// Records what a stream event says about a leg that ended (fired, expired, cancelled).
    /// Inline: it runs for every queued event at each delivery (`sim::run_inner`), and most say
    /// nothing of an ended leg (account updates, open legs); only those pay for a call and the
    /// walk over the pairs ([`Self::note_ended`]).
    #[inline]
    pub(crate) fn note_stream(&mut self, ev: &StreamEvent) {
        let (leg, state) = match ev {
            StreamEvent::Algo(u) => (
                LegId::Algo(u.algo_id),
                match u.status {
                    AlgoStatus::Finished => LegState::Fired,
                    s => algo_leg_state(s, Decimal::ZERO),
                },
            ),
            StreamEvent::Order(u) => (
                LegId::Order(u.order_id),
                order_leg_state(u.status, u.cum_qty),
            ),
            StreamEvent::Account(_) => return,
        };
        if state == LegState::Open || self.st.pairs.is_empty() {
            return;
        }
        self.note_ended(leg, state);
    }

    /// [`Self::note_stream`] of a leg that ended: kept when a pair the engine tracks has it.
    #[inline(never)]
    fn note_ended(&mut self, leg: LegId, state: LegState) {
        // only legs of pairs the engine tracks matter
        let tracked = self
            .st
            .pairs
            .values()
            .any(|p| p.status == PairStatus::Active && p.legs().any(|l| l.id == leg));
        if tracked {
            self.st.stream_ended.or_insert(leg, state);
        }
    }

    /// True when [`Self::stream_event_noted`] of `ev` leaves what [`Self::note_stream`] reads
    /// as it was (the pairs, their statuses and legs, and `stream_ended`): an account update,
    /// or an update of an order or algo order that is no deferred entry and that `leg_event`
    /// returns on at once (its leg open, or no active pair has it). The same tests, in the
    /// same order, as the branches it stands for.
    pub(crate) fn stream_event_is_inert(&self, ev: &StreamEvent) -> bool {
        let (leg, state) = match ev {
            StreamEvent::Account(_) => return true,
            StreamEvent::Algo(u) => {
                if self.st.pending_algo.contains_key(&u.algo_id) {
                    return false;
                }
                let state = match u.status {
                    AlgoStatus::Finished => LegState::Fired,
                    s => algo_leg_state(s, Decimal::ZERO),
                };
                (LegId::Algo(u.algo_id), state)
            }
            StreamEvent::Order(u) => {
                if self.st.pending.contains_key(&u.order_id) {
                    return false;
                }
                let state = if u.exec_type == ExecType::Expired
                    && u.expiry_reason == ExpiryReason::LegacyTriggered
                {
                    LegState::Fired
                } else {
                    order_leg_state(u.status, u.cum_qty)
                };
                (LegId::Order(u.order_id), state)
            }
        };
        state == LegState::Open
            || !self
                .st
                .pairs
                .values()
                .any(|p| p.status == PairStatus::Active && p.legs().any(|l| l.id == leg))
    }

    /// A user-data-stream event (reference stream monitoring).
    pub(crate) fn stream_event<E: Exchange>(&mut self, ev: &StreamEvent, ex: &mut E) {
        self.note_stream(ev);
        self.stream_event_noted(ev, ex);
    }

    /// [`Self::stream_event`] once [`Self::note_stream`] has seen `ev`.
    pub(crate) fn stream_event_noted<E: Exchange>(&mut self, ev: &StreamEvent, ex: &mut E) {
        match ev {
            StreamEvent::Algo(u) if self.st.pending_algo.contains_key(&u.algo_id) => {
                self.algo_entry_moved(ex, u.algo_id, u.status, u.actual_order_id);
            }
            StreamEvent::Algo(u) => {
                let state = match u.status {
                    AlgoStatus::Finished => LegState::Fired,
                    s => algo_leg_state(s, Decimal::ZERO),
                };
                self.leg_event(ex, LegId::Algo(u.algo_id), state);
            }
            StreamEvent::Order(u) => {
                if self.st.pending.contains_key(&u.order_id) {
                    let protected = self
                        .st
                        .pending
                        .get(&u.order_id)
                        .is_some_and(|p| p.protected);
                    if u.cum_qty > Decimal::ZERO && !protected {
                        self.protect_pending(ex, u.order_id, u.avg_price, u.cum_qty);
                    }
                    // a legacy STOP_MARKET entry that triggers expires (er=8) and lives on
                    // under the same id as a MARKET order: not its end
                    let triggered = u.exec_type == ExecType::Expired
                        && u.expiry_reason == ExpiryReason::LegacyTriggered;
                    if u.status.is_terminal() && !triggered {
                        if u.cum_qty.is_zero() {
                            ex.emit(EngineEvent::Note {
                                text: format!("entry {} ended unfilled", u.order_id),
                            });
                        }
                        self.st.pending.remove(&u.order_id);
                    }
                    self.st.stable = false;
                    return;
                }
                let state = if u.exec_type == ExecType::Expired
                    && u.expiry_reason == ExpiryReason::LegacyTriggered
                {
                    LegState::Fired
                } else {
                    order_leg_state(u.status, u.cum_qty)
                };
                self.leg_event(ex, LegId::Order(u.order_id), state);
            }
            StreamEvent::Account(_) => {}
        }
    }

    fn leg_event<E: Exchange>(&mut self, ex: &mut E, leg: LegId, state: LegState) {
        if state == LegState::Open {
            return;
        }
        // the pair's id and legs only (no copy of its strings)
        let Some((id, sl, tp)) = self
            .st
            .pairs
            .values()
            .find(|p| p.status == PairStatus::Active && p.legs().any(|l| l.id == leg))
            .map(|p| (p.id, p.sl, p.tp))
        else {
            return;
        };
        // at most two legs: on the stack, not in a Vec (this runs for every leg that ends)
        let unused = Leg {
            id: leg,
            price: Decimal::ZERO,
            attempt: 0,
        };
        let mut buf = [(unused, false, LegState::Open); 2];
        let mut n = 0;
        for (l, stop) in sl
            .map(|l| (l, true))
            .into_iter()
            .chain(tp.map(|l| (l, false)))
        {
            let s = if l.id == leg {
                state
            } else {
                // what the stream already said about the sibling (e.g. EXPIRED by the venue)
                self.st
                    .stream_ended
                    .get(&l.id)
                    .copied()
                    .unwrap_or(LegState::Open)
            };
            buf[n] = (l, stop, s);
            n += 1;
        }
        let states = &buf[..n];
        for (l, _, _) in states {
            self.st.stream_ended.remove(&l.id);
        }
        self.resolve(ex, id, states);
        self.drop_finished(ex);
        if !self.st.running && self.has_work() {
            self.start_monitoring(ex);
        }
    }

    /// Startup `reconcile_from_exchange` (PHEAD §4.8) or the reference recovery.
    pub(crate) fn reconcile_from_exchange<E: Exchange>(&mut self, ex: &mut E) {
        match self.sw.reconcile_on_restart {
            Reconcile::Off => return,
            Reconcile::ClientIdsAndPositions => self.recover_reference(ex),
            Reconcile::ZipByCreateTime => self.reconcile_phead(ex),
        }
        if self.has_work() {
            self.start_monitoring(ex);
        }
    }

    /// PHEAD `Dispatcher.initialize()` (`startup_reconcile`): `reconcile_from_exchange` on the
    /// whole account, then the user-data store's seed, `positionRisk` and `openOrders` (no symbol:
    /// `exchange_truth_store.py:376-380@9adbfe9`); their answers only seed the store, whose
    /// positions [`crate::api::Exchange::stream_positions`] stands for.
    pub(crate) fn startup<E: Exchange>(&mut self, ex: &mut E) {
        self.reconcile_from_exchange(ex);
        let _ = ex.position_risk("");
        let _ = ex.open_orders("");
    }

    /// PHEAD: algo book (or the regular book if that is empty or fails), grouped per position
    /// side, zipped by createTime; leftovers become orphans (W11). With `startup_reconcile` the
    /// books are read account-wide (no symbol), as `Dispatcher.initialize()` does.
    fn reconcile_phead<E: Exchange>(&mut self, ex: &mut E) {
        let symbol = self.cfg.spec.symbol.clone();
        let read = if self.sw.startup_reconcile {
            Ident::new()
        } else {
            symbol.clone()
        };
        // (create time, id, is stop, positionSide, side, trigger)
        let mut legs: Vec<(TimeMs, LegId, bool, PositionSide, Side, Decimal)> = Vec::new();
        match ex.open_algo_orders(&read) {
            Ok(list) if !list.is_empty() => {
                for a in list {
                    if a.order_type.is_stop() || a.order_type.is_take_profit() {
                        legs.push((
                            a.create_time,
                            LegId::Algo(a.algo_id),
                            a.order_type.is_stop(),
                            a.position_side,
                            a.side,
                            a.trigger_price,
                        ));
                    }
                }
            }
            _ => match ex.open_orders(&read) {
                Ok(list) => {
                    for o in list {
                        let t = o.orig_type;
                        if o.order_type.is_conditional() && (t.is_stop() || t.is_take_profit()) {
                            legs.push((
                                o.time,
                                LegId::Order(o.order_id),
                                t.is_stop(),
                                o.position_side,
                                o.side,
                                o.stop_price,
                            ));
                        }
                    }
                }
                Err(_) => return,
            },
        }
        legs.sort_by_key(|l| (l.0, l.1));
        let mut groups: BTreeMap<PositionSide, (Vec<Leg>, Vec<Leg>, Side)> = BTreeMap::new();
        for (_, id, stop, ps, side, price) in legs {
            let g = groups
                .entry(ps)
                .or_insert_with(|| (Vec::new(), Vec::new(), side));
            let leg = Leg {
                id,
                price,
                attempt: 0,
            };
            if stop {
                g.0.push(leg);
            } else {
                g.1.push(leg);
            }
        }
        for (ps, (sls, tps, side)) in groups {
            let dir = match ps {
                PositionSide::Both => {
                    if side == Side::Sell {
                        PositionSide::Long
                    } else {
                        PositionSide::Short
                    }
                }
                p => p,
            };
            let n = sls.len().max(tps.len());
            for i in 0..n {
                let (sl, tp) = (sls.get(i).copied(), tps.get(i).copied());
                let rec = PairRec {
                    id: PairId(0),
                    symbol: symbol.clone(),
                    dir,
                    wire_ps: ps,
                    sl,
                    tp,
                    status: PairStatus::Active,
                    reason: Default::default(),
                    strategy_position_id: None,
                    quantity: Decimal::ZERO,
                    reconciled: true,
                    orphan: sl.is_none() || tp.is_none(),
                    announced: false,
                    base: Ident::new(),
                    plan: (sl.map(|l| l.price), tp.map(|l| l.price)),
                };
                self.register(ex, rec);
            }
        }
    }

    /// A recovery read failed: the monitor retries the recovery at its next pass.
    fn recovery_failed<E: Exchange>(&mut self, ex: &mut E, what: &str) {
        ex.emit(EngineEvent::Note {
            text: format!("recovery: {what} failed; the monitor retries it"),
        });
        self.st.needs_recovery = true;
        self.start_monitoring(ex);
    }

    /// Reference recovery of a lone leg `present`: its sibling (the stop when `stop`) under the
    /// same client-id base, newest attempt first, in the book `present` lives in. `Err` when a
    /// query's outcome is unknown (a transport fault, a 5xx, a throttle): the sibling may exist,
    /// so the recovery is retried rather than the leg tracked alone.
    fn lost_sibling<E: Exchange>(
        &mut self,
        ex: &mut E,
        symbol: &str,
        base: &str,
        stop: bool,
        present: Leg,
    ) -> Result<Option<Leg>, ()> {
        let tag = if stop { "ocoS" } else { "ocoT" };
        // only "no such order" rules an attempt out
        let unknown = |e: &crate::api::CallError| !matches!(e.code(), Some(-2013) | Some(-2011));
        // re-arms count attempts per leg: the sibling's may be a few ahead of this one's
        for attempt in (0..=present.attempt.saturating_add(2).min(8)).rev() {
            let cid = Ident::from(format!("{tag}-{base}-{attempt}"));
            match present.id {
                LegId::Algo(_) => {
                    match ex.query_algo_order(symbol, &crate::api::AlgoRef::Client(cid)) {
                        Ok(a) => {
                            return Ok(Some(Leg {
                                id: LegId::Algo(a.algo_id),
                                price: a.trigger_price,
                                attempt,
                            }))
                        }
                        Err(e) if unknown(&e) => return Err(()),
                        Err(_) => {}
                    }
                }
                LegId::Order(_) => match ex.query_order(symbol, &OrderRef::Client(cid)) {
                    Ok(o) => {
                        return Ok(Some(Leg {
                            id: LegId::Order(o.order_id),
                            price: o.stop_price,
                            attempt,
                        }))
                    }
                    Err(e) if unknown(&e) => return Err(()),
                    Err(_) => {}
                },
            }
        }
        Ok(None)
    }

    /// Reference recovery: legs and resting entries by client id, positions from positionRisk;
    /// legs of a flat side are cancelled; a position with no legs and no entry plan is flattened,
    /// and the recovery is retried at the next pass when that close fails.
    pub(crate) fn recover_reference<E: Exchange>(&mut self, ex: &mut E) {
        let symbol = self.cfg.spec.symbol.clone();
        let Ok(orders) = ex.open_orders(&symbol) else {
            return self.recovery_failed(ex, "openOrders");
        };
        let algos = if self.algo_legs() {
            match ex.open_algo_orders(&symbol) {
                Ok(a) => a,
                Err(crate::api::CallError::Api(e))
                    if e.http == 404 && self.sw.legs_api == LegsApi::Auto =>
                {
                    self.note_no_algo_api(ex);
                    Vec::new()
                }
                Err(_) => return self.recovery_failed(ex, "openAlgoOrders"),
            }
        } else {
            Vec::new()
        };
        // legs by base: (sl, tp, dir, wire ps); legs already tracked (a retried recovery) skipped
        type Group = (Option<Leg>, Option<Leg>, PositionSide, PositionSide);
        let mut groups: BTreeMap<Ident, Group> = BTreeMap::new();
        let known: BTreeSet<LegId> = self
            .st
            .pairs
            .values()
            .filter(|p| p.status == PairStatus::Active)
            .flat_map(|p| p.legs().map(|l| l.id).collect::<Vec<_>>())
            .collect();
        let mut add = |cid: &str, id: LegId, side: Side, ps: PositionSide, price: Decimal| {
            if known.contains(&id) {
                return;
            }
            let mut parts = cid.split('-');
            let tag = parts.next().unwrap_or("");
            let base = Ident::from(parts.next().unwrap_or(""));
            let attempt: u32 = parts.next().and_then(|a| a.parse().ok()).unwrap_or(0);
            let stop = match tag {
                "ocoS" => true,
                "ocoT" => false,
                _ => return,
            };
            let dir = if side == Side::Sell {
                PositionSide::Long
            } else {
                PositionSide::Short
            };
            let g = groups.entry(base).or_insert((None, None, dir, ps));
            let leg = Some(Leg { id, price, attempt });
            if stop {
                g.0 = leg;
            } else {
                g.1 = leg;
            }
        };
        for a in &algos {
            add(
                &a.client_algo_id,
                LegId::Algo(a.algo_id),
                a.side,
                a.position_side,
                a.trigger_price,
            );
        }
        for o in &orders {
            if o.order_type.is_conditional() {
                add(
                    &o.client_order_id,
                    LegId::Order(o.order_id),
                    o.side,
                    o.position_side,
                    o.stop_price,
                );
            }
        }
        // resting entries carry their plan in the client id: ocoE-<base>-<sl ticks>-<tp ticks>;
        // a STOP entry on the algo API rests as an algo order until it triggers
        let tick = self.cfg.spec.tick_size;
        // what the resting entries have filled so far explains that much of their side's
        // position (their plan protects it); the rest of an open side is not theirs
        let mut explained: BTreeMap<PositionSide, Decimal> = BTreeMap::new();
        for o in orders
            .iter()
            .filter(|o| !o.order_type.is_conditional() && o.client_order_id.starts_with("ocoE-"))
        {
            let dir = if o.side == Side::Buy {
                PositionSide::Long
            } else {
                PositionSide::Short
            };
            *explained.entry(dir).or_default() += o.executed_qty;
        }
        let entries = orders
            .iter()
            .filter(|o| !self.st.pending.contains_key(&o.order_id))
            .map(|o| {
                (
                    &o.client_order_id,
                    LegId::Order(o.order_id),
                    o.side,
                    o.orig_qty,
                )
            })
            .chain(
                algos
                    .iter()
                    .filter(|a| !self.st.pending_algo.contains_key(&a.algo_id))
                    .map(|a| {
                        (
                            &a.client_algo_id,
                            LegId::Algo(a.algo_id),
                            a.side,
                            a.quantity,
                        )
                    }),
            )
            .collect::<Vec<_>>();
        for (cid, id, side, qty) in entries {
            let mut parts = cid.split('-');
            if parts.next() != Some("ocoE") {
                continue;
            }
            let base = Ident::from(parts.next().unwrap_or(""));
            let mut px = || {
                parts
                    .next()
                    .and_then(from_base36)
                    .map(|t| (Decimal::from(t) * tick).normalize())
            };
            let (sl, tp) = (px(), px());
            let dir = if side == Side::Buy {
                PositionSide::Long
            } else {
                PositionSide::Short
            };
            let spid = self.seq();
            let plan = Pending {
                symbol: symbol.clone(),
                dir,
                sl,
                tp,
                sl_pct: None,
                tp_pct: None,
                base,
                protected: false,
                order_amount: qty,
                strategy_position_id: spid,
            };
            match id {
                LegId::Order(o) => self.st.pending.insert(o, plan),
                LegId::Algo(a) => self.st.pending_algo.insert(a, plan),
            };
        }
        let amts = match self.position_amts(ex, &symbol) {
            Ok(a) => a,
            Err(_) => return self.recovery_failed(ex, "positionRisk"),
        };
        let mut covered: BTreeSet<PositionSide> = self
            .st
            .pairs
            .values()
            .filter(|p| p.status == PairStatus::Active)
            .map(|p| p.dir)
            .collect();
        // sides a pair placed since the restart protects (a resting entry that filled while an
        // earlier try of this recovery failed): older legs found there are replaced by it
        let paired = covered.clone();
        for (base, (sl, tp, dir, ps)) in groups {
            if amts.get(&dir).copied().unwrap_or_default().is_zero() {
                for l in sl.iter().chain(tp.iter()) {
                    self.cancel_or_queue(ex, &symbol, l.id);
                }
                ex.emit(EngineEvent::Note {
                    text: format!("recovery: legs of {base} rest against a flat side; cancelled"),
                });
                continue;
            }
            if paired.contains(&dir) {
                for l in sl.iter().chain(tp.iter()) {
                    self.cancel_or_queue(ex, &symbol, l.id);
                }
                ex.emit(EngineEvent::Note {
                    text: format!(
                        "recovery: legs of {base} rest on a side a newer pair protects; cancelled"
                    ),
                });
                continue;
            }
            covered.insert(dir);
            // a lone leg with the position open: its sibling ended while the engine was down
            // (cancelled or expired behind its back); found by client id, it is tracked as it
            // is, so the next pass reads it ended and re-arms it
            // (an unknown answer: recover again at the next pass; legs tracked so far stay)
            let found = match (sl, tp) {
                (Some(l), None) => self
                    .lost_sibling(ex, &symbol, &base, false, l)
                    .map(|t| (Some(l), t)),
                (None, Some(l)) => self
                    .lost_sibling(ex, &symbol, &base, true, l)
                    .map(|s| (s, Some(l))),
                both => Ok(both),
            };
            let Ok((sl, tp)) = found else {
                return self.recovery_failed(ex, "a lone leg's sibling query");
            };
            let rec = PairRec {
                id: PairId(0),
                symbol: symbol.clone(),
                dir,
                wire_ps: ps,
                sl,
                tp,
                status: PairStatus::Active,
                reason: Default::default(),
                strategy_position_id: None,
                quantity: amts.get(&dir).copied().unwrap_or_default(),
                reconciled: true,
                orphan: false,
                announced: false,
                base,
                plan: (sl.map(|l| l.price), tp.map(|l| l.price)),
            };
            self.register(ex, rec);
        }
        let mut flatten_failed = false;
        for (dir, amt) in amts {
            if amt.is_zero() || covered.contains(&dir) {
                continue;
            }
            // a resting entry's plan covers only what it filled: a position that an entry
            // the engine never saw fill opened (it filled, then the process restarted before
            // the fill was read) has no known plan, even with another entry resting on its side
            let resting = self.st.pending.values().any(|p| p.dir == dir)
                || self.st.pending_algo.values().any(|p| p.dir == dir);
            let amt = amt - explained.get(&dir).copied().unwrap_or_default();
            if amt <= Decimal::ZERO {
                continue;
            }
            ex.emit(EngineEvent::Note {
                text: if resting {
                    format!(
                        "recovery: {} {} open beyond what its resting entries filled, with no legs and no known plan; flattening that part",
                        dir.as_str(),
                        amt
                    )
                } else {
                    format!(
                        "recovery: {} {} open with no legs and no known plan; flattening",
                        dir.as_str(),
                        amt
                    )
                },
            });
            let out =
                self.close_with_cleanup(ex, &symbol, dir, Some(amt), "recovery: naked position");
            self.drop_finished(ex);
            if matches!(out, CloseOutcome::Failed(_)) {
                flatten_failed = true;
            }
        }
        // a refused or lost flattening leaves the side naked: recover again at the next pass
        if flatten_failed {
            self.recovery_failed(ex, "flattening a naked position");
        }
    }
}
