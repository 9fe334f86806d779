//! Walking the price path: bar by bar, segment by segment, firing triggers and limits in the
//! order the path reaches them; funding at its timestamps; equity samples for charts.
//!
//! Hot loop contract: a bar that cannot touch any resting trigger (`high < up_min` and
//! `low > down_max`, no trailing stop, no funding due inside it) costs three integer compares and
//! touches one 40-byte `BarTicks` (`skip_quiet_bars`); one that also ends an equity-sample period
//! emits the sample without walking its path. Everything else takes the slow path.

use super::intrabar::{self, price_at, time_at};
use super::*;
use crate::events::{AccountReason, Event, ExecType};

/// `Cursor::seg` between two sub-bars of a `refine` bar: the next sub-bar's open jump is due.
pub(crate) const SUB_BAR_PENDING: u8 = 4;

impl MockExchange {
    pub(crate) fn add_trig(&mut self, t: Trig) {
        self.trigs.push(t);
        self.recompute_bounds();
    }

    pub(crate) fn remove_trig(&mut self, what: TrigRef) {
        if let Some(i) = self.trigs.iter().position(|t| t.what == what) {
            self.trigs.remove(i);
            self.recompute_bounds();
        }
    }

    fn recompute_bounds(&mut self) {
        let mut up = i64::MAX;
        let mut down = i64::MIN;
        for t in &self.trigs {
            if t.up {
                up = up.min(t.ticks);
            } else {
                down = down.max(t.ticks);
            }
        }
        if let Some(l) = self.liq_ticks() {
            if l.0 {
                up = up.min(l.1);
            } else {
                down = down.max(l.1);
            }
        }
        self.up_min = up;
        self.down_max = down;
    }

    /// Liquidation trigger of the largest position: (fires_up, ticks). Only when enabled.
    fn liq_ticks(&self) -> Option<(bool, i64)> {
        None
    }

    /// Liquidation price of a position side, if it has one (§5, cross margin, one position).
    pub fn liquidation_price(&self, ps: PositionSide) -> Option<Decimal> {
        let p = &self.pos[ps_idx(ps)];
        if p.amt == 0 {
            return None;
        }
        let q = self.spec.qty(p.amt.abs());
        let side = Decimal::from(p.amt.signum());
        let mmr = self.spec.maint_margin_ratio;
        let wb = match self.cfg.margin_mode {
            MarginMode::Cross => self.wallet,
            MarginMode::Isolated => p.entry * q / Decimal::from(self.cfg.leverage.max(1)),
        };
        let den = q * mmr - side * q;
        if den.is_zero() {
            return None;
        }
        let lp = (wb - side * q * p.entry) / den;
        (lp > Decimal::ZERO).then(|| lp.round_dp(8))
    }

    fn net_exposure(&self) -> i64 {
        let mut best = 0i64;
        let mut sign = 0i64;
        for p in &self.pos {
            if p.amt.abs() > best {
                best = p.amt.abs();
                sign = p.amt.signum();
            }
        }
        sign
    }

    /// Advances the market to time `t` (inclusive), or stops earlier right after the first step
    /// that emitted events, so the caller can deliver them before the market moves on.
    pub fn advance_to(&mut self, t: TimeMs) {
        let t = t.0;
        loop {
            if !self.out.is_empty() {
                return;
            }
            if self.cur.seg != 0 && self.funding_due_now() {
                // funding at exactly the cursor (a bar open reached by the open jump): positions
                // open at that timestamp pay before the caller can act at `t`
                continue;
            }
            if self.cur.time >= t {
                return;
            }
            if self.cur.seg == SUB_BAR_PENDING {
                // refine: the next sub-bar opens at its own time, never past `t`
                let sb = self.sub_bars[self.cur.sub + 1];
                if sb.t > t {
                    self.cur.time = t;
                    return;
                }
                self.start_sub_bar();
                continue;
            }
            if self.cur.seg == 0 {
                self.skip_quiet_bars(t);
                let Some(&bar) = self.bars.get(self.cur.bar) else {
                    self.cur.time = t;
                    return;
                };
                if bar.t > t {
                    self.cur.time = t;
                    return;
                }
                let end = bar.t + self.interval_ms - 1;
                let funding_due = self
                    .funding
                    .get(self.next_funding)
                    .is_some_and(|f| f.0 <= end);
                if end <= t
                    && bar.h < self.up_min
                    && bar.l > self.down_max
                    && self.trailing_count == 0
                    && !funding_due
                {
                    // a quiet bar that ends a sample period: nothing can happen inside it
                    self.cur.bar += 1;
                    self.cur.price = bar.c;
                    self.cur.time = end;
                    self.stats.bars += 1;
                    self.sample_if_due(bar.c);
                    continue;
                }
                self.start_bar(bar);
                continue;
            }
            self.step_segment(t);
        }
    }

