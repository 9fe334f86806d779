//! `sim explore`: seeded bug hunting against an engine profile.
//!
//! Case `i` is drawn from its own stream `draw(seed, Explore, i)`, so a case never depends on the
//! ones before it or on the thread count. Cases run in batches in parallel; results are folded
//! in case order into **findings**: one per (invariant, signature of how it arose). The first case
//! of each finding is shrunk (faults, signals, bars, latencies, settings) while the same finding
//! still occurs, and written as a scenario + CSV that `sim run` replays to the same violation.

pub mod case;

pub use case::{CaseSpec, Pool};

use crate::events::{CallOutcome, Event, EventLog};
use crate::invariants::{Invariant, Violation};
use crate::sim::rng::{draw, Stream, StreamRng};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// What to hunt.
pub struct ExploreConfig {
    /// Profile under test.
    pub profile: String,
    /// Switch overrides.
    pub sets: Vec<(String, String)>,
    /// Seed.
    pub seed: u64,
    /// Real-data pools for windows (empty: generated paths only).
    pub pools: Vec<Pool>,
    /// Cases per batch (parallel unit).
    pub batch: u64,
    /// Shrink findings.
    pub shrink: bool,
}

/// One distinct failure.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// 1-based number.
    pub id: usize,
    /// Invariant name.
    pub invariant: String,
    /// How it arose.
    pub signature: String,
    /// One-line story.
    pub story: String,
    /// Case index of the first hit.
    pub first_case: u64,
    /// Cases run until the first hit (first_case + 1).
    pub cases_until_hit: u64,
    /// (bars, signals, faults) before shrinking.
    pub size_before: (usize, usize, usize),
    /// After shrinking.
    pub size_after: (usize, usize, usize),
    /// Scenario file written.
    pub file: String,
    /// The replay command.
    pub replay: String,
    #[serde(skip)]
    /// The (shrunk) case.
    pub case: CaseSpec,
}

/// Result of an exploration.
#[derive(Debug, Clone, Serialize)]
pub struct ExploreResult {
    /// Profile.
    pub profile: String,
    /// Seed.
    pub seed: u64,
    /// Cases run.
    pub cases: u64,
    /// Findings, in order of first hit.
    pub findings: Vec<Finding>,
}

/// A case's index, the case and its (signature, violation) list.
type CaseOutcome = (u64, CaseSpec, Vec<(String, Violation)>);

/// Normalised "how it arose": the invariant, the message with numbers removed, and the Binance
/// codes / transport faults and engine steps found in the trail.
pub fn signature(v: &Violation, log: &EventLog) -> String {
    let m = v.message.as_str();
    let story = match v.invariant {
        Invariant::Orphan if m.contains("filled") => "orphan filled",
        Invariant::Orphan => "orphan left open",
        Invariant::ReduceOnlyMode if m.contains("reduceOnly=") => "reduceOnly in hedge mode",
        Invariant::ReduceOnlyMode if m.contains("hedge") => "no positionSide in hedge mode",
        Invariant::ReduceOnlyMode => "positionSide in one-way mode",
        Invariant::TrackingDrift if m.contains("dropped") => "dropped a live pair",
        Invariant::TrackingDrift => "tracks vanished legs",
        Invariant::OneLeg => "both legs filled",
        Invariant::NoFlip => "protective fill flipped or grew",
        Invariant::BooksBalance => "wallet mismatch",
        Invariant::NakedPosition => "no live stop",
        Invariant::ExcessProtection => "protection exceeds position",
        Invariant::StopBeyondLiquidation => "liquidated with a stop resting",
    };
    // the one most telling step of the trail (engine lifecycle first, then Binance's answer)
    const ORDER: [&str; 12] = [
        "restart",
        "monitor-stopped",
        "stream-drop",
        "-1106",
        "-4061",
        "-2011",
        "-2013",
        "-2021",
        "-2022",
        "-4120",
        "transport",
        "throttled",
    ];
    let mut best: Option<usize> = None;
    for s in &v.trail {
        let Some(r) = log.records().get(s.0 as usize) else {
            continue;
        };
        let mark: String = match &r.event {
            Event::Response {
                outcome: CallOutcome::Rejected(e),
                ..
            } => {
                if e.code == -1003 || e.code == -1008 || e.http >= 500 {
                    "throttled".into()
                } else {
                    e.code.to_string()
                }
            }
            Event::Response {
                outcome: CallOutcome::Fault { .. },
                ..
            } => "transport".into(),
            Event::StreamDropped { .. } => "stream-drop".into(),
            Event::Engine(crate::events::EngineEvent::Restart) => "restart".into(),
            Event::Engine(crate::events::EngineEvent::MonitorStopped { .. }) => {
                "monitor-stopped".into()
            }
            _ => continue,
        };
        if let Some(k) = ORDER.iter().position(|m| *m == mark) {
            best = Some(best.map_or(k, |b| b.min(k)));
        }
    }
    format!(
        "{}: {story} [{}]",
        v.invariant.name(),
        best.map_or("", |k| ORDER[k])
    )
}

