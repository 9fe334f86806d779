//! Built-in reactive strategies: signals decided during the run from what a trader would see
//! (the close of each bar and its own position on the venue), sent to the engine exactly as
//! scenario signals are (`EngineEvent::Signal` and the dispatcher's gates included).
//!
//! [`Bracket`] is the workload every backtester runs: a bracket always in the market. At the
//! close of each bar it looks at the venue; when the symbol's position is flat (every position
//! side at zero) and has been for `reenter_after_bars` bar closes since the close that first saw
//! it flat, it sends a market entry with a stop-loss and a take-profit at fixed distances from
//! that bar's close. With `reenter_after_bars = 0` the entry goes out at the close of the bar in
//! which the previous trade exited. The first entry goes out at the close of the first bar.
//!
//! Contract: a pure function of the bars and the venue's positions at bar closes; the check at
//! the close of bar `i` runs at `bars[i + 1].t` (or later, when the engine is busy until then),
//! after the venue has been walked to that instant. No check runs after the last bar.

use super::*;
use crate::engine::Action;

/// Which way the bracket enters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BracketSide {
    /// Always long.
    Long,
    /// Always short.
    Short,
    /// Long first, then short, then long, …
    Alternate,
}

/// A distance from the entry bar's close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distance {
    /// A fraction of the close (0.004 is 0.4 %), rounded to the nearest tick, at least one tick.
    Pct(Decimal),
    /// A number of ticks.
    Ticks(i64),
}

impl Distance {
    /// The distance in ticks from a close of `close` ticks (at least 1).
    pub fn ticks(self, close: i64) -> i64 {
        match self {
            Distance::Pct(p) => pct_ticks(close, p)
                .unwrap_or_else(|| {
                    (Decimal::from(close) * p)
                        .round()
                        .try_into()
                        .unwrap_or(i64::MAX / 4)
                })
                .max(1),
            Distance::Ticks(n) => n.max(1),
        }
    }
}

/// `(close × p).round()` (half to even, as `Decimal::round`) in integers, without Decimal's
/// multiply and round (two a signal): exact whenever the product of the mantissas fits Decimal's
/// 96 bits, as it does for every real close and fraction; None otherwise (or when the result
/// leaves i64), and the caller takes the Decimal path.
fn pct_ticks(close: i64, p: Decimal) -> Option<i64> {
    let x = i128::from(close).checked_mul(p.mantissa())?;
    if x.unsigned_abs() >= 1 << 96 {
        return None;
    }
    let d = 10i128.checked_pow(p.scale())?;
    let (q, r) = (x / d, x % d);
    let twice = 2 * r.abs();
    let q = if twice > d || (twice == d && q % 2 != 0) {
        q + x.signum()
    } else {
        q
    };
    i64::try_from(q).ok()
}

/// `[strategy] kind = "bracket"`: a bracket always in the market (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bracket {
    /// Entry side.
    pub side: BracketSide,
    /// Entry quantity (0: the minimum size).
    pub quantity: Decimal,
    /// Stop-loss distance.
    pub sl: Distance,
    /// Take-profit distance.
    pub tp: Distance,
    /// Bar closes to wait, flat, before entering again (0: at the close of the exit bar).
    pub reenter_after_bars: u32,
    /// strategy_id of its signals.
    pub strategy_id: Ident,
    /// confidence of its signals.
    pub confidence: Decimal,
}

/// A bracket's state during one run.
#[derive(Debug, Clone)]
pub(crate) struct BracketRun {
    cfg: Bracket,
    /// The bar whose close is checked next.
    bar: usize,
    /// The bar at whose close the position was first seen flat (None: in a position, or an
    /// entry was just sent).
    flat_since: Option<usize>,
    /// Entries sent so far.
    entries: u64,
    /// After a check that found the venue in a position: the venue's state version then and
    /// the earliest time it could change without a request ([`MockExchange::next_change_time`]).
    /// Until that time, while the version holds, every check finds the position again.
    busy: Option<(u64, TimeMs)>,
}

impl BracketRun {
    /// A run of `cfg` from the first bar.
    pub(crate) fn new(cfg: Bracket) -> BracketRun {
        BracketRun {
            cfg,
            bar: 0,
            flat_since: Some(0),
            entries: 0,
            busy: None,
        }
    }

    /// True when the check due at `t` would find the venue in a position without walking it
    /// there: the last check found a position, the venue's version has not moved since, and
    /// nothing can change on its own before `t` (the caller also rules out acts behind the
    /// engine's back due by `t`). [`Self::count_bars`] then stands for [`Self::check`].
    pub(crate) fn in_position_until(&self, ex: &MockExchange, t: TimeMs) -> bool {
        self.busy
            .is_some_and(|(ver, until)| ver == ex.version() && t < until && !ex.is_flat())
    }

