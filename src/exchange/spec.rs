//! Symbol filters (exchangeInfo) and the one checked Decimal ⇄ ticks/steps conversion per symbol.

use crate::api::ApiError;
use crate::exchange::codes;
use crate::exchange::BarTicks;
use crate::types::Ident;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One symbol's trading rules: PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, MIN_NOTIONAL, PERCENT_PRICE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolSpec {
    /// Symbol name, e.g. BTCUSDT.
    pub symbol: Ident,
    /// PRICE_FILTER tickSize.
    pub tick_size: Decimal,
    /// PRICE_FILTER minPrice.
    pub min_price: Decimal,
    /// PRICE_FILTER maxPrice.
    pub max_price: Decimal,
    /// LOT_SIZE stepSize.
    pub step_size: Decimal,
    /// LOT_SIZE minQty.
    pub min_qty: Decimal,
    /// LOT_SIZE maxQty.
    pub max_qty: Decimal,
    /// MARKET_LOT_SIZE maxQty.
    pub market_max_qty: Decimal,
    /// MIN_NOTIONAL notional.
    pub min_notional: Decimal,
    /// PERCENT_PRICE multiplierUp.
    pub percent_up: Decimal,
    /// PERCENT_PRICE multiplierDown.
    pub percent_down: Decimal,
    /// Liquidation fee rate.
    pub liquidation_fee: Decimal,
    /// Maintenance margin ratio of the first notional bracket (see `margin` for the table).
    pub maint_margin_ratio: Decimal,
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap_or_default()
}

impl SymbolSpec {
    /// Defaults for a symbol: BTCUSDT and ETHUSDT from a dated exchangeInfo snapshot
    /// (`binance-usdm-futures.md` §4, 2026 live values), the shipped symbols from `data/symbols.toml`.
    pub fn builtin(symbol: &str) -> Option<SymbolSpec> {
        let (tick, min_p, max_p, step, min_q, max_q, mkt_max, notional, liq, mmr) = match symbol {
            // exchangeInfo snapshot 2026 (binance-usdm-futures.md §4): BTCUSDT tick 0.10, notional 50.
            "BTCUSDT" => (
                "0.10", "556.80", "4529764", "0.001", "0.001", "1000", "120", "50", "0.0125",
                "0.004",
            ),
            // maintenance ratio: bracket 1 of the default table (`margin`), 0.65 %
            "ETHUSDT" => (
                "0.01", "39.86", "306177", "0.001", "0.001", "10000", "2000", "20", "0.010000",
                "0.0065",
            ),
            // data/symbols.toml (tick/step read off the archive's decimals; notional 5 USDT).
            "AVAXUSDT" => (
                "0.001", "0.001", "100000", "1", "1", "100000", "100000", "5", "0.015", "0.01",
            ),
            "FILUSDT" => (
                "0.001", "0.001", "100000", "0.1", "0.1", "1000000", "1000000", "5", "0.015",
                "0.01",
            ),
            "LINKUSDT" => (
                "0.001", "0.001", "100000", "0.01", "0.01", "100000", "100000", "5", "0.015",
                "0.01",
            ),
            "NEARUSDT" => (
                "0.001", "0.001", "100000", "1", "1", "1000000", "1000000", "5", "0.015", "0.01",
            ),
            _ => return None,
        };
        Some(SymbolSpec {
            symbol: symbol.into(),
            tick_size: d(tick),
            min_price: d(min_p),
            max_price: d(max_p),
            step_size: d(step),
            min_qty: d(min_q),
            max_qty: d(max_q),
            market_max_qty: d(mkt_max),
            min_notional: d(notional),
            percent_up: d("1.05"),
            percent_down: d("0.95"),
            liquidation_fee: d(liq),
            maint_margin_ratio: d(mmr),
        })
    }

