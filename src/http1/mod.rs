//! HTTP/1.x over one TCP connection: reads both reassembled byte streams,
//! pairs each request with its response in order (RFC 9112 section 9.3),
//! skips bodies by their declared length without buffering them, and reports
//! when the connection stops speaking HTTP/1 (CONNECT tunnel, 101 upgrade).
//! Bounded memory whatever the input; every oddity becomes an [`Anomaly`].
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod head;

#[cfg(test)]
pub(crate) mod testing;

use crate::budget::{Charge, growth, heap};
use crate::ledger::Request;
use crate::{At, Side};
use head::{ConnectionTokens, Framing, Parsed};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Largest header block (start line, fields, or trailers) buffered across
/// segments; a longer one is an anomaly.
pub const HEADER_CAP: usize = 64 * 1024;
/// Largest number of bytes kept for a hand-off (bytes held while a CONNECT or
/// Upgrade request awaits its answer, and bytes after the switch).
pub const HANDOFF_CAP: usize = 64 * 1024;
/// Most requests waiting for a response; beyond it the oldest is reported
/// unanswered and its response, when it comes, is skipped.
pub const PENDING_CAP: usize = 1024;
/// Anomalies kept per connection; later ones are only counted.
pub const ANOMALY_CAP: usize = 32;
/// Separate held segments remembered (for their timestamps) while holding.
const HELD_SEGMENTS_CAP: usize = 64;

/// The protocol version of one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Version {
    #[serde(rename = "http/1.0")]
    Http10,
    #[serde(rename = "http/1.1")]
    Http11,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "http/1.0",
            Version::Http11 => "http/1.1",
        }
    }
}

/// Why a message means the connection will close after it (RFC 9112
/// section 9.3 and 9.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseSignal {
    /// `Connection: close`.
    Header,
    /// HTTP/1.0 without `Connection: keep-alive`.
    Http10Default,
}

fn close_signal(version: Version, c: ConnectionTokens) -> Option<CloseSignal> {
    if c.close {
        Some(CloseSignal::Header)
    } else if version == Version::Http10 && !c.keep_alive {
        Some(CloseSignal::Http10Default)
    } else {
        None
    }
}

/// One request and what was seen of its response.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Exchange {
    pub request: Request,
    /// Version on the request line.
    pub version: Version,
    /// Version on the status line of the final response, if one was seen.
    pub response_version: Option<Version>,
    /// The request announced the connection would close after it.
    pub client_close: Option<CloseSignal>,
    /// The response announced the connection would close after it.
    pub server_close: Option<CloseSignal>,
}

/// The first message that announced the connection would close.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Close {
    pub by: Side,
    pub signal: CloseSignal,
    /// Packet carrying the last byte of that message's header block.
    pub packet: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// A header block (or trailer section, or chunk-size line) longer than
    /// [`HEADER_CAP`].
    HeaderTooLarge,
    /// More header fields than the parser accepts in one block.
    TooManyHeaders,
    /// A start line or header block httparse rejects.
    MalformedHead,
    /// Content-Length unparsable or with differing values.
    BadContentLength,
    /// Both Transfer-Encoding and Content-Length (the former was used).
    LengthAndChunked,
    /// A request Transfer-Encoding not ending in chunked: its body cannot be
    /// delimited.
    UnframeableRequestBody,
    /// A malformed chunk-size line or chunk terminator.
    BadChunk,
    /// A response arrived while no request was waiting for one.
    ResponseWithoutRequest,
    /// More than [`PENDING_CAP`] requests awaited responses.
    TooManyPending,
    /// Bytes were lost where message boundaries could not be kept; parsing
    /// resumed at the next plausible start line.
    GapLostFraming,
    /// Bytes held for a hand-off exceeded [`HANDOFF_CAP`].
    HandoffOverflow,
    /// Bytes of a pending hand-off were lost.
    GapInHandoff,
    /// The connection closed in the middle of a message.
    TruncatedAtClose,
    /// A 101 response when no request asked for an upgrade.
    UnrequestedSwitch,
    /// A request's method, target, Host or Upgrade was longer than kept
    /// (`head::TARGET_CAP`, `head::SHORT_CAP`) and was cut.
    FieldTruncated,
    /// A buffer not grown because the capture's parser budget
    /// ([`crate::budget::PARSER_BUDGET`]) was spent, given up as at its own
    /// cap: a header block (resync), bytes held for a hand-off, a pending
    /// request (evicted, reported as it stands). One per side, `bytes`
    /// summing what was given up.
    ParserBudget,
}

/// Something unusual on one side of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    pub side: Side,
    /// The packet being read when it was noticed (for a gap: the last packet
    /// before it).
    pub packet: u64,
    pub kind: AnomalyKind,
    /// For [`AnomalyKind::ParserBudget`]: the bytes given up.
    pub bytes: Option<u64>,
}

