//! Walking the price path: bar by bar, segment by segment, firing triggers and limits in the
//! order the path reaches them; funding at its timestamps; equity samples for charts.
//!
//! Hot loop contract: a bar that cannot touch any resting trigger (`high < up_min` and
//! `low > down_max`, no trailing stop, no funding due inside it) costs three integer compares and
//! touches one 40-byte `BarTicks` (`skip_quiet_bars`); one that also ends an equity-sample period
//! emits the sample without walking its path. Everything else takes the slow path. Without mark
//! klines the liquidation bound is one more trade-path bound (`up_min`/`down_max`), so the loop
//! is unchanged; with mark klines and a mark-path trigger or liquidation bound resting, the bar's
//! precomputed mark range (`mark::MarkData::hl`) costs two more compares.
//!
//! Two paths per bar: the trade path (`Cursor::path`) and, with mark klines, the mark path
//! (`Cursor::mpath`, same times). Limit orders, CONTRACT_PRICE triggers and trailing stops watch
//! the trade path; MARK_PRICE triggers and the liquidation bounds watch the mark path; the
//! earliest crossing in time fires first (ties: trade, then mark, then liquidation).

use super::intrabar::{self, price_at, time_at};
use super::*;
use crate::events::{AccountReason, Event, ExecType};
use crate::exchange::account::FillOutcome;

/// `Cursor::seg` between two sub-bars of a `refine` bar: the next sub-bar's open jump is due.
pub(crate) const SUB_BAR_PENDING: u8 = 4;

impl MockExchange {
    pub(crate) fn add_trig(&mut self, t: Trig) {
        self.trigs.push(t);
        self.recompute_bounds();
        self.note_ambiguity();
    }

    /// Inside a bar (not a `refine` walk of sub-bars): counts the bar as ambiguous once resting
    /// orders (or liquidation bounds) that exist now lie on both sides of the current price within
    /// the bar's range, so the path policy and not the bar decides which comes first. Checked at
    /// the open and whenever an order is placed or the liquidation bounds move mid-bar.
    fn note_ambiguity(&mut self) {
        if self.cur.ambiguous || !(1..=3).contains(&self.cur.seg) || self.cur.sub_end > 0 {
            return;
        }
        let Some(&bar) = self.bars.get(self.cur.bar) else {
            return;
        };
        let p = self.cur.price;
        let mut up_hit = bar.h >= self.up_min && p < self.up_min;
        let mut down_hit = bar.l <= self.down_max && p > self.down_max;
        if let Some(&(lo, hi)) = self.mark.as_deref().and_then(|m| m.hl.get(self.cur.bar)) {
            let mo = self.mark_ticks();
            up_hit |= hi >= self.m_up_min && mo < self.m_up_min;
            down_hit |= lo <= self.m_down_max && mo > self.m_down_max;
        }
        if up_hit && down_hit {
            self.cur.ambiguous = true;
            self.stats.ambiguous_bars += 1;
        }
    }

    /// `pessimistic` / `optimistic`: after a position changed inside a bar, re-plans the rest of
    /// the bar for the exposure now when a position appeared, grew or the largest one changed
    /// sign (`intrabar::replan`). `old`/`new` are the changed position's amounts.
    pub(crate) fn replan_for_exposure(&mut self, old: i64, new: i64) {
        if !matches!(
            self.cfg.intrabar,
            IntrabarPolicy::Pessimistic | IntrabarPolicy::Optimistic
        ) || !(1..=3).contains(&self.cur.seg)
            || self.cur.sub_end > 0
        {
            return;
        }
        let e = self.net_exposure();
        let grew = new != 0 && (new.signum() != old.signum() || new.abs() > old.abs());
        if e == 0 || !(grew || e != self.cur.planned) {
            return;
        }
        let Some(&bar) = self.bars.get(self.cur.bar) else {
            return;
        };
        self.cur.planned = e;
        let seg = self.cur.seg;
        let seen = intrabar::visited(&self.cur.path, seg, self.cur.price, &bar, self.cur.visited);
        self.cur.visited = seen;
        if let Some(path) = intrabar::replan(
            &self.cur.path,
            seg,
            self.cur.time,
            self.cur.price,
            &bar,
            self.cfg.intrabar,
            e,
            seen,
        ) {
            self.forget_reach();
            self.cur.path = path;
            self.cur.mpath = self.mark_path(&path);
            if self.mark.is_some() {
                // the mark path keeps the mark where it is now
                self.cur.mpath[0].1 = self.cur.mark;
            }
            self.cur.seg = 1;
        }
    }

    pub(crate) fn remove_trig(&mut self, what: TrigRef) {
        if let Some(i) = self.trigs.iter().position(|t| t.what == what) {
            self.trigs.remove(i);
            self.recompute_bounds();
        }
    }

    /// The path or the bounds changed: the cached reach of the path is unknown again.
    #[inline]
    fn forget_reach(&mut self) {
        self.cur.reach = None;
        self.cur.quiet_until = i64::MIN;
    }

    /// Bar `i` (`b`) cannot reach a resting trigger or bound on either path: its range stays
    /// inside the bounds (the funding and trailing conditions are the caller's). The tests'
    /// reference for the scans that test it inline.
    #[cfg(test)]
    fn bar_in_bounds(&self, i: usize, b: &BarTicks) -> bool {
        b.h < self.up_min && b.l > self.down_max && self.mark_quiet(i)
    }

    pub(crate) fn recompute_bounds(&mut self) {
        let (mut up, mut down) = (i64::MAX, i64::MIN);
        let (mut mup, mut mdown) = (i64::MAX, i64::MIN);
        for t in &self.trigs {
            let (u, d) = if t.mark {
                (&mut mup, &mut mdown)
            } else {
                (&mut up, &mut down)
            };
            if t.up {
                *u = (*u).min(t.ticks);
            } else {
                *d = (*d).max(t.ticks);
            }
        }
        // liquidation runs on the mark path (the trade path without mark klines)
        let on_mark = self.mark.is_some();
        if let Some(l) = self.liq[0] {
            let d = if on_mark { &mut mdown } else { &mut down };
            *d = (*d).max(l.ticks);
        }
        if let Some(l) = self.liq[1] {
            let u = if on_mark { &mut mup } else { &mut up };
            *u = (*u).min(l.ticks);
        }
        self.up_min = up;
        self.down_max = down;
        self.forget_reach();
        self.quiet_bars.set((usize::MAX, 0));
        self.m_up_min = mup;
        self.m_down_max = mdown;
    }

    /// True when trade bar `i` cannot reach a mark-path trigger (always without any).
    #[inline]
    fn mark_quiet(&self, i: usize) -> bool {
        if self.m_up_min == i64::MAX && self.m_down_max == i64::MIN {
            return true;
        }
        match self.mark.as_deref().and_then(|m| m.hl.get(i)) {
            Some(&(lo, hi)) => hi < self.m_up_min && lo > self.m_down_max,
            None => true,
        }
    }

    /// Sets the cursor's mark from its time and trade price (mark klines only).
    #[inline]
    fn mark_sync(&mut self) {
        if let Some(m) = self.mark.as_deref() {
            self.cur.mark = m.at(self.cur.time, self.cur.price);
        }
    }

