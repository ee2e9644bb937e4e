//! The ledger: everything the analysis learned, as plain serialisable data.
//! No I/O here; `findings` reads it and `report` renders it.

pub mod compact;
pub mod digest;
pub mod runs;
pub mod servers;
pub mod store;

use crate::text::StackText;
use crate::{Side, Ts};
use serde::{Deserialize, Serialize};
use std::io;
use std::net::SocketAddr;

pub use digest::Digest;
pub use store::{Connections, Part};

/// One HTTP request (HTTP/1.x or one HTTP/2 stream) and its response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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

/// A connection's requests in brief.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestSpan {
    /// The first request's start.
    pub first_start: Option<Ts>,
    /// The last response's end, the connection's end standing in for a
    /// response not seen.
    pub busy_end: Option<Ts>,
    /// The last response seen.
    pub last_response: Option<Ts>,
    /// The first request's Host or `:authority`.
    pub authority: Option<String>,
}

impl RequestSpan {
    pub fn of(requests: &[Request], connection_end: Ts) -> Self {
        RequestSpan {
            first_start: requests.iter().map(|r| r.start).min(),
            busy_end: requests
                .iter()
                .map(|r| r.end.unwrap_or(connection_end))
                .max(),
            last_response: requests.iter().filter_map(|r| r.end).max(),
            authority: requests.iter().find_map(|r| r.authority.clone()),
        }
    }

    /// This span and `other`'s together (the first start, the last end);
    /// this one's authority, else `other`'s.
    pub fn with(self, other: RequestSpan) -> Self {
        fn either(a: Option<Ts>, b: Option<Ts>, pick: fn(Ts, Ts) -> Ts) -> Option<Ts> {
            match (a, b) {
                (Some(a), Some(b)) => Some(pick(a, b)),
                (a, b) => a.or(b),
            }
        }
        RequestSpan {
            first_start: either(self.first_start, other.first_start, Ts::min),
            busy_end: either(self.busy_end, other.busy_end, Ts::max),
            last_response: either(self.last_response, other.last_response, Ts::max),
            authority: self.authority.or(other.authority),
        }
    }
}

/// A figure per side of a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Close {
    Fin,
    Rst,
}

/// What TCP shows of one connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// When `closed_by` sent its FIN or RST.
    pub closed_at: Option<Ts>,
    /// Finished before its end because too many connections were alive
    /// at once (flow::MAX_LIVE): what it carried afterwards is not counted.
    /// Present only when true.
    /// Last, and `default` when read back: the spill's compact form ends
    /// one element early when it is skipped (`ledger::store`).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub evicted: bool,
}

/// "ip:port", with IPv6 in brackets (Rust's `SocketAddr` display) in the
/// report; serde's compact form in the spill of finished connections.
fn ser_addr<S: serde::Serializer>(a: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
    match a {
        SocketAddr::V4(v4) if s.is_human_readable() => s.serialize_str(v4_text(v4).as_str()),
        _ if s.is_human_readable() => s.collect_str(a),
        _ => a.serialize(s),
    }
}

/// An IPv4 address and port as Rust displays them (`10.0.0.1:443`, at
/// most 21 bytes), written without the formatting machinery: two per
/// connection in the JSON report, where `Display` was 4% of a run on short
/// connections.
pub fn v4_text(a: &std::net::SocketAddrV4) -> StackText<21> {
    let mut t = StackText::new();
    let mut num = itoa::Buffer::new();
    for (k, octet) in a.ip().octets().into_iter().enumerate() {
        if k > 0 {
            t.push(b".");
        }
        t.push(num.format(octet).as_bytes());
    }
    t.push(b":");
    t.push(num.format(a.port()).as_bytes());
    t
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
    /// The capture carries TLS secrets (pcapng Decryption Secrets Blocks).
    pub embedded_secrets: bool,
    /// Malformed lines of those secrets (line numbers and why; never the
    /// secrets themselves).
    pub keylog_warnings: Vec<String>,
    /// What reading this capture gave up on to stay within its caps.
    pub limits: Limits,
}