/// What the connection became when it stopped speaking HTTP/1.
#[derive(Clone, Debug, PartialEq)]
pub enum SwitchKind {
    /// `Upgrade: h2c` answered by 101 (RFC 7540 section 3.2): the rest is
    /// HTTP/2, and the request that carried the Upgrade is HTTP/2 stream 1,
    /// whose response will come as HTTP/2 frames.
    H2c { stream1: Request },
    /// CONNECT answered 2xx (RFC 9110 section 9.3.6): the rest is an opaque
    /// tunnel to `authority`.
    Tunnel { authority: String },
    /// 101 to another protocol (e.g. websocket): the rest is not HTTP.
    Upgrade { protocol: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwitchTag {
    H2c,
    Tunnel,
    Upgrade,
}

/// The hand-off when the connection stops speaking HTTP/1: the bytes that
/// followed on each side, in order, for the next parser.
#[derive(Clone, Debug, PartialEq)]
pub struct Switch {
    pub kind: SwitchKind,
    /// Packet carrying the end of the response head that switched.
    pub at: At,
    pub client_rest: Vec<u8>,
    pub server_rest: Vec<u8>,
}

impl Switch {
    pub fn tag(&self) -> SwitchTag {
        match self.kind {
            SwitchKind::H2c { .. } => SwitchTag::H2c,
            SwitchKind::Tunnel { .. } => SwitchTag::Tunnel,
            SwitchKind::Upgrade { .. } => SwitchTag::Upgrade,
        }
    }
}

/// Connection-level facts.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Version of the last request seen.
    pub version: Option<Version>,
    /// Request header blocks parsed (including one that became h2c stream 1).
    pub requests: u64,
    /// Final (non-1xx) responses and 101 switches parsed.
    pub responses: u64,
    /// 1xx interim responses other than 101.
    pub interim_responses: u64,
    /// Responses that found no request waiting (e.g. the capture started
    /// after the request).
    pub unmatched_responses: u64,
    /// Requests lost in a gap or unreadable: they are not reported as
    /// exchanges, but each still takes one response in order.
    pub lost_requests: u64,
    /// The first announcement that the connection would close.
    pub close: Option<Close>,
    pub switched: Option<SwitchTag>,
    /// A gap or resync happened: the request/response pairing after it rests
    /// on the assumption that each side lost exactly one message.
    pub pairing_uncertain: bool,
    /// Bytes delivered after a switch had been taken (not parsed).
    pub bytes_after_switch: u64,
    pub anomalies: Vec<Anomaly>,
    pub anomalies_dropped: u64,
}

/// Whether the first bytes of a stream start an HTTP/1.x request: a known
/// method token followed by a space. None while `first_bytes` is too short
/// to tell.
pub fn looks_like_http1_request(first_bytes: &[u8]) -> Option<bool> {
    // IANA HTTP Method Registry entries seen in practice, plus SSDP's M-SEARCH.
    // "PRI" is absent: it opens the HTTP/2 connection preface.
    const METHODS: &[&[u8]] = &[
        b"GET",
        b"HEAD",
        b"POST",
        b"PUT",
        b"DELETE",
        b"CONNECT",
        b"OPTIONS",
        b"TRACE",
        b"PATCH",
        b"PROPFIND",
        b"PROPPATCH",
        b"MKCOL",
        b"COPY",
        b"MOVE",
        b"LOCK",
        b"UNLOCK",
        b"SEARCH",
        b"REPORT",
        b"MKCALENDAR",
        b"MKACTIVITY",
        b"CHECKOUT",
        b"MERGE",
        b"NOTIFY",
        b"SUBSCRIBE",
        b"UNSUBSCRIBE",
        b"M-SEARCH",
        b"PURGE",
        b"LINK",
        b"UNLINK",
        b"BIND",
        b"ACL",
    ];
    prefix_match(first_bytes, METHODS.iter().map(|m| (*m, b" ".as_slice())))
}

/// Whether bytes start an HTTP/1.x status line: `HTTP/1.d ddd`.
fn looks_like_status_line(b: &[u8]) -> Option<bool> {
    const SHAPE: &[u8] = b"HTTP/1.d ddd";
    for (i, &want) in SHAPE.iter().enumerate() {
        let &got = b.get(i)?;
        let ok = if want == b'd' {
            got.is_ascii_digit()
        } else {
            got == want
        };
        if !ok {
            return Some(false);
        }
    }
    Some(true)
}

/// Some(true) when `b` starts with one of the `word` + `sep` pairs, None when
/// `b` is a proper prefix of one of them, Some(false) otherwise.
fn prefix_match<'a>(b: &[u8], words: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Option<bool> {
    let mut undecided = false;
    for (word, sep) in words {
        let full = word.len() + sep.len();
        let n = b.len().min(full);
        let (bw, bs) = b.get(..n).unwrap_or_default().split_at(n.min(word.len()));
        let matches = word.starts_with(bw) && sep.starts_with(bs);
        if matches && n == full {
            return Some(true);
        }
        undecided |= matches;
    }
    if undecided { None } else { Some(false) }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// Skipping chunk data.
    Data(u64),
    /// Expecting the CRLF after chunk data; true once the CR was seen.
    DataEnd(bool),
    /// Reading the trailer section after the last chunk.
    Trailers,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

/// Where one side's byte stream stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// At or inside a header block (the side's buffer may hold part of it).
    Head,
    Body(Body),
    /// Client only: a CONNECT or Upgrade request awaits its answer, and what
    /// follows is held until it is known whether HTTP/1 continues.
    Hold,
    /// Looking for the next plausible start line; true when the next byte is
    /// at the start of a line.
    Resync(bool),
    /// The connection switched protocols: bytes go to the hand-off.
    Switched,
    Closed,
}

/// One direction's reading state.
#[derive(Debug)]
struct Reader {
    stage: Stage,
    /// A header block, chunk-size line or trailer section split across
    /// segments; never more than [`HEADER_CAP`].
    buf: Vec<u8>,
    /// Packet of the first byte in `buf`.
    buf_start: At,
    last_at: At,
    /// The header block being read starts where a resync guessed: a parse
    /// error there is a false start, not a new anomaly.
    tentative: bool,
    /// Client only: hold after the current request body.
    hold_after_body: bool,
    /// Bytes of a unit that `buf` could not take for want of budget, for
    /// the anomaly that follows.
    refused: u64,
}

impl Reader {
    fn new() -> Reader {
        Reader {
            stage: Stage::Head,
            buf: Vec::new(),
            buf_start: At::default(),
            last_at: At::default(),
            tentative: false,
            hold_after_body: false,
            refused: 0,
        }
    }
}

/// What a request asked for beyond a plain exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Wish {
    Plain,
    Head,
    Connect,
    Upgrade { h2c: bool, protocol: String },
}

#[derive(Debug)]
struct Pending {
    exchange: Exchange,
    wish: Wish,
    /// Stands for a request lost in a gap: takes a response, is not reported.
    phantom: bool,
}

