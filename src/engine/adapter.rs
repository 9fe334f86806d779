//! The live engine's Binance adapter (`tradeengine-oco.md` §5): local validation, wire parameters
//! per position mode, rounding, retries; and the reference engine's idempotent variant.
//!
//! Contract: every request to the venue that places, cancels or queries an order goes through
//! here; the only waits are retry delays via [`Engine::pause`], which also enforces the
//! risk-placement budget (`rollback_timeout_ms`, Python's `wait_for` can only cancel at a real
//! suspension point, i.e. at a sleep).

use super::switches::*;
use super::{Engine, PairRec};
use crate::api::{
    AlgoInfo, AlgoRef, ApiError, CallError, Exchange, NewAlgoOrder, NewOrder, OrderInfo, OrderRef,
    PositionSizes, RespType, TransportError,
};
use crate::events::{EngineEvent, LegId};
use crate::types::*;
use rust_decimal::{Decimal, RoundingStrategy};

/// Why an adapter operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fail {
    /// Raised locally before any request (validation, missing client method, …).
    Local(String),
    /// The exchange refused (after any retries).
    Api(ApiError),
    /// Transport fault, outcome unknown (after any retries).
    Transport(TransportError),
    /// The risk-placement budget (`asyncio.wait_for`) ran out at a suspension point.
    Budget,
    /// The outcome stayed unknown: the order with this client id may or may not exist.
    Unknown(Ident),
}

impl Fail {
    /// The Binance code, when there is one.
    pub fn code(&self) -> Option<i32> {
        match self {
            Fail::Api(e) => Some(e.code),
            _ => None,
        }
    }
    /// Short text for notes and results.
    pub fn text(&self) -> String {
        match self {
            Fail::Local(s) => s.clone(),
            Fail::Api(e) => e.to_string(),
            Fail::Transport(t) => CallError::Transport(*t).to_string(),
            Fail::Budget => "risk placement timed out (wait_for 10 s)".to_string(),
            Fail::Unknown(c) => format!("outcome unknown (client id {c})"),
        }
    }
}

impl From<CallError> for Fail {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Api(a) => Fail::Api(a),
            CallError::Transport(t) => Fail::Transport(t),
        }
    }
}

/// The live engine's `TradeOrder.type` subset the adapter sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Market,
    Limit,
    /// STOP_MARKET (a leg, or a `stop` entry).
    Stop,
    /// TAKE_PROFIT_MARKET (a leg, or a `take_profit` entry).
    TakeProfit,
    /// STOP (stop-limit): `price` the limit, `stop_price` the trigger (a `stop_limit` entry).
    StopLimit,
    /// TAKE_PROFIT (take-profit-limit): as [`Kind::StopLimit`] (a `take_profit_limit` entry).
    TakeProfitLimit,
}

impl Kind {
    /// A conditional type (Binance: the Algo Order API since 2025-12-09).
    pub(crate) fn conditional(self) -> bool {
        !matches!(self, Kind::Market | Kind::Limit)
    }
    /// A type whose `price` is a limit price (the notional check uses it, §1.5).
    pub(crate) fn limit_priced(self) -> bool {
        matches!(self, Kind::Limit | Kind::StopLimit | Kind::TakeProfitLimit)
    }
}

/// An order as the dispatcher and OCO manager hand it to the adapter.
#[derive(Debug, Clone)]
pub(crate) struct TradeOrder {
    pub symbol: Ident,
    pub kind: Kind,
    pub side: Side,
    /// Internal, unrounded amount.
    pub amount: Decimal,
    /// Limit price (LIMIT, STOP, TAKE_PROFIT) or trigger price (STOP_MARKET, TAKE_PROFIT_MARKET).
    pub price: Option<Decimal>,
    /// Trigger price of a STOP / TAKE_PROFIT (stop-limit) order.
    pub stop_price: Option<Decimal>,
    /// timeInForce of a limit-priced entry (None: GTC).
    pub tif: Option<TimeInForce>,
    /// LONG/SHORT as the engine sees it (always set from signals).
    pub ps: Option<PositionSide>,
    pub reduce_only: bool,
    /// An SL/TP leg: the `leg_*` switches apply.
    pub leg: bool,
    pub client_id: Option<Ident>,
}

/// What an accepted request returned, formatted as the adapter's result dict.
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    pub id: LegId,
    /// Raw Binance status (`NEW`, `FILLED`, …) or `algoStatus`.
    pub status: &'static str,
    /// executedQty (0 for an ACK response).
    pub executed: Decimal,
    /// avgPrice (0 when unknown).
    pub avg_price: Decimal,
    /// The order's price field.
    pub price: Decimal,
    /// positionSide on the exchange.
    pub ps: PositionSide,
    /// Still working on the exchange.
    pub open: bool,
}

impl Placed {
    fn from_order(i: OrderInfo) -> Placed {
        Placed {
            id: LegId::Order(i.order_id),
            status: order_status_str(i.status),
            executed: i.executed_qty,
            avg_price: i.avg_price,
            price: i.price,
            ps: i.position_side,
            open: !i.status.is_terminal(),
        }
    }
    fn from_algo(i: AlgoInfo) -> Placed {
        Placed {
            id: LegId::Algo(i.algo_id),
            status: algo_status_str(i.algo_status),
            executed: Decimal::ZERO,
            avg_price: Decimal::ZERO,
            price: i.trigger_price,
            ps: i.position_side,
            open: i.algo_status.is_open(),
        }
    }
}

