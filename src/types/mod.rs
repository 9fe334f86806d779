//! Vocabulary only: times, ids, sides, order types and statuses, fixed-point ticks.
//!
//! Owns no behaviour beyond conversions. Every enum here is a closed set that serialises with
//! Binance's own spelling (`SELL`, `STOP_MARKET`, `GTE_GTC`, …), so reports and events read like
//! the exchange's own payloads. Two storage shapes are shared here too: `Chunked`, the
//! append-only list the exchange's orders and the price chart's book are kept in, and `VecMap`
//! / `VecSet`, the sorted-vector maps of the checker's open state and the engine's per-trade
//! bookkeeping.

mod chunked;
mod ident;
mod vecmap;
pub(crate) use chunked::Chunked;
pub use ident::Ident;
pub(crate) use vecmap::{VecMap, VecSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Simulated time in milliseconds since the Unix epoch; the only clock anything in a run reads.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct TimeMs(pub i64);

impl TimeMs {
    /// This time plus `ms` milliseconds.
    pub fn plus(self, ms: i64) -> TimeMs {
        TimeMs(self.0 + ms)
    }
}

impl fmt::Display for TimeMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&fmt_time_ms(self.0))
    }
}

/// Formats epoch milliseconds as `YYYY-MM-DD HH:MM:SS.mmm` UTC (no time-zone crate needed).
pub fn fmt_time_ms(ms: i64) -> String {
    let mut b = Vec::with_capacity(23);
    write_time_ms(ms, &mut b);
    String::from_utf8(b).unwrap_or_default()
}

/// "00" to "99": two digits per division (the pairs [`put_u64`] writes).
pub(crate) const DIGITS2: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// 10^0 to 10^19: every power of ten a u64 holds.
pub(crate) const POW10_U64: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Writes the digits of `v` right-aligned at the end of `buf` (`0` as one digit), two digits
/// per division from [`DIGITS2`] (order ids run to 19 digits, and each step's division is most
/// of the cost); returns where they start. `buf` holds at least 20 bytes.
#[inline]
pub(crate) fn put_u64(buf: &mut [u8], mut v: u64) -> usize {
    let mut i = buf.len();
    while v >= 100 {
        let r = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGITS2[r..r + 2]);
    }
    if v >= 10 {
        let r = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGITS2[r..r + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    i
}

/// Appends `n` in decimal to `out` (a response's order id, up to 19 digits, is written this
/// way for every placement).
pub fn push_u64(out: &mut String, n: u64) {
    out.push_str(u64_in(n, &mut [0u8; 20]));
}

/// `n` in decimal, written at the end of `buf` (no allocation, no formatter): the digits.
pub fn u64_in(n: u64, buf: &mut [u8; 20]) -> &str {
    let i = put_u64(buf, n);
    let s = &buf[i..];
    debug_assert!(s.iter().all(u8::is_ascii_digit));
    // SAFETY: `put_u64` writes only bytes of `DIGITS2` (ASCII digits) and `b'0' + v` with
    // `v < 10`: ASCII, so UTF-8 (validating it again cost as much as the digits)
    unsafe { std::str::from_utf8_unchecked(s) }
}

/// As [`fmt_time_ms`], written to `out` without allocating (years 0..=9999 without the
/// formatting machinery; report rows call this for every order and fill).
pub fn write_time_ms(ms: i64, out: &mut Vec<u8>) {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        // outside the four-digit years: the formatter (never on a report row of real data)
        use std::io::Write as _;
        let _ = write!(
            out,
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{milli:03}",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        );
        return;
    }
    out.extend_from_slice(&time_ms_bytes(y, m, d, sod, milli));
}

/// `YYYY-MM-DD HH:MM:SS.mmm` for a year in 0..=9999, digit by digit.
fn time_ms_bytes(y: i64, m: u32, d: u32, sod: i64, milli: i64) -> [u8; 23] {
    // the common case without the formatting machinery (it sits on every report row)
    let mut b = *b"0000-00-00 00:00:00.000";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, i64::from(m));
    put(8, 2, i64::from(d));
    put(11, 2, sod / 3600);
    put(14, 2, (sod / 60) % 60);
    put(17, 2, sod % 60);
    put(20, 3, milli);
    b
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
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

/// (year, month, day) → days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.mmm]]`, `YYYY-MM-DD HH:MM[:SS[.mmm]]` (UTC) or
/// integer ms.
pub fn parse_time_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    let (date, time) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], s[i + 1..].trim_end_matches('Z')),
        None => (s, ""),
    };
    let mut dp = date.split('-');
    let y: i64 = dp.next()?.parse().ok()?;
    let m: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next().unwrap_or("1").parse().ok()?;
    // a date that does not exist (2026-02-30) is refused, never rolled into the next month
    if dp.next().is_some()
        || !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || d < 1
        || d > days_in_month(y, m)
    {
        return None;
    }
    let mut ms = 0i64;
    if !time.is_empty() {
        let mut tp = time.split(':');
        let h: i64 = tp.next()?.parse().ok()?;
        let mi: i64 = tp.next().unwrap_or("0").parse().ok()?;
        let (se, frac) = match tp.next() {
            Some(x) => x.split_once('.').unwrap_or((x, "")),
            None => ("0", ""),
        };
        let se: i64 = se.parse().ok()?;
        // fractional seconds: up to milliseconds (`02:00:00.250`)
        if tp.next().is_some()
            || h > 23
            || mi > 59
            || se > 59
            || frac.len() > 3
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || (frac.is_empty() && time.ends_with('.'))
        {
            return None;
        }
        let frac_ms = if frac.is_empty() {
            0
        } else {
            frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32)
        };
        ms = (h * 3600 + mi * 60 + se) * 1000 + frac_ms;
    }
    Some(days_from_civil(y, m, d) * 86_400_000 + ms)
}

