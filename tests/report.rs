//! Report module: accounting sums, equity curve, drawdown, CSV tables, the report files.

use ocosim::api::{ApiError, Endpoint, NewOrder, TransportError};
use ocosim::events::*;
use ocosim::invariants::{Invariant, Violation};
use ocosim::report::*;
use ocosim::types::*;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::str::FromStr;

const T0: i64 = 1_769_904_000_000; // 2026-02-01 00:00:00 UTC

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn t(min: i64) -> TimeMs {
    TimeMs(T0 + min * 60_000)
}

#[allow(clippy::too_many_arguments)]
fn ou(
    id: u64,
    ot: OrderType,
    x: ExecType,
    st: OrderStatus,
    side: Side,
    last: (&str, &str),
    fee: &str,
    rp: &str,
    from_algo: Option<u64>,
) -> Event {
    let filled = matches!(st, OrderStatus::Filled);
    Event::OrderTradeUpdate(OrderUpdate {
        symbol: "BTCUSDT".into(),
        client_order_id: format!("c{id}").into(),
        side,
        order_type: if from_algo.is_some() {
            OrderType::Market
        } else {
            ot
        },
        orig_type: ot,
        time_in_force: TimeInForce::Gtc,
        orig_qty: d("1"),
        price: Decimal::ZERO,
        avg_price: if filled { d(last.1) } else { Decimal::ZERO },
        stop_price: Decimal::ZERO,
        exec_type: x,
        status: st,
        order_id: OrderId(id),
        last_qty: d(last.0),
        cum_qty: if filled { d("1") } else { Decimal::ZERO },
        last_price: d(last.1),
        commission: d(fee),
        is_maker: false,
        reduce_only: from_algo.is_some(),
        position_side: PositionSide::Both,
        close_position: false,
        realized_pnl: d(rp),
        expiry_reason: ExpiryReason::None,
        from_algo: from_algo.map(AlgoId),
    })
}

fn au(
    reason: AccountReason,
    wallet: &str,
    realized: &str,
    fee: &str,
    bc: &str,
    pos: Option<&str>,
) -> Event {
    Event::AccountUpdate(AccountUpdate {
        reason,
        wallet_balance: d(wallet),
        balance_change: d(bc),
        realized_pnl: d(realized),
        fee: d(fee),
        positions: pos
            .map(|a| PositionRow {
                symbol: "BTCUSDT".into(),
                position_side: PositionSide::Both,
                amount: d(a),
                entry_price: d("100"),
                accumulated_realized: Decimal::ZERO,
                liquidation_price: None,
            })
            .into_iter()
            .collect(),
    })
}

fn algo(id: u64, ot: OrderType, st: AlgoStatus, trigger: &str, child: Option<u64>) -> Event {
    Event::AlgoUpdate(AlgoUpdate {
        symbol: "BTCUSDT".into(),
        client_algo_id: format!("a{id}").into(),
        algo_id: AlgoId(id),
        order_type: ot,
        side: Side::Sell,
        position_side: PositionSide::Both,
        time_in_force: TimeInForce::GteGtc,
        quantity: d("1"),
        status: st,
        actual_order_id: child.map(OrderId),
        trigger_price: d(trigger),
        price: Decimal::ZERO,
        close_position: false,
        reduce_only: true,
        working_type: WorkingType::ContractPrice,
        reject_reason: String::new(),
    })
}

fn equity(wallet: &str, unrealized: &str, price: &str) -> Event {
    Event::Equity {
        wallet: d(wallet),
        unrealized: d(unrealized),
        price: d(price),
    }
}

