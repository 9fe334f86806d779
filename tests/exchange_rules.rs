//! The mock exchange against `binance-usdm-futures.md`: one or more tests per rule, each citing the
//! section it proves. Rejections assert the exact code and message and that nothing changed.

#[path = "common/venue.rs"]
mod venue;
use ocosim::api::{
    AlgoInfo, AlgoRef, ApiError, NewAlgoOrder, NewOrder, OrderInfo, OrderRef, PositionInfo,
};
use ocosim::events::{AccountReason, Event, ExecType};
use ocosim::exchange::{
    ApiMode, BarTicks, ExchangeConfig, IntrabarPolicy, LimitFill, MarginMode, MockExchange,
    SymbolSpec, ALGO_ID_BASE, ORDER_ID_BASE,
};
use ocosim::types::*;
use rust_decimal::Decimal;
use venue::{drain, name, run_to};

// ---------------------------------------------------------------------------------------------
// Helpers

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

/// Bar `i` minutes after T0, prices in USDT.
fn bar(i: i64, o: &str, h: &str, l: &str, c: &str) -> BarTicks {
    bar_at(T0 + i * MIN, o, h, l, c)
}

fn bar_at(t: i64, o: &str, h: &str, l: &str, c: &str) -> BarTicks {
    BarTicks {
        t,
        o: tk(o),
        h: tk(h),
        l: tk(l),
        c: tk(c),
    }
}

fn flat(i: i64, p: &str) -> BarTicks {
    bar(i, p, p, p, p)
}

/// `n` flat 1m bars at `p`.
fn flats(n: i64, p: &str) -> Vec<BarTicks> {
    (0..n).map(|i| flat(i, p)).collect()
}

/// Default config (one-way, algo API, 0.02 %/0.05 %, ohlc, through) without equity samples.
fn cfg() -> ExchangeConfig {
    ExchangeConfig {
        equity_sample_ms: 1_000_000_000_000,
        ..ExchangeConfig::default()
    }
}

fn hedge() -> ExchangeConfig {
    ExchangeConfig {
        position_mode: PositionMode::Hedge,
        ..cfg()
    }
}

fn legacy() -> ExchangeConfig {
    ExchangeConfig {
        api: ApiMode::Legacy,
        ..cfg()
    }
}

fn ex_with(cfg: ExchangeConfig, bars: Vec<BarTicks>) -> MockExchange {
    MockExchange::new(cfg, spec(), bars, MIN)
}

fn ex(bars: Vec<BarTicks>) -> MockExchange {
    ex_with(cfg(), bars)
}

fn market(side: Side, qty: &str) -> NewOrder {
    NewOrder {
        quantity: Some(d(qty)),
        ..NewOrder::new(SYM, side, OrderType::Market)
    }
}

fn limit(side: Side, qty: &str, price: &str) -> NewOrder {
    NewOrder {
        quantity: Some(d(qty)),
        price: Some(d(price)),
        time_in_force: Some(TimeInForce::Gtc),
        ..NewOrder::new(SYM, side, OrderType::Limit)
    }
}

fn ro(mut o: NewOrder) -> NewOrder {
    o.reduce_only = Some(true);
    o
}

fn ps(mut o: NewOrder, p: PositionSide) -> NewOrder {
    o.position_side = Some(p);
    o
}

/// A conditional algo order with a quantity.
fn algo(side: Side, t: OrderType, trigger: &str, qty: &str) -> NewAlgoOrder {
    NewAlgoOrder {
        quantity: Some(d(qty)),
        trigger_price: Some(d(trigger)),
        ..NewAlgoOrder::new(SYM, side, t)
    }
}

fn algo_ro(side: Side, t: OrderType, trigger: &str, qty: &str) -> NewAlgoOrder {
    NewAlgoOrder {
        reduce_only: Some(true),
        ..algo(side, t, trigger, qty)
    }
}

/// A closePosition=true leg with the given timeInForce.
fn close_leg(side: Side, t: OrderType, trigger: &str, tif: TimeInForce) -> NewAlgoOrder {
    NewAlgoOrder {
        trigger_price: Some(d(trigger)),
        close_position: Some(true),
        time_in_force: Some(tif),
        ..NewAlgoOrder::new(SYM, side, t)
    }
}

fn trailing(side: Side, cb: &str, activate: Option<&str>, qty: &str) -> NewAlgoOrder {
    NewAlgoOrder {
        quantity: Some(d(qty)),
        callback_rate: Some(d(cb)),
        activate_price: activate.map(d),
        reduce_only: Some(true),
        ..NewAlgoOrder::new(SYM, side, OrderType::TrailingStopMarket)
    }
}

fn oid(i: u64) -> OrderRef {
    OrderRef::Id(ORDER_ID_BASE + i)
}

fn aid(i: u64) -> AlgoRef {
    AlgoRef::Id(ALGO_ID_BASE + i)
}

/// A short readable line per event: `O1 TRADE/FILLED MARKET`, `A0 TRIGGERED ai=O1`, `ACC ORDER`.
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
        Event::AlgoUpdate(a) => {
            let mut s = format!("A{} {}", a.algo_id.0 - ALGO_ID_BASE, name(&a.status));
            if let Some(ai) = a.actual_order_id {
                s += &format!(" ai=O{}", ai.0 - ORDER_ID_BASE);
            }
            if !a.reject_reason.is_empty() {
                s += &format!(" rm={}", a.reject_reason);
            }
            s
        }
        Event::AccountUpdate(a) => format!("ACC {}", name(&a.reason)),
        Event::Equity { .. } => "EQ".into(),
        other => format!("{other:?}"),
    }
}

fn tags(evs: &[(TimeMs, Event)]) -> Vec<String> {
    evs.iter().map(|(_, e)| tag(e)).collect()
}

/// Every TRADE of the log: (orderId index, last price, last qty, commission, maker).
fn trades(evs: &[(TimeMs, Event)]) -> Vec<(u64, Decimal, Decimal, Decimal, bool)> {
    evs.iter()
        .filter_map(|(_, e)| match e {
            Event::OrderTradeUpdate(o) if o.exec_type == ExecType::Trade => Some((
                o.order_id.0 - ORDER_ID_BASE,
                o.last_price,
                o.last_qty,
                o.commission,
                o.is_maker,
            )),
            _ => None,
        })
        .collect()
}

/// Everything a poll can see, plus the version.
#[derive(Debug, PartialEq)]
struct Snap {
    orders: Vec<OrderInfo>,
    algos: Vec<AlgoInfo>,
    positions: Vec<PositionInfo>,
    wallet: Decimal,
    version: u64,
}

fn snap(ex: &mut MockExchange) -> Snap {
    Snap {
        orders: ex.open_orders(SYM).unwrap(),
        algos: ex.open_algo_orders(SYM).unwrap_or_default(),
        positions: ex.position_risk(SYM).unwrap(),
        wallet: ex.wallet(),
        version: ex.version(),
    }
}

/// Asserts that `f` is rejected with exactly `code`/`msg` and that nothing changed: open orders,
/// open algo orders, positions, wallet, version, no event.
fn rejected<T: std::fmt::Debug>(
    ex: &mut MockExchange,
    code: i32,
    msg: &str,
    f: impl FnOnce(&mut MockExchange) -> Result<T, ApiError>,
) {
    drain(ex);
    let before = snap(ex);
    let e = f(ex).expect_err("expected a rejection");
    assert_eq!((e.code, e.msg.as_str()), (code, msg));
    assert!(!ex.has_events(), "a rejection emitted events");
    assert_eq!(snap(ex), before, "a rejection changed state");
}

fn new_order(ex: &mut MockExchange, o: NewOrder) -> OrderInfo {
    ex.new_order(&o).unwrap()
}

fn new_algo(ex: &mut MockExchange, o: NewAlgoOrder) -> AlgoInfo {
    ex.new_algo_order(&o).unwrap()
}

fn amt(ex: &MockExchange) -> Decimal {
    ex.position_amt(PositionSide::Both)
}

const MANDATORY: &str = "was not sent, was empty/null, or malformed.";

fn mandatory(p: &str) -> String {
    format!("Mandatory parameter '{p}' {MANDATORY}")
}

// ---------------------------------------------------------------------------------------------
// Validation (§3)

#[test]
fn mandatory_parameters_1102() {
    // binance-usdm-futures.md §1 (mandatory extras per type), §3 -1102
    let mut x = ex(flats(3, "60000"));
    let mut o = limit(Side::Buy, "0.01", "59000");
    o.time_in_force = None;
    rejected(&mut x, -1102, &mandatory("timeInForce"), |x| {
        x.new_order(&o)
    });
    let mut o = limit(Side::Buy, "0.01", "59000");
    o.price = None;
    rejected(&mut x, -1102, &mandatory("price"), |x| x.new_order(&o));
    let mut o = market(Side::Buy, "0.01");
    o.quantity = None;
    rejected(&mut x, -1102, &mandatory("quantity"), |x| x.new_order(&o));
    let mut a = algo(Side::Sell, OrderType::StopMarket, "59000", "0.01");
    a.trigger_price = None;
    rejected(&mut x, -1102, &mandatory("triggerPrice"), |x| {
        x.new_algo_order(&a)
    });
    let a = algo(Side::Sell, OrderType::Stop, "59000", "0.01");
    rejected(&mut x, -1102, &mandatory("price"), |x| x.new_algo_order(&a));
    let mut a = trailing(Side::Sell, "1", None, "0.01");
    a.callback_rate = None;
    rejected(&mut x, -1102, &mandatory("callbackRate"), |x| {
        x.new_algo_order(&a)
    });
    // the legacy endpoint names it stopPrice
    let mut x = ex_with(legacy(), flats(3, "60000"));
    let o = NewOrder {
        quantity: Some(d("0.01")),
        ..NewOrder::new(SYM, Side::Sell, OrderType::StopMarket)
    };
    rejected(&mut x, -1102, &mandatory("stopPrice"), |x| x.new_order(&o));
}

#[test]
fn reduce_only_sent_in_hedge_mode_1106_even_false() {
    // binance-usdm-futures.md §2.1: in hedge mode reduceOnly must not be sent at all, not even "false"
    let msg = "Parameter 'reduceonly' sent when not required.";
    let mut x = ex_with(hedge(), flats(3, "60000"));
    for v in [true, false] {
        let mut o = ps(market(Side::Buy, "0.01"), PositionSide::Long);
        o.reduce_only = Some(v);
        rejected(&mut x, -1106, msg, |x| x.new_order(&o));
        let mut a = algo(Side::Sell, OrderType::StopMarket, "59000", "0.01");
        a.position_side = Some(PositionSide::Long);
        a.reduce_only = Some(v);
        rejected(&mut x, -1106, msg, |x| x.new_algo_order(&a));
    }
    // §1: closePosition cannot be combined with reduceOnly (one-way)
    let mut x = ex(flats(3, "60000"));
    let mut a = close_leg(Side::Sell, OrderType::StopMarket, "59000", TimeInForce::Gtc);
    a.reduce_only = Some(true);
    rejected(&mut x, -1106, msg, |x| x.new_algo_order(&a));
}

#[test]
fn price_on_market_1106() {
    // binance-usdm-futures.md §1: MARKET with price → -1106 'price'
    let mut x = ex(flats(3, "60000"));
    let mut o = market(Side::Buy, "0.01");
    o.price = Some(d("60000"));
    rejected(
        &mut x,
        -1106,
        "Parameter 'price' sent when not required.",
        |x| x.new_order(&o),
    );
}

