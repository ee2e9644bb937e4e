//! A capture read, and decompressed, ahead of its parsing on a thread of
//! its own.
//!
//! Reading a file copies it from the page cache into the process: on the
//! short-connection benchmark that kernel copy was a tenth of the reading
//! thread's time, and a gzip or zstd stream's decompression far more.
//! [`ReadAhead`] moves both to a thread that fills page-aligned chunks and
//! hands them over in order, at most [`DEPTH`] ahead (so a decompression
//! bomb still expands no further than the reader's own check allows). What
//! the reading thread then copies out of a chunk is a copy within memory.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

/// Bytes of one chunk.
const CHUNK: usize = 1 << 20;

/// Chunks read ahead and not yet taken, at most.
const DEPTH: usize = 2;

/// Bytes read from the source, page-aligned: `mem[from..to]` are still to
/// be taken; reads start at `base`, a page boundary.
struct Chunk {
    mem: Vec<u8>,
    base: usize,
    from: usize,
    to: usize,
}

impl Chunk {
    fn new() -> Chunk {
        let (mem, base) = super::buf::aligned(CHUNK);
        Chunk {
            mem,
            base,
            from: base,
            to: base,
        }
    }

    /// Emptied, for the next read.
    fn reset(&mut self) {
        (self.from, self.to) = (self.base, self.base);
    }
}

/// What the reading thread hands over: bytes, the end, or the error that
/// ended the source.
enum Piece {
    Bytes(Chunk),
    End,
    Failed(io::Error),
}

