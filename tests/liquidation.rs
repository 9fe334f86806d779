//! Mark price, margin and liquidation (`binance-usdm-futures.md` §5): liquidation-price formulas
//! against hand-computed examples, a stop and a liquidation inside one bar under each path
//! policy, MARK_PRICE triggers on a mark path that differs from the trade path, funding at the
//! mark, orders expiring `er=5`, books balancing, and the `stop-beyond-liquidation` warning and
//! invariant.
//!
//! All examples use BTCUSDT (tick 0.10, step 0.001, liquidation fee 1.25 %, taker 0.05 %) and
//! bracket 1 of its default table (notional ≤ 50 000: MMR 0.4 %, cum 0) unless stated.

#[path = "common/venue.rs"]
mod venue;
use ocosim::api::{NewAlgoOrder, NewOrder};
use ocosim::events::{AccountReason, Event, EventLog, ExecType, Source};
use ocosim::exchange::{
    ApiMode, BarTicks, ExchangeConfig, IntrabarPolicy, MarginMode, MockExchange, SymbolSpec,
    ALGO_ID_BASE, ORDER_ID_BASE,
};
use ocosim::invariants::{CheckConfig, Checker, Invariant};
use ocosim::types::*;
use rust_decimal::Decimal;
use venue::{drain, name, run_to};

const SYM: &str = "BTCUSDT";
/// 2024-01-01 00:00 UTC.
const T0: i64 = 1_704_067_200_000;
const MIN: i64 = 60_000;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn spec() -> SymbolSpec {
    SymbolSpec::builtin(SYM).unwrap()
}

fn tk(p: &str) -> i64 {
    spec().price_to_ticks(d(p)).unwrap()
}

fn bar(i: i64, o: &str, h: &str, l: &str, c: &str) -> BarTicks {
    BarTicks {
        t: T0 + i * MIN,
        o: tk(o),
        h: tk(h),
        l: tk(l),
        c: tk(c),
    }
}

fn flat(i: i64, p: &str) -> BarTicks {
    bar(i, p, p, p, p)
}

fn cfg(mode: MarginMode, leverage: u32) -> ExchangeConfig {
    ExchangeConfig {
        equity_sample_ms: 1_000_000_000_000,
        margin_mode: mode,
        leverage,
        ..ExchangeConfig::default()
    }
}

fn hedge(mode: MarginMode, leverage: u32) -> ExchangeConfig {
    ExchangeConfig {
        position_mode: PositionMode::Hedge,
        ..cfg(mode, leverage)
    }
}

fn ex(c: ExchangeConfig, bars: Vec<BarTicks>) -> MockExchange {
    MockExchange::new(c, spec(), bars, MIN)
}

fn market(side: Side, qty: &str) -> NewOrder {
    NewOrder {
        quantity: Some(d(qty)),
        ..NewOrder::new(SYM, side, OrderType::Market)
    }
}

fn market_ps(side: Side, qty: &str, ps: PositionSide) -> NewOrder {
    NewOrder {
        position_side: Some(ps),
        ..market(side, qty)
    }
}

fn close_stop(side: Side, trigger: &str) -> NewAlgoOrder {
    NewAlgoOrder {
        trigger_price: Some(d(trigger)),
        close_position: Some(true),
        ..NewAlgoOrder::new(SYM, side, OrderType::StopMarket)
    }
}

fn ro_stop(side: Side, trigger: &str, qty: &str, wt: WorkingType) -> NewAlgoOrder {
    NewAlgoOrder {
        trigger_price: Some(d(trigger)),
        quantity: Some(d(qty)),
        reduce_only: Some(true),
        working_type: Some(wt),
        ..NewAlgoOrder::new(SYM, side, OrderType::StopMarket)
    }
}

/// `O3 CALCULATED/FILLED LIQUIDATION`, `O1 EXPIRED/EXPIRED LIMIT er=5`, `A0 EXPIRED`, `ACC …`.
fn tag(e: &Event) -> String {
    match e {
        Event::OrderTradeUpdate(o) => {
            let mut s = format!(
                "O{} {}/{} {}",
                o.order_id.0 - ORDER_ID_BASE,
                name(&o.exec_type),
                name(&o.status),
                o.order_type.as_str()
            );
            if o.expiry_reason != ExpiryReason::None {
                s += &format!(" er={}", o.expiry_reason as u8);
            }
            s
        }
        Event::AlgoUpdate(a) => format!("A{} {}", a.algo_id.0 - ALGO_ID_BASE, name(&a.status)),
        Event::AccountUpdate(a) => format!("ACC {}", name(&a.reason)),
        Event::Warning { code, .. } => format!("WARN {code}"),
        Event::Equity { .. } => "EQ".into(),
        other => format!("{other:?}"),
    }
}

