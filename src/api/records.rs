//! What crosses the seam besides requests and answers: the user-data stream's payloads
//! (ORDER_TRADE_UPDATE, ALGO_UPDATE, ACCOUNT_UPDATE) and the engine's own annotations
//! ([`EngineEvent`], [`Exchange::emit`](super::Exchange::emit)). The event log
//! ([`crate::events`]) records them; they live here so that `api` depends on nothing above it.

use crate::types::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// ORDER_TRADE_UPDATE `x`: what happened to the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecType {
    /// Accepted.
    New,
    /// A fill.
    Trade,
    /// Cancelled.
    Canceled,
    /// Expired (see `er`).
    Expired,
    /// Liquidation fill.
    Calculated,
}

impl ExecType {
    /// Binance spelling (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            ExecType::New => "NEW",
            ExecType::Trade => "TRADE",
            ExecType::Canceled => "CANCELED",
            ExecType::Expired => "EXPIRED",
            ExecType::Calculated => "CALCULATED",
        }
    }
}

/// ORDER_TRADE_UPDATE payload `o`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderUpdate {
    /// s
    pub symbol: Ident,
    /// c
    pub client_order_id: Ident,
    /// S
    pub side: Side,
    /// o
    pub order_type: OrderType,
    /// ot
    pub orig_type: OrderType,
    /// f
    pub time_in_force: TimeInForce,
    /// q
    pub orig_qty: Decimal,
    /// p
    pub price: Decimal,
    /// ap
    pub avg_price: Decimal,
    /// sp
    pub stop_price: Decimal,
    /// x
    pub exec_type: ExecType,
    /// X
    pub status: OrderStatus,
    /// i
    pub order_id: OrderId,
    /// l
    pub last_qty: Decimal,
    /// z
    pub cum_qty: Decimal,
    /// L
    pub last_price: Decimal,
    /// n (commission in USDT)
    pub commission: Decimal,
    /// m
    pub is_maker: bool,
    /// R
    pub reduce_only: bool,
    /// ps
    pub position_side: PositionSide,
    /// cp
    pub close_position: bool,
    /// rp (realized PnL of this trade)
    pub realized_pnl: Decimal,
    /// er
    pub expiry_reason: ExpiryReason,
    /// The algo order this child came from (not a Binance field; `ai` links the other way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_algo: Option<AlgoId>,
}

/// ALGO_UPDATE payload.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlgoUpdate {
    /// s
    pub symbol: Ident,
    /// caid
    pub client_algo_id: Ident,
    /// aid
    pub algo_id: AlgoId,
    /// o
    pub order_type: OrderType,
    /// S
    pub side: Side,
    /// ps
    pub position_side: PositionSide,
    /// f
    pub time_in_force: TimeInForce,
    /// q
    pub quantity: Decimal,
    /// X
    pub status: AlgoStatus,
    /// ai
    pub actual_order_id: Option<OrderId>,
    /// tp
    pub trigger_price: Decimal,
    /// p
    pub price: Decimal,
    /// cp
    pub close_position: bool,
    /// R
    pub reduce_only: bool,
    /// wt
    pub working_type: WorkingType,
    /// rm (reject reason; empty when none)
    pub reject_reason: String,
}

/// ACCOUNT_UPDATE `a.m`: why balances or positions changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountReason {
    /// A trade.
    Order,
    /// Funding settlement.
    FundingFee,
    /// Liquidation.
    Liquidation,
}

/// One position row of ACCOUNT_UPDATE `a.P`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionRow {
    /// s
    pub symbol: Ident,
    /// ps
    pub position_side: PositionSide,
    /// pa (signed)
    pub amount: Decimal,
    /// ep
    pub entry_price: Decimal,
    /// cr (accumulated realized)
    pub accumulated_realized: Decimal,
    /// Liquidation price after this update (not a Binance field; positionRisk's
    /// `liquidationPrice`), absent when flat or when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liquidation_price: Option<Decimal>,
}

/// ACCOUNT_UPDATE payload.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountUpdate {
    /// a.m
    pub reason: AccountReason,
    /// a.B[USDT].wb
    pub wallet_balance: Decimal,
    /// a.B[USDT].bc (balance change excluding PnL and fee; funding amount here)
    pub balance_change: Decimal,
    /// Realized PnL booked by this update.
    pub realized_pnl: Decimal,
    /// Fee charged by this update (positive = paid).
    pub fee: Decimal,
    /// a.P (changed positions only)
    pub positions: Vec<PositionRow>,
}

