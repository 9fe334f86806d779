//! Margin: maintenance-margin brackets, liquidation prices and the liquidation trigger
//! (`binance-usdm-futures.md` §5).
//!
//! **Maintenance margin** of a position = |notional at mark| × `maintMarginRatio` − `cum`, with
//! `{maintMarginRatio, cum}` from the notional bracket holding the notional (the shape of
//! `GET /fapi/v1/leverageBracket`). `cum` makes it continuous across brackets:
//! `cum_k = cum_(k−1) + cap_(k−1) × (mmr_k − mmr_(k−1))`.
//!
//! **Liquidation price** of one position (§5):
//! `LP = (WB + cum − side·Q·EP) / (Q·MMR − side·Q)`, side = +1 long / −1 short, Q = |size|,
//! EP = entry price; isolated: WB = the position's isolated margin; cross: WB = wallet − other
//! contracts' maintenance margin + their unrealized PnL, and every position of the symbol (BOTH,
//! or LONG and SHORT in hedge mode) enters the one equation, as in Binance's cross formula
//! `(WB + Σcum − Σ sᵢQᵢEPᵢ) / (Σ QᵢMMRᵢ − Σ sᵢQᵢ)`; a run trades one symbol, so WB = the wallet.
//! The bracket is the one the notional `Q·LP` falls into: margin balance − maintenance margin is
//! monotone in the mark for one position, so exactly one bracket is consistent (`lp_one`).
//!
//! **Liquidation trigger** (`liquidation_bounds`): the account (cross) or the position (isolated)
//! is liquidated when its margin balance ≤ its maintenance margin at the mark. With every position
//! on one symbol this is `f(M) = WB + Σ sᵢQᵢ(M − EPᵢ) − Σ (QᵢM·mmrᵢ − cumᵢ) ≤ 0`, piecewise linear
//! and concave in the mark M; its roots are found per combination of brackets, so a cross hedge
//! account (long and short) gets its exact account-level bounds, not two per-position guesses.
//! Bounds depend only on positions and balances, so they are recomputed on fills and funding and
//! the walk compares the mark against two integers.
//!
//! **Default bracket tables** (`default_brackets`): representative values, not a dated snapshot of
//! the live endpoint (brackets change often and per account):
//! - BTCUSDT: the 2021-03 table reverse-engineered from Binance's web client (caps 50 k, 250 k,
//!   1 M, 10 M, 20 M, 50 M, 100 M, 200 M, 300 M, 500 M USDT; MMR 0.4 %, 0.5 %, 1 %, 2.5 %, 5 %,
//!   10 %, 12.5 %, 15 %, 25 %, 50 %);
//! - ETHUSDT: bracket 1 as in Binance's API documentation example (cap 10 000, MMR 0.65 %, cum 0),
//!   then caps 100 k, 500 k, 1 M, 5 M, 10 M, 20 M, 50 M, 100 M with MMR 0.75 %, 1 %, 2 %, 5 %,
//!   10 %, 12.5 %, 25 %, 50 %;
//! - AVAXUSDT, FILUSDT, LINKUSDT, NEARUSDT (mid-cap alts): caps 5 k, 25 k, 100 k, 250 k, 1 M, 5 M,
//!   10 M USDT with MMR 1 %, 2.5 %, 5 %, 10 %, 12.5 %, 25 %, 50 %.
//!
//! `cum` is computed from the caps and ratios. A scenario may replace the table
//! (`[exchange] brackets = [{ notional_cap, mmr, cum }, …]`); an unknown symbol, or a
//! `maint_margin_ratio` filter override that differs from the table's first ratio, gets one flat
//! bracket at the symbol's `maint_margin_ratio` with cum 0.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One notional bracket: applies to notionals up to `notional_cap` (the last one to all above).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bracket {
    /// notionalCap (USDT).
    pub notional_cap: Decimal,
    /// maintMarginRatio.
    pub mmr: Decimal,
    /// cum (maintenance amount).
    pub cum: Decimal,
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap_or_default()
}

/// A table from (cap, mmr) rows, `cum` computed so the maintenance margin is continuous.
pub fn brackets_from(rows: &[(&str, &str)]) -> Vec<Bracket> {
    let mut out: Vec<Bracket> = Vec::with_capacity(rows.len());
    for (cap, mmr) in rows {
        let (cap, mmr) = (d(cap), d(mmr));
        let cum = match out.last() {
            Some(p) => p.cum + p.notional_cap * (mmr - p.mmr),
            None => Decimal::ZERO,
        };
        out.push(Bracket {
            notional_cap: cap,
            mmr,
            cum,
        });
    }
    out
}

