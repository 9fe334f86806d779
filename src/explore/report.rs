//! The written form of an exploration: one scenario + kline CSV per finding, `findings.md`,
//! `findings.json` (everything [`super::merge`] needs, the shrunk cases included) and
//! `findings.html`.
//!
//! Contract: the files are a pure function of the [`ExploreResult`] and the folder name the
//! replay commands use (no clock, no rate), so a merged campaign writes the same bytes as one run.

use super::{ExploreResult, Finding};
use crate::engine::switches::{weak_point_title, SWITCH_DOCS};
use crate::events::{EngineEvent, Event, EventLog};
use crate::invariants::Violation;
use crate::report::describe_event;
use std::fmt::Write as _;
use std::path::Path;

/// The engine decision a trail turns on: the last engine step that acted on a pair or a signal
/// (drop, cancel, monitor exit, restart, refusal), else the last engine step, else the last event.
/// A monitor that stops is the decision only when the root cause is the monitor's own lifetime
/// (`monitor_restarts`, W3); otherwise its exit follows from an earlier step (a drained pair map
/// after a drop), and that earlier step is the one named.
fn decision(v: &Violation, log: &EventLog, cause: &[String]) -> Option<String> {
    let monitor_cause = cause.iter().any(|c| c == "monitor_restarts");
    let recs = log.records();
    let evs: Vec<&Event> = v
        .trail
        .iter()
        .filter_map(|s| recs.get(s.0 as usize))
        .map(|r| &r.event)
        .collect();
    let acting = |e: &&Event| match e {
        Event::Engine(EngineEvent::PairDropped { .. })
        | Event::Engine(EngineEvent::CancelOther { .. })
        | Event::Engine(EngineEvent::Restart)
        | Event::Engine(EngineEvent::Note { .. }) => true,
        Event::Engine(EngineEvent::SignalResult { status, .. }) => status != "executed",
        _ => false,
    };
    let stopped = |e: &&Event| matches!(e, Event::Engine(EngineEvent::MonitorStopped { .. }));
    let first_pass = |e: &&Event| acting(e) || (monitor_cause && stopped(e));
    evs.iter()
        .rev()
        .find(|e| first_pass(e))
        .or_else(|| evs.iter().rev().find(|e| stopped(e)))
        .or_else(|| evs.iter().rev().find(|e| matches!(e, Event::Engine(_))))
        .or(evs.last())
        .map(|e| describe_event(e))
}

/// One-line story and the trail (one line per event) of violation `v` in a replay's `log`,
/// naming the weak point (or switch) at its root and the engine decision that went wrong.
pub fn story(
    v: &Violation,
    log: &EventLog,
    weak: &[String],
    cause: &[String],
) -> (String, Vec<String>) {
    let recs = log.records();
    let trail: Vec<String> = v
        .trail
        .iter()
        .filter_map(|s| recs.get(s.0 as usize))
        .map(|r| format!("t={} {}", r.time_ms.0, describe_event(&r.event)))
        .collect();
    let why = if let Some(w) = weak.first() {
        format!("{w} ({})", weak_point_title(w))
    } else if let Some(c) = cause.first() {
        let doc = SWITCH_DOCS
            .iter()
            .find(|(k, _)| k == c)
            .map_or("", |(_, d)| *d);
        format!("`{c}` ({doc})")
    } else {
        "no switch explains it".to_string()
    };
    let dec = decision(v, log, cause).unwrap_or_else(|| "no engine step in the trail".into());
    (
        format!(
            "{why}; engine decision: {dec}; then {}: {}",
            v.invariant.describe(),
            v.message
        ),
        trail,
    )
}

fn cell(s: &str) -> String {
    s.replace('|', "/").replace('\n', " ")
}