/// A long entry at 100, SL/TP pair, TP fills at 120, funding paid; one rejection and a warning.
fn sample_log() -> EventLog {
    use Source::*;
    let mut log = EventLog::new();
    log.push(
        t(0),
        Engine,
        Event::Engine(EngineEvent::Signal {
            id: "s1".into(),
            action: "buy".into(),
            symbol: "BTCUSDT".into(),
            quantity: d("1"),
            stop_loss: Some(d("90")),
            take_profit: Some(d("120")),
        }),
    ); // 0
    let mut req = NewOrder::new("BTCUSDT", Side::Buy, OrderType::Market);
    req.quantity = Some(d("1"));
    log.push(
        t(0),
        Sim,
        Event::Request {
            call: 1,
            endpoint: Endpoint::NewOrder,
            sent_ms: t(0),
            params: RequestParams::Order(req),
        },
    ); // 1
    log.push(
        t(0),
        Exchange,
        ou(
            1,
            OrderType::Market,
            ExecType::New,
            OrderStatus::New,
            Side::Buy,
            ("0", "0"),
            "0",
            "0",
            None,
        ),
    ); // 2
    log.push(
        t(0),
        Exchange,
        ou(
            1,
            OrderType::Market,
            ExecType::Trade,
            OrderStatus::Filled,
            Side::Buy,
            ("1", "100"),
            "0.05",
            "0",
            None,
        ),
    ); // 3
    log.push(
        t(0),
        Exchange,
        au(AccountReason::Order, "9999.95", "0", "0.05", "0", Some("1")),
    ); // 4
    log.push(
        t(0),
        Sim,
        Event::Response {
            call: 1,
            endpoint: Endpoint::NewOrder,
            outcome: CallOutcome::Ok("orderId=1 FILLED".into()),
        },
    ); // 5
    log.push(
        t(1),
        Exchange,
        algo(1, OrderType::StopMarket, AlgoStatus::New, "90", None),
    ); // 6
    log.push(
        t(1),
        Exchange,
        algo(2, OrderType::TakeProfitMarket, AlgoStatus::New, "120", None),
    ); // 7
    log.push(
        t(1),
        Engine,
        Event::Engine(EngineEvent::PairPlaced {
            pair: PairId(1),
            symbol: "BTCUSDT".into(),
            position_side: PositionSide::Both,
            sl: LegId::Algo(AlgoId(1)),
            tp: LegId::Algo(AlgoId(2)),
        }),
    ); // 8
    log.push(t(2), Sim, equity("9999.95", "10", "110")); // 9
    log.push(
        t(3),
        Sim,
        Event::Response {
            call: 2,
            endpoint: Endpoint::NewAlgoOrder,
            outcome: CallOutcome::Rejected(ApiError::new(
                -1106,
                "Parameter 'reduceonly' sent when not required.",
            )),
        },
    ); // 10
    log.push(
        t(3),
        Sim,
        Event::Warning {
            code: "stop-beyond-liq".into(),
            text: "stop 90 beyond liquidation 85 <warn>".into(),
        },
    ); // 11
    log.push(
        t(4),
        Exchange,
        algo(
            2,
            OrderType::TakeProfitMarket,
            AlgoStatus::Triggered,
            "120",
            Some(3),
        ),
    ); // 12
    log.push(
        t(4),
        Exchange,
        ou(
            3,
            OrderType::TakeProfitMarket,
            ExecType::Trade,
            OrderStatus::Filled,
            Side::Sell,
            ("1", "120"),
            "0.06",
            "20",
            Some(2),
        ),
    ); // 13
    log.push(
        t(4),
        Exchange,
        au(
            AccountReason::Order,
            "10019.89",
            "20",
            "0.06",
            "0",
            Some("0"),
        ),
    ); // 14
    log.push(
        t(4),
        Exchange,
        algo(
            2,
            OrderType::TakeProfitMarket,
            AlgoStatus::Finished,
            "120",
            Some(3),
        ),
    ); // 15
    log.push(
        t(8 * 60),
        Exchange,
        au(
            AccountReason::FundingFee,
            "10018.39",
            "0",
            "0",
            "-1.5",
            None,
        ),
    ); // 16
    log.push(t(8 * 60), Sim, equity("10018.39", "0", "121")); // 17
    log.push(
        t(8 * 60),
        Sim,
        Event::Response {
            call: 3,
            endpoint: Endpoint::CancelAlgoOrder,
            outcome: CallOutcome::Fault {
                error: TransportError::Timeout,
                reached: true,
            },
        },
    ); // 18
    log
}

fn sample_violations() -> Vec<Violation> {
    vec![Violation {
        invariant: Invariant::Orphan,
        seq: Seq(15),
        time_ms: t(4),
        pair: Some(PairId(1)),
        message: "algo 1 still open after position closed: qty <1> & more | pipes".into(),
        trail: vec![Seq(6), Seq(12), Seq(13), Seq(14), Seq(15)],
    }]
}

fn info() -> RunInfo {
    RunInfo {
        scenario: "tp-fills".into(),
        profile: "default".into(),
        seed: 7,
        symbol: "BTCUSDT".into(),
        interval: "1m".into(),
        position_mode: "one-way".into(),
        monitor: "stream".into(),
        intrabar: "ohlc".into(),
        first_bar: t(0),
        last_bar: t(8 * 60),
        bars: 481,
        ambiguous_bars: 2,
        passes: 10,
        passes_skipped: 3,
        calls: 12,
        faults: 1,
        rejections: 1,
        initial_balance: d("10000"),
    }
}

