//! Intrabar path policy: which way a bar went between its open and its close.
//!
//! A kline gives O/H/L/C only. The mock walks a declared piecewise-linear path through each bar:
//! a jump from the previous price to the open at `t0` (a gap fills there), then three straight
//! segments `O → X1 → X2 → C` with the points at `t0`, `t0 + d/3`, `t0 + 2d/3`, `t0 + d − 1` for
//! a bar of `d` ms. `X1`/`X2` are the two extremes in the order the policy picks:
//! - `ohlc`: the extreme nearer to the open first (ties: high first);
//! - `pessimistic`: the adverse extreme for the largest open position first (low for a long);
//! - `optimistic`: the favourable extreme first;
//! - `refine`: the lower-timeframe bars inside the bar, each walked with `ohlc`.
//!
//! Crossing times inside a segment are linear interpolations in integer milliseconds.

use serde::{Deserialize, Serialize};

/// How the path inside a bar is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IntrabarPolicy {
    /// Open → nearer extreme → farther extreme → close.
    #[default]
    Ohlc,
    /// Adverse extreme first for the largest open position.
    Pessimistic,
    /// Favourable extreme first for the largest open position.
    Optimistic,
    /// Walk the lower-timeframe bars inside the bar.
    Refine,
}

/// A bar in ticks: the only shape the matching loop touches (40 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BarTicks {
    /// Open time (ms).
    pub t: i64,
    /// Open.
    pub o: i64,
    /// High.
    pub h: i64,
    /// Low.
    pub l: i64,
    /// Close.
    pub c: i64,
}

/// Four path points of one bar: (time, price) for open, first extreme, second extreme, close.
pub type Path = [(i64, i64); 4];

/// The path through `bar` of length `d` ms; `net_exposure` is the sign of the largest open
/// position (+1 long, −1 short, 0 none), used by the pessimistic and optimistic policies.
pub fn path(bar: &BarTicks, d: i64, policy: IntrabarPolicy, net_exposure: i64) -> Path {
    let high_first = match policy {
        IntrabarPolicy::Ohlc | IntrabarPolicy::Refine => ohlc_high_first(bar),
        IntrabarPolicy::Pessimistic => match net_exposure {
            1 => false,
            -1 => true,
            _ => ohlc_high_first(bar),
        },
        IntrabarPolicy::Optimistic => match net_exposure {
            1 => true,
            -1 => false,
            _ => ohlc_high_first(bar),
        },
    };
    let (x1, x2) = if high_first {
        (bar.h, bar.l)
    } else {
        (bar.l, bar.h)
    };
    let t = bar.t;
    [
        (t, bar.o),
        (t + d / 3, x1),
        (t + 2 * d / 3, x2),
        (t + d - 1, bar.c),
    ]
}

fn ohlc_high_first(bar: &BarTicks) -> bool {
    (bar.h - bar.o) <= (bar.o - bar.l)
}

/// Price at time `t` on the segment `(ta, pa) → (tb, pb)`, truncated toward `pa`.
#[inline]
pub fn price_at(ta: i64, pa: i64, tb: i64, pb: i64, t: i64) -> i64 {
    if tb <= ta || t >= tb {
        return pb;
    }
    if t <= ta {
        return pa;
    }
    let num = (pb - pa) as i128 * (t - ta) as i128;
    pa + (num / (tb - ta) as i128) as i64
}

/// First time at which the segment `(ta, pa) → (tb, pb)` reaches price `x` (rounded up).
#[inline]
pub fn time_at(ta: i64, pa: i64, tb: i64, pb: i64, x: i64) -> i64 {
    if pb == pa || tb <= ta {
        return ta;
    }
    let num = (x - pa) as i128 * (tb - ta) as i128;
    let den = (pb - pa) as i128;
    // ceil(num/den) for same-sign num/den
    let q = num / den;
    let r = num % den;
    let q = if r != 0 { q + 1 } else { q };
    (ta as i128 + q).clamp(ta as i128, tb as i128) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    const B: BarTicks = BarTicks {
        t: 0,
        o: 100,
        h: 110,
        l: 97,
        c: 105,
    };

    #[test]
    fn ohlc_visits_nearer_extreme_first() {
        // binance-usdm-futures.md §8 modelling note: deterministic, configurable path.
        let p = path(&B, 60_000, IntrabarPolicy::Ohlc, 0);
        assert_eq!(p, [(0, 100), (20_000, 97), (40_000, 110), (59_999, 105)]);
    }

    #[test]
    fn pessimistic_and_optimistic_follow_the_position() {
        assert_eq!(path(&B, 60_000, IntrabarPolicy::Pessimistic, 1)[1].1, 97);
        assert_eq!(path(&B, 60_000, IntrabarPolicy::Pessimistic, -1)[1].1, 110);
        assert_eq!(path(&B, 60_000, IntrabarPolicy::Optimistic, 1)[1].1, 110);
        assert_eq!(path(&B, 60_000, IntrabarPolicy::Optimistic, -1)[1].1, 97);
    }

    #[test]
    fn interpolation_is_consistent() {
        // a price reached by time t must have a crossing time <= t
        for x in 101..=110 {
            let tx = time_at(0, 100, 20_000, 110, x);
            assert!(price_at(0, 100, 20_000, 110, tx) >= x);
            assert!(tx == 0 || price_at(0, 100, 20_000, 110, tx - 1) < x);
        }
        for x in (90..100).rev() {
            let tx = time_at(0, 100, 20_000, 90, x);
            assert!(price_at(0, 100, 20_000, 90, tx) <= x);
        }
    }
}
