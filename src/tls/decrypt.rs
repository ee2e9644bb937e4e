//! Which keys open which record of one connection, and what the decrypted
//! handshake says: the TLS 1.3 key schedule's phases (RFC 8446 section 7.1:
//! handshake traffic secrets until each side's Finished, then application
//! traffic secrets, KeyUpdate in section 4.6.3), TLS 1.2's ChangeCipherSpec
//! boundaries (RFC 5246 section 7.1), the ALPN in EncryptedExtensions
//! (RFC 8446 section 4.3.1), session-id resumption, and TLS 1.3 0-RTT early
//! data (RFC 8446 sections 2.3, 4.2.10, 4.5). The ciphers and key
//! derivations are `crate::keys`; secrets come from a [`KeyStore`] shared by
//! every connection of a capture. Decrypted application data is queued for
//! the caller; nothing decrypted is ever delivered after a failure, and
//! early data only once the server is known to have accepted it.

use crate::budget::{Budget, Charge, growth, heap};
use crate::keys::{DecryptError, Decryptor, KeyLog, KeyLogWarning, Label, Secret, Secrets};
use crate::{At, Side};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// Session ids remembered per capture for TLS 1.2 resumption.
const MAX_SESSIONS: usize = 100_000;
/// Largest EncryptedExtensions body read for its ALPN.
const MAX_EE: usize = 64 * 1024;
/// Records tried past a gap to find the sequence number again.
const MAX_LOST_RECORDS: u64 = 1024;
/// Decrypted bytes queued before the caller must take them.
const MAX_QUEUED: usize = 1 << 20;

/// The secrets a capture can use: key logs given on the command line
/// (shared by every capture), those found in its own Decryption Secrets
/// Blocks, and the master secrets of TLS 1.2 sessions seen completing, by
/// session id, for resumed handshakes. It also carries the capture's
/// parser [`Budget`], which it is shared with every connection for.
#[derive(Default)]
pub struct KeyStore {
    base: Arc<KeyLog>,
    budget: Rc<Budget>,
    requests: RequestBudget,
    local: RefCell<KeyLog>,
    sessions: RefCell<HashMap<Vec<u8>, [u8; 48]>>,
    tickets: RefCell<HashMap<u64, [u8; 48]>>,
}

/// The capture's [`crate::budget::REQUEST_BUDGET`].
struct RequestBudget(Rc<Budget>);

impl Default for RequestBudget {
    fn default() -> Self {
        RequestBudget(Budget::new(crate::budget::REQUEST_BUDGET))
    }
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KeyStore({} + {} client randoms)",
            self.base.len(),
            self.local.borrow().len()
        )
    }
}

impl KeyStore {
    /// A store for one capture, with a budget of
    /// [`crate::budget::PARSER_BUDGET`] for its parsers.
    pub fn new(base: Arc<KeyLog>) -> KeyStore {
        KeyStore {
            base,
            ..KeyStore::default()
        }
    }

    /// A store whose connections' parsers share `budget`.
    pub fn with_budget(base: Arc<KeyLog>, budget: Rc<Budget>) -> KeyStore {
        KeyStore {
            base,
            budget,
            ..KeyStore::default()
        }
    }

    /// The parser budget of the capture this store serves.
    pub fn budget(&self) -> &Rc<Budget> {
        &self.budget
    }

    /// The same store, its connections listing requests within `budget`
    /// rather than [`crate::budget::REQUEST_BUDGET`].
    pub fn with_request_budget(self, budget: Rc<Budget>) -> KeyStore {
        KeyStore {
            requests: RequestBudget(budget),
            ..self
        }
    }

    /// The budget of the requests the capture's connections list.
    pub fn request_budget(&self) -> &Rc<Budget> {
        &self.requests.0
    }

    /// Adds key log text found in the capture itself; returns its warnings.
    pub fn add(&self, text: &[u8]) -> Vec<KeyLogWarning> {
        let (log, warnings) = KeyLog::parse(text);
        self.local.borrow_mut().merge(log);
        warnings
    }

    /// Whether any key is known at all.
    pub fn is_empty(&self) -> bool {
        self.base.is_empty() && self.local.borrow().is_empty()
    }

    fn lookup(&self, client_random: &[u8; 32]) -> Option<Secrets> {
        if let Some(s) = self.local.borrow().secrets_for(client_random) {
            return Some(s.clone());
        }
        self.base.secrets_for(client_random).cloned()
    }

    fn remember(&self, session_id: &[u8], master: [u8; 48]) {
        let mut sessions = self.sessions.borrow_mut();
        if !session_id.is_empty() && sessions.len() < MAX_SESSIONS {
            sessions.insert(session_id.to_vec(), master);
        }
    }

    fn session(&self, session_id: &[u8]) -> Option<[u8; 48]> {
        self.sessions.borrow().get(session_id).copied()
    }

    fn remember_ticket(&self, id: u64, master: [u8; 48]) {
        let mut tickets = self.tickets.borrow_mut();
        if tickets.len() < MAX_SESSIONS {
            tickets.insert(id, master);
        }
    }

    fn ticket(&self, id: u64) -> Option<[u8; 48]> {
        self.tickets.borrow().get(&id).copied()
    }
}

/// How decryption of a connection stands, for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// No handshake seen, or no key log given.
    Idle,
    /// The key log has no secret for this handshake.
    NoKey,
    Decrypting,
    /// Stopped: the reason, e.g. "authentication failed at record 3".
    Failed(String),
}

