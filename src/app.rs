//! Per-connection protocol dispatch: recognises what a connection's streams
//! speak from their first bytes, on any port, and hands them to the parser
//! for it; keeps what the parsers learn until the connection ends.
//!
//! Recognition looks at up to [`SNIFF_LEN`] bytes of each side:
//! - a TLS handshake record, or an application-data record when the capture
//!   began after the handshake: TLS;
//! - the HTTP/2 connection preface: h2c with prior knowledge;
//! - an HTTP/1 request line, or a status line from the server when the
//!   capture began mid-connection: HTTP/1.x, which may switch to h2c
//!   (`Upgrade: h2c`), a CONNECT tunnel or another protocol;
//! - anything else, or a beginning that was not captured: `other`, only
//!   counted.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use crate::budget::{Budget, Charge, growth};
use crate::flow::Analyzer;
use crate::http1::{self, Http1, SwitchKind, SwitchTag};
use crate::http2::{self, Http2};
use crate::ledger::{Anomaly, Basis, Close, Http, Layer, ProtocolBasis, Request, RequestSpan};
use crate::tls::decrypt::{KeyStore, Plain};
use crate::tls::{self, TlsSession, TlsSummary};
use crate::{At, Side, Ts};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

/// Bytes of each side looked at before giving up on recognising it: the
/// HTTP/2 preface is 24 bytes long.
pub const SNIFF_LEN: usize = 24;

/// What a connection's streams were recognised as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// No payload, or not enough to tell.
    #[default]
    Unknown,
    Tls,
    /// Cleartext HTTP (HTTP/1.x, h2c, or HTTP/1.x upgraded to h2c).
    Http,
    /// Payload that none of our parsers reads.
    Other,
}

/// The analyzer of one connection.
#[derive(Debug, Default)]
pub struct Session {
    protocol: Protocol,
    /// The first bytes of each side (client, server) while sniffing.
    sniff: [Vec<u8>; 2],
    /// Secrets for decrypting TLS, shared by the capture's connections.
    keys: Option<Rc<KeyStore>>,
    tls: Option<Box<TlsSession>>,
    /// HTTP, in cleartext or decrypted from TLS.
    http: Parsers,
}

/// The HTTP parsers of one connection and what they found.
#[derive(Debug, Default)]
struct Parsers {
    /// Inside TLS: the first decrypted bytes of each side while the HTTP
    /// version is not known yet.
    sniff: [Vec<u8>; 2],
    /// Inside TLS, recognition gave up.
    unreadable: bool,
    /// What `sniff` holds against the capture's parser budget.
    charge: Charge,
    /// Recognition gave up because that budget was spent: the side, the
    /// packet, and the bytes it would have held.
    refused: Option<(Side, u64, u64)>,
    /// HTTP/1 parser; it stays after a switch, for its summary.
    h1: Option<Box<Http1>>,
    h2: Option<Box<Http2>>,
    /// HTTP/1 stopped: h2c took over, or a tunnel or another protocol.
    switched: Option<SwitchTag>,
    requests: Vec<Request>,
    /// What `requests` holds against the capture's request budget.
    listed: Charge,
    /// The requests past that budget, counted.
    not_listed: NotListed,
    /// HTTP/2 streams whose request headers could not be decoded.
    unknown_h2_requests: u64,
}

/// Requests counted but not listed: how many, and what the connection's
/// figures need of them.
#[derive(Debug, Default)]
struct NotListed {
    requests: u64,
    responses: u64,
    first_start: Option<Ts>,
    last_response: Option<Ts>,
    /// One had no response.
    unanswered: bool,
}

impl NotListed {
    fn add(&mut self, r: &Request) {
        self.requests += 1;
        self.responses += u64::from(r.status.is_some());
        self.first_start = Some(self.first_start.map_or(r.start, |t| t.min(r.start)));
        match r.end {
            Some(end) => self.last_response = Some(self.last_response.map_or(end, |t| t.max(end))),
            None => self.unanswered = true,
        }
    }

