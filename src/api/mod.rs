//! The one seam: `trait Exchange`, Binance-shaped requests and responses, and the error split.
//!
//! The engine under test talks to a venue only through [`Exchange`]. In simulation the implementor is
//! `sim::SimClient` (the mock exchange behind request/response latency and faults); a live client
//! would implement the same trait over REST. Rejections are data ([`ApiError`], outcome known: the
//! request changed nothing); transport faults ([`TransportError`]) leave the outcome unknown.

mod records;
use crate::types::*;
pub use records::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Binance's JSON error `{code, msg}` with its HTTP status; a rejected request changes no state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// HTTP status (400 request error, 429 rate limit, 404 unknown path, …).
    pub http: u16,
    /// Binance error code, e.g. -1106.
    pub code: i32,
    /// Binance's message, verbatim.
    pub msg: String,
}

impl ApiError {
    /// A 400 error with this code and message.
    pub fn new(code: i32, msg: impl Into<String>) -> ApiError {
        ApiError {
            http: 400,
            code,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "APIError(code={}): {}", self.code, self.msg)
    }
}

/// A fault between client and venue whose outcome is unknown to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportError {
    /// No answer in time; the request may or may not have reached the exchange.
    Timeout,
    /// HTTP 5xx ("Unknown error, please check your request or try again later"); outcome unknown.
    ServerError,
    /// Another HTTP 5xx status (500, 502, 504) with the same body, from a targeted fault; outcome
    /// unknown.
    ServerStatus(u16),
}

/// What a call can fail with: a known rejection or an unknown outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallError {
    /// The exchange answered with an error: nothing changed.
    Api(ApiError),
    /// Transport fault: the outcome is unknown.
    Transport(TransportError),
}

impl CallError {
    /// The Binance code, when the exchange answered.
    pub fn code(&self) -> Option<i32> {
        match self {
            CallError::Api(e) => Some(e.code),
            CallError::Transport(_) => None,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Api(e) => e.fmt(f),
            CallError::Transport(TransportError::Timeout) => f.write_str("request timed out"),
            CallError::Transport(TransportError::ServerError) => f.write_str(
                "HTTP 503: Unknown error, please check your request or try again later.",
            ),
            CallError::Transport(TransportError::ServerStatus(s)) => write!(
                f,
                "HTTP {s}: Unknown error, please check your request or try again later."
            ),
        }
    }
}

impl From<ApiError> for CallError {
    fn from(e: ApiError) -> Self {
        CallError::Api(e)
    }
}

/// The REST endpoint a request went to (for the event log and fault targeting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Endpoint {
    /// POST /fapi/v1/order
    NewOrder,
    /// POST /fapi/v1/algoOrder
    NewAlgoOrder,
    /// DELETE /fapi/v1/order
    CancelOrder,
    /// DELETE /fapi/v1/algoOrder
    CancelAlgoOrder,
    /// GET /fapi/v1/order
    QueryOrder,
    /// GET /fapi/v1/algoOrder
    QueryAlgoOrder,
    /// GET /fapi/v1/openOrders
    OpenOrders,
    /// GET /fapi/v1/openAlgoOrders
    OpenAlgoOrders,
    /// DELETE /fapi/v1/allOpenOrders
    CancelAll,
    /// DELETE /fapi/v1/algoOpenOrders
    CancelAllAlgo,
    /// GET /fapi/v2/positionRisk
    PositionRisk,
    /// GET /fapi/v1/ticker/price
    TickerPrice,
}

impl Endpoint {
    /// HTTP method and path.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::NewOrder => "POST /fapi/v1/order",
            Endpoint::NewAlgoOrder => "POST /fapi/v1/algoOrder",
            Endpoint::CancelOrder => "DELETE /fapi/v1/order",
            Endpoint::CancelAlgoOrder => "DELETE /fapi/v1/algoOrder",
            Endpoint::QueryOrder => "GET /fapi/v1/order",
            Endpoint::QueryAlgoOrder => "GET /fapi/v1/algoOrder",
            Endpoint::OpenOrders => "GET /fapi/v1/openOrders",
            Endpoint::OpenAlgoOrders => "GET /fapi/v1/openAlgoOrders",
            Endpoint::CancelAll => "DELETE /fapi/v1/allOpenOrders",
            Endpoint::CancelAllAlgo => "DELETE /fapi/v1/algoOpenOrders",
            Endpoint::PositionRisk => "GET /fapi/v2/positionRisk",
            Endpoint::TickerPrice => "GET /fapi/v1/ticker/price",
        }
    }
    /// True for calls that change state on the exchange.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Endpoint::NewOrder
                | Endpoint::NewAlgoOrder
                | Endpoint::CancelOrder
                | Endpoint::CancelAlgoOrder
                | Endpoint::CancelAll
                | Endpoint::CancelAllAlgo
        )
    }
}

