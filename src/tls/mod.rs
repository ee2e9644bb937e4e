//! TLS handshake analysis over the two reassembled byte streams of one TCP connection: record framing, handshake facts (ClientHello, ServerHello, JA3/JA4), resumption, outcome and application-data shape, never panicking and with every buffer capped.
//!
//! Feed a [`TlsSession`] with `on_data`/`on_gap`/`on_close` exactly as the flow
//! layer delivers them; read [`TlsSession::summary`], [`TlsSession::handshakes`]
//! and [`TlsSession::anomalies`] at the end. `docs/TLS.md` states the rules.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod decrypt;
pub mod fingerprint;
mod hello;
mod names;
mod record;
mod session;

pub use fingerprint::HelloFields;
pub use hello::{ClientHello, HRR_RANDOM, ServerHello, SessionId, TicketOffer};
pub use names::{cipher_name, version_name};
pub use session::{
    Alert, AlpnSource, AppRecord, FIRST_RECORDS, Handshake, Outcome, SideCounts, TlsSession,
    TlsSummary,
};

use crate::{At, Side, Ts};
use serde::Serialize;

/// Largest record length accepted: RFC 5246 6.2.3 allows TLSCiphertext up to
/// 2^14 + 2048 bytes (RFC 8446 5.2 is stricter: 2^14 + 256). Anything larger
/// is an anomaly and stops parsing that side.
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;

/// Largest ClientHello or ServerHello body reassembled across records. Other
/// handshake messages (certificate chains included) are skipped by length and
/// never buffered, so this cap bounds the only handshake buffer.
pub const MAX_HELLO_LEN: usize = 64 * 1024;

/// Anomalies kept per connection; further ones are only counted.
pub const MAX_ANOMALIES: usize = 32;

/// Handshakes kept per connection; further ClientHellos are only counted.
pub const MAX_HANDSHAKES: usize = 64;

pub use crate::ledger::Close;

/// Something in the stream that the analyzer could not take as valid TLS,
/// or a cap that was hit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TlsAnomaly {
    pub kind: AnomalyKind,
    pub side: Side,
    /// Packet (1-based, in its file) that carried the offending bytes, or the
    /// last packet seen on that side for gaps.
    pub packet: u64,
    pub ts: Ts,
    /// A byte count when the kind has one: the record length, the message
    /// length, the bytes skipped while resynchronising, the bytes lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// A record header with an unknown content type or version: the side
    /// is resynchronised.
    BadRecordHeader,
    /// A record longer than [`MAX_RECORD_LEN`]: parsing of that side stops.
    OversizedRecord,
    /// Bytes skipped before a plausible record header was found again
    /// (after a gap or a bad header).
    Resync,
    /// A gap inside a handshake record or message: that message is lost.
    LostHandshakeBytes,
    /// A ClientHello or ServerHello longer than [`MAX_HELLO_LEN`].
    HelloTooLarge,
    /// A ClientHello or ServerHello that tls-parser (or the SSLv2 parser)
    /// rejected.
    MalformedHello,
    /// An SSLv2 record from the server: not analysed.
    Sslv2Server,
    /// More than [`MAX_HANDSHAKES`] handshakes on one connection.
    TooManyHandshakes,
    /// Decrypted application data beyond the decryption queue's cap
    /// (1 MiB between two deliveries): dropped, and a gap of that many
    /// bytes for the HTTP parsers.
    DecryptedOverflow,
    /// A buffer not grown because the capture's parser budget
    /// ([`crate::budget::PARSER_BUDGET`]) was spent: a hello skipped as if
    /// too large, decrypted data dropped as a gap. One per side; `bytes`
    /// sums what was not read (the hellos' declared lengths, the decrypted
    /// bytes dropped).
    ParserBudget,
}

impl TlsAnomaly {
    pub(crate) fn new(kind: AnomalyKind, side: Side, at: At, bytes: Option<u64>) -> Self {
        TlsAnomaly {
            kind,
            side,
            packet: at.packet,
            ts: at.ts,
            bytes,
        }
    }
}

