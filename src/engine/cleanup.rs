//! What failed to settle, retried by the monitor until it does (`retry_cleanup`, reference): legs
//! that must be cancelled, orders whose placement outcome stayed unknown, sides whose rollback
//! close failed.
//!
//! Contract: every item is idempotent to retry (a cancel answered -2011/-2013 means the order is
//! already gone; an unknown entry is looked up by its client id, never re-posted; a side is
//! re-read from positionRisk before each close), so running the queue twice changes nothing
//! the second time. Items are kept in a `BTreeSet`, visited in order.

use super::adapter::{leg_text, LegState, Route};
use super::dispatcher::CloseOutcome;
use super::{Cleanup, Engine};
use crate::api::{AlgoRef, CallError, Exchange, OrderRef};
use crate::events::{EngineEvent, LegId};
use crate::types::Ident;
use rust_decimal::Decimal;

impl Engine {
    /// Queues an item for the monitor (when `retry_cleanup` is on) and makes sure it runs.
    pub(crate) fn queue_cleanup<E: Exchange>(&mut self, ex: &mut E, item: Cleanup) {
        if !self.sw.retry_cleanup {
            return;
        }
        self.st.cleanup.insert(item);
        self.st.stable = false;
        self.start_monitoring(ex);
    }

    /// Cancels a leg that must not stay; unless that is confirmed, it is queued.
    pub(crate) fn cancel_or_queue<E: Exchange>(&mut self, ex: &mut E, symbol: &str, leg: LegId) {
        if !self.cancel_confirmed(ex, symbol, leg) {
            self.queue_cleanup(ex, Cleanup::Cancel(symbol.into(), leg));
        }
    }

    /// Cancels a leg; true once it is known to be gone. A -2011/-2013 answer is checked with a
    /// status query (the cancel may have raced the venue and the leg still rest).
    pub(crate) fn cancel_confirmed<E: Exchange>(
        &mut self,
        ex: &mut E,
        symbol: &str,
        leg: LegId,
    ) -> bool {
        match self.cancel_leg_once(ex, symbol, leg, Route::Correct) {
            Ok(()) => true,
            Err(CallError::Api(e)) if matches!(e.code, -2011 | -2013) => matches!(
                self.query_leg(ex, symbol, leg),
                Ok(LegState::Fired | LegState::Gone)
            ),
            Err(_) => false,
        }
    }

    /// Before new exposure (`retry_cleanup`): finish a pending restart recovery and run the
    /// queue; refuse the entry (`Some(result)`) while the engine's view of the venue is
    /// incomplete or a leg that must go may still rest (it could close the new position).
    pub(crate) fn settle_before_entry<E: Exchange>(
        &mut self,
        ex: &mut E,
    ) -> Option<super::Verdict> {
        if !self.sw.retry_cleanup {
            return None;
        }
        if self.st.needs_recovery {
            self.st.needs_recovery = false;
            self.recover_reference(ex);
            if self.st.needs_recovery {
                return Some((
                    "rejected".into(),
                    "restart recovery incomplete: the venue could not be read".into(),
                ));
            }
        }
        if !self.st.cleanup.is_empty() || !self.st.unresolved.is_empty() {
            self.run_cleanup(ex);
        }
        if !self.st.cleanup.is_empty() {
            return Some((
                "rejected".into(),
                format!(
                    "{} unsettled order(s) or close(s) first",
                    self.st.cleanup.len()
                ),
            ));
        }
        None
    }

    /// One round over the queue and the unresolved entries.
    pub(crate) fn run_cleanup<E: Exchange>(&mut self, ex: &mut E) {
        self.st.stable = false;
        let entries: Vec<Ident> = self.st.unresolved.keys().cloned().collect();
        for cid in entries {
            self.resolve_entry(ex, &cid);
        }
        let items: Vec<Cleanup> = self.st.cleanup.iter().cloned().collect();
        for item in items {
            let done = match &item {
                Cleanup::Cancel(symbol, leg) => self.cancel_confirmed(ex, symbol, *leg),
                Cleanup::CancelClient(symbol, algo, cid) => {
                    let r = if *algo {
                        ex.cancel_algo_order(symbol, &AlgoRef::Client(cid.clone()))
                            .map(|_| ())
                    } else {
                        ex.cancel_order(symbol, &OrderRef::Client(cid.clone()))
                            .map(|_| ())
                    };
                    match r {
                        Ok(()) => true,
                        // unknown to the cancel: gone or never placed, unless a query finds it open
                        Err(CallError::Api(e)) if matches!(e.code, -2011 | -2013) => {
                            let open = if *algo {
                                ex.query_algo_order(symbol, &AlgoRef::Client(cid.clone()))
                                    .map(|i| i.algo_status.is_open())
                            } else {
                                ex.query_order(symbol, &OrderRef::Client(cid.clone()))
                                    .map(|i| !i.status.is_terminal())
                            };
                            match open {
                                Ok(o) => !o,
                                Err(CallError::Api(e)) => e.code == -2013,
                                Err(_) => false,
                            }
                        }
                        Err(_) => false,
                    }
                }
                Cleanup::CheckPair(id) => {
                    // the check re-queues itself when the read fails again
                    self.st.cleanup.remove(&item);
                    let _ = self.check_still_open(ex, *id);
                    continue;
                }
                Cleanup::Flatten(symbol, dir) => match self.position_amt(ex, symbol, *dir) {
                    Ok(a) if a.is_zero() => true,
                    Ok(a) => {
                        self.close_with_cleanup(ex, symbol, *dir, Some(a), "rollback retry")
                            == CloseOutcome::Closed
                    }
                    Err(_) => false,
                },
            };
            if done {
                self.st.cleanup.remove(&item);
            }
        }
    }

    /// An entry whose outcome was unknown: found → accepted now (and protected once filled);
    /// positively absent → forgotten; no answer → asked again next pass.
    fn resolve_entry<E: Exchange>(&mut self, ex: &mut E, cid: &str) {
        let Some(p) = self.st.unresolved.get(cid).cloned() else {
            return;
        };
        match ex.query_order(&p.symbol, &OrderRef::Client(cid.into())) {
            Ok(info) => {
                self.st.unresolved.remove(cid);
                let wants_stop = p.sl.is_some() || (self.sw.risk_from_pct && p.sl_pct.is_some());
                ex.emit(EngineEvent::Note {
                    text: format!(
                        "entry {cid} found after an unknown outcome: {}",
                        leg_text(LegId::Order(info.order_id))
                    ),
                });
                if info.executed_qty.is_zero() && info.status.is_terminal() {
                    return;
                }
                ex.emit(EngineEvent::EntryAccepted {
                    symbol: p.symbol.clone(),
                    position_side: info.position_side,
                    order_id: info.order_id,
                    wants_stop,
                });
                self.book_add(&p.symbol, p.dir, p.order_amount, ex.now());
                self.st.pending.insert(info.order_id, p);
                if info.executed_qty > Decimal::ZERO {
                    self.protect_pending(ex, info.order_id, info.avg_price, info.executed_qty);
                }
                if info.status.is_terminal() {
                    self.st.pending.remove(&info.order_id);
                }
            }
            Err(CallError::Api(e)) if e.code == -2013 => {
                self.st.unresolved.remove(cid);
                ex.emit(EngineEvent::Note {
                    text: format!("entry {cid} never reached the exchange"),
                });
            }
            Err(_) => {}
        }
    }
}
