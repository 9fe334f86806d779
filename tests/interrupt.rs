//! Ctrl-C at any instant: `sim run`, `sim sweep` and `sim explore` are each stopped by SIGINT at
//! 50 seeded random instants spread over 1.6 times their measured run time, writing into a folder that
//! already holds a previous report. Afterwards the folder is the whole old report or the whole new
//! one (file lists and bytes against reference copies; for `explore`, also one of the whole
//! intermediate reports it publishes as it finds things), and no temporary folder or 0-byte file
//! remains anywhere in the tree.

#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::tree::{assert_clean, copy_tree, snapshot};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const INTERRUPTS: usize = 50;

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("interrupt-{}", std::process::id()))
        .join(name);
    if d.exists() {
        std::fs::remove_dir_all(&d).unwrap();
    }
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// xorshift64*: the instants are a pure function of the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn sim(args: &[String], out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sim"));
    c.args(args)
        .arg("--out")
        .arg(out)
        .current_dir(ROOT)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Runs to completion; returns the exit code and the wall time.
fn complete(args: &[String], out: &Path) -> (i32, Duration) {
    let t0 = Instant::now();
    let st = sim(args, out).status().unwrap();
    (st.code().expect("exit code"), t0.elapsed())
}

/// Drops the wall-clock rate (`(N cases/s)`) that explore writes into its Markdown and HTML.
fn without_rate(bytes: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(bytes).into_owned();
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(i) = rest.find(" (") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && tail[digits..].starts_with(" cases/s)") {
            rest = &tail[digits + " cases/s)".len()..];
        } else {
            out.push_str(" (");
            rest = tail;
        }
    }
    out.push_str(rest);
    out.into_bytes()
}

fn normalized(mut snap: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    for (k, v) in snap.iter_mut() {
        if k.ends_with(".md") || k.ends_with(".html") {
            *v = without_rate(v);
        }
    }
    snap
}

