//! Builds a large TLS 1.3 capture and its key log for the decryption
//! benchmark, deterministically: connections to one HTTPS server, each a
//! full handshake written as a real one is (ClientHello and ServerHello in
//! the clear, ChangeCipherSpec for middlebox compatibility, the server's
//! EncryptedExtensions, Certificate, CertificateVerify and Finished and the
//! client's Finished under the handshake traffic keys), then HTTP/1.1
//! keep-alive requests, each answered with a large body in full 16 KiB
//! records under the application traffic keys, then close_notify and FIN.
//! Cipher suite TLS_AES_128_GCM_SHA256; every record is sealed with ring
//! from secrets derived from the connection number, and the key log holds
//! them (NSS format), so any decryptor can read the capture.
//!
//!   cargo run --release --example synth_tls13 -- OUT.pcap OUT.keys SIZE_MB [SEGMENT [BODY_KB]]
//!
//! SEGMENT: TCP payload bytes per packet (default 16384; 1448 for an
//! Ethernet MTU, up to 65495 for a loopback capture). BODY_KB: the size of
//! each response body (default 1024). Eight requests per connection. The
//! output is a legacy pcap, Ethernet/IPv4, microsecond timestamps; TCP
//! checksums are left zero, as captures with checksum offload show them.

use connreuse::keys::{TrafficKeys, suite};
use ring::{aead, digest};
use std::fmt::Write as _;
use std::io::{BufWriter, Write};

const REQUESTS_PER_CONNECTION: usize = 8;
/// Largest TLSInnerPlaintext content (RFC 8446 section 5.1).
const MAX_PLAINTEXT: usize = 1 << 14;
const SERVER: [u8; 4] = [10, 255, 0, 1];
const HOST: &str = "bench.connreuse.test";

/// A throwaway self-signed ECDSA P-256 certificate for the server name
/// (`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -outform
/// DER`; its key was not kept), so that dissectors find a well-formed chain.
const CERTIFICATE_DER: &str = concat!(
    "3082019430820139a00302010202141164dfb7a51ab492a8ae1d375dcbc77a501c8209300a06082a",
    "8648ce3d040302301f311d301b06035504030c1462656e63682e636f6e6e72657573652e74657374",
    "301e170d3236313132363034353933355a170d3336313132333034353933355a301f311d301b0603",
    "5504030c1462656e63682e636f6e6e72657573652e746573743059301306072a8648ce3d02010608",
    "2a8648ce3d0301070342000471bc1ea2d35f0d5955c7854dd58e99bcb162ec2584a32b5f676a9b93",
    "7f8c0aba3357f88fdf8d45f873b44e3fa77c79bc8d5ea86adb4161b3293d09684b199c1da3533051",
    "301d0603551d0e04160414581a985f6c5bed1f38c6fac30e5392f443e12dad301f0603551d230418",
    "30168014581a985f6c5bed1f38c6fac30e5392f443e12dad300f0603551d130101ff040530030101",
    "ff300a06082a8648ce3d0403020349003046022100e951b9824e170b31eed1ae1b31eff42d282abb",
    "cc02228cba62e15ee049dcf41a022100d148d397c344cd06fbbaced6aeb253c11bf64374ebf9fc6d",
    "1195601d28648ac2",
);

