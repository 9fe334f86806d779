//! Trading signals with the live engine's fields (`contracts/signal.py`), on simulated time.

use crate::types::{Ident, TimeMs};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// `action` of a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Open or add to a long.
    Buy,
    /// Open or add to a short.
    Sell,
    /// Do nothing (still de-duplicated).
    Hold,
    /// Close (the live engine has no path for it: "Invalid order side").
    Close,
}

impl Action {
    /// Lower-case name, as in the live engine's signal id.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Buy => "buy",
            Action::Sell => "sell",
            Action::Hold => "hold",
            Action::Close => "close",
        }
    }
}

/// A signal as the dispatcher receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// strategy_id
    pub strategy_id: Ident,
    /// symbol
    pub symbol: Ident,
    /// action
    pub action: Action,
    /// confidence in [0, 1]
    pub confidence: Decimal,
    /// quantity (0 = let the engine size it to the minimum)
    pub quantity: Decimal,
    /// current_price (the strategy's view of the price)
    pub current_price: Decimal,
    /// absolute stop-loss
    pub stop_loss: Option<Decimal>,
    /// absolute take-profit
    pub take_profit: Option<Decimal>,
    /// stop-loss as a fraction of the entry (PHEAD only)
    pub stop_loss_pct: Option<Decimal>,
    /// take-profit as a fraction of the entry (PHEAD only)
    pub take_profit_pct: Option<Decimal>,
    /// order_type: `market` (default), `limit`, `stop`, `stop_limit`, `take_profit`,
    /// `take_profit_limit`, `conditional_limit` or `conditional_stop` (the live `OrderType` enum);
    /// each profile sends or refuses it as its adapter does ([`crate::engine::EntryRules`]).
    pub order_type: Ident,
    /// time_in_force of a LIMIT-type entry (the live default: GTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_in_force: Option<crate::types::TimeInForce>,
    /// position_size_pct in [0, 1]: the share of the account the entry may use (sizing per
    /// [`crate::engine::EntryRules`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_size_pct: Option<Decimal>,
    /// timestamp (simulated)
    pub timestamp: TimeMs,
}