/// An intermediate explore report: whole by its own index (every finding listed in
/// findings.json has its scenario and CSV, nothing else is there) and each finding the same
/// (id, invariant, key) as in the finished report.
fn is_whole_partial_explore(
    snap: &BTreeMap<String, Vec<u8>>,
    new: &BTreeMap<String, Vec<u8>>,
) -> Result<(), String> {
    let json = |s: &BTreeMap<String, Vec<u8>>| -> Result<serde_json::Value, String> {
        serde_json::from_slice(s.get("findings.json").ok_or("no findings.json")?)
            .map_err(|e| format!("findings.json: {e}"))
    };
    let (part, fin) = (json(snap)?, json(new)?);
    if snap.get(".ocosim-report") != new.get(".ocosim-report") {
        return Err("marker".into());
    }
    let key = |f: &serde_json::Value| {
        (
            f["id"].as_u64(),
            f["invariant"].as_str().map(str::to_string),
            f["key"].as_str().map(str::to_string),
        )
    };
    let fin_keys: Vec<_> = fin["findings"]
        .as_array()
        .ok_or("final findings")?
        .iter()
        .map(key)
        .collect();
    let mut want: Vec<String> = [
        ".ocosim-report",
        "findings.md",
        "findings.json",
        "findings.html",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for f in part["findings"].as_array().ok_or("findings")? {
        if !fin_keys.contains(&key(f)) {
            return Err(format!("finding {:?} not in the final report", key(f)));
        }
        let file = f["file"].as_str().ok_or("file")?.to_string();
        let id = f["id"].as_u64().ok_or("id")?;
        let csv = snap
            .keys()
            .find(|k| k.ends_with(&format!("-1m-finding-{id}.csv")))
            .ok_or(format!("csv of finding {id}"))?
            .clone();
        if !String::from_utf8_lossy(&snap[&file]).contains(&csv) {
            return Err(format!("{file} does not name {csv}"));
        }
        want.push(file);
        want.push(csv);
    }
    want.sort();
    let have: Vec<String> = snap.keys().cloned().collect();
    if have != want {
        return Err(format!("files {have:?}, want {want:?}"));
    }
    Ok(())
}

/// Stops `args --out DIR` at `INTERRUPTS` instants, DIR holding the report of `old_args` each
/// time, and checks what is left.
fn interrupt_many(name: &str, args: &[&str], old_args: &[&str], seed: u64, explore: bool) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let old_args: Vec<String> = old_args.iter().map(|s| s.to_string()).collect();
    let root = scratch(name);
    let (ref_old, ref_new, out) = (root.join("ref-old"), root.join("ref-new"), root.join("out"));
    // the references are written where the test writes (explore names its folder in replay
    // commands), then moved aside
    let (old_code, _) = complete(&old_args, &out);
    assert!(old_code <= 1);
    std::fs::rename(&out, &ref_old).unwrap();
    let (code, t1) = complete(&args, &out);
    assert!(code <= 1);
    let (_, t2) = complete(&args, &out);
    std::fs::rename(&out, &ref_new).unwrap();
    let run_time = t1.max(t2);
    let old = snapshot(&ref_old);
    let new = snapshot(&ref_new);
    assert_ne!(
        normalized(old.clone()),
        normalized(new.clone()),
        "{name}: old and new reports must differ"
    );
    let (mut n_old, mut n_new, mut n_partial, mut n_130, mut n_done) = (0, 0, 0, 0, 0);
    let mut rng = Rng(seed | 1);
    let span_us = (run_time.as_micros() as u64) * 16 / 10;
    for i in 0..INTERRUPTS {
        let _ = std::fs::remove_dir_all(&out);
        copy_tree(&ref_old, &out);
        let delay = Duration::from_micros(rng.next() % span_us.max(1));
        let mut child = sim(&args, &out).spawn().unwrap();
        std::thread::sleep(delay);
        // SAFETY: a plain kill(2) to our own child.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        let st = child.wait().unwrap();
        let what = format!("{name} #{i} after {delay:?}: {st:?}");
        match st.code() {
            Some(130) => n_130 += 1,
            Some(c) if c == code => n_done += 1,
            // killed before the handler was installed (process start): nothing was written
            None => {
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(st.signal(), Some(libc::SIGINT), "{what}");
            }
            Some(_) => panic!("{what}: unexpected exit"),
        }
        let snap = snapshot(&out);
        if snap == old {
            n_old += 1;
        } else if snap == new || (explore && normalized(snap.clone()) == normalized(new.clone())) {
            n_new += 1;
        } else if explore {
            is_whole_partial_explore(&snap, &new)
                .unwrap_or_else(|e| panic!("{what}: neither old, new nor a whole partial: {e}"));
            n_partial += 1;
        } else {
            panic!(
                "{what}: the folder is neither the old nor the new report: {:?}",
                snap.keys().collect::<Vec<_>>()
            );
        }
        if st.code() == Some(code) {
            assert!(
                normalized(snap.clone()) == normalized(new.clone()),
                "{what}: finished, not the new report: {:?}",
                snap.keys().collect::<Vec<_>>()
            );
        }
        if st.code().is_none() {
            assert!(snap == old, "{what}: killed at start, folder changed");
        }
        assert_clean(&root, &what);
    }
    eprintln!(
        "{name}: run time {run_time:?}; {INTERRUPTS} interrupts: {n_130} stopped (exit 130), {n_done} finished first; folder old {n_old}, new {n_new}, whole partial {n_partial}"
    );
    assert!(
        n_130 > 0,
        "{name}: no interrupt landed while the command ran"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn run_interrupted_leaves_the_old_or_the_new_report() {
    let sc = format!("{ROOT}/scenarios/whipsaw-slow-poll.toml");
    interrupt_many(
        "run",
        &["run", &sc, "--quiet"],
        &["run", &sc, "--quiet", "--seed", "99"],
        11,
        false,
    );
}

#[test]
fn sweep_interrupted_leaves_the_old_or_the_new_report() {
    let dir = scratch("sweep-files");
    let base = format!("{ROOT}/scenarios/whipsaw-slow-poll.toml");
    let grid = |name: &str, polls: &str| {
        let p = dir.join(format!("{name}.toml"));
        std::fs::write(
            &p,
            format!("name = \"{name}\"\nbase = \"{base}\"\n[grid]\n\"engine.poll_interval_ms\" = [{polls}]\n"),
        )
        .unwrap();
        p.to_str().unwrap().to_string()
    };
    let (new, old) = (grid("new", "500, 1000, 2000, 5000"), grid("old", "1000"));
    interrupt_many("sweep", &["sweep", &new], &["sweep", &old], 22, false);
}

#[test]
fn explore_interrupted_leaves_the_old_the_new_or_a_whole_partial_report() {
    let args = [
        "explore",
        "--profile",
        "tradeengine-v1.1.78",
        "--cases",
        "1024",
        "--no-real",
        "--seed",
        "1",
    ];
    let old = [
        "explore",
        "--profile",
        "tradeengine-v1.1.78",
        "--cases",
        "256",
        "--no-real",
        "--seed",
        "2",
    ];
    interrupt_many("explore", &args, &old, 33, true);
}