    /// Their span, for the connection's (`RequestSpan::with`).
    fn span(&self, connection_end: Ts) -> RequestSpan {
        RequestSpan {
            first_start: self.first_start,
            busy_end: if self.unanswered {
                Some(connection_end)
            } else {
                self.last_response
            },
            last_response: self.last_response,
            authority: None,
        }
    }
}

/// What a listed request holds: itself and its text.
fn listed_bytes(r: &Request) -> usize {
    std::mem::size_of::<Request>()
        + r.method.capacity()
        + r.path.capacity()
        + r.authority.as_ref().map_or(0, String::capacity)
}

/// Decrypted bytes held per side while the HTTP version inside TLS is not
/// known yet (an HTTP/2 server's SETTINGS can come before the client's
/// preface is decided).
const INNER_SNIFF_CAP: usize = 64 * 1024;

impl Parsers {
    fn started(&self) -> bool {
        self.h1.is_some() || self.h2.is_some()
    }

    /// Starts parsing decrypted TLS plaintext: by ALPN when it is known,
    /// else from the client's first bytes.
    fn feed_decrypted(&mut self, alpn: Option<&str>, side: Side, data: &[u8], at: At) {
        if self.unreadable {
            return;
        }
        if !self.started() {
            match alpn {
                Some("h2") => {
                    self.h2 = Some(Box::new(
                        Http2::new_tls().with_charge(self.charge.sibling()),
                    ))
                }
                Some("http/1.1" | "http/1.0") => {
                    self.h1 = Some(Box::new(Http1::new().with_charge(self.charge.sibling())))
                }
                _ => {
                    let buf = self.sniff.get(side.idx()).map_or(&[][..], Vec::as_slice);
                    let mut head = buf.to_vec();
                    head.extend_from_slice(
                        data.get(..SNIFF_LEN.min(data.len())).unwrap_or_default(),
                    );
                    match (
                        side,
                        judge(
                            Side::Client,
                            head.get(..SNIFF_LEN.min(head.len())).unwrap_or_default(),
                        ),
                    ) {
                        (Side::Client, Verdict::H2Preface) => {
                            self.h2 = Some(Box::new(
                                Http2::new_tls().with_charge(self.charge.sibling()),
                            ))
                        }
                        (Side::Client, Verdict::Http1 { .. }) => {
                            self.h1 =
                                Some(Box::new(Http1::new().with_charge(self.charge.sibling())))
                        }
                        (Side::Client, Verdict::Other | Verdict::Tls) => {
                            self.unreadable = true;
                            self.sniff = Default::default();
                            self.charge.set(0);
                            return;
                        }
                        (Side::Client, Verdict::Wait) | (Side::Server, _) => {
                            let Some(b) = self.sniff.get_mut(side.idx()) else {
                                return;
                            };
                            let want = b.len() + data.len();
                            if want <= INNER_SNIFF_CAP && self.charge.take(growth(b, data.len())) {
                                b.extend_from_slice(data);
                                return;
                            }
                            // Past the cap, or the budget: unreadable.
                            if want <= INNER_SNIFF_CAP {
                                self.refused = Some((side, at.packet, want as u64));
                            }
                            self.unreadable = true;
                            self.sniff = Default::default();
                            self.charge.set(0);
                            return;
                        }
                    }
                }
            }
            let [client, server] = std::mem::take(&mut self.sniff);
            self.charge.set(0);
            for (s, bytes) in [(Side::Client, client), (Side::Server, server)] {
                if !bytes.is_empty() {
                    self.feed(s, &bytes, at);
                }
            }
        }
        self.feed(side, data, at);
    }

