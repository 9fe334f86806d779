//! `sim explore` end to end: findings against the live engine's profiles are shrunk and written
//! as scenario files that the real `sim run` replays to the same violation.

use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ocosim-explore-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn findings_replay_to_the_same_violation() {
    for profile in [
        "tradeengine-v1.1.78",
        "tradeengine-v1.1.80",
        "tradeengine-2026-08",
    ] {
        let out = tmp(profile);
        let o = Command::new(env!("CARGO_BIN_EXE_sim"))
            .args([
                "explore",
                "--profile",
                profile,
                "--cases",
                "512",
                "--seed",
                "1",
                "--no-real",
            ])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(1),
            "{profile}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("findings.json")).unwrap())
                .unwrap();
        let findings = json["findings"].as_array().unwrap();
        assert!(!findings.is_empty(), "{profile} has findings");
        for f in findings {
            let file = out.join(f["file"].as_str().unwrap());
            let inv = f["invariant"].as_str().unwrap();
            let r = tmp(&format!("{profile}-replay"));
            let o = Command::new(env!("CARGO_BIN_EXE_sim"))
                .arg("run")
                .arg(&file)
                .arg("--out")
                .arg(&r)
                .arg("--quiet")
                .output()
                .unwrap();
            assert_eq!(
                o.status.code(),
                Some(1),
                "{}: {}",
                file.display(),
                String::from_utf8_lossy(&o.stdout)
            );
            let s: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(r.join("summary.json")).unwrap())
                    .unwrap();
            assert!(
                s["violations_by_invariant"][inv].as_u64().unwrap_or(0) > 0,
                "{}: replay lacks `{inv}`: {}",
                file.display(),
                s["violations_by_invariant"]
            );
            // shrunk findings are small (signals + manual closes + acts behind the engine's
            // back: a lost leg's story can need a few of each)
            let after = f["size_after"].as_array().unwrap();
            assert!(
                after[1].as_u64().unwrap() <= 8,
                "{}: {after:?}",
                file.display()
            );
            let _ = std::fs::remove_dir_all(&r);
        }
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn explore_is_deterministic_for_a_seed() {
    let run = |name: &str| {
        let out = tmp(name);
        let o = Command::new(env!("CARGO_BIN_EXE_sim"))
            .args([
                "explore",
                "--profile",
                "tradeengine-2026-08",
                "--cases",
                "256",
                "--seed",
                "9",
                "--no-real",
                "--no-shrink",
            ])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("findings.json")).unwrap())
                .unwrap();
        let _ = std::fs::remove_dir_all(&out);
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["key"].as_str().unwrap().to_string(),
                    f["first_case"].as_u64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run("det-a"), run("det-b"));
}

#[test]
fn bad_profile_is_exit_2() {
    let o = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["explore", "--profile", "nope", "--cases", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown profile `nope`"));
}

fn sim(cwd: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::fs::create_dir_all(cwd).unwrap();
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap()
}

/// Every file of a report folder, by name.
fn files(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Four parts of a campaign, merged, give the findings (every file, byte for byte) one run gives:
/// on v1.1.80 and on the 2026-08 snapshot, whose `--unmask` run with the W10 masking set
/// prefers W10's switch as a cause.
#[test]
fn four_parts_merged_equal_one_run() {
    for (profile, cases, seed) in [
        ("tradeengine-v1.1.80", "300", "5"),
        ("tradeengine-2026-08", "64", "6"),
    ] {
        four_parts_merged_equal_one_run_of(profile, cases, seed);
    }
}

fn four_parts_merged_equal_one_run_of(profile: &str, cases: &str, seed: &str) {
    let common = [
        "explore",
        "--profile",
        profile,
        "--cases",
        cases,
        "--seed",
        seed,
        "--no-real",
        "--unmask",
    ];
    let one = tmp(&format!("part-one-{profile}"));
    let o = sim(&one, &[&common[..], &["--out", "out"]].concat());
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let many = tmp(&format!("part-many-{profile}"));
    let mut parts = Vec::new();
    for k in 1..=4 {
        let p = format!("p{k}");
        let part = format!("{k}/4");
        let o = sim(
            &many,
            &[&common[..], &["--partition", &part, "--out", &p]].concat(),
        );
        assert!(o.status.code() == Some(1) || o.status.code() == Some(0));
        parts.push(p);
    }
    // a part is only a share: its own findings.json says so
    let p1: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(many.join("p1/findings.json")).unwrap())
            .unwrap();
    assert_eq!(p1["partition"]["n"], 4);
    let mut args = vec!["explore", "merge"];
    args.extend(parts.iter().map(|s| s.as_str()));
    args.extend(["--out", "out"]);
    let o = sim(&many, &args);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (a, b) = (files(&one.join("out")), files(&many.join("out")));
    assert!(a.len() > 5, "findings written: {:?}", a.keys());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{name} differs:\n--- one run\n{}\n--- merged\n{}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&b[name])
        );
    }
    if profile == "tradeengine-2026-08" {
        let md = String::from_utf8_lossy(&a["findings.md"]);
        assert!(
            md.contains("W10 (masked by `leg_tif_gte_gtc + cancel_endpoint_for_algo"),
            "{md}"
        );
    }
    // a missing part and a stranger are refused with exit 2
    let o = sim(&many, &["explore", "merge", "p1", "p2", "p3", "--out", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("part 4/4 is missing"));
    let o = sim(
        &many,
        &["explore", "merge", "p1", "p1", "p3", "p4", "--out", "x"],
    );
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&one);
    let _ = std::fs::remove_dir_all(&many);
}