    /// Decimals allowed in a price (pricePrecision): the decimals of `tickSize` as exchangeInfo
    /// writes it, trailing zeros included — BTCUSDT's "0.10" gives 2, so 100.05 is off the tick
    /// (-4014), not over the precision (-1111) (`binance-usdm-futures.md` §3, §4).
    pub fn price_precision(&self) -> u32 {
        self.tick_size.scale()
    }

    /// Decimals allowed in a quantity (quantityPrecision): the decimals of `stepSize` as written.
    pub fn qty_precision(&self) -> u32 {
        self.step_size.scale()
    }

    /// Checked price → ticks: -1111 for too many decimals, -4014 off the tick grid,
    /// -4013/-4002 outside [minPrice, maxPrice] (`binance-usdm-futures.md` §3, §4).
    pub fn price_to_ticks(&self, price: Decimal) -> Result<i64, ApiError> {
        if normalized_scale(price) > self.price_precision() {
            return Err(codes::bad_precision());
        }
        if cmp_dec(price, self.min_price).is_lt() {
            return Err(ApiError::new(-4013, "Price less than min price."));
        }
        if cmp_dec(price, self.max_price).is_gt() {
            return Err(ApiError::new(-4002, "Price greater than max price."));
        }
        match grid_units(price, self.tick_size) {
            Some(Ok(n)) => return Ok(n),
            Some(Err(())) => return Err(ApiError::new(-4014, "Price not increased by tick size.")),
            None => {}
        }
        let q = price / self.tick_size;
        if q.fract() != Decimal::ZERO {
            return Err(ApiError::new(-4014, "Price not increased by tick size."));
        }
        i64::try_from(q.trunc()).map_err(|_| codes::bad_precision())
    }

    /// Checked quantity → steps: -4003 (≤ 0), -1111, -4023, -4004/-4005 against LOT_SIZE
    /// (or MARKET_LOT_SIZE's max for market orders).
    pub fn qty_to_steps(&self, qty: Decimal, market: bool) -> Result<i64, ApiError> {
        if qty.is_sign_negative() || qty.is_zero() {
            return Err(ApiError::new(-4003, "Quantity less than zero."));
        }
        if normalized_scale(qty) > self.qty_precision() {
            return Err(codes::bad_precision());
        }
        let steps = match grid_units(qty, self.step_size) {
            Some(Ok(n)) => Some(n),
            Some(Err(())) => return Err(ApiError::new(-4023, "Qty not increased by step size.")),
            None => None,
        };
        let q = match steps {
            Some(_) => Decimal::ZERO,
            None => qty / self.step_size,
        };
        if q.fract() != Decimal::ZERO {
            return Err(ApiError::new(-4023, "Qty not increased by step size."));
        }
        if cmp_dec(qty, self.min_qty).is_lt() {
            return Err(ApiError::new(-4004, "Quantity less than min quantity."));
        }
        let max = if market {
            self.market_max_qty
        } else {
            self.max_qty
        };
        if cmp_dec(qty, max).is_gt() {
            return Err(ApiError::new(-4005, "Quantity greater than max quantity."));
        }
        match steps {
            Some(n) => Ok(n),
            None => i64::try_from(q.trunc()).map_err(|_| codes::bad_precision()),
        }
    }

    /// Ticks → price.
    pub fn price(&self, ticks: i64) -> Decimal {
        units(ticks, self.tick_size)
    }

    /// Steps → quantity.
    pub fn qty(&self, steps: i64) -> Decimal {
        units(steps, self.step_size)
    }

    /// A fixed-point 1e-8 price → ticks, rounded to the nearest tick (market data, not an order).
    pub fn e8_to_ticks(&self, e8: i64) -> i64 {
        round_e8(e8, self.tick_e8())
    }

    /// The tick as a 1e-8 mantissa (at least 1).
    pub fn tick_e8(&self) -> i64 {
        (self.tick_size * Decimal::from(100_000_000i64))
            .trunc()
            .try_into()
            .unwrap_or(1i64)
            .max(1)
    }

