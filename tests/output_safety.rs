//! The output-folder contract through the real binary, for every command that writes a report
//! (`run`, `sweep`, `merge`, `explore`, `data download`): a folder that is not an ocosim report is
//! never replaced, `/`, the home folder, the current folder, its ancestors and folders holding
//! the inputs are never targets, error paths publish nothing and leave no temporary, two runs to
//! the same folder at once both end well, and a closed or full stdout is a clean end.
//!
//! Nothing here points a destructive path at the real `/` or the real home: every command runs
//! with `HOME` set to a scratch folder and its current folder inside a scratch tree; `--out /` is
//! only asserted to be refused, which happens before any filesystem action. A sentinel tree of
//! user files beside each output is compared byte for byte afterwards.

#![cfg(unix)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::tree::{assert_clean, snapshot};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn data_file() -> PathBuf {
    Path::new(ROOT).join("data/binance-um/klines/AVAXUSDT/1m/AVAXUSDT-1m-2026-02.csv")
}

/// A scratch tree for one test: `HOME` is `<tree>/home`, the commands run in `<tree>/work`.
struct Tree {
    root: PathBuf,
}

impl Tree {
    fn new(name: &str) -> Tree {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("output-safety-{}", std::process::id()))
            .join(name);
        if root.exists() {
            std::fs::remove_dir_all(&root).unwrap();
        }
        for d in ["home", "work", "user/sub"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        // the user's own files: must never change
        std::fs::write(root.join("home/.profile"), "export X=1\n").unwrap();
        std::fs::write(root.join("work/notes.txt"), "my notes\n").unwrap();
        std::fs::write(root.join("user/a.txt"), "alpha\n").unwrap();
        std::fs::write(root.join("user/sub/b.bin"), [0u8, 1, 2, 255]).unwrap();
        // a scenario and a sweep next to the user's files
        std::fs::write(root.join("work/s.toml"), scenario_text(&data_file())).unwrap();
        std::fs::write(
            root.join("work/grid.toml"),
            "name = \"grid\"\nbase = \"s.toml\"\n[grid]\n\"engine.poll_interval_ms\" = [500, 5000]\n[heatmap]\nx = \"engine.poll_interval_ms\"\ny = \"engine.poll_interval_ms\"\n",
        )
        .unwrap();
        Tree { root }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// `sim ARGS` with HOME and the current folder inside the tree.
    fn sim(&self, cwd: &str, args: &[&str]) -> Output {
        self.cmd(cwd, args).output().unwrap()
    }

    fn cmd(&self, cwd: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sim"));
        c.args(args)
            .env("HOME", self.p("home"))
            .current_dir(self.p(cwd))
            .stdin(Stdio::null());
        c
    }

    /// A folder holding a previous ocosim report (with a file a new report would not have).
    fn old_report(&self, rel: &str) -> PathBuf {
        let d = self.p(rel);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join(".ocosim-report"),
            "ocosim report written by `sim run`; sim may replace this folder whole\n",
        )
        .unwrap();
        std::fs::write(d.join("stale.txt"), "old\n").unwrap();
        d
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

fn scenario_text(klines: &Path) -> String {
    format!(
        "name = \"s\"\nseed = 3\n[data]\nklines = [\"{}\"]\nfrom = \"2026-02-05\"\nto = \"2026-02-05T12:00\"\n[signals]\ninline = [ {{ at = \"2026-02-05T01:00\", action = \"buy\", quantity = \"10\", sl_pct = \"0.01\", tp_pct = \"0.02\" }} ]\n",
        klines.display()
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 2 with one line `sim: error: …` that contains `want`, and no panic.
fn assert_refused(o: &Output, want: &str, what: &str) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{what}: {e}");
    assert_eq!(e.lines().count(), 1, "{what}: {e}");
    assert!(e.starts_with("sim: error: "), "{what}: {e}");
    assert!(e.contains(want), "{what}: want `{want}` in {e}");
    assert!(!e.contains("panicked"), "{what}: {e}");
}

/// The report-writing commands, each with `--out` appended by the caller: (label, args).
fn commands(t: &Tree) -> Vec<(&'static str, Vec<String>)> {
    let part = t.p("work/part.csv");
    if !part.exists() {
        let o = t.sim("work", &["sweep", "grid.toml", "--out", "../part"]);
        assert!(o.status.code().unwrap() <= 1, "{}", stderr(&o));
        std::fs::copy(t.p("part/sweep.csv"), &part).unwrap();
        std::fs::remove_dir_all(t.p("part")).unwrap();
    }
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let abs = |rel: &str| t.p(rel).to_str().unwrap().to_string();
    let (scenario, grid, part) = (
        abs("work/s.toml"),
        abs("work/grid.toml"),
        abs("work/part.csv"),
    );
    vec![
        ("run", s(&["run", &scenario, "--quiet"])),
        ("sweep", s(&["sweep", &grid])),
        (
            "merge",
            s(&[
                "merge",
                &part,
                "--x",
                "engine.poll_interval_ms",
                "--y",
                "engine.poll_interval_ms",
            ]),
        ),
        (
            "explore",
            s(&[
                "explore",
                "--profile",
                "tradeengine-v1.1.78",
                "--cases",
                "16",
                "--no-real",
            ]),
        ),
    ]
}

fn with_out(args: &[String], out: &str) -> Vec<String> {
    let mut v = args.to_vec();
    v.push("--out".into());
    v.push(out.into());
    v
}

fn run_args(t: &Tree, cwd: &str, args: &[String]) -> Output {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    t.sim(cwd, &a)
}

#[test]
fn folders_that_are_not_reports_are_refused_and_left_byte_for_byte() {
    let t = Tree::new("foreign");
    let cmds = commands(&t);
    // a non-empty folder without the marker, a file, a link to a folder, a bogus marker
    std::fs::create_dir_all(t.p("work/mine")).unwrap();
    std::fs::write(t.p("work/mine/thesis.tex"), "precious\n").unwrap();
    std::fs::write(t.p("work/file.txt"), "a file\n").unwrap();
    std::os::unix::fs::symlink(t.p("user"), t.p("work/link")).unwrap();
    std::fs::create_dir_all(t.p("work/fake")).unwrap();
    std::fs::write(t.p("work/fake/.ocosim-report"), "not ours\n").unwrap();
    std::fs::write(t.p("work/fake/keep.txt"), "keep\n").unwrap();
    let before = snapshot(&t.root);
    for (label, args) in &cmds {
        for out in ["mine", "file.txt", "link", "fake"] {
            let o = run_args(&t, "work", &with_out(args, out));
            assert_refused(
                &o,
                &format!(
                    "--out: {out} exists and is not an ocosim report; give a new or empty folder"
                ),
                &format!("{label} --out {out}"),
            );
        }
    }
    assert_eq!(snapshot(&t.root), before, "a refused command changed files");

    // the default folder reports/<name> follows the same rule
    std::fs::create_dir_all(t.p("work/reports/s")).unwrap();
    std::fs::write(t.p("work/reports/s/mine.txt"), "mine\n").unwrap();
    let before = snapshot(&t.root);
    let o = t.sim("work", &["run", "s.toml"]);
    assert_refused(
        &o,
        "reports/s exists and is not an ocosim report",
        "run default",
    );
    assert!(
        stderr(&o).contains("--out"),
        "hint names --out: {}",
        stderr(&o)
    );
    assert_eq!(snapshot(&t.root), before);
}

#[test]
fn root_home_current_folder_ancestors_and_input_folders_are_never_targets() {
    let t = Tree::new("forbidden");
    let cmds = commands(&t);
    std::fs::create_dir_all(t.p("work/deep/er")).unwrap();
    // inputs in their own folders: a scenario, its data file, a sweep, a part
    std::fs::create_dir_all(t.p("in/data")).unwrap();
    std::fs::copy(data_file(), t.p("in/data/AVAXUSDT-1m-2026-02.csv")).unwrap();
    std::fs::write(
        t.p("in/s.toml"),
        scenario_text(Path::new("data/AVAXUSDT-1m-2026-02.csv")),
    )
    .unwrap();
    std::fs::write(
        t.p("in/part.csv"),
        std::fs::read(t.p("work/part.csv")).unwrap(),
    )
    .unwrap();
    // mark the forbidden folders as reports: the rule, not the marker, must refuse them
    for d in ["home", "work", "work/deep", "in", "in/data"] {
        std::fs::write(
            t.p(d).join(".ocosim-report"),
            "ocosim report written by `sim run`; sim may replace this folder whole\n",
        )
        .unwrap();
    }
    let home = t.p("home");
    let before = snapshot(&t.root);
    for (label, args) in &cmds {
        for (out, want) in [
            ("/", "is the root folder"),
            ("/..", "is the root folder"),
            (".", "is the current folder or one of its ancestors"),
            ("..", "is the current folder or one of its ancestors"),
            ("../..", "is the current folder or one of its ancestors"),
            ("./", "is the current folder or one of its ancestors"),
            ("er/..", "is the current folder or one of its ancestors"),
            (home.to_str().unwrap(), "is the home folder"),
        ] {
            let o = run_args(&t, "work/deep", &with_out(args, out));
            assert_refused(&o, want, &format!("{label} --out {out}"));
        }
    }
    // ancestors of the current folder by absolute path
    for out in [t.p("work"), t.p("work/deep"), t.root.clone()] {
        let o = t.sim(
            "work/deep",
            &["run", "../s.toml", "--out", out.to_str().unwrap()],
        );
        assert_refused(&o, "current folder or one of its ancestors", "run abs");
    }
    // folders holding the inputs: the scenario's folder, its data folder, their ancestors
    for out in ["../in", "../in/data"] {
        let o = t.sim("work", &["run", "../in/s.toml", "--out", out]);
        assert_refused(&o, "holds the input", &format!("run --out {out}"));
    }
    let o = t.sim(
        "work",
        &[
            "merge",
            "../in/part.csv",
            "--x",
            "case",
            "--y",
            "case",
            "--out",
            "../in",
        ],
    );
    assert_refused(&o, "holds the input", "merge --out ../in");
    let o = t.sim(
        "work",
        &[
            "explore",
            "--cases",
            "1",
            "--data",
            "../in/data/AVAXUSDT-1m-2026-02.csv",
            "--out",
            "../in",
        ],
    );
    assert_refused(&o, "holds the input", "explore --data");
    std::fs::write(
        t.p("in/grid.toml"),
        "base = \"s.toml\"\n[grid]\nseed = [1]\n",
    )
    .unwrap();
    let o = t.sim("work", &["sweep", "../in/grid.toml", "--out", "../in/data"]);
    assert_refused(&o, "holds the input", "sweep base data");
    std::fs::remove_file(t.p("in/grid.toml")).unwrap();
    assert_eq!(snapshot(&t.root), before, "a refused command changed files");
}

#[test]
fn new_empty_and_report_folders_are_written_and_replaced_whole() {
    let t = Tree::new("accepted");
    let cmds = commands(&t);
    let user_before = snapshot(&t.p("user"));
    for (label, args) in &cmds {
        // new (with missing parents), empty, an old report with a stale file
        let new = format!("out/{label}/new/deeper");
        std::fs::create_dir_all(t.p(&format!("work/out/{label}/empty"))).unwrap();
        t.old_report(&format!("work/out/{label}/old"));
        for out in [
            new.clone(),
            format!("out/{label}/empty"),
            format!("out/{label}/old"),
        ] {
            let o = run_args(&t, "work", &with_out(args, &out));
            assert!(
                o.status.code().unwrap() <= 1,
                "{label} {out}: {}",
                stderr(&o)
            );
            let d = t.p("work").join(&out);
            let files = snapshot(&d);
            let marker = String::from_utf8(files[".ocosim-report"].clone()).unwrap();
            assert!(
                marker.starts_with("ocosim report written by `sim"),
                "{marker}"
            );
            assert!(
                !files.contains_key("stale.txt"),
                "{label}: old report not replaced"
            );
            assert!(files.len() > 2, "{label}: {:?}", files.keys());
        }
        // a second run replaces the report and stays identical (except explore's rate)
        let out = format!("out/{label}/old");
        let first = snapshot(&t.p("work").join(&out));
        let o = run_args(&t, "work", &with_out(args, &out));
        assert!(o.status.code().unwrap() <= 1, "{}", stderr(&o));
        let second = snapshot(&t.p("work").join(&out));
        assert_eq!(
            first.keys().collect::<Vec<_>>(),
            second.keys().collect::<Vec<_>>()
        );
        if *label == "run" || *label == "sweep" || *label == "merge" {
            assert_eq!(first, second, "{label}: a second run differs");
        }
    }
    assert_clean(&t.root, "output_safety");
    assert_eq!(snapshot(&t.p("user")), user_before);
    assert_eq!(std::fs::read(t.p("work/notes.txt")).unwrap(), b"my notes\n");
}

#[test]
fn error_paths_publish_nothing_and_leave_no_temporary() {
    let t = Tree::new("errors");
    // a grid with a case that cannot run: exit 2, no report of error rows
    // (a value that is bad in itself is refused at load; a missing data file only at run time)
    std::fs::write(
        t.p("work/bad-case.toml"),
        format!(
            "base = \"s.toml\"\n[grid]\n\"data.klines\" = [[\"{}\"], [\"missing.csv\"]]\n",
            data_file().display()
        ),
    )
    .unwrap();
    let o = t.sim("work", &["sweep", "bad-case.toml", "--out", "r"]);
    assert_refused(
        &o,
        "1 of 2 cases failed, nothing written",
        "sweep error rows",
    );
    assert!(!t.p("work/r").exists());
    // an unknown heat-map axis: exit 2 naming it and its line, before any case runs
    std::fs::write(
        t.p("work/bad-axis.toml"),
        "base = \"s.toml\"\n[grid]\nseed = [1, 2]\n[heatmap]\nx = \"seed\"\ny = \"sed\"\n",
    )
    .unwrap();
    let o = t.sim("work", &["sweep", "bad-axis.toml", "--out", "r"]);
    assert_refused(
        &o,
        "bad-axis.toml:6: field `heatmap.y`: `sed` is not an axis of the grid (axes: seed)",
        "sweep axis",
    );
    assert!(!t.p("work/r").exists());
    commands(&t);
    let o = t.sim(
        "work",
        &[
            "merge",
            "part.csv",
            "--x",
            "engine.poll_interval_ms",
            "--y",
            "nope",
            "--out",
            "r",
        ],
    );
    assert_refused(&o, "--y `nope`: not an axis of", "merge axis");
    assert!(!t.p("work/r").exists());
    // an old report stays whole when the new one cannot be written (a file where the
    // temporary folder's parent must be)
    let o = t.sim("work", &["run", "s.toml", "--out", "notes.txt/r"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
    assert_clean(&t.root, "output_safety");
}

#[test]
fn two_runs_to_the_same_folder_at_once_both_end_well() {
    let t = Tree::new("concurrent");
    let o = t.sim("work", &["run", "s.toml", "--quiet", "--out", "ref"]);
    let code = o.status.code().unwrap();
    assert!(code <= 1, "{}", stderr(&o));
    let reference = snapshot(&t.p("work/ref"));
    for round in 0..6 {
        let kids: Vec<_> = (0..3)
            .map(|_| {
                t.cmd("work", &["run", "s.toml", "--quiet", "--out", "same"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for k in kids {
            let o = k.wait_with_output().unwrap();
            assert_eq!(o.status.code(), Some(code), "round {round}: {}", stderr(&o));
        }
        assert_eq!(snapshot(&t.p("work/same")), reference, "round {round}");
    }
    // sweeps too
    let kids: Vec<_> = (0..2)
        .map(|_| {
            t.cmd("work", &["sweep", "grid.toml", "--out", "sw"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for k in kids {
        let o = k.wait_with_output().unwrap();
        assert!(o.status.code().unwrap() <= 1, "{}", stderr(&o));
    }
    assert!(t.p("work/sw/sweep.csv").exists());
    assert_clean(&t.root, "output_safety");
}

/// `sim ARGS` with stdout a socket whose reader is already gone, so every write fails with EPIPE.
fn with_closed_stdout(t: &Tree, args: &[&str]) -> Output {
    let (mine, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(mine);
    t.cmd("work", args)
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn with_full_stdout(t: &Tree, args: &[&str]) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    t.cmd("work", args)
        .stdout(Stdio::from(full))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_stdout_is_a_quiet_end_and_a_full_one_is_exit_2() {
    let t = Tree::new("stdout");
    commands(&t);
    let data = data_file();
    let cases: Vec<Vec<&str>> = vec![
        vec!["profiles"],
        vec!["check", "s.toml"],
        vec!["run", "s.toml", "--out", "o-run"],
        vec!["run", "s.toml", "--quiet", "--out", "o-run"],
        vec!["sweep", "grid.toml", "--out", "o-sweep"],
        vec![
            "merge",
            "part.csv",
            "--x",
            "engine.poll_interval_ms",
            "--y",
            "engine.poll_interval_ms",
            "--out",
            "o-merge",
        ],
        vec![
            "explore",
            "--profile",
            "tradeengine-v1.1.78",
            "--cases",
            "16",
            "--no-real",
            "--out",
            "o-explore",
        ],
        vec!["data", "inspect", data.to_str().unwrap()],
        vec!["--help"],
    ];
    for args in &cases {
        let o = with_closed_stdout(&t, args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?} closed stdout: {e}");
        assert!(
            !e.contains("panicked") && !e.contains("error"),
            "{args:?}: {e}"
        );
        if args[0] == "--help" {
            continue;
        }
        let o = with_full_stdout(&t, args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?} /dev/full: {e}");
        assert_eq!(e.lines().count(), 1, "{args:?}: {e}");
        assert!(
            e.starts_with("sim: error: stdout: No space left on device"),
            "{args:?}: {e}"
        );
    }
    // the reports were written before stdout failed, whole
    for d in ["o-run", "o-sweep", "o-merge", "o-explore"] {
        assert!(t.p("work").join(d).join(".ocosim-report").exists(), "{d}");
    }
    assert_clean(&t.root, "output_safety");
}

// --- data download: a folder that accumulates files, nothing is ever deleted ------------------

fn sha256_hex(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Answers `n` requests on 127.0.0.1 from `routes` (path → body, else 404).
fn serve(routes: Vec<(String, Vec<u8>)>, n: usize) -> (String, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((mut s, _)) = l.accept() else { return };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => head.extend_from_slice(&buf[..k]),
                }
            }
            let text = String::from_utf8_lossy(&head).into_owned();
            let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
            let (status, body) = match routes.iter().find(|(p, _)| *p == path) {
                Some((_, b)) => ("200 OK", b.clone()),
                None => ("404 Not Found", b"nf".to_vec()),
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    (base, h)
}

#[test]
fn download_adds_files_atomically_and_deletes_nothing() {
    let t = Tree::new("download");
    let out = t.p("user");
    let before = snapshot(&out);
    let zip = b"PK\x03\x04 not really a zip, the checksum is what counts".to_vec();
    let pre = "/data/futures/um/daily/klines/BTCUSDT/1m";
    let good = format!("{pre}/BTCUSDT-1m-2024-01-15.zip");
    let bad = format!("{pre}/BTCUSDT-1m-2024-01-16.zip");
    let routes = vec![
        (good.clone(), zip.clone()),
        (
            format!("{good}.CHECKSUM"),
            format!("{}  BTCUSDT-1m-2024-01-15.zip\n", sha256_hex(&zip)).into_bytes(),
        ),
        (bad.clone(), b"tampered".to_vec()),
        (
            format!("{bad}.CHECKSUM"),
            format!("{}  BTCUSDT-1m-2024-01-16.zip\n", sha256_hex(&zip)).into_bytes(),
        ),
    ];
    let (base, server) = serve(routes, 4);
    let o = t.sim(
        "work",
        &[
            "data",
            "download",
            "BTCUSDT",
            "1m",
            "2024-01-15",
            "2024-01-16",
            "--base-url",
            &base,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    server.join().unwrap();
    // day 15 arrives whole, day 16 fails its checksum: exit 2, nothing of it on disk
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("sha256 mismatch"), "{}", stderr(&o));
    let after = snapshot(&out);
    for (k, v) in &before {
        assert_eq!(after.get(k), Some(v), "user file {k} changed");
    }
    let added: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert_eq!(
        added,
        vec![
            "klines/",
            "klines/BTCUSDT/",
            "klines/BTCUSDT/1m/",
            "klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-15.zip"
        ]
    );
    assert_eq!(after["klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-15.zip"], zip);
    assert_clean(&t.root, "output_safety");
}