impl Pending {
    /// Heap bytes of the text the request keeps.
    fn text(&self) -> usize {
        let r = &self.exchange.request;
        let wish = match &self.wish {
            Wish::Upgrade { protocol, .. } => protocol.capacity(),
            Wish::Plain | Wish::Head | Wish::Connect => 0,
        };
        r.method.capacity()
            + r.path.capacity()
            + r.authority.as_ref().map_or(0, String::capacity)
            + wish
    }
}

/// The response being read.
#[derive(Debug)]
struct Current {
    pending: Option<Pending>,
    bytes: u64,
    last_at: At,
}

enum Gathered<T> {
    Done { value: T, used: usize, start: At },
    More { used: usize },
    Fail { kind: AnomalyKind, used: usize },
}

/// Completes a unit that may be split across segments: parses `data` in
/// place when nothing is buffered (no copy on the common path), otherwise
/// appends to the reader's buffer, up to [`HEADER_CAP`] and as far as
/// `charge` allows, and parses that once `ready` says the unit can be
/// complete.
fn gather<T>(
    r: &mut Reader,
    charge: &mut Charge,
    data: &[u8],
    at: At,
    ready: fn(&[u8], usize) -> bool,
    parse: fn(&[u8]) -> Parsed<T>,
) -> Gathered<T> {
    if r.buf.is_empty() {
        return match parse(data) {
            Parsed::Complete(value, used) => Gathered::Done {
                value,
                used,
                start: at,
            },
            Parsed::Invalid(kind) => Gathered::Fail { kind, used: 1 },
            Parsed::Partial if data.len() >= HEADER_CAP => Gathered::Fail {
                kind: AnomalyKind::HeaderTooLarge,
                used: data.len(),
            },
            Parsed::Partial if !charge.take(growth(&r.buf, data.len())) => {
                r.refused = data.len() as u64;
                Gathered::Fail {
                    kind: AnomalyKind::ParserBudget,
                    used: data.len(),
                }
            }
            Parsed::Partial => {
                r.buf.extend_from_slice(data);
                r.buf_start = at;
                Gathered::More { used: data.len() }
            }
        };
    }
    let old = r.buf.len();
    let take = data.len().min(HEADER_CAP.saturating_sub(old));
    if !charge.take(growth(&r.buf, take)) {
        r.refused = (old + take) as u64;
        r.buf = Vec::new();
        return Gathered::Fail {
            kind: AnomalyKind::ParserBudget,
            used: take.max(1),
        };
    }
    r.buf
        .extend_from_slice(data.get(..take).unwrap_or_default());
    let result = if ready(&r.buf, old) {
        parse(&r.buf)
    } else {
        Parsed::Partial
    };
    let out = match result {
        Parsed::Complete(value, n) => match n.checked_sub(old) {
            Some(used) if used > 0 => Gathered::Done {
                value,
                used,
                start: r.buf_start,
            },
            _ => Gathered::Fail {
                kind: AnomalyKind::MalformedHead,
                used: take.max(1),
            },
        },
        Parsed::Partial if r.buf.len() >= HEADER_CAP => Gathered::Fail {
            kind: AnomalyKind::HeaderTooLarge,
            used: take.max(1),
        },
        Parsed::Partial => return Gathered::More { used: take.max(1) },
        Parsed::Invalid(kind) => Gathered::Fail {
            kind,
            used: take.max(1),
        },
    };
    // A large buffer is given back: most units need none.
    if r.buf.capacity() > KEPT_BUF {
        r.buf = Vec::new();
    } else {
        r.buf.clear();
    }
    out
}

/// Capacity a reader's buffer keeps between units.
const KEPT_BUF: usize = 16 * 1024;

/// A header block ends with an empty line: look for LF LF or LF CR LF in the
/// bytes added since `old` (and the two before them). A block of only empty
/// lines is skipped by httparse, so it cannot complete without one of these.
fn head_ready(buf: &[u8], old: usize) -> bool {
    let tail = buf.get(old.saturating_sub(2)..).unwrap_or_default();
    memchr::memmem::find(tail, b"\n\n").is_some() || memchr::memmem::find(tail, b"\n\r\n").is_some()
}

/// A line ends with LF.
fn line_ready(buf: &[u8], old: usize) -> bool {
    memchr::memchr(b'\n', buf.get(old..).unwrap_or_default()).is_some()
}

/// The trailer section is either one empty line or fields then an empty line.
fn trailers_ready(buf: &[u8], old: usize) -> bool {
    buf.starts_with(b"\r\n") || buf.starts_with(b"\n") || head_ready(buf, old)
}

/// The first position in `data` where `check` does not rule out a start line:
/// position 0 when `line_start`, else just after a LF. Err carries whether
/// the data ended with a LF.
fn find_start(
    data: &[u8],
    line_start: bool,
    check: fn(&[u8]) -> Option<bool>,
) -> Result<usize, bool> {
    if line_start && check(data) != Some(false) {
        return Ok(0);
    }
    for i in memchr::memchr_iter(b'\n', data) {
        let p = i.saturating_add(1);
        match data.get(p..) {
            Some(rest) if !rest.is_empty() => {
                if check(rest) != Some(false) {
                    return Ok(p);
                }
            }
            _ => break,
        }
    }
    Err(data.last() == Some(&b'\n'))
}

/// HTTP/1.x state of one TCP connection.
#[derive(Debug)]
pub struct Http1 {
    rd: [Reader; 2],
    pending: VecDeque<Pending>,
    /// Requests evicted by [`PENDING_CAP`] whose responses are still to come.
    evicted: u64,
    cur: Option<Current>,
    done: Vec<Exchange>,
    held: Vec<u8>,
    /// Offsets into `held` where each held segment starts, with its packet.
    held_at: Vec<(usize, At)>,
    /// Set when held bytes overflowed: requests are no longer held.
    hold_disabled: bool,
    switch: Option<Switch>,
    switch_taken: bool,
    summary: Summary,
    /// Heap bytes of the text the requests in `pending` keep.
    pending_text: usize,
    /// What the buffers and pending requests hold against the capture's
    /// parser budget.
    charge: Charge,
}

impl Default for Http1 {
    fn default() -> Self {
        Self::new()
    }
}