#[test]
fn precision_1111() {
    // binance-usdm-futures.md §3 -1111: more decimals than quantityPrecision (3) / pricePrecision (2)
    let msg = "Precision is over the maximum defined for this asset.";
    let mut x = ex(flats(3, "60000"));
    rejected(&mut x, -1111, msg, |x| {
        x.new_order(&market(Side::Buy, "0.0015"))
    });
    rejected(&mut x, -1111, msg, |x| {
        x.new_order(&limit(Side::Buy, "0.01", "59000.055"))
    });
    rejected(&mut x, -1111, msg, |x| {
        x.new_algo_order(&algo(
            Side::Sell,
            OrderType::StopMarket,
            "59000.055",
            "0.01",
        ))
    });
}

#[test]
fn off_tick_4014() {
    // binance-usdm-futures.md §3 -4014: decimals OK (pricePrecision 2) but off the 0.10 tick
    let msg = "Price not increased by tick size.";
    let mut x = ex(flats(3, "60000"));
    rejected(&mut x, -4014, msg, |x| {
        x.new_order(&limit(Side::Buy, "0.01", "59000.05"))
    });
    rejected(&mut x, -4014, msg, |x| {
        x.new_algo_order(&algo(Side::Sell, OrderType::StopMarket, "59000.05", "0.01"))
    });
}

#[test]
fn off_step_4023_and_qty_not_positive_4003() {
    // binance-usdm-futures.md §3 -4023 (off the LOT_SIZE step), -4003 (qty ≤ 0), §4 LOT_SIZE
    let s = SymbolSpec {
        step_size: d("0.005"),
        min_qty: d("0.005"),
        ..spec()
    };
    let mut x = MockExchange::new(cfg(), s, flats(3, "60000"), MIN);
    rejected(&mut x, -4023, "Qty not increased by step size.", |x| {
        x.new_order(&market(Side::Buy, "0.012"))
    });
    for q in ["0", "-0.01"] {
        rejected(&mut x, -4003, "Quantity less than zero.", |x| {
            x.new_order(&market(Side::Buy, q))
        });
        rejected(&mut x, -4003, "Quantity less than zero.", |x| {
            x.new_algo_order(&algo(Side::Sell, OrderType::StopMarket, "59000", q))
        });
    }
}

#[test]
fn bad_symbol_1121() {
    // binance-usdm-futures.md §3 -1121
    let msg = "Invalid symbol.";
    let mut x = ex(flats(3, "60000"));
    let mut o = market(Side::Buy, "0.01");
    o.symbol = "ETHUSDT".into();
    rejected(&mut x, -1121, msg, |x| x.new_order(&o));
    let mut a = algo(Side::Sell, OrderType::StopMarket, "59000", "0.01");
    a.symbol = "ETHUSDT".into();
    rejected(&mut x, -1121, msg, |x| x.new_algo_order(&a));
    rejected(&mut x, -1121, msg, |x| x.cancel_order("ETHUSDT", &oid(0)));
    rejected(&mut x, -1121, msg, |x| x.query_order("ETHUSDT", &oid(0)));
    rejected(&mut x, -1121, msg, |x| {
        x.cancel_algo_order("ETHUSDT", &aid(0))
    });
    rejected(&mut x, -1121, msg, |x| x.open_orders("ETHUSDT"));
    rejected(&mut x, -1121, msg, |x| x.position_risk("ETHUSDT"));
}

#[test]
fn cancel_unknown_or_finished_2011() {
    // binance-usdm-futures.md §3 -2011: unknown, FILLED, CANCELED, or an algoId sent to /fapi/v1/order
    let msg = "Unknown order sent.";
    let mut x = ex(flats(3, "60000"));
    rejected(&mut x, -2011, msg, |x| x.cancel_order(SYM, &oid(99)));
    let filled = new_order(&mut x, market(Side::Buy, "0.01"));
    assert_eq!(
        x.query_order(SYM, &OrderRef::Id(filled.order_id.0))
            .unwrap()
            .status,
        OrderStatus::Filled
    );
    rejected(&mut x, -2011, msg, |x| {
        x.cancel_order(SYM, &OrderRef::Id(filled.order_id.0))
    });
    let rest = new_order(&mut x, limit(Side::Buy, "0.01", "59000"));
    let c = x.cancel_order(SYM, &OrderRef::Id(rest.order_id.0)).unwrap();
    assert_eq!(c.status, OrderStatus::Canceled);
    rejected(&mut x, -2011, msg, |x| {
        x.cancel_order(SYM, &OrderRef::Id(rest.order_id.0))
    });
    rejected(&mut x, -2011, msg, |x| {
        x.cancel_order(SYM, &OrderRef::Client("nope".into()))
    });
    // §0: an algoId sent to /fapi/v1/order is unknown there
    let a = new_algo(
        &mut x,
        algo_ro(Side::Sell, OrderType::StopMarket, "59000", "0.01"),
    );
    assert_ne!(a.algo_id.0, filled.order_id.0);
    rejected(&mut x, -2011, msg, |x| {
        x.cancel_order(SYM, &OrderRef::Id(a.algo_id.0))
    });
    assert_eq!(x.open_algo_orders(SYM).unwrap().len(), 1);
    // and an unknown algoId on the algo endpoint
    rejected(&mut x, -2011, msg, |x| x.cancel_algo_order(SYM, &aid(99)));
}

#[test]
fn query_unknown_2013() {
    // binance-usdm-futures.md §3 -2013, §0: querying an algoId through /fapi/v1/order
    let msg = "Order does not exist.";
    let mut x = ex(flats(3, "60000"));
    rejected(&mut x, -2013, msg, |x| x.query_order(SYM, &oid(0)));
    let a = new_algo(
        &mut x,
        algo(Side::Sell, OrderType::StopMarket, "59000", "0.01"),
    );
    rejected(&mut x, -2013, msg, |x| {
        x.query_order(SYM, &OrderRef::Id(a.algo_id.0))
    });
    rejected(&mut x, -2013, msg, |x| x.query_algo_order(SYM, &aid(7)));
    assert_eq!(
        x.query_algo_order(SYM, &AlgoRef::Id(a.algo_id.0)).unwrap(),
        a
    );
}

#[test]
fn margin_2019() {
    // binance-usdm-futures.md §5: initial margin = notional / leverage; 10 000 USDT × 10 < 120 000
    let mut x = ex(flats(3, "60000"));
    let msg = "Margin is insufficient.";
    rejected(&mut x, -2019, msg, |x| x.new_order(&market(Side::Buy, "2")));
    rejected(&mut x, -2019, msg, |x| {
        x.new_order(&limit(Side::Sell, "2", "61000"))
    });
    // resting opening limits use margin too
    new_order(&mut x, limit(Side::Buy, "1.5", "59000")); // 8 850 of 10 000
    rejected(&mut x, -2019, msg, |x| {
        x.new_order(&market(Side::Buy, "0.3"))
    });
}

#[test]
fn would_immediately_trigger_2021_each_type_and_side() {
    // binance-usdm-futures.md §1 trigger conditions; equality counts as "would trigger" [INF]
    let msg = "Order would immediately trigger.";
    use OrderType::*;
    // (type, side, trigger that fires now, trigger that rests): the price is 60000
    let table = [
        (StopMarket, Side::Sell, ["60000", "60000.1"], "59999.9"),
        (StopMarket, Side::Buy, ["60000", "59999.9"], "60000.1"),
        (
            TakeProfitMarket,
            Side::Sell,
            ["60000", "59999.9"],
            "60000.1",
        ),
        (TakeProfitMarket, Side::Buy, ["60000", "60000.1"], "59999.9"),
        (Stop, Side::Sell, ["60000", "60000.1"], "59999.9"),
        (Stop, Side::Buy, ["60000", "59999.9"], "60000.1"),
        (TakeProfit, Side::Sell, ["60000", "59999.9"], "60000.1"),
        (TakeProfit, Side::Buy, ["60000", "60000.1"], "59999.9"),
    ];
    let mut x = ex(flats(3, "60000"));
    for (t, side, fire, rest) in table {
        for trig in fire {
            let mut a = algo(side, t, trig, "0.01");
            if matches!(t, Stop | TakeProfit) {
                a.price = Some(d(trig));
            }
            rejected(&mut x, -2021, msg, |x| x.new_algo_order(&a));
        }
        let mut a = algo(side, t, rest, "0.01");
        if matches!(t, Stop | TakeProfit) {
            a.price = Some(d(rest));
        }
        let info = new_algo(&mut x, a);
        x.cancel_algo_order(SYM, &AlgoRef::Id(info.algo_id.0))
            .unwrap();
    }
    // trailing: SELL needs activatePrice > latest, BUY needs < latest
    rejected(&mut x, -2021, msg, |x| {
        x.new_algo_order(&trailing(Side::Sell, "1", Some("60000"), "0.01"))
    });
    rejected(&mut x, -2021, msg, |x| {
        x.new_algo_order(&trailing(Side::Buy, "1", Some("60000"), "0.01"))
    });
    // the legacy endpoint applies the same rule to stopPrice
    let mut x = ex_with(legacy(), flats(3, "60000"));
    let o = NewOrder {
        quantity: Some(d("0.01")),
        stop_price: Some(d("60000")),
        ..NewOrder::new(SYM, Side::Sell, StopMarket)
    };
    rejected(&mut x, -2021, msg, |x| x.new_order(&o));
}

#[test]
fn reduce_only_rejected_2022_one_way() {
    // binance-usdm-futures.md §2.2: no position; same direction; resting reduce-only qty > position
    let msg = "ReduceOnly Order is rejected.";
    let mut x = ex(flats(3, "60000"));
    rejected(&mut x, -2022, msg, |x| {
        x.new_order(&ro(market(Side::Sell, "0.01")))
    });
    rejected(&mut x, -2022, msg, |x| {
        x.new_order(&ro(limit(Side::Sell, "0.01", "61000")))
    });
    new_order(&mut x, market(Side::Buy, "0.01"));
    rejected(&mut x, -2022, msg, |x| {
        x.new_order(&ro(market(Side::Buy, "0.01")))
    });
    new_order(&mut x, ro(limit(Side::Sell, "0.01", "61000")));
    rejected(&mut x, -2022, msg, |x| {
        x.new_order(&ro(limit(Side::Sell, "0.01", "62000")))
    });
}

#[test]
fn hedge_close_larger_than_leg_2022() {
    // binance-usdm-futures.md §2.3 (ccxt#8304): sell 2 of a 4 long twice, then again → -2022
    let msg = "ReduceOnly Order is rejected.";
    let mut x = ex_with(hedge(), flats(3, "60000"));
    rejected(&mut x, -2022, msg, |x| {
        x.new_order(&ps(market(Side::Sell, "0.002"), PositionSide::Long))
    });
    new_order(&mut x, ps(market(Side::Buy, "0.004"), PositionSide::Long));
    rejected(&mut x, -2022, msg, |x| {
        x.new_order(&ps(market(Side::Sell, "0.005"), PositionSide::Long))
    });
    new_order(&mut x, ps(market(Side::Sell, "0.002"), PositionSide::Long));
    new_order(&mut x, ps(market(Side::Sell, "0.002"), PositionSide::Long));
    assert_eq!(x.position_amt(PositionSide::Long), Decimal::ZERO);
    assert_eq!(x.position_amt(PositionSide::Short), Decimal::ZERO);
    rejected(&mut x, -2022, msg, |x| {
        x.new_order(&ps(market(Side::Sell, "0.002"), PositionSide::Long))
    });
}

