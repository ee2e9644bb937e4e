//! Tests for the HTTP/1 exchange tracker.
//!
//! Hand-written exchanges were checked with tshark 4.0.17: each fixture was
//! written as a pcap (Ethernet/IPv4/TCP, handshake as packets 1-3, one packet
//! per data segment from packet 4 on, FINs at the end) and read with
//! `tshark -r F.pcap -o http.decompress_body:FALSE -Y http -T fields
//!  -e frame.number -e http.request.method -e http.host -e http.request.uri
//!  -e http.response.code -e http.content_length -e http.chunk_size`.
//! The harness numbers segments the same way (first data packet = 4), so
//! packet numbers below are tshark's `frame.number`. Where tshark departs
//! from RFC 9112, the test says so and follows the RFC.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::expect_used
)]

use super::testing::{Event, corpus, tcp_connection};
use super::*;
use crate::Ts;

/// Timestamps in tests are the packet number, so times double as packets.
fn at(packet: u64) -> At {
    At {
        packet,
        ts: Ts(packet as i64),
    }
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    C(&'a [u8]),
    S(&'a [u8]),
    GapC(u64),
    GapS(u64),
}
use Seg::*;

struct Run {
    exchanges: Vec<Exchange>,
    summary: Summary,
    switch: Option<Switch>,
}

/// Feeds segments as packets 4, 5, ... (gaps take no packet), then closes.
fn run_with(segs: &[Seg], split: impl Fn(usize, &[u8]) -> Vec<Vec<u8>>) -> Run {
    let mut h = Http1::new();
    let mut packet = 4;
    for (i, s) in segs.iter().enumerate() {
        match *s {
            C(d) | S(d) => {
                let side = if matches!(s, C(_)) {
                    Side::Client
                } else {
                    Side::Server
                };
                for piece in split(i, d) {
                    h.on_data(side, &piece, at(packet));
                }
                packet += 1;
            }
            GapC(n) => h.on_gap(Side::Client, n),
            GapS(n) => h.on_gap(Side::Server, n),
        }
    }
    h.on_close(at(packet));
    let exchanges = h.take_requests().collect();
    Run {
        exchanges,
        summary: h.summary(),
        switch: h.take_switch(),
    }
}

fn run(segs: &[Seg]) -> Run {
    run_with(segs, |_, d| vec![d.to_vec()])
}

/// (method, authority, path, status, start packet, end packet, response bytes)
type Row<'a> = (
    &'a str,
    Option<&'a str>,
    &'a str,
    Option<u16>,
    u64,
    Option<u64>,
    Option<u64>,
);

fn rows(r: &Run) -> Vec<Row<'_>> {
    r.exchanges
        .iter()
        .map(|e| {
            let q = &e.request;
            (
                q.method.as_str(),
                q.authority.as_deref(),
                q.path.as_str(),
                q.status,
                q.start.0 as u64,
                q.end.map(|t| t.0 as u64),
                q.response_bytes,
            )
        })
        .collect()
}

fn kinds(s: &Summary) -> Vec<AnomalyKind> {
    s.anomalies.iter().map(|a| a.kind).collect()
}

// Three pipelined requests in one segment, three responses in one segment.
// tshark: frame 4 GET,HEAD,POST example.com /a,/b,/c; frame 5: 200 (3 bytes
// "abc") and then it waits for 1000 body bytes after the HEAD response.
// RFC 9112 section 6.3 rule 1 says a response to HEAD has no body, so the
// 201 chunked response (chunk sizes 4,5,0: 9 bytes, as tshark reports when
// the HEAD exchange is removed: `200,201 abc,Wikipedia`) follows at once.
const PIPELINED_C: &[u8] = b"GET /a HTTP/1.1\r\nHost: example.com\r\n\r\nHEAD /b HTTP/1.1\r\nHost: example.com\r\n\r\nPOST /c HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello";
const PIPELINED_S: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nExpires: never\r\n\r\n";
const PIPELINED_ROWS: &[Row<'static>] = &[
    (
        "GET",
        Some("example.com"),
        "/a",
        Some(200),
        4,
        Some(5),
        Some(3),
    ),
    (
        "HEAD",
        Some("example.com"),
        "/b",
        Some(200),
        4,
        Some(5),
        Some(0),
    ),
    (
        "POST",
        Some("example.com"),
        "/c",
        Some(201),
        4,
        Some(5),
        Some(9),
    ),
];

