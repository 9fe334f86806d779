//! The hand-written kline CSV parser: bytes straight to e8 mantissas, one pass, no allocation per row.
//!
//! Every row first goes through a tight fast path that accepts only the common shape (13- or 16-digit
//! timestamps, non-negative decimals with at most 8 decimals). Anything else falls back to a slow,
//! field-by-field parser that either accepts the row (very large values, excess zero decimals, short
//! timestamps) or explains precisely what is wrong with it. Negative numbers parse here; the row
//! check ([`super::validate::check_row`]) then refuses non-positive prices and negative volumes.

use std::path::PathBuf;

use super::error::DataError;
use super::input::{data_start, line_end, merge_meta, only_line_breaks, trim_cr, Input};
use super::kline::{KlineSeries, PRICE_DECIMALS};
use super::validate::{Builder, RawRow};

/// Options for the kline loaders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Bar length the files must have (ms); `None` takes it from the file name or the first row.
    pub expect_interval_ms: Option<i64>,
}

/// Column names of Binance's 12-column kline CSV, in file order.
pub const KLINE_COLUMNS: [&str; 12] = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
];

/// Column names of the 6-column mark-price kline CSV.
pub const MARK6_COLUMNS: [&str; 6] = ["open_time", "open", "high", "low", "close", "volume"];

/// Which CSV shape a file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// The archive's 12 columns.
    Full,
    /// `open_time,open,high,low,close,volume` (mark price exports).
    Mark6,
}

impl Layout {
    fn columns(self) -> usize {
        match self {
            Layout::Full => 12,
            Layout::Mark6 => 6,
        }
    }
}

