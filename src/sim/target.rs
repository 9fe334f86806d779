//! Targeted faults (`[faults] targeted = [ … ]`): a fault that names the request it hits, by its
//! role (place / cancel / query × entry / stop_loss / take_profit / close / any leg × pair N) or by
//! the Nth call of an endpoint, with a count and any Binance answer.
//!
//! Contract: the role of a request is inferred here, in the venue layer, from the request itself
//! and the venue's own state at its arrival — never from the engine — so the same target hits the
//! same request under every profile and over the wire (`sim serve` goes through the same
//! [`super::Venue`]):
//! - **place** (`POST /fapi/v1/order`, `POST /fapi/v1/algoOrder`): an order that opens or adds to a
//!   position is the `entry`; one that closes it (reduceOnly, closePosition, the closing side of a
//!   hedge position, or against the one-way position) is the `stop_loss` for STOP / STOP_MARKET /
//!   TRAILING_STOP_MARKET, the `take_profit` for TAKE_PROFIT / TAKE_PROFIT_MARKET, for a LIMIT the
//!   one its price is on the side of (vs the position's entry price), and `close` for a MARKET.
//! - **cancel** / **query** (`DELETE`/`GET` of `/fapi/v1/order` or `/fapi/v1/algoOrder`): the role
//!   of the order named, as it was classified when it was placed (an order an algo order triggered
//!   inherits the algo order's role). An id the venue never issued has no leg and no pair.
//! - **pair N** is the Nth position opened on the symbol (1-based; a side going from flat, or
//!   flipping, to a position). An entry belongs to the position it adds to, or else to the one it
//!   would open (positions opened so far + 1); a closing order to the position open on its side,
//!   or while that side is flat to the pair of the last entry sent on that side.
//!
//! Counting: targets are tried in file order; the first that matches and has hits left answers the
//! call (ahead of scheduled and random faults). `nth` counts calls to one endpoint from the start
//! of the session, 1-based; `times` hits begin at the `nth` call. No randomness is involved.

use crate::api::{AlgoRef, ApiError, Endpoint, OrderRef};
use crate::events::RequestParams;
use crate::exchange::{codes, MockExchange};
use crate::types::{OrderType, PositionSide, Side};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// Every REST endpoint, in declaration order (an index into per-endpoint counters).
pub const ENDPOINTS: [Endpoint; 12] = [
    Endpoint::NewOrder,
    Endpoint::NewAlgoOrder,
    Endpoint::CancelOrder,
    Endpoint::CancelAlgoOrder,
    Endpoint::QueryOrder,
    Endpoint::QueryAlgoOrder,
    Endpoint::OpenOrders,
    Endpoint::OpenAlgoOrders,
    Endpoint::CancelAll,
    Endpoint::CancelAllAlgo,
    Endpoint::PositionRisk,
    Endpoint::TickerPrice,
];

fn ep_index(ep: Endpoint) -> usize {
    ENDPOINTS.iter().position(|&e| e == ep).unwrap_or(0)
}

/// What a request does to one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// `POST /fapi/v1/order` or `POST /fapi/v1/algoOrder`.
    Place,
    /// `DELETE /fapi/v1/order` or `DELETE /fapi/v1/algoOrder` (one order).
    Cancel,
    /// `GET /fapi/v1/order` or `GET /fapi/v1/algoOrder` (one order).
    Query,
}

impl RequestKind {
    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Place => "place",
            RequestKind::Cancel => "cancel",
            RequestKind::Query => "query",
        }
    }

    /// The kind of a call to `ep`, if it concerns one order.
    pub fn of(ep: Endpoint) -> Option<RequestKind> {
        match ep {
            Endpoint::NewOrder | Endpoint::NewAlgoOrder => Some(RequestKind::Place),
            Endpoint::CancelOrder | Endpoint::CancelAlgoOrder => Some(RequestKind::Cancel),
            Endpoint::QueryOrder | Endpoint::QueryAlgoOrder => Some(RequestKind::Query),
            _ => None,
        }
    }
}