/// TLS 1.2 parameters, known from the ServerHello and the key log.
struct Tls12 {
    suite: u16,
    version: u16,
    master: [u8; 48],
    client_random: [u8; 32],
    server_random: [u8; 32],
    encrypt_then_mac: bool,
}

/// Finds the messages in one side's decrypted handshake bytes (TLS 1.3),
/// keeping only an EncryptedExtensions body.
#[derive(Debug, Default)]
struct Scan {
    header: Vec<u8>,
    msg_type: u8,
    remaining: usize,
    body: Vec<u8>,
}

impl Scan {
    /// Feeds bytes; calls `done(type, body)` for each whole message (the
    /// body is empty unless it was kept).
    fn feed(&mut self, mut data: &[u8], done: &mut dyn FnMut(u8, &[u8])) {
        while !data.is_empty() {
            if self.remaining == 0 && self.header.len() < 4 {
                let take = (4 - self.header.len()).min(data.len());
                let (head, rest) = data.split_at(take);
                self.header.extend_from_slice(head);
                data = rest;
                if let &[t, a, b, c] = self.header.as_slice() {
                    self.msg_type = t;
                    self.remaining = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
                    self.body.clear();
                    if self.remaining == 0 {
                        done(t, &[]);
                        self.header.clear();
                    }
                }
                continue;
            }
            let take = self.remaining.min(data.len());
            let (part, rest) = data.split_at(take);
            if self.msg_type == 8 && self.body.len() + part.len() <= MAX_EE {
                self.body.extend_from_slice(part);
            }
            self.remaining -= take;
            data = rest;
            if self.remaining == 0 {
                done(self.msg_type, &self.body);
                self.header.clear();
                self.body.clear();
            }
        }
    }
}

/// The protocol an EncryptedExtensions body selects with ALPN (RFC 7301
/// section 3.1: a list holding exactly one name).
fn alpn_of(ee: &[u8]) -> Option<String> {
    let (len, mut rest) = ee.split_first_chunk::<2>()?;
    rest = rest.get(..usize::from(u16::from_be_bytes(*len)))?;
    while let Some((&[t0, t1, l0, l1], tail)) = rest.split_first_chunk::<4>() {
        let (data, next) = tail.split_at_checked(usize::from(u16::from_be_bytes([l0, l1])))?;
        if u16::from_be_bytes([t0, t1]) == 16 {
            let (_, list) = data.split_first_chunk::<2>()?;
            let (&n, name) = list.split_first()?;
            return Some(String::from_utf8_lossy(name.get(..usize::from(n))?).into_owned());
        }
        rest = next;
    }
    None
}

/// Whether an EncryptedExtensions body carries early_data (extension 42):
/// the server accepted the client's 0-RTT data (RFC 8446 section 4.2.10).
fn accepts_early_data(ee: &[u8]) -> bool {
    let Some((len, rest)) = ee.split_first_chunk::<2>() else {
        return false;
    };
    let Some(mut rest) = rest.get(..usize::from(u16::from_be_bytes(*len))) else {
        return false;
    };
    while let Some((&[t0, t1, l0, l1], tail)) = rest.split_first_chunk::<4>() {
        let Some((_, next)) = tail.split_at_checked(usize::from(u16::from_be_bytes([l0, l1])))
        else {
            return false;
        };
        if u16::from_be_bytes([t0, t1]) == EARLY_DATA_EXTENSION {
            return true;
        }
        rest = next;
    }
    false
}

/// Extension type early_data (RFC 8446 section 4.2).
const EARLY_DATA_EXTENSION: u16 = 42;
/// Handshake type end_of_early_data (RFC 8446 section 4.5).
const END_OF_EARLY_DATA: u8 = 5;

/// How the client's 0-RTT records are read (RFC 8446 section 2.3: the
/// client sends them after its ClientHello under the
/// client_early_traffic_secret, up to an EndOfEarlyData message).
///
/// ```text
///            ClientHello offers early_data
///     no early secret │        │ early secret logged
///          NoSecret ◄─┘        └─► Trying ──first record opens──► Reading
///                                    │                              │
///   no offered suite opens it ──► Failed    EndOfEarlyData, or the client's
///                                           handshake keys open a record ──► Ended
/// ```
///
/// Until a record opens, the suite of the resumed PSK is unknown: each TLS
/// 1.3 suite the ClientHello offered whose hash fits the secret is tried,
/// and the AEAD tag tells the right one; once the ServerHello accepted the
/// PSK, only its suite is left to try.
enum EarlyPhase {
    /// No 0-RTT offered, or no key log for this handshake.
    Off,
    /// The key log has no CLIENT_EARLY_TRAFFIC_SECRET: early records are
    /// skipped, as the server skips what it cannot decrypt.
    NoSecret,
    Trying {
        secret: Secret,
        suites: Vec<u16>,
    },
    Reading(Box<Decryptor>),
    Ended,
    /// Early records could not be read: why.
    Failed(String),
}

