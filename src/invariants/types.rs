//! Violation records: what broke, when, for which pair, and the events that led to it.

use crate::types::{PairId, Seq, TimeMs};
use serde::{Deserialize, Serialize};

/// The invariants checked after every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invariant {
    /// (1) At most one leg of a pair fills.
    OneLeg,
    /// (2) No order of a closed position stays open past the reaction window, and none fills.
    Orphan,
    /// (3) No reduceOnly in hedge mode; positionSide BOTH (or none) in one-way mode.
    ReduceOnlyMode,
    /// (4) No protective order flips or grows a position.
    NoFlip,
    /// (5) Wallet = initial + realized − fees + funding, exactly.
    BooksBalance,
    /// A position whose signal asked for a stop has no live stop past the reaction window.
    NakedPosition,
    /// The engine tracks legs the venue no longer has, or dropped a pair whose legs are live.
    TrackingDrift,
    /// Resting reduce-side protection larger than the position it guards.
    ExcessProtection,
    /// A liquidation while a stop was resting (the stop sat beyond the liquidation price).
    StopBeyondLiquidation,
}

impl Invariant {
    /// Every invariant, in report order.
    pub const ALL: [Invariant; 9] = [
        Invariant::OneLeg,
        Invariant::Orphan,
        Invariant::ReduceOnlyMode,
        Invariant::NoFlip,
        Invariant::BooksBalance,
        Invariant::NakedPosition,
        Invariant::TrackingDrift,
        Invariant::ExcessProtection,
        Invariant::StopBeyondLiquidation,
    ];
    /// Kebab-case name used in reports and scenario expectations.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::OneLeg => "one-leg",
            Invariant::Orphan => "orphan",
            Invariant::ReduceOnlyMode => "reduce-only-mode",
            Invariant::NoFlip => "no-flip",
            Invariant::BooksBalance => "books-balance",
            Invariant::NakedPosition => "naked-position",
            Invariant::TrackingDrift => "tracking-drift",
            Invariant::ExcessProtection => "excess-protection",
            Invariant::StopBeyondLiquidation => "stop-beyond-liquidation",
        }
    }
    /// One line on what it protects against.
    pub fn describe(self) -> &'static str {
        match self {
            Invariant::OneLeg => "both legs of an OCO pair filled",
            Invariant::Orphan => "an order of a closed position stayed open or filled",
            Invariant::ReduceOnlyMode => {
                "reduceOnly sent in hedge mode / wrong positionSide in one-way mode"
            }
            Invariant::NoFlip => "a protective order flipped or grew a position",
            Invariant::BooksBalance => "wallet differs from initial + realized - fees + funding",
            Invariant::NakedPosition => "a position that asked for a stop had none",
            Invariant::TrackingDrift => "the engine's pair map disagrees with the venue",
            Invariant::ExcessProtection => "resting protection exceeds the position",
            Invariant::StopBeyondLiquidation => "liquidated while a stop was resting",
        }
    }
}

/// One violation, recorded when found; the run goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Which invariant.
    pub invariant: Invariant,
    /// The event at which it was found.
    pub seq: Seq,
    /// Its time.
    pub time_ms: TimeMs,
    /// The pair concerned, if any.
    pub pair: Option<PairId>,
    /// One line: what happened (names the Binance code where one answered, e.g. -1106).
    pub message: String,
    /// The last events that led to it (seqs into the log), oldest first.
    pub trail: Vec<Seq>,
}
