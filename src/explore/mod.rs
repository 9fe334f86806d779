//! `sim explore`: seeded bug hunting against an engine profile, findings keyed by root cause.
//!
//! Case `i` is drawn from its own stream `draw(seed, Explore, i)`, so a case never depends on the
//! ones before it, on the thread count or on the partition that runs it. Cases run in batches in
//! parallel; a case with violations is **attributed by difference**: the switches where the
//! profile under test differs from `reference` are set back to their `reference` values, singly
//! first, then in pairs (a bounded search after a greedy reduction of the full set), on the same
//! case and seed, and the smallest set that makes a violation go away is its root cause
//! ([`Attribution`]). Results are folded in case order into **findings**: one per (root cause,
//! invariant); a violation that survives flipping every switch is kept under an empty cause (an
//! ocosim bug or an invariant too strict for the case). The first case of each finding is shrunk
//! (faults, signals, bars, latencies, settings) while the same root cause still holds, and its
//! story and trail come from re-running the shrunk case exactly as `sim run` replays the file.
//!
//! Contract: findings are a pure function of (profile, switch overrides, seed, case count, data
//! pools); a run split with [`Partition`] and joined by [`merge`] gives the same findings.

pub mod case;
mod report;

pub use case::{CaseSpec, Pool};
pub use report::{
    found_expected_line, found_weak_points, markdown, masked_weak_points, weak_point_status, write,
    WeakPointStatus,
};

use crate::engine::switches::{weak_point, SWITCH_WEAK_POINTS};
use crate::engine::Switches;
use crate::events::{CallOutcome, Event, EventLog};
use crate::invariants::{Invariant, Violation};
use crate::scenario::Scenario;
use crate::sim::rng::{draw, Stream, StreamRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// A stable share of the cases: those whose index `i` has `i % n == k - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// 1-based part number.
    pub k: u64,
    /// Number of parts.
    pub n: u64,
}

impl Partition {
    /// Parses `K/N` (1 ≤ K ≤ N ≤ 1,000,000).
    pub fn parse(s: &str) -> Option<Partition> {
        let (k, n) = s.split_once('/')?;
        let (k, n): (u64, u64) = (k.trim().parse().ok()?, n.trim().parse().ok()?);
        (1..=1_000_000).contains(&n).then_some(())?;
        (1..=n).contains(&k).then_some(Partition { k, n })
    }

    /// The `j`-th case index of this part.
    pub fn index(&self, j: u64) -> u64 {
        (self.k - 1).saturating_add(self.n.saturating_mul(j))
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// What to hunt.
#[derive(Clone)]
pub struct ExploreConfig {
    /// Profile under test.
    pub profile: String,
    /// Switch overrides.
    pub sets: Vec<(String, String)>,
    /// Overrides of `reference` that attribution flips towards (`--unmask` puts the unmasking
    /// switch here too, so it is part of the baseline and never named as a cause).
    pub baseline: Vec<(String, String)>,
    /// Seed.
    pub seed: u64,
    /// Real-data pools for windows (empty: generated paths only).
    pub pools: Vec<Pool>,
    /// Cases per batch (parallel unit).
    pub batch: u64,
    /// Shrink findings.
    pub shrink: bool,
    /// Case indices run are `0..cases` (u64::MAX: until `stop` says so).
    pub cases: u64,
    /// Run only this share of the indices.
    pub partition: Option<Partition>,
    /// Bars per case (None: 4–53 generated, 10–119 real).
    pub window_bars: Option<usize>,
    /// Weak points whose switches attribution tries first (before §7 order): a masking set's
    /// run names a violation by the weak point the set unmasks when its switch alone also clears
    /// it ([`MASKING_SETS`]); empty: §7 order.
    pub prefer: Vec<String>,
}

impl ExploreConfig {
    /// A configuration with no overrides, generated paths only, batches of 256, shrinking on.
    pub fn new(profile: &str, seed: u64, cases: u64) -> ExploreConfig {
        ExploreConfig {
            profile: profile.to_string(),
            sets: Vec::new(),
            baseline: Vec::new(),
            seed,
            pools: Vec::new(),
            batch: 256,
            shrink: true,
            cases,
            partition: None,
            window_bars: None,
            prefer: Vec::new(),
        }
    }
}

/// One distinct failure: one behaviour of the engine (root cause) breaking one invariant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// 1-based number.
    pub id: usize,
    /// Invariant name.
    pub invariant: String,
    /// Grouping key: `invariant: cause` (with `masked by …` for `--unmask` findings).
    pub key: String,
    /// The switches that, set to their `reference` values, make the violation go away (empty:
    /// it survives every flip).
    pub cause: Vec<String>,
    /// Other single switches that alone also make it go away (in its first case).
    pub also: Vec<String>,
    /// Independent causes of the same invariant in the first case (flipped when this one was
    /// checked): the case needed all of them flipped.
    pub with: Vec<String>,
    /// Weak points of `tradeengine-oco.md` §7 the cause maps to.
    pub weak_points: Vec<String>,
    /// The switch whose `--unmask` value revealed it (None: found as the profile is).
    pub masked_by: Option<String>,
    /// Overrides on top of the run's `--set`s this finding needs (the unmask value).
    pub extra_sets: Vec<(String, String)>,
    /// Cases with this finding.
    pub count: u64,
    /// One-line story of the shrunk replay.
    pub story: String,
    /// The violation's trail in the shrunk replay, one line per event.
    pub trail: Vec<String>,
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
    /// The (shrunk) case.
    pub case: CaseSpec,
}

/// How trail-signature keying (the old grouping) compares with root-cause keying.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Duplicates {
    /// Trail signature → (first case, its root-cause key).
    pub signatures: BTreeMap<String, (u64, String)>,
}