/// A request ready for the wire.
#[derive(Debug, Clone)]
enum Req {
    Order(NewOrder),
    Algo(NewAlgoOrder),
}

/// Which endpoint a cancel of an algo leg uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// As `cancel_endpoint_for_algo` says (the `cancel_other_order` path).
    Switch,
    /// `DELETE /fapi/v1/algoOrder` (PHEAD `cancel_oco_pair`, orphan cancel; reference).
    Correct,
}

/// A leg's life as a status query reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegState {
    /// Resting, untriggered.
    Open,
    /// Triggered or filled: the pair's other leg must go.
    Fired,
    /// Cancelled, expired or rejected without a fill.
    Gone,
}

/// Binance spelling of an order status.
pub(crate) fn order_status_str(s: OrderStatus) -> &'static str {
    s.as_str()
}

/// Binance spelling of an algo status.
pub(crate) fn algo_status_str(s: AlgoStatus) -> &'static str {
    s.as_str()
}

/// The state of a regular order (a legacy leg) for the OCO decision.
pub(crate) fn order_leg_state(status: OrderStatus, executed: Decimal) -> LegState {
    match status {
        OrderStatus::New | OrderStatus::PartiallyFilled => LegState::Open,
        OrderStatus::Filled => LegState::Fired,
        OrderStatus::Expired if executed > Decimal::ZERO => LegState::Fired,
        OrderStatus::Canceled | OrderStatus::Expired | OrderStatus::Rejected => LegState::Gone,
    }
}

/// The state of an algo leg for the OCO decision.
pub(crate) fn algo_leg_state(status: AlgoStatus, actual_price: Decimal) -> LegState {
    match status {
        AlgoStatus::New => LegState::Open,
        AlgoStatus::Triggering | AlgoStatus::Triggered => LegState::Fired,
        AlgoStatus::Finished if actual_price > Decimal::ZERO => LegState::Fired,
        AlgoStatus::Finished
        | AlgoStatus::Canceled
        | AlgoStatus::Rejected
        | AlgoStatus::Expired => LegState::Gone,
    }
}

/// Decimals Python's `str()` of the float step/tick yields: scientific notation below 1e-4 gives
/// precision 5 (§1.5, W16).
pub(crate) fn py_decimals(step: Decimal) -> u32 {
    if step > Decimal::ZERO && step < Decimal::new(1, 4) {
        5
    } else {
        step.normalize().scale()
    }
}

/// Lower-case base-36 text of a non-negative number (ids are built with [`base36_in`]).
#[cfg(test)]
pub(crate) fn base36(n: u64) -> String {
    base36_in(n, &mut [0; 13]).to_string()
}

/// `n` in lower-case base 36, written into `buf` (u64::MAX is 13 digits): a piece of an id.
pub(crate) fn base36_in(mut n: u64, buf: &mut [u8; 13]) -> &str {
    const D: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    // two digits a step (a millisecond clock is 8 digits): half the steps of one at a time
    const PAIRS: [[u8; 2]; 1296] = {
        let mut t = [[0u8; 2]; 1296];
        let mut k = 0;
        while k < 1296 {
            t[k] = [D[k / 36], D[k % 36]];
            k += 1;
        }
        t
    };
    let mut i = buf.len();
    // at most 6 pairs (36^12 > u64::MAX / 36), so `i` stays at least 1
    while n >= 1296 {
        let r = (n % 1296) as usize;
        n /= 1296;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[r]);
    }
    if n >= 36 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[n as usize]);
    } else {
        i -= 1;
        buf[i] = D[n as usize];
    }
    let s = &buf[i..];
    debug_assert!(s.iter().all(u8::is_ascii_alphanumeric));
    // SAFETY: every byte from `i` on was just written from `D`, ASCII digits and letters, so
    // the text is UTF-8 (validating it again was a measurable part of every id)
    unsafe { std::str::from_utf8_unchecked(s) }
}

/// Parses lower-case base-36 text.
pub(crate) fn from_base36(s: &str) -> Option<u64> {
    u64::from_str_radix(s, 36).ok()
}

/// The side that closes a LONG (SELL) or a SHORT (BUY) position.
pub(crate) fn close_side(dir: PositionSide) -> Side {
    if dir == PositionSide::Short {
        Side::Buy
    } else {
        Side::Sell
    }
}

/// A symbol's open size per direction, from positionRisk (one-way `BOTH` rows count on the side
/// their sign says): two numbers in place, no map built per read.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Amts {
    pub(crate) long: Decimal,
    pub(crate) short: Decimal,
}

impl Amts {
    /// The size in direction `dir` (`None` for `BOTH`, which is never a direction).
    pub(crate) fn get(&self, dir: &PositionSide) -> Option<&Decimal> {
        match dir {
            PositionSide::Long => Some(&self.long),
            PositionSide::Short => Some(&self.short),
            PositionSide::Both => None,
        }
    }
}

impl IntoIterator for Amts {
    type Item = (PositionSide, Decimal);
    type IntoIter = std::array::IntoIter<(PositionSide, Decimal), 2>;
    /// LONG, then SHORT (the order the map this replaces iterated in).
    fn into_iter(self) -> Self::IntoIter {
        [
            (PositionSide::Long, self.long),
            (PositionSide::Short, self.short),
        ]
        .into_iter()
    }
}

