//! Commands: the only module that touches the wall clock, the terminal and output files.
//!
//! Every report folder goes through [`publish`] (the output contract of [`crate::output`]) and
//! every line on standard output through [`publish::emit`] (a closed pipe is a normal end).

mod publish;

use crate::events::EventLog;
use crate::report;
use crate::scenario::{self, Scenario};
use clap::{Parser, Subcommand};
use publish::emit;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod check;
mod explore;
#[cfg(feature = "serve")]
mod parity;
mod provenance;
mod report_thread;
mod signals;
pub use provenance::replay_command;

/// Subcommands of `sim explore`.
#[derive(Subcommand, Debug)]
pub enum ExploreSub {
    /// Join the parts (folders written with --partition K/N) into the findings one run gives.
    Merge {
        /// Part folders (each holds findings.json).
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
}

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
        #[arg(long, allow_negative_numbers = true)]
        seed: Option<u64>,
        /// Print only the verdict line.
        #[arg(long)]
        quiet: bool,
        /// Records in events.jsonl: all, trades or violations (default: the scenario's
        /// `[report] events`, else all).
        #[arg(long, value_name = "LEVEL")]
        events: Option<crate::report::EventsLevel>,
    },
    /// Validate a scenario (and load its data) without running it.
    Check {
        /// Scenario file.
        scenario: PathBuf,
    },
    /// Print the scenario's resolved signals and manual closes as JSON lines (for external engines).
    Signals {
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
        #[arg(long, value_name = "K/N", allow_hyphen_values = true)]
        partition: Option<String>,
        /// Worker threads (default: all cores); the result does not depend on it.
        #[arg(long, allow_negative_numbers = true)]
        threads: Option<usize>,
    },
    /// Seeded bug hunting against an engine profile; findings are keyed by root cause and shrunk
    /// to replayable scenarios.
    #[command(args_conflicts_with_subcommands = true)]
    Explore {
        /// Engine profile.
        #[arg(long, default_value = "reference")]
        profile: String,
        /// Override a switch: name=value (repeatable).
        #[arg(long = "set", value_name = "SWITCH=VALUE")]
        set: Vec<String>,
        /// Number of cases.
        #[arg(long, allow_negative_numbers = true)]
        cases: Option<u64>,
        /// Time budget, e.g. 60s or 5m (cases are run in whole batches).
        #[arg(long)]
        time: Option<String>,
        /// Seed.
        #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
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
        /// Run only part K of N (the cases whose index % N = K - 1); needs --cases.
        #[arg(long, value_name = "K/N")]
        partition: Option<String>,
        /// Also re-run with each masking switch unmasked and list what only then appears.
        #[arg(long)]
        unmask: bool,
        /// Bars per case (default: 4–53 generated, 10–119 real), e.g. 1440 for 1-day windows.
        #[arg(long)]
        window_bars: Option<usize>,
        /// `merge DIR… --out OUT`: join the parts of a partitioned campaign.
        #[command(subcommand)]
        merge: Option<ExploreSub>,
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
    /// Serve a scenario's market over loopback HTTP/WebSocket in Binance's wire format.
    #[cfg(feature = "serve")]
    Serve {
        /// Scenario file (`[engine]` and signals are not used).
        scenario: PathBuf,
        /// Port (0: any free port; the banner prints it).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// `lockstep` (venue time moves on POST /sim/v1/advance) or `paced:SPEED`.
        #[arg(long, default_value = "lockstep")]
        clock: String,
        /// Write every request, answer and pushed frame with venue time here (JSONL).
        #[arg(long)]
        record: Option<PathBuf>,
        /// Report folder (default: reports/<scenario name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Do not check `timestamp`/`recvWindow`.
        #[arg(long)]
        no_time_check: bool,
        /// API key (default: `[serve] api_key`, else derived from the seed).
        #[arg(long, requires = "api_secret")]
        api_key: Option<String>,
        /// API secret.
        #[arg(long, requires = "api_key")]
        api_secret: Option<String>,
        /// Most open connections (the excess is refused with 503).
        #[arg(long, default_value_t = 256)]
        max_connections: usize,
    },
    /// Hold the port against a real-engine wire trace (`sim serve --record`), request by request.
    #[cfg(feature = "serve")]
    Parity {
        /// The trace (JSONL, gzip read transparently).
        trace: PathBuf,
        /// Engine profile of the port.
        #[arg(long)]
        profile: String,
        /// Scenario file (default: the one named in the trace's header).
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Report folder (default: reports/parity/<scenario>-<profile>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Matching window in ms (default: the scenario's reaction window, at least 1000).
        #[arg(long)]
        window_ms: Option<i64>,
        /// Override a switch of the port, e.g. `algo_slot_limit=0` for a 2026-08 engine run with
        /// `RISK_MANAGEMENT_ENABLED=false`, as the launcher runs it (repeatable).
        #[arg(long = "set", value_name = "SWITCH=VALUE")]
        set: Vec<String>,
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
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
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
        /// Longest time to connect, per request (e.g. 10s, 500ms).
        #[arg(long, default_value = "10s", value_name = "DURATION")]
        connect_timeout: String,
        /// Longest silence of the server while answering, per request.
        #[arg(long, default_value = "30s", value_name = "DURATION")]
        idle_timeout: String,
        /// Longest time for one request, from connecting to the last byte.
        #[arg(long, default_value = "10m", value_name = "DURATION")]
        total_timeout: String,
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

/// Splits a `--set SWITCH=VALUE` argument.
fn parse_set(s: &str) -> Result<(&str, &str), Failure> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim(), v.trim())),
        _ => Err(bad(format!(
            "--set `{}`: expected SWITCH=VALUE (see `sim profiles`)",
            s.escape_debug()
        ))),
    }
}

