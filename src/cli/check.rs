//! `sim check` warnings: input that is valid but can do nothing at run time (issue 16).

use crate::scenario::Scenario;
use crate::sim::FaultKind;
use crate::types::fmt_time_ms;

/// One line per piece of the scenario that cannot act during the run: signals, manual closes and
/// restarts outside the data window, scheduled faults whose window is empty or misses the data,
/// targeted faults that can never match.
pub fn warnings(sc: &Scenario) -> Vec<String> {
    let mut out = targeted_warnings(sc);
    let (Some(first), Some(last)) = (sc.bars.first(), sc.bars.last()) else {
        return out;
    };
    let (start, end) = (first.t, last.t + sc.interval_ms);
    let window = format!("{} → {}", fmt_time_ms(start), fmt_time_ms(end));
    let outside = |t: i64| t < start || t >= end;
    for (i, s) in sc.signals.iter().enumerate() {
        if outside(s.timestamp.0) {
            out.push(format!(
                "signals[{i}] at {} is outside the data ({window}): it never reaches the engine",
                fmt_time_ms(s.timestamp.0)
            ));
        }
    }
    for (i, m) in sc.manual.iter().enumerate() {
        if outside(m.at.0) {
            out.push(format!(
                "manual_closes[{i}] at {} is outside the data ({window}): it never happens",
                fmt_time_ms(m.at.0)
            ));
        }
    }
    for a in &sc.sim.external {
        if outside(a.at.0) {
            out.push(format!(
                "external[{}] at {} is outside the data ({window}): it never happens",
                a.index,
                fmt_time_ms(a.at.0)
            ));
        }
    }
    out.extend(external_pair_warnings(sc));
    for (i, &r) in sc.sim.faults.restarts_ms.iter().enumerate() {
        if outside(r) {
            out.push(format!(
                "faults.restarts_ms[{i}] = {r} ({}) is outside the data ({window}): it never happens",
                fmt_time_ms(r)
            ));
        }
    }
    for (i, f) in sc.sim.faults.scheduled.iter().enumerate() {
        let what = if f.kind == FaultKind::DropStream {
            "drops no stream event"
        } else {
            "hits no call"
        };
        if f.from_ms >= f.to_ms {
            out.push(format!(
                "faults.scheduled[{i}]: empty window (from_ms {} >= to_ms {}): it {what}",
                f.from_ms, f.to_ms
            ));
        } else if f.to_ms <= start || f.from_ms >= end {
            out.push(format!(
                "faults.scheduled[{i}]: window {} → {} is outside the data ({window}): it {what}",
                fmt_time_ms(f.from_ms),
                fmt_time_ms(f.to_ms)
            ));
        }
    }
    out
}

/// Leg acts that can never hit: a pair beyond the signals that could open it, or one whose
/// position cannot have been opened yet at the act's time (no `buy`/`sell` delivered by then
/// could be its Nth).
fn external_pair_warnings(sc: &Scenario) -> Vec<String> {
    use crate::engine::Action;
    use crate::sim::external::{ActKind, PairSel};
    let mut out = Vec::new();
    for a in &sc.sim.external {
        let PairSel::Nth(n) = a.pair else { continue };
        if a.kind == ActKind::Adl {
            continue;
        }
        let before = sc
            .signals
            .iter()
            .filter(|s| matches!(s.action, Action::Buy | Action::Sell) && s.timestamp <= a.at)
            .count();
        let built_in = sc.sim.strategy.is_some();
        if !built_in && (n as usize) > before {
            out.push(format!(
                "external[{}] names pair {n}, but only {before} buy/sell signal(s) come by {}: it can never hit",
                a.index,
                fmt_time_ms(a.at.0)
            ));
        }
    }
    out
}

/// Targeted faults that can never match: a pair beyond the signals that could open it (each
/// position needs a `buy` or `sell`), or a target shadowed by an earlier `times = "always"`
/// target that matches every call it would.
fn targeted_warnings(sc: &Scenario) -> Vec<String> {
    use crate::engine::Action;
    use crate::sim::target::{Leg, Times};
    let mut out = Vec::new();
    let targets = &sc.sim.faults.targeted;
    let entries = sc
        .signals
        .iter()
        .filter(|s| matches!(s.action, Action::Buy | Action::Sell))
        .count();
    for (i, t) in targets.iter().enumerate() {
        if t.request.is_some() {
            let pair = t.pair.unwrap_or(1) as usize;
            if pair > entries {
                out.push(format!(
                    "faults.targeted[{i}] ({}): the scenario has {entries} buy/sell signal(s), so no pair {pair} ever opens: it never matches",
                    t.describe()
                ));
                continue;
            }
        }
        let covers = |e: &crate::sim::target::TargetedFault| {
            e.times == Times::Always
                && match (e.call, t.call) {
                    (Some(a), Some(b)) => a == b && e.nth.unwrap_or(1) <= t.nth.unwrap_or(1),
                    (None, None) => {
                        e.request == t.request
                            && e.leg.is_none_or(|l| l == Leg::Any || Some(l) == t.leg)
                            && e.pair.is_none_or(|p| Some(p) == t.pair)
                    }
                    _ => false,
                }
        };
        if let Some(j) = targets[..i].iter().position(covers) {
            out.push(format!(
                "faults.targeted[{i}] ({}): faults.targeted[{j}] answers every call it would match (times = \"always\"): it never matches",
                t.describe()
            ));
        }
    }
    out
}
