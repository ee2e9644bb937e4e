//! JA3 and JA4 client fingerprints computed from the fields of one ClientHello, exactly as their published definitions state, with no heap allocation besides the returned strings.
//!
//! The fingerprint texts that get hashed are never built as strings: their
//! decimal and hex digits are written, a token of at most 8 bytes at a time,
//! into a stack buffer that is handed to MD5 or SHA-256 each time it fills.
//! Lists that JA4 sorts are copied to the stack (the heap only past
//! [`STACK_LIST`] values). No `core::fmt` on this path. Each thread
//! remembers its last few results by their exact inputs ([`Memo`]), so a
//! client seen again costs a comparison instead of MD5 and SHA-256.

use super::is_grease;
use crate::text::StackText;
use md5::Md5;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::sync::Arc;

/// The ClientHello fields both fingerprints read, in wire order, GREASE
/// values included (each fingerprint drops them itself).
#[derive(Clone, Copy, Debug, Default)]
pub struct HelloFields<'a> {
    /// ClientHello.legacy_version (the handshake field, not the record's).
    pub legacy_version: u16,
    pub ciphers: &'a [u16],
    /// Extension types in the order they appear.
    pub extensions: &'a [u16],
    /// supported_groups (formerly elliptic_curves), extension 10.
    pub groups: &'a [u16],
    /// ec_point_formats, extension 11.
    pub point_formats: &'a [u8],
    /// supported_versions, extension 43.
    pub supported_versions: &'a [u16],
    /// signature_algorithms, extension 13, in order.
    pub sig_algs: &'a [u16],
    /// First protocol name of the ALPN extension, if any.
    pub first_alpn: Option<&'a [u8]>,
}

/// Values a [`SmallU16`] keeps on the stack: more than the cipher suites
/// (curl offers 67, browsers under 20) or extensions of real clients.
pub(crate) const STACK_LIST: usize = 128;

/// A list of up to `N` values on the stack, spilling to the heap beyond:
/// real hellos never allocate here, a hostile one still keeps every value
/// (bounded by the hello's own size).
pub(crate) struct SmallU16<const N: usize> {
    stack: [u16; N],
    len: usize,
    /// Every value once more than `N` arrived; empty until then.
    heap: Vec<u16>,
}

