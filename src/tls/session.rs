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
use super::names::{alert_name, cipher_arc, is_tls13, version_arc, version_name};
use super::record::{Framer, RecordEvent, RecordSink, SSLV2};
use super::{
    AnomalyKind, Close, MAX_ANOMALIES, MAX_HANDSHAKES, MAX_HELLO_LEN, TlsAnomaly, content,
};
use crate::budget::{Charge, growth, heap};
use crate::{At, Side, Ts};
use serde::{Deserialize, Serialize, Serializer};
use std::sync::Arc;

/// The length of a TLS 1.3 record carrying an alert under an AEAD with a
/// 16-byte tag: 2 bytes of alert, 1 of inner content type (RFC 8446 5.2).
const TLS13_ALERT_RECORD: usize = 2 + 1 + 16;

/// Appends without a plain `push`'s first allocation of four: nearly every
/// connection has one handshake, and a live connection's spare room for
/// three more would be most of its memory.
fn push_handshake(v: &mut Vec<Handshake>, h: Handshake) {
    if v.len() < 4 {
        v.reserve_exact(1);
    }
    v.push(h);
}

/// The length of a TLS 1.3 record holding EndOfEarlyData alone (RFC 8446
/// 4.5: a 4-byte message), its inner content type and the AEAD tag: 8
/// bytes for TLS_AES_128_CCM_8_SHA256, 16 for every other suite (B.4).
fn end_of_early_data_len(suite: Option<u16>) -> usize {
    4 + 1 + if suite == Some(0x1305) { 8 } else { 16 }
}

/// How many application-data records are listed in [`TlsSummary::first_records`].
pub const FIRST_RECORDS: usize = 16;

/// How a handshake ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// One handshake on a connection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Handshake {
    /// Packet of the (first) ClientHello; None when the capture or a gap
    /// lost it.
    pub client_hello_packet: Option<u64>,
    /// Time of that packet.
    pub client_hello_ts: Option<Ts>,
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
            client_hello_ts: at.map(|a| a.ts),
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
            progress: Progress::default(),
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
        self.secs_to_complete = self.client_hello_ts.map(|t| at.ts.secs_since(t));
    }
}

/// The per-connection `tls` object of the report. Identity fields come
/// from the first handshake; counts cover the whole connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TlsSummary {
    /// "TLS 1.3" style; null when no ServerHello was read.
    pub version: Option<Arc<str>>,
    pub sni: Option<Arc<str>>,
    pub alpn_offered: Vec<Arc<str>>,
    pub alpn: Option<Arc<str>>,
    pub alpn_source: Option<AlpnSource>,
    /// IANA name, or "0x1234" when unknown.
    pub cipher: Option<Arc<str>>,
    pub resumed: Option<bool>,
    /// Null when no handshake was seen (capture began after it).
    pub outcome: Option<Outcome>,
    pub ja3: Option<Arc<str>>,
    pub ja4: Option<Arc<str>>,
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
    /// The first application-data records after the handshake, for telling
    /// HTTP/2 from HTTP/1.x by shape; not part of the report.
    #[serde(skip)]
    pub first_records: Vec<AppRecord>,
    /// Encrypted handshake records after completion (TLS 1.2 renegotiation
    /// or HelloRequest), per side [client, server].
    pub late_handshake_records: [u64; 2],
    pub anomalies: usize,
    /// Every record read so far could be decrypted with the key logs.
    pub decrypted: bool,
    /// Why not: "no key", "unsupported cipher suite X", "authentication
    /// failed at record N"; null when decrypted or when no key log was given.
    pub decrypt_error: Option<String>,
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
    /// A message of this type and declared length given up because the
    /// capture's parser budget was spent: skipped as if too large.
    Refused(u8, usize),
}

/// Messages whose bodies are read: the hellos, and the TLS 1.2
/// NewSessionTicket (RFC 5077 section 3.3) for resumption by ticket.
fn wanted(typ: u8) -> bool {
    typ == 1 || typ == 2 || typ == 4
}

impl HsReader {
    fn reset(&mut self) {
        self.have = 0;
        self.msg = None;
        self.buf.clear();
    }

    fn feed(&mut self, mut d: &[u8], charge: &mut Charge, f: &mut impl FnMut(HsEvent<'_>)) {
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
                Some((t, remaining, mut keep)) => {
                    let take = remaining.min(d.len());
                    let (chunk, rest) = d.split_at_checked(take).unwrap_or((d, &[]));
                    d = rest;
                    if keep && !charge.take(growth(&self.buf, chunk.len())) {
                        f(HsEvent::Refused(t, self.buf.len() + remaining));
                        self.buf = Vec::new();
                        keep = false;
                    }
                    if keep {
                        self.buf.extend_from_slice(chunk);
                    }
                    if remaining == take {
                        self.msg = None;
                        if keep {
                            f(HsEvent::Message(t, &self.buf));
                        }
                        // Hellos split across records are rare, and a
                        // connection seldom has a second: nothing is kept.
                        self.buf = Vec::new();
                    } else {
                        self.msg = Some((t, remaining - take, keep));
                    }
                }
            }
        }
    }
}

/// The calls that change a decryptor's state even without secrets: a gap
/// on a side, a HelloRetryRequest since the last ClientHello.
#[derive(Debug, Default)]
struct Unmade {
    gap: [bool; 2],
    hrr: bool,
}

/// What a decryptor made late missed of the connection's current
/// handshake: its hellos, and whether encrypted records had passed.
#[derive(Clone, Copy, Default)]
struct Seen<'a> {
    client_hello: Option<&'a ClientHello>,
    server_hello: Option<&'a ServerHello>,
    encrypted: bool,
}

impl<'a> Seen<'a> {
    /// Of handshake `h` while its ServerHello is being read: its
    /// ClientHello alone.
    fn client_hello(h: &'a Handshake) -> Seen<'a> {
        Seen {
            client_hello: h.client_hello.as_ref(),
            ..Seen::default()
        }
    }

    /// Of handshake `h`, on a connection that has carried `ciphertext`
    /// encrypted records so far.
    fn of(h: Option<&'a Handshake>, ciphertext: u64) -> Seen<'a> {
        let Some(h) = h else {
            return Seen::default();
        };
        // Before TLS 1.3, encryption starts at a ChangeCipherSpec; in TLS
        // 1.3 (whose ChangeCipherSpec is for middleboxes) with the first
        // record after the ServerHello, an application-data record.
        let ccs = !h.tls13() && (h.progress.ccs.client || h.progress.ccs.server);
        Seen {
            client_hello: h.client_hello.as_ref(),
            server_hello: h.server_hello.as_ref().filter(|sh| !sh.hrr),
            encrypted: ccs || ciphertext > 0,
        }
    }
}

/// The connection's decryptor: made on first use once `keys` hold a
/// secret, and told what it missed (`unmade`, and the hellos `seen` when
/// the secrets came in the middle of a handshake, from a Decryption
/// Secrets Block); None while they hold none (a decryptor would do nothing
/// then) or without key logs.
fn decryptor<'a>(
    slot: &'a mut Option<Box<super::decrypt::Decrypt>>,
    keys: Option<&std::rc::Rc<super::decrypt::KeyStore>>,
    unmade: &Unmade,
    seen: Seen<'_>,
) -> Option<&'a mut super::decrypt::Decrypt> {
    if slot.is_none() {
        let keys = keys.filter(|k| !k.is_empty())?;
        let mut d = super::decrypt::Decrypt::new(std::rc::Rc::clone(keys));
        for side in [Side::Client, Side::Server] {
            if unmade.gap.get(side.idx()).copied().unwrap_or(false) {
                d.on_gap(side);
            }
        }
        if unmade.hrr {
            d.on_hello_retry();
        }
        match (seen.client_hello, seen.server_hello) {
            // Records under keys it never saw set up have passed: said so
            // rather than read wrong.
            (Some(ch), _) if seen.encrypted => d.came_too_late(&ch.random),
            (Some(ch), sh) => {
                d.on_client_hello(&ch.random, &ch.cipher_suites, ch.early_data);
                if let Some(sh) = sh {
                    tell_server_hello(&mut d, ch, sh);
                }
            }
            (None, _) => {}
        }
        *slot = Some(Box::new(d));
    }
    slot.as_deref_mut()
}

/// Tells `d` of the ServerHello `sh` answering `ch`.
fn tell_server_hello(d: &mut super::decrypt::Decrypt, ch: &ClientHello, sh: &ServerHello) {
    d.on_server_hello(
        &ch.random,
        &sh.random,
        ch.session_id.as_bytes(),
        sh.session_id.as_bytes(),
        sh.cipher_suite,
        sh.version,
        sh.encrypt_then_mac,
        ch.early_data,
        sh.psk,
        ch.ticket_id,
    );
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
    /// The 0-RTT records opened a client flight whose fate is not known
    /// yet: the server may reject them (RFC 8446 section 4.2.10).
    early_burst: bool,
    /// The client sent EndOfEarlyData: its next record is its Finished
    /// (RFC 8446 section 4.5), not application data.
    client_finished_next: bool,
    first_records: Vec<AppRecord>,
    client_bursts: u64,
    last_app_side: Option<Side>,
    late_handshake_records: Pair<u64>,
    anomalies: Vec<TlsAnomaly>,
    anomalies_dropped: u64,
    /// Deliver ciphertext fragments instead of skipping them: the switch a
    /// decryptor turns on. Off, application data is never copied.
    deliver_ciphertext: bool,
    /// Decryption, once the key logs hold a secret: boxed and made only
    /// then, as it is four times the rest of a session (2 KiB) and most
    /// captures come without keys.
    decrypt: Option<Box<super::decrypt::Decrypt>>,
    /// The secrets to decrypt with; the decryptor is made from them.
    keys: Option<std::rc::Rc<super::decrypt::KeyStore>>,
    /// What the decryptor would have been told while the key logs were
    /// empty, told to it when it is made.
    unmade: Unmade,
    /// Records read under encryption so far, either side.
    ciphertext_records: u64,
    /// What the handshake buffers hold against the capture's parser budget
    /// (the decryptor holds its own).
    charge: Charge,
}