const POW10: [u64; 9] = [
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

/// Loads kline CSVs (files, zips or directories) with the hand-written parser and validates them.
pub fn load_klines(paths: &[PathBuf], opts: &LoadOptions) -> Result<KlineSeries, DataError> {
    load_with(paths, opts, |_| Layout::Full)
}

/// Loads mark-price klines: the archive's 12 columns, or the 6-column `open_time,open,high,low,close,volume` files.
///
/// For 6-column files `close_time` is `open_time + interval - 1` and the trade/taker columns are 0; the
/// interval comes from the options, the file name, or the smallest step between open times.
pub fn load_mark_klines(paths: &[PathBuf], opts: &LoadOptions) -> Result<KlineSeries, DataError> {
    load_with(paths, opts, sniff_layout)
}

fn load_with(
    paths: &[PathBuf],
    opts: &LoadOptions,
    layout_of: impl Fn(&[u8]) -> Layout + Sync,
) -> Result<KlineSeries, DataError> {
    super::pieces::load(paths, opts, &layout_of, super::pieces::auto_piece_bytes)
}

/// Chooses the layout from the column count of the first data line (6 ⇒ [`Layout::Mark6`]).
pub(crate) fn sniff_layout(bytes: &[u8]) -> Layout {
    let (start, _, _) = data_start(bytes);
    let line = trim_cr(&bytes[start..line_end(bytes, start)]);
    if line.iter().filter(|&&c| c == b',').count() == 5 {
        Layout::Mark6
    } else {
        Layout::Full
    }
}

/// Symbol and bar length of a load, settled file by file.
#[derive(Debug, Default)]
pub(crate) struct Meta {
    /// The symbol (`""` while unknown).
    pub symbol: String,
    /// The bar length in ms (0 while unknown).
    pub interval_ms: i64,
}

/// Settles symbol and interval for the next file (file name, options, or inferred from its rows).
pub(crate) fn settle_meta(
    m: &mut Meta,
    input: &Input,
    opts: &LoadOptions,
    layout: Layout,
) -> Result<(), DataError> {
    let (symbol, interval) = merge_meta(&m.symbol, m.interval_ms, opts.expect_interval_ms, input)?;
    if let Some(s) = symbol {
        m.symbol = s;
    }
    if let Some(i) = interval {
        if i <= 0 {
            return Err(DataError::invalid(
                "load",
                "expect_interval_ms",
                format!("{i} is not a positive bar length (use parse_interval(\"1m\") etc.)"),
            ));
        }
        m.interval_ms = i;
        return Ok(());
    }
    if let Some(i) = infer_interval(&input.bytes, &input.name, layout)? {
        m.interval_ms = i;
    }
    Ok(())
}

/// [`settle_meta`] for a sequential [`Builder`] load, which also learns that `input` comes next.
pub(crate) fn prepare_file(
    b: &mut Builder,
    input: &Input,
    opts: &LoadOptions,
    layout: Layout,
) -> Result<(), DataError> {
    let mut m = Meta {
        symbol: b.symbol().to_string(),
        interval_ms: b.interval_ms(),
    };
    settle_meta(&mut m, input, opts, layout)?;
    b.set_symbol(&m.symbol);
    b.set_interval(m.interval_ms);
    b.begin_file(&input.name);
    Ok(())
}

/// Infers the bar length of a file: `close_time - open_time + 1` of the first row, or for 6-column files
/// the smallest step between consecutive open times. `None` if the file has no (or, for 6 columns, one) row.
fn infer_interval(bytes: &[u8], file: &str, layout: Layout) -> Result<Option<i64>, DataError> {
    let (start, first_line, _) = data_start(bytes);
    if only_line_breaks(bytes, start) {
        return Ok(None);
    }
    match layout {
        Layout::Full => {
            let end = line_end(bytes, start);
            let row = slow_row(trim_cr(&bytes[start..end]), Layout::Full, 0)
                .map_err(|(f, m)| DataError::parse(file, first_line, f, m))?;
            let interval = row.close_time - row.open_time + 1;
            if interval <= 0 {
                return Err(DataError::parse(
                    file,
                    first_line,
                    "close_time",
                    format!(
                        "{} is before open_time {} (columns swapped or mixed timestamp units)",
                        row.close_time, row.open_time
                    ),
                ));
            }
            Ok(Some(interval))
        }
        Layout::Mark6 => {
            let mut pos = start;
            let mut line = first_line;
            let mut prev: Option<i64> = None;
            let mut best: Option<i64> = None;
            while pos < bytes.len() && !only_line_breaks(bytes, pos) {
                let end = line_end(bytes, pos);
                let l = trim_cr(&bytes[pos..end]);
                let first = l.split(|&c| c == b',').next().unwrap_or(b"");
                let t = parse_ts_field(first)
                    .map_err(|m| DataError::parse(file, line, "open_time", m))?;
                if let Some(p) = prev {
                    let d = t - p;
                    if d > 0 && best.is_none_or(|b| d < b) {
                        best = Some(d);
                    }
                }
                prev = Some(t);
                pos = end + 1;
                line += 1;
            }
            if prev.is_some() && best.is_none() {
                return Err(DataError::parse(
                    file,
                    first_line,
                    "interval",
                    "cannot tell the bar length of a 6-column file with one row (name it SYMBOL-1h-... or set LoadOptions::expect_interval_ms)",
                ));
            }
            Ok(best)
        }
    }
}

/// Parses the data rows of one CSV text into `b` (symbol and interval must already be settled),
/// one row after the other: the sequential reference the piece-parallel loader is tested against.
pub(crate) fn parse_kline_bytes(
    bytes: &[u8],
    file: &str,
    layout: Layout,
    b: &mut Builder,
) -> Result<(), DataError> {
    let (mut pos, mut line, _) = data_start(bytes);
    let n = bytes.len();
    let interval = b.interval_ms();
    // Exact row count up front, so the columns neither grow nor over-allocate.
    b.reserve(count_newlines(&bytes[pos..]) + 1);
    while pos < n {
        let c = bytes[pos];
        if c == b'\n' || c == b'\r' {
            if only_line_breaks(bytes, pos) {
                break;
            }
            return Err(empty_line(file, line));
        }
        let row = next_row(bytes, &mut pos, layout, interval, file, line)?;
        b.push(&row, file, line)?;
        line += 1;
    }
    Ok(())
}

/// The error for an empty line with data rows after it.
#[cold]
pub(crate) fn empty_line(file: &str, line: usize) -> DataError {
    DataError::parse(
        file,
        line,
        "row",
        "empty line in the middle of the file (delete it)",
    )
}

/// Reads the row of the (non-empty) line that starts at `*pos` and moves `*pos` past its line break.
#[inline(always)]
pub(crate) fn next_row(
    bytes: &[u8],
    pos: &mut usize,
    layout: Layout,
    interval: i64,
    file: &str,
    line: usize,
) -> Result<RawRow, DataError> {
    let fast = match layout {
        Layout::Full => fast_row12(bytes, pos),
        Layout::Mark6 => fast_row6(bytes, pos, interval),
    };
    match fast {
        Some(r) => Ok(r),
        None => slow_next_row(bytes, pos, layout, interval, file, line),
    }
}

/// The slow path of [`next_row`]: accepts the unusual or names the bad field.
#[cold]
#[inline(never)]
fn slow_next_row(
    bytes: &[u8],
    pos: &mut usize,
    layout: Layout,
    interval: i64,
    file: &str,
    line: usize,
) -> Result<RawRow, DataError> {
    let start = *pos;
    let end = line_end(bytes, start);
    let r = slow_row(trim_cr(&bytes[start..end]), layout, interval)
        .map_err(|(f, m)| DataError::parse(file, line, f, m))?;
    *pos = if end < bytes.len() {
        end + 1
    } else {
        bytes.len()
    };
    Ok(r)
}

/// Counts `\n` bytes eight at a time (SWAR zero-byte test, exact: no carries between bytes).
pub(crate) fn count_newlines(b: &[u8]) -> usize {
    const LO7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let chunks = b.chunks_exact(8);
    let tail = chunks.remainder().iter().filter(|&&c| c == b'\n').count();
    let mut n = 0usize;
    for c in chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w) ^ 0x0A0A_0A0A_0A0A_0A0A;
        // Bit 7 of a byte ends up set iff the byte of x is zero.
        let zero = !(((x & LO7) + LO7) | x | LO7);
        n += zero.count_ones() as usize;
    }
    n + tail
}

