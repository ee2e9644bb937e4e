//! HTTP/2 frame layer (RFC 9113 section 4): splits one direction's byte
//! stream into frames, keeping only the payload bytes some frame type needs
//! (header blocks, settings, error codes) and skipping the rest (DATA
//! payloads, padding, unknown types) by length, without copying when a
//! frame arrives whole.

use crate::At;
use crate::budget::{Charge, growth, heap};

/// Frame types (RFC 9113 section 6).
pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

/// Flags (RFC 9113 sections 6.1 to 6.10).
pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;
pub const PRIORITY_FLAG: u8 = 0x20;

pub const HEADER_LEN: usize = 9;
/// The largest length a 24-bit field can declare (RFC 9113 section 4.1).
pub const MAX_LENGTH: u32 = (1 << 24) - 1;
/// SETTINGS_MAX_FRAME_SIZE's initial value (RFC 9113 section 6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// Most header block bytes (HEADERS, PUSH_PROMISE, CONTINUATION payloads)
/// kept for one frame or one assembled block.
pub const BLOCK_CAP: usize = 256 * 1024;
/// Most SETTINGS payload bytes kept (682 settings).
pub const SETTINGS_CAP: u32 = 4092;
/// Capacity the splitter keeps between frames: a frame of the default
/// SETTINGS_MAX_FRAME_SIZE (RFC 9113 section 6.5.2).
const KEPT_FRAME: usize = 16 * 1024;

/// The 9-byte frame header (RFC 9113 section 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub length: u32,
    pub kind: u8,
    pub flags: u8,
    /// The stream identifier, reserved bit cleared.
    pub stream_id: u32,
}

impl FrameHeader {
    pub fn parse(b: [u8; HEADER_LEN]) -> FrameHeader {
        let [l0, l1, l2, kind, flags, s0, s1, s2, s3] = b;
        FrameHeader {
            length: u32::from_be_bytes([0, l0, l1, l2]),
            kind,
            flags,
            // RFC 9113 section 4.1: the reserved bit is ignored on receipt.
            stream_id: u32::from_be_bytes([s0 & 0x7f, s1, s2, s3]),
        }
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Payload bytes worth keeping for this frame type.
    fn keep(&self) -> u32 {
        let want = match self.kind {
            DATA if self.has(PADDED) => 1,
            HEADERS | PUSH_PROMISE | CONTINUATION => BLOCK_CAP as u32,
            SETTINGS => SETTINGS_CAP,
            RST_STREAM => 4,
            GOAWAY => 8,
            _ => 0,
        };
        want.min(self.length)
    }
}

/// A whole frame: its header and the payload prefix kept for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub header: FrameHeader,
    pub kept: &'a [u8],
    /// The kept prefix is shorter than the payload because of a cap
    /// ([`BLOCK_CAP`] for header block frames, [`SETTINGS_CAP`]).
    pub truncated: bool,
    /// Bytes of the kept prefix were lost in a gap: `kept` is not usable.
    pub damaged: bool,
    /// The kept prefix could not be gathered for want of the capture's
    /// parser budget: `kept` is not usable.
    pub refused: bool,
    /// The packet carrying the frame's first byte.
    pub start: At,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next<'a> {
    NeedMore,
    /// A declared length above the limit in force: the stream cannot be
    /// framed any further.
    TooLarge {
        length: u32,
        limit: u32,
    },
    Frame(Frame<'a>),
}

/// What a gap did to the framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapOutcome {
    /// The gap lay within one frame's payload: framing goes on.
    Absorbed,
    /// The gap hit a frame header or ran past a frame: framing is lost.
    Lost,
}

#[derive(Clone, Copy, Debug)]
struct Current {
    header: FrameHeader,
    keep: u32,
    seen: u32,
    damaged: bool,
    refused: bool,
    start: At,
}

/// Incremental frame splitter for one direction.
#[derive(Debug)]
pub struct Splitter {
    head: [u8; HEADER_LEN],
    head_len: usize,
    head_start: At,
    cur: Option<Current>,
    kept: Vec<u8>,
    /// Frames longer than this are refused.
    pub limit: u32,
    /// Framing was lost; everything after is skipped.
    pub stopped: bool,
    /// What `kept` holds against the capture's parser budget.
    pub charge: Charge,
}

impl Default for Splitter {
    fn default() -> Self {
        Splitter {
            head: [0; HEADER_LEN],
            head_len: 0,
            head_start: At::default(),
            cur: None,
            kept: Vec::new(),
            limit: MAX_LENGTH,
            stopped: false,
            charge: Charge::default(),
        }
    }
}