/// The role of an order in its pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Leg {
    /// Opens or adds to a position.
    Entry,
    /// Closes it on the losing side (STOP, STOP_MARKET, TRAILING_STOP_MARKET).
    StopLoss,
    /// Closes it on the winning side (TAKE_PROFIT, TAKE_PROFIT_MARKET).
    TakeProfit,
    /// Closes it at market (a cleanup, a manual or emergency close).
    Close,
    /// Any of the above (only in a target).
    Any,
}

impl Leg {
    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Leg::Entry => "entry",
            Leg::StopLoss => "stop_loss",
            Leg::TakeProfit => "take_profit",
            Leg::Close => "close",
            Leg::Any => "any",
        }
    }
}

/// How many matching calls a target answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// This many (1 = `"once"`, 2 = `"twice"`).
    Count(u32),
    /// Every matching call.
    Always,
}

impl Default for Times {
    fn default() -> Self {
        Times::Count(1)
    }
}

/// Largest `times`, `nth` and `pair` accepted.
pub const MAX_COUNT: u32 = 1_000_000_000;

#[derive(Deserialize)]
#[serde(untagged)]
enum IntOrText {
    Int(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for Times {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let bad = || {
            D::Error::custom(format!(
                "use \"once\", \"twice\", \"always\" or a count 1..={MAX_COUNT}"
            ))
        };
        match IntOrText::deserialize(d)? {
            IntOrText::Int(n) if (1..=i64::from(MAX_COUNT)).contains(&n) => {
                Ok(Times::Count(n as u32))
            }
            IntOrText::Int(_) => Err(bad()),
            IntOrText::Text(s) => match s.as_str() {
                "once" => Ok(Times::Count(1)),
                "twice" => Ok(Times::Count(2)),
                "always" => Ok(Times::Always),
                _ => Err(bad()),
            },
        }
    }
}

impl Serialize for Times {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Times::Count(n) => s.serialize_u32(*n),
            Times::Always => s.serialize_str("always"),
        }
    }
}

/// What the venue answers to a targeted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A Binance business error (`-2021`): HTTP 4xx with the code and Binance's message; the
    /// request changes nothing.
    Code(i32),
    /// An HTTP status: 429 (`-1003`, not executed), 418 (IP ban, `-1003`, not executed), or a 5xx
    /// (500, 502, 503, 504: the outcome is unknown to the caller; executed when `reached`).
    Status(u16),
    /// No answer before the caller's timeout; executed when `reached`.
    Timeout,
}

/// HTTP statuses a target may answer with.
pub const STATUSES: [u16; 6] = [418, 429, 500, 502, 503, 504];

impl Answer {
    fn parse(s: &str) -> Result<Answer, String> {
        let s = s.trim();
        if s == "timeout" {
            return Ok(Answer::Timeout);
        }
        match s.parse::<i64>() {
            Ok(n) if (-9999..=-1000).contains(&n) => Ok(Answer::Code(n as i32)),
            Ok(n) if STATUSES.iter().any(|&x| i64::from(x) == n) => Ok(Answer::Status(n as u16)),
            _ => Err(format!(
                "`{}`: use \"timeout\", an HTTP status (418, 429, 500, 502, 503, 504) or a Binance \
                 error code -1000…-9999 (e.g. \"-2021\")",
                s.escape_debug()
            )),
        }
    }

    /// True when the request may have executed although the caller got no answer.
    pub fn outcome_unknown(self) -> bool {
        matches!(self, Answer::Timeout) || matches!(self, Answer::Status(s) if s >= 500)
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Code(c) => write!(f, "{c}"),
            Answer::Status(s) => write!(f, "{s}"),
            Answer::Timeout => f.write_str("timeout"),
        }
    }
}