// ---------------------------------------------------------------------------------------------
// Fast path: returns None for anything unusual; the slow path then decides.

#[inline(always)]
fn fast_digits(b: &[u8], i: &mut usize, acc: &mut u64) -> usize {
    let start = *i;
    while let Some(&c) = b.get(*i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        *acc = acc.wrapping_mul(10).wrapping_add(u64::from(d));
        *i += 1;
    }
    *i - start
}

/// Reads 8 ASCII digits at `at` as a number (SWAR), or `None` if any byte is not a digit or input ends.
#[inline(always)]
fn swar8(b: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
    let v = u64::from_le_bytes(chunk);
    // All eight bytes in b'0'..=b'9' (Lemire's check).
    let hi = v & 0xF0F0_F0F0_F0F0_F0F0;
    let carry = (v.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) >> 4;
    if hi | carry != 0x3333_3333_3333_3333 {
        return None;
    }
    let v = v - 0x3030_3030_3030_3030;
    let v = v * 10 + (v >> 8);
    let v = ((v & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32))
        + ((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32)))
        >> 32;
    Some(v)
}

#[inline(always)]
fn is_digit_at(b: &[u8], at: usize) -> bool {
    b.get(at).is_some_and(u8::is_ascii_digit)
}

#[inline(always)]
fn fast_ts(b: &[u8], i: &mut usize) -> Option<i64> {
    // 13 digits of ms: two overlapping 8-digit loads.
    let at = *i;
    if let (Some(a), Some(c)) = (swar8(b, at), swar8(b, at + 5)) {
        if !is_digit_at(b, at + 13) {
            *i = at + 13;
            return Some((a * 100_000 + c % 100_000) as i64);
        }
    }
    let mut acc = 0u64;
    match fast_digits(b, i, &mut acc) {
        13 => Some(acc as i64),
        16 => Some((acc / 1000) as i64),
        _ => None,
    }
}

#[inline(always)]
fn fast_uint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut acc = 0u64;
    match fast_digits(b, i, &mut acc) {
        1..=18 => Some(acc),
        _ => None,
    }
}

