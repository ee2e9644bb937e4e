//! Why keys could not be derived or a record could not be opened: typed
//! errors with fixed messages, none of which carries secret bytes.

use std::fmt;

/// What is wrong with a record whose bytes cannot be a record of its cipher
/// (found before or without authentication), or with authenticated
/// plaintext that breaks the format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordProblem {
    /// The header's length field is not the fragment's length.
    LengthMismatch,
    /// Longer than the protocol allows: 2^14 + 256 bytes in TLS 1.3
    /// (RFC 8446 section 5.2), 2^14 + 2048 before (RFC 5246 section 6.2.3).
    TooLong,
    /// Shorter than the nonce, IV, tag or MAC it must carry.
    TooShort,
    /// CBC ciphertext that is not a whole number of 16-byte blocks.
    NotBlockAligned,
    /// Authenticated CBC plaintext with malformed padding (encrypt-then-MAC
    /// only: with MAC-then-encrypt bad padding is an authentication failure).
    BadPadding,
    /// TLS 1.3 plaintext made only of zeros: no content type (RFC 8446
    /// section 5.4).
    NoContentType,
    /// A TLS 1.3 record whose outer type is not application_data (23); such
    /// records (ChangeCipherSpec, plaintext alerts) are not protected.
    NotProtected,
}

impl RecordProblem {
    fn text(self) -> &'static str {
        match self {
            RecordProblem::LengthMismatch => "its header length differs from its fragment length",
            RecordProblem::TooLong => "it is longer than the protocol allows",
            RecordProblem::TooShort => "it is too short for its nonce, IV, tag or MAC",
            RecordProblem::NotBlockAligned => "its CBC ciphertext is not a whole number of blocks",
            RecordProblem::BadPadding => "its authenticated CBC padding is malformed",
            RecordProblem::NoContentType => "its TLS 1.3 plaintext has no content type",
            RecordProblem::NotProtected => "its TLS 1.3 outer type is not application_data",
        }
    }
}

/// Why a [`Decryptor`](super::Decryptor) could not be built or a record
/// could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecryptError {
    /// The cipher suite (IANA id) is not one this module decrypts.
    UnsupportedSuite(u16),
    /// The protocol version is not TLS 1.0-1.3 (SSL 3.0 and unknown
    /// values).
    UnsupportedVersion(u16),
    /// The suite cannot be used at this version (an AEAD suite under TLS
    /// 1.1, a TLS 1.3 suite given TLS 1.2 keys, ...).
    SuiteVersionMismatch { suite: u16, version: u16 },
    /// A secret whose length does not fit the suite's hash.
    SecretLength { expected: usize, found: usize },
    /// An HKDF label, context or output longer than RFC 8446 section 7.1
    /// allows.
    LabelTooLong,
    /// The record did not authenticate. `record` is its sequence number
    /// under the current keys (0 for the first record they protect).
    AuthenticationFailed { record: u64 },
    /// The record cannot be a record of this cipher, or its authenticated
    /// plaintext breaks the format. `record` as above.
    BadRecord { record: u64, problem: RecordProblem },
    /// KeyUpdate exists only in TLS 1.3 (RFC 8446 section 4.6.3).
    KeyUpdateNotTls13,
    /// 2^64 records under one key: the sequence number cannot wrap (RFC 8446
    /// section 5.3, RFC 5246 section 6.1).
    SequenceExhausted,
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecryptError::UnsupportedSuite(id) => write!(
                f,
                "cipher suite {id:#06x} cannot be decrypted (supported: AES-GCM, ChaCha20-Poly1305, AES-CBC with HMAC-SHA1/256/384)"
            ),
            DecryptError::UnsupportedVersion(v) => write!(
                f,
                "protocol version {v:#06x} cannot be decrypted (supported: TLS 1.0 to 1.3)"
            ),
            DecryptError::SuiteVersionMismatch { suite, version } => write!(
                f,
                "cipher suite {suite:#06x} cannot be used with protocol version {version:#06x}"
            ),
            DecryptError::SecretLength { expected, found } => write!(
                f,
                "secret of {found} bytes where the suite needs {expected}: the key log line belongs to another suite"
            ),
            DecryptError::LabelTooLong => {
                f.write_str("HKDF label, context or output too long (RFC 8446 section 7.1)")
            }
            DecryptError::AuthenticationFailed { record } => write!(
                f,
                "record {record} did not authenticate: the keys belong to another connection or direction, or records were lost before it"
            ),
            DecryptError::BadRecord { record, problem } => {
                write!(f, "record {record} cannot be decrypted: {}", problem.text())
            }
            DecryptError::KeyUpdateNotTls13 => f.write_str("KeyUpdate exists only in TLS 1.3"),
            DecryptError::SequenceExhausted => {
                f.write_str("2^64 records under one key: the sequence number cannot wrap")
            }
        }
    }
}

impl std::error::Error for DecryptError {}