/// Engine-side annotations: what the engine believes and decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EngineEvent {
    /// A signal reached the engine.
    Signal {
        /// Signal id (`strategy_symbol_action_time`).
        id: String,
        /// buy / sell / close / hold (a fixed spelling: borrowed, not allocated per signal).
        action: Cow<'static, str>,
        /// symbol
        symbol: Ident,
        /// Requested quantity.
        quantity: Decimal,
        /// Absolute stop-loss asked for, if any.
        stop_loss: Option<Decimal>,
        /// Absolute take-profit asked for, if any.
        take_profit: Option<Decimal>,
    },
    /// The engine's verdict on a signal.
    SignalResult {
        /// Signal id.
        id: String,
        /// executed / duplicate / rejected / failed / rolled_back / … (a fixed spelling).
        status: Cow<'static, str>,
        /// Why, in a few words.
        detail: String,
    },
    /// An entry was accepted by the exchange and the engine considers the position protected-to-be.
    EntryAccepted {
        /// symbol
        symbol: Ident,
        /// Position side the entry opened or added to.
        position_side: PositionSide,
        /// The entry's orderId.
        order_id: OrderId,
        /// Whether the signal asked for a stop-loss.
        wants_stop: bool,
    },
    /// The engine registered an SL/TP pair it will watch.
    PairPlaced {
        /// Pair id.
        pair: PairId,
        /// symbol
        symbol: Ident,
        /// Position side the pair protects.
        position_side: PositionSide,
        /// Stop-loss leg.
        sl: LegId,
        /// Take-profit leg.
        tp: LegId,
    },
    /// The engine stopped tracking a pair.
    PairDropped {
        /// Pair id.
        pair: PairId,
        /// completed / cancelled / externally_closed / … (a fixed spelling).
        status: Cow<'static, str>,
        /// The engine's reason (mostly a fixed sentence: borrowed when it is).
        reason: Cow<'static, str>,
    },
    /// The engine sent a cancel for a leg of a pair.
    CancelOther {
        /// Pair id.
        pair: PairId,
        /// The leg it believes filled.
        filled: LegId,
        /// The leg it cancels.
        cancel: LegId,
    },
    /// The engine's monitor loop exited (it will not run again until restarted).
    MonitorStopped {
        /// Why.
        reason: String,
    },
    /// The engine process restarted: in-memory state lost.
    Restart,
    /// Anything else worth a line in the trail.
    Note {
        /// Free text.
        text: String,
    },
}

/// A leg's exchange identity: a regular order or an algo order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegId {
    /// orderId (legacy conditional orders)
    Order(OrderId),
    /// algoId
    Algo(AlgoId),
}

impl std::fmt::Display for LegId {
    /// `order 8389765001` / `algo 4000000000002`: the kind and the exchange id as a number.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LegId::Order(o) => write!(f, "order {o}"),
            LegId::Algo(a) => write!(f, "algo {a}"),
        }
    }
}

// Clone by hand so that `clone_from` reuses the destination's strings and vectors: the
// simulator refills delivered user-stream events with the next ones instead of allocating
// (`sim::venue`). A field added later that is not `Copy` fails to compile here until it is
// named (the struct update `..*src` only copies `Copy` fields). OrderUpdate and PositionRow
// derive Clone: their only non-`Copy` fields are `Ident`s, copied without allocating.

impl Clone for AlgoUpdate {
    fn clone(&self) -> Self {
        AlgoUpdate {
            symbol: self.symbol.clone(),
            client_algo_id: self.client_algo_id.clone(),
            reject_reason: self.reject_reason.clone(),
            ..*self
        }
    }
    fn clone_from(&mut self, src: &Self) {
        let mut reject_reason = std::mem::take(&mut self.reject_reason);
        reject_reason.clone_from(&src.reject_reason);
        *self = AlgoUpdate {
            symbol: src.symbol.clone(),
            client_algo_id: src.client_algo_id.clone(),
            reject_reason,
            ..*src
        };
    }
}

impl Clone for AccountUpdate {
    fn clone(&self) -> Self {
        AccountUpdate {
            positions: self.positions.clone(),
            ..*self
        }
    }
    fn clone_from(&mut self, src: &Self) {
        let mut positions = std::mem::take(&mut self.positions);
        // Vec::clone_from refills the rows it has with PositionRow::clone_from
        positions.clone_from(&src.positions);
        *self = AccountUpdate { positions, ..*src };
    }
}

