//! Tests for the HTTP/2 connection tracker.
//!
//! The hand-made fixtures were written as pcaps (handshake as packets 1-3,
//! one packet per segment from 4 on) and decoded with tshark 4.0.17:
//! `tshark -r F.pcap -d tcp.port==80,http2 -T fields -e frame.number
//!  -e http2.type -e http2.streamid -e http2.flags -e http2.length
//!  -e http2.headers.method -e http2.headers.path -e http2.headers.authority
//!  -e http2.headers.status -e http2.pad_length -e http2.rst_stream.error
//!  -e http2.goaway.last_stream_id -e http2.settings.max_concurrent_streams
//!  -e http2.push_promise.promised_stream_id`.
//! The harness numbers segments the same way, so packets below are tshark's
//! `frame.number`, and timestamps are packet numbers.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::expect_used
)]

use super::*;
use crate::Ts;
use crate::http1::testing::{Event, corpus, tcp_connection};

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

/// tshark, frame by frame:
/// 4: preface, SETTINGS (ENABLE_PUSH=1), HEADERS 1 END_STREAM|END_HEADERS
///    GET / example.com (the authority enters the dynamic table)
/// 5: HEADERS 3 PADDED|PRIORITY|END_HEADERS pad 3, POST /upload example.com
///    (authority by dynamic index 62), DATA 3 END_STREAM "hello"
/// 6: HEADERS 5 END_STREAM (5 bytes) + CONTINUATION 5
///    END_HEADERS (25 bytes): GET /big example.com
const CLIENT: [&str; 4] = [
    "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a000006040000000000000200000001000010010500000001828684410b6578616d706c652e636f6d",
    "000015012c0000000303800000010f838604072f75706c6f6164be00000000000500010000000368656c6c6f",
    "000005010100000005828604042f000019090400000005626967be0008782d66696c6c65720a30313233343536373839",
    // 10: RST_STREAM 5 CANCEL (8)
    "00000403000000000500000008",
];
/// 7: SETTINGS MAX_CONCURRENT_STREAMS=100 MAX_FRAME_SIZE=32768, unknown
///    type 250, SETTINGS ACK
/// 8: HEADERS 3 :status 100, HEADERS 3 :status 201, DATA 3 END_STREAM|PADDED
///    length 16 pad 5 (tshark's http2.data.data shows 15 bytes, the padding
///    included; RFC 9113 section 6.1 makes it 16 - 1 - 5 = 10 data bytes)
/// 9: PUSH_PROMISE on 1 promising 2 (GET /style.css example.com), HEADERS 1
///    :status 200, DATA 1 END_STREAM 20 bytes, HEADERS 2 :status 200 END_STREAM
const SERVER: [&str; 4] = [
    "00000c040000000000000300000064000500008000000008fa0000000000756e6b6e6f776e21000000040100000000",
    "0000050104000000030803313030000005010400000003080332303100001000090000000305303132333435363738390000000000",
    "00001f050400000001000000028286040a2f7374796c652e637373410b6578616d706c652e636f6d00000101040000000188000014000100000001787878787878787878787878787878787878787800000101050000000288",
    // 11: GOAWAY last stream 5, NO_ERROR
    "0000080700000000000000000500000000",
];

/// Segments of the h2multi fixture in capture order (packets 4 to 11).
fn h2multi() -> Vec<(Side, Vec<u8>)> {
    use Side::*;
    vec![
        (Client, hex(CLIENT[0])),
        (Client, hex(CLIENT[1])),
        (Client, hex(CLIENT[2])),
        (Server, hex(SERVER[0])),
        (Server, hex(SERVER[1])),
        (Server, hex(SERVER[2])),
        (Client, hex(CLIENT[3])),
        (Server, hex(SERVER[3])),
    ]
}

fn run_with(
    mut h: Http2,
    segs: &[(Side, Vec<u8>)],
    split: impl Fn(usize, &[u8]) -> Vec<Vec<u8>>,
) -> (Vec<Exchange>, Summary) {
    for (i, (side, bytes)) in segs.iter().enumerate() {
        for piece in split(i, bytes) {
            h.on_data(*side, &piece, at(4 + i as u64));
        }
    }
    h.on_close(at(4 + segs.len() as u64));
    let ex = h.take_requests().collect();
    (ex, h.summary())
}

/// (stream, method, authority, path, status, start, end, bytes, reset code)
type Row = (
    u32,
    String,
    Option<String>,
    String,
    Option<u16>,
    i64,
    Option<i64>,
    Option<u64>,
    Option<u32>,
);

