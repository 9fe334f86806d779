//! Hostile-input harness: a sandbox folder holding a sentinel tree of the user's own files
//! (random bytes, nested folders) beside the inputs and the output; the real `sim` binary run on
//! a bad input with a time limit; and the checks every bad input must pass: exit 2, exactly one
//! line on stderr that names the file and line (or the argument), no panic text, and the sandbox
//! byte-for-byte as it was (nothing written, nothing deleted, nothing left behind).
//!
//! Reuse: `mod common; use common::hostile::*;` then [`Sandbox::new`], write the inputs with
//! [`Sandbox::write`], and [`Sandbox::expect_bad_input`] with the arguments (`{D}` in an argument
//! stands for the sandbox folder).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long one bad input may take before it counts as a hang.
pub const TIME_LIMIT: Duration = Duration::from_secs(60);

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A temporary folder with a sentinel tree of user files; removed on drop.
pub struct Sandbox {
    /// The folder.
    pub dir: PathBuf,
}

/// What one run of the binary gave.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code (`None`: killed by a signal or the time limit).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Whether the time limit ended it.
    pub timed_out: bool,
}

/// One entry of a tree snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A folder.
    Dir,
    /// A file and its bytes.
    File(Vec<u8>),
    /// A symbolic link and its target.
    Link(PathBuf),
    /// A FIFO, socket or device node.
    Special,
}

/// Every path under `root` (relative) with its kind and bytes.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                out.insert(rel, Entry::Link(std::fs::read_link(&p).unwrap_or_default()));
            } else if meta.is_dir() {
                out.insert(rel, Entry::Dir);
                stack.push(p);
            } else if meta.is_file() {
                out.insert(rel, Entry::File(std::fs::read(&p).unwrap_or_default()));
            } else {
                // a FIFO or socket: never opened (a read would block)
                out.insert(rel, Entry::Special);
            }
        }
    }
    out
}

/// A small deterministic generator for the sentinel bytes.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Writes a sentinel tree under `root`: a few files of random bytes (one empty), nested folders,
/// a file named like a report, and one like a scenario.
pub fn make_sentinel(root: &Path, seed: u64) {
    let mut st = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for (rel, len) in [
        ("notes.txt", 300usize),
        ("photos/cat.jpg", 2048),
        ("photos/2026/dog.raw", 777),
        ("empty.bin", 0),
        ("deep/a/b/c/thesis.tex", 1500),
        ("report.html", 64),
        ("reports/mine/summary.json", 40),
        ("project.toml", 120),
    ] {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let bytes: Vec<u8> = (0..len).map(|_| xorshift(&mut st) as u8).collect();
        std::fs::write(&p, bytes).unwrap();
    }
    std::fs::create_dir_all(root.join("empty-folder")).unwrap();
}

impl Sandbox {
    /// A new sandbox with a sentinel tree under `user/`.
    pub fn new(tag: &str) -> Sandbox {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let safe: String = tag
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(40)
            .collect();
        let dir =
            std::env::temp_dir().join(format!("ocosim-hostile-{}-{n}-{safe}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        make_sentinel(&dir.join("user"), n + 1);
        Sandbox { dir }
    }

    /// Writes an input file (relative to the sandbox); returns its path.
    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Replaces `{D}` by the sandbox folder.
    pub fn fill(&self, s: &str) -> String {
        s.replace("{D}", &self.dir.display().to_string())
    }

    /// Runs `sim` with `args` (after [`Sandbox::fill`]) in the sandbox folder, within
    /// [`TIME_LIMIT`].
    pub fn run(&self, args: &[&str]) -> Outcome {
        run_sim(
            &self.dir,
            &args.iter().map(|a| self.fill(a)).collect::<Vec<_>>(),
        )
    }

    /// Runs `sim` and checks the bad-input contract; `must` are substrings the one line must
    /// hold (e.g. `s.toml:7: field `latency.request_ms``). Returns the line.
    pub fn expect_bad_input(&self, case: &str, args: &[&str], must: &[&str]) -> String {
        let before = snapshot(&self.dir);
        let o = self.run(args);
        let after = snapshot(&self.dir);
        check_bad_input(
            case,
            &o,
            &must.iter().map(|m| self.fill(m)).collect::<Vec<_>>(),
        );
        if before != after {
            let changed: Vec<String> = before
                .keys()
                .chain(after.keys())
                .filter(|k| before.get(*k) != after.get(*k))
                .map(|k| k.display().to_string())
                .collect();
            panic!(
                "{case}: the sandbox changed (user files or leftovers): {changed:?}\nstderr: {}",
                o.stderr
            );
        }
        o.stderr.trim_end().to_string()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the real binary in `cwd` with a time limit.
pub fn run_sim(cwd: &Path, args: &[String]) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sim");
    // drain the pipes on threads so a chatty child cannot block on a full pipe
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let to = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut so, &mut v);
        v
    });
    let te = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut se, &mut v);
        v
    });
    let t0 = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if t0.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            timed_out = true;
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        code: status.and_then(|s| s.code()),
        stdout: String::from_utf8_lossy(&to.join().unwrap()).to_string(),
        stderr: String::from_utf8_lossy(&te.join().unwrap()).to_string(),
        timed_out,
    }
}

/// The bad-input contract on one outcome: exit 2, one line `sim: error: …` holding every `must`,
/// no panic or backtrace text, no hang.
pub fn check_bad_input(case: &str, o: &Outcome, must: &[String]) {
    assert!(
        !o.timed_out,
        "{case}: no answer within {TIME_LIMIT:?} (a hang)"
    );
    assert_eq!(
        o.code,
        Some(2),
        "{case}: exit {:?}, expected 2\nstdout: {}\nstderr: {}",
        o.code,
        o.stdout,
        o.stderr
    );
    assert!(
        !o.stderr.contains("panicked")
            && !o.stderr.contains("RUST_BACKTRACE")
            && !o.stderr.contains("stack backtrace"),
        "{case}: panic text in stderr: {}",
        o.stderr
    );
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{case}: stderr must be exactly one line, got {}:\n{}",
        lines.len(),
        o.stderr
    );
    assert!(
        lines[0].starts_with("sim: error: "),
        "{case}: the line starts with `sim: error: `: {}",
        lines[0]
    );
    assert!(
        !lines[0].contains(":0:"),
        "{case}: no line 0 in a message: {}",
        lines[0]
    );
    for m in must {
        assert!(
            lines[0].contains(m.as_str()),
            "{case}: the line must contain `{m}`:\n{}",
            lines[0]
        );
    }
}

/// Runs one case, catching its panic into `failures` (so a table reports every failing case at
/// once); call [`finish`] after the table.
pub fn collect(failures: &mut Vec<String>, case: &str, f: impl FnOnce()) {
    if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        failures.push(format!("[{case}] {msg}"));
    }
}

/// Fails with every collected failure.
pub fn finish(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
