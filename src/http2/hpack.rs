//! HPACK (RFC 7541) for one direction, through the h2 crate's decoder:
//! decodes each header block in order to keep the dynamic table in step,
//! and keeps only the fields the ledger needs. After any decoding error the
//! table is unknown, so every later block of the direction is refused
//! rather than decoded into garbage.
//!
//! h2 keeps its `hpack` module private, `unstable` feature or not. Its
//! decoder is reached through the one public signature that names it,
//! `h2::frame::Headers::load_hpack` (public with `unstable`): a value whose
//! type is inferred from that parameter is an `hpack::Decoder`, whose
//! public methods (`decode`, `queue_size_update`) can then be called,
//! though the type itself cannot be written down. So each decoder lives
//! inside the boxed closure that created it ([`Inner`]). The h2 version is
//! pinned exactly (`=0.4.20`) in Cargo.toml.
//!
//! What h2's decoder refuses, making the block [`Error::Invalid`] (all
//! valid HPACK that is not valid HTTP/2, besides HPACK errors proper):
//! a block ending inside a representation; index 0 or past the table; an
//! integer of more than 5 octets; a bad Huffman code, EOS or padding; a
//! size update after the block's first field or above the allowed size
//! (RFC 7541 section 4.2); an empty name; a name with upper case or a
//! character outside the token set; a value holding a control character
//! other than tab; a pseudo-header other than `:authority`, `:method`,
//! `:scheme`, `:path`, `:protocol`, `:status`; `:authority`, `:scheme`,
//! `:path` or `:protocol` that is not UTF-8; a `:method` that is not a
//! token; a `:status` that is not three digits from 100 to 999. It stops at
//! the first such representation: fields with incremental indexing before
//! it are in the table, the refused one and all after it are not, so the
//! table is out of step with the encoder's.
//!
//! Memory: h2 keeps `:authority`, `:scheme`, `:path` and `:protocol`
//! values in its table as slices of the buffer they were decoded from (the
//! block, or its Huffman output buffer), which keeps that whole buffer
//! alive. Left alone, a table of small entries could hold a buffer of up to
//! [`frame::BLOCK_CAP`](super::frame::BLOCK_CAP) per entry. So the bytes
//! decoded since the table was last built are counted, with what they may
//! have allocated ([`HOLD_PER_BYTE`]), and past [`REBUILD_AT`] the table is
//! read back and entered into a fresh decoder as one compact block
//! (`rebuild`), which frees the old buffers.

use bytes::{BufMut, BytesMut};
use std::io::Cursor;
use std::ops::ControlFlow;

/// SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 section 6.5.2).
pub const DEFAULT_TABLE_SIZE: usize = 4096;
/// Largest dynamic table accepted, whatever a peer advertises: bounds the
/// memory one decoder can hold.
pub const TABLE_CAP: usize = 64 * 1024;

/// Longest `:path` kept. A dynamic-table entry of up to [`TABLE_CAP`]
/// bytes can be repeated by a one-byte reference in every block, so what a
/// request keeps must not grow with the entry: longer values are cut (and
/// the block marked [`Fields::truncated`]).
pub const FIELD_CAP: usize = 2048;
/// Longest `:method`, `:scheme`, `:authority` or `host` kept: a host name
/// is at most 255 bytes (RFC 1035 section 2.3.4), with room for a port.
pub const SHORT_FIELD_CAP: usize = 264;

/// Heap that h2's decoder may allocate per header block byte, beyond the
/// copy of the block itself (counted apart): a Huffman string of n octets,
/// n + 1 block bytes with its length, reserves n * 8 / 5 + 1 bytes of
/// output (RFC 7541 section 5.2: codes are at least 5 bits), at most 1.6
/// per block byte; the output buffer's reallocations (a fresh one of at
/// least 4096 bytes when table entries still share the old one, or twice
/// the old one) at most double that, plus 4096 once. Counted at 10 for
/// margin.
pub const HOLD_PER_BYTE: usize = 10;
/// Estimated bytes held (see [`HOLD_PER_BYTE`]) after which the table is
/// rebuilt. About 1000 estimated bytes per block of a real request header:
/// one rebuild per few hundred blocks, each costing a read-back of at
/// most [`TABLE_CAP`] bytes.
pub const REBUILD_AT: usize = 4 * TABLE_CAP;

/// RFC 7541 section 4.1: an entry's size is its name and value plus 32.
const ENTRY_OVERHEAD: usize = 32;
/// Dynamic table indices start after the 61 static ones (section 2.3.3).
const FIRST_DYNAMIC: usize = 62;

