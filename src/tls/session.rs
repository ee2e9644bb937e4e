//! One connection's TLS story: handshake messages reassembled across records, each handshake's facts, resumption and outcome, and the shape of the application data that follows.
//!
//! Per handshake the states run (RFC 8446 2, RFC 5246 7.3):
//!
//! ```text
//!  ClientHello ──► [HelloRetryRequest ──► ClientHello] ──► ServerHello ──► ... ──► completed
//!      │                                                       │
//!      └──────────── alert ──► failed        close ──► abandoned      end of capture ──► incomplete
//! ```
//!
//! Completion: both sides sent ChangeCipherSpec and then a record (TLS 1.2
//! and earlier; TLS 1.3 in middlebox-compatibility mode too), or, in TLS
//! 1.3, any encrypted record from the client after the ServerHello (its
//! second flight), or, in TLS 1.2, application data from the server.

use super::hello::{self, ClientHello, HelloError, ServerHello, TicketOffer};
use super::names::{alert_name, cipher_name, is_tls13, version_name};
use super::record::{Framer, RecordEvent, RecordSink, SSLV2};
use super::{
    AnomalyKind, Close, MAX_ANOMALIES, MAX_HANDSHAKES, MAX_HELLO_LEN, TlsAnomaly, content,
};
use crate::{At, Side, Ts};
use serde::{Serialize, Serializer};

/// How many application-data records are listed in [`TlsSummary::first_records`].
pub const FIRST_RECORDS: usize = 16;

/// How a handshake ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Completed,
    /// The connection closed (FIN or RST) before completion, or a new
    /// ClientHello replaced this handshake.
    Abandoned,
    /// An alert other than close_notify/user_canceled during the handshake.
    Failed,
    /// The capture ended first.
    Incomplete,
}

/// Where the negotiated ALPN protocol was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlpnSource {
    /// TLS 1.2 and earlier: the ServerHello says it (or that there is none).
    ServerHello,
    /// TLS 1.3: it is in EncryptedExtensions, unreadable without keys.
    Encrypted,
    /// Read from decrypted EncryptedExtensions.
    Decrypted,
}

/// An alert seen before the handshake completed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    pub side: Side,
    /// 1 warning, 2 fatal (RFC 5246 7.2); None when the alert was encrypted.
    pub level: Option<u8>,
    /// RFC name ("handshake_failure") or the number; None when encrypted.
    pub description: Option<String>,
    pub encrypted: bool,
    pub packet: u64,
}

/// Application-data records and their fragment bytes from one side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SideCounts {
    pub records: u64,
    pub bytes: u64,
}

/// One application-data record: who sent it, its length, its packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AppRecord {
    pub side: Side,
    pub len: u32,
    pub packet: u64,
    pub ts: Ts,
}

fn ser_opt_version<S: Serializer>(v: &Option<u16>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&version_name(*v)),
        None => s.serialize_none(),
    }
}

/// One value per side, reached by [`Side`] without indexing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Pair<T> {
    client: T,
    server: T,
}

impl<T> Pair<T> {
    fn of(&self, side: Side) -> &T {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }

    fn of_mut(&mut self, side: Side) -> &mut T {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }
}

/// Per-handshake bookkeeping that is not output.
#[derive(Clone, Debug, Default, PartialEq)]
struct Progress {
    /// ChangeCipherSpec seen from each side.
    ccs: Pair<bool>,
    /// A record seen from each side after its ChangeCipherSpec.
    after_ccs: Pair<bool>,
    /// A HelloRetryRequest was seen and the second ClientHello not yet.
    awaiting_second_hello: bool,
    /// A ServerHello (not a HelloRetryRequest) was seen, parsed or not.
    server_hello_seen: bool,
    client_hello_ts: Option<Ts>,
}