#[test]
fn position_side_mismatch_4061_both_modes() {
    // binance-usdm-futures.md §2.1: LONG/SHORT in one-way, omitted/BOTH in hedge → -4061
    let msg = "Order's position side does not match user's setting.";
    let mut x = ex(flats(3, "60000"));
    for p in [PositionSide::Long, PositionSide::Short] {
        rejected(&mut x, -4061, msg, |x| {
            x.new_order(&ps(market(Side::Buy, "0.01"), p))
        });
        let mut a = algo(Side::Sell, OrderType::StopMarket, "59000", "0.01");
        a.position_side = Some(p);
        rejected(&mut x, -4061, msg, |x| x.new_algo_order(&a));
    }
    let mut x = ex_with(hedge(), flats(3, "60000"));
    for p in [None, Some(PositionSide::Both)] {
        let mut o = market(Side::Buy, "0.01");
        o.position_side = p;
        rejected(&mut x, -4061, msg, |x| x.new_order(&o));
        let mut a = algo(Side::Sell, OrderType::StopMarket, "59000", "0.01");
        a.position_side = p;
        rejected(&mut x, -4061, msg, |x| x.new_algo_order(&a));
    }
}

#[test]
fn duplicate_client_id_4116() {
    // binance-usdm-futures.md §3 -4116 (same regex and rule for clientAlgoId, §0)
    let msg = "clientOrderId is duplicated";
    let mut x = ex(flats(3, "60000"));
    let mut o = limit(Side::Buy, "0.01", "59000");
    o.client_order_id = Some("entry-1".into());
    let first = new_order(&mut x, o.clone());
    rejected(&mut x, -4116, msg, |x| x.new_order(&o));
    let mut a = algo(Side::Sell, OrderType::StopMarket, "59000", "0.01");
    a.client_algo_id = Some("sl-1".into());
    let sl = new_algo(&mut x, a.clone());
    rejected(&mut x, -4116, msg, |x| x.new_algo_order(&a));
    // free again once the first one is finished
    x.cancel_order(SYM, &OrderRef::Id(first.order_id.0))
        .unwrap();
    x.cancel_algo_order(SYM, &AlgoRef::Id(sl.algo_id.0))
        .unwrap();
    new_order(&mut x, o);
    new_algo(&mut x, a);
}

#[test]
fn conditional_on_order_endpoint_4120() {
    // binance-usdm-futures.md §0: since 2025-12-09 /fapi/v1/order refuses conditional types
    let msg = "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.";
    let mut x = ex(flats(3, "60000"));
    for t in [
        OrderType::Stop,
        OrderType::StopMarket,
        OrderType::TakeProfit,
        OrderType::TakeProfitMarket,
        OrderType::TrailingStopMarket,
    ] {
        let o = NewOrder {
            quantity: Some(d("0.01")),
            price: Some(d("59000")),
            stop_price: Some(d("59000")),
            ..NewOrder::new(SYM, Side::Sell, t)
        };
        rejected(&mut x, -4120, msg, |x| x.new_order(&o));
    }
}

#[test]
fn close_position_with_quantity_4137() {
    // binance-usdm-futures.md §1 closePosition
    let mut x = ex(flats(3, "60000"));
    let mut a = close_leg(Side::Sell, OrderType::StopMarket, "59000", TimeInForce::Gtc);
    a.quantity = Some(d("0.01"));
    rejected(
        &mut x,
        -4137,
        "Quantity must be zero with closePosition equals true",
        |x| x.new_algo_order(&a),
    );
}

#[test]
fn min_notional_4164_and_reduce_only_exemption() {
    // binance-usdm-futures.md §2.2, §3 -4164, §4 MIN_NOTIONAL (BTCUSDT 50): 0.001 × 30 000 = 30
    let msg = "Order's notional must be no smaller than 50 (unless you choose reduce only)";
    let mut x = ex(flats(3, "30000"));
    rejected(&mut x, -4164, msg, |x| {
        x.new_order(&market(Side::Buy, "0.001"))
    });
    rejected(&mut x, -4164, msg, |x| {
        x.new_order(&limit(Side::Buy, "0.001", "29000"))
    });
    rejected(&mut x, -4164, msg, |x| {
        x.new_algo_order(&algo(Side::Sell, OrderType::StopMarket, "29000", "0.001"))
    });
    new_order(&mut x, market(Side::Buy, "0.01"));
    // reduce-only exits are exempt
    new_algo(
        &mut x,
        algo_ro(Side::Sell, OrderType::StopMarket, "29000", "0.001"),
    );
    let o = new_order(&mut x, ro(market(Side::Sell, "0.001")));
    assert_eq!(
        x.query_order(SYM, &OrderRef::Id(o.order_id.0))
            .unwrap()
            .status,
        OrderStatus::Filled
    );
    assert_eq!(amt(&x), d("0.009"));
}

#[test]
fn fok_5021_and_gtx_5022_leave_no_record() {
    // binance-usdm-futures.md §1 timeInForce: FOK/GTX rejected synchronously, not recorded
    let mut x = ex(flats(3, "60000"));
    let mut fok = limit(Side::Buy, "0.01", "59000");
    fok.time_in_force = Some(TimeInForce::Fok);
    rejected(&mut x, -5021, "Due to the order could not be filled immediately, the FOK order has been rejected. The order will not be recorded in the order history", |x| x.new_order(&fok));
    let mut gtx = limit(Side::Buy, "0.01", "60000");
    gtx.time_in_force = Some(TimeInForce::Gtx);
    rejected(&mut x, -5022, "Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history", |x| x.new_order(&gtx));
    // nothing recorded: the next orderId is the first one
    gtx.price = Some(d("59000"));
    let g = new_order(&mut x, gtx);
    assert_eq!(g.order_id.0, ORDER_ID_BASE);
    assert_eq!(g.status, OrderStatus::New);
    fok.price = Some(d("60000"));
    let mut r = fok;
    r.resp_type = Some(ocosim::api::RespType::Result);
    assert_eq!(new_order(&mut x, r).status, OrderStatus::Filled);
}

// ---------------------------------------------------------------------------------------------
// Algo model (§0, §2.4, §2.5, §6)

/// Bars: flat 60000, then a bar that falls to 59000 (SL at 59500 hit), then flat.
fn sl_bars() -> Vec<BarTicks> {
    vec![
        flat(0, "60000"),
        bar(1, "60000", "60100", "59000", "59200"),
        flat(2, "59200"),
    ]
}

#[test]
fn algo_lifecycle_new_triggering_triggered_finished() {
    // binance-usdm-futures.md §0 identity, §6 algo status and event order
    let mut x = ex(sl_bars());
    let entry = new_order(&mut x, market(Side::Buy, "0.01"));
    drain(&mut x);
    let v0 = x.version();
    let sl = new_algo(
        &mut x,
        algo_ro(Side::Sell, OrderType::StopMarket, "59500", "0.01"),
    );
    assert_eq!(sl.algo_status, AlgoStatus::New);
    assert_ne!(sl.algo_id.0, entry.order_id.0);
    assert_eq!(sl.actual_order_id, None);
    assert_eq!(tags(&drain(&mut x)), ["A0 NEW"]);
    assert!(x.version() > v0);
    assert_eq!(
        x.open_orders(SYM).unwrap(),
        vec![],
        "algo orders are not in openOrders"
    );

    let evs = run_to(&mut x, T0 + 3 * MIN);
    assert_eq!(
        tags(&evs),
        [
            "A0 TRIGGERING",
            "A0 TRIGGERED ai=O1",
            "O1 NEW/NEW MARKET",
            "O1 TRADE/FILLED MARKET",
            "ACC ORDER",
            "A0 FINISHED ai=O1",
        ]
    );
    // all at the crossing time, inside bar 1
    let t = evs[0].0;
    assert!(evs.iter().all(|(ti, _)| *ti == t));
    assert!(t.0 > T0 + MIN && t.0 < T0 + 2 * MIN);
    // the child: its own orderId, original type, the algo link
    let Event::OrderTradeUpdate(child) = &evs[3].1 else {
        panic!()
    };
    assert_eq!(child.orig_type, OrderType::StopMarket);
    assert_eq!(child.from_algo, Some(sl.algo_id));
    assert_eq!(child.last_price, d("59500"));
    let q = x.query_algo_order(SYM, &AlgoRef::Id(sl.algo_id.0)).unwrap();
    assert_eq!(q.algo_status, AlgoStatus::Finished);
    assert_eq!(q.actual_order_id, Some(OrderId(ORDER_ID_BASE + 1)));
    assert_eq!(q.actual_price, d("59500"));
    assert_eq!(q.trigger_time, t);
    let c = x.query_order(SYM, &oid(1)).unwrap();
    assert_eq!(
        (c.status, c.order_type, c.orig_type),
        (
            OrderStatus::Filled,
            OrderType::Market,
            OrderType::StopMarket
        )
    );
    assert_eq!(amt(&x), Decimal::ZERO);
    assert_eq!(x.open_algo_orders(SYM).unwrap(), vec![]);
}

#[test]
fn algo_cancel() {
    // binance-usdm-futures.md §6: CANCELED by the user; a second cancel is unknown (-2011)
    let mut x = ex(sl_bars());
    new_order(&mut x, market(Side::Buy, "0.01"));
    let sl = new_algo(
        &mut x,
        algo_ro(Side::Sell, OrderType::StopMarket, "59500", "0.01"),
    );
    drain(&mut x);
    let v = x.version();
    let c = x
        .cancel_algo_order(SYM, &AlgoRef::Client(sl.client_algo_id.clone()))
        .unwrap();
    assert_eq!(c.algo_status, AlgoStatus::Canceled);
    assert!(x.version() > v);
    assert_eq!(tags(&drain(&mut x)), ["A0 CANCELED"]);
    assert_eq!(x.open_algo_orders(SYM).unwrap(), vec![]);
    rejected(&mut x, -2011, "Unknown order sent.", |x| {
        x.cancel_algo_order(SYM, &AlgoRef::Id(sl.algo_id.0))
    });
    // the bar that would have hit it changes nothing
    assert_eq!(tags(&run_to(&mut x, T0 + 3 * MIN)), Vec::<String>::new());
    assert_eq!(amt(&x), d("0.01"));
}

#[test]
fn reduce_only_or_close_position_leg_without_position_is_rejected_at_trigger() {
    // binance-usdm-futures.md §2.4: fired with nothing to reduce: REJECTED "Reduce Only reject",
    // no child order, no fill
    for leg in [
        algo_ro(Side::Sell, OrderType::StopMarket, "59500", "0.01"),
        close_leg(Side::Sell, OrderType::StopMarket, "59500", TimeInForce::Gtc),
    ] {
        let mut x = ex(sl_bars());
        let a = new_algo(&mut x, leg);
        drain(&mut x);
        let w = x.wallet();
        let evs = run_to(&mut x, T0 + 3 * MIN);
        assert_eq!(
            tags(&evs),
            ["A0 TRIGGERING", "A0 REJECTED rm=Reduce Only reject"]
        );
        let q = x.query_algo_order(SYM, &AlgoRef::Id(a.algo_id.0)).unwrap();
        assert_eq!(
            (q.algo_status, q.actual_order_id),
            (AlgoStatus::Rejected, None)
        );
        assert_eq!(x.wallet(), w);
        assert_eq!(amt(&x), Decimal::ZERO);
        // no child: orderId 0 was never used
        assert!(x.query_order(SYM, &oid(0)).is_err());
    }
}