    /// The mark path for a trade path (the trade path itself without mark klines).
    fn mark_path(&self, path: &intrabar::Path) -> intrabar::Path {
        match self.mark.as_deref() {
            Some(m) => path.map(|(t, p)| (t, m.at(t, p))),
            None => *path,
        }
    }

    /// Recomputes the liquidation bounds after a change of positions or balances.
    pub(crate) fn update_liq(&mut self) {
        let new = self.liq_bounds();
        if new != self.liq {
            self.liq = new;
            self.recompute_bounds();
            self.note_ambiguity();
        }
    }

    fn leg(&self, ps: PositionSide) -> Option<margin::Leg> {
        let p = &self.pos[ps_idx(ps)];
        (p.amt != 0).then(|| margin::Leg {
            side: p.amt.signum(),
            q: Decimal::from(p.amt.abs()) * self.spec.step_size,
            ep: p.entry,
        })
    }

    /// Every open position as a solver leg (no allocation).
    fn legs(&self) -> ([margin::Leg; 3], usize) {
        let mut out = [margin::Leg::default(); 3];
        let mut n = 0;
        for ps in [PositionSide::Both, PositionSide::Long, PositionSide::Short] {
            if let Some(l) = self.leg(ps) {
                out[n] = l;
                n += 1;
            }
        }
        (out, n)
    }

    /// A down bound at price `x`: liquidated when the mark ≤ x.
    fn down_bound(&self, x: Decimal, ps: Option<PositionSide>) -> Liq {
        let q = x / self.spec.tick_size;
        Liq {
            ticks: i64::try_from(q.floor()).unwrap_or(i64::MAX),
            milli: i64::try_from((q * Decimal::ONE_THOUSAND).floor()).unwrap_or(i64::MAX),
            ps,
            price: x,
            shown: x.round_dp(8).normalize(),
        }
    }

    /// An up bound at price `x`: liquidated when the mark ≥ x.
    fn up_bound(&self, x: Decimal, ps: Option<PositionSide>) -> Liq {
        let q = x / self.spec.tick_size;
        Liq {
            ticks: i64::try_from(q.ceil()).unwrap_or(i64::MAX),
            milli: i64::try_from((q * Decimal::ONE_THOUSAND).ceil()).unwrap_or(i64::MAX),
            ps,
            price: x,
            shown: x.round_dp(8).normalize(),
        }
    }

    /// Liquidation bounds in ticks: [down, up] (see `margin`).
    fn liq_bounds(&self) -> [Option<Liq>; 2] {
        let mut out: [Option<Liq>; 2] = [None, None];
        if self.pos.iter().all(|p| p.amt == 0) {
            return out;
        }
        const SIDES: [PositionSide; 3] =
            [PositionSide::Both, PositionSide::Long, PositionSide::Short];
        match self.cfg.margin_mode {
            MarginMode::Cross => {
                let (legs, n) = self.legs();
                let (d, u) = margin::liquidation_bounds(self.wallet, &legs[..n], &self.table);
                out[0] = d.map(|x| self.down_bound(x, None));
                out[1] = u.map(|x| self.up_bound(x, None));
            }
            MarginMode::Isolated => {
                for ps in SIDES {
                    let Some(leg) = self.leg(ps) else { continue };
                    let wb = self.pos[ps_idx(ps)].margin;
                    let (d, u) = margin::liquidation_bounds(wb, &[leg], &self.table);
                    if let Some(x) = d {
                        let l = self.down_bound(x, Some(ps));
                        if out[0].is_none_or(|o| l.milli > o.milli) {
                            out[0] = Some(l);
                        }
                    }
                    if let Some(x) = u {
                        let l = self.up_bound(x, Some(ps));
                        if out[1].is_none_or(|o| l.milli < o.milli) {
                            out[1] = Some(l);
                        }
                    }
                }
            }
        }
        out
    }

