//! The hand-rolled `events.jsonl` writer (`ocosim::events::json`, #18) against serde_json: for
//! every record of every shipped scenario (and weak point) under every engine profile, and for
//! generated hot records with hostile strings and edge numbers, the bytes must be identical.
//! Case count of the property: `PROPTEST_CASES`.

use ocosim::api::{ApiError, Endpoint, NewAlgoOrder, NewOrder, RespType, TransportError};
use ocosim::events::json::{write_record, write_record_with, write_window, Stamps, WIN};
use ocosim::events::*;
use ocosim::types::*;
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};

fn scenario_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut v = Vec::new();
    for dir in [root.clone(), root.join("weak-points")] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

/// Compares every record; returns how many were checked.
fn check_log(what: &str, log: &EventLog) -> usize {
    let mut buf = Vec::new();
    for r in log.records() {
        buf.clear();
        write_record(r, &mut buf);
        let want = serde_json::to_vec(r).unwrap();
        assert!(
            buf == want,
            "{what}: seq {}\n hand: {}\nserde: {}",
            r.seq.0,
            String::from_utf8_lossy(&buf),
            String::from_utf8_lossy(&want)
        );
    }
    // the report's writer: records written into a window where it takes them (most of a log),
    // the others into a Vec, one `Stamps` across both
    let mut st = Stamps::default();
    let mut win = Box::new([0u8; WIN]);
    for r in log.records() {
        buf.clear();
        if let Some(n) = write_window(r, &mut win, &mut st) {
            buf.extend_from_slice(&win[..n]);
        } else {
            write_record_with(r, &mut buf, &mut st);
        }
        let want = serde_json::to_vec(r).unwrap();
        assert!(
            buf == want,
            "{what} (window): seq {}\n hand: {}\nserde: {}",
            r.seq.0,
            String::from_utf8_lossy(&buf),
            String::from_utf8_lossy(&want)
        );
    }
    // and the writer the CLI uses: the whole file equals serde_json's lines
    let mut w = Vec::new();
    log.write_jsonl(&mut w, |_| true).unwrap();
    let mut want = Vec::new();
    for r in log.records() {
        serde_json::to_writer(&mut want, r).unwrap();
        want.push(b'\n');
    }
    assert!(w == want, "{what}: write_jsonl differs from serde_json");
    log.len()
}

#[test]
fn every_shipped_scenario_under_every_profile_serialises_like_serde_json() {
    let mut records = 0;
    let mut runs = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for p in scenario_files() {
        for prof in ocosim::engine::PROFILES.iter().map(Some).chain([None]) {
            let sc = match ocosim::cli::load_with_overrides(&p, prof.copied(), &[], None) {
                Ok(sc) => sc,
                Err(_) => panic!("{}: does not load", p.display()),
            };
            let run = sc.run();
            let log = &run.output.log;
            for r in log.records() {
                let v = serde_json::to_value(&r.event).unwrap();
                kinds.insert(format!(
                    "{}{}",
                    v["type"].as_str().unwrap_or(""),
                    v["kind"]
                        .as_str()
                        .map(|k| format!("/{k}"))
                        .unwrap_or_default()
                ));
            }
            records += check_log(&format!("{} {prof:?}", p.display()), log);
            runs += 1;
        }
    }
    eprintln!("{runs} runs, {records} records, kinds: {kinds:?}");
    assert!(runs >= 20 * 5, "{runs} runs");
    // the hot kinds all occurred (so the hand-written paths were compared, not only the fallback)
    for k in [
        "request",
        "response",
        "order_trade_update",
        "algo_update",
        "account_update",
        "equity",
        "engine/signal",
        "engine/pair_placed",
    ] {
        assert!(kinds.contains(k), "kind {k} never occurred");
    }
}

fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_ -]{0,12}",
        "[\"\\\\\\x00-\\x1f\\x7f]{0,8}",
        "[a\"\\\\\\x00-\\x1f\\x7féλ🙂\u{2028}\u{fffd}]{0,16}",
        any::<String>(),
    ]
}

fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (any::<i64>(), 0u32..=28).prop_map(|(m, s)| Decimal::new(m, s)),
        (any::<i128>(), 0u32..=28).prop_filter_map("96-bit", |(m, s)| {
            Decimal::try_from_i128_with_scale(m >> 32, s).ok()
        }),
        (any::<bool>(), 0u32..=28).prop_map(|(neg, s)| {
            let mut d = Decimal::new(0, s);
            d.set_sign_negative(neg);
            d
        }),
        Just(Decimal::MAX),
        Just(Decimal::MIN),
        (-1_000_000i64..1_000_000, 0u32..=8).prop_map(|(m, s)| Decimal::new(m, s)),
    ]
}

fn opt<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop::option::of(s)
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}
fn pside() -> impl Strategy<Value = PositionSide> {
    prop_oneof![
        Just(PositionSide::Both),
        Just(PositionSide::Long),
        Just(PositionSide::Short)
    ]
}
fn otype() -> impl Strategy<Value = OrderType> {
    prop::sample::select(vec![
        OrderType::Limit,
        OrderType::Market,
        OrderType::Stop,
        OrderType::StopMarket,
        OrderType::TakeProfit,
        OrderType::TakeProfitMarket,
        OrderType::TrailingStopMarket,
        OrderType::Liquidation,
    ])
}
fn tif() -> impl Strategy<Value = TimeInForce> {
    prop::sample::select(vec![
        TimeInForce::Gtc,
        TimeInForce::Ioc,
        TimeInForce::Fok,
        TimeInForce::Gtx,
        TimeInForce::GteGtc,
    ])
}
fn wtype() -> impl Strategy<Value = WorkingType> {
    prop_oneof![
        Just(WorkingType::ContractPrice),
        Just(WorkingType::MarkPrice)
    ]
}
fn endpoint() -> impl Strategy<Value = Endpoint> {
    prop::sample::select(vec![
        Endpoint::NewOrder,
        Endpoint::NewAlgoOrder,
        Endpoint::CancelOrder,
        Endpoint::CancelAlgoOrder,
        Endpoint::QueryOrder,
        Endpoint::QueryAlgoOrder,
        Endpoint::OpenOrders,
        Endpoint::OpenAlgoOrders,
        Endpoint::CancelAll,
        Endpoint::CancelAllAlgo,
        Endpoint::PositionRisk,
        Endpoint::TickerPrice,
    ])
}

fn order_update() -> impl Strategy<Value = OrderUpdate> {
    (
        (
            hostile_string(),
            hostile_string(),
            side(),
            otype(),
            otype(),
            tif(),
        ),
        (decimal(), decimal(), decimal(), decimal()),
        (
            prop::sample::select(vec![
                ExecType::New,
                ExecType::Trade,
                ExecType::Canceled,
                ExecType::Expired,
                ExecType::Calculated,
            ]),
            prop::sample::select(vec![
                OrderStatus::New,
                OrderStatus::PartiallyFilled,
                OrderStatus::Filled,
                OrderStatus::Canceled,
                OrderStatus::Expired,
                OrderStatus::Rejected,
            ]),
            any::<u64>(),
        ),
        (decimal(), decimal(), decimal(), decimal(), decimal()),
        (any::<[bool; 3]>(), pside(), opt(any::<u64>())),
        prop::sample::select(vec![
            ExpiryReason::None,
            ExpiryReason::IocRemainder,
            ExpiryReason::ReduceOnly,
            ExpiryReason::Liquidation,
            ExpiryReason::GteUnsatisfied,
            ExpiryReason::LegacyTriggered,
            ExpiryReason::MarketRemainder,
        ]),
    )
        .prop_map(
            |(
                (symbol, cid, side, ot, oot, tif),
                (q, p, ap, sp),
                (x, st, id),
                (lq, cq, lp, n, rp),
                (b, ps, fa),
                er,
            )| OrderUpdate {
                symbol: symbol.into(),
                client_order_id: cid.into(),
                side,
                order_type: ot,
                orig_type: oot,
                time_in_force: tif,
                orig_qty: q,
                price: p,
                avg_price: ap,
                stop_price: sp,
                exec_type: x,
                status: st,
                order_id: OrderId(id),
                last_qty: lq,
                cum_qty: cq,
                last_price: lp,
                commission: n,
                is_maker: b[0],
                reduce_only: b[1],
                position_side: ps,
                close_position: b[2],
                realized_pnl: rp,
                expiry_reason: er,
                from_algo: fa.map(AlgoId),
            },
        )
}

