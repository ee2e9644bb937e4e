//! A read buffer whose `read()` destination is always page-aligned.
//!
//! Valid bytes live at `mem[base + start .. base + end]`. Before a read, the
//! unconsumed tail is moved so that it ends exactly on a page boundary, and
//! the kernel copies the new bytes to an aligned address.

use std::io::{self, Read};

const PAGE: usize = 4096;
/// The usual size of one read.
const CHUNK: usize = 1 << 20;

/// Zeroed memory with room for `len` bytes from a page boundary: the
/// memory and the offset of that boundary in it.
pub(super) fn aligned(len: usize) -> (Vec<u8>, usize) {
    let mem = vec![0u8; len + PAGE];
    let base = mem.as_ptr().align_offset(PAGE).min(PAGE);
    (mem, base)
}

pub struct Buf {
    mem: Vec<u8>,
    /// Offset of the first page-aligned byte of `mem`.
    base: usize,
    /// Usable bytes from `base`.
    cap: usize,
    start: usize,
    end: usize,
}

impl Buf {
    pub fn new() -> Buf {
        let mut buf = Buf {
            mem: Vec::new(),
            base: 0,
            cap: 0,
            start: 0,
            end: 0,
        };
        buf.realloc(2 * CHUNK);
        buf
    }

    fn realloc(&mut self, cap: usize) {
        let (mut mem, base) = aligned(cap);
        let live = self.end - self.start;
        if let (Some(dst), Some(src)) = (
            mem.get_mut(base..base + live),
            self.mem.get(self.base + self.start..self.base + self.end),
        ) {
            dst.copy_from_slice(src);
        }
        self.mem = mem;
        self.base = base;
        self.cap = cap;
        self.start = 0;
        self.end = live;
    }

    pub fn data(&self) -> &[u8] {
        self.mem
            .get(self.base + self.start..self.base + self.end)
            .unwrap_or_default()
    }

    /// `len` bytes at `at`, counted like [`Buf::start`]; they stay readable
    /// until the next [`Buf::fill_from`] or [`Buf::reserve`].
    pub fn raw(&self, at: usize, len: usize) -> Option<&[u8]> {
        let from = self.base.checked_add(at)?;
        self.mem.get(from..from.checked_add(len)?)
    }

    pub fn start(&self) -> usize {
        self.start
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    /// Makes room for a record of `need` bytes at the front of the buffer.
    pub fn reserve(&mut self, need: usize) {
        let want = need.next_multiple_of(PAGE) + CHUNK;
        if want > self.cap {
            self.realloc(want.max(self.cap * 2));
        }
    }

    /// One `read()` into the free space; returns the bytes read (0 at end).
    pub fn fill_from(&mut self, src: &mut dyn Read) -> io::Result<usize> {
        let live = self.end - self.start;
        // Place the live tail so that it ends on a page boundary.
        let new_start = live.next_multiple_of(PAGE) - live;
        if new_start != self.start || self.cap - self.end < CHUNK.min(self.cap / 2) {
            let from = self.base + self.start;
            self.mem
                .copy_within(from..from + live, self.base + new_start);
            self.start = new_start;
            self.end = new_start + live;
        }
        loop {
            let dst = self
                .mem
                .get_mut(self.base + self.end..self.base + self.cap)
                .unwrap_or_default();
            if dst.is_empty() {
                return Err(io::Error::other("capture buffer full"));
            }
            match src.read(dst) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