/// The request and response fields kept from a header block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    pub method: Option<String>,
    pub scheme: Option<String>,
    pub authority: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
    /// The `host` field, which stands in for a missing `:authority`
    /// (RFC 9113 section 8.3.1).
    pub host: Option<String>,
    /// A kept value was longer than [`FIELD_CAP`] and was cut.
    pub truncated: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// This block did not decode (h2's error is not kept: the anomaly is
    /// the same whatever the cause).
    Invalid,
    /// An earlier block failed or was lost: the table is unknown.
    Unknown,
}

/// What an [`Inner`] is asked to do.
enum Op<'a> {
    /// Decode one whole header block, handing each field's name and value
    /// to the callback in order.
    Decode(&'a mut BytesMut, &'a mut dyn FnMut(&[u8], &[u8])),
    /// The receiving side allowed size updates up to this many bytes (h2
    /// applies it from the next block on).
    Allow(usize),
}

/// One h2 HPACK decoder, owned by the closure that made it (its type has
/// no public name: see the module documentation).
type Inner = Box<dyn FnMut(Op<'_>) -> Result<(), h2::frame::Error> + Send>;

/// A fresh h2 decoder: an empty table of [`DEFAULT_TABLE_SIZE`] bytes,
/// size updates allowed up to that.
fn h2_decoder() -> Inner {
    // `Default` is `Decoder::new(4096)`; the closure below, never called,
    // fixes the type.
    let mut decoder = Default::default();
    let _names_the_type =
        |h: &mut h2::frame::Headers, b: &mut BytesMut| h.load_hpack(b, 0, &mut decoder);
    Box::new(move |op| match op {
        Op::Decode(block, each) => decoder
            .decode(&mut Cursor::new(block), |field| {
                each(field.name().as_slice(), field.value_slice());
                // Never `Break`: the rest of the block must still reach the
                // table.
                ControlFlow::Continue(())
            })
            .map_err(h2::frame::Error::from),
        Op::Allow(size) => {
            decoder.queue_size_update(size);
            Ok(())
        }
    })
}

pub struct Decoder {
    /// None before the first block (h2's decoder allocates a 4 KiB buffer
    /// when made) and once the state is lost.
    inner: Option<Inner>,
    /// The block being decoded (h2 reads a `BytesMut`), reused while no
    /// table entry refers into it.
    scratch: BytesMut,
    /// The largest table size the receiving side has allowed.
    allowed: usize,
    /// The table's maximum size as the last size update set it (RFC 7541
    /// section 4.2).
    table_max: usize,
    /// Estimated heap allocated by decoding since the table was last built,
    /// that table entries may keep alive.
    held: usize,
    /// [`REBUILD_AT`], lower in tests.
    rebuild_at: usize,
    lost: bool,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("allowed", &self.allowed)
            .field("table_max", &self.table_max)
            .field("held", &self.held)
            .field("lost", &self.lost)
            .finish()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            inner: None,
            scratch: BytesMut::new(),
            allowed: DEFAULT_TABLE_SIZE,
            table_max: DEFAULT_TABLE_SIZE,
            held: 0,
            rebuild_at: REBUILD_AT,
            lost: false,
        }
    }
}

impl Decoder {
    /// The receiving side advertised SETTINGS_HEADER_TABLE_SIZE `size`: the
    /// encoder may then send dynamic table size updates up to it (RFC 7541
    /// section 4.2). The largest value seen so far is kept, since a passive
    /// observer cannot tell when the encoder saw the acknowledgement.
    pub fn allow_table_size(&mut self, size: u32) {
        let size = usize::try_from(size).unwrap_or(TABLE_CAP).min(TABLE_CAP);
        if size > self.allowed {
            self.allowed = size;
            if let Some(inner) = self.inner.as_mut() {
                let _ = inner(Op::Allow(size));
            }
        }
    }

    /// The table's size as counted against the parser budget: the largest
    /// the receiver allowed (RFC 7541 section 4.2), once a block was
    /// decoded and while the state is known; 0 before and after.
    pub fn declared_size(&self) -> usize {
        if self.inner.is_some() && !self.lost {
            self.allowed
        } else {
            0
        }
    }

    /// What [`Decoder::declared_size`] will be once a block is decoded.
    pub fn declarable_size(&self) -> usize {
        if self.lost { 0 } else { self.allowed }
    }

    /// A block of this direction was lost: the table is unknown from now on
    /// (and its memory is given back).
    pub fn lose(&mut self) {
        self.lost = true;
        self.inner = None;
        self.scratch = BytesMut::new();
    }

    /// A decoder that rebuilds its table once `bytes` of estimated
    /// holdings are reached instead of [`REBUILD_AT`] (0: before every
    /// block), to check that rebuilding changes nothing.
    pub fn rebuilding_at(mut self, bytes: usize) -> Self {
        self.rebuild_at = bytes;
        self
    }

