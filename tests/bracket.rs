//! `[strategy] kind = "bracket"`: the built-in reactive strategy, on a real day of FILUSDT.
//! Entries go out at bar closes only, while flat, at the close of the exit bar (or
//! `reenter_after_bars` closes later), with SL/TP at the stated distance from that close; every
//! invariant holds; bad values are one-line errors naming the field.

use ocosim::events::{EngineEvent, Event, ExecType};
use ocosim::scenario::{self, Scenario};
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};

const MIN: i64 = 60_000;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/binance-um/klines/FILUSDT/1m/FILUSDT-1m-2023-04.csv")
}

fn text(strategy: &str) -> String {
    format!(
        "name = \"bracket-test\"\nseed = 1\n\n[data]\nklines = [{:?}]\nfrom = \"2023-04-03\"\nto = \"2023-04-04\"\n\n[exchange]\nposition_mode = \"hedge\"\n\n[engine]\nmonitor = \"stream\"\n\n[strategy]\n{strategy}\n",
        data().display().to_string()
    )
}

fn build(strategy: &str) -> Result<Scenario, scenario::ScenarioError> {
    let t = text(strategy);
    let file = Path::new("bracket-test.toml");
    let raw = scenario::parse(file, &t)?;
    scenario::build(file, &t, raw)
}

/// (signal time, action, stop, target) and the times of the fills that closed a position.
/// A signal: (time, action, stop, target).
type Sig = (i64, String, Decimal, Decimal);

fn trades(sc: &Scenario) -> (Vec<Sig>, Vec<i64>) {
    let r = sc.run();
    assert!(r.violations.is_empty(), "{:?}", r.violations.first());
    let mut sigs = Vec::new();
    let mut exits = Vec::new();
    for rec in r.output.log.records() {
        match &rec.event {
            Event::Engine(EngineEvent::Signal {
                action,
                stop_loss,
                take_profit,
                ..
            }) => sigs.push((
                rec.time_ms.0,
                action.to_string(),
                stop_loss.unwrap(),
                take_profit.unwrap(),
            )),
            Event::OrderTradeUpdate(o)
                if o.exec_type == ExecType::Trade && o.reduce_only_or_close() =>
            {
                exits.push(rec.time_ms.0)
            }
            _ => {}
        }
    }
    (sigs, exits)
}

trait Exit {
    fn reduce_only_or_close(&self) -> bool;
}
impl Exit for ocosim::events::OrderUpdate {
    /// A fill that reduced a position: realized PnL booked, or an SL/TP child.
    fn reduce_only_or_close(&self) -> bool {
        self.from_algo.is_some() || self.reduce_only || self.close_position
    }
}

fn close_of(sc: &Scenario, t_signal: i64) -> Decimal {
    // the bar that closed at the signal's time
    let b = sc
        .bars
        .iter()
        .find(|b| b.t + MIN == t_signal)
        .expect("a bar closes at the signal");
    sc.spec.price(b.c)
}

#[test]
fn a_bracket_reenters_at_the_close_of_the_exit_bar() {
    let sc = build("kind = \"bracket\"\nquantity = \"10\"\nsl_pct = \"0.004\"\ntp_pct = \"0.004\"")
        .unwrap();
    let (sigs, exits) = trades(&sc);
    assert!(
        sigs.len() > 20,
        "a day of 1m bars makes many trades: {}",
        sigs.len()
    );
    assert_eq!(
        sigs[0].0, sc.bars[1].t,
        "the first entry goes out at the first bar's close"
    );
    for (t, action, sl, tp) in &sigs {
        assert_eq!(t % MIN, 0, "entries go out at bar closes");
        assert_eq!(action, "buy");
        let c = close_of(&sc, *t);
        let d = (c * Decimal::new(4, 3) / sc.spec.tick_size).round() * sc.spec.tick_size;
        assert_eq!(*sl, c - d, "SL 0.4 % below the close at {t}");
        assert_eq!(*tp, c + d, "TP 0.4 % above the close at {t}");
    }
    // one exit per entry (the last may still be open), and each re-entry at the exit bar's close
    assert!(exits.len() == sigs.len() || exits.len() + 1 == sigs.len());
    for (k, x) in exits.iter().enumerate() {
        if let Some(next) = sigs.get(k + 1) {
            assert_eq!(
                next.0,
                (x / MIN + 1) * MIN,
                "re-entry at the close of the exit bar"
            );
        }
    }
}

