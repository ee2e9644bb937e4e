//! Connection table: lifetimes, roles and closing, over hand-built segments.
#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::decode::Flags;
use crate::ledger::{Anomaly, Close, Layer};

/// Records what the table hands to an analyzer.
#[derive(Debug, Default)]
struct Log {
    data: [Vec<u8>; 2],
    gaps: [u64; 2],
    closed: Option<Option<(Side, Close)>>,
    /// Calls of `on_streams_done`, and data or gap events after the first.
    streams_done: u32,
    after_done: u32,
}

impl Analyzer for Log {
    fn on_data(&mut self, side: Side, data: &[u8], _at: At) {
        pick(&mut self.data, side).extend_from_slice(data);
        self.after_done += u32::from(self.streams_done > 0);
    }
    fn on_gap(&mut self, side: Side, len: u64, _at: At) {
        *pick(&mut self.gaps, side) += len;
        self.after_done += u32::from(self.streams_done > 0);
    }
    fn on_streams_done(&mut self) {
        self.streams_done += 1;
    }
    fn on_close(&mut self, closer: Option<(Side, Close)>, _at: At) {
        self.closed = Some(closer);
    }
}

const C: ([u8; 4], u16) = ([10, 0, 0, 1], 50000);
const S: ([u8; 4], u16) = ([10, 0, 0, 2], 443);

fn seg<'a>(
    from: ([u8; 4], u16),
    to: ([u8; 4], u16),
    seq: u32,
    ack: u32,
    flags: &str,
    payload: &'a [u8],
) -> Segment<'a> {
    Segment {
        src: IpAddr::from(from.0),
        dst: IpAddr::from(to.0),
        sport: from.1,
        dport: to.1,
        seq: Seq(seq),
        ack: Seq(ack),
        flags: Flags {
            syn: flags.contains('S'),
            ack: flags.contains('A'),
            fin: flags.contains('F'),
            rst: flags.contains('R'),
        },
        window: 65535,
        payload,
        missing: 0,
    }
}

fn feed(segs: &[Segment<'_>]) -> Vec<(Tcp, Log)> {
    let mut table = Table::new(Log::default);
    for (i, s) in segs.iter().enumerate() {
        let at = At {
            packet: i as u64 + 1,
            ts: Ts(i as i64 * 1_000_000),
        };
        table.segment(s, at);
    }
    table.finish_all();
    let mut done: Vec<(Tcp, Log)> = table.take_finished().map(|f| (f.tcp, f.app)).collect();
    done.sort_by_key(|(t, _)| t.first_packet);
    done
}

#[test]
fn handshake_data_and_fin_close() {
    let done = feed(&[
        seg(C, S, 100, 0, "S", b""),
        seg(S, C, 900, 101, "SA", b""),
        seg(C, S, 101, 901, "A", b"hello"),
        seg(S, C, 901, 106, "A", b"world!"),
        seg(C, S, 106, 907, "FA", b""),
        seg(S, C, 907, 107, "FA", b""),
    ]);
    assert_eq!(done.len(), 1);
    let (tcp, log) = &done[0];
    assert!(tcp.syn_seen && tcp.synack_seen && !tcp.role_inferred);
    assert_eq!(tcp.client.to_string(), "10.0.0.1:50000");
    assert_eq!(tcp.server.to_string(), "10.0.0.2:443");
    assert_eq!((tcp.packets.client, tcp.packets.server), (3, 3));
    assert_eq!((tcp.bytes.client, tcp.bytes.server), (5, 6));
    assert_eq!(
        (tcp.closed_by, tcp.close),
        (Some(Side::Client), Some(Close::Fin))
    );
    assert_eq!(log.data, [b"hello".to_vec(), b"world!".to_vec()]);
    assert_eq!(log.closed, Some(Some((Side::Client, Close::Fin))));
}

/// Both FINs reached with nothing buffered: the analyzer hears it once, and
/// nothing after it, though late copies and data past a FIN keep coming.
/// A hole before a FIN, or an RST, leaves the streams open to the end.
#[test]
fn streams_done_once_both_fins_are_reached_and_nothing_after() {
    let done = feed(&[
        seg(C, S, 100, 0, "S", b""),
        seg(S, C, 900, 101, "SA", b""),
        seg(C, S, 101, 901, "A", b"hello"),
        seg(S, C, 901, 106, "A", b"world!"),
        seg(C, S, 106, 907, "FA", b""),
        seg(S, C, 907, 107, "FA", b""),
        // A late copy, data past the FIN, the last ACK.
        seg(S, C, 901, 107, "A", b"world!"),
        seg(C, S, 107, 908, "A", b"more"),
        seg(C, S, 107, 908, "A", b""),
    ]);
    let (tcp, log) = &done[0];
    assert_eq!((log.streams_done, log.after_done), (1, 0));
    assert_eq!(log.data, [b"hello".to_vec(), b"world!".to_vec()]);
    assert_eq!(tcp.packets.client + tcp.packets.server, 9);

    // The client's "hello" never arrives; its FIN does, and the server
    // acknowledges nothing past the hole: it stays open to the end, when it
    // becomes a gap.
    let done = feed(&[
        seg(C, S, 100, 0, "S", b""),
        seg(S, C, 900, 101, "SA", b""),
        seg(C, S, 106, 901, "A", b"bye"),
        seg(C, S, 109, 901, "FA", b""),
        seg(S, C, 901, 101, "FA", b""),
    ]);
    let (_, log) = &done[0];
    assert_eq!(log.streams_done, 0);
    assert_eq!((log.gaps, log.data[0].as_slice()), ([5, 0], &b"bye"[..]));
    // Acknowledged past the hole, the hole is given up at once: the stream
    // is done, and the "hello" sent again later is not read.
    let done = feed(&[
        seg(C, S, 100, 0, "S", b""),
        seg(S, C, 900, 101, "SA", b""),
        seg(C, S, 106, 901, "A", b"bye"),
        seg(C, S, 109, 901, "FA", b""),
        seg(S, C, 901, 110, "FA", b""),
        seg(C, S, 101, 902, "A", b"hello"),
    ]);
    let (_, log) = &done[0];
    assert_eq!((log.streams_done, log.after_done), (1, 0));
    assert_eq!((log.gaps, log.data[0].as_slice()), ([5, 0], &b"bye"[..]));

    let done = feed(&[
        seg(C, S, 100, 0, "S", b""),
        seg(S, C, 900, 101, "SA", b""),
        seg(C, S, 101, 901, "A", b"hello"),
        seg(S, C, 901, 106, "RA", b""),
    ]);
    assert_eq!(done[0].1.streams_done, 0);
}

#[test]
fn new_syn_after_close_is_a_new_connection() {
    let done = feed(&[
        seg(C, S, 100, 0, "S", b""),
        seg(S, C, 900, 101, "SA", b""),
        seg(C, S, 101, 901, "FA", b""),
        seg(S, C, 901, 102, "FA", b""),
        seg(C, S, 5000, 0, "S", b""),
        seg(S, C, 7000, 5001, "SA", b""),
        seg(C, S, 5001, 7001, "RA", b""),
    ]);
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].0.first_packet, 1);
    assert_eq!(done[1].0.first_packet, 5);
    assert_eq!(done[1].0.close, Some(Close::Rst));
}

