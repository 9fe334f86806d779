//! SVG pixel coordinates written as `format!("{:.1}", x)` writes them, without the float
//! formatter: the charts of a long run hold tens of thousands of coordinates, and `{:.1}` through
//! `core::fmt` costs several hundred instructions each.
//!
//! `{:.1}` is an exact decimal rounding of the binary value (not of its shortest form): the
//! digit after the point is rounded by the exact remainder, ties (only `.25` and `.75` are
//! exact ties at one decimal) to an even digit, and the sign kept on a value that rounds to zero
//! (`-0.0`). [`f1`] does the same arithmetic on the integer mantissa; the tests compare it with
//! the formatter.

use crate::events::json;
use std::fmt::Write as _;

/// Appends `x` exactly as `format!("{x:.1}")` writes it.
pub(crate) fn f1(out: &mut Vec<u8>, x: f64) {
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as u32;
    // |x| >= 2^50 (no pixel is), infinities and NaN: the formatter itself
    if exp >= 1023 + 50 {
        let mut s = String::new();
        let _ = write!(s, "{x:.1}");
        out.extend_from_slice(s.as_bytes());
        return;
    }
    let (int, digit) = if exp == 0 {
        // zero or subnormal: far below 0.05
        (0, 0)
    } else {
        // |x| = m / 2^s exactly, 3 <= s <= 1074
        let m = u128::from((bits & ((1u64 << 52) - 1)) | (1u64 << 52));
        let s = 1075 - exp;
        if s >= 120 {
            // below 2^-67: rounds to zero
            (0, 0)
        } else {
            let mask = (1u128 << s) - 1;
            let int = (m >> s) as u64;
            let tenths = (m & mask) * 10;
            let (digit, rest) = ((tenths >> s) as u64, tenths & mask);
            let half = 1u128 << (s - 1);
            if rest > half || (rest == half && digit % 2 == 1) {
                if digit == 9 {
                    (int + 1, 0)
                } else {
                    (int, digit + 1)
                }
            } else {
                (int, digit)
            }
        }
    };
    if bits >> 63 != 0 {
        out.push(b'-');
    }
    json::u64_(out, int);
    out.extend_from_slice(&[b'.', b'0' + digit as u8]);
}

/// Appends `k / 2` as `format!("{:.1}", k as f64 / 2.0)` writes it (exact: a half is one
/// decimal digit).
pub(crate) fn half(out: &mut Vec<u8>, k: i64) {
    if k < 0 {
        out.push(b'-');
    }
    let a = k.unsigned_abs();
    json::u64_(out, a / 2);
    out.extend_from_slice(if a % 2 == 1 { b".5" } else { b".0" });
}

/// Pixel coordinate text (ASCII only) as a `String`.
pub(crate) fn text(v: Vec<u8>) -> String {
    String::from_utf8(v).expect("coordinates are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(x: f64) {
        let mut got = Vec::new();
        f1(&mut got, x);
        assert_eq!(
            std::str::from_utf8(&got).unwrap(),
            format!("{x:.1}"),
            "{x:?} ({:#x})",
            x.to_bits()
        );
    }

    /// [`f1`] writes what `{:.1}` writes: exact ties (x.25, x.75) both ways, values just beside
    /// a tie or a rounding edge, signs and signed zeros, tiny and subnormal values, huge values,
    /// infinities, NaN, and random pixel-like and arbitrary bit patterns.
    #[test]
    fn f1_is_the_formatter() {
        let mut next = crate::types::xorshift(0x2545_F491_4F6C_DD1D);
        let mut xs = vec![
            0.0,
            -0.0,
            0.05,
            -0.05,
            0.15,
            0.25,
            0.35,
            0.75,
            0.95,
            9.95,
            99.95,
            -0.04,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            1e-20,
            (1u64 << 50) as f64,
            (1u64 << 50) as f64 - 0.25,
            1e300,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for k in -4_000i64..4_000 {
            let q = k as f64 / 4.0;
            xs.push(q);
            xs.push(f64::from_bits(q.to_bits() + 1));
            xs.push(f64::from_bits(q.to_bits().wrapping_sub(1)));
            let t = k as f64 / 20.0;
            xs.push(t);
            xs.push(f64::from_bits(t.to_bits() + 1));
            xs.push(f64::from_bits(t.to_bits().wrapping_sub(1)));
        }
        for _ in 0..200_000 {
            // pixel-like: a few thousand, with the arithmetic of the charts
            let a = (next() % 4_000_000) as f64 / 1_000.0;
            let b = (next() % 997 + 1) as f64;
            xs.push(84.0 + a / b * 900.0);
            xs.push(22.0 + (a - 1.7) / 3.1 * 304.0);
            xs.push(-a / b);
            xs.push(f64::from_bits(next()));
        }
        for x in xs {
            check(x);
        }
    }

    /// [`half`] writes `format!("{:.1}", k as f64 / 2.0)`.
    #[test]
    fn half_is_the_formatter() {
        let mut next = crate::types::xorshift(0x9E37_79B9_7F4A_7C15);
        let mut ks: Vec<i64> = (-3_000..3_000).collect();
        ks.extend([
            i64::from(i32::MAX),
            -i64::from(i32::MAX),
            1 << 40,
            -(1 << 40) - 1,
        ]);
        for _ in 0..100_000 {
            let k = (next() >> (11 + next() % 53)) as i64;
            ks.push(if next() % 2 == 0 { k } else { -k });
        }
        for k in ks {
            let mut s = b"x".to_vec();
            half(&mut s, k);
            assert_eq!(text(s), format!("x{:.1}", k as f64 / 2.0), "{k}");
        }
    }
}