    /// The fast path: walks over every bar from the cursor that cannot touch a resting trigger
    /// (`high < up_min`, `low > down_max`, no trailing stop) and ends by `t`, before the next
    /// funding time and before the next equity sample. Three compares per bar.
    #[inline]
    fn skip_quiet_bars(&mut self, t: i64) {
        if self.trailing_count != 0 {
            return;
        }
        let funding = self
            .funding
            .get(self.next_funding)
            .map_or(i64::MAX, |f| f.0);
        // a bar opening at `b.t` ends at `b.t + d − 1`: it must end ≤ t, < funding, < next sample
        let last_end = t.min(funding - 1).min(self.next_sample - 1);
        let t_max = last_end.saturating_sub(self.interval_ms - 1);
        let (up, down) = (self.up_min, self.down_max);
        let start = self.cur.bar;
        let rest = self.bars.get(start..).unwrap_or(&[]);
        let n = rest
            .iter()
            .position(|b| b.t > t_max || b.h >= up || b.l <= down)
            .unwrap_or(rest.len());
        if n > 0 {
            let last = rest[n - 1];
            self.cur.bar = start + n;
            self.cur.price = last.c;
            self.cur.time = last.t + self.interval_ms - 1;
            self.stats.bars += n as u64;
        }
    }

    /// Emits an equity sample if the cursor (a bar's end, close `close`) reached the next one.
    fn sample_if_due(&mut self, close: i64) {
        if self.cur.time >= self.next_sample {
            while self.next_sample <= self.cur.time {
                self.next_sample += self.sample_ms;
            }
            self.emit(Event::Equity {
                wallet: self.wallet,
                unrealized: self.unrealized(),
                price: self.spec.price(close),
            });
        }
    }

    /// Opens a bar on the slow path: picks its path, counts ambiguity, performs the open jump.
    fn start_bar(&mut self, bar: BarTicks) {
        let use_sub = self.cfg.intrabar == IntrabarPolicy::Refine && !self.sub_bars.is_empty();
        let path = if use_sub {
            let a = self.sub_bars.partition_point(|s| s.t < bar.t);
            let b = self
                .sub_bars
                .partition_point(|s| s.t < bar.t + self.interval_ms);
            if b > a {
                self.cur.sub = a;
                self.cur.sub_end = b;
                intrabar::path(
                    &self.sub_bars[a],
                    self.sub_interval_ms,
                    IntrabarPolicy::Ohlc,
                    0,
                )
            } else {
                self.cur.sub_end = 0;
                intrabar::path(&bar, self.interval_ms, IntrabarPolicy::Ohlc, 0)
            }
        } else {
            self.cur.sub_end = 0;
            intrabar::path(
                &bar,
                self.interval_ms,
                self.cfg.intrabar,
                self.net_exposure(),
            )
        };
        // Ambiguous: the bar reaches resting orders on both sides of its open, so the path
        // policy and not the bar decides which comes first.
        let up_hit = bar.h >= self.up_min && bar.o < self.up_min;
        let down_hit = bar.l <= self.down_max && bar.o > self.down_max;
        if up_hit && down_hit && !(use_sub && self.cur.sub_end > 0) {
            self.stats.ambiguous_bars += 1;
        }
        self.cur.path = path;
        self.cur.seg = 1;
        self.cur.time = bar.t;
        // the open jump: a gap fills at the open
        let from = self.cur.price;
        self.cur.price = path[0].1;
        self.update_trailing();
        self.fire_crossed(from, path[0].1);
    }