/// Days in month `m` of year `y` (proleptic Gregorian).
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

macro_rules! id_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
        #[serde(transparent)]
        pub struct $name(pub u64);
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{}", self.0) }
        }
    };
}

id_newtype!(
    /// A regular order's exchange id (`orderId`), increasing per run.
    OrderId
);
id_newtype!(
    /// A conditional (algo) order's exchange id (`algoId`), from its own sequence.
    AlgoId
);
id_newtype!(
    /// The engine's id for one SL/TP pair.
    PairId
);
id_newtype!(
    /// Global sequence number of an event; ties at one `TimeMs` are broken by it.
    Seq
);

/// Order side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Side {
    /// BUY.
    Buy,
    /// SELL.
    Sell,
}

impl Side {
    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
    /// +1 for BUY, -1 for SELL.
    pub fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
    /// Binance spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

/// `positionSide`: BOTH in one-way mode, LONG/SHORT in hedge mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PositionSide {
    /// One-way mode's net position.
    Both,
    /// Hedge mode's long leg.
    Long,
    /// Hedge mode's short leg.
    Short,
}

impl PositionSide {
    /// Binance spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            PositionSide::Both => "BOTH",
            PositionSide::Long => "LONG",
            PositionSide::Short => "SHORT",
        }
    }
}

/// Account position mode (`dualSidePosition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PositionMode {
    /// `dualSidePosition=false`: one net position per symbol.
    #[default]
    OneWay,
    /// `dualSidePosition=true`: independent LONG and SHORT positions.
    Hedge,
}

/// Order type, as sent or as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderType {
    /// LIMIT.
    Limit,
    /// MARKET.
    Market,
    /// STOP (stop-limit).
    Stop,
    /// STOP_MARKET.
    StopMarket,
    /// TAKE_PROFIT (take-profit limit).
    TakeProfit,
    /// TAKE_PROFIT_MARKET.
    TakeProfitMarket,
    /// TRAILING_STOP_MARKET.
    TrailingStopMarket,
    /// LIQUIDATION (only reported, never sent).
    Liquidation,
}