/// A source read on a thread of its own (module documentation).
pub struct ReadAhead {
    /// None once dropped: the thread's next hand-over then fails.
    pieces: Option<Receiver<Piece>>,
    /// Chunks taken, back to the thread to be filled again.
    spares: SyncSender<Chunk>,
    current: Option<Chunk>,
    ended: bool,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How long a dropped reader waits for its thread to end, in
/// milliseconds: the thread is at most one read of a chunk from noticing.
/// A pipe that sends nothing more keeps it reading; it is then left to end
/// with the process.
const JOIN_WAIT_MS: u32 = 200;

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.pieces = None;
        if let Some(thread) = self.thread.take() {
            for _ in 0..JOIN_WAIT_MS {
                if thread.is_finished() {
                    let _ = thread.join();
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
}

impl ReadAhead {
    /// Reads `src` ahead on a new thread; if no thread can be started,
    /// gives `src` back.
    pub fn new(src: Box<dyn Read + Send>) -> Result<ReadAhead, Box<dyn Read + Send>> {
        let (hand, pieces) = sync_channel(DEPTH);
        let (spares, spare) = sync_channel(DEPTH + 2);
        // The thread takes the source from here; if it never starts, the
        // source is taken back.
        let slot = Arc::new(Mutex::new(Some(src)));
        let theirs = Arc::clone(&slot);
        let started = std::thread::Builder::new()
            .name("connreuse-read".into())
            .spawn(move || {
                let src = theirs.lock().unwrap_or_else(PoisonError::into_inner).take();
                if let Some(mut src) = src {
                    fill(&mut *src, &hand, &spare);
                }
            });
        match started {
            Ok(thread) => Ok(ReadAhead {
                pieces: Some(pieces),
                spares,
                current: None,
                ended: false,
                thread: Some(thread),
            }),
            Err(_) => match slot.lock().unwrap_or_else(PoisonError::into_inner).take() {
                Some(src) => Err(src),
                None => Err(Box::new(io::empty())),
            },
        }
    }
}

/// The reading thread: fills chunks from `src` and hands them over until
/// the source ends or fails, or nobody takes them any more.
fn fill(src: &mut dyn Read, hand: &SyncSender<Piece>, spare: &Receiver<Chunk>) {
    loop {
        let mut chunk = match spare.try_recv() {
            Ok(chunk) => chunk,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Chunk::new(),
        };
        chunk.reset();
        let (n, error) = read_chunk(src, &mut chunk);
        // What came before an error is handed over first.
        if n > 0 && hand.send(Piece::Bytes(chunk)).is_err() {
            return;
        }
        match error {
            Some(e) => {
                let _ = hand.send(Piece::Failed(e));
                return;
            }
            None if n == 0 => {
                let _ = hand.send(Piece::End);
                return;
            }
            None => {}
        }
    }
}

/// Fills `chunk` as far as `src` goes: the bytes read, and the error that
/// stopped it if one did.
fn read_chunk(src: &mut dyn Read, chunk: &mut Chunk) -> (usize, Option<io::Error>) {
    let start = chunk.to;
    let end = start + CHUNK;
    let mut error = None;
    while chunk.to < end {
        let Some(dst) = chunk.mem.get_mut(chunk.to..end) else {
            break;
        };
        match src.read(dst) {
            Ok(0) => break,
            Ok(n) => chunk.to += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    (chunk.to - start, error)
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(chunk) = &mut self.current {
                let left = chunk.mem.get(chunk.from..chunk.to).unwrap_or_default();
                if !left.is_empty() {
                    let n = left.len().min(out.len());
                    if let (Some(dst), Some(src)) = (out.get_mut(..n), left.get(..n)) {
                        dst.copy_from_slice(src);
                    }
                    chunk.from += n;
                    return Ok(n);
                }
                if let Some(used) = self.current.take() {
                    // The thread may be gone, or have spares enough.
                    let _ = self.spares.try_send(used);
                }
            }
            let Some(pieces) = self.pieces.as_ref().filter(|_| !self.ended) else {
                return Ok(0);
            };
            match pieces.recv() {
                Ok(Piece::Bytes(chunk)) => self.current = Some(chunk),
                Ok(Piece::End) => self.ended = true,
                Ok(Piece::Failed(e)) => {
                    self.ended = true;
                    return Err(e);
                }
                Err(_) => {
                    self.ended = true;
                    return Err(io::Error::other("the thread reading the capture stopped"));
                }
            }
        }
    }
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
    use proptest::prelude::*;

    /// A source that hands out at most `step` bytes a call, then fails
    /// after `fail_after` bytes if asked to.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        step: usize,
        fail_after: Option<usize>,
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.fail_after.is_some_and(|f| self.pos >= f) {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "bad"));
            }
            let end = (self.pos + self.step.min(out.len())).min(self.data.len());
            let end = self.fail_after.map_or(end, |f| end.min(f));
            let n = end - self.pos;
            out[..n].copy_from_slice(&self.data[self.pos..end]);
            self.pos = end;
            Ok(n)
        }
    }

    fn read_all(r: &mut dyn Read, step: usize) -> (Vec<u8>, Option<io::ErrorKind>) {
        let mut got = Vec::new();
        let mut buf = vec![0u8; step];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (got, None),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => return (got, Some(e.kind())),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever the sizes of the source's reads and of the reader's,
        /// the bytes come out as they went in, over several chunks, and an
        /// error comes after every byte read before it.
        #[test]
        fn bytes_come_out_in_order_then_the_error(
            len in 0usize..3 * CHUNK + 10,
            step in 1usize..200_000,
            take in 1usize..300_000,
            fail in any::<bool>(),
        ) {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
            let fail_after = fail.then_some(len / 2);
            let src = Trickle { data: data.clone(), pos: 0, step, fail_after };
            let Ok(mut ahead) = ReadAhead::new(Box::new(src)) else {
                panic!("no thread");
            };
            let (got, error) = read_all(&mut ahead, take);
            match fail_after {
                Some(f) => {
                    prop_assert_eq!(&got[..], &data[..f]);
                    prop_assert_eq!(error, Some(io::ErrorKind::InvalidData));
                }
                None => {
                    prop_assert_eq!(&got[..], &data[..]);
                    prop_assert_eq!(error, None);
                }
            }
            // Read past the end: still the end.
            prop_assert_eq!(ahead.read(&mut [0u8; 16]).ok(), Some(0));
        }
    }

    /// A source that never ends and says when it is dropped.
    struct Endless(Arc<std::sync::atomic::AtomicBool>);

    impl Read for Endless {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            out.fill(7);
            Ok(out.len())
        }
    }

    impl Drop for Endless {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Dropped before the end, the reader ends its thread: the thread's
    /// next hand-over fails, it returns and drops the source, and the
    /// reader waits for that.
    #[test]
    fn a_reader_dropped_early_stops_its_thread() {
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ahead = ReadAhead::new(Box::new(Endless(Arc::clone(&dropped)))).ok();
        let mut ahead = ahead.expect("a thread");
        let mut buf = [0u8; 10];
        assert_eq!(ahead.read(&mut buf).ok(), Some(10));
        assert_eq!(buf, [7; 10]);
        drop(ahead);
        // The thread may be filling a chunk: give it up to a minute.
        for _ in 0..6000 {
            if dropped.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the reading thread still holds its source");
    }
}
