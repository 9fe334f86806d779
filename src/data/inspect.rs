//! A deterministic plain-text report on data files: what they hold, their time range, gaps, price range and
//! a small ASCII chart of close prices. Times are printed in UTC, formatted by hand (no time-zone database).

use std::fmt::Write as _;
use std::path::PathBuf;

use super::error::DataError;
use super::funding::{load_funding, FundingSeries};
use super::input::{data_start, expand_paths, line_end, read_input, trim_cr};
use super::kline::KlineSeries;
use super::parse::{fmt_e8, load_klines, load_mark_klines, LoadOptions};

/// Width of the ASCII chart in characters.
pub const CHART_WIDTH: usize = 60;
/// Height of the ASCII chart in lines.
pub const CHART_HEIGHT: usize = 12;
/// How many gaps the report lists one by one.
const GAPS_LISTED: usize = 5;

/// Converts days since 1970-01-01 to a proleptic Gregorian `(year, month, day)`.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm (public domain), valid for any i64 day count we can meet.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Converts a proleptic Gregorian date to days since 1970-01-01.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats ms since the epoch as `YYYY-MM-DD HH:MM:SS UTC`, with `.mmm` only when the milliseconds are not zero.
pub fn format_utc_ms(t_ms: i64) -> String {
    let days = t_ms.div_euclid(86_400_000);
    let ms_of_day = t_ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, ms) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    if ms == 0 {
        format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
    } else {
        format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{ms:03} UTC")
    }
}

/// Formats ms since the epoch as `YYYY-MM-DD HH:MM` (UTC, for compact labels).
pub fn format_utc_minute(t_ms: i64) -> String {
    let days = t_ms.div_euclid(86_400_000);
    let ms_of_day = t_ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60
    )
}

/// What kind of file the first path holds.
enum Kind {
    Klines,
    Mark6,
    Funding,
}

fn sniff_kind(paths: &[PathBuf]) -> Result<Kind, DataError> {
    let files = expand_paths(paths)?;
    let Some(first) = files.first() else {
        return Ok(Kind::Klines);
    };
    let input = read_input(first)?;
    let bytes = &input.bytes;
    let (start, _, has_header) = data_start(bytes);
    if has_header {
        let h0 = if bytes.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let header =
            String::from_utf8_lossy(trim_cr(&bytes[h0..line_end(bytes, h0)])).to_ascii_lowercase();
        if header.contains("funding") || header.contains("calc_time") {
            return Ok(Kind::Funding);
        }
    }
    let line = trim_cr(&bytes[start..line_end(bytes, start)]);
    Ok(match line.iter().filter(|&&c| c == b',').count() + 1 {
        6 => Kind::Mark6,
        2 | 3 => Kind::Funding,
        _ => Kind::Klines,
    })
}

/// Loads the given files (klines, 6-column mark klines or funding, detected from the first file) and
/// returns a deterministic text report with an ASCII chart.
pub fn inspect(paths: &[PathBuf]) -> Result<String, DataError> {
    let kind = sniff_kind(paths)?;
    let files = expand_paths(paths)?;
    let mut out = String::new();
    let _ = writeln!(out, "files     : {}", files.len());
    for f in &files {
        let _ = writeln!(out, "  {}", f.display());
    }
    match kind {
        Kind::Funding => {
            let s = load_funding(paths)?;
            report_funding(&mut out, &s);
        }
        Kind::Klines => {
            let s = load_klines(paths, &LoadOptions::default())?;
            report_klines(&mut out, &s, "klines (12 columns)");
        }
        Kind::Mark6 => {
            let s = load_mark_klines(paths, &LoadOptions::default())?;
            report_klines(&mut out, &s, "mark-price klines (6 columns)");
        }
    }
    Ok(out)
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "(unknown)"
    } else {
        s
    }
}

/// Signed percentage `(b - a) / a` with two decimals, computed in integers.
fn pct_change(a: i64, b: i64) -> String {
    if a == 0 {
        return "n/a".into();
    }
    let bp = (i128::from(b) - i128::from(a)) * 1_000_000 / i128::from(a); // 1e-4 %
    let rounded = if bp >= 0 {
        (bp + 50) / 100
    } else {
        (bp - 50) / 100
    }; // 1e-2 %
    let sign = if rounded < 0 { "-" } else { "+" };
    let r = rounded.abs();
    format!("{sign}{}.{:02}%", r / 100, r % 100)
}

