//! Wallet and positions per (symbol, positionSide): fills, fees, realized PnL, funding.
//!
//! Every balance change goes through [`MockExchange::book_fill`] (its caller emits the
//! ACCOUNT_UPDATE: [`MockExchange::emit_fill_account`]) or funding, and each emits an
//! ACCOUNT_UPDATE carrying the wallet after the change and the amounts that changed it, so the
//! books can be re-added from events alone (invariant `books-balance`).

use super::{fastdec, ps_idx, MockExchange, TrigRef};
use crate::events::{AccountReason, AccountUpdate, AlgoUpdate, Event, PositionRow};
use crate::types::*;
use rust_decimal::Decimal;

/// What a fill did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillOutcome {
    /// Steps actually filled (a reduce-only fill is clipped to the position).
    pub filled: i64,
    /// Realized PnL booked.
    pub realized: Decimal,
    /// Fee charged.
    pub fee: Decimal,
    /// The fill's price, quantity and their product (zero when nothing filled): the filled
    /// order's update reports them, and converting or multiplying again would cost as much.
    pub price: Decimal,
    pub qty: Decimal,
    pub notional: Decimal,
}

impl MockExchange {
    /// How many steps an order of `side` on `ps` may fill when it may only reduce: 0 when there
    /// is nothing to reduce on that side (`binance-usdm-futures.md` §2.2, §2.3).
    pub(crate) fn reducible(&self, side: Side, ps: PositionSide) -> i64 {
        let amt = self.pos[ps_idx(ps)].amt;
        match ps {
            PositionSide::Both => {
                if amt != 0 && amt.signum() != side.sign() {
                    amt.abs()
                } else {
                    0
                }
            }
            PositionSide::Long => {
                if side == Side::Sell {
                    amt.max(0)
                } else {
                    0
                }
            }
            PositionSide::Short => {
                if side == Side::Buy {
                    (-amt).max(0)
                } else {
                    0
                }
            }
        }
    }

    /// True when an order of `side` on `ps` closes rather than opens (hedge closes, one-way
    /// against the position).
    pub(crate) fn is_closing_side(side: Side, ps: PositionSide) -> bool {
        matches!(
            (ps, side),
            (PositionSide::Long, Side::Sell) | (PositionSide::Short, Side::Buy)
        )
    }

    /// The fee rate of a fill: the symbol's liquidation fee, else maker or taker.
    #[inline]
    pub(crate) fn fill_rate(&self, maker: bool, reason: AccountReason) -> Decimal {
        if reason == AccountReason::Liquidation {
            self.spec.liquidation_fee
        } else if maker {
            self.cfg.maker_fee
        } else {
            self.cfg.taker_fee
        }
    }

    /// ACCOUNT_UPDATE of a fill booked by [`Self::book_fill`] on position side `ps`: the
    /// wallet and the position as the fill left them. An order's fill emits it after the order's
    /// ORDER_TRADE_UPDATE (as Binance sends them), built there rather than built first and
    /// moved behind the order's update: nothing in between changes the wallet, the position or
    /// the liquidation bounds it shows.
    pub(crate) fn emit_fill_account(
        &mut self,
        ps: PositionSide,
        reason: AccountReason,
        f: &FillOutcome,
    ) {
        let mut positions = self.rows_buf(1);
        positions.push(self.position_row(ps));
        self.emit(Event::AccountUpdate(AccountUpdate {
            reason,
            wallet_balance: self.wallet,
            balance_change: Decimal::ZERO,
            realized_pnl: f.realized,
            fee: f.fee,
            positions,
        }));
    }