#[test]
fn pipelined_exchange() {
    let r = run(&[C(PIPELINED_C), S(PIPELINED_S)]);
    assert_eq!(rows(&r), PIPELINED_ROWS);
    assert_eq!(r.summary.requests, 3);
    assert_eq!(r.summary.responses, 3);
    assert_eq!(r.summary.version, Some(Version::Http11));
    assert!(r.summary.anomalies.is_empty(), "{:?}", r.summary.anomalies);
    assert!(
        r.exchanges
            .iter()
            .all(|e| e.version == Version::Http11 && e.client_close.is_none())
    );
}

#[test]
fn pipelined_split_at_every_point() {
    for side in 0..2 {
        let len = [PIPELINED_C.len(), PIPELINED_S.len()][side];
        for cut in 0..=len {
            let r = run_with(&[C(PIPELINED_C), S(PIPELINED_S)], |i, d| {
                if i == side {
                    vec![d[..cut].to_vec(), d[cut..].to_vec()]
                } else {
                    vec![d.to_vec()]
                }
            });
            assert_eq!(rows(&r), PIPELINED_ROWS, "side {side} cut {cut}");
            assert!(r.summary.anomalies.is_empty(), "side {side} cut {cut}");
        }
    }
}

#[test]
fn pipelined_one_byte_at_a_time() {
    let r = run_with(&[C(PIPELINED_C), S(PIPELINED_S)], |_, d| {
        d.chunks(1).map(<[u8]>::to_vec).collect()
    });
    assert_eq!(rows(&r), PIPELINED_ROWS);
}

// tshark: frame 5 "100", frame 6 POST h /up (Content-Length 4), frame 7 "204".
#[test]
fn interim_100_continue() {
    let r = run(&[
        C(b"POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"),
        S(b"HTTP/1.1 100 Continue\r\n\r\n"),
        C(b"data"),
        S(b"HTTP/1.1 204 No Content\r\n\r\n"),
    ]);
    assert_eq!(
        rows(&r),
        [("POST", Some("h"), "/up", Some(204), 4, Some(7), Some(0))]
    );
    assert_eq!(r.summary.interim_responses, 1);
    assert_eq!(r.summary.responses, 1);
}