    /// Kline columns (1e-8 prices) as bars in ticks, each price rounded to the nearest tick.
    ///
    /// Collected into any container: an `Arc<[BarTicks]>` is written in one allocation of the
    /// exact length (the zipped slices' length is known), where a `Vec` turned into an `Arc`
    /// afterwards is copied whole (a year of minute bars: 21 MB and 5,000 page faults more).
    pub fn bars_from_e8<C: FromIterator<BarTicks>>(
        &self,
        open_time_ms: &[i64],
        open: &[i64],
        high: &[i64],
        low: &[i64],
        close: &[i64],
    ) -> C {
        let tick = TickDiv::new(self.tick_e8());
        open_time_ms
            .iter()
            .zip(open)
            .zip(high)
            .zip(low)
            .zip(close)
            .map(|((((&t, &o), &h), &l), &c)| BarTicks {
                t,
                o: tick.round(o),
                h: tick.round(h),
                l: tick.round(l),
                c: tick.round(c),
            })
            .collect()
    }
}

/// [`round_e8`] by one tick for a whole series without a division per price where it can: a
/// kline's prices are whole ticks, and a whole multiple `n = q·d` gives `q` by a shift and a
/// multiplication by the inverse of `d`'s odd part modulo 2⁶⁴ (checked by multiplying back
/// without wrapping); any other price takes the division. Four divisions a bar were most of
/// turning a year of klines into bars (≈ 14 ms of `sim run`'s load of the dense year).
#[derive(Debug, Clone, Copy)]
struct TickDiv {
    d: i64,
    /// `d`'s trailing zero bits.
    shift: u32,
    /// The inverse of `d >> shift` (odd) modulo 2⁶⁴.
    inv: u64,
}

impl TickDiv {
    fn new(d: i64) -> TickDiv {
        let d = d.max(1);
        let shift = d.trailing_zeros();
        let odd = (d >> shift) as u64;
        // Newton's iteration doubles the bits that are right: an odd number is its own inverse
        // modulo 8 (3 bits), so five steps give 96 ≥ 64
        let mut inv = odd;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(odd.wrapping_mul(inv)));
        }
        TickDiv { d, shift, inv }
    }

    #[inline(always)]
    fn round(&self, e8: i64) -> i64 {
        if e8 & ((1i64 << self.shift) - 1) == 0 {
            let q = ((e8 >> self.shift) as u64).wrapping_mul(self.inv) as i64;
            // q·d ≡ e8 modulo 2⁶⁴ always; equal without wrapping exactly when d divides e8
            if q.checked_mul(self.d) == Some(e8) {
                return q;
            }
        }
        round_e8(e8, self.d)
    }
}

/// A symbol's price and quantity limits in ticks and steps: the least and greatest whole
/// counts of the unit inside [min, max] (`None` where they cannot be worked out exactly, e.g. a
/// non-positive unit). An order's price or quantity that is already a whole count of its unit
/// is then checked against its limits by comparing integers, where `SymbolSpec::price_to_ticks`
/// compares Decimals of different scales (twice for every price of every order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct GridLimits {
    /// (least, greatest) ticks within [minPrice, maxPrice].
    price: Option<(i64, i64)>,
    /// (least steps ≥ minQty, greatest ≤ maxQty, greatest ≤ MARKET_LOT_SIZE maxQty).
    qty: Option<(i64, i64, i64)>,
}

/// The least `n` with `n × unit ≥ v` (`up`) or the greatest with `n × unit ≤ v`, checked exactly
/// against the Decimal comparison on both sides of the answer.
fn bound_units(v: Decimal, unit: Decimal, up: bool) -> Option<i64> {
    if unit <= Decimal::ZERO {
        return None;
    }
    let q = v.checked_div(unit)?;
    let n = i64::try_from(if up { q.ceil() } else { q.floor() }).ok()?;
    let (lo, hi) = if up {
        (n.checked_sub(1)?, n)
    } else {
        (n, n.checked_add(1)?)
    };
    let at = |k: i64| Decimal::from(k).checked_mul(unit);
    let (a, b) = (at(lo)?, at(hi)?);
    // up: lo × unit < v ≤ hi × unit; down: lo × unit ≤ v < hi × unit
    let ok = if up { a < v && v <= b } else { a <= v && v < b };
    ok.then_some(n)
}