impl<'de> Deserialize<'de> for Answer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let s = match IntOrText::deserialize(d)? {
            IntOrText::Int(n) => n.to_string(),
            IntOrText::Text(s) => s,
        };
        Answer::parse(&s).map_err(D::Error::custom)
    }
}

impl Serialize for Answer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Parses an endpoint by its HTTP form (`POST /fapi/v1/algoOrder`) or its name (`NewAlgoOrder`).
pub fn parse_endpoint(s: &str) -> Option<Endpoint> {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    ENDPOINTS
        .iter()
        .copied()
        .find(|e| e.path().eq_ignore_ascii_case(&t) || format!("{e:?}") == t)
}

fn de_endpoint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Endpoint>, D::Error> {
    use serde::de::Error;
    let s = String::deserialize(d)?;
    parse_endpoint(&s).map(Some).ok_or_else(|| {
        let all: Vec<&str> = ENDPOINTS.iter().map(|e| e.path()).collect();
        D::Error::custom(format!(
            "`{}` is not an endpoint; use one of: {}",
            s.escape_debug(),
            all.join(", ")
        ))
    })
}

fn ser_endpoint<S: Serializer>(e: &Option<Endpoint>, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.serialize_str(e.path()),
        None => s.serialize_none(),
    }
}

/// One targeted fault: `{ request, leg, pair }` or `{ call, nth }`, then `times`, `answer`,
/// `reached` and an optional `msg`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetedFault {
    /// By role: which request (`place`, `cancel`, `query`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestKind>,
    /// By role: which leg (default `any`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leg: Option<Leg>,
    /// By role: the Nth position opened on the symbol (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<u32>,
    /// By call: the endpoint (`"POST /fapi/v1/algoOrder"` or `"NewAlgoOrder"`).
    #[serde(
        default,
        deserialize_with = "de_endpoint",
        serialize_with = "ser_endpoint",
        skip_serializing_if = "Option::is_none"
    )]
    pub call: Option<Endpoint>,
    /// By call: the first call hit, 1-based (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nth: Option<u32>,
    /// How many matching calls it answers (default once).
    #[serde(default)]
    pub times: Times,
    /// The answer.
    pub answer: Answer,
    /// For a timeout or 5xx: whether the venue executed the request anyway.
    #[serde(default)]
    pub reached: bool,
    /// Message of a business code (default: Binance's own for the code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
}