impl Http1 {
    pub fn new() -> Self {
        Http1 {
            rd: [Reader::new(), Reader::new()],
            pending: VecDeque::new(),
            evicted: 0,
            cur: None,
            done: Vec::new(),
            held: Vec::new(),
            held_at: Vec::new(),
            hold_disabled: false,
            switch: None,
            switch_taken: false,
            summary: Summary::default(),
            pending_text: 0,
            charge: Charge::default(),
        }
    }

    /// Counts this parser's buffers and pending requests against
    /// `charge`'s budget.
    pub fn with_charge(mut self, charge: Charge) -> Self {
        self.charge = charge;
        self.sync();
        self
    }

    /// Heap bytes of what is counted against the parser budget: the
    /// readers' buffers, bytes held for a hand-off, and the requests
    /// waiting for a response (their slots and kept text). Finished
    /// exchanges are not: the caller takes them after every call.
    fn held(&self) -> usize {
        let rd = self.rd.iter().map(|r| heap(&r.buf)).sum::<usize>();
        let switch = self
            .switch
            .as_ref()
            .map_or(0, |s| heap(&s.client_rest) + heap(&s.server_rest));
        let cur = self
            .cur
            .as_ref()
            .and_then(|c| c.pending.as_ref())
            .map_or(0, Pending::text);
        rd + heap(&self.held)
            + heap(&self.held_at)
            + switch
            + self.pending.capacity() * std::mem::size_of::<Pending>()
            + self.pending_text
            + cur
    }

    fn sync(&mut self) {
        let held = self.held();
        self.charge.set(held);
    }

    fn pop_pending(&mut self) -> Option<Pending> {
        let p = self.pending.pop_front()?;
        self.pending_text = self.pending_text.saturating_sub(p.text());
        Some(p)
    }

    /// For a connection whose start was not captured (mid-stream pickup):
    /// each side may begin inside a message, so each first looks for a
    /// plausible start line, and what comes before it is skipped without
    /// anomaly. A response found before any request is counted unmatched.
    pub fn new_midstream() -> Self {
        let mut h = Self::new();
        for r in &mut h.rd {
            r.stage = Stage::Resync(true);
        }
        h
    }

    /// New in-order bytes from one side; `at` is the packet that carried them.
    pub fn on_data(&mut self, side: Side, data: &[u8], at: At) {
        if let Some(r) = self.rd.get_mut(side.idx()) {
            r.last_at = at;
        }
        let mut rest = data;
        while !rest.is_empty() {
            let used = self.step(side, rest, at);
            // Every step consumes at least one byte; `max` keeps the loop
            // finite even if one did not.
            rest = rest.get(used.max(1)..).unwrap_or_default();
        }
        self.sync();
    }

    /// `len` bytes of one side were lost; the stream continues after them.
    pub fn on_gap(&mut self, side: Side, len: u64) {
        let i = side.idx();
        let Some(r) = self.rd.get_mut(i) else {
            return;
        };
        let last = r.last_at;
        match r.stage {
            Stage::Head => self.gap_at_boundary(side, last),
            // A body delimited by length absorbs the gap.
            Stage::Body(Body::Length(rem)) if len < rem => {
                self.set_stage(side, Stage::Body(Body::Length(rem - len)));
                self.count(side, len, last);
            }
            Stage::Body(Body::Length(rem)) => {
                self.count(side, rem, last);
                self.body_done(side, last);
                if len > rem {
                    self.gap_at_boundary(side, last);
                }
            }
            Stage::Body(Body::UntilClose) => self.count(side, len, last),
            Stage::Body(Body::Chunked(Chunk::Data(rem))) if len < rem => {
                self.set_stage(side, Stage::Body(Body::Chunked(Chunk::Data(rem - len))));
                self.count(side, len, last);
            }
            Stage::Body(Body::Chunked(_)) => {
                // Chunk framing is lost: the body's end is unknown.
                if side == Side::Server {
                    self.finish_current(None, false);
                }
                self.lose_framing(side, last);
            }
            Stage::Hold => self.anomaly(side, last.packet, AnomalyKind::GapInHandoff),
            Stage::Resync(_) => self.set_stage(side, Stage::Resync(true)),
            Stage::Switched if !self.switch_taken => {
                self.anomaly(side, last.packet, AnomalyKind::GapInHandoff)
            }
            Stage::Switched | Stage::Closed => {}
        }
        self.sync();
    }

    /// The connection ended (FIN, RST or end of capture).
    pub fn on_close(&mut self, _at: At) {
        let server = self
            .rd
            .get(Side::Server.idx())
            .map(|r| (r.stage, r.buf.is_empty(), r.last_at));
        if let Some((stage, _, last)) = server {
            match stage {
                Stage::Body(Body::UntilClose) => {
                    // RFC 9112 section 6.3 rule 8: the close ends the body.
                    let end = self.cur.as_ref().map(|c| c.last_at.ts);
                    self.finish_current(end, true);
                }
                Stage::Body(_) => {
                    self.anomaly(Side::Server, last.packet, AnomalyKind::TruncatedAtClose);
                    self.finish_current(None, false);
                }
                _ => {}
            }
        }
        // A response head cut short leaves its request unanswered.
        self.finish_current(None, false);
        // Nothing answered the held request: what was held was HTTP/1.
        if self.rd.get(Side::Client.idx()).map(|r| r.stage) == Some(Stage::Hold) {
            self.release_hold();
        }
        for side in [Side::Client, Side::Server] {
            if let Some(r) = self.rd.get(side.idx()) {
                let truncated = match r.stage {
                    Stage::Head => !r.buf.is_empty(),
                    Stage::Body(Body::UntilClose) => false,
                    Stage::Body(_) => side == Side::Client,
                    _ => false,
                };
                let packet = r.last_at.packet;
                if truncated {
                    self.anomaly(side, packet, AnomalyKind::TruncatedAtClose);
                }
            }
            self.set_stage(side, Stage::Closed);
        }
        while let Some(p) = self.pop_pending() {
            if !p.phantom {
                self.done.push(p.exchange);
            }
        }
        self.sync();
    }

