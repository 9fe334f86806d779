//! A finished run's header ([`RunInfo`]) and summary, built from the scenario and the run's
//! output — here rather than in the CLI so that `sweep` and `serve` read them without depending
//! on the command line.

use super::{summarize, RunInfo, Summary};
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
