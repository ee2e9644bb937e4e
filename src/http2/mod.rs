//! HTTP/2 (RFC 9113) over one TCP connection, cleartext or decrypted: frames
//! both byte streams, decodes every header block with a per-direction HPACK
//! decoder, and reports one exchange per client-initiated stream, with the
//! connection's settings, resets, GOAWAYs, pushes and peak concurrency.
//! Bounded memory whatever the input; every oddity becomes an [`Anomaly`].
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod frame;
pub mod hpack;

use crate::budget::{Charge, growth, heap};
use crate::ledger::Request;
use crate::{At, Side};
use frame::{GapOutcome, Next, Splitter};
use serde::Serialize;
use std::collections::VecDeque;

/// The client connection preface (RFC 9113 section 3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Most streams tracked at once (open, or finished but waiting for an
/// earlier stream so that exchanges come out in order).
pub const STREAM_CAP: usize = 10_000;
/// Most bytes of method, path and authority the tracked streams of one
/// connection keep: a one-byte HPACK reference can stand for a 2048-byte
/// `:path`, so [`STREAM_CAP`] streams alone could hold 20 MB from 10 KB
/// of input. Past it a new stream's request keeps no fields (anomaly
/// `field_truncated`; the request is still counted).
pub const STREAM_TEXT_BUDGET: usize = 1 << 20;
/// Anomalies kept per connection; later ones are only counted.
pub const ANOMALY_CAP: usize = 32;
/// RST_STREAM and GOAWAY details kept per connection; later ones are only
/// counted.
pub const EVENT_CAP: usize = 64;

/// Whether a stream starts with the HTTP/2 client preface; None while
/// `first_bytes` is a proper prefix of it.
pub fn is_h2_preface(first_bytes: &[u8]) -> Option<bool> {
    let n = first_bytes.len().min(PREFACE.len());
    if first_bytes.get(..n) != PREFACE.get(..n) {
        Some(false)
    } else if n < PREFACE.len() {
        None
    } else {
        Some(true)
    }
}

/// A stream reset (RFC 9113 section 6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Reset {
    pub stream_id: u32,
    pub by: Side,
    /// RFC 9113 section 7 error code (0x8 CANCEL, 0x7 REFUSED_STREAM, ...).
    pub error_code: u32,
    pub packet: u64,
}

/// A GOAWAY frame (RFC 9113 section 6.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct GoAway {
    pub by: Side,
    pub last_stream_id: u32,
    pub error_code: u32,
    pub packet: u64,
}

/// One client-initiated stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Exchange {
    pub request: Request,
    /// False when the request's header block could not be decoded (HPACK
    /// state lost): method and path are then empty, not known.
    pub request_headers_known: bool,
    pub reset: Option<Reset>,
}

