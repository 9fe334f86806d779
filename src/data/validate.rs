//! Row validation shared by every loader: OHLC consistency, close time, strict ordering and gap detection.
//!
//! Both CSV loaders and [`KlineSeries::from_klines`] feed rows through the same [`Builder`], so they accept
//! and reject exactly the same inputs with the same messages.

use super::error::DataError;
use super::inspect::format_utc_ms;
use super::kline::{interval_name, Gap, KlineSeries};
use super::parse::fmt_e8;

/// One parsed kline row before it is appended (prices as e8 mantissas, times in ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RawRow {
    pub open_time: i64,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    pub volume: i128,
    pub close_time: i64,
    pub quote_volume: i128,
    pub count: u64,
    pub taker_buy_volume: i128,
    pub taker_buy_quote_volume: i128,
}

/// Accumulates validated rows into a [`KlineSeries`], remembering where the previous row came from.
pub(crate) struct Builder {
    series: KlineSeries,
    /// File of the previous row (set lazily by [`Builder::begin_file`]).
    prev_file: String,
    /// File now being read and whether it has produced a row yet.
    cur_file: String,
    cur_has_rows: bool,
    prev_line: usize,
}

impl Builder {
    /// Starts an empty series; `interval_ms` may be 0 until the first file tells it (see [`Builder::set_interval`]).
    pub fn new(symbol: String, interval_ms: i64, capacity: usize) -> Self {
        let mut series = KlineSeries::new(symbol, interval_ms);
        series.open_time_ms.reserve(capacity);
        series.open_e8.reserve(capacity);
        series.high_e8.reserve(capacity);
        series.low_e8.reserve(capacity);
        series.close_e8.reserve(capacity);
        series.volume_e8.reserve(capacity);
        series.quote_volume_e8.reserve(capacity);
        series.count.reserve(capacity);
        series.taker_buy_volume_e8.reserve(capacity);
        series.taker_buy_quote_volume_e8.reserve(capacity);
        Builder {
            series,
            prev_file: String::new(),
            cur_file: String::new(),
            cur_has_rows: false,
            prev_line: 0,
        }
    }

    /// Announces that the following rows come from `file` (used to name the previous row in ordering errors).
    pub fn begin_file(&mut self, file: &str) {
        if self.cur_has_rows {
            self.prev_file = std::mem::take(&mut self.cur_file);
        }
        self.cur_file = file.to_string();
        self.cur_has_rows = false;
    }

    /// The bar length in force (0 while unknown).
    pub fn interval_ms(&self) -> i64 {
        self.series.interval_ms
    }

    /// The symbol in force (`""` while unknown).
    pub fn symbol(&self) -> &str {
        &self.series.symbol
    }

    /// Fixes the bar length.
    pub fn set_interval(&mut self, interval_ms: i64) {
        self.series.interval_ms = interval_ms;
    }

    /// Fixes the symbol.
    pub fn set_symbol(&mut self, symbol: &str) {
        self.series.symbol = symbol.to_string();
    }

    /// Reserves room for `n` more rows.
    pub fn reserve(&mut self, n: usize) {
        let s = &mut self.series;
        s.open_time_ms.reserve(n);
        s.open_e8.reserve(n);
        s.high_e8.reserve(n);
        s.low_e8.reserve(n);
        s.close_e8.reserve(n);
        s.volume_e8.reserve(n);
        s.quote_volume_e8.reserve(n);
        s.count.reserve(n);
        s.taker_buy_volume_e8.reserve(n);
        s.taker_buy_quote_volume_e8.reserve(n);
    }