fn scratch(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("report-test-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

#[test]
fn accounting_sums() {
    let a = accounting(&sample_log());
    assert_eq!(a.realized, d("20"));
    assert_eq!(a.fees, d("0.11"));
    assert_eq!(a.funding, d("-1.5"));
    assert_eq!(a.fills, 2);
    assert_eq!(a.pairs, 1);
    assert_eq!(a.signals, 1);
    assert_eq!(a.warnings, 1);
    assert_eq!(a.rejections_by_code.len(), 1);
    assert_eq!(a.rejections_by_code["-1106"], 1);
    // books balance: initial + realized - fees + funding = final wallet
    assert_eq!(d("10000") + a.realized - a.fees + a.funding, d("10018.39"));
}

#[test]
fn equity_curve_points() {
    let c = equity_curve(&sample_log(), d("10000"));
    let want = [
        (t(0), "10000"),
        (t(0), "9999.95"), // after the entry's ACCOUNT_UPDATE: no Equity sample yet
        (t(2), "10009.95"), // Equity sample: wallet + 10 unrealized
        (t(4), "10019.89"), // flat after TP: unrealized 0
        (t(8 * 60), "10018.39"), // funding
        (t(8 * 60), "10018.39"), // Equity sample
    ];
    assert_eq!(c.len(), want.len(), "{c:?}");
    for (got, (wt, wv)) in c.iter().zip(want) {
        assert_eq!(got.0, wt);
        assert_eq!(got.1, d(wv));
    }
    assert!(equity_curve(&EventLog::new(), d("1")).is_empty());
}

#[test]
fn equity_keeps_last_unrealized_while_open() {
    let mut log = EventLog::new();
    log.push(t(0), Source::Sim, equity("1000", "0", "100"));
    log.push(
        t(1),
        Source::Exchange,
        au(AccountReason::Order, "999", "0", "1", "0", Some("2")),
    );
    log.push(t(2), Source::Sim, equity("999", "30", "115"));
    // a partial close: still open, unrealized from the last sample
    log.push(
        t(3),
        Source::Exchange,
        au(AccountReason::Order, "1013", "15", "1", "0", Some("1")),
    );
    let c = equity_curve(&log, d("1000"));
    let v: Vec<Decimal> = c.iter().map(|p| p.1).collect();
    assert_eq!(
        v,
        vec![d("1000"), d("1000"), d("999"), d("1029"), d("1043")]
    );
}

#[test]
fn max_drawdown_known_curve() {
    let curve: Vec<(TimeMs, Decimal)> = [100, 120, 90, 130]
        .iter()
        .enumerate()
        .map(|(i, v)| (t(i as i64), Decimal::from(*v)))
        .collect();
    let (abs, pct) = max_drawdown(&curve);
    assert_eq!(abs, d("30"));
    assert_eq!(pct, d("25"));
    assert_eq!(pct.to_string(), "25.00");
    assert_eq!(max_drawdown(&[]), (Decimal::ZERO, d("0")));
    assert_eq!(max_drawdown(&[]).1.to_string(), "0.00");
    // percent rounds to 2 dp: 1 of 3 = 33.33 %
    let c2 = vec![(t(0), d("3")), (t(1), d("2"))];
    assert_eq!(max_drawdown(&c2).1.to_string(), "33.33");
    let dd = drawdown_curve(&curve);
    assert_eq!(dd[2].1.to_string(), "25.00");
    assert_eq!(dd[3].1, Decimal::ZERO);
}

#[test]
fn orders_csv_one_row_per_order() {
    let csv_text = orders_csv(&sample_log()).unwrap();
    let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
    let hdr: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    let col = |n: &str| hdr.iter().position(|h| h == n).unwrap();
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 4, "{csv_text}");
    let ids: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (&r[col("kind")], &r[col("id")]))
        .collect();
    assert_eq!(
        ids,
        vec![("order", "1"), ("algo", "1"), ("algo", "2"), ("order", "3")]
    );
    // last status wins
    assert_eq!(&rows[0][col("status")], "FILLED");
    assert_eq!(&rows[0][col("filled_qty")], "1");
    assert_eq!(&rows[0][col("avg_price")], "100");
    assert_eq!(&rows[1][col("status")], "NEW");
    assert_eq!(&rows[1][col("trigger_price")], "90");
    assert_eq!(&rows[2][col("status")], "FINISHED");
    assert_eq!(&rows[2][col("type")], "TAKE_PROFIT_MARKET");
    assert_eq!(&rows[2][col("child_order")], "3");
    assert_eq!(&rows[2][col("filled_qty")], "1");
    assert_eq!(&rows[2][col("avg_price")], "120");
    assert_eq!(&rows[2][col("created")], "2026-02-01 00:01:00.000");
    assert_eq!(&rows[2][col("time_in_force")], "GTE_GTC");
    assert_eq!(&rows[2][col("reduce_only")], "true");
    assert_eq!(&rows[3][col("from_algo")], "2");
    assert_eq!(&rows[3][col("orig_type")], "TAKE_PROFIT_MARKET");
    assert_eq!(&rows[3][col("type")], "MARKET");
}

#[test]
fn fills_csv_rows() {
    let csv_text = fills_csv(&sample_log()).unwrap();
    let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
    let hdr: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    let col = |n: &str| hdr.iter().position(|h| h == n).unwrap();
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][col("order_id")], "1");
    assert_eq!(&rows[0][col("side")], "BUY");
    assert_eq!(&rows[0][col("price")], "100");
    assert_eq!(&rows[0][col("fee")], "0.05");
    assert_eq!(&rows[1][col("order_id")], "3");
    assert_eq!(&rows[1][col("time")], "2026-02-01 00:04:00.000");
    assert_eq!(&rows[1][col("qty")], "1");
    assert_eq!(&rows[1][col("price")], "120");
    assert_eq!(&rows[1][col("realized_pnl")], "20");
    assert_eq!(&rows[1][col("maker")], "false");
    assert_eq!(&rows[1][col("exec")], "TRADE");
}

