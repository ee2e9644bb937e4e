//! Capture input: pcap and pcapng, plain, gzip or zstd, from a file or stdin,
//! streamed through one bounded buffer as a sequence of [`Frame`]s.
//!
//! The container format is recognised from its magic bytes, never from the
//! file name. pcapng blocks are parsed with pcap-parser's per-block
//! functions, legacy pcap's fixed record headers directly (pcap.rs), over
//! our own buffer, which keeps the read destination page-aligned (a
//! misaligned `read()` destination measured five times slower) and lets a
//! header arrive split across reads (stdin, pipes). A block larger than
//! [`MAX_BLOCK`] is corruption, not a reason to grow without bound.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod ahead;
mod buf;
mod pcap;
mod pcapng;

use crate::Ts;
use buf::Buf;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The largest block or record accepted (pcapng blocks, pcap records).
/// Real link layers stay far below; a larger declared length is corruption.
pub const MAX_BLOCK: usize = 64 << 20;

/// The most key log text from Decryption Secrets Blocks held until the
/// caller takes it ([`Reader::take_secrets`]); more is dropped and counted
/// ([`Reader::secrets_dropped`]). Tools that embed a key log write it in
/// one block before the packets; 64 MiB is over 60 000 TLS 1.3 handshakes.
pub const MAX_SECRETS: usize = 64 << 20;

/// How many times its compressed size a gzip or zstd stream may expand to,
/// once past [`EXPANSION_FLOOR`]. Real captures compress 2 to 100-fold
/// (timestamps, sequence numbers and addresses differ in every packet);
/// past 1000 it is a decompression bomb, whose reading would take minutes
/// per megabyte of input: reading stops there as at damage.
pub const MAX_EXPANSION: u64 = 1000;

/// Decompressed bytes below which [`MAX_EXPANSION`] is not applied: a
/// small capture of identical packets may expand further, and costs
/// little.
pub const EXPANSION_FLOOR: u64 = 1 << 30;

/// A link-layer header type, as numbered by tcpdump.org's LINKTYPE_ values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Linktype(pub u32);

/// One captured packet, borrowed from the reader's buffer.
#[derive(Debug)]
pub struct Frame<'a> {
    /// 1-based packet number in its capture, as Wireshark numbers frames.
    pub index: u64,
    pub ts: Ts,
    pub linktype: Linktype,
    /// The captured bytes (at most the snapshot length).
    pub data: &'a [u8],
    /// The packet's length on the wire.
    pub orig_len: u32,
}

/// What [`Reader::next_item`] yields.
#[derive(Debug)]
pub enum Item<'a> {
    Frame(Frame<'a>),
    /// A Decryption Secrets Block was read: its secrets wait to be taken.
    Secrets,
}

/// The container format, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pcap,
    Pcapng,
}

/// The compression around the container, detected by magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Why reading stopped early. Results up to this point stay valid.
#[derive(Debug)]
pub enum Error {
    /// The first bytes are no pcap or pcapng magic.
    NotACapture,
    /// An operating-system read error (or a corrupt compressed stream).
    Io(io::Error),
    /// The file ended inside a header, record or block that began at `offset`.
    Truncated { offset: u64 },
    /// The bytes at `offset` (of the decompressed stream) are not a valid
    /// record or block.
    Corrupt { offset: u64, what: &'static str },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotACapture => write!(
                f,
                "not a pcap or pcapng capture (no known magic number in its first bytes)"
            ),
            Error::Io(e) => write!(f, "read error: {e}"),
            Error::Truncated { offset } => write!(
                f,
                "capture is truncated: the record at byte offset {offset} is cut short"
            ),
            Error::Corrupt { offset, what } => {
                write!(f, "capture is corrupt at byte offset {offset}: {what}")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// Container state: which parser reads the next record.
enum Container {
    Pcap(pcap::State),
    Pcapng(pcapng::State),
}

/// What one parse step found at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// A packet whose bytes are at `buf[off..off + len]`.
    Frame {
        consumed: usize,
        ts: Ts,
        linktype: Linktype,
        off: usize,
        len: usize,
        orig_len: u32,
    },
    /// A block that carried no packet (already applied to the state).
    Skip { consumed: usize },
    /// The buffer holds only part of the next record; at least `need` bytes
    /// in total are required to go on.
    NeedMore { need: usize },
}

/// Streams frames out of one capture.
pub struct Reader {
    src: Box<dyn Read + Send>,
    buf: Buf,
    eof: bool,
    /// Offset in the (decompressed) stream of the buffer's first valid byte.
    offset: u64,
    container: Container,
    format: Format,
    compression: Compression,
    packets: u64,
    /// Decryption secrets found in pcapng Decryption Secrets Blocks, as
    /// NSS key log text; taken by the caller with [`Reader::take_secrets`].
    secrets: Secrets,
    /// Compressed bytes read so far (gzip and zstd only).
    packed: Arc<AtomicU64>,
    /// The expansion past which a compressed stream is refused:
    /// (floor, ratio), [`EXPANSION_FLOOR`] and [`MAX_EXPANSION`].
    expansion: (u64, u64),
}

impl Reader {
    /// Opens `path`, or stdin when `path` is `-`.
    pub fn open(path: &Path) -> Result<Reader, Error> {
        let src: Box<dyn Read + Send> = if path.as_os_str() == "-" {
            Box::new(io::stdin())
        } else {
            Box::new(File::open(path)?)
        };
        Reader::new(src)
    }

