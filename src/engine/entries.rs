//! Entries as each profile sends them (issue 16): the signal's `order_type` → the adapter's order
//! (type, limit price, trigger), the `position_size_pct` sizing and the live risk gate on it.
//!
//! Contract: pure functions of the signal, the symbol's filters and the rules; no request is sent
//! here. Read from the live adapter (`tradeengine/exchange/binance.py`, `execute` and the
//! `_execute_*_order` builders) and `Dispatcher._signal_to_order` / `_calculate_order_amount` of
//! each release (`tradeengine-oco.md` §1.3, §1.5):
//! - the live chain puts the signal's `current_price` in `TradeOrder.target_price`, the price of
//!   every limit-priced type; a `stop` / `stop_limit` entry triggers at the signal's **`stop_loss`**
//!   and a `take_profit` / `take_profit_limit` entry at its **`take_profit`** (the adapter has no
//!   other trigger field), then the same SL/TP legs follow as for any entry;
//! - P78 (v1.1.78, v1.1.80) sends STOP_MARKET / STOP / TAKE_PROFIT_MARKET / TAKE_PROFIT with a
//!   quantity on `/fapi/v1/order`; the 2026-08 snapshot sends them like its legs, on the Algo Order
//!   API with `closePosition=true` and `timeInForce=GTE_GTC` (and the STOP_MARKET trigger through
//!   its PERCENT_PRICE adjuster);
//! - `conditional_limit` / `conditional_stop` are in the live `OrderType` enum but refused by the
//!   adapter: "Invalid order type: …", status `failed`;
//! - `reference` sends `market`, `limit` (at `current_price`) and `stop` (STOP_MARKET triggered at
//!   `current_price`) and protects a resting entry once it fills; other types are refused locally.
//!
//! Known limit: the engine has no account read, so the balance it sizes from is the scenario's
//! `initial_balance` ([`super::EngineConfig::portfolio_value`]); sizing does not compound.

use super::adapter::{py_decimals, Kind};
use super::signal::Signal;
use crate::exchange::SymbolSpec;
use crate::types::TimeInForce;
use rust_decimal::{Decimal, RoundingStrategy};

/// Which release's entry rules (order types, sizing, risk gate) the engine follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EntryRules {
    /// v1.1.78 / v1.1.80 (P78): `position_size_pct` is not used for sizing; above 0.1 the risk
    /// check rejects the signal ("Risk limits exceeded").
    Tradeengine78,
    /// The 2026-08 snapshot (PHEAD): `position_size_pct` sizes from the portfolio value at
    /// `current_price` (when no quantity is given, or both are); above 0.1 the risk check rejects
    /// it (reason `position_size_pct`).
    Tradeengine2026,
    /// ocosim's `reference`: sizes from the balance at the entry price, floored to the step and
    /// raised to the minimum notional; no percentage cap.
    #[default]
    Reference,
}

/// The live `OrderType` enum (`contracts/signal.py`): the values a signal may carry.
pub const ORDER_TYPES: [&str; 8] = [
    "market",
    "limit",
    "stop",
    "stop_limit",
    "take_profit",
    "take_profit_limit",
    "conditional_limit",
    "conditional_stop",
];

/// The live `MAX_POSITION_SIZE_PCT` default (both releases).
const MAX_POSITION_SIZE_PCT: Decimal = Decimal::from_parts(1, 0, 0, false, 1);

impl EntryRules {
    /// The rules of a profile name (`reference` for any other name).
    pub fn of_profile(name: &str) -> EntryRules {
        match name {
            "tradeengine-v1.1.78" | "tradeengine-v1.1.80" => EntryRules::Tradeengine78,
            "tradeengine-2026-08" => EntryRules::Tradeengine2026,
            _ => EntryRules::Reference,
        }
    }