    /// Liquidation price of a position side (§5), as positionRisk and ACCOUNT_UPDATE show it.
    /// Isolated: `LP = (WB + cum − side·Q·EP) / (Q·MMR − side·Q)` with WB = its isolated margin.
    /// Cross: Binance's cross formula puts every position of the symbol (BOTH, or LONG and SHORT
    /// in hedge mode) into one equation with WB = wallet − maintenance margin of other contracts
    /// plus their unrealized PnL; one symbol per run, so WB = the wallet and both hedge legs
    /// share the account's bound nearest to the mark. None when flat or when no price > 0 liquidates.
    pub fn liquidation_price(&self, ps: PositionSide) -> Option<Decimal> {
        if self.pos[ps_idx(ps)].amt == 0 {
            return None;
        }
        // the bounds are recomputed on every change of positions or balances (`update_liq`)
        let lp = match self.cfg.margin_mode {
            MarginMode::Isolated => self
                .liq
                .iter()
                .flatten()
                .find(|l| l.ps == Some(ps))
                .map(|l| l.shown),
            MarginMode::Cross => match self.liq {
                [Some(d), Some(u)] => {
                    let mark = self.mark_price();
                    Some(if mark - d.price <= u.price - mark {
                        d.shown
                    } else {
                        u.shown
                    })
                }
                [d, u] => d.or(u).map(|l| l.shown),
            },
        };
        lp
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
    ///
    /// Inlined into the venue's sync: most calls are polls that either find events waiting or
    /// land inside the quiet stretch of the current bar (`Cursor::quiet_until`), and move the
    /// cursor on that bar's path without entering the walk (whose frame is large).
    #[inline]
    pub fn advance_to(&mut self, t: TimeMs) {
        let t = t.0;
        if !self.out.is_empty() {
            return;
        }
        if t < self.cur.quiet_until && self.cur.time < t {
            // exactly the loop's steps: no funding due in the bar, quiet_rest_of_bar's partial
            // walk, then `time >= t` ends it
            self.quiet_walk_to(t);
            return;
        }
        self.advance_walk(t);
    }

    /// The walk of [`Self::advance_to`].
    #[inline(never)]
    fn advance_walk(&mut self, t: i64) {
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
                    && self.mark_quiet(self.cur.bar)
                {
                    // a quiet bar that ends a sample period: nothing can happen inside it
                    self.cur.bar += 1;
                    self.cur.price = bar.c;
                    self.cur.time = end;
                    self.mark_sync();
                    self.stats.bars += 1;
                    self.sample_if_due(bar.c);
                    continue;
                }
                self.start_bar(bar);
                continue;
            }
            if self.quiet_rest_of_bar(t) {
                continue;
            }
            self.step_segment(t);
        }
    }

    /// Inside a bar (segments 1..=3, no sub-bars, no mark klines): when the bar cannot touch any
    /// resting trigger, limit or liquidation bound (`high < up_min`, `low > down_max`), no
    /// trailing stop rests and no funding falls inside it, walks straight to `t` (or to the
    /// bar's end) in one step. The cursor ends exactly where `step_segment` would have put it:
    /// segment by segment nothing can fire, so only the segment holding `t` and the price on it
    /// matter. True when it moved the cursor.
    ///
    /// A bar whose range does reach a bound is still quiet up to the first instant the rest of
    /// its path can fire anything (`path_reach`, a lower bound on the time `step_segment` would
    /// fire at: the crossing times agree with `price_at` rounding, and a liquidation bound is
    /// timed at its exact thousandths, never later than the tick the walk tests): the engine's
    /// polls inside such a bar (before its trigger fires, or after the extreme passed) then cost
    /// one look at the path instead of a walk segment by segment.
    #[inline]
    fn quiet_rest_of_bar(&mut self, t: i64) -> bool {
        if !(1..=3).contains(&self.cur.seg)
            || self.cur.sub_end > 0
            || self.trailing_count != 0
            || self.mark.is_some()
        {
            return false;
        }
        let Some(&bar) = self.bars.get(self.cur.bar) else {
            return false;
        };
        let end = self.cur.path[3].0;
        if self
            .funding
            .get(self.next_funding)
            .is_some_and(|f| f.0 <= end)
        {
            return false;
        }
        if !(bar.h < self.up_min && bar.l > self.down_max) {
            let (seg, now, price) = (self.cur.seg as usize, self.cur.time, self.cur.price);
            let reach = match self.cur.reach {
                Some(r) => r,
                None => {
                    let r = self.path_reach(&self.cur.path, seg, now, price);
                    self.cur.reach = Some(r);
                    r
                }
            };
            self.cur.quiet_until = reach.map_or(end, |at| at.min(end));
            if let Some(at) = reach {
                if t >= at || t >= end {
                    return false;
                }
            }
        } else {
            self.cur.quiet_until = end;
        }
        if t >= end {
            // the rest of the bar: step_segment ends it at its close (end_path)
            self.end_path();
            return true;
        }
        self.quiet_walk_to(t);
        true
    }

    /// Moves the cursor to `t` on the current segment path (`t` before the bar's end, nothing
    /// can fire before `t`): the segment holding `t` and the price there, as `step_segment`
    /// would leave them segment by segment.
    #[inline]
    fn quiet_walk_to(&mut self, t: i64) {
        let mut k = self.cur.seg as usize;
        while self.cur.path[k].0 <= t {
            k += 1;
        }
        let (ta, pa) = self.cur.path[k - 1];
        let (tb, pb) = self.cur.path[k];
        self.cur.seg = k as u8;
        self.cur.time = t;
        self.cur.price = price_at(ta, pa, tb, pb, t);
    }

    /// The fast path: walks over every bar from the cursor that cannot touch a resting trigger
    /// (`high < up_min`, `low > down_max`, no trailing stop) and ends by `t`, before the next
    /// funding time and before the next equity sample. Three compares per bar.
    #[inline]
    fn skip_quiet_bars(&mut self, t: i64) {
        if self.trailing_count != 0 {
            return;
        }
        let funding = self.next_funding_ms();
        // a bar opening at `b.t` ends at `b.t + d − 1`: it must end ≤ t, < funding, < next sample
        let last_end = t.min(funding - 1).min(self.next_sample - 1);
        let t_max = last_end.saturating_sub(self.interval_ms - 1);
        let (up, down) = (self.up_min, self.down_max);
        let start = self.cur.bar;
        let rest = self.bars.get(start..).unwrap_or(&[]);
        let (mup, mdown) = (self.m_up_min, self.m_down_max);
        let n = match self.mark.as_deref() {
            // mark-path triggers (or a liquidation bound) rest: two more compares per bar
            Some(m) if mup != i64::MAX || mdown != i64::MIN => {
                let hl = m.hl.get(start..).unwrap_or(&[]);
                rest.iter()
                    .zip(hl)
                    .position(|(b, &(lo, hi))| {
                        b.t > t_max || b.h >= up || b.l <= down || hi >= mup || lo <= mdown
                    })
                    .unwrap_or(rest.len().min(hl.len()))
            }
            _ => rest
                .iter()
                .position(|b| b.t > t_max || b.h >= up || b.l <= down)
                .unwrap_or(rest.len()),
        };
        if n > 0 {
            let last = rest[n - 1];
            self.cur.bar = start + n;
            self.cur.price = last.c;
            self.cur.time = last.t + self.interval_ms - 1;
            self.mark_sync();
            self.stats.bars += n as u64;
        }
    }

    /// Emits an equity sample now, at the cursor's price (the end of a run).
    pub fn final_sample(&mut self) {
        self.emit(Event::Equity {
            wallet: self.wallet,
            unrealized: self.unrealized(),
            price: self.spec.price(self.cur.price),
        });
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
        let mpath = self.mark_path(&path);
        self.forget_reach();
        self.cur.path = path;
        self.cur.mpath = mpath;
        self.cur.seg = 1;
        self.cur.time = bar.t;
        self.cur.planned = self.net_exposure();
        self.cur.visited = 0;
        self.cur.ambiguous = false;
        // Ambiguous: the bar reaches resting orders (or the liquidation price) on both sides of
        // its open, so the path policy and not the bar decides which comes first (orders placed
        // later in the bar are checked when they arrive: `note_ambiguity`).
        let from = self.cur.price;
        let mfrom = self.mark_ticks();
        self.cur.price = path[0].1;
        if self.mark.is_some() {
            self.cur.mark = mpath[0].1;
        }
        if self.mark.is_none()
            && self.trailing_count == 0
            && self.cur.sub_end == 0
            && bar.h < self.up_min
            && bar.l > self.down_max
            && path[0].1 < self.up_min
            && path[0].1 > self.down_max
        {
            // a bar opened only because a poll lands inside it, its range (and its open, the
            // trade price and the mark here) inside the bounds: no ambiguity to count, no trailing
            // stop to move, and the open jump crosses nothing
            return;
        }
        self.note_ambiguity();
        // the open jump: a gap fills at the open
        self.update_trailing();
        self.fire_crossed(from, path[0].1, mfrom, mpath[0].1);
    }

    /// Walks the current segment toward its end, bounded by `t`, the next funding time and the
    /// next sample; fires the earliest crossed trigger (trade path, mark path or liquidation
    /// bound; at equal times in that order) and stops there.
    fn step_segment(&mut self, t: i64) {
        let k = self.cur.seg as usize;
        let (ta, pa) = self.cur.path[k - 1];
        let (tb, pb) = self.cur.path[k];
        let has_mark = self.mark.is_some();
        let (ma, mb) = if has_mark {
            (self.cur.mpath[k - 1].1, self.cur.mpath[k].1)
        } else {
            (pa, pb)
        };
        let mut limit = t.min(tb);
        if let Some(f) = self.funding.get(self.next_funding) {
            limit = limit.min(f.0.max(self.cur.time));
        }
        let target = price_at(ta, pa, tb, pb, limit);
        let mtarget = if has_mark {
            price_at(ta, ma, tb, mb, limit)
        } else {
            target
        };
        // earliest event; at equal times trade path (0) before mark path (1), then the nearer
        // threshold (thousandths of a tick), then order (0, 1) before liquidation (2):
        // (time, path, distance, kind, index, price)
        let mut ev: Option<(i64, u8, i64, u8, usize, i64)> = None;
        let mut consider = |c: (i64, u8, i64, u8, usize, i64)| {
            if ev.is_none_or(|e| (c.0, c.1, c.2, c.3) < (e.0, e.1, e.2, e.3)) {
                ev = Some(c);
            }
        };
        let (now, p0, m0) = (self.cur.time, self.cur.price, self.mark_ticks());
        if let Some((i, x)) = nearest(&self.trigs, false, pa, pb, target) {
            let tx = time_at(ta, pa, tb, pb, x).max(now);
            consider((tx, 0, (x - p0).abs() * 1000, 0, i, x));
        }
        if has_mark && (self.m_up_min != i64::MAX || self.m_down_max != i64::MIN) {
            if let Some((i, x)) = nearest(&self.trigs, true, ma, mb, mtarget) {
                let tx = time_at(ta, ma, tb, mb, x).max(now);
                consider((tx, 1, (x - m0).abs() * 1000, 1, i, x));
            }
        }
        let path = u8::from(has_mark);
        for (slot, l) in self.liq.iter().enumerate() {
            let Some(l) = l else { continue };
            let up = slot == 1;
            let beyond = |p: i64| if up { p >= l.ticks } else { p <= l.ticks };
            if beyond(m0) {
                consider((now, path, 0, 2, slot, m0));
            } else if beyond(mtarget) {
                // the exact bound is crossed before its tick: time on the path in 1/1000 ticks
                let tx = time_at(ta, ma * 1000, tb, mb * 1000, l.milli).max(now);
                consider((tx, path, (l.milli - m0 * 1000).abs(), 2, slot, l.ticks));
            }
        }
        match ev {
            Some((tx, _, _, 0, i, x)) => {
                self.cur.time = tx;
                let up = pb > pa;
                let at = if (up && x < self.cur.price) || (!up && x > self.cur.price) {
                    self.cur.price // already beyond (placed mid-bar at a worse price)
                } else {
                    x
                };
                self.cur.price = at;
                if has_mark {
                    self.cur.mark = price_at(ta, ma, tb, mb, tx);
                }
                let tr = self.trigs[i];
                self.fire(tr, at, false);
                return;
            }
            Some((tx, _, _, 1, i, x)) => {
                self.cur.time = tx;
                let up = mb > ma;
                if !((up && x < self.cur.mark) || (!up && x > self.cur.mark)) {
                    self.cur.mark = x;
                }
                // a MARK_PRICE trigger fires on the mark, its order fills at the trade price
                self.cur.price = price_at(ta, pa, tb, pb, tx);
                let tr = self.trigs[i];
                self.fire(tr, self.cur.price, false);
                return;
            }
            Some((tx, _, _, _, slot, x)) => {
                self.cur.time = tx;
                if has_mark {
                    // on the mark path: the fill is at the trade price of that moment
                    self.cur.mark = price_at(ta, ma, tb, mb, tx);
                    self.cur.price = price_at(ta, pa, tb, pb, tx);
                } else {
                    // the trade price is the mark: at the bound's tick, like a stop at its trigger
                    self.cur.price = x;
                }
                let ps = self.liq[slot].and_then(|l| l.ps);
                self.liquidate(ps, self.cur.price);
                return;
            }
            None => {}
        }
        self.cur.time = limit;
        self.cur.price = target;
        if has_mark {
            self.cur.mark = mtarget;
        }
        self.funding_due_now();
        if self.cur.time >= tb {
            self.cur.price = pb;
            if has_mark {
                self.cur.mark = mb;
            }
            self.update_trailing();
            if k == 3 {
                self.end_path();
            } else {
                self.cur.seg += 1;
            }
        }
    }

    /// True when [`MockExchange::advance_to`] would apply a funding rate at the cursor before
    /// anything else (inside a bar, the next funding time reached), so a walk is not a no-op.
    #[inline]
    pub fn funding_due_at_cursor(&self) -> bool {
        self.cur.seg != 0
            && self
                .funding
                .get(self.next_funding)
                .is_some_and(|f| f.0 <= self.cur.time)
    }

    /// Applies the next funding rate if its time has come at the cursor; true if it did.
    /// The check is inlined into the walk (it runs at every step); the payment is not.
    #[inline(always)]
    fn funding_due_now(&mut self) -> bool {
        match self.funding.get(self.next_funding) {
            Some(&(ft, _)) if ft <= self.cur.time => self.apply_next_funding(),
            _ => false,
        }
    }

    /// Applies the next funding rate (its time has come); true.
    #[inline(never)]
    fn apply_next_funding(&mut self) -> bool {
        let rate = self.funding[self.next_funding].1;
        self.next_funding += 1;
        self.apply_funding(rate);
        true
    }

    /// Refine: the open jump into the next sub-bar, at the sub-bar's open time.
    fn start_sub_bar(&mut self) {
        self.cur.sub += 1;
        let sb = self.sub_bars[self.cur.sub];
        let from = self.cur.price;
        let mfrom = self.mark_ticks();
        self.forget_reach();
        self.cur.path = intrabar::path(&sb, self.sub_interval_ms, IntrabarPolicy::Ohlc, 0);
        self.cur.mpath = self.mark_path(&self.cur.path);
        self.cur.seg = 1;
        self.cur.time = self.cur.time.max(sb.t);
        self.cur.price = sb.o;
        let mto = self.cur.mpath[0].1;
        if self.mark.is_some() {
            self.cur.mark = mto;
        }
        self.update_trailing();
        self.fire_crossed(from, sb.o, mfrom, mto);
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
        self.mark_sync();
        self.stats.bars += 1;
        self.sample_if_due(bar.c);
    }

    /// Fires every trigger crossed by a jump from `from` to `to` (a gap; the mark jumps from
    /// `mfrom` to `mto`): trade-path triggers nearest first, then mark-path ones, then the
    /// liquidation; they fill at `to`.
    fn fire_crossed(&mut self, from: i64, to: i64, mfrom: i64, mto: i64) {
        loop {
            if let Some(i) = crossed(&self.trigs, false, from, to) {
                let tr = self.trigs[i];
                self.fire(tr, to, true);
                continue;
            }
            if self.mark.is_some() {
                if let Some(i) = crossed(&self.trigs, true, mfrom, mto) {
                    let tr = self.trigs[i];
                    self.fire(tr, to, true);
                    continue;
                }
            }
            let m = self.mark_ticks();
            let hit = match self.liq {
                [Some(l), _] if m <= l.ticks => Some(l),
                [_, Some(l)] if m >= l.ticks => Some(l),
                _ => None,
            };
            match hit {
                Some(l) => self.liquidate(l.ps, self.cur.price),
                None => return,
            }
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
        self.emit_algo_update(k, "");
        // the fields the child needs, without cloning the whole record (its client id is
        // cloned once, into the child)
        let a = {
            let a = &self.algos[k];
            AlgoFields {
                id: a.id,
                side: a.side,
                otype: a.otype,
                tif: a.tif,
                qty: a.qty,
                price: a.price,
                trigger: a.trigger,
                reduce_only: a.reduce_only,
                close_position: a.close_position,
                ps: a.ps,
                working_type: a.working_type,
                trailing: a.trailing.is_some(),
            }
        };
        let reducing = a.reduce_only
            || a.close_position
            || (a.ps != PositionSide::Both && Self::is_closing_side(a.side, a.ps));
        let q = self.triggered_qty(a.side, a.ps, a.qty, a.reduce_only, a.close_position);
        if q == 0 {
            // §2.4: fired with nothing to reduce: no child order.
            if a.trailing {
                self.trailing_count -= 1;
            }
            self.algos[k].status = AlgoStatus::Rejected;
            self.emit_algo_update(k, "Reduce Only reject");
            return;
        }
        if !reducing {
            let opening = q - self.reducible(a.side, a.ps).min(q);
            if opening > 0 && !self.margin_ok(at, opening) {
                if a.trailing {
                    self.trailing_count -= 1;
                }
                self.algos[k].status = AlgoStatus::Rejected;
                self.emit_algo_update(k, "Margin is insufficient");
                return;
            }
        }
        // child order with its own orderId
        let limit_child = matches!(a.otype, OrderType::Stop | OrderType::TakeProfit);
        let id = OrderId(ORDER_ID_BASE + self.orders.len() as u64);
        let c = self.push_order(Order {
            id,
            client_id: self.algos[k].client_id.clone(),
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
            avg: Decimal::ZERO,
            time: now,
            update_time: now,
            from_algo: Some(a.id),
            armed: false,
            trailing: None,
            shown: Shown::default(),
        });
        if a.trailing {
            self.trailing_count -= 1;
        }
        {
            let al = &mut self.algos[k];
            al.status = AlgoStatus::Triggered;
            al.actual_order_id = Some(id);
        }
        // §6: ALGO_UPDATE TRIGGERED ai=<orderId>, then the child's ORDER_TRADE_UPDATE NEW/TRADE…,
        // then FINISHED (from `settle_child` once the child is done)
        self.emit_algo_update(k, "");
        self.emit_new_order(c);
        self.run_child(c, at);
    }

    pub(crate) fn finish_triggered_algo(&mut self, k: usize, c: usize) {
        // the child's average price as its updates report it: `(cum_quote / qty).round_dp(8)
        // .normalize()`, zero for nothing executed (`Order::avg`)
        let avg = self.orders[c].avg;
        let a = &mut self.algos[k];
        a.status = AlgoStatus::Finished;
        a.actual_price = avg;
        a.update_time = TimeMs(self.cur.time);
        self.emit_algo_update(k, "");
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
                ord.shown.qty = self.spec.qty(q);
            }
        }
        self.emit_new_order(k);
        self.run_child(k, at);
    }

    /// The time of the next funding event not yet settled (`i64::MAX` if none).
    fn next_funding_ms(&self) -> i64 {
        self.funding
            .get(self.next_funding)
            .map_or(i64::MAX, |f| f.0)
    }

    /// Earliest bar-open time at or after the cursor at which anything could change without a
    /// new request (a trigger or limit reachable, a trailing stop, funding); `horizon` if none
    /// before it. Used to skip polling passes that provably see nothing new.
    pub fn next_change_time(&self, horizon: TimeMs) -> TimeMs {
        if self.trailing_count > 0 {
            return TimeMs(self.cur.time);
        }
        let funding = self.next_funding_ms();
        let mut i = self.cur.bar;
        if self.cur.seg != 0 {
            // inside a bar: what is left of its path lies within the bar's [low, high]
            let Some(b) = self.bars.get(i) else {
                return TimeMs(self.cur.time);
            };
            if b.h >= self.up_min
                || b.l <= self.down_max
                || funding < b.t + self.interval_ms
                || !self.mark_quiet(i)
            {
                return TimeMs(self.cur.time);
            }
            i += 1;
        }
        // bars known quiet from an earlier scan (same bounds) are not looked at again: the
        // answer is the same, the first bar at or past the horizon or not quiet
        let (from, j) = self.quiet_bars.get();
        let start = i;
        if from <= i && i < j {
            i = j;
        }
        let from = if from <= start && start <= j {
            from
        } else {
            start
        };
        // The scan, one bar at a time as `bar_in_bounds` would, with the bounds, the funding
        // time and the interval in registers (the field reloads per bar were most of its cost):
        // the first bar at or past the horizon, or one funding falls in, or one that can reach
        // a bound; the mark range is only looked at when a mark-path bound rests.
        let rest = self.bars.get(i..).unwrap_or(&[]);
        let (up, down, d, h) = (self.up_min, self.down_max, self.interval_ms, horizon.0);
        let stops = |b: &BarTicks| b.t >= h || funding < b.t + d || b.h >= up || b.l <= down;
        let (mup, mdown) = (self.m_up_min, self.m_down_max);
        let n = match self.mark.as_deref() {
            Some(m) if mup != i64::MAX || mdown != i64::MIN => {
                let hl = m.hl.get(i..).unwrap_or(&[]);
                rest.iter().enumerate().position(|(k, b)| {
                    stops(b) || hl.get(k).is_some_and(|&(lo, hi)| hi >= mup || lo <= mdown)
                })
            }
            _ => rest.iter().position(stops),
        };
        match n {
            Some(k) => {
                self.quiet_bars.set((from, i + k));
                let t = rest[k].t;
                TimeMs(if t >= h { h } else { t })
            }
            None => {
                self.quiet_bars.set((from, i + rest.len()));
                horizon
            }
        }
    }

    /// [`Self::next_change_time`] as it was before its scan was tightened, without the
    /// remembered quiet bars: the reference its tests compare with.
    #[cfg(test)]
    fn next_change_time_reference(&self, horizon: TimeMs) -> TimeMs {
        if self.trailing_count > 0 {
            return TimeMs(self.cur.time);
        }
        let funding = self.next_funding_ms();
        let mut i = self.cur.bar;
        if self.cur.seg != 0 {
            let Some(b) = self.bars.get(i) else {
                return TimeMs(self.cur.time);
            };
            if b.h >= self.up_min
                || b.l <= self.down_max
                || funding < b.t + self.interval_ms
                || !self.mark_quiet(i)
            {
                return TimeMs(self.cur.time);
            }
            i += 1;
        }
        while let Some(b) = self.bars.get(i) {
            if b.t >= horizon.0 {
                return horizon;
            }
            if funding < b.t + self.interval_ms || !self.bar_in_bounds(i, b) {
                return TimeMs(b.t);
            }
            i += 1;
        }
        horizon
    }

    /// A finer lower bound than [`Self::next_change_time`] on when anything could change without
    /// a new request: where that answers with a bar (the one under way or the first reachable
    /// one), the instant the bar's intrabar path (from the cursor, or from its open jump) first
    /// reaches a trigger, limit or liquidation bound, a bar with no such instant passed over;
    /// `horizon` if nothing is reachable before it. Only on the plain trade path (no trailing
    /// stop, no mark klines, no `refine` sub-bars, no funding inside the bar); otherwise it is
    /// [`Self::next_change_time`]. Never later than the first change a walk would make.
    pub fn next_change_exact(&self, horizon: TimeMs) -> TimeMs {
        self.next_change_bounds(horizon).1
    }

    /// [`Self::next_change_time`] and [`Self::next_change_exact`] at once: the finer bound
    /// starts from the coarse one, so the whole-bar scan is done once for both.
    #[inline]
    pub fn next_change_bounds(&self, horizon: TimeMs) -> (TimeMs, TimeMs) {
        let coarse = self.next_change_time(horizon);
        (coarse, self.exact_from(coarse, horizon))
    }

    /// [`Self::next_change_exact`] given [`Self::next_change_time`]'s answer (`coarse`).
    fn exact_from(&self, coarse: TimeMs, horizon: TimeMs) -> TimeMs {
        if coarse >= horizon
            || self.trailing_count > 0
            || self.mark.is_some()
            || (self.cfg.intrabar == IntrabarPolicy::Refine && !self.sub_bars.is_empty())
        {
            return coarse;
        }
        let d = self.interval_ms;
        let funding = self.next_funding_ms();
        let mut i = self.cur.bar;
        if self.cur.seg != 0 {
            // inside a bar: the rest of its path from the cursor
            if !(1..=3).contains(&self.cur.seg) || self.cur.sub_end > 0 {
                return coarse;
            }
            let Some(b) = self.bars.get(i) else {
                return coarse;
            };
            if funding < b.t + d {
                return coarse;
            }
            let (seg, now, price) = (self.cur.seg as usize, self.cur.time, self.cur.price);
            // the walk's cached answer while the cursor is short of it (then it is the same)
            let reach = match self.cur.reach {
                Some(r) if r.is_none_or(|at| at > now) => r,
                _ => self.path_reach(&self.cur.path, seg, now, price),
            };
            if let Some(at) = reach {
                return TimeMs(at);
            }
            i += 1;
        }
        let exposure = self.net_exposure();
        while let Some(b) = self.bars.get(i) {
            if b.t >= horizon.0 {
                return horizon;
            }
            if b.h >= self.up_min || b.l <= self.down_max || funding < b.t + d {
                if funding < b.t + d || b.o >= self.up_min || b.o <= self.down_max {
                    // funding inside the bar, or the open jump itself crosses a bound
                    return TimeMs(b.t);
                }
                // the path the walk will plan at the open (the exposure cannot change first)
                let path = intrabar::path(b, d, self.cfg.intrabar, exposure);
                if let Some(at) = self.path_reach(&path, 1, b.t, b.o) {
                    return TimeMs(at);
                }
            }
            i += 1;
        }
        horizon
    }

    /// Inside a bar whose range reaches a bound (so [`Self::next_change_time`] answers the
    /// cursor's own time wherever in the bar the cursor stands), the instant before which
    /// walking the cursor on only moves it along the bar's path: no event, no state change, the
    /// cursor still inside the bar (the bar's end, or the first instant the rest of the path can
    /// fire, whichever is first: where `quiet_rest_of_bar` stops walking in one step). A walk to
    /// any earlier `t` leaves the cursor exactly where walks in several steps would. None
    /// anywhere else (a bar open, a quiet bar, events waiting, a trailing stop, mark klines,
    /// sub-bars, funding within the bar, a cached reach already passed): the caller walks then.
    pub fn reachable_bar_quiet_until(&self) -> Option<TimeMs> {
        if !(1..=3).contains(&self.cur.seg)
            || self.cur.sub_end > 0
            || self.trailing_count != 0
            || self.mark.is_some()
            || !self.out.is_empty()
        {
            return None;
        }
        let b = self.bars.get(self.cur.bar)?;
        if b.h < self.up_min && b.l > self.down_max {
            // a quiet bar: `next_change_time` looks past it
            return None;
        }
        let end = self.cur.path[3].0;
        if self.next_funding_ms() <= end {
            return None;
        }
        let (seg, now, price) = (self.cur.seg as usize, self.cur.time, self.cur.price);
        // the walk's cached answer while the cursor is short of it (then it is the same)
        let reach = match self.cur.reach {
            Some(Some(at)) if at <= now => return None,
            Some(r) => r,
            None => self.path_reach(&self.cur.path, seg, now, price),
        };
        Some(TimeMs(reach.map_or(end, |at| at.min(end))))
    }

    /// The earliest instant at which `path`, walked from segment `seg` at time `now` and price
    /// `price`, can fire a trade-path trigger, limit or liquidation bound (`up_min`/`down_max`,
    /// the liquidation bounds at their exact thousandths), as `step_segment` times a crossing:
    /// `time_at` of the crossing, not before `now`. None when the rest of the path reaches none.
    fn path_reach(&self, path: &intrabar::Path, seg: usize, now: i64, price: i64) -> Option<i64> {
        let (up, down) = (self.up_min, self.down_max);
        // the exact levels in thousandths of a tick (a liquidation bound may lie below its tick)
        let up_milli = self.liq[1].map_or(up.saturating_mul(1000), |l| {
            l.milli.min(up.saturating_mul(1000))
        });
        let down_milli = self.liq[0].map_or(down.saturating_mul(1000), |l| {
            l.milli.max(down.saturating_mul(1000))
        });
        if price >= up || price <= down {
            return Some(now);
        }
        let mut now = now;
        for k in seg..=3 {
            let (ta, pa) = path[k - 1];
            let (tb, pb) = path[k];
            if pb > pa && pb >= up {
                return Some(time_at(ta, pa * 1000, tb, pb * 1000, up_milli).max(now));
            }
            if pb < pa && pb <= down {
                return Some(time_at(ta, pa * 1000, tb, pb * 1000, down_milli).max(now));
            }
            if pb >= up || pb <= down {
                // a flat segment at a bound (not reached from a price inside the bounds)
                return Some(ta.max(now));
            }
            now = now.max(tb);
        }
        None
    }

    /// Liquidates position side `ps` (every position when None: cross) at trade price `at`:
    /// open orders of the liquidated side(s) expire (`er=5`), open algo orders expire, then a
    /// LIQUIDATION order (`c="autoclose-<ms>"`) closes each position: ORDER_TRADE_UPDATE
    /// `x=CALCULATED`, then ACCOUNT_UPDATE reason LIQUIDATION with its realized PnL and the
    /// liquidation fee (symbol `liquidation_fee` × notional).
    pub(crate) fn liquidate(&mut self, ps: Option<PositionSide>, at: i64) {
        let sides: Vec<PositionSide> =
            [PositionSide::Both, PositionSide::Long, PositionSide::Short]
                .into_iter()
                .filter(|&s| self.pos[ps_idx(s)].amt != 0 && ps.is_none_or(|p| p == s))
                .collect();
        if sides.is_empty() {
            self.update_liq();
            return;
        }
        let mine = |o_ps: PositionSide| ps.is_none_or(|p| p == o_ps);
        self.compact_open();
        for j in 0..self.open_o.len() {
            let k = self.open_o[j] as usize;
            let o = &self.orders[k];
            if !o.status.is_terminal() && mine(o.ps) {
                self.expire_order(k, ExpiryReason::Liquidation);
            }
        }
        for j in 0..self.open_a.len() {
            let k = self.open_a[j] as usize;
            let a = &self.algos[k];
            if a.status.is_open() && mine(a.ps) {
                self.finish_algo(k, AlgoStatus::Expired, "");
            }
        }
        let at = at.max(1);
        for s in sides {
            let amt = self.pos[ps_idx(s)].amt;
            if amt == 0 {
                continue;
            }
            let rate = self.spec.liquidation_fee;
            let client_id = format!("autoclose-{}", self.cur.time).into();
            self.forced_close(
                s,
                amt.abs(),
                at,
                client_id,
                AccountReason::Liquidation,
                rate,
            );
            self.stats.liquidations += 1;
        }
        self.compact_open();
        self.update_liq();
    }

    /// A close the venue forces on position side `ps` (liquidation, ADL): a `LIQUIDATION` IOC
    /// order `client_id` for `steps` at `at`, booked reduce-only with fee `rate` and `reason`;
    /// its ORDER_TRADE_UPDATE (`x=CALCULATED`) goes before the fill's ACCOUNT_UPDATE, as for
    /// every fill. Returns the order's id and the fill.
    pub(crate) fn forced_close(
        &mut self,
        ps: PositionSide,
        steps: i64,
        at: i64,
        client_id: Ident,
        reason: AccountReason,
        rate: Decimal,
    ) -> (OrderId, FillOutcome) {
        let amt = self.pos[ps_idx(ps)].amt;
        let side = if amt > 0 { Side::Sell } else { Side::Buy };
        let now = TimeMs(self.cur.time);
        let id = OrderId(ORDER_ID_BASE + self.orders.len() as u64);
        let k = self.push_order(Order {
            id,
            client_id,
            side,
            otype: OrderType::Liquidation,
            orig_type: OrderType::Liquidation,
            tif: TimeInForce::Ioc,
            qty: steps,
            price: at,
            stop: 0,
            reduce_only: false,
            close_position: false,
            ps,
            working_type: WorkingType::default(),
            status: OrderStatus::New,
            executed: 0,
            cum_quote: Decimal::ZERO,
            avg: Decimal::ZERO,
            time: now,
            update_time: now,
            from_algo: None,
            armed: false,
            trailing: None,
            shown: Shown::default(),
        });
        let f = self.book_fill(side, ps, steps, at, true, rate);
        let px = self.spec.price(at);
        let o = &mut self.orders[k];
        o.executed = f.filled;
        o.cum_quote = px * self.spec.qty(f.filled);
        o.avg = fastdec::avg(o.cum_quote, self.spec.qty(f.filled));
        o.status = OrderStatus::Filled;
        self.emit_order(
            k,
            ExecType::Calculated,
            self.spec.qty(f.filled),
            px,
            f.fee,
            false,
            f.realized,
            ExpiryReason::None,
        );
        if f.filled > 0 {
            self.emit_fill_account(ps, reason, &f);
        }
        self.after_position_change(ps, amt);
        (id, f)
    }
}