/// [`NewOrder`]'s fields (as serde names them) and Binance's parameter names for them, in the
/// order Binance documents them: the one map from a request of the port to the wire.
pub const NEW_ORDER_WIRE_NAMES: [(&str, &str); 16] = [
    ("symbol", "symbol"),
    ("side", "side"),
    ("order_type", "type"),
    ("position_side", "positionSide"),
    ("quantity", "quantity"),
    ("price", "price"),
    ("stop_price", "stopPrice"),
    ("time_in_force", "timeInForce"),
    ("reduce_only", "reduceOnly"),
    ("close_position", "closePosition"),
    ("working_type", "workingType"),
    ("price_protect", "priceProtect"),
    ("activation_price", "activationPrice"),
    ("callback_rate", "callbackRate"),
    ("client_order_id", "newClientOrderId"),
    ("resp_type", "newOrderRespType"),
];

/// [`NewAlgoOrder`]'s fields and their Binance parameter names (`POST /fapi/v1/algoOrder`, whose
/// `algoType=CONDITIONAL` is implied).
pub const NEW_ALGO_ORDER_WIRE_NAMES: [(&str, &str); 15] = [
    ("symbol", "symbol"),
    ("side", "side"),
    ("order_type", "type"),
    ("position_side", "positionSide"),
    ("quantity", "quantity"),
    ("price", "price"),
    ("trigger_price", "triggerPrice"),
    ("time_in_force", "timeInForce"),
    ("reduce_only", "reduceOnly"),
    ("close_position", "closePosition"),
    ("working_type", "workingType"),
    ("price_protect", "priceProtect"),
    ("activate_price", "activatePrice"),
    ("callback_rate", "callbackRate"),
    ("client_algo_id", "clientAlgoId"),
];

/// POST /fapi/v1/order parameters; `None` means "not sent" (Binance distinguishes absent from "false").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    /// symbol
    pub symbol: Ident,
    /// side
    pub side: Side,
    /// type
    pub order_type: OrderType,
    /// positionSide
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_side: Option<PositionSide>,
    /// quantity
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    /// price
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Decimal>,
    /// stopPrice (legacy conditional orders on this endpoint)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<Decimal>,
    /// timeInForce
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_in_force: Option<TimeInForce>,
    /// reduceOnly ("true"/"false"; absent when None)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduce_only: Option<bool>,
    /// closePosition
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_position: Option<bool>,
    /// workingType
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_type: Option<WorkingType>,
    /// priceProtect
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_protect: Option<bool>,
    /// activationPrice (trailing)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_price: Option<Decimal>,
    /// callbackRate in percent (trailing)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_rate: Option<Decimal>,
    /// newClientOrderId
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<Ident>,
    /// newOrderRespType (ACK when absent: status NEW, executedQty 0, as Binance answers)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp_type: Option<RespType>,
}

/// `newOrderRespType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RespType {
    /// Acknowledgement only (the default): the order as accepted, before any fill.
    Ack,
    /// The final state of MARKET/IOC/FOK orders.
    Result,
}

impl NewOrder {
    /// A request with only the mandatory fields set.
    pub fn new(symbol: &str, side: Side, order_type: OrderType) -> NewOrder {
        NewOrder {
            symbol: symbol.into(),
            side,
            order_type,
            position_side: None,
            quantity: None,
            price: None,
            stop_price: None,
            time_in_force: None,
            reduce_only: None,
            close_position: None,
            working_type: None,
            price_protect: None,
            activation_price: None,
            callback_rate: None,
            client_order_id: None,
            resp_type: None,
        }
    }
}