    /// Why an entry of `order_type` can never be sent under these rules, whatever its prices
    /// (for `sim check`); None when it can.
    pub fn refusal(self, order_type: &str) -> Option<String> {
        match (self, order_type) {
            (_, "market" | "limit") => None,
            (EntryRules::Reference, "stop") => None,
            (EntryRules::Reference, t) => Some(format!(
                "the reference engine sends market, limit and stop entries, not `{t}`"
            )),
            (_, "conditional_limit" | "conditional_stop") => Some(format!(
                "the live adapter refuses it: \"Invalid order type: {order_type}\""
            )),
            _ => None,
        }
    }
}

/// The entry order a signal asks for: type, price, trigger, and whether it is sent like a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryOrder {
    pub kind: Kind,
    pub price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub tif: Option<TimeInForce>,
    /// Sent through the leg builders (the live adapter's conditional builders are its legs').
    pub leg: bool,
}

/// The entry order of `sig`, or the message the profile fails it with (status `failed`).
pub(crate) fn entry_order(rules: EntryRules, sig: &Signal) -> Result<EntryOrder, String> {
    let t = sig.order_type.as_str();
    let px = Some(sig.current_price);
    let plain = |kind, price| EntryOrder {
        kind,
        price,
        stop_price: None,
        tif: sig.time_in_force,
        leg: false,
    };
    if rules == EntryRules::Reference {
        return match t {
            "" | "market" => Ok(plain(Kind::Market, None)),
            "limit" => Ok(plain(Kind::Limit, px)),
            "stop" => Ok(plain(Kind::Stop, px)),
            other => Err(format!("Unsupported order type: {other}")),
        };
    }
    // the live `_validate_order`, in its order: type, then the stop price of stop types
    let need_sl = || {
        sig.stop_loss
            .ok_or_else(|| "Stop loss price required for stop orders".to_string())
    };
    let need_tp = || {
        sig.take_profit
            .ok_or_else(|| "Take profit price required for take profit orders".to_string())
    };
    let cond = |kind, price, stop_price| EntryOrder {
        kind,
        price,
        stop_price,
        tif: sig.time_in_force,
        leg: true,
    };
    match t {
        "" | "market" => Ok(plain(Kind::Market, None)),
        "limit" => Ok(plain(Kind::Limit, px)),
        "stop" => Ok(cond(Kind::Stop, Some(need_sl()?), None)),
        "stop_limit" => Ok(cond(Kind::StopLimit, px, Some(need_sl()?))),
        "take_profit" => Ok(cond(Kind::TakeProfit, Some(need_tp()?), None)),
        "take_profit_limit" => Ok(cond(Kind::TakeProfitLimit, px, Some(need_tp()?))),
        other => Err(format!("Invalid order type: {other}")),
    }
}

/// The live risk check on `position_size_pct` (`check_position_limits`): `Some((status, detail))`
/// when it rejects the signal.
pub(crate) fn size_gate(rules: EntryRules, sig: &Signal) -> Option<super::Verdict> {
    let p = sig
        .position_size_pct
        .filter(|p| *p > MAX_POSITION_SIZE_PCT)?;
    match rules {
        EntryRules::Tradeengine78 => Some(("rejected".into(), "Risk limits exceeded".into())),
        EntryRules::Tradeengine2026 => Some((
            "rejected".into(),
            format!("position_size_pct ({p} > {MAX_POSITION_SIZE_PCT})"),
        )),
        EntryRules::Reference => None,
    }
}

/// `calculate_min_order_amount` (§1.5): max(minQty, notional / price) × 1.05, up to the step,
/// one more step when still below the notional.
pub(crate) fn min_amount(spec: &SymbolSpec, price: Decimal) -> Decimal {
    let step = spec.step_size;
    if not_positive(price) || not_positive(step) {
        return Decimal::new(1, 3);
    }
    let raw = spec.min_qty.max(spec.min_notional / price) * Decimal::new(105, 2);
    let mut q = ((raw / step).ceil() * step)
        .round_dp_with_strategy(py_decimals(step), RoundingStrategy::MidpointNearestEven);
    if price * q < spec.min_notional {
        q += step;
    }
    q
}