/// Non-negative decimal with 1..=11 integer digits and 0..=8 decimals, as an e8 mantissa (< 1e19).
#[inline(always)]
fn fast_dec(b: &[u8], i: &mut usize) -> Option<u64> {
    // SWAR: up to 7 integer digits and up to 7 decimals from two 8-byte loads (covers prices and most
    // volumes); anything longer, or too close to the end of the input, takes the byte loop.
    let at = *i;
    if let Some((int, k1)) = digit_run8(b, at) {
        if k1 > 0 && k1 < 8 {
            let dot = at + k1;
            if b.get(dot) != Some(&b'.') {
                *i = dot;
                return Some(int * POW10[0]);
            }
            if let Some((frac, k2)) = digit_run8(b, dot + 1) {
                if k2 > 0 && k2 < 8 {
                    *i = dot + 1 + k2;
                    return Some(int * POW10[0] + frac * POW10[k2]);
                }
            }
        }
    }
    fast_dec_loop(b, i)
}

/// Reads the run of ASCII digits that starts at `at` within the next 8 bytes: `(value, length)`; the
/// length is 8 when all 8 bytes are digits (the run may go on). `None` if fewer than 8 bytes remain.
#[inline(always)]
fn digit_run8(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let chunk: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
    let a = u64::from_le_bytes(chunk) ^ 0x3030_3030_3030_3030;
    // A byte is a digit iff a < 10; adding 0x76 sets bit 7 for 10..=0x89, `| a` for 0x80..=0xFF.
    // Carries only spill into later bytes, so the first non-digit is always found correctly.
    let non_digit = (a.wrapping_add(0x7676_7676_7676_7676) | a) & 0x8080_8080_8080_8080;
    let k = (non_digit.trailing_zeros() / 8) as usize;
    if k == 0 {
        return Some((0, 0));
    }
    // Keep the k digit bytes, as if padded with leading zeros, then combine as in `swar8`.
    let v = a << (8 * (8 - k));
    let v = v * 10 + (v >> 8);
    let v = ((v & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32))
        + ((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32)))
        >> 32;
    Some((v, k))
}

/// Byte-loop version of [`fast_dec`].
#[inline(always)]
fn fast_dec_loop(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut acc = 0u64;
    let n_int = fast_digits(b, i, &mut acc);
    if n_int == 0 || n_int > 11 {
        return None;
    }
    if b.get(*i) == Some(&b'.') {
        *i += 1;
        let n_frac = fast_digits(b, i, &mut acc);
        if n_frac == 0 || n_frac > 8 {
            return None;
        }
        Some(acc * POW10[n_frac])
    } else {
        Some(acc * POW10[0])
    }
}

#[inline(always)]
fn fast_price(b: &[u8], i: &mut usize) -> Option<i64> {
    let v = fast_dec(b, i)?;
    i64::try_from(v).ok()
}

#[inline(always)]
fn comma(b: &[u8], i: &mut usize) -> Option<()> {
    if b.get(*i) == Some(&b',') {
        *i += 1;
        Some(())
    } else {
        None
    }
}

/// Consumes an optional `\r` and the `\n` (or the end of input) that must follow the last field.
#[inline(always)]
fn end_of_line(b: &[u8], i: &mut usize) -> Option<()> {
    match b.get(*i) {
        None => Some(()),
        Some(b'\n') => {
            *i += 1;
            Some(())
        }
        Some(b'\r') if matches!(b.get(*i + 1), None | Some(b'\n')) => {
            *i = (*i + 2).min(b.len());
            Some(())
        }
        _ => None,
    }
}

/// The six leading fields every kline layout shares: open time, O, H, L, C, volume.
#[inline(always)]
fn fast_ohlcv(b: &[u8], i: &mut usize) -> Option<(i64, i64, i64, i64, i64, i128)> {
    let open_time = fast_ts(b, i)?;
    comma(b, i)?;
    let open = fast_price(b, i)?;
    comma(b, i)?;
    let high = fast_price(b, i)?;
    comma(b, i)?;
    let low = fast_price(b, i)?;
    comma(b, i)?;
    let close = fast_price(b, i)?;
    comma(b, i)?;
    let volume = i128::from(fast_dec(b, i)?);
    Some((open_time, open, high, low, close, volume))
}