    /// Hands bytes to whichever HTTP parser reads the connection now.
    fn feed(&mut self, side: Side, data: &[u8], at: At) {
        if let Some(h2) = &mut self.h2 {
            h2.on_data(side, data, at);
            self.collect();
            return;
        }
        if self.switched.is_some() {
            return;
        }
        if let Some(h1) = &mut self.h1 {
            h1.on_data(side, data, at);
            let switch = h1.take_switch();
            self.collect();
            if let Some(switch) = switch {
                self.switched = Some(switch.tag());
                if let SwitchKind::H2c { stream1 } = switch.kind {
                    let mut h2 = Box::new(
                        Http2::new_after_upgrade(stream1).with_charge(self.charge.sibling()),
                    );
                    if !switch.client_rest.is_empty() {
                        h2.on_data(Side::Client, &switch.client_rest, switch.at);
                    }
                    if !switch.server_rest.is_empty() {
                        h2.on_data(Side::Server, &switch.server_rest, switch.at);
                    }
                    self.h2 = Some(h2);
                    self.collect();
                }
            }
        }
    }

    fn on_gap(&mut self, side: Side, len: u64) {
        if let Some(h2) = &mut self.h2 {
            h2.on_gap(side, len);
        } else if let Some(h1) = &mut self.h1 {
            h1.on_gap(side, len);
        }
    }

    fn on_close(&mut self, at: At) {
        if let Some(h1) = &mut self.h1 {
            h1.on_close(at);
        }
        if let Some(h2) = &mut self.h2 {
            h2.on_close(at);
        }
        self.collect();
    }

    /// Moves finished exchanges out of the parsers, listed within the
    /// request budget, else counted.
    fn collect(&mut self) {
        let Parsers {
            h1,
            h2,
            requests,
            listed,
            not_listed,
            unknown_h2_requests,
            ..
        } = self;
        let mut list = |r: Request| {
            if listed.take(listed_bytes(&r)) {
                requests.push(r);
            } else {
                not_listed.add(&r);
            }
        };
        if let Some(h1) = h1 {
            h1.take_requests().for_each(|e| list(e.request));
        }
        if let Some(h2) = h2 {
            for e in h2.take_requests() {
                if !e.request_headers_known {
                    *unknown_h2_requests += 1;
                }
                list(e.request);
            }
        }
    }
}

/// What the first bytes of one side say.
enum Verdict {
    Wait,
    Tls,
    H2Preface,
    Http1 { midstream: bool },
    Other,
}

fn judge(side: Side, head: &[u8]) -> Verdict {
    let full = head.len() >= SNIFF_LEN;
    let tls_start = tls::looks_like_tls(head);
    let tls_mid = looks_like_tls_midstream(head);
    if tls_start == Some(true) || tls_mid == Some(true) {
        return Verdict::Tls;
    }
    let (h2, h1) = match side {
        Side::Client => (
            http2::is_h2_preface(head),
            http1::looks_like_http1_request(head),
        ),
        Side::Server => (Some(false), looks_like_http1_response(head)),
    };
    if h2 == Some(true) {
        return Verdict::H2Preface;
    }
    // A request line can start like the preface ("PRI "): wait for both.
    if h1 == Some(true) && h2 == Some(false) {
        return Verdict::Http1 {
            midstream: side == Side::Server,
        };
    }
    let undecided = [tls_start, tls_mid, h2, h1].contains(&None);
    if undecided && !full {
        Verdict::Wait
    } else {
        Verdict::Other
    }
}

/// An HTTP/1 status line, which a server sends first only when the capture
/// began after the request.
fn looks_like_http1_response(b: &[u8]) -> Option<bool> {
    const START: &[u8] = b"HTTP/1.";
    let n = b.len().min(START.len());
    if b.get(..n) != START.get(..n) {
        return Some(false);
    }
    (b.len() >= START.len()).then_some(true)
}