fn tags(evs: &[(TimeMs, Event)]) -> Vec<String> {
    evs.iter().map(|(_, e)| tag(e)).collect()
}

/// The liquidation fills: (time, positionSide, last price, last qty, commission, realized PnL).
fn liquidations(
    evs: &[(TimeMs, Event)],
) -> Vec<(i64, PositionSide, Decimal, Decimal, Decimal, Decimal)> {
    evs.iter()
        .filter_map(|(t, e)| match e {
            Event::OrderTradeUpdate(o) if o.exec_type == ExecType::Calculated => Some((
                t.0,
                o.position_side,
                o.last_price,
                o.last_qty,
                o.commission,
                o.realized_pnl,
            )),
            _ => None,
        })
        .collect()
}

fn lp(x: &MockExchange, ps: PositionSide) -> Decimal {
    x.liquidation_price(ps).expect("a liquidation price")
}

// ---------------------------------------------------------------------------------------------
// Formulas (§5): LP = (WB + cum − side·Q·EP) / (Q·MMR − side·Q)

#[test]
fn isolated_long_formula_and_liquidation_on_the_path() {
    // 20x isolated, BUY 0.1 @ 60 000: notional 6 000 (bracket 1), isolated margin 6 000/20 = 300.
    // LP = (300 + 0 − 0.1·60 000) / (0.1·0.004 − 0.1) = −5 700 / −0.0996 = 57 228.915662650602…
    // The bound in ticks is floor(LP / 0.1) = 57 228.9. Bar 1 (ohlc, high = open so high first)
    // walks 60 000 → 57 000 over [t+20 000, t+40 000] ms and crosses 57 228.9 at
    // t + 20 000 + (60 000 − 57 228.9)/3 000·20 000 = t + 38 474 ms.
    // Realized = (57 228.9 − 60 000)·0.1 = −277.11; fee = 57 228.9·0.1·0.0125 = 71.536125;
    // wallet = 10 000 − 3 (entry taker fee) − 277.11 − 71.536125 = 9 648.353875.
    let mut x = ex(
        cfg(MarginMode::Isolated, 20),
        vec![
            flat(0, "60000"),
            bar(1, "60000", "60000", "57000", "57500"),
            flat(2, "57500"),
        ],
    );
    x.new_order(&market(Side::Buy, "0.1")).unwrap();
    assert_eq!(lp(&x, PositionSide::Both), d("57228.91566265"));
    let pr = x.position_risk(SYM).unwrap();
    assert_eq!(pr[0].liquidation_price, d("57228.91566265"));
    // the ACCOUNT_UPDATE of the entry carries the liquidation price too
    let evs = drain(&mut x);
    let Some(Event::AccountUpdate(a)) = evs
        .iter()
        .map(|e| &e.1)
        .find(|e| matches!(e, Event::AccountUpdate(_)))
    else {
        panic!("no ACCOUNT_UPDATE")
    };
    assert_eq!(a.positions[0].liquidation_price, Some(d("57228.91566265")));
    let evs = run_to(&mut x, T0 + 3 * MIN - 1);
    let l = liquidations(&evs);
    assert_eq!(
        l,
        vec![(
            T0 + MIN + 38_474,
            PositionSide::Both,
            d("57228.9"),
            d("0.1"),
            d("71.536125"),
            d("-277.11")
        )]
    );
    assert_eq!(x.wallet(), d("9648.353875"));
    assert_eq!(x.position_amt(PositionSide::Both), Decimal::ZERO);
    assert_eq!(x.stats().liquidations, 1);
    assert_eq!(x.liquidation_price(PositionSide::Both), None);
    // Binance's shape: LIQUIDATION order, c="autoclose-<ms>", x=CALCULATED, then ACCOUNT_UPDATE
    // reason LIQUIDATION with the realized PnL and the fee in its fields
    let i = evs
        .iter()
        .position(
            |e| matches!(&e.1, Event::OrderTradeUpdate(o) if o.exec_type == ExecType::Calculated),
        )
        .unwrap();
    let Event::OrderTradeUpdate(o) = &evs[i].1 else {
        unreachable!()
    };
    assert_eq!(o.order_type, OrderType::Liquidation);
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(
        o.client_order_id,
        format!("autoclose-{}", T0 + MIN + 38_474)
    );
    let Event::AccountUpdate(a) = &evs[i + 1].1 else {
        panic!("ACCOUNT_UPDATE must follow: {:?}", tags(&evs))
    };
    assert_eq!(a.reason, AccountReason::Liquidation);
    assert_eq!((a.realized_pnl, a.fee), (d("-277.11"), d("71.536125")));
    assert_eq!(a.wallet_balance, d("9648.353875"));
}

