//! The property-test gate: generated kline paths, signal streams, engine configurations and
//! fault schedules (strategies in `tests/common`, over the same `CaseSpec` that `sim explore`
//! draws). Positive properties must hold under the `reference` engine; negative ones run known-bad
//! configurations and require the checker to find the planted bug, and proptest to shrink it.
//!
//! Case counts: `PROPTEST_CASES` (CI: 64 per property); e.g. `PROPTEST_CASES=2000 cargo test
//! --release --test properties`. A failing case is written as a scenario + CSV that `sim run`
//! replays; its path and seed are in the failure message.

mod common;

use common::*;
use ocosim::engine::Action;
use ocosim::explore::CaseSpec;
use ocosim::invariants::{Invariant, Violation};
use ocosim::sim::Faults;
use ocosim::types::PositionSide;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};

fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases: n,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(
                "tests/proptest-regressions/properties.txt",
            ),
        )),
        ..ProptestConfig::default()
    }
}

const PROFILES: [&str; 4] = [
    "reference",
    "tradeengine-v1.1.78",
    "tradeengine-v1.1.80",
    "tradeengine-2026-08",
];

/// Writes a failing case where `sim run` can replay it; returns the replay line.
fn replay_file(c: &CaseSpec, profile: &str, sets: &[(&str, &str)]) -> String {
    let dir = std::env::temp_dir().join("ocosim-property-failures");
    let _ = std::fs::create_dir_all(&dir);
    let sets: Vec<(String, String)> = sets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let name = format!("case-{}", c.seed);
    let csv = format!("{}-1m-{name}.csv", c.symbol);
    let _ = std::fs::write(dir.join(&csv), c.csv());
    let path = dir.join(format!("{name}.toml"));
    let _ = std::fs::write(
        &path,
        c.toml(&name, profile, &sets, &csv, "property failure"),
    );
    format!("seed {} — replay: sim run {}", c.seed, path.display())
}

fn show(v: &[Violation]) -> String {
    v.iter()
        .map(|v| format!("{} at {}: {}", v.invariant.name(), v.time_ms, v.message))
        .collect::<Vec<_>>()
        .join("\n")
}

fn legacy(profile: &str) -> bool {
    ocosim::explore::legacy_era(profile)
}