impl<const N: usize> SmallU16<N> {
    pub(crate) fn new() -> Self {
        SmallU16 {
            stack: [0; N],
            len: 0,
            heap: Vec::new(),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, v: u16) {
        if self.heap.is_empty()
            && let Some(slot) = self.stack.get_mut(self.len)
        {
            *slot = v;
            self.len += 1;
        } else {
            self.push_on_heap(v);
        }
    }

    /// Past `N` values: every value on the heap.
    #[cold]
    fn push_on_heap(&mut self, v: u16) {
        if self.heap.is_empty() {
            self.heap.reserve(2 * N + 1);
            self.heap.extend_from_slice(&self.stack);
        }
        self.heap.push(v);
    }

    pub(crate) fn as_slice(&self) -> &[u16] {
        if self.heap.is_empty() {
            self.stack.get(..self.len).unwrap_or_default()
        } else {
            &self.heap
        }
    }

    fn as_mut_slice(&mut self) -> &mut [u16] {
        if self.heap.is_empty() {
            self.stack.get_mut(..self.len).unwrap_or_default()
        } else {
            &mut self.heap
        }
    }
}

/// Where fingerprint text goes: a digest, or bytes for [`ja3_string`].
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A digest fed the text as it is produced.
struct Hashing<D>(D);

impl<D: Digest> Sink for Hashing<D> {
    fn put(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Bytes of text held before they go to the sink: several 64-byte digest
/// blocks per update.
const TEXT_BUF: usize = 256;

/// Text written in tokens of at most 8 bytes, each stored with one 8-byte
/// copy; the buffer goes to the sink whenever fewer than 8 bytes are free.
struct Text<S> {
    buf: [u8; TEXT_BUF],
    len: usize,
    sink: S,
}

impl<S: Sink> Text<S> {
    fn new(sink: S) -> Self {
        Text {
            buf: [0; TEXT_BUF],
            len: 0,
            sink,
        }
    }

    fn flush(&mut self) {
        self.sink.put(self.buf.get(..self.len).unwrap_or_default());
        self.len = 0;
    }

    /// Append the `n` (at most 8) low-order bytes of `token`, lowest first.
    #[inline]
    fn token(&mut self, token: u64, n: usize) {
        if self.len + 8 > TEXT_BUF {
            self.flush();
        }
        if let Some(dst) = self.buf.get_mut(self.len..self.len + 8) {
            dst.copy_from_slice(&token.to_le_bytes());
            self.len += n.min(8);
        }
    }

    fn byte(&mut self, b: u8) {
        self.token(u64::from(b), 1);
    }

    /// `values` written with `digits`, joined by `sep`; nothing when empty.
    #[inline]
    fn join(
        &mut self,
        values: impl Iterator<Item = u16>,
        sep: u8,
        digits: impl Fn(u16) -> (u64, usize),
    ) {
        let (mut prefix, mut prefix_len) = (0u64, 0usize);
        for v in values {
            let (d, n) = digits(v);
            self.token(prefix | (d << (8 * prefix_len)), prefix_len + n);
            (prefix, prefix_len) = (u64::from(sep), 1);
        }
    }

    fn finish(mut self) -> S {
        self.flush();
        self.sink
    }
}

/// `v` in decimal without leading zeros, as a token: (digits, count).
///
/// The five digits are computed two lanes at a time in one `u64` (16 bits
/// per lane): `(x * 103) >> 10` is `x / 10` for every `x < 179`.
#[inline]
fn decimal(v: u16) -> (u64, usize) {
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let v = u32::from(v);
    let top = v / 10000; // 0..=6
    let rest = v - top * 10000;
    let hi = rest / 100;
    let pair = u64::from(hi) | (u64::from(rest - hi * 100) << 16);
    let tens = ((pair * 103) >> 10) & 0x000f_000f;
    let ones = pair - tens * 10;
    // Most significant digit in the lowest byte.
    let digits = u64::from(top) | (tens << 8) | (ones << 16);
    // Leading zero digits are the lowest zero bytes; "0" keeps one digit.
    let zeros = (digits.trailing_zeros() / 8).min(4) as usize;
    let n = 5 - zeros;
    ((digits >> (8 * zeros)) | (ZEROS & ((1 << (8 * n)) - 1)), n)
}

/// Lower-case hex digit of the low nibble of `n`.
#[inline]
fn hex_digit(n: u8) -> u8 {
    let n = n & 0x0f;
    if n < 10 { b'0' + n } else { b'a' - 10 + n }
}

/// `v` as four lower-case hex digits, as a token.
#[inline]
fn hex4(v: u16) -> (u64, usize) {
    let v = u64::from(v);
    // One nibble per byte, the most significant in the lowest byte.
    let nibbles =
        ((v >> 12) & 0xf) | (((v >> 8) & 0xf) << 8) | (((v >> 4) & 0xf) << 16) | ((v & 0xf) << 24);
    // Bytes of 10 and more get bit 4 once 6 is added: they take 'a' - '0' - 10 more.
    let letters = ((nibbles + 0x0606_0606) >> 4) & 0x0101_0101;
    (
        nibbles + 0x3030_3030 + letters * (u64::from(b'a' - b'0') - 10),
        4,
    )
}

/// Any GREASE value in `values`? Written as a reduction without early exit
/// so that it compiles to vector code.
fn has_grease(values: &[u16]) -> bool {
    values.iter().fold(false, |any, v| any | is_grease(*v))
}

fn not_grease(v: &u16) -> bool {
    !is_grease(*v)
}

/// The JA3 string (Salesforce JA3 README, "How it works"):
/// `SSLVersion,Cipher,SSLExtension,EllipticCurve,EllipticCurvePointFormat`,
/// decimal values joined by "-", GREASE values ignored completely.
fn write_ja3<S: Sink>(f: &HelloFields<'_>, mut t: Text<S>) -> S {
    let (v, n) = decimal(f.legacy_version);
    t.token(v, n);
    t.byte(b',');
    t.join(f.ciphers.iter().copied().filter(not_grease), b'-', decimal);
    t.byte(b',');
    t.join(
        f.extensions.iter().copied().filter(not_grease),
        b'-',
        decimal,
    );
    t.byte(b',');
    t.join(f.groups.iter().copied().filter(not_grease), b'-', decimal);
    t.byte(b',');
    t.join(f.point_formats.iter().map(|p| u16::from(*p)), b'-', decimal);
    t.finish()
}

/// The JA3 string (Salesforce JA3 README, "How it works"):
/// `SSLVersion,Cipher,SSLExtension,EllipticCurve,EllipticCurvePointFormat`,
/// decimal values joined by "-", GREASE values ignored completely.
pub fn ja3_string(f: &HelloFields<'_>) -> String {
    let bytes = write_ja3(f, Text::new(Vec::with_capacity(TEXT_BUF)));
    // Only ASCII digits and separators were written.
    String::from_utf8(bytes).unwrap_or_default()
}

/// JA3: the MD5 of [`ja3_string`], lower-case hex; the string itself is
/// hashed as it is written, never stored, and not even written when this
/// thread fingerprinted the same fields recently (see [`Memo`]).
pub fn ja3(f: &HelloFields<'_>) -> Arc<str> {
    let hex = memoized(
        Memos::ja3,
        |key| {
            key.push(f.legacy_version);
            key.push_list(f.ciphers);
            key.push_list(f.extensions);
            key.push_list(f.groups);
            // Point formats are bytes: never GREASE, and apart from the
            // lists above by their count.
            key.push(u16::try_from(f.point_formats.len()).unwrap_or(u16::MAX));
            for p in f.point_formats {
                key.push(u16::from(*p));
            }
        },
        || {
            let Hashing(md5) = write_ja3(f, Text::new(Hashing(Md5::new())));
            hex_array(&md5.finalize())
        },
    );
    ascii(&hex)
}

/// Lower-case hex of `bytes`, which must be `N / 2` long.
fn hex_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&[hex_digit(b >> 4), hex_digit(*b)]);
    }
    out
}