impl Duplicates {
    /// (findings under trail signatures, distinct root causes among them).
    pub fn counts(&self) -> (usize, usize) {
        let mut keys: Vec<&String> = self.signatures.values().map(|(_, k)| k).collect();
        keys.sort();
        keys.dedup();
        (self.signatures.len(), keys.len())
    }

    /// Share of trail-signature findings that duplicate another's root cause.
    pub fn ratio(&self) -> f64 {
        let (n, m) = self.counts();
        if n == 0 {
            0.0
        } else {
            (n - m) as f64 / n as f64
        }
    }
}

/// Result of an exploration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExploreResult {
    /// Profile.
    pub profile: String,
    /// Switch overrides.
    pub sets: Vec<(String, String)>,
    /// Seed.
    pub seed: u64,
    /// Cases: indices `0..cases` (a part ran its share of them).
    pub cases: u64,
    /// The share run, for a part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Partition>,
    /// Weak points the profile's switches map to (what a complete hunt should show).
    pub expected: Vec<String>,
    /// Findings, in order of first hit.
    pub findings: Vec<Finding>,
    /// Old (trail signature) keying vs root causes.
    pub duplicates: Duplicates,
    /// Masking switches tried by `--unmask` (switch = value).
    #[serde(default)]
    pub unmasked: Vec<(String, String)>,
    /// Case mix: how many of the cases run drew each generator kind ([`CaseSpec::kinds`]).
    #[serde(default)]
    pub mix: BTreeMap<String, u64>,
}

/// Normalised "how it arose" as the first `sim explore` keyed findings: the invariant, a short
/// story, and the most telling Binance code / fault / lifecycle step of the trail. Kept to report
/// the duplicate ratio of that keying against root causes.
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
            Event::StreamDuplicated { .. } => "stream-duplicate".into(),
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

/// True when the named profile always sends `positionSide`, so it only trades in hedge mode
/// (one-way cases would only show the `-4061` it gets by design).
pub fn hedge_only(profile: &str) -> bool {
    Switches::profile(profile).is_some_and(|s| {
        s.position_side_param == crate::engine::switches::PositionSideParam::Always
    })
}

/// Draws case `i` for `profile`.
pub fn draw_case(seed: u64, i: u64, pools: &[Pool], profile: &str) -> CaseSpec {
    draw_case_window(seed, i, pools, profile, None)
}