proptest! {
    #![proptest_config(cases(64))]

    /// THE GATE: under the reference engine every invariant holds, in both position modes,
    /// polling (0 ms to minutes) or streaming, with latencies, faults and manual closes.
    #[test]
    fn reference_holds_every_invariant(
        shapes in prop::collection::vec(shape(), 3..40),
        sigs in signals(40, 5),
        cfg in config(),
        f in faults(),
        close_at in prop::option::of(0usize..40),
        seed in any::<u64>(),
    ) {
        let bars = bars_from(&shapes, 10_000);
        let mut c = case(bars, &sigs, &cfg, f, seed);
        if let Some(b) = close_at {
            let ps = if cfg.hedge { PositionSide::Long } else { PositionSide::Both };
            c = with_manual_close(c, b, ps);
        }
        let r = scenario(&c, "reference", &[]).run();
        prop_assert!(r.violations.is_empty(), "{}\n{}", show(&r.violations), replay_file(&c, "reference", &[]));
    }

    /// The same case twice, and with idle-poll skipping on and off, gives identical event logs;
    /// no generated input panics under any profile.
    #[test]
    fn runs_are_deterministic_and_skipping_is_invisible(
        shapes in prop::collection::vec(shape(), 3..30),
        sigs in signals(30, 4),
        cfg in config(),
        profile in 0usize..4,
        seed in any::<u64>(),
    ) {
        let mut c = case(bars_from(&shapes, 10_000), &sigs, &cfg, Faults::default(), seed);
        c.legacy_api = legacy(PROFILES[profile]);
        let sc = scenario(&c, PROFILES[profile], &[]);
        let a = sc.run();
        let b = sc.run();
        prop_assert_eq!(a.output.log.to_jsonl(), b.output.log.to_jsonl());
        let mut no_skip = sc.clone();
        no_skip.sim.skip_idle_polls = false;
        let d = no_skip.run();
        prop_assert_eq!(a.output.log.to_jsonl(), d.output.log.to_jsonl());
        prop_assert_eq!(a.violations, d.violations);
    }

    /// The books balance to the last Decimal digit under every profile, with faults; and the
    /// summary a sweep takes from a streamed run (no whole log) is the whole log's.
    #[test]
    fn books_always_balance(
        shapes in prop::collection::vec(shape(), 3..30),
        sigs in signals(30, 4),
        cfg in config(),
        f in faults(),
        profile in 0usize..4,
        seed in any::<u64>(),
    ) {
        let mut c = case(bars_from(&shapes, 10_000), &sigs, &cfg, f, seed);
        c.legacy_api = legacy(PROFILES[profile]);
        let sc = scenario(&c, PROFILES[profile], &[]);
        let r = sc.run();
        let bad: Vec<_> = r.violations.iter().filter(|v| v.invariant == Invariant::BooksBalance).cloned().collect();
        prop_assert!(bad.is_empty(), "{}", show(&bad));
        let (streamed, sr) = ocosim::report::run_summary(&sc);
        prop_assert_eq!(streamed, ocosim::report::summarize_run(&sc, &r));
        prop_assert_eq!(sr.violations, r.violations);
    }

    /// Planted bug 1: reduceOnly beside positionSide in hedge mode is always caught (-1106).
    #[test]
    fn planted_reduce_only_in_hedge_mode_is_caught(
        shapes in prop::collection::vec(shape(), 3..12),
        sigs in signals(3, 3),
        latency in 0i64..100,
        seed in any::<u64>(),
    ) {
        let cfg = GenConfig { hedge: true, stream: false, poll_ms: 2000, latency_ms: latency, intrabar: ocosim::exchange::IntrabarPolicy::Ohlc };
        let mut sigs = sigs;
        for s in &mut sigs { if s.action == Action::Close { s.action = Action::Buy; } s.sl = s.sl.abs() + 5; s.tp = s.tp.abs() + 5; }
        let mut c = case(bars_from(&shapes, 10_000), &sigs, &cfg, Faults::default(), seed);
        c.legacy_api = true;
        let sets = [("send_reduce_only_with_position_side", "true")];
        let r = scenario(&c, "tradeengine-v1.1.80", &sets).run();
        prop_assert!(
            r.violations.iter().any(|v| v.invariant == Invariant::ReduceOnlyMode && v.message.contains("-1106")),
            "{}", show(&r.violations)
        );
    }

    /// Planted bug 2: a cancel that never happens (every cancel answered -2011, which v1.1.80
    /// treats as a failure and retries forever) leaves the survivor of a pair: an orphan.
    #[test]
    fn planted_cancel_that_never_happens_is_caught(
        quiet in prop::collection::vec((-20i64..20).prop_map(Shape::Quiet), 1..4),
        width in 300i64..800,
        dist in 20i64..200,
        hedge in any::<bool>(),
        seed in any::<u64>(),
    ) {
        // a one-sided drop through the stop: the take-profit is never reached and must be
        // cancelled by the engine
        let mut shapes = vec![Shape::Flat];
        shapes.push(Shape::Gap(-width));
        shapes.extend(quiet);
        shapes.extend([Shape::Flat; 3]);
        let cfg = GenConfig { hedge, stream: false, poll_ms: 2000, latency_ms: 20, intrabar: ocosim::exchange::IntrabarPolicy::Ohlc };
        let sig = GenSignal { bar: 0, offset_ms: 1_000, action: Action::Buy, sl: dist, tp: dist, qty: 5 };
        let f = Faults { cancel_unknown_ppm: 1_000_000, ..Faults::default() };
        let mut c = case(bars_from(&shapes, 10_000), &[sig], &cfg, f, seed);
        c.legacy_api = true;
        // the live profiles need hedge mode (they always send positionSide)
        let profile = "tradeengine-v1.1.80";
        let c = CaseSpec { hedge: true, ..c };
        let r = scenario(&c, profile, &[]).run();
        prop_assert!(
            r.violations.iter().any(|v| v.invariant == Invariant::Orphan),
            "{}", show(&r.violations)
        );
    }
}

proptest! {
    #![proptest_config(cases(64))]

    /// Planted bug 3: a poll slower than the whipsaw in one-way mode, legs without reduceOnly
    /// (nor closePosition / GTE_GTC): the survivor fires after its sibling closed the position
    /// and opens a reverse one. The checker must see the flip.
    #[test]
    fn planted_slow_poll_without_reduce_only_is_caught(
        width in 300i64..1500,
        dist in 20i64..150,
        buy in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let shapes = [Shape::Flat, Shape::Whipsaw(width), Shape::Flat, Shape::Flat];
        let cfg = GenConfig { hedge: false, stream: false, poll_ms: 180_000, latency_ms: 20, intrabar: ocosim::exchange::IntrabarPolicy::Ohlc };
        let sig = GenSignal { bar: 0, offset_ms: 1_000, action: if buy { Action::Buy } else { Action::Sell }, sl: dist, tp: dist, qty: 5 };
        let c = case(bars_from(&shapes, 10_000), &[sig], &cfg, Faults::default(), seed);
        let planted = [("leg_close_position", "false"), ("leg_tif_gte_gtc", "false"), ("leg_reduce_only", "false")];
        let r = scenario(&c, "reference", &planted).run();
        prop_assert!(
            r.violations.iter().any(|v| v.invariant == Invariant::NoFlip),
            "{}", show(&r.violations)
        );
        // the same story with the reference as shipped holds every invariant
        let ok = scenario(&c, "reference", &[]).run();
        prop_assert!(ok.violations.is_empty(), "{}", show(&ok.violations));
    }
}