#[test]
fn summarize_from_log() {
    let log = sample_log();
    let s = summarize(&info(), &log, &sample_violations());
    // the entry and the two algo legs; the triggered leg's child order is not one the engine placed
    assert_eq!(s.orders, 3);
    assert_eq!(s.fills, 2);
    assert_eq!(s.pairs, 1);
    // counters the log does not hold come from the run
    assert_eq!(s.calls, 12);
    assert_eq!(s.rejections, 1);
    assert_eq!(s.faults, 1);
    assert_eq!(s.liquidations, 0);
    assert_eq!(s.final_wallet, d("10018.39"));
    assert_eq!(s.unrealized, Decimal::ZERO);
    assert_eq!(s.pnl, d("18.39"));
    assert_eq!(s.realized_pnl, d("20"));
    assert_eq!(s.fees, d("0.11"));
    assert_eq!(s.funding, d("-1.5"));
    assert_eq!(s.max_drawdown, d("1.5"));
    assert_eq!(s.max_drawdown_pct.to_string(), "0.01");
    assert_eq!(s.first_bar, "2026-02-01 00:00:00.000");
    assert_eq!(s.violations, 1);
    assert_eq!(s.verdict, "FAIL");
    assert_eq!(s.violations_by_invariant.len(), Invariant::ALL.len());
    for inv in Invariant::ALL {
        let want = u64::from(inv == Invariant::Orphan);
        assert_eq!(s.violations_by_invariant[inv.name()], want);
    }
    let pass = summarize(&info(), &log, &[]);
    assert_eq!(pass.verdict, "PASS");
    assert!(pass.violations_by_invariant.values().all(|&n| n == 0));

    // summary.json shape: decimals as strings, round trip
    let j = serde_json::to_value(&s).unwrap();
    assert_eq!(j["pnl"], serde_json::json!("18.39"));
    assert_eq!(j["rejections_by_code"]["-1106"], serde_json::json!(1));
    let back: Summary = serde_json::from_value(j).unwrap();
    assert_eq!(back, s);
}

#[test]
fn terminal_table() {
    let s = summarize(&info(), &sample_log(), &sample_violations());
    let tbl = summary_table(&s, None);
    for want in [
        "bars",
        "481",
        "ambiguous bars",
        "orders",
        "fills",
        "pairs",
        "violations",
        "orphan",
        "PnL",
        "18.39",
        "max drawdown",
        "FAIL",
    ] {
        assert!(tbl.contains(want), "missing {want}:\n{tbl}");
    }
    assert!(
        !tbl.contains("one-leg"),
        "zero counts are not listed:\n{tbl}"
    );
    assert!(!tbl.contains("run time"));
    let timed = summary_table(&s, Some(std::time::Duration::from_millis(1234)));
    assert!(
        timed.contains("run time") && timed.contains("1.234 s"),
        "{timed}"
    );
}

#[test]
fn describe_every_event_kind() {
    let log = sample_log();
    for r in log.records() {
        let line = describe_event(&r.event);
        assert!(!line.is_empty());
        assert!(!line.contains('\n'));
    }
    let recs = log.records();
    assert!(describe_event(&recs[10].event).contains("-1106"));
    assert!(describe_event(&recs[8].event).contains("pair 1"));
    assert!(describe_event(&recs[13].event).contains("from algo 2"));
    assert!(describe_event(&recs[18].event).contains("timeout"));
    let n = describe_event(&Event::Engine(EngineEvent::Note {
        text: "a\nb".into(),
    }));
    assert_eq!(n, "note: a b");
}

const TOML: &str = "name = \"tp-fills\"\n# a ``` fence inside\n[engine]\nmonitor = \"stream\"\n";

