//! How long ended orders stay on the venue. Binance's GET /fapi/v1/order does not find a
//! CANCELED or EXPIRED order with no fill once 3 days have passed since it was created, nor any
//! order 90 days after its creation; the same holds for algo orders on GET /fapi/v1/algoOrder
//! (`-2013 Order does not exist.`). Queries here follow those rules.
//!
//! The rules also bound the store: the orders of the last 90 days, not those of the whole run.
//! When a push is about to open a new chunk of the order or the algo order store, the oldest
//! chunks of both whose orders have all ended and were all created more than 90 days ago are freed. Nothing can
//! tell a freed order from one only past 90 days: a query answers -2013 for both, a cancel
//! -2011 (it has ended), and a fault aimed at the order's role finds no order
//! ([`MockExchange::order_held`]). Open orders are never freed, whatever their age.

use super::*;

/// A CANCELED or EXPIRED order with nothing filled is not found after this long (3 days).
pub const UNFILLED_RETENTION_MS: i64 = 3 * 86_400_000;
/// No order is found after this long (90 days).
pub const RETENTION_MS: i64 = 90 * 86_400_000;

impl Order {
    /// True when GET /fapi/v1/order no longer finds it at `now` (ms).
    pub(crate) fn query_gone(&self, now: i64) -> bool {
        let age = now.saturating_sub(self.time.0);
        age > RETENTION_MS
            || (age > UNFILLED_RETENTION_MS
                && self.executed == 0
                && matches!(self.status, OrderStatus::Canceled | OrderStatus::Expired))
    }

    /// True when it can be freed at `now`: ended, and past every query.
    fn freeable(&self, now: i64) -> bool {
        self.status.is_terminal() && now.saturating_sub(self.time.0) > RETENTION_MS
    }
}

impl Algo {
    /// True when GET /fapi/v1/algoOrder no longer finds it at `now` (ms). A CANCELED or EXPIRED
    /// algo order never triggered, so it has no fill.
    pub(crate) fn query_gone(&self, now: i64) -> bool {
        let age = now.saturating_sub(self.create_time.0);
        age > RETENTION_MS
            || (age > UNFILLED_RETENTION_MS
                && matches!(self.status, AlgoStatus::Canceled | AlgoStatus::Expired))
    }

    /// True when it can be freed at `now`: ended (a triggered algo order waits for its child),
    /// and past every query.
    fn freeable(&self, now: i64) -> bool {
        !matches!(
            self.status,
            AlgoStatus::New | AlgoStatus::Triggering | AlgoStatus::Triggered
        ) && now.saturating_sub(self.create_time.0) > RETENTION_MS
    }
}

impl MockExchange {
    /// Frees the oldest chunks of both stores that hold only freeable orders. Called when a push
    /// is about to open a new chunk of either store (once every 1,024 orders or algo orders), so
    /// the check is cheap.
    pub(crate) fn retire(&mut self) {
        let now = self.cur.time;
        // the open lists may still name orders that ended: they name none freed after this
        self.compact_open();
        self.orders
            .free_front_while(|c| c.iter().all(|o| o.freeable(now)));
        self.algos
            .free_front_while(|c| c.iter().all(|a| a.freeable(now)));
    }

    /// Regular and algo orders the store holds (not freed): about 90 days' worth at most, plus
    /// whatever is still open.
    pub fn orders_held(&self) -> (usize, usize) {
        (self.orders.held(), self.algos.held())
    }

    /// Order `k`, unless it is freed or past 90 days and ended (the two look the same).
    pub(crate) fn order_held(&self, k: usize) -> Option<&Order> {
        let now = self.cur.time;
        self.orders.get(k).filter(|o| !o.freeable(now))
    }

    /// Algo order `k`, unless it is freed or past 90 days and ended.
    pub(crate) fn algo_held(&self, k: usize) -> Option<&Algo> {
        let now = self.cur.time;
        self.algos.get(k).filter(|a| !a.freeable(now))
    }
}
