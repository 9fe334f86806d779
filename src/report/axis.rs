//! Axes of the SVG charts: "nice" value ticks formatted with a fixed number of decimals (the
//! symbol's price precision, or cents for money) and UTC time ticks aligned to round minutes,
//! hours, days or months. Pure functions of their inputs, so the report's bytes stay stable.

use crate::types::{civil_from_days, days_from_civil};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

/// Value ticks inside `[lo, hi]`: multiples of a step of 1, 2 or 5 × 10^k chosen so that about
/// `target` ticks fit, never finer than `min_step` (e.g. the tick size). Empty when `lo > hi`.
pub(crate) fn value_ticks(lo: f64, hi: f64, min_step: Decimal, target: usize) -> Vec<Decimal> {
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return Vec::new();
    }
    let raw = ((hi - lo) / target.max(1) as f64).max(f64::MIN_POSITIVE);
    let e = raw.log10().floor() as i32;
    let mut step = Decimal::ZERO;
    for m in [1i64, 2, 5, 10] {
        let s = pow10(m, e);
        if s.to_f64().unwrap_or(0.0) >= raw * 0.999_999 {
            step = s;
            break;
        }
    }
    if step < min_step || step.is_zero() {
        step = if min_step.is_zero() {
            Decimal::ONE
        } else {
            min_step
        };
    }
    let sf = step.to_f64().unwrap_or(1.0);
    let k0 = (lo / sf).ceil() as i64;
    let k1 = (hi / sf).floor() as i64;
    if k1 - k0 > 1000 {
        return Vec::new();
    }
    (k0..=k1).map(|k| Decimal::from(k) * step).collect()
}

/// `m × 10^e` as an exact Decimal (`e` clamped to Decimal's range).
fn pow10(m: i64, e: i32) -> Decimal {
    let e = e.clamp(-20, 20);
    if e >= 0 {
        Decimal::from(m) * Decimal::from(10i64.pow(e as u32))
    } else {
        Decimal::new(m, (-e) as u32)
    }
}

/// `d` with exactly `dp` decimals (rounded half away from zero), never `-0`.
pub(crate) fn fixed(d: Decimal, dp: u32) -> String {
    let mut r = d.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    if r.is_zero() {
        r = Decimal::ZERO;
    }
    r.rescale(dp);
    r.to_string()
}

/// One time tick: its time and two label lines (the second empty unless the day, or for daily
/// ticks the year, changed since the previous tick).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimeTick {
    /// Milliseconds since the epoch (UTC).
    pub t: i64,
    /// `HH:MM`, `MM-DD` or `YYYY-MM`.
    pub label: String,
    /// `YYYY-MM-DD` or `YYYY` when it changed, else empty.
    pub sub: String,
}

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// UTC time ticks in `[t0, t1]`, at most `max` of them, aligned to round steps (1 s … 12 h,
/// 1 d … 14 d, then whole months).
pub(crate) fn time_ticks(t0: i64, t1: i64, max: usize) -> Vec<TimeTick> {
    let span = (t1 - t0).max(1);
    let max = max.max(2) as i64;
    const STEPS: [i64; 22] = [
        1_000,
        2_000,
        5_000,
        10_000,
        15_000,
        30_000,
        MIN,
        2 * MIN,
        5 * MIN,
        10 * MIN,
        15 * MIN,
        30 * MIN,
        HOUR,
        2 * HOUR,
        3 * HOUR,
        6 * HOUR,
        12 * HOUR,
        DAY,
        2 * DAY,
        4 * DAY,
        7 * DAY,
        14 * DAY,
    ];
    let mut out = Vec::new();
    if let Some(&step) = STEPS.iter().find(|&&s| span / s < max) {
        let mut t = t0.div_euclid(step) * step;
        if t < t0 {
            t += step;
        }
        let mut prev_day = None;
        let mut prev_year = None;
        while t <= t1 {
            let (y, m, d) = civil_from_days(t.div_euclid(DAY));
            let tod = t.rem_euclid(DAY);
            let (label, sub) = if step < DAY {
                let label = if step < MIN {
                    format!(
                        "{:02}:{:02}:{:02}",
                        tod / HOUR,
                        tod / MIN % 60,
                        tod / 1000 % 60
                    )
                } else {
                    format!("{:02}:{:02}", tod / HOUR, tod / MIN % 60)
                };
                let day = (y, m, d);
                let sub = if prev_day != Some(day) {
                    format!("{y:04}-{m:02}-{d:02}")
                } else {
                    String::new()
                };
                prev_day = Some(day);
                (label, sub)
            } else {
                let sub = if prev_year != Some(y) {
                    format!("{y:04}")
                } else {
                    String::new()
                };
                prev_year = Some(y);
                (format!("{m:02}-{d:02}"), sub)
            };
            out.push(TimeTick { t, label, sub });
            t += step;
        }
        return out;
    }
    // months: the first of every n-th month
    let months = span / (30 * DAY) + 1;
    let n = [1i64, 2, 3, 6, 12, 24, 60]
        .into_iter()
        .find(|&n| months / n < max)
        .unwrap_or(120);
    let (mut y, mut m, _) = civil_from_days(t0.div_euclid(DAY));
    let mut prev_year = None;
    loop {
        let t = days_from_civil(y, m, 1) * DAY;
        if t > t1 {
            break;
        }
        if t >= t0 && (i64::from(m) - 1) % n == 0 {
            let sub = if prev_year != Some(y) {
                format!("{y:04}")
            } else {
                String::new()
            };
            prev_year = Some(y);
            out.push(TimeTick {
                t,
                label: format!("{y:04}-{m:02}"),
                sub,
            });
        }
        m += 1;
        if m > 12 {
            m = 1;
            y += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn value_ticks_are_round_and_keep_the_tick_size() {
        let t = value_ticks(20.13, 21.97, d("0.001"), 5);
        let s: Vec<String> = t.iter().map(|v| fixed(*v, 3)).collect();
        assert_eq!(s, ["20.500", "21.000", "21.500"]);
        // a tiny range never goes below one tick
        let t = value_ticks(20.0001, 20.0049, d("0.001"), 5);
        let s: Vec<String> = t.iter().map(|v| fixed(*v, 3)).collect();
        assert_eq!(s, ["20.001", "20.002", "20.003", "20.004"]);
        let t = value_ticks(9950.0, 10_230.0, d("0.01"), 5);
        let s: Vec<String> = t.iter().map(|v| fixed(*v, 2)).collect();
        assert_eq!(s, ["10000.00", "10100.00", "10200.00"]);
        assert!(value_ticks(2.0, 1.0, Decimal::ONE, 5).is_empty());
    }

    #[test]
    fn time_ticks_align_to_utc_and_name_the_day() {
        let t0 = 1_769_904_000_000 + 7 * MIN; // 2026-02-01 00:07
        let ticks = time_ticks(t0, t0 + 8 * HOUR, 9);
        assert_eq!(ticks[0].label, "01:00");
        assert_eq!(ticks[0].sub, "2026-02-01");
        assert_eq!(ticks[1].label, "02:00");
        assert_eq!(ticks[1].sub, "");
        let ticks = time_ticks(t0, t0 + 365 * DAY, 9);
        assert!(ticks.iter().all(|k| k.label.ends_with("-01")
            || k.label.ends_with("-03")
            || k.label.ends_with("-05")
            || k.label.ends_with("-07")
            || k.label.ends_with("-09")
            || k.label.ends_with("-11")));
        assert!(ticks.len() <= 9 && ticks.len() >= 4, "{ticks:?}");
        assert_eq!(fixed(d("-0.0001"), 2), "0.00");
    }
}
