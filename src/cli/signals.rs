//! `sim signals SCENARIO`: the scenario's signals and manual closes, resolved exactly as `sim run`
//! feeds them to the engine (inline, CSV and random signals; percentages turned into absolute
//! prices from the price the strategy saw), as JSON lines in the order the simulator delivers
//! them. External harnesses (the real live engine's launcher) read this so that both engines see
//! the same inputs.

use crate::scenario::Scenario;
use serde_json::json;

/// One JSON line per signal or manual close, sorted by venue time; at equal times a manual close
/// comes before a signal (the simulator's own order).
pub fn lines(sc: &Scenario) -> Vec<String> {
    let mut items: Vec<(i64, u8, serde_json::Value)> = Vec::new();
    for m in &sc.manual {
        let mut v = json!({"kind": "manual_close", "at": m.at.0, "symbol": m.symbol,
                   "position_side": m.position_side});
        // a partial close says how much (a whole close keeps its old shape)
        match m.amount {
            crate::engine::CloseAmount::Whole => {}
            crate::engine::CloseAmount::Quantity(q) => v["quantity"] = json!(q),
            crate::engine::CloseAmount::Fraction(f) => v["fraction"] = json!(f),
        }
        items.push((m.at.0, 0, v));
    }
    for s in &sc.signals {
        items.push((
            s.timestamp.0,
            1,
            json!({"kind": "signal", "at": s.timestamp.0, "signal": s}),
        ));
    }
    // stable: signals at one instant keep the scenario's order
    items.sort_by_key(|(t, k, _)| (*t, *k));
    items.into_iter().map(|(_, _, v)| v.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn signals_of_a_shipped_scenario_are_listed_in_time_order_with_absolute_prices() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let sc = crate::scenario::load(&root.join("scenarios/oco-long-short-avax.toml")).unwrap();
        let out = lines(&sc);
        assert_eq!(out.len(), 6);
        let first: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(first["kind"], "signal");
        assert_eq!(first["at"], 1_769_911_200_000i64); // 2026-02-01T02:00Z
        assert_eq!(first["signal"]["action"], "buy");
        assert_eq!(first["signal"]["symbol"], "AVAXUSDT");
        let num = |k: &str| -> f64 { first["signal"][k].as_str().unwrap().parse().unwrap() };
        let (price, sl, tp) = (num("current_price"), num("stop_loss"), num("take_profit"));
        assert!((sl / price - 0.985).abs() < 1e-3, "{sl} vs {price}");
        assert!((tp / price - 1.03).abs() < 1e-3, "{tp} vs {price}");
        let at = |l: &String| serde_json::from_str::<serde_json::Value>(l).unwrap()["at"].as_i64();
        let times: Vec<i64> = out.iter().map(|l| at(l).unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn random_signals_match_what_the_run_delivers() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let sc =
            crate::scenario::load(&root.join("scenarios/tradeengine-v1.1.78-naked.toml")).unwrap();
        let out = lines(&sc);
        assert_eq!(out.len(), sc.signals.len());
        assert!(!out.is_empty());
        for (l, s) in out.iter().zip(&sc.signals) {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["at"].as_i64().unwrap(), s.timestamp.0);
        }
    }
}