fn rows(ex: &[Exchange]) -> Vec<Row> {
    ex.iter()
        .map(|e| {
            let q = &e.request;
            (
                q.stream_id.unwrap(),
                q.method.clone(),
                q.authority.clone(),
                q.path.clone(),
                q.status,
                q.start.0,
                q.end.map(|t| t.0),
                q.response_bytes,
                e.reset.map(|r| r.error_code),
            )
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn row(
    id: u32,
    method: &str,
    path: &str,
    status: Option<u16>,
    start: i64,
    end: Option<i64>,
    bytes: Option<u64>,
    reset: Option<u32>,
) -> Row {
    (
        id,
        method.into(),
        Some("example.com".into()),
        path.into(),
        status,
        start,
        end,
        bytes,
        reset,
    )
}

fn expected() -> Vec<Row> {
    vec![
        row(1, "GET", "/", Some(200), 4, Some(9), Some(20), None),
        row(3, "POST", "/upload", Some(201), 5, Some(8), Some(10), None),
        row(5, "GET", "/big", None, 6, None, None, Some(8)),
    ]
}

fn check_summary(s: &Summary) {
    assert_eq!(s.requests, 3);
    // Streams 1, 3 and 5 were all open before the first response (packet 8).
    assert_eq!(s.peak_concurrent_streams, 3);
    assert_eq!(s.max_concurrent_streams, Some(100));
    assert_eq!(s.pushes, 1);
    assert_eq!((s.resets_by_client, s.resets_by_server), (1, 0));
    assert_eq!(
        s.resets,
        [Reset {
            stream_id: 5,
            by: Side::Client,
            error_code: 8,
            packet: 10
        }]
    );
    assert_eq!(
        s.goaways,
        [GoAway {
            by: Side::Server,
            last_stream_id: 5,
            error_code: 0,
            packet: 11
        }]
    );
    assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
    assert!(s.headers_lost.is_empty() && s.stopped.is_empty());
}

#[test]
fn h2multi_exchanges() {
    let (ex, s) = run_with(Http2::new_prior_knowledge(), &h2multi(), |_, d| {
        vec![d.to_vec()]
    });
    assert_eq!(rows(&ex), expected());
    assert!(ex.iter().all(|e| e.request_headers_known));
    check_summary(&s);
}

#[test]
fn h2multi_split_at_every_byte_boundary() {
    let segs = h2multi();
    for (i, (_, bytes)) in segs.iter().enumerate() {
        for cut in 0..=bytes.len() {
            let (ex, s) = run_with(Http2::new_prior_knowledge(), &segs, |j, d| {
                if i == j {
                    vec![d[..cut].to_vec(), d[cut..].to_vec()]
                } else {
                    vec![d.to_vec()]
                }
            });
            assert_eq!(rows(&ex), expected(), "segment {i} cut {cut}");
            check_summary(&s);
        }
    }
    let (ex, _) = run_with(Http2::new_prior_knowledge(), &segs, |_, d| {
        d.chunks(1).map(<[u8]>::to_vec).collect()
    });
    assert_eq!(rows(&ex), expected());
}

#[test]
fn exchanges_come_out_in_stream_order() {
    // Before packet 9, stream 3 is finished but stream 1 is not: nothing is
    // released until stream 1 is.
    let mut h = Http2::new_prior_knowledge();
    for (i, (side, bytes)) in h2multi().iter().enumerate().take(5) {
        h.on_data(*side, bytes, at(4 + i as u64));
    }
    assert_eq!(h.take_requests().count(), 0);
    h.on_data(Side::Server, &hex(SERVER[2]), at(9));
    let ids: Vec<_> = h.take_requests().map(|e| e.request.stream_id).collect();
    assert_eq!(ids, [Some(1), Some(3)]);
}

#[test]
fn sniff_preface() {
    assert_eq!(
        is_h2_preface(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00"),
        Some(true)
    );
    assert_eq!(is_h2_preface(b"PRI * HTTP/2"), None);
    assert_eq!(is_h2_preface(b""), None);
    assert_eq!(is_h2_preface(b"PRI * HTTP/1.1"), Some(false));
    assert_eq!(is_h2_preface(b"GET / HTTP/1.1\r\n"), Some(false));
}

#[test]
fn bad_preface_stops_the_client_side() {
    let (ex, s) = run_with(
        Http2::new_prior_knowledge(),
        &[(Side::Client, b"GET / HTTP/1.1\r\n\r\n".to_vec())],
        |_, d| vec![d.to_vec()],
    );
    assert!(ex.is_empty());
    assert_eq!(
        s.anomalies.iter().map(|a| a.kind).collect::<Vec<_>>(),
        [AnomalyKind::BadPreface]
    );
    assert_eq!(s.stopped, [Side::Client]);
}

/// tshark on the h2c_full fixture: 4 GET /index (Upgrade: h2c), 5 "101" and
/// SETTINGS (MAX_CONCURRENT_STREAMS 128), 6 preface, SETTINGS, SETTINGS ACK,
/// 7 SETTINGS ACK, HEADERS 1 :status 200, DATA 1 "hello h2c" (9 bytes).
#[test]
fn h2c_upgrade_end_to_end() {
    let mut h1 = crate::http1::Http1::new();
    h1.on_data(
        Side::Client,
        &hex("474554202f696e64657820485454502f312e310d0a486f73743a207365727665722e6578616d706c650d0a436f6e6e656374696f6e3a20557067726164652c2048545450322d53657474696e67730d0a557067726164653a206832630d0a48545450322d53657474696e67733a2041414d414141426b414152414141414141414941414141410d0a0d0a"),
        at(4),
    );
    h1.on_data(
        Side::Server,
        &hex("485454502f312e312031303120537769746368696e672050726f746f636f6c730d0a436f6e6e656374696f6e3a20557067726164650d0a557067726164653a206832630d0a0d0a000006040000000000000300000080"),
        at(5),
    );
    let switch = h1.take_switch().expect("switch");
    let crate::http1::SwitchKind::H2c { stream1 } = switch.kind else {
        panic!()
    };
    let mut h2 = Http2::new_after_upgrade(stream1);
    h2.on_data(Side::Server, &switch.server_rest, switch.at);
    h2.on_data(Side::Client, &switch.client_rest, switch.at);
    h2.on_data(
        Side::Client,
        &hex(
            "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a000000040000000000000000040100000000",
        ),
        at(6),
    );
    h2.on_data(
        Side::Server,
        &hex("00000004010000000000001a01040000000188000c636f6e74656e742d747970650a746578742f706c61696e00000900010000000168656c6c6f20683263"),
        at(7),
    );
    let ex: Vec<_> = h2.take_requests().collect();
    assert_eq!(
        rows(&ex),
        [(
            1,
            "GET".into(),
            Some("server.example".into()),
            "/index".into(),
            Some(200),
            4,
            Some(7),
            Some(9),
            None
        )]
    );
    let s = h2.summary();
    assert_eq!(s.max_concurrent_streams, Some(128));
    assert_eq!((s.requests, s.peak_concurrent_streams), (1, 1));
    assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
}

/// Builds a frame.
fn fr(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut v = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    v.extend_from_slice(&stream.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn with_preface(frames: &[Vec<u8>]) -> Vec<u8> {
    [PREFACE.to_vec(), frames.concat()].concat()
}

fn kinds(s: &Summary) -> Vec<AnomalyKind> {
    s.anomalies.iter().map(|a| a.kind).collect()
}

#[test]
fn hpack_error_makes_the_direction_unknown() {
    // Stream 1 refers to dynamic index 62 in an empty table; stream 3 is
    // fine on its own but cannot be trusted after that.
    let client = with_preface(&[fr(1, 0x05, 1, &[0xbe]), fr(1, 0x05, 3, &[0x82, 0x86, 0x84])]);
    let server = [fr(1, 0x05, 1, &[0x88]), fr(1, 0x05, 3, &[0x88])].concat();
    let (ex, s) = run_with(
        Http2::new_prior_knowledge(),
        &[(Side::Client, client), (Side::Server, server)],
        |_, d| vec![d.to_vec()],
    );
    assert_eq!(ex.len(), 2);
    assert!(
        ex.iter()
            .all(|e| !e.request_headers_known && e.request.method.is_empty())
    );
    assert!(ex.iter().all(|e| e.request.status == Some(200)));
    assert_eq!(kinds(&s), [AnomalyKind::HpackError]);
    assert_eq!(s.headers_lost, [Side::Client]);
}

#[test]
fn interrupted_continuation_loses_header_state() {
    let client = with_preface(&[
        fr(1, 0x01, 1, &[0x82]),
        fr(0, 0x00, 1, b"x"),
        fr(1, 0x05, 3, &[0x82, 0x86, 0x84]),
    ]);
    let (ex, s) = run_with(
        Http2::new_prior_knowledge(),
        &[(Side::Client, client)],
        |_, d| vec![d.to_vec()],
    );
    assert_eq!(kinds(&s), [AnomalyKind::ContinuationError]);
    // Stream 1's block never ended, so only stream 3 opened, headers unknown.
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].request.stream_id, Some(3));
    assert!(!ex[0].request_headers_known);
}

#[test]
fn frame_above_advertised_max_stops_reading() {
    // The client's SETTINGS leave MAX_FRAME_SIZE at 16384; the server then
    // sends a 16385-byte DATA frame.
    let client = with_preface(&[fr(4, 0, 0, &[]), fr(1, 0x05, 1, &[0x82, 0x86, 0x84])]);
    let server = [fr(1, 0x04, 1, &[0x88]), fr(0, 0x01, 1, &vec![0; 16_385])].concat();
    let (ex, s) = run_with(
        Http2::new_prior_knowledge(),
        &[(Side::Client, client), (Side::Server, server)],
        |_, d| vec![d.to_vec()],
    );
    assert_eq!(kinds(&s), [AnomalyKind::FrameTooLarge]);
    assert_eq!(s.stopped, [Side::Server]);
    assert_eq!(ex.len(), 1);
    assert_eq!((ex[0].request.status, ex[0].request.end), (Some(200), None));
}

#[test]
fn gaps() {
    // A gap inside DATA keeps the count exact; one across a frame header
    // stops the direction.
    let client = with_preface(&[
        fr(1, 0x05, 1, &[0x82, 0x86, 0x84]),
        fr(1, 0x05, 3, &[0x82, 0x86, 0x84]),
    ]);
    let data = fr(0, 0x01, 1, &[7; 100]);
    let mut h = Http2::new_prior_knowledge();
    h.on_data(Side::Client, &client, at(4));
    h.on_data(Side::Server, &fr(1, 0x04, 1, &[0x88]), at(5));
    h.on_data(Side::Server, &data[..30], at(6));
    h.on_gap(Side::Server, 50);
    h.on_data(Side::Server, &data[80..], at(7));
    h.on_data(Side::Server, &fr(1, 0x04, 3, &[0x88])[..4], at(8));
    h.on_gap(Side::Server, 10);
    h.on_close(at(9));
    let ex: Vec<_> = h.take_requests().collect();
    assert_eq!(ex[0].request.response_bytes, Some(100));
    assert_eq!(ex[0].request.end, Some(Ts(7)));
    assert_eq!(ex[1].request.status, None);
    let s = h.summary();
    assert_eq!(kinds(&s), [AnomalyKind::GapLostFraming]);
    assert_eq!(
        (s.stopped.as_slice(), s.anomalies[0].packet),
        ([Side::Server].as_slice(), 8)
    );
}

#[test]
fn streams_are_capped() {
    let mut frames = Vec::new();
    for i in 0..(STREAM_CAP as u32 + 10) {
        frames.push(fr(1, 0x05, 2 * i + 1, &[0x82, 0x86, 0x84]));
    }
    let mut h = Http2::new_prior_knowledge();
    h.on_data(Side::Client, &with_preface(&frames), at(4));
    assert!(h.conn.streams.len() <= STREAM_CAP);
    assert_eq!(h.take_requests().count(), 10);
    let s = h.summary();
    assert_eq!(kinds(&s), [AnomalyKind::TooManyStreams]);
    assert_eq!(s.requests, STREAM_CAP as u64 + 10);
}

#[test]
fn lost_pad_length_makes_bytes_unknown() {
    let client = with_preface(&[fr(1, 0x05, 1, &[0x82, 0x86, 0x84])]);
    let data = fr(0, 0x09, 1, &[2, 1, 2, 3, 0, 0]);
    let mut h = Http2::new_prior_knowledge();
    h.on_data(Side::Client, &client, at(4));
    h.on_data(Side::Server, &fr(1, 0x04, 1, &[0x88]), at(5));
    h.on_data(Side::Server, &data[..9], at(6));
    h.on_gap(Side::Server, 1);
    h.on_data(Side::Server, &data[10..], at(7));
    h.on_close(at(8));
    let ex: Vec<_> = h.take_requests().collect();
    assert_eq!(
        (ex[0].request.response_bytes, ex[0].request.end),
        (None, Some(Ts(7)))
    );
    assert!(h.summary().anomalies.is_empty());
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary frames (valid headers, random payloads) and arbitrary
        /// bytes never panic and never grow state past its caps.
        #[test]
        fn arbitrary_input_is_bounded(
            ops in proptest::collection::vec(
                (0u8..4, any::<u8>(), any::<u8>(), 0u32..8, proptest::collection::vec(any::<u8>(), 0..64)),
                0..60,
            ),
        ) {
            let mut h = Http2::new_prior_knowledge();
            h.on_data(Side::Client, PREFACE, at(1));
            for (i, (op, kind, flags, stream, payload)) in ops.iter().enumerate() {
                let a = at(i as u64 + 2);
                match op {
                    0 => h.on_data(Side::Client, &fr(kind % 11, *flags, *stream, payload), a),
                    1 => h.on_data(Side::Server, &fr(kind % 11, *flags, *stream, payload), a),
                    2 => h.on_data(Side::Server, payload, a),
                    _ => h.on_gap(if kind % 2 == 0 { Side::Client } else { Side::Server }, u64::from(*stream)),
                }
                prop_assert!(h.conn.streams.len() <= STREAM_CAP);
                prop_assert!(h.conn.block_buf.client.len() <= frame::BLOCK_CAP);
                prop_assert!(h.conn.block_buf.server.len() <= frame::BLOCK_CAP);
                prop_assert!(h.conn.summary.anomalies.len() <= ANOMALY_CAP);
            }
            h.on_close(at(99));
            let _ = h.take_requests().count();
        }
    }
}

// tshark -r http2.pcapng -d tcp.port==29518,http2 -T fields -e frame.number
//   -e http2.type -e http2.streamid -e http2.flags -e http2.length
//   -e http2.headers.method -e http2.headers.path -e http2.headers.authority
//   -e http2.headers.status -e http2.goaway.last_stream_id -e http2.goaway.error
//   -e http2.settings.max_concurrent_streams
// 1: preface, SETTINGS, WINDOW_UPDATE; 2: HEADERS 3 POST
// /namf-comm/v1/subscriptions 127.0.0.1:29518; 3: DATA 3 END_STREAM (135);
// 4: SETTINGS MAX_CONCURRENT_STREAMS 250; 7: HEADERS 3 :status 201;
// 8: DATA 3 END_STREAM length 86; 10: GOAWAY last stream 3, error 0.
#[test]
fn corpus_h2c_prior_knowledge() {
    let Some(path) = corpus("http2.pcapng") else {
        return;
    };
    let mut h = Http2::new_prior_knowledge();
    for ev in tcp_connection(&path, 29518, 0) {
        match ev {
            Event::Data(side, bytes, a) => h.on_data(side, &bytes, a),
            Event::Gap(side, n) => h.on_gap(side, n),
        }
    }
    h.on_close(At::default());
    let ex: Vec<_> = h.take_requests().collect();
    assert_eq!(
        rows(&ex),
        [(
            3,
            "POST".into(),
            Some("127.0.0.1:29518".into()),
            "/namf-comm/v1/subscriptions".into(),
            Some(201),
            2,
            Some(8),
            Some(86),
            None
        )]
    );
    let s = h.summary();
    assert_eq!(s.max_concurrent_streams, Some(250));
    assert_eq!(
        s.goaways,
        [GoAway {
            by: Side::Server,
            last_stream_id: 3,
            error_code: 0,
            packet: 10
        }]
    );
    assert_eq!((s.requests, s.peak_concurrent_streams), (1, 1));
    assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
}

/// A capture that stops inside a frame: the frame's bytes seen are said,
/// on the side that sent them, at its last packet; a frame cut within its
/// 9-byte header too. Frames that ended are not.
#[test]
fn a_frame_cut_by_the_close_is_an_anomaly() {
    let client = with_preface(&[fr(1, 0x05, 1, &[0x82, 0x86, 0x84])]);
    let response = fr(1, 0x04, 1, &[0x88]);
    let data = fr(0, 0x01, 1, &[7; 100]);
    let mut h = Http2::new_prior_knowledge();
    h.on_data(Side::Client, &client, at(4));
    h.on_data(Side::Client, &fr(0, 0x00, 0, &[])[..5], at(5));
    h.on_data(Side::Server, &response, at(6));
    h.on_data(Side::Server, &data[..40], at(7));
    h.on_close(at(8));
    let s = h.summary();
    let listed: Vec<_> = s
        .anomalies
        .iter()
        .map(|a| (a.side, a.kind, a.packet, a.bytes))
        .collect();
    assert_eq!(
        listed,
        [
            (Side::Client, AnomalyKind::TruncatedAtClose, 5, Some(5)),
            (Side::Server, AnomalyKind::TruncatedAtClose, 7, Some(40)),
        ]
    );
    // A connection that ends between frames has none.
    let mut h = Http2::new_prior_knowledge();
    h.on_data(Side::Client, &client, at(4));
    h.on_data(Side::Server, &response, at(5));
    h.on_close(at(6));
    assert!(h.summary().anomalies.is_empty());
}
