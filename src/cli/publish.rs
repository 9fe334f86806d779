//! The commands' side of the output contract ([`crate::output`]): the inputs of a command (a
//! folder holding one is never a target), the messages of a refused target, and standard output
//! that reports its errors: a closed pipe ends the program quietly with 0 (as `sim profiles | head
//! -1` expects), any other error (a full disk) is one line on stderr and exit 2.

use super::Failure;
use crate::output::{self, Staging};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Writes `text` to standard output and flushes it. A broken pipe is a normal end (exit 0, no
/// message); any other error is a [`Failure`] with code 2.
pub fn emit(text: &str) -> Result<(), Failure> {
    let mut so = std::io::stdout().lock();
    so.write_all(text.as_bytes())
        .and_then(|()| so.flush())
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                Failure {
                    msg: String::new(),
                    code: 0,
                }
            } else {
                Failure {
                    msg: format!("stdout: {e}"),
                    code: 2,
                }
            }
        })
}

/// The failure for a target refused by the output rules or not writable: the folder as given,
/// named after `--out` when the user gave it.
pub fn out_failure(given: bool, e: std::io::Error) -> Failure {
    let msg = if given {
        format!("--out: {e}")
    } else if e.kind() == std::io::ErrorKind::PermissionDenied {
        format!("{e} (with --out)")
    } else {
        e.to_string()
    };
    Failure { msg, code: 2 }
}

/// Checks `dir` against the output rules before any work, so a refusal costs nothing.
pub fn check(dir: &Path, given: bool, inputs: &[PathBuf]) -> Result<(), Failure> {
    output::check_target(dir, inputs)
        .map(|_| ())
        .map_err(|e| out_failure(given, e))
}

/// A temporary folder for a `kind` report bound for `dir` (see [`Staging::new`]).
pub fn stage(dir: &Path, given: bool, inputs: &[PathBuf], kind: &str) -> Result<Staging, Failure> {
    Staging::new(dir, inputs, kind).map_err(|e| out_failure(given, e))
}

/// Publishes `st` after `write` filled it; on any error the temporary folder is removed and
/// `dir` is unchanged.
pub fn publish(
    st: Staging,
    dir: &Path,
    what: &str,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), Failure> {
    write(st.path())
        .and_then(|()| st.publish())
        .map_err(|e| Failure {
            msg: format!("{}: cannot write {what}: {e}", dir.display()),
            code: 2,
        })
}

/// The files a scenario reads: itself, its kline, refine, funding and mark files or folders and
/// its signals CSV (resolved against its folder). An unreadable scenario gives itself only.
pub fn scenario_inputs(path: &Path) -> Vec<PathBuf> {
    let mut v = vec![path.to_path_buf()];
    let Ok(text) = std::fs::read_to_string(path) else {
        return v;
    };
    let Ok(raw) = crate::scenario::parse(path, &text) else {
        return v;
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let d = &raw.data;
    for p in d
        .klines
        .iter()
        .chain(&d.refine)
        .chain(&d.funding)
        .chain(&d.mark)
        .chain(raw.signals.csv.as_ref())
        .chain(raw.signals.jsonl.as_ref())
    {
        v.push(base.join(p));
    }
    v
}

/// The files a sweep reads: itself, its base scenario and that one's inputs, and every path
/// given on a `data.klines`, `data.refine`, `data.funding`, `data.mark` or `signals.csv` axis (resolved against the base scenario's folder).
pub fn sweep_inputs(path: &Path, sw: &crate::sweep::Sweep) -> Vec<PathBuf> {
    let mut v = vec![path.to_path_buf()];
    v.extend(scenario_inputs(&sw.base_path));
    let base = sw.base_path.parent().unwrap_or(Path::new(""));
    fn strings(val: &toml::Value, out: &mut Vec<String>) {
        match val {
            toml::Value::String(s) => out.push(s.clone()),
            toml::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    for (axis, vals) in &sw.axes {
        if matches!(
            axis.as_str(),
            "data.klines"
                | "data.refine"
                | "data.funding"
                | "data.mark"
                | "signals.csv"
                | "signals.jsonl"
        ) {
            let mut s = Vec::new();
            vals.iter().for_each(|x| strings(x, &mut s));
            v.extend(s.into_iter().map(|p| base.join(p)));
        }
    }
    v
}
