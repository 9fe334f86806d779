//! Things that happen behind the engine's back (`[[external]]`) and partial manual closes: the
//! venue performs each act at its time, with Binance's events, and the books stay exact.

use ocosim::events::{AccountReason, Event, EventRecord, ExecType};
use ocosim::types::{AlgoStatus, ExpiryReason, OrderStatus, OrderType, PositionSide};
use rust_decimal::Decimal;
use std::path::PathBuf;
use std::str::FromStr;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// One hedge-mode long on a day of AVAXUSDT (SL/TP 5 % away: neither fires that day), with the
/// given profile, API era and extra TOML (manual closes go before the tables).
fn text(profile: &str, api: &str, top: &str, extra: &str) -> String {
    let data = root().join("data/binance-um/klines/AVAXUSDT/1m/AVAXUSDT-1m-2026-02.csv");
    format!(
        r#"name = "external"
{top}
[data]
klines = ["{}"]
from = "2026-02-01"
to = "2026-02-02"

[exchange]
position_mode = "hedge"
api = "{api}"

[engine]
profile = "{profile}"

[signals]
inline = [ {{ at = "2026-02-01T02:00", action = "buy", quantity = "10", sl_pct = "0.05", tp_pct = "0.05" }} ]
{extra}
"#,
        data.display()
    )
}