/// True for profiles of releases that predate the Algo Order API (their legs go to
/// /fapi/v1/order, so their cases replay the pre-2025-12-09 venue).
pub fn legacy_era(profile: &str) -> bool {
    profile.starts_with("tradeengine-v1.1.")
}

/// Draws case `i` for `profile`.
pub fn draw_case(seed: u64, i: u64, pools: &[Pool], profile: &str) -> CaseSpec {
    let mut rng = StreamRng::new(draw(seed, Stream::Explore, i), Stream::Explore);
    let mut c = CaseSpec::draw(&mut rng, pools);
    c.legacy_api = legacy_era(profile);
    c
}

/// Runs a case; None when it could not be built (never expected for drawn cases).
pub fn run_case(
    c: &CaseSpec,
    profile: &str,
    sets: &[(String, String)],
) -> Option<(Vec<Violation>, EventLog)> {
    let sc = c.scenario(profile, sets).ok()?;
    let r = sc.run();
    Some((r.violations, r.output.log))
}

fn signatures(c: &CaseSpec, profile: &str, sets: &[(String, String)]) -> Vec<(String, Violation)> {
    match run_case(c, profile, sets) {
        Some((vs, log)) => vs.into_iter().map(|v| (signature(&v, &log), v)).collect(),
        None => Vec::new(),
    }
}

/// Shrinks `c` while a violation with signature `sig` still occurs.
pub fn shrink(c: &CaseSpec, sig: &str, profile: &str, sets: &[(String, String)]) -> CaseSpec {
    let holds = |x: &CaseSpec| signatures(x, profile, sets).iter().any(|(s, _)| s == sig);
    let mut best = c.clone();
    let mut budget = 400;
    loop {
        let mut improved = false;
        for cand in candidates(&best) {
            if budget == 0 {
                return best;
            }
            budget -= 1;
            if holds(&cand) {
                best = cand;
                improved = true;
                break;
            }
        }
        if !improved {
            return best;
        }
    }
}