    /// Detects compression and container format from the first bytes of `src`.
    pub fn new(src: Box<dyn Read + Send>) -> Result<Reader, Error> {
        Reader::start(src, false)
    }

    /// [`Reader::new`], the capture read and decompressed ahead on a
    /// thread of its own (`ahead::ReadAhead`) when one can be started.
    pub fn ahead(src: Box<dyn Read + Send>) -> Result<Reader, Error> {
        Reader::start(src, true)
    }

    fn start(src: Box<dyn Read + Send>, ahead: bool) -> Result<Reader, Error> {
        let mut src = src;
        let mut head = [0u8; 4];
        let n = read_up_to(&mut src, &mut head)?;
        let head = head.get(..n).unwrap_or_default();
        let packed = Arc::new(AtomicU64::new(0));
        let counted = Counted {
            inner: src,
            n: Arc::clone(&packed),
        };
        let rest = io::Cursor::new(head.to_vec()).chain(counted);
        let (compression, src): (Compression, Box<dyn Read + Send>) = match head {
            [0x1f, 0x8b, ..] => (
                Compression::Gzip,
                Box::new(flate2::read::MultiGzDecoder::new(rest)),
            ),
            [0x28, 0xb5, 0x2f, 0xfd] => (Compression::Zstd, Box::new(zstd::Decoder::new(rest)?)),
            _ => (Compression::None, Box::new(rest)),
        };
        let src = if ahead {
            ahead::ReadAhead::new(src).map_or_else(|src| src, |r| Box::new(r) as _)
        } else {
            src
        };
        let mut reader = Reader {
            src,
            buf: Buf::new(),
            eof: false,
            offset: 0,
            container: Container::Pcap(pcap::State::default()),
            format: Format::Pcap,
            compression,
            packets: 0,
            secrets: Secrets::default(),
            packed,
            expansion: (EXPANSION_FLOOR, MAX_EXPANSION),
        };
        reader.read_file_header()?;
        Ok(reader)
    }

    /// Refuses a compressed stream past `ratio` times its compressed size
    /// once `floor` bytes have come out of it (tests lower them).
    #[cfg(test)]
    fn with_expansion(mut self, floor: u64, ratio: u64) -> Reader {
        self.expansion = (floor, ratio);
        self
    }

    fn read_file_header(&mut self) -> Result<(), Error> {
        while self.buf.len() < 4 && !self.eof {
            self.fill()?;
        }
        let magic = self.buf.data().get(..4).unwrap_or_default();
        if pcapng::is_magic(magic) {
            self.format = Format::Pcapng;
            self.container = Container::Pcapng(pcapng::State::default());
            Ok(())
        } else if pcap::is_magic(magic) {
            loop {
                match pcap::State::parse_header(self.buf.data()) {
                    Ok(Some((state, consumed))) => {
                        self.consume(consumed);
                        self.container = Container::Pcap(state);
                        return Ok(());
                    }
                    Ok(None) if !self.eof => self.fill()?,
                    Ok(None) => return Err(Error::Truncated { offset: 0 }),
                    Err(what) => return Err(Error::Corrupt { offset: 0, what }),
                }
            }
        } else {
            Err(Error::NotACapture)
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Bytes of the (decompressed) capture consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether Decryption Secrets Blocks were read since the last take.
    pub fn has_secrets(&self) -> bool {
        !self.secrets.text.is_empty()
    }

    /// Secrets gathered from Decryption Secrets Blocks since the last call.
    pub fn take_secrets(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.secrets.text)
    }

    /// Bytes of key log text dropped because [`MAX_SECRETS`] were already
    /// waiting to be taken.
    pub fn secrets_dropped(&self) -> u64 {
        self.secrets.dropped
    }

    /// The next packet, `Ok(None)` at a clean end of the capture.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, Error> {
        match self.next_item_or_secrets(false)? {
            Some(Item::Frame(f)) => Ok(Some(f)),
            Some(Item::Secrets) | None => Ok(None),
        }
    }

