//! Whether `sim run` renders its reports on a thread of their own
//! ([`crate::report::Recorder::on_own_thread`]): the files are the same bytes either way, so this
//! only trades wall time. With three or more cores it is on: the report thread has a core of its
//! own beside the run's (and the inputs' hashing thread at the start). On two cores it is off
//! unless asked for: there the run, the hashing and the report thread share both cores, and
//! measured on this 2-core machine the hand-over won only when nothing else ran (the dense
//! generated year end to end 0.97 s on one thread against 0.78 s with it, idle) and lost under
//! the usual load of builds and other runs (quarter `sim run` 0.52 s against 0.55 s, medians
//! of 15). The choice depends on the machine's core count only, never on its momentary load, so
//! a run's speed does not depend on its neighbours. `OCOSIM_REPORT_THREAD=1` / `=0` forces it.

/// The choice for this process (see the module doc).
pub(crate) fn wanted() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    choose(cores, std::env::var_os("OCOSIM_REPORT_THREAD").as_deref())
}

/// On with three or more cores; `1` turns it on wherever a second core exists, `0` turns it off.
fn choose(cores: usize, forced: Option<&std::ffi::OsStr>) -> bool {
    match forced.and_then(|v| v.to_str()) {
        Some("1") => cores > 1,
        Some("0") => false,
        _ => cores >= 3,
    }
}

#[cfg(test)]
mod tests {
    use super::choose;
    use std::ffi::OsStr;

    #[test]
    fn the_core_count_decides_unless_forced() {
        assert!(!choose(1, None));
        assert!(!choose(2, None));
        assert!(choose(3, None));
        assert!(choose(16, None));
        assert!(choose(2, Some(OsStr::new("1"))));
        assert!(!choose(1, Some(OsStr::new("1"))));
        assert!(!choose(8, Some(OsStr::new("0"))));
        // anything else is the default
        assert!(choose(4, Some(OsStr::new("yes"))));
        assert!(!choose(2, Some(OsStr::new("yes"))));
    }
}