#[test]
fn isolated_short_formula() {
    // 20x isolated, SELL 0.1 @ 60 000: WB = 300, side = −1.
    // LP = (300 + 0 + 0.1·60 000) / (0.1·0.004 + 0.1) = 6 300 / 0.1004 = 62 749.003984063745…
    // Bound: ceil(LP / 0.1) = 62 749.1, reached on the way up.
    let mut x = ex(
        cfg(MarginMode::Isolated, 20),
        vec![flat(0, "60000"), bar(1, "60000", "63000", "60000", "62000")],
    );
    x.new_order(&market(Side::Sell, "0.1")).unwrap();
    assert_eq!(lp(&x, PositionSide::Both), d("62749.00398406"));
    let evs = run_to(&mut x, T0 + 2 * MIN - 1);
    let l = liquidations(&evs);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].2, d("62749.1"));
    // realized = (60 000 − 62 749.1)·0.1 = −274.91
    assert_eq!(l[0].5, d("-274.91"));
}

#[test]
fn bracket_two_is_chosen_by_the_notional_at_the_liquidation_price() {
    // 20x isolated, BUY 1 @ 60 000: notional 60 000 > 50 000 → bracket 2 (MMR 0.5 %, cum 50),
    // WB = 3 000. LP = (3 000 + 50 − 60 000) / (0.005 − 1) = −56 950 / −0.995 = 57 236.180904522…
    // Its notional (57 236) is inside bracket 2 (50 000, 250 000]: consistent. Bracket 1 would
    // give (3 000 − 60 000)/(0.004 − 1) = 57 228.9…, notional 57 229 > 50 000: inconsistent.
    let mut x = ex(cfg(MarginMode::Isolated, 20), vec![flat(0, "60000")]);
    x.new_order(&market(Side::Buy, "1")).unwrap();
    assert_eq!(lp(&x, PositionSide::Both), d("57236.18090452"));
}

#[test]
fn cross_long_and_short_formulas() {
    // Cross, wallet 1 000, 20x. BUY 0.2 @ 60 000: fee 12 000·0.0005 = 6, wallet 994 = WB.
    // LP = (994 − 0.2·60 000) / (0.2·0.004 − 0.2) = −11 006 / −0.1992 = 55 251.004016064257…
    let c = ExchangeConfig {
        initial_balance: d("1000"),
        ..cfg(MarginMode::Cross, 20)
    };
    let mut x = ex(c.clone(), vec![flat(0, "60000")]);
    x.new_order(&market(Side::Buy, "0.2")).unwrap();
    assert_eq!(x.wallet(), d("994"));
    assert_eq!(lp(&x, PositionSide::Both), d("55251.00401606"));
    // SELL 0.2: LP = (994 + 12 000) / (0.0008 + 0.2) = 12 994 / 0.2008 = 64 711.155378486055…
    // (shown to 8 decimals: 64 711.15537849)
    let mut x = ex(c, vec![flat(0, "60000")]);
    x.new_order(&market(Side::Sell, "0.2")).unwrap();
    assert_eq!(lp(&x, PositionSide::Both), d("64711.15537849"));
}