    /// Books a fill of `qty` steps at `price` ticks with fee rate `rate` (`fill_rate`; an ADL
    /// charges none); `reduce` clips it to the position. Emits nothing: the caller emits the
    /// filled order's ORDER_TRADE_UPDATE, then the ACCOUNT_UPDATE ([`Self::emit_fill_account`],
    /// when something filled), then runs [`Self::after_position_change`] once the filled
    /// order's own state is final.
    pub(crate) fn book_fill(
        &mut self,
        side: Side,
        ps: PositionSide,
        qty: i64,
        price: i64,
        reduce: bool,
        rate: Decimal,
    ) -> FillOutcome {
        let mut qty = qty;
        if reduce || (ps != PositionSide::Both && Self::is_closing_side(side, ps)) {
            qty = qty.min(self.reducible(side, ps));
        }
        if qty <= 0 {
            return FillOutcome {
                filled: 0,
                realized: Decimal::ZERO,
                fee: Decimal::ZERO,
                price: Decimal::ZERO,
                qty: Decimal::ZERO,
                notional: Decimal::ZERO,
            };
        }
        let px = self.price_of(price);
        let q = self.qty_of(qty);
        // the notional, computed once: the fee, the entry average and the margin all start
        // from the same product (Decimal arithmetic is a pure function of its operands)
        let notional = fastdec::mul(px, q);
        let fee = fastdec::mul(notional, rate);
        let i = ps_idx(ps);
        let delta = side.sign() * qty;
        let old = self.pos[i].amt;
        let mut realized = Decimal::ZERO;
        let lev = Decimal::from(self.cfg.leverage.max(1));
        if old == 0 {
            // opening from flat: `old_q` is zero, so `entry × old_q` is a zero, and rust_decimal's
            // `0 + x` is `x` bit for bit (whatever the zero's scale or sign): the general formula
            // below is exactly `notional / q` here, without its multiply and two adds
            self.pos[i].entry = fastdec::entry_from_flat(px, q, notional);
            let added = notional / lev;
            let m = &mut self.pos[i].margin;
            *m = if m.is_zero() { added } else { *m + added };
        } else if old.signum() == delta.signum() {
            let old_q = self.qty_of(old.abs());
            let new_q = old_q + q;
            self.pos[i].entry = ((self.pos[i].entry * old_q + notional) / new_q).round_dp(12);
            // isolated margin: the added notional / leverage
            self.pos[i].margin += notional / lev;
        } else {
            let closing = qty.min(old.abs());
            let cq = self.qty_of(closing);
            realized = (px - self.pos[i].entry) * cq * Decimal::from(old.signum());
            // released pro rata; a close of the whole position (or a flip) sets the margin
            // below, so the share is only worked out for a partial close
            if closing < old.abs() {
                let m = self.pos[i].margin;
                self.pos[i].margin = m - m * Decimal::from(closing) / Decimal::from(old.abs());
            }
            if qty > old.abs() {
                self.pos[i].entry = px;
                self.pos[i].margin = px * self.spec.qty(qty - old.abs()) / lev;
            }
        }
        self.pos[i].amt = old + delta;
        if self.pos[i].amt == 0 {
            self.pos[i].entry = Decimal::ZERO;
            self.pos[i].margin = Decimal::ZERO;
        }
        self.pos[i].realized += realized;
        self.wallet += realized - fee;
        self.stats.fills += 1;
        self.version += 1;
        self.update_liq();
        FillOutcome {
            filled: qty,
            realized,
            fee,
            price: px,
            qty: q,
            notional,
        }
    }

    pub(crate) fn position_row(&self, ps: PositionSide) -> PositionRow {
        let p = &self.pos[ps_idx(ps)];
        PositionRow {
            symbol: self.spec.symbol.clone(),
            position_side: ps,
            amount: self.qty_of(p.amt),
            entry_price: p.entry,
            accumulated_realized: p.realized,
            liquidation_price: self.liquidation_price(ps),
        }
    }

    /// Position-bound expiries after a position changed from `old`: GTE_GTC orders of a position
    /// that reached zero (or flipped) expire (§2.5), resting reduce-only limits that would now
    /// open a reversed position expire with `er=4` (§2.2); hedge-mode closing orders are implicitly
    /// reduce-only (§2.3).
    pub(crate) fn after_position_change(&mut self, ps: PositionSide, old: i64) {
        let new = self.pos[ps_idx(ps)].amt;
        let ended = old != 0 && (new == 0 || new.signum() != old.signum());
        if new != 0 && new.signum() != old.signum() {
            // a new position (from flat, or the remainder of a flip)
            self.opened += 1;
            self.pos_pair[ps_idx(ps)] = self.opened;
        } else if new == 0 {
            self.pos_pair[ps_idx(ps)] = 0;
        }
        self.replan_for_exposure(old, new);
        self.compact_open();
        if ended {
            for j in 0..self.open_a.len() {
                let k = self.open_a[j] as usize;
                let a = &self.algos[k];
                if a.ps == ps && a.tif == TimeInForce::GteGtc && a.status.is_open() {
                    self.finish_algo(k, AlgoStatus::Expired, "");
                }
            }
            for j in 0..self.open_o.len() {
                let k = self.open_o[j] as usize;
                let o = &self.orders[k];
                if o.ps == ps && o.tif == TimeInForce::GteGtc && !o.status.is_terminal() {
                    self.expire_order(k, ExpiryReason::GteUnsatisfied);
                }
            }
        }
        for j in 0..self.open_o.len() {
            let k = self.open_o[j] as usize;
            let o = &self.orders[k];
            let reduce_only =
                o.reduce_only || (ps != PositionSide::Both && Self::is_closing_side(o.side, ps));
            if o.ps == ps
                && reduce_only
                && !o.armed
                && !o.status.is_terminal()
                && self.reducible(o.side, ps) == 0
            {
                self.expire_order(k, ExpiryReason::ReduceOnly);
            }
        }
    }