    /// Walks the current segment toward its end, bounded by `t`, the next funding time and the
    /// next sample; fires the nearest crossed trigger and stops there.
    fn step_segment(&mut self, t: i64) {
        let k = self.cur.seg as usize;
        let (ta, pa) = self.cur.path[k - 1];
        let (tb, pb) = self.cur.path[k];
        let mut limit = t.min(tb);
        if let Some(f) = self.funding.get(self.next_funding) {
            limit = limit.min(f.0.max(self.cur.time));
        }
        let target = price_at(ta, pa, tb, pb, limit);
        let up = pb > pa;
        // nearest trigger crossed between the cursor and the target
        let mut best: Option<(usize, i64)> = None;
        {
            for (i, tr) in self.trigs.iter().enumerate() {
                if tr.up != up && pb != pa {
                    continue;
                }
                let hit = if tr.up {
                    tr.ticks <= target
                } else {
                    tr.ticks >= target
                };
                if !hit {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some((_, b)) => {
                        if tr.up {
                            tr.ticks < b
                        } else {
                            tr.ticks > b
                        }
                    }
                };
                if better {
                    best = Some((i, tr.ticks));
                }
            }
        }
        if let Some((i, x)) = best {
            let tx = time_at(ta, pa, tb, pb, x).max(self.cur.time);
            self.cur.time = tx;
            let at = if (up && x < self.cur.price) || (!up && x > self.cur.price) {
                self.cur.price // already beyond (placed mid-bar at a worse price)
            } else {
                x
            };
            self.cur.price = at;
            let tr = self.trigs[i];
            self.fire(tr, at, false);
            return;
        }
        self.cur.time = limit;
        self.cur.price = target;
        self.funding_due_now();
        if self.cur.time >= tb {
            self.cur.price = pb;
            self.update_trailing();
            if k == 3 {
                self.end_path();
            } else {
                self.cur.seg += 1;
            }
        }
    }

    /// Applies the next funding rate if its time has come at the cursor; true if it did.
    fn funding_due_now(&mut self) -> bool {
        match self.funding.get(self.next_funding) {
            Some(&(ft, rate)) if ft <= self.cur.time => {
                self.next_funding += 1;
                self.apply_funding(rate);
                true
            }
            _ => false,
        }
    }

    /// Refine: the open jump into the next sub-bar, at the sub-bar's open time.
    fn start_sub_bar(&mut self) {
        self.cur.sub += 1;
        let sb = self.sub_bars[self.cur.sub];
        let from = self.cur.price;
        self.cur.path = intrabar::path(&sb, self.sub_interval_ms, IntrabarPolicy::Ohlc, 0);
        self.cur.seg = 1;
        self.cur.time = self.cur.time.max(sb.t);
        self.cur.price = sb.o;
        self.update_trailing();
        self.fire_crossed(from, sb.o);
    }

    /// End of a path: next sub-bar (refine, opened by the next step) or next bar; equity sample
    /// if due.
    fn end_path(&mut self) {
        if self.cur.sub_end > 0 && self.cur.sub + 1 < self.cur.sub_end {
            self.cur.seg = SUB_BAR_PENDING;
            return;
        }
        let bar = self.bars[self.cur.bar];
        self.cur.bar += 1;
        self.cur.seg = 0;
        self.cur.sub_end = 0;
        self.cur.time = bar.t + self.interval_ms - 1;
        self.cur.price = bar.c;
        self.stats.bars += 1;
        self.sample_if_due(bar.c);
    }

    /// Fires every trigger crossed by a jump from `from` to `to` (a gap): they fill at `to`.
    fn fire_crossed(&mut self, from: i64, to: i64) {
        loop {
            let up = to >= from;
            let mut best: Option<(usize, i64)> = None;
            for (i, tr) in self.trigs.iter().enumerate() {
                let hit = if tr.up {
                    tr.ticks <= to
                } else {
                    tr.ticks >= to
                };
                if !hit {
                    continue;
                }
                let key = if up { tr.ticks } else { -tr.ticks };
                if best.is_none_or(|(_, b)| key < b) {
                    best = Some((i, key));
                }
            }
            let Some((i, _)) = best else { return };
            let tr = self.trigs[i];
            self.fire(tr, to, true);
        }
    }

    /// Trailing stops: update the best price seen and move the trigger.
    pub(crate) fn update_trailing(&mut self) {
        if self.trailing_count == 0 {
            return;
        }
        let p = self.cur.price;
        let mut changed = false;
        for tr in self.trigs.iter_mut() {
            let st = match tr.what {
                TrigRef::Algo(k) => self.algos[k as usize].trailing.as_mut(),
                TrigRef::Legacy(k) => self.orders[k as usize].trailing.as_mut(),
                TrigRef::Limit(_) => None,
            };
            let Some(st) = st else { continue };
            // SELL trailing fires on the way down (tr.up == false): track the high
            if !tr.up {
                if !st.active && st.activate.is_some_and(|a| p >= a) {
                    st.active = true;
                    st.extreme = p;
                }
                st.extreme = st.extreme.max(p);
                if st.active {
                    tr.ticks = st.extreme * (10_000 - st.callback_bp) / 10_000;
                }
            } else {
                if !st.active && st.activate.is_some_and(|a| p <= a) {
                    st.active = true;
                    st.extreme = p;
                }
                st.extreme = st.extreme.min(p);
                if st.active {
                    // P ≥ lowest × (1 + cb) in whole ticks: the ceiling
                    let x = st.extreme * (10_000 + st.callback_bp);
                    tr.ticks = x.div_euclid(10_000) + i64::from(x.rem_euclid(10_000) != 0);
                }
            }
            changed = true;
        }
        if changed {
            self.recompute_bounds();
        }
    }

