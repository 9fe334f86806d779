//! The generated series the year-long benches share (`run_year`, `bracket`): a seeded random walk
//! of 1-minute bars from 2024-01-01 in ticks, the same bytes on every run.
#![allow(dead_code)]

use ocosim::exchange::BarTicks;

/// 2024-01-01 00:00 UTC.
pub const T0: i64 = 1_704_067_200_000;
/// One minute in ms.
pub const MIN: i64 = 60_000;

/// `n` 1-minute bars: a random walk of ±40 ticks a bar from 600,000 ticks (never below 100,000),
/// each bar's high and low up to 30 ticks beyond its body.
pub fn random_walk(n: i64) -> Vec<BarTicks> {
    let mut s: u64 = 0x5eed_2024;
    let mut next = || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (s >> 33) as i64
    };
    let mut p: i64 = 600_000;
    (0..n)
        .map(|i| {
            let o = p;
            p = (p + next() % 81 - 40).max(100_000);
            let c = p;
            BarTicks {
                t: T0 + i * MIN,
                o,
                h: o.max(c) + next() % 31,
                l: o.min(c) - next() % 31,
                c,
            }
        })
        .collect()
}