impl Splitter {
    /// The next complete frame from `data`, advancing it past what was used.
    /// Call until it answers `NeedMore` (then `data` is empty) or `TooLarge`
    /// (then the splitter is stopped).
    pub fn next<'s, 'd: 's>(&'s mut self, data: &mut &'d [u8], at: At) -> Next<'s> {
        if self.stopped {
            *data = &[];
            return Next::NeedMore;
        }
        let mut cur = match self.cur {
            Some(c) => c,
            None => {
                let Some(header) = self.read_header(data, at) else {
                    return Next::NeedMore;
                };
                if header.length > self.limit {
                    self.stopped = true;
                    *data = &[];
                    return Next::TooLarge {
                        length: header.length,
                        limit: self.limit,
                    };
                }
                let c = Current {
                    header,
                    keep: header.keep(),
                    seen: 0,
                    damaged: false,
                    refused: false,
                    start: self.head_start,
                };
                self.kept.clear();
                // A frame that arrived whole is handed out in place.
                let len = header.length as usize;
                if let (Some(payload), Some(rest)) = (data.get(..len), data.get(len..)) {
                    let kept = payload.get(..c.keep as usize).unwrap_or_default();
                    *data = rest;
                    return Next::Frame(frame(c, kept));
                }
                self.cur = Some(c);
                c
            }
        };
        let remaining = cur.header.length.saturating_sub(cur.seen);
        let n = remaining.min(u32::try_from(data.len()).unwrap_or(u32::MAX));
        let (taken, rest) = data.split_at_checked(n as usize).unwrap_or((data, &[]));
        if cur.seen < cur.keep {
            let want = (cur.keep - cur.seen).min(n) as usize;
            if self.charge.take(growth(&self.kept, want)) {
                self.kept
                    .extend_from_slice(taken.get(..want).unwrap_or_default());
            } else {
                // Given up as a frame whose kept prefix was lost.
                cur.refused = true;
                cur.keep = cur.seen;
                self.kept = Vec::new();
            }
        }
        *data = rest;
        let seen = cur.seen.saturating_add(n);
        if seen < cur.header.length {
            self.cur = Some(Current { seen, ..cur });
            return Next::NeedMore;
        }
        self.cur = None;
        Next::Frame(frame(cur, &self.kept))
    }

    /// The bytes of a frame begun but not finished (its header so far, or
    /// its header and the payload seen); None when framing stopped or
    /// stands between frames.
    pub fn unfinished(&self) -> Option<u64> {
        if self.stopped {
            return None;
        }
        match (&self.cur, self.head_len) {
            (Some(c), _) => Some(HEADER_LEN as u64 + u64::from(c.seen)),
            (None, 0) => None,
            (None, n) => Some(n as u64),
        }
    }

    /// States what `kept` holds now against the parser budget; a buffer
    /// grown past [`KEPT_FRAME`] is given back first.
    pub fn sync(&mut self) {
        if self.cur.is_none() && self.kept.capacity() > KEPT_FRAME {
            self.kept = Vec::new();
        }
        self.charge.set(heap(&self.kept));
    }

    /// `len` bytes of this direction were lost.
    pub fn gap(&mut self, len: u64) -> GapOutcome {
        if self.stopped {
            return GapOutcome::Absorbed;
        }
        match self.cur.as_mut() {
            Some(c) if len <= u64::from(c.header.length.saturating_sub(c.seen)) => {
                // Any lost byte in the kept prefix spoils it.
                c.damaged |= c.seen < c.keep;
                c.seen = c.seen.saturating_add(len as u32);
                GapOutcome::Absorbed
            }
            _ => {
                self.stopped = true;
                self.cur = None;
                GapOutcome::Lost
            }
        }
    }

    fn read_header(&mut self, data: &mut &[u8], at: At) -> Option<FrameHeader> {
        if self.head_len == 0 {
            self.head_start = at;
            if let Some((h, rest)) = data.split_first_chunk::<HEADER_LEN>() {
                *data = rest;
                return Some(FrameHeader::parse(*h));
            }
        }
        let need = HEADER_LEN.saturating_sub(self.head_len);
        let (taken, rest) = data.split_at_checked(need).unwrap_or((data, &[]));
        if let Some(dst) = self
            .head
            .get_mut(self.head_len..self.head_len + taken.len())
        {
            dst.copy_from_slice(taken);
        }
        self.head_len += taken.len();
        *data = rest;
        if self.head_len < HEADER_LEN {
            return None;
        }
        self.head_len = 0;
        Some(FrameHeader::parse(self.head))
    }
}

