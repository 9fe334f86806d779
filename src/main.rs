//! `sim`: parse → run → exit code (0 every invariant held, 1 one was violated, 2 bad input).
use clap::Parser;
use std::io::Write as _;

fn main() {
    // first, before any thread starts: Ctrl-C and SIGTERM remove ocosim's temporary files
    ocosim::output::install_interrupt_handler();
    let cli = match ocosim::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    std::process::exit(0);
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    std::process::exit(2);
                }
                _ => {
                    // a bad argument is one line, like every other input error: clap's first
                    // paragraph, joined
                    let text = e.render().to_string();
                    let first: Vec<&str> = text
                        .lines()
                        .map(str::trim)
                        .take_while(|l| !l.is_empty())
                        .collect();
                    let msg = first.join(" ");
                    let msg = msg.strip_prefix("error: ").unwrap_or(&msg);
                    eprintln!("sim: error: {msg} (see --help)");
                    std::process::exit(2);
                }
            }
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