/// One handshake on a connection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Handshake {
    /// Packet of the (first) ClientHello; None when the capture or a gap
    /// lost it.
    pub client_hello_packet: Option<u64>,
    pub client_hello: Option<ClientHello>,
    /// 2 after a HelloRetryRequest.
    pub client_hellos: u32,
    /// The ServerHello (the HelloRetryRequest until the real one arrives).
    pub server_hello: Option<ServerHello>,
    pub server_hello_packet: Option<u64>,
    pub hrr: bool,
    /// Negotiated version; None until a ServerHello is read.
    #[serde(serialize_with = "ser_opt_version")]
    pub version: Option<u16>,
    pub resumed: Option<bool>,
    pub outcome: Outcome,
    pub alert: Option<Alert>,
    /// Which side closed the connection before completion, and how.
    pub closed_by: Option<Side>,
    pub close: Option<Close>,
    /// Seconds from the ClientHello to the close that abandoned it (or the
    /// close after a failure).
    pub secs_to_close: Option<f64>,
    /// Seconds from the ClientHello to completion.
    pub secs_to_complete: Option<f64>,
    pub completed_packet: Option<u64>,
    /// The server sent a NewSessionTicket in the clear (TLS 1.2, RFC 5077 3.3).
    pub ticket_issued: bool,
    #[serde(skip)]
    progress: Progress,
}

impl Handshake {
    fn new(client_hello: Option<ClientHello>, at: Option<At>) -> Self {
        Handshake {
            client_hello_packet: at.map(|a| a.packet),
            client_hellos: u32::from(at.is_some()),
            client_hello,
            server_hello: None,
            server_hello_packet: None,
            hrr: false,
            version: None,
            resumed: None,
            outcome: Outcome::Incomplete,
            alert: None,
            closed_by: None,
            close: None,
            secs_to_close: None,
            secs_to_complete: None,
            completed_packet: None,
            ticket_issued: false,
            progress: Progress {
                client_hello_ts: at.map(|a| a.ts),
                ..Progress::default()
            },
        }
    }

    pub fn completed(&self) -> bool {
        self.outcome == Outcome::Completed
    }

    /// The 32-byte client random (for a key log lookup).
    pub fn client_random(&self) -> Option<&[u8; 32]> {
        self.client_hello.as_ref().map(|c| &c.random)
    }

    pub fn server_random(&self) -> Option<&[u8; 32]> {
        self.server_hello
            .as_ref()
            .filter(|s| !s.hrr)
            .map(|s| &s.random)
    }

    pub fn cipher_suite(&self) -> Option<u16> {
        self.server_hello.as_ref().map(|s| s.cipher_suite)
    }

    /// The client's session id bytes (empty when none).
    pub fn session_id(&self) -> &[u8] {
        self.client_hello
            .as_ref()
            .map(|c| c.session_id.as_bytes())
            .unwrap_or_default()
    }

    /// TLS 1.3 was negotiated by a real ServerHello (or announced by a HRR).
    fn tls13(&self) -> bool {
        self.version.is_some_and(is_tls13)
    }

    fn complete(&mut self, at: At) {
        if self.outcome == Outcome::Completed {
            return;
        }
        self.outcome = Outcome::Completed;
        self.completed_packet = Some(at.packet);
        self.secs_to_complete = self.progress.client_hello_ts.map(|t| at.ts.secs_since(t));
    }
}

/// The per-connection `tls` object of the report. Identity fields come
/// from the first handshake; counts cover the whole connection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TlsSummary {
    /// "TLS 1.3" style; null when no ServerHello was read.
    pub version: Option<String>,
    pub sni: Option<String>,
    pub alpn_offered: Vec<String>,
    pub alpn: Option<String>,
    pub alpn_source: Option<AlpnSource>,
    /// IANA name, or "0x1234" when unknown.
    pub cipher: Option<String>,
    pub resumed: Option<bool>,
    /// Null when no handshake was seen (capture began after it).
    pub outcome: Option<Outcome>,
    pub ja3: Option<String>,
    pub ja4: Option<String>,
    pub handshakes: usize,
    pub client_hellos: u64,
    pub hrr: bool,
    pub ech: bool,
    pub session_ticket: Option<TicketOffer>,
    pub early_data: bool,
    pub client_app: SideCounts,
    pub server_app: SideCounts,
    /// Client application-data records sent before the ServerHello (0-RTT).
    pub early_data_records: u64,
    /// Client flights of application data (a flight starts when the client
    /// sends after the server did): an estimate of HTTP/1.x requests.
    pub client_bursts: u64,
    pub first_records: Vec<AppRecord>,
    /// Encrypted handshake records after completion (TLS 1.2 renegotiation
    /// or HelloRequest), per side [client, server].
    pub late_handshake_records: [u64; 2],
    pub anomalies: usize,
}

