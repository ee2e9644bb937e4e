//! The cipher suites this module decrypts: IANA id to record cipher, MAC
//! and key-derivation hash. Anything not listed here is unsupported.

/// The record protection algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    Aes128Cbc,
    Aes256Cbc,
}

impl Cipher {
    /// Length of the encryption key (RFC 5246 appendix C, RFC 8446 B.4).
    pub fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Gcm | Cipher::Aes128Cbc => 16,
            Cipher::Aes256Gcm | Cipher::Aes256Cbc | Cipher::ChaCha20Poly1305 => 32,
        }
    }
}

/// How a TLS 1.0-1.2 record is authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mac {
    /// The AEAD's own tag.
    Aead,
    HmacSha1,
    HmacSha256,
    HmacSha384,
}

impl Mac {
    /// Length of the MAC key and of the MAC itself (RFC 5246 appendix C).
    pub fn len(self) -> usize {
        match self {
            Mac::Aead => 0,
            Mac::HmacSha1 => 20,
            Mac::HmacSha256 => 32,
            Mac::HmacSha384 => 48,
        }
    }

    pub fn is_empty(self) -> bool {
        self == Mac::Aead
    }
}

/// The hash of the key derivation: HKDF in TLS 1.3, the PRF in TLS 1.2.
/// TLS 1.0 and 1.1 always use their MD5 + SHA-1 PRF instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    pub fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }

    pub fn is_empty(self) -> bool {
        false
    }
}

/// How the premaster secret was agreed. Informative only: decryption works
/// from the logged secrets, whatever the key exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyExchange {
    /// TLS 1.3 suites name no key exchange.
    Tls13,
    Rsa,
    DheDss,
    DheRsa,
    EcdheEcdsa,
    EcdheRsa,
}

/// One cipher suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    pub id: u16,
    /// The IANA name.
    pub name: &'static str,
    pub kx: KeyExchange,
    pub cipher: Cipher,
    pub mac: Mac,
    pub hash: Hash,
}

impl Suite {
    pub fn is_tls13(&self) -> bool {
        self.kx == KeyExchange::Tls13
    }

    /// Whether the suite may be used at `version` (RFC 5246 appendix A.5,
    /// RFC 5288 section 4, RFC 5289 section 3.2, RFC 7905 section 2): AEAD
    /// suites and SHA-256/384 MACs need TLS 1.2, TLS 1.3 suites need TLS 1.3,
    /// and CBC with HMAC-SHA1 goes back to TLS 1.0.
    pub fn allowed_at(&self, version: u16) -> bool {
        if self.is_tls13() {
            return version == super::TLS13;
        }
        match self.mac {
            Mac::HmacSha1 => (super::TLS10..=super::TLS12).contains(&version),
            Mac::Aead | Mac::HmacSha256 | Mac::HmacSha384 => version == super::TLS12,
        }
    }
}

macro_rules! suites {
    ($($id:literal $name:ident $kx:ident $cipher:ident $mac:ident $hash:ident;)*) => {
        /// Every supported suite, by id.
        const SUITES: &[Suite] = &[$(Suite {
            id: $id,
            name: stringify!($name),
            kx: KeyExchange::$kx,
            cipher: Cipher::$cipher,
            mac: Mac::$mac,
            hash: Hash::$hash,
        }),*];
    };
}