/// 0-RTT data of one connection and what the server made of it.
struct Early {
    phase: EarlyPhase,
    /// Some(true): EncryptedExtensions carried early_data, or the client
    /// sent EndOfEarlyData (only done when it was accepted, RFC 8446
    /// section 4.5). Some(false): it did not, or the ServerHello accepted
    /// no PSK or asked for a new ClientHello (section 4.2.10), or the
    /// client went on under its handshake keys without EndOfEarlyData.
    accepted: Option<bool>,
    /// Early application-data records decrypted, and skipped unread.
    opened: u64,
    skipped: u64,
    /// Of those decrypted, the records the server rejected (never served).
    rejected: u64,
    /// Decrypted early application data held until the server's answer.
    held: Vec<u8>,
    held_chunks: Vec<(usize, At)>,
    /// The early handshake stream, for EndOfEarlyData.
    scan: Scan,
}

impl Early {
    fn off() -> Early {
        Early {
            phase: EarlyPhase::Off,
            accepted: None,
            opened: 0,
            skipped: 0,
            rejected: 0,
            held: Vec::new(),
            held_chunks: Vec::new(),
            scan: Scan::default(),
        }
    }

    /// Whether early records may still arrive and be read or skipped here.
    fn expecting(&self) -> bool {
        match self.phase {
            EarlyPhase::NoSecret | EarlyPhase::Trying { .. } | EarlyPhase::Reading(_) => true,
            EarlyPhase::Off | EarlyPhase::Ended | EarlyPhase::Failed(_) => false,
        }
    }

    /// What the report says of the early data, if anything: (whether
    /// everything sent was decrypted, the note).
    fn note(&self) -> Option<(bool, String)> {
        let records = |n: u64| {
            if n == 1 {
                "1 record".to_string()
            } else {
                format!("{n} records")
            }
        };
        match &self.phase {
            EarlyPhase::NoSecret if self.skipped > 0 => Some((
                false,
                format!(
                    "early data not decrypted: no CLIENT_EARLY_TRAFFIC_SECRET in the key log ({} skipped)",
                    records(self.skipped)
                ),
            )),
            EarlyPhase::Failed(why) => Some((false, format!("early data not decrypted: {why}"))),
            EarlyPhase::Off
            | EarlyPhase::NoSecret
            | EarlyPhase::Trying { .. }
            | EarlyPhase::Reading(_)
            | EarlyPhase::Ended => match self.accepted {
                Some(false) if self.rejected > 0 => Some((
                    true,
                    format!(
                        "early data rejected by the server: {} not counted",
                        records(self.rejected)
                    ),
                )),
                None if !self.held_chunks.is_empty() => Some((
                    true,
                    format!(
                        "early data not counted: whether the server accepted it was not seen ({})",
                        records(self.held_chunks.len() as u64)
                    ),
                )),
                Some(_) | None => None,
            },
        }
    }
}

/// Per-side decryption state of one connection.
pub struct Decrypt {
    store: Rc<KeyStore>,
    status: Status,
    tls13: bool,
    dec: [Option<Decryptor>; 2],
    /// TLS 1.3: a side's application secret, used after its Finished.
    app_secret: [Option<Secret>; 2],
    /// TLS 1.3: the side still uses its handshake keys.
    handshake_phase: [bool; 2],
    tls12: Option<Tls12>,
    /// Bytes were lost on this side since its last record.
    after_gap: [bool; 2],
    scan: [Scan; 2],
    /// The client offered 0-RTT data (RFC 8446 section 4.2.10).
    early_data: bool,
    early: Early,
    pub alpn: Option<String>,
    /// Records opened.
    pub opened: u64,
    scratch: Vec<u8>,
    /// Decrypted application data waiting for the caller, in order.
    queued: Vec<u8>,
    /// What `queued` holds, in order: bytes of a side, or bytes decrypted
    /// but not kept because the queue was full.
    chunks: Vec<(Side, Chunk, At)>,
    /// Decrypted bytes not kept because the queue was full (each side).
    pub overflowed: [u64; 2],
    /// What the buffers above hold against the capture's parser budget.
    charge: Charge,
}

/// A piece of decrypted application data as the caller receives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// This many bytes of the queue.
    Bytes(usize),
    /// This many bytes decrypted but not kept: a gap for the parsers.
    Lost(u64),
    /// The same, because the capture's parser budget was spent.
    Refused(u64),
}

/// Decrypted application data handed to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plain<'a> {
    Bytes(&'a [u8]),
    /// Decrypted but dropped at [`MAX_QUEUED`]: the parsers see a gap of
    /// this many bytes, exactly as for bytes lost on the wire.
    Lost(u64),
    /// Decrypted but dropped because the capture's parser budget
    /// ([`crate::budget`]) was spent: a gap, as [`Plain::Lost`].
    Refused(u64),
}

impl std::fmt::Debug for Decrypt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decrypt")
            .field("status", &self.status)
            .field("opened", &self.opened)
            .finish_non_exhaustive()
    }
}

fn idx(side: Side) -> usize {
    side.idx()
}

impl Decrypt {
    pub fn new(store: Rc<KeyStore>) -> Decrypt {
        let charge = Charge::new(store.budget());
        Decrypt {
            charge,
            store,
            status: Status::Idle,
            tls13: false,
            dec: [None, None],
            app_secret: [None, None],
            handshake_phase: [false, false],
            tls12: None,
            after_gap: [false, false],
            scan: Default::default(),
            early_data: false,
            early: Early::off(),
            alpn: None,
            opened: 0,
            scratch: Vec::new(),
            queued: Vec::new(),
            chunks: Vec::new(),
            overflowed: [0; 2],
        }
    }

    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Whether records must be handed over as ciphertext.
    pub fn active(&self) -> bool {
        self.status == Status::Decrypting || self.early.expecting()
    }