#[test]
fn write_reports_files_deterministic_atomic() {
    let base = scratch("atomic");
    let dir = base.join("run");
    let log = sample_log();
    let vs = sample_violations();
    let s = summarize(&info(), &log, &vs);

    // a folder of someone else's files is refused and left as it was
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("stale.txt"), "old").unwrap();
    let e = write_reports(&dir, &s, &log, &vs, TOML).unwrap_err();
    assert!(
        e.to_string().contains("exists and is not an ocosim report"),
        "{e}"
    );
    assert_eq!(std::fs::read(dir.join("stale.txt")).unwrap(), b"old");
    // an old report (it carries the marker) with a stale file is replaced entirely
    std::fs::write(
        dir.join(ocosim::output::MARKER),
        ocosim::output::marker_text("run"),
    )
    .unwrap();

    write_reports(&dir, &s, &log, &vs, TOML).unwrap();
    let files = [
        "summary.json",
        "orders.csv",
        "fills.csv",
        "events.jsonl",
        "report.md",
        "report.html",
        ".ocosim-report",
    ];
    let read_all = || -> Vec<Vec<u8>> {
        files
            .iter()
            .map(|f| std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")))
            .collect()
    };
    let first = read_all();
    assert!(!dir.join("stale.txt").exists());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = files.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(names, want);

    write_reports(&dir, &s, &log, &vs, TOML).unwrap();
    assert_eq!(first, read_all(), "second write differs");

    // no temporary directory left next to it
    let leftovers: Vec<String> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // events.jsonl is the log verbatim
    assert_eq!(first[3], log.to_jsonl().into_bytes());
    // summary.json is the summary
    let back: Summary = serde_json::from_slice(&first[0]).unwrap();
    assert_eq!(back, s);

    let md = String::from_utf8(first[4].clone()).unwrap();
    assert!(md.starts_with("# ocosim report: tp-fills"));
    assert!(md.contains("**Verdict: FAIL"));
    assert!(md.contains("### orphan (1)"));
    assert!(md.contains("qty &lt;1&gt; &amp; more \\| pipes"), "{md}");
    assert!(!md.contains("<1>"));
    assert!(md.contains("| 2026-02-01 00:04:00.000 | 13 | exchange | ORDER_TRADE_UPDATE order 3"));
    assert!(
        md.contains("````toml\nname = \"tp-fills\""),
        "fence longer than the TOML's backticks"
    );
    assert!(md.trim_end().ends_with("````"));

    let html = String::from_utf8(first[5].clone()).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg"));
    assert_eq!(
        html.matches("<svg").count(),
        2,
        "equity and drawdown charts"
    );
    assert!(html.contains("<polyline"));
    assert!(!html.to_lowercase().contains("<script"));
    assert!(!html.contains("<1>"));
    assert!(html.contains("qty &lt;1&gt; &amp; more | pipes"));
    assert!(html.contains("#cf222e"), "red violation marker");
    assert!(html.contains("2026-02-01 00:00") && html.contains("2026-02-01 08:00"));
    assert!(html.contains("name = &quot;tp-fills&quot;"));
    assert!(html.contains("beyond liquidation") || !html.contains("<warn>"));
    assert!(!html.contains("<warn>"));

    let orders = String::from_utf8(first[1].clone()).unwrap();
    assert_eq!(orders.lines().count(), 5);
    let fills = String::from_utf8(first[2].clone()).unwrap();
    assert_eq!(fills.lines().count(), 3);

    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn write_reports_pass_and_empty_log() {
    let base = scratch("empty");
    let dir = base.join("nested").join("run");
    let log = EventLog::new();
    let s = summarize(&info(), &log, &[]);
    assert_eq!(s.pnl, Decimal::ZERO);
    write_reports(&dir, &s, &log, &[], "").unwrap();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("no data"));
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("No violations."));
    assert!(md.contains("PASS"));
    assert_eq!(
        std::fs::read_to_string(dir.join("events.jsonl")).unwrap(),
        ""
    );
    let _ = std::fs::remove_dir_all(&base);
}

/// The summary is read from the event log alone; on every shipped scenario it must tell the same
/// story as the exchange's and simulator's own counters (a missing or double event would show).
#[test]
fn summaries_from_events_agree_with_the_run_counters_on_every_scenario() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10);
    for f in files {
        let sc = ocosim::scenario::load(&f).unwrap();
        let r = sc.run();
        let s = ocosim::report::summarize_run(&sc, &r);
        let (x, sim) = (&r.output.exchange, &r.output.sim);
        let name = f.display();
        assert_eq!(s.orders, x.orders, "{name}: orders");
        assert_eq!(s.fills, x.fills, "{name}: fills");
        assert_eq!(s.rejections, x.rejections, "{name}: rejections");
        assert_eq!(s.liquidations, x.liquidations, "{name}: liquidations");
        assert_eq!(s.calls, sim.calls, "{name}: calls");
        assert_eq!(s.faults, sim.faults, "{name}: faults");
        // the summary shows Binance's 8 decimals of the exact books
        assert_eq!(
            s.final_wallet,
            binance(r.output.final_wallet),
            "{name}: wallet"
        );
        assert!(
            (s.final_wallet - r.output.final_wallet).abs() <= Decimal::new(5, 9),
            "{name}: wallet"
        );
        assert_eq!(
            s.unrealized,
            binance(r.output.final_unrealized),
            "{name}: unrealized"
        );
        assert_eq!(
            s.violations,
            r.violations.len() as u64,
            "{name}: violations"
        );
    }
}

/// `sim run`'s progress bar is fed by `run_with_progress`: its numbers only grow, stay within
/// 0..=1000, come often enough to draw a bar, and the run is the same as without them.
#[test]
fn progress_reports_grow_and_leave_the_run_unchanged() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/hedge-stream-link.toml");
    let sc = ocosim::scenario::load(&f).unwrap();
    let mut seen: Vec<u32> = Vec::new();
    let with = sc.run_with_progress(&mut |p| seen.push(p));
    let without = sc.run();
    assert_eq!(with.output.log.records(), without.output.log.records());
    assert!(seen.len() >= 50, "{} reports", seen.len());
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert!(seen.iter().all(|&p| p <= 1000));
    assert!(*seen.last().unwrap() >= 900, "{seen:?}");
}