#[test]
fn a_bracket_waits_n_bars_and_alternates_sides_in_ticks() {
    let sc = build(
        "kind = \"bracket\"\nside = \"alternate\"\nquantity = \"10\"\nsl_ticks = 20\ntp_ticks = 30\nreenter_after_bars = 3",
    )
    .unwrap();
    let (sigs, exits) = trades(&sc);
    assert!(sigs.len() > 10);
    for (k, (t, action, sl, tp)) in sigs.iter().enumerate() {
        let c = close_of(&sc, *t);
        let tick = sc.spec.tick_size;
        if k % 2 == 0 {
            assert_eq!(action, "buy");
            assert_eq!(
                (*sl, *tp),
                (c - tick * Decimal::from(20), c + tick * Decimal::from(30))
            );
        } else {
            assert_eq!(action, "sell");
            assert_eq!(
                (*sl, *tp),
                (c + tick * Decimal::from(20), c - tick * Decimal::from(30))
            );
        }
    }
    for (k, x) in exits.iter().enumerate() {
        if let Some(next) = sigs.get(k + 1) {
            assert_eq!(
                next.0,
                (x / MIN + 1 + 3) * MIN,
                "re-entry three closes after the exit bar's"
            );
        }
    }
}

#[test]
fn bad_strategy_values_are_one_line_errors_naming_the_field() {
    let cases = [
        (
            "kind = \"grid\"\nsl_pct = \"0.01\"\ntp_pct = \"0.01\"",
            "strategy.kind",
            16,
        ),
        ("kind = \"bracket\"\nsl_pct = \"0.01\"", "strategy", 0),
        (
            "kind = \"bracket\"\nsl_pct = \"1.5\"\ntp_pct = \"0.01\"",
            "strategy.sl_pct",
            17,
        ),
        (
            "kind = \"bracket\"\nsl_pct = \"0.01\"\nsl_ticks = 3\ntp_pct = \"0.01\"",
            "strategy.sl_ticks",
            18,
        ),
        (
            "kind = \"bracket\"\nsl_ticks = 0\ntp_pct = \"0.01\"",
            "strategy.sl_ticks",
            17,
        ),
        (
            "kind = \"bracket\"\nsl_pct = \"0.01\"\ntp_pct = \"0.01\"\nquantity = \"-1\"",
            "strategy.quantity",
            19,
        ),
        (
            "kind = \"bracket\"\nside = \"up\"\nsl_pct = \"0.01\"\ntp_pct = \"0.01\"",
            "strategy.side",
            17,
        ),
        (
            "kind = \"bracket\"\nsl_pct = \"0.01\"\ntp_pct = \"0.01\"\nstop = 1",
            "strategy.stop",
            19,
        ),
    ];
    for (body, field, line) in cases {
        let e = build(body)
            .err()
            .unwrap_or_else(|| panic!("{body} is refused"));
        assert_eq!(e.field, field, "{body}: {e}");
        if line > 0 {
            assert_eq!(e.line, line, "{body}: {e}");
        }
        assert!(!e.to_string().contains('\n'));
    }
}

/// Regression (r8-hot): checks that find the venue in a position are skipped while nothing can
/// change it; a position closed behind the engine's back (a full ADL mid-trade, no trigger
/// reached) must still be seen at the close of that bar, and the re-entry go out then.
#[test]
fn a_bracket_sees_a_position_closed_behind_the_engines_back_at_the_next_close() {
    // 05:00:30.250, inside the bar that closes at 05:01
    let at = 1_680_498_030_250i64;
    let sc = build(
        "kind = \"bracket\"\nquantity = \"10\"\nsl_pct = \"0.01\"\ntp_pct = \"0.01\"\n\n[[external]]\nat = \"2023-04-03T05:00:30.250\"\nact = \"adl\"\nfraction = 1\nposition_side = \"LONG\"",
    )
    .unwrap();
    let r = sc.run();
    let log = r.output.log.records();
    let acted = log.iter().any(|rec| {
        matches!(&rec.event, Event::External { acted: true, .. }) && rec.time_ms.0 == at
    });
    assert!(acted, "the ADL found a position to close");
    let sigs: Vec<i64> = log
        .iter()
        .filter(|rec| matches!(rec.event, Event::Engine(EngineEvent::Signal { .. })))
        .map(|rec| rec.time_ms.0)
        .collect();
    let next_close = (at / MIN + 1) * MIN;
    assert!(
        sigs.contains(&next_close),
        "re-entry at the close of the ADL's bar ({next_close}): {sigs:?}"
    );
    // and no entry between the previous one and that close
    let before: Vec<&i64> = sigs
        .iter()
        .filter(|&&t| t > at - 30 * MIN && t < next_close)
        .collect();
    assert!(before.len() <= 1, "{before:?}");
}