/// What a TLS stream looks like when the capture began after its handshake:
/// an application-data record header (RFC 8446 section 5.1).
fn looks_like_tls_midstream(b: &[u8]) -> Option<bool> {
    match b {
        [0x17, 0x03, minor, hi, lo, ..] => {
            Some(*minor <= 4 && usize::from(u16::from_be_bytes([*hi, *lo])) <= tls::MAX_RECORD_LEN)
        }
        [] | [0x17] | [0x17, 0x03] | [0x17, 0x03, _] | [0x17, 0x03, _, _] => None,
        _ => Some(false),
    }
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    /// A session that decrypts TLS with the secrets in `keys`; its
    /// parsers' buffers count against the parser budget the store carries
    /// (one per capture, [`crate::budget::PARSER_BUDGET`]).
    pub fn with_keys(keys: Option<Rc<KeyStore>>) -> Session {
        let budget = keys.as_ref().map(|k| Rc::clone(k.budget()));
        let listed = keys.as_ref().map(|k| Charge::new(k.request_budget()));
        let mut s = Session::with_budget(keys, budget);
        s.http.listed = listed.unwrap_or_default();
        s
    }

    /// A session whose parsers' buffers count against `budget` (None:
    /// unlimited), decrypting TLS with `keys`.
    pub fn with_budget(keys: Option<Rc<KeyStore>>, budget: Option<Rc<Budget>>) -> Session {
        let charge = budget.as_ref().map(Charge::new).unwrap_or_default();
        Session {
            keys,
            http: Parsers {
                charge,
                ..Parsers::default()
            },
            ..Session::default()
        }
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    pub fn tls(&self) -> Option<&TlsSession> {
        self.tls.as_deref()
    }

    pub fn tls_mut(&mut self) -> Option<&mut TlsSession> {
        self.tls.as_deref_mut()
    }

    pub fn http1(&self) -> Option<&Http1> {
        self.http.h1.as_deref()
    }

    pub fn http2(&self) -> Option<&Http2> {
        self.http.h2.as_deref()
    }

    pub fn switched(&self) -> Option<SwitchTag> {
        self.http.switched
    }

    /// The requests seen so far, in the order their exchanges finished.
    pub fn take_requests(&mut self) -> Vec<Request> {
        std::mem::take(&mut self.http.requests)
    }

    /// What the requests counted but not listed spanned, for the
    /// connection's `request_span`.
    pub fn not_listed_span(&self, connection_end: Ts) -> RequestSpan {
        self.http.not_listed.span(connection_end)
    }

    /// Requests counted but not listed.
    pub fn requests_not_listed(&self) -> u64 {
        self.http.not_listed.requests
    }

    pub fn unknown_h2_requests(&self) -> u64 {
        self.http.unknown_h2_requests
    }

    /// What the connection shows of HTTP: parsed when the bytes could be
    /// read (cleartext, or decrypted), else estimated from the shape of the
    /// TLS records. `tls` is this session's TLS summary
    /// (`self.tls().map(TlsSession::summary)`), made once by the caller.
    pub fn http_facts(&self, tls: Option<&TlsSummary>) -> Option<Http> {
        if self.http.started() {
            return Some(self.observed_http());
        }
        let tls = tls?;
        if tls.decrypted && self.http.requests.is_empty() && !self.http.unreadable {
            // Decrypted, and no application data came: nothing was asked.
            return estimated_http(tls).map(|mut h| {
                h.requests = Some(0);
                h.requests_basis = Basis::Observed;
                h.application_data = Some(false);
                h
            });
        }
        estimated_http(tls)
    }

    fn observed_http(&self) -> Http {
        let http = &self.http;
        let h1 = http.h1.as_ref().map(|h| h.summary());
        let h2 = http.h2.as_ref().map(|h| h.summary());
        let protocol = match (&h1, &h2, self.tls.is_some()) {
            (_, Some(_), true) => Some("h2"),
            (_, Some(_), false) => Some("h2c"),
            (Some(s), None, _) => s.version.map(http1::Version::as_str),
            (None, None, _) => None,
        };
        let listed = http.requests.len() as u64;
        let requests = listed + http.not_listed.requests;
        Http {
            protocol,
            protocol_basis: Some(ProtocolBasis::Observed),
            requests: Some(requests),
            requests_basis: Basis::Observed,
            responses: Some(
                http.requests.iter().filter(|r| r.status.is_some()).count() as u64
                    + http.not_listed.responses,
            ),
            peak_concurrent_streams: h2.as_ref().map(|s| s.peak_concurrent_streams),
            max_concurrent_streams: h2.as_ref().and_then(|s| s.max_concurrent_streams),
            application_data: None,
            close_requested_by: h1.as_ref().and_then(|s| s.close.as_ref()).map(|c| c.by),
            switched: http.switched,
            goaways: h2.as_ref().map_or(0, |s| s.goaways.len()),
            resets: h2.as_ref().map_or(0, |s| s.resets.len()),
            pushes: h2.as_ref().map_or(0, |s| s.pushes),
            unreadable_requests: http.unknown_h2_requests,
            requests_not_listed: http.not_listed.requests,
        }
    }

    /// Anomalies the parsers recorded, for the ledger.
    pub fn anomalies(&self) -> Vec<Anomaly> {
        fn kind<T: Serialize>(k: &T) -> String {
            serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        }
        let mut out = Vec::new();
        if let Some(t) = &self.tls {
            out.extend(t.anomalies().iter().map(|a| Anomaly {
                connection: 0,
                layer: Layer::Tls,
                kind: kind(&a.kind),
                side: Some(a.side),
                packet: a.packet,
                bytes: a.bytes,
            }));
        }
        let http = |side: Side, packet: u64, kind: String, bytes: Option<u64>| Anomaly {
            connection: 0,
            layer: Layer::Http,
            kind,
            side: Some(side),
            packet,
            bytes,
        };
        if let Some((side, packet, bytes)) = self.http.refused {
            out.push(http(side, packet, "parser_budget".to_string(), Some(bytes)));
        }
        if let Some(h) = &self.http.h1 {
            out.extend(
                h.summary()
                    .anomalies
                    .iter()
                    .map(|a| http(a.side, a.packet, kind(&a.kind), a.bytes)),
            );
        }
        if let Some(h) = &self.http.h2 {
            out.extend(
                h.summary()
                    .anomalies
                    .iter()
                    .map(|a| http(a.side, a.packet, kind(&a.kind), a.bytes)),
            );
        }
        out
    }

    /// The first bytes of `side` so far plus `data`, at most [`SNIFF_LEN`]:
    /// `data` itself when nothing of that side waited, as with most
    /// connections' first segment.
    fn head<'a>(&'a self, side: Side, data: &'a [u8]) -> Cow<'a, [u8]> {
        let buf = self.sniff.get(side.idx()).map_or(&[][..], Vec::as_slice);
        if buf.is_empty() {
            return Cow::Borrowed(data.get(..SNIFF_LEN.min(data.len())).unwrap_or_default());
        }
        let mut head = Vec::with_capacity(SNIFF_LEN);
        head.extend_from_slice(buf.get(..SNIFF_LEN.min(buf.len())).unwrap_or_default());
        let room = SNIFF_LEN.saturating_sub(head.len());
        head.extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        Cow::Owned(head)
    }

    /// Starts the parsers a verdict calls for and replays what waited.
    fn start(&mut self, verdict: Verdict, at: At) {
        self.protocol = match verdict {
            Verdict::Wait => return,
            Verdict::Tls => {
                let charge = self.http.charge.sibling();
                self.tls = Some(Box::new(
                    match &self.keys {
                        Some(keys) => TlsSession::with_keys(Rc::clone(keys)),
                        None => TlsSession::new(),
                    }
                    .with_charge(charge),
                ));
                Protocol::Tls
            }
            Verdict::H2Preface => {
                let charge = self.http.charge.sibling();
                self.http.h2 = Some(Box::new(Http2::new_prior_knowledge().with_charge(charge)));
                Protocol::Http
            }
            Verdict::Http1 { midstream } => {
                let charge = self.http.charge.sibling();
                self.http.h1 = Some(Box::new(
                    if midstream {
                        Http1::new_midstream()
                    } else {
                        Http1::new()
                    }
                    .with_charge(charge),
                ));
                Protocol::Http
            }
            Verdict::Other => Protocol::Other,
        };
        let [client, server] = std::mem::take(&mut self.sniff);
        for (side, bytes) in [(Side::Client, client), (Side::Server, server)] {
            if !bytes.is_empty() {
                self.feed(side, &bytes, at);
            }
        }
    }

    /// Hands bytes to whichever parser reads this connection now.
    fn feed(&mut self, side: Side, data: &[u8], at: At) {
        let Session { tls, http, .. } = self;
        match tls {
            Some(t) => {
                t.on_data(side, data, at);
                // Only decrypted connections have plaintext: the common
                // path pays for no ALPN lookup.
                if t.has_plaintext() {
                    deliver_plaintext(t, http);
                }
            }
            None => http.feed(side, data, at),
        }
    }
}

/// Hands a TLS session's decrypted application data to the HTTP parsers;
/// the negotiated ALPN, which picks the parser, is looked up only until
/// one is picked.
fn deliver_plaintext(t: &mut TlsSession, http: &mut Parsers) {
    let alpn = if http.started() {
        None
    } else {
        t.negotiated_alpn()
    };
    t.take_plaintext(&mut |s, plain, when| match plain {
        Plain::Bytes(bytes) => http.feed_decrypted(alpn.as_deref(), s, bytes, when),
        Plain::Lost(len) | Plain::Refused(len) => http.on_gap(s, len),
    });
}

/// Bytes a record adds to its plaintext under the connection's cipher, when
/// that is fixed: AEAD tag, TLS 1.2 explicit nonce, TLS 1.3 inner content
/// type (RFC 8446 section 5.2, RFC 5288 section 3, RFC 7905 section 2).
/// None for CBC suites, whose padding varies.
fn record_overhead(tls13: bool, cipher: &str) -> Option<usize> {
    /// TLS 1.3 or not, the suite's name, and the answer.
    type Answer = (bool, Box<str>, Option<usize>);
    thread_local! {
        /// The last answer: a capture's connections mostly share a suite.
        static LAST: RefCell<Option<Answer>> = const { RefCell::new(None) };
    }
    let last = LAST.try_with(|last| match last.try_borrow().as_deref() {
        Ok(Some((t, c, o))) if *t == tls13 && **c == *cipher => Some(*o),
        _ => None,
    });
    if let Ok(Some(overhead)) = last {
        return overhead;
    }
    let overhead = overhead_of(tls13, cipher);
    let _ = LAST.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            *last = Some((tls13, Box::from(cipher), overhead));
        }
    });
    overhead
}