/// `x / unit` rounded to a whole number (half away from zero, or floored), in integers, as
/// Decimal's division then rounding gives it; `None` outside the range where that is proven (the
/// caller then computes in Decimal).
///
/// Both scaled to a common scale, `x / unit = px / pu` exactly. Decimal's quotient is exact when
/// it is representable (so an exact half stays a half) and otherwise off by less than 1e-13 while
/// below 1e15 (28 digits); the true fraction `r / pu` is a half exactly or at least `1 / (2 pu)`
/// (5e-10 with `pu <= 1e9`) away from one, and at least `1 / pu` from the next whole number, so
/// Decimal's rounding lands where the integers' does.
#[inline]
pub(crate) fn whole_units(x: Decimal, unit: Decimal, floor: bool) -> Option<i128> {
    // u64 throughout: a 128-bit division is a library call costing more than Decimal's path
    use crate::types::POW10_U64 as POW10;
    // the sign and zero tests on the bits (no Decimal comparison)
    if x.is_sign_negative() || x.is_zero() || unit.is_sign_negative() || unit.is_zero() {
        return None;
    }
    let (sx, su) = (x.scale(), unit.scale());
    let s = sx.max(su);
    let mx = u64::try_from(x.mantissa()).ok()?;
    let mu = u64::try_from(unit.mantissa()).ok()?;
    let px = mx.checked_mul(*POW10.get((s - sx) as usize)?)?;
    let pu = mu.checked_mul(*POW10.get((s - su) as usize)?)?;
    if pu > 1_000_000_000 {
        return None;
    }
    let (q, r) = (px / pu, px % pu);
    if q >= 1_000_000_000_000_000 {
        return None;
    }
    Some(i128::from(if !floor && 2 * r >= pu { q + 1 } else { q }))
}

/// `n` whole `unit`s, normalized: `(Decimal::from(n) * unit).normalize()` for the `n`
/// [`whole_units`] answers (below 1e15 units of a mantissa at most 1e9: exact in 96 bits).
fn units_times(n: i128, unit: Decimal) -> Decimal {
    let m = n * unit.mantissa();
    let mut scale = unit.scale();
    if let Ok(mut m64) = u64::try_from(m) {
        // normalize's trailing zeros off in u64 (a constant divisor: no division instruction)
        while scale > 0 && m64 % 10 == 0 {
            m64 /= 10;
            scale -= 1;
        }
        // trailing zeros gone (or scale 0): normalized already
        return Decimal::from_parts(m64 as u32, (m64 >> 32) as u32, 0, false, scale);
    }
    Decimal::from_i128_with_scale(m, scale).normalize()
}

impl Engine {
    /// Quantity as it goes on the wire (`_format_quantity`, or floored to the step).
    pub(crate) fn fmt_qty(&self, q: Decimal) -> Decimal {
        let step = self.cfg.spec.step_size;
        match self.sw.wire_rounding {
            WireRounding::DecimalPlaces => q
                .round_dp_with_strategy(py_decimals(step), RoundingStrategy::MidpointNearestEven)
                .normalize(),
            WireRounding::FloorToStepTick => {
                if step <= Decimal::ZERO {
                    return q.normalize();
                }
                if let Some(n) = whole_units(q, step, true) {
                    return units_times(n, step);
                }
                ((q / step).floor() * step).normalize()
            }
        }
    }

    /// Price as it goes on the wire (`_format_price`, or rounded to the nearest tick).
    ///
    /// The answer depends on `p` alone (the tick and the rounding are the engine's, fixed when it
    /// is made), so the last one is kept: a leg's price is formatted for its request and again,
    /// right after, for its record. Keyed on the bits, so only the very same value hits.
    pub(crate) fn fmt_price(&self, p: Decimal) -> Decimal {
        let key = u128::from_le_bytes(p.serialize());
        let (k, v) = self.price_memo.get();
        if k == key {
            return v;
        }
        let v = self.fmt_price_uncached(p);
        self.price_memo.set((key, v));
        v
    }

    /// [`Engine::fmt_price`] without the memo.
    fn fmt_price_uncached(&self, p: Decimal) -> Decimal {
        let tick = self.cfg.spec.tick_size;
        match self.sw.wire_rounding {
            WireRounding::DecimalPlaces => p
                .round_dp_with_strategy(py_decimals(tick), RoundingStrategy::MidpointNearestEven)
                .normalize(),
            WireRounding::FloorToStepTick => {
                if tick <= Decimal::ZERO {
                    return p.normalize();
                }
                if let Some(n) = whole_units(p, tick, false) {
                    return units_times(n, tick);
                }
                ((p / tick).round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
                    * tick)
                    .normalize()
            }
        }
    }

    /// Waits `ms` of simulated time; fails with [`Fail::Budget`] when the risk-placement budget
    /// ran out meanwhile.
    /// A sleep is a suspension point of the live engine's event loop: unless the budget's
    /// `wait_for` fires there first, its user-data consumer reads the frames that arrived.
    pub(crate) fn pause<E: Exchange>(&mut self, ex: &mut E, ms: i64) -> Result<(), Fail> {
        ex.sleep(ms);
        match self.st.deadline {
            Some(d) if ex.now() > d => Err(Fail::Budget),
            _ => {
                self.refresh_store(ex);
                Ok(())
            }
        }
    }

    /// The user-data store (`close_guard`) reads what the stream delivered up to now: called where
    /// the live engine's loop gets control (the start of each engine step, a completed sleep).
    pub(crate) fn refresh_store<E: Exchange>(&mut self, ex: &mut E) {
        if self.sw.close_guard {
            let sym = &self.cfg.spec.symbol;
            self.st.store = ex.stream_positions(sym);
        }
    }