fn candidates(c: &CaseSpec) -> Vec<CaseSpec> {
    let mut v = Vec::new();
    let f = &c.faults;
    macro_rules! zero {
        ($field:ident) => {
            if f.$field > 0 {
                let mut x = c.clone();
                x.faults.$field = 0;
                v.push(x);
            }
        };
    }
    for i in 0..f.restarts_ms.len() {
        let mut x = c.clone();
        x.faults.restarts_ms.remove(i);
        v.push(x);
    }
    zero!(rate_limit_ppm);
    zero!(timeout_ppm);
    zero!(server_error_ppm);
    zero!(cancel_unknown_ppm);
    zero!(poll_error_ppm);
    zero!(stream_drop_ppm);
    for i in 0..c.manual.len() {
        let mut x = c.clone();
        x.manual.remove(i);
        v.push(x);
    }
    for i in 0..c.signals.len() {
        if c.signals.len() > 1 {
            let mut x = c.clone();
            x.signals.remove(i);
            v.push(x);
        }
    }
    // shorter bar windows: halve the tail, drop the last bar, drop leading bars before the
    // first signal
    let n = c.bars.len();
    if n > 2 {
        let last_needed = c
            .signals
            .iter()
            .map(|s| s.at_ms)
            .chain(c.manual.iter().map(|m| m.0))
            .max()
            .unwrap_or(0);
        let min_keep = c
            .bars
            .iter()
            .position(|b| b.t + case::CASE_INTERVAL_MS > last_needed)
            .map(|i| i + 1)
            .unwrap_or(n);
        for keep in [min_keep.max((n / 2).max(2)), n - 1] {
            if keep < n && keep >= min_keep.min(n) && keep >= 2 {
                let mut x = c.clone();
                x.bars.truncate(keep);
                x.faults
                    .restarts_ms
                    .retain(|t| *t < x.bars[keep - 1].t + case::CASE_INTERVAL_MS);
                v.push(x);
            }
        }
        let first_needed = c
            .signals
            .iter()
            .map(|s| s.at_ms)
            .chain(c.manual.iter().map(|m| m.0))
            .min()
            .unwrap_or(i64::MAX);
        if c.bars.len() > 2 && c.bars[1].t + case::CASE_INTERVAL_MS <= first_needed {
            let mut x = c.clone();
            x.bars.remove(0);
            v.push(x);
        }
    }
    if c.latency_ms > 0 {
        let mut x = c.clone();
        x.latency_ms = 0;
        v.push(x);
    }
    if c.stream {
        let mut x = c.clone();
        x.stream = false;
        v.push(x);
    }
    if c.poll_ms != 2000 {
        let mut x = c.clone();
        x.poll_ms = 2000;
        v.push(x);
    }
    if c.intrabar != crate::exchange::IntrabarPolicy::Ohlc {
        let mut x = c.clone();
        x.intrabar = crate::exchange::IntrabarPolicy::Ohlc;
        v.push(x);
    }
    v
}

/// Runs cases in batches until `stop(cases_done, findings)` says so; returns the findings
/// (shrunk when configured). Deterministic for a given number of cases run.
pub fn explore(
    cfg: &ExploreConfig,
    stop: &(dyn Fn(u64, usize) -> bool + Sync),
    on_batch: &(dyn Fn(u64, usize) + Sync),
) -> ExploreResult {
    explore_with_progress(cfg, stop, on_batch, &|_| {})
}

/// As [`explore`], handing the findings found so far (first hits, not yet shrunk) to
/// `on_found` after every batch that found something new, so an interrupted run keeps them.
pub fn explore_with_progress(
    cfg: &ExploreConfig,
    stop: &(dyn Fn(u64, usize) -> bool + Sync),
    on_batch: &(dyn Fn(u64, usize) + Sync),
    on_found: &(dyn Fn(&ExploreResult) + Sync),
) -> ExploreResult {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut raw: Vec<(String, Violation, u64, CaseSpec)> = Vec::new();
    let mut done = 0u64;
    let mut reported = 0usize;
    while !stop(done, raw.len()) {
        let batch = cfg.batch.max(1);
        // one task per case (sizes differ): idle cores can always steal the next one
        let results: Vec<CaseOutcome> = (0..usize::try_from(batch).unwrap_or(usize::MAX))
            .into_par_iter()
            .with_max_len(1)
            .map(|k| {
                let i = done + k as u64;
                let c = draw_case(cfg.seed, i, &cfg.pools, &cfg.profile);
                let s = signatures(&c, &cfg.profile, &cfg.sets);
                (i, c, s)
            })
            .collect();
        for (i, c, sigs) in results {
            for (sig, v) in sigs {
                if !seen.contains_key(&sig) {
                    seen.insert(sig.clone(), raw.len());
                    raw.push((sig, v, i, c.clone()));
                }
            }
        }
        done += batch;
        on_batch(done, raw.len());
        if raw.len() > reported {
            reported = raw.len();
            on_found(&assemble(cfg, done, &raw, false));
        }
    }
    assemble(cfg, done, &raw, cfg.shrink)
}

