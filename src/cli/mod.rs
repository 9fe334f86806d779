//! Commands: the only module that touches the wall clock, the terminal and output files.
//!
//! Every report folder goes through [`publish`] (the output contract of [`crate::output`]) and
//! every line on standard output through [`publish::emit`] (a closed pipe is a normal end).

mod publish;

use crate::report::{self, Summary};
use crate::scenario::{self, RunResult, Scenario};
use clap::{Parser, Subcommand};
use publish::emit;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// ocosim: deterministic simulation of OCO (SL/TP) logic on Binance USD-M futures.
#[derive(Parser, Debug)]
#[command(name = "sim", version, about)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run a scenario, print a summary and write reports/<name>/.
    Run {
        /// Scenario file.
        scenario: PathBuf,
        /// Report folder (default: reports/<scenario name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override the engine profile.
        #[arg(long)]
        profile: Option<String>,
        /// Override a switch: name=value (repeatable).
        #[arg(long = "set", value_name = "SWITCH=VALUE")]
        set: Vec<String>,
        /// Override the seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Print only the verdict line.
        #[arg(long)]
        quiet: bool,
    },
    /// Validate a scenario (and load its data) without running it.
    Check {
        /// Scenario file.
        scenario: PathBuf,
    },
    /// Print the switch table of every engine profile.
    Profiles,
    /// Run a base scenario over a grid of parameters, in parallel.
    Sweep {
        /// Sweep file.
        sweep: PathBuf,
        /// Report folder (default: reports/<sweep name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run only share K of N (1-based), e.g. 2/4; join the parts with `sim merge`.
        #[arg(long, value_name = "K/N")]
        partition: Option<String>,
        /// Worker threads (default: all cores); the result does not depend on it.
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Seeded bug hunting against an engine profile; findings are shrunk to replayable scenarios.
    Explore {
        /// Engine profile.
        #[arg(long, default_value = "reference")]
        profile: String,
        /// Override a switch: name=value (repeatable).
        #[arg(long = "set", value_name = "SWITCH=VALUE")]
        set: Vec<String>,
        /// Number of cases.
        #[arg(long)]
        cases: Option<u64>,
        /// Time budget, e.g. 60s or 5m (cases are run in whole batches).
        #[arg(long)]
        time: Option<String>,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Kline files for real windows (default: the 1m files under data/binance-um/klines).
        #[arg(long)]
        data: Vec<PathBuf>,
        /// Generated paths only.
        #[arg(long)]
        no_real: bool,
        /// Output folder (default: reports/explore/<profile>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Keep findings as first hit (no shrinking).
        #[arg(long)]
        no_shrink: bool,
    },
    /// Join partial sweep.csv files into one sweep (csv, md, html).
    Merge {
        /// Partial sweep.csv files.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Heat map column axis.
        #[arg(long)]
        x: String,
        /// Heat map row axis.
        #[arg(long)]
        y: String,
    },
    /// Data files: inspect or download.
    Data {
        /// What to do.
        #[command(subcommand)]
        cmd: DataCmd,
    },
}

/// `sim data …`
#[derive(Subcommand, Debug)]
pub enum DataCmd {
    /// Rows, time range, gaps and a small chart of kline files.
    Inspect {
        /// Files, folders or zips.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Fetch monthly/daily archives from Binance's public data site, checking each CHECKSUM.
    Download {
        /// Symbol, e.g. BTCUSDT.
        symbol: String,
        /// Interval, e.g. 1m.
        interval: String,
        /// First month or day (YYYY-MM or YYYY-MM-DD).
        from: String,
        /// Last month or day.
        to: String,
        /// Base URL.
        #[arg(long, default_value = crate::data::DEFAULT_BASE_URL)]
        base_url: String,
        /// Output folder.
        #[arg(long, default_value = "data/downloads")]
        out: PathBuf,
        /// klines, markPriceKlines or fundingRate.
        #[arg(long, default_value = "klines")]
        kind: String,
    },
}

/// A CLI failure: message and exit code.
pub struct Failure {
    /// One line.
    pub msg: String,
    /// 2 for bad input, 1 otherwise.
    pub code: i32,
}

fn bad(msg: impl std::fmt::Display) -> Failure {
    Failure {
        msg: msg.to_string(),
        code: 2,
    }
}

/// Loads a scenario and applies command-line overrides.
pub fn load_with_overrides(
    path: &Path,
    profile: Option<&str>,
    sets: &[String],
    seed: Option<u64>,
) -> Result<Scenario, Failure> {
    let mut sc = scenario::load(path).map_err(bad)?;
    if let Some(p) = profile {
        sc.switches = crate::engine::Switches::profile(p).ok_or_else(|| {
            bad(format!(
                "--profile: unknown profile `{p}` (see `sim profiles`)"
            ))
        })?;
        sc.profile = p.to_string();
    }
    for s in sets {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| bad(format!("--set `{s}`: expected SWITCH=VALUE")))?;
        sc.switches
            .set(k.trim(), v.trim())
            .map_err(|m| bad(format!("--set {k}: {m}")))?;
    }
    if let Some(seed) = seed {
        sc.seed = seed;
        sc.sim.seed = seed;
    }
    Ok(sc)
}

