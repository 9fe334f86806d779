//! Requests: validation with Binance's codes (a rejection changes no state), then the change.
//!
//! Checks run in a fixed order so one request always gets the same code: symbol, position side
//! and reduceOnly vs mode, parameters not required, endpoint vs API mode, mandatory parameters,
//! closePosition combinations, filters (precision, tick, step, min/max), client id, reduce-only,
//! immediate trigger, MIN_NOTIONAL, PERCENT_PRICE, margin.

use super::codes;
use super::*;
use crate::api::{
    AlgoInfo, AlgoRef, ApiError, NewAlgoOrder, NewOrder, OrderInfo, OrderRef, PositionInfo,
    RespType,
};
use crate::events::{AccountReason, Event, ExecType, OrderUpdate};

/// Parameters common to both endpoints after validation.
struct Checked {
    qty: i64,
    price: i64,
    trigger: i64,
    ps: PositionSide,
    tif: TimeInForce,
    trailing: Option<Trailing>,
}

/// Direction in which a conditional of `otype`/`side` fires: true = when the price rises to it.
pub(crate) fn fires_up(otype: OrderType, side: Side) -> bool {
    if otype.is_take_profit() {
        side == Side::Sell
    } else {
        side == Side::Buy
    }
}

impl MockExchange {
    fn check_symbol(&self, symbol: &str) -> Result<(), ApiError> {
        if symbol != self.spec.symbol {
            return Err(codes::bad_symbol());
        }
        Ok(())
    }

    /// positionSide and reduceOnly against the account mode (§2.1): in hedge mode reduceOnly must
    /// not be sent at all, not even "false" (-1106), and positionSide must be LONG/SHORT (-4061).
    fn check_mode(
        &self,
        ps: Option<PositionSide>,
        reduce_only: Option<bool>,
    ) -> Result<PositionSide, ApiError> {
        match self.cfg.position_mode {
            PositionMode::Hedge => {
                if reduce_only.is_some() {
                    return Err(codes::not_required("reduceOnly"));
                }
                match ps {
                    Some(PositionSide::Long) => Ok(PositionSide::Long),
                    Some(PositionSide::Short) => Ok(PositionSide::Short),
                    _ => Err(codes::position_side_mismatch()),
                }
            }
            PositionMode::OneWay => match ps {
                None | Some(PositionSide::Both) => Ok(PositionSide::Both),
                _ => Err(codes::position_side_mismatch()),
            },
        }
    }

    /// Shared checks of quantity, prices, closePosition and trailing parameters.
    #[allow(clippy::too_many_arguments)]
    fn check_params(
        &self,
        otype: OrderType,
        side: Side,
        ps: PositionSide,
        qty: Option<Decimal>,
        price: Option<Decimal>,
        trigger: Option<Decimal>,
        trigger_name: &str,
        tif: Option<TimeInForce>,
        reduce_only: Option<bool>,
        close_position: Option<bool>,
        callback_rate: Option<Decimal>,
        activate: Option<Decimal>,
    ) -> Result<Checked, ApiError> {
        let close = close_position == Some(true);
        if otype == OrderType::Market && price.is_some() {
            return Err(codes::not_required("price"));
        }
        if close {
            if !matches!(otype, OrderType::StopMarket | OrderType::TakeProfitMarket) {
                return Err(codes::bad_combo());
            }
            if qty.is_some() {
                return Err(codes::qty_with_close_position());
            }
            if reduce_only.is_some() {
                return Err(codes::not_required("reduceOnly"));
            }
            if ps != PositionSide::Both && !Self::is_closing_side(side, ps) {
                return Err(codes::bad_combo());
            }
        }
        let needs_price = matches!(
            otype,
            OrderType::Limit | OrderType::Stop | OrderType::TakeProfit
        );
        let mut tif_v = tif.unwrap_or(TimeInForce::Gtc);
        if otype == OrderType::Limit && tif.is_none() {
            return Err(codes::mandatory("timeInForce"));
        }
        if needs_price && price.is_none() {
            return Err(codes::mandatory("price"));
        }
        if otype.is_conditional() && otype != OrderType::TrailingStopMarket && trigger.is_none() {
            return Err(codes::mandatory(trigger_name));
        }
        if otype == OrderType::TrailingStopMarket && callback_rate.is_none() {
            return Err(codes::mandatory("callbackRate"));
        }
        if !close && qty.is_none() {
            return Err(codes::mandatory("quantity"));
        }
        if otype == OrderType::Market {
            tif_v = TimeInForce::Gtc;
        }
        let qty = match qty {
            Some(q) => self
                .grid
                .qty_to_steps(&self.spec, q, otype == OrderType::Market)?,
            None => 0,
        };
        let price = match price {
            Some(p) => self.grid.price_to_ticks(&self.spec, p)?,
            None => 0,
        };
        let trigger = match trigger {
            Some(p) => self.grid.price_to_ticks(&self.spec, p)?,
            None => 0,
        };
        let trailing = if otype == OrderType::TrailingStopMarket {
            let cb = callback_rate.unwrap_or_default();
            if cb < Decimal::new(1, 1) || cb > Decimal::from(10) {
                return Err(ApiError::new(-2007, "Invalid callBack rate."));
            }
            let act = match activate {
                Some(a) => {
                    let t = self.grid.price_to_ticks(&self.spec, a)?;
                    // §1: BUY needs activatePrice < latest, SELL needs activatePrice > latest.
                    let bad = match side {
                        Side::Buy => t >= self.cur.price,
                        Side::Sell => t <= self.cur.price,
                    };
                    if bad {
                        return Err(codes::would_trigger());
                    }
                    Some(t)
                }
                None => None,
            };
            let bp = (cb * Decimal::from(100))
                .trunc()
                .try_into()
                .unwrap_or(100i64);
            Some(Trailing {
                callback_bp: bp,
                activate: act,
                active: act.is_none(),
                extreme: self.cur.price,
            })
        } else {
            None
        };
        Ok(Checked {
            qty,
            price,
            trigger,
            ps,
            tif: tif_v,
            trailing,
        })
    }