    /// Validates `row` (read from `file` at `line`) against itself and the previous row, then appends it.
    #[inline]
    pub fn push(&mut self, row: &RawRow, file: &str, line: usize) -> Result<(), DataError> {
        let interval = self.series.interval_ms;
        check_row(row, interval, file, line)?;
        if let Some(&prev) = self.series.open_time_ms.last() {
            if row.open_time.checked_sub(prev) != Some(interval) {
                let prev_file = if self.cur_has_rows {
                    &self.cur_file
                } else {
                    &self.prev_file
                };
                let at = previous_row_at(prev_file, self.prev_line, file);
                let gap = check_step(prev, row.open_time, interval, &at, file, line)?;
                self.series.gaps.push(gap);
            }
        }
        let s = &mut self.series;
        s.open_time_ms.push(row.open_time);
        s.open_e8.push(row.open);
        s.high_e8.push(row.high);
        s.low_e8.push(row.low);
        s.close_e8.push(row.close);
        s.volume_e8.push(row.volume);
        s.quote_volume_e8.push(row.quote_volume);
        s.count.push(row.count);
        s.taker_buy_volume_e8.push(row.taker_buy_volume);
        s.taker_buy_quote_volume_e8.push(row.taker_buy_quote_volume);
        self.cur_has_rows = true;
        self.prev_line = line;
        Ok(())
    }

    /// The finished series.
    pub fn finish(self) -> KlineSeries {
        self.series
    }
}

/// How an ordering error names the previous row: `line N` in the same file, `FILE:N` across files.
pub(crate) fn previous_row_at(prev_file: &str, prev_line: usize, file: &str) -> String {
    if prev_file == file {
        format!("line {prev_line}")
    } else {
        format!("{prev_file}:{prev_line}")
    }
}

/// Checks one row on its own: a known bar length, `close_time = open_time + interval - 1`,
/// positive prices, non-negative volumes and a consistent high/low.
#[inline(always)]
pub(crate) fn check_row(
    row: &RawRow,
    interval: i64,
    file: &str,
    line: usize,
) -> Result<(), DataError> {
    if interval <= 0 {
        return Err(unknown_interval(file, line));
    }
    if row.close_time != row.open_time.saturating_add(interval - 1) {
        return Err(close_time_error(row, interval, file, line));
    }
    if row.open.min(row.high).min(row.low).min(row.close) <= 0 {
        return Err(price_error(row, file, line));
    }
    // The sign bit of the OR is set iff one of them is negative.
    if (row.volume | row.quote_volume | row.taker_buy_volume | row.taker_buy_quote_volume) < 0 {
        return Err(volume_error(row, file, line));
    }
    if row.high < row.open.max(row.close) || row.high < row.low {
        return Err(high_error(row, file, line));
    }
    if row.low > row.open.min(row.close) {
        return Err(low_error(row, file, line));
    }
    Ok(())
}

/// The error for a row whose bar length nobody could tell.
#[cold]
pub(crate) fn unknown_interval(file: &str, line: usize) -> DataError {
    DataError::parse(
        file,
        line,
        "interval",
        "the bar length is unknown (name the file SYMBOL-1m-... or set LoadOptions::expect_interval_ms)",
    )
}

/// Handles an open-time step from `prev` to `t` that is not exactly one interval: the gap it
/// leaves, or an error naming the previous row (`at`, see [`previous_row_at`]).
#[cold]
pub(crate) fn check_step(
    prev: i64,
    t: i64,
    interval: i64,
    at: &str,
    file: &str,
    line: usize,
) -> Result<Gap, DataError> {
    if t == prev {
        return Err(DataError::parse(
            file,
            line,
            "open_time",
            format!(
                "{t} ({}) duplicates the previous row at {at} (remove one of the two rows; files must not overlap)",
                format_utc_ms(t)
            ),
        ));
    }
    if t < prev {
        return Err(DataError::parse(
            file,
            line,
            "open_time",
            format!(
                "{t} ({}) is earlier than the previous row's {prev} ({}) at {at} (rows must be sorted by open_time; files are read in file-name order)",
                format_utc_ms(t),
                format_utc_ms(prev)
            ),
        ));
    }
    let delta = t.saturating_sub(prev);
    if delta % interval != 0 || delta == i64::MAX {
        return Err(DataError::parse(
            file,
            line,
            "open_time",
            format!(
                "{t} ({}) is {delta} ms after the previous row at {at}, not a multiple of the {} interval (mixed intervals or a shifted timestamp)",
                format_utc_ms(t),
                interval_name(interval)
            ),
        ));
    }
    Ok(Gap {
        from_ms: prev + interval,
        to_ms: t - interval,
        missing_bars: delta / interval - 1,
    })
}