fn cause_cell(f: &Finding) -> String {
    if f.cause.is_empty() {
        "(none)".into()
    } else {
        f.cause
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

fn w_cell(f: &Finding) -> String {
    if f.weak_points.is_empty() {
        "–".into()
    } else {
        f.weak_points.join(", ")
    }
}

/// The `--set`s a finding's scenario carries: the run's, with the finding's extra ones on top.
fn sets_of(res: &ExploreResult, f: &Finding) -> Vec<(String, String)> {
    let mut s: Vec<(String, String)> = res
        .sets
        .iter()
        .filter(|(k, _)| !f.extra_sets.iter().any(|(e, _)| e == k))
        .cloned()
        .collect();
    s.extend(f.extra_sets.iter().cloned());
    s
}

/// Weak points found (by a plain finding) among the expected ones.
pub fn found_weak_points(res: &ExploreResult) -> Vec<String> {
    res.expected
        .iter()
        .filter(|w| {
            res.findings
                .iter()
                .any(|f| f.masked_by.is_none() && f.weak_points.contains(w))
        })
        .cloned()
        .collect()
}

/// Weak points shown only once unmasked, with the switch that masks them.
pub fn masked_weak_points(res: &ExploreResult) -> Vec<(String, String)> {
    let found = found_weak_points(res);
    let mut out: Vec<(String, String)> = Vec::new();
    for f in res.findings.iter().filter(|f| f.masked_by.is_some()) {
        for w in &f.weak_points {
            if !found.contains(w) && !out.iter().any(|(x, _)| x == w) {
                out.push((w.clone(), f.masked_by.clone().unwrap_or_default()));
            }
        }
    }
    out
}

/// Expected weak points no invariant of a drawn case can show, per profile (`*`: any), and why
/// (from `scenarios/weak-points/README.md`).
pub const NOT_SHOWN: &[(&str, &str, &str)] = &[(
    "W14",
    "tradeengine-2026-08",
    "PHEAD's stale quantity and ghost strategy positions are engine bookkeeping: its \
         closePosition legs keep the accumulated side protected, so no invariant of the venue \
         fails",
)];

/// What became of each expected weak point of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeakPointStatus {
    /// Found by a finding of the profile as it is.
    Found,
    /// Found only with this masking switch unmasked.
    Masked(String),
    /// Its switch alone also clears the violation of a finding attributed to an earlier switch
    /// (in §7 order): shown, as an alternative cause listed under "also" of that finding (its
    /// number, and the switch that masks it when it was found only unmasked).
    Also(usize, Option<String>),
    /// Not shown, and no drawn case can show it by an invariant: why.
    NotShown(&'static str),
    /// Not found in this run.
    Missing,
}

/// Found / masked / not shown / missing, for every expected weak point of `res` in order.
pub fn weak_point_status(res: &ExploreResult) -> Vec<(String, WeakPointStatus)> {
    let found = found_weak_points(res);
    let masked = masked_weak_points(res);
    // the switch values of the run (profile, then its --sets), to map an "also" switch to its W
    let mut values = crate::engine::profiles::profile(&res.profile)
        .map(|s| s.values())
        .unwrap_or_default();
    for (k, v) in &res.sets {
        values.retain(|(n, _)| n != k);
        values.push((k.clone(), v.clone()));
    }
    res.expected
        .iter()
        .map(|w| {
            let st = if found.contains(w) {
                WeakPointStatus::Found
            } else if let Some((_, m)) = masked.iter().find(|(x, _)| x == w) {
                WeakPointStatus::Masked(m.clone())
            } else if let Some(f) = res.findings.iter().find(|f| {
                !f.cause.is_empty()
                    && f.also.iter().any(|k| {
                        let v = values
                            .iter()
                            .find(|(n, _)| n == k)
                            .map_or("", |(_, v)| v.as_str());
                        crate::engine::switches::weak_point(k, v) == Some(w.as_str())
                    })
            }) {
                WeakPointStatus::Also(f.id, f.masked_by.clone())
            } else if let Some((_, _, why)) = NOT_SHOWN
                .iter()
                .find(|(x, p, _)| x == w && (*p == "*" || *p == res.profile))
            {
                WeakPointStatus::NotShown(why)
            } else {
                WeakPointStatus::Missing
            };
            (w.clone(), st)
        })
        .collect()
}

/// For a weak point found only unmasked whose first masked finding M lists under "also" a switch
/// that names a plain finding N of the same invariant (the cause §7 order gives when the hidden
/// weak point's switch is not tried first, see [`super::MASKING_SETS`]):
/// `, finding M; an alternative cause of finding N (`switch`)`; else nothing.
fn alternative_of(res: &ExploreResult, w: &str) -> String {
    let Some(f) = res
        .findings
        .iter()
        .find(|f| f.masked_by.is_some() && f.weak_points.iter().any(|x| x == w))
    else {
        return String::new();
    };
    let plain = f.also.iter().find_map(|s| {
        res.findings
            .iter()
            .find(|g| g.masked_by.is_none() && g.invariant == f.invariant && g.cause == [s.clone()])
    });
    plain.map_or(String::new(), |g| {
        format!(
            ", finding {}; an alternative cause of finding {} (`{}`)",
            f.id, g.id, g.cause[0]
        )
    })
}

/// One line: found / expected, then the masked, the not-shown (with why) and the missing.
pub fn found_expected_line(res: &ExploreResult, why: bool) -> String {
    let st = weak_point_status(res);
    let pick = |f: &dyn Fn(&WeakPointStatus) -> Option<String>| -> Vec<String> {
        st.iter()
            .filter_map(|(w, s)| f(s).map(|t| format!("{w}{t}")))
            .collect()
    };
    let pick_w = |f: &dyn Fn(&str, &WeakPointStatus) -> Option<String>| -> Vec<String> {
        st.iter()
            .filter_map(|(w, s)| f(w, s).map(|t| format!("{w}{t}")))
            .collect()
    };
    let found = pick(&|s| (*s == WeakPointStatus::Found).then(String::new));
    let masked = pick_w(&|w, s| match s {
        WeakPointStatus::Masked(m) => Some(format!(" (masked by `{m}`{})", alternative_of(res, w))),
        _ => None,
    });
    let also = pick(&|s| match s {
        WeakPointStatus::Also(n, None) => Some(format!(" (finding {n})")),
        WeakPointStatus::Also(n, Some(m)) => Some(format!(" (finding {n}, masked by `{m}`)")),
        _ => None,
    });
    let not_shown = pick(&|s| match s {
        WeakPointStatus::NotShown(w) if why => Some(format!(" ({w})")),
        WeakPointStatus::NotShown(_) => Some(String::new()),
        _ => None,
    });
    let missing = pick(&|s| (*s == WeakPointStatus::Missing).then(String::new));
    let mut line = format!(
        "found / expected {}/{}",
        found.len() + masked.len() + also.len(),
        st.len()
    );
    for (name, list) in [
        ("found", &found),
        ("found only unmasked", &masked),
        ("found as an alternative cause (\"also\")", &also),
        ("no invariant can show", &not_shown),
        ("not found", &missing),
    ] {
        if !list.is_empty() {
            let _ = write!(line, "; {name}: {}", list.join(", "));
        }
    }
    line
}

/// The `findings.md` text.
pub fn markdown(res: &ExploreResult) -> String {
    let mut md = format!("# sim explore: `{}`\n\n", res.profile);
    let plain: Vec<&Finding> = res
        .findings
        .iter()
        .filter(|f| f.masked_by.is_none() && !f.cause.is_empty())
        .collect();
    let loose: Vec<&Finding> = res
        .findings
        .iter()
        .filter(|f| f.masked_by.is_none() && f.cause.is_empty())
        .collect();
    let masked: Vec<&Finding> = res
        .findings
        .iter()
        .filter(|f| f.masked_by.is_some())
        .collect();
    let _ = write!(md, "seed {}, {} cases", res.seed, res.cases);
    if let Some(p) = res.partition {
        let _ = write!(
            md,
            " (this is part {p}: the cases whose index % {} = {})",
            p.n,
            p.k - 1
        );
    }
    if !res.sets.is_empty() {
        let s: Vec<String> = res.sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = write!(md, ", --set {}", s.join(" "));
    }
    let _ = writeln!(
        md,
        ": {} findings by root cause, {} that no switch explains, {} masked.\n",
        plain.len(),
        loose.len(),
        masked.len()
    );
    if !res.mix.is_empty() {
        let m: Vec<String> = res.mix.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(
            md,
            "Case mix (cases that drew each kind): {}.\n",
            m.join(", ")
        );
    }
    let found = found_weak_points(res);
    let _ = writeln!(
        md,
        "Weak points (`tradeengine-oco.md` §7) the profile's switches map to: found {}/{}{}{}.\n",
        found.len(),
        res.expected.len(),
        if res.expected.is_empty() {
            String::new()
        } else {
            format!(" (expected {})", res.expected.join(", "))
        },
        if found.is_empty() {
            String::new()
        } else {
            format!("; found {}", found.join(", "))
        }
    );
    if !res.expected.is_empty() {
        let _ = writeln!(md, "**{}**.\n", found_expected_line(res, true));
    }
    let mw = masked_weak_points(res);
    if !mw.is_empty() {
        let s: Vec<String> = mw
            .iter()
            .map(|(w, m)| format!("{w} masked by `{m}`"))
            .collect();
        let _ = writeln!(md, "Shown only once unmasked: {}.\n", s.join(", "));
    }
    let (n, m) = res.duplicates.counts();
    let _ = writeln!(
        md,
        "Grouping: keyed by invariant + trail signature (the old keying) the same cases give {n} findings over {m} root causes (duplicate ratio {:.0} %); keyed by root cause, one finding each.\n",
        res.duplicates.ratio() * 100.0
    );
    let table = |md: &mut String, list: &[&Finding], masked: bool| {
        if masked {
            md.push_str("| # | masked by | switch set | W | invariant | cases | first hit | story | size before → after (bars/signals/faults) | replay |\n|---|---|---|---|---|---:|---:|---|---|---|\n");
        } else {
            md.push_str("| # | switch set | W | invariant | cases | first hit | story | size before → after (bars/signals/faults) | replay |\n|---|---|---|---|---:|---:|---|---|---|\n");
        }
        for f in list {
            let mb = if masked {
                format!(" `{}` |", f.masked_by.clone().unwrap_or_default())
            } else {
                String::new()
            };
            let _ = writeln!(
                md,
                "| {} |{mb} {}{} | {} | {} | {} | {} | {} | {:?} → {:?} | `{}` |",
                f.id,
                cause_cell(f),
                if f.also.is_empty() {
                    String::new()
                } else {
                    format!(" (also alone: {})", f.also.join(", "))
                },
                w_cell(f),
                f.invariant,
                f.count,
                f.cases_until_hit,
                cell(&f.story),
                f.size_before,
                f.size_after,
                f.replay
            );
        }
        md.push('\n');
    };
    md.push_str("## Findings by root cause\n\nEach row is one behaviour of the engine under test breaking one invariant: the switch set is the smallest set of its differences from `reference` that, set to the `reference` values, makes the violation go away on the same case and seed.\n\n");
    if plain.is_empty() {
        md.push_str("None.\n\n");
    } else {
        table(&mut md, &plain, false);
    }
    md.push_str("## ocosim bug or invariant too strict\n\nViolations that survive setting every switch to its `reference` value: either ocosim's venue or checker is wrong, or the invariant is too strict for the case.\n\n");
    if loose.is_empty() {
        md.push_str("None.\n\n");
    } else {
        table(&mut md, &loose, false);
    }
    if !res.unmasked.is_empty() {
        let s: Vec<String> = res
            .unmasked
            .iter()
            .map(|(k, v)| format!("`{k}={v}`"))
            .collect();
        let _ = writeln!(
            md,
            "## Masked weak points (`--unmask`)\n\nThe same cases re-run with one masking switch at its unmasking value ({}){}; listed: root causes that only then appear.\n",
            s.join(", "),
            if res.unmasked.iter().any(|(k, _)| k == "cancel_endpoint_for_algo") {
                ", then with `leg_tif_gte_gtc`, `cancel_endpoint_for_algo` and `completion_close_step` unmasked together, W10's `exhausted_cancel_drops_pair` tried first as a cause (a violation it alone also clears is named by it; the switch §7 order would name stays under \"also\")"
            } else {
                ""
            }
        );
        if masked.is_empty() {
            md.push_str("None.\n\n");
        } else {
            table(&mut md, &masked, true);
        }
    }
    if res.findings.iter().any(|f| !f.trail.is_empty()) {
        md.push_str("## Trails of the shrunk replays\n\n");
        for f in &res.findings {
            let _ = writeln!(md, "### {}. {}\n\n{}\n", f.id, f.key, f.story);
            if !f.with.is_empty() {
                let _ = writeln!(
                    md,
                    "Its first case also broke the invariant through: {} (independent causes: the violation needed each flipped).\n",
                    f.with.join(", ")
                );
            }
            for l in &f.trail {
                let _ = writeln!(md, "- {l}");
            }
            md.push('\n');
        }
    }
    md
}

/// Writes `finding-<n>.toml` + `.csv`, `findings.md`, `findings.json`, `findings.html` into the
/// existing folder `into`; replay commands name `dir`, the folder the files are published as.
pub fn write(into: &Path, dir: &Path, res: &mut ExploreResult) -> std::io::Result<()> {
    let sets_all: Vec<Vec<(String, String)>> =
        res.findings.iter().map(|f| sets_of(res, f)).collect();
    for (f, sets) in res.findings.iter_mut().zip(sets_all) {
        let name = format!("finding-{}", f.id);
        let csv = format!("{}-1m-{name}.csv", f.case.symbol);
        f.replay = format!("sim run {}", dir.join(&f.file).display());
        let header = format!(
            "sim explore finding {} against `{}` (seed {}, case {}).\nroot cause: {}\n{}\nreplay: {}\nexpect-exit: 1\nexpect-violation: {}",
            f.id,
            res.profile,
            res.seed,
            f.first_case,
            f.key,
            f.story,
            f.replay,
            f.invariant
        );
        std::fs::write(into.join(&csv), f.case.csv())?;
        std::fs::write(
            into.join(&f.file),
            f.case.toml(&name, &res.profile, &sets, &csv, &header),
        )?;
    }
    let md = markdown(res);
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