/// The fingerprint text built as bytes: ASCII by construction, so the
/// UTF-8 check cannot fail. Shared: the connection's summary and its
/// record hold it without a copy, and the connections of one client the
/// same one (`names::text`).
fn ascii(text: &[u8]) -> Arc<str> {
    super::names::text(std::str::from_utf8(text).unwrap_or_default())
}

/// The first 12 hex characters of the SHA-256 of `head` as comma-joined
/// 4-hex-digit values, followed, when `tail` has any values, by `_` and
/// `tail` the same way; "000000000000" when `head` is empty (JA4 spec,
/// "Cipher hash" and "Extension hash": "If there are no signature
/// algorithms ... the string ends without an underscore").
fn hash12(head: &[u16], tail: impl Iterator<Item = u16>) -> [u8; 12] {
    if head.is_empty() {
        return [b'0'; 12];
    }
    let mut t = Text::new(Hashing(Sha256::new()));
    t.join(head.iter().copied(), b',', hex4);
    let mut tail = tail.peekable();
    if tail.peek().is_some() {
        t.byte(b'_');
        t.join(tail, b',', hex4);
    }
    let Hashing(sha) = t.finish();
    hex_array(sha.finalize().get(..6).unwrap_or_default())
}

/// Entries per [`Memo`], replaced in turn.
const MEMO_ENTRIES: usize = 8;

/// Longest key a [`Memo`] keeps, in values; larger inputs are computed
/// every time. Real hellos give keys of 20 to 150 values (curl's JA3 key:
/// 110).
const MEMO_KEY: usize = 512;

/// Results this thread computed recently, each keyed by exactly the values
/// it is a function of: a capture repeats the same client's hello over and
/// over, and a hit costs a comparison instead of the text and its digest.
/// At most [`MEMO_ENTRIES`] keys of at most [`MEMO_KEY`] values.
struct Memo<const OUT: usize> {
    entries: Vec<(Vec<u16>, [u8; OUT])>,
    next: usize,
}

