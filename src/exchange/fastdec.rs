//! Decimal results the exchange computes on every fill and order, written in integers where they
//! are exactly rust_decimal's (the same bits: mantissa, scale and sign), with the Decimal formula
//! kept for every other input.
//!
//! Why: a fill multiplies a price by a quantity and by a fee rate, and each ORDER_TRADE_UPDATE
//! carries an average price; with ticks and steps of small mantissas these are one 64-bit
//! multiply or divide, where the library call checks, rescales and rounds in 96-bit words.

use rust_decimal::Decimal;

/// `a * b`, bit for bit. rust_decimal multiplies two mantissas that fit in 32 bits as one
/// 64-bit product at the sum of the scales (no normalization), a zero operand gives
/// `Decimal::ZERO`, the sign is the exclusive or of the signs; this is that path inlined (the
/// scale sum past 28 rounds there: left to the library, as is every wider mantissa).
#[inline]
pub(crate) fn mul(a: Decimal, b: Decimal) -> Decimal {
    let (x, y) = (a.unpack(), b.unpack());
    if x.hi | x.mid | y.hi | y.mid == 0 {
        if x.lo == 0 || y.lo == 0 {
            return Decimal::ZERO;
        }
        let scale = x.scale + y.scale;
        if scale <= 28 {
            let p = u64::from(x.lo) * u64::from(y.lo);
            return Decimal::from_parts(
                p as u32,
                (p >> 32) as u32,
                0,
                x.negative ^ y.negative,
                scale,
            );
        }
    }
    a * b
}

/// The entry price of a position opened from flat by a fill of `q` at `px`:
/// `(notional / q).round_dp(12)` with `notional = px × q`. When that product was the exact one
/// (`mul`'s 64-bit path: both mantissas in 32 bits, scales summing to at most 28) the division
/// gives the dividend's mantissa over the divisor's back at the difference of the scales, which
/// is `px` itself, bit for bit (`entry_from_flat_is_the_decimal_formula`), and a scale of at
/// most 12 rounds to itself.
#[inline]
pub(crate) fn entry_from_flat(px: Decimal, q: Decimal, notional: Decimal) -> Decimal {
    let (x, y) = (px.unpack(), q.unpack());
    if x.hi | x.mid | y.hi | y.mid == 0
        && x.lo != 0
        && y.lo != 0
        && x.scale + y.scale <= 28
        && x.scale <= 12
    {
        return px;
    }
    (notional / q).round_dp(12)
}

/// A Decimal of the same value as `n / d` (`d` > 0) when that quotient is exact in at most
/// three more decimals than `n` and fits in 64 bits (`n / 10` always is, `n / 20` too): the
/// mantissa divided at a scale raised by just enough. Equal in value to the library's quotient,
/// which is exact whenever the exact quotient has a representation, but not necessarily the
/// same bits (its scale may differ): for comparisons only. `None`: divide with the library.
#[inline]
pub(crate) fn exact_quotient_value(n: Decimal, d: u32) -> Option<Decimal> {
    let x = n.unpack();
    if x.hi != 0 || d == 0 {
        return None;
    }
    let m = u64::from(x.lo) | (u64::from(x.mid) << 32);
    let d = u64::from(d);
    for k in 0..=3u32 {
        if x.scale + k > 28 {
            return None;
        }
        let mk = m.checked_mul(crate::types::POW10_U64[k as usize])?;
        if mk % d == 0 {
            let q = mk / d;
            return Some(Decimal::from_parts(
                q as u32,
                (q >> 32) as u32,
                0,
                x.negative,
                x.scale + k,
            ));
        }
    }
    None
}

/// An order's average price: `cum_quote / qty` to 8 decimals, normalized (zero for nothing
/// executed), as Binance reports it.
#[inline]
pub(crate) fn avg(cum_quote: Decimal, qty: Decimal) -> Decimal {
    if qty.is_zero() {
        return Decimal::ZERO;
    }
    if let Some(v) = exact_avg(cum_quote, qty) {
        return v;
    }
    (cum_quote / qty).round_dp(8).normalize()
}

