//! Hostile captures built in memory, each aimed at one cap: a million
//! short connections, an endless out-of-order window, oversized TLS records
//! and handshake messages, a 2^24-1-byte HTTP/2 frame, HPACK table size
//! updates of 2^32-1, HPACK entries sharing large buffers, an HTTP/1
//! header block without end, and a key log of a million lines. Each must end with the documented anomaly (or bound)
//! and without memory growing with the input.
//!
//! Memory is checked two ways: by the figures connreuse itself exposes
//! (live connections, pending bytes, anomalies, report size), and by the
//! heap bytes this test's thread holds at its peak, counted by a global
//! allocator (exact, unlike RSS, and blind to the other tests' threads).

use connreuse::analyze;
use connreuse::app::Session;
use connreuse::capture::Reader;
use connreuse::decode::{self, Decoded};
use connreuse::findings;
use connreuse::flow::{self, Event, Reassembler, Seq, Table};
use connreuse::keys::{KeyLog, WarningKind};
use connreuse::ledger::Ledger;
use connreuse::report::{html, json};
use connreuse::{At, http1, http2, tls};
use serde_json::Value;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Cursor, Read};

// ---------------------------------------------------------------------------
// Heap accounting per thread.

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters are thread-local cells that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for System.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for System.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for System.
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for System.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static HEAP: Counting = Counting;

/// Runs `f` and returns its result with the most heap bytes this thread
/// held during it beyond what it held before.
fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(before));
    let out = f();
    let peak = PEAK.with(Cell::get);
    (out, usize::try_from(peak - before).unwrap_or(0))
}

const MIB: usize = 1 << 20;

// ---------------------------------------------------------------------------
// Packets: legacy pcap, LINKTYPE_RAW (101), IPv4 + TCP without options.

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

fn pcap_header() -> Vec<u8> {
    let mut h = Vec::with_capacity(24);
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&262_144u32.to_le_bytes());
    h.extend_from_slice(&101u32.to_le_bytes());
    h
}

/// An IPv4 address and a port.
type End = ([u8; 4], u16);

struct Seg<'a> {
    src: End,
    dst: End,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &'a [u8],
}

/// Appends one pcap record holding `seg` at `ts_us` microseconds.
fn record(out: &mut Vec<u8>, ts_us: u64, seg: &Seg<'_>) {
    let len = 40 + seg.payload.len();
    out.extend_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    // IPv4 (RFC 791): no options, DF, TTL 64, TCP; checksums are not read.
    out.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0]);
    let at = out.len() - 10;
    out[at..at + 2].copy_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&seg.src.0);
    out.extend_from_slice(&seg.dst.0);
    // TCP (RFC 9293 section 3.1): data offset 5 words.
    out.extend_from_slice(&seg.src.1.to_be_bytes());
    out.extend_from_slice(&seg.dst.1.to_be_bytes());
    out.extend_from_slice(&seg.seq.to_be_bytes());
    out.extend_from_slice(&seg.ack.to_be_bytes());
    out.extend_from_slice(&[0x50, seg.flags, 0xff, 0xff, 0, 0, 0, 0]);
    out.extend_from_slice(seg.payload);
}

const CLIENT: End = ([10, 0, 0, 1], 40_000);
const SERVER: End = ([192, 0, 2, 1], 443);
const CLIENT_ISN: u32 = 1_000;
const SERVER_ISN: u32 = 7_000_000;

/// One TCP connection written as a capture: handshake, data from either
/// side in segments of at most 1400 bytes, each acknowledged, then FINs.
struct Capture {
    out: Vec<u8>,
    ts_us: u64,
    port: u16,
    next: [u32; 2],
}

impl Capture {
    fn new(server_port: u16) -> Capture {
        let mut c = Capture {
            out: pcap_header(),
            ts_us: 1_700_000_000_000_000,
            port: server_port,
            next: [CLIENT_ISN + 1, SERVER_ISN + 1],
        };
        let server = (SERVER.0, server_port);
        c.raw(CLIENT, server, CLIENT_ISN, 0, SYN, &[]);
        c.raw(server, CLIENT, SERVER_ISN, CLIENT_ISN + 1, SYN | ACK, &[]);
        c.raw(CLIENT, server, CLIENT_ISN + 1, SERVER_ISN + 1, ACK, &[]);
        c.next = [CLIENT_ISN + 1, SERVER_ISN + 1];
        c
    }

