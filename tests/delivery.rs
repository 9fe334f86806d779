//! Signal delivery apart from the signal's timestamp (`delivered_at`, `delay_ms`): stale signals,
//! re-delivery, duplicate storms (issue 16).

use ocosim::events::{Event, RequestParams};
use std::path::PathBuf;

fn run(name: &str, signals: &str, switches: &str) -> Result<Vec<i64>, String> {
    let dir = std::env::temp_dir().join(format!("ocosim-delivery-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data/binance-um/klines/AVAXUSDT/1m/AVAXUSDT-1m-2026-02.csv");
    let text = format!(
        "name = \"d\"\n[data]\nklines = [\"{}\"]\nfrom = \"2026-02-01\"\nto = \"2026-02-02\"\n[exchange]\nposition_mode = \"hedge\"\n[engine]\nprofile = \"reference\"\n[engine.switches]\n{switches}\n[signals]\ninline = [\n{signals}\n]\n",
        data.display()
    );
    let p = dir.join("d.toml");
    std::fs::write(&p, &text).unwrap();
    let r = ocosim::scenario::load(&p).map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    let run = r?.run();
    // arrival times of the market entries
    Ok(run
        .output
        .log
        .records()
        .iter()
        .filter_map(|r| match &r.event {
            Event::Request {
                params: RequestParams::Order(o),
                ..
            } if o.order_type == ocosim::types::OrderType::Market => Some(r.time_ms.0),
            _ => None,
        })
        .collect())
}

const T: i64 = 1_769_911_200_000; // 2026-02-01T02:00

#[test]
fn a_delayed_signal_is_acted_on_when_delivered() {
    let now = run("now", r#"{ at = "2026-02-01T02:00", action = "buy", quantity = "10", sl_pct = "0.015", tp_pct = "0.03" }"#, "").unwrap();
    assert_eq!(now.len(), 1);
    assert!(now[0] - T < 1_000, "{now:?}");
    let late = run("late", r#"{ at = "2026-02-01T02:00", action = "buy", quantity = "10", sl_pct = "0.015", tp_pct = "0.03", delay_ms = 90000 }"#, "").unwrap();
    assert_eq!(late.len(), 1);
    assert!(late[0] - T >= 90_000 && late[0] - T < 91_000, "{late:?}");
    let at = run("at", r#"{ at = "2026-02-01T02:00", action = "buy", quantity = "10", sl_pct = "0.015", tp_pct = "0.03", delivered_at = "2026-02-01T02:05:00.500" }"#, "").unwrap();
    assert!(at[0] - T >= 300_500 && at[0] - T < 301_500, "{at:?}");
}

#[test]
fn a_stale_signal_is_refused_by_the_age_gate() {
    let sig = |d: i64| {
        format!(
            r#"{{ at = "2026-02-01T02:00", action = "buy", quantity = "10", sl_pct = "0.015", tp_pct = "0.03", delay_ms = {d} }}"#
        )
    };
    let fresh = run("fresh", &sig(1_000), "max_signal_age_ms = 60000").unwrap();
    assert_eq!(fresh.len(), 1);
    let stale = run("stale", &sig(120_000), "max_signal_age_ms = 60000").unwrap();
    assert!(stale.is_empty(), "{stale:?}");
}

#[test]
fn delivery_keys_are_checked() {
    let e = run("both", r#"{ at = "2026-02-01T02:00", action = "buy", delay_ms = 5, delivered_at = "2026-02-01T02:01" }"#, "").unwrap_err();
    assert!(
        e.contains("signals.inline[0].delay_ms") && e.contains("not both"),
        "{e}"
    );
    let e = run(
        "neg",
        r#"{ at = "2026-02-01T02:00", action = "buy", delay_ms = -5 }"#,
        "",
    )
    .unwrap_err();
    assert!(
        e.contains("signals.inline[0].delay_ms") && e.contains("accepted range"),
        "{e}"
    );
    let e = run(
        "bad",
        r#"{ at = "2026-02-01T02:00", action = "buy", delivered_at = "2026-02-30" }"#,
        "",
    )
    .unwrap_err();
    assert!(e.contains("signals.inline[0].delivered_at"), "{e}");
}