#[cfg(test)]
impl OrderUpdate {
    /// A test record: order `id` of `symbol` just accepted (`NEW`, nothing filled, every price
    /// zero, GTC, LONG side); tests set the fields they need with struct update syntax.
    pub(crate) fn accepted_for_test(
        symbol: &str,
        client_order_id: String,
        id: u64,
        side: Side,
        order_type: OrderType,
        orig_qty: Decimal,
    ) -> Self {
        OrderUpdate {
            symbol: symbol.into(),
            client_order_id: client_order_id.into(),
            side,
            order_type,
            orig_type: order_type,
            time_in_force: TimeInForce::Gtc,
            orig_qty,
            price: Decimal::ZERO,
            avg_price: Decimal::ZERO,
            stop_price: Decimal::ZERO,
            exec_type: ExecType::New,
            status: OrderStatus::New,
            order_id: OrderId(id),
            last_qty: Decimal::ZERO,
            cum_qty: Decimal::ZERO,
            last_price: Decimal::ZERO,
            commission: Decimal::ZERO,
            is_maker: false,
            reduce_only: false,
            position_side: PositionSide::Long,
            close_position: false,
            realized_pnl: Decimal::ZERO,
            expiry_reason: ExpiryReason::None,
            from_algo: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: u64, symbol: &str, cid: &str, from_algo: Option<AlgoId>) -> OrderUpdate {
        OrderUpdate {
            symbol: symbol.into(),
            client_order_id: cid.into(),
            side: if id % 2 == 0 { Side::Buy } else { Side::Sell },
            order_type: OrderType::StopMarket,
            orig_type: OrderType::StopMarket,
            time_in_force: TimeInForce::Gtc,
            orig_qty: Decimal::from(id * 3),
            price: Decimal::new(id as i64, 2),
            avg_price: Decimal::new(7 + id as i64, 1),
            stop_price: Decimal::from(10 + id),
            exec_type: if id % 2 == 0 {
                ExecType::New
            } else {
                ExecType::Trade
            },
            status: if id % 2 == 0 {
                OrderStatus::New
            } else {
                OrderStatus::Filled
            },
            order_id: OrderId(id),
            last_qty: Decimal::from(id),
            cum_qty: Decimal::from(id + 1),
            last_price: Decimal::new(123 + id as i64, 3),
            commission: Decimal::new(5 * id as i64, 4),
            is_maker: id % 2 == 0,
            reduce_only: id % 2 == 1,
            position_side: PositionSide::Long,
            close_position: id % 2 == 0,
            realized_pnl: Decimal::new(-(id as i64), 2),
            expiry_reason: ExpiryReason::None,
            from_algo,
        }
    }

    fn algo(id: u64, cid: &str, reject: &str) -> AlgoUpdate {
        AlgoUpdate {
            symbol: "FILUSDT".into(),
            client_algo_id: cid.into(),
            algo_id: AlgoId(id),
            order_type: OrderType::TakeProfitMarket,
            side: Side::Sell,
            position_side: PositionSide::Short,
            time_in_force: TimeInForce::Gtc,
            quantity: Decimal::from(id),
            status: if id % 2 == 0 {
                AlgoStatus::New
            } else {
                AlgoStatus::Triggered
            },
            actual_order_id: (id % 2 == 1).then_some(OrderId(id * 10)),
            trigger_price: Decimal::new(id as i64, 1),
            price: Decimal::ZERO,
            close_position: id % 2 == 0,
            reduce_only: true,
            working_type: WorkingType::MarkPrice,
            reject_reason: reject.into(),
        }
    }

    fn account(rows: &[(&str, i64)]) -> AccountUpdate {
        AccountUpdate {
            reason: AccountReason::Order,
            wallet_balance: Decimal::from(rows.len() as i64 * 100),
            balance_change: Decimal::new(rows.len() as i64, 1),
            realized_pnl: Decimal::new(-3, 0),
            fee: Decimal::new(rows.len() as i64, 3),
            positions: rows
                .iter()
                .map(|&(s, a)| PositionRow {
                    symbol: s.into(),
                    position_side: PositionSide::Both,
                    amount: Decimal::from(a),
                    entry_price: Decimal::new(a * 7, 2),
                    accumulated_realized: Decimal::from(-a),
                    liquidation_price: (a > 0).then(|| Decimal::from(a * 2)),
                })
                .collect(),
        }
    }

    #[test]
    fn clone_from_copies_every_field_into_the_old_allocations() {
        // longer strings into shorter ones and back, options set and cleared
        let mut d = order(1, "FILUSDT", "ocoSL-1", None);
        let src = order(
            2,
            "AVAXUSDT",
            "a-much-longer-client-order-id-2",
            Some(AlgoId(9)),
        );
        d.clone_from(&src);
        assert_eq!(d, src);
        let back = order(3, "X", "", None);
        d.clone_from(&back);
        assert_eq!(d, back);
        assert_eq!(src.clone(), src);

        let mut a = algo(1, "ocoTP-1", "");
        let src = algo(2, "ocoTP-222222222", "REDUCE_ONLY_REJECT");
        a.clone_from(&src);
        assert_eq!(a, src);
        let back = algo(3, "", "");
        a.clone_from(&back);
        assert_eq!(a, back);
        assert_eq!(src.clone(), src);

        // more rows, fewer rows, none
        let mut u = account(&[("FILUSDT", 1)]);
        for src in [
            account(&[("AVAXUSDT", 2), ("FILUSDT", -3), ("BTCUSDT", 4)]),
            account(&[("ETHUSDT", 0)]),
            account(&[]),
            account(&[("FILUSDT", 5), ("FILUSDT", 6)]),
        ] {
            u.clone_from(&src);
            assert_eq!(u, src);
            assert_eq!(src.clone(), src);
        }
    }
}
