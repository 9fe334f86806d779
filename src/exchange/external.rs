//! Things done to the account behind the engine's back (`[[external]]` in a scenario): a
//! protective order cancelled by someone else or expired by the venue, and an ADL reduction of a
//! position. The venue session (`sim::external`) decides *which* order or position at the act's
//! time; this file performs the change with the same state transitions and user-data-stream events
//! as the venue's own paths.
//!
//! - Cancel: ORDER_TRADE_UPDATE `x=CANCELED X=CANCELED` (legacy conditional or resting limit) or
//!   ALGO_UPDATE `X=CANCELED` (algo order), exactly as `DELETE` would produce.
//! - Expire: ORDER_TRADE_UPDATE `x=EXPIRED X=EXPIRED er=0` or ALGO_UPDATE `X=EXPIRED` (a
//!   system-led cancellation, `binance-usdm-futures.md` §6).
//! - ADL (`binance-usdm-futures.md` §5: "ADL orders use `c=\"adl_autoclose\"`"): an order of type
//!   `LIQUIDATION`, client id `adl_autoclose`, `x=CALCULATED X=FILLED`, reduces the position at the
//!   trade price of that moment, then ACCOUNT_UPDATE (reason ORDER: Binance's documented reasons
//!   have no ADL one) with its realized PnL. No fee is charged (an ADL is not a trade the account
//!   placed) [INF]. The position-bound expiries of a position change follow (GTE_GTC legs of a
//!   position that reached zero expire, reduce-only orders that can no longer reduce expire).
//!
//! Must not import the engine.

use super::{ps_idx, MockExchange};
use crate::events::AccountReason;
use crate::types::*;
use rust_decimal::Decimal;

/// Client order id of an ADL order (Binance's own).
pub const ADL_CLIENT_ID: &str = "adl_autoclose";

/// What an ADL did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdlFill {
    /// The ADL order's id.
    pub order_id: OrderId,
    /// Quantity closed.
    pub qty: Decimal,
    /// Price.
    pub price: Decimal,
    /// Realized PnL booked.
    pub realized: Decimal,
    /// Position amount before (signed).
    pub before: Decimal,
}

impl MockExchange {
    /// True when order `k` is live (not terminal) — a resting or armed order.
    pub(crate) fn order_live(&self, k: usize) -> bool {
        self.orders.get(k).is_some_and(|o| !o.status.is_terminal())
    }

    /// True when algo order `k` still rests untriggered.
    pub(crate) fn algo_live(&self, k: usize) -> bool {
        self.algos
            .get(k)
            .is_some_and(|a| a.status == AlgoStatus::New)
    }

    /// Ends live order `k` (book index) from outside: cancelled by someone else, or expired by the
    /// venue (`er=0`). False when it was no longer live.
    pub(crate) fn external_end_order(&mut self, k: usize, expire: bool) -> bool {
        if !self.order_live(k) {
            return false;
        }
        if expire {
            self.expire_order(k, ExpiryReason::None);
        } else {
            self.cancel_order_at(k);
        }
        self.compact_open();
        true
    }

    /// Ends resting algo order `k` from outside (cancelled or expired). False when it was no
    /// longer resting.
    pub(crate) fn external_end_algo(&mut self, k: usize, expire: bool) -> bool {
        if !self.algo_live(k) {
            return false;
        }
        let status = if expire {
            AlgoStatus::Expired
        } else {
            AlgoStatus::Canceled
        };
        self.finish_algo(k, status, "");
        self.compact_open();
        true
    }

    /// The signed position amount of a side, in steps.
    pub(crate) fn position_steps(&self, ps: PositionSide) -> i64 {
        self.pos[ps_idx(ps)].amt
    }

    /// Auto-deleverages `steps` (clipped to the position) of position side `ps` at the current
    /// trade price: `LIQUIDATION` order `adl_autoclose`, `x=CALCULATED`, ACCOUNT_UPDATE reason
    /// ORDER, no fee. None when the side is flat or `steps` is 0.
    pub(crate) fn adl(&mut self, ps: PositionSide, steps: i64) -> Option<AdlFill> {
        let amt = self.pos[ps_idx(ps)].amt;
        let steps = steps.min(amt.abs());
        if amt == 0 || steps <= 0 {
            return None;
        }
        let at = self.cur.price.max(1);
        let (order_id, f) = self.forced_close(
            ps,
            steps,
            at,
            ADL_CLIENT_ID.into(),
            AccountReason::Order,
            Decimal::ZERO,
        );
        let px = self.spec.price(at);
        self.compact_open();
        Some(AdlFill {
            order_id,
            qty: self.spec.qty(f.filled),
            price: px,
            realized: f.realized,
            before: self.spec.qty(amt),
        })
    }
}