/// Handshake message reassembly for one side (RFC 8446 5.1: messages may
/// span records and records may hold several messages). Only ClientHello
/// and ServerHello bodies are buffered; other messages are skipped by length.
#[derive(Debug, Default)]
struct HsReader {
    hdr: [u8; 4],
    have: usize,
    /// (type, remaining body bytes, buffered?)
    msg: Option<(u8, usize, bool)>,
    buf: Vec<u8>,
}

enum HsEvent<'a> {
    Message(u8, &'a [u8]),
    Skipped(u8),
    TooLarge(u8, usize),
}

fn wanted(typ: u8) -> bool {
    typ == 1 || typ == 2
}

impl HsReader {
    fn reset(&mut self) {
        self.have = 0;
        self.msg = None;
        self.buf.clear();
    }

    fn feed(&mut self, mut d: &[u8], f: &mut impl FnMut(HsEvent<'_>)) {
        while !d.is_empty() {
            match self.msg {
                None => {
                    // Whole message in view: hand it over without copying.
                    if self.have == 0
                        && let Some((&[t, l0, l1, l2], rest)) = d.split_first_chunk::<4>()
                    {
                        let len = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
                        if wanted(t)
                            && len <= MAX_HELLO_LEN
                            && let Some((body, tail)) = rest.split_at_checked(len)
                        {
                            f(HsEvent::Message(t, body));
                            d = tail;
                            continue;
                        }
                    }
                    let take = (4 - self.have).min(d.len());
                    let (head, rest) = d.split_at_checked(take).unwrap_or((d, &[]));
                    if let Some(dst) = self.hdr.get_mut(self.have..self.have + take) {
                        dst.copy_from_slice(head);
                    }
                    self.have += take;
                    d = rest;
                    if self.have < 4 {
                        continue;
                    }
                    self.have = 0;
                    let [t, l0, l1, l2] = self.hdr;
                    let len = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
                    let mut keep = wanted(t);
                    if keep && len > MAX_HELLO_LEN {
                        f(HsEvent::TooLarge(t, len));
                        keep = false;
                    } else if !keep {
                        f(HsEvent::Skipped(t));
                    }
                    if len == 0 {
                        if keep {
                            f(HsEvent::Message(t, &[]));
                        }
                    } else {
                        self.buf.clear();
                        self.msg = Some((t, len, keep));
                    }
                }
                Some((t, remaining, keep)) => {
                    let take = remaining.min(d.len());
                    let (chunk, rest) = d.split_at_checked(take).unwrap_or((d, &[]));
                    d = rest;
                    if keep {
                        self.buf.extend_from_slice(chunk);
                    }
                    if remaining == take {
                        self.msg = None;
                        if keep {
                            f(HsEvent::Message(t, &self.buf));
                        }
                        self.buf.clear();
                    } else {
                        self.msg = Some((t, remaining - take, keep));
                    }
                }
            }
        }
    }
}

#[derive(Debug, Default)]
struct Core {
    handshakes: Vec<Handshake>,
    /// ClientHellos beyond [`MAX_HANDSHAKES`].
    dropped_hellos: u64,
    /// Records from this side are ciphertext: after its ChangeCipherSpec in
    /// TLS 1.2 and earlier, after the ServerHello for a TLS 1.3 server.
    encrypted: Pair<bool>,
    hs: Pair<HsReader>,
    app: Pair<SideCounts>,
    early_data_records: u64,
    first_records: Vec<AppRecord>,
    client_bursts: u64,
    last_app_side: Option<Side>,
    late_handshake_records: Pair<u64>,
    anomalies: Vec<TlsAnomaly>,
    anomalies_dropped: u64,
    /// Deliver ciphertext fragments instead of skipping them: the switch a
    /// decryptor turns on. Off, application data is never copied.
    deliver_ciphertext: bool,
}

impl RecordSink for Core {
    fn wants(&self, side: Side, ctype: u8) -> bool {
        if self.deliver_ciphertext {
            return true;
        }
        match ctype {
            content::HANDSHAKE | content::ALERT => !*self.encrypted.of(side),
            content::CHANGE_CIPHER_SPEC => true,
            _ => false,
        }
    }

