//! `sim check` warnings: input that is valid but can do nothing at run time (issue 16).

use crate::scenario::Scenario;
use crate::sim::FaultKind;
use crate::types::fmt_time_ms;

/// One line per piece of the scenario that cannot act during the run: signals, manual closes and
/// restarts outside the data window, scheduled faults whose window is empty or misses the data.
pub fn warnings(sc: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
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