impl OrderType {
    /// True for the conditional types that live in the Algo service since 2025-12-09.
    pub fn is_conditional(self) -> bool {
        matches!(
            self,
            OrderType::Stop
                | OrderType::StopMarket
                | OrderType::TakeProfit
                | OrderType::TakeProfitMarket
                | OrderType::TrailingStopMarket
        )
    }
    /// True for STOP / STOP_MARKET (and trailing), the stop-loss shaped types.
    pub fn is_stop(self) -> bool {
        matches!(
            self,
            OrderType::Stop | OrderType::StopMarket | OrderType::TrailingStopMarket
        )
    }
    /// True for TAKE_PROFIT / TAKE_PROFIT_MARKET.
    pub fn is_take_profit(self) -> bool {
        matches!(self, OrderType::TakeProfit | OrderType::TakeProfitMarket)
    }
    /// Binance spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderType::Limit => "LIMIT",
            OrderType::Market => "MARKET",
            OrderType::Stop => "STOP",
            OrderType::StopMarket => "STOP_MARKET",
            OrderType::TakeProfit => "TAKE_PROFIT",
            OrderType::TakeProfitMarket => "TAKE_PROFIT_MARKET",
            OrderType::TrailingStopMarket => "TRAILING_STOP_MARKET",
            OrderType::Liquidation => "LIQUIDATION",
        }
    }
}

/// `timeInForce`, including the undocumented position-bound `GTE_GTC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimeInForce {
    /// Good till cancel.
    Gtc,
    /// Immediate or cancel.
    Ioc,
    /// Fill or kill.
    Fok,
    /// Post only.
    Gtx,
    /// Good till the position is closed (expires when the position reaches zero).
    GteGtc,
}

impl TimeInForce {
    /// Binance spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Ioc => "IOC",
            TimeInForce::Fok => "FOK",
            TimeInForce::Gtx => "GTX",
            TimeInForce::GteGtc => "GTE_GTC",
        }
    }
}

/// Which price a conditional order watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkingType {
    /// Last trade price (Binance's default).
    #[default]
    ContractPrice,
    /// Mark price.
    MarkPrice,
}

/// Regular order status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Accepted, resting.
    New,
    /// Partly filled, still working.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Cancelled by the user.
    Canceled,
    /// Expired by the system (see `ExpiryReason`).
    Expired,
    /// Rejected.
    Rejected,
}

impl OrderStatus {
    /// Binance spelling (as serialized).
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "NEW",
            OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
            OrderStatus::Filled => "FILLED",
            OrderStatus::Canceled => "CANCELED",
            OrderStatus::Expired => "EXPIRED",
            OrderStatus::Rejected => "REJECTED",
        }
    }
    /// Terminal states never change again.
    pub fn is_terminal(self) -> bool {
        !matches!(self, OrderStatus::New | OrderStatus::PartiallyFilled)
    }
}

/// Algo (conditional) order status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlgoStatus {
    /// Resting, untriggered.
    New,
    /// Condition met, being forwarded.
    Triggering,
    /// Child order accepted by the matching engine.
    Triggered,
    /// Child order finished (filled or cancelled).
    Finished,
    /// Cancelled by the user.
    Canceled,
    /// Refused at trigger (e.g. "Reduce Only reject").
    Rejected,
    /// Cancelled by the system (e.g. GTE_GTC after the position closed).
    Expired,
}

impl AlgoStatus {
    /// Binance spelling (as serialized).
    pub const fn as_str(self) -> &'static str {
        match self {
            AlgoStatus::New => "NEW",
            AlgoStatus::Triggering => "TRIGGERING",
            AlgoStatus::Triggered => "TRIGGERED",
            AlgoStatus::Finished => "FINISHED",
            AlgoStatus::Canceled => "CANCELED",
            AlgoStatus::Rejected => "REJECTED",
            AlgoStatus::Expired => "EXPIRED",
        }
    }
    /// True while the order can still trigger.
    pub fn is_open(self) -> bool {
        matches!(self, AlgoStatus::New | AlgoStatus::Triggering)
    }
}

/// ORDER_TRADE_UPDATE `er`: why an order expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum ExpiryReason {
    /// 0: none.
    None = 0,
    /// 2: IOC remainder.
    IocRemainder = 2,
    /// 4: reduce-only knocked out / would reverse the position.
    ReduceOnly = 4,
    /// 5: account liquidated.
    Liquidation = 5,
    /// 6: GTE condition unsatisfied (position closed).
    GteUnsatisfied = 6,
    /// 8: legacy stop expired after being triggered.
    LegacyTriggered = 8,
    /// 9: MARKET remainder not filled.
    MarketRemainder = 9,
}