#[test]
fn cross_hedge_puts_both_legs_in_one_equation_and_liquidates_both() {
    // Hedge, cross, wallet 1 000, 20x: LONG 0.2 @ 60 000 (fee 6), SHORT 0.1 @ 60 000 (fee 3):
    // WB = 991. Binance's cross formula with both legs of the symbol:
    // LP = (991 + 0 + 0 − 0.2·60 000 + 0.1·60 000) / (0.2·0.004 + 0.1·0.004 − 0.2 + 0.1)
    //    = −5 009 / −0.0988 = 50 698.380566801619…  (shown for both legs)
    let c = ExchangeConfig {
        initial_balance: d("1000"),
        ..hedge(MarginMode::Cross, 20)
    };
    let mut x = ex(
        c,
        vec![flat(0, "60000"), bar(1, "60000", "60000", "50000", "50500")],
    );
    x.new_order(&market_ps(Side::Buy, "0.2", PositionSide::Long))
        .unwrap();
    x.new_order(&market_ps(Side::Sell, "0.1", PositionSide::Short))
        .unwrap();
    assert_eq!(x.wallet(), d("991"));
    assert_eq!(lp(&x, PositionSide::Long), d("50698.3805668"));
    assert_eq!(lp(&x, PositionSide::Short), d("50698.3805668"));
    let evs = run_to(&mut x, T0 + 2 * MIN - 1);
    let l = liquidations(&evs);
    // both legs close at the bound's tick, floor(50 698.38…/0.1)·0.1 = 50 698.3
    assert_eq!(l.len(), 2, "{:?}", tags(&evs));
    assert_eq!((l[0].1, l[0].2), (PositionSide::Long, d("50698.3")));
    assert_eq!((l[1].1, l[1].2), (PositionSide::Short, d("50698.3")));
    // realized: long (50 698.3 − 60 000)·0.2 = −1 860.34; short (60 000 − 50 698.3)·0.1 = 930.17
    assert_eq!((l[0].5, l[1].5), (d("-1860.34"), d("930.17")));
    assert_eq!(x.stats().liquidations, 2);
}

// ---------------------------------------------------------------------------------------------
// A stop and a liquidation inside one bar, under each path policy

fn policy(p: IntrabarPolicy, c: ExchangeConfig) -> ExchangeConfig {
    ExchangeConfig { intrabar: p, ..c }
}

/// One-way isolated 20x long 0.1 @ 60 000 (LP 57 228.9) with a closePosition stop at `stop`,
/// through a bar 60 000 → 60 500 / 56 000 → 59 000. Returns the tags of the run.
fn same_side(p: IntrabarPolicy, stop: &str) -> (Vec<String>, MockExchange) {
    let mut x = ex(
        policy(p, cfg(MarginMode::Isolated, 20)),
        vec![
            flat(0, "60000"),
            bar(1, "60000", "60500", "56000", "59000"),
            flat(2, "59000"),
        ],
    );
    x.new_order(&market(Side::Buy, "0.1")).unwrap();
    x.new_algo_order(&close_stop(Side::Sell, stop)).unwrap();
    let mut evs = drain(&mut x);
    evs.extend(run_to(&mut x, T0 + 3 * MIN - 1));
    (tags(&evs), x)
}

#[test]
fn stop_above_the_liquidation_price_fires_first_under_every_policy() {
    for p in [
        IntrabarPolicy::Ohlc,
        IntrabarPolicy::Pessimistic,
        IntrabarPolicy::Optimistic,
    ] {
        let (t, x) = same_side(p, "58000");
        assert!(!t.iter().any(|s| s.starts_with("WARN")), "{p:?}: {t:?}");
        assert!(t.iter().any(|s| s == "A0 FINISHED"), "{p:?}: {t:?}");
        assert!(!t.iter().any(|s| s.contains("CALCULATED")), "{p:?}: {t:?}");
        assert_eq!(x.stats().liquidations, 0);
    }
}

#[test]
fn stop_beyond_the_liquidation_price_warns_and_loses_to_the_liquidation_under_every_policy() {
    for p in [
        IntrabarPolicy::Ohlc,
        IntrabarPolicy::Pessimistic,
        IntrabarPolicy::Optimistic,
    ] {
        let (t, x) = same_side(p, "57000");
        assert_eq!(
            t.iter()
                .filter(|s| *s == "WARN stop-beyond-liquidation")
                .count(),
            1,
            "{t:?}"
        );
        let liq = t
            .iter()
            .position(|s| s.contains("CALCULATED"))
            .expect("liquidated");
        // the stop expired with the liquidation, before its fill, and never traded
        let exp = t
            .iter()
            .position(|s| s == "A0 EXPIRED")
            .expect("stop expired");
        assert!(exp < liq, "{p:?}: {t:?}");
        // only the entry traded
        assert_eq!(
            t.iter().filter(|s| s.contains("TRADE")).count(),
            1,
            "{p:?}: {t:?}"
        );
        assert_eq!(x.stats().liquidations, 1);
    }
}