/// `(c / q).round_dp(8).normalize()` when the quotient has at most 8 decimals and both operands
/// and the result fit in 64 bits (an order filled at one price, or at prices whose mean is
/// short): the division is then exact, rounding to 8 places keeps it, and normalizing leaves
/// the magnitude without trailing zeros, positive when zero. `None`: the Decimal formula decides.
#[inline]
fn exact_avg(c: Decimal, q: Decimal) -> Option<Decimal> {
    let (x, y) = (c.unpack(), q.unpack());
    if x.hi | y.hi != 0 {
        return None;
    }
    let cm = u64::from(x.lo) | (u64::from(x.mid) << 32);
    let qm = u64::from(y.lo) | (u64::from(y.mid) << 32);
    if cm == 0 || qm == 0 {
        return None;
    }
    // c / q = cm / qm × 10^(qs − cs); in units of 1e-8: cm × 10^(qs − cs + 8) / qm
    let e = y.scale as i64 - x.scale as i64 + 8;
    if !(0..=19).contains(&e) {
        return None;
    }
    let num = cm.checked_mul(crate::types::POW10_U64[e as usize])?;
    if num % qm != 0 {
        return None;
    }
    let mut a = num / qm;
    let mut scale = 8u32;
    while scale > 0 && a % 10 == 0 {
        a /= 10;
        scale -= 1;
    }
    Some(Decimal::from_parts(
        a as u32,
        (a >> 32) as u32,
        0,
        x.negative ^ y.negative,
        scale,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// A Decimal of a random mantissa (often small, sometimes past 32 or 64 bits, often with
    /// trailing zeros), random scale and sign, zeros of every scale included.
    fn any_dec(r: &mut impl FnMut() -> u64) -> Decimal {
        let m: u128 = match r() % 8 {
            0 => 0,
            1 => u128::from(r()) | (u128::from(r() as u32) << 64),
            2 => u128::from(r()),
            3 => u128::from(u32::MAX) - u128::from(r() % 3),
            4 => u128::from(r() % 1000) * 10u128.pow((r() % 6) as u32),
            _ => u128::from(r() % 100_000),
        };
        let scale = match r() % 6 {
            0 => (r() % 29) as u32,
            _ => (r() % 9) as u32,
        };
        Decimal::from_parts(
            m as u32,
            (m >> 32) as u32,
            (m >> 64) as u32,
            r() % 4 == 0,
            scale,
        )
    }

    /// `exact_quotient_value` is the library's quotient in value (never a rounded one), over
    /// random dividends and small divisors (leverages), and answers for a leverage of 10 on
    /// every 64-bit dividend of at most 25 decimals.
    #[test]
    fn exact_quotient_value_is_the_library_quotient() {
        let mut r = rng(0x2545_F491_4F6C_DD1D);
        let mut answered = 0;
        for i in 0..200_000 {
            let n = any_dec(&mut r);
            let d = match i % 4 {
                0 => 10,
                1 => (r() % 125 + 1) as u32,
                2 => [1, 2, 3, 4, 5, 8, 20, 25, 50, 75, 100, 125][(r() % 12) as usize],
                _ => (r() % 7 + 1) as u32,
            };
            let lib = n / Decimal::from(d);
            if let Some(v) = exact_quotient_value(n, d) {
                answered += 1;
                assert_eq!(v, lib, "{n} / {d}");
                assert_eq!(v.cmp(&lib), std::cmp::Ordering::Equal, "{n} / {d}");
                // exact: multiplying back gives the dividend's value
                assert_eq!(v * Decimal::from(d), n, "{n} / {d}");
            } else if d == 10 {
                let x = n.unpack();
                let m = u64::from(x.lo) | (u64::from(x.mid) << 32);
                assert!(
                    x.hi != 0 || x.scale > 27 || m > u64::MAX / 10,
                    "{n} / 10 not answered"
                );
            }
        }
        assert!(answered > 100_000, "{answered}");
    }

    #[test]
    fn mul_is_the_library_product_bit_for_bit() {
        let mut r = rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..200_000 {
            let (a, b) = (any_dec(&mut r), any_dec(&mut r));
            let Some(want) = a.checked_mul(b) else {
                continue;
            };
            assert_eq!(mul(a, b).serialize(), want.serialize(), "{a:?} * {b:?}");
        }
        // the scale edge: 28 multiplies, 29 rounds (the library's)
        let (a, b) = (Decimal::new(7, 14), Decimal::new(3, 14));
        assert_eq!(mul(a, b).serialize(), (a * b).serialize());
        let (a, b) = (Decimal::new(7, 15), Decimal::new(3, 14));
        assert_eq!(mul(a, b).serialize(), (a * b).serialize());
    }

    #[test]
    fn entry_from_flat_is_the_decimal_formula() {
        let mut r = rng(0xD1B5_4A32_D192_ED03);
        let mut fast = 0;
        for i in 0..300_000 {
            let (px, q) = if i % 2 == 0 {
                // a price in ticks and a quantity in steps, as the exchange makes them
                let tick = Decimal::new([1, 5, 10, 25][(r() % 4) as usize], (r() % 10) as u32);
                let step = Decimal::new([1, 5, 10, 25][(r() % 4) as usize], (r() % 8) as u32);
                let px = (tick * Decimal::from(1 + r() % 10_000_000)).normalize();
                let q = (step * Decimal::from(1 + r() % 1_000_000)).normalize();
                (px, q)
            } else {
                (any_dec(&mut r), any_dec(&mut r))
            };
            if q.is_zero() {
                continue;
            }
            let Some(notional) = px.checked_mul(q) else {
                continue;
            };
            let Some(quot) = notional.checked_div(q) else {
                continue;
            };
            let want = quot.round_dp(12);
            let x = px.unpack();
            fast += usize::from(x.hi | x.mid == 0 && x.lo != 0 && x.scale <= 12);
            assert_eq!(
                entry_from_flat(px, q, notional).serialize(),
                want.serialize(),
                "{px:?} x {q:?}"
            );
        }
        assert!(fast > 100_000, "{fast}");
    }

    fn avg_formula(c: Decimal, q: Decimal) -> Decimal {
        if q.is_zero() {
            Decimal::ZERO
        } else {
            (c / q).round_dp(8).normalize()
        }
    }

    #[test]
    fn avg_is_the_decimal_formula_bit_for_bit() {
        let mut r = rng(0x2545_F491_4F6C_DD1D);
        let mut fast = 0;
        for i in 0..300_000 {
            let (c, q) = if i % 2 == 0 {
                // fills: a notional of a price in ticks times a quantity in steps, sometimes two
                // fills at different prices
                let tick = Decimal::new(1, (r() % 9) as u32);
                let step = Decimal::new([1, 5, 10, 25][(r() % 4) as usize], (r() % 6) as u32);
                let q1 = step * Decimal::from(1 + r() % 100_000);
                let p1 = tick * Decimal::from(1 + r() % 10_000_000);
                let (mut c, mut q) = (p1 * q1, q1);
                if r() % 3 == 0 {
                    let q2 = step * Decimal::from(1 + r() % 1000);
                    let p2 = tick * Decimal::from(1 + r() % 10_000_000);
                    c += p2 * q2;
                    q += q2;
                }
                (c, q)
            } else {
                (any_dec(&mut r), any_dec(&mut r))
            };
            if !q.is_zero() && c.checked_div(q).is_none() {
                continue;
            }
            fast += usize::from(!q.is_zero() && exact_avg(c, q).is_some());
            assert_eq!(
                avg(c, q).serialize(),
                avg_formula(c, q).serialize(),
                "{c:?} / {q:?}"
            );
        }
        // the fast path is taken, not only the fallback
        assert!(fast > 50_000, "{fast}");
    }
}