    /// When the next check is due, or, while checks provably find the venue in a position
    /// (see [`Self::in_position_until`]), the time they stop doing so: a bound for skipping
    /// work, which must not pass a check that could act.
    pub(crate) fn next_possible_entry(&self, ex: &MockExchange) -> Option<TimeMs> {
        let next = self.next_check(ex)?;
        match self.busy {
            Some((ver, until)) if ver == ex.version() && next < until && !ex.is_flat() => {
                Some(until)
            }
            _ => Some(next),
        }
    }

    /// The index of the bar whose open is the time of the next check (`bars[i].t`).
    pub(crate) fn next_check_bar(&self) -> usize {
        self.bar + 1
    }

    /// The check at `now` when the venue is in a position: counts the bars closed by `now`.
    pub(crate) fn count_bars(&mut self, ex: &MockExchange, now: TimeMs) {
        while ex.bars.get(self.bar + 2).is_some_and(|b| b.t <= now.0) {
            self.bar += 1;
        }
        self.bar += 1;
        self.flat_since = None;
    }

    /// When the next check is due: the close of the bar to check (the next bar's open), or
    /// None after the last bar.
    pub(crate) fn next_check(&self, ex: &MockExchange) -> Option<TimeMs> {
        ex.bars.get(self.bar + 1).map(|b| TimeMs(b.t))
    }

    /// The check at `now` (≥ [`Self::next_check`]), with the venue walked to `now`: the signal
    /// to send, if any.
    pub(crate) fn check(&mut self, ex: &MockExchange, now: TimeMs) -> Option<Signal> {
        if !ex.is_flat() {
            self.count_bars(ex, now);
            self.busy = Some((ex.version(), ex.next_change_time(TimeMs(i64::MAX))));
            return None;
        }
        self.busy = None;
        // the last bar closed by `now` (later ones when the engine was busy past a close)
        while ex.bars.get(self.bar + 2).is_some_and(|b| b.t <= now.0) {
            self.bar += 1;
        }
        let bar = self.bar;
        self.bar += 1;
        let since = *self.flat_since.get_or_insert(bar);
        if bar - since < self.cfg.reenter_after_bars as usize {
            return None;
        }
        self.flat_since = None;
        let long = match self.cfg.side {
            BracketSide::Long => true,
            BracketSide::Short => false,
            BracketSide::Alternate => self.entries % 2 == 0,
        };
        self.entries += 1;
        let close = ex.bars[bar].c;
        let (sl, tp) = (self.cfg.sl.ticks(close), self.cfg.tp.ticks(close));
        let (sl, tp) = if long {
            (close - sl, close + tp)
        } else {
            (close + sl, close - tp)
        };
        let spec = &ex.spec;
        Some(Signal {
            strategy_id: self.cfg.strategy_id.clone(),
            symbol: spec.symbol.clone(),
            action: if long { Action::Buy } else { Action::Sell },
            confidence: self.cfg.confidence,
            quantity: self.cfg.quantity,
            current_price: spec.price(close),
            // a stop or target at or below zero is sent as the lowest tick (the venue judges it)
            stop_loss: Some(spec.price(sl.max(1))),
            take_profit: Some(spec.price(tp.max(1))),
            stop_loss_pct: None,
            take_profit_pct: None,
            order_type: "market".into(),
            time_in_force: None,
            position_size_pct: None,
            timestamp: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pct_ticks_rounds_like_decimal() {
        let decimal = |close: i64, p: Decimal| -> i64 {
            (Decimal::from(close) * p)
                .round()
                .try_into()
                .unwrap_or(i64::MAX / 4)
        };
        let fracs = [
            Decimal::new(4, 3),
            Decimal::new(5, 1),
            Decimal::new(25, 2),
            Decimal::new(15, 1),
            Decimal::new(-5, 1),
            Decimal::new(-25, 1),
            Decimal::new(1, 28),
            Decimal::new(123_456_789, 9),
            Decimal::new(5, 0),
        ];
        for p in fracs {
            for close in (-2_000..2_000).chain([i64::MAX, i64::MIN, 1 << 40, 99_995]) {
                let want = decimal(close, p);
                let got = pct_ticks(close, p).unwrap_or_else(|| decimal(close, p));
                assert_eq!(got, want, "{close} x {p}");
            }
        }
    }

    #[test]
    fn distances_round_to_ticks_and_are_never_zero() {
        assert_eq!(Distance::Pct(Decimal::new(4, 3)).ticks(10_000), 40);
        assert_eq!(Distance::Pct(Decimal::new(4, 3)).ticks(1_000), 4);
        assert_eq!(Distance::Pct(Decimal::new(4, 3)).ticks(100), 1);
        assert_eq!(Distance::Pct(Decimal::new(4, 3)).ticks(10), 1);
        assert_eq!(Distance::Ticks(7).ticks(10), 7);
        assert_eq!(Distance::Ticks(0).ticks(10), 1);
    }
}
