//! TLS record framing of one direction's byte stream (RFC 8446 5.1, RFC 5246 6.2): headers split anywhere, fragments delivered whole or skipped by length, SSLv2-compatible hello, resynchronisation after a gap, and the length cap.

use super::{AnomalyKind, MAX_RECORD_LEN, content};
use crate::budget::{Charge, growth, heap};
use crate::{At, Side};

const HEADER: State = State::Header {
    buf: [0; 5],
    have: 0,
    sslv2: false,
};

/// Pseudo content type for an SSLv2-compatible record (never on the wire).
pub const SSLV2: u8 = 0x80;

/// Skipped bytes allowed while resynchronising before the side is given up.
const MAX_RESYNC: u64 = 1 << 20;

/// What the framer hands to the session.
#[derive(Debug, PartialEq)]
pub enum RecordEvent<'a> {
    /// A whole record whose fragment the session asked for. `ctype` is
    /// [`SSLV2`] for an SSLv2-compatible record (version 0x0002).
    Record {
        ctype: u8,
        version: u16,
        fragment: &'a [u8],
    },
    /// A record the session did not ask for, announced when its header is
    /// read; its fragment is skipped by length and never copied.
    Skipped { ctype: u8, version: u16, len: usize },
    /// Bytes of an asked-for record were lost in a gap; the record is dropped.
    Damaged { ctype: u8 },
}

/// The session side of the framer: decides which fragments it wants, and
/// takes events and anomalies.
pub trait RecordSink {
    /// Called at each header: true to receive the fragment, false to have it
    /// skipped by length. This is where a decryptor asks for ciphertext.
    fn wants(&self, side: Side, ctype: u8) -> bool;
    fn on_record(&mut self, side: Side, event: RecordEvent<'_>, at: At);
    fn on_anomaly(&mut self, kind: AnomalyKind, side: Side, at: At, bytes: Option<u64>);
}

#[derive(Debug)]
enum State {
    /// Nothing seen on this side yet: an SSLv2 header is allowed here.
    Start,
    /// Reading a 5-byte header, or the 2-byte header of an SSLv2 record.
    Header {
        buf: [u8; 5],
        have: usize,
        sslv2: bool,
    },
    /// Inside a fragment: `remaining` bytes of it still to come.
    Body {
        ctype: u8,
        version: u16,
        remaining: usize,
        keep: bool,
    },
    /// Looking for a plausible header after a gap or a bad header.
    Resync { skipped: u64 },
    /// Parsing stopped on this side (oversized record, SSLv2 server,
    /// resynchronisation budget exhausted).
    Dead,
}

/// Framing state of one side.
#[derive(Debug)]
pub struct Framer {
    side: Side,
    state: State,
    /// Fragment bytes of a kept record that arrived split across calls.
    frag: Vec<u8>,
    /// What `frag` holds against the capture's parser budget: a record
    /// gathered for its handshake or alert is given up (`Damaged`, anomaly
    /// `parser_budget`) when the budget is spent; application data (which a
    /// decryptor needs whole, in sequence) is counted, never refused, within
    /// [`MAX_RECORD_LEN`].
    pub charge: Charge,
    /// Up to 4 bytes held over while resynchronising, so a header split
    /// across calls is still found.
    tail: Vec<u8>,
    /// The record-layer version of the last good header on this side.
    last_version: Option<u16>,
    last_at: At,
}

/// RFC 8446 5.1 content types that exist (20..=24), a 3.x version (or, when
/// the side's version is known, that version or 0x0303: a client's first
/// record often says 0x0301 and every later one 0x0303), a length within
/// the cap.
fn plausible(ctype: u8, version: u16, len: usize, expect: Option<u16>) -> bool {
    (content::CHANGE_CIPHER_SPEC..=content::HEARTBEAT).contains(&ctype)
        && match expect {
            Some(v) => version == v || version == 0x0303,
            None => (0x0300..=0x0304).contains(&version),
        }
        && len <= MAX_RECORD_LEN
}

fn header_at(buf: &[u8], i: usize) -> Option<(u8, u16, usize)> {
    match buf.get(i..i + 5)? {
        &[t, v0, v1, l0, l1] => Some((
            t,
            u16::from_be_bytes([v0, v1]),
            usize::from(u16::from_be_bytes([l0, l1])),
        )),
        _ => None,
    }
}

impl Framer {
    pub fn new(side: Side) -> Self {
        Framer {
            side,
            state: State::Start,
            frag: Vec::new(),
            charge: Charge::default(),
            tail: Vec::new(),
            last_version: None,
            last_at: At::default(),
        }
    }

