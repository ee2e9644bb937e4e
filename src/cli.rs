//! Command-line arguments, validated into a [`Config`].

use clap::{Parser, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A readable summary for the terminal.
    Table,
    /// The whole ledger as one JSON document (docs/JSON.md).
    Json,
}

/// How many handshakes served how many requests, and why.
///
/// Reads pcap and pcapng captures (plain, gzip or zstd; `-` for stdin),
/// rebuilds every TCP connection and reports them.
///
/// Exit status: 0 success; 1 a --fail-if gate tripped; 2 usage error or
/// unreadable input; 3 a capture is truncated or corrupt (results cover
/// the part before the damage).
#[derive(Debug, Parser)]
#[command(name = "connreuse", version, about, long_about)]
pub struct Args {
    /// Capture files (pcap or pcapng, optionally gzip or zstd); `-` reads stdin.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,

    /// Print no warnings, only the report and errors.
    #[arg(short, long)]
    pub quiet: bool,
}

/// A validated run configuration.
#[derive(Debug)]
pub struct Config {
    pub captures: Vec<PathBuf>,
    pub format: OutputFormat,
    pub quiet: bool,
}

impl TryFrom<Args> for Config {
    type Error = anyhow::Error;

    fn try_from(args: Args) -> anyhow::Result<Config> {
        let stdin_uses = args
            .captures
            .iter()
            .filter(|p| p.as_os_str() == "-")
            .count();
        if stdin_uses > 1 {
            anyhow::bail!("stdin (`-`) can be read only once");
        }
        Ok(Config {
            captures: args.captures,
            format: args.format,
            quiet: args.quiet,
        })
    }
}