    fn ends(&self, client: bool) -> (End, End, usize) {
        let server = (SERVER.0, self.port);
        if client {
            (CLIENT, server, 0)
        } else {
            (server, CLIENT, 1)
        }
    }

    fn raw(&mut self, src: End, dst: End, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        self.ts_us += 100;
        let seg = Seg {
            src,
            dst,
            seq,
            ack,
            flags,
            payload,
        };
        record(&mut self.out, self.ts_us, &seg);
    }

    /// `bytes` from the client (or the server), in order.
    fn send(&mut self, client: bool, bytes: &[u8]) {
        let (src, dst, i) = self.ends(client);
        for chunk in bytes.chunks(1400) {
            let (seq, ack) = (self.next[i], self.next[1 - i]);
            self.raw(src, dst, seq, ack, PSH | ACK, chunk);
            self.next[i] = seq.wrapping_add(chunk.len() as u32);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        for client in [true, false] {
            let (src, dst, i) = self.ends(client);
            let (seq, ack) = (self.next[i], self.next[1 - i]);
            self.raw(src, dst, seq, ack, FIN | ACK, &[]);
            self.next[i] = seq.wrapping_add(1);
        }
        self.out
    }
}

/// The whole pipeline over a capture in memory, as the JSON report, and
/// the heap growth while reading and reporting it.
fn report(capture: Vec<u8>) -> (Value, usize) {
    peak_growth(move || {
        let result = analyze::reader(
            "adversarial.pcap".into(),
            Box::new(Cursor::new(capture)),
            &Default::default(),
        );
        assert!(result.error.is_none(), "{:?}", result.error);
        let mut ledger = Ledger::new(vec![(result.info, result.connections)]);
        let found = findings::diagnose(&ledger);
        ledger.set_findings(found);
        let mut out = Vec::new();
        json::render(&ledger, &mut out, false).expect("in memory");
        serde_json::from_slice(&out).expect("valid JSON")
    })
}

/// The anomalies of the report as (layer, kind, side, bytes).
fn anomalies(report: &Value) -> Vec<(String, String, String, Option<u64>)> {
    report["anomalies"]
        .as_array()
        .expect("anomalies[]")
        .iter()
        .map(|a| {
            (
                a["layer"].as_str().unwrap_or("").to_string(),
                a["kind"].as_str().unwrap_or("").to_string(),
                a["side"].as_str().unwrap_or("").to_string(),
                a["bytes"].as_u64(),
            )
        })
        .collect()
}

fn has(report: &Value, layer: &str, kind: &str, side: &str) -> bool {
    anomalies(report)
        .iter()
        .any(|(l, k, s, _)| l == layer && k == kind && s == side)
}

// ---------------------------------------------------------------------------
// A million connections.

/// A capture of `n` connections, each SYN, SYN-ACK, FIN from the client and
/// FIN from the server, 10 ms apart, generated as it is read.
struct Quartets {
    n: u32,
    spacing_us: u64,
    i: u32,
    buf: Vec<u8>,
    pos: usize,
}

/// Capture time between two connections of [`Quartets`].
const QUARTET_SPACING_US: u64 = 10_000;

impl Quartets {
    fn new(n: u32) -> Quartets {
        Quartets::spaced(n, QUARTET_SPACING_US)
    }

    /// `n` connections `spacing_us` apart (0: all at the same instant).
    fn spaced(n: u32, spacing_us: u64) -> Quartets {
        Quartets {
            n,
            spacing_us,
            i: 0,
            buf: pcap_header(),
            pos: 0,
        }
    }