#[test]
fn non_reduce_only_stop_without_position_opens_one() {
    // binance-usdm-futures.md §2.4: a non-reduce-only orphan stop fires and opens a position
    let mut x = ex(sl_bars());
    new_algo(
        &mut x,
        algo(Side::Sell, OrderType::StopMarket, "59500", "0.01"),
    );
    let evs = run_to(&mut x, T0 + 3 * MIN);
    assert_eq!(trades(&evs).len(), 1);
    assert_eq!(amt(&x), d("-0.01"));
    let p = &x.position_risk(SYM).unwrap()[0];
    assert_eq!(p.entry_price, d("59500"));
}

/// Long 0.01 at 60000 with an SL at 59500 and a TP at 60500 (both closePosition, `tif`);
/// bar 1 goes up to the TP, bar 3 down through the SL.
fn pair_run(tif: TimeInForce) -> (MockExchange, Vec<(TimeMs, Event)>) {
    let bars = vec![
        flat(0, "60000"),
        bar(1, "60000", "60600", "59900", "60400"),
        flat(2, "60000"),
        bar(3, "60000", "60000", "59000", "59200"),
    ];
    let mut x = ex(bars);
    new_order(&mut x, market(Side::Buy, "0.01"));
    new_algo(
        &mut x,
        close_leg(Side::Sell, OrderType::StopMarket, "59500", tif),
    );
    new_algo(
        &mut x,
        close_leg(Side::Sell, OrderType::TakeProfitMarket, "60500", tif),
    );
    drain(&mut x);
    let evs = run_to(&mut x, T0 + 2 * MIN);
    (x, evs)
}

#[test]
fn gte_gtc_pair_other_leg_expires_when_position_closes() {
    // binance-usdm-futures.md §2.5: GTE_GTC legs are position-bound: the sibling is EXPIRED
    let (mut x, evs) = pair_run(TimeInForce::GteGtc);
    assert_eq!(
        tags(&evs),
        [
            "A1 TRIGGERING",
            "A1 TRIGGERED ai=O1",
            "O1 NEW/NEW MARKET",
            "O1 TRADE/FILLED MARKET",
            "ACC ORDER",
            "A0 EXPIRED",
            "A1 FINISHED ai=O1",
        ]
    );
    assert_eq!(amt(&x), Decimal::ZERO);
    assert_eq!(x.open_algo_orders(SYM).unwrap(), vec![]);
    assert_eq!(
        x.query_algo_order(SYM, &aid(0)).unwrap().algo_status,
        AlgoStatus::Expired
    );
    assert_eq!(tags(&run_to(&mut x, T0 + 4 * MIN)), Vec::<String>::new());
}

#[test]
fn plain_gtc_close_position_pair_is_not_linked() {
    // binance-usdm-futures.md §1 closePosition, §2.4: plain-GTC closePosition stops are not OCO:
    // the survivor keeps resting and later fires into nothing
    let (mut x, evs) = pair_run(TimeInForce::Gtc);
    assert_eq!(trades(&evs).len(), 1);
    assert_eq!(amt(&x), Decimal::ZERO);
    let open = x.open_algo_orders(SYM).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].algo_id.0 - ALGO_ID_BASE, open[0].algo_status),
        (0, AlgoStatus::New)
    );
    let evs = run_to(&mut x, T0 + 4 * MIN);
    assert_eq!(
        tags(&evs),
        ["A0 TRIGGERING", "A0 REJECTED rm=Reduce Only reject"]
    );
}

#[test]
fn resting_reduce_only_limit_expires_er4_when_position_closes() {
    // binance-usdm-futures.md §2.2: a resting reduce-only order that would reverse the position
    // expires with er=4; the order that closed the position is FILLED, not expired
    let mut x = ex(flats(3, "60000"));
    new_order(&mut x, market(Side::Buy, "0.01"));
    new_order(&mut x, ro(limit(Side::Sell, "0.01", "61000")));
    drain(&mut x);
    let close = new_order(&mut x, ro(market(Side::Sell, "0.01")));
    assert_eq!(close.order_id.0, ORDER_ID_BASE + 2);
    assert_eq!(
        tags(&drain(&mut x)),
        [
            "O2 NEW/NEW MARKET",
            "O2 TRADE/FILLED MARKET",
            "ACC ORDER",
            "O1 EXPIRED/EXPIRED LIMIT er=4"
        ]
    );
    assert_eq!(
        x.query_order(SYM, &oid(2)).unwrap().status,
        OrderStatus::Filled
    );
    assert_eq!(
        x.query_order(SYM, &oid(1)).unwrap().status,
        OrderStatus::Expired
    );
    assert_eq!(x.open_orders(SYM).unwrap(), vec![]);
}

#[test]
fn hedge_legs_close_only_their_own_side() {
    // binance-usdm-futures.md §2.1 hedge legs, §2.3 SELL+LONG closes the long and never flips,
    // §2.4 a closing leg fired with nothing to close is rejected
    let mut x = ex_with(hedge(), sl_bars());
    new_order(&mut x, ps(market(Side::Buy, "0.01"), PositionSide::Long));
    new_order(&mut x, ps(market(Side::Sell, "0.01"), PositionSide::Short));
    let mut sl = algo(Side::Sell, OrderType::StopMarket, "59500", "0.01");
    sl.position_side = Some(PositionSide::Long);
    new_algo(&mut x, sl.clone());
    new_algo(&mut x, sl);
    drain(&mut x);
    let evs = run_to(&mut x, T0 + 3 * MIN);
    assert_eq!(trades(&evs).len(), 1);
    assert_eq!(x.position_amt(PositionSide::Long), Decimal::ZERO);
    assert_eq!(x.position_amt(PositionSide::Short), d("-0.01"));
    let q = x.query_algo_order(SYM, &aid(1)).unwrap();
    assert_eq!(q.algo_status, AlgoStatus::Rejected);
    assert!(tags(&evs).contains(&"A1 REJECTED rm=Reduce Only reject".to_string()));
    // §1 closePosition: in hedge mode only SELL+LONG or BUY+SHORT
    let mut a = close_leg(Side::Buy, OrderType::StopMarket, "61000", TimeInForce::Gtc);
    a.position_side = Some(PositionSide::Long);
    rejected(
        &mut x,
        -1128,
        "Combination of optional parameters invalid.",
        |x| x.new_algo_order(&a),
    );
}

#[test]
fn hedge_closing_limit_expires_when_its_leg_closes() {
    // binance-usdm-futures.md §2.3: hedge closes are implicitly reduce-only, so a resting
    // SELL+LONG limit expires (er=4, §2.2) when the long is closed by another order
    let mut x = ex_with(
        hedge(),
        vec![flat(0, "60000"), flat(1, "60000"), flat(2, "61500")],
    );
    new_order(&mut x, ps(market(Side::Buy, "0.01"), PositionSide::Long));
    new_order(
        &mut x,
        ps(limit(Side::Sell, "0.01", "61000"), PositionSide::Long),
    );
    new_order(&mut x, ps(market(Side::Sell, "0.01"), PositionSide::Long));
    let evs = drain(&mut x);
    assert_eq!(
        tags(&evs)[tags(&evs).len() - 1],
        "O1 EXPIRED/EXPIRED LIMIT er=4"
    );
    assert_eq!(x.open_orders(SYM).unwrap(), vec![]);
    // and nothing is left to fire later
    assert!(trades(&run_to(&mut x, T0 + 3 * MIN)).is_empty());
}

#[test]
fn ioc_remainder_expires_er2() {
    // binance-usdm-futures.md §1 timeInForce: IOC fills what it can, the remainder EXPIRED er=2
    let mut x = ex(flats(3, "60000"));
    let mut o = limit(Side::Buy, "0.01", "59000");
    o.time_in_force = Some(TimeInForce::Ioc);
    new_order(&mut x, o);
    assert_eq!(
        tags(&drain(&mut x)),
        ["O0 NEW/NEW LIMIT", "O0 EXPIRED/EXPIRED LIMIT er=2"]
    );
    assert_eq!(
        x.query_order(SYM, &oid(0)).unwrap().status,
        OrderStatus::Expired
    );
}

#[test]
fn triggered_limit_child_rests_then_cancelled_finishes_the_algo() {
    // binance-usdm-futures.md §6: FINISHED = child filled or cancelled
    let mut x = ex(sl_bars());
    new_order(&mut x, market(Side::Buy, "0.01"));
    // STOP SELL: trigger 59500, limit 59600 (above the path after the trigger): the child rests
    let mut a = algo_ro(Side::Sell, OrderType::Stop, "59500", "0.01");
    a.price = Some(d("59600"));
    new_algo(&mut x, a);
    drain(&mut x);
    let evs = run_to(&mut x, T0 + 3 * MIN);
    assert_eq!(
        tags(&evs),
        ["A0 TRIGGERING", "A0 TRIGGERED ai=O1", "O1 NEW/NEW LIMIT"]
    );
    let child = x.open_orders(SYM).unwrap();
    assert_eq!(child.len(), 1);
    assert_eq!(
        (child[0].orig_type, child[0].price),
        (OrderType::Stop, d("59600"))
    );
    x.cancel_order(SYM, &oid(1)).unwrap();
    assert_eq!(
        tags(&drain(&mut x)),
        ["O1 CANCELED/CANCELED LIMIT", "A0 FINISHED ai=O1"]
    );
    assert_eq!(
        x.query_algo_order(SYM, &aid(0)).unwrap().algo_status,
        AlgoStatus::Finished
    );
}

#[test]
fn legacy_model_same_order_id_after_trigger() {
    // binance-usdm-futures.md §0 (legacy_conditional_api), §6 legacy: EXPIRED er=8, then the same
    // orderId as MARKET NEW, then TRADE; the algo endpoint does not exist
    let mut x = ex_with(legacy(), sl_bars());
    new_order(&mut x, market(Side::Buy, "0.01"));
    let o = NewOrder {
        quantity: Some(d("0.01")),
        stop_price: Some(d("59500")),
        reduce_only: Some(true),
        ..NewOrder::new(SYM, Side::Sell, OrderType::StopMarket)
    };
    let sl = new_order(&mut x, o);
    assert_eq!(
        (sl.order_id.0 - ORDER_ID_BASE, sl.status),
        (1, OrderStatus::New)
    );
    let open = x.open_orders(SYM).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].order_type, OrderType::StopMarket);
    let a = algo_ro(Side::Sell, OrderType::TakeProfitMarket, "61000", "0.01");
    rejected(
        &mut x,
        -1000,
        "Not found: /fapi/v1/algoOrder does not exist before 2025-12-09 (api = \"legacy\")",
        |x| x.new_algo_order(&a),
    );
    assert_eq!(x.new_algo_order(&a).unwrap_err().http, 404);
    let evs = run_to(&mut x, T0 + 3 * MIN);
    assert_eq!(
        tags(&evs),
        [
            "O1 EXPIRED/EXPIRED STOP_MARKET er=8",
            "O1 NEW/NEW MARKET",
            "O1 TRADE/FILLED MARKET",
            "ACC ORDER",
        ]
    );
    let q = x.query_order(SYM, &OrderRef::Id(sl.order_id.0)).unwrap();
    assert_eq!(
        (q.status, q.order_type, q.orig_type),
        (
            OrderStatus::Filled,
            OrderType::Market,
            OrderType::StopMarket
        )
    );
    assert_eq!(q.avg_price, d("59500"));
    assert_eq!(amt(&x), Decimal::ZERO);
}