/// POST /fapi/v1/algoOrder parameters (`algoType=CONDITIONAL`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAlgoOrder {
    /// symbol
    pub symbol: Ident,
    /// side
    pub side: Side,
    /// type (a conditional type)
    pub order_type: OrderType,
    /// positionSide
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_side: Option<PositionSide>,
    /// quantity
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    /// price (STOP / TAKE_PROFIT limit price)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Decimal>,
    /// triggerPrice
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_price: Option<Decimal>,
    /// timeInForce
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_in_force: Option<TimeInForce>,
    /// reduceOnly
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduce_only: Option<bool>,
    /// closePosition
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_position: Option<bool>,
    /// workingType
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_type: Option<WorkingType>,
    /// priceProtect
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_protect: Option<bool>,
    /// activatePrice (trailing)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activate_price: Option<Decimal>,
    /// callbackRate in percent (trailing)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_rate: Option<Decimal>,
    /// clientAlgoId
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_algo_id: Option<Ident>,
}

impl NewAlgoOrder {
    /// A request with only the mandatory fields set.
    pub fn new(symbol: &str, side: Side, order_type: OrderType) -> NewAlgoOrder {
        NewAlgoOrder {
            symbol: symbol.into(),
            side,
            order_type,
            position_side: None,
            quantity: None,
            price: None,
            trigger_price: None,
            time_in_force: None,
            reduce_only: None,
            close_position: None,
            working_type: None,
            price_protect: None,
            activate_price: None,
            callback_rate: None,
            client_algo_id: None,
        }
    }
}

/// How an order is named in a query or cancel: `orderId` or `origClientOrderId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderRef {
    /// orderId (for an algo id sent the wrong way, just its number).
    Id(u64),
    /// origClientOrderId
    Client(Ident),
}

/// How an algo order is named: `algoId` or `clientAlgoId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlgoRef {
    /// algoId
    Id(u64),
    /// clientAlgoId
    Client(Ident),
}

/// GET /fapi/v1/order shape (also the answer to POST and DELETE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderInfo {
    /// orderId
    pub order_id: OrderId,
    /// clientOrderId
    pub client_order_id: Ident,
    /// symbol
    pub symbol: Ident,
    /// status
    pub status: OrderStatus,
    /// type (MARKET after a legacy stop triggered)
    pub order_type: OrderType,
    /// origType
    pub orig_type: OrderType,
    /// side
    pub side: Side,
    /// positionSide
    pub position_side: PositionSide,
    /// price
    pub price: Decimal,
    /// avgPrice
    pub avg_price: Decimal,
    /// stopPrice
    pub stop_price: Decimal,
    /// origQty
    pub orig_qty: Decimal,
    /// executedQty
    pub executed_qty: Decimal,
    /// cumQuote
    pub cum_quote: Decimal,
    /// reduceOnly
    pub reduce_only: bool,
    /// closePosition
    pub close_position: bool,
    /// timeInForce
    pub time_in_force: TimeInForce,
    /// workingType
    pub working_type: WorkingType,
    /// time
    pub time: TimeMs,
    /// updateTime
    pub update_time: TimeMs,
}

/// GET /fapi/v1/algoOrder shape (also the answer to POST and DELETE on the algo endpoint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlgoInfo {
    /// algoId
    pub algo_id: AlgoId,
    /// clientAlgoId
    pub client_algo_id: Ident,
    /// symbol
    pub symbol: Ident,
    /// orderType
    pub order_type: OrderType,
    /// side
    pub side: Side,
    /// positionSide
    pub position_side: PositionSide,
    /// quantity ("0" with closePosition)
    pub quantity: Decimal,
    /// algoStatus
    pub algo_status: AlgoStatus,
    /// actualOrderId (set once triggered)
    pub actual_order_id: Option<OrderId>,
    /// actualPrice (average fill of the child)
    pub actual_price: Decimal,
    /// triggerPrice
    pub trigger_price: Decimal,
    /// price
    pub price: Decimal,
    /// closePosition
    pub close_position: bool,
    /// reduceOnly
    pub reduce_only: bool,
    /// timeInForce
    pub time_in_force: TimeInForce,
    /// workingType
    pub working_type: WorkingType,
    /// createTime
    pub create_time: TimeMs,
    /// updateTime
    pub update_time: TimeMs,
    /// triggerTime (0 until triggered)
    pub trigger_time: TimeMs,
}