    /// The four records of connection `i`, as the template of connection
    /// 0 with the client's address and port and the times patched in.
    fn refill(&mut self) {
        const RECORD: usize = 16 + 40;
        self.buf.clear();
        self.pos = 0;
        let template = quartet();
        for _ in 0..1024 {
            if self.i >= self.n {
                return;
            }
            let i = self.i;
            self.i += 1;
            let [_, a, b, c] = i.to_be_bytes();
            let port = (40_000 + (i % 20_000) as u16).to_be_bytes();
            let t0 = 1_700_000_000_000_000 + u64::from(i) * self.spacing_us;
            let at = self.buf.len();
            self.buf.extend_from_slice(&template);
            for k in 0..4 {
                let r = &mut self.buf[at + k * RECORD..at + (k + 1) * RECORD];
                let t = t0 + k as u64 * 100;
                r[0..4].copy_from_slice(&((t / 1_000_000) as u32).to_le_bytes());
                r[4..8].copy_from_slice(&((t % 1_000_000) as u32).to_le_bytes());
                // Client to server: the client is the IP source and the TCP
                // source port; the other way, the destination.
                let (ip, tcp) = if k % 2 == 0 { (28, 36) } else { (32, 38) };
                r[ip..ip + 4].copy_from_slice(&[10, a, b, c]);
                r[tcp..tcp + 2].copy_from_slice(&port);
            }
        }
    }
}

/// Connection 0 of [`Quartets`].
fn quartet() -> Vec<u8> {
    let client = ([10, 0, 0, 0], 40_000);
    let server = ([192, 0, 2, 1], 80);
    let segs = [
        (client, server, 100, 0, SYN),
        (server, client, 900, 101, SYN | ACK),
        (client, server, 101, 901, FIN | ACK),
        (server, client, 901, 102, FIN | ACK),
    ];
    let mut out = Vec::new();
    for (src, dst, seq, ack, flags) in segs {
        let seg = Seg {
            src,
            dst,
            seq,
            ack,
            flags,
            payload: &[],
        };
        record(&mut out, 0, &seg);
    }
    out
}

impl Read for Quartets {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            self.refill();
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn a_million_short_connections_keep_the_table_small() {
    const N: u32 = 1_000_000;
    let ((finished, max_live, segments), heap) = peak_growth(|| {
        let mut reader = Reader::new(Box::new(Quartets::new(N))).expect("pcap");
        let mut table = Table::new(Session::new);
        let (mut finished, mut max_live) = (0usize, 0usize);
        while let Some(frame) = reader.next_frame().expect("well formed") {
            let at = At {
                packet: frame.index,
                ts: frame.ts,
            };
            if let Decoded::Tcp(seg) = decode::decode(frame.linktype, frame.data) {
                table.segment(&seg, at);
            }
            max_live = max_live.max(table.live());
            finished += table.take_finished().count();
        }
        table.finish_all();
        finished += table.take_finished().count();
        (finished, max_live, table.counters.segments)
    });
    assert_eq!(finished, N as usize);
    assert_eq!(segments, 4 * u64::from(N));
    // A closed connection stays CLOSED_LINGER after its last packet, and the
    // table looks for expired ones every 2^14 packets (4096 connections).
    let lingering = (flow::CLOSED_LINGER.0 as u64 / 1_000 / QUARTET_SPACING_US) as usize;
    let bound = lingering + (1 << 14) / 4 + 1;
    assert!(
        max_live <= bound,
        "{max_live} live connections, bound {bound}"
    );
    assert!(max_live >= lingering, "{max_live}: the linger is real");
    // The connection table at its fullest: about 640 bytes a slot, up to
    // four slots per live connection once deletions have left tombstones,
    // old and new slots together while it grows (measured: 61.6 MB at
    // 16 097 live); plus the reader's 2 MiB buffer. A million connections
    // held at once would take over 600 MB.
    assert!(heap < 96 * MIB, "heap grew by {heap} bytes");
}

/// The same quartets all at one instant: capture time never moves, so no
/// connection ever expires, and only the table's cap on live connections
/// (flow::MAX_LIVE, here lowered to 16 384 to keep the test small) bounds
/// it. The connections are closed ones, so making room evicts none.
#[test]
fn connections_at_one_instant_are_capped_by_the_live_limit() {
    const N: u32 = 100_000;
    const CAP: usize = 1 << 14;
    let ((finished, max_live, evicted), heap) = peak_growth(|| {
        let mut reader = Reader::new(Box::new(Quartets::spaced(N, 0))).expect("pcap");
        let mut table = Table::with_max_live(Session::new, CAP);
        let (mut finished, mut max_live) = (0usize, 0usize);
        while let Some(frame) = reader.next_frame().expect("well formed") {
            let at = At {
                packet: frame.index,
                ts: frame.ts,
            };
            if let Decoded::Tcp(seg) = decode::decode(frame.linktype, frame.data) {
                table.segment(&seg, at);
            }
            max_live = max_live.max(table.live());
            finished += table.take_finished().count();
        }
        table.finish_all();
        finished += table.take_finished().count();
        (finished, max_live, table.counters.evicted)
    });
    assert_eq!(finished, N as usize);
    assert_eq!(max_live, CAP);
    assert_eq!(evicted, 0);
    assert!(heap < 96 * MIB, "heap grew by {heap} bytes");
}

#[test]
fn the_report_of_many_connections_grows_linearly_and_the_page_is_capped() {
    let sizes: Vec<(usize, usize)> = [5_000u32, 10_000]
        .into_iter()
        .map(|n| {
            let mut capture = Vec::new();
            Quartets::new(n)
                .read_to_end(&mut capture)
                .expect("in memory");
            let result = analyze::reader(
                "many.pcap".into(),
                Box::new(Cursor::new(capture)),
                &Default::default(),
            );
            let mut ledger = Ledger::new(vec![(result.info, result.connections)]);
            assert_eq!(ledger.totals.tcp_connections, n as usize);
            assert_eq!(ledger.totals.tcp_handshakes, n as usize);
            let found = findings::diagnose(&ledger);
            ledger.set_findings(found);
            let (mut js, mut page) = (Vec::new(), Vec::new());
            json::render(&ledger, &mut js, false).expect("in memory");
            html::write_html(&ledger, &mut page).expect("in memory");
            (js.len(), page.len())
        })
        .collect();
    let [(json5, html5), (json10, html10)] = sizes[..] else {
        unreachable!()
    };
    // JSON: one entry per connection, a bounded size each.
    assert!(json10 / 10_000 < 2_000, "{json10} bytes of JSON");
    assert!(json10 > json5 * 19 / 10);
    // HTML: at most MAX_BARS connections are drawn, so twice the
    // connections add only their counts.
    assert!(html10 < html5 + html5 / 10, "{html5} -> {html10}");
}

// ---------------------------------------------------------------------------
// TCP reassembly.

/// Segments of 1000 bytes where every hundredth never arrives: each one
/// after a hole lands ahead of it, for 64 MiB of stream.
#[test]
fn an_endless_out_of_order_window_hits_the_cap_and_reports_gaps() {
    const SEG: usize = 1000;
    const SEGMENTS: usize = 64 * MIB / SEG;
    let payload = [0x61u8; SEG];
    let mut rx = Reassembler::default();
    rx.start_after_syn(Seq(CLIENT_ISN));
    let mut budget = flow::GLOBAL_PENDING;
    let (mut data, mut gaps, mut max_pending) = (0u64, 0u64, 0usize);
    let ((), heap) = peak_growth(|| {
        for k in (0..SEGMENTS).filter(|k| k % 100 != 0) {
            let seq = Seq(CLIENT_ISN + 1).wrapping_add((k * SEG) as u32);
            rx.segment(seq, &payload, 0, &mut budget, &mut |ev| match ev {
                Event::Data(d) => data += d.len() as u64,
                Event::Gap(n) => gaps += n,
            });
            max_pending = max_pending.max(rx.pending_bytes());
            assert_eq!(budget + rx.pending_bytes(), flow::GLOBAL_PENDING);
        }
        rx.flush(&mut budget, &mut |ev| match ev {
            Event::Data(d) => data += d.len() as u64,
            Event::Gap(n) => gaps += n,
        });
    });
    assert!(max_pending <= flow::reassembly::MAX_PENDING);
    assert_eq!(rx.pending_bytes(), 0);
    assert_eq!(budget, flow::GLOBAL_PENDING);
    let s = rx.stats;
    assert!(s.cap_hits >= 10, "{s:?}");
    assert!(s.gaps >= s.cap_hits, "{s:?}");
    // Every byte of the stream is accounted for, as data or as a gap.
    assert_eq!(data + gaps, (SEGMENTS * SEG) as u64);
    assert_eq!((s.delivered, s.gap_bytes), (data, gaps));
    // Exactly the never-sent segments are gaps: what was buffered after a
    // hole given up on is delivered, not thrown away.
    let never_sent = (0..SEGMENTS).filter(|k| k % 100 == 0).count();
    assert_eq!(gaps, (never_sent * SEG) as u64);
    // Buffered copies at most MAX_PENDING, plus the map's nodes.
    assert!(heap < flow::reassembly::MAX_PENDING + 2 * MIB, "{heap}");
}

/// The same through the whole pipeline: a client that sends 12 MiB, never
/// the first segment, and a server that never acknowledges.
#[test]
fn an_out_of_order_stream_in_a_capture_reports_its_gap_bytes() {
    const SEG: usize = 1400;
    const TOTAL: usize = 12 * MIB / SEG * SEG;
    let mut c = Capture::new(8080);
    let payload = [0x62u8; SEG];
    let server = (SERVER.0, 8080);
    for k in 1..TOTAL / SEG {
        let seq = CLIENT_ISN + 1 + (k * SEG) as u32;
        c.raw(CLIENT, server, seq, SERVER_ISN + 1, PSH, &payload);
    }
    c.next[0] = CLIENT_ISN + 1 + TOTAL as u32;
    let (r, heap) = report(c.finish());
    let conn = &r["connections"][0];
    let stream = conn["stream_bytes"]["client"].as_u64().unwrap();
    let gaps = conn["gap_bytes"]["client"].as_u64().unwrap();
    // Only the first segment was never sent.
    assert_eq!((stream, gaps), ((TOTAL - SEG) as u64, SEG as u64), "{conn}");
    // The capture itself is in memory before the count starts; reading
    // holds the reader's buffer and at most MAX_PENDING of segments.
    assert!(heap < flow::reassembly::MAX_PENDING + 8 * MIB, "{heap}");
}

// ---------------------------------------------------------------------------
// TLS.

/// A ClientHello record (RFC 8446 section 4.1.2): TLS 1.2 legacy version,
/// a random of 0x01s, no session id, TLS_AES_128_GCM_SHA256, null
/// compression, no extensions.
fn client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[1; 32]);
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0, 0, 0]);
    let mut hs = vec![1, 0, 0, body.len() as u8];
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01, 0, hs.len() as u8];
    rec.extend_from_slice(&hs);
    rec
}

