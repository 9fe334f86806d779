//! Mark price on the intrabar path, from mark-price klines (1m archive layout or coarser 1h/8h
//! candles).
//!
//! Declared model: the mark follows the trade path plus a slowly varying basis and never leaves
//! the range its own candle recorded. For a mark candle `j` opening at `s` and closing at
//! `e = s + interval − 1`, the basis is `mark.open − trade(s)` at `s` and `mark.close − trade(e)`
//! at `e`, linearly interpolated in between (`trade(t)`: the trade bar covering `t`, its open at
//! its start, its close at its end, a straight line between). On a trade path point `(t, p)` the
//! mark is `clamp(p + basis(t), low_j, high_j)` for the candle covering `t`; between two path
//! points it is linear, like the trade path, so the mark path has the same four times per bar.
//! Consequences: a last-price wick that the mark candle did not record (below its low) does not
//! reach the mark; the mark reaches its candle's extremes only when the trade path goes there.
//! Where no mark candle covers `t` (gap, outside the file) the trade price stands in.
//!
//! For the fast path, `hl[i]` bounds the mark inside trade bar `i` from below and above
//! (conservatively: `clamp(high + max basis)` / `clamp(low + min basis)` per covering candle), so a
//! bar that cannot reach a mark-price trigger or the liquidation price is skipped with two more
//! compares.

use std::sync::Arc;

use super::intrabar::BarTicks;

/// Mark candles in ticks, their basis at open and close, and per-trade-bar bounds.
#[derive(Debug, Clone, Default)]
pub(crate) struct MarkData {
    pub bars: Arc<[BarTicks]>,
    pub interval_ms: i64,
    /// Basis (ticks) at each candle's open time and at its close time.
    pub basis: Vec<(i64, i64)>,
    /// Per trade bar: (lowest, highest) mark the bar can show.
    pub hl: Vec<(i64, i64)>,
}

/// Trade price at `t` from the bar covering it (open at its start, close at its end, linear).
fn trade_ref(trade: &[BarTicks], d: i64, t: i64) -> Option<i64> {
    let i = trade.partition_point(|b| b.t <= t).checked_sub(1)?;
    let b = trade[i];
    let end = b.t + d - 1;
    if t > end {
        return None;
    }
    Some(super::intrabar::price_at(b.t, b.o, end, b.c, t))
}

impl MarkData {
    /// Builds the mark model for `trade` bars of length `d` from `mark` candles of `mi` ms.
    pub fn new(mark: Arc<[BarTicks]>, mi: i64, trade: &[BarTicks], d: i64) -> MarkData {
        let mi = mi.max(1);
        let basis = mark
            .iter()
            .map(|m| {
                let e = m.t + mi - 1;
                let b0 = trade_ref(trade, d, m.t).map_or(0, |p| m.o - p);
                let b1 = trade_ref(trade, d, e).map_or(0, |p| m.c - p);
                (b0, b1)
            })
            .collect();
        let mut md = MarkData {
            bars: mark,
            interval_ms: mi,
            basis,
            hl: Vec::new(),
        };
        md.hl = trade.iter().map(|b| md.bounds(b, d)).collect();
        md
    }

    /// Basis of candle `j` at `t` (inside it).
    fn basis_at(&self, j: usize, t: i64) -> i64 {
        let m = self.bars[j];
        let (b0, b1) = self.basis[j];
        super::intrabar::price_at(m.t, b0, m.t + self.interval_ms - 1, b1, t)
    }

    /// Index of the candle covering `t`.
    #[inline]
    fn covering(&self, t: i64) -> Option<usize> {
        let j = self.bars.partition_point(|m| m.t <= t).checked_sub(1)?;
        (t < self.bars[j].t + self.interval_ms).then_some(j)
    }

    /// The mark at time `t` where the trade price is `p`.
    pub fn at(&self, t: i64, p: i64) -> i64 {
        match self.covering(t) {
            Some(j) => {
                let m = self.bars[j];
                (p + self.basis_at(j, t)).clamp(m.l.min(m.h), m.h)
            }
            None => p,
        }
    }

    /// Conservative (low, high) of the mark inside trade bar `b` of length `d`.
    fn bounds(&self, b: &BarTicks, d: i64) -> (i64, i64) {
        let (t0, t1) = (b.t, b.t + d - 1);
        let mut lo = i64::MAX;
        let mut hi = i64::MIN;
        let mut covered_to = t0; // first time not yet known to be covered
        let mut j = self.bars.partition_point(|m| m.t + self.interval_ms <= t0);
        let mut gap = false;
        while let Some(m) = self.bars.get(j) {
            if m.t > t1 {
                break;
            }
            let (s, e) = (m.t.max(t0), (m.t + self.interval_ms - 1).min(t1));
            if m.t > covered_to {
                gap = true;
            }
            covered_to = covered_to.max(e + 1);
            let (ba, bb) = (self.basis_at(j, s), self.basis_at(j, e));
            let (bmin, bmax) = (ba.min(bb), ba.max(bb));
            let (ml, mh) = (m.l.min(m.h), m.h);
            lo = lo.min((b.l + bmin).clamp(ml, mh));
            hi = hi.max((b.h + bmax).clamp(ml, mh));
            j += 1;
        }
        if gap || covered_to <= t1 || lo > hi {
            // part of the bar has no mark candle: the trade price stands in there
            lo = lo.min(b.l);
            hi = hi.max(b.h);
        }
        (lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bt(t: i64, o: i64, h: i64, l: i64, c: i64) -> BarTicks {
        BarTicks { t, o, h, l, c }
    }

    #[test]
    fn basis_follows_trade_and_clamps_to_the_candle() {
        // two 1m trade bars inside one 2m mark candle; mark is 10 ticks above the trade at open
        // and at close, and its low (985) is above the trade low (950)
        let trade = vec![
            bt(0, 1000, 1010, 950, 1000),
            bt(60_000, 1000, 1005, 995, 1000),
        ];
        let mark = vec![bt(0, 1010, 1020, 985, 1010)];
        let m = MarkData::new(mark.into(), 120_000, &trade, 60_000);
        assert_eq!(m.basis[0], (10, 10));
        assert_eq!(m.at(0, 1000), 1010);
        assert_eq!(m.at(20_000, 950), 985); // the trade wick does not reach the mark
        assert_eq!(m.at(40_000, 1010), 1020);
        assert_eq!(m.hl[0], (985, 1020));
        // outside the candles: trade price
        assert_eq!(m.at(500_000, 1234), 1234);
    }
}
