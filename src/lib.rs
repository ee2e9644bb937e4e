//! connreuse: how many handshakes served how many requests, and why.
//!
//! The pipeline runs one way: `capture` yields frames, `decode` turns them
//! into TCP segments, `flow` rebuilds connections and ordered byte streams,
//! the protocol modules (`tls`, `http1`, `http2`) read those streams, and
//! everything they learn lands in the `ledger`, which `findings` diagnoses
//! and `report` renders.
#![forbid(unsafe_code)]

pub mod http1;
pub mod http2;
pub mod ledger;
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