impl GridLimits {
    /// The limits of `spec`.
    pub(crate) fn of(spec: &SymbolSpec) -> GridLimits {
        let price = (|| {
            let lo = bound_units(spec.min_price, spec.tick_size, true)?;
            let hi = bound_units(spec.max_price, spec.tick_size, false)?;
            Some((lo, hi))
        })();
        let qty = (|| {
            let lo = bound_units(spec.min_qty, spec.step_size, true)?;
            let hi = bound_units(spec.max_qty, spec.step_size, false)?;
            let mhi = bound_units(spec.market_max_qty, spec.step_size, false)?;
            Some((lo, hi, mhi))
        })();
        GridLimits { price, qty }
    }

    /// `spec.price_to_ticks(price)` (the spec these limits are of): a price within the precision
    /// that is a whole number of ticks inside the limits is that number; anything else is decided
    /// by `price_to_ticks` itself (its errors, in its order).
    #[inline]
    pub(crate) fn price_to_ticks(
        &self,
        spec: &SymbolSpec,
        price: Decimal,
    ) -> Result<i64, ApiError> {
        if let Some((lo, hi)) = self.price {
            if normalized_scale(price) <= spec.price_precision() {
                if let Some(Ok(n)) = grid_units(price, spec.tick_size) {
                    if lo <= n && n <= hi {
                        return Ok(n);
                    }
                }
            }
        }
        spec.price_to_ticks(price)
    }

    /// `spec.qty_to_steps(qty, market)`, likewise.
    #[inline]
    pub(crate) fn qty_to_steps(
        &self,
        spec: &SymbolSpec,
        qty: Decimal,
        market: bool,
    ) -> Result<i64, ApiError> {
        if let Some((lo, hi, mhi)) = self.qty {
            if qty.is_sign_positive()
                && !qty.is_zero()
                && normalized_scale(qty) <= spec.qty_precision()
            {
                if let Some(Ok(n)) = grid_units(qty, spec.step_size) {
                    if lo <= n && n <= if market { mhi } else { hi } {
                        return Ok(n);
                    }
                }
            }
        }
        spec.qty_to_steps(qty, market)
    }
}

/// `e8` in units of `tick_e8`, half up.
#[inline]
fn round_e8(e8: i64, tick_e8: i64) -> i64 {
    let q = e8.div_euclid(tick_e8);
    if e8.rem_euclid(tick_e8) * 2 >= tick_e8 {
        q + 1
    } else {
        q
    }
}

/// `value.normalize().scale()` (the decimals it has without trailing zeros), in integers when
/// the mantissa fits in 64 bits: an order's price and quantity are checked this way on every
/// request, and `normalize` builds a whole new Decimal to read one field of it.
#[inline]
fn normalized_scale(value: Decimal) -> u32 {
    let Ok(m) = i64::try_from(value.mantissa()) else {
        return value.normalize().scale();
    };
    let mut a = m.unsigned_abs();
    let mut scale = value.scale();
    while scale > 0 && a % 10 == 0 {
        a /= 10;
        scale -= 1;
    }
    scale
}

/// 10^k as an i64 (`None` past 10^18, the last that fits).
#[inline]
fn pow10_i64(k: usize) -> Option<i64> {
    i64::try_from(*crate::types::POW10_U64.get(k)?).ok()
}