impl Exchange {
    /// The bytes of request text it keeps (see [`STREAM_TEXT_BUDGET`]).
    fn request_text(&self) -> usize {
        let r = &self.request;
        r.method.len() + r.path.len() + r.authority.as_ref().map_or(0, String::len)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// The client's bytes did not start with the connection preface; that
    /// direction is not read.
    BadPreface,
    /// A frame longer than the receiver's SETTINGS_MAX_FRAME_SIZE (or 2^24-1
    /// before its SETTINGS were seen); that direction is not read further.
    FrameTooLarge,
    /// Bytes lost outside a frame payload: that direction is not read further.
    GapLostFraming,
    /// Bytes of a header block were lost: HPACK state is lost.
    GapInHeaderBlock,
    /// A header block above [`frame::BLOCK_CAP`]: HPACK state is lost.
    HeaderBlockTooLarge,
    /// HPACK decoding failed: this direction's header state is unknown
    /// from here on.
    HpackError,
    /// A kept field was longer than its cap (`:path` 2048 bytes,
    /// `:authority`, `host`, `:method`, `:scheme` 264): the request shows
    /// its beginning.
    FieldTruncated,
    /// A frame other than CONTINUATION interrupted a header block, or a
    /// CONTINUATION came without one (RFC 9113 section 6.10).
    ContinuationError,
    /// Padding longer than the payload (RFC 9113 sections 6.1, 6.2, 6.6).
    BadPadding,
    /// A frame whose length its type forbids (RFC 9113 section 6).
    BadFrameSize,
    /// A stream identifier its frame type or sender forbids (RFC 9113
    /// section 5.1.1).
    BadStreamId,
    /// More than [`STREAM_CAP`] streams at once: the oldest was reported as it
    /// stood.
    TooManyStreams,
    /// A setting value outside its range (RFC 9113 section 6.5.2).
    BadSetting,
    /// A SETTINGS frame longer than [`frame::SETTINGS_CAP`]: the rest was
    /// skipped.
    SettingsTooLong,
    /// The connection ended inside a frame (the capture stopped, or the
    /// peer did): `bytes` of it were seen and not read. A HEADERS frame cut
    /// this way is a request or response not counted.
    TruncatedAtClose,
    /// A buffer not grown because the capture's parser budget
    /// ([`crate::budget::PARSER_BUDGET`]) was spent, given up as at its own
    /// cap: a header block or the frame carrying it (HPACK state lost), an
    /// HPACK table (state lost), a stream's request text (not kept), a
    /// stream (the oldest reported as it stands). One per side, `bytes`
    /// summing what was given up.
    ParserBudget,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    pub side: Side,
    pub packet: u64,
    pub kind: AnomalyKind,
    /// For [`AnomalyKind::ParserBudget`]: the bytes given up.
    pub bytes: Option<u64>,
}

/// Connection-level facts.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Client-initiated streams opened (each is one request).
    pub requests: u64,
    /// Most client-initiated streams open or half-closed at once (RFC 9113
    /// section 5.1.2 counts these against MAX_CONCURRENT_STREAMS).
    pub peak_concurrent_streams: u32,
    /// The server's last SETTINGS_MAX_CONCURRENT_STREAMS.
    pub max_concurrent_streams: Option<u32>,
    pub goaways: Vec<GoAway>,
    pub resets: Vec<Reset>,
    pub resets_by_client: u64,
    pub resets_by_server: u64,
    /// GOAWAY and RST_STREAM details beyond [`EVENT_CAP`].
    pub events_dropped: u64,
    /// PUSH_PROMISE frames (server push; not client requests).
    pub pushes: u64,
    /// Directions whose header (HPACK) state was lost.
    pub headers_lost: Vec<Side>,
    /// Directions whose framing was lost (not read further).
    pub stopped: Vec<Side>,
    pub anomalies: Vec<Anomaly>,
    pub anomalies_dropped: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockKind {
    Headers { end_stream: bool },
    PushPromise,
}

/// A header block waiting for its CONTINUATION frames.
#[derive(Clone, Copy, Debug)]
struct Block {
    stream_id: u32,
    kind: BlockKind,
    start: At,
}

/// One client-initiated stream (RFC 9113 section 5.1 states, as seen by an
/// observer: idle until the client's HEADERS, open, half-closed once one side
/// sent END_STREAM, closed once both did or either reset it).
#[derive(Debug)]
struct Stream {
    id: u32,
    exchange: Exchange,
    client_ended: bool,
    server_ended: bool,
    /// Response body bytes; None once a lost pad length made them unknown.
    bytes: Option<u64>,
    closed: bool,
}

/// A value for each side.
#[derive(Debug, Default)]
struct Sides<T> {
    client: T,
    server: T,
}

impl<T> Sides<T> {
    fn get(&self, side: Side) -> &T {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }

    fn get_mut(&mut self, side: Side) -> &mut T {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }
}

/// HTTP/2 state of one TCP connection.
#[derive(Debug)]
pub struct Http2 {
    split: Sides<Splitter>,
    last_at: Sides<At>,
    /// Client preface bytes still expected.
    preface_left: usize,
    conn: Conn,
}

/// Everything but the splitters, so a frame borrowed from a splitter can be
/// handled while the other fields change.
#[derive(Debug, Default)]
struct Conn {
    /// HPACK decoders, by the side that encoded the blocks.
    hpack: Sides<hpack::Decoder>,
    block: Sides<Option<Block>>,
    block_buf: Sides<Vec<u8>>,
    /// Largest SETTINGS_MAX_FRAME_SIZE each side advertised, once its
    /// SETTINGS were seen (it limits what the other side sends).
    max_frame: Sides<Option<u32>>,
    /// Client-initiated streams by ascending id (RFC 9113 section 5.1.1:
    /// new ids only grow).
    streams: VecDeque<Stream>,
    last_client_stream: u32,
    open: u32,
    evicted: bool,
    /// Bytes of request text the tracked streams keep
    /// ([`STREAM_TEXT_BUDGET`]).
    held_text: usize,
    done: Vec<Exchange>,
    summary: Summary,
    /// What the header blocks, HPACK tables (by their declared size) and
    /// streams hold against the capture's parser budget.
    charge: Charge,
}

impl Http2 {
    /// Cleartext HTTP/2 with prior knowledge (RFC 9113 section 3.3): the
    /// client starts with the preface.
    pub fn new_prior_knowledge() -> Self {
        Http2 {
            split: Sides::default(),
            last_at: Sides::default(),
            preface_left: PREFACE.len(),
            conn: Conn::default(),
        }
    }

    /// Counts this parser's buffers, tables and streams against
    /// `charge`'s budget.
    pub fn with_charge(mut self, charge: Charge) -> Self {
        self.split.client.charge = charge.sibling();
        self.split.server.charge = charge.sibling();
        self.conn.charge = charge;
        self.sync();
        self
    }

    fn sync(&mut self) {
        self.split.client.sync();
        self.split.server.sync();
        let held = self.conn.held();
        self.conn.charge.set(held);
    }

    /// HTTP/2 inside TLS, after ALPN chose "h2" (RFC 9113 section 3.2).
    pub fn new_tls() -> Self {
        Self::new_prior_knowledge()
    }

    /// After an HTTP/1.1 `Upgrade: h2c` answered by 101 (RFC 7540 section
    /// 3.2): the request that carried the Upgrade is stream 1, half-closed by
    /// the client; its response comes as HTTP/2 frames. The client still
    /// sends the preface, the server starts with its SETTINGS.
    pub fn new_after_upgrade(stream1: Request) -> Self {
        let mut h = Self::new_prior_knowledge();
        let exchange = Exchange {
            request: Request {
                stream_id: Some(1),
                ..stream1
            },
            request_headers_known: true,
            reset: None,
        };
        h.conn.open_stream(1, exchange, true, 0);
        h
    }

    /// New in-order bytes from one side; `at` is the packet that carried them.
    pub fn on_data(&mut self, side: Side, data: &[u8], at: At) {
        *self.last_at.get_mut(side) = at;
        let mut rest = data;
        if side == Side::Client && self.preface_left > 0 {
            rest = self.preface(rest, at);
        }
        loop {
            let effect = match self.split.get_mut(side).next(&mut rest, at) {
                Next::NeedMore => break,
                Next::TooLarge { .. } => {
                    self.conn
                        .anomaly(side, at.packet, AnomalyKind::FrameTooLarge);
                    self.conn.stop(side);
                    break;
                }
                Next::Frame(f) => self.conn.on_frame(side, f, at),
            };
            if let Some((sender, limit)) = effect {
                self.split.get_mut(sender).limit = limit;
            }
        }
        self.sync();
    }

    /// `len` bytes of one side were lost.
    pub fn on_gap(&mut self, side: Side, len: u64) {
        let packet = self.last_at.get(side).packet;
        if side == Side::Client && self.preface_left > 0 {
            self.preface_left = 0;
            self.conn.anomaly(side, packet, AnomalyKind::GapLostFraming);
            self.split.get_mut(side).stopped = true;
            self.conn.stop(side);
            return;
        }
        let was_stopped = self.split.get(side).stopped;
        if self.split.get_mut(side).gap(len) == GapOutcome::Lost && !was_stopped {
            self.conn.anomaly(side, packet, AnomalyKind::GapLostFraming);
            self.conn.stop(side);
        }
        self.sync();
    }

    /// The connection ended: every stream still tracked is reported as it
    /// stands.
    /// No byte will come again (both streams reached their FIN): the HPACK
    /// tables, which only serve to decode header blocks to come, are given
    /// back (and their share of the parser budget). Nothing reported reads
    /// them.
    pub fn on_streams_done(&mut self) {
        self.conn.hpack.client.lose();
        self.conn.hpack.server.lose();
        self.sync();
    }