#[test]
fn bad_partition_is_exit_2() {
    for (p, extra) in [
        ("0/4", "--cases"),
        ("5/4", "--cases"),
        ("a/b", "--cases"),
        ("1/4", ""),
    ] {
        let mut args = vec!["explore", "--no-real", "--partition", p];
        if !extra.is_empty() {
            args.extend([extra, "10"]);
        }
        let o = Command::new(env!("CARGO_BIN_EXE_sim"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{p}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("--partition"),
            "{p}"
        );
    }
}

/// Planted bugs: each switch the README's table marks as a bug, set alone on `reference`, is found
/// within a few cases, and every finding names exactly that switch (attribution by difference).
#[test]
fn planted_bugs_are_found_and_named_by_their_switch() {
    for (sets, cases, w) in [
        (&["position_side_param=always"][..], "32", ""),
        (&["send_reduce_only_with_position_side=true"][..], "32", ""),
        (&["monitor_restarts=false"][..], "64", "W3"),
        (&["individual_fallback=any_failure_logged"][..], "32", "W2"),
        (&["reconcile_on_restart=off"][..], "64", "W11"),
        (&["client_ids=none"][..], "192", "W13"),
    ] {
        let out = tmp(&format!("planted-{}", sets[0]));
        let mut args = vec![
            "explore",
            "--profile",
            "reference",
            "--cases",
            cases,
            "--seed",
            "1",
            "--no-real",
        ];
        for s in sets {
            args.extend(["--set", s]);
        }
        let o = Command::new(env!("CARGO_BIN_EXE_sim"))
            .args(&args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(1),
            "{sets:?}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("findings.json")).unwrap())
                .unwrap();
        let findings = json["findings"].as_array().unwrap();
        let want: Vec<&str> = sets.iter().map(|s| s.split('=').next().unwrap()).collect();
        assert!(!findings.is_empty(), "{sets:?}");
        for f in findings {
            let cause: Vec<&str> = f["cause"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            assert_eq!(cause, want, "{sets:?}: {}", f["key"]);
            let ws: Vec<&str> = f["weak_points"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            assert_eq!(ws, if w.is_empty() { vec![] } else { vec![w] }, "{sets:?}");
        }
        // one finding per invariant: keys are distinct
        let mut keys: Vec<&str> = findings
            .iter()
            .map(|f| f["key"].as_str().unwrap())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), findings.len());
        let md = std::fs::read_to_string(out.join("findings.md")).unwrap();
        assert!(md.contains(&format!("`{}`", want[0])), "{md}");
        // found / expected: the planted switch's weak point is the one expected, and found
        if !w.is_empty() {
            assert!(
                md.contains(&format!("**found / expected 1/1; found: {w}**")),
                "{md}"
            );
        }
        let _ = std::fs::remove_dir_all(&out);
    }
}

/// Found / expected: a planted bug that GTE_GTC legs hide is listed as found only unmasked, with
/// the switch that masks it, in `findings.md` and on standard output.
#[test]
fn found_expected_names_the_masking_switch() {
    let out = tmp("planted-masked-w4");
    let o = sim(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &[
            "explore",
            "--profile",
            "reference",
            "--set",
            "cancel_pair_works=false",
            "--unmask",
            "--cases",
            "128",
            "--seed",
            "1",
            "--no-real",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    let line = "found / expected 1/1; found only unmasked: W4 (masked by `leg_tif_gte_gtc`)";
    assert!(stdout.contains(line), "{stdout}");
    let md = std::fs::read_to_string(out.join("findings.md")).unwrap();
    assert!(md.contains(&format!("**{line}**")), "{md}");
    let _ = std::fs::remove_dir_all(&out);
}

/// W10 on the 2026-08 snapshot hides behind GTE_GTC and W5's two halves; `--unmask` flips the
/// three together and tries W10's switch first, so the violation an exhausted cancel causes is its
/// own finding (masked by the set): found / expected credits W10, names the plain finding whose
/// switch also explains it, and the finding's file replays to the violation, which
/// `exhausted_cancel_drops_pair=false` makes go away.
#[test]
fn unmask_finds_w10_behind_its_masking_set() {
    let out = tmp("unmask-w10");
    let o = sim(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &[
            "explore",
            "--profile",
            "tradeengine-2026-08",
            "--unmask",
            "--cases",
            "64",
            "--seed",
            "6",
            "--no-real",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    let set = "leg_tif_gte_gtc + cancel_endpoint_for_algo + completion_close_step";
    let w10 = format!("W10 (masked by `{set}`, finding ");
    let line = stdout
        .lines()
        .find(|l| l.contains("found / expected"))
        .unwrap_or("");
    let unmasked = line.split("found only unmasked: ").nth(1).unwrap_or("");
    assert!(unmasked.contains(&w10), "{stdout}");
    assert!(
        stdout.contains("; an alternative cause of finding "),
        "{stdout}"
    );
    let md = std::fs::read_to_string(out.join("findings.md")).unwrap();
    assert!(md.contains(&w10), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("findings.json")).unwrap()).unwrap();
    let found: Vec<&serde_json::Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["cause"][0] == "exhausted_cancel_drops_pair")
        .collect();
    assert!(!found.is_empty(), "{md}");
    for f in found {
        assert_eq!(f["masked_by"], set);
        assert_eq!(f["weak_points"][0], "W10");
        let key = f["key"].as_str().unwrap();
        assert!(key.ends_with(&format!("(masked by {set})")), "{key}");
        let inv = f["invariant"].as_str().unwrap();
        // the story names the drop after the exhausted cancel, not the monitor's exit it led to
        let story = f["story"].as_str().unwrap_or("");
        assert!(
            story.contains("engine decision: pair ") || story.contains("engine decision: note: "),
            "{key}: {story}"
        );
        assert!(
            !story.contains("engine decision: monitor stopped"),
            "{key}: {story}"
        );
        let file = out.join(f["file"].as_str().unwrap());
        for (extra, want) in [
            (None, true),
            (Some("exhausted_cancel_drops_pair=false"), false),
        ] {
            let r = tmp("unmask-w10-replay");
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_sim"));
            cmd.arg("run")
                .arg(&file)
                .arg("--out")
                .arg(&r)
                .arg("--quiet");
            if let Some(s) = extra {
                cmd.args(["--set", s]);
            }
            let o = cmd.output().unwrap();
            let s: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(r.join("summary.json")).unwrap())
                    .unwrap();
            let n = s["violations_by_invariant"][inv].as_u64().unwrap_or(0);
            assert_eq!(
                n > 0,
                want,
                "{key} {extra:?}: {}",
                s["violations_by_invariant"]
            );
            if want {
                assert_eq!(o.status.code(), Some(1), "{key}");
            }
            let _ = std::fs::remove_dir_all(&r);
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}