#[cold]
fn close_time_error(row: &RawRow, interval: i64, file: &str, line: usize) -> DataError {
    let implied = row
        .close_time
        .saturating_sub(row.open_time)
        .saturating_add(1);
    DataError::parse(
        file,
        line,
        "close_time",
        format!(
            "{} is not open_time + interval - 1 = {} (interval {}; this row spans {} ms: wrong interval or timestamp unit)",
            row.close_time,
            row.open_time.saturating_add(interval - 1),
            interval_name(interval),
            implied
        ),
    )
}

/// The error for the first price of a row (in column order) that is zero or negative.
#[cold]
fn price_error(row: &RawRow, file: &str, line: usize) -> DataError {
    let fields = [
        ("open", row.open),
        ("high", row.high),
        ("low", row.low),
        ("close", row.close),
    ];
    let (name, v) = fields
        .into_iter()
        .find(|&(_, v)| v <= 0)
        .unwrap_or(("open", row.open));
    DataError::parse(
        file,
        line,
        name,
        format!(
            "{} is not a positive price (prices must be > 0; check the source file)",
            fmt_e8(i128::from(v))
        ),
    )
}

/// The error for the first volume of a row (in column order) that is negative.
#[cold]
fn volume_error(row: &RawRow, file: &str, line: usize) -> DataError {
    let fields = [
        ("volume", row.volume),
        ("quote_volume", row.quote_volume),
        ("taker_buy_volume", row.taker_buy_volume),
        ("taker_buy_quote_volume", row.taker_buy_quote_volume),
    ];
    let (name, v) = fields
        .into_iter()
        .find(|&(_, v)| v < 0)
        .unwrap_or(("volume", row.volume));
    DataError::parse(
        file,
        line,
        name,
        format!(
            "{} is negative (volumes must be >= 0; check the source file)",
            fmt_e8(v)
        ),
    )
}

#[cold]
fn high_error(row: &RawRow, file: &str, line: usize) -> DataError {
    let msg = if row.high < row.low {
        format!(
            "high {} is below low {} (the bar is inconsistent; check the source file)",
            fmt_e8(i128::from(row.high)),
            fmt_e8(i128::from(row.low))
        )
    } else {
        format!(
            "high {} is below max(open, close) = {} (the bar is inconsistent; check the source file)",
            fmt_e8(i128::from(row.high)),
            fmt_e8(i128::from(row.open.max(row.close)))
        )
    };
    DataError::parse(file, line, "high", msg)
}

#[cold]
fn low_error(row: &RawRow, file: &str, line: usize) -> DataError {
    DataError::parse(
        file,
        line,
        "low",
        format!(
            "low {} is above min(open, close) = {} (the bar is inconsistent; check the source file)",
            fmt_e8(i128::from(row.low)),
            fmt_e8(i128::from(row.open.min(row.close)))
        ),
    )
}

/// Checks that timestamps of a non-kline series (funding) strictly increase; returns the error for row `t`.
pub(crate) fn check_increasing(
    prev: Option<(i64, &str, usize)>,
    t: i64,
    field: &str,
    file: &str,
    line: usize,
) -> Result<(), DataError> {
    let Some((p, pfile, pline)) = prev else {
        return Ok(());
    };
    if t > p {
        return Ok(());
    }
    let at = if pfile == file {
        format!("line {pline}")
    } else {
        format!("{pfile}:{pline}")
    };
    let what = if t == p {
        format!(
            "{t} ({}) duplicates the previous row at {at} (remove one of the two rows; files must not overlap)",
            format_utc_ms(t)
        )
    } else {
        format!(
            "{t} ({}) is earlier than the previous row's {p} ({}) at {at} (rows must be sorted by time; files are read in file-name order)",
            format_utc_ms(t),
            format_utc_ms(p)
        )
    };
    Err(DataError::parse(file, line, field, what))
}
