//! ClientHello and ServerHello facts from one complete handshake message body, read with tls-parser's rules (the fields and the extensions the facts come from in place, the rest through tls-parser), and the SSLv2-compatible ClientHello, which tls-parser does not know.

use super::fingerprint::{self, HelloFields, SmallU16};
use super::names;
use serde::{Deserialize, Serialize, Serializer};
use std::sync::Arc;
use tls_parser::{
    TlsExtension, parse_tls_client_hello_extension, parse_tls_handshake_server_hello,
    parse_tls_server_hello_extension,
};

/// RFC 8446 4.1.3: a ServerHello whose random is this value is a
/// HelloRetryRequest (SHA-256 of "HelloRetryRequest").
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

const EXT_SNI: u16 = 0;
const EXT_GROUPS: u16 = 10;
const EXT_POINT_FORMATS: u16 = 11;
const EXT_SIG_ALGS: u16 = 13;
const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const EXT_PSK_MODES: u16 = 45;
const EXT_ECH: u16 = 0xfe0d;

/// What the ClientHello's session_ticket extension (RFC 5077 3.2) carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketOffer {
    /// No extension: the client does not do tickets.
    Absent,
    /// Empty extension: the client asks for a ticket.
    Empty,
    /// The client presents a ticket of this many bytes (a resumption attempt).
    Ticket(usize),
}

/// A session id (up to 32 bytes, RFC 5246 7.4.1.2), kept without allocation.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionId {
    len: u8,
    bytes: [u8; 32],
}

impl SessionId {
    fn new(b: &[u8]) -> Self {
        let mut bytes = [0u8; 32];
        let n = b.len().min(32);
        if let (Some(dst), Some(src)) = (bytes.get_mut(..n), b.get(..n)) {
            dst.copy_from_slice(src);
        }
        SessionId {
            len: n as u8,
            bytes,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionId({} bytes)", self.len)
    }
}

fn random32(b: &[u8]) -> [u8; 32] {
    let mut r = [0u8; 32];
    // RFC 5246 E.1: a shorter SSLv2 challenge is right-aligned in the 32 bytes.
    let n = b.len().min(32);
    if let (Some(dst), Some(src)) = (r.get_mut(32 - n..), b.get(b.len() - n..)) {
        dst.copy_from_slice(src);
    }
    r
}

fn ser_version<S: Serializer>(v: &u16, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&names::version_name(*v))
}

fn ser_versions<S: Serializer>(v: &[u16], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|v| names::version_name(*v)))
}

fn ser_session_id<S: Serializer>(v: &SessionId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(v.len)
}

/// Facts of one ClientHello.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClientHello {
    /// ClientHello.legacy_version (client_version before TLS 1.3).
    #[serde(serialize_with = "ser_version")]
    pub legacy_version: u16,
    /// supported_versions (RFC 8446 4.2.1), GREASE removed.
    #[serde(serialize_with = "ser_versions")]
    pub supported_versions: Vec<u16>,
    pub sni: Option<Arc<str>>,
    /// ALPN protocol names offered, in order (RFC 7301 3.1).
    pub alpn: Vec<Arc<str>>,
    /// Cipher suites offered, in order, GREASE included.
    pub cipher_suites: Vec<u16>,
    /// Only the length is reported; the bytes serve resumption detection.
    #[serde(rename = "session_id_len", serialize_with = "ser_session_id")]
    pub session_id: SessionId,
    pub session_ticket: TicketOffer,
    /// pre_shared_key (RFC 8446 4.2.11): a TLS 1.3 resumption attempt.
    pub psk: bool,
    /// psk_key_exchange_modes (RFC 8446 4.2.9).
    pub psk_modes: Vec<u8>,
    /// early_data (RFC 8446 4.2.10): 0-RTT offered.
    pub early_data: bool,
    /// encrypted_client_hello (0xfe0d) present: the SNI above is the outer one.
    pub ech: bool,
    /// The hello came in SSLv2-compatible form (RFC 5246 E.2).
    pub sslv2: bool,
    /// None for SSLv2-compatible hellos (JA3 is defined over TLS hellos).
    pub ja3: Option<Arc<str>>,
    pub ja4: Option<Arc<str>>,
    #[serde(skip)]
    pub random: [u8; 32],
    /// A fingerprint of the session ticket presented, to find the session
    /// it resumes (RFC 5077 section 3.4); not part of the report.
    #[serde(skip)]
    pub ticket_id: Option<u64>,
    /// Extension types whose content tls-parser rejected (still fingerprinted).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub malformed_extensions: Vec<u16>,
}