#[test]
fn legacy_buy_trailing_stop_does_not_fire_at_once() {
    // binance-usdm-futures.md §1: BUY trailing fires when P ≥ lowest × (1 + callbackRate)
    let mut x = ex_with(legacy(), flats(5, "60000"));
    new_order(&mut x, market(Side::Sell, "0.01"));
    run_to(&mut x, T0 + MIN + 10_000); // placed mid-bar
    let o = NewOrder {
        quantity: Some(d("0.01")),
        callback_rate: Some(d("1")),
        reduce_only: Some(true),
        ..NewOrder::new(SYM, Side::Buy, OrderType::TrailingStopMarket)
    };
    new_order(&mut x, o);
    drain(&mut x);
    assert_eq!(tags(&run_to(&mut x, T0 + 5 * MIN)), Vec::<String>::new());
    assert_eq!(amt(&x), d("-0.01"));
}

// ---------------------------------------------------------------------------------------------
// Matching (§1 triggers, §8 modelling notes)

/// A long 0.01 at 60000 with GTE_GTC closePosition SL 59500 / TP 60500 and one bar that reaches
/// both; returns (price of the one fill, ambiguous bars).
fn both_legs_in_one_bar(policy: IntrabarPolicy, high: &str, low: &str) -> (Decimal, u64) {
    let bars = vec![
        flat(0, "60000"),
        bar(1, "60000", high, low, "60000"),
        flat(2, "60000"),
    ];
    let mut x = ex_with(
        ExchangeConfig {
            intrabar: policy,
            ..cfg()
        },
        bars,
    );
    new_order(&mut x, market(Side::Buy, "0.01"));
    new_algo(
        &mut x,
        close_leg(
            Side::Sell,
            OrderType::StopMarket,
            "59500",
            TimeInForce::GteGtc,
        ),
    );
    new_algo(
        &mut x,
        close_leg(
            Side::Sell,
            OrderType::TakeProfitMarket,
            "60500",
            TimeInForce::GteGtc,
        ),
    );
    drain(&mut x);
    let evs = run_to(&mut x, T0 + 3 * MIN);
    let t = trades(&evs);
    assert_eq!(t.len(), 1, "exactly one leg fills: {:?}", tags(&evs));
    assert_eq!(amt(&x), Decimal::ZERO);
    assert_eq!(x.open_algo_orders(SYM).unwrap(), vec![]);
    (t[0].1, x.stats().ambiguous_bars)
}

#[test]
fn intrabar_policy_decides_which_leg_fills() {
    // binance-usdm-futures.md §8: deterministic, configurable path; exactly one leg fills
    use IntrabarPolicy::*;
    let (sl, tp) = (d("59500"), d("60500"));
    // low nearer the open (600 vs 700): ohlc goes low first
    let low_near = ("60700", "59400");
    // high nearer the open (600 vs 700): ohlc goes high first
    let high_near = ("60600", "59300");
    let table = [
        (Ohlc, low_near, sl),
        (Ohlc, high_near, tp),
        (Pessimistic, low_near, sl),
        (Pessimistic, high_near, sl),
        (Optimistic, low_near, tp),
        (Optimistic, high_near, tp),
        (Refine, low_near, sl), // no sub-bars: ohlc
    ];
    for (policy, (h, l), want) in table {
        assert_eq!(
            both_legs_in_one_bar(policy, h, l),
            (want, 1),
            "{policy:?} h={h} l={l}"
        );
    }
}

#[test]
fn refine_walks_1m_sub_bars_inside_5m_bars() {
    // binance-usdm-futures.md §8: the lower timeframe decides the order inside the bar
    let m5 = 5 * MIN;
    let bars = vec![
        bar_at(T0, "60000", "60000", "60000", "60000"),
        // ohlc on the 5m bar alone would go low first (600 < 700) and hit the SL
        bar_at(T0 + m5, "60000", "60700", "59400", "60000"),
        bar_at(T0 + 2 * m5, "60000", "60000", "60000", "60000"),
    ];
    let subs = vec![
        bar_at(T0 + m5, "60000", "60700", "60000", "60600"), // up first: the TP
        bar_at(T0 + m5 + MIN, "60600", "60600", "60000", "60000"),
        bar_at(T0 + m5 + 2 * MIN, "60000", "60000", "59400", "59500"),
        bar_at(T0 + m5 + 3 * MIN, "59500", "60000", "59500", "60000"),
        bar_at(T0 + m5 + 4 * MIN, "60000", "60000", "60000", "60000"),
    ];
    for (with_subs, want) in [(true, "60500"), (false, "59500")] {
        let c = ExchangeConfig {
            intrabar: IntrabarPolicy::Refine,
            ..cfg()
        };
        let mut x = MockExchange::new(c, spec(), bars.clone(), m5);
        if with_subs {
            x = x.with_sub_bars(subs.clone(), MIN);
        }
        new_order(&mut x, market(Side::Buy, "0.01"));
        new_algo(
            &mut x,
            close_leg(
                Side::Sell,
                OrderType::StopMarket,
                "59500",
                TimeInForce::GteGtc,
            ),
        );
        new_algo(
            &mut x,
            close_leg(
                Side::Sell,
                OrderType::TakeProfitMarket,
                "60500",
                TimeInForce::GteGtc,
            ),
        );
        drain(&mut x);
        let evs = run_to(&mut x, T0 + 3 * m5);
        let t = trades(&evs);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].1, d(want), "with_subs={with_subs}");
        let when = evs
            .iter()
            .find(|(_, e)| matches!(e, Event::OrderTradeUpdate(_)))
            .unwrap()
            .0;
        if with_subs {
            // inside the first 1m sub-bar; the sub-bars, not the policy, decided
            assert!(when.0 >= T0 + m5 && when.0 < T0 + m5 + MIN);
            assert_eq!(x.stats().ambiguous_bars, 0);
        } else {
            assert_eq!(x.stats().ambiguous_bars, 1);
        }
    }
}

#[test]
fn refine_does_not_run_past_the_requested_time() {
    // advance_to(t) is inclusive and never moves the clock past t (a sub-bar boundary included)
    let m5 = 5 * MIN;
    let bars = vec![bar_at(T0, "60000", "60000", "59000", "59000")];
    let subs = vec![
        bar_at(T0, "60000", "60000", "60000", "60000"),
        bar_at(T0 + MIN, "59000", "59000", "59000", "59000"), // gaps through the SL
        bar_at(T0 + 2 * MIN, "59000", "59000", "59000", "59000"),
    ];
    let c = ExchangeConfig {
        intrabar: IntrabarPolicy::Refine,
        ..cfg()
    };
    let mut x = MockExchange::new(c, spec(), bars, m5).with_sub_bars(subs, MIN);
    new_order(&mut x, market(Side::Buy, "0.01"));
    new_algo(
        &mut x,
        algo_ro(Side::Sell, OrderType::StopMarket, "59500", "0.01"),
    );
    drain(&mut x);
    let evs = run_to(&mut x, T0 + MIN - 1);
    assert_eq!(x.time(), TimeMs(T0 + MIN - 1));
    assert_eq!(tags(&evs), Vec::<String>::new());
    let evs = run_to(&mut x, T0 + MIN);
    assert_eq!(trades(&evs)[0].1, d("59000"));
    assert!(evs.iter().all(|(t, _)| t.0 == T0 + MIN));
}

#[test]
fn gap_through_a_stop_fills_at_the_open() {
    // binance-usdm-futures.md §8: stop fills at the trigger, or at the open if the bar gapped through
    for (o, h, l, leg, want) in [
        ("59000", "59200", "58800", OrderType::StopMarket, "59000"),
        (
            "61000",
            "61200",
            "60800",
            OrderType::TakeProfitMarket,
            "61000",
        ),
    ] {
        let bars = vec![flat(0, "60000"), bar(1, o, h, l, o)];
        let mut x = ex(bars);
        new_order(&mut x, market(Side::Buy, "0.01"));
        let trig = if leg == OrderType::StopMarket {
            "59500"
        } else {
            "60500"
        };
        new_algo(&mut x, algo_ro(Side::Sell, leg, trig, "0.01"));
        drain(&mut x);
        let evs = run_to(&mut x, T0 + 2 * MIN);
        assert_eq!(trades(&evs)[0].1, d(want));
        assert!(
            evs.iter().all(|(t, _)| t.0 == T0 + MIN),
            "at the bar's open"
        );
    }
}

#[test]
fn high_or_low_exactly_at_the_trigger_fires() {
    // binance-usdm-futures.md §1: SELL STOP fires when P ≤ trigger, SELL TP when P ≥ trigger
    for (h, l, leg, trig) in [
        ("60500", "59900", OrderType::TakeProfitMarket, "60500"),
        ("60100", "59500", OrderType::StopMarket, "59500"),
    ] {
        let bars = vec![
            flat(0, "60000"),
            bar(1, "60000", h, l, "60000"),
            flat(2, "60000"),
        ];
        let mut x = ex(bars);
        new_order(&mut x, market(Side::Buy, "0.01"));
        new_algo(&mut x, algo_ro(Side::Sell, leg, trig, "0.01"));
        drain(&mut x);
        let t = trades(&run_to(&mut x, T0 + 3 * MIN));
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].1, d(trig));
        // and one tick short of it does not
        let h2 = (d(h)
            - if leg == OrderType::TakeProfitMarket {
                d("0.1")
            } else {
                d("0")
            })
        .to_string();
        let l2 = (d(l)
            + if leg == OrderType::StopMarket {
                d("0.1")
            } else {
                d("0")
            })
        .to_string();
        let bars = vec![flat(0, "60000"), bar(1, "60000", &h2, &l2, "60000")];
        let mut x = ex(bars);
        new_order(&mut x, market(Side::Buy, "0.01"));
        new_algo(&mut x, algo_ro(Side::Sell, leg, trig, "0.01"));
        drain(&mut x);
        assert!(trades(&run_to(&mut x, T0 + 2 * MIN)).is_empty());
    }
}

#[test]
fn market_fills_at_path_price_plus_slippage() {
    // binance-usdm-futures.md §5 (taker fills); mock: path price ± slippage ticks, adverse
    let c = ExchangeConfig {
        slippage_ticks: 3,
        ..cfg()
    };
    let mut x = ex_with(c, sl_bars());
    new_order(&mut x, market(Side::Buy, "0.01"));
    assert_eq!(trades(&drain(&mut x))[0].1, d("60000.3"));
    new_algo(
        &mut x,
        algo_ro(Side::Sell, OrderType::StopMarket, "59500", "0.01"),
    );
    assert_eq!(trades(&run_to(&mut x, T0 + 3 * MIN))[0].1, d("59499.7"));
    // a market order mid-bar fills at the path price at that moment
    let bars = vec![flat(0, "60000"), bar(1, "60000", "60300", "60000", "60300")];
    let mut x = ex_with(
        ExchangeConfig {
            slippage_ticks: 3,
            ..cfg()
        },
        bars,
    );
    run_to(&mut x, T0 + MIN + 40_000); // low (60000) at +20 s, high (60300) at +40 s
    assert_eq!(x.last_price(), d("60300"));
    new_order(&mut x, market(Side::Sell, "0.01"));
    assert_eq!(trades(&drain(&mut x))[0].1, d("60299.7"));
}

