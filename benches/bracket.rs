//! The dense workload of issue #18: the built-in bracket (`[strategy] kind = "bracket"`), always
//! in the market, re-entered at the close of the exit bar.
//!
//! - `bracket/quarter_filusdt`: `scenarios/bracket-filusdt.toml` (131,040 real 1m bars, ≈ 6,600
//!   trades), run + every invariant, events captured in memory (the whole log kept);
//!   `quarter_filusdt_stream` the same run as `sim run` runs it before any report: every event
//!   through the streaming log's bounded ring, seen by the online checker, none kept;
//!   `quarter_filusdt_unchecked` the same run with no checker (the records built and put
//!   through the ring, seen by nothing): what the engine, the venue and the records cost without
//!   the invariants, so the table says what the checking itself costs a trade.
//! - `bracket/year_dense`: a generated year (525,600 1m bars, a seeded walk on BTCUSDT ticks),
//!   SL/TP ±100 ticks (a trade every ≈ 20 bars), run + invariants; `year_dense_reports` is the
//!   run as `sim run` does it end to end: every report file (summary, CSVs, events.jsonl,
//!   Markdown, HTML) streamed into a new temp folder as the run goes, no whole log kept;
//!   `year_dense_reports_thread` the same with the reports rendered on a report thread of their
//!   own (what `sim run` does wherever it has a second core).
//! - `bracket/floor_quarter`, `floor_year`: the floor, a tight hand-written loop of the same
//!   bracket over the same bars (no engine, no venue, no events).
//!
//! Throughput is in bars. `<target>/criterion/bracket/meta.json` gets each bench's bars and trades
//! (for µs per trade) and the peak RSS of three generated years run end to end (reports on their
//! own thread, as `sim run` writes them) with the dense bracket and with no signals at all, each
//! measured in a child process of this bench.
//!
//! Run: `cargo bench --bench bracket`. For a profiler, `OCOSIM_BRACKET_ONCE=<what>[:<times>]`
//! runs one body `times` times (once by default) and exits: `quarter`, `quarter_stream`,
//! `quarter_unchecked`, `year`, `year_reports` or `year_reports_thread` (each as its bench), e.g.
//! `quarter_stream:40` under `perf record`, or `quarter` under `valgrind --tool=callgrind
//! --toggle-collect='ocosim::scenario::build::Scenario::run_observed'` (`quarter_unchecked`:
//! `--toggle-collect='ocosim::sim::run_into'`).

#[path = "common/gen.rs"]
mod gen;
use criterion::{BatchSize, Criterion, Throughput};
use ocosim::events::{EngineEvent, Event};
use ocosim::exchange::{BarTicks, IntrabarPolicy};
use ocosim::explore::CaseSpec;
use ocosim::scenario::Scenario;
use ocosim::sim::strategy::{Bracket, BracketSide, Distance};
use ocosim::sim::Faults;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};

const YEAR: i64 = 525_600;
const D_TICKS: i64 = 100;

fn bars(n: i64) -> Vec<BarTicks> {
    gen::random_walk(n)
}

/// A generated series with (dense) or without (idle) the bracket.
fn generated(n: i64, dense: bool) -> Scenario {
    let mut sc = case(n).scenario("reference", &[]).expect("scenario");
    // a balance no year of fees exhausts (≈ 0.6 USDT a round trip on 0.01 BTC)
    sc.exchange.initial_balance = Decimal::from(BALANCE);
    sc.check.initial_balance = sc.exchange.initial_balance;
    if dense {
        sc.sim.strategy = Some(Bracket {
            side: BracketSide::Long,
            quantity: Decimal::new(1, 2),
            sl: Distance::Ticks(D_TICKS),
            tp: Distance::Ticks(D_TICKS),
            reenter_after_bars: 0,
            strategy_id: "bracket".into(),
            confidence: Decimal::new(8, 1),
        });
    }
    sc
}

const BALANCE: i64 = 10_000_000;

/// `OCOSIM_BRACKET_WRITE_YEAR=<folder>`: the dense generated year as files, for `sim run` end to
/// end (loading included): `<folder>/BTCUSDT-1m-case.csv` (Binance's kline columns) and
/// `<folder>/year-dense.toml`, the scenario `generated(YEAR, true)` builds (the same trades).
fn write_year(dir: &Path) {
    let c = case(YEAR);
    std::fs::create_dir_all(dir).expect("folder");
    std::fs::write(dir.join("BTCUSDT-1m-case.csv"), c.csv()).expect("csv");
    let text = c
        .toml(
            "year-dense",
            "reference",
            &[],
            "BTCUSDT-1m-case.csv",
            "The bracket bench's dense generated year (benches/bracket.rs, OCOSIM_BRACKET_WRITE_YEAR).",
        )
        .replacen(
            "\n[exchange]\n",
            &format!("\n[exchange]\ninitial_balance = \"{BALANCE}\"\n"),
            1,
        )
        // the built-in bracket instead of the case's (empty) inline signals
        .replacen("\n[signals]\ninline = [\n]\n", "\n", 1);
    let text = format!(
        "{text}\n[strategy]\nkind = \"bracket\"\nside = \"long\"\nquantity = \"0.01\"\nsl_ticks = {D_TICKS}\ntp_ticks = {D_TICKS}\n"
    );
    std::fs::write(dir.join("year-dense.toml"), text).expect("toml");
}

