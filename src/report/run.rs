//! A finished run's header ([`RunInfo`]) and summary, built from the scenario and the run's
//! output — here rather than in the CLI so that `sweep` and `serve` read them without depending
//! on the command line.

use super::{summarize, summarize_tally, RunInfo, Summary, Tally};
use crate::events::{EventLog, EventRecord, Observer};
use crate::scenario::{RunResult, Scenario};
use crate::sim::RunOutput;

/// The header of a run of `sc` that produced `o` (engine fields as for an in-process run).
pub fn run_info(sc: &Scenario, o: &RunOutput) -> RunInfo {
    RunInfo {
        scenario: sc.name.clone(),
        profile: sc.profile.clone(),
        seed: sc.seed,
        symbol: sc.spec.symbol.to_string(),
        interval: sc.interval.clone(),
        position_mode: format!("{:?}", sc.exchange.position_mode),
        monitor: format!("{:?}", sc.engine.monitor).to_lowercase(),
        intrabar: format!("{:?}", sc.exchange.intrabar).to_lowercase(),
        first_bar: o.span.0,
        last_bar: o.span.1,
        bars: o.exchange.bars,
        ambiguous_bars: o.exchange.ambiguous_bars,
        passes: o.sim.passes,
        passes_skipped: o.sim.passes_skipped,
        calls: o.sim.calls,
        faults: o.sim.faults,
        rejections: o.exchange.rejections,
        initial_balance: sc.exchange.initial_balance,
    }
}

/// The summary of a finished in-process run of `sc`: [`summarize`] over its event log, with the
/// scenario's data warnings.
pub fn summarize_run(sc: &Scenario, r: &RunResult) -> Summary {
    let mut s = summarize(&run_info(sc, &r.output), &r.output.log, &r.violations);
    s.data_warnings = sc.data_warnings.clone();
    s
}

/// Runs `sc` for its summary alone (what a sweep keeps of a case): the records go through a
/// streaming log into a [`Tally`] as they are appended, so no whole log is built and dropped and
/// memory stays flat in the length of the case's history. The summary is the one
/// [`summarize_run`] gives of the same run with its whole log; the result's log keeps no
/// records (its violations and trails are whole).
pub fn run_summary(sc: &Scenario) -> (Summary, RunResult) {
    let (r, tally) = sc.run_observed(
        &mut |_| {},
        EventLog::streaming(sc.check.trail_len + 1),
        Some(Box::new(TallyObserver(Tally::new(
            sc.exchange.initial_balance,
        )))),
    );
    let tally = tally
        .and_then(|o| o.into_any().downcast::<TallyObserver>().ok())
        .expect("the run's tally");
    let mut s = summarize_tally(&run_info(sc, &r.output), &tally.0, &r.violations);
    s.data_warnings = sc.data_warnings.clone();
    (s, r)
}

/// A [`Tally`] fed by the log as the run goes.
struct TallyObserver(Tally);

impl Observer for TallyObserver {
    fn observe(&mut self, r: &EventRecord, _log: &EventLog) {
        self.0.observe(r);
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}
