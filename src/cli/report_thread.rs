//! Whether `sim run` renders its reports on a thread of their own
//! ([`crate::report::Recorder::on_own_thread`]): the files are the same bytes either way, so this
//! only trades wall time. It is opt-in (`OCOSIM_REPORT_THREAD=1`): measured on this 2-core
//! machine under the usual load of builds and other runs, the hand-over cost more than the second
//! core saved (quarter `sim run` 0.52 s on one thread against 0.55 s with it, medians of 15), and a
//! choice made from the machine's load would make a run's speed depend on its neighbours.

/// The choice for this process (see the module doc): on only with `OCOSIM_REPORT_THREAD=1`, and
/// only where a second core exists.
pub(crate) fn wanted() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores > 1 && std::env::var_os("OCOSIM_REPORT_THREAD").is_some_and(|v| v == "1")
}