/// What connreuse gave up on to keep memory bounded, or could not place in
/// a stream (docs/RELIABILITY.md lists the caps): per capture, and summed
/// in the totals. Every figure is an exact count; all zero when nothing
/// was given up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Open connections finished early because `flow::MAX_LIVE` were
    /// alive at once (each is marked `evicted`).
    pub connections_evicted: u64,
    /// Times a direction's out-of-order buffer (`flow::reassembly::MAX_PENDING`)
    /// was full and a hole was given up on.
    pub reassembly_cap_hits: u64,
    /// Bytes declared lost at those hits (holes not waited for).
    pub reassembly_cap_gap_bytes: u64,
    /// Times the capture's out-of-order budget (`flow::GLOBAL_PENDING`) was
    /// spent and a hole was given up on.
    pub reassembly_budget_hits: u64,
    /// Bytes declared lost at those hits.
    pub reassembly_budget_gap_bytes: u64,
    /// Segments too far from their stream's next byte
    /// (`flow::reassembly::MAX_WINDOW`), dropped.
    pub segments_out_of_window: u64,
    /// Payload bytes those segments carried.
    pub bytes_out_of_window: u64,
    /// Payload bytes never delivered to the parsers, over every connection
    /// and side: the sum of `connections[].gap_bytes`, the bytes above
    /// included.
    pub gap_bytes: u64,
    /// Key log text from Decryption Secrets Blocks dropped because
    /// `capture::MAX_SECRETS` bytes were waiting already.
    pub secrets_dropped_bytes: u64,
    /// Times a parser's buffer could not grow because the capture's
    /// parsers held `budget::PARSER_BUDGET` bytes at once; each gave that
    /// buffer up as at its own cap (anomaly `parser_budget`).
    pub parser_budget_refusals: u64,
    /// Requests counted but not listed because the capture's connections
    /// held `budget::REQUEST_BUDGET` bytes of listed requests at once (the
    /// sum of `http.requests_not_listed`).
    pub requests_not_listed: u64,
    /// Connections to servers past the first `store::MAX_SERVERS` of the
    /// capture, counted together as one server (`name_source: other`).
    pub connections_to_other_servers: u64,
}

impl Limits {
    /// What the TCP layer and the reader gave up on in a capture, in words;
    /// None when nothing (docs/JSON.md, `limits`).
    pub fn describe(&self) -> Option<String> {
        let l = self;
        let hits = l.reassembly_cap_hits + l.reassembly_budget_hits;
        let parts: Vec<String> = [
            (
                l.gap_bytes,
                format!(
                    "{} bytes of TCP payload never captured or given up",
                    l.gap_bytes
                ),
            ),
            (
                l.connections_evicted,
                format!(
                    "{} connections finished early (too many alive at once)",
                    l.connections_evicted
                ),
            ),
            (
                hits,
                format!(
                    "{hits} holes given up at the reassembly caps ({} bytes)",
                    l.reassembly_cap_gap_bytes + l.reassembly_budget_gap_bytes
                ),
            ),
            (
                l.segments_out_of_window,
                format!(
                    "{} segments out of window ({} bytes)",
                    l.segments_out_of_window, l.bytes_out_of_window
                ),
            ),
            (
                l.parser_budget_refusals,
                format!(
                    "{} parser buffers given up at the memory budget",
                    l.parser_budget_refusals
                ),
            ),
            (
                l.secrets_dropped_bytes,
                format!(
                    "{} bytes of embedded TLS secrets dropped",
                    l.secrets_dropped_bytes
                ),
            ),
            (
                l.requests_not_listed,
                format!(
                    "{} requests counted but not listed (too many held at once)",
                    l.requests_not_listed
                ),
            ),
            (
                l.connections_to_other_servers,
                format!(
                    "{} connections to servers past the first {} counted as one",
                    l.connections_to_other_servers,
                    store::MAX_SERVERS
                ),
            ),
        ]
        .into_iter()
        .filter(|(count, _)| *count > 0)
        .map(|(_, text)| text)
        .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Limits) {
        let Limits {
            connections_evicted,
            reassembly_cap_hits,
            reassembly_cap_gap_bytes,
            reassembly_budget_hits,
            reassembly_budget_gap_bytes,
            segments_out_of_window,
            bytes_out_of_window,
            gap_bytes,
            secrets_dropped_bytes,
            parser_budget_refusals,
            requests_not_listed,
            connections_to_other_servers,
        } = *other;
        self.connections_evicted += connections_evicted;
        self.reassembly_cap_hits += reassembly_cap_hits;
        self.reassembly_cap_gap_bytes += reassembly_cap_gap_bytes;
        self.reassembly_budget_hits += reassembly_budget_hits;
        self.reassembly_budget_gap_bytes += reassembly_budget_gap_bytes;
        self.segments_out_of_window += segments_out_of_window;
        self.bytes_out_of_window += bytes_out_of_window;
        self.gap_bytes += gap_bytes;
        self.secrets_dropped_bytes += secrets_dropped_bytes;
        self.parser_budget_refusals += parser_budget_refusals;
        self.requests_not_listed += requests_not_listed;
        self.connections_to_other_servers += connections_to_other_servers;
    }
}