#[test]
fn retransmitted_syn_is_the_same_connection() {
    let done = feed(&[
        seg(C, S, 100, 0, "S", b""),
        seg(C, S, 100, 0, "S", b""),
        seg(S, C, 900, 101, "SA", b""),
    ]);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0.packets.client, 2);
}

#[test]
fn mid_stream_pickup_infers_roles_from_the_payload() {
    // The capture begins with the server's response; the server's port is
    // the higher one, so the payload, not the port, must decide.
    let hi = ([10, 0, 0, 2], 60000);
    let lo = ([10, 0, 0, 1], 1234);
    let done = feed(&[
        seg(hi, lo, 10, 20, "A", b""),
        seg(lo, hi, 20, 10, "A", b"GET / HTTP/1.1\r\n\r\n"),
        seg(hi, lo, 10, 38, "A", b"HTTP/1.1 200 OK\r\n\r\n"),
    ]);
    let (tcp, log) = &done[0];
    assert!(!tcp.syn_seen && tcp.role_inferred);
    assert_eq!(tcp.client.to_string(), "10.0.0.1:1234");
    assert_eq!(log.data[0], b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(log.closed, Some(None));
}

#[test]
fn mid_stream_without_telling_payload_uses_the_service_port() {
    let done = feed(&[seg(S, C, 5, 7, "A", b"\x17\x03\x03\x00\x01x")]);
    let (tcp, _) = &done[0];
    assert_eq!(tcp.server.to_string(), "10.0.0.2:443");
    assert!(tcp.role_inferred);
}

#[test]
fn syn_ack_first_makes_its_sender_the_server() {
    let done = feed(&[
        seg(S, C, 900, 101, "SA", b""),
        seg(C, S, 101, 901, "A", b"x"),
    ]);
    let (tcp, _) = &done[0];
    assert_eq!(tcp.server.to_string(), "10.0.0.2:443");
    assert!(!tcp.syn_seen && tcp.synack_seen && !tcp.role_inferred);
}

#[test]
fn keepalive_probe_is_not_data() {
    let done = feed(&[
        seg(C, S, 100, 0, "S", b""),
        seg(S, C, 900, 101, "SA", b""),
        seg(C, S, 101, 901, "A", b"ab"),
        // TCP keep-alive: one old byte at next - 1 (RFC 9293 3.8.4).
        seg(C, S, 102, 901, "A", b"b"),
        seg(C, S, 103, 901, "A", b"c"),
    ]);
    assert_eq!(done[0].1.data[0], b"abc");
    assert_eq!(done[0].0.retransmissions.client, 1);
}

/// Twenty connections at the same instant into a table of at most eight:
/// capture time never moves, so only the cap can finish them. The four
/// closed ones go first, unmarked; then open ones by age, marked evicted,
/// each told the capture ended there; the table never exceeds the cap.
#[test]
fn the_live_cap_finishes_closed_then_oldest_connections() {
    let mut table = Table::with_max_live(Log::default, 8);
    let at = |n: u64| At {
        packet: n,
        ts: Ts(0),
    };
    let mut packet = 0;
    let mut max_live = 0;
    for i in 0..20u16 {
        let client = ([10, 0, 0, 1], 40_000 + i);
        let mut send = |s: Segment<'_>| {
            packet += 1;
            table.segment(&s, at(packet));
            max_live = max_live.max(table.live());
        };
        send(seg(client, S, 100, 0, "S", b""));
        send(seg(S, client, 900, 101, "SA", b""));
        if i % 5 == 1 {
            send(seg(client, S, 101, 901, "FA", b""));
            send(seg(S, client, 901, 102, "FA", b""));
        } else {
            send(seg(client, S, 101, 901, "A", b"x"));
        }
    }
    assert_eq!(max_live, 8);
    // Before the finish at the end, every connection that was made room
    // for is finished: 20 - 8 at least.
    let early: Vec<Finished<Log>> = table.take_finished().collect();
    assert!(early.len() >= 12, "{}", early.len());
    // Ports 40001 and 40006 (closed) were finished first, without a mark.
    let closed: Vec<&Tcp> = early
        .iter()
        .map(|f| &f.tcp)
        .filter(|t| t.close.is_some())
        .collect();
    assert!(closed.iter().all(|t| !t.evicted));
    assert_eq!(closed.first().map(|t| t.client.port()), Some(40_001));
    let evicted: Vec<&Finished<Log>> = early.iter().filter(|f| f.tcp.evicted).collect();
    assert_eq!(evicted.len() as u64, table.counters.evicted);
    assert!(evicted.iter().all(|f| f.app.closed == Some(None)));
    // The oldest open connection (port 40000) went first.
    assert_eq!(evicted.first().map(|f| f.tcp.client.port()), Some(40_000));
    // Each evicted connection says so once, at its last packet (port
    // 40000: SYN, SYN-ACK and data were packets 1 to 3); the closed ones
    // say nothing.
    assert_eq!(
        evicted.first().map(|f| f.anomalies.clone()),
        Some(vec![Anomaly {
            connection: 0,
            layer: Layer::Tcp,
            kind: "evicted".into(),
            side: None,
            packet: 3,
            bytes: None,
        }])
    );
    assert!(evicted.iter().all(|f| f.anomalies.len() == 1));
    assert!(
        early
            .iter()
            .filter(|f| !f.tcp.evicted)
            .all(|f| f.anomalies.is_empty())
    );
    table.finish_all();
    let rest: Vec<Finished<Log>> = table.take_finished().collect();
    assert_eq!(early.len() + rest.len(), 20);
    assert!(rest.iter().all(|f| !f.tcp.evicted));
}