/// Hedge, isolated 20x: LONG 0.2 @ 60 000 (LP 57 228.9: (600 − 12 000)/(0.0008 − 0.2)) and
/// SHORT 0.1 @ 60 000 (LP 62 749.1) protected by a BUY stop at 61 000, through one bar with both
/// extremes: the order of the liquidation and the stop is the path policy's.
/// Returns (index of the long's liquidation, index of the short stop's fill) in the log.
fn two_sided(p: IntrabarPolicy, high: &str) -> (usize, usize) {
    let mut x = ex(
        policy(p, hedge(MarginMode::Isolated, 20)),
        vec![
            flat(0, "60000"),
            bar(1, "60000", high, "57000", "60000"),
            flat(2, "60000"),
        ],
    );
    x.new_order(&market_ps(Side::Buy, "0.2", PositionSide::Long))
        .unwrap();
    x.new_order(&market_ps(Side::Sell, "0.1", PositionSide::Short))
        .unwrap();
    assert_eq!(lp(&x, PositionSide::Long), d("57228.91566265"));
    let stop = NewAlgoOrder {
        position_side: Some(PositionSide::Short),
        ..close_stop(Side::Buy, "61000")
    };
    x.new_algo_order(&stop).unwrap();
    drain(&mut x);
    let evs = run_to(&mut x, T0 + 3 * MIN - 1);
    let liq = evs
        .iter()
        .position(
            |e| matches!(&e.1, Event::OrderTradeUpdate(o) if o.exec_type == ExecType::Calculated),
        )
        .expect("long liquidated");
    let stop = evs
        .iter()
        .position(|e| {
            matches!(&e.1, Event::OrderTradeUpdate(o) if o.exec_type == ExecType::Trade && o.position_side == PositionSide::Short)
        })
        .expect("short stop filled");
    // the short's stop survives the long's isolated liquidation and vice versa
    assert_eq!(x.stats().liquidations, 1);
    (liq, stop)
}

#[test]
fn stop_and_liquidation_in_one_bar_follow_the_path_policy() {
    // high 63 500 (3 500 above the open), low 57 000 (3 000 below): ohlc goes to the nearer
    // extreme first, the low: liquidation first. Pessimistic: the largest position is the long,
    // its adverse extreme (low) first: liquidation first. Optimistic: high first: stop first.
    let (l, s) = two_sided(IntrabarPolicy::Ohlc, "63500");
    assert!(l < s, "ohlc, low nearer");
    let (l, s) = two_sided(IntrabarPolicy::Pessimistic, "63500");
    assert!(l < s, "pessimistic");
    let (l, s) = two_sided(IntrabarPolicy::Optimistic, "63500");
    assert!(s < l, "optimistic");
    // high 62 500 (2 500 above, nearer than the low): ohlc visits the high first: stop first
    let (l, s) = two_sided(IntrabarPolicy::Ohlc, "62500");
    assert!(s < l, "ohlc, high nearer");
}

// ---------------------------------------------------------------------------------------------
// Mark price

/// Trade bar 1: 60 000 → 60 000 → 58 000 → 59 700 (a wick to 58 000); its mark candle
/// 60 000 / 60 000 / 59 500 / 59 700 (the mark never went below 59 500). Basis 0 at both ends.
/// Mark path (ohlc): (t, 60 000), (t+20 000, 60 000), (t+40 000, clamp(58 000) = 59 500),
/// (t+59 999, 59 700).
fn mark_case(with_mark: bool) -> MockExchange {
    let trade = vec![
        flat(0, "60000"),
        bar(1, "60000", "60000", "58000", "59700"),
        flat(2, "59700"),
    ];
    let mark = vec![
        flat(0, "60000"),
        bar(1, "60000", "60000", "59500", "59700"),
        flat(2, "59700"),
    ];
    let x = ex(cfg(MarginMode::Cross, 10), trade);
    if with_mark {
        x.with_mark(mark, MIN)
    } else {
        x
    }
}

/// Long 0.03, then three reduce-only sell stops of 0.01: A MARK_PRICE 59 400, B CONTRACT_PRICE
/// 59 400, C MARK_PRICE 59 600; the venue runs to the end of bar 2 and the fills (time, price)
/// come back with the exchange.
fn three_stops_fills(with_mark: bool) -> (MockExchange, Vec<(i64, Decimal)>) {
    let mut x = mark_case(with_mark);
    x.new_order(&market(Side::Buy, "0.03")).unwrap();
    for (price, working) in [
        ("59400", WorkingType::MarkPrice),
        ("59400", WorkingType::ContractPrice),
        ("59600", WorkingType::MarkPrice),
    ] {
        x.new_algo_order(&ro_stop(Side::Sell, price, "0.01", working))
            .unwrap();
    }
    drain(&mut x);
    let evs = run_to(&mut x, T0 + 3 * MIN - 1);
    let fills = evs
        .iter()
        .filter_map(|(t, e)| match e {
            Event::OrderTradeUpdate(o) if o.exec_type == ExecType::Trade => {
                Some((t.0, o.last_price))
            }
            _ => None,
        })
        .collect();
    (x, fills)
}