/// One TCP connection and what it carried.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Connection {
    /// The capture file it was seen in (shared by its connections).
    pub capture: std::sync::Arc<str>,
    #[serde(flatten)]
    pub tcp: Tcp,
    pub protocol: crate::app::Protocol,
    /// The TLS facts; null when the connection carries no TLS.
    pub tls: Option<crate::tls::TlsSummary>,
    /// The HTTP facts; null when the connection carries no HTTP that can
    /// be seen or estimated.
    pub http: Option<Http>,
    /// Moved into the ledger's `requests[]` with this connection's index.
    #[serde(skip)]
    pub requests: Vec<Request>,
    /// What the findings and server names need of `requests`, set when
    /// they move into the ledger.
    #[serde(skip)]
    pub request_span: RequestSpan,
    /// Inside TLS, when application data was busy by its records
    /// (`findings::record_span`); the records themselves are not kept.
    #[serde(skip)]
    pub record_span: Option<(Ts, Ts)>,
    /// Every TLS handshake on the connection (the summary describes the
    /// first), reduced to what the totals, findings and timeline use.
    #[serde(skip)]
    pub handshakes: Vec<HandshakeBrief>,
    /// Filled into the ledger's `anomalies[]` with this connection's index.
    #[serde(skip)]
    pub anomalies: Vec<Anomaly>,
}

/// Which layer an anomaly was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Tcp,
    Tls,
    Http,
}

/// Malformed protocol data or a cap that was hit: reported, never fatal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// One TLS handshake as the ledger keeps it: the parser's
/// [`crate::tls::Handshake`] without its ClientHello, which is most of its
/// size and which nothing after the connection's end reads except whether
/// it offered to resume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HandshakeBrief {
    pub version: Option<u16>,
    pub outcome: crate::tls::Outcome,
    pub resumed: Option<bool>,
    /// The ClientHello offered a session to resume.
    pub resumption_offered: bool,
    /// The ClientHello's legacy_version (RFC 8446 section 4.1.2).
    pub client_legacy_version: Option<u16>,
    pub client_hello_packet: Option<u64>,
    pub client_hello_ts: Option<Ts>,
    pub secs_to_complete: Option<f64>,
    pub secs_to_close: Option<f64>,
    pub completed_packet: Option<u64>,
}

impl From<&crate::tls::Handshake> for HandshakeBrief {
    fn from(h: &crate::tls::Handshake) -> Self {
        // TLS 1.3 resumes only with a PSK (RFC 8446 section 2.2); its
        // legacy session id is a middlebox-compatibility value (D.4), and a
        // client that also supports TLS 1.3 fills it with random bytes, so
        // only a 1.2-only client's session id is an offer. TLS 1.2 resumes
        // with a session id or a ticket (RFC 5077 section 3.4).
        let tls13 = h.version == Some(0x0304);
        let resumption_offered = h.client_hello.as_ref().is_some_and(|ch| {
            let compat_id = ch.supported_versions.contains(&0x0304);
            ch.psk
                || (!tls13
                    && ((!ch.session_id.is_empty() && !compat_id)
                        || matches!(ch.session_ticket, crate::tls::TicketOffer::Ticket(_))))
        });
        HandshakeBrief {
            version: h.version,
            outcome: h.outcome,
            resumed: h.resumed,
            resumption_offered,
            client_legacy_version: h.client_hello.as_ref().map(|ch| ch.legacy_version),
            client_hello_packet: h.client_hello_packet,
            client_hello_ts: h.client_hello_ts,
            secs_to_complete: h.secs_to_complete,
            secs_to_close: h.secs_to_close,
            completed_packet: h.completed_packet,
        }
    }
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
    fn add(&mut self, h: &digest::HandshakeCounts) {
        self.total += usize::from(h.total);
        self.completed += usize::from(h.completed);
        self.abandoned += usize::from(h.abandoned);
        self.failed += usize::from(h.failed);
        self.incomplete += usize::from(h.incomplete);
        self.resumed += usize::from(h.resumed);
        self.full += usize::from(h.full);
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
    /// Requests parsed (cleartext or decrypted).
    pub requests: u64,
    /// Requests estimated from encrypted traffic.
    pub requests_estimated: u64,
    /// Connections whose request count cannot be told (HTTP/2, or what may
    /// be HTTP/2, inside TLS without keys, that sent application data):
    /// their requests are in neither figure above.
    pub connections_unknown_requests: usize,
    /// TLS connections whose handshake had secrets in a key log.
    pub connections_with_keys: usize,
    /// TLS connections whose records were all decrypted.
    pub connections_decrypted: usize,
    /// Connections with at least one observed or estimated request, or,
    /// where requests cannot be counted, with application data beyond
    /// setting the connection up.
    pub connections_with_requests: usize,
    pub servers: usize,
    pub findings: usize,
    /// The captures' `limits`, summed.
    pub limits: Limits,
}

/// Everything one run learned. The connections, their requests and their
/// anomalies are read back from the stores when the report is written
/// (`connections`, `requests`, `anomalies`); the digests, in memory or
/// waiting in sorted runs in a temporary file (`runs`), hold what the
/// figures above them need.
#[derive(Debug)]
pub struct Ledger {
    pub schema_version: u32,
    pub captures: Vec<Capture>,
    pub totals: Totals,
    pub servers: Vec<Server>,
    pub findings: Vec<Finding>,
    /// Each capture's digests in the order its connections began (as
    /// `captures`): the report lists the connections capture by capture.
    digests: Vec<store::Digests>,
    /// Per capture, per server name (`Digest::server` until the ledger is
    /// built): the server's index in `servers`.
    server_of: Vec<Vec<u32>>,
    /// Every digest with its index in the report, by server and then index:
    /// a server's connections are one range of it (`Server::first`).
    by_server: servers::ByServer,
    /// The records, one store per capture (as `captures`).
    stores: Vec<store::Store>,
    /// Why the digests could not be read back, if they could not: the
    /// figures are then incomplete, and every report fails with it.
    error: std::sync::OnceLock<String>,
    /// Why the digests of the servers stayed in memory, if they did.
    pub warning: Option<String>,
    /// Digests kept in memory while sorting (`servers::DIGESTS_IN_MEMORY`).
    batch: usize,
}

impl Ledger {
    /// Enters the findings, and counts them overall and per server (in
    /// one pass over each: a capture can have as many servers as
    /// connections, and as many findings).
    pub fn set_findings(&mut self, findings: Vec<Finding>) {
        let mut per_server: std::collections::HashMap<(&str, &str), usize> =
            std::collections::HashMap::new();
        for f in &findings {
            *per_server
                .entry((f.capture.as_str(), f.server.as_str()))
                .or_default() += 1;
        }
        for s in &mut self.servers {
            s.findings = per_server
                .get(&(s.capture.as_str(), s.server.as_str()))
                .copied()
                .unwrap_or(0);
        }
        self.totals.findings = findings.len();
        self.findings = findings;
    }

