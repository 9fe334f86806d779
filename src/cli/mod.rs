//! Commands: the only module that touches the wall clock, the terminal and output files.

use crate::report::{self, Summary};
use crate::scenario::{self, RunResult, Scenario};
use clap::{Parser, Subcommand};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::io::Write;
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
        sc.switches = crate::engine::Switches::profile(p)
            .ok_or_else(|| bad(format!("--profile: unknown profile `{p}` (see `sim profiles`)")))?;
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

/// Builds the summary of a finished run (from events and counters only).
pub fn summarize(sc: &Scenario, r: &RunResult) -> Summary {
    let log = &r.output.log;
    let acc = report::accounting(log);
    let curve = report::equity_curve(log, sc.exchange.initial_balance);
    let (dd, dd_pct) = report::max_drawdown(&curve);
    let mut by_inv: BTreeMap<String, u64> = crate::invariants::Invariant::ALL
        .iter()
        .map(|i| (i.name().to_string(), 0))
        .collect();
    for v in &r.violations {
        *by_inv.entry(v.invariant.name().to_string()).or_default() += 1;
    }
    let o = &r.output;
    let initial = sc.exchange.initial_balance;
    Summary {
        scenario: sc.name.clone(),
        profile: sc.profile.clone(),
        seed: sc.seed,
        symbol: sc.spec.symbol.clone(),
        interval: sc.interval.clone(),
        position_mode: format!("{:?}", sc.exchange.position_mode),
        monitor: format!("{:?}", sc.engine.monitor).to_lowercase(),
        intrabar: format!("{:?}", sc.exchange.intrabar).to_lowercase(),
        first_bar: crate::types::fmt_time_ms(o.span.0 .0),
        last_bar: crate::types::fmt_time_ms(o.span.1 .0),
        bars: o.exchange.bars,
        ambiguous_bars: o.exchange.ambiguous_bars,
        orders: o.exchange.orders,
        fills: o.exchange.fills,
        pairs: acc.pairs,
        signals: acc.signals,
        calls: o.sim.calls,
        passes: o.sim.passes,
        passes_skipped: o.sim.passes_skipped,
        faults: o.sim.faults,
        rejections: o.exchange.rejections,
        liquidations: o.exchange.liquidations,
        initial_balance: initial,
        final_wallet: o.final_wallet,
        unrealized: o.final_unrealized,
        realized_pnl: acc.realized,
        fees: acc.fees,
        funding: acc.funding,
        pnl: o.final_wallet + o.final_unrealized - initial,
        max_drawdown: dd,
        max_drawdown_pct: dd_pct,
        violations: r.violations.len() as u64,
        violations_by_invariant: by_inv,
        rejections_by_code: acc.rejections_by_code,
        warnings: acc.warnings,
        verdict: if r.violations.is_empty() { "PASS" } else { "FAIL" }.to_string(),
    }
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
    let t0 = Instant::now();
    let r = sc.run();
    let elapsed = t0.elapsed();
    let s = summarize(&sc, &r);
    let dir = out.unwrap_or_else(|| PathBuf::from("reports").join(&sc.name));
    report::write_reports(&dir, &s, &r.output.log, &r.violations, &sc.text).map_err(|e| Failure {
        msg: format!("{}: cannot write reports: {e}", dir.display()),
        code: 2,
    })?;
    let mut so = std::io::stdout().lock();
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
            let _ = writeln!(so, "  … {} more in {}/report.md", r.violations.len() - 10, dir.display());
        }
        let _ = writeln!(so, "reports: {}/", dir.display());
        if !r.violations.is_empty() {
            let _ = writeln!(
                so,
                "replay: sim run {} --seed {}",
                path.display(),
                sc.seed
            );
        }
    }
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
            println!(
                "ok: {} — {} {} bars ({} → {}), {} signals, profile {}, {:?} mode",
                sc.name,
                sc.bars.len(),
                sc.interval,
                crate::types::fmt_time_ms(sc.bars.first().map(|b| b.t).unwrap_or(0)),
                crate::types::fmt_time_ms(sc.bars.last().map(|b| b.t).unwrap_or(0)),
                sc.signals.len(),
                sc.profile,
                sc.exchange.position_mode
            );
            Ok(0)
        }
        Cmd::Profiles => {
            print!("{}", crate::engine::profiles_table());
            Ok(0)
        }
        Cmd::Data { cmd } => match cmd {
            DataCmd::Inspect { files } => {
                let s = crate::data::inspect(&files).map_err(bad)?;
                print!("{s}");
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
                let files = crate::data::download(&args, &mut |l| eprintln!("{l}")).map_err(|e| Failure {
                    msg: e.to_string(),
                    code: 2,
                })?;
                for f in files {
                    println!("{}", f.display());
                }
                Ok(0)
            }
        },
    }
}

/// Zero as a Decimal (kept for callers that build summaries by hand).
pub fn zero() -> Decimal {
    Decimal::ZERO
}
