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
pub mod capture;
pub mod cli;
pub mod decode;
pub mod flow;
pub mod gate;
pub mod keys;
pub mod ledger;
pub mod report;
pub mod time;

pub use time::Ts;

use serde::Serialize;

/// Which end of a TCP connection sent some bytes, once roles are known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
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

/// What a run produced: the ledger, and the captures that had problems.
#[derive(Debug)]
pub struct Outcome {
    pub ledger: ledger::Ledger,
    pub problems: Vec<Problem>,
}

/// Analyses every capture of `config`, in the order given.
pub fn run(config: &cli::Config) -> Outcome {
    let mut parts = Vec::new();
    let mut problems = Vec::new();
    for path in &config.captures {
        let mut result = analyze::file(path);
        if let Some(error) = result.error.take() {
            result.info.error = Some(error.to_string());
            problems.push(Problem {
                file: result.info.file.clone(),
                error,
            });
        }
        parts.push((result.info, result.connections));
    }
    Outcome {
        ledger: ledger::Ledger::new(parts),
        problems,
    }
}