/// The setup and simulator counters of a finished run that its event log does not hold.
pub fn run_info(sc: &Scenario, r: &RunResult) -> report::RunInfo {
    let o = &r.output;
    report::RunInfo {
        scenario: sc.name.clone(),
        profile: sc.profile.clone(),
        seed: sc.seed,
        symbol: sc.spec.symbol.clone(),
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

/// Builds the summary of a finished run: [`report::summarize`] over its event log.
pub fn summarize(sc: &Scenario, r: &RunResult) -> Summary {
    report::summarize(&run_info(sc, r), &r.output.log, &r.violations)
}

fn cmd_run(
    path: &Path,
    out: Option<PathBuf>,
    profile: Option<String>,
    set: Vec<String>,
    seed: Option<u64>,
    quiet: bool,
) -> Result<i32, Failure> {
    let sc = load_with_overrides(path, profile.as_deref(), &set, seed)?;
    let given = out.is_some();
    let dir = out.unwrap_or_else(|| PathBuf::from("reports").join(&sc.name));
    let inputs = publish::scenario_inputs(path);
    publish::check(&dir, given, &inputs)?;
    let t0 = Instant::now();
    // a bar on the terminal for runs that take a while (hidden for the first half second, and
    // when stderr is not a terminal or with --quiet)
    let pb = indicatif::ProgressBar::with_draw_target(
        Some(1000),
        indicatif::ProgressDrawTarget::hidden(),
    );
    pb.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% simulated {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut shown = false;
    let r = sc.run_with_progress(&mut |permille| {
        if !shown && !quiet && t0.elapsed().as_millis() >= 500 {
            pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            shown = true;
        }
        pb.set_position(u64::from(permille));
    });
    pb.finish_and_clear();
    let elapsed = t0.elapsed();
    let s = summarize(&sc, &r);
    let st = publish::stage(&dir, given, &inputs, "run")?;
    publish::publish(st, &dir, "reports", |tmp| {
        report::write_files(tmp, &s, &r.output.log, &r.violations, &sc.text)
    })?;
    let mut so = String::new();
    if quiet {
        let _ = writeln!(so, "{} {} violations={}", s.verdict, sc.name, s.violations);
    } else {
        let _ = write!(so, "{}", report::summary_table(&s, Some(elapsed)));
        for v in r.violations.iter().take(10) {
            let _ = writeln!(
                so,
                "  {} at {} {}: {}",
                v.invariant.name(),
                v.time_ms,
                v.pair.map(|p| format!("pair {p}")).unwrap_or_default(),
                v.message
            );
        }
        if r.violations.len() > 10 {
            let _ = writeln!(
                so,
                "  … {} more in {}/report.md",
                r.violations.len() - 10,
                dir.display()
            );
        }
        let _ = writeln!(so, "reports: {}/", dir.display());
        if !r.violations.is_empty() {
            let _ = writeln!(so, "replay: sim run {} --seed {}", path.display(), sc.seed);
        }
    }
    emit(&so)?;
    Ok(if r.violations.is_empty() { 0 } else { 1 })
}

/// Runs the parsed command line; returns the exit code.
pub fn run(cli: Cli) -> Result<i32, Failure> {
    match cli.cmd {
        Cmd::Run {
            scenario,
            out,
            profile,
            set,
            seed,
            quiet,
        } => cmd_run(&scenario, out, profile, set, seed, quiet),
        Cmd::Check { scenario } => {
            let sc = scenario::load(&scenario).map_err(bad)?;
            emit(&format!(
                "ok: {} — {} {} bars ({} → {}), {} signals, profile {}, {:?} mode\n",
                sc.name,
                sc.bars.len(),
                sc.interval,
                crate::types::fmt_time_ms(sc.bars.first().map(|b| b.t).unwrap_or(0)),
                crate::types::fmt_time_ms(sc.bars.last().map(|b| b.t).unwrap_or(0)),
                sc.signals.len(),
                sc.profile,
                sc.exchange.position_mode
            ))?;
            Ok(0)
        }
        Cmd::Sweep {
            sweep,
            out,
            partition,
            threads,
        } => cmd_sweep(&sweep, out, partition, threads),
        Cmd::Explore {
            profile,
            set,
            cases,
            time,
            seed,
            data,
            no_real,
            out,
            no_shrink,
        } => cmd_explore(
            profile, set, cases, time, seed, data, no_real, out, no_shrink,
        ),
        Cmd::Merge { parts, out, x, y } => {
            let mut texts = Vec::new();
            for p in &parts {
                texts.push(
                    std::fs::read_to_string(p).map_err(|e| bad(format!("{}: {e}", p.display())))?,
                );
            }
            let merged = crate::sweep::merge(&texts).map_err(bad)?;
            // the heat map axes are columns of the parts (checked before anything is written)
            let head: Vec<&str> = merged.lines().next().unwrap_or("").split(',').collect();
            for (flag, axis) in [("--x", &x), ("--y", &y)] {
                if !head.contains(&axis.as_str()) {
                    return Err(bad(format!(
                        "{flag}: unknown axis `{axis}` (columns: {})",
                        head.join(", ")
                    )));
                }
            }
            publish::check(&out, true, &parts)?;
            let name = out
                .file_name()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            write_sweep_files(&out, true, &parts, "merge", &merged, &x, &y, &name)?;
            emit(&format!(
                "merged {} parts into {}/sweep.csv\n",
                parts.len(),
                out.display()
            ))?;
            Ok(0)
        }
        Cmd::Profiles => {
            emit(&crate::engine::profiles_table())?;
            Ok(0)
        }
        Cmd::Data { cmd } => match cmd {
            DataCmd::Inspect { files } => {
                let s = crate::data::inspect(&files).map_err(bad)?;
                emit(&s)?;
                Ok(0)
            }
            DataCmd::Download {
                symbol,
                interval,
                from,
                to,
                base_url,
                out,
                kind,
            } => {
                let args = crate::data::DownloadArgs {
                    symbol,
                    interval,
                    from,
                    to,
                    base_url,
                    out_dir: out,
                    kind,
                };
                let files = crate::data::download(&args, &mut |l| {
                    let _ = writeln!(std::io::stderr(), "{l}");
                })
                .map_err(|e| Failure {
                    msg: e.to_string(),
                    code: 2,
                })?;
                let mut so = String::new();
                for f in files {
                    let _ = writeln!(so, "{}", f.display());
                }
                emit(&so)?;
                Ok(0)
            }
        },
    }
}

/// Publishes `sweep.csv`, `sweep.md` and `sweep.html` as the report folder `dir`.
#[allow(clippy::too_many_arguments)]
fn write_sweep_files(
    dir: &Path,
    given: bool,
    inputs: &[PathBuf],
    kind: &str,
    csv: &str,
    x: &str,
    y: &str,
    name: &str,
) -> Result<(), Failure> {
    let (md, html) = crate::sweep::heatmap(csv, x, y, name);
    let st = publish::stage(dir, given, inputs, kind)?;
    publish::publish(st, dir, "sweep", |tmp| {
        std::fs::write(tmp.join("sweep.csv"), csv)?;
        std::fs::write(tmp.join("sweep.md"), &md)?;
        std::fs::write(tmp.join("sweep.html"), &html)
    })
}

fn cmd_sweep(
    path: &Path,
    out: Option<PathBuf>,
    partition: Option<String>,
    threads: Option<usize>,
) -> Result<i32, Failure> {
    let sw = crate::sweep::load(path).map_err(bad)?;
    let given = out.is_some();
    let dir = out.unwrap_or_else(|| PathBuf::from("reports").join(&sw.name));
    let inputs = publish::sweep_inputs(path, &sw);
    let mut cases = sw.cases();
    let total = cases.len();
    if let Some(p) = &partition {
        let (k, n) = p
            .split_once('/')
            .and_then(|(k, n)| Some((k.parse::<usize>().ok()?, n.parse::<usize>().ok()?)))
            .filter(|(k, n)| *n >= 1 && (1..=*n).contains(k))
            .ok_or_else(|| bad(format!("--partition `{p}`: expected K/N with 1 <= K <= N")))?;
        cases = crate::sweep::partition(cases, k, n);
    }
    publish::check(&dir, given, &inputs)?;
    let pb = indicatif::ProgressBar::new(cases.len() as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} cases {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let t0 = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| bad(format!("--threads: {e}")))?;
    let rows = pool.install(|| sw.run(&cases, &|| pb.inc(1)));
    pb.finish_and_clear();
    let axes: Vec<String> = sw.axes.iter().map(|a| a.0.clone()).collect();
    // a case that cannot run is bad input: no report of error rows is published
    let errors = rows.iter().filter(|r| r.result.is_err()).count();
    if let Some(e) = rows.iter().find_map(|r| r.result.as_ref().err()) {
        return Err(bad(format!(
            "{errors} of {} cases failed, nothing written; first failing case: {e}",
            rows.len()
        )));
    }
    let csv = crate::sweep::to_csv(&axes, &rows);
    write_sweep_files(
        &dir,
        given,
        &inputs,
        "sweep",
        &csv,
        &sw.heatmap.0,
        &sw.heatmap.1,
        &sw.name,
    )?;
    let violations: u64 = rows
        .iter()
        .filter_map(|r| r.result.as_ref().ok())
        .map(|s| s.violations)
        .sum();
    emit(&format!(
        "sweep {}: {} of {} cases in {:.2} s, {} violations → {}/sweep.csv\n",
        sw.name,
        rows.len(),
        total,
        t0.elapsed().as_secs_f64(),
        violations,
        dir.display()
    ))?;
    Ok(if violations > 0 { 1 } else { 0 })
}

fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(secs))
}

#[allow(clippy::too_many_arguments)]
fn cmd_explore(
    profile: String,
    set: Vec<String>,
    cases: Option<u64>,
    time: Option<String>,
    seed: u64,
    data: Vec<PathBuf>,
    no_real: bool,
    out: Option<PathBuf>,
    no_shrink: bool,
) -> Result<i32, Failure> {
    let mut switches = crate::engine::Switches::profile(&profile).ok_or_else(|| {
        bad(format!(
            "--profile: unknown profile `{profile}` (see `sim profiles`)"
        ))
    })?;
    let mut sets = Vec::new();
    for s in &set {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| bad(format!("--set `{s}`: expected SWITCH=VALUE")))?;
        switches
            .set(k.trim(), v.trim())
            .map_err(|m| bad(format!("--set {k}: {m}")))?;
        sets.push((k.trim().to_string(), v.trim().to_string()));
    }
    let budget = match &time {
        Some(t) => {
            Some(parse_duration(t).ok_or_else(|| bad(format!("--time `{t}`: use e.g. 60s, 5m")))?)
        }
        None => None,
    };
    let limit = cases.unwrap_or(if budget.is_some() { u64::MAX } else { 10_000 });
    let files: Vec<PathBuf> = if no_real {
        Vec::new()
    } else if data.is_empty() {
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
    } else {
        data
    };
    let given = out.is_some();
    let dir = out.unwrap_or_else(|| PathBuf::from("reports/explore").join(&profile));
    publish::check(&dir, given, &files)?;
    let pools = crate::explore::case::load_pools(&files).map_err(bad)?;
    let cfg = crate::explore::ExploreConfig {
        profile: profile.clone(),
        sets: sets.clone(),
        seed,
        pools,
        batch: 256,
        shrink: !no_shrink,
    };
    let pb = indicatif::ProgressBar::new(if limit == u64::MAX { 0 } else { limit });
    pb.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos} cases {msg} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let t0 = Instant::now();
    let stop = |done: u64, _f: usize| done >= limit || budget.is_some_and(|b| t0.elapsed() >= b);
    let on_batch = |done: u64, f: usize| {
        pb.set_position(done.min(limit));
        pb.set_message(format!("{f} findings"));
    };
    // first hits are published as soon as they are found (not yet shrunk), each time as a whole
    // report: an interrupted run (Ctrl-C) keeps them; the final write replaces them with the
    // shrunk versions (a failure here shows again at the final write)
    let on_found = |partial: &crate::explore::ExploreResult| {
        let mut p = partial.clone();
        if let Ok(st) = publish::stage(&dir, given, &files, "explore") {
            let _ = publish::publish(st, &dir, "findings", |tmp| {
                crate::explore::write(tmp, &dir, &mut p, &sets, None)
            });
        }
    };
    let mut res = crate::explore::explore_with_progress(&cfg, &stop, &on_batch, &on_found);
    pb.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    let rate = res.cases as f64 / secs.max(1e-9);
    let st = publish::stage(&dir, given, &files, "explore")?;
    publish::publish(st, &dir, "findings", |tmp| {
        crate::explore::write(tmp, &dir, &mut res, &sets, Some(rate))
    })?;
    let mut so = String::new();
    let _ = writeln!(
        so,
        "explore {profile}: {} cases in {secs:.1} s ({:.0} cases/s), seed {seed}, {} findings → {}/findings.md",
        res.cases,
        res.cases as f64 / secs.max(1e-9),
        res.findings.len(),
        dir.display()
    );
    for f in res.findings.iter().take(20) {
        let _ = writeln!(
            so,
            "  #{} {} (first at case {}, {:?} → {:?}): {}\n     replay: {}",
            f.id, f.invariant, f.first_case, f.size_before, f.size_after, f.story, f.replay
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
    emit(&so)?;
    Ok(if res.findings.is_empty() { 0 } else { 1 })
}