/// `value / unit` in integers when that decides as the Decimal division does: `Some(Ok(n))` when
/// `value` is `n` whole units, `Some(Err(()))` when it is off the grid, `None` when the integers
/// would not fit in an i64 (the caller then divides Decimals). Exact because with `|n| < 2^63`
/// a Decimal quotient keeps at least 9 fractional digits, and the fraction of an off-grid
/// quotient is at least 1/den ≥ 1e-8 away from a whole number (den ≤ 1e8): the Decimal's
/// `fract()` is zero exactly when the division leaves no remainder, and its `trunc()` is `n`.
#[inline]
fn grid_units(value: Decimal, unit: Decimal) -> Option<Result<i64, ()>> {
    const MAX_DEN: i64 = 100_000_000;
    let m = i64::try_from(value.mantissa()).ok()?;
    let um = i64::try_from(unit.mantissa()).ok()?;
    if um <= 0 {
        return None;
    }
    let (s, us) = (value.scale() as usize, unit.scale() as usize);
    let (num, den) = if us >= s {
        (m.checked_mul(pow10_i64(us - s)?)?, um)
    } else {
        (m, um.checked_mul(pow10_i64(s - us)?)?)
    };
    if den > MAX_DEN {
        return None;
    }
    if num % den != 0 {
        return Some(Err(()));
    }
    Some(Ok(num / den))
}

/// `a.cmp(&b)`, in integers when both mantissas fit in an i64 and both scales are at most 18
/// (each side scaled to the larger scale fits in an i128: exact); a Decimal comparison at
/// different scales rescales in 96-bit words, and every order is compared to its limits.
#[inline]
pub(crate) fn cmp_dec(a: Decimal, b: Decimal) -> std::cmp::Ordering {
    let (Ok(am), Ok(bm)) = (i64::try_from(a.mantissa()), i64::try_from(b.mantissa())) else {
        return a.cmp(&b);
    };
    let (sa, sb) = (a.scale() as usize, b.scale() as usize);
    if sa > 18 || sb > 18 {
        return a.cmp(&b);
    }
    let s = sa.max(sb);
    let p = |k: usize| i128::from(crate::types::POW10_U64[k]);
    (i128::from(am) * p(s - sa)).cmp(&(i128::from(bm) * p(s - sb)))
}

/// `(n × unit).normalize()`, in integers when the product fits in i64 (the usual case: a
/// tick or step is a small mantissa and scale), so a price costs no Decimal multiply and no
/// normalize loop; the same bits as the Decimal formula (trailing zeros stripped, zero positive).
/// The zeros are stripped off the magnitude (an unsigned division by 10 is cheaper than a signed
/// one) and the result is assembled from its parts (`Decimal::new` checks the scale again and
/// was a call of its own on every price).
/// A positive unit whose mantissa fits in 32 bits (every tick and step) is read straight off its
/// words (`serialize`: flags, lo, mid, hi), not widened to an i128 and narrowed back.
/// A zero count (a flat side, the stop of a plain order: ~40% of all calls) is answered before
/// any of that: the formula gives it `Decimal::ZERO` for every unit (positive, scale 0; proved by
/// `units_of_zero_are_the_decimal_formula_for_every_scale`).
#[inline(always)]
fn units(n: i64, unit: Decimal) -> Decimal {
    if n == 0 {
        return Decimal::ZERO;
    }
    units_nonzero(n, unit)
}

