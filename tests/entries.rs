//! Entries as the live engine sends them (issue 16): LIMIT and STOP entries with their own price,
//! `position_size_pct`, and the live engine's own signal format (`[signals] jsonl`), per profile,
//! on real AVAXUSDT data (1 Feb 2026: 10.12 at 09:28, above 10.10 until 10:36, 10.169 at 09:40).

use ocosim::events::{EngineEvent, Event, ExecType, RequestParams};
use ocosim::types::{OrderType, Side};
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::str::FromStr;

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data/binance-um/klines/AVAXUSDT/1m/AVAXUSDT-1m-2026-02.csv")
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ocosim-entries-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A scenario text: 1 Feb 2026 09:00–13:00, hedge, `profile`, with `signals` (the `[signals]`
/// body) and `api` (`""` for the profile's era).
fn text(profile: &str, api: &str, signals: &str) -> String {
    format!(
        "name = \"e\"\n[data]\nklines = [\"{}\"]\nfrom = \"2026-02-01T09:00\"\nto = \"2026-02-01T13:00\"\n[exchange]\nposition_mode = \"hedge\"\n{api}\n[engine]\nprofile = \"{profile}\"\n[signals]\n{signals}\n",
        data().display()
    )
}

fn load(name: &str, text: &str) -> Result<ocosim::scenario::Scenario, String> {
    let d = dir(name);
    let p = d.join("e.toml");
    std::fs::write(&p, text).unwrap();
    let r = ocosim::scenario::load(&p).map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&d);
    r
}