// IANA "TLS Cipher Suites" registry. The hash column is the TLS 1.2 PRF hash:
// SHA-256 unless the suite says SHA384 (RFC 5246 section 5, RFC 5288
// section 3, RFC 5289 section 3.2), and the HKDF hash for TLS 1.3.
suites! {
    0x1301 TLS_AES_128_GCM_SHA256 Tls13 Aes128Gcm Aead Sha256;
    0x1302 TLS_AES_256_GCM_SHA384 Tls13 Aes256Gcm Aead Sha384;
    0x1303 TLS_CHACHA20_POLY1305_SHA256 Tls13 ChaCha20Poly1305 Aead Sha256;

    0x002f TLS_RSA_WITH_AES_128_CBC_SHA Rsa Aes128Cbc HmacSha1 Sha256;
    0x0035 TLS_RSA_WITH_AES_256_CBC_SHA Rsa Aes256Cbc HmacSha1 Sha256;
    0x003c TLS_RSA_WITH_AES_128_CBC_SHA256 Rsa Aes128Cbc HmacSha256 Sha256;
    0x003d TLS_RSA_WITH_AES_256_CBC_SHA256 Rsa Aes256Cbc HmacSha256 Sha256;
    0x009c TLS_RSA_WITH_AES_128_GCM_SHA256 Rsa Aes128Gcm Aead Sha256;
    0x009d TLS_RSA_WITH_AES_256_GCM_SHA384 Rsa Aes256Gcm Aead Sha384;

    0x0032 TLS_DHE_DSS_WITH_AES_128_CBC_SHA DheDss Aes128Cbc HmacSha1 Sha256;
    0x0038 TLS_DHE_DSS_WITH_AES_256_CBC_SHA DheDss Aes256Cbc HmacSha1 Sha256;
    0x0040 TLS_DHE_DSS_WITH_AES_128_CBC_SHA256 DheDss Aes128Cbc HmacSha256 Sha256;
    0x006a TLS_DHE_DSS_WITH_AES_256_CBC_SHA256 DheDss Aes256Cbc HmacSha256 Sha256;
    0x00a2 TLS_DHE_DSS_WITH_AES_128_GCM_SHA256 DheDss Aes128Gcm Aead Sha256;
    0x00a3 TLS_DHE_DSS_WITH_AES_256_GCM_SHA384 DheDss Aes256Gcm Aead Sha384;

    0x0033 TLS_DHE_RSA_WITH_AES_128_CBC_SHA DheRsa Aes128Cbc HmacSha1 Sha256;
    0x0039 TLS_DHE_RSA_WITH_AES_256_CBC_SHA DheRsa Aes256Cbc HmacSha1 Sha256;
    0x0067 TLS_DHE_RSA_WITH_AES_128_CBC_SHA256 DheRsa Aes128Cbc HmacSha256 Sha256;
    0x006b TLS_DHE_RSA_WITH_AES_256_CBC_SHA256 DheRsa Aes256Cbc HmacSha256 Sha256;
    0x009e TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 DheRsa Aes128Gcm Aead Sha256;
    0x009f TLS_DHE_RSA_WITH_AES_256_GCM_SHA384 DheRsa Aes256Gcm Aead Sha384;
    0xccaa TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256 DheRsa ChaCha20Poly1305 Aead Sha256;

    0xc009 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA EcdheEcdsa Aes128Cbc HmacSha1 Sha256;
    0xc00a TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA EcdheEcdsa Aes256Cbc HmacSha1 Sha256;
    0xc023 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 EcdheEcdsa Aes128Cbc HmacSha256 Sha256;
    0xc024 TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384 EcdheEcdsa Aes256Cbc HmacSha384 Sha384;
    0xc02b TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 EcdheEcdsa Aes128Gcm Aead Sha256;
    0xc02c TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 EcdheEcdsa Aes256Gcm Aead Sha384;
    0xcca9 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 EcdheEcdsa ChaCha20Poly1305 Aead Sha256;

    0xc013 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA EcdheRsa Aes128Cbc HmacSha1 Sha256;
    0xc014 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA EcdheRsa Aes256Cbc HmacSha1 Sha256;
    0xc027 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 EcdheRsa Aes128Cbc HmacSha256 Sha256;
    0xc028 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 EcdheRsa Aes256Cbc HmacSha384 Sha384;
    0xc02f TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 EcdheRsa Aes128Gcm Aead Sha256;
    0xc030 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 EcdheRsa Aes256Gcm Aead Sha384;
    0xcca8 TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 EcdheRsa ChaCha20Poly1305 Aead Sha256;
}

/// The suite with IANA id `id`, if this module can decrypt it.
pub fn suite(id: u16) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.id == id)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::keys::{TLS10, TLS11, TLS12, TLS13};

    #[test]
    fn ids_are_unique_and_names_match_their_parts() {
        for (i, s) in SUITES.iter().enumerate() {
            assert!(SUITES[..i].iter().all(|t| t.id != s.id), "{:#06x}", s.id);
            let cipher = match s.cipher {
                Cipher::Aes128Gcm => "AES_128_GCM",
                Cipher::Aes256Gcm => "AES_256_GCM",
                Cipher::ChaCha20Poly1305 => "CHACHA20_POLY1305",
                Cipher::Aes128Cbc => "AES_128_CBC",
                Cipher::Aes256Cbc => "AES_256_CBC",
            };
            assert!(s.name.contains(cipher), "{}", s.name);
            let tail = match (s.mac, s.hash) {
                (Mac::HmacSha1, _) => "_SHA",
                (_, Hash::Sha256) => "_SHA256",
                (_, Hash::Sha384) => "_SHA384",
            };
            assert!(s.name.ends_with(tail), "{}", s.name);
        }
    }

    #[test]
    fn versions_follow_the_suite_rfcs() {
        let gcm = suite(0xc02f).unwrap();
        assert!(gcm.allowed_at(TLS12) && !gcm.allowed_at(TLS11) && !gcm.allowed_at(TLS13));
        let cbc_sha = suite(0xc013).unwrap();
        assert!(cbc_sha.allowed_at(TLS10) && cbc_sha.allowed_at(TLS12));
        assert!(!cbc_sha.allowed_at(0x0300));
        assert!(suite(0x1301).unwrap().allowed_at(TLS13));
        assert!(!suite(0x1301).unwrap().allowed_at(TLS12));
        assert!(!suite(0x003c).unwrap().allowed_at(TLS11));
    }

    #[test]
    fn unknown_and_unsupported_ids_are_absent() {
        // TLS_AES_128_CCM_SHA256 (no CCM in ring), TLS_RSA_WITH_RC4_128_SHA.
        assert!(suite(0x1304).is_none());
        assert!(suite(0x0005).is_none());
    }
}