/// The fields of an algo order its trigger reads (`fire_algo`).
struct AlgoFields {
    id: AlgoId,
    side: Side,
    otype: OrderType,
    tif: TimeInForce,
    qty: i64,
    price: i64,
    trigger: i64,
    reduce_only: bool,
    close_position: bool,
    ps: PositionSide,
    working_type: WorkingType,
    trailing: bool,
}

/// Nearest trigger of one path (`on_mark`) crossed by the segment `a → b` up to `target`:
/// (index, trigger ticks). Nearest by price is earliest in time on a straight segment.
fn nearest(trigs: &[Trig], on_mark: bool, a: i64, b: i64, target: i64) -> Option<(usize, i64)> {
    let up = b > a;
    let mut best: Option<(usize, i64)> = None;
    for (i, tr) in trigs.iter().enumerate() {
        if tr.mark != on_mark || (tr.up != up && b != a) {
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
            Some((_, x)) => {
                if tr.up {
                    tr.ticks < x
                } else {
                    tr.ticks > x
                }
            }
        };
        if better {
            best = Some((i, tr.ticks));
        }
    }
    best
}

/// Trigger of one path crossed by a jump from `from` to `to`, nearest to `from` first.
fn crossed(trigs: &[Trig], on_mark: bool, from: i64, to: i64) -> Option<usize> {
    let up = to >= from;
    let mut best: Option<(usize, i64)> = None;
    for (i, tr) in trigs.iter().enumerate() {
        if tr.mark != on_mark {
            continue;
        }
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
    best.map(|b| b.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{NewAlgoOrder, NewOrder};

    const MIN: i64 = 60_000;
    const T0: i64 = 1_704_067_200_000;

    /// Walks to `t`, collecting every event on the way (as the venue does: each stop delivers).
    fn walk(x: &mut MockExchange, t: i64, out: &mut Vec<String>) {
        loop {
            x.advance_to(TimeMs(t));
            if !x.has_events() {
                return;
            }
            let mut evs = Vec::new();
            x.drain_events(&mut evs);
            out.extend(evs.iter().map(|e| format!("{e:?}")));
        }
    }

    #[test]
    fn polling_inside_bars_never_changes_the_walk() {
        // The quiet walk inside a bar that does reach a bound (`quiet_rest_of_bar` up to the
        // cached `path_reach`) must leave every event, time and price exactly as a walk that
        // stops only where the caller acts: two exchanges, the same orders at the same instants
        // (a bracket re-entered after each exit, the other leg cancelled; a limit now and then),
        // one walked in big steps, the other polled every few seconds. Random bars, each intrabar
        // policy, sometimes 100x isolated (a reachable liquidation bound). The cached answer of
        // `next_change_exact` is also checked against one worked out afresh.
        let mut rnd = crate::types::xorshift_below_i64(0x9E37_79B9_7F4A_7C15);
        let spec = SymbolSpec::builtin("BTCUSDT").unwrap();
        let mut fires = 0;
        let mut quiet_walks = 0;
        for case in 0..120 {
            let n = 60;
            let mut bars = Vec::new();
            let mut p = spec.price_to_ticks("60000".parse().unwrap()).unwrap();
            for i in 0..n {
                let o = p + rnd(41) - 20;
                let c = o + rnd(201) - 100;
                let h = o.max(c) + rnd(150);
                let l = o.min(c) - rnd(150);
                bars.push(BarTicks {
                    t: T0 + i * MIN,
                    o,
                    h,
                    l,
                    c,
                });
                p = c;
            }
            let mut cfg = ExchangeConfig {
                position_mode: PositionMode::Hedge,
                equity_sample_ms: [MIN, 7 * MIN, 1_000_000_000_000][case % 3],
                ..ExchangeConfig::default()
            };
            cfg.intrabar = [
                IntrabarPolicy::Ohlc,
                IntrabarPolicy::Pessimistic,
                IntrabarPolicy::Optimistic,
            ][(case / 3) % 3];
            if case % 4 == 0 {
                cfg.leverage = 100;
                cfg.margin_mode = MarginMode::Isolated;
            }
            let mut a = MockExchange::new(cfg.clone(), spec.clone(), bars.clone(), MIN);
            let mut b = MockExchange::new(cfg, spec.clone(), bars, MIN);
            let (mut ea, mut eb) = (Vec::new(), Vec::new());
            let end = T0 + n * MIN;
            let mut now = T0 + rnd(2 * MIN);
            while now < end {
                walk(&mut a, now, &mut ea);
                // b: polled every few seconds up to the same instant
                let mut t = b.time().0;
                while t < now {
                    // a reachable bar's quiet stretch: a walk short of its end fires nothing,
                    // stays in the bar, leaves the stretch as it was and the whole-bar bound at
                    // the cursor
                    let quiet = b.reachable_bar_quiet_until();
                    if let Some(q) = quiet {
                        assert!(q.0 > b.time().0, "case {case} at {t}");
                        assert_eq!(b.next_change_time(TimeMs(end)), b.time());
                    }
                    let (bar, seen) = (b.cur.bar, eb.len());
                    t = (t + 1 + rnd(8_000)).min(now);
                    walk(&mut b, t, &mut eb);
                    if let Some(q) = quiet.filter(|q| t < q.0) {
                        assert_eq!((b.cur.bar, eb.len()), (bar, seen), "case {case} at {t}");
                        assert_eq!(b.reachable_bar_quiet_until(), Some(q), "case {case} at {t}");
                        assert_eq!(b.next_change_time(TimeMs(end)), b.time());
                        quiet_walks += 1;
                    }
                    let (nc, ne) = b.next_change_bounds(TimeMs(end));
                    assert_eq!(
                        (nc, ne),
                        (
                            b.next_change_time(TimeMs(end)),
                            b.next_change_exact(TimeMs(end))
                        )
                    );
                    if rnd(4) == 0 {
                        let h = TimeMs(end);
                        let cached = b.next_change_exact(h);
                        let saved = b.cur.reach;
                        b.cur.reach = None;
                        assert_eq!(b.next_change_exact(h), cached, "case {case} at {t}");
                        b.cur.reach = saved;
                        // and the coarse bound, with and without the remembered quiet bars
                        let h = TimeMs(b.time().0 + rnd(30 * MIN));
                        let cached = b.next_change_time(h);
                        let saved = b.quiet_bars.get();
                        b.quiet_bars.set((usize::MAX, 0));
                        assert_eq!(b.next_change_time(h), cached, "case {case} at {t}");
                        b.quiet_bars.set(saved);
                    }
                }
                assert_eq!(ea, eb, "case {case} at {now}");
                assert_eq!((a.time(), a.cur.price), (b.time(), b.cur.price));
                let long = rnd(2) == 0;
                let (side, exit, pside) = if long {
                    (Side::Buy, Side::Sell, PositionSide::Long)
                } else {
                    (Side::Sell, Side::Buy, PositionSide::Short)
                };
                let sgn = if long { 1 } else { -1 };
                let at = a.cur.price;
                let px = |d: i64| spec.price(at + d);
                let (p_sl, p_tp) = (px(-sgn * (20 + rnd(300))), px(sgn * (20 + rnd(300))));
                let lim = (rnd(5) == 0).then(|| px(-sgn * rnd(200)));
                for x in [&mut a, &mut b] {
                    if !x.is_flat() {
                        continue;
                    }
                    fires += 1;
                    let _ = x.cancel_all_algo_orders("BTCUSDT");
                    let mut o = NewOrder::new("BTCUSDT", side, OrderType::Market);
                    o.quantity = Some("0.5".parse().unwrap());
                    o.position_side = Some(pside);
                    let _ = x.new_order(&o);
                    for (t, p) in [
                        (OrderType::StopMarket, p_sl),
                        (OrderType::TakeProfitMarket, p_tp),
                    ] {
                        let mut g = NewAlgoOrder::new("BTCUSDT", exit, t);
                        g.quantity = Some("0.5".parse().unwrap());
                        g.trigger_price = Some(p);
                        g.position_side = Some(pside);
                        let _ = x.new_algo_order(&g);
                    }
                    if let Some(p) = lim {
                        let mut o = NewOrder::new("BTCUSDT", side, OrderType::Limit);
                        o.quantity = Some("0.1".parse().unwrap());
                        o.price = Some(p);
                        o.time_in_force = Some(TimeInForce::Gtc);
                        o.position_side = Some(pside);
                        let _ = x.new_order(&o);
                    }
                }
                now += 1 + rnd(4 * MIN);
            }
            walk(&mut a, end, &mut ea);
            walk(&mut b, end, &mut eb);
            assert_eq!(ea, eb, "case {case} at the end");
        }
        assert!(fires > 500, "{fires} entries");
        assert!(quiet_walks > 1_000, "{quiet_walks} quiet walks");
    }

    #[test]
    fn next_change_time_is_the_bar_by_bar_scan() {
        // `next_change_time`'s tightened scan (and the quiet bars it remembers) against the
        // plain scan it replaced, over random bars (sometimes with gaps), random bounds on
        // the trade and mark paths (or none), funding times, cursors and horizons; the bounds
        // and funding stay fixed for a few calls so the remembered quiet bars are used, and are
        // forgotten when they change, as `recompute_bounds` does.
        let mut rnd = crate::types::xorshift_below_i64(0xD1B5_4A32_D192_ED03);
        let spec = SymbolSpec::builtin("BTCUSDT").unwrap();
        let (mut checked, mut horizons, mut bar_times, mut marks) = (0, 0, 0, 0);
        for case in 0..400 {
            let n = 1 + rnd(40);
            let mut bars = Vec::new();
            let (mut p, mut t) = (600_000, 0);
            for _ in 0..n {
                let o = p + rnd(41) - 20;
                let c = o + rnd(201) - 100;
                // open times strictly increasing as the loader validates them, with gaps
                t += 1 + if case % 5 == 0 { rnd(3) } else { 0 };
                bars.push(BarTicks {
                    t: T0 + t * MIN,
                    o,
                    h: o.max(c) + rnd(150),
                    l: o.min(c) - rnd(150),
                    c,
                });
                p = c;
            }
            let cfg = ExchangeConfig::default();
            let mut x = MockExchange::new(cfg, spec.clone(), bars.clone(), MIN);
            if case % 3 == 0 {
                let mark: Vec<BarTicks> = bars
                    .iter()
                    .map(|b| BarTicks {
                        o: b.o + rnd(61) - 30,
                        c: b.c + rnd(61) - 30,
                        h: b.h + rnd(40),
                        l: b.l - rnd(40),
                        ..*b
                    })
                    .collect();
                x = x.with_mark(mark, MIN);
            }
            if case % 2 == 0 {
                let f = (0..3).map(|_| (T0 + rnd(n + 2) * MIN + rnd(MIN), Decimal::ZERO));
                let mut f: Vec<_> = f.collect();
                f.sort_by_key(|f| f.0);
                x = x.with_funding(f);
            }
            // a bound: none, anywhere near the prices, or at (or next to) some bar's extreme on
            // the path it bounds, where `<` against `<=` decides
            let hl: Vec<(i64, i64)> = match x.mark.as_deref() {
                Some(m) => m.hl.clone(),
                None => bars.iter().map(|b| (b.l, b.h)).collect(),
            };
            let bound = |rnd: &mut dyn FnMut(i64) -> i64, none: i64, mark: bool, up: bool| {
                let k = rnd(n) as usize;
                let (lo, hi) = if mark { hl[k] } else { (bars[k].l, bars[k].h) };
                match rnd(4) {
                    0 => none,
                    1 => 600_000 + rnd(1_200) - 600,
                    _ => (if up { hi } else { lo }) + rnd(3) - 1,
                }
            };
            for _ in 0..6 {
                x.up_min = bound(&mut rnd, i64::MAX, false, true);
                x.down_max = bound(&mut rnd, i64::MIN, false, false);
                x.m_up_min = bound(&mut rnd, i64::MAX, true, true);
                x.m_down_max = bound(&mut rnd, i64::MIN, true, false);
                x.trailing_count = u32::from(rnd(10) == 0);
                x.next_funding = rnd(x.funding.len() as i64 + 1) as usize;
                x.quiet_bars.set((usize::MAX, 0));
                for _ in 0..8 {
                    x.cur.bar = rnd(n + 2) as usize;
                    x.cur.seg = [0, 0, 1, 2, 3][rnd(5) as usize];
                    x.cur.time = T0 + rnd((n + 3) * MIN);
                    let h = TimeMs(match rnd(3) {
                        0 => i64::MAX,
                        _ => T0 + rnd((n + 4) * MIN),
                    });
                    let want = x.next_change_time_reference(h);
                    assert_eq!(x.next_change_time(h), want, "case {case}");
                    checked += 1;
                    horizons += usize::from(want == h);
                    bar_times += usize::from(bars.iter().any(|b| b.t == want.0));
                    marks += usize::from(x.mark.is_some() && x.m_up_min != i64::MAX);
                }
            }
        }
        // every kind of answer is reached
        assert!(
            horizons > 2_000 && bar_times > 2_000 && marks > 1_000,
            "{horizons} {bar_times} {marks} of {checked}"
        );
    }
}