    /// Decodes one complete header block (RFC 7541 section 3).
    pub fn decode(&mut self, block: &[u8]) -> Result<Fields, Error> {
        let mut f = Fields::default();
        self.run(block, &mut |name, value| keep(&mut f, name, value))?;
        Ok(f)
    }

    /// Decodes one block, handing every field to `each`.
    fn run(&mut self, block: &[u8], each: &mut dyn FnMut(&[u8], &[u8])) -> Result<(), Error> {
        if self.lost {
            return Err(Error::Unknown);
        }
        if self.inner.is_none() || self.held > self.rebuild_at {
            self.rebuild()?;
        }
        let Some(inner) = self.inner.as_mut() else {
            return Err(Error::Unknown);
        };
        self.scratch.clear();
        if self.scratch.capacity() < block.len() {
            // A new buffer, unless table entries no longer refer to the
            // old one: counted as held either way.
            self.scratch.reserve(block.len());
            self.held = self.held.saturating_add(self.scratch.capacity());
        }
        self.scratch.extend_from_slice(block);
        self.held = self
            .held
            .saturating_add(block.len().saturating_mul(HOLD_PER_BYTE));
        if inner(Op::Decode(&mut self.scratch, each)).is_err() {
            self.lose();
            return Err(Error::Invalid);
        }
        if let Some(size) = last_size_update(block) {
            self.table_max = size;
        }
        Ok(())
    }

    /// Replaces the h2 decoder by a fresh one holding the same table, built
    /// from one compact block, so that the buffers the old entries kept
    /// alive are freed. Also makes the first decoder (from an empty table).
    fn rebuild(&mut self) -> Result<(), Error> {
        let entries = match self.inner.as_mut() {
            Some(old) => read_table(old, self.table_max),
            None => Vec::new(),
        };
        let mut block = BytesMut::with_capacity(
            entries
                .iter()
                .map(|(n, v)| n.len().saturating_add(v.len()).saturating_add(8))
                .sum::<usize>()
                .saturating_add(8),
        );
        if self.table_max != DEFAULT_TABLE_SIZE {
            // RFC 7541 section 6.3: dynamic table size update.
            put_int(&mut block, 0x20, 5, self.table_max);
        }
        // Oldest first, so that the newest ends at index 62: literals with
        // incremental indexing and a new name (section 6.2.1), not
        // Huffman-coded (section 5.2).
        for (name, value) in entries.iter().rev() {
            block.put_u8(0x40);
            put_int(&mut block, 0, 7, name.len());
            block.put_slice(name);
            put_int(&mut block, 0, 7, value.len());
            block.put_slice(value);
        }
        let mut fresh = h2_decoder();
        let allowed = fresh(Op::Allow(self.allowed));
        let built = fresh(Op::Decode(&mut block, &mut |_, _| {}));
        if allowed.is_err() || built.is_err() {
            // Every entry came out of an h2 table, so h2 takes it back in.
            self.lose();
            return Err(Error::Invalid);
        }
        self.inner = Some(fresh);
        self.held = 0;
        Ok(())
    }
}

/// The entries of `inner`'s table, newest first, read back through indexed
/// field representations (RFC 7541 section 6.1), which leave it unchanged:
/// index 62 and up until h2 answers that an index is past the table. A
/// table of `table_max` bytes holds at most `table_max / 32` entries
/// (section 4.1).
fn read_table(inner: &mut Inner, table_max: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let most = table_max / ENTRY_OVERHEAD;
    let mut probe = BytesMut::with_capacity(most.saturating_mul(3));
    for i in 0..most {
        put_int(&mut probe, 0x80, 7, FIRST_DYNAMIC.saturating_add(i));
    }
    let mut entries = Vec::new();
    // Fails at the first index past the table: the expected end.
    let _ = inner(Op::Decode(&mut probe, &mut |name, value| {
        entries.push((name.to_vec(), value.to_vec()))
    }));
    entries
}