    /// A trigger fired at price `at` (ticks); `gap` when the price jumped there (a bar or
    /// sub-bar open) rather than moving through it.
    fn fire(&mut self, tr: Trig, at: i64, gap: bool) {
        self.remove_trig(tr.what);
        match tr.what {
            TrigRef::Limit(k) => {
                let k = k as usize;
                let o = &self.orders[k];
                // a gap fills at the better open, otherwise at the limit price (under `through`
                // the trigger sits a tick beyond the limit, the fill does not)
                let px = match (gap, o.side) {
                    (false, _) => o.price,
                    (true, Side::Sell) => o.price.max(at),
                    (true, Side::Buy) => o.price.min(at),
                };
                self.fill_order(k, px, true);
            }
            TrigRef::Legacy(k) => self.fire_legacy(k as usize, at),
            TrigRef::Algo(k) => self.fire_algo(k as usize, at),
        }
    }

    /// How much a triggered conditional of this shape may fill now; 0 means "Reduce Only reject".
    fn triggered_qty(
        &self,
        side: Side,
        ps: PositionSide,
        qty: i64,
        reduce_only: bool,
        close: bool,
    ) -> i64 {
        if close {
            return self.reducible(side, ps);
        }
        if reduce_only || (ps != PositionSide::Both && Self::is_closing_side(side, ps)) {
            return qty.min(self.reducible(side, ps));
        }
        qty
    }

    fn fire_algo(&mut self, k: usize, at: i64) {
        let now = TimeMs(self.cur.time);
        {
            let a = &mut self.algos[k];
            a.status = AlgoStatus::Triggering;
            a.trigger_time = now;
            a.update_time = now;
        }
        self.version += 1;
        let ev = self.algo_update(k, "");
        self.emit(Event::AlgoUpdate(ev));
        let a = self.algos[k].clone();
        let reducing = a.reduce_only
            || a.close_position
            || (a.ps != PositionSide::Both && Self::is_closing_side(a.side, a.ps));
        let q = self.triggered_qty(a.side, a.ps, a.qty, a.reduce_only, a.close_position);
        if q == 0 {
            // §2.4: fired with nothing to reduce: no child order.
            if a.trailing.is_some() {
                self.trailing_count -= 1;
            }
            self.algos[k].status = AlgoStatus::Rejected;
            let ev = self.algo_update(k, "Reduce Only reject");
            self.emit(Event::AlgoUpdate(ev));
            return;
        }
        if !reducing {
            let opening = q - self.reducible(a.side, a.ps).min(q);
            if opening > 0 && !self.margin_ok(at, opening) {
                if a.trailing.is_some() {
                    self.trailing_count -= 1;
                }
                self.algos[k].status = AlgoStatus::Rejected;
                let ev = self.algo_update(k, "Margin is insufficient");
                self.emit(Event::AlgoUpdate(ev));
                return;
            }
        }
        // child order with its own orderId
        let limit_child = matches!(a.otype, OrderType::Stop | OrderType::TakeProfit);
        let id = OrderId(ORDER_ID_BASE + self.orders.len() as u64);
        let c = self.push_order(Order {
            id,
            client_id: a.client_id.clone(),
            side: a.side,
            otype: if limit_child {
                OrderType::Limit
            } else {
                OrderType::Market
            },
            orig_type: a.otype,
            tif: if a.tif == TimeInForce::GteGtc {
                TimeInForce::GteGtc
            } else {
                TimeInForce::Gtc
            },
            qty: if a.close_position { q } else { a.qty },
            price: a.price,
            stop: a.trigger,
            reduce_only: a.reduce_only,
            close_position: a.close_position,
            ps: a.ps,
            working_type: a.working_type,
            status: OrderStatus::New,
            executed: 0,
            cum_quote: Decimal::ZERO,
            time: now,
            update_time: now,
            from_algo: Some(a.id),
            armed: false,
            trailing: None,
        });
        if a.trailing.is_some() {
            self.trailing_count -= 1;
        }
        {
            let al = &mut self.algos[k];
            al.status = AlgoStatus::Triggered;
            al.actual_order_id = Some(id);
        }
        // §6: ALGO_UPDATE TRIGGERED ai=<orderId>, then the child's ORDER_TRADE_UPDATE NEW/TRADE…,
        // then FINISHED (from `settle_child` once the child is done)
        let ev = self.algo_update(k, "");
        self.emit(Event::AlgoUpdate(ev));
        self.emit_order(
            c,
            ExecType::New,
            Decimal::ZERO,
            Decimal::ZERO,
            Decimal::ZERO,
            false,
            Decimal::ZERO,
            ExpiryReason::None,
        );
        self.run_child(c, at);
    }