    fn on_record(&mut self, side: Side, event: RecordEvent<'_>, at: At) {
        match event {
            RecordEvent::Record {
                ctype: SSLV2,
                fragment,
                ..
            } => {
                let ch = hello::parse_sslv2_client_hello(fragment);
                self.on_client_hello(ch, at);
            }
            RecordEvent::Record {
                ctype, fragment, ..
            } => {
                self.note_record(side, ctype, at);
                let plaintext = !*self.encrypted.of(side);
                match ctype {
                    content::CHANGE_CIPHER_SPEC => self.on_ccs(side),
                    content::HANDSHAKE if plaintext => {
                        self.on_handshake_fragment(side, fragment, at)
                    }
                    content::ALERT if plaintext => self.on_plain_alert(side, fragment, at),
                    _ => self.on_ciphertext(side, ctype, fragment.len(), at),
                }
            }
            RecordEvent::Skipped { ctype, len, .. } => {
                self.note_record(side, ctype, at);
                self.on_ciphertext(side, ctype, len, at);
            }
            RecordEvent::Damaged { ctype } => {
                if ctype == content::HANDSHAKE || ctype == SSLV2 {
                    self.hs.of_mut(side).reset();
                    self.on_anomaly(AnomalyKind::LostHandshakeBytes, side, at, None);
                }
            }
        }
    }

    fn on_anomaly(&mut self, kind: AnomalyKind, side: Side, at: At, bytes: Option<u64>) {
        if self.anomalies.len() < MAX_ANOMALIES {
            self.anomalies.push(TlsAnomaly::new(kind, side, at, bytes));
        } else {
            self.anomalies_dropped += 1;
        }
    }
}

impl Core {
    /// A record from `side` after that side's ChangeCipherSpec: its
    /// Finished (or what follows). Both sides → completed.
    fn note_record(&mut self, side: Side, ctype: u8, at: At) {
        if ctype == content::CHANGE_CIPHER_SPEC {
            return;
        }
        let Some(h) = self.handshakes.last_mut() else {
            return;
        };
        let p = &mut h.progress;
        if *p.ccs.of(side) {
            *p.after_ccs.of_mut(side) = true;
            if p.after_ccs.client && p.after_ccs.server {
                h.complete(at);
            }
        }
    }

    fn on_handshake_fragment(&mut self, side: Side, fragment: &[u8], at: At) {
        let mut reader = std::mem::take(self.hs.of_mut(side));
        reader.feed(fragment, &mut |ev| match ev {
            HsEvent::Message(1, body) if side == Side::Client => {
                self.on_client_hello(hello::parse_client_hello(body), at)
            }
            HsEvent::Message(2, body) if side == Side::Server => {
                self.on_server_hello(hello::parse_server_hello(body), at)
            }
            HsEvent::Message(t, _) | HsEvent::Skipped(t) => self.on_message_type(side, t),
            HsEvent::TooLarge(t, len) => {
                self.on_anomaly(AnomalyKind::HelloTooLarge, side, at, Some(len as u64));
                match (t, side) {
                    (1, Side::Client) => self.on_client_hello(Err(HelloError::Malformed), at),
                    (2, Side::Server) => self.on_server_hello(Err(HelloError::Malformed), at),
                    _ => {}
                }
            }
        });
        *self.hs.of_mut(side) = reader;
    }

