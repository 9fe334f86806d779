//! `sim explore` and `sim explore merge`: argument checks, progress, publication of findings.

use super::{
    bad, parse_duration, parse_set, publish, Failure, MAX_EXPLORE_CASES, MAX_EXPLORE_SECS,
};
use crate::explore::{ExploreConfig, ExploreResult, Partition};
use publish::emit;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

/// Longest case window `--window-bars` accepts (31 days of 1m bars).
pub const MAX_WINDOW_BARS: usize = 31 * 1440;

/// The arguments of `sim explore`.
pub struct ExploreArgs {
    /// Engine profile.
    pub profile: String,
    /// `SWITCH=VALUE` overrides.
    pub set: Vec<String>,
    /// Number of cases.
    pub cases: Option<u64>,
    /// Time budget.
    pub time: Option<String>,
    /// Seed.
    pub seed: u64,
    /// Kline files for real windows.
    pub data: Vec<PathBuf>,
    /// Generated paths only.
    pub no_real: bool,
    /// Output folder.
    pub out: Option<PathBuf>,
    /// Keep first hits unshrunk.
    pub no_shrink: bool,
    /// `K/N` share of the cases.
    pub partition: Option<String>,
    /// Re-run with masking switches unmasked.
    pub unmask: bool,
    /// Bars per case.
    pub window_bars: Option<usize>,
}

/// The 1m kline files explore draws real windows from.
fn pool_files(no_real: bool, data: Vec<PathBuf>) -> Vec<PathBuf> {
    if no_real {
        return Vec::new();
    }
    if !data.is_empty() {
        return data;
    }
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir("data/binance-um/klines") {
        let mut syms: Vec<PathBuf> = rd.flatten().map(|e| e.path().join("1m")).collect();
        syms.sort();
        for d in syms {
            if let Ok(files) = std::fs::read_dir(&d) {
                let mut f: Vec<PathBuf> = files.flatten().map(|e| e.path()).collect();
                f.sort();
                v.extend(f.into_iter().take(1));
            }
        }
    }
    v
}

fn summary_lines(res: &ExploreResult, dir: &std::path::Path, head: &str) -> String {
    let mut so = String::new();
    let _ = writeln!(so, "{head}");
    let (n, m) = res.duplicates.counts();
    let found = crate::explore::found_weak_points(res);
    let _ = writeln!(
        so,
        "  weak points found {}/{} [{}]; trail-signature keying would give {n} findings over {m} root causes ({:.0} % duplicates)",
        found.len(),
        res.expected.len(),
        found.join(" "),
        res.duplicates.ratio() * 100.0
    );
    if !res.expected.is_empty() {
        let _ = writeln!(so, "  {}", crate::explore::found_expected_line(res, false));
    }
    for f in res.findings.iter().take(20) {
        let _ = writeln!(
            so,
            "  #{} {} [{}] ×{} (first at case {}, {:?} → {:?}): {}\n     replay: {}",
            f.id,
            f.key,
            f.weak_points.join(","),
            f.count,
            f.first_case,
            f.size_before,
            f.size_after,
            f.story,
            f.replay
        );
    }
    if res.findings.len() > 20 {
        let _ = writeln!(
            so,
            "  … {} more in {}/findings.md",
            res.findings.len() - 20,
            dir.display()
        );
    }
    so
}