/// Fixed-point price in ticks of one symbol; used only inside the book and the matching loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ticks(pub i64);

/// Quantity in steps of one symbol; used only inside the book and the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Steps(pub i64);

/// Decimal from a fixed-point mantissa at 1e-8 (the data loader's scale).
pub fn dec_e8(v: i64) -> Decimal {
    Decimal::new(v, 8).normalize()
}

/// Decimal → i64 mantissa at 1e-8, or None when it has more than 8 decimals or overflows.
pub fn to_e8(d: Decimal) -> Option<i64> {
    let scaled = d.checked_mul(Decimal::from(100_000_000i64))?;
    if scaled.fract() != Decimal::ZERO {
        return None;
    }
    i64::try_from(scaled.trunc()).ok()
}

/// Strings kept for reuse, at most `MAX`: the text of a record about to be dropped is kept
/// ([`Self::keep`]) and the next record's text written into it ([`Self::take`],
/// [`Self::copy_of`]) instead of a new allocation. Shared by the venue (accepted calls'
/// summaries leaving the log's ring) and `events::RecordBatch` (records handed to the report
/// thread).
#[derive(Debug, Default)]
pub(crate) struct TextPool<const MAX: usize> {
    texts: Vec<String>,
}

impl<const MAX: usize> TextPool<MAX> {
    /// Takes `s` (leaving it empty) when it holds an allocation and there is room.
    #[inline]
    pub(crate) fn keep(&mut self, s: &mut String) {
        if s.capacity() > 0 && self.texts.len() < MAX {
            self.texts.push(std::mem::take(s));
        }
    }
    /// An empty string: a kept one, or a new one.
    #[inline]
    pub(crate) fn take(&mut self) -> String {
        match self.texts.pop() {
            Some(mut s) => {
                s.clear();
                s
            }
            None => String::new(),
        }
    }
    /// `text` in a kept string (or a new one).
    #[inline]
    pub(crate) fn copy_of(&mut self, text: &str) -> String {
        let mut s = self.take();
        s.push_str(text);
        s
    }
    /// True when no string is kept.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }
}

