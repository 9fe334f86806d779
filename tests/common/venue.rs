//! Helpers shared by the venue-level tests (`exchange_rules.rs`, `liquidation.rs`): walk a mock
//! exchange and collect its events. Each test file keeps its own event tags.
#![allow(dead_code)]

use ocosim::events::Event;
use ocosim::exchange::MockExchange;
use ocosim::types::TimeMs;

/// Advances to `t` (inclusive), collecting every event on the way.
pub fn run_to(ex: &mut MockExchange, t: i64) -> Vec<(TimeMs, Event)> {
    let mut out = Vec::new();
    loop {
        ex.advance_to(TimeMs(t));
        if !ex.has_events() {
            return out;
        }
        ex.drain_events(&mut out);
    }
}

/// The events waiting in the exchange.
pub fn drain(ex: &mut MockExchange) -> Vec<(TimeMs, Event)> {
    let mut out = Vec::new();
    ex.drain_events(&mut out);
    out
}

/// Binance's spelling of an enum value.
pub fn name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}