    pub(crate) fn finish_triggered_algo(&mut self, k: usize, c: usize) {
        let o = &self.orders[c];
        let avg = if o.executed > 0 {
            (o.cum_quote / self.spec.qty(o.executed))
                .round_dp(8)
                .normalize()
        } else {
            Decimal::ZERO
        };
        let a = &mut self.algos[k];
        a.status = AlgoStatus::Finished;
        a.actual_price = avg;
        a.update_time = TimeMs(self.cur.time);
        let ev = self.algo_update(k, "");
        self.emit(Event::AlgoUpdate(ev));
    }

    /// Executes a just-triggered child (market or limit) at path price `at`.
    fn run_child(&mut self, c: usize, at: i64) {
        let o = &self.orders[c];
        let side = o.side;
        if o.otype == OrderType::Market {
            let px = (at + side.sign() * self.cfg.slippage_ticks).max(1);
            self.fill_order(c, px, false);
            if !self.orders[c].status.is_terminal() {
                self.expire_order(c, ExpiryReason::ReduceOnly);
            }
        } else {
            let marketable = match side {
                Side::Buy => o.price >= at,
                Side::Sell => o.price <= at,
            };
            if marketable {
                self.fill_order(c, at, false);
            } else {
                self.add_limit_trig(c);
            }
        }
    }

    fn fire_legacy(&mut self, k: usize, at: i64) {
        let o = self.orders[k].clone();
        let q = self.triggered_qty(o.side, o.ps, o.qty, o.reduce_only, o.close_position);
        if o.trailing.is_some() {
            self.trailing_count -= 1;
        }
        self.orders[k].trailing = None;
        self.version += 1;
        if q == 0 {
            // legacy era: the order ends EXPIRED, no fill (§2.4)
            self.orders[k].armed = false;
            self.expire_order(k, ExpiryReason::ReduceOnly);
            return;
        }
        // §6 legacy: EXPIRED er=8 for the stop, then the same orderId as MARKET/LIMIT, NEW, TRADE
        {
            let ord = &mut self.orders[k];
            ord.armed = false;
            ord.status = OrderStatus::Expired;
        }
        self.emit_order(
            k,
            ExecType::Expired,
            Decimal::ZERO,
            Decimal::ZERO,
            Decimal::ZERO,
            false,
            Decimal::ZERO,
            ExpiryReason::LegacyTriggered,
        );
        {
            let ord = &mut self.orders[k];
            ord.status = OrderStatus::New;
            ord.otype = if matches!(o.otype, OrderType::Stop | OrderType::TakeProfit) {
                OrderType::Limit
            } else {
                OrderType::Market
            };
            if ord.close_position {
                ord.qty = q;
            }
        }
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
        self.run_child(k, at);
    }

    /// Earliest bar-open time at or after the cursor at which anything could change without a
    /// new request (a trigger or limit reachable, a trailing stop, funding); `horizon` if none
    /// before it. Used to skip polling passes that provably see nothing new.
    pub fn next_change_time(&self, horizon: TimeMs) -> TimeMs {
        if self.cur.seg != 0 || self.trailing_count > 0 {
            return TimeMs(self.cur.time);
        }
        let funding = self
            .funding
            .get(self.next_funding)
            .map_or(i64::MAX, |f| f.0);
        let mut i = self.cur.bar;
        while let Some(b) = self.bars.get(i) {
            if b.t >= horizon.0 {
                return horizon;
            }
            if b.h >= self.up_min || b.l <= self.down_max || funding < b.t + self.interval_ms {
                return TimeMs(b.t);
            }
            i += 1;
        }
        horizon
    }

    /// Applies a liquidation (reserved for the margin model).
    pub(crate) fn _liquidate(&mut self, ps: PositionSide, at: i64) {
        let amt = self.pos[ps_idx(ps)].amt;
        if amt == 0 {
            return;
        }
        let side = if amt > 0 { Side::Sell } else { Side::Buy };
        self.book_fill(
            side,
            ps,
            amt.abs(),
            at,
            false,
            true,
            AccountReason::Liquidation,
        );
        self.after_position_change(ps, amt);
        self.stats.liquidations += 1;
    }
}
