//! The TLS 1.3 key schedule from a traffic secret onwards (RFC 8446 section
//! 7): HKDF-Expand-Label, the record key and IV, and the next generation of
//! an application traffic secret.

use std::fmt;

use ring::hkdf;

use super::{DecryptError, Hash, Secret, Suite};

/// Length of every TLS 1.3 AEAD nonce and IV (RFC 8446 section 5.3).
pub(crate) const IV_LEN: usize = 12;

fn hkdf_algorithm(hash: Hash) -> hkdf::Algorithm {
    match hash {
        Hash::Sha256 => hkdf::HKDF_SHA256,
        Hash::Sha384 => hkdf::HKDF_SHA384,
    }
}

/// An output length for ring's HKDF.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, context, out.len()) into `out` (RFC 8446
/// section 7.1). `label` is given without its "tls13 " prefix.
pub fn hkdf_expand_label(
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), DecryptError> {
    // struct { uint16 length; opaque label<7..255>; opaque context<0..255>; } HkdfLabel;
    const PREFIX: &[u8] = b"tls13 ";
    let length = u16::try_from(out.len()).map_err(|_| DecryptError::LabelTooLong)?;
    let label_len =
        u8::try_from(PREFIX.len() + label.len()).map_err(|_| DecryptError::LabelTooLong)?;
    let context_len = u8::try_from(context.len()).map_err(|_| DecryptError::LabelTooLong)?;
    let length = length.to_be_bytes();
    let info: [&[u8]; 6] = [
        &length,
        &[label_len],
        PREFIX,
        label,
        &[context_len],
        context,
    ];
    let prk = hkdf::Prk::new_less_safe(hkdf_algorithm(hash), secret);
    // ring refuses outputs longer than 255 hash lengths (RFC 5869 section 2.3).
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| DecryptError::LabelTooLong)
}

/// Checks that `secret` has the suite hash's length (RFC 8446 section 7.1:
/// every traffic secret is Hash.length bytes).
fn check_secret(suite: &Suite, secret: &[u8]) -> Result<(), DecryptError> {
    if secret.len() == suite.hash.len() {
        Ok(())
    } else {
        Err(DecryptError::SecretLength {
            expected: suite.hash.len(),
            found: secret.len(),
        })
    }
}

/// application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic
/// upd", "", Hash.length) (RFC 8446 section 7.2).
pub fn next_traffic_secret(suite: &Suite, secret: &[u8]) -> Result<Secret, DecryptError> {
    check_secret(suite, secret)?;
    let mut next = [0u8; Secret::MAX_LEN];
    let next = next
        .get_mut(..suite.hash.len())
        .ok_or(DecryptError::LabelTooLong)?;
    hkdf_expand_label(suite.hash, secret, b"traffic upd", b"", next)?;
    Secret::new(next).ok_or(DecryptError::LabelTooLong)
}

/// The record key and IV derived from one traffic secret. `Debug` shows
/// lengths only.
#[derive(Clone)]
pub struct TrafficKeys {
    key: [u8; 32],
    key_len: usize,
    iv: [u8; IV_LEN],
}

impl TrafficKeys {
    /// key = HKDF-Expand-Label(secret, "key", "", key_length) and
    /// iv = HKDF-Expand-Label(secret, "iv", "", iv_length) (RFC 8446
    /// section 7.3).
    pub fn derive(suite: &Suite, secret: &[u8]) -> Result<TrafficKeys, DecryptError> {
        check_secret(suite, secret)?;
        let key_len = suite.cipher.key_len();
        let mut keys = TrafficKeys {
            key: [0; 32],
            key_len,
            iv: [0; IV_LEN],
        };
        let key = keys
            .key
            .get_mut(..key_len)
            .ok_or(DecryptError::LabelTooLong)?;
        hkdf_expand_label(suite.hash, secret, b"key", b"", key)?;
        hkdf_expand_label(suite.hash, secret, b"iv", b"", &mut keys.iv)?;
        Ok(keys)
    }

    pub fn key(&self) -> &[u8] {
        self.key.get(..self.key_len).unwrap_or_default()
    }

    pub fn iv(&self) -> &[u8; IV_LEN] {
        &self.iv
    }
}

