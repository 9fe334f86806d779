//! `sim explore` end to end: findings against the live engine's profiles are shrunk and written
//! as scenario files that the real `sim run` replays to the same violation.

use std::path::PathBuf;
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
            // shrunk findings are small
            let after = f["size_after"].as_array().unwrap();
            assert!(
                after[1].as_u64().unwrap() <= 6,
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