    /// The figures over every connection, for `--fail-if` gates. Its
    /// `peak_connections` is not reckoned (0): no gate reads it, and over
    /// several captures it would need every connection sorted by start.
    pub fn overall(&self) -> Server {
        let mut all = servers::Aggregate::default();
        for d in self.digests() {
            match d {
                Ok(d) => all.add(&d),
                Err(e) => {
                    servers::unreadable(&self.error, &e);
                    break;
                }
            }
        }
        let mut all = all.server(String::new(), "overall".to_string(), NameSource::Address, 0);
        all.findings = self.findings.len();
        all
    }

    /// Server `s`'s connections (none for a server not in `servers`).
    pub fn server_conns(&self, s: usize) -> servers::ServerConns<'_> {
        let Some(s) = self.servers.get(s) else {
            return servers::ServerConns::new(&self.by_server, 0..0, &self.error);
        };
        let conns = servers::ServerConns::new(
            &self.by_server,
            s.first..s.first + s.connections,
            &self.error,
        )
        .batch(self.batch);
        match s.in_order {
            Some(known) => conns.in_order(known),
            None => conns,
        }
    }

    /// The indices of server `s`'s connections in the report, ascending.
    pub fn server_ids(&self, s: &Server) -> impl Iterator<Item = io::Result<usize>> + '_ {
        self.by_server
            .range(s.first..s.first + s.connections)
            .map(|r| r.map(|r| r.index as usize))
    }

    /// How many connections the report lists.
    pub fn connection_count(&self) -> usize {
        self.digests.iter().map(|d| d.len()).sum()
    }

    /// How many connections capture `k` (an index into `captures`) had.
    pub fn connections_of_capture(&self, k: usize) -> usize {
        self.digests.get(k).map_or(0, |d| d.len())
    }

    /// Every connection's digest, in the report's order, with its capture
    /// and its server (an index into `servers`).
    pub fn digests(&self) -> impl Iterator<Item = io::Result<Digest>> + '_ {
        each_digest(&self.digests, Some(&self.server_of))
    }

    /// Fails with why the digests could not be read back, if they could
    /// not: every report checks this first.
    pub fn readable(&self) -> io::Result<()> {
        match self.error.get() {
            Some(e) => Err(io::Error::other(e.clone())),
            None => Ok(()),
        }
    }

    /// One reader per capture's store, for [`reader_of`].
    fn readers(&self) -> Vec<store::Reader<'_>> {
        self.stores.iter().map(|s| s.reader()).collect()
    }

    /// Reads `part` of every connection's record, in the report's order.
    fn each(&self, part: Part) -> impl Iterator<Item = io::Result<Connection>> + '_ {
        let mut readers = self.readers();
        self.digests().enumerate().map(move |(i, d)| {
            let d = d?;
            reader_of(&mut readers, &d)?.read(d.loc, part, i)
        })
    }

    /// Every connection, without its requests and anomalies, in the
    /// report's order.
    pub fn connections(&self) -> impl Iterator<Item = io::Result<Connection>> + '_ {
        self.each(Part::Head)
    }

    /// Every connection with its requests and anomalies, in the report's
    /// order.
    pub fn records(&self) -> impl Iterator<Item = io::Result<Connection>> + '_ {
        self.each(Part::Whole)
    }

    /// Every request, by connection and then by start.
    pub fn requests(&self) -> impl Iterator<Item = io::Result<Request>> + '_ {
        self.each(Part::Requests).flat_map(|c| match c {
            Ok(c) => Box::new(c.requests.into_iter().map(Ok)) as Box<dyn Iterator<Item = _>>,
            Err(e) => Box::new(std::iter::once(Err(e))),
        })
    }

    /// Every anomaly, by connection.
    pub fn anomalies(&self) -> impl Iterator<Item = io::Result<Anomaly>> + '_ {
        self.each(Part::Anomalies).flat_map(|c| match c {
            Ok(c) => Box::new(c.anomalies.into_iter().map(Ok)) as Box<dyn Iterator<Item = _>>,
            Err(e) => Box::new(std::iter::once(Err(e))),
        })
    }

    /// Builds the ledger from connections made in memory, one list per
    /// capture (tests, tools).
    pub fn from_vecs(parts: Vec<(Capture, Vec<Connection>)>) -> Ledger {
        Ledger::new(
            parts
                .into_iter()
                .map(|(info, conns)| {
                    let set = Connections::from_vec(&info.file, conns);
                    (info, set)
                })
                .collect(),
        )
    }

    /// Builds the ledger from per-capture results, in the order given.
    pub fn new(parts: Vec<(Capture, Connections)>) -> Ledger {
        Ledger::with_digests_in_memory(parts, servers::DIGESTS_IN_MEMORY)
    }

    /// As [`Ledger::new`], the servers' digests going to a temporary file
    /// `n` at a time rather than [`servers::DIGESTS_IN_MEMORY`] (tests).
    pub fn with_digests_in_memory(parts: Vec<(Capture, Connections)>, n: usize) -> Ledger {
        let mut captures = Vec::new();
        let mut stores = Vec::new();
        let mut digests = Vec::new();
        let mut names: Vec<Vec<(String, NameSource)>> = Vec::new();
        for (info, set) in parts {
            let Connections {
                digests: mine,
                names: their_names,
                store,
                ..
            } = set;
            captures.push(info);
            stores.push(store);
            digests.push(mine);
            names.push(their_names);
        }
        let error = std::sync::OnceLock::new();
        // The totals are added up in the same pass as the servers are found.
        let mut all = servers::Aggregate::default();
        let each = each_digest(&digests, None).inspect(|d| {
            if let Ok(d) = d {
                all.add(d);
            }
        });
        let grouped = servers::servers(each, &captures, names, n, &error);
        let totals = Totals {
            captures: captures.len(),
            packets: captures.iter().map(|c| c.packets).sum(),
            tcp_connections: digests.iter().map(|d| d.len()).sum(),
            tcp_handshakes: all.tcp_handshakes,
            tls_client_hellos: all.client_hellos,
            tls_handshakes: all.tls_handshakes,
            connections_with_keys: all.with_keys,
            connections_decrypted: all.decrypted,
            requests: all.observed,
            requests_estimated: all.estimated,
            connections_unknown_requests: all.unknown,
            connections_with_requests: all.with_requests,
            servers: grouped.servers.len(),
            findings: 0,
            limits: captures.iter().fold(Limits::default(), |mut sum, c| {
                sum.add(&c.limits);
                sum
            }),
        };
        Ledger {
            schema_version: SCHEMA_VERSION,
            captures,
            totals,
            servers: grouped.servers,
            findings: Vec::new(),
            digests,
            server_of: grouped.server_of,
            by_server: grouped.by_server,
            stores,
            error,
            warning: grouped.warning,
            batch: n,
        }
    }
}

