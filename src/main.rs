//! `sim`: parse → run → exit code (0 every invariant held, 1 one was violated, 2 bad input).
use clap::Parser;
use std::io::Write as _;

fn main() {
    // first, before any thread starts: Ctrl-C and SIGTERM remove ocosim's temporary files
    ocosim::output::install_interrupt_handler();
    let cli = match ocosim::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 2,
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    match ocosim::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(f) => {
            // an empty message is a quiet end (stdout closed by its reader)
            if !f.msg.is_empty() {
                let _ = writeln!(std::io::stderr(), "sim: error: {}", f.msg);
            }
            std::process::exit(f.code);
        }
    }
}
