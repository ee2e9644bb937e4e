//! Inputs of the micro-benchmarks, all taken from real captures in testdata/
//! (or the nDPI corpus beside the repository, when present): frames,
//! segments, connections and byte streams, and the replication (new client
//! addresses, shifted sequence numbers and times) that makes them long
//! enough to time. No packet byte is written here by hand.
// Each bench binary uses a part of this module.
#![allow(dead_code)]

use connreuse::capture::{Linktype, Reader};
use connreuse::decode::{self, Decoded, Segment};
use connreuse::flow::Seq;
use connreuse::{At, Side, Ts};
use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

/// `rel` under the repository root.
pub fn path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The bytes of `rel` (a path under the repository root).
pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The bytes of `../shared/corpus/ndpi/NAME` (the nDPI test captures, never
/// copied into the repository), or `None`, said on stderr, when absent.
pub fn corpus(name: &str) -> Option<Vec<u8>> {
    let p = path("../shared/corpus/ndpi").join(name);
    match std::fs::read(&p) {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!("skipped: {}: {e}", p.display());
            None
        }
    }
}

/// One frame copied out of a capture.
pub struct Frame {
    pub at: At,
    pub linktype: Linktype,
    pub data: Vec<u8>,
}

/// Every frame of a capture file's bytes, read with the crate's reader.
pub fn frames(capture: &[u8]) -> Vec<Frame> {
    let mut r = Reader::new(Box::new(Cursor::new(capture.to_vec()))).expect("a capture");
    let mut out = Vec::new();
    while let Some(f) = r.next_frame().expect("a readable capture") {
        out.push(Frame {
            at: At {
                packet: f.index,
                ts: f.ts,
            },
            linktype: f.linktype,
            data: f.data.to_vec(),
        });
    }
    out
}

/// The TCP segments among `frames`, with where each was captured.
pub fn segments(frames: &[Frame]) -> Vec<(Segment<'_>, At)> {
    frames
        .iter()
        .filter_map(|f| match decode::decode(f.linktype, &f.data) {
            Decoded::Tcp(s) => Some((s, f.at)),
            _ => None,
        })
        .collect()
}

type Endpoint = (IpAddr, u16);

/// Both endpoints of a segment, the smaller first: one value per connection.
fn key(s: &Segment<'_>) -> (Endpoint, Endpoint) {
    let (a, b) = ((s.src, s.sport), (s.dst, s.dport));
    if a <= b { (a, b) } else { (b, a) }
}

/// The segments of each 4-tuple, in order of first appearance.
pub fn connections<'a>(segs: &[(Segment<'a>, At)]) -> Vec<Vec<(Segment<'a>, At)>> {
    let mut keys: Vec<(Endpoint, Endpoint)> = Vec::new();
    let mut out: Vec<Vec<(Segment<'a>, At)>> = Vec::new();
    for (s, at) in segs {
        let k = key(s);
        let i = match keys.iter().position(|x| *x == k) {
            Some(i) => i,
            None => {
                keys.push(k);
                out.push(Vec::new());
                keys.len() - 1
            }
        };
        out[i].push((s.clone(), *at));
    }
    out
}

/// The connection whose segments carry the most payload.
pub fn largest<'a>(segs: &[(Segment<'a>, At)]) -> Vec<(Segment<'a>, At)> {
    connections(segs)
        .into_iter()
        .max_by_key(|c| c.iter().map(|(s, _)| s.payload.len()).sum::<usize>())
        .expect("a TCP connection")
}

/// The client of a connection whose capture starts with its SYN.
pub fn client(conn: &[(Segment<'_>, At)]) -> Endpoint {
    let (syn, _) = conn.first().expect("a segment");
    assert!(syn.flags.syn && !syn.flags.ack, "the capture has the SYN");
    (syn.src, syn.sport)
}

/// `conn` (SYN to FIN) `n` times over, replica `i` from client address
/// 127.0.0.1 + `i` + 1 (ports and payloads as captured), each replica
/// starting after the previous one ended: `n` short connections.
pub fn many_connections<'a>(conn: &[(Segment<'a>, At)], n: u32) -> Vec<(Segment<'a>, At)> {
    let client = client(conn);
    let first = conn.first().expect("a segment").1;
    let last = conn.last().expect("a segment").1;
    let span = last.ts.0 - first.ts.0 + 1_000;
    let mut out = Vec::with_capacity(conn.len() * n as usize);
    for i in 0..n {
        let addr = IpAddr::V4(Ipv4Addr::from(0x7f00_0002 + i));
        for (k, (s, at)) in conn.iter().enumerate() {
            let mut s = s.clone();
            // Both ends may share an address (loopback): the port tells.
            if (s.src, s.sport) == client {
                s.src = addr;
            } else {
                s.dst = addr;
            }
            let at = At {
                packet: u64::from(i) * conn.len() as u64 + k as u64 + 1,
                ts: Ts(at.ts.0 + i64::from(i) * span),
            };
            out.push((s, at));
        }
    }
    out
}