    /// -2021 when a conditional's condition already holds at the current price (equality
    /// counts, §1).
    fn check_immediate_trigger(
        &self,
        otype: OrderType,
        side: Side,
        trigger: i64,
        working_type: Option<WorkingType>,
    ) -> Result<(), ApiError> {
        if otype == OrderType::TrailingStopMarket {
            return Ok(());
        }
        let p = if working_type == Some(WorkingType::MarkPrice) {
            self.mark_ticks()
        } else {
            self.cur.price
        };
        let fires = if fires_up(otype, side) {
            p >= trigger
        } else {
            p <= trigger
        };
        if fires {
            return Err(codes::would_trigger());
        }
        Ok(())
    }

    /// MIN_NOTIONAL reference of a trailing stop: its activation price, else the latest price.
    fn trailing_ref_price(&self, c: &Checked) -> i64 {
        c.trailing
            .and_then(|t| t.activate)
            .unwrap_or(self.cur.price)
    }

    fn check_min_notional(&self, ticks: i64, steps: i64, exempt: bool) -> Result<(), ApiError> {
        if exempt || steps == 0 {
            return Ok(());
        }
        // an integer comparison where the mantissas allow (`cmp_dec`: the Decimal order)
        if super::spec::cmp_dec(self.notional_of(ticks, steps), self.spec.min_notional).is_lt() {
            return Err(codes::min_notional(
                &self.spec.min_notional.normalize().to_string(),
            ));
        }
        Ok(())
    }

    fn next_order_id(&self) -> OrderId {
        OrderId(ORDER_ID_BASE + self.orders.len() as u64)
    }

    pub(crate) fn order_index(&self, r: &OrderRef) -> Option<usize> {
        match r {
            OrderRef::Id(id) => {
                let k = id.checked_sub(ORDER_ID_BASE)? as usize;
                // a freed order is gone ([`retention`])
                self.orders.get(k).is_some().then_some(k)
            }
            OrderRef::Client(c) => self.orders.rposition(|o| &o.client_id == c),
        }
    }

    pub(crate) fn algo_index(&self, r: &AlgoRef) -> Option<usize> {
        match r {
            AlgoRef::Id(id) => {
                let k = id.checked_sub(ALGO_ID_BASE)? as usize;
                self.algos.get(k).is_some().then_some(k)
            }
            AlgoRef::Client(c) => self.algos.rposition(|a| &a.client_id == c),
        }
    }

    fn reject<T>(&mut self, e: ApiError) -> Result<T, ApiError> {
        self.stats.rejections += 1;
        Err(e)
    }

    /// POST /fapi/v1/order at the current time.
    pub fn new_order(&mut self, req: &NewOrder) -> Result<OrderInfo, ApiError> {
        match self.new_order_inner(req) {
            Ok(info) => Ok(info),
            Err(e) => self.reject(e),
        }
    }