#[test]
fn a_tls_record_over_the_limit_stops_that_side() {
    const DECLARED: usize = (1 << 14) + 2049;
    assert_eq!(DECLARED, tls::MAX_RECORD_LEN + 1);
    let mut c = Capture::new(443);
    c.send(true, &client_hello());
    let mut big = vec![0x17, 0x03, 0x03];
    big.extend_from_slice(&(DECLARED as u16).to_be_bytes());
    big.resize(32 * MIB, 0x5a);
    c.send(true, &big);
    let (r, heap) = report(c.finish());
    assert_eq!(r["connections"][0]["protocol"], "tls");
    assert!(
        anomalies(&r).contains(&(
            "tls".into(),
            "oversized_record".into(),
            "client".into(),
            Some(DECLARED as u64)
        )),
        "{:?}",
        anomalies(&r)
    );
    assert!(anomalies(&r).len() <= tls::MAX_ANOMALIES);
    assert!(heap < 8 * MIB, "{heap}");
}

#[test]
fn a_handshake_message_of_16_mib_is_skipped_not_buffered() {
    const DECLARED: usize = (1 << 24) - 1;
    let mut c = Capture::new(443);
    // A ClientHello declaring 2^24-1 bytes, then records continuing it.
    let mut client = Vec::new();
    let mut first = vec![1, 0xff, 0xff, 0xff];
    first.resize(1 << 14, 0x11);
    for fragment in std::iter::once(first).chain(std::iter::repeat_n(vec![0x11; 1 << 14], 255)) {
        client.extend_from_slice(&[0x16, 0x03, 0x01]);
        client.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
        client.extend_from_slice(&fragment);
    }
    c.send(true, &client);
    // A Certificate declaring 2^24-1 bytes from the server: skipped by
    // length, whatever its size (only hellos are buffered).
    let mut server = Vec::new();
    let mut first = vec![11, 0xff, 0xff, 0xff];
    first.resize(1 << 14, 0x22);
    for fragment in std::iter::once(first).chain(std::iter::repeat_n(vec![0x22; 1 << 14], 255)) {
        server.extend_from_slice(&[0x16, 0x03, 0x03]);
        server.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
        server.extend_from_slice(&fragment);
    }
    c.send(false, &server);
    let (r, heap) = report(c.finish());
    let found = anomalies(&r);
    assert!(
        found.contains(&(
            "tls".into(),
            "hello_too_large".into(),
            "client".into(),
            Some(DECLARED as u64)
        )),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|a| a.2 == "server"),
        "the server's long message is no anomaly: {found:?}"
    );
    // 4 MiB of each; MAX_HELLO_LEN is 64 KiB.
    assert!(heap < 6 * MIB, "{heap}");
}