#[test]
fn limit_fill_touch_vs_through() {
    // mock limit rule: `touch` fills when the price reaches the limit, `through` only one tick
    // beyond; both fill at the limit price, as maker (§5)
    let bars = vec![
        flat(0, "60000"),
        bar(1, "60000", "60500", "59950", "60100"),
        bar(2, "60100", "60500.1", "60000", "60200"),
        flat(3, "60200"),
    ];
    for (rule, want_bar) in [(LimitFill::Touch, 1), (LimitFill::Through, 2)] {
        let mut x = ex_with(
            ExchangeConfig {
                limit_fill: rule,
                ..cfg()
            },
            bars.clone(),
        );
        new_order(&mut x, market(Side::Buy, "0.01"));
        new_order(&mut x, limit(Side::Sell, "0.01", "60500"));
        drain(&mut x);
        let evs = run_to(&mut x, T0 + 4 * MIN);
        let t = trades(&evs);
        assert_eq!(t.len(), 1, "{rule:?}");
        assert_eq!(
            (t[0].1, t[0].4),
            (d("60500"), true),
            "{rule:?}: limit price, maker"
        );
        assert_eq!(t[0].3, d("60500") * d("0.01") * d("0.0002"));
        let at = evs[0].0 .0;
        assert!(
            at >= T0 + want_bar * MIN && at < T0 + (want_bar + 1) * MIN,
            "{rule:?}"
        );
    }
    // a gap through a resting limit fills at the better open
    let bars = vec![flat(0, "60000"), flat(1, "61000")];
    let mut x = ex(bars);
    new_order(&mut x, market(Side::Buy, "0.01"));
    new_order(&mut x, limit(Side::Sell, "0.01", "60500"));
    drain(&mut x);
    assert_eq!(trades(&run_to(&mut x, T0 + 2 * MIN))[0].1, d("61000"));
}

#[test]
fn trailing_stop_follows_the_extreme() {
    // binance-usdm-futures.md §1: SELL fires when P ≤ highest × (1 − cb); BUY when P ≥ lowest × (1 + cb)
    let bars = vec![
        flat(0, "60000"),
        bar(1, "60000", "61000", "60000", "61000"),
        bar(2, "61000", "61000", "60000", "60000"),
    ];
    let mut x = ex(bars);
    new_order(&mut x, market(Side::Buy, "0.01"));
    new_algo(&mut x, trailing(Side::Sell, "1", None, "0.01"));
    drain(&mut x);
    let t = trades(&run_to(&mut x, T0 + 3 * MIN));
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].1, d("60390")); // 61000 × 0.99
                                    // BUY: lowest 59000 → fires at 59590 exactly
    let bars = vec![
        flat(0, "60000"),
        bar(1, "60000", "60000", "59000", "59000"),
        bar(2, "59000", "59590", "59000", "59590"),
    ];
    let mut x = ex(bars);
    new_order(&mut x, market(Side::Sell, "0.01"));
    new_algo(&mut x, trailing(Side::Buy, "1", None, "0.01"));
    drain(&mut x);
    let t = trades(&run_to(&mut x, T0 + 3 * MIN));
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].1, d("59590"));
}

#[test]
fn trailing_stop_waits_for_its_activation_price() {
    // binance-usdm-futures.md §1: the callback counts only after the price reached activatePrice
    let bars = vec![
        flat(0, "60000"),
        bar(1, "60000", "60500", "59800", "59800"), // −1.2 % from 60500 but not activated
        bar(2, "59800", "61000", "59800", "60000"), // activates at 61000, falls through 60390
    ];
    let mut x = ex(bars);
    new_order(&mut x, market(Side::Buy, "0.01"));
    new_algo(&mut x, trailing(Side::Sell, "1", Some("60800"), "0.01"));
    drain(&mut x);
    let evs = run_to(&mut x, T0 + 3 * MIN);
    let t = trades(&evs);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].1, d("60390"));
    assert!(evs[0].0 .0 >= T0 + 2 * MIN);
}

#[test]
fn trailing_stop_without_reduce_only_is_accepted() {
    // binance-usdm-futures.md §4 MIN_NOTIONAL: a trailing stop has no trigger price; its notional
    // is taken at the activation price, or at the latest price without one
    let mut x = ex(flats(3, "30000"));
    for act in [None, Some("30800")] {
        let a = NewAlgoOrder {
            reduce_only: None,
            ..trailing(Side::Sell, "1", act, "0.01")
        };
        assert_eq!(new_algo(&mut x, a).algo_status, AlgoStatus::New);
    }
    let a = NewAlgoOrder {
        reduce_only: None,
        ..trailing(Side::Sell, "1", None, "0.001")
    };
    let msg = "Order's notional must be no smaller than 50 (unless you choose reduce only)";
    rejected(&mut x, -4164, msg, |x| x.new_algo_order(&a));
}

#[test]
fn trailing_stop_placed_mid_bar_tracks_from_placement() {
    // binance-usdm-futures.md §1: the extreme starts at the price at placement
    let bars = vec![flat(0, "60000"), bar(1, "60000", "60000", "59000", "59000")];
    let mut x = ex(bars);
    new_order(&mut x, market(Side::Buy, "0.01"));
    run_to(&mut x, T0 + MIN + 20_000); // at the bar's high point, 60000; the low comes next
    assert_eq!(x.last_price(), d("60000"));
    new_algo(&mut x, trailing(Side::Sell, "1", None, "0.01"));
    let t = trades(&run_to(&mut x, T0 + 2 * MIN));
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].1, d("59400"));
}

#[test]
fn funding_at_its_timestamp_for_positions_open_then() {
    // binance-usdm-futures.md §5: notional at mark × rate; rate > 0 → longs pay; only positions
    // open at the funding time
    let f = [
        (T0 + 3 * MIN, d("0.0001")),
        (T0 + 6 * MIN, d("0.0001")),
        (T0 + 9 * MIN, d("-0.0002")),
    ];
    let mut x = ex(flats(12, "60000")).with_funding(f.to_vec());
    new_order(&mut x, market(Side::Buy, "0.01"));
    drain(&mut x);
    let w = x.wallet();
    let evs = run_to(&mut x, T0 + 3 * MIN);
    assert_eq!(tags(&evs), ["ACC FUNDING_FEE"]);
    assert_eq!(evs[0].0, TimeMs(T0 + 3 * MIN));
    let Event::AccountUpdate(a) = &evs[0].1 else {
        panic!()
    };
    assert_eq!(a.balance_change, d("-0.06")); // 0.01 × 60000 × 0.0001, paid by the long
    assert_eq!(x.wallet(), w - d("0.06"));
    // flat at the second funding time: nothing
    new_order(&mut x, market(Side::Sell, "0.01"));
    drain(&mut x);
    let w = x.wallet();
    assert_eq!(tags(&run_to(&mut x, T0 + 7 * MIN)), Vec::<String>::new());
    assert_eq!(x.wallet(), w);
    // short at a negative rate: shorts pay
    new_order(&mut x, market(Side::Sell, "0.01"));
    drain(&mut x);
    let evs = run_to(&mut x, T0 + 11 * MIN);
    let Event::AccountUpdate(a) = &evs[0].1 else {
        panic!()
    };
    assert_eq!(
        (evs[0].0, a.balance_change),
        (TimeMs(T0 + 9 * MIN), d("-0.12"))
    );
    // and a short receives at a positive rate
    let mut x = ex(flats(5, "60000")).with_funding(vec![(T0 + 2 * MIN, d("0.0001"))]);
    new_order(&mut x, market(Side::Sell, "0.01"));
    drain(&mut x);
    let w = x.wallet();
    run_to(&mut x, T0 + 3 * MIN);
    assert_eq!(x.wallet(), w + d("0.06"));
}

#[test]
fn next_change_time_sees_triggers_and_funding() {
    // the poll-skipping hint must not skip a bar where a trigger or funding falls
    let x = ex(flats(10, "60000")).with_funding(vec![(T0 + 5 * MIN + 7, d("0.0001"))]);
    assert_eq!(
        x.next_change_time(TimeMs(T0 + 10 * MIN)),
        TimeMs(T0 + 5 * MIN)
    );
    let mut bars = flats(10, "60000");
    bars[3] = bar(3, "60000", "60000", "59000", "60000");
    let mut x = ex(bars);
    new_algo(
        &mut x,
        algo(Side::Sell, OrderType::StopMarket, "59500", "0.01"),
    );
    assert_eq!(
        x.next_change_time(TimeMs(T0 + 10 * MIN)),
        TimeMs(T0 + 3 * MIN)
    );
    assert_eq!(
        x.next_change_time(TimeMs(T0 + 2 * MIN)),
        TimeMs(T0 + 2 * MIN)
    );
    run_to(&mut x, T0 + 10 * MIN);
}

#[test]
fn next_change_exact_is_never_after_the_first_change() {
    // Random walks of bars, a position with a stop, a take-profit and a resting limit at random
    // distances (sometimes 100x isolated, so the liquidation bound is reachable), each intrabar
    // policy, the cursor left mid-bar or between bars: walking to one ms before the bound
    // changes nothing (no event, same version), and the bound is never before the whole-bar one.
    let mut s: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rnd = move |m: i64| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % m as u64) as i64
    };
    let mut finer = 0;
    let mut checks = 0;
    for case in 0..300 {
        let n = 40;
        let mut bars = Vec::new();
        let mut p = tk("60000");
        for i in 0..n {
            let o = p + rnd(41) - 20;
            let c = o + rnd(201) - 100;
            let h = o.max(c) + rnd(120);
            let l = o.min(c) - rnd(120);
            bars.push(BarTicks {
                t: T0 + i * MIN,
                o,
                h,
                l,
                c,
            });
            p = c;
        }
        let mut c = hedge();
        c.intrabar = [
            IntrabarPolicy::Ohlc,
            IntrabarPolicy::Pessimistic,
            IntrabarPolicy::Optimistic,
        ][case % 3];
        if case % 4 == 0 {
            c.leverage = 100;
            c.margin_mode = MarginMode::Isolated;
        }
        let bars0 = bars[0].o;
        let mut x = ex_with(c, bars);
        run_to(&mut x, T0 + rnd(3 * MIN));
        let long = case % 2 == 0;
        let (side, exit, pside) = if long {
            (Side::Buy, Side::Sell, PositionSide::Long)
        } else {
            (Side::Sell, Side::Buy, PositionSide::Short)
        };
        let _ = x.new_order(&ps(market(side, "0.5"), pside));
        // prices in ticks (0.1) around the entry bar's open
        let base = bars0;
        let at = |d: i64| Decimal::new(base + d, 1).to_string();
        let sgn = if long { 1 } else { -1 };
        let mut leg = |t: OrderType, d: i64| {
            let mut o = algo(exit, t, &at(d), "0.5");
            o.position_side = Some(pside);
            let _ = x.new_algo_order(&o);
        };
        leg(OrderType::StopMarket, -sgn * (50 + rnd(400)));
        leg(OrderType::TakeProfitMarket, sgn * (50 + rnd(400)));
        if case % 5 == 0 {
            let _ = x.new_order(&ps(limit(side, "0.1", &at(-sgn * rnd(300))), pside));
        }
        drain(&mut x);
        let t1 = x.time().0 + rnd(5 * MIN);
        run_to(&mut x, t1);
        let end = TimeMs(T0 + n * MIN);
        while x.time() < end {
            let (v0, now) = (x.version(), x.time());
            let exact = x.next_change_exact(end);
            let coarse = x.next_change_time(end);
            assert!(exact >= coarse, "case {case}: {exact:?} before {coarse:?}");
            if exact > coarse {
                finer += 1;
            }
            if exact.0 - 1 > now.0 {
                checks += 1;
                let evs = run_to(&mut x, exact.0 - 1);
                assert!(
                    evs.is_empty() && x.version() == v0,
                    "case {case}: at {now:?} the bound {exact:?} passes a change: {evs:?}"
                );
            }
            // on past the bound (a change may happen there), or a little further
            let step = exact.0.max(now.0 + 1 + rnd(20_000));
            run_to(&mut x, step.min(end.0));
            drain(&mut x);
        }
    }
    assert!(
        finer > 100 && checks > 300,
        "finer {finer}, checks {checks}"
    );
}