impl<const OUT: usize> Memo<OUT> {
    const fn new() -> Self {
        Memo {
            entries: Vec::new(),
            next: 0,
        }
    }

    fn get(&self, key: &[u16]) -> Option<[u8; OUT]> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_slice() == key)
            .map(|(_, out)| *out)
    }

    fn insert(&mut self, key: &[u16], out: [u8; OUT]) {
        if self.entries.len() < MEMO_ENTRIES {
            self.entries.push((key.to_vec(), out));
        } else if let Some((k, o)) = self.entries.get_mut(self.next) {
            k.clear();
            k.extend_from_slice(key);
            *o = out;
            self.next = (self.next + 1) % MEMO_ENTRIES;
        }
    }
}

/// This thread's memos and the buffer their keys are built in.
struct Memos {
    key: Vec<u16>,
    /// JA3 hex, keyed by version and the four GREASE-free lists.
    ja3: Memo<32>,
    /// JA4 cipher hash, keyed by the GREASE-free ciphers in wire order.
    ciphers: Memo<12>,
    /// JA4 extension hash, keyed by the sorted extensions it hashes and
    /// the GREASE-free signature algorithms.
    exts: Memo<12>,
}

impl Memos {
    fn ja3(&mut self) -> (&mut Vec<u16>, &mut Memo<32>) {
        (&mut self.key, &mut self.ja3)
    }
    fn ciphers(&mut self) -> (&mut Vec<u16>, &mut Memo<12>) {
        (&mut self.key, &mut self.ciphers)
    }
    fn exts(&mut self) -> (&mut Vec<u16>, &mut Memo<12>) {
        (&mut self.key, &mut self.exts)
    }
}

thread_local! {
    static MEMOS: RefCell<Memos> = const {
        RefCell::new(Memos {
            key: Vec::new(),
            ja3: Memo::new(),
            ciphers: Memo::new(),
            exts: Memo::new(),
        })
    };
}

/// Writes a memo key into this thread's key buffer. A key that does not
/// fit is marked `full` and never used: a cut key could stand for two
/// inputs.
struct Key<'a> {
    buf: &'a mut [u16],
    len: usize,
    full: bool,
}

impl Key<'_> {
    #[inline]
    fn push(&mut self, v: u16) {
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = v;
                self.len += 1;
            }
            None => self.full = true,
        }
    }

    /// Appends the GREASE-free `values`; returns how many there are.
    #[inline]
    fn push_clean(&mut self, values: &[u16]) -> usize {
        let start = self.len;
        if !has_grease(values) {
            // The usual long list: one copy.
            match self.buf.get_mut(start..start + values.len()) {
                Some(dst) => {
                    dst.copy_from_slice(values);
                    self.len += values.len();
                }
                None => self.full = true,
            }
            return values.len();
        }
        let mut n = 0;
        for &v in values.iter().filter(|v| !is_grease(**v)) {
            self.push(v);
            n += 1;
        }
        n
    }

    /// Appends the number of GREASE-free `values`, then those values: lists
    /// stay apart in a key that holds several.
    fn push_list(&mut self, values: &[u16]) {
        let at = self.len;
        self.push(0);
        let n = self.push_clean(values);
        if let Some(count) = self.buf.get_mut(at) {
            *count = u16::try_from(n).unwrap_or(u16::MAX);
        }
    }
}

