//! Human names for TLS code points: protocol versions, cipher suites (IANA names from tls-parser's table) and alert descriptions.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use tls_parser::TlsCipherSuite;

/// A code point's names, hashed with foldhash: SipHash was most of a
/// lookup's cost.
type ByCode = HashMap<u16, Arc<str>, foldhash::fast::RandomState>;

/// Names each thread keeps once made, per kind: at most the 65 536 values
/// of a code point, and in practice a few.
#[derive(Default)]
struct Names {
    versions: ByCode,
    ciphers: ByCode,
    /// Texts from the hellos made recently ([`text`]), replaced in turn.
    recent: Vec<Arc<str>>,
    next: usize,
}

/// Texts [`text`] keeps: the names and fingerprints of a few clients.
const RECENT: usize = 16;

/// Longest text [`text`] keeps.
const RECENT_LEN: usize = 256;

thread_local! {
    static NAMES: RefCell<Names> = RefCell::default();
}

/// The name of `v` in `kind`, made by `make` the first time this thread
/// asks: every finished TLS connection names its version and cipher suite,
/// and sharing them saves two allocations a connection.
fn shared(kind: fn(&mut Names) -> &mut ByCode, v: u16, make: fn(u16) -> String) -> Arc<str> {
    NAMES.with(|names| match names.try_borrow_mut() {
        Ok(mut names) => Arc::clone(
            kind(&mut names)
                .entry(v)
                .or_insert_with(|| Arc::from(make(v))),
        ),
        Err(_) => Arc::from(make(v)),
    })
}

/// `s` as an `Arc<str>`, the same one this thread made for an equal text
/// recently: a capture repeats its clients' SNI, ALPN names and
/// fingerprints connection after connection, and each would otherwise be
/// an allocation of its own.
pub fn text(s: &str) -> Arc<str> {
    if s.len() > RECENT_LEN {
        return Arc::from(s);
    }
    NAMES.with(|names| match names.try_borrow_mut() {
        Ok(mut names) => {
            if let Some(t) = names.recent.iter().find(|t| &***t == s) {
                return Arc::clone(t);
            }
            let t: Arc<str> = Arc::from(s);
            if names.recent.len() < RECENT {
                names.recent.push(Arc::clone(&t));
            } else {
                let at = names.next;
                if let Some(slot) = names.recent.get_mut(at) {
                    *slot = Arc::clone(&t);
                }
                names.next = (at + 1) % RECENT;
            }
            t
        }
        Err(_) => Arc::from(s),
    })
}

/// [`text`] of `bytes` read as UTF-8, invalid sequences replaced.
pub fn text_lossy(bytes: &[u8]) -> Arc<str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => text(s),
        Err(_) => Arc::from(String::from_utf8_lossy(bytes)),
    }
}

/// [`version_name`], shared.
pub fn version_arc(v: u16) -> Arc<str> {
    shared(|n| &mut n.versions, v, version_name)
}

/// [`cipher_name`], shared.
pub fn cipher_arc(id: u16) -> Arc<str> {
    shared(|n| &mut n.ciphers, id, cipher_name)
}

/// "TLS 1.3", "SSL 3.0", ..., "TLS 1.3 draft 23", or "0x1234" for anything else.
pub fn version_name(v: u16) -> String {
    match v {
        0x0002 => "SSL 2.0".to_owned(),
        0x0300 => "SSL 3.0".to_owned(),
        0x0301 => "TLS 1.0".to_owned(),
        0x0302 => "TLS 1.1".to_owned(),
        0x0303 => "TLS 1.2".to_owned(),
        0x0304 => "TLS 1.3".to_owned(),
        // draft-ietf-tls-tls13: 0x7f00 + draft number.
        0x7f00..=0x7fff => format!("TLS 1.3 draft {}", v & 0xff),
        // Facebook's TLS 1.3 variants (Wireshark: "TLS 1.3 (Facebook draft 26)").
        0xfb00..=0xfbff => format!("TLS 1.3 (Facebook draft {})", v & 0xff),
        _ => format!("0x{v:04x}"),
    }
}

/// TLS 1.3 or one of its drafts: negotiated through supported_versions.
pub fn is_tls13(v: u16) -> bool {
    v == 0x0304 || (0x7f00..=0x7fff).contains(&v) || (0xfb00..=0xfbff).contains(&v)
}

/// IANA name such as "TLS_AES_128_GCM_SHA256", or "0x1234" when unknown.
pub fn cipher_name(id: u16) -> String {
    match TlsCipherSuite::from_id(id) {
        Some(c) => c.name.to_owned(),
        None => format!("0x{id:04x}"),
    }
}

/// Alert description names as the RFCs spell them (RFC 8446 6.2, RFC 5246 7.2.2).
pub fn alert_name(d: u8) -> Option<&'static str> {
    Some(match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        121 => "ech_required",
        _ => return None,
    })
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

    /// Equal texts are one allocation while they are recent; an evicted
    /// one comes back equal, as a new allocation; invalid UTF-8 is
    /// replaced as `from_utf8_lossy` replaces it.
    #[test]
    fn recent_texts_are_shared() {
        let a = text("example.com");
        assert!(Arc::ptr_eq(&a, &text("example.com")));
        assert!(Arc::ptr_eq(&a, &text_lossy(b"example.com")));
        assert!(!Arc::ptr_eq(&a, &text("example.org")));
        for i in 0..RECENT {
            text(&format!("host{i}"));
        }
        let b = text("example.com");
        assert_eq!(a, b);
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(&*text_lossy(b"h\xff2"), "h\u{fffd}2");
        let long = "x".repeat(RECENT_LEN + 1);
        assert!(!Arc::ptr_eq(&text(&long), &text(&long)));
    }

    #[test]
    fn names_follow_the_registries() {
        assert_eq!(version_name(0x0304), "TLS 1.3");
        assert_eq!(version_name(0x0301), "TLS 1.0");
        assert_eq!(version_name(0x7f17), "TLS 1.3 draft 23");
        assert_eq!(version_name(0x0305), "0x0305");
        assert!(is_tls13(0x7f1c));
        // instagram.pcap (nDPI corpus): tshark shows 0xfb1a as
        // "TLS 1.3 (Facebook draft 26)".
        assert_eq!(version_name(0xfb1a), "TLS 1.3 (Facebook draft 26)");
        assert!(is_tls13(0xfb1a));
        assert!(!is_tls13(0x0303));
        // IANA TLS Cipher Suites registry: 0x1301 and 0xc02f.
        assert_eq!(cipher_name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(cipher_name(0xc02f), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(cipher_name(0x0a0a), "0x0a0a");
        assert_eq!(alert_name(40), Some("handshake_failure"));
        assert_eq!(alert_name(112), Some("unrecognized_name"));
        assert_eq!(alert_name(255), None);
    }
}
