//! Command-line arguments, validated into a [`Config`].

use crate::gate::Gate;
use clap::{Parser, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Per-server summary and findings for the terminal.
    Table,
    /// The whole ledger as one JSON document (docs/JSON.md).
    Json,
}

/// How many handshakes served how many requests, and why.
///
/// Reads pcap and pcapng captures (plain, gzip or zstd; `-` for stdin),
/// rebuilds every TCP connection, recognises TLS handshakes and HTTP
/// requests, and reports per server and per connection, with findings that
/// explain wasted connections and handshakes.
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

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,

    /// Also list every connection in the table output.
    #[arg(long)]
    pub connections: bool,

    /// Fail (exit 1) when a condition over the figures holds, e.g.
    /// 'handshakes_per_request > 0.5', 'server.unused_connections > 0',
    /// 'findings > 0'. Repeatable. Grammar and figures: docs/GATES.md.
    #[arg(long = "fail-if", value_name = "EXPR")]
    pub fail_if: Vec<String>,

    /// No warnings and no progress bar on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// A validated run configuration.
#[derive(Debug)]
pub struct Config {
    pub captures: Vec<PathBuf>,
    pub format: OutputFormat,
    pub connections: bool,
    pub gates: Vec<Gate>,
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
        let gates = args
            .fail_if
            .iter()
            .map(|e| {
                e.parse::<Gate>()
                    .map_err(|err| anyhow::anyhow!("--fail-if '{e}': {err}"))
            })
            .collect::<anyhow::Result<Vec<Gate>>>()?;
        Ok(Config {
            captures: args.captures,
            format: args.format,
            connections: args.connections,
            gates,
            quiet: args.quiet,
        })
    }
}
