//! Whether `sim run` renders its reports on a thread of their own
//! ([`crate::report::Recorder::on_own_thread`]): the files are the same bytes either way, so this
//! only trades wall time. The thread pays when a core is idle; on a busy machine (several runs or
//! builds at once) the hand-over costs more than it saves, so by default it is used only when the
//! run looks alone: more than one core and a 1-minute load average below `cores - 1`.
//! `OCOSIM_REPORT_THREAD=1` forces it, `=0` keeps the reports on the run's thread.

/// The choice for this process (see the module doc).
pub(crate) fn wanted() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match std::env::var_os("OCOSIM_REPORT_THREAD") {
        Some(v) if v == "1" => true,
        Some(v) if v == "0" => false,
        _ => cores > 1 && load_1m().is_some_and(|l| l < (cores - 1) as f64),
    }
}

/// The 1-minute load average (Linux's `/proc/loadavg`; `None` elsewhere or unreadable).
fn load_1m() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}