/// Appends `value` as an HPACK integer with an N-bit prefix (RFC 7541
/// section 5.1) after the `flags` bits of its first octet.
fn put_int(out: &mut BytesMut, flags: u8, prefix_bits: u32, value: usize) {
    let max = (1usize << prefix_bits) - 1;
    if value < max {
        out.put_u8(flags | (value & 0xff) as u8);
        return;
    }
    out.put_u8(flags | (max & 0xff) as u8);
    let mut rest = value - max;
    while rest >= 0x80 {
        out.put_u8((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    out.put_u8((rest & 0x7f) as u8);
}

/// Reads an HPACK integer with an N-bit prefix (RFC 7541 section 5.1) at
/// the start of `b`, as h2 does (at most 5 octets); returns it and the
/// bytes after it.
fn read_int(b: &[u8], prefix_bits: u32) -> Option<(usize, &[u8])> {
    let (&first, mut rest) = b.split_first()?;
    let max = (1usize << prefix_bits) - 1;
    let mut value = usize::from(first) & max;
    if value < max {
        return Some((value, rest));
    }
    for shift in [0u32, 7, 14, 21] {
        let (&next, after) = rest.split_first()?;
        rest = after;
        value = value.checked_add(usize::from(next & 0x7f).checked_shl(shift)?)?;
        if next & 0x80 == 0 {
            return Some((value, rest));
        }
    }
    None
}

/// The value of the last dynamic table size update that starts `block`
/// (RFC 7541 section 4.2: they may only come first; section 6.3:
/// `001` and a 5-bit-prefix integer).
fn last_size_update(block: &[u8]) -> Option<usize> {
    let mut rest = block;
    let mut last = None;
    while rest.first().is_some_and(|&b| b & 0xe0 == 0x20) {
        let (size, after) = read_int(rest, 5)?;
        last = Some(size);
        rest = after;
    }
    last
}

/// At most `cap` bytes of `v` as text; sets `truncated` when cut.
fn text(v: &[u8], cap: usize, truncated: &mut bool) -> String {
    let kept = v.get(..cap).unwrap_or(v);
    *truncated |= kept.len() < v.len();
    String::from_utf8_lossy(kept).into_owned()
}

/// Keeps the fields the ledger needs. Each is kept once, from its first
/// occurrence: a pseudo-header field appears at most once in a valid block
/// (RFC 9113 section 8.3), and copying a repeated one again and again
/// would cost time in proportion to the entry each one-byte reference
/// names.
fn keep(f: &mut Fields, name: &[u8], value: &[u8]) {
    let (slot, cap) = match name {
        b":method" => (&mut f.method, SHORT_FIELD_CAP),
        b":scheme" => (&mut f.scheme, SHORT_FIELD_CAP),
        b":authority" => (&mut f.authority, SHORT_FIELD_CAP),
        b":path" => (&mut f.path, FIELD_CAP),
        b"host" => (&mut f.host, SHORT_FIELD_CAP),
        // RFC 9113 section 8.3.2: a three-digit status code (h2 refuses
        // any other).
        b":status" => {
            if f.status.is_none() {
                f.status = std::str::from_utf8(value)
                    .ok()
                    .filter(|s| s.len() == 3)
                    .and_then(|s| s.parse().ok());
            }
            return;
        }
        _ => return,
    };
    if slot.is_none() {
        *slot = Some(text(value, cap, &mut f.truncated));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    //! RFC 7541 Appendix C: each block is decoded in sequence by one decoder,
    //! and the fields and the dynamic table (entries and size) compared with
    //! the listing printed after it in the RFC. Then real blocks (Go's
    //! client, nginx) against tshark, what h2 refuses, and the rebuild.
    use super::*;

    fn lossy(v: &[u8]) -> String {
        String::from_utf8_lossy(v).into_owned()
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Decodes `block` (all fields, in order).
    fn all(d: &mut Decoder, block: &[u8]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        d.run(block, &mut |n, v| out.push((lossy(n), lossy(v))))
            .unwrap();
        out
    }

    /// A decoder whose dynamic table already has size `size` (at most
    /// DEFAULT_TABLE_SIZE), as the examples of RFC 7541 Appendix C.5 and
    /// C.6 assume: it decoded a block holding only that size update.
    fn with_table_size(size: usize) -> Decoder {
        let mut d = Decoder::default();
        let mut update = BytesMut::new();
        put_int(&mut update, 0x20, 5, size);
        assert_eq!(all(&mut d, &update), []);
        d
    }

    /// The dynamic table, newest first, and its size.
    fn table(d: &mut Decoder) -> (Vec<(String, String)>, usize) {
        let t: Vec<_> = match d.inner.as_mut() {
            Some(inner) => read_table(inner, d.table_max),
            None => Vec::new(),
        }
        .into_iter()
        .map(|(n, v)| (lossy(&n), lossy(&v)))
        .collect();
        // RFC 7541 section 4.1: an entry's size is name + value + 32.
        let size = t.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
        (t, size)
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    struct Step {
        block: &'static str,
        fields: &'static [(&'static str, &'static str)],
        table: &'static [(&'static str, &'static str)],
        size: usize,
    }

    /// Runs the steps on a decoder from `make`, then again on one that
    /// rebuilds its table before every block: the results must not differ.
    fn check(make: fn() -> Decoder, steps: &[Step]) {
        for (mut d, how) in [(make(), "kept"), (make().rebuilding_at(0), "rebuilt")] {
            for (i, s) in steps.iter().enumerate() {
                assert_eq!(
                    all(&mut d, &hex(s.block)),
                    pairs(s.fields),
                    "{how}: step {i} fields"
                );
                let (t, size) = table(&mut d);
                assert_eq!(t, pairs(s.table), "{how}: step {i} table");
                assert_eq!(size, s.size, "{how}: step {i} size");
            }
        }
    }

    const REQ1: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ];
    const REQ2: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
        ("cache-control", "no-cache"),
    ];
    const REQ3: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ];
    const T1: &[(&str, &str)] = &[(":authority", "www.example.com")];
    const T2: &[(&str, &str)] = &[
        ("cache-control", "no-cache"),
        (":authority", "www.example.com"),
    ];
    const T3: &[(&str, &str)] = &[
        ("custom-key", "custom-value"),
        ("cache-control", "no-cache"),
        (":authority", "www.example.com"),
    ];

    /// C.3: requests without Huffman coding.
    #[test]
    fn rfc7541_c3_requests() {
        check(
            Decoder::default,
            &[
                Step {
                    block: "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                    fields: REQ1,
                    table: T1,
                    size: 57,
                },
                Step {
                    block: "8286 84be 5808 6e6f 2d63 6163 6865",
                    fields: REQ2,
                    table: T2,
                    size: 110,
                },
                Step {
                    block: "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
                    fields: REQ3,
                    table: T3,
                    size: 164,
                },
            ],
        );
    }

    /// C.4: the same requests with Huffman coding.
    #[test]
    fn rfc7541_c4_requests_huffman() {
        check(
            Decoder::default,
            &[
                Step {
                    block: "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                    fields: REQ1,
                    table: T1,
                    size: 57,
                },
                Step {
                    block: "8286 84be 5886 a8eb 1064 9cbf",
                    fields: REQ2,
                    table: T2,
                    size: 110,
                },
                Step {
                    block: "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
                    fields: REQ3,
                    table: T3,
                    size: 164,
                },
            ],
        );
    }

    const RESP1: &[(&str, &str)] = &[
        (":status", "302"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ];
    const RESP2: &[(&str, &str)] = &[
        (":status", "307"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ];
    const RESP3: &[(&str, &str)] = &[
        (":status", "200"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ("location", "https://www.example.com"),
        ("content-encoding", "gzip"),
        (
            "set-cookie",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
    ];
    const RT1: &[(&str, &str)] = &[
        ("location", "https://www.example.com"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("cache-control", "private"),
        (":status", "302"),
    ];
    const RT2: &[(&str, &str)] = &[
        (":status", "307"),
        ("location", "https://www.example.com"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("cache-control", "private"),
    ];
    const RT3: &[(&str, &str)] = &[
        (
            "set-cookie",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
        ("content-encoding", "gzip"),
        ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
    ];

    /// C.5: responses without Huffman coding, dynamic table of 256 octets
    /// (evictions at the second and third response).
    #[test]
    fn rfc7541_c5_responses() {
        check(
            || with_table_size(256),
            &[
                Step {
                    block: "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                    fields: RESP1,
                    table: RT1,
                    size: 222,
                },
                Step {
                    block: "4803 3330 37c1 c0bf",
                    fields: RESP2,
                    table: RT2,
                    size: 222,
                },
                Step {
                    block: "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
                    fields: RESP3,
                    table: RT3,
                    size: 215,
                },
            ],
        );
    }

    /// C.6: the same responses with Huffman coding.
    #[test]
    fn rfc7541_c6_responses_huffman() {
        check(
            || with_table_size(256),
            &[
                Step {
                    block: "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
                    fields: RESP1,
                    table: RT1,
                    size: 222,
                },
                Step {
                    block: "4883 640e ffc1 c0bf",
                    fields: RESP2,
                    table: RT2,
                    size: 222,
                },
                Step {
                    block: "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
                    fields: RESP3,
                    table: RT3,
                    size: 215,
                },
            ],
        );
    }

    #[test]
    fn wrapper_keeps_request_fields() {
        let mut d = Decoder::default();
        let f = d.decode(&hex("8287 85bf")).err();
        // 0xbf refers to dynamic index 62, absent in a fresh table.
        assert_eq!(f, Some(Error::Invalid));
        assert_eq!(d.decode(&hex("82")), Err(Error::Unknown));

        let mut d = Decoder::default();
        let f = d
            .decode(&hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"))
            .unwrap();
        assert_eq!(f.method.as_deref(), Some("GET"));
        assert_eq!(f.scheme.as_deref(), Some("http"));
        assert_eq!(f.path.as_deref(), Some("/"));
        assert_eq!(f.authority.as_deref(), Some("www.example.com"));
        // Static index 8 is `:status: 200` (RFC 7541 Appendix A).
        assert_eq!(d.decode(&hex("88")).unwrap().status, Some(200));
    }

    #[test]
    fn table_size_updates_are_bounded_by_settings() {
        // A dynamic table size update to 8192 (RFC 7541 section 6.3:
        // 001 + 5-bit prefix integer: 3f e1 3f) followed by an indexed field.
        let update = hex("3fe13f 82");
        let mut d = Decoder::default();
        assert_eq!(d.decode(&update), Err(Error::Invalid));
        let mut d = Decoder::default();
        d.allow_table_size(8192);
        assert!(d.decode(&update).is_ok());
        // Above the cap, whatever the peer allowed.
        let mut d = Decoder::default();
        d.allow_table_size(u32::MAX);
        let mut big = vec![0x3f];
        let mut v = TABLE_CAP + 1 - 31;
        while v >= 128 {
            big.push((v % 128) as u8 | 0x80);
            v /= 128;
        }
        big.push(v as u8);
        big.push(0x82);
        assert_eq!(d.decode(&big), Err(Error::Invalid));
    }

    /// One 60 000-byte `:path` entered in a 64 KiB dynamic table, then a
    /// block of 100 000 one-byte references to it (RFC 7541 section 6.1,
    /// index 62 = the newest dynamic entry): the request keeps
    /// FIELD_CAP bytes, once, and says it was cut.
    #[test]
    fn a_long_entry_referenced_again_and_again_is_kept_once_and_cut() {
        let mut d = Decoder::default();
        d.allow_table_size(TABLE_CAP as u32);
        // A dynamic table size update to 65 536 (section 6.3: 31, then
        // 65 505 in 7-bit groups), then a literal with incremental
        // indexing, name :path (static index 4), value of 60 000 bytes:
        // 0x7f then 60000 - 127 in 7-bit groups.
        let mut first = vec![0x3f, 0xe1, 0xff, 0x03, 0x44, 0x7f];
        let mut rest = 60_000 - 127;
        while rest >= 0x80 {
            first.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        first.push(rest as u8);
        first.resize(first.len() + 60_000, b'a');
        let f = d.decode(&first).unwrap();
        assert_eq!(f.path.as_deref().map(str::len), Some(FIELD_CAP));
        assert!(f.truncated);
        let started = std::time::Instant::now();
        let f = d.decode(&[0xbe; 100_000]).unwrap();
        assert_eq!(f.path.as_deref().map(str::len), Some(FIELD_CAP));
        assert!(f.truncated);
        // A copy per reference would be 6 GB of copying for this block.
        assert!(started.elapsed().as_secs() < 10);
        // Short values are kept whole.
        let f = d
            .decode(&hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"))
            .unwrap();
        assert_eq!(f.authority.as_deref(), Some("www.example.com"));
        assert!(!f.truncated);
        // An authority is cut shorter: literal without indexing, name
        // :authority (static index 1), 300 bytes (0x7f, then 173).
        let mut long = vec![0x01, 0x7f, 0xad, 0x01];
        long.resize(long.len() + 300, b'h');
        let f = d.decode(&long).unwrap();
        assert_eq!(f.authority.as_deref().map(str::len), Some(SHORT_FIELD_CAP));
        assert!(f.truncated);
    }

    /// RFC 7541 Appendix C.1: 10 and 1337 with a 5-bit prefix, 42 with an
    /// 8-bit prefix (C.1.3's octet-aligned case).
    #[test]
    fn integers_as_rfc7541_c1() {
        for (value, prefix, octets) in [(10, 5, "0a"), (1337, 5, "1f9a0a"), (42, 8, "2a")] {
            let mut b = BytesMut::new();
            put_int(&mut b, 0, prefix, value);
            assert_eq!(&b[..], hex(octets), "{value}");
            assert_eq!(read_int(&b, prefix), Some((value, &[][..])), "{value}");
        }
        // Past h2's five octets, and cut short.
        assert_eq!(read_int(&hex("1f ff ff ff ff 01"), 5), None);
        assert_eq!(read_int(&hex("1f 9a"), 5), None);
        // Two size updates then a field: the last update counts.
        assert_eq!(last_size_update(&hex("20 3f e1 01 82")), Some(256));
        assert_eq!(last_size_update(&hex("82 20")), None);
    }

    /// The first four requests and the first response of
    /// testdata/captures/go-h2-sequential.pcap (Go's client, nginx),
    /// decrypted with its key log. Expected fields from tshark 4.0.17:
    /// `tshark -r go-h2-sequential.pcap -o tls.keylog_file:go-h2-sequential.keys
    /// -Y 'http2.type == 1' -T fields -e frame.number -e http2.headers
    /// -e http2.headers.method -e http2.headers.path
    /// -e http2.headers.authority -e http2.headers.status` (frames 12, 16,
    /// 18, 20 from the client, 13 from the server).
    #[test]
    fn real_blocks_as_tshark_reads_them() {
        const CLIENT: [(&str, &str); 4] = [
            (
                "418e21eaaac2da82ae92a13702f34d3382458c60d5485f2bce9a68ff0d007f8750839bd9ab7a8dc475a74a6b589418b525812e0f",
                "/index.html?i=1",
            ),
            ("c182458c60d5485f2bce9a68ff0d00bf87c0bf", "/index.html?i=2"),
            ("c282458c60d5485f2bce9a68ff0d033f87c1c0", "/index.html?i=3"),
            ("c382458c60d5485f2bce9a68ff0d035f87c2c1", "/index.html?i=4"),
        ];
        const SERVER: &str = "887689aa6355e580ae212e1f6196df3dbf4a09c5349fba82009c5001b8d3b704e298b46f5f87497ca589d34d1f5c033430306c97df3dbf4a09c5349fba82009c5001b8d3971a694c5a37ff00832a47378cfe5c8c0ebd2bcd2c17c1fcff008919085ad2b583aa62a3848fd24a8f";
        for (mut d, how) in [
            (Decoder::default(), "kept"),
            (Decoder::default().rebuilding_at(0), "rebuilt"),
        ] {
            for (block, path) in CLIENT {
                let f = d.decode(&hex(block)).unwrap();
                assert_eq!(f.method.as_deref(), Some("GET"), "{how}");
                assert_eq!(f.scheme.as_deref(), Some("https"), "{how}");
                assert_eq!(f.path.as_deref(), Some(path), "{how}");
                assert_eq!(
                    f.authority.as_deref(),
                    Some("connreuse.test:18443"),
                    "{how}"
                );
                assert!(!f.truncated);
            }
        }
        let mut server = Decoder::default();
        for _ in 0..3 {
            let f = server.decode(&hex(SERVER)).unwrap();
            assert_eq!(f.status, Some(200));
            assert_eq!(f.method, None);
        }
    }

    /// Valid HPACK that is not valid HTTP/2 (RFC 9113 sections 8.2.1,
    /// 8.3): h2 0.4.20 refuses each of these blocks (src/hpack/header.rs,
    /// `Header::new`), so the table is lost from there on.
    #[test]
    fn what_h2_refuses_loses_the_table() {
        // Literal without indexing, new name (RFC 7541 section 6.2.2):
        // 00, name length and name, value length and value.
        fn literal(name: &[u8], value: &[u8]) -> Vec<u8> {
            let mut b = vec![0x00, name.len() as u8];
            b.extend_from_slice(name);
            b.push(value.len() as u8);
            b.extend_from_slice(value);
            b
        }
        let refused: [(&str, Vec<u8>); 8] = [
            ("upper-case name", literal(b"X-Trace", b"1")),
            ("control character", literal(b"x-trace", b"a\nb")),
            ("unknown pseudo-header", literal(b":foo", b"bar")),
            ("status not 3 digits", literal(b":status", b"20")),
            ("status below 100", literal(b":status", b"099")),
            ("path not UTF-8", literal(b":path", b"/\xff")),
            ("method not a token", literal(b":method", b"GE T")),
            // RFC 7541 section 4.2: a size update after a field.
            ("late size update", hex("82 3f e1 01")),
        ];
        for (what, block) in refused {
            let mut d = Decoder::default();
            assert_eq!(d.decode(&block), Err(Error::Invalid), "{what}");
            assert_eq!(d.decode(&hex("82")), Err(Error::Unknown), "{what}");
        }
        // Connection-specific fields (RFC 9113 section 8.2.2) are h2's
        // frame layer's concern, not its HPACK decoder's: kept.
        let mut d = Decoder::default();
        let mut block = hex("82 87 84");
        block.extend(literal(b"connection", b"keep-alive"));
        block.extend(literal(b"host", b"example.com"));
        let f = d.decode(&block).unwrap();
        assert_eq!(f.host.as_deref(), Some("example.com"));
        assert_eq!(f.method.as_deref(), Some("GET"));
    }

    /// A size update that shrinks the table, then a rebuild: the fresh
    /// table has the shrunk maximum, so the next insertion evicts as the
    /// encoder's does (RFC 7541 section 4.4).
    #[test]
    fn a_rebuilt_table_keeps_its_maximum_size() {
        for (mut d, how) in [
            (Decoder::default(), "kept"),
            (Decoder::default().rebuilding_at(0), "rebuilt"),
        ] {
            // C.3's three requests: 164 bytes in three entries.
            for block in [
                "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                "8286 84be 5808 6e6f 2d63 6163 6865",
                "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
            ] {
                d.decode(&hex(block)).unwrap();
            }
            // Size update to 110 (31 + 79): the oldest entry (57 bytes)
            // goes; then index 62, the newest.
            assert_eq!(
                all(&mut d, &hex("3f4f be")),
                pairs(&[("custom-key", "custom-value")]),
                "{how}"
            );
            assert_eq!(table(&mut d).1, 107, "{how}");
            // :authority www.example.com (57 bytes) with incremental
            // indexing: 107 + 57 > 110 evicts both older entries.
            d.decode(&hex("410f 7777 772e 6578 616d 706c 652e 636f 6d"))
                .unwrap();
            assert_eq!(
                table(&mut d),
                (pairs(&[(":authority", "www.example.com")]), 57),
                "{how}"
            );
        }
    }

    /// The rebuild happens once the estimate passes REBUILD_AT, and only
    /// then: blocks of 1000 bytes count 11 000 bytes each.
    #[test]
    fn rebuilds_when_the_estimate_is_reached() {
        let mut d = Decoder::default();
        // Literal without indexing, name :path (static index 4), a raw
        // value of 996 bytes (0x7f, then 869 as 0xe5 0x06).
        let mut block = vec![0x04, 0x7f, 0xe5, 0x06];
        block.resize(1000, b'a');
        let per_block = 1000 * (HOLD_PER_BYTE + 1);
        let mut rebuilds = 0;
        for _ in 0..100 {
            let before = d.held;
            assert!(d.decode(&block).is_ok());
            if d.held < before {
                rebuilds += 1;
                assert!(before > REBUILD_AT, "{before}");
            }
            assert!(d.held <= REBUILD_AT + per_block, "{}", d.held);
        }
        assert_eq!(rebuilds, 100 * per_block / (REBUILD_AT + per_block));
    }

    mod property {
        use super::*;
        use proptest::prelude::*;

        /// Valid blocks to start from: RFC 7541 C.3 to C.6, the Go and
        /// nginx blocks above, and size updates (to 0, 256, 4096, 8192).
        const POOL: &[&str] = &[
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "4803 3330 37c1 c0bf",
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
            "418e21eaaac2da82ae92a13702f34d3382458c60d5485f2bce9a68ff0d007f8750839bd9ab7a8dc475a74a6b589418b525812e0f",
            "c182458c60d5485f2bce9a68ff0d00bf87c0bf",
            "887689aa6355e580ae212e1f6196df3dbf4a09c5349fba82009c5001b8d3b704e298b46f5f87497ca589d34d1f5c033430306c97df3dbf4a09c5349fba82009c5001b8d3971a694c5a37ff00832a47378cfe5c8c0ebd2bcd2c17c1fcff008919085ad2b583aa62a3848fd24a8f",
            "20",
            "3fe101",
            "3fe11f",
            "3fe13f",
        ];

        /// A pool block, maybe changed: 0 kept, 1 one byte replaced, 2 cut,
        /// 3 one byte appended.
        fn block() -> impl Strategy<Value = Vec<u8>> {
            (0..POOL.len(), 0u8..6, any::<usize>(), any::<u8>()).prop_map(|(i, how, at, byte)| {
                let mut b = hex(POOL[i]);
                let at = at % b.len();
                match how {
                    1 => b[at] = byte,
                    2 => b.truncate(at),
                    3 => b.push(byte),
                    _ => {}
                }
                b
            })
        }

        proptest! {
            /// Rebuilding the table changes nothing a decoder answers, on
            /// valid and damaged blocks alike.
            #[test]
            fn rebuilding_never_changes_an_answer(
                allowed in prop::sample::select(vec![0u32, 256, 4096, 8192, 65_536]),
                blocks in prop::collection::vec(block(), 1..16),
            ) {
                let mut kept = Decoder::default();
                let mut rebuilt = Decoder::default().rebuilding_at(0);
                let mut sometimes = Decoder::default().rebuilding_at(300);
                for d in [&mut kept, &mut rebuilt, &mut sometimes] {
                    d.allow_table_size(allowed);
                }
                let mut failed = false;
                for b in &blocks {
                    let want = kept.decode(b);
                    prop_assert_eq!(&rebuilt.decode(b), &want);
                    prop_assert_eq!(&sometimes.decode(b), &want);
                    if failed {
                        prop_assert_eq!(&want, &Err(Error::Unknown));
                    }
                    failed |= want.is_err();
                }
                let t = table(&mut kept);
                prop_assert_eq!(&table(&mut rebuilt), &t);
                prop_assert_eq!(&table(&mut sometimes), &t);
            }
        }
    }
}
