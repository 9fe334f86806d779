//! Kline types: the column-layout [`KlineSeries`], the row view [`Kline`], [`Gap`] and interval names.

use rust_decimal::Decimal;
use std::sync::Arc;

use super::error::DataError;
use super::validate::{Builder, RawRow};

/// Prices and quantities are fixed-point mantissas at 1e-8 ("e8"): `10.113` is stored as `1_011_300_000`.
pub const PRICE_SCALE: i64 = 100_000_000;

/// Number of decimals behind [`PRICE_SCALE`].
pub const PRICE_DECIMALS: u32 = 8;

/// A run of missing bars: `from_ms` is the first missing open time, `to_ms` the last one (both inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gap {
    /// Open time (ms) of the first missing bar.
    pub from_ms: i64,
    /// Open time (ms) of the last missing bar.
    pub to_ms: i64,
    /// How many bars are missing, `(to_ms - from_ms) / interval + 1`.
    pub missing_bars: i64,
}

/// One bar as exact decimals, the convenient (slower) row view of a [`KlineSeries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kline {
    /// Open time in ms since the Unix epoch (UTC).
    pub open_time_ms: i64,
    /// First trade price of the bar.
    pub open: Decimal,
    /// Highest price of the bar.
    pub high: Decimal,
    /// Lowest price of the bar.
    pub low: Decimal,
    /// Last price of the bar.
    pub close: Decimal,
    /// Base-asset volume.
    pub volume: Decimal,
    /// Close time in ms, always `open_time_ms + interval - 1`.
    pub close_time_ms: i64,
    /// Quote-asset (USDT) volume.
    pub quote_volume: Decimal,
    /// Number of trades.
    pub count: u64,
    /// Base-asset volume bought by takers.
    pub taker_buy_volume: Decimal,
    /// Quote-asset volume bought by takers.
    pub taker_buy_quote_volume: Decimal,
}

/// A validated run of klines in column layout, sorted by open time without duplicates; missing bars are listed in `gaps`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KlineSeries {
    /// Symbol taken from the file name (for example `AVAXUSDT`), or `""` if unknown.
    pub symbol: String,
    /// Bar length in ms (60 000 for `1m`).
    pub interval_ms: i64,
    /// Open time of each bar in ms since the Unix epoch (UTC), strictly increasing.
    pub open_time_ms: Vec<i64>,
    /// Open prices as e8 mantissas.
    pub open_e8: Vec<i64>,
    /// High prices as e8 mantissas.
    pub high_e8: Vec<i64>,
    /// Low prices as e8 mantissas.
    pub low_e8: Vec<i64>,
    /// Close prices as e8 mantissas.
    pub close_e8: Vec<i64>,
    /// Base volumes as e8 mantissas.
    pub volume_e8: Vec<i128>,
    /// Quote volumes as e8 mantissas.
    pub quote_volume_e8: Vec<i128>,
    /// Trade counts.
    pub count: Vec<u64>,
    /// Taker-buy base volumes as e8 mantissas.
    pub taker_buy_volume_e8: Vec<i128>,
    /// Taker-buy quote volumes as e8 mantissas.
    pub taker_buy_quote_volume_e8: Vec<i128>,
    /// Missing bars, in time order; they are reported, never filled in.
    pub gaps: Vec<Gap>,
}

/// Converts an e8 mantissa to an exact, normalised `Decimal`.
pub fn e8_to_decimal(v: i128) -> Decimal {
    match Decimal::try_from_i128_with_scale(v, PRICE_DECIMALS) {
        Ok(d) => d.normalize(),
        // Beyond Decimal's 96-bit mantissa: drop the fraction rather than panic (never seen in real data).
        Err(_) => Decimal::from_i128_with_scale(
            (v / i128::from(PRICE_SCALE)).clamp(-(1i128 << 95), (1i128 << 95) - 1),
            0,
        ),
    }
}