    /// Ends an algo order (cancelled, expired or rejected) and removes its trigger.
    pub(crate) fn finish_algo(&mut self, k: usize, status: AlgoStatus, reject_reason: &str) {
        self.remove_trig(TrigRef::Algo(k as u32));
        let now = TimeMs(self.cur.time);
        let a = &mut self.algos[k];
        a.status = status;
        a.update_time = now;
        if a.trailing.is_some() {
            self.trailing_count -= 1;
        }
        self.version += 1;
        self.emit_algo_update(k, reject_reason);
    }

    /// ALGO_UPDATE of algo order `k` as it stands, emitted now.
    pub(crate) fn emit_algo_update(&mut self, k: usize, reject_reason: &str) {
        let ev = self.algo_update(k, reject_reason);
        self.out
            .push((TimeMs(self.cur.time), Event::AlgoUpdate(ev)));
    }

    #[inline(always)]
    pub(crate) fn algo_update(&mut self, k: usize, reject_reason: &str) -> AlgoUpdate {
        let a = &self.algos[k];
        AlgoUpdate {
            symbol: self.spec.symbol.clone(),
            client_algo_id: a.client_id.clone(),
            algo_id: a.id,
            order_type: a.otype,
            side: a.side,
            position_side: a.ps,
            time_in_force: a.tif,
            quantity: a.shown.qty,
            status: a.status,
            actual_order_id: a.actual_order_id,
            trigger_price: a.shown.stop,
            price: a.shown.price,
            close_position: a.close_position,
            reduce_only: a.reduce_only,
            working_type: a.working_type,
            reject_reason: reject_reason.to_string(),
        }
    }

    /// Applies a funding rate at the current time to every open position, at the mark price
    /// at the funding time: notional × rate, longs pay when the rate is positive (§5). In isolated
    /// mode the amount also moves the position's isolated margin.
    pub(crate) fn apply_funding(&mut self, rate: Decimal) {
        let mark = self.spec.price(self.mark_ticks());
        let mut total = Decimal::ZERO;
        let mut sides = Vec::new();
        for ps in [PositionSide::Both, PositionSide::Long, PositionSide::Short] {
            let amt = self.pos[ps_idx(ps)].amt;
            if amt == 0 {
                continue;
            }
            let notional = self.spec.qty(amt) * mark; // signed
            let pay = notional * rate;
            total -= pay;
            self.pos[ps_idx(ps)].margin -= pay;
            sides.push(ps);
        }
        if sides.is_empty() {
            return;
        }
        self.wallet += total;
        self.update_liq();
        let rows = sides.into_iter().map(|ps| self.position_row(ps)).collect();
        self.emit(Event::AccountUpdate(AccountUpdate {
            reason: AccountReason::FundingFee,
            wallet_balance: self.wallet,
            balance_change: total,
            realized_pnl: Decimal::ZERO,
            fee: Decimal::ZERO,
            positions: rows,
        }));
    }

    /// Unrealized PnL of all positions at the mark price.
    pub fn unrealized(&self) -> Decimal {
        if self.pos.iter().all(|p| p.amt == 0) {
            return Decimal::ZERO;
        }
        let px = self.spec.price(self.mark_ticks());
        let mut u = Decimal::ZERO;
        for p in &self.pos {
            if p.amt != 0 {
                u += (px - p.entry) * self.spec.qty(p.amt);
            }
        }
        u
    }

    /// Initial margin in use: position notional at entry / leverage plus open opening LIMIT
    /// orders' notional / leverage.
    pub(crate) fn used_margin(&self) -> Decimal {
        let lev = Decimal::from(self.cfg.leverage.max(1));
        let mut m = Decimal::ZERO;
        for p in &self.pos {
            if p.amt != 0 {
                m += p.entry * self.spec.qty(p.amt.abs()) / lev;
            }
        }
        for (_, o) in self.open_order_iter() {
            if !o.armed && !o.reduce_only && o.otype == OrderType::Limit {
                m += self.notional_of(o.price, o.qty - o.executed) / lev;
            }
        }
        m
    }

    /// -2019 check for an order that may open `steps` at `ticks`.
    pub(crate) fn margin_ok(&self, ticks: i64, steps: i64) -> bool {
        let lev = self.cfg.leverage.max(1);
        let notional = self.notional_of(ticks, steps);
        // `need` is only compared (by value): an exact quotient in integers where there is one,
        // which is the library's quotient's value (the library divides exactly when it can)
        let need = fastdec::exact_quotient_value(notional, lev)
            .unwrap_or_else(|| notional / Decimal::from(lev));
        let (loss, used) = (self.unrealized().min(Decimal::ZERO), self.used_margin());
        // flat and nothing resting (every entry from flat): adding and taking away zeros moves
        // no value, and the comparison is of values
        if loss.is_zero() && used.is_zero() {
            return self.wallet >= need;
        }
        self.wallet + loss - used >= need
    }
}
