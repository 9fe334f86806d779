//! Mutated shipped scenarios never panic: every scenario under `scenarios/` (and the regression
//! files) is mutated by proptest (extreme numbers in every numeric field, truncation, byte flips,
//! deleted keys, extreme values for keys the file does not write) and pushed through the same
//! path as `sim run`, in process: read → parse → bounds → build (data through one shared cache)
//! → run → summary. Each case must end as exit 0 or 1 (it ran) or 2 (refused with a one-line
//! error naming the scenario file or a data file); a panic fails the test and proptest shrinks
//! it.
//!
//! `PROPTEST_CASES` sets the number of cases (default 64). To keep a case fast the window a
//! mutant may run is at most a few days: a mutant whose window is longer is cut to its first
//! three days before it runs (its parsing and validation are those of the whole file).

use ocosim::scenario::{self, DataCache};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn shipped() -> &'static Vec<(PathBuf, String)> {
    static S: OnceLock<Vec<(PathBuf, String)>> = OnceLock::new();
    S.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut v = Vec::new();
        for dir in ["scenarios", "tests/regressions"] {
            let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            files.sort();
            for f in files {
                let t = std::fs::read_to_string(&f).unwrap();
                v.push((f, t));
            }
        }
        assert!(v.len() >= 5);
        v
    })
}

fn cache() -> &'static DataCache {
    static C: OnceLock<DataCache> = OnceLock::new();
    C.get_or_init(DataCache::default)
}

/// Values that break naive code: signs, zero, the ends of i64/u32/u64/Decimal, tiny decimals,
/// floats, dates that do not exist, text.
const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "1",
    "-9223372036854775808",
    "9223372036854775807",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "\"79228162514264337593543950335\"",
    "\"-79228162514264337593543950335\"",
    "\"0.0000000000000000000000000001\"",
    "\"0\"",
    "\"-1\"",
    "\"1\"",
    "\"0.9999999999\"",
    "\"10\"",
    "\"1e308\"",
    "\"NaN\"",
    "1e308",
    "-0.0",
    "nan",
    "inf",
    "\"2026-02-30\"",
    "\"9999-12-31T23:59:59.999\"",
    "\"1970-01-01\"",
    "\"\"",
    "\"../..\"",
    "true",
    "[]",
    "{}",
    "86400001",
    "1000001",
    // the ends of the accepted ranges: these load, and the run must survive them
    "86400000",
    "1000000",
    "125",
    "2592000000",
    "\"0.99\"",
    "\"1000000000\"",
    "\"1000000000000\"",
    "\"0.00000001\"",
    "\"86400\"",
];

/// Keys a file may leave out, each with a section; a mutant may add one with an extreme value.
const EXTRA_KEYS: &[(&str, &str)] = &[
    ("latency", "jitter_ms"),
    ("latency", "timeout_ms"),
    ("latency", "stream_ms"),
    ("engine", "poll_interval_ms"),
    ("engine", "error_backoff_ms"),
    ("exchange", "leverage"),
    ("exchange", "initial_balance"),
    ("exchange", "maker_fee"),
    ("exchange", "slippage_ticks"),
    ("exchange.filters", "tick_size"),
    ("exchange.filters", "step_size"),
    ("exchange.filters", "min_notional"),
    ("exchange.filters", "max_qty"),
    ("faults", "timeout_ppm"),
    ("faults", "stream_drop_ppm"),
    ("faults", "stream_delay_ms"),
    ("faults", "restarts_ms"),
    ("invariants", "reaction_ms"),
    ("engine.switches", "placement_retries"),
    ("engine.switches", "retry_base_delay_ms"),
    ("engine.switches", "confidence_floor"),
    ("engine.switches", "stream_resync_ms"),
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the n-th number (integer or quoted decimal) with an extreme.
    Number(usize, usize),
    /// Keep the first `n` per-mille of the bytes.
    Truncate(u16),
    /// XOR the byte at `n` per-mille with a mask.
    Flip(u16, u8),
    /// Delete the n-th `key = value` line.
    DeleteKey(usize),
    /// Add `key = extreme` in the key's section.
    Add(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        5 => (any::<usize>(), 0..EXTREMES.len()).prop_map(|(a, b)| Mutation::Number(a, b)),
        1 => (0u16..1000).prop_map(Mutation::Truncate),
        2 => (0u16..1000, 1u8..=255).prop_map(|(a, b)| Mutation::Flip(a, b)),
        2 => any::<usize>().prop_map(Mutation::DeleteKey),
        3 => (0..EXTRA_KEYS.len(), 0..EXTREMES.len()).prop_map(|(a, b)| Mutation::Add(a, b)),
    ]
}