#[test]
fn mark_price_triggers_follow_the_mark_path_not_the_trade_path() {
    // A: MARK_PRICE 59 400: the mark's low is 59 500, never fires although the trade hits 58 000
    // B: CONTRACT_PRICE 59 400: trade segment 60 000 → 58 000 over 20 s reaches it 6 s in
    // C: MARK_PRICE 59 600: mark segment 60 000 → 59 500 over 20 s reaches it at 16 s
    // (t + 36 000), when the trade price is 60 000 − 2 000·16/20 = 58 400: it fills there
    let (mut x, fills) = three_stops_fills(true);
    assert_eq!(
        fills,
        vec![
            (T0 + MIN + 26_000, d("59400")),
            (T0 + MIN + 36_000, d("58400"))
        ]
    );
    assert_eq!(x.open_algo_orders(SYM).unwrap().len(), 1, "A still rests");
    assert_eq!(x.mark_price(), d("59700"));
}

#[test]
fn without_mark_klines_mark_price_triggers_use_the_trade_path() {
    // same orders, no mark candles: C (MARK_PRICE 59 600) fires on the trade path at
    // t + 20 000 + 400/2 000·20 000 = t + 24 000 at 59 600, A (59 400) with B at t + 26 000
    let (_, fills) = three_stops_fills(false);
    assert_eq!(
        fills,
        vec![
            (T0 + MIN + 24_000, d("59600")),
            (T0 + MIN + 26_000, d("59400")),
            (T0 + MIN + 26_000, d("59400"))
        ]
    );
}

#[test]
fn no_mark_klines_is_announced() {
    let mut x = ex(cfg(MarginMode::Cross, 10), vec![flat(0, "60000")]).with_mark(Vec::new(), 0);
    let evs = drain(&mut x);
    assert_eq!(evs.len(), 1);
    let Event::Warning { code, text } = &evs[0].1 else {
        panic!("{:?}", evs)
    };
    assert_eq!(code, "mark-price");
    assert_eq!(text, "mark price = trade price (no mark klines)");
}

#[test]
fn liquidation_runs_on_the_mark_not_on_a_trade_wick() {
    // isolated 20x long 0.1 @ 60 000, LP 57 228.9. Bar 1's trade low 56 000 is a wick the mark
    // did not follow (mark low 58 000): no liquidation. Bar 2: mark falls to 57 000: liquidated
    // when the mark reaches 57 228.9, at the trade price of that moment.
    let trade = vec![
        flat(0, "60000"),
        bar(1, "60000", "60000", "56000", "59000"),
        bar(2, "59000", "59000", "57000", "57000"),
    ];
    let mark = vec![
        flat(0, "60000"),
        bar(1, "60000", "60000", "58000", "59000"),
        bar(2, "59000", "59000", "57000", "57000"),
    ];
    let mut x = ex(cfg(MarginMode::Isolated, 20), trade).with_mark(mark, MIN);
    x.new_order(&market(Side::Buy, "0.1")).unwrap();
    drain(&mut x);
    let evs = run_to(&mut x, T0 + 2 * MIN - 1);
    assert!(liquidations(&evs).is_empty(), "{:?}", tags(&evs));
    let evs = run_to(&mut x, T0 + 3 * MIN - 1);
    let l = liquidations(&evs);
    assert_eq!(l.len(), 1);
    // bar 2 path: high first (open = high): the fall 59 000 → 57 000 runs over [t+20 000,
    // t+40 000]; mark = trade (basis 0, inside the candle): 57 228.9 at
    // t + 20 000 + ceil(17 711/20 000·20 000) = t + 37 711
    assert_eq!((l[0].0, l[0].2), (T0 + 2 * MIN + 37_711, d("57228.9")));
}

