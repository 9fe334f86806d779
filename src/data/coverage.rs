//! Coverage warnings: the bars a series is missing inside a chosen time range, as one-line texts
//! for the terminal (`sim check`, `sim run`) and the report.
//!
//! Missing bars are never filled in; a run walks straight over them, so a user must hear of them.
//! A warning names the series, how many bars are missing and the open times of the first and last
//! of them (UTC). Gaps between rows come from the loader ([`KlineSeries::gaps`]); with a range
//! given, bars missing before the first row or after the last one are gaps too. At most
//! [`GAPS_LISTED`] gaps are listed one by one, then one line sums up the rest.

use super::inspect::format_utc_minute;
use super::kline::{interval_name, Gap, KlineSeries};

/// How many gaps are listed one by one before a last line sums up the rest.
pub const GAPS_LISTED: usize = 20;

/// One line per gap of `s` inside `[from_ms, to_ms)`, `what` naming the series (`"klines"`).
///
/// `s` must already be cut to the range ([`KlineSeries::slice_time`]); `from_ms`/`to_ms`, when
/// given, also report bars missing before its first or after its last bar. Empty when nothing
/// is missing.
pub fn gap_warnings(
    what: &str,
    s: &KlineSeries,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
) -> Vec<String> {
    let iv = s.interval_ms;
    let (Some(&first), Some(&last)) = (s.open_time_ms.first(), s.open_time_ms.last()) else {
        return Vec::new();
    };
    if iv <= 0 {
        return Vec::new();
    }
    let iv128 = i128::from(iv);
    let mut gaps: Vec<(Gap, &str)> = Vec::new();
    if let Some(f) = from_ms {
        // bars that would open in [from, first): first - k*iv for k = 1..=n
        let n = (i128::from(first) - i128::from(f)).max(0) / iv128;
        if n > 0 {
            gaps.push((
                Gap {
                    from_ms: (i128::from(first) - n * iv128) as i64,
                    to_ms: first - iv,
                    missing_bars: n as i64,
                },
                " before the first bar",
            ));
        }
    }
    gaps.extend(s.gaps.iter().map(|g| (*g, "")));
    if let Some(t) = to_ms {
        // bars that would open in (last, to): last + k*iv for k = 1..=n
        let room = i128::from(t) - i128::from(last) - 1;
        let n = room.max(0) / iv128;
        if n > 0 {
            gaps.push((
                Gap {
                    from_ms: last.saturating_add(iv),
                    to_ms: (i128::from(last) + n * iv128) as i64,
                    missing_bars: n as i64,
                },
                " after the last bar",
            ));
        }
    }
    let name = interval_name(iv);
    let mut out: Vec<String> = gaps
        .iter()
        .take(GAPS_LISTED)
        .map(|(g, edge)| {
            format!(
                "{what}: {} missing {name} bar{} from {} to {} UTC{edge}",
                g.missing_bars,
                if g.missing_bars == 1 { "" } else { "s" },
                format_utc_minute(g.from_ms),
                format_utc_minute(g.to_ms)
            )
        })
        .collect();
    if gaps.len() > GAPS_LISTED {
        let rest = &gaps[GAPS_LISTED..];
        let bars: i128 = rest.iter().map(|(g, _)| i128::from(g.missing_bars)).sum();
        out.push(format!(
            "{what}: {} more gaps, {bars} missing {name} bars in all (`sim data inspect` lists them)",
            rest.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const T0: i64 = 1_769_904_000_000; // 2026-02-01 00:00 UTC

    fn series(times: &[i64]) -> KlineSeries {
        let mut s = KlineSeries::new("AVAXUSDT", MIN);
        s.open_time_ms = times.to_vec();
        for w in times.windows(2) {
            if w[1] - w[0] != MIN {
                s.gaps.push(Gap {
                    from_ms: w[0] + MIN,
                    to_ms: w[1] - MIN,
                    missing_bars: (w[1] - w[0]) / MIN - 1,
                });
            }
        }
        s
    }

    #[test]
    fn gaps_and_edges_are_named() {
        let s = series(&[T0 + 2 * MIN, T0 + 3 * MIN, T0 + 7 * MIN]);
        assert_eq!(
            gap_warnings("klines", &s, Some(T0), Some(T0 + 10 * MIN)),
            vec![
                "klines: 2 missing 1m bars from 2026-02-01 00:00 to 2026-02-01 00:01 UTC before the first bar",
                "klines: 3 missing 1m bars from 2026-02-01 00:04 to 2026-02-01 00:06 UTC",
                "klines: 2 missing 1m bars from 2026-02-01 00:08 to 2026-02-01 00:09 UTC after the last bar",
            ]
        );
        // a range the bars fill exactly: nothing to say
        let full = series(&[T0, T0 + MIN, T0 + 2 * MIN]);
        assert!(gap_warnings("klines", &full, Some(T0), Some(T0 + 3 * MIN)).is_empty());
        assert!(gap_warnings("klines", &full, None, None).is_empty());
        // a range start inside a bar before the first adds nothing; an end 1 ms past the next
        // bar's open time asks for that bar
        assert!(gap_warnings("klines", &full, Some(T0 - 1), Some(T0 + 3 * MIN)).is_empty());
        assert_eq!(
            gap_warnings("klines", &full, None, Some(T0 + 3 * MIN + 1)),
            vec!["klines: 1 missing 1m bar from 2026-02-01 00:03 to 2026-02-01 00:03 UTC after the last bar"]
        );
        let one = series(&[T0, T0 + 2 * MIN]);
        assert_eq!(
            gap_warnings("mark klines", &one, None, None),
            vec!["mark klines: 1 missing 1m bar from 2026-02-01 00:01 to 2026-02-01 00:01 UTC"]
        );
    }

    #[test]
    fn many_gaps_are_summed_up() {
        let times: Vec<i64> = (0..30).map(|k| T0 + 2 * k * MIN).collect();
        let w = gap_warnings("klines", &series(&times), None, None);
        assert_eq!(w.len(), GAPS_LISTED + 1);
        assert_eq!(
            w[GAPS_LISTED],
            "klines: 9 more gaps, 9 missing 1m bars in all (`sim data inspect` lists them)"
        );
    }
}