/// 32 bytes derived from a label and the connection number.
fn derive(label: &str, conn: u64) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(label.as_bytes());
    ctx.update(&conn.to_be_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Seals the records one side sends under one traffic secret (RFC 8446
/// section 5.2: nonce = iv XOR sequence number, additional data = the
/// record header, inner content type after the content).
struct Sealer {
    key: aead::LessSafeKey,
    iv: [u8; 12],
    seq: u64,
}

impl Sealer {
    fn new(secret: &[u8; 32]) -> Sealer {
        let keys = TrafficKeys::derive(suite(0x1301).expect("suite"), secret).expect("keys");
        Sealer {
            key: aead::LessSafeKey::new(
                aead::UnboundKey::new(&aead::AES_128_GCM, keys.key()).expect("key"),
            ),
            iv: *keys.iv(),
            seq: 0,
        }
    }

    /// Appends the protected record holding `content` of type `inner` to `out`.
    fn seal(&mut self, inner: u8, content: &[u8], out: &mut Vec<u8>) {
        let len = content.len() + 1 + 16;
        let header = [23, 3, 3, (len >> 8) as u8, len as u8];
        out.extend_from_slice(&header);
        let start = out.len();
        out.extend_from_slice(content);
        out.push(inner);
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq += 1;
        let tag = self
            .key
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(header),
                &mut out[start..],
            )
            .expect("seal");
        out.extend_from_slice(tag.as_ref());
    }
}

/// A handshake message: type, 24-bit length, body.
fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![
        typ,
        (body.len() >> 16) as u8,
        (body.len() >> 8) as u8,
        body.len() as u8,
    ];
    m.extend_from_slice(body);
    m
}

/// A plaintext record.
fn record(ctype: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ctype];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn extension(typ: u16, data: &[u8]) -> Vec<u8> {
    let mut e = typ.to_be_bytes().to_vec();
    e.extend_from_slice(&(data.len() as u16).to_be_bytes());
    e.extend_from_slice(data);
    e
}

fn with_len16(data: &[u8]) -> Vec<u8> {
    let mut v = (data.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(data);
    v
}

/// ClientHello (RFC 8446 section 4.1.2) offering TLS 1.3 only, x25519, ALPN
/// http/1.1.
fn client_hello(random: &[u8; 32], session_id: &[u8; 32], key_share: &[u8; 32]) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(random);
    body.push(32);
    body.extend_from_slice(session_id);
    body.extend_from_slice(&[0, 6, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 1, 0]);
    let mut name = vec![0];
    name.extend_from_slice(&with_len16(HOST.as_bytes()));
    let mut share = vec![0, 0x1d];
    share.extend_from_slice(&with_len16(key_share));
    let exts = [
        extension(0, &with_len16(&name)),
        extension(10, &with_len16(&[0, 0x1d])),
        extension(13, &with_len16(&[0x04, 0x03, 0x08, 0x04])),
        extension(16, &with_len16(b"\x08http/1.1")),
        extension(43, &[2, 3, 4]),
        extension(45, &[1, 1]),
        extension(51, &with_len16(&share)),
    ]
    .concat();
    body.extend_from_slice(&with_len16(&exts));
    handshake(1, &body)
}

/// ServerHello choosing TLS 1.3 and TLS_AES_128_GCM_SHA256.
fn server_hello(random: &[u8; 32], session_id: &[u8; 32], key_share: &[u8; 32]) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(random);
    body.push(32);
    body.extend_from_slice(session_id);
    body.extend_from_slice(&[0x13, 0x01, 0]);
    let mut share = vec![0, 0x1d];
    share.extend_from_slice(&with_len16(key_share));
    let exts = [extension(43, &[3, 4]), extension(51, &share)].concat();
    body.extend_from_slice(&with_len16(&exts));
    handshake(2, &body)
}

