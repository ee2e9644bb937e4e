//! Which keys open which record of one connection, and what the decrypted
//! handshake says: the TLS 1.3 key schedule's phases (RFC 8446 section 7.1:
//! handshake traffic secrets until each side's Finished, then application
//! traffic secrets, KeyUpdate in section 4.6.3), TLS 1.2's ChangeCipherSpec
//! boundaries (RFC 5246 section 7.1), the ALPN in EncryptedExtensions
//! (RFC 8446 section 4.3.1), and session-id resumption. The ciphers and key
//! derivations are `crate::keys`; secrets come from a [`KeyStore`] shared by
//! every connection of a capture. Decrypted application data is queued for
//! the caller; nothing decrypted is ever delivered after a failure.

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
/// session id, for resumed handshakes.
#[derive(Default)]
pub struct KeyStore {
    base: Arc<KeyLog>,
    local: RefCell<KeyLog>,
    sessions: RefCell<HashMap<Vec<u8>, [u8; 48]>>,
    tickets: RefCell<HashMap<u64, [u8; 48]>>,
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
    pub fn new(base: Arc<KeyLog>) -> KeyStore {
        KeyStore {
            base,
            ..KeyStore::default()
        }
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
    /// The client offered 0-RTT data, whose records use keys we skip.
    early_data: bool,
    pub alpn: Option<String>,
    /// Records opened.
    pub opened: u64,
    scratch: Vec<u8>,
    /// Decrypted application data waiting for the caller, in order.
    queued: Vec<u8>,
    chunks: Vec<(Side, usize, At)>,
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
        Decrypt {
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
            alpn: None,
            opened: 0,
            scratch: Vec::new(),
            queued: Vec::new(),
            chunks: Vec::new(),
        }
    }

    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Whether records must be handed over as ciphertext.
    pub fn active(&self) -> bool {
        self.status == Status::Decrypting
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
        ticket: Option<u64>,
    ) {
        if self.store.is_empty() {
            return;
        }
        let secrets = self.store.lookup(client_random);
        self.early_data = early_data;
        if super::names::is_tls13(version) {
            self.tls13 = true;
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
        if !self.active() || ctype == super::content::CHANGE_CIPHER_SPEC {
            return;
        }
        let i = idx(side);
        let Some(dec) = self.dec.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        let Ok(len) = u16::try_from(fragment.len()) else {
            return;
        };
        let [v0, v1] = version.to_be_bytes();
        let [l0, l1] = len.to_be_bytes();
        let header = [ctype, v0, v1, l0, l1];
        let seq = dec.sequence();
        let after_gap = self.after_gap.get(i).copied().unwrap_or(false);
        let mut scratch = std::mem::take(&mut self.scratch);
        let opened = if after_gap {
            dec.open_after_gap(&header, fragment, &mut scratch, MAX_LOST_RECORDS)
        } else {
            dec.open(&header, fragment, &mut scratch)
        };
        let (inner, plain) = match opened {
            Ok((inner, plain)) => (inner, plain.to_vec()),
            Err(DecryptError::AuthenticationFailed { .. })
                if self.tls13
                    && side == Side::Client
                    && self.early_data
                    && self.handshake_phase.get(i).copied().unwrap_or(false) =>
            {
                // 0-RTT records (RFC 8446 section 2.3) use the early
                // secret: step over them with the handshake keys intact.
                dec.set_sequence(seq);
                self.scratch = scratch;
                return;
            }
            Err(e) => {
                self.scratch = scratch;
                return self.fail_with(&e);
            }
        };
        self.scratch = scratch;
        if let Some(g) = self.after_gap.get_mut(i) {
            *g = false;
        }
        self.opened += 1;
        // TLS 1.2 has no inner type: the outer one stands.
        let inner = if self.tls13 { inner } else { ctype };
        match inner {
            super::content::APPLICATION_DATA if self.queued.len() + plain.len() <= MAX_QUEUED => {
                self.queued.extend_from_slice(&plain);
                self.chunks.push((side, plain.len(), at));
            }
            super::content::HANDSHAKE if self.tls13 => self.on_handshake(side, &plain),
            _ => {}
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
        if let Some(scan) = self.scan.get_mut(i) {
            scan.feed(plain, &mut |t, body| match t {
                8 => alpn = alpn_of(body),
                20 => finished = true,
                24 => key_update = true,
                _ => {}
            });
        }
        if alpn.is_some() {
            self.alpn = alpn;
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

    pub fn has_queued(&self) -> bool {
        !self.chunks.is_empty()
    }

    /// Hands queued application data to `sink`, in order.
    pub fn drain(&mut self, sink: &mut dyn FnMut(Side, &[u8], At)) {
        let mut from = 0;
        for (side, len, at) in self.chunks.drain(..) {
            if let Some(bytes) = self.queued.get(from..from + len) {
                sink(side, bytes, at);
            }
            from += len;
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
