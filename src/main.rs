//! `sim`: parse → run → exit code (0 every invariant held, 1 one was violated, 2 bad input).
use clap::Parser;

fn main() {
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
            eprintln!("sim: error: {}", f.msg);
            std::process::exit(f.code);
        }
    }
}
