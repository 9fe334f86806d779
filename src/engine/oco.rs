//! The OCO manager (`tradeengine-oco.md` §4): pair records and their states, placement with the
//! PHEAD guards, cancel-other with its retry policy, PHEAD's completion step, `cancel_oco_pair`.
//!
//! Contract: a record enters the map only through [`Engine::register`] (which emits `PairPlaced`
//! for a two-leg record and starts the monitor the way the live engine does, W3 guard included)
//! and leaves it only through [`Engine::drop_finished`] (which emits `PairDropped`). Status
//! changes in between are plain assignments, as in the live engine's dicts.

use super::adapter::{close_side, leg_text, Fail, Kind, LegState, Placed, Route, TradeOrder};
use super::switches::*;
use super::{Cleanup, Engine, Leg, PairRec, PairStatus};
use crate::api::{CallError, Exchange, OrderRef};
use crate::events::{EngineEvent, LegId};
use crate::types::*;
use rust_decimal::Decimal;

/// What the dispatcher asks the OCO manager to protect.
#[derive(Debug, Clone)]
pub(crate) struct RiskPlan {
    pub symbol: Ident,
    /// LONG or SHORT.
    pub dir: PositionSide,
    /// positionSide the entry got on the exchange.
    pub wire_ps: PositionSide,
    pub sl: Option<Decimal>,
    pub tp: Option<Decimal>,
    /// Leg quantity (unused with closePosition legs).
    pub qty: Decimal,
    /// Entry anchor price (0 = unknown).
    pub entry_price: Decimal,
    pub strategy_position_id: Option<u64>,
    /// Client-id base of the entry.
    pub base: Ident,
}

/// `place_oco_orders` result statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OcoStatus {
    Success(PairId),
    DuplicateOco,
    SkippedExchangePairExists,
    DirectionInversion,
    PositionNaked(String),
    Failed(String),
}

impl OcoStatus {
    pub fn text(&self) -> String {
        match self {
            OcoStatus::Success(id) => format!("success (pair {id})"),
            OcoStatus::DuplicateOco => "rejected: duplicate_oco".into(),
            OcoStatus::SkippedExchangePairExists => "skipped_exchange_pair_exists".into(),
            OcoStatus::DirectionInversion => "rejected: direction_inversion".into(),
            OcoStatus::PositionNaked(s) => format!("failed: position_naked ({s})"),
            OcoStatus::Failed(s) => format!("failed ({s})"),
        }
    }
}

/// Decimal constant `n / 100`.
pub(crate) fn pct(n: Decimal) -> Decimal {
    n / Decimal::from(100)
}

impl Engine {
    /// Adds a record to the map, announces it, and starts the monitor unless `monitoring_active`
    /// is already set (the W3 guard).
    pub(crate) fn register<E: Exchange>(&mut self, ex: &mut E, mut rec: PairRec) -> PairId {
        let id = PairId(self.next_pair);
        self.next_pair += 1;
        rec.id = id;
        if let (Some(sl), Some(tp)) = (rec.sl, rec.tp) {
            rec.announced = true;
            ex.emit(EngineEvent::PairPlaced {
                pair: id,
                symbol: rec.symbol.clone(),
                position_side: rec.wire_ps,
                sl: sl.id,
                tp: tp.id,
            });
        } else {
            let leg = rec
                .legs()
                .next()
                .map(|l| leg_text(l.id))
                .unwrap_or_default();
            let what = if rec.orphan { "orphan" } else { "single-leg" };
            ex.emit(EngineEvent::Note {
                text: format!("{what} record {id} registered: {leg}"),
            });
        }
        self.st.pairs.insert(id, rec);
        self.st.stable = false;
        self.start_monitoring(ex);
        id
    }

    /// `start_monitoring()`: returns early while `monitoring_active` is set.
    pub(crate) fn start_monitoring<E: Exchange>(&mut self, ex: &mut E) {
        if self.st.monitoring_active {
            return;
        }
        self.st.monitoring_active = true;
        self.st.running = true;
        self.st.next_pass = Some(ex.now());
    }

