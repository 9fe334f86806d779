//! Resampling a kline series to a coarser interval (1m → 5m, 1h, 1d, ...).
//!
//! Buckets are aligned to multiples of the target interval counted from the Unix epoch. That matches
//! Binance for every interval up to `1d` and for `3d`, but not for `1w`: Binance's weeks start on Monday,
//! the epoch on a Thursday.

use super::error::DataError;
use super::kline::{interval_name, KlineSeries};

impl KlineSeries {
    /// Aggregates bars into buckets of `interval_ms` (a multiple of the current interval):
    /// open = first, high = max, low = min, close = last, volumes and counts summed.
    ///
    /// A bucket that misses some source bars is still built from the bars that exist, and no bucket is
    /// invented where no source bar exists. `gaps` is carried over unchanged, so it keeps describing the
    /// missing *source* bars (at the source interval) and shows which buckets are incomplete.
    pub fn resample(&self, interval_ms: i64) -> Result<KlineSeries, DataError> {
        let src = self.interval_ms;
        if src <= 0 {
            return Err(DataError::invalid(
                "resample",
                "interval_ms",
                format!(
                    "the series has no valid interval ({src} ms) (load it with a known interval)"
                ),
            ));
        }
        if interval_ms <= 0 || interval_ms % src != 0 {
            return Err(DataError::invalid(
                "resample",
                "interval_ms",
                format!(
                    "{interval_ms} ms is not a positive multiple of the series' {} ({src} ms) (pick a coarser interval such as parse_interval(\"1h\"))",
                    interval_name(src)
                ),
            ));
        }
        if let Some(i) = self
            .open_time_ms
            .iter()
            .position(|t| t.rem_euclid(src) != 0)
        {
            return Err(DataError::invalid(
                "resample",
                "open_time",
                format!(
                    "bar {i} opens at {} ms, not on the {} grid (bars must start at multiples of the interval)",
                    self.open_time_ms[i],
                    interval_name(src)
                ),
            ));
        }
        if interval_ms == src {
            return Ok(self.clone());
        }
        let ratio = usize::try_from(interval_ms / src).unwrap_or(1).max(1);
        let mut out = KlineSeries::new(self.symbol.clone(), interval_ms);
        let cap = self.len() / ratio + 2;
        out.open_time_ms.reserve(cap);
        out.open_e8.reserve(cap);
        out.high_e8.reserve(cap);
        out.low_e8.reserve(cap);
        out.close_e8.reserve(cap);
        out.volume_e8.reserve(cap);
        out.quote_volume_e8.reserve(cap);
        out.count.reserve(cap);
        out.taker_buy_volume_e8.reserve(cap);
        out.taker_buy_quote_volume_e8.reserve(cap);

        let mut i = 0;
        let n = self.len();
        while i < n {
            let bucket = self.open_time_ms[i].div_euclid(interval_ms) * interval_ms;
            let end = bucket.saturating_add(interval_ms);
            let mut high = self.high_e8[i];
            let mut low = self.low_e8[i];
            let mut volume = 0i128;
            let mut quote_volume = 0i128;
            let mut count = 0u64;
            let mut tbv = 0i128;
            let mut tbqv = 0i128;
            let first = i;
            while i < n && self.open_time_ms[i] < end {
                high = high.max(self.high_e8[i]);
                low = low.min(self.low_e8[i]);
                volume += self.volume_e8[i];
                quote_volume += self.quote_volume_e8[i];
                count = count.saturating_add(self.count[i]);
                tbv += self.taker_buy_volume_e8[i];
                tbqv += self.taker_buy_quote_volume_e8[i];
                i += 1;
            }
            out.open_time_ms.push(bucket);
            out.open_e8.push(self.open_e8[first]);
            out.high_e8.push(high);
            out.low_e8.push(low);
            out.close_e8.push(self.close_e8[i - 1]);
            out.volume_e8.push(volume);
            out.quote_volume_e8.push(quote_volume);
            out.count.push(count);
            out.taker_buy_volume_e8.push(tbv);
            out.taker_buy_quote_volume_e8.push(tbqv);
        }
        out.gaps = self.gaps.clone();
        Ok(out)
    }
}