/// [`units`] past its zero test.
#[inline]
fn units_nonzero(n: i64, unit: Decimal) -> Decimal {
    let w = unit.serialize();
    let word = |i: usize| u32::from_le_bytes([w[i], w[i + 1], w[i + 2], w[i + 3]]);
    let (flags, lo, mid, hi) = (word(0), word(4), word(8), word(12));
    let m = if mid == 0 && hi == 0 && flags & 0x8000_0000 == 0 {
        Some(i64::from(lo))
    } else {
        i64::try_from(unit.mantissa()).ok()
    };
    if let Some(v) = m.and_then(|m| m.checked_mul(n)) {
        if v == 0 {
            return Decimal::ZERO;
        }
        let mut a = v.unsigned_abs();
        let mut scale = (flags >> 16) & 0xFF;
        while scale > 0 && a % 10 == 0 {
            a /= 10;
            scale -= 1;
        }
        return Decimal::from_parts(a as u32, (a >> 32) as u32, 0, v < 0, scale);
    }
    (Decimal::from(n) * unit).normalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `TickDiv::round` is `round_e8` for ticks of every form (powers of ten and two, odd,
    /// one, large) over whole multiples (the fast path), prices between ticks, negatives and
    /// the ends of the range; breaking the check (returning `q` unchecked) fails here.
    #[test]
    fn tick_div_rounds_as_round_e8() {
        let mut rnd = crate::types::xorshift(0x243F_6A88_85A3_08D3);
        let ticks = [
            1i64,
            2,
            3,
            10,
            100,
            1_000,
            10_000,
            100_000,
            1_000_000,
            10_000_000,
            100_000_000,
            5_000_000,
            25,
            7,
            1 << 20,
            999_999_937,
            i64::MAX / 3,
        ];
        let mut exact = 0u32;
        for &d in &ticks {
            let t = TickDiv::new(d);
            let check = |e8: i64| {
                assert_eq!(t.round(e8), round_e8(e8, d), "e8 {e8} tick {d}");
            };
            for e8 in [
                0,
                1,
                -1,
                d,
                -d,
                d / 2,
                d / 2 + 1,
                i64::MAX,
                i64::MIN + d,
                i64::MIN,
            ] {
                check(e8);
            }
            for _ in 0..20_000 {
                let r = rnd();
                let e8 = match r % 4 {
                    // a whole number of ticks (what klines hold)
                    0 | 1 => ((r >> 8) as i64 % (i64::MAX / d).max(1)) * d,
                    2 => ((r >> 8) % 10_000_000_000_000) as i64 - 5_000_000_000_000,
                    _ => r as i64,
                };
                if e8 % d == 0 {
                    exact += 1;
                }
                check(e8);
            }
        }
        assert!(exact > 100_000, "{exact}");
    }

    #[test]
    fn units_are_the_decimal_formula_bit_for_bit() {
        let units_list = [
            // a negative unit and mantissas past 32 bits take the general path
            "-0.5",
            "4294967296",
            "0.4294967297",
            "0.1",
            "0.10",
            "0.01",
            "0.001",
            "0.0001",
            "0.00001",
            "0.000001",
            "0.0000001",
            "1",
            "10",
            "0.5",
            "0.25",
            "0.0010",
            "5",
            "0.00000001",
            "100",
            "0.000000000000000000000001",
        ];
        let ns = [
            0i64,
            1,
            -1,
            7,
            10,
            -10,
            99,
            100,
            1_000,
            12_345,
            -12_345,
            1_000_000_000,
            i64::MAX / 3,
            i64::MIN / 3,
            i64::MAX,
            i64::MIN + 1,
            i64::MIN,
            1_230,
            -5_000,
            120_000,
            4_294_967_296,
            -4_294_967_296_000,
        ];
        // and a spread of magnitudes, many with trailing zeros
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut ns = ns.to_vec();
        for i in 0..2_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = ((x >> (i % 60)) as i64).wrapping_mul(10i64.pow(i % 5));
            ns.push(if i % 2 == 0 { v } else { -v });
        }
        for u in units_list {
            let unit: Decimal = u.parse().expect("unit");
            for &n in &ns {
                let want = (Decimal::from(n) * unit).normalize();
                let got = units(n, unit);
                assert_eq!(got.serialize(), want.serialize(), "{n} x {u}");
                assert_eq!(got.to_string(), want.to_string(), "{n} x {u}");
            }
        }
    }

    #[test]
    fn units_of_zero_are_the_decimal_formula_for_every_scale() {
        let mantissas: [i128; 8] = [
            0,
            1,
            5,
            10,
            1_000,
            u32::MAX as i128,
            i64::MAX as i128 + 1,
            (1i128 << 96) - 1,
        ];
        for scale in 0..=28u32 {
            for &m in &mantissas {
                for m in [m, -m] {
                    let unit = Decimal::from_i128_with_scale(m, scale);
                    let want = (Decimal::from(0i64) * unit).normalize();
                    let got = units(0, unit);
                    assert_eq!(got.serialize(), want.serialize(), "0 x {unit}");
                    assert_eq!(got.to_string(), want.to_string(), "0 x {unit}");
                    assert_eq!(got.to_string(), "0");
                }
            }
        }
    }

    #[test]
    fn grid_units_and_normalized_scale_are_the_decimal_formulas() {
        let units_list = [
            "0.1",
            "0.10",
            "0.01",
            "0.001",
            "0.0001",
            "0.00000001",
            "1",
            "10",
            "0.5",
            "0.25",
            "0.0010",
            "5",
            "100",
            "0.3",
            "0.07",
            "0.000000000000000000000001",
            "12345678.9",
            // limits the values are compared with
            "556.80",
            "4529764",
            "100000",
            "1000000",
            "306177",
            "39.86",
            "0",
            "-5.5",
        ];
        let mut values: Vec<Decimal> = [
            "0",
            "0.000",
            "-0",
            "1",
            "-1",
            "0.1",
            "0.10",
            "5.123",
            "5.1230",
            "5.1235",
            "-5.123",
            "60000.05",
            "60000.1",
            "60000.10",
            "60000.055",
            "121",
            "0.0015",
            "1.2",
            "1.25",
            "999999999999999999",
            "9223372036854775807",
            "-9223372036854775808",
            "92233720368547758.07",
            "79228162514264337593543950335",
            "0.0000000000000000000000000001",
            "12345678901234567890.123",
            "0.3",
            "0.9",
            "0.21",
            "3.000000001",
        ]
        .iter()
        .map(|v| v.parse().expect("value"))
        .collect();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..3_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let m = (x >> (i % 50)) as i64;
            let m = if i % 3 == 0 { -m } else { m };
            values.push(Decimal::new(m, i % 12));
        }
        for u in units_list {
            let unit: Decimal = u.parse().expect("unit");
            for &v in &values {
                assert_eq!(normalized_scale(v), v.normalize().scale(), "{v}");
                assert_eq!(cmp_dec(v, unit), v.cmp(&unit), "{v} <> {u}");
                assert_eq!(cmp_dec(unit, v), unit.cmp(&v), "{u} <> {v}");
                let Some(got) = grid_units(v, unit) else {
                    continue;
                };
                let q = v / unit;
                if q.fract() != Decimal::ZERO {
                    assert_eq!(got, Err(()), "{v} / {u}");
                } else {
                    assert_eq!(
                        got,
                        Ok(i64::try_from(q.trunc()).expect("fits")),
                        "{v} / {u}"
                    );
                }
            }
        }
    }

    #[test]
    fn btc_defaults_reject_off_tick_and_precision() {
        // binance-usdm-futures.md §3: -4014 for 100.05 with tick 0.10, -1111 for qty 0.0015.
        let s = SymbolSpec::builtin("BTCUSDT").unwrap();
        assert_eq!(s.price_precision(), 2);
        assert_eq!(s.price_to_ticks(d("60000.05")).unwrap_err().code, -4014);
        assert_eq!(s.price_to_ticks(d("60000.055")).unwrap_err().code, -1111);
        assert_eq!(s.price_to_ticks(d("60000.1")).unwrap(), 600_001);
        let s = SymbolSpec {
            tick_size: d("0.5"),
            ..s
        };
        assert_eq!(s.price_to_ticks(d("60000.1")).unwrap_err().code, -4014);
        let s = SymbolSpec::builtin("BTCUSDT").unwrap();
        assert_eq!(s.qty_to_steps(d("0.0015"), false).unwrap_err().code, -1111);
        assert_eq!(s.qty_to_steps(d("0"), false).unwrap_err().code, -4003);
        assert_eq!(s.qty_to_steps(d("121"), true).unwrap_err().code, -4005);
        assert_eq!(s.qty_to_steps(d("121"), false).unwrap(), 121_000);
    }

    /// The integer limits decide as the Decimal checks do: every builtin symbol and some odd
    /// ones (limits off the grid, a tick of 0.5), prices and quantities on and off
    /// the grid, at and around every limit, too precise, negative and zero.
    #[test]
    fn grid_limits_are_the_decimal_checks() {
        let mut specs: Vec<SymbolSpec> = ["BTCUSDT", "ETHUSDT", "AVAXUSDT", "FILUSDT", "LINKUSDT"]
            .iter()
            .map(|s| SymbolSpec::builtin(s).unwrap())
            .collect();
        let b = SymbolSpec::builtin("BTCUSDT").unwrap();
        specs.push(SymbolSpec {
            tick_size: d("0.5"),
            min_price: d("0.7"),
            max_price: d("1000.3"),
            step_size: d("0.25"),
            min_qty: d("0.3"),
            max_qty: d("100.1"),
            market_max_qty: d("50.05"),
            ..b.clone()
        });
        let mut rnd = crate::types::xorshift_below(0x2545_F491_4F6C_DD1D);
        let mut fast = 0;
        for s in &specs {
            let g = GridLimits::of(s);
            let mut prices = Vec::new();
            let mut qtys = Vec::new();
            for lim in [s.min_price, s.max_price] {
                for k in -3i64..=3 {
                    prices.push(lim + s.tick_size * Decimal::from(k));
                    prices.push(lim + Decimal::new(k, 3));
                }
            }
            for lim in [s.min_qty, s.max_qty, s.market_max_qty] {
                for k in -3i64..=3 {
                    qtys.push(lim + s.step_size * Decimal::from(k));
                    qtys.push(lim + Decimal::new(k, 2));
                }
            }
            for _ in 0..20_000 {
                let scale = rnd(7) as u32;
                let bits = 1 + rnd(40);
                let sign = if rnd(10) == 0 { -1 } else { 1 };
                let m = rnd(1 << bits) as i64 * sign;
                prices.push(Decimal::new(m, scale));
                qtys.push(Decimal::new(m, scale));
                let n = rnd(10_000_000) as i64;
                prices.push(Decimal::from(n) * s.tick_size);
                qtys.push(Decimal::from(n) * s.step_size);
            }
            for p in prices {
                let (a, b) = (g.price_to_ticks(s, p), s.price_to_ticks(p));
                fast += usize::from(a.is_ok());
                assert_eq!(a, b, "{} price {p}", s.symbol);
            }
            for q in qtys {
                for market in [false, true] {
                    assert_eq!(
                        g.qty_to_steps(s, q, market),
                        s.qty_to_steps(q, market),
                        "{} qty {q} {market}",
                        s.symbol
                    );
                }
            }
        }
        assert!(fast > 50_000, "{fast}");
        // a unit that cannot bound anything (a zero tick, which `price_to_ticks` itself cannot
        // divide by) leaves every check to the spec
        let zero = SymbolSpec {
            tick_size: d("0"),
            step_size: d("0"),
            ..b
        };
        assert_eq!(GridLimits::of(&zero), GridLimits::default());
    }

    #[test]
    fn step_grid() {
        let s = SymbolSpec {
            step_size: d("0.5"),
            ..SymbolSpec::builtin("FILUSDT").unwrap()
        };
        assert_eq!(s.qty_to_steps(d("1.2"), false).unwrap_err().code, -4023);
        assert_eq!(s.e8_to_ticks(1_011_350_000), 10_114);
    }
}