#[test]
fn issue16_bug10_money_as_binance_reports_it() {
    // realized PnL, entry prices and balances are shown with Binance's 8 decimals (`13.04`, not
    // `13.039999999980`); the event log keeps the exact books
    let exact = "13.039999999980";
    let mut log = EventLog::new();
    log.push(
        t(1),
        Source::Exchange,
        ou(
            1,
            OrderType::Market,
            ExecType::Trade,
            OrderStatus::Filled,
            Side::Sell,
            ("1", "13.04"),
            "0.006519999999990",
            exact,
            None,
        ),
    );
    log.push(
        t(1),
        Source::Exchange,
        Event::AccountUpdate(AccountUpdate {
            reason: AccountReason::Order,
            wallet_balance: d("10013.033480000000"),
            balance_change: Decimal::ZERO,
            realized_pnl: d(exact),
            fee: d("0.006519999999990"),
            positions: vec![PositionRow {
                symbol: "BTCUSDT".into(),
                position_side: PositionSide::Both,
                amount: d("-1"),
                entry_price: d(exact),
                accumulated_realized: d(exact),
                liquidation_price: None,
            }],
        }),
    );
    log.push(
        t(2),
        Source::Exchange,
        equity("10013.033480000000", "0", "13.04"),
    );
    let s = summarize(&info(), &log, &[]);
    assert_eq!(s.realized_pnl.to_string(), "13.04");
    assert_eq!(s.fees.to_string(), "0.00652");
    assert_eq!(s.final_wallet.to_string(), "10013.03348");
    let j = serde_json::to_string(&s).unwrap();
    assert!(!j.contains("13.0399"), "{j}");
    let line = describe_event(&log.records()[1].event);
    assert!(line.contains("realized=13.04 "), "{line}");
    assert!(line.contains("@13.04"), "{line}");
    assert!(line.contains("wallet=10013.03348 "), "{line}");
    let line = describe_event(&log.records()[0].event);
    assert!(
        line.contains("rp=13.04 ") || line.ends_with("rp=13.04"),
        "{line}"
    );
    assert!(!line.contains("13.0399"), "{line}");
    let csv_text = fills_csv(&log).unwrap();
    assert!(csv_text.contains(",13.04000000,"), "{csv_text}");
    assert!(!csv_text.contains("13.0399"), "{csv_text}");
    // the log itself is untouched: the books balance to the last digit
    match &log.records()[1].event {
        Event::AccountUpdate(u) => assert_eq!(u.realized_pnl, d(exact)),
        _ => unreachable!(),
    }
    let dir = scratch("binance-precision");
    write_reports(&dir, &s, &log, &[], "").unwrap();
    for f in ["report.md", "report.html", "summary.json"] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        assert!(!text.contains("13.0399"), "{f}");
    }
}

// ---- #16: the price chart of report.html ----

use ocosim::exchange::BarTicks;

/// `n` one-minute bars from `T0`, prices in cents (tick 0.01) wandering around 100–121.
fn bars(n: usize) -> Vec<BarTicks> {
    let mut out = Vec::with_capacity(n);
    let mut p: i64 = 10_000;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let step = (x % 41) as i64 - 20;
        let o = p;
        p = (p + step).clamp(9_000, 12_100);
        let (h, l) = (o.max(p) + (x % 7) as i64, o.min(p) - (x % 5) as i64);
        out.push(BarTicks {
            t: T0 + i as i64 * 60_000,
            o,
            h,
            l,
            c: p,
        });
    }
    out
}

fn html_with(name: &str, log: &EventLog, vs: &[Violation], bars: &[BarTicks]) -> String {
    let base = scratch(name);
    let dir = base.join("run");
    let s = summarize(&info(), log, vs);
    let pb = PriceBars::within(bars, 60_000, d("0.01"), i64::MIN, i64::MAX);
    write_reports_with(&dir, &s, log, vs, TOML, Some(&pb)).unwrap();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let _ = std::fs::remove_dir_all(&base);
    html
}

/// The `<svg …>…</svg>` blocks of a page, in order.
fn svgs(html: &str) -> Vec<&str> {
    html.match_indices("<svg xmlns")
        .map(|(i, _)| {
            let end = html[i..].find("</svg>").unwrap();
            &html[i..i + end]
        })
        .collect()
}

/// The `<g class="leg …">` group whose tooltip contains `needle`.
fn leg_group<'a>(svg: &'a str, needle: &str) -> &'a str {
    svg.match_indices("<g class=\"leg ")
        .map(|(i, _)| &svg[i..i + svg[i..].find("</g>").unwrap()])
        .find(|g| g.contains(needle))
        .unwrap_or_else(|| panic!("no leg with {needle}"))
}

/// The numbers of the first `M x y H x2` of a path in `g`.
fn segment(g: &str) -> (f64, f64, f64) {
    let d = &g[g.find(" d=\"M").unwrap() + 5..];
    let (m, rest) = d.split_once('H').unwrap();
    let (x1, y) = m.split_once(' ').unwrap();
    let x2: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (x1.parse().unwrap(), y.parse().unwrap(), x2.parse().unwrap())
}

/// x of time `t` on a chart of `ML = 84`, 900 px of plot from `T0` over `minutes`.
fn x_at(t: TimeMs, minutes: i64) -> f64 {
    84.0 + (t.0 - T0) as f64 / (minutes * 60_000) as f64 * 900.0
}