/// True when `qty` is certainly above [`min_amount`]`(spec, price)` (so `qty.max(min)` is `qty`),
/// shown with multiplications only; false when unsure (the caller computes the minimum).
///
/// With `step > 0` and `price > 0` the minimum is `ceil(raw / step) * step`, rounded to the
/// step's Python precision, perhaps plus one step, where `raw = max(min_qty, min_notional / price)
/// * 1.05`: so it is at most `raw + 2 * step + 0.000005` (the rounding moves a multiple of a step
/// of 1e-4 or more not at all, of a smaller step by at most half of 1e-5), up to Decimal's relative
/// rounding of 1e-27 or so. Each half of `qty` covers one part: `qty / 2 >= raw` (two
/// comparisons: `min_qty * 2.1 <= qty`, `min_notional * 2.1 <= qty * price`) and
/// `qty / 2 > 2 * step + 0.00005` (`4 * step + 0.0001 < qty`); the margins left (over 4e-5) exceed
/// the rounding while `qty < 1e20`.
///
/// The engine asks [`clears_min_with`] with the bounds it made once; this is that for tests.
#[cfg(test)]
fn clears_min(spec: &SymbolSpec, price: Decimal, qty: Decimal) -> bool {
    clears_min_with(MinBounds::of(spec), price, qty)
}

/// The sides of `clears_min`'s comparisons that come from the symbol's filters alone
/// (`min_qty * 2.1`, `min_notional * 2.1`, `4 * step + 0.0001`): made once per engine rather than
/// for every signal. None when the step is not positive or a product overflows (the shortcut is
/// then never taken).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MinBounds {
    min_q: Decimal,
    min_n: Decimal,
    steps: Decimal,
}

impl MinBounds {
    pub(crate) fn of(spec: &SymbolSpec) -> Option<MinBounds> {
        let step = spec.step_size;
        let k = Decimal::new(21, 1);
        if not_positive(step) {
            return None;
        }
        Some(MinBounds {
            min_n: spec.min_notional.checked_mul(k)?,
            min_q: spec.min_qty.checked_mul(k)?,
            steps: step
                .checked_mul(Decimal::from(4))
                .and_then(|s| s.checked_add(Decimal::new(1, 4)))?,
        })
    }
}

/// [`clears_min`] with its symbol's [`MinBounds`] made already.
fn clears_min_with(bounds: Option<MinBounds>, price: Decimal, qty: Decimal) -> bool {
    let Some(b) = bounds else {
        return false;
    };
    if not_positive(price) || qty >= BIG {
        return false;
    }
    let Some(notional) = qty.checked_mul(price) else {
        return false;
    };
    b.min_q <= qty && b.min_n <= notional && b.steps < qty
}

/// `x <= 0`, on the sign bit and the mantissa (a negative zero is zero): no call into Decimal's
/// comparison, which each signal's sizing made several of.
#[inline]
fn not_positive(x: Decimal) -> bool {
    x.is_sign_negative() || x.is_zero()
}

/// The quantity below which [`clears_min`]'s margins are proven (1e20).
const BIG: Decimal = Decimal::from_parts(0x63100000, 0x6BC75E2D, 5, false, 0);

/// `_calculate_order_amount` of each release, or the reference sizing (see [`EntryRules`]);
/// `portfolio` is the balance the engine sizes from.
#[cfg(test)]
pub(crate) fn order_amount(
    rules: EntryRules,
    spec: &SymbolSpec,
    sig: &Signal,
    portfolio: Decimal,
) -> Decimal {
    order_amount_with(rules, spec, MinBounds::of(spec), sig, portfolio)
}

