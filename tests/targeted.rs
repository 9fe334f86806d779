//! Targeted faults (`[faults] targeted`): the role of a request is read by the venue from the
//! request itself, so one target hits the same request under every profile, whatever its timing.

use ocosim::api::{CallError, Endpoint};
use ocosim::events::{CallOutcome, Event, EventRecord, RequestParams};
use ocosim::types::{OrderType, PositionSide, Side};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const PROFILES: [(&str, &str); 4] = [
    ("reference", "algo"),
    ("tradeengine-v1.1.78", "legacy"),
    ("tradeengine-v1.1.80", "legacy"),
    ("tradeengine-2026-08", "algo"),
];

/// Three hedge-mode pairs on a week of AVAXUSDT (long, short, long), one per day.
fn scenario_text(profile: &str, api: &str, faults: &str) -> String {
    let data = root().join("data/binance-um/klines/AVAXUSDT/1m/AVAXUSDT-1m-2026-02.csv");
    format!(
        r#"name = "targeted"
seed = 3

[data]
klines = ["{}"]
from = "2026-02-01"
to = "2026-02-06"

[exchange]
position_mode = "hedge"
api = "{api}"

[engine]
profile = "{profile}"
monitor = "poll"

[signals]
inline = [
  {{ at = "2026-02-01T02:00", action = "buy",  quantity = "10", sl_pct = "0.015", tp_pct = "0.03" }},
  {{ at = "2026-02-02T02:00", action = "sell", quantity = "10", sl_pct = "0.015", tp_pct = "0.03" }},
  {{ at = "2026-02-03T02:00", action = "buy",  quantity = "10", sl_pct = "0.015", tp_pct = "0.03" }},
]

[faults]
{faults}
"#,
        data.display()
    )
}