#[test]
fn issue16_price_chart_draws_each_leg_from_placement_to_its_end_at_its_trigger() {
    let log = sample_log();
    let b = bars(481);
    let html = html_with("legs", &log, &sample_violations(), &b);
    let all = svgs(&html);
    // price overview, equity, drawdown, and one zoom for the one violation
    assert_eq!(all.len(), 4, "{}", all.len());
    let price = all[0];
    assert!(price.contains("<title>BTCUSDT price</title>"));
    // TP (algo 2): placed at minute 1, triggered at minute 4, at 120.00, in the TP colour
    let tp = leg_group(price, "algo 2 TAKE_PROFIT_MARKET");
    assert!(
        tp.contains("class=\"leg TP\"") && tp.contains("stroke=\"#1a7f37\""),
        "{tp}"
    );
    assert!(tp.contains("pair 1 TP"), "{tp}");
    assert!(
        tp.contains("@ 120.00 · 2026-02-01 00:01:00.000 → 2026-02-01 00:04:00.000"),
        "{tp}"
    );
    let (x1, y_tp, x2) = segment(tp);
    assert!((x1 - x_at(t(1), 481)).abs() < 0.06, "{x1}");
    assert!((x2 - x_at(t(4), 481)).abs() < 0.06, "{x2}");
    // the TP fill (order 3 at 120) sits at the leg's end, at the same height
    let fill_at = price
        .find("fill · order 3 SELL 1 @ 120.00")
        .expect("TP fill");
    let circle = &price[fill_at..];
    let d = &circle[circle.find("d=\"M").unwrap() + 4..];
    let (fx, rest) = d.split_once(' ').unwrap();
    let fy: f64 = rest.split('a').next().unwrap().parse().unwrap();
    assert!((fx.parse::<f64>().unwrap() + 4.0 - x2).abs() < 0.11);
    assert!((fy - y_tp).abs() < 0.01, "{fy} vs {y_tp}");
    // SL (algo 1) never ends: it rests to the end of the data, lower on the chart, in red
    let sl = leg_group(price, "algo 1 STOP_MARKET");
    assert!(sl.contains("class=\"leg SL\"") && sl.contains("stroke=\"#d1242f\""));
    assert!(
        sl.contains("@ 90.00 · 2026-02-01 00:01:00.000 → end of data · NEW"),
        "{sl}"
    );
    let (s1, y_sl, s2) = segment(sl);
    assert!(
        (s1 - x1).abs() < 0.01 && (s2 - 984.0).abs() < 0.01,
        "{s1} {s2}"
    );
    assert!(y_sl > y_tp, "90 is drawn below 120");
    // the entry fill is a blue triangle
    assert!(price.contains("class=\"fill entry\"><title>fill · order 1 BUY 1 @ 100.00"));
    // the violation is marked and links to its section
    assert!(price.contains("<a href=\"#v1\">") && html.contains("<h4 id=\"v1\">V1 · orphan #1"));
}

#[test]
fn issue16_each_violation_gets_a_zoomed_chart_of_its_trail() {
    let log = sample_log();
    let mut vs = sample_violations();
    let mut second = vs[0].clone();
    second.invariant = Invariant::BooksBalance;
    second.seq = Seq(17);
    second.time_ms = t(8 * 60);
    second.trail = vec![Seq(16), Seq(17)];
    vs.push(second);
    let html = html_with("zoom", &log, &vs, &bars(481));
    let all = svgs(&html);
    assert_eq!(all.len(), 5, "overview, equity, drawdown, two zooms");
    let zooms: Vec<&str> = all
        .iter()
        .copied()
        .filter(|s| s.contains("class=\"price zoom\""))
        .collect();
    assert_eq!(zooms.len(), 2);
    // V1 = orphan (first in invariant order): its trail spans minutes 1–4, so the window is
    // [0, 19] (15 bars of padding, clipped to the first bar)
    assert!(html.contains(
        "V1 zoomed: 2026-02-01 00:00:00.000 → 2026-02-01 00:19:00.000 UTC, pair 1 highlighted"
    ));
    let z1 = zooms
        .iter()
        .find(|z| z.contains("V1 orphan around"))
        .unwrap();
    assert_eq!(
        z1.matches("class=\"trail\"").count(),
        5,
        "one tick per trail event"
    );
    assert!(z1.contains("seq 13 · 2026-02-01 00:04:00.000 · ORDER_TRADE_UPDATE order 3"));
    // in the zoom the TP leg is long (minutes 1→4 of 19) and drawn thick: it is pair 1's
    let tp = leg_group(z1, "algo 2 TAKE_PROFIT_MARKET");
    let (x1, _, x2) = segment(tp);
    assert!((x1 - x_at(t(1), 19)).abs() < 0.06 && (x2 - x_at(t(4), 19)).abs() < 0.06);
    assert!(tp.contains("stroke-width=\"3\""));
    // candles at this zoom (1 bar ≈ 47 px), not per-pixel columns
    assert!(z1.contains("h14.0v"), "candle bodies");
    // the current violation's line is solid, and the chart's value axis has the tick's decimals
    assert!(z1.contains(">V1</text>"));
    // V2 (books-balance) at the end of the data gets its own zoom, ending at the last bar
    assert!(zooms
        .iter()
        .any(|z| z.contains("V2 books-balance around 2026-02-01 08:00:00.000")));
    assert!(html.contains("→ 2026-02-01 08:01:00.000 UTC"));
}

