//! What crosses the seam besides requests and answers: the user-data stream's payloads
//! (ORDER_TRADE_UPDATE, ALGO_UPDATE, ACCOUNT_UPDATE) and the engine's own annotations
//! ([`EngineEvent`], [`Exchange::emit`](super::Exchange::emit)). The event log
//! ([`crate::events`]) records them; they live here so that `api` depends on nothing above it.

use crate::types::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

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
    pub symbol: String,
    /// c
    pub client_order_id: String,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlgoUpdate {
    /// s
    pub symbol: String,
    /// caid
    pub client_algo_id: String,
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
    pub symbol: String,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        /// buy / sell / close / hold.
        action: String,
        /// symbol
        symbol: String,
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
        /// executed / duplicate / rejected / failed / rolled_back / …
        status: String,
        /// Why, in a few words.
        detail: String,
    },
    /// An entry was accepted by the exchange and the engine considers the position protected-to-be.
    EntryAccepted {
        /// symbol
        symbol: String,
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
        symbol: String,
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
        /// completed / cancelled / externally_closed / …
        status: String,
        /// The engine's reason.
        reason: String,
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
