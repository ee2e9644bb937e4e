//! The `connreuse` command: arguments -> config -> analysis -> report -> exit status.

use clap::Parser;
use connreuse::cli::{Args, Config, OutputFormat};
use connreuse::report;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

/// Exit statuses, as documented in `--help` and the README.
mod exit {
    pub const GATE: u8 = 1;
    pub const USAGE_OR_UNREADABLE: u8 = 2;
    pub const DAMAGED: u8 = 3;
}

/// A byte-driven progress bar on stderr, only when stderr is a terminal.
fn progress(config: &Config) -> Option<ProgressBar> {
    if config.quiet || !io::stderr().is_terminal() {
        return None;
    }
    let total: u64 = config
        .captures
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = match Config::try_from(args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("connreuse: {e:#}");
            return ExitCode::from(exit::USAGE_OR_UNREADABLE);
        }
    };
    if !config.quiet {
        for note in &config.notes {
            eprintln!("connreuse: {note}");
        }
    }
    let stdout = io::stdout();
    let terminal = stdout.is_terminal();
    config.pretty = terminal;
    let bar = progress(&config);
    let outcome = connreuse::run(&config, bar.as_ref());
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if !config.quiet {
        for w in &outcome.warnings {
            eprintln!("connreuse: warning: {w}");
        }
        for c in &outcome.ledger.captures {
            for w in &c.keylog_warnings {
                eprintln!(
                    "connreuse: warning: {}: decryption secrets block: {w}",
                    c.file
                );
            }
        }
    }
    for p in &outcome.problems {
        if p.is_unreadable() {
            eprintln!("connreuse: {}: {}", p.file, p.error);
        } else if !config.quiet {
            eprintln!("connreuse: warning: {}: {}", p.file, p.error);
        }
    }
    // serde_json writes in small pieces: a large buffer makes few calls.
    // Not a terminal, they go to the file itself: stdout's line buffering
    // would look through each megabyte for a line break.
    let direct = (!terminal).then(|| stdout_file(&stdout)).flatten();
    let sink: Box<dyn Write> = match direct {
        Some(file) => Box::new(file),
        None => Box::new(stdout.lock()),
    };
    let mut out = io::BufWriter::with_capacity(1 << 20, sink);
    // Files first: a report that cannot be written is an error (exit 2).
    let files = (|| -> io::Result<()> {
        if let (OutputFormat::Csv, Some(dir)) = (config.format, &config.csv_dir) {
            report::csv::write_csv(&outcome.ledger, dir, &config.captures)?;
        }
        if let Some(path) = &config.html {
            report::html::write_html_file(&outcome.ledger, path, &config.captures)?;
        }
        Ok(())
    })();
    if let Err(e) = files {
        eprintln!("connreuse: writing the report files: {e}");
        return ExitCode::from(exit::USAGE_OR_UNREADABLE);
    }
    let written = match config.format {
        OutputFormat::Table | OutputFormat::Csv => {
            let style = report::table::Style {
                colour: terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
                connections: config.connections,
            };
            report::table::render(&outcome.ledger, &mut out, style)
        }
        OutputFormat::Json => report::json::render(&outcome.ledger, &mut out, config.pretty),
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
    let (tripped, unknown) = connreuse::judge(&config, &outcome.ledger);
    if let Err(e) = outcome.ledger.readable() {
        // The gates' overall figures read every digest once more.
        eprintln!("connreuse: judging the gates: {e}");
        return ExitCode::from(exit::USAGE_OR_UNREADABLE);
    }
    if !config.quiet {
        for u in &unknown {
            eprintln!("connreuse: warning: {u}");
        }
    }
    for t in &tripped {
        let places: Vec<String> = t.places.iter().map(|(p, v)| format!("{p} = {v}")).collect();
        eprintln!(
            "connreuse: --fail-if '{}' tripped: {}",
            t.gate,
            places.join(", ")
        );
    }
    if outcome.problems.iter().any(|p| p.is_unreadable()) {
        ExitCode::from(exit::USAGE_OR_UNREADABLE)
    } else if !tripped.is_empty() {
        ExitCode::from(exit::GATE)
    } else if !outcome.problems.is_empty() {
        ExitCode::from(exit::DAMAGED)
    } else {
        ExitCode::SUCCESS
    }
}

/// The file stdout writes to, without stdout's own buffering.
#[cfg(unix)]
fn stdout_file(stdout: &io::Stdout) -> Option<std::fs::File> {
    use std::os::fd::AsFd;
    stdout
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .map(std::fs::File::from)
}

#[cfg(not(unix))]
fn stdout_file(_: &io::Stdout) -> Option<std::fs::File> {
    None
}