// tshark: frame 4 GET,GET /c,/d; frame 5 "304" whose 50-byte Content-Length
// tshark takes as a body (swallowing the next response). RFC 9110 section
// 15.4.5 and RFC 9112 section 6.3 rule 1: a 304 has no content, so the 200
// that follows answers /d.
#[test]
fn not_modified_has_no_body() {
    let r = run(&[
        C(b"GET /c HTTP/1.1\r\nHost: h\r\n\r\nGET /d HTTP/1.1\r\nHost: h\r\n\r\n"),
        S(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(
        rows(&r),
        [
            ("GET", Some("h"), "/c", Some(304), 4, Some(5), Some(0)),
            ("GET", Some("h"), "/d", Some(200), 4, Some(5), Some(0)),
        ]
    );
}

// tshark: frame 4 GET h /old; frame 8 (the server's FIN) "200" with body
// "until close" (11 bytes) in frames 5-6.
#[test]
fn http10_body_until_close() {
    let r = run(&[
        C(b"GET /old HTTP/1.0\r\nHost: h\r\n\r\n"),
        S(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil"),
        S(b" close"),
    ]);
    assert_eq!(
        rows(&r),
        [("GET", Some("h"), "/old", Some(200), 4, Some(6), Some(11))]
    );
    let e = &r.exchanges[0];
    assert_eq!(e.version, Version::Http10);
    assert_eq!(e.client_close, Some(CloseSignal::Http10Default));
    assert_eq!(e.server_close, Some(CloseSignal::Http10Default));
    assert_eq!(
        r.summary.close,
        Some(Close {
            by: Side::Client,
            signal: CloseSignal::Http10Default,
            packet: 4
        })
    );
}

// tshark: frames 4/5 GET /1 -> 200 (2 bytes), frames 6/7 GET /2 -> 503 with
// `Connection: close` (4 bytes).
#[test]
fn server_announces_close() {
    let r = run(&[
        C(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"),
        S(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        C(b"GET /2 HTTP/1.1\r\nHost: h\r\n\r\n"),
        S(b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbusy"),
    ]);
    assert_eq!(
        rows(&r),
        [
            ("GET", Some("h"), "/1", Some(200), 4, Some(5), Some(2)),
            ("GET", Some("h"), "/2", Some(503), 6, Some(7), Some(4)),
        ]
    );
    assert_eq!(r.exchanges[1].server_close, Some(CloseSignal::Header));
    assert_eq!(
        r.summary.close,
        Some(Close {
            by: Side::Server,
            signal: CloseSignal::Header,
            packet: 7
        })
    );
}

// tshark: frame 4 CONNECT example.com:443, frame 6 "200". The client's bytes
// sent before the answer (frame 5) and the server's after it are the tunnel.
#[test]
fn connect_becomes_tunnel() {
    let mut h = Http1::new();
    h.on_data(
        Side::Client,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        at(4),
    );
    h.on_data(Side::Client, b"\x16\x03\x01\x00\x05hello", at(5));
    assert!(h.upgrade().is_none());
    h.on_data(
        Side::Server,
        b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x02hi",
        at(6),
    );
    let s = h.take_switch().expect("switch");
    assert_eq!(
        s.kind,
        SwitchKind::Tunnel {
            authority: "example.com:443".into()
        }
    );
    assert_eq!(s.client_rest, b"\x16\x03\x01\x00\x05hello");
    assert_eq!(s.server_rest, b"\x16\x03\x03\x00\x02hi");
    assert_eq!(s.at.packet, 6);
    h.on_data(Side::Client, b"more", at(7));
    h.on_close(at(8));
    let ex: Vec<_> = h.take_requests().collect();
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].request.status, Some(200));
    assert_eq!(ex[0].request.response_bytes, Some(0));
    let sum = h.summary();
    assert_eq!(sum.switched, Some(SwitchTag::Tunnel));
    assert_eq!(sum.bytes_after_switch, 4);
}

#[test]
fn connect_refused_releases_held_bytes() {
    let r = run(&[
        C(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
        C(b"GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        S(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 1\r\n\r\n!"),
        S(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(
        rows(&r),
        [
            (
                "CONNECT",
                Some("example.com:443"),
                "example.com:443",
                Some(407),
                4,
                Some(6),
                Some(1)
            ),
            (
                "GET",
                Some("example.com"),
                "/x",
                Some(200),
                5,
                Some(7),
                Some(0)
            ),
        ]
    );
    assert_eq!(r.summary.switched, None);
}

const H2C_REQUEST: &[u8] = b"GET /index HTTP/1.1\r\nHost: server.example\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
const PREFACE_AND_SETTINGS: &[u8] =
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

// tshark: frame 4 GET server.example /index (Upgrade), frame 5 "101" then an
// HTTP/2 SETTINGS frame (http2.type 4) in the same segment, frame 6 the
// client preface and SETTINGS.
#[test]
fn upgrade_h2c_hands_off_both_streams() {
    for preface_first in [false, true] {
        let mut h = Http1::new();
        h.on_data(Side::Client, H2C_REQUEST, at(4));
        if preface_first {
            // Bytes sent before the answer are held, not parsed as HTTP/1.
            h.on_data(Side::Client, PREFACE_AND_SETTINGS, at(5));
        }
        h.on_data(
            Side::Server,
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
            at(6),
        );
        if !preface_first {
            h.on_data(Side::Client, PREFACE_AND_SETTINGS, at(7));
        }
        let s = h.take_switch().expect("switch");
        let SwitchKind::H2c { stream1 } = &s.kind else {
            panic!("{:?}", s.kind)
        };
        assert_eq!(stream1.method, "GET");
        assert_eq!(stream1.path, "/index");
        assert_eq!(stream1.authority.as_deref(), Some("server.example"));
        assert_eq!(stream1.start, Ts(4));
        assert_eq!(s.client_rest, PREFACE_AND_SETTINGS);
        assert_eq!(s.server_rest, b"\x00\x00\x00\x04\x00\x00\x00\x00\x00");
        h.on_close(at(8));
        // Stream 1 is reported by the HTTP/2 parser, not here.
        assert_eq!(h.take_requests().count(), 0);
        assert!(h.summary().anomalies.is_empty());
    }
}

// tshark: frames 4 and 5 GET /index (Upgrade) and GET /next; frame 6 "200,404".
#[test]
fn upgrade_refused_continues_http1() {
    let r = run(&[
        C(H2C_REQUEST),
        C(b"GET /next HTTP/1.1\r\nHost: server.example\r\n\r\n"),
        S(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(
        rows(&r),
        [
            (
                "GET",
                Some("server.example"),
                "/index",
                Some(200),
                4,
                Some(6),
                Some(2)
            ),
            (
                "GET",
                Some("server.example"),
                "/next",
                Some(404),
                5,
                Some(6),
                Some(0)
            ),
        ]
    );
}

// tshark: frame 4 GET ws.example /chat (Upgrade), frame 5 "101".
#[test]
fn upgrade_websocket() {
    let r = run(&[
        C(b"GET /chat HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
        S(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x02hi"),
    ]);
    assert_eq!(
        rows(&r),
        [(
            "GET",
            Some("ws.example"),
            "/chat",
            Some(101),
            4,
            Some(5),
            Some(0)
        )]
    );
    let s = r.switch.expect("switch");
    assert_eq!(
        s.kind,
        SwitchKind::Upgrade {
            protocol: "websocket".into()
        }
    );
    assert_eq!(s.server_rest, b"\x81\x02hi");
}

// Gaps: the lost byte counts are known by construction of each case.

#[test]
fn gap_inside_length_body_is_absorbed() {
    let r = run(&[
        C(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"),
        S(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n012"),
        GapS(4),
        S(b"789HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
    ]);
    assert_eq!(
        rows(&r),
        [
            ("GET", Some("h"), "/a", Some(200), 4, Some(6), Some(10)),
            ("GET", Some("h"), "/b", Some(200), 4, Some(6), Some(1)),
        ]
    );
    assert!(r.summary.anomalies.is_empty());
    assert!(!r.summary.pairing_uncertain);
}

#[test]
fn gap_inside_chunk_data_is_absorbed() {
    let r = run(&[
        C(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"),
        S(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n01"),
        GapS(5),
        S(b"789\r\n0\r\n\r\n"),
    ]);
    assert_eq!(
        rows(&r),
        [("GET", Some("h"), "/a", Some(200), 4, Some(6), Some(10))]
    );
    assert!(r.summary.anomalies.is_empty());
}

#[test]
fn gap_losing_a_whole_request_keeps_pairing() {
    let r = run(&[
        C(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"),
        GapC(28),
        C(b"GET /3 HTTP/1.1\r\nHost: h\r\n\r\n"),
        S(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1HTTP/1.1 202 OK\r\nContent-Length: 1\r\n\r\n2HTTP/1.1 203 OK\r\nContent-Length: 1\r\n\r\n3"),
    ]);
    assert_eq!(
        rows(&r),
        [
            ("GET", Some("h"), "/1", Some(200), 4, Some(6), Some(1)),
            ("GET", Some("h"), "/3", Some(203), 5, Some(6), Some(1)),
        ]
    );
    assert_eq!(r.summary.lost_requests, 1);
    assert!(r.summary.pairing_uncertain);
    assert_eq!(kinds(&r.summary), [AnomalyKind::GapLostFraming]);
}

#[test]
fn gap_in_response_head_resyncs_on_next_status_line() {
    let r = run(&[
        C(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"),
        S(b"HTTP/1.1 200 OK\r\nContent-Le"),
        GapS(20),
        S(b"tail of the first body\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(
        rows(&r),
        [
            ("GET", Some("h"), "/1", None, 4, None, None),
            ("GET", Some("h"), "/2", Some(404), 4, Some(6), Some(0)),
        ]
    );
    assert_eq!(kinds(&r.summary), [AnomalyKind::GapLostFraming]);
}

#[test]
fn gap_in_chunk_size_line_loses_body_length() {
    let r = run(&[
        C(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"),
        S(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1"),
        GapS(30),
        S(b"\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
    ]);
    assert_eq!(
        rows(&r),
        [
            ("GET", Some("h"), "/1", Some(200), 4, None, None),
            ("GET", Some("h"), "/2", Some(200), 4, Some(6), Some(2)),
        ]
    );
}

#[test]
fn response_without_request() {
    let r = run(&[
        S(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
        C(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
    ]);
    assert_eq!(rows(&r), [("GET", Some("h"), "/", None, 5, None, None)]);
    assert_eq!(r.summary.unmatched_responses, 1);
    assert_eq!(kinds(&r.summary), [AnomalyKind::ResponseWithoutRequest]);
}

#[test]
fn truncated_body_at_close() {
    let r = run(&[
        C(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
        S(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhalf"),
    ]);
    assert_eq!(
        rows(&r),
        [("GET", Some("h"), "/", Some(200), 4, None, None)]
    );
    assert_eq!(kinds(&r.summary), [AnomalyKind::TruncatedAtClose]);
}

/// Malformed inputs: each yields the listed anomalies and no panic.
macro_rules! malformed {
    ($($name:ident: $segs:expr => $kinds:expr;)*) => {$(
        #[test]
        fn $name() {
            let r = run(&$segs);
            assert_eq!(kinds(&r.summary), $kinds);
        }
    )*};
}

malformed! {
    tls_on_port_80: [C(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")] => [AnomalyKind::MalformedHead];
    binary_response: [C(b"GET / HTTP/1.1\r\n\r\n"), S(b"\x00\x01\x02garbage\r\n\r\n")] => [AnomalyKind::MalformedHead];
    bad_chunk_size: [C(b"GET / HTTP/1.1\r\n\r\n"), S(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n")] => [AnomalyKind::BadChunk];
    bad_chunk_terminator: [C(b"GET / HTTP/1.1\r\n\r\n"), S(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY")] => [AnomalyKind::BadChunk];
    differing_lengths: [C(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")] => [AnomalyKind::BadContentLength, AnomalyKind::UnframeableRequestBody];
    smuggling_shape: [C(b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")] => [AnomalyKind::LengthAndChunked];
    unrequested_101: [S(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")] => [AnomalyKind::UnrequestedSwitch];
}

#[test]
fn oversized_header_block() {
    let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
    big.resize(HEADER_CAP + 10, b'a');
    for pieces in [1, 7] {
        let r = run_with(&[C(&big)], |_, d| {
            d.chunks(d.len() / pieces + 1).map(<[u8]>::to_vec).collect()
        });
        assert_eq!(
            kinds(&r.summary),
            [AnomalyKind::HeaderTooLarge],
            "{pieces} pieces"
        );
        assert!(r.exchanges.is_empty());
    }
}

#[test]
fn resync_after_garbage_finds_next_request() {
    // The unreadable request takes the first response (a 400, as servers
    // answer such input); the next request line found takes the second.
    let r = run(&[
        C(b"\x00\x01 junk\r\nGET /ok HTTP/1.1\r\nHost: h\r\n\r\n"),
        S(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert_eq!(
        rows(&r),
        [("GET", Some("h"), "/ok", Some(200), 4, Some(5), Some(0))]
    );
    assert_eq!(kinds(&r.summary), [AnomalyKind::MalformedHead]);
    assert_eq!(r.summary.lost_requests, 1);
}

#[test]
fn pending_requests_are_capped() {
    let one = b"GET / HTTP/1.1\r\n\r\n";
    let many = one.repeat(PENDING_CAP + 5);
    let mut h = Http1::new();
    h.on_data(Side::Client, &many, at(4));
    assert!(h.pending.len() <= PENDING_CAP);
    // The five evicted requests are already reported, and the first five
    // responses go to them.
    assert_eq!(h.take_requests().count(), 5);
    h.on_data(
        Side::Server,
        &b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".repeat(6),
        at(5),
    );
    let done: Vec<_> = h.take_requests().collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].request.status, Some(200));
    assert_eq!(kinds(&h.summary()), [AnomalyKind::TooManyPending]);
}

#[test]
fn sniff_request_line() {
    let cases: &[(&[u8], Option<bool>)] = &[
        (b"GET / HTTP/1.1", Some(true)),
        (b"M-SEARCH * HTTP/1.1", Some(true)),
        (b"PROPFIND /x", Some(true)),
        (b"GE", None),
        (b"GET", None),
        (b"", None),
        (b"GETX", Some(false)),
        (b"get / HTTP/1.1", Some(false)),
        (b"PRI * HTTP/2.0\r\n", Some(false)),
        (b"\x16\x03\x01", Some(false)),
    ];
    for (bytes, want) in cases {
        assert_eq!(
            looks_like_http1_request(bytes),
            *want,
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    assert_eq!(looks_like_status_line(b"HTTP/1.1 200 OK"), Some(true));
    assert_eq!(looks_like_status_line(b"HTTP/1.1 2"), None);
    assert_eq!(looks_like_status_line(b"HTTP/2 200"), Some(false));
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary bytes, cut anywhere and mixed with gaps, never panic and
        /// never grow buffers past their caps.
        #[test]
        fn arbitrary_input_is_bounded(
            ops in proptest::collection::vec((0u8..4, proptest::collection::vec(any::<u8>(), 0..300)), 0..40),
        ) {
            let mut h = Http1::new();
            for (i, (op, bytes)) in ops.iter().enumerate() {
                let a = at(i as u64 + 1);
                match op {
                    0 => h.on_data(Side::Client, bytes, a),
                    1 => h.on_data(Side::Server, bytes, a),
                    2 => h.on_gap(Side::Client, bytes.len() as u64),
                    _ => h.on_gap(Side::Server, bytes.len() as u64),
                }
                prop_assert!(h.rd.iter().all(|r| r.buf.len() <= HEADER_CAP));
                prop_assert!(h.held.len() <= HANDOFF_CAP);
                prop_assert!(h.pending.len() <= PENDING_CAP);
            }
            h.on_close(at(99));
            let _ = h.take_requests().count();
        }

        /// Real-looking messages with random splits give the same result as
        /// unsplit delivery.
        #[test]
        fn splits_do_not_change_results(cuts in proptest::collection::vec(0usize..400, 0..8)) {
            let r = run_with(&[C(PIPELINED_C), S(PIPELINED_S)], |_, d| {
                let mut points: Vec<usize> = cuts.iter().map(|c| c % (d.len() + 1)).collect();
                points.sort_unstable();
                let mut out = Vec::new();
                let mut from = 0;
                for p in points {
                    out.push(d[from..p].to_vec());
                    from = p;
                }
                out.push(d[from..].to_vec());
                out
            });
            prop_assert_eq!(rows(&r), PIPELINED_ROWS);
        }
    }
}

// Real captures from the shared corpus (skipped when it is absent).

fn replay(name: &str, port: u16, nth: usize) -> Option<(Http1, Vec<Exchange>)> {
    let path = corpus(name)?;
    let mut h = Http1::new();
    for ev in tcp_connection(&path, port, nth) {
        match ev {
            Event::Data(side, bytes, a) => h.on_data(side, &bytes, a),
            Event::Gap(side, n) => h.on_gap(side, n),
        }
        if h.upgrade().is_some() {
            break;
        }
    }
    h.on_close(At::default());
    let ex = h.take_requests().collect();
    Some((h, ex))
}

/// (method, host, path, status, response bytes)
type Fact<'a> = (&'a str, Option<&'a str>, &'a str, Option<u16>, Option<u64>);

fn facts(ex: &[Exchange]) -> Vec<Fact<'_>> {
    ex.iter()
        .map(|e| {
            let q = &e.request;
            (
                q.method.as_str(),
                q.authority.as_deref(),
                q.path.as_str(),
                q.status,
                q.response_bytes,
            )
        })
        .collect()
}

// tshark -r webdav.pcap -Y 'http.request or http.response' -T fields
//   -e frame.number -e tcp.stream -e http.request.method -e http.host
//   -e http.request.uri -e http.response.code -e http.content_length
// stream 0: 4 PROPFIND 104.156.149.6 /webdav; 6 301 (315);
//           7 PROPFIND /webdav/; 9 207 (838)
// stream 1: 18 MKCOL www.dlp-test.com /webdav; 19 401 (341); 21 MKCOL; 22 405 (1293)
#[test]
fn corpus_webdav() {
    let Some((h, ex)) = replay("webdav.pcap", 80, 0) else {
        return;
    };
    assert_eq!(
        facts(&ex),
        [
            (
                "PROPFIND",
                Some("104.156.149.6"),
                "/webdav",
                Some(301),
                Some(315)
            ),
            (
                "PROPFIND",
                Some("104.156.149.6"),
                "/webdav/",
                Some(207),
                Some(838)
            ),
        ]
    );
    assert_eq!(
        (ex[0].request.start.0, ex[0].request.end.map(|t| t.0)),
        (4, Some(6))
    );
    assert_eq!(
        (ex[1].request.start.0, ex[1].request.end.map(|t| t.0)),
        (7, Some(9))
    );
    assert!(h.summary().anomalies.is_empty());
    let Some((_, ex)) = replay("webdav.pcap", 80, 1) else {
        return;
    };
    assert_eq!(
        facts(&ex),
        [
            (
                "MKCOL",
                Some("www.dlp-test.com"),
                "/webdav",
                Some(401),
                Some(341)
            ),
            (
                "MKCOL",
                Some("www.dlp-test.com"),
                "/webdav",
                Some(405),
                Some(1293)
            ),
        ]
    );
}

// tshark -r dotenv.pcap -o http.decompress_body:FALSE -Y http -T fields
//   -e frame.number -e http.request.method -e http.host -e http.request.uri
//   -e http.response.code -e http.chunk_size
// 4 GET sevenpitaly.com /.env; 6 406, chunk sizes 41,0.
#[test]
fn corpus_chunked_dotenv() {
    let Some((h, ex)) = replay("dotenv.pcap", 80, 0) else {
        return;
    };
    assert_eq!(
        facts(&ex),
        [("GET", Some("sevenpitaly.com"), "/.env", Some(406), Some(41))]
    );
    assert_eq!(ex[0].request.end.map(|t| t.0), Some(6));
    assert!(h.summary().anomalies.is_empty());
}

// Same command on http_auth.pcap: 4 GET browserspy.dk /password-ok.php;
// 28 401 with chunk sizes 1521,73,216,11652,510,24,306,636,632,118,207,306,
// 852,81,0 (sum 17134).
#[test]
fn corpus_chunked_http_auth() {
    let Some((h, ex)) = replay("http_auth.pcap", 80, 0) else {
        return;
    };
    assert_eq!(
        facts(&ex),
        [(
            "GET",
            Some("browserspy.dk"),
            "/password-ok.php",
            Some(401),
            Some(17134)
        )]
    );
    assert_eq!(
        (ex[0].request.start.0, ex[0].request.end.map(|t| t.0)),
        (4, Some(28))
    );
    assert!(h.summary().anomalies.is_empty());
}

// tshark -r http-lines-split.pcap -T fields -e frame.number -e tcp.len:
// the request spans frames 4 (38 bytes) and 6 (29 bytes); tshark shows
// GET toni.lan:31337 / at 6 and "200" Content-Length 1476 at frame 10.
#[test]
fn corpus_request_split_across_packets() {
    let Some((_, ex)) = replay("http-lines-split.pcap", 31337, 0) else {
        return;
    };
    assert_eq!(
        facts(&ex),
        [("GET", Some("toni.lan:31337"), "/", Some(200), Some(1476))]
    );
    assert_eq!(
        (ex[0].request.start.0, ex[0].request.end.map(|t| t.0)),
        (4, Some(10))
    );
}

// tshark on http_starting_with_reply.pcapng: frame 3 "200" (no request in
// the capture), 5 GET proxy.wiresharkfest.acropolis.local
// /icons/ubuntu-logo.png, 9 "200" (3338), 11 GET /favicon.ico, 13 "404" (297).
#[test]
fn corpus_capture_starting_with_reply() {
    let Some((h, ex)) = replay("http_starting_with_reply.pcapng", 80, 0) else {
        return;
    };
    assert_eq!(
        facts(&ex),
        [
            (
                "GET",
                Some("proxy.wiresharkfest.acropolis.local"),
                "/icons/ubuntu-logo.png",
                Some(200),
                Some(3338)
            ),
            (
                "GET",
                Some("proxy.wiresharkfest.acropolis.local"),
                "/favicon.ico",
                Some(404),
                Some(297)
            ),
        ]
    );
    assert_eq!(h.summary().unmatched_responses, 1);
}

// tshark on http_connect.pcap: frame 4 CONNECT apache.org:443 (port 8080),
// frame 11 "200"; nDPI's result file lists the flow as HTTP_Connect then TLS.
#[test]
fn corpus_connect_tunnel() {
    let Some((mut h, ex)) = replay("http_connect.pcap", 8080, 0) else {
        return;
    };
    assert_eq!(
        facts(&ex),
        [(
            "CONNECT",
            Some("apache.org:443"),
            "apache.org:443",
            Some(200),
            Some(0)
        )]
    );
    assert_eq!(ex[0].request.end.map(|t| t.0), Some(11));
    let s = h.take_switch().expect("tunnel");
    assert_eq!(
        s.kind,
        SwitchKind::Tunnel {
            authority: "apache.org:443".into()
        }
    );
}

// tshark on ipp.pcap, stream 1 (port 631): POST 10.10.10.251 /ipp/ whose
// header is frame 22 (Expect: 100-continue, Content-Length 227309), "100"
// at 27, the body through frame 245, "200" chunked 184,0 at 249.
#[test]
fn corpus_expect_continue() {
    let Some((h, ex)) = replay("ipp.pcap", 631, 1) else {
        return;
    };
    assert_eq!(
        facts(&ex),
        [("POST", Some("10.10.10.251"), "/ipp/", Some(200), Some(184))]
    );
    assert_eq!(
        (ex[0].request.start.0, ex[0].request.end.map(|t| t.0)),
        (22, Some(249))
    );
    assert_eq!(h.summary().interim_responses, 1);
}

// tshark -r tls_heur__vmess-websocket.pcapng -Y http -T fields
//   -e frame.number -e tcp.dstport -e http.request.method -e http.host
//   -e http.request.uri -e http.response.code -e http.upgrade
// 17 1234 GET 127.0.0.1:1234 / websocket; 19 "101" websocket.
#[test]
fn corpus_websocket_upgrade() {
    let Some((mut h, ex)) = replay("tls_heur__vmess-websocket.pcapng", 1234, 0) else {
        return;
    };
    assert_eq!(
        facts(&ex),
        [("GET", Some("127.0.0.1:1234"), "/", Some(101), Some(0))]
    );
    assert_eq!(
        (ex[0].request.start.0, ex[0].request.end.map(|t| t.0)),
        (17, Some(19))
    );
    let kind = h.take_switch().map(|s| s.kind);
    assert_eq!(
        kind,
        Some(SwitchKind::Upgrade {
            protocol: "websocket".into()
        })
    );
}

// tshark -r quickplay.pcap -Y tcp.stream==2 -T fields -e frame.number
//   -e tcp.srcport -e tcp.seq -e tcp.len -e http.request.method -e http.host
// 5 33064 seq 1, 302 bytes: GET api-singtelhawk.quickplay.com /solr/...;
// 6 80 seq 35333, 53 bytes: the tail of an earlier response (no SYN was
// captured). tshark reports the request and no response.
#[test]
fn corpus_midstream_pickup() {
    let Some(path) = corpus("quickplay.pcap") else {
        return;
    };
    let feed = |mut h: Http1| {
        for ev in tcp_connection(&path, 80, 2) {
            match ev {
                Event::Data(side, bytes, a) => h.on_data(side, &bytes, a),
                Event::Gap(side, n) => h.on_gap(side, n),
            }
        }
        h.on_close(At::default());
        let ex: Vec<_> = h.take_requests().collect();
        (ex, h.summary())
    };
    let (ex, s) = feed(Http1::new_midstream());
    assert_eq!(ex.len(), 1);
    assert_eq!(
        (ex[0].request.method.as_str(), ex[0].request.status),
        ("GET", None)
    );
    assert_eq!(
        ex[0].request.authority.as_deref(),
        Some("api-singtelhawk.quickplay.com")
    );
    assert!(s.anomalies.is_empty());
    // Read as if from the start, the same bytes are an unreadable response.
    let (_, s) = feed(Http1::new());
    assert_eq!(kinds(&s), [AnomalyKind::MalformedHead]);
}

#[test]
fn midstream_skips_to_first_start_line() {
    let mut h = Http1::new_midstream();
    h.on_data(
        Side::Server,
        b"dy of an earlier response\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        at(4),
    );
    h.on_data(
        Side::Client,
        b"ader: x\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
        at(5),
    );
    h.on_data(Side::Server, b"HTTP/1.1 204 No Content\r\n\r\n", at(6));
    h.on_close(at(7));
    let ex: Vec<_> = h.take_requests().collect();
    assert_eq!(ex.len(), 1);
    assert_eq!(
        (ex[0].request.path.as_str(), ex[0].request.status),
        ("/next", Some(204))
    );
    let s = h.summary();
    // The first response came before any request: unmatched.
    assert_eq!((s.unmatched_responses, s.responses), (1, 2));
    assert_eq!(kinds(&s), [AnomalyKind::ResponseWithoutRequest]);
}