impl TargetedFault {
    /// Checks the target's shape; `Err((field, message))` names the offending key.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        match (self.request.is_some(), self.call.is_some()) {
            (true, true) => {
                return Err((
                    "call",
                    "give either `request` (with `leg`, `pair`) or `call` (with `nth`), not both"
                        .into(),
                ))
            }
            (false, false) => return Err((
                "request",
                "missing: give `request = \"place\"|\"cancel\"|\"query\"` (with `leg`, `pair`) \
                     or `call = \"POST /fapi/v1/order\"` (with `nth`)"
                    .into(),
            )),
            _ => {}
        }
        if self.call.is_some() {
            if self.leg.is_some() {
                return Err(("leg", "`leg` goes with `request`, not with `call`".into()));
            }
            if self.pair.is_some() {
                return Err(("pair", "`pair` goes with `request`, not with `call`".into()));
            }
        } else if self.nth.is_some() {
            return Err(("nth", "`nth` goes with `call`, not with `request`".into()));
        }
        if let Some(p) = self.pair {
            if !(1..=MAX_COUNT).contains(&p) {
                return Err((
                    "pair",
                    format!(
                        "{p} is out of range (accepted range 1..={MAX_COUNT}; pairs count from 1)"
                    ),
                ));
            }
        }
        if let Some(n) = self.nth {
            if !(1..=MAX_COUNT).contains(&n) {
                return Err((
                    "nth",
                    format!(
                        "{n} is out of range (accepted range 1..={MAX_COUNT}; calls count from 1)"
                    ),
                ));
            }
        }
        if self.reached && !self.answer.outcome_unknown() {
            return Err((
                "reached",
                format!(
                    "answer {} means the venue refused the request; `reached` applies to a timeout or a 5xx",
                    self.answer
                ),
            ));
        }
        match (self.answer, &self.msg) {
            (Answer::Code(c), None) if known_message(c).is_none() => {
                return Err((
                    "answer",
                    format!(
                        "{c} has no built-in Binance message; add `msg = \"…\"` or use one of {}",
                        KNOWN_CODES
                            .iter()
                            .map(|c| c.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
            }
            (Answer::Code(_), Some(m))
                if m.is_empty() || m.len() > 500 || m.chars().any(char::is_control) =>
            {
                return Err(("msg", "1–500 characters, no control characters".into()))
            }
            (Answer::Status(_) | Answer::Timeout, Some(_)) => {
                return Err(("msg", "`msg` goes with a business code answer".into()))
            }
            _ => {}
        }
        Ok(())
    }

    /// A short description for the log.
    pub fn describe(&self) -> String {
        let what = match (self.request, self.call) {
            (Some(r), _) => {
                let leg = self.leg.unwrap_or(Leg::Any);
                let pair = self
                    .pair
                    .map(|p| format!(" of pair {p}"))
                    .unwrap_or_default();
                format!("{} {}{pair}", r.as_str(), leg.as_str())
            }
            (None, Some(e)) => format!("call {} #{}", e.path(), self.nth.unwrap_or(1)),
            (None, None) => "nothing".into(),
        };
        format!("{what} → {}", self.answer)
    }

    fn hits_reads(&self) -> bool {
        self.request == Some(RequestKind::Query) || self.call.is_some_and(|e| !e.is_write())
    }
}

/// Codes with a built-in message.
pub const KNOWN_CODES: [i32; 32] = [
    -1000, -1001, -1003, -1008, -1021, -1102, -1111, -1116, -1121, -1128, -2010, -2011, -2013,
    -2018, -2019, -2020, -2021, -2022, -2024, -2025, -2027, -4045, -4061, -4116, -4117, -4118,
    -4120, -4130, -4131, -4137, -4509, -5021,
];

/// Binance's message for `code` (`binance-usdm-futures.md` §3), when built in.
pub fn known_message(code: i32) -> Option<&'static str> {
    Some(match code {
        -1000 => "An unknown error occured while processing the request.",
        -1001 => "Internal error; unable to process your request. Please try again.",
        -1003 => "Too many requests; current limit is 2400 requests per minute. Please use the websocket for live updates to avoid polling the API.",
        -1008 => "Request throttled by system-level protection. Reduce-only/close-position orders are exempt. Please try again.",
        -1021 => "Timestamp for this request is outside of the recvWindow.",
        -1102 => "Param 'quantity' or 'closePosition' must be sent, but both were empty/null!",
        -1111 => "Precision is over the maximum defined for this asset.",
        -1116 => "Invalid orderType.",
        -1121 => "Invalid symbol.",
        -1128 => "Combination of optional parameters invalid.",
        -2010 => "NEW_ORDER_REJECTED",
        -2011 => "Unknown order sent.",
        -2013 => "Order does not exist.",
        -2018 => "Balance is insufficient.",
        -2019 => "Margin is insufficient.",
        -2020 => "Unable to fill.",
        -2021 => "Order would immediately trigger.",
        -2022 => "ReduceOnly Order is rejected.",
        -2024 => "Position is not sufficient.",
        -2025 => "Reach max open order limit.",
        -2027 => "Exceeded the maximum allowable position at current leverage.",
        -4045 => "Reach max stop order limit.",
        -4061 => "Order's position side does not match user's setting.",
        -4116 => "clientOrderId is duplicated",
        -4117 => "stop order is triggering",
        -4118 => "ReduceOnly Order Failed. Please check your existing position and open orders",
        -4120 => "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
        -4130 => "An open stop or take profit order with GTE and closePosition in the direction is existing.",
        -4131 => "The counterparty's best price does not meet the PERCENT_PRICE filter limit",
        -4137 => "Quantity must be zero with closePosition equals true",
        // the endpoint-specific text is chosen in `error_for`
        -4509 => "Time in Force (TIF) GTE can only be used with open positions. Please ensure that positions are available.",
        -5021 => "Due to the order could not be filled immediately, the FOK order has been rejected. The order will not be recorded in the order history",
        _ => return None,
    })
}

/// The error a code answer returns for a call to `ep` at `now_ms`.
pub fn error_for(t: &TargetedFault, ep: Endpoint, now_ms: i64) -> ApiError {
    match t.answer {
        Answer::Code(c) => {
            if let Some(m) = &t.msg {
                return ApiError::new(c, m.clone());
            }
            match c {
                -1003 => codes::rate_limited(),
                -1008 => ApiError {
                    http: 503,
                    code: c,
                    msg: known_message(c).unwrap_or_default().into(),
                },
                -4509 => codes::gte_without_position(ep != Endpoint::NewOrder),
                _ => ApiError::new(c, known_message(c).unwrap_or("UNKNOWN")),
            }
        }
        Answer::Status(429) => codes::rate_limited(),
        Answer::Status(418) => ApiError {
            http: 418,
            code: -1003,
            msg: format!(
                "Way too many requests; IP banned until {}. Please use the websocket for live updates to avoid bans.",
                now_ms + 120_000
            ),
        },
        // 5xx and timeouts are transport outcomes, handled by the venue
        _ => ApiError::new(-1000, known_message(-1000).unwrap_or_default()),
    }
}

/// The role of one request: its kind, the leg of the order it concerns and that order's pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    /// Place, cancel or query.
    pub request: RequestKind,
    /// The leg (`Any` when the order is unknown to the venue).
    pub leg: Leg,
    /// The pair (None when unknown).
    pub pair: Option<u32>,
}