/// A xorshift64 stream for the unit tests' random inputs (same seed, same stream).
#[cfg(test)]
pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool keeps allocated strings up to its bound, never an unallocated one, and hands
    /// them back empty, then new ones.
    #[test]
    fn text_pool_keeps_up_to_its_bound() {
        let mut p = TextPool::<2>::default();
        let mut empty = String::new();
        p.keep(&mut empty);
        assert!(p.is_empty());
        let mut kept = Vec::new();
        for i in 0..3 {
            let mut s = format!("summary {i}");
            p.keep(&mut s);
            kept.push(s);
        }
        // the first two were taken (left empty), the third stayed where it was
        assert_eq!(kept, ["", "", "summary 2"]);
        let a = p.copy_of("orderId=1 status=New");
        assert_eq!(a, "orderId=1 status=New");
        assert!(a.capacity() >= "summary 1".len());
        assert_eq!(p.take(), "");
        assert!(p.is_empty());
        assert_eq!(p.take().capacity(), 0);
    }
    #[test]
    fn u64_in_is_the_decimal_text() {
        let mut n = 1u64;
        let mut cases = vec![0, 9, 10, 11, 99, 100, 101, 999, u64::MAX, u64::MAX - 1];
        while let Some(m) = n.checked_mul(7) {
            cases.extend([n, n + 1, n - 1]);
            n = m;
        }
        for c in cases {
            assert_eq!(u64_in(c, &mut [0; 20]), c.to_string());
            let mut s = String::from("x");
            push_u64(&mut s, c);
            assert_eq!(s, format!("x{c}"));
        }
    }
    #[test]
    fn time_round_trip() {
        let t = parse_time_ms("2026-02-01").unwrap();
        assert_eq!(t, 1_769_904_000_000);
        assert_eq!(fmt_time_ms(t), "2026-02-01 00:00:00.000");
        assert_eq!(
            parse_time_ms("2026-02-01T00:01:00Z").unwrap(),
            1_769_904_060_000
        );
        assert_eq!(parse_time_ms("2026-13-01"), None);
    }
    #[test]
    fn issue16_bug9_fractional_seconds() {
        let t = parse_time_ms("2026-02-01T02:00").unwrap();
        assert_eq!(parse_time_ms("2026-02-01T02:00:00.250"), Some(t + 250));
        assert_eq!(parse_time_ms("2026-02-01 02:00:01.5Z"), Some(t + 1_500));
        assert_eq!(parse_time_ms("2026-02-01T02:00:00.007"), Some(t + 7));
        for bad in [
            "2026-02-01T02:00:00.",
            "2026-02-01T02:00:00.2500",
            "2026-02-01T02:00:00.2x",
            "2026-02-01T02:00:00:00",
        ] {
            assert_eq!(parse_time_ms(bad), None, "{bad}");
        }
    }
    #[test]
    fn dates_that_do_not_exist_are_refused_not_rolled_over() {
        assert_eq!(parse_time_ms("2026-02-30"), None);
        assert_eq!(parse_time_ms("2026-02-29"), None);
        assert_eq!(parse_time_ms("2026-04-31T00:00"), None);
        assert_eq!(parse_time_ms("2028-02-29"), Some(1_835_395_200_000));
        assert_eq!(parse_time_ms("2026-02-00"), None);
        assert_eq!(parse_time_ms("99999999999-01-01"), None);
        assert_eq!(parse_time_ms("2026-02-01T24:00"), None);
        assert_eq!(parse_time_ms("2026-02-01T00:00:00:00"), None);
    }
    #[test]
    fn fractional_seconds_are_milliseconds() {
        let t = parse_time_ms("2026-02-01T02:00:00").unwrap();
        assert_eq!(parse_time_ms("2026-02-01T02:00:00.250"), Some(t + 250));
        assert_eq!(parse_time_ms("2026-02-01T02:00:00.5"), Some(t + 500));
        assert_eq!(parse_time_ms("2026-02-01T02:00:00.2500"), None);
        assert_eq!(parse_time_ms("2026-02-01T02:00:00.-1"), None);
    }
    #[test]
    fn e8_conversions() {
        assert_eq!(to_e8(Decimal::new(10113, 3)), Some(1_011_300_000));
        assert_eq!(to_e8(Decimal::new(1, 9)), None);
        assert_eq!(dec_e8(1_011_300_000).to_string(), "10.113");
    }
}

#[cfg(test)]
mod fmt_time_tests {
    use super::*;

    #[test]
    fn fast_time_format_matches_the_formatter() {
        let slow = |ms: i64| {
            let secs = ms.div_euclid(1000);
            let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
            let sod = secs.rem_euclid(86_400);
            format!(
                "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
                sod / 3600,
                (sod / 60) % 60,
                sod % 60,
                ms.rem_euclid(1000)
            )
        };
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut cases = vec![
            0,
            -1,
            1,
            1_680_307_199_999,
            253_402_300_799_999,
            253_402_300_800_000,
        ];
        cases.push(-62_167_219_200_000); // year 0
        cases.push(-62_167_219_200_001); // year -1: the formatter's path
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push((x % 600_000_000_000_000) as i64 - 300_000_000_000_000);
        }
        for ms in cases {
            assert_eq!(fmt_time_ms(ms), slow(ms), "{ms}");
        }
    }
}

/// The tests' random numbers: a xorshift64 stream (shifts 13, 7, 17) from `seed`, each call a
/// draw in `0..n` (one generator for the tests that used to write it out each time).
#[cfg(test)]
pub(crate) fn xorshift_below(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed;
    move |n| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}

/// As [`xorshift_below`], drawing in `0..m` for signed `m > 0`.
#[cfg(test)]
pub(crate) fn xorshift_below_i64(seed: u64) -> impl FnMut(i64) -> i64 {
    let mut r = xorshift_below(seed);
    move |m| r(m as u64) as i64
}