// ---------------------------------------------------------------------------
// HTTP/2.

fn h2_frame(kind: u8, flags: u8, stream: u32, len: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[test]
fn an_http2_frame_of_2_24_minus_1_bytes() {
    const DECLARED: u32 = (1 << 24) - 1;
    // (a) The server's SETTINGS (defaults: 16384) came first: too large.
    let mut c = Capture::new(80);
    let mut client = http2::PREFACE.to_vec();
    client.extend(h2_frame(4, 0, 0, 0, &[]));
    c.send(true, &client);
    c.send(false, &h2_frame(4, 0, 0, 0, &[]));
    let mut client = h2_frame(0, 0, 1, DECLARED, &[]);
    client.resize(client.len() + 4 * MIB, 0);
    c.send(true, &client);
    let (r, heap) = report(c.finish());
    assert!(
        has(&r, "http", "frame_too_large", "client"),
        "{:?}",
        anomalies(&r)
    );
    assert!(heap < 8 * MIB, "{heap}");

    // (b) No SETTINGS from the server yet: any length up to 2^24-1 is
    // legal. A DATA frame is skipped by length; a HEADERS frame's block is
    // buffered up to BLOCK_CAP and then given up.
    let mut c = Capture::new(80);
    let mut client = http2::PREFACE.to_vec();
    client.extend(h2_frame(0, 0, 1, DECLARED, &[]));
    client.resize(client.len() + DECLARED as usize, 0);
    client.extend(h2_frame(1, 4, 3, DECLARED, &[]));
    client.resize(client.len() + DECLARED as usize, 0);
    c.send(true, &client);
    let (r, heap) = report(c.finish());
    let found = anomalies(&r);
    assert!(
        found
            .iter()
            .any(|a| a.0 == "http" && a.1 == "header_block_too_large"),
        "{found:?}"
    );
    assert!(!found.iter().any(|a| a.1 == "frame_too_large"), "{found:?}");
    assert!(heap < 2 * http2::frame::BLOCK_CAP + 8 * MIB, "{heap}");
}

#[test]
fn hpack_table_size_updates_of_2_32_minus_1() {
    // RFC 7541 section 6.3: 001xxxxx, the size as a 5-bit-prefix integer
    // (section 5.1): 31, then 2^32-1-31 = 0xffffffe0 in 7-bit groups.
    const HUGE_UPDATE: [u8; 6] = [0x3f, 0xe0, 0xff, 0xff, 0xff, 0x0f];
    let mut c = Capture::new(80);
    let mut client = http2::PREFACE.to_vec();
    client.extend(h2_frame(4, 0, 0, 0, &[]));
    c.send(true, &client);
    // SETTINGS_HEADER_TABLE_SIZE = 2^32-1 from the server (RFC 9113 6.5.2).
    c.send(
        false,
        &h2_frame(4, 0, 0, 6, &[0, 1, 0xff, 0xff, 0xff, 0xff]),
    );
    let mut client = Vec::new();
    for stream in (1..=99).step_by(2) {
        let mut block = HUGE_UPDATE.repeat(3);
        // :method GET, :scheme http, :path / (static table, section 2.3.1).
        block.extend_from_slice(&[0x82, 0x86, 0x84]);
        client.extend(h2_frame(1, 5, stream, block.len() as u32, &block));
    }
    c.send(true, &client);
    let (r, heap) = report(c.finish());
    let found = anomalies(&r);
    assert!(
        found
            .iter()
            .any(|a| a.1 == "hpack_error" && a.2 == "client"),
        "{found:?}"
    );
    assert!(found.len() <= http2::ANOMALY_CAP, "{}", found.len());
    let conn = &r["connections"][0];
    assert_eq!(conn["http"]["requests"], 50, "{conn}");
    assert_eq!(conn["http"]["unreadable_requests"], 50, "{conn}");
    assert!(heap < 4 * MIB, "{heap}");
}

/// A 60 000-byte `:path` entered once in a 64 KiB dynamic table, then
/// 5000 requests whose header block is one byte referring to it: each
/// request keeps at most hpack's FIELD_CAP (2048) bytes of it, and says so.
#[test]
fn one_byte_references_to_a_long_hpack_entry() {
    const REQUESTS: u32 = 5000;
    let mut c = Capture::new(80);
    let mut client = http2::PREFACE.to_vec();
    client.extend(h2_frame(4, 0, 0, 0, &[]));
    c.send(true, &client);
    // SETTINGS_HEADER_TABLE_SIZE = 65536 from the server.
    c.send(false, &h2_frame(4, 0, 0, 6, &[0, 1, 0, 1, 0, 0]));
    // Size update to 65536; :method GET; literal :path with incremental
    // indexing, 60 000 bytes (RFC 7541 sections 6.3, 6.1, 6.2.1, 5.1).
    let mut block = vec![0x3f, 0xe1, 0xff, 0x03, 0x82, 0x44, 0x7f];
    let mut rest = 60_000 - 127;
    while rest >= 0x80 {
        block.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    block.push(rest as u8);
    block.resize(block.len() + 60_000, b'p');
    // In frames of at most 16 384 bytes: HEADERS, then CONTINUATION.
    let mut client = Vec::new();
    let pieces: Vec<&[u8]> = block.chunks(16_384).collect();
    for (i, piece) in pieces.iter().enumerate() {
        let kind = if i == 0 { 1 } else { 9 };
        let end_stream = if i == 0 { 1 } else { 0 };
        let end_headers = if i + 1 == pieces.len() { 4 } else { 0 };
        let flags = end_stream | end_headers;
        client.extend(h2_frame(kind, flags, 1, piece.len() as u32, piece));
    }
    for n in 1..REQUESTS {
        // Index 62: the newest dynamic entry, the long :path.
        client.extend(h2_frame(1, 5, 1 + 2 * n, 1, &[0xbe]));
    }
    c.send(true, &client);
    let (r, heap) = report(c.finish());
    let requests = r["requests"].as_array().expect("requests[]");
    assert_eq!(requests.len(), REQUESTS as usize);
    assert!(
        requests
            .iter()
            .all(|q| q["path"].as_str().map(str::len) == Some(2048)),
        "{}",
        requests[1]
    );
    assert!(has(&r, "http", "field_truncated", "client"));
    // The count covers the ledger (which holds each request twice), the
    // JSON text and its parsed tree: measured 53 MB, about 10 KB a
    // request. Whole 60 000-byte paths would take over a gigabyte.
    assert!(heap < 96 * MIB, "{heap}");
}

/// HPACK table entries that would each keep a large buffer alive: h2's
/// decoder keeps a `:path` value as a slice of the buffer it was decoded
/// from (the header block, or the Huffman output buffer). 200 blocks of
/// 96 KiB each add two small `:path` entries to a 64 KiB table, one raw,
/// sharing the block's buffer, one Huffman-coded, sharing the Huffman
/// output of a 48 KiB value decoded just before it. Kept as they are,
/// those entries would hold about 35 MB; the decoder rebuilds its table
/// compactly, so the heap stays near one block's worth.
#[test]
fn hpack_entries_sharing_large_buffers() {
    const BLOCKS: u32 = 200;
    const BIG: usize = 48 * 1024;
    let mut c = Capture::new(80);
    let mut client = http2::PREFACE.to_vec();
    client.extend(h2_frame(4, 0, 0, 0, &[]));
    c.send(true, &client);
    // The server allows a 65 536-byte table and 1 MiB frames (RFC 9113
    // section 6.5.2: SETTINGS_HEADER_TABLE_SIZE, SETTINGS_MAX_FRAME_SIZE).
    c.send(
        false,
        &h2_frame(4, 0, 0, 12, &[0, 1, 0, 1, 0, 0, 0, 5, 0, 0x10, 0, 0]),
    );
    /// An HPACK string literal's length, 7-bit prefix (RFC 7541 section
    /// 5.1), Huffman flag `h`.
    fn length(b: &mut Vec<u8>, h: u8, n: usize) {
        if n < 127 {
            b.push(h | n as u8);
            return;
        }
        b.push(h | 127);
        let mut rest = n - 127;
        while rest >= 0x80 {
            b.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        b.push(rest as u8);
    }
    let mut client = Vec::new();
    for n in 0..BLOCKS {
        // A size update to 65 536 in the first block (section 6.3).
        let mut block = if n == 0 {
            vec![0x3f, 0xe1, 0xff, 0x03]
        } else {
            Vec::new()
        };
        // accept-encoding (static index 16, literal without indexing,
        // section 6.2.2), Huffman-coded: BIG octets 0xf8, each the 8-bit
        // code of '&' (Appendix B). Its output buffer is sized for the
        // shortest codes (8/5 of the input), so room is left after it.
        block.extend_from_slice(&[0x0f, 0x01]);
        length(&mut block, 0x80, BIG);
        block.resize(block.len() + BIG, 0xf8);
        // :path (static index 4) with incremental indexing (section
        // 6.2.1), Huffman-coded "00000000": five zero octets, eight 5-bit
        // codes. Decoded into that room.
        block.extend_from_slice(&[0x44, 0x85, 0, 0, 0, 0, 0]);
        // accept-encoding again, BIG raw octets, then :path "/pinned"
        // raw with incremental indexing: a slice of this block's buffer.
        block.extend_from_slice(&[0x0f, 0x01]);
        length(&mut block, 0, BIG);
        block.resize(block.len() + BIG, b'a');
        block.extend_from_slice(&[0x44, 0x07]);
        block.extend_from_slice(b"/pinned");
        client.extend(h2_frame(1, 5, 1 + 2 * n, block.len() as u32, &block));
    }
    let input = client.len();
    c.send(true, &client);
    let (r, heap) = report(c.finish());
    let found = anomalies(&r);
    assert!(!found.iter().any(|a| a.1 == "hpack_error"), "{found:?}");
    let requests = r["requests"].as_array().expect("requests[]");
    assert_eq!(requests.len(), BLOCKS as usize);
    assert!(
        requests.iter().all(|q| q["path"] == "00000000"),
        "{}",
        requests[0]
    );
    // Measured: 2.5 MiB (each block's frame is buffered whole); with the
    // table never rebuilt (REBUILD_AT = usize::MAX), 36 MiB.
    assert!(input > 18 * MIB, "{input}");
    assert!(heap < 8 * MIB, "{heap}");
}

// ---------------------------------------------------------------------------
// HTTP/1.

#[test]
fn an_http1_header_block_without_end() {
    let mut c = Capture::new(80);
    let mut head = b"GET / HTTP/1.1\r\nHost: example.com\r\n".to_vec();
    while head.len() < 8 * MIB {
        head.extend_from_slice(
            b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        );
    }
    c.send(true, &head);
    let (r, heap) = report(c.finish());
    assert!(
        has(&r, "http", "header_too_large", "client"),
        "{:?}",
        anomalies(&r)
    );
    assert!(anomalies(&r).len() <= http1::ANOMALY_CAP);
    assert!(heap < 2 * http1::HEADER_CAP + 8 * MIB, "{heap}");
}

// ---------------------------------------------------------------------------
// Key logs.

#[test]
fn a_key_log_of_a_million_lines() {
    const LINES: usize = 1_000_000;
    const VALID_EVERY: usize = 100;
    let mut text = Vec::with_capacity(LINES * 40);
    for i in 0..LINES {
        if i % VALID_EVERY == 0 {
            // CLIENT_RANDOM <64 hex> <96 hex>: a distinct random each.
            text.extend_from_slice(format!("CLIENT_RANDOM {i:064x} {:096x}\n", i + 1).as_bytes());
        } else {
            text.extend_from_slice(b"CLIENT_RANDOM 00 11 22 33 44\n");
        }
    }
    let before = LIVE.with(Cell::get);
    let ((log, warnings), peak) = peak_growth(|| KeyLog::parse(&text));
    let held = usize::try_from(LIVE.with(Cell::get) - before).unwrap_or(0);
    assert_eq!(log.len(), LINES / VALID_EVERY);
    assert_eq!(log.secret_count(), LINES / VALID_EVERY);
    // 1000 kept, then one that counts the rest.
    assert_eq!(warnings.len(), 1001);
    let invalid = LINES - LINES / VALID_EVERY;
    assert_eq!(
        warnings.last().map(|w| &w.kind),
        Some(&WarningKind::Suppressed {
            count: (invalid - 1000) as u64
        })
    );
    // While parsing, the table is sized from the text (one slot per
    // shortest valid line at most): less than the text itself. Once
    // parsed, a slot and a 48-byte secret per valid line, not per line.
    assert!(peak < text.len(), "{peak} bytes for {} of text", text.len());
    let per_valid = held / (LINES / VALID_EVERY);
    assert!(per_valid < 512, "{per_valid} bytes held per stored secret");
}