fn algo_update() -> impl Strategy<Value = AlgoUpdate> {
    (
        (
            hostile_string(),
            hostile_string(),
            any::<u64>(),
            otype(),
            side(),
        ),
        (pside(), tif(), decimal(), opt(any::<u64>())),
        (
            prop::sample::select(vec![
                AlgoStatus::New,
                AlgoStatus::Triggering,
                AlgoStatus::Triggered,
                AlgoStatus::Finished,
                AlgoStatus::Canceled,
                AlgoStatus::Rejected,
                AlgoStatus::Expired,
            ]),
            decimal(),
            decimal(),
            any::<[bool; 2]>(),
            wtype(),
            hostile_string(),
        ),
    )
        .prop_map(
            |((s, c, aid, ot, side), (ps, tif, q, ai), (st, tp, p, b, wt, rm))| AlgoUpdate {
                symbol: s.into(),
                client_algo_id: c.into(),
                algo_id: AlgoId(aid),
                order_type: ot,
                side,
                position_side: ps,
                time_in_force: tif,
                quantity: q,
                status: st,
                actual_order_id: ai.map(OrderId),
                trigger_price: tp,
                price: p,
                close_position: b[0],
                reduce_only: b[1],
                working_type: wt,
                reject_reason: rm,
            },
        )
}

fn account_update() -> impl Strategy<Value = AccountUpdate> {
    (
        prop::sample::select(vec![
            AccountReason::Order,
            AccountReason::FundingFee,
            AccountReason::Liquidation,
        ]),
        (decimal(), decimal(), decimal(), decimal()),
        prop::collection::vec(
            (
                hostile_string(),
                pside(),
                decimal(),
                decimal(),
                decimal(),
                opt(decimal()),
            )
                .prop_map(|(s, ps, a, e, c, l)| PositionRow {
                    symbol: s.into(),
                    position_side: ps,
                    amount: a,
                    entry_price: e,
                    accumulated_realized: c,
                    liquidation_price: l,
                }),
            0..3,
        ),
    )
        .prop_map(|(reason, (w, b, r, f), positions)| AccountUpdate {
            reason,
            wallet_balance: w,
            balance_change: b,
            realized_pnl: r,
            fee: f,
            positions,
        })
}

fn new_order() -> impl Strategy<Value = NewOrder> {
    (
        (hostile_string(), side(), otype(), opt(pside())),
        (opt(decimal()), opt(decimal()), opt(decimal()), opt(tif())),
        (
            opt(any::<bool>()),
            opt(any::<bool>()),
            opt(wtype()),
            opt(any::<bool>()),
        ),
        (
            opt(decimal()),
            opt(decimal()),
            opt(hostile_string()),
            opt(prop_oneof![Just(RespType::Ack), Just(RespType::Result)]),
        ),
    )
        .prop_map(
            |((s, side, ot, ps), (q, p, sp, tif), (ro, cp, wt, pp), (ap, cr, c, rt))| {
                let mut o = NewOrder::new(&s, side, ot);
                o.position_side = ps;
                o.quantity = q;
                o.price = p;
                o.stop_price = sp;
                o.time_in_force = tif;
                o.reduce_only = ro;
                o.close_position = cp;
                o.working_type = wt;
                o.price_protect = pp;
                o.activation_price = ap;
                o.callback_rate = cr;
                o.client_order_id = c.map(Ident::from);
                o.resp_type = rt;
                o
            },
        )
}

