//! Output folders: the one contract every command follows, and atomic publication.
//!
//! **What may be replaced.** ocosim writes a report folder only where nothing of the user's can be
//! lost: a path that does not exist, an empty folder, or an ocosim report, i.e. a folder that
//! carries the [`MARKER`] file ocosim writes into every report it publishes. Anything else that
//! exists (a folder of other files, a file, a symbolic link) is refused. `/`, the home folder, the
//! current folder and its ancestors, and any folder that holds one of the command's inputs are
//! never targets, whatever they contain. [`check_target`] applies these rules; every publication
//! applies them again at the moment it swaps.
//!
//! **Atomic publication.** A report is built in a temporary folder beside its target
//! (`.NAME.ocosim-tmp-PID-N`, see [`Staging`]) and swapped in whole: on Linux with
//! `renameat2(RENAME_EXCHANGE)` when the target exists (the old report then sits under the
//! temporary name and is removed), else with `rename`. Single files ([`write_file_atomic`]) go
//! through a temporary file and a rename. At any instant the target is the whole old report or the
//! whole new one.
//!
//! **Cleaning.** Every temporary path is registered while it exists; a dropped [`Staging`] removes
//! its folder, and [`install_interrupt_handler`] makes SIGINT/SIGTERM/SIGHUP remove every
//! registered path before the process exits with 130. Deletion goes through one function that
//! only removes paths this process registered under a temporary name, so nothing ocosim did not
//! create is ever deleted.

use std::ffi::OsString;
use std::io::{self, Write as _};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The file that marks a folder as an ocosim report (and so as replaceable by ocosim).
pub const MARKER: &str = ".ocosim-report";

/// The first bytes of a marker's content.
const MARKER_HEAD: &str = "ocosim report";

/// The part of every temporary name ocosim creates.
const TMP_TAG: &str = ".ocosim-tmp-";

/// The line written into [`MARKER`] for a report of `kind` (`run`, `sweep`, `merge`, `explore`).
pub fn marker_text(kind: &str) -> String {
    format!("{MARKER_HEAD} written by `sim {kind}`; sim may replace this folder whole\n")
}

/// What a target path holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing.
    Missing,
    /// An empty folder.
    Empty,
    /// A folder with ocosim's marker.
    Report,
    /// Anything else: never touched.
    Foreign,
}

fn state_of(p: &Path) -> io::Result<State> {
    let m = match std::fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(State::Missing),
        Err(e) => return Err(e),
    };
    if !m.is_dir() {
        return Ok(State::Foreign);
    }
    if std::fs::read_dir(p)?.next().is_none() {
        return Ok(State::Empty);
    }
    Ok(if is_marker(&p.join(MARKER)) {
        State::Report
    } else {
        State::Foreign
    })
}

fn is_marker(p: &Path) -> bool {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_file() => {}
        _ => return false,
    }
    let mut head = [0u8; MARKER_HEAD.len()];
    std::fs::File::open(p)
        .and_then(|mut f| io::Read::read_exact(&mut f, &mut head))
        .is_ok_and(|()| head == *MARKER_HEAD.as_bytes())
}

fn refused(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, msg)
}

/// `p` made absolute with every symbolic link resolved except the last component's (which is
/// the target itself); components after the first missing one are taken as written.
fn resolve(p: &Path) -> io::Result<PathBuf> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    };
    let comps: Vec<Component> = abs.components().collect();
    let mut cur = PathBuf::new();
    let mut real = true; // `cur` exists and has no links
    for (i, c) in comps.iter().enumerate() {
        match c {
            Component::Prefix(_) | Component::RootDir => cur.push(c.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                cur.pop();
            }
            Component::Normal(n) => {
                cur.push(n);
                if real && i + 1 < comps.len() {
                    match std::fs::canonicalize(&cur) {
                        Ok(c) => cur = c,
                        Err(_) => real = false,
                    }
                }
            }
        }
    }
    Ok(cur)
}

fn canonical_or_resolved(p: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(p).ok().or_else(|| resolve(p).ok())
}

