//! The safety net of the cost-per-trade work (#18): every shipped scenario (`scenarios/*.toml`),
//! run by the real binary, must give the same `summary.json` and byte-identical `events.jsonl`,
//! `orders.csv` and `fills.csv` (compared by SHA-256) as the golden files in `tests/golden/`,
//! which were generated from the code before any of that work.
//!
//! Only `run.version` is left out of the comparison (it changes with every release); the data
//! paths in `run.data` are stable because the scenarios are run as `scenarios/<name>.toml` from
//! the crate root. A deliberate change of output is re-blessed with
//! `OCOSIM_BLESS=1 cargo test --release --test golden_summaries` and reviewed in the diff.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

const HASHED: [&str; 3] = ["events.jsonl", "orders.csv", "fills.csv"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn scenarios() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs one scenario and returns what the golden file holds for it.
fn observed(stem: &str, out: &Path, extra: &[&str]) -> Value {
    let _ = std::fs::remove_dir_all(out);
    let st = Command::new(env!("CARGO_BIN_EXE_sim"))
        .current_dir(root())
        .args(["run", &format!("scenarios/{stem}.toml"), "--quiet", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        matches!(st.status.code(), Some(0 | 1)),
        "{stem}: exit {:?}: {}",
        st.status.code(),
        String::from_utf8_lossy(&st.stderr)
    );
    let mut summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    summary["run"]
        .as_object_mut()
        .expect("summary.run is an object")
        .remove("version");
    let mut hashes = serde_json::Map::new();
    for f in HASHED {
        let bytes = std::fs::read(out.join(f)).unwrap();
        hashes.insert(f.into(), json!(hex(&Sha256::digest(&bytes))));
    }
    json!({ "summary": summary, "sha256": hashes })
}

#[test]
fn every_shipped_scenario_matches_its_golden_summary_and_hashes() {
    let bless = std::env::var_os("OCOSIM_BLESS").is_some();
    let all = scenarios();
    assert!(all.len() >= 10, "the shipped scenarios are found");
    let mut failures = Vec::new();
    for p in &all {
        let stem = p.file_stem().unwrap().to_str().unwrap().to_string();
        let out = std::env::temp_dir().join(format!("ocosim-golden-{}-{stem}", std::process::id()));
        let got = observed(&stem, &out, &[]);
        let _ = std::fs::remove_dir_all(&out);
        let golden = root().join("tests/golden").join(format!("{stem}.json"));
        if bless {
            let mut text = serde_json::to_string_pretty(&got).unwrap();
            text.push('\n');
            std::fs::write(&golden, text).unwrap();
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&golden) else {
            failures.push(format!(
                "{stem}: no golden file {} (bless it with OCOSIM_BLESS=1)",
                golden.display()
            ));
            continue;
        };
        let want: Value = serde_json::from_str(&text).unwrap();
        if want != got {
            let diff: Vec<String> = ["summary", "sha256"]
                .iter()
                .flat_map(|k| match (&want[k], &got[k]) {
                    (Value::Object(a), Value::Object(b)) => a
                        .iter()
                        .filter(|(f, v)| b.get(*f) != Some(*v))
                        .map(|(f, v)| {
                            format!(
                                "{k}.{f}: want {v}, got {}",
                                b.get(f).unwrap_or(&Value::Null)
                            )
                        })
                        .collect(),
                    _ => vec![format!("{k}: shape differs")],
                })
                .collect();
            failures.push(format!("{stem}: {}", diff.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn lines_of(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `--events trades` / `violations` keep a subset of the lines of `all`, byte for byte, and the
/// other report files do not change.
#[test]
fn events_levels_keep_a_subset_of_the_full_log() {
    for (stem, level) in [
        ("tradeengine-v1.1.78-naked", "trades"),
        ("tradeengine-v1.1.78-naked", "violations"),
        ("oco-long-short-avax", "violations"),
    ] {
        let base = std::env::temp_dir().join(format!("ocosim-level-{}-{stem}", std::process::id()));
        let all = observed(stem, &base.join("all"), &[]);
        let sub = observed(stem, &base.join(level), &["--events", level]);
        assert_eq!(all["summary"], sub["summary"], "{stem} {level}");
        assert_eq!(all["sha256"]["fills.csv"], sub["sha256"]["fills.csv"]);
        let full = lines_of(&base.join("all"));
        let part = lines_of(&base.join(level));
        let mut it = full.iter();
        for l in &part {
            assert!(
                it.any(|f| f == l),
                "{stem} {level}: a line not in order in `all`: {l}"
            );
        }
        match level {
            "trades" => {
                let fills = full
                    .iter()
                    .filter(|l| l.contains("\"exec_type\":\"TRADE\""))
                    .count();
                let kept = part
                    .iter()
                    .filter(|l| l.contains("\"exec_type\":\"TRADE\""))
                    .count();
                assert_eq!(fills, kept, "every fill is kept");
                assert!(part.len() < full.len() && fills > 0);
            }
            _ => {
                let violations = sub["summary"]["violations"].as_u64().unwrap();
                assert_eq!(
                    part.is_empty(),
                    violations == 0,
                    "{stem}: {} lines",
                    part.len()
                );
                assert!(part.len() < full.len());
            }
        }
        let _ = std::fs::remove_dir_all(&base);
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_sim"))
        .current_dir(root())
        .args(["run", "scenarios/one-way-near.toml", "--events", "some"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