#[inline(always)]
fn fast_row12(b: &[u8], pos: &mut usize) -> Option<RawRow> {
    let mut i = *pos;
    let (open_time, open, high, low, close, volume) = fast_ohlcv(b, &mut i)?;
    comma(b, &mut i)?;
    let close_time = fast_ts(b, &mut i)?;
    comma(b, &mut i)?;
    let quote_volume = i128::from(fast_dec(b, &mut i)?);
    comma(b, &mut i)?;
    let count = fast_uint(b, &mut i)?;
    comma(b, &mut i)?;
    let taker_buy_volume = i128::from(fast_dec(b, &mut i)?);
    comma(b, &mut i)?;
    let taker_buy_quote_volume = i128::from(fast_dec(b, &mut i)?);
    comma(b, &mut i)?;
    // `ignore`: any text without a comma, up to the end of the line.
    while let Some(&c) = b.get(i) {
        if c == b'\n' {
            i += 1;
            break;
        }
        if c == b',' {
            return None;
        }
        i += 1;
    }
    *pos = i;
    Some(RawRow {
        open_time,
        open,
        high,
        low,
        close,
        volume,
        close_time,
        quote_volume,
        count,
        taker_buy_volume,
        taker_buy_quote_volume,
    })
}

#[inline(always)]
fn fast_row6(b: &[u8], pos: &mut usize, interval: i64) -> Option<RawRow> {
    let mut i = *pos;
    let (open_time, open, high, low, close, volume) = fast_ohlcv(b, &mut i)?;
    end_of_line(b, &mut i)?;
    *pos = i;
    Some(RawRow {
        open_time,
        open,
        high,
        low,
        close,
        volume,
        close_time: open_time + interval - 1,
        ..RawRow::default()
    })
}

// ---------------------------------------------------------------------------------------------
// Slow path: exact field-level diagnostics, shared with the polars loader.

/// Shows a field's text in an error message (quoted, escaped, shortened).
pub(crate) fn show(s: &[u8]) -> String {
    let text = String::from_utf8_lossy(s);
    if text.chars().count() > 40 {
        let short: String = text.chars().take(40).collect();
        format!("{short:?}...")
    } else {
        format!("{text:?}")
    }
}

/// Parses a timestamp field: up to 13 digits are ms, exactly 16 digits are µs (divided by 1000).
pub(crate) fn parse_ts_field(s: &[u8]) -> Result<i64, String> {
    if s.is_empty() {
        return Err("is empty (expected a timestamp in ms, 13 digits)".into());
    }
    if !s.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "{} is not a timestamp (expected 13 digits of ms or 16 digits of µs)",
            show(s)
        ));
    }
    let mut acc: i64 = 0;
    for &c in s.iter().take(17) {
        acc = acc * 10 + i64::from(c - b'0');
    }
    match s.len() {
        1..=13 => Ok(acc),
        16 => Ok(acc / 1000),
        n => Err(format!(
            "{} has {n} digits (expected 13 digits of ms or 16 digits of µs)",
            show(s)
        )),
    }
}

/// Parses a non-negative integer field such as `count`.
pub(crate) fn parse_uint_field(s: &[u8]) -> Result<u64, String> {
    if s.is_empty() {
        return Err("is empty (expected a whole number)".into());
    }
    if !s.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "{} is not a whole number (expected digits only)",
            show(s)
        ));
    }
    let mut acc: u64 = 0;
    for &c in s {
        acc = acc
            .checked_mul(10)
            .and_then(|a| a.checked_add(u64::from(c - b'0')))
            .ok_or_else(|| format!("{} is too large for a count", show(s)))?;
    }
    Ok(acc)
}