/// Every digest of `digests` (one list per capture), in the report's order,
/// with its capture set and, given `server_of`, its server.
fn each_digest<'a>(
    digests: &'a [store::Digests],
    server_of: Option<&'a [Vec<u32>]>,
) -> impl Iterator<Item = io::Result<Digest>> + 'a {
    digests.iter().enumerate().flat_map(move |(k, list)| {
        let names = server_of.and_then(|s| s.get(k));
        list.iter().map(move |d| {
            let mut d = d?;
            d.capture = u32::try_from(k).unwrap_or(u32::MAX);
            if let Some(names) = names {
                d.server = names.get(d.server as usize).copied().unwrap_or(u32::MAX);
            }
            Ok(d)
        })
    })
}

/// The JSON document (docs/JSON.md): the connections, requests and
/// anomalies are read back from the stores as they are written.
// `Ledger::write_compact_json` writes the same fields in the same order:
// keep the two in step (tests/store.rs holds their documents equal).
impl Serialize for Ledger {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut doc = s.serialize_struct("Ledger", 8)?;
        doc.serialize_field("schema_version", &self.schema_version)?;
        doc.serialize_field("captures", &self.captures)?;
        doc.serialize_field("totals", &self.totals)?;
        doc.serialize_field("servers", &self.servers_out())?;
        doc.serialize_field("findings", &self.findings)?;
        doc.serialize_field("connections", &Each(|| self.connections()))?;
        doc.serialize_field("requests", &Each(|| self.requests()))?;
        doc.serialize_field("anomalies", &Each(|| self.anomalies()))?;
        doc.end()
    }
}

