//! `sim parity TRACE --profile P [--scenario FILE] [--out DIR] [--window-ms N] [--set K=V]`: the port held
//! against a real-engine wire trace ([`crate::parity`]); prints the share of requests matched and
//! writes `parity.md` and `parity.json` to the output folder (the output contract of
//! [`crate::output`]). Exit 0 when every request matched and both sides reach the same verdict
//! and violations, 1 otherwise, 2 on bad input.

use super::publish::{self, emit};
use super::{bad, Failure};
use std::path::{Path, PathBuf};

/// The scenario of a trace: `--scenario` if given, else the path in the trace's header.
fn scenario_path(trace: &Path, given: Option<PathBuf>) -> Result<(PathBuf, &'static str), Failure> {
    if let Some(p) = given {
        return Ok((p, "--scenario"));
    }
    let (header, name) = crate::parity::trace::scenario_hint(trace)
        .map_err(|e| bad(format!("{}:{e}", trace.display())))?;
    match header {
        Some(h) if !h.scenario.is_empty() => Ok((PathBuf::from(h.scenario), "header")),
        _ => Err(bad(format!(
            "{}: the trace has no header naming its scenario (recorded before `sim serve --record` wrote one); give --scenario FILE{}",
            trace.display(),
            name.map(|n| format!(" (its stop answer names `{n}`)")).unwrap_or_default()
        ))),
    }
}

/// Runs the command.
pub fn run(
    trace: &Path,
    profile: &str,
    scenario: Option<PathBuf>,
    out: Option<PathBuf>,
    window_ms: Option<i64>,
    set: &[String],
) -> Result<i32, Failure> {
    if !trace.is_file() {
        return Err(bad(format!("{}: no such trace file", trace.display())));
    }
    if window_ms.is_some_and(|w| w < 0) {
        return Err(bad("--window-ms: must be 0 or more"));
    }
    let (sp, from) = scenario_path(trace, scenario)?;
    let sc = super::load_with_overrides(&sp, Some(profile), set, None)?;
    let given = out.is_some();
    let dir = out.unwrap_or_else(|| {
        PathBuf::from("reports")
            .join("parity")
            .join(format!("{}-{}", sc.name, profile))
    });
    let mut inputs = publish::scenario_inputs(&sp);
    inputs.push(trace.to_path_buf());
    publish::check(&dir, given, &inputs)?;
    let opts = crate::parity::Options {
        window_ms,
        ..Default::default()
    };
    let c = crate::parity::compare(trace, &sc, from, &opts).map_err(bad)?;
    let md = crate::parity::markdown(&c);
    let json = serde_json::to_string_pretty(&c).map_err(|e| bad(e.to_string()))? + "\n";
    let st = publish::stage(&dir, given, &inputs, "parity")?;
    publish::publish(st, &dir, "parity report", |tmp| {
        std::fs::write(tmp.join("parity.md"), &md)?;
        std::fs::write(tmp.join("parity.json"), &json)
    })?;
    let k = &c.counts;
    let mut s = format!(
        "parity {} under {}: {:.1} % of requests matched ({} / {}; differing {}, missing {}, extra {})\n",
        c.scenario, c.profile, c.matched_pct, k.matched, k.real, k.differing, k.missing, k.extra
    );
    s += &format!(
        "verdict: real {} | port {} | same verdict: {}, same violations: {}\n",
        c.real.line(),
        c.port.line(),
        c.same_verdict,
        c.same_violations
    );
    if let Some(d) = &c.first_divergence {
        s += &format!("first divergence: {:?} at {}\n", d.fate, d.t);
    }
    s += &format!("reports: {}/\n", dir.display());
    emit(&s)?;
    let all = k.matched == k.real && k.extra == 0 && c.same_verdict && c.same_violations;
    Ok(if all { 0 } else { 1 })
}