/// `compute()`, or its remembered value for the key that `fill` writes.
/// Without a usable key (longer than [`MEMO_KEY`]) or without the memo
/// (thread teardown) it computes.
fn memoized<const OUT: usize>(
    memo: fn(&mut Memos) -> (&mut Vec<u16>, &mut Memo<OUT>),
    fill: impl FnOnce(&mut Key<'_>),
    compute: impl FnOnce() -> [u8; OUT],
) -> [u8; OUT] {
    let looked_up = MEMOS.try_with(|cell| {
        let mut memos = cell.try_borrow_mut().ok()?;
        let (buf, memo) = memo(&mut memos);
        if buf.len() < MEMO_KEY {
            buf.resize(MEMO_KEY, 0);
        }
        let mut key = Key {
            buf,
            len: 0,
            full: false,
        };
        fill(&mut key);
        if key.full {
            return None;
        }
        let len = key.len;
        Some((len, memo.get(buf.get(..len).unwrap_or_default())))
    });
    match looked_up {
        Ok(Some((_, Some(out)))) => out,
        Ok(Some((len, None))) => {
            let out = compute();
            let _ = MEMOS.try_with(|cell| {
                if let Ok(mut memos) = cell.try_borrow_mut() {
                    let (buf, memo) = memo(&mut memos);
                    memo.insert(buf.get(..len).unwrap_or_default(), out);
                }
            });
            out
        }
        Ok(None) | Err(_) => compute(),
    }
}

/// JA4 "TLS and DTLS Version": the highest non-GREASE supported_versions
/// value, else the ClientHello version; the handshake record's version is
/// ignored.
fn ja4_version(f: &HelloFields<'_>) -> &'static str {
    let v = f
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max()
        .unwrap_or(f.legacy_version);
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// JA4 "ALPN Extension Value": first and last characters of the first ALPN
/// value; "00" when absent or empty; the first and last hex digits of the
/// value when its first or last byte is not ASCII alphanumeric.
fn ja4_alpn(first: Option<&[u8]>) -> [char; 2] {
    let Some(v) = first else { return ['0', '0'] };
    let (Some(&a), Some(&z)) = (v.first(), v.last()) else {
        return ['0', '0'];
    };
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        return [char::from(a), char::from(z)];
    }
    let digit = |n: u8| char::from_digit(u32::from(n), 16).unwrap_or('0');
    [digit(a >> 4), digit(z & 0x0f)]
}

/// JA4 for TLS over TCP (FoxIO JA4 specification, technical_details/JA4.md):
/// `t` + version + `d`/`i` (SNI present) + 2-digit cipher count + 2-digit
/// extension count (both GREASE-free, capped at 99) + ALPN first/last
/// character, `_`, the first 12 hex characters of the SHA-256 of the sorted
/// 4-hex-digit cipher list, `_`, the same of the sorted extension list
/// without SNI (0000) and ALPN (0010), followed by `_` and the signature
/// algorithms in wire order when there are any.
pub fn ja4(f: &HelloFields<'_>) -> Arc<str> {
    let (mut ext_count, mut sni) = (0usize, false);
    let mut exts = SmallU16::<STACK_LIST>::new();
    for e in f.extensions.iter().copied().filter(not_grease) {
        ext_count += 1;
        match e {
            0x0000 => sni = true,
            0x0010 => {}
            _ => exts.push(e),
        }
    }
    let exts = exts.as_mut_slice();
    exts.sort_unstable();
    // The cipher hash is keyed by the wire order: a hit skips the sort.
    let mut cipher_count = None;
    let cipher_hash = memoized(
        Memos::ciphers,
        |key| cipher_count = Some(key.push_clean(f.ciphers)),
        || {
            let mut ciphers = SmallU16::<STACK_LIST>::new();
            for c in f.ciphers.iter().copied().filter(not_grease) {
                ciphers.push(c);
            }
            let ciphers = ciphers.as_mut_slice();
            ciphers.sort_unstable();
            hash12(ciphers, std::iter::empty())
        },
    );
    let cipher_count =
        cipher_count.unwrap_or_else(|| f.ciphers.iter().filter(|c| not_grease(c)).count());
    let ext_hash = memoized(
        Memos::exts,
        |key| {
            key.push_list(exts);
            key.push_clean(f.sig_algs);
        },
        || hash12(exts, f.sig_algs.iter().copied().filter(not_grease)),
    );
    let [a, z] = ja4_alpn(f.first_alpn);
    // 36 bytes: `t13d1516h2_` and two 12-digit hashes, the ALPN
    // characters one byte each.
    let mut out = StackText::<36>::new();
    out.push(b"t");
    out.push(ja4_version(f).as_bytes());
    out.push(if sni { b"d" } else { b"i" });
    for count in [cipher_count, ext_count] {
        let count = count.min(99) as u8;
        out.push(&[b'0' + count / 10, b'0' + count % 10]);
    }
    let mut alpn = [0u8; 8];
    out.push(a.encode_utf8(&mut alpn).as_bytes());
    out.push(z.encode_utf8(&mut alpn).as_bytes());
    out.push(b"_");
    out.push(&cipher_hash);
    out.push(b"_");
    out.push(&ext_hash);
    ascii(out.as_bytes())
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

    /// Salesforce JA3 README, "How it works": both published examples.
    #[test]
    fn ja3_matches_the_readme_examples() {
        let ciphers = [47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4];
        let f = HelloFields {
            legacy_version: 769,
            ciphers: &ciphers,
            extensions: &[0, 10, 11],
            groups: &[23, 24, 25],
            point_formats: &[0],
            ..HelloFields::default()
        };
        assert_eq!(
            ja3_string(&f),
            "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"
        );
        assert_eq!(&*ja3(&f), "ada70206e40642a3e4461f35503241d5");

        let ciphers = [4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99];
        let f = HelloFields {
            legacy_version: 769,
            ciphers: &ciphers,
            ..HelloFields::default()
        };
        assert_eq!(ja3_string(&f), "769,4-5-10-9-100-98-3-6-19-18-99,,,");
        assert_eq!(&*ja3(&f), "de350869b8c85de67a350c8d186f11e6");
    }

    #[test]
    fn ja3_drops_grease_everywhere() {
        let f = HelloFields {
            legacy_version: 771,
            ciphers: &[0x0a0a, 4865],
            extensions: &[0x1a1a, 0, 0xfafa],
            groups: &[0x2a2a, 29],
            point_formats: &[0],
            ..HelloFields::default()
        };
        assert_eq!(ja3_string(&f), "771,4865,0,29,0");
    }

    /// The example of the JA4 specification (technical_details/JA4.md,
    /// "Example"), with GREASE values added to show they are ignored.
    #[test]
    fn ja4_matches_the_spec_example() {
        let ciphers = [
            0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
            0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ];
        let exts = [
            0x0a0a, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023,
            0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015, 0xeaea,
        ];
        let sigs = [
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ];
        let f = HelloFields {
            legacy_version: 0x0303,
            ciphers: &ciphers,
            extensions: &exts,
            supported_versions: &[0x7a7a, 0x0304, 0x0303],
            sig_algs: &sigs,
            first_alpn: Some(b"h2"),
            ..HelloFields::default()
        };
        assert_eq!(&*ja4(&f), "t13d1516h2_8daaf6152771_e5627efa2ab1");

        // "If there are no signature algorithms": 6d807ffa2a79 in the spec.
        let f = HelloFields { sig_algs: &[], ..f };
        assert_eq!(&*ja4(&f), "t13d1516h2_8daaf6152771_6d807ffa2a79");
    }

    #[test]
    fn ja4_alpn_rules_of_the_spec() {
        // The five examples listed under "ALPN Extension Value".
        assert_eq!(ja4_alpn(Some(&[0xab])), ['a', 'b']);
        assert_eq!(ja4_alpn(Some(&[0xab, 0xcd])), ['a', 'd']);
        assert_eq!(ja4_alpn(Some(&[0x30, 0xab])), ['3', 'b']);
        assert_eq!(ja4_alpn(Some(&[0x30, 0x31, 0xab, 0xcd])), ['3', 'd']);
        assert_eq!(ja4_alpn(Some(&[0x30, 0xab, 0xcd, 0x31])), ['0', '1']);
        assert_eq!(ja4_alpn(Some(b"http/1.1")), ['h', '1']);
        assert_eq!(ja4_alpn(Some(b"x")), ['x', 'x']);
        assert_eq!(ja4_alpn(Some(b"")), ['0', '0']);
        assert_eq!(ja4_alpn(None), ['0', '0']);
    }

    #[test]
    fn ja4_empty_lists_hash_to_zeros() {
        let f = HelloFields {
            legacy_version: 0x0301,
            ..HelloFields::default()
        };
        assert_eq!(&*ja4(&f), "t10i000000_000000000000_000000000000");
    }

    /// Every u16: the digit tokens spell what `format!` spells.
    #[test]
    fn digit_tokens_match_format_for_every_u16() {
        let spell = |(token, n): (u64, usize)| token.to_le_bytes()[..n].to_vec();
        for v in 0..=u16::MAX {
            assert_eq!(spell(decimal(v)), format!("{v}").into_bytes(), "{v}");
            assert_eq!(spell(hex4(v)), format!("{v:04x}").into_bytes(), "{v}");
        }
    }

    #[test]
    fn small_list_spills_to_the_heap_keeping_every_value() {
        let mut l = SmallU16::<4>::new();
        for v in 0..10 {
            l.push(v);
            assert_eq!(l.as_slice(), (0..=v).collect::<Vec<u16>>());
        }
    }

    /// The straightforward `format!`-based definitions the fast code must
    /// equal byte for byte.
    mod reference {
        use super::super::{HelloFields, is_grease, ja4_alpn, ja4_version};
        use md5::Md5;
        use sha2::{Digest, Sha256};

        fn hex(bytes: &[u8]) -> String {
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        }

        fn join(values: impl Iterator<Item = u16>, sep: &str, hex: bool) -> String {
            let parts: Vec<String> = values
                .map(|v| {
                    if hex {
                        format!("{v:04x}")
                    } else {
                        format!("{v}")
                    }
                })
                .collect();
            parts.join(sep)
        }

        pub fn ja3_string(f: &HelloFields<'_>) -> String {
            let clean = |l: &[u16]| join(l.iter().copied().filter(|v| !is_grease(*v)), "-", false);
            format!(
                "{},{},{},{},{}",
                f.legacy_version,
                clean(f.ciphers),
                clean(f.extensions),
                clean(f.groups),
                join(f.point_formats.iter().map(|p| u16::from(*p)), "-", false)
            )
        }

        pub fn ja3(f: &HelloFields<'_>) -> String {
            hex(&Md5::digest(ja3_string(f).as_bytes()))
        }

        fn hash12(s: &str) -> String {
            if s.is_empty() {
                return "000000000000".to_owned();
            }
            hex(&Sha256::digest(s.as_bytes())[..6])
        }

        pub fn ja4(f: &HelloFields<'_>) -> String {
            let mut ciphers: Vec<u16> = f
                .ciphers
                .iter()
                .copied()
                .filter(|v| !is_grease(*v))
                .collect();
            let exts: Vec<u16> = f
                .extensions
                .iter()
                .copied()
                .filter(|v| !is_grease(*v))
                .collect();
            let sni = if exts.contains(&0) { 'd' } else { 'i' };
            let [a, z] = ja4_alpn(f.first_alpn);
            let head = format!(
                "t{}{sni}{:02}{:02}{a}{z}",
                ja4_version(f),
                ciphers.len().min(99),
                exts.len().min(99)
            );
            ciphers.sort_unstable();
            let mut sorted: Vec<u16> = exts.into_iter().filter(|v| *v != 0 && *v != 0x10).collect();
            sorted.sort_unstable();
            let mut c = join(sorted.into_iter(), ",", true);
            let sigs = join(
                f.sig_algs.iter().copied().filter(|v| !is_grease(*v)),
                ",",
                true,
            );
            if !c.is_empty() && !sigs.is_empty() {
                c = format!("{c}_{sigs}");
            }
            format!(
                "{head}_{}_{}",
                hash12(&join(ciphers.into_iter(), ",", true)),
                hash12(&c)
            )
        }
    }

    /// A code point as hellos carry them: mostly small or well-known values,
    /// GREASE, SNI and ALPN, and anything at all.
    fn code_point() -> impl Strategy<Value = u16> {
        prop_oneof![
            0u16..64,
            0xc000u16..0xc100,
            (0u16..16).prop_map(|i| 0x0a0a + i * 0x1010),
            Just(0x0000u16),
            Just(0x0010u16),
            Just(0xff01u16),
            any::<u16>(),
        ]
    }

    fn list(max: usize) -> impl Strategy<Value = Vec<u16>> {
        proptest::collection::vec(code_point(), 0..max)
    }

    proptest! {
        /// The fast writers equal the `format!`-based definitions, GREASE,
        /// empty lists, duplicates and lists longer than the stack buffers
        /// included.
        #[test]
        fn fast_fingerprints_equal_the_format_based_ones(
            legacy_version in code_point(),
            ciphers in list(300),
            extensions in list(200),
            groups in list(40),
            point_formats in proptest::collection::vec(any::<u8>(), 0..4),
            supported_versions in list(6),
            sig_algs in list(30),
            first_alpn in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..5)),
        ) {
            let f = HelloFields {
                legacy_version,
                ciphers: &ciphers,
                extensions: &extensions,
                groups: &groups,
                point_formats: &point_formats,
                supported_versions: &supported_versions,
                sig_algs: &sig_algs,
                first_alpn: first_alpn.as_deref(),
            };
            prop_assert_eq!(ja3_string(&f), reference::ja3_string(&f));
            // The second call is answered by the memo.
            for _ in 0..2 {
                prop_assert_eq!(&*ja3(&f), reference::ja3(&f));
                prop_assert_eq!(&*ja4(&f), reference::ja4(&f));
            }
        }

        /// Hellos that differ a little, fingerprinted in any order and more
        /// often than the memo has entries: every answer, remembered or
        /// not, is the one computed from scratch.
        #[test]
        fn memo_answers_equal_computed_ones(
            ciphers in list(12),
            extensions in list(12),
            sig_algs in list(6),
            variants in proptest::collection::vec((0usize..12, code_point(), 0usize..4), 1..20),
            order in proptest::collection::vec(0usize..20, 1..60),
        ) {
            let hellos: Vec<[Vec<u16>; 3]> = variants
                .iter()
                .map(|&(at, v, field)| {
                    let mut h = [ciphers.clone(), extensions.clone(), sig_algs.clone()];
                    // Field 3 leaves the hello as it is: repeats.
                    if let Some(list) = h.get_mut(field) {
                        if let Some(slot) = list.get_mut(at) {
                            *slot = v;
                        } else {
                            list.push(v);
                        }
                    }
                    h
                })
                .collect();
            for i in order {
                let [c, e, s] = &hellos[i % hellos.len()];
                let f = HelloFields {
                    legacy_version: 0x0303,
                    ciphers: c,
                    extensions: e,
                    groups: s,
                    sig_algs: s,
                    ..HelloFields::default()
                };
                prop_assert_eq!(&*ja3(&f), reference::ja3(&f));
                prop_assert_eq!(&*ja4(&f), reference::ja4(&f));
            }
        }
    }

    /// The same values split differently between lists are different JA3
    /// inputs ("771,1,0-2,," and "771,1-0,2,,"): the memo keys keep them
    /// apart (a 0 separator would not), and GREASE changes nothing.
    #[test]
    fn memo_keys_keep_lists_apart() {
        let a = HelloFields {
            legacy_version: 771,
            ciphers: &[1],
            extensions: &[0, 2],
            ..HelloFields::default()
        };
        let b = HelloFields {
            ciphers: &[1, 0],
            extensions: &[2],
            ..a
        };
        let greased = HelloFields {
            ciphers: &[0x3a3a, 1, 0],
            extensions: &[2, 0xdada],
            ..a
        };
        for f in [a, b, a, b, greased] {
            assert_eq!(&*ja3(&f), reference::ja3(&f));
            assert_eq!(&*ja4(&f), reference::ja4(&f));
        }
        assert_ne!(ja3(&a), ja3(&b));
        assert_eq!(ja3(&b), ja3(&greased));
    }

    /// A hello whose key does not fit the memo is fingerprinted all the same.
    #[test]
    fn oversized_hellos_bypass_the_memo() {
        let ciphers: Vec<u16> = (0..2000).map(|i| i * 31).collect();
        let f = HelloFields {
            legacy_version: 0x0303,
            ciphers: &ciphers,
            extensions: &ciphers,
            sig_algs: &ciphers,
            ..HelloFields::default()
        };
        for _ in 0..2 {
            assert_eq!(&*ja3(&f), reference::ja3(&f));
            assert_eq!(&*ja4(&f), reference::ja4(&f));
        }
    }
}
