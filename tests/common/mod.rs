//! Captures written by the tests themselves: legacy pcap, LINKTYPE_RAW
//! (101), IPv4 + TCP without options, one connection at a time.
#![allow(dead_code)]

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

pub fn pcap_header() -> Vec<u8> {
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
pub type End = ([u8; 4], u16);

/// A TCP segment: source, destination, sequence and acknowledgment
/// numbers, flags, payload.
pub type Seg<'a> = (End, End, u32, u32, u8, &'a [u8]);

/// Appends one pcap record holding `seg` at `ts_us` microseconds.
pub fn record(out: &mut Vec<u8>, ts_us: u64, seg: Seg<'_>) {
    let (src, dst, seq, ack, flags, payload) = seg;
    let len = 40 + payload.len();
    out.extend_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    // IPv4 (RFC 791): no options, DF, TTL 64, TCP; checksums are not read.
    out.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0]);
    let at = out.len() - 10;
    out[at..at + 2].copy_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&src.0);
    out.extend_from_slice(&dst.0);
    // TCP (RFC 9293 section 3.1): data offset 5 words.
    out.extend_from_slice(&src.1.to_be_bytes());
    out.extend_from_slice(&dst.1.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&ack.to_be_bytes());
    out.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    out.extend_from_slice(payload);
}

pub const CLIENT: End = ([10, 0, 0, 1], 40_000);
pub const SERVER: End = ([192, 0, 2, 1], 443);
pub const CLIENT_ISN: u32 = 1_000;
pub const SERVER_ISN: u32 = 7_000_000;

/// One TCP connection written as a capture: handshake, data from either
/// side in segments of at most 1400 bytes, each acknowledged, then FINs.
pub struct Capture {
    pub out: Vec<u8>,
    pub ts_us: u64,
    pub client: End,
    pub port: u16,
    pub next: [u32; 2],
}

impl Capture {
    pub fn new(server_port: u16) -> Capture {
        Capture::from(CLIENT, server_port)
    }

    /// A connection from `client` instead of [`CLIENT`].
    pub fn from(client: End, server_port: u16) -> Capture {
        let mut c = Capture {
            out: pcap_header(),
            ts_us: 1_700_000_000_000_000,
            client,
            port: server_port,
            next: [CLIENT_ISN + 1, SERVER_ISN + 1],
        };
        let server = (SERVER.0, server_port);
        c.raw(client, server, CLIENT_ISN, 0, SYN, &[]);
        c.raw(server, client, SERVER_ISN, CLIENT_ISN + 1, SYN | ACK, &[]);
        c.raw(client, server, CLIENT_ISN + 1, SERVER_ISN + 1, ACK, &[]);
        c.next = [CLIENT_ISN + 1, SERVER_ISN + 1];
        c
    }

    pub fn ends(&self, client: bool) -> (End, End, usize) {
        let server = (SERVER.0, self.port);
        if client {
            (self.client, server, 0)
        } else {
            (server, self.client, 1)
        }
    }

    /// The records so far, without the file header and without closing:
    /// to be appended to another capture, the connection left open.
    pub fn records(self) -> Vec<u8> {
        self.out[24..].to_vec()
    }

    pub fn raw(&mut self, src: End, dst: End, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        self.ts_us += 100;
        record(
            &mut self.out,
            self.ts_us,
            (src, dst, seq, ack, flags, payload),
        );
    }

    /// `bytes` from the client (or the server), in order.
    pub fn send(&mut self, client: bool, bytes: &[u8]) {
        let (src, dst, i) = self.ends(client);
        for chunk in bytes.chunks(1400) {
            let (seq, ack) = (self.next[i], self.next[1 - i]);
            self.raw(src, dst, seq, ack, PSH | ACK, chunk);
            self.next[i] = seq.wrapping_add(chunk.len() as u32);
        }
    }

    pub fn finish(mut self) -> Vec<u8> {
        for client in [true, false] {
            let (src, dst, i) = self.ends(client);
            let (seq, ack) = (self.next[i], self.next[1 - i]);
            self.raw(src, dst, seq, ack, FIN | ACK, &[]);
            self.next[i] = seq.wrapping_add(1);
        }
        self.out
    }
}