/// Byte ranges of the numbers in `text`: bare integers/floats after `=` or in arrays, and
/// quoted decimals (`"0.015"`); comments are skipped.
fn numbers(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_comment = false;
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            in_comment = false;
        }
        if c == b'#' && !in_comment {
            in_comment = true;
        }
        if in_comment {
            i += 1;
            continue;
        }
        let quoted = c == b'"'
            && b.get(i + 1)
                .is_some_and(|x| x.is_ascii_digit() || *x == b'-');
        let bare = (c.is_ascii_digit() || c == b'-')
            && i > 0
            && matches!(b[i - 1], b' ' | b'[' | b',' | b'=');
        if quoted {
            let end = text[i + 1..].find('"').map(|e| i + 1 + e + 1);
            if let Some(end) = end {
                let inner = &text[i + 1..end - 1];
                // decimals only: dates and times contain '-' after a digit or ':'
                if inner
                    .bytes()
                    .all(|x| x.is_ascii_digit() || x == b'.' || x == b'-')
                    && !inner[1..].contains('-')
                {
                    out.push((i, end));
                }
                i = end;
                continue;
            }
        } else if bare {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'_' || b[j] == b'.') {
                j += 1;
            }
            out.push((i, j));
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

fn apply(text: &str, m: &Mutation) -> Vec<u8> {
    match *m {
        Mutation::Number(n, e) => {
            let nums = numbers(text);
            if nums.is_empty() {
                return text.as_bytes().to_vec();
            }
            let (a, b) = nums[n % nums.len()];
            format!("{}{}{}", &text[..a], EXTREMES[e], &text[b..]).into_bytes()
        }
        Mutation::Truncate(pm) => {
            let n = text.len() * pm as usize / 1000;
            text.as_bytes()[..n].to_vec()
        }
        Mutation::Flip(pm, mask) => {
            let mut v = text.as_bytes().to_vec();
            if !v.is_empty() {
                let i = (v.len() * pm as usize / 1000).min(v.len() - 1);
                v[i] ^= mask;
            }
            v
        }
        Mutation::DeleteKey(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let keys: Vec<usize> = (0..lines.len())
                .filter(|&i| !lines[i].trim_start().starts_with('#') && lines[i].contains('='))
                .collect();
            if keys.is_empty() {
                return text.as_bytes().to_vec();
            }
            let k = keys[n % keys.len()];
            let kept: Vec<&str> = lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != k)
                .map(|(_, l)| *l)
                .collect();
            (kept.join("\n") + "\n").into_bytes()
        }
        Mutation::Add(k, e) => {
            let (section, key) = EXTRA_KEYS[k];
            let line = format!("{key} = {}", EXTREMES[e]);
            let header = format!("[{section}]");
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            match lines.iter().position(|l| l.trim() == header) {
                Some(i) => lines.insert(i + 1, line),
                None => {
                    lines.push(header);
                    lines.push(line);
                }
            }
            (lines.join("\n") + "\n").into_bytes()
        }
    }
}

/// The days a mutant may run: its window cut to three days from its start.
const RUN_DAYS_MS: i64 = 3 * 86_400_000;

/// `sim run` in process: the exit code it would give.
fn exit_code(path: &Path, bytes: &[u8]) -> i32 {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return 2; // `read_text` refuses it: "is not UTF-8"
    };
    let check = |e: &scenario::ScenarioError| {
        let line = e.to_string();
        assert!(!line.contains('\n'), "one line: {line}");
        assert!(!line.contains(":0:"), "no line 0: {line}");
    };
    let raw = match scenario::parse(path, text) {
        Ok(r) => r,
        Err(e) => {
            check(&e);
            return 2;
        }
    };
    let mut sc = match scenario::build_cached(path, text, raw, cache()) {
        Ok(s) => s,
        Err(e) => {
            check(&e);
            return 2;
        }
    };
    // keep the run short: only the first days of the window run
    if let Some(first) = sc.bars.first().map(|b| b.t) {
        let keep: Vec<_> = sc
            .bars
            .iter()
            .copied()
            .take_while(|b| b.t < first + RUN_DAYS_MS)
            .collect();
        if keep.len() < sc.bars.len() {
            sc.bars = keep.into();
        }
    }
    let r = sc.run();
    let s = ocosim::report::summarize_run(&sc, &r);
    if s.violations == 0 {
        0
    } else {
        1
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    #[test]
    fn mutated_shipped_scenarios_never_panic(
        which in any::<usize>(),
        muts in prop::collection::vec(mutation(), 1..4),
    ) {
        let files = shipped();
        let (path, text) = &files[which % files.len()];
        let mut bytes = text.as_bytes().to_vec();
        for m in &muts {
            let t = String::from_utf8_lossy(&bytes).to_string();
            bytes = apply(&t, m);
        }
        let code = exit_code(path, &bytes);
        if std::env::var_os("MUTATION_STATS").is_some() {
            eprintln!("mutation-exit {code} {} {muts:?}", path.file_name().unwrap().to_string_lossy());
        }
        prop_assert!(matches!(code, 0..=2));
    }
}

#[test]
fn every_shipped_scenario_still_loads_unmutated() {
    for (path, text) in shipped() {
        let raw = scenario::parse(path, text).unwrap();
        scenario::build_cached(path, text, raw, cache())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn the_mutator_finds_numbers_and_rewrites_them() {
    let t = "a = 5\nb = \"0.015\"\nc = [1, 2]\nd = \"2026-02-01\" # 7\n";
    let n = numbers(t);
    let got: Vec<&str> = n.iter().map(|&(a, b)| &t[a..b]).collect();
    assert_eq!(got, ["5", "\"0.015\"", "1", "2"]);
    let m = apply(t, &Mutation::Number(1, 8));
    assert!(String::from_utf8(m)
        .unwrap()
        .contains("b = \"79228162514264337593543950335\""));
}