    /// The next packet, or [`Item::Secrets`] right after a Decryption
    /// Secrets Block, so that its secrets ([`Reader::take_secrets`]) are
    /// known before the packet that follows it; `Ok(None)` at a clean end.
    pub fn next_item(&mut self) -> Result<Option<Item<'_>>, Error> {
        self.next_item_or_secrets(true)
    }

    fn next_item_or_secrets(&mut self, stop_at_secrets: bool) -> Result<Option<Item<'_>>, Error> {
        loop {
            let secrets_before = self.secrets.text.len();
            let step = match &mut self.container {
                Container::Pcap(state) => state.step(self.buf.data()),
                Container::Pcapng(state) => state.step(self.buf.data(), &mut self.secrets),
            };
            let step = step.map_err(|what| Error::Corrupt {
                offset: self.offset,
                what,
            })?;
            match step {
                Step::Frame {
                    consumed,
                    ts,
                    linktype,
                    off,
                    len,
                    orig_len,
                } => {
                    let start = self.buf.start();
                    self.consume(consumed);
                    self.packets += 1;
                    let data = self.buf.raw(start + off, len).ok_or(Error::Corrupt {
                        offset: self.offset,
                        what: "packet data outside its record",
                    })?;
                    return Ok(Some(Item::Frame(Frame {
                        index: self.packets,
                        ts,
                        linktype,
                        data,
                        orig_len,
                    })));
                }
                Step::Skip { consumed } => {
                    self.consume(consumed);
                    if stop_at_secrets && self.secrets.text.len() > secrets_before {
                        return Ok(Some(Item::Secrets));
                    }
                }
                Step::NeedMore { need } => {
                    if self.buf.is_empty() && self.eof {
                        return Ok(None);
                    }
                    if self.eof {
                        return Err(Error::Truncated {
                            offset: self.offset,
                        });
                    }
                    if need > MAX_BLOCK {
                        return Err(Error::Corrupt {
                            offset: self.offset,
                            what: "a record declares a length over 64 MiB",
                        });
                    }
                    self.buf.reserve(need);
                    self.fill()?;
                }
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.buf.consume(n);
        self.offset += n as u64;
    }

    fn fill(&mut self) -> Result<(), Error> {
        if self.compression != Compression::None {
            let out = self.offset + self.buf.len() as u64;
            let (floor, ratio) = self.expansion;
            let packed = self.packed.load(Ordering::Relaxed).max(1);
            if out > floor && out / packed >= ratio {
                return Err(Error::Corrupt {
                    offset: out,
                    what: "the compressed stream expands over 1000-fold, as a decompression bomb does; reading stopped",
                });
            }
        }
        let n = match self.buf.fill_from(&mut self.src) {
            Ok(n) => n,
            // A cut or damaged gzip or zstd stream: the capture is damaged
            // there, like a cut file, not unreadable.
            Err(e) if self.compression != Compression::None => {
                return Err(Error::Corrupt {
                    offset: self.offset + self.buf.len() as u64,
                    what: match e.kind() {
                        io::ErrorKind::UnexpectedEof => "the compressed stream is cut short",
                        _ => "the compressed stream is damaged",
                    },
                });
            }
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            self.eof = true;
        }
        Ok(())
    }
}

/// Key log text gathered from Decryption Secrets Blocks, at most a cap.
#[derive(Debug, Default)]
struct Secrets {
    text: Vec<u8>,
    dropped: u64,
}

impl Secrets {
    /// Appends one block's text and a line end, unless that would take
    /// the text past `cap`: then the block is dropped whole and counted.
    fn add(&mut self, block: &[u8], cap: usize) {
        if self.text.len().saturating_add(block.len()) >= cap {
            self.dropped += block.len() as u64;
            return;
        }
        self.text.extend_from_slice(block);
        self.text.push(b'\n');
    }
}

/// A source that counts the bytes read from it.
struct Counted {
    inner: Box<dyn Read + Send>,
    n: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(out)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

/// Reads until `out` is full or the source ends; returns the bytes read.
fn read_up_to(src: &mut dyn Read, out: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while let Some(rest) = out.get_mut(n..) {
        if rest.is_empty() {
            break;
        }
        match src.read(rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Nanoseconds for `ticks` at `units_per_sec`, saturating.
fn ticks_to_ns(ticks: u64, units_per_sec: u64) -> i64 {
    if units_per_sec == 0 {
        return 0;
    }
    // The usual resolutions, without a 128-bit division.
    let exact = match units_per_sec {
        1_000_000_000 => Some(ticks),
        1_000_000 => ticks.checked_mul(1000),
        _ => None,
    };
    if let Some(ns) = exact {
        return i64::try_from(ns).unwrap_or(i64::MAX);
    }
    let ns = u128::from(ticks) * 1_000_000_000 / u128::from(units_per_sec);
    i64::try_from(ns).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