/// A segment 2^31 away from its stream and a 1 MiB hole's worth of data
/// beyond MAX_PENDING: the connection's anomalies name the side, the first
/// packet concerned and the bytes, and the table's counters sum them.
#[test]
fn losses_become_anomalies_and_counters() {
    const MIB: usize = 1 << 20;
    let chunk = vec![0x61u8; MIB];
    let mut segs = vec![
        seg(C, S, 100, 0, "S", b""),
        seg(S, C, 900, 101, "SA", b""),
        // Packet 3: far outside the server's stream (next byte 901).
        seg(S, C, 901 + (1 << 31), 101, "A", b"xyz"),
    ];
    // Packets 4 to 8: 1 MiB segments after a 1400-byte hole from the
    // client; the fifth (packet 8) does not fit in MAX_PENDING.
    for k in 0..5u32 {
        segs.push(seg(C, S, 101 + 1400 + k * MIB as u32, 901, "A", &chunk));
    }
    let mut table = Table::new(Log::default);
    for (i, s) in segs.iter().enumerate() {
        let at = At {
            packet: i as u64 + 1,
            ts: Ts(i as i64),
        };
        table.segment(s, at);
    }
    table.finish_all();
    let done: Vec<Finished<Log>> = table.take_finished().collect();
    let [conn] = &done[..] else {
        panic!("{} connections", done.len())
    };
    let tcp = |kind: &str, side, packet, bytes| Anomaly {
        connection: 0,
        layer: Layer::Tcp,
        kind: kind.into(),
        side: Some(side),
        packet,
        bytes: Some(bytes),
    };
    assert_eq!(
        conn.anomalies,
        [
            tcp("reassembly_cap", Side::Client, 8, 1400),
            tcp("out_of_window", Side::Server, 3, 3),
        ]
    );
    assert_eq!(conn.tcp.gap_bytes.client, 1400);
    assert_eq!(conn.app.data[0].len(), 5 * MIB);
    let r = table.counters.reassembly;
    assert_eq!((r.stream_cap_hits, r.stream_cap_gap_bytes), (1, 1400));
    assert_eq!((r.budget_cap_hits, r.budget_cap_gap_bytes), (0, 0));
    assert_eq!((r.out_of_window, r.out_of_window_bytes), (1, 3));
    assert_eq!(r.gap_bytes, 1400);
    assert_eq!(r.delivered, 5 * MIB as u64);
}