    #[cfg(test)]
    pub fn is_dead(&self) -> bool {
        matches!(self.state, State::Dead)
    }

    /// Consume the next in-order bytes of this side.
    pub fn on_data(&mut self, mut data: &[u8], at: At, sink: &mut impl RecordSink) {
        self.last_at = at;
        while !data.is_empty() {
            // The common case first: the fragment of a record nobody asked
            // for, skipped by length right here.
            if let State::Body {
                remaining,
                keep: false,
                ..
            } = &mut self.state
            {
                let take = (*remaining).min(data.len());
                *remaining -= take;
                if *remaining == 0 {
                    self.state = HEADER;
                }
                data = data.get(take..).unwrap_or_default();
                continue;
            }
            data = match self.state {
                State::Start => self.on_start(data, at, sink),
                State::Header { .. } => self.on_header(data, at, sink),
                State::Body { .. } => self.on_body(data, at, sink),
                State::Resync { .. } => self.on_resync(data, at, sink),
                State::Dead => &[],
            };
        }
    }

    /// `len` bytes of this side were lost; the stream continues after them.
    pub fn on_gap(&mut self, len: u64, sink: &mut impl RecordSink) {
        let at = self.last_at;
        self.state = match std::mem::replace(&mut self.state, State::Dead) {
            // The loss fell inside a record: its boundary is still known.
            State::Body {
                ctype,
                version,
                remaining,
                keep,
            } if len <= remaining as u64 => {
                if keep {
                    self.frag.clear();
                    sink.on_record(self.side, RecordEvent::Damaged { ctype }, at);
                }
                let remaining = remaining - len as usize;
                if remaining == 0 {
                    HEADER
                } else {
                    State::Body {
                        ctype,
                        version,
                        remaining,
                        keep: false,
                    }
                }
            }
            State::Body { ctype, keep, .. } => {
                if keep {
                    self.frag.clear();
                    sink.on_record(self.side, RecordEvent::Damaged { ctype }, at);
                }
                State::Resync { skipped: 0 }
            }
            State::Start | State::Header { .. } => State::Resync { skipped: 0 },
            State::Resync { skipped } => {
                self.tail.clear();
                State::Resync { skipped }
            }
            State::Dead => State::Dead,
        };
    }

    /// The capture ended or the connection closed: report an unfinished
    /// resynchronisation.
    pub fn on_close(&mut self, sink: &mut impl RecordSink) {
        if let State::Resync { skipped } = self.state {
            let skipped = skipped + self.tail.len() as u64;
            if skipped > 0 {
                sink.on_anomaly(AnomalyKind::Resync, self.side, self.last_at, Some(skipped));
            }
            self.tail.clear();
            self.state = State::Resync { skipped: 0 };
        }
    }