    fn new_order_inner(&mut self, req: &NewOrder) -> Result<OrderInfo, ApiError> {
        self.check_symbol(&req.symbol)?;
        let ps = self.check_mode(req.position_side, req.reduce_only)?;
        if req.order_type == OrderType::Liquidation {
            return Err(ApiError::new(-1116, "Invalid orderType."));
        }
        if req.order_type.is_conditional() && self.cfg.api == ApiMode::Algo {
            return Err(codes::switch_algo());
        }
        let c = self.check_params(
            req.order_type,
            req.side,
            ps,
            req.quantity,
            req.price,
            req.stop_price,
            "stopPrice",
            req.time_in_force,
            req.reduce_only,
            req.close_position,
            req.callback_rate,
            req.activation_price,
        )?;
        if let Some(cid) = &req.client_order_id {
            if self.open_order_iter().any(|(_, o)| &o.client_id == cid) {
                return Err(codes::duplicate_client_id());
            }
        }
        // GTE_GTC needs a position on its side, or (legacy era) an open order there (-4509)
        if c.tif == TimeInForce::GteGtc
            && self.pos[ps_idx(ps)].amt == 0
            && !self.open_order_iter().any(|(_, o)| o.ps == ps)
        {
            return Err(codes::gte_without_position(false));
        }
        let reduce_only = req.reduce_only == Some(true);
        let close = req.close_position == Some(true);
        let hedge_close = ps != PositionSide::Both && Self::is_closing_side(req.side, ps);
        let conditional = req.order_type.is_conditional();
        if !conditional && (reduce_only || hedge_close) {
            let r = self.reducible(req.side, ps);
            // §2.2 / §2.3: nothing to reduce, or (hedge) closing more than the leg.
            if r == 0 || (hedge_close && c.qty > r) {
                return Err(codes::reduce_only_reject());
            }
            if req.order_type == OrderType::Limit {
                let resting: i64 = self
                    .open_order_iter()
                    .map(|(_, o)| o)
                    .filter(|o| {
                        !o.armed
                            && o.ps == ps
                            && o.side == req.side
                            && (o.reduce_only || hedge_close)
                    })
                    .map(|o| o.qty - o.executed)
                    .sum();
                if resting + c.qty > r {
                    return Err(codes::reduce_only_reject());
                }
            }
        }
        if conditional {
            self.check_immediate_trigger(req.order_type, req.side, c.trigger, req.working_type)?;
        }
        let ref_price = match req.order_type {
            // §5: MIN_NOTIONAL of a MARKET order at the mark price
            OrderType::Market => self.mark_ticks(),
            OrderType::Limit | OrderType::Stop | OrderType::TakeProfit => c.price,
            // a trailing stop has no trigger price: its activation price, or the latest price
            OrderType::TrailingStopMarket => self.trailing_ref_price(&c),
            _ => c.trigger,
        };
        self.check_min_notional(ref_price, c.qty, reduce_only || close || hedge_close)?;
        if req.order_type == OrderType::Limit {
            let mark = self.mark_price();
            let px = self.spec.price(c.price);
            if req.side == Side::Buy && px > mark * self.spec.percent_up {
                return Err(codes::percent_cap());
            }
            if req.side == Side::Sell && px < mark * self.spec.percent_down {
                return Err(codes::percent_floor());
            }
        }
        let marketable = match req.order_type {
            OrderType::Market => true,
            OrderType::Limit => match req.side {
                Side::Buy => c.price >= self.cur.price,
                Side::Sell => c.price <= self.cur.price,
            },
            _ => false,
        };
        if req.order_type == OrderType::Limit {
            match c.tif {
                TimeInForce::Gtx if marketable => return Err(codes::gtx_reject()),
                TimeInForce::Fok if !marketable => return Err(codes::fok_reject()),
                _ => {}
            }
        }
        if !conditional && !reduce_only && !hedge_close {
            let opening = c.qty - self.reducible(req.side, ps).min(c.qty);
            let px = if req.order_type == OrderType::Market {
                self.cur.price
            } else {
                c.price
            };
            if opening > 0 && !self.margin_ok(px, opening) {
                return Err(codes::margin());
            }
        }
        // accepted: from here on, state changes
        let id = self.next_order_id();
        let now = TimeMs(self.cur.time);
        let client_id = req
            .client_order_id
            .clone()
            .unwrap_or_else(|| format!("sim_{}", id.0).into());
        let k = self.push_order(Order {
            id,
            client_id,
            side: req.side,
            otype: req.order_type,
            orig_type: req.order_type,
            tif: c.tif,
            qty: c.qty,
            price: c.price,
            stop: c.trigger,
            reduce_only,
            close_position: close,
            ps,
            working_type: req.working_type.unwrap_or_default(),
            status: OrderStatus::New,
            executed: 0,
            cum_quote: Decimal::ZERO,
            avg: Decimal::ZERO,
            time: now,
            update_time: now,
            from_algo: None,
            armed: conditional,
            trailing: c.trailing,
            shown: Shown::default(),
        });
        self.stats.orders += 1;
        self.version += 1;
        self.emit_new_order(k);
        // the acknowledgement as accepted (what an ACK answers); a RESULT answer is read after
        // the fill below instead, so it is not built twice
        let result = req.resp_type == Some(RespType::Result);
        let ack = (!result).then(|| self.order_info(k));
        if conditional {
            if c.trailing.is_some() {
                self.trailing_count += 1;
            }
            let on_mark = self.on_mark_path(req.working_type, &c);
            let up = fires_up(req.order_type, req.side);
            self.add_trig(Trig {
                up,
                ticks: if c.trailing.is_none() {
                    c.trigger
                } else if up {
                    i64::MAX
                } else {
                    i64::MIN
                },
                what: TrigRef::Legacy(k as u32),
                mark: on_mark,
            });
            // a trailing stop tracks from the price at placement, also mid-bar
            self.update_trailing();
            self.warn_stop_beyond_liquidation(req.order_type, req.side, ps, c.trigger);
        } else if marketable {
            let px = if req.order_type == OrderType::Market {
                self.slipped(req.side)
            } else {
                self.cur.price
            };
            self.fill_order(k, px, false);
            if !self.orders[k].status.is_terminal() {
                self.expire_order(
                    k,
                    if req.order_type == OrderType::Market {
                        ExpiryReason::MarketRemainder
                    } else {
                        ExpiryReason::IocRemainder
                    },
                );
            }
        } else if c.tif == TimeInForce::Ioc {
            self.expire_order(k, ExpiryReason::IocRemainder);
        } else {
            self.add_limit_trig(k);
        }
        match ack {
            Some(ack) => Ok(ack),
            None => Ok(self.order_info(k)),
        }
    }

