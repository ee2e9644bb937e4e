//! ClientHello and ServerHello facts, parsed with tls-parser from one complete handshake message body (and the SSLv2-compatible ClientHello, which tls-parser does not know).

use super::fingerprint::{self, HelloFields, SmallU16};
use super::names;
use serde::{Deserialize, Serialize, Serializer};
use std::sync::Arc;
use tls_parser::{
    TlsExtension, parse_tls_client_hello_extension, parse_tls_handshake_client_hello,
    parse_tls_handshake_server_hello, parse_tls_server_hello_extension,
};

/// RFC 8446 4.1.3: a ServerHello whose random is this value is a
/// HelloRetryRequest (SHA-256 of "HelloRetryRequest").
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

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
    pub alpn: Option<String>,
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

/// Parse a ClientHello body (after the 4-byte handshake header).
///
/// Allocates only what the returned facts own (cipher suites, SNI, ALPN
/// names, supported_versions, JA3/JA4) besides tls-parser's own vectors;
/// the lists the fingerprints alone need stay on the stack.
pub fn parse_client_hello(body: &[u8]) -> Result<ClientHello, HelloError> {
    let (_, ch) = parse_tls_handshake_client_hello(body).map_err(|_| HelloError::Malformed)?;
    let mut ext_types = SmallU16::<STACK_EXTS>::new();
    let mut groups = SmallU16::<STACK_EXTS>::new();
    let mut point_formats: &[u8] = &[];
    let mut sig_algs = Vec::new();
    let mut first_alpn: Option<&[u8]> = None;
    let mut out = ClientHello {
        legacy_version: ch.version.0,
        supported_versions: Vec::new(),
        sni: None,
        alpn: Vec::new(),
        cipher_suites: ch.ciphers.iter().map(|c| c.0).collect(),
        session_id: SessionId::new(ch.session_id.unwrap_or_default()),
        session_ticket: TicketOffer::Absent,
        psk: false,
        psk_modes: Vec::new(),
        early_data: false,
        ech: false,
        sslv2: false,
        ja3: None,
        ja4: None,
        random: random32(ch.random),
        ticket_id: None,
        malformed_extensions: Vec::new(),
    };
    for (typ, whole) in extensions(ch.ext.unwrap_or_default()) {
        ext_types.push(typ);
        if super::is_grease(typ) {
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
                    .filter(|v| !super::is_grease(*v))
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
    Ok(ClientHello {
        legacy_version: version,
        supported_versions: Vec::new(),
        sni: None,
        alpn: Vec::new(),
        cipher_suites,
        session_id: SessionId::new(sid),
        session_ticket: TicketOffer::Absent,
        psk: false,
        psk_modes: Vec::new(),
        early_data: false,
        ech: false,
        sslv2: true,
        ja3: None,
        ja4: None,
        random: random32(challenge),
        ticket_id: None,
        malformed_extensions: Vec::new(),
    })
}

/// Parse a ServerHello body (after the 4-byte handshake header).
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, HelloError> {
    let (_, sh) = parse_tls_handshake_server_hello(body).map_err(|_| HelloError::Malformed)?;
    let random = random32(sh.random);
    let mut out = ServerHello {
        legacy_version: sh.version.0,
        version: sh.version.0,
        cipher_suite: sh.cipher.0,
        alpn: None,
        session_id: SessionId::new(sh.session_id.unwrap_or_default()),
        psk: false,
        hrr: random == HRR_RANDOM,
        ticket_promised: false,
        encrypt_then_mac: false,
        random,
    };
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
                out.alpn = list
                    .first()
                    .map(|p| String::from_utf8_lossy(p).into_owned());
            }
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