fn frame(c: Current, kept: &[u8]) -> Frame<'_> {
    Frame {
        header: c.header,
        kept,
        truncated: c.keep < c.header.length
            && matches!(
                c.header.kind,
                HEADERS | PUSH_PROMISE | CONTINUATION | SETTINGS
            ),
        damaged: c.damaged,
        refused: c.refused,
        start: c.start,
    }
}

/// The fragment of a HEADERS or PUSH_PROMISE payload once the pad length,
/// the `prefix` bytes (priority fields or promised stream id) and the padding
/// are removed (RFC 9113 sections 6.2 and 6.6). None when the padding does not
/// fit (a PROTOCOL_ERROR for the receiver).
pub fn unpad(payload: &[u8], padded: bool, prefix: usize) -> Option<(&[u8], &[u8])> {
    let (pad, rest) = if padded {
        let (&p, rest) = payload.split_first()?;
        (usize::from(p), rest)
    } else {
        (0, payload)
    };
    let (prefix, rest) = rest.split_at_checked(prefix)?;
    let body = rest.get(..rest.len().checked_sub(pad)?)?;
    Some((prefix, body))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    //! Frame sequences from the `h2multi` fixture of `http2::tests` (written
    //! as a pcap and decoded by tshark 4.0.17 with `-d tcp.port==80,http2
    //! -T fields -e http2.type -e http2.streamid -e http2.flags -e http2.length
    //! -e http2.pad_length`); the expected headers below are tshark's.
    use super::*;
    use crate::Ts;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn at(p: u64) -> At {
        At {
            packet: p,
            ts: Ts(p as i64),
        }
    }

    /// The server's first segment: SETTINGS (12 bytes), an unknown type 0xfa
    /// (8 bytes), SETTINGS ACK; tshark: types 4,250,4, lengths 12,8,0.
    const SERVER1: &str = "00000c040000000000000300000064000500008000000008fa0000000000756e6b6e6f776e21000000040100000000";
    /// The server's second segment: HEADERS 3 (5), HEADERS 3 (5), DATA 3
    /// padded (16, pad length 5, END_STREAM|PADDED = 0x09).
    const SERVER2: &str = "0000050104000000030803313030000005010400000003080332303100001000090000000305303132333435363738390000000000";

    /// (type, flags, stream, length, kept bytes)
    type Seen = (u8, u8, u32, u32, Vec<u8>);

    fn split_all(s: &mut Splitter, mut data: &[u8], out: &mut Vec<Seen>) {
        loop {
            match s.next(&mut data, at(1)) {
                Next::Frame(f) => {
                    let h = f.header;
                    out.push((h.kind, h.flags, h.stream_id, h.length, f.kept.to_vec()));
                }
                Next::NeedMore => break,
                Next::TooLarge { .. } => panic!("too large"),
            }
        }
        assert!(data.is_empty());
    }

    fn expected() -> Vec<Seen> {
        vec![
            (SETTINGS, 0x00, 0, 12, hex("000300000064000500008000")),
            (0xfa, 0x00, 0, 8, vec![]),
            (SETTINGS, 0x01, 0, 0, vec![]),
            (HEADERS, 0x04, 3, 5, hex("0803313030")),
            (HEADERS, 0x04, 3, 5, hex("0803323031")),
            (DATA, 0x09, 3, 16, vec![5]),
        ]
    }

    #[test]
    fn splits_frames_and_keeps_what_matters() {
        let stream = [hex(SERVER1), hex(SERVER2)].concat();
        let mut out = Vec::new();
        split_all(&mut Splitter::default(), &stream, &mut out);
        assert_eq!(out, expected());
    }

    #[test]
    fn split_at_every_byte_boundary() {
        let stream = [hex(SERVER1), hex(SERVER2)].concat();
        for cut in 0..=stream.len() {
            let mut s = Splitter::default();
            let mut out = Vec::new();
            split_all(&mut s, &stream[..cut], &mut out);
            split_all(&mut s, &stream[cut..], &mut out);
            assert_eq!(out, expected(), "cut {cut}");
        }
        let mut s = Splitter::default();
        let mut out = Vec::new();
        for b in stream.chunks(1) {
            split_all(&mut s, b, &mut out);
        }
        assert_eq!(out, expected());
    }

    #[test]
    fn frame_start_is_the_packet_of_its_first_byte() {
        let stream = hex(SERVER2);
        let mut s = Splitter::default();
        // The first frame (14 bytes) and 2 bytes of the second's header.
        let mut data = &stream[..16];
        assert!(matches!(s.next(&mut data, at(7)), Next::Frame(f) if f.start == at(7)));
        assert_eq!(s.next(&mut data, at(7)), Next::NeedMore);
        let mut data = &stream[16..];
        assert!(matches!(s.next(&mut data, at(8)), Next::Frame(f) if f.start == at(7)));
    }

    #[test]
    fn padding_and_priority_are_stripped() {
        // Client HEADERS on stream 3 with PADDED|PRIORITY|END_HEADERS (0x2c):
        // pad length 3, dependency 0x80000001, weight 15, fragment, padding.
        // tshark: POST /upload example.com, pad length 3.
        let payload = hex("03800000010f838604072f75706c6f6164be000000");
        let (prio, fragment) = unpad(&payload, true, 5).unwrap();
        assert_eq!(prio, hex("800000010f"));
        assert_eq!(fragment, hex("838604072f75706c6f6164be"));
        assert_eq!(unpad(&hex("05aabb"), true, 0), None);
        assert_eq!(unpad(&[], true, 0), None);
        assert_eq!(unpad(&hex("aabb"), false, 4), None);
    }

    #[test]
    fn oversize_length_stops_the_direction() {
        let mut s = Splitter {
            limit: DEFAULT_MAX_FRAME_SIZE,
            ..Splitter::default()
        };
        let frame = hex("004001000400000001");
        let mut data = frame.as_slice();
        assert_eq!(
            s.next(&mut data, at(1)),
            Next::TooLarge {
                length: 16_385,
                limit: 16_384
            }
        );
        assert!(s.stopped);
        let more = hex(SERVER1);
        let mut data = more.as_slice();
        assert_eq!(s.next(&mut data, at(2)), Next::NeedMore);
        assert!(data.is_empty());
    }

    #[test]
    fn header_block_frames_are_capped() {
        let len = BLOCK_CAP as u32 + 1;
        let mut frame = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            HEADERS,
            0x04,
            0,
            0,
            0,
            1,
        ];
        frame.resize(HEADER_LEN + len as usize, 0x82);
        let mut s = Splitter::default();
        let mut data = frame.as_slice();
        let Next::Frame(f) = s.next(&mut data, at(1)) else {
            panic!()
        };
        assert!(f.truncated);
        assert_eq!(f.kept.len(), BLOCK_CAP);
        // Delivered in pieces, the kept buffer never passes the cap either.
        let mut s = Splitter::default();
        let mut seen = None;
        for piece in frame.chunks(10_000) {
            let mut data = piece;
            if let Next::Frame(f) = s.next(&mut data, at(1)) {
                seen = Some((f.truncated, f.kept.len()));
            }
            assert!(s.kept.len() <= BLOCK_CAP);
        }
        assert_eq!(seen, Some((true, BLOCK_CAP)));
    }

    #[test]
    fn gaps_inside_payloads_keep_framing() {
        let stream = [hex(SERVER1), hex(SERVER2)].concat();
        // Lose 10 of the 16 DATA payload bytes, after its pad length byte.
        let data_start = stream.len() - 16;
        let mut s = Splitter::default();
        let mut out = Vec::new();
        split_all(&mut s, &stream[..data_start + 1], &mut out);
        assert_eq!(s.gap(10), GapOutcome::Absorbed);
        split_all(&mut s, &stream[data_start + 11..], &mut out);
        assert_eq!(out, expected());

        // Losing the pad length byte damages the frame but not the framing.
        let mut s = Splitter::default();
        let mut data = &stream[..data_start];
        while let Next::Frame(_) = s.next(&mut data, at(1)) {}
        assert_eq!(s.gap(16), GapOutcome::Absorbed);
        let mut empty: &[u8] = &[];
        let Next::Frame(f) = s.next(&mut empty, at(1)) else {
            panic!()
        };
        assert!(f.damaged);

        // Losing bytes of a frame header loses the framing.
        let mut s = Splitter::default();
        let mut data = &stream[..4];
        assert_eq!(s.next(&mut data, at(1)), Next::NeedMore);
        assert_eq!(s.gap(3), GapOutcome::Lost);
        assert!(s.stopped);
    }

    #[test]
    fn header_layout() {
        // RFC 9113 section 4.1: the reserved bit is masked off.
        let h = FrameHeader::parse([0x01, 0x02, 0x03, 0x09, 0x04, 0x80, 0x00, 0x00, 0x05]);
        assert_eq!(
            h,
            FrameHeader {
                length: 0x010203,
                kind: CONTINUATION,
                flags: END_HEADERS,
                stream_id: 5
            }
        );
    }
}