/// [`record_overhead`], worked out.
fn overhead_of(tls13: bool, cipher: &str) -> Option<usize> {
    let tag = if cipher.contains("_CCM_8") { 8 } else { 16 };
    let aead =
        cipher.contains("_GCM_") || cipher.contains("CHACHA20_POLY1305") || cipher.contains("_CCM");
    match (tls13, aead) {
        (true, _) => Some(tag + 1),
        (false, true) if cipher.contains("CHACHA20") => Some(tag),
        (false, true) => Some(8 + tag),
        (false, false) => None,
    }
}

/// HTTP facts of a TLS connection whose records cannot be read: the
/// protocol from ALPN (or what the client offered, or record sizes), and
/// for HTTP/1.x the number of requests estimated as client flights.
fn estimated_http(s: &TlsSummary) -> Option<Http> {
    let offered = |p: &str| s.alpn_offered.iter().any(|a| &**a == p);
    let http_offered = offered("h2") || offered("http/1.1") || offered("http/1.0");
    if !s.alpn_offered.is_empty() && !http_offered {
        // ALPN names another protocol: not HTTP.
        return None;
    }
    let tls13 = s
        .version
        .as_deref()
        .is_some_and(|v| v.starts_with("TLS 1.3"));
    let overhead = s.cipher.as_deref().and_then(|c| record_overhead(tls13, c));
    let inner = |len: u32| overhead.and_then(|o| (len as usize).checked_sub(o));
    // An HTTP/2 frame header alone (SETTINGS ACK, RFC 9113 section 6.5) is
    // 9 bytes; HTTP/1.x never sends a 9-byte record.
    let h2_shaped = s.first_records.iter().any(|r| inner(r.len) == Some(9));
    let (protocol, basis) = match s.alpn.as_deref() {
        Some("h2") => (Some("h2"), Some(ProtocolBasis::Alpn)),
        Some("http/1.1") => (Some("http/1.1"), Some(ProtocolBasis::Alpn)),
        Some("http/1.0") => (Some("http/1.0"), Some(ProtocolBasis::Alpn)),
        Some(_) => return None,
        // The ServerHello is readable and chose no protocol: not h2.
        None if !tls13 && s.version.is_some() && http_offered => {
            (Some("http/1.1"), Some(ProtocolBasis::Alpn))
        }
        None if http_offered && !offered("h2") => {
            (Some("http/1.1"), Some(ProtocolBasis::AlpnOffer))
        }
        None if offered("h2") && h2_shaped => (Some("h2"), Some(ProtocolBasis::Shape)),
        None => (None, None),
    };
    // Client records that can carry a request: not alert-sized (2 bytes)
    // nor a lone frame header; the first HTTP/2 flight (preface, SETTINGS,
    // WINDOW_UPDATE: under 100 bytes) does not count either.
    let client: Vec<Option<usize>> = s
        .first_records
        .iter()
        .filter(|r| r.side == Side::Client)
        .map(|r| inner(r.len))
        .filter(|n| !matches!(n, Some(2) | Some(9)))
        .collect();
    let application_data = match client.as_slice() {
        [] => false,
        [Some(n)] if protocol == Some("h2") => *n > 100,
        _ => true,
    };
    // Flights count requests only where requests and responses alternate:
    // HTTP/1.x, or a client that offered no ALPN at all (h2 over TLS needs
    // it). HTTP/2 multiplexes; an h2 offer with the choice hidden is unknown.
    let alternating = match protocol {
        Some(p) => p != "h2",
        None => s.alpn_offered.is_empty(),
    };
    let (requests, requests_basis) = if alternating {
        (Some(s.client_bursts), Basis::Estimated)
    } else {
        (None, Basis::Unknown)
    };
    Some(Http {
        protocol,
        protocol_basis: basis,
        requests,
        requests_basis,
        responses: None,
        peak_concurrent_streams: None,
        max_concurrent_streams: None,
        application_data: Some(application_data),
        close_requested_by: None,
        switched: None,
        goaways: 0,
        resets: 0,
        pushes: 0,
        unreadable_requests: 0,
        requests_not_listed: 0,
    })
}