fn report_klines(out: &mut String, s: &KlineSeries, kind: &str) {
    let _ = writeln!(out, "kind      : {kind}");
    let _ = writeln!(out, "symbol    : {}", or_unknown(&s.symbol));
    let _ = writeln!(
        out,
        "interval  : {} ({} ms)",
        super::kline::interval_name(s.interval_ms),
        s.interval_ms
    );
    let _ = writeln!(out, "rows      : {}", s.len());
    if s.is_empty() {
        let _ = writeln!(out, "(no rows)");
        return;
    }
    let n = s.len();
    let first = s.open_time_ms[0];
    let last = s.open_time_ms[n - 1];
    let _ = writeln!(
        out,
        "from      : {} (open_time {first})",
        format_utc_ms(first)
    );
    let _ = writeln!(
        out,
        "to        : {} (last open_time {last})",
        format_utc_ms(last)
    );
    let missing: i64 = s.gaps.iter().map(|g| g.missing_bars).sum();
    let _ = writeln!(out, "gaps      : {} ({missing} missing bars)", s.gaps.len());
    for g in s.gaps.iter().take(GAPS_LISTED) {
        let _ = writeln!(
            out,
            "  {} .. {} ({} bars)",
            format_utc_minute(g.from_ms),
            format_utc_minute(g.to_ms),
            g.missing_bars
        );
    }
    if s.gaps.len() > GAPS_LISTED {
        let _ = writeln!(out, "  ... and {} more", s.gaps.len() - GAPS_LISTED);
    }
    // The first bar wins ties, so the output does not depend on iteration details.
    let (mut lo_i, mut hi_i) = (0, 0);
    for i in 1..n {
        if s.low_e8[i] < s.low_e8[lo_i] {
            lo_i = i;
        }
        if s.high_e8[i] > s.high_e8[hi_i] {
            hi_i = i;
        }
    }
    let _ = writeln!(
        out,
        "low       : {} at {}",
        fmt_e8(i128::from(s.low_e8[lo_i])),
        format_utc_minute(s.open_time_ms[lo_i])
    );
    let _ = writeln!(
        out,
        "high      : {} at {}",
        fmt_e8(i128::from(s.high_e8[hi_i])),
        format_utc_minute(s.open_time_ms[hi_i])
    );
    let _ = writeln!(
        out,
        "close     : {} -> {} ({})",
        fmt_e8(i128::from(s.close_e8[0])),
        fmt_e8(i128::from(s.close_e8[n - 1])),
        pct_change(s.close_e8[0], s.close_e8[n - 1])
    );
    let vol: i128 = s.volume_e8.iter().sum();
    let qvol: i128 = s.quote_volume_e8.iter().sum();
    let trades: u128 = s.count.iter().map(|&c| u128::from(c)).sum();
    let _ = writeln!(
        out,
        "volume    : {} base, {} quote, {trades} trades",
        fmt_e8(vol),
        fmt_e8(qvol)
    );
    chart(out, &s.open_time_ms, &s.close_e8, "close");
}

fn report_funding(out: &mut String, s: &FundingSeries) {
    let _ = writeln!(out, "kind      : funding rates");
    let _ = writeln!(out, "symbol    : {}", or_unknown(&s.symbol));
    let _ = writeln!(out, "rows      : {}", s.len());
    if s.is_empty() {
        let _ = writeln!(out, "(no rows)");
        return;
    }
    let n = s.len();
    let _ = writeln!(out, "from      : {}", format_utc_ms(s.time_ms[0]));
    let _ = writeln!(out, "to        : {}", format_utc_ms(s.time_ms[n - 1]));
    let mut steps: Vec<i64> = s
        .time_ms
        .windows(2)
        .map(|w| (w[1] - w[0] + 30_000) / 60_000)
        .collect();
    steps.sort_unstable();
    steps.dedup();
    let steps_txt: Vec<String> = steps
        .iter()
        .take(5)
        .map(|m| format!("{}h{:02}m", m / 60, m % 60))
        .collect();
    let _ = writeln!(
        out,
        "steps     : {}",
        if steps_txt.is_empty() {
            "-".to_string()
        } else {
            steps_txt.join(", ")
        }
    );
    let mut hours: Vec<u32> = s.interval_hours.iter().flatten().copied().collect();
    hours.sort_unstable();
    hours.dedup();
    if !hours.is_empty() {
        let h: Vec<String> = hours.iter().map(u32::to_string).collect();
        let _ = writeln!(out, "interval h: {}", h.join(", "));
    }
    let (mut lo, mut hi) = (0, 0);
    for i in 1..n {
        if s.rate[i] < s.rate[lo] {
            lo = i;
        }
        if s.rate[i] > s.rate[hi] {
            hi = i;
        }
    }
    let _ = writeln!(
        out,
        "rate min  : {} at {}",
        s.rate[lo],
        format_utc_minute(s.time_ms[lo])
    );
    let _ = writeln!(
        out,
        "rate max  : {} at {}",
        s.rate[hi],
        format_utc_minute(s.time_ms[hi])
    );
    let sum: rust_decimal::Decimal = s.rate.iter().copied().sum();
    let _ = writeln!(out, "rate sum  : {sum}");
    let e8: Vec<i64> = s
        .rate
        .iter()
        .map(|r| {
            super::kline::decimal_to_e8(*r)
                .ok()
                .and_then(|v| i64::try_from(v).ok())
                .unwrap_or(0)
        })
        .collect();
    chart(out, &s.time_ms, &e8, "rate");
}