impl RecordSink for Core {
    fn wants(&self, side: Side, ctype: u8) -> bool {
        if self.deliver_ciphertext {
            return true;
        }
        // Secrets came (a Decryption Secrets Block) and no decryptor is
        // made yet: the next record, whatever it is, makes it.
        if self.decrypt.is_none() && self.keys.as_ref().is_some_and(|k| !k.is_empty()) {
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
                ctype,
                version,
                fragment,
            } => {
                let fresh = self.decrypt.is_none();
                let seen = Seen::of(self.handshakes.last(), self.ciphertext_records);
                if let Some(d) =
                    decryptor(&mut self.decrypt, self.keys.as_ref(), &self.unmade, seen)
                {
                    d.on_record(side, ctype, version, fragment, at);
                    if fresh {
                        // Made by this record, after the hellos it was
                        // told of: it reads what follows them.
                        self.deliver_ciphertext = d.active();
                    }
                }
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
        if kind == AnomalyKind::ParserBudget {
            self.on_budget(side, at, bytes.unwrap_or(0));
            return;
        }
        self.push_anomaly(kind, side, at, bytes);
    }
}

impl Core {
    fn push_anomaly(&mut self, kind: AnomalyKind, side: Side, at: At, bytes: Option<u64>) {
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
        // An alert after the CCS is no Finished.
        if ctype == content::CHANGE_CIPHER_SPEC || ctype == content::ALERT {
            return;
        }
        let Some(h) = self.handshakes.last_mut() else {
            return;
        };
        // TLS 1.3 compatibility CCSs (RFC 8446 D.4) change nothing: the
        // client's Finished, not a record after its CCS, completes it.
        if h.tls13() || h.hrr {
            return;
        }
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
        let mut charge = std::mem::take(&mut self.charge);
        reader.feed(fragment, &mut charge, &mut |ev| match ev {
            HsEvent::Message(1, body) if side == Side::Client => {
                self.on_client_hello(hello::parse_client_hello(body), at)
            }
            HsEvent::Message(2, body) if side == Side::Server => {
                self.on_server_hello(hello::parse_server_hello(body), at)
            }
            HsEvent::Message(4, body) if side == Side::Server => {
                // NewSessionTicket: lifetime hint (4), ticket length (2), ticket.
                let seen = Seen::of(self.handshakes.last(), self.ciphertext_records);
                if let (Some(d), Some(ticket)) = (
                    decryptor(&mut self.decrypt, self.keys.as_ref(), &self.unmade, seen),
                    body.get(6..),
                ) {
                    d.on_ticket(ticket);
                }
                self.on_message_type(side, 4);
            }
            HsEvent::Message(t, _) | HsEvent::Skipped(t) => self.on_message_type(side, t),
            HsEvent::TooLarge(t, len) | HsEvent::Refused(t, len) => {
                match ev {
                    HsEvent::Refused(..) => self.on_budget(side, at, len as u64),
                    _ => self.on_anomaly(AnomalyKind::HelloTooLarge, side, at, Some(len as u64)),
                }
                match (t, side) {
                    (1, Side::Client) => self.on_client_hello(Err(HelloError::Malformed), at),
                    (2, Side::Server) => self.on_server_hello(Err(HelloError::Malformed), at),
                    _ => {}
                }
            }
        });
        *self.hs.of_mut(side) = reader;
        self.charge = charge;
    }

    /// `bytes` were not read because the capture's parser budget was
    /// spent: one anomaly per side, at the first packet, with the bytes
    /// summed.
    fn on_budget(&mut self, side: Side, at: At, bytes: u64) {
        match self
            .anomalies
            .iter_mut()
            .find(|a| a.kind == AnomalyKind::ParserBudget && a.side == side)
        {
            Some(a) => a.bytes = Some(a.bytes.unwrap_or(0).saturating_add(bytes)),
            None => self.push_anomaly(AnomalyKind::ParserBudget, side, at, Some(bytes)),
        }
    }

    /// States what the handshake buffers hold now.
    fn sync(&mut self) {
        let held = heap(&self.hs.client.buf) + heap(&self.hs.server.buf);
        self.charge.set(held);
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
        // A new hello: nothing of an earlier handshake is worth telling.
        match (
            decryptor(
                &mut self.decrypt,
                self.keys.as_ref(),
                &self.unmade,
                Seen::default(),
            ),
            &ch,
        ) {
            (Some(d), Ok(ch)) => {
                // 0-RTT records follow this hello (RFC 8446 section 2.3).
                d.on_client_hello(&ch.random, &ch.cipher_suites, ch.early_data);
                self.deliver_ciphertext = d.active();
            }
            // It would have started its early-data state afresh.
            (None, Ok(_)) => self.unmade.hrr = false,
            (_, Err(_)) => {}
        }
        push_handshake(&mut self.handshakes, Handshake::new(ch.ok(), Some(at)));
    }