fn load(name: &str, text: &str) -> Result<ocosim::scenario::Scenario, String> {
    let dir = std::env::temp_dir().join(format!("ocosim-targeted-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let r = ocosim::scenario::load(&file).map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    r
}

/// The call numbers the targeted faults answered, with their request and logged answer.
fn hits(log: &[EventRecord]) -> Vec<(u64, Endpoint, RequestParams, CallOutcome)> {
    let mut out = Vec::new();
    for (i, r) in log.iter().enumerate() {
        let Event::Warning { code, text } = &r.event else {
            continue;
        };
        if code != "targeted-fault" {
            continue;
        }
        let call: u64 = text
            .split("answers call ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("the warning names the call");
        let req = log[i..].iter().find_map(|r| match &r.event {
            Event::Request {
                call: c,
                endpoint,
                params,
                ..
            } if *c == call => Some((*endpoint, params.clone())),
            _ => None,
        });
        let resp = log[i..].iter().find_map(|r| match &r.event {
            Event::Response {
                call: c, outcome, ..
            } if *c == call => Some(outcome.clone()),
            _ => None,
        });
        let (ep, p) = req.expect("the hit request is logged");
        out.push((call, ep, p, resp.expect("the hit answer is logged")));
    }
    out
}

fn entry_times(log: &[EventRecord]) -> Vec<i64> {
    // arrival of each entry request (not reduce-only, opening side)
    log.iter()
        .filter_map(|r| match &r.event {
            Event::Request {
                params: RequestParams::Order(o),
                ..
            } if o.order_type == OrderType::Market
                && o.reduce_only != Some(true)
                && matches!(
                    (o.position_side, o.side),
                    (Some(PositionSide::Long), Side::Buy) | (Some(PositionSide::Short), Side::Sell)
                ) =>
            {
                Some(r.time_ms.0)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn take_profit_of_pair_2_is_hit_under_every_profile() {
    let t = r#"targeted = [ { request = "place", leg = "take_profit", pair = 2, times = "once", answer = "-2021" } ]"#;
    for (profile, api) in PROFILES {
        let sc = load(profile, &scenario_text(profile, api, t)).unwrap();
        let run = sc.run();
        let log = run.output.log.records();
        let h = hits(log);
        if profile == "tradeengine-v1.1.78" {
            // W1: the released OCO sizes its legs from a zero amount and never places them
            let tps = log
                .iter()
                .filter(|r| {
                    matches!(&r.event,
                Event::Request { params: RequestParams::Order(o), .. }
                    if o.order_type == OrderType::TakeProfitMarket)
                })
                .count();
            assert_eq!((tps, h.len()), (0, 0), "{profile}: {h:?}");
            continue;
        }
        assert_eq!(h.len(), 1, "{profile}: one hit: {h:?}");
        let (_, ep, params, outcome) = &h[0];
        // the second position is the short: its take-profit buys back, below the entry
        let (otype, side, ps) = match params {
            RequestParams::Order(o) => (o.order_type, o.side, o.position_side),
            RequestParams::Algo(a) => (a.order_type, a.side, a.position_side),
            RequestParams::Other(s) => panic!("{profile}: a placement, not {s}"),
        };
        assert!(
            matches!(otype, OrderType::TakeProfitMarket | OrderType::TakeProfit),
            "{profile}: {otype:?}"
        );
        assert_eq!(
            (side, ps),
            (Side::Buy, Some(PositionSide::Short)),
            "{profile}"
        );
        let want_ep = if api == "legacy" {
            Endpoint::NewOrder
        } else {
            Endpoint::NewAlgoOrder
        };
        assert_eq!(*ep, want_ep, "{profile}");
        match outcome {
            CallOutcome::Rejected(e) => {
                assert_eq!((e.http, e.code), (400, -2021), "{profile}");
                assert_eq!(e.msg, "Order would immediately trigger.");
            }
            o => panic!("{profile}: {o:?}"),
        }
        // between the second and the third entry
        let entries = entry_times(log);
        assert!(entries.len() >= 3, "{profile}: {entries:?}");
        let at = log
            .iter()
            .find(|r| matches!(&r.event, Event::Response { call, .. } if *call == h[0].0))
            .unwrap()
            .time_ms
            .0;
        assert!(
            entries[1] < at && at < entries[2],
            "{profile}: hit at {at}, entries {entries:?}"
        );
    }
}

#[test]
fn nth_call_of_an_endpoint_and_counts() {
    // the 2nd and 3rd entries (calls 2 and 3 to POST /fapi/v1/order under the algo API, where
    // only entries go there) time out without reaching the venue
    let t = r#"targeted = [ { call = "POST /fapi/v1/order", nth = 2, times = 2, answer = "timeout", reached = false } ]"#;
    let sc = load("nth", &scenario_text("reference", "algo", t)).unwrap();
    let run = sc.run();
    let h = hits(run.output.log.records());
    assert_eq!(h.len(), 2, "{h:?}");
    for (_, ep, p, o) in &h {
        assert_eq!(*ep, Endpoint::NewOrder);
        assert!(matches!(p, RequestParams::Order(o) if o.order_type == OrderType::Market));
        assert!(
            matches!(o, CallOutcome::Fault { reached: false, .. }),
            "{o:?}"
        );
    }
    // calls are counted per endpoint: the hit calls are the 2nd and 3rd to it
    let calls: Vec<u64> = run
        .output
        .log
        .records()
        .iter()
        .filter_map(|r| match &r.event {
            Event::Request {
                call,
                endpoint: Endpoint::NewOrder,
                ..
            } => Some(*call),
            _ => None,
        })
        .collect();
    assert_eq!(h[0].0, calls[1]);
    assert_eq!(h[1].0, calls[2]);
}

#[test]
fn every_cancel_of_any_leg_answers_503_under_every_profile() {
    let t = r#"targeted = [ { request = "cancel", leg = "any", times = "always", answer = "503", reached = true } ]"#;
    for (profile, api) in PROFILES {
        let sc = load(profile, &scenario_text(profile, api, t)).unwrap();
        let run = sc.run();
        let log = run.output.log.records();
        let h = hits(log);
        let cancels = log
            .iter()
            .filter(|r| {
                matches!(
                    &r.event,
                    Event::Request {
                        endpoint: Endpoint::CancelOrder | Endpoint::CancelAlgoOrder,
                        ..
                    }
                )
            })
            .count();
        // every single-order cancel is hit, nothing else
        assert_eq!(h.len(), cancels, "{profile}");
        if profile == "tradeengine-v1.1.80" {
            assert!(cancels > 0, "{profile} cancels survivors");
        }
        for (_, ep, _, o) in &h {
            assert!(
                matches!(ep, Endpoint::CancelOrder | Endpoint::CancelAlgoOrder),
                "{profile}: {ep:?}"
            );
            assert!(
                matches!(o, CallOutcome::Fault { reached: true, .. }),
                "{profile}: {o:?}"
            );
        }
    }
}

#[test]
fn a_cancel_is_recognised_by_the_order_it_names() {
    // v1.1.80 cancels pair 1's take-profit once its stop-loss fills (legacy orders, by orderId)
    let run = |t: &str| {
        load(
            "leg-cancel",
            &scenario_text("tradeengine-v1.1.80", "legacy", t),
        )
        .unwrap()
        .run()
    };
    let miss = run(
        r#"targeted = [ { request = "cancel", leg = "stop_loss", pair = 1, answer = "-2011" } ]"#,
    );
    assert!(hits(miss.output.log.records()).is_empty());
    let miss = run(
        r#"targeted = [ { request = "cancel", leg = "take_profit", pair = 2, answer = "-2011" } ]"#,
    );
    assert!(hits(miss.output.log.records()).is_empty());
    let r = run(
        r#"targeted = [ { request = "cancel", leg = "take_profit", pair = 1, answer = "-2011" } ]"#,
    );
    let log = r.output.log.records();
    let h = hits(log);
    assert_eq!(h.len(), 1, "{h:?}");
    let (_, ep, p, o) = &h[0];
    assert_eq!(*ep, Endpoint::CancelOrder);
    let RequestParams::Other(q) = p else {
        panic!("{p:?}")
    };
    // the order it names is pair 1's take-profit
    let id: u64 = q.split("orderId=").nth(1).unwrap().parse().unwrap();
    let placed = log
        .iter()
        .find_map(|r| match &r.event {
            Event::Response {
                outcome: CallOutcome::Ok(s),
                call,
                ..
            } if s.starts_with(&format!("orderId={id} ")) => Some(*call),
            _ => None,
        })
        .expect("the cancelled order was placed");
    let req = log
        .iter()
        .find_map(|r| match &r.event {
            Event::Request {
                call,
                params: RequestParams::Order(a),
                ..
            } if *call == placed => Some(a.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(req.order_type, OrderType::TakeProfitMarket);
    assert_eq!(req.position_side, Some(PositionSide::Long));
    assert!(
        matches!(o, CallOutcome::Rejected(e) if e.code == -2011 && e.msg == "Unknown order sent.")
    );
}

#[test]
fn status_answers_and_their_wire_form() {
    // 502 with the request executed, then 429 and 418 on later entries
    let t = r#"targeted = [
  { request = "place", leg = "entry", pair = 1, answer = "502", reached = true },
  { request = "place", leg = "entry", pair = 2, answer = "429" },
  { request = "place", leg = "entry", pair = 3, answer = 418 },
]"#;
    let sc = load("status", &scenario_text("reference", "algo", t)).unwrap();
    let run = sc.run();
    let h = hits(run.output.log.records());
    assert!(h.len() >= 3, "{h:?}");
    assert!(matches!(
        &h[0].3,
        CallOutcome::Fault {
            error: ocosim::api::TransportError::ServerStatus(502),
            reached: true
        }
    ));
    let e = CallError::Transport(ocosim::api::TransportError::ServerStatus(502));
    assert!(e.to_string().starts_with("HTTP 502"));
    assert!(h
        .iter()
        .any(|x| matches!(&x.3, CallOutcome::Rejected(e) if e.http == 429 && e.code == -1003)));
    assert!(h
        .iter()
        .any(|x| matches!(&x.3, CallOutcome::Rejected(e) if e.http == 418 && e.msg.contains("IP banned until"))));
}

#[test]
fn no_targets_leave_the_run_unchanged_and_runs_are_deterministic() {
    let a = load("plain", &scenario_text("reference", "algo", ""))
        .unwrap()
        .run();
    // a target that never matches (pair 9 of 3) changes nothing but the counters it reads
    let b = load(
        "never",
        &scenario_text(
            "reference",
            "algo",
            r#"targeted = [ { request = "place", leg = "entry", pair = 9, answer = "-2019" } ]"#,
        ),
    )
    .unwrap()
    .run();
    assert_eq!(a.output.log.records(), b.output.log.records());
    let t = r#"targeted = [ { request = "cancel", leg = "any", times = "always", answer = "timeout", reached = true } ]"#;
    let c1 = load("det1", &scenario_text("tradeengine-2026-08", "algo", t))
        .unwrap()
        .run();
    let c2 = load("det2", &scenario_text("tradeengine-2026-08", "algo", t))
        .unwrap()
        .run();
    assert_eq!(c1.output.log.records(), c2.output.log.records());
}

#[test]
fn bad_targets_are_one_line_errors_with_their_line() {
    let cases = [
        (
            r#"targeted = [ { request = "place", answer = "-2021", reached = true } ]"#,
            "faults.targeted[0].reached",
        ),
        (
            r#"targeted = [ { request = "place", pair = 0, answer = "-2021" } ]"#,
            "faults.targeted[0].pair",
        ),
        (
            r#"targeted = [ { answer = "-2021" } ]"#,
            "faults.targeted[0]",
        ),
        (
            r#"targeted = [ { request = "place", answer = "-3999" } ]"#,
            "faults.targeted[0].answer",
        ),
        (
            r#"targeted = [ { request = "place", answer = "404" } ]"#,
            "faults.targeted",
        ),
        (
            r#"targeted = [ { call = "POST /fapi/v9/x", answer = "503" } ]"#,
            "faults.targeted",
        ),
        (
            r#"targeted = [ { request = "place", leg = "middle", answer = "503" } ]"#,
            "faults.targeted",
        ),
        (
            r#"targeted = [ { request = "place", answer = "503", when = 3 } ]"#,
            "faults.targeted",
        ),
    ];
    for (t, field) in cases {
        let text = scenario_text("reference", "algo", t);
        let line = text
            .lines()
            .position(|l| l.starts_with("targeted"))
            .unwrap()
            + 1;
        let e = load("bad", &text).unwrap_err();
        assert!(!e.contains('\n'), "{e}");
        assert!(
            e.contains(&format!(".toml:{line}: field `{field}")),
            "{t}: {e}"
        );
    }
}

#[test]
fn sim_check_warns_about_targets_that_never_match() {
    let t = r#"targeted = [
  { request = "place", leg = "entry", pair = 4, answer = "-2019" },
  { request = "cancel", times = "always", answer = "503" },
  { request = "cancel", leg = "take_profit", pair = 1, answer = "-2011" },
  { request = "place", leg = "take_profit", pair = 3, answer = "-2021" },
]"#;
    let dir = std::env::temp_dir().join(format!("ocosim-targeted-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("check.toml");
    std::fs::write(&file, scenario_text("reference", "algo", t)).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("check")
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout);
    assert!(
        err.contains("faults.targeted[0]") && err.contains("no pair 4"),
        "{err}"
    );
    assert!(
        err.contains("faults.targeted[2]") && err.contains("faults.targeted[1] answers every call"),
        "{err}"
    );
    assert!(
        !err.contains("faults.targeted[1] (") && !err.contains("faults.targeted[3] ("),
        "{err}"
    );
}