/// GET /fapi/v2/positionRisk row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionInfo {
    /// symbol
    pub symbol: Ident,
    /// positionSide
    pub position_side: PositionSide,
    /// positionAmt (signed in one-way mode; LONG ≥ 0, SHORT ≤ 0 in hedge mode)
    pub position_amt: Decimal,
    /// entryPrice
    pub entry_price: Decimal,
    /// markPrice
    pub mark_price: Decimal,
    /// unRealizedProfit
    pub unrealized_profit: Decimal,
    /// liquidationPrice (0 when none)
    pub liquidation_price: Decimal,
    /// leverage
    pub leverage: u32,
}

/// positionRisk's rows for one symbol reduced to what an engine reads from them: the account mode
/// and the absolute size per direction (a one-way `BOTH` row counts on the side its sign says).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PositionSizes {
    /// Some row has positionSide LONG or SHORT (hedge mode).
    pub hedge: bool,
    /// Absolute size held LONG.
    pub long: Decimal,
    /// Absolute size held SHORT.
    pub short: Decimal,
    /// How many rows the answer had.
    pub rows: usize,
}

impl PositionSizes {
    /// The sizes positionRisk's `rows` say.
    pub fn from_rows(rows: &[PositionInfo]) -> PositionSizes {
        let mut out = PositionSizes {
            rows: rows.len(),
            ..PositionSizes::default()
        };
        for r in rows {
            out.add(r.position_side, r.position_amt);
        }
        out
    }

    /// What [`Self::from_rows`] gives for a one-way account's one `BOTH` row whose
    /// `positionAmt` is `qty(steps)`, for a venue that holds positions as whole steps of
    /// `step_size` (`qty` being its steps-to-quantity conversion). With a positive step the
    /// row's sign is the count's, so the side is chosen in integers instead of by comparing
    /// Decimals; any other step goes through [`Self::add`] (proved by
    /// `sizes_from_steps_are_the_rows_sizes_bit_for_bit`).
    #[inline]
    pub fn one_way_steps(
        steps: i64,
        step_size: Decimal,
        qty: impl Fn(i64) -> Decimal,
    ) -> PositionSizes {
        let mut out = PositionSizes {
            rows: 1,
            ..PositionSizes::default()
        };
        // the sign and zero tests on the bits (no Decimal comparison)
        if step_size.is_sign_negative() || step_size.is_zero() {
            out.add(PositionSide::Both, qty(steps));
        } else if steps > 0 {
            out.long = qty(steps).abs();
        } else if steps < 0 {
            out.short = qty(steps).abs();
        }
        out
    }

    /// What [`Self::from_rows`] gives for a hedge-mode account's LONG and SHORT rows whose
    /// `positionAmt`s are `qty(long)` and `qty(short)`: each row is added onto a zero side,
    /// which [`Self::add`] makes a copy of the amount's absolute value.
    #[inline]
    pub fn hedge_steps(long: i64, short: i64, qty: impl Fn(i64) -> Decimal) -> PositionSizes {
        PositionSizes {
            hedge: true,
            long: qty(long).abs(),
            short: qty(short).abs(),
            rows: 2,
        }
    }

    /// Counts one row (`position_side`, `amt`) in.
    pub fn add(&mut self, position_side: PositionSide, amt: Decimal) {
        self.hedge |= position_side != PositionSide::Both;
        let dir = match position_side {
            PositionSide::Both if amt > Decimal::ZERO => PositionSide::Long,
            PositionSide::Both if amt < Decimal::ZERO => PositionSide::Short,
            PositionSide::Both => return,
            ps => ps,
        };
        let side = if dir == PositionSide::Long {
            &mut self.long
        } else {
            &mut self.short
        };
        // Nearly every add is onto a side still zero (one row a side). rust_decimal's `0 + x` is
        // `x` bit for bit (scale and sign kept, whatever the zero's scale), so that case is a
        // copy instead of a call into the general add (proved by
        // `adding_onto_zero_is_the_decimal_sum_bit_for_bit`).
        if side.is_zero() {
            *side = amt.abs();
        } else {
            *side += amt.abs();
        }
    }
}

/// A user-data-stream event as the engine receives it (subset of the exchange's event log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamEvent {
    /// ORDER_TRADE_UPDATE
    Order(OrderUpdate),
    /// ALGO_UPDATE
    Algo(AlgoUpdate),
    /// ACCOUNT_UPDATE
    Account(AccountUpdate),
}