/// Checks that `dir` may receive a report of a command that reads `inputs`: refuses (with a
/// one-line message naming `dir` as given) `/`, the home folder, the current folder or one of
/// its ancestors, a folder that is or holds one of `inputs`, and anything that exists and is
/// neither an empty folder nor an ocosim report. Returns the absolute path to write.
pub fn check_target(dir: &Path, inputs: &[PathBuf]) -> io::Result<PathBuf> {
    let shown = dir.display();
    let hint = "give a new or empty folder";
    let t = resolve(dir).map_err(|e| io::Error::new(e.kind(), format!("{shown}: {e}")))?;
    if t.parent().is_none() || t.file_name().is_none() {
        return Err(refused(format!(
            "{shown} is the root folder and is never a report folder; {hint}"
        )));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        if canonical_or_resolved(Path::new(&home)).is_some_and(|h| h == t) {
            return Err(refused(format!(
                "{shown} is the home folder and is never a report folder; {hint}"
            )));
        }
    }
    if let Some(cwd) = std::env::current_dir()
        .ok()
        .and_then(|c| std::fs::canonicalize(c).ok())
    {
        if cwd.starts_with(&t) {
            return Err(refused(format!(
                "{shown} is the current folder or one of its ancestors; {hint}"
            )));
        }
    }
    for i in inputs {
        // both where the input is named (a link inside the target is the user's file) and
        // where it really is
        let named = resolve(i).ok();
        let real = std::fs::canonicalize(i).ok();
        if [named, real].iter().flatten().any(|i| i.starts_with(&t)) {
            return Err(refused(format!(
                "{shown} holds the input {}; {hint}",
                i.display()
            )));
        }
    }
    match state_of(&t).map_err(|e| io::Error::new(e.kind(), format!("{shown}: {e}")))? {
        State::Missing | State::Empty | State::Report => Ok(t),
        State::Foreign => Err(refused(format!(
            "{shown} exists and is not an ocosim report; {hint}"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// The registry of temporary paths

/// A temporary path this process created and must not leave behind.
struct Entry {
    id: u64,
    path: PathBuf,
}

static REGISTRY: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn registry() -> MutexGuard<'static, Vec<Entry>> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// A fresh temporary name beside `target`: `.NAME.ocosim-tmp-PID-N`.
fn tmp_beside(target: &Path) -> io::Result<(u64, PathBuf)> {
    let name = target.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no name", target.display()),
        )
    })?;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut t = OsString::from(".");
    t.push(name);
    t.push(format!("{TMP_TAG}{}-{id}", std::process::id()));
    Ok((id, target.with_file_name(t)))
}

fn unregister(reg: &mut Vec<Entry>, id: u64) {
    reg.retain(|e| e.id != id);
}

/// Removes a temporary path of this process: only a path registered in `reg` whose name carries
/// the temporary tag is ever deleted (anything else is an error and stays untouched).
fn remove_ours(reg: &mut Vec<Entry>, id: u64) -> io::Result<()> {
    let Some(pos) = reg.iter().position(|e| e.id == id) else {
        return Ok(());
    };
    let p = reg[pos].path.clone();
    remove_registered(&p)?;
    reg.remove(pos);
    Ok(())
}

fn remove_registered(p: &Path) -> io::Result<()> {
    let ours = p
        .file_name()
        .map(|n| n.to_string_lossy().contains(TMP_TAG))
        .unwrap_or(false);
    if !ours {
        return Err(io::Error::other(format!(
            "refusing to delete {}: not a temporary path of ocosim",
            p.display()
        )));
    }
    let r = match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Removes every registered temporary path; then exits with 130. Runs on SIGINT/SIGTERM/SIGHUP.
/// The registry stays locked until the exit, so no new temporary path can appear meanwhile and
/// no swap is half done.
fn on_interrupt() -> ! {
    let reg = registry();
    for e in reg.iter() {
        // another thread may still be writing into the folder (explore writes its findings while
        // the interrupt is handled): a file it creates between remove_dir_all's listing and its
        // rmdir makes the removal fail, as often as it is retried. Renamed first to a name only
        // this handler knows, the folder takes no new entries; a path whose rename fails is
        // removed where it is.
        let grave = buried(&e.path);
        let p = match grave {
            Some(g) if rename_noreplace(&e.path, &g).is_ok() => g,
            _ => e.path.clone(),
        };
        for _ in 0..5 {
            if remove_registered(&p).is_ok() {
                break;
            }
        }
    }
    exit_now(130)
}

/// The name an interrupted temporary path is moved to before removal: its own name (which
/// carries the temporary tag) with `-interrupted` appended.
fn buried(p: &Path) -> Option<PathBuf> {
    let mut name = p.file_name()?.to_os_string();
    name.push("-interrupted");
    Some(p.with_file_name(name))
}

/// Renames `a` to `b` only if `b` does not exist (nothing is ever replaced).
#[cfg(target_os = "linux")]
fn rename_noreplace(a: &Path, b: &Path) -> io::Result<()> {
    renameat2(a, b, libc::RENAME_NOREPLACE)
}

/// `renameat2(2)` of two paths with `flags`.
#[cfg(target_os = "linux")]
fn renameat2(a: &Path, b: &Path, flags: libc::c_uint) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let ca = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let cb = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two NUL-terminated paths that live across the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            flags,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Without renameat2 the temporary path is removed where it is (see [`on_interrupt`]).
#[cfg(not(target_os = "linux"))]
fn rename_noreplace(_a: &Path, _b: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no rename without replace",
    ))
}

#[cfg(unix)]
fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` ends the process at once; nothing else runs (no stdio flush, no locks).
    unsafe { libc::_exit(code) }
}

#[cfg(not(unix))]
fn exit_now(code: i32) -> ! {
    std::process::exit(code)
}

/// Makes SIGINT, SIGTERM and SIGHUP remove every temporary path and exit with 130. Call first
/// thing in `main`, before any other thread starts (the signals are blocked in every thread and
/// taken by one waiting thread).
#[cfg(unix)]
pub fn install_interrupt_handler() {
    // SAFETY: plain libc calls on a zero-initialised, locally owned sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("sim-signals".into())
            .spawn(move || {
                let mut sig: libc::c_int = 0;
                while libc::sigwait(&set, &mut sig) != 0 {}
                on_interrupt()
            });
        if spawned.is_err() {
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}

/// No-op where there are no POSIX signals.
#[cfg(not(unix))]
pub fn install_interrupt_handler() {}

// ---------------------------------------------------------------------------------------------
// Publication

/// A report being built: a temporary folder beside its target, removed unless published.
pub struct Staging {
    id: u64,
    tmp: PathBuf,
    target: PathBuf,
    shown: PathBuf,
    inputs: Vec<PathBuf>,
}

impl Staging {
    /// Checks `target` ([`check_target`] with `inputs`), creates its parent folders and a
    /// temporary folder beside it holding the marker of a `kind` report.
    pub fn new(target: &Path, inputs: &[PathBuf], kind: &str) -> io::Result<Staging> {
        let abs = check_target(target, inputs)?;
        if let Some(parent) = abs.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let (id, tmp) = tmp_beside(&abs)?;
        {
            let mut reg = registry();
            std::fs::create_dir(&tmp)?;
            reg.push(Entry {
                id,
                path: tmp.clone(),
            });
        }
        let st = Staging {
            id,
            tmp,
            target: abs,
            shown: target.to_path_buf(),
            inputs: inputs.to_vec(),
        };
        std::fs::write(st.tmp.join(MARKER), marker_text(kind))?;
        Ok(st)
    }

    /// The temporary folder to write the report's files into.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Swaps the finished folder in place of the target (checked again first): the target is the
    /// old content or the new one at every instant. The old report is removed.
    pub fn publish(self) -> io::Result<()> {
        // the rules again (inputs do not move; the target's content may have changed)
        check_target(&self.shown, &self.inputs)?;
        let mut reg = registry();
        let mut last = None;
        for _ in 0..16 {
            match state_of(&self.target)? {
                State::Foreign => {
                    return Err(refused(format!(
                        "{} exists and is not an ocosim report; give a new or empty folder",
                        self.shown.display()
                    )))
                }
                State::Missing => match std::fs::rename(&self.tmp, &self.target) {
                    Ok(()) => {
                        unregister(&mut reg, self.id);
                        return Ok(());
                    }
                    // another writer got there first: look again
                    Err(e) if raced(&e) => last = Some(e),
                    Err(e) => return Err(e),
                },
                State::Empty | State::Report => match exchange(&self.tmp, &self.target) {
                    Ok(()) => {
                        // the old content now sits under our temporary name
                        if state_of(&self.tmp)? == State::Foreign {
                            // a foreign folder slipped in meanwhile: put it back untouched
                            exchange(&self.tmp, &self.target)?;
                            return Err(refused(format!(
                                "{} exists and is not an ocosim report; give a new or empty folder",
                                self.shown.display()
                            )));
                        }
                        return remove_ours(&mut reg, self.id);
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => last = Some(e),
                    Err(e) if unsupported(&e) => {
                        return swap_by_rename(&mut reg, &self.tmp, &self.target, self.id)
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("target keeps changing")))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = remove_ours(&mut registry(), self.id);
    }
}

fn raced(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::NotFound
    )
}

fn unsupported(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Unsupported | io::ErrorKind::InvalidInput
    )
}

/// Swaps two existing paths atomically.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    let Err(e) = renameat2(a, b, libc::RENAME_EXCHANGE) else {
        return Ok(());
    };
    match e.raw_os_error() {
        Some(libc::ENOSYS) | Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "renameat2 exchange unsupported",
        )),
        _ => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no atomic exchange",
    ))
}

/// Without an atomic exchange: the old report is renamed aside (a registered temporary name),
/// the new one renamed in, the old one removed. An interrupt between the two renames leaves the
/// target missing for an instant; the old report is then removed with the other temporaries.
fn swap_by_rename(reg: &mut Vec<Entry>, tmp: &Path, target: &Path, id: u64) -> io::Result<()> {
    let (aside_id, aside) = tmp_beside(target)?;
    std::fs::rename(target, &aside)?;
    reg.push(Entry {
        id: aside_id,
        path: aside.clone(),
    });
    if let Err(e) = std::fs::rename(tmp, target) {
        if std::fs::rename(&aside, target).is_ok() {
            unregister(reg, aside_id);
        }
        return Err(e);
    }
    unregister(reg, id);
    remove_ours(reg, aside_id)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it (registered, removed on error
/// or interrupt), synced, then renamed over `path`. Readers see the old file or the whole new one.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (id, tmp) = tmp_beside(path)?;
    let mut f = {
        let mut reg = registry();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        reg.push(Entry {
            id,
            path: tmp.clone(),
        });
        f
    };
    let res = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .and_then(|()| {
            drop(f);
            let mut reg = registry();
            std::fs::rename(&tmp, path)?;
            unregister(&mut reg, id);
            Ok(())
        });
    if res.is_err() {
        let _ = remove_ours(&mut registry(), id);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ocosim-output-{}-{name}", std::process::id()));
        if d.exists() {
            std::fs::remove_dir_all(&d).unwrap();
        }
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// What the interrupt handler does with a folder another thread keeps writing into: moved
    /// to its buried name (never over an existing path), it takes no new files and is removed.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_folder_written_into_is_buried_then_removed() {
        let root = scratch("buried");
        let tmp = root.join(format!(".out{TMP_TAG}1-1"));
        std::fs::create_dir(&tmp).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (tmp, stop) = (tmp.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // fails once the folder has moved: the writer only knows the old name
                    let _ = std::fs::write(tmp.join(format!("f{n}")), b"x");
                    n += 1;
                }
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        let g = buried(&tmp).unwrap();
        assert!(g.file_name().unwrap().to_string_lossy().contains(TMP_TAG));
        // an existing path of that name is never replaced
        std::fs::write(&g, b"someone's").unwrap();
        assert!(rename_noreplace(&tmp, &g).is_err());
        assert_eq!(std::fs::read(&g).unwrap(), b"someone's");
        std::fs::remove_file(&g).unwrap();
        rename_noreplace(&tmp, &g).unwrap();
        remove_registered(&g).unwrap();
        assert!(!g.exists());
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        assert!(
            !tmp.exists(),
            "the writer re-created nothing under the old name"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn names(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn resolve_follows_links_but_not_the_last_component() {
        let d = scratch("resolve");
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        let canon = std::fs::canonicalize(&d).unwrap();
        assert_eq!(resolve(&d.join("a/b/..")).unwrap(), canon.join("a"));
        assert_eq!(resolve(&d.join("a/./x/y")).unwrap(), canon.join("a/x/y"));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.join("a"), d.join("l")).unwrap();
            assert_eq!(resolve(&d.join("l/b")).unwrap(), canon.join("a/b"));
            assert_eq!(resolve(&d.join("l")).unwrap(), canon.join("l"));
            assert!(
                check_target(&d.join("l"), &[]).is_err(),
                "a link is refused"
            );
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn folders_without_marker_and_files_are_refused_empty_and_reports_accepted() {
        let d = scratch("rules");
        assert!(check_target(&d.join("new/deeper"), &[]).is_ok());
        std::fs::create_dir(d.join("empty")).unwrap();
        assert!(check_target(&d.join("empty"), &[]).is_ok());
        std::fs::create_dir(d.join("mine")).unwrap();
        std::fs::write(d.join("mine/notes.txt"), "x").unwrap();
        let e = check_target(&d.join("mine"), &[]).unwrap_err().to_string();
        assert!(e.contains("exists and is not an ocosim report"), "{e}");
        std::fs::write(d.join("file"), "x").unwrap();
        assert!(check_target(&d.join("file"), &[]).is_err());
        // a marker that is not ours (wrong content, or a folder) does not count
        std::fs::write(d.join("mine").join(MARKER), "something else").unwrap();
        assert!(check_target(&d.join("mine"), &[]).is_err());
        std::fs::remove_file(d.join("mine").join(MARKER)).unwrap();
        std::fs::create_dir(d.join("mine").join(MARKER)).unwrap();
        assert!(check_target(&d.join("mine"), &[]).is_err());
        std::fs::create_dir(d.join("report")).unwrap();
        std::fs::write(d.join("report").join(MARKER), marker_text("run")).unwrap();
        assert!(check_target(&d.join("report"), &[]).is_ok());
        // a folder holding an input, at any depth
        let input = d.join("report/in/s.toml");
        std::fs::create_dir_all(input.parent().unwrap()).unwrap();
        std::fs::write(&input, "x").unwrap();
        let e = check_target(&d.join("report"), std::slice::from_ref(&input))
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds the input"), "{e}");
        assert!(check_target(&d.join("report/in"), &[input]).is_err());
        // the root, by any spelling
        assert!(check_target(Path::new("/"), &[]).is_err());
        assert!(check_target(Path::new("/.."), &[]).is_err());
        assert!(check_target(Path::new("/tmp/.."), &[]).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn publish_replaces_a_report_whole_and_leaves_no_temporary() {
        let d = scratch("publish");
        let target = d.join("r");
        for round in 0..3 {
            let st = Staging::new(&target, &[], "run").unwrap();
            std::fs::write(st.path().join(format!("f{round}")), "data").unwrap();
            st.publish().unwrap();
            assert_eq!(
                names(&target),
                vec![MARKER.to_string(), format!("f{round}")]
            );
        }
        assert_eq!(names(&d), vec!["r".to_string()]);
        // dropped without publishing: nothing changes, nothing is left
        let st = Staging::new(&target, &[], "run").unwrap();
        std::fs::write(st.path().join("half"), "x").unwrap();
        drop(st);
        assert_eq!(names(&d), vec!["r".to_string()]);
        assert_eq!(names(&target), vec![MARKER.to_string(), "f2".to_string()]);
        // a foreign folder that appears after the check is left alone
        let other = d.join("other");
        let st = Staging::new(&other, &[], "run").unwrap();
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("user.txt"), "mine").unwrap();
        assert!(st.publish().is_err());
        assert_eq!(std::fs::read(other.join("user.txt")).unwrap(), b"mine");
        assert_eq!(names(&d), vec!["other".to_string(), "r".to_string()]);
        let left = registry().iter().filter(|e| e.path.starts_with(&d)).count();
        assert_eq!(left, 0, "a temporary is still registered");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn swap_by_rename_fallback_replaces_and_cleans() {
        let d = scratch("fallback");
        let target = d.join("r");
        Staging::new(&target, &[], "run")
            .unwrap()
            .publish()
            .unwrap();
        let st = Staging::new(&target, &[], "run").unwrap();
        std::fs::write(st.path().join("new"), "n").unwrap();
        {
            let mut reg = registry();
            swap_by_rename(&mut reg, &st.tmp, &st.target, st.id).unwrap();
        }
        drop(st);
        assert_eq!(names(&target), vec![MARKER.to_string(), "new".to_string()]);
        assert_eq!(names(&d), vec!["r".to_string()]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn only_registered_temporaries_are_ever_deleted() {
        let d = scratch("guard");
        std::fs::write(d.join("user.txt"), "x").unwrap();
        assert!(remove_registered(&d.join("user.txt")).is_err());
        assert!(remove_registered(&d).is_err());
        assert!(d.join("user.txt").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn atomic_file_write_replaces_and_leaves_no_temporary() {
        let d = scratch("file");
        let p = d.join("a.zip");
        write_file_atomic(&p, b"one").unwrap();
        write_file_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(names(&d), vec!["a.zip".to_string()]);
        assert!(write_file_atomic(&d.join("missing/a.zip"), b"x").is_err());
        assert_eq!(names(&d), vec!["a.zip".to_string()]);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