/// Draws `values` (e8) over time as a `CHART_WIDTH` × `CHART_HEIGHT` character chart: each column shows
/// the range of its values (`:`) and its last value (`*`); min and max label the left axis.
fn chart(out: &mut String, times: &[i64], values: &[i64], what: &str) {
    let n = values.len();
    if n == 0 {
        return;
    }
    let w = CHART_WIDTH.min(n);
    let h = CHART_HEIGHT;
    let lo = values.iter().copied().min().unwrap_or(0);
    let hi = values.iter().copied().max().unwrap_or(0);
    let span = i128::from(hi) - i128::from(lo);
    let level = |v: i64| -> usize {
        if span == 0 {
            return h / 2;
        }
        let x = (i128::from(v) - i128::from(lo)) * (h as i128 - 1);
        usize::try_from((x + span / 2) / span)
            .unwrap_or(0)
            .min(h - 1)
    };
    let mut grid = vec![vec![b' '; w]; h];
    for (c, col) in (0..w).map(|c| (c, (c * n / w, ((c + 1) * n / w).max(c * n / w + 1)))) {
        let (a, b) = col;
        let slice = &values[a..b.min(n)];
        let (mn, mx) = slice
            .iter()
            .fold((i64::MAX, i64::MIN), |(mn, mx), &v| (mn.min(v), mx.max(v)));
        for row in grid.iter_mut().take(level(mx) + 1).skip(level(mn)) {
            row[c] = b':';
        }
        grid[level(slice[slice.len() - 1])][c] = b'*';
    }
    let hi_s = fmt_e8(i128::from(hi));
    let lo_s = fmt_e8(i128::from(lo));
    let lw = hi_s.len().max(lo_s.len());
    let per = n.div_ceil(w);
    let _ = writeln!(
        out,
        "chart of {what} ({w} x {h}, up to {per} rows per column, * = last value, : = range):"
    );
    for (r, row) in grid.iter().enumerate().rev() {
        let label = if r == h - 1 {
            hi_s.as_str()
        } else if r == 0 {
            lo_s.as_str()
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{label:>lw$} |{}",
            String::from_utf8_lossy(row).trim_end()
        );
    }
    let _ = writeln!(out, "{:>lw$} +{}", "", "-".repeat(w));
    let left = format_utc_minute(times[0]);
    let right = format_utc_minute(times[n - 1]);
    let pad = (w + 1).saturating_sub(left.len() + right.len()).max(1);
    let _ = writeln!(out, "{:>lw$}  {left}{}{right}", "", " ".repeat(pad));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc_ms(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc_ms(1_769_904_000_000), "2026-02-01 00:00:00 UTC");
        assert_eq!(
            format_utc_ms(1_675_209_600_013),
            "2023-02-01 00:00:00.013 UTC"
        );
        assert_eq!(
            format_utc_ms(1_709_164_799_999),
            "2024-02-28 23:59:59.999 UTC"
        );
        assert_eq!(format_utc_minute(1_709_251_200_000), "2024-03-01 00:00");
        assert_eq!(format_utc_ms(-1), "1969-12-31 23:59:59.999 UTC");
        for d in [-800_000, -1, 0, 59, 60, 11_016, 19_782, 2_932_896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn percent() {
        assert_eq!(pct_change(10_128, 9_162), "-9.54%");
        assert_eq!(pct_change(100, 150), "+50.00%");
        assert_eq!(pct_change(0, 1), "n/a");
    }
}
