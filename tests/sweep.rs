//! `sim sweep` / `sim merge` through the real binary: a partitioned sweep merged back equals the
//! whole sweep, and the result does not depend on the thread count.

use std::path::{Path, PathBuf};
use std::process::Command;

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sim"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ocosim-sweep-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn sweep_file(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/oco-long-short-avax.toml");
    let p = dir.join("grid.toml");
    std::fs::write(
        &p,
        format!(
            "name = \"grid\"\nbase = \"{}\"\n[grid]\n\"engine.poll_interval_ms\" = [500, 5000]\n\"latency.request_ms\" = [10, 400]\n\"engine.profile\" = [\"reference\", \"tradeengine-2026-08\"]\n[heatmap]\nx = \"engine.poll_interval_ms\"\ny = \"latency.request_ms\"\n",
            base.display()
        ),
    )
    .unwrap();
    p
}

fn run(args: &[&str], out: &Path) -> String {
    let o = sim().args(args).arg("--out").arg(out).output().unwrap();
    assert!(
        o.status.code().unwrap() <= 1,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read_to_string(out.join("sweep.csv")).unwrap()
}

#[test]
fn partitions_merge_back_to_the_whole_sweep_on_any_thread_count() {
    let dir = tmp("grid");
    let f = sweep_file(&dir);
    let fs = f.to_str().unwrap();
    let whole = run(&["sweep", fs, "--threads", "1"], &dir.join("whole"));
    assert_eq!(whole.lines().count(), 1 + 8, "{whole}");
    let two = run(&["sweep", fs, "--threads", "2"], &dir.join("two"));
    assert_eq!(whole, two, "thread count changed the result");
    let a = run(&["sweep", fs, "--partition", "1/2"], &dir.join("a"));
    let b = run(&["sweep", fs, "--partition", "2/2"], &dir.join("b"));
    assert_eq!(a.lines().count() + b.lines().count(), 2 + 8);
    let o = sim()
        .arg("merge")
        .arg(dir.join("b/sweep.csv"))
        .arg(dir.join("a/sweep.csv"))
        .args([
            "--x",
            "engine.poll_interval_ms",
            "--y",
            "latency.request_ms",
            "--out",
        ])
        .arg(dir.join("merged"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let merged = std::fs::read_to_string(dir.join("merged/sweep.csv")).unwrap();
    assert_eq!(merged, whole);
    let html = std::fs::read_to_string(dir.join("merged/sweep.html")).unwrap();
    assert!(html.contains("<table") && !html.contains("<script"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_partition_is_exit_2() {
    let dir = tmp("bad");
    let f = sweep_file(&dir);
    let o = sim()
        .arg("sweep")
        .arg(&f)
        .args(["--partition", "3/2"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--partition `3/2`"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shipped_whipsaw_sweep_shows_flips_only_with_slow_polls() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("sweeps/whipsaw-poll-latency.toml");
    let dir = tmp("whipsaw");
    let csv = run(&["sweep", f.to_str().unwrap()], &dir);
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (poll, flips) = (col("engine.poll_interval_ms"), col("v:no-flip"));
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), 32);
    let flips_at = |p: &str| -> u64 {
        rows.iter()
            .filter(|r| r[poll] == p)
            .map(|r| r[flips].parse::<u64>().unwrap())
            .sum()
    };
    // a 1 s poll cancels the survivor before the whipsaw comes back; a 5 min poll does not
    assert_eq!(flips_at("1000"), 0, "{csv}");
    assert!(flips_at("300000") > 0, "{csv}");
    let md = std::fs::read_to_string(dir.join("sweep.md")).unwrap();
    assert!(
        md.contains(
            "| latency.request_ms \\ engine.poll_interval_ms | 1000 | 10000 | 60000 | 300000 |"
        ),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_symbols_axis_loads_each_data_set_inside_the_parallel_part_the_same_on_any_thread_count() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tmp("symbols");
    std::fs::create_dir_all(&dir).unwrap();
    let month = |s: &str| {
        root.join(format!("data/binance-um/klines/{s}/1m/{s}-1m-2026-02.csv"))
            .display()
            .to_string()
    };
    let f = dir.join("symbols.toml");
    std::fs::write(
        &f,
        format!(
            "name = \"symbols\"\nbase = \"{}\"\n[grid]\n\"data.klines\" = [[\"{}\"], [\"{}\"]]\n\"signals.random.sl_pct\" = [\"0.003\", \"0.01\", \"0.02\"]\n[heatmap]\nx = \"data.klines\"\ny = \"signals.random.sl_pct\"\n",
            root.join("scenarios/hedge-stream-link.toml").display(),
            month("LINKUSDT"),
            month("AVAXUSDT"),
        ),
    )
    .unwrap();
    let fs = f.to_str().unwrap();
    let one = run(&["sweep", fs, "--threads", "1"], &dir.join("one"));
    let two = run(&["sweep", fs, "--threads", "2"], &dir.join("two"));
    assert_eq!(one, two);
    assert_eq!(one.lines().count(), 1 + 6);
    assert!(one.contains("LINKUSDT-1m-2026-02.csv") && one.contains("AVAXUSDT-1m-2026-02.csv"));
    let head: Vec<&str> = one.lines().next().unwrap().split(',').collect();
    let err = head.iter().position(|h| *h == "error").unwrap();
    let bars = head.iter().position(|h| *h == "bars").unwrap();
    for l in one.lines().skip(1) {
        let cells: Vec<&str> = l.split(',').collect();
        assert_eq!(cells[err], "", "{l}");
        assert_eq!(cells[bars], "20160", "two weeks of 1m bars: {l}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
