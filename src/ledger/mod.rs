//! The ledger: everything the analysis learned, as plain serialisable data.
//! No I/O here; `findings` reads it and `report` renders it.

use crate::{Side, Ts};
use serde::Serialize;
use std::net::SocketAddr;

/// One HTTP request (HTTP/1.x or one HTTP/2 stream) and its response.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Request {
    /// Index into the report's `connections[]`; filled in when the
    /// connection is entered into the ledger.
    pub connection: usize,
    pub method: String,
    /// `:authority` in HTTP/2, the Host header in HTTP/1.x.
    pub authority: Option<String>,
    pub path: String,
    /// Final (non-1xx) response status; None when no response was seen.
    pub status: Option<u16>,
    /// The HTTP/2 stream id; None for HTTP/1.x.
    pub stream_id: Option<u32>,
    /// Time of the packet carrying the first byte of the request.
    pub start: Ts,
    /// Time of the packet carrying the last byte of the response, if seen.
    pub end: Option<Ts>,
    /// Response body bytes as delivered on the wire (after de-chunking,
    /// before content decoding); None when unknown.
    pub response_bytes: Option<u64>,
}

/// A figure per side of a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PerSide<T> {
    pub client: T,
    pub server: T,
}

impl<T> From<[T; 2]> for PerSide<T> {
    fn from([client, server]: [T; 2]) -> Self {
        PerSide { client, server }
    }
}

/// How a side ended a TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Close {
    Fin,
    Rst,
}

/// What TCP shows of one connection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tcp {
    #[serde(serialize_with = "ser_addr")]
    pub client: SocketAddr,
    #[serde(serialize_with = "ser_addr")]
    pub server: SocketAddr,
    /// 1-based number of the connection's first packet in its capture.
    pub first_packet: u64,
    pub start: Ts,
    pub end: Ts,
    /// The client's SYN was captured: a TCP handshake.
    pub syn_seen: bool,
    pub synack_seen: bool,
    /// No SYN told who the client is: the roles were inferred.
    pub role_inferred: bool,
    pub packets: PerSide<u64>,
    /// TCP payload bytes on the wire, retransmissions included.
    pub bytes: PerSide<u64>,
    /// Distinct payload bytes delivered in order to the protocol parsers.
    pub stream_bytes: PerSide<u64>,
    /// Payload bytes never captured (holes in the sequence space).
    pub gap_bytes: PerSide<u64>,
    /// Segments that carried nothing new.
    pub retransmissions: PerSide<u64>,
    pub closed_by: Option<Side>,
    pub close: Option<Close>,
}

/// "ip:port", with IPv6 in brackets: Rust's `SocketAddr` display.
fn ser_addr<S: serde::Serializer>(a: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(a)
}

/// The version of the JSON document's layout; bumped when a field changes
/// meaning or disappears (fields are only ever added within a version).
pub const SCHEMA_VERSION: u32 = 1;

/// One capture file read.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Capture {
    pub file: String,
    pub format: Option<crate::capture::Format>,
    pub compression: Option<crate::capture::Compression>,
    pub packets: u64,
    /// Bytes of the (decompressed) capture read.
    pub bytes: u64,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    pub tcp_packets: u64,
    /// IP packets of other protocols, and non-IP frames.
    pub other_packets: u64,
    /// Frames of a link type this tool does not read.
    pub unknown_link_packets: u64,
    /// IP fragments (TCP is not reassembled from fragments).
    pub fragments: u64,
    pub malformed_packets: u64,
    /// Why reading stopped before the end, if it did.
    pub error: Option<String>,
}

/// One TCP connection and what it carried.
#[derive(Clone, Debug, Serialize)]
pub struct Connection {
    /// The capture file it was seen in.
    pub capture: String,
    #[serde(flatten)]
    pub tcp: Tcp,
    pub protocol: crate::app::Protocol,
    /// The TLS facts; null when the connection carries no TLS.
    pub tls: Option<crate::tls::TlsSummary>,
    /// Every TLS handshake on the connection (the summary describes the first).
    #[serde(skip)]
    pub handshakes: Vec<crate::tls::Handshake>,
    /// Filled into the ledger's `anomalies[]` with this connection's index.
    #[serde(skip)]
    pub anomalies: Vec<Anomaly>,
}

/// Which layer an anomaly was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Tcp,
    Tls,
    Http,
}

/// Malformed protocol data or a cap that was hit: reported, never fatal.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Anomaly {
    /// Index into `connections[]`.
    pub connection: usize,
    pub layer: Layer,
    pub kind: String,
    pub side: Option<Side>,
    /// 1-based packet number in the connection's capture.
    pub packet: u64,
    pub bytes: Option<u64>,
}

/// TLS handshakes by how they ended and whether they resumed a session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HandshakeTotals {
    pub total: usize,
    pub completed: usize,
    pub abandoned: usize,
    pub failed: usize,
    pub incomplete: usize,
    /// Resumed a session (TLS 1.2 abbreviated handshake, TLS 1.3 PSK).
    pub resumed: usize,
    /// Known not to be resumed.
    pub full: usize,
}

impl HandshakeTotals {
    fn add(&mut self, h: &crate::tls::Handshake) {
        use crate::tls::Outcome;
        self.total += 1;
        match h.outcome {
            Outcome::Completed => self.completed += 1,
            Outcome::Abandoned => self.abandoned += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Incomplete => self.incomplete += 1,
        }
        match h.resumed {
            Some(true) => self.resumed += 1,
            Some(false) => self.full += 1,
            None => {}
        }
    }
}

/// Figures over every capture in the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub captures: usize,
    pub packets: u64,
    /// Connections seen, with or without their SYN.
    pub tcp_connections: usize,
    /// Connections whose client SYN was seen.
    pub tcp_handshakes: usize,
    /// ClientHello messages, HelloRetryRequest retries included.
    pub tls_client_hellos: u64,
    pub tls_handshakes: HandshakeTotals,
}

/// Everything one run learned.
#[derive(Clone, Debug, Serialize)]
pub struct Ledger {
    pub schema_version: u32,
    pub captures: Vec<Capture>,
    pub totals: Totals,
    pub connections: Vec<Connection>,
    pub anomalies: Vec<Anomaly>,
}

impl Ledger {
    /// Builds the ledger from per-capture results, in the order given.
    pub fn new(parts: Vec<(Capture, Vec<Connection>)>) -> Ledger {
        let mut captures = Vec::new();
        let mut connections = Vec::new();
        for (info, conns) in parts {
            captures.push(info);
            connections.extend(conns);
        }
        let mut tls_handshakes = HandshakeTotals::default();
        let mut anomalies = Vec::new();
        for (i, c) in connections.iter().enumerate() {
            c.handshakes.iter().for_each(|h| tls_handshakes.add(h));
            anomalies.extend(c.anomalies.iter().map(|a| Anomaly {
                connection: i,
                ..a.clone()
            }));
        }
        let totals = Totals {
            captures: captures.len(),
            packets: captures.iter().map(|c| c.packets).sum(),
            tcp_connections: connections.len(),
            tcp_handshakes: connections.iter().filter(|c| c.tcp.syn_seen).count(),
            tls_client_hellos: connections
                .iter()
                .filter_map(|c| c.tls.as_ref())
                .map(|t| t.client_hellos)
                .sum(),
            tls_handshakes,
        };
        Ledger {
            schema_version: SCHEMA_VERSION,
            captures,
            totals,
            connections,
            anomalies,
        }
    }
}