    /// True when this failure is retried by a placement.
    pub(crate) fn retryable(&self, e: &CallError) -> bool {
        match e {
            CallError::Transport(_) => true,
            CallError::Api(a) => match self.sw.retry_on {
                RetryOn::AllButListed => !self.sw.no_retry_codes.contains(&a.code),
                RetryOn::TransportAndThrottle => {
                    matches!(a.code, -1003 | -1008) || a.http == 429 || a.http >= 500
                }
            },
        }
    }

    /// A read with the placement retry policy (reference reads: position, mode).
    pub(crate) fn read_retry<E: Exchange, T>(
        &mut self,
        ex: &mut E,
        mut f: impl FnMut(&mut E) -> Result<T, CallError>,
    ) -> Result<T, Fail> {
        let attempts = self.sw.placement_retries.max(1);
        // the fallback error is made only if no attempt ran: built up front it was an
        // allocation and a free on every successful read
        let mut last = None;
        for a in 0..attempts {
            match f(ex) {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if !self.retryable(&e) {
                        return Err(e.into());
                    }
                    last = Some(e.into());
                }
            }
            if a + 1 < attempts {
                self.pause(ex, self.sw.retry_base_delay_ms << a)?;
            }
        }
        Err(last.unwrap_or_else(|| Fail::Local("no attempt".into())))
    }

    /// Account mode (true = hedge), read once from positionRisk's rows. Inline: every placement
    /// asks (`wire_ps`), and after the first read the answer is a field.
    #[inline]
    pub(crate) fn hedge<E: Exchange>(&mut self, ex: &mut E) -> Result<bool, Fail> {
        match self.st.hedge {
            Some(h) => Ok(h),
            None => self.read_hedge(ex),
        }
    }

    /// [`Self::hedge`]'s first read.
    #[inline(never)]
    fn read_hedge<E: Exchange>(&mut self, ex: &mut E) -> Result<bool, Fail> {
        let sym = self.cfg.spec.symbol.clone();
        let sizes = self.read_retry(ex, |ex| ex.position_sizes(&sym))?;
        self.st.hedge = Some(sizes.hedge);
        Ok(sizes.hedge)
    }

    /// Absolute size of the LONG and SHORT positions (one-way: the net position by its sign),
    /// from one positionRisk read; also learns the account mode.
    pub(crate) fn position_amts<E: Exchange>(
        &mut self,
        ex: &mut E,
        symbol: &str,
    ) -> Result<Amts, Fail> {
        let sizes = self.read_retry(ex, |ex| ex.position_sizes(symbol))?;
        Ok(self.amts_from(sizes))
    }

    /// As [`Engine::position_amts`], one attempt only (an optional check).
    pub(crate) fn position_amts_once<E: Exchange>(
        &mut self,
        ex: &mut E,
        symbol: &str,
    ) -> Result<Amts, Fail> {
        let sizes = ex.position_sizes(symbol)?;
        Ok(self.amts_from(sizes))
    }

    fn amts_from(&mut self, sizes: PositionSizes) -> Amts {
        self.st.hedge = Some(sizes.hedge);
        Amts {
            long: sizes.long,
            short: sizes.short,
        }
    }

    /// Absolute size of the position in direction `dir` (LONG/SHORT), from positionRisk.
    pub(crate) fn position_amt<E: Exchange>(
        &mut self,
        ex: &mut E,
        symbol: &str,
        dir: PositionSide,
    ) -> Result<Decimal, Fail> {
        let amts = self.position_amts(ex, symbol)?;
        Ok(amts.get(&dir).copied().unwrap_or_default())
    }

    /// positionSide on the wire for an order the engine tags with `ps`.
    fn wire_ps<E: Exchange>(
        &mut self,
        ex: &mut E,
        ps: Option<PositionSide>,
    ) -> Result<Option<PositionSide>, Fail> {
        let Some(ps) = ps else { return Ok(None) };
        match self.sw.position_side_param {
            PositionSideParam::Always => Ok(Some(ps)),
            PositionSideParam::ByAccountMode => {
                if self.hedge(ex)? && ps != PositionSide::Both {
                    Ok(Some(ps))
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// The reduceOnly parameter (§5.1): never with positionSide (unless the pre-v1.1.78 bug is on),
    /// never with closePosition, `true` only when the order is reduce-only.
    fn reduce_only_param(&self, o: &TradeOrder, wire_ps: Option<PositionSide>) -> Option<bool> {
        if !o.reduce_only || (o.leg && (self.sw.leg_close_position || !self.sw.leg_reduce_only)) {
            return None;
        }
        match wire_ps {
            Some(PositionSide::Long) | Some(PositionSide::Short) => {
                self.sw.send_reduce_only_with_position_side.then_some(true)
            }
            _ => Some(true),
        }
    }

    fn build(&self, o: &TradeOrder, wire_ps: Option<PositionSide>) -> Req {
        let leg_type = match o.kind {
            Kind::Stop => OrderType::StopMarket,
            Kind::TakeProfit => OrderType::TakeProfitMarket,
            Kind::Market => OrderType::Market,
            Kind::Limit => OrderType::Limit,
            Kind::StopLimit => OrderType::Stop,
            Kind::TakeProfitLimit => OrderType::TakeProfit,
        };
        let qty = if o.leg && self.sw.leg_close_position {
            None
        } else {
            Some(self.fmt_qty(o.amount))
        };
        let price = o.price.map(|p| self.fmt_price(p));
        let stop_price = o.stop_price.map(|p| self.fmt_price(p));
        let limit_kind = matches!(o.kind, Kind::StopLimit | Kind::TakeProfitLimit);
        let reduce_only = self.reduce_only_param(o, wire_ps);
        // a leg, or a conditional entry (the reference engine's STOP entry), goes where the
        // era sends conditional orders
        if (o.leg || o.kind.conditional()) && self.algo_legs() {
            let mut r = NewAlgoOrder::new(&o.symbol, o.side, leg_type);
            r.position_side = wire_ps;
            r.quantity = qty;
            if limit_kind {
                r.price = price;
                r.trigger_price = stop_price;
            } else {
                r.trigger_price = price;
            }
            r.reduce_only = reduce_only;
            if o.leg {
                self.leg_params_algo(&mut r);
            } else if limit_kind {
                r.time_in_force = Some(o.tif.unwrap_or(TimeInForce::Gtc));
            }
            r.client_algo_id = o.client_id.clone();
            return Req::Algo(r);
        }
        let mut r = NewOrder::new(&o.symbol, o.side, leg_type);
        r.position_side = wire_ps;
        r.quantity = qty;
        r.reduce_only = reduce_only;
        r.client_order_id = o.client_id.clone();
        match o.kind {
            Kind::Market => {
                if self.sw.entry_resp_result {
                    r.resp_type = Some(RespType::Result);
                }
            }
            Kind::Limit => {
                r.price = price;
                r.time_in_force = Some(o.tif.unwrap_or(TimeInForce::Gtc));
                if self.sw.entry_resp_result {
                    r.resp_type = Some(RespType::Result);
                }
            }
            Kind::Stop | Kind::TakeProfit | Kind::StopLimit | Kind::TakeProfitLimit => {
                if limit_kind {
                    r.price = price;
                    r.stop_price = stop_price;
                    r.time_in_force = Some(o.tif.unwrap_or(TimeInForce::Gtc));
                } else {
                    r.stop_price = price;
                }
                if !o.leg {
                    // an entry: the conditional builders' own parameters only
                    if self.sw.entry_resp_result {
                        r.resp_type = Some(RespType::Result);
                    }
                    return Req::Order(r);
                }
                if self.sw.leg_close_position {
                    r.close_position = Some(true);
                }
                if self.sw.leg_tif_gte_gtc {
                    r.time_in_force = Some(TimeInForce::GteGtc);
                }
                if self.sw.leg_working_type_mark {
                    r.working_type = Some(WorkingType::MarkPrice);
                }
                if self.sw.leg_price_protect {
                    r.price_protect = Some(true);
                }
            }
        }
        Req::Order(r)
    }

    fn leg_params_algo(&self, r: &mut NewAlgoOrder) {
        if self.sw.leg_close_position {
            r.close_position = Some(true);
        }
        if self.sw.leg_tif_gte_gtc {
            r.time_in_force = Some(TimeInForce::GteGtc);
        }
        if self.sw.leg_working_type_mark {
            r.working_type = Some(WorkingType::MarkPrice);
        }
        if self.sw.leg_price_protect {
            r.price_protect = Some(true);
        }
    }

    fn send<E: Exchange>(ex: &mut E, r: &Req) -> Result<Placed, CallError> {
        match r {
            Req::Order(o) => ex.new_order(o).map(Placed::from_order),
            Req::Algo(a) => ex.new_algo_order(a).map(Placed::from_algo),
        }
    }

    /// The client id a request carries, if any.
    fn client_of(r: &Req) -> Option<Ident> {
        match r {
            Req::Order(o) => o.client_order_id.clone(),
            Req::Algo(a) => a.client_algo_id.clone(),
        }
    }

    /// After an unknown outcome, asks for the order by client id until the exchange answers:
    /// `Some` when it exists, `None` when it positively does not (-2013), [`Fail::Unknown`] when
    /// every query failed. Never re-posts: Binance only refuses a duplicate client id among *open*
    /// orders, so a blind re-post of a filled MARKET would open a second position.
    fn resolve_unknown<E: Exchange>(
        &mut self,
        ex: &mut E,
        r: &Req,
        cid: &str,
    ) -> Result<Option<Placed>, Fail> {
        let attempts = self.sw.placement_retries.max(1);
        for k in 0..attempts {
            let found = match r {
                Req::Order(o) => ex
                    .query_order(&o.symbol, &OrderRef::Client(cid.into()))
                    .map(Placed::from_order),
                Req::Algo(a) => ex
                    .query_algo_order(&a.symbol, &AlgoRef::Client(cid.into()))
                    .map(Placed::from_algo),
            };
            match found {
                Ok(p) => return Ok(Some(p)),
                Err(CallError::Api(e)) if e.code == -2013 => return Ok(None),
                Err(_) => {}
            }
            if k + 1 < attempts {
                self.pause(ex, self.sw.retry_base_delay_ms << k)?;
            }
        }
        Err(Fail::Unknown(cid.into()))
    }

    /// `BinanceFuturesExchange.execute(order)`: local validation, then the request with retries.
    pub(crate) fn execute<E: Exchange>(
        &mut self,
        ex: &mut E,
        o: &TradeOrder,
    ) -> Result<Placed, Fail> {
        if o.symbol != self.cfg.spec.symbol {
            return Err(Fail::Local(format!(
                "Symbol {} not found in exchange info",
                o.symbol
            )));
        }
        let uses_qty = !(o.leg && self.sw.leg_close_position);
        // `<= 0` on the bits (a negative zero is zero): no call into Decimal's comparison
        if uses_qty && (o.amount.is_sign_negative() || o.amount.is_zero()) {
            return Err(Fail::Local("Order amount must be positive".into()));
        }
        if o.price.is_none() && o.kind != Kind::Market {
            return Err(Fail::Local(format!("{:?} order requires a price", o.kind)));
        }
        if o.stop_price.is_none() && matches!(o.kind, Kind::StopLimit | Kind::TakeProfitLimit) {
            return Err(Fail::Local(format!(
                "{:?} order requires a trigger",
                o.kind
            )));
        }
        if self.sw.notional_check_ticker {
            // `_validate_notional`: the ticker is fetched for market/stop/take-profit even when the
            // order is reduce-only and exempt; algo legs too (the 2026-08 wire traces show one
            // `ticker/price` right before each algo SL and TP series, `reports/parity.md`).
            let px = if o.kind.limit_priced() {
                o.price.unwrap_or_default()
            } else {
                ex.ticker_price(&o.symbol)?
            };
            if !o.reduce_only && px * o.amount < self.cfg.spec.min_notional {
                return Err(Fail::Local(format!(
                    "Order notional {} below minimum {}",
                    (px * o.amount).normalize(),
                    self.cfg.spec.min_notional.normalize()
                )));
            }
        }
        if self.sw.limit_percent_price_check && o.kind == Kind::Limit {
            // `_execute_limit_order` → `validate_price_within_percent_filter` (2026-08): the
            // price against the live PERCENT_PRICE band; outside it the order is refused locally,
            // a failed ticker read lets it through (fail open)
            if let (Some(p), Ok(last)) = (o.price, ex.ticker_price(&o.symbol)) {
                let spec = &self.cfg.spec;
                if p < last * spec.percent_down || p > last * spec.percent_up {
                    return Err(Fail::Local(format!(
                        "PERCENT_PRICE filter violation: LIMIT {} vs market {}",
                        p.normalize(),
                        last.normalize()
                    )));
                }
            }
        }
        let wire_ps = self.wire_ps(ex, o.ps)?;
        let mut req = self.build(o, wire_ps);
        // the engine's own client id: the broker id python-binance adds is not the engine's
        let own_cid = Self::client_of(&req);
        let attempts = self.sw.placement_retries.max(1);
        let mut a = 0u32;
        loop {
            if let Req::Order(r) = &mut req {
                if self.sw.broker_client_id && own_cid.is_none() {
                    // python-binance draws a fresh one (uuid4) for every call
                    self.broker_ids += 1;
                    r.client_order_id = Some(Ident::concat(&[
                        "x-Cb7ytekJ",
                        base36_in(ex.now().0.max(0) as u64, &mut [0; 13]),
                        base36_in(self.broker_ids, &mut [0; 13]),
                    ]));
                }
            }
            let e = match Self::send(ex, &req) {
                Ok(p) => return Ok(p),
                Err(CallError::Api(e))
                    if e.http == 404
                        && matches!(req, Req::Algo(_))
                        && self.sw.legs_api == LegsApi::Auto =>
                {
                    // no algo endpoint on this account: the same attempt on /fapi/v1/order
                    self.note_no_algo_api(ex);
                    req = self.build(o, wire_ps);
                    continue;
                }
                Err(e) => e,
            };
            // after an unknown outcome (or a duplicate client id, which says an earlier attempt
            // landed) the order may exist: find out before posting again
            let maybe_placed = matches!(e, CallError::Transport(_)) || e.code() == Some(-4116);
            match own_cid.clone() {
                Some(cid) if maybe_placed && self.sw.requery_unknown_outcome => {
                    if let Some(p) = self.resolve_unknown(ex, &req, &cid)? {
                        ex.emit(EngineEvent::Note {
                            text: format!(
                                "{} found by client id after an unknown outcome",
                                leg_text(p.id)
                            ),
                        });
                        return Ok(p);
                    }
                }
                _ => {
                    if !self.retryable(&e) {
                        return Err(e.into());
                    }
                }
            }
            a += 1;
            if a >= attempts {
                return Err(e.into());
            }
            self.pause(ex, self.sw.retry_base_delay_ms << (a - 1))?;
        }
    }

    /// True when legs go to the algo endpoint.
    pub(crate) fn algo_legs(&self) -> bool {
        match self.sw.legs_api {
            LegsApi::Algo => true,
            LegsApi::LegacyOrder => false,
            LegsApi::Auto => self.st.algo_api != Some(false),
        }
    }

    /// `legs_api = auto` learned that the venue has no algo endpoint.
    pub(crate) fn note_no_algo_api<E: Exchange>(&mut self, ex: &mut E) {
        if self.st.algo_api != Some(false) {
            self.st.algo_api = Some(false);
            ex.emit(EngineEvent::Note {
                text: "no algo endpoint on this account: legs go to /fapi/v1/order".into(),
            });
        }
    }

    /// One cancel request for a leg.
    pub(crate) fn cancel_leg_once<E: Exchange>(
        &self,
        ex: &mut E,
        symbol: &str,
        leg: LegId,
        route: Route,
    ) -> Result<(), CallError> {
        match leg {
            LegId::Order(id) => ex.cancel_order(symbol, &OrderRef::Id(id.0)).map(|_| ()),
            LegId::Algo(id) => {
                if route == Route::Switch
                    && self.sw.cancel_endpoint_for_algo == CancelEndpoint::OrderEndpoint
                {
                    ex.cancel_order(symbol, &OrderRef::Id(id.0)).map(|_| ())
                } else {
                    ex.cancel_algo_order(symbol, &AlgoRef::Id(id.0)).map(|_| ())
                }
            }
        }
    }

    /// The leg's state as a status query reports it.
    pub(crate) fn query_leg<E: Exchange>(
        &self,
        ex: &mut E,
        symbol: &str,
        leg: LegId,
    ) -> Result<LegState, CallError> {
        match leg {
            LegId::Order(id) => ex
                .query_order(symbol, &OrderRef::Id(id.0))
                .map(|i| order_leg_state(i.status, i.executed_qty)),
            LegId::Algo(id) => ex
                .query_algo_order(symbol, &AlgoRef::Id(id.0))
                .map(|i| algo_leg_state(i.algo_status, i.actual_price)),
        }
    }

    /// A client id, or None when the profile sends none.
    pub(crate) fn client_id(&self, text: Ident) -> Option<Ident> {
        (self.sw.client_ids == ClientIds::Idempotent).then_some(text)
    }

    /// A fresh client-id base: simulated time and a sequence number, base 36.
    pub(crate) fn client_base<E: Exchange>(&mut self, ex: &E) -> Ident {
        let s = self.seq();
        Ident::concat(&[
            base36_in(ex.now().0.max(0) as u64, &mut [0; 13]),
            base36_in(s, &mut [0; 13]),
        ])
    }

    /// The reference client id of a leg: `ocoS-<base>-<attempt>` / `ocoT-…`.
    pub(crate) fn leg_client_id(&self, rec: &PairRec, stop: bool, attempt: u32) -> Option<Ident> {
        if self.sw.client_ids != ClientIds::Idempotent {
            return None;
        }
        let tag = if stop { "ocoS-" } else { "ocoT-" };
        let mut digits = [0u8; 20];
        Some(Ident::concat(&[
            tag,
            &rec.base,
            "-",
            crate::types::u64_in(u64::from(attempt), &mut digits),
        ]))
    }

    /// Price in whole ticks (for client ids).
    pub(crate) fn price_ticks(&self, p: Decimal) -> Option<u64> {
        let t = self.cfg.spec.tick_size;
        if t <= Decimal::ZERO {
            return None;
        }
        if let Some(n) = whole_units(p, t, false) {
            return u64::try_from(n).ok();
        }
        u64::try_from((p / t).round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero))
            .ok()
    }
}

/// Short text of a leg id.
pub(crate) fn leg_text(l: LegId) -> String {
    match l {
        LegId::Order(o) => format!("order {o}"),
        LegId::Algo(a) => format!("algo {a}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memo of `fmt_price` is invisible: over random runs of prices, with repeats of the last
    /// one, of an earlier one, and of the same value at another scale or sign of zero, each answer
    /// is the bits the unmemoized path gives, for both roundings and several ticks.
    #[test]
    fn fmt_price_memo_answers_as_the_formatter() {
        let mut rnd = crate::types::xorshift_below(0x9e37_79b9_7f4a_7c15);
        let ticks = [
            "0.001", "0.1", "0.01", "0.0001", "0.5", "1", "0.00001", "0.0025",
        ];
        let mut hits = 0u32;
        for tick in ticks {
            for rounding in [WireRounding::FloorToStepTick, WireRounding::DecimalPlaces] {
                let mut spec = crate::exchange::SymbolSpec::builtin("FILUSDT").unwrap();
                spec.tick_size = tick.parse().unwrap();
                let mut sw = Switches::profile(crate::engine::PROFILES[0]).unwrap();
                sw.wire_rounding = rounding;
                let cfg = crate::engine::EngineConfig {
                    spec,
                    monitor: Default::default(),
                    poll_interval_ms: 2_000,
                    error_backoff_ms: 5_000,
                    entries: crate::engine::EntryRules::of_profile(crate::engine::PROFILES[0]),
                    portfolio_value: Decimal::from(10_000),
                };
                let eng = Engine::new(sw, cfg);
                let mut seen: Vec<Decimal> = Vec::new();
                for _ in 0..4_000 {
                    let p = match rnd(6) {
                        // the last price again (the leg's record after its request)
                        0 | 1 if !seen.is_empty() => *seen.last().unwrap(),
                        // an earlier one
                        2 if !seen.is_empty() => seen[rnd(seen.len() as u64) as usize],
                        // the last value at another scale: equal, other bits
                        3 if !seen.is_empty() => {
                            let mut q = *seen.last().unwrap();
                            if q.scale() < 20 {
                                q.rescale(q.scale() + 1 + rnd(3) as u32);
                            }
                            q
                        }
                        4 => Decimal::new(-(rnd(1000) as i64), rnd(6) as u32),
                        _ => {
                            let bits = rnd(40);
                            Decimal::new(rnd(1u64 << bits) as i64, rnd(10) as u32)
                        }
                    };
                    let want = eng.fmt_price_uncached(p);
                    assert_ne!(u128::from_le_bytes(p.serialize()), super::super::NO_PRICE);
                    if eng.price_memo.get().0 == u128::from_le_bytes(p.serialize()) {
                        hits += 1;
                    }
                    let got = eng.fmt_price(p);
                    assert_eq!(
                        got.serialize(),
                        want.serialize(),
                        "{p} tick {tick} {rounding:?}"
                    );
                    seen.push(p);
                }
                // a zero and a negative zero: equal values, other bits
                for p in [
                    Decimal::ZERO,
                    -Decimal::ZERO,
                    Decimal::new(0, 3),
                    Decimal::ZERO,
                ] {
                    let got = eng.fmt_price(p);
                    assert_eq!(got.serialize(), eng.fmt_price_uncached(p).serialize());
                }
            }
        }
        assert!(hits > 10_000, "{hits}");
    }

    #[test]
    fn python_precision_quirks() {
        assert_eq!(py_decimals(Decimal::new(1, 3)), 3);
        assert_eq!(py_decimals(Decimal::from(1)), 0);
        assert_eq!(py_decimals(Decimal::new(5, 1)), 1);
        // 1e-06 prints in scientific notation: precision 5 (W16)
        assert_eq!(py_decimals(Decimal::new(1, 6)), 5);
        assert_eq!(
            from_base36(&base36(1_769_904_000_000)),
            Some(1_769_904_000_000)
        );
    }

    /// `base36_in` (two digits a step) writes what one digit a step does: every number to
    /// 100,000, each power of 36 and its neighbours, u64::MAX and random numbers of every size.
    #[test]
    fn base36_in_is_digit_by_digit_base36() {
        fn reference(mut n: u64) -> String {
            let d = b"0123456789abcdefghijklmnopqrstuvwxyz";
            let mut out = Vec::new();
            loop {
                out.push(d[(n % 36) as usize]);
                n /= 36;
                if n == 0 {
                    break;
                }
            }
            out.reverse();
            String::from_utf8(out).unwrap()
        }
        let mut ns: Vec<u64> = (0..100_000).collect();
        let mut p = 1u64;
        while let Some(q) = p.checked_mul(36) {
            ns.extend([p - 1, p, p + 1, q - 1]);
            p = q;
        }
        ns.extend([p, u64::MAX, u64::MAX - 1, 1_769_904_000_000]);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ns.push(x >> (x % 64));
        }
        for n in ns {
            let mut buf = [0; 13];
            let got = base36_in(n, &mut buf);
            assert_eq!(got, reference(n), "{n}");
            assert_eq!(from_base36(got), Some(n), "{n}");
        }
    }

    #[test]
    fn whole_units_agree_with_decimal() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let units = [
            "0.001",
            "0.0001",
            "0.01",
            "0.1",
            "1",
            "10",
            "0.5",
            "0.25",
            "0.00001",
            "0.000001",
            "0.00000001",
            "0.005",
            "0.0025",
            "5",
            "0.123",
            "0.000000001",
            "0.0000000001",
            "1.000",
            "0.0010",
            "100",
        ];
        let xs = [
            "0.0000001",
            "0.0004",
            "0.0005",
            "0.0015",
            "0.0025",
            "0.00049999",
            "0.00050001",
            "1",
            "1.2345",
            "4.1234567",
            "4.1235",
            "4.12349999999999",
            "4.12350000000001",
            "5.5",
            "6.5",
            "7.49999",
            "123456.789",
            "0.333333333333333333333333333",
            "99999.9995",
            "1234567890123.4567",
            "123456789012345678",
            "0.1",
            "0.05",
            "0.15",
            "0.25",
            "79228162514264337593543950.335",
            "0.0000000000000000000000000001",
        ];
        let mut taken = 0;
        for u in units {
            let u = d(u);
            for x in xs {
                for k in 0..40i64 {
                    // the value, and values a few last-digit steps around it
                    let x = d(x) + Decimal::new(k - 20, 7) * Decimal::new(k % 3, 0);
                    if x <= Decimal::ZERO {
                        continue;
                    }
                    let Some(q) = x.checked_div(u) else {
                        assert_eq!(whole_units(x, u, false), None);
                        continue;
                    };
                    let away = q.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
                    let floor = q.floor();
                    if let Some(n) = whole_units(x, u, false) {
                        taken += 1;
                        assert_eq!(Decimal::from(n), away, "{x} / {u}");
                        let want = (away * u).normalize();
                        let got = units_times(n, u);
                        assert_eq!((got, got.scale()), (want, want.scale()), "{x} / {u}");
                    }
                    if let Some(n) = whole_units(x, u, true) {
                        assert_eq!(Decimal::from(n), floor, "{x} / {u}");
                        let want = (floor * u).normalize();
                        let got = units_times(n, u);
                        assert_eq!((got, got.scale()), (want, want.scale()), "{x} / {u}");
                    }
                }
            }
        }
        assert!(taken > 10_000, "{taken}");
        // a seeded walk over prices with up to 8 decimals and ticks of the builtin specs
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let x = Decimal::new((seed % 10_000_000_000) as i64, (seed >> 40) as u32 % 9);
            let u = Decimal::new(
                1 + (seed >> 20) as i64 % 5 * ((seed >> 50) as i64 % 3 * 4 + 1),
                (seed >> 33) as u32 % 8,
            );
            if let Some(n) = whole_units(x, u, false) {
                let away =
                    (x / u).round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
                assert_eq!(Decimal::from(n), away, "{x} / {u}");
                assert_eq!(
                    units_times(n, u).to_string(),
                    (away * u).normalize().to_string()
                );
            }
            if let Some(n) = whole_units(x, u, true) {
                assert_eq!(Decimal::from(n), (x / u).floor(), "{x} / {u}");
            }
        }
    }

    #[test]
    fn digits_without_the_formatter() {
        for n in [
            0u64,
            1,
            9,
            10,
            35,
            36,
            1295,
            1296,
            1_769_904_000_000,
            u64::MAX,
        ] {
            assert_eq!(from_base36(&base36(n)), Some(n), "{n}");
            let mut s = String::from("x");
            push_u64(&mut s, n);
            assert_eq!(s, format!("x{n}"));
        }
        assert_eq!(base36(0), "0");
        assert_eq!(base36(36), "10");
        assert_eq!(base36(u64::MAX), "3w5e11264sgsf");
    }
}