/// Most worker threads `--threads` accepts.
pub const MAX_THREADS: usize = 1024;
/// Most cases `sim explore --cases` accepts.
pub const MAX_EXPLORE_CASES: u64 = 1_000_000_000;
/// Longest `sim explore --time` accepted (30 days).
pub const MAX_EXPLORE_SECS: u64 = 30 * 86_400;

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
        if !sc.api_set {
            // the API era follows the profile unless the file names it
            sc.exchange.api = scenario::build::api_for_profile(p);
        }
    }
    for s in sets {
        let (k, v) = parse_set(s)?;
        if k == "exchange.api" {
            sc.exchange.api = match v {
                "algo" => crate::exchange::ApiMode::Algo,
                "legacy" => crate::exchange::ApiMode::Legacy,
                _ => {
                    return Err(bad(format!(
                        "--set exchange.api: `{}`: use algo or legacy",
                        v.escape_debug()
                    )))
                }
            };
            sc.api_set = true;
            continue;
        }
        sc.switches
            .set(k, v)
            .map_err(|m| bad(format!("--set {k}: {m}")))?;
    }
    if let Some(seed) = seed {
        sc.seed = seed;
        sc.sim.seed = seed;
    }
    Ok(sc)
}

/// Prints the scenario's data warnings (missing bars) on stderr, one line each.
fn warn_data(path: &Path, sc: &Scenario) {
    let mut e = std::io::stderr().lock();
    for w in &sc.data_warnings {
        let _ = writeln!(e, "sim: warning: {}: {w}", path.display());
    }
}