/// The documented default table of a shipped symbol (see the module doc), or None.
pub fn default_brackets(symbol: &str) -> Option<Vec<Bracket>> {
    let rows: &[(&str, &str)] = match symbol {
        "BTCUSDT" => &[
            ("50000", "0.004"),
            ("250000", "0.005"),
            ("1000000", "0.01"),
            ("10000000", "0.025"),
            ("20000000", "0.05"),
            ("50000000", "0.10"),
            ("100000000", "0.125"),
            ("200000000", "0.15"),
            ("300000000", "0.25"),
            ("500000000", "0.50"),
        ],
        "ETHUSDT" => &[
            ("10000", "0.0065"),
            ("100000", "0.0075"),
            ("500000", "0.01"),
            ("1000000", "0.02"),
            ("5000000", "0.05"),
            ("10000000", "0.10"),
            ("20000000", "0.125"),
            ("50000000", "0.25"),
            ("100000000", "0.50"),
        ],
        "AVAXUSDT" | "FILUSDT" | "LINKUSDT" | "NEARUSDT" => &[
            ("5000", "0.01"),
            ("25000", "0.025"),
            ("100000", "0.05"),
            ("250000", "0.10"),
            ("1000000", "0.125"),
            ("5000000", "0.25"),
            ("10000000", "0.50"),
        ],
        _ => return None,
    };
    Some(brackets_from(rows))
}

/// The table a run uses: the scenario's, else the symbol's default when its first ratio agrees
/// with `mmr` (the spec's `maint_margin_ratio`), else one flat bracket at `mmr`.
pub fn table_for(symbol: &str, mmr: Decimal, given: &[Bracket]) -> Vec<Bracket> {
    if !given.is_empty() {
        return given.to_vec();
    }
    match default_brackets(symbol) {
        Some(t) if t.first().is_some_and(|b| b.mmr == mmr) => t,
        _ => vec![Bracket {
            notional_cap: Decimal::MAX,
            mmr,
            cum: Decimal::ZERO,
        }],
    }
}

/// Bracket index holding `notional` (floor < notional ≤ cap; the last bracket above all caps).
pub fn bracket_index(table: &[Bracket], notional: Decimal) -> usize {
    table
        .iter()
        .position(|b| notional <= b.notional_cap)
        .unwrap_or(table.len().saturating_sub(1))
}

/// Maintenance margin of a position of |notional| `notional`.
pub fn maintenance(table: &[Bracket], notional: Decimal) -> Decimal {
    match table.get(bracket_index(table, notional)) {
        Some(b) => (notional * b.mmr - b.cum).max(Decimal::ZERO),
        None => Decimal::ZERO,
    }
}

/// One open position for the solver: side +1 long / −1 short, |size| `q`, entry `ep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Leg {
    /// +1 long, −1 short.
    pub side: i64,
    /// |size|.
    pub q: Decimal,
    /// Entry price.
    pub ep: Decimal,
}

/// True when bracket `i` of `table` holds notional `n` (bounds inclusive: the maintenance margin
/// is continuous, so a root on a boundary is the same in both brackets).
fn holds(table: &[Bracket], i: usize, n: Decimal) -> bool {
    let floor = if i == 0 {
        Decimal::ZERO
    } else {
        table[i - 1].notional_cap
    };
    n >= floor && (i + 1 == table.len() || n <= table[i].notional_cap)
}

/// Marks at which `legs` backed by `wb` reach margin balance = maintenance margin: `(down, up)`;
/// liquidated when the mark ≤ down or ≥ up (see the module doc). None where no such price > 0.
pub fn liquidation_bounds(
    wb: Decimal,
    legs: &[Leg],
    table: &[Bracket],
) -> (Option<Decimal>, Option<Decimal>) {
    if legs.is_empty() || table.is_empty() {
        return (None, None);
    }
    if let [l] = legs {
        // one position: f is monotone, so the first consistent bracket holds the only root; a
        // long whose backing covers its whole notional (f(0+) ≥ 0) has none
        if l.side > 0 && wb >= l.q * l.ep {
            return (None, None);
        }
        let s = Decimal::from(l.side);
        for (b, br) in table.iter().enumerate() {
            let den = l.q * br.mmr - s * l.q;
            if den.is_zero() {
                continue;
            }
            let m = (wb + br.cum - s * l.q * l.ep) / den;
            if m > Decimal::ZERO && holds(table, b, l.q * m) {
                return if den < Decimal::ZERO {
                    (Some(m), None)
                } else {
                    (None, Some(m))
                };
            }
        }
        return (None, None);
    }
    enumerate(wb, legs, table)
}