/// Parses a decimal field `-?digits(.digits)?` into an e8 mantissa; more than 8 decimals is an error
/// unless the extra digits are all zero.
pub(crate) fn parse_e8_field(s: &[u8]) -> Result<i128, String> {
    let bad = || {
        format!(
            "{} is not a decimal number (expected digits with an optional '.' and at most {PRICE_DECIMALS} decimals)",
            show(s)
        )
    };
    if s.is_empty() {
        return Err("is empty (expected a decimal number)".into());
    }
    let (neg, body) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (int, frac) = match body.iter().position(|&c| c == b'.') {
        Some(p) => (&body[..p], Some(&body[p + 1..])),
        None => (body, None),
    };
    if int.is_empty() || !int.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let frac = match frac {
        Some(f) if f.is_empty() || !f.iter().all(u8::is_ascii_digit) => return Err(bad()),
        Some(f) => f,
        None => &[][..],
    };
    let dec = PRICE_DECIMALS as usize;
    if frac.len() > dec && frac[dec..].iter().any(|&c| c != b'0') {
        return Err(format!(
            "{} has {} decimals, more than {PRICE_DECIMALS} (values are stored as fixed-point 1e-8; round the source)",
            show(s),
            frac.len()
        ));
    }
    let too_large = || format!("{} is too large for a 1e-8 fixed-point value", show(s));
    let mut acc: i128 = 0;
    for &c in int.iter().chain(frac.iter().take(dec)) {
        acc = acc
            .checked_mul(10)
            .and_then(|a| a.checked_add(i128::from(c - b'0')))
            .ok_or_else(too_large)?;
    }
    let kept = frac.len().min(dec);
    acc = acc
        .checked_mul(i128::from(POW10[kept]))
        .ok_or_else(too_large)?;
    // Keep every value inside Decimal's 96-bit mantissa so that `kline()` stays exact.
    if acc >= 1i128 << 95 {
        return Err(too_large());
    }
    Ok(if neg { -acc } else { acc })
}

/// Parses a price field into an e8 mantissa that fits `i64`.
pub(crate) fn parse_price_field(s: &[u8]) -> Result<i64, String> {
    let v = parse_e8_field(s)?;
    i64::try_from(v).map_err(|_| {
        format!(
            "{} is too large for a price (at most 92233720368.54775807)",
            show(s)
        )
    })
}

/// Builds a row from its fields (already split), naming the first bad field.
pub(crate) fn row_from_fields(
    f: &[&[u8]],
    layout: Layout,
    interval: i64,
) -> Result<RawRow, (&'static str, String)> {
    let want = layout.columns();
    if f.len() != want {
        let hint = match (layout, f.len()) {
            (Layout::Full, 6) => " (a 6-column file is a mark-price export: use load_mark_klines)",
            (Layout::Full, _) => {
                " (klines have open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore)"
            }
            (Layout::Mark6, _) => " (this file's first row has 6 columns: open_time,open,high,low,close,volume)",
        };
        return Err((
            "row",
            format!("has {} columns, expected {want}{hint}", f.len()),
        ));
    }
    let names: &[&'static str] = match layout {
        Layout::Full => &KLINE_COLUMNS,
        Layout::Mark6 => &MARK6_COLUMNS,
    };
    let at = |k: usize| (names[k], f[k]);
    let ts = |k: usize| {
        let (n, s) = at(k);
        parse_ts_field(s).map_err(|m| (n, m))
    };
    let price = |k: usize| {
        let (n, s) = at(k);
        parse_price_field(s).map_err(|m| (n, m))
    };
    let qty = |k: usize| {
        let (n, s) = at(k);
        parse_e8_field(s).map_err(|m| (n, m))
    };
    let open_time = ts(0)?;
    let open = price(1)?;
    let high = price(2)?;
    let low = price(3)?;
    let close = price(4)?;
    let volume = qty(5)?;
    if layout == Layout::Mark6 {
        return Ok(RawRow {
            open_time,
            open,
            high,
            low,
            close,
            volume,
            close_time: open_time + interval - 1,
            ..RawRow::default()
        });
    }
    let close_time = ts(6)?;
    let quote_volume = qty(7)?;
    let count = parse_uint_field(f[8]).map_err(|m| ("count", m))?;
    let taker_buy_volume = qty(9)?;
    let taker_buy_quote_volume = qty(10)?;
    Ok(RawRow {
        open_time,
        open,
        high,
        low,
        close,
        volume,
        close_time,
        quote_volume,
        count,
        taker_buy_volume,
        taker_buy_quote_volume,
    })
}

/// Splits one line (without line break) and builds its row, naming the first bad field.
pub(crate) fn slow_row(
    line: &[u8],
    layout: Layout,
    interval: i64,
) -> Result<RawRow, (&'static str, String)> {
    let fields: Vec<&[u8]> = line.split(|&c| c == b',').collect();
    row_from_fields(&fields, layout, interval)
}

