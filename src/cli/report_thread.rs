//! Whether `sim run` renders its reports on a thread of their own
//! ([`crate::report::Recorder::on_own_thread`]): the files are the same bytes either way, so this
//! only trades wall time. It is on wherever the process has a second core. Measured on this
//! 2-core machine, `sim run` of the dense generated year (34,822 trades, reports at level `all`),
//! medians of alternating runs, one thread against the report thread: idle 0.60 s against
//! 0.43 s; with one core busy with other work 0.64 s against 0.63 s; with both busy 0.86 s
//! against 0.82 s. (Until round 17 it was on only with three or more cores: the queue to the
//! report thread held 4 batches, and under load the run stalled on it and lost 5–10 %; see
//! `IN_FLIGHT` in `report::stream`.) `OCOSIM_REPORT_THREAD=0` turns it off, `=1` is the default.

/// The choice for this process (see the module doc).
pub(crate) fn wanted() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    choose(cores, std::env::var_os("OCOSIM_REPORT_THREAD").as_deref())
}

/// On with two or more cores, unless `0` turns it off.
fn choose(cores: usize, forced: Option<&std::ffi::OsStr>) -> bool {
    match forced.and_then(|v| v.to_str()) {
        Some("0") => false,
        _ => cores >= 2,
    }
}

#[cfg(test)]
mod tests {
    use super::choose;
    use std::ffi::OsStr;

    #[test]
    fn the_core_count_decides_unless_forced() {
        assert!(!choose(1, None));
        assert!(choose(2, None));
        assert!(choose(16, None));
        assert!(choose(2, Some(OsStr::new("1"))));
        assert!(!choose(1, Some(OsStr::new("1"))));
        assert!(!choose(2, Some(OsStr::new("0"))));
        assert!(!choose(8, Some(OsStr::new("0"))));
        // anything else is the default
        assert!(choose(4, Some(OsStr::new("yes"))));
        assert!(!choose(1, Some(OsStr::new("yes"))));
    }
}
