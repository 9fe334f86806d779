//! The engine under test (STUB — being written): the live engine's dispatcher, OCO manager and
//! adapter as switchable profiles, generic over [`crate::api::Exchange`].

pub mod signal;

pub use signal::{Action, Signal};

use crate::api::{Exchange, StreamEvent};
use crate::exchange::SymbolSpec;
use crate::types::*;
use serde::{Deserialize, Serialize};

/// How the engine learns that a leg filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    /// Poll open orders every `poll_interval_ms`.
    #[default]
    Poll,
    /// React to user-data-stream events.
    Stream,
}

/// Named behaviour switches (STUB).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Switches {}

impl Switches {
    /// The switch set of a named profile.
    pub fn profile(name: &str) -> Option<Switches> {
        matches!(
            name,
            "reference" | "tradeengine-v1.1.78" | "tradeengine-v1.1.80" | "tradeengine-2026-08"
        )
        .then(Switches::default)
    }
    /// Overrides one switch from its textual value.
    pub fn set(&mut self, key: &str, _value: &str) -> Result<(), String> {
        Err(format!("unknown switch `{key}`"))
    }
}

/// Engine settings that come from the scenario rather than the profile.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The symbol's filters as the engine caches them (exchangeInfo).
    pub spec: SymbolSpec,
    /// Poll or stream.
    pub monitor: Monitor,
    /// Poll interval (the live engine: 2000 ms).
    pub poll_interval_ms: i64,
    /// Sleep after a failed pass (the live engine: 5000 ms).
    pub error_backoff_ms: i64,
}

/// The engine under test.
pub struct Engine {
    #[allow(dead_code)]
    switches: Switches,
    #[allow(dead_code)]
    cfg: EngineConfig,
}

impl Engine {
    /// A fresh engine.
    pub fn new(switches: Switches, cfg: EngineConfig) -> Engine {
        Engine { switches, cfg }
    }
    /// A signal arrives.
    pub fn on_signal<E: Exchange>(&mut self, _sig: &Signal, _ex: &mut E) {}
    /// A manual close of one position side (`close_position_with_cleanup`).
    pub fn on_manual_close<E: Exchange>(&mut self, _symbol: &str, _ps: PositionSide, _ex: &mut E) {}
    /// A user-data-stream event reached the engine.
    pub fn on_stream<E: Exchange>(&mut self, _ev: &StreamEvent, _ex: &mut E) {}
    /// The monitor's timer fired.
    pub fn on_timer<E: Exchange>(&mut self, _ex: &mut E) {}
    /// When the monitor next wants to run.
    pub fn next_timer(&self) -> Option<TimeMs> {
        None
    }
    /// The process restarted: in-memory state is lost.
    pub fn on_restart<E: Exchange>(&mut self, _ex: &mut E) {}
    /// True when the next pass would only read, and change nothing if the venue is unchanged.
    pub fn poll_pass_is_readonly(&self) -> bool {
        false
    }
    /// REST calls a read-only pass makes.
    pub fn pass_calls(&self) -> u32 {
        0
    }
    /// The simulator skipped a pass that provably changed nothing; it ended at `pass_end`.
    pub fn skip_pass(&mut self, _pass_end: TimeMs) {}
}

/// The shipped profile names.
pub const PROFILES: &[&str] = &[
    "tradeengine-v1.1.78",
    "tradeengine-v1.1.80",
    "tradeengine-2026-08",
    "reference",
];

/// Markdown table of switches by profile (STUB).
pub fn profiles_table() -> String {
    String::new()
}