#[test]
fn funding_is_charged_at_the_mark() {
    // trade flat at 60 000, mark flat at 60 100; funding 0.01 % at bar 2's open.
    // Long 0.1 pays 0.1 · 60 100 · 0.0001 = 0.601 (at the trade price it would be 0.6).
    let trade = vec![
        flat(0, "60000"),
        flat(1, "60000"),
        flat(2, "60000"),
        flat(3, "60000"),
    ];
    let mark: Vec<BarTicks> = (0..4).map(|i| flat(i, "60100")).collect();
    let mut x = ex(cfg(MarginMode::Cross, 10), trade)
        .with_funding(vec![(T0 + 2 * MIN, d("0.0001"))])
        .with_mark(mark, MIN);
    x.new_order(&market(Side::Buy, "0.1")).unwrap();
    let pr = x.position_risk(SYM).unwrap();
    assert_eq!(
        (pr[0].mark_price, pr[0].unrealized_profit),
        (d("60100"), d("10"))
    );
    drain(&mut x);
    let evs = run_to(&mut x, T0 + 4 * MIN - 1);
    let f: Vec<Decimal> = evs
        .iter()
        .filter_map(|(_, e)| match e {
            Event::AccountUpdate(a) if a.reason == AccountReason::FundingFee => {
                Some(a.balance_change)
            }
            _ => None,
        })
        .collect();
    assert_eq!(f, vec![d("-0.601")]);
    assert_eq!(x.unrealized(), d("10"));
}

// ---------------------------------------------------------------------------------------------
// Orders on liquidation, books, invariant

#[test]
fn open_orders_expire_er5_and_algo_orders_expire_on_liquidation() {
    let mut x = ex(
        cfg(MarginMode::Isolated, 20),
        vec![flat(0, "60000"), bar(1, "60000", "60000", "57000", "57500")],
    );
    x.new_order(&market(Side::Buy, "0.1")).unwrap(); // O0
                                                     // O1: an opening BUY LIMIT far below; O2: a reduce-only SELL LIMIT take-profit
    let lim = |side: Side, p: &str, ro: bool| NewOrder {
        quantity: Some(d("0.01")),
        price: Some(d(p)),
        time_in_force: Some(TimeInForce::Gtc),
        reduce_only: ro.then_some(true),
        ..NewOrder::new(SYM, side, OrderType::Limit)
    };
    x.new_order(&lim(Side::Buy, "50000", false)).unwrap();
    x.new_order(&lim(Side::Sell, "62000", true)).unwrap();
    // A0: stop beyond the liquidation price (57 000 < 57 228.9); A1: take-profit
    x.new_algo_order(&close_stop(Side::Sell, "57000")).unwrap();
    let tp = NewAlgoOrder {
        trigger_price: Some(d("65000")),
        close_position: Some(true),
        ..NewAlgoOrder::new(SYM, Side::Sell, OrderType::TakeProfitMarket)
    };
    x.new_algo_order(&tp).unwrap();
    drain(&mut x);
    let evs = run_to(&mut x, T0 + 2 * MIN - 1);
    assert_eq!(
        tags(&evs),
        vec![
            "O1 EXPIRED/EXPIRED LIMIT er=5",
            "O2 EXPIRED/EXPIRED LIMIT er=5",
            "A0 EXPIRED",
            "A1 EXPIRED",
            "O3 CALCULATED/FILLED LIQUIDATION",
            "ACC LIQUIDATION",
        ]
    );
    assert!(evs.iter().all(|e| e.0 == TimeMs(T0 + MIN + 38_474)));
    assert_eq!(x.open_counts(), (0, 0));
    assert_eq!(x.stats().liquidations, 1);
}

fn check(evs: &[(TimeMs, Event)], mode: PositionMode) -> Vec<ocosim::invariants::Violation> {
    let mut log = EventLog::new();
    for (t, e) in evs {
        log.push(*t, Source::Exchange, e.clone());
    }
    let end = evs.last().map_or(TimeMs(T0), |e| e.0);
    Checker::check_log(
        CheckConfig {
            position_mode: mode,
            reaction_ms: 60_000,
            initial_balance: d("10000"),
            trail_len: 12,
        },
        &log,
        end,
    )
}

