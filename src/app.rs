//! Per-connection protocol dispatch: recognises what a connection's streams
//! speak from their first bytes, on any port, and hands them to the parser
//! for it.
//!
//! Recognition looks at up to [`SNIFF_LEN`] bytes of each side: a TLS
//! handshake record (or an application-data record, when the capture began
//! after the handshake) makes the connection TLS; anything else is `other`
//! and is only counted. The HTTP parsers hook in at the same point.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use crate::flow::Analyzer;
use crate::ledger::{Anomaly, Close, Layer};
use crate::tls::{self, TlsSession};
use crate::{At, Side};
use serde::Serialize;

/// Bytes of each side looked at before giving up on recognising it.
pub const SNIFF_LEN: usize = 16;

/// What a connection's streams were recognised as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// No payload, or not enough to tell.
    #[default]
    Unknown,
    Tls,
    /// Payload that none of our parsers reads.
    Other,
}

/// Parser state of one connection.
#[derive(Debug, Default)]
enum State {
    /// Nothing recognised yet; the first bytes of each side wait in `sniff`.
    #[default]
    Sniffing,
    Tls(Box<TlsSession>),
    /// Not a protocol we read, or its beginning was not captured.
    Other,
}

/// The analyzer of one connection.
#[derive(Debug, Default)]
pub struct Session {
    state: State,
    /// The first bytes of each side (client, server) while sniffing.
    sniff: [Vec<u8>; 2],
}

/// What a TLS stream looks like when the capture began after its handshake:
/// an application-data record header (RFC 8446 section 5.1).
fn looks_like_tls_midstream(b: &[u8]) -> Option<bool> {
    match b {
        [0x17, 0x03, minor, hi, lo, ..] => {
            Some(*minor <= 4 && usize::from(u16::from_be_bytes([*hi, *lo])) <= tls::MAX_RECORD_LEN)
        }
        [0x17] | [0x17, 0x03] | [0x17, 0x03, _] | [0x17, 0x03, _, _] => None,
        _ => Some(false),
    }
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    pub fn protocol(&self) -> Protocol {
        match &self.state {
            State::Sniffing => Protocol::Unknown,
            State::Tls(_) => Protocol::Tls,
            State::Other => Protocol::Other,
        }
    }

    pub fn tls(&self) -> Option<&TlsSession> {
        match &self.state {
            State::Tls(t) => Some(t),
            State::Sniffing | State::Other => None,
        }
    }

    /// Anomalies the parsers recorded, for the ledger.
    pub fn anomalies(&self) -> Vec<Anomaly> {
        match &self.state {
            State::Tls(t) => t
                .anomalies()
                .iter()
                .map(|a| Anomaly {
                    connection: 0,
                    layer: Layer::Tls,
                    kind: serde_json::to_value(a.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    side: Some(a.side),
                    packet: a.packet,
                    bytes: a.bytes,
                })
                .collect(),
            State::Sniffing | State::Other => Vec::new(),
        }
    }

    /// Decides what the streams speak, from this side's first bytes.
    fn recognise(&mut self, side: Side, data: &[u8]) -> Option<State> {
        let buf = self.sniff.get(side.idx()).map_or(&[][..], Vec::as_slice);
        let mut head = [0u8; SNIFF_LEN];
        let have = buf.len().min(SNIFF_LEN);
        let take = data.len().min(SNIFF_LEN - have);
        if let (Some(dst), Some(src)) = (head.get_mut(..have), buf.get(..have)) {
            dst.copy_from_slice(src);
        }
        if let (Some(dst), Some(src)) = (head.get_mut(have..have + take), data.get(..take)) {
            dst.copy_from_slice(src);
        }
        let head = head.get(..have + take).unwrap_or_default();
        match (tls::looks_like_tls(head), looks_like_tls_midstream(head)) {
            (Some(true), _) | (_, Some(true)) => Some(State::Tls(Box::default())),
            (Some(false), Some(false)) => Some(State::Other),
            _ if head.len() >= SNIFF_LEN => Some(State::Other),
            _ => None,
        }
    }
}

impl Analyzer for Session {
    fn on_data(&mut self, side: Side, data: &[u8], at: At) {
        if let State::Sniffing = self.state {
            match self.recognise(side, data) {
                None => {
                    if let Some(buf) = self.sniff.get_mut(side.idx()) {
                        buf.extend_from_slice(data);
                    }
                    return;
                }
                Some(mut state) => {
                    // Replay what waited, the other side's first.
                    let [client, server] = std::mem::take(&mut self.sniff);
                    if let State::Tls(t) = &mut state {
                        for (s, bytes) in [(Side::Client, client), (Side::Server, server)] {
                            if !bytes.is_empty() {
                                t.on_data(s, &bytes, at);
                            }
                        }
                    }
                    self.state = state;
                }
            }
        }
        match &mut self.state {
            State::Tls(t) => t.on_data(side, data, at),
            State::Sniffing | State::Other => {}
        }
    }

    fn on_gap(&mut self, side: Side, len: u64, _at: At) {
        match &mut self.state {
            // The beginning was lost: nothing reliable can be recognised.
            State::Sniffing => {
                self.state = State::Other;
                self.sniff = Default::default();
            }
            State::Tls(t) => t.on_gap(side, len),
            State::Other => {}
        }
    }

    fn on_close(&mut self, closer: Option<(Side, Close)>, at: At) {
        if let State::Sniffing = self.state
            && self.sniff.iter().any(|b| !b.is_empty())
        {
            // A stream shorter than it takes to recognise: judge what there is.
            let [client, server] = std::mem::take(&mut self.sniff);
            let tls = [&client, &server]
                .iter()
                .any(|b| tls::looks_like_tls(b) == Some(true));
            self.state = if tls {
                let mut t = Box::<TlsSession>::default();
                for (s, bytes) in [(Side::Client, client), (Side::Server, server)] {
                    if !bytes.is_empty() {
                        t.on_data(s, &bytes, at);
                    }
                }
                State::Tls(t)
            } else {
                State::Other
            };
        }
        if let State::Tls(t) = &mut self.state {
            t.on_close(closer, at);
        }
    }
}