/// Findings from first hits, shrunk when `shrink` (in parallel; each finding independently).
fn assemble(
    cfg: &ExploreConfig,
    done: u64,
    raw: &[(String, Violation, u64, CaseSpec)],
    shrink_them: bool,
) -> ExploreResult {
    let findings: Vec<Finding> = raw
        .par_iter()
        .with_max_len(1)
        .enumerate()
        .map(|(k, (sig, v, i, c))| {
            let shrunk = if shrink_them {
                shrink(c, sig, &cfg.profile, &cfg.sets)
            } else {
                c.clone()
            };
            Finding {
                id: k + 1,
                invariant: v.invariant.name().to_string(),
                signature: sig.clone(),
                story: format!("{}: {}", v.invariant.describe(), v.message),
                first_case: *i,
                cases_until_hit: i + 1,
                size_before: c.size(),
                size_after: shrunk.size(),
                file: format!("finding-{}.toml", k + 1),
                replay: String::new(),
                case: shrunk,
            }
        })
        .collect();
    ExploreResult {
        profile: cfg.profile.clone(),
        seed: cfg.seed,
        cases: done,
        findings,
    }
}

/// Writes `finding-<n>.toml` + `.csv`, `findings.md`, `findings.json`, `findings.html` into the
/// existing folder `into`; replay commands name `dir`, the folder the files are published as.
pub fn write(
    into: &Path,
    dir: &Path,
    res: &mut ExploreResult,
    sets: &[(String, String)],
    rate: Option<f64>,
) -> std::io::Result<()> {
    for f in res.findings.iter_mut() {
        let name = format!("finding-{}", f.id);
        let csv = format!("{}-1m-{name}.csv", f.case.symbol);
        f.replay = format!("sim run {}", dir.join(&f.file).display());
        let header = format!(
            "sim explore finding {} against `{}` (seed {}, case {}).\n{}\nsignature: {}\nreplay: {}\nexpect-exit: 1\nexpect-violation: {}",
            f.id, res.profile, res.seed, f.first_case, f.story, f.signature, f.replay, f.invariant
        );
        std::fs::write(into.join(&csv), f.case.csv())?;
        std::fs::write(
            into.join(&f.file),
            f.case.toml(&name, &res.profile, sets, &csv, &header),
        )?;
    }
    let mut md = format!(
        "# sim explore: `{}`\n\nseed {}, {} cases{}, {} findings.\n\n",
        res.profile,
        res.seed,
        res.cases,
        rate.map(|r| format!(" ({r:.0} cases/s)"))
            .unwrap_or_default(),
        res.findings.len()
    );
    if !res.findings.is_empty() {
        md.push_str("| # | invariant | signature | story | first hit (cases) | size before (bars/signals/faults) | after | replay |\n|---|---|---|---|---:|---|---|---|\n");
        for f in &res.findings {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {:?} | {:?} | `{}` |",
                f.id,
                f.invariant,
                f.signature.replace('|', "/"),
                f.story.replace('|', "/"),
                f.cases_until_hit,
                f.size_before,
                f.size_after,
                f.replay
            );
        }
    }
    std::fs::write(into.join("findings.md"), &md)?;
    std::fs::write(
        into.join("findings.json"),
        serde_json::to_string_pretty(res).unwrap_or_default(),
    )?;
    let body = md
        .lines()
        .map(|l| {
            l.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(
        into.join("findings.html"),
        format!("<!doctype html><html><head><meta charset=\"utf-8\"><title>sim explore {}</title></head><body><pre>{}</pre></body></html>\n", res.profile, body),
    )?;
    Ok(())
}