impl ClientHello {
    /// A hello's fixed fields, before any extension is read.
    fn bare(
        legacy_version: u16,
        cipher_suites: Vec<u16>,
        session_id: &[u8],
        random: &[u8],
        sslv2: bool,
    ) -> Self {
        ClientHello {
            legacy_version,
            supported_versions: Vec::new(),
            sni: None,
            alpn: Vec::new(),
            cipher_suites,
            session_id: SessionId::new(session_id),
            session_ticket: TicketOffer::Absent,
            psk: false,
            psk_modes: Vec::new(),
            early_data: false,
            ech: false,
            sslv2,
            ja3: None,
            ja4: None,
            random: random32(random),
            ticket_id: None,
            malformed_extensions: Vec::new(),
        }
    }
}

/// FNV-1a over a session ticket: tells tickets apart to find the master
/// secret of the session one resumes. A collision would only make the
/// wrong key fail authentication, which is reported.
pub fn ticket_id(ticket: &[u8]) -> u64 {
    ticket.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Facts of one ServerHello (or HelloRetryRequest).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServerHello {
    #[serde(serialize_with = "ser_version")]
    pub legacy_version: u16,
    /// The negotiated version: supported_versions when present (RFC 8446
    /// 4.2.1), else legacy_version.
    #[serde(serialize_with = "ser_version")]
    pub version: u16,
    pub cipher_suite: u16,
    /// ALPN selected in the ServerHello (TLS 1.2 and earlier, RFC 7301 3.1).
    pub alpn: Option<Arc<str>>,
    #[serde(rename = "session_id_len", serialize_with = "ser_session_id")]
    pub session_id: SessionId,
    /// pre_shared_key selected (RFC 8446 4.2.11): TLS 1.3 resumption accepted.
    pub psk: bool,
    /// The random is the HelloRetryRequest value (RFC 8446 4.1.3).
    pub hrr: bool,
    /// An (empty) session_ticket extension: the server will send a ticket
    /// (RFC 5077 3.2).
    pub ticket_promised: bool,
    /// encrypt_then_mac (RFC 7366): CBC records are MACed after encryption.
    pub encrypt_then_mac: bool,
    #[serde(skip)]
    pub random: [u8; 32],
}

impl ServerHello {
    /// A hello's fixed fields, before any extension is read: the version
    /// is the legacy one until supported_versions says otherwise.
    fn bare(legacy_version: u16, cipher_suite: u16, session_id: &[u8], random: &[u8]) -> Self {
        let random = random32(random);
        ServerHello {
            legacy_version,
            version: legacy_version,
            cipher_suite,
            alpn: None,
            session_id: SessionId::new(session_id),
            psk: false,
            hrr: random == HRR_RANDOM,
            ticket_promised: false,
            encrypt_then_mac: false,
            random,
        }
    }
}

/// Why a hello could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelloError {
    Malformed,
}

/// Walk extensions as (type, whole extension bytes) without trusting any
/// length; stops at the first truncated one.
fn extensions(mut rest: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let (&[t0, t1, l0, l1], _) = rest.split_first_chunk::<4>()?;
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let (whole, tail) = rest.split_at_checked(4 + len)?;
        rest = tail;
        Some((u16::from_be_bytes([t0, t1]), whole))
    })
}

/// Extension types and supported groups kept on the stack per ClientHello;
/// real clients send about 20 of each (curl: 28 groups).
const STACK_EXTS: usize = 64;

/// Reads big-endian fields from the front of a slice; `None` when too
/// short, as nom's `be_u8`, `be_u16` and `take` fail.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        let (&[a, b], rest) = self.0.split_first_chunk::<2>()?;
        self.0 = rest;
        Some(u16::from_be_bytes([a, b]))
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    /// nom's `length_data(be_u8)`.
    fn bytes8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// nom's `length_data(be_u16)`.
    fn bytes16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// Big-endian pairs of `b`, a trailing odd byte ignored.
fn u16s(b: &[u8]) -> impl Iterator<Item = u16> + '_ {
    b.chunks_exact(2).map(|p| match p {
        [a, b] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    })
}

/// `b` as a list of 16-bit values, as tls-parser's `parse_cipher_suites`,
/// `parse_named_groups` and `parse_tls_versions` take one: an odd length
/// is an error.
fn even(b: &[u8]) -> Option<&[u8]> {
    b.len().is_multiple_of(2).then_some(b)
}

/// The ClientHello fields as tls-parser's `parse_tls_handshake_client_hello`
/// reads them, in place rather than into vectors: version, random, session
/// id (at most 32 bytes), cipher suites (an even number of bytes),
/// compression methods, and the extensions when their length fits what
/// follows (otherwise none, and the hello still parses). Bytes after the
/// extensions are ignored, as there.
struct ClientHelloFields<'a> {
    version: u16,
    random: &'a [u8],
    session_id: &'a [u8],
    ciphers: &'a [u8],
    extensions: Option<&'a [u8]>,
}

fn client_hello_fields(body: &[u8]) -> Option<ClientHelloFields<'_>> {
    let mut c = Cursor(body);
    let version = c.u16()?;
    let random = c.take(32)?;
    let sid_len = c.u8().filter(|n| *n <= 32)?;
    let session_id = c.take(usize::from(sid_len))?;
    let ciphers = c.bytes16().and_then(even)?;
    c.bytes8()?;
    Some(ClientHelloFields {
        version,
        random,
        session_id,
        ciphers,
        extensions: c.bytes16(),
    })
}

