//! Command-line arguments, validated into a [`Config`].

use crate::gate::Gate;
use crate::keys::KeyLog;
use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Per-server summary and findings for the terminal.
    Table,
    /// The whole ledger as one JSON document (docs/JSON.md).
    Json,
    /// servers.csv, connections.csv, requests.csv, findings.csv and captures.csv in
    /// --csv-dir (docs/REPORTS.md); the table still goes to stdout.
    Csv,
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

    /// Directory for the CSV files of --format csv (created if missing).
    #[arg(long, value_name = "DIR", required_if_eq("format", "csv"))]
    pub csv_dir: Option<PathBuf>,

    /// Also write one self-contained HTML page: summary, findings and a
    /// timeline of every connection (docs/REPORTS.md).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Fail (exit 1) when a condition over the figures holds, e.g.
    /// 'handshakes_per_request > 0.5', 'server.unused_connections > 0',
    /// 'findings > 0'. Repeatable. Grammar and figures: docs/GATES.md.
    #[arg(long = "fail-if", value_name = "EXPR")]
    pub fail_if: Vec<String>,

    /// TLS key log (NSS format: SSLKEYLOGFILE, Go's KeyLogWriter) to decrypt
    /// with; repeatable. The file named by SSLKEYLOGFILE is read too, and a
    /// pcapng's own Decryption Secrets Blocks always are.
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<PathBuf>,

    /// No warnings and no progress bar on stderr.
    #[arg(short, long)]
    pub quiet: bool,

    /// Use at most N threads (one per core by default): N captures read at
    /// once, and with fewer captures than N, two helper threads for each:
    /// one reads (and decompresses) the capture ahead, one sets its
    /// connections' records aside. The report is the same whatever N is.
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

/// A validated run configuration.
#[derive(Debug)]
pub struct Config {
    pub captures: Vec<PathBuf>,
    pub format: OutputFormat,
    pub connections: bool,
    /// The JSON report is indented for reading (stdout is a terminal).
    pub pretty: bool,
    pub csv_dir: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub gates: Vec<Gate>,
    pub quiet: bool,
    /// Captures read at once; None: one per core.
    pub jobs: Option<usize>,
    /// Secrets from every key log given.
    pub keys: Arc<KeyLog>,
    /// Malformed key log lines ("FILE: key log line N: why"), and notes
    /// such as the use of SSLKEYLOGFILE, for stderr.
    pub notes: Vec<String>,
}

impl Config {
    /// Whether the report lists connections, requests or anomalies (and
    /// so needs every connection's record, not just the figures).
    pub fn lists_connections(&self) -> bool {
        self.connections
            || self.html.is_some()
            || matches!(self.format, OutputFormat::Json | OutputFormat::Csv)
    }

    /// Whether the compact JSON document is the only report that lists
    /// connections, so that their records can be kept as its text.
    pub fn only_compact_json(&self) -> bool {
        self.format == OutputFormat::Json
            && !self.pretty
            && !self.connections
            && self.html.is_none()
    }

    /// A quiet run over `captures` with every other setting at its default.
    pub fn new(captures: Vec<PathBuf>) -> Config {
        Config {
            captures,
            format: OutputFormat::Table,
            connections: false,
            pretty: false,
            csv_dir: None,
            html: None,
            gates: Vec::new(),
            quiet: true,
            jobs: None,
            keys: Arc::default(),
            notes: Vec::new(),
        }
    }

    /// The same, decrypting with the key log files `paths`.
    pub fn with_keylogs(captures: Vec<PathBuf>, paths: &[PathBuf]) -> anyhow::Result<Config> {
        let (keys, notes) = load_keylogs(paths)?;
        Ok(Config {
            keys: Arc::new(keys),
            notes,
            ..Config::new(captures)
        })
    }
}

/// Reads and merges key logs; their malformed lines become notes.
fn load_keylogs(paths: &[PathBuf]) -> anyhow::Result<(KeyLog, Vec<String>)> {
    let mut keys = KeyLog::new();
    let mut notes = Vec::new();
    for path in paths {
        let text =
            std::fs::read(path).map_err(|e| anyhow::anyhow!("--keylog {}: {e}", path.display()))?;
        let (log, warnings) = KeyLog::parse(&text);
        notes.extend(warnings.iter().map(|w| format!("{}: {w}", path.display())));
        keys.merge(log);
    }
    Ok((keys, notes))
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
        if args.csv_dir.is_some() && args.format != OutputFormat::Csv {
            anyhow::bail!("--csv-dir goes with --format csv");
        }
        let mut keylogs = args.keylog.clone();
        let mut env_note = None;
        if let Some(path) = std::env::var_os("SSLKEYLOGFILE").filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            if path.is_file() {
                env_note = Some(format!(
                    "reading TLS keys from SSLKEYLOGFILE={}",
                    path.display()
                ));
                keylogs.push(path);
            }
        }
        let (keys, mut notes) = load_keylogs(&keylogs)?;
        notes.splice(0..0, env_note);
        Ok(Config {
            captures: args.captures,
            format: args.format,
            connections: args.connections,
            pretty: false,
            csv_dir: args.csv_dir,
            html: args.html,
            gates,
            quiet: args.quiet,
            jobs: args.jobs.map(usize::from),
            keys: Arc::new(keys),
            notes,
        })
    }
}