    fn on_start<'a>(&mut self, data: &'a [u8], at: At, sink: &mut impl RecordSink) -> &'a [u8] {
        let sslv2 = data.first().is_some_and(|b| b & 0x80 != 0);
        if sslv2 && self.side == Side::Server {
            sink.on_anomaly(AnomalyKind::Sslv2Server, self.side, at, None);
            self.state = State::Dead;
            return &[];
        }
        // RFC 5246 E.2: only a client's first record may be SSLv2-compatible.
        self.state = State::Header {
            buf: [0; 5],
            have: 0,
            sslv2,
        };
        data
    }

    fn on_header<'a>(&mut self, data: &'a [u8], at: At, sink: &mut impl RecordSink) -> &'a [u8] {
        let State::Header {
            mut buf,
            mut have,
            sslv2,
        } = self.state
        else {
            return data;
        };
        let need = if sslv2 { 2 } else { 5 };
        let rest = match data {
            // The common case: a whole header at the front, read in place.
            [t, v0, v1, l0, l1, rest @ ..] if have == 0 && !sslv2 => {
                buf = [*t, *v0, *v1, *l0, *l1];
                rest
            }
            _ => {
                let take = (need - have).min(data.len());
                let (head, rest) = data.split_at_checked(take).unwrap_or((data, &[]));
                for (dst, src) in buf.iter_mut().skip(have).zip(head) {
                    *dst = *src;
                }
                have += take;
                if have < need {
                    self.state = State::Header { buf, have, sslv2 };
                    return rest;
                }
                rest
            }
        };
        if sslv2 {
            let [b0, b1, ..] = buf;
            let len = usize::from(u16::from_be_bytes([b0 & 0x7f, b1]));
            self.begin_body(SSLV2, 0x0002, len, at, sink);
            return rest;
        }
        let [ctype, v0, v1, l0, l1] = buf;
        let version = u16::from_be_bytes([v0, v1]);
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if plausible(ctype, version, 0, None) && len > MAX_RECORD_LEN {
            sink.on_anomaly(
                AnomalyKind::OversizedRecord,
                self.side,
                at,
                Some(len as u64),
            );
            self.state = State::Dead;
            return &[];
        }
        if !plausible(ctype, version, len, None) {
            sink.on_anomaly(AnomalyKind::BadRecordHeader, self.side, at, None);
            // The header bytes after the first are searched again.
            self.tail.clear();
            self.tail
                .extend_from_slice(buf.get(1..).unwrap_or_default());
            self.state = State::Resync { skipped: 1 };
            return rest;
        }
        self.last_version = Some(version);
        self.begin_body(ctype, version, len, at, sink);
        rest
    }

    fn begin_body(
        &mut self,
        ctype: u8,
        version: u16,
        len: usize,
        at: At,
        sink: &mut impl RecordSink,
    ) {
        let keep = ctype == SSLV2 || sink.wants(self.side, ctype);
        if !keep {
            sink.on_record(
                self.side,
                RecordEvent::Skipped {
                    ctype,
                    version,
                    len,
                },
                at,
            );
        }
        self.frag.clear();
        if keep && len == 0 {
            sink.on_record(
                self.side,
                RecordEvent::Record {
                    ctype,
                    version,
                    fragment: &[],
                },
                at,
            );
            self.state = HEADER;
            return;
        }
        self.state = if len == 0 {
            HEADER
        } else {
            State::Body {
                ctype,
                version,
                remaining: len,
                keep,
            }
        };
    }

    fn on_body<'a>(&mut self, data: &'a [u8], at: At, sink: &mut impl RecordSink) -> &'a [u8] {
        let State::Body {
            ctype,
            version,
            remaining,
            mut keep,
        } = self.state
        else {
            return data;
        };
        let take = remaining.min(data.len());
        let (chunk, rest) = data.split_at_checked(take).unwrap_or((data, &[]));
        let remaining = remaining - take;
        if keep {
            if remaining == 0 && self.frag.is_empty() {
                // The whole fragment is in this call: no copy.
                sink.on_record(
                    self.side,
                    RecordEvent::Record {
                        ctype,
                        version,
                        fragment: chunk,
                    },
                    at,
                );
            } else if ctype != content::APPLICATION_DATA
                && !self.charge.take(growth(&self.frag, chunk.len()))
            {
                let declared = self.frag.len() + take + remaining;
                self.frag = Vec::new();
                self.charge.set(0);
                sink.on_record(self.side, RecordEvent::Damaged { ctype }, at);
                sink.on_anomaly(
                    AnomalyKind::ParserBudget,
                    self.side,
                    at,
                    Some(declared as u64),
                );
                // The rest of the record is skipped by length.
                keep = false;
            } else {
                self.frag.extend_from_slice(chunk);
                if remaining == 0 {
                    sink.on_record(
                        self.side,
                        RecordEvent::Record {
                            ctype,
                            version,
                            fragment: &self.frag,
                        },
                        at,
                    );
                    self.frag.clear();
                }
                self.charge.set(heap(&self.frag));
            }
        }
        self.state = if remaining == 0 {
            HEADER
        } else {
            State::Body {
                ctype,
                version,
                remaining,
                keep,
            }
        };
        rest
    }

    /// Search `tail + data` for a header that is plausible for this side
    /// (same record version as before the loss, known type, length within
    /// the cap) and, when the next header is also in view, followed by a
    /// plausible one. Only runs after a loss, so the copy is off the common
    /// path.
    fn on_resync<'a>(&mut self, data: &'a [u8], at: At, sink: &mut impl RecordSink) -> &'a [u8] {
        let State::Resync { skipped } = self.state else {
            return data;
        };
        let mut window = std::mem::take(&mut self.tail);
        let held = window.len();
        window.extend_from_slice(data);
        let expect = self.last_version;
        let mut found = None;
        let mut i = 0;
        while i + 5 <= window.len() {
            if let Some((t, v, len)) = header_at(&window, i)
                && plausible(t, v, len, expect)
            {
                let next = i + 5 + len;
                let confirmed = match header_at(&window, next) {
                    Some((t2, v2, len2)) => plausible(t2, v2, len2, Some(v)),
                    None => true,
                };
                if confirmed {
                    found = Some(i);
                    break;
                }
            }
            i += 1;
        }
        match found {
            Some(i) => {
                let skipped = skipped + i as u64;
                if skipped > 0 {
                    sink.on_anomaly(AnomalyKind::Resync, self.side, at, Some(skipped));
                }
                self.state = HEADER;
                // Positions before `held` came from the tail; replay the
                // header bytes taken from it, then continue in `data`.
                if i < held {
                    let replay: Vec<u8> = window.get(i..held).unwrap_or_default().to_vec();
                    let mut d: &[u8] = &replay;
                    while !d.is_empty() {
                        d = match self.state {
                            State::Header { .. } => self.on_header(d, at, sink),
                            State::Body { .. } => self.on_body(d, at, sink),
                            _ => &[],
                        };
                    }
                    data
                } else {
                    data.get(i - held..).unwrap_or_default()
                }
            }
            None => {
                let keep_from = window.len().saturating_sub(4);
                let skipped = skipped + keep_from as u64;
                self.tail = window.split_off(keep_from);
                if skipped > MAX_RESYNC {
                    sink.on_anomaly(AnomalyKind::Resync, self.side, at, Some(skipped));
                    self.tail.clear();
                    self.state = State::Dead;
                } else {
                    self.state = State::Resync { skipped };
                }
                &[]
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
    use crate::Ts;

    /// Records every event as owned data.
    #[derive(Default)]
    struct Log {
        want: Vec<u8>,
        events: Vec<(u8, u16, Option<Vec<u8>>, usize)>,
        damaged: usize,
        anomalies: Vec<(AnomalyKind, Option<u64>)>,
    }

    impl RecordSink for Log {
        fn wants(&self, _: Side, ctype: u8) -> bool {
            self.want.contains(&ctype)
        }
        fn on_record(&mut self, _: Side, e: RecordEvent<'_>, _: At) {
            match e {
                RecordEvent::Record {
                    ctype,
                    version,
                    fragment,
                } => self
                    .events
                    .push((ctype, version, Some(fragment.to_vec()), fragment.len())),
                RecordEvent::Skipped {
                    ctype,
                    version,
                    len,
                } => self.events.push((ctype, version, None, len)),
                RecordEvent::Damaged { .. } => self.damaged += 1,
            }
        }
        fn on_anomaly(&mut self, kind: AnomalyKind, _: Side, _: At, bytes: Option<u64>) {
            self.anomalies.push((kind, bytes));
        }
    }

    fn at(p: u64) -> At {
        At {
            packet: p,
            ts: Ts(0),
        }
    }

    /// A handshake record, a CCS, and an application-data record.
    fn stream() -> Vec<u8> {
        let mut s = vec![0x16, 0x03, 0x03, 0x00, 0x04, 0x0e, 0x00, 0x00, 0x00];
        s.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
        s.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x03, 0xaa, 0xbb, 0xcc]);
        s
    }

    fn run(chunks: &[&[u8]], want: &[u8]) -> Log {
        let mut log = Log {
            want: want.to_vec(),
            ..Log::default()
        };
        let mut f = Framer::new(Side::Server);
        for (i, c) in chunks.iter().enumerate() {
            f.on_data(c, at(i as u64 + 1), &mut log);
        }
        f.on_close(&mut log);
        log
    }

    fn expected() -> Vec<(u8, u16, Option<Vec<u8>>, usize)> {
        vec![
            (22, 0x0303, Some(vec![0x0e, 0, 0, 0]), 4),
            (20, 0x0303, Some(vec![1]), 1),
            (23, 0x0303, None, 3),
        ]
    }

    #[test]
    fn several_records_in_one_call() {
        let log = run(&[&stream()], &[20, 21, 22]);
        assert_eq!(log.events, expected());
        assert!(log.anomalies.is_empty());
    }

    #[test]
    fn records_split_at_every_offset() {
        let s = stream();
        for cut in 0..=s.len() {
            let (a, b) = s.split_at(cut);
            let log = run(&[a, b], &[20, 21, 22]);
            assert_eq!(log.events, expected(), "cut at {cut}");
        }
        // One byte per call.
        let bytes: Vec<&[u8]> = s.chunks(1).collect();
        assert_eq!(run(&bytes, &[20, 21, 22]).events, expected());
    }

    #[test]
    fn oversized_record_stops_the_side() {
        // 2^14 + 2049 = 0x4801.
        let log = run(&[&[0x17, 0x03, 0x03, 0x48, 0x01, 0, 0], &stream()], &[22]);
        assert_eq!(
            log.anomalies,
            vec![(AnomalyKind::OversizedRecord, Some(0x4801))]
        );
        assert!(log.events.is_empty());
        // Exactly the cap is accepted.
        let mut ok = vec![0x17, 0x03, 0x03, 0x48, 0x00];
        ok.resize(5 + MAX_RECORD_LEN, 0);
        let log = run(&[&ok], &[]);
        assert_eq!(log.events, vec![(23, 0x0303, None, MAX_RECORD_LEN)]);
    }

    #[test]
    fn garbage_before_a_record_is_skipped_and_counted() {
        let mut s = b"xyz!".to_vec();
        s.extend_from_slice(&stream());
        let log = run(&[&s], &[20, 21, 22]);
        assert_eq!(log.events, expected());
        assert_eq!(
            log.anomalies,
            vec![
                (AnomalyKind::BadRecordHeader, None),
                (AnomalyKind::Resync, Some(4))
            ]
        );
    }

    #[test]
    fn gap_inside_a_skipped_record_keeps_the_framing() {
        let s = stream();
        // Lose 2 of the 3 application-data bytes, then the last byte and a
        // following record arrive.
        let mut log = Log {
            want: vec![20, 21, 22],
            ..Log::default()
        };
        let mut f = Framer::new(Side::Server);
        f.on_data(s.get(..20).unwrap_or_default(), at(1), &mut log);
        f.on_gap(2, &mut log);
        f.on_data(
            &[0xcc, 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28],
            at(2),
            &mut log,
        );
        assert!(log.anomalies.is_empty());
        assert_eq!(log.events.last(), Some(&(21, 0x0303, Some(vec![2, 40]), 2)));
    }

    #[test]
    fn gap_across_records_resynchronises() {
        let s = stream();
        let mut log = Log {
            want: vec![20, 21, 22],
            ..Log::default()
        };
        let mut f = Framer::new(Side::Server);
        // First record, then lose the CCS record and 2 bytes of the header of
        // the application-data record; then garbage-looking tail and a good
        // alert record.
        f.on_data(s.get(..9).unwrap_or_default(), at(1), &mut log);
        f.on_gap(8, &mut log);
        let mut rest = s.get(17..).unwrap_or_default().to_vec();
        rest.extend_from_slice(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00]);
        f.on_data(&rest, at(2), &mut log);
        assert_eq!(log.anomalies, vec![(AnomalyKind::Resync, Some(6))]);
        assert_eq!(log.events.last(), Some(&(21, 0x0303, Some(vec![1, 0]), 2)));
    }

    #[test]
    fn gap_inside_a_kept_record_damages_it() {
        let s = stream();
        let mut log = Log {
            want: vec![20, 21, 22],
            ..Log::default()
        };
        let mut f = Framer::new(Side::Server);
        f.on_data(s.get(..6).unwrap_or_default(), at(1), &mut log);
        f.on_gap(2, &mut log);
        f.on_data(s.get(8..).unwrap_or_default(), at(2), &mut log);
        assert_eq!(log.damaged, 1);
        assert_eq!(log.events, expected().split_off(1));
    }

    #[test]
    fn sslv2_hello_on_the_client_side() {
        // 80 0b: an 11-byte SSLv2 record, then a TLS alert record.
        let mut s = vec![0x80, 0x0b, 1, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        s.extend_from_slice(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28]);
        for cut in 0..=s.len() {
            let (a, b) = s.split_at(cut);
            let mut log = Log {
                want: vec![21],
                ..Log::default()
            };
            let mut f = Framer::new(Side::Client);
            f.on_data(a, at(1), &mut log);
            f.on_data(b, at(2), &mut log);
            assert_eq!(log.events.len(), 2, "cut {cut}");
            assert_eq!(
                log.events.first().map(|e| (e.0, e.1, e.3)),
                Some((SSLV2, 2, 11))
            );
        }
        // The server side never speaks SSLv2 here.
        let log = run(&[&[0x80, 0x0b, 4]], &[]);
        assert_eq!(log.anomalies, vec![(AnomalyKind::Sslv2Server, None)]);
    }

    #[test]
    fn gap_ending_exactly_at_a_record_boundary_needs_no_search() {
        let s = stream();
        let mut log = Log {
            want: vec![20, 21, 22],
            ..Log::default()
        };
        let mut f = Framer::new(Side::Server);
        f.on_data(&s[..5], at(1), &mut log);
        f.on_gap(4, &mut log);
        f.on_data(&s[9..], at(2), &mut log);
        assert!(log.anomalies.is_empty());
        assert_eq!(log.damaged, 1);
        assert_eq!(log.events, expected().split_off(1));
    }

    #[test]
    fn resync_after_a_tls10_hello_record_finds_tls12_records() {
        // A client's hello record says 3.1, its later records 3.3.
        let mut log = Log::default();
        let mut f = Framer::new(Side::Client);
        f.on_data(&[0x16, 0x03, 0x01, 0x00, 0x01, 0x00], at(1), &mut log);
        f.on_gap(100, &mut log);
        let mut d = vec![0xee; 7];
        d.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x01, 0xaa]);
        f.on_data(&d, at(2), &mut log);
        assert_eq!(log.anomalies, vec![(AnomalyKind::Resync, Some(7))]);
        assert_eq!(log.events.last(), Some(&(23, 0x0303, None, 1)));
    }

    #[test]
    fn resync_budget_ends_the_side() {
        let junk = vec![0u8; 64 * 1024];
        let mut log = Log::default();
        let mut f = Framer::new(Side::Server);
        for _ in 0..20 {
            f.on_data(&junk, at(1), &mut log);
        }
        assert!(f.is_dead());
        assert_eq!(
            log.anomalies.first(),
            Some(&(AnomalyKind::BadRecordHeader, None))
        );
        assert_eq!(log.anomalies.len(), 2);
    }
}