    fn on_server_hello(&mut self, sh: Result<ServerHello, HelloError>, at: At) {
        let sh = match sh {
            Ok(sh) => Some(sh),
            Err(_) => {
                self.on_anomaly(AnomalyKind::MalformedHello, Side::Server, at, None);
                None
            }
        };
        // RFC 8446 4.2.10: a HelloRetryRequest, or a TLS 1.3 ServerHello
        // without the PSK, rejects the early data.
        if sh
            .as_ref()
            .is_some_and(|sh| sh.hrr || (is_tls13(sh.version) && !sh.psk))
        {
            self.retract_early_burst();
        }
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
            push_handshake(&mut self.handshakes, Handshake::new(None, None));
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
            // RFC 8446 4.1.4: a second ClientHello follows; 4.2.10: any
            // early data is rejected.
            let seen = Seen::client_hello(h);
            match decryptor(&mut self.decrypt, self.keys.as_ref(), &self.unmade, seen) {
                Some(d) => d.on_hello_retry(),
                None => self.unmade.hrr = true,
            }
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
        // Made now, it is told of the ClientHello first.
        let seen = Seen::client_hello(h);
        if let (Some(d), Some(ch)) = (
            decryptor(&mut self.decrypt, self.keys.as_ref(), &self.unmade, seen),
            &h.client_hello,
        ) {
            tell_server_hello(d, ch, &sh);
            self.deliver_ciphertext = d.active();
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
        let seen = Seen::of(self.handshakes.last(), self.ciphertext_records);
        if let Some(d) = decryptor(&mut self.decrypt, self.keys.as_ref(), &self.unmade, seen) {
            d.on_ccs(side);
        }
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
            // No ServerHello (yet, or not captured). A client that offered
            // TLS 1.3 may send a compatibility CCS right after its hello
            // (RFC 8446 D.4, with early data); any other CCS is a cipher
            // change.
            let offered13 = h
                .client_hello
                .as_ref()
                .is_some_and(|c| c.supported_versions.iter().any(|v| is_tls13(*v)));
            if !offered13 {
                *self.encrypted.of_mut(side) = true;
            }
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
        self.ciphertext_records += 1;
        let h = self.handshakes.last_mut();
        match ctype {
            content::ALERT => {
                // A side that already sent application data considered the
                // handshake done: its encrypted alert is a close, not a
                // failure (captures that miss the other side look so).
                let sent_data = self.app.of(side).records > 0;
                if let Some(h) = h
                    && !h.completed()
                    && h.alert.is_none()
                    && !sent_data
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
            // Not the Finished whose record completed the handshake just now.
            content::HANDSHAKE
                if h.as_ref()
                    .is_some_and(|h| h.completed() && h.completed_packet != Some(at.packet)) =>
            {
                *self.late_handshake_records.of_mut(side) += 1;
            }
            content::APPLICATION_DATA => {
                let Some(h) = h else {
                    return self.on_app_data(side, len, at);
                };
                if h.completed() {
                    if side == Side::Client && std::mem::take(&mut self.client_finished_next) {
                        return;
                    }
                    return self.on_app_data(side, len, at);
                }
                if h.tls13() && h.progress.server_hello_seen {
                    match side {
                        // EncryptedExtensions .. Finished.
                        Side::Server => {}
                        // The client's second flight (RFC 8446 2).
                        Side::Client => {
                            let suite = h.cipher_suite();
                            h.complete(at);
                            // RFC 8446 4.5: it opens with EndOfEarlyData
                            // exactly when the server accepted 0-RTT data.
                            let offered = h.client_hello.as_ref().is_some_and(|c| c.early_data);
                            let end_of_early_data = offered && len == end_of_early_data_len(suite);
                            self.client_finished_next = end_of_early_data;
                            if self.early_burst && !end_of_early_data {
                                self.retract_early_burst();
                            }
                            self.early_burst = false;
                        }
                    }
                    return;
                }
                if !h.progress.server_hello_seen
                    && side == Side::Client
                    && h.client_hello.as_ref().is_some_and(|c| c.early_data)
                {
                    // RFC 8446 2.3: 0-RTT data right after the ClientHello.
                    self.early_data_records += 1;
                    let before = self.client_bursts;
                    self.on_app_data(side, len, at);
                    self.early_burst |= self.client_bursts > before;
                    return;
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

    /// The 0-RTT flight was rejected: it carried no request that was
    /// served, and the client's next data opens a flight of its own.
    fn retract_early_burst(&mut self) {
        if std::mem::take(&mut self.early_burst) {
            self.client_bursts = self.client_bursts.saturating_sub(1);
            self.last_app_side = None;
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
        // In TLS 1.3 an alert travels as application data; a record of at
        // most 2 + 1 + 16 bytes (alert, content type, AEAD tag) cannot hold
        // a request, and is most likely a close_notify: it opens no flight.
        let alert_sized =
            len <= TLS13_ALERT_RECORD && self.handshakes.last().is_some_and(|h| h.tls13());
        if alert_sized {
            return;
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

    /// A session that decrypts with the secrets in `keys`, its buffers
    /// counted against the parser budget the store carries.
    pub fn with_keys(keys: std::rc::Rc<super::decrypt::KeyStore>) -> Self {
        let mut s = Self::new().with_charge(Charge::new(keys.budget()));
        s.core.keys = Some(keys);
        s
    }

    /// Counts the handshake and record buffers against `charge`'s budget
    /// (a session made by [`TlsSession::with_keys`] already does).
    pub fn with_charge(mut self, charge: Charge) -> Self {
        for f in &mut self.framers {
            f.charge = charge.sibling();
        }
        self.core.charge = charge;
        self.core.sync();
        self
    }

    /// The ALPN protocol the server chose, when it can be read: from the
    /// ServerHello (TLS 1.2 and below) or decrypted EncryptedExtensions.
    pub fn negotiated_alpn(&self) -> Option<Arc<str>> {
        self.core
            .decrypt
            .as_ref()
            .and_then(|d| d.alpn.as_deref())
            .map(Arc::from)
            .or_else(|| {
                self.core
                    .handshakes
                    .first()
                    .and_then(|h| h.server_hello.as_ref())
                    .and_then(|sh| sh.alpn.clone())
            })
    }

    /// Whether decrypted application data waits to be taken.
    pub fn has_plaintext(&self) -> bool {
        self.core.decrypt.as_ref().is_some_and(|d| d.has_queued())
    }

    /// Hands decrypted application data, in order, to `sink`.
    pub fn take_plaintext(&mut self, sink: &mut dyn FnMut(Side, super::decrypt::Plain<'_>, At)) {
        let mut lost = Vec::new();
        if let Some(d) = &mut self.core.decrypt {
            d.drain(&mut |side, plain, at| {
                match plain {
                    super::decrypt::Plain::Lost(n) => lost.push((side, n, at, false)),
                    super::decrypt::Plain::Refused(n) => lost.push((side, n, at, true)),
                    super::decrypt::Plain::Bytes(_) => {}
                }
                sink(side, plain, at);
            });
        }
        for (side, n, at, refused) in lost {
            if refused {
                self.core.on_budget(side, at, n);
            } else {
                self.core
                    .on_anomaly(AnomalyKind::DecryptedOverflow, side, at, Some(n));
            }
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
        core.sync();
    }

    /// `len` bytes sent by `side` were not captured.
    pub fn on_gap(&mut self, side: Side, len: u64) {
        let c = &mut self.core;
        let seen = Seen::of(c.handshakes.last(), c.ciphertext_records);
        match decryptor(&mut c.decrypt, c.keys.as_ref(), &c.unmade, seen) {
            Some(d) => d.on_gap(side),
            None => {
                if let Some(g) = c.unmade.gap.get_mut(side.idx()) {
                    *g = true;
                }
            }
        }
        let Self { framers, core, .. } = self;
        if let Some(f) = framers.get_mut(side.idx()) {
            f.on_gap(len, core);
        }
        core.sync();
    }

    /// No byte will come again (both streams reached their FIN): the
    /// decryptor gives back what only served to read further records.
    pub fn on_streams_done(&mut self) {
        if let Some(d) = &mut self.core.decrypt {
            d.on_streams_done();
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
            h.secs_to_close = h.client_hello_ts.map(|t| at.ts.secs_since(t));
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
        self.summary_with(self.core.first_records.clone())
    }

    /// [`Self::summary`], its first records taken rather than copied: for
    /// a session that is done.
    pub fn take_summary(&mut self) -> TlsSummary {
        let first_records = std::mem::take(&mut self.core.first_records);
        self.summary_with(first_records)
    }

    fn summary_with(&self, first_records: Vec<AppRecord>) -> TlsSummary {
        let c = &self.core;
        let first = c.handshakes.first();
        let ch = first.and_then(|h| h.client_hello.as_ref());
        let sh = first
            .and_then(|h| h.server_hello.as_ref())
            .filter(|s| !s.hrr);
        let decrypted_alpn = c.decrypt.as_ref().and_then(|d| d.alpn.as_deref());
        let (alpn, alpn_source) = match (first, sh) {
            (Some(h), Some(_)) if h.tls13() => match decrypted_alpn {
                // RFC 8446 4.3.1: EncryptedExtensions, read with the keys.
                Some(a) => (Some(Arc::from(a)), Some(AlpnSource::Decrypted)),
                None if c.decrypt.as_ref().is_some_and(|d| d.opened > 0) => {
                    (None, Some(AlpnSource::Decrypted))
                }
                None => (None, Some(AlpnSource::Encrypted)),
            },
            (_, Some(sh)) => (sh.alpn.clone(), Some(AlpnSource::ServerHello)),
            _ => (None, None),
        };
        // Early data adds its note to a decrypting connection: skipped for
        // want of its secret (not everything was decrypted), rejected by
        // the server (decrypted, not counted), ...
        let early = c.decrypt.as_ref().and_then(|d| d.early_note());
        let (decrypted, decrypt_error) = match (c.decrypt.as_ref().map(|d| d.status()), early) {
            (None, _) | (Some(super::decrypt::Status::Idle), None) => (false, None),
            (Some(super::decrypt::Status::Idle), Some((_, note))) => (false, Some(note)),
            (Some(super::decrypt::Status::NoKey), _) => (false, Some("no key".to_string())),
            (Some(super::decrypt::Status::Decrypting), None) => (true, None),
            (Some(super::decrypt::Status::Decrypting), Some((all, note))) => (all, Some(note)),
            (Some(super::decrypt::Status::Failed(why)), _) => (false, Some(why.clone())),
        };
        TlsSummary {
            version: first
                .and_then(|h| h.version)
                .filter(|_| sh.is_some())
                .map(version_arc),
            sni: ch.and_then(|c| c.sni.clone()),
            alpn_offered: ch.map(|c| c.alpn.clone()).unwrap_or_default(),
            alpn,
            alpn_source,
            cipher: sh.map(|s| cipher_arc(s.cipher_suite)),
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
            first_records,
            late_handshake_records: [
                c.late_handshake_records.client,
                c.late_handshake_records.server,
            ],
            anomalies: c.anomalies.len() + c.anomalies_dropped as usize,
            decrypted,
            decrypt_error,
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use crate::tls::hello::tests::{RFC8448_CH, RFC8448_SH, unhex};

    /// A record around `body` (RFC 8446 5.1).
    fn rec(ctype: u8, version: u16, body: &[u8]) -> Vec<u8> {
        let mut r = vec![ctype];
        r.extend_from_slice(&version.to_be_bytes());
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    /// A ciphertext record of `len` bytes. Its content is never read, so
    /// zeros stand in for the ciphertext of the traces.
    fn cipher(len: usize) -> Vec<u8> {
        rec(23, 0x0303, &vec![0; len])
    }

    fn at(packet: u64) -> At {
        // 10 ms per packet.
        At {
            packet,
            ts: Ts(packet as i64 * 10_000_000),
        }
    }

    /// Feeds a session one packet at a time, numbering packets from 1.
    struct Run {
        s: TlsSession,
        packet: u64,
    }

    impl Run {
        fn new() -> Self {
            Run {
                s: TlsSession::new(),
                packet: 0,
            }
        }
        /// A session decrypting with the secrets of `key_log`.
        fn with_keys(key_log: &str) -> Self {
            let (log, warnings) = crate::keys::KeyLog::parse(key_log.as_bytes());
            assert!(warnings.is_empty(), "{warnings:?}");
            let store = super::super::decrypt::KeyStore::new(std::sync::Arc::new(log));
            Run {
                s: TlsSession::with_keys(std::rc::Rc::new(store)),
                packet: 0,
            }
        }
        /// The decrypted application data so far: (side, bytes, packet).
        fn plaintext(&mut self) -> Vec<(Side, Vec<u8>, u64)> {
            let mut out = Vec::new();
            self.s.take_plaintext(&mut |side, plain, at| {
                if let crate::tls::decrypt::Plain::Bytes(bytes) = plain {
                    out.push((side, bytes.to_vec(), at.packet));
                }
            });
            out
        }
        fn send(&mut self, side: Side, bytes: &[u8]) -> &mut Self {
            self.packet += 1;
            self.s.on_data(side, bytes, at(self.packet));
            self
        }
        fn close(&mut self, closer: Option<(Side, Close)>) -> &mut Self {
            self.packet += 1;
            self.s.on_close(closer, at(self.packet));
            self
        }
        fn hs(&self) -> &Handshake {
            self.s.handshakes().first().expect("a handshake")
        }
    }

    use Side::{Client as C, Server as S};

    /// RFC 8448 3 "Simple 1-RTT Handshake": record lengths as in the trace
    /// (server flight 0x2a2, client Finished 0x35, NewSessionTicket 0xde,
    /// application data 0x43 each way, alerts 0x13).
    fn rfc8448_simple() -> Run {
        let mut r = Run::new();
        r.send(C, &rec(22, 0x0301, &unhex(RFC8448_CH)));
        let mut flight = rec(22, 0x0303, &unhex(RFC8448_SH));
        flight.extend(cipher(0x2a2));
        r.send(S, &flight);
        r.send(C, &cipher(0x35)); // 3: client Finished
        r.send(S, &cipher(0xde)); // 4: NewSessionTicket
        r.send(C, &cipher(0x43)); // 5
        r.send(S, &cipher(0x43)); // 6
        r.send(C, &cipher(0x13)); // 7: close_notify
        r.send(S, &cipher(0x13)); // 8
        r
    }

    #[test]
    fn tls13_full_handshake_rfc8448() {
        let mut r = rfc8448_simple();
        r.close(Some((C, Close::Fin)));
        let h = r.hs();
        assert_eq!(h.outcome, Outcome::Completed);
        assert_eq!(h.completed_packet, Some(3));
        assert_eq!(h.secs_to_complete, Some(0.02));
        assert_eq!(h.resumed, Some(false));
        assert_eq!(h.client_random().map(|r| r[0]), Some(0xcb));
        assert_eq!(h.server_random().map(|r| r[0]), Some(0xa6));
        assert_eq!(h.cipher_suite(), Some(0x1301));
        let s = r.s.summary();
        assert_eq!(s.version.as_deref(), Some("TLS 1.3"));
        assert_eq!(s.sni.as_deref(), Some("server"));
        assert_eq!(s.cipher.as_deref(), Some("TLS_AES_128_GCM_SHA256"));
        assert_eq!((s.alpn, s.alpn_source), (None, Some(AlpnSource::Encrypted)));
        assert_eq!(s.outcome, Some(Outcome::Completed));
        assert_eq!(s.handshakes, 1);
        assert_eq!(s.session_ticket, Some(TicketOffer::Empty));
        // After the client Finished: NST, data, alert from the server;
        // data and alert from the client.
        assert_eq!(
            s.server_app,
            SideCounts {
                records: 3,
                bytes: 0xde + 0x43 + 0x13
            }
        );
        assert_eq!(
            s.client_app,
            SideCounts {
                records: 2,
                bytes: 0x43 + 0x13
            }
        );
        // The client's data opens one flight; its close_notify (an alert
        // sized record) opens none.
        assert_eq!(s.client_bursts, 1);
        let sides: Vec<(Side, u32, u64)> = s
            .first_records
            .iter()
            .map(|a| (a.side, a.len, a.packet))
            .collect();
        assert_eq!(
            sides,
            vec![
                (S, 0xde, 4),
                (C, 0x43, 5),
                (S, 0x43, 6),
                (C, 0x13, 7),
                (S, 0x13, 8)
            ]
        );
        assert!(r.s.anomalies().is_empty());
    }

    #[test]
    fn the_same_bytes_split_at_every_offset_give_the_same_facts() {
        let whole = rfc8448_simple().s.summary();
        let hello = rec(22, 0x0301, &unhex(RFC8448_CH));
        let mut server = rec(22, 0x0303, &unhex(RFC8448_SH));
        server.extend(cipher(0x2a2));
        for cut in 0..=hello.len() {
            let scut = cut * 3 % server.len();
            let mut r = Run::new();
            r.send(C, &hello[..cut]).send(C, &hello[cut..]);
            r.send(S, &server[..scut]).send(S, &server[scut..]);
            r.send(C, &cipher(0x35));
            let s = r.s.summary();
            assert_eq!(s.ja4, whole.ja4, "cut {cut}");
            assert_eq!(s.outcome, Some(Outcome::Completed), "cut {cut}");
            assert_eq!(s.version, whole.version, "cut {cut}");
        }
    }

    /// RFC 8448 5: ClientHello, HelloRetryRequest, second ClientHello,
    /// ServerHello. One handshake with two ClientHellos.
    #[test]
    fn hello_retry_request_is_one_handshake_rfc8448() {
        let ch1 = unhex(
            "01 00 00 b0 03 03 b0 b1 c5 a5 aa 37 c5 91 9f 2e d1 d5 c6 ff f7 fc b7 84
             97 16 94 5a 2b 8c ee 92 58 a3 46 67 7b 6f 00 00 06 13 01 13 03 13 02 01
             00 00 81 00 00 00 0b 00 09 00 00 06 73 65 72 76 65 72 ff 01 00 01 00 00
             0a 00 08 00 06 00 1d 00 17 00 18 00 33 00 26 00 24 00 1d 00 20 e8 e8 e3
             f3 b9 3a 25 ed 97 a1 4a 7d ca cb 8a 27 2c 62 88 e5 85 c6 48 4d 05 26 2f
             ca d0 62 ad 1f 00 2b 00 03 02 03 04 00 0d 00 20 00 1e 04 03 05 03 06 03
             02 03 08 04 08 05 08 06 04 01 05 01 06 01 02 01 04 02 05 02 06 02 02 02
             00 2d 00 02 01 01 00 1c 00 02 40 01",
        );
        assert_eq!(ch1.len(), 180);
        let cookie = "00 2c 00 74 00 72 71 dc d0 4b b8 8b c3 18 91 19 39 8a 00 00 00 00 ee
             fa fc 76 c1 46 b8 23 b0 96 f8 aa ca d3 65 dd 00 30 95 3f 4e df 62 56 36
             e5 f2 1b b2 e2 3f cc 65 4b 1b 5b 40 31 8d 10 d1 37 ab cb b8 75 74 e3 6e
             8a 1f 02 5f 7d fa 5d 6e 50 78 1b 5e da 4a a1 5b 0c 8b e7 78 25 7d 16 aa
             30 30 e9 e7 84 1d d9 e4 c0 34 22 67 e8 ca 0c af 57 1f b2 b7 cf f0 f9 34
             b0";
        let hrr = unhex(&format!(
            "02 00 00 ac 03 03 cf 21 ad 74 e5 9a 61 11 be 1d 8c 02 1e 65 b8 91 c2 a2
             11 16 7a bb 8c 5e 07 9e 09 e2 c8 a8 33 9c 00 13 01 00 00 84 00 33 00 02
             00 17 {cookie} 00 2b 00 02 03 04"
        ));
        assert_eq!(hrr.len(), 176);
        let mut ch2 = unhex(&format!(
            "01 00 01 fc 03 03 b0 b1 c5 a5 aa 37 c5 91 9f 2e d1 d5 c6 ff f7 fc b7 84
             97 16 94 5a 2b 8c ee 92 58 a3 46 67 7b 6f 00 00 06 13 01 13 03 13 02 01
             00 01 cd 00 00 00 0b 00 09 00 00 06 73 65 72 76 65 72 ff 01 00 01 00 00
             0a 00 08 00 06 00 1d 00 17 00 18 00 33 00 47 00 45 00 17 00 41 04 a6 da
             73 92 ec 59 1e 17 ab fd 53 59 64 b9 98 94 d1 3b ef b2 21 b3 de f2 eb e3
             83 0e ac 8f 01 51 81 26 77 c4 d6 d2 23 7e 85 cf 01 d6 91 0c fb 83 95 4e
             76 ba 73 52 83 05 34 15 98 97 e8 06 57 80 00 2b 00 03 02 03 04 00 0d 00
             20 00 1e 04 03 05 03 06 03 02 03 08 04 08 05 08 06 04 01 05 01 06 01 02
             01 04 02 05 02 06 02 02 02 {cookie} 00 2d 00 02 01 01 00 1c 00 02 40 01
             00 15 00 af"
        ));
        ch2.resize(512, 0);
        let sh = unhex(
            "02 00 00 77 03 03 bb 34 1d 84 7f d7 89 c4 7c 38 71 72 dc 0c 9b f1 47 fc
             ca cb 50 43 d8 6c a4 c5 98 d3 ff 57 1b 98 00 13 01 00 00 4f 00 33 00 45
             00 17 00 41 04 58 3e 05 4b 7a 66 67 2a e0 20 ad 9d 26 86 fc c8 5b 5a d4
             1a 13 4a 0f 03 ee 72 b8 93 05 2b d8 5b 4c 8d e6 77 6f 5b 04 ac 07 d8 35
             40 ea b3 e3 d9 c5 47 bc 65 28 c4 31 7d 29 46 86 09 3a 6c ad 7d 00 2b 00
             02 03 04",
        );
        assert_eq!(sh.len(), 123);
        let mut r = Run::new();
        r.send(C, &rec(22, 0x0301, &ch1));
        r.send(S, &rec(22, 0x0303, &hrr));
        // A middlebox-compatibility CCS may precede the second ClientHello
        // (RFC 8446 D.4); it must not be taken for encryption.
        let mut second = rec(20, 0x0303, &[1]);
        second.extend(rec(22, 0x0303, &ch2));
        r.send(C, &second);
        let mut flight = rec(22, 0x0303, &sh);
        flight.extend(cipher(0x2a2));
        r.send(S, &flight);
        r.send(C, &cipher(0x35));
        let h = r.hs();
        assert!(h.hrr);
        assert_eq!(h.client_hellos, 2);
        assert_eq!(h.outcome, Outcome::Completed);
        assert_eq!(h.server_random().map(|r| r[0]), Some(0xbb));
        let s = r.s.summary();
        assert_eq!((s.handshakes, s.client_hellos, s.hrr), (1, 2, true));
        assert_eq!(s.version.as_deref(), Some("TLS 1.3"));
    }

    /// RFC 8448 4 "Resumed 0-RTT Handshake": the ClientHello body, which
    /// offers a PSK and early data.
    fn rfc8448_0rtt_ch() -> Vec<u8> {
        let mut ch = unhex(
            "01 00 01 fc 03 03 1b c3 ce b6 bb e3 9c ff 93 83 55 b5 a5 0a db 6d b2 1b
             7a 6a f6 49 d7 b4 bc 41 9d 78 76 48 7d 95 00 00 06 13 01 13 03 13 02 01
             00 01 cd 00 00 00 0b 00 09 00 00 06 73 65 72 76 65 72 ff 01 00 01 00 00
             0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01 03 01 04 00
             33 00 26 00 24 00 1d 00 20 e4 ff b6 8a c0 5f 8d 96 c9 9d a2 66 98 34 6c
             6b e1 64 82 ba dd da fe 05 1a 66 b4 f1 8d 66 8f 0b 00 2a 00 00 00 2b 00
             03 02 03 04 00 0d 00 20 00 1e 04 03 05 03 06 03 02 03 08 04 08 05 08 06
             04 01 05 01 06 01 02 01 04 02 05 02 06 02 02 02 00 2d 00 02 01 01 00 1c
             00 02 40 01 00 15 00 57",
        );
        ch.resize(ch.len() + 0x57, 0);
        ch.extend(unhex(
            "00 29 00 dd 00 b8 00 b2 2c 03 5d 82 93 59 ee 5f f7 af 4e c9 00 00 00 00
             26 2a 64 94 dc 48 6d 2c 8a 34 cb 33 fa 90 bf 1b 00 70 ad 3c 49 88 83 c9
             36 7c 09 a2 be 78 5a bc 55 cd 22 60 97 a3 a9 82 11 72 83 f8 2a 03 a1 43
             ef d3 ff 5d d3 6d 64 e8 61 be 7f d6 1d 28 27 db 27 9c ce 14 50 77 d4 54
             a3 66 4d 4e 6d a4 d2 9e e0 37 25 a6 a4 da fc d0 fc 67 d2 ae a7 05 29 51
             3e 3d a2 67 7f a5 90 6c 5b 3f 7d 8f 92 f2 28 bd a4 0d da 72 14 70 f9 fb
             f2 97 b5 ae a6 17 64 6f ac 5c 03 27 2e 97 07 27 c6 21 a7 91 41 ef 5f 7d
             e6 50 5e 5b fb c3 88 e9 33 43 69 40 93 93 4a e4 d3 57 fa d6 aa cb 00 21
             20 3a dd 4f b2 d8 fd f8 22 a0 ca 3c f7 67 8e f5 e8 8d ae 99 01 41 c5 92
             4d 57 bb 6f a3 1b 9e 5f 9d",
        ));
        assert_eq!(ch.len(), 512);
        ch
    }

    /// RFC 8448 4: the ServerHello body, which selects the PSK.
    fn rfc8448_0rtt_sh() -> Vec<u8> {
        unhex(
            "02 00 00 5c 03 03 3c cf d2 de c8 90 22 27 63 47 2a e8 13 67 77 c9 d7 35
             87 77 bb 66 e9 1e a5 12 24 95 f5 59 ea 2d 00 13 01 00 00 34 00 29 00 02
             00 00 00 33 00 24 00 1d 00 20 12 17 61 ee 42 c3 33 e1 b9 e7 7b 60 dd 57
             c2 05 3c d9 45 12 ab 47 f1 15 e8 6e ff 50 94 2c ea 31 00 2b 00 02 03 04",
        )
    }

    /// RFC 8448 4 "Resumed 0-RTT Handshake": the ClientHello offers a PSK
    /// and early data, 0-RTT application data follows it, the ServerHello
    /// selects the PSK.
    #[test]
    fn tls13_psk_resumption_and_early_data_rfc8448() {
        let (ch, sh) = (rfc8448_0rtt_ch(), rfc8448_0rtt_sh());
        let mut r = Run::new();
        let mut first = rec(22, 0x0301, &ch);
        first.extend(cipher(0x17)); // 0-RTT data, "17 03 03 00 17" in the trace
        r.send(C, &first);
        let mut flight = rec(22, 0x0303, &sh);
        flight.extend(cipher(0x61));
        r.send(S, &flight);
        r.send(C, &cipher(0x15)); // EndOfEarlyData
        r.send(C, &cipher(0x35)); // Finished
        let h = r.hs();
        let c = h.client_hello.as_ref().unwrap();
        assert!(c.psk && c.early_data);
        assert_eq!(c.session_ticket, TicketOffer::Absent);
        assert_eq!(h.resumed, Some(true));
        assert_eq!(h.outcome, Outcome::Completed);
        assert_eq!(h.completed_packet, Some(3));
        let s = r.s.summary();
        assert!(s.early_data);
        assert_eq!(s.early_data_records, 1);
        assert_eq!(s.resumed, Some(true));
    }

    /// The RFC 8448 4 trace with its records: ClientHello + 0-RTT data
    /// (packet 1), ServerHello + `server_flight` (2), then `client` records,
    /// one packet each, then the application data both ways and the
    /// close_notify alerts.
    fn rfc8448_0rtt_run(key_log: &str, server_flight: &[u8], client: &[Vec<u8>]) -> Run {
        use crate::keys::fixtures::{hex, rfc8448_0rtt as z};
        let mut r = Run::with_keys(key_log);
        let mut first = rec(22, 0x0301, &rfc8448_0rtt_ch());
        first.extend(hex(z::EARLY_DATA_RECORD));
        r.send(C, &first);
        let mut flight = rec(22, 0x0303, &rfc8448_0rtt_sh());
        flight.extend_from_slice(server_flight);
        r.send(S, &flight);
        for record in client {
            r.send(C, record);
        }
        r.send(C, &hex(z::CLIENT_AP_RECORD));
        r.send(S, &hex(z::SERVER_AP_RECORD));
        r.send(C, &hex(z::CLIENT_ALERT_RECORD));
        r.send(S, &hex(z::SERVER_ALERT_RECORD));
        r
    }

    /// The RFC 8448 4 trace as it happened: the server accepts the early
    /// data, the client ends it with EndOfEarlyData, then its Finished.
    fn rfc8448_0rtt_accepted(key_log: &str) -> Run {
        use crate::keys::fixtures::{hex, rfc8448_0rtt as z};
        rfc8448_0rtt_run(
            key_log,
            &hex(z::SERVER_FLIGHT_RECORD),
            &[
                hex(z::END_OF_EARLY_DATA_RECORD),
                hex(z::CLIENT_FINISHED_RECORD),
            ],
        )
    }

    /// A TLS 1.3 AES-128-GCM record sealed as its sender would (RFC 8446
    /// 5.2-5.4), for handshakes the RFC 8448 trace does not show.
    fn seal13(secret: &str, seq: u64, inner: u8, content: &[u8]) -> Vec<u8> {
        use crate::keys::fixtures::hex;
        use ring::aead;
        let keys =
            crate::keys::TrafficKeys::derive(crate::keys::suite(0x1301).unwrap(), &hex(secret))
                .unwrap();
        let mut body = content.to_vec();
        body.push(inner);
        let len = (body.len() + 16) as u16;
        let header = [23, 3, 3, (len >> 8) as u8, len as u8];
        let mut nonce = *keys.iv();
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        let key =
            aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, keys.key()).unwrap());
        key.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(header),
            &mut body,
        )
        .unwrap();
        let mut record = header.to_vec();
        record.extend(body);
        record
    }

    fn fifty() -> Vec<u8> {
        (0u8..50).collect()
    }

    #[test]
    fn accepted_early_data_is_decrypted_and_delivered_first_rfc8448() {
        use crate::keys::fixtures::rfc8448_0rtt as z;
        let mut r = rfc8448_0rtt_accepted(&z::key_log(true));
        // The 0-RTT "ABCDEF" is released once EncryptedExtensions accepted
        // it, with the time of its own packet; then 00..31 each way.
        assert_eq!(
            r.plaintext(),
            vec![(C, b"ABCDEF".to_vec(), 1), (C, fifty(), 5), (S, fifty(), 6)]
        );
        let s = r.s.summary();
        assert_eq!((s.decrypted, s.decrypt_error), (true, None));
        assert_eq!(s.early_data_records, 1);
        assert_eq!(s.alpn_source, Some(AlpnSource::Decrypted));
        assert_eq!(r.hs().outcome, Outcome::Completed);
    }

    #[test]
    fn early_data_without_its_secret_is_skipped_and_said() {
        use crate::keys::fixtures::rfc8448_0rtt as z;
        let mut r = rfc8448_0rtt_accepted(&z::key_log(false));
        // The 0-RTT data and EndOfEarlyData are stepped over; the rest
        // decrypts.
        assert_eq!(r.plaintext(), vec![(C, fifty(), 5), (S, fifty(), 6)]);
        let s = r.s.summary();
        assert!(!s.decrypted);
        assert_eq!(
            s.decrypt_error.as_deref(),
            Some(
                "early data not decrypted: no CLIENT_EARLY_TRAFFIC_SECRET in the key log (2 records skipped)"
            )
        );
    }

    #[test]
    fn rejected_early_data_is_decrypted_and_never_delivered() {
        use crate::keys::fixtures::{hex, rfc8448_0rtt as z};
        // The RFC 8448 4 server flight with early_data taken out of
        // EncryptedExtensions (RFC 8446 4.2.10: the server rejects the
        // 0-RTT data); the client, told so, sends no EndOfEarlyData but one
        // more early record it had in flight, then its Finished.
        let ee = hex(
            "08 00 00 24 00 22 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01
             01 02 01 03 01 04 00 1c 00 02 40 01 00 00 00 00",
        );
        let flight = [ee, hex(z::SERVER_FINISHED)].concat();
        let server = seal13(z::SERVER_HS_SECRET, 0, 22, &flight);
        let late_early = seal13(z::CLIENT_EARLY_SECRET, 1, 23, b"GHIJ");
        let mut r = rfc8448_0rtt_run(
            &z::key_log(true),
            &server,
            &[late_early, hex(z::CLIENT_FINISHED_RECORD)],
        );
        assert_eq!(r.plaintext(), vec![(C, fifty(), 5), (S, fifty(), 6)]);
        let s = r.s.summary();
        assert!(s.decrypted);
        assert_eq!(
            s.decrypt_error.as_deref(),
            Some("early data rejected by the server: 2 records not counted")
        );
    }

    #[test]
    fn early_data_whose_answer_is_not_seen_is_not_delivered() {
        use crate::keys::fixtures::{hex, rfc8448_0rtt as z};
        let mut r = Run::with_keys(&z::key_log(true));
        let mut first = rec(22, 0x0301, &rfc8448_0rtt_ch());
        first.extend(hex(z::EARLY_DATA_RECORD));
        r.send(C, &first);
        r.send(S, &rec(22, 0x0303, &rfc8448_0rtt_sh()));
        r.close(None);
        assert_eq!(r.plaintext(), vec![]);
        let s = r.s.summary();
        assert_eq!(
            s.decrypt_error.as_deref(),
            Some("early data not counted: whether the server accepted it was not seen (1 record)")
        );
        // Without even a ServerHello the same is said.
        let mut r = Run::with_keys(&z::key_log(true));
        r.send(C, &first);
        r.close(None);
        assert_eq!(r.plaintext(), vec![]);
        assert!(
            r.s.summary()
                .decrypt_error
                .unwrap()
                .starts_with("early data not counted")
        );
    }

    #[test]
    fn early_data_under_a_damaged_secret_fails_without_stopping_the_rest() {
        use crate::keys::fixtures::rfc8448_0rtt as z;
        let log = z::key_log(true).replacen("CLIENT_EARLY_TRAFFIC_SECRET 1b", "X", 0);
        let wrong = log.replace(
            &z::CLIENT_EARLY_SECRET
                .split_whitespace()
                .collect::<String>(),
            &"00".repeat(32),
        );
        let mut r = rfc8448_0rtt_accepted(&wrong);
        assert_eq!(r.plaintext(), vec![(C, fifty(), 5), (S, fifty(), 6)]);
        let s = r.s.summary();
        assert!(!s.decrypted);
        assert_eq!(
            s.decrypt_error.as_deref(),
            Some(
                "early data not decrypted: authentication failed at early record 0 with every suite offered"
            )
        );
    }

    /// Without keys the 0-RTT flight is counted as a client flight only if
    /// the server can have accepted it: RFC 8446 4.2.10 (a ServerHello
    /// without the PSK rejects it) and 4.5 (EndOfEarlyData, a 21-byte
    /// record under AES-GCM, opens the client's second flight exactly when
    /// it was accepted).
    #[test]
    fn rejected_early_flight_is_no_request_estimate() {
        for (second_flight, psk, bursts) in [
            (vec![0x15, 0x35], true, 1), // EndOfEarlyData, Finished: accepted
            (vec![0x35], true, 0),       // Finished alone: rejected
            (vec![0x35], false, 0),      // no PSK: rejected
        ] {
            let mut sh = rfc8448_0rtt_sh();
            if !psk {
                // Drop pre_shared_key (00 29 00 02 00 00) from the extensions.
                let at = sh
                    .windows(6)
                    .position(|w| w == [0, 0x29, 0, 2, 0, 0])
                    .unwrap();
                sh.drain(at..at + 6);
                sh[3] -= 6;
                let ext_len = 4 + 2 + 32 + 1 + 2 + 1;
                sh[ext_len + 1] -= 6;
            }
            let mut r = Run::new();
            let mut first = rec(22, 0x0301, &rfc8448_0rtt_ch());
            first.extend(cipher(0x17));
            r.send(C, &first);
            let mut flight = rec(22, 0x0303, &sh);
            flight.extend(cipher(0x61));
            r.send(S, &flight);
            for len in &second_flight {
                r.send(C, &cipher(*len));
            }
            assert_eq!(r.hs().resumed, Some(psk));
            assert_eq!(
                r.s.summary().client_bursts,
                bursts,
                "{second_flight:?} psk {psk}"
            );
            // A request after a rejected flight is a flight of its own.
            r.send(C, &cipher(0x43));
            assert_eq!(r.s.summary().client_bursts, bursts.max(1));
        }
    }

    /// 443-curl.pcap (nDPI test corpus), TCP 192.168.1.13:55523 ->
    /// 178.62.197.130:443: the ClientHello (frame 4, its 174 padding zeros
    /// restored by `resize`) and the ServerHello record (first 107 bytes of
    /// frame 6), the client's ClientKeyExchange+CCS+Finished (frame 11), the
    /// server's CCS+Finished (frame 12), application data (frames 13, 16).
    const CURL_CH: &str = "1603010200010001fc03033e3841edcc20f6d0e5f7167ab7ee91a800c8ef70c2d624c7c7943a24026d9fbc000086cc14cc13cc15c030c02cc028c024c014c00a00a3009f006b006a00390038ff8500c400c3008800870081c032c02ec02ac026c00fc005009d003d003500c00084c02fc02bc027c023c013c00900a2009e006700400033003200be00bd00450044c031c02dc029c025c00ec004009c003c002f00ba0041c012c00800160013c00dc003000a00ff0100014d00000011000f00000c7777772e6e746f702e6f7267000b000403000102000a003a0038000e000d0019001c000b000c001b00180009000a001a00160017000800060007001400150004000500120013000100020003000f00100011000d00260024060106020603efef050105020503040104020403eeeeeded030103020303020102020203337400000010000e000c02683208687474702f312e31001500ae";
    const CURL_SH: &str = "16030300660200006203038f72dd2e35dcf5ddf38ae75db855d1610b4db32937cb20cd3187eec12057fb2520ea8fcd1da8f8635bd5df2a45b603764dd7cfb5f82666ff77fd47635bf9a8f0cbc02f00001aff0100010000000000000b000403000102001000050003026832";
    const CURL_F11: &str = "1603030046100000424104fe28873b3012a967bcc86be9b56db1e68ea63fab541f923df4766db775d99a5cd046f2037e295a310fe46e119aab1bda204f25822f0ab7bf1434cd3fc5b35bc814030300010116030300280000000000000000933bce5dec2f520b85a0b6140faa2804ac9247caf06beb8eaf0959ca28cd168c";
    const CURL_F12: &str = "1403030001011603030028acfc23ae29fe90cc0800b487aa2ed8e53996cf8cdcc0b91ef1530521d165bb5aac46e4b9d28891d4";
    const CURL_F13: &str = "1703030034acfc23ae29fe90cdb66ec26e5b43eb75c5a364e6c4d678989d783cbf9843f344fb75835a447a31c3f5d5947753c59f821669b97b";
    const CURL_F16: &str = "17030300300000000000000001fd4796e89af17ac2a7bacf216ebfe6f82dc2d151fea7cd4eaa881b7cb3ec2b41c95345ed44c081d0";

    fn curl_ch() -> Vec<u8> {
        let mut ch = unhex(CURL_CH);
        ch.resize(517, 0);
        ch
    }

    /// A ClientHello record split across two segments is gathered by the
    /// record layer against the parser budget: with too little left, the
    /// record is given up (its handshake bytes lost, one `parser_budget`
    /// anomaly with the fragment's 512 bytes); with enough, it is read and
    /// the buffer's bytes come back when the session ends. tshark on
    /// 443-curl.pcap (`-Y tls.handshake.type==1 -T fields -e
    /// tls.handshake.extensions_server_name -e tls.record.length`): frame 4,
    /// www.ntop.org, 512.
    #[test]
    fn a_record_split_across_segments_is_gathered_within_the_budget() {
        use crate::budget::{Budget, Charge};
        let ch = curl_ch();
        let (first, rest) = ch.split_at(200);
        let tight = Budget::new(100);
        let mut s = TlsSession::new().with_charge(Charge::new(&tight));
        s.on_data(Side::Client, first, at(1));
        s.on_data(Side::Client, rest, at(2));
        let listed: Vec<_> = s
            .anomalies()
            .iter()
            .map(|a| (a.kind, a.side, a.packet, a.bytes))
            .collect();
        assert_eq!(
            listed,
            [
                (AnomalyKind::LostHandshakeBytes, Side::Client, 1, None),
                (AnomalyKind::ParserBudget, Side::Client, 1, Some(512)),
            ]
        );
        assert!(s.handshakes().is_empty());
        assert_eq!(tight.refusals(), 1);
        drop(s);
        assert_eq!(tight.used(), 0);

        let ample = Budget::new(1 << 20);
        let mut s = TlsSession::new().with_charge(Charge::new(&ample));
        s.on_data(Side::Client, first, at(1));
        assert!(ample.used() >= 195, "{}", ample.used());
        s.on_data(Side::Client, rest, at(2));
        assert!(s.anomalies().is_empty(), "{:?}", s.anomalies());
        assert_eq!(s.summary().sni.as_deref(), Some("www.ntop.org"));
        drop(s);
        assert_eq!(ample.used(), 0);
        assert_eq!(ample.refusals(), 0);
    }

    /// Certificate (empty chain), ServerKeyExchange (3 bytes) and
    /// ServerHelloDone messages, standing in for the 2.8 KB of frames 7-8.
    fn server_rest() -> Vec<u8> {
        unhex("0b 00 00 03 00 00 00  0c 00 00 03 03 00 17  0e 00 00 00")
    }

    fn curl_run(server_flight: Vec<Vec<u8>>) -> Run {
        let mut r = Run::new();
        r.send(C, &curl_ch());
        for seg in server_flight {
            r.send(S, &seg);
        }
        r.send(C, &unhex(CURL_F11));
        r.send(S, &unhex(CURL_F12));
        r.send(S, &unhex(CURL_F13));
        r.send(C, &unhex(CURL_F16));
        r
    }

    fn check_curl(r: &Run) {
        let h = r.hs();
        assert_eq!(h.outcome, Outcome::Completed, "{h:?}");
        assert_eq!(h.resumed, Some(false));
        let s = r.s.summary();
        assert_eq!(s.version.as_deref(), Some("TLS 1.2"));
        assert_eq!(s.sni.as_deref(), Some("www.ntop.org"));
        assert_eq!(s.alpn_offered, [Arc::from("h2"), Arc::from("http/1.1")]);
        assert_eq!(
            (s.alpn.as_deref(), s.alpn_source),
            (Some("h2"), Some(AlpnSource::ServerHello))
        );
        assert_eq!(
            s.cipher.as_deref(),
            Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
        );
        // tshark 4.0.17 tls.handshake.ja3 of frame 4.
        assert_eq!(s.ja3.as_deref(), Some("2a26b1a62e40d25d4de3babc9d532f30"));
        // nDPI's 443-curl.pcap.out: [JA4: t12d6707h2_2955a3196ffa_c83f907a73d3].
        assert_eq!(
            s.ja4.as_deref(),
            Some("t12d6707h2_2955a3196ffa_c83f907a73d3")
        );
        assert_eq!(s.session_ticket, Some(TicketOffer::Absent));
        assert_eq!(
            s.server_app,
            SideCounts {
                records: 1,
                bytes: 0x34
            }
        );
        assert_eq!(
            s.client_app,
            SideCounts {
                records: 1,
                bytes: 0x30
            }
        );
        assert_eq!(s.client_bursts, 1);
        assert!(r.s.anomalies().is_empty(), "{:?}", r.s.anomalies());
    }

    #[test]
    fn tls12_full_handshake_443_curl() {
        // Several handshake messages in one record.
        let mut flight = unhex(CURL_SH);
        flight.extend(rec(22, 0x0303, &server_rest()));
        check_curl(&curl_run(vec![flight]));
    }

    #[test]
    fn tls12_messages_split_across_records_and_segments() {
        // The ServerHello message cut across two records, and the rest of
        // the flight one byte per record, each record its own segment.
        let sh = unhex(CURL_SH);
        let msg = &sh[5..];
        let mut segs = vec![rec(22, 0x0303, &msg[..40]), rec(22, 0x0303, &msg[40..])];
        for b in server_rest() {
            segs.push(rec(22, 0x0303, &[b]));
        }
        check_curl(&curl_run(segs));
        // The ClientHello record split at every offset across two segments.
        let ch = curl_ch();
        for cut in [1, 4, 5, 6, 9, 100, 516] {
            let mut r = Run::new();
            r.send(C, &ch[..cut]).send(C, &ch[cut..]);
            assert_eq!(
                r.s.summary().ja3.as_deref(),
                Some("2a26b1a62e40d25d4de3babc9d532f30"),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn tls12_abbreviated_handshake_by_session_id_echo() {
        // The curl ClientHello with the 32-byte session id the server gave
        // (ServerHello of frame 6), and that ServerHello followed directly
        // by the server's CCS: RFC 5246 7.3 abbreviated handshake.
        let sh = unhex(CURL_SH);
        let sid = &sh[5 + 4 + 2 + 32 + 1..][..32];
        let ch = curl_ch();
        let body = &ch[5 + 4..];
        let mut nb = body[..34].to_vec();
        nb.push(32);
        nb.extend_from_slice(sid);
        nb.extend_from_slice(&body[35..]);
        let mut msg = vec![1, 0];
        msg.extend_from_slice(&(nb.len() as u16).to_be_bytes());
        msg.extend(nb);
        let mut r = Run::new();
        r.send(C, &rec(22, 0x0301, &msg));
        let mut flight = sh.clone();
        flight.extend(unhex(CURL_F12));
        r.send(S, &flight);
        assert_eq!(r.hs().resumed, Some(true));
        assert_eq!(r.hs().outcome, Outcome::Incomplete);
        // Client CCS + Finished completes it.
        r.send(
            C,
            &unhex("140303000101 1603030028")
                .into_iter()
                .chain([0u8; 0x28])
                .collect::<Vec<u8>>(),
        );
        assert_eq!(r.hs().outcome, Outcome::Completed);
        assert_eq!(r.s.summary().resumed, Some(true));
    }

    #[test]
    fn tls12_ticket_resumption_without_session_id_echo() {
        // RFC 5077 3.1: a ticket offered, the server answers ServerHello,
        // NewSessionTicket, CCS, with no Certificate. Here: the curl hello
        // with an 8-byte session_ticket extension appended.
        let ch = curl_ch();
        let mut body = ch[9..].to_vec();
        let ext_len_at = 2 + 32 + 1 + 2 + 0x86 + 1 + 1;
        let old = u16::from_be_bytes([body[ext_len_at], body[ext_len_at + 1]]);
        body[ext_len_at..ext_len_at + 2].copy_from_slice(&(old + 12).to_be_bytes());
        body.extend(unhex("00 23 00 08 01 02 03 04 05 06 07 08"));
        let mut msg = vec![1, 0];
        msg.extend_from_slice(&(body.len() as u16).to_be_bytes());
        msg.extend(body);
        let mut r = Run::new();
        r.send(C, &rec(22, 0x0301, &msg));
        assert_eq!(
            r.hs().client_hello.as_ref().unwrap().session_ticket,
            TicketOffer::Ticket(8)
        );
        let mut flight = unhex(CURL_SH);
        flight.extend(rec(22, 0x0303, &unhex("04 00 00 06 00 00 00 00 00 00")));
        flight.extend(unhex(CURL_F12));
        r.send(S, &flight);
        assert_eq!(r.hs().resumed, Some(true));
        assert!(r.hs().ticket_issued);
    }

    #[test]
    fn plaintext_alert_fails_the_handshake() {
        let mut r = Run::new();
        r.send(C, &curl_ch());
        // Fatal handshake_failure (RFC 5246 7.2: level 2, description 40).
        r.send(S, &rec(21, 0x0303, &[2, 40]));
        r.close(Some((S, Close::Fin)));
        let h = r.hs();
        assert_eq!(h.outcome, Outcome::Failed);
        let a = h.alert.as_ref().unwrap();
        assert_eq!(
            (a.side, a.level, a.description.as_deref(), a.encrypted),
            (S, Some(2), Some("handshake_failure"), false)
        );
        assert_eq!((h.closed_by, h.close), (Some(S), Some(Close::Fin)));
        assert_eq!(r.s.summary().outcome, Some(Outcome::Failed));
    }

    /// tls_alert.pcap (nDPI corpus): a TLS 1.0 ClientHello (frame 4) answered
    /// by a fatal protocol_version alert (frame 6). tshark 4.0.17: alert
    /// level 2, description 70, JA3 d78489b860c8bf7838a6ff0b4d131541 (nDPI's
    /// JA3C agrees); nDPI JA4 t10d0909h2_61c4dbd01224_cc731f12afbb.
    #[test]
    fn protocol_version_alert_tls_alert_pcap() {
        let ch = unhex(
            "16030100c2010000be030152db35f3eaa1188bf1e193fccf333e5873f435bbdc1c48
             1817853f5476256a3a000012002f003300350039c009c00ac013c014560001000083
             ff010001000000001d001b0000187777772e676f6f676c652d616e616c7974696373
             2e636f6d00170000000500050100000000337400000012000000100030002e026832
             0568322d31360568322d31350568322d313408737064792f332e3106737064792f33
             08687474702f312e31000b00020100000a000a0008001d001700180019",
        );
        let mut r = Run::new();
        r.send(C, &ch);
        r.send(S, &unhex("15030100020246"));
        let h = r.hs();
        assert_eq!(h.outcome, Outcome::Failed);
        let a = h.alert.as_ref().unwrap();
        assert_eq!(
            (a.side, a.level, a.description.as_deref()),
            (S, Some(2), Some("protocol_version"))
        );
        let c = h.client_hello.as_ref().unwrap();
        assert_eq!(c.sni.as_deref(), Some("www.google-analytics.com"));
        assert_eq!(c.alpn.first().map(|a| &**a), Some("h2"));
        assert_eq!(c.ja3.as_deref(), Some("d78489b860c8bf7838a6ff0b4d131541"));
        assert_eq!(
            c.ja4.as_deref(),
            Some("t10d0909h2_61c4dbd01224_cc731f12afbb")
        );
    }

    #[test]
    fn a_warning_alert_then_completion_is_completed() {
        let mut r = Run::new();
        r.send(C, &curl_ch());
        let mut flight = rec(21, 0x0303, &[1, 112]); // unrecognized_name, warning
        flight.extend(unhex(CURL_SH));
        flight.extend(rec(22, 0x0303, &server_rest()));
        r.send(S, &flight);
        r.send(C, &unhex(CURL_F11));
        r.send(S, &unhex(CURL_F12));
        assert_eq!(r.hs().outcome, Outcome::Completed);
        assert_eq!(
            r.hs().alert.as_ref().and_then(|a| a.description.as_deref()),
            Some("unrecognized_name")
        );
    }

    #[test]
    fn encrypted_alert_after_ccs_fails_the_handshake() {
        let mut r = Run::new();
        r.send(C, &curl_ch());
        let mut flight = unhex(CURL_SH);
        flight.extend(rec(22, 0x0303, &server_rest()));
        r.send(S, &flight);
        r.send(C, &unhex(CURL_F11));
        let mut ccs_alert = rec(20, 0x0303, &[1]);
        ccs_alert.extend(rec(21, 0x0303, &[0; 26]));
        r.send(S, &ccs_alert);
        let a = r.hs().alert.clone().unwrap();
        assert_eq!((a.side, a.level, a.encrypted), (S, None, true));
        assert_eq!(r.hs().outcome, Outcome::Failed);
    }

    #[test]
    fn reset_before_completion_is_abandoned() {
        let mut r = Run::new();
        r.send(C, &rec(22, 0x0301, &unhex(RFC8448_CH))); // packet 1, 10 ms
        r.send(C, &[]);
        r.close(Some((C, Close::Rst))); // packet 3, 30 ms
        let h = r.hs();
        assert_eq!(h.outcome, Outcome::Abandoned);
        assert_eq!((h.closed_by, h.close), (Some(C), Some(Close::Rst)));
        assert_eq!(h.secs_to_close, Some(0.02));
    }

    #[test]
    fn capture_end_before_completion_is_incomplete() {
        let mut r = Run::new();
        r.send(C, &rec(22, 0x0301, &unhex(RFC8448_CH)));
        r.send(S, &rec(22, 0x0303, &unhex(RFC8448_SH)));
        r.close(None);
        assert_eq!(r.hs().outcome, Outcome::Incomplete);
        assert_eq!(r.hs().closed_by, None);
        assert_eq!(r.s.summary().version.as_deref(), Some("TLS 1.3"));
    }

    #[test]
    fn a_second_plain_client_hello_is_a_second_handshake() {
        let mut r = Run::new();
        r.send(C, &curl_ch());
        r.send(C, &curl_ch());
        let s = r.s.summary();
        assert_eq!((s.handshakes, s.client_hellos), (2, 2));
        assert_eq!(r.s.handshakes()[0].outcome, Outcome::Abandoned);
        assert_eq!(r.s.handshakes()[1].outcome, Outcome::Incomplete);
    }

    #[test]
    fn gap_inside_application_data_keeps_counting() {
        let mut r = curl_run(vec![{
            let mut f = unhex(CURL_SH);
            f.extend(rec(22, 0x0303, &server_rest()));
            f
        }]);
        // A 1000-byte record of which 900 bytes are lost.
        r.send(S, &rec(23, 0x0303, &[0; 1000])[..50]);
        r.s.on_gap(S, 900);
        r.send(S, &[0; 55]);
        r.send(S, &cipher(10));
        assert!(r.s.anomalies().is_empty());
        assert_eq!(r.s.summary().server_app.records, 3);
    }

    #[test]
    fn gap_across_records_is_resynchronised_and_reported() {
        let mut r = curl_run(vec![{
            let mut f = unhex(CURL_SH);
            f.extend(rec(22, 0x0303, &server_rest()));
            f
        }]);
        r.send(S, &rec(23, 0x0303, &[0; 100])[..50]);
        r.s.on_gap(S, 80); // the rest of that record and 25 bytes of the next
        let next = cipher(40);
        let mut tail = next[30..].to_vec(); // 15 bytes of the lost record's end
        tail.extend(cipher(7));
        r.send(S, &tail);
        let a = r.s.anomalies();
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].kind, a[0].bytes), (AnomalyKind::Resync, Some(15)));
        assert_eq!(r.s.summary().server_app.records, 3);
    }

    #[test]
    fn lost_client_hello_bytes_are_reported() {
        let ch = curl_ch();
        let mut r = Run::new();
        r.send(C, &ch[..100]);
        r.s.on_gap(C, 50);
        r.send(C, &ch[150..]);
        assert_eq!(r.s.anomalies()[0].kind, AnomalyKind::LostHandshakeBytes);
        assert!(r.s.handshakes().is_empty());
    }

    #[test]
    fn oversized_record_is_an_anomaly() {
        let mut r = Run::new();
        r.send(C, &curl_ch());
        r.send(S, &[0x17, 0x03, 0x03, 0xff, 0xff, 0, 0, 0]);
        r.send(S, &cipher(10));
        let a = r.s.anomalies();
        assert_eq!(
            (a[0].kind, a[0].side, a[0].bytes, a[0].packet),
            (AnomalyKind::OversizedRecord, S, Some(0xffff), 2)
        );
        assert_eq!(r.s.summary().server_app.records, 0);
        assert_eq!(r.s.summary().anomalies, 1);
    }

    #[test]
    fn client_hello_over_the_cap_is_an_anomaly_not_a_buffer() {
        // A ClientHello header claiming 1 MiB, delivered in full records.
        let mut r = Run::new();
        let mut first = vec![1, 0x10, 0x00, 0x00];
        first.resize(16384, 0);
        r.send(C, &rec(22, 0x0303, &first));
        for _ in 0..70 {
            r.send(C, &rec(22, 0x0303, &[0; 16384]));
        }
        let a = r.s.anomalies();
        assert_eq!(
            (a[0].kind, a[0].bytes),
            (AnomalyKind::HelloTooLarge, Some(1 << 20))
        );
        assert_eq!(r.s.summary().client_hellos, 1);
        assert!(r.s.handshakes()[0].client_hello.is_none());
    }

    #[test]
    fn sslv2_compatible_hello_starts_a_handshake() {
        // RFC 5246 E.2 layout: 80 1d, CLIENT-HELLO, version 3.1, 2 cipher
        // specs, no session id, 16-byte challenge; then a TLS 1.0 server.
        let hello = unhex(
            "80 1f 01 03 01 00 06 00 00 00 10 00 00 2f 01 00 80
             00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",
        );
        let mut r = Run::new();
        r.send(C, &hello);
        let h = r.hs();
        let c = h.client_hello.as_ref().unwrap();
        assert!(c.sslv2);
        assert_eq!(c.cipher_suites, vec![0x002f]);
        assert!(r.s.anomalies().is_empty());
    }

    /// ocs.pcap (nDPI corpus), stream 2, has only the client's packets: a
    /// TLS 1.0 ClientHello, ClientKeyExchange+CCS+Finished, data, and an
    /// encrypted alert. With no ServerHello the CCS still means encryption,
    /// so the alert is not read as plaintext.
    #[test]
    fn ccs_without_server_hello_from_a_tls12_client_encrypts() {
        let mut r = Run::new();
        r.send(C, &curl_ch());
        r.send(C, &unhex(CURL_F11));
        r.send(C, &rec(21, 0x0303, &[0x9e, 0xb1, 0, 0]));
        let a = r.hs().alert.clone().unwrap();
        assert!(a.encrypted);
        assert_eq!(a.level, None);
        // After data from that side, an encrypted alert is a close.
        let mut r = Run::new();
        r.send(C, &curl_ch());
        r.send(C, &unhex(CURL_F11));
        r.send(C, &cipher(1152));
        r.send(C, &rec(21, 0x0303, &[0; 26]));
        assert_eq!(r.hs().alert, None);
        assert_eq!(r.hs().outcome, Outcome::Incomplete);
    }

    #[test]
    fn capture_started_after_the_handshake() {
        let mut r = Run::new();
        r.send(C, &cipher(100));
        r.send(S, &cipher(200));
        r.send(C, &cipher(50));
        r.close(None);
        let s = r.s.summary();
        assert_eq!((s.handshakes, s.outcome, s.version), (0, None, None));
        assert_eq!(
            (s.client_app.records, s.server_app.records, s.client_bursts),
            (2, 1, 2)
        );
    }

    #[test]
    fn delivering_ciphertext_changes_no_figure() {
        let mut plain = rfc8448_simple();
        let mut r = Run::new();
        r.s.set_deliver_ciphertext(true);
        let mut flight = rec(22, 0x0303, &unhex(RFC8448_SH));
        flight.extend(cipher(0x2a2));
        r.send(C, &rec(22, 0x0301, &unhex(RFC8448_CH)));
        r.send(S, &flight);
        for (side, len) in [
            (C, 0x35),
            (S, 0xde),
            (C, 0x43),
            (S, 0x43),
            (C, 0x13),
            (S, 0x13),
        ] {
            r.send(side, &cipher(len));
        }
        plain.close(None);
        r.close(None);
        assert_eq!(r.s.summary(), plain.s.summary());
    }

    proptest::proptest! {
        /// Hostile input: any bytes, cut anywhere, with gaps, on either side,
        /// never panic, and the buffers stay within their caps.
        #[test]
        fn arbitrary_streams_never_panic(
            steps in proptest::collection::vec(
                (proptest::bool::ANY, proptest::collection::vec(proptest::num::u8::ANY, 0..300), 0u64..50),
                0..40,
            )
        ) {
            let mut r = Run::new();
            for (client, bytes, gap) in &steps {
                let side = if *client { C } else { S };
                r.send(side, bytes);
                if *gap > 40 {
                    r.s.on_gap(side, *gap);
                }
            }
            r.close(Some((C, Close::Rst)));
            let _ = r.s.summary();
            proptest::prop_assert!(r.s.anomalies().len() <= super::super::MAX_ANOMALIES);
        }

        /// Real handshake bytes with a few bytes flipped and cut at random
        /// points: still no panic.
        #[test]
        fn mutated_real_handshakes_never_panic(
            flips in proptest::collection::vec((0usize..2000, proptest::num::u8::ANY), 0..8),
            cut in 1usize..600,
        ) {
            let mut client = curl_ch();
            client.extend(unhex(CURL_F11));
            let mut server = unhex(CURL_SH);
            server.extend(rec(22, 0x0303, &server_rest()));
            server.extend(unhex(CURL_F12));
            for (i, b) in &flips {
                let n = client.len() + server.len();
                let i = i % n;
                if i < client.len() { client[i] ^= b; } else { server[i - client.len()] ^= b; }
            }
            let mut r = Run::new();
            let c = cut.min(client.len());
            r.send(C, &client[..c]).send(S, &server).send(C, &client[c..]);
            r.close(None);
            let _ = serde_json::to_string(&r.s.summary());
        }
    }

    proptest::proptest! {
        /// The RFC 8448 4 trace decrypted with its keys, bytes flipped and
        /// the client's and server's streams cut at random points and
        /// interleaved: no panic, and early data is never delivered unless
        /// an authenticated answer accepted it: the server's
        /// EncryptedExtensions or the client's EndOfEarlyData.
        #[test]
        fn mutated_0rtt_traces_never_panic(
            flips in proptest::collection::vec((0usize..1200, 1u8..=255), 0..6),
            cuts in proptest::collection::vec(1usize..300, 1..6),
        ) {
            use crate::keys::fixtures::{hex, rfc8448_0rtt as z};
            let mut client = rec(22, 0x0301, &rfc8448_0rtt_ch());
            client.extend(hex(z::EARLY_DATA_RECORD));
            let eoed = client.len()..client.len() + hex(z::END_OF_EARLY_DATA_RECORD).len();
            client.extend(hex(z::END_OF_EARLY_DATA_RECORD));
            client.extend(hex(z::CLIENT_FINISHED_RECORD));
            client.extend(hex(z::CLIENT_AP_RECORD));
            let mut server = rec(22, 0x0303, &rfc8448_0rtt_sh());
            let flight = server.len()..server.len() + hex(z::SERVER_FLIGHT_RECORD).len();
            server.extend(hex(z::SERVER_FLIGHT_RECORD));
            server.extend(hex(z::SERVER_AP_RECORD));
            let (mut server_intact, mut eoed_intact) = (true, true);
            for (i, b) in &flips {
                let n = client.len() + server.len();
                let i = i % n;
                if i < client.len() {
                    client[i] ^= b;
                    eoed_intact &= !eoed.contains(&i);
                } else {
                    let j = i - client.len();
                    server[j] ^= b;
                    server_intact &= !flight.contains(&j);
                }
            }
            let mut r = Run::with_keys(&z::key_log(true));
            let (mut c, mut s) = (&client[..], &server[..]);
            for cut in &cuts {
                let (a, rest) = c.split_at((*cut).min(c.len()));
                r.send(C, a);
                c = rest;
                let (a, rest) = s.split_at((*cut).min(s.len()));
                r.send(S, a);
                s = rest;
            }
            r.send(C, c).send(S, s);
            r.close(Some((C, Close::Fin)));
            let early = r.plaintext().into_iter().any(|(_, p, _)| p == b"ABCDEF");
            if early {
                proptest::prop_assert!(server_intact || eoed_intact);
            }
            let _ = serde_json::to_string(&r.s.summary());
        }
    }

    #[test]
    fn summary_serialises_with_the_documented_names() {
        let s = serde_json::to_value(rfc8448_simple().s.summary()).unwrap();
        for k in [
            "version",
            "sni",
            "alpn_offered",
            "alpn",
            "alpn_source",
            "cipher",
            "resumed",
            "outcome",
            "ja3",
            "ja4",
            "handshakes",
        ] {
            assert!(s.get(k).is_some(), "{k}");
        }
        assert_eq!(s["alpn_source"], "encrypted");
        assert_eq!(s["outcome"], "completed");
        let h = serde_json::to_value(&rfc8448_simple().s.handshakes()[0]).unwrap();
        assert_eq!(h["client_hello"]["session_id_len"], 0);
        assert_eq!(h["version"], "TLS 1.3");
    }
}
