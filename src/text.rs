//! Short text built on the stack: a connection's address or fingerprint
//! written without allocating.

/// Up to `N` bytes of text, pushed a piece at a time; a piece that would
/// pass `N` is dropped (each caller sizes `N` for the longest text it
/// writes).
pub struct StackText<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackText<N> {
    pub fn new() -> Self {
        StackText {
            buf: [0; N],
            len: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
            self.len = end;
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// The text, empty if what was pushed is not UTF-8 (callers push
    /// ASCII).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl<const N: usize> Default for StackText<N> {
    fn default() -> Self {
        Self::new()
    }
}