    /// Removes every record that is no longer `active`, announcing each.
    pub(crate) fn drop_finished<E: Exchange>(&mut self, ex: &mut E) {
        // dropped in key order as they are found (no list of ids collected first); the
        // announcements touch only `ex`, so the events come in the map's order as before
        let stable = &mut self.st.stable;
        self.st.pairs.retain(|&id, rec| {
            if rec.status == PairStatus::Active {
                return true;
            }
            *stable = false;
            if rec.announced {
                ex.emit(EngineEvent::PairDropped {
                    pair: id,
                    status: rec.status.as_str().into(),
                    reason: std::mem::take(&mut rec.reason),
                });
            } else {
                ex.emit(EngineEvent::Note {
                    text: format!(
                        "record {id} dropped: {} ({})",
                        rec.status.as_str(),
                        rec.reason
                    ),
                });
            }
            false
        });
    }

    /// Sets a record's status and reason (if it is still in the map).
    pub(crate) fn mark(
        &mut self,
        id: PairId,
        status: PairStatus,
        reason: impl Into<std::borrow::Cow<'static, str>>,
    ) {
        if let Some(r) = self.st.pairs.get_mut(&id) {
            r.status = status;
            r.reason = reason.into();
        }
    }

    /// The active records protecting (symbol, dir), oldest first, as ids (no collection: a
    /// placement asks only for the first, a monitoring pass extends its kept buffer).
    pub(crate) fn active_pairs_on<'a>(
        &'a self,
        symbol: &'a str,
        dir: PositionSide,
    ) -> impl Iterator<Item = PairId> + 'a {
        self.st
            .pairs
            .values()
            .filter(move |p| p.status == PairStatus::Active && p.symbol == symbol && p.dir == dir)
            .map(|p| p.id)
    }

    /// The oldest active record protecting (symbol, dir).
    pub(crate) fn first_pair_on(&self, symbol: &str, dir: PositionSide) -> Option<PairId> {
        self.active_pairs_on(symbol, dir).next()
    }

    /// The active records protecting (symbol, dir), oldest first.
    pub(crate) fn pairs_on(&self, symbol: &str, dir: PositionSide) -> Vec<PairId> {
        self.active_pairs_on(symbol, dir).collect()
    }

    /// PHEAD's PERCENT_PRICE / safety-floor adjuster for an algo stop (§5.3): clamps into the live
    /// band less 1 %, refuses a stop inside the floor when the floor lies inside the band; fails
    /// open on a ticker error.
    pub(crate) fn adjust_stop<E: Exchange>(
        &mut self,
        ex: &mut E,
        symbol: &str,
        dir: PositionSide,
        sl: Decimal,
    ) -> Result<Decimal, Fail> {
        let Ok(last) = ex.ticker_price(symbol) else {
            return Ok(sl);
        };
        let one = Decimal::ONE;
        let margin = Decimal::new(1, 2);
        let spec = &self.cfg.spec;
        let lo = last * spec.percent_down * (one + margin);
        let hi = last * spec.percent_up * (one - margin);
        let floor = pct(self.sw.sl_market_floor_pct);
        if dir == PositionSide::Short {
            if sl > hi {
                return Ok(hi);
            }
            let floor_px = last * (one + floor);
            if floor > Decimal::ZERO && sl < floor_px {
                if floor_px > hi {
                    return Ok(hi);
                }
                return Err(Fail::Local("stop inside the safety floor".into()));
            }
        } else {
            if sl < lo {
                return Ok(lo);
            }
            let floor_px = last * (one - floor);
            if floor > Decimal::ZERO && sl > floor_px {
                if floor_px < lo {
                    return Ok(lo);
                }
                return Err(Fail::Local("stop inside the safety floor".into()));
            }
        }
        Ok(sl)
    }

    /// Posts one leg (no adjuster): STOP_MARKET for the stop, TAKE_PROFIT_MARKET for the target.
    pub(crate) fn place_leg<E: Exchange>(
        &mut self,
        ex: &mut E,
        rec: &PairRec,
        stop: bool,
        price: Decimal,
        attempt: u32,
    ) -> Result<Placed, Fail> {
        let o = TradeOrder {
            symbol: rec.symbol.clone(),
            kind: if stop { Kind::Stop } else { Kind::TakeProfit },
            side: close_side(rec.dir),
            amount: rec.quantity,
            price: Some(price),
            stop_price: None,
            tif: None,
            ps: Some(rec.dir),
            reduce_only: true,
            leg: true,
            client_id: self.leg_client_id(rec, stop, attempt),
        };
        self.execute(ex, &o)
    }

    /// A record template for a plan (id and legs filled in later).
    pub(crate) fn record_for(&self, plan: &RiskPlan) -> PairRec {
        PairRec {
            id: PairId(0),
            symbol: plan.symbol.clone(),
            dir: plan.dir,
            wire_ps: plan.wire_ps,
            sl: None,
            tp: None,
            status: PairStatus::Active,
            reason: Default::default(),
            strategy_position_id: plan.strategy_position_id,
            quantity: plan.qty,
            reconciled: false,
            orphan: false,
            announced: false,
            base: plan.base.clone(),
            plan: (plan.sl, plan.tp),
        }
    }

    /// `place_oco_orders`: guards, SL then TP, register on success (§4.2).
    pub(crate) fn place_oco<E: Exchange>(
        &mut self,
        ex: &mut E,
        plan: &RiskPlan,
    ) -> Result<OcoStatus, Fail> {
        if self.sw.one_pair_per_side {
            if let Some(id) = self.first_pair_on(&plan.symbol, plan.dir) {
                if self.sw.monitor_fill_detection != FillDetection::QueryStatus {
                    return Ok(OcoStatus::DuplicateOco);
                }
                if self.verify_pair_open(ex, id)? {
                    return self.extend_pair(ex, id, plan);
                }
            }
        }
        if self.sw.exchange_truth_dedup {
            if let Ok(list) = ex.open_algo_orders(&plan.symbol) {
                let mine = |ps: PositionSide| ps == plan.dir || ps == PositionSide::Both;
                let sl = list
                    .iter()
                    .any(|a| mine(a.position_side) && a.order_type.is_stop());
                let tp = list
                    .iter()
                    .any(|a| mine(a.position_side) && a.order_type.is_take_profit());
                if sl && tp {
                    return Ok(OcoStatus::SkippedExchangePairExists);
                }
            }
        }
        if self.sw.direction_refusal && plan.entry_price > Decimal::ZERO {
            let e = plan.entry_price;
            let long = plan.dir != PositionSide::Short;
            let bad_sl = plan.sl.is_some_and(|s| if long { s >= e } else { s <= e });
            let bad_tp = plan.tp.is_some_and(|t| if long { t <= e } else { t >= e });
            if bad_sl || bad_tp {
                return Ok(OcoStatus::DirectionInversion);
            }
        }
        let mut rec = self.record_for(plan);
        let mut failures = Vec::new();
        if let Some(mut p) = plan.sl {
            let adjusted = if self.sw.percent_price_clamp && self.algo_legs() {
                self.adjust_stop(ex, &plan.symbol, plan.dir, p)
            } else {
                Ok(p)
            };
            match adjusted {
                Ok(a) => {
                    p = a;
                    match self.place_leg(ex, &rec, true, p, 0) {
                        Ok(x) => {
                            rec.sl = Some(Leg {
                                id: x.id,
                                price: self.fmt_price(p),
                                attempt: 0,
                            })
                        }
                        Err(Fail::Budget) => return Err(Fail::Budget),
                        Err(f) => {
                            self.unknown_leg(ex, &plan.symbol, &f);
                            failures.push(format!("SL: {}", f.text()))
                        }
                    }
                }
                // an exception inside place_oco_orders: status "error"
                Err(f) => return Ok(OcoStatus::Failed(format!("error: SL {}", f.text()))),
            }
        }
        let abort = self.sw.oco_abort_after_failed_leg && !failures.is_empty();
        if let Some(p) = plan.tp.filter(|_| !abort) {
            match self.place_leg(ex, &rec, false, p, 0) {
                Ok(x) => {
                    rec.tp = Some(Leg {
                        id: x.id,
                        price: self.fmt_price(p),
                        attempt: 0,
                    })
                }
                Err(Fail::Budget) => return Err(Fail::Budget),
                Err(f) => {
                    self.unknown_leg(ex, &plan.symbol, &f);
                    failures.push(format!("TP: {}", f.text()))
                }
            }
        }
        if failures.is_empty() {
            let id = self.register(ex, rec);
            let _ = self.check_still_open(ex, id);
            return Ok(OcoStatus::Success(id));
        }
        let why = failures.join("; ");
        let posted: Vec<LegId> = rec.legs().map(|l| l.id).collect();
        if posted.is_empty() {
            return Ok(OcoStatus::Failed(why));
        }
        if self.sw.partial_oco_cancels_survivor {
            for leg in &posted {
                self.cancel_or_queue(ex, &plan.symbol, *leg);
            }
            return Ok(OcoStatus::PositionNaked(format!(
                "{why}; posted leg cancelled"
            )));
        }
        ex.emit(EngineEvent::Note {
            text: format!(
                "partial OCO: {} left on the exchange, untracked (W2)",
                posted
                    .iter()
                    .map(|l| leg_text(*l))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
        Ok(OcoStatus::Failed(why))
    }

    /// Reference, after placing legs (`verify_position_after_entry`): if the side went flat while
    /// they were being placed (a leg of an earlier pair fired), they rest against nothing and no
    /// position change will ever expire them: cancel them and drop the pair.
    pub(crate) fn check_still_open<E: Exchange>(&mut self, ex: &mut E, id: PairId) -> bool {
        if !self.sw.verify_position_after_entry {
            return true;
        }
        // what the check needs of the record, not a copy of it (it runs after every placement)
        let Some((symbol, dir, sl, tp)) = self
            .st
            .pairs
            .get(&id)
            .map(|r| (r.symbol.clone(), r.dir, r.sl, r.tp))
        else {
            return true;
        };
        let Ok(amts) = self.position_amts(ex, &symbol) else {
            self.queue_cleanup(ex, Cleanup::CheckPair(id));
            return false;
        };
        if !amts.get(&dir).is_some_and(|a| a.is_zero()) {
            return true;
        }
        for l in sl.into_iter().chain(tp) {
            self.cancel_or_queue(ex, &symbol, l.id);
        }
        self.mark(
            id,
            PairStatus::ExternallyClosed,
            "the side went flat while the legs were placed",
        );
        self.drop_finished(ex);
        true
    }

    /// A leg placement whose outcome stayed unknown: the leg may rest; cancel it by client id.
    pub(crate) fn unknown_leg<E: Exchange>(&mut self, ex: &mut E, symbol: &str, f: &Fail) {
        if let Fail::Unknown(cid) = f {
            let algo = self.algo_legs();
            self.queue_cleanup(ex, Cleanup::CancelClient(symbol.into(), algo, cid.clone()));
        }
    }

    /// Reference dedup: the side's open pair covers the new entry, completed with a leg it lacks
    /// (a TP-only record gets the stop a later entry asks for) as a new pair keeping its leg.
    fn extend_pair<E: Exchange>(
        &mut self,
        ex: &mut E,
        id: PairId,
        plan: &RiskPlan,
    ) -> Result<OcoStatus, Fail> {
        let Some(rec) = self.st.pairs.get(&id).cloned() else {
            return Ok(OcoStatus::DuplicateOco);
        };
        let missing: Vec<(bool, Decimal)> = [(true, rec.sl, plan.sl), (false, rec.tp, plan.tp)]
            .into_iter()
            .filter_map(|(stop, have, want)| match (have, want) {
                (None, Some(p)) => Some((stop, p)),
                _ => None,
            })
            .collect();
        let latest = (plan.sl.or(rec.plan.0), plan.tp.or(rec.plan.1));
        if let Some(r) = self.st.pairs.get_mut(&id) {
            r.plan = latest;
        }
        if missing.is_empty() {
            return Ok(OcoStatus::DuplicateOco);
        }
        let attempt = rec.legs().map(|l| l.attempt).max().unwrap_or(0) + 1;
        let mut fresh = rec.clone();
        fresh.announced = false;
        fresh.plan = latest;
        for (stop, price) in missing {
            match self.place_leg(ex, &rec, stop, price, attempt) {
                Ok(p) => {
                    let leg = Some(Leg {
                        id: p.id,
                        price: self.fmt_price(price),
                        attempt,
                    });
                    if stop {
                        fresh.sl = leg;
                    } else {
                        fresh.tp = leg;
                    }
                }
                Err(Fail::Budget) => return Err(Fail::Budget),
                Err(f) => {
                    self.unknown_leg(ex, &rec.symbol, &f);
                    if let Some(l) = fresh.sl.filter(|_| rec.sl.is_none()) {
                        self.cancel_or_queue(ex, &rec.symbol, l.id);
                    }
                    return Ok(OcoStatus::Failed(format!(
                        "completing pair {id}: {}",
                        f.text()
                    )));
                }
            }
        }
        self.mark(id, PairStatus::Cancelled, "completed with a new leg");
        let new_id = self.register(ex, fresh);
        self.drop_finished(ex);
        let _ = self.check_still_open(ex, new_id);
        Ok(OcoStatus::Success(new_id))
    }

    /// Reference dedup: the side's pair counts only if its legs are still open; a stale one is
    /// cleaned up (remaining legs cancelled, record dropped) so a fresh pair can be placed.
    fn verify_pair_open<E: Exchange>(&mut self, ex: &mut E, id: PairId) -> Result<bool, Fail> {
        let Some(rec) = self.st.pairs.get(&id).cloned() else {
            return Ok(false);
        };
        let orders = rec.legs().any(|l| matches!(l.id, LegId::Order(_)));
        let algos = rec.legs().any(|l| matches!(l.id, LegId::Algo(_)));
        let attempts = self.sw.placement_retries.max(1);
        let mut present = None;
        for a in 0..attempts {
            match self.open_legs(ex, &rec.symbol, orders, algos) {
                Ok(p) => {
                    present = Some(p);
                    break;
                }
                Err(Fail::Budget) => return Err(Fail::Budget),
                Err(_) if a + 1 < attempts => self.pause(ex, self.sw.retry_base_delay_ms << a)?,
                Err(_) => {}
            }
        }
        // unreadable: the pair is taken to cover the side; the monitor checks it next pass
        let Some(present) = present else {
            return Ok(true);
        };
        if rec.legs().all(|l| present.contains(&l.id)) {
            return Ok(true);
        }
        for l in rec.legs().filter(|l| present.contains(&l.id)) {
            self.cancel_or_queue(ex, &rec.symbol, l.id);
        }
        self.mark(id, PairStatus::Cancelled, "stale: replaced by a new pair");
        self.drop_finished(ex);
        Ok(false)
    }

    /// Ids of the open orders and open algo orders of a symbol.
    pub(crate) fn open_legs<E: Exchange>(
        &mut self,
        ex: &mut E,
        symbol: &str,
        orders: bool,
        algos: bool,
    ) -> Result<std::collections::BTreeSet<LegId>, Fail> {
        let mut set = std::collections::BTreeSet::new();
        if orders {
            for o in ex.open_orders(symbol)? {
                set.insert(LegId::Order(o.order_id));
            }
        }
        if algos && self.algo_legs() {
            match ex.open_algo_orders(symbol) {
                Ok(list) => set.extend(list.into_iter().map(|a| LegId::Algo(a.algo_id))),
                Err(CallError::Api(e)) if e.http == 404 && self.sw.legs_api == LegsApi::Auto => {
                    self.note_no_algo_api(ex)
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(set)
    }

    /// `cancel_other_order`: cancels the surviving leg with the profile's retry policy; true when
    /// the record is done with (completed / externally_closed).
    pub(crate) fn cancel_other<E: Exchange>(
        &mut self,
        ex: &mut E,
        id: PairId,
        filled: LegId,
        other: LegId,
    ) -> bool {
        let Some(symbol) = self.st.pairs.get(&id).map(|r| r.symbol.clone()) else {
            return false;
        };
        self.st.stable = false;
        ex.emit(EngineEvent::CancelOther {
            pair: id,
            filled,
            cancel: other,
        });
        let attempts = self.sw.cancel_retries.max(1);
        for a in 0..attempts {
            match self.cancel_leg_once(ex, &symbol, other, Route::Switch) {
                Ok(()) => {
                    self.mark(id, PairStatus::Completed, "other leg cancelled");
                    return true;
                }
                Err(CallError::Api(e)) if matches!(e.code, -2011 | -2013) => {
                    if self.sw.cancel_unknown_is_success {
                        self.mark(
                            id,
                            PairStatus::ExternallyClosed,
                            format!("cancel answered {}: treated as done", e.code),
                        );
                        return true;
                    }
                    if self.sw.monitor_fill_detection != FillDetection::QueryStatus {
                        return false;
                    }
                    match self.query_leg(ex, &symbol, other) {
                        Ok(LegState::Open) => {}
                        Ok(LegState::Fired) => {
                            ex.emit(EngineEvent::Note {
                                text: format!("pair {id}: both legs fired (double fill)"),
                            });
                            self.mark(id, PairStatus::Completed, "both legs fired");
                            return true;
                        }
                        Ok(LegState::Gone) => {
                            self.mark(id, PairStatus::Completed, "other leg already gone");
                            return true;
                        }
                        Err(_) => {}
                    }
                }
                Err(_) => {}
            }
            if a + 1 < attempts {
                ex.sleep((self.sw.cancel_retry_base_ms << a).min(4_000));
                self.refresh_store(ex);
            }
        }
        if attempts > 1 {
            ex.emit(EngineEvent::Note {
                text: format!("pair {id}: cancel of {} exhausted", leg_text(other)),
            });
        }
        false
    }

    /// PHEAD `_close_position_on_oco_completion` (§4.7): exit details via `GET /fapi/v1/order`
    /// (fails for algo ids, P&L 0), a second cancel via `DELETE /fapi/v1/order`, whose fallback
    /// shape fails client-side; then `completed`. Reconciled records (no strategy position) return
    /// early.
    pub(crate) fn completion_step<E: Exchange>(
        &mut self,
        ex: &mut E,
        id: PairId,
        filled: LegId,
        other: LegId,
    ) {
        let Some(rec) = self.st.pairs.get(&id).cloned() else {
            return;
        };
        if rec.strategy_position_id.is_none() {
            return;
        }
        let num = |l: LegId| match l {
            LegId::Order(o) => o.0,
            LegId::Algo(a) => a.0,
        };
        if ex
            .query_order(&rec.symbol, &OrderRef::Id(num(filled)))
            .is_err()
        {
            ex.emit(EngineEvent::Note {
                text: format!("pair {id}: exit fill query failed, exit = entry, P&L 0 (W5)"),
            });
        }
        // `exchange.cancel_order`: DELETE /fapi/v1/order; for an algo id its fallback DELETE
        // algoOrder is built with `params=`, and python-binance raises KeyError('data') before
        // sending anything, so the failure ends here.
        let _ = ex.cancel_order(&rec.symbol, &OrderRef::Id(num(other)));
        self.mark(id, PairStatus::Completed, "oco completion");
    }

    /// `cancel_oco_pair` (§4.5): every leg of the record on its correct endpoint, no retry.
    pub(crate) fn cancel_pair<E: Exchange>(&mut self, ex: &mut E, id: PairId) -> bool {
        let Some(rec) = self.st.pairs.get(&id).cloned() else {
            return false;
        };
        if !self.sw.cancel_pair_works {
            ex.emit(EngineEvent::Note {
                text: format!(
                    "pair {id}: cancel_oco_pair failed: futures_cancel_batch_orders does not exist (W4)"
                ),
            });
            return false;
        }
        let tolerant = self.sw.monitor_fill_detection == FillDetection::QueryStatus;
        let mut all_ok = rec.sl.is_some() && rec.tp.is_some() || tolerant;
        for l in rec.legs() {
            let ok = if tolerant {
                self.cancel_confirmed(ex, &rec.symbol, l.id)
            } else {
                self.cancel_leg_once(ex, &rec.symbol, l.id, Route::Correct)
                    .is_ok()
            };
            all_ok &= ok;
        }
        if all_ok {
            self.mark(id, PairStatus::Cancelled, "pair cancelled");
        }
        all_ok
    }
}
