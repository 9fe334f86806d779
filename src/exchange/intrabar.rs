//! Intrabar path policy: which way a bar went between its open and its close.
//!
//! A kline gives O/H/L/C only. The mock walks a declared piecewise-linear path through each bar:
//! a jump from the previous price to the open at `t0` (a gap fills there), then three straight
//! segments `O → X1 → X2 → C` with the points at `t0`, `t0 + d/3`, `t0 + 2d/3`, `t0 + d − 1` for
//! a bar of `d` ms. `X1`/`X2` are the two extremes in the order the policy picks:
//! - `ohlc`: the extreme nearer to the open first (ties: low first, as NautilusTrader's
//!   adaptive high/low ordering does, so both backtesters walk a symmetric bar the same way);
//! - `pessimistic`: the adverse extreme for the largest open position first (low for a long);
//! - `optimistic`: the favourable extreme first;
//! - `refine`: the lower-timeframe bars inside the bar, each walked with `ohlc`.
//!
//! `pessimistic` and `optimistic` hold for every position from the moment it exists: when a
//! position opens or grows inside a bar, the rest of the bar is re-planned from the current point
//! ([`replan`]): the extreme the policy picks for the exposure now, then the other one, then the
//! close. The bar's high, low and close are kept; only the order inside the bar changes.
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
    let high_first =
        policy_high_first(policy, net_exposure).unwrap_or_else(|| ohlc_high_first(bar));
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
    // strictly nearer; equal distances go low first (NautilusTrader's adaptive ordering)
    (bar.h - bar.o) < (bar.o - bar.l)
}

/// Whether `policy` visits the high before the low for exposure `net_exposure` (None: the
/// policy does not depend on positions, or there is no exposure).
fn policy_high_first(policy: IntrabarPolicy, net_exposure: i64) -> Option<bool> {
    match (policy, net_exposure) {
        (IntrabarPolicy::Pessimistic, 1) | (IntrabarPolicy::Optimistic, -1) => Some(false),
        (IntrabarPolicy::Pessimistic, -1) | (IntrabarPolicy::Optimistic, 1) => Some(true),
        _ => None,
    }
}

/// Bit of [`visited`]: the bar's high has been reached.
pub const VISITED_HIGH: u8 = 1;
/// Bit of [`visited`]: the bar's low has been reached.
pub const VISITED_LOW: u8 = 2;

/// The extremes of `bar` reached so far on path `cur` inside segment `seg` at `price`, added to
/// `before` (what earlier plans of the same bar reached).
pub fn visited(cur: &Path, seg: u8, price: i64, bar: &BarTicks, before: u8) -> u8 {
    let mut v = before;
    let passed = cur[1..(seg as usize).clamp(1, 3)]
        .iter()
        .map(|p| p.1)
        .chain(std::iter::once(price));
    for p in passed {
        if p >= bar.h {
            v |= VISITED_HIGH;
        }
        if p <= bar.l {
            v |= VISITED_LOW;
        }
    }
    v
}

/// The rest of a bar re-planned at `(now, price)` inside segment `seg` (1..=3) of `cur` for a new
/// exposure, given the extremes already `seen` ([`visited`]): the extreme the policy picks comes
/// next (again, if it was reached before the exposure existed), then the other one if it has not
/// been reached yet, then the close. Inside segment 1 with both extremes ahead the original point
/// times are kept (an entry at the open walks exactly the path it would have walked had it existed
/// before the open); otherwise the remaining time is split in thirds (a lone extreme is held for
/// the middle third). Returns None when nothing changes: the policy does not depend on the
/// exposure, or the path already goes the policy's way.
#[allow(clippy::too_many_arguments)]
pub fn replan(
    cur: &Path,
    seg: u8,
    now: i64,
    price: i64,
    bar: &BarTicks,
    policy: IntrabarPolicy,
    net_exposure: i64,
    seen: u8,
) -> Option<Path> {
    let high_first = policy_high_first(policy, net_exposure)?;
    let (x1, x2, x2_bit) = if high_first {
        (bar.h, bar.l, VISITED_LOW)
    } else {
        (bar.l, bar.h, VISITED_HIGH)
    };
    let both = seen & x2_bit == 0;
    // the extremes the current plan still visits, consecutive repeats merged
    let seg = seg.clamp(1, 3) as usize;
    let mut cur_ahead = [0i64; 2];
    let mut n = 0;
    for p in &cur[seg..3] {
        if n == 0 || cur_ahead[n - 1] != p.1 {
            cur_ahead[n] = p.1;
            n += 1;
        }
    }
    let want: &[i64] = if both { &[x1, x2] } else { &[x1] };
    if &cur_ahead[..n] == want {
        return None;
    }
    let end = cur[3].0;
    let r = (end - now).max(0);
    let (a, b) = if seg == 1 && both {
        (cur[1].0, cur[2].0)
    } else {
        (now + r / 3, now + 2 * r / 3)
    };
    let second = if both { x2 } else { x1 };
    Some([(now, price), (a, x1), (b, second), (end, bar.c)])
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
    // the product fits in i64 for any real bar (ticks × ms); i128 only when it does not
    match (pb - pa).checked_mul(t - ta) {
        Some(num) => pa + num / (tb - ta),
        None => {
            let num = (pb - pa) as i128 * (t - ta) as i128;
            pa + (num / (tb - ta) as i128) as i64
        }
    }
}