/// `sim explore`.
pub fn cmd_explore(a: ExploreArgs) -> Result<i32, Failure> {
    let profile = a.profile;
    let mut switches = crate::engine::Switches::profile(&profile).ok_or_else(|| {
        bad(format!(
            "--profile: unknown profile `{profile}` (see `sim profiles`)"
        ))
    })?;
    let mut sets = Vec::new();
    for s in &a.set {
        let (k, v) = parse_set(s)?;
        switches
            .set(k, v)
            .map_err(|m| bad(format!("--set {k}: {m}")))?;
        sets.retain(|(x, _): &(String, String)| x != k);
        sets.push((k.to_string(), v.to_string()));
    }
    if let Some(c) = a.cases {
        if !(1..=MAX_EXPLORE_CASES).contains(&c) {
            return Err(bad(format!(
                "--cases {c}: out of range (accepted range 1..={MAX_EXPLORE_CASES})"
            )));
        }
    }
    let partition = match &a.partition {
        None => None,
        Some(p) => {
            let part = Partition::parse(p).ok_or_else(|| {
                bad(format!(
                    "--partition `{}`: expected K/N with 1 <= K <= N <= 1000000",
                    p.escape_debug()
                ))
            })?;
            if a.cases.is_none() || a.time.is_some() {
                return Err(bad(
                    "--partition: give --cases (the whole campaign's count) and no --time",
                ));
            }
            Some(part)
        }
    };
    if let Some(w) = a.window_bars {
        if !(2..=MAX_WINDOW_BARS).contains(&w) {
            return Err(bad(format!(
                "--window-bars {w}: out of range (accepted range 2..={MAX_WINDOW_BARS})"
            )));
        }
    }
    let budget = match &a.time {
        Some(t) => Some(
            parse_duration(t)
                .filter(|d| (1..=MAX_EXPLORE_SECS).contains(&d.as_secs()))
                .ok_or_else(|| {
                    bad(format!(
                        "--time `{}`: use e.g. 60s, 5m or 2h (accepted range 1s..={}h)",
                        t.escape_debug(),
                        MAX_EXPLORE_SECS / 3600
                    ))
                })?,
        ),
        None => None,
    };
    let limit = a
        .cases
        .unwrap_or(if budget.is_some() { u64::MAX } else { 10_000 });
    let files = pool_files(a.no_real, a.data);
    let given = a.out.is_some();
    let dir = a
        .out
        .unwrap_or_else(|| PathBuf::from("reports/explore").join(&profile));
    publish::check(&dir, given, &files)?;
    let pools = crate::explore::case::load_pools(&files).map_err(bad)?;
    let cfg = ExploreConfig {
        profile: profile.clone(),
        sets: sets.clone(),
        baseline: Vec::new(),
        seed: a.seed,
        pools,
        batch: 256,
        shrink: !a.no_shrink,
        cases: limit,
        partition,
        window_bars: a.window_bars,
        prefer: Vec::new(),
    };
    let share = match partition {
        Some(p) if limit != u64::MAX => limit / p.n + u64::from(limit % p.n >= p.k),
        _ => limit,
    };
    let pb = indicatif::ProgressBar::new(if share == u64::MAX { 0 } else { share });
    pb.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos} cases {msg} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let t0 = Instant::now();
    let stop = |_done: u64, _f: usize| budget.is_some_and(|b| t0.elapsed() >= b);
    let on_batch = |done: u64, f: usize| {
        pb.set_position(done.min(share));
        pb.set_message(format!("{f} findings"));
    };
    // first hits are published as soon as they are found (not yet shrunk), each time as a whole
    // report: an interrupted run (Ctrl-C) keeps them; the final write replaces them with the
    // shrunk versions (a failure here shows again at the final write)
    let on_found = |partial: &ExploreResult| {
        let mut p = partial.clone();
        if let Ok(st) = publish::stage(&dir, given, &files, "explore") {
            let _ = publish::publish(st, &dir, "findings", |tmp| {
                crate::explore::write(tmp, &dir, &mut p)
            });
        }
    };
    let mut res = crate::explore::explore_with_progress(&cfg, &stop, &on_batch, &on_found);
    let run_cases = pb.position();
    if a.unmask {
        pb.set_message("unmasking".to_string());
        // the same cases as the plain run, whatever stopped it
        let mut c = cfg.clone();
        c.cases = res.cases;
        crate::explore::unmask(&c, &mut res, &|_, _| false);
    }
    pb.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    let st = publish::stage(&dir, given, &files, "explore")?;
    publish::publish(st, &dir, "findings", |tmp| {
        crate::explore::write(tmp, &dir, &mut res)
    })?;
    let head = format!(
        "explore {profile}{}: {run_cases} cases in {secs:.1} s ({:.0} cases/s), seed {}, {} findings → {}/findings.md",
        partition.map(|p| format!(" part {p}")).unwrap_or_default(),
        run_cases as f64 / secs.max(1e-9),
        a.seed,
        res.findings.len(),
        dir.display()
    );
    emit(&summary_lines(&res, &dir, &head))?;
    Ok(if res.findings.is_empty() { 0 } else { 1 })
}

/// `sim explore merge DIR… --out OUT`.
pub fn cmd_merge(parts: Vec<PathBuf>, out: PathBuf) -> Result<i32, Failure> {
    let mut results = Vec::new();
    for p in &parts {
        let file = p.join("findings.json");
        let text = crate::data::files::read_text(
            &file,
            crate::data::files::MAX_DATA_FILE_BYTES,
            "an explore part",
        )
        .map_err(bad)?;
        let r: ExploreResult = serde_json::from_str(&text)
            .map_err(|e| bad(format!("{}:{}: {e}", file.display(), e.line())))?;
        results.push((p.display().to_string(), r));
    }
    let mut res = crate::explore::merge(&results).map_err(bad)?;
    let st = publish::stage(&out, true, &parts, "explore")?;
    publish::publish(st, &out, "findings", |tmp| {
        crate::explore::write(tmp, &out, &mut res)
    })?;
    let head = format!(
        "explore merge: {} parts of `{}` seed {}, {} cases: {} findings → {}/findings.md",
        parts.len(),
        res.profile,
        res.seed,
        res.cases,
        res.findings.len(),
        out.display()
    );
    emit(&summary_lines(&res, &out, &head))?;
    Ok(if res.findings.is_empty() { 0 } else { 1 })
}
