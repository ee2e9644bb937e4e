//! A secret of at most 48 bytes, stored inline, whose `Debug` shows its
//! length and never its bytes.

use std::fmt;

/// Secret bytes: a TLS 1.2 master secret or a TLS 1.3 traffic secret.
///
/// 48 bytes is the longest secret TLS defines (the master secret, RFC 5246
/// section 8.1, and SHA-384 traffic secrets, RFC 8446 section 7.1). There is
/// deliberately no `Display`, and `Debug` prints only the length.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    len: u8,
    bytes: [u8; Secret::MAX_LEN],
}

impl Secret {
    /// The longest secret accepted.
    pub const MAX_LEN: usize = 48;

    /// Copies `bytes`, or None if they are empty or longer than
    /// [`Secret::MAX_LEN`].
    pub fn new(bytes: &[u8]) -> Option<Secret> {
        if bytes.is_empty() {
            return None;
        }
        let len = u8::try_from(bytes.len()).ok()?;
        let mut out = [0u8; Secret::MAX_LEN];
        out.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(Secret { len, bytes: out })
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: an empty secret cannot be built.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The 48 bytes of a master secret, or None if this secret has another
    /// length.
    pub fn as_master_secret(&self) -> Option<&[u8; 48]> {
        if self.len() == 48 {
            Some(&self.bytes)
        } else {
            None
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.len)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn debug_shows_the_length_only() {
        let s = Secret::new(&[0xab; 32]).unwrap();
        let shown = format!("{s:?} {s:#?}");
        assert_eq!(format!("{s:?}"), "Secret(32 bytes)");
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
        assert!(!shown.contains("171"), "{shown}");
    }

    #[test]
    fn lengths_outside_1_to_48_are_refused() {
        assert!(Secret::new(&[]).is_none());
        assert!(Secret::new(&[1; 49]).is_none());
        assert_eq!(Secret::new(&[7; 48]).unwrap().as_bytes(), &[7; 48]);
        assert!(Secret::new(&[7; 32]).unwrap().as_master_secret().is_none());
        assert_eq!(
            Secret::new(&[7; 48]).unwrap().as_master_secret(),
            Some(&[7; 48])
        );
    }
}