fn cmd_run(
    path: &Path,
    out: Option<PathBuf>,
    profile: Option<String>,
    set: Vec<String>,
    seed: Option<u64>,
    (quiet, events): (bool, Option<report::EventsLevel>),
) -> Result<i32, Failure> {
    let sc = load_with_overrides(path, profile.as_deref(), &set, seed)?;
    warn_data(path, &sc);
    let given = out.is_some();
    let dir = out.unwrap_or_else(|| PathBuf::from("reports").join(&sc.name));
    let inputs = publish::scenario_inputs(path);
    publish::check(&dir, given, &inputs)?;
    // the data files' hashes for the provenance, computed while the run goes on
    let hashes = provenance::hash_data_files(path, &sc.text);
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
    // the reports are written as the run goes (events.jsonl, orders.csv, fills.csv streamed into
    // the staging folder); the run keeps no whole log, only a ring of recent records for trails
    let st = publish::stage(&dir, given, &inputs, "run")?;
    let cannot = |e: std::io::Error| Failure {
        msg: format!("{}: cannot write reports: {e}", dir.display()),
        code: 2,
    };
    let level = events.unwrap_or(sc.events);
    let mut rec =
        report::Recorder::create(st.path(), level, sc.exchange.initial_balance).map_err(cannot)?;
    // rendered on a report thread of its own with 2+ cores unless OCOSIM_REPORT_THREAD=0 (same bytes)
    if report_thread::wanted() {
        rec = rec.on_own_thread().map_err(cannot)?;
    }
    let (r, rec) = sc.run_observed(
        &mut |permille| {
            if !shown && !quiet && t0.elapsed().as_millis() >= 500 {
                pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                shown = true;
            }
            pb.set_position(u64::from(permille));
        },
        EventLog::streaming(sc.check.trail_len + 1),
        Some(Box::new(rec)),
    );
    let rec = rec
        .and_then(|o| o.into_any().downcast::<report::Recorder>().ok())
        .expect("the recorder comes back");
    pb.finish_and_clear();
    let elapsed = t0.elapsed();
    let mut s = rec.summarize(&report::run_info(&sc, &r.output), &r.violations);
    s.data_warnings = sc.data_warnings.clone();
    s.run = provenance::provenance(path, &sc, profile.as_deref(), &set, hashes);
    publish::publish(st, &dir, "reports", |_| {
        let (a, z) = r.output.span;
        let bars = report::PriceBars::within(&sc.bars, sc.interval_ms, sc.spec.tick_size, a.0, z.0);
        rec.finish(&s, &r.violations, &r.trails, &sc.text, Some(&bars))
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
            let _ = writeln!(so, "replay: {}", s.run.replay);
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
            events,
        } => cmd_run(&scenario, out, profile, set, seed, (quiet, events)),
        Cmd::Check { scenario } => {
            let sc = scenario::load(&scenario).map_err(bad)?;
            warn_data(&scenario, &sc);
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
            for w in check::warnings(&sc) {
                eprintln!("sim: warning: {w}");
            }
            Ok(0)
        }
        #[cfg(feature = "serve")]
        Cmd::Parity {
            trace,
            profile,
            scenario,
            out,
            window_ms,
            set,
        } => parity::run(&trace, &profile, scenario, out, window_ms, &set),
        Cmd::Sweep {
            sweep,
            out,
            partition,
            threads,
        } => cmd_sweep(&sweep, out, partition, threads),
        #[cfg(feature = "serve")]
        Cmd::Serve {
            scenario,
            port,
            bind,
            clock,
            record,
            out,
            no_time_check,
            api_key,
            api_secret,
            max_connections,
        } => {
            let clock = crate::serve::ClockMode::parse(&clock).map_err(bad)?;
            let sc = scenario::load(&scenario).map_err(bad)?;
            let keys = match (api_key, api_secret, sc.serve_keys.clone()) {
                (Some(k), Some(s), _) => (k, s),
                (_, _, Some(ks)) => ks,
                _ => crate::serve::auth::keys_from_seed(sc.seed),
            };
            let given = out.is_some();
            let out = out.unwrap_or_else(|| PathBuf::from("reports").join(&sc.name));
            // the output-folder contract, checked before the server starts
            publish::check(&out, given, &publish::scenario_inputs(&scenario))?;
            let opts = crate::serve::Options {
                port,
                bind,
                clock,
                record,
                out,
                time_check: !no_time_check,
                keys,
                max_connections: max_connections.max(1),
            };
            crate::serve::serve(sc, opts).map_err(bad)
        }
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
            partition,
            unmask,
            window_bars,
            merge,
        } => match merge {
            Some(ExploreSub::Merge { parts, out }) => explore::cmd_merge(parts, out),
            None => explore::cmd_explore(explore::ExploreArgs {
                profile,
                set,
                cases,
                time,
                seed,
                data,
                no_real,
                out,
                no_shrink,
                partition,
                unmask,
                window_bars,
            }),
        },
        Cmd::Merge { parts, out, x, y } => {
            let mut texts = Vec::new();
            for p in &parts {
                texts.push((
                    p.display().to_string(),
                    crate::data::files::read_text(
                        p,
                        crate::data::files::MAX_DATA_FILE_BYTES,
                        "a sweep part",
                    )
                    .map_err(bad)?,
                ));
            }
            let merged = crate::sweep::merge(&texts).map_err(bad)?;
            // the heat-map axes must be columns of the parts (before anything is written)
            let head: Vec<&str> = merged.lines().next().unwrap_or("").split(',').collect();
            for (arg, v) in [("--x", &x), ("--y", &y)] {
                if !head.iter().any(|h| h == v) || v.is_empty() {
                    let axes: Vec<&str> = head
                        .iter()
                        .skip(1)
                        .take_while(|h| **h != "violations")
                        .copied()
                        .collect();
                    return Err(bad(format!(
                        "{arg} `{}`: not an axis of {} (axes: {})",
                        v.escape_debug(),
                        parts[0].display(),
                        axes.join(", ")
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
        Cmd::Signals { scenario } => {
            let sc = scenario::load(&scenario).map_err(bad)?;
            for l in signals::lines(&sc) {
                println!("{l}");
            }
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
                connect_timeout,
                idle_timeout,
                total_timeout,
            } => {
                let timeouts = crate::data::Timeouts {
                    connect: timeout_arg("--connect-timeout", &connect_timeout)?,
                    idle: timeout_arg("--idle-timeout", &idle_timeout)?,
                    total: timeout_arg("--total-timeout", &total_timeout)?,
                };
                let args = crate::data::DownloadArgs {
                    symbol,
                    interval,
                    from,
                    to,
                    base_url,
                    out_dir: out,
                    kind,
                    timeouts,
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

/// Parses a download timeout: `500ms`, `30s`, `10m` or a number of seconds; 0 is refused.
fn timeout_arg(flag: &str, s: &str) -> Result<std::time::Duration, Failure> {
    match parse_duration(s.trim()) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(bad(format!(
            "{flag} `{s}`: expected a positive duration such as 500ms, 30s or 10m"
        ))),
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
    if let Some(t) = threads {
        if !(1..=MAX_THREADS).contains(&t) {
            return Err(bad(format!(
                "--threads {t}: out of range (accepted range 1..={MAX_THREADS}; omit it for all cores)"
            )));
        }
    }
    let (k, n) = match &partition {
        Some(p) => p
            .split_once('/')
            .and_then(|(k, n)| Some((k.parse::<u64>().ok()?, n.parse::<u64>().ok()?)))
            .filter(|(k, n)| *n >= 1 && (1..=*n).contains(k))
            .ok_or_else(|| {
                bad(format!(
                    "--partition `{}`: expected K/N with 1 <= K <= N (e.g. 2/4)",
                    p.escape_debug()
                ))
            })?,
        None => (1, 1),
    };
    let sw = crate::sweep::load(path).map_err(bad)?;
    let given = out.is_some();
    let dir = out.unwrap_or_else(|| PathBuf::from("reports").join(&sw.name));
    let inputs = publish::sweep_inputs(path, &sw);
    sw.check_share(k, n).map_err(bad)?;
    let total = sw.count().unwrap_or(0);
    let cases = sw.partition_cases(k, n);
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

/// Parses a duration argument: a whole number with `ms`, `s`, `m` or `h`, or bare seconds; `None`
/// when it is not one or overflows. Callers apply their own range (`--time`, the download timeouts).
fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n.parse().ok()?;
    let ms = match unit {
        "ms" => n,
        "" | "s" => n.checked_mul(1000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        _ => return None,
    };
    Some(std::time::Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn one_duration_parser_serves_time_and_timeouts() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        for bad in ["", "s", "1.5s", "-1s", "10d", "99999999999999999h", "1 s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