    fn on_client_hello(&mut self, ch: Result<ClientHello, HelloError>, at: At) {
        if ch.is_err() {
            self.on_anomaly(AnomalyKind::MalformedHello, Side::Client, at, None);
        }
        // RFC 8446 4.1.4: the ClientHello that answers a HelloRetryRequest
        // belongs to the same handshake.
        if let Some(h) = self.handshakes.last_mut()
            && h.progress.awaiting_second_hello
        {
            h.progress.awaiting_second_hello = false;
            h.client_hellos += 1;
            return;
        }
        if let Some(h) = self.handshakes.last_mut()
            && h.outcome == Outcome::Incomplete
        {
            h.outcome = Outcome::Abandoned;
        }
        if self.handshakes.len() >= MAX_HANDSHAKES {
            if self.dropped_hellos == 0 {
                self.on_anomaly(AnomalyKind::TooManyHandshakes, Side::Client, at, None);
            }
            self.dropped_hellos += 1;
            return;
        }
        self.handshakes.push(Handshake::new(ch.ok(), Some(at)));
    }

    fn on_server_hello(&mut self, sh: Result<ServerHello, HelloError>, at: At) {
        let sh = match sh {
            Ok(sh) => Some(sh),
            Err(_) => {
                self.on_anomaly(AnomalyKind::MalformedHello, Side::Server, at, None);
                None
            }
        };
        let fresh = match self.handshakes.last() {
            None => true,
            // A second real ServerHello with no ClientHello between them:
            // the ClientHello was lost.
            Some(h) => h.progress.server_hello_seen,
        };
        if fresh {
            if self.handshakes.len() >= MAX_HANDSHAKES {
                return;
            }
            self.handshakes.push(Handshake::new(None, None));
        }
        let Some(h) = self.handshakes.last_mut() else {
            return;
        };
        let Some(sh) = sh else {
            h.progress.server_hello_seen = true;
            h.server_hello_packet = Some(at.packet);
            return;
        };
        h.version = Some(sh.version);
        if sh.hrr {
            // RFC 8446 4.1.4: a second ClientHello follows.
            h.hrr = true;
            h.progress.awaiting_second_hello = true;
            h.server_hello = Some(sh);
            return;
        }
        h.progress.awaiting_second_hello = false;
        h.progress.server_hello_seen = true;
        h.server_hello_packet = Some(at.packet);
        if is_tls13(sh.version) {
            // RFC 8446 2.2 / 4.2.11: the server accepted a PSK.
            h.resumed = Some(sh.psk);
            *self.encrypted.of_mut(Side::Server) = true;
        } else {
            h.resumed = match &h.client_hello {
                // RFC 5246 7.3: the server echoes the session id it resumes.
                Some(ch) if !sh.session_id.is_empty() && ch.session_id == sh.session_id => {
                    Some(true)
                }
                // Nothing to resume from: neither a session id nor a ticket.
                Some(ch)
                    if ch.session_id.is_empty()
                        && !matches!(ch.session_ticket, TicketOffer::Ticket(_)) =>
                {
                    Some(false)
                }
                // Decided by the server's next message (see on_message_type).
                _ => None,
            };
        }
        h.server_hello = Some(sh);
    }

    /// Plaintext handshake messages other than the hellos.
    fn on_message_type(&mut self, side: Side, typ: u8) {
        let Some(h) = self.handshakes.last_mut() else {
            return;
        };
        if h.tls13() || !h.progress.server_hello_seen {
            return;
        }
        match (side, typ) {
            // RFC 5246 7.3: Certificate, ServerKeyExchange,
            // CertificateRequest, ServerHelloDone (and RFC 6066
            // CertificateStatus) only occur in a full handshake.
            (Side::Server, 11..=14 | 22) | (Side::Client, 11 | 16) if h.resumed.is_none() => {
                h.resumed = Some(false);
            }
            (Side::Server, 4) => h.ticket_issued = true,
            _ => {}
        }
    }