// ---------------------------------------------------------------------------------------------
// Account (§5)

#[test]
fn fees_taker_and_maker() {
    // binance-usdm-futures.md §5: VIP0 maker 0.0200 %, taker 0.0500 %, fee = price × qty × rate
    let bars = vec![flat(0, "60000"), bar(1, "60000", "60600", "60000", "60600")];
    let mut x = ex(bars);
    let w0 = x.wallet();
    new_order(&mut x, market(Side::Buy, "0.01"));
    let t = trades(&drain(&mut x));
    assert_eq!((t[0].3, t[0].4), (d("0.3"), false)); // 600 × 0.0005
    new_order(&mut x, limit(Side::Sell, "0.01", "60500"));
    let t = trades(&run_to(&mut x, T0 + 2 * MIN));
    assert_eq!((t[0].3, t[0].4), (d("0.121"), true)); // 605 × 0.0002
    assert_eq!(x.wallet(), w0 + d("5") - d("0.3") - d("0.121"));
}

#[test]
fn realized_pnl_entry_averaging_and_flip() {
    // binance-usdm-futures.md §2.1 one-way: a SELL larger than the long flips to short
    let mut x = ex(vec![flat(0, "60000"), flat(1, "61000"), flat(2, "62000")]);
    new_order(&mut x, market(Side::Buy, "0.01"));
    run_to(&mut x, T0 + MIN);
    new_order(&mut x, market(Side::Buy, "0.01"));
    let p = &x.position_risk(SYM).unwrap()[0];
    assert_eq!((p.position_amt, p.entry_price), (d("0.02"), d("60500")));
    run_to(&mut x, T0 + 2 * MIN);
    drain(&mut x);
    new_order(&mut x, market(Side::Sell, "0.03"));
    let evs = drain(&mut x);
    let Some(Event::AccountUpdate(a)) = evs
        .iter()
        .map(|e| &e.1)
        .find(|e| matches!(e, Event::AccountUpdate(_)))
    else {
        panic!()
    };
    assert_eq!(a.realized_pnl, d("30")); // (62000 − 60500) × 0.02
    let p = &x.position_risk(SYM).unwrap()[0];
    assert_eq!((p.position_amt, p.entry_price), (d("-0.01"), d("62000")));
    // fees: 600 + 610 + 1860 notional at 0.05 %
    assert_eq!(
        x.wallet(),
        d("10000") + d("30") - d("0.3") - d("0.305") - d("0.93")
    );
}

#[test]
fn wallet_is_initial_plus_realized_minus_fees_plus_funding() {
    // binance-usdm-futures.md §5, §6 ACCOUNT_UPDATE: re-add the books from events alone
    let bars = vec![
        flat(0, "60000"),
        bar(1, "60000", "60600", "59900", "60400"),
        bar(2, "60400", "60400", "59000", "59200"),
        bar(3, "59200", "59800", "59100", "59700"),
        flat(4, "59700"),
    ];
    let funding = vec![(T0 + 2 * MIN, d("0.0001")), (T0 + 4 * MIN, d("-0.0003"))];
    let mut x = ex(bars).with_funding(funding);
    let mut log = Vec::new();
    new_order(&mut x, market(Side::Buy, "0.02"));
    new_algo(
        &mut x,
        algo_ro(Side::Sell, OrderType::TakeProfitMarket, "60500", "0.01"),
    );
    new_algo(
        &mut x,
        algo(Side::Sell, OrderType::StopMarket, "59500", "0.03"),
    );
    new_order(&mut x, limit(Side::Buy, "0.01", "59700"));
    x.drain_events(&mut log);
    log.extend(run_to(&mut x, T0 + 5 * MIN));
    let mut wallet = cfg().initial_balance;
    let (mut n_fund, mut n_fill) = (0, 0);
    for (_, e) in &log {
        if let Event::AccountUpdate(a) = e {
            wallet += a.realized_pnl - a.fee + a.balance_change;
            assert_eq!(a.wallet_balance, wallet);
            match a.reason {
                AccountReason::FundingFee => n_fund += 1,
                _ => n_fill += 1,
            }
        }
    }
    assert_eq!(wallet, x.wallet());
    assert_eq!((n_fund, n_fill), (2, 4), "{:?}", tags(&log));
}

// ---------------------------------------------------------------------------------------------
// Determinism

fn scenario_log() -> String {
    let mut bars = Vec::new();
    let mut p: i64 = 600_000;
    let mut s: u64 = 7;
    for i in 0..600 {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let step = ((s >> 33) % 201) as i64 - 100;
        let o = p;
        p += step;
        let wick = ((s >> 20) % 50) as i64;
        bars.push(BarTicks {
            t: T0 + i * MIN,
            o,
            h: o.max(p) + wick,
            l: o.min(p) - wick,
            c: p,
        });
    }
    let mut x = ex_with(
        ExchangeConfig {
            equity_sample_ms: 0,
            ..cfg()
        },
        bars,
    )
    .with_funding(vec![
        (T0 + 100 * MIN, d("0.0001")),
        (T0 + 400 * MIN, d("-0.0001")),
    ]);
    let mut log = Vec::new();
    for k in 0..20 {
        if amt(&x).is_zero() {
            let _ = x.new_order(&market(Side::Buy, "0.01"));
            let px = x.last_price();
            let _ = x.new_algo_order(&close_leg(
                Side::Sell,
                OrderType::StopMarket,
                &(px - d("30")).to_string(),
                TimeInForce::GteGtc,
            ));
            let _ = x.new_algo_order(&close_leg(
                Side::Sell,
                OrderType::TakeProfitMarket,
                &(px + d("30")).to_string(),
                TimeInForce::GteGtc,
            ));
        }
        log.extend(run_to(&mut x, T0 + (k + 1) * 30 * MIN));
    }
    log.iter()
        .map(|(t, e)| format!("{}\t{}\n", t.0, serde_json::to_string(e).unwrap()))
        .collect()
}

#[test]
fn same_bars_and_orders_give_byte_identical_logs() {
    // determinism: the event log is a pure function of bars, config and requests
    let a = scenario_log();
    let b = scenario_log();
    assert!(a.lines().count() > 50);
    assert_eq!(a, b);
}

// ---------------------------------------------------------------------------------------------
// Issue 16: intrabar policy for exposure that appears inside a bar, equal distances, -4509

/// A long 0.01 entered at `entry_at` (ms), then GTE_GTC closePosition SL 59600 / TP 60400; bar 1
/// (T0+1m) opens 60000, high 60450 (450 away), low 59500 (500 away): the high is nearer the open,
/// so `ohlc` goes high first. Returns (price of the one leg fill, ambiguous bars).
fn entry_inside_bar(policy: IntrabarPolicy, entry_at: i64) -> (Decimal, u64) {
    let bars = vec![
        flat(0, "60000"),
        bar(1, "60000", "60450", "59500", "60000"),
        flat(2, "60000"),
    ];
    let mut x = ex_with(
        ExchangeConfig {
            intrabar: policy,
            ..cfg()
        },
        bars,
    );
    run_to(&mut x, entry_at);
    new_order(&mut x, market(Side::Buy, "0.01"));
    for (t, p) in [
        (OrderType::StopMarket, "59600"),
        (OrderType::TakeProfitMarket, "60400"),
    ] {
        new_algo(&mut x, close_leg(Side::Sell, t, p, TimeInForce::GteGtc));
    }
    drain(&mut x);
    let evs = run_to(&mut x, T0 + 3 * MIN);
    let t = trades(&evs);
    assert_eq!(t.len(), 1, "exactly one leg fills: {:?}", tags(&evs));
    (t[0].1, x.stats().ambiguous_bars)
}

#[test]
fn issue16_bug1_pessimistic_holds_for_an_entry_inside_the_bar() {
    // binance-usdm-futures.md §8 (deterministic, configurable path): `pessimistic` must hold for
    // every position from the moment it exists, and a bar whose range reaches both legs of a
    // position opened inside it is ambiguous
    let (sl, tp) = (d("59600"), d("60400"));
    let open = T0 + MIN;
    // the reference: the position existed before the bar opened
    assert_eq!(
        entry_inside_bar(IntrabarPolicy::Pessimistic, open - 1),
        (sl, 1)
    );
    // an entry exactly at the open (whole-minute signal, zero latency): same path, same count
    assert_eq!(entry_inside_bar(IntrabarPolicy::Pessimistic, open), (sl, 1));
    // an entry 10 s into the bar, while the path climbs toward the high: the low comes first
    assert_eq!(
        entry_inside_bar(IntrabarPolicy::Pessimistic, open + 10_000),
        (sl, 1)
    );
    // optimistic is the mirror image, and ohlc does not depend on positions (high nearer)
    assert_eq!(
        entry_inside_bar(IntrabarPolicy::Optimistic, open + 10_000),
        (tp, 1)
    );
    assert_eq!(entry_inside_bar(IntrabarPolicy::Ohlc, open), (tp, 1));
    assert_eq!(entry_inside_bar(IntrabarPolicy::Ohlc, open - 1), (tp, 1));
}

#[test]
fn issue16_bug1_pessimistic_entry_after_the_adverse_extreme_goes_back_to_it() {
    // the ohlc-shaped path of a flat account visits the high at +20 s and the low at +40 s; a
    // long opened at +45 s (after both) must still meet its adverse extreme (the low) before the
    // close under `pessimistic`, never its favourable one under the same policy
    let bars = vec![
        flat(0, "60000"),
        bar(1, "60000", "60450", "59500", "60000"),
        flat(2, "60000"),
    ];
    let mut x = ex_with(
        ExchangeConfig {
            intrabar: IntrabarPolicy::Pessimistic,
            ..cfg()
        },
        bars,
    );
    run_to(&mut x, T0 + MIN + 45_000);
    new_order(&mut x, market(Side::Buy, "0.01"));
    new_algo(
        &mut x,
        close_leg(
            Side::Sell,
            OrderType::StopMarket,
            "59600",
            TimeInForce::GteGtc,
        ),
    );
    new_algo(
        &mut x,
        close_leg(
            Side::Sell,
            OrderType::TakeProfitMarket,
            "60400",
            TimeInForce::GteGtc,
        ),
    );
    drain(&mut x);
    let t = trades(&run_to(&mut x, T0 + 3 * MIN));
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].1, d("59600"));
    assert_eq!(x.stats().ambiguous_bars, 1);
}