/// The engine's only view of a venue: Binance's REST calls plus the environment (clock, sleep, log).
///
/// Every call is blocking from the caller's point of view, as the live engine's python-binance calls
/// are: in simulation it pays request and response latency in simulated time.
pub trait Exchange {
    /// The caller's clock (simulated in a run).
    fn now(&self) -> TimeMs;
    /// Waits `ms` milliseconds of the caller's time.
    fn sleep(&mut self, ms: i64);
    /// Appends an engine-side annotation to the run's event log.
    fn emit(&mut self, event: EngineEvent);
    /// POST /fapi/v1/order
    fn new_order(&mut self, req: &NewOrder) -> Result<OrderInfo, CallError>;
    /// POST /fapi/v1/algoOrder
    fn new_algo_order(&mut self, req: &NewAlgoOrder) -> Result<AlgoInfo, CallError>;
    /// DELETE /fapi/v1/order
    fn cancel_order(&mut self, symbol: &str, id: &OrderRef) -> Result<OrderInfo, CallError>;
    /// DELETE /fapi/v1/algoOrder
    fn cancel_algo_order(&mut self, symbol: &str, id: &AlgoRef) -> Result<AlgoInfo, CallError>;
    /// GET /fapi/v1/order
    fn query_order(&mut self, symbol: &str, id: &OrderRef) -> Result<OrderInfo, CallError>;
    /// GET /fapi/v1/algoOrder
    fn query_algo_order(&mut self, symbol: &str, id: &AlgoRef) -> Result<AlgoInfo, CallError>;
    /// GET /fapi/v1/openOrders
    fn open_orders(&mut self, symbol: &str) -> Result<Vec<OrderInfo>, CallError>;
    /// GET /fapi/v1/openAlgoOrders
    fn open_algo_orders(&mut self, symbol: &str) -> Result<Vec<AlgoInfo>, CallError>;
    /// GET /fapi/v1/openAlgoOrders when only the ids are wanted (a monitoring pass): the same
    /// call and answer as [`Exchange::open_algo_orders`], without building each order's fields.
    fn open_algo_ids(&mut self, symbol: &str) -> Result<Vec<AlgoId>, CallError> {
        Ok(self
            .open_algo_orders(symbol)?
            .into_iter()
            .map(|a| a.algo_id)
            .collect())
    }
    /// DELETE /fapi/v1/allOpenOrders
    fn cancel_all_orders(&mut self, symbol: &str) -> Result<(), CallError>;
    /// DELETE /fapi/v1/algoOpenOrders
    fn cancel_all_algo_orders(&mut self, symbol: &str) -> Result<(), CallError>;
    /// GET /fapi/v2/positionRisk
    fn position_risk(&mut self, symbol: &str) -> Result<Vec<PositionInfo>, CallError>;
    /// GET /fapi/v2/positionRisk when only the mode and the sizes are wanted: the same call and
    /// answer as [`Exchange::position_risk`], without building each row's fields (marks, PnL,
    /// liquidation prices) or a list.
    fn position_sizes(&mut self, symbol: &str) -> Result<PositionSizes, CallError> {
        self.position_risk(symbol)
            .map(|rows| PositionSizes::from_rows(&rows))
    }
    /// GET /fapi/v1/ticker/price
    fn ticker_price(&mut self, symbol: &str) -> Result<Decimal, CallError>;
    /// The signed position amount per position side that a user-data-stream store fed by
    /// `ACCOUNT_UPDATE` frames shows for `symbol` (PHEAD's exchange-truth store); no request is
    /// made. `None` when the caller keeps no such store (the store is "not ready").
    fn stream_positions(&mut self, _symbol: &str) -> Option<Vec<(PositionSide, Decimal)>> {
        None
    }
}

#[cfg(test)]
mod position_sizes_tests {
    use super::*;