/// `conn` with its data phase (segments without SYN, FIN or RST) played
/// `rounds` times in a row, each round's sequence and acknowledgment
/// numbers shifted by the bytes each side sent in the rounds before: one
/// long connection, in order, as a real one would continue.
pub fn long_connection<'a>(conn: &[(Segment<'a>, At)], rounds: u32) -> Vec<(Segment<'a>, At)> {
    let client = client(conn);
    let is_client = |s: &Segment<'_>| (s.src, s.sport) == client;
    let control = |s: &Segment<'_>| s.flags.syn || s.flags.fin || s.flags.rst;
    let body: Vec<&(Segment<'a>, At)> = conn.iter().filter(|(s, _)| !control(s)).collect();
    let sent = [Side::Client, Side::Server].map(|side| stream_len(conn, side));
    let first = body.first().expect("a data phase").1;
    let last = body.last().expect("a data phase").1;
    let span = last.ts.0 - first.ts.0 + 1_000;
    let shifted = |s: &Segment<'a>, at: At, r: u32, packet: u64| {
        let mut s = s.clone();
        let (own, peer) = if is_client(&s) {
            (sent[0], sent[1])
        } else {
            (sent[1], sent[0])
        };
        s.seq = s.seq.wrapping_add(own.wrapping_mul(r));
        if s.flags.ack {
            s.ack = s.ack.wrapping_add(peer.wrapping_mul(r));
        }
        let at = At {
            packet,
            ts: Ts(at.ts.0 + i64::from(r) * span),
        };
        (s, at)
    };
    let mut out = Vec::new();
    let mut packet = 0;
    let mut next = || {
        packet += 1;
        packet
    };
    for (s, at) in conn.iter().filter(|(s, _)| s.flags.syn) {
        out.push(shifted(s, *at, 0, next()));
    }
    for r in 0..rounds {
        for (s, at) in &body {
            out.push(shifted(s, *at, r, next()));
        }
    }
    for (s, at) in conn.iter().filter(|(s, _)| !s.flags.syn && control(s)) {
        out.push(shifted(s, *at, rounds - 1, next()));
    }
    out
}

/// A segment of one direction: sequence number, captured payload, and
/// payload bytes the snapshot length cut.
pub type Piece<'a> = (Seq, &'a [u8], u32);

/// Whether a segment of `conn` was sent by `side`.
fn sender(conn: &[(Segment<'_>, At)], side: Side) -> impl Fn(&Segment<'_>) -> bool {
    let client = client(conn);
    move |s| ((s.src, s.sport) == client) == (side == Side::Client)
}

/// The initial sequence number of `side` in `conn`, from its SYN.
fn isn(conn: &[(Segment<'_>, At)], side: Side) -> Seq {
    let ours = sender(conn, side);
    conn.iter()
        .find(|(s, _)| s.flags.syn && ours(s))
        .expect("that side's SYN")
        .0
        .seq
}

/// The bytes `side` sent in `conn`: the end of its furthest segment past
/// its ISN (retransmissions counted once; a FIN or RST without payload,
/// whose sequence number may lie one past the data, does not count).
fn stream_len(conn: &[(Segment<'_>, At)], side: Side) -> u32 {
    let ours = sender(conn, side);
    let start = isn(conn, side).wrapping_add(1);
    conn.iter()
        .filter(|(s, _)| {
            ours(s) && !s.flags.syn && s.payload.len() as u64 + u64::from(s.missing) > 0
        })
        .map(|(s, _)| s.seq.diff(start) + (s.payload.len() as u32 + s.missing) as i32)
        .max()
        .map_or(0, |end| end.max(0) as u32)
}

/// One direction's payload-carrying segments of `conn` (the server's when
/// `side` is [`Side::Server`]), `rounds` times over with sequence numbers
/// shifted so that they continue one stream; and the ISN of that side.
pub fn one_direction<'a>(
    conn: &[(Segment<'a>, At)],
    side: Side,
    rounds: u32,
) -> (Seq, Vec<Piece<'a>>) {
    let ours = sender(conn, side);
    let isn = isn(conn, side);
    let data: Vec<&Segment<'a>> = conn
        .iter()
        .map(|(s, _)| s)
        .filter(|s| ours(s) && !s.payload.is_empty())
        .collect();
    let len = stream_len(conn, side);
    let mut out = Vec::with_capacity(data.len() * rounds as usize);
    for r in 0..rounds {
        for s in &data {
            let seq = s.seq.wrapping_add(len.wrapping_mul(r));
            out.push((seq, s.payload, s.missing));
        }
    }
    (isn, out)
}

/// The payloads of a connection in capture order, with their sides.
pub fn stream<'a>(conn: &[(Segment<'a>, At)]) -> Vec<(Side, &'a [u8], At)> {
    let client = client(conn);
    conn.iter()
        .filter(|(s, _)| !s.payload.is_empty())
        .map(|(s, at)| {
            let side = if (s.src, s.sport) == client {
                Side::Client
            } else {
                Side::Server
            };
            (side, s.payload, *at)
        })
        .collect()
}

/// A pcap file's bytes with its records repeated until at least `size`
/// bytes: one long capture of the same packets.
pub fn replicate_pcap(file: &[u8], size: usize) -> Vec<u8> {
    let (header, records) = file.split_at(24);
    let mut out = header.to_vec();
    while out.len() < size {
        out.extend_from_slice(records);
    }
    out
}

/// A pcapng file repeated until at least `size` bytes: one section after
/// another, each with its own header and interfaces, as pcapng allows.
pub fn replicate_pcapng(file: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + file.len());
    while out.len() < size {
        out.extend_from_slice(file);
    }
    out
}