#[test]
fn issue16_bug8_equal_distances_go_low_first() {
    // binance-usdm-futures.md §8 modelling note; README "Intrabar path policy": when the high and
    // the low are equally far from the open, `ohlc` visits the low first (NautilusTrader's
    // adaptive high/low ordering); 500 ticks each way here
    let (fill, ambiguous) = both_legs_in_one_bar(IntrabarPolicy::Ohlc, "60500", "59500");
    assert_eq!((fill, ambiguous), (d("59500"), 1));
    // the low one tick farther: the high is nearer and goes first
    let (fill, _) = both_legs_in_one_bar(IntrabarPolicy::Ohlc, "60500", "59499.9");
    assert_eq!(fill, d("60500"));
}

#[test]
fn issue16_bug6_gte_gtc_without_position_4509() {
    // Binance USDⓈ-M error codes (4xxx): -4509 TIF_GTE_CAN_ONLY_BE_USED_WITH_OPEN_POSITION;
    // binance-usdm-futures.md §0 (GTE_GTC depends on the position only since the algo migration)
    // and §2.5 (GTE_GTC = position-bound TP/SL)
    let algo_msg = "Time in Force (TIF) GTE can only be used with open positions. Please ensure that positions are available.";
    let legacy_msg = "Time in Force (TIF) GTE can only be used with open positions or open orders. Please ensure that positions are available.";
    // algo endpoint, flat account: refused, nothing changes
    let mut x = ex(flats(3, "60000"));
    let sl = close_leg(
        Side::Sell,
        OrderType::StopMarket,
        "59500",
        TimeInForce::GteGtc,
    );
    rejected(&mut x, -4509, algo_msg, |m| m.new_algo_order(&sl));
    // a resting entry on that side is not a position (algo era: position only)
    new_order(&mut x, limit(Side::Buy, "0.01", "59000"));
    rejected(&mut x, -4509, algo_msg, |m| m.new_algo_order(&sl));
    // plain GTC closePosition is accepted without a position (§2.4: it fails at trigger)
    new_algo(
        &mut x,
        close_leg(Side::Sell, OrderType::StopMarket, "59500", TimeInForce::Gtc),
    );
    // with a position the GTE_GTC leg is accepted
    new_order(&mut x, market(Side::Buy, "0.01"));
    new_algo(&mut x, sl.clone());
    // hedge mode: the side matters — a LONG position does not carry a SHORT-side GTE_GTC leg
    let mut h = ex_with(hedge(), flats(3, "60000"));
    new_order(&mut h, ps(market(Side::Buy, "0.01"), PositionSide::Long));
    let short_tp = NewAlgoOrder {
        position_side: Some(PositionSide::Short),
        ..close_leg(
            Side::Buy,
            OrderType::TakeProfitMarket,
            "59500",
            TimeInForce::GteGtc,
        )
    };
    rejected(&mut h, -4509, algo_msg, |m| m.new_algo_order(&short_tp));
    let long_sl = NewAlgoOrder {
        position_side: Some(PositionSide::Long),
        ..sl.clone()
    };
    new_algo(&mut h, long_sl);
    // legacy endpoint (before 2025-12-09): no position and no open order on the side: refused
    let mut l = ex_with(legacy(), flats(3, "60000"));
    let legacy_sl = NewOrder {
        stop_price: Some(d("59500")),
        close_position: Some(true),
        time_in_force: Some(TimeInForce::GteGtc),
        ..NewOrder::new(SYM, Side::Sell, OrderType::StopMarket)
    };
    rejected(&mut l, -4509, legacy_msg, |m| m.new_order(&legacy_sl));
    new_order(&mut l, market(Side::Buy, "0.01"));
    new_order(&mut l, legacy_sl);
}

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

/// `days` days of flat 1h bars at `p`.
fn hourly(days: i64, p: &str) -> MockExchange {
    let bars: Vec<BarTicks> = (0..days * 24)
        .map(|i| bar_at(T0 + i * HOUR, p, p, p, p))
        .collect();
    MockExchange::new(cfg(), spec(), bars, HOUR)
}

#[test]
fn ended_orders_are_not_found_after_3_or_90_days() {
    // binance-usdm-futures.md, GET /fapi/v1/order: CANCELED/EXPIRED without fills vanish after
    // 3 days, all orders after 90 days (the same for algo orders): -2013
    let gone = "Order does not exist.";
    let mut x = hourly(95, "60000");
    run_to(&mut x, T0);
    let unfilled = new_order(&mut x, limit(Side::Buy, "0.01", "50000")).order_id;
    x.cancel_order(SYM, &OrderRef::Id(unfilled.0)).unwrap();
    let filled = new_order(&mut x, market(Side::Buy, "0.01")).order_id;
    let resting = new_order(&mut x, limit(Side::Buy, "0.01", "50000")).order_id;
    let stop = new_algo(
        &mut x,
        algo(Side::Sell, OrderType::StopMarket, "55000", "0.01"),
    )
    .algo_id;
    x.cancel_algo_order(SYM, &AlgoRef::Id(stop.0)).unwrap();
    let live_stop = new_algo(
        &mut x,
        algo(Side::Sell, OrderType::StopMarket, "55000", "0.01"),
    )
    .algo_id;
    let found = |x: &mut MockExchange, id: OrderId| x.query_order(SYM, &OrderRef::Id(id.0)).is_ok();
    let algo_found =
        |x: &mut MockExchange, id: AlgoId| x.query_algo_order(SYM, &AlgoRef::Id(id.0)).is_ok();
    // created + 3 days is not yet past
    run_to(&mut x, T0 + 3 * DAY);
    assert!(found(&mut x, unfilled) && algo_found(&mut x, stop));
    run_to(&mut x, T0 + 3 * DAY + 1);
    rejected(&mut x, -2013, gone, |x| {
        x.query_order(SYM, &OrderRef::Id(unfilled.0))
    });
    rejected(&mut x, -2013, gone, |x| {
        x.query_algo_order(SYM, &AlgoRef::Id(stop.0))
    });
    // by client id too
    let cid = x
        .query_order(SYM, &OrderRef::Id(filled.0))
        .unwrap()
        .client_order_id;
    assert!(x.query_order(SYM, &OrderRef::Client(cid.clone())).is_ok());
    // a filled order, and anything still open, stays 90 days
    assert!(found(&mut x, filled) && found(&mut x, resting) && algo_found(&mut x, live_stop));
    run_to(&mut x, T0 + 90 * DAY);
    assert!(found(&mut x, filled) && found(&mut x, resting) && algo_found(&mut x, live_stop));
    run_to(&mut x, T0 + 90 * DAY + 1);
    for id in [filled, resting] {
        rejected(&mut x, -2013, gone, |x| {
            x.query_order(SYM, &OrderRef::Id(id.0))
        });
    }
    rejected(&mut x, -2013, gone, |x| {
        x.query_order(SYM, &OrderRef::Client(cid))
    });
    rejected(&mut x, -2013, gone, |x| {
        x.query_algo_order(SYM, &AlgoRef::Id(live_stop.0))
    });
    // an order past 90 days that is still open is still open: listed, and cancelled
    assert_eq!(x.open_orders(SYM).unwrap().len(), 1);
    assert_eq!(x.open_algo_orders(SYM).unwrap().len(), 1);
    let c = x.cancel_order(SYM, &OrderRef::Id(resting.0)).unwrap();
    assert_eq!(c.status, OrderStatus::Canceled);
    let c = x.cancel_algo_order(SYM, &AlgoRef::Id(live_stop.0)).unwrap();
    assert_eq!(c.algo_status, AlgoStatus::Canceled);
}

#[test]
fn the_order_store_keeps_about_90_days() {
    // 3,000 orders and 3,000 algo orders on the first day, ended at once; 91 days later the
    // chunks (1,024 each) that hold only them are freed when a push opens a new chunk. A freed
    // order answers exactly as one past 90 days that is still held.
    let mut x = hourly(100, "60000");
    run_to(&mut x, T0);
    let n = 3000u64;
    for _ in 0..n {
        let o = new_order(&mut x, limit(Side::Buy, "0.01", "50000")).order_id;
        x.cancel_order(SYM, &OrderRef::Id(o.0)).unwrap();
        let a = new_algo(
            &mut x,
            algo(Side::Sell, OrderType::StopMarket, "55000", "0.01"),
        )
        .algo_id;
        x.cancel_algo_order(SYM, &AlgoRef::Id(a.0)).unwrap();
        drain(&mut x);
    }
    // one order that stays open through it all
    let open = new_order(&mut x, limit(Side::Buy, "0.01", "50000")).order_id;
    assert_eq!(x.orders_held(), (n as usize + 1, n as usize));
    run_to(&mut x, T0 + 91 * DAY);
    let answers = |x: &mut MockExchange, i: u64| {
        let code = |e: ApiError| (e.code, e.msg);
        (
            code(x.query_order(SYM, &oid(i)).unwrap_err()),
            code(x.cancel_order(SYM, &oid(i)).unwrap_err()),
            code(x.query_algo_order(SYM, &aid(i)).unwrap_err()),
            code(x.cancel_algo_order(SYM, &aid(i)).unwrap_err()),
        )
    };
    // held, past 90 days
    let held = answers(&mut x, 0);
    assert_eq!(held.0 .0, -2013);
    assert_eq!(held.1 .0, -2011);
    // up to the next chunk start (orders 3,001 … 3,071), then one more: the push that opens
    // the chunk frees the two full chunks before the one holding the open order (and today's),
    // in both stores
    for _ in n + 1..3 * 1024 {
        let o = new_order(&mut x, limit(Side::Buy, "0.01", "50000")).order_id;
        x.cancel_order(SYM, &OrderRef::Id(o.0)).unwrap();
    }
    assert_eq!(x.orders_held(), (3 * 1024, n as usize), "nothing freed yet");
    new_order(&mut x, limit(Side::Buy, "0.01", "50000"));
    // the algo store's third chunk is the one being filled: it stays
    assert_eq!(
        x.orders_held(),
        (3 * 1024 + 1 - 2 * 1024, n as usize - 2 * 1024)
    );
    for _ in n..3 * 1024 {
        let a = new_algo(
            &mut x,
            algo(Side::Sell, OrderType::StopMarket, "55000", "0.01"),
        )
        .algo_id;
        x.cancel_algo_order(SYM, &AlgoRef::Id(a.0)).unwrap();
    }
    new_algo(
        &mut x,
        algo(Side::Sell, OrderType::StopMarket, "55000", "0.01"),
    );
    assert_eq!(
        x.orders_held().1,
        3 * 1024 + 1 - 2 * 1024,
        "today's algo orders stay"
    );
    drain(&mut x);
    // freed, or held past 90 days: the same answers
    for i in [0, 1, 1023, 1024, 2047] {
        assert_eq!(answers(&mut x, i), held, "order {i}");
    }
    for i in [2048, 2999] {
        assert_eq!(answers(&mut x, i), held, "order {i}, held");
    }
    // the open order is still there
    assert_eq!(x.open_orders(SYM).unwrap().len(), 2);
    let c = x.cancel_order(SYM, &OrderRef::Id(open.0)).unwrap();
    assert_eq!(c.status, OrderStatus::Canceled);
}