/// The order a cancel or query names.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// Nothing (a placement or a call that names no order).
    None,
    /// An order of `/fapi/v1/order`.
    Order(&'a OrderRef),
    /// An algo order.
    Algo(&'a AlgoRef),
}

/// The venue's targeting state: hits used per target, calls per endpoint, the role of each order
/// placed (by book index; `true` = algo book) and the pair of the last entry per position side.
#[derive(Debug, Clone, Default)]
pub struct Targeting {
    targets: Vec<TargetedFault>,
    used: Vec<u32>,
    ep_calls: [u64; 12],
    roles: BTreeMap<(bool, usize), (Leg, u32)>,
    last_entry: [u32; 3],
}

fn ps_idx(ps: PositionSide) -> usize {
    match ps {
        PositionSide::Both => 0,
        PositionSide::Long => 1,
        PositionSide::Short => 2,
    }
}

/// Which leg an order of these parameters is, and the pair it belongs to, given the venue now.
#[allow(clippy::too_many_arguments)]
fn classify(
    ex: &MockExchange,
    last_entry: &[u32; 3],
    side: Side,
    otype: OrderType,
    ps: Option<PositionSide>,
    reduce_only: bool,
    close_position: bool,
    price: Option<rust_decimal::Decimal>,
) -> (Leg, u32, usize) {
    let ps = ps.unwrap_or(PositionSide::Both);
    let i = ps_idx(ps);
    let amt = ex.pos[i].amt;
    let closing = reduce_only
        || close_position
        || match ps {
            PositionSide::Long => side == Side::Sell,
            PositionSide::Short => side == Side::Buy,
            PositionSide::Both => amt != 0 && amt.signum() != side.sign(),
        };
    let open_pair = ex.pos_pair[i];
    if !closing {
        let pair = if amt != 0 && open_pair > 0 {
            open_pair
        } else {
            ex.opened + 1
        };
        return (Leg::Entry, pair, i);
    }
    let leg = match otype {
        OrderType::Stop | OrderType::StopMarket | OrderType::TrailingStopMarket => Leg::StopLoss,
        OrderType::TakeProfit | OrderType::TakeProfitMarket => Leg::TakeProfit,
        OrderType::Market | OrderType::Liquidation => Leg::Close,
        OrderType::Limit => {
            let entry = ex.pos[i].entry;
            match price {
                // a sell closes a long: above its entry is the profit side
                Some(p) if !entry.is_zero() && (p < entry) == (side == Side::Sell) => Leg::StopLoss,
                _ => Leg::TakeProfit,
            }
        }
    };
    let pair = if amt != 0 && open_pair > 0 {
        open_pair
    } else if last_entry[i] > 0 {
        last_entry[i]
    } else {
        ex.opened + 1
    };
    (leg, pair, i)
}

impl Targeting {
    /// The state for these targets.
    pub fn new(targets: &[TargetedFault]) -> Targeting {
        Targeting {
            targets: targets.to_vec(),
            used: vec![0; targets.len()],
            ..Targeting::default()
        }
    }

    /// True when there is any target.
    pub fn active(&self) -> bool {
        !self.targets.is_empty()
    }

    /// True when a target could hit a read-only call (idle polls must then run, not be skipped).
    pub fn hits_reads(&self) -> bool {
        self.targets.iter().any(TargetedFault::hits_reads)
    }

    /// Counts a call to `ep`; returns its 1-based number among calls to `ep`.
    pub fn count(&mut self, ep: Endpoint) -> u64 {
        let c = &mut self.ep_calls[ep_index(ep)];
        *c += 1;
        *c
    }

    /// The role of a call to `ep` as the venue sees it now (placements record the last entry).
    pub fn role(
        &mut self,
        ex: &MockExchange,
        ep: Endpoint,
        params: Option<&RequestParams>,
        subject: Subject<'_>,
    ) -> Option<Role> {
        let request = RequestKind::of(ep)?;
        let known = |leg, pair| Role {
            request,
            leg,
            pair: Some(pair),
        };
        let unknown = Role {
            request,
            leg: Leg::Any,
            pair: None,
        };
        let (leg, pair, i) = match (request, params, subject) {
            (RequestKind::Place, Some(RequestParams::Order(o)), _) => classify(
                ex,
                &self.last_entry,
                o.side,
                o.order_type,
                o.position_side,
                o.reduce_only == Some(true),
                o.close_position == Some(true),
                o.price,
            ),
            (RequestKind::Place, Some(RequestParams::Algo(a)), _) => classify(
                ex,
                &self.last_entry,
                a.side,
                a.order_type,
                a.position_side,
                a.reduce_only == Some(true),
                a.close_position == Some(true),
                a.price,
            ),
            (RequestKind::Place, _, _) => return Some(unknown),
            (_, _, Subject::Order(r)) => {
                // an order the venue no longer holds (or holds only past 90 days, ended: the
                // same to every request) has no role
                let Some((k, o)) = ex.order_index(r).and_then(|k| Some((k, ex.order_held(k)?)))
                else {
                    return Some(unknown);
                };
                if let Some(&(leg, pair)) = self.roles.get(&(false, k)) {
                    return Some(known(leg, pair));
                }
                if let Some(aid) = o.from_algo {
                    if let Some(&(leg, pair)) = ex
                        .algo_index(&AlgoRef::Id(aid.0))
                        .filter(|&ak| ex.algo_held(ak).is_some())
                        .and_then(|ak| self.roles.get(&(true, ak)))
                    {
                        return Some(known(leg, pair));
                    }
                }
                return Some(unknown);
            }
            (_, _, Subject::Algo(r)) => {
                return Some(
                    ex.algo_index(r)
                        .filter(|&k| ex.algo_held(k).is_some())
                        .and_then(|k| self.roles.get(&(true, k)))
                        .map_or(unknown, |&(leg, pair)| known(leg, pair)),
                );
            }
            (_, _, Subject::None) => return Some(unknown),
        };
        if leg == Leg::Entry {
            self.last_entry[i] = pair;
        }
        Some(known(leg, pair))
    }

    /// Remembers the role of the order a placement created at book index `k`.
    pub fn record(&mut self, algo: bool, k: usize, role: Role) {
        if let Some(p) = role.pair {
            self.roles.insert((algo, k), (role.leg, p));
        }
    }

    /// The live protective legs (stop-loss or take-profit) of pair `sel` at the venue now, as
    /// (algo book?, book index, leg, pair), in placement order (`sim::external`).
    pub fn live_legs(
        &self,
        ex: &MockExchange,
        sel: super::external::PairSel,
    ) -> Vec<(bool, usize, Leg, u32)> {
        let live: Vec<(bool, usize, Leg, u32)> = self
            .roles
            .iter()
            .filter(|(_, (leg, _))| matches!(leg, Leg::StopLoss | Leg::TakeProfit))
            .filter(|((algo, k), _)| {
                if *algo {
                    ex.algo_live(*k)
                } else {
                    ex.order_live(*k)
                }
            })
            .map(|(&(algo, k), &(leg, pair))| (algo, k, leg, pair))
            .collect();
        let pair = match sel {
            super::external::PairSel::Nth(n) => n,
            super::external::PairSel::Latest => match live.iter().map(|l| l.3).max() {
                Some(p) => p,
                None => return Vec::new(),
            },
        };
        let mut out: Vec<_> = live.into_iter().filter(|l| l.3 == pair).collect();
        // placement order across both books: by the venue's own ids (orders and algo orders
        // are numbered separately; an order's index orders it within its book)
        out.sort_by_key(|l| (l.1, l.0));
        out
    }

    /// The first target that matches this call and has hits left; its hit is counted.
    pub fn hit(&mut self, ep: Endpoint, nth: u64, role: Option<Role>) -> Option<usize> {
        for (i, t) in self.targets.iter().enumerate() {
            let left = match t.times {
                Times::Always => true,
                Times::Count(n) => self.used[i] < n,
            };
            if !left {
                continue;
            }
            let m = if let Some(c) = t.call {
                c == ep && nth >= u64::from(t.nth.unwrap_or(1))
            } else {
                role.is_some_and(|r| {
                    t.request == Some(r.request)
                        && t.leg.is_none_or(|l| l == Leg::Any || l == r.leg)
                        && t.pair.is_none_or(|p| r.pair == Some(p))
                })
            };
            if m {
                self.used[i] = self.used[i].saturating_add(1);
                return Some(i);
            }
        }
        None
    }

    /// Target `i`.
    pub fn target(&self, i: usize) -> &TargetedFault {
        &self.targets[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<TargetedFault, String> {
        #[derive(Deserialize)]
        struct W {
            t: TargetedFault,
        }
        toml::from_str::<W>(&format!("t = {s}"))
            .map(|w| w.t)
            .map_err(|e| e.message().to_string())
    }

    #[test]
    fn parses_roles_calls_counts_and_answers() {
        let t = parse(r#"{ request = "place", leg = "take_profit", pair = 2, times = "once", answer = "-2021" }"#).unwrap();
        assert_eq!(t.request, Some(RequestKind::Place));
        assert_eq!(t.leg, Some(Leg::TakeProfit));
        assert_eq!(t.pair, Some(2));
        assert_eq!(t.times, Times::Count(1));
        assert_eq!(t.answer, Answer::Code(-2021));
        t.check().unwrap();
        let t = parse(
            r#"{ call = "POST /fapi/v1/algoOrder", nth = 3, answer = "timeout", reached = false }"#,
        )
        .unwrap();
        assert_eq!(t.call, Some(Endpoint::NewAlgoOrder));
        assert_eq!(t.nth, Some(3));
        assert_eq!(t.answer, Answer::Timeout);
        t.check().unwrap();
        let t = parse(r#"{ request = "cancel", leg = "any", times = "always", answer = "503" }"#)
            .unwrap();
        assert_eq!(t.times, Times::Always);
        assert_eq!(t.answer, Answer::Status(503));
        let t = parse(r#"{ call = "CancelAlgoOrder", times = 4, answer = -2011 }"#).unwrap();
        assert_eq!(t.call, Some(Endpoint::CancelAlgoOrder));
        assert_eq!(t.times, Times::Count(4));
        assert_eq!(t.answer, Answer::Code(-2011));
    }

    #[test]
    fn refuses_bad_targets() {
        assert!(
            parse(r#"{ request = "place", answer = "-2021", times = 0 }"#)
                .unwrap_err()
                .contains("once")
        );
        assert!(parse(r#"{ request = "place", answer = "404" }"#)
            .unwrap_err()
            .contains("HTTP status"));
        assert!(parse(r#"{ call = "POST /nope", answer = "503" }"#)
            .unwrap_err()
            .contains("not an endpoint"));
        assert!(parse(r#"{ request = "send", answer = "503" }"#).is_err());
        let bad = |s: &str| parse(s).unwrap().check().unwrap_err().0;
        assert_eq!(bad(r#"{ answer = "503" }"#), "request");
        assert_eq!(
            bad(r#"{ request = "place", call = "NewOrder", answer = "503" }"#),
            "call"
        );
        assert_eq!(
            bad(r#"{ request = "place", nth = 2, answer = "503" }"#),
            "nth"
        );
        assert_eq!(
            bad(r#"{ call = "NewOrder", pair = 2, answer = "503" }"#),
            "pair"
        );
        assert_eq!(
            bad(r#"{ request = "place", pair = 0, answer = "503" }"#),
            "pair"
        );
        assert_eq!(
            bad(r#"{ request = "place", answer = "-2021", reached = true }"#),
            "reached"
        );
        assert_eq!(bad(r#"{ request = "place", answer = "-3999" }"#), "answer");
        assert_eq!(
            bad(r#"{ request = "place", answer = "503", msg = "x" }"#),
            "msg"
        );
        parse(r#"{ request = "place", answer = "-3999", msg = "custom" }"#)
            .unwrap()
            .check()
            .unwrap();
    }

    #[test]
    fn every_known_code_has_a_message_and_answers_with_it() {
        for c in KNOWN_CODES {
            let t = parse(&format!(r#"{{ request = "place", answer = "{c}" }}"#)).unwrap();
            t.check().unwrap();
            let e = error_for(&t, Endpoint::NewAlgoOrder, 0);
            assert_eq!(e.code, c);
            assert!(!e.msg.is_empty());
        }
        let t = parse(r#"{ request = "place", answer = "-4509" }"#).unwrap();
        assert!(error_for(&t, Endpoint::NewOrder, 0)
            .msg
            .contains("or open orders"));
        let t = parse(r#"{ request = "place", answer = "418" }"#).unwrap();
        let e = error_for(&t, Endpoint::NewOrder, 1000);
        assert_eq!((e.http, e.code), (418, -1003));
        assert!(e.msg.contains("banned until 121000"));
    }

    #[test]
    fn counts_hits_in_file_order() {
        let a =
            parse(r#"{ call = "NewOrder", nth = 2, times = "twice", answer = "503" }"#).unwrap();
        let mut tg = Targeting::new(&[a]);
        let hits: Vec<bool> = (0..5)
            .map(|_| {
                let n = tg.count(Endpoint::NewOrder);
                tg.hit(Endpoint::NewOrder, n, None).is_some()
            })
            .collect();
        assert_eq!(hits, [false, true, true, false, false]);
        assert_eq!(tg.count(Endpoint::CancelOrder), 1);
    }
}