    /// Exchanges finished since the last call, in request order.
    pub fn take_requests(&mut self) -> std::vec::Drain<'_, Exchange> {
        // Eviction by PENDING_CAP can report a request before the one whose
        // response is being read; a stable sort restores request order.
        if !self.done.is_sorted_by_key(|e| e.request.start) {
            self.done.sort_by_key(|e| e.request.start);
        }
        self.done.drain(..)
    }

    /// The pending switch, if the connection stopped speaking HTTP/1 and the
    /// hand-off has not been taken yet.
    pub fn upgrade(&self) -> Option<&Switch> {
        self.switch.as_ref()
    }

    /// Takes the hand-off; later bytes are ignored (and counted).
    pub fn take_switch(&mut self) -> Option<Switch> {
        let s = self.switch.take();
        if s.is_some() {
            self.switch_taken = true;
        }
        s
    }

    pub fn summary(&self) -> Summary {
        self.summary.clone()
    }

    fn set_stage(&mut self, side: Side, stage: Stage) {
        if let Some(r) = self.rd.get_mut(side.idx()) {
            r.stage = stage;
        }
    }

    fn anomaly(&mut self, side: Side, packet: u64, kind: AnomalyKind) {
        let bytes = match kind {
            AnomalyKind::ParserBudget => self
                .rd
                .get_mut(side.idx())
                .map(|r| std::mem::take(&mut r.refused)),
            _ => None,
        };
        self.anomaly_with(side, packet, kind, bytes);
    }

    /// Records an anomaly; a second [`AnomalyKind::ParserBudget`] on a side
    /// adds its bytes to the first.
    fn anomaly_with(&mut self, side: Side, packet: u64, kind: AnomalyKind, bytes: Option<u64>) {
        if kind == AnomalyKind::ParserBudget
            && let Some(a) = self
                .summary
                .anomalies
                .iter_mut()
                .find(|a| a.kind == kind && a.side == side)
        {
            a.bytes = Some(a.bytes.unwrap_or(0).saturating_add(bytes.unwrap_or(0)));
            return;
        }
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

    fn step(&mut self, side: Side, data: &[u8], at: At) -> usize {
        let Some(stage) = self.rd.get(side.idx()).map(|r| r.stage) else {
            return data.len();
        };
        match stage {
            Stage::Head => match side {
                Side::Client => self.request_head(data, at),
                Side::Server => self.response_head(data, at),
            },
            Stage::Body(body) => self.body(side, body, data, at),
            Stage::Hold => self.hold(data, at),
            Stage::Resync(line_start) => self.resync(side, line_start, data, at),
            Stage::Switched => self.handoff(side, data),
            Stage::Closed => data.len(),
        }
    }

    fn request_head(&mut self, data: &[u8], at: At) -> usize {
        let Some(r) = self.rd.get_mut(Side::Client.idx()) else {
            return data.len();
        };
        match gather(
            r,
            &mut self.charge,
            data,
            at,
            head_ready,
            head::parse_request,
        ) {
            Gathered::More { used } => used,
            Gathered::Fail { kind, used } => {
                self.bad_head(Side::Client, kind, at);
                used
            }
            Gathered::Done { value, used, start } => {
                if let Some(r) = self.rd.get_mut(Side::Client.idx()) {
                    r.tentative = false;
                }
                self.on_request(value, start, at);
                used
            }
        }
    }

    fn bad_head(&mut self, side: Side, kind: AnomalyKind, at: At) {
        let tentative = self.rd.get(side.idx()).is_some_and(|r| r.tentative);
        if tentative && kind == AnomalyKind::ParserBudget {
            // Not a false start: the budget, not the bytes, failed.
            self.anomaly(side, at.packet, kind);
        }
        if !tentative {
            self.anomaly(side, at.packet, kind);
            // An unreadable message still takes its place in the order: a
            // request is answered (often by a 400), a response answers one.
            self.message_lost(side, at);
        }
        self.summary.pairing_uncertain = true;
        self.set_stage(side, Stage::Resync(false));
    }

    fn on_request(&mut self, h: head::RequestHead, start: At, at: At) {
        if h.notes.truncated {
            self.anomaly(Side::Client, at.packet, AnomalyKind::FieldTruncated);
        }
        if h.notes.bad_length {
            self.anomaly(Side::Client, at.packet, AnomalyKind::BadContentLength);
        }
        if h.notes.length_and_chunked {
            self.anomaly(Side::Client, at.packet, AnomalyKind::LengthAndChunked);
        }
        let client_close = close_signal(h.version, h.connection);
        if let (Some(signal), None) = (client_close, self.summary.close) {
            self.summary.close = Some(Close {
                by: Side::Client,
                signal,
                packet: at.packet,
            });
        }
        self.summary.requests = self.summary.requests.saturating_add(1);
        self.summary.version = Some(h.version);
        let wish = if h.method.eq_ignore_ascii_case("CONNECT") {
            Wish::Connect
        } else if let Some(protocol) = h.upgrade {
            let h2c = protocol
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("h2c"));
            Wish::Upgrade { h2c, protocol }
        } else if h.method.eq_ignore_ascii_case("HEAD") {
            Wish::Head
        } else {
            Wish::Plain
        };
        let hold = matches!(wish, Wish::Connect | Wish::Upgrade { .. }) && !self.hold_disabled;
        let exchange = Exchange {
            request: Request {
                method: h.method,
                authority: h.host,
                path: h.target,
                start: start.ts,
                ..Request::default()
            },
            version: h.version,
            response_version: None,
            client_close,
            server_close: None,
        };
        self.push_pending(
            Pending {
                exchange,
                wish,
                phantom: false,
            },
            at,
        );
        let stage = match h.framing {
            Framing::Empty | Framing::Length(0) if hold => Stage::Hold,
            Framing::Empty | Framing::Length(0) => Stage::Head,
            Framing::Length(n) => Stage::Body(Body::Length(n)),
            Framing::Chunked => Stage::Body(Body::Chunked(Chunk::Size)),
            // Requests are never delimited by close (RFC 9112 section 6.3
            // rule 4): the next request's start is unknown.
            Framing::UntilClose | Framing::Unknown => {
                self.anomaly(Side::Client, at.packet, AnomalyKind::UnframeableRequestBody);
                self.summary.pairing_uncertain = true;
                Stage::Resync(false)
            }
        };
        if let Some(r) = self.rd.get_mut(Side::Client.idx()) {
            r.hold_after_body = hold && matches!(stage, Stage::Body(_));
            r.stage = stage;
        }
    }

    /// Queues a request for its response. Past [`PENDING_CAP`], or when
    /// the parser budget cannot take it, the oldest waiting (this one, if
    /// none other is) is reported as it stands, its response to be skipped.
    fn push_pending(&mut self, p: Pending, at: At) {
        let full = self.pending.len() >= PENDING_CAP;
        let slot = if self.pending.len() < self.pending.capacity() {
            0
        } else {
            self.pending.capacity().max(4) * std::mem::size_of::<Pending>()
        };
        let refused = !full && !self.charge.take(p.text() + slot);
        if !full && !refused {
            self.pending_text += p.text();
            self.pending.push_back(p);
            return;
        }
        // The oldest waiting goes, or this one when none other waits (then
        // nothing grows).
        let old = match self.pop_pending() {
            Some(old) => {
                self.pending_text += p.text();
                self.pending.push_back(p);
                old
            }
            None => p,
        };
        if refused {
            let bytes = old.text() as u64;
            self.anomaly_with(
                Side::Client,
                at.packet,
                AnomalyKind::ParserBudget,
                Some(bytes),
            );
        } else if self.evicted == 0 {
            self.anomaly(Side::Client, at.packet, AnomalyKind::TooManyPending);
        }
        self.evicted = self.evicted.saturating_add(1);
        if !old.phantom {
            self.done.push(old.exchange);
        }
    }

    fn response_head(&mut self, data: &[u8], at: At) -> usize {
        let Some(r) = self.rd.get_mut(Side::Server.idx()) else {
            return data.len();
        };
        match gather(
            r,
            &mut self.charge,
            data,
            at,
            head_ready,
            head::parse_response,
        ) {
            Gathered::More { used } => used,
            Gathered::Fail { kind, used } => {
                self.bad_head(Side::Server, kind, at);
                used
            }
            Gathered::Done {
                value,
                used,
                start: _,
            } => {
                if let Some(r) = self.rd.get_mut(Side::Server.idx()) {
                    r.tentative = false;
                }
                let rest = data.get(used..).unwrap_or_default();
                if self.on_response(value, rest, at) {
                    data.len()
                } else {
                    used
                }
            }
        }
    }

    /// Returns true when the connection switched and `rest` went to the
    /// hand-off.
    fn on_response(&mut self, h: head::ResponseHead, rest: &[u8], at: At) -> bool {
        if h.status == 101 {
            self.switch_protocols(h, rest, at);
            return true;
        }
        if (100..200).contains(&h.status) {
            // RFC 9110 section 15.2: interim; the final response follows.
            self.summary.interim_responses = self.summary.interim_responses.saturating_add(1);
            return false;
        }
        if h.notes.bad_length {
            self.anomaly(Side::Server, at.packet, AnomalyKind::BadContentLength);
        }
        if h.notes.length_and_chunked {
            self.anomaly(Side::Server, at.packet, AnomalyKind::LengthAndChunked);
        }
        self.summary.responses = self.summary.responses.saturating_add(1);
        let server_close = close_signal(h.version, h.connection);
        if let (Some(signal), None) = (server_close, self.summary.close) {
            self.summary.close = Some(Close {
                by: Side::Server,
                signal,
                packet: at.packet,
            });
        }
        let evicted = self.evicted > 0;
        let mut pending = if evicted {
            self.evicted -= 1;
            None
        } else {
            self.pop_pending()
        };
        if pending.is_none() && !evicted {
            self.summary.unmatched_responses = self.summary.unmatched_responses.saturating_add(1);
            self.anomaly(Side::Server, at.packet, AnomalyKind::ResponseWithoutRequest);
        }
        let wish = pending
            .as_ref()
            .map(|p| p.wish.clone())
            .unwrap_or(Wish::Plain);
        if let Some(p) = pending.as_mut() {
            p.exchange.request.status = Some(h.status);
            p.exchange.response_version = Some(h.version);
            p.exchange.server_close = server_close;
        }
        self.cur = Some(Current {
            pending,
            bytes: 0,
            last_at: at,
        });
        if wish == Wish::Connect && (200..300).contains(&h.status) {
            let authority = self
                .cur
                .as_ref()
                .and_then(|c| c.pending.as_ref())
                .map(|p| p.exchange.request.path.clone())
                .unwrap_or_default();
            self.finish_current(Some(at.ts), true);
            self.begin_switch(SwitchKind::Tunnel { authority }, rest, at);
            return true;
        }
        if matches!(wish, Wish::Connect | Wish::Upgrade { .. }) {
            // Refused: the held bytes are more HTTP/1.
            self.release_hold();
        }
        // RFC 9112 section 6.3 rule 1: no body after HEAD, 204 or 304.
        let framing = if wish == Wish::Head || h.status == 204 || h.status == 304 {
            Framing::Empty
        } else {
            h.framing
        };
        let stage = match framing {
            Framing::Empty | Framing::Length(0) => {
                self.finish_current(Some(at.ts), true);
                Stage::Head
            }
            Framing::Length(n) => Stage::Body(Body::Length(n)),
            Framing::Chunked => Stage::Body(Body::Chunked(Chunk::Size)),
            Framing::UntilClose | Framing::Unknown => Stage::Body(Body::UntilClose),
        };
        self.set_stage(Side::Server, stage);
        false
    }

    fn switch_protocols(&mut self, h: head::ResponseHead, rest: &[u8], at: At) {
        self.summary.responses = self.summary.responses.saturating_add(1);
        let asked =
            matches!(self.pending.front(), Some(p) if matches!(p.wish, Wish::Upgrade { .. }));
        let pending = if asked { self.pop_pending() } else { None };
        if !asked {
            self.anomaly(Side::Server, at.packet, AnomalyKind::UnrequestedSwitch);
        }
        let offered = h.upgrade.unwrap_or_default();
        let kind = match pending {
            Some(Pending {
                wish: Wish::Upgrade { h2c: true, .. },
                exchange,
                ..
            }) if offered.is_empty() || offered.eq_ignore_ascii_case("h2c") => SwitchKind::H2c {
                stream1: exchange.request,
            },
            Some(Pending {
                wish: Wish::Upgrade { protocol, .. },
                mut exchange,
                ..
            }) => {
                exchange.request.status = Some(101);
                exchange.request.end = Some(at.ts);
                exchange.request.response_bytes = Some(0);
                exchange.response_version = Some(h.version);
                self.done.push(exchange);
                SwitchKind::Upgrade {
                    protocol: if offered.is_empty() {
                        protocol
                    } else {
                        offered
                    },
                }
            }
            _ => SwitchKind::Upgrade { protocol: offered },
        };
        self.begin_switch(kind, rest, at);
    }

    fn begin_switch(&mut self, kind: SwitchKind, rest: &[u8], at: At) {
        let mut server_rest = Vec::new();
        let take = rest.len().min(HANDOFF_CAP);
        server_rest.extend_from_slice(rest.get(..take).unwrap_or_default());
        if take < rest.len() {
            self.anomaly(Side::Server, at.packet, AnomalyKind::HandoffOverflow);
        }
        let client_rest = std::mem::take(&mut self.held);
        self.held_at.clear();
        let s = Switch {
            kind,
            at,
            client_rest,
            server_rest,
        };
        self.summary.switched = Some(s.tag());
        self.switch = Some(s);
        // Requests still waiting can no longer be answered in HTTP/1.
        while let Some(p) = self.pop_pending() {
            if !p.phantom {
                self.done.push(p.exchange);
            }
        }
        self.set_stage(Side::Client, Stage::Switched);
        self.set_stage(Side::Server, Stage::Switched);
    }

    fn handoff(&mut self, side: Side, data: &[u8]) -> usize {
        let packet = self
            .rd
            .get(side.idx())
            .map(|r| r.last_at.packet)
            .unwrap_or_default();
        let Some(s) = self.switch.as_mut() else {
            self.summary.bytes_after_switch = self
                .summary
                .bytes_after_switch
                .saturating_add(data.len() as u64);
            return data.len();
        };
        let buf = match side {
            Side::Client => &mut s.client_rest,
            Side::Server => &mut s.server_rest,
        };
        let mut take = data.len().min(HANDOFF_CAP.saturating_sub(buf.len()));
        let over = take < data.len();
        if !self.charge.take(growth(buf, take)) {
            take = 0;
        }
        buf.extend_from_slice(data.get(..take).unwrap_or_default());
        if over {
            self.anomaly(side, packet, AnomalyKind::HandoffOverflow);
        } else if take < data.len() {
            self.anomaly_with(
                side,
                packet,
                AnomalyKind::ParserBudget,
                Some(data.len() as u64),
            );
        }
        data.len()
    }

    fn hold(&mut self, data: &[u8], at: At) -> usize {
        let want = self.held.len().saturating_add(data.len());
        let over = want > HANDOFF_CAP;
        if over || !self.charge.take(growth(&self.held, data.len())) {
            // Too long to wait for: take it that HTTP/1 goes on, and hold no
            // more on this connection (which also bounds the recursion).
            if over {
                self.anomaly(Side::Client, at.packet, AnomalyKind::HandoffOverflow);
            } else {
                self.anomaly_with(
                    Side::Client,
                    at.packet,
                    AnomalyKind::ParserBudget,
                    Some(want as u64),
                );
            }
            self.hold_disabled = true;
            self.release_hold();
            self.on_data(Side::Client, data, at);
            return data.len();
        }
        // Past the segment cap, later bytes share the last segment's packet.
        let same = self.held_at.last().is_some_and(|l| l.1 == at);
        if !same && self.held_at.len() < HELD_SEGMENTS_CAP {
            self.held_at.push((self.held.len(), at));
        }
        self.held.extend_from_slice(data);
        data.len()
    }

    /// Reads the held bytes as HTTP/1 after all.
    fn release_hold(&mut self) {
        if self.rd.get(Side::Client.idx()).map(|r| r.stage) != Some(Stage::Hold) {
            return;
        }
        self.set_stage(Side::Client, Stage::Head);
        let held = std::mem::take(&mut self.held);
        let held_at = std::mem::take(&mut self.held_at);
        let mut segments = held_at.iter().peekable();
        while let Some(&(from, at)) = segments.next() {
            let to = segments.peek().map_or(held.len(), |next| next.0);
            self.on_data(Side::Client, held.get(from..to).unwrap_or_default(), at);
        }
    }

    fn resync(&mut self, side: Side, line_start: bool, data: &[u8], at: At) -> usize {
        let check = match side {
            Side::Client => looks_like_http1_request,
            Side::Server => looks_like_status_line,
        };
        match find_start(data, line_start, check) {
            Ok(pos) => {
                if let Some(r) = self.rd.get_mut(side.idx()) {
                    r.stage = Stage::Head;
                    r.tentative = true;
                    r.buf.clear();
                }
                let rest = data.get(pos..).unwrap_or_default();
                let used = match side {
                    Side::Client => self.request_head(rest, at),
                    Side::Server => self.response_head(rest, at),
                };
                pos.saturating_add(used)
            }
            Err(ends_line) => {
                self.set_stage(side, Stage::Resync(ends_line));
                data.len()
            }
        }
    }

    fn body(&mut self, side: Side, body: Body, data: &[u8], at: At) -> usize {
        match body {
            Body::Length(rem) => {
                let take = rem.min(data.len() as u64);
                self.count(side, take, at);
                if take == rem {
                    self.body_done(side, at);
                } else {
                    self.set_stage(side, Stage::Body(Body::Length(rem - take)));
                }
                take as usize
            }
            Body::UntilClose => {
                self.count(side, data.len() as u64, at);
                data.len()
            }
            Body::Chunked(Chunk::Data(rem)) => {
                let take = rem.min(data.len() as u64);
                self.count(side, take, at);
                let next = if take == rem {
                    Chunk::DataEnd(false)
                } else {
                    Chunk::Data(rem - take)
                };
                self.set_stage(side, Stage::Body(Body::Chunked(next)));
                take as usize
            }
            Body::Chunked(Chunk::DataEnd(cr)) => {
                // RFC 9112 section 7.1: chunk-data is followed by CRLF (a
                // bare LF is tolerated).
                match data.first() {
                    Some(b'\r') if !cr => {
                        self.set_stage(side, Stage::Body(Body::Chunked(Chunk::DataEnd(true))))
                    }
                    Some(b'\n') => self.set_stage(side, Stage::Body(Body::Chunked(Chunk::Size))),
                    _ => self.bad_chunk(side, AnomalyKind::BadChunk, at),
                }
                1
            }
            Body::Chunked(Chunk::Size) => {
                let Some(r) = self.rd.get_mut(side.idx()) else {
                    return data.len();
                };
                match gather(
                    r,
                    &mut self.charge,
                    data,
                    at,
                    line_ready,
                    head::parse_chunk_size,
                ) {
                    Gathered::More { used } => used,
                    Gathered::Fail { kind, used } => {
                        self.bad_chunk(side, kind, at);
                        used
                    }
                    Gathered::Done {
                        value: size, used, ..
                    } => {
                        // RFC 9112 section 7.1: a zero size is the last chunk.
                        let next = if size == 0 {
                            Chunk::Trailers
                        } else {
                            Chunk::Data(size)
                        };
                        self.set_stage(side, Stage::Body(Body::Chunked(next)));
                        used
                    }
                }
            }
            Body::Chunked(Chunk::Trailers) => {
                let Some(r) = self.rd.get_mut(side.idx()) else {
                    return data.len();
                };
                match gather(
                    r,
                    &mut self.charge,
                    data,
                    at,
                    trailers_ready,
                    head::parse_trailers,
                ) {
                    Gathered::More { used } => used,
                    Gathered::Fail { kind, used } => {
                        self.bad_chunk(side, kind, at);
                        used
                    }
                    Gathered::Done { used, .. } => {
                        self.body_done(side, at);
                        used
                    }
                }
            }
        }
    }

    fn bad_chunk(&mut self, side: Side, kind: AnomalyKind, at: At) {
        self.anomaly(side, at.packet, kind);
        if side == Side::Server {
            self.finish_current(None, false);
        }
        self.summary.pairing_uncertain = true;
        self.set_stage(side, Stage::Resync(false));
    }

    /// Counts response body bytes.
    fn count(&mut self, side: Side, n: u64, at: At) {
        if let (Side::Server, Some(c)) = (side, self.cur.as_mut()) {
            c.bytes = c.bytes.saturating_add(n);
            c.last_at = at;
        }
    }

    fn body_done(&mut self, side: Side, at: At) {
        match side {
            Side::Client => {
                let hold = self.rd.get(side.idx()).is_some_and(|r| r.hold_after_body);
                if let Some(r) = self.rd.get_mut(side.idx()) {
                    r.hold_after_body = false;
                    r.stage = if hold { Stage::Hold } else { Stage::Head };
                }
            }
            Side::Server => {
                self.finish_current(Some(at.ts), true);
                self.set_stage(side, Stage::Head);
            }
        }
    }

    /// Reports the response being read: `end` is its last byte's time when
    /// known, `complete` whether its body length is known.
    fn finish_current(&mut self, end: Option<crate::Ts>, complete: bool) {
        let Some(c) = self.cur.take() else {
            return;
        };
        if let Some(mut p) = c.pending {
            p.exchange.request.end = end;
            p.exchange.request.response_bytes = complete.then_some(c.bytes);
            if !p.phantom {
                self.done.push(p.exchange);
            }
        }
    }

    /// A gap between messages, or one that cut a header block: at least one
    /// message was (partly) lost on `side`.
    fn gap_at_boundary(&mut self, side: Side, last: At) {
        if let Some(r) = self.rd.get_mut(side.idx()) {
            r.buf.clear();
        }
        self.lose_framing(side, last);
        self.message_lost(side, last);
    }

    /// One message of `side` was lost or unreadable.
    fn message_lost(&mut self, side: Side, last: At) {
        match side {
            Side::Client => {
                self.summary.lost_requests = self.summary.lost_requests.saturating_add(1);
                let exchange = Exchange {
                    request: Request::default(),
                    version: Version::Http11,
                    response_version: None,
                    client_close: None,
                    server_close: None,
                };
                self.push_pending(
                    Pending {
                        exchange,
                        wish: Wish::Plain,
                        phantom: true,
                    },
                    last,
                );
            }
            Side::Server => {
                // The lost bytes held (the start of) the oldest request's
                // response: report that request without one.
                if self.evicted > 0 {
                    self.evicted -= 1;
                } else if let Some(p) = self.pop_pending() {
                    self.cur = Some(Current {
                        pending: Some(p),
                        bytes: 0,
                        last_at: last,
                    });
                    self.finish_current(None, false);
                }
            }
        }
    }

    fn lose_framing(&mut self, side: Side, last: At) {
        self.anomaly(side, last.packet, AnomalyKind::GapLostFraming);
        self.summary.pairing_uncertain = true;
        if let Some(r) = self.rd.get_mut(side.idx()) {
            r.buf.clear();
            r.hold_after_body = false;
            r.stage = Stage::Resync(true);
        }
    }
}

#[cfg(test)]
mod tests;