/// Proptest shrinks the planted -1106 bug to a small case: a handful of bars and one signal.
#[test]
fn planted_bug_shrinks_to_a_small_case() {
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let strat = (
        prop::collection::vec(shape(), 3..40),
        signals(40, 5),
        any::<u64>(),
    );
    let result = runner.run(&strat, |(shapes, sigs, seed)| {
        let cfg = GenConfig {
            hedge: true,
            stream: false,
            poll_ms: 2000,
            latency_ms: 10,
            intrabar: ocosim::exchange::IntrabarPolicy::Ohlc,
        };
        let mut c = case(
            bars_from(&shapes, 10_000),
            &sigs,
            &cfg,
            Faults::default(),
            seed,
        );
        c.legacy_api = true;
        let r = scenario(
            &c,
            "tradeengine-v1.1.80",
            &[("send_reduce_only_with_position_side", "true")],
        )
        .run();
        prop_assert!(
            !r.violations
                .iter()
                .any(|v| v.invariant == Invariant::ReduceOnlyMode),
            "found"
        );
        Ok(())
    });
    match result {
        Err(TestError::Fail(_, (shapes, sigs, _))) => {
            println!("shrunk to {} bars and {} signals", shapes.len(), sigs.len());
            assert!(shapes.len() <= 5, "shrunk to {} bars", shapes.len());
            assert_eq!(sigs.len(), 1, "shrunk to {} signals", sigs.len());
        }
        other => panic!("the checker must find the planted bug, got {other:?}"),
    }
}

/// Results do not depend on the thread count: the same explore batch on 1 and 2 threads.
#[test]
fn one_thread_and_many_give_the_same_findings() {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut cfg = ocosim::explore::ExploreConfig::new("tradeengine-v1.1.80", 42, 128);
            cfg.batch = 64;
            cfg.shrink = false;
            let res = ocosim::explore::explore(&cfg, &|_, _| false, &|_, _| {});
            res.findings
                .iter()
                .map(|f| (f.key.clone(), f.first_case, f.count))
                .collect::<Vec<_>>()
        })
    };
    let one = run(1);
    assert!(!one.is_empty(), "v1.1.80 has findings in 128 cases");
    assert_eq!(one, run(2));
}

/// Idle-poll skipping is invisible on `sim explore`'s own cases too (real windows included),
/// under every profile: the same log with skipping on and off.
#[test]
fn skipping_is_invisible_on_explore_cases() {
    let files: Vec<std::path::PathBuf> = [
        "AVAXUSDT/1m/AVAXUSDT-1m-2026-02.csv",
        "NEARUSDT/1m/NEARUSDT-1m-2025-02.csv",
    ]
    .iter()
    .map(|f| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/binance-um/klines")
            .join(f)
    })
    .collect();
    let pools = ocosim::explore::case::load_pools(&files).unwrap();
    let n: u64 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    for profile in PROFILES {
        for i in 0..n {
            let c = ocosim::explore::draw_case(5, i, &pools, profile);
            let sc = c.scenario(profile, &[]).unwrap();
            let mut no_skip = sc.clone();
            no_skip.sim.skip_idle_polls = false;
            let (a, b) = (
                sc.run().output.log.to_jsonl(),
                no_skip.run().output.log.to_jsonl(),
            );
            if a != b {
                let k = a
                    .lines()
                    .zip(b.lines())
                    .position(|(x, y)| x != y)
                    .unwrap_or(0);
                panic!(
                    "{profile} case {i}: logs differ at line {k}:\nskip:    {}\nno skip: {}\n{}",
                    a.lines().nth(k).unwrap_or("<end>"),
                    b.lines().nth(k).unwrap_or("<end>"),
                    replay_file(&c, profile, &[])
                );
            }
        }
    }
}