/// Formats an e8 mantissa as a plain decimal without trailing zeros (`1011300000` → `10.113`).
pub fn fmt_e8(v: i128) -> String {
    let neg = v < 0;
    let a = v.unsigned_abs();
    let scale = 10u128.pow(PRICE_DECIMALS);
    let int = a / scale;
    let frac = a % scale;
    let mut s = if neg {
        format!("-{int}")
    } else {
        int.to_string()
    };
    if frac != 0 {
        let f = format!("{frac:08}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fast(s: &str) -> Option<u64> {
        // Padding makes the SWAR path reachable; it must stop at the comma either way.
        let padded = format!("{s},00000000");
        let mut i = 0;
        let v = fast_dec(padded.as_bytes(), &mut i)?;
        let mut j = 0;
        let w = fast_dec_loop(s.as_bytes(), &mut j);
        assert_eq!(Some(v), w, "{s}");
        (i == s.len() && j == s.len()).then_some(v)
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_e8_field(b"10.1130"), Ok(1_011_300_000));
        assert_eq!(parse_e8_field(b"0.00000001"), Ok(1));
        assert_eq!(parse_e8_field(b"-0.5"), Ok(-50_000_000));
        assert_eq!(parse_e8_field(b"7"), Ok(700_000_000));
        assert_eq!(parse_e8_field(b"1.000000000"), Ok(100_000_000));
        assert!(parse_e8_field(b"1.000000001").is_err());
        assert!(parse_e8_field(b"").is_err());
        assert!(parse_e8_field(b"1.").is_err());
        assert!(parse_e8_field(b".5").is_err());
        assert!(parse_e8_field(b"1e5").is_err());
        assert!(parse_e8_field(b"+1").is_err());
        assert!(parse_e8_field(b"99999999999999999999999").is_err());
        assert_eq!(fast("10.1130"), Some(1_011_300_000));
        assert_eq!(fast("38521"), Some(3_852_100_000_000));
        assert_eq!(fast("1.123456789"), None);
        assert_eq!(parse_price_field(b"92233720368.54775807"), Ok(i64::MAX));
        assert!(parse_price_field(b"92233720368.54775808").is_err());
    }

    #[test]
    fn newline_count() {
        let cases: [&[u8]; 5] = [
            b"",
            b"\n",
            b"a\nb\n",
            b"0123456\n\n\n\n\n\n\n\n\n\x8a\x0b\x09\xff\n",
            b"no newline at all here",
        ];
        for s in cases {
            let want = s.iter().filter(|&&c| c == b'\n').count();
            assert_eq!(count_newlines(s), want, "{s:?}");
        }
        let all: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        assert_eq!(count_newlines(&all), 16);
    }

    #[test]
    fn digit_runs() {
        assert_eq!(digit_run8(b"10.1130,1", 0), Some((10, 2)));
        assert_eq!(digit_run8(b"1130,1234", 0), Some((1130, 4)));
        assert_eq!(digit_run8(b"1234567,x", 0), Some((1_234_567, 7)));
        assert_eq!(digit_run8(b"12345678", 0), Some((12_345_678, 8)));
        assert_eq!(digit_run8(b",1234567", 0), Some((0, 0)));
        assert_eq!(digit_run8(b"9\xff\x80/:0000", 0), Some((9, 1)));
        assert_eq!(digit_run8(b"1234", 0), None);
        for s in [
            "10.1130,",
            "38521,12345678",
            "389800.3310,",
            "0.00000001,xxxxxxxx",
            "7,00000000",
            "12.1234567,000000",
            "1234567.1234567,",
        ] {
            let mut i = 0;
            let mut j = 0;
            assert_eq!(
                fast_dec(s.as_bytes(), &mut i),
                fast_dec_loop(s.as_bytes(), &mut j),
                "{s}"
            );
            assert_eq!(i, j, "{s}");
        }
    }

    #[test]
    fn swar() {
        assert_eq!(swar8(b"12345678", 0), Some(12_345_678));
        assert_eq!(swar8(b"00000000", 0), Some(0));
        assert_eq!(swar8(b"99999999", 0), Some(99_999_999));
        assert_eq!(swar8(b"1234567", 0), None);
        assert_eq!(swar8(b"1234:678", 0), None);
        assert_eq!(swar8(b"1234/678", 0), None);
        assert_eq!(swar8(b"x12345678", 1), Some(12_345_678));
        for t in [
            b"1769904000000,".as_slice(),
            b"0000000000001,",
            b"9999999999999\n",
            b"1769904059999",
        ] {
            let mut i = 0;
            let want = std::str::from_utf8(&t[..13])
                .expect("ascii")
                .parse::<i64>()
                .expect("num");
            assert_eq!(fast_ts(t, &mut i), Some(want));
            assert_eq!(i, 13);
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_ts_field(b"1769904000000"), Ok(1_769_904_000_000));
        assert_eq!(parse_ts_field(b"1769904000000123"), Ok(1_769_904_000_000));
        assert_eq!(parse_ts_field(b"60000"), Ok(60_000));
        assert!(parse_ts_field(b"17699040000001").is_err());
        assert!(parse_ts_field(b"-1").is_err());
        let mut i = 0;
        assert_eq!(
            fast_ts(b"1769904000000123,", &mut i),
            Some(1_769_904_000_000)
        );
        assert_eq!(i, 16);
    }

    #[test]
    fn formatting() {
        assert_eq!(fmt_e8(1_011_300_000), "10.113");
        assert_eq!(fmt_e8(-50_000_000), "-0.5");
        assert_eq!(fmt_e8(0), "0");
        assert_eq!(fmt_e8(1), "0.00000001");
    }

    #[test]
    fn fast_row_matches_slow_row() {
        let line = b"1769904000000,10.1130,10.1300,10.1090,10.1280,38521,1769904059999,389800.3310,1077,28754,290983.0070,0";
        let mut pos = 0;
        let fast = fast_row12(line, &mut pos).expect("fast");
        assert_eq!(pos, line.len());
        assert_eq!(Ok(fast), slow_row(line, Layout::Full, 0));
        let six = b"1769904000000,10.11486361,10.20062174,10.11345462,10.18070365,0\r\n";
        let mut pos = 0;
        let fast = fast_row6(six, &mut pos, 3_600_000).expect("fast6");
        assert_eq!(pos, six.len());
        assert_eq!(
            Ok(fast),
            slow_row(trim_cr(&six[..six.len() - 1]), Layout::Mark6, 3_600_000)
        );
    }

    proptest! {
        #[test]
        fn fast_and_slow_decimal_parsers_agree(int in 0u64..100_000_000_000, frac in 0u64..100_000_000, digits in 0usize..=8) {
            let s = if digits == 0 {
                int.to_string()
            } else {
                let f = format!("{frac:08}");
                format!("{int}.{}", &f[..digits])
            };
            let slow = parse_e8_field(s.as_bytes()).expect("slow");
            prop_assert_eq!(fast(&s).map(i128::from), Some(slow));
            prop_assert_eq!(fmt_e8(slow).parse::<f64>().ok(), s.parse::<f64>().ok());
        }

        #[test]
        fn fast_and_slow_timestamps_agree(t in 0u64..10_000_000_000_000_000, sep in prop::sample::select(vec![",", "\n", "", "5,"])) {
            for s in [format!("{t:013}{sep}"), format!("{t:016}{sep}"), format!("{t}{sep}")] {
                let mut i = 0;
                let fast = fast_ts(s.as_bytes(), &mut i);
                let end = s.bytes().position(|c| !c.is_ascii_digit()).unwrap_or(s.len());
                if let Some(v) = fast {
                    prop_assert_eq!(i, end);
                    prop_assert_eq!(Ok(v), parse_ts_field(&s.as_bytes()[..end]));
                }
            }
        }

        #[test]
        fn slow_parser_never_panics(s in "[-0-9.,a-z ]{0,30}") {
            let _ = parse_e8_field(s.as_bytes());
            let _ = parse_ts_field(s.as_bytes());
            let _ = parse_uint_field(s.as_bytes());
            let _ = slow_row(s.as_bytes(), Layout::Full, 60_000);
            let mut pos = 0;
            let _ = fast_row12(s.as_bytes(), &mut pos);
        }
    }
}
