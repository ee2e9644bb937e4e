//! The `connreuse` command: arguments -> config -> analysis -> report -> exit status.

use clap::Parser;
use connreuse::cli::{Args, Config, OutputFormat};
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

/// Exit statuses, as documented in `--help` and the README.
mod exit {
    pub const GATE: u8 = 1;
    pub const USAGE_OR_UNREADABLE: u8 = 2;
    pub const DAMAGED: u8 = 3;
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match Config::try_from(args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("connreuse: {e:#}");
            return ExitCode::from(exit::USAGE_OR_UNREADABLE);
        }
    };
    let outcome = connreuse::run(&config);
    for p in &outcome.problems {
        if p.is_unreadable() {
            eprintln!("connreuse: {}: {}", p.file, p.error);
        } else if !config.quiet {
            eprintln!("connreuse: warning: {}: {}", p.file, p.error);
        }
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let written = match config.format {
        OutputFormat::Table => connreuse::report::table::render(&outcome.ledger, &mut out),
        OutputFormat::Json => {
            let pretty = io::stdout().is_terminal();
            connreuse::report::json::render(&outcome.ledger, &mut out, pretty)
        }
    }
    .and_then(|()| out.flush());
    if let Err(e) = written {
        // A closed pipe (`| head`) is not an error worth a message.
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("connreuse: writing the report: {e}");
            return ExitCode::from(exit::USAGE_OR_UNREADABLE);
        }
        return ExitCode::SUCCESS;
    }
    let _ = exit::GATE;
    if outcome.problems.iter().any(|p| p.is_unreadable()) {
        ExitCode::from(exit::USAGE_OR_UNREADABLE)
    } else if !outcome.problems.is_empty() {
        ExitCode::from(exit::DAMAGED)
    } else {
        ExitCode::SUCCESS
    }
}