    pub fn on_close(&mut self, _at: At) {
        for side in [Side::Client, Side::Server] {
            if let Some(bytes) = self.split.get(side).unfinished() {
                let packet = self.last_at.get(side).packet;
                self.conn
                    .anomaly_with(side, packet, AnomalyKind::TruncatedAtClose, Some(bytes));
            }
        }
        while let Some(s) = self.conn.streams.pop_front() {
            self.conn.done.push(s.exchange);
        }
        self.conn.held_text = 0;
        self.sync();
    }

    /// Exchanges finished since the last call, in stream (and so request)
    /// order.
    pub fn take_requests(&mut self) -> std::vec::Drain<'_, Exchange> {
        self.conn.done.drain(..)
    }

    pub fn summary(&self) -> Summary {
        self.conn.summary.clone()
    }

    fn preface<'d>(&mut self, data: &'d [u8], at: At) -> &'d [u8] {
        let done = PREFACE.len().saturating_sub(self.preface_left);
        let n = self.preface_left.min(data.len());
        let (head, rest) = data.split_at_checked(n).unwrap_or((data, &[]));
        if PREFACE.get(done..done.saturating_add(n)) == Some(head) {
            self.preface_left -= n;
            rest
        } else {
            self.preface_left = 0;
            self.conn
                .anomaly(Side::Client, at.packet, AnomalyKind::BadPreface);
            self.split.get_mut(Side::Client).stopped = true;
            self.conn.stop(Side::Client);
            &[]
        }
    }
}