    /// `one_way_steps` and `hedge_steps` give what `from_rows` gives for the rows a venue shows
    /// (`positionAmt` = the spec's conversion of the count), bit for bit: random counts (zero,
    /// signed, small and large) and steps of every scale, with trailing zeros, zero and negative.
    #[test]
    fn sizes_from_steps_are_the_rows_sizes_bit_for_bit() {
        let mut spec = crate::exchange::SymbolSpec::builtin("FILUSDT").expect("builtin");
        let steps = "0.001 0.1 1 10 0.00000001 5 0.5 0.010 1000 0.25 100.00 3 0 0.000 -0.1 -1";
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let row = |ps: PositionSide, amt: Decimal| PositionInfo {
            symbol: "FILUSDT".into(),
            position_side: ps,
            position_amt: amt,
            entry_price: Decimal::ZERO,
            mark_price: Decimal::ZERO,
            unrealized_profit: Decimal::ZERO,
            liquidation_price: Decimal::ZERO,
            leverage: 1,
        };
        let same = |a: PositionSizes, b: PositionSizes, what: &str| {
            assert_eq!((a.hedge, a.rows), (b.hedge, b.rows), "{what}");
            assert_eq!(a.long.serialize(), b.long.serialize(), "{what}: long");
            assert_eq!(a.short.serialize(), b.short.serialize(), "{what}: short");
        };
        let mut seen_nonzero = [0u32; 2];
        for st in steps.split(' ') {
            spec.step_size = st.parse().unwrap();
            let qty = |n: i64| spec.qty(n);
            for k in 0..400 {
                let draw = |r: u64| -> i64 {
                    match r % 6 {
                        0 => 0,
                        1 => (r >> 8) as i64 % 10,
                        2 => -((r >> 8) as i64 % 10),
                        3 => (r >> 8) as i64 % 1_000_000 - 500_000,
                        4 => (r >> 8) as i64 % 10_000_000_000,
                        _ => -((r >> 8) as i64 % 10_000_000_000),
                    }
                };
                let (a, b) = (draw(next()), draw(next()));
                let what = format!("step {st}, counts {a} {b} (draw {k})");
                let want = PositionSizes::from_rows(&[row(PositionSide::Both, qty(a))]);
                same(
                    PositionSizes::one_way_steps(a, spec.step_size, qty),
                    want,
                    &what,
                );
                seen_nonzero[0] += u32::from(!want.long.is_zero() || !want.short.is_zero());
                let want = PositionSizes::from_rows(&[
                    row(PositionSide::Long, qty(a)),
                    row(PositionSide::Short, qty(b)),
                ]);
                same(PositionSizes::hedge_steps(a, b, qty), want, &what);
                seen_nonzero[1] += u32::from(!want.long.is_zero() && !want.short.is_zero());
            }
        }
        // the draws reach both sides and both modes with sizes, not only zeros
        assert!(seen_nonzero.iter().all(|&n| n > 1000), "{seen_nonzero:?}");
    }

    #[test]
    fn adding_onto_zero_is_the_decimal_sum_bit_for_bit() {
        let zeros = ["0", "0.000", "-0", "-0.00000000"];
        let amts = [
            "0",
            "0.000",
            "-0.0",
            "1",
            "-1",
            "0.001",
            "-12.340",
            "1.5",
            "4294967296",
            "-0.4294967297",
            "79228162514264337593543950335",
            "-0.0000000000000000000000000001",
        ];
        for z in zeros {
            for a in amts {
                let (z, a): (Decimal, Decimal) = (z.parse().unwrap(), a.parse().unwrap());
                for ps in [PositionSide::Long, PositionSide::Short, PositionSide::Both] {
                    let mut s = PositionSizes {
                        long: z,
                        short: z,
                        ..PositionSizes::default()
                    };
                    let mut want = s;
                    s.add(ps, a);
                    let dir = match ps {
                        PositionSide::Both if a > Decimal::ZERO => Some(PositionSide::Long),
                        PositionSide::Both if a < Decimal::ZERO => Some(PositionSide::Short),
                        PositionSide::Both => None,
                        ps => Some(ps),
                    };
                    match dir {
                        Some(PositionSide::Long) => want.long = z + a.abs(),
                        Some(_) => want.short = z + a.abs(),
                        None => {}
                    }
                    for (got, want) in [(s.long, want.long), (s.short, want.short)] {
                        assert_eq!(got.serialize(), want.serialize(), "{z} + {a} {ps:?}");
                        assert_eq!(got.to_string(), want.to_string(), "{z} + {a} {ps:?}");
                    }
                }
            }
        }
    }
}