/// server_name content (RFC 6066 3) as tls-parser reads it: empty, or a
/// list length that fits, then entries (type, 16-bit length, name) up to
/// the first that does not fit; the first host_name (type 0) entry's name.
/// `Err` where tls-parser rejects the extension.
fn sni_host(content: &[u8]) -> Result<Option<&[u8]>, HelloError> {
    if content.is_empty() {
        return Ok(None);
    }
    let mut list = Cursor(Cursor(content).bytes16().ok_or(HelloError::Malformed)?);
    while let (Some(kind), Some(name)) = (list.u8(), list.bytes16()) {
        if kind == 0 {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// ALPN content (RFC 7301 3.1) as tls-parser reads it: a list length that
/// fits, then 8-bit-length names up to the first that does not fit.
fn alpn_names(content: &[u8]) -> Result<impl Iterator<Item = &[u8]>, HelloError> {
    let mut list = Cursor(Cursor(content).bytes16().ok_or(HelloError::Malformed)?);
    Ok(std::iter::from_fn(move || list.bytes8()))
}

/// supported_versions content as tls-parser reads it in either hello: two
/// bytes are one version (a ServerHello's); otherwise a length byte, which
/// is not checked, then an even number of bytes of versions.
fn versions(content: &[u8]) -> Result<impl Iterator<Item = u16> + '_, HelloError> {
    let list = match content {
        [_, _] => content,
        [_, rest @ ..] => even(rest).ok_or(HelloError::Malformed)?,
        [] => return Err(HelloError::Malformed),
    };
    Ok(u16s(list))
}

/// Parse a ClientHello body (after the 4-byte handshake header).
///
/// Reads the fields and the extensions the facts come from in place, with
/// the rules of tls-parser's parsers for them (the tests hold the two equal
/// on any input); every other extension goes to tls-parser, which says
/// whether it is malformed. Allocates only what the returned facts own
/// (cipher suites, supported_versions, ALPN and PSK mode lists); SNI, ALPN
/// names and JA3/JA4 are shared with the last hellos like them
/// (`names::text`).
pub fn parse_client_hello(body: &[u8]) -> Result<ClientHello, HelloError> {
    let ch = client_hello_fields(body).ok_or(HelloError::Malformed)?;
    let mut ext_types = SmallU16::<STACK_EXTS>::new();
    let mut groups = SmallU16::<STACK_EXTS>::new();
    let mut sig_algs = SmallU16::<STACK_EXTS>::new();
    let mut point_formats: &[u8] = &[];
    let mut first_alpn: Option<&[u8]> = None;
    let mut out = ClientHello::bare(
        ch.version,
        u16s(ch.ciphers).collect(),
        ch.session_id,
        ch.random,
        false,
    );
    for (typ, whole) in extensions(ch.extensions.unwrap_or_default()) {
        ext_types.push(typ);
        if super::is_grease(typ) {
            continue;
        }
        if typ == EXT_ECH {
            out.ech = true;
            continue;
        }
        let content = whole.get(4..).unwrap_or_default();
        let read = match typ {
            // RFC 6066 3: the first host_name entry.
            EXT_SNI => sni_host(content).map(|host| out.sni = host.map(names::text_lossy)),
            EXT_ALPN => alpn_names(content).map(|offered| {
                out.alpn.clear();
                first_alpn = None;
                for name in offered {
                    first_alpn.get_or_insert(name);
                    out.alpn.push(names::text_lossy(name));
                }
            }),
            // GREASE dropped here already: JA4 drops it too, so the
            // fingerprint reads the same list.
            EXT_SUPPORTED_VERSIONS => versions(content).map(|v| {
                out.supported_versions = v.filter(|v| !super::is_grease(*v)).collect();
            }),
            EXT_GROUPS => match Cursor(content).bytes16().and_then(even) {
                Some(list) => {
                    groups = SmallU16::new();
                    u16s(list).for_each(|g| groups.push(g));
                    Ok(())
                }
                None => Err(HelloError::Malformed),
            },
            EXT_POINT_FORMATS => match Cursor(content).bytes8() {
                Some(p) => {
                    point_formats = p;
                    Ok(())
                }
                None => Err(HelloError::Malformed),
            },
            EXT_SIG_ALGS => match Cursor(content).bytes16() {
                Some(list) => {
                    sig_algs = SmallU16::new();
                    u16s(list).for_each(|s| sig_algs.push(s));
                    Ok(())
                }
                None => Err(HelloError::Malformed),
            },
            EXT_PSK_MODES => match Cursor(content).bytes8() {
                Some(m) => {
                    out.psk_modes = m.to_vec();
                    Ok(())
                }
                None => Err(HelloError::Malformed),
            },
            _ => match parse_tls_client_hello_extension(whole) {
                Ok((_, ext)) => {
                    match ext {
                        TlsExtension::SessionTicket(t) => {
                            out.session_ticket = if t.is_empty() {
                                TicketOffer::Empty
                            } else {
                                out.ticket_id = Some(ticket_id(t));
                                TicketOffer::Ticket(t.len())
                            };
                        }
                        TlsExtension::PreSharedKey(_) => out.psk = true,
                        TlsExtension::EarlyData(_) => out.early_data = true,
                        _ => {}
                    }
                    Ok(())
                }
                Err(_) => Err(HelloError::Malformed),
            },
        };
        if read.is_err() {
            out.malformed_extensions.push(typ);
        }
    }
    let fields = HelloFields {
        legacy_version: out.legacy_version,
        ciphers: &out.cipher_suites,
        extensions: ext_types.as_slice(),
        groups: groups.as_slice(),
        point_formats,
        supported_versions: &out.supported_versions,
        sig_algs: sig_algs.as_slice(),
        first_alpn,
    };
    out.ja3 = Some(fingerprint::ja3(&fields));
    out.ja4 = Some(fingerprint::ja4(&fields));
    Ok(out)
}

/// Parse an SSLv2-compatible CLIENT-HELLO body: everything after the 2-byte
/// record header (RFC 5246 E.2 / RFC 6101 E.1): msg_type, version,
/// cipher_spec_length, session_id_length, challenge_length, then the three
/// fields. Only cipher specs whose first byte is 0 are TLS suites.
pub fn parse_sslv2_client_hello(body: &[u8]) -> Result<ClientHello, HelloError> {
    let u16_at = |i: usize| -> Result<usize, HelloError> {
        match body.get(i..i + 2) {
            Some(&[a, b]) => Ok(usize::from(u16::from_be_bytes([a, b]))),
            _ => Err(HelloError::Malformed),
        }
    };
    if body.first() != Some(&1) {
        return Err(HelloError::Malformed);
    }
    let version = u16_at(1)? as u16;
    let (specs_len, sid_len, chal_len) = (u16_at(3)?, u16_at(5)?, u16_at(7)?);
    let rest = body.get(9..).ok_or(HelloError::Malformed)?;
    let (specs, rest) = rest
        .split_at_checked(specs_len)
        .ok_or(HelloError::Malformed)?;
    let (sid, rest) = rest
        .split_at_checked(sid_len)
        .ok_or(HelloError::Malformed)?;
    let challenge = rest.get(..chal_len).ok_or(HelloError::Malformed)?;
    if specs_len % 3 != 0 || sid_len > 32 || !(16..=32).contains(&chal_len) {
        return Err(HelloError::Malformed);
    }
    let cipher_suites = specs
        .chunks_exact(3)
        .filter_map(|c| match c {
            [0, a, b] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        })
        .collect();
    Ok(ClientHello::bare(
        version,
        cipher_suites,
        sid,
        challenge,
        true,
    ))
}

/// Parse a ServerHello body (after the 4-byte handshake header).
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, HelloError> {
    let (_, sh) = parse_tls_handshake_server_hello(body).map_err(|_| HelloError::Malformed)?;
    let mut out = ServerHello::bare(
        sh.version.0,
        sh.cipher.0,
        sh.session_id.unwrap_or_default(),
        sh.random,
    );
    for (kind, whole) in extensions(sh.ext.unwrap_or_default()) {
        // RFC 7366 section 2: an empty extension 22.
        if kind == 22 {
            out.encrypt_then_mac = true;
            continue;
        }
        let content = whole.get(4..).unwrap_or_default();
        match kind {
            // RFC 8446 4.2.1: the selected version (one value).
            EXT_SUPPORTED_VERSIONS => {
                if let Ok(mut v) = versions(content)
                    && let (Some(v), None) = (v.next(), v.next())
                {
                    out.version = v;
                }
                continue;
            }
            // RFC 7301 3.1: exactly one protocol name.
            EXT_ALPN => {
                if let Ok(mut chosen) = alpn_names(content) {
                    out.alpn = chosen.next().map(names::text_lossy);
                }
                continue;
            }
            _ => {}
        }
        let Ok((_, ext)) = parse_tls_server_hello_extension(whole) else {
            continue;
        };
        match ext {
            TlsExtension::PreSharedKey(_) => out.psk = true,
            TlsExtension::SessionTicket(_) => out.ticket_promised = true,
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic
)]
pub(crate) mod tests {
    use super::*;

    pub fn unhex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks_exact(2)
            .map(|p| {
                let d = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                match p {
                    [a, b] => d(*a) << 4 | d(*b),
                    _ => 0,
                }
            })
            .collect()
    }

    /// RFC 8448 3, "Simple 1-RTT Handshake": the ClientHello handshake
    /// message (196 octets).
    pub const RFC8448_CH: &str = "
        01 00 00 c0 03 03 cb 34 ec b1 e7 81 63 ba 1c 38 c6 da cb 19 6a 6d ff a2
        1a 8d 99 12 ec 18 a2 ef 62 83 02 4d ec e7 00 00 06 13 01 13 03 13 02 01
        00 00 91 00 00 00 0b 00 09 00 00 06 73 65 72 76 65 72 ff 01 00 01 00 00
        0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01 03 01 04 00
        23 00 00 00 33 00 26 00 24 00 1d 00 20 99 38 1d e5 60 e4 bd 43 d2 3d 8e
        43 5a 7d ba fe b3 c0 6e 51 c1 3c ae 4d 54 13 69 1e 52 9a af 2c 00 2b 00
        03 02 03 04 00 0d 00 20 00 1e 04 03 05 03 06 03 02 03 08 04 08 05 08 06
        04 01 05 01 06 01 02 01 04 02 05 02 06 02 02 02 00 2d 00 02 01 01 00 1c
        00 02 40 01";

    /// RFC 8448 3: the ServerHello handshake message (90 octets).
    pub const RFC8448_SH: &str = "
        02 00 00 56 03 03 a6 af 06 a4 12 18 60 dc 5e 6e 60 24 9c d3 4c 95 93 0c
        8a c5 cb 14 34 da c1 55 77 2e d3 e2 69 28 00 13 01 00 00 2e 00 33 00 24
        00 1d 00 20 c9 82 88 76 11 20 95 fe 66 76 2b db f7 c6 72 e1 56 d6 cc 25
        3b 83 3d f1 dd 69 b1 b0 4e 75 1f 0f 00 2b 00 02 03 04";

    fn body(msg: &str) -> Vec<u8> {
        unhex(msg).split_off(4)
    }

    use proptest::prelude::*;
    use tls_parser::parse_tls_handshake_client_hello;

    /// The ClientHello facts as they were read before the fields were
    /// read in place: every extension through tls-parser's own parsers,
    /// into its vectors. The in-place reading must give the same on any
    /// input.
    fn reference_client_hello(body: &[u8]) -> Result<ClientHello, HelloError> {
        let (_, ch) = parse_tls_handshake_client_hello(body).map_err(|_| HelloError::Malformed)?;
        let mut ext_types = SmallU16::<STACK_EXTS>::new();
        let mut groups = SmallU16::<STACK_EXTS>::new();
        let mut point_formats: &[u8] = &[];
        let mut sig_algs = Vec::new();
        let mut first_alpn: Option<&[u8]> = None;
        let mut out = ClientHello::bare(
            ch.version.0,
            ch.ciphers.iter().map(|c| c.0).collect(),
            ch.session_id.unwrap_or_default(),
            ch.random,
            false,
        );
        for (typ, whole) in extensions(ch.ext.unwrap_or_default()) {
            ext_types.push(typ);
            if crate::tls::is_grease(typ) {
                continue;
            }
            if typ == EXT_ECH {
                out.ech = true;
                continue;
            }
            let Ok((_, ext)) = parse_tls_client_hello_extension(whole) else {
                out.malformed_extensions.push(typ);
                continue;
            };
            match ext {
                // RFC 6066 3: the first host_name entry.
                TlsExtension::SNI(list) => {
                    out.sni = list
                        .iter()
                        .find(|(t, _)| t.0 == 0)
                        .map(|(_, name)| Arc::from(String::from_utf8_lossy(name)));
                }
                TlsExtension::ALPN(list) => {
                    first_alpn = list.first().copied();
                    out.alpn = list
                        .iter()
                        .map(|p| Arc::from(String::from_utf8_lossy(p)))
                        .collect();
                }
                // GREASE dropped here already: JA4 drops it too, so the
                // fingerprint reads the same list.
                TlsExtension::SupportedVersions(v) => {
                    out.supported_versions = v
                        .iter()
                        .map(|v| v.0)
                        .filter(|v| !crate::tls::is_grease(*v))
                        .collect();
                }
                TlsExtension::EllipticCurves(g) => {
                    groups = SmallU16::new();
                    for g in g {
                        groups.push(g.0);
                    }
                }
                TlsExtension::EcPointFormats(p) => point_formats = p,
                TlsExtension::SignatureAlgorithms(s) => sig_algs = s,
                TlsExtension::SessionTicket(t) => {
                    out.session_ticket = if t.is_empty() {
                        TicketOffer::Empty
                    } else {
                        out.ticket_id = Some(ticket_id(t));
                        TicketOffer::Ticket(t.len())
                    };
                }
                TlsExtension::PreSharedKey(_) => out.psk = true,
                TlsExtension::PskExchangeModes(m) => out.psk_modes = m,
                TlsExtension::EarlyData(_) => out.early_data = true,
                _ => {}
            }
        }
        let fields = HelloFields {
            legacy_version: out.legacy_version,
            ciphers: &out.cipher_suites,
            extensions: ext_types.as_slice(),
            groups: groups.as_slice(),
            point_formats,
            supported_versions: &out.supported_versions,
            sig_algs: &sig_algs,
            first_alpn,
        };
        out.ja3 = Some(fingerprint::ja3(&fields));
        out.ja4 = Some(fingerprint::ja4(&fields));
        Ok(out)
    }

    /// The ServerHello facts through tls-parser's extension parsers.
    fn reference_server_hello(body: &[u8]) -> Result<ServerHello, HelloError> {
        let (_, sh) = parse_tls_handshake_server_hello(body).map_err(|_| HelloError::Malformed)?;
        let mut out = ServerHello::bare(
            sh.version.0,
            sh.cipher.0,
            sh.session_id.unwrap_or_default(),
            sh.random,
        );
        for (kind, whole) in extensions(sh.ext.unwrap_or_default()) {
            // RFC 7366 section 2: an empty extension 22.
            if kind == 22 {
                out.encrypt_then_mac = true;
                continue;
            }
            let Ok((_, ext)) = parse_tls_server_hello_extension(whole) else {
                continue;
            };
            match ext {
                // RFC 8446 4.2.1: the selected version (one value).
                TlsExtension::SupportedVersions(v) => {
                    if let [v] = v.as_slice() {
                        out.version = v.0;
                    }
                }
                // RFC 7301 3.1: exactly one protocol name.
                TlsExtension::ALPN(list) => {
                    out.alpn = list.first().map(|p| Arc::from(String::from_utf8_lossy(p)));
                }
                TlsExtension::PreSharedKey(_) => out.psk = true,
                TlsExtension::SessionTicket(_) => out.ticket_promised = true,
                _ => {}
            }
        }
        Ok(out)
    }

    fn len8(body: &[u8], skew: i32) -> Vec<u8> {
        let n = (body.len() as i32 + skew).clamp(0, 0xff) as u8;
        [&[n][..], body].concat()
    }

    fn len16(body: &[u8], skew: i32) -> Vec<u8> {
        let n = (body.len() as i32 + skew).clamp(0, 0xffff) as u16;
        [&n.to_be_bytes()[..], body].concat()
    }

    fn pairs(values: &[u16], odd: bool) -> Vec<u8> {
        let mut b: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
        if odd {
            b.push(0x17);
        }
        b
    }

    /// A length's error: mostly none, else a little short or long.
    fn skew() -> impl Strategy<Value = i32> {
        prop_oneof![6 => Just(0), 1 => -3..=3i32]
    }

    fn code_point() -> impl Strategy<Value = u16> {
        prop_oneof![
            Just(0x0a0a),
            Just(0x1a1a),
            Just(0x0304),
            Just(0x0303),
            Just(0x001d),
            Just(0x0403),
            any::<u16>()
        ]
    }

    fn name() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![Just(b'h'), Just(b'2'), Just(b'.'), Just(0xff)],
            0..5,
        )
    }

    fn u16_list() -> impl Strategy<Value = Vec<u8>> {
        (
            proptest::collection::vec(code_point(), 0..5),
            any::<bool>(),
            skew(),
        )
            .prop_map(|(v, odd, k)| len16(&pairs(&v, odd), k))
    }

    fn byte_list() -> impl Strategy<Value = Vec<u8>> {
        (proptest::collection::vec(any::<u8>(), 0..4), skew()).prop_map(|(v, k)| len8(&v, k))
    }

    fn raw() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..12)
    }

    /// An extension (type, content) of a type the facts come from, its
    /// content well formed but for the odd length, or any bytes.
    fn extension() -> impl Strategy<Value = (u16, Vec<u8>)> {
        let sni = (
            proptest::collection::vec((0u8..3, name(), skew()), 0..3),
            skew(),
        )
            .prop_map(|(entries, k)| {
                let list: Vec<u8> = entries
                    .iter()
                    .flat_map(|(kind, n, k)| [&[*kind][..], &len16(n, *k)].concat())
                    .collect();
                (EXT_SNI, len16(&list, k))
            });
        let alpn =
            (proptest::collection::vec((name(), skew()), 0..3), skew()).prop_map(|(names, k)| {
                let list: Vec<u8> = names.iter().flat_map(|(n, k)| len8(n, *k)).collect();
                (EXT_ALPN, len16(&list, k))
            });
        let versions = prop_oneof![
            code_point().prop_map(|v| v.to_be_bytes().to_vec()),
            (
                proptest::collection::vec(code_point(), 0..4),
                any::<bool>(),
                skew()
            )
                .prop_map(|(v, odd, k)| len8(&pairs(&v, odd), k)),
        ]
        .prop_map(|c| (EXT_SUPPORTED_VERSIONS, c));
        let any_type = prop_oneof![
            Just(EXT_SNI),
            Just(EXT_GROUPS),
            Just(EXT_POINT_FORMATS),
            Just(EXT_SIG_ALGS),
            Just(EXT_ALPN),
            Just(EXT_SUPPORTED_VERSIONS),
            Just(EXT_PSK_MODES),
            Just(22),
            Just(35),
            Just(41),
            Just(42),
            Just(51),
            Just(0x0a0a),
            Just(EXT_ECH),
            any::<u16>(),
        ];
        prop_oneof![
            sni,
            alpn,
            versions,
            u16_list().prop_map(|c| (EXT_GROUPS, c)),
            u16_list().prop_map(|c| (EXT_SIG_ALGS, c)),
            byte_list().prop_map(|c| (EXT_POINT_FORMATS, c)),
            byte_list().prop_map(|c| (EXT_PSK_MODES, c)),
            (any_type, raw()),
        ]
    }

    /// Extensions, each with its length skewed now and then, in a block
    /// whose own length may be off too.
    fn extension_block() -> impl Strategy<Value = Vec<u8>> {
        (
            proptest::collection::vec((extension(), skew()), 0..8),
            skew(),
        )
            .prop_map(|(exts, k)| {
                let body: Vec<u8> = exts
                    .iter()
                    .flat_map(|((t, c), k)| [&t.to_be_bytes()[..], &len16(c, *k)].concat())
                    .collect();
                len16(&body, k)
            })
    }

    /// Cuts `b` short, or changes one byte, or leaves it.
    fn damage(
        mut b: Vec<u8>,
        cut: Option<proptest::sample::Index>,
        flip: Option<(proptest::sample::Index, u8)>,
    ) -> Vec<u8> {
        if let Some((at, v)) = flip
            && !b.is_empty()
        {
            let i = at.index(b.len());
            b[i] = v;
        }
        if let Some(at) = cut {
            b.truncate(at.index(b.len() + 1));
        }
        b
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Read in place, a ClientHello gives what tls-parser's parsers
        /// give: the same facts and fingerprints, the same extensions
        /// malformed, the same hellos rejected.
        #[test]
        fn client_hellos_read_in_place_as_tls_parser_reads_them(
            version in code_point(),
            random in proptest::collection::vec(any::<u8>(), 32),
            sid in proptest::collection::vec(any::<u8>(), 0..35),
            ciphers in proptest::collection::vec(code_point(), 0..6),
            odd in any::<bool>(),
            ciphers_skew in skew(),
            compression in byte_list(),
            extensions in proptest::option::weighted(0.95, extension_block()),
            trailing in proptest::collection::vec(any::<u8>(), 0..3),
            cut in proptest::option::weighted(0.1, any::<proptest::sample::Index>()),
            flip in proptest::option::weighted(0.1, any::<(proptest::sample::Index, u8)>()),
        ) {
            let body = [
                &version.to_be_bytes()[..],
                &random,
                &len8(&sid, 0),
                &len16(&pairs(&ciphers, odd), ciphers_skew),
                &compression,
                &extensions.unwrap_or_default(),
                &trailing,
            ]
            .concat();
            let body = damage(body, cut, flip);
            prop_assert_eq!(parse_client_hello(&body), reference_client_hello(&body));
        }

        /// The same for a ServerHello's selected version and ALPN name.
        #[test]
        fn server_hellos_read_in_place_as_tls_parser_reads_them(
            version in prop_oneof![Just(0x0303u16), Just(0x0301), Just(0x0300), any::<u16>()],
            random in proptest::collection::vec(any::<u8>(), 32),
            sid in proptest::collection::vec(any::<u8>(), 0..33),
            cipher in code_point(),
            extensions in proptest::option::weighted(0.95, extension_block()),
            cut in proptest::option::weighted(0.1, any::<proptest::sample::Index>()),
            flip in proptest::option::weighted(0.1, any::<(proptest::sample::Index, u8)>()),
        ) {
            let body = [
                &version.to_be_bytes()[..],
                &random,
                &len8(&sid, 0),
                &cipher.to_be_bytes(),
                &[0],
                &extensions.unwrap_or_default(),
            ]
            .concat();
            let body = damage(body, cut, flip);
            prop_assert_eq!(parse_server_hello(&body), reference_server_hello(&body));
        }
    }

    /// Real hellos (RFC 8448's), cut at every length and with every byte
    /// changed in a few ways, read the same in place as through
    /// tls-parser.
    #[test]
    fn damaged_real_hellos_read_as_tls_parser_reads_them() {
        for (msg, client) in [(RFC8448_CH, true), (RFC8448_SH, false)] {
            let whole = body(msg);
            let mut variants: Vec<Vec<u8>> =
                (0..whole.len()).map(|n| whole[..n].to_vec()).collect();
            for i in 0..whole.len() {
                for v in [
                    0,
                    0xff,
                    whole[i] ^ 1,
                    whole[i].wrapping_add(1),
                    whole[i].wrapping_sub(1),
                ] {
                    let mut b = whole.clone();
                    b[i] = v;
                    variants.push(b);
                }
            }
            for b in variants {
                if client {
                    assert_eq!(
                        parse_client_hello(&b),
                        reference_client_hello(&b),
                        "{b:02x?}"
                    );
                } else {
                    assert_eq!(
                        parse_server_hello(&b),
                        reference_server_hello(&b),
                        "{b:02x?}"
                    );
                }
            }
        }
    }

    #[test]
    fn rfc8448_client_hello_facts() {
        let ch = parse_client_hello(&body(RFC8448_CH)).expect("RFC 8448 ClientHello parses");
        assert_eq!(ch.legacy_version, 0x0303);
        assert_eq!(ch.supported_versions, vec![0x0304]);
        assert_eq!(ch.sni.as_deref(), Some("server"));
        assert!(ch.alpn.is_empty());
        assert_eq!(ch.cipher_suites, vec![0x1301, 0x1303, 0x1302]);
        assert!(ch.session_id.is_empty());
        assert_eq!(ch.session_ticket, TicketOffer::Empty);
        assert!(!ch.psk && !ch.early_data && !ch.ech);
        assert_eq!(ch.psk_modes, vec![1]);
        assert_eq!(ch.random.first(), Some(&0xcb));
        // JA3 string by hand from the trace: version 771; ciphers 4865,
        // 4867, 4866; extensions 0 (server_name), 65281, 10, 35, 51, 43,
        // 13, 45, 28; groups 29,23,24,25,256..260; no point formats.
        let f = HelloFields {
            legacy_version: 771,
            ciphers: &[4865, 4867, 4866],
            extensions: &[0, 65281, 10, 35, 51, 43, 13, 45, 28],
            groups: &[29, 23, 24, 25, 256, 257, 258, 259, 260],
            ..HelloFields::default()
        };
        assert_eq!(
            fingerprint::ja3_string(&f),
            "771,4865-4867-4866,0-65281-10-35-51-43-13-45-28,29-23-24-25-256-257-258-259-260,"
        );
        assert_eq!(ch.ja3, Some(fingerprint::ja3(&f)));
        // JA4: t13, SNI, 3 ciphers, 9 extensions, no ALPN.
        assert_eq!(
            ch.ja4.as_deref().and_then(|j| j.get(..10)),
            Some("t13d030900")
        );
    }

    #[test]
    fn rfc8448_server_hello_facts() {
        let sh = parse_server_hello(&body(RFC8448_SH)).expect("RFC 8448 ServerHello parses");
        assert_eq!(sh.legacy_version, 0x0303);
        assert_eq!(sh.version, 0x0304);
        assert_eq!(sh.cipher_suite, 0x1301);
        assert!(!sh.hrr && !sh.psk);
        assert!(sh.alpn.is_none());
        assert!(sh.session_id.is_empty());
    }

    #[test]
    fn hello_retry_request_is_recognised_by_its_random() {
        // RFC 8448 5: the HelloRetryRequest (176 octets), its cookie cut to
        // keep the fixture short (the length fields are adjusted).
        let hrr = unhex(
            "03 03 cf 21 ad 74 e5 9a 61 11 be 1d 8c 02 1e 65 b8 91 c2 a2 11 16 7a bb
             8c 5e 07 9e 09 e2 c8 a8 33 9c 00 13 01 00 00 0c 00 33 00 02 00 17 00 2b
             00 02 03 04",
        );
        let sh = parse_server_hello(&hrr).expect("HRR parses as a ServerHello");
        assert!(sh.hrr);
        assert_eq!(sh.version, 0x0304);
    }

    #[test]
    fn sslv2_client_hello() {
        // An SSLv2-compatible ClientHello offering TLS 1.0 (RFC 5246 E.2
        // layout): 2 cipher specs (SSL_CK_RC4_128_WITH_MD5 = 01 00 80, which
        // has no TLS equivalent, and TLS_RSA_WITH_AES_128_CBC_SHA = 00 00 2f),
        // no session id, a 16-byte challenge.
        let b = unhex(
            "01 03 01 00 06 00 00 00 10 01 00 80 00 00 2f
             00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",
        );
        let ch = parse_sslv2_client_hello(&b).expect("SSLv2 hello parses");
        assert!(ch.sslv2);
        assert_eq!(ch.legacy_version, 0x0301);
        assert_eq!(ch.cipher_suites, vec![0x002f]);
        assert_eq!(ch.random.get(16..18), Some(&[0x00, 0x01][..]));
        assert_eq!(ch.random.get(..16), Some(&[0u8; 16][..]));
        assert!(ch.ja3.is_none());
        // Truncated: malformed, no panic.
        for n in 0..b.len() {
            assert!(parse_sslv2_client_hello(b.get(..n).unwrap_or_default()).is_err());
        }
    }

    #[test]
    fn truncated_hellos_are_errors_not_panics() {
        let ch = body(RFC8448_CH);
        let sh = body(RFC8448_SH);
        for n in 0..ch.len() {
            let _ = parse_client_hello(ch.get(..n).unwrap_or_default());
        }
        for n in 0..sh.len() {
            let _ = parse_server_hello(sh.get(..n).unwrap_or_default());
        }
        assert!(parse_client_hello(&[]).is_err());
    }
}