    /// What the report says besides the status: whether every record sent
    /// was decrypted, and a note on the early data when there is one
    /// (skipped for want of its secret, rejected by the server, ...).
    pub fn early_note(&self) -> Option<(bool, String)> {
        self.early.note()
    }

    /// A ClientHello: when it offers early data (RFC 8446 section 4.2.10),
    /// prepare the early traffic keys from the key log, to read the 0-RTT
    /// records that follow it. `suites`: the cipher suites it offered.
    pub fn on_client_hello(&mut self, client_random: &[u8; 32], suites: &[u16], early_data: bool) {
        self.early = Early::off();
        if !early_data || self.store.is_empty() {
            return;
        }
        let Some(secrets) = self.store.lookup(client_random) else {
            return;
        };
        let Some(secret) = secrets.get(Label::ClientEarlyTrafficSecret).cloned() else {
            self.early.phase = EarlyPhase::NoSecret;
            return;
        };
        // RFC 8446 section 4.2.11: the PSK's hash is that of its suite.
        let mut fitting: Vec<u16> = suites
            .iter()
            .copied()
            .filter(|id| {
                crate::keys::suite(*id)
                    .is_some_and(|s| s.is_tls13() && s.hash.len() == secret.len())
            })
            .collect();
        fitting.dedup();
        self.early.phase = if fitting.is_empty() {
            EarlyPhase::Failed("no offered cipher suite fits the early secret".to_string())
        } else {
            EarlyPhase::Trying {
                secret,
                suites: fitting,
            }
        };
    }

    /// A HelloRetryRequest: the server rejected any early data (RFC 8446
    /// section 4.2.10).
    pub fn on_hello_retry(&mut self) {
        self.early_answer(false);
    }

    fn fail(&mut self, why: String) {
        self.status = Status::Failed(why);
        self.dec = [None, None];
        self.tls12 = None;
    }

    fn fail_with(&mut self, e: &DecryptError) {
        let why = match e {
            DecryptError::UnsupportedSuite(id) => {
                format!("unsupported cipher suite {}", super::cipher_name(*id))
            }
            DecryptError::AuthenticationFailed { record } => {
                format!("authentication failed at record {record}")
            }
            other => other.to_string(),
        };
        self.fail(why);
    }

    /// A ServerHello: look the handshake's secrets up and prepare its keys.
    #[allow(clippy::too_many_arguments)]
    pub fn on_server_hello(
        &mut self,
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        client_session_id: &[u8],
        server_session_id: &[u8],
        suite: u16,
        version: u16,
        encrypt_then_mac: bool,
        early_data: bool,
        psk: bool,
        ticket: Option<u64>,
    ) {
        if self.store.is_empty() {
            return;
        }
        let secrets = self.store.lookup(client_random);
        self.early_data = early_data;
        if super::names::is_tls13(version) {
            self.tls13 = true;
            if !psk {
                // RFC 8446 section 4.2.10: early data needs the first PSK
                // offered to be accepted.
                self.early_answer(false);
            } else if let EarlyPhase::Trying { suites, .. } = &mut self.early.phase {
                // Its suite is the one the ServerHello names (section 4.2.11).
                suites.retain(|id| *id == suite);
            }
            let Some(secrets) = secrets else {
                self.status = Status::NoKey;
                return;
            };
            let hs = |side| {
                secrets
                    .handshake_secret(side)
                    .map(|s| Decryptor::tls13(suite, s.as_bytes()))
            };
            match (hs(Side::Client), hs(Side::Server)) {
                (Some(Ok(c)), Some(Ok(s))) => {
                    self.dec = [Some(c), Some(s)];
                    self.handshake_phase = [true, true];
                    self.app_secret = [
                        secrets.get(Label::ClientTrafficSecret0).cloned(),
                        secrets.get(Label::ServerTrafficSecret0).cloned(),
                    ];
                    self.status = Status::Decrypting;
                }
                (Some(Err(e)), _) | (_, Some(Err(e))) => self.fail_with(&e),
                _ => self.status = Status::NoKey,
            }
            return;
        }
        // TLS 1.2 and below: the logged master secret, or the one of the
        // session the server agreed to resume (it echoed the id).
        let resumed = !server_session_id.is_empty() && server_session_id == client_session_id;
        // Or, resumed by ticket (RFC 5077 section 3.4), the master secret of
        // the session whose ticket the client presented.
        let master = secrets
            .and_then(|s| s.master_secret().copied())
            .or_else(|| {
                resumed
                    .then(|| self.store.session(server_session_id))
                    .flatten()
            })
            .or_else(|| ticket.and_then(|t| self.store.ticket(t)));
        let Some(master) = master else {
            self.status = Status::NoKey;
            return;
        };
        if crate::keys::suite(suite).is_none() {
            self.fail(format!(
                "unsupported cipher suite {}",
                super::cipher_name(suite)
            ));
            return;
        }
        self.store.remember(server_session_id, master);
        self.tls12 = Some(Tls12 {
            suite,
            version,
            master,
            client_random: *client_random,
            server_random: *server_random,
            encrypt_then_mac,
        });
        self.status = Status::Decrypting;
    }