fn load(name: &str, text: &str) -> Result<ocosim::scenario::Scenario, String> {
    let dir = std::env::temp_dir().join(format!("ocosim-external-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("s.toml");
    std::fs::write(&file, text).unwrap();
    let r = ocosim::scenario::load(&file).map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn run(name: &str, text: &str) -> (Vec<EventRecord>, Vec<ocosim::invariants::Violation>) {
    let sc = load(name, text).unwrap();
    let r = sc.run();
    (r.output.log.records().to_vec(), r.violations)
}

/// The `External` records: (index, acted, outcome).
fn acts(log: &[EventRecord]) -> Vec<(usize, bool, String)> {
    log.iter()
        .filter_map(|r| match &r.event {
            Event::External {
                index,
                acted,
                outcome,
                ..
            } => Some((*index, *acted, outcome.clone())),
            _ => None,
        })
        .collect()
}

/// Position amount of a side after the last ACCOUNT_UPDATE that names it.
fn position(log: &[EventRecord], ps: PositionSide) -> Decimal {
    let mut amt = Decimal::ZERO;
    for r in log {
        if let Event::AccountUpdate(u) = &r.event {
            for p in u.positions.iter().filter(|p| p.position_side == ps) {
                amt = p.amount;
            }
        }
    }
    amt
}

fn at_ms(s: &str) -> i64 {
    ocosim::types::parse_time_ms(s).unwrap()
}

#[test]
fn a_stop_cancelled_behind_the_back_is_cancelled_at_its_time_and_the_reference_re_arms_it() {
    let t = text(
        "reference",
        "algo",
        "",
        "[[external]]\nat = \"2026-02-01T03:00:00.250\"\nact = \"cancel_leg\"\npair = 1\nleg = \"stop_loss\"\n",
    );
    let (log, v) = run("cancel", &t);
    let a = acts(&log);
    assert_eq!(a.len(), 1);
    assert!(a[0].1, "{a:?}");
    // the record, then the venue's own ALGO_UPDATE CANCELED for the stop, at the act's time
    let i = log
        .iter()
        .position(|r| matches!(r.event, Event::External { .. }))
        .unwrap();
    assert_eq!(log[i].time_ms.0, at_ms("2026-02-01T03:00:00.250"));
    let Event::AlgoUpdate(u) = &log[i + 1].event else {
        panic!("{:?}", log[i + 1])
    };
    assert_eq!(u.status, AlgoStatus::Canceled);
    assert_eq!(u.order_type, OrderType::StopMarket);
    assert_eq!(log[i + 1].time_ms, log[i].time_ms);
    // the reference engine notices and places a new stop
    let rearmed = log[i..].iter().any(|r| {
        matches!(&r.event, Event::AlgoUpdate(u)
            if u.status == AlgoStatus::New && u.order_type == OrderType::StopMarket)
    });
    assert!(rearmed, "a new stop after the cancel");
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn a_legacy_leg_expired_by_the_venue_reads_expired_and_v1_1_80_takes_it_for_a_fill() {
    let t = text(
        "tradeengine-v1.1.80",
        "legacy",
        "",
        "[[external]]\nat = \"2026-02-01T03:00\"\nact = \"expire_leg\"\npair = \"latest\"\nleg = \"take_profit\"\n",
    );
    let (log, v) = run("expire", &t);
    let i = log
        .iter()
        .position(|r| matches!(r.event, Event::External { .. }))
        .unwrap();
    let Event::OrderTradeUpdate(o) = &log[i + 1].event else {
        panic!("{:?}", log[i + 1])
    };
    assert_eq!(
        (o.exec_type, o.status, o.expiry_reason),
        (ExecType::Expired, OrderStatus::Expired, ExpiryReason::None)
    );
    assert_eq!(o.orig_type, OrderType::TakeProfitMarket);
    // W7: the monitor counts the missing TP as filled and cancels the stop: the position is naked
    assert!(
        v.iter()
            .any(|x| x.invariant == ocosim::invariants::Invariant::NakedPosition),
        "{v:?}"
    );
}

#[test]
fn an_adl_fills_at_the_path_price_without_fee_and_the_books_balance_exactly() {
    let t = text(
        "reference",
        "algo",
        "",
        "[[external]]\nat = \"2026-02-01T04:00\"\nact = \"adl\"\nfraction = 0.3\nposition_side = \"LONG\"\n",
    );
    let sc = load("adl", &t).unwrap();
    let r = sc.run();
    let log = r.output.log.records();
    let i = log
        .iter()
        .position(|r| matches!(r.event, Event::External { .. }))
        .unwrap();
    let Event::OrderTradeUpdate(o) = &log[i + 1].event else {
        panic!()
    };
    assert_eq!(o.client_order_id, "adl_autoclose");
    assert_eq!(
        (o.order_type, o.exec_type, o.status),
        (
            OrderType::Liquidation,
            ExecType::Calculated,
            OrderStatus::Filled
        )
    );
    assert_eq!(o.last_qty, d("3"), "0.3 of 10");
    assert_eq!(o.commission, Decimal::ZERO);
    // the price of the path at 04:00: the bar opening then starts at its open
    let bar = sc
        .bars
        .iter()
        .find(|b| b.t == at_ms("2026-02-01T04:00"))
        .unwrap();
    let px = sc.spec.price(bar.o);
    assert_eq!(o.last_price, px);
    // realized = (price − entry) × qty, exactly
    let entry = log
        .iter()
        .find_map(|r| match &r.event {
            Event::AccountUpdate(u) if !u.positions.is_empty() => Some(u.positions[0].entry_price),
            _ => None,
        })
        .unwrap();
    assert_eq!(o.realized_pnl, (px - entry) * d("3"));
    let Event::AccountUpdate(u) = &log[i + 2].event else {
        panic!()
    };
    assert_eq!(u.reason, AccountReason::Order);
    assert_eq!(u.fee, Decimal::ZERO);
    assert_eq!(u.positions[0].amount, d("7"));
    // wallet = initial + Σ realized − Σ fees, exactly, and the run's final wallet says the same
    let (mut realized, mut fees) = (Decimal::ZERO, Decimal::ZERO);
    for r in log {
        if let Event::AccountUpdate(u) = &r.event {
            realized += u.realized_pnl;
            fees += u.fee;
            assert_eq!(u.balance_change, Decimal::ZERO);
        }
    }
    assert_eq!(r.output.final_wallet, d("10000") + realized - fees);
    assert_eq!(position(log, PositionSide::Long), d("7"));
    // the reference's closePosition legs cover what is left: nothing to report
    assert!(r.violations.is_empty(), "{:?}", r.violations);
}

#[test]
fn an_adl_of_the_whole_position_expires_the_gte_legs_and_is_no_liquidation() {
    let t = text(
        "reference",
        "algo",
        "",
        "[[external]]\nat = \"2026-02-01T04:00\"\nact = \"adl\"\nquantity = \"25\"\nposition_side = \"LONG\"\n",
    );
    let (log, v) = run("adl-all", &t);
    assert_eq!(position(&log, PositionSide::Long), Decimal::ZERO);
    let i = log
        .iter()
        .position(|r| matches!(r.event, Event::External { .. }))
        .unwrap();
    let expired = log[i..]
        .iter()
        .take(6)
        .filter(|r| matches!(&r.event, Event::AlgoUpdate(u) if u.status == AlgoStatus::Expired))
        .count();
    assert_eq!(expired, 2, "both GTE_GTC legs expire with the position");
    // not counted as a liquidation with a stop resting (stop-beyond-liquidation)
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn acts_that_find_nothing_are_logged_as_no_ops_and_change_nothing() {
    let extra = "[[external]]\nat = \"2026-02-01T01:00\"\nact = \"adl\"\nfraction = 1\nposition_side = \"LONG\"\n\
                 [[external]]\nat = \"2026-02-01T03:00\"\nact = \"cancel_leg\"\npair = 2\nleg = \"both\"\n\
                 [[external]]\nat = \"2026-02-01T03:00\"\nact = \"adl\"\nfraction = 0.5\nposition_side = \"SHORT\"\n";
    let (log, v) = run("noop", &text("reference", "algo", "", extra));
    let a = acts(&log);
    assert_eq!(
        a.iter().map(|x| (x.0, x.1)).collect::<Vec<_>>(),
        vec![(0, false), (1, false), (2, false)]
    );
    // the run is the run without them, record for record
    let (plain, _) = run("plain", &text("reference", "algo", "", ""));
    let strip: Vec<String> = log
        .iter()
        .filter(|r| !matches!(r.event, Event::External { .. }))
        .map(|r| format!("{} {:?}", r.time_ms.0, r.event))
        .collect();
    let plain: Vec<String> = plain
        .iter()
        .map(|r| format!("{} {:?}", r.time_ms.0, r.event))
        .collect();
    assert_eq!(strip, plain);
    assert!(v.is_empty());
}

#[test]
fn a_partial_manual_close_leaves_the_rest_and_the_reference_keeps_it_protected() {
    for (top, left) in [
        ("manual_closes = [ { at = \"2026-02-01T04:00\", position_side = \"LONG\", quantity = \"4\" } ]", "6"),
        // 0.35 of 10 is 3.5: the reference floors to the step (1 AVAX)
        ("manual_closes = [ { at = \"2026-02-01T04:00\", position_side = \"LONG\", fraction = 0.35 } ]", "7"),
    ] {
        let (log, v) = run("partial", &text("reference", "algo", top, ""));
        assert_eq!(position(&log, PositionSide::Long), d(left), "{top}");
        // both legs still rest at the end (closePosition: they cover what is left)
        let mut open = std::collections::BTreeSet::new();
        for r in &log {
            if let Event::AlgoUpdate(u) = &r.event {
                if u.status.is_open() {
                    open.insert(u.algo_id);
                } else {
                    open.remove(&u.algo_id);
                }
            }
        }
        assert_eq!(open.len(), 2, "{top}");
        assert!(v.is_empty(), "{top}: {v:?}");
    }
}

#[test]
fn a_partial_manual_close_in_v1_1_80_is_refused_locally_like_a_whole_one() {
    // v1.1.80 books the ACK amount (0) as its position: half of 0 is refused before sending, and
    // cancel_oco_pair cannot cancel (W4): the position and both legs stay as they were
    let top = "manual_closes = [ { at = \"2026-02-01T04:00\", position_side = \"LONG\", fraction = 0.5 } ]";
    let (log, v) = run(
        "partial-80",
        &text("tradeengine-v1.1.80", "legacy", top, ""),
    );
    assert_eq!(position(&log, PositionSide::Long), d("10"));
    let cancels = log
        .iter()
        .filter(
            |r| matches!(&r.event, Event::OrderTradeUpdate(o) if o.exec_type == ExecType::Canceled),
        )
        .count();
    assert_eq!(cancels, 0);
    assert!(log.iter().any(|r| matches!(&r.event,
        Event::Engine(ocosim::events::EngineEvent::Note { text })
            if text.contains("manual close AVAXUSDT LONG qty 0: failed"))));
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn a_manual_close_with_a_given_quantity_is_sent_as_given_by_v1_1_80_and_leaves_both_legs() {
    // the live `close_position_with_cleanup(quantity)` sends its caller's quantity although the
    // local book holds the ACK's 0 (the engine's own manual scripts pass one); cancel_oco_pair
    // cannot cancel (W4): the side is flat and both legs rest (the real engine does the same:
    // tests/fixtures/wire/v1.1.80/weak-points/W4-close-with-exchange-quantity.jsonl.gz)
    let top = "manual_closes = [ { at = \"2026-02-01T04:00\", position_side = \"LONG\", quantity = \"10\" } ]";
    let (log, v) = run("qty-80", &text("tradeengine-v1.1.80", "legacy", top, ""));
    assert_eq!(position(&log, PositionSide::Long), d("0"));
    assert!(log.iter().any(|r| matches!(&r.event,
        Event::Engine(ocosim::events::EngineEvent::Note { text })
            if text.contains("manual close AVAXUSDT LONG qty 10: closed"))));
    assert!(
        v.iter()
            .any(|x| x.invariant == ocosim::invariants::Invariant::Orphan),
        "{v:?}"
    );
    // the reference reads positionRisk and sends nothing for a side it sees flat; here the side
    // holds 10, so the same close goes through and close-then-cancel removes both legs
    let (log, v) = run("qty-ref", &text("reference", "algo", top, ""));
    assert_eq!(position(&log, PositionSide::Long), d("0"));
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn bad_external_input_is_one_line_naming_the_field() {
    let cases: [(&str, &str); 8] = [
        (
            "act = \"cancel_leg\"\npair = 0\nleg = \"both\"",
            "field `external[0].pair`: 0 is out of range",
        ),
        (
            "act = \"cancel_leg\"\npair = \"first\"\nleg = \"both\"",
            "field `external[0].pair`: `first`: give a pair number",
        ),
        (
            "act = \"cancel_leg\"\npair = 1.5\nleg = \"both\"",
            "field `external[0].pair`: invalid type",
        ),
        (
            "act = \"cancel_leg\"\nleg = \"both\"",
            "field `external[0]`: act = \"cancel_leg\" needs `pair = N`",
        ),
        (
            "act = \"expire_leg\"\npair = 1",
            "needs `leg = \"stop_loss\"`",
        ),
        (
            "act = \"adl\"\nposition_side = \"LONG\"",
            "an ADL needs `quantity",
        ),
        (
            "act = \"adl\"\nfraction = 1.5\nposition_side = \"LONG\"",
            "field `external[0].fraction`: 1.5 is out of range",
        ),
        (
            "act = \"adl\"\nfraction = 0.5",
            "in hedge mode an ADL needs `position_side",
        ),
    ];
    for (body, want) in cases {
        let t = text(
            "reference",
            "algo",
            "",
            &format!("[[external]]\nat = \"2026-02-01T03:00\"\n{body}\n"),
        );
        let e = load("bad", &t).unwrap_err();
        assert!(e.contains(want), "{body}: {e}");
        assert!(!e.contains('\n'));
        assert!(e.contains("s.toml:"), "names the file and line: {e}");
    }
    let top = "manual_closes = [ { at = \"2026-02-01T04:00\", position_side = \"LONG\", quantity = \"1\", fraction = 0.5 } ]";
    let e = load("bad-manual", &text("reference", "algo", top, "")).unwrap_err();
    assert!(
        e.contains("field `manual_closes[0].fraction`: give `quantity` or `fraction`, not both"),
        "{e}"
    );
    let e = load(
        "bad-symbol",
        &text(
            "reference",
            "algo",
            "",
            "[[external]]\nat = \"2026-02-01T03:00\"\nsymbol = \"BTCUSDT\"\nact = \"cancel_leg\"\npair = 1\nleg = \"both\"\n",
        ),
    )
    .unwrap_err();
    assert!(
        e.contains("field `external[0].symbol`: `BTCUSDT` is not the symbol"),
        "{e}"
    );
}

#[test]
fn sim_check_warns_about_acts_that_can_never_hit_and_bad_input_exits_2() {
    let dir = std::env::temp_dir().join(format!("ocosim-external-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("s.toml");
    let extra = "[[external]]\nat = \"2026-03-01T03:00\"\nact = \"cancel_leg\"\npair = 1\nleg = \"both\"\n\
                 [[external]]\nat = \"2026-02-01T03:00\"\nact = \"expire_leg\"\npair = 2\nleg = \"both\"\n";
    std::fs::write(&file, text("reference", "algo", "", extra)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["check", file.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("external[0] at 2026-03-01 03:00"), "{err}");
    assert!(err.contains("outside the data"), "{err}");
    assert!(err.contains("external[1] names pair 2"), "{err}");
    std::fs::write(
        &file,
        text(
            "reference",
            "algo",
            "",
            "[[external]]\nat = \"2026-02-01T03:00\"\nact = \"adl\"\n",
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["check", file.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("s.toml:"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn acts_are_deterministic_and_the_same_with_and_without_idle_poll_skipping() {
    let extra = "[[external]]\nat = \"2026-02-01T03:00:00.250\"\nact = \"cancel_leg\"\npair = \"latest\"\nleg = \"take_profit\"\n\
                 [[external]]\nat = \"2026-02-01T06:00\"\nact = \"adl\"\nquantity = \"2\"\nposition_side = \"LONG\"\n";
    let a = run("det", &text("tradeengine-2026-08", "algo", "", extra)).0;
    let b = run("det", &text("tradeengine-2026-08", "algo", "", extra)).0;
    assert_eq!(a, b);
    let c = run(
        "det-noskip",
        &text("tradeengine-2026-08", "algo", "", extra).replace(
            "profile = \"tradeengine-2026-08\"",
            "profile = \"tradeengine-2026-08\"\nskip_idle_polls = false",
        ),
    )
    .0;
    assert_eq!(a, c, "skipping idle polls never moves an act");
    assert_eq!(acts(&a).len(), 2);
    assert!(acts(&a).iter().all(|x| x.1));
}

#[test]
fn the_readme_example_acts_three_times_and_the_reference_passes() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("```toml\nname = \"behind-the-back\"")
        .expect("the README shows the example");
    let body = &readme[start + 8..];
    let body = &body[..body.find("```").unwrap()];
    let text = body.replace("\"../", &format!("\"{}/", root().display()));
    let sc = load("readme", &text).unwrap();
    let r = sc.run();
    let log = r.output.log.records();
    let a = acts(log);
    assert_eq!(a.len(), 3);
    assert!(a.iter().all(|x| x.1), "{a:?}");
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    // the manual close took a quarter of the third position (10 → 8 after flooring 2.5 to 2)
    assert!(log.iter().any(|r| matches!(&r.event,
        Event::Engine(ocosim::events::EngineEvent::Note { text })
            if text.starts_with("manual close AVAXUSDT LONG qty 2.5"))));
}