/// Reads a big-endian u32 at `at` in `b`.
fn be32(b: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

impl Conn {
    /// Heap bytes counted against the parser budget: header blocks being
    /// gathered, the HPACK tables' declared sizes, the streams' slots and
    /// request text (finished exchanges are taken by the caller after
    /// every call).
    fn held(&self) -> usize {
        heap(&self.block_buf.client)
            + heap(&self.block_buf.server)
            + self.hpack.client.declared_size()
            + self.hpack.server.declared_size()
            + self.streams.capacity() * std::mem::size_of::<Stream>()
            + self.held_text
    }

    /// `bytes` of `side` given up for want of budget: one anomaly per
    /// side, its bytes summed.
    fn refused(&mut self, side: Side, packet: u64, bytes: u64) {
        match self
            .summary
            .anomalies
            .iter_mut()
            .find(|a| a.kind == AnomalyKind::ParserBudget && a.side == side)
        {
            Some(a) => a.bytes = Some(a.bytes.unwrap_or(0).saturating_add(bytes)),
            None => self.anomaly_with(side, packet, AnomalyKind::ParserBudget, Some(bytes)),
        }
    }

    fn anomaly(&mut self, side: Side, packet: u64, kind: AnomalyKind) {
        self.anomaly_with(side, packet, kind, None);
    }

    fn anomaly_with(&mut self, side: Side, packet: u64, kind: AnomalyKind, bytes: Option<u64>) {
        if self.summary.anomalies.len() < ANOMALY_CAP {
            self.summary.anomalies.push(Anomaly {
                side,
                packet,
                kind,
                bytes,
            });
        } else {
            self.summary.anomalies_dropped = self.summary.anomalies_dropped.saturating_add(1);
        }
    }

    fn stop(&mut self, side: Side) {
        if !self.summary.stopped.contains(&side) {
            self.summary.stopped.push(side);
        }
    }

    /// The header state of `side` is lost (the anomaly says why).
    fn lose_headers(&mut self, side: Side) {
        self.hpack.get_mut(side).lose();
        *self.block.get_mut(side) = None;
        self.block_buf.get_mut(side).clear();
        if !self.summary.headers_lost.contains(&side) {
            self.summary.headers_lost.push(side);
        }
    }

    /// Handles one frame; returns a new frame length limit for a sender when
    /// SETTINGS changed it.
    fn on_frame(&mut self, side: Side, f: frame::Frame<'_>, at: At) -> Option<(Side, u32)> {
        let h = f.header;
        // RFC 9113 section 6.10: a header block is a contiguous sequence of
        // frames on one stream.
        if let Some(b) = *self.block.get(side)
            && (h.kind != frame::CONTINUATION || h.stream_id != b.stream_id)
        {
            self.anomaly(side, at.packet, AnomalyKind::ContinuationError);
            self.lose_headers(side);
        }
        match h.kind {
            frame::DATA => self.on_data_frame(side, &f, at),
            frame::HEADERS | frame::PUSH_PROMISE => self.on_block_start(side, &f, at),
            frame::CONTINUATION => self.on_continuation(side, &f, at),
            frame::RST_STREAM => self.on_reset(side, &f, at),
            frame::SETTINGS => return self.on_settings(side, &f, at),
            frame::GOAWAY => self.on_goaway(side, &f, at),
            // PRIORITY, PING, WINDOW_UPDATE carry nothing the ledger needs;
            // unknown types are ignored (RFC 9113 section 5.5).
            _ => {}
        }
        None
    }

    fn on_data_frame(&mut self, side: Side, f: &frame::Frame<'_>, at: At) {
        let h = f.header;
        if h.stream_id == 0 {
            self.anomaly(side, at.packet, AnomalyKind::BadStreamId);
            return;
        }
        // RFC 9113 section 6.1: the payload minus the pad length field and
        // the padding is data.
        let bytes = if !h.has(frame::PADDED) {
            Some(u64::from(h.length))
        } else if f.damaged || f.refused {
            None
        } else {
            let pad = f.kept.first().map_or(u32::MAX, |&p| u32::from(p));
            match h.length.checked_sub(1).and_then(|l| l.checked_sub(pad)) {
                Some(n) => Some(u64::from(n)),
                None => {
                    self.anomaly(side, at.packet, AnomalyKind::BadPadding);
                    None
                }
            }
        };
        let Some(s) = self.stream_mut(h.stream_id) else {
            return;
        };
        if side == Side::Server {
            s.bytes = match (s.bytes, bytes) {
                (Some(a), Some(b)) => Some(a.saturating_add(b)),
                _ => None,
            };
        }
        if h.has(frame::END_STREAM) {
            self.end_stream(side, h.stream_id, at);
        }
    }

    fn on_block_start(&mut self, side: Side, f: &frame::Frame<'_>, at: At) {
        let h = f.header;
        let (kind, prefix) = if h.kind == frame::PUSH_PROMISE {
            self.summary.pushes = self.summary.pushes.saturating_add(1);
            if side == Side::Client {
                self.anomaly(side, at.packet, AnomalyKind::BadStreamId);
            }
            (BlockKind::PushPromise, 4)
        } else {
            let prefix = if h.has(frame::PRIORITY_FLAG) { 5 } else { 0 };
            (
                BlockKind::Headers {
                    end_stream: h.has(frame::END_STREAM),
                },
                prefix,
            )
        };
        if h.stream_id == 0 {
            self.anomaly(side, at.packet, AnomalyKind::BadStreamId);
        }
        let block = Block {
            stream_id: h.stream_id,
            kind,
            start: f.start,
        };
        let fragment = if self.usable(side, f, at) {
            let fragment = frame::unpad(f.kept, h.has(frame::PADDED), prefix).map(|(_, b)| b);
            if fragment.is_none() {
                self.anomaly(side, at.packet, AnomalyKind::BadPadding);
                self.lose_headers(side);
            }
            fragment
        } else {
            None
        };
        if h.has(frame::END_HEADERS) {
            let fields = fragment.and_then(|b| self.decode(side, b, at));
            self.finish_block(side, block, fields, at);
        } else {
            // A lost fragment still opens the block, so that its
            // CONTINUATION frames are recognised (they decode to nothing).
            let fragment = fragment.unwrap_or_default();
            self.block_buf.get_mut(side).clear();
            if self
                .charge
                .take(growth(self.block_buf.get(side), fragment.len()))
            {
                self.block_buf.get_mut(side).extend_from_slice(fragment);
            } else {
                self.refused(side, at.packet, fragment.len() as u64);
                self.lose_headers(side);
            }
            *self.block.get_mut(side) = Some(block);
        }
    }

    fn on_continuation(&mut self, side: Side, f: &frame::Frame<'_>, at: At) {
        let h = f.header;
        let Some(block) = *self.block.get(side) else {
            self.anomaly(side, at.packet, AnomalyKind::ContinuationError);
            self.lose_headers(side);
            return;
        };
        if self.usable(side, f, at) {
            let buf = self.block_buf.get(side);
            let want = buf.len().saturating_add(f.kept.len());
            if want > frame::BLOCK_CAP {
                self.anomaly(side, at.packet, AnomalyKind::HeaderBlockTooLarge);
                self.lose_headers(side);
            } else if !self.charge.take(growth(buf, f.kept.len())) {
                self.refused(side, at.packet, want as u64);
                self.lose_headers(side);
            } else {
                self.block_buf.get_mut(side).extend_from_slice(f.kept);
            }
        }
        if !h.has(frame::END_HEADERS) {
            // Losing the header state closed the block: it still goes on.
            *self.block.get_mut(side) = Some(block);
        } else {
            let assembled = std::mem::take(self.block_buf.get_mut(side));
            let fields = self.decode(side, &assembled, at);
            // Keep the buffer's capacity for the next block.
            let buf = self.block_buf.get_mut(side);
            *buf = assembled;
            buf.clear();
            self.finish_block(side, block, fields, at);
        }
    }

    /// Whether a header block frame's payload can be decoded; if not, the
    /// direction's header state is lost.
    fn usable(&mut self, side: Side, f: &frame::Frame<'_>, at: At) -> bool {
        if f.refused {
            self.refused(side, at.packet, u64::from(f.header.length));
            self.lose_headers(side);
            return false;
        }
        let problem = if f.damaged {
            Some(AnomalyKind::GapInHeaderBlock)
        } else if f.truncated {
            Some(AnomalyKind::HeaderBlockTooLarge)
        } else {
            None
        };
        if let Some(kind) = problem {
            self.anomaly(side, at.packet, kind);
            self.lose_headers(side);
        }
        problem.is_none()
    }

    fn decode(&mut self, side: Side, block: &[u8], at: At) -> Option<hpack::Fields> {
        // A table is counted at its declared size from its first block on.
        let d = self.hpack.get(side);
        let more = d.declarable_size().saturating_sub(d.declared_size());
        if !self.charge.take(more) {
            self.refused(side, at.packet, more as u64);
            self.lose_headers(side);
            return None;
        }
        match self.hpack.get_mut(side).decode(block) {
            Ok(f) => {
                if f.truncated {
                    self.anomaly(side, at.packet, AnomalyKind::FieldTruncated);
                }
                Some(f)
            }
            Err(hpack::Error::Invalid) => {
                self.anomaly(side, at.packet, AnomalyKind::HpackError);
                self.lose_headers(side);
                None
            }
            Err(hpack::Error::Unknown) => None,
        }
    }

    /// A header block ended (END_HEADERS): apply it to its stream. Without
    /// `fields` (block lost or undecodable) it still opens or ends the
    /// stream, from the frame's stream id and flags.
    fn finish_block(&mut self, side: Side, b: Block, fields: Option<hpack::Fields>, at: At) {
        *self.block.get_mut(side) = None;
        let BlockKind::Headers { end_stream } = b.kind else {
            // PUSH_PROMISE: decoded to keep the table in step, not a request.
            return;
        };
        match side {
            Side::Client => self.client_headers(b, fields, end_stream, at),
            Side::Server => self.server_headers(b.stream_id, fields, end_stream, at),
        }
    }

    fn client_headers(
        &mut self,
        b: Block,
        fields: Option<hpack::Fields>,
        end_stream: bool,
        at: At,
    ) {
        let id = b.stream_id;
        // RFC 9113 section 5.1.1: clients open odd-numbered streams.
        if id.is_multiple_of(2) {
            if id != 0 {
                self.anomaly(Side::Client, at.packet, AnomalyKind::BadStreamId);
            }
            return;
        }
        if self.stream_mut(id).is_some() {
            // Trailers (RFC 9113 section 8.1).
            if end_stream {
                self.end_stream(Side::Client, id, at);
            }
            return;
        }
        if id <= self.last_client_stream {
            // A closed stream (or one already reported): nothing to open.
            return;
        }
        let mut known = fields.is_some();
        let mut f = fields.unwrap_or_default();
        // What the request will keep: method, path, and authority or Host.
        let text = |f: &hpack::Fields| {
            [
                f.method.as_ref(),
                f.path.as_ref(),
                f.authority.as_ref().or(f.host.as_ref()),
            ]
            .into_iter()
            .flatten()
            .map(String::len)
            .sum::<usize>()
        };
        if self.held_text + text(&f) > STREAM_TEXT_BUDGET {
            self.anomaly(Side::Client, at.packet, AnomalyKind::FieldTruncated);
            f = hpack::Fields::default();
            known = false;
        } else if !self.charge.take(text(&f)) {
            self.refused(Side::Client, at.packet, text(&f) as u64);
            f = hpack::Fields::default();
            known = false;
        }
        self.held_text += text(&f);
        let exchange = Exchange {
            request: Request {
                method: f.method.unwrap_or_default(),
                authority: f.authority.or(f.host),
                path: f.path.unwrap_or_default(),
                stream_id: Some(id),
                start: b.start.ts,
                ..Request::default()
            },
            request_headers_known: known,
            reset: None,
        };
        self.open_stream(id, exchange, end_stream, at.packet);
    }

    fn open_stream(&mut self, id: u32, exchange: Exchange, client_ended: bool, packet: u64) {
        let full = self.streams.len() >= STREAM_CAP;
        let slot = if self.streams.len() < self.streams.capacity() {
            0
        } else {
            self.streams.capacity().max(4) * std::mem::size_of::<Stream>()
        };
        let refused = !full && !self.charge.take(slot);
        if refused && self.streams.is_empty() {
            // None other open: this one is reported at once, nothing grows.
            let bytes = exchange.request_text();
            self.refused(Side::Client, packet, bytes as u64);
            self.held_text = self.held_text.saturating_sub(bytes);
            self.last_client_stream = id;
            self.summary.requests = self.summary.requests.saturating_add(1);
            self.done.push(exchange);
            return;
        }
        if (full || refused)
            && let Some(old) = self.streams.pop_front()
        {
            if refused {
                let bytes = old.exchange.request_text() as u64;
                self.refused(Side::Client, packet, bytes);
            } else if !self.evicted {
                self.anomaly(Side::Client, packet, AnomalyKind::TooManyStreams);
                self.evicted = true;
            }
            if !old.closed {
                self.open = self.open.saturating_sub(1);
            }
            self.held_text = self.held_text.saturating_sub(old.exchange.request_text());
            self.done.push(old.exchange);
            self.release();
        }
        self.last_client_stream = id;
        self.summary.requests = self.summary.requests.saturating_add(1);
        self.open = self.open.saturating_add(1);
        self.summary.peak_concurrent_streams = self.summary.peak_concurrent_streams.max(self.open);
        self.streams.push_back(Stream {
            id,
            exchange,
            client_ended,
            server_ended: false,
            bytes: Some(0),
            closed: false,
        });
    }

    fn server_headers(&mut self, id: u32, fields: Option<hpack::Fields>, end_stream: bool, at: At) {
        let Some(s) = self.stream_mut(id) else {
            // Pushed streams (even ids) and unknown ones.
            return;
        };
        // RFC 9113 section 8.1: 1xx responses are interim; the first final
        // status is the response's.
        if let Some(status) = fields.and_then(|f| f.status)
            && status >= 200
            && s.exchange.request.status.is_none()
        {
            s.exchange.request.status = Some(status);
        }
        if end_stream {
            self.end_stream(Side::Server, id, at);
        }
    }

    fn end_stream(&mut self, side: Side, id: u32, at: At) {
        let Some(s) = self.stream_mut(id) else {
            return;
        };
        match side {
            Side::Client => s.client_ended = true,
            Side::Server => {
                if !s.server_ended {
                    s.server_ended = true;
                    s.exchange.request.end = Some(at.ts);
                    s.exchange.request.response_bytes = s.bytes;
                }
            }
        }
        if s.client_ended && s.server_ended {
            self.close(id);
        }
    }

    fn on_reset(&mut self, side: Side, f: &frame::Frame<'_>, at: At) {
        let h = f.header;
        let code = if h.length != 4 || f.damaged || f.refused {
            None
        } else {
            be32(f.kept, 0)
        };
        let Some(error_code) = code else {
            self.anomaly(side, at.packet, AnomalyKind::BadFrameSize);
            return;
        };
        let reset = Reset {
            stream_id: h.stream_id,
            by: side,
            error_code,
            packet: at.packet,
        };
        match side {
            Side::Client => {
                self.summary.resets_by_client = self.summary.resets_by_client.saturating_add(1)
            }
            Side::Server => {
                self.summary.resets_by_server = self.summary.resets_by_server.saturating_add(1)
            }
        }
        if self.summary.resets.len() < EVENT_CAP {
            self.summary.resets.push(reset);
        } else {
            self.summary.events_dropped = self.summary.events_dropped.saturating_add(1);
        }
        if let Some(s) = self.stream_mut(h.stream_id) {
            s.exchange.reset.get_or_insert(reset);
            self.close(h.stream_id);
        }
    }

    fn on_settings(&mut self, side: Side, f: &frame::Frame<'_>, at: At) -> Option<(Side, u32)> {
        let h = f.header;
        if h.has(frame::ACK) {
            return None;
        }
        if !h.length.is_multiple_of(6) || h.stream_id != 0 {
            self.anomaly(side, at.packet, AnomalyKind::BadFrameSize);
        }
        if f.truncated {
            self.anomaly(side, at.packet, AnomalyKind::SettingsTooLong);
        }
        if f.damaged || f.refused {
            return None;
        }
        // RFC 9113 section 6.5.2: MAX_FRAME_SIZE's initial value applies once
        // the receiver's SETTINGS are known.
        let mut limit = self
            .max_frame
            .get(side)
            .unwrap_or(frame::DEFAULT_MAX_FRAME_SIZE);
        for entry in f.kept.chunks_exact(6) {
            let (Some(id), Some(value)) = (entry.first_chunk::<2>(), be32(entry, 2)) else {
                continue;
            };
            match u16::from_be_bytes(*id) {
                // SETTINGS_HEADER_TABLE_SIZE bounds the peer's encoder.
                0x1 => self.hpack.get_mut(side.other()).allow_table_size(value),
                0x3 if side == Side::Server => self.summary.max_concurrent_streams = Some(value),
                0x5 if (frame::DEFAULT_MAX_FRAME_SIZE..=frame::MAX_LENGTH).contains(&value) => {
                    limit = limit.max(value)
                }
                0x5 => self.anomaly(side, at.packet, AnomalyKind::BadSetting),
                _ => {}
            }
        }
        *self.max_frame.get_mut(side) = Some(limit);
        Some((side.other(), limit))
    }

    fn on_goaway(&mut self, side: Side, f: &frame::Frame<'_>, at: At) {
        let (Some(last), Some(error_code)) = (be32(f.kept, 0), be32(f.kept, 4)) else {
            self.anomaly(side, at.packet, AnomalyKind::BadFrameSize);
            return;
        };
        if f.damaged || f.refused {
            return;
        }
        let g = GoAway {
            by: side,
            last_stream_id: last & 0x7fff_ffff,
            error_code,
            packet: at.packet,
        };
        if self.summary.goaways.len() < EVENT_CAP {
            self.summary.goaways.push(g);
        } else {
            self.summary.events_dropped = self.summary.events_dropped.saturating_add(1);
        }
    }

    fn stream_mut(&mut self, id: u32) -> Option<&mut Stream> {
        let i = self.streams.binary_search_by_key(&id, |s| s.id).ok()?;
        self.streams.get_mut(i)
    }

    fn close(&mut self, id: u32) {
        let Some(s) = self.stream_mut(id) else {
            return;
        };
        if s.closed {
            return;
        }
        s.closed = true;
        self.open = self.open.saturating_sub(1);
        self.release();
    }

    /// Reports closed streams at the front, keeping stream order.
    fn release(&mut self) {
        while self.streams.front().is_some_and(|s| s.closed) {
            if let Some(s) = self.streams.pop_front() {
                self.held_text = self.held_text.saturating_sub(s.exchange.request_text());
                self.done.push(s.exchange);
            }
        }
    }
}

#[cfg(test)]
mod tests;