    fn on_ccs(&mut self, side: Side) {
        let Some(h) = self.handshakes.last_mut() else {
            // No handshake seen (capture began later): a CCS still means
            // this side encrypts from here on in TLS 1.2.
            *self.encrypted.of_mut(side) = true;
            return;
        };
        let first = !h.progress.ccs.client && !h.progress.ccs.server;
        *h.progress.ccs.of_mut(side) = true;
        if h.tls13() || h.hrr {
            // RFC 8446 D.4: a compatibility CCS, encryption is unchanged.
            return;
        }
        if !h.progress.server_hello_seen {
            // Before any ServerHello only a TLS 1.3 client sends a CCS
            // (RFC 8446 D.4, with early data): not a cipher change.
            return;
        }
        // RFC 5077 3.1 / RFC 5246 7.3: in an abbreviated handshake the
        // server sends its ChangeCipherSpec first.
        if first && h.resumed.is_none() {
            h.resumed = Some(side == Side::Server);
        }
        *self.encrypted.of_mut(side) = true;
    }

    fn on_plain_alert(&mut self, side: Side, fragment: &[u8], at: At) {
        let (Some(&level), Some(&desc)) = (fragment.first(), fragment.get(1)) else {
            return;
        };
        let Some(h) = self.handshakes.last_mut() else {
            return;
        };
        if h.completed() || h.alert.is_some() {
            return;
        }
        h.alert = Some(Alert {
            side,
            level: Some(level),
            description: Some(alert_name(desc).map_or_else(|| desc.to_string(), str::to_owned)),
            encrypted: false,
            packet: at.packet,
        });
        // close_notify and user_canceled end a handshake without failing it.
        if desc != 0 && desc != 90 {
            h.outcome = Outcome::Failed;
        }
    }

    /// A record whose content is not readable: encrypted handshake or
    /// alert (TLS 1.2 after CCS), application data (every TLS 1.3 record
    /// after the ServerHello), heartbeat.
    fn on_ciphertext(&mut self, side: Side, ctype: u8, len: usize, at: At) {
        let h = self.handshakes.last_mut();
        match ctype {
            content::ALERT => {
                if let Some(h) = h
                    && !h.completed()
                    && h.alert.is_none()
                {
                    h.alert = Some(Alert {
                        side,
                        level: None,
                        description: None,
                        encrypted: true,
                        packet: at.packet,
                    });
                    h.outcome = Outcome::Failed;
                }
            }
            content::HANDSHAKE if h.as_ref().is_some_and(|h| h.completed()) => {
                *self.late_handshake_records.of_mut(side) += 1;
            }
            content::APPLICATION_DATA => {
                let Some(h) = h else {
                    return self.on_app_data(side, len, at);
                };
                if h.completed() {
                    return self.on_app_data(side, len, at);
                }
                if h.tls13() && h.progress.server_hello_seen {
                    match side {
                        // EncryptedExtensions .. Finished.
                        Side::Server => {}
                        // The client's second flight (RFC 8446 2).
                        Side::Client => h.complete(at),
                    }
                    return;
                }
                if !h.progress.server_hello_seen
                    && side == Side::Client
                    && h.client_hello.as_ref().is_some_and(|c| c.early_data)
                {
                    // RFC 8446 2.3: 0-RTT data right after the ClientHello.
                    self.early_data_records += 1;
                    return self.on_app_data(side, len, at);
                }
                // TLS 1.2: the server sends application data only after the
                // handshake completed on its side.
                if side == Side::Server && h.progress.server_hello_seen && !h.tls13() {
                    h.complete(at);
                }
                self.on_app_data(side, len, at);
            }
            _ => {}
        }
    }

    fn on_app_data(&mut self, side: Side, len: usize, at: At) {
        let c = self.app.of_mut(side);
        c.records += 1;
        c.bytes += len as u64;
        if self.first_records.len() < super::session::FIRST_RECORDS {
            self.first_records.push(AppRecord {
                side,
                len: len as u32,
                packet: at.packet,
                ts: at.ts,
            });
        }
        if side == Side::Client && self.last_app_side != Some(Side::Client) {
            self.client_bursts += 1;
        }
        self.last_app_side = Some(side);
    }
}

/// The TLS analyzer of one connection.
#[derive(Debug)]
pub struct TlsSession {
    framers: [Framer; 2],
    core: Core,
    closed: bool,
}

impl Default for TlsSession {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsSession {
    pub fn new() -> Self {
        TlsSession {
            framers: [Framer::new(Side::Client), Framer::new(Side::Server)],
            core: Core::default(),
            closed: false,
        }
    }