/// EncryptedExtensions (ALPN http/1.1), Certificate, CertificateVerify
/// (ecdsa_secp256r1_sha256, 72 bytes), Finished: the server's handshake
/// flight. Nothing verifies the signature or the Finished MAC, so their
/// bytes are filler.
fn server_flight(conn: u64) -> Vec<u8> {
    let ee = handshake(8, &with_len16(&extension(16, &with_len16(b"\x08http/1.1"))));
    let cert: Vec<u8> = (0..CERTIFICATE_DER.len() / 2)
        .map(|i| u8::from_str_radix(&CERTIFICATE_DER[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    let mut entry = vec![0, (cert.len() >> 8) as u8, cert.len() as u8];
    entry.extend_from_slice(&cert);
    entry.extend_from_slice(&[0, 0]);
    let mut list = vec![0];
    list.push((entry.len() >> 16) as u8);
    list.extend_from_slice(&(entry.len() as u16).to_be_bytes());
    list.extend_from_slice(&entry);
    let certificate = handshake(11, &list);
    let mut cv = vec![0x04, 0x03];
    cv.extend_from_slice(&with_len16(&[0x5a; 72]));
    let verify = handshake(15, &cv);
    let finished = handshake(20, &derive("server finished", conn));
    [ee, certificate, verify, finished].concat()
}

/// Ethernet + IPv4 + TCP packets of one connection into a pcap.
struct Pcap {
    out: BufWriter<std::fs::File>,
    ts_us: i64,
    bytes: u64,
    packets: u64,
    frame: Vec<u8>,
}

struct Conn {
    client: [u8; 4],
    client_port: u16,
    /// Next sequence number of the client and of the server.
    seq: [u32; 2],
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;
const FIN_ACK: u8 = 0x11;
const SYN_ACK: u8 = 0x12;

impl Pcap {
    fn create(path: &str) -> Pcap {
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("OUT"));
        out.write_all(&[
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0,
        ])
        .expect("write");
        Pcap {
            out,
            ts_us: 1_700_000_000_000_000,
            bytes: 24,
            packets: 0,
            frame: Vec::with_capacity(1 << 17),
        }
    }

    /// One packet from the client (`from_client`) or the server.
    fn packet(&mut self, c: &mut Conn, from_client: bool, flags: u8, payload: &[u8]) {
        let (src, dst, sport, dport) = if from_client {
            (c.client, SERVER, c.client_port, 443)
        } else {
            (SERVER, c.client, 443, c.client_port)
        };
        let (me, peer) = if from_client { (0, 1) } else { (1, 0) };
        let f = &mut self.frame;
        f.clear();
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let total = (20 + 20 + payload.len()) as u16;
        let mut ip = [
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[12..16].copy_from_slice(&src);
        ip[16..20].copy_from_slice(&dst);
        let sum = ip
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum::<u32>();
        let sum = (sum & 0xffff) + (sum >> 16);
        let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&c.seq[me].to_be_bytes());
        let ack = if flags == SYN { 0 } else { c.seq[peer] };
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        let consumed = payload.len() as u32 + u32::from(flags & (SYN | 0x01) != 0);
        c.seq[me] = c.seq[me].wrapping_add(consumed);

        self.ts_us += 5 + payload.len() as i64 / 2000;
        let (sec, usec) = (self.ts_us / 1_000_000, self.ts_us % 1_000_000);
        let len = self.frame.len() as u32;
        for word in [sec as u32, usec as u32, len, len] {
            self.out.write_all(&word.to_le_bytes()).expect("write");
        }
        self.out.write_all(&self.frame).expect("write");
        self.bytes += 16 + u64::from(len);
        self.packets += 1;
    }

    /// `stream` from one side, cut into segments of `segment` bytes.
    fn send(&mut self, c: &mut Conn, from_client: bool, stream: &[u8], segment: usize) {
        for piece in stream.chunks(segment) {
            self.packet(c, from_client, PSH_ACK, piece);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: synth_tls13 OUT.pcap OUT.keys SIZE_MB [SEGMENT [BODY_KB]]");
        std::process::exit(2);
    }
    let target = args[3].parse::<u64>().expect("SIZE_MB") << 20;
    let segment: usize = args.get(4).map_or(16384, |s| s.parse().expect("SEGMENT"));
    assert!((1..=65495).contains(&segment), "SEGMENT must be 1..=65495");
    let body_len: usize = args.get(5).map_or(1024, |s| s.parse().expect("BODY_KB")) << 10;
    let mut pcap = Pcap::create(&args[1]);
    let mut keys = BufWriter::new(std::fs::File::create(&args[2]).expect("KEYS"));
    let body: Vec<u8> = (0..body_len).map(|i| b'a' + (i % 26) as u8).collect();
    let (mut conns, mut requests) = (0u64, 0u64);
    let mut stream = Vec::with_capacity(body_len + (body_len / MAX_PLAINTEXT + 2) * 22);
    while pcap.bytes < target {
        let n = conns;
        conns += 1;
        let mut c = Conn {
            client: [10, 0, (n >> 8) as u8, n as u8],
            client_port: 20000 + (n % 40000) as u16,
            seq: [derive("client isn", n)[0] as u32 * 7919, 1_000_000],
        };
        let random = derive("client random", n);
        let secrets = [
            ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", derive("c hs", n)),
            ("SERVER_HANDSHAKE_TRAFFIC_SECRET", derive("s hs", n)),
            ("CLIENT_TRAFFIC_SECRET_0", derive("c ap", n)),
            ("SERVER_TRAFFIC_SECRET_0", derive("s ap", n)),
        ];
        for (label, secret) in &secrets {
            writeln!(keys, "{label} {} {}", hex(&random), hex(secret)).expect("keys");
        }
        let [c_hs, s_hs, c_ap, s_ap] = secrets.map(|(_, s)| s);
        let (mut c_hs, mut s_hs) = (Sealer::new(&c_hs), Sealer::new(&s_hs));
        let (mut c_ap, mut s_ap) = (Sealer::new(&c_ap), Sealer::new(&s_ap));

        pcap.packet(&mut c, true, SYN, &[]);
        pcap.packet(&mut c, false, SYN_ACK, &[]);
        pcap.packet(&mut c, true, ACK, &[]);
        let session_id = derive("session id", n);
        let ch = client_hello(&random, &session_id, &derive("client share", n));
        pcap.send(&mut c, true, &record(22, 0x0301, &ch), segment);
        let mut flight = record(
            22,
            0x0303,
            &server_hello(
                &derive("server random", n),
                &session_id,
                &derive("server share", n),
            ),
        );
        flight.extend_from_slice(&record(20, 0x0303, &[1]));
        s_hs.seal(22, &server_flight(n), &mut flight);
        pcap.send(&mut c, false, &flight, segment);
        let mut second = record(20, 0x0303, &[1]);
        c_hs.seal(
            22,
            &handshake(20, &derive("client finished", n)),
            &mut second,
        );
        pcap.send(&mut c, true, &second, segment);

        for i in 0..REQUESTS_PER_CONNECTION {
            let request = format!(
                "GET /object/{n}/{i} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: synth_tls13\r\nAccept: */*\r\n\r\n"
            );
            stream.clear();
            c_ap.seal(23, request.as_bytes(), &mut stream);
            pcap.send(&mut c, true, &stream, segment);
            let head = format!(
                "HTTP/1.1 200 OK\r\nServer: synth\r\nContent-Type: application/octet-stream\r\nContent-Length: {body_len}\r\n\r\n"
            );
            stream.clear();
            let mut plain = head.into_bytes();
            plain.extend_from_slice(&body);
            for chunk in plain.chunks(MAX_PLAINTEXT) {
                s_ap.seal(23, chunk, &mut stream);
            }
            pcap.send(&mut c, false, &stream, segment);
            requests += 1;
        }
        stream.clear();
        c_ap.seal(21, &[1, 0], &mut stream);
        pcap.send(&mut c, true, &stream, segment);
        pcap.packet(&mut c, true, FIN_ACK, &[]);
        stream.clear();
        s_ap.seal(21, &[1, 0], &mut stream);
        pcap.send(&mut c, false, &stream, segment);
        pcap.packet(&mut c, false, FIN_ACK, &[]);
        pcap.packet(&mut c, true, ACK, &[]);
    }
    pcap.out.flush().expect("flush");
    keys.flush().expect("flush");
    eprintln!(
        "{}: {} bytes, {} packets, {conns} connections, {requests} requests ({body_len}-byte bodies, {segment}-byte segments)",
        args[1], pcap.bytes, pcap.packets
    );
}