/// First time at which the segment `(ta, pa) → (tb, pb)` reaches price `x` (rounded up).
#[inline]
pub fn time_at(ta: i64, pa: i64, tb: i64, pb: i64, x: i64) -> i64 {
    if pb == pa || tb <= ta {
        return ta;
    }
    if let Some(num) = (x - pa).checked_mul(tb - ta).filter(|&n| n != i64::MIN) {
        // the same ceiling in i64 (the common case: no overflow)
        let den = pb - pa;
        let q = num / den;
        let q = if num % den != 0 { q + 1 } else { q };
        return ta.saturating_add(q).clamp(ta, tb);
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

    /// The i128 formulas the i64 fast paths must agree with.
    fn price_at_wide(ta: i64, pa: i64, tb: i64, pb: i64, t: i64) -> i64 {
        if tb <= ta || t >= tb {
            return pb;
        }
        if t <= ta {
            return pa;
        }
        pa + (((pb - pa) as i128 * (t - ta) as i128) / (tb - ta) as i128) as i64
    }
    fn time_at_wide(ta: i64, pa: i64, tb: i64, pb: i64, x: i64) -> i64 {
        if pb == pa || tb <= ta {
            return ta;
        }
        let num = (x - pa) as i128 * (tb - ta) as i128;
        let den = (pb - pa) as i128;
        let q = num / den + i128::from(num % den != 0);
        (ta as i128 + q).clamp(ta as i128, tb as i128) as i64
    }

    #[test]
    fn fast_paths_agree_with_i128_even_near_overflow() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |m: i64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % (2 * m as u64 + 1)) as i64 - m
        };
        for &m in &[1_000i64, 60_000, 1 << 31, 1 << 40, i64::MAX / 4] {
            for _ in 0..2_000 {
                let (ta, pa) = (next(m), next(m));
                let (tb, pb) = (ta + next(m).abs(), pa + next(m));
                let t = ta + next(m).abs() % (tb - ta + 1);
                assert_eq!(
                    price_at(ta, pa, tb, pb, t),
                    price_at_wide(ta, pa, tb, pb, t)
                );
                let lo = pa.min(pb);
                let xx = lo + next(m).abs() % ((pa - pb).abs() + 1);
                assert_eq!(
                    time_at(ta, pa, tb, pb, xx),
                    time_at_wide(ta, pa, tb, pb, xx)
                );
            }
        }
    }
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
    fn equal_distances_go_low_first() {
        let sym = BarTicks {
            t: 0,
            o: 100,
            h: 105,
            l: 95,
            c: 100,
        };
        assert_eq!(path(&sym, 60_000, IntrabarPolicy::Ohlc, 0)[1].1, 95);
    }

    #[test]
    fn replan_puts_the_policy_extreme_next_and_keeps_the_bar() {
        // ohlc plan of a flat account: low (97) at 20 s, high (110) at 40 s
        let p = path(&B, 60_000, IntrabarPolicy::Ohlc, 0);
        // a short opened at the open under pessimistic: high first, on the original grid
        let r = replan(&p, 1, 0, 100, &B, IntrabarPolicy::Pessimistic, -1, 0).unwrap();
        assert_eq!(r, [(0, 100), (20_000, 110), (40_000, 97), (59_999, 105)]);
        // a long: the plan already goes low first, nothing changes
        assert_eq!(
            replan(&p, 1, 0, 100, &B, IntrabarPolicy::Pessimistic, 1, 0),
            None
        );
        // ohlc and refine never re-plan
        assert_eq!(replan(&p, 1, 0, 100, &B, IntrabarPolicy::Ohlc, -1, 0), None);
        // a long opened at 30 s (low reached, heading to the high): back to the low, then the
        // high, then the close, in the remaining time
        let seen = visited(&p, 2, 103, &B, 0);
        assert_eq!(seen, VISITED_LOW);
        let r = replan(&p, 2, 30_000, 103, &B, IntrabarPolicy::Pessimistic, 1, seen).unwrap();
        assert_eq!(
            r,
            [(30_000, 103), (39_999, 97), (49_999, 110), (59_999, 105)]
        );
        // a short opened at 50 s (both reached): the high once more, then the close
        let seen = visited(&p, 3, 108, &B, 0);
        assert_eq!(seen, VISITED_LOW | VISITED_HIGH);
        let r = replan(
            &p,
            3,
            50_000,
            108,
            &B,
            IntrabarPolicy::Pessimistic,
            -1,
            seen,
        )
        .unwrap();
        assert_eq!(r[1].1, 110);
        assert_eq!(r[2].1, 110);
        assert_eq!(r[3], (59_999, 105));
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