    /// Market fill price at the current path price with adverse slippage.
    pub(crate) fn slipped(&self, side: Side) -> i64 {
        (self.cur.price + side.sign() * self.cfg.slippage_ticks).max(1)
    }

    pub(crate) fn add_limit_trig(&mut self, k: usize) {
        let o = &self.orders[k];
        let through = i64::from(self.cfg.limit_fill == LimitFill::Through);
        let (up, ticks) = match o.side {
            Side::Sell => (true, o.price + through),
            Side::Buy => (false, o.price - through),
        };
        self.add_trig(Trig {
            up,
            ticks,
            what: TrigRef::Limit(k as u32),
            mark: false,
        });
    }

    /// Fills what order `k` may fill at `price` ticks (reduce-only clipped), emits TRADE.
    pub(crate) fn fill_order(&mut self, k: usize, price: i64, maker: bool) {
        let o = &self.orders[k];
        let (side, ps) = (o.side, o.ps);
        let remaining = if o.close_position {
            self.reducible(side, ps)
        } else {
            o.qty - o.executed
        };
        let reduce = o.reduce_only || o.close_position;
        let old = self.pos[ps_idx(ps)].amt;
        let rate = self.fill_rate(maker, AccountReason::Order);
        let f = self.book_fill(side, ps, remaining, price, reduce, rate);
        if f.filled == 0 {
            // nothing left to reduce: knocked out (§2.2 er=4), never left working without a trigger
            self.expire_order(k, ExpiryReason::ReduceOnly);
            return;
        }
        // the fill's price, quantity and notional as the account booked them: `price` ticks and
        // `f.filled` steps (nothing here converts them again)
        let (px, last_qty) = (f.price, f.qty);
        let o = &mut self.orders[k];
        o.executed += f.filled;
        o.cum_quote += f.notional;
        let (cum_quote, executed) = (o.cum_quote, o.executed);
        self.orders[k].avg = avg(cum_quote, self.qty_of(executed));
        let o = &mut self.orders[k];
        if o.close_position {
            o.qty = o.qty.max(o.executed);
            let q = o.qty;
            self.orders[k].shown.qty = self.qty_of(q);
        }
        let o = &mut self.orders[k];
        o.status = if o.executed >= o.qty {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        o.update_time = TimeMs(self.cur.time);
        if o.status == OrderStatus::Filled {
            self.remove_trig(TrigRef::Limit(k as u32));
        }
        self.emit_order(
            k,
            ExecType::Trade,
            last_qty,
            px,
            f.fee,
            maker,
            f.realized,
            ExpiryReason::None,
        );
        // TRADE → ACCOUNT_UPDATE → expiries, as Binance sends them
        self.emit_fill_account(ps, AccountReason::Order, &f);
        // position-bound expiries run after the filled order's own state is final, so they never
        // expire the order that just closed the position
        self.after_position_change(ps, old);
        self.settle_child(k);
    }

    /// A triggered algo order is FINISHED once its child is filled, cancelled or expired (§6).
    pub(crate) fn settle_child(&mut self, c: usize) {
        let Some(aid) = self.orders[c].from_algo else {
            return;
        };
        if !self.orders[c].status.is_terminal() {
            return;
        }
        let k = (aid.0 - ALGO_ID_BASE) as usize;
        if self.algos[k].status == AlgoStatus::Triggered {
            self.finish_triggered_algo(k, c);
        }
    }

    pub(crate) fn expire_order(&mut self, k: usize, er: ExpiryReason) {
        if self.orders[k].status.is_terminal() {
            return;
        }
        self.end_order(k, OrderStatus::Expired, ExecType::Expired, er);
    }

    /// Ends a live order (cancelled or expired): status, triggers, version, the
    /// ORDER_TRADE_UPDATE, and the algo parent of a child order.
    fn end_order(&mut self, k: usize, status: OrderStatus, x: ExecType, er: ExpiryReason) {
        let o = &mut self.orders[k];
        o.status = status;
        o.update_time = TimeMs(self.cur.time);
        o.armed = false;
        if o.trailing.is_some() {
            self.trailing_count -= 1;
        }
        self.remove_trig(TrigRef::Limit(k as u32));
        self.remove_trig(TrigRef::Legacy(k as u32));
        self.version += 1;
        self.emit_order(
            k,
            x,
            Decimal::ZERO,
            Decimal::ZERO,
            Decimal::ZERO,
            false,
            Decimal::ZERO,
            er,
        );
        self.settle_child(k);
    }

    /// ORDER_TRADE_UPDATE `x=NEW` for order `k` (accepted, or a triggered algo order's child).
    pub(crate) fn emit_new_order(&mut self, k: usize) {
        self.emit_order(
            k,
            ExecType::New,
            Decimal::ZERO,
            Decimal::ZERO,
            Decimal::ZERO,
            false,
            Decimal::ZERO,
            ExpiryReason::None,
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn emit_order(
        &mut self,
        k: usize,
        x: ExecType,
        last_qty: Decimal,
        last_price: Decimal,
        fee: Decimal,
        maker: bool,
        rp: Decimal,
        er: ExpiryReason,
    ) {
        let cum_qty = self.qty_of(self.orders[k].executed);
        let o = &self.orders[k];
        debug_assert_eq!(o.avg, avg(o.cum_quote, cum_qty), "order {k}'s kept average");
        let ev = OrderUpdate {
            symbol: self.spec.symbol.clone(),
            client_order_id: o.client_id.clone(),
            side: o.side,
            order_type: o.otype,
            orig_type: o.orig_type,
            time_in_force: o.tif,
            orig_qty: o.shown.qty,
            price: o.shown.price,
            avg_price: o.avg,
            stop_price: o.shown.stop,
            exec_type: x,
            status: o.status,
            order_id: o.id,
            last_qty,
            cum_qty,
            last_price,
            commission: fee,
            is_maker: maker,
            reduce_only: o.reduce_only,
            position_side: o.ps,
            close_position: o.close_position,
            realized_pnl: rp,
            expiry_reason: er,
            from_algo: o.from_algo,
        };
        self.emit(Event::OrderTradeUpdate(ev));
    }

    pub(crate) fn order_info(&self, k: usize) -> OrderInfo {
        let executed_qty = self.qty_of(self.orders[k].executed);
        let o = &self.orders[k];
        OrderInfo {
            order_id: o.id,
            client_order_id: o.client_id.clone(),
            symbol: self.spec.symbol.clone(),
            status: o.status,
            order_type: o.otype,
            orig_type: o.orig_type,
            side: o.side,
            position_side: o.ps,
            price: o.shown.price,
            avg_price: o.avg,
            stop_price: o.shown.stop,
            orig_qty: o.shown.qty,
            executed_qty,
            cum_quote: o.cum_quote,
            reduce_only: o.reduce_only,
            close_position: o.close_position,
            time_in_force: o.tif,
            working_type: o.working_type,
            time: o.time,
            update_time: o.update_time,
        }
    }

    pub(crate) fn algo_info(&self, k: usize) -> AlgoInfo {
        let a = &self.algos[k];
        AlgoInfo {
            algo_id: a.id,
            client_algo_id: a.client_id.clone(),
            symbol: self.spec.symbol.clone(),
            order_type: a.otype,
            side: a.side,
            position_side: a.ps,
            quantity: a.shown.qty,
            algo_status: a.status,
            actual_order_id: a.actual_order_id,
            actual_price: a.actual_price,
            trigger_price: a.shown.stop,
            price: a.shown.price,
            close_position: a.close_position,
            reduce_only: a.reduce_only,
            time_in_force: a.tif,
            working_type: a.working_type,
            create_time: a.create_time,
            update_time: a.update_time,
            trigger_time: a.trigger_time,
        }
    }

    /// POST /fapi/v1/algoOrder at the current time.
    pub fn new_algo_order(&mut self, req: &NewAlgoOrder) -> Result<AlgoInfo, ApiError> {
        match self.new_algo_inner(req) {
            Ok(info) => Ok(info),
            Err(e) => self.reject(e),
        }
    }

    fn new_algo_inner(&mut self, req: &NewAlgoOrder) -> Result<AlgoInfo, ApiError> {
        if self.cfg.api == ApiMode::Legacy {
            return Err(codes::no_algo_endpoint());
        }
        self.check_symbol(&req.symbol)?;
        let ps = self.check_mode(req.position_side, req.reduce_only)?;
        if !req.order_type.is_conditional() {
            return Err(ApiError::new(-1116, "Invalid orderType."));
        }
        let c = self.check_params(
            req.order_type,
            req.side,
            ps,
            req.quantity,
            req.price,
            req.trigger_price,
            "triggerPrice",
            req.time_in_force,
            req.reduce_only,
            req.close_position,
            req.callback_rate,
            req.activate_price,
        )?;
        if let Some(cid) = &req.client_algo_id {
            if self.open_algo_iter().any(|(_, a)| &a.client_id == cid) {
                return Err(codes::duplicate_client_id());
            }
        }
        // GTE_GTC algo orders depend on the position only since the algo migration (-4509)
        if c.tif == TimeInForce::GteGtc && self.pos[ps_idx(ps)].amt == 0 {
            return Err(codes::gte_without_position(true));
        }
        let open = self.open_algo_iter().count();
        if open >= 200 {
            return Err(ApiError::new(-4045, "Reach max stop order limit."));
        }
        self.check_immediate_trigger(req.order_type, req.side, c.trigger, req.working_type)?;
        let reduce_only = req.reduce_only == Some(true);
        let close = req.close_position == Some(true);
        let hedge_close = ps != PositionSide::Both && Self::is_closing_side(req.side, ps);
        let ref_price = if req.price.is_some() {
            c.price
        } else if c.trailing.is_some() {
            self.trailing_ref_price(&c)
        } else {
            c.trigger
        };
        self.check_min_notional(ref_price, c.qty, reduce_only || close || hedge_close)?;
        let id = AlgoId(ALGO_ID_BASE + self.algos.len() as u64);
        let now = TimeMs(self.cur.time);
        let shown = self.shown(c.qty, c.price, c.trigger);
        if self.algos.at_chunk_start() {
            self.retire();
        }
        self.algos.push(Algo {
            id,
            client_id: req
                .client_algo_id
                .clone()
                .unwrap_or_else(|| format!("simalgo_{}", id.0).into()),
            side: req.side,
            otype: req.order_type,
            tif: c.tif,
            qty: c.qty,
            price: c.price,
            trigger: c.trigger,
            reduce_only,
            close_position: close,
            ps: c.ps,
            working_type: req.working_type.unwrap_or_default(),
            status: AlgoStatus::New,
            actual_order_id: None,
            actual_price: Decimal::ZERO,
            create_time: now,
            update_time: now,
            trigger_time: TimeMs(0),
            trailing: c.trailing,
            shown,
        });
        let k = self.algos.len() - 1;
        self.compact_open();
        self.open_a.push(k as u32);
        if c.trailing.is_some() {
            self.trailing_count += 1;
        }
        let on_mark = self.on_mark_path(req.working_type, &c);
        self.add_trig(Trig {
            up: fires_up(req.order_type, req.side),
            ticks: if c.trailing.is_some() {
                if fires_up(req.order_type, req.side) {
                    i64::MAX
                } else {
                    i64::MIN
                }
            } else {
                c.trigger
            },
            what: TrigRef::Algo(k as u32),
            mark: on_mark,
        });
        // a trailing stop tracks from the price at placement, also mid-bar
        self.update_trailing();
        self.stats.orders += 1;
        self.version += 1;
        self.emit_algo_update(k, "");
        self.warn_stop_beyond_liquidation(req.order_type, req.side, c.ps, c.trigger);
        Ok(self.algo_info(k))
    }

    /// True when a conditional of this working type watches the mark path: MARK_PRICE with mark
    /// klines given, trailing stops excepted (they track the trade price).
    fn on_mark_path(&self, wt: Option<WorkingType>, c: &Checked) -> bool {
        wt == Some(WorkingType::MarkPrice) && self.mark.is_some() && c.trailing.is_none()
    }

    /// `Warning` "stop-beyond-liquidation" when a STOP/STOP_MARKET closing the position of `ps`
    /// triggers beyond that position's liquidation price (below it for a long, above for a
    /// short): the liquidation comes first on any path that reaches the stop.
    fn warn_stop_beyond_liquidation(
        &mut self,
        otype: OrderType,
        side: Side,
        ps: PositionSide,
        trigger: i64,
    ) {
        if !matches!(otype, OrderType::Stop | OrderType::StopMarket) {
            return;
        }
        let amt = self.pos[ps_idx(ps)].amt;
        // the stop must close this position: SELL for a long, BUY for a short
        if amt == 0 || amt.signum() == side.sign() {
            return;
        }
        let Some(lp) = self.liquidation_price(ps) else {
            return;
        };
        let stop = self.spec.price(trigger);
        let beyond = if amt > 0 { stop < lp } else { stop > lp };
        if beyond {
            let text = format!(
                "{} {} stop {} lies beyond the {} position's liquidation price {} (entry {}, {}x {})",
                otype.as_str(),
                side.as_str(),
                stop,
                if amt > 0 { "long" } else { "short" },
                lp,
                self.pos[ps_idx(ps)].entry.normalize(),
                self.cfg.leverage,
                match self.cfg.margin_mode {
                    MarginMode::Cross => "cross",
                    MarginMode::Isolated => "isolated",
                }
            );
            self.emit(Event::Warning {
                code: "stop-beyond-liquidation".into(),
                text,
            });
        }
    }

    /// DELETE /fapi/v1/order: -2011 for unknown or finished orders (and for algoIds, §0).
    pub fn cancel_order(&mut self, symbol: &str, r: &OrderRef) -> Result<OrderInfo, ApiError> {
        let res = (|| {
            self.check_symbol(symbol)?;
            let k = self.order_index(r).ok_or_else(codes::unknown_order)?;
            if self.orders[k].status.is_terminal() {
                return Err(codes::unknown_order());
            }
            Ok(k)
        })();
        let k = match res {
            Ok(k) => k,
            Err(e) => return self.reject(e),
        };
        self.cancel_order_at(k);
        Ok(self.order_info(k))
    }

    /// Cancels live order `k` (book index): `x=CANCELED X=CANCELED`, as `DELETE` does.
    pub(crate) fn cancel_order_at(&mut self, k: usize) {
        self.end_order(
            k,
            OrderStatus::Canceled,
            ExecType::Canceled,
            ExpiryReason::None,
        );
    }

    /// DELETE /fapi/v1/algoOrder: -2011 for unknown or no longer open algo orders.
    pub fn cancel_algo_order(&mut self, symbol: &str, r: &AlgoRef) -> Result<AlgoInfo, ApiError> {
        let res = (|| {
            if self.cfg.api == ApiMode::Legacy {
                return Err(codes::no_algo_endpoint());
            }
            self.check_symbol(symbol)?;
            let k = self.algo_index(r).ok_or_else(codes::unknown_order)?;
            if !self.algos[k].status.is_open() {
                return Err(codes::unknown_order());
            }
            Ok(k)
        })();
        match res {
            Ok(k) => {
                self.finish_algo(k, AlgoStatus::Canceled, "");
                Ok(self.algo_info(k))
            }
            Err(e) => self.reject(e),
        }
    }

    /// GET /fapi/v1/order: -2013 for unknown orders (and for algoIds), and for those Binance no
    /// longer keeps ([`retention`]).
    pub fn query_order(&mut self, symbol: &str, r: &OrderRef) -> Result<OrderInfo, ApiError> {
        if let Err(e) = self.check_symbol(symbol) {
            return self.reject(e);
        }
        let now = self.cur.time;
        match self.order_index(r) {
            Some(k) if !self.orders[k].query_gone(now) => Ok(self.order_info(k)),
            _ => self.reject(codes::no_such_order()),
        }
    }

    /// GET /fapi/v1/algoOrder.
    pub fn query_algo_order(&mut self, symbol: &str, r: &AlgoRef) -> Result<AlgoInfo, ApiError> {
        if self.cfg.api == ApiMode::Legacy {
            return self.reject(codes::no_algo_endpoint());
        }
        if let Err(e) = self.check_symbol(symbol) {
            return self.reject(e);
        }
        let now = self.cur.time;
        match self.algo_index(r) {
            Some(k) if !self.algos[k].query_gone(now) => Ok(self.algo_info(k)),
            _ => self.reject(codes::no_such_order()),
        }
    }

    /// GET /fapi/v1/openOrders (regular and, in legacy mode, untriggered conditionals).
    pub fn open_orders(&mut self, symbol: &str) -> Result<Vec<OrderInfo>, ApiError> {
        if let Err(e) = self.check_symbol(symbol) {
            return self.reject(e);
        }
        self.compact_open();
        Ok(self
            .open_order_iter()
            .map(|(k, _)| self.order_info(k))
            .collect())
    }

    /// Number of open regular orders and open algo orders (no allocation).
    pub fn open_counts(&self) -> (usize, usize) {
        (
            self.open_order_iter().count(),
            self.open_algo_iter().count(),
        )
    }

    /// GET /fapi/v1/openAlgoOrders.
    pub fn open_algo_orders(&mut self, symbol: &str) -> Result<Vec<AlgoInfo>, ApiError> {
        if self.cfg.api == ApiMode::Legacy {
            return self.reject(codes::no_algo_endpoint());
        }
        if let Err(e) = self.check_symbol(symbol) {
            return self.reject(e);
        }
        self.compact_open();
        Ok(self
            .open_algo_iter()
            .map(|(k, _)| self.algo_info(k))
            .collect())
    }

    /// GET /fapi/v1/openAlgoOrders, ids only: the same checks and side effects as
    /// [`MockExchange::open_algo_orders`], without building the answers.
    pub fn open_algo_ids(&mut self, symbol: &str) -> Result<Vec<AlgoId>, ApiError> {
        if self.cfg.api == ApiMode::Legacy {
            return self.reject(codes::no_algo_endpoint());
        }
        if let Err(e) = self.check_symbol(symbol) {
            return self.reject(e);
        }
        self.compact_open();
        Ok(self.open_algo_iter().map(|(_, a)| a.id).collect())
    }

    /// DELETE /fapi/v1/allOpenOrders.
    pub fn cancel_all_orders(&mut self, symbol: &str) -> Result<(), ApiError> {
        if let Err(e) = self.check_symbol(symbol) {
            return self.reject(e);
        }
        self.compact_open();
        for j in 0..self.open_o.len() {
            let k = self.open_o[j] as usize;
            if !self.orders[k].status.is_terminal() {
                let id = self.orders[k].id.0;
                let _ = self.cancel_order(symbol, &OrderRef::Id(id));
            }
        }
        Ok(())
    }

    /// DELETE /fapi/v1/algoOpenOrders.
    pub fn cancel_all_algo_orders(&mut self, symbol: &str) -> Result<(), ApiError> {
        if self.cfg.api == ApiMode::Legacy {
            return self.reject(codes::no_algo_endpoint());
        }
        if let Err(e) = self.check_symbol(symbol) {
            return self.reject(e);
        }
        self.compact_open();
        for j in 0..self.open_a.len() {
            let k = self.open_a[j] as usize;
            if self.algos[k].status.is_open() {
                self.finish_algo(k, AlgoStatus::Canceled, "");
            }
        }
        Ok(())
    }

    /// GET /fapi/v2/positionRisk: one row per position side of the mode.
    pub fn position_risk(&mut self, symbol: &str) -> Result<Vec<PositionInfo>, ApiError> {
        if let Err(e) = self.check_symbol(symbol) {
            return self.reject(e);
        }
        let sides: &[PositionSide] = match self.cfg.position_mode {
            PositionMode::OneWay => &[PositionSide::Both],
            PositionMode::Hedge => &[PositionSide::Long, PositionSide::Short],
        };
        let mark = self.mark_price();
        Ok(sides
            .iter()
            .map(|&ps| {
                let p = &self.pos[ps_idx(ps)];
                let amt = self.spec.qty(p.amt);
                PositionInfo {
                    symbol: self.spec.symbol.clone(),
                    position_side: ps,
                    position_amt: amt,
                    entry_price: p.entry,
                    mark_price: mark,
                    unrealized_profit: if p.amt == 0 {
                        Decimal::ZERO
                    } else {
                        (mark - p.entry) * amt
                    },
                    liquidation_price: self.liquidation_price(ps).unwrap_or(Decimal::ZERO),
                    leverage: self.cfg.leverage,
                }
            })
            .collect())
    }

    /// GET /fapi/v1/ticker/price.
    pub fn ticker_price(&mut self, symbol: &str) -> Result<Decimal, ApiError> {
        if let Err(e) = self.check_symbol(symbol) {
            return self.reject(e);
        }
        Ok(self.spec.price(self.cur.price))
    }
}

/// An order's average price (`fastdec::avg`: the Decimal formula, in integers where exact).
fn avg(cum_quote: Decimal, qty: Decimal) -> Decimal {
    super::fastdec::avg(cum_quote, qty)
}