/// Roots of `f` for several legs (see `liquidation_bounds`).
fn enumerate(wb: Decimal, legs: &[Leg], table: &[Bracket]) -> (Option<Decimal>, Option<Decimal>) {
    match legs {
        [a, b] => two_legs(wb, a, b, table),
        _ => enumerate_all(wb, legs, table),
    }
}

/// [`enumerate_all`] for the hedge-mode pair, solving only the bracket pairs that can hold at one
/// mark `M`: leg `a` in bracket `i` needs `floor(i)/q_a ≤ M ≤ cap(i)/q_a`, so `(i, j)` is feasible
/// iff `floor(i)·q_b ≤ cap(j)·q_a` (A) and `floor(j)·q_a ≤ cap(i)·q_b` (B), exact products, the last
/// bracket without a cap. For each `i` the feasible `j` form a range `lo..=hi` (A holds from `lo`
/// on, B up to `hi`), and both ends only grow with `i`: two pointers find them, and about
/// `2·brackets` pairs are solved instead of `brackets²`. An infeasible pair has no consistent root,
/// so the result is the full enumeration's.
fn two_legs(
    wb: Decimal,
    a: &Leg,
    b: &Leg,
    table: &[Bracket],
) -> (Option<Decimal>, Option<Decimal>) {
    let n = table.len();
    let floor = |i: usize| {
        if i == 0 {
            Decimal::ZERO
        } else {
            table[i - 1].notional_cap
        }
    };
    let (sa, sb) = (Decimal::from(a.side), Decimal::from(b.side));
    let (na, da) = (wb - sa * a.q * a.ep, sa * a.q);
    let (nb, db) = (-sb * b.q * b.ep, sb * b.q);
    let mut down: Option<Decimal> = None;
    let mut up: Option<Decimal> = None;
    let (mut lo, mut hi) = (0usize, 0usize);
    for i in 0..n {
        let floor_i_qb = floor(i) * b.q;
        while lo + 1 < n && floor_i_qb > table[lo].notional_cap * a.q {
            lo += 1;
        }
        let cap_i_qb = table[i].notional_cap * b.q;
        while hi + 1 < n && (i + 1 == n || floor(hi + 1) * a.q <= cap_i_qb) {
            hi += 1;
        }
        let bi = &table[i];
        for (j, bj) in table.iter().enumerate().take(hi + 1).skip(lo) {
            let num = na + bi.cum + nb + bj.cum;
            let den = a.q * bi.mmr - da + b.q * bj.mmr - db;
            if den.is_zero() {
                continue;
            }
            let m = num / den;
            if m > Decimal::ZERO && holds(table, i, a.q * m) && holds(table, j, b.q * m) {
                // f(M) = num − M·den: slope −den
                if den < Decimal::ZERO {
                    down = Some(down.map_or(m, |x| x.max(m)));
                } else {
                    up = Some(up.map_or(m, |x| x.min(m)));
                }
            }
        }
    }
    (down, up)
}

