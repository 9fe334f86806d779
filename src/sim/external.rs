//! Things that happen behind the engine's back (`[[external]]` in a scenario): a protective leg
//! cancelled by someone else or expired by the venue at a time, and an ADL reduction of a
//! position. Partial manual closes are the engine's own (`[[manual_closes]]` with `quantity` or
//! `fraction`, see [`crate::engine::CloseAmount`]).
//!
//! Contract: an act is performed by the venue session ([`super::Venue`]) at venue time `at`,
//! after the market has been walked to `at` and before any request arriving at `at` executes; so
//! `sim run` and `sim serve` perform it identically. *Which* leg an act hits is worked out from the
//! venue's own state, never from the engine: **pair N** is the Nth position opened on the symbol,
//! numbered as targeted faults number it (`sim::target`), and a leg's role is the one the venue
//! gave its placement (`stop_loss` / `take_profit`); `pair = "latest"` is the highest-numbered pair
//! with a live leg at `at`. A leg is live while it rests (an algo order not yet triggered, a
//! regular order not finished). The change itself and its user-data-stream events come from
//! `exchange::external`. Each act is logged as an [`Event::External`] record right before the
//! events it causes; an act that finds nothing to act on is logged with `acted = false` (a no-op)
//! and changes nothing.
//!
//! Ordering: acts at equal times run in file order.

use super::Venue;
use crate::events::{Event, Source};
use crate::types::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What an external act does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActKind {
    /// Someone else cancels a leg (ORDER_TRADE_UPDATE / ALGO_UPDATE `CANCELED`).
    CancelLeg,
    /// The venue expires a leg (`EXPIRED`).
    ExpireLeg,
    /// Auto-deleveraging reduces a position (`adl_autoclose`).
    Adl,
}

impl ActKind {
    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            ActKind::CancelLeg => "cancel_leg",
            ActKind::ExpireLeg => "expire_leg",
            ActKind::Adl => "adl",
        }
    }
}

/// Which pair a leg act names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairSel {
    /// The Nth position opened on the symbol (1-based).
    Nth(u32),
    /// The highest-numbered pair with a live leg at the act's time.
    Latest,
}

/// Which legs of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegSel {
    /// The stop-loss.
    StopLoss,
    /// The take-profit.
    TakeProfit,
    /// Both.
    Both,
}

impl LegSel {
    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            LegSel::StopLoss => "stop_loss",
            LegSel::TakeProfit => "take_profit",
            LegSel::Both => "both",
        }
    }
}

/// How much an ADL takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdlAmount {
    /// This quantity (clipped to the position; floored to the step).
    Quantity(Decimal),
    /// This fraction of the position (0 < f ≤ 1; floored to the step).
    Fraction(Decimal),
}

/// One act, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalAct {
    /// Index in the scenario's `[[external]]` list.
    pub index: usize,
    /// Venue time.
    pub at: TimeMs,
    /// What.
    pub kind: ActKind,
    /// Leg acts: the pair.
    pub pair: PairSel,
    /// Leg acts: the legs.
    pub leg: LegSel,
    /// ADL: how much.
    pub amount: AdlAmount,
    /// ADL: the position side (BOTH in one-way mode).
    pub position_side: PositionSide,
}

impl ExternalAct {
    /// What the act aims at, for the log (`pair 2 stop_loss`, `LONG 50 %`).
    pub fn describe(&self) -> String {
        match self.kind {
            ActKind::CancelLeg | ActKind::ExpireLeg => {
                let pair = match self.pair {
                    PairSel::Nth(n) => format!("pair {n}"),
                    PairSel::Latest => "the latest pair".to_string(),
                };
                format!("{pair} {}", self.leg.as_str())
            }
            ActKind::Adl => {
                let what = match self.amount {
                    AdlAmount::Quantity(q) => format!("quantity {q}"),
                    AdlAmount::Fraction(f) => format!("fraction {f}"),
                };
                format!("{} position, {what}", self.position_side.as_str())
            }
        }
    }
}

impl Venue {
    /// Time of the next act due at or before `t`.
    pub(crate) fn external_due(&self, t: TimeMs) -> Option<TimeMs> {
        self.cfg
            .external
            .get(self.ext_next)
            .map(|a| a.at)
            .filter(|&a| a <= t)
    }

    /// Time of the next act not yet performed.
    pub fn next_external(&self) -> Option<TimeMs> {
        self.cfg.external.get(self.ext_next).map(|a| a.at)
    }

    /// Performs the next act (the market stands at its time or later).
    pub(crate) fn perform_next_external(&mut self) {
        let Some(act) = self.cfg.external.get(self.ext_next).cloned() else {
            return;
        };
        self.ext_next += 1;
        // the exchange stamps its events with its clock (at `at`, or later for an act before the
        // data), and the record goes with them
        let now = self.ex.time();
        let (acted, outcome) = match act.kind {
            ActKind::CancelLeg | ActKind::ExpireLeg => {
                let expire = act.kind == ActKind::ExpireLeg;
                let legs = self.targets.live_legs(&self.ex, act.pair);
                let want = |l: super::target::Leg| match act.leg {
                    LegSel::Both => true,
                    LegSel::StopLoss => l == super::target::Leg::StopLoss,
                    LegSel::TakeProfit => l == super::target::Leg::TakeProfit,
                };
                let hit: Vec<_> = legs.into_iter().filter(|l| want(l.2)).collect();
                if hit.is_empty() {
                    (false, "no such live leg: nothing done".to_string())
                } else {
                    let mut done = Vec::new();
                    for &(algo, k, leg, pair) in &hit {
                        let (ok, id) = if algo {
                            let id = self.ex.algos[k].id;
                            (self.ex.external_end_algo(k, expire), format!("algo {id}"))
                        } else {
                            let id = self.ex.orders[k].id;
                            (self.ex.external_end_order(k, expire), format!("order {id}"))
                        };
                        if ok {
                            done.push(format!("pair {pair} {} {id}", leg.as_str()));
                        }
                    }
                    let verb = if expire { "expired" } else { "cancelled" };
                    (true, format!("{verb} {}", done.join(", ")))
                }
            }
            ActKind::Adl => {
                let spec = self.ex.spec().clone();
                let amt = self.ex.position_steps(act.position_side);
                let steps = match act.amount {
                    AdlAmount::Quantity(q) => (q / spec.step_size).floor(),
                    AdlAmount::Fraction(f) => (Decimal::from(amt.abs()) * f).floor(),
                };
                let steps = i64::try_from(steps).unwrap_or(i64::MAX);
                match (amt, steps) {
                    (0, _) => (false, "no position on that side: nothing done".to_string()),
                    (_, s) if s <= 0 => (
                        false,
                        "the amount rounds to 0 steps: nothing done".to_string(),
                    ),
                    _ => match self.ex.adl(act.position_side, steps) {
                        Some(f) => (
                            true,
                            format!(
                                "ADL closed {} of {} @ {} (order {}, realized {})",
                                f.qty, f.before, f.price, f.order_id, f.realized
                            ),
                        ),
                        None => (false, "nothing done".to_string()),
                    },
                }
            }
        };
        let rec = Event::External {
            index: act.index,
            act: act.kind.as_str().to_string(),
            target: act.describe(),
            outcome,
            acted,
        };
        // the exchange's events are still in its buffer, so the record lands before them
        self.feed.log.push(now, Source::Sim, rec);
        let t = self.ex.time();
        super::venue::sync(&mut self.ex, &mut self.feed, &self.cfg, t);
    }
}