/// A server as the JSON document has it: its figures, then its
/// connections' indices, read from the ledger as they are written.
#[derive(Serialize)]
struct ServerOut<'a> {
    #[serde(flatten)]
    server: &'a Server,
    connection_ids: ServerIds<'a>,
}

struct ServerIds<'a>(&'a Ledger, &'a Server);

impl Serialize for ServerIds<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = s.serialize_seq(Some(self.1.connections))?;
        for id in self.0.server_ids(self.1) {
            seq.serialize_element(&id.map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

impl Ledger {
    /// The servers as the JSON document has them.
    fn servers_out(&self) -> Vec<ServerOut<'_>> {
        self.servers
            .iter()
            .map(|server| ServerOut {
                server,
                connection_ids: ServerIds(self, server),
            })
            .collect()
    }

    /// Whether the records were kept as the compact JSON report's text,
    /// which nothing but [`Ledger::write_compact_json`] reads.
    pub fn records_as_json_text(&self) -> bool {
        self.stores
            .iter()
            .any(|s| s.encoding() == store::Encoding::Json)
    }

    /// Writes the ledger as compact JSON: byte for byte what serde_json
    /// writes for it, but records kept as the report's text
    /// (`store::Encoding::Json`) are copied rather than decoded and
    /// serialized again. A read error ends the document.
    pub fn write_compact_json<W: io::Write>(&self, out: &mut W) -> io::Result<()> {
        fn field<W: io::Write, T: Serialize>(out: &mut W, name: &str, value: &T) -> io::Result<()> {
            write!(out, "\"{name}\":")?;
            serde_json::to_writer(&mut *out, value)?;
            out.write_all(b",")
        }
        out.write_all(b"{")?;
        field(out, "schema_version", &self.schema_version)?;
        field(out, "captures", &self.captures)?;
        field(out, "totals", &self.totals)?;
        field(out, "servers", &self.servers_out())?;
        field(out, "findings", &self.findings)?;
        let mut readers = self.readers();
        out.write_all(b"\"connections\":[")?;
        for (i, d) in self.digests().enumerate() {
            let d = &d?;
            if i > 0 {
                out.write_all(b",")?;
            }
            let r = reader_of(&mut readers, d)?;
            match r.encoding() {
                store::Encoding::Json => out.write_all(r.raw(d.loc, Part::Head)?)?,
                store::Encoding::MessagePack => {
                    serde_json::to_writer(&mut *out, &r.read(d.loc, Part::Head, i)?)?
                }
            }
        }
        for (name, part) in [("requests", Part::Requests), ("anomalies", Part::Anomalies)] {
            write!(out, "],\"{name}\":[")?;
            let mut first = true;
            let mut sep = |out: &mut W| {
                let was = std::mem::replace(&mut first, false);
                if was { Ok(()) } else { out.write_all(b",") }
            };
            for (i, d) in self.digests().enumerate() {
                let d = &d?;
                let r = reader_of(&mut readers, d)?;
                match r.encoding() {
                    store::Encoding::Json => {
                        let bytes = r.raw(d.loc, part)?;
                        if bytes.is_empty() {
                            continue;
                        }
                        for item in bytes.split(|b| *b == b'\n') {
                            sep(out)?;
                            out.write_all(b"{\"connection\":")?;
                            serde_json::to_writer(&mut *out, &i)?;
                            out.write_all(item)?;
                        }
                    }
                    store::Encoding::MessagePack => {
                        let c = r.read(d.loc, part, i)?;
                        for q in &c.requests {
                            sep(out)?;
                            serde_json::to_writer(&mut *out, q)?;
                        }
                        for a in &c.anomalies {
                            sep(out)?;
                            serde_json::to_writer(&mut *out, a)?;
                        }
                    }
                }
            }
        }
        out.write_all(b"]}")
    }
}

/// The reader, among `readers` (one per capture), of connection `d`'s store.
fn reader_of<'a, 'b>(
    readers: &'a mut [store::Reader<'b>],
    d: &Digest,
) -> io::Result<&'a mut store::Reader<'b>> {
    usize::try_from(d.capture)
        .ok()
        .and_then(|c| readers.get_mut(c))
        .ok_or_else(|| io::Error::other("a connection of no capture"))
}