impl Analyzer for Session {
    fn on_data(&mut self, side: Side, data: &[u8], at: At) {
        if self.protocol == Protocol::Unknown {
            let verdict = judge(side, &self.head(side, data));
            match verdict {
                Verdict::Wait => {
                    if let Some(buf) = self.sniff.get_mut(side.idx()) {
                        buf.extend_from_slice(data);
                    }
                    return;
                }
                verdict => self.start(verdict, at),
            }
        }
        if self.protocol != Protocol::Other {
            self.feed(side, data, at);
        }
    }

    fn on_gap(&mut self, side: Side, len: u64, _at: At) {
        match self.protocol {
            // The beginning was lost: nothing reliable can be recognised.
            Protocol::Unknown => {
                self.protocol = Protocol::Other;
                self.sniff = Default::default();
            }
            Protocol::Tls => {
                if let Some(t) = &mut self.tls {
                    t.on_gap(side, len);
                }
                // A hole in decrypted HTTP: the parsers resynchronise.
                self.http.on_gap(side, len);
            }
            Protocol::Http => self.http.on_gap(side, len),
            Protocol::Other => {}
        }
    }

    fn on_streams_done(&mut self) {
        if let Some(t) = &mut self.tls {
            t.on_streams_done();
        }
        if let Some(h2) = &mut self.http.h2 {
            h2.on_streams_done();
        }
        // Only the exchanges still open at the close can join them now.
        self.http.requests.shrink_to_fit();
    }