/// As [`draw_case`], with `window` bars per case when given.
pub fn draw_case_window(
    seed: u64,
    i: u64,
    pools: &[Pool],
    profile: &str,
    window: Option<usize>,
) -> CaseSpec {
    let mut rng = StreamRng::new(draw(seed, Stream::Explore, i), Stream::Explore);
    let mut c = CaseSpec::draw_for(&mut rng, pools, hedge_only(profile), window);
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

/// The invariants `sc` breaks, from a run that keeps only what the checker needs (a streaming
/// log, as `sim run` keeps): no whole event log is built and dropped for a case that is only
/// checked (a case's first run and attribution's re-runs).
fn invariants_broken(sc: &Scenario) -> Vec<Invariant> {
    let log = EventLog::streaming(sc.check.trail_len + 1);
    let mut v: Vec<Invariant> = sc
        .run_observed(&mut |_| {}, log, None)
        .0
        .violations
        .iter()
        .map(|v| v.invariant)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The switch values (`set` text) of a switch set; `-` (an empty list) becomes the empty text.
fn value_texts(s: &Switches) -> Vec<(String, String)> {
    s.values()
        .into_iter()
        .map(|(k, v)| (k, if v == "-" { String::new() } else { v }))
        .collect()
}

/// Root cause by difference: the profile under test, the baseline it is compared with
/// (`reference` plus the configuration's `baseline` overrides) and every switch where they differ.
#[derive(Debug, Clone)]
pub struct Attribution {
    /// The switches under test (profile + `--set`s).
    pub base: Switches,
    /// Differing switches, in the order causes are preferred: those mapping to a weak point of
    /// the configuration's `prefer`, then §7-mapped ones in [`SWITCH_WEAK_POINTS`] order, then the
    /// rest in struct order: (key, baseline value, value under test).
    pub diffs: Vec<(String, String, String)>,
    singles: Vec<Switches>,
    profile: String,
    sets: Vec<(String, String)>,
}

/// Most pair runs per violating case once singletons and the greedy reduction found no pair.
const PAIR_BUDGET: usize = 120;

impl Attribution {
    /// The attribution context of a configuration; an error names a bad profile or override.
    pub fn new(cfg: &ExploreConfig) -> Result<Attribution, String> {
        let mut base = Switches::profile(&cfg.profile)
            .ok_or_else(|| format!("unknown profile `{}`", cfg.profile))?;
        for (k, v) in &cfg.sets {
            base.set(k, v)?;
        }
        let mut target = Switches::default();
        for (k, v) in &cfg.baseline {
            target.set(k, v)?;
        }
        let (b, t) = (value_texts(&base), value_texts(&target));
        let mut diffs: Vec<(String, String, String)> = b
            .iter()
            .zip(&t)
            .filter(|(x, y)| x.1 != y.1)
            .map(|(x, y)| (x.0.clone(), y.1.clone(), x.1.clone()))
            .collect();
        let rank = |k: &str| {
            SWITCH_WEAK_POINTS
                .iter()
                .position(|(key, _, _)| *key == k)
                .unwrap_or(usize::MAX)
        };
        let preferred = |d: &(String, String, String)| {
            weak_point(&d.0, &d.2).is_some_and(|w| cfg.prefer.iter().any(|p| p == w))
        };
        // stable: struct order among the unmapped ones
        diffs.sort_by_key(|d| (!preferred(d), rank(&d.0)));
        let mut singles = Vec::with_capacity(diffs.len());
        for d in &diffs {
            let mut s = base.clone();
            s.set(&d.0, &d.1)?;
            singles.push(s);
        }
        Ok(Attribution {
            base,
            diffs,
            singles,
            profile: cfg.profile.clone(),
            sets: cfg.sets.clone(),
        })
    }

    /// The switches under test with the diffs `idx` set to their baseline values.
    pub fn flipped(&self, idx: &[usize]) -> Switches {
        let mut s = self.base.clone();
        for &i in idx {
            let d = &self.diffs[i];
            // values came from `values()` of valid switch sets: they parse back
            let _ = s.set(&d.0, &d.1);
        }
        s
    }

    /// The single switches after `cause` (in preference order) whose flip alone also makes `inv`
    /// go away in case `c`.
    pub fn also(
        &self,
        c: &CaseSpec,
        cfg: &ExploreConfig,
        inv: Invariant,
        cause: usize,
    ) -> Vec<usize> {
        let Ok(mut sc) = c.scenario(&cfg.profile, &cfg.sets) else {
            return Vec::new();
        };
        (cause + 1..self.diffs.len())
            .filter(|&i| {
                sc.switches = self.singles[i].clone();
                !invariants_broken(&sc).contains(&inv)
            })
            .collect()
    }

    /// Names of diffs `idx`, in preference order.
    pub fn names(&self, idx: &[usize]) -> Vec<String> {
        idx.iter().map(|&i| self.diffs[i].0.clone()).collect()
    }

    /// The §7 weak points of diffs `idx` (deduplicated, in order).
    pub fn weak_points(&self, idx: &[usize]) -> Vec<String> {
        let mut w: Vec<String> = Vec::new();
        for &i in idx {
            let d = &self.diffs[i];
            if let Some(x) = weak_point(&d.0, &d.2) {
                if !w.iter().any(|y| y == x) {
                    w.push(x.to_string());
                }
            }
        }
        w
    }

    /// The weak points a complete hunt should show: those §7 gives the named profile
    /// ([`crate::engine::profiles::weak_points_of`]) plus those the `--set`s map to.
    pub fn expected(&self) -> Vec<String> {
        let mut w: Vec<String> = crate::engine::profiles::weak_points_of(&self.profile)
            .unwrap_or(&[])
            .iter()
            .map(|x| x.to_string())
            .collect();
        for (k, v) in &self.sets {
            if let Some(x) = weak_point(k, v) {
                if !w.iter().any(|y| y == x) {
                    w.push(x.to_string());
                }
            }
        }
        w.sort_by_key(|x| x[1..].parse::<u32>().unwrap_or(0));
        w
    }

    /// The root cause of each invariant in `violated` for the case built in `sc` (its switches
    /// are changed and restored): (invariant, cause, other single causes, context); cause None
    /// when the violation survives every flip.
    ///
    /// A single switch whose flip clears the violation is its cause (a behaviour that needs two
    /// switches at once shows as either alone, the other listed as "also"). When no single flip
    /// clears it, the smallest set found (greedy reduction of the full set, then a bounded pair
    /// search) is made of switches each of which keeps the violation alive while the others are
    /// flipped: independent causes of the same invariant in one case. Each is returned as its
    /// own cause, with the rest of the set as its context (flipped when checking it).
    pub fn attribute(&self, sc: &mut Scenario, violated: &[Invariant]) -> Vec<Cause> {
        let saved = sc.switches.clone();
        let mut run = |s: &Switches| -> Vec<Invariant> {
            sc.switches = s.clone();
            invariants_broken(sc)
        };
        let n = self.diffs.len();
        // single flips run lazily, in preference order, and are shared by the invariants
        let mut single: Vec<Option<Vec<Invariant>>> = vec![None; n];
        let mut out = Vec::new();
        let mut cache: HashMap<Vec<usize>, Vec<Invariant>> = HashMap::new();
        let mut pair_budget = PAIR_BUDGET;
        for &inv in violated {
            let mut first = None;
            for (i, slot) in single.iter_mut().enumerate() {
                let v = slot.get_or_insert_with(|| run(&self.singles[i]));
                if !v.contains(&inv) {
                    first = Some(i);
                    break;
                }
            }
            if let Some(first) = first {
                out.push((inv, Some(vec![first]), Vec::new(), Vec::new()));
                continue;
            }
            let mut clears_set = |idx: &[usize]| -> bool {
                let key = idx.to_vec();
                if let Some(v) = cache.get(&key) {
                    return !v.contains(&inv);
                }
                let v = run(&self.flipped(idx));
                let c = !v.contains(&inv);
                cache.insert(key, v);
                c
            };
            let all: Vec<usize> = (0..n).collect();
            if n == 0 || !clears_set(&all) {
                out.push((inv, None, Vec::new(), Vec::new()));
                continue;
            }
            // greedy reduction, dropping the least preferred switches first
            let mut set = all;
            for i in (0..n).rev() {
                if set.len() <= 1 {
                    break;
                }
                let cand: Vec<usize> = set.iter().copied().filter(|&x| x != i).collect();
                if clears_set(&cand) {
                    set = cand;
                }
            }
            // a bounded search for a pair when the reduction left more
            if set.len() > 2 {
                'pairs: for a in 0..n {
                    for b in a + 1..n {
                        if pair_budget == 0 {
                            break 'pairs;
                        }
                        pair_budget -= 1;
                        if clears_set(&[a, b]) {
                            set = vec![a, b];
                            break 'pairs;
                        }
                    }
                }
            }
            for &m in &set {
                let ctx: Vec<usize> = set.iter().copied().filter(|&x| x != m).collect();
                out.push((inv, Some(vec![m]), Vec::new(), ctx));
            }
        }
        sc.switches = saved;
        out
    }

    /// True when `c` still shows `inv` under test and `cause` still explains it: with the
    /// context `ctx` flipped `inv` still occurs, and flipping `cause` too makes it go away; for no
    /// cause, `inv` survives flipping every switch.
    pub fn holds(
        &self,
        c: &CaseSpec,
        cfg: &ExploreConfig,
        inv: Invariant,
        cause: Option<&[usize]>,
        ctx: &[usize],
    ) -> bool {
        let Ok(mut sc) = c.scenario(&cfg.profile, &cfg.sets) else {
            return false;
        };
        let mut has = |s: &Switches| -> bool {
            sc.switches = s.clone();
            invariants_broken(&sc).contains(&inv)
        };
        if !has(&self.base.clone()) {
            return false;
        }
        match cause {
            None => {
                let all: Vec<usize> = (0..self.diffs.len()).collect();
                has(&self.flipped(&all))
            }
            Some(set) => {
                if !ctx.is_empty() && !has(&self.flipped(ctx)) {
                    return false;
                }
                let both: Vec<usize> = ctx.iter().chain(set).copied().collect();
                !has(&self.flipped(&both))
            }
        }
    }
}

/// Shrinks `c` while `keep` holds.
pub fn shrink_while(c: &CaseSpec, keep: &dyn Fn(&CaseSpec) -> bool) -> CaseSpec {
    let mut best = c.clone();
    let mut budget = 400;
    loop {
        let mut improved = false;
        for cand in candidates(&best) {
            if budget == 0 {
                return best;
            }
            budget -= 1;
            if keep(&cand) {
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
    for i in 0..f.targeted.len() {
        let mut x = c.clone();
        x.faults.targeted.remove(i);
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
    for i in 0..c.partial.len() {
        let mut x = c.clone();
        x.partial.remove(i);
        v.push(x);
    }
    for i in 0..c.external.len() {
        let mut x = c.clone();
        x.external.remove(i);
        v.push(x);
    }
    if c.tick_mult != 0 {
        let mut x = c.clone();
        x.tick_mult = 0;
        v.push(x);
    }
    // an entry back to a market order at the last close, and back to its own quantity
    for (i, g) in c.signals.iter().enumerate() {
        if g.order_type.is_some() || g.offset_ticks.is_some() || g.offset_bp.is_some() {
            let mut x = c.clone();
            let y = &mut x.signals[i];
            (y.order_type, y.offset_ticks, y.offset_bp) = (None, None, None);
            v.push(x);
        }
        if g.size_permille.is_some() {
            let mut x = c.clone();
            x.signals[i].size_permille = None;
            v.push(x);
        }
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

/// A root cause of one invariant in one case: (invariant, cause (None: survives every flip),
/// other single switches that also explain it, context: the other independent causes, flipped
/// when this one is checked).
pub type Cause = (Invariant, Option<Vec<usize>>, Vec<usize>, Vec<usize>);

/// One attributed violation of a case: a [`Cause`], the violation, its trail signature.
type Hit = (Cause, Violation, String);

/// Draws, runs and (when it violates) attributes case `i`.
fn examine(cfg: &ExploreConfig, at: &Attribution, i: u64) -> (CaseSpec, Vec<Hit>) {
    let c = draw_case_window(cfg.seed, i, &cfg.pools, &cfg.profile, cfg.window_bars);
    let Ok(mut sc) = c.scenario(&cfg.profile, &cfg.sets) else {
        return (c, Vec::new());
    };
    let invs = invariants_broken(&sc);
    if invs.is_empty() {
        return (c, Vec::new());
    }
    // the trail signatures need the whole log: the violating case once more, keeping it
    let r = sc.run();
    let causes = at.attribute(&mut sc, &invs);
    let hits = causes
        .into_iter()
        .filter_map(|cause| {
            let v = r
                .violations
                .iter()
                .find(|v| v.invariant == cause.0)?
                .clone();
            let sig = signature(&v, &r.output.log);
            Some((cause, v, sig))
        })
        .collect();
    (c, hits)
}

/// The grouping key of a finding.
fn key_of(inv: Invariant, cause: &Option<Vec<String>>, masked_by: &Option<String>) -> String {
    let c = match cause {
        Some(c) => c.join(" + "),
        None => "(survives every flip)".to_string(),
    };
    match masked_by {
        Some(m) => format!("{}: {c} (masked by {m})", inv.name()),
        None => format!("{}: {c}", inv.name()),
    }
}

/// A finding before shrinking: its first case, how often it occurred.
#[derive(Clone)]
struct Group {
    key: String,
    inv: Invariant,
    cause: Option<Vec<usize>>,
    ctx: Vec<usize>,
    first: u64,
    case: CaseSpec,
    violation: Violation,
    count: u64,
}

/// Runs the configured cases in batches until they are done or `stop(cases_run, findings)` says
/// so; returns the findings (shrunk when configured). Deterministic for a given set of cases run.
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
    let at = match Attribution::new(cfg) {
        Ok(a) => a,
        // the CLI checks profile and overrides first; a library caller gets no findings
        Err(_) => {
            return empty_result(cfg, 0, Vec::new());
        }
    };
    let mut groups: Vec<Group> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut dups = Duplicates::default();
    let mut mix: BTreeMap<String, u64> = BTreeMap::new();
    let mut j = 0u64; // position in this part's sequence of indices
    let mut run = 0u64; // cases run
    let mut reported = 0usize;
    let idx = |j: u64| cfg.partition.map_or(j, |p| p.index(j));
    while idx(j) < cfg.cases && !stop(run, groups.len()) {
        let mut batch = Vec::new();
        while (batch.len() as u64) < cfg.batch.max(1) && idx(j) < cfg.cases {
            batch.push(idx(j));
            j += 1;
        }
        // one task per case (sizes differ): idle cores can always steal the next one
        let results: Vec<(u64, CaseSpec, Vec<Hit>)> = batch
            .par_iter()
            .with_max_len(1)
            .map(|&i| {
                let (c, h) = examine(cfg, &at, i);
                (i, c, h)
            })
            .collect();
        for (i, c, hits) in results {
            for k in c.kinds() {
                *mix.entry(k.to_string()).or_default() += 1;
            }
            let mut seen_here: Vec<String> = Vec::new();
            for ((inv, cause, _also, ctx), v, sig) in hits {
                let key = key_of(inv, &cause.as_ref().map(|c| at.names(c)), &None);
                dups.signatures
                    .entry(sig)
                    .or_insert_with(|| (i, key.clone()));
                if seen_here.contains(&key) {
                    continue;
                }
                seen_here.push(key.clone());
                match index.get(&key) {
                    Some(&g) => groups[g].count += 1,
                    None => {
                        index.insert(key.clone(), groups.len());
                        groups.push(Group {
                            key,
                            inv,
                            cause,
                            ctx,
                            first: i,
                            case: c.clone(),
                            violation: v,
                            count: 1,
                        });
                    }
                }
            }
        }
        run += batch.len() as u64;
        on_batch(run, groups.len());
        if groups.len() > reported {
            reported = groups.len();
            let mut res = assemble(cfg, &at, cfg.cases.min(idx(j)), &groups, &dups, false);
            res.mix = mix.clone();
            on_found(&res);
        }
    }
    let cases = if cfg.partition.is_some() {
        cfg.cases
    } else {
        cfg.cases.min(idx(j))
    };
    let mut res = assemble(cfg, &at, cases, &groups, &dups, cfg.shrink);
    res.mix = mix;
    res
}

fn empty_result(cfg: &ExploreConfig, cases: u64, expected: Vec<String>) -> ExploreResult {
    ExploreResult {
        profile: cfg.profile.clone(),
        sets: cfg.sets.clone(),
        seed: cfg.seed,
        cases,
        partition: cfg.partition,
        expected,
        findings: Vec::new(),
        duplicates: Duplicates::default(),
        unmasked: Vec::new(),
        mix: BTreeMap::new(),
    }
}

/// The story and trail of `inv` in a replay of `c` (built exactly as `sim run` builds the file).
pub fn replay_story(
    c: &CaseSpec,
    cfg: &ExploreConfig,
    extra: &[(String, String)],
    inv: Invariant,
    weak: &[String],
    cause: &[String],
) -> Option<(String, Vec<String>)> {
    let mut sets = cfg.sets.clone();
    sets.extend(extra.iter().cloned());
    let sc = c.scenario(&cfg.profile, &sets).ok()?;
    let r = sc.run();
    let v = r.violations.iter().find(|v| v.invariant == inv)?;
    Some(report::story(v, &r.output.log, weak, cause))
}

/// Findings from groups, shrunk when `shrink_them` (in parallel; each finding independently).
fn assemble(
    cfg: &ExploreConfig,
    at: &Attribution,
    cases: u64,
    groups: &[Group],
    dups: &Duplicates,
    shrink_them: bool,
) -> ExploreResult {
    let extra = cfg.baseline.clone();
    let masked_by = masked_name(&cfg.baseline);
    let mut findings: Vec<Finding> = groups
        .par_iter()
        .with_max_len(1)
        .map(|g| {
            let shrunk = if shrink_them {
                let keep = |x: &CaseSpec| at.holds(x, cfg, g.inv, g.cause.as_deref(), &g.ctx);
                shrink_while(&g.case, &keep)
            } else {
                g.case.clone()
            };
            let cause = g.cause.as_ref().map(|c| at.names(c)).unwrap_or_default();
            let also = match (&g.cause, g.ctx.is_empty()) {
                (Some(c), true) => at.also(&g.case, cfg, g.inv, c[0]),
                _ => Vec::new(),
            };
            let weak = g
                .cause
                .as_ref()
                .map(|c| at.weak_points(c))
                .unwrap_or_default();
            // the run under test already carries the baseline overrides in `sets`
            let (story, trail) = if shrink_them {
                replay_story(&shrunk, cfg, &[], g.inv, &weak, &cause)
            } else {
                None
            }
            .unwrap_or_else(|| {
                (
                    format!("{}: {}", g.inv.describe(), g.violation.message),
                    Vec::new(),
                )
            });
            Finding {
                id: 0,
                invariant: g.inv.name().to_string(),
                key: match &masked_by {
                    Some(m) => format!("{} (masked by {m})", g.key),
                    None => g.key.clone(),
                },
                cause,
                also: at.names(&also),
                with: at.names(&g.ctx),
                weak_points: weak,
                masked_by: masked_by.clone(),
                extra_sets: if masked_by.is_some() {
                    extra.clone()
                } else {
                    Vec::new()
                },
                count: g.count,
                story,
                trail,
                first_case: g.first,
                cases_until_hit: g.first + 1,
                size_before: g.case.size(),
                size_after: shrunk.size(),
                file: String::new(),
                replay: String::new(),
                case: shrunk,
            }
        })
        .collect();
    order(&mut findings);
    let mut res = empty_result(cfg, cases, at.expected());
    res.findings = findings;
    res.duplicates = dups.clone();
    res
}

/// Puts findings in order of first hit (then invariant, then key) and numbers them.
pub fn order(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (a.masked_by.is_some(), a.first_case, &a.invariant, &a.key).cmp(&(
            b.masked_by.is_some(),
            b.first_case,
            &b.invariant,
            &b.key,
        ))
    });
    for (k, f) in findings.iter_mut().enumerate() {
        f.id = k + 1;
        f.file = format!("finding-{}.toml", k + 1);
    }
}

/// Masking switches `--unmask` tries: (switch, value that unmasks, what masks). A switch is tried
/// when the profile under test has another value.
pub const MASKING: &[(&str, &str, &str)] = &[
    (
        "oco_quantity_source",
        "result_or_order_amount",
        "W1: legs of quantity 0 are never placed",
    ),
    (
        "leg_tif_gte_gtc",
        "false",
        "GTE_GTC legs expire with the position, hiding survivors nobody cancels",
    ),
    (
        "leg_close_position",
        "false",
        "closePosition legs close whatever is open, hiding quantity and reduceOnly bugs",
    ),
    (
        "monitor_restarts",
        "true",
        "W3: a dead monitor never reacts to what the legs do",
    ),
];

/// Masking switches `--unmask` also tries together, where each hides what the others would
/// show: (the weak point they hide, (switch, unmasking value) per switch). GTE_GTC expires the
/// survivor, and W5's two halves — the wrong-endpoint cancel (-2011, counted as done, so the
/// tries never run out) and the completion step's second cancel on `/fapi/v1/order` — settle the
/// pair another way, so only with all three flipped does an exhausted cancel drop a pair whose
/// survivor still rests (W10).
///
/// In a set's run the switches of its weak point are tried first by attribution
/// ([`ExploreConfig::prefer`]): the violation an exhausted cancel causes also needs an earlier
/// switch in §7 order (W6's manual close that misses the pair, say), which alone clears it too and
/// would name it under a key the plain run already has; tried first, the hidden weak point's
/// switch names it, and that switch stays listed under "also".
pub const MASKING_SETS: &[(&str, &[(&str, &str)])] = &[(
    "W10",
    &[
        ("leg_tif_gte_gtc", "false"),
        ("cancel_endpoint_for_algo", "algo_endpoint"),
        ("completion_close_step", "false"),
    ],
)];

/// The name a finding found with `overrides` unmasked carries (`a`, or `a + b + …`).
fn masked_name(overrides: &[(String, String)]) -> Option<String> {
    (!overrides.is_empty()).then(|| {
        overrides
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(" + ")
    })
}

/// Rank of a masking name in the order `--unmask` tries them (singles, then sets).
fn masking_rank(name: Option<&str>) -> usize {
    let singles = MASKING.iter().map(|x| x.0.to_string());
    let sets = MASKING_SETS
        .iter()
        .map(|(_, p)| p.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(" + "));
    singles
        .chain(sets)
        .position(|x| Some(x.as_str()) == name)
        .unwrap_or(usize::MAX)
}

/// Runs `cfg` once per applicable masking switch with it set to its unmasking value (in the run
/// and in the baseline), then once per applicable set of [`MASKING_SETS`] with all of it set
/// (the set's weak point preferred as a cause), and appends the findings whose key the plain run lacks, tagged "masked by <switch>" (or
/// "<switch> + <switch> + …").
pub fn unmask(
    cfg: &ExploreConfig,
    res: &mut ExploreResult,
    stop: &(dyn Fn(u64, usize) -> bool + Sync),
) {
    let Ok(at) = Attribution::new(cfg) else {
        return;
    };
    let plain: Vec<String> = res.findings.iter().map(|f| f.key.clone()).collect();
    let values = at.base.values();
    for (k, v, _) in MASKING {
        if values.iter().any(|(key, val)| key == k && val == v) {
            continue;
        }
        unmask_one(cfg, res, stop, &[(k, v)], &[], &plain);
    }
    for (w, set) in MASKING_SETS {
        if set
            .iter()
            .any(|(k, v)| values.iter().any(|(key, val)| key == k && val == v))
        {
            continue;
        }
        unmask_one(cfg, res, stop, set, &[w], &plain);
    }
    order(&mut res.findings);
}

fn unmask_one(
    cfg: &ExploreConfig,
    res: &mut ExploreResult,
    stop: &(dyn Fn(u64, usize) -> bool + Sync),
    overrides: &[(&str, &str)],
    prefer: &[&str],
    plain: &[String],
) {
    let mut c = cfg.clone();
    c.baseline.clear();
    c.prefer = prefer.iter().map(|w| w.to_string()).collect();
    for (k, v) in overrides {
        c.sets.retain(|(key, _)| key != k);
        c.sets.push((k.to_string(), v.to_string()));
        c.baseline.push((k.to_string(), v.to_string()));
    }
    let r = explore(&c, stop, &|_, _| {});
    for (k, v) in overrides {
        if !res.unmasked.iter().any(|(a, b)| a == k && b == v) {
            res.unmasked.push((k.to_string(), v.to_string()));
        }
    }
    for f in r.findings {
        let bare = f.key.split(" (masked by").next().unwrap_or("").to_string();
        if f.cause.is_empty() || plain.contains(&bare) {
            continue;
        }
        if res
            .findings
            .iter()
            .any(|x| x.key.split(" (masked by").next() == Some(bare.as_str()))
        {
            continue;
        }
        res.findings.push(f);
    }
}

/// Joins the results of the parts 1/N … N/N of one campaign into the result one run would give;
/// an error names the first part that does not fit.
pub fn merge(parts: &[(String, ExploreResult)]) -> Result<ExploreResult, String> {
    let Some((name0, first)) = parts.first() else {
        return Err("no parts given".into());
    };
    let Some(p0) = first.partition else {
        return Err(format!("{name0}: not a part (run with --partition K/N)"));
    };
    let mut have = vec![false; p0.n as usize];
    for (name, r) in parts {
        let Some(p) = r.partition else {
            return Err(format!("{name}: not a part (run with --partition K/N)"));
        };
        if p.n != p0.n
            || r.profile != first.profile
            || r.seed != first.seed
            || r.cases != first.cases
            || r.sets != first.sets
            || r.unmasked != first.unmasked
        {
            return Err(format!(
                "{name}: part {p} of `{}` seed {} ({} cases) does not belong with {name0} (part {p0} of `{}` seed {}, {} cases)",
                r.profile, r.seed, r.cases, first.profile, first.seed, first.cases
            ));
        }
        let slot = &mut have[(p.k - 1) as usize];
        if *slot {
            return Err(format!("{name}: part {p} given twice"));
        }
        *slot = true;
    }
    if let Some(k) = have.iter().position(|h| !h) {
        return Err(format!("part {}/{} is missing", k + 1, p0.n));
    }
    let mut by_key: BTreeMap<String, Finding> = BTreeMap::new();
    let mut dups = Duplicates::default();
    let mut mix: BTreeMap<String, u64> = BTreeMap::new();
    for (_, r) in parts {
        for (k, n) in &r.mix {
            *mix.entry(k.clone()).or_default() += n;
        }
        for f in &r.findings {
            match by_key.get_mut(&f.key) {
                Some(g) => {
                    let count = g.count + f.count;
                    if f.first_case < g.first_case {
                        *g = f.clone();
                    }
                    g.count = count;
                }
                None => {
                    by_key.insert(f.key.clone(), f.clone());
                }
            }
        }
        for (sig, (i, key)) in &r.duplicates.signatures {
            let e = dups
                .signatures
                .entry(sig.clone())
                .or_insert_with(|| (*i, key.clone()));
            if *i < e.0 {
                *e = (*i, key.clone());
            }
        }
    }
    let mut findings: Vec<Finding> = by_key.into_values().collect();
    // as the single run: a masked finding is kept only when no plain one has its key, and one
    // key found by several masking switches is credited to the first switch tried
    let bare = |f: &Finding| f.key.split(" (masked by").next().unwrap_or("").to_string();
    let plain: Vec<String> = findings
        .iter()
        .filter(|f| f.masked_by.is_none())
        .map(|f| f.key.clone())
        .collect();
    let rank = |f: &Finding| masking_rank(f.masked_by.as_deref());
    let mut best: BTreeMap<String, usize> = BTreeMap::new();
    for f in findings.iter().filter(|f| f.masked_by.is_some()) {
        let r = rank(f);
        let e = best.entry(bare(f)).or_insert(r);
        *e = (*e).min(r);
    }
    findings.retain(|f| {
        f.masked_by.is_none() || (!plain.contains(&bare(f)) && best.get(&bare(f)) == Some(&rank(f)))
    });
    for f in findings.iter_mut() {
        f.replay.clear();
    }
    order(&mut findings);
    Ok(ExploreResult {
        profile: first.profile.clone(),
        sets: first.sets.clone(),
        seed: first.seed,
        cases: first.cases,
        partition: None,
        expected: first.expected.clone(),
        findings,
        duplicates: dups,
        unmasked: first.unmasked.clone(),
        mix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribution_diffs_are_the_overrides_and_prefer_mapped_switches() {
        let mut cfg = ExploreConfig::new("reference", 1, 1);
        assert!(Attribution::new(&cfg).unwrap().diffs.is_empty());
        cfg.sets = vec![
            ("duplicate_ttl_ms".into(), "1000".into()),
            ("monitor_restarts".into(), "false".into()),
        ];
        let at = Attribution::new(&cfg).unwrap();
        let names: Vec<&str> = at.diffs.iter().map(|d| d.0.as_str()).collect();
        assert_eq!(names, ["monitor_restarts", "duplicate_ttl_ms"]);
        assert_eq!(at.expected(), ["W3"]);
        // the baseline moves with --unmask: a switch set in both is no difference
        cfg.baseline = vec![("monitor_restarts".into(), "false".into())];
        let at = Attribution::new(&cfg).unwrap();
        assert_eq!(at.names(&[0]), ["duplicate_ttl_ms"]);
        // a live profile: W1 in v1.1.78 only, W5 in the 2026-08 snapshot only
        let w78 = Attribution::new(&ExploreConfig::new("tradeengine-v1.1.78", 1, 1))
            .unwrap()
            .expected();
        let w80 = Attribution::new(&ExploreConfig::new("tradeengine-v1.1.80", 1, 1))
            .unwrap()
            .expected();
        assert!(w78.contains(&"W1".to_string()) && !w80.contains(&"W1".to_string()));
        // flipping every difference gives the baseline back
        let all: Vec<usize> = (0..at.diffs.len()).collect();
        let mut want = Switches::default();
        want.set("monitor_restarts", "false").unwrap();
        assert_eq!(at.flipped(&all), want);
    }

    #[test]
    fn a_masking_set_run_tries_its_weak_points_switch_first() {
        let mut cfg = ExploreConfig::new("tradeengine-2026-08", 1, 1);
        let at = Attribution::new(&cfg).unwrap();
        let first = |at: &Attribution| at.diffs[0].0.clone();
        assert_ne!(first(&at), "exhausted_cancel_drops_pair");
        let (w, set) = MASKING_SETS[0];
        assert_eq!(w, "W10");
        for (k, v) in set {
            cfg.sets.push((k.to_string(), v.to_string()));
            cfg.baseline.push((k.to_string(), v.to_string()));
        }
        cfg.prefer = vec![w.to_string()];
        let pre = Attribution::new(&cfg).unwrap();
        assert_eq!(first(&pre), "exhausted_cancel_drops_pair");
        // the rest keep §7 order, and the set's switches are no difference
        let rest: Vec<&str> = pre.diffs[1..].iter().map(|d| d.0.as_str()).collect();
        let plain: Vec<&str> = at
            .diffs
            .iter()
            .map(|d| d.0.as_str())
            .filter(|k| *k != "exhausted_cancel_drops_pair" && !set.iter().any(|(s, _)| s == k))
            .collect();
        assert_eq!(rest, plain);
        assert_eq!(
            masking_rank(Some(
                &set.iter().map(|x| x.0).collect::<Vec<_>>().join(" + ")
            )),
            MASKING.len()
        );
    }

    #[test]
    fn both_legs_gone_is_named_w8() {
        // tests/regressions/w8-both-legs-cancelled.toml: both legs cancelled behind the
        // engine's back; W8's mark-completed and W7's missing-means-filled each clear it alone
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/regressions/w8-both-legs-cancelled.toml");
        let mut sc = crate::scenario::load(&path).unwrap();
        assert_eq!(invariants_broken(&sc), [Invariant::NakedPosition]);
        let at = Attribution::new(&ExploreConfig::new("tradeengine-v1.1.80", 1, 1)).unwrap();
        let causes = at.attribute(&mut sc, &[Invariant::NakedPosition]);
        assert_eq!(causes.len(), 1);
        let cause = causes[0].1.clone().unwrap();
        assert_eq!(at.names(&cause), ["both_missing"]);
        assert_eq!(at.weak_points(&cause), ["W8"]);
        // W7's flip alone clears it too: the other single cause, not the name
        let w7 = at
            .diffs
            .iter()
            .position(|d| d.0 == "monitor_fill_detection")
            .unwrap();
        sc.switches = at.flipped(&[w7]);
        assert!(invariants_broken(&sc).is_empty());
    }

    #[test]
    fn partitions_cover_every_index_once() {
        assert!(Partition::parse("0/3").is_none() && Partition::parse("4/3").is_none());
        assert!(Partition::parse("1/0").is_none() && Partition::parse("x").is_none());
        let n = 3;
        let mut seen = [0u32; 30];
        for k in 1..=n {
            let p = Partition::parse(&format!("{k}/{n}")).unwrap();
            for j in 0..10 {
                seen[p.index(j) as usize] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    fn a_case_round_trips_through_json() {
        let c = draw_case(3, 7, &[], "reference");
        let back: CaseSpec = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn live_profiles_draw_hedge_cases_only() {
        assert!(hedge_only("tradeengine-v1.1.80") && !hedge_only("reference"));
        assert!((0..200).all(|i| draw_case(1, i, &[], "tradeengine-2026-08").hedge));
        assert!((0..200).any(|i| !draw_case(1, i, &[], "reference").hedge));
    }
}