/// `order_amount` with `spec`'s [`MinBounds`] made already (`bounds` is `MinBounds::of(spec)`).
pub(crate) fn order_amount_with(
    rules: EntryRules,
    spec: &SymbolSpec,
    bounds: Option<MinBounds>,
    sig: &Signal,
    portfolio: Decimal,
) -> Decimal {
    let price = sig.current_price;
    let qty = sig.quantity;
    let pct = sig.position_size_pct.filter(|p| *p > Decimal::ZERO);
    if pct.is_none() && clears_min_with(bounds, price, qty) {
        // `qty.max(min)` below is `qty`: the minimum's divisions and roundings are not needed
        return qty;
    }
    let min = min_amount(spec, price);
    match (rules, pct) {
        (EntryRules::Tradeengine2026, Some(p)) if price > Decimal::ZERO => {
            // unrounded, like the float the live engine keeps (the wire rounds it)
            let a = portfolio * p / price;
            if portfolio > Decimal::ZERO && a >= min {
                a
            } else {
                min
            }
        }
        (EntryRules::Reference, Some(p)) if price > Decimal::ZERO => {
            let step = spec.step_size;
            let a = if step > Decimal::ZERO {
                (portfolio * p / price / step).floor() * step
            } else {
                portfolio * p / price
            };
            a.max(min).normalize()
        }
        _ if qty > Decimal::ZERO => qty.max(min),
        _ => min,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Action;
    use crate::types::TimeMs;

    fn sig(order_type: &str, sl: Option<i64>, tp: Option<i64>) -> Signal {
        Signal {
            strategy_id: "s".into(),
            symbol: "AVAXUSDT".into(),
            action: Action::Buy,
            confidence: Decimal::new(8, 1),
            quantity: Decimal::ZERO,
            current_price: Decimal::from(10),
            stop_loss: sl.map(Decimal::from),
            take_profit: tp.map(Decimal::from),
            stop_loss_pct: None,
            take_profit_pct: None,
            order_type: order_type.into(),
            time_in_force: None,
            position_size_pct: None,
            timestamp: TimeMs(0),
        }
    }

    /// `not_positive` is `<= 0` for random values of every sign, scale and size, and for the
    /// zeros of every scale and either sign.
    #[test]
    fn not_positive_is_at_most_zero() {
        let mut rnd = crate::types::xorshift_below(0x51_7cc1_b727_220a);
        let mut both = [0u32; 2];
        for i in 0..50_000u32 {
            let bits = rnd(97) as u32;
            let m = if bits == 0 {
                0
            } else {
                (u128::from(rnd(u64::MAX)) << 64 | u128::from(rnd(u64::MAX))) >> (128 - bits)
            };
            let mut x = Decimal::from_i128_with_scale(m as i128, rnd(29) as u32);
            if i % 2 == 1 {
                x.set_sign_negative(true);
            }
            let want = x <= Decimal::ZERO;
            assert_eq!(not_positive(x), want, "{x} {:?}", x.serialize());
            both[usize::from(want)] += 1;
        }
        assert!(both[0] > 10_000 && both[1] > 10_000, "{both:?}");
        for s in 0..=28 {
            for neg in [false, true] {
                let mut z = Decimal::new(0, s);
                z.set_sign_negative(neg);
                assert!(not_positive(z), "{z:?}");
                let mut one = Decimal::new(1, s);
                one.set_sign_negative(neg);
                assert_eq!(not_positive(one), neg);
            }
        }
    }

    /// `clears_min` as it was before its bounds were made once per symbol: the bounds made
    /// ahead answer as it does for random filters (zero and negative steps, overflowing
    /// products), prices and quantities.
    #[test]
    fn bounds_made_once_answer_as_made_each_time() {
        fn reference(spec: &SymbolSpec, price: Decimal, qty: Decimal) -> bool {
            let step = spec.step_size;
            let k = Decimal::new(21, 1);
            if price <= Decimal::ZERO || step <= Decimal::ZERO || qty >= BIG {
                return false;
            }
            let (Some(notional), Some(min_n), Some(min_q), Some(steps)) = (
                qty.checked_mul(price),
                spec.min_notional.checked_mul(k),
                spec.min_qty.checked_mul(k),
                step.checked_mul(Decimal::from(4))
                    .and_then(|s| s.checked_add(Decimal::new(1, 4))),
            ) else {
                return false;
            };
            min_q <= qty && min_n <= notional && steps < qty
        }
        let mut rnd = crate::types::xorshift_below(0x6a09_e667_f3bc_c908);
        let mut dec = move |neg: bool| {
            let pick = rnd(10);
            let m: i128 = match pick {
                0 => 0,
                // near Decimal::MAX: the products overflow
                1 => (1i128 << 96) - 1 - rnd(1000) as i128,
                _ => {
                    let bits = rnd(50);
                    rnd(1u64 << bits) as i128
                }
            };
            let scale = if pick == 1 { rnd(2) } else { rnd(12) } as u32;
            let mut d = Decimal::from_i128_with_scale(m, scale);
            if neg && rnd(8) == 0 {
                d.set_sign_negative(true);
            }
            d
        };
        let mut counts = [0u32; 3];
        for _ in 0..200_000 {
            let mut spec = SymbolSpec::builtin("FILUSDT").unwrap();
            spec.step_size = dec(true);
            spec.min_qty = dec(false);
            spec.min_notional = dec(false);
            let (price, qty) = (dec(true), dec(true));
            let bounds = MinBounds::of(&spec);
            let want = reference(&spec, price, qty);
            assert_eq!(
                clears_min_with(bounds, price, qty),
                want,
                "{spec:?} {price} {qty}"
            );
            counts[usize::from(want)] += 1;
            counts[2] += u32::from(bounds.is_none());
        }
        assert!(counts.iter().all(|&c| c > 5_000), "{counts:?}");
    }

    #[test]
    fn the_minimum_shortcut_agrees_with_the_minimum() {
        assert_eq!(BIG, Decimal::from(100_000_000_000_000_000_000u128));
        let mut checked = 0u32;
        let mut taken = 0u32;
        let steps = [
            "0.001",
            "0.1",
            "1",
            "0.00001",
            "0.000001",
            "0.00000001",
            "10",
            "0.5",
        ];
        let minq = ["0.001", "0.1", "1", "0.000001", "0", "100"];
        let notionals = ["5", "100", "0", "0.0001", "20.5"];
        let prices = [
            "0.0000001",
            "0.001",
            "0.1234",
            "1",
            "3.999",
            "5",
            "27.1",
            "1000",
            "123456.78",
            "0",
        ];
        let qtys = [
            "0.000001",
            "0.001",
            "0.01",
            "0.1",
            "0.5",
            "1",
            "1.05",
            "2",
            "2.1",
            "3",
            "10",
            "10.123456789",
            "100",
            "1000000",
            "99999999999999999999",
            "12345678901234567890123",
        ];
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let mut spec = SymbolSpec::builtin("AVAXUSDT").unwrap();
        for st in steps {
            for mq in minq {
                for mn in notionals {
                    spec.step_size = d(st);
                    spec.min_qty = d(mq);
                    spec.min_notional = d(mn);
                    for p in prices {
                        for q in qtys {
                            let (p, q) = (d(p), d(q));
                            // also a few nearby values
                            for (dq, dp) in [(0i64, 0i64), (1, 0), (-1, 0), (0, 1), (7, -3)] {
                                let q = q + Decimal::new(dq, 6);
                                let p = p + Decimal::new(dp, 7);
                                if q <= Decimal::ZERO {
                                    continue;
                                }
                                checked += 1;
                                if clears_min(&spec, p, q) {
                                    taken += 1;
                                    let min = min_amount(&spec, p);
                                    assert!(
                                        q > min,
                                        "{q} vs min {min} (price {p}, spec {st} {mq} {mn})"
                                    );
                                    assert_eq!(q.max(min).to_string(), q.to_string());
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(taken > checked / 4, "{taken} of {checked}");
    }

    #[test]
    fn each_release_maps_order_types_like_its_adapter() {
        use EntryRules::*;
        let s = sig("stop", Some(9), Some(12));
        // live: the trigger is the signal's stop_loss; reference: its own price
        let live = entry_order(Tradeengine78, &s).unwrap();
        assert_eq!(
            (live.kind, live.price, live.leg),
            (Kind::Stop, Some(Decimal::from(9)), true)
        );
        let r = entry_order(Reference, &s).unwrap();
        assert_eq!(
            (r.kind, r.price, r.leg),
            (Kind::Stop, Some(Decimal::from(10)), false)
        );
        assert_eq!(
            entry_order(Tradeengine2026, &sig("stop", None, None)).unwrap_err(),
            "Stop loss price required for stop orders"
        );
        let sl = entry_order(Tradeengine78, &sig("stop_limit", Some(9), None)).unwrap();
        assert_eq!(
            (sl.kind, sl.price, sl.stop_price),
            (
                Kind::StopLimit,
                Some(Decimal::from(10)),
                Some(Decimal::from(9))
            )
        );
        let tp = entry_order(Tradeengine78, &sig("take_profit", None, Some(12))).unwrap();
        assert_eq!(
            (tp.kind, tp.price),
            (Kind::TakeProfit, Some(Decimal::from(12)))
        );
        assert_eq!(
            entry_order(Tradeengine78, &sig("conditional_stop", None, None)).unwrap_err(),
            "Invalid order type: conditional_stop"
        );
        assert_eq!(
            entry_order(Reference, &sig("take_profit", None, Some(12))).unwrap_err(),
            "Unsupported order type: take_profit"
        );
        assert!(Reference.refusal("stop").is_none());
        assert!(Reference.refusal("stop_limit").is_some());
        assert!(Tradeengine2026.refusal("stop_limit").is_none());
        assert!(Tradeengine78.refusal("conditional_limit").is_some());
    }

    #[test]
    fn position_size_pct_sizing_per_release() {
        let spec = SymbolSpec::builtin("AVAXUSDT").unwrap();
        let mut s = sig("limit", None, None);
        s.position_size_pct = Some(Decimal::new(5, 2));
        s.quantity = Decimal::from(3);
        let bal = Decimal::from(10_000);
        // P78 ignores the percentage: the quantity (above the minimum) stands
        assert_eq!(
            order_amount(EntryRules::Tradeengine78, &spec, &s, bal),
            Decimal::from(3)
        );
        // 2026-08: 5 % of 10 000 at 10 = 50, unrounded
        assert_eq!(
            order_amount(EntryRules::Tradeengine2026, &spec, &s, bal),
            Decimal::from(50)
        );
        // reference: floored to the step
        s.current_price = Decimal::new(1003, 2);
        let r = order_amount(EntryRules::Reference, &spec, &s, bal);
        assert_eq!(
            r,
            (Decimal::from(500) / Decimal::new(1003, 2) / spec.step_size).floor() * spec.step_size
        );
        // a tiny share is raised to the minimum notional
        s.position_size_pct = Some(Decimal::new(1, 6));
        let m = order_amount(EntryRules::Reference, &spec, &s, bal);
        assert_eq!(m, min_amount(&spec, s.current_price));
        assert!(m * s.current_price >= spec.min_notional);
        // the live cap
        s.position_size_pct = Some(Decimal::new(11, 2));
        assert!(size_gate(EntryRules::Tradeengine78, &s).is_some());
        assert!(size_gate(EntryRules::Tradeengine2026, &s).is_some());
        assert!(size_gate(EntryRules::Reference, &s).is_none());
        s.position_size_pct = Some(Decimal::new(1, 1));
        assert!(size_gate(EntryRules::Tradeengine78, &s).is_none());
    }
}