fn run(name: &str, profile: &str, api: &str, signals: &str) -> ocosim::scenario::RunResult {
    load(name, &text(profile, api, signals))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .run()
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// (time, side, orig_type, qty, price, maker) of every fill.
fn fills(r: &ocosim::scenario::RunResult) -> Vec<(i64, Side, OrderType, Decimal, Decimal, bool)> {
    r.output
        .log
        .records()
        .iter()
        .filter_map(|x| match &x.event {
            Event::OrderTradeUpdate(u) if u.exec_type == ExecType::Trade => Some((
                x.time_ms.0,
                u.side,
                u.orig_type,
                u.last_qty,
                u.last_price,
                u.is_maker,
            )),
            _ => None,
        })
        .collect()
}

/// (order type, price, stop/trigger price, quantity, closePosition, algo?) of every new order.
type Sent = (
    OrderType,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
    bool,
    bool,
);

fn sent(r: &ocosim::scenario::RunResult) -> Vec<(i64, Sent)> {
    r.output
        .log
        .records()
        .iter()
        .filter_map(|x| match &x.event {
            Event::Request {
                params: RequestParams::Order(o),
                ..
            } => Some((
                x.time_ms.0,
                (
                    o.order_type,
                    o.price,
                    o.stop_price,
                    o.quantity,
                    o.close_position == Some(true),
                    false,
                ),
            )),
            Event::Request {
                params: RequestParams::Algo(a),
                ..
            } => Some((
                x.time_ms.0,
                (
                    a.order_type,
                    a.price,
                    a.trigger_price,
                    a.quantity,
                    a.close_position == Some(true),
                    true,
                ),
            )),
            _ => None,
        })
        .collect()
}

fn results(r: &ocosim::scenario::RunResult) -> Vec<(String, String)> {
    r.output
        .log
        .records()
        .iter()
        .filter_map(|x| match &x.event {
            Event::Engine(EngineEvent::SignalResult { status, detail, .. }) => {
                Some((status.to_string(), detail.clone()))
            }
            _ => None,
        })
        .collect()
}

const T0928: i64 = 1_769_938_080_000;
const T1036: i64 = 1_769_942_160_000;

const LIMIT_OWN: &str = r#"inline = [ { at = "2026-02-01T09:28", action = "buy", quantity = "20", stop_loss = "9.95", take_profit = "10.40", order_type = "limit", price = "10.10" } ]"#;

#[test]
fn a_limit_entry_fills_only_when_a_bar_crosses_its_own_price() {
    for profile in [
        "reference",
        "tradeengine-v1.1.78",
        "tradeengine-v1.1.80",
        "tradeengine-2026-08",
    ] {
        let r = run(profile, profile, "", LIMIT_OWN);
        // sent at its own price, not the 10.12 the market was at
        let entry = sent(&r)
            .into_iter()
            .find(|(_, s)| s.0 == OrderType::Limit)
            .expect("a LIMIT entry");
        assert_eq!(entry.1 .1, Some(d("10.1")), "{profile}: the LIMIT price");
        assert!(entry.0 < T0928 + 1_000, "{profile}: sent at once");
        let f = fills(&r);
        let first = f.first().unwrap_or_else(|| panic!("{profile}: no fill"));
        // it rests until the 10:36 bar crosses 10.10, then fills there as a maker
        assert_eq!(
            (first.1, first.4, first.5),
            (Side::Buy, d("10.1"), true),
            "{profile}"
        );
        assert!(
            (T1036..T1036 + 60_000).contains(&first.0),
            "{profile}: filled at {}",
            first.0
        );
        // the legs: the reference waits for the fill; the live releases send them at once (W9)
        let legs: Vec<i64> = sent(&r)
            .into_iter()
            .filter(|(_, s)| matches!(s.0, OrderType::StopMarket | OrderType::TakeProfitMarket))
            .map(|(t, _)| t)
            .collect();
        match profile {
            "reference" => {
                assert_eq!(legs.len(), 2, "{profile}: SL and TP");
                assert!(
                    legs.iter().all(|t| *t >= first.0),
                    "{profile}: after the fill"
                );
            }
            // W1: legs sized from the ACK's amount (0) are refused locally, none is sent
            "tradeengine-v1.1.78" => assert!(legs.is_empty(), "{profile}: {legs:?}"),
            _ => {
                assert!(!legs.is_empty(), "{profile}: legs");
                assert!(
                    legs.iter().all(|t| *t < T0928 + 60_000),
                    "{profile}: at once"
                );
            }
        }
    }
}

#[test]
fn offsets_place_the_price_relative_to_the_last_close() {
    // the 09:27 close is 10.12: 0.2 % below is 10.09976, 10.100 on the tick; 20 ticks (0.001)
    // below is 10.100 too
    for (k, v) in [("offset_pct", "\"-0.002\""), ("offset_ticks", "-20")] {
        let sig = format!(
            r#"inline = [ {{ at = "2026-02-01T09:28", action = "buy", quantity = "20", order_type = "limit", {k} = {v} }} ]"#
        );
        let sc = load(k, &text("reference", "", &sig)).unwrap();
        assert_eq!(sc.signals[0].current_price, d("10.1"), "{k}");
    }
}

const STOP_ABOVE: &str = r#"inline = [ { at = "2026-02-01T09:30", action = "buy", quantity = "20", stop_loss = "10.00", take_profit = "10.30", order_type = "stop", price = "10.16" } ]"#;

#[test]
fn a_stop_entry_triggers_at_its_own_price_under_the_reference_engine() {
    for (api, algo, monitor) in [
        ("api = \"legacy\"", false, "poll"),
        ("api = \"algo\"", true, "poll"),
        ("api = \"legacy\"", false, "stream"),
        ("api = \"algo\"", true, "stream"),
    ] {
        let t = text("reference", api, STOP_ABOVE).replace(
            "[engine]\n",
            &format!("[engine]\nmonitor = \"{monitor}\"\n"),
        );
        let r = load(&format!("stop-{algo}-{monitor}"), &t).unwrap().run();
        let api = format!("{api} {monitor}");
        let s = sent(&r);
        // (on a legacy venue the reference engine's first algo request gets a 404 and it moves
        // to /fapi/v1/order, as for its legs)
        let (t, e) = *s
            .iter()
            .find(|(_, x)| x.0 == OrderType::StopMarket && x.5 == algo)
            .unwrap_or_else(|| panic!("{api}: {s:?}"));
        assert_eq!(
            (e.0, e.2, e.5),
            (OrderType::StopMarket, Some(d("10.16")), algo),
            "{api}: a STOP_MARKET entry triggered at its own price"
        );
        assert!(!e.4, "{api}: an entry is not closePosition");
        assert!(t < 1_769_938_201_000);
        let f = fills(&r);
        // it triggers when the price first reaches 10.16 (taker), then SL and TP go out
        let first = f.first().unwrap_or_else(|| panic!("{api}: no fill"));
        assert_eq!(first.1, Side::Buy);
        assert!(first.4 >= d("10.16"), "{api}: {first:?}");
        assert!(!first.5, "{api}: a triggered stop takes");
        let legs: Vec<(i64, Sent)> = s
            .iter()
            .copied()
            .filter(|(_, x)| matches!(x.0, OrderType::StopMarket | OrderType::TakeProfitMarket))
            .filter(|(_, x)| x.2 != Some(d("10.16")))
            .collect();
        assert_eq!(legs.len(), 2, "{api}: {s:?}");
        assert!(
            legs.iter().all(|(t, _)| *t >= first.0),
            "{api}: legs after the fill"
        );
        assert_eq!(legs[0].1 .2, Some(d("10")), "{api}: the stop");
        assert_eq!(legs[1].1 .2, Some(d("10.3")), "{api}: the target");
    }
}

#[test]
fn a_stop_entry_is_sent_as_each_live_release_sends_it() {
    // the live adapter triggers a `stop` entry at the signal's stop_loss (10.00, below the
    // market): Binance refuses a BUY STOP_MARKET that would trigger at once (-2021)
    for profile in ["tradeengine-v1.1.78", "tradeengine-v1.1.80"] {
        let r = run(profile, profile, "", STOP_ABOVE);
        let s = sent(&r);
        assert_eq!(
            s[0].1,
            (
                OrderType::StopMarket,
                None,
                Some(d("10")),
                Some(d("20")),
                false,
                false
            ),
            "{profile}"
        );
        assert!(fills(&r).is_empty(), "{profile}");
        let res = results(&r);
        assert_eq!(res[0].0, "failed", "{profile}: {res:?}");
        assert!(res[0].1.contains("-2021"), "{profile}: {res:?}");
    }
    // 2026-08: the same builder as its legs (algo, closePosition, GTE_GTC), no position: -4509
    let r = run("phead", "tradeengine-2026-08", "", STOP_ABOVE);
    let s = sent(&r);
    let e = s.iter().find(|(_, x)| x.5).expect("an algo entry");
    assert_eq!((e.1 .0, e.1 .4), (OrderType::StopMarket, true));
    assert!(fills(&r).is_empty());
    let res = results(&r);
    assert_eq!(res[0].0, "failed", "{res:?}");
    // without a stop_loss the adapter has no trigger
    let no_sl = STOP_ABOVE.replace(r#"stop_loss = "10.00", "#, "");
    let r = run("nosl", "tradeengine-v1.1.80", "", &no_sl);
    assert!(sent(&r).is_empty());
    assert_eq!(
        results(&r)[0],
        (
            "failed".into(),
            "Stop loss price required for stop orders".into()
        )
    );
    // conditional types: refused by the adapter; other types: by the reference engine
    let cond = STOP_ABOVE.replace("\"stop\"", "\"conditional_stop\"");
    let r = run("cond", "tradeengine-v1.1.80", "", &cond);
    assert_eq!(
        results(&r)[0],
        (
            "failed".into(),
            "Invalid order type: conditional_stop".into()
        )
    );
    let tp = STOP_ABOVE.replace("\"stop\"", "\"take_profit\"");
    let r = run("reftp", "reference", "", &tp);
    assert_eq!(
        results(&r)[0],
        (
            "failed".into(),
            "Unsupported order type: take_profit".into()
        )
    );
    assert!(sent(&r).is_empty());
}

#[test]
fn position_size_pct_gives_the_documented_quantity() {
    let sig = |pct: &str| {
        format!(
            r#"inline = [ {{ at = "2026-02-01T09:28", action = "buy", quantity = "3", order_type = "limit", price = "10.10", position_size_pct = "{pct}" }} ]"#
        )
    };
    let qty = |profile: &str, pct: &str| -> (Option<Decimal>, Vec<(String, String)>) {
        let r = run(&format!("{profile}-{pct}"), profile, "", &sig(pct));
        let q = sent(&r)
            .into_iter()
            .find(|(_, s)| s.0 == OrderType::Limit)
            .and_then(|(_, s)| s.3);
        (q, results(&r))
    };
    // reference: 5 % of 10 000 USDT at 10.10 = 49.5 → 49 (AVAX step 1)
    assert_eq!(qty("reference", "0.05").0, Some(d("49")));
    // 2026-08: 500 / 10.10 = 49.50…, sent with the step's decimals (0): 50
    assert_eq!(qty("tradeengine-2026-08", "0.05").0, Some(d("50")));
    // v1.1.80 ignores it: the quantity (3, above the 1-AVAX… minimum of 1 × 1.05 → 2) stands
    assert_eq!(qty("tradeengine-v1.1.80", "0.05").0, Some(d("3")));
    // above the live 10 % cap: rejected by the risk check, nothing sent
    let (q, res) = qty("tradeengine-v1.1.80", "0.2");
    assert_eq!(
        (q, res[0].clone()),
        (None, ("rejected".into(), "Risk limits exceeded".into()))
    );
    let (q, res) = qty("tradeengine-2026-08", "0.2");
    assert_eq!(q, None);
    assert_eq!(res[0].0, "rejected");
    assert_eq!(qty("reference", "0.2").0, Some(d("198")));
    // a share below the minimum notional is raised to it
    let (q, _) = qty("reference", "0.00001");
    let q = q.unwrap();
    assert!(q * d("10.10") >= d("5"), "{q}");
}

#[test]
fn bad_entry_fields_are_refused_with_their_name() {
    let bad = |sig: &str| -> String {
        let s = format!("inline = [ {{ at = \"2026-02-01T09:28\", action = \"buy\", {sig} }} ]");
        load("bad", &text("reference", "", &s)).unwrap_err()
    };
    for (sig, field) in [
        ("price = \"0\"", "price"),
        ("price = \"-1\"", "price"),
        ("offset_pct = \"-1\"", "offset_pct"),
        ("offset_pct = \"-1.5\"", "offset_pct"),
        ("offset_ticks = -100000", "offset_ticks"),
        ("position_size_pct = \"1.5\"", "position_size_pct"),
        ("position_size_pct = \"-0.1\"", "position_size_pct"),
        ("order_type = \"iceberg\"", "order_type"),
        ("time_in_force = \"GTE_GTC\"", "time_in_force"),
        ("price = \"10\", offset_ticks = 3", "offset_ticks"),
    ] {
        let e = bad(sig);
        assert!(
            e.contains(&format!("field `signals.inline[0].{field}`")),
            "{sig}: {e}"
        );
        assert!(e.contains(":"), "{e}");
    }
}

/// The same signals as TOML (`inline`) and as the live engine's JSON lines.
const TOML_SIGNALS: &str = r#"strategy = "s1"
inline = [
  { at = "2026-02-01T09:28", action = "buy", quantity = "20", stop_loss = "9.95", take_profit = "10.4", order_type = "limit", time_in_force = "GTC", price = "10.1", confidence = "0.8", strategy = "momentum" },
  { at = "2026-02-01T09:40", action = "hold", quantity = "0", confidence = "0.9", strategy = "momentum", price = "10.123" },
  { at = "2026-02-01T11:00", action = "sell", quantity = "15", stop_loss = "10.2", take_profit = "9.9", price = "10.02", confidence = "0.75", strategy = "momentum", delay_ms = 1500 },
  { at = "2026-02-01T11:30:00.250", action = "close", quantity = "0", confidence = "0.8", strategy = "momentum", price = "10.05" },
]"#;

const JSONL: &str = r#"{"strategy_id":"momentum","symbol":"AVAXUSDT","action":"buy","confidence":0.8,"price":10.1,"quantity":20,"current_price":10.10,"stop_loss":9.95,"take_profit":10.40,"order_type":"limit","time_in_force":"GTC","source":"ta-bot","strategy":"momentum","timestamp":"2026-02-01T09:28:00Z","strength":"strong","indicators":{"rsi":28}}

{"strategy_id":"momentum","symbol":"AVAXUSDT","action":"hold","confidence":0.9,"price":10.17,"quantity":0,"current_price":10.123,"source":"ta-bot","strategy":"momentum","timestamp":1769938800}
{"strategy_id":"momentum","symbol":"AVAXUSDT","action":"sell","confidence":0.75,"price":10.02,"quantity":"15","current_price":10.02,"stop_loss":10.2,"take_profit":9.9,"source":"ta-bot","strategy":"momentum","timestamp":"2026-02-01T12:00:00+01:00","meta":{"delay_ms":1500}}
{"strategy_id":"momentum","symbol":"AVAXUSDT","action":"close","confidence":0.8,"price":0,"quantity":0,"current_price":10.05,"source":"ta-bot","strategy":"momentum","timestamp":1769945400250}
"#;

fn write_jsonl(d: &Path, body: &str) -> PathBuf {
    let p = d.join("signals.jsonl");
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn a_jsonl_file_gives_the_same_run_as_the_same_toml_signals() {
    for profile in ["reference", "tradeengine-v1.1.80", "tradeengine-2026-08"] {
        let d = dir(&format!("jsonl-{profile}"));
        write_jsonl(&d, JSONL);
        let jt = d.join("j.toml");
        std::fs::write(&jt, text(profile, "", "jsonl = \"signals.jsonl\"")).unwrap();
        let tt = d.join("t.toml");
        std::fs::write(&tt, text(profile, "", TOML_SIGNALS)).unwrap();
        let j = ocosim::scenario::load(&jt).unwrap_or_else(|e| panic!("{e}"));
        let t = ocosim::scenario::load(&tt).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(j.signals, t.signals, "{profile}: the same internal signals");
        assert_eq!(j.sim.deliveries, t.sim.deliveries, "{profile}");
        // the same events.jsonl from `sim run`, byte for byte
        let ev = |file: &Path, out: &str| -> Vec<u8> {
            let out = d.join(out);
            let st = std::process::Command::new(env!("CARGO_BIN_EXE_sim"))
                .args(["run", "--quiet", "--out"])
                .arg(&out)
                .arg(file)
                .output()
                .unwrap();
            assert!(
                matches!(st.status.code(), Some(0 | 1)),
                "{}",
                String::from_utf8_lossy(&st.stderr)
            );
            std::fs::read(out.join("events.jsonl")).unwrap()
        };
        let a = ev(&jt, "rj");
        let b = ev(&tt, "rt");
        assert!(!a.is_empty());
        assert!(a == b, "{profile}: events.jsonl differs");
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn a_bad_jsonl_line_names_its_file_line_and_field() {
    let d = dir("jsonl-bad");
    let good = JSONL.lines().next().unwrap();
    for (line, field) in [
        (
            good.replace("\"stop_loss\":9.95", "\"stop_loss\":0"),
            "stop_loss",
        ),
        (
            good.replace("\"stop_loss\":9.95", "\"stop_loss\":\"x\""),
            "stop_loss",
        ),
        (
            good.replace("\"current_price\":10.10", "\"current_price\":-2"),
            "current_price",
        ),
        (
            good.replace("\"order_type\":\"limit\"", "\"order_type\":\"twap\""),
            "order_type",
        ),
        (
            good.replace("\"symbol\":\"AVAXUSDT\"", "\"symbol\":\"ETHUSDT\""),
            "symbol",
        ),
        (good.replace(",\"source\":\"ta-bot\"", ""), "source"),
        (
            good.replace(
                "\"timestamp\":\"2026-02-01T09:28:00Z\"",
                "\"timestamp\":\"soon\"",
            ),
            "timestamp",
        ),
    ] {
        let p = write_jsonl(
            &d,
            &format!("\n{}\n{line}\n", JSONL.lines().next().unwrap()),
        );
        let t = d.join("j.toml");
        std::fs::write(&t, text("reference", "", "jsonl = \"signals.jsonl\"")).unwrap();
        let e = ocosim::scenario::load(&t).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}:3: field `{field}`: ", p.display())),
            "{field}: {e}"
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn hold_and_close_from_jsonl_behave_like_the_engine() {
    let d = dir("jsonl-hold");
    write_jsonl(&d, JSONL);
    let t = d.join("j.toml");
    std::fs::write(
        &t,
        text("tradeengine-v1.1.80", "", "jsonl = \"signals.jsonl\""),
    )
    .unwrap();
    let r = ocosim::scenario::load(&t).unwrap().run();
    let res = results(&r);
    assert_eq!(res[1], ("hold".into(), String::new()));
    assert_eq!(
        res[3],
        ("failed".into(), "Invalid order side: close".into())
    );
    let _ = std::fs::remove_dir_all(&d);
}

fn invariants(r: &ocosim::scenario::RunResult) -> Vec<ocosim::invariants::Invariant> {
    r.violations.iter().map(|v| v.invariant).collect()
}

#[test]
fn issue16_bug2_naked_position_watches_a_resting_stop_entry_that_fills_later() {
    use ocosim::invariants::Invariant;
    // v1.1.78 triggers a `stop` entry at the signal's stop_loss: 10.16, above the 10.12 market,
    // so it rests and triggers at about 09:37; its legs are sized from the ACK (0, W1) and never
    // sent: the position it opens has no stop
    let sig = r#"inline = [ { at = "2026-02-01T09:30", action = "buy", quantity = "20", stop_loss = "10.16", take_profit = "10.30", order_type = "stop" } ]"#;
    let r = run("naked-stop", "tradeengine-v1.1.78", "", sig);
    let f = fills(&r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].0 > 1_769_938_200_000 + 60_000, "it fills later: {f:?}");
    assert_eq!(f[0].2, OrderType::StopMarket);
    let v = invariants(&r);
    assert!(v.contains(&Invariant::NakedPosition), "{v:?}");
    // the reference engine protects its STOP entry once it fills: never naked
    let r = run("naked-stop-ref", "reference", "", STOP_ABOVE);
    assert!(!fills(&r).is_empty());
    let v = invariants(&r);
    assert!(!v.contains(&Invariant::NakedPosition), "{v:?}");
}

#[test]
fn sim_check_warns_about_an_order_type_the_profile_always_refuses() {
    let d = dir("check");
    let check = |profile: &str, order_type: &str| -> (i32, String) {
        let sig = STOP_ABOVE.replace("\"stop\"", &format!("\"{order_type}\""));
        let p = d.join(format!("{profile}-{order_type}.toml"));
        std::fs::write(&p, text(profile, "", &sig)).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sim"))
            .arg("check")
            .arg(&p)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = check("reference", "stop_limit");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("sim: warning: signals[0]") && err.contains("order_type `stop_limit`"),
        "{err}"
    );
    let (code, err) = check("tradeengine-v1.1.80", "conditional_limit");
    assert_eq!(code, 0);
    assert!(
        err.contains("Invalid order type: conditional_limit"),
        "{err}"
    );
    // types the profile sends: no warning
    for (p, t) in [("reference", "stop"), ("tradeengine-2026-08", "stop_limit")] {
        let (code, err) = check(p, t);
        assert_eq!(code, 0);
        assert!(!err.contains("warning"), "{p} {t}: {err}");
    }
    // a type outside the live enum is bad input
    let (code, err) = check("reference", "trailing");
    assert_eq!(code, 2);
    assert!(
        err.contains("field `signals.inline[0].order_type`"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&d);
}
