//! `report.md`: title, verdict, summary table, violations grouped by invariant with their trails,
//! the scenario TOML.

use super::{describe_event, detail_rows, grouped, source_name, verdict_line, History, Summary};
use crate::invariants::{Invariant, Violation};
use crate::types::fmt_time_ms;
use std::fmt::Write as _;

/// Escapes text for Markdown inline content and table cells: HTML-significant characters become
/// entities (so `<` in a message never turns into markup), `|` is escaped, lines are joined.
pub(crate) fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A code fence longer than any run of backticks inside `body`.
pub(crate) fn fence_for(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

pub(crate) fn report_md(
    s: &Summary,
    log: &History<'_>,
    violations: &[Violation],
    scenario_toml: &str,
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# ocosim report: {}\n", md_escape(&s.scenario));
    let _ = writeln!(o, "**Verdict: {}**\n", md_escape(&verdict_line(s)));

    let _ = writeln!(o, "## Summary\n");
    let _ = writeln!(o, "| Metric | Value |");
    let _ = writeln!(o, "|---|---|");
    for (k, v) in detail_rows(s) {
        let _ = writeln!(o, "| {k} | {} |", md_escape(&v));
    }
    o.push('\n');

    if !s.run.is_empty() {
        let r = &s.run;
        let _ = writeln!(o, "## What ran\n");
        let _ = writeln!(o, "- ocosim {}", md_escape(&r.version));
        let _ = writeln!(o, "- profile `{}`, seed {}", md_escape(&r.profile), s.seed);
        let _ = writeln!(o, "- replay: `{}`", r.replay.replace('`', "'"));
        let over: Vec<String> = r
            .switches
            .iter()
            .filter(|w| w.overridden)
            .map(|w| format!("`{}={}`", w.name, w.value))
            .collect();
        let _ = writeln!(
            o,
            "- switches overridden: {}",
            if over.is_empty() {
                "none".to_string()
            } else {
                md_escape(&over.join(", "))
            }
        );
        o.push('\n');
        let _ = writeln!(o, "| Data file | SHA-256 |");
        let _ = writeln!(o, "|---|---|");
        for f in &r.data {
            let _ = writeln!(o, "| {} | `{}` |", md_escape(&f.path), f.sha256);
        }
        o.push('\n');
        let _ = writeln!(o, "| Switch | Value | |");
        let _ = writeln!(o, "|---|---|---|");
        for w in &r.switches {
            let _ = writeln!(
                o,
                "| `{}` | {} | {} |",
                w.name,
                md_escape(&w.value),
                if w.overridden { "**overridden**" } else { "" }
            );
        }
        o.push('\n');
    }

    if !s.data_warnings.is_empty() {
        let _ = writeln!(
            o,
            "## Data warnings
"
        );
        for w in &s.data_warnings {
            let _ = writeln!(o, "- {}", md_escape(w));
        }
        o.push('\n');
    }

    let _ = writeln!(o, "## Invariants\n");
    let _ = writeln!(o, "| Invariant | Guards against | Violations |");
    let _ = writeln!(o, "|---|---|---:|");
    for inv in Invariant::ALL {
        let n = s
            .violations_by_invariant
            .get(inv.name())
            .copied()
            .unwrap_or(0);
        let _ = writeln!(
            o,
            "| {} | {} | {n} |",
            inv.name(),
            md_escape(inv.describe())
        );
    }
    o.push('\n');

    let _ = writeln!(o, "## Violations\n");
    if violations.is_empty() {
        let _ = writeln!(o, "No violations.\n");
    }
    for (inv, vs) in grouped(violations) {
        let _ = writeln!(o, "### {} ({})\n", inv.name(), vs.len());
        let _ = writeln!(o, "{}\n", md_escape(inv.describe()));
        for (i, v) in vs.iter().enumerate() {
            let pair = v
                .pair
                .map(|p| format!("pair {p}"))
                .unwrap_or_else(|| "no pair".to_string());
            let _ = writeln!(
                o,
                "#### {} #{} · {} · {pair} · seq {}\n",
                inv.name(),
                i + 1,
                fmt_time_ms(v.time_ms.0),
                v.seq
            );
            let _ = writeln!(o, "{}\n", md_escape(&v.message));
            let trail = log.trail(v);
            if trail.is_empty() {
                let _ = writeln!(o, "_No trail._\n");
                continue;
            }
            let _ = writeln!(o, "| Time | Seq | Source | Event |");
            let _ = writeln!(o, "|---|---:|---|---|");
            for r in trail {
                let mark = if r.seq == v.seq { " ◀" } else { "" };
                let _ = writeln!(
                    o,
                    "| {} | {}{mark} | {} | {} |",
                    fmt_time_ms(r.time_ms.0),
                    r.seq,
                    source_name(r.source),
                    md_escape(&describe_event(&r.event))
                );
            }
            o.push('\n');
        }
    }

    let _ = writeln!(o, "## Scenario\n");
    let fence = fence_for(scenario_toml);
    let _ = writeln!(o, "{fence}toml");
    o.push_str(scenario_toml);
    if !scenario_toml.ends_with('\n') {
        o.push('\n');
    }
    let _ = writeln!(o, "{fence}");
    o
}