    fn on_close(&mut self, closer: Option<(Side, Close)>, at: At) {
        if self.protocol == Protocol::Unknown && self.sniff.iter().any(|b| !b.is_empty()) {
            // Streams shorter than it takes to be sure: judge what there is.
            let client = self.head(Side::Client, &[]);
            let verdict = match judge(Side::Client, &client) {
                Verdict::Wait | Verdict::Other => {
                    match judge(Side::Server, &self.head(Side::Server, &[])) {
                        Verdict::Tls => Verdict::Tls,
                        _ => Verdict::Other,
                    }
                }
                v => v,
            };
            self.start(verdict, at);
        }
        let Session { tls, http, .. } = self;
        if let Some(t) = tls {
            t.on_close(closer, at);
            deliver_plaintext(t, http);
        }
        http.on_close(at);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn at(packet: u64) -> At {
        At {
            packet,
            ts: crate::Ts(packet as i64),
        }
    }

    #[test]
    fn recognises_each_protocol_from_split_first_bytes() {
        let cases: [(&[u8], Side, Protocol); 6] = [
            (
                b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                Side::Client,
                Protocol::Http,
            ),
            (
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0",
                Side::Client,
                Protocol::Http,
            ),
            (
                &[0x16, 0x03, 0x01, 0x00, 0xc4, 0x01, 0x00],
                Side::Client,
                Protocol::Tls,
            ),
            (
                &[0x17, 0x03, 0x03, 0x00, 0x20, 0xaa],
                Side::Server,
                Protocol::Tls,
            ),
            (b"HTTP/1.1 200 OK\r\n\r\n", Side::Server, Protocol::Http),
            (b"SSH-2.0-OpenSSH_9.2\r\n", Side::Client, Protocol::Other),
        ];
        for (bytes, side, want) in cases {
            for split in 1..bytes.len() {
                let mut s = Session::new();
                s.on_data(side, &bytes[..split], at(1));
                s.on_data(side, &bytes[split..], at(2));
                assert_eq!(s.protocol(), want, "{bytes:?} split at {split}");
            }
        }
    }

    #[test]
    fn pipelined_cleartext_requests_are_collected() {
        let mut s = Session::new();
        s.on_data(
            Side::Client,
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
            at(1),
        );
        s.on_data(
            Side::Server,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            at(2),
        );
        s.on_close(None, at(3));
        let reqs = s.take_requests();
        let seen: Vec<(&str, Option<u16>)> =
            reqs.iter().map(|r| (r.path.as_str(), r.status)).collect();
        assert_eq!(seen, [("/a", Some(200)), ("/b", Some(404))]);
    }

    #[test]
    fn a_gap_before_recognition_makes_the_connection_other() {
        let mut s = Session::new();
        s.on_gap(Side::Client, 100, at(1));
        s.on_data(Side::Client, b"GET / HTTP/1.1\r\n\r\n", at(2));
        assert_eq!(s.protocol(), Protocol::Other);
    }
}