    /// Deliver ciphertext fragments (application data and encrypted
    /// handshake records) instead of skipping them by length: the switch a
    /// decryptor turns on once it holds keys for this connection.
    pub fn set_deliver_ciphertext(&mut self, on: bool) {
        self.core.deliver_ciphertext = on;
    }

    /// The next in-order bytes sent by `side`, carried by the packet `at`.
    pub fn on_data(&mut self, side: Side, data: &[u8], at: At) {
        let Self { framers, core, .. } = self;
        if let Some(f) = framers.get_mut(side.idx()) {
            f.on_data(data, at, core);
        }
    }

    /// `len` bytes sent by `side` were not captured.
    pub fn on_gap(&mut self, side: Side, len: u64) {
        let Self { framers, core, .. } = self;
        if let Some(f) = framers.get_mut(side.idx()) {
            f.on_gap(len, core);
        }
    }

    /// The connection ended: `Some((side, how))` when a FIN or RST was seen,
    /// None when the capture ended first.
    pub fn on_close(&mut self, closer: Option<(Side, Close)>, at: At) {
        if self.closed {
            return;
        }
        self.closed = true;
        let Self { framers, core, .. } = self;
        for f in framers.iter_mut() {
            f.on_close(core);
        }
        let Some((side, how)) = closer else {
            return;
        };
        if let Some(h) = core.handshakes.last_mut()
            && !h.completed()
        {
            h.closed_by = Some(side);
            h.close = Some(how);
            h.secs_to_close = h.progress.client_hello_ts.map(|t| at.ts.secs_since(t));
            if h.outcome == Outcome::Incomplete {
                h.outcome = Outcome::Abandoned;
            }
        }
    }

    pub fn handshakes(&self) -> &[Handshake] {
        &self.core.handshakes
    }

    pub fn anomalies(&self) -> &[TlsAnomaly] {
        &self.core.anomalies
    }

    pub fn summary(&self) -> TlsSummary {
        let c = &self.core;
        let first = c.handshakes.first();
        let ch = first.and_then(|h| h.client_hello.as_ref());
        let sh = first
            .and_then(|h| h.server_hello.as_ref())
            .filter(|s| !s.hrr);
        let (alpn, alpn_source) = match (first, sh) {
            (Some(h), Some(_)) if h.tls13() => (None, Some(AlpnSource::Encrypted)),
            (_, Some(sh)) => (sh.alpn.clone(), Some(AlpnSource::ServerHello)),
            _ => (None, None),
        };
        TlsSummary {
            version: first
                .and_then(|h| h.version)
                .filter(|_| sh.is_some())
                .map(version_name),
            sni: ch.and_then(|c| c.sni.clone()),
            alpn_offered: ch.map(|c| c.alpn.clone()).unwrap_or_default(),
            alpn,
            alpn_source,
            cipher: sh.map(|s| cipher_name(s.cipher_suite)),
            resumed: first.and_then(|h| h.resumed),
            outcome: first.map(|h| h.outcome),
            ja3: ch.and_then(|c| c.ja3.clone()),
            ja4: ch.and_then(|c| c.ja4.clone()),
            handshakes: c.handshakes.len(),
            client_hellos: c
                .handshakes
                .iter()
                .map(|h| u64::from(h.client_hellos))
                .sum::<u64>()
                + c.dropped_hellos,
            hrr: c.handshakes.iter().any(|h| h.hrr),
            ech: ch.is_some_and(|c| c.ech),
            session_ticket: ch.map(|c| c.session_ticket),
            early_data: ch.is_some_and(|c| c.early_data),
            client_app: c.app.client,
            server_app: c.app.server,
            early_data_records: c.early_data_records,
            client_bursts: c.client_bursts,
            first_records: c.first_records.clone(),
            late_handshake_records: [
                c.late_handshake_records.client,
                c.late_handshake_records.server,
            ],
            anomalies: c.anomalies.len() + c.anomalies_dropped as usize,
        }
    }
}