/// Converts a `Decimal` to an e8 mantissa, or explains why it cannot be represented exactly.
pub fn decimal_to_e8(d: Decimal) -> Result<i128, String> {
    let d = d.normalize();
    let scale = d.scale();
    if scale > PRICE_DECIMALS {
        return Err(format!(
            "{d} has {scale} decimals, more than {PRICE_DECIMALS} (values are stored as fixed-point 1e-8; round it)"
        ));
    }
    let factor = 10i128.pow(PRICE_DECIMALS - scale);
    d.mantissa()
        .checked_mul(factor)
        .ok_or_else(|| format!("{d} is too large for a 1e-8 fixed-point value"))
}

/// Parses a Binance interval name (`1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w`) into milliseconds.
pub fn parse_interval(s: &str) -> Option<i64> {
    const MIN: i64 = 60_000;
    Some(match s {
        "1m" => MIN,
        "3m" => 3 * MIN,
        "5m" => 5 * MIN,
        "15m" => 15 * MIN,
        "30m" => 30 * MIN,
        "1h" => 60 * MIN,
        "2h" => 120 * MIN,
        "4h" => 240 * MIN,
        "6h" => 360 * MIN,
        "8h" => 480 * MIN,
        "12h" => 720 * MIN,
        "1d" => 1440 * MIN,
        "3d" => 3 * 1440 * MIN,
        "1w" => 7 * 1440 * MIN,
        _ => return None,
    })
}

/// Names an interval in Binance notation if it is one of [`parse_interval`]'s, else as `<n>ms`.
pub fn interval_name(ms: i64) -> String {
    const NAMES: [&str; 14] = [
        "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
    ];
    NAMES
        .iter()
        .find(|n| parse_interval(n) == Some(ms))
        .map(|n| (*n).to_string())
        .unwrap_or_else(|| format!("{ms}ms"))
}

impl KlineSeries {
    /// Creates an empty series for `symbol` with bars of `interval_ms`.
    pub fn new(symbol: impl Into<String>, interval_ms: i64) -> Self {
        KlineSeries {
            symbol: symbol.into(),
            interval_ms,
            ..Default::default()
        }
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.open_time_ms.len()
    }

    /// True if the series holds no bar.
    pub fn is_empty(&self) -> bool {
        self.open_time_ms.is_empty()
    }

