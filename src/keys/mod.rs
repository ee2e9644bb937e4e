//! Key material and record decryption: reads NSS key logs, derives record
//! keys (TLS 1.3 key schedule, RFC 8446 section 7; TLS 1.0-1.2 key block,
//! RFC 5246 section 6.3) and opens protected records one at a time. It knows
//! nothing of TCP or captures: its inputs are key log text, handshake facts
//! (suite, version, randoms) and record bytes, and every input may be hostile.
//!
//! Secrets never appear in any message: [`Secret`] and every type holding
//! one print lengths only.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod decrypt;
mod error;
mod keylog;
mod secret;
mod suite;
mod tls12;
mod tls13;

#[cfg(test)]
pub(crate) mod fixtures;

pub use decrypt::Decryptor;
pub use error::{DecryptError, RecordProblem};
pub use keylog::{KeyLog, KeyLogWarning, Label, Secrets, WarningKind};
pub use secret::Secret;
pub use suite::{Cipher, Hash, KeyExchange, Mac, Suite, suite};
pub use tls12::{KeyBlock, prf};
pub use tls13::{TrafficKeys, hkdf_expand_label, next_traffic_secret};

/// TLS 1.0, 1.1, 1.2 and 1.3 as they appear in `ProtocolVersion` fields.
pub const TLS10: u16 = 0x0301;
pub const TLS11: u16 = 0x0302;
pub const TLS12: u16 = 0x0303;
pub const TLS13: u16 = 0x0304;
