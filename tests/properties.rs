//! The property-test gate: generated kline paths, signal streams, configurations and faults.
//!
//! Case counts: `PROPTEST_CASES` (CI sets 64; run more locally). Failures are shrunk by proptest
//! and persisted under `tests/proptest-regressions/`.

mod common;

use common::*;
use ocosim::invariants::Invariant;
use ocosim::sim::Faults;
use proptest::prelude::*;

fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases: n,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct("tests/proptest-regressions/properties.txt"),
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

proptest! {
    #![proptest_config(cases(64))]

    /// The same case twice, and with idle-poll skipping on and off, gives identical event logs;
    /// no generated input panics under any profile.
    #[test]
    fn runs_are_deterministic_and_skipping_is_invisible(
        shapes in prop::collection::vec(shape(), 3..30),
        sigs in signals(30),
        cfg in config(),
        profile in 0usize..4,
        seed in any::<u64>(),
    ) {
        let bars = bars_from(&shapes, 10_000);
        let sc = scenario(PROFILES[profile], &[], bars, &sigs, &cfg, Faults::default(), seed);
        let a = sc.run();
        let b = sc.run();
        prop_assert_eq!(a.output.log.to_jsonl(), b.output.log.to_jsonl());
        let mut no_skip = sc.clone();
        no_skip.sim.skip_idle_polls = false;
        let c = no_skip.run();
        prop_assert_eq!(a.output.log.to_jsonl(), c.output.log.to_jsonl());
        prop_assert_eq!(a.violations, c.violations);
    }

    /// The books balance to the last Decimal digit under every profile, with faults.
    #[test]
    fn books_always_balance(
        shapes in prop::collection::vec(shape(), 3..30),
        sigs in signals(30),
        cfg in config(),
        f in faults(),
        profile in 0usize..4,
        seed in any::<u64>(),
    ) {
        let bars = bars_from(&shapes, 10_000);
        let sc = scenario(PROFILES[profile], &[], bars, &sigs, &cfg, f, seed);
        let r = sc.run();
        let bad: Vec<_> = r.violations.iter().filter(|v| v.invariant == Invariant::BooksBalance).collect();
        prop_assert!(bad.is_empty(), "{:?}", bad);
    }

    /// The planted -1106 bug (reduceOnly beside positionSide in hedge mode) is always caught.
    #[test]
    fn planted_reduce_only_bug_is_caught(
        shapes in prop::collection::vec(shape(), 3..12),
        sig in signals(3),
        latency in 0i64..100,
        seed in any::<u64>(),
    ) {
        let bars = bars_from(&shapes, 10_000);
        let cfg = GenConfig { hedge: true, stream: false, poll_ms: 2000, latency_ms: latency, intrabar: ocosim::exchange::IntrabarPolicy::Ohlc };
        let sc = scenario("tradeengine-v1.1.80", &[("send_reduce_only_with_position_side", "true")], bars, &sig, &cfg, Faults::default(), seed);
        let r = sc.run();
        prop_assert!(
            r.violations.iter().any(|v| v.invariant == Invariant::ReduceOnlyMode && v.message.contains("-1106")),
            "{:?}", r.violations
        );
    }
}