    /// Close time (ms) of bar `i`, `open_time + interval - 1`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn close_time_ms(&self, i: usize) -> i64 {
        self.open_time_ms[i] + self.interval_ms - 1
    }

    /// Bar `i` as exact decimals.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn kline(&self, i: usize) -> Kline {
        Kline {
            open_time_ms: self.open_time_ms[i],
            open: e8_to_decimal(i128::from(self.open_e8[i])),
            high: e8_to_decimal(i128::from(self.high_e8[i])),
            low: e8_to_decimal(i128::from(self.low_e8[i])),
            close: e8_to_decimal(i128::from(self.close_e8[i])),
            volume: e8_to_decimal(self.volume_e8[i]),
            close_time_ms: self.close_time_ms(i),
            quote_volume: e8_to_decimal(self.quote_volume_e8[i]),
            count: self.count[i],
            taker_buy_volume: e8_to_decimal(self.taker_buy_volume_e8[i]),
            taker_buy_quote_volume: e8_to_decimal(self.taker_buy_quote_volume_e8[i]),
        }
    }

    /// All bars as exact decimals (allocates; prefer the columns in hot loops).
    pub fn klines(&self) -> Vec<Kline> {
        (0..self.len()).map(|i| self.kline(i)).collect()
    }

    /// Index of the first bar whose open time is `>= t_ms` (`len()` if none).
    pub fn index_at_or_after(&self, t_ms: i64) -> usize {
        self.open_time_ms.partition_point(|&t| t < t_ms)
    }

    /// [`KlineSeries::slice_time`] of a shared series: the series itself, without a copy, when
    /// nothing else holds it and the range keeps every bar; a copy of the range otherwise.
    pub fn cut(this: Arc<KlineSeries>, from_ms: Option<i64>, to_ms: Option<i64>) -> KlineSeries {
        let lo = from_ms.map_or(0, |t| this.index_at_or_after(t));
        let hi = to_ms.map_or(this.len(), |t| this.index_at_or_after(t));
        if lo == 0 && hi == this.len() {
            match Arc::try_unwrap(this) {
                // every bar kept: only the gaps are clipped (as slice_time clips them)
                Ok(mut s) => {
                    let clipped = s.slice_gaps(from_ms, to_ms);
                    s.gaps = clipped;
                    s
                }
                Err(shared) => shared.slice_time(from_ms, to_ms),
            }
        } else {
            this.slice_time(from_ms, to_ms)
        }
    }

    /// The bars with `from_ms <= open_time < to_ms` (either bound optional), with the gaps clipped to that range.
    pub fn slice_time(&self, from_ms: Option<i64>, to_ms: Option<i64>) -> KlineSeries {
        let lo = from_ms.map_or(0, |t| self.index_at_or_after(t));
        let hi = to_ms
            .map_or(self.len(), |t| self.index_at_or_after(t))
            .max(lo);
        let gaps = self.slice_gaps(from_ms, to_ms);
        KlineSeries {
            symbol: self.symbol.clone(),
            interval_ms: self.interval_ms,
            open_time_ms: self.open_time_ms[lo..hi].to_vec(),
            open_e8: self.open_e8[lo..hi].to_vec(),
            high_e8: self.high_e8[lo..hi].to_vec(),
            low_e8: self.low_e8[lo..hi].to_vec(),
            close_e8: self.close_e8[lo..hi].to_vec(),
            volume_e8: self.volume_e8[lo..hi].to_vec(),
            quote_volume_e8: self.quote_volume_e8[lo..hi].to_vec(),
            count: self.count[lo..hi].to_vec(),
            taker_buy_volume_e8: self.taker_buy_volume_e8[lo..hi].to_vec(),
            taker_buy_quote_volume_e8: self.taker_buy_quote_volume_e8[lo..hi].to_vec(),
            gaps,
        }
    }

    /// The gaps clipped to `[from_ms, to_ms)` (see [`KlineSeries::slice_time`]).
    fn slice_gaps(&self, from_ms: Option<i64>, to_ms: Option<i64>) -> Vec<Gap> {
        let interval = i128::from(self.interval_ms.max(1));
        self.gaps
            .iter()
            .filter_map(|g| {
                // First/last missing open time that lies inside [from, to), in i128 to avoid overflow.
                let mut from = i128::from(g.from_ms);
                let mut to = i128::from(g.to_ms);
                if let Some(f) = from_ms.map(i128::from) {
                    if f > from {
                        from += (f - from + interval - 1) / interval * interval;
                    }
                }
                if let Some(t) = to_ms.map(i128::from) {
                    if t <= to {
                        let over = to - (t - 1);
                        to -= (over + interval - 1) / interval * interval;
                    }
                }
                (from <= to).then(|| Gap {
                    from_ms: from as i64,
                    to_ms: to as i64,
                    missing_bars: ((to - from) / interval + 1) as i64,
                })
            })
            .collect()
    }

    /// Builds a series from decimal bars, validating exactly like the file loaders (errors name `<klines>` and the 1-based index as line).
    /// A series of price-only bars `[open_time, open, high, low, close]` (e8 prices, zero volumes
    /// and counts), validated row by row exactly as [`KlineSeries::from_klines`] and the loaders do.
    pub fn from_prices_e8(
        symbol: impl Into<String>,
        interval_ms: i64,
        rows: &[[i64; 5]],
    ) -> Result<KlineSeries, DataError> {
        const SRC: &str = "<klines>";
        let mut b = Builder::new(symbol.into(), interval_ms, rows.len());
        b.begin_file(SRC);
        for (i, &[t, o, h, l, c]) in rows.iter().enumerate() {
            let row = RawRow {
                open_time: t,
                open: o,
                high: h,
                low: l,
                close: c,
                close_time: t.saturating_add(interval_ms - 1),
                ..RawRow::default()
            };
            b.push(&row, SRC, i + 1)?;
        }
        Ok(b.finish())
    }

    pub fn from_klines(
        symbol: impl Into<String>,
        interval_ms: i64,
        klines: &[Kline],
    ) -> Result<KlineSeries, DataError> {
        const SRC: &str = "<klines>";
        if interval_ms <= 0 {
            return Err(DataError::invalid(
                "from_klines",
                "interval_ms",
                format!(
                    "{interval_ms} is not a positive bar length (use parse_interval(\"1m\") etc.)"
                ),
            ));
        }
        let mut b = Builder::new(symbol.into(), interval_ms, klines.len());
        b.begin_file(SRC);
        for (i, k) in klines.iter().enumerate() {
            let line = i + 1;
            let e8 = |field: &str, d: Decimal| {
                decimal_to_e8(d).map_err(|msg| DataError::parse(SRC, line, field, msg))
            };
            let price = |field: &str, d: Decimal| {
                let v = e8(field, d)?;
                i64::try_from(v).map_err(|_| {
                    DataError::parse(
                        SRC,
                        line,
                        field,
                        format!("{d} is too large for a price (at most 92233720368.54775807)"),
                    )
                })
            };
            let row = RawRow {
                open_time: k.open_time_ms,
                open: price("open", k.open)?,
                high: price("high", k.high)?,
                low: price("low", k.low)?,
                close: price("close", k.close)?,
                volume: e8("volume", k.volume)?,
                close_time: k.close_time_ms,
                quote_volume: e8("quote_volume", k.quote_volume)?,
                count: k.count,
                taker_buy_volume: e8("taker_buy_volume", k.taker_buy_volume)?,
                taker_buy_quote_volume: e8("taker_buy_quote_volume", k.taker_buy_quote_volume)?,
            };
            b.push(&row, SRC, line)?;
        }
        Ok(b.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cut` gives exactly `slice_time`'s series for every range (whole, bounds outside the
    /// bars, cutting into a gap, a sub-range, empty), whether the series is shared or not.
    #[test]
    fn cut_is_slice_time() {
        let min = 60_000;
        let rows: Vec<[i64; 5]> = (0..40i64)
            .filter(|i| !(10..15).contains(i) && *i != 30)
            .map(|i| [i * min, 100, 120, 90, 110])
            .collect();
        let s = KlineSeries::from_prices_e8("X", min, &rows).unwrap();
        assert_eq!(s.gaps.len(), 2);
        let ranges = [
            (None, None),
            (Some(-5 * min), Some(100 * min)),
            (Some(0), Some(40 * min)),
            (Some(12 * min), None),
            (None, Some(12 * min)),
            (Some(3 * min), Some(31 * min)),
            (Some(50 * min), None),
            (Some(0), Some(39 * min + 1)),
        ];
        for (from, to) in ranges {
            let want = s.slice_time(from, to);
            assert_eq!(KlineSeries::cut(Arc::new(s.clone()), from, to), want);
            let shared = Arc::new(s.clone());
            let _other = Arc::clone(&shared);
            assert_eq!(KlineSeries::cut(shared, from, to), want);
        }
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("1m"), Some(60_000));
        assert_eq!(parse_interval("8h"), Some(28_800_000));
        assert_eq!(parse_interval("1w"), Some(604_800_000));
        assert_eq!(parse_interval("1M"), None);
        assert_eq!(parse_interval("1mo"), None);
        assert_eq!(interval_name(3_600_000), "1h");
        assert_eq!(interval_name(90_000), "90000ms");
    }

    #[test]
    fn decimal_round_trip() {
        let d = Decimal::new(101_130, 4);
        assert_eq!(decimal_to_e8(d), Ok(1_011_300_000));
        assert_eq!(e8_to_decimal(1_011_300_000), d);
        assert_eq!(e8_to_decimal(1_011_300_000).to_string(), "10.113");
        assert!(decimal_to_e8(Decimal::new(1, 9)).is_err());
    }
}