impl fmt::Debug for TrafficKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TrafficKeys(key {} bytes, iv {} bytes)",
            self.key_len, IV_LEN
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::keys::fixtures::{hex, rfc8448};
    use crate::keys::suite;

    #[test]
    fn rfc8448_traffic_keys_of_the_simple_1rtt_handshake() {
        // RFC 8448 section 3: "derive write traffic keys for handshake data"
        // and "... for application data", both sides.
        let aes128 = suite(0x1301).unwrap();
        for (secret, key, iv) in [
            (
                rfc8448::SERVER_HS_SECRET,
                rfc8448::SERVER_HS_KEY,
                rfc8448::SERVER_HS_IV,
            ),
            (
                rfc8448::CLIENT_HS_SECRET,
                rfc8448::CLIENT_HS_KEY,
                rfc8448::CLIENT_HS_IV,
            ),
            (
                rfc8448::SERVER_AP_SECRET,
                rfc8448::SERVER_AP_KEY,
                rfc8448::SERVER_AP_IV,
            ),
            (
                rfc8448::CLIENT_AP_SECRET,
                rfc8448::CLIENT_AP_KEY,
                rfc8448::CLIENT_AP_IV,
            ),
        ] {
            let keys = TrafficKeys::derive(aes128, &hex(secret)).unwrap();
            assert_eq!(keys.key(), hex(key).as_slice());
            assert_eq!(keys.iv().as_slice(), hex(iv).as_slice());
        }
    }

    #[test]
    fn rfc8448_early_traffic_keys_of_the_0rtt_handshake() {
        // RFC 8448 section 4: "derive write traffic keys for early
        // application data" from client_early_traffic_secret.
        use crate::keys::fixtures::rfc8448_0rtt as z;
        let keys =
            TrafficKeys::derive(suite(0x1301).unwrap(), &hex(z::CLIENT_EARLY_SECRET)).unwrap();
        assert_eq!(keys.key(), hex(z::CLIENT_EARLY_KEY).as_slice());
        assert_eq!(keys.iv().as_slice(), hex(z::CLIENT_EARLY_IV).as_slice());
    }

    #[test]
    fn rfc8448_expand_label_with_a_context() {
        // RFC 8448 section 3, {server} derive secret "tls13 c hs traffic":
        // PRK = handshake secret, hash = transcript hash of CH..SH.
        let mut out = [0u8; 32];
        hkdf_expand_label(
            Hash::Sha256,
            &hex(rfc8448::HANDSHAKE_SECRET),
            b"c hs traffic",
            &hex(rfc8448::CH_SH_HASH),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.as_slice(), hex(rfc8448::CLIENT_HS_SECRET).as_slice());
    }

    #[test]
    fn secret_of_the_wrong_length_is_refused() {
        let aes256 = suite(0x1302).unwrap();
        let err = TrafficKeys::derive(aes256, &[1; 32]).unwrap_err();
        assert_eq!(
            err,
            DecryptError::SecretLength {
                expected: 48,
                found: 32
            }
        );
    }

    #[test]
    fn overlong_labels_are_errors_not_panics() {
        let mut out = [0u8; 16];
        let long = [b'a'; 250];
        assert_eq!(
            hkdf_expand_label(Hash::Sha256, &[0; 32], &long, b"", &mut out),
            Err(DecryptError::LabelTooLong)
        );
        assert_eq!(
            hkdf_expand_label(Hash::Sha256, &[0; 32], b"key", &[0; 256], &mut out),
            Err(DecryptError::LabelTooLong)
        );
        let mut huge = vec![0u8; 255 * 32 + 1];
        assert_eq!(
            hkdf_expand_label(Hash::Sha256, &[0; 32], b"key", b"", &mut huge),
            Err(DecryptError::LabelTooLong)
        );
    }

    #[test]
    fn debug_of_traffic_keys_hides_them() {
        let keys = TrafficKeys::derive(suite(0x1301).unwrap(), &[0x5a; 32]).unwrap();
        assert_eq!(
            format!("{keys:?}"),
            "TrafficKeys(key 16 bytes, iv 12 bytes)"
        );
    }
}
