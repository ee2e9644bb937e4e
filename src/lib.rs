//! connreuse: how many handshakes served how many requests, and why.
//!
//! The pipeline runs one way: `capture` yields frames, `decode` turns them
//! into TCP segments, `flow` rebuilds connections and ordered byte streams,
//! the protocol modules (`tls`, `http1`, `http2`) read those streams, and
//! everything they learn lands in the `ledger`, which `findings` diagnoses
//! and `report` renders.
#![forbid(unsafe_code)]

pub mod analyze;
pub mod app;
pub mod budget;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod findings;
pub mod flow;
pub mod gate;
pub mod http1;
pub mod http2;
pub mod keys;
pub mod ledger;
pub mod report;
pub mod text;
pub mod time;
pub mod tls;

pub use time::Ts;

use serde::{Deserialize, Serialize};

/// Which end of a TCP connection sent some bytes, once roles are known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// 0 for the client, 1 for the server: an index into per-side arrays.
    pub fn idx(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

/// Where in the capture something happened: the packet that carried its
/// last byte and that packet's timestamp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct At {
    /// 1-based packet number within its capture file.
    pub packet: u64,
    pub ts: Ts,
}

/// A capture that could not be read to its end.
#[derive(Debug)]
pub struct Problem {
    pub file: String,
    pub error: capture::Error,
}

impl Problem {
    /// Whether nothing at all could be read (exit 2) rather than a capture
    /// damaged part-way (exit 3).
    pub fn is_unreadable(&self) -> bool {
        matches!(self.error, capture::Error::NotACapture)
            || matches!(&self.error, capture::Error::Io(_))
    }
}

/// What a run produced: the ledger, the captures that had problems, and
/// warnings that change no figure.
#[derive(Debug)]
pub struct Outcome {
    pub ledger: ledger::Ledger,
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
}

/// Analyses every capture of `config`, several at once across cores; the
/// result is the same as reading them one after the other, in the order
/// given. `progress`, when given, advances by the bytes read.
pub fn run(config: &cli::Config, progress: Option<&indicatif::ProgressBar>) -> Outcome {
    use rayon::prelude::*;
    let keys = std::sync::Arc::clone(&config.keys);
    let keep = if config.only_compact_json() {
        analyze::Keep::JsonText
    } else if config.lists_connections() {
        analyze::Keep::Records
    } else {
        analyze::Keep::Digests
    };
    // Fewer captures than threads: each capture has helper threads, one
    // reading ahead and one setting its records aside (analyze::Threads).
    let threads = config.jobs.unwrap_or_else(rayon::current_num_threads);
    let each = if config.captures.len() < threads {
        analyze::Threads::Helpers
    } else {
        analyze::Threads::One
    };
    let read_all = || -> Vec<analyze::CaptureResult> {
        config
            .captures
            .par_iter()
            .map(|path| analyze::file_on(path, &keys, progress, keep, each))
            .collect()
    };
    // rayon's global pool has one thread per core; --jobs asks for fewer
    // (or more). A pool that cannot be made leaves the global one.
    let pool = config
        .jobs
        .and_then(|n| rayon::ThreadPoolBuilder::new().num_threads(n).build().ok());
    let results = match &pool {
        Some(pool) => pool.install(read_all),
        None => read_all(),
    };
    let mut parts = Vec::new();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for mut result in results {
        if let Some(w) = result.connections.warning.take() {
            warnings.push(format!("{}: {w}", result.info.file));
        }
        if let Some(error) = result.error.take() {
            result.info.error = Some(error.to_string());
            problems.push(Problem {
                file: result.info.file.clone(),
                error,
            });
        }
        parts.push((result.info, result.connections));
    }
    let mut ledger = ledger::Ledger::new(parts);
    let findings = findings::diagnose(&ledger);
    ledger.set_findings(findings);
    if let Some(w) = ledger.warning.take() {
        warnings.push(w);
    }
    Outcome {
        ledger,
        problems,
        warnings,
    }
}

/// A `--fail-if` gate that tripped, with where and at what value.
#[derive(Debug)]
pub struct Tripped {
    pub gate: String,
    pub places: Vec<(String, f64)>,
}

/// Judges every gate of `config` over the ledger: the gates that tripped,
/// and those that could not be judged because a figure was unknown.
pub fn judge(config: &cli::Config, ledger: &ledger::Ledger) -> (Vec<Tripped>, Vec<String>) {
    if config.gates.is_empty() {
        // The overall figures cost a pass over every connection.
        return (Vec::new(), Vec::new());
    }
    let overall = ledger.overall();
    let (mut tripped, mut unknown) = (Vec::new(), Vec::new());
    for g in &config.gates {
        let servers = ledger
            .servers
            .iter()
            .map(|s| (s.server.as_str(), s as &dyn gate::Figures));
        match g.judge(&overall, servers) {
            gate::Verdict::Pass => {}
            gate::Verdict::Tripped(places) => tripped.push(Tripped {
                gate: g.text.clone(),
                places,
            }),
            gate::Verdict::Unknown(places) => unknown.push(format!(
                "--fail-if '{}' could not be judged for {}: the figure is unknown",
                g.text,
                places.join(", ")
            )),
        }
    }
    (tripped, unknown)
}