#[test]
fn issue16_axis_labels_are_formatted_and_start_at_the_first_bar() {
    let log = sample_log();
    // the bars start 10 minutes before the first event
    let mut b = bars(491);
    for (i, x) in b.iter_mut().enumerate() {
        x.t = T0 - 10 * 60_000 + i as i64 * 60_000;
    }
    let html = html_with("axes", &log, &sample_violations(), &b);
    let all = svgs(&html);
    let texts = |svg: &str| -> Vec<String> {
        svg.match_indices("<text ")
            .map(|(i, _)| {
                let s = &svg[i..];
                let a = s.find('>').unwrap() + 1;
                s[a..s.find("</text>").unwrap()].to_string()
            })
            .collect()
    };
    // price axis: two decimals (tick 0.01); equity axis: cents, never raw Decimal digits
    let price_labels: Vec<String> = texts(all[0])
        .into_iter()
        .filter(|t| t.parse::<f64>().is_ok())
        .collect();
    assert!(price_labels.len() >= 4, "{price_labels:?}");
    assert!(price_labels
        .iter()
        .all(|l| l.split('.').nth(1).map(str::len) == Some(2)));
    let eq: Vec<String> = texts(all[1])
        .into_iter()
        .filter(|t| t.parse::<f64>().is_ok())
        .collect();
    assert!(eq.len() >= 3, "{eq:?}");
    assert!(
        eq.iter()
            .all(|l| l.split('.').nth(1).map(str::len) == Some(2)),
        "{eq:?}"
    );
    assert!(!all[1].contains("10019.89000"), "no raw digits");
    // time axis: UTC clock labels, the date under the first tick, a caption from the first bar
    let tl = texts(all[1]);
    assert!(tl.iter().any(|t| t == "00:00"), "{tl:?}");
    assert!(tl.iter().any(|t| t == "2026-02-01"));
    assert!(
        tl.iter()
            .any(|t| t == "time (UTC) · 2026-01-31 23:50 → 2026-02-01 08:01"),
        "{tl:?}"
    );
    // the equity line starts 10 minutes into the axis (its first event), not at its left edge
    let pl = &all[1][all[1].find("<polyline points=\"").unwrap() + 18..];
    let first_x: f64 = pl.split(',').next().unwrap().parse().unwrap();
    assert!(
        (first_x - x_at(TimeMs(T0 + 10 * 60_000), 491)).abs() < 0.06,
        "{first_x}"
    );
    assert!(first_x > 84.0 + 15.0);
}

#[test]
fn issue16_a_year_of_one_minute_bars_stays_small_and_deterministic() {
    let log = sample_log();
    let b = bars(365 * 1440);
    let html = html_with("year", &log, &sample_violations(), &b);
    let again = html_with("year2", &log, &sample_violations(), &b);
    assert_eq!(html, again, "same bytes");
    let price = svgs(&html)[0];
    // high–low per pixel column: at most one per column of the 900 px plot, no candle bodies
    let cols = price.matches("V").count();
    assert!(cols <= 1000, "{cols}");
    assert!(!price.contains("fill=\"#ffffff\""), "no candle bodies");
    assert!(html.len() < 250_000, "{} bytes", html.len());
    // the time axis is in months
    assert!(price.contains(">2026-03</text>"), "month ticks");
}

#[test]
fn issue16_the_shipped_reports_draw_legs_fills_and_a_zoom_per_violation() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/whipsaw-slow-poll.toml");
    let sc = ocosim::scenario::load(&f).unwrap();
    let r = sc.run();
    assert!(!r.violations.is_empty());
    let s = ocosim::report::summarize_run(&sc, &r);
    let (a, z) = r.output.span;
    let pb = PriceBars::within(&sc.bars, sc.interval_ms, sc.spec.tick_size, a.0, z.0);
    let base = scratch("shipped");
    let dir = base.join("run");
    write_reports_with(&dir, &s, &r.output.log, &r.violations, &sc.text, Some(&pb)).unwrap();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let _ = std::fs::remove_dir_all(&base);
    let all = svgs(&html);
    let zooms = all
        .iter()
        .filter(|s| s.contains("class=\"price zoom\""))
        .count();
    assert_eq!(zooms, r.violations.len().min(ZOOM_LIMIT));
    let price = all[0];
    let pairs = s.pairs as usize;
    assert!(pairs > 0);
    assert!(
        price.matches("class=\"leg SL\"").count() >= pairs,
        "an SL segment per pair"
    );
    assert!(
        price.matches("class=\"leg TP\"").count() >= pairs,
        "a TP segment per pair"
    );
    assert_eq!(
        price.matches("<g class=\"fill ").count(),
        s.fills as usize,
        "every fill"
    );
    for n in 1..=r.violations.len() {
        assert!(html.contains(&format!("<h4 id=\"v{n}\">V{n} · ")));
    }
    assert!(!html.to_lowercase().contains("<script"));
    assert_eq!(
        html.matches("http").count(),
        html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count(),
        "nothing fetched: the only URLs are SVG namespaces"
    );
}