/// Record content types (RFC 8446 5.1, RFC 6520 for heartbeat).
pub(crate) mod content {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
    pub const HEARTBEAT: u8 = 24;
}

/// Does a stream that starts with `first_bytes` look like TLS? `None` until
/// five bytes are there (or fewer already decide it).
///
/// Yes for a handshake record header (RFC 8446 5.1: type 22, legacy version
/// 0x0300..=0x0304, length 1..=[`MAX_RECORD_LEN`]) and for an SSLv2-compatible
/// ClientHello (RFC 5246 E.2: 2-byte header with the high bit set, msg_type 1,
/// version 0x0002 or 0x0300..=0x0304).
pub fn looks_like_tls(first_bytes: &[u8]) -> Option<bool> {
    let b0 = *first_bytes.first()?;
    if b0 == content::HANDSHAKE {
        return match first_bytes.get(..5)? {
            [_, major, minor, hi, lo] => {
                let len = usize::from(u16::from_be_bytes([*hi, *lo]));
                Some(*major == 3 && *minor <= 4 && (1..=MAX_RECORD_LEN).contains(&len))
            }
            _ => Some(false),
        };
    }
    if b0 & 0x80 != 0 {
        return match first_bytes.get(..5)? {
            [_, _, msg_type, major, minor] => {
                let version = u16::from_be_bytes([*major, *minor]);
                Some(*msg_type == 1 && (version == 0x0002 || (0x0300..=0x0304).contains(&version)))
            }
            _ => Some(false),
        };
    }
    Some(false)
}

/// The two GREASE forms (RFC 8701 2): 0x?a?a with both bytes equal.
pub(crate) fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
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

    #[test]
    fn sniffs_handshake_records_and_sslv2_hellos() {
        // RFC 8448 3: the ClientHello record header `16 03 01 00 c4`.
        assert_eq!(looks_like_tls(&[0x16, 0x03, 0x01, 0x00, 0xc4]), Some(true));
        assert_eq!(looks_like_tls(&[0x16, 0x03, 0x01]), None);
        assert_eq!(looks_like_tls(&[]), None);
        // Version 3.5 does not exist; length 0 is not a handshake.
        assert_eq!(looks_like_tls(&[0x16, 0x03, 0x05, 0x00, 0xc4]), Some(false));
        assert_eq!(looks_like_tls(&[0x16, 0x03, 0x01, 0x00, 0x00]), Some(false));
        // Over 2^14 + 2048.
        assert_eq!(looks_like_tls(&[0x16, 0x03, 0x03, 0x48, 0x01]), Some(false));
        // Application data and HTTP are not a TLS start.
        assert_eq!(looks_like_tls(&[0x17, 0x03, 0x03, 0x00, 0x10]), Some(false));
        assert_eq!(looks_like_tls(b"GET / HTTP/1.1\r\n"), Some(false));
        // SSLv2-compatible ClientHello header: 80 len 01 03 01 (TLS 1.0).
        assert_eq!(looks_like_tls(&[0x80, 0x2e, 0x01, 0x03, 0x01]), Some(true));
        assert_eq!(looks_like_tls(&[0x80, 0x2e, 0x01, 0x00, 0x02]), Some(true));
        assert_eq!(looks_like_tls(&[0x80, 0x2e, 0x04, 0x00, 0x02]), Some(false));
        assert_eq!(looks_like_tls(&[0x80, 0x2e]), None);
    }

    #[test]
    fn grease_values_are_the_sixteen_of_rfc8701() {
        let all: Vec<u16> = (0..=u16::MAX).filter(|v| is_grease(*v)).collect();
        assert_eq!(all.len(), 16);
        assert_eq!(all.first(), Some(&0x0a0a));
        assert_eq!(all.last(), Some(&0xfafa));
        assert!(!is_grease(0x1a2a));
    }
}