/// The generated case without its strategy.
fn case(n: i64) -> CaseSpec {
    CaseSpec {
        symbol: "BTCUSDT".into(),
        bars: bars(n),
        signals: Vec::new(),
        manual: Vec::new(),
        hedge: true,
        legacy_api: false,
        stream: true,
        poll_ms: 2000,
        latency_ms: 25,
        intrabar: IntrabarPolicy::Ohlc,
        faults: Faults::default(),
        seed: 1,
        partial: Vec::new(),
        external: Vec::new(),
        tick_mult: 0,
    }
}

fn quarter() -> Scenario {
    ocosim::scenario::load(&root().join("scenarios/bracket-filusdt.toml")).expect("scenario")
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Trades of a run: the strategy's signals, each of which must have been executed.
fn trades(sc: &Scenario) -> u64 {
    let r = sc.run();
    assert!(r.violations.is_empty(), "{:?}", r.violations.first());
    let mut n = 0;
    for rec in r.output.log.records() {
        if let Event::Engine(EngineEvent::SignalResult { status, detail, .. }) = &rec.event {
            assert_eq!(status, "executed", "{detail}");
            n += 1;
        }
    }
    n
}

/// The floor: the same long bracket in a plain loop over the bars. Entry at the next bar's open
/// after a flat close, SL/TP `d(close)` ticks from that close, the bar's path O→L→H→C when it
/// closes up and O→H→L→C otherwise (the `ohlc` policy); the exit bar's close re-enters.
/// Returns (trades, PnL in ticks).
fn floor(bars: &[BarTicks], d: impl Fn(i64) -> (i64, i64)) -> (u64, i64) {
    let (mut trades, mut pnl) = (0u64, 0i64);
    let mut pos: Option<(i64, i64, i64)> = None; // (entry, sl, tp)
    let mut i = 0;
    while i + 1 < bars.len() {
        let b = &bars[i];
        if let Some((e, sl, tp)) = pos {
            let up = b.c >= b.o;
            // a gap through either level fills at the open
            let exit = if b.o <= sl || b.o >= tp {
                Some(b.o)
            } else if up {
                if b.l <= sl {
                    Some(sl)
                } else if b.h >= tp {
                    Some(tp)
                } else {
                    None
                }
            } else if b.h >= tp {
                Some(tp)
            } else if b.l <= sl {
                Some(sl)
            } else {
                None
            };
            if let Some(x) = exit {
                pnl += x - e;
                pos = None;
            }
        }
        if pos.is_none() {
            let (dsl, dtp) = d(b.c);
            trades += 1;
            pos = Some((bars[i + 1].o, b.c - dsl, b.c + dtp));
        }
        i += 1;
    }
    (trades, pnl)
}

fn pct_ticks(close: i64) -> (i64, i64) {
    let d = ((close * 4 + 500) / 1000).max(1);
    (d, d)
}

/// The run and its online checker as `sim run` runs them, before any report: the events go
/// through the bounded ring of a streaming log (each seen by the checker), no whole log kept.
fn run_stream(sc: &Scenario) -> ocosim::scenario::RunResult {
    let (r, _) = sc.run_observed(
        &mut |_| {},
        ocosim::events::EventLog::streaming(sc.check.trail_len + 1),
        None,
    );
    r
}

/// [`run_stream`] without the checker: the same engine, venue and configuration
/// (`Scenario::run_observed` builds them the same way), the records put through a streaming
/// log's ring of the same length with no observer. The run's own counters come back.
fn run_unchecked(sc: &Scenario) -> ocosim::sim::RunOutput {
    ocosim::sim::run_into(
        sc.exchange_at_start(),
        ocosim::engine::Engine::new(sc.switches.clone(), sc.engine.clone()),
        &sc.signals,
        &sc.manual,
        &sc.sim,
        &mut |_| {},
        ocosim::events::EventLog::streaming(sc.check.trail_len + 1),
    )
}

/// Fresh report folders for an end-to-end bench, one per run, as `sim run` writes each run into
/// a new staging folder (`output::Staging`): writing over the files of the previous iteration
/// instead would time what `sim run` never does, the kernel dropping the old files' 290 MB of
/// page cache as `File::create` truncates them, and ext4 flushing each truncated-and-rewritten
/// file when it is closed (its `auto_da_alloc` guard). `next` removes the previous run's folder
/// before it hands out the next, outside the timed body.
struct Folders {
    root: PathBuf,
    n: u64,
}

impl Folders {
    fn new(tag: &str) -> Folders {
        let root =
            std::env::temp_dir().join(format!("ocosim-bracket-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("bench temp folder");
        Folders { root, n: 0 }
    }

    fn next(&mut self) -> PathBuf {
        let _ = std::fs::remove_dir_all(self.root.join(self.n.to_string()));
        self.n += 1;
        let d = self.root.join(self.n.to_string());
        std::fs::create_dir(&d).expect("bench report folder");
        d
    }
}

impl Drop for Folders {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// One end-to-end run as `sim run` does it: the reports streamed into `dir` (a new folder) as the
/// run goes (no whole log kept), rendered on the run's thread or (`thread`) on a report thread of
/// their own, then finished.
fn run_streamed(sc: &Scenario, dir: &Path, thread: bool) {
    let mut rec = ocosim::report::Recorder::create(
        dir,
        ocosim::report::EventsLevel::All,
        sc.exchange.initial_balance,
    )
    .expect("reports");
    if thread {
        rec = rec.on_own_thread().expect("report thread");
    }
    let (r, rec) = sc.run_observed(
        &mut |_| {},
        ocosim::events::EventLog::streaming(sc.check.trail_len + 1),
        Some(Box::new(rec)),
    );
    let rec = rec
        .and_then(|o| o.into_any().downcast::<ocosim::report::Recorder>().ok())
        .expect("recorder");
    let s = rec.summarize(&ocosim::report::run_info(sc, &r.output), &r.violations);
    rec.finish(&s, &r.violations, &r.trails, &sc.text, None)
        .expect("reports");
}

/// Child mode: one end-to-end run of three generated years (dense or idle), reports written
/// as `sim run` writes them (streamed, on a report thread of their own as with two or more
/// cores: its queue is part of the peak). Prints the process's peak RSS in KiB, then the peak
/// of the run alone: generating the bars holds more memory for a moment than the run, and would
/// hide what the run itself grows by, so the kernel's high-water mark is read and then reset
/// once the scenario is built (`/proc/self/clear_refs`, "5"), and read again after the run.
fn rss_child(kind: &str) {
    let sc = generated(3 * YEAR, kind == "dense");
    let built = peak_kib();
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let mut dirs = Folders::new("rss");
    run_streamed(&sc, &dirs.next(), true);
    drop(dirs);
    let run = peak_kib();
    match (reset, built, run) {
        (true, Some(b), Some(r)) => println!("{} {r}", b.max(r)),
        _ => {
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: getrusage fills the struct it is given.
            unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
            println!("{}", ru.ru_maxrss);
        }
    }
}

/// The kernel's high-water mark of this process's resident memory (`VmHWM`), in KiB.
fn peak_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

/// (peak RSS of the whole child, peak of its run alone when the kernel could tell) in KiB.
fn peak_rss_kib(kind: &str) -> (Option<u64>, Option<u64>) {
    let Some(out) = std::env::current_exe().ok().and_then(|exe| {
        std::process::Command::new(exe)
            .env("OCOSIM_BRACKET_RSS", kind)
            .output()
            .ok()
    }) else {
        return (None, None);
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut n = text.split_whitespace().map(|w| w.parse::<u64>().ok());
    (n.next().flatten(), n.next().flatten())
}

/// `OCOSIM_BRACKET_ONCE=<what>[:<times>]`: one bench body, `times` times (see the module doc).
fn once(what: &str) {
    let (what, times) = what.split_once(':').unwrap_or((what, "1"));
    let times: u32 = times.parse().expect("OCOSIM_BRACKET_ONCE=<what>[:<times>]");
    let sc = match what {
        "quarter" | "quarter_stream" | "quarter_unchecked" => quarter(),
        "year" | "year_reports" | "year_reports_thread" => generated(YEAR, true),
        _ => panic!(
            "OCOSIM_BRACKET_ONCE: quarter, quarter_stream, quarter_unchecked, year, year_reports or \
             year_reports_thread"
        ),
    };
    let mut dirs = Folders::new("once");
    let mut ms = Vec::new();
    for _ in 0..times {
        let dir = what.starts_with("year_reports").then(|| dirs.next());
        let t0 = std::time::Instant::now();
        match what {
            "quarter_stream" => {
                let r = run_stream(&sc);
                assert!(r.violations.is_empty(), "{:?}", r.violations.first());
            }
            "quarter_unchecked" => {
                std::hint::black_box(run_unchecked(&sc));
            }
            "year_reports" | "year_reports_thread" => {
                run_streamed(
                    &sc,
                    dir.as_deref().expect("a folder"),
                    what == "year_reports_thread",
                );
            }
            _ => println!("{} trades", trades(&sc)),
        }
        ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    // each body's wall time (the folder set-up and removal outside it), for A/B runs by hand
    ms.sort_by(f64::total_cmp);
    if let Some(m) = ms.get(ms.len() / 2) {
        eprintln!(
            "{what}: {} bodies, median {m:.1} ms, min {:.1} ms",
            ms.len(),
            ms[0]
        );
    }
}

fn main() {
    if let Ok(kind) = std::env::var("OCOSIM_BRACKET_RSS") {
        rss_child(&kind);
        return;
    }
    if let Some(dir) = std::env::var_os("OCOSIM_BRACKET_WRITE_YEAR") {
        write_year(Path::new(&dir));
        return;
    }
    if let Ok(what) = std::env::var("OCOSIM_BRACKET_ONCE") {
        once(&what);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("bracket");
    g.sample_size(10);
    let mut meta = Vec::new();

    let q = quarter();
    let q_trades = trades(&q);
    let q_bars = q.bars.len() as u64;
    // the unchecked row runs the same trades: the same venue counters, wallet and records
    let (checked, unchecked) = (run_stream(&q).output, run_unchecked(&q));
    assert_eq!(checked.exchange, unchecked.exchange);
    assert_eq!(checked.final_wallet, unchecked.final_wallet);
    assert_eq!(checked.log.len(), unchecked.log.len());
    g.throughput(Throughput::Elements(q_bars));
    g.bench_function("quarter_filusdt", |b| b.iter(|| q.run()));
    g.bench_function("quarter_filusdt_stream", |b| b.iter(|| run_stream(&q)));
    g.bench_function("quarter_filusdt_unchecked", |b| {
        b.iter(|| run_unchecked(&q))
    });
    let (fq_trades, _) = floor(&q.bars, pct_ticks);
    g.bench_function("floor_quarter", |b| {
        b.iter(|| floor(std::hint::black_box(&q.bars), pct_ticks))
    });
    meta.push(("quarter_filusdt", q_bars, q_trades));
    meta.push(("quarter_filusdt_stream", q_bars, q_trades));
    meta.push(("quarter_filusdt_unchecked", q_bars, q_trades));
    meta.push(("floor_quarter", q_bars, fq_trades));

    let y = generated(YEAR, true);
    let y_trades = trades(&y);
    g.throughput(Throughput::Elements(YEAR as u64));
    g.bench_function("year_dense", |b| b.iter(|| y.run()));
    let mut dirs = Folders::new("year");
    g.bench_function("year_dense_reports", |b| {
        b.iter_batched(
            || dirs.next(),
            |dir| run_streamed(&y, &dir, false),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("year_dense_reports_thread", |b| {
        b.iter_batched(
            || dirs.next(),
            |dir| run_streamed(&y, &dir, true),
            BatchSize::PerIteration,
        )
    });
    drop(dirs);
    let flat = |_: i64| (D_TICKS, D_TICKS);
    let (fy_trades, _) = floor(&y.bars, flat);
    g.bench_function("floor_year", |b| {
        b.iter(|| floor(std::hint::black_box(&y.bars), flat))
    });
    meta.push(("year_dense", YEAR as u64, y_trades));
    meta.push(("year_dense_reports", YEAR as u64, y_trades));
    meta.push(("year_dense_reports_thread", YEAR as u64, y_trades));
    meta.push(("floor_year", YEAR as u64, fy_trades));
    g.finish();

    let (dense, dense_run) = peak_rss_kib("dense");
    let (idle, idle_run) = peak_rss_kib("idle");
    println!(
        "bracket: quarter {q_trades} trades (floor {fq_trades}), year {y_trades} trades (floor {fy_trades}); peak RSS 3 years dense {dense:?} KiB, idle {idle:?} KiB; the run alone: dense {dense_run:?} KiB, idle {idle_run:?} KiB"
    );
    let rows: Vec<String> = meta
        .iter()
        .map(|(id, b, t)| format!("  \"bracket/{id}\": {{\"bars\": {b}, \"trades\": {t}}}"))
        .collect();
    let opt = |v: Option<u64>| v.map_or("null".to_string(), |x| x.to_string());
    let text = format!(
        "{{\n\"benches\": {{\n{}\n}},\n\"rss_3y_dense_kib\": {},\n\"rss_3y_idle_kib\": {},\n\"rss_3y_dense_run_kib\": {},\n\"rss_3y_idle_run_kib\": {}\n}}\n",
        rows.join(",\n"),
        opt(dense),
        opt(idle),
        opt(dense_run),
        opt(idle_run)
    );
    let out = target_dir().join("criterion/bracket");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join("meta.json"), text);
    c.final_summary();
}
