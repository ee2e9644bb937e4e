//! TCP sequence numbers: 32-bit, compared modulo 2^32 (RFC 9293 section 3.4).

use std::fmt;

/// A TCP sequence number. Never compare the inner `u32`s with `<`:
/// use [`Seq::diff`], which is correct across wrap-around.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Seq(pub u32);

impl Seq {
    /// `self - earlier` as a signed distance, valid while the two are less
    /// than 2^31 apart (RFC 1982 serial number arithmetic).
    pub fn diff(self, earlier: Seq) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }

    pub fn wrapping_add(self, n: u32) -> Seq {
        Seq(self.0.wrapping_add(n))
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_across_wrap_around() {
        assert_eq!(Seq(5).diff(Seq(u32::MAX - 4)), 10);
        assert_eq!(Seq(u32::MAX - 4).diff(Seq(5)), -10);
        assert_eq!(Seq(100).diff(Seq(100)), 0);
        assert_eq!(Seq(u32::MAX).wrapping_add(2), Seq(1));
    }
}