    /// A TLS 1.2 ChangeCipherSpec from `side`: its next record is the first
    /// under the new keys.
    pub fn on_ccs(&mut self, side: Side) {
        if self.tls13 {
            return;
        }
        let Some(p) = &self.tls12 else {
            return;
        };
        match Decryptor::tls12(
            p.suite,
            p.version,
            &p.master,
            &p.client_random,
            &p.server_random,
            side,
            p.encrypt_then_mac,
        ) {
            Ok(d) => {
                if let Some(slot) = self.dec.get_mut(idx(side)) {
                    *slot = Some(d);
                }
            }
            Err(e) => self.fail_with(&e),
        }
    }

    pub fn on_gap(&mut self, side: Side) {
        if let Some(g) = self.after_gap.get_mut(idx(side)) {
            *g = true;
        }
    }

    /// A protected record from `side`; decrypted application data is queued.
    pub fn on_record(&mut self, side: Side, ctype: u8, version: u16, fragment: &[u8], at: At) {
        if ctype == super::content::CHANGE_CIPHER_SPEC {
            return;
        }
        let Ok(len) = u16::try_from(fragment.len()) else {
            return;
        };
        let [v0, v1] = version.to_be_bytes();
        let [l0, l1] = len.to_be_bytes();
        let header = [ctype, v0, v1, l0, l1];
        if side == Side::Client
            && ctype == super::content::APPLICATION_DATA
            && self.early.expecting()
            && self.on_early_record(&header, fragment, at)
        {
            return;
        }
        if self.status != Status::Decrypting {
            return;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        self.open_record(side, ctype, &header, fragment, &mut scratch, at);
        self.scratch = scratch;
        self.charge.set(self.held());
    }

    /// Heap bytes of the buffers counted against the parser budget: the
    /// queue and its chunk list, the scratch record, early data held, and
    /// the handshake scanners.
    fn held(&self) -> usize {
        let scans = self
            .scan
            .iter()
            .chain([&self.early.scan])
            .map(|s| s.header.capacity() + s.body.capacity())
            .sum::<usize>();
        heap(&self.queued)
            + heap(&self.chunks)
            + heap(&self.scratch)
            + heap(&self.early.held)
            + heap(&self.early.held_chunks)
            + scans
    }

    /// Opens a record with the side's current keys and hands the plaintext
    /// on. Application data is decrypted where it is queued for the caller
    /// (one copy of the record, no other); after a gap, or with the queue
    /// full, and for the rare other records, `scratch` is used.
    fn open_record(
        &mut self,
        side: Side,
        ctype: u8,
        header: &[u8; 5],
        fragment: &[u8],
        scratch: &mut Vec<u8>,
        at: At,
    ) {
        let i = idx(side);
        let Some(dec) = self.dec.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        let seq = dec.sequence();
        let after_gap = self.after_gap.get(i).copied().unwrap_or(false);
        let start = self.queued.len();
        let in_queue = !after_gap
            && start + fragment.len() <= MAX_QUEUED
            && self.charge.take(growth(&self.queued, fragment.len()));
        let opened = if in_queue {
            dec.open_appended(header, fragment, &mut self.queued)
                .map(|(t, _)| (t, None))
        } else if after_gap {
            dec.open_after_gap(header, fragment, scratch, MAX_LOST_RECORDS)
                .map(|(t, p)| (t, Some(p)))
        } else {
            dec.open(header, fragment, scratch)
                .map(|(t, p)| (t, Some(p)))
        };
        let (inner, plain) = match opened {
            Ok(opened) => opened,
            Err(DecryptError::AuthenticationFailed { .. })
                if self.tls13
                    && side == Side::Client
                    && self.early_data
                    && self.handshake_phase.get(i).copied().unwrap_or(false) =>
            {
                // 0-RTT records (RFC 8446 section 2.3) that the early keys
                // did not open: step over them with the handshake keys
                // intact, as a server does (section 4.2.10).
                dec.set_sequence(seq);
                self.early.skipped += 1;
                return;
            }
            Err(e) => return self.fail_with(&e),
        };
        if let Some(g) = self.after_gap.get_mut(i) {
            *g = false;
        }
        self.opened += 1;
        // TLS 1.2 has no inner type: the outer one stands.
        let inner = if self.tls13 { inner } else { ctype };
        let queued = plain.is_none() && inner == super::content::APPLICATION_DATA;
        let plain: &[u8] = match plain {
            Some(plain) => plain,
            None if queued => {
                self.chunks.push((
                    side,
                    Chunk::Bytes(self.queued.len().saturating_sub(start)),
                    at,
                ));
                &[]
            }
            None => {
                // Not application data: out of the queue again.
                scratch.clear();
                scratch.extend_from_slice(self.queued.get(start..).unwrap_or_default());
                self.queued.truncate(start);
                scratch
            }
        };
        if self.tls13 && side == Side::Client && self.early_data {
            // The client's handshake keys took over: no early record
            // follows (RFC 8446 section 4.5). Without EndOfEarlyData
            // before them, the server did not accept any.
            self.early_data = false;
            if matches!(
                self.early.phase,
                EarlyPhase::Trying { .. } | EarlyPhase::Reading(_)
            ) {
                self.early.phase = EarlyPhase::Ended;
            }
            self.early_answer(false);
        }
        match inner {
            super::content::APPLICATION_DATA if !queued => self.queue(side, plain, at),
            super::content::HANDSHAKE if self.tls13 => self.on_handshake(side, plain),
            _ => {}
        }
    }

    /// Queues decrypted application data for the caller.
    /// Past [`MAX_QUEUED`], or past the parser budget, the bytes are
    /// dropped and become a gap.
    fn queue(&mut self, side: Side, plain: &[u8], at: At) {
        let fits = self.queued.len() + plain.len() <= MAX_QUEUED;
        if fits && self.charge.take(growth(&self.queued, plain.len())) {
            self.queued.extend_from_slice(plain);
            self.chunks.push((side, Chunk::Bytes(plain.len()), at));
        } else if !plain.is_empty() {
            let lost = plain.len() as u64;
            if fits {
                match self.chunks.last_mut() {
                    Some((s, Chunk::Refused(n), _)) if *s == side => *n += lost,
                    _ => self.chunks.push((side, Chunk::Refused(lost), at)),
                }
                return;
            }
            if let Some(n) = self.overflowed.get_mut(idx(side)) {
                *n += lost;
            }
            match self.chunks.last_mut() {
                Some((s, Chunk::Lost(n), _)) if *s == side => *n += lost,
                _ => self.chunks.push((side, Chunk::Lost(lost), at)),
            }
        }
    }

    /// A client application-data record while early data may arrive: opens
    /// it with the early traffic keys (RFC 8446 section 7.3, from
    /// client_early_traffic_secret). Returns whether the record was taken
    /// as early data (read, or skipped unread); otherwise it is the
    /// client's handshake keys' to try, once the ServerHello is known.
    fn on_early_record(&mut self, header: &[u8; 5], fragment: &[u8], at: At) -> bool {
        let handshake_keys =
            self.status == Status::Decrypting && self.dec.first().is_some_and(Option::is_some);
        if let EarlyPhase::Trying { secret, suites } = &self.early.phase {
            let mut scratch = std::mem::take(&mut self.scratch);
            // The AEAD tag tells which suite the resumed PSK uses.
            let found = suites.iter().find_map(|id| {
                let mut d = Decryptor::tls13(*id, secret.as_bytes()).ok()?;
                d.open(header, fragment, &mut scratch).ok()?;
                d.set_sequence(0);
                Some(d)
            });
            self.scratch = scratch;
            match found {
                Some(d) => self.early.phase = EarlyPhase::Reading(Box::new(d)),
                None if handshake_keys => return false,
                None => {
                    self.early.phase = EarlyPhase::Failed(
                        "authentication failed at early record 0 with every suite offered"
                            .to_string(),
                    );
                    self.early.skipped += 1;
                    return true;
                }
            }
        }
        match &mut self.early.phase {
            EarlyPhase::Reading(dec) => {
                let seq = dec.sequence();
                let mut scratch = std::mem::take(&mut self.scratch);
                let taken = match dec.open(header, fragment, &mut scratch) {
                    Ok((inner, plain)) => {
                        self.on_early_plain(inner, plain, at);
                        true
                    }
                    Err(_) if handshake_keys => {
                        dec.set_sequence(seq);
                        false
                    }
                    Err(e) => {
                        let why = match e {
                            DecryptError::AuthenticationFailed { record } => {
                                format!("authentication failed at early record {record}")
                            }
                            other => other.to_string(),
                        };
                        self.early.phase = EarlyPhase::Failed(why);
                        self.early.skipped += 1;
                        true
                    }
                };
                self.scratch = scratch;
                taken
            }
            EarlyPhase::NoSecret | EarlyPhase::Failed(_) if !handshake_keys => {
                self.early.skipped += 1;
                true
            }
            EarlyPhase::Off
            | EarlyPhase::NoSecret
            | EarlyPhase::Failed(_)
            | EarlyPhase::Trying { .. }
            | EarlyPhase::Ended => false,
        }
    }

    /// Decrypted early data: application data is held until the server's
    /// answer, queued at once if it accepted, counted and dropped if it
    /// rejected; EndOfEarlyData ends the early phase.
    fn on_early_plain(&mut self, inner: u8, plain: &[u8], at: At) {
        match inner {
            super::content::APPLICATION_DATA => {
                self.early.opened += 1;
                match self.early.accepted {
                    Some(true) => self.queue(Side::Client, plain, at),
                    Some(false) => self.early.rejected += 1,
                    None if self.early.held.len() + plain.len() <= MAX_QUEUED
                        && self.charge.take(growth(&self.early.held, plain.len())) =>
                    {
                        self.early.held.extend_from_slice(plain);
                        self.early.held_chunks.push((plain.len(), at));
                    }
                    None => {
                        let why = if self.early.held.len() + plain.len() <= MAX_QUEUED {
                            "the capture's parser budget was spent before the server's answer"
                                .to_string()
                        } else {
                            format!("more than {MAX_QUEUED} bytes before the server's answer")
                        };
                        self.early.held = Vec::new();
                        self.early.held_chunks = Vec::new();
                        self.early.phase = EarlyPhase::Failed(why);
                    }
                }
            }
            super::content::HANDSHAKE => {
                let mut end = false;
                self.early
                    .scan
                    .feed(plain, &mut |t, _| end |= t == END_OF_EARLY_DATA);
                if end {
                    // RFC 8446 section 4.5: sent only when the server
                    // accepted the early data.
                    self.early.phase = EarlyPhase::Ended;
                    self.early_answer(true);
                }
            }
            _ => {}
        }
    }

    /// The server's answer to the early data; the first one stands.
    /// Accepted, what was held is queued; rejected, it is dropped, and its
    /// records counted.
    fn early_answer(&mut self, accepted: bool) {
        if self.early.accepted.is_some() {
            return;
        }
        self.early.accepted = Some(accepted);
        let held = std::mem::take(&mut self.early.held);
        let chunks = std::mem::take(&mut self.early.held_chunks);
        if !accepted {
            self.early.rejected += chunks.len() as u64;
            return;
        }
        let mut from = 0;
        for (len, at) in chunks {
            if let Some(bytes) = held.get(from..from + len) {
                self.queue(Side::Client, bytes, at);
            }
            from += len;
        }
    }

    /// Decrypted TLS 1.3 handshake bytes: EncryptedExtensions gives the
    /// ALPN; a Finished ends the side's handshake keys; a KeyUpdate moves
    /// the side to its next application secret (RFC 8446 section 7.2).
    fn on_handshake(&mut self, side: Side, plain: &[u8]) {
        let i = idx(side);
        let mut finished = false;
        let mut key_update = false;
        let mut alpn = None;
        let mut early_accepted = None;
        if let Some(scan) = self.scan.get_mut(i) {
            scan.feed(plain, &mut |t, body| match t {
                8 => {
                    alpn = alpn_of(body);
                    early_accepted = Some(accepts_early_data(body));
                }
                20 => finished = true,
                24 => key_update = true,
                _ => {}
            });
        }
        if alpn.is_some() {
            self.alpn = alpn;
        }
        if let Some(accepted) = early_accepted
            && side == Side::Server
            && self.early_data
        {
            self.early_answer(accepted);
        }
        if finished && self.handshake_phase.get(i).copied().unwrap_or(false) {
            if let Some(p) = self.handshake_phase.get_mut(i) {
                *p = false;
            }
            let suite = self
                .dec
                .get(i)
                .and_then(Option::as_ref)
                .map(|d| d.suite().id);
            let secret = self
                .app_secret
                .get(i)
                .and_then(Option::as_ref)
                .map(|s| s.as_bytes().to_vec());
            match (suite, secret) {
                (Some(suite), Some(secret)) => match Decryptor::tls13(suite, &secret) {
                    Ok(d) => {
                        if let Some(slot) = self.dec.get_mut(i) {
                            *slot = Some(d);
                        }
                    }
                    Err(e) => self.fail_with(&e),
                },
                _ => self.fail("no application traffic secret in the key log".to_string()),
            }
        } else if key_update
            && let Some(Err(e)) = self
                .dec
                .get_mut(i)
                .and_then(Option::as_mut)
                .map(Decryptor::key_update)
        {
            self.fail_with(&e);
        }
    }

    /// No record will come again (both streams reached their FIN): the
    /// record keys and the empty buffers are given back. What the report
    /// reads (status, ALPN, counts, early-data note) stays, and so does
    /// any plaintext still queued.
    pub fn on_streams_done(&mut self) {
        self.dec = [None, None];
        self.scratch = Vec::new();
        self.scan = Default::default();
        if self.queued.is_empty() && self.chunks.is_empty() {
            self.queued = Vec::new();
            self.chunks = Vec::new();
        }
        self.charge.set(self.held());
    }

    /// The key logs' secrets came (in a Decryption Secrets Block) after
    /// encrypted records of the handshake with `client_random` had passed:
    /// the keys cannot be followed from there, which the report says ("no
    /// key" when the secrets are not its own).
    pub fn came_too_late(&mut self, client_random: &[u8; 32]) {
        if self.store.lookup(client_random).is_some() {
            self.fail(
                "its secrets came after its first encrypted records (a Decryption Secrets Block must come before the packets it opens)"
                    .to_string(),
            );
        } else {
            self.status = Status::NoKey;
        }
    }

    pub fn has_queued(&self) -> bool {
        !self.chunks.is_empty()
    }

    /// Hands queued application data to `sink`, in order.
    pub fn drain(&mut self, sink: &mut dyn FnMut(Side, Plain<'_>, At)) {
        let mut from = 0;
        for (side, chunk, at) in self.chunks.drain(..) {
            match chunk {
                Chunk::Bytes(len) => {
                    if let Some(bytes) = self.queued.get(from..from + len) {
                        sink(side, Plain::Bytes(bytes), at);
                    }
                    from += len;
                }
                Chunk::Lost(len) => sink(side, Plain::Lost(len), at),
                Chunk::Refused(len) => sink(side, Plain::Refused(len), at),
            }
        }
        self.queued.clear();
    }

    /// A TLS 1.2 NewSessionTicket: remember which master secret it resumes.
    pub fn on_ticket(&mut self, ticket: &[u8]) {
        if let Some(p) = &self.tls12 {
            self.store
                .remember_ticket(super::hello::ticket_id(ticket), p.master);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]
    use super::*;

    #[test]
    fn data_over_the_queue_cap_becomes_a_gap_of_its_exact_size() {
        let mut d = Decrypt::new(Rc::new(KeyStore::new(Arc::new(KeyLog::new()))));
        let at = At {
            packet: 7,
            ts: crate::Ts(0),
        };
        let record = vec![b'x'; 16 * 1024];
        // 64 records fill the 1 MiB queue; 3 more overflow it, and a
        // server record after them overflows too.
        for _ in 0..MAX_QUEUED / record.len() + 3 {
            d.queue(Side::Client, &record, at);
        }
        d.queue(Side::Server, &record[..100], at);
        assert_eq!(d.overflowed, [3 * 16 * 1024, 100]);
        let mut got: Vec<(Side, Result<usize, u64>)> = Vec::new();
        d.drain(&mut |side, plain, _| {
            got.push((
                side,
                match plain {
                    Plain::Bytes(b) => Ok(b.len()),
                    Plain::Lost(n) => Err(n),
                    Plain::Refused(n) => unreachable!("the budget has room: {n}"),
                },
            ))
        });
        let delivered: usize = got.iter().filter_map(|(_, r)| r.ok()).sum();
        assert_eq!(delivered, MAX_QUEUED);
        assert_eq!(
            got.get(64..),
            Some(&[(Side::Client, Err(3 * 16 * 1024)), (Side::Server, Err(100))][..])
        );
        // Drained: the queue takes data again.
        d.queue(Side::Client, &record, at);
        assert!(d.has_queued());
    }

    #[test]
    fn alpn_from_encrypted_extensions() {
        // RFC 8446 section 3 (RFC 8448): EncryptedExtensions without ALPN;
        // then one with supported_groups and ALPN "h2".
        let none = [0x00, 0x00];
        assert_eq!(alpn_of(&none), None);
        let ee = [
            0x00, 0x11, // extensions length
            0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17, // supported_groups
            0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, b'h', b'2', // ALPN
        ];
        assert_eq!(alpn_of(&ee).as_deref(), Some("h2"));
        assert_eq!(alpn_of(&ee[..10]), None);
    }

    #[test]
    fn early_data_in_encrypted_extensions() {
        use crate::keys::fixtures::{hex, rfc8448_0rtt as z};
        // RFC 8448 4: the server accepts (extension 42, empty); RFC 8448 3's
        // EncryptedExtensions has none; a truncated list is no acceptance.
        let ee = hex(z::ENCRYPTED_EXTENSIONS);
        assert!(accepts_early_data(&ee[4..]));
        assert!(!accepts_early_data(&ee[4..ee.len() - 4]));
        assert!(!accepts_early_data(&[0x00, 0x00]));
        assert!(!accepts_early_data(&[0x00, 0x08, 0x00, 0x2a, 0x00]));
    }

    /// Before the ServerHello the suite of the resumed PSK is unknown: each
    /// offered TLS 1.3 suite whose hash fits the 32-byte secret is tried
    /// (here ChaCha20 first, AES-256-GCM not at all), the tag picks
    /// AES-128-GCM; a ServerHello accepting the PSK leaves only its suite.
    #[test]
    fn the_early_suite_is_found_by_trial() {
        use crate::keys::fixtures::{hex, rfc8448_0rtt as z};
        let (log, _) = KeyLog::parse(z::key_log(true).as_bytes());
        let store = Rc::new(KeyStore::new(Arc::new(log)));
        let random: [u8; 32] = hex(z::CLIENT_RANDOM).try_into().unwrap();
        let record = hex(z::EARLY_DATA_RECORD);
        let at = At {
            packet: 1,
            ts: crate::Ts(0),
        };

        let mut d = Decrypt::new(Rc::clone(&store));
        d.on_client_hello(&random, &[0x1303, 0x1302, 0x1301], true);
        assert!(
            matches!(&d.early.phase, EarlyPhase::Trying { suites, .. } if suites == &[0x1303, 0x1301])
        );
        assert!(d.active());
        d.on_record(Side::Client, 23, 0x0303, &record[5..], at);
        assert!(
            matches!(&d.early.phase, EarlyPhase::Reading(dec) if dec.suite().id == 0x1301 && dec.sequence() == 1)
        );
        assert_eq!((d.early.opened, d.early.held_chunks.len()), (1, 1));

        // The ServerHello names ChaCha20: AES-128-GCM is no longer tried.
        let mut d = Decrypt::new(store);
        d.on_client_hello(&random, &[0x1301, 0x1303], true);
        d.on_server_hello(
            &random,
            &[0; 32],
            &[],
            &[],
            0x1303,
            0x0304,
            false,
            true,
            true,
            None,
        );
        assert!(matches!(&d.early.phase, EarlyPhase::Trying { suites, .. } if suites == &[0x1303]));
    }

    #[test]
    fn scan_finds_messages_split_anywhere() {
        let mut bytes = vec![8, 0, 0, 3, 0, 0, 0xaa];
        bytes.extend_from_slice(&[20, 0, 0, 2, 1, 2]);
        bytes.extend_from_slice(&[24, 0, 0, 1, 0]);
        for split in 0..bytes.len() {
            let mut scan = Scan::default();
            let mut seen = Vec::new();
            let (a, b) = bytes.split_at(split);
            scan.feed(a, &mut |t, body| seen.push((t, body.to_vec())));
            scan.feed(b, &mut |t, body| seen.push((t, body.to_vec())));
            assert_eq!(
                seen,
                vec![(8, vec![0, 0, 0xaa]), (20, vec![]), (24, vec![])],
                "split {split}"
            );
        }
    }
}