/// A sequence read as it is written; a read error ends the document.
struct Each<F>(F);

impl<F, I, T> Serialize for Each<F>
where
    F: Fn() -> I,
    I: Iterator<Item = io::Result<T>>,
    T: Serialize,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = s.serialize_seq(None)?;
        for item in (self.0)() {
            seq.serialize_element(&item.map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

/// How a connection's HTTP protocol is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolBasis {
    /// Parsed from the bytes (cleartext or decrypted).
    Observed,
    /// The ALPN protocol the server chose (or its absence: h2 over TLS
    /// needs ALPN, RFC 9113 section 3.2).
    Alpn,
    /// The client did not offer h2, so it cannot have been chosen.
    AlpnOffer,
    /// Inferred from the sizes of encrypted records (docs/DESIGN.md).
    Shape,
}

/// How a request count is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Every request was parsed (cleartext or decrypted).
    Observed,
    /// Counted from the shape of encrypted traffic: client flights of
    /// application data, each following the server's data.
    Estimated,
    /// Cannot be told (HTTP/2 inside TLS without keys).
    Unknown,
}

/// The HTTP protocol names a connection can carry, for reading them back.
const PROTOCOLS: [&str; 4] = ["http/1.0", "http/1.1", "h2", "h2c"];

/// One of [`PROTOCOLS`]. Named so that serde's derive does not take an
/// `Option<&str>` field for one borrowed from its input (which would bind
/// the input to `'static`); `de_protocol` maps the text back instead.
pub type ProtocolName = &'static str;

fn de_protocol<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ProtocolName>, D::Error> {
    let Some(name) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    match PROTOCOLS.iter().find(|p| **p == name) {
        Some(p) => Ok(Some(p)),
        None => Err(serde::de::Error::unknown_variant(&name, &PROTOCOLS)),
    }
}

/// What a connection shows of HTTP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Http {
    /// "http/1.0", "http/1.1", "h2" or "h2c"; null when unknown.
    #[serde(deserialize_with = "de_protocol")]
    pub protocol: Option<ProtocolName>,
    pub protocol_basis: Option<ProtocolBasis>,
    /// Requests carried; null when unknown.
    pub requests: Option<u64>,
    pub requests_basis: Basis,
    /// Final responses seen (observed only).
    pub responses: Option<u64>,
    /// The most HTTP/2 streams open at once (RFC 9113 section 5.1).
    pub peak_concurrent_streams: Option<u32>,
    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS.
    pub max_concurrent_streams: Option<u32>,
    /// Inside TLS without keys: whether the client sent application data
    /// beyond setting the connection up (HTTP/2 preface and SETTINGS,
    /// acknowledgements, alerts).
    pub application_data: Option<bool>,
    /// The first side that asked to close (`Connection: close`, or HTTP/1.0
    /// without keep-alive).
    pub close_requested_by: Option<Side>,
    /// HTTP/1 stopped: "h2c" (upgraded), "tunnel" (CONNECT) or "upgrade".
    pub switched: Option<crate::http1::SwitchTag>,
    pub goaways: usize,
    pub resets: usize,
    pub pushes: u64,
    /// HTTP/2 requests whose headers could not be decoded.
    pub unreadable_requests: u64,
    /// Requests counted in `requests` but not listed: the capture's
    /// connections held `budget::REQUEST_BUDGET` bytes of listed requests.
    pub requests_not_listed: u64,
}