fn new_algo() -> impl Strategy<Value = NewAlgoOrder> {
    (
        (hostile_string(), side(), otype(), opt(pside())),
        (opt(decimal()), opt(decimal()), opt(decimal()), opt(tif())),
        (
            opt(any::<bool>()),
            opt(any::<bool>()),
            opt(wtype()),
            opt(any::<bool>()),
        ),
        (opt(decimal()), opt(decimal()), opt(hostile_string())),
    )
        .prop_map(
            |((s, side, ot, ps), (q, p, tp, tif), (ro, cp, wt, pp), (ap, cr, c))| {
                let mut o = NewAlgoOrder::new(&s, side, ot);
                o.position_side = ps;
                o.quantity = q;
                o.price = p;
                o.trigger_price = tp;
                o.time_in_force = tif;
                o.reduce_only = ro;
                o.close_position = cp;
                o.working_type = wt;
                o.price_protect = pp;
                o.activate_price = ap;
                o.callback_rate = cr;
                o.client_algo_id = c.map(Ident::from);
                o
            },
        )
}

fn leg() -> impl Strategy<Value = LegId> {
    prop_oneof![
        any::<u64>().prop_map(|v| LegId::Order(OrderId(v))),
        any::<u64>().prop_map(|v| LegId::Algo(AlgoId(v))),
    ]
}

fn engine_event() -> impl Strategy<Value = EngineEvent> {
    prop_oneof![
        (
            hostile_string(),
            hostile_string(),
            hostile_string(),
            decimal(),
            opt(decimal()),
            opt(decimal())
        )
            .prop_map(|(id, action, symbol, quantity, stop_loss, take_profit)| {
                EngineEvent::Signal {
                    id,
                    action: action.into(),
                    symbol: symbol.into(),
                    quantity,
                    stop_loss,
                    take_profit,
                }
            }),
        (hostile_string(), hostile_string(), hostile_string()).prop_map(|(id, status, detail)| {
            EngineEvent::SignalResult {
                id,
                status: status.into(),
                detail,
            }
        }),
        (hostile_string(), pside(), any::<u64>(), any::<bool>()).prop_map(|(s, ps, o, w)| {
            EngineEvent::EntryAccepted {
                symbol: s.into(),
                position_side: ps,
                order_id: OrderId(o),
                wants_stop: w,
            }
        }),
        (any::<u64>(), hostile_string(), pside(), leg(), leg()).prop_map(|(p, s, ps, sl, tp)| {
            EngineEvent::PairPlaced {
                pair: PairId(p),
                symbol: s.into(),
                position_side: ps,
                sl,
                tp,
            }
        }),
        (any::<u64>(), hostile_string(), hostile_string()).prop_map(|(p, status, reason)| {
            EngineEvent::PairDropped {
                pair: PairId(p),
                status: status.into(),
                reason: reason.into(),
            }
        }),
        (any::<u64>(), leg(), leg()).prop_map(|(p, filled, cancel)| EngineEvent::CancelOther {
            pair: PairId(p),
            filled,
            cancel,
        }),
        hostile_string().prop_map(|text| EngineEvent::Note { text }),
        Just(EngineEvent::Restart),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (any::<u64>(), endpoint(), any::<i64>(), new_order()).prop_map(|(c, e, t, o)| {
            Event::Request {
                call: c,
                endpoint: e,
                sent_ms: TimeMs(t),
                params: RequestParams::Order(o),
            }
        }),
        (any::<u64>(), endpoint(), any::<i64>(), new_algo()).prop_map(|(c, e, t, o)| {
            Event::Request {
                call: c,
                endpoint: e,
                sent_ms: TimeMs(t),
                params: RequestParams::Algo(o),
            }
        }),
        (any::<u64>(), endpoint(), any::<i64>(), hostile_string()).prop_map(|(c, e, t, s)| {
            Event::Request {
                call: c,
                endpoint: e,
                sent_ms: TimeMs(t),
                params: RequestParams::Other(s),
            }
        }),
        (
            any::<u64>(),
            endpoint(),
            prop_oneof![
                hostile_string().prop_map(CallOutcome::Ok),
                (any::<u16>(), any::<i32>(), hostile_string()).prop_map(|(http, code, msg)| {
                    CallOutcome::Rejected(ApiError { http, code, msg })
                }),
                (
                    prop_oneof![
                        Just(TransportError::Timeout),
                        Just(TransportError::ServerError),
                        any::<u16>().prop_map(TransportError::ServerStatus)
                    ],
                    any::<bool>()
                )
                    .prop_map(|(error, reached)| CallOutcome::Fault { error, reached }),
            ]
        )
            .prop_map(|(call, endpoint, outcome)| Event::Response {
                call,
                endpoint,
                outcome
            }),
        order_update().prop_map(Event::OrderTradeUpdate),
        algo_update().prop_map(Event::AlgoUpdate),
        account_update().prop_map(Event::AccountUpdate),
        any::<u64>().prop_map(|v| Event::StreamDropped { of: Seq(v) }),
        any::<u64>().prop_map(|v| Event::StreamDuplicated { of: Seq(v) }),
        (decimal(), decimal(), decimal()).prop_map(|(wallet, unrealized, price)| {
            Event::Equity {
                wallet,
                unrealized,
                price,
            }
        }),
        (hostile_string(), hostile_string()).prop_map(|(code, text)| Event::Warning { code, text }),
        engine_event().prop_map(Event::Engine),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]
    #[test]
    fn generated_records_serialise_like_serde_json(
        seq in any::<u64>(),
        t in any::<i64>(),
        source in prop_oneof![Just(Source::Exchange), Just(Source::Engine), Just(Source::Sim)],
        event in event(),
    ) {
        let r = EventRecord { seq: Seq(seq), time_ms: TimeMs(t), source, event };
        let mut buf = b"prefix".to_vec();
        write_record(&r, &mut buf);
        let mut want = b"prefix".to_vec();
        want.extend(serde_json::to_vec(&r).unwrap());
        prop_assert_eq!(String::from_utf8_lossy(&buf), String::from_utf8_lossy(&want));
        prop_assert_eq!(&buf, &want);
        // the window path, when it takes the record (over a window holding older bytes)
        let mut win = Box::new([b'x'; WIN]);
        if let Some(n) = write_window(&r, &mut win, &mut Stamps::default()) {
            prop_assert_eq!(String::from_utf8_lossy(&win[..n]), String::from_utf8_lossy(&want[6..]));
        }
    }
}