/// Roots of `f` over every combination of brackets: `brackets^legs` solves (the reference that
/// [`two_legs`] is tested against; more than two legs cannot happen on one symbol).
fn enumerate_all(
    wb: Decimal,
    legs: &[Leg],
    table: &[Bracket],
) -> (Option<Decimal>, Option<Decimal>) {
    let n = table.len();
    let mut combo = vec![0usize; legs.len()];
    let mut down: Option<Decimal> = None;
    let mut up: Option<Decimal> = None;
    loop {
        let mut num = wb;
        let mut den = Decimal::ZERO;
        for (l, &b) in legs.iter().zip(&combo) {
            let s = Decimal::from(l.side);
            num += table[b].cum - s * l.q * l.ep;
            den += l.q * table[b].mmr - s * l.q;
        }
        if !den.is_zero() {
            let m = num / den;
            let consistent = m > Decimal::ZERO
                && legs
                    .iter()
                    .zip(&combo)
                    .all(|(l, &b)| holds(table, b, l.q * m));
            if consistent {
                // f(M) = num − M·den: slope −den
                if den < Decimal::ZERO {
                    down = Some(down.map_or(m, |x| x.max(m)));
                } else {
                    up = Some(up.map_or(m, |x| x.min(m)));
                }
            }
        }
        // next combination (odometer)
        let mut i = 0;
        loop {
            if i == combo.len() {
                return (down, up);
            }
            combo[i] += 1;
            if combo[i] < n {
                break;
            }
            combo[i] = 0;
            i += 1;
        }
    }
}

/// §5 liquidation price of one position backed by `wb` (isolated margin, or the cross WB).
pub fn lp_one(wb: Decimal, leg: Leg, table: &[Bracket]) -> Option<Decimal> {
    let (down, up) = liquidation_bounds(wb, &[leg], table);
    if leg.side > 0 {
        down
    } else {
        up
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cum_is_continuous() {
        // 2021-03 BTC table: cum 0, 50, 1 300, 16 300, 266 300, …, 100 016 300
        let t = default_brackets("BTCUSDT").unwrap();
        let cums: Vec<Decimal> = t.iter().map(|b| b.cum.normalize()).collect();
        assert_eq!(cums[1], d("50"));
        assert_eq!(cums[2], d("1300"));
        assert_eq!(cums[3], d("16300"));
        assert_eq!(cums[9], d("100016300"));
        for w in t.windows(2) {
            let cap = w[0].notional_cap;
            assert_eq!(cap * w[0].mmr - w[0].cum, cap * w[1].mmr - w[1].cum);
        }
    }

    #[test]
    fn one_leg_shortcut_agrees_with_the_enumeration() {
        let t = default_brackets("ETHUSDT").unwrap();
        for side in [1, -1] {
            for q in ["0.5", "2", "30", "300", "3000"] {
                for wb in ["10", "100", "5000", "60000", "2000000"] {
                    let leg = Leg {
                        side,
                        q: d(q),
                        ep: d("3000"),
                    };
                    let a = liquidation_bounds(d(wb), &[leg], &t);
                    let b = enumerate(d(wb), &[leg], &t);
                    assert_eq!(a, b, "{side} {q} {wb}");
                }
            }
        }
    }

    #[test]
    fn two_leg_sweep_equals_the_full_enumeration() {
        // hedge legs of every size against each table, walking the bracket boundaries
        let sizes = ["0.001", "0.5", "3", "17", "150", "900", "4000", "25000"];
        for sym in ["BTCUSDT", "ETHUSDT", "AVAXUSDT"] {
            let t = default_brackets(sym).unwrap();
            for (a, qa) in sizes.iter().enumerate() {
                for qb in &sizes[a..] {
                    for wb in ["5", "800", "20000", "3000000"] {
                        for (ea, eb) in [("100", "100"), ("2000", "1900"), ("60000", "61000")] {
                            let legs = [
                                Leg {
                                    side: 1,
                                    q: d(qa),
                                    ep: d(ea),
                                },
                                Leg {
                                    side: -1,
                                    q: d(qb),
                                    ep: d(eb),
                                },
                            ];
                            for legs in [&legs[..], &[legs[1], legs[0]][..]] {
                                let got = two_legs(d(wb), &legs[0], &legs[1], &t);
                                let want = enumerate_all(d(wb), legs, &t);
                                assert_eq!(got, want, "{sym} {qa} {qb} {wb} {ea} {eb}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn bracket_search_matches_brute_force() {
        // long 10 BTC at 60 000 (notional 600 000: bracket 3), wallet 40 000 cross
        let t = default_brackets("BTCUSDT").unwrap();
        let leg = Leg {
            side: 1,
            q: d("10"),
            ep: d("60000"),
        };
        let lp = lp_one(d("40000"), leg, &t).unwrap();
        // margin balance − maintenance at LP is zero
        let mb = d("40000") + (lp - leg.ep) * leg.q;
        let mm = maintenance(&t, lp * leg.q);
        assert!((mb - mm).abs() < d("0.000001"), "{lp}: {mb} vs {mm}");
    }
}