/// Where a server's name comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    /// The TLS server name indication.
    Sni,
    /// The HTTP Host header or `:authority`.
    Host,
    /// Neither: the server's address and port.
    Address,
    /// Not one server: those past the number a capture keeps apart
    /// (`store::MAX_SERVERS`), together.
    Other,
}

/// The figures of one server in one capture: the answer to "how many
/// handshakes served how many requests".
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Server {
    pub capture: String,
    /// SNI, else Host or `:authority`, else "ip:port".
    pub server: String,
    pub name_source: NameSource,
    pub connections: usize,
    pub tcp_handshakes: usize,
    pub tls_handshakes: HandshakeTotals,
    /// Protocols seen ("h2", "http/1.1", ...), in first-seen order.
    pub protocols: Vec<&'static str>,
    /// Requests observed plus requests estimated; null when some
    /// connection's count is unknown and nothing is known otherwise.
    pub requests: Option<u64>,
    pub requests_observed: u64,
    pub requests_estimated: u64,
    /// Connections whose request count is unknown (HTTP/2 inside TLS
    /// without keys).
    pub connections_unknown_requests: usize,
    /// observed, estimated, or unknown: the weakest basis among the
    /// connections that carried requests.
    pub requests_basis: Basis,
    /// Requests per TLS handshake (per TCP handshake without TLS); null
    /// when either is unknown or zero.
    pub requests_per_handshake: Option<f64>,
    pub connections_with_requests: usize,
    /// Connections known to have carried no request.
    pub unused_connections: usize,
    /// The most connections to this server open at the same time.
    pub peak_connections: usize,
    /// Findings about this server.
    pub findings: usize,
    /// Where its connections begin in the ledger's list of digests by
    /// server (`Ledger::server_ids` reads their indices into
    /// `connections[]`, which the JSON writes after the figures).
    #[serde(skip)]
    pub first: usize,
    /// Whether its connections began in the report's order, when known
    /// (`servers::ServerConns::each_by_start`).
    #[serde(skip)]
    pub in_order: Option<bool>,
    /// When the first TLS handshake to it to complete did (the findings'
    /// measure of a handshake that could have resumed).
    #[serde(skip)]
    pub first_done: Option<Ts>,
}

/// The kinds of waste connreuse diagnoses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Several connections dialled at once, most never used.
    ConcurrentDials,
    /// One request per connection where keep-alive was possible.
    NoReuse,
    /// HTTP/1.x where h2 was on offer.
    Http1DespiteH2,
    /// Full TLS handshakes where a session could have been resumed.
    RepeatedFullHandshakes,
    /// Several HTTP/2 connections where one could have multiplexed.
    ParallelH2,
}

/// One diagnosis, with the figures that prove it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub capture: String,
    pub server: String,
    /// What happened, in plain language with the figures.
    pub message: String,
    /// The likely cause.
    pub cause: String,
    /// The usual fix.
    pub fix: String,
    /// Named figures behind the message.
    pub evidence: std::collections::BTreeMap<&'static str, f64>,
    /// Indices into `connections[]`.
    pub connections: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn an_ipv4_address_is_written_as_rust_displays_it(ip in any::<u32>(), port in any::<u16>()) {
            let a = std::net::SocketAddrV4::new(ip.into(), port);
            let text = v4_text(&a);
            prop_assert_eq!(text.as_str(), a.to_string());
        }
    }

    /// 50 000 servers with two findings each, one server without: counted
    /// per server in one pass (comparing every finding with every server
    /// took minutes at this size in a debug build).
    #[test]
    fn findings_are_counted_per_server_in_one_pass() {
        let mut ledger = Ledger::new(Vec::new());
        let n = 50_000;
        for i in 0..=n {
            ledger.servers.push(servers::Aggregate::default().server(
                "a.pcap".to_string(),
                format!("10.0.{}.{}:443", i / 256, i % 256),
                NameSource::Address,
                0,
            ));
        }
        let findings: Vec<Finding> = (0..2 * n)
            .map(|k| Finding {
                kind: FindingKind::NoReuse,
                capture: "a.pcap".to_string(),
                server: format!("10.0.{}.{}:443", k / 2 / 256, k / 2 % 256),
                message: String::new(),
                cause: String::new(),
                fix: String::new(),
                evidence: std::collections::BTreeMap::new(),
                connections: Vec::new(),
            })
            .collect();
        let started = std::time::Instant::now();
        ledger.set_findings(findings);
        assert!(started.elapsed().as_secs() < 10);
        assert_eq!(ledger.totals.findings, 2 * n);
        let counts: Vec<usize> = ledger.servers.iter().map(|s| s.findings).collect();
        assert!(counts[..n].iter().all(|&c| c == 2));
        assert_eq!(counts[n], 0);
    }
}