/// Hand-picked edges, so a regression names the value.
#[test]
fn edge_values_serialise_like_serde_json() {
    let mut neg_zero = Decimal::new(0, 3);
    neg_zero.set_sign_negative(true);
    let decs = [
        Decimal::ZERO,
        Decimal::new(0, 5),
        neg_zero,
        Decimal::new(1, 28),
        Decimal::new(-1, 28),
        Decimal::new(12345, 2),
        Decimal::new(-5, 1),
        Decimal::new(i64::MIN, 0),
        Decimal::new(i64::MAX, 10),
        Decimal::MAX,
        Decimal::MIN,
        Decimal::from_i128_with_scale(1 << 90, 7),
    ];
    let strs = [
        "",
        "\"",
        "\\",
        "\u{0}\u{1f}\u{7f}\u{8}\t\n\u{c}\r",
        "é🙂\u{2028}",
        "a\"b\\c",
    ];
    for (i, d) in decs.iter().enumerate() {
        let s = strs[i % strs.len()].to_string();
        for t in [i64::MIN, -1, 0, i64::MAX] {
            let r = EventRecord {
                seq: Seq(u64::MAX - i as u64),
                time_ms: TimeMs(t),
                source: Source::Engine,
                event: Event::Engine(EngineEvent::Signal {
                    id: s.clone(),
                    action: s.clone().into(),
                    symbol: s.as_str().into(),
                    quantity: *d,
                    stop_loss: Some(-*d),
                    take_profit: None,
                }),
            };
            let mut buf = Vec::new();
            write_record(&r, &mut buf);
            assert_eq!(
                String::from_utf8_lossy(&buf),
                String::from_utf8_lossy(&serde_json::to_vec(&r).unwrap()),
                "{d:?} {s:?} {t}"
            );
        }
    }
}