#[test]
fn books_balance_after_a_liquidation_with_funding() {
    // isolated 20x long 0.1, funding −0.01 % at bar 1's open (the long receives 0.6), then the
    // fall liquidates it; wallet = initial + Σ realized − Σ fees + Σ funding, from the events
    let mut x = ex(
        cfg(MarginMode::Isolated, 20),
        vec![
            flat(0, "60000"),
            bar(1, "60000", "60000", "57000", "57500"),
            flat(2, "57500"),
        ],
    )
    .with_funding(vec![(T0 + MIN, d("-0.0001"))]);
    x.new_order(&market(Side::Buy, "0.1")).unwrap();
    let mut evs = drain(&mut x);
    evs.extend(run_to(&mut x, T0 + 3 * MIN - 1));
    let (mut realized, mut fees, mut funding) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for (_, e) in &evs {
        if let Event::AccountUpdate(a) = e {
            realized += a.realized_pnl;
            fees += a.fee;
            funding += a.balance_change;
        }
    }
    assert_eq!(funding, d("0.6"));
    assert_eq!(x.wallet(), d("10000") + realized - fees + funding);
    assert_eq!(x.stats().liquidations, 1);
    // funding moved the isolated margin (300.6): the bound is a little lower than 57 228.9
    // LP = (300.6 − 6 000)/(−0.0996) = 57 222.891566…; floor → 57 222.8
    assert_eq!(liquidations(&evs)[0].2, d("57222.8"));
    let v = check(&evs, PositionMode::OneWay);
    assert!(
        v.iter().all(|v| v.invariant != Invariant::BooksBalance),
        "{v:?}"
    );
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn invariant_flags_a_liquidation_while_a_stop_rested() {
    // stop at 57 000 beyond LP 57 228.9: warning at placement, violation at the liquidation
    let mut x = ex(
        cfg(MarginMode::Isolated, 20),
        vec![flat(0, "60000"), bar(1, "60000", "60000", "56000", "57500")],
    );
    x.new_order(&market(Side::Buy, "0.1")).unwrap();
    x.new_algo_order(&close_stop(Side::Sell, "57000")).unwrap();
    let mut evs = drain(&mut x);
    let w = evs
        .iter()
        .find_map(|(_, e)| match e {
            Event::Warning { code, text } if code == "stop-beyond-liquidation" => {
                Some(text.clone())
            }
            _ => None,
        })
        .expect("warning at placement");
    assert!(w.contains("57000") && w.contains("57228.91566265"), "{w}");
    let placed = evs
        .iter()
        .position(|e| matches!(&e.1, Event::AlgoUpdate(a) if a.status == AlgoStatus::New))
        .unwrap() as u64;
    evs.extend(run_to(&mut x, T0 + 2 * MIN - 1));
    let v = check(&evs, PositionMode::OneWay);
    let s: Vec<_> = v
        .iter()
        .filter(|v| v.invariant == Invariant::StopBeyondLiquidation)
        .collect();
    assert_eq!(s.len(), 1, "{v:?}");
    assert!(s[0].message.contains("57000"), "{}", s[0].message);
    assert!(
        s[0].trail.contains(&Seq(placed)),
        "trail names the stop's placement"
    );
    // no other invariant breaks (books balance)
    assert_eq!(v.len(), 1, "{v:?}");

    // the stop at 58 000 fires first: no violation, no warning
    let mut x = ex(
        cfg(MarginMode::Isolated, 20),
        vec![flat(0, "60000"), bar(1, "60000", "60000", "56000", "57500")],
    );
    x.new_order(&market(Side::Buy, "0.1")).unwrap();
    x.new_algo_order(&close_stop(Side::Sell, "58000")).unwrap();
    let mut evs = drain(&mut x);
    evs.extend(run_to(&mut x, T0 + 2 * MIN - 1));
    assert!(!evs.iter().any(|e| matches!(e.1, Event::Warning { .. })));
    assert!(check(&evs, PositionMode::OneWay).is_empty());
}

#[test]
fn legacy_stop_beyond_liquidation_warns_too() {
    let c = ExchangeConfig {
        api: ApiMode::Legacy,
        ..cfg(MarginMode::Isolated, 20)
    };
    let mut x = ex(c, vec![flat(0, "60000")]);
    x.new_order(&market(Side::Sell, "0.1")).unwrap();
    // short LP 62 749.0…: a BUY stop at 63 000 lies beyond it
    let stop = NewOrder {
        stop_price: Some(d("63000")),
        close_position: Some(true),
        ..NewOrder::new(SYM, Side::Buy, OrderType::StopMarket)
    };
    x.new_order(&stop).unwrap();
    let t = tags(&drain(&mut x));
    assert_eq!(
        t.last().map(String::as_str),
        Some("WARN stop-beyond-liquidation"),
        "{t:?}"
    );
}

#[test]
fn far_from_liquidation_the_bounds_stay_empty() {
    // default cross 10x, wallet 10 000, 0.01 BTC: LP = (9 999.7 − 600)/(0.00004 − 0.01) < 0
    let mut x = ex(cfg(MarginMode::Cross, 10), vec![flat(0, "60000")]);
    x.new_order(&market(Side::Buy, "0.01")).unwrap();
    assert_eq!(x.liquidation_price(PositionSide::Both), None);
    assert_eq!(
        x.position_risk(SYM).unwrap()[0].liquidation_price,
        Decimal::ZERO
    );
}
